// ktest.cc — the in-kernel test runner.
#include <lib/klog.h>
#include <test/ktest.h>

extern "C" const ktest::Test __ktest_start[], __ktest_end[];

namespace ktest {

void Context::fail(const char* file, int line, std::string_view what) {
  ++failures_;
  // Strip the directory: file names are unique enough and lines stay short.
  std::string_view f(file);
  size_t slash = f.rfind('/');
  if (slash != std::string_view::npos) f = f.substr(slash + 1);
  klog::error("ktest:   {}:{}: {}", f, line, what);
}

unsigned run(std::string_view suite, unsigned* passed_out) {
  unsigned passed = 0, failed = 0;
  for (const Test* t = __ktest_start; t < __ktest_end; ++t) {
    if (!suite.empty() && suite != t->suite) continue;
    Context ctx;
    t->fn(ctx);
    if (ctx.failed()) {
      ++failed;
      klog::error("ktest: FAIL {}.{}", t->suite, t->name);
    } else {
      ++passed;
      klog::info("ktest: PASS {}.{}", t->suite, t->name);
    }
  }
  klog::notice("ktest: {} passed, {} failed", passed, failed);
  if (passed_out) *passed_out = passed;
  return failed;
}

}  // namespace ktest
