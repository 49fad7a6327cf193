// object/handle_table.h — a process's handle table: Handle -> {object, rights, badge}.
//
// A process names kernel objects only through handles. An entry is immutable
// once installed: rights change only by making a new handle (duplicate, mint,
// replace, transfer), and only ever to a subset. Syscalls look a handle up and
// check its type and rights in one step with get<T>().
//
// Handle encoding (32 bits, never 0):
//   bits  0..15  slot index + 1   (1..65535; 0 would be kInvalidHandle)
//   bits 16..31  slot generation  (bumped each time a handle in the slot dies:
//                                  remove, transfer, replace, clear)
// so a closed handle stays BadHandle after its slot is reused, until the same
// slot has been reused 65536 times. Free slots are reused oldest-first (FIFO),
// which spreads reuse over the table and delays that wrap further.
//
// Slots live in one array from mm::kmalloc that grows geometrically (16, 32,
// ... up to max_slots) and never shrinks; growing allocates and frees with the
// table lock released, then swaps the array in. With a quota (set_quota), the
// array is charged as one object of its size: a growth charges the new array
// before allocating it and returns the old one's charge after the swap, so a
// process whose quota is spent gets QuotaExceeded, not a bigger table.
//
// Locking: one klib::SpinLock per table guards the slots. It is a leaf lock:
// nothing under it allocates, takes another lock, drops a reference or runs an
// object hook; objects leave the table under the lock and their references are
// dropped (and hooks run) after it is released, so closing a handle may
// destroy an object safely.
//
// Handle counts: every handle in a table counts in its object's
// handle_count(). Entries taken out for transfer (take_for_transfer,
// take_many_for_transfer) are handles in flight: they still count, so that an
// endpoint travelling in a message does not look closed to its peer. They must
// end in add_many() on the receiving table (which does not count them again)
// or in discard_transferred() (which closes them). Entries returned by
// remove() are closed handles: they no longer count.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <object/object.h>
#include <object/quota.h>
#include <object/rights.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace object {

using Handle = uint32_t;
inline constexpr Handle kInvalidHandle = 0;

struct HandleEntry {
  ktl::RefPtr<KernelObject> object;
  Rights rights = kRightNone;
  uint64_t badge = 0;  // 0 = unbadged; servers tell clients apart by it
};

class HandleTable {
 public:
  static constexpr size_t kDefaultMaxSlots = 4096;
  static constexpr size_t kMaxSlots = 65535;  // the encoding's 16-bit index
  static constexpr size_t kInitialSlots = 16;
  // A handle value: the slot's generation in the high 16 bits, its index + 1
  // in the low 16 (0 is never a handle).
  static constexpr Handle kIndexMask = 0xffff;
  static constexpr unsigned kGenerationShift = 16;

  // A table that will hold at most `max_slots` handles (clamped to
  // [1, kMaxSlots]). Allocates nothing until the first add.
  explicit HandleTable(size_t max_slots = kDefaultMaxSlots);
  // Charges the slot array to `quota` from now on. Call before the first handle
  // is added (the owner's constructor).
  void set_quota(ktl::RefPtr<Quota> quota) { quota_ = static_cast<ktl::RefPtr<Quota>&&>(quota); }
  // Closes every handle (as clear()) and frees the slot array.
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  // Installs a new handle to `obj` (counted in its handle_count()). On error
  // `obj` is dropped, so pass a copy to keep the object.
  // Errors: InvalidArgument if `obj` is null or `rights` has bits outside
  // kRightAll; NoSpace if the table holds max_slots handles; NoMemory if
  // growing the slot array failed.
  ktl::Result<Handle> add(ktl::RefPtr<KernelObject> obj, Rights rights, uint64_t badge = 0);

  // Looks `h` up and checks it in one step: the object as a T, with a new
  // reference, and its badge in `*badge_out` if not null. T = KernelObject
  // accepts any type. Errors, in this order: BadHandle (no such live handle),
  // WrongType (the object is not a T), AccessDenied (a right in `required` is
  // missing).
  template <typename T>
  ktl::Result<ktl::RefPtr<T>> get(Handle h, Rights required, uint64_t* badge_out = nullptr) const {
    if constexpr (std::is_same_v<T, KernelObject>) {
      return lookup(h, false, ObjectType::Test, required, badge_out);
    } else {
      ktl::RefPtr<KernelObject> obj = TRY(lookup(h, true, T::kType, required, badge_out));
      return ktl::adopt_ref(static_cast<T*>(obj.leak_ref()));
    }
  }

  // get() for hot paths (the IPC fast path): `h`'s object as a T with a new
  // reference that the caller drops (ktl::adopt_ref), and its badge in
  // `*badge_out`; or null on any error — the caller then takes the general
  // path, whose get() reports it. One short critical section, all inline.
  template <typename T>
  T* get_fast(Handle h, Rights required, uint64_t* badge_out) const {
    static_assert(!std::is_same_v<T, KernelObject>);
    uint64_t f = lock_.lock();
    T* obj = nullptr;
    const uint32_t low = h & kIndexMask;
    if (low != 0 && low <= capacity_) {
      const Slot& slot = slots_[low - 1];
      if (slot.object != nullptr && slot.generation == (h >> kGenerationShift) && slot.object->type() == T::kType &&
          rights_subset(required, slot.rights)) {
        obj = static_cast<T*>(slot.object);
        obj->ref();
        *badge_out = slot.badge;
      }
    }
    lock_.unlock(f);
    return obj;
  }

  // A copy of `h`'s entry (a new reference). Errors: BadHandle.
  ktl::Result<HandleEntry> get_entry(Handle h) const;

  // Closes `h` and returns its entry; may run the object's on_zero_handles().
  // The caller drops the entry outside its own locks (that may destroy the
  // object). Errors: BadHandle.
  ktl::Result<HandleEntry> remove(Handle h);

  // A new handle to `h`'s object with `rights` and `h`'s badge.
  // Errors: BadHandle; AccessDenied if `h` lacks kRightDuplicate or `rights`
  // is not a subset of its rights; NoSpace; NoMemory.
  ktl::Result<Handle> duplicate(Handle h, Rights rights);

  // Like duplicate(), but the new handle carries `badge` (endpoint servers use
  // badges to tell clients apart). Only an unbadged handle can be minted.
  // Errors: InvalidArgument if `badge` is 0; BadHandle; AccessDenied if `h`
  // lacks kRightDuplicate, `rights` is not a subset, or `h` is already
  // badged; NoSpace; NoMemory.
  ktl::Result<Handle> mint(Handle h, Rights rights, uint64_t badge);

  // Atomically replaces `h` by a new handle to the same object and badge with
  // `rights`; `h` is invalid afterwards. Needs no free slot and no right.
  // Errors (and `h` stays valid): BadHandle; AccessDenied if `rights` is not
  // a subset of `h`'s rights.
  ktl::Result<Handle> replace(Handle h, Rights rights);

  // Takes `h` out of the table to send it: the entry is a handle in flight
  // (see the file comment). Errors: BadHandle; AccessDenied without
  // kRightTransfer.
  ktl::Result<HandleEntry> take_for_transfer(Handle h);

  // take_for_transfer() for every handle in `hs`, all or nothing: on error the
  // table is unchanged. out[i] receives hs[i]'s entry.
  // Errors: InvalidArgument if out.size() < hs.size(), `hs` names a handle
  // twice, or an out[i] (i < hs.size()) is not empty; then, for the first
  // failing handle in `hs`, BadHandle or AccessDenied.
  ktl::Result<void> take_many_for_transfer(std::span<const Handle> hs, std::span<HandleEntry> out);

  // Installs handles in flight (from take_*_for_transfer on any table), all or
  // nothing: on success out[i] is entries[i]'s new handle and entries[i].object
  // is moved out (handle counts unchanged: the handles were counted already);
  // on error the table and `entries` are unchanged.
  // Errors: InvalidArgument if out.size() < entries.size() or an entry is
  // empty; NoSpace if fewer than entries.size() slots are left; NoMemory.
  ktl::Result<void> add_many(std::span<HandleEntry> entries, std::span<Handle> out);

  // Closes handles in flight that will not be installed (a message dropped
  // because its receiver died, a failed add_many): each non-empty entry stops
  // counting as a handle and is emptied.
  static void discard_transferred(std::span<HandleEntry> entries);

  // Closes every handle (process teardown), releasing objects in batches with
  // the lock dropped in between, and closes the table: every later add
  // (add, add_many, duplicate, mint, replace) fails with BadState, so nothing
  // given to a dead process (handle_give) can outlive it in its table.
  void clear();

  // Live handles.
  size_t count() const;
  // Allocated slots (grows up to max_slots()).
  size_t capacity() const;
  size_t max_slots() const { return max_slots_; }

 private:
  ktl::Result<Handle> copy(Handle h, Rights rights, uint64_t badge);  // duplicate and mint
  struct Slot {
    KernelObject* object;  // one reference, owned by the slot; null when free
    uint64_t badge;
    Rights rights;
    uint16_t generation;  // the high half of this slot's handle values
    uint32_t next_free;   // free-list link (a slot index) while free
  };
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  ktl::Result<ktl::RefPtr<KernelObject>> lookup(Handle h, bool check_type, ObjectType type, Rights required,
                                                uint64_t* badge_out) const;
  // Under lock_: the live slot `h` names, or null.
  Slot* find_locked(Handle h) const;
  // Under lock_, with a free slot: stores the reference `obj` in a slot.
  Handle install_locked(KernelObject* obj, Rights rights, uint64_t badge);
  // Under lock_: empties the live slot `index` and returns its reference.
  KernelObject* vacate_locked(uint32_t index);
  // Runs validate() and then, if it succeeded, commit() in one critical
  // section with at least `n` free slots, growing the array (lock released)
  // as needed. Errors: validate()'s, NoSpace, NoMemory.
  template <typename Validate, typename Commit>
  ktl::Result<void> with_free_slots(size_t n, Validate&& validate, Commit&& commit);

  const size_t max_slots_;
  ktl::RefPtr<Quota> quota_;     // null: not charged; outlives the array (freed in the destructor)
  mutable klib::SpinLock lock_;  // guards everything below; a leaf lock (see the file comment)
  Slot* slots_ = nullptr;        // capacity_ slots from mm::kmalloc
  size_t capacity_ = 0;
  size_t count_ = 0;              // live handles
  size_t free_count_ = 0;         // capacity_ - count_
  uint32_t free_head_ = kNoSlot;  // FIFO free list: take from head,
  uint32_t free_tail_ = kNoSlot;  // append freed slots at tail
  bool closed_ = false;           // clear() ran: no more handles
};

}  // namespace object
