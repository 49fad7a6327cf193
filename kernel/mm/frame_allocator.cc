// mm/frame_allocator.cc — the buddy allocator (see frame_allocator.h).
//
// Invariants (checked by check_invariants()):
//  - the managed frames are tiled by blocks; each block's head frame has
//    kFree or kAllocated and its order, every other frame of it flags == 0;
//  - frames outside every block are exactly the kReserved ones;
//  - a block with kFree is in free_lists_[order], and its buddy is not a free
//    block of the same order (free blocks are always fully merged).
#include <mm/frame_allocator.h>

#include <ktl/align.h>

#include <new>

namespace mm {
namespace {

using ktl::Error;

// A page-aligned stretch of physical memory [start, end).
struct Span {
  uint64_t start;
  uint64_t end;
};

// Highest page-aligned address. No usable frame starts at or above it: usable
// ends are rounded down from at most 2^64 - 1.
constexpr uint64_t kTopPage = ~(kPageSize - 1);

bool wraps(const PhysRange& r) {
  uint64_t end;
  return !ktl::checked_add(r.base, r.length, end);
}

// `r` (which does not wrap) rounded inward to whole frames; false if that
// leaves no frame.
bool usable_span(const PhysRange& r, Span& out) {
  uint64_t start;
  if (!ktl::align_up(r.base, kPageSize, start)) return false;
  const uint64_t end = ktl::align_down(r.base + r.length, kPageSize);
  if (end <= start) return false;
  out = {start, end};
  return true;
}

// `r` (which does not wrap) rounded outward to whole frames; false if empty.
bool reserved_span(const PhysRange& r, Span& out) {
  if (r.length == 0) return false;
  uint64_t end;
  if (!ktl::align_up(r.base + r.length, kPageSize, end)) end = kTopPage;
  out = {ktl::align_down(r.base, kPageSize), end};
  return true;
}

// Calls fn(Span) for each maximal stretch of frames that lie in a usable range
// and in no reserved range nor in `extra`. A frame in several (overlapping)
// usable ranges is reported once, for the first of them. O(usable * R^2) with
// R = reserved + usable ranges: boot-time only, and R is small.
template <typename Fn>
void for_each_free_span(PhysRanges usable, PhysRanges reserved, Span extra, Fn&& fn) {
  for (size_t i = 0; i < usable.size(); ++i) {
    Span u;
    if (!usable_span(usable[i], u)) continue;
    // Everything that removes frames from usable[i].
    auto for_each_exclusion = [&](auto&& g) {
      Span s;
      for (const PhysRange& r : reserved)
        if (reserved_span(r, s)) g(s);
      if (extra.end > extra.start) g(extra);
      for (size_t j = 0; j < i; ++j)
        if (usable_span(usable[j], s)) g(s);
    };
    uint64_t cur = u.start;
    while (cur < u.end) {
      // Step over the exclusions covering `cur`; they may chain.
      bool moved = true;
      while (moved && cur < u.end) {
        moved = false;
        for_each_exclusion([&](Span s) {
          if (s.start <= cur && cur < s.end) {
            cur = s.end;
            moved = true;
          }
        });
      }
      if (cur >= u.end) break;
      uint64_t stop = u.end;
      for_each_exclusion([&](Span s) {
        if (s.start > cur && s.start < stop) stop = s.start;
      });
      fn(Span{cur, stop});
      cur = stop;
    }
  }
}

}  // namespace

ktl::Result<void> FrameAllocator::init(PhysRanges usable, PhysRanges reserved) {
  if (initialized_) return Error::InvalidArgument;
  for (const PhysRange& r : usable)
    if (wraps(r)) return Error::InvalidArgument;
  for (const PhysRange& r : reserved)
    if (wraps(r)) return Error::InvalidArgument;

  // Pass 1: the extent of free memory, which the Frame array describes.
  uint64_t lo = ~uint64_t{0};
  uint64_t hi = 0;
  for_each_free_span(usable, reserved, Span{0, 0}, [&](Span s) {
    if (s.start < lo) lo = s.start;
    if (s.end > hi) hi = s.end;
  });
  if (hi == 0) return Error::NoMemory;
  const uint64_t count = (hi - lo) >> kPageShift;
  const uint64_t array_bytes = ktl::align_up(count * sizeof(Frame), kPageSize);  // < 2^56: no overflow

  // Pass 2: put the array at the top of the highest stretch that holds it,
  // which leaves low memory (DMA, AP trampolines) to alloc_below().
  uint64_t array_base = 0;
  bool found = false;
  for_each_free_span(usable, reserved, Span{0, 0}, [&](Span s) {
    if (s.end - s.start >= array_bytes && (!found || s.end - array_bytes > array_base)) {
      array_base = s.end - array_bytes;
      found = true;
    }
  });
  if (!found) return Error::NoMemory;

  frames_ = phys_to_ptr<Frame>(array_base);
  frame_count_ = count;
  base_ = lo;
  end_ = hi;
  for (uint64_t i = 0; i < count; ++i) frames_[i] = Frame{0, Frame::kReserved, 0, 0};

  // Pass 3: hand every remaining frame to the buddy lists. Stretches are cut
  // greedily into the largest aligned blocks; release() also merges across
  // adjacent stretches (e.g. touching usable ranges).
  uint64_t managed = 0;
  for_each_free_span(usable, reserved, Span{array_base, array_base + array_bytes}, [&](Span s) {
    for (uint64_t a = s.start; a < s.end; a += kPageSize) frames_[index(a)].flags = 0;
    uint64_t a = s.start;
    while (a < s.end) {
      unsigned order = kMaxOrder;
      while (order > 0 && (!ktl::is_aligned(a, order_size(order)) || s.end - a < order_size(order))) --order;
      release(a, order);
      a += order_size(order);
    }
    managed += (s.end - s.start) >> kPageShift;
  });
  if (managed == 0) {  // the array took the last usable frames
    frames_ = nullptr;
    frame_count_ = 0;
    base_ = end_ = 0;
    return Error::NoMemory;
  }
  total_frames_ = managed;
  free_frames_ = managed;
  initialized_ = true;
  return ktl::ok();
}

void FrameAllocator::push_free(PhysAddr addr, unsigned order) {
  Frame& f = frames_[index(addr)];
  f.flags = Frame::kFree;
  f.order = static_cast<uint8_t>(order);
  free_lists_[order].push_front(new (block_at(addr)) FreeBlock{});
}

void FrameAllocator::release(PhysAddr addr, unsigned order) {
  while (order < kMaxOrder) {
    const PhysAddr buddy = addr ^ order_size(order);
    if (!contains(buddy)) break;
    Frame& b = frames_[index(buddy)];
    if (b.flags != Frame::kFree || b.order != order) break;
    free_lists_[order].remove(block_at(buddy));
    b.flags = 0;  // becomes a non-head frame of the merged block
    b.order = 0;
    if (buddy < addr) addr = buddy;
    ++order;
  }
  push_free(addr, order);
}

PhysAddr FrameAllocator::take(FreeBlock* b, unsigned have, unsigned want) {
  const PhysAddr addr = addr_of(b);
  free_lists_[have].remove(b);
  while (have > want) {  // keep the lower half, free the upper one
    --have;
    push_free(addr + order_size(have), have);
  }
  Frame& f = frames_[index(addr)];
  f.flags = Frame::kAllocated;
  f.order = static_cast<uint8_t>(want);
  f.refcount = 0;
  free_frames_ -= uint64_t{1} << want;
  return addr;
}

ktl::Result<PhysAddr> FrameAllocator::alloc(unsigned order) {
  if (order > kMaxOrder) return Error::InvalidArgument;
  klib::SpinLockGuard guard(lock_);
  for (unsigned k = order; k <= kMaxOrder; ++k)
    if (!free_lists_[k].empty()) return take(free_lists_[k].front(), k, order);
  return Error::NoMemory;
}

ktl::Result<PhysAddr> FrameAllocator::alloc_below(unsigned order, PhysAddr limit) {
  if (order > kMaxOrder) return Error::InvalidArgument;
  klib::SpinLockGuard guard(lock_);
  // take() returns the lowest part of a larger block, so a block qualifies iff
  // its first order_size(order) bytes end at or below `limit`.
  for (unsigned k = order; k <= kMaxOrder; ++k) {
    FreeList& list = free_lists_[k];
    for (FreeBlock* b = list.front(); b != nullptr; b = list.next(b)) {
      const PhysAddr a = addr_of(b);
      if (a < limit && limit - a >= order_size(order)) return take(b, k, order);
    }
  }
  return Error::NoMemory;
}

void FrameAllocator::free(PhysAddr addr, unsigned order) {
  klib::SpinLockGuard guard(lock_);
  if (order > kMaxOrder) return report("frame free: order above kMaxOrder", addr);
  if (!ktl::is_aligned(addr, order_size(order)))
    return report("frame free: address not aligned to the block", addr);
  if (!contains(addr) || end_ - addr < order_size(order))
    return report("frame free: address outside the managed range", addr);
  Frame& f = frames_[index(addr)];
  if (f.flags & Frame::kReserved) return report("frame free: reserved frame", addr);
  if (f.flags & Frame::kFree) return report("frame free: double free", addr);
  // A non-head frame: inside a block, or a block already freed and merged.
  if (!(f.flags & Frame::kAllocated))
    return report("frame free: not an allocated block (double free?)", addr);
  if (f.order != order) return report("frame free: order differs from the allocation", addr);
  f.flags = 0;
  f.order = 0;
  free_frames_ += uint64_t{1} << order;
  release(addr, order);
}

Frame* FrameAllocator::frame(PhysAddr addr) { return contains(addr) ? &frames_[index(addr)] : nullptr; }

const Frame* FrameAllocator::frame(PhysAddr addr) const {
  return contains(addr) ? &frames_[index(addr)] : nullptr;
}

size_t FrameAllocator::free_blocks(unsigned order) const {
  return order > kMaxOrder ? 0 : free_lists_[order].size();
}

void FrameAllocator::report(const char* what, PhysAddr addr) const {
  if (misuse_handler != nullptr) misuse_handler(what, addr);
}

bool FrameAllocator::check_invariants() const {
  klib::SpinLockGuard guard(lock_);
  // Free lists: every entry a well-formed free block.
  uint64_t listed_frames = 0;
  uint64_t listed_blocks = 0;
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    const FreeList& list = free_lists_[k];
    size_t n = 0;
    for (FreeBlock* b = list.front(); b != nullptr; b = list.next(b)) {
      if (++n > frame_count_) return false;  // a cycle
      const PhysAddr a = addr_of(b);
      if (!ktl::is_aligned(a, order_size(k))) return false;
      if (!contains(a) || end_ - a < order_size(k)) return false;
      const Frame& f = frames_[index(a)];
      if (f.flags != Frame::kFree || f.order != k) return false;
      listed_frames += uint64_t{1} << k;
    }
    if (n != list.size()) return false;
    listed_blocks += n;
  }
  if (listed_frames != free_frames_) return false;

  // Frame array: reserved frames and blocks tile it without overlap.
  uint64_t free_heads = 0;
  uint64_t free_in_array = 0;
  uint64_t managed = 0;
  for (uint64_t i = 0; i < frame_count_;) {
    const Frame& f = frames_[i];
    if (f.flags == Frame::kReserved) {
      ++i;
      continue;
    }
    const bool is_free = f.flags == Frame::kFree;
    const bool is_allocated = (f.flags & ~Frame::kKmallocLarge) == Frame::kAllocated;
    if (!is_free && !is_allocated) return false;  // e.g. a lone non-head frame
    if (f.order > kMaxOrder) return false;
    const uint64_t n = uint64_t{1} << f.order;
    const PhysAddr a = base_ + (i << kPageShift);
    if (!ktl::is_aligned(a, order_size(f.order)) || n > frame_count_ - i) return false;
    for (uint64_t j = 1; j < n; ++j)
      if (frames_[i + j].flags != 0) return false;
    if (is_free) {
      ++free_heads;
      free_in_array += n;
      if (f.order < kMaxOrder) {  // fully merged
        const PhysAddr buddy = a ^ order_size(f.order);
        if (contains(buddy)) {
          const Frame& b = frames_[index(buddy)];
          if (b.flags == Frame::kFree && b.order == f.order) return false;
        }
      }
    }
    managed += n;
    i += n;
  }
  return free_heads == listed_blocks && free_in_array == free_frames_ && managed == total_frames_;
}

}  // namespace mm
