// linux/vmcheck.h — the argument checks and decisions of the Linux memory and
// wait syscalls that need no Keel call: mremap's and madvise's validation
// (mremap(2), madvise(2)) and whether an mmap hint is taken as it is
// (mmap(2)). Pure logic, tested on the host (vmcheck_test.cc); mem.cc does
// the syscalls.
//
// Errors are negative Linux errno values (the numbers of asm-generic/errno).
#pragma once

#include <cstdint>

namespace linux_vmcheck {

inline constexpr int64_t kEFAULT = 14, kEINVAL = 22, kENOMEM = 12;
inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kUserTop = 0x7fff'ffff'f000;  // the end of what mmap may hand out
inline constexpr uint64_t kMinAddr = 0x10000;            // vm.mmap_min_addr's usual 64 KiB

inline constexpr uint64_t kMremapMaymove = 1, kMremapFixed = 2, kMremapDontunmap = 4;

inline uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

// mremap(old, old_len, new_len, flags, new_addr): 0 if the call may go on,
// else -errno. Linux's order: unknown flags, MREMAP_FIXED without MAYMOVE,
// DONTUNMAP without MAYMOVE or with a size change (EINVAL); an unaligned
// address (EINVAL); new_len 0 or a length that overflows when rounded (EINVAL);
// a MREMAP_FIXED destination that is unaligned or overlaps the source (EINVAL).
inline int64_t mremap_check(uint64_t old_addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr) {
  if (flags & ~(kMremapMaymove | kMremapFixed | kMremapDontunmap)) return -kEINVAL;
  if ((flags & kMremapFixed) && !(flags & kMremapMaymove)) return -kEINVAL;
  if ((flags & kMremapDontunmap) && (!(flags & kMremapMaymove) || old_len != new_len)) return -kEINVAL;
  if (old_addr & (kPage - 1)) return -kEINVAL;
  const uint64_t os = page_up(old_len), ns = page_up(new_len);
  if (ns == 0 || os < old_len || ns < new_len) return -kEINVAL;
  if (old_addr + os < old_addr || old_addr + os > kUserTop) return -kEFAULT;
  if (flags & kMremapFixed) {
    if (new_addr & (kPage - 1)) return -kEINVAL;
    if (new_addr + ns < new_addr || new_addr + ns > kUserTop) return -kEINVAL;
    if (new_addr < old_addr + os && old_addr < new_addr + ns) return -kEINVAL;  // overlap
  }
  return 0;
}

// What madvise's `advice` asks of the server.
enum class Advice { Invalid, Hint, DontNeed, Free };

// madvise(2)'s advice numbers (asm-generic/mman-common.h): the ones Linux
// takes on anonymous and file memory (MADV_REMOVE, 9, needs shared memory
// that can punch holes, and MADV_HWPOISON is for root's testing: EINVAL). A hint changes nothing here;
// MADV_DONTNEED (4) makes private memory read as zero again; MADV_FREE (8)
// lets the kernel do so lazily (here: nothing, the contents stay, which
// Linux allows until memory is short).
inline Advice classify_advice(uint64_t advice) {
  switch (advice) {
    case 0: case 1: case 2: case 3:  // NORMAL RANDOM SEQUENTIAL WILLNEED
    case 10: case 11: case 12: case 13:  // DONTFORK DOFORK MERGEABLE UNMERGEABLE
    case 14: case 15: case 16: case 17: case 18: case 19:  // HUGEPAGE NOHUGEPAGE DONTDUMP DODUMP WIPEONFORK KEEPONFORK
    case 20: case 21: case 22: case 23: case 25:  // COLD PAGEOUT POPULATE_READ POPULATE_WRITE COLLAPSE
      return Advice::Hint;
    case 4: return Advice::DontNeed;
    case 8: return Advice::Free;
    default: return Advice::Invalid;
  }
}

// madvise(addr, len, advice): 0 to go on (then ENOMEM if the range is not
// all mapped), 1 for "nothing to do" (len rounds to 0), else -errno.
inline int64_t madvise_check(uint64_t addr, uint64_t len, uint64_t advice) {
  if (addr & (kPage - 1)) return -kEINVAL;
  if (classify_advice(advice) == Advice::Invalid) return -kEINVAL;
  const uint64_t size = page_up(len);
  if (size < len) return -kEINVAL;
  if (size == 0) return 1;
  if (addr + size < addr || addr + size > kUserTop + kPage) return -kENOMEM;
  return 0;
}

// Whether an mmap hint (no MAP_FIXED) may be used as it is: page-aligned,
// at or above mmap_min_addr, the whole range below the user top. The caller
// also checks that the range is free.
inline bool hint_usable(uint64_t hint, uint64_t size) {
  return hint != 0 && !(hint & (kPage - 1)) && hint >= kMinAddr && hint + size > hint && hint + size <= kUserTop;
}

}  // namespace linux_vmcheck
