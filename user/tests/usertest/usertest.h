// usertest.h — what the usertest suites share with main.cc: the boot modules
// and the child side of the process tests.
//
// usertest is both the root task and, spawned from its own boot module, the
// children of the process tests. main(arg) tells them apart by the argument:
// the root task gets 0, a child a scenario number (never 0, always below
// kChildArgLimit).
#pragma once

#include <keel/keel.h>
#include <keel/start.h>

#include <string_view>

namespace usertest {

// Child scenario arguments are below this.
inline constexpr uint64_t kChildArgLimit = 0x10000;
// The address the kPagerTouch child reads; nothing is mapped there until its pager does it.
inline constexpr uint64_t kPagerAddr = 0x30000000;
// The start argument of that scenario (process_tests.cc: Scenario::kPagerTouch).
uint64_t pager_touch_arg();
// The start argument of the child that frees one block twice (alloc_tests.cc).
uint64_t double_free_arg();
// The start argument of the child that executes ud2 (process_tests.cc: Scenario::kUd2).
uint64_t ud2_arg();

// The boot module named `name` (from the root task's StartInfo): its
// MemoryObject and size. False if there is none (or in a child).
inline bool find_module(std::string_view name, keel::Handle* vmo, uint64_t* size) {
  return keel::find_module(name, vmo, size);
}

// Runs child scenario `arg` (process_tests.cc) and returns its exit code;
// some scenarios never return (faults, process_exit, thread_exit).
int64_t child_main(uint64_t arg);

}  // namespace usertest
