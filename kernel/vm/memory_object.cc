// vm/memory_object.cc — MemoryObject: lazy anonymous pages, physical ranges,
// copy-on-write clones through per-frame reference counts.
//
// Frame::refcount of a frame held by MemoryObjects counts the slots that point
// to it. It is changed only with atomic operations, by holders of different
// object locks: clone_cow() raises it (under the parent's lock, so it cannot
// go 1 -> 2 while the only owner looks at it), release_frame() lowers it and
// frees the frame at zero. Two objects breaking COW on one frame at once both
// copy it; the second decrement frees the original.
#include <vm/memory_object.h>

#include <ktl/align.h>
#include <vm/address_space.h>

#include <new>

namespace vm {
namespace {

using ktl::Error;

uint32_t* refcount_of(mm::FrameAllocator& frames, mm::PhysAddr frame) {
  return &frames.frame(frame)->refcount;
}

void zero_page(mm::PhysAddr frame) { __builtin_memset(mm::phys_to_virt(frame), 0, mm::kPageSize); }

}  // namespace

ktl::Result<ktl::RefPtr<MemoryObject>> MemoryObject::create(mm::FrameAllocator& frames, uint64_t size_bytes,
                                                            object::Quota* quota) {
  if (size_bytes == 0 || size_bytes > kMaxSize) return Error::InvalidArgument;
  const uint64_t size = ktl::align_up(size_bytes, mm::kPageSize);
  const uint64_t pages = size >> mm::kPageShift;
  const uint64_t dir_entries = (pages + kSlotsPerLeaf - 1) / kSlotsPerLeaf;
  const uint64_t dir_bytes = dir_entries * sizeof(uint64_t*);
  const uint64_t charged = sizeof(MemoryObject) + dir_bytes;
  if (quota != nullptr) TRY(quota->charge(charged));
  auto** dir = static_cast<uint64_t**>(mm::kzalloc(dir_bytes));
  if (dir == nullptr) {
    if (quota != nullptr) quota->uncharge(charged);
    return Error::NoMemory;
  }
  auto* vmo = new (std::nothrow) MemoryObject(&frames, size, dir, dir_entries, 0, false, quota, charged);
  if (vmo == nullptr) {
    mm::kfree(dir);
    if (quota != nullptr) quota->uncharge(charged);
    return Error::NoMemory;
  }
  return ktl::adopt_ref(vmo);
}

ktl::Result<ktl::RefPtr<MemoryObject>> MemoryObject::create_physical(mm::PhysAddr base, uint64_t size,
                                                                     bool uncached, object::Quota* quota) {
  if (!ktl::is_aligned(base, mm::kPageSize)) return Error::Misaligned;
  if (size == 0 || size > kMaxSize) return Error::InvalidArgument;
  size = ktl::align_up(size, mm::kPageSize);
  uint64_t end;
  if (!ktl::checked_add(base, size, end) || end > (1ull << 52)) return Error::OutOfRange;
  const uint64_t charged = sizeof(MemoryObject);
  if (quota != nullptr) TRY(quota->charge(charged));
  auto* vmo = new (std::nothrow) MemoryObject(nullptr, size, nullptr, 0, base, uncached, quota, charged);
  if (vmo == nullptr) {
    if (quota != nullptr) quota->uncharge(charged);
    return Error::NoMemory;
  }
  return ktl::adopt_ref(vmo);
}

MemoryObject::MemoryObject(mm::FrameAllocator* frames, uint64_t size, uint64_t** dir, uint64_t dir_entries,
                           mm::PhysAddr phys_base, bool uncached, object::Quota* quota, uint64_t charged)
    : KernelObject(kType, quota, charged),
      frames_(frames),
      size_(size),
      phys_base_(phys_base),
      uncached_(uncached),
      dir_(dir),
      dir_entries_(dir_entries) {}

MemoryObject::~MemoryObject() {
  // No mapping remains: each holds a reference. Nobody else can see us.
  if (dir_ == nullptr) return;
  for (uint64_t i = 0; i < dir_entries_; ++i) {
    uint64_t* leaf = dir_[i];
    if (leaf == nullptr) continue;
    for (uint64_t j = 0; j < kSlotsPerLeaf; ++j) {
      if (!(leaf[j] & kSlotCommitted)) continue;
      release_frame(leaf[j] & ~kSlotCommitted);
      uncharge_page();
    }
    frames_->free_page(mm::virt_to_phys(leaf));
    uncharge_page();
  }
  mm::kfree(dir_);
}

ktl::Result<void> MemoryObject::charge_page() {
  if (quota() != nullptr) return quota()->charge(mm::kPageSize);
  return ktl::ok();
}

void MemoryObject::uncharge_page() {
  if (quota() != nullptr) quota()->uncharge(mm::kPageSize);
}

void MemoryObject::release_frame(mm::PhysAddr frame) {
  if (__atomic_sub_fetch(refcount_of(*frames_, frame), 1, __ATOMIC_ACQ_REL) == 0) frames_->free_page(frame);
}

bool MemoryObject::frame_shared(mm::PhysAddr frame) const {
  if (is_physical()) return false;
  return __atomic_load_n(refcount_of(*frames_, frame), __ATOMIC_ACQUIRE) > 1;
}

// A zeroed frame charged to the quota (charge refunded if none is free).
ktl::Result<mm::PhysAddr> MemoryObject::alloc_charged_zeroed_page() {
  TRY(charge_page());
  auto frame = frames_->alloc_page();
  if (!frame.ok()) {
    uncharge_page();
    return Error::NoMemory;
  }
  zero_page(*frame);
  return *frame;
}

uint64_t* MemoryObject::find_slot_locked(uint64_t page) const {
  uint64_t* leaf = dir_[page / kSlotsPerLeaf];
  return leaf == nullptr ? nullptr : &leaf[page % kSlotsPerLeaf];
}

ktl::Result<uint64_t*> MemoryObject::slot_locked(uint64_t page) {
  uint64_t*& leaf = dir_[page / kSlotsPerLeaf];
  if (leaf == nullptr) {
    mm::PhysAddr frame = TRY(alloc_charged_zeroed_page());
    leaf = mm::phys_to_ptr<uint64_t>(frame);
    ++leaves_;
  }
  return &leaf[page % kSlotsPerLeaf];
}

bool MemoryObject::peek_locked(uint64_t page, mm::PhysAddr& frame) const {
  if (is_physical()) {
    frame = phys_base_ + page * mm::kPageSize;
    return true;
  }
  const uint64_t* slot = find_slot_locked(page);
  if (slot == nullptr || !(*slot & kSlotCommitted)) return false;
  frame = *slot & ~kSlotCommitted;
  return true;
}

ktl::Result<mm::PhysAddr> MemoryObject::commit_locked(uint64_t page) {
  if (page >= page_count()) return Error::OutOfRange;
  if (is_physical()) return phys_base_ + page * mm::kPageSize;
  uint64_t* slot = TRY(slot_locked(page));
  if (*slot & kSlotCommitted) return *slot & ~kSlotCommitted;
  mm::PhysAddr frame = TRY(alloc_charged_zeroed_page());
  __atomic_store_n(refcount_of(*frames_, frame), 1, __ATOMIC_RELEASE);
  *slot = frame | kSlotCommitted;
  ++committed_;
  return frame;
}

ktl::Result<mm::PhysAddr> MemoryObject::commit_for_write_locked(uint64_t page, const AddressSpace* caller,
                                                                const x86::TlbFlush* caller_flush) {
  const mm::PhysAddr old = TRY(commit_locked(page));
  if (!frame_shared(old)) return old;  // fresh, or the other sharers are gone: take it over
  auto copy = frames_->alloc_page();
  if (!copy.ok()) return Error::NoMemory;
  __builtin_memcpy(mm::phys_to_virt(*copy), mm::phys_to_virt(old), mm::kPageSize);
  __atomic_store_n(refcount_of(*frames_, *copy), 1, __ATOMIC_RELEASE);
  *find_slot_locked(page) = *copy | kSlotCommitted;
  // Our mappings must stop showing the old frame before we drop our reference
  // (the other sharer may free it right after).
  unmap_page_everywhere_locked(page, caller, caller_flush);
  release_frame(old);
  return *copy;
}

void MemoryObject::unmap_page_everywhere_locked(uint64_t page, const AddressSpace* caller,
                                                const x86::TlbFlush* caller_flush) {
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
    if (!m->covers_page(page)) continue;
    const uint64_t va = m->va_of(page);
    m->aspace->vmo_unmap(va, va + mm::kPageSize, m->aspace == caller ? caller_flush : nullptr);
  }
}

ktl::Result<mm::PhysAddr> MemoryObject::commit_page(uint64_t page_index) {
  klib::SpinLockGuard guard(lock_);
  return commit_locked(page_index);
}

ktl::Result<mm::PhysAddr> MemoryObject::lookup_page(uint64_t page_index, bool for_write) {
  klib::SpinLockGuard guard(lock_);
  if (!for_write) return commit_locked(page_index);
  return commit_for_write_locked(page_index, nullptr, nullptr);
}

ktl::Result<void> MemoryObject::read(uint64_t offset, void* dst, uint64_t len) const {
  if (is_physical()) return Error::Unsupported;
  uint64_t end;
  if (!ktl::checked_add(offset, len, end) || end > size_) return Error::OutOfRange;
  auto* out = static_cast<uint8_t*>(dst);
  klib::SpinLockGuard guard(lock_);
  while (len > 0) {
    const uint64_t in_page = offset & (mm::kPageSize - 1);
    const uint64_t n = len < mm::kPageSize - in_page ? len : mm::kPageSize - in_page;
    mm::PhysAddr frame;
    if (peek_locked(offset >> mm::kPageShift, frame)) {
      __builtin_memcpy(out, mm::phys_to_ptr<uint8_t>(frame) + in_page, n);
    } else {
      __builtin_memset(out, 0, n);
    }
    out += n;
    offset += n;
    len -= n;
  }
  return ktl::ok();
}

ktl::Result<void> MemoryObject::write(uint64_t offset, const void* src, uint64_t len) {
  if (is_physical()) return Error::Unsupported;
  uint64_t end;
  if (!ktl::checked_add(offset, len, end) || end > size_) return Error::OutOfRange;
  if (len == 0) return ktl::ok();
  klib::SpinLockGuard guard(lock_);
  // Prepare every page first, so that a failure leaves the contents unchanged.
  for (uint64_t page = offset >> mm::kPageShift; page <= (end - 1) >> mm::kPageShift; ++page) {
    TRY(commit_for_write_locked(page, nullptr, nullptr));
  }
  const auto* in = static_cast<const uint8_t*>(src);
  while (len > 0) {
    const uint64_t in_page = offset & (mm::kPageSize - 1);
    const uint64_t n = len < mm::kPageSize - in_page ? len : mm::kPageSize - in_page;
    mm::PhysAddr frame = 0;
    peek_locked(offset >> mm::kPageShift, frame);  // committed above
    __builtin_memcpy(mm::phys_to_ptr<uint8_t>(frame) + in_page, in, n);
    in += n;
    offset += n;
    len -= n;
  }
  return ktl::ok();
}

ktl::Result<ktl::RefPtr<MemoryObject>> MemoryObject::clone_cow(uint64_t offset, uint64_t size) {
  return clone_cow_impl(offset, size, quota(), nullptr, nullptr);
}

ktl::Result<ktl::RefPtr<MemoryObject>> MemoryObject::clone_cow(uint64_t offset, uint64_t size,
                                                               object::Quota* quota) {
  return clone_cow_impl(offset, size, quota, nullptr, nullptr);
}

ktl::Result<ktl::RefPtr<MemoryObject>> MemoryObject::clone_cow_impl(uint64_t offset, uint64_t size,
                                                                    object::Quota* quota,
                                                                    const AddressSpace* caller,
                                                                    const x86::TlbFlush* caller_flush) {
  if (is_physical()) return Error::Unsupported;
  if (!ktl::is_aligned(offset, mm::kPageSize)) return Error::Misaligned;
  if (size == 0 || size > kMaxSize) return Error::InvalidArgument;
  if (offset > size_) return Error::OutOfRange;
  // Declared before the guard, so that on error it is destroyed (dropping the
  // frame references it took) after our lock is released.
  ktl::RefPtr<MemoryObject> child = TRY(create(*frames_, size, quota));

  klib::SpinLockGuard guard(lock_);
  const uint64_t first = offset >> mm::kPageShift;
  const uint64_t count =
      child->page_count() < page_count() - first ? child->page_count() : page_count() - first;
  bool shared_any = false;
  // The child is not published yet: its lock is not needed (and not taken,
  // so two object locks are never held together).
  for (uint64_t i = 0; i < count; ++i) {
    mm::PhysAddr frame;
    if (!peek_locked(first + i, frame)) continue;
    uint64_t* slot = TRY(child->slot_locked(i));
    TRY(child->charge_page());
    __atomic_add_fetch(refcount_of(*frames_, frame), 1, __ATOMIC_ACQ_REL);
    *slot = frame | kSlotCommitted;
    ++child->committed_;
    shared_any = true;
  }
  if (shared_any) {
    // Our writable entries of the now shared pages must fault on the next write.
    const uint64_t lo = offset;
    const uint64_t hi = offset + count * mm::kPageSize;
    for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
      const uint64_t m_lo = m->vmo_offset > lo ? m->vmo_offset : lo;
      const uint64_t m_hi = m->vmo_offset + m->size < hi ? m->vmo_offset + m->size : hi;
      if (m_lo >= m_hi) continue;
      m->aspace->vmo_write_protect(m->base + (m_lo - m->vmo_offset), m->base + (m_hi - m->vmo_offset),
                                   m->aspace == caller ? caller_flush : nullptr);
    }
  }
  return child;
}

ktl::Result<void> MemoryObject::decommit(uint64_t offset, uint64_t size) {
  if (is_physical()) return Error::Unsupported;
  uint64_t end;
  if (!ktl::checked_add(offset, size, end) || end > size_) return Error::OutOfRange;
  if (size == 0) return ktl::ok();
  const uint64_t lo = ktl::align_down(offset, mm::kPageSize);
  const uint64_t hi = ktl::align_up(end, mm::kPageSize);  // <= size_: size_ is page-aligned
  klib::SpinLockGuard guard(lock_);
  // First the entries (no fault can re-create them: faults need our lock),
  // then the frames.
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
    const uint64_t m_lo = m->vmo_offset > lo ? m->vmo_offset : lo;
    const uint64_t m_hi = m->vmo_offset + m->size < hi ? m->vmo_offset + m->size : hi;
    if (m_lo >= m_hi) continue;
    m->aspace->vmo_unmap(m->base + (m_lo - m->vmo_offset), m->base + (m_hi - m->vmo_offset), nullptr);
  }
  for (uint64_t page = lo >> mm::kPageShift; page < hi >> mm::kPageShift; ++page) {
    uint64_t* slot = find_slot_locked(page);
    if (slot == nullptr || !(*slot & kSlotCommitted)) continue;
    const mm::PhysAddr frame = *slot & ~kSlotCommitted;
    *slot = 0;
    --committed_;
    release_frame(frame);
    uncharge_page();
  }
  return ktl::ok();
}

uint64_t MemoryObject::committed_pages() const {
  klib::SpinLockGuard guard(lock_);
  return committed_;
}

size_t MemoryObject::mapping_count() const {
  klib::SpinLockGuard guard(lock_);
  return mappings_.size();
}

bool MemoryObject::check_invariants() const {
  klib::SpinLockGuard guard(lock_);
  if (!ktl::is_aligned(size_, mm::kPageSize) || size_ == 0 || size_ > kMaxSize) return false;
  for (Mapping* m = mappings_.front(); m != nullptr; m = mappings_.next(m)) {
    if (m->vmo.get() != this || m->aspace == nullptr) return false;
    if (!ktl::is_aligned(m->vmo_offset, mm::kPageSize) || !ktl::is_aligned(m->size, mm::kPageSize))
      return false;
    if (m->size == 0 || m->vmo_offset > size_ || m->size > size_ - m->vmo_offset) return false;
  }
  if (is_physical()) return dir_ == nullptr && committed_ == 0 && leaves_ == 0;
  if (dir_ == nullptr || dir_entries_ != (page_count() + kSlotsPerLeaf - 1) / kSlotsPerLeaf) return false;
  uint64_t leaves = 0, committed = 0;
  for (uint64_t i = 0; i < dir_entries_; ++i) {
    const uint64_t* leaf = dir_[i];
    if (leaf == nullptr) continue;
    ++leaves;
    const mm::Frame* lf = frames_->frame(mm::virt_to_phys(leaf));
    if (lf == nullptr || !(lf->flags & mm::Frame::kAllocated) || lf->order != 0) return false;
    for (uint64_t j = 0; j < kSlotsPerLeaf; ++j) {
      const uint64_t slot = leaf[j];
      if (slot == 0) continue;
      if ((slot & (mm::kPageSize - 1)) != kSlotCommitted) return false;
      if (i * kSlotsPerLeaf + j >= page_count()) return false;  // past the end
      const mm::Frame* f = frames_->frame(slot & ~kSlotCommitted);
      if (f == nullptr || !(f->flags & mm::Frame::kAllocated) || f->order != 0) return false;
      if (__atomic_load_n(&f->refcount, __ATOMIC_ACQUIRE) == 0) return false;
      ++committed;
    }
  }
  return leaves == leaves_ && committed == committed_;
}

}  // namespace vm
