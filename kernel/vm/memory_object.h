// vm/memory_object.h — MemoryObject: pages that address spaces map, with
// copy-on-write clones; and Mapping, the link between the two.
//
// A MemoryObject (VMO) is a range of bytes, page-granular, backed either by
//  - anonymous memory: frames from the frame allocator, committed lazily (on
//    the first fault, write or commit_page()) and zero-filled; or
//  - a fixed physical range (device memory, create_physical()): never
//    allocated or freed, page i is always base + i * 4 KiB.
//
// Page array (anonymous objects): two levels. A directory of
// ceil(pages / 512) pointers, kzalloc'ed at create() — at most 32768 entries
// (256 KiB) for the 64 GiB maximum — points to leaf tables of 512 slots, one
// 4 KiB frame each, taken from the frame allocator on first use and reached
// through the direct map. A slot is `frame | kSlotCommitted`, or 0 for a page
// never committed (reads as zeros).
//
// Copy-on-write: clone_cow() makes an object whose slots point to the same
// frames as the parent's, raising each frame's mm::Frame::refcount (the number
// of object slots that point to the frame; 1 = exclusively owned). A frame
// with refcount > 1 is only ever mapped read-only. The first write through
// either object copies the frame (dropping one reference), or takes it over if
// the other sharers are already gone (refcount back to 1). A clone holds its
// frames directly — there is no parent chain to walk — so it is a snapshot at
// clone time: pages the parent had not committed stay zero in the clone even
// if the parent commits them later, and the parent's later writes never show.
// A frame is freed when its refcount drops to zero.
//
// Back-pointers: every Mapping of an object is on the object's mapping list.
// When a page's frame changes (COW break, decommit) or becomes shared (clone),
// the object visits its mappings and removes or write-protects the page table
// entries of that page in each, reporting TLB invalidations: to the
// x86::TlbFlush passed to the AddressSpace call that caused it when the
// mapping belongs to that address space, otherwise to the address space's own
// flush (AddressSpace::set_tlb_flush()).
//
// Quota (object/quota.h), if given: create() charges one object of
// sizeof(MemoryObject) + the directory's size; each leaf table and each
// committed page is charged as one more object of 4 KiB (Quota counts every
// charge as an object), returned when the page is decommitted or the object
// destroyed. A frame shared by n objects is charged to each of them, so a
// COW break never needs a new charge (it can still fail with NoMemory).
//
// Locking — one lock order for all of vm/:
//   AddressSpace::lock_  →  MemoryObject::lock_  →  AddressSpace::pt_lock_
//     →  Quota lock / kernel heap lock  →  frame allocator lock
// MemoryObject::lock_ guards the page array, the committed counters and the
// mapping list; Mapping fields are written only with both the owning address
// space's lock_ and the object's lock_ held, so either lock suffices to read
// them. Frame::refcount is updated with atomic operations: sharers of a frame
// hold different object locks. Flush callbacks run with these spinlocks held
// (interrupts disabled). Two MemoryObject locks are never held together.
#pragma once

#include <arch/x86_64/page_table.h>
#include <ktl/avl_tree.h>
#include <ktl/list.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/frame_allocator.h>
#include <mm/phys.h>
#include <object/object.h>
#include <object/quota.h>

#include <cstddef>
#include <cstdint>

namespace vm {

class AddressSpace;
class MemoryObject;

// One contiguous range of an AddressSpace mapped to a range of one
// MemoryObject. Owned by the AddressSpace (its sorted list); also on the
// object's mapping list. Guarded as described in the file comment.
struct Mapping {
  uint64_t base = 0;  // user virtual address, page-aligned
  uint64_t size = 0;  // bytes, page-aligned, > 0
  ktl::RefPtr<MemoryObject> vmo;
  uint64_t vmo_offset = 0;  // bytes into vmo, page-aligned
  unsigned prot = 0;        // x86::Prot mask of Read | Write | Execute
  unsigned max_prot = 0;    // protect() may not grant more than this
  bool shared = false;      // AddressSpace::fork_cow shares it instead of cloning
  AddressSpace* aspace = nullptr;
  ktl::AvlNode aspace_tree_node;  // in AddressSpace::mappings_, keyed by base
  ktl::ListNode aspace_node;      // in a list of mappings an AddressSpace call is removing
  ktl::ListNode vmo_node;     // in MemoryObject::mappings_

  uint64_t end() const { return base + size; }
  // Virtual address of object page `page` inside this mapping. Precondition:
  // the page lies inside the mapping.
  uint64_t va_of(uint64_t page) const { return base + (page * mm::kPageSize - vmo_offset); }
  // Whether object page `page` lies inside this mapping.
  bool covers_page(uint64_t page) const {
    const uint64_t off = page * mm::kPageSize;
    return off >= vmo_offset && off - vmo_offset < size;
  }
};

class MemoryObject final : public object::KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::MemoryObject;
  // Largest object: 64 GiB (2^24 pages, a 256 KiB page directory).
  static constexpr uint64_t kMaxSize = 64ull << 30;
  static constexpr uint64_t kSlotsPerLeaf = mm::kPageSize / sizeof(uint64_t);  // 512

  // An anonymous object of `size_bytes` rounded up to 4 KiB, all pages
  // uncommitted (zero). `frames` provides the pages and must outlive the
  // object. Charges `quota` (see the file comment).
  // Errors: InvalidArgument if size_bytes is 0 or above kMaxSize;
  // QuotaExceeded; NoMemory.
  static ktl::Result<ktl::RefPtr<MemoryObject>> create(mm::FrameAllocator& frames, uint64_t size_bytes,
                                                       object::Quota* quota = nullptr);

  // An object for the fixed physical range [base, base + size) (size rounded
  // up to 4 KiB), for device memory. Its pages are never allocated, zeroed or
  // freed; mappings of it are made eagerly, Uncached (PCD|PWT) if `uncached`.
  // read/write/clone_cow/decommit refuse it (Unsupported).
  // Errors: Misaligned (base not 4 KiB-aligned); InvalidArgument (size 0 or
  // above kMaxSize); OutOfRange (the range passes 2^52); QuotaExceeded; NoMemory.
  static ktl::Result<ktl::RefPtr<MemoryObject>> create_physical(mm::PhysAddr base, uint64_t size,
                                                                bool uncached,
                                                                object::Quota* quota = nullptr);

  ~MemoryObject() override;

  // Size in bytes (a multiple of 4 KiB) and in pages. Fixed at creation.
  uint64_t size() const { return size_; }
  uint64_t page_count() const { return size_ >> mm::kPageShift; }
  bool is_physical() const { return frames_ == nullptr; }
  bool is_uncached() const { return uncached_; }

  // The frame of page `page_index`, allocating and zeroing it if it was never
  // committed. A page shared copy-on-write is returned as is (shared).
  // Errors: OutOfRange (index past the end); QuotaExceeded; NoMemory.
  // Locking: takes the object lock.
  ktl::Result<mm::PhysAddr> commit_page(uint64_t page_index);

  // Like commit_page(), but with `for_write` the page is first made private
  // to this object: a frame shared with other objects (refcount > 1) is
  // copied, every mapping of this object that mapped the old frame at that
  // page loses its entry (flushes go to each address space's own flush), and
  // the old frame loses one reference. The result is then exclusively owned
  // (refcount 1) until the next clone_cow().
  // Errors: as commit_page(). Locking: takes the object lock, then each
  // affected address space's page-table lock.
  ktl::Result<mm::PhysAddr> lookup_page(uint64_t page_index, bool for_write);

  // Copies `len` bytes at byte `offset` into `dst`. Uncommitted pages read as
  // zeros without being committed. Errors: OutOfRange (past the end, or
  // offset + len overflows); Unsupported (physical object).
  ktl::Result<void> read(uint64_t offset, void* dst, uint64_t len) const;

  // Copies `len` bytes from `src` to byte `offset`, committing pages and
  // breaking copy-on-write sharing first (all pages are prepared before the
  // first byte is copied, so on error no data changed).
  // Errors: OutOfRange; Unsupported (physical); QuotaExceeded; NoMemory.
  ktl::Result<void> write(uint64_t offset, const void* src, uint64_t len);

  // A new anonymous object of `size` bytes (rounded up to 4 KiB) whose page i
  // starts as this object's page offset/4K + i: the same frame, shared
  // copy-on-write (see the file comment). Pages past this object's end, and
  // pages this object has not committed, are zero in the clone. This
  // object's mappings of the shared pages are write-protected (flushes go to
  // each address space's own flush). The clone is charged to `quota` (the
  // first form: this object's quota), one object plus one per shared page.
  // Errors: Unsupported (physical object); Misaligned (offset); InvalidArgument
  // (size 0 or above kMaxSize); OutOfRange (offset past the end);
  // QuotaExceeded; NoMemory — on error nothing changed.
  ktl::Result<ktl::RefPtr<MemoryObject>> clone_cow(uint64_t offset, uint64_t size);
  ktl::Result<ktl::RefPtr<MemoryObject>> clone_cow(uint64_t offset, uint64_t size, object::Quota* quota);

  // Drops the pages in [offset, offset + size) (rounded out to 4 KiB; they
  // read as zeros afterwards), removing them from every mapping first.
  // Frames are freed when no other object shares them.
  // Errors: Unsupported (physical object); OutOfRange.
  ktl::Result<void> decommit(uint64_t offset, uint64_t size);

  // Pages that hold a frame (shared or not).
  uint64_t committed_pages() const;
  // Mappings of this object in all address spaces.
  size_t mapping_count() const;

  // Verifies the page array (every committed frame is an allocated order-0
  // block with refcount >= 1; the counters match), and that every mapping on
  // the list names this object and lies inside it. O(directory + leaves).
  bool check_invariants() const;

 private:
  friend class AddressSpace;
  using MappingList = ktl::List<Mapping, &Mapping::vmo_node>;
  static constexpr uint64_t kSlotCommitted = 1;  // in a slot: the page holds a frame

  MemoryObject(mm::FrameAllocator* frames, uint64_t size, uint64_t** dir, uint64_t dir_entries,
               mm::PhysAddr phys_base, bool uncached, object::Quota* quota, uint64_t charged);

  // clone_cow() for `caller`'s mappings reporting to *caller_flush (see
  // commit_for_write_locked()). Takes lock_.
  ktl::Result<ktl::RefPtr<MemoryObject>> clone_cow_impl(uint64_t offset, uint64_t size, object::Quota* quota,
                                                        const AddressSpace* caller,
                                                        const x86::TlbFlush* caller_flush);

  // The slot of page `page`, or null if its leaf does not exist. Requires lock_.
  uint64_t* find_slot_locked(uint64_t page) const;
  // The slot of page `page`, creating (and charging) its leaf if needed.
  // Errors: QuotaExceeded, NoMemory. Requires lock_.
  ktl::Result<mm::PhysAddr> alloc_charged_zeroed_page();
  ktl::Result<uint64_t*> slot_locked(uint64_t page);
  // The frame page `page` holds, or false. Physical objects: always true.
  bool peek_locked(uint64_t page, mm::PhysAddr& frame) const;
  // commit_page() with lock_ held.
  ktl::Result<mm::PhysAddr> commit_locked(uint64_t page);
  // lookup_page(page, true) with lock_ held. Mappings in `caller` report to
  // *caller_flush (when not null), others to their address space's flush.
  ktl::Result<mm::PhysAddr> commit_for_write_locked(uint64_t page, const AddressSpace* caller,
                                                    const x86::TlbFlush* caller_flush);
  // Whether `frame` (held by this object) is shared with another object.
  bool frame_shared(mm::PhysAddr frame) const;
  // Removes the page-table entry of `page` from every mapping of this object.
  void unmap_page_everywhere_locked(uint64_t page, const AddressSpace* caller,
                                    const x86::TlbFlush* caller_flush);
  // Drops one reference to `frame`, freeing it at zero. No lock needed.
  void release_frame(mm::PhysAddr frame);
  // Charges/uncharges one page or leaf table (kPageSize) to the quota, if any.
  ktl::Result<void> charge_page();
  void uncharge_page();

  void add_mapping_locked(Mapping* m) { mappings_.push_back(m); }
  void remove_mapping_locked(Mapping* m) { mappings_.remove(m); }

  mm::FrameAllocator* const frames_;  // null for physical objects
  const uint64_t size_;               // bytes, multiple of 4 KiB
  const mm::PhysAddr phys_base_;      // physical objects only
  const bool uncached_;               // physical objects only

  // lock_ guards everything below (the directory pointer itself is const
  // after construction; the leaves it points to are guarded).
  mutable klib::SpinLock lock_;
  uint64_t** const dir_;  // dir_entries_ leaf pointers (null = no leaf); null if physical
  const uint64_t dir_entries_;
  uint64_t leaves_ = 0;     // leaf tables allocated
  uint64_t committed_ = 0;  // slots holding a frame
  MappingList mappings_;    // every Mapping whose vmo is this
};

}  // namespace vm
