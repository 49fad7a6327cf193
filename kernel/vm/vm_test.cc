// vm/vm_test.cc — host tests for MemoryObject and AddressSpace over fake RAM.
//
// Each test gets 32 MiB of host memory standing in for physical memory at
// kRamBase (filled with 0xcc so that missing zero-fill shows), a real
// mm::FrameAllocator over it, and real x86::PageTables. "User" accesses are
// simulated: handle_fault(), then translate() and a load/store through the
// direct map. Leaks are checked against the allocator's free frame count.
#include <vm/address_space.h>
#include <vm/memory_object.h>

#include <ktl/align.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mm {
extern bool g_kmalloc_fail_next;  // tests/host/support/kmalloc_shim.cc
}

namespace vm {
namespace {

using ktl::Error;
using ktl::RefPtr;
using x86::Prot;
using FaultResult = AddressSpace::FaultResult;

constexpr mm::PhysAddr kRamBase = 0x4000000;  // 64 MiB
constexpr uint64_t kRamSize = 32ull << 20;
constexpr uint64_t kPage = mm::kPageSize;
constexpr unsigned kR = Prot::Read;
constexpr unsigned kRW = Prot::Read | Prot::Write;
constexpr unsigned kRX = Prot::Read | Prot::Execute;

std::vector<std::string> g_misuse;
void record_misuse(const char* what, mm::PhysAddr) { g_misuse.push_back(what); }

// Records every range reported to a TlbFlush.
struct FlushLog {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  x86::TlbFlush callback() {
    return x86::TlbFlush{[](void* ctx, uint64_t virt, uint64_t size) {
                           static_cast<FlushLog*>(ctx)->ranges.emplace_back(virt, size);
                         },
                         this};
  }
  bool covers(uint64_t va) const {
    for (auto [v, s] : ranges)
      if (va >= v && va - v < s) return true;
    return false;
  }
  // Every page reported, once per report.
  std::multiset<uint64_t> pages() const {
    std::multiset<uint64_t> out;
    for (auto [v, s] : ranges)
      for (uint64_t p = v; p < v + s; p += kPage) out.insert(p);
    return out;
  }
  void clear() { ranges.clear(); }
};

uint64_t load64(mm::PhysAddr p) {
  uint64_t v;
  std::memcpy(&v, mm::phys_to_virt(p), sizeof v);
  return v;
}
void store64(mm::PhysAddr p, uint64_t v) { std::memcpy(mm::phys_to_virt(p), &v, sizeof v); }
bool page_is(mm::PhysAddr p, uint8_t byte) {
  const auto* b = mm::phys_to_ptr<uint8_t>(p);
  return std::all_of(b, b + kPage, [byte](uint8_t x) { return x == byte; });
}

class VmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ram_ = static_cast<uint8_t*>(std::aligned_alloc(4ull << 20, kRamSize));
    ASSERT_NE(ram_, nullptr);
    std::memset(ram_, 0xcc, kRamSize);
    mm::g_direct_map_base = reinterpret_cast<uintptr_t>(ram_) - kRamBase;
    const mm::PhysRange usable[] = {{kRamBase, kRamSize}};
    ASSERT_TRUE(frames_.init(usable, {}).ok());
    frames_.misuse_handler = record_misuse;
    g_misuse.clear();
    baseline_ = frames_.free_frames();
  }
  void TearDown() override {
    EXPECT_TRUE(g_misuse.empty()) << g_misuse.front();
    EXPECT_TRUE(frames_.check_invariants());
    std::free(ram_);
  }

  RefPtr<MemoryObject> vmo(uint64_t pages, object::Quota* quota = nullptr) {
    auto r = MemoryObject::create(frames_, pages * kPage, quota);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.release_value() : nullptr;
  }
  RefPtr<AddressSpace> aspace(uint64_t seed = 1) {
    auto r = AddressSpace::create(frames_, nullptr, seed);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.release_value() : nullptr;
  }
  uint32_t refcount(mm::PhysAddr frame) { return frames_.frame(frame)->refcount; }
  uint64_t used_frames() const { return baseline_ - frames_.free_frames(); }

  // A simulated user access: fault, then load (and store `value` if writing)
  // through the translation. Returns the fault result; `*out` gets the value
  // read before the store.
  FaultResult access(AddressSpace& as, uint64_t va, bool write, uint64_t value = 0, uint64_t* out = nullptr,
                     x86::TlbFlush flush = {}) {
    FaultResult r = as.handle_fault(va, write, false, true, flush);
    if (r != FaultResult::Resolved) return r;
    auto t = as.translate(va);
    EXPECT_TRUE(t.ok());
    if (!t.ok()) return r;
    EXPECT_TRUE(t->prot & Prot::User);
    if (out != nullptr) *out = load64(t->phys);
    if (write) {
      EXPECT_TRUE(t->prot & Prot::Write) << std::hex << va;
      store64(t->phys, value);
    }
    return r;
  }

  uint8_t* ram_ = nullptr;
  mm::FrameAllocator frames_;
  uint64_t baseline_ = 0;
};

// ---------------------------------------------------------------------------
// MemoryObject

TEST_F(VmTest, CreateValidatesAndRoundsSize) {
  EXPECT_EQ(MemoryObject::create(frames_, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(MemoryObject::create(frames_, MemoryObject::kMaxSize + 1).error(), Error::InvalidArgument);
  auto small = MemoryObject::create(frames_, 5000);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ((*small)->size(), 2 * kPage);
  EXPECT_EQ((*small)->page_count(), 2u);
  EXPECT_EQ((*small)->type(), object::ObjectType::MemoryObject);
  // The largest object costs a directory, no frames.
  auto big = MemoryObject::create(frames_, MemoryObject::kMaxSize);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(used_frames(), 0u);
  EXPECT_EQ((*big)->committed_pages(), 0u);
  ASSERT_TRUE((*big)->commit_page((*big)->page_count() - 1).ok());
  EXPECT_EQ(used_frames(), 2u);  // one leaf table, one page
  EXPECT_TRUE((*big)->check_invariants());
}

TEST_F(VmTest, PagesAreCommittedLazilyAndZeroFilled) {
  auto v = vmo(16);
  EXPECT_EQ(used_frames(), 0u);
  uint8_t buf[3 * kPage];
  ASSERT_TRUE(v->read(0, buf, sizeof buf).ok());  // reading commits nothing
  EXPECT_TRUE(std::all_of(buf, buf + sizeof buf, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(v->committed_pages(), 0u);
  EXPECT_EQ(used_frames(), 0u);

  auto f = v->commit_page(3);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(page_is(*f, 0));  // fake RAM is 0xcc: this was zeroed
  EXPECT_EQ(refcount(*f), 1u);
  EXPECT_EQ(v->committed_pages(), 1u);
  EXPECT_EQ(used_frames(), 2u);  // leaf + page
  EXPECT_EQ(*v->commit_page(3), *f);
  EXPECT_EQ(*v->lookup_page(3, false), *f);
  EXPECT_EQ(*v->lookup_page(3, true), *f);  // exclusive: no copy
  EXPECT_EQ(v->commit_page(16).error(), Error::OutOfRange);
  EXPECT_EQ(v->lookup_page(99, true).error(), Error::OutOfRange);
  EXPECT_TRUE(v->check_invariants());
  v = nullptr;
  EXPECT_EQ(used_frames(), 0u);
}

TEST_F(VmTest, ReadWriteAcrossPageBoundaries) {
  auto v = vmo(8);
  std::vector<uint8_t> data(10000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 1);
  ASSERT_TRUE(v->write(4000, data.data(), data.size()).ok());
  EXPECT_EQ(v->committed_pages(), 4u);  // bytes 4000..13999: pages 0..3
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(v->read(4000, back.data(), back.size()).ok());
  EXPECT_EQ(back, data);
  uint8_t edge[200];
  ASSERT_TRUE(v->read(3900, edge, sizeof edge).ok());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(edge[i], 0);
  for (int i = 100; i < 200; ++i) EXPECT_EQ(edge[i], data[i - 100]);

  uint8_t byte = 1;
  EXPECT_EQ(v->write(8 * kPage, &byte, 1).error(), Error::OutOfRange);
  EXPECT_EQ(v->read(8 * kPage - 1, edge, 2).error(), Error::OutOfRange);
  EXPECT_EQ(v->read(~0ull, edge, 2).error(), Error::OutOfRange);  // offset + len overflows
  EXPECT_TRUE(v->read(8 * kPage, edge, 0).ok());
  EXPECT_TRUE(v->write(8 * kPage - 1, &byte, 1).ok());
  EXPECT_TRUE(v->check_invariants());
}

TEST_F(VmTest, QuotaIsChargedPerObjectLeafAndPage) {
  object::Quota quota(1 << 20, 1000);
  {
    auto v = vmo(600, &quota);  // two leaves' worth of pages
    const uint64_t base_bytes = v->charged_bytes();
    EXPECT_EQ(quota.used_bytes(), base_bytes);
    EXPECT_EQ(quota.used_objects(), 1u);
    ASSERT_TRUE(v->commit_page(0).ok());
    EXPECT_EQ(quota.used_bytes(), base_bytes + 2 * kPage);  // leaf + page
    EXPECT_EQ(quota.used_objects(), 3u);
    ASSERT_TRUE(v->commit_page(1).ok());
    ASSERT_TRUE(v->commit_page(513).ok());  // second leaf
    EXPECT_EQ(quota.used_objects(), 6u);
    ASSERT_TRUE(v->decommit(kPage, kPage).ok());
    EXPECT_EQ(quota.used_objects(), 5u);
  }
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);

  // Room for the object, one leaf and one page: the second page is refused
  // and no frame is lost.
  auto probe = vmo(4);
  const uint64_t object_bytes = probe->charged_bytes();
  probe = nullptr;
  object::Quota tight(object_bytes + 2 * kPage, 100);
  {
    auto v = vmo(4, &tight);
    ASSERT_TRUE(v->commit_page(0).ok());
    const uint64_t used = used_frames();
    EXPECT_EQ(v->commit_page(1).error(), Error::QuotaExceeded);
    uint8_t byte = 1;
    EXPECT_EQ(v->write(3 * kPage, &byte, 1).error(), Error::QuotaExceeded);
    EXPECT_EQ(used_frames(), used);
    EXPECT_EQ(v->committed_pages(), 1u);
    EXPECT_TRUE(v->check_invariants());
  }
  EXPECT_EQ(tight.used_bytes(), 0u);
  object::Quota none(16, 100);
  EXPECT_EQ(MemoryObject::create(frames_, kPage, &none).error(), Error::QuotaExceeded);
}

TEST_F(VmTest, PageTablePagesAreChargedToTheAddressSpacesQuota) {
  object::Quota quota(1 << 20, 1000);
  auto v = vmo(1);
  {
    auto as = AddressSpace::create(frames_, nullptr, 3, &quota).release_value();
    const uint64_t empty_bytes = quota.used_bytes(), empty_objects = quota.used_objects();
    EXPECT_EQ(empty_bytes, sizeof(AddressSpace) + kPage);  // the object and its PML4
    auto base = as->map(v, 0, kPage, kRW, 0x40000000, {});
    ASSERT_TRUE(base.ok());
    ASSERT_EQ(as->handle_fault(*base, true, false, true, {}), AddressSpace::FaultResult::Resolved);
    // PDPT, PD and PT for the page, plus the mapping record.
    EXPECT_EQ(quota.used_bytes(), empty_bytes + 3 * kPage + sizeof(vm::Mapping));
    EXPECT_EQ(quota.used_objects(), empty_objects + 4);
    EXPECT_EQ(as->page_table_pages(), 4u);
  }
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);

  // Room for the object, the PML4 and the mapping record, not for a table:
  // the fault fails like an allocation failure and no frame is lost.
  object::Quota tight(sizeof(AddressSpace) + kPage + sizeof(vm::Mapping) + kPage, 100);
  {
    auto as = AddressSpace::create(frames_, nullptr, 3, &tight).release_value();
    auto base = as->map(v, 0, kPage, kRW, 0x40000000, {});
    ASSERT_TRUE(base.ok());
    const uint64_t used = used_frames();
    EXPECT_EQ(as->handle_fault(*base, true, false, true, {}), AddressSpace::FaultResult::NoMemory);
    EXPECT_EQ(used_frames(), used);
    EXPECT_TRUE(as->check_invariants());
  }
  EXPECT_EQ(tight.used_bytes(), 0u);
  object::Quota too_small(sizeof(AddressSpace) + kPage - 1, 100);
  EXPECT_EQ(AddressSpace::create(frames_, nullptr, 3, &too_small).error(), Error::QuotaExceeded);
  EXPECT_EQ(too_small.used_bytes(), 0u);
}

TEST_F(VmTest, DestroyReturnsEveryFrame) {
  auto v = vmo(2000);
  for (uint64_t p : {0ull, 1ull, 511ull, 512ull, 1000ull, 1999ull}) ASSERT_TRUE(v->commit_page(p).ok());
  EXPECT_EQ(used_frames(), 6u + 3u);  // pages + leaves 0, 1, 3
  EXPECT_TRUE(v->check_invariants());
  v = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, DecommitDropsPagesToZero) {
  auto v = vmo(4);
  const char msg[] = "hello";
  ASSERT_TRUE(v->write(kPage + 10, msg, sizeof msg).ok());
  ASSERT_TRUE(v->write(2 * kPage, msg, sizeof msg).ok());
  ASSERT_TRUE(v->decommit(kPage + 100, 10).ok());  // rounded out to page 1
  char out[sizeof msg];
  ASSERT_TRUE(v->read(kPage + 10, out, sizeof out).ok());
  EXPECT_EQ(std::string(out, sizeof out), std::string(sizeof out, '\0'));
  ASSERT_TRUE(v->read(2 * kPage, out, sizeof out).ok());
  EXPECT_STREQ(out, "hello");
  EXPECT_EQ(v->committed_pages(), 1u);
  EXPECT_EQ(v->decommit(3 * kPage, 2 * kPage).error(), Error::OutOfRange);
  EXPECT_TRUE(v->check_invariants());
}

TEST_F(VmTest, PhysicalObjectsAreFixedAndNeverFreed) {
  EXPECT_EQ(MemoryObject::create_physical(kRamBase + 1, kPage, false).error(), Error::Misaligned);
  EXPECT_EQ(MemoryObject::create_physical(kRamBase, 0, false).error(), Error::InvalidArgument);
  EXPECT_EQ(MemoryObject::create_physical((1ull << 52) - kPage, 2 * kPage, false).error(), Error::OutOfRange);
  const mm::PhysAddr base = *frames_.alloc(2);  // stands in for a device's BAR
  const uint64_t used = used_frames();
  {
    auto r = MemoryObject::create_physical(base, 3 * kPage + 1, true);
    ASSERT_TRUE(r.ok());
    RefPtr<MemoryObject> v = r.release_value();
    EXPECT_TRUE(v->is_physical());
    EXPECT_TRUE(v->is_uncached());
    EXPECT_EQ(v->size(), 4 * kPage);
    EXPECT_EQ(*v->commit_page(2), base + 2 * kPage);
    EXPECT_EQ(*v->lookup_page(3, true), base + 3 * kPage);
    EXPECT_EQ(v->commit_page(4).error(), Error::OutOfRange);
    uint8_t b = 0;
    EXPECT_EQ(v->read(0, &b, 1).error(), Error::Unsupported);
    EXPECT_EQ(v->write(0, &b, 1).error(), Error::Unsupported);
    EXPECT_EQ(v->clone_cow(0, kPage).error(), Error::Unsupported);
    EXPECT_EQ(v->decommit(0, kPage).error(), Error::Unsupported);
    EXPECT_EQ(v->committed_pages(), 0u);
    EXPECT_TRUE(v->check_invariants());
    EXPECT_EQ(used_frames(), used);
  }
  EXPECT_EQ(used_frames(), used);  // destroying it freed nothing
  frames_.free(base, 2);
}

// ---------------------------------------------------------------------------
// Copy-on-write clones

TEST_F(VmTest, CloneSharesFramesUntilEitherSideWrites) {
  auto parent = vmo(4);
  for (uint64_t p = 0; p < 4; ++p) {
    const uint64_t tag = 0x1000 + p;
    ASSERT_TRUE(parent->write(p * kPage, &tag, sizeof tag).ok());
  }
  const mm::PhysAddr f0 = *parent->commit_page(0), f1 = *parent->commit_page(1);
  auto c = parent->clone_cow(0, 4 * kPage);
  ASSERT_TRUE(c.ok());
  RefPtr<MemoryObject> clone = c.release_value();
  EXPECT_EQ(clone->committed_pages(), 4u);
  EXPECT_EQ(*clone->commit_page(0), f0);  // same frame
  EXPECT_EQ(refcount(f0), 2u);
  const uint64_t used = used_frames();

  // Write in the parent: the parent gets a copy; the clone keeps the original.
  const uint64_t p0 = 0xaaaa;
  ASSERT_TRUE(parent->write(0, &p0, sizeof p0).ok());
  const mm::PhysAddr parent_f0 = *parent->commit_page(0);
  EXPECT_NE(parent_f0, f0);
  EXPECT_EQ(refcount(f0), 1u);
  EXPECT_EQ(refcount(parent_f0), 1u);
  uint64_t v = 0;
  ASSERT_TRUE(clone->read(0, &v, sizeof v).ok());
  EXPECT_EQ(v, 0x1000u);
  EXPECT_EQ(used_frames(), used + 1);

  // Write in the clone: the parent is unchanged.
  const uint64_t c1 = 0xbbbb;
  ASSERT_TRUE(clone->write(kPage, &c1, sizeof c1).ok());
  ASSERT_TRUE(parent->read(kPage, &v, sizeof v).ok());
  EXPECT_EQ(v, 0x1001u);
  EXPECT_EQ(*parent->commit_page(1), f1);
  EXPECT_EQ(refcount(f1), 1u);

  // The clone's page 0 is exclusive now: a write takes it over, no copy.
  ASSERT_TRUE(clone->write(0, &c1, sizeof c1).ok());
  EXPECT_EQ(*clone->commit_page(0), f0);
  EXPECT_EQ(used_frames(), used + 2);
  EXPECT_TRUE(parent->check_invariants());
  EXPECT_TRUE(clone->check_invariants());

  parent = nullptr;
  EXPECT_EQ(refcount(*clone->commit_page(2)), 1u);
  clone = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, CloneIsASnapshotAtCloneTime) {
  auto parent = vmo(8);
  const uint64_t a = 1;
  ASSERT_TRUE(parent->write(2 * kPage, &a, sizeof a).ok());
  RefPtr<MemoryObject> clone =
      parent->clone_cow(2 * kPage, 8 * kPage).release_value();  // past the parent's end
  ASSERT_TRUE(clone);
  EXPECT_EQ(clone->size(), 8 * kPage);
  EXPECT_EQ(clone->committed_pages(), 1u);
  const uint64_t b = 2;
  ASSERT_TRUE(parent->write(3 * kPage, &b, sizeof b).ok());  // committed after the clone
  ASSERT_TRUE(parent->write(2 * kPage, &b, sizeof b).ok());
  uint64_t v = 9;
  ASSERT_TRUE(clone->read(kPage, &v, sizeof v).ok());
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(clone->read(0, &v, sizeof v).ok());
  EXPECT_EQ(v, 1u);
  ASSERT_TRUE(clone->read(7 * kPage, &v, sizeof v).ok());  // beyond the parent: zero
  EXPECT_EQ(v, 0u);

  EXPECT_EQ(parent->clone_cow(100, kPage).error(), Error::Misaligned);
  EXPECT_EQ(parent->clone_cow(0, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(parent->clone_cow(9 * kPage, kPage).error(), Error::OutOfRange);
  EXPECT_EQ(parent->clone_cow(0, MemoryObject::kMaxSize + kPage).error(), Error::InvalidArgument);
}

TEST_F(VmTest, CloneOfCloneAndQuota) {
  object::Quota quota(1 << 20, 1000);
  auto a = vmo(2);
  const uint64_t t = 7;
  ASSERT_TRUE(a->write(0, &t, sizeof t).ok());
  ASSERT_TRUE(a->write(kPage, &t, sizeof t).ok());
  RefPtr<MemoryObject> b = a->clone_cow(0, 2 * kPage, &quota).release_value();
  ASSERT_TRUE(b);
  EXPECT_EQ(quota.used_objects(), 1u + 1u + 2u);                        // object, leaf, two shared pages
  RefPtr<MemoryObject> c = b->clone_cow(0, 2 * kPage).release_value();  // b's quota
  ASSERT_TRUE(c);
  EXPECT_EQ(quota.used_objects(), 8u);
  const mm::PhysAddr f = *a->commit_page(0);
  EXPECT_EQ(refcount(f), 3u);

  const uint64_t tb = 8, tc = 9;
  ASSERT_TRUE(b->write(0, &tb, sizeof tb).ok());
  EXPECT_EQ(refcount(f), 2u);
  ASSERT_TRUE(c->write(0, &tc, sizeof tc).ok());
  EXPECT_EQ(refcount(f), 1u);
  uint64_t v;
  ASSERT_TRUE(a->read(0, &v, sizeof v).ok());
  EXPECT_EQ(v, 7u);
  ASSERT_TRUE(b->read(0, &v, sizeof v).ok());
  EXPECT_EQ(v, 8u);
  ASSERT_TRUE(c->read(0, &v, sizeof v).ok());
  EXPECT_EQ(v, 9u);
  ASSERT_TRUE(c->read(kPage, &v, sizeof v).ok());
  EXPECT_EQ(v, 7u);
  EXPECT_EQ(refcount(*a->commit_page(1)), 3u);

  // Drop the middle one first.
  b = nullptr;
  EXPECT_EQ(refcount(*a->commit_page(1)), 2u);
  a = nullptr;
  ASSERT_TRUE(c->read(kPage, &v, sizeof v).ok());
  EXPECT_EQ(v, 7u);
  EXPECT_EQ(refcount(*c->commit_page(1)), 1u);
  EXPECT_TRUE(c->check_invariants());
  c = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);

  // A clone the quota cannot pay for fails and leaves the parent intact.
  auto p = vmo(4);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(p->commit_page(i).ok());
  object::Quota tight(1 << 20, 3);  // object + leaf + 1 page
  EXPECT_EQ(p->clone_cow(0, 4 * kPage, &tight).error(), Error::QuotaExceeded);
  EXPECT_EQ(tight.used_objects(), 0u);
  EXPECT_EQ(refcount(*p->commit_page(0)), 1u);
  EXPECT_TRUE(p->check_invariants());
}

// ---------------------------------------------------------------------------
// AddressSpace

TEST_F(VmTest, CreateAndDestroyAddressSpace) {
  auto as = aspace();
  EXPECT_EQ(as->type(), object::ObjectType::AddressSpace);
  EXPECT_NE(as->root(), 0u);
  EXPECT_EQ(as->page_table_pages(), 1u);
  EXPECT_EQ(used_frames(), 1u);
  EXPECT_TRUE(as->check_invariants());
  as->destroy();
  EXPECT_EQ(as->root(), 0u);
  EXPECT_TRUE(as->check_invariants());
  EXPECT_EQ(frames_.free_frames(), baseline_);
  EXPECT_EQ(as->map(vmo(1), 0, kPage, kR, 0, {}).error(), Error::BadState);
  EXPECT_EQ(as->unmap(0x100000, kPage, {}).error(), Error::BadState);
  EXPECT_EQ(as->handle_fault(0x100000, false, false, true, {}), FaultResult::NotMapped);
  as = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, CreateFailsCleanly) {
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(AddressSpace::create(frames_, nullptr, 1).error(), Error::NoMemory);
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(MemoryObject::create(frames_, kPage).error(), Error::NoMemory);
  object::Quota quota(16, 10);
  EXPECT_EQ(AddressSpace::create(frames_, nullptr, 1, &quota).error(), Error::QuotaExceeded);
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, SharesTheKernelHalf) {
  auto kernel = x86::PageTable::create(x86::TableAllocator{
      [](void* ctx) { return static_cast<mm::FrameAllocator*>(ctx)->alloc_page(); },
      [](void* ctx, mm::PhysAddr f) { static_cast<mm::FrameAllocator*>(ctx)->free_page(f); }, &frames_});
  ASSERT_TRUE(kernel.ok());
  ASSERT_TRUE(kernel->populate_kernel_half().ok());
  const mm::PhysAddr page = *frames_.alloc_page();
  ASSERT_TRUE(kernel->map(0xffff800000000000ull, page, kPage, Prot::Read | Prot::Write).ok());
  const uint64_t used = used_frames();
  {
    auto r = AddressSpace::create(frames_, &kernel.value(), 5);
    ASSERT_TRUE(r.ok());
    RefPtr<AddressSpace> as = r.release_value();
    EXPECT_EQ(as->translate(0xffff800000000000ull)->phys, page);  // the kernel is visible
    EXPECT_EQ(as->page_table_pages(), 1u);                        // and not owned
    ASSERT_TRUE(as->map(vmo(1), 0, kPage, kRW, 0x100000, {}, true).ok());
    EXPECT_TRUE(as->check_invariants());
  }
  EXPECT_EQ(used_frames(), used);  // only the user half went away
  kernel->destroy();
  frames_.free_page(page);
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, MapValidatesArguments) {
  auto as = aspace();
  auto v = vmo(4);
  const uint64_t at = 0x400000;
  EXPECT_EQ(as->map(nullptr, 0, kPage, kR, at, {}).error(), Error::InvalidArgument);
  EXPECT_EQ(as->map(v, 0, 0, kR, at, {}).error(), Error::InvalidArgument);
  EXPECT_EQ(as->map(v, 0, kPage, Prot::Write, at, {}).error(), Error::InvalidArgument);  // no Read
  EXPECT_EQ(as->map(v, 0, kPage, kR | Prot::User, at, {}).error(), Error::InvalidArgument);
  EXPECT_EQ(as->map(v, 0, kPage, kRW | Prot::Execute, at, {}).error(), Error::AccessDenied);  // W^X
  EXPECT_EQ(as->map(v, 1, kPage, kR, at, {}).error(), Error::Misaligned);
  EXPECT_EQ(as->map(v, 0, 100, kR, at, {}).error(), Error::Misaligned);
  EXPECT_EQ(as->map(v, 0, kPage, kR, at + 8, {}).error(), Error::Misaligned);
  EXPECT_EQ(as->map(v, kPage, 4 * kPage, kR, at, {}).error(), Error::OutOfRange);  // past the object
  EXPECT_EQ(as->map(v, 0, kPage, kR, 0x1000, {}).error(), Error::OutOfRange);      // below kUserBase
  EXPECT_EQ(as->map(v, 0, 2 * kPage, kR, AddressSpace::kUserEnd - kPage, {}).error(), Error::OutOfRange);
  EXPECT_EQ(as->map(v, 0, kPage, kR, 0xffff800000000000ull, {}).error(), Error::OutOfRange);
  AddressSpace::MapOptions ro;
  ro.fixed_addr = at;
  ro.max_prot = kR;
  EXPECT_EQ(as->map(v, 0, kPage, kRW, ro, {}).error(), Error::AccessDenied);

  EXPECT_EQ(*as->map(v, 0, 2 * kPage, kRW, at, {}), at);
  EXPECT_EQ(*as->map(v, 0, kPage, kR, AddressSpace::kUserBase, {}), AddressSpace::kUserBase);
  EXPECT_EQ(*as->map(v, 0, kPage, kR, AddressSpace::kUserEnd - kPage, {}), AddressSpace::kUserEnd - kPage);
  EXPECT_EQ(as->map(v, 0, kPage, kR, at + kPage, {}).error(), Error::AlreadyExists);
  EXPECT_EQ(as->map(v, 0, 2 * kPage, kR, at - kPage, {}).error(), Error::AlreadyExists);
  EXPECT_EQ(*as->map(v, 0, kPage, kR, at - kPage, {}), at - kPage);  // adjacent is fine
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(as->map(v, 0, kPage, kR, at + 4 * kPage, {}).error(), Error::NoMemory);
  EXPECT_EQ(as->mapping_count(), 4u);
  EXPECT_EQ(as->mapped_bytes(), 5 * kPage);
  EXPECT_EQ(v->mapping_count(), 4u);
  EXPECT_EQ(used_frames(), 1u);  // lazily mapped: only the PML4
  EXPECT_TRUE(as->check_invariants());
  EXPECT_TRUE(v->check_invariants());
  as = nullptr;
  EXPECT_EQ(v->mapping_count(), 0u);
}

TEST_F(VmTest, RandomPlacementDiffersAcrossSeedsAndNeverOverlaps) {
  std::set<uint64_t> firsts;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    auto as = aspace(seed);
    auto v = vmo(64);
    std::vector<std::pair<uint64_t, uint64_t>> placed;
    for (uint64_t i = 0; i < 24; ++i) {
      const uint64_t len = (1 + i % 7) * kPage;
      auto r = as->map(v, 0, len, kR, 0, {});
      ASSERT_TRUE(r.ok());
      EXPECT_TRUE(ktl::is_aligned(*r, kPage));
      EXPECT_GE(*r, AddressSpace::kUserBase);
      EXPECT_LE(*r + len, AddressSpace::kUserEnd);
      for (auto [b, l] : placed) EXPECT_TRUE(*r + len <= b || b + l <= *r);
      placed.emplace_back(*r, len);
      if (i == 0) firsts.insert(*r);
    }
    EXPECT_TRUE(as->check_invariants());
    std::vector<AddressSpace::MappingInfo> infos(as->mapping_count());
    EXPECT_EQ(as->mappings(infos.data(), infos.size()), 24u);
    EXPECT_TRUE(std::is_sorted(infos.begin(), infos.end(), [](auto& x, auto& y) { return x.base < y.base; }));
  }
  EXPECT_EQ(firsts.size(), 16u);
  // Same seed, same layout.
  auto a = aspace(42), b = aspace(42);
  auto v = vmo(1);
  EXPECT_EQ(*a->map(v, 0, kPage, kR, 0, {}), *b->map(v, 0, kPage, kR, 0, {}));
}

TEST_F(VmTest, ThousandsOfMappingsAreFoundAndKeptInOrder) {
  // The mapping index is a balanced tree: thousands of mappings (a server
  // that maps heavily), split by unmaps in their middles, stay findable.
  auto as = aspace(7);
  auto v = vmo(4);
  std::vector<uint64_t> bases;
  for (int i = 0; i < 3000; ++i) {
    auto r = as->map(v, 0, 4 * kPage, kR, 0, {});
    ASSERT_TRUE(r.ok());
    bases.push_back(*r);
  }
  for (size_t i = 0; i < bases.size(); i += 2) ASSERT_TRUE(as->unmap(bases[i] + kPage, kPage, {}).ok());
  EXPECT_EQ(as->mapping_count(), 3000u + 1500u);
  EXPECT_TRUE(as->check_invariants());
  for (size_t i = 0; i < bases.size(); ++i) {
    auto m = as->find_mapping(bases[i] + 3 * kPage);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->base + m->size, bases[i] + 4 * kPage);
    EXPECT_EQ(as->find_mapping(bases[i] + kPage).ok(), i % 2 == 1);
  }
  for (uint64_t b : bases) ASSERT_TRUE(as->unmap(b, 4 * kPage, {}).ok());
  EXPECT_EQ(as->mapping_count(), 0u);
  EXPECT_TRUE(as->check_invariants());
}

TEST_F(VmTest, NoSpaceWhenTheRangeIsFullThenFirstFit) {
  auto as = aspace();
  auto big = MemoryObject::create(frames_, MemoryObject::kMaxSize).release_value();
  uint64_t at = AddressSpace::kUserBase;
  while (at < AddressSpace::kUserEnd) {
    const uint64_t len = std::min(MemoryObject::kMaxSize, AddressSpace::kUserEnd - at);
    ASSERT_TRUE(as->map(big, 0, len, kR, at, {}).ok());
    at += len;
  }
  EXPECT_EQ(as->mapped_bytes(), AddressSpace::kUserEnd - AddressSpace::kUserBase);
  EXPECT_EQ(as->map(vmo(1), 0, kPage, kR, 0, {}).error(), Error::NoSpace);
  const uint64_t hole = AddressSpace::kUserBase + 5 * MemoryObject::kMaxSize + 17 * kPage;
  ASSERT_TRUE(as->unmap(hole, 2 * kPage, {}).ok());
  EXPECT_EQ(as->map(vmo(4), 0, 3 * kPage, kR, 0, {}).error(), Error::NoSpace);
  EXPECT_EQ(*as->map(vmo(2), 0, 2 * kPage, kR, 0, {}), hole);  // found by first fit
  EXPECT_TRUE(as->check_invariants());
}

TEST_F(VmTest, DemandZeroFaults) {
  auto as = aspace();
  auto v = vmo(8);
  FlushLog log;
  const uint64_t rw = *as->map(v, 0, 4 * kPage, kRW, 0x100000, {});
  const uint64_t ro = *as->map(v, 4 * kPage, 2 * kPage, kR, 0x200000, {});
  const uint64_t rx = *as->map(v, 6 * kPage, 2 * kPage, kRX, 0x300000, {});
  EXPECT_EQ(as->translate(rw).error(), Error::NotFound);  // lazy

  uint64_t val = 1;
  ASSERT_EQ(access(*as, rw + 8, false, 0, &val, log.callback()), FaultResult::Resolved);
  EXPECT_EQ(val, 0u);
  auto t = as->translate(rw);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->prot & (Prot::Write | Prot::Execute | Prot::User),
            Prot::Write | Prot::User);  // exclusive: RW, NX
  EXPECT_TRUE(page_is(t->phys, 0));
  EXPECT_EQ(t->phys, *v->commit_page(0));

  ASSERT_EQ(access(*as, ro, false), FaultResult::Resolved);
  EXPECT_EQ(as->translate(ro)->prot & Prot::Write, 0u);
  EXPECT_EQ(as->handle_fault(ro, true, false, true, {}), FaultResult::AccessViolation);
  EXPECT_EQ(as->handle_fault(rw, false, true, true, {}), FaultResult::AccessViolation);  // NX mapping
  EXPECT_EQ(as->handle_fault(rx, false, true, true, {}), FaultResult::Resolved);
  EXPECT_TRUE(as->translate(rx)->prot & Prot::Execute);
  EXPECT_EQ(as->handle_fault(rx, true, false, true, {}), FaultResult::AccessViolation);
  EXPECT_EQ(as->handle_fault(rx + kPage, false, true, false, {}),
            FaultResult::AccessViolation);  // kernel exec
  EXPECT_EQ(as->handle_fault(0x500000, false, false, true, {}), FaultResult::NotMapped);
  EXPECT_EQ(as->handle_fault(0x1000, false, false, true, {}), FaultResult::NotMapped);
  EXPECT_EQ(as->handle_fault(0xffff800000001000ull, false, false, false, {}), FaultResult::NotMapped);

  // Writes land in the object; a second fault on a mapped page is harmless.
  ASSERT_EQ(access(*as, rw + kPage, true, 0x1234), FaultResult::Resolved);
  ASSERT_EQ(as->handle_fault(rw + kPage, true, false, true, log.callback()), FaultResult::Resolved);
  uint64_t back;
  ASSERT_TRUE(v->read(kPage, &back, sizeof back).ok());
  EXPECT_EQ(back, 0x1234u);
  EXPECT_TRUE(log.ranges.empty());  // nothing was invalidated
  EXPECT_TRUE(as->check_invariants());
}

TEST_F(VmTest, FaultReportsNoMemory) {
  object::Quota quota(1 << 20, 2);  // the object and its leaf: no page (outlives `as`)
  auto as = aspace();
  auto v = vmo(2, &quota);
  ASSERT_TRUE(v);
  ASSERT_TRUE(as->map(v, 0, 2 * kPage, kRW, 0x100000, {}).ok());
  EXPECT_EQ(as->handle_fault(0x100000, false, false, true, {}), FaultResult::NoMemory);
  EXPECT_EQ(as->translate(0x100000).error(), Error::NotFound);
  EXPECT_TRUE(as->check_invariants());
}

TEST_F(VmTest, UnmapSplitsAndReportsFlushes) {
  auto as = aspace();
  auto v = vmo(8);
  const uint64_t base = 0x100000;
  ASSERT_TRUE(as->map(v, 0, 8 * kPage, kRW, base, {}, /*populate=*/true).ok());
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(as->translate(base + i * kPage).ok());
  EXPECT_EQ(v->committed_pages(), 8u);

  FlushLog log;
  ASSERT_TRUE(as->unmap(base + 3 * kPage, 2 * kPage, log.callback()).ok());
  EXPECT_EQ(log.ranges, (std::vector<std::pair<uint64_t, uint64_t>>{{base + 3 * kPage, 2 * kPage}}));
  ASSERT_EQ(as->mapping_count(), 2u);
  auto head = *as->find_mapping(base);
  auto tail = *as->find_mapping(base + 5 * kPage);
  EXPECT_EQ(head.base, base);
  EXPECT_EQ(head.size, 3 * kPage);
  EXPECT_EQ(head.vmo_offset, 0u);
  EXPECT_EQ(tail.base, base + 5 * kPage);
  EXPECT_EQ(tail.size, 3 * kPage);
  EXPECT_EQ(tail.vmo_offset, 5 * kPage);
  EXPECT_EQ(tail.prot, kRW);
  EXPECT_EQ(as->find_mapping(base + 3 * kPage).error(), Error::NotFound);
  EXPECT_EQ(as->translate(base + 3 * kPage).error(), Error::NotFound);
  EXPECT_EQ(as->translate(base + 5 * kPage)->phys, *v->commit_page(5));
  EXPECT_EQ(v->mapping_count(), 2u);
  EXPECT_EQ(as->mapped_bytes(), 6 * kPage);
  EXPECT_EQ(as->handle_fault(base + 4 * kPage, false, false, true, {}), FaultResult::NotMapped);
  EXPECT_TRUE(as->check_invariants());

  // Holes are fine; partial cuts at both ends of two mappings.
  log.clear();
  ASSERT_TRUE(as->unmap(base + 2 * kPage, 4 * kPage, log.callback()).ok());
  EXPECT_EQ(log.pages(), (std::multiset<uint64_t>{base + 2 * kPage, base + 5 * kPage}));
  EXPECT_EQ(as->find_mapping(base)->size, 2 * kPage);
  EXPECT_EQ(as->find_mapping(base + 6 * kPage)->vmo_offset, 6 * kPage);
  ASSERT_TRUE(as->unmap(0x10000, 0x1000000, {}).ok());
  EXPECT_EQ(as->mapping_count(), 0u);
  EXPECT_EQ(as->mapped_bytes(), 0u);
  EXPECT_EQ(v->mapping_count(), 0u);
  EXPECT_EQ(as->page_table_pages(), 1u);  // empty tables were freed
  EXPECT_TRUE(as->check_invariants());

  EXPECT_EQ(as->unmap(base, 0, {}).error(), Error::InvalidArgument);
  EXPECT_EQ(as->unmap(base + 1, kPage, {}).error(), Error::Misaligned);
  EXPECT_EQ(as->unmap(0, kPage, {}).error(), Error::OutOfRange);
  EXPECT_EQ(as->unmap(AddressSpace::kUserEnd, kPage, {}).error(), Error::OutOfRange);

  // A split that cannot get its record changes nothing.
  ASSERT_TRUE(as->map(v, 0, 4 * kPage, kRW, base, {}).ok());
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(as->unmap(base + kPage, kPage, {}).error(), Error::NoMemory);
  EXPECT_EQ(as->mapping_count(), 1u);
  EXPECT_EQ(as->mapped_bytes(), 4 * kPage);
}

TEST_F(VmTest, ProtectSplitsAndOnlyRemovesRights) {
  auto as = aspace();
  auto v = vmo(8);
  const uint64_t base = 0x100000;
  ASSERT_TRUE(as->map(v, 0, 8 * kPage, kRW, base, {}, true).ok());
  FlushLog log;
  ASSERT_TRUE(as->protect(base + 2 * kPage, 4 * kPage, kR, log.callback()).ok());
  EXPECT_EQ(log.ranges,
            (std::vector<std::pair<uint64_t, uint64_t>>{{base + 2 * kPage, 4 * kPage}}));  // coalesced
  ASSERT_EQ(as->mapping_count(), 3u);
  EXPECT_EQ(as->find_mapping(base)->prot, kRW);
  EXPECT_EQ(as->find_mapping(base + 2 * kPage)->prot, kR);
  EXPECT_EQ(as->find_mapping(base + 2 * kPage)->vmo_offset, 2 * kPage);
  EXPECT_EQ(as->find_mapping(base + 5 * kPage)->size, 4 * kPage);
  EXPECT_EQ(as->find_mapping(base + 6 * kPage)->vmo_offset, 6 * kPage);
  for (uint64_t i = 0; i < 8; ++i) {
    const bool writable = as->translate(base + i * kPage)->prot & Prot::Write;
    EXPECT_EQ(writable, i < 2 || i >= 6) << i;
  }
  EXPECT_EQ(as->handle_fault(base + 3 * kPage, true, false, true, {}), FaultResult::AccessViolation);
  EXPECT_TRUE(as->check_invariants());

  // Errors change nothing.
  log.clear();
  EXPECT_EQ(as->protect(base, 9 * kPage, kR, log.callback()).error(), Error::NotFound);  // runs past the end
  EXPECT_EQ(as->protect(base - kPage, 2 * kPage, kR, log.callback()).error(), Error::NotFound);
  EXPECT_EQ(as->protect(base, kPage, kRW | Prot::Execute, log.callback()).error(), Error::AccessDenied);
  EXPECT_EQ(as->protect(base, kPage, Prot::Write, log.callback()).error(), Error::InvalidArgument);
  EXPECT_EQ(as->protect(base, 0, kR, log.callback()).error(), Error::InvalidArgument);
  EXPECT_TRUE(log.ranges.empty());
  EXPECT_EQ(as->mapping_count(), 3u);

  // Across all three, to RX: every entry loses Write and gains Execute.
  ASSERT_TRUE(as->protect(base, 8 * kPage, kRX, log.callback()).ok());
  EXPECT_EQ(log.pages().size(), 8u);
  for (uint64_t i = 0; i < 8; ++i)
    EXPECT_EQ(as->translate(base + i * kPage)->prot & (Prot::Write | Prot::Execute), unsigned(Prot::Execute));
  // Back to RW: entries stay read-only until a write fault.
  log.clear();
  ASSERT_TRUE(as->protect(base, 8 * kPage, kRW, log.callback()).ok());
  EXPECT_EQ(as->translate(base)->prot & Prot::Write, 0u);
  EXPECT_EQ(log.pages().size(), 8u);  // Execute removed
  ASSERT_EQ(access(*as, base, true, 5), FaultResult::Resolved);
  EXPECT_TRUE(as->translate(base)->prot & Prot::Write);
  EXPECT_TRUE(as->check_invariants());

  // max_prot bounds protect().
  AddressSpace::MapOptions ro;
  ro.fixed_addr = 0x400000;
  ro.max_prot = kR;
  ASSERT_TRUE(as->map(v, 0, kPage, kR, ro, {}).ok());
  EXPECT_EQ(as->protect(0x400000, kPage, kRW, {}).error(), Error::AccessDenied);
  EXPECT_TRUE(as->protect(0x400000, kPage, kR, {}).ok());
}

// Protection 0 (Linux's PROT_NONE, a guard page): mapped, but nothing is
// ever installed and every access faults as a violation; protect() to 0
// removes the entries, and back to RW makes the page usable again with its
// contents kept in the object.
TEST_F(VmTest, NoAccessMappingsFaultAndKeepTheirObject) {
  auto as = aspace();
  auto v = vmo(4);
  const uint64_t base = 0x100000;
  ASSERT_EQ(*as->map(v, 0, 2 * kPage, 0, base, {}, /*populate=*/true), base);
  EXPECT_EQ(as->translate(base).error(), Error::NotFound);  // populate installs nothing
  EXPECT_EQ(as->handle_fault(base, false, false, true, {}), FaultResult::AccessViolation);
  EXPECT_EQ(as->handle_fault(base + kPage, true, false, true, {}), FaultResult::AccessViolation);
  EXPECT_EQ(as->translate(base).error(), Error::NotFound);
  EXPECT_TRUE(as->check_invariants());
  ASSERT_TRUE(as->map(v, 2 * kPage, 2 * kPage, kRW, base + 2 * kPage, {}, true).ok());
  ASSERT_EQ(access(*as, base + 2 * kPage, true, 77), FaultResult::Resolved);
  FlushLog log;
  ASSERT_TRUE(as->protect(base + 2 * kPage, kPage, 0, log.callback()).ok());
  EXPECT_EQ(log.pages(), (std::multiset<uint64_t>{base + 2 * kPage}));
  EXPECT_EQ(as->translate(base + 2 * kPage).error(), Error::NotFound);
  EXPECT_TRUE(as->translate(base + 3 * kPage).ok());  // the rest stays
  EXPECT_EQ(as->handle_fault(base + 2 * kPage, false, false, true, {}), FaultResult::AccessViolation);
  EXPECT_TRUE(as->check_invariants());
  ASSERT_TRUE(as->protect(base, 4 * kPage, kRW, {}).ok());
  uint64_t back = 0;
  ASSERT_EQ(access(*as, base + 2 * kPage, false, 0, &back), FaultResult::Resolved);
  EXPECT_EQ(back, 77u);
  ASSERT_EQ(access(*as, base, true, 1), FaultResult::Resolved);
  EXPECT_TRUE(as->check_invariants());
  // Write without Read is still refused, in map and protect.
  EXPECT_EQ(as->map(v, 0, kPage, Prot::Write, 0x400000, {}).error(), Error::InvalidArgument);
  EXPECT_EQ(as->protect(base, kPage, Prot::Write, {}).error(), Error::InvalidArgument);
  // A handle's bound (max_prot) must still allow reading.
  AddressSpace::MapOptions none;
  none.fixed_addr = 0x400000;
  none.max_prot = 0;
  EXPECT_EQ(as->map(v, 0, kPage, 0, none, {}).error(), Error::InvalidArgument);
}

TEST_F(VmTest, CowBreakThroughMappings) {
  // fork() by hand: the parent's object is cloned, the clone mapped in a
  // second address space.
  auto parent_as = aspace(1), child_as = aspace(2);
  FlushLog parent_remote, parent_log, child_log;
  parent_as->set_tlb_flush(parent_remote.callback());
  auto pv = vmo(4);
  const uint64_t base = 0x100000;
  ASSERT_TRUE(parent_as->map(pv, 0, 4 * kPage, kRW, base, {}).ok());
  ASSERT_EQ(access(*parent_as, base, true, 0x11), FaultResult::Resolved);
  ASSERT_EQ(access(*parent_as, base + kPage, true, 0x22), FaultResult::Resolved);
  const mm::PhysAddr f0 = parent_as->translate(base)->phys;
  EXPECT_TRUE(parent_as->translate(base)->prot & Prot::Write);

  RefPtr<MemoryObject> cv = pv->clone_cow(0, 4 * kPage).release_value();
  ASSERT_TRUE(cv);
  // The parent's writable entries became read-only, reported to its own flush.
  EXPECT_EQ(parent_as->translate(base)->prot & Prot::Write, 0u);
  EXPECT_EQ(parent_remote.pages(), (std::multiset<uint64_t>{base, base + kPage}));
  EXPECT_EQ(refcount(f0), 2u);
  EXPECT_TRUE(parent_as->check_invariants());

  ASSERT_TRUE(child_as->map(cv, 0, 4 * kPage, kRW, base, {}).ok());
  uint64_t val = 0;
  ASSERT_EQ(access(*child_as, base, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0x11u);
  EXPECT_EQ(child_as->translate(base)->phys, f0);  // shared, read-only
  EXPECT_EQ(child_as->translate(base)->prot & Prot::Write, 0u);

  // Child writes: private copy; the parent still sees the old value.
  ASSERT_EQ(access(*child_as, base, true, 0x99, &val, child_log.callback()), FaultResult::Resolved);
  EXPECT_EQ(val, 0x11u);  // the copy carried the contents
  const mm::PhysAddr child_f0 = child_as->translate(base)->phys;
  EXPECT_NE(child_f0, f0);
  EXPECT_TRUE(child_log.covers(base));  // its read-only entry was replaced
  EXPECT_EQ(refcount(f0), 1u);
  EXPECT_EQ(parent_as->translate(base)->prot & Prot::Write, 0u);  // untouched until it faults
  EXPECT_EQ(load64(parent_as->translate(base)->phys), 0x11u);

  // Parent writes page 0: it owns f0 alone now, so it takes it over.
  parent_log.clear();
  ASSERT_EQ(access(*parent_as, base, true, 0x12, &val, parent_log.callback()), FaultResult::Resolved);
  EXPECT_EQ(val, 0x11u);
  EXPECT_EQ(parent_as->translate(base)->phys, f0);
  EXPECT_TRUE(parent_log.covers(base));  // upgraded in place
  // Parent writes page 1 (still shared): a copy.
  ASSERT_EQ(access(*parent_as, base + kPage, true, 0x23), FaultResult::Resolved);
  ASSERT_EQ(access(*child_as, base + kPage, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0x22u);
  ASSERT_EQ(access(*child_as, base, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0x99u);
  EXPECT_TRUE(parent_as->check_invariants());
  EXPECT_TRUE(child_as->check_invariants());
  EXPECT_TRUE(pv->check_invariants());
  EXPECT_TRUE(cv->check_invariants());

  parent_as = nullptr;
  child_as = nullptr;
  pv = nullptr;
  cv = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, CowBreakUpdatesTheObjectsOtherMappings) {
  auto as = aspace();
  auto other = aspace(7);
  FlushLog remote_other;
  other->set_tlb_flush(remote_other.callback());
  auto v = vmo(2);
  const uint64_t tag = 0x55;
  ASSERT_TRUE(v->write(0, &tag, sizeof tag).ok());
  RefPtr<MemoryObject> snapshot = v->clone_cow(0, 2 * kPage).release_value();  // page 0 shared
  const uint64_t a = 0x100000, b = 0x200000;
  ASSERT_TRUE(as->map(v, 0, 2 * kPage, kRW, a, {}).ok());
  ASSERT_TRUE(as->map(v, 0, 2 * kPage, kR, b, {}).ok());
  ASSERT_TRUE(other->map(v, 0, 2 * kPage, kR, a, {}).ok());
  for (auto [s, va] : {std::pair{as.get(), a}, std::pair{as.get(), b}, std::pair{other.get(), a}})
    ASSERT_EQ(access(*s, va, false), FaultResult::Resolved);
  const mm::PhysAddr shared = as->translate(a)->phys;
  EXPECT_EQ(as->translate(b)->phys, shared);

  // A write fault through `a` copies page 0: the entries at `b` (same address
  // space: the call's flush) and in `other` (its own flush) must go.
  FlushLog log;
  ASSERT_EQ(access(*as, a, true, 0x66, nullptr, log.callback()), FaultResult::Resolved);
  EXPECT_NE(as->translate(a)->phys, shared);
  EXPECT_TRUE(log.covers(b));
  EXPECT_TRUE(remote_other.covers(a));
  EXPECT_EQ(as->translate(b).error(), Error::NotFound);
  EXPECT_EQ(other->translate(a).error(), Error::NotFound);
  uint64_t val = 0;
  ASSERT_EQ(access(*as, b, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0x66u);
  ASSERT_EQ(access(*other, a, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0x66u);
  ASSERT_TRUE(snapshot->read(0, &val, sizeof val).ok());
  EXPECT_EQ(val, 0x55u);
  EXPECT_TRUE(as->check_invariants());
  EXPECT_TRUE(other->check_invariants());

  // decommit removes the page everywhere (each address space's own flush).
  FlushLog remote_as;
  as->set_tlb_flush(remote_as.callback());
  ASSERT_TRUE(v->decommit(0, kPage).ok());
  EXPECT_TRUE(remote_as.covers(a));
  EXPECT_TRUE(remote_as.covers(b));
  EXPECT_EQ(as->translate(a).error(), Error::NotFound);
  ASSERT_EQ(access(*as, a, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 0u);
  EXPECT_TRUE(as->check_invariants());
  EXPECT_TRUE(other->check_invariants());
}

TEST_F(VmTest, PhysicalMappingsAreEagerAndUncached) {
  const mm::PhysAddr dev = *frames_.alloc(1);
  const uint64_t used = used_frames();
  {
    auto as = aspace();
    RefPtr<MemoryObject> v = MemoryObject::create_physical(dev, 2 * kPage, true).release_value();
    const uint64_t at = *as->map(v, 0, 2 * kPage, kRW, 0, {});
    for (uint64_t i = 0; i < 2; ++i) {
      auto t = as->translate(at + i * kPage);
      ASSERT_TRUE(t.ok());
      EXPECT_EQ(t->phys, dev + i * kPage);
      EXPECT_TRUE(t->prot & Prot::Uncached);
      EXPECT_TRUE(t->prot & Prot::Write);
    }
    EXPECT_EQ(as->handle_fault(at, true, false, true, {}), FaultResult::Resolved);
    ASSERT_TRUE(as->unmap(at, kPage, {}).ok());
    EXPECT_EQ(as->handle_fault(at + kPage, true, false, true, {}), FaultResult::Resolved);
    EXPECT_TRUE(as->check_invariants());
  }
  EXPECT_EQ(used_frames(), used);  // nothing of the device range was freed
  frames_.free(dev, 1);
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, PopulateCommitsAndMapsEveryPage) {
  object::Quota quota_(1 << 20, 4);  // object, leaf, two pages; outlives `as`
  auto as = aspace();
  auto v = vmo(16);
  const uint64_t at = *as->map(v, 4 * kPage, 8 * kPage, kRW, 0, {}, true);
  EXPECT_EQ(v->committed_pages(), 8u);
  for (uint64_t i = 0; i < 8; ++i) {
    auto t = as->translate(at + i * kPage);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->phys, *v->commit_page(4 + i));
    EXPECT_TRUE(t->prot & Prot::Write);
  }
  // A populated mapping that runs out of quota is removed again.
  auto small = vmo(8, &quota_);
  ASSERT_TRUE(small);
  EXPECT_EQ(as->map(small, 0, 8 * kPage, kR, 0x100000, {}, true).error(), Error::QuotaExceeded);
  EXPECT_EQ(as->mapping_count(), 1u);
  EXPECT_EQ(as->translate(0x100000).error(), Error::NotFound);
  EXPECT_EQ(small->mapping_count(), 0u);
  EXPECT_TRUE(as->check_invariants());
}

TEST_F(VmTest, ForkCowClonesPrivateAndSharesShared) {
  auto parent = aspace(1);
  FlushLog flush;
  auto priv = vmo(4), shm = vmo(2);
  const mm::PhysAddr dev = *frames_.alloc(0);
  RefPtr<MemoryObject> mmio = MemoryObject::create_physical(dev, kPage, true).release_value();
  const uint64_t p = *parent->map(priv, 0, 4 * kPage, kRW, 0x100000, {});
  AddressSpace::MapOptions shared;
  shared.fixed_addr = 0x200000;
  shared.shared = true;
  const uint64_t s = *parent->map(shm, 0, 2 * kPage, kRW, shared, {});
  const uint64_t d = *parent->map(mmio, 0, kPage, kRW, 0x300000, {});
  ASSERT_EQ(access(*parent, p, true, 1), FaultResult::Resolved);
  ASSERT_EQ(access(*parent, s, true, 2), FaultResult::Resolved);
  const uint64_t before = used_frames();

  auto forked = parent->fork_cow(nullptr, 9, nullptr, flush.callback());
  ASSERT_TRUE(forked.ok());
  RefPtr<AddressSpace> child = forked.release_value();
  EXPECT_TRUE(flush.covers(p));  // the parent's page became copy-on-write
  EXPECT_FALSE(flush.covers(s));
  EXPECT_EQ(child->mapping_count(), 3u);
  EXPECT_EQ(child->mapped_bytes(), parent->mapped_bytes());
  EXPECT_NE(child->find_mapping(p)->vmo, priv.get());
  EXPECT_EQ(child->find_mapping(s)->vmo, shm.get());
  EXPECT_TRUE(child->find_mapping(s)->shared);
  EXPECT_EQ(child->translate(d)->phys, dev);  // device memory mapped eagerly

  uint64_t val = 0;
  ASSERT_EQ(access(*child, p, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 1u);
  ASSERT_EQ(access(*child, p, true, 10), FaultResult::Resolved);
  ASSERT_EQ(access(*parent, p, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 1u);
  ASSERT_EQ(access(*parent, p, true, 11), FaultResult::Resolved);
  ASSERT_EQ(access(*child, p, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 10u);
  ASSERT_EQ(access(*child, s, true, 20), FaultResult::Resolved);  // shared: the parent sees it
  ASSERT_EQ(access(*parent, s, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 20u);
  EXPECT_TRUE(parent->check_invariants());
  EXPECT_TRUE(child->check_invariants());
  EXPECT_GT(used_frames(), before);

  child = nullptr;  // its clone and page tables go; the parent is intact
  ASSERT_EQ(access(*parent, p, false, 0, &val), FaultResult::Resolved);
  EXPECT_EQ(val, 11u);
  parent = nullptr;
  priv = shm = mmio = nullptr;
  frames_.free(dev, 0);
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

TEST_F(VmTest, DestroyFreesTablesAndUnsharedFrames) {
  auto as = aspace();
  auto keep = vmo(4);  // outlives the address space
  ASSERT_TRUE(keep->commit_page(0).ok());
  const uint64_t kept = used_frames();
  {
    auto anon = vmo(64);
    ASSERT_TRUE(as->map(anon, 0, 64 * kPage, kRW, 0x7000'0000'0000ull, {}).ok());
    ASSERT_TRUE(as->map(keep, 0, 4 * kPage, kR, 0x1000'0000ull, {}).ok());
    ASSERT_TRUE(as->map(anon, 0, kPage, kR, 0x20'0000'0000ull, {}).ok());  // another PDPT
  }
  for (uint64_t i = 0; i < 64; i += 3)
    ASSERT_EQ(access(*as, 0x7000'0000'0000ull + i * kPage, true, i), FaultResult::Resolved);
  ASSERT_EQ(access(*as, 0x1000'0000ull, false), FaultResult::Resolved);
  ASSERT_EQ(access(*as, 0x20'0000'0000ull, false), FaultResult::Resolved);
  EXPECT_GT(as->page_table_pages(), 6u);
  as->destroy();
  EXPECT_EQ(used_frames(), kept - 1);  // the PML4 and the anonymous object (with its mappings) are gone
  EXPECT_EQ(keep->mapping_count(), 0u);
  as = nullptr;
  keep = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

// A random sequence of map/unmap/protect/fault/clone/write/decommit, checked
// against a model of what each page should show.
TEST_F(VmTest, RandomizedAgainstModel) {
  struct Rng {
    uint64_t s;
    uint64_t next() {
      uint64_t z = (s += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return next() % n; }
  } rng{20240601};

  struct PageModel {
    MemoryObject* vmo;
    uint64_t vmo_page;
    unsigned prot;
  };
  constexpr uint64_t kWindow = 0x1000000;  // fixed mappings go into [kWindow, kWindow + 256 pages)
  constexpr uint64_t kWindowPages = 256;

  auto as = aspace(3);
  FlushLog remote;
  as->set_tlb_flush(remote.callback());
  std::vector<RefPtr<MemoryObject>> pool;
  std::map<const MemoryObject*, std::map<uint64_t, uint64_t>> contents;  // tag in the first 8 bytes
  std::map<uint64_t, PageModel> pages;                                   // by page address
  for (uint64_t n : {16, 40, 64}) pool.push_back(vmo(n));
  uint64_t next_tag = 1;
  // How often each interesting outcome happened: the sequence must reach them all.
  std::map<std::string, int> seen;
  const unsigned prots[] = {kR, kRW, kRX, kRW | Prot::Execute};

  auto model_tag = [&](const MemoryObject* v, uint64_t page) {
    auto& m = contents[v];
    auto it = m.find(page);
    return it == m.end() ? 0 : it->second;
  };
  auto random_range = [&](uint64_t& addr, uint64_t& len) {
    if (!pages.empty() && rng.below(3) == 0) {  // around an existing page (maybe far away)
      auto it = pages.begin();
      std::advance(it, rng.below(pages.size()));
      addr =
          it->first - std::min<uint64_t>(rng.below(3), (it->first - AddressSpace::kUserBase) / kPage) * kPage;
    } else {
      addr = kWindow + rng.below(kWindowPages) * kPage;
    }
    len = std::min<uint64_t>((1 + rng.below(24)) * kPage, AddressSpace::kUserEnd - addr);
  };

  for (int step = 0; step < 4000; ++step) {
    const uint64_t op = rng.below(100);
    SCOPED_TRACE(step);
    if (op < 20) {  // map
      RefPtr<MemoryObject> v = pool[rng.below(pool.size())];
      const uint64_t vpages = v->page_count();
      const uint64_t off = rng.below(vpages);
      const uint64_t len = (1 + rng.below(std::min<uint64_t>(vpages - off, 16))) * kPage;
      const unsigned prot = prots[rng.below(4)];
      const bool fixed = rng.below(4) != 0;
      const uint64_t at = fixed ? kWindow + rng.below(kWindowPages) * kPage : 0;
      auto r = as->map(v, off * kPage, len, prot, at, {}, rng.below(8) == 0);
      if (prot == (kRW | Prot::Execute)) {
        EXPECT_EQ(r.error(), Error::AccessDenied);
        ++seen["map W+X"];
        continue;
      }
      bool overlap = false;
      if (fixed)
        for (uint64_t i = 0; i < len; i += kPage) overlap |= pages.count(at + i) != 0;
      if (overlap) {
        EXPECT_EQ(r.error(), Error::AlreadyExists);
        ++seen["map overlap"];
        continue;
      }
      ASSERT_TRUE(r.ok()) << ktl::error_name(r.error());
      ++seen[fixed ? "map fixed" : "map random"];
      for (uint64_t i = 0; i < len / kPage; ++i) {
        ASSERT_EQ(pages.count(*r + i * kPage), 0u);
        pages[*r + i * kPage] = PageModel{v.get(), off + i, prot};
      }
    } else if (op < 32) {  // unmap
      uint64_t addr, len;
      random_range(addr, len);
      std::set<uint64_t> present;
      const size_t before_count = as->mapping_count();
      for (uint64_t i = 0; i < len; i += kPage)
        if (as->translate(addr + i).ok()) present.insert(addr + i);
      FlushLog log;
      ASSERT_TRUE(as->unmap(addr, len, log.callback()).ok());
      for (uint64_t va : present) EXPECT_TRUE(log.covers(va)) << std::hex << va;
      if (!present.empty()) ++seen["unmap present"];
      if (as->mapping_count() > before_count) ++seen["unmap split"];
      for (uint64_t i = 0; i < len; i += kPage) {
        pages.erase(addr + i);
        EXPECT_EQ(as->translate(addr + i).error(), Error::NotFound);
      }
    } else if (op < 44) {  // protect
      uint64_t addr, len;
      random_range(addr, len);
      if (!pages.empty() && rng.below(2) == 0) {  // a sub-range of one mapping: splits
        auto it = pages.begin();
        std::advance(it, rng.below(pages.size()));
        const auto info = *as->find_mapping(it->first);
        const uint64_t n = info.size / kPage;
        const uint64_t first = rng.below(n);
        addr = info.base + first * kPage;
        len = (1 + rng.below(n - first)) * kPage;
      }
      const unsigned prot = prots[rng.below(4)];
      bool covered = true;
      for (uint64_t i = 0; i < len; i += kPage) covered &= pages.count(addr + i) != 0;
      FlushLog log;
      const size_t before_count = as->mapping_count();
      auto r = as->protect(addr, len, prot, log.callback());
      if (prot == (kRW | Prot::Execute)) {
        EXPECT_EQ(r.error(), Error::AccessDenied);
      } else if (!covered) {
        EXPECT_EQ(r.error(), Error::NotFound);
        EXPECT_TRUE(log.ranges.empty());
        ++seen["protect hole"];
      } else {
        ASSERT_TRUE(r.ok());
        ++seen["protect"];
        if (as->mapping_count() > before_count) ++seen["protect split"];
        if (!log.ranges.empty()) ++seen["protect flushed"];
        for (uint64_t i = 0; i < len; i += kPage) {
          pages[addr + i].prot = prot;
          auto t = as->translate(addr + i);
          if (!t.ok()) continue;
          if (!(prot & Prot::Write)) EXPECT_FALSE(t->prot & Prot::Write);
          EXPECT_EQ(bool(t->prot & Prot::Execute), bool(prot & Prot::Execute));
        }
      }
    } else if (op < 80) {  // user access
      uint64_t va;
      if (!pages.empty() && rng.below(8) != 0) {
        auto it = pages.begin();
        std::advance(it, rng.below(pages.size()));
        va = it->first;
      } else {
        va = kWindow + rng.below(kWindowPages) * kPage;
      }
      const bool write = rng.below(2) == 0;
      const bool exec = !write && rng.below(4) == 0;
      auto it = pages.find(va);
      const uint64_t committed_before = it != pages.end() ? it->second.vmo->committed_pages() : 0;
      const uint64_t copies_before = frames_.free_frames();
      const FaultResult r = as->handle_fault(va + rng.below(kPage), write, exec, true, {});
      if (it == pages.end()) {
        EXPECT_EQ(r, FaultResult::NotMapped);
        ++seen["fault not mapped"];
        continue;
      }
      const PageModel& pm = it->second;
      if ((write && !(pm.prot & Prot::Write)) || (exec && !(pm.prot & Prot::Execute))) {
        EXPECT_EQ(r, FaultResult::AccessViolation);
        ++seen["fault violation"];
        continue;
      }
      ASSERT_EQ(r, FaultResult::Resolved);
      auto t = as->translate(va);
      ASSERT_TRUE(t.ok());
      if (pm.vmo->committed_pages() > committed_before) ++seen["fault demand zero"];
      EXPECT_EQ(load64(t->phys), model_tag(pm.vmo, pm.vmo_page)) << std::hex << va;
      if (write) {
        ASSERT_TRUE(t->prot & Prot::Write);
        if (copies_before != frames_.free_frames()) ++seen["fault write (allocated)"];
        const uint64_t tag = next_tag++;
        store64(t->phys, tag);
        contents[pm.vmo][pm.vmo_page] = tag;
      }
    } else if (op < 86) {  // clone an object (fork-like); the clone joins the pool
      if (pool.size() >= 10) pool.erase(pool.begin() + 3 + rng.below(pool.size() - 3));
      RefPtr<MemoryObject> src = pool[rng.below(pool.size())];
      auto c = src->clone_cow(0, src->size());
      ASSERT_TRUE(c.ok());
      contents[c->get()] = contents[src.get()];
      pool.push_back(c.release_value());
    } else if (op < 94) {  // kernel write into an object
      RefPtr<MemoryObject> v = pool[rng.below(pool.size())];
      const uint64_t page = rng.below(v->page_count());
      const uint64_t tag = next_tag++;
      ASSERT_TRUE(v->write(page * kPage, &tag, sizeof tag).ok());
      contents[v.get()][page] = tag;
    } else {  // decommit
      RefPtr<MemoryObject> v = pool[rng.below(pool.size())];
      const uint64_t first = rng.below(v->page_count());
      const uint64_t n = 1 + rng.below(std::min<uint64_t>(4, v->page_count() - first));
      ASSERT_TRUE(v->decommit(first * kPage, n * kPage).ok());
      for (uint64_t i = 0; i < n; ++i) contents[v.get()].erase(first + i);
    }
    ASSERT_TRUE(as->check_invariants());
    uint64_t model_bytes = pages.size() * kPage;
    ASSERT_EQ(as->mapped_bytes(), model_bytes);
    if (step % 50 == 0) {
      for (auto& v : pool) ASSERT_TRUE(v->check_invariants());
      ASSERT_TRUE(frames_.check_invariants());
      // Every object's contents match the model.
      for (auto& v : pool) {
        for (uint64_t p = 0; p < v->page_count(); ++p) {
          uint64_t got;
          ASSERT_TRUE(v->read(p * kPage, &got, sizeof got).ok());
          ASSERT_EQ(got, model_tag(v.get(), p));
        }
      }
    }
  }
  for (const char* what :
       {"map W+X", "map overlap", "map fixed", "map random", "unmap present", "unmap split", "protect hole",
        "protect", "protect split", "protect flushed", "fault not mapped", "fault violation",
        "fault demand zero", "fault write (allocated)"}) {
    EXPECT_GT(seen[what], 3) << what;
  }
  EXPECT_FALSE(remote.ranges.empty());  // clones and decommits reached mapped pages
  // Objects dropped from the pool may still be mapped; they die with the
  // address space.
  as->destroy();
  as = nullptr;
  pool.clear();
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

// Clones taken, mapped, read and written on several threads while the parent
// is written and faulted on: frame refcounts, COW breaks and write-protection
// race for real (the spinlocks are real on the host). ASan checks that no
// frame is used after it was freed through the 0xcc-filled fake RAM only
// indirectly, so contents are checked explicitly.
TEST_F(VmTest, ConcurrentClonesAndCowBreaks) {
  constexpr uint64_t kPages = 32;
  constexpr int kCloners = 3;
  constexpr int kRounds = 60;
  auto parent = vmo(kPages);
  auto parent_as = aspace(11);
  const uint64_t pbase = *parent_as->map(parent, 0, kPages * kPage, kRW, 0x100000, {});
  for (uint64_t p = 0; p < kPages; ++p) {
    const uint64_t tag = p;  // round 0
    ASSERT_TRUE(parent->write(p * kPage, &tag, sizeof tag).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto well_formed = [](uint64_t value, uint64_t page) { return value % 1000 == page; };

  std::thread writer([&] {  // kernel writes into the parent: tag = round * 1000 + page
    for (uint64_t round = 1; !stop.load(); ++round) {
      for (uint64_t p = 0; p < kPages; ++p) {
        const uint64_t tag = round * 1000 + p;
        if (!parent->write(p * kPage, &tag, sizeof tag).ok()) ++failures;
      }
    }
  });
  std::thread faulter([&] {  // write faults in the parent's address space
    for (uint64_t i = 0; !stop.load(); ++i) {
      if (parent_as->handle_fault(pbase + (i % kPages) * kPage, (i / kPages) % 2 == 0, false, true, {}) !=
          FaultResult::Resolved)
        ++failures;
      if (i % 64 == 0 && !parent_as->check_invariants()) ++failures;
    }
  });
  std::vector<std::thread> cloners;
  for (int t = 0; t < kCloners; ++t) {
    cloners.emplace_back([&, t] {
      auto as = AddressSpace::create(frames_, nullptr, 100 + t).release_value();
      for (int round = 0; round < kRounds; ++round) {
        auto c = parent->clone_cow(0, kPages * kPage);
        if (!c.ok()) {
          ++failures;
          continue;
        }
        RefPtr<MemoryObject> clone = c.release_value();
        const uint64_t at = *as->map(clone, 0, kPages * kPage, kRW, 0, {});
        // This thread alone touches `as` and `clone`: a frame it reads
        // through a translation cannot be freed meanwhile.
        for (uint64_t p = 0; p < kPages; ++p) {
          if (as->handle_fault(at + p * kPage, false, false, true, {}) != FaultResult::Resolved) ++failures;
          if (!well_formed(load64(as->translate(at + p * kPage)->phys), p)) ++failures;
        }
        for (uint64_t p = 0; p < kPages; p += 2) {
          if (as->handle_fault(at + p * kPage, true, false, true, {}) != FaultResult::Resolved) ++failures;
          auto tr = as->translate(at + p * kPage);
          if (!(tr->prot & Prot::Write)) ++failures;
          store64(tr->phys, 7000000 + p);
        }
        for (uint64_t p = 0; p < kPages; ++p) {
          uint64_t v = 0;
          if (!clone->read(p * kPage, &v, sizeof v).ok()) ++failures;
          if (p % 2 == 0 ? v != 7000000 + p : !well_formed(v, p)) ++failures;
        }
        if (!as->check_invariants() || !clone->check_invariants()) ++failures;
        if (!as->unmap(at, kPages * kPage, {}).ok()) ++failures;
      }
      as->destroy();
    });
  }
  for (auto& c : cloners) c.join();
  stop = true;
  writer.join();
  faulter.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(parent->check_invariants());
  EXPECT_TRUE(parent_as->check_invariants());
  for (uint64_t p = 0; p < kPages; ++p) EXPECT_EQ(refcount(*parent->commit_page(p)), 1u);
  parent_as = nullptr;
  parent = nullptr;
  EXPECT_EQ(frames_.free_frames(), baseline_);
}

}  // namespace
}  // namespace vm
