// sched/run_queue.h — the per-CPU run queue: fixed-priority round robin.
//
// Each CPU owns one RunQueue holding the threads that are runnable there but
// not running. There are kNumPriorities levels (0 = lowest .. 31 = highest);
// each level is an intrusive FIFO list of SchedEntity (embedded in the
// kernel's Thread), and a 32-bit bitmap has bit p set exactly when level p is
// non-empty, so the highest runnable level is one count-leading-zeros away.
// No operation allocates.
//
// Time is counted in scheduler ticks (one tick = one period of the per-CPU
// scheduler timer, 1 ms at the planned 1 kHz). A thread runs for
// kDefaultTimesliceTicks ticks before an equal-priority thread gets its turn.
//
// Locking: a RunQueue is NOT internally locked. Every call, including the
// const ones, must be made with the owning CPU's scheduler lock held; the lock
// also guards the SchedEntity fields of every entity queued here (and of the
// entity running on that CPU). The one exception is load(), which any CPU may
// read without the lock (a relaxed atomic copy), so that pick_cpu_for() can
// survey all CPUs without taking their locks.
//
// How the scheduler is expected to drive it:
//   - wake-up:        cpu = pick_cpu_for(e, ...); lock cpu; queue.enqueue(e);
//                     if (queue.should_preempt(running)) reschedule / IPI;
//   - timer tick:     if (queue.tick(running)) reschedule;
//   - reschedule:     requeue `running` if it is still runnable, with
//                     enqueue_front() if it still has timeslice left (it was
//                     preempted by a higher priority and keeps its turn) or
//                     enqueue() if its slice ran out (tick() refilled it);
//                     then next = queue.pick_next() (nullptr: run idle) and
//                     queue.set_current(next);
//   - block / exit:   the running entity is simply not requeued;
//   - idle balancing: e = busiest.steal_for(this_cpu) under both locks.
// To change the priority or affinity_mask of a queued entity: remove() it,
// change the field, enqueue() it again (on a CPU it may run on).
#pragma once

#include <ktl/list.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sched {

// Number of priority levels: 0 is the lowest, kNumPriorities - 1 the highest.
constexpr unsigned kNumPriorities = 32;
// Timeslice, in scheduler ticks (10 ticks = 10 ms at 1 kHz).
constexpr uint32_t kDefaultTimesliceTicks = 10;
// Most CPUs the scheduler handles: one bit per CPU in SchedEntity::affinity_mask.
constexpr unsigned kMaxCpus = 64;
// "On no CPU's queue" (SchedEntity::cpu), "no CPU" (pick_cpu_for()).
constexpr uint32_t kNoCpu = UINT32_MAX;

// The scheduler's part of a thread, embedded in the kernel's Thread.
// All fields are guarded by the scheduler lock of the CPU whose queue holds
// the entity (or that runs it).
struct SchedEntity {
  ktl::ListNode run_node;  // link in RunQueue's level list; owned by RunQueue
  // Effective priority, the one the queue orders by (0 .. kNumPriorities - 1).
  // Never change it while queued (see the file comment).
  uint8_t priority = 0;
  // The priority the thread was given; `priority` may be raised above it
  // (priority inheritance) and returns to it. Not read by RunQueue.
  uint8_t base_priority = 0;
  // Ticks left in the current timeslice; tick() counts it down and refills it.
  uint32_t timeslice_ticks_left = kDefaultTimesliceTicks;
  // CPU whose RunQueue holds the entity, or kNoCpu. Written by RunQueue only.
  uint32_t cpu = kNoCpu;
  // Bit c set: may run on CPU c. 0 means any CPU.
  uint64_t affinity_mask = 0;
  // True while on a RunQueue (then cpu != kNoCpu). Written by RunQueue only.
  bool queued = false;
  // Value of the queue's enqueue counter when last enqueued: larger = later.
  // For FIFO-fairness diagnostics only; nothing depends on it.
  uint64_t enqueue_seq = 0;

  // True if the entity may run on `cpu_index` (false for cpu_index >= kMaxCpus).
  constexpr bool may_run_on(unsigned cpu_index) const {
    if (cpu_index >= kMaxCpus) return false;
    return affinity_mask == 0 || (affinity_mask >> cpu_index) & 1;
  }
};

class RunQueue {
 public:
  // A queue for no CPU yet: call set_cpu() before the first enqueue. Exists so
  // that per-CPU arrays of queues can be declared.
  RunQueue() = default;
  explicit RunQueue(uint32_t cpu) : cpu_(cpu) {}
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

  // Sets the CPU this queue belongs to (written into SchedEntity::cpu).
  // Precondition: the queue is empty and cpu < kMaxCpus.
  void set_cpu(uint32_t cpu) { cpu_ = cpu; }
  uint32_t cpu() const { return cpu_; }

  // Appends `e` at the tail of its priority level (round robin). O(1).
  // Preconditions: !e->queued, e->priority < kNumPriorities,
  // e->may_run_on(cpu()), e is not current().
  void enqueue(SchedEntity* e);

  // Inserts `e` at the head of its priority level, so it runs before the
  // others of its level: for a preempted thread that still has timeslice
  // left. O(1). Preconditions as enqueue().
  void enqueue_front(SchedEntity* e);

  // Removes and returns the first entity of the highest non-empty level, or
  // nullptr if the queue is empty. O(1). Does not change current().
  SchedEntity* pick_next();

  // The entity pick_next() would return, left in place; nullptr if empty. O(1).
  SchedEntity* peek_highest() const;

  // The highest non-empty priority level, or -1 if the queue is empty. O(1).
  int highest_priority() const;

  // Removes `e` (a thread that blocks, exits, changes priority or is
  // migrated). O(1). Precondition: e is queued here (e->queued, e->cpu == cpu()).
  void remove(SchedEntity* e);

  // True if the entity running on this CPU should give way now: a queued
  // entity has a higher priority than `running`, or the same priority while
  // running's timeslice is used up (timeslice_ticks_left == 0). `running` ==
  // nullptr (the idle thread) gives way to any queued entity. O(1).
  bool should_preempt(const SchedEntity* running) const;

  // Accounts one scheduler tick to `running` (nullptr = idle) and says
  // whether a reschedule is due. Decrements running->timeslice_ticks_left;
  // when that reaches 0 the slice is exhausted, and the result is true if an
  // entity of the same or higher priority is queued. Independently of the
  // slice, the result is true if a higher priority is queued. An exhausted
  // slice is refilled (kDefaultTimesliceTicks) before returning, whatever the
  // result: either the thread keeps running alone at its level, or the caller
  // requeues it at the tail with a full slice. Idle: true iff the queue is
  // non-empty. O(1). Precondition: running is not queued.
  bool tick(SchedEntity* running);

  // Number of queued entities (the running one excluded). O(1).
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Number of queued entities at priority `prio`; 0 if prio >= kNumPriorities. O(1).
  size_t size_at(unsigned prio) const;

  // The entity running on this CPU, for load(): the scheduler sets it at
  // every switch (nullptr while idle). The queue never dereferences it except
  // in check_invariants().
  void set_current(const SchedEntity* e) {
    current_ = e;
    publish_load();
  }
  const SchedEntity* current() const { return current_; }

  // Load-balancing metric: the number of runnable entities on this CPU, the
  // queued ones plus the running one (if set_current() named one). O(1).
  // The only call allowed without the lock: then it returns a recent value
  // (it may be stale by the time the caller uses it).
  uint64_t load() const { return load_.load(std::memory_order_relaxed); }

  // Load balancing: removes and returns an entity that may run on `dest_cpu`,
  // or nullptr if no queued entity may (or dest_cpu >= kMaxCpus).
  // Choice: the highest-priority level that holds an allowed entity, and in
  // it the allowed entity nearest the TAIL. The highest priority because the
  // stealing CPU runs it at once, which helps the most urgent waiting work;
  // the tail because that entity would wait longest here and ran here least
  // recently (coldest cache). Never takes current() (it is not queued).
  // O(1) when every tail entity may run anywhere; O(size()) worst case
  // (affinity masks exclude dest_cpu).
  SchedEntity* steal_for(unsigned dest_cpu);

  // Checks the structure: the bitmap has bit p set exactly when level p is
  // non-empty; each level's list is well linked and its count matches; the
  // level counts sum to size(); every queued entity has queued == true,
  // cpu == cpu(), priority == its level and may_run_on(cpu()); current() is
  // not queued; load() == size() + (current() ? 1 : 0). O(size()). For tests
  // and debug checks.
  bool check_invariants() const;

 private:
  using Level = ktl::List<SchedEntity, &SchedEntity::run_node>;

  // Shared bookkeeping of enqueue() / enqueue_front().
  void mark_queued(SchedEntity* e);
  // Updates load_ after size_ or current_ changed.
  void publish_load() { load_.store(size_ + (current_ != nullptr ? 1 : 0), std::memory_order_relaxed); }

  Level levels_[kNumPriorities];
  uint32_t bitmap_ = 0;  // bit p set <=> !levels_[p].empty()
  size_t size_ = 0;      // sum of levels_[p].size()
  uint64_t next_seq_ = 0;
  uint32_t cpu_ = kNoCpu;
  const SchedEntity* current_ = nullptr;
  // size_ + (current_ ? 1 : 0), written under the lock, read by load() anywhere.
  std::atomic<uint64_t> load_{0};
};

static_assert(kNumPriorities == 32, "the level bitmap is one uint32_t");

// Chooses the CPU on which a woken entity `e` should be enqueued.
// `queues[i]` is CPU i's run queue, or nullptr for a CPU that is offline (or
// must not be used); only the first min(ncpus, kMaxCpus) are considered.
// `preferred` is the CPU e last ran on (kNoCpu if none).
//   - Among the CPUs e may run on, find the minimum load().
//   - If `preferred` is one of them and its load is <= that minimum + 1,
//     return it: a warm cache is worth waiting behind one extra thread.
//   - Otherwise return the least-loaded allowed CPU (ties: the lowest index).
//   - kNoCpu if e may run on none of them.
// Reads the queues' load() only, so it needs none of their locks; loads may
// change meanwhile, which only costs balance, never correctness.
// O(ncpus).
unsigned pick_cpu_for(const SchedEntity& e, const RunQueue* const* queues, unsigned ncpus,
                      unsigned preferred);

}  // namespace sched
