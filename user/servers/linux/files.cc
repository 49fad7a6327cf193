// linux/files.cc — file descriptors, the VFS, pipes, /dev and the file syscalls (internal.h lists the files).
#include "internal.h"

#include <keel/path.h>
#include <keel/spawn.h>

namespace linux_srv {

// ---------------------------------------------------------------- files

// ---------------------------------------------------------------- named pipes

// The pipe of each FIFO node (kTypeFifo) that is open: found by its mount and
// inode, so that every open of any of its names meets the same pipe. A pipe
// lives while it has a reader or a writer (its data goes with it, as Linux's).
struct NamedPipe {
  uint64_t mount = 0, inode = 0;
  Pipe* pipe = nullptr;
};
NamedPipe g_fifos[32];

void fifo_forget(Pipe* pp) {
  for (NamedPipe& n : g_fifos)
    if (n.pipe == pp) n = NamedPipe{};
}

// Threads waiting in a blocking open of a FIFO for its other end. An entry
// holds while its thread still waits in an open (a signal that ends the
// wait, or the thread's end, makes it stale without anyone clearing it).
struct FifoWait {
  Thread* t = nullptr;
  int tid = 0;
  uint64_t mount = 0, inode = 0;
  bool writer = false;
};
FifoWait g_fifo_waits[16];

bool fifo_wait_live(const FifoWait& w) {
  if (!w.t || !w.t->used || w.t->tid != w.tid || w.t->block == Block::None) return false;
  const uint64_t nr = w.t->regs.rax;
  return nr == L::kOpen || nr == L::kOpenat || nr == L::kCreat;
}

bool fifo_waiter(uint64_t mount, uint64_t inode, bool writer) {
  for (const FifoWait& w : g_fifo_waits)
    if (w.mount == mount && w.inode == inode && w.writer == writer && fifo_wait_live(w)) return true;
  return false;
}

// Drops `t`'s entry; with `add`, makes a new one (false if the table is full).
bool fifo_wait_set(Thread* t, bool add, uint64_t mount = 0, uint64_t inode = 0, bool writer = false) {
  FifoWait* free_slot = nullptr;
  for (FifoWait& w : g_fifo_waits) {
    if (w.t == t) w = FifoWait{};
    if (!free_slot && (!w.t || !fifo_wait_live(w))) free_slot = &w;
  }
  if (!add) return true;
  if (!free_slot) return false;
  *free_slot = FifoWait{t, t->tid, mount, inode, writer};
  return true;
}

// open(2) of a FIFO (fifo(7)): without O_NONBLOCK, a reader waits for a
// writer and a writer for a reader (a thread waiting in such an open counts
// as that end); with it, a reader opens at once and a writer with no reader
// is ENXIO. O_RDWR opens at once, as both a reader and a writer. The pipe is made at the
// first open that does not wait.
int64_t open_fifo(uint64_t mount, uint64_t inode, uint64_t flags, const char* path, File** out) {
  NamedPipe* slot = nullptr;
  NamedPipe* free_slot = nullptr;
  for (NamedPipe& n : g_fifos) {
    if (n.pipe && n.mount == mount && n.inode == inode) slot = &n;
    if (!n.pipe && !free_slot) free_slot = &n;
  }
  const bool writer = (flags & L::O_ACCMODE) == L::O_WRONLY;
  const bool peer = (slot && (writer ? slot->pipe->readers : slot->pipe->writers) > 0) ||
                    fifo_waiter(mount, inode, !writer);
  Thread* t = dispatching_thread();
  if (!peer && writer && (flags & L::O_NONBLOCK)) return -L::ENXIO;
  if (!peer && !(flags & L::O_NONBLOCK) && (flags & L::O_ACCMODE) != L::O_RDWR && t &&
      fifo_wait_set(t, true, mount, inode, writer))
    return kOpenWait;
  if (t) (void)fifo_wait_set(t, false);
  File* f = new_file(writer ? FileKind::PipeWrite : FileKind::PipeRead);
  if (!f) return -L::ENOMEM;
  if (!slot) {
    Pipe* pp = free_slot ? new Pipe() : nullptr;
    uint8_t* buf = pp ? new uint8_t[kPipeSize] : nullptr;
    if (!buf) {
      delete pp;
      delete f;
      return -L::ENFILE;
    }
    pp->buf = buf;
    *free_slot = NamedPipe{mount, inode, pp};
    slot = free_slot;
  }
  f->pipe = slot->pipe;
  if (writer) ++f->pipe->writers; else ++f->pipe->readers;
  if ((flags & L::O_ACCMODE) == L::O_RDWR) ++f->pipe->writers;  // (both ends: it never waits, fifo(7))
  f->flags = flags & (L::O_ACCMODE | L::O_NONBLOCK);
  copy_cstr(f->path, path, sizeof f->path - 1);
  retry_blocked(Block::PipeRead);  // (an open waiting for this end, a reader waiting for data)
  *out = f;
  return 0;
}

File* new_file(FileKind kind) {
  File* f = new File();
  if (!f) return nullptr;
  f->refs = 1;
  f->kind = kind;
  return f;
}
void file_ref(File* f) { ++f->refs; }
void file_unref(File* f) {
  if (--f->refs > 0) return;
  if (f->kind == FileKind::Vfs) (void)keel::fs::close(f->fid);
  delete[] f->data;
  if (f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite) {
    Pipe* pp = f->pipe;
    if (f->kind == FileKind::PipeRead) --pp->readers; else --pp->writers;
    if (f->kind == FileKind::PipeRead && (f->flags & L::O_ACCMODE) == L::O_RDWR) --pp->writers;  // (a FIFO's O_RDWR end)
    if (pp->readers == 0 && pp->writers == 0) {
      fifo_forget(pp);
      delete[] pp->buf;
      delete pp;
    } else {
      retry_blocked(Block::PipeRead);  // readers see the end, writers EPIPE
    }
  }
  delete f;
}

int alloc_fd(Proc& p, int lowest) {
  const int limit = p.nofile < kMaxFds ? int(p.nofile) : int(kMaxFds);
  for (int i = lowest; i < limit; ++i)
    if (!p.fds[i].file) return i;
  return -1;
}
File* fd_file(Proc& p, int64_t fd) {
  if (fd < 0 || fd >= int64_t(kMaxFds)) return nullptr;
  return p.fds[fd].file;
}
void close_fd(Proc& p, int fd) {
  if (File* f = p.fds[fd].file) {
    p.fds[fd] = Fd{};
    file_unref(f);
  }
}

// Resolves `path` (relative to `dirfd` or the cwd) into a normalised
// absolute path in `out`. Returns 0 or -errno.
int64_t resolve(Proc& p, int64_t dirfd, const char* path, char (&out)[kPathMax]) {
  char joined[2 * kPathMax + 2];
  size_t n = 0;
  const size_t plen = strlen(path);
  if (plen == 0) return -L::ENOENT;
  if (path[0] != '/') {
    const char* base = p.cwd;
    if (dirfd != L::AT_FDCWD) {
      File* f = fd_file(p, dirfd);
      if (!f) return -L::EBADF;
      if (f->kind != FileKind::Vfs || f->type != pfs::kTypeDirectory) return -L::ENOTDIR;
      base = f->path;
    }
    const size_t blen = strlen(base);
    if (blen + 1 + plen >= sizeof joined) return -L::ENAMETOOLONG;
    memcpy(joined, base, blen);
    n = blen;
    joined[n++] = '/';
  }
  if (n + plen >= sizeof joined) return -L::ENAMETOOLONG;
  memcpy(joined + n, path, plen);
  n += plen;
  auto r = keel::path::normalize({joined, n}, {out, kPathMax});
  if (!r.ok()) return r.error() == ktl::Error::NameTooLong ? -L::ENAMETOOLONG : -L::EINVAL;
  const size_t len = r->size();
  if (r->data() != out) memmove(out, r->data(), len);
  if (len >= kPathMax) return -L::ENAMETOOLONG;
  out[len] = 0;
  return 0;
}

bool g_walk_links = false;

bool path_syscall(uint64_t nr) {
  switch (nr) {
    case L::kOpen: case L::kOpenat: case L::kCreat: case L::kStat: case L::kLstat: case L::kNewfstatat:
    case L::kStatx: case L::kAccess: case L::kFaccessat: case L::kFaccessat2: case L::kChdir: case L::kMkdir:
    case L::kMkdirat: case L::kRmdir: case L::kUnlink: case L::kUnlinkat: case L::kRename: case L::kRenameat:
    case L::kRenameat2: case L::kTruncate: case L::kReadlink: case L::kReadlinkat: case L::kExecve:
    case L::kSymlink: case L::kSymlinkat: case L::kLink: case L::kLinkat: case L::kChmod: case L::kFchmodat:
    case L::kUtimensat: case L::kUtimes: case L::kMknod: case L::kMknodat: case L::kStatfs:
      return true;
    default: return false;
  }
}

// True if `path` (`n` bytes) is absolute and already normalised within the
// VFS's bounds (keel/path.h): no empty, "." or ".." component, no trailing
// '/', names of at most kNameMax bytes, at most kDepthMax of them.
bool normalised_path(const char* path, size_t n) {
  if (n == 0 || path[0] != '/') return false;
  if (n == 1) return true;
  size_t start = 1, depth = 0;
  for (size_t i = 1; i <= n; ++i) {
    if (i < n && path[i] != '/') continue;
    const size_t len = i - start;
    if (len == 0 || len > keel::path::kNameMax || (path[start] == '.' && (len == 1 || (len == 2 && path[start + 1] == '.'))))
      return false;
    if (++depth > keel::path::kDepthMax) return false;
    start = i + 1;
  }
  return true;
}

// Reads a path argument and resolves it; with `follow`, a symbolic link as
// its last component is followed (follow_links); while g_walk_links, links
// in the middle of it are too (follow_middle_links).
int64_t path_arg(Proc& p, int64_t dirfd, uint64_t addr, char (&out)[kPathMax], bool follow) {
  char raw[kPathMax + 64];
  int64_t n = read_string(p, addr, raw, sizeof raw);
  if (n < 0) return n;
  if (size_t(n) < kPathMax && normalised_path(raw, size_t(n))) {
    memcpy(out, raw, size_t(n) + 1);  // (an absolute, normalised path is what resolve would make of it)
  } else if (int64_t e = has_dotdot(raw) ? resolve_physical(p, dirfd, raw, out) : resolve(p, dirfd, raw, out); e < 0) {
    return e;  // (".." after a symbolic link is taken physically: dotdot.cc)
  }
  if (g_walk_links)
    if (int64_t e = follow_middle_links(out); e < 0) return e;
  return follow ? follow_links(out) : 0;
}

// Replaces the symbolic links among the directories of `path` (every
// component but the last) by what they name, one kStat per component, up to
// 40 links (then -ELOOP, as Linux's MAXSYMLINKS). ".." was taken lexically
// before (resolve), as everywhere in this server. Paths of this server's own
// files (/dev, /proc) are left alone, and so is a path whose directories do
// not exist (the caller's own error).
int64_t follow_middle_links(char (&path)[kPathMax]) {
  int hops = 0;
  for (size_t i = 1; path[i] != 0; ++i) {
    if (path[i] != '/') continue;
    path[i] = 0;  // the prefix before this '/'
    keel::fs::Info info;
    const bool own = dev_node(path) || str_eq(path, "/dev") || procfs_path(path);
    const bool link = !own && keel::fs::stat(path, &info) == Status::Ok && info.type == pfs::kTypeSymlink;
    char target[kPathMax];
    const int64_t n = link ? read_link(path, target, sizeof target) : 0;
    path[i] = '/';
    if (own) return 0;
    if (!link) continue;
    if (n < 0) return n;
    if (++hops > 40) return -L::ELOOP;
    char joined[3 * kPathMax + 2];
    size_t len = 0;
    if (target[0] != '/') {  // relative to the link's directory
      path[i] = 0;
      const char* slash = last_slash(path);
      len = size_t(slash - path);
      path[i] = '/';
      memcpy(joined, path, len);
      joined[len++] = '/';
    }
    memcpy(joined + len, target, size_t(n));
    len += size_t(n);
    const size_t rest = strlen(path + i);
    memcpy(joined + len, path + i, rest + 1);
    if (int64_t e = resolve(g_procs[0], L::AT_FDCWD, joined, path); e < 0) return e;
    i = 0;  // the new path from its start
  }
  return 0;
}

// ---------------------------------------------------------------- symbolic links

// The target of the symbolic link `path` (the VFS's kFlagLink open), NUL-
// terminated in `out`: its length, -EINVAL if `path` is no symbolic link,
// or another -errno.
int64_t read_link(const char* path, char* out, size_t cap) {
  keel::fs::Info info;
  if (Status s = keel::fs::stat(path, &info); s != Status::Ok) return errno_of(s);
  if (info.type != pfs::kTypeSymlink) return -L::EINVAL;
  keel::fs::Fid fid = 0;
  if (Status s = keel::fs::open(path, pfs::kFlagRead | pfs::kFlagLink, &fid); s != Status::Ok) return errno_of(s);
  size_t got = 0;
  Status s = keel::fs::read(fid, {reinterpret_cast<uint8_t*>(out), cap - 1}, &got);
  (void)keel::fs::close(fid);
  if (s != Status::Ok) return errno_of(s);
  out[got] = 0;
  return int64_t(got);
}

// Replaces `path` (absolute, normalised) by what it names after following
// symbolic links in its last component, up to 40 (then -ELOOP), as path
// resolution does (path_resolution(7)); links in the middle of a path are
// follow_middle_links's (after ENOTDIR). A path that does not exist is left
// as it is, for the caller's own error.
int64_t follow_links(char (&path)[kPathMax]) {
  for (int hops = 0; hops < 40; ++hops) {
    if (dev_node(path) || str_eq(path, "/dev")) return 0;
    keel::fs::Info info;
    if (keel::fs::stat(path, &info) != Status::Ok || info.type != pfs::kTypeSymlink) return 0;
    char target[kPathMax];
    int64_t n = read_link(path, target, sizeof target);
    if (n < 0) return n;
    char joined[2 * kPathMax + 2];
    size_t len = 0;
    if (target[0] != '/') {  // relative to the link's directory
      const char* slash = last_slash(path);
      len = size_t(slash - path);
      memcpy(joined, path, len);
      joined[len++] = '/';
    }
    memcpy(joined + len, target, size_t(n) + 1);
    // (an absolute path: resolve looks at no process)
    if (int64_t e = resolve(g_procs[0], L::AT_FDCWD, joined, path); e < 0) return e;
  }
  return -L::ELOOP;
}


constexpr DevNode kDevNodes[] = {{"/dev/null", FileKind::Null},     {"/dev/zero", FileKind::Zero},
                                 {"/dev/full", FileKind::Full},     {"/dev/urandom", FileKind::Random},
                                 {"/dev/random", FileKind::Random}, {"/dev/tty", FileKind::Console},
                                 {"/dev/console", FileKind::Console}};

// The device number Linux gives each node (devices.txt: 1:3 null, 1:5 zero,
// 1:7 full, 1:8 random, 1:9 urandom, 5:0 tty, 5:1 console), as
// makedev(major, minor) encodes small numbers.
uint64_t dev_rdev(const char* path) {
  struct Num {
    const char* path;
    uint64_t major, minor;
  };
  constexpr Num kNums[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},   {"/dev/random", 1, 8},
                           {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},  {"/dev/console", 5, 1}};
  for (const Num& n : kNums)
    if (str_eq(n.path, path)) return (n.major << 8) | n.minor;
  return (5 << 8) | 1;  // the console's, for the standard streams
}

// "/dev" or a path below it (the test before the tables below).
bool dev_prefix(const char* p) {
  return p[0] == '/' && p[1] == 'd' && p[2] == 'e' && p[3] == 'v' && (p[4] == 0 || p[4] == '/');
}

// A path that goes on below a device node ("/dev/null/x"): ENOTDIR.
bool under_dev_node(const char* path) {
  if (!dev_prefix(path)) return false;
  for (const DevNode& d : kDevNodes) {
    const size_t n = strlen(d.path);
    if (memcmp(path, d.path, n) == 0 && path[n] == '/') return true;
  }
  return false;
}

const DevNode* dev_node(const char* path) {
  if (!dev_prefix(path)) return nullptr;
  for (const DevNode& d : kDevNodes)
    if (str_eq(d.path, path)) return &d;
  return nullptr;
}

void fill_stat(L::Stat* st, uint32_t mode, uint64_t size, uint64_t ino, uint64_t rdev) {
  memset(st, 0, sizeof *st);
  st->st_dev = 1;
  st->st_ino = ino;
  st->st_nlink = (mode & L::S_IFMT) == L::S_IFDIR ? 2 : 1;
  st->st_mode = mode;
  st->st_rdev = rdev;
  st->st_size = int64_t(size);
  st->st_blksize = 4096;
  st->st_blocks = int64_t((size + 511) / 512);
  const int64_t now = int64_t((g_boot_realtime_ns + keel::now_ns()) / 1'000'000'000);
  st->st_atime_sec = st->st_mtime_sec = st->st_ctime_sec = now;
}

uint64_t path_ino(const char* path) {  // a stable inode number: FNV-1a of the path
  uint64_t h = 1469598103934665603ull;
  for (const char* c = path; *c; ++c) h = (h ^ uint8_t(*c)) * 1099511628211ull;
  return h | 1;
}

uint32_t mode_of_type(uint64_t type, uint64_t perm) {
  const uint32_t fmt = type == pfs::kTypeDirectory ? L::S_IFDIR
                       : type == pfs::kTypeSymlink ? L::S_IFLNK
                       : type == pfs::kTypeFifo    ? L::S_IFIFO
                                                   : L::S_IFREG;
  return fmt | uint32_t(perm & 07777);
}

// A file system's time (ns of the monotonic clock, keel/proto/fs.h) as
// wall-clock seconds and nanoseconds.
void real_time(int64_t fs_ns, int64_t* sec, int64_t* nsec) {
  const int64_t ns = int64_t(g_boot_realtime_ns) + fs_ns;
  int64_t s = ns / 1'000'000'000, n = ns % 1'000'000'000;
  if (n < 0) n += 1'000'000'000, --s;
  *sec = s;
  *nsec = n;
}

// The stat of a VFS file: its inode, links and times where the server has
// them (the inode's mount is st_dev), else made up from its path.
void fill_stat_info(L::Stat* st, const keel::fs::Info& info, const char* path) {
  fill_stat(st, mode_of_type(info.type, info.mode), info.size, info.inode ? info.inode : path_ino(path));
  if (info.inode == 0) return;
  st->st_dev = info.mount + 1;
  st->st_nlink = info.links;
  real_time(info.atime, &st->st_atime_sec, &st->st_atime_nsec);
  real_time(info.mtime, &st->st_mtime_sec, &st->st_mtime_nsec);
  real_time(info.ctime, &st->st_ctime_sec, &st->st_ctime_nsec);
  apply_owner(st);  // (perms.cc: files not root's)
}

int64_t stat_path(const char* path, L::Stat* st) {
  if (const DevNode* d = dev_node(path)) {
    fill_stat(st, L::S_IFCHR | 0666, 0, path_ino(path), dev_rdev(d->path));
    return 0;
  }
  if (under_dev_node(path)) return -L::ENOTDIR;
  if (str_eq(path, "/dev")) {
    fill_stat(st, L::S_IFDIR | 0755, sizeof kDevNodes / sizeof kDevNodes[0], path_ino(path));
    return 0;
  }
  keel::fs::Info info;
  if (Status s = keel::fs::stat(path, &info); s != Status::Ok) return errno_of(s);
  fill_stat_info(st, info, path);
  return 0;
}

int64_t stat_any(Proc& caller, const char* path, L::Stat* st, bool follow) {
  if (procfs_path(path)) return procfs_stat(caller, path, st, follow);
  return stat_path(path, st);
}

int64_t stat_file(File* f, L::Stat* st) {
  switch (f->kind) {
    case FileKind::Vfs: {
      keel::fs::Info info;
      if (Status s = keel::fs::fstat(f->fid, &info); s != Status::Ok) return errno_of(s);
      fill_stat_info(st, info, f->path);
      return 0;
    }
    case FileKind::PipeRead:
    case FileKind::PipeWrite:
      fill_stat(st, L::S_IFIFO | 0600, 0, uint64_t(reinterpret_cast<uintptr_t>(f->pipe)));
      return 0;
    case FileKind::DevDir: fill_stat(st, L::S_IFDIR | 0755, 0, path_ino("/dev")); return 0;
    case FileKind::ProcDir: fill_stat(st, L::S_IFDIR | 0555, 0, path_ino(f->path)); return 0;
    case FileKind::ProcFile: fill_stat(st, L::S_IFREG | 0444, 0, path_ino(f->path)); return 0;
    default: fill_stat(st, L::S_IFCHR | 0666, 0, path_ino(f->path), dev_rdev(f->path)); return 0;
  }
}

// open(2) on an absolute normalised path.
int64_t open_path(const char* path, uint64_t flags, uint64_t mode, File** out) {
  if (under_dev_node(path)) return -L::ENOTDIR;
  if (const DevNode* d = dev_node(path)) {
    if (flags & L::O_DIRECTORY) return -L::ENOTDIR;
    File* f = new_file(d->kind);
    if (!f) return -L::ENOMEM;
    copy_cstr(f->path, path, sizeof f->path - 1);
    f->flags = flags & (L::O_ACCMODE | L::O_APPEND | L::O_NONBLOCK);
    *out = f;
    return 0;
  }
  if (str_eq(path, "/dev")) {
    if ((flags & L::O_ACCMODE) != L::O_RDONLY) return -L::EISDIR;
    File* f = new_file(FileKind::DevDir);
    if (!f) return -L::ENOMEM;
    copy_cstr(f->path, path, sizeof f->path - 1);
    *out = f;
    return 0;
  }
  uint64_t kf = 0;
  const uint64_t acc = flags & L::O_ACCMODE;
  if (acc == L::O_RDONLY || acc == L::O_RDWR) kf |= pfs::kFlagRead;
  if (acc == L::O_WRONLY || acc == L::O_RDWR) kf |= pfs::kFlagWrite;
  if (acc == 3) return -L::EINVAL;
  if (flags & L::O_CREAT) kf |= pfs::kFlagCreate;
  if ((flags & L::O_EXCL) && (flags & L::O_CREAT)) kf |= pfs::kFlagExclusive;
  if ((flags & L::O_TRUNC) && (kf & pfs::kFlagWrite)) kf |= pfs::kFlagTruncate;
  if (flags & L::O_APPEND) kf |= pfs::kFlagAppend;
  if (flags & L::O_DIRECTORY) kf |= pfs::kFlagDirectory;
  if (!(kf & (pfs::kFlagRead | pfs::kFlagWrite))) kf |= pfs::kFlagRead;
  keel::fs::Fid fid = 0;
  keel::fs::Info info;
  Status s = keel::fs::open(path, kf, &fid, mode & 0777, &info);
  if (s == Status::IsADirectory && (kf & pfs::kFlagWrite)) return -L::EISDIR;
  if (s == Status::Unsupported) return -L::ELOOP;  // a symbolic link not followed: O_NOFOLLOW
  if (s != Status::Ok) return errno_of(s);
  if (info.type == pfs::kTypeFifo) {
    keel::fs::Info node;
    s = keel::fs::fstat(fid, &node);
    (void)keel::fs::close(fid);
    if (s != Status::Ok) return errno_of(s);
    if (flags & L::O_DIRECTORY) return -L::ENOTDIR;
    return open_fifo(node.mount, node.inode, flags, path, out);
  }
  File* f = new_file(FileKind::Vfs);
  if (!f) {
    (void)keel::fs::close(fid);
    return -L::ENOMEM;
  }
  f->fid = fid;
  f->type = info.type;
  f->flags = flags & (L::O_ACCMODE | L::O_APPEND | L::O_NONBLOCK);
  const size_t plen = strlen(path) < sizeof f->path - 1 ? strlen(path) : sizeof f->path - 1;
  memcpy(f->path, path, plen);
  f->path[plen] = 0;
  *out = f;
  return 0;
}


int64_t do_write(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at) {
  if ((f->flags & L::O_ACCMODE) == L::O_RDONLY && f->kind != FileKind::Console && f->kind != FileKind::PipeWrite)
    return -L::EBADF;
  uint8_t chunk[4096];
  switch (f->kind) {
    case FileKind::Console: {
      if (tty_active(f)) return tty_write(p, f, buf, len, block);
      uint64_t done = 0;
      while (done < len) {
        size_t n = len - done > sizeof chunk ? sizeof chunk : size_t(len - done);
        if (!read_user(p, buf + done, chunk, n)) return done ? int64_t(done) : -L::EFAULT;
        console_write(p, chunk, n);
        done += n;
      }
      return int64_t(len);
    }
    case FileKind::Null: case FileKind::Zero: case FileKind::Random: return int64_t(len);
    case FileKind::Full: return -L::ENOSPC;
    case FileKind::DevDir: case FileKind::ProcDir: return -L::EISDIR;
    case FileKind::ProcFile: return -L::EBADF;
    case FileKind::PipeRead:
      if ((f->flags & L::O_ACCMODE) != L::O_RDWR) return -L::EBADF;
      [[fallthrough]];  // (a FIFO opened O_RDWR is both ends)
    case FileKind::PipeWrite: {
      Pipe* pp = f->pipe;
      if (pp->readers == 0) return -L::EPIPE;  // (SIGPIPE: raised by the caller)
      uint64_t done = t.progress;
      const size_t space = kPipeSize - pp->count;
      if (len <= kPipeBuf && space < len - done) {  // atomic: all or wait
        if (f->flags & L::O_NONBLOCK) return -L::EAGAIN;
        *block = true;
        return 0;
      }
      while (done < len && pp->count < kPipeSize) {
        size_t n = size_t(len - done);
        const size_t tail = (pp->head + pp->count) % kPipeSize;
        size_t room = kPipeSize - pp->count;
        if (n > room) n = room;
        if (n > kPipeSize - tail) n = kPipeSize - tail;
        if (n > sizeof chunk) n = sizeof chunk;
        if (!read_user(p, buf + done, chunk, n)) return done ? int64_t(done) : -L::EFAULT;
        memcpy(pp->buf + tail, chunk, n);
        pp->count += n;
        done += n;
      }
      if (done > t.progress) retry_blocked(Block::PipeRead);
      if (done < len) {
        if (f->flags & L::O_NONBLOCK) return done ? int64_t(done) : -L::EAGAIN;
        t.progress = done;
        *block = true;
        return 0;
      }
      return int64_t(done);
    }
    case FileKind::Vfs: {
      if (f->type == pfs::kTypeDirectory) return -L::EISDIR;
      static uint8_t big[64 * 1024];  // (one thread: one request at a time) big pieces go through shared memory
      uint64_t saved = 0;
      if (at >= 0) {
        if (keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved) != Status::Ok ||
            keel::fs::seek(f->fid, pfs::kSeekSet, at) != Status::Ok)
          return -L::EINVAL;
      }
      uint64_t done = 0;
      while (done < len) {
        size_t n = len - done > sizeof big ? sizeof big : size_t(len - done);
        if (!read_user(p, buf + done, big, n)) return done ? int64_t(done) : -L::EFAULT;
        size_t w = 0;
        Status s = keel::fs::write(f->fid, {big, n}, &w);
        done += w;
        if (s != Status::Ok) return done ? int64_t(done) : errno_of(s);
      }
      if (at >= 0) (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(saved));
      return int64_t(done);
    }
  }
  return -L::EBADF;
}

int64_t sys_read_file(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at) {
  (void)t;
  if ((f->flags & L::O_ACCMODE) == L::O_WRONLY && f->kind != FileKind::PipeRead && f->kind != FileKind::Console)
    return -L::EBADF;
  uint8_t chunk[4096];
  switch (f->kind) {
    case FileKind::Console: return tty_active(f) ? tty_read(p, f, buf, len, block) : 0;  // (no tty: end of file)
    case FileKind::Null: return 0;
    case FileKind::Zero: case FileKind::Full: case FileKind::Random: {
      uint64_t done = 0;
      static uint64_t seed = 0x2545f4914f6cdd1dull ^ keel::now_ns();
      while (done < len) {
        size_t n = len - done > sizeof chunk ? sizeof chunk : size_t(len - done);
        if (f->kind == FileKind::Random) {
          for (size_t i = 0; i < n; ++i) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk[i] = uint8_t(seed >> 24);
          }
        } else {
          memset(chunk, 0, n);
        }
        if (!write_user(p, buf + done, chunk, n)) return done ? int64_t(done) : -L::EFAULT;
        done += n;
      }
      return int64_t(done);
    }
    case FileKind::DevDir: return -L::EISDIR;
    case FileKind::ProcFile: case FileKind::ProcDir: return procfs_read(p, f, buf, len);
    case FileKind::PipeWrite: return -L::EBADF;
    case FileKind::PipeRead: {
      Pipe* pp = f->pipe;
      if (pp->count == 0) {
        if (pp->writers == 0) return 0;
        if (f->flags & L::O_NONBLOCK) return -L::EAGAIN;
        *block = true;
        return 0;
      }
      uint64_t done = 0;
      while (done < len && pp->count > 0) {
        size_t n = size_t(len - done);
        if (n > pp->count) n = pp->count;
        if (n > kPipeSize - pp->head) n = kPipeSize - pp->head;
        if (n > sizeof chunk) n = sizeof chunk;
        if (!write_user(p, buf + done, pp->buf + pp->head, n)) return done ? int64_t(done) : -L::EFAULT;
        pp->head = (pp->head + n) % kPipeSize;
        pp->count -= n;
        done += n;
      }
      retry_blocked(Block::PipeWrite);
      return int64_t(done);
    }
    case FileKind::Vfs: {
      if (f->type == pfs::kTypeDirectory) return -L::EISDIR;
      static uint8_t big[64 * 1024];
      uint64_t saved = 0;
      if (at >= 0 && (keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved) != Status::Ok ||
                      keel::fs::seek(f->fid, pfs::kSeekSet, at) != Status::Ok))
        return -L::EINVAL;
      uint64_t done = 0;
      while (done < len) {
        size_t n = len - done > sizeof big ? sizeof big : size_t(len - done);
        size_t got = 0;
        Status s = keel::fs::read(f->fid, {big, n}, &got);
        if (s != Status::Ok) return done ? int64_t(done) : errno_of(s);
        if (got && !write_user(p, buf + done, big, got)) return done ? int64_t(done) : -L::EFAULT;
        done += got;
        if (got < n) break;
      }
      if (at >= 0) (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(saved));
      return int64_t(done);
    }
  }
  return -L::EBADF;
}

// SIGPIPE's default action for a write to a pipe nobody reads.
Result sigpipe(Proc& p, Thread& t, int64_t r) {
  if (r == -L::EPIPE) {
    linux_sigframe::Siginfo si;
    si.set32(16, p.pid);
    (void)send_signal(p, &t, L::SIGPIPE, si);
    if (!t.used) return kGone;
  }
  return value(r);
}

// struct iovec { void* base; size_t len; }
Result sys_rw_vector(Proc& p, Thread& t, const UserRegs& r, bool write) {
  File* f = fd_file(p, int64_t(r.rdi));
  if (!f) return value(-L::EBADF);
  const uint64_t iov = r.rsi, cnt = r.rdx;
  if (cnt > 1024) return value(-L::EINVAL);
  int64_t total = 0;
  for (uint64_t i = 0; i < cnt; ++i) {
    uint64_t v[2];
    if (!read_user(p, iov + 16 * i, v, sizeof v)) return value(total ? total : -L::EFAULT);
    if (v[1] == 0) continue;
    bool block = false;
    int64_t n = write ? do_write(p, t, f, v[0], v[1], &block) : sys_read_file(p, t, f, v[0], v[1], &block);
    if (block) {
      if (total) return value(total);
      t.progress = 0;
      return kBlock;  // (pipes with vectors: only the first buffer waits)
    }
    if (n < 0) return write ? sigpipe(p, t, total ? total : n) : value(total ? total : n);
    total += n;
    if (uint64_t(n) < v[1]) break;
  }
  return value(total);
}

Result sys_getdents64(Proc& p, const UserRegs& r) {
  File* f = fd_file(p, int64_t(r.rdi));
  if (!f) return value(-L::EBADF);
  if (f->kind == FileKind::DevDir) {
    // /dev: the device nodes this server provides.
    uint8_t out[4096];
    size_t used = 0;
    const size_t n = sizeof kDevNodes / sizeof kDevNodes[0];
    while (f->dir_cookie < n) {
      const char* name = kDevNodes[f->dir_cookie].path + 5;
      const size_t nl = strlen(name);
      const size_t rec = (19 + nl + 1 + 7) & ~size_t(7);
      if (used + rec > r.rdx || used + rec > sizeof out) break;
      uint8_t* e = out + used;
      memset(e, 0, rec);
      const uint64_t ino = path_ino(kDevNodes[f->dir_cookie].path);
      const int64_t off = int64_t(f->dir_cookie + 1);
      const uint16_t reclen = uint16_t(rec);
      memcpy(e, &ino, 8);
      memcpy(e + 8, &off, 8);
      memcpy(e + 16, &reclen, 2);
      e[18] = L::DT_CHR;
      memcpy(e + 19, name, nl);
      used += rec;
      ++f->dir_cookie;
    }
    if (used == 0 && f->dir_cookie < n) return value(-L::EINVAL);
    if (!write_user(p, r.rsi, out, used)) return value(-L::EFAULT);
    return value(int64_t(used));
  }
  if (f->kind == FileKind::ProcDir) return value(procfs_getdents(p, f, r.rsi, r.rdx));
  if (f->kind != FileKind::Vfs) return value(-L::ENOTDIR);
  if (f->type != pfs::kTypeDirectory) return value(-L::ENOTDIR);
  uint8_t out[4096];
  size_t used = 0;
  const size_t cap = r.rdx < sizeof out ? size_t(r.rdx) : sizeof out;
  for (;;) {
    keel::fs::DirEntry ent;
    uint64_t next = f->dir_cookie;
    // "." and ".." first (cookies 0 and 1 here; the VFS's start at 2).
    const char* dot = nullptr;
    uint8_t dtype = L::DT_DIR;
    size_t nl = 0;
    const char* name = nullptr;
    if (f->dir_cookie < 2) {
      dot = f->dir_cookie == 0 ? "." : "..";
      name = dot;
      nl = strlen(dot);
      next = f->dir_cookie + 1;
    } else {
      uint64_t vc = f->dir_cookie - 2;
      Status s = keel::fs::readdir(f->fid, &vc, &ent);
      if (s == Status::OutOfRange) break;
      if (s != Status::Ok) return value(used ? int64_t(used) : errno_of(s));
      name = ent.name;
      nl = ent.name_len;
      dtype = ent.type == pfs::kTypeDirectory ? L::DT_DIR
              : ent.type == pfs::kTypeSymlink ? L::DT_LNK
              : ent.type == pfs::kTypeFifo    ? L::DT_FIFO
                                              : L::DT_REG;
      next = vc + 2;
    }
    const size_t rec = (19 + nl + 1 + 7) & ~size_t(7);
    if (used + rec > cap) {
      if (used == 0) return value(-L::EINVAL);
      break;
    }
    uint8_t* e = out + used;
    memset(e, 0, rec);
    char full[kPathMax * 2];
    size_t fl = strlen(f->path);
    memcpy(full, f->path, fl);
    full[fl++] = '/';
    memcpy(full + fl, name, nl);
    full[fl + nl] = 0;
    const uint64_t ino = !dot && ent.inode ? ent.inode : path_ino(full);  // (st_ino, as stat shows it)
    const int64_t off = int64_t(next);
    const uint16_t reclen = uint16_t(rec);
    memcpy(e, &ino, 8);
    memcpy(e + 8, &off, 8);
    memcpy(e + 16, &reclen, 2);
    e[18] = dtype;
    memcpy(e + 19, name, nl);
    used += rec;
    f->dir_cookie = next;
  }
  if (!write_user(p, r.rsi, out, used)) return value(-L::EFAULT);
  return value(int64_t(used));
}

Result sys_pipe2(Proc& p, uint64_t addr, uint64_t flags) {
  if (flags & ~(L::O_CLOEXEC | L::O_NONBLOCK)) return value(-L::EINVAL);
  const int rfd = alloc_fd(p);
  if (rfd < 0) return value(-L::EMFILE);
  p.fds[rfd].file = reinterpret_cast<File*>(1);  // reserved while the second is found
  const int wfd = alloc_fd(p);
  p.fds[rfd].file = nullptr;
  if (wfd < 0) return value(-L::EMFILE);
  Pipe* pp = new Pipe();
  uint8_t* buf = new uint8_t[kPipeSize];
  File* rf = new_file(FileKind::PipeRead);
  File* wf = new_file(FileKind::PipeWrite);
  if (!pp || !buf || !rf || !wf) {
    delete pp;
    delete[] buf;
    delete rf;
    delete wf;
    return value(-L::ENFILE);
  }
  pp->buf = buf;
  pp->readers = pp->writers = 1;
  rf->pipe = wf->pipe = pp;
  rf->flags = L::O_RDONLY | (flags & L::O_NONBLOCK);
  wf->flags = L::O_WRONLY | (flags & L::O_NONBLOCK);
  const int32_t fds[2] = {rfd, wfd};
  if (!write_user(p, addr, fds, sizeof fds)) {
    file_unref(rf);
    file_unref(wf);
    return value(-L::EFAULT);
  }
  p.fds[rfd] = {rf, bool(flags & L::O_CLOEXEC)};
  p.fds[wfd] = {wf, bool(flags & L::O_CLOEXEC)};
  return value(0);
}

Result sys_dup3(Proc& p, int64_t oldfd, int64_t newfd, uint64_t flags, bool dup2) {
  File* f = fd_file(p, oldfd);
  if (!f) return value(-L::EBADF);
  if (newfd < 0 || newfd >= int64_t(kMaxFds)) return value(-L::EBADF);
  if (oldfd == newfd) return value(dup2 ? newfd : -L::EINVAL);
  if (flags & ~L::O_CLOEXEC) return value(-L::EINVAL);
  file_ref(f);
  close_fd(p, int(newfd));
  p.fds[newfd] = {f, bool(flags & L::O_CLOEXEC)};
  return value(newfd);
}

// O_APPEND is the VFS fid's kFlagAppend: F_SETFL that changes it opens the
// file again with or without it, at the same offset. (If that fails, the
// old fid stays, and with it the old behaviour.)
void vfs_set_append(File* f, bool append) {
  uint64_t kf = 0;
  const uint64_t acc = f->flags & L::O_ACCMODE;
  if (acc == L::O_RDONLY || acc == L::O_RDWR) kf |= pfs::kFlagRead;
  if (acc == L::O_WRONLY || acc == L::O_RDWR) kf |= pfs::kFlagWrite;
  if (append) kf |= pfs::kFlagAppend;
  uint64_t pos = 0;
  keel::fs::Fid nf = 0;
  if (keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &pos) != Status::Ok) return;
  if (keel::fs::open(f->path, kf, &nf) != Status::Ok) return;
  if (keel::fs::seek(nf, pfs::kSeekSet, int64_t(pos)) != Status::Ok) {
    (void)keel::fs::close(nf);
    return;
  }
  (void)keel::fs::close(f->fid);
  f->fid = nf;
}

Result sys_fcntl(Proc& p, int64_t fd, uint64_t cmd, uint64_t arg) {
  File* f = fd_file(p, fd);
  if (!f) return value(-L::EBADF);
  switch (cmd) {
    case L::F_DUPFD:
    case L::F_DUPFD_CLOEXEC: {
      if (arg >= kMaxFds) return value(-L::EINVAL);
      const int nfd = alloc_fd(p, int(arg));
      if (nfd < 0) return value(-L::EMFILE);
      file_ref(f);
      p.fds[nfd] = {f, cmd == L::F_DUPFD_CLOEXEC};
      return value(nfd);
    }
    case L::F_GETFD: return value(p.fds[fd].cloexec ? L::FD_CLOEXEC : 0);
    case L::F_SETFD: p.fds[fd].cloexec = arg & L::FD_CLOEXEC; return value(0);
    case L::F_GETFL: return value(int64_t(f->flags));
    case L::F_SETFL:
      if (f->kind == FileKind::Vfs && f->type == pfs::kTypeFile && ((f->flags ^ arg) & L::O_APPEND)) vfs_set_append(f, arg & L::O_APPEND);
      f->flags = (f->flags & ~(L::O_APPEND | L::O_NONBLOCK)) | (arg & (L::O_APPEND | L::O_NONBLOCK));
      return value(0);
    case 1032:  // F_GETPIPE_SZ: a pipe's capacity (fixed here); EBADF for anything else, as Linux
      return value(f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite ? int64_t(kPipeSize) : -L::EBADF);
    default: return value(-L::EINVAL);
  }
}

Result sys_lseek(Proc& p, int64_t fd, int64_t off, uint64_t whence) {
  File* f = fd_file(p, fd);
  if (!f) return value(-L::EBADF);
  if (f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite || f->kind == FileKind::Console)
    return value(-L::ESPIPE);
  if (f->kind == FileKind::ProcFile || f->kind == FileKind::ProcDir) {
    if (whence != 0 || off < 0) return value(-L::EINVAL);
    f->dir_cookie = uint64_t(off);
    return value(off);
  }
  if (f->kind != FileKind::Vfs) return value(0);
  if (whence > 2) return value(-L::EINVAL);
  if (f->type == pfs::kTypeDirectory) {
    if (whence != 0 || off < 0) return value(-L::EINVAL);
    f->dir_cookie = uint64_t(off);
    return value(off);
  }
  uint64_t pos = 0;
  Status s = keel::fs::seek(f->fid, whence, off, &pos);
  if (s != Status::Ok) return value(-L::EINVAL);
  return value(int64_t(pos));
}

Result sys_ioctl(Proc& p, int64_t fd, uint64_t req, uint64_t arg) {
  File* f = fd_file(p, fd);
  if (!f) return value(-L::EBADF);
  if (req == L::FIONREAD && (f->kind == FileKind::PipeRead || f->kind == FileKind::Vfs)) {
    int32_t n = 0;
    if (f->kind == FileKind::PipeRead) {
      n = int32_t(f->pipe->count);
    } else {
      keel::fs::Info info;
      uint64_t pos = 0;
      if (keel::fs::fstat(f->fid, &info) == Status::Ok && keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &pos) == Status::Ok)
        n = info.size > pos ? int32_t(info.size - pos) : 0;
    }
    return value(write_obj(p, arg, n) ? 0 : -L::EFAULT);
  }
  if (f->kind != FileKind::Console) return value(-L::ENOTTY);
  return tty_ioctl(p, f, req, arg);  // (tty.cc)
}

// The stat of what newfstatat/statx name: `dirfd` + `path`, or with
// AT_EMPTY_PATH and an empty path the file `dirfd` itself (or the cwd).
int64_t stat_at(Proc& p, int64_t dirfd, uint64_t path_addr, uint64_t flags, L::Stat* st) {
  if (flags & L::AT_EMPTY_PATH) {
    char first = 0;
    if (!read_obj(p, path_addr, &first)) return -L::EFAULT;
    if (first == 0) {
      if (dirfd == L::AT_FDCWD) return stat_any(p, p.cwd, st);
      File* f = fd_file(p, dirfd);
      if (!f) return -L::EBADF;
      return stat_file(f, st);
    }
  }
  char path[kPathMax];
  const bool follow = !(flags & L::AT_SYMLINK_NOFOLLOW);
  // One VFS stat: a symbolic link is followed when the stat shows one (not
  // a stat in follow_links and then another).
  if (int64_t e = path_arg(p, dirfd, path_addr, path, false); e < 0) return e;
  if (follow && !procfs_path(path)) {
    const int64_t e = stat_path(path, st);
    if (e < 0 || (st->st_mode & L::S_IFMT) != L::S_IFLNK) return e;
  }
  if (follow)
    if (int64_t e = follow_links(path); e < 0) return e;
  return stat_any(p, path, st, follow);
}

// statx(2): struct statx (256 bytes), filled from the same stat; every
// STATX_BASIC_STATS field is valid.
Result sys_statx(Proc& p, const UserRegs& r) {
  constexpr uint64_t kAtNoAutomount = 0x800, kAtStatxSyncType = 0x6000;
  constexpr uint32_t kStatxReserved = 0x80000000u, kStatxBasicStats = 0x7ff;
  const uint64_t flags = r.rdx;
  if (flags & ~(L::AT_SYMLINK_NOFOLLOW | L::AT_EMPTY_PATH | kAtNoAutomount | kAtStatxSyncType)) return value(-L::EINVAL);
  if ((flags & kAtStatxSyncType) == kAtStatxSyncType) return value(-L::EINVAL);
  if (uint32_t(r.r10) & kStatxReserved) return value(-L::EINVAL);
  L::Stat st;
  if (int64_t e = stat_at(p, int64_t(int32_t(r.rdi)), r.rsi, flags, &st); e < 0) return value(e);
  uint8_t x[256] = {};
  auto put32 = [&](size_t off, uint32_t v) { memcpy(x + off, &v, 4); };
  auto put64 = [&](size_t off, uint64_t v) { memcpy(x + off, &v, 8); };
  put32(0, kStatxBasicStats);
  put32(4, uint32_t(st.st_blksize));
  put32(16, uint32_t(st.st_nlink));
  put32(20, st.st_uid);
  put32(24, st.st_gid);
  const uint16_t mode = uint16_t(st.st_mode);
  memcpy(x + 28, &mode, 2);
  put64(32, st.st_ino);
  put64(40, uint64_t(st.st_size));
  put64(48, uint64_t(st.st_blocks));
  put64(64, uint64_t(st.st_atime_sec));  // atime, btime (the ctime), ctime, mtime
  put32(72, uint32_t(st.st_atime_nsec));
  put64(80, uint64_t(st.st_ctime_sec));
  put32(88, uint32_t(st.st_ctime_nsec));
  put64(96, uint64_t(st.st_ctime_sec));
  put32(104, uint32_t(st.st_ctime_nsec));
  put64(112, uint64_t(st.st_mtime_sec));
  put32(120, uint32_t(st.st_mtime_nsec));
  put32(128, uint32_t(st.st_rdev >> 8));
  put32(132, uint32_t(st.st_rdev & 0xff));
  put32(136, uint32_t(st.st_dev >> 8));
  put32(140, uint32_t(st.st_dev & 0xff));
  return value(write_user(p, r.r8, x, sizeof x) ? 0 : -L::EFAULT);
}

// sendfile(2): from a VFS file (at *offset, which moves, or at its own
// position, which moves) to any writable file. Copies through the server in
// 64 KiB pieces; a pipe with no room takes what fits (no waiting).
Result sys_sendfile(Proc& p, const UserRegs& r) {
  File* out = fd_file(p, int64_t(int32_t(r.rdi)));
  File* in = fd_file(p, int64_t(int32_t(r.rsi)));
  if (!out || !in) return value(-L::EBADF);
  if ((out->flags & L::O_ACCMODE) == L::O_RDONLY && out->kind != FileKind::Console && out->kind != FileKind::PipeWrite)
    return value(-L::EBADF);
  if ((in->flags & L::O_ACCMODE) == L::O_WRONLY) return value(-L::EBADF);
  if (out->kind == FileKind::Console && tty_active(out)) return value(-L::EINVAL);  // (the tty: callers fall back to write)
  if (in->kind != FileKind::Vfs || in->type != pfs::kTypeFile) return value(-L::EINVAL);
  if (out->flags & L::O_APPEND) return value(-L::EINVAL);
  int64_t off = -1;
  if (r.rdx) {
    if (!read_obj(p, r.rdx, &off)) return value(-L::EFAULT);
    if (off < 0) return value(-L::EINVAL);
  }
  uint64_t saved = 0;
  if (off >= 0) {
    if (keel::fs::seek(in->fid, pfs::kSeekCurrent, 0, &saved) != Status::Ok ||
        keel::fs::seek(in->fid, pfs::kSeekSet, off) != Status::Ok)
      return value(-L::EINVAL);
  }
  static uint8_t buf[64 * 1024];
  uint64_t done = 0;
  int64_t err = 0;
  while (done < r.r10) {
    size_t n = r.r10 - done > sizeof buf ? sizeof buf : size_t(r.r10 - done);
    size_t got = 0;
    if (Status s = keel::fs::read(in->fid, {buf, n}, &got); s != Status::Ok) {
      err = errno_of(s);
      break;
    }
    if (got == 0) break;
    size_t put = 0;
    if (out->kind == FileKind::Vfs) {
      Status s = keel::fs::write(out->fid, {buf, got}, &put);
      if (s != Status::Ok) err = errno_of(s);
    } else if (out->kind == FileKind::Console) {
      console_write(p, buf, got);
      put = got;
    } else if (out->kind == FileKind::PipeWrite) {
      Pipe* pp = out->pipe;
      if (pp->readers == 0) {
        err = -L::EPIPE;
      } else {
        while (put < got && pp->count < kPipeSize) {
          const size_t tail = (pp->head + pp->count) % kPipeSize;
          pp->buf[tail] = buf[put++];
          ++pp->count;
        }
        retry_blocked(Block::PipeRead);
      }
    } else if (out->kind == FileKind::Full) {
      err = -L::ENOSPC;
    } else {
      put = got;  // /dev/null and friends
    }
    done += put;
    if (put < got) {  // give back what was read but not written
      (void)keel::fs::seek(in->fid, pfs::kSeekCurrent, -int64_t(got - put));
      break;
    }
    if (err) break;
  }
  if (off >= 0) {
    const int64_t now = off + int64_t(done);
    (void)keel::fs::seek(in->fid, pfs::kSeekSet, int64_t(saved));
    if (!write_obj(p, r.rdx, now)) return value(-L::EFAULT);
  }
  if (done == 0 && err) return value(err);
  return value(int64_t(done));
}

}  // namespace linux_srv

// ---------------------------------------------------------------- links, modes, times, nodes

namespace linux_srv {

namespace {

constexpr uint64_t kAtSymlinkFollow = 0x400;
constexpr int64_t kUtimeNow = (1 << 30) - 1, kUtimeOmit = (1 << 30) - 2;

// A path of one of this server's own files (/dev, its nodes, /proc), which
// the VFS does not hold.
bool own_path(const char* path) { return dev_node(path) || str_eq(path, "/dev") || procfs_path(path); }

// symlink(2), symlinkat(2): `target` is stored as given.
int64_t do_symlink(Proc& p, uint64_t target_addr, int64_t dirfd, uint64_t path_addr) {
  char target[kPathMax + 1];
  const int64_t n = read_string(p, target_addr, target, sizeof target);
  if (n < 0) return n == -L::ENAMETOOLONG || n == -L::EFAULT ? n : -L::EINVAL;
  if (n == 0) return -L::ENOENT;
  if (size_t(n) > pfs::kPathMax) return -L::ENAMETOOLONG;
  char path[kPathMax];
  if (int64_t e = path_arg(p, dirfd, path_addr, path, false); e < 0) return e;
  if (own_path(path)) return -L::EEXIST;
  return errno_of(keel::fs::symlink(path, {target, size_t(n)}));
}

// link(2), linkat(2): a directory is EPERM; the old name is not followed
// unless AT_SYMLINK_FOLLOW; AT_EMPTY_PATH links the file `olddirfd` is.
int64_t do_link(Proc& p, int64_t olddirfd, uint64_t old_addr, int64_t newdirfd, uint64_t new_addr, uint64_t flags) {
  if (flags & ~(kAtSymlinkFollow | L::AT_EMPTY_PATH)) return -L::EINVAL;
  char from[kPathMax], to[kPathMax];
  char first = 0;
  if ((flags & L::AT_EMPTY_PATH) && read_obj(p, old_addr, &first) && first == 0) {
    File* f = fd_file(p, olddirfd);
    if (!f) return -L::EBADF;
    if (f->kind != FileKind::Vfs) return -L::EXDEV;
    memcpy(from, f->path, sizeof from);
  } else if (int64_t e = path_arg(p, olddirfd, old_addr, from, flags & kAtSymlinkFollow); e < 0) {
    return e;
  }
  if (int64_t e = path_arg(p, newdirfd, new_addr, to, false); e < 0) return e;
  if (own_path(from)) return own_path(to) ? -L::EEXIST : -L::EXDEV;
  if (own_path(to)) return -L::EEXIST;
  Status s = keel::fs::link(from, to);
  return s == Status::IsADirectory ? -L::EPERM : errno_of(s);
}

int64_t chmod_path(const char* path, uint64_t mode) {
  if (dev_node(path) || str_eq(path, "/dev")) return 0;  // (fixed modes; root may try)
  if (procfs_path(path)) return -L::EPERM;
  return errno_of(keel::fs::chmod(path, mode & pfs::kModeMask));
}

// A struct timespec of utimensat as a file-system time (keel/proto/fs.h).
int64_t fs_time(const L::Timespec& ts, uint64_t* out) {
  if (ts.tv_nsec == kUtimeOmit) return *out = pfs::kTimeOmit, 0;
  if (ts.tv_nsec == kUtimeNow) return *out = pfs::kTimeNow, 0;
  if (ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return -L::EINVAL;
  int64_t ns = 0;
  if (__builtin_mul_overflow(ts.tv_sec, int64_t(1'000'000'000), &ns) || __builtin_add_overflow(ns, ts.tv_nsec, &ns) ||
      __builtin_sub_overflow(ns, int64_t(g_boot_realtime_ns), &ns))
    return -L::EINVAL;
  *out = uint64_t(ns) >= pfs::kTimeNow ? pfs::kTimeNow - 1 : uint64_t(ns);  // (1-2 ns before boot: close enough)
  return 0;
}

int64_t set_times_path(const char* path, uint64_t atime, uint64_t mtime) {
  if (own_path(path)) return 0;
  return errno_of(keel::fs::set_times(path, atime, mtime));
}

// utimensat(2) (and futimens, its path NULL): times NULL is now for both.
int64_t do_utimensat(Proc& p, int64_t dirfd, uint64_t path_addr, uint64_t times_addr, uint64_t flags) {
  if (flags & ~(L::AT_SYMLINK_NOFOLLOW | L::AT_EMPTY_PATH)) return -L::EINVAL;
  uint64_t at = pfs::kTimeNow, mt = pfs::kTimeNow;
  if (times_addr) {
    L::Timespec ts[2];
    if (!read_user(p, times_addr, ts, sizeof ts)) return -L::EFAULT;
    if (int64_t e = fs_time(ts[0], &at); e < 0) return e;
    if (int64_t e = fs_time(ts[1], &mt); e < 0) return e;
  }
  char path[kPathMax];
  char first = 0;
  if (path_addr == 0 || ((flags & L::AT_EMPTY_PATH) && read_obj(p, path_addr, &first) && first == 0)) {
    if (dirfd == L::AT_FDCWD) return path_addr ? set_times_path(p.cwd, at, mt) : -L::EFAULT;
    File* f = fd_file(p, dirfd);
    if (!f) return -L::EBADF;
    if (f->kind != FileKind::Vfs) return 0;
    if (at == pfs::kTimeOmit && mt == pfs::kTimeOmit) return 0;
    return errno_of(keel::fs::set_times(f->fid, at, mt));
  }
  if (int64_t e = path_arg(p, dirfd, path_addr, path, !(flags & L::AT_SYMLINK_NOFOLLOW)); e < 0) return e;
  if (at == pfs::kTimeOmit && mt == pfs::kTimeOmit) {  // nothing to set; the name must still be there
    L::Stat st;
    return stat_any(p, path, &st, false);
  }
  return set_times_path(path, at, mt);
}

// utimes(2): struct timeval[2] (microseconds), NULL for now.
int64_t do_utimes(Proc& p, int64_t dirfd, uint64_t path_addr, uint64_t tv_addr) {
  uint64_t at = pfs::kTimeNow, mt = pfs::kTimeNow;
  if (tv_addr) {
    int64_t tv[4];
    if (!read_user(p, tv_addr, tv, sizeof tv)) return -L::EFAULT;
    if (tv[1] < 0 || tv[1] >= 1'000'000 || tv[3] < 0 || tv[3] >= 1'000'000) return -L::EINVAL;
    if (int64_t e = fs_time({tv[0], tv[1] * 1000}, &at); e < 0) return e;
    if (int64_t e = fs_time({tv[2], tv[3] * 1000}, &mt); e < 0) return e;
  }
  char path[kPathMax];
  if (int64_t e = path_arg(p, dirfd, path_addr, path); e < 0) return e;
  return set_times_path(path, at, mt);
}

// mknod(2), mknodat(2): FIFOs and regular files; device nodes are EPERM
// (this server's /dev has the only ones).
int64_t do_mknod(Proc& p, int64_t dirfd, uint64_t path_addr, uint64_t mode) {
  char path[kPathMax];
  if (int64_t e = path_arg(p, dirfd, path_addr, path, false); e < 0) return e;
  const uint32_t fmt = uint32_t(mode) & L::S_IFMT;
  const uint64_t perm = mode & 0777 & ~uint64_t(p.umask);
  if (fmt != 0 && fmt != L::S_IFREG && fmt != L::S_IFIFO) {
    constexpr uint32_t kIfBlk = 0060000, kIfSock = 0140000;
    if (fmt == L::S_IFCHR || fmt == kIfBlk || fmt == kIfSock || fmt == L::S_IFDIR) return -L::EPERM;
    return -L::EINVAL;
  }
  if (own_path(path)) return -L::EEXIST;
  if (fmt == L::S_IFIFO) return errno_of(keel::fs::mknod(path, pfs::kTypeFifo, perm));
  keel::fs::Fid fid = 0;
  Status s = keel::fs::open(path, pfs::kFlagWrite | pfs::kFlagCreate | pfs::kFlagExclusive, &fid, perm);
  if (s != Status::Ok) return errno_of(s);
  (void)keel::fs::close(fid);
  return 0;
}

}  // namespace

bool dispatch_files(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  const int64_t fd0 = int64_t(int32_t(r.rdi));
  int64_t v = 0;
  switch (r.rax) {
    case L::kSymlink: v = do_symlink(p, r.rdi, L::AT_FDCWD, r.rsi); break;
    case L::kSymlinkat: v = do_symlink(p, r.rdi, int64_t(int32_t(r.rsi)), r.rdx); break;
    case L::kLink: v = do_link(p, L::AT_FDCWD, r.rdi, L::AT_FDCWD, r.rsi, 0); break;
    case L::kLinkat: v = do_link(p, fd0, r.rsi, int64_t(int32_t(r.rdx)), r.r10, r.r8); break;
    case L::kChmod: case L::kFchmodat: {
      const bool at = r.rax == L::kFchmodat;
      char path[kPathMax];
      v = path_arg(p, at ? fd0 : L::AT_FDCWD, at ? r.rsi : r.rdi, path);
      if (v == 0) v = chmod_path(path, at ? r.rdx : r.rsi);
      break;
    }
    case L::kFchmod: {
      File* f = fd_file(p, fd0);
      v = !f ? -L::EBADF : f->kind == FileKind::Vfs ? errno_of(keel::fs::fchmod(f->fid, r.rsi & pfs::kModeMask)) : 0;
      break;
    }
    case L::kUtimensat: v = do_utimensat(p, fd0, r.rsi, r.rdx, r.r10); break;
    case L::kUtimes: v = do_utimes(p, L::AT_FDCWD, r.rdi, r.rsi); break;
    case L::kMknod: v = do_mknod(p, L::AT_FDCWD, r.rdi, r.rsi); break;
    case L::kMknodat: v = do_mknod(p, fd0, r.rsi, r.rdx); break;
    default: return false;
  }
  *out = value(v);
  return true;
}

}  // namespace linux_srv
