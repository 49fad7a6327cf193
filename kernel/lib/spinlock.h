// lib/spinlock.h — an interrupt-safe spinlock and its RAII guard.
//
// lock() disables interrupts on this CPU before spinning and unlock() restores
// the previous state, so a lock taken in thread context cannot deadlock against
// an interrupt handler on the same CPU. Never sleep or allocate from the frame
// allocator while holding one unless that allocator says it is safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace klib {

class SpinLock {
 public:
  // Returns the saved interrupt flag for unlock().
  uint64_t lock() {
    uint64_t flags = save_and_disable();
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
    return flags;
  }
  void unlock(uint64_t flags) {
    locked_.store(false, std::memory_order_release);
    restore(flags);
  }
  // lock() and try_lock() for callers that already run with interrupts off
  // (the IPC fast path and the context switch): no flag save, unlock(0).
  void lock_irqs_off() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  bool try_lock_irqs_off() { return !locked_.exchange(true, std::memory_order_acquire); }
  bool try_lock(uint64_t& flags) {
    flags = save_and_disable();
    if (!locked_.exchange(true, std::memory_order_acquire)) return true;
    restore(flags);
    return false;
  }
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }
  // For the panic path only: the CPU that held the lock is stopped.
  void force_unlock() { locked_.store(false, std::memory_order_release); }

 private:
#ifdef KEEL_HOST_TEST
  static uint64_t save_and_disable() { return 0; }
  static void restore(uint64_t) {}
  static void cpu_relax() {}
#else
  static uint64_t save_and_disable() {
    uint64_t f;
    asm volatile("pushfq; popq %0; cli" : "=r"(f)::"memory");
    return f;
  }
  static void restore(uint64_t f) {
    if (f & (1 << 9)) asm volatile("sti" ::: "memory");
  }
  static void cpu_relax() { asm volatile("pause"); }
#endif
  std::atomic<bool> locked_{false};
};

class SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& l) : lock_(l), flags_(l.lock()) {}
  ~SpinLockGuard() { lock_.unlock(flags_); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& lock_;
  uint64_t flags_;
};

}  // namespace klib
