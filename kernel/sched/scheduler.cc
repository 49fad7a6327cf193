// scheduler.cc — per-CPU run queues, context switches, park/unpark, ticks and balancing.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/fpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/syscall.h>
#include <arch/x86_64/user_regs.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <mm/heap.h>
#include <sched/scheduler.h>

#include <new>

extern "C" void context_switch(uint64_t* save_sp, uint64_t load_sp);
extern "C" void context_switch_to_user(uint64_t* save_sp, x86::InterruptFrame* frame);
extern "C" void thread_start();
extern "C" void sched_finish_switch();
extern "C" [[noreturn]] void return_to_user(x86::InterruptFrame* frame);

namespace sched {
namespace {

struct CpuSched {
  klib::SpinLock lock;  // guards everything below
  RunQueue rq;
  TimerQueue tq;
  Thread* current = nullptr;
  Thread* idle = nullptr;
  Thread* prev = nullptr;  // handed from the switching thread to sched_finish_switch
  x86::PerCpu* percpu = nullptr;  // this CPU's; its need_resched and current_thread mirror the scheduler
  bool ready = false;
  uint64_t switches = 0;
  uint64_t steals = 0;
  uint64_t idle_ticks = 0;
};

CpuSched g_cpus[x86::kMaxCpus];
void (*g_user_exit_hook)(Thread*) = nullptr;

CpuSched& this_sched() { return g_cpus[x86::this_cpu()->index]; }

// The Thread whose `sched` member is `e` (Thread is not standard-layout, so
// no offsetof: the member offset is taken from a fake, never-dereferenced address).
Thread* thread_of(SchedEntity* e) {
  Thread* fake = reinterpret_cast<Thread*>(uintptr_t(0x10000));
  uintptr_t off = reinterpret_cast<uintptr_t>(&fake->sched) - uintptr_t(0x10000);
  return reinterpret_cast<Thread*>(reinterpret_cast<char*>(e) - off);
}

// The per-thread CPU state beyond the callee-saved registers: the kernel stack
// for entries from user mode (TSS.RSP0 and PerCpu.kernel_stack_top), the
// address space (CR3; kernel threads run on whichever is loaded, since every
// address space shares the kernel half), FS/GS bases and the FPU state.
//
// The FPU state is eager: a user thread's is saved whenever it stops running
// (XSAVEOPT skips what it has not modified since its restore) and is in the
// registers whenever it runs. The restore is skipped only when the registers
// provably still hold it: it was the last thread restored on this CPU
// (PerCpu::fpu_owner, by koid, never reused) and has not been restored on
// another CPU since (Thread::fpu_cpu); only kernel threads (which never touch
// the FPU) ran here in between. No other thread's state can be left in them.
void switch_user_state(Thread* prev, Thread* next) {
  x86::PerCpu* cpu = x86::this_cpu();
  if (prev->is_user && prev->fpu_area) x86::fpu_save(prev->fpu_area);
  if (next->kstack.top) {
    cpu->kernel_stack_top = next->kstack.top;
    cpu->tss.rsp[0] = next->kstack.top;
  }
  // Kernel threads run on the kernel's page tables, so that no CPU keeps a
  // user PML4 loaded after its process has freed it.
  uint64_t want_cr3 = next->page_table_root ? next->page_table_root : mm::kernel_page_table_root();
  if (x86::read_cr3() != want_cr3) {
    cpu->loaded_cr3.store(want_cr3, std::memory_order_seq_cst);  // (before: tlb_shootdown_space)
    x86::write_cr3(want_cr3);
  }
  if (next->is_user) {
    // Only the kernel changes these (thread.h), so the saved copies are
    // current: no MSR reads on the way out, writes only when they differ.
    if (cpu->loaded_fs_base != next->fs_base) {
      x86::wrmsr(x86::kMsrFsBase, next->fs_base);
      cpu->loaded_fs_base = next->fs_base;
    }
    if (cpu->loaded_user_gs_base != next->user_gs_base) {
      x86::wrmsr(x86::kMsrKernelGsBase, next->user_gs_base);
      cpu->loaded_user_gs_base = next->user_gs_base;
    }
    if (next->fpu_area && (cpu->fpu_owner != next->id() || next->fpu_cpu != cpu->index)) {
      x86::fpu_restore(next->fpu_area);
      cpu->fpu_owner = next->id();
      next->fpu_cpu = cpu->index;
    }
    // Foreign-ABI threads enter through their own SYSCALL entry; the native
    // path stays free of the check (kernel threads never execute SYSCALL).
    const uint8_t lstar = next->syscall_handler ? 1 : 0;
    if (cpu->loaded_lstar != lstar) {
      x86::wrmsr(x86::kMsrLstar, reinterpret_cast<uint64_t>(lstar ? &syscall_entry_foreign : &syscall_entry));
      cpu->loaded_lstar = lstar;
    }
  }
}

// Switches from c.current to the next runnable thread. Preconditions: c.lock
// held with interrupts off; c.current already queued if it is still runnable.
// Returns once the calling thread runs again, with c.lock released (by
// sched_finish_switch) and interrupts still off.
void switch_locked(CpuSched& c) {
  Thread* prev = c.current;
  SchedEntity* e = c.rq.pick_next();
  Thread* next = e ? thread_of(e) : c.idle;
  c.percpu->need_resched.store(false, std::memory_order_relaxed);
  c.rq.set_current(next == c.idle ? nullptr : &next->sched);  // load() counts the running thread
  if (next == prev) {
    prev->state_.store(ThreadState::Running, std::memory_order_release);
    c.lock.unlock(0);
    return;
  }
  next->state_.store(ThreadState::Running, std::memory_order_release);
  next->last_cpu = x86::this_cpu()->index;
  c.current = next;
  c.percpu->current_thread = next;
  c.percpu->current_work = &next->kill_pending;
  c.prev = prev;
  ++c.switches;
  switch_user_state(prev, next);
  context_switch(&prev->saved_sp, next->saved_sp);
  sched_finish_switch();
}

// Moves up to one queued thread from the busiest other CPU to `c` (which has
// nothing to run). Never waits for another CPU's lock (try_lock): the caller
// holds its own, and CPU locks are otherwise taken in index order.
void try_steal(CpuSched& c, unsigned self) {
  unsigned busiest = self;
  uint64_t most = 1;  // load counts the running thread: > 1 means one is waiting
  for (unsigned i = 0; i < x86::cpu_count(); ++i) {
    if (i == self || !g_cpus[i].ready) continue;
    uint64_t load = g_cpus[i].rq.load();
    if (load > most) {
      most = load;
      busiest = i;
    }
  }
  if (busiest == self) return;
  CpuSched& victim = g_cpus[busiest];
  uint64_t f;
  if (!victim.lock.try_lock(f)) return;
  SchedEntity* e = victim.rq.steal_for(self);
  victim.lock.unlock(0);
  if (!e) return;
  c.rq.enqueue(e);
  ++c.steals;
  c.percpu->need_resched.store(true, std::memory_order_relaxed);
}

}  // namespace

[[noreturn]] void idle_loop_forever() {
  for (;;) {
    x86::PerCpu* cpu = x86::this_cpu();
    x86::cli();
    if (auto fn = cpu->work_fn.load(std::memory_order_acquire)) {  // posted by run_on_cpu (tests)
      x86::sti();
      fn(cpu->work_arg);
      cpu->work_fn.store(nullptr, std::memory_order_release);
      continue;
    }
    asm volatile("sti; hlt" ::: "memory");  // atomic: no interrupt between sti and hlt
  }
}

namespace {
void idle_loop(void*) { idle_loop_forever(); }

void reschedule_ipi(x86::InterruptFrame&, void*) { this_sched().percpu->need_resched.store(true, std::memory_order_relaxed); }
void timer_interrupt(x86::InterruptFrame&, void*) {
  ++x86::this_cpu()->timer_ticks;
  on_tick();
}


}  // namespace

const char* thread_state_name(ThreadState s) {
  switch (s) {
    case ThreadState::New: return "new";
    case ThreadState::Ready: return "ready";
    case ThreadState::Running: return "running";
    case ThreadState::Blocked: return "blocked";
    case ThreadState::Dead: return "dead";
  }
  return "?";
}

Thread::~Thread() {
  if (kstack.top) mm::free_kernel_stack(kstack);
  mm::kfree(fpu_area);
}

ktl::Result<ktl::RefPtr<Thread>> Thread::create_bare() {
  Thread* t = new (std::nothrow) Thread();
  if (!t) return ktl::Error::NoMemory;
  return ktl::adopt_ref(t);
}

namespace {
// First code of a user thread: builds the user-mode InterruptFrame in the
// space reserved at the top of its kernel stack and leaves through the common
// return path (which also runs the kill and preemption checks).
void enter_user(void*) {
  Thread* t = current();
  auto* f = reinterpret_cast<x86::InterruptFrame*>(t->kstack.top - sizeof(x86::InterruptFrame));
  __builtin_memset(f, 0, sizeof *f);
  if (t->initial_regs_set) {  // thread_write_state before the start
    x86::apply_user_regs(*f, t->initial_regs);
    t->fs_base = t->initial_regs.fs_base;
    x86::wrmsr(x86::kMsrFsBase, t->fs_base);
    x86::this_cpu()->loaded_fs_base = t->fs_base;
  } else {
    f->rip = t->user_entry;
    f->rsp = t->user_stack;
    f->rdi = t->user_arg;
    f->cs = x86::kUserCode;
    f->ss = x86::kUserData;
    f->rflags = 0x202;  // IF
  }
  x86::cli();
  return_to_user(f);
}
}  // namespace

ktl::Result<ktl::RefPtr<Thread>> Thread::create_user(const char* name, ktl::RefPtr<KernelObject> process,
                                                     void* process_raw, uint64_t cr3, uint64_t entry,
                                                     uint64_t stack, uint64_t arg, uint8_t priority) {
  ktl::RefPtr<Thread> t = TRY(create_kernel(name, &enter_user, nullptr, priority));
  t->fpu_area = mm::kmalloc(x86::fpu_state_size());
  if (!t->fpu_area) return ktl::Error::NoMemory;
  x86::fpu_init_state(t->fpu_area);
  t->is_user = true;
  t->page_table_root = cr3;
  t->user_entry = entry;
  t->user_stack = stack;
  t->user_arg = arg;
  t->process = process_raw;
  t->process_ref = static_cast<ktl::RefPtr<KernelObject>&&>(process);
  return t;
}

ktl::Result<ktl::RefPtr<Thread>> Thread::create_kernel(const char* name, Entry entry, void* arg, uint8_t priority) {
  if (priority >= kNumPriorities) return ktl::Error::InvalidArgument;
  ktl::RefPtr<Thread> t = TRY(create_bare());
  t->kstack = TRY(mm::alloc_kernel_stack());
  size_t n = 0;
  for (; name[n] && n + 1 < kNameSize; ++n) t->name_[n] = name[n];
  t->sched.priority = t->sched.base_priority = priority;
  t->priority_ceiling = priority;
  t->sched.timeslice_ticks_left = kDefaultTimesliceTicks;
  t->timer.ctx = t.get();
  // Initial stack: the frame context_switch pops (r15, r14, r13 = arg,
  // r12 = entry, rbx, rbp), then thread_start as the return address. The
  // stack pointer at thread_start's first instruction is 16-byte aligned + 8,
  // as after a call.
  // The top of the stack is reserved for a user thread's InterruptFrame
  // (syscalls and interrupts from user mode build theirs there too).
  auto* sp = reinterpret_cast<uint64_t*>(t->kstack.top - sizeof(x86::InterruptFrame));
  *--sp = 0;                                         // alignment pad
  *--sp = reinterpret_cast<uint64_t>(&thread_start);  // ret target
  *--sp = 0;                                         // rbp
  *--sp = 0;                                         // rbx
  *--sp = reinterpret_cast<uint64_t>(entry);          // r12
  *--sp = reinterpret_cast<uint64_t>(arg);            // r13
  *--sp = 0;                                         // r14
  *--sp = 0;                                         // r15
  t->saved_sp = reinterpret_cast<uint64_t>(sp);
  return t;
}

ktl::Result<void> init_cpu(unsigned cpu, const char* boot_name) {
  CpuSched& c = g_cpus[cpu];
  c.rq.set_cpu(cpu);
  // The running context becomes a Thread without a stack of its own (it keeps
  // the one it runs on; the scheduler never frees it).
  ktl::RefPtr<Thread> boot = TRY(Thread::create_bare());
  for (size_t n = 0; boot_name[n] && n + 1 < Thread::kNameSize; ++n) boot->name_[n] = boot_name[n];
  boot->sched.priority = boot->sched.base_priority = cpu == 0 ? kDefaultPriority : kIdlePriority;
  boot->sched.timeslice_ticks_left = kDefaultTimesliceTicks;
  boot->last_cpu = cpu;
  boot->timer.ctx = boot.get();
  boot->state_.store(ThreadState::Running);
  Thread* idle;
  if (cpu == 0) {
    // The BSP's boot thread goes on with kernel_main; idle is a new thread.
    ktl::RefPtr<Thread> t = TRY(Thread::create_kernel("idle0", &idle_loop, nullptr, kIdlePriority));
    t->state_.store(ThreadState::Ready);
    idle = t.leak_ref();
  } else {
    // An AP's boot context simply becomes its idle thread.
    boot->sched.priority = boot->sched.base_priority = kIdlePriority;
    idle = boot.get();
  }
  c.rq.set_current(cpu == 0 ? &boot->sched : nullptr);
  c.current = boot.leak_ref();  // the scheduler's reference to a running thread
  c.percpu = &x86::cpu(cpu);
  c.percpu->current_thread = c.current;
  c.percpu->current_work = &c.current->kill_pending;
  c.idle = idle;
  c.ready = true;
  x86::set_interrupt_handler(x86::kVectorReschedule, &reschedule_ipi, nullptr);
  x86::set_interrupt_handler(x86::kVectorApicTimer, &timer_interrupt, nullptr);
  return ktl::ok();
}

ktl::Result<void> start(Thread* t) {
  uint64_t flags = t->lock.lock();
  if (t->state() != ThreadState::New) {
    t->lock.unlock(flags);
    return ktl::Error::BadState;
  }
  t->ref();  // the scheduler's reference, dropped when the thread is reaped
  t->state_.store(ThreadState::Blocked);
  t->lock.unlock(flags);
  unpark(t);  // New → runnable goes through the one wake-up path
  return ktl::ok();
}

void yield() {
  // Interrupts off before looking up this CPU: a preemption in between could
  // move the thread to another CPU and leave it holding the wrong lock.
  uint64_t flags = x86::read_rflags();
  x86::cli();
  CpuSched& c = this_sched();
  c.lock.lock();
  Thread* t = c.current;
  if (t != c.idle) {
    t->state_.store(ThreadState::Ready);
    t->sched.timeslice_ticks_left = kDefaultTimesliceTicks;
    c.rq.enqueue(&t->sched);
  }
  switch_locked(c);
  if (flags & (1 << 9)) x86::sti();
}

ktl::Error park(uint64_t deadline_ns) {
  Thread* t = current();
  uint64_t flags = t->lock.lock();
  if (t->wake_token) {
    t->wake_token = false;
    t->lock.unlock(flags);
    return ktl::Error::None;
  }
  if (deadline_ns != UINT64_MAX && deadline_ns <= x86::monotonic_ns()) {
    t->lock.unlock(flags);
    return ktl::Error::TimedOut;
  }
  CpuSched& c = this_sched();
  c.lock.lock();
  t->state_.store(ThreadState::Blocked);
  t->wake_reason = ktl::Error::None;
  if (deadline_ns != UINT64_MAX) {
    t->timer_cpu = x86::this_cpu()->index;
    c.tq.arm(&t->timer, deadline_ns);
  }
  t->holds_own_lock_across_switch = true;
  switch_locked(c);
  ktl::Error reason = t->wake_reason;
  if (flags & (1 << 9)) x86::sti();
  return reason;
}

bool claim_for_switch(Thread* next) {
  Thread* t = current();
  x86::PerCpu* cpu = x86::this_cpu();
  // try_lock: there is no order between two thread locks; contention means
  // something else is happening to `next` anyway.
  if (!next->lock.try_lock_irqs_off()) return false;
  if (next->state() != ThreadState::Blocked || !next->sched.may_run_on(cpu->index) ||
      next->sched.priority < t->sched.priority || cpu->need_resched.load(std::memory_order_relaxed) ||
      next->timer.armed) {
    next->lock.unlock(0);
    return false;
  }
  return true;
}

void release_claim(Thread* next) { next->lock.unlock(0); }

ktl::Error switch_to_claimed(Thread* n, uint64_t deadline_ns, const DirectResult* to_user) {
  Thread* t = current();
  x86::PerCpu* cpu = x86::this_cpu();
  t->lock.lock_irqs_off();
  bool expired = deadline_ns != UINT64_MAX && deadline_ns <= x86::monotonic_ns();
  if (t->wake_token || expired) {
    // A wake-up came first (or the deadline is past): stay, and let `n` run
    // the ordinary way.
    ktl::Error e = t->wake_token ? ktl::Error::None : ktl::Error::TimedOut;
    t->wake_token = false;
    t->lock.unlock(0);
    n->lock.unlock(0);
    unpark(n);
    return e;
  }
  // `n` stays alive: the scheduler holds a reference to every started thread
  // until it is reaped, and a parked thread is not dead.
  CpuSched& c = g_cpus[cpu->index];
  c.lock.lock_irqs_off();
  t->state_.store(ThreadState::Blocked);
  t->wake_reason = ktl::Error::None;
  if (deadline_ns != UINT64_MAX) {
    t->timer_cpu = cpu->index;
    c.tq.arm(&t->timer, deadline_ns);
  }
  t->holds_own_lock_across_switch = true;
  n->wake_reason = ktl::Error::None;
  n->sched.timeslice_ticks_left = kDefaultTimesliceTicks;
  n->state_.store(ThreadState::Running, std::memory_order_release);
  n->last_cpu = cpu->index;
  n->lock.unlock(0);
  c.rq.set_current(&n->sched);
  c.current = n;
  cpu->current_thread = n;
  cpu->current_work = &n->kill_pending;
  c.prev = t;
  ++c.switches;
  switch_user_state(t, n);
  if (to_user) {  // n's continuation is skipped: it leaves through its syscall frame
    auto* f = reinterpret_cast<x86::InterruptFrame*>(n->kstack.top - sizeof(x86::InterruptFrame));
    f->rdx = to_user->rdx;
    f->r10 = to_user->r10;
    f->r8 = to_user->r8;
    f->r9 = to_user->r9;
    f->rsi = to_user->rsi;
    f->rax = 0;
    context_switch_to_user(&t->saved_sp, f);
  } else {
    context_switch(&t->saved_sp, n->saved_sp);
  }
  sched_finish_switch();
  return t->wake_reason;
}

ktl::Error park_and_switch_to(ktl::RefPtr<Thread> next, uint64_t deadline_ns) {
  uint64_t flags = x86::read_rflags();
  x86::cli();
  ktl::Error e;
  if (claim_for_switch(next.get())) {
    Thread* n = next.get();
    next.reset();  // not the last reference: see switch_to_claimed
    e = switch_to_claimed(n, deadline_ns);
  } else {
    unpark(next.get());
    next.reset();
    e = park(deadline_ns);
  }
  if (flags & (1 << 9)) x86::sti();
  return e;
}

void pin_current(unsigned cpu) {
  Thread* t = current();
  t->sched.affinity_mask = uint64_t(1) << cpu;  // not queued while running: safe to change
  while (x86::this_cpu()->index != cpu) {
    // Switch out as if parked; once our registers are saved, the next thread
    // re-places us through unpark(), which honours the affinity mask.
    uint64_t flags = t->lock.lock();
    CpuSched& c = this_sched();
    c.lock.lock();
    t->state_.store(ThreadState::Blocked);
    t->holds_own_lock_across_switch = true;
    t->requeue_after_switch = true;
    switch_locked(c);
    if (flags & (1 << 9)) x86::sti();
  }
}

void unpin_current() { current()->sched.affinity_mask = 0; }

void sleep_until(uint64_t deadline_ns) {
  while (x86::monotonic_ns() < deadline_ns) {
    if (park(deadline_ns) == ktl::Error::Interrupted) return;
  }
}

void sleep_ns(uint64_t ns) { sleep_until(x86::monotonic_ns() + ns); }

void unpark(Thread* t, ktl::Error reason) {
  uint64_t flags = t->lock.lock();
  if (t->state() != ThreadState::Blocked) {
    if (t->state() != ThreadState::Dead && t->state() != ThreadState::New) t->wake_token = true;
    t->lock.unlock(flags);
    return;
  }
  if (t->timer.armed) {
    CpuSched& tc = g_cpus[t->timer_cpu];
    tc.lock.lock();
    tc.tq.cancel(&t->timer);
    tc.lock.unlock(0);
  }
  t->wake_reason = reason;
  t->state_.store(ThreadState::Ready);
  unsigned self = x86::this_cpu()->index;
  unsigned preferred = t->last_cpu == kNoCpu ? self : t->last_cpu;
  unsigned target = preferred;
  // pick_cpu_for's first rule without building its table: the preferred CPU
  // with at most its running thread wins whatever the others carry. (The
  // common wake-up of IPC and notification ping-pong: no survey of every CPU.)
  if (preferred >= x86::kMaxCpus || !g_cpus[preferred].ready || !t->sched.may_run_on(preferred) ||
      g_cpus[preferred].rq.load() > 1) {
    const RunQueue* queues[x86::kMaxCpus];
    unsigned n = x86::cpu_count();
    for (unsigned i = 0; i < n; ++i) queues[i] = g_cpus[i].ready ? &g_cpus[i].rq : nullptr;
    target = pick_cpu_for(t->sched, queues, n, preferred);
  }
  CpuSched& tc = g_cpus[target];
  tc.lock.lock();
  t->sched.timeslice_ticks_left = kDefaultTimesliceTicks;
  tc.rq.enqueue(&t->sched);
  bool preempt = tc.current == tc.idle || t->sched.priority > tc.current->sched.priority;
  if (preempt) tc.percpu->need_resched.store(true, std::memory_order_relaxed);
  tc.lock.unlock(0);
  t->lock.unlock(flags);
  if (preempt && target != self) x86::lapic_send_ipi(x86::cpu(target).apic_id, x86::IpiMode::Fixed, x86::kVectorReschedule);
}

void set_priority(Thread* t, uint8_t priority) {
  if (priority >= kNumPriorities) priority = kNumPriorities - 1;
  uint64_t flags = t->lock.lock();  // no park or unpark of `t` meanwhile
  for (;;) {
    // A queued or running thread's priority belongs to its CPU's lock; a
    // parked or never-started one's to `t->lock`, held here.
    ThreadState s = t->state();
    if (s == ThreadState::New || s == ThreadState::Blocked || s == ThreadState::Dead) {
      t->sched.priority = t->sched.base_priority = priority;
      break;
    }
    unsigned cpu = t->sched.queued ? t->sched.cpu : t->last_cpu;
    if (cpu >= x86::kMaxCpus) continue;  // (Ready but between queues: a steal in flight)
    CpuSched& c = g_cpus[cpu];
    c.lock.lock();
    if (t->sched.queued && t->sched.cpu == cpu) {
      c.rq.remove(&t->sched);  // never change the priority of a queued entity in place
      t->sched.priority = t->sched.base_priority = priority;
      c.rq.enqueue(&t->sched);
      if (c.current == c.idle || priority > c.current->sched.priority) c.percpu->need_resched.store(true, std::memory_order_relaxed);
    } else if (c.current == t) {
      bool lowered = priority < t->sched.priority;
      t->sched.priority = t->sched.base_priority = priority;
      // Lowered: something queued may now come first; the CPU re-decides at
      // its next return from the kernel.
      if (lowered) c.percpu->need_resched.store(true, std::memory_order_relaxed);
    } else {
      c.lock.unlock(0);
      continue;  // it moved meanwhile (woken, switched, stolen): look again
    }
    bool remote = cpu != x86::this_cpu()->index;
    c.lock.unlock(0);
    if (remote) x86::lapic_send_ipi(x86::cpu(cpu).apic_id, x86::IpiMode::Fixed, x86::kVectorReschedule);
    break;
  }
  t->lock.unlock(flags);
}

void set_user_exit_hook(void (*hook)(Thread*)) { g_user_exit_hook = hook; }

[[noreturn]] void exit_current() {
  Thread* t = current();
  ipc::thread_exiting(t);  // a caller owed a reply gets PeerClosed
  if (t->is_user && g_user_exit_hook) {
    x86::sti();  // process teardown may take a while; it runs preemptible
    g_user_exit_hook(t);
  }
  t->lock.lock();
  CpuSched& c = this_sched();
  c.lock.lock();
  t->state_.store(ThreadState::Dead);
  t->holds_own_lock_across_switch = true;
  switch_locked(c);
  panic("a dead thread was scheduled");
}

void on_tick() {
  CpuSched& c = this_sched();
  if (!c.ready) return;
  TimerEntry* expired[16];
  size_t n;
  {
    c.lock.lock();
    Thread* t = c.current;
    ++t->ticks_;
    if (t == c.idle) {
      ++c.idle_ticks;
      if (c.rq.size() == 0) try_steal(c, x86::this_cpu()->index);
      if (c.rq.size() > 0) c.percpu->need_resched.store(true, std::memory_order_relaxed);
    } else if (c.rq.tick(&t->sched)) {
      c.percpu->need_resched.store(true, std::memory_order_relaxed);
    }
    n = c.tq.expire(x86::monotonic_ns(), expired, 16);
    c.lock.unlock(0);
  }
  for (size_t i = 0; i < n; ++i) unpark(static_cast<Thread*>(expired[i]->ctx), ktl::Error::TimedOut);
}

void preempt_if_needed() {
  x86::PerCpu* cpu = x86::this_cpu();
  if (!cpu) return;
  CpuSched& c = g_cpus[cpu->index];
  if (!c.ready || !cpu->need_resched.load(std::memory_order_relaxed)) return;
  c.lock.lock();
  Thread* t = c.current;
  if (t != c.idle) {
    t->state_.store(ThreadState::Ready);
    c.rq.enqueue(&t->sched);
  }
  switch_locked(c);  // interrupts stay off: we return into the interrupt exit path
}

CpuStats cpu_stats(unsigned cpu) {
  CpuSched& c = g_cpus[cpu];
  uint64_t f = c.lock.lock();
  CpuStats s{c.switches, c.steals, c.idle_ticks, c.rq.size()};
  c.lock.unlock(f);
  return s;
}

}  // namespace sched

// Runs first on the thread switched to: releases what the switching thread
// held (its CPU's lock, and its own lock if it parked or exited), and drops
// the scheduler's reference to a thread that exited.
extern "C" void sched_finish_switch() {
  using namespace sched;
  CpuSched& c = this_sched();
  Thread* prev = c.prev;
  c.prev = nullptr;
  c.lock.unlock(0);
  if (!prev) return;
  bool dead = prev->state() == ThreadState::Dead;
  bool requeue = prev->requeue_after_switch;
  prev->requeue_after_switch = false;
  if (prev->holds_own_lock_across_switch) {
    prev->holds_own_lock_across_switch = false;
    prev->lock.unlock(0);
  }
  if (requeue) unpark(prev);
  if (dead) ktl::RefPtr<Thread> drop = ktl::adopt_ref(prev);  // the scheduler's reference
}

extern "C" [[noreturn]] void thread_exit_current() { sched::exit_current(); }

// The first code of a thread the IPC direct switch goes to
// (context_switch_to_user, on its syscall frame, interrupts off): what its
// skipped kernel continuation would have done before returning to user mode
// — finish the switch, drop the endpoint reference its wait held.
extern "C" void sched_direct_resume_finish() {
  using namespace sched;
  // sched_finish_switch for the one case switch_to_claimed has: the previous
  // thread parked (it holds its own lock) and is neither dead nor to be requeued.
  CpuSched& c = this_sched();
  Thread* prev = c.prev;
  c.prev = nullptr;
  c.lock.unlock(0);
  prev->holds_own_lock_across_switch = false;
  prev->lock.unlock(0);
  ipc::drop_held(current()->ipc);
}
