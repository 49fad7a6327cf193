// arch/x86_64/page_table.h — x86-64 4-level page tables (PML4 → PDPT → PD → PT).
//
// A PageTable edits the paging structures of one address space through the
// direct map (mm::phys_to_ptr), so the same code runs in the kernel and on the
// host over fake physical memory. It never touches CR3 or the TLB: the caller
// loads root() into CR3 and invalidates what unmap()/protect() report.
//
// Intel SDM Vol. 3A §4.5 (4-level paging), Tables 4-14..4-20 (entry formats),
// §4.6 (access rights), §4.10 (TLBs and paging-structure caches).
//
// Invariants kept by this code (and required of adopted tables):
//  * Every PD and PT, and every PDPT of the lower half, has at least one present
//    entry: a table that becomes empty is freed. So a present non-leaf entry
//    always means "something is mapped below".
//  * PDPTs referenced from PML4 entries 256..511 (the kernel half) are never
//    freed by unmap(): other address spaces hold copies of those PML4 entries
//    (share_kernel_half()).
//  * Intermediate entries are P|RW (+US once a user mapping went below them),
//    never NX, so a leaf's bits alone decide the access rights.
//
// Locking: none inside. The owner of the address space serializes all calls.
// Hardware may set A/D bits concurrently; entries are read and written with
// atomic operations so those updates are not lost or torn.
#pragma once

#include <ktl/result.h>
#include <mm/phys.h>

#include <cstdint>

namespace x86 {

// Raw bits of paging-structure entries (SDM Vol. 3A Tables 4-14..4-20).
namespace pte {
constexpr uint64_t kPresent = 1ull << 0;        // P
constexpr uint64_t kWritable = 1ull << 1;       // R/W
constexpr uint64_t kUser = 1ull << 2;           // U/S
constexpr uint64_t kWriteThrough = 1ull << 3;   // PWT
constexpr uint64_t kCacheDisable = 1ull << 4;   // PCD
constexpr uint64_t kAccessed = 1ull << 5;       // A
constexpr uint64_t kDirty = 1ull << 6;          // D (leaves only)
constexpr uint64_t kLargePage = 1ull << 7;      // PS in a PDPTE (1 GiB) or PDE (2 MiB); PAT in a PTE
constexpr uint64_t kGlobal = 1ull << 8;         // G (leaves only)
constexpr uint64_t kNoExecute = 1ull << 63;     // XD; needs IA32_EFER.NXE
// Physical address of the next table or of a 4 KiB page: bits 51:12.
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
// Physical address of a 2 MiB / 1 GiB page: bits 51:21 / 51:30 (bit 12 is PAT there).
constexpr uint64_t kAddrMask2M = 0x000fffffffe00000ull;
constexpr uint64_t kAddrMask1G = 0x000fffffc0000000ull;
}  // namespace pte

// Size of the pages a mapping is made of. k2M needs a PDE with PS=1, k1G a
// PDPTE with PS=1 (CPUID.80000001H:EDX.Page1GB; checking it is the caller's job).
enum class PageSize : uint8_t { k4K, k2M, k1G };

constexpr uint64_t page_size_bytes(PageSize ps) {
  switch (ps) {
    case PageSize::k4K: return mm::kPageSize;
    case PageSize::k2M: return mm::kLargePageSize;
    case PageSize::k1G: return mm::kHugePageSize;
  }
  return mm::kPageSize;
}

// Architecture-neutral permissions; combine with |, pass as `unsigned prot`.
//
// x86 cannot express a page that is present but not readable, so every prot
// must contain Read. WriteCombining is reserved for a later PAT setup and is
// encoded as Uncached (PCD|PWT) for now; translate() reports it as Uncached.
struct Prot {
  enum : unsigned {
    Read = 1,
    Write = 2,
    Execute = 4,           // clears NX
    User = 8,              // U/S: accessible from CPL 3
    Global = 16,           // G: survives CR3 writes (kernel mappings only, in practice)
    Uncached = 32,         // PCD|PWT: strong uncacheable with the default PAT
    WriteCombining = 64,   // TODO: PAT entry for WC; until then same as Uncached
  };
  static constexpr unsigned kAll = 127;
};

// Where page-table pages come from and go back to. alloc returns a 4 KiB frame
// whose contents are unspecified (PageTable zeroes it through the direct map),
// or Error::NoMemory. The function pointers let the same code run before the
// heap exists (boot allocator) and after (frame allocator).
struct TableAllocator {
  ktl::Result<mm::PhysAddr> (*alloc)(void* ctx);
  void (*free)(void* ctx, mm::PhysAddr frame);
  void* ctx;
};

// Receives the virtual ranges whose translations changed and so must be
// invalidated in the TLBs (INVLPG per page, or a full flush, plus a shootdown
// on other CPUs running this address space). `flush` may be null: then nothing
// is reported. Adjacent changed pages are reported as one range.
struct TlbFlush {
  void (*flush)(void* ctx, uint64_t virt, uint64_t size) = nullptr;  // virt, size in bytes
  void* ctx = nullptr;
};

class PageTable {
 public:
  // Allocates and zeroes a PML4. Errors: whatever alloc returns (NoMemory).
  static ktl::Result<PageTable> create(TableAllocator alloc);

  // Takes over existing tables (the boot tables) rooted at `pml4`. They must
  // satisfy the invariants in the file header. The kernel half is owned.
  static PageTable adopt(mm::PhysAddr pml4, TableAllocator alloc);

  // Moving leaves `other` empty (root() == 0). Assigning over a PageTable that
  // still has tables leaks them: destroy() it first.
  PageTable(PageTable&& other);
  PageTable& operator=(PageTable&& other);
  PageTable(const PageTable&) = delete;
  PageTable& operator=(const PageTable&) = delete;

  // Replaces the allocator for the tables allocated and freed from now on
  // (an owner that charges them to a quota, once it exists).
  void set_allocator(TableAllocator alloc) { alloc_ = alloc; }

  // Physical address of the PML4: the value for CR3 (PCD/PWT/PCID bits zero).
  mm::PhysAddr root() const { return root_; }

  // Maps [virt, virt + size) to [phys, phys + size) with pages of `ps`; all
  // sizes and addresses are in bytes.
  // `prot` is a Prot mask. Leaves get P, RW if Write, US if User, NX unless
  // Execute, G if Global, PCD|PWT if Uncached/WriteCombining, PS for 2M/1G.
  // Intermediate tables are allocated as needed (P|RW, plus US if User).
  //
  // Errors, checked in this order, before anything is changed:
  //   InvalidArgument  size == 0, unknown prot bits, or prot without Read
  //   Misaligned       virt, phys or size not a multiple of the page size
  //   Overflow         virt + size or phys + size wraps around 2^64
  //   InvalidArgument  the range is not canonical (bits 63..47 equal) or
  //                    crosses the canonical hole; or it is in the kernel half
  //                    of a table that shares it (share_kernel_half())
  //   OutOfRange       phys + size > 2^52 (the architectural MAXPHYADDR limit)
  //   AlreadyExists    any page of the range is mapped, also by a larger or a
  //                    smaller page (e.g. 4 KiB inside an existing 2 MiB page)
  //   NoMemory         a table page could not be allocated
  // On any error no entry that existed before the call is modified, and every
  // table page allocated by the call is freed again — with one bounded
  // exception: a PDPT the call created for an empty kernel-half PML4 entry is
  // kept (empty, owned, freed by destroy()), since kernel-half PDPTs are never
  // freed; at most one per 512 GiB of the range, none after
  // populate_kernel_half(). In the lower half nothing is kept. No TLB
  // invalidation is needed after map(): not-present entries are not cached
  // (SDM §4.10.2.3).
  ktl::Result<void> map(uint64_t virt, mm::PhysAddr phys, uint64_t size, unsigned prot,
                        PageSize ps = PageSize::k4K);

  // Unmaps every page in [virt, virt + size); holes are skipped, so unmapping
  // twice is fine. A 2 MiB / 1 GiB page must lie entirely inside the range —
  // splitting large pages is not supported (TODO: split on demand).
  // Tables that become empty are freed, except the PML4 and kernel-half PDPTs.
  // Every range that was mapped is reported to `flush` (coalesced), and all
  // reports happen before the first table page is freed: a flush callback that
  // completes the invalidation (including shootdowns) before returning makes
  // freeing those pages safe against stale paging-structure caches (§4.10.3).
  // Otherwise the TableAllocator's free must defer reuse until after the flush.
  // Errors (nothing changed): InvalidArgument (size == 0, non-canonical,
  // crosses the hole, kernel half of a sharing table, large page partially
  // covered), Misaligned (virt or size not 4 KiB aligned), Overflow.
  ktl::Result<void> unmap(uint64_t virt, uint64_t size, TlbFlush flush = {});

  // Replaces the permissions of every page in [virt, virt + size) by `prot`
  // (encoded as in map()); keeps the frame, A, D, PAT and PS bits. Pages whose
  // entry changed are reported to `flush`.
  // Errors (nothing changed): as for unmap(), plus InvalidArgument for bad prot
  // bits, and NotFound if any page in the range is unmapped.
  ktl::Result<void> protect(uint64_t virt, uint64_t size, unsigned prot, TlbFlush flush = {});

  struct Translation {
    mm::PhysAddr phys;  // including the offset of virt within the page
    unsigned prot;      // effective Prot mask (Read is always set)
    PageSize size;      // size of the page that maps virt
  };
  // Walks the tables for `virt` (§4.5.4). prot combines the rights of all
  // levels (§4.6): Write/User only if every level allows them, Execute unless
  // some level has NX; Global and Uncached come from the leaf.
  // Errors: InvalidArgument (non-canonical), NotFound (not mapped).
  ktl::Result<Translation> translate(uint64_t virt) const;

  // The raw leaf entry (PTE, or PDE/PDPTE with PS) that maps `virt`; for tests
  // and debugging. Errors: InvalidArgument (non-canonical), NotFound.
  ktl::Result<uint64_t> leaf_entry(uint64_t virt) const;

  // Copies PML4 entries 256..511 from `kernel` into this table, so both share
  // the kernel's PDPTs (and everything below them). Any kernel-half tables this
  // table owned before are freed. Afterwards map/unmap/protect refuse kernel-half
  // addresses here (edit them through `kernel`), and destroy() and
  // count_table_pages() leave the shared tables alone.
  // Only PML4 entries present in `kernel` at the time of the call are shared:
  // call kernel.populate_kernel_half() once at boot so that the set never grows.
  // Precondition: `kernel` is not *this.
  void share_kernel_half(const PageTable& kernel);

  // Gives every empty kernel-half PML4 entry a zeroed PDPT (at most 256 pages,
  // 1 MiB), so later kernel mappings are seen by every table that shares the
  // kernel half. Errors: NoMemory (the PDPTs allocated so far are kept; calling
  // again continues).
  ktl::Result<void> populate_kernel_half();

  // Number of table pages this PageTable owns: the PML4, every table reachable
  // from the lower half and, unless the kernel half is shared, from the upper
  // half. For invariant checks (each owned page is allocated exactly once).
  uint64_t count_table_pages() const;

  // Frees every table page this PageTable owns (see count_table_pages()),
  // including the PML4; never the mapped frames, which belong to their owners,
  // and never shared kernel-half tables. The caller must have switched every
  // CPU away from root() first. The PageTable is empty afterwards (root() == 0)
  // and must not be used except to be destroyed again (a no-op) or assigned.
  void destroy();

 private:
  PageTable(mm::PhysAddr root, TableAllocator alloc, bool owns_kernel_half)
      : root_(root), alloc_(alloc), owns_kernel_half_(owns_kernel_half) {}

  // Checks shared by map/unmap/protect; on success sets `last` to the last
  // byte of the range.
  ktl::Result<void> check_range(uint64_t virt, uint64_t size, uint64_t align, uint64_t& last) const;

  mm::PhysAddr root_;            // PML4; 0 after destroy() or a move
  TableAllocator alloc_;
  bool owns_kernel_half_;        // false after share_kernel_half()
};

}  // namespace x86
