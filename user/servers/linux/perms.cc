// perms.cc — file permissions against the ids a process has (process.cc's
// real/effective uids and gids) and file owners (chown). docs/linux.md,
// "Permissions", has the rules.
//
// The VFS keeps modes but no owners, so this server keeps them: a table of
// (st_dev, st_ino) → (uid, gid) for every file that is not root's (made by a
// process with a non-root euid, or chown'ed by root); everything else is
// owned by root. The checks run only for a caller whose uid (effective, or
// real for access) is not 0, before the syscall itself (dispatch_perms):
// root pays nothing but the test of its ids.
#include "internal.h"

namespace linux_srv {

namespace {

struct Owner {
  uint64_t dev = 0, ino = 0;  // 0: a free slot
  uint32_t uid = 0, gid = 0;
};
constexpr size_t kOwners = 512;
Owner g_owners[kOwners];
size_t g_owners_used = 0;  // slots below it may be in use

Owner* find_owner(uint64_t dev, uint64_t ino) {
  for (size_t i = 0; i < g_owners_used; ++i)
    if (g_owners[i].ino == ino && g_owners[i].dev == dev) return &g_owners[i];
  return nullptr;
}

// Records `uid`:`gid` as the owner of (dev, ino); root's files need no entry.
// A full table leaves the file root's (a limit: kOwners files not root's).
void set_owner(uint64_t dev, uint64_t ino, uint32_t uid, uint32_t gid) {
  if (ino == 0) return;
  Owner* o = find_owner(dev, ino);
  if (uid == 0 && gid == 0) {
    if (o) *o = Owner{};
    return;
  }
  if (!o)
    for (size_t i = 0; i < kOwners && !o; ++i)
      if (g_owners[i].ino == 0) o = &g_owners[i];
  if (!o) return;
  *o = Owner{dev, ino, uid, gid};
  if (size_t(o - g_owners) >= g_owners_used) g_owners_used = size_t(o - g_owners) + 1;
}

constexpr uint32_t kNoChange = 0xffffffff;  // chown's -1
constexpr int kR = 4, kW = 2, kX = 1;

// Whether `uid`:`gid` may `want` (kR|kW|kX) the file `st` (path_resolution(7):
// the owner's, else the group's, else the others' bits; root may read and
// write anything, and execute what has an x bit or is a directory).
bool allowed(const L::Stat& st, uint32_t uid, uint32_t gid, int want) {
  if (uid == 0) return !(want & kX) || (st.st_mode & 0111) || (st.st_mode & L::S_IFMT) == L::S_IFDIR;
  const uint32_t m = st.st_mode;
  const uint32_t bits = st.st_uid == uid ? (m >> 6) & 7 : st.st_gid == gid ? (m >> 3) & 7 : m & 7;
  return (bits & uint32_t(want)) == uint32_t(want);
}

// The server's own files (/dev, /proc) are not checked here.
bool own_file(const char* path) {
  return procfs_path(path) || dev_node(path) || str_eq(path, "/dev") || under_dev_node(path);
}

// Search permission on every directory above the last component of `path`
// (absolute, normalised): -EACCES, or 0 (also when one is missing or not a
// directory: the syscall reports that itself). Note: it checks the whole
// path textually, so a relative path below a directory the caller may not
// search is refused here though Linux, starting at the cwd, would allow it.
int64_t search(Proc& p, const char* path, uint32_t uid, uint32_t gid) {
  if (str_eq(path, "/")) return 0;
  char prefix[kPathMax];
  for (size_t i = 0; path[i] != 0; ++i) {
    if (path[i] != '/') continue;
    const size_t len = i == 0 ? 1 : i;  // "/" first, then each directory above the last component
    memcpy(prefix, path, len);
    prefix[len] = 0;
    L::Stat st;
    if (stat_any(p, prefix, &st) < 0 || (st.st_mode & L::S_IFMT) != L::S_IFDIR) return 0;
    if (!allowed(st, uid, gid, kX)) return -L::EACCES;
  }
  return 0;
}

// Write and search permission on the directory that holds `path`'s last
// component (making or removing an entry there).
int64_t parent_writable(Proc& p, const char* path, uint32_t uid, uint32_t gid) {
  const char* slash = last_slash(path);
  if (!slash || str_eq(path, "/")) return 0;
  char dir[kPathMax];
  const size_t len = slash == path ? 1 : size_t(slash - path);
  memcpy(dir, path, len);
  dir[len] = 0;
  if (own_file(dir)) return 0;
  L::Stat st;
  if (stat_any(p, dir, &st) < 0) return 0;
  return allowed(st, uid, gid, kW | kX) ? 0 : -L::EACCES;
}

// A file the current syscall makes (open with O_CREAT, mkdir, mknod,
// symlink): after it succeeds it becomes the caller's (perms_done).
char g_made[kPathMax];
uint32_t g_made_uid = 0, g_made_gid = 0;

// What each path syscall needs. kind: a path whose last component is looked
// up (search), one whose entry is made (and owned), one whose entry is
// removed.
enum class Need { Search, Make, Remove };

// The path argument `addr` (relative to `dirfd`) checked for `need`;
// `follow`: a last symbolic link is followed. 0 if allowed (or not ours to
// judge), -EACCES otherwise; `out` gets the path.
int64_t check_path(Proc& p, int64_t dirfd, uint64_t addr, Need need, bool follow, char (&out)[kPathMax]) {
  if (path_arg(p, dirfd, addr, out, follow) < 0 || own_file(out)) {
    out[0] = 0;
    return 0;
  }
  const uint32_t uid = p.uid[1], gid = p.gid[1];
  if (int64_t e = search(p, out, uid, gid); e < 0) return e;
  if (need == Need::Search) return 0;
  if (int64_t e = parent_writable(p, out, uid, gid); e < 0) return e;
  if (need == Need::Make) {
    memcpy(g_made, out, sizeof g_made);
    g_made_uid = uid, g_made_gid = gid;
  }
  return 0;
}

// access(2) and faccessat(2) as uid:gid (real ids; effective with AT_EACCESS).
int64_t check_access(Proc& p, int64_t dirfd, uint64_t addr, uint64_t mode, uint32_t uid, uint32_t gid) {
  if (mode & ~uint64_t(7)) return -L::EINVAL;
  char path[kPathMax];
  if (int64_t e = path_arg(p, dirfd, addr, path); e < 0) return e;
  if (int64_t e = search(p, path, uid, gid); e < 0) return e;
  L::Stat st;
  if (int64_t e = stat_any(p, path, &st); e < 0) return e;
  return allowed(st, uid, gid, int(mode)) ? 0 : -L::EACCES;
}

int64_t check_open(Proc& p, int64_t dirfd, uint64_t addr, uint64_t flags) {
  char path[kPathMax];
  const bool follow = !(flags & L::O_NOFOLLOW);
  if (path_arg(p, dirfd, addr, path, follow) < 0 || own_file(path)) return 0;
  const uint32_t uid = p.uid[1], gid = p.gid[1];
  if (int64_t e = search(p, path, uid, gid); e < 0) return e;
  L::Stat st;
  if (stat_any(p, path, &st, follow) < 0) {
    if (!(flags & L::O_CREAT)) return 0;  // (ENOENT: the open's own)
    if (int64_t e = parent_writable(p, path, uid, gid); e < 0) return e;
    memcpy(g_made, path, sizeof g_made);
    g_made_uid = uid, g_made_gid = gid;
    return 0;
  }
  if ((flags & (L::O_CREAT | L::O_EXCL)) == (L::O_CREAT | L::O_EXCL)) return 0;  // (EEXIST)
  const uint64_t acc = flags & L::O_ACCMODE;
  int want = acc == L::O_RDONLY ? kR : acc == L::O_WRONLY ? kW : kR | kW;
  if ((flags & L::O_TRUNC) && acc != L::O_RDONLY) want |= kW;
  return allowed(st, uid, gid, want) ? 0 : -L::EACCES;
}

// chown(2) and its forms: root gives any owner; another process only its
// own file to itself, with a group that is its own (its effective gid).
// Owners of the server's own files do not change (0, as Linux's devtmpfs
// would too for root); the initrd is read-only (EROFS).
int64_t do_chown(Proc& p, const L::Stat& st, uint32_t uid, uint32_t gid, bool read_only) {
  if (p.uid[1] != 0) {
    if (uid != kNoChange && uid != st.st_uid) return -L::EPERM;
    if (gid != kNoChange && (st.st_uid != p.uid[1] || (gid != st.st_gid && gid != p.gid[1]))) return -L::EPERM;
  }
  if (read_only) return -L::EROFS;
  set_owner(st.st_dev, st.st_ino, uid == kNoChange ? st.st_uid : uid, gid == kNoChange ? st.st_gid : gid);
  return 0;
}

Result sys_chown(Proc& p, const UserRegs& r) {
  L::Stat st;
  uint32_t uid, gid;
  bool read_only = false;
  if (r.rax == L::kFchown) {
    File* f = fd_file(p, int64_t(r.rdi));
    if (!f) return value(-L::EBADF);
    if (int64_t e = stat_file(f, &st); e < 0) return value(e);
    uid = uint32_t(r.rsi), gid = uint32_t(r.rdx);
    keel::fs::FsUsage u;
    if (f->kind != FileKind::Vfs) return value(p.uid[1] == 0 ? 0 : -L::EPERM);
    read_only = keel::fs::fstatfs(f->fid, &u) == Status::Ok && (u.flags & pfs::kFsReadOnly);
  } else {
    const bool at = r.rax == L::kFchownat;
    if (at && (r.r8 & ~(L::AT_SYMLINK_NOFOLLOW | L::AT_EMPTY_PATH))) return value(-L::EINVAL);
    const bool follow = r.rax == L::kChown || (at && !(r.r8 & L::AT_SYMLINK_NOFOLLOW));
    char path[kPathMax];
    const int64_t dirfd = at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD;
    if (int64_t e = path_arg(p, dirfd, at ? r.rsi : r.rdi, path, follow); e < 0) return value(e);
    if (p.uid[1] != 0)
      if (int64_t e = search(p, path, p.uid[1], p.gid[1]); e < 0) return value(e);
    if (int64_t e = stat_any(p, path, &st, follow); e < 0) return value(e);
    uid = uint32_t(at ? r.rdx : r.rsi), gid = uint32_t(at ? r.r10 : r.rdx);
    if (own_file(path)) return value(p.uid[1] == 0 ? 0 : -L::EPERM);
    keel::fs::FsUsage u;
    read_only = keel::fs::statfs(path, &u) == Status::Ok && (u.flags & pfs::kFsReadOnly);
  }
  return value(do_chown(p, st, uid, gid, read_only));
}

}  // namespace

void apply_owner(L::Stat* st) {
  if (g_owners_used == 0) return;
  if (const Owner* o = find_owner(st->st_dev, st->st_ino)) {
    st->st_uid = o->uid;
    st->st_gid = o->gid;
  }
}

bool dispatch_perms(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  const uint64_t nr = r.rax;
  g_made[0] = 0;
  if (nr == L::kChown || nr == L::kFchown || nr == L::kLchown || nr == L::kFchownat) {
    *out = sys_chown(p, r);
    return true;
  }
  if ((p.uid[0] | p.uid[1]) == 0) return false;  // root: the syscalls' own checks
  const bool root = p.uid[1] == 0;
  char path[kPathMax], path2[kPathMax];
  int64_t e = 0;
  switch (nr) {
    case L::kAccess: case L::kFaccessat: case L::kFaccessat2: {
      const bool at = nr != L::kAccess;
      constexpr uint64_t kAtEaccess = 0x200;
      const bool eff = nr == L::kFaccessat2 && (r.r10 & kAtEaccess);
      if (nr == L::kFaccessat2 && (r.r10 & ~(kAtEaccess | L::AT_SYMLINK_NOFOLLOW | L::AT_EMPTY_PATH)))
        return (*out = value(-L::EINVAL)), true;
      const uint32_t uid = eff ? p.uid[1] : p.uid[0], gid = eff ? p.gid[1] : p.gid[0];
      if (uid == 0) return false;
      *out = value(check_access(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi,
                                at ? r.rdx : r.rsi, uid, gid));
      return true;
    }
    default: break;
  }
  if (root) return false;
  switch (nr) {
    case L::kOpen: case L::kCreat:
      e = check_open(p, L::AT_FDCWD, r.rdi, nr == L::kCreat ? L::O_CREAT | L::O_WRONLY | L::O_TRUNC : r.rsi);
      break;
    case L::kOpenat: e = check_open(p, int64_t(int32_t(r.rdi)), r.rsi, r.rdx); break;
    case L::kExecve: {
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Search, true, path);
      L::Stat st;
      if (e == 0 && path[0] && stat_any(p, path, &st) == 0 && (st.st_mode & L::S_IFMT) == L::S_IFREG &&
          !allowed(st, p.uid[1], p.gid[1], kX))
        e = -L::EACCES;
      break;
    }
    case L::kChdir: {
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Search, true, path);
      L::Stat st;
      if (e == 0 && path[0] && stat_any(p, path, &st) == 0 && (st.st_mode & L::S_IFMT) == L::S_IFDIR &&
          !allowed(st, p.uid[1], p.gid[1], kX))
        e = -L::EACCES;
      break;
    }
    case L::kTruncate: {
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Search, true, path);
      L::Stat st;
      if (e == 0 && path[0] && stat_any(p, path, &st) == 0 && !allowed(st, p.uid[1], p.gid[1], kW)) e = -L::EACCES;
      break;
    }
    case L::kChmod: case L::kFchmodat: {
      const bool at = nr == L::kFchmodat;
      e = check_path(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, Need::Search, true, path);
      L::Stat st;
      if (e == 0 && path[0] && stat_any(p, path, &st) == 0 && st.st_uid != p.uid[1]) e = -L::EPERM;
      break;
    }
    case L::kStat: case L::kLstat: case L::kReadlink:
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Search, false, path);
      break;
    case L::kNewfstatat: case L::kStatx: case L::kReadlinkat:
      e = check_path(p, int64_t(int32_t(r.rdi)), r.rsi, Need::Search, false, path);
      break;
    case L::kMkdir: case L::kMknod: e = check_path(p, L::AT_FDCWD, r.rdi, Need::Make, false, path); break;
    case L::kMkdirat: case L::kMknodat:
      e = check_path(p, int64_t(int32_t(r.rdi)), r.rsi, Need::Make, false, path);
      break;
    case L::kSymlink: e = check_path(p, L::AT_FDCWD, r.rsi, Need::Make, false, path); break;
    case L::kSymlinkat: e = check_path(p, int64_t(int32_t(r.rsi)), r.rdx, Need::Make, false, path); break;
    case L::kUnlink: case L::kRmdir: e = check_path(p, L::AT_FDCWD, r.rdi, Need::Remove, false, path); break;
    case L::kUnlinkat: e = check_path(p, int64_t(int32_t(r.rdi)), r.rsi, Need::Remove, false, path); break;
    case L::kLink:
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Search, false, path);
      if (e == 0) e = check_path(p, L::AT_FDCWD, r.rsi, Need::Remove, false, path2);  // (an entry made: not owned anew)
      break;
    case L::kLinkat:
      e = check_path(p, int64_t(int32_t(r.rdi)), r.rsi, Need::Search, false, path);
      if (e == 0) e = check_path(p, int64_t(int32_t(r.rdx)), r.r10, Need::Remove, false, path2);
      break;
    case L::kRename:
      e = check_path(p, L::AT_FDCWD, r.rdi, Need::Remove, false, path);
      if (e == 0) e = check_path(p, L::AT_FDCWD, r.rsi, Need::Remove, false, path2);
      break;
    case L::kRenameat: case L::kRenameat2:
      e = check_path(p, int64_t(int32_t(r.rdi)), r.rsi, Need::Remove, false, path);
      if (e == 0) e = check_path(p, int64_t(int32_t(r.rdx)), r.r10, Need::Remove, false, path2);
      break;
    default: return false;
  }
  if (e == 0) return false;
  g_made[0] = 0;
  *out = value(e);
  return true;
}

void perms_done(const Result& res) {
  if (g_made[0] == 0) return;
  if (res.kind == Out::Value && res.value >= 0) {
    L::Stat st;
    if (stat_path(g_made, &st) == 0) set_owner(st.st_dev, st.st_ino, g_made_uid, g_made_gid);
  }
  g_made[0] = 0;
}

}  // namespace linux_srv
