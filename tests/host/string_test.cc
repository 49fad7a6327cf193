// string_test — memcpy/memset/memmove/memcmp as the kernel and libkeel use
// them (lib/ktl/src/string.cc, one file for both), compiled for the host
// under other names (keel_*: see CMakeLists.txt), against a
// byte-at-a-time reference, for every length and alignment up to 40 bytes
// and a few large ones.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" {
void* keel_memcpy(void*, const void*, size_t);
void* keel_memset(void*, int, size_t);
void* keel_memmove(void*, const void*, size_t);
int keel_memcmp(const void*, const void*, size_t);
}

namespace {

struct Impl {
  const char* name;
  void* (*cpy)(void*, const void*, size_t);
  void* (*set)(void*, int, size_t);
  void* (*move)(void*, const void*, size_t);
  int (*cmp)(const void*, const void*, size_t);
};
const Impl kImpls[] = {{"keel", keel_memcpy, keel_memset, keel_memmove, keel_memcmp}};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7 + (i >> 3));
  return v;
}

const size_t kLens[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 39, 40, 152, 4095, 4096, 65536 + 5};

TEST(String, CopyEveryLengthAndAlignment) {
  for (const Impl& im : kImpls)
    for (size_t n : kLens)
      for (size_t da = 0; da < 8; ++da)
        for (size_t sa = 0; sa < 8; ++sa) {
          std::vector<uint8_t> src = pattern(n + 16, 1), dst(n + 16, 0xEE), want = dst;
          for (size_t i = 0; i < n; ++i) want[da + i] = src[sa + i];
          EXPECT_EQ(im.cpy(dst.data() + da, src.data() + sa, n), dst.data() + da);
          ASSERT_EQ(dst, want) << im.name << " memcpy n=" << n << " da=" << da << " sa=" << sa;
        }
}

TEST(String, SetEveryLengthAndAlignment) {
  for (const Impl& im : kImpls)
    for (size_t n : kLens)
      for (size_t a = 0; a < 8; ++a)
        for (int c : {0, 0x5A, 0x1FF, -1}) {
          std::vector<uint8_t> dst = pattern(n + 16, 3), want = dst;
          for (size_t i = 0; i < n; ++i) want[a + i] = uint8_t(c);
          EXPECT_EQ(im.set(dst.data() + a, c, n), dst.data() + a);
          ASSERT_EQ(dst, want) << im.name << " memset n=" << n << " a=" << a << " c=" << c;
        }
}

TEST(String, MoveOverlappingBothWays) {
  for (const Impl& im : kImpls)
    for (size_t n : kLens)
      for (size_t from = 0; from < 20; ++from)
        for (size_t to = 0; to < 20; ++to) {
          std::vector<uint8_t> buf = pattern(n + 24, 5), want = buf;
          std::vector<uint8_t> tmp(want.begin() + ptrdiff_t(from), want.begin() + ptrdiff_t(from + n));
          for (size_t i = 0; i < n; ++i) want[to + i] = tmp[i];
          EXPECT_EQ(im.move(buf.data() + to, buf.data() + from, n), buf.data() + to);
          ASSERT_EQ(buf, want) << im.name << " memmove n=" << n << " from=" << from << " to=" << to;
        }
}

int sign(int v) { return (v > 0) - (v < 0); }

TEST(String, CompareOrdersByTheFirstDifferentByteUnsigned) {
  for (const Impl& im : kImpls)
    for (size_t n : kLens) {
      std::vector<uint8_t> a = pattern(n, 9), b = a;
      EXPECT_EQ(im.cmp(a.data(), b.data(), n), 0) << im.name << " n=" << n;
      for (size_t at : {size_t(0), n / 2, n ? n - 1 : 0}) {
        if (n == 0) break;
        for (int delta : {1, 0x80}) {
          b = a;
          b[at] = uint8_t(a[at] + delta);
          if (at + 1 < n) b[at + 1] = uint8_t(a[at + 1] - 1);  // a later byte the other way must not matter
          const int want = a[at] < b[at] ? -1 : 1;
          EXPECT_EQ(sign(im.cmp(a.data(), b.data(), n)), want) << im.name << " n=" << n << " at=" << at;
          EXPECT_EQ(sign(im.cmp(b.data(), a.data(), n)), -want) << im.name << " n=" << n << " at=" << at;
        }
      }
    }
}

}  // namespace
