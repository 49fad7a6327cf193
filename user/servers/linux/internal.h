// linux/internal.h — what the Linux personality server's files share (not an
// interface: one program). linux.h has the state, docs/linux.md the design.
//
//   main.cc     the loop, the dispatch of syscalls, waiting calls, the batch
//   core.cc     tables, the Linux process's memory, the console
//   files.cc    file descriptors, the VFS, pipes, /dev, the file syscalls
//   mem.cc      memory maps and the memory syscalls
//   process.cc  loading programs, fork, execve, wait4, kill, process ends
//   time.cc     clocks, sleeps, CPU time
//   signals.cc  signal actions, masks, delivery, rt_sigreturn, interval timers
//   threads.cc  threads, exit of one thread, fork/vfork/clone, futexes
//   tty.cc      the console's tty session, tty ioctls, poll and select, reboot
//   system.cc   sysinfo, /proc/keel (Keel's services, processes, log, memory)
//   statfs.cc   statfs, fstatfs
//   perms.cc    permission checks for non-root ids, file owners, chown
//   dotdot.cc   ".." after a symbolic link, resolved physically
#pragma once

#include <keel/fs.h>
#include <keel/keel.h>
#include <keel/proto/fs.h>

#include <cstring>
#include <span>
#include <string_view>

#include "abi.h"
#include "linux.h"

namespace linux_srv {

namespace sys = keel::sys;
namespace L = linux_abi;
namespace pfs = keel::proto::fs;
using keel::kInvalidHandle;
using keel::UserRegs;

inline constexpr uint64_t kPage = keel::kPageSize;
inline constexpr uint64_t kStackTop = 0x7fff'ffff'e000;
inline constexpr uint64_t kStackSize = 8ull << 20;        // RLIMIT_STACK's usual 8 MiB, committed on touch
inline constexpr uint64_t kPieBase = 0x5555'5555'4000;    // where a PIE goes (Linux's ELF_ET_DYN_BASE on x86-64)
inline constexpr uint64_t kMmapBase = 0x7f00'0000'0000;   // mmap without a hint grows down from here
inline constexpr uint64_t kMaxImage = 32ull << 20;        // biggest program file loaded
inline constexpr uint64_t kBrkMax = 1ull << 30;           // most a heap may grow
// A foreign thread's handler badge: this bit | its tid. Only this server
// mints badges with it (names mints small service ids for native clients),
// so a message carrying it was made by the kernel for one of our threads.
// The rest of the badge: the thread's slot in g_threads (bits 32..47, for a
// lookup without a search) and its tid (bits 0..31, checked: a slot is reused).
inline constexpr uint64_t kThreadBadge = 1ull << 62;
// A Linux process's pager badge: this bit | its pid (minted here only, too).
inline constexpr uint64_t kPagerBadge = 1ull << 61;

extern Handle g_ep;  // the server endpoint (read); threads get badged copies
extern Proc g_procs[kMaxProcs];
extern Thread g_threads[kMaxThreads];
extern size_t g_threads_used_end;  // core.cc: no slot at or past it was ever used (new_thread)
extern int g_next_pid;
extern bool g_trace;
extern uint64_t g_boot_realtime_ns;  // wall-clock time at boot (0: unknown, the epoch)

// What a syscall handler decided: a value for rax, new registers (the
// handler changed `r`), "wait" (the call is kept and run again), or "gone"
// (the process ended; value 1: the reply was sent already).
enum class Out { Value, Regs, Block, Gone };
struct Result {
  Out kind;
  int64_t value;
};
inline Result value(int64_t v) { return {Out::Value, v}; }
inline constexpr Result kBlock{Out::Block, 0};
inline constexpr Result kGone{Out::Gone, 0};

struct DevNode {
  const char* path;
  FileKind kind;
};

template <typename T>
bool read_obj(Proc& p, uint64_t addr, T* v) { return read_user(p, addr, v, sizeof(T)); }
template <typename T>
bool write_obj(Proc& p, uint64_t addr, const T& v) { return write_user(p, addr, &v, sizeof(T)); }

void copy_cstr(char* dst, const char* src, size_t n);
bool str_eq(const char* a, const char* b);
const char* last_slash(const char* s, int = '/');
uint64_t page_down(uint64_t v);
uint64_t page_up(uint64_t v);
int64_t errno_of(Status s);
bool read_user(Proc& p, uint64_t addr, void* buf, size_t len);
bool write_user(Proc& p, uint64_t addr, const void* buf, size_t len);
int64_t read_string(Proc& p, uint64_t addr, char* out, size_t cap);
Thread* thread_by_tid(uint64_t tid);
uint64_t thread_badge(const Thread& t);
// The thread a foreign syscall's badge names, or null (not a thread badge, or
// a thread that is gone).
Thread* thread_of_badge(uint64_t badge);
Proc* proc_by_pid(int pid);
Proc* new_proc();
Thread* new_thread(Proc* p, int tid);
void console_write(Proc& p, const uint8_t* data, size_t len);
void console_flush(Proc& p);
File* new_file(FileKind kind);
void file_ref(File* f);
void file_unref(File* f);
int alloc_fd(Proc& p, int lowest = 0);
File* fd_file(Proc& p, int64_t fd);
void close_fd(Proc& p, int fd);
int64_t resolve(Proc& p, int64_t dirfd, const char* path, char (&out)[kPathMax]);
int64_t path_arg(Proc& p, int64_t dirfd, uint64_t addr, char (&out)[kPathMax], bool follow = true);
// dotdot.cc: whether `path` has a ".." component; resolve() with the
// directories before its last ".." taken physically (their links followed).
bool has_dotdot(const char* path);
int64_t resolve_physical(Proc& p, int64_t dirfd, const char* path, char (&out)[kPathMax]);
int64_t read_link(const char* path, char* out, size_t cap);
int64_t follow_links(char (&path)[kPathMax]);
int64_t follow_middle_links(char (&path)[kPathMax]);
const DevNode* dev_node(const char* path);
uint64_t dev_rdev(const char* path);
bool under_dev_node(const char* path);
void fill_stat(L::Stat* st, uint32_t mode, uint64_t size, uint64_t ino, uint64_t rdev = 0);
uint64_t path_ino(const char* path);
uint32_t mode_of_type(uint64_t type, uint64_t perm);
int64_t stat_path(const char* path, L::Stat* st);
int64_t stat_file(File* f, L::Stat* st);
// open(2) on an absolute normalised path: 0, -errno, or kOpenWait (a
// blocking open of a FIFO waits for its other end: the call is kBlock).
inline constexpr int64_t kOpenWait = INT64_MIN;
int64_t open_path(const char* path, uint64_t flags, uint64_t mode, File** out);
int64_t do_write(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at = -1);
int64_t sys_read_file(Proc& p, Thread& t, File* f, uint64_t buf, uint64_t len, bool* block, int64_t at = -1);
Result sigpipe(Proc& p, Thread& t, int64_t r);
Result sys_rw_vector(Proc& p, Thread& t, const UserRegs& r, bool write);
Result sys_getdents64(Proc& p, const UserRegs& r);
Result sys_pipe2(Proc& p, uint64_t addr, uint64_t flags);
Result sys_dup3(Proc& p, int64_t oldfd, int64_t newfd, uint64_t flags, bool dup2);
Result sys_fcntl(Proc& p, int64_t fd, uint64_t cmd, uint64_t arg);
void vfs_set_append(File* f, bool append);
void fifo_forget(Pipe* pp);
Result sys_lseek(Proc& p, int64_t fd, int64_t off, uint64_t whence);
Result sys_ioctl(Proc& p, int64_t fd, uint64_t req, uint64_t arg);
uint32_t keel_prot(uint64_t prot);
int64_t map_pages(Handle process, Handle vmo, uint64_t off, uint64_t addr, uint64_t len, uint64_t prot);
Vmo* new_vmo(Handle h);
void vmo_unref(Vmo* v);
Mapping* add_mapping(Proc& p, uint64_t start, uint64_t len, uint32_t prot, bool shared, Vmo* vmo, uint64_t off);
bool forget_range(Proc& p, uint64_t start, uint64_t len);
bool protect_range(Proc& p, uint64_t start, uint64_t len, uint32_t prot);
bool range_mapped(Proc& p, uint64_t start, uint64_t len);
bool range_free(Proc& p, uint64_t start, uint64_t len);
int64_t map_new(Proc& p, uint64_t addr, uint64_t len, uint64_t prot, bool fixed, bool shared, Vmo** out_vmo = nullptr);
void unmap_all(Proc& p);
Result sys_brk(Proc& p, uint64_t want);
Result sys_mmap(Proc& p, const UserRegs& r);
Result sys_munmap(Proc& p, uint64_t addr, uint64_t len);
Result sys_msync(Proc& p, uint64_t addr, uint64_t len, uint64_t flags);
Result sys_mprotect(Proc& p, uint64_t addr, uint64_t len, uint64_t prot);
Result sys_mremap(Proc& p, const UserRegs& r);
Result sys_madvise(Proc& p, uint64_t addr, uint64_t len, uint64_t advice);
Mapping* mapping_at(Proc& p, uint64_t addr);
uint64_t find_free(Proc& p, uint64_t len);
void unmap_range(Proc& p, uint64_t start, uint64_t len);
// (exec: as execve reads a program, which needs an x bit: else EACCES)
int64_t read_file(const char* path, uint8_t** out, size_t* size, bool exec = false);
int64_t start_linux_thread(Proc& p, Thread& t, const UserRegs& regs);
void set_comm(Proc& p, const char* path);
void comm_from_name(Proc& p, const char* name);  // (the name execve was given: a link's own)
void end_process(Proc& p, uint32_t status);
int signal_of_exit(int64_t code);
void reap_dead_keel_processes();
// execve into a fresh Keel process for `p` (the caller kills the old one):
// reads `path` (a "#!" script runs its interpreter), loads it, builds the
// stack. On success p.process is the new process and *regs its first
// thread's registers; -errno otherwise (p unchanged).
int64_t exec_into(Proc& p, const char* path, std::span<const std::string_view> argv_in,
                  std::span<const std::string_view> envp, UserRegs* regs);
Result sys_fork(Proc& parent, Thread& t, const UserRegs& regs);
Result sys_execve(Proc& p, Thread& t, const UserRegs& r);
// signals.cc: kill(2) from `p` (`t` its calling thread); sends `sig` with
// `info` to process `q` (tid: to that thread); what the parent of `child` is told when it
// ends, stops or continues (SIGCHLD); the delivery after each syscall.
Result sys_kill(Proc& p, Thread& t, int64_t pid, int64_t sig);
int64_t send_signal(Proc& q, Thread* to, int sig, const linux_sigframe::Siginfo& info);
void child_changed(Proc& parent, Proc& child, int code, int status);
Result signal_on_return(Thread& t, const UserRegs& entry, UserRegs& r, Result res);
void signal_timers();
extern bool g_wake_stale;  // main.cc: next_deadline must be computed again (a timer changed)
void set_dispatching(Thread* t);
Thread* dispatching_thread();  // the thread whose syscall is being handled, or null
// A kPagerLabelFault call from process `badge & ~kPagerBadge`: replies to it
// (retry into a SIGSEGV handler, or kill).
void signal_page_fault(uint64_t badge, const keel::IpcMessage& msg);  // (a signal to it is delivered on its return, not by interrupting it)
uint64_t signal_deadline(uint64_t d);
bool past_end_of_file(Proc& p, uint64_t addr);
uint64_t realtime_ns();
Result sys_clock_gettime(Proc& p, Thread& t, uint64_t clock, uint64_t addr);
// CPU time (time.cc): t makes a syscall (its running time so far is
// counted) / is resumed into user code; the totals up to now.
void cpu_enter(Thread& t);
void cpu_resume(Thread& t);
uint64_t thread_cpu_ns(const Thread& t);
uint64_t proc_cpu_ns(const Proc& p);
void put_field(uint8_t* uts, int index, const char* s);
Result dispatch(Thread& t, UserRegs& r);
void complete(Thread& t, int64_t rax);
void retry_blocked(Block kind);
uint64_t next_deadline();
// (path: the program, when it is not argv[0])
int64_t spawn_program(std::span<const std::string_view> argv, const char* path = nullptr);
bool proc_alive(int pid);
void batch_next();
void fetch_boot_time();

// /proc (procfs.cc). procfs_path: `path` (normalised) is /proc or below it.
bool procfs_path(const char* path);
int64_t procfs_open(Proc& caller, const char* path, uint64_t flags, File** out);
int64_t procfs_stat(Proc& caller, const char* path, L::Stat* st, bool follow);
int64_t procfs_readlink(Proc& caller, const char* path, char* out, size_t cap);
int64_t procfs_read(Proc& p, File* f, uint64_t buf, uint64_t len);
int64_t procfs_getdents(Proc& p, File* f, uint64_t buf, uint64_t cap);
// stat(2) of any path the caller may name: /proc, /dev, the VFS. `follow`:
// /proc's symlinks are followed (stat) or not (lstat).
int64_t stat_any(Proc& caller, const char* path, L::Stat* st, bool follow = true);

int64_t stat_at(Proc& p, int64_t dirfd, uint64_t path_addr, uint64_t flags, L::Stat* st);
Result sys_statx(Proc& p, const UserRegs& r);
Result sys_sendfile(Proc& p, const UserRegs& r);

// The syscalls of one area: true (with *out set) if `r.rax` is one of
// its numbers. signals.cc, threads.cc, tty.cc, system.cc, time.cc.
bool dispatch_signals(Thread& t, UserRegs& r, Result* out);
bool dispatch_threads(Thread& t, UserRegs& r, Result* out);
bool dispatch_tty(Thread& t, UserRegs& r, Result* out);
bool dispatch_process(Thread& t, UserRegs& r, Result* out);  // process.cc: waits, ids, groups, sessions
// files.cc: symlink, link, chmod, utimensat, mknod and their *at forms.
bool dispatch_files(Thread& t, UserRegs& r, Result* out);
// Syscall `nr` takes a path; while g_walk_links, path_arg follows symbolic
// links in the middle of paths (main.cc's dispatch, after ENOTDIR).
bool path_syscall(uint64_t nr);
extern bool g_walk_links;
bool dispatch_system(Thread& t, UserRegs& r, Result* out);
bool dispatch_statfs(Thread& t, UserRegs& r, Result* out);  // statfs.cc: statfs, fstatfs
// perms.cc: a non-root caller's permission check before a path syscall
// (true with *out = -EACCES/-EPERM: refused; false: the syscall goes on),
// chown for everyone; perms_done after it (a file it made becomes the
// caller's); apply_owner puts a file's owner into a stat.
bool dispatch_perms(Thread& t, UserRegs& r, Result* out);
void perms_done(const Result& res);
void apply_owner(L::Stat* st);
bool dispatch_time(Thread& t, UserRegs& r, Result* out);

// /proc/keel/NAME (system.cc): the files' names, and the text of one (new[],
// the caller's to delete; false if there is no such file).
inline constexpr size_t kKeelProcFileCount = 4;
extern const char* const kKeelProcFiles[kKeelProcFileCount];
bool keel_proc_text(std::string_view name, char** text, size_t* len);

// The consoles' ttys (tty.cc): a Console file is the tty File::tty names
// while that session is open. tty_native answers a native client's tty
// method (keel/proto/linux.h); tty_tick ends a session when its leader has
// ended; tty_opened picks the tty of a Console file open(2) just made
// (/dev/console: the system console's; /dev/tty: the opener's controlling tty).
bool tty_active();                // any session open
bool tty_active(const File* f);   // f's tty is open
bool tty_is_leader(int pid);      // pid leads an open session
void tty_opened(Proc& p, File* f);
int64_t tty_read(Proc& p, File* f, uint64_t buf, uint64_t len, bool* block);
int64_t tty_write(Proc& p, File* f, uint64_t buf, uint64_t len, bool* block);
Result tty_ioctl(Proc& p, File* f, uint64_t req, uint64_t arg);
bool tty_native(keel::IpcMessage& msg);
void tty_tick();
void tty_process_ended(Proc& p);
// /proc/PID/stat's tty_nr (its controlling tty's device number, 0: none) and
// tpgid (that tty's foreground process group, -1: none).
void tty_stat_fields(const Proc& p, uint64_t* tty_nr, int* tpgid);
// kill(1, sig) in a server that runs the console's tty, where no Linux
// process is pid 1: pid 1 is Keel's init as Linux programs see it (busybox's
// poweroff and reboot signal it). False (not handled) elsewhere.
bool kill_init(int64_t sig, Result* out);
// threads.cc: a vfork child `c` execs or ends, resuming its parent; the
// threads of `p` other than `keep` end (execve).
void vfork_release(Proc& c);
void end_other_threads(Proc& p, Thread& keep);
void robust_lists_death(Proc& p);  // exit_group: each thread's robust list is walked

}  // namespace linux_srv
