// object/quota.h — a limit on the kernel memory and objects one owner causes.
//
// Kernel memory a process causes to be allocated (its objects, its threads,
// later page tables and message buffers) is charged to that process's Quota,
// so that one process cannot exhaust the kernel heap for everyone. A
// KernelObject created on behalf of a process is charged one object plus its
// size and keeps a reference to the Quota, which it uncharges in its
// destructor.
//
// Quotas nest like the processes that own them: a process's quota is a child
// of its creator's (Process::create), and a charge counts at every level up to
// the root (the root task's quota, which has no parent). So a quota's limits
// bound everything below it, and a process cannot escape its limits by
// creating processes. Limits only shrink (lower_limits), like rights.
//
// Lifetime: a Quota is reference-counted. Its process holds a reference, every
// object charged to it holds one (KernelObject), and every child quota holds
// one on its parent. So a quota outlives every charge made to it, even when
// the object outlives the process that made it (an endpoint sent to another
// process, a thread reaped after its process is gone), and the chain a charge
// walks up is always there. A Quota made on the stack (tests) starts with a
// reference nobody drops: it must outlive the objects charged to it.
//
// Locking: each Quota's lock_ guards its own counters and limits, and it is a
// leaf lock: nothing is taken while it is held, and never two quotas' locks at
// once. charge() takes them one level at a time going up and, when a level
// refuses, returns the charge to the levels below one at a time. So there is
// no lock order to get wrong and no limit is ever passed. The price: a charge
// is not atomic across levels. A reader can see a lower level charged and its
// parent not yet, and near a limit a charge can be refused because of a
// concurrent charge that is itself refused and undone a moment later.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/heap.h>

#include <atomic>
#include <cstdint>

namespace object {

class Quota {
 public:
  // A quota with these limits inside `parent` (null: a root quota). The
  // parent is kept alive by the new quota. Errors: NoMemory.
  static ktl::Result<ktl::RefPtr<Quota>> create(uint64_t limit_bytes, uint32_t limit_objects, Quota* parent) {
    Quota* q = mm::knew<Quota>(limit_bytes, limit_objects, parent);
    if (q == nullptr) return ktl::Error::NoMemory;
    return ktl::adopt_ref(q);
  }

  // For create() and tests; a quota on the stack must outlive every object
  // charged to it and every child quota.
  explicit Quota(uint64_t limit_bytes, uint32_t limit_objects, Quota* parent = nullptr)
      : parent_(parent), limit_bytes_(limit_bytes), limit_objects_(limit_objects) {}
  Quota(const Quota&) = delete;
  Quota& operator=(const Quota&) = delete;

  // Charges one object of `bytes` bytes to this quota and every ancestor. All
  // or nothing: if any level would pass either of its limits, no level keeps
  // anything. Errors: QuotaExceeded.
  ktl::Result<void> charge(uint64_t bytes) { return charge_levels(bytes, 1); }

  // Returns one object of `bytes` bytes from an earlier charge(bytes), at
  // every level. Returning more than was charged is a kernel bug; the counters
  // then stop at zero rather than wrap.
  void uncharge(uint64_t bytes) { uncharge_levels(bytes, 1); }

  // An object already charged grows by `bytes` (or, uncharge_growth, gives
  // them back): bytes only, no object. All or nothing as charge(). Errors:
  // QuotaExceeded.
  ktl::Result<void> charge_growth(uint64_t bytes) { return charge_levels(bytes, 0); }
  void uncharge_growth(uint64_t bytes) { uncharge_levels(bytes, 0); }

  // Sets this quota's limits to `limit_bytes` and `limit_objects`, each at
  // most the current one (equal keeps it). A limit below what is charged
  // already is accepted: nothing is taken back, and further charges fail until
  // enough has been returned. Ancestors are not changed. Errors:
  // InvalidArgument if either would grow (neither changes then).
  ktl::Result<void> lower_limits(uint64_t limit_bytes, uint32_t limit_objects) {
    klib::SpinLockGuard guard(lock_);
    if (limit_bytes > limit_bytes_ || limit_objects > limit_objects_) return ktl::Error::InvalidArgument;
    limit_bytes_ = limit_bytes;
    limit_objects_ = limit_objects;
    return ktl::ok();
  }

  // This level's counters and limits (the usage includes every descendant's).
  uint64_t used_bytes() const {
    klib::SpinLockGuard guard(lock_);
    return used_bytes_;
  }
  uint32_t used_objects() const {
    klib::SpinLockGuard guard(lock_);
    return used_objects_;
  }
  uint64_t limit_bytes() const {
    klib::SpinLockGuard guard(lock_);
    return limit_bytes_;
  }
  uint32_t limit_objects() const {
    klib::SpinLockGuard guard(lock_);
    return limit_objects_;
  }
  Quota* parent() const { return parent_.get(); }

  // Reference counting for ktl::RefPtr (see the file comment).
  void ref() { ref_count_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] bool unref() { return ref_count_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  // Frees `q` and then every ancestor whose last reference was its child's, in
  // a loop: a long chain must not recurse on a kernel stack.
  static void release(Quota* q) {
    while (q != nullptr) {
      Quota* parent = q->parent_.leak_ref();  // its reference is now ours to drop
      mm::kdelete(q);
      q = parent != nullptr && parent->unref() ? parent : nullptr;
    }
  }

 private:
  ktl::Result<void> charge_levels(uint64_t bytes, uint32_t objects) {
    for (Quota* q = this; q != nullptr; q = q->parent_.get()) {
      if (!q->charge_here(bytes, objects)) {
        for (Quota* done = this; done != q; done = done->parent_.get()) done->uncharge_here(bytes, objects);
        return ktl::Error::QuotaExceeded;
      }
    }
    return ktl::ok();
  }
  void uncharge_levels(uint64_t bytes, uint32_t objects) {
    for (Quota* q = this; q != nullptr; q = q->parent_.get()) q->uncharge_here(bytes, objects);
  }
  // One level of charge(): true if it fit. `objects` is 0 or 1.
  bool charge_here(uint64_t bytes, uint32_t objects) {
    klib::SpinLockGuard guard(lock_);
    // used may be above a lowered limit: test that first (no wrap below).
    if (used_bytes_ > limit_bytes_ || bytes > limit_bytes_ - used_bytes_ ||
        (objects != 0 && used_objects_ >= limit_objects_)) {
      return false;
    }
    used_bytes_ += bytes;
    used_objects_ += objects;
    return true;
  }
  void uncharge_here(uint64_t bytes, uint32_t objects) {
    klib::SpinLockGuard guard(lock_);
    used_bytes_ -= bytes <= used_bytes_ ? bytes : used_bytes_;
    used_objects_ -= objects <= used_objects_ ? objects : used_objects_;
  }

  std::atomic<uint32_t> ref_count_{1};  // 1: the creator's, for adopt_ref
  ktl::RefPtr<Quota> parent_;           // set at construction; cleared only by release()
  mutable klib::SpinLock lock_;         // guards the four fields below (a leaf lock, see above)
  uint64_t limit_bytes_;                // only ever lowered
  uint32_t limit_objects_;              // only ever lowered
  uint64_t used_bytes_ = 0;    // this quota's and its descendants' charges; <= limit_bytes_ unless lowered
  uint32_t used_objects_ = 0;  // likewise, <= limit_objects_ unless lowered
};

}  // namespace object
