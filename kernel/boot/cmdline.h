// boot/cmdline.h — the kernel command line: space-separated `flag` and `key=value` words.
//
// Options the kernel reads (docs/boot.md):
//   ktest[=SUITE]   run the in-kernel tests (all, or one suite), then power off
//   loglevel=N      console log threshold, 0 (emergency) .. 5 (debug); default 4
//   nohpet          ignore the HPET (calibrate with the PIT)
//   debugexit       on panic, write the QEMU isa-debug-exit port (status 3)
//   poweroff        power off right after boot (boot tests)
//   crashtest=KIND  deliberately crash after boot: pagefault, stackoverflow,
//                   panic, ud (tests of the panic path)
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace boot {

class CommandLine {
 public:
  constexpr CommandLine() = default;
  explicit constexpr CommandLine(std::string_view text) : text_(text) {}

  // True if the word `name` or `name=...` is present.
  bool has(std::string_view name) const;
  // The value of the first `name=value` word; nullopt if absent or if the word
  // is a bare flag. An empty value ("name=") is an empty string_view.
  std::optional<std::string_view> value(std::string_view name) const;
  // The value as an unsigned decimal number; nullopt if absent or not a number
  // (no sign, digits only, no overflow).
  std::optional<uint64_t> number(std::string_view name) const;

  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
};

}  // namespace boot
