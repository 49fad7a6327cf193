// sched/scheduler.h — preemptive fixed-priority SMP scheduling.
//
// Policy: 32 priorities, round robin within a priority, time slices counted in
// scheduler ticks (the APIC timer, kTickHz). Each CPU has its own run queue
// and timer queue behind its own lock (CpuSched::lock). A woken thread goes to
// the CPU pick_cpu_for() chooses (its last CPU unless that one is busier); an
// idle CPU steals from the busiest queue on each tick (load balancing).
//
// Blocking is park/unpark: park(deadline) blocks the current thread until
// unpark(thread) or the deadline; an unpark that comes first leaves a token so
// the next park returns at once (no lost wake-ups). Callers re-check their
// condition in a loop: park may return early (spurious) but never late.
//
// Locks: Thread::lock, then CpuSched::lock (of one CPU, or of two in CPU index
// order when moving a thread). A thread that parks keeps its own lock and its
// CPU's lock across the context switch; the next thread releases them in
// sched_finish_switch(), so no other CPU can run a thread whose registers are
// not yet saved.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <sched/thread.h>

#include <cstdint>

namespace sched {

constexpr uint32_t kTickHz = 1000;  // scheduler ticks per second (APIC timer)
constexpr uint8_t kIdlePriority = 0;
constexpr uint8_t kDefaultPriority = 16;

// Creates this CPU's idle thread and adopts the running boot context as this
// CPU's first thread (it becomes a normal thread, named `boot_name`). Call
// once per CPU with interrupts off, before its timer ticks.
ktl::Result<void> init_cpu(unsigned cpu, const char* boot_name);

// The idle loop (also runs work posted with x86::post_to_cpu). APs enter it
// after init_cpu; their boot context is their idle thread.
[[noreturn]] void idle_loop_forever();

// Makes a New thread runnable. Error::BadState if it was started already.
ktl::Result<void> start(Thread* t);

// The running thread: one load through GS (atomic with respect to preemption
// and migration: on whichever CPU it runs, the running thread is the same).
inline Thread* current() {
  Thread* t;
  asm volatile("mov %%gs:24, %0" : "=r"(t));  // x86::PerCpu::current_thread
  return t;
}

// Gives up the CPU to another ready thread of the same or higher priority.
void yield();

// Blocks the current thread until unpark() or `deadline_ns` (monotonic ns;
// UINT64_MAX = none). Returns Error::None (woken), TimedOut or Interrupted.
ktl::Error park(uint64_t deadline_ns);

// unpark(next) then park(deadline_ns), fused: when `next` is parked, may run
// on this CPU and has at least the current thread's priority (and nothing of
// higher priority is due here), the CPU switches straight to it, skipping the
// run queue — the IPC handoff (a caller to the server it woke, a server to
// the caller it replied to). Otherwise it is exactly the two calls. `next` is
// a reference the caller gives up. Returns what park() returns.
ktl::Error park_and_switch_to(ktl::RefPtr<Thread> next, uint64_t deadline_ns);

// The two halves of park_and_switch_to, for callers that must know the
// switch will happen before they commit to it (the IPC fast path). With
// interrupts off: claim_for_switch(next) returns true, holding `next`'s lock,
// if `next` qualifies for a direct switch; then either release_claim(next)
// or switch_to_claimed(next, deadline), which parks the current thread and
// runs `next` (if a wake-up token or an expired deadline stops the park, it
// releases the claim and unparks `next` instead). The caller must keep
// `next` alive until it has released it or switched.
//
// to_user (the IPC direct switch): `next` is a user thread parked in a wait
// whose kernel continuation may be skipped (ipc::ThreadIpc::direct) because
// all it would still do is put these registers in its syscall frame: they go
// there, and `next` returns to user mode from that frame (through the usual
// return-to-user checks) instead of resuming its kernel stack. If the park is
// stopped, `next` is unparked and resumes its continuation as usual, which
// must then produce the same registers.
bool claim_for_switch(Thread* next);
void release_claim(Thread* next);
// What the direct switch puts in the syscall frame of the thread it goes to:
// the register message of ipc_call_regs / ipc_reply_recv_regs (rax gets 0).
struct DirectResult {
  uint64_t rdx, r10, r8, r9, rsi;
};
ktl::Error switch_to_claimed(Thread* next, uint64_t deadline_ns, const DirectResult* to_user = nullptr);

// Sleeps until `deadline_ns` (unpark() may end it early: loop if that matters).
void sleep_until(uint64_t deadline_ns);
void sleep_ns(uint64_t ns);

// Wakes `t` if parked (reason: None, Interrupted, ...), else leaves a token.
void unpark(Thread* t, ktl::Error reason = ktl::Error::None);

// Restricts the current thread to `cpu` and moves it there (tests that read
// per-CPU state use it); unpin_current() lifts the restriction.
void pin_current(unsigned cpu);
void unpin_current();

// Changes `t`'s priority (and base priority) to `priority` (clamped to
// 0..31) in whatever state it is: a queued thread is requeued at its new
// level, a running one keeps its CPU until the next scheduling decision,
// which comes at once if it was lowered or if a queued thread now outranks
// the running one (an IPI for another CPU).
void set_priority(Thread* t, uint8_t priority);

// Called (with interrupts on) when a user thread exits, before it is gone:
// the process layer counts its threads with it.
void set_user_exit_hook(void (*hook)(Thread*));

// Ends the current thread. Its object stays alive while references exist.
[[noreturn]] void exit_current();

// Called from the APIC timer interrupt: accounting, expired deadlines,
// preemption and load balancing.
void on_tick();
// Called at the end of every interrupt: switches if a reschedule is due.
void preempt_if_needed();

// Statistics for tests and `ps`.
struct CpuStats {
  uint64_t switches;
  uint64_t steals;
  uint64_t idle_ticks;
  size_t runnable;
};
CpuStats cpu_stats(unsigned cpu);

}  // namespace sched
