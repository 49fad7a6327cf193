// result_test.cc — host tests for ktl::Result and TRY.
#include <gtest/gtest.h>
#include <ktl/result.h>

#include <memory>

using ktl::Error;
using ktl::Result;

namespace {
Result<int> half(int v) {
  if (v % 2) return Error::InvalidArgument;
  return v / 2;
}
Result<int> quarter(int v) {
  int h = TRY(half(v));
  return TRY(half(h));
}
Result<void> check_even(int v) {
  TRY(half(v));
  return {};
}
struct Counted {
  static inline int live = 0;
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  Counted(Counted&&) { ++live; }
  ~Counted() { --live; }
};
}  // namespace

TEST(Result, ValueAndError) {
  Result<int> a = 5;
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(*a, 5);
  EXPECT_EQ(a.error(), Error::None);
  Result<int> b = Error::NoMemory;
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.error(), Error::NoMemory);
  EXPECT_EQ(b.value_or(9), 9);
}

TEST(Result, TryPropagates) {
  EXPECT_EQ(*quarter(8), 2);
  EXPECT_EQ(quarter(6).error(), Error::InvalidArgument);  // 6/2 = 3 is odd
  EXPECT_EQ(quarter(7).error(), Error::InvalidArgument);
  EXPECT_TRUE(check_even(4).ok());
  EXPECT_EQ(check_even(3).error(), Error::InvalidArgument);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = r.release_value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, DestroysValueExactlyOnce) {
  {
    Result<Counted> r = Counted();
    Result<Counted> copy = r;
    Result<Counted> moved = std::move(copy);
    r = Error::Busy;  // assigning an error destroys the held value
    EXPECT_EQ(Counted::live, 2);
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(Result, ErrorNames) {
  EXPECT_STREQ(ktl::error_name(Error::NoMemory), "NoMemory");
  EXPECT_STREQ(ktl::error_name(Error::NoSpace), "NoSpace");
  EXPECT_STREQ(ktl::error_name(static_cast<Error>(9999)), "Unknown");
}
