// linux/linux.h — the Linux personality server's state: Linux processes,
// threads, open files, memory maps. docs/linux.md describes the design.
//
// Every Linux thread is a Keel thread whose syscall handler is this server's
// endpoint, badged with the thread's tid (thread_set_syscall_handler). The
// server is single-threaded: one loop receives foreign syscalls, and a call
// that must wait (wait4, a pipe, nanosleep) is answered with
// kForeignReplySuspend and completed later (thread_write_state +
// thread_resume) when what it waits for happens; the server never blocks on
// one client.
#pragma once

#include <keel/fs.h>
#include <keel/keel.h>

#include <cstddef>
#include <cstdint>

#include "abi.h"
#include "sigframe.h"

namespace linux_srv {

using keel::Handle;
using keel::Status;

inline constexpr size_t kMaxProcs = 64;
inline constexpr size_t kMaxThreads = 128;
inline constexpr size_t kMaxFds = 256;
inline constexpr size_t kMaxMaps = 96;
inline constexpr size_t kPathMax = 192;    // = the VFS's bound (keel/path.h)
inline constexpr size_t kPipeSize = 65536;  // pipe(7): the default capacity
inline constexpr size_t kPipeBuf = 4096;    // PIPE_BUF: writes up to this size are atomic

// A MemoryObject shared by the pieces of a split mapping.
struct Vmo {
  Handle handle = keel::kInvalidHandle;
  int refs = 0;
  // A private file mapping's copy: offsets from here on are past the end of
  // the file (mapped without access; a fault there is SIGBUS). 0: none;
  // ~0: from offset 0.
  uint64_t past_eof = 0;
  // A MAP_SHARED mapping of a file open for reading and writing: the file
  // (a reference) and the part of it the object holds, written back by
  // msync and when the last mapping of it goes (mem.cc).
  struct File* backing = nullptr;
  uint64_t file_off = 0, file_len = 0;
  // A program file's object (exec, keel/proto/fs.h kImage): read-only and
  // never written, so fork maps it in the child as it is instead of a
  // clone; mprotect that adds PROT_WRITE first replaces the mapping by a
  // private copy-on-write clone (mem.cc, privatize).
  bool image = false;
};

struct Mapping {
  bool used = false;
  uint64_t start = 0, len = 0;  // page-aligned
  uint32_t prot = 0;            // PROT_*
  bool shared = false;          // MAP_SHARED: fork maps the same object, not a copy
  Vmo* vmo = nullptr;
  uint64_t offset = 0;          // of `start` in vmo
};

struct Pipe {
  uint8_t* buf = nullptr;  // kPipeSize bytes
  size_t head = 0, count = 0;
  int readers = 0, writers = 0;
};

enum class FileKind : uint8_t { Console, Vfs, PipeRead, PipeWrite, Null, Zero, Full, Random, DevDir, ProcFile, ProcDir };

struct File {
  int refs = 0;
  FileKind kind = FileKind::Null;
  uint64_t flags = 0;        // O_ACCMODE | O_APPEND | O_NONBLOCK (F_GETFL/F_SETFL)
  keel::fs::Fid fid = 0;     // Vfs
  uint64_t type = 0;         // Vfs: keel::proto::fs::kType*
  uint64_t dir_cookie = 0;   // Vfs directory: getdents64's position
  Pipe* pipe = nullptr;
  char* data = nullptr;      // ProcFile: its text; ProcDir: its entries (procfs.cc); read at dir_cookie
  size_t data_len = 0;
  uint32_t tty = 0;          // Console: its tty's id (tty.cc; 0: none, the kernel log)
  char path[kPathMax] = {};  // normalised absolute path (fstat, fchdir, /proc)
};

struct Fd {
  File* file = nullptr;
  bool cloexec = false;
};

enum class Block : uint8_t { None, Wait4, PipeRead, PipeWrite, Sleep, Pause, Futex, Vfork };

struct Proc;

struct Thread {
  bool used = false;
  int tid = 0;
  Proc* proc = nullptr;
  Handle thread = keel::kInvalidHandle;  // Keel thread (manage)
  uint64_t clear_child_tid = 0;          // set_tid_address / CLONE_CHILD_CLEARTID
  // A syscall waiting (answered with kForeignReplySuspend): its registers
  // and what it waits for; it is run again when that may have changed.
  Block block = Block::None;
  keel::UserRegs regs{};
  uint64_t wake_ns = 0;   // Sleep
  uint64_t progress = 0;  // PipeWrite: bytes written so far
  uint64_t robust_list = 0, robust_len = 0;  // set_robust_list (kept, read back; not walked at exit)
  int vfork_child = 0;    // Vfork: the child whose execve or exit resumes this thread
  // Signals (signals.cc): the blocked mask, pending signals in the order
  // sent (a standard signal at most once, real-time ones queued), the
  // alternate stack, the mask rt_sigsuspend replaced.
  uint64_t sigmask = 0;
  static constexpr int kQueue = 24;
  struct Queued {
    int sig;
    linux_sigframe::Siginfo info;
  } queue[kQueue] = {};
  int queued = 0;
  uint64_t alt_sp = 0, alt_size = 0;  // alt_size 0: none (SS_DISABLE)
  bool has_saved_mask = false;
  uint64_t saved_mask = 0;
  bool stopped = false;  // suspended by a stop signal (SIGCONT resumes it)
  // CPU time (time.cc): this thread's, up to its last syscall; when it was
  // last resumed into user code (0: not running, it waits in a call).
  uint64_t cpu_ns = 0, resumed_ns = 0;
  uint64_t affinity = 0;  // sched_setaffinity's mask (system.cc; 0: every CPU)
  uint64_t cpu_wake_ns = 0;  // Sleep on CLOCK_PROCESS_CPUTIME_ID: the process CPU time it waits for (time.cc)
};

struct Proc {
  bool used = false;
  int pid = 0, ppid = 0, pgid = 0, sid = 0;
  Handle process = keel::kInvalidHandle;  // Keel process (manage, map, read, write)
  bool zombie = false;
  uint32_t wait_status = 0;
  uint64_t brk_base = 0, brk_cur = 0, brk_mapped = 0;  // [brk_base, brk_mapped) is mapped
  Mapping maps[kMaxMaps];
  Fd fds[kMaxFds];
  char cwd[kPathMax] = "/";
  char exe[kPathMax] = {};
  char comm[16] = {};
  char cmdline[256] = {};  // argv, NUL after each (as /proc/PID/cmdline shows it; cut at 256 bytes)
  size_t cmdline_len = 0;
  uint32_t umask = 022;
  uint64_t rlimit[16][2] = {};  // setrlimit/prlimit64 (cur, max); 0,0 = not set: the defaults (main.cc)
  uint64_t nofile = kMaxFds;    // RLIMIT_NOFILE's soft limit: fds from it on are refused (EMFILE)
  uint64_t sigaction[linux_sigframe::kMaxSig + 1][4] = {};  // [sig]: handler, flags, restorer, mask
  bool stopped = false;            // by SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU
  int stop_report = 0;             // for wait4: 0 none, else WUNTRACED's stop signal, or -1: continued
  uint64_t itimer_ns = 0, itimer_interval_ns = 0;  // ITIMER_REAL: next expiry (0 off), period
  // CPU time (time.cc): what its threads spent outside blocking calls, up to
  // their last syscall, and what its waited-for children (and theirs) spent.
  uint64_t cpu_ns = 0, child_cpu_ns = 0;
  // ITIMER_VIRTUAL and ITIMER_PROF: next expiry in cpu_ns (0 off), period.
  uint64_t vtimer_ns = 0, vtimer_interval_ns = 0, ptimer_ns = 0, ptimer_interval_ns = 0;
  char line[256] = {};  // console output waiting for its newline
  size_t line_len = 0;
  uint64_t start_ns = 0;
  uint64_t mmap_hint = 0;
  int vfork_parent = 0;  // tid of the thread suspended in vfork until this process execs or ends (0: none)
  int exit_signal = 17;  // what the parent gets when this process ends (SIGCHLD; clone's CSIGNAL; 0: none)
  // process.cc: whether it ran execve since its fork (setpgid by the parent:
  // EACCES), whether setsid left its controlling terminal (open of /dev/tty:
  // ENXIO), and the real, effective and saved user and group ids.
  bool execed = false;
  bool no_ctty = false;
  uint32_t uid[3] = {0, 0, 0}, gid[3] = {0, 0, 0};
};

}  // namespace linux_srv
