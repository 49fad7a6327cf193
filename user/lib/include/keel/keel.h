// keel/keel.h — the native user library: program start-up, printing, exit.
//
// Programs define `int main(uint64_t arg)`; libkeel runs C++ constructors,
// calls it with the StartInfo's `arg` (0 for the root task, the parent's
// argument for a spawned program; keel/start.h), and exits the process with
// its return value.
#pragma once

#include <keel_syscalls.h>
#include <ktl/error.h>
#include <ktl/format.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel {

// Writes text to the kernel log (the debug_write syscall).
void write(std::string_view text);

// Formatted output to the kernel log: keel::print("x = {}\n", x).
template <typename... A>
void print(std::string_view fmt, const A&... args) {
  char buf[512];
  size_t n = ktl::format(buf, sizeof buf, fmt, args...);
  write({buf, n});
}

[[noreturn]] void exit(int64_t code);

// The Status with the same name as `e` (ktl::Error values are not ABI; only
// their names match keel::Status's). None is Ok.
Status status_from(ktl::Error e);

// Monotonic time in ns.
uint64_t now_ns();

}  // namespace keel

#ifndef KEEL_HOST_TEST  // (host tests of libkeel's pure parts have the host's main)
int main(uint64_t arg);
#endif

namespace keel {
// The value a syscall returns for status `s` (0 for Ok-like success).
constexpr int64_t err(Status s) { return -static_cast<int64_t>(s); }
}  // namespace keel
