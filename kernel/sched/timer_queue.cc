// sched/timer_queue.cc — the per-CPU timer queue (see timer_queue.h).
//
// Invariants (checked by check_invariants()):
//  - shape: the tree is complete; numbering nodes 1..size_ in level order
//    (root 1, children of k are 2k and 2k + 1), exactly those numbers exist;
//  - links: root_->parent_ == nullptr, and c->parent_ == p for every child c of p;
//  - order: no child is before(...) its parent, so root_ is the earliest;
//  - every node has armed, queue_ == this and seq_ < next_seq_; an entry not
//    on any queue has !armed, queue_ == nullptr and null links.
#include <sched/timer_queue.h>

#include <bit>

namespace sched {

TimerEntry* TimerQueue::node_at(size_t index) const {
  // The bits of index below its top bit spell the path from the root.
  TimerEntry* t = root_;
  for (int bit = static_cast<int>(std::bit_width(index)) - 2; bit >= 0; --bit) {
    t = ((index >> bit) & 1) != 0 ? t->right_ : t->left_;
  }
  return t;
}

void TimerQueue::swap_with_parent(TimerEntry* child) {
  TimerEntry* parent = child->parent_;
  TimerEntry* grand = parent->parent_;
  TimerEntry* child_left = child->left_;
  TimerEntry* child_right = child->right_;
  const bool was_left = parent->left_ == child;
  TimerEntry* sibling = was_left ? parent->right_ : parent->left_;

  // child takes parent's place under grand ...
  child->parent_ = grand;
  if (grand == nullptr) {
    root_ = child;
  } else if (grand->left_ == parent) {
    grand->left_ = child;
  } else {
    grand->right_ = child;
  }
  // ... with parent (on its own side) and sibling as children ...
  child->left_ = was_left ? parent : sibling;
  child->right_ = was_left ? sibling : parent;
  if (sibling != nullptr) sibling->parent_ = child;
  // ... and parent takes child's old children.
  parent->parent_ = child;
  parent->left_ = child_left;
  parent->right_ = child_right;
  if (child_left != nullptr) child_left->parent_ = parent;
  if (child_right != nullptr) child_right->parent_ = parent;
}

void TimerQueue::sift_up(TimerEntry* t) {
  while (t->parent_ != nullptr && before(t, t->parent_)) swap_with_parent(t);
}

void TimerQueue::sift_down(TimerEntry* t) {
  for (;;) {
    TimerEntry* first = t->left_;
    if (first == nullptr) return;  // complete tree: no left child, no children
    if (t->right_ != nullptr && before(t->right_, first)) first = t->right_;
    if (!before(first, t)) return;
    swap_with_parent(first);
  }
}

void TimerQueue::insert(TimerEntry* t) {
  t->left_ = t->right_ = nullptr;
  ++size_;
  if (size_ == 1) {
    t->parent_ = nullptr;
    root_ = t;
    return;
  }
  // The new last slot, size_, is a child of node size_ / 2: left if even.
  TimerEntry* parent = node_at(size_ / 2);
  t->parent_ = parent;
  if ((size_ & 1) != 0) {
    parent->right_ = t;
  } else {
    parent->left_ = t;
  }
  sift_up(t);
}

void TimerQueue::erase(TimerEntry* t) {
  // Detach the last node first; if it is a child of t, t's link becomes null,
  // so the copy below cannot point `last` at itself.
  TimerEntry* last = node_at(size_);
  if (last->parent_ == nullptr) {
    root_ = nullptr;
  } else if (last->parent_->left_ == last) {
    last->parent_->left_ = nullptr;
  } else {
    last->parent_->right_ = nullptr;
  }
  --size_;

  if (last != t) {
    // Move `last` into t's slot, then let it settle up or down (only one can apply).
    last->parent_ = t->parent_;
    last->left_ = t->left_;
    last->right_ = t->right_;
    if (t->parent_ == nullptr) {
      root_ = last;
    } else if (t->parent_->left_ == t) {
      t->parent_->left_ = last;
    } else {
      t->parent_->right_ = last;
    }
    if (last->left_ != nullptr) last->left_->parent_ = last;
    if (last->right_ != nullptr) last->right_->parent_ = last;
    if (last->parent_ != nullptr && before(last, last->parent_)) {
      sift_up(last);
    } else {
      sift_down(last);
    }
  }

  t->parent_ = t->left_ = t->right_ = nullptr;
  t->armed = false;
  t->queue_ = nullptr;
}

void TimerQueue::arm(TimerEntry* t, uint64_t deadline_ns) {
  if (t->armed && t->queue_ == this) erase(t);  // re-arm moves it
  t->deadline_ns = deadline_ns;
  t->seq_ = next_seq_++;
  t->armed = true;
  t->queue_ = this;
  insert(t);
}

bool TimerQueue::cancel(TimerEntry* t) {
  if (!t->armed || t->queue_ != this) return false;
  erase(t);
  return true;
}

size_t TimerQueue::expire(uint64_t now_ns, TimerEntry** out, size_t max) {
  size_t n = 0;
  while (n < max && root_ != nullptr && root_->deadline_ns <= now_ns) {
    TimerEntry* t = root_;
    erase(t);
    out[n++] = t;
  }
  return n;
}

bool TimerQueue::check_subtree(const TimerEntry* t, size_t index, size_t& count) const {
  // index > size_ catches both a malformed shape and a cycle (indices grow).
  if (index > size_ || ++count > size_) return false;
  if (!t->armed || t->queue_ != this || t->seq_ >= next_seq_) return false;
  const TimerEntry* children[2] = {t->left_, t->right_};
  for (size_t i = 0; i < 2; ++i) {
    const TimerEntry* c = children[i];
    if (c == nullptr) continue;
    if (c->parent_ != t || before(c, t)) return false;
    if (!check_subtree(c, 2 * index + i, count)) return false;
  }
  return true;
}

bool TimerQueue::check_invariants() const {
  if (root_ == nullptr) return size_ == 0;
  if (root_->parent_ != nullptr) return false;
  size_t count = 0;
  // Distinct numbers, all in 1..size_, and size_ of them: exactly 1..size_.
  return check_subtree(root_, 1, count) && count == size_;
}

}  // namespace sched
