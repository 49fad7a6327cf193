// mm/slab.h — slab caches: fast allocation of fixed-size kernel objects.
//
// A SlabCache hands out objects of one size and alignment, carved from 4 KiB
// pages ("slabs") it gets from a PageSource. Each slab page starts with a
// 64-byte header (owner cache, magic, in-use count, free bitmap); objects
// follow, the first one at the header's end rounded up to the alignment.
// Because no object starts at a page boundary, free(p) finds the header by
// rounding p down to the page, and the heap (mm/heap.h) can tell slab objects
// from page-aligned large blocks.
//
// The free bitmap is the slab's free list (1 = free, lowest index first): at
// most 252 objects per slab, so finding a free object scans <= 4 words, and the
// same bit makes double frees detectable at no extra cost.
//
// A cache keeps its slabs on three lists (partial, full, empty), allocates from
// partial slabs first, and returns a page to the source as soon as more than
// one slab is empty (one is kept to absorb alloc/free ping-pong).
//
// Debug builds (NDEBUG undefined) fill free objects with kSlabPoison (0xDE) and
// check the fill on allocation, which catches most writes after free.
//
// Locking: not thread-safe; the owner (the heap) serialises calls.
#pragma once

#include <ktl/list.h>
#include <ktl/result.h>
#include <mm/phys.h>

#include <cstddef>
#include <cstdint>

namespace mm {

// Where slabs come from: one 4 KiB page per alloc call, page-aligned and
// reachable through phys_to_virt(). The kernel binds it to the frame
// allocator; tests to fakes that count pages.
struct PageSource {
  ktl::Result<PhysAddr> (*alloc)(void* ctx);
  void (*free)(void* ctx, PhysAddr page);
  void* ctx;
};

#ifdef NDEBUG
constexpr bool kSlabPoisonEnabled = false;
#else
constexpr bool kSlabPoisonEnabled = true;
#endif
// Fill byte of free objects (debug builds).
constexpr uint8_t kSlabPoison = 0xDE;

class SlabCache {
 public:
  // Largest object a slab cache serves; larger requests take whole pages.
  static constexpr size_t kMaxObjectSize = 2048;
  // Objects are at least this big (the slab's free bitmap has room for
  // kPageSize / kMinObjectSize objects).
  static constexpr size_t kMinObjectSize = 16;

  // Called on detected misuse of free() (double free, pointer not at an
  // object start, object of another cache, pointer not in a slab) and on a
  // damaged poison fill (write after free). `what` is a static string; `ptr`
  // the offending pointer. Misused frees are ignored; a damaged object is
  // still handed out. nullptr: misuse is silently ignored.
  using MisuseHandler = void (*)(const char* what, const void* ptr);
  MisuseHandler misuse_handler = nullptr;

  SlabCache() = default;
  SlabCache(const SlabCache&) = delete;
  SlabCache& operator=(const SlabCache&) = delete;

  // Prepares an empty cache (no page is allocated yet). `name` must outlive
  // the cache (a string literal); `size` in bytes, 1..kMaxObjectSize, rounded
  // up to a multiple of `align` and to at least kMinObjectSize; `align` a power
  // of two <= kMaxObjectSize. Errors: InvalidArgument for a bad size,
  // alignment or PageSource, or if the cache was initialised before.
  ktl::Result<void> init(const char* name, size_t size, size_t align, PageSource source);

  // Returns an object, aligned as requested at init(), or nullptr when the
  // page source is exhausted. Contents are unspecified (poison in debug).
  void* alloc();

  // Returns an object from alloc() of this cache; nullptr is a no-op. Misuse
  // is reported through misuse_handler and the call ignored.
  void free(void* ptr);

  // Returns every empty slab's page to the source.
  void shrink();

  // The cache that owns the slab holding `ptr`, judged by the page header's
  // magic; nullptr if `ptr` is page-aligned or its page is no slab.
  // Precondition: the page holding `ptr` is mapped.
  static SlabCache* owner_of(const void* ptr);

  const char* name() const { return name_; }
  // Bytes between consecutive objects (>= the size asked for).
  size_t object_size() const { return stride_; }
  size_t objects_per_slab() const { return capacity_; }
  // Stats.
  size_t objects_in_use() const { return in_use_; }
  size_t slabs() const { return partial_.size() + full_.size() + empty_.size(); }
  size_t empty_slabs() const { return empty_.size(); }

  // Verifies every slab: header, in-use count against its bitmap, list
  // membership matching its fill, and the cache's totals. For tests.
  bool check_invariants() const;

 private:
  // The header at the start of every slab page.
  struct Slab {
    static constexpr size_t kMapWords = kPageSize / kMinObjectSize / 64;
    ktl::ListNode node;  // in partial_, full_ or empty_ of `cache`
    SlabCache* cache;
    uint32_t magic;
    uint16_t in_use;
    uint16_t pad;
    uint64_t free_map[kMapWords];  // bit i set: object i is free
  };
  using SlabList = ktl::List<Slab, &Slab::node>;

  Slab* new_slab();
  void release_slab(Slab* slab);
  void* object(Slab* slab, size_t i) const;
  void report(const char* what, const void* ptr) const;

  const char* name_ = nullptr;
  PageSource source_{};
  size_t stride_ = 0;        // object size rounded to the alignment
  size_t first_offset_ = 0;  // page offset of object 0
  size_t capacity_ = 0;      // objects per slab
  size_t in_use_ = 0;
  SlabList partial_;  // 0 < in_use < capacity_
  SlabList full_;     // in_use == capacity_
  SlabList empty_;    // in_use == 0; at most one outside shrink()
};

}  // namespace mm
