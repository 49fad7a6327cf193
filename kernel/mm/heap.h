// mm/heap.h — the kernel heap: kmalloc/kfree/kzalloc and knew/kdelete.
//
// Requests up to 2048 bytes go to one of eight SlabCaches (size classes 16,
// 32, ..., 2048 bytes, each object aligned to its class size). Larger requests
// take a whole buddy block of the smallest fitting order (up to 4 MiB) from
// the frame allocator. A large block carries no header: its head Frame
// descriptor is marked Frame::kKmallocLarge and the allocator already records
// its order there, so kfree() needs no size and large blocks stay page-aligned
// (aligned to their size, in fact). kfree() tells the two apart by alignment:
// slab objects never start at a page boundary (the slab header is there).
//
// Alignment: kmalloc(n) is aligned to n's size class (>= 16 bytes) for
// n <= 2048, and to 4 KiB (at least) above that.
//
// Cost of on-page slab headers: a page holds 3 objects of 1024 bytes and 1 of
// 2048, so those classes waste 25% and 50% of their pages. Fine while large
// objects are rare; off-page headers would fix it if that changes.
//
// The kernel has one heap (heap_init() + the free functions below). Host tests
// call heap_init() again for each fresh fake RAM; KernelHeap instances can
// also be used directly.
//
// Locking: alloc/zalloc/free/shrink take the heap's interrupt-safe spinlock
// (one lock for all size classes: simple, and enough until per-CPU caches are
// needed); lock order is heap lock -> frame allocator lock.
#pragma once

#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/slab.h>

#include <cstddef>
#include <new>
#include <utility>

namespace mm {

class FrameAllocator;

class KernelHeap {
 public:
  static constexpr size_t kNumClasses = 8;
  static constexpr size_t kMinClass = 16;
  static constexpr size_t kMaxClass = SlabCache::kMaxObjectSize;  // 2048
  static_assert(kMinClass << (kNumClasses - 1) == kMaxClass);

  // Reports kfree() misuse: double free, pointer not from kmalloc, pointer
  // inside an object; and damaged poison (see SlabCache::MisuseHandler).
  using MisuseHandler = SlabCache::MisuseHandler;

  KernelHeap() = default;
  KernelHeap(const KernelHeap&) = delete;
  KernelHeap& operator=(const KernelHeap&) = delete;

  // Binds the heap to `frames`, which provides slab pages and large blocks
  // and must outlive the heap. Call once per instance.
  // Errors: InvalidArgument if called twice.
  ktl::Result<void> init(FrameAllocator& frames);

  // Returns `size` bytes (0 is treated as 1), or nullptr if memory is
  // exhausted, size > 4 MiB, or init() was not called.
  void* alloc(size_t size);
  // alloc() followed by zero-filling `size` bytes.
  void* zalloc(size_t size);
  // Returns memory from alloc()/zalloc(); nullptr is a no-op. Misuse is
  // reported through the misuse handler and the call ignored.
  void free(void* ptr);

  // Installs `handler` for the heap and all its caches.
  void set_misuse_handler(MisuseHandler handler);
  // Returns the caches' empty slabs to the frame allocator.
  void shrink();

  // Stats.
  // Size class `i` (0 = 16 bytes ... 7 = 2048 bytes). Precondition: i < kNumClasses.
  const SlabCache& size_class(size_t i) const { return caches_[i]; }
  // Live large blocks and the frames they hold.
  size_t large_blocks() const { return large_blocks_; }
  uint64_t large_frames() const { return large_frames_; }
  // Every cache's check_invariants(). For tests.
  bool check_invariants() const;

 private:
  static size_t class_index(size_t size);
  void report(const char* what, const void* ptr) const;

  mutable klib::SpinLock lock_;  // guards everything below
  FrameAllocator* frames_ = nullptr;
  SlabCache caches_[kNumClasses];
  MisuseHandler misuse_handler_ = nullptr;
  size_t large_blocks_ = 0;
  uint64_t large_frames_ = 0;
};

// (Re)creates the kernel heap on `frames`. A previous heap is forgotten, not
// torn down: its memory belonged to the allocator it was bound to (host tests
// re-initialise with fresh fake RAM). Errors: as KernelHeap::init().
ktl::Result<void> heap_init(FrameAllocator& frames);

// The kernel heap; nullptr before heap_init().
KernelHeap* kernel_heap();

// The KernelHeap operations on the kernel heap. Before heap_init(), kmalloc
// and kzalloc return nullptr and kfree ignores its argument.
void* kmalloc(size_t size);
void* kzalloc(size_t size);
void kfree(void* ptr);

// Allocates and constructs a T; nullptr if the heap is exhausted (T's
// constructor is not run then).
template <typename T, typename... A>
T* knew(A&&... args) {
  static_assert(alignof(T) <= 4096, "kmalloc aligns to at most a page");
  void* p = kmalloc(sizeof(T));
  if (p == nullptr) return nullptr;
  return new (p) T(std::forward<A>(args)...);
}

// Destroys and frees an object from knew(); nullptr is a no-op.
template <typename T>
void kdelete(T* obj) {
  if (obj == nullptr) return;
  obj->~T();
  kfree(const_cast<void*>(static_cast<const volatile void*>(obj)));
}

}  // namespace mm
