// tmpfs — the in-memory, read-write file system server (tmpfs.h), one
// instance per mount (the manifest's `tmpfs` at /tmp and `tmpfs-run` at /run),
// serving keel/proto/fs.h to vfs through keel/fs_server.h. A restart loses
// its files: that is what tmpfs is.
#include <keel/alloc.h>
#include <keel/fs_server.h>
#include <keel/keel.h>
#include <keel/rpc.h>

#include "tmpfs.h"

#include <new>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

namespace {
constexpr uint64_t kQuotaBytes = 64 << 20;  // per instance (a 512 MiB machine: an eighth)
}  // namespace

int main(uint64_t) {
  // Its times are the monotonic clock's (keel/proto/fs.h).
  auto* fs = new (std::nothrow) keel::tmpfs::Tmpfs(kQuotaBytes, [] { return int64_t(keel::now_ns()); });  // (no static: it would need atexit)
  if (fs == nullptr || fs->nodes() == 0) {
    keel::print("tmpfs: no memory for the root\n");
    return 1;
  }
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("tmpfs: cannot create its endpoint\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("tmpfs: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::fs::serve(ep, *fs);
  keel::print("tmpfs: serving failed: {}\n", keel::status_name(st));
  return 1;
}
