// sched/run_queue.cc — the per-CPU run queue (see run_queue.h).
//
// Invariants (checked by check_invariants()):
//  - bit p of bitmap_ is set <=> levels_[p] is non-empty;
//  - size_ == sum of levels_[p].size();
//  - every entity in levels_[p] has queued, cpu == cpu_, priority == p and
//    may_run_on(cpu_); an entity not in any RunQueue has !queued, cpu == kNoCpu;
//  - load_ == size_ + (current_ ? 1 : 0), and current_ is not queued.
#include <sched/run_queue.h>

#include <bit>

namespace sched {

void RunQueue::mark_queued(SchedEntity* e) {
  e->queued = true;
  e->cpu = cpu_;
  e->enqueue_seq = next_seq_++;
  bitmap_ |= uint32_t{1} << e->priority;
  ++size_;
  publish_load();
}

void RunQueue::enqueue(SchedEntity* e) {
  levels_[e->priority].push_back(e);
  mark_queued(e);
}

void RunQueue::enqueue_front(SchedEntity* e) {
  levels_[e->priority].push_front(e);
  mark_queued(e);
}

int RunQueue::highest_priority() const {
  if (bitmap_ == 0) return -1;
  return static_cast<int>(kNumPriorities - 1) - std::countl_zero(bitmap_);
}

SchedEntity* RunQueue::peek_highest() const {
  const int prio = highest_priority();
  return prio < 0 ? nullptr : levels_[prio].front();
}

SchedEntity* RunQueue::pick_next() {
  SchedEntity* e = peek_highest();
  if (e != nullptr) remove(e);
  return e;
}

void RunQueue::remove(SchedEntity* e) {
  Level& level = levels_[e->priority];
  level.remove(e);
  if (level.empty()) bitmap_ &= ~(uint32_t{1} << e->priority);
  --size_;
  e->queued = false;
  e->cpu = kNoCpu;
  publish_load();
}

bool RunQueue::should_preempt(const SchedEntity* running) const {
  const int top = highest_priority();
  if (top < 0) return false;
  if (running == nullptr) return true;
  if (top > running->priority) return true;
  return top == running->priority && running->timeslice_ticks_left == 0;
}

bool RunQueue::tick(SchedEntity* running) {
  if (running == nullptr) return !empty();
  // A slice already at 0 (never filled) counts as exhausted, without wrapping.
  if (running->timeslice_ticks_left > 0) --running->timeslice_ticks_left;
  const bool due = should_preempt(running);
  if (running->timeslice_ticks_left == 0) running->timeslice_ticks_left = kDefaultTimesliceTicks;
  return due;
}

size_t RunQueue::size_at(unsigned prio) const { return prio < kNumPriorities ? levels_[prio].size() : 0; }

SchedEntity* RunQueue::steal_for(unsigned dest_cpu) {
  if (dest_cpu >= kMaxCpus) return nullptr;
  // Visit the non-empty levels from the highest down.
  for (uint32_t pending = bitmap_; pending != 0;) {
    const unsigned prio = kNumPriorities - 1 - std::countl_zero(pending);
    pending &= ~(uint32_t{1} << prio);
    const Level& level = levels_[prio];
    // Fast path: the tail itself may move (no affinity, the usual case).
    SchedEntity* victim = level.back();
    if (!victim->may_run_on(dest_cpu)) {
      // ktl::List iterates forward only: keep the last allowed one seen.
      victim = nullptr;
      for (SchedEntity* e = level.front(); e != nullptr; e = level.next(e)) {
        if (e->may_run_on(dest_cpu)) victim = e;
      }
    }
    if (victim != nullptr) {
      remove(victim);
      return victim;
    }
  }
  return nullptr;
}

bool RunQueue::check_invariants() const {
  size_t total = 0;
  for (unsigned prio = 0; prio < kNumPriorities; ++prio) {
    const Level& level = levels_[prio];
    const bool bit = (bitmap_ >> prio) & 1;
    if (bit == level.empty()) return false;
    size_t count = 0;
    for (SchedEntity* e = level.front(); e != nullptr; e = level.next(e)) {
      // Bound the walk so that a corrupted (cyclic) list fails instead of hanging.
      if (++count > level.size()) return false;
      if (!e->queued || e->cpu != cpu_ || e->priority != prio || !e->may_run_on(cpu_)) return false;
      if (!e->run_node.linked() || e->run_node.prev == nullptr) return false;
      if (e->run_node.next->prev != &e->run_node || e->run_node.prev->next != &e->run_node) return false;
      if (e == current_) return false;
    }
    if (count != level.size()) return false;
    total += count;
  }
  if (total != size_) return false;
  if (current_ != nullptr && current_->queued) return false;
  return load() == size_ + (current_ != nullptr ? 1 : 0);
}

unsigned pick_cpu_for(const SchedEntity& e, const RunQueue* const* queues, unsigned ncpus,
                      unsigned preferred) {
  if (ncpus > kMaxCpus) ncpus = kMaxCpus;
  // The preferred CPU with at most its running thread wins whatever the
  // others carry (no load is below 0), so the survey is skipped.
  if (preferred < ncpus && queues[preferred] != nullptr && e.may_run_on(preferred) &&
      queues[preferred]->load() <= 1)
    return preferred;
  unsigned best = kNoCpu;
  uint64_t best_load = 0;
  bool preferred_ok = false;  // preferred is online and allowed
  uint64_t preferred_load = 0;
  for (unsigned cpu = 0; cpu < ncpus; ++cpu) {
    if (queues[cpu] == nullptr || !e.may_run_on(cpu)) continue;
    // Read each load once: other CPUs may change it meanwhile.
    const uint64_t load = queues[cpu]->load();
    if (best == kNoCpu || load < best_load) {  // strict: ties keep the lower index
      best = cpu;
      best_load = load;
    }
    if (cpu == preferred) {
      preferred_ok = true;
      preferred_load = load;
    }
  }
  if (preferred_ok && preferred_load <= best_load + 1) return preferred;
  return best;
}

}  // namespace sched
