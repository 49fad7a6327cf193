// object/rights.h — the rights a handle carries, as a bit set.
//
// Rights can only be removed: duplicate, mint, replace and IPC transfer give
// a subset of the source handle's rights (see object/handle_table.h). Each
// syscall names the rights it needs on each handle argument and checks them
// with HandleTable::get() in the same step as the lookup.
#pragma once

#include <cstddef>
#include <cstdint>

namespace object {

using Rights = uint32_t;

inline constexpr Rights kRightNone = 0;
inline constexpr Rights kRightRead = 1u << 0;       // receive on endpoints, read memory
inline constexpr Rights kRightWrite = 1u << 1;      // send/call on endpoints, write memory
inline constexpr Rights kRightExecute = 1u << 2;    // map memory executable
inline constexpr Rights kRightMap = 1u << 3;        // map a memory object
inline constexpr Rights kRightDuplicate = 1u << 4;  // duplicate/mint the handle
inline constexpr Rights kRightTransfer = 1u << 5;   // send the handle in an IPC message
inline constexpr Rights kRightSignal = 1u << 6;     // raise notification bits
inline constexpr Rights kRightWait = 1u << 7;       // wait on the object
inline constexpr Rights kRightManage = 1u << 8;     // kill/suspend threads, set pagers, bind interrupts
inline constexpr Rights kRightAll = (1u << 9) - 1;  // every right defined above

// True if every right in `sub` is also in `super`.
constexpr bool rights_subset(Rights sub, Rights super) { return (sub & ~super) == 0; }

// Bytes rights_string() needs for any Rights value, the NUL included.
inline constexpr size_t kRightsStringSize = 11;

// Writes `rights` into `buf` as one letter per right in bit order, '-' where
// the right is missing: r w x p d t s W m (read, write, execute, map,
// duplicate, transfer, signal, Wait, manage), e.g. "rwx-dt--m"; a trailing
// '?' marks bits outside kRightAll. Truncates to `size` - 1 characters and
// always NUL-terminates when `size` > 0. Returns `buf`.
inline const char* rights_string(Rights rights, char* buf, size_t size) {
  if (size == 0) return buf;
  constexpr char kLetters[] = "rwxpdtsWm";
  size_t n = 0;
  for (size_t bit = 0; bit < sizeof(kLetters) - 1 && n + 1 < size; ++bit) {
    buf[n++] = (rights & (1u << bit)) ? kLetters[bit] : '-';
  }
  if ((rights & ~kRightAll) != 0 && n + 1 < size) buf[n++] = '?';
  buf[n] = '\0';
  return buf;
}

}  // namespace object
