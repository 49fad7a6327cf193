// usertest — Keel's userspace test suite, started as the root task
// (kernel command line init=usertest). Prints one utest line per test.
//
// The same image also runs as the children of the process tests, spawned
// with a small scenario number as their argument (usertest.h).
#include "usertest.h"

#include <keel/start.h>
#include <keel/utest.h>

bool usertest::find_module(std::string_view name, keel::Handle* vmo, uint64_t* size) {
  const keel::StartInfo* si = keel::start_info();
  if (si == nullptr) return false;
  for (uint32_t i = 0; i < si->module_count && i < keel::kStartMaxModules; ++i) {
    const char* s = reinterpret_cast<const char*>(&si->module_name[4 * i]);
    size_t len = 0;
    while (len < 32 && s[len] != 0) ++len;
    if (std::string_view(s, len) == name) {
      *vmo = si->module_vmo[i];
      *size = si->module_size[i];
      return true;
    }
  }
  return false;
}

int main(uint64_t arg) {
  if (arg < usertest::kChildArgLimit) return int(usertest::child_main(arg));
  keel::print("usertest: starting\n");
  unsigned failed = keel::utest::run_all();
  return failed == 0 ? 0 : 1;
}
