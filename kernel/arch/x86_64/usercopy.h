// arch/x86_64/usercopy.h — typed, fault-safe access to user memory.
//
// Every syscall reads and writes user memory only through these. Each checks
// that [ptr, ptr + len) lies entirely in the user half (below kUserTop, no
// wrap-around) before touching it, and a fault that cannot be resolved
// returns Error::Fault instead of crashing the kernel.
#pragma once

#include <ktl/result.h>

#include <cstddef>
#include <cstdint>

namespace x86 {

// First address above the user half (the canonical hole starts here).
constexpr uint64_t kUserTop = 0x0000'8000'0000'0000;

// True if [addr, addr + len) is inside the user half. len 0 is always fine.
constexpr bool user_range_ok(uint64_t addr, uint64_t len) {
  return len == 0 || (addr < kUserTop && len <= kUserTop - addr);
}

}  // namespace x86

// usercopy.S: copies `n` bytes with fault recovery; 0, or -1 on a fault it
// could not resolve. Callers check the user range first.
extern "C" int64_t user_copy_raw(void* dst, const void* src, size_t n);

namespace x86 {

inline ktl::Result<void> copy_from_user(void* dst, uint64_t user_src, size_t len) {
  if (!user_range_ok(user_src, len)) return ktl::Error::Fault;
  if (len == 0) return ktl::ok();
  if (user_copy_raw(dst, reinterpret_cast<const void*>(user_src), len) != 0) return ktl::Error::Fault;
  return ktl::ok();
}

inline ktl::Result<void> copy_to_user(uint64_t user_dst, const void* src, size_t len) {
  if (!user_range_ok(user_dst, len)) return ktl::Error::Fault;
  if (len == 0) return ktl::ok();
  if (user_copy_raw(reinterpret_cast<void*>(user_dst), src, len) != 0) return ktl::Error::Fault;
  return ktl::ok();
}

template <typename T>
ktl::Result<T> read_user(uint64_t user_src) {
  T v;
  TRY(copy_from_user(&v, user_src, sizeof(T)));
  return v;
}
template <typename T>
ktl::Result<void> write_user(uint64_t user_dst, const T& v) {
  return copy_to_user(user_dst, &v, sizeof(T));
}

// Enables SMEP and SMAP on this CPU when it has them (CPUID.7.0:EBX[7], [20]).
void user_access_init_cpu();

// Page-fault hook: if `rip` is inside the user-copy instructions, returns the
// address to resume at (the fixup), else 0.
uint64_t user_access_fixup_for(uint64_t rip);

}  // namespace x86
