// mm/frame_allocator_test.cc — host tests for the buddy frame allocator.
//
// Each test builds fake RAM: a heap buffer standing in for physical memory at
// a fake physical base, reached through g_direct_map_base like the kernel's
// direct map. ASan cannot see the boundaries of blocks inside that buffer, so
// the tests prove disjointness explicitly (ownership maps and tags written
// into every live block).
#include <mm/frame_allocator.h>

#include <ktl/align.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace mm {
namespace {

using ktl::MiB;

// A buffer standing in for physical memory [base, base + size), 4 MiB-aligned
// in virtual memory so that virtual and physical alignment agree.
class FakeRam {
 public:
  FakeRam(PhysAddr base, uint64_t size) : base_(base), size_(size) {
    mem_ = static_cast<uint8_t*>(std::aligned_alloc(4 * MiB, ktl::align_up(size, 4 * MiB)));
    EXPECT_NE(mem_, nullptr);
    std::memset(mem_, 0, size);
    g_direct_map_base = reinterpret_cast<uintptr_t>(mem_) - base;
  }
  ~FakeRam() { std::free(mem_); }
  FakeRam(const FakeRam&) = delete;
  FakeRam& operator=(const FakeRam&) = delete;

  PhysAddr base() const { return base_; }
  PhysAddr end() const { return base_ + size_; }
  uint8_t* at(PhysAddr p) { return mem_ + (p - base_); }

 private:
  PhysAddr base_;
  uint64_t size_;
  uint8_t* mem_;
};

// Records misuse reports.
struct Misuse {
  std::string what;
  PhysAddr addr;
};
std::vector<Misuse> g_misuse;
void record_misuse(const char* what, PhysAddr addr) { g_misuse.push_back({what, addr}); }

// Deterministic PRNG (splitmix64): same sequence on every host.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t s_;
};

struct Block {
  PhysAddr addr;
  unsigned order;
};

std::vector<size_t> free_block_counts(const FrameAllocator& fa) {
  std::vector<size_t> v;
  for (unsigned k = 0; k <= kMaxOrder; ++k) v.push_back(fa.free_blocks(k));
  return v;
}

// Pages of the Frame array for the allocator's range.
uint64_t array_pages(const FrameAllocator& fa) {
  const uint64_t frames = (fa.range_end() - fa.range_base()) / kPageSize;
  return ktl::align_up(frames * sizeof(Frame), kPageSize) / kPageSize;
}

class FrameAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override { g_misuse.clear(); }
};

TEST_F(FrameAllocatorTest, InitBuildsLargestBlocksAndPutsArrayOnTop) {
  // 64 MiB at 4 MiB: 16384 frames, array = 128 KiB = 32 pages at the top.
  FakeRam ram(4 * MiB, 64 * MiB);
  FrameAllocator fa;
  const PhysRange usable[] = {{ram.base(), 64 * MiB}};
  ASSERT_TRUE(fa.init(usable, {}).ok());
  EXPECT_EQ(fa.range_base(), 4 * MiB);
  EXPECT_EQ(fa.range_end(), 68 * MiB);
  EXPECT_EQ(array_pages(fa), 32u);
  EXPECT_EQ(fa.total_frames(), 16384u - 32);
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  // 15 whole 4 MiB blocks, then 4 MiB - 128 KiB = 2M + 1M + 512K + 256K + 128K.
  const std::vector<size_t> expected = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 15};
  EXPECT_EQ(free_block_counts(fa), expected);
  // The array is reserved and its frames described as such.
  const Frame* top = fa.frame(68 * MiB - kPageSize);
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->flags, Frame::kReserved);
  EXPECT_EQ(fa.frame(4 * MiB)->flags, Frame::kFree);
  EXPECT_EQ(fa.frame(4 * MiB)->order, kMaxOrder);
  EXPECT_EQ(fa.frame(4 * MiB)->refcount, 0u);
  EXPECT_EQ(fa.frame(4 * MiB - kPageSize), nullptr);
  EXPECT_EQ(fa.frame(68 * MiB), nullptr);
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, InitErrors) {
  FakeRam ram(1 * MiB, 64 * MiB);
  {
    FrameAllocator fa;
    EXPECT_EQ(fa.init({}, {}).error(), ktl::Error::NoMemory);
  }
  {  // less than one whole frame after rounding inward
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base() + 1, kPageSize}};
    EXPECT_EQ(fa.init(usable, {}).error(), ktl::Error::NoMemory);
  }
  {  // everything reserved
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base(), 8 * MiB}};
    const PhysRange reserved[] = {{ram.base() - 100, 4 * MiB + 200}, {ram.base() + 4 * MiB - 1, 4 * MiB}};
    EXPECT_EQ(fa.init(usable, reserved).error(), ktl::Error::NoMemory);
  }
  {  // two lone frames 60 MiB apart: their 31-page Frame array fits nowhere
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base(), kPageSize}, {ram.base() + 60 * MiB, kPageSize}};
    EXPECT_EQ(fa.init(usable, {}).error(), ktl::Error::NoMemory);
  }
  {  // the array takes the only usable frame
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base(), kPageSize}};
    EXPECT_EQ(fa.init(usable, {}).error(), ktl::Error::NoMemory);
    EXPECT_EQ(fa.total_frames(), 0u);
  }
  {  // ranges wrapping around 2^64
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base(), 8 * MiB}, {~uint64_t{0} - 10, 20}};
    EXPECT_EQ(fa.init(usable, {}).error(), ktl::Error::InvalidArgument);
    const PhysRange good[] = {{ram.base(), 8 * MiB}};
    const PhysRange reserved[] = {{~uint64_t{0}, 2}};
    EXPECT_EQ(fa.init(good, reserved).error(), ktl::Error::InvalidArgument);
  }
  {  // a reserved range reaching the very top of the address space is fine
    FrameAllocator fa;
    const PhysRange usable[] = {{ram.base(), 8 * MiB}};
    const PhysRange reserved[] = {{~uint64_t{0} - 4096, 4096}};
    ASSERT_TRUE(fa.init(usable, reserved).ok());
    // init twice
    EXPECT_EQ(fa.init(usable, reserved).error(), ktl::Error::InvalidArgument);
    EXPECT_TRUE(fa.check_invariants());
  }
}

// Holes, unaligned edges, reserved ranges overlapping each other and the
// usable ranges: allocate everything and check every frame against the
// expected set, computed independently frame by frame.
TEST_F(FrameAllocatorTest, NeverHandsOutReservedOrHoleFrames) {
  FakeRam ram(1 * MiB, 64 * MiB);
  const PhysAddr b = ram.base();
  const std::vector<PhysRange> usable = {
      {b + 0x123, 10 * MiB},             // unaligned start and end
      {b + 12 * MiB + 0x800, 20 * MiB},  // hole [10 MiB, 12 MiB + 4 KiB)
      {b + 30 * MiB, 20 * MiB + 0x7ff},  // overlaps the previous range
      {b + 52 * MiB, 12 * MiB},          // up to the end of fake RAM
  };
  const std::vector<PhysRange> reserved = {
      {b + 0x5000, 0x3001},          // unaligned: 0x5000..0x8001 -> frames 5..8
      {b + 0x6000, 0x10},            // inside the previous one
      {b + 2 * MiB - 1, 2},          // straddles a 2 MiB boundary
      {b + 9 * MiB, 4 * MiB},        // covers a usable end, a hole, a usable start
      {b + 10 * MiB, 1 * MiB},       // overlaps the previous one
      {b + 40 * MiB + 17, 3 * MiB},  // in the overlap of two usable ranges
      {b + 41 * MiB, 0},             // empty: ignored
      {b + 63 * MiB + 0xfff, 1},     // one byte: reserves its whole frame
      {8ull * 1024 * MiB, 1 * MiB},  // far outside RAM
  };
  // Canary the whole RAM so that writes outside usable memory show.
  std::memset(ram.at(ram.base()), 0xA5, 64 * MiB);

  auto expected_usable = [&](PhysAddr f) {
    bool in = false;
    for (const PhysRange& u : usable) {
      const uint64_t s = ktl::align_up(u.base, kPageSize);
      const uint64_t e = ktl::align_down(u.base + u.length, kPageSize);
      if (s <= f && f + kPageSize <= e) in = true;
    }
    for (const PhysRange& r : reserved)
      if (r.length != 0 && r.base < f + kPageSize && f < r.base + r.length) return false;
    return in;
  };
  uint64_t expected_frames = 0;
  for (PhysAddr f = ram.base(); f < ram.end(); f += kPageSize) expected_frames += expected_usable(f);

  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, reserved).ok());
  ASSERT_TRUE(fa.check_invariants());
  EXPECT_EQ(fa.total_frames() + array_pages(fa), expected_frames);

  // The only usable frames the allocator keeps for itself hold the array.
  uint64_t kept = 0;
  for (PhysAddr f = fa.range_base(); f < fa.range_end(); f += kPageSize)
    if (fa.frame(f)->flags == Frame::kReserved && expected_usable(f)) ++kept;
  EXPECT_EQ(kept, array_pages(fa));

  // Take everything, largest blocks first, and check every frame.
  std::vector<uint8_t> owned((ram.end() - ram.base()) / kPageSize, 0);
  uint64_t got = 0;
  for (int order = kMaxOrder; order >= 0; --order) {
    for (;;) {
      auto r = fa.alloc(order);
      if (!r.ok()) {
        EXPECT_EQ(r.error(), ktl::Error::NoMemory);
        break;
      }
      ASSERT_TRUE(ktl::is_aligned(*r, order_size(order)));
      for (PhysAddr f = *r; f < *r + order_size(order); f += kPageSize) {
        ASSERT_TRUE(expected_usable(f)) << std::hex << f;
        ASSERT_TRUE(f >= ram.base() && f < ram.end());
        ASSERT_EQ(owned[(f - ram.base()) / kPageSize]++, 0) << "handed out twice: " << std::hex << f;
        std::memset(ram.at(f), 0x3C, kPageSize);  // the owner writes its frame
      }
      got += uint64_t{1} << order;
    }
  }
  EXPECT_EQ(got, fa.total_frames());
  EXPECT_EQ(fa.free_frames(), 0u);
  EXPECT_TRUE(fa.check_invariants());

  // Nothing outside usable memory was written: reserved bytes and holes still
  // hold the canary (bytes of partially usable frames included).
  for (PhysAddr f = ram.base(); f < ram.end(); f += kPageSize) {
    if (expected_usable(f)) continue;
    const uint8_t* p = ram.at(f);
    for (size_t i = 0; i < kPageSize; ++i) ASSERT_EQ(p[i], 0xA5) << std::hex << f + i;
  }
}

TEST_F(FrameAllocatorTest, OverlappingUsableRangesCountOnce) {
  FakeRam ram(1 * MiB, 32 * MiB);
  const PhysAddr b = ram.base();
  const PhysRange usable[] = {{b, 16 * MiB}, {b + 8 * MiB, 16 * MiB}, {b + 4 * MiB, 2 * MiB}, {b, 32 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  EXPECT_EQ(fa.total_frames() + array_pages(fa), 32 * MiB / kPageSize);
  std::vector<uint8_t> owned(32 * MiB / kPageSize, 0);
  for (;;) {
    auto r = fa.alloc_page();
    if (!r.ok()) break;
    ASSERT_EQ(owned[(*r - b) / kPageSize]++, 0);
  }
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, ArrayGoesToTheHighestStretchThatHoldsIt) {
  FakeRam ram(4 * MiB, 24 * MiB);
  const PhysAddr b = ram.base();
  // 5128 frames -> an 11-page array; the top stretch has only 8 pages.
  const PhysRange usable[] = {{b, 16 * MiB}, {b + 20 * MiB, 8 * kPageSize}};
  std::memset(ram.at(b), 0xA5, 24 * MiB);
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  EXPECT_EQ(array_pages(fa), 11u);
  EXPECT_EQ(fa.total_frames(), 4096u - 11 + 8);
  for (PhysAddr f = b + 16 * MiB - 11 * kPageSize; f < b + 16 * MiB; f += kPageSize)
    EXPECT_EQ(fa.frame(f)->flags, Frame::kReserved);
  EXPECT_EQ(fa.frame(b + 20 * MiB)->flags, Frame::kFree);
  EXPECT_EQ(fa.frame(b + 20 * MiB)->order, 3u);
  EXPECT_TRUE(fa.check_invariants());
  // The hole between the stretches was not written.
  for (PhysAddr p = b + 16 * MiB; p < b + 20 * MiB; p += 512) ASSERT_EQ(*ram.at(p), 0xA5);
}

TEST_F(FrameAllocatorTest, AdjacentUsableRangesMerge) {
  FakeRam ram(4 * MiB, 12 * MiB);
  const PhysAddr b = ram.base();
  // Three touching ranges; the first 4 MiB block spans two of them. The array
  // (6 pages) goes to the top of the last stretch.
  const PhysRange usable[] = {{b, 1 * MiB}, {b + 1 * MiB, 3 * MiB}, {b + 4 * MiB, 8 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  EXPECT_EQ(fa.free_blocks(kMaxOrder), 2u);
  EXPECT_EQ(fa.frame(b)->flags, Frame::kFree);
  EXPECT_EQ(fa.frame(b)->order, kMaxOrder);
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, AllocAllPagesThenFreeAllCoalescesFully) {
  FakeRam ram(4 * MiB, 64 * MiB);
  const PhysRange usable[] = {{ram.base(), 64 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  const auto initial = free_block_counts(fa);

  std::vector<PhysAddr> pages;
  std::vector<uint8_t> owned(64 * MiB / kPageSize, 0);
  for (;;) {
    auto r = fa.alloc_page();
    if (!r.ok()) {
      EXPECT_EQ(r.error(), ktl::Error::NoMemory);
      break;
    }
    ASSERT_EQ(owned[(*r - ram.base()) / kPageSize]++, 0);
    pages.push_back(*r);
  }
  EXPECT_EQ(pages.size(), fa.total_frames());
  EXPECT_EQ(fa.free_frames(), 0u);
  for (unsigned k = 0; k <= kMaxOrder; ++k) EXPECT_EQ(fa.free_blocks(k), 0u);
  EXPECT_TRUE(fa.check_invariants());

  // Free in a scrambled order: merging must not depend on it.
  Rng rng(42);
  for (size_t i = pages.size(); i > 1; --i) std::swap(pages[i - 1], pages[rng.below(i)]);
  for (PhysAddr p : pages) fa.free_page(p);
  EXPECT_TRUE(g_misuse.empty());
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_EQ(free_block_counts(fa), initial);
  EXPECT_EQ(fa.free_blocks(kMaxOrder), 15u);
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, TwoMegabyteBlocksAreAligned) {
  FakeRam ram(1 * MiB, 64 * MiB);  // base not 2 MiB-aligned
  const PhysRange usable[] = {{ram.base(), 64 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  std::vector<PhysAddr> blocks;
  for (;;) {
    auto r = fa.alloc_2m();
    if (!r.ok()) break;
    EXPECT_TRUE(ktl::is_aligned(*r, kLargePageSize)) << std::hex << *r;
    EXPECT_GE(*r, ram.base());
    EXPECT_LE(*r + kLargePageSize, ram.end());
    for (PhysAddr p : blocks) EXPECT_NE(p, *r);
    blocks.push_back(*r);
  }
  // [1 MiB, 65 MiB) holds 31 aligned 2 MiB blocks ([2 MiB, 64 MiB)); the
  // array sits at the top, in [64 MiB, 65 MiB).
  EXPECT_EQ(blocks.size(), 31u);
  for (PhysAddr p : blocks) fa.free(p, kLargePageOrder);
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_TRUE(fa.check_invariants());
  EXPECT_TRUE(g_misuse.empty());
}

TEST_F(FrameAllocatorTest, RandomAllocFreeKeepsInvariants) {
  FakeRam ram(1 * MiB, 64 * MiB);
  const PhysAddr b = ram.base();
  const PhysRange usable[] = {{b, 30 * MiB}, {b + 31 * MiB + 0x1234, 33 * MiB - 0x1234}};
  const PhysRange reserved[] = {{b + 5 * MiB + 3, 0x20000}, {b + 17 * MiB, 1 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, reserved).ok());
  const auto initial = free_block_counts(fa);

  std::vector<Block> live;
  std::vector<uint32_t> owner(64 * MiB / kPageSize, 0);  // block id + 1, 0 = none
  std::vector<uint32_t> ids;
  uint32_t next_id = 1;
  uint64_t live_frames = 0;
  Rng rng(0x6b65656c);  // "keel"

  auto tag = [&](const Block& blk, uint32_t id) {
    // The first and last 8 bytes of the block carry its id.
    uint64_t v = 0xB10C000000000000ull | id;
    std::memcpy(ram.at(blk.addr), &v, 8);
    std::memcpy(ram.at(blk.addr + order_size(blk.order) - 8), &v, 8);
  };
  auto check_tag = [&](const Block& blk, uint32_t id) {
    uint64_t v1, v2;
    std::memcpy(&v1, ram.at(blk.addr), 8);
    std::memcpy(&v2, ram.at(blk.addr + order_size(blk.order) - 8), 8);
    EXPECT_EQ(v1, 0xB10C000000000000ull | id);
    EXPECT_EQ(v2, 0xB10C000000000000ull | id);
  };

  for (int step = 0; step < 20000; ++step) {
    const bool do_alloc = live.empty() || rng.below(100) < 55;
    if (do_alloc) {
      // Mostly small orders, sometimes large ones.
      const unsigned order = rng.below(4) != 0 ? unsigned(rng.below(3)) : unsigned(rng.below(kMaxOrder + 1));
      auto r = fa.alloc(order);
      if (!r.ok()) {
        ASSERT_EQ(r.error(), ktl::Error::NoMemory);
        continue;
      }
      const Block blk{*r, order};
      ASSERT_TRUE(ktl::is_aligned(blk.addr, order_size(order)));
      ASSERT_GE(blk.addr, b);
      ASSERT_LE(blk.addr + order_size(order), ram.end());
      const uint32_t id = next_id++;
      for (PhysAddr f = blk.addr; f < blk.addr + order_size(order); f += kPageSize) {
        ASSERT_EQ(owner[(f - b) / kPageSize], 0u) << "overlap at " << std::hex << f;
        owner[(f - b) / kPageSize] = id;
      }
      ASSERT_EQ(fa.frame(blk.addr)->flags, Frame::kAllocated);
      ASSERT_EQ(fa.frame(blk.addr)->order, order);
      tag(blk, id);
      live.push_back(blk);
      ids.push_back(id);
      live_frames += uint64_t{1} << order;
    } else {
      const size_t i = rng.below(live.size());
      const Block blk = live[i];
      check_tag(blk, ids[i]);
      for (PhysAddr f = blk.addr; f < blk.addr + order_size(blk.order); f += kPageSize)
        owner[(f - b) / kPageSize] = 0;
      fa.free(blk.addr, blk.order);
      live[i] = live.back();
      live.pop_back();
      ids[i] = ids.back();
      ids.pop_back();
      live_frames -= uint64_t{1} << blk.order;
    }
    ASSERT_EQ(fa.free_frames() + live_frames, fa.total_frames());
    if (step % 97 == 0) ASSERT_TRUE(fa.check_invariants()) << "step " << step;
  }
  ASSERT_TRUE(fa.check_invariants());
  for (size_t i = 0; i < live.size(); ++i) {
    check_tag(live[i], ids[i]);
    fa.free(live[i].addr, live[i].order);
  }
  EXPECT_TRUE(g_misuse.empty());
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_EQ(free_block_counts(fa), initial);
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, ExhaustionAndBadOrder) {
  FakeRam ram(4 * MiB, 8 * MiB);
  const PhysRange usable[] = {{ram.base(), 8 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  EXPECT_EQ(fa.alloc(kMaxOrder + 1).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(fa.alloc_below(kMaxOrder + 1, ~uint64_t{0}).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(fa.free_blocks(kMaxOrder + 1), 0u);

  auto big = fa.alloc(kMaxOrder);  // the only whole 4 MiB block
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(*big, 4 * MiB);
  EXPECT_EQ(fa.alloc(kMaxOrder).error(), ktl::Error::NoMemory);
  std::vector<PhysAddr> pages;
  while (auto r = fa.alloc_page()) pages.push_back(*r);
  EXPECT_EQ(pages.size() + 1024, fa.total_frames());
  EXPECT_EQ(fa.free_frames(), 0u);
  for (unsigned k = 0; k <= kMaxOrder; ++k) EXPECT_EQ(fa.alloc(k).error(), ktl::Error::NoMemory);
  EXPECT_EQ(fa.alloc_below(0, ~uint64_t{0}).error(), ktl::Error::NoMemory);
  EXPECT_TRUE(fa.check_invariants());

  fa.free(*big, kMaxOrder);
  for (PhysAddr p : pages) fa.free_page(p);
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_TRUE(fa.check_invariants());
  EXPECT_TRUE(g_misuse.empty());
}

TEST_F(FrameAllocatorTest, MisuseIsReportedAndIgnored) {
  FakeRam ram(4 * MiB, 15 * MiB);  // [4 MiB, 19 MiB): the end is not 4 MiB-aligned
  const PhysAddr b = ram.base();
  const PhysRange usable[] = {{b, 15 * MiB}};
  const PhysRange reserved[] = {{b + 8 * MiB, kPageSize}};
  FrameAllocator fa;
  fa.misuse_handler = record_misuse;
  ASSERT_TRUE(fa.init(usable, reserved).ok());

  const PhysAddr p0 = *fa.alloc(0);
  const PhysAddr p2 = *fa.alloc(2);
  const PhysAddr p3 = *fa.alloc(3);
  const uint64_t free_before = fa.free_frames();

  auto expect_misuse = [&](PhysAddr addr, unsigned order, const char* substr) {
    g_misuse.clear();
    fa.free(addr, order);
    ASSERT_EQ(g_misuse.size(), 1u) << std::hex << addr << " order " << order;
    EXPECT_EQ(g_misuse[0].addr, addr);
    EXPECT_NE(g_misuse[0].what.find(substr), std::string::npos) << g_misuse[0].what;
    EXPECT_EQ(fa.free_frames(), free_before);
    EXPECT_TRUE(fa.check_invariants());
  };

  expect_misuse(p2 + kPageSize, 2, "not aligned");
  expect_misuse(p0 + 1, 0, "not aligned");
  expect_misuse(p2, 1, "order differs");  // aligned for order 1, wrong order
  expect_misuse(p3, 2, "order differs");
  expect_misuse(p2 + kPageSize, 0, "not an allocated block");  // inside a block
  expect_misuse(b - kPageSize, 0, "outside");
  expect_misuse(b + 15 * MiB, 0, "outside");
  expect_misuse(b + 15 * MiB - kPageSize, 1, "not aligned");  // odd frame for order 1
  expect_misuse(b + 12 * MiB, kMaxOrder, "outside");          // [16, 20) MiB ends past the range
  expect_misuse(b + 8 * MiB, 0, "reserved");
  expect_misuse(b + 15 * MiB - kPageSize, 0, "reserved");  // the Frame array
  expect_misuse(p0, kMaxOrder + 1, "order above");

  // Double frees: at once, and after the block has merged with its buddy.
  g_misuse.clear();
  fa.free(p0, 0);
  EXPECT_TRUE(g_misuse.empty());
  const uint64_t after_first = fa.free_frames();
  fa.free(p0, 0);
  ASSERT_EQ(g_misuse.size(), 1u);
  EXPECT_EQ(fa.free_frames(), after_first);
  EXPECT_TRUE(fa.check_invariants());

  g_misuse.clear();
  fa.free(p3, 3);
  fa.free(p2, 2);
  EXPECT_TRUE(g_misuse.empty());
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  fa.free(p2, 2);  // long merged into a bigger block
  fa.free(p3, 3);
  EXPECT_EQ(g_misuse.size(), 2u);
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, CheckInvariantsCatchesCorruption) {
  FakeRam ram(4 * MiB, 16 * MiB);
  const PhysRange usable[] = {{ram.base(), 16 * MiB}};
  FrameAllocator fa;
  ASSERT_TRUE(fa.init(usable, {}).ok());
  const PhysAddr p = *fa.alloc(2);
  ASSERT_TRUE(fa.check_invariants());

  Frame* inner = fa.frame(p + kPageSize);  // a non-head frame of a live block
  inner->flags = Frame::kFree;
  EXPECT_FALSE(fa.check_invariants());
  inner->flags = 0;
  Frame* head = fa.frame(p);
  head->order = 1;  // the block no longer tiles the range
  EXPECT_FALSE(fa.check_invariants());
  head->order = 2;
  head->flags = 0;  // a lost block
  EXPECT_FALSE(fa.check_invariants());
  head->flags = Frame::kAllocated;
  EXPECT_TRUE(fa.check_invariants());
  fa.free(p, 2);
  EXPECT_TRUE(fa.check_invariants());
}

TEST_F(FrameAllocatorTest, AllocBelow) {
  FakeRam ram(1 * MiB, 64 * MiB);
  const PhysRange usable[] = {{ram.base(), 64 * MiB}};
  FrameAllocator fa;
  fa.misuse_handler = record_misuse;
  ASSERT_TRUE(fa.init(usable, {}).ok());

  auto r = fa.alloc_below(0, 2 * MiB);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(*r + kPageSize, 2 * MiB);
  fa.free_page(*r);

  // A limit that is not aligned: the block must still end below it.
  const PhysAddr odd_limit = 3 * MiB + 0x1800;
  auto r3 = fa.alloc_below(3, odd_limit);
  ASSERT_TRUE(r3.ok());
  EXPECT_LE(*r3 + order_size(3), odd_limit);
  EXPECT_TRUE(ktl::is_aligned(*r3, order_size(3)));
  fa.free(*r3, 3);

  EXPECT_EQ(fa.alloc_below(0, ram.base()).error(), ktl::Error::NoMemory);
  EXPECT_EQ(fa.alloc_below(0, ram.base() + kPageSize - 1).error(), ktl::Error::NoMemory);
  // [1 MiB, 2 MiB) holds no aligned 2 MiB block.
  EXPECT_EQ(fa.alloc_below(kLargePageOrder, 3 * MiB).error(), ktl::Error::NoMemory);

  // Everything below 8 MiB: exactly the 7 MiB of frames there.
  std::vector<PhysAddr> low;
  for (;;) {
    auto p = fa.alloc_below(0, 8 * MiB);
    if (!p.ok()) break;
    ASSERT_LT(*p, 8 * MiB);
    low.push_back(*p);
  }
  EXPECT_EQ(low.size(), 7 * MiB / kPageSize);
  std::sort(low.begin(), low.end());
  EXPECT_EQ(std::adjacent_find(low.begin(), low.end()), low.end());
  EXPECT_TRUE(fa.check_invariants());
  auto high = fa.alloc(kMaxOrder);  // memory above the limit is untouched
  ASSERT_TRUE(high.ok());
  EXPECT_GE(*high, 8 * MiB);
  fa.free(*high, kMaxOrder);
  for (PhysAddr p : low) fa.free_page(p);
  EXPECT_EQ(fa.free_frames(), fa.total_frames());
  EXPECT_TRUE(fa.check_invariants());
  EXPECT_TRUE(g_misuse.empty());
}

TEST_F(FrameAllocatorTest, HelpersAndRangeViews) {
  EXPECT_EQ(order_size(0), kPageSize);
  EXPECT_EQ(order_size(kMaxOrder), 4 * MiB);
  EXPECT_EQ(order_for_size(0), 0u);
  EXPECT_EQ(order_for_size(1), 0u);
  EXPECT_EQ(order_for_size(4096), 0u);
  EXPECT_EQ(order_for_size(4097), 1u);
  EXPECT_EQ(order_for_size(2 * MiB), kLargePageOrder);
  EXPECT_GT(order_for_size(4 * MiB + 1), kMaxOrder);
  EXPECT_GT(order_for_size(~uint64_t{0}), kMaxOrder);

  // PhysRanges takes arrays, containers and pointer + count alike.
  const PhysRange arr[] = {{1, 2}, {3, 4}};
  const std::vector<PhysRange> vec(arr, arr + 2);
  const PhysRanges a(arr), v(vec), p(arr, 1);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].base, 3u);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(PhysRanges().size(), 0u);
}

}  // namespace
}  // namespace mm
