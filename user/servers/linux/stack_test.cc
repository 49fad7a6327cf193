// stack_test.cc — the Linux initial stack (linux/stack.h) parsed back.
#include "stack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kTop = 0x7fff'ffff'e000;

struct Parsed {
  uint64_t argc = 0;
  std::vector<std::string> argv, envp;
  std::vector<std::pair<uint64_t, uint64_t>> aux;
};

uint64_t word(const std::vector<uint8_t>& img, uint64_t addr) {
  uint64_t v;
  memcpy(&v, img.data() + (addr - (kTop - img.size())), 8);
  return v;
}
std::string str(const std::vector<uint8_t>& img, uint64_t addr) {
  return std::string(reinterpret_cast<const char*>(img.data() + (addr - (kTop - img.size()))));
}

Parsed parse(const std::vector<uint8_t>& img, uint64_t rsp) {
  Parsed p;
  uint64_t a = rsp;
  p.argc = word(img, a);
  a += 8;
  for (uint64_t i = 0; i < p.argc; ++i, a += 8) p.argv.push_back(str(img, word(img, a)));
  EXPECT_EQ(word(img, a), 0u);
  a += 8;
  for (; word(img, a) != 0; a += 8) p.envp.push_back(str(img, word(img, a)));
  a += 8;
  for (;; a += 16) {
    p.aux.emplace_back(word(img, a), word(img, a + 8));
    if (word(img, a) == 0) break;
  }
  return p;
}

TEST(LinuxStack, ArgvEnvpAndAuxvReadBack) {
  std::vector<uint8_t> img(64 * 1024);
  const std::string_view argv[] = {"/bin/sh", "-c", "echo hi"};
  const std::string_view envp[] = {"PATH=/bin", "HOME=/root"};
  const linux_stack::AuxEntry aux[] = {{6, 4096}, {9, 0x401000}};
  const uint8_t random[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  uint64_t rsp = 0;
  ASSERT_EQ(linux_stack::build(kTop, argv, envp, aux, random, "/bin/sh", img, &rsp), linux_stack::Result::Ok);
  EXPECT_EQ(rsp % 16, 0u);  // psABI: 16-byte aligned at process entry
  EXPECT_LT(rsp, kTop);
  Parsed p = parse(img, rsp);
  EXPECT_EQ(p.argc, 3u);
  EXPECT_EQ(p.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.envp, (std::vector<std::string>{"PATH=/bin", "HOME=/root"}));
  ASSERT_EQ(p.aux.size(), 6u);  // the 2 given, AT_PLATFORM, AT_RANDOM, AT_EXECFN, AT_NULL
  EXPECT_EQ(p.aux[0], std::make_pair(uint64_t(6), uint64_t(4096)));
  EXPECT_EQ(p.aux[1], std::make_pair(uint64_t(9), uint64_t(0x401000)));
  EXPECT_EQ(p.aux[2].first, 15u);
  EXPECT_EQ(str(img, p.aux[2].second), "x86_64");
  EXPECT_EQ(p.aux[3].first, 25u);
  EXPECT_EQ(memcmp(img.data() + (p.aux[3].second - (kTop - img.size())), random, 16), 0);
  EXPECT_EQ(p.aux[4].first, 31u);
  EXPECT_EQ(str(img, p.aux[4].second), "/bin/sh");
  EXPECT_EQ(p.aux[5], std::make_pair(uint64_t(0), uint64_t(0)));
}

TEST(LinuxStack, EmptyArgvAndEnvp) {
  std::vector<uint8_t> img(4096);
  const uint8_t random[16] = {};
  uint64_t rsp = 0;
  ASSERT_EQ(linux_stack::build(kTop, {}, {}, {}, random, "x", img, &rsp), linux_stack::Result::Ok);
  Parsed p = parse(img, rsp);
  EXPECT_EQ(p.argc, 0u);
  EXPECT_TRUE(p.envp.empty());
}

TEST(LinuxStack, RefusesWhatDoesNotFit) {
  const uint8_t random[16] = {};
  std::string big(5000, 'a');
  const std::string_view argv[] = {big};
  uint64_t rsp = 0;
  // At every size too small for the strings or the table: NoSpace, nothing written outside.
  for (size_t size : {0, 16, 100, 4096, 5000, 5050}) {
    std::vector<uint8_t> img(size + 64, 0xee);
    std::span<uint8_t> inner(img.data() + 64, size);
    EXPECT_EQ(linux_stack::build(kTop, argv, {}, {}, random, "x", inner, &rsp), linux_stack::Result::NoSpace)
        << size;
    for (size_t i = 0; i < 64; ++i) ASSERT_EQ(img[i], 0xee) << size;
  }
  std::vector<std::string_view> many(linux_stack::kMaxStrings + 1, "a");
  std::vector<uint8_t> img(1 << 20);
  EXPECT_EQ(linux_stack::build(kTop, many, {}, {}, random, "x", img, &rsp), linux_stack::Result::TooMany);
}

}  // namespace
