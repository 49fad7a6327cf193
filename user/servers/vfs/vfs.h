// vfs.h — the VFS server's logic: the mount table, vfs fids, and one client
// request (keel/proto/fs.h) forwarded to the file-system server of the mount
// it names, with its paths made mount-relative. Pure logic: main.cc supplies
// the IPC (a Servers), the host tests (vfs_test.cc) supply fs servers that are
// tmpfs cores behind keel/fs_server.h's dispatch.
//
// ## Mounts
// At most kMountsMax mount points, each a normalised absolute path and the
// service name of its server in names. A path belongs to the mount whose
// point is its longest prefix (keel/path.h match_mount): with "/", "/tmp",
// "/run", "/tmp/a" is "/a" on the /tmp server, "/tmpx" is "/tmpx" on "/".
//
// ## vfs fids
//   bits  0..23  the fs server's fid (kServerFidMask)
//   bits 24..31  the mount index (kMountShift)
//   bits 32..39  kOpen of a directory: the mounts whose points are its direct
//                children ("/" has "/tmp" and "/run"), listed by kReadDir
//                even where the directory below does not have them
//   bits 40..63  zero
// A fid with a mount index past the table or with bits 40..63 set is
// BadHandle. vfs keeps no per-file state: a restarted vfs takes the same fids.
//
// ## Readdir cookies
//   bits  0..55  the fs server's cookie (servers count from 0)
//   bits 56..63  the child mounts already listed
// Entries of the directory and its child mounts are merged in name order
// (byte order, as the servers list them); a mount point that the directory
// also holds is listed once, with the mounted root's type and size.
//
// ## What vfs decides itself
//   kRename, kLink  from and to on different mounts: CrossDevice
//   kSymlink  the target is passed on as it is (not a path vfs resolves)
//   kRename, kRmdir of a mount point, or of a directory above one: Busy
//   kForget  forwarded to every mount (the first error is the reply)
//   kReadShared, kWriteShared  the MemoryObject handle is passed on
//   kStat, kFstat  r3 is the mount index
//   kChannel  a = mount index (OutOfRange past the table): forwarded to that
//             mount's server; the reply is Ok with r0 the index, r1 1 and the
//             server's endpoint handle if it made one (else r1 0, r2 its
//             Status), and the mount point as the string
// Everything else is the fs server's answer. A request vfs cannot parse is
// refused before any server sees it: InvalidArgument (fewer than 4 words,
// handles, a string past the message), NameTooLong (a path past kPathMax),
// the errors of keel::path::normalize, Unsupported (an unknown method).
//
// ## Restarts
// A call that fails with PeerClosed or TimedOut (the server died, or its
// endpoint is stale after a restart) is retried once after
// Servers::reconnect; the second failure is the reply. A request that
// carried a handle is not retried (the handle went with the first try: the
// kernel closes the handles of a message it could not deliver). A restarted server
// does not know the fids of the old one: they are BadHandle.
#pragma once

#include <keel/path.h>
#include <keel/proto/fs.h>
#include <keel_syscalls.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::vfs {

namespace fsp = keel::proto::fs;

inline constexpr size_t kServiceNameMax = 31;  // keel::proto::names::kNameMax
inline constexpr unsigned kChildShift = 32;
inline constexpr unsigned kCookieMountShift = 56;
inline constexpr uint64_t kServerCookieMask = (uint64_t(1) << kCookieMountShift) - 1;
static_assert(fsp::kMountsMax <= 8, "the child masks are 8 bits wide");

class MountTable {
 public:
  // Adds a mount. Errors: InvalidArgument (a point that is not a normalised
  // absolute path, a service name that is empty or longer than
  // kServiceNameMax), AlreadyExists (the point is mounted), NoSpace (more
  // than kMountsMax).
  ktl::Result<void> add(std::string_view point, std::string_view service);

  size_t count() const { return count_; }
  std::string_view point(size_t i) const { return {mounts_[i].point, mounts_[i].point_len}; }
  std::string_view service(size_t i) const { return {mounts_[i].service, mounts_[i].service_len}; }

  // The mount of normalised `path` and the path inside it. NotFound if no
  // mount covers it (no "/" mount).
  ktl::Result<keel::path::MountMatch> resolve(std::string_view path) const;
  // True if normalised `path` is a mount point.
  bool is_mount_point(std::string_view path) const;
  // True if normalised `path` is a mount point or a mount point lies under it.
  bool holds_mount(std::string_view path) const;
  // The mounts (bit i: mount i) whose points are direct children of
  // normalised `path`.
  uint8_t children(std::string_view path) const;

 private:
  struct Mount {
    char point[keel::path::kPathMax];
    size_t point_len = 0;
    char service[kServiceNameMax];
    size_t service_len = 0;
  };
  Mount mounts_[fsp::kMountsMax];
  size_t count_ = 0;
};

// vfs fids (see the top of this file).
struct FidParts {
  size_t mount;
  uint32_t server_fid;
  uint8_t children;
};
constexpr uint64_t make_fid(size_t mount, uint32_t server_fid, uint8_t children = 0) {
  return uint64_t(server_fid) | (uint64_t(mount) << fsp::kMountShift) | (uint64_t(children) << kChildShift);
}
// BadHandle for a fid with server fid 0, a mount index not below `mounts`,
// or bits 40..63 set.
ktl::Result<FidParts> split_fid(uint64_t fid, size_t mounts);

// The IPC to the fs servers (main.cc: names lookups and ipc_call with a
// deadline; the host tests: in-process backends).
class Servers {
 public:
  // Sends request `m` to the server of `mount`; `m` becomes its reply. The
  // result is the call's failure (PeerClosed, TimedOut, NotFound: no server
  // registered, ...) or else the reply's Status.
  virtual Status call(size_t mount, IpcMessage& m) = 0;
  // Forgets the server of `mount` and finds it again (a restarted one).
  // Ok if a server answers now.
  virtual Status reconnect(size_t mount) = 0;

 protected:
  ~Servers() = default;
};

// One client request: `m` holds it and is overwritten with the reply;
// `badge` is the caller's; `received` are the handles that came with it.
// The MemoryObject of kReadShared/kWriteShared goes on to the fs server
// (its entry becomes kInvalidHandle); any other handle is refused
// (InvalidArgument) and left to the caller to close.
void handle(const MountTable& mounts, Servers& servers, IpcMessage& m, uint64_t badge, std::span<Handle> received);

}  // namespace keel::vfs
