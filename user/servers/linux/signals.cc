// linux/signals.cc — signals: actions, masks, pending sets, delivery through
// Linux rt_sigframes (sigframe.h), rt_sigreturn, interrupted blocking calls,
// default actions (terminate, stop, continue, ignore), SIGCHLD, interval
// timers. docs/linux.md "Signals" says what works.
//
// Pending signals are kept per thread (Thread::queue, in the order sent); a
// signal sent to a process goes to a thread that does not block it, the one
// that can take it soonest (send_signal). A signal is delivered when its thread returns
// from a syscall (signal_on_return) or, if the thread is waiting in a
// blocking call, at once (kick): the call is interrupted (EINTR, or
// restarted under SA_RESTART) and the thread resumed in the handler. A thread
// running user code without making syscalls gets a handled signal at its
// next syscall; default actions (terminate, stop) take effect at once.
#include "internal.h"
#include "waitinfo.h"

namespace linux_srv {

namespace F = linux_sigframe;
using F::bit;

namespace {

constexpr uint64_t kUserTop = 0x8000'0000'0000;
constexpr int SIGURG = 23;
constexpr uint64_t kRtSigqueueinfo = 129, kRtTgsigqueueinfo = 297;
constexpr uint64_t SIG_IGN = 1;

Thread* g_dispatching = nullptr;  // the thread whose syscall is being handled (delivered on return)

enum class Act { Ignore, Terminate, Stop, Continue, Handler };

Act action_of(Proc& p, int sig) {
  if (sig == L::SIGKILL) return Act::Terminate;
  if (sig == L::SIGSTOP) return Act::Stop;
  const uint64_t h = p.sigaction[sig][0];
  if (h == SIG_IGN) return Act::Ignore;
  if (h > SIG_IGN) return Act::Handler;
  switch (sig) {
    case L::SIGCHLD: case SIGURG: case L::SIGWINCH: return Act::Ignore;
    case L::SIGCONT: return Act::Continue;
    case L::SIGTSTP: case L::SIGTTIN: case L::SIGTTOU: return Act::Stop;
    default: return Act::Terminate;  // (the core-dumping ones too: no core is written)
  }
}

uint64_t pending_set(const Thread& t) {
  uint64_t s = 0;
  for (int i = 0; i < t.queued; ++i) s |= bit(t.queue[i].sig);
  return s;
}

void dequeue(Thread& t, int i) {
  for (int j = i; j + 1 < t.queued; ++j) t.queue[j] = t.queue[j + 1];
  --t.queued;
}

void discard(Thread& t, uint64_t set) {
  for (int i = 0; i < t.queued;)
    if (set & bit(t.queue[i].sig)) dequeue(t, i);
    else ++i;
}

// The queue index of the lowest-numbered pending signal outside `mask`
// (the first of its queue), or -1.
int next_of(const Thread& t, uint64_t mask) {
  int best = -1;
  for (int i = 0; i < t.queued; ++i)
    if (!(mask & bit(t.queue[i].sig)) && (best < 0 || t.queue[i].sig < t.queue[best].sig)) best = i;
  return best;
}

uint64_t blocked_of(const Thread& t) { return t.sigmask & ~F::kUnblockable; }

void stop_proc(Proc& q, int sig);

// Stops every thread of `q` not waiting in a blocking call (those stay
// where they are; a call that completes meanwhile leaves its thread
// stopped, main.cc's complete) and tells its parent.
void stop_proc(Proc& q, int sig) {
  if (q.stopped) return;
  q.stopped = true;
  for (Thread& th : g_threads)
    if (th.used && th.proc == &q && th.block == Block::None && !th.stopped) {
      (void)sys::thread_suspend(th.thread);
      th.stopped = true;
    }
  q.stop_report = sig;
  if (Proc* parent = q.ppid ? proc_by_pid(q.ppid) : nullptr) {
    if (!(parent->sigaction[L::SIGCHLD][1] & 1 /*SA_NOCLDSTOP*/)) child_changed(*parent, q, F::kCldStopped, sig);
    retry_blocked(Block::Wait4);
  }
}

void continue_proc(Proc& q) {
  if (!q.stopped) return;
  q.stopped = false;
  for (Thread& th : g_threads)
    if (th.used && th.proc == &q && th.stopped) {
      th.stopped = false;
      // A thread suspended as it entered a call that now waits stays
      // suspended for that call (thread_resume would end it, rax unset):
      // completing the call resumes it.
      if (th.block == Block::None) {
        cpu_resume(th);
        (void)sys::thread_resume(th.thread);
      }
    }
  q.stop_report = -1;
  if (Proc* parent = q.ppid ? proc_by_pid(q.ppid) : nullptr)
    if (!(parent->sigaction[L::SIGCHLD][1] & 1)) child_changed(*parent, q, F::kCldContinued, L::SIGCONT);
  retry_blocked(Block::Wait4);  // (the parent's wait4, and q's own waiting calls, held while it was stopped)
}

bool restartable(uint64_t nr) {
  switch (nr) {
    case L::kNanosleep: case L::kClockNanosleep: case L::kPause: case L::kRtSigsuspend: case L::kRtSigtimedwait:
    case L::kPoll: case L::kSelect: case L::kPpoll: case L::kPselect6:
      return false;
    default: return true;
  }
}

// `r` (a waiting call's entry registers) as the call ends on signal `sig`:
// restarted (rip back on the syscall, rax its number) under SA_RESTART,
// else -EINTR (a partly done write: what it wrote).
void interrupt_call(Thread& t, UserRegs& r, int sig) {
  Proc& p = *t.proc;
  const uint64_t nr = r.rax;
  if (t.block == Block::PipeWrite && t.progress > 0) {
    r.rax = t.progress;
  } else if ((p.sigaction[sig][1] & F::kSaRestart) && restartable(nr)) {
    r.rip -= 2;  // `syscall` is 2 bytes
  } else {
    r.rax = uint64_t(-L::EINTR);
    const uint64_t rem = nr == L::kNanosleep ? r.rsi : nr == L::kClockNanosleep && !(r.rsi & 1) ? r.r10 : 0;
    if (rem) {
      const uint64_t now = keel::now_ns(), left = t.wake_ns > now ? t.wake_ns - now : 0;
      const L::Timespec ts{int64_t(left / 1'000'000'000), int64_t(left % 1'000'000'000)};
      (void)write_obj(p, rem, ts);
    }
  }
  t.block = Block::None;
  t.progress = 0;
}

// Builds the frame of queue entry `i` (a signal with a handler) on t's stack
// and points `r` at the handler. False if the process ended instead (the
// frame could not be written: SIGSEGV).
bool push_frame(Thread& t, UserRegs& r, int i, uint64_t trapno = 0, uint64_t cr2 = 0) {
  Proc& p = *t.proc;
  const int sig = t.queue[i].sig;
  const F::Siginfo info = t.queue[i].info;
  dequeue(t, i);
  uint64_t* act = p.sigaction[sig];
  const uint64_t handler = act[0], flags = act[1], restorer = act[2], sa_mask = act[3];
  const bool on_alt = F::on_stack(r.rsp, t.alt_sp, t.alt_size);
  const bool use_alt = (flags & F::kSaOnstack) && t.alt_size && !on_alt;
  const uint64_t at = F::frame_address(r.rsp, use_alt, t.alt_sp, t.alt_size);
  const uint64_t old_mask = t.has_saved_mask ? t.saved_mask : t.sigmask;
  t.has_saved_mask = false;
  F::Frame f;
  F::build(&f, r, info, restorer, old_mask, t.alt_sp, t.alt_size ? (on_alt ? F::kSsOnstack : 0) : F::kSsDisable,
           t.alt_size, trapno, cr2);
  if (!write_user(p, at, &f, sizeof f)) {
    keel::print("linux: pid {}: no room for a signal {} frame at {:#x}: SIGSEGV\n", p.pid, sig, at);
    end_process(p, L::wait_signaled(L::SIGSEGV));
    return false;
  }
  t.sigmask = F::handler_mask(t.sigmask, sa_mask, flags, sig);
  if (flags & F::kSaResethand) act[0] = 0, act[1] &= ~F::kSaSiginfo;
  F::enter(r, at, handler, sig);
  return true;
}

enum class Step { None, Frame, Gone };

// Acts on t's deliverable signals: ignores what is ignored, ends or stops
// the process for default actions, and for the first with a handler builds
// its frame (the call is interrupted first if `waiting`). With `waiting`,
// stops at a stop (the call goes on waiting).
Step deliver(Thread& t, UserRegs& r, bool waiting) {
  Proc& p = *t.proc;
  for (;;) {
    const int i = next_of(t, blocked_of(t));
    if (i < 0) return Step::None;
    const int sig = t.queue[i].sig;
    switch (action_of(p, sig)) {
      case Act::Ignore: case Act::Continue: dequeue(t, i); continue;
      case Act::Terminate: end_process(p, L::wait_signaled(sig)); return Step::Gone;
      case Act::Stop:
        dequeue(t, i);
        stop_proc(p, sig);
        if (waiting) return Step::None;
        continue;
      case Act::Handler:
        if (waiting) interrupt_call(t, r, sig);
        return push_frame(t, r, i) ? Step::Frame : Step::Gone;
    }
  }
}

// A thread waiting in a blocking call with a signal to deliver now: the
// call is interrupted and the thread goes on in the handler.
void kick(Thread& t) {
  if (&t == g_dispatching || t.block == Block::None || t.proc->stopped) return;
  UserRegs r = t.regs;
  const Step s = deliver(t, r, true);
  if (s != Step::Frame) return;
  (void)sys::thread_write_state(t.thread, &r);
  cpu_resume(t);
  (void)sys::thread_resume(t.thread);
}

F::Siginfo info_from(Proc& p, int sig, int32_t code) {
  F::Siginfo si;
  si.signo = sig;
  si.code = code;
  si.set32(16, p.pid);
  si.set32(20, 0);
  return si;
}

}  // namespace

// Sends `sig` to `q` (to thread `to` if given). 0, or -EAGAIN when a
// real-time signal's queue is full.
int64_t send_signal(Proc& q, Thread* to, int sig, const F::Siginfo& info) {
  if (q.zombie || sig < 1 || sig > F::kMaxSig) return 0;
  const uint64_t stops = bit(L::SIGSTOP) | bit(L::SIGTSTP) | bit(L::SIGTTIN) | bit(L::SIGTTOU);
  if (sig == L::SIGCONT) {
    for (Thread& th : g_threads)
      if (th.used && th.proc == &q) discard(th, stops);
    continue_proc(q);
  } else if (stops & bit(sig)) {
    for (Thread& th : g_threads)
      if (th.used && th.proc == &q) discard(th, bit(L::SIGCONT));
  }
  // A process-directed signal goes to a thread that does not block it, the
  // one that can take it soonest: the thread whose syscall is being handled
  // (it gets it on return), else one waiting in a call (interrupted now),
  // else any (at its next syscall); the first in the table if none wants it.
  Thread* t = to;
  if (!t) {
    int best = -1;
    for (Thread& th : g_threads) {
      if (!th.used || th.proc != &q) continue;
      // (a call being rerun, retry_blocked, cannot be kicked: like a running thread)
      const int rank = (blocked_of(th) & bit(sig)) ? 0
                       : &th == g_dispatching     ? (th.block == Block::None ? 3 : 1)
                       : th.block != Block::None  ? 2
                                                  : 1;
      if (rank > best) best = rank, t = &th;
    }
  }
  if (!t) return 0;
  const Act act = action_of(q, sig);
  const bool blocked = blocked_of(*t) & bit(sig);
  if (!blocked && (act == Act::Ignore || act == Act::Continue)) return 0;
  if (!blocked && act == Act::Terminate) {  // at once, whatever the threads are doing
    end_process(q, L::wait_signaled(sig));
    return 0;
  }
  if (!blocked && act == Act::Stop) {
    stop_proc(q, sig);
    return 0;
  }
  if (sig < 32 && (pending_set(*t) & bit(sig))) return 0;  // a standard signal is pending once
  if (t->queued == Thread::kQueue) return sig < 32 ? 0 : -L::EAGAIN;
  t->queue[t->queued++] = {sig, info};
  t->queue[t->queued - 1].info.signo = sig;
  retry_blocked(Block::Sleep);  // (rt_sigtimedwait may take it)
  if (t->used) kick(*t);
  return 0;
}

void child_changed(Proc& parent, Proc& child, int code, int status) {
  F::Siginfo si;
  si.code = code;
  si.set32(16, child.pid);
  si.set32(24, status);
  // An end is told with the child's exit signal (clone's CSIGNAL: maybe
  // none), a stop or continue always with SIGCHLD.
  const bool end = code == F::kCldExited || code == F::kCldKilled || code == F::kCldDumped;
  const int sig = end ? child.exit_signal : L::SIGCHLD;
  if (sig) (void)send_signal(parent, nullptr, sig, si);
}

Result sys_kill(Proc& p, Thread& t, int64_t pid, int64_t sig) {
  (void)t;
  if (sig < 0 || sig > F::kMaxSig) return value(-L::EINVAL);
  const F::Siginfo si = info_from(p, int(sig), F::kSiUser);
  if (pid <= 0) {  // a process group (0: the caller's), or -1: every process but init... and itself last
    const int group = pid == 0 ? p.pgid : int(-pid);
    bool any = false, self = false;
    const int me = p.pid;
    for (Proc& q : g_procs) {
      if (!q.used || q.zombie || (pid != -1 && q.pgid != group)) continue;
      any = true;
      if (q.pid == me) {
        self = true;
        continue;
      }
      if (sig) (void)send_signal(q, nullptr, int(sig), si);
    }
    if (!any) return value(-L::ESRCH);
    if (self && sig) (void)send_signal(p, nullptr, int(sig), si);
    return value(0);
  }
  Proc* q = proc_by_pid(int(pid));
  if (!q) return value(-L::ESRCH);
  if (sig == 0 || q->zombie) return value(0);
  return value(send_signal(*q, nullptr, int(sig), si));
}

Result signal_on_return(Thread& t, const UserRegs& entry, UserRegs& r, Result res) {
  if (!t.used || res.kind == Out::Gone) return t.used ? res : kGone;
  if (res.kind == Out::Block) {
    if (t.proc->stopped) return res;
    UserRegs w = entry;
    const Step s = deliver(t, w, true);
    if (s == Step::Gone) return kGone;
    if (s == Step::None) return res;
    r = w;
    return {Out::Regs, 0};
  }
  if (res.kind == Out::Value) r.rax = uint64_t(res.value);
  const Step s = deliver(t, r, false);
  if (s == Step::Gone) return kGone;
  if (s == Step::Frame) return {Out::Regs, 0};
  return res;
}

// ---------------------------------------------------------------- interval timers

// ITIMER_REAL counts on the monotonic clock, ITIMER_VIRTUAL and ITIMER_PROF
// on the process's CPU time (time.cc: both count the same time here).
constexpr int SIGVTALRM = 26, SIGPROF = 27;

namespace {

using linux_itimer::expire;

void timer_signal(Proc& p, int sig) {
  F::Siginfo si;
  si.code = F::kSiKernel;
  (void)send_signal(p, nullptr, sig, si);
}

}  // namespace

void signal_timers() {
  const uint64_t now = keel::now_ns();
  for (Proc& p : g_procs) {
    if (!p.used || p.zombie) continue;
    if (expire(p.itimer_ns, p.itimer_interval_ns, now)) {
      g_wake_stale = true;
      timer_signal(p, L::SIGALRM);
    }
    if (!p.vtimer_ns && !p.ptimer_ns) continue;
    const uint64_t cpu = proc_cpu_ns(p);
    const bool v = expire(p.vtimer_ns, p.vtimer_interval_ns, cpu), prof = expire(p.ptimer_ns, p.ptimer_interval_ns, cpu);
    if (v || prof) g_wake_stale = true;
    if (v && p.used && !p.zombie) timer_signal(p, SIGVTALRM);
    if (prof && p.used && !p.zombie) timer_signal(p, SIGPROF);
  }
}

uint64_t signal_deadline(uint64_t d) {
  const uint64_t now = keel::now_ns();
  for (Proc& p : g_procs) {
    if (!p.used || p.zombie) continue;
    if (p.itimer_ns && p.itimer_ns < d) d = p.itimer_ns;
    if (p.vtimer_ns || p.ptimer_ns) {  // the CPU timers: as soon as they could expire if a thread runs
      const uint64_t cpu = proc_cpu_ns(p);
      for (uint64_t at : {p.vtimer_ns, p.ptimer_ns})
        if (at) d = std::min(d, now + (at > cpu ? at - cpu : 0));
    }
  }
  return d;
}

namespace {

uint64_t tv_ns(const int64_t tv[2]) { return uint64_t(tv[0]) * 1'000'000'000 + uint64_t(tv[1]) * 1000; }

void put_tv(int64_t tv[2], uint64_t ns) {
  tv[0] = int64_t(ns / 1'000'000'000);
  tv[1] = int64_t(ns % 1'000'000'000 / 1000);
}

// Timer `which` of p (ITIMER_REAL 0, ITIMER_VIRTUAL 1, ITIMER_PROF 2): its
// expiry, its period, and the clock it counts on now.
struct Itimer {
  uint64_t* at;
  uint64_t* interval;
  uint64_t now;
};
Itimer itimer_of(Proc& p, uint64_t which) {
  if (which == 0) return {&p.itimer_ns, &p.itimer_interval_ns, keel::now_ns()};
  if (which == 1) return {&p.vtimer_ns, &p.vtimer_interval_ns, proc_cpu_ns(p)};
  return {&p.ptimer_ns, &p.ptimer_interval_ns, proc_cpu_ns(p)};
}

// A timer now: {interval, value} in timeval pairs (an expired one not yet
// handled shows 1 us left, as Linux does).
void itimer_now(Proc& p, uint64_t which, int64_t out[4]) {
  const Itimer it = itimer_of(p, which);
  put_tv(out, *it.interval);
  put_tv(out + 2, linux_itimer::left(*it.at, it.now));
}

Result sys_setitimer(Proc& p, uint64_t which, uint64_t new_addr, uint64_t old_addr) {
  if (which > 2) return value(-L::EINVAL);
  int64_t nv[4] = {};
  if (new_addr && !read_user(p, new_addr, nv, sizeof nv)) return value(-L::EFAULT);
  for (int i = 0; i < 4; i += 2)
    if (nv[i] < 0 || nv[i + 1] < 0 || nv[i + 1] >= 1'000'000) return value(-L::EINVAL);
  int64_t old[4] = {};
  itimer_now(p, which, old);
  if (new_addr) {
    const Itimer it = itimer_of(p, which);
    const uint64_t v = tv_ns(nv + 2);
    *it.at = v ? it.now + v : 0;
    *it.interval = v ? tv_ns(nv) : 0;
    g_wake_stale = true;
  }
  if (old_addr && !write_user(p, old_addr, old, sizeof old)) return value(-L::EFAULT);
  return value(0);
}

// ---------------------------------------------------------------- the syscalls

Result sys_rt_sigaction(Proc& p, const UserRegs& r) {
  const int64_t sig = int64_t(r.rdi);
  if (r.r10 != 8 || sig < 1 || sig > F::kMaxSig) return value(-L::EINVAL);
  uint64_t act[4];
  if (r.rsi && !read_user(p, r.rsi, act, sizeof act)) return value(-L::EFAULT);
  if (r.rsi && (sig == L::SIGKILL || sig == L::SIGSTOP)) return value(-L::EINVAL);
  uint64_t old[4];
  memcpy(old, p.sigaction[sig], sizeof old);
  if (r.rsi) {
    act[3] &= ~F::kUnblockable;
    memcpy(p.sigaction[sig], act, sizeof act);
    if (action_of(p, int(sig)) == Act::Ignore)  // pending ones are discarded (POSIX)
      for (Thread& th : g_threads)
        if (th.used && th.proc == &p) discard(th, bit(int(sig)));
  }
  if (r.rdx && !write_user(p, r.rdx, old, sizeof old)) return value(-L::EFAULT);
  return value(0);
}

Result sys_rt_sigprocmask(Thread& t, const UserRegs& r) {
  Proc& p = *t.proc;
  if (r.r10 != 8) return value(-L::EINVAL);
  const uint64_t old = t.sigmask;
  if (r.rsi) {
    uint64_t set = 0;
    if (!read_obj(p, r.rsi, &set)) return value(-L::EFAULT);
    set &= ~F::kUnblockable;
    switch (r.rdi) {
      case 0: t.sigmask |= set; break;
      case 1: t.sigmask &= ~set; break;
      case 2: t.sigmask = set; break;
      default: return value(-L::EINVAL);
    }
  }
  if (r.rdx && !write_obj(p, r.rdx, old)) return value(-L::EFAULT);
  return value(0);
}

Result sys_rt_sigtimedwait(Thread& t, const UserRegs& r) {
  Proc& p = *t.proc;
  if (r.r10 != 8) return value(-L::EINVAL);
  uint64_t set = 0;
  if (!read_obj(p, r.rdi, &set)) return value(-L::EFAULT);
  set &= ~F::kUnblockable;
  const int i = next_of(t, ~set);
  if (i >= 0) {
    const int sig = t.queue[i].sig;
    if (r.rsi && !write_obj(p, r.rsi, t.queue[i].info)) return value(-L::EFAULT);
    dequeue(t, i);
    return value(sig);
  }
  if (t.block == Block::Sleep) return keel::now_ns() >= t.wake_ns ? value(-L::EAGAIN) : kBlock;
  t.wake_ns = ~0ull;
  if (r.rdx) {
    L::Timespec ts;
    if (!read_obj(p, r.rdx, &ts)) return value(-L::EFAULT);
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return value(-L::EINVAL);
    const uint64_t ns = uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
    if (ns == 0) return value(-L::EAGAIN);
    t.wake_ns = keel::now_ns() + ns;
  }
  return kBlock;
}

Result sys_sigaltstack(Thread& t, const UserRegs& r) {
  Proc& p = *t.proc;
  const bool on = F::on_stack(r.rsp, t.alt_sp, t.alt_size);
  struct {
    uint64_t sp;
    int32_t flags, pad;
    uint64_t size;
  } old{t.alt_sp, t.alt_size ? (on ? F::kSsOnstack : 0) : F::kSsDisable, 0, t.alt_size}, ss{};
  if (r.rdi) {
    if (!read_obj(p, r.rdi, &ss)) return value(-L::EFAULT);
    if (on) return value(-L::EPERM);
    const int32_t flags = ss.flags & ~int32_t(1u << 31);  // (SS_AUTODISARM: taken, not honoured)
    if (flags == F::kSsDisable) {
      t.alt_sp = t.alt_size = 0;
    } else if (flags != 0 && flags != F::kSsOnstack) {
      return value(-L::EINVAL);
    } else if (ss.size < F::kMinSigStackSize) {
      return value(-L::ENOMEM);
    } else {
      t.alt_sp = ss.sp;
      t.alt_size = ss.size;
    }
  }
  if (r.rsi && !write_obj(p, r.rsi, old)) return value(-L::EFAULT);
  return value(0);
}

Result sys_rt_sigreturn(Thread& t, UserRegs& r) {
  Proc& p = *t.proc;
  F::Ucontext uc;
  uint64_t mask = 0;
  if (!read_obj(p, r.rsp, &uc) || !F::restore(uc, r, &mask, kUserTop)) {
    keel::print("linux: pid {}: rt_sigreturn with a bad frame at {:#x}: SIGSEGV\n", p.pid, r.rsp);
    end_process(p, L::wait_signaled(L::SIGSEGV));
    return kGone;
  }
  t.sigmask = mask;
  return {Out::Regs, 0};
}

Result sys_sigqueue(Proc& p, Thread& t, const UserRegs& r, bool to_thread) {
  const int64_t tgid = int64_t(int32_t(r.rdi));
  const int64_t sig = int64_t(to_thread ? r.rdx : r.rsi);
  F::Siginfo si;
  if (!read_obj(p, to_thread ? r.r10 : r.rdx, &si)) return value(-L::EFAULT);
  if (sig < 1 || sig > F::kMaxSig) return value(-L::EINVAL);
  Proc* q = proc_by_pid(int(tgid));
  Thread* to = nullptr;
  if (to_thread) {
    if (tgid <= 0 || int64_t(int32_t(r.rsi)) <= 0) return value(-L::EINVAL);
    to = thread_by_tid(uint64_t(int32_t(r.rsi)));
    if (!to || to->proc != q) return value(-L::ESRCH);
  }
  if (!q || q->zombie) return value(-L::ESRCH);
  if ((si.code >= 0 || si.code == F::kSiTkill) && (q != &p || (to && to != &t))) return value(-L::EPERM);
  return value(send_signal(*q, to, int(sig), si));
}

Result sys_tkill(Proc& p, int64_t tgid, int64_t tid, int64_t sig, bool tg) {
  if ((tg && tgid <= 0) || tid <= 0 || sig < 0 || sig > F::kMaxSig) return value(-L::EINVAL);
  Thread* to = thread_by_tid(uint64_t(tid));
  if (!to || (tg && to->proc->pid != tgid)) return value(-L::ESRCH);
  if (sig == 0) return value(0);
  return value(send_signal(*to->proc, to, int(sig), info_from(p, int(sig), F::kSiTkill)));
}

}  // namespace

bool dispatch_signals(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  switch (r.rax) {
    case L::kRtSigaction: *out = sys_rt_sigaction(p, r); return true;
    case L::kRtSigprocmask: *out = sys_rt_sigprocmask(t, r); return true;
    case L::kRtSigreturn: *out = sys_rt_sigreturn(t, r); return true;
    case L::kRtSigpending: {
      if (r.rsi != 8) *out = value(-L::EINVAL);
      else *out = value(write_obj(p, r.rdi, pending_set(t) & t.sigmask) ? 0 : -L::EFAULT);
      return true;
    }
    case L::kRtSigtimedwait: *out = sys_rt_sigtimedwait(t, r); return true;
    case L::kRtSigsuspend: {
      if (t.block != Block::None) {
        *out = kBlock;
      } else if (r.rsi != 8) {
        *out = value(-L::EINVAL);
      } else {
        uint64_t m = 0;
        if (!read_obj(p, r.rdi, &m)) {
          *out = value(-L::EFAULT);
        } else {
          t.saved_mask = t.sigmask;
          t.has_saved_mask = true;
          t.sigmask = m & ~F::kUnblockable;
          *out = kBlock;
        }
      }
      return true;
    }
    case L::kPause: *out = kBlock; return true;
    case L::kSigaltstack: *out = sys_sigaltstack(t, r); return true;
    case L::kKill: *out = sys_kill(p, t, int64_t(int32_t(r.rdi)), int64_t(r.rsi)); return true;
    case L::kTkill: *out = sys_tkill(p, 0, int64_t(int32_t(r.rdi)), int64_t(r.rsi), false); return true;
    case L::kTgkill:
      *out = sys_tkill(p, int64_t(int32_t(r.rdi)), int64_t(int32_t(r.rsi)), int64_t(r.rdx), true);
      return true;
    case kRtSigqueueinfo: *out = sys_sigqueue(p, t, r, false); return true;
    case kRtTgsigqueueinfo: *out = sys_sigqueue(p, t, r, true); return true;
    case L::kSetitimer: *out = sys_setitimer(p, r.rdi, r.rsi, r.rdx); return true;
    case L::kGetitimer: {
      if (r.rdi > 2) {
        *out = value(-L::EINVAL);
      } else {
        int64_t cur[4] = {};
        itimer_now(p, r.rdi, cur);
        *out = value(write_user(p, r.rsi, cur, sizeof cur) ? 0 : -L::EFAULT);
      }
      return true;
    }
    case L::kAlarm: {
      const uint64_t now = keel::now_ns();
      const uint64_t left = p.itimer_ns > now ? (p.itimer_ns - now + 999'999'999) / 1'000'000'000 : 0;
      p.itimer_ns = r.rdi ? now + (r.rdi & 0xffffffff) * 1'000'000'000 : 0;
      p.itimer_interval_ns = 0;
      g_wake_stale = true;
      *out = value(int64_t(left));
      return true;
    }
    default: return false;
  }
}

void set_dispatching(Thread* t) { g_dispatching = t; }

// Is `addr` in a private file mapping, past the end of its file (mem.cc)?
bool past_end_of_file(Proc& p, uint64_t addr) {
  for (const Mapping& m : p.maps)
    if (m.used && m.vmo && m.vmo->past_eof && addr >= m.start && addr - m.start < m.len) {
      const uint64_t at = m.offset + (page_down(addr) - m.start);
      return m.vmo->past_eof == ~0ull || at >= m.vmo->past_eof;
    }
  return false;
}
Thread* dispatching_thread() { return g_dispatching; }

// A fault goes to the handler of its signal (a page fault: SIGSEGV; another
// exception: its signal, docs/kernel.md) if there is one and the signal is
// not blocked: the thread is suspended, the fault "retried" (it parks before
// running again), and its state at the fault gets the frame. Otherwise the
// reply kills the process (reap_dead_keel_processes reports the signal).
void signal_page_fault(uint64_t badge, const keel::IpcMessage& msg) {
  keel::IpcMessage m{};
  Proc* p = proc_by_pid(int(badge & 0xffff'ffff));
  // The message's last word is the faulting thread's syscall-handler badge
  // (kPagerLabelFault: 3 words for a page fault, 4 for another exception),
  // which names the Thread (thread_of_badge), if it is one of p's.
  const uint32_t words = keel::IpcTag::words(msg.tag);
  const bool fault = keel::IpcTag::label(msg.tag) == keel::kPagerLabelFault && (words == 3 || words == 4);
  Thread* t = fault ? thread_of_badge(msg.words[words - 1]) : nullptr;
  if (t && t->proc != p) t = nullptr;
  for (uint32_t i = 0; i < keel::IpcTag::handles(msg.tag) && i < keel::kIpcMaxHandles; ++i)
    sys::handle_close(msg.handles[i]);
  const uint64_t addr = msg.words[0], vector = words == 4 ? msg.words[2] : 14;
  int sig = L::SIGSEGV;
  F::Siginfo si;
  si.code = F::kSiKernel;
  switch (vector) {
    case 14:
      si.code = p && range_mapped(*p, page_down(addr), kPage) ? F::kSegvAccerr : F::kSegvMaperr;
      si.set64(16, addr);
      if (p && past_end_of_file(*p, addr)) sig = L::SIGBUS, si.code = 2 /*BUS_ADRERR*/;
      break;
    case 0: sig = L::SIGFPE, si.code = 1 /*FPE_INTDIV*/, si.set64(16, addr); break;
    case 16: case 19: sig = L::SIGFPE, si.code = 0, si.set64(16, addr); break;
    case 6: sig = L::SIGILL, si.code = 2 /*ILL_ILLOPN*/, si.set64(16, addr); break;
    case 1: case 3: sig = L::SIGTRAP, si.code = 0x80; break;
    case 17: sig = L::SIGBUS, si.code = 1 /*BUS_ADRALN*/, si.set64(16, addr); break;
    default: break;  // #GP, #OF, #BR: SIGSEGV, SI_KERNEL, si_addr 0
  }
  si.signo = sig;
  if (!fault || !p || p->zombie || !t || action_of(*p, sig) != Act::Handler || (blocked_of(*t) & bit(sig)) ||
      t->queued == Thread::kQueue || sys::thread_suspend(t->thread) != 0) {
    m.tag = keel::IpcTag::make(1, 0, 0, 0);  // not retried: the kernel kills the process
    (void)sys::ipc_reply(&m);
    // (the exit code names the vector, which reap_dead_keel_processes turns
    // into SIGSEGV for a page fault: SIGBUS is told here)
    if (fault && p && !p->zombie && sig == L::SIGBUS && vector == 14) end_process(*p, L::wait_signaled(sig));
    return;
  }
  m.tag = keel::IpcTag::make(0, 0, 0, 0);
  (void)sys::ipc_reply(&m);
  UserRegs r{};
  if (sys::thread_read_state(t->thread, &r) != 0) {
    end_process(*p, L::wait_signaled(sig));
    return;
  }
  for (int i = t->queued; i > 0; --i) t->queue[i] = t->queue[i - 1];  // first in line
  t->queue[0] = {sig, si};
  ++t->queued;
  if (!push_frame(*t, r, 0, vector, vector == 14 ? addr : 0)) return;
  (void)sys::thread_write_state(t->thread, &r);
  (void)sys::thread_resume(t->thread);
}

}  // namespace linux_srv
