// alloc.cc — libkeel's allocator (keel/alloc.h).
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/spawn.h>

#include <new>

namespace keel {
namespace {

// The 16-byte header in front of every block.
struct Header {
  uint32_t check;   // kLiveCheck ^ class while live; kFreeCheck on a class free list
  uint32_t cls;     // size class index, or kLargeClass
  uint64_t size;    // the requested size (large: also what the mapping holds after the header)
};
static_assert(sizeof(Header) == 16);

constexpr uint32_t kLiveCheck = 0x4b45454c;  // "KEEL"
constexpr uint32_t kFreeCheck = 0x46524545;  // "FREE"
constexpr uint32_t kLargeClass = 0xffff;
constexpr size_t kChunkSize = 64 * 1024;

// Block sizes (header included), about 25% apart, multiples of 16.
constexpr uint32_t kClassBytes[] = {32,  48,  64,  80,  96,  128, 160,  192,  240,  288,  352,  432, 528,
                                    656, 816, 1024, 1280, 1600, 2064};
constexpr size_t kClassCount = sizeof kClassBytes / sizeof kClassBytes[0];
static_assert(kClassBytes[kClassCount - 1] >= kMaxSmall + sizeof(Header));

struct FreeBlock {
  Header header;
  FreeBlock* next;
};

// Freed large mappings kept for reuse (up to kCachedLarge of them, each at
// most kCachedLargeMax bytes): unmapping costs a TLB shootdown on every CPU
// running the process, so a program that frees and allocates large blocks in
// turn would otherwise pay one per free.
constexpr size_t kCachedLarge = 8;
constexpr uint64_t kCachedLargeMax = 64 * 1024;

struct CachedMapping {
  uint64_t base;   // 0: the slot is empty
  uint64_t bytes;  // a page multiple
};

struct Heap {
  keel::SpinLock lock;
  FreeBlock* free_lists[kClassCount] = {};  // guarded by lock
  CachedMapping large_cache[kCachedLarge] = {};  // guarded by lock (still counted in stats.bytes_mapped)
  HeapStats stats{};                        // guarded by lock
};
Heap g_heap;

size_t class_for(size_t size) {
  const size_t need = size + sizeof(Header);
  for (size_t i = 0; i < kClassCount; ++i)
    if (kClassBytes[i] >= need) return i;
  return kClassCount;
}

// Maps `bytes` (a page multiple) of fresh zeroed memory; 0 on failure.
uint64_t map_fresh(size_t bytes) {
  Handle self = self_process();
  Handle vmo = kInvalidHandle;
  if (sys::vmo_create(bytes, 0, &vmo) != 0) return 0;
  uint64_t addr = 0;
  int64_t r = sys::vm_map(self, vmo, 0, bytes, kVmRead | kVmWrite, &addr);
  (void)sys::handle_close(vmo);  // the mapping keeps the object
  return r == 0 ? addr : 0;
}

// Carves a new chunk into blocks of class `c` onto its free list. Lock held.
bool refill_locked(size_t c) {
  const uint64_t base = map_fresh(kChunkSize);
  if (base == 0) return false;
  g_heap.stats.bytes_mapped += kChunkSize;
  const size_t step = kClassBytes[c];
  for (size_t off = 0; off + step <= kChunkSize; off += step) {
    auto* b = reinterpret_cast<FreeBlock*>(base + off);
    b->header = Header{kFreeCheck, uint32_t(c), 0};
    b->next = g_heap.free_lists[c];
    g_heap.free_lists[c] = b;
  }
  return true;
}

[[noreturn]] void heap_corrupt(const char* what, const void* p) {
  print("libkeel: {} {:#x}: heap corrupted or bad free\n", what, reinterpret_cast<uintptr_t>(p));
  __builtin_trap();
}

Header* header_of(const void* p) {
  auto* h = reinterpret_cast<Header*>(reinterpret_cast<uintptr_t>(p) - sizeof(Header));
  if (h->check != (kLiveCheck ^ h->cls)) heap_corrupt("free/realloc of", p);
  return h;
}

uint64_t large_mapping_bytes(size_t size) { return (size + sizeof(Header) + kPageSize - 1) & ~uint64_t(kPageSize - 1); }

}  // namespace

void* alloc(size_t size) {
  if (size > (uint64_t(1) << 46)) return nullptr;  // more than any address space holds
  const size_t c = class_for(size);
  Header* h;
  if (c < kClassCount) {
    g_heap.lock.lock();
    if (!g_heap.free_lists[c] && !refill_locked(c)) {
      g_heap.lock.unlock();
      return nullptr;
    }
    FreeBlock* b = g_heap.free_lists[c];
    if (b->header.check != kFreeCheck || b->header.cls != c) heap_corrupt("allocation from", b);
    g_heap.free_lists[c] = b->next;
    g_heap.stats.bytes_in_use += size;
    ++g_heap.stats.live_blocks;
    g_heap.lock.unlock();
    h = &b->header;
    h->cls = uint32_t(c);
  } else {
    const uint64_t bytes = large_mapping_bytes(size);
    uint64_t base = 0;
    g_heap.lock.lock();
    for (CachedMapping& m : g_heap.large_cache) {
      if (m.base != 0 && m.bytes == bytes) {
        base = m.base;
        m.base = 0;
        break;
      }
    }
    g_heap.lock.unlock();
    const bool fresh = base == 0;
    if (fresh) base = map_fresh(bytes);
    if (base == 0) return nullptr;
    g_heap.lock.lock();
    if (fresh) g_heap.stats.bytes_mapped += bytes;
    g_heap.stats.bytes_in_use += size;
    ++g_heap.stats.live_blocks;
    g_heap.lock.unlock();
    h = reinterpret_cast<Header*>(base);
    h->cls = kLargeClass;
  }
  h->size = size;
  h->check = kLiveCheck ^ h->cls;
  return h + 1;
}

void free(void* p) {
  if (p == nullptr) return;
  Header* h = header_of(p);
  const uint32_t c = h->cls;
  const uint64_t size = h->size;
  if (c == kLargeClass) {
    const uint64_t bytes = large_mapping_bytes(size);
    h->check = kFreeCheck;
    bool cached = false;
    g_heap.lock.lock();
    if (bytes <= kCachedLargeMax) {
      for (CachedMapping& m : g_heap.large_cache) {
        if (m.base == 0) {
          m = {reinterpret_cast<uint64_t>(h), bytes};
          cached = true;
          break;
        }
      }
    }
    if (!cached) {
      g_heap.lock.unlock();
      (void)sys::vm_unmap(self_process(), reinterpret_cast<uint64_t>(h), bytes);
      g_heap.lock.lock();
      g_heap.stats.bytes_mapped -= bytes;
    }
    g_heap.stats.bytes_in_use -= size;
    --g_heap.stats.live_blocks;
    g_heap.lock.unlock();
    return;
  }
  if (c >= kClassCount) heap_corrupt("free of", p);
  auto* b = reinterpret_cast<FreeBlock*>(h);
  g_heap.lock.lock();
  b->header.check = kFreeCheck;
  b->next = g_heap.free_lists[c];
  g_heap.free_lists[c] = b;
  g_heap.stats.bytes_in_use -= size;
  --g_heap.stats.live_blocks;
  g_heap.lock.unlock();
}

size_t alloc_size(const void* p) {
  const Header* h = header_of(p);
  if (h->cls == kLargeClass) return large_mapping_bytes(h->size) - sizeof(Header);
  return kClassBytes[h->cls] - sizeof(Header);
}

void* alloc_zeroed(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return nullptr;
  void* p = alloc(total);
  if (p != nullptr) __builtin_memset(p, 0, total);  // recycled blocks are not zero
  return p;
}

void* realloc(void* p, size_t size) {
  if (p == nullptr) return alloc(size);
  Header* h = header_of(p);
  if (size <= alloc_size(p) && class_for(size) == h->cls) {  // same class: in place
    g_heap.lock.lock();
    g_heap.stats.bytes_in_use = g_heap.stats.bytes_in_use - h->size + size;
    g_heap.lock.unlock();
    h->size = size;
    return p;
  }
  void* q = alloc(size);
  if (q == nullptr) return nullptr;
  __builtin_memcpy(q, p, size < h->size ? size : h->size);
  free(p);
  return q;
}

HeapStats heap_stats() {
  g_heap.lock.lock();
  HeapStats s = g_heap.stats;
  g_heap.lock.unlock();
  return s;
}

}  // namespace keel

// ---- C and C++ entry points.

extern "C" {
void* malloc(size_t size) { return keel::alloc(size); }
void* calloc(size_t count, size_t size) { return keel::alloc_zeroed(count, size); }
void* realloc(void* p, size_t size) { return keel::realloc(p, size); }
void free(void* p) { keel::free(p); }
}

namespace {
[[noreturn]] void out_of_memory(size_t size) {
  keel::print("libkeel: out of memory allocating {} bytes\n", size);
  keel::exit(keel::kExitKilled);
}
void* must_alloc(size_t size) {
  void* p = keel::alloc(size);
  if (p == nullptr) out_of_memory(size);
  return p;
}
}  // namespace

void* operator new(size_t size) { return must_alloc(size); }
void* operator new[](size_t size) { return must_alloc(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return keel::alloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return keel::alloc(size); }
void operator delete(void* p) noexcept { keel::free(p); }
void operator delete[](void* p) noexcept { keel::free(p); }
void operator delete(void* p, size_t) noexcept { keel::free(p); }
void operator delete[](void* p, size_t) noexcept { keel::free(p); }

// The tag object of the nothrow forms (normally in the C++ runtime library,
// which freestanding programs do not link).
namespace std {
const nothrow_t nothrow{};
}
