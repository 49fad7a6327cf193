// ipc/endpoint.h — synchronous IPC: call, send, receive, reply (seL4-style endpoints).
//
// An Endpoint is a rendezvous point with two FIFO queues: threads waiting to
// send (callers and one-way senders) and threads waiting to receive. A message
// is copied user → kernel (the sender's ThreadIpc) → user; handles move from
// the sender's table to the receiver's, all or nothing. A receiver that took a
// call holds the caller until it replies (one outstanding call per server
// thread). The badge of the sender's handle is delivered with the message.
//
// Failure visible to callers: PeerClosed when the server thread holding the
// call exits without replying, or when the last handle to the endpoint closes
// while they wait; TimedOut at their deadline.
//
// Locks: Endpoint::lock_ → ThreadIpc::lock (of one thread at a time) →
// scheduler locks (unpark). Never the other way round.
#pragma once

#include <ktl/list.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <object/handle_table.h>
#include <object/object.h>
#include <syscall_abi.h>

namespace sched {
class Thread;
}

namespace ipc {

class Endpoint;

// Per-thread IPC state (embedded in sched::Thread).
struct ThreadIpc {
  klib::SpinLock lock;                 // guards done, result, and the buffers while another thread fills them
  syscalls::IpcMessage msg{};          // the message being sent, or the one delivered to this thread
  object::HandleEntry handles[syscalls::kIpcMaxHandles];  // in flight with msg
  uint32_t handle_count = 0;
  uint64_t badge = 0;                  // delivered with a received message
  bool is_call = false;                // the queued message expects a reply
  bool done = false;                   // delivery (sender/receiver) or reply (caller) has happened
  // Numbers this thread's operations (guarded by `lock`): a server records
  // the caller's number with reply_to, and a reply or an exit notice only
  // lands if the caller is still in that operation — not in a later one
  // after it gave up on this one.
  uint64_t op_seq = 0;
  ktl::Error result = ktl::Error::None;
  ktl::ListNode queue_node;            // in an Endpoint queue: guarded by that endpoint's lock
  void* queued_on = nullptr;           // Endpoint* while queued
  sched::Thread* reply_to = nullptr;   // server side: the caller owed a reply (holds a reference)
  uint64_t reply_seq = 0;              // server side: reply_to's op_seq for that call
  sched::Thread* owner = nullptr;      // the thread this state belongs to
  // The IPC direct switch (sched::switch_to_claimed with to_user). The
  // thread sets `direct` itself just before it parks in a fast-path wait whose
  // kernel continuation would, once the message is delivered, only put it in
  // its syscall frame (ipc_call_regs, ipc_reply_recv_regs), and clears it as
  // soon as it runs again; a thread that has claimed it (its lock held, it is
  // parked) reads and clears it, and may then write the message into its
  // frame and switch straight to its user mode, abandoning that kernel stack.
  // So while `direct` is set the stack holds no reference: `held` is the
  // endpoint reference the wait needs, dropped by the thread when it runs
  // again (either way: sched_direct_resume_finish on a direct switch).
  bool direct = false;
  Endpoint* held = nullptr;            // a reference, or null (the thread's own)
};

class Endpoint final : public object::KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::Endpoint;

  static ktl::Result<ktl::RefPtr<Endpoint>> create(object::Quota* quota);

  // The current thread sends ipc.msg (already copied in, handles taken) and,
  // for a call, waits for the reply, which lands in ipc.msg. Returns None,
  // TimedOut, PeerClosed or Interrupted. Handles of an undelivered message are
  // closed (the sender gave them up).
  ktl::Error send(uint64_t badge, bool is_call, uint64_t deadline_ns);
  // The current thread waits for a message (delivered into its ipc.msg,
  // ipc.handles, ipc.badge; ipc.reply_to set for a call). `wake`, if not
  // null, is woken first (a caller just replied to: reply_deferred); if the
  // current thread has to wait, the CPU goes to it directly when it can.
  ktl::Error receive(uint64_t deadline_ns, ktl::RefPtr<sched::Thread> wake = nullptr);

  // The fast paths: a call without handles (already in the current thread's
  // ipc.msg: syscalls send at most kIpcFastpathWords words this way, the
  // kernel-built call of a foreign syscall kUserRegsWords), with no deadline, to a server
  // thread waiting on this endpoint that can run on this CPU right away —
  // handed the message and the CPU directly. Return false, having changed
  // nothing, when the conditions do not hold (take send()/receive() then);
  // true with the outcome in *result otherwise (the reply is in ipc.msg).
  //
  // `direct`, if not null, is the syscall's reference to this endpoint, given
  // when all the syscall has left to do after a successful fast path is to
  // put a message of at most kIpcRegisterWords words and no handles in the
  // saved user registers (syscalls' deliver_regs): then the current thread
  // may be resumed by the IPC direct switch (ThreadIpc::direct). The fast
  // path takes the reference when it returns true (and drops it itself).
  // Either way, a partner that waits with `direct` set and gets such a
  // message gets it in its syscall frame and the CPU by the direct switch.
  bool fast_call(uint64_t badge, ktl::Error* result, ktl::RefPtr<Endpoint>* direct = nullptr);
  // Reply-and-receive: the reply (same limits) goes straight to the waiting
  // caller, which gets the CPU, and the current thread waits on this
  // endpoint. Needs a caller owed a reply (ipc.reply_to) and no sender queued.
  bool fast_reply_recv(ktl::Error* result, ktl::RefPtr<Endpoint>* direct = nullptr);

  ~Endpoint() override;

 protected:
  void on_zero_handles() override;

 private:
  explicit Endpoint(object::Quota* quota);
  void fail_all_locked(ktl::Error why);

  klib::SpinLock lock_;
  ktl::List<ThreadIpc, &ThreadIpc::queue_node> senders_;    // guarded by lock_
  ktl::List<ThreadIpc, &ThreadIpc::queue_node> receivers_;  // guarded by lock_
  bool closed_ = false;                                     // guarded by lock_
};

// Replies to the current thread's outstanding caller with ipc.msg (handles
// taken). BadState if there is none. A caller that gave up meanwhile loses
// the reply (its handles are closed).
ktl::Error reply();

// reply() without the wake-up: returns the caller to wake (null if it had
// given up), for reply-and-receive to hand the CPU to. BadState if there is
// no caller.
ktl::Result<ktl::RefPtr<sched::Thread>> reply_deferred();

// Drops `me.held` (see ThreadIpc::direct), if set: the thread runs again
// after a wait (or exits).
void drop_held(ThreadIpc& me);

// Called when a thread exits: a caller it owed a reply gets PeerClosed (if it
// is still in that call), and handles it held for a message are closed. (A
// thread is never queued on an endpoint when it exits: a kill ends its wait,
// which withdraws it first.)
void thread_exiting(sched::Thread* t);

}  // namespace ipc
