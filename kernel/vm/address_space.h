// vm/address_space.h — AddressSpace: the user half of one page table plus
// the list of mappings that says what may appear in it.
//
// User range: [kUserBase, kUserEnd) = [0x10000, 0x7fff'ffff'f000). The first
// 64 KiB stay unmapped so that null-pointer dereferences (with offsets) fault;
// the last page below the canonical hole stays unmapped so that no user
// instruction ends at the hole (the SYSRET non-canonical RIP erratum).
//
// Mappings: an intrusive AVL tree keyed by base address (ktl/avl_tree.h):
// lookup, insertion and removal are O(log n), the walk to the next mapping
// O(1) amortized. Mappings never overlap, so trimming a mapping's front
// (unmap, protect) changes its key in place without changing the order.
// Mappings are never merged; unmap() and protect() split them. Only the
// kernel's-choice fallback (first fit, after the random tries) walks them all.
//
// Demand paging: map() creates no page-table entries (except for physical
// objects, which are mapped eagerly, and with MapOptions::populate);
// handle_fault() commits the page in the MemoryObject and maps it. A page
// whose frame is shared copy-on-write (refcount > 1) is mapped without Write
// even in a writable mapping; a write fault then copies it. Every leaf gets
// Prot::User; Execute clears NX.
//
// ASLR: when the caller lets map() choose, the address is drawn from an
// xorshift64* generator seeded at create(): kAslrAttempts random page-aligned
// candidates, then first fit.
//
// TLB: every change to an existing entry is reported to an x86::TlbFlush —
// the one passed to the call that made it, or, for changes caused from
// outside (a clone or COW break through another address space, decommit), the
// one set with set_tlb_flush(). Callbacks run with this address space's
// spinlocks (and usually a MemoryObject's) held, interrupts disabled, and
// must complete the invalidation before returning: unmap() frees page-table
// pages and a COW break may free the old frame right after the report. So a
// shootdown that waits for other CPUs must not deadlock against a CPU that
// spins on one of these locks with interrupts off (TODO: defer the waits and
// the frees, mmu_gather-style, once shootdowns exist).
//
// Locking (full order in vm/memory_object.h):
//   lock_     guards mappings_, mapped_bytes_, rng_, destroyed_, and (with the
//             object lock) every Mapping's fields;
//   pt_lock_  guards page_table_ and remote_flush_; taken under lock_ or under
//             a MemoryObject lock (which edits the entries of its mappings).
// Page-table pages are allocated under both (the frame allocator lock is a
// leaf). Mapping records are allocated before taking any lock.
//
// Quota: create() charges the object; each Mapping record is charged as one
// object of sizeof(Mapping), and each page-table page (the PML4 included) as
// one object of 4 KiB, when it is allocated. A charge that fails is reported
// like a failed allocation (QuotaExceeded; FaultResult::NoMemory).
#pragma once

#include <arch/x86_64/page_table.h>
#include <ktl/list.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/frame_allocator.h>
#include <object/object.h>
#include <object/quota.h>
#include <vm/memory_object.h>

#include <cstddef>
#include <cstdint>

namespace vm {

class AddressSpace final : public object::KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::AddressSpace;
  static constexpr uint64_t kUserBase = 0x10000;
  static constexpr uint64_t kUserEnd = 0x0000'7fff'ffff'f000;
  // Random candidates tried before first fit.
  static constexpr unsigned kAslrAttempts = 16;
  // The prot bits mappings accept (x86::Prot).
  static constexpr unsigned kProtRWX = x86::Prot::Read | x86::Prot::Write | x86::Prot::Execute;

  enum class FaultResult {
    Resolved,         // the page is mapped now; retry the access
    NotMapped,        // no mapping covers the address
    AccessViolation,  // the mapping's prot forbids the access
    NoMemory,         // no frame, page-table page or quota for the page
  };

  struct MapOptions {
    uint64_t fixed_addr = 0;       // 0: the kernel chooses (ASLR)
    bool populate = false;         // commit and map every page now (ELF loader, stacks)
    bool shared = false;           // fork_cow() shares the object instead of cloning it
    unsigned max_prot = kProtRWX;  // protect() may not go beyond; the syscall sets it from handle rights
  };

  // A copy of one mapping's fields, for tests and /proc-style listings.
  struct MappingInfo {
    uint64_t base;
    uint64_t size;
    const MemoryObject* vmo;  // not a reference: compare only
    uint64_t vmo_offset;
    unsigned prot;
    unsigned max_prot;
    bool shared;
  };

  // A new, empty address space with its own PML4, sharing the kernel half of
  // `kernel_half` (null in tests). `frames` provides page-table pages and must
  // outlive the object. Errors: QuotaExceeded; NoMemory.
  static ktl::Result<ktl::RefPtr<AddressSpace>> create(mm::FrameAllocator& frames,
                                                       const x86::PageTable* kernel_half, uint64_t aslr_seed,
                                                       object::Quota* quota = nullptr);

  ~AddressSpace() override;

  // The flush for changes not caused by a call on this address space (see the
  // file comment): the kernel's invalidates this address space on every CPU
  // that runs it. Default: none.
  void set_tlb_flush(x86::TlbFlush flush);

  // The PML4 for CR3; 0 after destroy().
  mm::PhysAddr root() const;

  // Maps [vmo_offset, vmo_offset + len) of `vmo` with `prot` (Read, plus
  // Write and/or Execute) at options.fixed_addr, or where ASLR puts it.
  // Returns the address. `flush` receives nothing today (new entries need no
  // invalidation) and is there for symmetry.
  // Errors, checked in this order, before anything changes:
  //   BadState        destroy() was called
  //   InvalidArgument null vmo, len 0, prot without Read or with other bits
  //   AccessDenied    Write and Execute together, or prot beyond max_prot
  //   Misaligned      vmo_offset, len or fixed_addr not 4 KiB-aligned
  //   OutOfRange      vmo_offset + len past the object's end; fixed range
  //                   outside [kUserBase, kUserEnd)
  //   NoMemory        the Mapping record (allocated before taking the lock)
  //   AlreadyExists   the fixed range overlaps a mapping
  //   NoSpace         no free range of len bytes (kernel's choice)
  //   QuotaExceeded   the Mapping record's charge
  // Eager mapping (physical objects, populate) may then fail with NoMemory or
  // QuotaExceeded; the mapping is then removed again (pages committed stay
  // committed in the object).
  ktl::Result<uint64_t> map(ktl::RefPtr<MemoryObject> vmo, uint64_t vmo_offset, uint64_t len, unsigned prot,
                            const MapOptions& options, x86::TlbFlush flush);
  ktl::Result<uint64_t> map(ktl::RefPtr<MemoryObject> vmo, uint64_t vmo_offset, uint64_t len, unsigned prot,
                            uint64_t fixed_addr, x86::TlbFlush flush, bool populate = false) {
    MapOptions options;
    options.fixed_addr = fixed_addr;
    options.populate = populate;
    return map(static_cast<ktl::RefPtr<MemoryObject>&&>(vmo), vmo_offset, len, prot, options, flush);
  }

  // Removes every mapping's part in [addr, addr + len); holes are fine. A
  // mapping cut in the middle becomes two. Removed entries go to `flush`.
  // Errors (nothing changed): BadState; InvalidArgument (len 0); Misaligned;
  // OutOfRange (outside the user range); QuotaExceeded or NoMemory (the
  // Mapping record for a split).
  ktl::Result<void> unmap(uint64_t addr, uint64_t len, x86::TlbFlush flush);

  // Sets the prot of [addr, addr + len), splitting mappings at the edges.
  // Existing entries lose rights at once (reported to `flush`); rights gained
  // appear at the next fault (a page keeps Write only if it had it: COW pages
  // stay read-only).
  // Errors (nothing changed): BadState; InvalidArgument (len 0, bad prot);
  // AccessDenied (W+X, or beyond a mapping's max_prot); Misaligned;
  // OutOfRange; NotFound (some page in the range is not mapped);
  // QuotaExceeded or NoMemory (split records).
  ktl::Result<void> protect(uint64_t addr, uint64_t len, unsigned prot, x86::TlbFlush flush);

  // Resolves a page fault at `addr` (any byte of the page): `write`/`exec` say
  // what the access was, `user` whether it came from CPL 3. Demand-zero pages
  // are committed; a write to a COW page copies it (other mappings of the same
  // object that showed the old frame lose their entry). Instruction fetches by
  // the kernel (exec && !user) are always AccessViolation. Changed entries go
  // to `flush`. A fault on a page that is already mapped with enough rights
  // (another CPU resolved it) is Resolved.
  FaultResult handle_fault(uint64_t addr, bool write, bool exec, bool user, x86::TlbFlush flush);

  // A new address space (with `kernel_half`, `aslr_seed`, `quota` as for
  // create()) holding the same mappings: private mappings map a clone_cow()
  // of their object range (charged to `quota`), shared ones and physical
  // objects the same object. This address space's writable entries of cloned
  // pages become read-only (reported to `flush`). Two private mappings of one
  // object get two independent clones.
  // Errors: BadState; QuotaExceeded; NoMemory — then nothing changed except
  // that some pages of this address space may have been write-protected.
  ktl::Result<ktl::RefPtr<AddressSpace>> fork_cow(const x86::PageTable* kernel_half, uint64_t aslr_seed,
                                                  object::Quota* quota, x86::TlbFlush flush);

  // The current translation of `virt`. Errors: as PageTable::translate, BadState.
  ktl::Result<x86::PageTable::Translation> translate(uint64_t virt) const;
  // The mapping that covers `addr`. Errors: NotFound.
  ktl::Result<MappingInfo> find_mapping(uint64_t addr) const;
  // The object mapped at `addr` (a reference), with the offset in it that
  // `addr` maps and how many bytes of the mapping follow from `addr`. For
  // copies into another address space's memory through the object (the
  // frames stay alive under its lock, whatever the owner unmaps meanwhile).
  // Errors: NotFound (no mapping covers addr), BadState (destroyed).
  ktl::Result<ktl::RefPtr<MemoryObject>> object_at(uint64_t addr, uint64_t* vmo_offset, uint64_t* bytes_left) const;
  // Copies up to `max` mappings, in address order, into `out`; returns how
  // many exist.
  size_t mappings(MappingInfo* out, size_t max) const;
  size_t mapping_count() const;
  // Bytes covered by mappings (committed or not).
  uint64_t mapped_bytes() const;
  // Page-table pages owned (the PML4 included); for tests.
  uint64_t page_table_pages() const;

  // Removes every mapping and frees all page-table pages. No TLB flush is
  // reported: the caller must have switched every CPU away from root()
  // first. Afterwards every call fails with BadState (faults: NotMapped).
  // Idempotent; the destructor calls it.
  void destroy();

  // Verifies: mappings sorted, non-overlapping, aligned, inside the user
  // range and their objects, prot valid, mapped_bytes() matches; every
  // present user-half entry is a 4 KiB User leaf inside a mapping, points at
  // the frame the object holds for that page, has Write only if the mapping
  // is writable and the frame is exclusively owned, and NX unless the mapping
  // is executable. Takes every lock involved; O(mappings + mapped pages).
  bool check_invariants() const;

 private:
  friend class MemoryObject;
  using MappingList = ktl::List<Mapping, &Mapping::aspace_node>;
  struct MappingBase {
    static uint64_t key(const Mapping& m) { return m.base; }
  };
  using MappingTree = ktl::AvlTree<Mapping, &Mapping::aspace_tree_node, MappingBase>;

  AddressSpace(mm::FrameAllocator& frames, x86::PageTable table, uint64_t aslr_seed, object::Quota* quota);

  static x86::TableAllocator table_allocator(mm::FrameAllocator& frames);
  // Allocates and frees page-table pages through frames_, charging each to
  // this address space's quota (one object of a page).
  x86::TableAllocator charged_table_allocator();

  // Mapping records: allocated before locking, charged when used.
  Mapping* alloc_mapping();
  void free_mapping(Mapping* m);  // drops m->vmo; call without locks held

  ktl::Result<uint64_t> choose_address_locked(uint64_t len);
  bool range_free_locked(uint64_t base, uint64_t len) const;
  Mapping* find_locked(uint64_t addr) const;
  // The first mapping that ends above `addr` (it may start above it), or null.
  Mapping* first_ending_above_locked(uint64_t addr) const;
  // Makes `tail` (a spare record) the part [at, end) of `m`, which keeps
  // [base, at), and registers it. Needs lock_ and m's object lock.
  Mapping* split_tail_locked(Mapping* m, uint64_t at, Mapping* tail);
  uint64_t next_random_locked();

  // Maps every page of `m` now (physical objects; populate). Requires lock_
  // and m->vmo's lock. Errors: NoMemory, QuotaExceeded.
  ktl::Result<void> populate_locked(Mapping* m, const x86::TlbFlush& flush);
  // Installs the entry for the page of `m` at `va` → `frame`, with Write only
  // if `writable`. Replaces an existing entry (reported to flush). Requires
  // lock_ and the object lock; takes pt_lock_.
  ktl::Result<void> install_locked(const Mapping* m, uint64_t va, mm::PhysAddr frame, bool writable,
                                   const x86::TlbFlush& flush);
  // Leaf prot for `m` (User, Uncached for uncached objects), with or without Write.
  static unsigned leaf_prot(const Mapping* m, bool writable);

  // Called by MemoryObject with its lock held: removes the entries in
  // [lo, hi), or takes Write away from them. `flush` null: use remote_flush_.
  void vmo_unmap(uint64_t lo, uint64_t hi, const x86::TlbFlush* flush);
  void vmo_write_protect(uint64_t lo, uint64_t hi, const x86::TlbFlush* flush);

  mm::FrameAllocator& frames_;

  // lock_ guards the fields below up to pt_lock_ (see the file comment).
  mutable klib::SpinLock lock_;
  MappingTree mappings_;  // by base, non-overlapping
  uint64_t mapped_bytes_ = 0;
  uint64_t rng_;  // xorshift64* state, never 0
  bool destroyed_ = false;

  // pt_lock_ guards page_table_ and remote_flush_. Below lock_ and the object
  // locks, above the frame allocator.
  mutable klib::SpinLock pt_lock_;
  x86::PageTable page_table_;
  x86::TlbFlush remote_flush_;
};

}  // namespace vm
