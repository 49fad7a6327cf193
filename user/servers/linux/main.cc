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

#include "internal.h"
#include "stack.h"

using namespace linux_srv;

namespace linux_srv {
// ---------------------------------------------------------------- syscalls















void put_field(uint8_t* uts, int index, const char* s) { copy_cstr(reinterpret_cast<char*>(uts + index * L::kUtsField), s, L::kUtsField - 1); }









Result dispatch_one(Thread& t, UserRegs& r);

// One syscall of thread `t`. `r` may be changed (Out::Regs replies with it).
// A path through a symbolic link in its middle is ENOTDIR at the VFS (its
// servers do not follow links): such a call runs once more with path_arg
// following them (files.cc).
Result dispatch(Thread& t, UserRegs& r) {
  const UserRegs entry = r;
  Result res{};
  if (!dispatch_perms(t, r, &res)) res = dispatch_one(t, r);  // (perms.cc: non-root callers, chown)
  perms_done(res);
  if (res.kind != Out::Value || res.value != -L::ENOTDIR || !t.used || !path_syscall(entry.rax)) return res;
  r = entry;
  g_walk_links = true;
  if (!dispatch_perms(t, r, &res)) res = dispatch_one(t, r);
  perms_done(res);
  g_walk_links = false;
  return res;
}

Result dispatch_one(Thread& t, UserRegs& r) {
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
      // A symbolic link as the last component is followed only when the open
      // may have met one (initrdfs refuses to open a link as a file:
      // Unsupported, ELOOP from open_path; initrdfs with O_DIRECTORY:
      // ENOTDIR), then opened again: one VFS call, not a stat in
      // follow_links first. (O_CREAT|O_EXCL never follows a final symbolic
      // link: it is EEXIST.)
      const bool follow = !(flags & L::O_NOFOLLOW) && (flags & (L::O_CREAT | L::O_EXCL)) != (L::O_CREAT | L::O_EXCL);
      if (int64_t e = path_arg(p, dirfd, path_addr, path, false); e < 0) return value(e);
      const bool proc = procfs_path(path);
      if (proc && follow)
        if (int64_t e = follow_links(path); e < 0) return value(e);
      if (p.no_ctty && str_eq(path, "/dev/tty")) return value(-L::ENXIO);  // (no controlling terminal: setsid)
      const int fd = alloc_fd(p);
      if (fd < 0) return value(-L::EMFILE);
      File* f = nullptr;
      int64_t e = proc ? procfs_open(p, path, flags, &f) : open_path(path, flags, mode & ~uint64_t(p.umask), &f);
      if (!proc && follow && (e == -L::ELOOP || (e == -L::ENOTDIR && (flags & L::O_DIRECTORY)))) {
        if (int64_t l = follow_links(path); l < 0) return value(l);
        e = procfs_path(path) ? procfs_open(p, path, flags, &f) : open_path(path, flags, mode & ~uint64_t(p.umask), &f);
      }
      if (e == kOpenWait) return kBlock;  // a FIFO's other end (files.cc)
      if (e < 0) return value(e);
      if (f->kind == FileKind::Console) tty_opened(p, f);  // (which tty: tty.cc)
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
      const uint64_t out = nr == L::kNewfstatat ? r.rdx : r.rsi;
      int64_t e = 0;
      if (nr == L::kNewfstatat) {
        constexpr uint64_t kAtNoAutomount = 0x800;
        if (r.r10 & ~(L::AT_SYMLINK_NOFOLLOW | L::AT_EMPTY_PATH | kAtNoAutomount)) return value(-L::EINVAL);
        e = stat_at(p, int64_t(int32_t(r.rdi)), r.rsi, r.r10, &st);
      } else {
        e = stat_at(p, L::AT_FDCWD, r.rdi, nr == L::kLstat ? L::AT_SYMLINK_NOFOLLOW : 0, &st);
      }
      if (e == 0 && !write_obj(p, out, st)) e = -L::EFAULT;
      return value(e);
    }
    case L::kStatx: return sys_statx(p, r);
    case L::kSendfile: return sys_sendfile(p, r);
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
    case L::kMsync: return sys_msync(p, r.rdi, r.rsi, r.rdx);
    case L::kMprotect: return sys_mprotect(p, r.rdi, r.rsi, r.rdx);
    case L::kMadvise: return sys_madvise(p, r.rdi, r.rsi, r.rdx);
    case L::kMremap: return sys_mremap(p, r);
    case L::kBrk: return sys_brk(p, r.rdi);
    case L::kIoctl: return sys_ioctl(p, int64_t(r.rdi), r.rsi, r.rdx);
    case L::kAccess: case L::kFaccessat: case L::kFaccessat2: {
      char path[kPathMax];
      const bool at = nr != L::kAccess;
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path); e < 0)
        return value(e);
      const uint64_t mode = at ? r.rdx : r.rsi;
      if (mode & ~uint64_t(7)) return value(-L::EINVAL);
      L::Stat st;
      if (int64_t e = stat_any(p, path, &st); e < 0) return value(e);
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
    case L::kGetpid: return value(p.pid);
    case L::kGetppid: return value(p.ppid);
    case L::kGettid: return value(t.tid);
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
        case L::ARCH_GET_GS: return value(write_obj(p, r.rsi, uint64_t(0)) ? 0 : -L::EFAULT);
        case L::ARCH_SET_GS: return value(-L::EPERM);  // (a thread's GS base stays 0 here)
        default: return value(-L::EINVAL);
      }
    }
    case L::kSetTidAddress: t.clear_child_tid = r.rdi; return value(t.tid);
    case L::kRseq: return value(-L::ENOSYS);
    case L::kGetrandom: {
      if (r.rdx & ~uint64_t(7)) return value(-L::EINVAL);
      File rnd;
      rnd.kind = FileKind::Random;
      bool block = false;
      return value(sys_read_file(p, t, &rnd, r.rdi, r.rsi > 33554431 ? 33554431 : r.rsi, &block));
    }
    case L::kPrlimit64: case L::kGetrlimit: case L::kSetrlimit: {
      const bool pr = nr == L::kPrlimit64;
      const uint64_t res = pr ? r.rsi : r.rdi;
      const uint64_t in = pr ? r.rdx : nr == L::kSetrlimit ? r.rsi : 0;
      const uint64_t out = pr ? r.r10 : nr == L::kGetrlimit ? r.rsi : 0;
      Proc* q = &p;
      if (pr && r.rdi != 0) q = proc_by_pid(int(r.rdi));
      if (!q) return value(-L::ESRCH);
      if (res >= 16) return value(-L::EINVAL);
      uint64_t lim[2] = {q->rlimit[res][0], q->rlimit[res][1]};
      if (lim[0] == 0 && lim[1] == 0) {  // the defaults
        lim[0] = lim[1] = ~0ull;
        if (res == 3) lim[0] = kStackSize;            // RLIMIT_STACK
        if (res == 7) lim[0] = lim[1] = kMaxFds;      // RLIMIT_NOFILE
      }
      if (out && !write_user(p, out, lim, sizeof lim)) return value(-L::EFAULT);
      if (in) {
        uint64_t want[2];
        if (!read_user(p, in, want, sizeof want)) return value(-L::EFAULT);
        if (want[0] > want[1]) return value(-L::EINVAL);
        if (res == 7 && want[1] > kMaxFds) return value(-L::EPERM);  // past what the table holds
        q->rlimit[res][0] = want[0];
        q->rlimit[res][1] = want[1];
        if (res == 7) q->nofile = want[0];
      }
      return value(0);
    }
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
      if (int64_t e = stat_any(p, path, &st); e < 0) return value(e);
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
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path, false); e < 0)
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
      return value(errno_of(keel::fs::ftruncate(f->fid, r.rsi)));
    }
    case L::kGetdents64: return sys_getdents64(p, r);
    case L::kFcntl: return sys_fcntl(p, int64_t(r.rdi), r.rsi, r.rdx);
    case L::kFsync: case L::kFdatasync: return value(fd_file(p, int64_t(r.rdi)) ? 0 : -L::EBADF);
    case L::kSync: return value(0);
    case L::kReadlink: case L::kReadlinkat: {
      const bool at = nr == L::kReadlinkat;
      char path[kPathMax];
      if (int64_t e = path_arg(p, at ? int64_t(int32_t(r.rdi)) : L::AT_FDCWD, at ? r.rsi : r.rdi, path, false); e < 0)
        return value(e);
      const uint64_t buf = at ? r.rdx : r.rsi, size = at ? r.r10 : r.rdx;
      if (int64_t(size) <= 0) return value(-L::EINVAL);
      char target[kPathMax];
      // /proc's links, or the VFS's (the initrd's /bin/APPLET -> busybox: read_link)
      const int64_t e = procfs_path(path) ? procfs_readlink(p, path, target, sizeof target)
                                          : read_link(path, target, sizeof target);
      if (e < 0) return value(e);
      size_t n = strlen(target);
      if (n > size) n = size_t(size);
      return value(write_user(p, buf, target, n) ? int64_t(n) : -L::EFAULT);
    }
    case L::kExecve: return sys_execve(p, t, r);
    case L::kExitGroup:  // (exit, of one thread: threads.cc)
      robust_lists_death(p);  // (FUTEX_OWNER_DIED on the locks its threads hold)
      end_process(p, L::wait_exited(int(r.rdi)));
      return kGone;
    case L::kPrctl: return value(-L::EINVAL);
    case L::kGetcpu: {
      const uint32_t zero = 0;
      if (r.rdi && !write_obj(p, r.rdi, zero)) return value(-L::EFAULT);
      if (r.rsi && !write_obj(p, r.rsi, zero)) return value(-L::EFAULT);
      return value(0);
    }
    default: break;
  }
  // Areas with files of their own (signals.cc, threads.cc, tty.cc) handle
  // their syscalls there: each returns false for a number it does not take.
  Result area{};
  if (nr == L::kKill && int32_t(r.rdi) == 1 && kill_init(int64_t(r.rsi), &area)) return area;  // (tty.cc)
  if (dispatch_signals(t, r, &area) || dispatch_threads(t, r, &area) || dispatch_tty(t, r, &area) ||
      dispatch_system(t, r, &area) || dispatch_files(t, r, &area) || dispatch_time(t, r, &area) ||
      dispatch_process(t, r, &area) || dispatch_statfs(t, r, &area))
    return area;
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
  if (t.proc && t.proc->stopped) {  // it stays stopped: SIGCONT resumes it (signals.cc)
    t.stopped = true;
    return;
  }
  cpu_resume(t);
  (void)sys::thread_resume(t.thread);
}

bool g_retrying = false;
bool g_retry_again = false;

// Runs again every waiting syscall, completing those that can finish now.
// `kind` names what changed, for the reader: every waiting call is rerun
// (they are few; a call checks for itself whether it can finish), and a
// retry asked for during a retry makes that one loop once more.
void retry_blocked(Block kind) {
  (void)kind;
  if (g_retrying) {
    g_retry_again = true;
    return;
  }
  g_retrying = true;
  do {
    g_retry_again = false;
    for (size_t i = 0; i < g_threads_used_end; ++i) {  // (not all 128 slots: every pipe read and write runs this)
      Thread& t = g_threads[i];
      // (a stopped process's waiting calls are held: SIGCONT reruns them)
      if (!t.used || t.block == Block::None || t.proc->stopped) continue;
      UserRegs r = t.regs;
      set_dispatching(&t);
      Result res = dispatch(t, r);
      set_dispatching(nullptr);
      if (!t.used) continue;  // the process ended meanwhile
      if (res.kind == Out::Block) continue;
      t.block = Block::None;
      t.progress = 0;
      if (res.kind == Out::Value) complete(t, res.value);
    }
  } while (g_retry_again);
  g_retrying = false;
}

// When the loop must wake up without a message: the earliest sleeper, and at
// most 50 ms from when it was computed (to notice processes that faulted).
// Cached: recomputed (a scan and a clock read) only when the loop woke up
// without a message or a sleeper was added, not for every syscall.
uint64_t g_wake_at = 0;
bool g_wake_stale = true;

uint64_t next_deadline() {
  if (!g_wake_stale) return g_wake_at;
  uint64_t d = keel::now_ns() + 50'000'000;
  for (Thread& t : g_threads)
    if (t.used && (t.block == Block::Sleep || (t.block == Block::Futex && t.wake_ns)) && t.wake_ns < d) d = t.wake_ns;
  d = signal_deadline(d);
  g_wake_at = d;
  g_wake_stale = false;
  return d;
}

// ---------------------------------------------------------------- starting programs

// Starts the program `argv[0]` as a new Linux process (no parent) with
// stdin, stdout and stderr on the console. Returns its pid or -errno.
int64_t spawn_program(std::span<const std::string_view> argv, const char* program) {
  Proc* p = new_proc();
  if (!p) return -L::EAGAIN;
  Thread* t = new_thread(p, p->pid);
  if (!t) {
    *p = Proc{};
    return -L::EAGAIN;
  }
  p->pgid = p->sid = p->pid;
  p->ppid = 1;
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
  int64_t e = resolve(*p, L::AT_FDCWD, program ? program : arg0, path);
  if (e == 0) e = follow_links(path);
  const std::string_view envp[] = {"PATH=/bin:/sbin:/usr/bin", "HOME=/root", "TERM=vt100", "USER=root"};
  UserRegs regs{};
  if (e == 0) e = exec_into(*p, path, argv, envp, &regs);
  if (e == 0) comm_from_name(*p, program ? program : arg0);
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

}  // namespace linux_srv

int main(uint64_t) {
  std::string_view args[16];
  const size_t nargs = keel::start_args(args, 16);
  fetch_boot_time();
  keel::fs::use_channels(true);  // (open, close, stat, fstat straight to the mount's server)
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
  unsigned since_poll = 0, since_clock = 0;
  bool reply_pending = false;  // msg holds a reply to send with the next receive
  for (;;) {
    // The reply to the last call and the next call in one syscall.
    const int64_t rr = reply_pending ? sys::ipc_reply_recv(g_ep, &msg, next_deadline())
                                     : sys::ipc_recv(g_ep, &msg, next_deadline());
    reply_pending = false;
    if (rr != 0) g_wake_stale = true;
    // The interval timers and the poll below when the deadline the receive
    // had (next_deadline(): the earliest timer and sleeper, at most 50 ms
    // ahead) has passed, as seen every 32 messages, not for every syscall: a
    // clock read and a scan of the processes per syscall were a tenth of a
    // getppid.
    bool due = rr != 0;
    if (!due && ++since_clock >= 32) {
      since_clock = 0;
      due = keel::now_ns() >= g_wake_at;
    }
    if (due) {
      signal_timers();
      g_wake_stale = true;  // (the next receive gets the next deadline)
    }
    if (due || ++since_poll >= 1024) {
      since_poll = 0;
      reap_dead_keel_processes();
      retry_blocked(Block::Sleep);
      tty_tick();
      batch_next();
      if (rr != 0) continue;
    }
    if ((msg.badge & kPagerBadge) && !(msg.badge & kThreadBadge)) {  // a Linux process's unresolvable fault
      signal_page_fault(msg.badge, msg);  // (replies itself)
      continue;
    }
    if (!(msg.badge & kThreadBadge)) {  // a native client: the console's tty (tty.cc), init's heartbeat
      if (tty_native(msg)) continue;  // (answered already)
      const bool ping = keel::IpcTag::label(msg.tag) == keel::rpc::kMethodPing;
      for (uint32_t i = 0; i < keel::IpcTag::handles(msg.tag) && i < keel::kIpcMaxHandles; ++i)
        sys::handle_close(msg.handles[i]);
      msg.tag = keel::IpcTag::make(uint32_t(ping ? Status::Ok : Status::Unsupported), 0, 0, 0);
      reply_pending = true;
      continue;
    }
    Thread* t = thread_of_badge(msg.badge);
    if (keel::IpcTag::label(msg.tag) != keel::kForeignSyscallLabel || !t ||
        keel::IpcTag::words(msg.tag) != keel::kUserRegsWords) {
      msg.tag = keel::IpcTag::make(0xdead, 0, 0, 0);  // a thread we no longer know: the kernel kills it
      reply_pending = true;
      continue;
    }
    UserRegs r;
    memcpy(&r, msg.words, sizeof r);
    const UserRegs entry = r;
    cpu_enter(*t);
    set_dispatching(t);
    Result res = signal_on_return(*t, entry, r, dispatch(*t, r));
    set_dispatching(nullptr);
    if (t->used) {  // (the ids it may have changed; the fast path back on once no signal is pending)
      fast_publish(*t->proc);
      fast_sync(*t);
    }
    if (g_trace && t->used)
      keel::print("linux: [{}] {}({:#x}, {:#x}, {:#x}) = {}\n", t->tid, L::syscall_name(entry.rax), entry.rdi,
                  entry.rsi, entry.rdx, res.kind == Out::Value ? res.value : 0);
    if (t->used && (res.kind == Out::Value || res.kind == Out::Regs)) cpu_resume(*t);
    switch (res.kind) {
      case Out::Value:
        msg.tag = keel::IpcTag::make(keel::kForeignReplyResume, 1, 0, 0);
        msg.words[0] = uint64_t(res.value);
        reply_pending = true;
        break;
      case Out::Regs:
        msg.tag = keel::IpcTag::make(keel::kForeignReplyResume, keel::kUserRegsWords, 0, 0);
        memcpy(msg.words, &r, sizeof r);
        reply_pending = true;
        break;
      case Out::Block:
        if (t->block == Block::None) {  // (a handler may have named what it waits for)
          t->block = entry.rax == L::kWait4 ? Block::Wait4 : Block::PipeRead;
          if (entry.rax == L::kNanosleep || entry.rax == L::kClockNanosleep || entry.rax == L::kRtSigtimedwait ||
              entry.rax == L::kPoll || entry.rax == L::kPpoll || entry.rax == L::kSelect || entry.rax == L::kPselect6)
            t->block = Block::Sleep;
        }
        if (t->block == Block::Sleep || t->block == Block::Futex) {
          g_wake_stale = true;
        }
        t->regs = entry;
        msg.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
        reply_pending = true;
        break;
      case Out::Gone:
        if (res.value == 0) {  // the process is being (or was) killed: stop the thread
          msg.tag = keel::IpcTag::make(keel::kForeignReplySuspend, 0, 0, 0);
          reply_pending = true;
        }
        break;
    }
    if (g_batch.active) batch_next();
  }
}
