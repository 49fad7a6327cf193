// sched/timer_queue.h — the per-CPU timer queue: pending deadlines, earliest first.
//
// Holds the sleeping threads' wake-ups and the timeouts of blocking calls, as
// intrusive TimerEntry records ordered by (deadline, arm order). Deadlines are
// in nanoseconds of the monotonic clock.
//
// Structure: an intrusive binary min-heap linked through parent/left/right
// pointers (a complete binary tree, filled level by level, left to right).
// Node k (1-based, in level order) is reached from the root by following the
// bits of k below its top bit (0 = left, 1 = right), so the last node and the
// next free slot are found in O(log n) without an array, and nothing is ever
// allocated. Unlike an array heap it needs no capacity; unlike a pairing or
// skew heap every bound below is worst case, not amortized — it runs with
// interrupts off, where one O(n) restructuring would be a latency spike.
//   arm            O(log n)
//   cancel         O(log n)  (any entry: timeouts are mostly cancelled, when
//                            the IPC they guard completes early)
//   next_deadline  O(1)
//   expire         O(k log n) for k entries returned
// Ties: every arm() takes the next value of a per-queue sequence number, and
// the heap orders by (deadline_ns, sequence), so entries with equal deadlines
// expire in the order they were (last) armed, deterministically.
//
// Locking: not internally locked. The caller holds the owning CPU's timer (or
// scheduler) lock for every call, and that lock guards every TimerEntry armed
// on the queue. TimerQueue never calls callbacks: expire() hands the due
// entries back and the caller runs their callbacks, normally after dropping
// the lock (a callback may re-arm its entry).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sched {

class TimerQueue;

// Value of next_deadline() when nothing is armed.
constexpr uint64_t kNoDeadline = UINT64_MAX;

// One pending deadline, embedded in the object that waits (a Thread, an IPC
// wait). The owner sets callback and ctx; TimerQueue sets the rest.
struct TimerEntry {
  // Absolute deadline, ns of the monotonic clock. Written by arm(); do not
  // write it yourself (the heap is ordered by it).
  uint64_t deadline_ns = 0;
  // True while on a TimerQueue. Written by TimerQueue only.
  bool armed = false;
  // Called by whoever drains expire(), with this entry. Not called by TimerQueue.
  void (*callback)(TimerEntry*) = nullptr;
  // Free for the owner (typically the waiting Thread).
  void* ctx = nullptr;

  // The queue this entry is armed on, nullptr if none: with per-CPU queues, a
  // canceller uses it to find (and lock) the right queue.
  TimerQueue* queue() const { return queue_; }

 private:
  friend class TimerQueue;
  TimerEntry* parent_ = nullptr;  // heap links; meaningful while armed
  TimerEntry* left_ = nullptr;
  TimerEntry* right_ = nullptr;
  TimerQueue* queue_ = nullptr;
  uint64_t seq_ = 0;  // arm order, the tie-breaker
};

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Arms `t` to expire at `deadline_ns` (ns, monotonic). If `t` is already
  // armed on this queue it is moved: as if cancelled and armed again, so it
  // also goes behind the entries with the same deadline armed before.
  // O(log n). Precondition: t is not armed on another queue (cancel it there
  // first). A deadline of kNoDeadline is accepted but makes next_deadline()
  // look empty; use no timer at all to wait forever.
  void arm(TimerEntry* t, uint64_t deadline_ns);

  // Disarms `t`. Returns true if it was armed on this queue, false (and does
  // nothing) if it was not armed or is armed on another queue. O(log n).
  bool cancel(TimerEntry* t);

  // The earliest deadline armed, or kNoDeadline (UINT64_MAX) if none. O(1).
  uint64_t next_deadline() const { return root_ != nullptr ? root_->deadline_ns : kNoDeadline; }

  // Removes up to `max` entries whose deadline is <= now_ns and stores them
  // in out[0..result), in deadline order (ties: arm order), disarmed. Returns
  // how many. When it returns `max`, more may be due: call again. O(k log n)
  // for k returned. Precondition: out has room for max entries.
  size_t expire(uint64_t now_ns, TimerEntry** out, size_t max);

  // Number of armed entries. O(1).
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Checks the heap: the links are mutually consistent, the tree is complete
  // with exactly size() nodes, every parent is ordered before its children,
  // every node is armed here and its sequence number was issued by this
  // queue. O(n); recursion depth O(log n). For tests and debug checks.
  bool check_invariants() const;

 private:
  // Strict (deadline, seq) order.
  static bool before(const TimerEntry* a, const TimerEntry* b) {
    return a->deadline_ns != b->deadline_ns ? a->deadline_ns < b->deadline_ns : a->seq_ < b->seq_;
  }
  // Node number `index` (1-based, level order, 1 <= index <= size_).
  TimerEntry* node_at(size_t index) const;
  // Inserts t (unlinked, key set) as the new last node and restores the order.
  void insert(TimerEntry* t);
  // Unlinks t (armed here) and restores the shape and the order.
  void erase(TimerEntry* t);
  // Exchanges `child` with its parent in the tree (links only; keys travel
  // with their entries).
  void swap_with_parent(TimerEntry* child);
  void sift_up(TimerEntry* t);
  void sift_down(TimerEntry* t);
  // check_invariants() for the subtree at `t`, node number `index`; adds its
  // node count to `count`.
  bool check_subtree(const TimerEntry* t, size_t index, size_t& count) const;

  TimerEntry* root_ = nullptr;
  size_t size_ = 0;
  uint64_t next_seq_ = 0;  // sequence number for the next arm()
};

}  // namespace sched
