// main.cc — the boot sequence, one step per line (xv6 style).
//
// kernel_main runs on the BSP, on the boot stack, with the boot page tables
// from boot.S. It prepares memory, switches to a guarded kernel stack and goes
// on in kernel_main_on_stack(): interrupts, ACPI, clocks, the other CPUs. The
// bring-up log is held back until the banner has been printed, so the banner
// is the first line on the console.
#include <acpi/system.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/serial.h>
#include <arch/x86_64/smp.h>
#include <boot/boot_info.h>
#include <boot/cmdline.h>
#include <boot/multiboot2.h>
#include <ktl/align.h>
#include <lib/console.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <mm/heap.h>
#include <mm/vm.h>
#include <sched/scheduler.h>
#include <loader/root_task.h>
#include <test/crashtest.h>
#include <test/kbench.h>
#include <test/ktest.h>

namespace x86 {
void set_debug_exit(bool on);
}

namespace {

boot::BootInfo g_boot;
boot::CommandLine g_cmdline;

// Copies the multiboot2 information into g_boot, refusing malformed input.
void parse_boot_info(uint32_t magic, uint32_t mbi_phys) {
  if (magic != boot::kMultiboot2BootloaderMagic)
    panic("not started by a multiboot2 boot loader (magic {:#x})", magic);
  // The boot page tables map the low 4 GiB at the direct map, where GRUB puts the MBI.
  const auto* mbi = mm::phys_to_ptr<const uint8_t>(mbi_phys);
  uint32_t total = 0;
  __builtin_memcpy(&total, mbi, sizeof total);
  constexpr uint32_t kMaxMbi = 1 << 20;  // a real MBI is a few KiB; refuse absurd sizes
  if (total > kMaxMbi) panic("multiboot2 information claims {} bytes; refusing", total);
  boot::Mb2Diagnostic diag{};
  auto r = boot::parse_multiboot2({mbi, total}, g_boot, &diag);
  if (!r.ok())
    panic("malformed multiboot2 information: {} at byte {} ({})", diag.reason ? diag.reason : "?", diag.offset,
          ktl::error_name(r.error()));
  g_cmdline = boot::CommandLine(g_boot.cmdline);
}

// The BSP's stack from boot.S has no guard page; move to one that has.
[[noreturn]] void switch_to_kernel_stack(void (*next)()) {
  auto stack = mm::alloc_kernel_stack();
  if (!stack.ok()) panic("no memory for the BSP's kernel stack");
  x86::cpu(0).stack_bottom = stack->bottom;
  x86::cpu(0).stack_top = stack->top;
  x86::cpu(0).kernel_stack_top = stack->top;
  asm volatile("movq %0, %%rsp; xorl %%ebp, %%ebp; call *%1" ::"r"(stack->top), "r"(next) : "memory");
  __builtin_unreachable();
}

[[noreturn]] void shut_down() {
  klog::notice("keel: powering off (ACPI S5)");
  ktl::Error e = acpi::poweroff();
  panic("power-off failed: {}", ktl::error_name(e));
}

[[noreturn]] void kernel_main_on_stack() {
  must(x86::cpu_local_init(x86::cpu(0), 0, 0), "BSP per-CPU set-up failed");
  must(mm::heap_init(), "kernel heap set-up failed");
  console_init_framebuffer(g_boot.framebuffer);          // text console on the boot framebuffer
  if (!acpi::init(g_boot).ok()) klog::warn("acpi: continuing without ACPI tables");
  x86::pic_disable();                                     // legacy 8259s masked
  must(x86::lapic_init_bsp(acpi::info()), "local APIC set-up failed");
  x86::cpu(0).apic_id = x86::lapic_id();
  must(x86::ioapic_init(acpi::info()), "IOAPIC set-up failed");
  must(x86::clock_init(acpi::info(), !g_cmdline.has("nohpet")), "no usable clock");
  klib::kernel_log().set_clock(&x86::monotonic_ns);
  klog::info("clock: TSC {} kHz, calibrated against the {}; clock source {}", x86::tsc_hz() / 1000,
             x86::clock_calibration_source(), x86::clock_source() == x86::ClockSource::Tsc ? "TSC" : "HPET");
  must(sched::init_cpu(0, "kmain"), "scheduler set-up failed");      // this context becomes thread "kmain"
  must(x86::apic_timer_calibrate(), "APIC timer calibration failed");
  x86::apic_timer_start_periodic(sched::kTickHz);                    // scheduler ticks
  x86::sti();
  x86::set_cpu_count(1);
  x86::cpu(0).online = true;
  auto tramp = x86::find_trampoline_page(g_boot);
  unsigned cpus = tramp.ok() ? x86::smp_init(acpi::info(), *tramp) : 1;
  if (!tramp.ok()) klog::warn("smp: no usable page below 1 MiB for the AP trampoline; 1 CPU only");

  // The banner: the first console line.
  uint64_t boot_ms = x86::monotonic_ns() / 1'000'000;
  klib::kernel_log().log_immediate(klib::LogLevel::Notice, "Keel {} x86_64: {} CPU{}, {} MiB, booted in {} ms",
                                   KEEL_VERSION, cpus, cpus == 1 ? "" : "s", g_boot.usable_bytes() / ktl::MiB,
                                   boot_ms);
  // loglevel=N applies from here on: the banner is always shown.
  if (auto lvl = g_cmdline.number("loglevel"); lvl && *lvl <= 5)
    (void)klib::kernel_log().set_console_level(&x86::com1(), klib::LogLevel(*lvl));
  klib::kernel_log().set_console_hold(false);

  if (g_cmdline.has("ktest")) {
    sched::pin_current(0);  // tests read this CPU's state; keep them on the BSP
    unsigned failed = ktest::run(g_cmdline.value("ktest").value_or(""));
    (void)failed;  // the runner reads the summary line; power off either way
    shut_down();
  }
  if (auto kind = g_cmdline.value("crashtest")) run_crash_test(*kind);
  if (g_cmdline.has("kbench")) run_kernel_benchmarks();
  if (g_cmdline.has("poweroff")) shut_down();

  // The root task: the boot module named by init= (default "init").
  std::string_view init_name = g_cmdline.value("init").value_or("init");
  auto init = loader::start_root_task(g_boot, init_name);
  if (!init.ok()) {
    klog::notice("keel: no init program ({}); CPUs idle. In QEMU, Ctrl-A X quits.", ktl::error_name(init.error()));
    for (;;) sched::sleep_ns(1'000'000'000'000ull);
  }
  (*init)->wait_exit(UINT64_MAX);
  klog::notice("keel: init exited with code {}", (*init)->exit_code());
  if (g_cmdline.has("poweroff_after_init")) shut_down();
  for (;;) sched::sleep_ns(1'000'000'000'000ull);
}

}  // namespace

extern "C" void (*const __init_array_start[])(), (*const __init_array_end[])();

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint32_t mbi_phys) {
  for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();  // C++ globals
  x86::com1().init(0x3f8);                                // serial console (COM1)
  klib::kernel_log().set_console_hold(true);              // bring-up log waits for the banner
  (void)klib::kernel_log().add_console(&x86::com1());
  x86::early_trap_init();                                 // exceptions are caught from here on
  parse_boot_info(magic, mbi_phys);                       // multiboot2 → BootInfo
  x86::set_debug_exit(g_cmdline.has("debugexit"));
  klog::info("boot: {} via {}; command line '{}'", g_boot.module_count ? "modules" : "no modules",
             g_boot.loader_name, g_boot.cmdline);
  mm::paging_init(g_boot);                                // final kernel page tables, direct map
  mm::pmm_init(g_boot);                                   // frame allocator
  switch_to_kernel_stack(&kernel_main_on_stack);          // guarded stack; continue there
}
