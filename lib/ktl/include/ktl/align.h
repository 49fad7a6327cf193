// ktl/align.h — alignment and overflow-checked arithmetic on sizes and addresses.
#pragma once

#include <cstdint>

namespace ktl {

// `a` must be a power of two.
constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
constexpr bool is_aligned(uint64_t v, uint64_t a) { return (v & (a - 1)) == 0; }
constexpr bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

// Rounds `v` up to a multiple of `a` (a power of two). Returns false and leaves
// `out` untouched if the result would overflow.
constexpr bool align_up(uint64_t v, uint64_t a, uint64_t& out) {
  uint64_t r = (v + (a - 1)) & ~(a - 1);
  if (r < v) return false;
  out = r;
  return true;
}
// Unchecked form, for values known to be far from the top of the range.
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + (a - 1)) & ~(a - 1); }

// Returns false on overflow.
constexpr bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }
constexpr bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

}  // namespace ktl
