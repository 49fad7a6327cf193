// test/ktest.h — in-kernel tests.
//
//   KTEST(mm, frame_alloc_is_aligned) {
//     auto f = mm::alloc_frames(9);
//     KASSERT_OK(f);                       // stops this test on failure
//     KEXPECT_EQ(*f % (2 << 20), 0u);      // records a failure, goes on
//   }
//
// KTEST registers the test in the .ktest linker section; the kernel command
// line option `ktest` (or `ktest=SUITE`) runs them after boot. Each result is
// a console line "ktest: PASS suite.name" or "ktest: FAIL suite.name: why",
// and the run ends with "ktest: N passed, M failed". tools/keel-test reads them.
#pragma once

#include <ktl/format.h>
#include <ktl/result.h>

#include <string_view>

namespace ktest {

class Context {
 public:
  // Records a failure (the first message is kept for the summary line).
  void fail(const char* file, int line, std::string_view what);
  bool failed() const { return failures_ > 0; }
  unsigned failures() const { return failures_; }

 private:
  unsigned failures_ = 0;
};

struct Test {
  const char* suite;
  const char* name;
  void (*fn)(Context&);
};

// Runs every test whose suite matches `suite` (all if empty). Returns the
// number of failed tests; prints the summary line.
unsigned run(std::string_view suite, unsigned* passed_out = nullptr);

}  // namespace ktest

#define KTEST(suite, name)                                                                   \
  static void ktest_fn_##suite##_##name(::ktest::Context& ktest_ctx);                        \
  [[gnu::used, gnu::section(".ktest")]] static const ::ktest::Test ktest_entry_##suite##_##name = { \
      #suite, #name, &ktest_fn_##suite##_##name};                                            \
  static void ktest_fn_##suite##_##name([[maybe_unused]] ::ktest::Context& ktest_ctx)

#define KEXPECT(cond)                                                      \
  do {                                                                     \
    if (!(cond)) ktest_ctx.fail(__FILE__, __LINE__, "expected " #cond);    \
  } while (0)

#define KEXPECT_EQ(a, b)                                                                   \
  do {                                                                                     \
    auto ktest_a = (a);                                                                    \
    auto ktest_b = (b);                                                                    \
    if (!(ktest_a == ktest_b)) {                                                           \
      char ktest_msg[160];                                                                 \
      ktl::format(ktest_msg, sizeof ktest_msg, "expected " #a " == " #b " ({} vs {})",     \
                  ktest_a, ktest_b);                                                       \
      ktest_ctx.fail(__FILE__, __LINE__, ktest_msg);                                       \
    }                                                                                      \
  } while (0)

#define KASSERT_TRUE(cond)                                                 \
  do {                                                                     \
    if (!(cond)) {                                                         \
      ktest_ctx.fail(__FILE__, __LINE__, "required " #cond);               \
      return;                                                              \
    }                                                                      \
  } while (0)

// For ktl::Result values.
#define KASSERT_OK(result)                                                               \
  do {                                                                                   \
    if (!(result).ok()) {                                                                \
      char ktest_msg[160];                                                               \
      ktl::format(ktest_msg, sizeof ktest_msg, #result " failed: {}",                    \
                  ktl::error_name((result).error()));                                    \
      ktest_ctx.fail(__FILE__, __LINE__, ktest_msg);                                     \
      return;                                                                            \
    }                                                                                    \
  } while (0)
