// linux/tty.cc — the terminals (internal.h lists the files): the consoles'
// tty sessions (keel/proto/linux.h), their line disciplines (keel/tty.h), the
// tty ioctls, poll/ppoll/select/pselect6, and reboot(2) (which asks init).
//
// Each console (the serial one, console-fb on the screen) hands the server
// its tty as a session: a pair of rings and a state word. Up to
// tty_rings::kMaxSessions are open at once, each with its own line
// discipline, session id, foreground process group and window size. The
// line discipline runs here, where the processes are: TCSETS changes it, a
// read of the tty waits on it (kBlock), ^C and ^\ signal its foreground
// process group. A File of kind Console names its tty by id (File::tty):
// the session leader's standard streams name its session's tty, /dev/tty
// the opener's controlling tty (the open one of its session), /dev/console
// the system console's (the tty the serial console opened, kTtyConsole). A
// Console file whose tty is not open (id 0: none; or its session ended)
// writes to the kernel log line by line and reads as end of file (the batch,
// --run).
#include <keel/proto/init.h>
#include <keel/proto/linux.h>
#include <keel/rpc.h>
#include <keel/start.h>
#include <keel/tty.h>

#include "internal.h"
#include "tty_rings.h"

namespace linux_srv {

namespace lp = keel::proto::linux;
namespace kt = keel::tty;
constexpr uint32_t kTOSTOP = 0x100;  // c_lflag: background writes get SIGTTOU (termbits-common.h)

// Asks init to power off or restart (keel/proto/init.h kPowerOff; the policy
// must let /sbin/linux look up init). Returns only on failure.
Result power(bool restart);

namespace {

struct Tty {
  bool open = false;
  bool console = false;  // the system console (/dev/console; kTtyConsole)
  int slot = 0;          // its rings (tty_rings)
  uint32_t id = 0;       // File::tty of its files; never reused
  uint64_t base = 0;  // the session MemoryObject, mapped here (the rings: tty_rings)
  Handle notify = kInvalidHandle;  // the console's (signal)
  kt::LineDiscipline ld;
  int leader = 0;  // the session leader's pid; the session ends with it
  int sid = 0;
  int fg = 0;      // the foreground process group (TIOCSPGRP)
  uint16_t rows = 24, cols = 80;
};
constexpr int kMaxTtys = tty_rings::kMaxSessions;
Tty* g_ttys[kMaxTtys] = {};  // (about 5 KiB each: allocated with a slot's first session)
uint32_t g_next_tty_id = 1;
bool g_had_session = false;  // a session was opened: pid 1 is kept free (kill_init)

// The open tty a Console file names (null: none, or its session ended).
Tty* tty_of(const File* f) {
  if (!f || f->tty == 0) return nullptr;
  for (Tty* t : g_ttys)
    if (t && t->open && t->id == f->tty) return t;
  return nullptr;
}

// The controlling tty of a process: the open tty of its session (null: none).
Tty* ctty_of(const Proc& p) {
  for (Tty* t : g_ttys)
    if (t && t->open && t->sid == p.sid) return t;
  return nullptr;
}

void wake_console(Tty& tty) { (void)sys::notification_signal(tty.notify, lp::kClientBit); }

// Queues processed bytes in the output ring, as records of at most
// kMaxRecord bytes. Returns how many fit.
size_t emit(Tty& tty, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    size_t n = bytes.size() - done;
    if (n > lp::kMaxRecord) n = lp::kMaxRecord;
    if (!tty_rings::write(tty.slot, bytes.subspan(done, n))) break;
    done += n;
  }
  if (done) wake_console(tty);
  return done;
}

// The signals of ISIG characters, delivered after the input is taken.
struct Raised final : kt::Signals {
  uint32_t bits = 0;
  void raise(kt::Signal s) override { bits |= 1u << unsigned(s); }
};

// Sends `sig` to every process of the foreground process group (signals.cc
// delivers: handlers, default actions, SIGTSTP stops), si_code SI_KERNEL.
void signal_foreground(Tty& tty, int sig) {
  linux_sigframe::Siginfo info;
  info.code = 0x80;  // SI_KERNEL
  for (Proc& q : g_procs)
    if (q.used && !q.zombie && q.sid == tty.sid && q.pgid == tty.fg) (void)send_signal(q, nullptr, sig, info);
}

// Job control (POSIX XBD 11.1.4, Terminal Access Control): a process of
// `tty`'s session (its controlling tty) outside its foreground process group that reads the tty
// (`sig` SIGTTIN), writes it with TOSTOP set or changes its settings
// (SIGTTOU). Returns 0 if it may go on: not in the background, or (SIGTTOU)
// the signal ignored or blocked; -EIO if it may not: (SIGTTIN) the signal
// ignored or blocked, or its process group orphaned (nobody in the session
// to continue it); 1 if `sig` was sent to its process group, which stops (or
// runs a handler), while the calling thread waits (Block::PipeRead, named
// before the signal, so that the stop leaves it waiting in its call) to try
// again when it is continued in the foreground (TIOCSPGRP retries).
int64_t job_control(Tty* tty, Proc& p, int sig) {
  if (!tty || p.sid != tty->sid || p.pgid == tty->fg) return 0;
  Thread* t = dispatching_thread();
  if (!t || t->proc != &p) return 0;  // (not a syscall of p's)
  const bool ignored = p.sigaction[sig][0] == 1 /*SIG_IGN*/ || (t->sigmask & linux_sigframe::bit(sig));
  if (ignored) return sig == L::SIGTTIN ? -L::EIO : 0;
  bool orphaned = true;  // no member has a parent in another group of the session
  for (Proc& q : g_procs)
    if (q.used && !q.zombie && q.pgid == p.pgid)
      if (Proc* parent = proc_by_pid(q.ppid); parent && parent->pgid != p.pgid && parent->sid == p.sid) orphaned = false;
  if (orphaned) return -L::EIO;
  t->block = Block::PipeRead;
  if (!p.stopped) {  // (a retry while the group is stopped waits on)
    linux_sigframe::Siginfo info;
    info.code = 0x80;  // SI_KERNEL
    const int group = p.pgid;
    for (Proc& q : g_procs)
      if (q.used && !q.zombie && q.pgid == group) (void)send_signal(q, nullptr, sig, info);
  }
  return 1;
}

// Takes what the console queued in the input ring.
void pump_input(Tty& tty) {
  uint8_t buf[lp::kMaxRecord];
  Raised raised;
  bool any = false;
  for (int guard = 0; guard < 64; ++guard) {
    const int64_t n = tty_rings::read(tty.slot, {buf, sizeof buf});
    if (n < 0) break;
    kt::OutputBuffer<3 * lp::kMaxRecord> echo;
    tty.ld.input({buf, size_t(n)}, echo, raised);
    (void)emit(tty, echo.bytes());
    any = true;
  }
  for (int sig : {L::SIGINT, L::SIGQUIT, L::SIGTSTP})
    if (raised.bits & (1u << sig)) signal_foreground(tty, sig);
  if (any) retry_blocked(Block::PipeRead);
}

// The session's hang-up when its leader ends, as Linux's disassociate_ctty
// and kill_orphaned_pgrp do: SIGHUP to the foreground process group, and
// SIGHUP then SIGCONT to each process group of the session with a stopped
// process in it (orphaned now that the shell is gone: nobody would continue
// it). Running background jobs go on (reading the tty, they see end of file).
void hang_up(Tty& tty) {
  linux_sigframe::Siginfo info;
  info.code = 0x80;  // SI_KERNEL
  const int sid = tty.sid;
  int groups[kMaxProcs + 1];
  size_t n = 0;
  groups[n++] = tty.fg;
  for (Proc& q : g_procs) {
    if (!q.used || q.zombie || q.sid != sid || !q.stopped) continue;
    bool seen = false;
    for (size_t i = 0; i < n; ++i) seen |= groups[i] == q.pgid;
    if (!seen && n < kMaxProcs + 1) groups[n++] = q.pgid;
  }
  for (size_t i = 0; i < n; ++i) {
    bool stopped = false;
    for (Proc& q : g_procs) stopped |= q.used && !q.zombie && q.sid == sid && q.pgid == groups[i] && q.stopped;
    for (int sig : {L::SIGHUP, L::SIGCONT}) {
      if (sig == L::SIGCONT && !stopped) continue;
      for (Proc& q : g_procs)
        if (q.used && !q.zombie && q.sid == sid && q.pgid == groups[i]) (void)send_signal(q, nullptr, sig, info);
    }
  }
}

void close_session(Tty& tty, uint32_t status) {
  hang_up(tty);
  auto* state = reinterpret_cast<volatile uint32_t*>(tty.base + lp::kStateOffset);
  state[1] = status;
  __atomic_store_n(&state[0], lp::kStateHungUp, __ATOMIC_RELEASE);
  wake_console(tty);
  tty_rings::detach(tty.slot);
  (void)sys::vm_unmap(keel::start_info()->self_process, tty.base, lp::kSessionSize);
  sys::handle_close(tty.notify);
  tty.open = false;
  keel::print("linux: the tty session of pid {} ended (status {:#x})\n", tty.leader, status);
  retry_blocked(Block::PipeRead);  // readers of the tty see end of file
}

void reply(keel::IpcMessage& m, Status st, uint32_t words = 0) {
  m.tag = keel::IpcTag::make(uint32_t(st), words, 0, 0);
  (void)sys::ipc_reply(&m);
}

void open_session(keel::IpcMessage& msg) {
  const Handle vmo = keel::rpc::handles(msg) >= 1 ? msg.handles[0] : kInvalidHandle;
  const Handle notify = keel::rpc::handles(msg) >= 2 ? msg.handles[1] : kInvalidHandle;
  auto fail = [&](Status st) {
    if (vmo != kInvalidHandle) sys::handle_close(vmo);
    if (notify != kInvalidHandle) sys::handle_close(notify);
    keel::IpcMessage m{};
    reply(m, st);
  };
  int slot = -1;  // a free slot; the system console's is taken while one is open
  bool console_open = false;
  for (int i = 0; i < kMaxTtys; ++i) {
    if (g_ttys[i] && g_ttys[i]->open) console_open |= g_ttys[i]->console;
    else if (slot < 0) slot = i;
  }
  const bool console = (msg.words[0] >> 32) & lp::kTtyConsole;
  if (slot < 0 || (console && console_open)) return fail(Status::Busy);
  const uint64_t rows = msg.words[0] & 0xffff'ffff;
  char prog_buf[kPathMax], arg0_buf[kPathMax];
  std::string_view prog, arg0;
  uint32_t at = 2;
  if (keel::rpc::handles(msg) != 2 || keel::rpc::words(msg) < 2 || rows == 0 || msg.words[1] == 0 ||
      rows > 1000 || msg.words[1] > 1000 || (msg.words[0] >> 32) > lp::kTtyConsole ||
      !keel::rpc::get_string(msg, at, prog_buf, sizeof prog_buf, &prog, &at) ||
      !keel::rpc::get_string(msg, at, arg0_buf, sizeof arg0_buf, &arg0, &at) || prog.empty() || prog[0] != '/' ||
      arg0.empty())
    return fail(Status::InvalidArgument);
  if (!g_ttys[slot]) g_ttys[slot] = new Tty();
  if (!g_ttys[slot]) return fail(Status::NoMemory);
  uint64_t addr = 0;
  if (sys::vm_map(keel::start_info()->self_process, vmo, 0, lp::kSessionSize, keel::kVmRead | keel::kVmWrite, &addr) != 0)
    return fail(Status::InvalidArgument);
  if (!tty_rings::attach(slot, reinterpret_cast<uint8_t*>(addr))) {
    (void)sys::vm_unmap(keel::start_info()->self_process, addr, lp::kSessionSize);
    return fail(Status::InvalidArgument);
  }
  sys::handle_close(vmo);
  Tty& t = *g_ttys[slot];
  t.slot = slot;
  t.id = g_next_tty_id++;
  t.console = console;
  t.base = addr;
  t.notify = notify;
  t.ld = kt::LineDiscipline();
  t.rows = uint16_t(rows);
  t.cols = uint16_t(msg.words[1]);
  t.sid = t.fg = t.leader = 0;
  t.open = true;
  g_had_session = true;
  char path[kPathMax] = {};
  memcpy(path, prog.data(), prog.size() < kPathMax - 1 ? prog.size() : kPathMax - 1);
  if (g_next_pid == 1) g_next_pid = 2;  // pid 1 stays Keel's init (kill_init)
  const std::string_view argv[] = {arg0};
  const int64_t pid = spawn_program(argv, path);
  if (pid < 0) {
    t.leader = 0;
    close_session(t, L::wait_exited(127));
    keel::IpcMessage m{};
    return reply(m, Status::NotFound);
  }
  Proc* leader = proc_by_pid(int(pid));
  t.leader = int(pid);
  t.sid = leader->sid;
  t.fg = leader->pgid;
  for (int fd = 0; fd < 3; ++fd)  // (its standard streams: one Console file)
    if (File* f = leader->fds[fd].file; f && f->kind == FileKind::Console) f->tty = t.id;
  __atomic_store_n(reinterpret_cast<uint32_t*>(addr + lp::kStateOffset), lp::kStateOpen, __ATOMIC_RELEASE);
  keel::print("linux: {} runs on tty {}{} as pid {}\n", std::string_view(path), t.id,
              console ? " (the system console)" : "", pid);
  keel::IpcMessage m{};
  m.words[0] = uint64_t(pid);
  reply(m, Status::Ok, 1);
}

// ---------------------------------------------------------------- poll

constexpr uint32_t kPollIn = 0x1, kPollOut = 0x4, kPollErr = 0x8, kPollHup = 0x10, kPollNval = 0x20;

// What a file is ready for now (POLLIN, POLLOUT, POLLERR, POLLHUP).
uint32_t ready_events(File* f) {
  switch (f->kind) {
    case FileKind::Console: {
      Tty* tty = tty_of(f);
      if (!tty) return kPollIn | kPollOut;  // (end of file)
      return (tty->ld.readable() ? kPollIn : 0) | (tty_rings::room_for_record(tty->slot) ? kPollOut : 0);
    }
    case FileKind::PipeRead:
      return (f->pipe->count > 0 || f->pipe->writers == 0 ? kPollIn : 0) | (f->pipe->writers == 0 ? kPollHup : 0) |
             ((f->flags & L::O_ACCMODE) == L::O_RDWR && kPipeSize - f->pipe->count >= kPipeBuf ? kPollOut : 0);
    case FileKind::PipeWrite:
      if (f->pipe->readers == 0) return kPollOut | kPollErr;
      return kPipeSize - f->pipe->count >= kPipeBuf ? kPollOut : 0;
    default: return kPollIn | kPollOut;
  }
}

// A deadline from a timeout given as ns (-1: none), kept across retries in
// t.wake_ns (main.cc files poll-like calls as Block::Sleep).
uint64_t deadline_of(Thread& t, int64_t timeout_ns) {
  if (t.block == Block::None) t.wake_ns = timeout_ns < 0 ? ~0ull : keel::now_ns() + uint64_t(timeout_ns);
  return t.wake_ns;
}

// Reads a struct timespec timeout (null: none): ns, or -EFAULT / -EINVAL.
int64_t timespec_ns(Proc& p, uint64_t addr) {
  if (addr == 0) return -1;
  L::Timespec ts;
  if (!read_obj(p, addr, &ts)) return -L::EFAULT - 1000;
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return -L::EINVAL - 1000;
  return ts.tv_sec * 1'000'000'000 + ts.tv_nsec;
}

struct PollFd {
  int32_t fd;
  int16_t events, revents;
};

Result sys_poll(Thread& t, Proc& p, uint64_t addr, uint64_t nfds, int64_t timeout_ns) {
  if (nfds > kMaxFds) return value(-L::EINVAL);
  PollFd fds[kMaxFds];
  if (!read_user(p, addr, fds, nfds * sizeof(PollFd))) return value(-L::EFAULT);
  const uint64_t deadline = deadline_of(t, timeout_ns);
  int64_t ready = 0;
  for (uint64_t i = 0; i < nfds; ++i) {
    fds[i].revents = 0;
    if (fds[i].fd < 0) continue;
    File* f = fd_file(p, fds[i].fd);
    const uint32_t ev = f ? ready_events(f) : kPollNval;
    fds[i].revents = int16_t(ev & (uint32_t(uint16_t(fds[i].events)) | kPollErr | kPollHup | kPollNval));
    if (fds[i].revents) ++ready;
  }
  if (ready == 0 && timeout_ns != 0 && keel::now_ns() < deadline) return kBlock;
  return value(write_user(p, addr, fds, nfds * sizeof(PollFd)) ? ready : -L::EFAULT);
}

Result sys_select(Thread& t, Proc& p, int64_t nfds, const uint64_t sets_addr[3], int64_t timeout_ns) {
  if (nfds < 0 || nfds > int64_t(kMaxFds)) return value(-L::EINVAL);
  const size_t bytes = size_t((nfds + 63) / 64 * 8);
  uint64_t in[3][kMaxFds / 64] = {}, out[3][kMaxFds / 64] = {};
  for (int s = 0; s < 3; ++s)
    if (sets_addr[s] && !read_user(p, sets_addr[s], in[s], bytes)) return value(-L::EFAULT);
  const uint64_t deadline = deadline_of(t, timeout_ns);
  int64_t ready = 0;
  for (int64_t fd = 0; fd < nfds; ++fd) {
    const uint64_t bit = 1ull << (fd % 64);
    const bool want[3] = {bool(in[0][fd / 64] & bit), bool(in[1][fd / 64] & bit), bool(in[2][fd / 64] & bit)};
    if (!want[0] && !want[1] && !want[2]) continue;
    File* f = fd_file(p, fd);
    if (!f) return value(-L::EBADF);
    const uint32_t ev = ready_events(f);
    const bool got[3] = {bool(ev & (kPollIn | kPollHup | kPollErr)), bool(ev & (kPollOut | kPollErr)), false};
    for (int s = 0; s < 3; ++s)
      if (want[s] && got[s]) out[s][fd / 64] |= bit, ++ready;
  }
  if (ready == 0 && timeout_ns != 0 && keel::now_ns() < deadline) return kBlock;
  for (int s = 0; s < 3; ++s)
    if (sets_addr[s] && !write_user(p, sets_addr[s], out[s], bytes)) return value(-L::EFAULT);
  return value(ready);
}

// ---------------------------------------------------------------- reboot

constexpr uint64_t kReboot = 169;

// reboot(2): LINUX_REBOOT_CMD_POWER_OFF and HALT power off, RESTART
// restarts, through init's kPowerOff (the policy must let /sbin/linux look
// up init); CAD_ON/CAD_OFF do nothing.
Result sys_reboot(const UserRegs& r) {
  const uint32_t magic2 = uint32_t(r.rsi), cmd = uint32_t(r.rdx);
  if (uint32_t(r.rdi) != 0xfee1dead ||
      (magic2 != 672274793 && magic2 != 85072278 && magic2 != 369367448 && magic2 != 537993216))
    return value(-L::EINVAL);
  if (cmd == 0x89abcdef || cmd == 0) return value(0);  // CAD_ON, CAD_OFF
  const bool restart = cmd == 0x01234567;
  if (!restart && cmd != 0x4321fedc && cmd != 0xcdef0123) return value(-L::EINVAL);
  return power(restart);
}

}  // namespace

Result power(bool restart) {
  Handle init = kInvalidHandle;
  uint64_t unused = 0;
  if (!keel::find_module("init", &init, &unused)) return value(-L::EPERM);
  keel::print("linux: reboot(2): {}\n", restart ? "restarting" : "powering off");
  keel::IpcMessage m{};
  m.words[0] = restart ? 1 : 0;
  m.tag = keel::rpc::tag(keel::proto::init::kPowerOff, 1);
  Status st = keel::rpc::call(init, m, keel::now_ns() + 5'000'000'000);
  return value(st == Status::AccessDenied ? -L::EPERM : -L::EIO);  // (on success, no return)
}

// ---------------------------------------------------------------- the tty as a file

int64_t tty_read(Proc& p, File* f, uint64_t buf, uint64_t len, bool* block) {
  Tty* tty = tty_of(f);
  if (!tty) return 0;  // end of file
  if (const int64_t j = job_control(tty, p, L::SIGTTIN); j != 0) {
    if (j > 0) *block = true;
    return j > 0 ? 0 : j;
  }
  if (len == 0) return 0;
  kt::LineDiscipline& ld = tty->ld;
  const kt::Termios tio = ld.get_termios();
  const bool canonical = tio.c_lflag & kt::kICANON;
  if (!ld.readable_for(len)) {
    const bool no_wait = !canonical && tio.c_cc[kt::kVMIN] == 0;  // (VTIME: not timed, read at once)
    if (!no_wait || ld.bytes_available() == 0) {
      if (no_wait) return 0;
      if (f->flags & L::O_NONBLOCK) return -L::EAGAIN;
      *block = true;
      return 0;
    }
  }
  uint8_t tmp[kt::LineDiscipline::kBufferSize];
  const size_t n = ld.read({tmp, len < sizeof tmp ? size_t(len) : sizeof tmp});
  return write_user(p, buf, tmp, n) ? int64_t(n) : -L::EFAULT;
}

bool tty_active() {
  for (Tty* t : g_ttys)
    if (t && t->open) return true;
  return false;
}

bool tty_active(const File* f) { return tty_of(f) != nullptr; }

void tty_stat_fields(const Proc& p, uint64_t* tty_nr, int* tpgid) {
  const Tty* t = p.no_ctty ? nullptr : ctty_of(p);
  if (!t) {
    *tty_nr = 0;
    *tpgid = -1;
    return;
  }
  // proc(5)'s encoding of a device number (minor bits 0-7 and 20-31, major 8-19): the serial
  // console's tty is ttyS0 (4:64), another session's tty1.. (4:1..).
  const uint64_t major = 4, minor = t->console ? 64 : uint64_t(t->slot) + 1;
  *tty_nr = (minor & 0xff) | (major << 8) | ((minor & ~uint64_t(0xff)) << 12);
  *tpgid = t->fg ? t->fg : -1;
}

bool tty_is_leader(int pid) {
  for (Tty* t : g_ttys)
    if (t && t->open && t->leader == pid) return true;
  return false;
}

void tty_opened(Proc& p, File* f) {
  if (str_eq(f->path, "/dev/console")) {
    for (Tty* t : g_ttys)
      if (t && t->open && t->console) f->tty = t->id;
  } else if (Tty* t = ctty_of(p)) {
    f->tty = t->id;
  }
}

int64_t tty_write(Proc& p, File* f, uint64_t buf, uint64_t len, bool* block) {
  Tty* tty = tty_of(f);
  if (!tty) return -L::EIO;
  if (tty->ld.get_termios().c_lflag & kTOSTOP)
    if (const int64_t j = job_control(tty, p, L::SIGTTOU); j != 0) {
      if (j > 0) *block = true;
      return j > 0 ? 0 : j;
    }
  uint64_t done = 0;
  while (done < len) {
    uint8_t chunk[lp::kMaxRecord / 2];
    size_t n = len - done > sizeof chunk ? sizeof chunk : size_t(len - done);
    if (!read_user(p, buf + done, chunk, n)) return done ? int64_t(done) : -L::EFAULT;
    kt::OutputBuffer<lp::kMaxRecord> o;
    if (!tty_rings::room_for_record(tty->slot)) break;
    const size_t used = tty->ld.process_output({chunk, n}, o);
    if (used == 0) break;  // output stopped (^S)
    (void)emit(*tty, o.bytes());
    done += used;
  }
  if (done == 0 && len > 0) {
    if (f->flags & L::O_NONBLOCK) return -L::EAGAIN;
    *block = true;
  }
  return int64_t(done);
}

// The tty ioctls on a Console file; without a session, a tty with Linux's
// default settings that nothing changes.
Result tty_ioctl(Proc& p, File* f, uint64_t req, uint64_t arg) {
  Tty* const tty = tty_of(f);
  const bool open = tty != nullptr;
  switch (req) {  // what changes the tty waits for the foreground (job_control)
    case L::TCSETS: case L::TCSETSW: case L::TCSETSF: case L::TIOCSPGRP: case 0x540b /* TCFLSH */:
    case 0x5409 /* TCSBRK */:
      if (const int64_t j = job_control(tty, p, L::SIGTTOU); j != 0) return j > 0 ? kBlock : value(j);
      break;
    default: break;
  }
  switch (req) {
    case L::TCGETS: {
      const kt::Termios t = open ? tty->ld.get_termios() : kt::sane_termios();
      return value(write_obj(p, arg, t) ? 0 : -L::EFAULT);
    }
    case L::TCSETS: case L::TCSETSW: case L::TCSETSF: {
      kt::Termios t;
      if (!read_obj(p, arg, &t)) return value(-L::EFAULT);
      if (open) {
        if (req == L::TCSETSF) tty->ld.flush_input();
        tty->ld.set_termios(t);
        retry_blocked(Block::PipeRead);  // (a reader may be satisfied now)
      }
      return value(0);
    }
    case L::TIOCGWINSZ: {
      const uint16_t ws[4] = {open ? tty->rows : uint16_t(24), open ? tty->cols : uint16_t(80), 0, 0};
      return value(write_user(p, arg, ws, sizeof ws) ? 0 : -L::EFAULT);
    }
    case L::TIOCSWINSZ: {
      uint16_t ws[4];
      if (!read_user(p, arg, ws, sizeof ws)) return value(-L::EFAULT);
      if (open && ws[0] && ws[1]) tty->rows = ws[0], tty->cols = ws[1];
      return value(0);
    }
    case L::TIOCGPGRP: {
      const int32_t pg = open ? tty->fg : p.pgid;
      return value(write_obj(p, arg, pg) ? 0 : -L::EFAULT);
    }
    case L::TIOCSPGRP: {
      int32_t pg = 0;
      if (!read_obj(p, arg, &pg)) return value(-L::EFAULT);
      if (pg <= 0) return value(-L::EINVAL);
      bool exists = false;
      for (Proc& q : g_procs) exists |= q.used && !q.zombie && q.pgid == pg && q.sid == p.sid;
      if (!exists) return value(-L::EPERM);
      if (open && tty->fg != pg) {
        tty->fg = pg;
        retry_blocked(Block::PipeRead);  // (a reader that was in the background may read now)
      }
      return value(0);
    }
    case 0x5429: {  // TIOCGSID
      const int32_t sid = open ? tty->sid : p.sid;
      return value(write_obj(p, arg, sid) ? 0 : -L::EFAULT);
    }
    case L::TIOCSCTTY: case 0x5422 /* TIOCNOTTY */: case 0x5409 /* TCSBRK: tcdrain */: return value(0);
    case 0x540b: {  // TCFLSH: TCIFLUSH 0, TCOFLUSH 1, TCIOFLUSH 2
      if (arg > 2) return value(-L::EINVAL);
      if (open && arg != 1) tty->ld.flush_input();
      return value(0);
    }
    case L::FIONREAD: {
      const int32_t n = open ? int32_t(tty->ld.bytes_available()) : 0;
      return value(write_obj(p, arg, n) ? 0 : -L::EFAULT);
    }
    default: return value(-L::EINVAL);
  }
}

// A native client's message (the console): true if it was a tty method
// (and has been answered).
bool tty_native(keel::IpcMessage& msg) {
  const uint32_t label = keel::IpcTag::label(msg.tag);
  if (label == lp::kOpenTty) {
    open_session(msg);
    return true;
  }
  if (label == lp::kTtyInput) {
    for (uint32_t i = 0; i < keel::IpcTag::handles(msg.tag) && i < keel::kIpcMaxHandles; ++i)
      sys::handle_close(msg.handles[i]);
    // Word 0, if given: the session's leader (kOpenTty's pid); else every session.
    const bool one = keel::rpc::words(msg) >= 1;
    const int pid = one ? int(msg.words[0]) : 0;
    Tty* which[kMaxTtys] = {};
    int n = 0;
    for (Tty* t : g_ttys)
      if (t && t->open && (!one || t->leader == pid)) which[n++] = t;
    keel::IpcMessage m{};
    reply(m, n ? Status::Ok : Status::NotFound);
    for (int i = 0; i < n; ++i)
      if (which[i]->open) pump_input(*which[i]);
    return true;
  }
  return false;
}

// Called from the loop now and then: the session ends with its leader
// (end_process tells us at once; this is the fallback).
void tty_tick() {
  for (Tty* t : g_ttys) {
    if (!t || !t->open) continue;
    Proc* leader = proc_by_pid(t->leader);
    if (!leader || leader->zombie) close_session(*t, leader ? leader->wait_status : 0);
  }
}

void tty_process_ended(Proc& p) {
  for (Tty* t : g_ttys)
    if (t && t->open && p.pid == t->leader) close_session(*t, p.wait_status);
}

bool kill_init(int64_t sig, Result* out) {
  if (!g_had_session || proc_by_pid(1)) return false;  // (a session was opened: pid 1 was kept free)
  if (sig < 0 || sig >= L::kSignalCount) {
    *out = value(-L::EINVAL);
  } else if (sig == L::SIGUSR1 || sig == L::SIGUSR2 || sig == L::SIGTERM) {
    // SIGUSR1 halt and SIGUSR2 power off (busybox init's meaning), SIGTERM reboot.
    *out = power(sig == L::SIGTERM);
  } else {
    *out = value(0);  // (init ignores the others; 0: it exists)
  }
  return true;
}

bool dispatch_tty(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  switch (r.rax) {
    case L::kPoll: {
      const int64_t ms = int64_t(int32_t(r.rdx));
      *out = sys_poll(t, p, r.rdi, r.rsi, ms < 0 ? -1 : ms * 1'000'000);
      return true;
    }
    case L::kPpoll: {
      const int64_t ns = timespec_ns(p, r.rdx);
      *out = ns < -1 ? value(ns + 1000) : sys_poll(t, p, r.rdi, r.rsi, ns);
      return true;
    }
    case L::kSelect: case L::kPselect6: {
      const uint64_t sets[3] = {r.rsi, r.rdx, r.r10};
      int64_t ns = -1;
      if (r.r8 && r.rax == L::kSelect) {
        int64_t tv[2];
        if (!read_user(p, r.r8, tv, sizeof tv)) return *out = value(-L::EFAULT), true;
        if (tv[0] < 0 || tv[1] < 0 || tv[1] >= 1'000'000) return *out = value(-L::EINVAL), true;
        ns = tv[0] * 1'000'000'000 + tv[1] * 1000;
      } else if (r.rax == L::kPselect6) {
        ns = timespec_ns(p, r.r8);
        if (ns < -1) return *out = value(ns + 1000), true;
      }
      *out = sys_select(t, p, int64_t(int32_t(r.rdi)), sets, ns);
      if (r.rax == L::kSelect && r.r8 && out->kind == Out::Value && out->value >= 0) {
        // Linux's select (not pselect6) writes back the time that was left.
        const uint64_t now = keel::now_ns(), left = t.wake_ns > now ? t.wake_ns - now : 0;
        const int64_t tv[2] = {int64_t(left / 1'000'000'000), int64_t(left % 1'000'000'000 / 1000)};
        if (!write_user(p, r.r8, tv, sizeof tv)) *out = value(-L::EFAULT);
      }
      return true;
    }
    case kReboot: *out = sys_reboot(r); return true;
    default: return false;
  }
}

}  // namespace linux_srv
