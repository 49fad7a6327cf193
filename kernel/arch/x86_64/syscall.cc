// syscall.cc — SYSCALL MSR set-up, the C++ side of syscall entry, and the
// work done on every return to user mode.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
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

// Called by syscall_entry with the argument registers as they were (the
// number last, on the stack): the generated dispatch checks and decodes them.
extern "C" int64_t syscall_entry_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                          uint64_t a5, uint64_t number) {
  return syscalls::syscall_dispatch(number, a0, a1, a2, a3, a4, a5);
}

namespace {

[[gnu::noinline]] void user_return_slow(sched::Thread* t) {
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

}  // namespace

// Runs with interrupts off just before any return to user mode (syscalls and
// interrupts or exceptions taken in user mode): a thread being killed exits
// here, a suspended one stops here, and a pending reschedule happens here.
// The common case — none of these — is three loads and a return.
extern "C" void user_return_work(x86::InterruptFrame*) {
  x86::PerCpu* cpu = x86::this_cpu();
  auto* t = static_cast<sched::Thread*>(cpu->current_thread);
  if (!t->kill_pending.load(std::memory_order_relaxed) && !t->suspended.load(std::memory_order_relaxed) &&
      !cpu->need_resched.load(std::memory_order_relaxed)) [[likely]]
    return;
  user_return_slow(t);
}
