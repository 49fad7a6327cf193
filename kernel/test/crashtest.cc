// crashtest.cc — deliberate crashes for tools/keel-test's panic-path tests.
#include <lib/klog.h>
#include <lib/panic.h>
#include <test/crashtest.h>

#include <cstdint>

namespace {

[[gnu::noinline]] void crash_test_page_fault() {
  volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(0xdead000);
  *p = 1;
}

volatile uint64_t g_recursion_limit = UINT64_MAX;  // volatile: the compiler cannot see the end

[[gnu::noinline]] uint64_t crash_test_recurse(uint64_t n) {
  volatile char pad[512];
  pad[0] = char(n);
  if (n >= g_recursion_limit) return 0;
  return crash_test_recurse(n + 1) + pad[0];
}

}  // namespace

void run_crash_test(std::string_view kind) {
  klog::notice("crashtest: {}", kind);
  if (kind == "pagefault") crash_test_page_fault();
  if (kind == "stackoverflow") (void)crash_test_recurse(0);
  if (kind == "panic") panic("crashtest: deliberate panic");
  if (kind == "ud") asm volatile("ud2");
  klog::warn("crashtest: unknown kind '{}'", kind);
}
