// usertest — Keel's userspace test suite, started as the root task
// (kernel command line init=usertest). Prints one utest line per test.
//
// The same image also runs as the children of the process tests, spawned
// with a small scenario number as their argument (usertest.h).
#include "usertest.h"

#include <keel/start.h>
#include <keel/utest.h>

namespace sys = keel::sys;

int main(uint64_t arg) {
  if (arg != 0) return int(usertest::child_main(arg));  // a child: the root task gets 0
  keel::print("usertest: starting\n");
  // The root task's quota is the whole machine; the suite runs inside an
  // ordinary process's default limits, so that the quota tests exhaust a
  // quota rather than the machine's memory.
  if (sys::process_set_limits(keel::start_info()->self_process, keel::kQuotaDefaultBytes, keel::kQuotaDefaultObjects) != 0)
    keel::print("usertest: cannot lower its quota to the defaults\n");
  unsigned failed = keel::utest::run_all();
  return failed == 0 ? 0 : 1;
}
