// system.cc — ACPI discovery and power control for the kernel.
#include <acpi/system.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <lib/klog.h>
#include <mm/phys.h>
#include <mm/vm.h>

namespace acpi {
namespace {

AcpiInfo g_info;

// The ACPI tables of every firmware Keel boots on lie below 4 GiB, which the
// direct map always covers.
constexpr uint64_t kReadableLimit = 4ull << 30;

// A memory-space register, mapped uncached (nullptr if it cannot be).
volatile uint16_t* mmio_reg(const Gas& g) {
  auto v = mm::map_mmio(g.address, 2);
  return v.ok() ? static_cast<volatile uint16_t*>(const_cast<void*>(*v)) : nullptr;
}
uint16_t pm1_read(const Gas& g) {
  if (g.space == kGasSystemIo) return x86::inw(uint16_t(g.address));
  volatile uint16_t* r = mmio_reg(g);
  return r ? *r : 0;
}
void pm1_write(const Gas& g, uint16_t v) {
  if (g.space == kGasSystemIo) {
    x86::outw(uint16_t(g.address), v);
  } else if (volatile uint16_t* r = mmio_reg(g)) {
    *r = v;
  }
}

constexpr uint16_t kSciEn = 1 << 0;
constexpr uint16_t kSlpEn = 1 << 13;

}  // namespace

const AcpiInfo& info() { return g_info; }

ktl::Result<void> init(const boot::BootInfo& boot) {
  if (!boot.rsdp.present) {
    klog::warn("acpi: the boot loader passed no RSDP");
    return ktl::Error::NotFound;
  }
  DirectMapReader reader(kReadableLimit);
  AcpiDiag diag{};
  auto r = parse_acpi_into(g_info, {boot.rsdp.bytes, boot.rsdp.length}, reader, &diag);
  if (!r.ok()) {
    klog::error("acpi: tables refused: {} ({}{}{})", ktl::error_name(r.error()), diag.table,
                diag.table[0] ? ": " : "", diag.reason ? diag.reason : "");
    g_info = AcpiInfo{};
    return r.error();
  }
  if (diag.reason) klog::warn("acpi: {}: {} (table skipped)", diag.table, diag.reason);
  klog::info("acpi: revision {} OEM '{}' via {}; {} CPUs, {} IOAPICs, HPET {}, MCFG {}, S5 {}",
             g_info.revision, g_info.oem_id, g_info.uses_xsdt ? "XSDT" : "RSDT", g_info.madt.cpu_count,
             g_info.madt.ioapic_count, g_info.hpet.present ? "yes" : "no",
             g_info.mcfg.present ? "yes" : "no", g_info.s5.valid ? "yes" : "no");
  return ktl::ok();
}

ktl::Error poweroff() {
  const Fadt& f = g_info.fadt;
  if (!f.present) return ktl::Error::NotFound;
  if (!g_info.s5.valid) return ktl::Error::Unsupported;
  if (f.pm1a_cnt.address == 0) return ktl::Error::Unsupported;
  // Switch to ACPI mode if the firmware is still in legacy (SMM) mode.
  if (f.smi_cmd && f.acpi_enable && !(pm1_read(f.pm1a_cnt) & kSciEn)) {
    x86::outb(uint16_t(f.smi_cmd), f.acpi_enable);
    uint64_t deadline = x86::monotonic_ns() + 1'000'000'000;
    while (!(pm1_read(f.pm1a_cnt) & kSciEn) && x86::monotonic_ns() < deadline) x86::pause();
  }
  x86::cli();
  uint16_t a = pm1_read(f.pm1a_cnt) & ~uint16_t(0x1c00);
  pm1_write(f.pm1a_cnt, a | uint16_t(g_info.s5.slp_typa << 10) | kSlpEn);
  if (f.pm1b_cnt.address) {
    uint16_t b = pm1_read(f.pm1b_cnt) & ~uint16_t(0x1c00);
    pm1_write(f.pm1b_cnt, b | uint16_t(g_info.s5.slp_typb << 10) | kSlpEn);
  }
  x86::delay_ns(100'000'000);
  return ktl::Error::TimedOut;
}

[[noreturn]] void reboot() {
  const Fadt& f = g_info.fadt;
  x86::cli();
  if ((f.flags & kFadtResetRegSup) && f.reset_reg.address) {
    if (f.reset_reg.space == kGasSystemIo)
      x86::outb(uint16_t(f.reset_reg.address), f.reset_value);
    else if (f.reset_reg.space == kGasSystemMemory)
      if (auto v = mm::map_mmio(f.reset_reg.address, 1); v.ok()) *static_cast<volatile uint8_t*>(const_cast<void*>(*v)) = f.reset_value;
    x86::delay_ns(50'000'000);
  }
  x86::outb(0x64, 0xfe);  // 8042 pulse reset line
  x86::delay_ns(50'000'000);
  // Last resort: an empty IDT makes the next exception a triple fault.
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } null_idt = {0, 0};
  asm volatile("lidt %0; int3" ::"m"(null_idt));
  x86::halt_forever();
}

}  // namespace acpi
