// linux/threads.cc — threads (clone with CLONE_VM|CLONE_THREAD), their exit,
// vfork, futexes, the robust list, waiting for children (wait4, waitid)
// (internal.h lists the files; docs/linux.md, Threads, says what works).
#include "futex.h"
#include "internal.h"
#include "waitinfo.h"

#include <climits>

namespace linux_srv {
namespace {

constexpr uint64_t kCloneNewns = 0x20000, kCloneSysvsem = 0x40000;
constexpr uint32_t kFutexWait = 0, kFutexWake = 1, kFutexRequeue = 3, kFutexCmpRequeue = 4, kFutexWaitBitset = 9,
                   kFutexWakeBitset = 10, kFutexPrivate = 128, kFutexClockRealtime = 256;

linux_futex::Table<kMaxThreads> g_futex;

size_t slot_of(const Thread& t) { return size_t(&t - g_threads); }

// The futex key of the word at `addr` of `p`: (memory object, offset) in a
// MAP_SHARED mapping unless the futex is private, else (pid, address).
linux_futex::Key futex_key(Proc& p, uint64_t addr, bool priv) {
  if (!priv)
    for (const Mapping& m : p.maps)
      if (m.used && m.shared && m.vmo && addr >= m.start && addr - m.start < m.len)
        return {uint64_t(reinterpret_cast<uintptr_t>(m.vmo)) | 1ull << 63, m.offset + (addr - m.start)};
  return {uint64_t(p.pid), addr};
}

// Completes the FUTEX_WAIT of the thread in `slot` with 0; false if it no
// longer waits (it ended, or its wait timed out).
bool wake_slot(size_t slot) {
  Thread& w = g_threads[slot];
  if (!w.used || w.block != Block::Futex) return false;
  w.block = Block::None;
  w.wake_ns = 0;
  complete(w, 0);
  return true;
}

// The deadline (monotonic ns, 0 = none) of a futex wait's timeout argument.
int64_t futex_deadline(Proc& p, uint32_t cmd, bool realtime, uint64_t addr, uint64_t* out) {
  *out = 0;
  if (addr == 0) return 0;
  L::Timespec ts;
  if (!read_obj(p, addr, &ts)) return -L::EFAULT;
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return -L::EINVAL;
  const uint64_t ns = uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
  const uint64_t now = keel::now_ns();
  if (cmd == kFutexWait) {  // relative, on the monotonic clock
    *out = now + ns;
  } else {  // FUTEX_WAIT_BITSET: absolute, CLOCK_MONOTONIC or (FUTEX_CLOCK_REALTIME) CLOCK_REALTIME
    const uint64_t base = realtime ? realtime_ns() : now;
    *out = ns > base ? now + (ns - base) : now;
  }
  if (*out == 0) *out = 1;
  return 0;
}

Result sys_futex(Thread& t, const UserRegs& r) {
  Proc& p = *t.proc;
  const uint64_t addr = r.rdi;
  const uint32_t op = uint32_t(r.rsi), cmd = op & ~(kFutexPrivate | kFutexClockRealtime);
  const bool priv = op & kFutexPrivate, realtime = op & kFutexClockRealtime;
  const int32_t val = int32_t(r.rdx);
  if (t.block == Block::Futex) {  // run again: still waiting; has the timeout passed?
    if (t.wake_ns && keel::now_ns() >= t.wake_ns) {
      g_futex.cancel(slot_of(t));
      t.wake_ns = 0;
      return value(-L::ETIMEDOUT);
    }
    return kBlock;
  }
  if (realtime && cmd != kFutexWait && cmd != kFutexWaitBitset) return value(-L::ENOSYS);
  switch (cmd) {
    case kFutexWait: case kFutexWaitBitset: {
      const uint32_t bitset = cmd == kFutexWait ? ~0u : uint32_t(r.r9);
      if ((addr & 3) || bitset == 0) return value(-L::EINVAL);
      uint64_t deadline = 0;
      if (int64_t e = futex_deadline(p, cmd, realtime, r.r10, &deadline); e < 0) return value(e);
      int32_t word = 0;
      if (!read_obj(p, addr, &word)) return value(-L::EFAULT);
      if (word != val) return value(-L::EAGAIN);
      if (deadline && keel::now_ns() >= deadline) return value(-L::ETIMEDOUT);
      g_futex.wait(slot_of(t), futex_key(p, addr, priv), bitset);
      t.block = Block::Futex;
      t.wake_ns = deadline;
      return kBlock;
    }
    case kFutexWake: case kFutexWakeBitset: {
      const uint32_t bitset = cmd == kFutexWake ? ~0u : uint32_t(r.r9);
      if ((addr & 3) || bitset == 0) return value(-L::EINVAL);
      if (val <= 0) return value(0);
      return value(g_futex.wake(futex_key(p, addr, priv), val, bitset, wake_slot));
    }
    case kFutexRequeue: case kFutexCmpRequeue: {
      const int64_t nmove = int64_t(int32_t(r.r10));  // (val2: the timeout argument's register)
      const uint64_t addr2 = r.r8;
      if ((addr & 3) || (addr2 & 3) || val < 0 || nmove < 0) return value(-L::EINVAL);
      if (cmd == kFutexCmpRequeue) {
        int32_t word = 0;
        if (!read_obj(p, addr, &word)) return value(-L::EFAULT);
        if (word != int32_t(r.r9)) return value(-L::EAGAIN);
      }
      return value(g_futex.requeue(futex_key(p, addr, priv), futex_key(p, addr2, priv), val, int(nmove), wake_slot));
    }
    default: return value(-L::ENOSYS);
  }
}

int thread_count(const Proc& p) {
  int n = 0;
  for (const Thread& t : g_threads)
    if (t.used && t.proc == &p) ++n;
  return n;
}

// clone(2) with CLONE_VM|CLONE_THREAD: a new Keel thread in the same Keel
// process, with the caller's registers but rax 0, the new stack and TLS.
Result clone_thread(Thread& t, const UserRegs& r) {
  Proc& p = *t.proc;
  const uint64_t flags = r.rdi;
  Thread* ct = new_thread(&p, g_next_pid);
  if (!ct) return value(-L::EAGAIN);
  ++g_next_pid;
  ct->sigmask = t.sigmask;  // a new thread starts with its creator's signal mask
  UserRegs cr = r;
  cr.rax = 0;
  if (r.rsi) cr.rsp = r.rsi;
  if (flags & L::CLONE_SETTLS) {
    if (r.r8 >= 0x8000'0000'0000) {
      *ct = Thread{};
      return value(-L::EPERM);
    }
    cr.fs_base = r.r8;
  }
  const int32_t tid = ct->tid;
  if (((flags & L::CLONE_PARENT_SETTID) && !write_obj(p, r.rdx, tid)) ||
      ((flags & L::CLONE_CHILD_SETTID) && !write_obj(p, r.r10, tid))) {
    *ct = Thread{};
    return value(-L::EFAULT);
  }
  if (flags & L::CLONE_CHILD_CLEARTID) ct->clear_child_tid = r.r10;
  if (int64_t e = start_linux_thread(p, *ct, cr); e < 0) {
    *ct = Thread{};
    return value(e);
  }
  return value(tid);
}

// fork, vfork, and clone without CLONE_VM (with CLONE_VFORK, a vfork).
Result clone_process(Thread& t, const UserRegs& r, uint64_t flags, bool vfork) {
  Proc& p = *t.proc;
  if (t.block == Block::Vfork) {  // run again: has the child let go?
    Proc* c = proc_by_pid(t.vfork_child);
    if (c && !c->zombie && c->vfork_parent == t.tid) return kBlock;
    const int pid = t.vfork_child;
    t.vfork_child = 0;
    return value(pid);
  }
  UserRegs cr = r;
  if (r.rax == L::kClone && r.rsi) cr.rsp = r.rsi;
  Result res = sys_fork(p, t, cr);
  if (res.kind != Out::Value || res.value <= 0) return res;
  Proc* c = proc_by_pid(int(res.value));
  if (!c) return res;
  if (r.rax == L::kClone) {
    c->exit_signal = int(flags & L::CSIGNAL);  // (0: the parent is not told; a "clone child" for wait)
    if (flags & L::CLONE_PARENT_SETTID) (void)write_obj(p, r.rdx, int32_t(res.value));
    if (flags & L::CLONE_CHILD_SETTID) (void)write_obj(*c, r.r10, int32_t(res.value));
    if (flags & L::CLONE_CHILD_CLEARTID)
      if (Thread* ct = thread_by_tid(uint64_t(res.value))) ct->clear_child_tid = r.r10;
  }
  if (!vfork) return res;
  c->vfork_parent = t.tid;
  t.vfork_child = c->pid;
  t.block = Block::Vfork;
  return kBlock;
}

// ---------------------------------------------------------------- waiting for children

using namespace linux_wait;

// What a wait reports about one child (waitinfo.h).
struct ChildEvent {
  Proc* child = nullptr;
  Report report;
};

// Looks through the children of `p` that `match` selects for what `options`
// (kWExited, kWStopped, kWContinued) asks to hear about. 1: found (*ev),
// 0: a child matched but has nothing to report, -ECHILD: no child matched.
template <typename M>
int find_child_event(Proc& p, uint64_t options, M&& match, ChildEvent* ev) {
  bool any = false;
  for (Proc& c : g_procs) {
    if (!c.used || c.ppid != p.pid || !match(c) || !eligible(c.exit_signal, options)) continue;
    any = true;
    if (c.zombie) {
      if (!(options & kWExited)) continue;
      *ev = {&c, ended(c.wait_status)};
      return 1;
    }
    if (c.stop_report > 0 && (options & kWStopped)) {
      *ev = {&c, stopped(c.stop_report)};
      return 1;
    }
    if (c.stop_report < 0 && (options & kWContinued)) {
      *ev = {&c, continued()};
      return 1;
    }
  }
  return any ? 0 : -L::ECHILD;
}

// The event has been reported (not with WNOWAIT): a stop or continue is
// forgotten, a zombie reaped (its CPU time goes to the parent's children's).
void consume(Proc& p, ChildEvent& ev) {
  Proc& c = *ev.child;
  if (!c.zombie) {
    c.stop_report = 0;
    return;
  }
  p.child_cpu_ns += c.cpu_ns + c.child_cpu_ns;
  c = Proc{};
}

// A struct rusage (144 bytes) with ru_utime the given CPU time.
bool put_rusage(Proc& p, uint64_t addr, uint64_t cpu_ns) {
  int64_t ru[18] = {};
  ru[0] = int64_t(cpu_ns / 1'000'000'000);
  ru[1] = int64_t(cpu_ns % 1'000'000'000 / 1000);
  return write_user(p, addr, ru, sizeof ru);
}

Result sys_wait4(Proc& p, const UserRegs& r) {
  const int64_t pid = int64_t(int32_t(r.rdi));
  const uint64_t status_addr = r.rsi, options = uint32_t(r.rdx);  // (an int: __WCLONE is its sign bit)
  if (int e = check_wait4(options)) return value(e);
  if (pid == INT32_MIN) return value(-L::ESRCH);
  ChildEvent ev;
  const int found = find_child_event(p, options | kWExited, [&](const Proc& c) {
    return pid > 0 ? c.pid == pid : pid == 0 ? c.pgid == p.pgid : pid < -1 ? c.pgid == -pid : true;
  }, &ev);
  if (found < 0) return value(found);
  if (found == 0) return options & L::WNOHANG ? value(0) : kBlock;
  if (status_addr && !write_obj(p, status_addr, ev.report.wstatus)) return value(-L::EFAULT);
  if (r.r10 && !put_rusage(p, r.r10, ev.child->zombie ? ev.child->cpu_ns : 0)) return value(-L::EFAULT);
  const int cpid = ev.child->pid;
  consume(p, ev);
  return value(cpid);
}

// waitid(idtype, id, infop, options, rusage): P_ALL, P_PID, P_PGID (id 0:
// the caller's group); WEXITED, WSTOPPED, WCONTINUED, WNOHANG, WNOWAIT.
// infop gets si_signo SIGCHLD, si_code CLD_*, si_pid, si_uid 0, si_status;
// all 0 when WNOHANG finds nothing to report.
Result sys_waitid(Proc& p, const UserRegs& r) {
  const uint64_t idtype = uint32_t(r.rdi), infop = r.rdx, options = uint32_t(r.r10);
  const int64_t id = int64_t(int32_t(r.rsi));
  if (int e = check_waitid(idtype, id, options)) return value(e);
  const int64_t group = idtype == kPPgid && id == 0 ? p.pgid : id;
  ChildEvent ev;
  const int found = find_child_event(p, options, [&](const Proc& c) {
    return idtype == kPPid ? c.pid == id : idtype == kPPgid ? c.pgid == group : true;
  }, &ev);
  if (found < 0) return value(found);
  if (found == 0 && !(options & L::WNOHANG)) return kBlock;
  if (infop) {  // the fields Linux writes (signo, errno, code, pid, uid, status), no others
    const int32_t fields[3] = {found ? L::SIGCHLD : 0, 0, found ? ev.report.code : 0};
    const int32_t who[3] = {found ? ev.child->pid : 0, 0, found ? ev.report.status : 0};
    if (!write_user(p, infop, fields, sizeof fields) || !write_user(p, infop + 16, who, sizeof who))
      return value(-L::EFAULT);
  }
  if (r.r8 && !put_rusage(p, r.r8, found && ev.child->zombie ? ev.child->cpu_ns : 0)) return value(-L::EFAULT);
  if (found && !(options & kWNowait)) consume(p, ev);
  return value(0);
}

Result sys_clone(Thread& t, const UserRegs& r) {
  const uint64_t flags = r.rdi;
  // copy_process's checks (clone(2), EINVAL).
  if ((flags & (kCloneNewns | L::CLONE_FS)) == (kCloneNewns | L::CLONE_FS)) return value(-L::EINVAL);
  if ((flags & L::CLONE_THREAD) && !(flags & L::CLONE_SIGHAND)) return value(-L::EINVAL);
  if ((flags & L::CLONE_SIGHAND) && !(flags & L::CLONE_VM)) return value(-L::EINVAL);
  if (t.block == Block::Vfork) return clone_process(t, r, flags, true);
  if (flags & L::CLONE_THREAD) return clone_thread(t, r);
  if (flags & L::CLONE_VM) {
    // A process sharing the caller's memory: only as vfork (posix_spawn),
    // whose child gets a copy (docs/linux.md, Threads).
    if (!(flags & L::CLONE_VFORK)) return value(-L::ENOSYS);
  }
  if ((flags & L::CSIGNAL) > linux_sigframe::kMaxSig) return value(-L::EINVAL);
  (void)kCloneSysvsem;
  return clone_process(t, r, flags, flags & L::CLONE_VFORK);
}

// The robust futexes a dying thread holds get FUTEX_OWNER_DIED, a waiter
// of each is woken (futex.h). (A thread that pthread_exits has done this in
// user space already; this is for one that ends otherwise.)
void robust_list_death(Proc& p, const Thread& t) {
  if (!t.robust_list) return;
  struct Mem {
    Proc& p;
    bool read64(uint64_t a, uint64_t* v) { return read_obj(p, a, v); }
    bool read32(uint64_t a, uint32_t* v) { return read_obj(p, a, v); }
    bool write32(uint64_t a, uint32_t v) { return write_obj(p, a, v); }
  } mem{p};
  (void)linux_futex::walk_robust_list(mem, t.robust_list, uint32_t(t.tid), [&](uint64_t addr) {
    (void)g_futex.wake(futex_key(p, addr, false), 1, ~0u, wake_slot);
  });
}

// exit(2): ends the calling thread; the last one ends the process.
Result sys_thread_exit(Thread& t, int code) {
  Proc& p = *t.proc;
  if (thread_count(p) <= 1) {
    robust_list_death(p, t);  // (a robust mutex in shared memory outlives the process)
    end_process(p, L::wait_exited(code));
    return kGone;
  }
  robust_list_death(p, t);
  if (t.clear_child_tid) {  // CLONE_CHILD_CLEARTID / set_tid_address: 0, and a wake
    if (write_obj(p, t.clear_child_tid, int32_t(0)))
      (void)g_futex.wake(futex_key(p, t.clear_child_tid, false), 1, ~0u, wake_slot);
  }
  keel::IpcMessage m{};
  m.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
  (void)sys::ipc_reply(&m);
  (void)sys::thread_kill(t.thread);
  sys::handle_close(t.thread);
  g_futex.cancel(slot_of(t));
  t = Thread{};
  return {Out::Gone, 1};
}

}  // namespace

void vfork_release(Proc& c) {
  if (c.vfork_parent == 0) return;
  c.vfork_parent = 0;
  retry_blocked(Block::Vfork);
}

void end_other_threads(Proc& p, Thread& keep) {
  for (Thread& o : g_threads)
    if (o.used && o.proc == &p && &o != &keep) {
      if (o.thread != kInvalidHandle) {
        (void)sys::thread_kill(o.thread);
        sys::handle_close(o.thread);
      }
      g_futex.cancel(slot_of(o));
      o = Thread{};
    }
}

bool dispatch_threads(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  switch (r.rax) {
    case L::kFutex: *out = sys_futex(t, r); return true;
    case L::kWait4: *out = sys_wait4(p, r); return true;
    case L::kWaitid: *out = sys_waitid(p, r); return true;
    case L::kClone: *out = sys_clone(t, r); return true;
    case L::kFork: *out = clone_process(t, r, L::SIGCHLD, false); return true;
    case L::kVfork: *out = clone_process(t, r, L::SIGCHLD, true); return true;
    case L::kExit: *out = sys_thread_exit(t, int(r.rdi)); return true;
    case L::kSetRobustList:
      if (r.rsi != 24) {
        *out = value(-L::EINVAL);
        return true;
      }
      t.robust_list = r.rdi, t.robust_len = r.rsi;
      *out = value(0);
      return true;
    case L::kGetRobustList: {
      const Thread* who = r.rdi == 0 ? &t : thread_by_tid(r.rdi);
      if (!who || who->proc != &p) {
        *out = value(-L::ESRCH);
        return true;
      }
      const uint64_t len = 24;
      *out = value(write_obj(p, r.rsi, who->robust_list) && write_obj(p, r.rdx, len) ? 0 : -L::EFAULT);
      return true;
    }
    default: return false;
  }
}

// exit_group(2): every thread's robust list, as each thread's exit would.
void robust_lists_death(Proc& p) {
  for (size_t i = 0; i < g_threads_used_end; ++i)
    if (g_threads[i].used && g_threads[i].proc == &p) robust_list_death(p, g_threads[i]);
}

}  // namespace linux_srv
