// usertest — Keel's userspace test suite, started as the root task
// (kernel command line init=usertest). Prints one utest line per test.
//
// The same image also runs as the children of the process tests, spawned
// with a small scenario number as their argument (usertest.h).
#include "usertest.h"

#include <keel/start.h>
#include <keel/utest.h>

int main(uint64_t arg) {
  if (arg < usertest::kChildArgLimit) return int(usertest::child_main(arg));
  keel::print("usertest: starting\n");
  unsigned failed = keel::utest::run_all();
  return failed == 0 ? 0 : 1;
}
