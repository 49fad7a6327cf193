// linux — the Linux personality server: runs unmodified static Linux x86-64
// programs (docs/linux.md). See linux.h for the state and the design.
//
// Arguments (manifest `args`): `--run PATH [ARG...]` runs one program and
// logs how it ended; `--batch FILE` runs the command lines of FILE one after
// another (the Linux-ABI suite inside Keel), then logs "linux: batch done".
#include <keel/alloc.h>
#include <keel/fs.h>
#include <keel/keel.h>
#include <keel/path.h>
#include <keel/proto/fs.h>
#include <keel/proto/names.h>
#include <keel/proto/rtc.h>
#include <keel/rpc.h>
#include <keel/spawn.h>
#include <keel/start.h>
#include <ktl/bytes.h>
#include <loader/elf.h>

#include <cstring>

#include "abi.h"
#include "linux.h"
#include "stack.h"

namespace sys = keel::sys;
namespace L = linux_abi;
namespace pfs = keel::proto::fs;
using keel::kInvalidHandle;
using keel::UserRegs;
using namespace linux_srv;

namespace {

constexpr uint64_t kPage = keel::kPageSize;
constexpr uint64_t kStackTop = 0x7fff'ffff'e000;
constexpr uint64_t kStackSize = 8ull << 20;        // RLIMIT_STACK's usual 8 MiB, committed on touch
constexpr uint64_t kPieBase = 0x5555'5555'4000;    // where a PIE goes (Linux's ELF_ET_DYN_BASE on x86-64)
constexpr uint64_t kMmapBase = 0x7f00'0000'0000;   // mmap without a hint grows down from here
constexpr uint64_t kMaxImage = 32ull << 20;        // biggest program file loaded
constexpr uint64_t kBrkMax = 1ull << 30;           // most a heap may grow

Handle g_ep = kInvalidHandle;  // the server endpoint (read); threads get badged copies
// A foreign thread's handler badge: this bit | its tid. Only this server
// mints badges with it (names mints small service ids for native clients),
// so a message carrying it was made by the kernel for one of our threads.
constexpr uint64_t kThreadBadge = 1ull << 62;
Proc g_procs[kMaxProcs];
Thread g_threads[kMaxThreads];
int g_next_pid = 1;
bool g_trace = false;
uint64_t g_boot_realtime_ns = 0;  // wall-clock time at boot (0: unknown, the epoch)

// (freestanding: only the mem* functions and strlen come from the compiler's support)
void copy_cstr(char* dst, const char* src, size_t n) {
  size_t i = 0;
  for (; i < n && src[i]; ++i) dst[i] = src[i];
  for (; i < n; ++i) dst[i] = 0;
}
bool str_eq(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
const char* last_slash(const char* s, int = '/') {
  const char* r = nullptr;
  for (; *s; ++s)
    if (*s == '/') r = s;
  return r;
}

uint64_t page_down(uint64_t v) { return v & ~(kPage - 1); }
uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

int64_t errno_of(Status s) {
  switch (s) {
    case Status::Ok: return 0;
    case Status::NotFound: return -L::ENOENT;
    case Status::AlreadyExists: return -L::EEXIST;
    case Status::NotADirectory: return -L::ENOTDIR;
    case Status::IsADirectory: return -L::EISDIR;
    case Status::NoSpace: return -L::ENOSPC;
    case Status::NameTooLong: return -L::ENAMETOOLONG;
    case Status::AccessDenied: return -L::EACCES;
    case Status::NotEmpty: return -L::ENOTEMPTY;
    case Status::CrossDevice: return -L::EXDEV;
    case Status::Busy: return -L::EBUSY;
    case Status::BadHandle: return -L::EBADF;
    case Status::InvalidArgument: return -L::EINVAL;
    case Status::NoMemory: case Status::QuotaExceeded: return -L::ENOMEM;
    case Status::Fault: return -L::EFAULT;
    case Status::Unsupported: return -L::ENOSYS;
    case Status::OutOfRange: return -L::EINVAL;
    default: return -L::EIO;
  }
}

// ---------------------------------------------------------------- the Linux process's memory

bool read_user(Proc& p, uint64_t addr, void* buf, size_t len) {
  if (len == 0) return true;
  return sys::process_read(p.process, addr, buf, len) == 0;
}
bool write_user(Proc& p, uint64_t addr, const void* buf, size_t len) {
  if (len == 0) return true;
  return sys::process_write(p.process, addr, buf, len) == 0;
}
template <typename T>
bool read_obj(Proc& p, uint64_t addr, T* v) { return read_user(p, addr, v, sizeof(T)); }
template <typename T>
bool write_obj(Proc& p, uint64_t addr, const T& v) { return write_user(p, addr, &v, sizeof(T)); }

// Reads a NUL-terminated string of at most cap-1 bytes. Returns its length,
// -EFAULT, or -ENAMETOOLONG.
int64_t read_string(Proc& p, uint64_t addr, char* out, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    const uint64_t a = addr + n;
    size_t chunk = size_t(page_up(a + 1) - a);
    if (chunk > cap - 1 - n) chunk = cap - 1 - n;
    if (!read_user(p, a, out + n, chunk)) return -L::EFAULT;
    for (size_t i = 0; i < chunk; ++i)
      if (out[n + i] == 0) return int64_t(n + i);
    n += chunk;
  }
  out[cap - 1] = 0;
  return -L::ENAMETOOLONG;
}

// ---------------------------------------------------------------- tables

Thread* thread_by_tid(uint64_t tid) {
  for (Thread& t : g_threads)
    if (t.used && uint64_t(t.tid) == tid) return &t;
  return nullptr;
}
Proc* proc_by_pid(int pid) {
  for (Proc& p : g_procs)
    if (p.used && p.pid == pid) return &p;
  return nullptr;
}
Proc* new_proc() {
  for (Proc& p : g_procs)
    if (!p.used) {
      p = Proc{};
      p.used = true;
      p.pid = g_next_pid++;
      p.start_ns = keel::now_ns();
      return &p;
    }
  return nullptr;
}
Thread* new_thread(Proc* p, int tid) {
  for (Thread& t : g_threads)
    if (!t.used) {
      t = Thread{};
      t.used = true;
      t.tid = tid;
      t.proc = p;
      return &t;
    }
  return nullptr;
}

void console_write(Proc& p, const uint8_t* data, size_t len) {
  // Line-buffered into the kernel log, so that lines of different programs
  // do not interleave mid-line.
  for (size_t i = 0; i < len; ++i) {
    const char c = char(data[i]);
    if (c == '\n' || p.line_len + 1 >= sizeof p.line) {
      if (c != '\n') p.line[p.line_len++] = c;
      p.line[p.line_len++] = '\n';
      keel::write({p.line, p.line_len});
      p.line_len = 0;
    } else {
      p.line[p.line_len++] = c;
    }
  }
}
void console_flush(Proc& p) {
  if (p.line_len == 0) return;
  p.line[p.line_len++] = '\n';
  keel::write({p.line, p.line_len});
  p.line_len = 0;
}

// ---------------------------------------------------------------- files

File* new_file(FileKind kind) {
  File* f = new File();
  if (!f) return nullptr;
  f->refs = 1;
  f->kind = kind;
  return f;
}
void file_ref(File* f) { ++f->refs; }
void retry_blocked(Block kind);
void file_unref(File* f) {
  if (--f->refs > 0) return;
  if (f->kind == FileKind::Vfs) (void)keel::fs::close(f->fid);
  if (f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite) {
    Pipe* pp = f->pipe;
    if (f->kind == FileKind::PipeRead) --pp->readers; else --pp->writers;
    if (pp->readers == 0 && pp->writers == 0) {
      delete[] pp->buf;
      delete pp;
    } else {
      retry_blocked(Block::PipeRead);  // readers see the end, writers EPIPE
    }
  }
  delete f;
}

int alloc_fd(Proc& p, int lowest = 0) {
  for (int i = lowest; i < int(kMaxFds); ++i)
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

// Reads a path argument and resolves it.
int64_t path_arg(Proc& p, int64_t dirfd, uint64_t addr, char (&out)[kPathMax]) {
  char raw[kPathMax + 64];
  int64_t n = read_string(p, addr, raw, sizeof raw);
  if (n < 0) return n;
  return resolve(p, dirfd, raw, out);
}

struct DevNode {
  const char* path;
  FileKind kind;
};
constexpr DevNode kDevNodes[] = {{"/dev/null", FileKind::Null},     {"/dev/zero", FileKind::Zero},
                                 {"/dev/full", FileKind::Full},     {"/dev/urandom", FileKind::Random},
                                 {"/dev/random", FileKind::Random}, {"/dev/tty", FileKind::Console},
                                 {"/dev/console", FileKind::Console}};

const DevNode* dev_node(const char* path) {
  for (const DevNode& d : kDevNodes)
    if (str_eq(d.path, path)) return &d;
  return nullptr;
}

void fill_stat(L::Stat* st, uint32_t mode, uint64_t size, uint64_t ino, uint64_t rdev = 0) {
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
  const uint32_t fmt = type == pfs::kTypeDirectory ? L::S_IFDIR : type == pfs::kTypeSymlink ? L::S_IFLNK : L::S_IFREG;
  return fmt | uint32_t(perm & 07777);
}

int64_t stat_path(const char* path, L::Stat* st) {
  if (const DevNode* d = dev_node(path)) {
    fill_stat(st, L::S_IFCHR | 0666, 0, path_ino(path), 0x100 + uint64_t(d->kind));
    return 0;
  }
  if (str_eq(path, "/dev")) {
    fill_stat(st, L::S_IFDIR | 0755, sizeof kDevNodes / sizeof kDevNodes[0], path_ino(path));
    return 0;
  }
  keel::fs::Info info;
  if (Status s = keel::fs::stat(path, &info); s != Status::Ok) return errno_of(s);
  fill_stat(st, mode_of_type(info.type, info.mode), info.size, path_ino(path));
  return 0;
}

int64_t stat_file(File* f, L::Stat* st) {
  switch (f->kind) {
    case FileKind::Vfs: {
      keel::fs::Info info;
      if (Status s = keel::fs::fstat(f->fid, &info); s != Status::Ok) return errno_of(s);
      fill_stat(st, mode_of_type(info.type, info.mode), info.size, path_ino(f->path));
      return 0;
    }
    case FileKind::PipeRead:
    case FileKind::PipeWrite:
      fill_stat(st, L::S_IFIFO | 0600, 0, uint64_t(reinterpret_cast<uintptr_t>(f->pipe)));
      return 0;
    case FileKind::DevDir: fill_stat(st, L::S_IFDIR | 0755, 0, path_ino("/dev")); return 0;
    default: fill_stat(st, L::S_IFCHR | 0666, 0, path_ino(f->path), 0x100 + uint64_t(f->kind)); return 0;
  }
}

// open(2) on an absolute normalised path.
int64_t open_path(const char* path, uint64_t flags, uint64_t mode, File** out) {
  if (const DevNode* d = dev_node(path)) {
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
  if (s != Status::Ok) return errno_of(s);
  File* f = new_file(FileKind::Vfs);
  if (!f) {
    (void)keel::fs::close(fid);
    return -L::ENOMEM;
  }
  f->fid = fid;
  f->type = info.type;
  f->flags = flags & (L::O_ACCMODE | L::O_APPEND | L::O_NONBLOCK);
  copy_cstr(f->path, path, sizeof f->path - 1);
  *out = f;
  return 0;
}

// ---------------------------------------------------------------- memory maps

uint32_t keel_prot(uint64_t prot) {
  uint32_t k = 0;
  if (prot & (L::PROT_READ | L::PROT_WRITE | L::PROT_EXEC)) k |= keel::kVmRead;
  if (prot & L::PROT_WRITE) k |= keel::kVmWrite;
  if ((prot & L::PROT_EXEC) && !(prot & L::PROT_WRITE)) k |= keel::kVmExecute;  // W^X: write wins
  return k;
}

Vmo* new_vmo(Handle h) {
  Vmo* v = new Vmo();
  if (!v) return nullptr;
  v->handle = h;
  v->refs = 1;
  return v;
}
void vmo_unref(Vmo* v) {
  if (--v->refs > 0) return;
  sys::handle_close(v->handle);
  delete v;
}

Mapping* add_mapping(Proc& p, uint64_t start, uint64_t len, uint32_t prot, bool shared, Vmo* vmo, uint64_t off) {
  for (Mapping& m : p.maps)
    if (!m.used) {
      m = Mapping{true, start, len, prot, shared, vmo, off};
      return &m;
    }
  return nullptr;
}

// Forgets [start, start+len) in the table (the caller unmaps it in the
// kernel): mappings are cut, keeping the parts outside. Returns false if the
// table has no room for a split.
bool forget_range(Proc& p, uint64_t start, uint64_t len) {
  const uint64_t end = start + len;
  for (Mapping& m : p.maps) {
    if (!m.used || m.start >= end || m.start + m.len <= start) continue;
    const uint64_t mend = m.start + m.len;
    if (m.start < start && mend > end) {  // a hole in the middle: keep both sides
      ++m.vmo->refs;
      if (!add_mapping(p, end, mend - end, m.prot, m.shared, m.vmo, m.offset + (end - m.start))) {
        --m.vmo->refs;
        return false;
      }
      m.len = start - m.start;
    } else if (m.start < start) {
      m.len = start - m.start;
    } else if (mend > end) {
      m.offset += end - m.start;
      m.len = mend - end;
      m.start = end;
    } else {
      vmo_unref(m.vmo);
      m = Mapping{};
    }
  }
  return true;
}

// Sets the recorded protection of [start, start+len), splitting as needed.
bool protect_range(Proc& p, uint64_t start, uint64_t len, uint32_t prot) {
  const uint64_t end = start + len;
  for (Mapping& m : p.maps) {
    if (!m.used || m.start >= end || m.start + m.len <= start || m.prot == prot) continue;
    const uint64_t mend = m.start + m.len;
    const uint64_t a = m.start > start ? m.start : start, b = mend < end ? mend : end;
    if (b < mend) {  // the tail keeps the old protection
      ++m.vmo->refs;
      if (!add_mapping(p, b, mend - b, m.prot, m.shared, m.vmo, m.offset + (b - m.start))) return false;
      m.len = b - m.start;
    }
    if (a > m.start) {  // the head keeps it too
      ++m.vmo->refs;
      if (!add_mapping(p, m.start, a - m.start, m.prot, m.shared, m.vmo, m.offset)) return false;
      m.offset += a - m.start;
      m.len -= a - m.start;
      m.start = a;
    }
    m.prot = prot;
  }
  return true;
}

bool range_mapped(Proc& p, uint64_t start, uint64_t len) {
  uint64_t pos = start;
  const uint64_t end = start + len;
  while (pos < end) {
    bool found = false;
    for (Mapping& m : p.maps)
      if (m.used && m.start <= pos && pos < m.start + m.len) {
        pos = m.start + m.len;
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

bool range_free(Proc& p, uint64_t start, uint64_t len) {
  for (Mapping& m : p.maps)
    if (m.used && m.start < start + len && start < m.start + m.len) return false;
  return true;
}

// Maps `len` bytes of a new zeroed object at `addr` (fixed) or at a free
// address below the mmap base. Returns the address or -errno.
int64_t map_new(Proc& p, uint64_t addr, uint64_t len, uint64_t prot, bool fixed, bool shared, Vmo** out_vmo = nullptr) {
  Handle h = kInvalidHandle;
  if (sys::vmo_create(len, 0, &h) != 0) return -L::ENOMEM;
  Vmo* v = new_vmo(h);
  if (!v) {
    sys::handle_close(h);
    return -L::ENOMEM;
  }
  if (!fixed) {
    if (p.mmap_hint == 0) p.mmap_hint = kMmapBase;
    uint64_t cand = p.mmap_hint - len;
    for (int tries = 0; tries < 4096 && !range_free(p, cand, len); ++tries) cand -= kPage * 16;
    addr = cand;
    p.mmap_hint = cand;
  }
  uint64_t at = addr;
  int64_t r = sys::vm_map(p.process, h, 0, len, keel_prot(prot) | keel::kVmFixed, &at);
  if (r != 0) {
    vmo_unref(v);
    return r == keel::err(Status::QuotaExceeded) || r == keel::err(Status::NoMemory) ? -L::ENOMEM : -L::EINVAL;
  }
  if (!add_mapping(p, addr, len, uint32_t(prot), shared, v, 0)) {
    (void)sys::vm_unmap(p.process, addr, len);
    vmo_unref(v);
    return -L::ENOMEM;
  }
  if (out_vmo) *out_vmo = v;
  return int64_t(addr);
}

void unmap_all(Proc& p) {
  for (Mapping& m : p.maps)
    if (m.used) {
      vmo_unref(m.vmo);
      m = Mapping{};
    }
}

// ---------------------------------------------------------------- loading programs

// Reads the whole file at `path` into a new buffer. -errno on failure.
int64_t read_file(const char* path, uint8_t** out, size_t* size) {
  keel::fs::Fid fid = 0;
  keel::fs::Info info;
  Status s = keel::fs::open(path, pfs::kFlagRead, &fid, 0, &info);
  if (s != Status::Ok) return errno_of(s);
  if (info.type != pfs::kTypeFile) {
    (void)keel::fs::close(fid);
    return -L::EACCES;
  }
  if (info.size > kMaxImage) {
    (void)keel::fs::close(fid);
    return -L::ENOMEM;
  }
  uint8_t* buf = new uint8_t[info.size ? info.size : 1];
  if (!buf) {
    (void)keel::fs::close(fid);
    return -L::ENOMEM;
  }
  size_t got = 0;
  s = keel::fs::read(fid, {buf, size_t(info.size)}, &got);
  (void)keel::fs::close(fid);
  if (s != Status::Ok) {
    delete[] buf;
    return errno_of(s);
  }
  *out = buf;
  *size = got;
  return 0;
}

struct Exec {
  uint64_t entry = 0, rsp = 0;
};

// Loads the ELF `image` into the new, empty Linux process `p` (its Keel
// process exists) and builds its stack. Returns 0 or -errno.
int64_t load_image(Proc& p, const uint8_t* image, size_t size, std::span<const std::string_view> argv,
                   std::span<const std::string_view> envp, const char* execfn, Exec* out) {
  loader::ElfLimits limits;
  limits.user_top = 0x7f00'0000'0000;
  loader::ElfDiag diag{};
  auto parsed = loader::parse_elf(ktl::Bytes(image, size), limits, &diag);
  if (!parsed.ok()) {
    keel::print("linux: {}: not a loadable program: {}\n", execfn, diag.reason ? diag.reason : "?");
    return -L::ENOEXEC;
  }
  const loader::ElfImage& elf = *parsed;
  if (elf.has_interp) {
    keel::print("linux: {}: dynamically linked programs are not supported yet\n", execfn);
    return -L::ENOEXEC;
  }
  const uint64_t bias = elf.pie ? kPieBase : 0;
  for (size_t i = 0; i < elf.segment_count; ++i) {
    const loader::ElfSegment& seg = elf.segments[i];
    const uint64_t start = page_down(seg.vaddr + bias);
    const uint64_t end = page_up(seg.vaddr + bias + seg.memsz);
    uint64_t prot = L::PROT_READ;
    if (seg.prot & loader::kSegWrite) prot |= L::PROT_WRITE;
    if (seg.prot & loader::kSegExec) prot |= L::PROT_EXEC;
    Vmo* v = nullptr;
    int64_t r = map_new(p, start, end - start, prot, true, false, &v);
    if (r < 0) return r;
    if (seg.filesz && sys::vmo_write(v->handle, seg.vaddr + bias - start, image + seg.offset, seg.filesz) != 0)
      return -L::ENOMEM;
  }
  p.brk_base = p.brk_cur = p.brk_mapped = page_up(elf.max_vaddr + bias);
  // The stack, and what goes on it.
  if (int64_t r = map_new(p, kStackTop - kStackSize, kStackSize, L::PROT_READ | L::PROT_WRITE, true, false); r < 0)
    return r;
  uint8_t random[16];
  uint64_t seed = keel::now_ns() * 0x9e3779b97f4a7c15ull ^ uint64_t(p.pid) << 32;
  for (uint8_t& b : random) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    b = uint8_t(seed);
  }
  const linux_stack::AuxEntry aux[] = {
      {L::AT_PHDR, elf.phdr_vaddr ? elf.phdr_vaddr + bias : 0},
      {L::AT_PHENT, elf.phentsize},
      {L::AT_PHNUM, elf.phnum},
      {L::AT_PAGESZ, kPage},
      {L::AT_BASE, 0},
      {L::AT_FLAGS, 0},
      {L::AT_ENTRY, elf.entry + bias},
      {L::AT_UID, 0},
      {L::AT_EUID, 0},
      {L::AT_GID, 0},
      {L::AT_EGID, 0},
      {L::AT_HWCAP, 0x178bfbff},  // CPUID.1:EDX of a typical x86-64 (fpu..sse2): what Linux passes
      {L::AT_CLKTCK, 100},
      {L::AT_SECURE, 0},
      {L::AT_HWCAP2, 0},
  };
  constexpr size_t kImage = 128 * 1024;
  uint8_t* img = new uint8_t[kImage];
  if (!img) return -L::ENOMEM;
  memset(img, 0, kImage);
  uint64_t rsp = 0;
  auto res = linux_stack::build(kStackTop, argv, envp, aux, random, execfn, {img, kImage}, &rsp);
  if (res != linux_stack::Result::Ok) {
    delete[] img;
    return -L::E2BIG;
  }
  bool ok = write_user(p, rsp, img + (rsp - (kStackTop - kImage)), kStackTop - rsp);
  delete[] img;
  if (!ok) return -L::EFAULT;
  out->entry = elf.entry + bias;
  out->rsp = rsp;
  return 0;
}

// Makes a Keel thread in p's process that runs as Linux thread `tid` with `regs`.
int64_t start_linux_thread(Proc& p, Thread& t, const UserRegs& regs) {
  Handle th = kInvalidHandle, badged = kInvalidHandle;
  const char* name = p.comm[0] ? p.comm : "linux";
  if (sys::thread_create(p.process, name, strlen(name), &th) != 0) return -L::EAGAIN;
  if (sys::handle_mint(g_ep, keel::kRightWrite, kThreadBadge | uint64_t(t.tid), &badged) != 0 ||
      sys::thread_set_syscall_handler(th, badged) != 0 || sys::thread_write_state(th, &regs) != 0) {
    if (badged != kInvalidHandle) sys::handle_close(badged);
    sys::handle_close(th);
    return -L::EAGAIN;
  }
  sys::handle_close(badged);  // the kernel keeps its own reference
  if (sys::thread_start(th, 0, 0, 0) != 0) {
    sys::handle_close(th);
    return -L::EAGAIN;
  }
  t.thread = th;
  return 0;
}

void set_comm(Proc& p, const char* path) {
  const char* base = last_slash(path, '/');
  base = base ? base + 1 : path;
  memset(p.comm, 0, sizeof p.comm);
  copy_cstr(p.comm, base, sizeof p.comm - 1);
  copy_cstr(p.exe, path, sizeof p.exe - 1);
}

// Splits a "#!" line: interpreter and optional argument (views into `line`).
bool parse_shebang(const uint8_t* image, size_t size, char (&line)[kPathMax], std::string_view* interp,
                   std::string_view* arg) {
  if (size < 3 || image[0] != '#' || image[1] != '!') return false;
  size_t n = 0;
  for (size_t i = 2; i < size && image[i] != '\n' && n + 1 < sizeof line; ++i) line[n++] = char(image[i]);
  line[n] = 0;
  size_t a = 0;
  while (a < n && (line[a] == ' ' || line[a] == '\t')) ++a;
  size_t b = a;
  while (b < n && line[b] != ' ' && line[b] != '\t') ++b;
  *interp = {line + a, b - a};
  size_t c = b;
  while (c < n && (line[c] == ' ' || line[c] == '\t')) ++c;
  size_t e = n;
  while (e > c && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r')) --e;
  *arg = {line + c, e - c};
  return !interp->empty();
}

// execve into a fresh Keel process for `p` (the old one, if any, is the
// caller's to kill). On success p.process is the new process and `*regs`
// the first thread's registers.
int64_t exec_into(Proc& p, const char* path, std::span<const std::string_view> argv_in,
                  std::span<const std::string_view> envp, UserRegs* regs) {
  uint8_t* image = nullptr;
  size_t size = 0;
  if (int64_t r = read_file(path, &image, &size); r < 0) return r;
  // "#!interpreter [arg]": run the interpreter with the script's path.
  char line[kPathMax];
  std::string_view interp, iarg;
  char interp_path[kPathMax];
  std::string_view argv_buf[linux_stack::kMaxStrings];
  std::span<const std::string_view> argv = argv_in;
  if (parse_shebang(image, size, line, &interp, &iarg)) {
    delete[] image;
    if (interp.size() >= kPathMax) return -L::ENAMETOOLONG;
    memcpy(interp_path, interp.data(), interp.size());
    interp_path[interp.size()] = 0;
    size_t n = 0;
    argv_buf[n++] = interp;
    if (!iarg.empty()) argv_buf[n++] = iarg;
    argv_buf[n++] = path;
    for (size_t i = 1; i < argv_in.size() && n < linux_stack::kMaxStrings; ++i) argv_buf[n++] = argv_in[i];
    argv = {argv_buf, n};
    path = interp_path;
    if (int64_t r = read_file(path, &image, &size); r < 0) return r;
    if (size >= 2 && image[0] == '#' && image[1] == '!') {
      delete[] image;
      return -L::ELOOP;
    }
  }
  Handle process = kInvalidHandle;
  const char* base = last_slash(path, '/');
  base = base ? base + 1 : path;
  size_t blen = strlen(base);
  if (blen > 31) blen = 31;
  if (sys::process_create(base, blen, &process) != 0) {
    delete[] image;
    return -L::ENOMEM;
  }
  // Keep the old state until the new image is in place.
  Handle old_process = p.process;
  Mapping old_maps[kMaxMaps];
  memcpy(static_cast<void*>(old_maps), p.maps, sizeof old_maps);
  for (Mapping& m : p.maps) m = Mapping{};
  const uint64_t old_brk[3] = {p.brk_base, p.brk_cur, p.brk_mapped}, old_hint = p.mmap_hint;
  p.process = process;
  p.mmap_hint = 0;
  Exec e;
  int64_t r = load_image(p, image, size, argv, envp, path, &e);
  delete[] image;
  if (r < 0) {
    unmap_all(p);
    memcpy(static_cast<void*>(p.maps), old_maps, sizeof old_maps);
    p.process = old_process;
    p.brk_base = old_brk[0], p.brk_cur = old_brk[1], p.brk_mapped = old_brk[2];
    p.mmap_hint = old_hint;
    sys::process_kill(process);
    sys::handle_close(process);
    return r;
  }
  // The old address space's objects are no longer ours to keep.
  for (Mapping& m : old_maps)
    if (m.used) vmo_unref(m.vmo);
  set_comm(p, path);
  *regs = UserRegs{};
  regs->rip = e.entry;
  regs->rsp = e.rsp;
  regs->rflags = 0x202;
  // Close-on-exec files; signal handlers go back to their defaults.
  for (int fd = 0; fd < int(kMaxFds); ++fd)
    if (p.fds[fd].file && p.fds[fd].cloexec) close_fd(p, fd);
  for (auto& a : p.sigaction)
    if (a[0] > 1) memset(a, 0, sizeof a);
  return 0;
}

// ---------------------------------------------------------------- process life

void complete(Thread& t, int64_t rax);
void retry_blocked(Block kind);

// Ends Linux process `p` with wait status `status`: its Keel process is
// killed, its files closed, its children handed to no one, its parent told.
void end_process(Proc& p, uint32_t status) {
  if (p.zombie) return;
  console_flush(p);
  for (Thread& t : g_threads)
    if (t.used && t.proc == &p) {
      if (t.thread != kInvalidHandle) sys::handle_close(t.thread);
      t = Thread{};
    }
  if (p.process != kInvalidHandle) {
    sys::process_kill(p.process);
    int64_t code = 0;
    (void)sys::process_wait(p.process, keel::now_ns() + 1'000'000'000, &code);
    sys::handle_close(p.process);
    p.process = kInvalidHandle;
  }
  for (int fd = 0; fd < int(kMaxFds); ++fd) close_fd(p, fd);
  unmap_all(p);
  p.zombie = true;
  p.wait_status = status;
  for (Proc& c : g_procs)  // orphans: nobody will wait for them
    if (c.used && c.ppid == p.pid) {
      c.ppid = 0;
      if (c.zombie) c = Proc{};
    }
  if ((status & 0x7f) == 0)
    keel::print("linux: pid {} ({}) exited with status {}\n", p.pid, p.comm, (status >> 8) & 0xff);
  else
    keel::print("linux: pid {} ({}) killed by signal {}\n", p.pid, p.comm, status & 0x7f);
  if (p.ppid == 0) {
    p = Proc{};  // no parent: reaped at once
  }
  retry_blocked(Block::Wait4);
}

// A Keel process that died without asking (a fault): which signal Linux
// would have sent. Keel's exit code for a fault is kExitFaultBase - vector.
int signal_of_exit(int64_t code) {
  const int64_t vector = keel::kExitFaultBase - code;
  switch (vector) {
    case 0: return L::SIGFPE;       // #DE
    case 6: return L::SIGILL;       // #UD
    case 13: case 14: return L::SIGSEGV;
    case 16: case 19: return L::SIGFPE;  // x87, SIMD
    case 17: return L::SIGBUS;      // #AC
    case 3: return L::SIGTRAP;
    default: return L::SIGKILL;
  }
}

void reap_dead_keel_processes() {
  for (Proc& p : g_procs) {
    if (!p.used || p.zombie || p.process == kInvalidHandle) continue;
    int64_t code = 0;
    if (sys::process_wait(p.process, keel::kDeadlinePoll, &code) == 0) {
      keel::print("linux: pid {} ({}) faulted (Keel exit code {})\n", p.pid, p.comm, code);
      end_process(p, L::wait_signaled(signal_of_exit(code)));
    }
  }
}

// ---------------------------------------------------------------- syscalls

// What a syscall handler decided.
enum class Out { Value, Regs, Block, Gone };
struct Result {
  Out kind;
  int64_t value;
};
Result value(int64_t v) { return {Out::Value, v}; }
constexpr Result kBlock{Out::Block, 0};
constexpr Result kGone{Out::Gone, 0};

int64_t sys_read_file(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at = -1);

int64_t do_write(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at = -1) {
  if ((f->flags & L::O_ACCMODE) == L::O_RDONLY && f->kind != FileKind::Console && f->kind != FileKind::PipeWrite)
    return -L::EBADF;
  uint8_t chunk[4096];
  switch (f->kind) {
    case FileKind::Console: {
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
    case FileKind::DevDir: return -L::EISDIR;
    case FileKind::PipeRead: return -L::EBADF;
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
      uint64_t saved = 0;
      if (at >= 0) {
        if (keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved) != Status::Ok ||
            keel::fs::seek(f->fid, pfs::kSeekSet, at) != Status::Ok)
          return -L::EINVAL;
      }
      uint64_t done = 0;
      while (done < len) {
        size_t n = len - done > sizeof chunk ? sizeof chunk : size_t(len - done);
        if (!read_user(p, buf + done, chunk, n)) return done ? int64_t(done) : -L::EFAULT;
        size_t w = 0;
        Status s = keel::fs::write(f->fid, {chunk, n}, &w);
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
  if ((f->flags & L::O_ACCMODE) == L::O_WRONLY && f->kind == FileKind::Vfs) return -L::EBADF;
  uint8_t chunk[4096];
  switch (f->kind) {
    case FileKind::Console: case FileKind::Null: return 0;  // no terminal input yet: end of file
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
      uint64_t saved = 0;
      if (at >= 0 && (keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved) != Status::Ok ||
                      keel::fs::seek(f->fid, pfs::kSeekSet, at) != Status::Ok))
        return -L::EINVAL;
      uint64_t done = 0;
      while (done < len) {
        size_t n = len - done > sizeof chunk ? sizeof chunk : size_t(len - done);
        size_t got = 0;
        Status s = keel::fs::read(f->fid, {chunk, n}, &got);
        if (s != Status::Ok) return done ? int64_t(done) : errno_of(s);
        if (got && !write_user(p, buf + done, chunk, got)) return done ? int64_t(done) : -L::EFAULT;
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
  (void)t;
  if (r == -L::EPIPE && p.sigaction[L::SIGPIPE][0] == 0) {
    end_process(p, L::wait_signaled(L::SIGPIPE));
    return kGone;
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

Result sys_brk(Proc& p, uint64_t want) {
  if (want == 0 || want < p.brk_base || want > p.brk_base + kBrkMax) return value(int64_t(p.brk_cur));
  const uint64_t need = page_up(want);
  if (need > p.brk_mapped) {
    if (!range_free(p, p.brk_mapped, need - p.brk_mapped)) return value(int64_t(p.brk_cur));
    if (map_new(p, p.brk_mapped, need - p.brk_mapped, L::PROT_READ | L::PROT_WRITE, true, false) < 0)
      return value(int64_t(p.brk_cur));
    p.brk_mapped = need;
  } else if (need < p.brk_mapped) {
    (void)sys::vm_unmap(p.process, need, p.brk_mapped - need);
    forget_range(p, need, p.brk_mapped - need);
    p.brk_mapped = need;
  }
  p.brk_cur = want;
  return value(int64_t(want));
}

Result sys_mmap(Proc& p, const UserRegs& r) {
  const uint64_t addr = r.rdi, len = r.rsi, prot = r.rdx, flags = r.r10;
  const int64_t fd = int64_t(r.r8);
  const uint64_t off = r.r9;
  if (len == 0 || (addr & (kPage - 1)) || (off & (kPage - 1))) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size < len || size > (1ull << 40)) return value(-L::ENOMEM);
  const uint64_t type = flags & L::MAP_TYPE;
  if (type != L::MAP_PRIVATE && type != L::MAP_SHARED && type != 3) return value(-L::EINVAL);
  if (prot & ~uint64_t(7)) return value(-L::EINVAL);
  const bool fixed = flags & (L::MAP_FIXED | L::MAP_FIXED_NOREPLACE);
  if (fixed && (addr + size > 0x7fff'ffff'f000 || addr < kPage)) return value(-L::EINVAL);
  File* f = nullptr;
  if (!(flags & L::MAP_ANONYMOUS)) {
    f = fd_file(p, fd);
    if (!f) return value(-L::EBADF);
    if (f->kind == FileKind::Zero || f->kind == FileKind::Null) f = nullptr;  // like anonymous memory
    else if (f->kind != FileKind::Vfs || f->type != pfs::kTypeFile) return value(-L::ENODEV);
    else if ((f->flags & L::O_ACCMODE) == L::O_WRONLY) return value(-L::EACCES);
    else if (type == L::MAP_SHARED && (prot & L::PROT_WRITE)) return value(-L::ENOTSUP);  // no write-back yet
  }
  if (fixed) {
    if ((flags & L::MAP_FIXED_NOREPLACE) && !range_free(p, addr, size)) return value(-L::EEXIST);
    (void)sys::vm_unmap(p.process, addr, size);
    forget_range(p, addr, size);
  }
  Vmo* v = nullptr;
  int64_t at = map_new(p, addr, size, prot, fixed, type == L::MAP_SHARED, &v);
  if (at < 0) return value(at);
  if (f) {  // a private copy of the file's bytes
    uint8_t chunk[4096];
    uint64_t done = 0;
    uint64_t saved = 0;
    (void)keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved);
    (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(off));
    while (done < size) {
      size_t got = 0;
      if (keel::fs::read(f->fid, {chunk, sizeof chunk}, &got) != Status::Ok || got == 0) break;
      if (sys::vmo_write(v->handle, done, chunk, got) != 0) break;
      done += got;
    }
    (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(saved));
  }
  return value(at);
}

Result sys_munmap(Proc& p, uint64_t addr, uint64_t len) {
  if ((addr & (kPage - 1)) || len == 0) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (addr + size > 0x8000'0000'0000 || addr + size < addr) return value(-L::EINVAL);
  (void)sys::vm_unmap(p.process, addr, size);
  if (!forget_range(p, addr, size)) return value(-L::ENOMEM);
  return value(0);
}

Result sys_mprotect(Proc& p, uint64_t addr, uint64_t len, uint64_t prot) {
  if ((addr & (kPage - 1)) || (prot & ~uint64_t(7))) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size == 0) return value(0);
  if (!range_mapped(p, addr, size)) return value(-L::ENOMEM);
  if (sys::vm_protect(p.process, addr, size, keel_prot(prot)) != 0) return value(-L::EACCES);
  if (!protect_range(p, addr, size, uint32_t(prot))) return value(-L::ENOMEM);
  return value(0);
}

// fork(2): a copy of `parent` with one thread continuing from `regs` with rax = 0.
Result sys_fork(Proc& parent, Thread& t, const UserRegs& regs) {
  Proc* c = new_proc();
  if (!c) return value(-L::EAGAIN);
  Thread* ct = new_thread(c, c->pid);
  if (!ct) {
    *c = Proc{};
    return value(-L::EAGAIN);
  }
  auto fail = [&](int64_t e) {
    unmap_all(*c);
    for (int fd = 0; fd < int(kMaxFds); ++fd) close_fd(*c, fd);
    if (c->process != kInvalidHandle) {
      sys::process_kill(c->process);
      sys::handle_close(c->process);
    }
    *ct = Thread{};
    *c = Proc{};
    return value(e);
  };
  c->ppid = parent.pid;
  c->pgid = parent.pgid;
  c->sid = parent.sid;
  memcpy(c->cwd, parent.cwd, sizeof c->cwd);
  memcpy(c->exe, parent.exe, sizeof c->exe);
  memcpy(c->comm, parent.comm, sizeof c->comm);
  c->umask = parent.umask;
  c->sigmask = parent.sigmask;
  memcpy(c->sigaction, parent.sigaction, sizeof c->sigaction);
  c->brk_base = parent.brk_base, c->brk_cur = parent.brk_cur, c->brk_mapped = parent.brk_mapped;
  c->mmap_hint = parent.mmap_hint;
  const size_t clen = strlen(c->comm);
  if (sys::process_create(c->comm, clen ? clen : 1, &c->process) != 0) return fail(-L::ENOMEM);
  for (Mapping& m : parent.maps) {
    if (!m.used) continue;
    Vmo* v = nullptr;
    if (m.shared) {
      v = m.vmo;
      ++v->refs;
    } else {
      Handle h = kInvalidHandle;
      if (sys::vmo_clone(m.vmo->handle, m.offset, m.len, &h) != 0) return fail(-L::ENOMEM);
      v = new_vmo(h);
      if (!v) {
        sys::handle_close(h);
        return fail(-L::ENOMEM);
      }
    }
    const uint64_t off = m.shared ? m.offset : 0;
    uint64_t at = m.start;
    if (sys::vm_map(c->process, v->handle, off, m.len, keel_prot(m.prot) | keel::kVmFixed, &at) != 0 ||
        !add_mapping(*c, m.start, m.len, m.prot, m.shared, v, off)) {
      vmo_unref(v);
      return fail(-L::ENOMEM);
    }
  }
  for (size_t fd = 0; fd < kMaxFds; ++fd)
    if (parent.fds[fd].file) {
      c->fds[fd] = parent.fds[fd];
      file_ref(c->fds[fd].file);
    }
  UserRegs cr = regs;
  cr.rax = 0;
  if (int64_t e = start_linux_thread(*c, *ct, cr); e < 0) return fail(e);
  (void)t;
  return value(c->pid);
}

Result sys_execve(Proc& p, Thread& t, const UserRegs& r) {
  char path[kPathMax];
  if (int64_t e = path_arg(p, L::AT_FDCWD, r.rdi, path); e < 0) return value(e);
  // argv and envp: pointers to strings, copied into one buffer.
  constexpr size_t kArgBytes = 128 * 1024;
  char* strings = new char[kArgBytes];
  std::string_view* views = new std::string_view[linux_stack::kMaxStrings];
  if (!strings || !views) {
    delete[] strings;
    delete[] views;
    return value(-L::ENOMEM);
  }
  size_t used = 0, count[2] = {0, 0};
  int64_t err = 0;
  for (int list = 0; list < 2 && err == 0; ++list) {
    const uint64_t base = list == 0 ? r.rsi : r.rdx;
    if (base == 0) continue;
    for (size_t i = 0;; ++i) {
      uint64_t ptr = 0;
      if (!read_obj(p, base + 8 * i, &ptr)) {
        err = -L::EFAULT;
        break;
      }
      if (ptr == 0) break;
      if (count[0] + count[1] >= linux_stack::kMaxStrings) {
        err = -L::E2BIG;
        break;
      }
      int64_t n = read_string(p, ptr, strings + used, kArgBytes - used);
      if (n < 0) {
        err = n == -L::ENAMETOOLONG ? -L::E2BIG : n;
        break;
      }
      views[count[0] + count[1]] = {strings + used, size_t(n)};
      used += size_t(n) + 1;
      ++count[list];
    }
  }
  Result res = value(0);
  if (err == 0) {
    Handle old_process = p.process;
    UserRegs regs{};
    int64_t e = exec_into(p, path, {views, count[0]}, {views + count[0], count[1]}, &regs);
    if (e < 0) {
      res = value(e);
    } else {
      // The calling thread goes with its old process; a new one runs the program.
      Handle old_thread = t.thread;
      t.thread = kInvalidHandle;
      t.block = Block::None;
      t.clear_child_tid = 0;
      if (int64_t s = start_linux_thread(p, t, regs); s < 0) {
        keel::print("linux: pid {}: execve could not start the new image\n", p.pid);
        sys::process_kill(old_process);
        sys::handle_close(old_process);
        sys::handle_close(old_thread);
        end_process(p, L::wait_signaled(L::SIGKILL));
        res = kGone;
      } else {
        res = {Out::Gone, 1};  // reply "suspend" to the old thread, then kill its process
        keel::IpcMessage m{};
        m.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
        (void)sys::ipc_reply(&m);
        sys::process_kill(old_process);
        sys::handle_close(old_process);
        sys::handle_close(old_thread);
      }
    }
  } else {
    res = value(err);
  }
  delete[] strings;
  delete[] views;
  return res;
}

Result sys_wait4(Proc& p, const UserRegs& r) {
  const int64_t pid = int64_t(int32_t(r.rdi));
  const uint64_t status_addr = r.rsi, options = r.rdx;
  if (options & ~(L::WNOHANG | L::WUNTRACED | L::WCONTINUED | 0x40000000ull /*__WALL*/)) return value(-L::EINVAL);
  bool any = false;
  for (Proc& c : g_procs) {
    if (!c.used || c.ppid != p.pid) continue;
    if (pid > 0 && c.pid != pid) continue;
    if (pid == 0 && c.pgid != p.pgid) continue;
    if (pid < -1 && c.pgid != -pid) continue;
    any = true;
    if (!c.zombie) continue;
    if (status_addr && !write_obj(p, status_addr, c.wait_status)) return value(-L::EFAULT);
    if (r.r10) {  // struct rusage: zeros
      uint8_t zero[144] = {};
      if (!write_user(p, r.r10, zero, sizeof zero)) return value(-L::EFAULT);
    }
    const int cpid = c.pid;
    c = Proc{};
    return value(cpid);
  }
  if (!any) return value(-L::ECHILD);
  if (options & L::WNOHANG) return value(0);
  return kBlock;
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
      dtype = ent.type == pfs::kTypeDirectory ? L::DT_DIR : ent.type == pfs::kTypeSymlink ? L::DT_LNK : L::DT_REG;
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
    const uint64_t ino = path_ino(full);
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

void put_field(uint8_t* uts, int index, const char* s) { copy_cstr(reinterpret_cast<char*>(uts + index * L::kUtsField), s, L::kUtsField - 1); }

uint64_t realtime_ns() { return g_boot_realtime_ns + keel::now_ns(); }

Result sys_clock_gettime(Proc& p, uint64_t clock, uint64_t addr) {
  uint64_t ns = 0;
  switch (clock) {
    case L::CLOCK_REALTIME: case L::CLOCK_REALTIME_COARSE: ns = realtime_ns(); break;
    case L::CLOCK_MONOTONIC: case L::CLOCK_MONOTONIC_RAW: case L::CLOCK_MONOTONIC_COARSE: case L::CLOCK_BOOTTIME:
      ns = keel::now_ns();
      break;
    case L::CLOCK_PROCESS_CPUTIME_ID: case L::CLOCK_THREAD_CPUTIME_ID: ns = keel::now_ns() - p.start_ns; break;
    default: return value(-L::EINVAL);
  }
  L::Timespec ts{int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000)};
  if (!write_obj(p, addr, ts)) return value(-L::EFAULT);
  return value(0);
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
    case L::F_SETFL: f->flags = (f->flags & ~(L::O_APPEND | L::O_NONBLOCK)) | (arg & (L::O_APPEND | L::O_NONBLOCK)); return value(0);
    default: return value(-L::EINVAL);
  }
}

Result sys_lseek(Proc& p, int64_t fd, int64_t off, uint64_t whence) {
  File* f = fd_file(p, fd);
  if (!f) return value(-L::EBADF);
  if (f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite || f->kind == FileKind::Console)
    return value(-L::ESPIPE);
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
  switch (req) {
    case L::TIOCGWINSZ: {
      const uint16_t ws[4] = {24, 80, 0, 0};
      return value(write_user(p, arg, ws, sizeof ws) ? 0 : -L::EFAULT);
    }
    case L::TIOCSWINSZ: return value(0);
    case L::TCGETS: {
      // struct termios (60 bytes): Linux's defaults (c_iflag ICRNL|IXON|IUTF8, c_oflag OPOST|ONLCR,
      // c_cflag B38400|CS8|CREAD|HUPCL, c_lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN).
      uint8_t t[60] = {};
      const uint32_t flags[4] = {0x4500, 0x5, 0xbf, 0x8a3b};
      memcpy(t, flags, sizeof flags);
      const uint8_t cc[] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22};
      memcpy(t + 17, cc, sizeof cc);
      return value(write_user(p, arg, t, sizeof t) ? 0 : -L::EFAULT);
    }
    case L::TCSETS: case L::TCSETSW: case L::TCSETSF: return value(0);
    case L::TIOCGPGRP: {
      const int32_t pg = p.pgid;
      return value(write_obj(p, arg, pg) ? 0 : -L::EFAULT);
    }
    case L::TIOCSPGRP: case L::TIOCSCTTY: return value(0);
    default: return value(-L::EINVAL);
  }
}

Result sys_kill(Proc& p, int64_t pid, int64_t sig);
Result sys_kill(Proc& p, int64_t pid, int64_t sig) {
  if (sig < 0 || sig >= L::kSignalCount) return value(-L::EINVAL);
  if (pid <= 0) {  // a process group (0: the caller's), or -1: every process but the caller's... and itself last
    const int group = pid == 0 ? p.pgid : int(-pid);
    bool any = false, self = false;
    for (Proc& q : g_procs) {
      if (!q.used || q.zombie || (pid != -1 && q.pgid != group) || (pid == -1 && &q == &p && false)) continue;
      any = true;
      if (&q == &p) {
        self = true;
        continue;
      }
      (void)sys_kill(p, q.pid, sig);
    }
    if (!any) return value(-L::ESRCH);
    return self ? sys_kill(p, p.pid, sig) : value(0);
  }
  Proc* target = proc_by_pid(int(pid));
  if (!target || target->zombie) return value(-L::ESRCH);
  if (sig == 0) return value(0);
  const uint64_t handler = target->sigaction[sig][0];
  const bool ignored_by_default = sig == L::SIGCHLD || sig == L::SIGCONT || sig == L::SIGWINCH || sig == 23;
  if (sig != L::SIGKILL && (handler == 1 || (handler == 0 && ignored_by_default))) return value(0);
  if (sig != L::SIGKILL && sig != L::SIGSTOP && handler > 1) {
    keel::print("linux: pid {}: signal {} has a handler; delivery is not implemented yet, ignored\n", target->pid, sig);
    return value(0);
  }
  const bool self = target == &p;
  end_process(*target, L::wait_signaled(int(sig)));
  return self ? kGone : value(0);
}

// One syscall of thread `t`. `r` may be changed (Out::Regs replies with it).
Result dispatch(Thread& t, UserRegs& r) {
  Proc& p = *t.proc;
  const uint64_t nr = r.rax;
  switch (nr) {
    case L::kRead: case L::kPread64: {
      File* f = fd_file(p, int64_t(r.rdi));
      if (!f) return value(-L::EBADF);
      if (nr == L::kPread64 && (f->kind != FileKind::Vfs || int64_t(r.r10) < 0))
        return value(f->kind == FileKind::Vfs ? -L::EINVAL : -L::ESPIPE);
      bool block = false;
      int64_t n = sys_read_file(p, t, f, r.rsi, r.rdx, &block, nr == L::kPread64 ? int64_t(r.r10) : -1);
      return block ? kBlock : value(n);
    }
    case L::kWrite: case L::kPwrite64: {
      File* f = fd_file(p, int64_t(r.rdi));
      if (!f) return value(-L::EBADF);
      if (nr == L::kPwrite64 && (f->kind != FileKind::Vfs || int64_t(r.r10) < 0))
        return value(f->kind == FileKind::Vfs ? -L::EINVAL : -L::ESPIPE);
      bool block = false;
      int64_t n = do_write(p, t, f, r.rsi, r.rdx, &block, nr == L::kPwrite64 ? int64_t(r.r10) : -1);
      if (block) return kBlock;
      return sigpipe(p, t, n);
    }
    case L::kReadv: return sys_rw_vector(p, t, r, false);
    case L::kWritev: return sys_rw_vector(p, t, r, true);
    case L::kOpen: case L::kOpenat: case L::kCreat: {
      const int64_t dirfd = nr == L::kOpenat ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD;
      const uint64_t path_addr = nr == L::kOpenat ? r.rsi : r.rdi;
      uint64_t flags = nr == L::kOpenat ? r.rdx : r.rsi;
      uint64_t mode = nr == L::kOpenat ? r.r10 : r.rdx;
      if (nr == L::kCreat) flags = L::O_CREAT | L::O_WRONLY | L::O_TRUNC, mode = r.rsi;
      char path[kPathMax];
      if (int64_t e = path_arg(p, dirfd, path_addr, path); e < 0) return value(e);
      const int fd = alloc_fd(p);
      if (fd < 0) return value(-L::EMFILE);
      File* f = nullptr;
      if (int64_t e = open_path(path, flags, mode & ~uint64_t(p.umask), &f); e < 0) return value(e);
      p.fds[fd] = {f, bool(flags & L::O_CLOEXEC)};
      return value(fd);
    }
    case L::kClose: {
      if (!fd_file(p, int64_t(r.rdi))) return value(-L::EBADF);
      close_fd(p, int(r.rdi));
      return value(0);
    }
    case L::kStat: case L::kLstat: case L::kNewfstatat: {
      L::Stat st;
      int64_t e = 0;
      const uint64_t out = nr == L::kNewfstatat ? r.rdx : r.rsi;
      if (nr == L::kNewfstatat && (r.r10 & L::AT_EMPTY_PATH)) {
        char first = 0;
        if (!read_obj(p, r.rsi, &first)) return value(-L::EFAULT);
        if (first == 0) {
          File* f = fd_file(p, int64_t(int32_t(r.rdi)));
          if (!f) return value(-L::EBADF);
          e = stat_file(f, &st);
          if (e == 0 && !write_obj(p, out, st)) e = -L::EFAULT;
          return value(e);
        }
      }
      char path[kPathMax];
      e = path_arg(p, nr == L::kNewfstatat ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, nr == L::kNewfstatat ? r.rsi : r.rdi,
                   path);
      if (e == 0) e = stat_path(path, &st);
      if (e == 0 && !write_obj(p, out, st)) e = -L::EFAULT;
      return value(e);
    }
    case L::kFstat: {
      File* f = fd_file(p, int64_t(r.rdi));
      if (!f) return value(-L::EBADF);
      L::Stat st;
      int64_t e = stat_file(f, &st);
      if (e == 0 && !write_obj(p, r.rsi, st)) e = -L::EFAULT;
      return value(e);
    }
    case L::kLseek: return sys_lseek(p, int64_t(r.rdi), int64_t(r.rsi), r.rdx);
    case L::kMmap: return sys_mmap(p, r);
    case L::kMunmap: return sys_munmap(p, r.rdi, r.rsi);
    case L::kMprotect: return sys_mprotect(p, r.rdi, r.rsi, r.rdx);
    case L::kMadvise: return value(0);
    case L::kBrk: return sys_brk(p, r.rdi);
    case L::kRtSigaction: {
      const int64_t sig = int64_t(r.rdi);
      if (sig < 1 || sig >= L::kSignalCount || r.r10 != 8) return value(-L::EINVAL);
      if (r.rdx && !write_user(p, r.rdx, p.sigaction[sig], 32)) return value(-L::EFAULT);
      if (r.rsi) {
        if (sig == L::SIGKILL || sig == L::SIGSTOP) return value(-L::EINVAL);
        uint64_t act[4];
        if (!read_user(p, r.rsi, act, sizeof act)) return value(-L::EFAULT);
        memcpy(p.sigaction[sig], act, sizeof act);
      }
      return value(0);
    }
    case L::kRtSigprocmask: {
      if (r.r10 != 8) return value(-L::EINVAL);
      const uint64_t old = p.sigmask;
      if (r.rsi) {
        uint64_t set = 0;
        if (!read_obj(p, r.rsi, &set)) return value(-L::EFAULT);
        const uint64_t keep = ~((1ull << (L::SIGKILL - 1)) | (1ull << (L::SIGSTOP - 1)));
        switch (r.rdi) {
          case 0: p.sigmask |= set & keep; break;
          case 1: p.sigmask &= ~set; break;
          case 2: p.sigmask = set & keep; break;
          default: return value(-L::EINVAL);
        }
      }
      if (r.rdx && !write_obj(p, r.rdx, old)) return value(-L::EFAULT);
      return value(0);
    }
    case L::kIoctl: return sys_ioctl(p, int64_t(r.rdi), r.rsi, r.rdx);
    case L::kAccess: case L::kFaccessat: case L::kFaccessat2: {
      char path[kPathMax];
      const bool at = nr != L::kAccess;
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path); e < 0)
        return value(e);
      const uint64_t mode = at ? r.rdx : r.rsi;
      if (mode & ~uint64_t(7)) return value(-L::EINVAL);
      L::Stat st;
      if (int64_t e = stat_path(path, &st); e < 0) return value(e);
      // root: read and write always; execute if any x bit (or a directory).
      if ((mode & 1) && !(st.st_mode & 0111)) return value(-L::EACCES);
      return value(0);
    }
    case L::kPipe: return sys_pipe2(p, r.rdi, 0);
    case L::kPipe2: return sys_pipe2(p, r.rdi, r.rsi);
    case L::kSchedYield: return value(0);
    case L::kDup: {
      File* f = fd_file(p, int64_t(r.rdi));
      if (!f) return value(-L::EBADF);
      const int fd = alloc_fd(p);
      if (fd < 0) return value(-L::EMFILE);
      file_ref(f);
      p.fds[fd] = {f, false};
      return value(fd);
    }
    case L::kDup2: return sys_dup3(p, int64_t(int32_t(r.rdi)), int64_t(int32_t(r.rsi)), 0, true);
    case L::kDup3: return sys_dup3(p, int64_t(int32_t(r.rdi)), int64_t(int32_t(r.rsi)), r.rdx, false);
    case L::kNanosleep: case L::kClockNanosleep: {
      const uint64_t req = nr == L::kNanosleep ? r.rdi : r.rdx;
      if (t.block == Block::Sleep) {  // run again: is it time?
        if (keel::now_ns() >= t.wake_ns) return value(0);
        return kBlock;
      }
      L::Timespec ts;
      if (!read_obj(p, req, &ts)) return value(-L::EFAULT);
      if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return value(-L::EINVAL);
      uint64_t ns = uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
      if (nr == L::kClockNanosleep && (r.rsi & 1)) {  // TIMER_ABSTIME
        const uint64_t now = r.rdi == L::CLOCK_REALTIME ? realtime_ns() : keel::now_ns();
        ns = ns > now ? ns - now : 0;
      }
      if (ns == 0) return value(0);
      t.wake_ns = keel::now_ns() + ns;
      return kBlock;
    }
    case L::kGetpid: return value(p.pid);
    case L::kGetppid: return value(p.ppid);
    case L::kGettid: return value(t.tid);
    case L::kGetuid: case L::kGeteuid: case L::kGetgid: case L::kGetegid: return value(0);
    case L::kSetuid: case L::kSetgid: case L::kSetreuid: case L::kSetregid: case L::kSetresuid: case L::kSetresgid:
      return value(0);
    case L::kGetresuid: case L::kGetresgid: {
      const uint32_t zero = 0;
      for (uint64_t a : {r.rdi, r.rsi, r.rdx})
        if (!write_obj(p, a, zero)) return value(-L::EFAULT);
      return value(0);
    }
    case L::kGetgroups: return value(0);
    case L::kSetgroups: return value(0);
    case L::kGetpgrp: return value(p.pgid);
    case L::kGetpgid: {
      if (r.rdi == 0) return value(p.pgid);
      Proc* q = proc_by_pid(int(r.rdi));
      return value(q ? q->pgid : -L::ESRCH);
    }
    case L::kSetpgid: {
      Proc* q = r.rdi == 0 ? &p : proc_by_pid(int(r.rdi));
      if (!q || (q != &p && q->ppid != p.pid)) return value(-L::ESRCH);
      if (int64_t(r.rsi) < 0) return value(-L::EINVAL);
      q->pgid = r.rsi == 0 ? q->pid : int(r.rsi);
      return value(0);
    }
    case L::kGetsid: {
      if (r.rdi == 0) return value(p.sid);
      Proc* q = proc_by_pid(int(r.rdi));
      return value(q ? q->sid : -L::ESRCH);
    }
    case L::kSetsid: {
      if (p.pgid == p.pid) return value(-L::EPERM);
      p.sid = p.pgid = p.pid;
      return value(p.sid);
    }
    case L::kUmask: {
      const uint32_t old = p.umask;
      p.umask = uint32_t(r.rdi & 0777);
      return value(old);
    }
    case L::kUname: {
      uint8_t uts[6 * L::kUtsField] = {};
      put_field(uts, 0, "Linux");
      put_field(uts, 1, "keel");
      put_field(uts, 2, "6.1.0-keel");
      put_field(uts, 3, "#1 Keel Linux personality");
      put_field(uts, 4, "x86_64");
      put_field(uts, 5, "(none)");
      return value(write_user(p, r.rdi, uts, sizeof uts) ? 0 : -L::EFAULT);
    }
    case L::kArchPrctl: {
      switch (r.rdi) {
        case L::ARCH_SET_FS:
          if (r.rsi >= 0x8000'0000'0000) return value(-L::EPERM);
          r.fs_base = r.rsi;
          r.rax = 0;
          return {Out::Regs, 0};
        case L::ARCH_GET_FS: return value(write_obj(p, r.rsi, r.fs_base) ? 0 : -L::EFAULT);
        case L::ARCH_SET_GS: case L::ARCH_GET_GS: return value(-L::EINVAL);  // (GS is Keel's)
        default: return value(-L::EINVAL);
      }
    }
    case L::kSetTidAddress: t.clear_child_tid = r.rdi; return value(t.tid);
    case L::kSetRobustList: return value(r.rsi == 24 ? 0 : -L::EINVAL);
    case L::kRseq: return value(-L::ENOSYS);
    case L::kClockGettime: return sys_clock_gettime(p, r.rdi, r.rsi);
    case L::kClockGetres: {
      if (r.rdi > L::CLOCK_BOOTTIME) return value(-L::EINVAL);
      const L::Timespec ts{0, 1};
      return value(r.rsi == 0 || write_obj(p, r.rsi, ts) ? 0 : -L::EFAULT);
    }
    case L::kGettimeofday: {
      const uint64_t ns = realtime_ns();
      const int64_t tv[2] = {int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000 / 1000)};
      if (r.rdi && !write_user(p, r.rdi, tv, sizeof tv)) return value(-L::EFAULT);
      return value(0);
    }
    case L::kTime: {
      const int64_t s = int64_t(realtime_ns() / 1'000'000'000);
      if (r.rdi && !write_obj(p, r.rdi, s)) return value(-L::EFAULT);
      return value(s);
    }
    case L::kGetrandom: {
      if (r.rdx & ~uint64_t(7)) return value(-L::EINVAL);
      File rnd;
      rnd.kind = FileKind::Random;
      bool block = false;
      return value(sys_read_file(p, t, &rnd, r.rdi, r.rsi > 33554431 ? 33554431 : r.rsi, &block));
    }
    case L::kSchedGetaffinity: {
      if (r.rsi < 8 || (r.rsi & 7)) return value(-L::EINVAL);
      const uint64_t mask = 1;  // one CPU, as far as Linux programs can tell
      return value(write_obj(p, r.rdx, mask) ? 8 : -L::EFAULT);
    }
    case L::kSchedSetaffinity: return value(0);
    case L::kPrlimit64: case L::kGetrlimit: {
      const uint64_t res = nr == L::kGetrlimit ? r.rdi : r.rsi;
      const uint64_t out = nr == L::kGetrlimit ? r.rsi : r.r10;
      if (nr == L::kPrlimit64 && r.rdi != 0 && int(r.rdi) != p.pid) return value(-L::ESRCH);
      if (res >= 16) return value(-L::EINVAL);
      uint64_t lim[2] = {~0ull, ~0ull};
      if (res == 3) lim[0] = kStackSize;           // RLIMIT_STACK
      if (res == 7) lim[0] = lim[1] = kMaxFds;     // RLIMIT_NOFILE
      if (out && !write_user(p, out, lim, sizeof lim)) return value(-L::EFAULT);
      return value(0);
    }
    case L::kSetrlimit: return value(0);
    case L::kGetcwd: {
      const size_t n = strlen(p.cwd) + 1;
      if (r.rsi < n) return value(-L::ERANGE);
      return value(write_user(p, r.rdi, p.cwd, n) ? int64_t(n) : -L::EFAULT);
    }
    case L::kChdir: case L::kFchdir: {
      char path[kPathMax];
      if (nr == L::kFchdir) {
        File* f = fd_file(p, int64_t(r.rdi));
        if (!f) return value(-L::EBADF);
        if (f->kind != FileKind::Vfs || f->type != pfs::kTypeDirectory) return value(-L::ENOTDIR);
        memcpy(path, f->path, sizeof path);
      } else if (int64_t e = path_arg(p, L::AT_FDCWD, r.rdi, path); e < 0) {
        return value(e);
      }
      L::Stat st;
      if (int64_t e = stat_path(path, &st); e < 0) return value(e);
      if ((st.st_mode & L::S_IFMT) != L::S_IFDIR) return value(-L::ENOTDIR);
      memcpy(p.cwd, path, sizeof p.cwd);
      return value(0);
    }
    case L::kMkdir: case L::kMkdirat: {
      char path[kPathMax];
      const bool at = nr == L::kMkdirat;
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path); e < 0)
        return value(e);
      const uint64_t mode = (at ? r.rdx : r.rsi) & 0777 & ~uint64_t(p.umask);
      return value(errno_of(keel::fs::mkdir(path, mode)));
    }
    case L::kRmdir: {
      char path[kPathMax];
      if (int64_t e = path_arg(p, L::AT_FDCWD, r.rdi, path); e < 0) return value(e);
      return value(errno_of(keel::fs::rmdir(path)));
    }
    case L::kUnlink: case L::kUnlinkat: {
      char path[kPathMax];
      const bool at = nr == L::kUnlinkat;
      if (at && (r.rdx & ~L::AT_REMOVEDIR)) return value(-L::EINVAL);
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path); e < 0)
        return value(e);
      if (at && (r.rdx & L::AT_REMOVEDIR)) return value(errno_of(keel::fs::rmdir(path)));
      Status s = keel::fs::unlink(path);
      return value(s == Status::IsADirectory ? -L::EISDIR : errno_of(s));
    }
    case L::kRename: case L::kRenameat: case L::kRenameat2: {
      char from[kPathMax], to[kPathMax];
      const bool at = nr != L::kRename;
      if (nr == L::kRenameat2 && r.r8 != 0) return value(-L::EINVAL);
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, from); e < 0)
        return value(e);
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdx)) : L::AT_FDCWD, at ? r.r10 : r.rsi, to); e < 0)
        return value(e);
      return value(errno_of(keel::fs::rename(from, to)));
    }
    case L::kTruncate: {
      char path[kPathMax];
      if (int64_t(r.rsi) < 0) return value(-L::EINVAL);
      if (int64_t e = path_arg(p, L::AT_FDCWD, r.rdi, path); e < 0) return value(e);
      return value(errno_of(keel::fs::truncate(path, r.rsi)));
    }
    case L::kFtruncate: {
      File* f = fd_file(p, int64_t(r.rdi));
      if (!f) return value(-L::EBADF);
      if (int64_t(r.rsi) < 0) return value(-L::EINVAL);
      if (f->kind != FileKind::Vfs || f->type != pfs::kTypeFile) return value(-L::EINVAL);
      if ((f->flags & L::O_ACCMODE) == L::O_RDONLY) return value(-L::EINVAL);
      return value(errno_of(keel::fs::truncate(f->path, r.rsi)));
    }
    case L::kGetdents64: return sys_getdents64(p, r);
    case L::kFcntl: return sys_fcntl(p, int64_t(r.rdi), r.rsi, r.rdx);
    case L::kFsync: case L::kFdatasync: return value(fd_file(p, int64_t(r.rdi)) ? 0 : -L::EBADF);
    case L::kSync: return value(0);
    case L::kChmod: case L::kFchmod: case L::kFchmodat: case L::kChown: case L::kFchown: case L::kLchown:
    case L::kFchownat: case L::kUtimensat:
      return value(0);  // (the VFS keeps no owners and times; modes are fixed at creation)
    case L::kReadlink: case L::kReadlinkat: return value(-L::EINVAL);  // no symbolic links followed here
    case L::kFork: case L::kVfork: return sys_fork(p, t, r);
    case L::kClone: {
      const uint64_t flags = r.rdi;
      if ((flags & L::CLONE_VM) && !(flags & L::CLONE_VFORK)) return value(-L::ENOSYS);  // threads: not yet
      if ((flags & L::CSIGNAL) != L::SIGCHLD && (flags & L::CSIGNAL) != 0) return value(-L::EINVAL);
      UserRegs cr = r;
      if (r.rsi) cr.rsp = r.rsi;
      Result res = sys_fork(p, t, cr);
      if (res.kind == Out::Value && res.value > 0) {
        Proc* c = proc_by_pid(int(res.value));
        if (c && (flags & L::CLONE_PARENT_SETTID)) (void)write_obj(p, r.rdx, int32_t(res.value));
        if (c && (flags & L::CLONE_CHILD_SETTID)) (void)write_obj(*c, r.r10, int32_t(res.value));
        if (c && (flags & L::CLONE_CHILD_CLEARTID)) {
          if (Thread* ct = thread_by_tid(uint64_t(res.value))) ct->clear_child_tid = r.r10;
        }
      }
      return res;
    }
    case L::kExecve: return sys_execve(p, t, r);
    case L::kExit: case L::kExitGroup:
      end_process(p, L::wait_exited(int(r.rdi)));
      return kGone;
    case L::kWait4: return sys_wait4(p, r);
    case L::kKill: return sys_kill(p, int64_t(int32_t(r.rdi)), int64_t(r.rsi));
    case L::kTkill: case L::kTgkill: {
      const int64_t tid = int64_t(nr == L::kTgkill ? r.rsi : r.rdi), sig = int64_t(nr == L::kTgkill ? r.rdx : r.rsi);
      Thread* target = thread_by_tid(uint64_t(tid));
      if (!target) return value(-L::ESRCH);
      return sys_kill(p, target->proc->pid, sig);
    }
    case L::kSigaltstack: {
      if (r.rsi) {
        const uint64_t ss[3] = {0, 2 /*SS_DISABLE*/, 0};
        if (!write_user(p, r.rsi, ss, sizeof ss)) return value(-L::EFAULT);
      }
      return value(0);
    }
    case L::kSysinfo: {
      uint8_t info[112] = {};
      const int64_t up = int64_t(keel::now_ns() / 1'000'000'000);
      memcpy(info, &up, 8);
      const uint64_t total = 512ull << 20;
      memcpy(info + 32, &total, 8);
      const uint32_t unit = 1;
      memcpy(info + 104, &unit, 4);
      return value(write_user(p, r.rdi, info, sizeof info) ? 0 : -L::EFAULT);
    }
    case L::kTimes: {
      if (r.rdi) {
        const int64_t tms[4] = {int64_t((keel::now_ns() - p.start_ns) / 10'000'000), 0, 0, 0};
        if (!write_user(p, r.rdi, tms, sizeof tms)) return value(-L::EFAULT);
      }
      return value(int64_t(keel::now_ns() / 10'000'000));
    }
    case L::kGetrusage: {
      uint8_t ru[144] = {};
      return value(write_user(p, r.rsi, ru, sizeof ru) ? 0 : -L::EFAULT);
    }
    case L::kPrctl: return value(-L::EINVAL);
    case L::kGetcpu: {
      const uint32_t zero = 0;
      if (r.rdi && !write_obj(p, r.rdi, zero)) return value(-L::EFAULT);
      if (r.rsi && !write_obj(p, r.rsi, zero)) return value(-L::EFAULT);
      return value(0);
    }
    case L::kPause: return kBlock;
    default: break;
  }
  static uint64_t logged[8];  // each unknown number is logged once
  if (nr < 512 && !(logged[nr / 64] & (1ull << (nr % 64)))) {
    logged[nr / 64] |= 1ull << (nr % 64);
    keel::print("linux: pid {} ({}): syscall {} ({}) is not implemented: ENOSYS\n", p.pid, p.comm, nr,
                L::syscall_name(nr));
  }
  return value(-L::ENOSYS);
}

// ---------------------------------------------------------------- blocking

// Finishes a stopped (suspended) thread's syscall with `rax`.
void complete(Thread& t, int64_t rax) {
  UserRegs r{};
  if (sys::thread_read_state(t.thread, &r) != 0) return;
  r.rax = uint64_t(rax);
  (void)sys::thread_write_state(t.thread, &r);
  (void)sys::thread_resume(t.thread);
}

bool g_retrying = false;
bool g_retry_again = false;

// Runs again every waiting syscall of kind `kind` (or of every kind while a
// retry is in progress), completing those that can finish now.
void retry_blocked(Block kind) {
  (void)kind;
  if (g_retrying) {
    g_retry_again = true;
    return;
  }
  g_retrying = true;
  do {
    g_retry_again = false;
    for (Thread& t : g_threads) {
      if (!t.used || t.block == Block::None) continue;
      UserRegs r = t.regs;
      Result res = dispatch(t, r);
      if (!t.used) continue;  // the process ended meanwhile
      if (res.kind == Out::Block) continue;
      t.block = Block::None;
      t.progress = 0;
      if (res.kind == Out::Value) complete(t, res.value);
    }
  } while (g_retry_again);
  g_retrying = false;
}

uint64_t next_deadline() {
  uint64_t d = keel::now_ns() + 50'000'000;  // also polls for processes that faulted
  for (Thread& t : g_threads)
    if (t.used && t.block == Block::Sleep && t.wake_ns < d) d = t.wake_ns;
  return d;
}

// ---------------------------------------------------------------- starting programs

// Starts the program `argv[0]` as a new Linux process (no parent) with
// stdin, stdout and stderr on the console. Returns its pid or -errno.
int64_t spawn_program(std::span<const std::string_view> argv) {
  Proc* p = new_proc();
  if (!p) return -L::EAGAIN;
  Thread* t = new_thread(p, p->pid);
  if (!t) {
    *p = Proc{};
    return -L::EAGAIN;
  }
  p->pgid = p->sid = p->pid;
  File* con = new_file(FileKind::Console);
  if (!con) return -L::ENOMEM;
  copy_cstr(con->path, "/dev/console", sizeof con->path - 1);
  con->flags = L::O_RDWR;
  con->refs = 3;
  for (int fd = 0; fd < 3; ++fd) p->fds[fd].file = con;
  char path[kPathMax];
  char arg0[kPathMax];
  const size_t n0 = argv[0].size() < kPathMax - 1 ? argv[0].size() : kPathMax - 1;
  memcpy(arg0, argv[0].data(), n0);
  arg0[n0] = 0;
  int64_t e = resolve(*p, L::AT_FDCWD, arg0, path);
  const std::string_view envp[] = {"PATH=/bin:/sbin:/usr/bin", "HOME=/root", "TERM=vt100", "USER=root"};
  UserRegs regs{};
  if (e == 0) e = exec_into(*p, path, argv, envp, &regs);
  if (e == 0) e = start_linux_thread(*p, *t, regs);
  if (e < 0) {
    keel::print("linux: cannot run {}: error {}\n", arg0, -e);
    for (int fd = 0; fd < 3; ++fd) close_fd(*p, fd);
    unmap_all(*p);
    if (p->process != kInvalidHandle) {
      sys::process_kill(p->process);
      sys::handle_close(p->process);
    }
    *t = Thread{};
    *p = Proc{};
    return e;
  }
  return p->pid;
}

// The batch: lines of "PATH ARG..." run one at a time.
struct Batch {
  char* text = nullptr;
  size_t len = 0, pos = 0;
  int running = 0;  // pid, 0 = none
  uint64_t started_ns = 0;
  bool active = false;
};
uint64_t g_batch_timeout_ns = 60'000'000'000;  // a program of the batch that takes longer is killed (--timeout S)
Batch g_batch;

bool proc_alive(int pid) {
  Proc* p = proc_by_pid(pid);
  return p && !p->zombie;
}

void batch_next() {
  if (g_batch.active && g_batch.running && proc_alive(g_batch.running) &&
      keel::now_ns() - g_batch.started_ns > g_batch_timeout_ns) {
    keel::print("linux: pid {} timed out: killing it\n", g_batch.running);
    for (Proc& q : g_procs)  // and what it started
      if (q.used && !q.zombie && q.pid != g_batch.running && q.sid == proc_by_pid(g_batch.running)->sid)
        end_process(q, L::wait_signaled(L::SIGKILL));
    end_process(*proc_by_pid(g_batch.running), L::wait_signaled(L::SIGKILL));
  }
  while (g_batch.active && (g_batch.running == 0 || !proc_alive(g_batch.running))) {
    if (g_batch.pos >= g_batch.len) {
      keel::print("linux: batch done\n");
      g_batch.active = false;
      return;
    }
    char* line = g_batch.text + g_batch.pos;
    size_t end = g_batch.pos;
    while (end < g_batch.len && g_batch.text[end] != '\n') ++end;
    g_batch.text[end] = 0;
    g_batch.pos = end + 1;
    std::string_view argv[16];
    size_t argc = 0;
    for (char* c = line; *c && argc < 16;) {
      while (*c == ' ' || *c == '\t') *c++ = 0;
      if (!*c || *c == '#') break;
      argv[argc] = c;
      while (*c && *c != ' ' && *c != '\t') ++c;
      argv[argc] = {argv[argc].data(), size_t(c - argv[argc].data())};
      ++argc;
    }
    if (argc == 0) continue;
    // (the views end at the NULs written above)
    int64_t pid = spawn_program({argv, argc});
    if (pid > 0) keel::print("linux: running {} as pid {}\n", argv[0], pid);
    g_batch.running = pid > 0 ? int(pid) : 0;
    g_batch.started_ns = keel::now_ns();
  }
}

// The wall-clock time at boot, from the CMOS clock driver (keel/proto/rtc.h):
// CLOCK_REALTIME is that plus the monotonic clock. Stays 0 (the epoch) if
// the driver cannot be asked.
void fetch_boot_time() {
  Handle names = kInvalidHandle;
  uint64_t unused = 0;
  if (!keel::find_module("names", &names, &unused)) return;
  keel::IpcMessage l{};
  const uint32_t at = keel::rpc::put_string(l, 0, "rtc");
  l.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
  if (keel::rpc::call(names, l, keel::now_ns() + 2'000'000'000) != Status::Ok || keel::rpc::handles(l) != 1) {
    keel::print("linux: no rtc: CLOCK_REALTIME starts at the epoch\n");
    return;
  }
  const Handle rtc = l.handles[0];
  keel::IpcMessage m{};
  m.tag = keel::rpc::tag(keel::proto::rtc::kGetTime, 0);
  if (keel::rpc::call(rtc, m, keel::now_ns() + 2'000'000'000) == Status::Ok &&
      keel::rpc::words(m) >= keel::proto::rtc::kGetTimeWords)
    g_boot_realtime_ns = m.words[7] * 1'000'000'000;
  sys::handle_close(rtc);
}

}  // namespace

int main(uint64_t) {
  std::string_view args[16];
  const size_t nargs = keel::start_args(args, 16);
  fetch_boot_time();
  if (sys::endpoint_create(&g_ep) != 0) {
    keel::print("linux: no endpoint\n");
    return 1;
  }
  for (size_t i = 0; i < nargs; ++i) {
    if (args[i] == "--trace") g_trace = true;
    if (args[i] == "--timeout" && i + 1 < nargs) {
      uint64_t secs = 0;
      for (char c : args[i + 1]) secs = c >= '0' && c <= '9' ? secs * 10 + uint64_t(c - '0') : secs;
      if (secs) g_batch_timeout_ns = secs * 1'000'000'000;
      ++i;
    }
    if (args[i] == "--batch" && i + 1 < nargs) {
      char path[kPathMax] = {};
      const size_t n = args[i + 1].size() < kPathMax - 1 ? args[i + 1].size() : kPathMax - 1;
      memcpy(path, args[i + 1].data(), n);
      uint8_t* text = nullptr;
      size_t size = 0;
      int64_t e = read_file(path, &text, &size);
      for (int tries = 0; e == -L::ENOENT && tries < 30; ++tries) {  // (the VFS may still be mounting)
        sys::thread_sleep(keel::now_ns() + 100'000'000);
        e = read_file(path, &text, &size);
      }
      if (e < 0) {
        keel::print("linux: cannot read the batch {}: error {}\n", path, -e);
      } else {
        g_batch.text = reinterpret_cast<char*>(text);
        g_batch.len = size;
        g_batch.active = true;
      }
      ++i;
    } else if (args[i] == "--run" && i + 1 < nargs) {
      (void)spawn_program({args + i + 1, nargs - i - 1});
      break;
    }
  }
  if (Status st = keel::rpc::announce_ready(g_ep); st != Status::Ok)
    keel::print("linux: init refused ready: {}\n", keel::status_name(st));
  batch_next();
  keel::IpcMessage msg{};
  unsigned since_poll = 0;
  for (;;) {
    const int64_t rr = sys::ipc_recv(g_ep, &msg, next_deadline());
    if (rr != 0 || ++since_poll >= 64) {
      since_poll = 0;
      reap_dead_keel_processes();
      retry_blocked(Block::Sleep);
      batch_next();
      if (rr != 0) continue;
    }
    Thread* t = (msg.badge & kThreadBadge) ? thread_by_tid(msg.badge & ~kThreadBadge) : nullptr;
    if (!(msg.badge & kThreadBadge)) {  // a native client (init's heartbeat): no methods but ping yet
      keel::IpcMessage m{};
      const bool ping = keel::IpcTag::label(msg.tag) == keel::rpc::kMethodPing;
      m.tag = keel::IpcTag::make(uint32_t(ping ? Status::Ok : Status::Unsupported), 0, 0, 0);
      for (uint32_t i = 0; i < keel::IpcTag::handles(msg.tag) && i < keel::kIpcMaxHandles; ++i)
        sys::handle_close(msg.handles[i]);
      (void)sys::ipc_reply(&m);
      continue;
    }
    if (keel::IpcTag::label(msg.tag) != keel::kForeignSyscallLabel || !t ||
        keel::IpcTag::words(msg.tag) != keel::kUserRegsWords) {
      keel::IpcMessage m{};
      m.tag = keel::IpcTag::make(0xdead, 0, 0, 0);  // a thread we no longer know: the kernel kills it
      (void)sys::ipc_reply(&m);
      continue;
    }
    UserRegs r;
    memcpy(&r, msg.words, sizeof r);
    const UserRegs entry = r;
    Result res = dispatch(*t, r);
    if (g_trace && t->used)
      keel::print("linux: [{}] {}({:#x}, {:#x}, {:#x}) = {}\n", t->tid, L::syscall_name(entry.rax), entry.rdi,
                  entry.rsi, entry.rdx, res.kind == Out::Value ? res.value : 0);
    keel::IpcMessage m{};
    switch (res.kind) {
      case Out::Value:
        m.tag = keel::IpcTag::make(keel::kForeignReplyResume, 1, 0, 0);
        m.words[0] = uint64_t(res.value);
        (void)sys::ipc_reply(&m);
        break;
      case Out::Regs:
        m.tag = keel::IpcTag::make(keel::kForeignReplyResume, keel::kUserRegsWords, 0, 0);
        memcpy(m.words, &r, sizeof r);
        (void)sys::ipc_reply(&m);
        break;
      case Out::Block:
        t->block = entry.rax == L::kWait4 ? Block::Wait4 : Block::PipeRead;
        if (entry.rax == L::kNanosleep || entry.rax == L::kClockNanosleep) t->block = Block::Sleep;
        t->regs = entry;
        m.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
        (void)sys::ipc_reply(&m);
        break;
      case Out::Gone:
        if (res.value == 0) {  // the process is being (or was) killed: stop the thread
          m.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
          (void)sys::ipc_reply(&m);
        }
        break;
    }
    batch_next();
  }
}
