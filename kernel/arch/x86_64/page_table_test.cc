// arch/x86_64/page_table_test.cc — host tests for x86::PageTable over fake RAM.
//
// 8 MiB of host memory stands in for physical [0x1000000, 0x1800000): the
// direct map points at it, and a counting TableAllocator hands out its frames
// (poisoned, so missing zeroing shows) and checks every free.
#include <arch/x86_64/page_table.h>

#include <ktl/align.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace x86 {
namespace {

using ktl::Error;

constexpr mm::PhysAddr kFakeBase = 0x1000000;
constexpr uint64_t kFakeSize = 8ull << 20;
constexpr uint64_t kFrames = kFakeSize / mm::kPageSize;
alignas(4096) uint8_t g_ram[kFakeSize];

// Bump + free-list allocator over g_ram, with an optional allocation budget.
class FakeFrames {
 public:
  void reset() {
    mm::g_direct_map_base = reinterpret_cast<uintptr_t>(g_ram) - kFakeBase;
    next_ = 0;
    free_list_.clear();
    live_.clear();
    budget_ = -1;
    bad_frees_ = 0;
  }
  ktl::Result<mm::PhysAddr> alloc() {
    if (budget_ == 0) return Error::NoMemory;
    if (budget_ > 0) --budget_;
    mm::PhysAddr p;
    if (!free_list_.empty()) {
      p = free_list_.back();
      free_list_.pop_back();
    } else {
      if (next_ == kFrames) return Error::NoMemory;
      p = kFakeBase + next_++ * mm::kPageSize;
    }
    live_.insert(p);
    std::memset(mm::phys_to_virt(p), 0xa5, mm::kPageSize);  // "contents unspecified"
    return p;
  }
  void free(mm::PhysAddr p) {
    if (!live_.erase(p)) {
      ++bad_frees_;  // double free, or a frame this allocator never gave out
      return;
    }
    std::memset(mm::phys_to_virt(p), 0x5a, mm::kPageSize);  // catch use after free
    free_list_.push_back(p);
  }
  TableAllocator table_allocator() {
    return TableAllocator{
        [](void* ctx) { return static_cast<FakeFrames*>(ctx)->alloc(); },
        [](void* ctx, mm::PhysAddr p) { static_cast<FakeFrames*>(ctx)->free(p); },
        this,
    };
  }
  uint64_t outstanding() const { return live_.size(); }
  void set_budget(int64_t n) { budget_ = n; }  // -1: unlimited
  int bad_frees() const { return bad_frees_; }

 private:
  uint64_t next_ = 0;
  std::vector<mm::PhysAddr> free_list_;
  std::set<mm::PhysAddr> live_;
  int64_t budget_ = -1;
  int bad_frees_ = 0;
};

// Every entry of every table reachable from `root`, as (table, index, value):
// equal snapshots mean the paging structures were not changed at all.
using Snapshot = std::vector<std::tuple<mm::PhysAddr, unsigned, uint64_t>>;
void snapshot_tree(mm::PhysAddr table, int level, Snapshot& out) {
  const uint64_t* t = mm::phys_to_ptr<uint64_t>(table);
  for (unsigned i = 0; i < 512; ++i) {
    if (!t[i]) continue;
    out.emplace_back(table, i, t[i]);
    bool leaf = level == 0 || (level <= 2 && (t[i] & pte::kLargePage));
    if ((t[i] & pte::kPresent) && !leaf) snapshot_tree(t[i] & pte::kAddrMask, level - 1, out);
  }
}
Snapshot snapshot(const PageTable& pt) {
  Snapshot s;
  snapshot_tree(pt.root(), 3, s);
  return s;
}

// The entry at `level` (3 = PML4E .. 0 = PTE) on the walk for `virt`, or 0.
uint64_t entry_at(const PageTable& pt, uint64_t virt, int target) {
  mm::PhysAddr table = pt.root();
  for (int level = 3;; --level) {
    uint64_t e = mm::phys_to_ptr<uint64_t>(table)[(virt >> (12 + 9 * level)) & 511];
    if (level == target || !(e & pte::kPresent)) return level == target ? e : 0;
    table = e & pte::kAddrMask;
  }
}

struct FlushLog {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<uint64_t> outstanding_at_flush;
  const FakeFrames* frames = nullptr;
  TlbFlush callback() {
    return TlbFlush{[](void* ctx, uint64_t virt, uint64_t size) {
                      auto* log = static_cast<FlushLog*>(ctx);
                      log->ranges.emplace_back(virt, size);
                      if (log->frames) log->outstanding_at_flush.push_back(log->frames->outstanding());
                    },
                    this};
  }
};

constexpr unsigned kRW = Prot::Read | Prot::Write;
constexpr uint64_t k4K = mm::kPageSize, k2M = mm::kLargePageSize, k1G = mm::kHugePageSize;

class PageTableTest : public ::testing::Test {
 protected:
  void SetUp() override { frames_.reset(); }
  void TearDown() override { EXPECT_EQ(frames_.bad_frees(), 0); }

  PageTable make() {
    auto pt = PageTable::create(frames_.table_allocator());
    EXPECT_TRUE(pt.ok());
    return pt.release_value();
  }

  FakeFrames frames_;
};

TEST_F(PageTableTest, CreateAllocatesZeroedPml4) {
  PageTable pt = make();
  EXPECT_EQ(frames_.outstanding(), 1u);
  EXPECT_EQ(pt.count_table_pages(), 1u);
  EXPECT_GE(pt.root(), kFakeBase);
  EXPECT_TRUE(ktl::is_aligned(pt.root(), k4K));
  const uint64_t* t = mm::phys_to_ptr<uint64_t>(pt.root());
  for (unsigned i = 0; i < 512; ++i) ASSERT_EQ(t[i], 0u) << i;
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
  EXPECT_EQ(pt.root(), 0u);
  pt.destroy();  // second destroy is a no-op
  EXPECT_EQ(frames_.bad_frees(), 0);
}

TEST_F(PageTableTest, CreateReportsNoMemory) {
  frames_.set_budget(0);
  auto pt = PageTable::create(frames_.table_allocator());
  ASSERT_FALSE(pt.ok());
  EXPECT_EQ(pt.error(), Error::NoMemory);
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, Map4KAndTranslate) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x400000, 0x12345000, 3 * k4K, kRW).ok());
  // PML4 + PDPT + PD + PT, all counted and all from the allocator.
  EXPECT_EQ(pt.count_table_pages(), 4u);
  EXPECT_EQ(frames_.outstanding(), 4u);
  for (uint64_t i = 0; i < 3; ++i) {
    auto t = pt.translate(0x400000 + i * k4K + 0x123);
    ASSERT_TRUE(t.ok()) << i;
    EXPECT_EQ(t->phys, 0x12345000 + i * k4K + 0x123);
    EXPECT_EQ(t->size, PageSize::k4K);
    EXPECT_EQ(t->prot, kRW);
  }
  EXPECT_EQ(pt.translate(0x400000 + 3 * k4K).error(), Error::NotFound);
  EXPECT_EQ(pt.translate(0x3ff000).error(), Error::NotFound);
  EXPECT_EQ(pt.translate(0x800000000000).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.leaf_entry(0x3ff000).error(), Error::NotFound);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, Map2MAnd1GAndTranslate) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x40000000, 0x80000000, 2 * k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x8000000000, 0x140000000, k1G, Prot::Read, PageSize::k1G).ok());

  auto t = pt.translate(0x40000000 + k2M + 0x12345);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->phys, 0x80000000 + k2M + 0x12345);
  EXPECT_EQ(t->size, PageSize::k2M);
  uint64_t e = pt.leaf_entry(0x40000000 + k2M).value();
  EXPECT_TRUE(e & pte::kLargePage);
  EXPECT_EQ(e & pte::kAddrMask2M, 0x80000000 + k2M);

  t = pt.translate(0x8000000000 + 0x3fffffff);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->phys, 0x140000000 + 0x3fffffffull);
  EXPECT_EQ(t->size, PageSize::k1G);
  EXPECT_EQ(t->prot, unsigned(Prot::Read));
  e = pt.leaf_entry(0x8000000000).value();
  EXPECT_TRUE(e & pte::kLargePage);
  EXPECT_EQ(e & pte::kAddrMask1G, 0x140000000u);
  // The 1G leaf sits in the PDPT: PDPTE at level 2 is the leaf itself.
  EXPECT_EQ(entry_at(pt, 0x8000000000, 2), e);

  // 2M: PML4 + PDPT + PD; 1G in another PML4 slot: + PDPT.
  EXPECT_EQ(pt.count_table_pages(), 4u);
  EXPECT_EQ(frames_.outstanding(), 4u);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, PermissionEncodingInLeaves) {
  struct Case {
    unsigned prot;
    uint64_t set, clear;
  };
  const uint64_t all = pte::kWritable | pte::kUser | pte::kNoExecute | pte::kGlobal | pte::kCacheDisable |
                       pte::kWriteThrough;
  const Case cases[] = {
      {Prot::Read, pte::kNoExecute, all & ~pte::kNoExecute},
      {kRW, pte::kWritable | pte::kNoExecute, pte::kUser | pte::kGlobal | pte::kCacheDisable | pte::kWriteThrough},
      {Prot::Read | Prot::Execute, 0, all},
      {Prot::Read | Prot::User, pte::kUser | pte::kNoExecute, pte::kWritable},
      {Prot::Read | Prot::Global | Prot::Execute, pte::kGlobal, all & ~pte::kGlobal},
      {kRW | Prot::Uncached, pte::kCacheDisable | pte::kWriteThrough | pte::kWritable, pte::kUser | pte::kGlobal},
      {kRW | Prot::WriteCombining, pte::kCacheDisable | pte::kWriteThrough, pte::kUser},
      {Prot::kAll, all & ~pte::kNoExecute, pte::kNoExecute},
  };
  PageTable pt = make();
  uint64_t va = 0x10000000;
  for (const Case& c : cases) {
    for (PageSize ps : {PageSize::k4K, PageSize::k2M}) {
      uint64_t sz = page_size_bytes(ps);
      va = ktl::align_up(va, sz);
      ASSERT_TRUE(pt.map(va, 0x200000, sz, c.prot, ps).ok()) << c.prot;
      uint64_t e = pt.leaf_entry(va).value();
      SCOPED_TRACE(testing::Message() << "prot " << c.prot << " entry " << std::hex << e);
      EXPECT_TRUE(e & pte::kPresent);
      EXPECT_EQ(e & c.set, c.set);
      EXPECT_EQ(e & c.clear, 0u);
      EXPECT_EQ(bool(e & pte::kLargePage), ps == PageSize::k2M);
      EXPECT_EQ(e & (pte::kAccessed | pte::kDirty), 0u);
      unsigned expect = c.prot & ~unsigned(Prot::WriteCombining);
      if (c.prot & Prot::WriteCombining) expect |= Prot::Uncached;
      EXPECT_EQ(pt.translate(va).value().prot, expect);
      va += sz;
    }
  }
  pt.destroy();
}

TEST_F(PageTableTest, IntermediateEntriesGainUserAndNeverNx) {
  PageTable pt = make();
  const uint64_t kernel_va = 0x600000000, user_va = 0x600001000;
  ASSERT_TRUE(pt.map(kernel_va, 0x300000, k4K, kRW).ok());
  for (int level = 3; level >= 1; --level) {
    uint64_t e = entry_at(pt, kernel_va, level);
    EXPECT_EQ(e & ~pte::kAddrMask, pte::kPresent | pte::kWritable) << level;
  }
  // A user page below the same tables adds US on the whole path.
  ASSERT_TRUE(pt.map(user_va, 0x301000, k4K, Prot::Read | Prot::User).ok());
  for (int level = 3; level >= 1; --level)
    EXPECT_EQ(entry_at(pt, kernel_va, level) & ~pte::kAddrMask, pte::kPresent | pte::kWritable | pte::kUser);
  // The kernel page stays supervisor-only (US on its leaf is clear).
  EXPECT_EQ(pt.translate(kernel_va).value().prot & Prot::User, 0u);
  EXPECT_TRUE(pt.translate(user_va).value().prot & Prot::User);
  // Unmapping the user page does not take US away from the intermediates.
  ASSERT_TRUE(pt.unmap(user_va, k4K).ok());
  EXPECT_TRUE(entry_at(pt, kernel_va, 1) & pte::kUser);
  // Executable leaf: no NX anywhere on the path.
  ASSERT_TRUE(pt.map(0x7f0000000000, 0x302000, k4K, Prot::Read | Prot::Execute | Prot::User).ok());
  for (int level = 3; level >= 0; --level)
    EXPECT_EQ(entry_at(pt, 0x7f0000000000, level) & pte::kNoExecute, 0u) << level;
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, TranslateCombinesRightsOfAllLevels) {
  // Adopted tables may restrict rights above the leaf (§4.6): translate must
  // report the effective rights.
  PageTable pt = make();
  const uint64_t va = 0x1234000;
  ASSERT_TRUE(pt.map(va, 0x5000, k4K, Prot::kAll & ~(Prot::Uncached | Prot::WriteCombining)).ok());
  uint64_t* pde = &mm::phys_to_ptr<uint64_t>(entry_at(pt, va, 2) & pte::kAddrMask)[(va >> 21) & 511];
  *pde = (*pde & ~(pte::kWritable | pte::kUser)) | pte::kNoExecute;
  EXPECT_EQ(pt.translate(va).value().prot, Prot::Read | Prot::Global);
  pt.destroy();
}

TEST_F(PageTableTest, RejectsBadArguments) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x1000, 0x1000, k4K, kRW).ok());
  const Snapshot before = snapshot(pt);
  const uint64_t outstanding = frames_.outstanding();

  struct Case {
    uint64_t virt;
    mm::PhysAddr phys;
    uint64_t size;
    unsigned prot;
    PageSize ps;
    Error err;
  };
  const Case cases[] = {
      {0x200000, 0, 0, kRW, PageSize::k4K, Error::InvalidArgument},                  // size 0
      {0x200000, 0, k4K, kRW | 128, PageSize::k4K, Error::InvalidArgument},          // unknown prot bit
      {0x200000, 0, k4K, Prot::Write, PageSize::k4K, Error::InvalidArgument},        // no Read
      {0x200000, 0, k4K, 0, PageSize::k4K, Error::InvalidArgument},                  // no Read
      {0x200800, 0, k4K, kRW, PageSize::k4K, Error::Misaligned},                     // virt
      {0x200000, 0x800, k4K, kRW, PageSize::k4K, Error::Misaligned},                 // phys
      {0x200000, 0, 0x800, kRW, PageSize::k4K, Error::Misaligned},                   // size
      {0x201000, 0, k2M, kRW, PageSize::k2M, Error::Misaligned},                     // virt for 2M
      {0x200000, 0x1000, k2M, kRW, PageSize::k2M, Error::Misaligned},                // phys for 2M
      {0x200000, 0, k4K, kRW, PageSize::k2M, Error::Misaligned},                     // size for 2M
      {0x40000000, 0x200000, k1G, kRW, PageSize::k1G, Error::Misaligned},            // phys for 1G
      {0x40200000, 0, k1G, kRW, PageSize::k1G, Error::Misaligned},                   // virt for 1G
      {0xfffffffffffff000, 0, 0x2000, kRW, PageSize::k4K, Error::Overflow},          // virt wraps
      {0x200000, 0xfffffffffffff000, 0x2000, kRW, PageSize::k4K, Error::Overflow},   // phys wraps
      {0x0000800000000000, 0, k4K, kRW, PageSize::k4K, Error::InvalidArgument},      // non-canonical
      {0xffff7ffffffff000, 0, k4K, kRW, PageSize::k4K, Error::InvalidArgument},      // non-canonical
      {0x1000000000000000, 0, k4K, kRW, PageSize::k4K, Error::InvalidArgument},      // non-canonical
      {0x7ffffffff000, 0, 0x2000, kRW, PageSize::k4K, Error::InvalidArgument},       // runs into the hole
      {0x200000, 1ull << 52, k4K, kRW, PageSize::k4K, Error::OutOfRange},            // phys too big
      {0x200000, (1ull << 52) - k4K, 0x2000, kRW, PageSize::k4K, Error::OutOfRange}, // ends above 2^52
  };
  for (const Case& c : cases) {
    auto r = pt.map(c.virt, c.phys, c.size, c.prot, c.ps);
    EXPECT_EQ(r.error(), c.err) << std::hex << c.virt << " " << c.phys << " " << c.size;
  }
  // Largest physical address is accepted.
  ASSERT_TRUE(pt.map(0x200000, (1ull << 52) - k4K, k4K, kRW).ok());
  EXPECT_EQ(pt.translate(0x200000).value().phys, (1ull << 52) - k4K);
  ASSERT_TRUE(pt.unmap(0x200000, k4K).ok());

  EXPECT_EQ(pt.unmap(0x200000, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.unmap(0x200800, k4K).error(), Error::Misaligned);
  EXPECT_EQ(pt.unmap(0x200000, 0x800).error(), Error::Misaligned);
  EXPECT_EQ(pt.unmap(0x800000000000, k4K).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.unmap(0xfffffffffffff000, 0x2000).error(), Error::Overflow);
  // Both ends canonical, but the range spans the whole hole.
  EXPECT_EQ(pt.unmap(0x0, 0xffff800000001000).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x7ffffffff000, 0xffff000000002000, kRW).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x1000, k4K, Prot::Write).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x1000, k4K, kRW | 256).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x1000, 0, kRW).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x1800, k4K, kRW).error(), Error::Misaligned);
  EXPECT_EQ(pt.protect(0x7ffffffff000, 0x2000, kRW).error(), Error::InvalidArgument);

  EXPECT_EQ(snapshot(pt), before);
  EXPECT_EQ(frames_.outstanding(), outstanding);
  pt.destroy();
}

TEST_F(PageTableTest, CanonicalEdges) {
  PageTable pt = make();
  // [0x7fffffe00000, 0x800000000000): ends exactly at the hole, all canonical.
  ASSERT_TRUE(pt.map(0x7fffffe00000, 0x100000000, k2M, kRW).ok());
  EXPECT_EQ(pt.translate(0x7ffffffff000).value().phys, 0x100000000 + k2M - k4K);
  ASSERT_TRUE(pt.unmap(0x7fffffe00000, k2M).ok());
  ASSERT_TRUE(pt.map(0x7fffffe00000, 0x100000000, k2M, kRW, PageSize::k2M).ok());
  // One page more would cross into the non-canonical hole.
  EXPECT_EQ(pt.map(0x7fffffe00000, 0, k2M + k4K, kRW).error(), Error::InvalidArgument);
  // The first and last pages of the upper half.
  ASSERT_TRUE(pt.map(0xffff800000000000, 0x5000, k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0xfffffffffffff000, 0x6000, k4K, kRW).ok());  // range ends at 2^64
  EXPECT_EQ(pt.translate(0xffffffffffffffff).value().phys, 0x6fffu);
  EXPECT_EQ(pt.translate(0xffff800000000abc).value().phys, 0x5abcu);
  FlushLog log;
  ASSERT_TRUE(pt.unmap(0xfffffffffffff000, k4K, log.callback()).ok());
  ASSERT_EQ(log.ranges.size(), 1u);
  EXPECT_EQ(log.ranges[0], std::make_pair(uint64_t(0xfffffffffffff000), k4K));
  EXPECT_EQ(pt.translate(0xfffffffffffff000).error(), Error::NotFound);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, RangesCrossPdptAndPml4Boundaries) {
  PageTable pt = make();
  // Crosses a PDPT-entry (1 GiB) boundary, hence a PD and a PT boundary too.
  const uint64_t a = 0x40000000 - 2 * k4K;
  ASSERT_TRUE(pt.map(a, 0x900000, 4 * k4K, kRW).ok());
  EXPECT_EQ(pt.count_table_pages(), 1u + 1 + 2 + 2);  // PML4, PDPT, 2 PDs, 2 PTs
  // Crosses a PML4-entry (512 GiB) boundary.
  const uint64_t b = 0x8000000000 - 2 * k4K;
  ASSERT_TRUE(pt.map(b, 0xa00000, 4 * k4K, kRW).ok());
  // PD + PT under the existing PDPT, and PDPT + PD + PT under PML4 entry 1.
  EXPECT_EQ(pt.count_table_pages(), 6u + 5);
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(pt.translate(a + i * k4K).value().phys, 0x900000 + i * k4K);
    EXPECT_EQ(pt.translate(b + i * k4K).value().phys, 0xa00000 + i * k4K);
  }
  // 2M pages across a PDPT boundary, 1G pages across a PML4 boundary.
  ASSERT_TRUE(pt.map(0x100000000 - k2M, 0x40000000, 2 * k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x10000000000 - k1G, 0x80000000, 2 * k1G, kRW, PageSize::k1G).ok());
  EXPECT_EQ(pt.translate(0x100000000).value().phys, 0x40000000 + k2M);
  EXPECT_EQ(pt.translate(0x10000000000).value().phys, 0x80000000 + k1G);
  EXPECT_EQ(pt.count_table_pages(), frames_.outstanding());
  ASSERT_TRUE(pt.unmap(a, 4 * k4K).ok());
  ASSERT_TRUE(pt.unmap(b, 4 * k4K).ok());
  ASSERT_TRUE(pt.unmap(0x100000000 - k2M, 2 * k2M).ok());
  ASSERT_TRUE(pt.unmap(0x10000000000 - k1G, 2 * k1G).ok());
  EXPECT_EQ(frames_.outstanding(), 1u);
  pt.destroy();
}

TEST_F(PageTableTest, DoubleMapIsRefusedWithoutChange) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x10000, 0x100000, 4 * k4K, kRW).ok());
  const Snapshot before = snapshot(pt);
  const uint64_t outstanding = frames_.outstanding();
  // Same range, overlap at the end (first pages free), overlap at the start,
  // and a range that also needs new tables beyond the overlap.
  EXPECT_EQ(pt.map(0x10000, 0x200000, 4 * k4K, kRW).error(), Error::AlreadyExists);
  EXPECT_EQ(pt.map(0x8000, 0x200000, 0x9000, kRW).error(), Error::AlreadyExists);
  EXPECT_EQ(pt.map(0x13000, 0x200000, 0x400000, kRW).error(), Error::AlreadyExists);
  EXPECT_EQ(snapshot(pt), before);
  EXPECT_EQ(frames_.outstanding(), outstanding);
  EXPECT_EQ(pt.translate(0x8000).error(), Error::NotFound);
  EXPECT_EQ(pt.translate(0x14000).error(), Error::NotFound);
  EXPECT_EQ(pt.translate(0x13000).value().phys, 0x103000u);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, MixedPageSizesConflict) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x200000, 0x400000, k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x80000000, 0x40000000, k1G, kRW, PageSize::k1G).ok());
  ASSERT_TRUE(pt.map(0x40000000, 0x1000, k4K, kRW).ok());
  const Snapshot before = snapshot(pt);
  const uint64_t outstanding = frames_.outstanding();
  EXPECT_EQ(pt.map(0x201000, 0x1000, k4K, kRW).error(), Error::AlreadyExists);             // 4K in 2M
  EXPECT_EQ(pt.map(0x1ff000, 0x1000, 2 * k4K, kRW).error(), Error::AlreadyExists);         // straddles
  EXPECT_EQ(pt.map(0x80200000, 0x0, k2M, kRW, PageSize::k2M).error(), Error::AlreadyExists);  // 2M in 1G
  EXPECT_EQ(pt.map(0x80001000, 0x0, k4K, kRW).error(), Error::AlreadyExists);                 // 4K in 1G
  EXPECT_EQ(pt.map(0x40000000, 0x0, k2M, kRW, PageSize::k2M).error(), Error::AlreadyExists);  // 2M over 4K
  EXPECT_EQ(pt.map(0x40000000, 0x0, k1G, kRW, PageSize::k1G).error(), Error::AlreadyExists);  // 1G over 4K
  EXPECT_EQ(pt.map(0x0, 0x0, k1G, kRW, PageSize::k1G).error(), Error::AlreadyExists);         // 1G over 2M
  EXPECT_EQ(snapshot(pt), before);
  EXPECT_EQ(frames_.outstanding(), outstanding);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, NoMemoryMidwayChangesNothingAndLeaksNothing) {
  PageTable pt = make();
  // Existing mappings sharing some of the tables the big map needs: the PD
  // of [511 GiB, 512 GiB) and the PDPT of PML4 entry 1.
  ASSERT_TRUE(pt.map(0x7fffbff000, 0x700000, k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x8040000000, 0x800000, k2M, kRW, PageSize::k2M).ok());
  const Snapshot before = snapshot(pt);
  const uint64_t outstanding = frames_.outstanding();

  // [512 GiB - 4 MiB, 512 GiB + 2 MiB): needs two PTs in the existing PD,
  // then a PD and a PT under the existing PDPT. Every allocation is tried as
  // the failure point.
  const uint64_t virt = 0x7fffc00000, size = 6 * ktl::MiB;
  int failures = 0;
  for (int64_t budget = 0;; ++budget) {
    frames_.set_budget(budget);
    auto r = pt.map(virt, 0x10000000, size, kRW | Prot::User);
    if (r.ok()) break;
    ++failures;
    ASSERT_EQ(r.error(), Error::NoMemory) << budget;
    ASSERT_EQ(snapshot(pt), before) << budget;
    ASSERT_EQ(frames_.outstanding(), outstanding) << budget;  // leak bound: 0 in the lower half
    ASSERT_EQ(pt.count_table_pages(), outstanding);
    ASSERT_EQ(pt.translate(virt).error(), Error::NotFound);
    ASSERT_EQ(pt.translate(virt + size - k4K).error(), Error::NotFound);
    ASSERT_EQ(pt.translate(0x7fffbff000).value().phys, 0x700000u);
    ASSERT_EQ(pt.translate(0x8040100000).value().phys, 0x900000u);
    ASSERT_LT(budget, 100);
  }
  EXPECT_EQ(failures, 4);  // PT, PT, PD, PT
  frames_.set_budget(-1);
  for (uint64_t off = 0; off < size; off += 97 * k4K)
    EXPECT_EQ(pt.translate(virt + off).value().phys, 0x10000000 + off);
  EXPECT_EQ(pt.count_table_pages(), frames_.outstanding());
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, NoMemoryInKernelHalfKeepsOnlyThePdpt) {
  PageTable pt = make();
  frames_.set_budget(2);  // PDPT and PD succeed, the PT fails
  EXPECT_EQ(pt.map(0xffff900000000000, 0x1000, k4K, kRW).error(), Error::NoMemory);
  frames_.set_budget(-1);
  EXPECT_EQ(frames_.outstanding(), 2u);  // PML4 + the documented kernel-half PDPT
  EXPECT_EQ(pt.count_table_pages(), 2u);
  EXPECT_EQ(pt.translate(0xffff900000000000).error(), Error::NotFound);
  ASSERT_TRUE(pt.map(0xffff900000000000, 0x1000, k4K, kRW).ok());  // the empty PDPT is reused
  EXPECT_EQ(frames_.outstanding(), 4u);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, UnmapFreesEmptyTablesAndReportsFlushes) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x10000, 0x100000, 4 * k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x20000, 0x200000, 2 * k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x600000, 0x400000, k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x800000, 0x300000, k4K, kRW).ok());  // adjacent to the 2M page
  ASSERT_TRUE(pt.map(0x8000000000, 0x40000000, k1G, kRW, PageSize::k1G).ok());
  ASSERT_TRUE(pt.map(0x7ffff0000000, 0x500000, k4K, kRW).ok());
  EXPECT_EQ(pt.count_table_pages(), frames_.outstanding());
  const uint64_t before = frames_.outstanding();

  FlushLog log;
  log.frames = &frames_;
  ASSERT_TRUE(pt.unmap(0x0, 0x1000000, log.callback()).ok());
  // Runs of mapped pages, coalesced across page sizes; holes are not reported.
  std::vector<std::pair<uint64_t, uint64_t>> expect = {
      {0x10000, 4 * k4K}, {0x20000, 2 * k4K}, {0x600000, k2M + k4K}};
  EXPECT_EQ(log.ranges, expect);
  // All reports precede the first free of a table page.
  for (uint64_t n : log.outstanding_at_flush) EXPECT_EQ(n, before);
  // Both PTs, the PD for [0, 1 GiB) and then its PDPT became empty and are
  // gone; the tables for the 1G page and for 0x7ffff0000000 stay.
  EXPECT_EQ(pt.translate(0x10000).error(), Error::NotFound);
  EXPECT_EQ(entry_at(pt, 0x0, 3) & pte::kPresent, 0u);  // PML4 entry 0
  EXPECT_EQ(pt.count_table_pages(), 1u + 1 + 3);  // PML4, PDPT(512G), PDPT+PD+PT(0x7ffff0000000)
  EXPECT_EQ(pt.count_table_pages(), frames_.outstanding());

  log.ranges.clear();
  ASSERT_TRUE(pt.unmap(0x8000000000, k1G, log.callback()).ok());
  ASSERT_TRUE(pt.unmap(0x7ffff0000000, k4K, log.callback()).ok());
  expect = {{0x8000000000, k1G}, {0x7ffff0000000, k4K}};
  EXPECT_EQ(log.ranges, expect);
  EXPECT_EQ(frames_.outstanding(), 1u);
  EXPECT_EQ(pt.count_table_pages(), 1u);
  const uint64_t* pml4 = mm::phys_to_ptr<uint64_t>(pt.root());
  for (unsigned i = 0; i < 512; ++i) ASSERT_EQ(pml4[i], 0u) << i;
  pt.destroy();
}

TEST_F(PageTableTest, UnmapHolesIsIdempotent) {
  PageTable pt = make();
  FlushLog log;
  ASSERT_TRUE(pt.unmap(0x400000, 0x10000, log.callback()).ok());  // nothing there at all
  ASSERT_TRUE(pt.map(0x400000, 0x100000, k4K, kRW).ok());
  ASSERT_TRUE(pt.unmap(0x400000, 0x10000, log.callback()).ok());
  ASSERT_TRUE(pt.unmap(0x400000, 0x10000, log.callback()).ok());
  ASSERT_TRUE(pt.unmap(0x400000, 0x10000).ok());  // no callback
  ASSERT_EQ(log.ranges.size(), 1u);
  EXPECT_EQ(log.ranges[0], std::make_pair(uint64_t(0x400000), k4K));
  EXPECT_EQ(frames_.outstanding(), 1u);
  pt.destroy();
}

TEST_F(PageTableTest, UnmapPartOfALargePageIsRefused) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x1ff000, 0x1000, k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x200000, 0x400000, k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x40000000, 0x40000000, k1G, kRW, PageSize::k1G).ok());
  const Snapshot before = snapshot(pt);
  FlushLog log;
  // Covers the 4K page fully but only the first half of the 2M page: the 4K
  // page must not be unmapped either.
  EXPECT_EQ(pt.unmap(0x1ff000, k4K + k2M / 2, log.callback()).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.unmap(0x201000, k4K).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.unmap(0x40000000, k1G - k2M).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.unmap(0x40200000, k1G).error(), Error::InvalidArgument);
  EXPECT_EQ(pt.protect(0x200000, k4K, Prot::Read).error(), Error::InvalidArgument);
  EXPECT_EQ(snapshot(pt), before);
  EXPECT_TRUE(log.ranges.empty());
  // Fully covered: fine.
  ASSERT_TRUE(pt.unmap(0x1ff000, k4K + k2M, log.callback()).ok());
  ASSERT_TRUE(pt.unmap(0x40000000, k1G, log.callback()).ok());
  EXPECT_EQ(pt.translate(0x200000).error(), Error::NotFound);
  EXPECT_EQ(frames_.outstanding(), 1u);
  pt.destroy();
}

TEST_F(PageTableTest, Protect) {
  PageTable pt = make();
  ASSERT_TRUE(pt.map(0x10000, 0x100000, 4 * k4K, kRW | Prot::User).ok());
  ASSERT_TRUE(pt.map(0x200000, 0x400000, k2M, kRW, PageSize::k2M).ok());
  // Hardware-set A/D bits survive a protect.
  uint64_t* pte0 = &mm::phys_to_ptr<uint64_t>(entry_at(pt, 0x10000, 1) & pte::kAddrMask)[0x10];
  *pte0 |= pte::kAccessed | pte::kDirty;

  FlushLog log;
  ASSERT_TRUE(pt.protect(0x10000, 2 * k4K, Prot::Read | Prot::Execute | Prot::User, log.callback()).ok());
  uint64_t e = pt.leaf_entry(0x10000).value();
  EXPECT_EQ(e & pte::kAddrMask, 0x100000u);
  EXPECT_EQ(e & (pte::kAccessed | pte::kDirty), pte::kAccessed | pte::kDirty);
  EXPECT_EQ(e & (pte::kWritable | pte::kNoExecute), 0u);
  EXPECT_TRUE(e & pte::kUser);
  EXPECT_EQ(pt.translate(0x11000).value().prot, Prot::Read | Prot::Execute | Prot::User);
  EXPECT_EQ(pt.translate(0x12000).value().prot, kRW | Prot::User);  // outside the range
  ASSERT_EQ(log.ranges.size(), 1u);
  EXPECT_EQ(log.ranges[0], std::make_pair(uint64_t(0x10000), 2 * k4K));

  // Same permissions again: nothing changes, nothing to flush.
  log.ranges.clear();
  ASSERT_TRUE(pt.protect(0x10000, 2 * k4K, Prot::Read | Prot::Execute | Prot::User, log.callback()).ok());
  EXPECT_TRUE(log.ranges.empty());

  // A large page keeps PS and its frame; making it User adds US above it.
  ASSERT_TRUE(pt.protect(0x200000, k2M, Prot::Read | Prot::User | Prot::Uncached).ok());
  e = pt.leaf_entry(0x200000).value();
  EXPECT_TRUE(e & pte::kLargePage);
  EXPECT_EQ(e & pte::kAddrMask2M, 0x400000u);
  EXPECT_EQ(e & (pte::kCacheDisable | pte::kWriteThrough | pte::kUser | pte::kNoExecute),
            pte::kCacheDisable | pte::kWriteThrough | pte::kUser | pte::kNoExecute);
  EXPECT_EQ(pt.translate(0x3fffff).value().prot, Prot::Read | Prot::User | Prot::Uncached);

  // A hole in the range: NotFound, and the mapped pages keep their rights.
  const Snapshot before = snapshot(pt);
  EXPECT_EQ(pt.protect(0x10000, 5 * k4K, kRW).error(), Error::NotFound);
  EXPECT_EQ(pt.protect(0x0, 0x20000, kRW).error(), Error::NotFound);
  EXPECT_EQ(pt.protect(0x40000000, k4K, kRW).error(), Error::NotFound);
  EXPECT_EQ(snapshot(pt), before);
  EXPECT_EQ(frames_.outstanding(), pt.count_table_pages());
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, DestroyFreesTablesButNotMappedFrames) {
  PageTable pt = make();
  // Frames from the same allocator mapped as data: destroy must leave them.
  mm::PhysAddr data[3];
  for (auto& d : data) d = frames_.alloc().value();
  ASSERT_TRUE(pt.map(0x400000, data[0], k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x7fff00000000, data[1], k4K, kRW | Prot::User).ok());
  ASSERT_TRUE(pt.map(0x123456789000, data[2], k4K, kRW).ok());
  ASSERT_TRUE(pt.map(0x40000000, 0x40000000, 4 * k2M, kRW, PageSize::k2M).ok());
  ASSERT_TRUE(pt.map(0x100000000, 0x0, 2 * k1G, kRW, PageSize::k1G).ok());
  ASSERT_TRUE(pt.map(0xffffffff80000000, 0x0, 8 * k4K, kRW | Prot::Global).ok());  // owned kernel half
  EXPECT_EQ(pt.count_table_pages() + 3, frames_.outstanding());
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 3u);
  for (auto d : data) frames_.free(d);
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, SharedKernelHalfSurvivesDestroy) {
  PageTable kernel = make();
  ASSERT_TRUE(kernel.map(0xffffffff80000000, 0x200000, 16 * k4K, kRW | Prot::Global | Prot::Execute).ok());
  ASSERT_TRUE(kernel.map(0xffff800000000000, 0x0, 4 * k2M, kRW, PageSize::k2M).ok());
  const Snapshot kernel_before = snapshot(kernel);
  const uint64_t kernel_pages = frames_.outstanding();
  EXPECT_EQ(kernel.count_table_pages(), kernel_pages);

  PageTable user = make();
  user.share_kernel_half(kernel);
  EXPECT_EQ(user.count_table_pages(), 1u);  // shared tables are not the user's
  EXPECT_EQ(user.translate(0xffffffff80003123).value().phys, 0x203123u);
  EXPECT_EQ(user.translate(0xffff800000300000).value().phys, 0x300000u);
  // The user table refuses to edit the shared half.
  EXPECT_EQ(user.map(0xffffffff90000000, 0x0, k4K, kRW).error(), Error::InvalidArgument);
  EXPECT_EQ(user.unmap(0xffffffff80000000, k4K).error(), Error::InvalidArgument);
  EXPECT_EQ(user.protect(0xffffffff80000000, k4K, Prot::Read).error(), Error::InvalidArgument);
  ASSERT_TRUE(user.map(0x400000, 0x900000, 8 * k4K, kRW | Prot::User).ok());
  EXPECT_EQ(user.count_table_pages(), 4u);

  user.destroy();
  EXPECT_EQ(frames_.outstanding(), kernel_pages);
  EXPECT_EQ(snapshot(kernel), kernel_before);
  EXPECT_EQ(kernel.translate(0xffffffff80000000).value().phys, 0x200000u);

  // The kernel's own unmap keeps its kernel-half PDPTs (others point at them).
  ASSERT_TRUE(kernel.unmap(0xffffffff80000000, 16 * k4K).ok());
  ASSERT_TRUE(kernel.unmap(0xffff800000000000, 4 * k2M).ok());
  EXPECT_EQ(kernel.count_table_pages(), 3u);  // PML4 + two PDPTs
  EXPECT_EQ(frames_.outstanding(), 3u);
  kernel.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, PopulatedKernelHalfPropagatesLaterMappings) {
  PageTable kernel = make();
  ASSERT_TRUE(kernel.populate_kernel_half().ok());
  EXPECT_EQ(frames_.outstanding(), 1u + 256);
  ASSERT_TRUE(kernel.populate_kernel_half().ok());  // idempotent
  EXPECT_EQ(frames_.outstanding(), 1u + 256);

  PageTable a = make();
  PageTable b = make();
  a.share_kernel_half(kernel);
  b.share_kernel_half(kernel);
  // Mapped after the sharing, anywhere in the kernel half: both see it.
  ASSERT_TRUE(kernel.map(0xffffc00000000000, 0xfee00000, k4K, kRW | Prot::Uncached).ok());
  EXPECT_EQ(a.translate(0xffffc00000000000).value().phys, 0xfee00000u);
  EXPECT_EQ(b.translate(0xffffc00000000000).value().prot, kRW | Prot::Uncached);
  ASSERT_TRUE(kernel.unmap(0xffffc00000000000, k4K).ok());
  EXPECT_EQ(a.translate(0xffffc00000000000).error(), Error::NotFound);
  a.destroy();
  b.destroy();
  EXPECT_EQ(frames_.outstanding(), 1u + 256);
  kernel.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, PopulateKernelHalfNoMemoryCanBeResumed) {
  PageTable kernel = make();
  frames_.set_budget(10);
  EXPECT_EQ(kernel.populate_kernel_half().error(), Error::NoMemory);
  frames_.set_budget(-1);
  EXPECT_EQ(kernel.count_table_pages(), 11u);
  ASSERT_TRUE(kernel.populate_kernel_half().ok());
  EXPECT_EQ(kernel.count_table_pages(), 257u);
  kernel.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

TEST_F(PageTableTest, AdoptAndMove) {
  PageTable built = make();
  ASSERT_TRUE(built.map(0xffffffff80000000, 0x0, 2 * k2M, kRW, PageSize::k2M).ok());
  PageTable adopted = PageTable::adopt(built.root(), frames_.table_allocator());
  EXPECT_EQ(adopted.translate(0xffffffff80201000).value().phys, 0x201000u);
  ASSERT_TRUE(adopted.map(0x1000, 0x1000, k4K, kRW).ok());
  EXPECT_EQ(built.translate(0x1000).value().phys, 0x1000u);  // same tables

  PageTable moved(std::move(adopted));
  EXPECT_EQ(adopted.root(), 0u);
  adopted.destroy();  // no-op on a moved-from table
  EXPECT_EQ(moved.root(), built.root());
  moved.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

// Random 4 KiB map/unmap/protect against a model, over windows that sit on a
// PD, PDPT-entry and PML4-entry boundary and at the end of the lower half;
// with occasional allocation failures.
TEST_F(PageTableTest, RandomizedAgainstModel) {
  struct Page {
    mm::PhysAddr phys;
    unsigned prot;
  };
  std::map<uint64_t, Page> model;
  PageTable pt = make();
  std::mt19937_64 rng(0x6b65656c);  // fixed seed: "keel"
  const uint64_t windows[] = {0x0, 0x3ff00000, 0x7ffff00000, 0x7fffffe80000};
  const uint64_t kWindowPages = 512;
  const unsigned prots[] = {Prot::Read, kRW, kRW | Prot::User, Prot::Read | Prot::Execute | Prot::User,
                            kRW | Prot::Global};
  auto rand = [&](uint64_t n) { return rng() % n; };

  auto expected_tables = [&] {
    std::set<uint64_t> pts, pds, pdpts;
    for (auto& [va, _] : model) {
      pts.insert(va >> 21);
      pds.insert(va >> 30);
      pdpts.insert(va >> 39);
    }
    return 1 + pts.size() + pds.size() + pdpts.size();
  };
  auto verify_all = [&] {
    for (auto& [va, p] : model) {
      auto t = pt.translate(va);
      ASSERT_TRUE(t.ok()) << std::hex << va;
      ASSERT_EQ(t->phys, p.phys);
      ASSERT_EQ(t->prot, p.prot);
    }
    // Minimal: exactly the tables the mappings need, no empty ones left over.
    ASSERT_EQ(pt.count_table_pages(), expected_tables());
    ASSERT_EQ(frames_.outstanding(), pt.count_table_pages());
  };

  uint64_t next_phys = 0x100000000;
  for (int op = 0; op < 6000; ++op) {
    const uint64_t base = windows[rand(4)] + rand(kWindowPages) * k4K;
    const uint64_t pages = 1 + rand(8);
    const uint64_t size = pages * k4K;
    const bool past_hole = base + size > 0x800000000000;
    bool any = false, all = true;
    for (uint64_t i = 0; i < pages; ++i) {
      bool m = model.count(base + i * k4K);
      any |= m;
      all &= m;
    }
    SCOPED_TRACE(testing::Message() << "op " << op << " base " << std::hex << base << " pages " << pages);
    const int kind = int(rand(10));
    if (kind < 5) {  // map
      const unsigned prot = prots[rand(5)];
      const bool starve = rand(8) == 0;
      if (starve) frames_.set_budget(int64_t(rand(3)));
      const Snapshot before = starve ? snapshot(pt) : Snapshot{};
      auto r = pt.map(base, next_phys, size, prot);
      frames_.set_budget(-1);
      if (past_hole) {
        ASSERT_EQ(r.error(), Error::InvalidArgument);
      } else if (any) {
        ASSERT_EQ(r.error(), Error::AlreadyExists);
      } else if (!r.ok()) {
        ASSERT_TRUE(starve);
        ASSERT_EQ(r.error(), Error::NoMemory);
        ASSERT_EQ(snapshot(pt), before);
      } else {
        for (uint64_t i = 0; i < pages; ++i) model[base + i * k4K] = Page{next_phys + i * k4K, prot};
        next_phys += size;
      }
    } else if (kind < 8) {  // unmap
      FlushLog log;
      auto r = pt.unmap(base, size, log.callback());
      if (past_hole) {
        ASSERT_EQ(r.error(), Error::InvalidArgument);
      } else {
        ASSERT_TRUE(r.ok());
        uint64_t flushed = 0;
        for (auto& [v, s] : log.ranges) {
          ASSERT_GE(v, base);
          ASSERT_LE(v + s, base + size);
          for (uint64_t a = v; a < v + s; a += k4K) ASSERT_TRUE(model.count(a));
          flushed += s;
        }
        uint64_t mapped = 0;
        for (uint64_t i = 0; i < pages; ++i) mapped += model.erase(base + i * k4K) * k4K;
        ASSERT_EQ(flushed, mapped);
      }
    } else if (kind < 9) {  // protect
      const unsigned prot = prots[rand(5)];
      auto r = pt.protect(base, size, prot);
      if (past_hole) {
        ASSERT_EQ(r.error(), Error::InvalidArgument);
      } else if (!all) {
        ASSERT_EQ(r.error(), Error::NotFound);
      } else {
        ASSERT_TRUE(r.ok());
        for (uint64_t i = 0; i < pages; ++i) model[base + i * k4K].prot = prot;
      }
    } else {  // translate
      auto t = pt.translate(base);
      auto it = model.find(base);
      if (base >= 0x800000000000) {
        ASSERT_EQ(t.error(), Error::InvalidArgument);
      } else if (it == model.end()) {
        ASSERT_EQ(t.error(), Error::NotFound);
      } else {
        ASSERT_EQ(t.value().phys, it->second.phys);
      }
    }
    if (op % 64 == 0) ASSERT_NO_FATAL_FAILURE(verify_all());
  }
  ASSERT_NO_FATAL_FAILURE(verify_all());
  EXPECT_GT(model.size(), 100u);  // the test exercised a populated table

  for (uint64_t w : windows)
    ASSERT_TRUE(pt.unmap(w, std::min((kWindowPages + 8) * k4K, 0x800000000000 - w)).ok());
  EXPECT_EQ(frames_.outstanding(), 1u);
  EXPECT_EQ(pt.count_table_pages(), 1u);
  pt.destroy();
  EXPECT_EQ(frames_.outstanding(), 0u);
}

}  // namespace
}  // namespace x86
