// keel/start.h — what this program was started with (StartInfo): from the
// kernel for the root task, from its parent (keel::spawn) otherwise.
#pragma once

#include <keel_syscalls.h>

#include <string_view>

namespace keel {

// The StartInfo the first thread was started with, or nullptr when it was
// started some other way (a raw thread_start whose argument is not a
// StartInfo address).
const StartInfo* start_info();

// The StartInfo module named `name` (at most 32 bytes): for the root task a
// boot module (its MemoryObject and size in bytes), for a spawned program a
// handle its parent gave (keel::spawn_give; size 0 unless a MemoryObject).
// False if there is none.
bool find_module(std::string_view name, Handle* vmo, uint64_t* size);

// The arguments the manifest's `args` lines gave this service (init passes
// them as the StartInfo module "args": NUL-terminated strings, one after
// another). Fills out[0..n) with views into a buffer of libkeel's and returns
// n (at most `max`; 0 without the module).
size_t start_args(std::string_view* out, size_t max);

// Records the start argument (called by keel_start before main).
void record_start_arg(uint64_t arg);

// A thread in this process (needs start_info()->self_process): maps a stack of
// `stack_size` bytes and starts fn(arg) on it. Returns the thread handle or 0.
// The stack stays mapped after the thread ends (there is no join yet): a
// caller that wants it back passes `stack_out`, has the thread end with
// signal_and_exit(), and unmaps the stack once it has seen the signal.
Handle start_thread(void (*fn)(uint64_t), uint64_t arg, size_t stack_size = 64 * 1024,
                    uint64_t* stack_out = nullptr);

// notification_signal(notification, bits), then thread_exit, touching no
// memory in between: once the signal has been seen, the thread's stack may be
// unmapped.
[[noreturn]] void signal_and_exit(Handle notification, uint64_t bits);

}  // namespace keel
