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
  Handle hs[kIpcMaxHandles];
  TRY(x86::copy_from_user(hs, msg + offsetof(IpcMessage, handles), handles * sizeof(Handle)));
  me.handle_count = 0;
  if (handles) {
    TRY(current_process().handles().take_many_for_transfer({hs, handles}, {me.handles, handles}));
    me.handle_count = handles;
  }
  return ktl::ok();
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
  ktl::Error install = ktl::Error::None;
  if (me.handle_count) {
    auto r = current_process().handles().add_many({me.handles, me.handle_count}, {tail.handles, me.handle_count});
    if (!r.ok()) {
      object::HandleTable::discard_transferred({me.handles, me.handle_count});
      install = r.error();
    }
  }
  uint32_t nh = install == ktl::Error::None ? me.handle_count : 0;
  me.handle_count = 0;
  me.msg.tag = (me.msg.tag & ~(uint64_t(0xff) << 16)) | (uint64_t(nh) << 16);
  // The tag and the words are contiguous in the kernel buffer as in the user's.
  TRY(x86::copy_to_user(msg, &me.msg, offsetof(IpcMessage, words) + words * sizeof(uint64_t)));
  TRY(x86::copy_to_user(msg + offsetof(IpcMessage, handles), &tail, sizeof tail));
  if (install != ktl::Error::None) return install;
  return ktl::ok();
}

// True if the message just copied in qualifies for the IPC fast path: few
// words, no handles, no deadline.
bool fast_path_ok(Deadline deadline) {
  const ThreadIpc& me = sched::current()->ipc;
  return deadline == kDeadlineForever && me.handle_count == 0 && IpcTag::words(me.msg.tag) <= kIpcFastpathWords;
}

int64_t send_common(Handle ep_h, UserAddr msg, Deadline deadline, bool is_call) {
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  uint64_t badge = 0;
  auto ep = lookup<ipc::Endpoint>(ep_h, kRightWrite, &badge);
  if (!ep.ok()) return abi_error(ep.error());
  if (auto r = copy_in(msg); !r.ok()) return abi_error(r.error());
  if (is_call && fast_path_ok(deadline)) {
    ktl::Error e;
    if ((*ep)->fast_call(badge, &e)) return e == ktl::Error::None ? to_abi(copy_out(msg)) : abi_error(e);
  }
  ktl::Error e = (*ep)->send(badge, is_call, deadline);
  if (e != ktl::Error::None) return abi_error(e);
  if (!is_call) return 0;
  return to_abi(copy_out(msg));
}

int64_t receive_common(ipc::Endpoint& ep, UserAddr msg, Deadline deadline,
                       ktl::RefPtr<sched::Thread> wake = nullptr) {
  ktl::Error e = ep.receive(deadline, static_cast<ktl::RefPtr<sched::Thread>&&>(wake));
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(copy_out(msg));
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
  if (!x86::user_range_ok(msg, sizeof(IpcMessage))) return abi_error(ktl::Error::Fault);
  auto ep = lookup<ipc::Endpoint>(ep_h, kRightRead);
  if (!ep.ok()) return abi_error(ep.error());
  ktl::RefPtr<sched::Thread> caller;
  if (sched::current()->ipc.reply_to) {
    if (auto r = copy_in(msg); !r.ok()) return abi_error(r.error());
    if (fast_path_ok(deadline)) {
      ktl::Error e;
      if ((*ep)->fast_reply_recv(&e)) return e == ktl::Error::None ? to_abi(copy_out(msg)) : abi_error(e);
    }
    auto c = ipc::reply_deferred();  // a caller that is gone just loses the reply
    if (c.ok()) caller = c.release_value();
  }
  return receive_common(**ep, msg, deadline, static_cast<ktl::RefPtr<sched::Thread>&&>(caller));
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
