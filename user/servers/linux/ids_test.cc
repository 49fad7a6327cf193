// ids_test.cc — the user and group id rules (linux/ids.h) against
// credentials(7) and the setuid(2)/setreuid(2)/setresuid(2) pages.
#include "ids.h"

#include <gtest/gtest.h>

namespace {

using namespace linux_ids;

TEST(LinuxIds, RootSetuidSetsAllThree) {
  uint32_t ids[3] = {0, 0, 0};
  EXPECT_EQ(set_one(ids, 65534, true), 0);
  EXPECT_EQ(ids[0], 65534u);
  EXPECT_EQ(ids[1], 65534u);
  EXPECT_EQ(ids[2], 65534u);
  // No longer root: back to 0 is refused.
  EXPECT_EQ(set_one(ids, 0, false), -kEPERM);
  EXPECT_EQ(set_one(ids, kKeep, true), -kEINVAL);  // setuid(-1)
}

TEST(LinuxIds, UnprivilegedSetuidMovesOnlyTheEffectiveId) {
  uint32_t ids[3] = {1000, 0, 0};  // a setuid-root program run by 1000
  EXPECT_EQ(set_one(ids, 1000, false), 0);  // to the real id
  EXPECT_EQ(ids[0], 1000u);
  EXPECT_EQ(ids[1], 1000u);
  EXPECT_EQ(ids[2], 0u);  // the saved id stays: it may go back
  EXPECT_EQ(set_one(ids, 0, false), 0);
  EXPECT_EQ(ids[1], 0u);
  EXPECT_EQ(set_one(ids, 5, false), -kEPERM);
}

TEST(LinuxIds, Setresuid) {
  uint32_t ids[3] = {1000, 1001, 1002};
  EXPECT_EQ(set_res(ids, kKeep, kKeep, kKeep, false), 0);  // changes nothing
  EXPECT_EQ(ids[0], 1000u);
  EXPECT_EQ(set_res(ids, 1002, 1000, 1001, false), 0);  // a permutation of the three
  EXPECT_EQ(ids[0], 1002u);
  EXPECT_EQ(ids[1], 1000u);
  EXPECT_EQ(ids[2], 1001u);
  EXPECT_EQ(set_res(ids, 7, kKeep, kKeep, false), -kEPERM);
  EXPECT_EQ(ids[0], 1002u);  // nothing changed by the refused call
  EXPECT_EQ(set_res(ids, 7, 8, 9, true), 0);
  EXPECT_EQ(ids[2], 9u);
}

TEST(LinuxIds, Setreuid) {
  uint32_t ids[3] = {1000, 1001, 1001};
  // Swapping real and effective (a classic unprivileged use): allowed; the
  // real id is set, so the saved id follows the new effective one.
  EXPECT_EQ(set_re(ids, 1001, 1000, false), 0);
  EXPECT_EQ(ids[0], 1001u);
  EXPECT_EQ(ids[1], 1000u);
  EXPECT_EQ(ids[2], 1000u);
  // The effective id back to the real one only: the saved id stays.
  uint32_t b[3] = {1000, 1001, 1001};
  EXPECT_EQ(set_re(b, kKeep, 1000, false), 0);
  EXPECT_EQ(b[1], 1000u);
  EXPECT_EQ(b[2], 1001u);
  // Unprivileged: the real id may not become the saved one alone.
  uint32_t c[3] = {1000, 1001, 1002};
  EXPECT_EQ(set_re(c, 1002, kKeep, false), -kEPERM);
  EXPECT_EQ(set_re(c, kKeep, 1002, false), 0);  // the effective id may
  EXPECT_EQ(set_re(c, 5, 5, true), 0);
  EXPECT_EQ(c[0], 5u);
  EXPECT_EQ(c[2], 5u);
}

}  // namespace
