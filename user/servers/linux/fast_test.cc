// fast_test.cc — the in-process fast path's mask, answers and handler
// (linux/fast.h): the handler runs here on the host, in a copy of the layout.
#include "fast.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

namespace {

using namespace linux_fast;

TEST(LinuxFast, MaskHasExactlyTheFastCalls) {
  uint64_t mask[8];
  fast_mask(mask);
  int bits = 0;
  for (uint64_t n = 0; n < 512; ++n)
    if ((mask[n >> 6] >> (n & 63)) & 1) ++bits;
  EXPECT_EQ(bits, 8);
  EXPECT_TRUE((mask[110 >> 6] >> (110 & 63)) & 1);  // getppid
  EXPECT_TRUE((mask[186 >> 6] >> (186 & 63)) & 1);  // gettid
  EXPECT_FALSE((mask[0] >> 0) & 1);                 // read
  EXPECT_FALSE((mask[121 >> 6] >> (121 & 63)) & 1);  // getpgid takes an argument
}

// Enters the handler as the kernel would return to it (rax = the save area,
// filled with nr, rip, rflags) and returns what it left in rax, with the
// flags and rsp it came back with.
struct Back {
  uint64_t rax, rflags, rsp_before, rsp_after, rbx;
};

Back run(uint8_t* region, size_t slot, uint64_t nr, uint64_t flags_in) {
  uint64_t* save = reinterpret_cast<uint64_t*>(region + kSave + slot * kSlotBytes);
  Back b{};
  save[0] = nr;
  save[2] = flags_in;
  uint64_t handler = reinterpret_cast<uint64_t>(region + kCode);
  asm volatile(
      "movq %%rsp, %[before]\n\t"
      "leaq 1f(%%rip), %%rcx\n\t"
      "movq %%rcx, 8(%[save])\n\t"
      "movq $0x5a5a, %%rbx\n\t"
      "movq %[save], %%rax\n\t"
      "jmp *%[handler]\n"
      "1:\n\t"
      "pushfq\n\t"
      "popq %[flags]\n\t"
      "movq %%rsp, %[after]\n\t"
      "movq %%rbx, %[rbx]\n\t"
      "movq %%rax, %[rax]\n\t"
      : [before] "=m"(b.rsp_before), [after] "=m"(b.rsp_after), [flags] "=m"(b.rflags), [rbx] "=m"(b.rbx),
        [rax] "=m"(b.rax)
      : [save] "r"(save), [handler] "r"(handler)
      : "rax", "rbx", "rcx", "r11", "memory", "cc");
  return b;
}

TEST(LinuxFast, HandlerAnswersRestoresFlagsAndStack) {
  void* m = mmap(nullptr, kSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  uint8_t* region = static_cast<uint8_t*>(m);
  memcpy(region + kCode, kFastHandler, sizeof kFastHandler);
  uint64_t* answers = reinterpret_cast<uint64_t*>(region + kAnswers);
  publish(answers, Ids{.pid = 42, .ppid = 1, .pgid = 40, .uid = 1000, .euid = 1001, .gid = 100, .egid = 101});
  *reinterpret_cast<uint64_t*>(region + kTids + 5 * kSlotBytes) = 77;
  const uint64_t flags = 0x202 | 0x1 | 0x40 | 0x800;  // IF, CF, ZF, OF
  Back b = run(region, 5, 110, flags);
  EXPECT_EQ(b.rax, 1u);
  EXPECT_EQ(b.rflags & 0xcd5, flags & 0xcd5);  // CF PF AF ZF SF OF DF back as saved
  EXPECT_EQ(b.rsp_after, b.rsp_before);
  EXPECT_EQ(b.rbx, 0x5a5au);
  EXPECT_EQ(run(region, 5, 39, 0x202).rax, 42u);
  EXPECT_EQ(run(region, 5, 102, 0x202).rax, 1000u);
  EXPECT_EQ(run(region, 5, 107, 0x202).rax, 1001u);
  EXPECT_EQ(run(region, 5, 104, 0x202).rax, 100u);
  EXPECT_EQ(run(region, 5, 108, 0x202).rax, 101u);
  EXPECT_EQ(run(region, 5, 111, 0x202).rax, 40u);
  EXPECT_EQ(run(region, 5, kGettid, 0x202).rax, 77u);
  Back z = run(region, 5, 39, 0x202);  // flags clear come back clear
  EXPECT_EQ(z.rflags & 0x8d5, 0u);
  // A number the program corrupted in its save area stays inside the answers page.
  EXPECT_EQ(run(region, 5, 512 + 39, 0x202).rax, 42u);
  munmap(m, kSize);
}

}  // namespace
