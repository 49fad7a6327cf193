// lib/panic.h — stop the system after an unrecoverable kernel error.
//
// panic() prints the message (after any log lines still held back for the
// banner) and a backtrace of the caller, stops the other CPUs with an NMI,
// tells a test runner (the isa-debug-exit port, with `debugexit`) and halts.
// It never returns.
#pragma once

#include <ktl/format.h>
#include <ktl/result.h>

#include <string_view>

[[noreturn]] void panic_str(std::string_view message);

template <typename... Args>
[[noreturn]] void panic(std::string_view fmt, const Args&... args) {
  char buf[256];
  ktl::format(buf, sizeof buf, fmt, args...);
  panic_str(buf);
}

#define KASSERT(cond)                                                         \
  do {                                                                        \
    if (!(cond)) [[unlikely]]                                                 \
      panic("assertion failed: {} at {}:{}", #cond, __FILE__, __LINE__);      \
  } while (0)

// Boot-time steps that cannot fail on a working machine: the value, or a panic
// naming the step and the error.
template <typename T>
T must(ktl::Result<T> r, std::string_view what) {
  if (!r.ok()) panic("{}: {}", what, ktl::error_name(r.error()));
  return r.release_value();
}
inline void must(ktl::Result<void> r, std::string_view what) {
  if (!r.ok()) panic("{}: {}", what, ktl::error_name(r.error()));
}
