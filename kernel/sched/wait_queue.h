// sched/wait_queue.h — threads waiting for a condition guarded by the queue's lock.
//
//   WaitQueue q;                       // in some object
//   // waiter:
//   ktl::Error e = q.wait(deadline, [&] { return obj.ready; });   // cond runs under q's lock
//   // waker (after making the condition true under q.lock()):
//   q.wake_all();
//
// No lost wake-ups: the waiter is on the queue (under the lock) before it
// parks, and park/unpark keep a token for an unpark that comes first.
// Lock order: WaitQueue lock → Thread::lock → CPU scheduler lock.
#pragma once

#include <arch/x86_64/clock.h>
#include <ktl/list.h>
#include <lib/spinlock.h>
#include <sched/scheduler.h>

namespace sched {

class WaitQueue {
 public:
  // Blocks until cond() is true (evaluated with the queue lock held), the
  // deadline passes (TimedOut) or the thread is being killed (Interrupted).
  template <typename Cond>
  ktl::Error wait(uint64_t deadline_ns, Cond cond) {
    Thread* self = current();
    for (;;) {
      uint64_t flags = lock_.lock();
      if (cond()) {
        if (self->wait_node.linked()) waiters_.remove(self);
        lock_.unlock(flags);
        return ktl::Error::None;
      }
      if (self->kill_pending.load()) {
        if (self->wait_node.linked()) waiters_.remove(self);
        lock_.unlock(flags);
        return ktl::Error::Interrupted;
      }
      if (!self->wait_node.linked()) waiters_.push_back(self);
      lock_.unlock(flags);
      ktl::Error e = park(deadline_ns);
      if (e == ktl::Error::TimedOut) {
        flags = lock_.lock();
        bool ok = cond();
        if (self->wait_node.linked()) waiters_.remove(self);
        lock_.unlock(flags);
        return ok ? ktl::Error::None : ktl::Error::TimedOut;
      }
    }
  }

  // Wakes every waiter (they re-check their condition).
  void wake_all() {
    uint64_t flags = lock_.lock();
    wake_all_locked();
    lock_.unlock(flags);
  }
  // wake_all() for a waker that already holds lock() (it made the condition
  // true in the same critical section).
  void wake_all_locked() {
    while (Thread* t = waiters_.pop_front()) unpark(t);
  }
  // Wakes the longest waiter.
  void wake_one() {
    uint64_t flags = lock_.lock();
    if (Thread* t = waiters_.pop_front()) unpark(t);
    lock_.unlock(flags);
  }
  // Wakes `t` if it waits here with reason `why` (kill: Interrupted).
  void interrupt(Thread* t) {
    uint64_t flags = lock_.lock();
    if (t->wait_node.linked()) waiters_.remove(t);
    unpark(t, ktl::Error::Interrupted);
    lock_.unlock(flags);
  }

  klib::SpinLock& lock() { return lock_; }
  bool empty() const { return waiters_.empty(); }

 private:
  klib::SpinLock lock_;
  ktl::List<Thread, &Thread::wait_node> waiters_;  // guarded by lock_
};

}  // namespace sched
