// ktl/bytes.h — bounds-checked reads of little-endian values from untrusted bytes.
//
// Every parser of outside input (multiboot2, ACPI, ELF, cpio, disk images) reads
// through these helpers, so a truncated or lying length becomes Error::Truncated
// instead of an out-of-bounds read.
#pragma once

#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace ktl {

using Bytes = std::span<const uint8_t>;

// Reads a trivially copyable T at byte offset `off` (no alignment needed).
// Error::Truncated if [off, off + sizeof(T)) is not inside `b`.
template <typename T>
Result<T> load(Bytes b, size_t off) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (off > b.size() || b.size() - off < sizeof(T)) return Error::Truncated;
  T v;
  __builtin_memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// Returns the sub-span [off, off + len) or Error::Truncated.
inline Result<Bytes> slice(Bytes b, size_t off, size_t len) {
  if (off > b.size() || b.size() - off < len) return Error::Truncated;
  return b.subspan(off, len);
}

// Sum of all bytes modulo 256 (ACPI checksums must be 0).
inline uint8_t byte_sum(Bytes b) {
  uint8_t s = 0;
  for (uint8_t c : b) s = uint8_t(s + c);
  return s;
}

}  // namespace ktl
