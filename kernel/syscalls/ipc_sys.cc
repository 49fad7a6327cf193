// ipc_sys.cc — endpoints: create, call, send, receive, reply.
#include <ipc/endpoint.h>
#include <syscalls/common.h>

namespace syscalls {
namespace {

using ipc::ThreadIpc;

// Copies the message at `msg` into the thread's kernel buffer and takes its
// handles out of the caller's table (all need `transfer`; all or nothing).
// The tag and the first kIpcFastpathWords words: read with one copy (the
// whole IpcMessage is the caller's, checked by user_range_ok beforehand).
constexpr size_t kHeadBytes = offsetof(IpcMessage, words) + kIpcFastpathWords * sizeof(uint64_t);

// Takes the message's `handles` handles (listed at msg->handles) out of the
// caller's table for transfer (all need `transfer`; all or nothing).
ktl::Result<void> take_handles(ThreadIpc& me, UserAddr msg, uint32_t handles) {
  me.handle_count = 0;
  if (handles == 0) return ktl::ok();
  Handle hs[kIpcMaxHandles];
  TRY(x86::copy_from_user(hs, msg + offsetof(IpcMessage, handles), handles * sizeof(Handle)));
  TRY(current_process().handles().take_many_for_transfer({hs, handles}, {me.handles, handles}));
  me.handle_count = handles;
  return ktl::ok();
}

ktl::Result<void> copy_in(UserAddr msg) {
  ThreadIpc& me = sched::current()->ipc;
  static_assert(offsetof(IpcMessage, tag) == 0);
  TRY(x86::copy_from_user(&me.msg, msg, kHeadBytes));
  uint64_t tag = me.msg.tag;
  uint32_t words = IpcTag::words(tag), handles = IpcTag::handles(tag);
  if (words > kIpcMaxWords || handles > kIpcMaxHandles) return ktl::Error::InvalidArgument;
  me.msg.tag = tag & ~uint64_t(kIpcFlagCall);  // flags are the kernel's to set
  if (words > kIpcFastpathWords) {
    TRY(x86::copy_from_user(&me.msg.words[kIpcFastpathWords], msg + kHeadBytes,
                            (words - kIpcFastpathWords) * sizeof(uint64_t)));
  }
  return take_handles(me, msg, handles);
}

// copy_in for the register-message syscalls: the tag and words 0..2 come from
// registers, only the rest from `msg`.
ktl::Result<void> copy_in_regs(UserAddr msg, uint64_t tag, uint64_t w0, uint64_t w1, uint64_t w2) {
  static_assert(kIpcRegisterWords == 3);
  ThreadIpc& me = sched::current()->ipc;
  uint32_t words = IpcTag::words(tag), handles = IpcTag::handles(tag);
  if (words > kIpcMaxWords || handles > kIpcMaxHandles) return ktl::Error::InvalidArgument;
  me.msg.tag = tag & ~uint64_t(kIpcFlagCall);
  me.msg.words[0] = w0;
  me.msg.words[1] = w1;
  me.msg.words[2] = w2;
  if (words > kIpcRegisterWords) {
    TRY(x86::copy_from_user(&me.msg.words[kIpcRegisterWords],
                            msg + offsetof(IpcMessage, words) + kIpcRegisterWords * sizeof(uint64_t),
                            (words - kIpcRegisterWords) * sizeof(uint64_t)));
  }
  return take_handles(me, msg, handles);
}

// Installs the delivered handles in the caller's table (into `out`). Returns
// how many it installed: all, or none (they are closed) with *install set to
// the error (NoSpace) when the table cannot take them.
uint32_t install_handles(ThreadIpc& me, Handle* out, ktl::Error* install) {
  *install = ktl::Error::None;
  uint32_t n = me.handle_count;
  me.handle_count = 0;
  if (n == 0) return 0;
  auto r = current_process().handles().add_many({me.handles, n}, {out, n});
  if (r.ok()) return n;
  object::HandleTable::discard_transferred({me.handles, n});
  *install = r.error();
  return 0;
}

// The tag a receiver sees: the handle count is what was installed.
uint64_t delivered_tag(uint64_t tag, uint32_t handles) {
  return (tag & ~(uint64_t(0xff) << 16)) | (uint64_t(handles) << 16);
}

// Installs the delivered handles in the caller's table and copies the message
// out. If the table cannot take the handles they are closed and NoSpace is
// returned (the words are still delivered).
ktl::Result<void> copy_out(UserAddr msg) {
  ThreadIpc& me = sched::current()->ipc;
  uint32_t words = IpcTag::words(me.msg.tag);
  // The handles and the badge end the message: written together.
  struct {
    Handle handles[kIpcMaxHandles];
    uint64_t badge;
  } tail = {{}, me.badge};
  static_assert(offsetof(IpcMessage, badge) == offsetof(IpcMessage, handles) + sizeof tail.handles);
  static_assert(sizeof tail == sizeof tail.handles + sizeof tail.badge);
  ktl::Error install;
  uint32_t nh = install_handles(me, tail.handles, &install);
  me.msg.tag = delivered_tag(me.msg.tag, nh);
  // The tag and the words are contiguous in the kernel buffer as in the user's.
  TRY(x86::copy_to_user(msg, &me.msg, offsetof(IpcMessage, words) + words * sizeof(uint64_t)));
  TRY(x86::copy_to_user(msg + offsetof(IpcMessage, handles), &tail, sizeof tail));
  if (install != ktl::Error::None) return install;
  return ktl::ok();
}

// copy_out for the register-message syscalls: the tag, words 0..2 (0 past
// the message's word count) and the badge go into the saved user registers
// rdx, r10, r8, r9 and rsi; only further words and installed handles are
// written to `msg`.
ktl::Result<void> copy_out_regs(UserAddr msg) {
  ThreadIpc& me = sched::current()->ipc;
  x86::InterruptFrame& f = syscall_frame();
  uint32_t words = IpcTag::words(me.msg.tag);
  Handle hs[kIpcMaxHandles];
  ktl::Error install;
  uint32_t nh = install_handles(me, hs, &install);
  f.rdx = delivered_tag(me.msg.tag, nh);
  f.r10 = words > 0 ? me.msg.words[0] : 0;
  f.r8 = words > 1 ? me.msg.words[1] : 0;
  f.r9 = words > 2 ? me.msg.words[2] : 0;
  f.rsi = me.badge;
  if (words > kIpcRegisterWords) {
    TRY(x86::copy_to_user(msg + offsetof(IpcMessage, words) + kIpcRegisterWords * sizeof(uint64_t),
                          &me.msg.words[kIpcRegisterWords], (words - kIpcRegisterWords) * sizeof(uint64_t)));
  }
  if (nh) TRY(x86::copy_to_user(msg + offsetof(IpcMessage, handles), hs, nh * sizeof(Handle)));
  if (install != ktl::Error::None) return install;
  return ktl::ok();
}

// True if the message just copied in qualifies for the IPC fast path: few
// words, no handles, no deadline.
bool fast_path_ok(Deadline deadline) {
  const ThreadIpc& me = sched::current()->ipc;
  return deadline == kDeadlineForever && me.handle_count == 0 && IpcTag::words(me.msg.tag) <= kIpcFastpathWords;
}

// The two ways a message's head travels: through `msg` (the memory syscalls)
// or through registers (the *_regs twins).
enum class Head { Memory, Registers };

ktl::Result<void> copy_out_as(Head head, UserAddr msg) {
  return head == Head::Registers ? copy_out_regs(msg) : copy_out(msg);
}

int64_t send_common(Handle ep_h, UserAddr msg, Deadline deadline, bool is_call, Head head = Head::Memory,
                    uint64_t tag = 0, uint64_t w0 = 0, uint64_t w1 = 0, uint64_t w2 = 0) {
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  uint64_t badge = 0;
  auto ep = lookup<ipc::Endpoint>(ep_h, kRightWrite, &badge);
  if (!ep.ok()) return abi_error(ep.error());
  auto in = head == Head::Registers ? copy_in_regs(msg, tag, w0, w1, w2) : copy_in(msg);
  if (!in.ok()) return abi_error(in.error());
  if (is_call && fast_path_ok(deadline)) {
    ktl::Error e;
    if ((*ep)->fast_call(badge, &e)) return e == ktl::Error::None ? to_abi(copy_out_as(head, msg)) : abi_error(e);
  }
  ktl::Error e = (*ep)->send(badge, is_call, deadline);
  if (e != ktl::Error::None) return abi_error(e);
  if (!is_call) return 0;
  return to_abi(copy_out_as(head, msg));
}

int64_t receive_common(ipc::Endpoint& ep, UserAddr msg, Deadline deadline, Head head = Head::Memory,
                       ktl::RefPtr<sched::Thread> wake = nullptr) {
  ktl::Error e = ep.receive(deadline, static_cast<ktl::RefPtr<sched::Thread>&&>(wake));
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(copy_out_as(head, msg));
}

int64_t reply_recv_common(Handle ep_h, UserAddr msg, Deadline deadline, Head head, uint64_t tag = 0,
                          uint64_t w0 = 0, uint64_t w1 = 0, uint64_t w2 = 0) {
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  auto ep = lookup<ipc::Endpoint>(ep_h, kRightRead);
  if (!ep.ok()) return abi_error(ep.error());
  ktl::RefPtr<sched::Thread> caller;
  if (sched::current()->ipc.reply_to) {
    auto in = head == Head::Registers ? copy_in_regs(msg, tag, w0, w1, w2) : copy_in(msg);
    if (!in.ok()) return abi_error(in.error());
    if (fast_path_ok(deadline)) {
      ktl::Error e;
      if ((*ep)->fast_reply_recv(&e)) return e == ktl::Error::None ? to_abi(copy_out_as(head, msg)) : abi_error(e);
    }
    auto c = ipc::reply_deferred();  // a caller that is gone just loses the reply
    if (c.ok()) caller = c.release_value();
  }
  return receive_common(**ep, msg, deadline, head, static_cast<ktl::RefPtr<sched::Thread>&&>(caller));
}

}  // namespace

int64_t sys_endpoint_create(UserAddr out) {
  auto ep = ipc::Endpoint::create(&current_process().quota());
  if (!ep.ok()) return abi_error(ep.error());
  return to_abi(give_handle(ep.release_value(), kEndpointDefaultRights, out));
}

int64_t sys_ipc_call(Handle ep, UserAddr msg, Deadline deadline) { return send_common(ep, msg, deadline, true); }
int64_t sys_ipc_send(Handle ep, UserAddr msg, Deadline deadline) { return send_common(ep, msg, deadline, false); }

int64_t sys_ipc_recv(Handle ep_h, UserAddr msg, Deadline deadline) {
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  auto ep = lookup<ipc::Endpoint>(ep_h, kRightRead);
  if (!ep.ok()) return abi_error(ep.error());
  if (sched::current()->ipc.reply_to) return abi_error(ktl::Error::BadState);  // reply first
  return receive_common(**ep, msg, deadline);
}

int64_t sys_ipc_reply(UserAddr msg) {
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  if (!sched::current()->ipc.reply_to) return abi_error(ktl::Error::BadState);
  if (auto r = copy_in(msg); !r.ok()) return abi_error(r.error());
  return to_abi(ipc::reply());
}

int64_t sys_ipc_reply_recv(Handle ep_h, UserAddr msg, Deadline deadline) {
  return reply_recv_common(ep_h, msg, deadline, Head::Memory);
}

// The register twins' fast path: a message of at most kIpcRegisterWords
// words, no handles and no flags goes from the registers to the partner
// thread and back without touching user memory. Anything else, or a partner
// that is not waiting, takes the general path (send_common/reply_recv_common),
// which also reports every error.
namespace {

constexpr uint64_t kRegsSlowTagBits = (uint64_t(0xff) << 16) | 0xffff;  // handles, flags

bool regs_fast_ok(uint64_t tag) {
  return (tag & kRegsSlowTagBits) == 0 && IpcTag::words(tag) <= kIpcRegisterWords;
}

void stage_regs(ThreadIpc& me, uint64_t tag, uint64_t w0, uint64_t w1, uint64_t w2) {
  me.msg.tag = tag;
  me.msg.words[0] = w0;
  me.msg.words[1] = w1;
  me.msg.words[2] = w2;
  me.handle_count = 0;
}

// The delivered message into the saved user registers: inline when it has
// no handles and fits the registers, else through copy_out_regs.
int64_t deliver_regs(const ThreadIpc& me, UserAddr msg) {
  uint32_t words = IpcTag::words(me.msg.tag);
  if (words > kIpcRegisterWords || me.handle_count != 0) return to_abi(copy_out_regs(msg));
  x86::InterruptFrame& f = syscall_frame();
  f.rdx = me.msg.tag;
  f.r10 = words > 0 ? me.msg.words[0] : 0;
  f.r8 = words > 1 ? me.msg.words[1] : 0;
  f.r9 = words > 2 ? me.msg.words[2] : 0;
  f.rsi = me.badge;
  return 0;
}

}  // namespace

int64_t sys_ipc_call_regs(Handle ep_h, UserAddr msg, uint64_t tag, uint64_t w0, uint64_t w1, uint64_t w2) {
  if (regs_fast_ok(tag) && x86::user_range_ok(msg, sizeof(IpcMessage))) {
    uint64_t badge = 0;
    if (auto* ep = current_process().handles().get_fast<ipc::Endpoint>(ep_h, kRightWrite, &badge)) {
      ktl::RefPtr<ipc::Endpoint> ref = ktl::adopt_ref(ep);
      ThreadIpc& me = sched::current()->ipc;
      stage_regs(me, tag, w0, w1, w2);
      ktl::Error e;
      // Given `ref`: what is left after the fast path is deliver_regs, so the
      // reply may come by the direct switch (ThreadIpc::direct).
      if (ep->fast_call(badge, &e, &ref)) return e == ktl::Error::None ? deliver_regs(me, msg) : abi_error(e);
    }
  }
  return send_common(ep_h, msg, kDeadlineForever, true, Head::Registers, tag, w0, w1, w2);
}

int64_t sys_ipc_reply_recv_regs(Handle ep_h, UserAddr msg, uint64_t tag, uint64_t w0, uint64_t w1, uint64_t w2) {
  ThreadIpc& me = sched::current()->ipc;
  if (me.reply_to && regs_fast_ok(tag) && x86::user_range_ok(msg, sizeof(IpcMessage))) {
    uint64_t badge = 0;
    if (auto* ep = current_process().handles().get_fast<ipc::Endpoint>(ep_h, kRightRead, &badge)) {
      ktl::RefPtr<ipc::Endpoint> ref = ktl::adopt_ref(ep);
      stage_regs(me, tag, w0, w1, w2);
      ktl::Error e;
      if (ep->fast_reply_recv(&e, &ref)) return e == ktl::Error::None ? deliver_regs(me, msg) : abi_error(e);
    }
  }
  return reply_recv_common(ep_h, msg, kDeadlineForever, Head::Registers, tag, w0, w1, w2);
}

}  // namespace syscalls

namespace syscalls {

int64_t sys_process_set_pager(Handle process, Handle endpoint) {
  auto p = lookup<object::Process>(process, kRightManage);
  if (!p.ok()) return abi_error(p.error());
  ktl::RefPtr<ipc::Endpoint> ep;
  uint64_t badge = 0;
  if (endpoint != kInvalidHandle) {
    auto e = lookup<ipc::Endpoint>(endpoint, kRightWrite, &badge);
    if (!e.ok()) return abi_error(e.error());
    ep = e.release_value();
  }
  return to_abi((*p)->set_pager(static_cast<ktl::RefPtr<ipc::Endpoint>&&>(ep), badge));
}

}  // namespace syscalls
