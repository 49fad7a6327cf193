// string.cc — the C memory functions clang may emit calls to in freestanding code.
// Written with string instructions so that no compiler idiom recognition can
// turn them back into calls to themselves. memcpy and memset move quadwords
// and then the 0-7 bytes left: under QEMU's -icount (make bench) every
// iteration of a `rep` counts as one instruction, and the IPC paths copy
// messages of up to 64 words (a foreign syscall's 19) with memcpy.
#include <cstddef>
#include <cstdint>

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  size_t q = n >> 3, b = n & 7;
  asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(q)::"memory");
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(b)::"memory");
  return ret;
}

void* memset(void* dst, int c, size_t n) {
  void* ret = dst;
  uint64_t v = uint64_t(uint8_t(c)) * 0x0101010101010101ull;
  size_t q = n >> 3, b = n & 7;
  asm volatile("rep stosq" : "+D"(dst), "+c"(q) : "a"(v) : "memory");
  asm volatile("rep stosb" : "+D"(dst), "+c"(b) : "a"(v) : "memory");
  return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
  void* ret = dst;
  auto d = reinterpret_cast<uintptr_t>(dst);
  auto s = reinterpret_cast<uintptr_t>(src);
  if (d <= s || d >= s + n) {
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n)::"memory");
  } else {  // overlapping with dst above src: copy backwards
    const void* s_end = reinterpret_cast<const void*>(s + n - 1);
    void* d_end = reinterpret_cast<void*>(d + n - 1);
    asm volatile("std; rep movsb; cld" : "+D"(d_end), "+S"(s_end), "+c"(n)::"memory");
  }
  return ret;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const volatile unsigned char*>(a);
  auto* y = static_cast<const volatile unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
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
