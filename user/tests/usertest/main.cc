// usertest — Keel's userspace test suite, started as the root task
// (kernel command line init=usertest). Prints one utest line per test.
#include <keel/utest.h>

int main(uint64_t) {
  keel::print("usertest: starting\n");
  unsigned failed = keel::utest::run_all();
  return failed == 0 ? 0 : 1;
}
