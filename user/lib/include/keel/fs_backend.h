// keel/fs_backend.h — what a file-system server implements behind the VFS
// (keel/proto/fs.h), and the open-file table the servers share. Pure logic:
// the file systems' cores are tested on the host; keel/fs_server.h turns
// protocol messages into these calls.
//
// Paths given to a Backend are normalised (keel/path.h) and relative to the
// file system's root ("/" is the root). `client` is the badge of the program
// that called the VFS; fids are valid only with the client that opened them.
// Errors are those of keel/proto/fs.h.
#pragma once

#include <keel/path.h>
#include <keel/proto/fs.h>
#include <ktl/error.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::fs {

struct Stat {
  uint64_t type = 0;   // proto::fs::kType*
  uint64_t size = 0;   // bytes (a directory: its entry count; a symbolic link: its target's)
  uint64_t mode = 0;   // permission bits
  uint64_t inode = 0;  // 0: none (keel/proto/fs.h)
  uint64_t links = 0;  // names (0: not counted, or an open file with none left)
  int64_t atime = 0, mtime = 0, ctime = 0;  // ns of the monotonic clock (keel/proto/fs.h)
};

// kStatfs's answer (keel/proto/fs.h): the whole file system.
struct FsInfo {
  uint64_t block_size = 4096;
  uint64_t blocks = 0, free_blocks = 0;  // of block_size bytes
  uint64_t nodes = 0, free_nodes = 0;
  uint64_t flags = 0;  // proto::fs::kFsReadOnly, kFsMemory
};

struct DirEntry {
  uint64_t type = 0;
  uint64_t size = 0;
  uint64_t inode = 0;  // as Stat's (0: none; a mount point's entry: 0)
  char name[keel::path::kNameMax] = {};
  size_t name_len = 0;
  std::string_view view() const { return {name, name_len}; }
};

class Backend {
 public:
  virtual ktl::Result<uint32_t> open(uint64_t client, std::string_view path, uint64_t flags, uint64_t mode) = 0;
  virtual ktl::Result<void> close(uint64_t client, uint32_t fid) = 0;
  virtual ktl::Result<size_t> read(uint64_t client, uint32_t fid, std::span<uint8_t> out) = 0;
  virtual ktl::Result<size_t> write(uint64_t client, uint32_t fid, std::span<const uint8_t> in) = 0;
  virtual ktl::Result<uint64_t> seek(uint64_t client, uint32_t fid, uint64_t whence, int64_t offset) = 0;
  virtual ktl::Result<Stat> stat(std::string_view path) = 0;
  virtual ktl::Result<Stat> fstat(uint64_t client, uint32_t fid) = 0;
  // The entry at `cookie` (0 first) of open directory `fid`; `*next` gets the
  // cookie after it. OutOfRange past the last one.
  virtual ktl::Result<void> readdir(uint64_t client, uint32_t fid, uint64_t cookie, DirEntry* out, uint64_t* next) = 0;
  virtual ktl::Result<void> mkdir(std::string_view path, uint64_t mode) = 0;
  virtual ktl::Result<void> rmdir(std::string_view path) = 0;
  virtual ktl::Result<void> unlink(std::string_view path) = 0;
  virtual ktl::Result<void> rename(std::string_view from, std::string_view to) = 0;
  virtual ktl::Result<void> truncate(std::string_view path, uint64_t size) = 0;
  // A symbolic link at `path` holding `target` (stored as given).
  virtual ktl::Result<void> symlink(std::string_view path, std::string_view target) = 0;
  // A second name `to` for the file `from` (not a directory).
  virtual ktl::Result<void> link(std::string_view from, std::string_view to) = 0;
  virtual ktl::Result<void> chmod(std::string_view path, uint64_t mode) = 0;
  // Each time a value, proto::fs::kTimeNow or kTimeOmit.
  virtual ktl::Result<void> set_times(std::string_view path, uint64_t atime, uint64_t mtime) = 0;
  // A node of `type` (proto::fs::kTypeFifo) at `path`.
  virtual ktl::Result<void> mknod(std::string_view path, uint64_t type, uint64_t mode) = 0;
  // chmod, set_times and truncate of open file `fid` (truncate: opened for writing).
  virtual ktl::Result<void> fchmod(uint64_t client, uint32_t fid, uint64_t mode) = 0;
  virtual ktl::Result<void> fset_times(uint64_t client, uint32_t fid, uint64_t atime, uint64_t mtime) = 0;
  virtual ktl::Result<void> ftruncate(uint64_t client, uint32_t fid, uint64_t size) = 0;
  // Closes every file `client` has open.
  virtual void forget(uint64_t client) = 0;
  // The file system's size and use (kStatfs, kFstatfs: the server checks
  // the path or fid first). A server without it answers Unsupported.
  virtual ktl::Result<FsInfo> fs_info() { return ktl::Error::Unsupported; }

 protected:
  ~Backend() = default;
};

// kImage (keel/proto/fs.h): a regular file's contents as a read-only
// MemoryObject. Separate from Backend because it needs the kernel: a server's
// main.cc implements it over its core's pure-logic helpers (Initrdfs::file,
// Tmpfs::file_pages), and the host tests use a fake.
class Images {
 public:
  // The file at normalised `path`: its Stat in `*st` and a handle (read, map,
  // execute, duplicate, transfer; the caller owns it and sends it) to an
  // object holding its bytes. Errors: keel/proto/fs.h's for kImage.
  virtual ktl::Result<uint32_t> image(std::string_view path, Stat* st) = 0;

 protected:
  ~Images() = default;
};

// Open files: (client, fid) → the server's node and the file's offset and
// flags, and `Extra` state of the server's own (zeroed at open). At most
// kOpenMax per client and `Capacity` in all; fids are 1..2^24-1, handed out
// in turn so that a closed fid is not reused at once.
struct NoExtra {};
template <typename Node, size_t Capacity, typename Extra = NoExtra>
class OpenFiles {
 public:
  struct File {
    uint64_t client = 0;
    uint32_t fid = 0;  // 0: a free slot
    Node node{};
    uint64_t offset = 0;
    uint64_t flags = 0;
    [[no_unique_address]] Extra extra{};
  };

  // True if `client` may open one more file (checked before creating one).
  bool has_room(uint64_t client) const {
    if (used_ >= Capacity) return false;
    size_t mine = 0;
    for (size_t i = 0; i < top_; ++i)
      if (files_[i].fid != 0 && files_[i].client == client) ++mine;
    return mine < keel::proto::fs::kOpenMax;
  }

  // A new open file, in the lowest free slot. NoSpace past the bounds.
  ktl::Result<File*> add(uint64_t client, Node node, uint64_t flags) {
    if (!has_room(client)) return ktl::Error::NoSpace;
    for (size_t i = 0; i < Capacity; ++i) {
      File& f = files_[i];
      if (f.fid != 0) continue;
      uint32_t fid;
      do {
        fid = next_fid_++;
        if (next_fid_ > keel::proto::fs::kServerFidMask) {
          next_fid_ = 1;
          wrapped_ = true;  // (from now on a fid may still be in use)
        }
      } while (wrapped_ && find_fid(fid) != nullptr);
      f = File{client, fid, node, 0, flags, Extra{}};
      ++used_;
      if (i >= top_) top_ = i + 1;
      return &f;
    }
    return ktl::Error::NoSpace;
  }

  // The file `fid` of `client`, or nullptr.
  File* find(uint64_t client, uint32_t fid) {
    if (fid == 0) return nullptr;
    for (size_t i = 0; i < top_; ++i)
      if (files_[i].fid == fid && files_[i].client == client) return &files_[i];
    return nullptr;
  }

  void remove(File* f) {
    if (f->fid != 0) --used_;
    *f = File{};
    while (top_ > 0 && files_[top_ - 1].fid == 0) --top_;
  }

  // Calls fn(File&) for every file, then frees those for which it returns true.
  template <typename F>
  void remove_if(F fn) {
    for (size_t i = 0; i < top_; ++i)
      if (files_[i].fid != 0 && fn(files_[i])) remove(&files_[i]);
  }

 private:
  const File* find_fid(uint32_t fid) const {
    for (size_t i = 0; i < top_; ++i)
      if (files_[i].fid == fid) return &files_[i];
    return nullptr;
  }

  // Slots from top_ on are free; used_ of those below are in use. Fids are
  // handed out in turn: until they wrap around, a new one is in use nowhere.
  File files_[Capacity];
  size_t used_ = 0, top_ = 0;
  uint32_t next_fid_ = 1;
  bool wrapped_ = false;
};

}  // namespace keel::fs
