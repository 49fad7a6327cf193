// format_test.cc — host tests for ktl::format.
#include <gtest/gtest.h>
#include <ktl/format.h>

#include <cstdint>
#include <string>

namespace {
template <typename... A>
std::string F(std::string_view fmt, const A&... args) {
  char buf[256];
  ktl::format(buf, sizeof buf, fmt, args...);
  return buf;
}
}  // namespace

TEST(Format, Integers) {
  EXPECT_EQ(F("{} {} {}", 0, -1, 42u), "0 -1 42");
  EXPECT_EQ(F("{}", INT64_MIN), "-9223372036854775808");
  EXPECT_EQ(F("{}", UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(F("{:x} {:X} {:#x} {:b} {:o}", 255, 255, 255, 5, 8), "ff FF 0xff 101 10");
  EXPECT_EQ(F("{:08x}", 0xbeef), "0000beef");
  EXPECT_EQ(F("{:#010x}", 0xbeef), "0x0000beef");
  EXPECT_EQ(F("{:x}", -1), "ffffffffffffffff");  // two's complement
  EXPECT_EQ(F("{:05}", -42), "-0042");
}

TEST(Format, WidthAndAlignment) {
  EXPECT_EQ(F("[{:5}]", 42), "[   42]");
  EXPECT_EQ(F("[{:<5}]", 42), "[42   ]");
  EXPECT_EQ(F("[{:^6}]", "ab"), "[  ab  ]");
  EXPECT_EQ(F("[{:5}]", "ab"), "[ab   ]");
  EXPECT_EQ(F("[{:>5}]", "ab"), "[   ab]");
  EXPECT_EQ(F("[{:2}]", "abcdef"), "[abcdef]");  // width is a minimum
}

TEST(Format, OtherTypes) {
  EXPECT_EQ(F("{} {}", true, false), "true false");
  EXPECT_EQ(F("{}", 'x'), "x");
  EXPECT_EQ(F("{:c}", 65), "A");
  EXPECT_EQ(F("{}", static_cast<const char*>(nullptr)), "(null)");
  EXPECT_EQ(F("{}", std::string_view("sv")), "sv");
  EXPECT_EQ(F("{}", reinterpret_cast<void*>(0x1234)), "0x0000000000001234");
  enum class E : int { A = 3 };
  EXPECT_EQ(F("{}", E::A), "3");
}

TEST(Format, BracesAndMismatches) {
  EXPECT_EQ(F("{{}} {}", 1), "{} 1");
  EXPECT_EQ(F("{} {}", 1), "1 {?}");  // more placeholders than arguments
  EXPECT_EQ(F("{}", 1, 2), "1");       // extra arguments ignored
  EXPECT_EQ(F("a } b", 1), "a } b");   // stray close brace
  EXPECT_EQ(F("a {unterminated", 1), "a {unterminated");
  EXPECT_EQ(F("{:zz}", 7), "7");       // unknown spec characters are ignored
}

TEST(Format, TruncatesAndCounts) {
  char buf[8];
  size_t n = ktl::format(buf, sizeof buf, "{}", "0123456789");
  EXPECT_EQ(n, 7u);
  EXPECT_STREQ(buf, "0123456");
  ktl::BufferSink sink(buf, sizeof buf);
  size_t total = ktl::format_to(sink, "{}{}", "abcd", "efghij");
  EXPECT_EQ(total, 10u);  // format_to reports what it produced
  EXPECT_TRUE(sink.truncated());
  EXPECT_EQ(sink.view(), "abcdefg");
  char one[1];
  EXPECT_EQ(ktl::format(one, 1, "xyz"), 0u);
  EXPECT_EQ(one[0], '\0');
}

TEST(Format, HugeWidthIsBounded) {
  // Widths are capped so that a bad format string cannot produce unbounded output.
  char buf[4096];
  size_t n = ktl::format(buf, sizeof buf, "{:99999999}", 1);
  EXPECT_LT(n, sizeof buf);
}
