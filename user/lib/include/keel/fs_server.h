// keel/fs_server.h — the loop every file-system server behind the VFS runs:
// protocol messages (keel/proto/fs.h) in, Backend calls (keel/fs_backend.h),
// replies out. Shared by tmpfs and initrdfs.
//
// Every request is validated before the Backend sees it:
//   - at least kWordString words (fid, a, b, client), no handles;
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
// lets look a file-system server up).
#pragma once

#include <keel/fs_backend.h>
#include <keel/keel.h>
#include <keel/rpc.h>

namespace keel::fs {

// Handles one request in `m` and overwrites `m` with its reply. `handles` is
// how many handles came with the request (a request with any is refused).
// Pure logic: tested on the host (user/lib/src/fs_server_test.cc).
void dispatch(Backend& backend, IpcMessage& m, uint32_t handles);

// Serves `endpoint` with `backend` until receiving fails (keel::rpc::serve;
// heartbeats are answered). Returns the Status that ended it.
inline Status serve(Handle endpoint, Backend& backend) {
  return keel::rpc::serve(
      endpoint,
      [](IpcMessage& m, keel::rpc::Request& req) {
        dispatch(*static_cast<Backend*>(req.ctx), m, req.received_count);
      },
      &backend);
}

}  // namespace keel::fs
