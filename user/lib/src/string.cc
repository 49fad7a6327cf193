// string.cc — the C memory functions the compiler may emit calls to in
// libkeel's programs (the kernel has its own copy: kernel/lib/string.cc).
// Host-tested (tests/host: string_test) under other names.
#include <cstddef>
#include <cstdint>

extern "C" {

// String instructions (in asm, so no idiom recognition can turn them back
// into calls to themselves): whole quadwords, then the 0-7 bytes left. Under
// QEMU's -icount each `rep` iteration counts as one instruction, so moving
// quadwords is ~8x cheaper there than bytes (docs/performance.md).
void* memcpy(void* d, const void* s, size_t n) {
  void* ret = d;
  size_t q = n >> 3;
  asm volatile("rep movsq\n\tmov %3, %%rcx\n\trep movsb"
               : "+D"(d), "+S"(s), "+c"(q)
               : "r"(n & 7)
               : "memory");
  return ret;
}
void* memset(void* d, int c, size_t n) {
  void* ret = d;
  size_t q = n >> 3;
  const uint64_t pattern = uint64_t(static_cast<unsigned char>(c)) * 0x0101010101010101ull;
  asm volatile("rep stosq\n\tmov %3, %%rcx\n\trep stosb"
               : "+D"(d), "+c"(q)
               : "a"(pattern), "r"(n & 7)
               : "memory");
  return ret;
}
void* memmove(void* d, const void* s, size_t n) {
  const auto dv = reinterpret_cast<uintptr_t>(d), sv = reinterpret_cast<uintptr_t>(s);
  if (dv <= sv || dv >= sv + n) return memcpy(d, s, n);
  // Overlapping with d above s: backwards, the last 0-7 bytes first, then
  // the quadwords from the top down.
  void* d_end = reinterpret_cast<void*>(dv + n - 1);
  const void* s_end = reinterpret_cast<const void*>(sv + n - 1);
  size_t b = n & 7;
  asm volatile("std\n\trep movsb\n\tsub $7, %%rsi\n\tsub $7, %%rdi\n\tmov %3, %%rcx\n\trep movsq\n\tcld"
               : "+D"(d_end), "+S"(s_end), "+c"(b)
               : "r"(n >> 3)
               : "memory");
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (; n >= 8; x += 8, y += 8, n -= 8) {
    uint64_t u, v;
    __builtin_memcpy(&u, x, 8);
    __builtin_memcpy(&v, y, 8);
    if (u != v) return __builtin_bswap64(u) < __builtin_bswap64(v) ? -1 : 1;  // (the first byte is the most significant)
  }
  auto* xv = static_cast<const volatile unsigned char*>(x);
  auto* yv = static_cast<const volatile unsigned char*>(y);
  for (size_t i = 0; i < n; ++i)
    if (xv[i] != yv[i]) return xv[i] < yv[i] ? -1 : 1;
  return 0;
}
void* memchr(const void* s, int c, size_t n) {
  auto* p = static_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n; ++i)
    if (p[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p + i);
  return nullptr;
}
size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
}  // extern "C"
