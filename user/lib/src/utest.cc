// utest.cc — the userspace test runner.
#include <keel/utest.h>

extern "C" const keel::utest::Test __utest_start[], __utest_end[];

namespace keel::utest {

void Context::fail(const char* file, int line, const char* what) {
  ++failures;
  std::string_view f(file);
  size_t slash = f.rfind('/');
  if (slash != std::string_view::npos) f = f.substr(slash + 1);
  keel::print("utest:   {}:{}: {}\n", f, line, what);
}

unsigned run_all(const char* suite) {
  unsigned passed = 0, failed = 0;
  for (const Test* t = __utest_start; t < __utest_end; ++t) {
    if (suite && std::string_view(suite) != t->suite) continue;
    Context ctx;
    t->fn(ctx);
    if (ctx.failures) {
      ++failed;
      keel::print("utest: FAIL {}.{}\n", t->suite, t->name);
    } else {
      ++passed;
      keel::print("utest: PASS {}.{}\n", t->suite, t->name);
    }
  }
  keel::print("utest: {} passed, {} failed\n", passed, failed);
  return failed;
}

}  // namespace keel::utest
