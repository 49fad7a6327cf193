// sched/run_queue_test.cc — host tests for the per-CPU run queue and pick_cpu_for().
#include <gtest/gtest.h>
#include <sched/run_queue.h>

#include <algorithm>
#include <array>
#include <deque>
#include <random>
#include <vector>

namespace sched {
namespace {

SchedEntity make(uint8_t prio, uint64_t affinity = 0) {
  SchedEntity e;
  e.priority = prio;
  e.base_priority = prio;
  e.affinity_mask = affinity;
  return e;
}

// Drains q with pick_next(), checking the invariants after every step.
std::vector<SchedEntity*> drain(RunQueue& q) {
  std::vector<SchedEntity*> out;
  while (SchedEntity* e = q.pick_next()) {
    out.push_back(e);
    EXPECT_TRUE(q.check_invariants());
  }
  return out;
}

TEST(RunQueue, EmptyQueue) {
  RunQueue q(0);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.load(), 0u);
  EXPECT_EQ(q.highest_priority(), -1);
  EXPECT_EQ(q.peek_highest(), nullptr);
  EXPECT_EQ(q.pick_next(), nullptr);
  EXPECT_EQ(q.steal_for(1), nullptr);
  EXPECT_EQ(q.size_at(0), 0u);
  EXPECT_EQ(q.size_at(kNumPriorities), 0u);  // out of range: 0, no crash
  EXPECT_TRUE(q.check_invariants());
}

TEST(RunQueue, HighestPriorityFirst) {
  RunQueue q(3);
  SchedEntity a = make(3), b = make(31), c = make(0), d = make(17);
  for (SchedEntity* e : {&a, &b, &c, &d}) q.enqueue(e);
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q.highest_priority(), 31);
  EXPECT_EQ(q.peek_highest(), &b);
  EXPECT_EQ(q.size(), 4u);  // peek does not remove
  EXPECT_TRUE(a.queued);
  EXPECT_EQ(a.cpu, 3u);
  EXPECT_EQ(drain(q), (std::vector<SchedEntity*>{&b, &d, &a, &c}));
  for (SchedEntity* e : {&a, &b, &c, &d}) {
    EXPECT_FALSE(e->queued);
    EXPECT_EQ(e->cpu, kNoCpu);
    EXPECT_FALSE(e->run_node.linked());
  }
}

TEST(RunQueue, RoundRobinWithinALevel) {
  RunQueue q(0);
  SchedEntity a = make(8), b = make(8), c = make(8), d = make(8);
  q.enqueue(&a);
  q.enqueue(&b);
  q.enqueue(&c);
  EXPECT_LT(a.enqueue_seq, b.enqueue_seq);
  EXPECT_LT(b.enqueue_seq, c.enqueue_seq);
  // A, B, C come out in arrival order; a requeued A goes behind C.
  EXPECT_EQ(q.pick_next(), &a);
  q.enqueue(&a);
  EXPECT_EQ(drain(q), (std::vector<SchedEntity*>{&b, &c, &a}));

  // enqueue_front: a preempted thread keeps its turn ahead of its level.
  q.enqueue(&a);
  q.enqueue(&b);
  q.enqueue_front(&d);
  EXPECT_EQ(q.peek_highest(), &d);
  EXPECT_EQ(drain(q), (std::vector<SchedEntity*>{&d, &a, &b}));
}

TEST(RunQueue, EnqueueFrontOnlyAffectsItsLevel) {
  RunQueue q(0);
  SchedEntity hi = make(20), lo = make(2);
  q.enqueue(&hi);
  q.enqueue_front(&lo);
  EXPECT_EQ(drain(q), (std::vector<SchedEntity*>{&hi, &lo}));
}

TEST(RunQueue, BitmapFollowsRemovals) {
  RunQueue q(1);
  SchedEntity a = make(5), b = make(5), c = make(9), d = make(0);
  for (SchedEntity* e : {&a, &b, &c, &d}) q.enqueue(e);
  EXPECT_EQ(q.size_at(5), 2u);
  EXPECT_EQ(q.size_at(9), 1u);
  EXPECT_EQ(q.size_at(0), 1u);

  q.remove(&c);  // the only one at 9
  EXPECT_TRUE(q.check_invariants());
  EXPECT_FALSE(c.queued);
  EXPECT_EQ(c.cpu, kNoCpu);
  EXPECT_EQ(q.highest_priority(), 5);
  EXPECT_EQ(q.size_at(9), 0u);

  q.remove(&a);  // level 5 still holds b
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(q.highest_priority(), 5);
  EXPECT_EQ(q.peek_highest(), &b);

  q.remove(&b);
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(q.highest_priority(), 0);
  q.remove(&d);
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(q.highest_priority(), -1);
  EXPECT_TRUE(q.empty());

  // Levels come back after emptying.
  q.enqueue(&c);
  EXPECT_EQ(q.highest_priority(), 9);
  EXPECT_TRUE(q.check_invariants());
}

TEST(RunQueue, RemoveFromTheMiddleKeepsOrder) {
  RunQueue q(0);
  SchedEntity e[5] = {make(4), make(4), make(4), make(4), make(4)};
  for (SchedEntity& x : e) q.enqueue(&x);
  q.remove(&e[2]);
  q.remove(&e[0]);
  q.remove(&e[4]);
  EXPECT_EQ(drain(q), (std::vector<SchedEntity*>{&e[1], &e[3]}));
}

TEST(RunQueue, CheckInvariantsDetectsCorruption) {
  RunQueue q(0);
  SchedEntity a = make(6), b = make(6);
  q.enqueue(&a);
  q.enqueue(&b);
  ASSERT_TRUE(q.check_invariants());
  a.cpu = 4;  // claims another CPU
  EXPECT_FALSE(q.check_invariants());
  a.cpu = 0;
  a.priority = 7;  // changed while queued
  EXPECT_FALSE(q.check_invariants());
  a.priority = 6;
  a.affinity_mask = 0b10;  // may no longer run here
  EXPECT_FALSE(q.check_invariants());
  a.affinity_mask = 0;
  q.set_current(&b);  // the running one cannot also be queued
  EXPECT_FALSE(q.check_invariants());
  q.set_current(nullptr);
  EXPECT_TRUE(q.check_invariants());
}

TEST(RunQueue, ShouldPreempt) {
  RunQueue q(0);
  SchedEntity running = make(10);
  running.timeslice_ticks_left = 5;
  EXPECT_FALSE(q.should_preempt(&running));
  EXPECT_FALSE(q.should_preempt(nullptr));  // idle, nothing to run

  SchedEntity lower = make(9);
  q.enqueue(&lower);
  EXPECT_FALSE(q.should_preempt(&running));
  EXPECT_TRUE(q.should_preempt(nullptr));  // idle yields to anything

  SchedEntity equal = make(10);
  q.enqueue(&equal);
  EXPECT_FALSE(q.should_preempt(&running));  // slice left: keeps running
  running.timeslice_ticks_left = 0;
  EXPECT_TRUE(q.should_preempt(&running));  // slice used up: equal gets its turn
  running.timeslice_ticks_left = 5;

  SchedEntity higher = make(11);
  q.enqueue(&higher);
  EXPECT_TRUE(q.should_preempt(&running));  // higher always preempts
  q.remove(&higher);
  q.remove(&equal);
  running.timeslice_ticks_left = 0;
  EXPECT_FALSE(q.should_preempt(&running));  // only lower queued
}

TEST(RunQueue, TickAloneRefillsWithoutRescheduling) {
  RunQueue q(0);
  SchedEntity running = make(10);
  ASSERT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);
  for (uint32_t i = 1; i < kDefaultTimesliceTicks; ++i) {
    EXPECT_FALSE(q.tick(&running));
    EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks - i);
  }
  EXPECT_FALSE(q.tick(&running));  // exhausted, but nobody else at >= 10
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);

  SchedEntity lower = make(3);
  q.enqueue(&lower);
  for (uint32_t i = 0; i < 3 * kDefaultTimesliceTicks; ++i) EXPECT_FALSE(q.tick(&running));
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);
}

TEST(RunQueue, TickWithEqualPriorityCompetitor) {
  RunQueue q(0);
  SchedEntity running = make(10), other = make(10);
  q.enqueue(&other);
  for (uint32_t i = 1; i < kDefaultTimesliceTicks; ++i) EXPECT_FALSE(q.tick(&running));
  EXPECT_EQ(running.timeslice_ticks_left, 1u);
  EXPECT_TRUE(q.tick(&running));                                    // slice exhausted: other's turn
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);  // refilled for next time

  // The scheduler's reschedule: running to the tail, other runs.
  q.enqueue(&running);
  EXPECT_EQ(q.pick_next(), &other);
  EXPECT_EQ(q.peek_highest(), &running);
}

TEST(RunQueue, TickWithHigherPriorityQueued) {
  RunQueue q(0);
  SchedEntity running = make(10), higher = make(12);
  q.enqueue(&higher);
  EXPECT_TRUE(q.tick(&running));                                        // not exhausted, still due
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks - 1);  // keeps the rest
}

TEST(RunQueue, TickFromEmptySliceDoesNotWrap) {
  RunQueue q(0);
  SchedEntity running = make(1), other = make(1);
  running.timeslice_ticks_left = 0;
  EXPECT_FALSE(q.tick(&running));
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);
  running.timeslice_ticks_left = 0;
  q.enqueue(&other);
  EXPECT_TRUE(q.tick(&running));
  EXPECT_EQ(running.timeslice_ticks_left, kDefaultTimesliceTicks);
}

TEST(RunQueue, TickWhileIdle) {
  RunQueue q(0);
  EXPECT_FALSE(q.tick(nullptr));
  SchedEntity e = make(0);
  q.enqueue(&e);
  EXPECT_TRUE(q.tick(nullptr));
}

TEST(RunQueue, LoadCountsQueuedAndRunning) {
  RunQueue q(0);
  SchedEntity a = make(1), b = make(2), running = make(3);
  q.enqueue(&a);
  q.enqueue(&b);
  EXPECT_EQ(q.load(), 2u);
  q.set_current(&running);
  EXPECT_EQ(q.load(), 3u);
  EXPECT_EQ(q.current(), &running);
  EXPECT_TRUE(q.check_invariants());
  q.remove(&a);
  EXPECT_EQ(q.load(), 2u);
  q.set_current(nullptr);
  EXPECT_EQ(q.load(), 1u);
  EXPECT_TRUE(q.check_invariants());
}

TEST(RunQueue, StealHonoursAffinity) {
  RunQueue src(0), dst(1);
  constexpr uint64_t kCpu0 = 1u << 0, kCpu2 = 1u << 2;
  SchedEntity a = make(5), b = make(5, kCpu0), c = make(5), d = make(7, kCpu0 | kCpu2);
  for (SchedEntity* e : {&a, &b, &c, &d}) src.enqueue(e);

  // Level 7 holds only d, not allowed on CPU 1: level 5's tail, c.
  SchedEntity* s = src.steal_for(1);
  EXPECT_EQ(s, &c);
  EXPECT_FALSE(c.queued);
  EXPECT_EQ(c.cpu, kNoCpu);
  EXPECT_TRUE(src.check_invariants());
  dst.enqueue(s);
  EXPECT_EQ(c.cpu, 1u);
  EXPECT_TRUE(dst.check_invariants());

  // Level 5 is now [a, b]; the tail b is pinned to CPU 0, so a.
  EXPECT_EQ(src.steal_for(1), &a);
  EXPECT_TRUE(src.check_invariants());
  // Only b (CPU 0) and d (CPUs 0, 2) are left.
  EXPECT_EQ(src.steal_for(1), nullptr);
  EXPECT_EQ(src.steal_for(kMaxCpus), nullptr);
  EXPECT_EQ(src.steal_for(kNoCpu), nullptr);
  EXPECT_EQ(src.size(), 2u);
  // CPU 2 may take d, the highest priority.
  EXPECT_EQ(src.steal_for(2), &d);
  EXPECT_EQ(src.steal_for(2), nullptr);
  EXPECT_EQ(src.peek_highest(), &b);
  EXPECT_TRUE(src.check_invariants());
}

TEST(RunQueue, StealPrefersHighestLevelAndItsTail) {
  RunQueue q(0);
  SchedEntity lo = make(1), h1 = make(20), h2 = make(20), h3 = make(20, 1u << 0);
  for (SchedEntity* e : {&lo, &h1, &h2, &h3}) q.enqueue(e);
  // h3 (tail) is pinned to CPU 0: the allowed entity nearest the tail is h2.
  EXPECT_EQ(q.steal_for(5), &h2);
  EXPECT_EQ(q.steal_for(5), &h1);
  EXPECT_EQ(q.steal_for(5), &lo);
  EXPECT_EQ(q.steal_for(5), nullptr);
  EXPECT_EQ(q.steal_for(0), &h3);
}

TEST(RunQueue, HighAffinityBits) {
  RunQueue q(63);
  SchedEntity e = make(4, uint64_t{1} << 63);
  EXPECT_TRUE(e.may_run_on(63));
  EXPECT_FALSE(e.may_run_on(62));
  EXPECT_FALSE(e.may_run_on(64));
  q.enqueue(&e);
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(e.cpu, 63u);
}

// Four CPUs whose loads are set by queuing filler entities.
class PickCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    for (unsigned i = 0; i < 4; ++i) {
      queues_[i].set_cpu(i);
      ptrs_[i] = &queues_[i];
    }
  }
  void TearDown() override {
    for (RunQueue& q : queues_) {
      while (q.pick_next() != nullptr) {
      }
    }
  }
  void set_loads(std::array<unsigned, 4> loads) {
    TearDown();
    size_t next = 0;
    for (unsigned i = 0; i < 4; ++i) {
      for (unsigned k = 0; k < loads[i]; ++k) queues_[i].enqueue(&fillers_[next++]);
      ASSERT_EQ(queues_[i].load(), loads[i]);
    }
  }

  RunQueue queues_[4];
  const RunQueue* ptrs_[4];
  SchedEntity fillers_[64];
};

TEST_F(PickCpu, PreferredWhenWithinOneOfMinimum) {
  SchedEntity e;
  set_loads({3, 1, 2, 1});
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 2), 2u);  // 2 <= 1 + 1: cache affinity wins
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 3), 3u);  // preferred is a minimum itself
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 0), 1u);  // 3 > 1 + 1: least loaded, lowest index
}

TEST_F(PickCpu, LightlyLoadedPreferredNeedsNoSurvey) {
  SchedEntity e;
  set_loads({0, 1, 0, 0});
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 1), 1u);  // 1 <= 0 + 1 whatever the others carry
  e.affinity_mask = 0b1101;                      // ... but never against the affinity mask
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 1), 0u);
  e.affinity_mask = 0;
  const RunQueue* offline[4] = {ptrs_[0], nullptr, ptrs_[2], ptrs_[3]};
  EXPECT_EQ(pick_cpu_for(e, offline, 4, 1), 0u);  // nor to an offline CPU
  set_loads({0, 2, 0, 0});
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 1), 0u);  // 2 > 0 + 1: the survey decides
}

TEST_F(PickCpu, LeastLoadedTiesToLowestIndex) {
  SchedEntity e;
  set_loads({2, 0, 0, 0});
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, kNoCpu), 1u);
  set_loads({0, 0, 0, 0});
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, kNoCpu), 0u);
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, 99), 0u);  // out-of-range preferred ignored
}

TEST_F(PickCpu, RunningThreadCountsAsLoad) {
  SchedEntity e, running;
  set_loads({0, 0, 0, 0});
  queues_[0].set_current(&running);
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 4, kNoCpu), 1u);  // CPU 0 is busy, CPU 1 idle
  queues_[0].set_current(nullptr);
}

TEST_F(PickCpu, HonoursAffinity) {
  SchedEntity only23;
  only23.affinity_mask = 0b1100;
  set_loads({0, 0, 5, 3});
  EXPECT_EQ(pick_cpu_for(only23, ptrs_, 4, kNoCpu), 3u);
  EXPECT_EQ(pick_cpu_for(only23, ptrs_, 4, 2), 3u);  // 5 > 3 + 1
  EXPECT_EQ(pick_cpu_for(only23, ptrs_, 4, 0), 3u);  // preferred not allowed
  set_loads({0, 0, 4, 3});
  EXPECT_EQ(pick_cpu_for(only23, ptrs_, 4, 2), 2u);  // 4 <= 3 + 1

  SchedEntity only0;
  only0.affinity_mask = 0b1;
  set_loads({9, 0, 0, 0});
  EXPECT_EQ(pick_cpu_for(only0, ptrs_, 4, 1), 0u);  // the only allowed CPU

  SchedEntity elsewhere;
  elsewhere.affinity_mask = uint64_t{1} << 40;
  EXPECT_EQ(pick_cpu_for(elsewhere, ptrs_, 4, 0), kNoCpu);  // none of the 4
}

TEST_F(PickCpu, SkipsOfflineCpusAndHonoursCount) {
  SchedEntity e;
  set_loads({3, 0, 2, 2});
  const RunQueue* ptrs[4] = {ptrs_[0], nullptr, ptrs_[2], ptrs_[3]};
  EXPECT_EQ(pick_cpu_for(e, ptrs, 4, kNoCpu), 2u);
  EXPECT_EQ(pick_cpu_for(e, ptrs, 4, 1), 2u);   // preferred offline
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 1, 1), 0u);  // only CPU 0 counted
  SchedEntity only1;
  only1.affinity_mask = 0b10;
  EXPECT_EQ(pick_cpu_for(only1, ptrs, 4, 1), kNoCpu);
  EXPECT_EQ(pick_cpu_for(e, ptrs_, 0, 0), kNoCpu);
}

// Randomized: 4 CPUs, 160 entities, 100k operations, against a model of one
// std::deque per (CPU, level) plus a running entity per CPU.
TEST(RunQueue, RandomizedAgainstModel) {
  constexpr unsigned kCpus = 4;
  constexpr size_t kEntities = 160;
  constexpr int kOps = 100000;
  std::mt19937_64 rng(0x5eed5c4edULL);
  auto rand = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };

  RunQueue queues[kCpus];
  const RunQueue* ptrs[kCpus];
  for (unsigned i = 0; i < kCpus; ++i) {
    queues[i].set_cpu(i);
    ptrs[i] = &queues[i];
  }
  std::vector<SchedEntity> ents(kEntities);
  size_t steals = 0, steals_past_tail = 0, ticks_higher = 0, ticks_exhausted = 0, queued_sum = 0;
  enum class Where { kIdle, kQueued, kRunning };
  struct State {
    Where where = Where::kIdle;
    unsigned cpu = kNoCpu;
  };
  std::vector<State> state(kEntities);
  std::deque<SchedEntity*> model[kCpus][kNumPriorities];
  SchedEntity* running[kCpus] = {};

  auto index = [&](SchedEntity* e) { return static_cast<size_t>(e - ents.data()); };
  auto model_top = [&](unsigned cpu) -> int {
    for (int p = kNumPriorities - 1; p >= 0; --p)
      if (!model[cpu][p].empty()) return p;
    return -1;
  };
  auto model_size = [&](unsigned cpu) {
    size_t n = 0;
    for (auto& d : model[cpu]) n += d.size();
    return n;
  };
  auto random_affinity = [&]() -> uint64_t {
    switch (rand(4)) {
      case 0:
        return uint64_t{1} << rand(kCpus);
      case 1:
        return (rng() & ((1u << kCpus) - 1)) | (uint64_t{1} << rand(kCpus));
      default:
        return 0;
    }
  };
  auto allowed = [&](uint64_t mask, unsigned cpu) { return mask == 0 || (mask >> cpu) & 1; };
  auto random_allowed_cpu = [&](const SchedEntity& e) {
    for (;;) {
      unsigned c = static_cast<unsigned>(rand(kCpus));
      if (allowed(e.affinity_mask, c)) return c;
    }
  };
  auto model_remove = [&](SchedEntity* e) {
    auto& d = model[state[index(e)].cpu][e->priority];
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (*it == e) {
        d.erase(it);
        return;
      }
    }
    ADD_FAILURE() << "entity not in model";
  };
  auto requeue = [&](SchedEntity* e, unsigned cpu, bool front) {
    if (front) {
      queues[cpu].enqueue_front(e);
      model[cpu][e->priority].push_front(e);
    } else {
      queues[cpu].enqueue(e);
      model[cpu][e->priority].push_back(e);
    }
    state[index(e)] = {Where::kQueued, cpu};
  };

  for (int op = 0; op < kOps; ++op) {
    const unsigned cpu = static_cast<unsigned>(rand(kCpus));
    RunQueue& q = queues[cpu];
    switch (rand(11)) {
      case 0:
      case 1:
      case 8:
      case 9: {  // wake an idle entity, new priority/affinity, on a chosen CPU
        SchedEntity* e = &ents[rand(kEntities)];
        if (state[index(e)].where != Where::kIdle) break;
        // Half on two busy levels, so that equal-priority competition is common.
        e->priority = static_cast<uint8_t>(rand(2) ? rand(kNumPriorities) : 16 + rand(2));
        e->affinity_mask = random_affinity();
        unsigned target = random_allowed_cpu(*e);
        if (rand(2) == 0) {
          // pick_cpu_for: must return an allowed CPU within 1 of the minimum load.
          target = pick_cpu_for(*e, ptrs, kCpus, rand(2) ? target : kNoCpu);
          ASSERT_NE(target, kNoCpu);
          ASSERT_TRUE(allowed(e->affinity_mask, target));
          uint64_t min_load = UINT64_MAX;
          for (unsigned c = 0; c < kCpus; ++c)
            if (allowed(e->affinity_mask, c)) min_load = std::min<uint64_t>(min_load, queues[c].load());
          ASSERT_LE(queues[target].load(), min_load + 1);
        }
        requeue(e, target, rand(4) == 0);
        break;
      }
      case 2: {  // pick_next
        SchedEntity* got = q.pick_next();
        const int top = model_top(cpu);
        if (top < 0) {
          ASSERT_EQ(got, nullptr);
        } else {
          ASSERT_EQ(got, model[cpu][top].front());
          model[cpu][top].pop_front();
          state[index(got)] = {};
        }
        break;
      }
      case 3: {  // remove a random queued entity
        SchedEntity* e = &ents[rand(kEntities)];
        if (state[index(e)].where != Where::kQueued) break;
        RunQueue& home = queues[state[index(e)].cpu];
        home.remove(e);
        model_remove(e);
        state[index(e)] = {};
        break;
      }
      case 4: {  // steal for another CPU and enqueue there
        const unsigned dest = static_cast<unsigned>(rand(kCpus));
        SchedEntity* expected = nullptr;
        for (int p = kNumPriorities - 1; p >= 0 && !expected; --p) {
          auto& d = model[cpu][p];
          for (auto it = d.rbegin(); it != d.rend(); ++it) {
            if (allowed((*it)->affinity_mask, dest)) {
              expected = *it;
              break;
            }
          }
        }
        SchedEntity* got = q.steal_for(dest);
        ASSERT_EQ(got, expected);
        if (got) ++steals;
        if (got && got != model[cpu][got->priority].back()) ++steals_past_tail;
        if (got) {
          model_remove(got);
          requeue(got, dest, false);
        }
        break;
      }
      case 5: {  // reschedule: requeue the running entity, run the next one
        if (SchedEntity* r = running[cpu]) {
          const bool keeps_turn = r->timeslice_ticks_left > 0 && rand(2) == 0;
          requeue(r, cpu, keeps_turn);
          running[cpu] = nullptr;
        }
        SchedEntity* next = q.pick_next();
        const int top = model_top(cpu);
        ASSERT_EQ(next, top < 0 ? nullptr : model[cpu][top].front());
        if (next) {
          model[cpu][top].pop_front();
          state[index(next)] = {Where::kRunning, cpu};
        }
        running[cpu] = next;
        q.set_current(next);
        break;
      }
      case 6:
      case 10: {  // tick the running entity, check against the model's rule
        SchedEntity* r = running[cpu];
        const int top = model_top(cpu);
        bool expected;
        if (r == nullptr) {
          expected = top >= 0;
        } else {
          const bool exhausted = r->timeslice_ticks_left <= 1;
          expected = top > r->priority || (exhausted && top == r->priority);
        }
        const uint32_t before = r ? r->timeslice_ticks_left : 0;
        ASSERT_EQ(q.tick(r), expected);
        if (r && expected) ++(top > r->priority ? ticks_higher : ticks_exhausted);
        if (r) {
          ASSERT_EQ(r->timeslice_ticks_left, before <= 1 ? kDefaultTimesliceTicks : before - 1);
          ASSERT_EQ(q.should_preempt(r), top > r->priority);  // slice never 0 after tick
        }
        break;
      }
      case 7: {  // the running entity blocks
        if (SchedEntity* r = running[cpu]) {
          state[index(r)] = {};
          running[cpu] = nullptr;
          q.set_current(nullptr);
        }
        break;
      }
    }
    // Compare the observable state of this CPU's queue with the model.
    const int top = model_top(cpu);
    ASSERT_EQ(q.highest_priority(), top);
    ASSERT_EQ(q.peek_highest(), top < 0 ? nullptr : model[cpu][top].front());
    ASSERT_EQ(q.size(), model_size(cpu));
    ASSERT_EQ(q.load(), model_size(cpu) + (running[cpu] ? 1 : 0));
    const unsigned p = static_cast<unsigned>(rand(kNumPriorities));
    ASSERT_EQ(q.size_at(p), model[cpu][p].size());
    for (unsigned c = 0; c < kCpus; ++c) ASSERT_TRUE(queues[c].check_invariants()) << "op " << op;
    queued_sum += q.size();
  }
  // The run exercised the interesting paths: steals past a pinned tail, ticks
  // due for each reason, queues of some length.
  EXPECT_GT(steals, 4000u);
  EXPECT_GT(steals_past_tail, 300u);
  EXPECT_GT(ticks_higher, 500u);
  EXPECT_GT(ticks_exhausted, 100u);
  EXPECT_GT(queued_sum / kOps, 8u);

  // Every entity's fields agree with the model; then drain each CPU in model order.
  for (size_t i = 0; i < kEntities; ++i) {
    ASSERT_EQ(ents[i].queued, state[i].where == Where::kQueued);
    ASSERT_EQ(ents[i].cpu, state[i].where == Where::kQueued ? state[i].cpu : kNoCpu);
  }
  for (unsigned c = 0; c < kCpus; ++c) {
    for (int p = kNumPriorities - 1; p >= 0; --p) {
      for (SchedEntity* e : model[c][p]) ASSERT_EQ(queues[c].pick_next(), e);
    }
    ASSERT_EQ(queues[c].pick_next(), nullptr);
  }
}

}  // namespace
}  // namespace sched
