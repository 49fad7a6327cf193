// cmdline_test.cc — host tests for the kernel command line.
#include <boot/cmdline.h>
#include <gtest/gtest.h>

using boot::CommandLine;

TEST(CommandLine, FlagsAndValues) {
  CommandLine c("  ktest loglevel=5\tnohpet crashtest=pagefault empty= ");
  EXPECT_TRUE(c.has("ktest"));
  EXPECT_TRUE(c.has("loglevel"));
  EXPECT_TRUE(c.has("nohpet"));
  EXPECT_FALSE(c.has("ktes"));
  EXPECT_FALSE(c.has("hpet"));
  EXPECT_FALSE(c.value("ktest").has_value());  // a bare flag has no value
  EXPECT_EQ(c.value("crashtest").value(), "pagefault");
  EXPECT_EQ(c.value("empty").value(), "");
  EXPECT_EQ(c.number("loglevel").value(), 5u);
}

TEST(CommandLine, FirstValueWins) {
  CommandLine c("a=1 a=2");
  EXPECT_EQ(c.value("a").value(), "1");
}

TEST(CommandLine, BadNumbers) {
  CommandLine c("a=-1 b=12x c= d=99999999999999999999999 e=18446744073709551615");
  EXPECT_FALSE(c.number("a"));
  EXPECT_FALSE(c.number("b"));
  EXPECT_FALSE(c.number("c"));
  EXPECT_FALSE(c.number("d"));  // overflows 64 bits
  EXPECT_EQ(c.number("e").value(), UINT64_MAX);
  EXPECT_FALSE(c.number("missing"));
}

TEST(CommandLine, EmptyAndBlank) {
  EXPECT_FALSE(CommandLine("").has("x"));
  EXPECT_FALSE(CommandLine("   ").has("x"));
  EXPECT_FALSE(CommandLine().value("x"));
  EXPECT_TRUE(CommandLine("=v").value("").has_value());  // a word with an empty key
}
