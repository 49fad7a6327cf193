// initrdfs.h — the read-only file system over the cpio "newc" initrd
// (keel/cpio.h), served behind the VFS at "/". Pure logic (tested on the
// host, initrdfs_test.cc); main.cc maps the initrd and serves it
// (keel/fs_server.h).
//
// Initrdfs::create() validates the whole archive first (every refusal of
// keel::cpio::Reader: bad magic, truncated entries, names without their NUL,
// sizes past the end, a missing trailer) and then indexes it; nothing is
// copied, files are read where they lie. On top of the reader's checks:
//   - every name must already be a normalised path ("a//b", "a/./b", "a/..",
//     a trailing "/" are InvalidArgument) within keel/path.h's bounds
//     (NameTooLong);
//   - a name that occurs twice: the last entry wins, as when extracting;
//   - a hard link without data gets the data of its twin (keel::cpio::find's
//     rule);
//   - device nodes, FIFOs and sockets are left out (Keel has none to serve);
//   - a parent directory the archive does not list is made up (mode 0555),
//     and an entry whose parent is not a directory is InvalidArgument;
//   - at most kMaxNodes entries (NoSpace).
//
// Types: regular files, directories, symlinks (kTypeSymlink: listed and
// stat'ed, size = the target's length; not followed, and opening one is
// Unsupported, unless with kFlagLink: then read() returns the target, as
// readlink(2) does; kFlagLink on anything else is InvalidArgument). Sizes: a file's bytes, a directory's entry count. Modes: the
// archive's permission bits & 0777; reading needs 0400 as in tmpfs.
//
// Read-only: opening for writing, creating, kMkdir, kRmdir, kUnlink,
// kRename, kTruncate, kSymlink, kLink, kChmod, kSetTimes, kMknod and their fid
// forms are AccessDenied (BadHandle first for a fid not open) (after NotFound, AlreadyExists,
// IsADirectory where those apply). Directory entries are in name order
// (bytewise).
//
// Not thread-safe: the server is single-threaded.
#pragma once

#include <keel/cpio.h>
#include <keel/fs_backend.h>

namespace keel::initrdfs {

inline constexpr size_t kMaxNodes = 1024;      // entries, made-up directories included
inline constexpr size_t kMaxOpenFiles = 256;   // all clients together

class Initrdfs final : public keel::fs::Backend {
 public:
  // Indexes `archive`, which must outlive the file system. Errors: above.
  static ktl::Result<Initrdfs*> create(keel::cpio::Bytes archive);
  ~Initrdfs();
  Initrdfs(const Initrdfs&) = delete;
  Initrdfs& operator=(const Initrdfs&) = delete;

  ktl::Result<uint32_t> open(uint64_t client, std::string_view path, uint64_t flags, uint64_t mode) override;
  ktl::Result<void> close(uint64_t client, uint32_t fid) override;
  ktl::Result<size_t> read(uint64_t client, uint32_t fid, std::span<uint8_t> out) override;
  ktl::Result<size_t> write(uint64_t client, uint32_t fid, std::span<const uint8_t> in) override;
  ktl::Result<uint64_t> seek(uint64_t client, uint32_t fid, uint64_t whence, int64_t offset) override;
  ktl::Result<keel::fs::Stat> stat(std::string_view path) override;
  ktl::Result<keel::fs::Stat> fstat(uint64_t client, uint32_t fid) override;
  ktl::Result<void> readdir(uint64_t client, uint32_t fid, uint64_t cookie, keel::fs::DirEntry* out,
                            uint64_t* next) override;
  ktl::Result<void> mkdir(std::string_view path, uint64_t mode) override;
  ktl::Result<void> rmdir(std::string_view path) override;
  ktl::Result<void> unlink(std::string_view path) override;
  ktl::Result<void> rename(std::string_view from, std::string_view to) override;
  ktl::Result<void> truncate(std::string_view path, uint64_t size) override;
  ktl::Result<void> symlink(std::string_view path, std::string_view target) override;
  ktl::Result<void> link(std::string_view from, std::string_view to) override;
  ktl::Result<void> chmod(std::string_view path, uint64_t mode) override;
  ktl::Result<void> set_times(std::string_view path, uint64_t atime, uint64_t mtime) override;
  ktl::Result<void> mknod(std::string_view path, uint64_t type, uint64_t mode) override;
  ktl::Result<void> fchmod(uint64_t client, uint32_t fid, uint64_t mode) override;
  ktl::Result<void> fset_times(uint64_t client, uint32_t fid, uint64_t atime, uint64_t mtime) override;
  ktl::Result<void> ftruncate(uint64_t client, uint32_t fid, uint64_t size) override;
  void forget(uint64_t client) override;
  // The archive's file bytes in 4 KiB blocks, its entries; nothing free;
  // kFsReadOnly | kFsMemory.
  ktl::Result<keel::fs::FsInfo> fs_info() override;

  size_t nodes() const { return count_; }

  // For kImage (main.cc makes the object): the regular file at normalised
  // `path`, its index (0..nodes()-1, stable: a cache key), Stat and bytes.
  // Errors as open() for reading; IsADirectory, Unsupported (a symlink).
  struct FileBytes {
    size_t index = 0;
    keel::fs::Stat stat;
    keel::cpio::Bytes data;
  };
  ktl::Result<FileBytes> file(std::string_view path) const;

 private:
  ktl::Result<void> create_denied(std::string_view path);
  struct Node {
    std::string_view path;  // without the leading '/': "" for the root, "etc/motd"
    std::string_view name;  // the last component ("" for the root)
    uint64_t type = 0;      // proto::fs::kType*
    uint64_t mode = 0;
    keel::cpio::Bytes data;  // a file's bytes, a symlink's target
    size_t first_child = 0;  // a directory's entries: nodes_[first_child .. first_child + children)
    size_t children = 0;
  };
  using Files = keel::fs::OpenFiles<uint32_t, kMaxOpenFiles>;

  Initrdfs() = default;
  ktl::Result<void> build(keel::cpio::Bytes archive);
  // The node of normalised `path` ("/..."), or nullptr.
  const Node* lookup(std::string_view path) const;
  // NotFound, NotADirectory for a missing path as tmpfs reports them.
  ktl::Result<const Node*> find(std::string_view path) const;
  ktl::Result<size_t> add(std::string_view path, uint64_t type, uint64_t mode, keel::cpio::Bytes data, bool replace);
  keel::fs::Stat stat_of(const Node& n) const;

  Node* nodes_ = nullptr;
  size_t count_ = 0;
  Files files_;
};

}  // namespace keel::initrdfs
