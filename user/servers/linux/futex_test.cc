// Host tests of the Linux personality's futex wait queue (linux/futex.h).
#include "futex.h"

#include <gtest/gtest.h>

#include <vector>

using linux_futex::Key;
using linux_futex::Table;

namespace {

struct Woken {
  std::vector<size_t> slots;
  bool operator()(size_t s) {
    slots.push_back(s);
    return true;
  }
};

TEST(LinuxFutex, WakesOldestFirstAndOnlyTheRightKey) {
  Table<8> t;
  const Key a{1, 0x1000}, b{1, 0x1004}, other_space{2, 0x1000};
  t.wait(5, a, ~0u);
  t.wait(2, a, ~0u);
  t.wait(3, b, ~0u);
  t.wait(4, other_space, ~0u);
  t.wait(0, a, ~0u);
  Woken w;
  EXPECT_EQ(t.wake(a, 2, ~0u, w), 2);
  EXPECT_EQ(w.slots, (std::vector<size_t>{5, 2}));
  EXPECT_FALSE(t.waiting(5));
  EXPECT_TRUE(t.waiting(0));
  EXPECT_TRUE(t.waiting(3));
  EXPECT_TRUE(t.waiting(4));
  EXPECT_EQ(t.wake(a, 100, ~0u, w), 1);
  EXPECT_EQ(t.wake(a, 100, ~0u, w), 0);
  EXPECT_EQ(t.wake(a, 0, ~0u, w), 0);
}

TEST(LinuxFutex, BitsetsMustMeet) {
  Table<4> t;
  const Key k{7, 64};
  t.wait(0, k, 0x1);
  t.wait(1, k, 0x2);
  Woken w;
  EXPECT_EQ(t.wake(k, 10, 0x2, w), 1);
  EXPECT_EQ(w.slots, (std::vector<size_t>{1}));
  EXPECT_EQ(t.wake(k, 10, 0x4, w), 0);
  EXPECT_TRUE(t.waiting(0));
}

TEST(LinuxFutex, GoneSlotsAreNotCounted) {
  Table<4> t;
  const Key k{1, 8};
  t.wait(0, k, ~0u);
  t.wait(1, k, ~0u);
  int calls = 0;
  EXPECT_EQ(t.wake(k, 1, ~0u, [&](size_t s) { ++calls; return s != 0; }), 1);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(t.waiting(0));
  EXPECT_FALSE(t.waiting(1));
}

TEST(LinuxFutex, CancelAndRewait) {
  Table<2> t;
  const Key a{1, 8}, b{1, 16};
  t.wait(0, a, ~0u);
  t.cancel(0);
  Woken w;
  EXPECT_EQ(t.wake(a, 1, ~0u, w), 0);
  t.wait(1, a, ~0u);
  t.wait(1, b, ~0u);  // replaces
  EXPECT_EQ(t.wake(a, 1, ~0u, w), 0);
  ASSERT_NE(t.key_of(1), nullptr);
  EXPECT_EQ(*t.key_of(1), b);
  t.cancel(9);  // out of range: ignored
  EXPECT_FALSE(t.waiting(9));
}

TEST(LinuxFutex, RequeueWakesThenMovesInOrder) {
  Table<8> t;
  const Key a{1, 8}, b{1, 16};
  for (size_t s : {3, 1, 6, 2}) t.wait(s, a, ~0u);
  Woken w;
  EXPECT_EQ(t.requeue(a, b, 1, 2, w), 3);  // wakes 3, moves 1 and 6
  EXPECT_EQ(w.slots, (std::vector<size_t>{3}));
  EXPECT_EQ(*t.key_of(1), b);
  EXPECT_EQ(*t.key_of(6), b);
  EXPECT_EQ(*t.key_of(2), a);
  w.slots.clear();
  EXPECT_EQ(t.wake(b, 10, ~0u, w), 2);
  EXPECT_EQ(w.slots, (std::vector<size_t>{1, 6}));
  EXPECT_EQ(t.requeue(a, a, 0, 5, w), 0);  // onto itself: nothing moves
  EXPECT_EQ(t.requeue(a, b, 0, 0, w), 0);
  EXPECT_EQ(*t.key_of(2), a);
}

}  // namespace
