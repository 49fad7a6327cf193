// arch/x86_64/page_table.cc — editing x86-64 4-level page tables.
//
// Every range operation is split seL4-style into a check walk that can fail
// and an apply walk that cannot (map's table allocation is the one fallible
// step, and it is undone on failure). Walks are recursive over levels:
// level 3 = PML4, 2 = PDPT, 1 = PD, 0 = PT; an entry at level L maps
// 4 KiB << (9 * L) bytes. Ranges are carried as [first, last] (inclusive) so
// that a range ending at 2^64 needs no special case.
//
// Intel SDM Vol. 3A §4.5 (4-level paging), Tables 4-14..4-20.
#include <arch/x86_64/page_table.h>

#include <ktl/align.h>

namespace x86 {
namespace {

constexpr int kPml4Level = 3;
constexpr unsigned kEntries = 512;
constexpr unsigned kFirstKernelEntry = 256;  // PML4 index of 0xffff800000000000
constexpr uint64_t kMaxPhys = 1ull << 52;    // architectural MAXPHYADDR limit

// Intermediate entries: writable and executable, so the leaf decides (§4.6).
constexpr uint64_t kTableBits = pte::kPresent | pte::kWritable;
// The leaf bits protect() replaces.
constexpr uint64_t kPermBits = pte::kWritable | pte::kUser | pte::kWriteThrough | pte::kCacheDisable |
                               pte::kGlobal | pte::kNoExecute;

constexpr uint64_t level_span(int level) { return mm::kPageSize << (9 * level); }
constexpr unsigned level_index(uint64_t virt, int level) { return (virt >> (12 + 9 * level)) & (kEntries - 1); }

constexpr int target_level(PageSize ps) {
  switch (ps) {
    case PageSize::k4K: return 0;
    case PageSize::k2M: return 1;
    case PageSize::k1G: return 2;
  }
  return 0;
}

constexpr PageSize level_page_size(int level) {
  return level == 2 ? PageSize::k1G : level == 1 ? PageSize::k2M : PageSize::k4K;
}

// Bits 63..47 all equal (§3.3.7.1 of Vol. 1; 48-bit linear addresses).
constexpr bool is_canonical(uint64_t v) { return static_cast<int64_t>(v << 16) >> 16 == static_cast<int64_t>(v); }

constexpr bool is_present(uint64_t e) { return e & pte::kPresent; }
// PS is only defined in PDPTEs and PDEs; bit 7 of a PTE is PAT, and of a PML4E reserved.
constexpr bool is_leaf(uint64_t e, int level) { return level == 0 || (level <= 2 && (e & pte::kLargePage)); }
constexpr mm::PhysAddr table_addr(uint64_t e) { return e & pte::kAddrMask; }
constexpr mm::PhysAddr leaf_addr(uint64_t e, int level) {
  return level == 2 ? e & pte::kAddrMask1G : level == 1 ? e & pte::kAddrMask2M : e & pte::kAddrMask;
}

// Hardware sets A/D bits concurrently; never tear or lose an entry update.
uint64_t load(const uint64_t* e) { return __atomic_load_n(e, __ATOMIC_RELAXED); }
// Release: a new table's zeroed contents are visible before the entry that points to it.
void store(uint64_t* e, uint64_t v) { __atomic_store_n(e, v, __ATOMIC_RELEASE); }
void set_bits(uint64_t* e, uint64_t bits) { __atomic_fetch_or(e, bits, __ATOMIC_RELAXED); }
// Replaces the kPermBits of *e by `perm`, keeping A/D set meanwhile by hardware.
// Returns whether the entry changed.
bool replace_perm(uint64_t* e, uint64_t perm) {
  uint64_t old = load(e);
  for (;;) {
    uint64_t v = (old & ~kPermBits) | perm;
    if (v == old) return false;
    if (__atomic_compare_exchange_n(e, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return true;
  }
}

uint64_t* table_ptr(mm::PhysAddr table) { return mm::phys_to_ptr<uint64_t>(table); }

bool table_empty(mm::PhysAddr table) {
  const uint64_t* t = table_ptr(table);
  for (unsigned i = 0; i < kEntries; ++i)
    if (load(&t[i])) return false;
  return true;
}

// Leaf bits for `prot` (without PS). Precondition: prot was validated.
uint64_t encode_leaf(unsigned prot) {
  uint64_t e = pte::kPresent;
  if (prot & Prot::Write) e |= pte::kWritable;
  if (prot & Prot::User) e |= pte::kUser;
  if (!(prot & Prot::Execute)) e |= pte::kNoExecute;
  if (prot & Prot::Global) e |= pte::kGlobal;
  if (prot & (Prot::Uncached | Prot::WriteCombining)) e |= pte::kCacheDisable | pte::kWriteThrough;
  return e;
}

ktl::Result<void> check_prot(unsigned prot) {
  if (prot & ~Prot::kAll) return ktl::Error::InvalidArgument;
  if (!(prot & Prot::Read)) return ktl::Error::InvalidArgument;
  return ktl::ok();
}

// One entry of a table visited by a range walk.
struct Slot {
  uint64_t* entry;
  int level;
  uint64_t base;   // first virtual address the entry maps
  uint64_t first;  // the part of the walked range inside the entry, inclusive
  uint64_t last;
  bool whole() const { return first == base && last == base + (level_span(level) - 1); }
};

// Calls fn(Slot) for every entry of `table` (at `level`) that intersects
// [first, last]; stops at the first error. [first, last] must lie within the
// table's reach (same half for the PML4).
template <typename Fn>
ktl::Result<void> for_each_slot(mm::PhysAddr table, int level, uint64_t first, uint64_t last, Fn&& fn) {
  uint64_t* t = table_ptr(table);
  const uint64_t span = level_span(level);
  uint64_t base = ktl::align_down(first, span);
  for (unsigned i = level_index(first, level), end = level_index(last, level); i <= end; ++i, base += span) {
    uint64_t slot_last = base + (span - 1);
    TRY(fn(Slot{&t[i], level, base, first > base ? first : base, last < slot_last ? last : slot_last}));
  }
  return ktl::ok();
}

// Collects changed pages into maximal runs and reports each run once.
class FlushRun {
 public:
  explicit FlushRun(TlbFlush cb) : cb_(cb) {}
  void add(uint64_t virt, uint64_t size) {
    if (size_ && start_ + size_ == virt) {
      size_ += size;
      return;
    }
    emit();
    start_ = virt;
    size_ = size;
  }
  void emit() {
    if (size_ && cb_.flush) cb_.flush(cb_.ctx, start_, size_);
    size_ = 0;
  }

 private:
  TlbFlush cb_;
  uint64_t start_ = 0;
  uint64_t size_ = 0;
};

// --- map -------------------------------------------------------------------

// AlreadyExists if anything is mapped in [first, last]. A present non-leaf
// entry at the target level counts as mapped: tables are never empty there.
ktl::Result<void> check_free(mm::PhysAddr table, int level, uint64_t first, uint64_t last, int target) {
  return for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    if (!is_present(e)) return ktl::ok();
    if (level == target || is_leaf(e, level)) return ktl::Error::AlreadyExists;
    return check_free(table_addr(e), level - 1, s.first, s.last, target);
  });
}

// Phase 1 of map: makes sure every table down to the target level exists.
// New tables get `table_bits`; existing entries are not modified.
ktl::Result<void> ensure_tables(mm::PhysAddr table, int level, uint64_t first, uint64_t last, int target,
                                uint64_t table_bits, const TableAllocator& alloc) {
  if (level == target) return ktl::ok();
  return for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    mm::PhysAddr child;
    if (is_present(e)) {
      child = table_addr(e);
    } else {
      child = TRY(alloc.alloc(alloc.ctx));
      __builtin_memset(table_ptr(child), 0, kEntries * sizeof(uint64_t));  // (rep stosq: a third of a loop's instructions)
      store(s.entry, table_bits | child);
    }
    return ensure_tables(child, level - 1, s.first, s.last, target, table_bits, alloc);
  });
}

// Phase 2 of map (cannot fail): writes the leaves; adds US to the
// intermediate entries on the way when `user_bit` is set.
void install_leaves(mm::PhysAddr table, int level, uint64_t first, uint64_t last, int target,
                    uint64_t virt0, mm::PhysAddr phys0, uint64_t leaf_bits, uint64_t user_bit) {
  (void)for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    if (level == target) {
      store(s.entry, leaf_bits | (phys0 + (s.base - virt0)));
      return ktl::ok();
    }
    uint64_t e = load(s.entry);
    if (user_bit && !(e & user_bit)) set_bits(s.entry, user_bit);
    install_leaves(table_addr(e), level - 1, s.first, s.last, target, virt0, phys0, leaf_bits, user_bit);
    return ktl::ok();
  });
}

// --- unmap / prune ---------------------------------------------------------

// InvalidArgument if a large page is only partly inside [first, last].
ktl::Result<void> check_unmap(mm::PhysAddr table, int level, uint64_t first, uint64_t last) {
  return for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    if (!is_present(e)) return ktl::ok();
    if (is_leaf(e, level)) return level == 0 || s.whole() ? ktl::ok() : ktl::Result<void>(ktl::Error::InvalidArgument);
    return check_unmap(table_addr(e), level - 1, s.first, s.last);
  });
}

// Clears every leaf in [first, last] (all fully covered, see check_unmap).
void clear_leaves(mm::PhysAddr table, int level, uint64_t first, uint64_t last, FlushRun& run) {
  (void)for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    if (!is_present(e)) return ktl::ok();
    if (is_leaf(e, level)) {
      store(s.entry, 0);
      run.add(s.base, level_span(level));
      return ktl::ok();
    }
    clear_leaves(table_addr(e), level - 1, s.first, s.last, run);
    return ktl::ok();
  });
}

// Frees the tables below `table` that intersect [first, last] and are empty
// (bottom-up, so a PD whose last PT goes is freed as well). Kernel-half PDPTs
// stay: other address spaces point at them.
void prune(mm::PhysAddr table, int level, uint64_t first, uint64_t last, const TableAllocator& alloc) {
  (void)for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    if (!is_present(e) || is_leaf(e, level)) return ktl::ok();
    mm::PhysAddr child = table_addr(e);
    prune(child, level - 1, s.first, s.last, alloc);
    if (level == kPml4Level && level_index(s.base, level) >= kFirstKernelEntry) return ktl::ok();
    if (table_empty(child)) {
      store(s.entry, 0);
      alloc.free(alloc.ctx, child);
    }
    return ktl::ok();
  });
}

// Frees `table` and every table below it; never the mapped frames.
void free_tree(mm::PhysAddr table, int level, const TableAllocator& alloc) {
  const uint64_t* t = table_ptr(table);
  if (level > 0) {
    for (unsigned i = 0; i < kEntries; ++i) {
      uint64_t e = load(&t[i]);
      if (is_present(e) && !is_leaf(e, level)) free_tree(table_addr(e), level - 1, alloc);
    }
  }
  alloc.free(alloc.ctx, table);
}

uint64_t count_tree(mm::PhysAddr table, int level) {
  uint64_t n = 1;
  const uint64_t* t = table_ptr(table);
  if (level > 0) {
    for (unsigned i = 0; i < kEntries; ++i) {
      uint64_t e = load(&t[i]);
      if (is_present(e) && !is_leaf(e, level)) n += count_tree(table_addr(e), level - 1);
    }
  }
  return n;
}

// --- protect ---------------------------------------------------------------

// NotFound if any page in [first, last] is unmapped; InvalidArgument if a
// large page is only partly inside.
ktl::Result<void> check_mapped(mm::PhysAddr table, int level, uint64_t first, uint64_t last) {
  return for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    uint64_t e = load(s.entry);
    if (!is_present(e)) return ktl::Error::NotFound;
    if (is_leaf(e, level)) return level == 0 || s.whole() ? ktl::ok() : ktl::Result<void>(ktl::Error::InvalidArgument);
    return check_mapped(table_addr(e), level - 1, s.first, s.last);
  });
}

void apply_prot(mm::PhysAddr table, int level, uint64_t first, uint64_t last, uint64_t perm, FlushRun& run) {
  (void)for_each_slot(table, level, first, last, [&](const Slot& s) -> ktl::Result<void> {
    if (is_leaf(load(s.entry), level)) {
      if (replace_perm(s.entry, perm)) run.add(s.base, level_span(level));
      return ktl::ok();
    }
    if (perm & pte::kUser) set_bits(s.entry, pte::kUser);
    apply_prot(table_addr(load(s.entry)), level - 1, s.first, s.last, perm, run);
    return ktl::ok();
  });
}

}  // namespace

// --- PageTable -------------------------------------------------------------

ktl::Result<PageTable> PageTable::create(TableAllocator alloc) {
  mm::PhysAddr pml4 = TRY(alloc.alloc(alloc.ctx));
  uint64_t* t = table_ptr(pml4);
  for (unsigned i = 0; i < kEntries; ++i) t[i] = 0;
  return PageTable(pml4, alloc, true);
}

PageTable PageTable::adopt(mm::PhysAddr pml4, TableAllocator alloc) { return PageTable(pml4, alloc, true); }

PageTable::PageTable(PageTable&& other)
    : root_(other.root_), alloc_(other.alloc_), owns_kernel_half_(other.owns_kernel_half_) {
  other.root_ = 0;
}

PageTable& PageTable::operator=(PageTable&& other) {
  if (this != &other) {
    root_ = other.root_;
    alloc_ = other.alloc_;
    owns_kernel_half_ = other.owns_kernel_half_;
    other.root_ = 0;
  }
  return *this;
}

ktl::Result<void> PageTable::check_range(uint64_t virt, uint64_t size, uint64_t align, uint64_t& last) const {
  if (size == 0) return ktl::Error::InvalidArgument;
  if (!ktl::is_aligned(virt, align) || !ktl::is_aligned(size, align)) return ktl::Error::Misaligned;
  uint64_t l;
  if (!ktl::checked_add(virt, size - 1, l)) return ktl::Error::Overflow;
  // Both ends canonical and on the same side of the hole: the whole range is.
  if (!is_canonical(virt) || !is_canonical(l) || ((virt ^ l) >> 63)) return ktl::Error::InvalidArgument;
  if (!owns_kernel_half_ && (virt >> 63)) return ktl::Error::InvalidArgument;
  last = l;
  return ktl::ok();
}

ktl::Result<void> PageTable::map(uint64_t virt, mm::PhysAddr phys, uint64_t size, unsigned prot, PageSize ps) {
  const uint64_t align = page_size_bytes(ps);
  if (size == 0) return ktl::Error::InvalidArgument;
  TRY(check_prot(prot));
  if (!ktl::is_aligned(virt, align) || !ktl::is_aligned(phys, align) || !ktl::is_aligned(size, align))
    return ktl::Error::Misaligned;
  uint64_t phys_last;
  if (!ktl::checked_add(phys, size - 1, phys_last)) return ktl::Error::Overflow;
  uint64_t last;
  TRY(check_range(virt, size, align, last));
  if (phys_last >= kMaxPhys) return ktl::Error::OutOfRange;

  const int target = target_level(ps);
  TRY(check_free(root_, kPml4Level, virt, last, target));

  const uint64_t user_bit = (prot & Prot::User) ? pte::kUser : 0;
  auto tables = ensure_tables(root_, kPml4Level, virt, last, target, kTableBits | user_bit, alloc_);
  if (!tables.ok()) {
    // Only tables created above can be empty here (invariant), and no leaf
    // was written, so pruning the range frees what this call made — except
    // new kernel-half PDPTs, which prune() never frees (see header).
    prune(root_, kPml4Level, virt, last, alloc_);
    return tables.error();
  }

  const uint64_t leaf_bits = encode_leaf(prot) | (target > 0 ? pte::kLargePage : 0);
  install_leaves(root_, kPml4Level, virt, last, target, virt, phys, leaf_bits, user_bit);
  return ktl::ok();
}

ktl::Result<void> PageTable::unmap(uint64_t virt, uint64_t size, TlbFlush flush) {
  uint64_t last;
  TRY(check_range(virt, size, mm::kPageSize, last));
  TRY(check_unmap(root_, kPml4Level, virt, last));
  FlushRun run(flush);
  clear_leaves(root_, kPml4Level, virt, last, run);
  run.emit();  // every report precedes the first table free (see header)
  prune(root_, kPml4Level, virt, last, alloc_);
  return ktl::ok();
}

ktl::Result<void> PageTable::protect(uint64_t virt, uint64_t size, unsigned prot, TlbFlush flush) {
  if (size == 0) return ktl::Error::InvalidArgument;
  TRY(check_prot(prot));
  uint64_t last;
  TRY(check_range(virt, size, mm::kPageSize, last));
  TRY(check_mapped(root_, kPml4Level, virt, last));
  FlushRun run(flush);
  apply_prot(root_, kPml4Level, virt, last, encode_leaf(prot) & kPermBits, run);
  run.emit();
  return ktl::ok();
}

ktl::Result<PageTable::Translation> PageTable::translate(uint64_t virt) const {
  if (!is_canonical(virt)) return ktl::Error::InvalidArgument;
  bool writable = true, user = true, exec = true;
  mm::PhysAddr table = root_;
  for (int level = kPml4Level; level >= 0; --level) {
    uint64_t e = load(&table_ptr(table)[level_index(virt, level)]);
    if (!is_present(e)) return ktl::Error::NotFound;
    writable = writable && (e & pte::kWritable);
    user = user && (e & pte::kUser);
    exec = exec && !(e & pte::kNoExecute);
    if (is_leaf(e, level)) {
      unsigned prot = Prot::Read;
      if (writable) prot |= Prot::Write;
      if (exec) prot |= Prot::Execute;
      if (user) prot |= Prot::User;
      if (e & pte::kGlobal) prot |= Prot::Global;
      if (e & pte::kCacheDisable) prot |= Prot::Uncached;
      return Translation{leaf_addr(e, level) + (virt & (level_span(level) - 1)), prot, level_page_size(level)};
    }
    table = table_addr(e);
  }
  return ktl::Error::NotFound;  // not reached: level 0 entries are leaves
}

ktl::Result<uint64_t> PageTable::leaf_entry(uint64_t virt) const {
  if (!is_canonical(virt)) return ktl::Error::InvalidArgument;
  mm::PhysAddr table = root_;
  for (int level = kPml4Level; level >= 0; --level) {
    uint64_t e = load(&table_ptr(table)[level_index(virt, level)]);
    if (!is_present(e)) return ktl::Error::NotFound;
    if (is_leaf(e, level)) return e;
    table = table_addr(e);
  }
  return ktl::Error::NotFound;
}

void PageTable::share_kernel_half(const PageTable& kernel) {
  uint64_t* mine = table_ptr(root_);
  const uint64_t* theirs = table_ptr(kernel.root_);
  for (unsigned i = kFirstKernelEntry; i < kEntries; ++i) {
    uint64_t e = load(&mine[i]);
    if (owns_kernel_half_ && is_present(e)) free_tree(table_addr(e), kPml4Level - 1, alloc_);
    store(&mine[i], load(&theirs[i]));
  }
  owns_kernel_half_ = false;
}

ktl::Result<void> PageTable::populate_kernel_half() {
  uint64_t* t = table_ptr(root_);
  for (unsigned i = kFirstKernelEntry; i < kEntries; ++i) {
    if (is_present(load(&t[i]))) continue;
    mm::PhysAddr pdpt = TRY(alloc_.alloc(alloc_.ctx));
    uint64_t* p = table_ptr(pdpt);
    for (unsigned j = 0; j < kEntries; ++j) p[j] = 0;
    store(&t[i], kTableBits | pdpt);
  }
  return ktl::ok();
}

uint64_t PageTable::count_table_pages() const {
  const uint64_t* t = table_ptr(root_);
  const unsigned end = owns_kernel_half_ ? kEntries : kFirstKernelEntry;
  uint64_t n = 1;
  for (unsigned i = 0; i < end; ++i) {
    uint64_t e = load(&t[i]);
    if (is_present(e)) n += count_tree(table_addr(e), kPml4Level - 1);
  }
  return n;
}

void PageTable::destroy() {
  if (root_ == 0) return;
  const uint64_t* t = table_ptr(root_);
  const unsigned end = owns_kernel_half_ ? kEntries : kFirstKernelEntry;
  for (unsigned i = 0; i < end; ++i) {
    uint64_t e = load(&t[i]);
    if (is_present(e)) free_tree(table_addr(e), kPml4Level - 1, alloc_);
  }
  alloc_.free(alloc_.ctx, root_);
  root_ = 0;
}

}  // namespace x86
