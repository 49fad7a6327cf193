// arch_ktest.cc — in-kernel tests of interrupts, timers, IPIs, the IOAPIC, SMP and the clock.
#include <acpi/system.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <test/ktest.h>

#include <atomic>

namespace {

// Waits up to `ns` for pred() with interrupts on.
template <typename Pred>
bool wait_for(uint64_t ns, Pred pred) {
  uint64_t deadline = x86::monotonic_ns() + ns;
  while (!pred()) {
    if (x86::monotonic_ns() > deadline) return false;
    x86::pause();
  }
  return true;
}

std::atomic<uint64_t> g_ipi_hits[x86::kMaxCpus];
void test_ipi_handler(x86::InterruptFrame&, void*) { g_ipi_hits[x86::this_cpu()->index].fetch_add(1); }

std::atomic<uint64_t> g_pit_hits{0};
void pit_handler(x86::InterruptFrame&, void*) { g_pit_hits.fetch_add(1); }

}  // namespace

KTEST(arch, interrupts_enabled_after_boot) { KEXPECT(x86::interrupts_enabled()); }

KTEST(arch, legacy_pic_masked) {
  KEXPECT_EQ(x86::inb(0x21), 0xffu);
  KEXPECT_EQ(x86::inb(0xa1), 0xffu);
}

KTEST(arch, bsp_timer_ticks) {
  uint64_t before = x86::this_cpu()->timer_ticks;
  // 1 kHz: 20 ticks take 20 ms; allow emulation slack.
  KEXPECT(wait_for(2'000'000'000, [&] { return x86::this_cpu()->timer_ticks >= before + 20; }));
}

KTEST(arch, every_cpu_timer_ticks) {
  for (unsigned i = 0; i < x86::cpu_count(); ++i) {
    volatile uint64_t* ticks = &x86::cpu(i).timer_ticks;
    uint64_t before = *ticks;
    KEXPECT(wait_for(2'000'000'000, [&] { return *ticks >= before + 2; }));
  }
}

KTEST(arch, percpu_self_and_unique_apic_ids) {
  KEXPECT(x86::this_cpu() == &x86::cpu(0));  // tests run on the BSP
  for (unsigned i = 0; i < x86::cpu_count(); ++i) {
    KEXPECT(x86::cpu(i).self == &x86::cpu(i));
    KEXPECT_EQ(x86::cpu(i).index, i);
    KEXPECT(x86::cpu(i).online.load());
    for (unsigned j = i + 1; j < x86::cpu_count(); ++j) KEXPECT(x86::cpu(i).apic_id != x86::cpu(j).apic_id);
  }
}

KTEST(arch, all_madt_cpus_online) {
  const auto& madt = acpi::info().madt;
  unsigned enabled = 0;
  for (size_t i = 0; i < madt.cpu_count; ++i) enabled += madt.cpus[i].enabled ? 1 : 0;
  KEXPECT_EQ(x86::cpu_count(), enabled);
}

KTEST(arch, ipi_reaches_every_cpu) {
  x86::set_interrupt_handler(x86::kVectorTestIpi, &test_ipi_handler, nullptr);
  for (unsigned i = 0; i < x86::cpu_count(); ++i) {
    uint64_t before = g_ipi_hits[i].load();
    KEXPECT(x86::lapic_send_ipi(x86::cpu(i).apic_id, x86::IpiMode::Fixed, x86::kVectorTestIpi));
    KEXPECT(wait_for(1'000'000'000, [&] { return g_ipi_hits[i].load() > before; }));
  }
}

KTEST(arch, ioapic_routes_the_pit) {
  KASSERT_TRUE(x86::ioapic_count() > 0);
  uint16_t flags = 0;
  uint32_t gsi = x86::isa_irq_to_gsi(0, &flags);  // QEMU: IRQ 0 → GSI 2 by override
  uint8_t vector = uint8_t(x86::kVectorIrqBase + gsi);
  x86::set_interrupt_handler(vector, &pit_handler, nullptr);
  // PIT channel 0, mode 2 (rate generator), 1000 Hz.
  constexpr uint16_t kDivisor = 1193;
  x86::outb(0x43, 0x34);
  x86::outb(0x40, kDivisor & 0xff);
  x86::outb(0x40, kDivisor >> 8);
  bool active_low = (flags & 3) == 3, level = ((flags >> 2) & 3) == 3;
  KASSERT_OK(x86::ioapic_route(gsi, vector, x86::lapic_id(), active_low, level));
  uint64_t before = g_pit_hits.load();
  KEXPECT(wait_for(2'000'000'000, [&] { return g_pit_hits.load() >= before + 10; }));
  KASSERT_OK(x86::ioapic_mask(gsi, true));
  x86::outb(0x43, 0x30);  // channel 0 back to one-shot, stopped
}

KTEST(arch, ioapic_rejects_unknown_gsi) {
  KEXPECT(!x86::ioapic_route(100000, 0x40, 0, false, false).ok());
  KEXPECT(!x86::ioapic_route(0, 0x10, 0, false, false).ok());  // exception vectors are not for devices
}

KTEST(clock, monotonic_never_goes_back) {
  uint64_t prev = x86::monotonic_ns();
  bool ok = true;
  for (int i = 0; i < 20000; ++i) {
    uint64_t now = x86::monotonic_ns();
    ok &= now >= prev;
    prev = now;
  }
  KEXPECT(ok);
}

KTEST(clock, delay_agrees_with_apic_timer) {
  // Two independent time bases: the calibrated clock and the APIC timer's
  // tick count. 200 ms of delay should be ~200 ticks at 1 kHz. Under emulation
  // a starved virtual CPU loses ticks (QEMU coalesces a late periodic timer;
  // on a loaded 2-core host running four guests, a quarter of them), so the
  // lower bound only catches a stopped or grossly miscalibrated timer, the
  // upper one a miscalibration of 2x or worse (ticks are never invented).
  uint64_t t0 = x86::this_cpu()->timer_ticks;
  uint64_t c0 = x86::monotonic_ns();
  x86::delay_ns(200'000'000);
  uint64_t elapsed = x86::monotonic_ns() - c0;
  uint64_t ticks = x86::this_cpu()->timer_ticks - t0;
  KEXPECT(elapsed >= 200'000'000);
  KEXPECT(ticks >= 10 && ticks <= 400);
}

KTEST(clock, tsc_frequency_plausible) {
  KEXPECT(x86::tsc_hz() >= 100'000'000ull);      // > 100 MHz
  KEXPECT(x86::tsc_hz() <= 20'000'000'000ull);   // < 20 GHz
  KEXPECT(x86::apic_timer_ticks_per_ms() > 0);
}

KTEST(acpi, tables_found) {
  const auto& a = acpi::info();
  KEXPECT(a.madt.present);
  KEXPECT(a.madt.lapic_address != 0);
  KEXPECT(a.madt.ioapic_count >= 1);
  KEXPECT(a.fadt.present);
  KEXPECT(a.s5.valid);
  KEXPECT(a.fadt.pm1a_cnt.address != 0);
}
