// linux/time.cc — clocks, sleeps, CPU time (internal.h lists the files;
// docs/linux.md, Time, says what works).
//
// CPU time: the kernel does not count a thread's CPU time, so the server
// counts what it can see: the time a thread spends outside blocking calls,
// from when it is resumed into user code (cpu_resume) to its next syscall
// (cpu_enter). A thread that runs but waits for a CPU counts as running; a
// thread waiting in a blocking call does not. CLOCK_*_CPUTIME_ID, times,
// getrusage, wait4's rusage and ITIMER_VIRTUAL/ITIMER_PROF use it.
#include "internal.h"

namespace linux_srv {

namespace {

constexpr uint64_t kTai = 11;                 // CLOCK_TAI (the realtime clock here: no leap seconds kept)
constexpr uint64_t kTick = 10'000'000;        // clock_t: 100 Hz (AT_CLKTCK, sysconf(_SC_CLK_TCK))
constexpr uint64_t kTimerAbstime = 1;

bool valid_ts(const L::Timespec& ts) { return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1'000'000'000; }
uint64_t ts_ns(const L::Timespec& ts) { return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec); }

// The running part of t's CPU time: since it was resumed, if it runs.
uint64_t running_ns(const Thread& t, uint64_t now) { return t.resumed_ns && now > t.resumed_ns ? now - t.resumed_ns : 0; }

// nanosleep(req, rem), clock_nanosleep(clock, flags, req, rem): a sleep is
// kBlock with wake_ns; run again, it ends when the time has come. A signal
// ends it with EINTR and the time left in rem (signals.cc, interrupt_call).
// CLOCK_PROCESS_CPUTIME_ID: the deadline is on the process's CPU clock
// (t.cpu_wake_ns), which only its other threads can move; the sleeper looks
// every kCpuPoll ns (a sleep cut short by a signal reports that as the time
// left, not the CPU time).
constexpr uint64_t kCpuPoll = 10'000'000;

Result sys_sleep(Proc& p, Thread& t, const UserRegs& r, bool clock_form) {
  if (t.block == Block::Sleep && t.cpu_wake_ns) {
    if (proc_cpu_ns(p) >= t.cpu_wake_ns) return t.cpu_wake_ns = 0, value(0);
    if (keel::now_ns() >= t.wake_ns) t.wake_ns = keel::now_ns() + kCpuPoll;
    return kBlock;
  }
  if (t.block == Block::Sleep) return keel::now_ns() >= t.wake_ns ? value(0) : kBlock;  // run again: is it time?
  t.cpu_wake_ns = 0;
  const uint64_t clock = clock_form ? r.rdi : L::CLOCK_MONOTONIC;
  const bool abs = clock_form && (r.rsi & kTimerAbstime);
  switch (clock) {
    case L::CLOCK_REALTIME: case L::CLOCK_MONOTONIC: case L::CLOCK_BOOTTIME: case kTai: break;
    case L::CLOCK_PROCESS_CPUTIME_ID: break;
    case L::CLOCK_MONOTONIC_RAW: case L::CLOCK_REALTIME_COARSE: case L::CLOCK_MONOTONIC_COARSE:
      return value(-L::ENOTSUP);  // (Linux: these clocks cannot be slept on)
    default: return value(-L::EINVAL);  // unknown; the thread's CPU clock (EINVAL in Linux too)
  }
  L::Timespec ts;
  if (!read_obj(p, clock_form ? r.rdx : r.rdi, &ts)) return value(-L::EFAULT);
  if (!valid_ts(ts)) return value(-L::EINVAL);
  const uint64_t now = keel::now_ns();
  if (clock == L::CLOCK_PROCESS_CPUTIME_ID) {
    const uint64_t cpu = proc_cpu_ns(p), want = abs ? ts_ns(ts) : cpu + ts_ns(ts);
    if (want <= cpu) return value(0);
    t.cpu_wake_ns = want;
    t.wake_ns = now + kCpuPoll;
    t.block = Block::Sleep;
    return kBlock;
  }
  uint64_t ns = ts_ns(ts);
  if (abs) {  // a deadline on that clock
    const uint64_t base = clock == L::CLOCK_REALTIME || clock == kTai ? realtime_ns() : now;
    ns = ns > base ? ns - base : 0;
  }
  if (ns == 0) return value(0);
  t.wake_ns = now + ns;
  t.block = Block::Sleep;
  return kBlock;
}

Result sys_clock_settime(Proc& p, uint64_t clock, uint64_t addr) {
  L::Timespec ts;
  if (clock != L::CLOCK_REALTIME) return value(-L::EINVAL);  // (Linux: a clock that cannot be set is EINVAL too)
  if (!read_obj(p, addr, &ts)) return value(-L::EFAULT);
  if (!valid_ts(ts)) return value(-L::EINVAL);
  g_boot_realtime_ns = ts_ns(ts) - keel::now_ns();  // (everyone is root: allowed)
  return value(0);
}

Result sys_times(Proc& p, uint64_t addr) {
  if (addr) {
    const int64_t tms[4] = {int64_t(proc_cpu_ns(p) / kTick), 0, int64_t(p.child_cpu_ns / kTick), 0};
    if (!write_user(p, addr, tms, sizeof tms)) return value(-L::EFAULT);
  }
  return value(int64_t(keel::now_ns() / kTick));
}

// getrusage(who, usage): RUSAGE_SELF (0), RUSAGE_CHILDREN (-1), RUSAGE_THREAD
// (1); ru_utime is the CPU time, everything else 0.
Result sys_getrusage(Proc& p, Thread& t, int64_t who, uint64_t addr) {
  uint64_t ns = 0;
  switch (who) {
    case 0: ns = proc_cpu_ns(p); break;
    case -1: ns = p.child_cpu_ns; break;
    case 1: ns = thread_cpu_ns(t); break;
    default: return value(-L::EINVAL);
  }
  int64_t ru[18] = {};
  ru[0] = int64_t(ns / 1'000'000'000);
  ru[1] = int64_t(ns % 1'000'000'000 / 1000);
  return value(write_user(p, addr, ru, sizeof ru) ? 0 : -L::EFAULT);
}

}  // namespace

uint64_t realtime_ns() { return g_boot_realtime_ns + keel::now_ns(); }

void cpu_enter(Thread& t) {
  const uint64_t d = running_ns(t, keel::now_ns());
  t.cpu_ns += d;
  if (t.proc) t.proc->cpu_ns += d;
  t.resumed_ns = 0;
}

void cpu_resume(Thread& t) { t.resumed_ns = keel::now_ns(); }

uint64_t thread_cpu_ns(const Thread& t) { return t.cpu_ns + running_ns(t, keel::now_ns()); }

uint64_t proc_cpu_ns(const Proc& p) {
  const uint64_t now = keel::now_ns();
  uint64_t ns = p.cpu_ns;
  for (const Thread& t : g_threads)
    if (t.used && t.proc == &p) ns += running_ns(t, now);
  return ns;
}

Result sys_clock_gettime(Proc& p, Thread& t, uint64_t clock, uint64_t addr) {
  uint64_t ns = 0;
  switch (clock) {
    case L::CLOCK_REALTIME: case L::CLOCK_REALTIME_COARSE: case kTai: ns = realtime_ns(); break;
    case L::CLOCK_MONOTONIC: case L::CLOCK_MONOTONIC_RAW: case L::CLOCK_MONOTONIC_COARSE: case L::CLOCK_BOOTTIME:
      ns = keel::now_ns();
      break;
    case L::CLOCK_PROCESS_CPUTIME_ID: ns = proc_cpu_ns(p); break;
    case L::CLOCK_THREAD_CPUTIME_ID: ns = thread_cpu_ns(t); break;
    default: return value(-L::EINVAL);
  }
  L::Timespec ts{int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000)};
  if (!write_obj(p, addr, ts)) return value(-L::EFAULT);
  return value(0);
}

bool dispatch_time(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  switch (r.rax) {
    case L::kNanosleep: *out = sys_sleep(p, t, r, false); return true;
    case L::kClockNanosleep: *out = sys_sleep(p, t, r, true); return true;
    case L::kClockGettime: *out = sys_clock_gettime(p, t, r.rdi, r.rsi); return true;
    case L::kClockSettime: *out = sys_clock_settime(p, r.rdi, r.rsi); return true;
    case L::kClockGetres: {
      if (r.rdi > L::CLOCK_BOOTTIME && r.rdi != kTai) {
        *out = value(-L::EINVAL);
        return true;
      }
      const L::Timespec ts{0, 1};
      *out = value(r.rsi == 0 || write_obj(p, r.rsi, ts) ? 0 : -L::EFAULT);
      return true;
    }
    case L::kGettimeofday: {
      const uint64_t ns = realtime_ns();
      const int64_t tv[2] = {int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000 / 1000)};
      *out = value(r.rdi && !write_user(p, r.rdi, tv, sizeof tv) ? -L::EFAULT : 0);
      return true;
    }
    case L::kTime: {
      const int64_t s = int64_t(realtime_ns() / 1'000'000'000);
      *out = value(r.rdi && !write_obj(p, r.rdi, s) ? -L::EFAULT : s);
      return true;
    }
    case L::kTimes: *out = sys_times(p, r.rdi); return true;
    case L::kGetrusage: *out = sys_getrusage(p, t, int64_t(int32_t(r.rdi)), r.rsi); return true;
    default: return false;
  }
}

}  // namespace linux_srv
