// linux/ids.h — the rules of Linux's user and group id calls (setuid(2),
// setreuid(2), setresuid(2) and their gid forms; credentials(7)) on a
// process's real, effective and saved ids. Pure logic, tested on the host
// (ids_test.cc); process.cc does the syscalls. `root`: the caller's
// effective uid is 0 (CAP_SETUID/CAP_SETGID), which may set any id.
//
// Errors are negative Linux errno values.
#pragma once

#include <cstdint>

namespace linux_ids {

inline constexpr int64_t kEPERM = 1, kEINVAL = 22;

inline constexpr uint32_t kKeep = 0xffff'ffff;  // -1: leave this id as it is

// setuid/setgid (`ids` the real, effective, saved uids or gids; `root`: the
// caller's euid is 0, which may set anything): root sets all three, others
// only the effective id, to their real or saved one (setuid(2)).
inline int64_t set_one(uint32_t (&ids)[3], uint32_t v, bool root) {
  if (v == kKeep) return -kEINVAL;
  if (root) {
    ids[0] = ids[1] = ids[2] = v;
    return 0;
  }
  if (v != ids[0] && v != ids[2]) return -kEPERM;
  ids[1] = v;
  return 0;
}

inline bool one_of(uint32_t v, const uint32_t (&ids)[3]) { return v == ids[0] || v == ids[1] || v == ids[2]; }

// setresuid/setresgid: each of real, effective, saved (-1: kept) must be one
// of the current three unless root.
inline int64_t set_res(uint32_t (&ids)[3], uint32_t r, uint32_t e, uint32_t s, bool root) {
  if (!root && ((r != kKeep && !one_of(r, ids)) || (e != kKeep && !one_of(e, ids)) || (s != kKeep && !one_of(s, ids))))
    return -kEPERM;
  if (r != kKeep) ids[0] = r;
  if (e != kKeep) ids[1] = e;
  if (s != kKeep) ids[2] = s;
  return 0;
}

// setreuid/setregid: the real id may become the real or effective one, the
// effective id any of the three (root: anything); the saved id follows the
// new effective one when the real id is set or the effective one moves away
// from the real one.
inline int64_t set_re(uint32_t (&ids)[3], uint32_t r, uint32_t e, bool root) {
  if (!root && ((r != kKeep && r != ids[0] && r != ids[1]) || (e != kKeep && !one_of(e, ids)))) return -kEPERM;
  const uint32_t old_real = ids[0];
  if (r != kKeep) ids[0] = r;
  if (e != kKeep) ids[1] = e;
  if (r != kKeep || (e != kKeep && e != old_real)) ids[2] = ids[1];
  return 0;
}

}  // namespace linux_ids
