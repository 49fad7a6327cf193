// stress_tests.cc — many threads on every CPU calling (in memory and in
// registers, so through the IPC direct switch too), signalling, mapping,
// creating threads and exiting, then a leak check: after a warm-up run, a
// second identical run must leave exactly as many free frames and live kernel
// objects as before it.
#include <keel/start.h>
#include <keel/utest.h>

#include <atomic>

namespace sys = keel::sys;

namespace {

constexpr int kWorkers = 8;
constexpr int kIterations = 150;

struct Shared {
  uint32_t ep;          // echo servers receive here
  uint32_t done;        // notification: bit i when worker i finishes, bits 8/9 for the servers
  uint32_t self;        // this process
  uint32_t errors[kWorkers];
};
constexpr uint64_t kServerBit = 1ull << kWorkers;
Shared g;

// Every thread here ends with signal_and_exit, so that its stack can be
// unmapped once its bit is seen (the leak check counts them).
void echo(uint64_t which) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(g.ep, &m, keel::kDeadlineForever) == 0) {
    for (;;) {
      if ((m.tag >> 32) == 0xdead) {
        m.tag = 0;
        sys::ipc_reply(&m);
        break;
      }
      m.words[0] += 1;
      // One server replies through memory, the other through registers (the
      // fast path's direct switch when the caller waits in ipc_call_regs).
      int64_t r = which == 1 ? sys::ipc_reply_recv_regs(g.ep, &m)
                             : sys::ipc_reply_recv(g.ep, &m, keel::kDeadlineForever);
      if (r != 0) break;
    }
  }
  keel::signal_and_exit(g.done, kServerBit << which);
}

// Short-lived threads report on their own notification (arg).
void short_lived(uint64_t n) { keel::signal_and_exit(uint32_t(n), 1); }

void worker(uint64_t i) {
  uint32_t& errors = g.errors[i];
  for (int it = 0; it < kIterations; ++it) {
    // IPC round trip.
    keel::IpcMessage m{};
    m.tag = uint64_t(1) << 24;
    m.words[0] = uint64_t(it);
    int64_t r = it % 2 ? sys::ipc_call_regs(g.ep, &m) : sys::ipc_call(g.ep, &m, keel::kDeadlineForever);
    if (r != 0 || m.words[0] != uint64_t(it) + 1) ++errors;
    // A notification, signalled and polled.
    uint32_t n = 0;
    uint64_t bits = 0;
    if (sys::notification_create(&n) != 0) ++errors;
    sys::notification_signal(n, 1ull << (it % 64));
    if (sys::notification_poll(n, &bits) != 0 || bits != (1ull << (it % 64))) ++errors;
    sys::handle_close(n);
    // Memory: create, map, touch, unmap.
    uint32_t vmo = 0;
    uint64_t addr = 0;
    if (sys::vmo_create(3 * 4096, 0, &vmo) != 0) ++errors;
    if (sys::vm_map(g.self, vmo, 0, 3 * 4096, keel::kVmRead | keel::kVmWrite, &addr) != 0) {
      ++errors;
    } else {
      auto* w = reinterpret_cast<volatile uint64_t*>(addr);
      w[0] = i;
      w[1024] = it;
      if (w[0] != i || w[1024] != uint64_t(it)) ++errors;
      sys::vm_unmap(g.self, addr, 3 * 4096);
    }
    sys::handle_close(vmo);
    // Now and then a thread that exits at once; its stack is returned.
    if (it % 25 == 0) {
      uint32_t fin = 0;
      uint64_t stack = 0, got = 0;
      sys::notification_create(&fin);
      uint32_t t = keel::start_thread(&short_lived, fin, 16 * 1024, &stack);
      if (!t || sys::notification_wait(fin, keel::kDeadlineForever, &got) != 0) ++errors;
      if (stack) sys::vm_unmap(g.self, stack, 16 * 1024);
      sys::handle_close(t);
      sys::handle_close(fin);
    }
  }
  keel::signal_and_exit(g.done, 1ull << i);
}

// One full run; returns the number of errors seen.
unsigned run_once() {
  sys::endpoint_create(&g.ep);
  sys::notification_create(&g.done);
  g.self = keel::start_info()->self_process;
  for (auto& e : g.errors) e = 0;
  uint32_t servers[2], workers[kWorkers];
  uint64_t stacks[2 + kWorkers] = {};
  for (int s = 0; s < 2; ++s) servers[s] = keel::start_thread(&echo, uint64_t(s), 64 * 1024, &stacks[s]);
  for (int i = 0; i < kWorkers; ++i)
    workers[i] = keel::start_thread(&worker, uint64_t(i), 64 * 1024, &stacks[2 + i]);
  uint64_t all = (1ull << kWorkers) - 1, got = 0, bits = 0;
  unsigned errors = 0;
  while ((got & all) != all) {
    if (sys::notification_wait(g.done, keel::now_ns() + 60'000'000'000ull, &bits) != 0) {
      ++errors;  // a worker hung
      break;
    }
    got |= bits;
  }
  for (int s = 0; s < 2; ++s) {  // stop the servers
    keel::IpcMessage m{};
    m.tag = uint64_t(0xdead) << 32;
    sys::ipc_call(g.ep, &m, keel::now_ns() + 5'000'000'000ull);
  }
  uint64_t everyone = all | (kServerBit * 3);
  while ((got & everyone) != everyone) {
    if (sys::notification_wait(g.done, keel::now_ns() + 10'000'000'000ull, &bits) != 0) {
      ++errors;
      break;
    }
    got |= bits;
  }
  for (uint64_t st : stacks)
    if (st) sys::vm_unmap(g.self, st, 64 * 1024);
  sys::thread_sleep(keel::now_ns() + 20'000'000);  // let exiting threads be reaped
  for (uint32_t h : servers) sys::handle_close(h);
  for (uint32_t h : workers) sys::handle_close(h);
  sys::handle_close(g.ep);
  sys::handle_close(g.done);
  for (uint32_t e : g.errors) errors += e;
  return errors;
}

}  // namespace

UTEST(stress, threads_ipc_notifications_memory_no_leaks) {
  UASSERT(keel::start_info() != nullptr);
  UEXPECT_EQ(run_once(), 0u);  // warm-up: fills caches and the kernel-stack pool
  keel::SystemStats before{}, after{};
  UASSERT(sys::system_stats(&before, sizeof before) == 0);
  UEXPECT_EQ(run_once(), 0u);
  sys::thread_sleep(keel::now_ns() + 20'000'000);
  UASSERT(sys::system_stats(&after, sizeof after) == 0);
  UEXPECT_EQ(after.objects_live, before.objects_live);
  UEXPECT_EQ(after.frames_free, before.frames_free);
  UEXPECT(after.context_switches > before.context_switches);
}

namespace {
std::atomic<uint64_t> g_counter{0};
std::atomic<bool> g_stop{false};
void counting(uint64_t n) {
  while (!g_stop.load()) g_counter.fetch_add(1);
  keel::signal_and_exit(uint32_t(n), 1);
}
}  // namespace

// Waits (up to 10 s: a loaded TCG host may not run a vCPU for a long time)
// until `pred` holds, polling every millisecond.
template <typename Pred>
bool eventually(Pred pred) {
  const uint64_t give_up = keel::now_ns() + 10'000'000'000ull;
  while (!pred()) {
    if (keel::now_ns() >= give_up) return false;
    sys::thread_sleep(keel::now_ns() + 1'000'000);
  }
  return true;
}

// Suspension takes effect at the thread's next kernel entry (the IPI that
// thread_suspend sends), which on a loaded host may come long after the call:
// the test waits for the event — thread_read_state succeeds only once the
// thread is parked in its return-to-user path — instead of a fixed sleep.
UTEST(thread, suspend_resume_kill) {
  UASSERT(keel::start_info() != nullptr);
  uint32_t fin = 0;
  UASSERT(sys::notification_create(&fin) == 0);
  uint64_t stack = 0;
  g_stop = false;
  g_counter = 0;
  uint32_t t = keel::start_thread(&counting, fin, 64 * 1024, &stack);
  UASSERT(t != 0);
  UEXPECT(eventually([] { return g_counter.load() > 0; }));
  UEXPECT_EQ(sys::thread_suspend(t), 0);
  keel::UserRegs regs{};
  UEXPECT(eventually([&] { return sys::thread_read_state(t, &regs) == 0; }));  // parked
  uint64_t frozen = g_counter.load();
  sys::thread_sleep(keel::now_ns() + 30'000'000);
  UEXPECT_EQ(g_counter.load(), frozen);  // no progress while suspended
  UEXPECT_EQ(sys::thread_read_state(t, &regs), 0);  // still parked
  UEXPECT_EQ(sys::thread_resume(t), 0);
  UEXPECT(eventually([&] { return g_counter.load() > frozen; }));  // running again
  // Resumed, it is not stopped: its state cannot be read.
  UEXPECT_EQ(sys::thread_read_state(t, &regs), err(keel::Status::BadState));
  g_stop = true;
  uint64_t bits = 0;
  UEXPECT_EQ(sys::notification_wait(fin, keel::now_ns() + 5'000'000'000ull, &bits), 0);
  sys::vm_unmap(keel::start_info()->self_process, stack, 64 * 1024);
  UEXPECT_EQ(sys::handle_close(t), 0);

  // Killed while parked: it dies there, without running user code again.
  g_stop = false;
  t = keel::start_thread(&counting, fin, 64 * 1024, &stack);
  UASSERT(t != 0);
  UEXPECT_EQ(sys::thread_suspend(t), 0);
  UEXPECT(eventually([&] { return sys::thread_read_state(t, &regs) == 0; }));
  frozen = g_counter.load();
  UEXPECT_EQ(sys::thread_kill(t), 0);
  UEXPECT(eventually([&] { return sys::thread_set_priority(t, 4) == err(keel::Status::BadState); }));  // dead
  g_stop = true;  // (were it still alive, it would signal `fin` now)
  sys::thread_sleep(keel::now_ns() + 20'000'000);
  UEXPECT_EQ(g_counter.load(), frozen);
  UEXPECT_EQ(sys::notification_poll(fin, &bits), err(keel::Status::WouldBlock));
  sys::vm_unmap(keel::start_info()->self_process, stack, 64 * 1024);

  uint32_t vmo = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  UEXPECT_EQ(sys::thread_suspend(vmo), err(keel::Status::WrongType));
  UEXPECT_EQ(sys::thread_resume(0), err(keel::Status::BadHandle));
  for (uint32_t h : {t, fin, vmo}) UEXPECT_EQ(sys::handle_close(h), 0);
}

// thread_set_priority on a thread in every state: running or ready (a
// spinning thread), then exited (BadState); never above the caller's ceiling.
UTEST(thread, set_priority_live) {
  UASSERT(keel::start_info() != nullptr);
  uint32_t fin = 0;
  UASSERT(sys::notification_create(&fin) == 0);
  uint64_t stack = 0;
  g_stop = false;
  g_counter = 0;
  uint32_t t = keel::start_thread(&counting, fin, 64 * 1024, &stack);
  UASSERT(t != 0);
  sys::thread_sleep(keel::now_ns() + 5'000'000);
  for (uint32_t p : {3u, 16u, 0u, 9u}) UEXPECT_EQ(sys::thread_set_priority(t, p), 0);
  UEXPECT_EQ(sys::thread_set_priority(t, 17), err(keel::Status::InvalidArgument));  // above our ceiling (16)
  UEXPECT_EQ(sys::thread_set_priority(t, 32), err(keel::Status::InvalidArgument));
  uint64_t before = g_counter.load();
  sys::thread_sleep(keel::now_ns() + 20'000'000);  // at 9, below us, it still runs while we sleep
  UEXPECT(g_counter.load() > before);
  UEXPECT_EQ(sys::thread_set_priority(t, 16), 0);
  g_stop = true;
  uint64_t bits = 0;
  UEXPECT_EQ(sys::notification_wait(fin, keel::now_ns() + 5'000'000'000ull, &bits), 0);
  // It signalled and is exiting: BadState once it has.
  int64_t r = 0;
  for (int i = 0; i < 200 && (r = sys::thread_set_priority(t, 4)) == 0; ++i) sys::thread_sleep(keel::now_ns() + 1'000'000);
  UEXPECT_EQ(r, err(keel::Status::BadState));
  sys::vm_unmap(keel::start_info()->self_process, stack, 64 * 1024);
  UEXPECT_EQ(sys::thread_set_priority(fin, 1), err(keel::Status::WrongType));
  for (uint32_t h : {t, fin}) UEXPECT_EQ(sys::handle_close(h), 0);
}

// Every kernel object a process causes to be allocated is charged to its
// quota (65,536 objects by default): mapping one page over and over charges a
// Mapping record each time, until the kernel refuses with QuotaExceeded — an
// error, not an out-of-memory kernel. Unmapping gives the quota back.
UTEST(quota, exhaustion_is_an_error_and_recovers) {
  UASSERT(keel::start_info() != nullptr);
  uint32_t self = keel::start_info()->self_process;
  uint32_t vmo = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  keel::SystemStats before{};
  UASSERT(sys::system_stats(&before, sizeof before) == 0);
  // Consecutive mappings downwards from a fixed top, far from everything
  // else (each new one goes to the front of the sorted mapping list: O(1)).
  constexpr uint64_t kTop = 0x100000000000ull;
  constexpr uint64_t kMax = 70'000;
  uint64_t mapped = 0;
  int64_t last = 0;
  for (; mapped < kMax; ++mapped) {
    uint64_t addr = kTop - (mapped + 1) * 4096;
    last = sys::vm_map(self, vmo, 0, 4096, keel::kVmRead | keel::kVmFixed, &addr);
    if (last != 0) break;
  }
  UEXPECT_EQ(last, err(keel::Status::QuotaExceeded));
  UEXPECT(mapped > 1000 && mapped < 65536);
  // Still alive and well: other calls work; a fresh object is refused too.
  uint32_t n = 0;
  UEXPECT_EQ(sys::notification_create(&n), err(keel::Status::QuotaExceeded));
  UEXPECT_EQ(sys::vm_unmap(self, kTop - mapped * 4096, mapped * 4096), 0);
  UEXPECT_EQ(sys::notification_create(&n), 0);  // the quota came back
  UEXPECT_EQ(sys::handle_close(n), 0);
  UEXPECT_EQ(sys::handle_close(vmo), 0);
  keel::SystemStats after{};
  UASSERT(sys::system_stats(&after, sizeof after) == 0);
  UEXPECT_EQ(after.objects_live, before.objects_live - 1);  // the vmo is gone
}
