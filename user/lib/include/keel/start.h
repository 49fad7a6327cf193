// keel/start.h — what the kernel handed the root task (StartInfo), if this
// process is the root task.
#pragma once

#include <keel_syscalls.h>

namespace keel {

// The StartInfo the kernel passed to the first thread, or nullptr when this
// process was started by another process (its start argument is not a
// StartInfo address).
const StartInfo* start_info();

// Records the start argument (called by keel_start before main).
void record_start_arg(uint64_t arg);

// A thread in this process (needs start_info()->self_process): maps a stack of
// `stack_size` bytes and starts fn(arg) on it. Returns the thread handle or 0.
Handle start_thread(void (*fn)(uint64_t), uint64_t arg, size_t stack_size = 64 * 1024);

}  // namespace keel
