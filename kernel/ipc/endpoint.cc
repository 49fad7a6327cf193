// endpoint.cc — endpoint queues, message delivery, replies.
#include <arch/x86_64/cpu.h>
#include <ipc/endpoint.h>
#include <sched/scheduler.h>
#include <sched/thread.h>

#include <new>

namespace ipc {
namespace {

using syscalls::IpcTag;

// Moves the message and its handles from `src` to `dst` (both threads are
// blocked or are the caller, so nobody else touches these buffers).
void deliver(ThreadIpc& src, ThreadIpc& dst, uint64_t badge, bool is_call) {
  uint32_t words = IpcTag::words(src.msg.tag);
  dst.msg.tag = src.msg.tag;
  if (is_call) dst.msg.tag |= syscalls::kIpcFlagCall;
  for (uint32_t i = 0; i < words; ++i) dst.msg.words[i] = src.msg.words[i];
  for (uint32_t i = 0; i < src.handle_count; ++i) dst.handles[i] = static_cast<object::HandleEntry&&>(src.handles[i]);
  dst.handle_count = src.handle_count;
  src.handle_count = 0;
  dst.badge = badge;
}

// Closes handles that were taken for a message that will not be delivered.
void drop_handles(ThreadIpc& me) {
  object::HandleTable::discard_transferred({me.handles, me.handle_count});
  me.handle_count = 0;
}

// Starts a new operation of the current thread's: a new number, not done.
void begin_op(ThreadIpc& me) {
  uint64_t f = me.lock.lock();
  ++me.op_seq;
  me.done = false;
  me.result = ktl::Error::None;
  me.lock.unlock(f);
}

// The outcome of the current operation, read under its lock.
ktl::Error outcome(ThreadIpc& me, bool* done) {
  uint64_t f = me.lock.lock();
  *done = me.done;
  ktl::Error e = me.result;
  me.lock.unlock(f);
  return e;
}

// A delivered message of at most kIpcRegisterWords words and no handles as
// the registers syscalls' deliver_regs would put it in, for the direct switch.
sched::DirectResult direct_result(const syscalls::IpcMessage& m, uint32_t words, uint64_t badge) {
  return {m.tag, words > 0 ? m.words[0] : 0, words > 1 ? m.words[1] : 0, words > 2 ? m.words[2] : 0, badge};
}

// The fast paths' word copy: the usual short message as four fixed moves
// (words past the count are the sender's stale buffer, never delivered:
// receivers read `words` of them), longer ones with memcpy.
void copy_words(syscalls::IpcMessage& dst, const syscalls::IpcMessage& src, uint32_t words) {
  static_assert(syscalls::kIpcFastpathWords == 4);
  if (words <= 4) [[likely]] {
    dst.words[0] = src.words[0];
    dst.words[1] = src.words[1];
    dst.words[2] = src.words[2];
    dst.words[3] = src.words[3];
  } else {
    __builtin_memcpy(dst.words, src.words, words * sizeof(uint64_t));
  }
}

void finish(ThreadIpc& t, ktl::Error why) {
  uint64_t f = t.lock.lock();
  t.done = true;
  t.result = why;
  t.lock.unlock(f);
}

}  // namespace

void drop_held(ThreadIpc& me) {
  if (Endpoint* ep = me.held) {
    me.held = nullptr;
    ktl::adopt_ref(ep).reset();
  }
}

ktl::Result<ktl::RefPtr<Endpoint>> Endpoint::create(object::Quota* quota) {
  if (quota) TRY(quota->charge(sizeof(Endpoint)));
  auto* e = new (std::nothrow) Endpoint(quota);
  if (!e) {
    if (quota) quota->uncharge(sizeof(Endpoint));
    return ktl::Error::NoMemory;
  }
  return ktl::adopt_ref(e);
}

Endpoint::Endpoint(object::Quota* quota) : KernelObject(kType, quota, quota ? sizeof(Endpoint) : 0) {}

Endpoint::~Endpoint() = default;

void Endpoint::fail_all_locked(ktl::Error why) {
  for (auto* list : {&senders_, &receivers_}) {
    while (ThreadIpc* t = list->pop_front()) {
      t->queued_on = nullptr;
      finish(*t, why);
      sched::unpark(t->owner);
    }
  }
}

void Endpoint::on_zero_handles() {
  uint64_t f = lock_.lock();
  closed_ = true;
  fail_all_locked(ktl::Error::PeerClosed);
  lock_.unlock(f);
}

// Waits until `me.done` (delivery or reply) or the deadline / a kill. On
// timeout, a message still queued on `ep` is withdrawn; a call already taken
// by a server is abandoned (its reply will be dropped).
// `wake`, if not null, is a thread to wake first: the CPU is handed to it
// directly when it can run here (sched::park_and_switch_to).
// `first`, if not null, is the result of a park that already happened (the
// fast path switched away and was woken): it is handled before any new wait.
static ktl::Error wait_done(ThreadIpc& me, klib::SpinLock* ep_lock, ktl::List<ThreadIpc, &ThreadIpc::queue_node>* queue,
                            void* ep, uint64_t deadline_ns, ktl::RefPtr<sched::Thread> wake = nullptr,
                            const ktl::Error* first = nullptr) {
  sched::Thread* self = sched::current();
  for (;;) {
    ktl::Error e;
    if (first) {
      e = *first;
      first = nullptr;
    } else if (wake) {
      // Nothing can have completed `me` yet that the loop would miss: a
      // completion leaves a wake token, and park_and_switch_to returns at once.
      e = sched::park_and_switch_to(static_cast<ktl::RefPtr<sched::Thread>&&>(wake), deadline_ns);
    } else {
      uint64_t f = me.lock.lock();
      if (me.done) {
        ktl::Error r = me.result;
        me.lock.unlock(f);
        return r;
      }
      me.lock.unlock(f);
      e = sched::park(deadline_ns);
    }
    bool killed = self->kill_pending.load();
    if (e != ktl::Error::TimedOut && !killed) continue;
    // Give up: withdraw from the queue if still there.
    if (ep_lock) {
      uint64_t g = ep_lock->lock();
      if (me.queued_on == ep) {
        queue->remove(&me);
        me.queued_on = nullptr;
        ep_lock->unlock(g);
        drop_handles(me);
        return killed ? ktl::Error::Interrupted : ktl::Error::TimedOut;
      }
      ep_lock->unlock(g);
    }
    uint64_t f = me.lock.lock();
    if (me.done) {  // it completed meanwhile
      ktl::Error r = me.result;
      me.lock.unlock(f);
      return r;
    }
    me.done = true;  // abandoned: a late reply finds done set and is dropped
    me.result = killed ? ktl::Error::Interrupted : ktl::Error::TimedOut;
    me.lock.unlock(f);
    return me.result;
  }
}

ktl::Error Endpoint::send(uint64_t badge, bool is_call, uint64_t deadline_ns) {
  sched::Thread* self = sched::current();
  ThreadIpc& me = self->ipc;
  me.owner = self;
  me.badge = badge;
  me.is_call = is_call;
  begin_op(me);
  uint64_t f = lock_.lock();
  if (closed_) {
    lock_.unlock(f);
    drop_handles(me);
    return ktl::Error::PeerClosed;
  }
  if (ThreadIpc* r = receivers_.pop_front()) {
    r->queued_on = nullptr;
    deliver(me, *r, badge, is_call);
    if (is_call) {
      self->ref();  // the receiver holds the caller until it replies
      r->reply_to = self;
      r->reply_seq = me.op_seq;
    }
    // Our own reference: once finished, the receiver may run (a timeout or a
    // kill wakes it elsewhere) and exit before we wake it.
    ktl::RefPtr<sched::Thread> receiver(r->owner);
    finish(*r, ktl::Error::None);
    lock_.unlock(f);
    if (!is_call) {
      sched::unpark(receiver.get());
      return ktl::Error::None;
    }
    return wait_done(me, nullptr, nullptr, nullptr, deadline_ns, static_cast<ktl::RefPtr<sched::Thread>&&>(receiver));
    // (Delivered: the handles went with the message.)
  }
  if (deadline_ns == 0) {  // poll: nobody is receiving
    lock_.unlock(f);
    drop_handles(me);
    return ktl::Error::TimedOut;
  }
  senders_.push_back(&me);
  me.queued_on = this;
  lock_.unlock(f);
  ktl::Error e = wait_done(me, &lock_, &senders_, this, deadline_ns);
  // Failed while queued (the endpoint closed): the handles were never
  // delivered. (Once delivered, handle_count is 0.)
  if (e != ktl::Error::None) drop_handles(me);
  return e;
}

// The fast paths run with interrupts off from the endpoint lock to the
// switch. A claimed thread (sched::claim_for_switch) is parked and its lock
// is held, so nothing else reads or writes its ThreadIpc until it runs again:
// its IPC fields are written without its ThreadIpc lock.
bool Endpoint::fast_call(uint64_t badge, ktl::Error* result, ktl::RefPtr<Endpoint>* direct) {
  sched::Thread* self = sched::current();
  ThreadIpc& me = self->ipc;
  uint64_t f = me.lock.lock();  // begin_op; interrupts stay off from here to the switch
  ++me.op_seq;
  me.done = false;
  me.result = ktl::Error::None;
  me.lock.unlock(0);
  lock_.lock_irqs_off();
  ThreadIpc* r = receivers_.front();
  if (closed_ || r == nullptr || !sched::claim_for_switch(r->owner)) {
    lock_.unlock(f);  // (begin_op's new number is harmless: nothing was sent)
    return false;
  }
  receivers_.pop_front();
  r->queued_on = nullptr;
  uint32_t words = IpcTag::words(me.msg.tag);
  r->msg.tag = me.msg.tag | syscalls::kIpcFlagCall;
  copy_words(r->msg, me.msg, words);
  r->handle_count = 0;
  r->badge = badge;
  self->ref();  // the receiver holds the caller until it replies
  r->reply_to = self;
  r->reply_seq = me.op_seq;
  r->done = true;
  r->result = ktl::Error::None;
  sched::Thread* server = r->owner;
  sched::DirectResult regs;
  const bool to_user = r->direct && words <= syscalls::kIpcRegisterWords;
  if (to_user) {
    r->direct = false;
    regs = direct_result(r->msg, words, badge);
  }
  me.owner = self;
  me.is_call = true;
  if (direct) {  // (our wait needs no endpoint: the reference only has to leave the stack)
    me.held = direct->leak_ref();
    me.direct = true;
  }
  lock_.unlock(0);
  ktl::Error e = sched::switch_to_claimed(server, UINT64_MAX, to_user ? &regs : nullptr);
  me.direct = false;
  if (f & (1 << 9)) x86::sti();
  drop_held(me);
  // Woken by the reply (the usual case: its writer finished before waking
  // us), or by something else: then the general wait takes over.
  bool done = false;
  ktl::Error r_outcome = outcome(me, &done);
  *result = e == ktl::Error::None && done ? r_outcome
                                          : wait_done(me, nullptr, nullptr, nullptr, UINT64_MAX, nullptr, &e);
  return true;
}

bool Endpoint::fast_reply_recv(ktl::Error* result, ktl::RefPtr<Endpoint>* direct) {
  sched::Thread* self = sched::current();
  ThreadIpc& me = self->ipc;
  sched::Thread* caller = me.reply_to;
  uint64_t f = lock_.lock();
  if (closed_ || !senders_.empty() || !sched::claim_for_switch(caller)) {
    lock_.unlock(f);
    return false;
  }
  ThreadIpc& c = caller->ipc;
  c.lock.lock_irqs_off();
  if (c.done || c.op_seq != me.reply_seq) {  // it gave up on this call: the general path drops the reply
    c.lock.unlock(0);
    sched::release_claim(caller);
    lock_.unlock(f);
    return false;
  }
  uint32_t words = IpcTag::words(me.msg.tag);
  c.msg.tag = me.msg.tag;
  copy_words(c.msg, me.msg, words);
  c.handle_count = 0;
  c.badge = 0;
  c.done = true;
  c.result = ktl::Error::None;
  sched::DirectResult regs;
  const bool to_user = c.direct && words <= syscalls::kIpcRegisterWords;
  if (to_user) {
    c.direct = false;
    regs = direct_result(c.msg, words, 0);
  }
  c.lock.unlock(0);
  me.reply_to = nullptr;
  ktl::adopt_ref(caller).reset();  // the reference taken at delivery (not the last: the scheduler holds one)
  me.owner = self;
  me.handle_count = 0;
  {
    // begin_op, with interrupts already off
    me.lock.lock_irqs_off();
    ++me.op_seq;
    me.done = false;
    me.result = ktl::Error::None;
    me.lock.unlock(0);
  }
  if (direct) {  // keeps this endpoint alive for the wait (wait_done below)
    me.held = direct->leak_ref();
    me.direct = true;
  }
  receivers_.push_back(&me);
  me.queued_on = this;
  lock_.unlock(0);
  ktl::Error e = sched::switch_to_claimed(caller, UINT64_MAX, to_user ? &regs : nullptr);
  me.direct = false;
  if (f & (1 << 9)) x86::sti();
  bool done = false;
  ktl::Error r_outcome = outcome(me, &done);
  *result = e == ktl::Error::None && done ? r_outcome
                                          : wait_done(me, &lock_, &receivers_, this, UINT64_MAX, nullptr, &e);
  drop_held(me);  // (after the last use of this endpoint)
  return true;
}

ktl::Error Endpoint::receive(uint64_t deadline_ns, ktl::RefPtr<sched::Thread> wake) {
  sched::Thread* self = sched::current();
  ThreadIpc& me = self->ipc;
  me.owner = self;
  begin_op(me);
  me.handle_count = 0;
  uint64_t f = lock_.lock();
  if (closed_) {
    lock_.unlock(f);
    if (wake) sched::unpark(wake.get());
    return ktl::Error::PeerClosed;
  }
  if (ThreadIpc* s = senders_.pop_front()) {
    s->queued_on = nullptr;
    deliver(*s, me, s->badge, s->is_call);
    auto* sender = s->owner;
    if (s->is_call) {
      sender->ref();
      me.reply_to = sender;
      me.reply_seq = s->op_seq;
      lock_.unlock(f);
    } else {
      ktl::RefPtr<sched::Thread> keep(sender);  // it may run and exit once finished
      finish(*s, ktl::Error::None);
      lock_.unlock(f);
      sched::unpark(sender);
    }
    if (wake) sched::unpark(wake.get());
    return ktl::Error::None;
  }
  if (deadline_ns == 0) {
    lock_.unlock(f);
    if (wake) sched::unpark(wake.get());
    return ktl::Error::TimedOut;
  }
  receivers_.push_back(&me);
  me.queued_on = this;
  lock_.unlock(f);
  return wait_done(me, &lock_, &receivers_, this, deadline_ns, static_cast<ktl::RefPtr<sched::Thread>&&>(wake));
}

ktl::Result<ktl::RefPtr<sched::Thread>> reply_deferred() {
  sched::Thread* self = sched::current();
  ThreadIpc& me = self->ipc;
  sched::Thread* caller = me.reply_to;
  if (!caller) {
    drop_handles(me);
    return ktl::Error::BadState;
  }
  me.reply_to = nullptr;
  ktl::RefPtr<sched::Thread> ref = ktl::adopt_ref(caller);  // the one taken at delivery
  ThreadIpc& c = caller->ipc;
  uint64_t f = c.lock.lock();
  bool delivered = !c.done && c.op_seq == me.reply_seq;
  if (delivered) {
    deliver(me, c, 0, false);
    c.done = true;
    c.result = ktl::Error::None;
  }
  c.lock.unlock(f);
  if (!delivered) {
    drop_handles(me);  // the caller gave up
    return ktl::RefPtr<sched::Thread>();
  }
  return ref;
}

ktl::Error reply() {
  auto caller = reply_deferred();
  if (!caller.ok()) return caller.error();
  if (*caller) sched::unpark(caller->get());
  return ktl::Error::None;
}

void thread_exiting(sched::Thread* t) {
  ThreadIpc& me = t->ipc;
  drop_handles(me);
  drop_held(me);  // (none: a wait drops it when it ends)
  if (sched::Thread* caller = me.reply_to) {
    me.reply_to = nullptr;
    ThreadIpc& c = caller->ipc;
    uint64_t f = c.lock.lock();
    bool waiting = !c.done && c.op_seq == me.reply_seq;
    if (waiting) {
      c.done = true;
      c.result = ktl::Error::PeerClosed;  // the server died mid-call
    }
    c.lock.unlock(f);
    if (waiting) sched::unpark(caller);
    ktl::RefPtr<sched::Thread> drop = ktl::adopt_ref(caller);
  }
}

}  // namespace ipc

