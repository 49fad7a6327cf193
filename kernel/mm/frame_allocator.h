// mm/frame_allocator.h — the physical frame allocator: a binary buddy system.
//
// Manages the usable physical memory in blocks of 2^order frames (order 0 =
// 4 KiB ... kMaxOrder = 10 = 4 MiB; order 9 = 2 MiB large pages). Every block
// is naturally aligned to its size in physical address space.
//
// Data structures:
//  - one intrusive doubly-linked free list per order; the list node of a free
//    block lives in the first bytes of the block itself (through the direct
//    map, mm/phys.h), so free memory costs nothing to track;
//  - a Frame descriptor (8 bytes) for every 4 KiB frame in
//    [lowest usable, highest usable), carved at init() from the usable memory
//    it describes. The head frame of each block records the block's order and
//    state; this gives O(1) buddy lookup and cheap misuse checks.
// alloc() and free() are O(kMaxOrder).
//
// Locking: alloc, alloc_below, free and check_invariants take the allocator's
// own interrupt-safe spinlock, a leaf lock (nothing else is acquired while it
// is held). init() runs before any concurrency. The heap (mm/heap.h) calls in
// with its own lock held, so the order is heap lock -> frame allocator lock.
#pragma once

#include <ktl/list.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/phys.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace mm {

// Largest block order: 2^10 frames = 4 MiB.
constexpr unsigned kMaxOrder = 10;
// Order of a 2 MiB (large page) block.
constexpr unsigned kLargePageOrder = 9;
static_assert((kPageSize << kLargePageOrder) == kLargePageSize);

// Bytes in a block of `order`.
constexpr uint64_t order_size(unsigned order) { return kPageSize << order; }

// Smallest order whose block holds `bytes` (0 for bytes <= 4 KiB). May exceed
// kMaxOrder: callers must check. Never overflows (saturates at 64 - kPageShift).
constexpr unsigned order_for_size(uint64_t bytes) {
  unsigned order = 0;
  while (order < 64 - kPageShift && order_size(order) < bytes) ++order;
  return order;
}

// A physical address range [base, base + length), as the boot protocol reports
// it. Need not be aligned.
struct PhysRange {
  PhysAddr base;
  uint64_t length;
};

// A read-only view of PhysRange entries, as init() takes them. Converts
// implicitly from std::span<const PhysRange>, C arrays and contiguous
// containers, so it reads like std::span at call sites. It is not std::span
// because, with clang 14 and libstdc++ 12, <span> does not compile under
// -mgeneral-regs-only (it declares a long double overload).
class PhysRanges {
 public:
  constexpr PhysRanges() = default;
  constexpr PhysRanges(const PhysRange* data, size_t size) : data_(data), size_(size) {}
  template <size_t N>
  constexpr PhysRanges(const PhysRange (&array)[N]) : data_(array), size_(N) {}
  template <typename C>
  requires std::is_convertible_v<decltype(std::declval<const C&>().data()), const PhysRange*> &&
      std::is_convertible_v<decltype(std::declval<const C&>().size()), size_t>
  constexpr PhysRanges(const C& c) : data_(c.data()), size_(c.size()) {}

  constexpr const PhysRange* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr const PhysRange* begin() const { return data_; }
  constexpr const PhysRange* end() const { return data_ + size_; }
  constexpr const PhysRange& operator[](size_t i) const { return data_[i]; }

 private:
  const PhysRange* data_ = nullptr;
  size_t size_ = 0;
};

// Per-frame descriptor. Only the head frame of a block carries state (order and
// the kFree/kAllocated flags); the other frames of a block have flags == 0.
struct Frame {
  // Head of a free block of `order` (in the free list of that order).
  static constexpr uint8_t kFree = 1 << 0;
  // Not managed: a hole between usable ranges, a reserved range, or the Frame
  // array itself. Never handed out, never merged.
  static constexpr uint8_t kReserved = 1 << 1;
  // Head of a block of `order` handed out by alloc*().
  static constexpr uint8_t kAllocated = 1 << 2;
  // Set by the heap (mm/heap.h) on the head of a kmalloc() large block, next
  // to kAllocated; cleared by free().
  static constexpr uint8_t kKmallocLarge = 1 << 3;

  uint8_t order;
  uint8_t flags;
  uint16_t pad;
  // Sharing count for copy-on-write (later); 0 at init and on alloc.
  uint32_t refcount;
};
static_assert(sizeof(Frame) == 8);

class FrameAllocator {
 public:
  // Called on detected misuse of free() (double free, unaligned address,
  // address outside the managed range, wrong order, reserved frame). `what`
  // is a static string; `addr` the offending address. The kernel points this
  // at a panic; tests record the call. The offending call is ignored, so the
  // allocator state stays intact. nullptr: misuse is silently ignored.
  using MisuseHandler = void (*)(const char* what, PhysAddr addr);
  MisuseHandler misuse_handler = nullptr;

  FrameAllocator() = default;
  FrameAllocator(const FrameAllocator&) = delete;
  FrameAllocator& operator=(const FrameAllocator&) = delete;

  // Takes ownership of the physical memory in `usable` minus `reserved`.
  // Usable ranges are rounded inward to 4 KiB and may overlap each other;
  // reserved ranges (kernel image, modules, boot information, low memory, ...)
  // are rounded outward and may overlap anything. The Frame array for
  // [lowest, highest) usable frame is carved from the highest free stretch
  // that fits it, and is itself reserved. All remaining frames go to the free
  // lists as the largest naturally aligned blocks possible. The memory must be
  // reachable through phys_to_virt(). Call once per instance.
  // Errors: InvalidArgument if a range wraps around 2^64 or init() was called
  // before; NoMemory if no usable frame remains or the Frame array fits
  // nowhere.
  ktl::Result<void> init(PhysRanges usable, PhysRanges reserved);

  // Allocates a block of 2^order frames, aligned to its size.
  // Errors: InvalidArgument if order > kMaxOrder; NoMemory if no block is left.
  ktl::Result<PhysAddr> alloc(unsigned order);

  // Like alloc(), but the whole block lies below `limit` (e.g. 4 GiB for
  // 32-bit DMA, 1 MiB for AP trampolines). O(number of free blocks of order
  // >= `order`): walks the free lists.
  // Errors: InvalidArgument if order > kMaxOrder; NoMemory if no block fits.
  ktl::Result<PhysAddr> alloc_below(unsigned order, PhysAddr limit);

  // Returns a block from alloc*() with the same order, merging it with free
  // buddies. Misuse (see MisuseHandler) is reported and the call ignored.
  void free(PhysAddr addr, unsigned order);

  ktl::Result<PhysAddr> alloc_page() { return alloc(0); }
  void free_page(PhysAddr addr) { free(addr, 0); }
  // A 2 MiB block, 2 MiB-aligned.
  ktl::Result<PhysAddr> alloc_2m() { return alloc(kLargePageOrder); }

  // Descriptor of the frame containing `addr`; nullptr outside
  // [range_base(), range_end()). Callers may use refcount and kKmallocLarge;
  // the other fields belong to the allocator.
  Frame* frame(PhysAddr addr);
  const Frame* frame(PhysAddr addr) const;

  // Frames currently free.
  uint64_t free_frames() const { return free_frames_; }
  // Frames under management: usable minus reserved minus the Frame array.
  uint64_t total_frames() const { return total_frames_; }
  // Blocks in the free list of `order` (0 if order > kMaxOrder).
  size_t free_blocks(unsigned order) const;
  // The range the Frame array describes: [lowest usable, highest usable).
  PhysAddr range_base() const { return base_; }
  PhysAddr range_end() const { return end_; }

  // Walks every free list and the whole Frame array; O(frames). Verifies that
  // every free block is aligned, inside the range, marked kFree with its list's
  // order, not overlapping any other block or reserved frame, not mergeable
  // with its buddy; that blocks tile all managed frames; and that the free
  // blocks add up to free_frames(). For tests and kernel stress tests.
  bool check_invariants() const;

 private:
  // A free block's first bytes, reached through phys_to_virt().
  struct FreeBlock {
    ktl::ListNode node;
  };
  using FreeList = ktl::List<FreeBlock, &FreeBlock::node>;

  uint64_t index(PhysAddr addr) const { return (addr - base_) >> kPageShift; }
  bool contains(PhysAddr addr) const { return addr >= base_ && addr < end_; }
  static FreeBlock* block_at(PhysAddr addr) { return phys_to_ptr<FreeBlock>(addr); }
  static PhysAddr addr_of(const FreeBlock* b) { return virt_to_phys(b); }

  // Puts the free block [addr, addr + order_size(order)) on its list,
  // merging it with free buddies first. Does not touch free_frames_.
  void release(PhysAddr addr, unsigned order);
  // Pushes a block on the free list of `order` and marks its head frame.
  void push_free(PhysAddr addr, unsigned order);
  // Removes the free block `b` of order `have` from its list, splits it down
  // to `want` (returning the upper halves), and marks it allocated.
  PhysAddr take(FreeBlock* b, unsigned have, unsigned want);
  void report(const char* what, PhysAddr addr) const;

  // lock_ guards the free lists, the Frame array's order/flags of free and
  // allocated heads, and the counters. Interrupt-safe; the misuse handler
  // runs with it held. Lock order: the heap's lock, then this one.
  mutable klib::SpinLock lock_;
  FreeList free_lists_[kMaxOrder + 1];
  Frame* frames_ = nullptr;  // frame_count_ descriptors, for [base_, end_)
  uint64_t frame_count_ = 0;
  PhysAddr base_ = 0;
  PhysAddr end_ = 0;
  uint64_t free_frames_ = 0;
  uint64_t total_frames_ = 0;
  bool initialized_ = false;
};

}  // namespace mm
