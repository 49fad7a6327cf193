// tmpfs.h — the in-memory, read-write file system behind /tmp and /run: a
// tree of nodes with file data in 4 KiB pages, under a byte quota. Pure logic
// (tested on the host, tmpfs_test.cc); main.cc serves it (keel/fs_server.h).
//
// The quota counts kNodeCost bytes per file or directory (the root included)
// and kPageBytes per data page. A file's pages are allocated when written: a
// hole (after a seek or a truncate that grows the file) reads as zeros and
// costs nothing. A write that needs more than the quota has left is refused
// whole with NoSpace, and so is a create or mkdir; truncating or removing
// files gives the space back. No file grows past `quota` bytes, holes
// included (NoSpace), which bounds the page table of a sparse file. An unlinked file that is still open keeps its
// data (and its charge) until its last close, as in POSIX.
//
// Names and files are apart (an Entry names a Node): a file may have several
// names (kLink, hard links; never a directory), and a Node is freed when it
// has no name left and is not open. Symbolic links (kSymlink) hold their
// target (at most kPathMax bytes, within the node's cost); they are not
// followed here (keel/proto/fs.h): a path through one is NotADirectory, and
// kOpen of one is Unsupported unless with kFlagLink. FIFOs (kMknod) are
// nodes only. Every node has an inode number (1 the root, then counting up,
// never reused) and times from the clock given at construction: creation
// sets all three, a write or truncation mtime and ctime, kChmod and kLink
// ctime, kSetTimes atime and mtime (and ctime); reads leave atime alone (as
// mounted noatime). The quota counts kNodeCost per node and per name past a
// node's first.
//
// Permissions are the owner's mode bits (there are no users yet): reading
// needs 0400 and writing 0200 on the file; creating, removing or renaming an
// entry needs 0200 on the directory. A file is created with the mode its
// kOpen asks for, and its creator may use it as opened whatever the mode.
//
// Readdir of an open directory is stable while its entries change: each
// call resumes after the name returned last (DirCursor), so a directory
// emptied while it is read (rm -r) is listed once, each entry once.
//
// Not thread-safe: the server is single-threaded.
#pragma once

#include <keel/fs_backend.h>

namespace keel::tmpfs {

inline constexpr uint64_t kPageBytes = 4096;
inline constexpr uint64_t kNodeCost = 256;
inline constexpr size_t kMaxOpenFiles = 256;  // all clients together

class Tmpfs final : public keel::fs::Backend {
 public:
  // An empty file system (a root directory with mode 0777) that may use
  // `quota` bytes (the root's kNodeCost included); `clock` gives the time
  // (ns, keel/proto/fs.h) for the nodes' times (null: always 0).
  explicit Tmpfs(uint64_t quota, int64_t (*clock)() = nullptr);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

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
  // The quota in 4 KiB blocks (free: what is left of it); nodes: those there
  // are plus as many as the rest of the quota could pay for (kNodeCost
  // each); kFsMemory.
  ktl::Result<keel::fs::FsInfo> fs_info() override;

  uint64_t used() const { return used_; }
  uint64_t quota() const { return quota_; }
  size_t nodes() const { return nodes_; }

  // For kImage (main.cc makes the object): the regular file at normalised
  // `path`: its Stat in `*st`, and `page(ctx, offset, bytes, len)` called for
  // each page that holds data, in order (the others are zeros; the last
  // page's len stops at the file's end). Errors as open() for reading;
  // IsADirectory, Unsupported (a symlink or FIFO); what `page` returns.
  using PageFn = ktl::Result<void> (*)(void* ctx, uint64_t offset, const uint8_t* bytes, size_t len);
  ktl::Result<void> file_pages(std::string_view path, keel::fs::Stat* st, PageFn page, void* ctx);

 private:
  struct Node;
  struct Entry;
  // Where readdir of an open directory stands: it resumes after the name it
  // returned last (or, asked again for the same cookie, after the name
  // before that), so that entries removed or added meanwhile make it skip
  // or repeat nothing. A cookie it did not hand out last is an index.
  struct DirCursor {
    uint64_t prev_cookie = 0;  // the cookie of the last call, and the name it resumed after
    char prev_after[keel::path::kNameMax];
    size_t prev_after_len = 0;
    uint64_t next_cookie = 0;  // the cookie it answered, and the name it returned (0: none yet)
    char last[keel::path::kNameMax];
    size_t last_len = 0;
  };
  using Files = keel::fs::OpenFiles<Node*, kMaxOpenFiles, DirCursor>;

  ktl::Result<Node*> lookup(std::string_view path);
  // The directory that would hold `path`'s last component, and that name.
  // Busy for "/".
  ktl::Result<Node*> lookup_parent(std::string_view path, std::string_view* name);
  Entry* child(Node* dir, std::string_view name);
  // A new node of `type` named `name` in `dir` (which must not have it).
  ktl::Result<Node*> make_node(Node* dir, std::string_view name, uint64_t type, uint64_t mode);
  // A new name for `n` in `dir`.
  ktl::Result<Entry*> make_entry(Node* dir, std::string_view name, Node* n);
  void attach(Node* dir, Entry* e);
  // Takes `e` out of `dir` and frees it; its node loses a name (and is
  // freed if that was its last and it is not open).
  void remove_entry(Node* dir, Entry* e);
  // Frees `n` if it has no name and is not open.
  void release(Node* n);
  // Checks for a new name `name` in `dir`: AlreadyExists, AccessDenied.
  ktl::Result<void> may_add(Node* dir, std::string_view name);
  int64_t now() const { return clock_ ? clock_() : 0; }
  void set_mode(Node* n, uint64_t mode);
  void set_node_times(Node* n, uint64_t atime, uint64_t mtime);
  ktl::Result<void> truncate_node(Node* n, uint64_t size);
  ktl::Result<void> resize(Node* n, uint64_t size);
  keel::fs::Stat stat_of(const Node* n) const;
  Files::File* file(uint64_t client, uint32_t fid) { return files_.find(client, fid); }
  // Forgets f's node (freed if that was its last use); returns true.
  bool drop(Files::File& f);

  uint64_t quota_;
  int64_t (*clock_)();
  uint64_t next_inode_ = 1;
  uint64_t used_ = 0;
  size_t nodes_ = 0;
  Node* root_ = nullptr;
  Files files_;
};

}  // namespace keel::tmpfs
