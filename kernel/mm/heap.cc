// mm/heap.cc — kmalloc and friends (see heap.h).
#include <mm/heap.h>

#include <mm/frame_allocator.h>

#include <bit>

namespace mm {
namespace {

constexpr const char* kClassNames[KernelHeap::kNumClasses] = {
    "kmalloc-16",  "kmalloc-32",  "kmalloc-64",   "kmalloc-128",
    "kmalloc-256", "kmalloc-512", "kmalloc-1024", "kmalloc-2048",
};

PageSource frame_page_source(FrameAllocator& frames) {
  return PageSource{
      [](void* ctx) { return static_cast<FrameAllocator*>(ctx)->alloc_page(); },
      [](void* ctx, PhysAddr page) { static_cast<FrameAllocator*>(ctx)->free_page(page); },
      &frames,
  };
}

// The kernel heap lives in static storage and is constructed by heap_init(),
// so it needs no global constructor and can be recreated by tests.
alignas(KernelHeap) unsigned char g_heap_storage[sizeof(KernelHeap)];
KernelHeap* g_heap = nullptr;

}  // namespace

ktl::Result<void> KernelHeap::init(FrameAllocator& frames) {
  if (frames_ != nullptr) return ktl::Error::InvalidArgument;
  for (size_t i = 0; i < kNumClasses; ++i) {
    const size_t size = kMinClass << i;
    TRY(caches_[i].init(kClassNames[i], size, size, frame_page_source(frames)));
  }
  frames_ = &frames;
  return ktl::ok();
}

size_t KernelHeap::class_index(size_t size) {
  // Precondition: size <= kMaxClass. bit_width(size - 1) = log2 of the class.
  return size <= kMinClass ? 0 : std::bit_width(size - 1) - std::bit_width(kMinClass - 1);
}

void KernelHeap::report(const char* what, const void* ptr) const {
  if (misuse_handler_ != nullptr) misuse_handler_(what, ptr);
}

void* KernelHeap::alloc(size_t size) {
  if (frames_ == nullptr) return nullptr;
  klib::SpinLockGuard guard(lock_);
  if (size <= kMaxClass) return caches_[class_index(size)].alloc();
  const unsigned order = order_for_size(size);
  if (order > kMaxOrder) return nullptr;
  auto block = frames_->alloc(order);
  if (!block.ok()) return nullptr;
  frames_->frame(*block)->flags |= Frame::kKmallocLarge;
  ++large_blocks_;
  large_frames_ += uint64_t{1} << order;
  return phys_to_virt(*block);
}

void* KernelHeap::zalloc(size_t size) {
  void* p = alloc(size);
  if (p != nullptr) __builtin_memset(p, 0, size);
  return p;
}

void KernelHeap::free(void* ptr) {
  if (ptr == nullptr || frames_ == nullptr) return;
  klib::SpinLockGuard guard(lock_);
  if ((reinterpret_cast<uintptr_t>(ptr) & (kPageSize - 1)) != 0) {
    SlabCache* cache = SlabCache::owner_of(ptr);
    for (SlabCache& c : caches_)
      if (&c == cache) return c.free(ptr);
    return report("kfree: not a kmalloc pointer", ptr);
  }
  // A page-aligned pointer can only be a large block.
  const PhysAddr addr = virt_to_phys(ptr);
  Frame* f = frames_->frame(addr);
  if (f == nullptr || !(f->flags & Frame::kAllocated) || !(f->flags & Frame::kKmallocLarge))
    return report("kfree: page-aligned pointer is no live kmalloc block (double free?)", ptr);
  const unsigned order = f->order;
  --large_blocks_;
  large_frames_ -= uint64_t{1} << order;
  frames_->free(addr, order);  // clears kKmallocLarge with the other flags
}

void KernelHeap::set_misuse_handler(MisuseHandler handler) {
  misuse_handler_ = handler;
  for (SlabCache& c : caches_) c.misuse_handler = handler;
}

void KernelHeap::shrink() {
  klib::SpinLockGuard guard(lock_);
  for (SlabCache& c : caches_) c.shrink();
}

bool KernelHeap::check_invariants() const {
  klib::SpinLockGuard guard(lock_);
  for (const SlabCache& c : caches_)
    if (!c.check_invariants()) return false;
  return true;
}

ktl::Result<void> heap_init(FrameAllocator& frames) {
  g_heap = new (g_heap_storage) KernelHeap();
  auto result = g_heap->init(frames);
  if (!result.ok()) g_heap = nullptr;
  return result;
}

KernelHeap* kernel_heap() { return g_heap; }

void* kmalloc(size_t size) { return g_heap != nullptr ? g_heap->alloc(size) : nullptr; }

void* kzalloc(size_t size) { return g_heap != nullptr ? g_heap->zalloc(size) : nullptr; }

void kfree(void* ptr) {
  if (g_heap != nullptr) g_heap->free(ptr);
}

}  // namespace mm
