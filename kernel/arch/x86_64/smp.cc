// smp.cc — per-CPU data and AP bring-up (Intel SDM Vol. 3A §8.4.4, INIT-SIPI-SIPI).
#include <acpi/tables.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/fpu.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/layout.h>
#include <arch/x86_64/smp.h>
#include <arch/x86_64/syscall.h>
#include <arch/x86_64/usercopy.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <mm/vm.h>
#include <sched/scheduler.h>

extern "C" char ap_trampoline_start[], ap_trampoline_end[], tr_gdt[], tr_long_mode[];
extern "C" char tr_gdt_ptr[], tr_far_ptr[], tr_boot_cr3[], tr_final_cr3[], tr_stack[], tr_percpu[],
    tr_entry[];
extern "C" char boot_pml4[];
extern "C" void ap_entry64();

namespace x86 {
namespace {

PerCpu g_cpus[kMaxCpus];
Idt g_idts[kMaxCpus];
std::atomic<unsigned> g_cpu_count{0};

// Byte offset of a trampoline symbol inside the copied page.
uint64_t tr_off(const char* sym) { return uint64_t(sym - ap_trampoline_start); }

template <typename T>
void tr_poke(mm::PhysAddr page, const char* sym, T value) {
  __builtin_memcpy(static_cast<char*>(mm::phys_to_virt(page)) + tr_off(sym), &value, sizeof(T));
}

}  // namespace

PerCpu& cpu(unsigned index) { return g_cpus[index]; }
unsigned cpu_count() { return g_cpu_count.load(std::memory_order_acquire); }
void set_cpu_count(unsigned n) { g_cpu_count.store(n, std::memory_order_release); }

void install_percpu(PerCpu& c) {
  c.self = &c;
  wrmsr(kMsrGsBase, reinterpret_cast<uint64_t>(&c));
  wrmsr(kMsrKernelGsBase, 0);
  wrmsr(kMsrFsBase, 0);
  c.loaded_fs_base = c.loaded_user_gs_base = 0;
}

void early_trap_init() {
  PerCpu& c = cpu(0);
  gdt_build(c.gdt, c.tss);
  gdt_load(c.gdt);
  c.idt = &g_idts[0];
  idt_build(*c.idt);
  for (auto& gate : c.idt->gates) gate.ist = 0;  // no IST stacks yet: cpu_local_init adds them
  idt_load(*c.idt);
  install_percpu(c);
}

ktl::Result<void> cpu_local_init(PerCpu& c, uint32_t index, uint32_t apic_id) {
  c.index = index;
  c.apic_id = apic_id;
  for (unsigned ist : {kIstDoubleFault, kIstNmi, kIstMachineCheck}) {
    mm::KernelStack s = TRY(mm::alloc_kernel_stack());
    c.tss.ist[ist - 1] = s.top;
  }
  gdt_build(c.gdt, c.tss);
  gdt_load(c.gdt);
  fpu_init_cpu();
  syscall_init_cpu();
  user_access_init_cpu();
  c.idt = &g_idts[index];
  idt_build(*c.idt);
  idt_load(*c.idt);
  install_percpu(c);
  return ktl::ok();
}

extern "C" [[noreturn]] void ap_main(PerCpu* c) {
  if (!cpu_local_init(*c, c->index, c->apic_id).ok()) halt_forever();  // the BSP times out and reports it
  write_cr4(read_cr4() | kCr4Pge);
  lapic_init_ap();
  char name[16];
  ktl::format(name, sizeof name, "idle{}", c->index);
  if (!sched::init_cpu(c->index, name).ok()) halt_forever();
  apic_timer_start_periodic(sched::kTickHz);
  c->online.store(true, std::memory_order_release);
  sti();
  sched::idle_loop_forever();
}

ktl::Result<void> post_to_cpu(unsigned index, void (*fn)(void*), void* arg) {
  if (index >= cpu_count() || !g_cpus[index].online.load()) return ktl::Error::NotFound;
  PerCpu& c = g_cpus[index];
  if (c.work_fn.load(std::memory_order_acquire)) return ktl::Error::Busy;
  c.work_arg = arg;
  c.work_fn.store(fn, std::memory_order_release);
  lapic_send_ipi(c.apic_id, IpiMode::Fixed, kVectorWakeup);
  return ktl::ok();
}

bool cpu_work_done(unsigned index) { return g_cpus[index].work_fn.load(std::memory_order_acquire) == nullptr; }

ktl::Result<void> run_on_cpu(unsigned index, void (*fn)(void*), void* arg, uint64_t timeout_ns) {
  if (this_cpu()->index == index) {
    fn(arg);
    return ktl::ok();
  }
  TRY(post_to_cpu(index, fn, arg));
  uint64_t deadline = monotonic_ns() + timeout_ns;
  while (!cpu_work_done(index)) {
    if (monotonic_ns() > deadline) return ktl::Error::TimedOut;
    pause();
  }
  return ktl::ok();
}

ktl::Result<mm::PhysAddr> find_trampoline_page(const boot::BootInfo& info) {
  // Prefer 0x8000 (clear of the real-mode IVT/BDA and of what boot loaders use
  // at 0x7c00); otherwise the first usable page above the first one.
  for (mm::PhysAddr lowest : {mm::PhysAddr(0x8000), mm::PhysAddr(0x1000)}) {
    for (size_t i = 0; i < info.region_count; ++i) {
      const auto& r = info.regions[i];
      if (r.type != boot::MemoryType::Usable) continue;
      mm::PhysAddr page = (r.base + 0xfff) & ~mm::PhysAddr(0xfff);
      if (page < lowest) page = lowest;
      mm::PhysAddr end = r.end() < 0x100000 ? r.end() : 0x100000;
      if (page + mm::kPageSize <= end) return page;
    }
  }
  return ktl::Error::NotFound;
}

unsigned smp_init(const acpi::AcpiInfo& acpi, mm::PhysAddr page) {
  size_t size = size_t(ap_trampoline_end - ap_trampoline_start);
  KASSERT(size <= mm::kPageSize && page < 0x100000 && (page & 0xfff) == 0);
  __builtin_memcpy(mm::phys_to_virt(page), ap_trampoline_start, size);
  tr_poke<uint32_t>(page, tr_gdt_ptr + 2, uint32_t(page + tr_off(tr_gdt)));
  tr_poke<uint32_t>(page, tr_far_ptr, uint32_t(page + tr_off(tr_long_mode)));
  tr_poke<uint64_t>(page, tr_boot_cr3, uint64_t(reinterpret_cast<uintptr_t>(boot_pml4) - KERNEL_VIRT_BASE));
  tr_poke<uint64_t>(page, tr_final_cr3, mm::kernel_page_table_root());
  tr_poke<uint64_t>(page, tr_entry, reinterpret_cast<uint64_t>(&ap_entry64));

  const uint32_t bsp_apic = lapic_id();
  unsigned online = 1;
  for (unsigned i = 0; i < acpi.madt.cpu_count; ++i) {
    const auto& entry = acpi.madt.cpus[i];
    if (!entry.enabled || entry.apic_id == bsp_apic) continue;
    if (entry.apic_id > 0xfe) {
      klog::warn("smp: CPU with APIC ID {} needs x2APIC mode; not started", entry.apic_id);
      continue;
    }
    if (online >= kMaxCpus) {
      klog::warn("smp: more than {} CPUs; the rest stay off", kMaxCpus);
      break;
    }
    PerCpu& c = g_cpus[online];
    c.index = online;
    c.apic_id = entry.apic_id;
    auto stack = mm::alloc_kernel_stack();
    if (!stack.ok()) {
      klog::error("smp: no memory for CPU {}'s stack", online);
      break;
    }
    c.stack_bottom = stack->bottom;
    c.stack_top = stack->top;
    c.kernel_stack_top = stack->top;
    tr_poke<uint64_t>(page, tr_stack, stack->top);
    tr_poke<uint64_t>(page, tr_percpu, reinterpret_cast<uint64_t>(&c));

    // INIT, 10 ms, SIPI, 200 µs, SIPI (only if needed), then wait up to 1 s
    // (generous: under TCG emulation an AP can take a while).
    lapic_send_ipi(entry.apic_id, IpiMode::Init, 0);
    delay_ns(10'000'000);
    const uint8_t vector = uint8_t(page >> 12);
    lapic_send_ipi(entry.apic_id, IpiMode::Startup, vector);
    delay_ns(200'000);
    if (!c.online.load(std::memory_order_acquire)) {
      lapic_send_ipi(entry.apic_id, IpiMode::Startup, vector);
    }
    uint64_t deadline = monotonic_ns() + 1'000'000'000;
    while (!c.online.load(std::memory_order_acquire) && monotonic_ns() < deadline) pause();
    if (!c.online.load(std::memory_order_acquire)) {
      // Stop here: a late AP could still wake up and use this slot.
      klog::error("smp: CPU {} (APIC ID {}) did not start; not starting more", online, entry.apic_id);
      break;
    }
    klog::info("smp: CPU {} online (APIC ID {})", online, entry.apic_id);
    ++online;
    set_cpu_count(online);
  }
  return online;
}

}  // namespace x86
