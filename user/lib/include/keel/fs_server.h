// keel/fs_server.h — the loop every file-system server behind the VFS runs:
// protocol messages (keel/proto/fs.h) in, Backend calls (keel/fs_backend.h),
// replies out. Shared by tmpfs and initrdfs.
//
// Every request is validated before the Backend sees it:
//   - at least kWordString words (fid, a, b, client); no handles, except
//     the one MemoryObject of kReadShared and kWriteShared, whose count must
//     be 1..kSharedMax and fit in it (serve() maps it for the request);
//   - a fid that fits in kServerFidMask (else BadHandle);
//   - strings whose count word and bytes lie inside the message (else
//     InvalidArgument); a path longer than kPathMax is NameTooLong; bytes to
//     write past kIoMax, a read count past kIoMax, are InvalidArgument;
//   - paths are normalised (keel/path.h: relative or with a NUL byte is
//     InvalidArgument, past a bound NameTooLong) before the Backend gets them;
//   - kOpen flags outside kFlagsAll or with neither read nor write, mode bits
//     outside kModeMask, a kMkdir mode outside kModeMask, a kSeek whence that
//     is none of the three: InvalidArgument;
//   - an unknown method: Unsupported.
// The client is words[kWordClient], set by vfs (the only program the policy
// lets look a file-system server up), or, for a request that came on a
// direct channel (kChannel; its badge has kDirectBadge), the badge's other
// bits: serve() makes the channels and puts the client in words[kWordClient].
#pragma once

#include <keel/fs_backend.h>
#include <keel/keel.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include <span>

namespace keel::fs {

// Handles one request in `m` and overwrites `m` with its reply. `handles` is
// how many handles came with the request (refused with any method but
// kReadShared and kWriteShared, which need one); `shared` is, for those, the
// mapped MemoryObject's first `count` bytes (anything else is refused).
// Pure logic: tested on the host (user/lib/src/fs_server_test.cc).
// kImage goes to `images` (Unsupported without one): the reply carries the
// handle it gives.
void dispatch(Backend& backend, IpcMessage& m, uint32_t handles, std::span<uint8_t> shared = {},
              Images* images = nullptr);

// One request as serve() gets it: the MemoryObject of a shared read or
// write mapped (read-write for kReadShared, read-only for kWriteShared) for
// the length of the request, then dispatch().
inline void dispatch_request(Backend& backend, IpcMessage& m, keel::rpc::Request& req, Images* images = nullptr) {
  namespace fsp = keel::proto::fs;
  const uint32_t method = keel::rpc::label(m);
  const bool shared = method == fsp::kReadShared || method == fsp::kWriteShared;
  if (!shared || req.received_count != 1 || keel::rpc::words(m) < fsp::kWordString || m.words[fsp::kWordA] == 0 ||
      m.words[fsp::kWordA] > fsp::kSharedMax)
    return dispatch(backend, m, req.received_count, {}, images);  // (which refuses the malformed ones)
  const uint64_t count = m.words[fsp::kWordA];
  uint64_t size = 0;
  if (sys::vmo_get_size(req.received[0], &size) != 0 || size < count)
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  const uint64_t len = (count + kPageSize - 1) & ~uint64_t(kPageSize - 1);
  const Handle self = start_info()->self_process;
  uint64_t addr = 0;
  const uint32_t prot = method == fsp::kReadShared ? kVmRead | kVmWrite : kVmRead;
  if (int64_t r = sys::vm_map(self, req.received[0], 0, len, prot, &addr); r != 0)
    return keel::rpc::reply_status(m, status_of(r));
  dispatch(backend, m, 1, {reinterpret_cast<uint8_t*>(addr), size_t(count)});
  (void)sys::vm_unmap(self, addr, len);
}

// kChannel for `client` (from vfs): a handle to `endpoint` (unbadged, with
// duplicate) minted with kDirectBadge | client, write and transfer rights.
// InvalidArgument for client 0, one with kDirectBadge, or handles sent.
inline void make_channel(Handle endpoint, IpcMessage& m, uint64_t client, uint32_t handles) {
  namespace fsp = keel::proto::fs;
  if (keel::rpc::words(m) < fsp::kWordString || handles != 0 || client == 0 || (client & fsp::kDirectBadge) != 0)
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  Handle h = kInvalidHandle;
  if (int64_t r = sys::handle_mint(endpoint, kRightWrite | kRightTransfer, fsp::kDirectBadge | client, &h); r != 0)
    return keel::rpc::reply_status(m, status_of(r));
  m.words[0] = m.words[1] = m.words[2] = m.words[3] = 0;
  m.handles[0] = h;
  m.tag = keel::rpc::tag(uint32_t(Status::Ok), fsp::kWordString, 1);
}

// Serves `endpoint` with `backend` (and kImage with `images`, if given)
// until receiving fails (keel::rpc::serve; heartbeats are answered). Returns
// the Status that ended it. A request on a direct channel gets its client
// from the badge (words[kWordClient] is overwritten); kChannel is answered
// here (make_channel).
inline Status serve(Handle endpoint, Backend& backend, Images* images = nullptr) {
  struct Ctx {
    Backend* backend;
    Images* images;
    Handle endpoint;
  } ctx{&backend, images, endpoint};
  return keel::rpc::serve(
      endpoint,
      [](IpcMessage& m, keel::rpc::Request& req) {
        namespace fsp = keel::proto::fs;
        auto* c = static_cast<Ctx*>(req.ctx);
        const bool direct = (req.badge & fsp::kDirectBadge) != 0;
        if (direct && keel::rpc::words(m) > fsp::kWordClient) m.words[fsp::kWordClient] = req.badge & ~fsp::kDirectBadge;
        if (keel::rpc::label(m) == fsp::kChannel)
          return make_channel(c->endpoint, m, keel::rpc::words(m) > fsp::kWordClient ? m.words[fsp::kWordClient] : 0,
                              req.received_count);
        dispatch_request(*c->backend, m, req, c->images);
      },
      &ctx);
}

}  // namespace keel::fs
