// keel.cc — libkeel's start-up and basic services.
#include <keel/keel.h>
#include <keel/start.h>

#include <bits/functexcept.h>

extern "C" void (*const __init_array_start[])(), (*const __init_array_end[])();

namespace keel {

void write(std::string_view text) {
  while (!text.empty()) {
    size_t n = text.size() < 1024 ? text.size() : 1024;
    keel::sys::debug_write(text.data(), n);
    text.remove_prefix(n);
  }
}

[[noreturn]] void exit(int64_t code) {
  keel::sys::process_exit(code);
  __builtin_trap();
}

uint64_t now_ns() {
  uint64_t ns = 0;
  keel::sys::clock_get(&ns);
  return ns;
}

}  // namespace keel

extern "C" [[noreturn]] void keel_start(uint64_t arg) {
  keel::record_start_arg(arg);
  for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
  // A program started with a StartInfo gets its `arg`; the root task's is 0.
  const keel::StartInfo* si = keel::start_info();
  keel::exit(main(si != nullptr ? si->arg : arg));
}

// The compiler may emit calls to these.
extern "C" {
void __cxa_pure_virtual() { __builtin_trap(); }
void* __dso_handle = nullptr;
}
namespace std {
void __throw_out_of_range_fmt(const char*, ...) { __builtin_trap(); }
void __throw_out_of_range(const char*) { __builtin_trap(); }
void __throw_length_error(const char*) { __builtin_trap(); }
void __throw_bad_alloc() { __builtin_trap(); }
}  // namespace std
