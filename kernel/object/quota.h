// object/quota.h — a limit on the kernel memory and objects one owner causes.
//
// Kernel memory a process causes to be allocated (its objects, later page
// tables and message buffers) is charged to that process's Quota, so that one
// process cannot exhaust the kernel heap for everyone. A KernelObject created
// on behalf of a process is charged one object plus its size and keeps a raw
// pointer to the Quota, which it uncharges in its destructor.
//
// Lifetime: a Quota must outlive every object charged to it. The kernel keeps
// Quotas inside Process objects, and each object charged to a process keeps
// that process alive (it holds a reference to it, directly or through its
// creator), so the raw pointer is safe; code that charges a Quota with a
// shorter life (tests) must drop the objects first.
#pragma once

#include <ktl/result.h>
#include <lib/spinlock.h>

#include <cstdint>

namespace object {

class Quota {
 public:
  explicit Quota(uint64_t limit_bytes, uint32_t limit_objects)
      : limit_bytes_(limit_bytes), limit_objects_(limit_objects) {}
  Quota(const Quota&) = delete;
  Quota& operator=(const Quota&) = delete;

  // Charges one object of `bytes` bytes. Both counters change together or not
  // at all. Errors: QuotaExceeded if either limit would be passed.
  ktl::Result<void> charge(uint64_t bytes) {
    klib::SpinLockGuard guard(lock_);
    if (bytes > limit_bytes_ - used_bytes_ || used_objects_ >= limit_objects_) {
      return ktl::Error::QuotaExceeded;
    }
    used_bytes_ += bytes;
    ++used_objects_;
    return ktl::ok();
  }

  // Returns one object of `bytes` bytes from an earlier charge(bytes).
  // Returning more than was charged is a kernel bug; the counters then stop at
  // zero rather than wrap.
  void uncharge(uint64_t bytes) {
    klib::SpinLockGuard guard(lock_);
    used_bytes_ -= bytes <= used_bytes_ ? bytes : used_bytes_;
    if (used_objects_ > 0) --used_objects_;
  }

  uint64_t used_bytes() const {
    klib::SpinLockGuard guard(lock_);
    return used_bytes_;
  }
  uint32_t used_objects() const {
    klib::SpinLockGuard guard(lock_);
    return used_objects_;
  }
  uint64_t limit_bytes() const { return limit_bytes_; }
  uint32_t limit_objects() const { return limit_objects_; }

 private:
  const uint64_t limit_bytes_;
  const uint32_t limit_objects_;
  mutable klib::SpinLock lock_;  // guards used_bytes_, used_objects_ (a leaf lock)
  uint64_t used_bytes_ = 0;      // invariant: <= limit_bytes_
  uint32_t used_objects_ = 0;    // invariant: <= limit_objects_
};

}  // namespace object
