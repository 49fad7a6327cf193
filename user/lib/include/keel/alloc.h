// keel/alloc.h — libkeel's memory allocator: malloc-style, thread-safe,
// backed by MemoryObjects mapped into the calling process.
//
// Small requests (up to kMaxSmall bytes) come from size classes (16 bytes to
// 2 KiB, about 25% apart), carved out of 64 KiB chunks and recycled through a
// free list per class; chunks are never returned to the kernel. Larger
// requests get a mapping of their own (whole pages), unmapped by free().
// Every block has a 16-byte header in front of it (its class and a check
// value): free() of a pointer that is not a live block — a double free, a
// stray pointer — stops the process with a trap rather than corrupting the
// heap silently.
//
// Memory comes from vmo_create + vm_map on the process's own handle
// (keel::self_process(): the StartInfo's self_process), so it is charged to
// the process's quota; running out returns nullptr, never a crash.
//
// operator new/delete are defined on top of it: the nothrow forms return
// nullptr when out of memory; the plain forms (which cannot throw: there are
// no exceptions) end the process with an "out of memory" message instead.
//
// Locking: one spinlock guards all classes; a thread that cannot get it
// spins briefly, then yields (sys::thread_yield) so that a preempted holder
// can finish.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel {

// Largest request served from a size class (bytes); larger ones are mapped alone.
inline constexpr size_t kMaxSmall = 2048;

// `size` bytes, 16-byte aligned; nullptr if out of memory. alloc(0) returns a
// unique pointer that may be freed.
void* alloc(size_t size);
// `count` * `size` zero-filled bytes; nullptr if the product overflows or out of memory.
void* alloc_zeroed(size_t count, size_t size);
// Grows or shrinks `p` to `size` bytes, keeping the contents up to the smaller
// size; nullptr (and `p` untouched) if out of memory. realloc(nullptr, n) = alloc(n).
void* realloc(void* p, size_t size);
// Releases a block from alloc/alloc_zeroed/realloc; nullptr does nothing.
void free(void* p);
// The usable size of a live block (at least what was asked for).
size_t alloc_size(const void* p);

struct HeapStats {
  uint64_t bytes_in_use;   // requested bytes of live blocks
  uint64_t bytes_mapped;   // chunks and large mappings
  uint64_t live_blocks;
};
HeapStats heap_stats();

}  // namespace keel
