// sched/thread.h (host fake) — the sched::Thread of the host fake scheduler.
//
// Host tests that compile kernel code which blocks (kernel/ipc/endpoint.cc)
// put tests/host/support/fake_sched/ BEFORE kernel/ on the include path, so
// that <sched/thread.h> and <sched/scheduler.h> name these files instead of
// the kernel's (which need mm/vm.h, per-CPU state and context switching).
//
// This Thread keeps only what the IPC code touches: the KernelObject base
// (reference counting, type tag), a name, kill_pending and the embedded
// ipc::ThreadIpc. Each Thread runs on a real host std::thread (see
// sched/host.h, which starts them, and fake_sched.cc for the park protocol).
#pragma once

#include <ipc/endpoint.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/object.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>

namespace sched {

// Park state of one fake thread: guarded by the fake scheduler's one mutex
// (fake_sched.cc), which stands in for Thread::lock and the CPU locks.
struct HostParkState {
  std::condition_variable cv;  // the thread sleeps on it while parked
  bool token = false;          // unpark() while not parked: the next park returns at once
  bool parked = false;         // inside park(), between blocking and returning
  bool woken = false;          // parked, and an unpark, its deadline or a switch ended the park
  bool claimed = false;        // claim_for_switch() holds it: unpark() waits (the kernel spins on its lock)
  bool exited = false;         // its body returned and ipc::thread_exiting ran: unpark() does nothing
  ktl::Error reason = ktl::Error::None;  // what the ended park returns
  uint64_t deadline = UINT64_MAX;        // of the current park (fake clock, sched/host.h)
  uint64_t blocking_parks = 0;           // parks that actually blocked (for tests)
};

class Thread final : public object::KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::Thread;
  static constexpr size_t kNameSize = 32;

  // A thread object not yet running; sched::host::HostThread creates one and
  // runs it. Errors: NoMemory.
  static ktl::Result<ktl::RefPtr<Thread>> create_host(const char* name);

  const char* name() const { return name_; }

  ~Thread() override = default;

  std::atomic<bool> kill_pending{false};  // set by sched::host::kill()
  ipc::ThreadIpc ipc;                     // synchronous IPC state (ipc/endpoint.h)
  HostParkState host;                     // fake scheduler state (see above)

 private:
  Thread() : KernelObject(kType) {}
  char name_[kNameSize] = {};
};

}  // namespace sched
