// mm/slab_test.cc — host tests for slab caches and the kernel heap.
//
// Slab caches run on a counting fake page source over fake RAM; the heap runs
// on a real FrameAllocator over fake RAM. ASan cannot see object boundaries
// inside fake RAM, so every object is filled with its own pattern and all
// patterns are verified afterwards, which proves that objects do not overlap.
#include <mm/frame_allocator.h>
#include <mm/heap.h>
#include <mm/slab.h>

#include <ktl/align.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
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
  uint64_t size() const { return size_; }
  bool contains(const void* p, size_t n) const {
    const auto v = reinterpret_cast<uintptr_t>(p);
    const auto m = reinterpret_cast<uintptr_t>(mem_);
    return v >= m && v + n <= m + size_;
  }

 private:
  PhysAddr base_;
  uint64_t size_;
  uint8_t* mem_;
};

// Hands out the pages of fake RAM one by one, up to `limit`, and counts them.
class CountingSource {
 public:
  CountingSource(FakeRam& ram, size_t limit) : limit_(limit) {
    for (PhysAddr p = ram.base(); p < ram.base() + ram.size(); p += kPageSize) free_.push_back(p);
    std::reverse(free_.begin(), free_.end());
  }
  PageSource source() {
    return PageSource{
        [](void* ctx) -> ktl::Result<PhysAddr> {
          auto* self = static_cast<CountingSource*>(ctx);
          if (self->outstanding_.size() >= self->limit_ || self->free_.empty()) return ktl::Error::NoMemory;
          const PhysAddr p = self->free_.back();
          self->free_.pop_back();
          self->outstanding_.push_back(p);
          ++self->allocs_;
          return p;
        },
        [](void* ctx, PhysAddr p) {
          auto* self = static_cast<CountingSource*>(ctx);
          auto it = std::find(self->outstanding_.begin(), self->outstanding_.end(), p);
          ASSERT_NE(it, self->outstanding_.end()) << "page not handed out: " << std::hex << p;
          self->outstanding_.erase(it);
          self->free_.push_back(p);
        },
        this,
    };
  }
  size_t outstanding() const { return outstanding_.size(); }
  size_t allocs() const { return allocs_; }

 private:
  size_t limit_;
  size_t allocs_ = 0;
  std::vector<PhysAddr> free_;
  std::vector<PhysAddr> outstanding_;
};

struct Misuse {
  std::string what;
  const void* ptr;
};
std::vector<Misuse> g_misuse;
void record_misuse(const char* what, const void* ptr) { g_misuse.push_back({what, ptr}); }

// Deterministic PRNG (splitmix64).
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

// Fills [p, p + n) with a pattern derived from `id`, and checks it.
void fill(void* p, size_t n, uint32_t id) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(id * 31 + i * 7 + (id >> 8));
}
bool intact(const void* p, size_t n, uint32_t id) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != uint8_t(id * 31 + i * 7 + (id >> 8))) return false;
  return true;
}

struct Obj {
  void* p;
  size_t size;
  uint32_t id;
};

// No two [p, p + size) intersect (sorted sweep).
bool disjoint(std::vector<Obj> objs) {
  std::sort(objs.begin(), objs.end(), [](const Obj& a, const Obj& b) { return a.p < b.p; });
  for (size_t i = 1; i < objs.size(); ++i)
    if (static_cast<uint8_t*>(objs[i - 1].p) + objs[i - 1].size > static_cast<uint8_t*>(objs[i].p))
      return false;
  return true;
}

class SlabTest : public ::testing::Test {
 protected:
  void SetUp() override { g_misuse.clear(); }
  FakeRam ram_{1 * MiB, 4 * MiB};
};

TEST_F(SlabTest, InitRejectsBadParameters) {
  CountingSource src(ram_, 100);
  SlabCache c;
  EXPECT_EQ(c.init("x", 0, 8, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.init("x", 2049, 8, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.init("x", 64, 3, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.init("x", 64, 4096, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.init("x", 64, 0, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.init("x", 64, 8, PageSource{nullptr, nullptr, nullptr}).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.alloc(), nullptr);  // not initialised
  ASSERT_TRUE(c.init("ok", 2048, 2048, src.source()).ok());
  EXPECT_EQ(c.init("ok", 64, 8, src.source()).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(c.objects_per_slab(), 1u);
  EXPECT_STREQ(c.name(), "ok");
  EXPECT_EQ(src.allocs(), 0u);  // init allocates nothing
}

// Many objects of various sizes and alignments: distinct, aligned, inside
// slab pages past the header, non-overlapping; freeing all returns the pages.
TEST_F(SlabTest, ObjectsAreDistinctAlignedAndPagesReturn) {
  struct Shape {
    size_t size;
    size_t align;
  };
  const Shape shapes[] = {{1, 1},       {16, 16},    {24, 8},   {40, 8},      {64, 64},
                          {100, 4},     {128, 128},  {200, 32}, {256, 256},   {1000, 16},
                          {1024, 1024}, {1500, 512}, {2048, 8}, {2048, 2048}, {17, 1}};
  uint32_t next_id = 1;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message() << "size " << s.size << " align " << s.align);
    CountingSource src(ram_, 1000);
    SlabCache c;
    c.misuse_handler = record_misuse;
    ASSERT_TRUE(c.init("shape", s.size, s.align, src.source()).ok());
    EXPECT_GE(c.object_size(), s.size);
    EXPECT_GE(c.object_size(), SlabCache::kMinObjectSize);
    const size_t per_slab = c.objects_per_slab();
    ASSERT_GE(per_slab, 1u);
    const size_t n = per_slab * 3 + 1;  // three full slabs and a partial one

    std::vector<Obj> objs;
    for (size_t i = 0; i < n; ++i) {
      void* p = c.alloc();
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(ram_.contains(p, s.size));
      const auto v = reinterpret_cast<uintptr_t>(p);
      ASSERT_EQ(v % s.align, 0u);
      ASSERT_GE(v % kPageSize, 64u);  // past the slab header
      ASSERT_LE(v % kPageSize + c.object_size(), kPageSize);
      ASSERT_EQ(SlabCache::owner_of(p), &c);
      fill(p, s.size, next_id);
      objs.push_back({p, s.size, next_id++});
    }
    EXPECT_TRUE(disjoint(objs));
    for (const Obj& o : objs) ASSERT_TRUE(intact(o.p, o.size, o.id));
    EXPECT_EQ(c.objects_in_use(), n);
    EXPECT_EQ(c.slabs(), 4u);
    EXPECT_EQ(src.outstanding(), 4u);
    EXPECT_TRUE(c.check_invariants());

    // Free in a scrambled order, checking that nobody else wrote our bytes.
    Rng rng(s.size * 1000 + s.align);
    for (size_t i = objs.size(); i > 1; --i) std::swap(objs[i - 1], objs[rng.below(i)]);
    for (size_t i = 0; i < objs.size(); ++i) {
      ASSERT_TRUE(intact(objs[i].p, objs[i].size, objs[i].id));
      c.free(objs[i].p);
      if (kSlabPoisonEnabled) {
        const auto* b = static_cast<const uint8_t*>(objs[i].p);
        for (size_t j = 0; j < s.size; ++j) ASSERT_EQ(b[j], kSlabPoison);
      }
      if (i % 16 == 0) ASSERT_TRUE(c.check_invariants());
    }
    EXPECT_TRUE(g_misuse.empty());
    EXPECT_EQ(c.objects_in_use(), 0u);
    EXPECT_EQ(src.outstanding(), 1u);  // one empty slab stays cached
    EXPECT_EQ(c.slabs(), 1u);
    EXPECT_TRUE(c.check_invariants());
    c.shrink();
    EXPECT_EQ(src.outstanding(), 0u);
    EXPECT_EQ(c.slabs(), 0u);
    EXPECT_TRUE(c.check_invariants());
  }
}

TEST_F(SlabTest, KeepsAtMostOneEmptySlab) {
  CountingSource src(ram_, 1000);
  SlabCache c;
  ASSERT_TRUE(c.init("one-empty", 512, 512, src.source()).ok());
  const size_t per = c.objects_per_slab();
  EXPECT_EQ(per, 7u);  // (4096 - 512) / 512
  std::vector<void*> a, b;
  for (size_t i = 0; i < per; ++i) a.push_back(c.alloc());
  for (size_t i = 0; i < per; ++i) b.push_back(c.alloc());
  EXPECT_EQ(src.outstanding(), 2u);
  for (void* p : a) c.free(p);
  EXPECT_EQ(c.empty_slabs(), 1u);
  EXPECT_EQ(src.outstanding(), 2u);
  // Reuses the cached empty slab instead of asking the source.
  const size_t allocs = src.allocs();
  void* again = c.alloc();
  EXPECT_EQ(src.allocs(), allocs);
  c.free(again);
  for (void* p : b) c.free(p);
  EXPECT_EQ(c.empty_slabs(), 1u);
  EXPECT_EQ(src.outstanding(), 1u);
  EXPECT_TRUE(c.check_invariants());
}

TEST_F(SlabTest, ExhaustionReturnsNullWithoutLeaking) {
  CountingSource src(ram_, 3);
  SlabCache c;
  ASSERT_TRUE(c.init("small", 96, 32, src.source()).ok());
  std::vector<void*> objs;
  for (;;) {
    void* p = c.alloc();
    if (p == nullptr) break;
    objs.push_back(p);
    ASSERT_LE(objs.size(), 1000u);
  }
  EXPECT_EQ(objs.size(), 3 * c.objects_per_slab());
  EXPECT_EQ(src.outstanding(), 3u);
  EXPECT_EQ(c.alloc(), nullptr);  // still exhausted, nothing taken
  EXPECT_EQ(src.outstanding(), 3u);
  EXPECT_EQ(c.objects_in_use(), objs.size());
  EXPECT_TRUE(c.check_invariants());
  // Freeing one object makes exactly one allocation possible again.
  void* last = objs.back();
  objs.pop_back();
  c.free(last);
  EXPECT_EQ(c.alloc(), last);
  objs.push_back(last);
  for (void* p : objs) c.free(p);
  c.shrink();
  EXPECT_EQ(src.outstanding(), 0u);
  EXPECT_EQ(c.objects_in_use(), 0u);
}

TEST_F(SlabTest, MisuseIsReportedAndIgnored) {
  CountingSource src(ram_, 1000);
  SlabCache c, other;
  c.misuse_handler = record_misuse;
  ASSERT_TRUE(c.init("c", 48, 16, src.source()).ok());
  ASSERT_TRUE(other.init("other", 48, 16, src.source()).ok());
  void* a = c.alloc();
  void* b = c.alloc();
  void* o = other.alloc();
  ASSERT_TRUE(a && b && o);

  auto expect_misuse = [&](void* p, const char* substr) {
    g_misuse.clear();
    const size_t in_use = c.objects_in_use();
    c.free(p);
    ASSERT_EQ(g_misuse.size(), 1u);
    EXPECT_EQ(g_misuse[0].ptr, p);
    EXPECT_NE(g_misuse[0].what.find(substr), std::string::npos) << g_misuse[0].what;
    EXPECT_EQ(c.objects_in_use(), in_use);
    EXPECT_TRUE(c.check_invariants());
  };

  c.free(a);
  expect_misuse(a, "double free");
  expect_misuse(static_cast<uint8_t*>(b) + 8, "not the start");
  expect_misuse(o, "another cache");
  // A page that is no slab: fake RAM the source never handed out.
  void* stray = phys_to_virt(ram_.base() + ram_.size() - kPageSize + 256);
  expect_misuse(stray, "not a slab");
  // A page-aligned pointer never is a slab object.
  expect_misuse(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(b) & ~(kPageSize - 1)), "not a slab");
  g_misuse.clear();
  c.free(nullptr);  // no-op
  EXPECT_TRUE(g_misuse.empty());
  c.free(b);
  other.free(o);
  EXPECT_TRUE(g_misuse.empty());
  EXPECT_EQ(c.objects_in_use(), 0u);
}

TEST_F(SlabTest, WriteAfterFreeIsDetected) {
  if (!kSlabPoisonEnabled) GTEST_SKIP() << "poisoning is off in NDEBUG builds";
  CountingSource src(ram_, 1000);
  SlabCache c;
  c.misuse_handler = record_misuse;
  ASSERT_TRUE(c.init("uaf", 64, 16, src.source()).ok());
  void* keep = c.alloc();
  void* p = c.alloc();
  c.free(p);
  static_cast<uint8_t*>(p)[40] = 0x11;  // write after free
  EXPECT_FALSE(c.check_invariants());
  void* q = c.alloc();  // lowest free object first: the same one
  ASSERT_EQ(q, p);
  ASSERT_EQ(g_misuse.size(), 1u);
  EXPECT_EQ(g_misuse[0].ptr, p);
  EXPECT_NE(g_misuse[0].what.find("write after free"), std::string::npos);
  c.free(q);
  c.free(keep);
  EXPECT_TRUE(c.check_invariants());
}

// ---- The kernel heap, on a FrameAllocator over fake RAM. ----

class HeapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_misuse.clear();
    const PhysRange usable[] = {{ram_.base(), ram_.size()}};
    ASSERT_TRUE(frames_.init(usable, {}).ok());
    ASSERT_TRUE(heap_init(frames_).ok());
    kernel_heap()->set_misuse_handler(record_misuse);
    initial_free_ = frames_.free_frames();
  }
  // Everything freed and the caches shrunk: the frame allocator is whole.
  void expect_all_returned() {
    kernel_heap()->shrink();
    EXPECT_EQ(frames_.free_frames(), initial_free_);
    EXPECT_EQ(kernel_heap()->large_blocks(), 0u);
    for (size_t i = 0; i < KernelHeap::kNumClasses; ++i) {
      EXPECT_EQ(kernel_heap()->size_class(i).objects_in_use(), 0u);
      EXPECT_EQ(kernel_heap()->size_class(i).slabs(), 0u);
    }
    EXPECT_TRUE(kernel_heap()->check_invariants());
    EXPECT_TRUE(frames_.check_invariants());
  }

  FakeRam ram_{4 * MiB, 32 * MiB};
  FrameAllocator frames_;
  uint64_t initial_free_ = 0;
};

TEST_F(HeapTest, AllSizeClassesAndLargeSizes) {
  std::vector<size_t> sizes = {0,   1,   8,   15,  16,  17,  31,  32,  33,   48,   63,   64,   65,   100, 127,
                               128, 129, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048};
  const std::vector<size_t> large = {2049,      3000,    4096,        4097,    8192,        12345,
                                     64 * 1024, 1 * MiB, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 4 * MiB};
  std::vector<Obj> objs;
  uint32_t id = 1;
  for (int round = 0; round < 20; ++round) {
    for (size_t size : sizes) {
      void* p = kmalloc(size);
      ASSERT_NE(p, nullptr) << size;
      const size_t cls = std::max<size_t>(16, std::bit_ceil(std::max<size_t>(size, 1)));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % cls, 0u) << size;  // class-aligned, >= 16
      ASSERT_TRUE(ram_.contains(p, size));
      fill(p, size, id);
      objs.push_back({p, size, id++});
    }
  }
  for (size_t size : large) {
    void* p = kmalloc(size);
    ASSERT_NE(p, nullptr) << size;
    const unsigned order = order_for_size(size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % order_size(order), 0u) << size;  // block-aligned
    ASSERT_TRUE(ram_.contains(p, size));
    const Frame* f = frames_.frame(virt_to_phys(p));
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->flags, Frame::kAllocated | Frame::kKmallocLarge);
    EXPECT_EQ(f->order, order);
    fill(p, size, id);
    objs.push_back({p, size, id++});
  }
  EXPECT_EQ(kernel_heap()->large_blocks(), large.size());
  EXPECT_TRUE(disjoint(objs));
  for (const Obj& o : objs) ASSERT_TRUE(intact(o.p, o.size, o.id));
  EXPECT_TRUE(kernel_heap()->check_invariants());
  EXPECT_TRUE(frames_.check_invariants());

  Rng rng(7);
  for (size_t i = objs.size(); i > 1; --i) std::swap(objs[i - 1], objs[rng.below(i)]);
  for (const Obj& o : objs) {
    ASSERT_TRUE(intact(o.p, o.size, o.id));
    kfree(o.p);
  }
  EXPECT_TRUE(g_misuse.empty());
  expect_all_returned();
}

TEST_F(HeapTest, TooLargeFails) {
  EXPECT_EQ(kmalloc(4 * MiB + 1), nullptr);
  EXPECT_EQ(kmalloc(~size_t{0}), nullptr);
  EXPECT_EQ(kzalloc(~size_t{0}), nullptr);
  expect_all_returned();
}

TEST_F(HeapTest, KfreeNullIsNoOp) {
  kfree(nullptr);
  kdelete(static_cast<int*>(nullptr));
  EXPECT_TRUE(g_misuse.empty());
}

TEST_F(HeapTest, KzallocZeroes) {
  // Dirty some memory first, then get it back zeroed.
  std::vector<void*> dirty;
  for (size_t size : {24u, 200u, 2000u, 9000u}) {
    void* p = kmalloc(size);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x77, size);
    dirty.push_back(p);
  }
  for (void* p : dirty) kfree(p);
  for (size_t size : {24u, 200u, 2000u, 9000u}) {
    auto* p = static_cast<uint8_t*>(kzalloc(size));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], 0) << size << " @" << i;
    kfree(p);
  }
  expect_all_returned();
}

TEST_F(HeapTest, DoubleFreeAndForeignPointersAreDetected) {
  auto expect_misuse = [&](void* p) {
    g_misuse.clear();
    const uint64_t free_frames = frames_.free_frames();
    kfree(p);
    EXPECT_EQ(g_misuse.size(), 1u);
    if (!g_misuse.empty()) EXPECT_EQ(g_misuse[0].ptr, p);
    EXPECT_EQ(frames_.free_frames(), free_frames);
    EXPECT_TRUE(kernel_heap()->check_invariants());
    EXPECT_TRUE(frames_.check_invariants());
  };

  void* keep = kmalloc(64);  // keeps the slab alive across the double free
  void* small = kmalloc(64);
  kfree(small);
  expect_misuse(small);

  void* big = kmalloc(3 * kPageSize);
  ASSERT_NE(big, nullptr);
  expect_misuse(static_cast<uint8_t*>(big) + kPageSize);  // inside a large block
  kfree(big);
  expect_misuse(big);

  // A page the heap never handed out.
  auto page = frames_.alloc_page();
  ASSERT_TRUE(page.ok());
  expect_misuse(phys_to_virt(*page));
  frames_.free_page(*page);

  // An object of a cache that is not the heap's.
  struct PageCtx {
    FrameAllocator* fa;
  } ctx{&frames_};
  SlabCache foreign;
  ASSERT_TRUE(
      foreign
          .init("foreign", 64, 16,
                PageSource{[](void* c) { return static_cast<PageCtx*>(c)->fa->alloc_page(); },
                           [](void* c, PhysAddr p) { static_cast<PageCtx*>(c)->fa->free_page(p); }, &ctx})
          .ok());
  void* f = foreign.alloc();
  ASSERT_NE(f, nullptr);
  expect_misuse(f);
  foreign.free(f);
  foreign.shrink();

  kfree(keep);
  expect_all_returned();
}

TEST_F(HeapTest, ExhaustionReturnsNullAndRecovers) {
  std::vector<void*> objs;
  // Large blocks first, then small objects, until nothing is left.
  for (;;) {
    void* p = kmalloc(1 * MiB);
    if (p == nullptr) break;
    objs.push_back(p);
  }
  size_t small = 0;
  for (;;) {
    void* p = kmalloc(512);
    if (p == nullptr) break;
    objs.push_back(p);
    ++small;
  }
  EXPECT_GT(small, 0u);
  EXPECT_EQ(frames_.free_frames(), 0u);
  EXPECT_EQ(kmalloc(16), nullptr);
  EXPECT_EQ(kmalloc(5000), nullptr);
  EXPECT_TRUE(kernel_heap()->check_invariants());
  for (void* p : objs) kfree(p);
  EXPECT_TRUE(g_misuse.empty());
  expect_all_returned();
}

struct Tracked {
  static inline int live = 0;
  int a;
  uint64_t b;
  Tracked(int x, uint64_t y) : a(x), b(y) { ++live; }
  ~Tracked() { --live; }
};

struct alignas(64) Wide {
  uint8_t bytes[100];
};

TEST_F(HeapTest, KnewAndKdelete) {
  Tracked* t = knew<Tracked>(7, 0x1234567890ull);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->a, 7);
  EXPECT_EQ(t->b, 0x1234567890ull);
  EXPECT_EQ(Tracked::live, 1);
  kdelete(t);
  EXPECT_EQ(Tracked::live, 0);

  std::vector<Wide*> wides;
  for (int i = 0; i < 50; ++i) {
    Wide* w = knew<Wide>();
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w) % alignof(Wide), 0u);
    wides.push_back(w);
  }
  for (Wide* w : wides) kdelete(w);
  EXPECT_TRUE(g_misuse.empty());
  expect_all_returned();
}

TEST_F(HeapTest, InstancesInitOnceAndHeapInitResets) {
  KernelHeap h;
  EXPECT_EQ(h.alloc(16), nullptr);  // before init
  ASSERT_TRUE(h.init(frames_).ok());
  EXPECT_EQ(h.init(frames_).error(), ktl::Error::InvalidArgument);
  void* p = h.alloc(100);
  ASSERT_NE(p, nullptr);
  h.free(p);
  h.shrink();

  // A fresh heap on fresh fake RAM, as each test does.
  void* old = kmalloc(32);
  ASSERT_NE(old, nullptr);
  FakeRam ram2(8 * MiB, 8 * MiB);
  FrameAllocator fa2;
  const PhysRange usable[] = {{ram2.base(), ram2.size()}};
  ASSERT_TRUE(fa2.init(usable, {}).ok());
  ASSERT_TRUE(heap_init(fa2).ok());
  EXPECT_EQ(kernel_heap()->size_class(1).objects_in_use(), 0u);
  void* q = kmalloc(32);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(ram2.contains(q, 32));
  kfree(q);
  kernel_heap()->shrink();
  EXPECT_EQ(fa2.free_frames(), fa2.total_frames());
}

}  // namespace
}  // namespace mm
