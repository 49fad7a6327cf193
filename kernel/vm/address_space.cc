// vm/address_space.cc — AddressSpace: mappings, placement, demand paging.
//
// Operations that may split mappings (unmap, protect) first count, under the
// lock, how many new Mapping records they need; if they lack some they drop
// the lock, allocate them and start over (at most twice: no call needs more
// than two). So no lock is held across the heap, and every check is done
// before the first change.
//
// The page table is read directly (walk_leaves below, using the entry format
// of arch/x86_64/page_table.h) to visit only present entries: mappings are
// mostly sparse, and PageTable::protect() refuses ranges with holes.
#include <vm/address_space.h>

#include <ktl/align.h>

#include <new>
#include <utility>

namespace vm {
namespace {

using ktl::Error;
using x86::Prot;

constexpr uint64_t kLowerHalfEnd = 1ull << 47;

constexpr int kPml4Level = 3;
constexpr uint64_t level_span(int level) { return mm::kPageSize << (9 * level); }

// Calls fn(va, entry) for every present 4 KiB leaf in [lo, hi) below `table`
// (at `level`, mapping from `table_base`). Returns false if a large-page leaf
// lies in the range (we never create them). Requires the page-table lock.
template <typename Fn>
bool walk_leaves(mm::PhysAddr table, int level, uint64_t table_base, uint64_t lo, uint64_t hi, Fn& fn) {
  const uint64_t span = level_span(level);
  const uint64_t* t = mm::phys_to_ptr<uint64_t>(table);
  bool ok = true;
  for (uint64_t i = (lo - table_base) / span, last = (hi - 1 - table_base) / span; i <= last; ++i) {
    const uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
    if (!(e & x86::pte::kPresent)) continue;
    const uint64_t base = table_base + i * span;
    if (level == 0) {
      fn(base, e);
    } else if (level <= 2 && (e & x86::pte::kLargePage)) {
      ok = false;
    } else {
      const uint64_t sub_lo = lo > base ? lo : base;
      const uint64_t sub_hi = hi < base + span ? hi : base + span;
      ok = walk_leaves(e & x86::pte::kAddrMask, level - 1, base, sub_lo, sub_hi, fn) && ok;
    }
  }
  return ok;
}

template <typename Fn>
bool walk_user_leaves(mm::PhysAddr root, uint64_t lo, uint64_t hi, Fn fn) {
  if (root == 0 || lo >= hi) return true;
  return walk_leaves(root, kPml4Level, 0, lo, hi, fn);
}

// The Prot mask a leaf entry encodes (Read always; see page_table.h).
unsigned prot_of_entry(uint64_t e) {
  unsigned prot = Prot::Read;
  if (e & x86::pte::kWritable) prot |= Prot::Write;
  if (e & x86::pte::kUser) prot |= Prot::User;
  if (!(e & x86::pte::kNoExecute)) prot |= Prot::Execute;
  if (e & x86::pte::kGlobal) prot |= Prot::Global;
  if (e & x86::pte::kCacheDisable) prot |= Prot::Uncached;
  return prot;
}

// Collects the ranges page-table calls report and passes them on with
// adjacent ones merged. Only for operations that free no table pages
// (protect): unmap must report before PageTable frees tables, so it reports
// directly.
class FlushBatch {
 public:
  explicit FlushBatch(const x86::TlbFlush& out) : out_(out) {}
  ~FlushBatch() { emit(); }
  FlushBatch(const FlushBatch&) = delete;
  FlushBatch& operator=(const FlushBatch&) = delete;

  x86::TlbFlush sink() {
    if (out_.flush == nullptr) return {};
    return x86::TlbFlush{&FlushBatch::add, this};
  }
  void emit() {
    if (size_ != 0) out_.flush(out_.ctx, start_, size_);
    size_ = 0;
  }

 private:
  static void add(void* ctx, uint64_t virt, uint64_t size) {
    auto* b = static_cast<FlushBatch*>(ctx);
    if (b->size_ != 0 && b->start_ + b->size_ == virt) {
      b->size_ += size;
      return;
    }
    b->emit();
    b->start_ = virt;
    b->size_ = size;
  }

  x86::TlbFlush out_;
  uint64_t start_ = 0;
  uint64_t size_ = 0;
};

// Up to two Mapping records allocated ahead of a split; unused ones are freed.
class SpareMappings {
 public:
  SpareMappings() = default;
  SpareMappings(const SpareMappings&) = delete;
  SpareMappings& operator=(const SpareMappings&) = delete;
  ~SpareMappings() {
    while (count_ > 0) mm::kdelete(spare_[--count_]);
  }
  size_t count() const { return count_; }
  ktl::Result<void> fill(size_t need) {
    while (count_ < need) {
      Mapping* m = mm::knew<Mapping>();
      if (m == nullptr) return Error::NoMemory;
      spare_[count_++] = m;
    }
    return ktl::ok();
  }
  Mapping* take() { return spare_[--count_]; }

 private:
  Mapping* spare_[2] = {};
  size_t count_ = 0;
};

// A mapping's protection: Read with Write and/or Execute, or 0 (no access,
// Linux's PROT_NONE: nothing is ever installed, every access faults).
bool valid_prot(unsigned prot) { return (prot == 0 || (prot & Prot::Read)) && !(prot & ~AddressSpace::kProtRWX); }
// What a handle allows (max_prot) always includes reading.
bool valid_max_prot(unsigned prot) { return (prot & Prot::Read) && !(prot & ~AddressSpace::kProtRWX); }
bool write_and_exec(unsigned prot) { return (prot & Prot::Write) && (prot & Prot::Execute); }

// Checks [addr, addr + len) for unmap/protect: InvalidArgument, Misaligned, OutOfRange.
ktl::Result<void> check_user_range(uint64_t addr, uint64_t len) {
  if (len == 0) return Error::InvalidArgument;
  if (!ktl::is_aligned(addr, mm::kPageSize) || !ktl::is_aligned(len, mm::kPageSize)) return Error::Misaligned;
  uint64_t end;
  if (!ktl::checked_add(addr, len, end) || addr < AddressSpace::kUserBase || end > AddressSpace::kUserEnd)
    return Error::OutOfRange;
  return ktl::ok();
}

}  // namespace

x86::TableAllocator AddressSpace::table_allocator(mm::FrameAllocator& frames) {
  return x86::TableAllocator{
      [](void* ctx) { return static_cast<mm::FrameAllocator*>(ctx)->alloc_page(); },
      [](void* ctx, mm::PhysAddr frame) { static_cast<mm::FrameAllocator*>(ctx)->free_page(frame); },
      &frames,
  };
}

x86::TableAllocator AddressSpace::charged_table_allocator() {
  return x86::TableAllocator{
      [](void* ctx) -> ktl::Result<mm::PhysAddr> {
        auto* as = static_cast<AddressSpace*>(ctx);
        object::Quota* q = as->quota();
        if (q != nullptr) TRY(q->charge(mm::kPageSize));
        auto frame = as->frames_.alloc_page();
        if (!frame.ok() && q != nullptr) q->uncharge(mm::kPageSize);
        return frame;
      },
      [](void* ctx, mm::PhysAddr frame) {
        auto* as = static_cast<AddressSpace*>(ctx);
        as->frames_.free_page(frame);
        if (as->quota() != nullptr) as->quota()->uncharge(mm::kPageSize);
      },
      this,
  };
}

ktl::Result<ktl::RefPtr<AddressSpace>> AddressSpace::create(mm::FrameAllocator& frames,
                                                            const x86::PageTable* kernel_half,
                                                            uint64_t aslr_seed, object::Quota* quota) {
  if (quota != nullptr) TRY(quota->charge(sizeof(AddressSpace)));
  // The PML4, charged like every later page-table page (it is freed through
  // charged_table_allocator(), which returns the charge).
  if (quota != nullptr) {
    if (auto r = quota->charge(mm::kPageSize); !r.ok()) {
      quota->uncharge(sizeof(AddressSpace));
      return r.error();
    }
  }
  auto undo = [&] {
    if (quota != nullptr) {
      quota->uncharge(mm::kPageSize);
      quota->uncharge(sizeof(AddressSpace));
    }
  };
  auto table = x86::PageTable::create(table_allocator(frames));
  if (!table.ok()) {
    undo();
    return table.error();
  }
  if (kernel_half != nullptr) table->share_kernel_half(*kernel_half);
  auto* as = new (std::nothrow) AddressSpace(frames, table.release_value(), aslr_seed, quota);
  if (as == nullptr) {
    // The allocation failed before the arguments were evaluated: the table is
    // still ours.
    table->destroy();
    undo();
    return Error::NoMemory;
  }
  as->page_table_.set_allocator(as->charged_table_allocator());
  return ktl::adopt_ref(as);
}

AddressSpace::AddressSpace(mm::FrameAllocator& frames, x86::PageTable table, uint64_t aslr_seed,
                           object::Quota* quota)
    : KernelObject(kType, quota, sizeof(AddressSpace)), frames_(frames), page_table_(std::move(table)) {
  // splitmix64 of the seed, so that neighbouring seeds give unrelated streams;
  // xorshift state must not be 0.
  uint64_t z = aslr_seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  rng_ = z != 0 ? z : 0x2545f4914f6cdd1dull;
}

AddressSpace::~AddressSpace() { destroy(); }

void AddressSpace::set_tlb_flush(x86::TlbFlush flush) {
  klib::SpinLockGuard guard(pt_lock_);
  remote_flush_ = flush;
}

mm::PhysAddr AddressSpace::root() const {
  klib::SpinLockGuard guard(pt_lock_);
  return page_table_.root();
}

void AddressSpace::free_mapping(Mapping* m) {
  if (quota() != nullptr) quota()->uncharge(sizeof(Mapping));
  mm::kdelete(m);  // drops m->vmo, which may destroy the object
}

uint64_t AddressSpace::next_random_locked() {
  // xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators").
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545f4914f6cdd1dull;
}

Mapping* AddressSpace::find_locked(uint64_t addr) const {
  Mapping* m = mappings_.floor(addr);
  return m != nullptr && addr < m->end() ? m : nullptr;
}

Mapping* AddressSpace::first_ending_above_locked(uint64_t addr) const {
  Mapping* m = mappings_.floor(addr);
  if (m == nullptr) return mappings_.front();
  return m->end() > addr ? m : mappings_.next(m);
}

bool AddressSpace::range_free_locked(uint64_t base, uint64_t len) const {
  const Mapping* m = first_ending_above_locked(base);
  return m == nullptr || m->base >= base + len;
}

Mapping* AddressSpace::split_tail_locked(Mapping* m, uint64_t at, Mapping* tail) {
  tail->base = at;
  tail->size = m->end() - at;
  tail->vmo = m->vmo;
  tail->vmo_offset = m->vmo_offset + (at - m->base);
  tail->prot = m->prot;
  tail->max_prot = m->max_prot;
  tail->shared = m->shared;
  tail->aspace = this;
  m->size = at - m->base;
  m->vmo->add_mapping_locked(tail);
  mappings_.insert(tail);
  return tail;
}

ktl::Result<uint64_t> AddressSpace::choose_address_locked(uint64_t len) {
  constexpr uint64_t kRange = kUserEnd - kUserBase;
  if (len > kRange) return Error::NoSpace;
  const uint64_t slots = ((kRange - len) >> mm::kPageShift) + 1;
  for (unsigned i = 0; i < kAslrAttempts; ++i) {
    const uint64_t base = kUserBase + (next_random_locked() % slots) * mm::kPageSize;
    if (range_free_locked(base, len)) return base;
  }
  // First fit.
  uint64_t cursor = kUserBase;
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
    if (m->base >= cursor && m->base - cursor >= len) return cursor;
    if (m->end() > cursor) cursor = m->end();
  }
  if (kUserEnd - cursor >= len) return cursor;
  return Error::NoSpace;
}

unsigned AddressSpace::leaf_prot(const Mapping* m, bool writable) {
  unsigned prot = Prot::Read | Prot::User | (m->prot & Prot::Execute);
  if (writable) prot |= Prot::Write;
  if (m->vmo->is_uncached()) prot |= Prot::Uncached;
  return prot;
}

ktl::Result<void> AddressSpace::install_locked(const Mapping* m, uint64_t va, mm::PhysAddr frame,
                                               bool writable, const x86::TlbFlush& flush) {
  const unsigned prot = leaf_prot(m, writable);
  klib::SpinLockGuard guard(pt_lock_);
  auto current = page_table_.translate(va);
  if (current.ok()) {
    if (current->phys == frame) {
      constexpr unsigned kBits = Prot::Write | Prot::Execute | Prot::Uncached;
      if ((current->prot & kBits) == (prot & kBits)) return ktl::ok();  // someone resolved it already
      return page_table_.protect(va, mm::kPageSize, prot, flush);
    }
    TRY(page_table_.unmap(va, mm::kPageSize, flush));
  }
  return page_table_.map(va, frame, mm::kPageSize, prot);
}

ktl::Result<void> AddressSpace::populate_locked(Mapping* m, const x86::TlbFlush& flush) {
  if (m->prot == 0) return ktl::ok();  // no access: nothing to install
  MemoryObject* vmo = m->vmo.get();
  if (vmo->is_physical()) {  // contiguous: one call
    klib::SpinLockGuard guard(pt_lock_);
    return page_table_.map(m->base, vmo->phys_base_ + m->vmo_offset, m->size,
                           leaf_prot(m, m->prot & Prot::Write));
  }
  // TODO: a preemption point per page once the kernel has them.
  for (uint64_t off = 0; off < m->size; off += mm::kPageSize) {
    const mm::PhysAddr frame = TRY(vmo->commit_locked((m->vmo_offset + off) >> mm::kPageShift));
    const bool writable = (m->prot & Prot::Write) && !vmo->frame_shared(frame);
    TRY(install_locked(m, m->base + off, frame, writable, flush));
  }
  return ktl::ok();
}

ktl::Result<uint64_t> AddressSpace::map(ktl::RefPtr<MemoryObject> vmo, uint64_t vmo_offset, uint64_t len,
                                        unsigned prot, const MapOptions& options, x86::TlbFlush flush) {
  {
    klib::SpinLockGuard guard(lock_);
    if (destroyed_) return Error::BadState;
  }
  if (!vmo || len == 0 || !valid_prot(prot) || !valid_max_prot(options.max_prot)) return Error::InvalidArgument;
  if (write_and_exec(prot) || (prot & ~options.max_prot)) return Error::AccessDenied;
  if (!ktl::is_aligned(vmo_offset, mm::kPageSize) || !ktl::is_aligned(len, mm::kPageSize) ||
      !ktl::is_aligned(options.fixed_addr, mm::kPageSize))
    return Error::Misaligned;
  uint64_t vmo_end;
  if (!ktl::checked_add(vmo_offset, len, vmo_end) || vmo_end > vmo->size()) return Error::OutOfRange;
  if (options.fixed_addr != 0) {
    uint64_t end;
    if (!ktl::checked_add(options.fixed_addr, len, end) || options.fixed_addr < kUserBase || end > kUserEnd)
      return Error::OutOfRange;
  }
  Mapping* m = mm::knew<Mapping>();
  if (m == nullptr) return Error::NoMemory;

  ktl::Result<void> populated = ktl::ok();
  {
    klib::SpinLockGuard guard(lock_);
    ktl::Result<uint64_t> base = Error::BadState;
    if (destroyed_) {
      base = Error::BadState;
    } else if (options.fixed_addr != 0) {
      if (range_free_locked(options.fixed_addr, len)) {
        base = options.fixed_addr;
      } else {
        base = Error::AlreadyExists;
      }
    } else {
      base = choose_address_locked(len);
    }
    if (base.ok() && quota() != nullptr) {
      auto charged = quota()->charge(sizeof(Mapping));
      if (!charged.ok()) base = charged.error();
    }
    if (!base.ok()) {
      mm::kdelete(m);
      return base.error();
    }
    m->base = *base;
    m->size = len;
    m->vmo = std::move(vmo);
    m->vmo_offset = vmo_offset;
    m->prot = prot;
    m->max_prot = options.max_prot;
    m->shared = options.shared;
    m->aspace = this;
    MemoryObject* object = m->vmo.get();
    klib::SpinLockGuard vmo_guard(object->lock_);
    object->add_mapping_locked(m);
    mappings_.insert(m);
    mapped_bytes_ += len;
    if (options.populate || object->is_physical()) {
      populated = populate_locked(m, flush);
      if (!populated.ok()) {  // take it out again
        {
          klib::SpinLockGuard pt_guard(pt_lock_);
          (void)page_table_.unmap(m->base, m->size, flush);
        }
        object->remove_mapping_locked(m);
        mappings_.remove(m);
        mapped_bytes_ -= len;
      }
    }
  }
  if (!populated.ok()) {
    free_mapping(m);
    return populated.error();
  }
  return m->base;
}

ktl::Result<void> AddressSpace::unmap(uint64_t addr, uint64_t len, x86::TlbFlush flush) {
  TRY(check_user_range(addr, len));
  const uint64_t end = addr + len;
  SpareMappings spares;
  MappingList removed;
  for (;;) {
    {
      klib::SpinLockGuard guard(lock_);
      if (destroyed_) return Error::BadState;
      Mapping* first = first_ending_above_locked(addr);
      const bool split = first != nullptr && first->base < addr && first->end() > end;
      if (!split || spares.count() >= 1) {
        if (split && quota() != nullptr) TRY(quota()->charge(sizeof(Mapping)));
        for (Mapping* m = first; m != nullptr && m->base < end;) {
          Mapping* next = mappings_.next(m);
          const uint64_t lo = m->base > addr ? m->base : addr;
          const uint64_t hi = m->end() < end ? m->end() : end;
          MemoryObject* object = m->vmo.get();
          klib::SpinLockGuard vmo_guard(object->lock_);
          {
            klib::SpinLockGuard pt_guard(pt_lock_);
            (void)page_table_.unmap(lo, hi - lo, flush);  // cannot fail: the range was checked
          }
          if (lo == m->base && hi == m->end()) {
            object->remove_mapping_locked(m);
            mappings_.remove(m);
            removed.push_back(m);
          } else if (lo == m->base) {
            m->vmo_offset += hi - m->base;
            m->size -= hi - m->base;
            m->base = hi;
          } else if (hi == m->end()) {
            m->size = lo - m->base;
          } else {  // the middle: [base, lo) stays, [hi, end) is a new mapping
            split_tail_locked(m, hi, spares.take());
            m->size = lo - m->base;
          }
          mapped_bytes_ -= hi - lo;
          m = next;
        }
        break;
      }
    }
    TRY(spares.fill(1));
  }
  for (Mapping* m = removed.pop_front(); m != nullptr; m = removed.pop_front()) free_mapping(m);
  return ktl::ok();
}

ktl::Result<void> AddressSpace::protect(uint64_t addr, uint64_t len, unsigned prot, x86::TlbFlush flush) {
  if (len == 0 || !valid_prot(prot)) return Error::InvalidArgument;
  if (write_and_exec(prot)) return Error::AccessDenied;
  TRY(check_user_range(addr, len));
  const uint64_t end = addr + len;
  SpareMappings spares;
  for (;;) {
    size_t need = 0;
    {
      klib::SpinLockGuard guard(lock_);
      if (destroyed_) return Error::BadState;
      Mapping* first = first_ending_above_locked(addr);
      // Check: no hole, no mapping whose max_prot forbids prot.
      uint64_t cursor = addr;
      Mapping* last = nullptr;
      for (Mapping* m = first; m != nullptr && m->base < end; m = mappings_.next(m)) {
        if (m->base > cursor) return Error::NotFound;
        if (prot & ~m->max_prot) return Error::AccessDenied;
        cursor = m->end();
        last = m;
      }
      if (first == nullptr || cursor < end) return Error::NotFound;
      need = (first->base < addr ? 1 : 0) + (last->end() > end ? 1 : 0);
      if (need <= spares.count()) {
        if (quota() != nullptr) {
          for (size_t i = 0; i < need; ++i) {
            auto charged = quota()->charge(sizeof(Mapping));
            if (!charged.ok()) {
              for (size_t j = 0; j < i; ++j) quota()->uncharge(sizeof(Mapping));
              return charged.error();
            }
          }
        }
        FlushBatch batch(flush);
        for (Mapping* m = first; m != nullptr && m->base < end; m = mappings_.next(m)) {
          MemoryObject* object = m->vmo.get();
          klib::SpinLockGuard vmo_guard(object->lock_);
          // Split off the parts outside [addr, end): m keeps [lo, hi).
          const uint64_t lo = m->base > addr ? m->base : addr;
          const uint64_t hi = m->end() < end ? m->end() : end;
          if (hi < m->end()) split_tail_locked(m, hi, spares.take());
          if (lo > m->base) {
            Mapping* head = spares.take();
            head->base = m->base;
            head->size = lo - m->base;
            head->vmo = m->vmo;
            head->vmo_offset = m->vmo_offset;
            head->prot = m->prot;
            head->max_prot = m->max_prot;
            head->shared = m->shared;
            head->aspace = this;
            m->vmo_offset += lo - m->base;
            m->size -= lo - m->base;
            m->base = lo;
            object->add_mapping_locked(head);
            mappings_.insert(head);
          }
          m->prot = prot;
          klib::SpinLockGuard pt_guard(pt_lock_);
          if (prot == 0) {  // no access: no entries (faults come back as AccessViolation)
            batch.emit();  // (unmap may free tables: its own flush goes out first)
            (void)page_table_.unmap(m->base, m->size, flush);  // cannot fail: the range was checked
            continue;
          }
          // Present entries: Write only if they had it (COW pages stay
          // read-only), Execute as asked.
          const x86::TlbFlush sink = batch.sink();
          walk_user_leaves(page_table_.root(), m->base, m->end(), [&](uint64_t va, uint64_t e) {
            const bool writable = (e & x86::pte::kWritable) && (prot & Prot::Write);
            const unsigned want = leaf_prot(m, writable);
            if (prot_of_entry(e) != want) (void)page_table_.protect(va, mm::kPageSize, want, sink);
          });
        }
        batch.emit();
        return ktl::ok();
      }
    }
    TRY(spares.fill(need));
  }
}

AddressSpace::FaultResult AddressSpace::handle_fault(uint64_t addr, bool write, bool exec, bool user,
                                                     x86::TlbFlush flush) {
  if (addr < kUserBase || addr >= kUserEnd) return FaultResult::NotMapped;
  const uint64_t va = ktl::align_down(addr, mm::kPageSize);
  klib::SpinLockGuard guard(lock_);
  if (destroyed_) return FaultResult::NotMapped;
  Mapping* m = find_locked(addr);
  if (m == nullptr) return FaultResult::NotMapped;
  if (!(m->prot & Prot::Read) || (write && !(m->prot & Prot::Write)) || (exec && !(m->prot & Prot::Execute)) || (exec && !user))
    return FaultResult::AccessViolation;
  MemoryObject* object = m->vmo.get();
  klib::SpinLockGuard vmo_guard(object->lock_);
  const uint64_t page = (va - m->base + m->vmo_offset) >> mm::kPageShift;
  ktl::Result<mm::PhysAddr> frame = Error::NoMemory;
  bool writable;
  if (write) {
    frame = object->commit_for_write_locked(page, this, &flush);
    writable = true;
  } else {
    frame = object->commit_locked(page);
    writable = frame.ok() && (m->prot & Prot::Write) && !object->frame_shared(*frame);
  }
  if (!frame.ok()) return FaultResult::NoMemory;
  if (!install_locked(m, va, *frame, writable, flush).ok()) return FaultResult::NoMemory;
  return FaultResult::Resolved;
}

ktl::Result<ktl::RefPtr<AddressSpace>> AddressSpace::fork_cow(const x86::PageTable* kernel_half,
                                                              uint64_t aslr_seed, object::Quota* quota,
                                                              x86::TlbFlush flush) {
  struct Entry {
    MappingInfo info;
    ktl::RefPtr<MemoryObject> vmo;
  };
  // Snapshot the mapping list (allocating outside the lock, retrying if it
  // grew meanwhile), then clone each object range without holding lock_: the
  // child is a consistent copy of each mapping, taken one mapping at a time.
  Entry* entries = nullptr;
  size_t count = 0;
  for (;;) {
    const size_t want = mapping_count();
    auto* buf = static_cast<Entry*>(mm::kmalloc((want ? want : 1) * sizeof(Entry)));
    if (buf == nullptr) return Error::NoMemory;
    klib::SpinLockGuard guard(lock_);
    if (destroyed_) {
      mm::kfree(buf);
      return Error::BadState;
    }
    if (mappings_.size() > want) {
      mm::kfree(buf);
      continue;
    }
    for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
      new (&buf[count++])
          Entry{{m->base, m->size, m->vmo.get(), m->vmo_offset, m->prot, m->max_prot, m->shared}, m->vmo};
    }
    entries = buf;
    break;
  }
  auto result = [&]() -> ktl::Result<ktl::RefPtr<AddressSpace>> {
    ktl::RefPtr<AddressSpace> child = TRY(create(frames_, kernel_half, aslr_seed, quota));
    for (size_t i = 0; i < count; ++i) {
      const MappingInfo& info = entries[i].info;
      ktl::RefPtr<MemoryObject> object = entries[i].vmo;
      uint64_t offset = info.vmo_offset;
      if (!info.shared && !object->is_physical()) {
        object = TRY(object->clone_cow_impl(info.vmo_offset, info.size, quota, this, &flush));
        offset = 0;
      }
      MapOptions options;
      options.fixed_addr = info.base;
      options.shared = info.shared;
      options.max_prot = info.max_prot;
      TRY(child->map(std::move(object), offset, info.size, info.prot, options, {}));
    }
    return child;
  }();
  for (size_t i = 0; i < count; ++i) entries[i].~Entry();
  mm::kfree(entries);
  return result;
}

ktl::Result<x86::PageTable::Translation> AddressSpace::translate(uint64_t virt) const {
  klib::SpinLockGuard guard(pt_lock_);
  if (page_table_.root() == 0) return Error::BadState;
  return page_table_.translate(virt);
}

ktl::Result<AddressSpace::MappingInfo> AddressSpace::find_mapping(uint64_t addr) const {
  klib::SpinLockGuard guard(lock_);
  const Mapping* m = find_locked(addr);
  if (m == nullptr) return Error::NotFound;
  return MappingInfo{m->base, m->size, m->vmo.get(), m->vmo_offset, m->prot, m->max_prot, m->shared};
}

ktl::Result<ktl::RefPtr<MemoryObject>> AddressSpace::object_at(uint64_t addr, uint64_t* vmo_offset,
                                                                uint64_t* bytes_left) const {
  klib::SpinLockGuard guard(lock_);
  if (destroyed_) return Error::BadState;
  const Mapping* m = find_locked(addr);
  if (m == nullptr) return Error::NotFound;
  *vmo_offset = m->vmo_offset + (addr - m->base);
  *bytes_left = m->end() - addr;
  return m->vmo;  // a new reference, taken under the lock
}

size_t AddressSpace::mappings(MappingInfo* out, size_t max) const {
  klib::SpinLockGuard guard(lock_);
  size_t i = 0;
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m), ++i) {
    if (i < max)
      out[i] = MappingInfo{m->base, m->size, m->vmo.get(), m->vmo_offset, m->prot, m->max_prot, m->shared};
  }
  return i;
}

size_t AddressSpace::mapping_count() const {
  klib::SpinLockGuard guard(lock_);
  return mappings_.size();
}

uint64_t AddressSpace::mapped_bytes() const {
  klib::SpinLockGuard guard(lock_);
  return mapped_bytes_;
}

uint64_t AddressSpace::page_table_pages() const {
  klib::SpinLockGuard guard(pt_lock_);
  return page_table_.root() == 0 ? 0 : page_table_.count_table_pages();
}

void AddressSpace::vmo_unmap(uint64_t lo, uint64_t hi, const x86::TlbFlush* flush) {
  klib::SpinLockGuard guard(pt_lock_);
  if (page_table_.root() == 0) return;
  (void)page_table_.unmap(lo, hi - lo, flush != nullptr ? *flush : remote_flush_);
}

void AddressSpace::vmo_write_protect(uint64_t lo, uint64_t hi, const x86::TlbFlush* flush) {
  klib::SpinLockGuard guard(pt_lock_);
  FlushBatch batch(flush != nullptr ? *flush : remote_flush_);
  const x86::TlbFlush sink = batch.sink();
  walk_user_leaves(page_table_.root(), lo, hi, [&](uint64_t va, uint64_t e) {
    if (e & x86::pte::kWritable)
      (void)page_table_.protect(va, mm::kPageSize, prot_of_entry(e) & ~Prot::Write, sink);
  });
}

void AddressSpace::destroy() {
  MappingList removed;
  {
    klib::SpinLockGuard guard(lock_);
    if (destroyed_) return;
    destroyed_ = true;
    // Unlink every mapping from its object first, so that no object edits
    // our tables any more; the entries themselves go with the tables.
    for (Mapping* m = mappings_.pop_front(); m != nullptr; m = mappings_.pop_front()) {
      MemoryObject* object = m->vmo.get();
      {
        klib::SpinLockGuard vmo_guard(object->lock_);
        object->remove_mapping_locked(m);
      }
      removed.push_back(m);
    }
    mapped_bytes_ = 0;
    klib::SpinLockGuard pt_guard(pt_lock_);
    page_table_.destroy();
  }
  for (Mapping* m = removed.pop_front(); m != nullptr; m = removed.pop_front()) free_mapping(m);
}

bool AddressSpace::check_invariants() const {
  klib::SpinLockGuard guard(lock_);
  if (destroyed_) return mappings_.empty() && mapped_bytes_ == 0 && page_table_.root() == 0;
  if (!mappings_.check()) return false;  // balanced, linked, in key order
  uint64_t prev_end = kUserBase;
  uint64_t bytes = 0;
  uint64_t leaves_in_mappings = 0;
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
    if (m->aspace != this || !m->vmo) return false;
    if (!ktl::is_aligned(m->base, mm::kPageSize) || !ktl::is_aligned(m->size, mm::kPageSize) || m->size == 0)
      return false;
    if (m->base < prev_end || m->size > kUserEnd - m->base) return false;  // sorted, disjoint, inside
    if (!valid_prot(m->prot) || !valid_max_prot(m->max_prot) || write_and_exec(m->prot) || (m->prot & ~m->max_prot))
      return false;
    prev_end = m->end();
    bytes += m->size;

    const MemoryObject* object = m->vmo.get();
    klib::SpinLockGuard vmo_guard(object->lock_);
    if (!ktl::is_aligned(m->vmo_offset, mm::kPageSize) || m->vmo_offset > object->size() ||
        m->size > object->size() - m->vmo_offset)
      return false;
    bool listed = false;
    for (Mapping* o = object->mappings_.front(); o != nullptr; o = object->mappings_.next(o))
      listed |= o == m;
    if (!listed) return false;

    klib::SpinLockGuard pt_guard(pt_lock_);
    bool ok = true;
    const bool large_ok =
        walk_user_leaves(page_table_.root(), m->base, m->end(), [&](uint64_t va, uint64_t e) {
          ++leaves_in_mappings;
          if (m->prot == 0) ok = false;  // a no-access mapping has no entries
          mm::PhysAddr frame;
          if (!object->peek_locked((va - m->base + m->vmo_offset) >> mm::kPageShift, frame)) {
            ok = false;  // an entry for a page the object does not hold
            return;
          }
          if ((e & x86::pte::kAddrMask) != frame || !(e & x86::pte::kUser)) ok = false;
          if ((e & x86::pte::kWritable) && (!(m->prot & Prot::Write) || object->frame_shared(frame)))
            ok = false;
          if (!(e & x86::pte::kNoExecute) && !(m->prot & Prot::Execute)) ok = false;
          if (static_cast<bool>(e & x86::pte::kCacheDisable) != object->is_uncached()) ok = false;
        });
    if (!ok || !large_ok) return false;
  }
  if (bytes != mapped_bytes_) return false;
  // No entry outside the mappings.
  klib::SpinLockGuard pt_guard(pt_lock_);
  uint64_t all_leaves = 0;
  const bool large_ok =
      walk_user_leaves(page_table_.root(), 0, kLowerHalfEnd, [&](uint64_t, uint64_t) { ++all_leaves; });
  return large_ok && all_leaves == leaves_in_mappings;
}

}  // namespace vm
