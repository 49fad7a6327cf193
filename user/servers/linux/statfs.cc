// statfs.cc — statfs(2) and fstatfs(2): what file system holds a path or an
// open file, and how full it is. The VFS's files ask their file system
// (kStatfs, kFstatfs: keel/proto/fs.h); the server's own (/proc, /dev, pipes)
// are answered here. docs/linux.md has the table.
#include "internal.h"

namespace linux_srv {

namespace {

// statfs(2)'s f_type values (linux/magic.h) and f_flags bits (statvfs(3)).
constexpr int64_t kTmpfsMagic = 0x01021994;
constexpr int64_t kRamfsMagic = 0x858458f6;
constexpr int64_t kProcMagic = 0x9fa0;
constexpr int64_t kPipefsMagic = 0x50495045;
constexpr int64_t kDevptsMagic = 0x1cd1;
constexpr int64_t kStRdonly = 0x1, kStNosuid = 0x2, kStNodev = 0x4, kStNoexec = 0x8, kStValid = 0x20;
constexpr int64_t kStNoatime = 0x400;

// The x86-64 kernel's struct statfs (asm-generic/statfs.h with 64-bit longs).
struct Statfs {
  int64_t f_type, f_bsize;
  uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
  int32_t f_fsid[2];
  int64_t f_namelen, f_frsize, f_flags;
  int64_t f_spare[4];
};
static_assert(sizeof(Statfs) == 120);

// A file system with nothing to count (/proc, /dev, pipefs): Linux shows 0
// blocks for these, which is also what makes df leave them out.
void fill_empty(Statfs* s, int64_t type, int fsid, int64_t flags) {
  *s = Statfs{};
  s->f_type = type;
  s->f_bsize = s->f_frsize = 4096;
  s->f_namelen = 255;
  s->f_fsid[0] = fsid;
  s->f_flags = kStValid | flags;
}

void fill_usage(Statfs* s, const keel::fs::FsUsage& u, uint64_t mount) {
  *s = Statfs{};
  const bool ro = u.flags & pfs::kFsReadOnly;
  s->f_type = ro ? kRamfsMagic : kTmpfsMagic;
  s->f_bsize = s->f_frsize = int64_t(u.block_size ? u.block_size : 4096);
  s->f_blocks = u.blocks;
  s->f_bfree = s->f_bavail = u.free_blocks < u.blocks ? u.free_blocks : u.blocks;
  s->f_files = u.nodes;
  s->f_ffree = u.free_nodes < u.nodes ? u.free_nodes : u.nodes;
  s->f_fsid[0] = int32_t(mount + 1);  // (stat's st_dev of that mount)
  s->f_namelen = int64_t(pfs::kNameMax);
  s->f_flags = kStValid | kStNoatime | (ro ? kStRdonly : 0);
}

// The mount index of the VFS path `path` (stat's r3), for f_fsid.
uint64_t mount_of(const char* path) {
  keel::fs::Info info;
  return keel::fs::stat(path, &info) == Status::Ok ? info.mount : 0;
}

int64_t statfs_path(Proc& p, const char* path, Statfs* s) {
  if (procfs_path(path)) {
    L::Stat st;
    if (int64_t e = stat_any(p, path, &st); e < 0) return e;
    fill_empty(s, kProcMagic, 0x100, kStNosuid | kStNodev | kStNoexec);
    return 0;
  }
  if (dev_node(path) || str_eq(path, "/dev")) {  // (devtmpfs is a tmpfs: TMPFS_MAGIC)
    fill_empty(s, kTmpfsMagic, 0x101, kStNosuid);
    return 0;
  }
  if (under_dev_node(path)) return -L::ENOTDIR;
  keel::fs::FsUsage u;
  if (Status st = keel::fs::statfs(path, &u); st != Status::Ok) return errno_of(st);
  fill_usage(s, u, mount_of(path));
  return 0;
}

int64_t statfs_file(Proc& p, File* f, Statfs* s) {
  switch (f->kind) {
    case FileKind::Vfs: {
      keel::fs::FsUsage u;
      if (Status st = keel::fs::fstatfs(f->fid, &u); st != Status::Ok) return errno_of(st);
      fill_usage(s, u, f->fid >> pfs::kMountShift & 0xff);
      return 0;
    }
    case FileKind::PipeRead: case FileKind::PipeWrite:
      if (f->path[0] == '/') return statfs_path(p, f->path, s);  // (a FIFO: its file system)
      fill_empty(s, kPipefsMagic, 0x102, 0);
      return 0;
    case FileKind::ProcFile: case FileKind::ProcDir:
      fill_empty(s, kProcMagic, 0x100, kStNosuid | kStNodev | kStNoexec);
      return 0;
    case FileKind::Console:  // (a tty: devpts, as a Linux terminal's)
      fill_empty(s, kDevptsMagic, 0x103, kStNosuid | kStNoexec);
      return 0;
    default:  // /dev/null and the other nodes, and /dev itself
      fill_empty(s, kTmpfsMagic, 0x101, kStNosuid);
      return 0;
  }
}

}  // namespace

bool dispatch_statfs(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  Statfs s;
  int64_t e = 0;
  uint64_t buf = r.rsi;
  switch (r.rax) {
    case L::kStatfs: {
      char path[kPathMax];
      e = path_arg(p, L::AT_FDCWD, r.rdi, path);
      if (e == 0) e = statfs_path(p, path, &s);
      break;
    }
    case L::kFstatfs: {
      File* f = fd_file(p, int64_t(r.rdi));
      e = f ? statfs_file(p, f, &s) : -L::EBADF;
      break;
    }
    default: return false;
  }
  if (e == 0 && !write_obj(p, buf, s)) e = -L::EFAULT;
  *out = value(e);
  return true;
}

}  // namespace linux_srv
