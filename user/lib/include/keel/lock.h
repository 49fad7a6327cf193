// keel/lock.h — a spinlock for native Keel programs' threads.
//
// Spins briefly, then yields the CPU (sys::thread_yield) on each attempt, so
// that a holder that was preempted on this CPU gets to finish. For short
// critical sections only: nothing blocks while holding it.
#pragma once

#include <keel_syscalls.h>

#include <atomic>

namespace keel {

class SpinLock {
 public:
  void lock() {
    for (unsigned spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
      if (spins < 100) {
        asm volatile("pause");
      } else {
        (void)sys::thread_yield();
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) : lock_(l) { lock_.lock(); }
  ~LockGuard() { lock_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace keel
