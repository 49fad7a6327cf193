// process_tests.cc — processes and threads: each scenario runs in a child
// process spawned from usertest's own boot module (keel::spawn), and the
// parent checks its exit code. Also: spawn's errors and cleanup, leaks over
// many children, and threads added to a process (a child, the root itself).
//
// A child gets arg = scenario << 8 | param (always < usertest::kChildArgLimit)
// and runs child_main(arg). The usertest image is static and non-PIE, so code
// and data addresses are the same in the parent and every child: the parent
// can start threads in a child at its own functions' addresses.
#include "usertest.h"

#include <keel/alloc.h>
#include <keel/spawn.h>
#include <keel/start.h>
#include <keel/utest.h>

#include <cstddef>

using keel::Handle;
using keel::Status;
namespace sys = keel::sys;

namespace {

enum class Scenario : uint64_t {
  kReturn7 = 1,    // main returns 7
  kExitMinus3,     // process_exit(-3)
  kReturnParam,    // main returns param & 0x7f
  kSpin,           // loops until killed
  kWriteNull,      // writes address 0x10: #PF
  kUd2,            // #UD
  kDivideByZero,   // #DE
  kWriteCode,      // writes its own r-x text: #PF
  kExecuteData,    // jumps into an rw- (NX) page: #PF
  kInt3,           // breakpoint: #BP
  kReadKernel,     // reads a supervisor-only kernel address: #PF
  kHlt,            // privileged: #GP
  kCli,            // IOPL 0: #GP
  kWriteCr3,       // privileged: #GP
  kThreadsMain,    // main thread of the multi-threaded child: thread_exit first
  kPagerTouch,     // reads usertest::kPagerAddr (unmapped: its pager maps it) and returns the value
  kCallGiven,      // ipc_call with 41 on the handle its parent gave as "endpoint"; returns the reply word
  kDoubleFree,     // frees one allocation twice: libkeel's allocator must stop the process (#UD)
  kUnmapUnderReader,  // unmaps a page a second thread keeps reading: its next read must fault (#PF)
};

constexpr uint64_t child_arg(Scenario s, uint64_t param = 0) { return uint64_t(s) << 8 | (param & 0xff); }

// What a child returns if the instruction that should have killed it did not.
constexpr int64_t kSurvived = 100;

constexpr uint64_t kMs = 1'000'000;
// Generous bound for anything that should happen "soon" (QEMU TCG is slow).
constexpr uint64_t kSoon = 10'000 * kMs;

int64_t fault(uint64_t vector) { return keel::kExitFaultBase - int64_t(vector); }

// ---------------------------------------------------------------- threads

// Threads started with thread_start begin with no return address on the
// stack: this entry aligns it and calls usertest_thread_main(rdi).
extern "C" void usertest_thread_entry();
asm(R"(
  .pushsection .text
  .global usertest_thread_entry
  .type usertest_thread_entry, @function
usertest_thread_entry:
  xorl %ebp, %ebp
  andq $-16, %rsp
  call usertest_thread_main
  ud2
  .size usertest_thread_entry, . - usertest_thread_entry
  .popsection
)");

// The argument of a thread started at usertest_thread_entry: it runs fn(this)
// and then exits.
struct ThreadArg {
  void (*fn)(ThreadArg*);
  uint64_t index;
  uint64_t data;
};

using keel::signal_and_exit;

uint32_t load(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }
void store(uint32_t& v, uint32_t x) { __atomic_store_n(&v, x, __ATOMIC_RELEASE); }

// Sleeps in 1 ms steps until `v` is non-zero or `timeout_ns` has passed.
bool wait_nonzero(const uint32_t& v, uint64_t timeout_ns) {
  const uint64_t end = keel::now_ns() + timeout_ns;
  while (load(v) == 0) {
    if (keel::now_ns() > end) return false;
    sys::thread_sleep(keel::now_ns() + kMs);
  }
  return true;
}

// The page the parent shares with the multi-threaded child, at a fixed
// address in the child.
constexpr uint64_t kSharedChildAddr = 0x2000'0000;
constexpr size_t kChildWorkers = 4;
struct Shared {
  uint32_t main_exited;  // set by the child's main thread just before thread_exit
  uint32_t release;      // set by the parent: the workers may finish
  uint32_t finished;     // workers that got to the end
  uint32_t padding;
  ThreadArg args[kChildWorkers];
};
Shared* shared_in_child() { return reinterpret_cast<Shared*>(kSharedChildAddr); }

// A worker of the multi-threaded child: outlives the main thread, then exits.
void child_worker(ThreadArg*) {
  Shared* sh = shared_in_child();
  wait_nonzero(sh->release, kSoon);
  for (volatile uint32_t i = 0; i < 100'000; i = i + 1) {
  }
  __atomic_fetch_add(&sh->finished, 1, __ATOMIC_ACQ_REL);
}

}  // namespace

extern "C" [[noreturn]] void usertest_thread_main(void* raw) {
  auto* arg = static_cast<ThreadArg*>(raw);
  arg->fn(arg);
  sys::thread_exit();
}

// ---------------------------------------------------------------- the child side

namespace {

// kUnmapUnderReader: the reader keeps the page's translation in its CPU's TLB
// until it sees `unmapped`, then reads once more; that read must fault (the
// unmap shot the entry down) or the child returns kSurvived.
struct UnmapShared {
  volatile uint64_t* page;
  volatile uint32_t started;
  volatile uint32_t unmapped;
  volatile uint64_t sink;
};
UnmapShared g_unmap;

void unmap_reader(uint64_t) {
  g_unmap.started = 1;
  while (!g_unmap.unmapped) g_unmap.sink = g_unmap.sink + *g_unmap.page;
  g_unmap.sink = g_unmap.sink + *g_unmap.page;  // must fault
  g_unmap.started = 2;
  for (;;) sys::thread_sleep(keel::now_ns() + 1000 * kMs);
}

// Never stored to: the target of kWriteCode must be code, not data.
[[gnu::noinline]] int code_page_target() { return 1; }

// An rw- page holding `ret`: executing it must fault (NX).
alignas(16) uint8_t g_data_code[16] = {0xc3};

}  // namespace

int64_t usertest::child_main(uint64_t arg) {
  const uint64_t param = arg & 0xff;
  switch (Scenario(arg >> 8)) {
    case Scenario::kReturn7:
      return 7;
    case Scenario::kExitMinus3:
      sys::process_exit(-3);
    case Scenario::kReturnParam:
      return int64_t(param & 0x7f);
    case Scenario::kSpin:
      for (;;) asm volatile("pause");
    case Scenario::kWriteNull:
      asm volatile("movl $1, 0x10" ::: "memory");
      break;
    case Scenario::kUd2:
      asm volatile("ud2");
      break;
    case Scenario::kDivideByZero: {
      uint64_t lo = 1, hi = 0, zero = 0;
      asm volatile("divq %2" : "+a"(lo), "+d"(hi) : "r"(zero));
      break;
    }
    case Scenario::kWriteCode:
      asm volatile("movb $0xc3, (%0)" ::"r"(&code_page_target) : "memory");
      break;
    case Scenario::kExecuteData:
      asm volatile("call *%0" ::"r"(g_data_code) : "memory");
      break;
    case Scenario::kInt3:
      asm volatile("int3");
      break;
    case Scenario::kReadKernel: {
      uint64_t v;
      asm volatile("movq (%1), %0" : "=r"(v) : "r"(0xffff'ffff'8020'0000ull) : "memory");
      break;
    }
    case Scenario::kHlt:
      asm volatile("hlt");
      break;
    case Scenario::kCli:
      asm volatile("cli");
      break;
    case Scenario::kWriteCr3:
      asm volatile("movq %0, %%cr3" ::"r"(0ull) : "memory");
      break;
    case Scenario::kThreadsMain:
      store(shared_in_child()->main_exited, 1);
      sys::thread_exit();
    case Scenario::kPagerTouch:
      return int64_t(*reinterpret_cast<volatile uint64_t*>(usertest::kPagerAddr) & 0x7f);
    case Scenario::kDoubleFree: {
      void* p = keel::alloc(100);
      keel::free(p);
      keel::free(p);
      return kSurvived;
    }
    case Scenario::kUnmapUnderReader: {
      Handle vmo = keel::kInvalidHandle;
      uint64_t addr = 0, stack = 0;
      if (sys::vmo_create(4096, 0, &vmo) != 0 ||
          sys::vm_map(keel::self_process(), vmo, 0, 4096, keel::kVmRead | keel::kVmWrite, &addr) != 0)
        return kSurvived + 1;
      (void)sys::handle_close(vmo);  // the mapping holds the last reference: unmap frees the frame
      g_unmap.page = reinterpret_cast<volatile uint64_t*>(addr);
      *g_unmap.page = 1;
      if (keel::start_thread(&unmap_reader, 0, 16 * 1024, &stack) == 0) return kSurvived + 2;
      const uint64_t until = keel::now_ns() + kSoon;
      while (g_unmap.started == 0 && keel::now_ns() < until) sys::thread_yield();
      sys::thread_sleep(keel::now_ns() + 20 * kMs);  // (the reader spins, on another CPU if there is one)
      if (sys::vm_unmap(keel::self_process(), addr, 4096) != 0) return kSurvived + 3;
      g_unmap.unmapped = 1;
      while (g_unmap.started != 2 && keel::now_ns() < until) sys::thread_sleep(keel::now_ns() + 5 * kMs);
      return kSurvived;
    }
    case Scenario::kCallGiven: {
      Handle ep = keel::kInvalidHandle;
      uint64_t size = 1;
      if (!keel::find_module("endpoint", &ep, &size) || size != 0) return kSurvived + 3;
      keel::IpcMessage m{};
      m.tag = uint64_t(1) << 24;
      m.words[0] = 41;
      if (sys::ipc_call(ep, &m, keel::now_ns() + kSoon) != 0) return kSurvived + 2;
      return int64_t(m.words[0]);
    }
  }
  return kSurvived;
}

// ---------------------------------------------------------------- the parent side

namespace {

struct Image {
  Handle vmo = keel::kInvalidHandle;
  uint64_t size = 0;
};

Image usertest_image() {
  Image img;
  if (!usertest::find_module("usertest", &img.vmo, &img.size)) return {};
  return img;
}

// Spawns a child running `arg`, waits for it and returns its exit code (or
// records a failure and returns kSurvived + 1).
int64_t run_child(keel::utest::Context& utest_ctx, uint64_t arg) {
  Image img = usertest_image();
  UEXPECT(img.vmo != keel::kInvalidHandle);
  Handle proc = keel::kInvalidHandle;
  Status s = keel::spawn(img.vmo, img.size, "child", arg, &proc);
  UEXPECT_EQ(s, Status::Ok);
  if (s != Status::Ok) return kSurvived + 1;
  int64_t code = kSurvived + 1;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  return code;
}

keel::SystemStats stats() {
  keel::SystemStats s{};
  sys::system_stats(&s, sizeof s);
  return s;
}

// Objects are destroyed a moment after the last reference goes (a dead
// thread is reaped by the next thread on its CPU): waits until objects_live
// is `want` again, for up to `kSoon`. Returns the last count seen.
uint64_t settle_objects(uint64_t want) {
  const uint64_t end = keel::now_ns() + kSoon;
  uint64_t live = stats().objects_live;
  while (live != want && keel::now_ns() < end) {
    sys::thread_sleep(keel::now_ns() + kMs);
    live = stats().objects_live;
  }
  return live;
}

// Free slots in the caller's handle table, counted by filling it with
// duplicates (which also grows it to its final size, once).
size_t free_handle_slots() {
  Handle n = keel::kInvalidHandle;
  if (sys::notification_create(&n) != 0) return 0;
  static Handle dups[8192];
  size_t count = 0;
  while (count < sizeof dups / sizeof dups[0] && sys::handle_duplicate(n, keel::kRightWait, &dups[count]) == 0)
    ++count;
  for (size_t i = 0; i < count; ++i) sys::handle_close(dups[i]);
  sys::handle_close(n);
  return count;
}

// What must be the same before and after a test that cleans up after itself.
struct Usage {
  keel::SystemStats stats;
  size_t free_handles;
};

// Waits until objects_live has not changed for 5 ms: what earlier tests
// ended has finished dying.
void quiesce() {
  const uint64_t end = keel::now_ns() + kSoon;
  uint64_t last = stats().objects_live;
  for (unsigned same = 0; same < 5 && keel::now_ns() < end;) {
    sys::thread_sleep(keel::now_ns() + kMs);
    uint64_t live = stats().objects_live;
    same = live == last ? same + 1 : 0;
    last = live;
  }
}

Usage usage() {
  quiesce();
  Usage u;
  u.free_handles = free_handle_slots();
  u.stats = stats();
  return u;
}

void expect_no_leak(keel::utest::Context& utest_ctx, const Usage& before, uint64_t frame_slack) {
  UEXPECT_EQ(settle_objects(before.stats.objects_live), before.stats.objects_live);
  keel::SystemStats now = stats();
  UEXPECT_EQ(now.processes_live, before.stats.processes_live);
  UEXPECT_EQ(now.threads_live, before.stats.threads_live);
  UEXPECT(now.frames_free + frame_slack >= before.stats.frames_free);
  UEXPECT_EQ(free_handle_slots(), before.free_handles);
}

}  // namespace

// ---------------------------------------------------------------- exit codes

UTEST(spawn, child_returns_its_code) { UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kReturn7)), 7); }

UTEST(spawn, child_process_exit_code) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kExitMinus3)), -3);
}

UTEST(spawn, handles_and_thread_handle) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Handle proc = keel::kInvalidHandle, thread = keel::kInvalidHandle;
  UASSERT(keel::spawn(img.vmo, img.size, "child", child_arg(Scenario::kReturn7), &proc, &thread) == Status::Ok);
  UEXPECT(proc != keel::kInvalidHandle && thread != keel::kInvalidHandle && proc != thread);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code), Status::Ok);
  UEXPECT_EQ(code, 7);
  UEXPECT_EQ(keel::wait(proc, &code, keel::kDeadlinePoll), Status::Ok);  // exited stays exited
  UEXPECT_EQ(code, 7);
  // The thread handle names a thread of the child: starting it again is refused.
  UEXPECT_EQ(sys::thread_start(thread, 0x400000, 0x500000, 0), keel::err(Status::BadState));
  UEXPECT_EQ(sys::handle_close(thread), 0);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  UEXPECT_EQ(keel::wait(proc, &code), Status::BadHandle);
}

// A parent gives a child a badged endpoint before its first thread runs; the
// child calls through it.
UTEST(handle_give, child_calls_through_a_given_endpoint) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Handle ep = keel::kInvalidHandle, client = keel::kInvalidHandle;
  UASSERT(sys::endpoint_create(&ep) == 0);
  UASSERT(sys::handle_mint(ep, keel::kRightWrite | keel::kRightTransfer, 7, &client) == 0);
  keel::Prepared p;
  UASSERT(keel::spawn_prepare(img.vmo, img.size, "child", &p) == Status::Ok);
  UEXPECT_EQ(keel::spawn_give(p, "endpoint", client), Status::Ok);
  UEXPECT_EQ(p.info.module_count, 1u);
  UEXPECT(p.info.module_vmo[0] != keel::kInvalidHandle && p.info.self_process != keel::kInvalidHandle);
  UEXPECT_EQ(sys::handle_close(client), keel::err(Status::BadHandle));  // moved, not copied
  UASSERT(keel::spawn_start(p, "child", child_arg(Scenario::kCallGiven)) == Status::Ok);
  keel::IpcMessage m{};
  UEXPECT_EQ(sys::ipc_recv(ep, &m, keel::now_ns() + kSoon), 0);
  UEXPECT_EQ(m.badge, 7u);
  UEXPECT_EQ(m.words[0], 41u);
  m.tag = uint64_t(1) << 24;
  m.words[0] = 42;
  UEXPECT_EQ(sys::ipc_reply(&m), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(p.process, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(code, 42);
  UEXPECT_EQ(sys::handle_close(p.process), 0);
  UEXPECT_EQ(sys::handle_close(ep), 0);
}

UTEST(handle_give, refusals_leave_the_handle_with_the_caller) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  keel::Prepared p;
  UASSERT(keel::spawn_prepare(img.vmo, img.size, "child", &p) == Status::Ok);
  Handle n = keel::kInvalidHandle, out = keel::kInvalidHandle;
  UASSERT(sys::notification_create(&n) == 0);
  // No `transfer` on the handle.
  Handle no_transfer = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(n, keel::kRightSignal | keel::kRightWait | keel::kRightDuplicate, &no_transfer) == 0);
  UEXPECT_EQ(sys::handle_give(p.process, no_transfer, &out), keel::err(Status::AccessDenied));
  UEXPECT_EQ(sys::notification_signal(no_transfer, 1), 0);  // still the caller's
  // No `manage` on the process.
  Handle weak_proc = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(p.process, keel::kRightWait, &weak_proc) == 0);
  UEXPECT_EQ(sys::handle_give(weak_proc, n, &out), keel::err(Status::AccessDenied));
  UEXPECT_EQ(sys::handle_give(n, n, &out), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::handle_give(p.process, 0xdead0001u, &out), keel::err(Status::BadHandle));
  // `out` in the kernel half: checked before anything moves.
  UEXPECT_EQ(sys::handle_give(p.process, n, reinterpret_cast<Handle*>(0xffff800000001000ull)),
             keel::err(Status::Fault));
  UEXPECT_EQ(sys::notification_signal(n, 1), 0);
  // An exited process takes nothing.
  UEXPECT_EQ(sys::process_kill(p.process), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(p.process, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(sys::handle_give(p.process, n, &out), keel::err(Status::BadState));
  UEXPECT_EQ(sys::notification_signal(n, 1), 0);
  UEXPECT_EQ(sys::handle_close(n), 0);
  UEXPECT_EQ(sys::handle_close(no_transfer), 0);
  UEXPECT_EQ(sys::handle_close(weak_proc), 0);
  UEXPECT_EQ(sys::handle_close(p.process), 0);
}

// ---------------------------------------------------------------- CPU faults

UTEST(fault, page_fault_at_low_address) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kWriteNull)), fault(14));
}

// vm_unmap shoots the entry down on every CPU running the process: a thread
// reading the page on another CPU faults on its next read.
UTEST(fault, read_after_unmap_on_another_cpu) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kUnmapUnderReader)), fault(14));
}

UTEST(fault, invalid_opcode) { UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kUd2)), fault(6)); }

UTEST(fault, divide_by_zero) { UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kDivideByZero)), fault(0)); }

UTEST(fault, write_to_own_code) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kWriteCode)), fault(14));
}

UTEST(fault, execute_data_page) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kExecuteData)), fault(14));
}

UTEST(fault, breakpoint) { UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kInt3)), fault(3)); }

UTEST(fault, read_kernel_memory) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kReadKernel)), fault(14));
}

UTEST(fault, privileged_instructions) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kHlt)), fault(13));
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kCli)), fault(13));
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kWriteCr3)), fault(13));
}

// ---------------------------------------------------------------- kill and wait

UTEST(process, wait_times_out_then_kill) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Handle proc = keel::kInvalidHandle;
  UASSERT(keel::spawn(img.vmo, img.size, "spinner", child_arg(Scenario::kSpin), &proc) == Status::Ok);
  int64_t code = 12345;
  UEXPECT_EQ(keel::wait(proc, &code, keel::kDeadlinePoll), Status::TimedOut);
  uint64_t t0 = keel::now_ns();
  UEXPECT_EQ(keel::wait(proc, &code, t0 + 20 * kMs), Status::TimedOut);
  UEXPECT(keel::now_ns() - t0 >= 20 * kMs);
  UEXPECT_EQ(code, 12345);  // untouched on failure
  UEXPECT_EQ(sys::process_kill(proc), 0);
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(code, keel::kExitKilled);
  UEXPECT_EQ(sys::handle_close(proc), 0);
}

// The process ends when its last thread does, not its first: the main
// thread calls thread_exit while four threads the parent started in the
// child still run; the exit code is then 0.
UTEST(process, exits_after_its_last_thread) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Usage before = usage();

  Handle proc = keel::kInvalidHandle;
  const char name[] = "threads";
  UASSERT(sys::process_create(name, sizeof name - 1, &proc) == 0);
  uint64_t entry = 0;
  UEXPECT_EQ(keel::load_elf(proc, img.vmo, img.size, &entry), Status::Ok);

  Handle page = keel::kInvalidHandle;
  UASSERT(sys::vmo_create(keel::kPageSize, 0, &page) == 0);
  uint64_t mine = 0, theirs = kSharedChildAddr;
  UASSERT(sys::vm_map(keel::self_process(), page, 0, keel::kPageSize, keel::kVmRead | keel::kVmWrite, &mine) == 0);
  UEXPECT_EQ(sys::vm_map(proc, page, 0, keel::kPageSize, keel::kVmRead | keel::kVmWrite | keel::kVmFixed, &theirs),
             0);
  auto* sh = reinterpret_cast<Shared*>(mine);

  Handle threads[kChildWorkers + 1] = {};
  for (size_t i = 0; i < kChildWorkers; ++i) {
    sh->args[i] = ThreadArg{&child_worker, i, 0};
    uint64_t top = 0;
    UEXPECT_EQ(keel::map_stack(proc, 64 * 1024, &top), Status::Ok);
    uint64_t arg = kSharedChildAddr + offsetof(Shared, args) + i * sizeof(ThreadArg);
    UEXPECT_EQ(keel::start_thread_in(proc, "worker", reinterpret_cast<uintptr_t>(&usertest_thread_entry), top, arg,
                                     &threads[i]),
               Status::Ok);
  }
  uint64_t top = 0;
  UEXPECT_EQ(keel::map_stack(proc, keel::kSpawnStackSize, &top), Status::Ok);
  UEXPECT_EQ(
      keel::start_thread_in(proc, "main", entry, top, child_arg(Scenario::kThreadsMain), &threads[kChildWorkers]),
      Status::Ok);

  UEXPECT(wait_nonzero(sh->main_exited, kSoon));
  sys::thread_sleep(keel::now_ns() + 20 * kMs);  // let the main thread finish exiting
  int64_t code = 12345;
  UEXPECT_EQ(keel::wait(proc, &code, keel::kDeadlinePoll), Status::TimedOut);  // four threads left
  UEXPECT_EQ(load(sh->finished), 0u);
  store(sh->release, 1);
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(code, 0);
  UEXPECT_EQ(load(sh->finished), uint32_t(kChildWorkers));

  for (Handle t : threads) UEXPECT_EQ(sys::handle_close(t), 0);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  UEXPECT_EQ(sys::vm_unmap(keel::self_process(), mine, keel::kPageSize), 0);
  UEXPECT_EQ(sys::handle_close(page), 0);
  expect_no_leak(utest_ctx, before, 64);
}

// ---------------------------------------------------------------- spawn errors

UTEST(spawn, bad_images_are_refused_without_leaks) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Usage before = usage();
  constexpr Handle kSentinel = 0xdeadu;
  Handle proc = kSentinel;

  // Not an ELF file at all.
  Handle garbage = keel::kInvalidHandle;
  UASSERT(sys::vmo_create(8192, 0, &garbage) == 0);
  uint8_t junk[256];
  for (size_t i = 0; i < sizeof junk; ++i) junk[i] = uint8_t(i * 37 + 11);
  UEXPECT_EQ(sys::vmo_write(garbage, 0, junk, sizeof junk), 0);
  UEXPECT_EQ(keel::spawn(garbage, 8192, "bad", 0, &proc), Status::BadMagic);
  UEXPECT_EQ(keel::spawn(garbage, 0, "bad", 0, &proc), Status::Truncated);
  UEXPECT_EQ(keel::spawn(garbage, 8193, "bad", 0, &proc), Status::OutOfRange);  // past the object

  // The real image, cut short: inside the program header table, then inside
  // the segments (a truncated copy made with vmo_clone).
  UEXPECT_EQ(keel::spawn(img.vmo, 100, "bad", 0, &proc), Status::Truncated);
  Handle copy = keel::kInvalidHandle;
  UASSERT(sys::vmo_clone(img.vmo, 0, 4 * keel::kPageSize, &copy) == 0);
  UEXPECT_EQ(keel::spawn(copy, 4 * keel::kPageSize, "bad", 0, &proc), Status::Truncated);
  UEXPECT_EQ(sys::handle_close(copy), 0);

  // A whole copy with one header field broken at a time.
  UASSERT(sys::vmo_clone(img.vmo, 0, img.size, &copy) == 0);
  UEXPECT_EQ(keel::spawn(copy, img.size, "ok", child_arg(Scenario::kReturn7), &proc), Status::Ok);  // intact
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + kSoon), Status::Ok);
  UEXPECT_EQ(code, 7);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  proc = kSentinel;
  const uint16_t bad_machine = 3;  // EM_386
  UEXPECT_EQ(sys::vmo_write(copy, 18, &bad_machine, 2), 0);  // e_machine
  UEXPECT_EQ(keel::spawn(copy, img.size, "bad", 0, &proc), Status::Unsupported);
  const uint16_t x86_64 = 62;
  UEXPECT_EQ(sys::vmo_write(copy, 18, &x86_64, 2), 0);
  const uint64_t bad_entry = 0x1234;  // outside every executable segment
  UEXPECT_EQ(sys::vmo_write(copy, 24, &bad_entry, 8), 0);  // e_entry
  UEXPECT_EQ(keel::spawn(copy, img.size, "bad", 0, &proc), Status::InvalidArgument);
  UEXPECT_EQ(sys::handle_close(copy), 0);

  // Handles that do not work.
  UEXPECT_EQ(keel::spawn(0, img.size, "bad", 0, &proc), Status::BadHandle);
  Handle stale = keel::kInvalidHandle;
  UASSERT(sys::vmo_create(keel::kPageSize, 0, &stale) == 0);
  UEXPECT_EQ(sys::handle_close(stale), 0);
  UEXPECT_EQ(keel::spawn(stale, keel::kPageSize, "bad", 0, &proc), Status::BadHandle);
  Handle no_map = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(img.vmo, keel::kRightRead, &no_map) == 0);
  UEXPECT_EQ(keel::spawn(no_map, img.size, "bad", 0, &proc), Status::AccessDenied);
  UEXPECT_EQ(sys::handle_close(no_map), 0);
  // A name longer than kNameMax: refused by process_create.
  UEXPECT_EQ(keel::spawn(img.vmo, img.size, "a-name-that-is-longer-than-32-bytes", 0, &proc),
             Status::InvalidArgument);

  UEXPECT_EQ(proc, kSentinel);  // never written on failure
  UEXPECT_EQ(sys::handle_close(garbage), 0);
  expect_no_leak(utest_ctx, before, 64);
}

// load_elf into a process whose address space has a segment's page taken:
// AlreadyExists, and no MemoryObject handle is left behind.
UTEST(spawn, load_elf_into_occupied_space) {
  Image img = usertest_image();
  UASSERT(img.vmo != keel::kInvalidHandle);
  Usage before = usage();
  Handle proc = keel::kInvalidHandle;
  const char name[] = "occupied";
  UASSERT(sys::process_create(name, sizeof name - 1, &proc) == 0);
  Handle page = keel::kInvalidHandle;
  UASSERT(sys::vmo_create(keel::kPageSize, 0, &page) == 0);
  // The page of a writable global: in the last segment, after text and rodata.
  uint64_t addr = reinterpret_cast<uint64_t>(&g_data_code) & ~uint64_t(keel::kPageSize - 1);
  UEXPECT_EQ(sys::vm_map(proc, page, 0, keel::kPageSize, keel::kVmRead | keel::kVmFixed, &addr), 0);
  uint64_t entry = 0;
  UEXPECT_EQ(keel::load_elf(proc, img.vmo, img.size, &entry), Status::AlreadyExists);
  UEXPECT_EQ(entry, 0u);
  UEXPECT_EQ(sys::process_kill(proc), 0);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  UEXPECT_EQ(sys::handle_close(page), 0);
  expect_no_leak(utest_ctx, before, 64);
}

// ---------------------------------------------------------------- leaks

UTEST(spawn, fifty_children_leak_nothing) {
  UEXPECT_EQ(run_child(utest_ctx, child_arg(Scenario::kReturnParam, 1)), 1);  // warm the kernel's caches
  Usage before = usage();
  bool all_right = true;
  for (uint64_t i = 0; i < 50; ++i) {
    int64_t code = run_child(utest_ctx, child_arg(Scenario::kReturnParam, i * 5));
    if (code != int64_t((i * 5) & 0x7f)) {
      all_right = false;
      keel::print("utest:   child {} exited with {}\n", i, code);
    }
  }
  UEXPECT(all_right);
  expect_no_leak(utest_ctx, before, 64);
}

// ---------------------------------------------------------------- threads in the root

namespace {

struct SelfThreads {
  Handle notification;
  uint64_t ran[3];  // each thread writes its index + 1: they share our memory
};
SelfThreads g_self;

void self_thread(ThreadArg* arg) {
  g_self.ran[arg->index] = arg->index + 1;
  signal_and_exit(g_self.notification, uint64_t(1) << arg->index);
}

}  // namespace

UTEST(thread, threads_in_own_process) {
  UASSERT(keel::self_process() != keel::kInvalidHandle);
  Usage before = usage();
  g_self = {};
  UASSERT(sys::notification_create(&g_self.notification) == 0);
  constexpr size_t kStack = 16 * 1024;
  ThreadArg args[3];
  uint64_t tops[3] = {};
  Handle threads[3] = {};
  for (size_t i = 0; i < 3; ++i) {
    args[i] = ThreadArg{&self_thread, i, 0};
    UEXPECT_EQ(keel::map_stack(keel::self_process(), kStack, &tops[i]), Status::Ok);
    UEXPECT_EQ(keel::start_thread_in(keel::self_process(), "helper",
                                     reinterpret_cast<uintptr_t>(&usertest_thread_entry), tops[i],
                                     reinterpret_cast<uint64_t>(&args[i]), &threads[i]),
               Status::Ok);
  }
  uint64_t got = 0;
  const uint64_t end = keel::now_ns() + kSoon;
  while (got != 0x7) {
    uint64_t bits = 0;
    if (sys::notification_wait(g_self.notification, end, &bits) != 0) break;
    got |= bits;
  }
  UEXPECT_EQ(got, 0x7u);
  for (size_t i = 0; i < 3; ++i) UEXPECT_EQ(__atomic_load_n(&g_self.ran[i], __ATOMIC_ACQUIRE), i + 1);
  // After its signal a thread no longer touches its stack (signal_and_exit).
  for (size_t i = 0; i < 3; ++i) {
    if (tops[i] != 0) UEXPECT_EQ(sys::vm_unmap(keel::self_process(), tops[i] - kStack, kStack), 0);
    UEXPECT_EQ(sys::handle_close(threads[i]), 0);
  }
  UEXPECT_EQ(sys::handle_close(g_self.notification), 0);
  expect_no_leak(utest_ctx, before, 64);
}

uint64_t usertest::pager_touch_arg() { return child_arg(Scenario::kPagerTouch); }
uint64_t usertest::double_free_arg() { return child_arg(Scenario::kDoubleFree); }
uint64_t usertest::ud2_arg() { return child_arg(Scenario::kUd2); }

// A process nobody holds and that runs no thread is gone, with the threads it
// never started (they and the process would otherwise keep each other alive).
UTEST(process, unreachable_unstarted_process_is_freed) {
  Usage before = usage();
  for (int i = 0; i < 3; ++i) {
    Handle proc = keel::kInvalidHandle, thread = keel::kInvalidHandle;
    UASSERT(sys::process_create("idle", 4, &proc) == 0);
    UASSERT(sys::thread_create(proc, "never", 5, &thread) == 0);
    UEXPECT_EQ(sys::handle_close(thread), 0);
    UEXPECT_EQ(sys::handle_close(proc), 0);
  }
  // The other order: the thread handle outlives the process handle, and
  // starting it then is refused (its process is gone).
  Handle proc = keel::kInvalidHandle, thread = keel::kInvalidHandle;
  UASSERT(sys::process_create("idle", 4, &proc) == 0);
  UASSERT(sys::thread_create(proc, "never", 5, &thread) == 0);
  UEXPECT_EQ(sys::handle_close(proc), 0);
  UEXPECT_EQ(sys::thread_start(thread, 0x400000, 0x500000, 0), keel::err(Status::BadState));
  UEXPECT_EQ(sys::handle_close(thread), 0);
  expect_no_leak(utest_ctx, before, 64);
}
