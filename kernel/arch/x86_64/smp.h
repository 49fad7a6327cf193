// arch/x86_64/smp.h — per-CPU set-up and application processor start-up.
#pragma once

#include <arch/x86_64/percpu.h>
#include <boot/boot_info.h>
#include <ktl/result.h>
#include <mm/phys.h>

namespace acpi {
struct AcpiInfo;
}

namespace x86 {

// The BSP's first GDT, TSS and IDT (no IST stacks yet: there is no memory
// allocator), so that exceptions during early boot panic with a dump.
void early_trap_init();

// Loads this CPU's GDT/TSS (with IST stacks for #DF, NMI, #MC), its IDT and
// its GS base. Used by the BSP and every AP.
ktl::Result<void> cpu_local_init(PerCpu& c, uint32_t index, uint32_t apic_id);

// A usable 4 KiB page below 1 MiB for the AP trampoline, from the boot memory
// map (the frame allocator never hands out the low 1 MiB, so the page stays
// ours). Error::NotFound if the map has none.
ktl::Result<mm::PhysAddr> find_trampoline_page(const boot::BootInfo& info);

// Starts every enabled CPU in the MADT other than the BSP (INIT-SIPI-SIPI via
// the trampoline copied to `trampoline_page`, a free 4 KiB page below 1 MiB)
// and waits for each to come online. Returns the number of CPUs online.
unsigned smp_init(const acpi::AcpiInfo& acpi, mm::PhysAddr trampoline_page);

// Runs fn(arg) on CPU `index` (from its idle loop, interrupts enabled) and
// waits for it to finish. Error::Busy if that CPU has work pending,
// NotFound if it is not online, TimedOut after `timeout_ns` (the work may
// still run later). On the calling CPU it simply calls fn. Until the
// scheduler exists (issue 3) this is how tests use the other CPUs.
ktl::Result<void> run_on_cpu(unsigned index, void (*fn)(void*), void* arg, uint64_t timeout_ns);
// Posts fn(arg) to CPU `index` without waiting; done() tells when it finished.
ktl::Result<void> post_to_cpu(unsigned index, void (*fn)(void*), void* arg);
bool cpu_work_done(unsigned index);

}  // namespace x86
