// initrdfs — the read-only file system server over the initrd (initrdfs.h),
// mounted by vfs at "/". It holds only the initrd's MemoryObject (the
// manifest's `grant modules`, handle "initrd"), maps it read-only and serves
// keel/proto/fs.h through keel/fs_server.h. A malformed initrd is refused
// with its error and the server exits.
#include <keel/alloc.h>
#include <keel/fs_server.h>
#include <keel/keel.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include "initrdfs.h"

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

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
  Status st = keel::fs::serve(ep, **fs);
  keel::print("initrdfs: serving failed: {}\n", keel::status_name(st));
  return 1;
}
