// alloc_tests.cc — libkeel's allocator (keel/alloc.h): sizes and alignment,
// reuse, realloc, large blocks, exhaustion, several threads at once, and a
// double free stopping the process.
#include "usertest.h"

#include <keel/alloc.h>
#include <keel/spawn.h>
#include <keel/start.h>
#include <keel/utest.h>

#include <new>

using keel::Status;
namespace sys = keel::sys;

namespace {

constexpr uint64_t kMs = 1'000'000;

// A byte pattern that depends on the block and the offset.
uint8_t pattern(uintptr_t seed, size_t i) { return uint8_t(seed * 31 + i * 7); }

void fill(void* p, size_t n, uintptr_t seed) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = pattern(seed, i);
}
bool intact(const void* p, size_t n, uintptr_t seed) {
  auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != pattern(seed, i)) return false;
  return true;
}

}  // namespace

UTEST(alloc, sizes_alignment_and_contents) {
  const keel::HeapStats before = keel::heap_stats();
  constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 100, 255, 1000, 2048, 2049, 4096, 10000, 300000};
  void* blocks[sizeof kSizes / sizeof kSizes[0]];
  for (size_t i = 0; i < sizeof kSizes / sizeof kSizes[0]; ++i) {
    blocks[i] = keel::alloc(kSizes[i]);
    UASSERT(blocks[i] != nullptr);
    UEXPECT_EQ(reinterpret_cast<uintptr_t>(blocks[i]) % 16, 0u);
    UEXPECT(keel::alloc_size(blocks[i]) >= kSizes[i]);
    fill(blocks[i], kSizes[i], i);
  }
  for (size_t i = 0; i < sizeof kSizes / sizeof kSizes[0]; ++i) UEXPECT(intact(blocks[i], kSizes[i], i));
  for (size_t i = 0; i < sizeof kSizes / sizeof kSizes[0]; ++i)
    for (size_t j = i + 1; j < sizeof kSizes / sizeof kSizes[0]; ++j) UEXPECT(blocks[i] != blocks[j]);
  const keel::HeapStats during = keel::heap_stats();
  UEXPECT_EQ(during.live_blocks, before.live_blocks + sizeof kSizes / sizeof kSizes[0]);
  for (void* b : blocks) keel::free(b);
  keel::free(nullptr);
  const keel::HeapStats after = keel::heap_stats();
  UEXPECT_EQ(after.live_blocks, before.live_blocks);
  UEXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  // Large blocks go back to the kernel (the 300,000-byte one is past what the
  // heap caches for reuse): the mapped total does not keep them.
  UEXPECT(after.bytes_mapped < during.bytes_mapped);
}

UTEST(alloc, freed_large_mappings_are_reused) {
  // A freed large block of up to 64 KiB stays mapped for the next allocation
  // of its page count (no vm_unmap, so no TLB shootdown, per free).
  void* a = keel::alloc(3000);
  UASSERT(a != nullptr);
  const keel::HeapStats held = keel::heap_stats();
  keel::free(a);
  void* b = keel::alloc(3500);
  UEXPECT(b == a);
  UEXPECT_EQ(keel::heap_stats().bytes_mapped, held.bytes_mapped);
  fill(b, 3500, 7);
  UEXPECT(intact(b, 3500, 7));
  keel::free(b);
}

UTEST(alloc, freed_blocks_are_reused) {
  void* a = keel::alloc(40);
  UASSERT(a != nullptr);
  keel::free(a);
  void* b = keel::alloc(40);
  UEXPECT_EQ(a, b);  // LIFO per size class
  keel::free(b);
}

UTEST(alloc, zeroed_realloc_and_overflow) {
  auto* z = static_cast<uint8_t*>(keel::alloc_zeroed(100, 7));
  UASSERT(z != nullptr);
  bool zero = true;
  for (size_t i = 0; i < 700; ++i) zero = zero && z[i] == 0;
  UEXPECT(zero);
  fill(z, 700, 3);
  auto* bigger = static_cast<uint8_t*>(keel::realloc(z, 50000));  // small → large: moved, contents kept
  UASSERT(bigger != nullptr);
  UEXPECT(intact(bigger, 700, 3));
  auto* smaller = static_cast<uint8_t*>(keel::realloc(bigger, 10));  // large → small
  UASSERT(smaller != nullptr);
  UEXPECT(intact(smaller, 10, 3));
  keel::free(smaller);
  UEXPECT(keel::alloc_zeroed(~size_t(0) / 2, 3) == nullptr);  // the product overflows
  UEXPECT(keel::alloc(~size_t(0)) == nullptr);
  void* r = keel::realloc(nullptr, 24);
  UEXPECT(r != nullptr);
  keel::free(r);
}

UTEST(alloc, out_of_memory_is_nullptr_not_a_crash) {
  // More than the process's quota (and than the machine has): refused cleanly.
  UEXPECT(keel::alloc(size_t(64) << 30) == nullptr);
  int* n = new (std::nothrow) int[size_t(1) << 36];
  UEXPECT(n == nullptr);
  // And the heap still works.
  void* p = keel::alloc(64);
  UEXPECT(p != nullptr);
  keel::free(p);
}

namespace {

struct Worker {
  uint32_t done_notification;
  uint32_t index;
  uint32_t errors;
};

// Allocates, fills, checks and frees blocks of varied sizes, keeping up to 32 live.
void churn(uint64_t raw) {
  auto* w = reinterpret_cast<Worker*>(raw);
  void* live[32] = {};
  size_t sizes[32] = {};
  uint64_t state = 0x9e3779b97f4a7c15ull * (w->index + 1);
  for (int op = 0; op < 4000; ++op) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    size_t slot = (state >> 33) % 32;
    if (live[slot] != nullptr) {
      if (!intact(live[slot], sizes[slot], reinterpret_cast<uintptr_t>(live[slot]))) ++w->errors;
      keel::free(live[slot]);
      live[slot] = nullptr;
    } else {
      size_t size = (state >> 40) % 3000;
      live[slot] = keel::alloc(size);
      if (live[slot] == nullptr) {
        ++w->errors;
        continue;
      }
      sizes[slot] = size;
      fill(live[slot], size, reinterpret_cast<uintptr_t>(live[slot]));
    }
  }
  for (size_t i = 0; i < 32; ++i) keel::free(live[i]);
  keel::signal_and_exit(w->done_notification, uint64_t(1) << w->index);
}

}  // namespace

UTEST(alloc, threads_allocate_concurrently) {
  constexpr uint32_t kThreads = 4;
  const keel::HeapStats before = keel::heap_stats();
  uint32_t done = 0;
  UASSERT(sys::notification_create(&done) == 0);
  static Worker workers[kThreads];
  uint64_t stacks[kThreads] = {};
  uint32_t threads[kThreads] = {};
  for (uint32_t i = 0; i < kThreads; ++i) {
    workers[i] = Worker{done, i, 0};
    threads[i] = keel::start_thread(&churn, reinterpret_cast<uint64_t>(&workers[i]), 64 * 1024, &stacks[i]);
    UEXPECT(threads[i] != 0);
  }
  uint64_t got = 0;
  const uint64_t end = keel::now_ns() + 20'000 * kMs;
  while (got != (1u << kThreads) - 1) {
    uint64_t bits = 0;
    if (sys::notification_wait(done, end, &bits) != 0) break;
    got |= bits;
  }
  UEXPECT_EQ(got, (1u << kThreads) - 1);
  for (uint32_t i = 0; i < kThreads; ++i) {
    UEXPECT_EQ(workers[i].errors, 0u);
    sys::vm_unmap(keel::self_process(), stacks[i], 64 * 1024);
    sys::handle_close(threads[i]);
  }
  sys::handle_close(done);
  const keel::HeapStats after = keel::heap_stats();
  UEXPECT_EQ(after.live_blocks, before.live_blocks);
  UEXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

UTEST(alloc, double_free_stops_the_process) {
  keel::Handle image = keel::kInvalidHandle, proc = keel::kInvalidHandle;
  uint64_t size = 0;
  UASSERT(keel::find_module("usertest", &image, &size));
  UASSERT(keel::spawn(image, size, "double-free", usertest::double_free_arg(), &proc) == Status::Ok);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + 10'000 * kMs), Status::Ok);
  UEXPECT_EQ(code, keel::kExitFaultBase - 6);  // ud2: invalid opcode
  sys::handle_close(proc);
}
