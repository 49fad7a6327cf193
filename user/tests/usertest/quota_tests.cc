// quota_tests.cc — hierarchical quotas from user mode: a child whose limits
// its parent lowered (process_set_limits) gets QuotaExceeded past them, for
// objects and for threads, and cannot escape them through grandchildren;
// process_set_limits' errors; and every charge comes back once the children
// are gone (the parent's own quota, which holds its children's charges, and
// objects_live, return to what they were).
//
// The children load the usertest image but skip its start-up: their first
// thread starts at usertest_quota_child_entry (the image is static and
// non-PIE, so its address is the same in every process) and runs
// quota_child_main(arg), which uses raw syscalls only and exits with a code
// saying which check failed (kChildOk: none). arg = scenario | handle << 32.
#include "usertest.h"

#include <keel/spawn.h>
#include <keel/start.h>
#include <keel/utest.h>

using keel::Handle;
using keel::Status;
namespace sys = keel::sys;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSoon = 10'000 * kMs;  // QEMU TCG is slow

enum class Scenario : uint64_t {
  kFill = 1,  // creates notifications until QuotaExceeded (limit kFillObjects)
  kThreads,   // creates threads in itself (handle given) until QuotaExceeded (limit kThreadBytes)
  kNest,      // a grandchild's threads count against its limit (kNestObjects)
};
constexpr int64_t kChildOk = 42;
constexpr uint32_t kFillObjects = 64;
constexpr uint64_t kThreadBytes = 1 << 20;
constexpr uint32_t kNestObjects = 48;
constexpr uint32_t kMaxThreads = 256;
constexpr uint32_t kMaxNested = 1024;

constexpr uint64_t child_arg(Scenario s, Handle h = keel::kInvalidHandle) { return uint64_t(s) | uint64_t(h) << 32; }

keel::SystemStats stats() {
  keel::SystemStats s{};
  sys::system_stats(&s, sizeof s);
  return s;
}

bool same_usage(const keel::SystemStats& a, const keel::SystemStats& b) {
  return a.quota_bytes_used == b.quota_bytes_used && a.quota_objects_used == b.quota_objects_used;
}

const char kThreadName[] = "q";

// ---------------------------------------------------------------- the child side

// Every scenario starts from the child's own usage (its address space, its
// mappings, its first thread: charged to it) and ends back there.
//
// The kernel also charges what grows and never shrinks while the process
// lives: its handle table's slots and its page-table pages. So before taking
// the first snapshot, a scenario warms up: it touches `held` (the page tables
// for it exist from then on) and fills it with `n` duplicates of `any` (no
// object charged, but the table grows to its final size), then closes them.
// Returns false if a syscall failed.
bool warm_up_alone(Handle* held, uint32_t n) {
  Handle any = keel::kInvalidHandle;  // a notification of its own, closed again
  if (sys::notification_create(&any) != 0) return false;
  uint32_t made = 0;
  while (made < n && sys::handle_duplicate(any, keel::kRightDuplicate, &held[made]) == 0) ++made;
  for (uint32_t i = 0; i < made; ++i) sys::handle_close(held[i]);
  sys::handle_close(any);
  return made == n;
}

int64_t fill() {
  static Handle held[kFillObjects];
  if (!warm_up_alone(held, kFillObjects)) return 21;
  const keel::SystemStats s0 = stats();
  if (s0.quota_objects_limit != kFillObjects) return 10;
  if (s0.quota_objects_used == 0 || s0.quota_objects_used >= kFillObjects) return 11;
  uint32_t n = 0;
  int64_t last = 0;
  while (n < kFillObjects && (last = sys::notification_create(&held[n])) == 0) ++n;
  if (last != keel::err(Status::QuotaExceeded)) return 12;
  // Exactly full: the refusal came at the limit and left nothing charged.
  const keel::SystemStats s1 = stats();
  if (s1.quota_objects_used != kFillObjects) return 13;
  if (n != kFillObjects - s0.quota_objects_used) return 14;
  Handle h = keel::kInvalidHandle;
  if (sys::vmo_create(keel::kPageSize, 0, &h) != keel::err(Status::QuotaExceeded)) return 15;
  if (sys::endpoint_create(&h) != keel::err(Status::QuotaExceeded)) return 16;
  if (!same_usage(stats(), s1)) return 17;
  // One back, one fits again.
  if (sys::handle_close(held[n - 1]) != 0) return 18;
  if (sys::notification_create(&held[n - 1]) != 0) return 19;
  for (uint32_t i = 0; i < n; ++i) sys::handle_close(held[i]);
  if (!same_usage(stats(), s0)) return 20;
  return kChildOk;
}

int64_t threads(Handle self) {
  static Handle held[kMaxThreads];
  if (!warm_up_alone(held, kMaxThreads)) return 41;
  const keel::SystemStats s0 = stats();
  if (s0.quota_bytes_limit != kThreadBytes) return 30;
  if (sys::thread_create(self, kThreadName, 1, &held[0]) != 0) return 31;
  // One thread: one object, and at least its 16 KiB kernel stack.
  const keel::SystemStats s1 = stats();
  const uint64_t per_thread = s1.quota_bytes_used - s0.quota_bytes_used;
  if (s1.quota_objects_used != s0.quota_objects_used + 1) return 32;
  if (per_thread <= 16 * 1024 || per_thread > 64 * 1024) return 33;
  uint32_t n = 1;
  int64_t last = 0;
  while (n < kMaxThreads && (last = sys::thread_create(self, kThreadName, 1, &held[n])) == 0) ++n;
  if (last != keel::err(Status::QuotaExceeded)) return 34;
  // The bytes ran out: less than a thread's worth is left, and no more than
  // the threads made is charged.
  const keel::SystemStats s2 = stats();
  if (s2.quota_bytes_used != s0.quota_bytes_used + n * per_thread) return 35;
  if (s2.quota_bytes_limit - s2.quota_bytes_used >= per_thread) return 36;
  if (n < 8) return 37;
  // A destroyed thread returns its charge: never started, it is discarded by
  // thread_kill and destroyed when its handle is closed.
  for (uint32_t i = 0; i < n; ++i) {
    if (sys::thread_kill(held[i]) != 0 || sys::handle_close(held[i]) != 0) return 38;
  }
  if (!same_usage(stats(), s0)) return 39;
  if (sys::thread_create(self, kThreadName, 1, &held[0]) != 0) return 40;  // room again
  sys::thread_kill(held[0]);
  sys::handle_close(held[0]);
  sys::handle_close(self);
  return kChildOk;
}

int64_t nest() {
  static Handle held[kMaxNested];
  if (!warm_up_alone(held, kMaxNested)) return 61;
  const keel::SystemStats s0 = stats();
  if (s0.quota_objects_limit != kNestObjects) return 50;
  // A grandchild: a fresh process with the default limits of its own, inside
  // ours. The Process is charged to us, its address space to it (and us).
  const char name[] = "grandchild";
  Handle g = keel::kInvalidHandle;
  if (sys::process_create(name, sizeof name - 1, &g) != 0) return 51;
  const keel::SystemStats s1 = stats();
  if (s1.quota_objects_used < s0.quota_objects_used + 2) return 52;
  // Its threads are charged to it, and so to us: our limit stops them long
  // before its own 65,536 objects would.
  uint32_t n = 0;
  int64_t last = 0;
  while (n < kMaxNested && (last = sys::thread_create(g, kThreadName, 1, &held[n])) == 0) ++n;
  if (last != keel::err(Status::QuotaExceeded)) return 53;
  if (n != kNestObjects - s1.quota_objects_used) return 54;
  if (stats().quota_objects_used != kNestObjects) return 55;
  // Nothing else fits either, and the grandchild's limits cannot be raised.
  Handle other = keel::kInvalidHandle;
  if (sys::process_create(name, sizeof name - 1, &other) != keel::err(Status::QuotaExceeded)) return 56;
  if (sys::process_set_limits(g, keel::kQuotaDefaultBytes, keel::kQuotaDefaultObjects + 1) !=
      keel::err(Status::InvalidArgument))
    return 57;
  // Killing the grandchild drops its unstarted threads; closing the handles
  // destroys them and it. Everything comes back.
  if (sys::process_kill(g) != 0) return 58;
  for (uint32_t i = 0; i < n; ++i) sys::handle_close(held[i]);
  if (sys::handle_close(g) != 0) return 59;
  if (!same_usage(stats(), s0)) return 60;
  return kChildOk;
}

}  // namespace

extern "C" [[noreturn]] void usertest_quota_child_main(uint64_t arg) {
  int64_t code = 1;
  switch (Scenario(arg & 0xff)) {
    case Scenario::kFill: code = fill(); break;
    case Scenario::kThreads: code = threads(Handle(arg >> 32)); break;
    case Scenario::kNest: code = nest(); break;
  }
  sys::process_exit(code);
  for (;;) {
  }
}

// A thread started with thread_start has no return address on its stack:
// align it and call the C++ side.
extern "C" void usertest_quota_child_entry();
asm(R"(
  .pushsection .text
  .global usertest_quota_child_entry
  .type usertest_quota_child_entry, @function
usertest_quota_child_entry:
  xorl %ebp, %ebp
  andq $-16, %rsp
  call usertest_quota_child_main
  ud2
  .size usertest_quota_child_entry, . - usertest_quota_child_entry
  .popsection
)");

// ---------------------------------------------------------------- the parent side

namespace {

// The parent's usage once earlier tests' objects have finished dying: its
// quota (which includes every child's charges) and the kernel's live objects.
keel::SystemStats settled() {
  const uint64_t end = keel::now_ns() + kSoon;
  keel::SystemStats last = stats();
  for (unsigned same = 0; same < 5 && keel::now_ns() < end;) {
    sys::thread_sleep(keel::now_ns() + kMs);
    keel::SystemStats now = stats();
    same = same_usage(now, last) && now.objects_live == last.objects_live ? same + 1 : 0;
    last = now;
  }
  return last;
}

// Waits (a dead thread is reaped a moment after it exits, and with it the
// last reference to its process) until the parent's usage is `before`'s again.
void expect_usage_back(keel::utest::Context& utest_ctx, const keel::SystemStats& before) {
  const uint64_t end = keel::now_ns() + kSoon;
  keel::SystemStats now = stats();
  while ((!same_usage(now, before) || now.objects_live != before.objects_live) && keel::now_ns() < end) {
    sys::thread_sleep(keel::now_ns() + kMs);
    now = stats();
  }
  UEXPECT_EQ(now.quota_bytes_used, before.quota_bytes_used);
  UEXPECT_EQ(now.quota_objects_used, before.quota_objects_used);
  UEXPECT_EQ(now.objects_live, before.objects_live);
}

// A child process with the usertest image loaded and a stack, no thread yet.
Handle prepare_child(keel::utest::Context& utest_ctx, uint64_t* stack_top) {
  Handle image = keel::kInvalidHandle;
  uint64_t image_size = 0;
  UEXPECT(usertest::find_module("usertest", &image, &image_size));
  const char name[] = "quota-child";
  Handle proc = keel::kInvalidHandle;
  if (sys::process_create(name, sizeof name - 1, &proc) != 0) return keel::kInvalidHandle;
  uint64_t entry = 0;
  Status loaded = keel::load_elf(proc, image, image_size, &entry);
  UEXPECT_EQ(loaded, Status::Ok);
  Status stack = keel::map_stack(proc, 64 * 1024, stack_top);
  UEXPECT_EQ(stack, Status::Ok);
  if (loaded != Status::Ok || stack != Status::Ok) {
    sys::process_kill(proc);
    sys::handle_close(proc);
    return keel::kInvalidHandle;
  }
  return proc;
}

// Starts `proc`'s first thread in quota_child_main(arg), waits for the
// process and returns its exit code (closing `proc`).
int64_t run_child(keel::utest::Context& utest_ctx, Handle proc, uint64_t stack_top, uint64_t arg) {
  int64_t code = -1;
  Status started = keel::start_thread_in(proc, "main", reinterpret_cast<uintptr_t>(&usertest_quota_child_entry),
                                         stack_top, arg);
  UEXPECT_EQ(started, Status::Ok);
  if (started == Status::Ok) {
    UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + kSoon), Status::Ok);
  } else {
    sys::process_kill(proc);
  }
  UEXPECT_EQ(sys::handle_close(proc), 0);
  return code;
}

}  // namespace

// (a) Objects past a lowered limit: QuotaExceeded in the child, which goes on
// and exits normally; the parent is unaffected.
UTEST(quota, child_past_its_limit_gets_quota_exceeded) {
  const keel::SystemStats before = settled();
  uint64_t top = 0;
  Handle child = prepare_child(utest_ctx, &top);
  UASSERT(child != keel::kInvalidHandle);
  UEXPECT_EQ(sys::process_set_limits(child, keel::kQuotaDefaultBytes, kFillObjects), 0);
  UEXPECT_EQ(run_child(utest_ctx, child, top, child_arg(Scenario::kFill)), kChildOk);
  Handle n = keel::kInvalidHandle;
  UEXPECT_EQ(sys::notification_create(&n), 0);
  UEXPECT_EQ(sys::handle_close(n), 0);
  expect_usage_back(utest_ctx, before);
}

// (b) Threads are charged (object, kernel stack, FPU state) until destroyed.
UTEST(quota, threads_are_charged_to_their_process) {
  const keel::SystemStats before = settled();
  uint64_t top = 0;
  Handle child = prepare_child(utest_ctx, &top);
  UASSERT(child != keel::kInvalidHandle);
  UEXPECT_EQ(sys::process_set_limits(child, kThreadBytes, keel::kQuotaDefaultObjects), 0);
  Handle self = keel::kInvalidHandle, in_child = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(child, keel::kRightManage | keel::kRightTransfer, &self) == 0);
  UASSERT(sys::handle_give(child, self, &in_child) == 0);
  UEXPECT_EQ(run_child(utest_ctx, child, top, child_arg(Scenario::kThreads, in_child)), kChildOk);
  expect_usage_back(utest_ctx, before);
}

// (c) No escape through children: a grandchild's charges count against the
// child's limit, and the parent's quota holds them all while they last.
UTEST(quota, grandchildren_count_against_the_child) {
  const keel::SystemStats before = settled();
  uint64_t top = 0;
  Handle child = prepare_child(utest_ctx, &top);
  UASSERT(child != keel::kInvalidHandle);
  const keel::SystemStats prepared = stats();
  UEXPECT(prepared.quota_objects_used > before.quota_objects_used + 2);  // the child and its mappings, in ours
  UEXPECT_EQ(sys::process_set_limits(child, keel::kQuotaDefaultBytes, kNestObjects), 0);
  UEXPECT_EQ(run_child(utest_ctx, child, top, child_arg(Scenario::kNest)), kChildOk);
  expect_usage_back(utest_ctx, before);
}

// (d) process_set_limits: only lowers, needs `manage` on a Process; a limit
// below the usage is accepted and refuses every further charge.
UTEST(quota, set_limits_errors) {
  const keel::SystemStats before = settled();
  const char name[] = "limits";
  Handle proc = keel::kInvalidHandle;
  UASSERT(sys::process_create(name, sizeof name - 1, &proc) == 0);
  UEXPECT_EQ(sys::process_set_limits(proc, keel::kQuotaDefaultBytes, keel::kQuotaDefaultObjects), 0);  // equal
  UEXPECT_EQ(sys::process_set_limits(proc, keel::kQuotaDefaultBytes + 1, keel::kQuotaDefaultObjects),
             keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_set_limits(proc, keel::kQuotaDefaultBytes, keel::kQuotaDefaultObjects + 1),
             keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_set_limits(proc, UINT64_MAX, UINT32_MAX), keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_set_limits(proc, 1 << 20, 100), 0);
  UEXPECT_EQ(sys::process_set_limits(proc, 2 << 20, 100), keel::err(Status::InvalidArgument));  // no way back
  UEXPECT_EQ(sys::process_set_limits(proc, 1 << 20, 101), keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_set_limits(proc, 2 << 20, 50), keel::err(Status::InvalidArgument));  // neither changes
  UEXPECT_EQ(sys::process_set_limits(proc, 1 << 20, 100), 0);

  // Below the usage (its address space): accepted; nothing more fits.
  UEXPECT_EQ(sys::process_set_limits(proc, 0, 0), 0);
  Handle t = keel::kInvalidHandle;
  UEXPECT_EQ(sys::thread_create(proc, kThreadName, 1, &t), keel::err(Status::QuotaExceeded));
  Handle vmo = keel::kInvalidHandle;
  UASSERT(sys::vmo_create(keel::kPageSize, 0, &vmo) == 0);  // the caller's quota is not the child's
  uint64_t addr = 0;
  UEXPECT_EQ(sys::vm_map(proc, vmo, 0, keel::kPageSize, keel::kVmRead, &addr), keel::err(Status::QuotaExceeded));

  // Handle, type and rights.
  Handle weak = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(proc, keel::kRightWait, &weak) == 0);
  UEXPECT_EQ(sys::process_set_limits(weak, 0, 0), keel::err(Status::AccessDenied));
  UEXPECT_EQ(sys::process_set_limits(vmo, 0, 0), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::process_set_limits(0xdead0001u, 0, 0), keel::err(Status::BadHandle));
  UEXPECT_EQ(sys::process_set_limits(keel::kInvalidHandle, 0, 0), keel::err(Status::BadHandle));

  for (Handle h : {weak, vmo, proc}) UEXPECT_EQ(sys::handle_close(h), 0);
  expect_usage_back(utest_ctx, before);
}

// system_stats reports the caller's quota; a buffer of the first version's
// size gets only that much.
UTEST(quota, system_stats_reports_the_callers_quota) {
  keel::SystemStats s = stats();
  UEXPECT_EQ(s.quota_bytes_limit, keel::kQuotaDefaultBytes);  // the root task's: never lowered here
  UEXPECT_EQ(s.quota_objects_limit, keel::kQuotaDefaultObjects);
  UEXPECT(s.quota_objects_used > 0 && s.quota_objects_used <= s.quota_objects_limit);
  UEXPECT(s.quota_bytes_used > 0 && s.quota_bytes_used <= s.quota_bytes_limit);
  __builtin_memset(&s, 0xff, sizeof s);
  UEXPECT_EQ(sys::system_stats(&s, keel::kSystemStatsMinSize), 0);
  UEXPECT(s.objects_live != UINT64_MAX);  // written
  UEXPECT_EQ(s.quota_bytes_used, UINT64_MAX);  // past the buffer: untouched
  UEXPECT_EQ(s.quota_objects_limit, UINT64_MAX);
  UEXPECT_EQ(sys::system_stats(&s, keel::kSystemStatsMinSize - 1), keel::err(Status::InvalidArgument));
}
