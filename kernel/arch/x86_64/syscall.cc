// syscall.cc — SYSCALL MSR set-up, the C++ side of syscall entry, and the
// work done on every return to user mode.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/syscall.h>
#include <sched/scheduler.h>
#include <syscall_dispatch.h>

namespace x86 {

void syscall_init_cpu() {
  wrmsr(kMsrEfer, rdmsr(kMsrEfer) | 1);  // EFER.SCE
  // STAR[47:32]: kernel CS (SS = +8). STAR[63:48]: base for SYSRET, which
  // loads CS = base + 16 and SS = base + 8 (both with RPL 3): user code32 (0x18).
  wrmsr(kMsrStar, (uint64_t(kUserCode32) << 48) | (uint64_t(kKernelCode) << 32));
  wrmsr(kMsrLstar, reinterpret_cast<uint64_t>(&syscall_entry));
  // Cleared on entry: TF (8), IF (9), DF (10), NT (14), AC (18).
  wrmsr(kMsrFmask, (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 18));
}

}  // namespace x86

extern "C" void syscall_handler(x86::InterruptFrame* f) {
  f->rax = uint64_t(syscalls::syscall_dispatch(f->rax, f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9));
}

// Runs with interrupts off just before any return to user mode (syscalls and
// interrupts or exceptions taken in user mode): a thread being killed exits
// here, and a pending reschedule happens here.
extern "C" void user_return_work(x86::InterruptFrame*) {
  sched::Thread* t = sched::current();
  if (t->kill_pending.load(std::memory_order_acquire)) sched::exit_current();
  // A suspended thread stays in the kernel, parked, until resumed or killed.
  while (t->suspended.load(std::memory_order_acquire) && !t->kill_pending.load(std::memory_order_acquire)) {
    x86::sti();
    (void)sched::park(UINT64_MAX);
    x86::cli();
  }
  sched::preempt_if_needed();
  if (t->kill_pending.load(std::memory_order_acquire)) sched::exit_current();
}
