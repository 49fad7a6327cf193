// arch/x86_64/percpu.h — per-CPU data, reached through the GS base.
//
// Each CPU's GS base points at its PerCpu; `self` at offset 0 lets
// this_cpu() load the pointer with one `mov %gs:0`. Fields other than
// `online` are written only by their own CPU after bring-up.
#pragma once

#include <arch/x86_64/gdt.h>

#include <atomic>
#include <cstdint>

namespace x86 {

constexpr unsigned kMaxCpus = 64;

struct PerCpu {
  PerCpu* self;               // offset 0: for this_cpu()
  uint64_t syscall_scratch;   // offset 8: reserved for the syscall entry (issue 3)
  uint64_t kernel_stack_top;  // offset 16: top of this CPU's current kernel stack
  void* current_thread;       // offset 24: the sched::Thread running here (sched::current())
  // offset 32: the running thread's two return-to-user flags (kill_pending,
  // then suspended, adjacent bytes): syscall.S tests both with one compare.
  const void* current_work;
  // offset 40: a reschedule is due at the next preemption point (set by this
  // CPU, or by another CPU that queued a thread here and then sends an IPI).
  std::atomic<bool> need_resched;
  uint32_t index;             // 0 = the bootstrap processor
  uint32_t apic_id;
  std::atomic<bool> online;   // set by the CPU itself once it idles
  uint64_t timer_ticks;       // APIC timer interrupts taken
  // NMIs this CPU handled and returned from (shootdowns and test NMIs; not
  // the panic stop). Written only by this CPU's NMI handler, through GS.
  uint64_t nmi_count;
  // Set by an in-kernel test (isr_ktest.cc) that raises an NMI on purpose:
  // the next NMI that is not a shootdown clears it and returns instead of
  // panicking as "unexpected". This CPU only, with interrupts off.
  volatile bool nmi_test_armed;
  uint64_t stack_bottom, stack_top;  // bounds of the main kernel stack (backtraces)
  // Work posted by run_on_cpu() for this CPU's idle loop (until the scheduler
  // exists). work_fn is written by the poster and cleared by this CPU.
  std::atomic<void (*)(void*)> work_fn;
  void* work_arg;
  // The user FS and GS bases loaded in this CPU's MSRs (FS_BASE and, while
  // in the kernel, KERNEL_GS_BASE). User code cannot change them (CR4.FSGSBASE
  // is off), so a context switch writes the MSRs only when they differ.
  // Invariant for isr.S (the NMI/#DF/#MC entry): a user GS base is always a
  // user-half address (bit 63 clear), the kernel's (this PerCpu) never is.
  // Whoever lets a thread set its GS base must reject kernel-half values, and
  // enabling CR4.FSGSBASE (WRGSBASE from user mode) breaks the invariant.
  uint64_t loaded_fs_base;
  uint64_t loaded_user_gs_base;
  // What LSTAR points at: 0 syscall_entry (native), 1 syscall_entry_foreign
  // (a thread with a syscall handler runs). Switched by switch_user_state.
  uint8_t loaded_lstar;
  // The page-table root this CPU has in CR3 (or is about to load: it is
  // stored before the CR3 write), for shootdowns aimed at one address space
  // (tlb_shootdown_space). 0 until the first switch_user_state.
  std::atomic<uint64_t> loaded_cr3;
  // The koid of the user thread whose FPU/SSE/AVX state the registers hold
  // (0: none): the one last restored here (the kernel never uses them). A
  // switch back to it skips the restore if it has not been restored on
  // another CPU since (Thread::fpu_cpu). Switched by switch_user_state.
  uint64_t fpu_owner;
  Gdt gdt;
  Tss tss;
  Idt* idt;
};

static_assert(__builtin_offsetof(PerCpu, syscall_scratch) == 8, "syscall.S uses PerCpu offsets");
static_assert(__builtin_offsetof(PerCpu, kernel_stack_top) == 16, "syscall.S uses PerCpu offsets");
static_assert(__builtin_offsetof(PerCpu, current_thread) == 24, "sched::current() uses PerCpu offsets");
static_assert(__builtin_offsetof(PerCpu, current_work) == 32, "syscall.S uses PerCpu offsets");
static_assert(__builtin_offsetof(PerCpu, need_resched) == 40, "syscall.S uses PerCpu offsets");

PerCpu& cpu(unsigned index);
unsigned cpu_count();           // CPUs brought online so far
void set_cpu_count(unsigned n);

inline PerCpu* this_cpu() {
  PerCpu* p;
  asm volatile("mov %%gs:0, %0" : "=r"(p));
  return p;
}

// Points GS base (and KERNEL_GS_BASE) at `c` and sets c.self.
void install_percpu(PerCpu& c);

}  // namespace x86
