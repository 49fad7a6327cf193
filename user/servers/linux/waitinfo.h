// linux/waitinfo.h — the pure rules of waiting for children (wait4(2),
// waitid(2)) and of interval timers (setitimer(2)) in the Linux personality
// server: which children a wait sees, what it reports, which options are
// valid, when a timer fires. No Keel calls: tested on the host
// (waitinfo_test.cc); threads.cc and signals.cc apply them.
#pragma once

#include <cstdint>

namespace linux_wait {

// Option bits (include/uapi/linux/wait.h).
inline constexpr uint64_t kWNohang = 1, kWStopped = 2 /* = WUNTRACED */, kWExited = 4, kWContinued = 8,
                          kWNowait = 0x0100'0000, kWNothread = 0x2000'0000, kWAll = 0x4000'0000,
                          kWClone = 0x8000'0000;
// waitid's idtype.
inline constexpr uint64_t kPAll = 0, kPPid = 1, kPPgid = 2;
// siginfo si_code of SIGCHLD (CLD_*).
inline constexpr int kCldExited = 1, kCldKilled = 2, kCldStopped = 5, kCldContinued = 6;
inline constexpr int kSigchld = 17, kSigcont = 18;
inline constexpr int kEinval = 22;

// Linux's eligible_child: a "clone child" (its exit signal is not SIGCHLD)
// is seen only with __WCLONE, the others only without; __WALL sees both.
constexpr bool eligible(int exit_signal, uint64_t options) {
  return (options & kWAll) || ((exit_signal != kSigchld) == bool(options & kWClone));
}

// wait4's options: 0 if valid, else -EINVAL. (wait4 always waits for exits.)
constexpr int check_wait4(uint64_t options) {
  return options & ~(kWNohang | kWStopped | kWContinued | kWNothread | kWAll | kWClone) ? -kEinval : 0;
}

// waitid's idtype, id and options: 0 if valid, else -EINVAL (P_PIDFD too:
// there are no pidfds).
constexpr int check_waitid(uint64_t idtype, int64_t id, uint64_t options) {
  if (options & ~(kWNohang | kWStopped | kWExited | kWContinued | kWNowait | kWNothread | kWAll | kWClone))
    return -kEinval;
  if (!(options & (kWStopped | kWExited | kWContinued))) return -kEinval;
  if (idtype != kPAll && idtype != kPPid && idtype != kPPgid) return -kEinval;
  if ((idtype == kPPid && id <= 0) || (idtype == kPPgid && id < 0)) return -kEinval;
  return 0;
}

// What a wait reports about one child: siginfo's si_code and si_status,
// and wait4's status word.
struct Report {
  int code = 0, status = 0;
  uint32_t wstatus = 0;
};

// A child that ended with wait status `ws` (exited: code << 8; killed: the signal).
constexpr Report ended(uint32_t ws) {
  const bool exited = (ws & 0x7f) == 0;
  return {exited ? kCldExited : kCldKilled, exited ? int((ws >> 8) & 0xff) : int(ws & 0x7f), ws};
}
constexpr Report stopped(int sig) { return {kCldStopped, sig, uint32_t(sig) << 8 | 0x7f}; }
constexpr Report continued() { return {kCldContinued, kSigcont, 0xffff}; }

}  // namespace linux_wait

namespace linux_itimer {

// A timer whose next expiry is `at` (0: off) with period `interval` (0:
// one-shot), on a clock that reads `now`: true if it has expired, and then
// it is moved on by whole periods (at least to past `now`), or turned off.
constexpr bool expire(uint64_t& at, uint64_t interval, uint64_t now) {
  if (at == 0 || now < at) return false;
  if (interval) {
    at += interval;
    if (at <= now) at = now + interval;
  } else {
    at = 0;
  }
  return true;
}

// What getitimer shows as the time left: an expired timer not yet moved on
// shows 1 us, as Linux does.
constexpr uint64_t left(uint64_t at, uint64_t now) { return at > now ? at - now : at ? 1000 : 0; }

}  // namespace linux_itimer
