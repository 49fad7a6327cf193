// sched/timer_queue_test.cc — host tests for the per-CPU timer queue.
#include <gtest/gtest.h>
#include <sched/timer_queue.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <vector>

namespace sched {
namespace {

// Expires everything due at `now` (in batches of `batch`), checking the
// invariants after each batch; returns the deadlines in the order returned.
std::vector<TimerEntry*> expire_all(TimerQueue& q, uint64_t now, size_t batch = 4) {
  std::vector<TimerEntry*> out;
  std::vector<TimerEntry*> buf(batch);
  for (;;) {
    const size_t n = q.expire(now, buf.data(), batch);
    EXPECT_TRUE(q.check_invariants());
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (n < batch) return out;
  }
}

std::vector<uint64_t> deadlines(const std::vector<TimerEntry*>& v) {
  std::vector<uint64_t> out;
  for (TimerEntry* t : v) out.push_back(t->deadline_ns);
  return out;
}

TEST(TimerQueue, Empty) {
  TimerQueue q;
  TimerEntry t;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_deadline(), UINT64_MAX);
  EXPECT_EQ(q.next_deadline(), kNoDeadline);
  TimerEntry* out[1];
  EXPECT_EQ(q.expire(UINT64_MAX, out, 1), 0u);
  EXPECT_FALSE(q.cancel(&t));
  EXPECT_TRUE(q.check_invariants());
}

TEST(TimerQueue, ExpiresInDeadlineOrder) {
  TimerQueue q;
  const uint64_t ds[] = {50, 10, 40, 20, 30, 60, 5, 45};
  TimerEntry t[8];
  for (size_t i = 0; i < 8; ++i) {
    q.arm(&t[i], ds[i]);
    EXPECT_TRUE(t[i].armed);
    EXPECT_EQ(t[i].queue(), &q);
    EXPECT_TRUE(q.check_invariants());
  }
  EXPECT_EQ(q.size(), 8u);
  EXPECT_EQ(q.next_deadline(), 5u);

  // Only the due ones, and a deadline equal to now is due.
  EXPECT_EQ(deadlines(expire_all(q, 30)), (std::vector<uint64_t>{5, 10, 20, 30}));
  EXPECT_EQ(q.next_deadline(), 40u);
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(deadlines(expire_all(q, 29)), std::vector<uint64_t>{});  // time does not go back
  EXPECT_EQ(deadlines(expire_all(q, 1000)), (std::vector<uint64_t>{40, 45, 50, 60}));
  EXPECT_EQ(q.next_deadline(), kNoDeadline);
  for (TimerEntry& e : t) {
    EXPECT_FALSE(e.armed);
    EXPECT_EQ(e.queue(), nullptr);
  }
}

TEST(TimerQueue, TiesExpireInArmOrder) {
  TimerQueue q;
  TimerEntry t[6];
  // Armed in the order 3, 0, 5, 1 at deadline 100; 4 and 2 at 90 and 110.
  q.arm(&t[3], 100);
  q.arm(&t[4], 90);
  q.arm(&t[0], 100);
  q.arm(&t[5], 100);
  q.arm(&t[2], 110);
  q.arm(&t[1], 100);
  EXPECT_EQ(expire_all(q, 200, 1), (std::vector<TimerEntry*>{&t[4], &t[3], &t[0], &t[5], &t[1], &t[2]}));
}

TEST(TimerQueue, ExpireHonoursMax) {
  TimerQueue q;
  TimerEntry t[10];
  for (size_t i = 0; i < 10; ++i) q.arm(&t[i], 100 - i);  // t[9] earliest
  q.arm(&t[0], 1000);                                     // not due
  TimerEntry* out[3];
  EXPECT_EQ(q.expire(500, out, 0), 0u);
  ASSERT_EQ(q.expire(500, out, 3), 3u);
  EXPECT_EQ((std::vector<TimerEntry*>(out, out + 3)), (std::vector<TimerEntry*>{&t[9], &t[8], &t[7]}));
  EXPECT_EQ(q.next_deadline(), 94u);
  EXPECT_EQ(q.size(), 7u);
  ASSERT_EQ(q.expire(500, out, 3), 3u);
  EXPECT_EQ((std::vector<TimerEntry*>(out, out + 3)), (std::vector<TimerEntry*>{&t[6], &t[5], &t[4]}));
  ASSERT_EQ(q.expire(500, out, 3), 3u);
  EXPECT_EQ((std::vector<TimerEntry*>(out, out + 3)), (std::vector<TimerEntry*>{&t[3], &t[2], &t[1]}));
  EXPECT_EQ(q.expire(500, out, 3), 0u);  // t[0] is at 1000
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(q.check_invariants());
}

// Arming deadlines 1..15 in increasing order builds the tree in level order:
// node k holds deadline k (root 1, children of k are 2k and 2k + 1).
class TimerCancel : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < 15; ++i) q_.arm(&t_[i], i + 1);
    ASSERT_TRUE(q_.check_invariants());
  }
  // Cancels the entry with `deadline`, then checks that everything else
  // still expires in order.
  void cancel_and_check(uint64_t deadline) {
    EXPECT_TRUE(q_.cancel(&t_[deadline - 1]));
    EXPECT_FALSE(t_[deadline - 1].armed);
    EXPECT_EQ(t_[deadline - 1].queue(), nullptr);
    EXPECT_EQ(q_.size(), 14u);
    EXPECT_TRUE(q_.check_invariants());
    EXPECT_FALSE(q_.cancel(&t_[deadline - 1]));  // a second cancel is a no-op
    std::vector<uint64_t> expected;
    for (uint64_t d = 1; d <= 15; ++d)
      if (d != deadline) expected.push_back(d);
    EXPECT_EQ(deadlines(expire_all(q_, 100)), expected);
  }
  TimerQueue q_;
  TimerEntry t_[15];
};

TEST_F(TimerCancel, Root) { cancel_and_check(1); }
TEST_F(TimerCancel, LastLeaf) { cancel_and_check(15); }
TEST_F(TimerCancel, OtherLeaf) { cancel_and_check(8); }
TEST_F(TimerCancel, Middle) { cancel_and_check(3); }
TEST_F(TimerCancel, ParentOfLast) { cancel_and_check(7); }

TEST_F(TimerCancel, NotArmed) {
  TimerEntry never;
  EXPECT_FALSE(q_.cancel(&never));
  EXPECT_EQ(q_.size(), 15u);
  EXPECT_TRUE(q_.check_invariants());
}

TEST(TimerQueue, CancelWhereReplacementMovesUp) {
  // Level order 1, 10, 2, 11, 12, 3, 4: cancelling 11 (node 4, under 10)
  // moves the last node, 4, under 10, where it must move up.
  TimerQueue q;
  TimerEntry t[7];
  const uint64_t ds[] = {1, 10, 2, 11, 12, 3, 4};
  for (size_t i = 0; i < 7; ++i) q.arm(&t[i], ds[i]);
  ASSERT_TRUE(q.check_invariants());
  EXPECT_TRUE(q.cancel(&t[3]));
  EXPECT_TRUE(q.check_invariants());
  EXPECT_EQ(deadlines(expire_all(q, 100)), (std::vector<uint64_t>{1, 2, 3, 4, 10, 12}));
}

TEST(TimerQueue, CancelDownToEmpty) {
  TimerQueue q;
  TimerEntry t[3];
  for (size_t i = 0; i < 3; ++i) q.arm(&t[i], 7);
  EXPECT_TRUE(q.cancel(&t[1]));
  EXPECT_TRUE(q.cancel(&t[0]));
  EXPECT_TRUE(q.cancel(&t[2]));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_deadline(), kNoDeadline);
  EXPECT_TRUE(q.check_invariants());
  q.arm(&t[1], 3);  // reusable after cancel
  EXPECT_EQ(q.next_deadline(), 3u);
  EXPECT_TRUE(q.check_invariants());
}

TEST(TimerQueue, RearmMovesTheEntry) {
  TimerQueue q;
  TimerEntry a, b, c;
  q.arm(&a, 10);
  q.arm(&b, 20);
  q.arm(&c, 20);
  q.arm(&a, 30);  // later
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_deadline(), 20u);
  EXPECT_TRUE(q.check_invariants());
  q.arm(&b, 20);  // same deadline: now behind c, armed after it
  EXPECT_EQ(q.size(), 3u);
  EXPECT_TRUE(q.check_invariants());
  q.arm(&a, 5);  // earlier: the new root
  EXPECT_EQ(q.next_deadline(), 5u);
  EXPECT_EQ(expire_all(q, 100), (std::vector<TimerEntry*>{&a, &c, &b}));
}

TEST(TimerQueue, ExpiredEntriesKeepOwnerFieldsAndCanBeRearmed) {
  TimerQueue q;
  int woken = 0;
  TimerEntry t;
  t.ctx = &woken;
  t.callback = [](TimerEntry* e) { ++*static_cast<int*>(e->ctx); };
  q.arm(&t, 10);
  TimerEntry* out[2];
  ASSERT_EQ(q.expire(10, out, 2), 1u);
  EXPECT_EQ(out[0], &t);
  EXPECT_EQ(woken, 0);  // the queue never calls callbacks
  out[0]->callback(out[0]);
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(t.ctx, &woken);
  q.arm(&t, 20);  // a periodic timer re-arms
  EXPECT_TRUE(t.armed);
  EXPECT_EQ(q.next_deadline(), 20u);
  EXPECT_TRUE(q.check_invariants());
}

TEST(TimerQueue, EntryBelongsToOneQueue) {
  TimerQueue q0, q1;
  TimerEntry t;
  q0.arm(&t, 10);
  EXPECT_EQ(t.queue(), &q0);
  EXPECT_FALSE(q1.cancel(&t));  // not armed on q1: left alone
  EXPECT_TRUE(t.armed);
  EXPECT_EQ(q0.size(), 1u);
  EXPECT_TRUE(q0.check_invariants());
  EXPECT_TRUE(q1.check_invariants());
  EXPECT_TRUE(t.queue()->cancel(&t));
  q1.arm(&t, 11);  // moved to another CPU's queue
  EXPECT_EQ(t.queue(), &q1);
  EXPECT_TRUE(q0.empty());
}

TEST(TimerQueue, CheckInvariantsDetectsDisorder) {
  TimerQueue q;
  TimerEntry t[3];
  q.arm(&t[0], 10);
  q.arm(&t[1], 20);
  q.arm(&t[2], 30);
  ASSERT_TRUE(q.check_invariants());
  t[2].deadline_ns = 5;  // written behind the queue's back: below its parent
  EXPECT_FALSE(q.check_invariants());
  t[2].deadline_ns = 30;
  t[1].armed = false;
  EXPECT_FALSE(q.check_invariants());
  t[1].armed = true;
  EXPECT_TRUE(q.check_invariants());
}

TEST(TimerQueue, LargeHeapDrainsSorted) {
  TimerQueue q;
  std::vector<TimerEntry> t(1000);
  std::mt19937_64 rng(7);
  for (TimerEntry& e : t) q.arm(&e, rng() % 100000);
  EXPECT_TRUE(q.check_invariants());
  const std::vector<uint64_t> got = deadlines(expire_all(q, UINT64_MAX, 64));
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  EXPECT_TRUE(q.empty());
}

// Randomized: 100k arm / re-arm / cancel / expire operations on 300 entries,
// against a std::multimap keyed by deadline (equal keys keep insertion order,
// which is the queue's tie rule), with check_invariants() after every step.
TEST(TimerQueue, RandomizedAgainstMultimap) {
  constexpr size_t kEntries = 300;
  constexpr int kOps = 100000;
  std::mt19937_64 rng(0x71e3e5ULL);
  auto rand = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };

  TimerQueue q;
  std::vector<TimerEntry> t(kEntries);
  std::multimap<uint64_t, TimerEntry*> model;
  auto model_erase = [&](TimerEntry* e) {
    auto [lo, hi] = model.equal_range(e->deadline_ns);
    for (auto it = lo; it != hi; ++it) {
      if (it->second == e) {
        model.erase(it);
        return true;
      }
    }
    return false;
  };
  auto model_has = [&](TimerEntry* e) {
    return std::any_of(model.begin(), model.end(), [&](const auto& kv) { return kv.second == e; });
  };

  uint64_t now = 1000;
  std::vector<TimerEntry*> out(16);
  size_t size_sum = 0;
  size_t expired_total = 0, cancelled_total = 0, rearmed_total = 0;
  for (int op = 0; op < kOps; ++op) {
    TimerEntry* e = &t[rand(kEntries)];
    switch (rand(10)) {
      case 0:
      case 1:
      case 2:
      case 3: {  // arm, or re-arm (moves); coarse deadlines make many ties
        const uint64_t deadline = now - 50 + rand(200) * 10;
        if (e->armed) {
          ASSERT_TRUE(model_erase(e));
          ++rearmed_total;
        }
        q.arm(e, deadline);
        model.emplace(deadline, e);
        break;
      }
      case 4:
      case 5:
      case 6: {  // cancel, armed or not
        const bool was = model_erase(e);
        ASSERT_EQ(q.cancel(e), was);
        cancelled_total += was;
        ASSERT_FALSE(e->armed);
        break;
      }
      case 7:
      case 8: {  // expire with a random limit, possibly below the due count
        now += rand(12);
        const size_t max = rand(out.size() + 1);
        const size_t n = q.expire(now, out.data(), max);
        size_t want = 0;
        for (auto it = model.begin(); it != model.end() && it->first <= now && want < max; ++it) ++want;
        ASSERT_EQ(n, want);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(out[i], model.begin()->second) << "op " << op << " item " << i;
          ASSERT_FALSE(out[i]->armed);
          model.erase(model.begin());
        }
        expired_total += n;
        break;
      }
      case 9: {  // spot-check the armed flag against the model
        ASSERT_EQ(e->armed, model_has(e));
        break;
      }
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_EQ(q.next_deadline(), model.empty() ? kNoDeadline : model.begin()->first);
    ASSERT_TRUE(q.check_invariants()) << "op " << op;
    size_sum += q.size();
  }
  // The run exercised every path many times, on a heap of ~7 levels on average.
  EXPECT_GT(expired_total, 5000u);
  EXPECT_GT(cancelled_total, 5000u);
  EXPECT_GT(rearmed_total, 5000u);
  EXPECT_GT(size_sum / kOps, 64u);

  // Drain in model order.
  std::vector<TimerEntry*> rest = expire_all(q, UINT64_MAX, 7);
  ASSERT_EQ(rest.size(), model.size());
  auto it = model.begin();
  for (TimerEntry* x : rest) ASSERT_EQ(x, (it++)->second);
}

}  // namespace
}  // namespace sched
