// linux/futex.h — the futex wait queue of the Linux personality server: which
// threads wait on which futex word, woken oldest first (futex(2)). Pure logic
// (no Keel calls), tested on the host (futex_test.cc); threads.cc does the
// syscall: checks the word, suspends the thread, completes it when woken.
//
// A waiter is identified by its slot (the index of its Thread in g_threads),
// a word by a Key: (address space, address) for a private futex, (memory
// object, offset) for a word in a MAP_SHARED mapping, so that processes that
// share the object meet on the same key at different addresses.
#pragma once

#include <cstddef>
#include <cstdint>

namespace linux_futex {

struct Key {
  uint64_t space = 0;  // a pid (private), or a memory object's identity | 1 << 63 (shared)
  uint64_t addr = 0;   // the word's address, or its offset in the object
  bool operator==(const Key&) const = default;
};

// N slots; every operation is O(N) per waiter it touches.
template <size_t N>
class Table {
 public:
  // Slot `slot` waits on `k` for a wake whose bitset meets `bitset` (not 0).
  // A slot waits on one word at a time: this replaces what it waited on.
  void wait(size_t slot, Key k, uint32_t bitset) {
    if (slot >= N) return;
    e_[slot] = {true, k, bitset, ++seq_};
  }
  void cancel(size_t slot) {
    if (slot < N) e_[slot].waiting = false;
  }
  bool waiting(size_t slot) const { return slot < N && e_[slot].waiting; }
  const Key* key_of(size_t slot) const { return waiting(slot) ? &e_[slot].key : nullptr; }

  // Wakes up to `n` waiters on `k` whose bitset meets `bitset`, oldest
  // first: each leaves the table and `woke(slot)` is called; it returns
  // false for a slot whose thread is gone (not counted). Returns the number
  // woken.
  template <typename F>
  int wake(Key k, int n, uint32_t bitset, F&& woke) {
    int done = 0;
    while (done < n) {
      const size_t s = oldest(k, bitset);
      if (s == N) break;
      e_[s].waiting = false;
      if (woke(s)) ++done;
    }
    return done;
  }

  // FUTEX_REQUEUE: wakes up to `nwake` waiters of `from`, then moves up to
  // `nmove` of the others (oldest first, keeping their order) to `to`.
  // Returns woken + moved.
  template <typename F>
  int requeue(Key from, Key to, int nwake, int nmove, F&& woke) {
    int done = wake(from, nwake, ~0u, woke);
    if (from == to) return done;
    // Moving keeps each waiter's sequence number, so their order among the
    // waiters of `to` is by when they started waiting.
    for (int moved = 0; moved < nmove; ++moved) {
      size_t s = N;
      for (size_t i = 0; i < N; ++i)
        if (e_[i].waiting && e_[i].key == from && !e_[i].moving && (s == N || e_[i].seq < e_[s].seq)) s = i;
      if (s == N) break;
      e_[s].moving = true;
      ++done;
    }
    for (Entry& e : e_)
      if (e.moving) e.moving = false, e.key = to;
    return done;
  }

 private:
  struct Entry {
    bool waiting = false;
    Key key{};
    uint32_t bitset = 0;
    uint64_t seq = 0;
    bool moving = false;
  };
  size_t oldest(Key k, uint32_t bitset) const {
    size_t s = N;
    for (size_t i = 0; i < N; ++i)
      if (e_[i].waiting && e_[i].key == k && (e_[i].bitset & bitset) && (s == N || e_[i].seq < e_[s].seq)) s = i;
    return s;
  }
  Entry e_[N]{};
  uint64_t seq_ = 0;
};

// The robust futex list of a thread that dies (Documentation/locking/
// robust-futex-ABI.rst): `head` is what set_robust_list registered, a
// struct robust_list_head {next, futex_offset, list_op_pending}; each entry
// is a struct robust_list {next} whose lock word is at entry + futex_offset.
// Every word the dead thread `tid` owns (its low 30 bits are the tid) gets
// FUTEX_OWNER_DIED, keeping FUTEX_WAITERS, and with waiters one is woken
// (`wake(addr)`). `mem` reads and writes the process's memory:
// read64(addr, &v), read32(addr, &v), write32(addr, v), each false on a fault
// (which ends the walk). At most kRobustListLimit entries (a loop ends).
inline constexpr uint32_t kFutexWaiters = 0x8000'0000, kFutexOwnerDied = 0x4000'0000, kFutexTidMask = 0x3fff'ffff;
inline constexpr int kRobustListLimit = 2048;  // Linux's ROBUST_LIST_LIMIT

template <typename Mem, typename Wake>
int walk_robust_list(Mem& mem, uint64_t head, uint32_t tid, Wake&& wake) {
  int died = 0;
  auto death = [&](uint64_t word_addr) {
    uint32_t w = 0;
    if ((word_addr & 3) || !mem.read32(word_addr, &w) || (w & kFutexTidMask) != tid) return;
    if (!mem.write32(word_addr, (w & kFutexWaiters) | kFutexOwnerDied)) return;
    ++died;
    if (w & kFutexWaiters) wake(word_addr);
  };
  uint64_t next = 0, offset = 0, pending = 0;
  if (head == 0 || !mem.read64(head, &next) || !mem.read64(head + 8, &offset) || !mem.read64(head + 16, &pending))
    return 0;
  pending &= ~1ull;  // (bit 0: a PI futex; handled the same here)
  for (int n = 0; (next & ~1ull) != head && n < kRobustListLimit; ++n) {
    const uint64_t entry = next & ~1ull;
    if (!mem.read64(entry, &next)) break;  // (read before the word is changed: its owner is gone)
    if (entry != pending) death(entry + offset);
  }
  if (pending) death(pending + offset);
  return died;
}

}  // namespace linux_futex
