// Host tests of the Linux personality's futex wait queue (linux/futex.h).
#include "futex.h"

#include <gtest/gtest.h>

#include <cstring>
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

// ---- the robust list of a dying thread (walk_robust_list)

namespace {

// A process's memory: 4 KiB at kBase; anything else faults.
struct FakeMem {
  static constexpr uint64_t kBase = 0x10000;
  uint8_t bytes[4096] = {};
  bool in(uint64_t a, size_t n) const { return a >= kBase && a + n <= kBase + sizeof bytes; }
  bool read64(uint64_t a, uint64_t* v) { return in(a, 8) && (std::memcpy(v, bytes + (a - kBase), 8), true); }
  bool read32(uint64_t a, uint32_t* v) { return in(a, 4) && (std::memcpy(v, bytes + (a - kBase), 4), true); }
  bool write32(uint64_t a, uint32_t v) { return in(a, 4) && (std::memcpy(bytes + (a - kBase), &v, 4), true); }
  void put64(uint64_t a, uint64_t v) { std::memcpy(bytes + (a - kBase), &v, 8); }
  uint32_t get32(uint64_t a) {
    uint32_t v;
    std::memcpy(&v, bytes + (a - kBase), 4);
    return v;
  }
};

constexpr uint64_t kHead = FakeMem::kBase, kOff = 16;  // each entry's word 16 bytes after it

TEST(LinuxRobustList, MarksTheDeadOwnersWordsAndWakesWaiters) {
  FakeMem m;
  const uint64_t e1 = kHead + 0x100, e2 = kHead + 0x200, e3 = kHead + 0x300;
  m.put64(kHead, e1);  // head -> e1 -> e2 -> e3 -> head
  m.put64(kHead + 8, kOff);
  m.put64(kHead + 16, 0);
  m.put64(e1, e2);
  m.put64(e2, e3);
  m.put64(e3, kHead);
  m.write32(e1 + kOff, 42);                                   // held by 42, no waiters
  m.write32(e2 + kOff, 42 | linux_futex::kFutexWaiters);      // held by 42, waiters
  m.write32(e3 + kOff, 43 | linux_futex::kFutexWaiters);      // someone else's: untouched
  std::vector<uint64_t> woken;
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 42, [&](uint64_t a) { woken.push_back(a); }), 2);
  EXPECT_EQ(m.get32(e1 + kOff), linux_futex::kFutexOwnerDied);
  EXPECT_EQ(m.get32(e2 + kOff), linux_futex::kFutexOwnerDied | linux_futex::kFutexWaiters);
  EXPECT_EQ(m.get32(e3 + kOff), 43 | linux_futex::kFutexWaiters);
  EXPECT_EQ(woken, std::vector<uint64_t>{e2 + kOff});
}

TEST(LinuxRobustList, PendingEntryOnceAndLoopsAndFaultsEnd) {
  FakeMem m;
  const uint64_t e1 = kHead + 0x100, pend = kHead + 0x400;
  m.put64(kHead, e1 | 1);  // (bit 0: PI, masked)
  m.put64(kHead + 8, kOff);
  m.put64(kHead + 16, e1);  // e1 is also list_op_pending: handled once
  m.put64(e1, kHead);
  m.write32(e1 + kOff, 7);
  std::vector<uint64_t> woken;
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 7, [&](uint64_t a) { woken.push_back(a); }), 1);
  // Only the pending one (not on the list): still marked.
  m.put64(kHead, kHead);
  m.put64(kHead + 16, pend);
  m.write32(pend + kOff, 7);
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 7, [](uint64_t) {}), 1);
  EXPECT_EQ(m.get32(pend + kOff), linux_futex::kFutexOwnerDied);
  // A loop that never comes back to the head ends at the limit; a fault ends the walk.
  m.put64(kHead, e1);
  m.put64(kHead + 16, 0);
  m.put64(e1, e1);
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 99, [](uint64_t) {}), 0);
  m.put64(e1, 0xdead0000);
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 99, [](uint64_t) {}), 0);
  EXPECT_EQ(linux_futex::walk_robust_list(m, 0xdead0000, 7, [](uint64_t) {}), 0);
  EXPECT_EQ(linux_futex::walk_robust_list(m, 0, 7, [](uint64_t) {}), 0);
  // A misaligned word is not touched.
  m.put64(kHead, e1);
  m.put64(kHead + 8, kOff + 1);
  m.put64(e1, kHead);
  EXPECT_EQ(linux_futex::walk_robust_list(m, kHead, 7, [](uint64_t) {}), 0);
}

}  // namespace
