// tmpfs — the in-memory, read-write file system server (tmpfs.h), one
// instance per mount (the manifest's `tmpfs` at /tmp and `tmpfs-run` at /run),
// serving keel/proto/fs.h to vfs through keel/fs_server.h. A restart loses
// its files: that is what tmpfs is. kImage: a new MemoryObject per request,
// the file's pages copied into it (a snapshot).
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

class TmpImages final : public keel::fs::Images {
 public:
  explicit TmpImages(keel::tmpfs::Tmpfs& fs) : fs_(fs) {}

  ktl::Result<uint32_t> image(std::string_view path, keel::fs::Stat* st) override {
    auto s = fs_.stat(path);  // (the size first: the object is made before the pages are copied)
    if (!s.ok()) return s.error();
    if (s->type != keel::proto::fs::kTypeFile)
      return s->type == keel::proto::fs::kTypeDirectory ? ktl::Error::IsADirectory : ktl::Error::Unsupported;
    Handle h = kInvalidHandle;
    if (sys::vmo_create(s->size ? s->size : 1, 0, &h) != 0) return ktl::Error::NoMemory;
    auto r = fs_.file_pages(
        path, st,
        [](void* ctx, uint64_t off, const uint8_t* bytes, size_t len) -> ktl::Result<void> {
          if (sys::vmo_write(*static_cast<Handle*>(ctx), off, bytes, len) != 0) return ktl::Error::NoMemory;
          return ktl::ok();
        },
        &h);
    Handle out = kInvalidHandle;
    constexpr uint32_t kRights =
        keel::kRightRead | keel::kRightMap | keel::kRightExecute | keel::kRightDuplicate | keel::kRightTransfer;
    if (r.ok() && sys::handle_replace(h, kRights, &out) == 0) return out;
    sys::handle_close(h);
    return r.ok() ? ktl::Error::NoMemory : r.error();
  }

 private:
  keel::tmpfs::Tmpfs& fs_;
};
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
  auto* images = new (std::nothrow) TmpImages(*fs);
  if (images == nullptr) return 1;
  Status st = keel::fs::serve(ep, *fs, images);
  keel::print("tmpfs: serving failed: {}\n", keel::status_name(st));
  return 1;
}
