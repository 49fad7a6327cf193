// Host tests of ktl::AvlTree: randomized against std::set, with the tree's
// own invariant check after every change.
#include <gtest/gtest.h>
#include <ktl/avl_tree.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace {

struct Item {
  uint64_t key = 0;
  ktl::AvlNode node;
};
struct ByKey {
  static uint64_t key(const Item& i) { return i.key; }
};
using Tree = ktl::AvlTree<Item, &Item::node, ByKey>;

std::vector<uint64_t> in_order(const Tree& t) {
  std::vector<uint64_t> out;
  for (Item* i = t.front(); i != nullptr; i = t.next(i)) out.push_back(i->key);
  return out;
}

TEST(AvlTree, EmptyTree) {
  Tree t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.front(), nullptr);
  EXPECT_EQ(t.floor(100), nullptr);
  EXPECT_EQ(t.pop_front(), nullptr);
  EXPECT_TRUE(t.check());
}

TEST(AvlTree, AscendingInsertsStayBalanced) {
  // The worst case for an unbalanced tree: a list. AVL depth stays logarithmic.
  std::vector<Item> items(1024);
  Tree t;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].key = i * 16;
    t.insert(&items[i]);
  }
  ASSERT_TRUE(t.check());
  EXPECT_EQ(t.size(), 1024u);
  // Height of the root: at most 1.44 log2(1025) ≈ 14.4.
  int h = 0;
  for (const Item& i : items) h = std::max(h, i.node.height);
  EXPECT_LE(h, 14);
  EXPECT_EQ(t.floor(16 * 100 + 15)->key, 16u * 100);
  EXPECT_EQ(t.floor(16 * 100)->key, 16u * 100);
  EXPECT_EQ(t.floor(0)->key, 0u);
}

TEST(AvlTree, RemoveEveryShapeOfNode) {
  // Leaf, one child, two children with the successor as the right child, and
  // deeper successors: removing each key of a full tree in turn covers them.
  for (uint64_t victim = 0; victim < 15; ++victim) {
    std::vector<Item> items(15);
    Tree t;
    for (uint64_t i = 0; i < 15; ++i) {
      items[i].key = i;
      t.insert(&items[i]);
    }
    t.remove(&items[victim]);
    ASSERT_TRUE(t.check()) << victim;
    EXPECT_FALSE(items[victim].node.linked());
    std::vector<uint64_t> want;
    for (uint64_t i = 0; i < 15; ++i)
      if (i != victim) want.push_back(i);
    EXPECT_EQ(in_order(t), want);
  }
}

TEST(AvlTree, RandomizedAgainstStdSet) {
  std::mt19937_64 rng(12345);
  constexpr size_t kSlots = 512;
  std::vector<Item> items(kSlots);
  std::vector<bool> in(kSlots, false);
  std::set<uint64_t> model;
  Tree t;
  for (int step = 0; step < 20000; ++step) {
    const size_t slot = rng() % kSlots;
    if (in[slot]) {
      model.erase(items[slot].key);
      t.remove(&items[slot]);
      in[slot] = false;
    } else {
      uint64_t key;
      do key = rng() % 100000; while (model.count(key));
      items[slot].key = key;
      model.insert(key);
      t.insert(&items[slot]);
      in[slot] = true;
    }
    if (step % 97 == 0) {
      ASSERT_TRUE(t.check()) << step;
      ASSERT_EQ(in_order(t), std::vector<uint64_t>(model.begin(), model.end()));
    }
    const uint64_t probe = rng() % 100001;
    auto it = model.upper_bound(probe);
    Item* f = t.floor(probe);
    if (it == model.begin()) {
      ASSERT_EQ(f, nullptr);
    } else {
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(f->key, *std::prev(it));
    }
    ASSERT_EQ(t.size(), model.size());
  }
  while (Item* i = t.pop_front()) {
    ASSERT_EQ(i->key, *model.begin());
    model.erase(model.begin());
  }
  EXPECT_TRUE(model.empty());
  EXPECT_TRUE(t.check());
}

}  // namespace
