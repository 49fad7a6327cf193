// sched/host.h — test controls of the host fake scheduler: fake threads
// backed by host threads, the fake clock, and observing and killing threads.
// See sched/scheduler.h here for what the fake models.
#pragma once

#include <sched/scheduler.h>
#include <sched/thread.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace sched::host {

// The fake clock (ns) when the test program starts: deadlines below it are
// already past. It only moves forward, by advance_clock().
inline constexpr uint64_t kClockStart = 1'000'000'000;

uint64_t now_ns();
// Moves the fake clock forward by `ns`; parked threads whose deadline has
// come wake with TimedOut before this returns.
void advance_clock(uint64_t ns);

// Blocks (real time, at most `timeout`) until `t` is parked with no wake-up
// on its way. False on timeout.
bool wait_parked(Thread* t, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The same, once `t` has blocked in park() at least `n` times in all (this
// park included): to wait for its n-th wait.
bool wait_parked_nth(Thread* t, uint64_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// True if `t` is parked right now with no wake-up on its way.
bool is_parked(Thread* t);
// Parks of `t` that blocked so far (a park that returned at once is not one).
uint64_t blocking_parks(Thread* t);
// switch_to_claimed() calls so far that handed over to the claimed thread
// (did not fall back to unpark): how often the IPC fast paths really ran.
uint64_t claimed_switches();
// Blocks (real time, at most `timeout`) until `t` has exited. False on timeout.
bool wait_exited(Thread* t, std::chrono::milliseconds timeout);

// What the kernel does to kill a thread blocked in the kernel: sets
// kill_pending and unparks it with Interrupted.
void kill(Thread* t);

// A fake thread: a sched::Thread running `body` on its own host thread, as
// sched::current(). When `body` returns the thread exits as the kernel's
// exit_current() does: ipc::thread_exiting() (a caller it owed a reply gets
// PeerClosed), then it is dead. The host thread holds a reference to the
// Thread until then, like the kernel scheduler. The destructor joins; a
// thread still blocked 30 s later (a test that failed and left it waiting)
// is killed, repeatedly, so that the test program ends.
class HostThread {
 public:
  HostThread(const char* name, std::function<void()> body);
  ~HostThread();
  HostThread(const HostThread&) = delete;
  HostThread& operator=(const HostThread&) = delete;

  Thread* get() const { return thread_.get(); }
  Thread* operator->() const { return thread_.get(); }
  const ktl::RefPtr<Thread>& ref() const { return thread_; }
  void join() {
    if (host_.joinable()) host_.join();
  }

 private:
  ktl::RefPtr<Thread> thread_;
  std::thread host_;
};

}  // namespace sched::host
