// fake_sched.cc — the host fake scheduler (sched/scheduler.h and sched/host.h
// in this directory say what it models and what it does not).
//
// One mutex, g_mu, guards every thread's HostParkState, the fake clock and
// the list of parked threads: it plays Thread::lock and the CPU locks of the
// kernel scheduler, and like them it is taken last (kernel code calls
// unpark() with endpoint and IPC locks held, never the other way round).
// A parked thread waits on its own condition variable for `woken`; g_changed
// tells observers (wait_parked, wait_exited) and unpark() waiting on a claim
// that some thread's state changed.
#include <ipc/endpoint.h>
#include <sched/host.h>
#include <sched/scheduler.h>
#include <sched/thread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace sched {
namespace {

std::mutex g_mu;
std::condition_variable g_changed;   // any park/claim/exit state change
uint64_t g_now = host::kClockStart;  // the fake clock: guarded by g_mu
std::vector<Thread*> g_parked;       // threads inside park(): guarded by g_mu
uint64_t g_claimed_switches = 0;     // guarded by g_mu
thread_local Thread* t_current = nullptr;

Thread* self_or_die(const char* what) {
  Thread* t = t_current;
  if (t == nullptr) {
    std::fprintf(stderr, "fake scheduler: %s called on a host thread that is not a sched::Thread\n", what);
    std::abort();
  }
  return t;
}

// Under g_mu: ends `t`'s park with `reason`.
void wake_locked(Thread* t, ktl::Error reason) {
  t->host.woken = true;
  t->host.reason = reason;
  t->host.cv.notify_one();
  g_changed.notify_all();
}

// Under g_mu (held in `lk`): the body of park().
ktl::Error park_locked(std::unique_lock<std::mutex>& lk, Thread* t, uint64_t deadline_ns) {
  if (t->host.token) {
    t->host.token = false;
    return ktl::Error::None;
  }
  if (deadline_ns != UINT64_MAX && deadline_ns <= g_now) return ktl::Error::TimedOut;
  t->host.parked = true;
  t->host.woken = false;
  t->host.deadline = deadline_ns;
  ++t->host.blocking_parks;
  g_parked.push_back(t);
  g_changed.notify_all();
  t->host.cv.wait(lk, [t] { return t->host.woken; });
  g_parked.erase(std::find(g_parked.begin(), g_parked.end(), t));
  t->host.parked = false;
  t->host.woken = false;
  g_changed.notify_all();
  return t->host.reason;
}

}  // namespace

ktl::Result<ktl::RefPtr<Thread>> Thread::create_host(const char* name) {
  Thread* t = new (std::nothrow) Thread();
  if (t == nullptr) return ktl::Error::NoMemory;
  std::strncpy(t->name_, name, kNameSize - 1);
  return ktl::adopt_ref(t);
}

Thread* current() { return t_current; }

ktl::Error park(uint64_t deadline_ns) {
  Thread* t = self_or_die("park");
  std::unique_lock lk(g_mu);
  return park_locked(lk, t, deadline_ns);
}

void unpark(Thread* t, ktl::Error reason) {
  std::unique_lock lk(g_mu);
  g_changed.wait(lk, [t] { return !t->host.claimed; });
  if (t->host.exited) return;
  if (t->host.parked && !t->host.woken) {
    wake_locked(t, reason);
  } else {
    t->host.token = true;  // running, or woken and not yet back: its next park returns at once
  }
}

ktl::Error park_and_switch_to(ktl::RefPtr<Thread> next, uint64_t deadline_ns) {
  unpark(next.get());
  next.reset();
  return park(deadline_ns);
}

bool claim_for_switch(Thread* next) {
  std::lock_guard lk(g_mu);
  HostParkState& s = next->host;
  // The kernel's conditions that the fake can see: parked (Blocked), no
  // timer armed, not claimed by someone else (try_lock of its lock).
  if (!s.parked || s.woken || s.claimed || s.deadline != UINT64_MAX) return false;
  s.claimed = true;
  return true;
}

void release_claim(Thread* next) {
  std::lock_guard lk(g_mu);
  next->host.claimed = false;
  g_changed.notify_all();
}

// (to_user: the fake has no user frames, so `next` always resumes its
// continuation, which the kernel's contract says gives the same result.)
ktl::Error switch_to_claimed(Thread* next, uint64_t deadline_ns, const DirectResult*) {
  Thread* t = self_or_die("switch_to_claimed");
  std::unique_lock lk(g_mu);
  next->host.claimed = false;
  g_changed.notify_all();
  if (t->host.token || (deadline_ns != UINT64_MAX && deadline_ns <= g_now)) {
    // As the kernel: stay, and wake `next` the ordinary way.
    ktl::Error e = t->host.token ? ktl::Error::None : ktl::Error::TimedOut;
    t->host.token = false;
    lk.unlock();
    unpark(next);
    return e;
  }
  wake_locked(next, ktl::Error::None);  // still parked and unwoken: the claim kept it so
  ++g_claimed_switches;
  return park_locked(lk, t, deadline_ns);
}

namespace host {

uint64_t now_ns() {
  std::lock_guard lk(g_mu);
  return g_now;
}

void advance_clock(uint64_t ns) {
  std::lock_guard lk(g_mu);
  g_now += ns;
  for (Thread* t : g_parked) {
    // A claimed thread has no deadline (claim_for_switch checks), so this
    // never wakes one.
    if (!t->host.woken && t->host.deadline != UINT64_MAX && t->host.deadline <= g_now) {
      wake_locked(t, ktl::Error::TimedOut);
    }
  }
}

bool wait_parked(Thread* t, std::chrono::milliseconds timeout) {
  std::unique_lock lk(g_mu);
  return g_changed.wait_for(lk, timeout, [t] { return t->host.parked && !t->host.woken; });
}

bool wait_parked_nth(Thread* t, uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(g_mu);
  return g_changed.wait_for(
      lk, timeout, [t, n] { return t->host.parked && !t->host.woken && t->host.blocking_parks >= n; });
}

bool is_parked(Thread* t) {
  std::lock_guard lk(g_mu);
  return t->host.parked && !t->host.woken;
}

uint64_t blocking_parks(Thread* t) {
  std::lock_guard lk(g_mu);
  return t->host.blocking_parks;
}

uint64_t claimed_switches() {
  std::lock_guard lk(g_mu);
  return g_claimed_switches;
}

bool wait_exited(Thread* t, std::chrono::milliseconds timeout) {
  std::unique_lock lk(g_mu);
  return g_changed.wait_for(lk, timeout, [t] { return t->host.exited; });
}

void kill(Thread* t) {
  t->kill_pending.store(true);
  unpark(t, ktl::Error::Interrupted);
}

HostThread::HostThread(const char* name, std::function<void()> body) {
  auto t = Thread::create_host(name);
  if (!t.ok()) {
    std::fprintf(stderr, "fake scheduler: cannot create thread %s\n", name);
    std::abort();
  }
  thread_ = t.release_value();
  // The host thread's own reference stands for the kernel scheduler's.
  host_ = std::thread([self = thread_, body = std::move(body)]() mutable {
    t_current = self.get();
    body();
    ipc::thread_exiting(self.get());  // as sched::exit_current()
    {
      std::lock_guard lk(g_mu);
      self->host.exited = true;
      self->host.token = false;
      g_changed.notify_all();
    }
    t_current = nullptr;
    self.reset();
  });
}

HostThread::~HostThread() {
  if (!host_.joinable()) return;
  if (!wait_exited(thread_.get(), std::chrono::seconds(30))) {
    std::fprintf(stderr, "fake scheduler: thread %s still blocked at the end of its test; killing it\n",
                 thread_->name());
    while (!wait_exited(thread_.get(), std::chrono::milliseconds(100))) kill(thread_.get());
  }
  host_.join();
}

}  // namespace host
}  // namespace sched
