// initrdfs — the read-only file system server over the initrd (initrdfs.h),
// mounted by vfs at "/". It holds only the initrd's MemoryObject (the
// manifest's `grant modules`, handle "initrd"), maps it read-only and serves
// keel/proto/fs.h through keel/fs_server.h. A malformed initrd is refused
// with its error and the server exits. kImage: the first request for a file
// copies its bytes into a MemoryObject of its own (page-aligned, as the
// archive's 4-byte-aligned data is not), kept for the server's life; every
// request gets a read-only duplicate of it.
#include <keel/alloc.h>
#include <keel/fs_server.h>
#include <keel/keel.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include "initrdfs.h"

#include <new>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

namespace {

class InitrdImages final : public keel::fs::Images {
 public:
  explicit InitrdImages(const keel::initrdfs::Initrdfs& fs) : fs_(fs) {}

  ktl::Result<uint32_t> image(std::string_view path, keel::fs::Stat* st) override {
    auto f = fs_.file(path);
    if (!f.ok()) return f.error();
    *st = f->stat;
    Handle& cached = cache_[f->index];
    if (cached == kInvalidHandle) {
      const size_t size = f->data.size() ? f->data.size() : 1;
      Handle h = kInvalidHandle;
      if (int64_t r = sys::vmo_create(size, 0, &h); r != 0) return ktl::Error::NoMemory;
      if (!f->data.empty() && sys::vmo_write(h, 0, f->data.data(), f->data.size()) != 0) {
        sys::handle_close(h);
        return ktl::Error::NoMemory;
      }
      cached = h;
    }
    Handle out = kInvalidHandle;
    constexpr uint32_t kRights =
        keel::kRightRead | keel::kRightMap | keel::kRightExecute | keel::kRightDuplicate | keel::kRightTransfer;
    if (sys::handle_duplicate(cached, kRights, &out) != 0) return ktl::Error::NoMemory;
    return out;
  }

 private:
  const keel::initrdfs::Initrdfs& fs_;
  Handle cache_[keel::initrdfs::kMaxNodes] = {};
};

}  // namespace

int main(uint64_t) {
  Handle vmo = kInvalidHandle;
  uint64_t size = 0;
  if (!keel::find_module("initrd", &vmo, &size) || size == 0) {
    keel::print("initrdfs: missing start handle (initrd)\n");
    return 1;
  }
  uint64_t addr = 0;
  const uint64_t mapped = (size + keel::kPageSize - 1) & ~uint64_t(keel::kPageSize - 1);
  if (int64_t r = sys::vm_map(keel::start_info()->self_process, vmo, 0, mapped, keel::kVmRead, &addr); r != 0) {
    keel::print("initrdfs: cannot map the initrd: {}\n", keel::status_name(keel::status_of(r)));
    return 1;
  }
  auto fs = keel::initrdfs::Initrdfs::create({reinterpret_cast<const uint8_t*>(addr), size});
  if (!fs.ok()) {
    keel::print("initrdfs: the initrd is refused: {}\n", ktl::error_name(fs.error()));
    return 1;
  }
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("initrdfs: cannot create its endpoint\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("initrdfs: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  auto* images = new (std::nothrow) InitrdImages(**fs);  // (no static: it would need atexit)
  if (images == nullptr) return 1;
  Status st = keel::fs::serve(ep, **fs, images);
  keel::print("initrdfs: serving failed: {}\n", keel::status_name(st));
  return 1;
}
