// sigframe_test.cc — the Linux x86-64 signal frame (linux/sigframe.h): placement, the
// registers at a handler's entry, rt_sigreturn's restore and its checks, the handler's mask.
#include "sigframe.h"

#include <gtest/gtest.h>

namespace {

namespace F = linux_sigframe;

struct Regs {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags, fs_base;
};

Regs sample() {
  Regs r{};
  uint64_t* w = &r.rax;
  for (int i = 0; i < 19; ++i) w[i] = 0x1000 + uint64_t(i);
  r.rsp = 0x7fff'0000'1234;
  r.rip = 0x40'1000;
  r.rflags = 0x202 | 0x400;  // DF set
  return r;
}

TEST(SigFrame, PlacementBelowRedZoneAndAligned) {
  for (uint64_t rsp = 0x7fff'0000'1000; rsp < 0x7fff'0000'1010; ++rsp) {
    const uint64_t at = F::frame_address(rsp, false, 0, 0);
    EXPECT_EQ((at + 8) % 16, 0u);
    EXPECT_LE(at + sizeof(F::Frame), rsp - F::kRedZone);
    EXPECT_GT(at + sizeof(F::Frame) + 32, rsp - F::kRedZone);
  }
}

TEST(SigFrame, AlternateStack) {
  const uint64_t base = 0x10'0000, size = 65536;
  const uint64_t at = F::frame_address(0x7fff'0000'0000, true, base, size);
  EXPECT_GE(at, base);
  EXPECT_LE(at + sizeof(F::Frame), base + size);
  EXPECT_EQ((at + 8) % 16, 0u);
  EXPECT_TRUE(F::on_stack(base, base, size));
  EXPECT_TRUE(F::on_stack(base + size - 1, base, size));
  EXPECT_FALSE(F::on_stack(base + size, base, size));
  EXPECT_FALSE(F::on_stack(base - 1, base, size));
  EXPECT_FALSE(F::on_stack(base, base, 0));
}

TEST(SigFrame, BuildEnterRestoreRoundTrip) {
  const Regs r0 = sample();
  F::Siginfo si;
  si.signo = 10;
  si.code = F::kSiQueue;
  si.set32(24, 4242);
  F::Frame f;
  F::build(&f, r0, si, 0x40'2000, 0x5, 0, F::kSsDisable, 0);
  EXPECT_EQ(f.pretcode, 0x40'2000u);
  EXPECT_EQ(f.uc.gregs[F::RIP], r0.rip);
  EXPECT_EQ(f.uc.gregs[F::RSP], r0.rsp);
  EXPECT_EQ(f.uc.gregs[F::RAX], r0.rax);
  EXPECT_EQ(f.uc.gregs[F::R8], r0.r8);
  EXPECT_EQ(f.uc.gregs[F::EFL], r0.rflags);
  EXPECT_EQ(f.uc.sigmask, 0x5u);
  EXPECT_EQ(f.uc.ss_flags, F::kSsDisable);
  EXPECT_EQ(f.info.get32(24), 4242);
  EXPECT_EQ(f.uc.fpstate, 0u);
  Regs r = r0;
  const uint64_t at = F::frame_address(r.rsp, false, 0, 0);
  F::enter(r, at, 0x40'3000, 10);
  EXPECT_EQ(r.rip, 0x40'3000u);
  EXPECT_EQ(r.rsp, at);
  EXPECT_EQ(r.rdi, 10u);
  EXPECT_EQ(r.rsi, at + 312);
  EXPECT_EQ(r.rdx, at + 8);
  EXPECT_EQ(r.rflags & 0x400, 0u);
  // The handler edits the context; rt_sigreturn (rsp = at + 8) restores it.
  f.uc.gregs[F::RIP] += 2;
  f.uc.gregs[F::RAX] = 0x5eed;
  f.uc.sigmask = 0x5 | F::bit(9) | F::bit(19);
  uint64_t mask = 0;
  ASSERT_TRUE(F::restore(f.uc, r, &mask, 0x8000'0000'0000));
  EXPECT_EQ(r.rip, r0.rip + 2);
  EXPECT_EQ(r.rax, 0x5eedu);
  EXPECT_EQ(r.rsp, r0.rsp);
  EXPECT_EQ(r.rbx, r0.rbx);
  EXPECT_EQ(r.r15, r0.r15);
  EXPECT_EQ(r.fs_base, r0.fs_base);
  EXPECT_EQ(mask, 0x5u);  // SIGKILL and SIGSTOP never blocked
}

TEST(SigFrame, RestoreRefusesKernelAddresses) {
  F::Frame f;
  Regs r = sample();
  F::build(&f, r, F::Siginfo{}, 0, 0, 0, 0, 0);
  uint64_t mask = 0;
  f.uc.gregs[F::RIP] = 0xffff'8000'0000'0000;
  EXPECT_FALSE(F::restore(f.uc, r, &mask, 0x8000'0000'0000));
  f.uc.gregs[F::RIP] = 0x40'1000;
  f.uc.gregs[F::RSP] = 0x8000'0000'0000;
  EXPECT_FALSE(F::restore(f.uc, r, &mask, 0x8000'0000'0000));
  f.uc.gregs[F::RSP] = 0x7000;
  f.uc.gregs[F::EFL] = ~0ull;  // only the arithmetic flags, TF and DF are taken
  EXPECT_TRUE(F::restore(f.uc, r, &mask, 0x8000'0000'0000));
  EXPECT_EQ(r.rflags & 0x200, 0x200u);
  EXPECT_EQ(r.rflags & ~uint64_t(0xdd5 | 0x202), 0u);
}

TEST(SigFrame, HandlerMask) {
  EXPECT_EQ(F::handler_mask(0, F::bit(12), 0, 10), F::bit(10) | F::bit(12));
  EXPECT_EQ(F::handler_mask(0, F::bit(12), F::kSaNodefer, 10), F::bit(12));
  EXPECT_EQ(F::handler_mask(F::bit(1), F::bit(9) | F::bit(19), F::kSaNodefer, 10), F::bit(1));
}

}  // namespace
