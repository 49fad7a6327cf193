// sched/scheduler.h (host fake) — park/unpark over host threads, for host
// tests of kernel code that blocks (see sched/thread.h here for why this file
// shadows the kernel's).
//
// What it models, with the kernel's semantics (kernel/sched/scheduler.h):
//  - park(deadline) blocks the current thread until unpark() or the deadline
//    and returns None, TimedOut or the reason given to unpark(); an unpark
//    that comes first leaves a token, so the next park returns None at once
//    (no lost wake-ups); a deadline already past returns TimedOut at once.
//  - unpark() of a thread that has exited does nothing.
//  - park_and_switch_to(next, d) is unpark(next) then park(d).
//  - claim_for_switch / release_claim / switch_to_claimed: a claim succeeds
//    only on a thread parked without a deadline, and holds off every
//    unpark() of it until released or switched to, as the kernel's thread
//    lock does; switch_to_claimed wakes it and parks the caller in one step.
// What it does not model: CPUs, priorities, run queues, preemption, time
// slices, a direct switch (the host OS schedules the threads), interrupts.
// Deadlines are on a fake clock that only tests move (sched/host.h), so
// timeouts are deterministic; UINT64_MAX means no deadline.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <sched/thread.h>

#include <cstdint>

namespace sched {

// The running fake thread (null on a host thread that is not one, such as the
// test's main thread).
Thread* current();

ktl::Error park(uint64_t deadline_ns);
void unpark(Thread* t, ktl::Error reason = ktl::Error::None);
ktl::Error park_and_switch_to(ktl::RefPtr<Thread> next, uint64_t deadline_ns);

bool claim_for_switch(Thread* next);
void release_claim(Thread* next);
// What the direct switch puts in the syscall frame of the thread it goes to:
// the register message of ipc_call_regs / ipc_reply_recv_regs (rax gets 0).
struct DirectResult {
  uint64_t rdx, r10, r8, r9, rsi;
};
ktl::Error switch_to_claimed(Thread* next, uint64_t deadline_ns, const DirectResult* to_user = nullptr);

}  // namespace sched
