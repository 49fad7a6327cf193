// rpc.cc — keel/rpc.h.
#include <keel/proto/init.h>
#include <keel/rpc.h>
#include <keel/start.h>

namespace keel::rpc {

Status announce_ready(Handle endpoint, Deadline deadline) {
  Handle init = kInvalidHandle;
  uint64_t size = 0;
  if (!find_module("init", &init, &size)) return Status::NotFound;
  IpcMessage m{};
  // `duplicate`: init registers copies of it in names, which mints badged ones.
  if (int64_t r = sys::handle_duplicate(endpoint, kRightWrite | kRightDuplicate | kRightTransfer, &m.handles[0]); r != 0)
    return status_of(r);
  m.tag = tag(proto::init::kReady, 0, 1);
  return call(init, m, deadline);
}

Status call(Handle endpoint, IpcMessage& m, Deadline deadline) {
  // No deadline: the register twin (the message head in registers).
  int64_t r = deadline == kDeadlineForever ? sys::ipc_call_regs(endpoint, &m) : sys::ipc_call(endpoint, &m, deadline);
  if (r != 0) return status_of(r);
  return static_cast<Status>(label(m));
}

Status serve(Handle endpoint, Handler handler, void* ctx) {
  IpcMessage m{};
  int64_t r = sys::ipc_recv(endpoint, &m, kDeadlineForever);
  for (;;) {
    if (r != 0) {
      // A request whose handles did not fit our table still came: answer it.
      if (status_of(r) != Status::NoSpace) return status_of(r);
      reply_status(m, Status::NoSpace);
    } else if (label(m) == kMethodPing) {
      for (uint32_t i = 0; i < handles(m); ++i) (void)sys::handle_close(m.handles[i]);
      reply_status(m, Status::Ok);
    } else {
      Request req{m.badge, {}, handles(m), ctx};
      for (uint32_t i = 0; i < req.received_count; ++i) req.received[i] = m.handles[i];
      handler(m, req);
      for (uint32_t i = 0; i < req.received_count; ++i)
        if (req.received[i] != kInvalidHandle) (void)sys::handle_close(req.received[i]);
    }
    // (A one-way send needs no reply: reply_recv then only receives.)
    const uint32_t sent = handles(m);
    Handle sending[kIpcMaxHandles];
    for (uint32_t i = 0; i < sent && i < kIpcMaxHandles; ++i) sending[i] = m.handles[i];
    r = sys::ipc_reply_recv_regs(endpoint, &m);
    if (r != 0 && status_of(r) != Status::NoSpace) {
      // If our reply was refused (a handle without `transfer`, a bad count),
      // nothing was sent and the caller still waits: it gets the error
      // instead, and the handles we meant to send are closed.
      IpcMessage failed{};
      reply_status(failed, status_of(r));
      if (sys::ipc_reply(&failed) == 0) {
        print("rpc: a reply was refused ({}); the caller got the error\n", status_name(status_of(r)));
        for (uint32_t i = 0; i < sent && i < kIpcMaxHandles; ++i) (void)sys::handle_close(sending[i]);
        r = sys::ipc_recv(endpoint, &m, kDeadlineForever);
      }
    }
  }
}

}  // namespace keel::rpc
