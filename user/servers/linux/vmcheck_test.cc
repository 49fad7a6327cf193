// vmcheck_test.cc — mremap/madvise argument checks and mmap hints
// (linux/vmcheck.h), against what Linux documents.
#include "vmcheck.h"

#include <gtest/gtest.h>

namespace {

using namespace linux_vmcheck;

constexpr uint64_t kA = 0x7f00'0000'0000;

TEST(LinuxVmcheck, MremapFlags) {
  EXPECT_EQ(mremap_check(kA, kPage, 2 * kPage, 0, 0), 0);
  EXPECT_EQ(mremap_check(kA, kPage, 2 * kPage, kMremapMaymove, 0), 0);
  EXPECT_EQ(mremap_check(kA, kPage, 2 * kPage, 0x80, 0), -kEINVAL);             // unknown flag
  EXPECT_EQ(mremap_check(kA, kPage, 2 * kPage, kMremapFixed, 0x1000'0000), -kEINVAL);  // FIXED without MAYMOVE
  EXPECT_EQ(mremap_check(kA, kPage, 2 * kPage, kMremapMaymove | kMremapDontunmap, 0), -kEINVAL);  // size change
  EXPECT_EQ(mremap_check(kA, kPage, kPage, kMremapDontunmap, 0), -kEINVAL);     // DONTUNMAP without MAYMOVE
  EXPECT_EQ(mremap_check(kA, kPage, kPage, kMremapMaymove | kMremapDontunmap, 0), 0);
}

TEST(LinuxVmcheck, MremapAddressesAndLengths) {
  EXPECT_EQ(mremap_check(kA + 1, kPage, 2 * kPage, kMremapMaymove, 0), -kEINVAL);  // unaligned
  EXPECT_EQ(mremap_check(kA, kPage, 0, kMremapMaymove, 0), -kEINVAL);              // new length 0
  EXPECT_EQ(mremap_check(kA, kPage, ~0ull - 10, kMremapMaymove, 0), -kEINVAL);     // overflows when rounded
  EXPECT_EQ(mremap_check(kA, 1, 2, 0, 0), 0);                                       // lengths round up
  EXPECT_EQ(mremap_check(kUserTop, 2 * kPage, kPage, 0, 0), -kEFAULT);              // past the user range
  // MREMAP_FIXED: aligned, inside the user range, not over the source.
  const uint64_t mf = kMremapMaymove | kMremapFixed;
  EXPECT_EQ(mremap_check(kA, 2 * kPage, 2 * kPage, mf, kA + 16 * kPage), 0);
  EXPECT_EQ(mremap_check(kA, 2 * kPage, 2 * kPage, mf, kA + 16 * kPage + 8), -kEINVAL);
  EXPECT_EQ(mremap_check(kA, 2 * kPage, 2 * kPage, mf, kA + kPage), -kEINVAL);      // overlaps
  EXPECT_EQ(mremap_check(kA + kPage, 2 * kPage, 2 * kPage, mf, kA), -kEINVAL);      // overlaps from below
  EXPECT_EQ(mremap_check(kA, 2 * kPage, 2 * kPage, mf, kA - 2 * kPage), 0);         // just below: fine
  EXPECT_EQ(mremap_check(kA, kPage, kPage, mf, kUserTop), -kEINVAL);
}

TEST(LinuxVmcheck, MadviseAdvice) {
  for (int a : {0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25})
    EXPECT_EQ(classify_advice(uint64_t(a)), Advice::Hint) << a;
  EXPECT_EQ(classify_advice(4), Advice::DontNeed);
  EXPECT_EQ(classify_advice(8), Advice::Free);
  for (uint64_t a : {5ull, 6ull, 7ull, 9ull, 24ull, 26ull, 100ull, 12345ull, 0xffffffffull})
    EXPECT_EQ(classify_advice(a), Advice::Invalid) << a;
}

TEST(LinuxVmcheck, MadviseCheck) {
  EXPECT_EQ(madvise_check(kA, kPage, 0), 0);
  EXPECT_EQ(madvise_check(kA + 1, kPage, 0), -kEINVAL);   // unaligned
  EXPECT_EQ(madvise_check(kA, kPage, 12345), -kEINVAL);   // unknown advice
  EXPECT_EQ(madvise_check(kA, 0, 4), 1);                  // nothing to do
  EXPECT_EQ(madvise_check(kA, ~0ull - 5, 4), -kEINVAL);   // rounds past the top
  EXPECT_EQ(madvise_check(kUserTop, 4 * kPage, 4), -kENOMEM);
  EXPECT_EQ(madvise_check(kA + 1, 0, 12345), -kEINVAL);   // EINVAL before "nothing to do"
}

TEST(LinuxVmcheck, Hints) {
  EXPECT_TRUE(hint_usable(kA, kPage));
  EXPECT_FALSE(hint_usable(0, kPage));
  EXPECT_FALSE(hint_usable(kA + 8, kPage));           // unaligned: not used as is
  EXPECT_FALSE(hint_usable(kPage, kPage));            // below mmap_min_addr
  EXPECT_TRUE(hint_usable(kMinAddr, kPage));
  EXPECT_FALSE(hint_usable(kUserTop - kPage, 2 * kPage));
  EXPECT_TRUE(hint_usable(kUserTop - kPage, kPage));
  EXPECT_FALSE(hint_usable(~0ull & ~(kPage - 1), 2 * kPage));  // wraps
}

}  // namespace
