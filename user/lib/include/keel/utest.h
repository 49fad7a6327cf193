// keel/utest.h — userspace tests, in the style of ktest.h.
//
//   UTEST(handles, close_twice_fails) {
//     UEXPECT_EQ(keel::sys::handle_close(h), 0);
//   }
//
// UTEST registers the test in the .utest section; keel::utest::run_all()
// prints "utest: PASS name" / "utest: FAIL name: why" per test and ends with
// "utest: N passed, M failed". tools/keel-test reads those lines.
#pragma once

#include <keel/keel.h>

namespace keel::utest {

struct Context {
  unsigned failures = 0;
  void fail(const char* file, int line, const char* what);
};

struct Test {
  const char* suite;
  const char* name;
  void (*fn)(Context&);
};

// Runs every test (or those of `suite`); returns the number that failed.
unsigned run_all(const char* suite = nullptr);

}  // namespace keel::utest

#define UTEST(suite, name)                                                                        \
  static void utest_fn_##suite##_##name(::keel::utest::Context& utest_ctx);                       \
  [[gnu::used, gnu::section(".utest")]] static const ::keel::utest::Test utest_entry_##suite##_##name = { \
      #suite, #name, &utest_fn_##suite##_##name};                                                 \
  static void utest_fn_##suite##_##name([[maybe_unused]] ::keel::utest::Context& utest_ctx)

#define UEXPECT(cond)                                                        \
  do {                                                                       \
    if (!(cond)) utest_ctx.fail(__FILE__, __LINE__, "expected " #cond);      \
  } while (0)

#define UEXPECT_EQ(a, b)                                                                       \
  do {                                                                                         \
    auto utest_a = (a);                                                                        \
    auto utest_b = (b);                                                                        \
    if (!(utest_a == utest_b)) {                                                               \
      char utest_msg[200];                                                                     \
      ktl::format(utest_msg, sizeof utest_msg, "expected " #a " == " #b " ({} vs {})",         \
                  int64_t(utest_a), int64_t(utest_b));                                         \
      utest_ctx.fail(__FILE__, __LINE__, utest_msg);                                           \
    }                                                                                          \
  } while (0)

#define UASSERT(cond)                                                        \
  do {                                                                       \
    if (!(cond)) {                                                           \
      utest_ctx.fail(__FILE__, __LINE__, "required " #cond);                 \
      return;                                                                \
    }                                                                        \
  } while (0)
