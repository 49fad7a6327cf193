// cxx.cc — the few C++ runtime hooks a freestanding, exception-free kernel needs.
#include <lib/panic.h>

#include <bits/functexcept.h>

extern "C" {
// Called through a vtable slot of an abstract class: always a bug.
void __cxa_pure_virtual() { panic("pure virtual function called"); }
// The kernel is built with -fno-use-cxa-atexit and never exits, so static
// destructors are never registered; this symbol only satisfies the ABI.
void* __dso_handle = nullptr;
}

// libstdc++ calls these when a checked operation fails (string_view::substr
// past the end, ...). With -fno-exceptions they must not return: a bug.
// (Their first declarations in <bits/functexcept.h> carry noreturn.)
namespace std {
void __throw_out_of_range_fmt(const char*, ...) { panic("std: out of range"); }
void __throw_out_of_range(const char*) { panic("std: out of range"); }
void __throw_length_error(const char*) { panic("std: length error"); }
void __throw_bad_alloc() { panic("std: bad alloc"); }
}  // namespace std

