// Host tests of the Linux personality's wait and interval-timer rules
// (linux/waitinfo.h): values from wait(2), waitid(2), setitimer(2).
#include "waitinfo.h"

#include <gtest/gtest.h>

using namespace linux_wait;

namespace {

TEST(LinuxWait, CloneChildrenNeedWcloneAndWallSeesAll) {
  EXPECT_TRUE(eligible(kSigchld, 0));
  EXPECT_FALSE(eligible(kSigchld, kWClone));
  EXPECT_FALSE(eligible(0, 0));  // clone(flags without CSIGNAL): not a plain child
  EXPECT_TRUE(eligible(0, kWClone));
  EXPECT_TRUE(eligible(10 /*SIGUSR1*/, kWClone));
  EXPECT_FALSE(eligible(10, kWNohang));
  for (int sig : {0, 10, kSigchld}) {
    EXPECT_TRUE(eligible(sig, kWAll)) << sig;
    EXPECT_TRUE(eligible(sig, kWAll | kWClone)) << sig;
  }
}

TEST(LinuxWait, Wait4Options) {
  EXPECT_EQ(check_wait4(0), 0);
  EXPECT_EQ(check_wait4(kWNohang | kWStopped | kWContinued | kWClone | kWAll | kWNothread), 0);
  EXPECT_EQ(check_wait4(kWExited), -kEinval);  // waitid's, not wait4's
  EXPECT_EQ(check_wait4(kWNowait), -kEinval);
  EXPECT_EQ(check_wait4(0x10), -kEinval);
}

TEST(LinuxWait, WaitidArguments) {
  EXPECT_EQ(check_waitid(kPAll, 0, kWExited), 0);
  EXPECT_EQ(check_waitid(kPPid, 5, kWContinued | kWNohang | kWNowait), 0);
  EXPECT_EQ(check_waitid(kPPgid, 0, kWStopped), 0);  // 0: the caller's group
  EXPECT_EQ(check_waitid(kPPid, 5, 0), -kEinval);     // no state asked for
  EXPECT_EQ(check_waitid(kPPid, 5, kWNohang), -kEinval);
  EXPECT_EQ(check_waitid(kPPid, 0, kWExited), -kEinval);
  EXPECT_EQ(check_waitid(kPPid, -3, kWExited), -kEinval);
  EXPECT_EQ(check_waitid(kPPgid, -1, kWExited), -kEinval);
  EXPECT_EQ(check_waitid(3 /*P_PIDFD*/, 4, kWExited), -kEinval);
  EXPECT_EQ(check_waitid(99, 0, kWExited), -kEinval);
  EXPECT_EQ(check_waitid(kPAll, 0, kWExited | 0x10), -kEinval);
}

TEST(LinuxWait, ReportsMatchWaitStatusAndSiginfo) {
  const Report ex = ended(5u << 8);  // exit(5)
  EXPECT_EQ(ex.code, kCldExited);
  EXPECT_EQ(ex.status, 5);
  EXPECT_EQ(ex.wstatus, 0x0500u);
  const Report k = ended(9);  // killed by SIGKILL
  EXPECT_EQ(k.code, kCldKilled);
  EXPECT_EQ(k.status, 9);
  EXPECT_EQ(k.wstatus, 9u);
  const Report st = stopped(19);  // SIGSTOP: WIFSTOPPED, WSTOPSIG 19
  EXPECT_EQ(st.code, kCldStopped);
  EXPECT_EQ(st.status, 19);
  EXPECT_EQ(st.wstatus & 0xff, 0x7fu);
  EXPECT_EQ((st.wstatus >> 8) & 0xff, 19u);
  const Report c = continued();  // WIFCONTINUED: 0xffff
  EXPECT_EQ(c.code, kCldContinued);
  EXPECT_EQ(c.status, kSigcont);
  EXPECT_EQ(c.wstatus, 0xffffu);
}

TEST(LinuxItimer, OneShotFiresOnceAndTurnsOff) {
  uint64_t at = 100;
  EXPECT_FALSE(linux_itimer::expire(at, 0, 99));
  EXPECT_EQ(at, 100u);
  EXPECT_TRUE(linux_itimer::expire(at, 0, 100));
  EXPECT_EQ(at, 0u);
  EXPECT_FALSE(linux_itimer::expire(at, 0, 1000));  // off
}

TEST(LinuxItimer, PeriodicMovesOnByPeriodsAndSkipsMissedOnes) {
  uint64_t at = 100;
  EXPECT_TRUE(linux_itimer::expire(at, 30, 110));
  EXPECT_EQ(at, 130u);  // on the period's grid
  EXPECT_FALSE(linux_itimer::expire(at, 30, 129));
  EXPECT_TRUE(linux_itimer::expire(at, 30, 500));  // far behind: one signal, next from now
  EXPECT_EQ(at, 530u);
}

TEST(LinuxItimer, TimeLeft) {
  EXPECT_EQ(linux_itimer::left(0, 50), 0u);        // off
  EXPECT_EQ(linux_itimer::left(80, 50), 30u);
  EXPECT_EQ(linux_itimer::left(50, 50), 1000u);    // expired, not yet handled: 1 us
}

}  // namespace
