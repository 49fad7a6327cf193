// object/handle_table.cc — the handle table (see handle_table.h for the
// encoding, the locking rules and handle counting).
#include <object/handle_table.h>

#include <mm/heap.h>

#include <utility>

namespace object {

namespace {


constexpr unsigned kGenerationShift = HandleTable::kGenerationShift;

Handle encode(uint32_t index, uint16_t generation) {
  return (Handle(generation) << kGenerationShift) | (index + 1);
}

size_t clamp_max_slots(size_t max_slots) {
  if (max_slots == 0) return 1;
  return max_slots < HandleTable::kMaxSlots ? max_slots : HandleTable::kMaxSlots;
}

}  // namespace

HandleTable::HandleTable(size_t max_slots) : max_slots_(clamp_max_slots(max_slots)) {}

HandleTable::~HandleTable() {
  clear();
  mm::kfree(slots_);
  if (quota_ && slots_ != nullptr) quota_->uncharge(capacity_ * sizeof(Slot));
}

HandleTable::Slot* HandleTable::find_locked(Handle h) const {
  const uint32_t low = h & HandleTable::kIndexMask;
  if (low == 0 || low > capacity_) return nullptr;
  Slot* slot = &slots_[low - 1];
  if (slot->object == nullptr || slot->generation != (h >> kGenerationShift)) return nullptr;
  return slot;
}

Handle HandleTable::install_locked(KernelObject* obj, Rights rights, uint64_t badge) {
  const uint32_t index = free_head_;
  Slot& slot = slots_[index];
  free_head_ = slot.next_free;
  if (free_head_ == kNoSlot) free_tail_ = kNoSlot;
  --free_count_;
  ++count_;
  slot.object = obj;
  slot.rights = rights;
  slot.badge = badge;
  slot.next_free = kNoSlot;
  return encode(index, slot.generation);
}

KernelObject* HandleTable::vacate_locked(uint32_t index) {
  Slot& slot = slots_[index];
  KernelObject* obj = slot.object;
  slot.object = nullptr;
  slot.rights = kRightNone;
  slot.badge = 0;
  ++slot.generation;  // wraps at 16 bits, see the encoding
  slot.next_free = kNoSlot;
  if (free_tail_ == kNoSlot) {
    free_head_ = index;
  } else {
    slots_[free_tail_].next_free = index;
  }
  free_tail_ = index;
  ++free_count_;
  --count_;
  return obj;
}

template <typename Validate, typename Commit>
ktl::Result<void> HandleTable::with_free_slots(size_t n, Validate&& validate, Commit&& commit) {
  for (;;) {
    size_t seen_capacity;
    size_t new_capacity;
    {
      klib::SpinLockGuard guard(lock_);
      if (closed_) return ktl::Error::BadState;
      TRY(validate());
      if (free_count_ >= n) {
        commit();
        return ktl::ok();
      }
      const size_t needed = capacity_ + (n - free_count_);
      if (needed > max_slots_) return ktl::Error::NoSpace;
      seen_capacity = capacity_;
      new_capacity = capacity_ == 0 ? kInitialSlots : capacity_ * 2;
      if (new_capacity < needed) new_capacity = needed;
      if (new_capacity > max_slots_) new_capacity = max_slots_;
    }

    // Allocate with the lock released, then swap the array in unless another
    // thread grew the table meanwhile (then retry with the bigger table).
    // The array is one object: its first allocation charges it, a growth
    // only the extra bytes (returned if another thread grew it first).
    const uint64_t extra = (new_capacity - seen_capacity) * sizeof(Slot);
    auto uncharge_extra = [&] {
      if (!quota_) return;
      if (seen_capacity == 0) {
        quota_->uncharge(extra);
      } else {
        quota_->uncharge_growth(extra);
      }
    };
    if (quota_) TRY(seen_capacity == 0 ? quota_->charge(extra) : quota_->charge_growth(extra));
    Slot* fresh = static_cast<Slot*>(mm::kmalloc(new_capacity * sizeof(Slot)));
    if (fresh == nullptr) {
      uncharge_extra();
      return ktl::Error::NoMemory;
    }
    bool swapped = false;
    Slot* unused = fresh;
    {
      klib::SpinLockGuard guard(lock_);
      if (capacity_ == seen_capacity) {
        for (size_t i = 0; i < capacity_; ++i) fresh[i] = slots_[i];
        for (size_t i = capacity_; i < new_capacity; ++i) {
          fresh[i] = Slot{nullptr, 0, kRightNone, 0, i + 1 < new_capacity ? uint32_t(i + 1) : kNoSlot};
        }
        if (free_tail_ == kNoSlot) {
          free_head_ = uint32_t(capacity_);
        } else {
          fresh[free_tail_].next_free = uint32_t(capacity_);
        }
        free_tail_ = uint32_t(new_capacity - 1);
        free_count_ += new_capacity - capacity_;
        unused = slots_;
        slots_ = fresh;
        capacity_ = new_capacity;
        swapped = true;
      }
    }
    mm::kfree(unused);
    if (!swapped) uncharge_extra();
  }
}

ktl::Result<Handle> HandleTable::add(ktl::RefPtr<KernelObject> obj, Rights rights, uint64_t badge) {
  if (!obj || !rights_subset(rights, kRightAll)) return ktl::Error::InvalidArgument;
  Handle out = kInvalidHandle;
  TRY(with_free_slots(
      1, [] { return ktl::ok(); },
      [&] {
        obj->on_handle_added();  // before the handle is visible: no transient zero
        out = install_locked(obj.leak_ref(), rights, badge);
      }));
  return out;
}

ktl::Result<ktl::RefPtr<KernelObject>> HandleTable::lookup(Handle h, bool check_type, ObjectType type,
                                                           Rights required, uint64_t* badge_out) const {
  klib::SpinLockGuard guard(lock_);
  const Slot* slot = find_locked(h);
  if (slot == nullptr) return ktl::Error::BadHandle;
  if (check_type && slot->object->type() != type) return ktl::Error::WrongType;
  if (!rights_subset(required, slot->rights)) return ktl::Error::AccessDenied;
  if (badge_out != nullptr) *badge_out = slot->badge;
  return ktl::RefPtr<KernelObject>(slot->object);  // a new reference
}

ktl::Result<HandleEntry> HandleTable::get_entry(Handle h) const {
  klib::SpinLockGuard guard(lock_);
  const Slot* slot = find_locked(h);
  if (slot == nullptr) return ktl::Error::BadHandle;
  return HandleEntry{ktl::RefPtr<KernelObject>(slot->object), slot->rights, slot->badge};
}

ktl::Result<HandleEntry> HandleTable::remove(Handle h) {
  HandleEntry entry;
  {
    klib::SpinLockGuard guard(lock_);
    Slot* slot = find_locked(h);
    if (slot == nullptr) return ktl::Error::BadHandle;
    entry.rights = slot->rights;
    entry.badge = slot->badge;
    entry.object = ktl::adopt_ref(vacate_locked(uint32_t(slot - slots_)));
  }
  entry.object->on_handle_removed();  // may run on_zero_handles(); the entry keeps it alive
  return entry;
}

ktl::Result<Handle> HandleTable::duplicate(Handle h, Rights rights) { return copy(h, rights, 0); }

ktl::Result<Handle> HandleTable::mint(Handle h, Rights rights, uint64_t badge) {
  if (badge == 0) return ktl::Error::InvalidArgument;
  return copy(h, rights, badge);
}

// duplicate (badge 0: keep the source's) and mint (a badge for an unbadged
// source): needs kRightDuplicate; `rights` must be a subset of the source's.
ktl::Result<Handle> HandleTable::copy(Handle h, Rights rights, uint64_t badge) {
  Handle out = kInvalidHandle;
  const Slot* source = nullptr;
  TRY(with_free_slots(
      1,
      [&]() -> ktl::Result<void> {
        source = find_locked(h);
        if (source == nullptr) return ktl::Error::BadHandle;
        if (!(source->rights & kRightDuplicate) || !rights_subset(rights, source->rights) ||
            (badge != 0 && source->badge != 0)) {
          return ktl::Error::AccessDenied;
        }
        return ktl::ok();
      },
      [&] {
        KernelObject* obj = source->object;
        obj->ref();
        obj->on_handle_added();
        out = install_locked(obj, rights, badge != 0 ? badge : source->badge);
      }));
  return out;
}

ktl::Result<Handle> HandleTable::replace(Handle h, Rights rights) {
  klib::SpinLockGuard guard(lock_);
  Slot* slot = find_locked(h);
  if (slot == nullptr) return ktl::Error::BadHandle;
  if (!rights_subset(rights, slot->rights)) return ktl::Error::AccessDenied;
  // Same slot, same reference, same handle count; only the value changes.
  slot->rights = rights;
  ++slot->generation;
  return encode(uint32_t(slot - slots_), slot->generation);
}

ktl::Result<HandleEntry> HandleTable::take_for_transfer(Handle h) {
  HandleEntry entry;
  TRY(take_many_for_transfer(std::span<const Handle>(&h, 1), std::span<HandleEntry>(&entry, 1)));
  return entry;
}

ktl::Result<void> HandleTable::take_many_for_transfer(std::span<const Handle> hs,
                                                      std::span<HandleEntry> out) {
  if (out.size() < hs.size()) return ktl::Error::InvalidArgument;
  for (size_t i = 0; i < hs.size(); ++i) {
    if (out[i].object) return ktl::Error::InvalidArgument;  // would be dropped under the lock
    for (size_t j = i + 1; j < hs.size(); ++j) {
      if (hs[i] == hs[j]) return ktl::Error::InvalidArgument;
    }
  }
  klib::SpinLockGuard guard(lock_);
  // Decode: check every handle before changing anything.
  for (Handle h : hs) {
    const Slot* slot = find_locked(h);
    if (slot == nullptr) return ktl::Error::BadHandle;
    if (!(slot->rights & kRightTransfer)) return ktl::Error::AccessDenied;
  }
  // Invoke: cannot fail. Handle counts stay: the handles are in flight.
  for (size_t i = 0; i < hs.size(); ++i) {
    Slot* slot = find_locked(hs[i]);
    out[i].rights = slot->rights;
    out[i].badge = slot->badge;
    out[i].object = ktl::adopt_ref(vacate_locked(uint32_t(slot - slots_)));
  }
  return ktl::ok();
}

ktl::Result<void> HandleTable::add_many(std::span<HandleEntry> entries, std::span<Handle> out) {
  if (out.size() < entries.size()) return ktl::Error::InvalidArgument;
  for (const HandleEntry& entry : entries) {
    if (!entry.object || !rights_subset(entry.rights, kRightAll)) return ktl::Error::InvalidArgument;
  }
  return with_free_slots(
      entries.size(), [] { return ktl::ok(); },
      [&] {
        for (size_t i = 0; i < entries.size(); ++i) {
          out[i] = install_locked(entries[i].object.leak_ref(), entries[i].rights, entries[i].badge);
        }
      });
}

void HandleTable::discard_transferred(std::span<HandleEntry> entries) {
  for (HandleEntry& entry : entries) {
    if (!entry.object) continue;
    entry.object->on_handle_removed();
    entry.object.reset();
  }
}

void HandleTable::clear() {
  // Batches bound the time spent with the lock held and the stack used.
  constexpr size_t kBatch = 32;
  size_t next = 0;  // slots below `next` have been emptied already
  {
    klib::SpinLockGuard guard(lock_);
    closed_ = true;
  }
  for (;;) {
    KernelObject* batch[kBatch];
    size_t n = 0;
    {
      klib::SpinLockGuard guard(lock_);
      for (; next < capacity_ && n < kBatch; ++next) {
        if (slots_[next].object != nullptr) batch[n++] = vacate_locked(uint32_t(next));
      }
    }
    if (n == 0) return;
    for (size_t i = 0; i < n; ++i) {
      ktl::RefPtr<KernelObject> obj = ktl::adopt_ref(batch[i]);
      obj->on_handle_removed();
    }
  }
}

size_t HandleTable::count() const {
  klib::SpinLockGuard guard(lock_);
  return count_;
}

size_t HandleTable::capacity() const {
  klib::SpinLockGuard guard(lock_);
  return capacity_;
}

}  // namespace object
