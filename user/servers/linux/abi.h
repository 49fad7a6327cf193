// linux/abi.h — the parts of the Linux x86-64 user ABI the personality
// server implements: syscall numbers, errno values, flags and structure
// layouts. Values from the Linux man pages (man-pages 6.x, sections 2 and 7)
// and the x86-64 psABI; nothing here is Keel's own choice.
#pragma once

#include <cstdint>

namespace linux_abi {

// ---- syscall numbers (x86-64: arch/x86/entry/syscalls/syscall_64.tbl order)
enum Nr : uint64_t {
  kRead = 0, kWrite = 1, kOpen = 2, kClose = 3, kStat = 4, kFstat = 5, kLstat = 6, kPoll = 7, kLseek = 8,
  kMmap = 9, kMprotect = 10, kMunmap = 11, kBrk = 12, kRtSigaction = 13, kRtSigprocmask = 14,
  kRtSigreturn = 15, kIoctl = 16, kPread64 = 17, kPwrite64 = 18, kReadv = 19, kWritev = 20, kAccess = 21,
  kPipe = 22, kSelect = 23, kSchedYield = 24, kMremap = 25, kMsync = 26, kMincore = 27, kMadvise = 28,
  kDup = 32, kDup2 = 33, kPause = 34, kNanosleep = 35, kGetitimer = 36, kAlarm = 37, kSetitimer = 38,
  kGetpid = 39, kSendfile = 40, kClone = 56, kFork = 57, kVfork = 58, kExecve = 59, kExit = 60, kWait4 = 61,
  kKill = 62, kUname = 63, kFcntl = 72, kFlock = 73, kFsync = 74, kFdatasync = 75, kTruncate = 76,
  kFtruncate = 77, kGetdents = 78, kGetcwd = 79, kChdir = 80, kFchdir = 81, kRename = 82, kMkdir = 83,
  kRmdir = 84, kCreat = 85, kLink = 86, kUnlink = 87, kSymlink = 88, kReadlink = 89, kChmod = 90,
  kFchmod = 91, kChown = 92, kFchown = 93, kLchown = 94, kUmask = 95, kGettimeofday = 96, kGetrlimit = 97,
  kGetrusage = 98, kSysinfo = 99, kTimes = 100, kGetuid = 102, kGetgid = 104, kSetuid = 105,
  kSetgid = 106, kGeteuid = 107, kGetegid = 108, kSetpgid = 109, kGetppid = 110, kGetpgrp = 111,
  kSetsid = 112, kSetreuid = 113, kSetregid = 114, kGetgroups = 115, kSetgroups = 116, kSetresuid = 117,
  kGetresuid = 118, kSetresgid = 119, kGetresgid = 120, kGetpgid = 121, kSetfsuid = 122, kSetfsgid = 123,
  kGetsid = 124, kRtSigpending = 127, kRtSigtimedwait = 128, kRtSigsuspend = 130, kSigaltstack = 131,
  kUtime = 132, kMknod = 133, kStatfs = 137, kFstatfs = 138, kGetpriority = 140, kSetpriority = 141,
  kSchedGetparam = 143, kSchedGetscheduler = 145, kPrctl = 157, kArchPrctl = 158, kSetrlimit = 160,
  kSync = 162, kGettid = 186, kTkill = 200, kTime = 201, kFutex = 202, kSchedSetaffinity = 203,
  kSchedGetaffinity = 204, kGetdents64 = 217, kSetTidAddress = 218, kFadvise64 = 221,
  kClockSettime = 227, kClockGettime = 228, kClockGetres = 229, kClockNanosleep = 230, kExitGroup = 231,
  kTgkill = 234, kUtimes = 235, kWaitid = 247, kOpenat = 257, kMkdirat = 258, kMknodat = 259,
  kFchownat = 260, kNewfstatat = 262, kUnlinkat = 263, kRenameat = 264, kLinkat = 265, kSymlinkat = 266,
  kReadlinkat = 267, kFchmodat = 268, kFaccessat = 269, kPselect6 = 270, kPpoll = 271, kSetRobustList = 273,
  kGetRobustList = 274, kUtimensat = 280, kDup3 = 292, kPipe2 = 293, kPrlimit64 = 302, kGetcpu = 309,
  kRenameat2 = 316, kGetrandom = 318, kStatx = 332, kRseq = 334, kClone3 = 435, kFaccessat2 = 439,
};

// The name of syscall `nr` for logs and traces ("?" if unknown).
const char* syscall_name(uint64_t nr);

// ---- errno (asm-generic/errno-base.h, errno.h values as the man pages list them)
enum Errno : int64_t {
  EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18,
  ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, EFBIG = 27,
  ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36,
  ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, EOVERFLOW = 75, ENOTSUP = 95, ETIMEDOUT = 110,
};

// ---- open(2) flags, *at(2)
inline constexpr uint64_t O_ACCMODE = 03, O_RDONLY = 0, O_WRONLY = 01, O_RDWR = 02, O_CREAT = 0100,
                          O_EXCL = 0200, O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000,
                          O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000,
                          O_CLOEXEC = 02000000, O_PATH = 010000000;
inline constexpr int64_t AT_FDCWD = -100;
inline constexpr uint64_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000;
inline constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4,
                          F_DUPFD_CLOEXEC = 1030, FD_CLOEXEC = 1;

// ---- mmap(2)
inline constexpr uint64_t PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
inline constexpr uint64_t MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_TYPE = 0x0f, MAP_FIXED = 0x10,
                          MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
inline constexpr uint64_t MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

// ---- arch_prctl(2)
inline constexpr uint64_t ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003,
                          ARCH_GET_GS = 0x1004;

// ---- wait4(2) status words and options
inline constexpr uint64_t WNOHANG = 1, WUNTRACED = 2, WCONTINUED = 8;
constexpr uint32_t wait_exited(int code) { return uint32_t(code & 0xff) << 8; }
constexpr uint32_t wait_signaled(int sig) { return uint32_t(sig & 0x7f); }

// ---- signals (signal(7))
enum Signal : int {
  SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8,
  SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15,
  SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28,
};
inline constexpr int kSignalCount = 64;

// ---- auxiliary vector (getauxval(3))
enum Auxv : uint64_t {
  AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8,
  AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16,
  AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31,
};

// ---- struct stat (x86-64, 144 bytes: stat(2), asm/stat.h layout)
struct Stat {
  uint64_t st_dev, st_ino, st_nlink;
  uint32_t st_mode, st_uid, st_gid, pad0;
  uint64_t st_rdev;
  int64_t st_size, st_blksize, st_blocks;
  int64_t st_atime_sec, st_atime_nsec, st_mtime_sec, st_mtime_nsec, st_ctime_sec, st_ctime_nsec;
  int64_t reserved[3];
};
static_assert(sizeof(Stat) == 144);
inline constexpr uint32_t S_IFMT = 0170000, S_IFDIR = 0040000, S_IFCHR = 0020000, S_IFREG = 0100000,
                          S_IFIFO = 0010000, S_IFLNK = 0120000;

// getdents64(2): struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
inline constexpr uint8_t DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_REG = 8, DT_LNK = 10;

// struct utsname: six fields of 65 bytes (uname(2)).
inline constexpr unsigned kUtsField = 65;

// struct timespec / timeval.
struct Timespec {
  int64_t tv_sec, tv_nsec;
};
inline constexpr uint64_t CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2,
                          CLOCK_THREAD_CPUTIME_ID = 3, CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5,
                          CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7;

// ioctl(2) on terminals (ioctl_tty(2)).
inline constexpr uint64_t TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404,
                          TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410,
                          TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541b;

// clone(2) flags.
inline constexpr uint64_t CSIGNAL = 0xff, CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400,
                          CLONE_SIGHAND = 0x800, CLONE_VFORK = 0x4000, CLONE_PARENT = 0x8000,
                          CLONE_THREAD = 0x10000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000,
                          CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x1000000;

}  // namespace linux_abi
