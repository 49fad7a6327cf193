// keel/fs.h — files for native Keel programs: the client side of the VFS
// protocol (keel/proto/fs.h), with keel::Status errors.
//
//   keel::fs::Fid f;
//   if (Status st = keel::fs::open("/tmp/log", kFlagWrite | kFlagCreate | kFlagAppend, &f); st != Status::Ok) ...
//   keel::fs::write(f, "hello\n");
//   keel::fs::close(f);
//
// The program's policy must let it look up `vfs` (keel/policy.h). The first
// request looks `vfs` up through the StartInfo handle "names" and sends
// kForget, so that files an earlier instance of the same service left open
// are closed (fids belong to the caller's service id, which a restarted
// service keeps). If vfs dies or does not answer (a restart leaves a stale
// endpoint behind), the request is sent once more after a new lookup; vfs
// keeps no per-file state, so open fids stay valid across its restart. A
// restart of the file-system server behind a mount loses its fids: they are
// BadHandle.
//
// Errors: those of keel/proto/fs.h; NameTooLong for a path past kPathMax
// (not sent); NotFound (no "names" handle, vfs not registered: asked again
// for up to 1 s, since a vfs that has just started may not be yet) or
// AccessDenied (the policy) from the lookup; PeerClosed or TimedOut when vfs
// failed twice; BadState for a reply that breaks the protocol.
//
// Calls from several threads are serialised by one lock, held for the whole
// request (TODO(issue 4): one connection per thread if it matters).
#pragma once

#include <keel/fs_backend.h>
#include <keel/keel.h>
#include <keel/proto/fs.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::fs {

// A vfs fid (keel/proto/fs.h): the mount in its upper bits.
using Fid = uint64_t;

struct Info {
  uint64_t type = 0;   // proto::fs::kType*
  uint64_t size = 0;   // bytes; a directory: its entry count
  uint64_t mode = 0;   // permission bits (0 from open)
  uint64_t mount = 0;  // the mount index (0 from open)
  // stat and fstat only (0 from open, or from a server without them):
  uint64_t inode = 0;  // the same for every name of a file
  uint64_t links = 0;  // names; 0 for an open file whose names are gone
  int64_t atime = 0, mtime = 0, ctime = 0;  // ns of the monotonic clock (keel/proto/fs.h)
};

// With `on`, open, close, stat and fstat of normalised absolute paths (and
// their files) go to the mount's file-system server on a direct channel
// (keel/proto/fs.h kChannel) rather than through vfs, which saves a hop;
// the results are the same. The mount table and the channels are asked for
// at the first such call. Off by default (the Linux personality turns it on).
void use_channels(bool on);

// Opens `path` (flags: proto::fs::kFlag*; `mode` for a file it creates).
// `info`, if given, gets the type and size.
Status open(std::string_view path, uint64_t flags, Fid* out, uint64_t mode = 0644, Info* info = nullptr);
Status close(Fid fid);
// Reads until `out` is full or the end of the file; `*got` gets the bytes
// read (0 at the end). Up to kSharedThreshold bytes in kIoMax messages;
// more through a MemoryObject (kReadShared), kSharedMax bytes a request.
Status read(Fid fid, std::span<uint8_t> out, size_t* got);
// Writes all of `in`, as read() does; `*written` (if given) gets how much
// was written before an error.
Status write(Fid fid, std::span<const uint8_t> in, size_t* written = nullptr);
inline Status write(Fid fid, std::string_view text, size_t* written = nullptr) {
  return write(fid, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, written);
}
// whence: proto::fs::kSeekSet, kSeekCurrent, kSeekEnd.
Status seek(Fid fid, uint64_t whence, int64_t offset, uint64_t* pos = nullptr);
Status stat(std::string_view path, Info* out);
Status fstat(Fid fid, Info* out);
// The regular file at `path` as a read-only MemoryObject (kImage, keel/proto/
// fs.h): `*out` gets type, size, mode and inode, `*object` a handle (read,
// map, execute, duplicate, transfer) the caller closes. Unsupported from a
// file system without kImage.
Status image(std::string_view path, Info* out, Handle* object);
// The entry at `*cookie` (0 first) of open directory `dir`; `*cookie` moves
// to the next one. OutOfRange after the last.
Status readdir(Fid dir, uint64_t* cookie, DirEntry* out);
Status mkdir(std::string_view path, uint64_t mode = 0755);
Status rmdir(std::string_view path);
Status unlink(std::string_view path);
Status rename(std::string_view from, std::string_view to);
Status truncate(std::string_view path, uint64_t size);
// A symbolic link `path` holding `target` (stored as given; kPathMax bytes).
Status symlink(std::string_view path, std::string_view target);
// A hard link: `to` becomes a second name of the file `from` (one mount).
Status link(std::string_view from, std::string_view to);
Status chmod(std::string_view path, uint64_t mode);
// Each a time (ns, keel/proto/fs.h), proto::fs::kTimeNow or kTimeOmit.
Status set_times(std::string_view path, uint64_t atime, uint64_t mtime);
// A named pipe (type proto::fs::kTypeFifo) at `path`.
Status mknod(std::string_view path, uint64_t type, uint64_t mode);
// The same on an open file (ftruncate: opened for writing).
Status fchmod(Fid fid, uint64_t mode);
Status set_times(Fid fid, uint64_t atime, uint64_t mtime);
Status ftruncate(Fid fid, uint64_t size);

// The file system that holds `path` / open file `fid` (kStatfs, kFstatfs).
struct FsUsage {
  uint64_t block_size = 0;               // bytes
  uint64_t blocks = 0, free_blocks = 0;  // of block_size bytes
  uint64_t nodes = 0, free_nodes = 0;
  uint64_t flags = 0;                    // proto::fs::kFsReadOnly, kFsMemory
};
Status statfs(std::string_view path, FsUsage* out);
Status fstatfs(Fid fid, FsUsage* out);

}  // namespace keel::fs
