// object/process.h — a Process: an address space, a handle table, a quota and its threads.
//
// The quota is a child of the creating process's (object/quota.h): what this
// process and everything it creates cause to be allocated counts against its
// creator's limits too. The Process object itself is charged to its creator,
// each of its threads to itself.
//
// A process ends when its last thread exits or when it is killed (any thread
// faulting, process_exit, process_kill). Then every thread is stopped, every
// handle closed (peers see PeerClosed), the address space torn down, and
// process_wait() returns its exit code. The object itself lives on while
// handles to it exist.
#pragma once

#include <ipc/endpoint.h>
#include <ktl/list.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <object/handle_table.h>
#include <object/object.h>
#include <object/quota.h>
#include <sched/thread.h>
#include <sched/wait_queue.h>
#include <vm/address_space.h>

namespace object {

// Exit code of a process killed by a CPU exception: kExitCodeFaultBase - vector
// (e.g. -1014 for a page fault). process_kill uses kExitCodeKilled.
constexpr int64_t kExitCodeFaultBase = -1000;
constexpr int64_t kExitCodeKilled = -9;

class Process final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Process;
  static constexpr size_t kNameSize = 32;
  // The limits a new process's quota starts with (the ABI's kQuotaDefaultBytes
  // and kQuotaDefaultObjects); process_set_limits lowers them.
  static constexpr uint64_t kDefaultQuotaBytes = 256ull << 20;
  static constexpr uint32_t kDefaultQuotaObjects = 65536;
  // The root task's object limit (its byte limit is the machine's RAM).
  static constexpr uint32_t kRootQuotaObjects = 1u << 24;
  // What creating a process charges its creator: the Process and its Quota.
  static constexpr uint64_t charge_bytes();
  static constexpr uint32_t kMaxHandles = 4096;

  // A new process with an empty address space, created by `creator`: the
  // Process is charged to `creator`'s quota (charge_bytes()) and the new quota
  // is a child of it. `creator` null: the root task, whose quota has no parent
  // and which is charged to nobody. Errors: QuotaExceeded (`creator`'s quota,
  // or the new one for the address space), NoMemory.
  static ktl::Result<ktl::RefPtr<Process>> create(const char* name, size_t name_len, Process* creator);

  const char* name() const { return name_; }
  HandleTable& handles() { return handles_; }
  vm::AddressSpace& aspace() { return *aspace_; }
  // This process's quota (its own charges and its descendants').
  Quota& quota() { return *quota_; }

  // What a user thread charges its process's quota until the Thread object is
  // destroyed: the Thread, its kernel stack and its FPU state area.
  static uint64_t thread_charge_bytes();
  // Creates a user thread (not started), charged to this process's quota.
  // Errors: QuotaExceeded, NoMemory, BadState if the process has exited.
  ktl::Result<ktl::RefPtr<sched::Thread>> create_thread(const char* name, size_t name_len, uint64_t entry,
                                                        uint64_t stack, uint64_t arg);
  // Starts a thread created by create_thread with its entry point set now.
  ktl::Result<void> start_thread(sched::Thread* t, uint64_t entry, uint64_t stack, uint64_t arg);

  // Forgets a thread that was created but never started (thread_kill on it):
  // it leaves the thread list and can no longer be started.
  void discard_unstarted(sched::Thread* t);
  // Runs fn(t) under the process lock if `t` is a thread of this process that
  // has not been started (so start_thread cannot race with it); fn must not
  // block. Returns fn's result, or BadState if t is started, exited or gone.
  template <typename Fn>
  ktl::Result<void> with_unstarted(sched::Thread* t, Fn&& fn) {
    uint64_t flags = lock_.lock();
    ktl::Result<void> r = ktl::Error::BadState;
    if (t->process == this && t->state() == sched::ThreadState::New && t->process_node.linked() && !killing_ &&
        !finished_)
      r = fn(t);
    lock_.unlock(flags);
    return r;
  }
  // Called by a user thread of this process as it exits (any reason).
  void on_thread_exit(sched::Thread* t);
  // Ends the process with `code`: marks every thread to be killed. Idempotent.
  void kill(int64_t code);
  bool exited() const { return exited_; }
  int64_t exit_code() const { return exit_code_; }
  // Waits until the process has exited (TimedOut, Interrupted).
  ktl::Error wait_exit(uint64_t deadline_ns);
  uint32_t live_threads() const { return live_threads_; }

  // The endpoint that receives the page faults the kernel cannot resolve
  // (null: none; such faults kill the process). BadState after exit.
  ktl::Result<void> set_pager(ktl::RefPtr<ipc::Endpoint> endpoint, uint64_t badge);
  ktl::RefPtr<ipc::Endpoint> pager(uint64_t* badge);

  ~Process() override;

  // The id of the process that created this one (0: the root task).
  uint64_t parent_id() const { return parent_id_; }

  // Calls fn(Process&) for each process that exists with id > after_id, in
  // increasing id order, until fn returns false. Runs under the registry's
  // lock (a leaf but for the quota locks fn may take): fn must not block,
  // allocate or drop a reference.
  template <typename Fn>
  static void for_each_after(uint64_t after_id, Fn&& fn);

 protected:
  // The last handle closed: a process with no thread running can never be
  // started by anyone now, and its unstarted threads and it would keep each
  // other alive forever. Such a process is killed (a running one goes on).
  void on_zero_handles() override;

 private:
  // `quota` is this process's own (a reference is taken); `charged_to`, if
  // not null, has been charged charge_bytes() for this Process.
  Process(Quota* quota, Quota* charged_to)
      : KernelObject(kType, charged_to, charged_to != nullptr ? charge_bytes() : 0),
        handles_(kMaxHandles),
        quota_(quota) {
    handles_.set_quota(quota_);
  }
  void finish_exit();  // last thread gone: release everything

  char name_[kNameSize] = {};
  uint64_t parent_id_ = 0;
  ktl::ListNode registry_node_;  // in registry(): guarded by registry_lock()

  using Registry = ktl::List<Process, &Process::registry_node_>;
  static klib::SpinLock& registry_lock();
  static Registry& registry();  // every Process, in id order
  void register_self();
  HandleTable handles_;
  const ktl::RefPtr<Quota> quota_;  // never null
  ktl::RefPtr<vm::AddressSpace> aspace_;
  klib::SpinLock lock_;  // guards threads_, live_threads_, killing_
  ktl::List<sched::Thread, &sched::Thread::process_node> threads_;  // each holds a reference
  uint32_t live_threads_ = 0;
  bool killing_ = false;
  bool finished_ = false;  // the last thread is gone (or none ever ran): no new threads
  ktl::RefPtr<ipc::Endpoint> pager_;  // guarded by lock_
  uint64_t pager_badge_ = 0;          // guarded by lock_
  bool exited_ = false;      // written under exit_waiters_.lock()
  int64_t exit_code_ = 0;
  sched::WaitQueue exit_waiters_;
};

constexpr uint64_t Process::charge_bytes() { return sizeof(Process) + sizeof(Quota); }

template <typename Fn>
void Process::for_each_after(uint64_t after_id, Fn&& fn) {
  klib::SpinLockGuard guard(registry_lock());
  for (Process* p = registry().front(); p != nullptr; p = registry().next(p)) {
    if (p->id() > after_id && !fn(*p)) break;
  }
}

}  // namespace object
