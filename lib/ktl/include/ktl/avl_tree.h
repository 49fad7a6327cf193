// ktl/avl_tree.h — intrusive AVL tree ordered by a 64-bit key. No
// allocation; insert, remove and floor() are O(log n), next() is amortized
// O(1) (parent pointers, no stack).
//
//   struct Mapping { uint64_t base; ktl::AvlNode tree_node; };
//   struct ByBase { static uint64_t key(const Mapping& m) { return m.base; } };
//   ktl::AvlTree<Mapping, &Mapping::tree_node, ByBase> mappings;
//
// Keys must be unique and must not change while the element is in the tree.
// Heights follow Adelson-Velsky and Landis (1962): the subtrees of every node
// differ in height by at most one, so a tree of n nodes is at most about
// 1.44 log2(n) deep. Not thread-safe: the owner's lock guards the tree and
// every node in it.
#pragma once

#include <ktl/intrusive.h>

#include <cstddef>
#include <cstdint>

namespace ktl {

struct AvlNode {
  AvlNode* left = nullptr;
  AvlNode* right = nullptr;
  AvlNode* parent = nullptr;
  int height = 0;  // 0: not in a tree; a leaf has 1
  bool linked() const { return height != 0; }
};

template <typename T, AvlNode T::*Member, typename KeyOf>
class AvlTree {
 public:
  AvlTree() = default;
  AvlTree(const AvlTree&) = delete;
  AvlTree& operator=(const AvlTree&) = delete;

  bool empty() const { return root_ == nullptr; }
  size_t size() const { return size_; }

  // Precondition: `t` is in no tree and no element has its key.
  void insert(T* t) {
    AvlNode* n = node(t);
    n->left = n->right = nullptr;
    n->height = 1;
    const uint64_t k = KeyOf::key(*t);
    AvlNode* parent = nullptr;
    AvlNode** link = &root_;
    while (*link != nullptr) {
      parent = *link;
      link = k < KeyOf::key(*owner(parent)) ? &parent->left : &parent->right;
    }
    n->parent = parent;
    *link = n;
    ++size_;
    rebalance_from(parent);
  }

  // Precondition: `t` is in this tree.
  void remove(T* t) {
    AvlNode* n = node(t);
    AvlNode* fix;  // the lowest node whose height may have changed
    if (n->left != nullptr && n->right != nullptr) {
      // Swap n with its in-order successor s (leftmost of the right subtree),
      // which has no left child, then unlink n from s's old place.
      AvlNode* s = n->right;
      while (s->left != nullptr) s = s->left;
      AvlNode* s_right = s->right;
      AvlNode* s_parent = s->parent;
      replace_child(n->parent, n, s);
      s->parent = n->parent;
      s->left = n->left;
      s->left->parent = s;
      s->height = n->height;
      if (s_parent == n) {
        fix = s;  // s was n's right child and keeps its right subtree
      } else {
        s->right = n->right;
        s->right->parent = s;
        s_parent->left = s_right;
        if (s_right != nullptr) s_right->parent = s_parent;
        fix = s_parent;
      }
    } else {
      AvlNode* child = n->left != nullptr ? n->left : n->right;
      replace_child(n->parent, n, child);
      if (child != nullptr) child->parent = n->parent;
      fix = n->parent;
    }
    n->left = n->right = n->parent = nullptr;
    n->height = 0;
    --size_;
    rebalance_from(fix);
  }

  // The element with the smallest key, or null.
  T* front() const {
    if (root_ == nullptr) return nullptr;
    AvlNode* n = root_;
    while (n->left != nullptr) n = n->left;
    return owner(n);
  }

  T* pop_front() {
    T* t = front();
    if (t != nullptr) remove(t);
    return t;
  }

  // The element after `t` in key order, or null. (Save it before removing t.)
  T* next(T* t) const {
    AvlNode* n = node(t);
    if (n->right != nullptr) {
      n = n->right;
      while (n->left != nullptr) n = n->left;
      return owner(n);
    }
    while (n->parent != nullptr && n->parent->right == n) n = n->parent;
    return n->parent != nullptr ? owner(n->parent) : nullptr;
  }

  // The element with the largest key <= `key`, or null.
  T* floor(uint64_t key) const {
    AvlNode* best = nullptr;
    for (AvlNode* n = root_; n != nullptr;) {
      if (KeyOf::key(*owner(n)) <= key) {
        best = n;
        n = n->right;
      } else {
        n = n->left;
      }
    }
    return best != nullptr ? owner(best) : nullptr;
  }

  // For tests: every node's height and balance, parent links, key order and
  // the element count are consistent.
  bool check() const {
    size_t count = 0;
    return check_subtree(root_, nullptr, nullptr, nullptr, &count) >= 0 && count == size_;
  }

 private:
  static AvlNode* node(T* t) { return &(t->*Member); }
  static T* owner(const AvlNode* n) { return owner_of<T, AvlNode, Member>(n); }
  static int height(const AvlNode* n) { return n != nullptr ? n->height : 0; }
  static void update(AvlNode* n) {
    const int l = height(n->left), r = height(n->right);
    n->height = (l > r ? l : r) + 1;
  }
  void replace_child(AvlNode* parent, AvlNode* old_child, AvlNode* new_child) {
    if (parent == nullptr) {
      root_ = new_child;
    } else if (parent->left == old_child) {
      parent->left = new_child;
    } else {
      parent->right = new_child;
    }
  }
  // Rotates n's right child up into n's place; returns it.
  AvlNode* rotate_left(AvlNode* n) {
    AvlNode* r = n->right;
    replace_child(n->parent, n, r);
    r->parent = n->parent;
    n->right = r->left;
    if (n->right != nullptr) n->right->parent = n;
    r->left = n;
    n->parent = r;
    update(n);
    update(r);
    return r;
  }
  AvlNode* rotate_right(AvlNode* n) {
    AvlNode* l = n->left;
    replace_child(n->parent, n, l);
    l->parent = n->parent;
    n->left = l->right;
    if (n->left != nullptr) n->left->parent = n;
    l->right = n;
    n->parent = l;
    update(n);
    update(l);
    return l;
  }
  // Restores heights and balance from `n` up to the root.
  void rebalance_from(AvlNode* n) {
    while (n != nullptr) {
      const int balance = height(n->left) - height(n->right);
      if (balance > 1) {
        if (height(n->left->left) < height(n->left->right)) rotate_left(n->left);
        n = rotate_right(n);
      } else if (balance < -1) {
        if (height(n->right->right) < height(n->right->left)) rotate_right(n->right);
        n = rotate_left(n);
      } else {
        update(n);
      }
      n = n->parent;
    }
  }
  // Height of the subtree, or -1 if it is inconsistent. Keys must lie in
  // (lo, hi) where those are non-null.
  int check_subtree(const AvlNode* n, const AvlNode* parent, const AvlNode* lo, const AvlNode* hi,
                    size_t* count) const {
    if (n == nullptr) return 0;
    ++*count;
    if (n->parent != parent) return -1;
    const uint64_t k = KeyOf::key(*owner(n));
    if ((lo != nullptr && !(KeyOf::key(*owner(lo)) < k)) || (hi != nullptr && !(k < KeyOf::key(*owner(hi)))))
      return -1;
    const int l = check_subtree(n->left, n, lo, n, count);
    const int r = check_subtree(n->right, n, n, hi, count);
    if (l < 0 || r < 0 || l - r > 1 || r - l > 1) return -1;
    const int h = (l > r ? l : r) + 1;
    return n->height == h ? h : -1;
  }

  AvlNode* root_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ktl
