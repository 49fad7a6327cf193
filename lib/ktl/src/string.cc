// string.cc — the C memory functions clang may emit calls to in freestanding
// code: one copy for the kernel and for libkeel's programs (host-tested as
// string_test under other names).
// Written with string instructions so that no compiler idiom recognition can
// turn them back into calls to themselves.
#include <cstddef>
#include <cstdint>

extern "C" {

// Whole quadwords, then the 0-7 bytes left: under QEMU's -icount each `rep`
// iteration counts as one instruction (docs/performance.md), and real CPUs
// move quadwords at least as fast as bytes.
void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  size_t q = n >> 3;
  asm volatile("rep movsq\n\tmov %3, %%rcx\n\trep movsb"
               : "+D"(dst), "+S"(src), "+c"(q)
               : "r"(n & 7)
               : "memory");
  return ret;
}

void* memset(void* dst, int c, size_t n) {
  void* ret = dst;
  size_t q = n >> 3;
  const uint64_t pattern = uint64_t(static_cast<unsigned char>(c)) * 0x0101010101010101ull;
  asm volatile("rep stosq\n\tmov %3, %%rcx\n\trep stosb"
               : "+D"(dst), "+c"(q)
               : "a"(pattern), "r"(n & 7)
               : "memory");
  return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto d = reinterpret_cast<uintptr_t>(dst);
  auto s = reinterpret_cast<uintptr_t>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: backwards, the last 0-7 bytes first,
  // then the quadwords from the top down.
  const void* s_end = reinterpret_cast<const void*>(s + n - 1);
  void* d_end = reinterpret_cast<void*>(d + n - 1);
  size_t b = n & 7;
  asm volatile("std\n\trep movsb\n\tsub $7, %%rsi\n\tsub $7, %%rdi\n\tmov %3, %%rcx\n\trep movsq\n\tcld"
               : "+D"(d_end), "+S"(s_end), "+c"(b)
               : "r"(n >> 3)
               : "memory");
  return dst;
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
  auto* p = static_cast<const volatile unsigned char*>(s);
  for (size_t i = 0; i < n; ++i)
    if (p[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(&p[i]);
  return nullptr;
}

size_t strlen(const char* s) {
  const volatile char* p = s;
  size_t n = 0;
  while (p[n]) ++n;
  return n;
}

}  // extern "C"
