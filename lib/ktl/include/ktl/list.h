// ktl/list.h — intrusive doubly-linked list. No allocation; O(1) insert/remove.
//
//   struct Thread { ktl::ListNode run_node; };
//   ktl::List<Thread, &Thread::run_node> run_queue;
//
// A node is in at most one list per ListNode member. Not thread-safe: the
// owner's lock guards the list and every node in it.
#pragma once

#include <ktl/intrusive.h>

#include <cstddef>
#include <cstdint>

namespace ktl {

struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;
  bool linked() const { return next != nullptr; }
};

template <typename T, ListNode T::*Member>
class List {
 public:
  List() { head_.prev = head_.next = &head_; }
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  bool empty() const { return head_.next == &head_; }
  size_t size() const { return size_; }

  void push_back(T* t) { insert_before(&head_, node(t)); }
  void push_front(T* t) { insert_before(head_.next, node(t)); }

  T* front() const { return empty() ? nullptr : owner(head_.next); }
  T* back() const { return empty() ? nullptr : owner(head_.prev); }

  T* pop_front() {
    T* t = front();
    if (t) remove(t);
    return t;
  }

  // Precondition: `t` is in this list.
  void remove(T* t) {
    ListNode* n = node(t);
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    --size_;
  }

  // Iteration (safe against removal of the current element only if the
  // caller saved next() first).
  T* next(T* t) const {
    ListNode* n = node(t)->next;
    return n == &head_ ? nullptr : owner(n);
  }

 private:
  static ListNode* node(T* t) { return &(t->*Member); }
  static T* owner(const ListNode* n) { return owner_of<T, ListNode, Member>(n); }
  void insert_before(ListNode* pos, ListNode* n) {
    n->next = pos;
    n->prev = pos->prev;
    pos->prev->next = n;
    pos->prev = n;
    ++size_;
  }

  ListNode head_;
  size_t size_ = 0;
};

}  // namespace ktl
