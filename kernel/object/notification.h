// object/notification.h — an asynchronous bitmask signal (interrupts, doorbells).
//
// signal(bits) ORs bits into the pending set and wakes waiters; wait() returns
// the whole pending set and clears it. A signal before the wait is never lost.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/object.h>
#include <sched/wait_queue.h>

#include <new>

namespace object {

class Notification final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Notification;

  static ktl::Result<ktl::RefPtr<Notification>> create(Quota* quota) {
    if (quota) TRY(quota->charge(sizeof(Notification)));
    auto* n = new (std::nothrow) Notification(quota);
    if (!n) {
      if (quota) quota->uncharge(sizeof(Notification));
      return ktl::Error::NoMemory;
    }
    return ktl::adopt_ref(n);
  }

  void signal(uint64_t bits) {
    uint64_t flags = waiters_.lock().lock();
    pending_ |= bits;
    waiters_.wake_all_locked();  // one critical section: the bits and the wake-ups
    waiters_.lock().unlock(flags);
  }

  // Waits for any bit (TimedOut, Interrupted); *out gets the bits taken.
  ktl::Error wait(uint64_t deadline_ns, uint64_t* out) {
    return waiters_.wait(deadline_ns, [&] {
      if (!pending_) return false;
      *out = pending_;
      pending_ = 0;
      return true;
    });
  }

  // Takes the pending bits without waiting; WouldBlock if none.
  ktl::Error poll(uint64_t* out) {
    uint64_t flags = waiters_.lock().lock();
    uint64_t bits = pending_;
    pending_ = 0;
    waiters_.lock().unlock(flags);
    if (!bits) return ktl::Error::WouldBlock;
    *out = bits;
    return ktl::Error::None;
  }

 private:
  explicit Notification(Quota* quota) : KernelObject(kType, quota, quota ? sizeof(Notification) : 0) {}
  uint64_t pending_ = 0;  // guarded by waiters_.lock()
  sched::WaitQueue waiters_;
};

}  // namespace object
