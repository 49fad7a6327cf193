// list_test.cc — host tests for the intrusive list.
#include <gtest/gtest.h>
#include <ktl/list.h>

#include <vector>

namespace {
struct Item {
  int value;
  ktl::ListNode a;
  ktl::ListNode b;  // a second membership
};
using ListA = ktl::List<Item, &Item::a>;
using ListB = ktl::List<Item, &Item::b>;

std::vector<int> values(const ListA& l) {
  std::vector<int> out;
  for (Item* i = l.front(); i; i = l.next(i)) out.push_back(i->value);
  return out;
}
}  // namespace

TEST(List, PushPopOrder) {
  Item x{1, {}, {}}, y{2, {}, {}}, z{3, {}, {}};
  ListA l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.pop_front(), nullptr);
  l.push_back(&x);
  l.push_back(&y);
  l.push_front(&z);
  EXPECT_EQ(values(l), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.back(), &y);
  EXPECT_EQ(l.pop_front(), &z);
  EXPECT_FALSE(z.a.linked());
  EXPECT_EQ(values(l), (std::vector<int>{1, 2}));
}

TEST(List, RemoveFromMiddleAndTwoMemberships) {
  Item items[5];
  ListA la;
  ListB lb;
  for (int i = 0; i < 5; ++i) {
    items[i].value = i;
    la.push_back(&items[i]);
    lb.push_front(&items[i]);
  }
  la.remove(&items[2]);
  EXPECT_EQ(values(la), (std::vector<int>{0, 1, 3, 4}));
  EXPECT_EQ(lb.size(), 5u);  // membership in the other list unaffected
  EXPECT_EQ(lb.front(), &items[4]);
  la.remove(&items[0]);
  la.remove(&items[4]);
  EXPECT_EQ(values(la), (std::vector<int>{1, 3}));
  EXPECT_EQ(la.size(), 2u);
}
