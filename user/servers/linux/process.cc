// linux/process.cc — loading programs, fork, execve, wait4, kill and how processes end (internal.h lists the files).
#include "internal.h"

#include <keel/path.h>
#include <keel/spawn.h>
#include <keel/start.h>
#include <ktl/bytes.h>
#include <loader/elf.h>
#include "ids.h"
#include "stack.h"

namespace linux_srv {

// ---------------------------------------------------------------- loading programs

// Reads the whole file at `path` into a new buffer. -errno on failure.
int64_t read_file(const char* path_in, uint8_t** out, size_t* size, bool exec) {
  char path[kPathMax];
  copy_cstr(path, path_in, sizeof path - 1);
  if (int64_t e = follow_links(path); e < 0) return e;  // (a "#!" interpreter may be a link)
  // execve needs an x bit (everyone is root: any of the three), for a script and its interpreter.
  if (keel::fs::Info st; exec && keel::fs::stat(path, &st) == Status::Ok && st.type == pfs::kTypeFile &&
                         !(st.mode & 0111))
    return -L::EACCES;
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

namespace {

constexpr uint32_t kImageRights =
    keel::kRightRead | keel::kRightMap | keel::kRightExecute | keel::kRightDuplicate | keel::kRightTransfer;

// A program file being loaded: its object (a Vmo marked `image`, which the
// mappings of its read-only segments share) and the object mapped read-only
// in this server, for its headers.
struct ProgramFile {
  Vmo* vmo = nullptr;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  uint64_t mapped = 0;  // bytes mapped at `bytes`

  ProgramFile() = default;
  ProgramFile(const ProgramFile&) = delete;
  ProgramFile& operator=(const ProgramFile&) = delete;
  ~ProgramFile() { release(); }
  void release() {
    if (mapped) (void)sys::vm_unmap(keel::start_info()->self_process, uint64_t(bytes), mapped);
    if (vmo) vmo_unref(vmo);
    vmo = nullptr;
    bytes = nullptr;
    size = mapped = 0;
  }
  std::span<const uint8_t> span() const { return {bytes, size}; }
};

// Opens the program at `path_in` for execve: the file system's object of it
// (kImage), or, from a file system without kImage, a copy of its bytes in a
// new object made read-only. A symbolic link (kImage: Unsupported, or
// NotFound/NotADirectory through a link) is followed, and the path it led to
// written to `resolved` (kPathMax bytes) if given. 0 or -errno.
int64_t open_program(const char* path_in, ProgramFile* out, char* resolved = nullptr) {
  char path[kPathMax];
  copy_cstr(path, path_in, sizeof path - 1);
  keel::fs::Info info;
  Handle h = kInvalidHandle;
  // The common case first: a plain file, one request (no kStat for links).
  Status s = keel::fs::image(path, &info, &h);
  if (s == Status::Unsupported || s == Status::NotFound || s == Status::NotADirectory) {
    char before[kPathMax];
    memcpy(before, path, sizeof path);
    if (int64_t e = follow_links(path); e < 0) return e;  // (a "#!" interpreter may be a link)
    if (!str_eq(before, path)) s = keel::fs::image(path, &info, &h);
  }
  if (resolved) memcpy(resolved, path, kPathMax);
  if (s == Status::Ok) {
    // execve needs an x bit (everyone is root: any of the three), for a script and its interpreter.
    if (info.type != pfs::kTypeFile || !(info.mode & 0111) || info.size > kMaxImage) {
      sys::handle_close(h);
      return info.type != pfs::kTypeFile || !(info.mode & 0111) ? -L::EACCES : -L::ENOMEM;
    }
  } else if (s == Status::IsADirectory) {
    return -L::EACCES;
  } else if (s != Status::Unsupported) {
    return errno_of(s);
  } else {
    uint8_t* buf = nullptr;
    size_t size = 0;
    if (int64_t r = read_file(path, &buf, &size, true); r < 0) return r;
    Handle full = kInvalidHandle;
    const bool made = sys::vmo_create(size ? size : 1, 0, &full) == 0;
    const bool ok = made && (size == 0 || sys::vmo_write(full, 0, buf, size) == 0) &&
                    sys::handle_replace(full, kImageRights, &h) == 0;
    delete[] buf;
    if (!ok) {
      if (made) sys::handle_close(full);
      return -L::ENOMEM;
    }
    info.size = size;
  }
  out->vmo = new_vmo(h);
  if (!out->vmo) {
    sys::handle_close(h);
    return -L::ENOMEM;
  }
  out->vmo->image = true;
  out->size = size_t(info.size);
  // Its headers are read where they lie: only the pages touched fault in.
  const uint64_t len = page_up(info.size ? info.size : 1);
  uint64_t addr = 0;
  if (sys::vm_map(keel::start_info()->self_process, h, 0, len, keel::kVmRead, &addr) != 0) {
    out->release();
    return -L::ENOMEM;
  }
  out->bytes = reinterpret_cast<const uint8_t*>(addr);
  out->mapped = len;
  return 0;
}

// Writes zeros to [from, to) of object `h`.
bool zero_range(Handle h, uint64_t from, uint64_t to) {
  static const uint8_t zero[kPage] = {};
  for (uint64_t at = from; at < to;) {
    const uint64_t n = to - at < kPage ? to - at : kPage;
    if (sys::vmo_write(h, at, zero, n) != 0) return false;
    at += n;
  }
  return true;
}

}  // namespace

struct Exec {
  uint64_t entry = 0, rsp = 0;
};

namespace {

// CPUID.1:EDX, what Linux passes as AT_HWCAP on x86-64 (the server runs on
// the same CPUs as its programs).
uint64_t hwcap() {
  uint32_t a = 1, b = 0, c = 0, d = 0;
  asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return d;
}

}  // namespace

// Loads the ELF `image` into the new, empty Linux process `p` (its Keel
// process exists) and builds its stack. Returns 0 or -errno.
//
// Segments are mapped from the program file's object, as Linux maps them
// from the page cache: a read-only segment without .bss maps the object
// itself (shared by every process running the program); any other one a
// copy-on-write clone of its file pages (vmo_clone), with the bytes past its
// file part zeroed; one without file bytes new zeroed memory. parse_elf has
// checked vaddr ≡ offset (mod 4 KiB), so file pages line up with memory pages.
int64_t load_image(Proc& p, const ProgramFile& file, std::span<const std::string_view> argv,
                   std::span<const std::string_view> envp, const char* execfn, Exec* out) {
  loader::ElfLimits limits;
  limits.user_top = 0x7f00'0000'0000;
  loader::ElfDiag diag{};
  auto parsed = loader::parse_elf(ktl::Bytes(file.bytes, file.size), limits, &diag);
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
    const uint64_t len = end - start;
    const uint64_t file_page = page_down(seg.offset);
    if (((seg.vaddr + bias) & (kPage - 1)) != (seg.offset & (kPage - 1))) return -L::ENOEXEC;  // (parse_elf's)
    if (seg.filesz == 0) {
      if (int64_t r = map_new(p, start, len, prot, true, false); r < 0) return r;
    } else if (!(seg.prot & loader::kSegWrite) && seg.filesz == seg.memsz) {
      Vmo* v = file.vmo;
      if (map_pages(p.process, v->handle, file_page, start, len, prot) != 0) return -L::ENOMEM;
      ++v->refs;
      if (!add_mapping(p, start, len, uint32_t(prot), false, v, file_page)) {
        --v->refs;
        (void)sys::vm_unmap(p.process, start, len);
        return -L::ENOMEM;
      }
    } else {
      Handle h = kInvalidHandle;
      if (sys::vmo_clone(file.vmo->handle, file_page, len, &h) != 0) return -L::ENOMEM;
      Vmo* v = new_vmo(h);
      if (!v) {
        sys::handle_close(h);
        return -L::ENOMEM;
      }
      // Past the file part: zeros (.bss), where the clone shows file bytes
      // (up to the end of the file's last page; past it the clone is zero).
      const uint64_t zero_from = seg.vaddr + bias + seg.filesz - start;
      const uint64_t file_end = page_up(file.size) - file_page;
      const uint64_t zero_to = len < file_end ? len : file_end;
      if ((zero_from < zero_to && !zero_range(h, zero_from, zero_to)) ||
          map_pages(p.process, h, 0, start, len, prot) != 0) {
        vmo_unref(v);
        return -L::ENOMEM;
      }
      if (!add_mapping(p, start, len, uint32_t(prot), false, v, 0)) {
        (void)sys::vm_unmap(p.process, start, len);
        vmo_unref(v);
        return -L::ENOMEM;
      }
    }
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
      {L::AT_UID, p.uid[0]},
      {L::AT_EUID, p.uid[1]},
      {L::AT_GID, p.gid[0]},
      {L::AT_EGID, p.gid[1]},
      {L::AT_HWCAP, hwcap()},
      {L::AT_CLKTCK, 100},
      {L::AT_SECURE, 0},
      {L::AT_HWCAP2, 0},
  };
  // The stack image is built in a buffer that stays zero between execs (the
  // bytes an exec used are cleared again), not a fresh 128 KiB cleared whole:
  // a program's stack image is mostly a few hundred bytes. (One thread.)
  constexpr size_t kImage = 128 * 1024;
  static uint8_t img[kImage];
  uint64_t rsp = 0;
  auto res = linux_stack::build(kStackTop, argv, envp, aux, random, execfn, {img, kImage}, &rsp);
  const uint64_t used_from = res == linux_stack::Result::Ok ? rsp - (kStackTop - kImage) : 0;
  const bool ok = res == linux_stack::Result::Ok && write_user(p, rsp, img + used_from, kStackTop - rsp);
  memset(img + used_from, 0, kImage - used_from);  // (all of it when build stopped part way)
  if (res != linux_stack::Result::Ok) return -L::E2BIG;
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
  if (sys::handle_mint(g_ep, keel::kRightWrite, thread_badge(t), &badged) != 0 ||
      sys::thread_set_syscall_handler(th, badged) != 0 || sys::thread_write_state(th, &regs) != 0) {
    if (badged != kInvalidHandle) sys::handle_close(badged);
    sys::handle_close(th);
    return -L::EAGAIN;
  }
  sys::handle_close(badged);  // the kernel keeps its own reference
  fast_setup(p, t, th);       // (before it starts: its first getpid is answered in-process)
  // The server is the process's pager: a fault the kernel cannot resolve
  // becomes SIGSEGV (signal_page_fault).
  Handle pager = kInvalidHandle;
  if (sys::handle_mint(g_ep, keel::kRightWrite, kPagerBadge | uint64_t(p.pid), &pager) == 0) {
    (void)sys::process_set_pager(p.process, pager);
    sys::handle_close(pager);
  }
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

// comm is the last component of the name the program was run by, as in
// Linux: a symbolic link's own (/bin/cat -> busybox: cat), a script's, "exe"
// for /proc/self/exe (exe, set_comm's, is the file itself).
void comm_from_name(Proc& p, const char* name) {
  const char* base = last_slash(name, '/');
  base = base ? base + 1 : name;
  if (!*base) return;
  memset(p.comm, 0, sizeof p.comm);
  copy_cstr(p.comm, base, sizeof p.comm - 1);
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
  ProgramFile file;
  char resolved[kPathMax];
  if (int64_t r = open_program(path, &file, resolved); r < 0) return r;
  path = resolved;
  // "#!interpreter [arg]": run the interpreter with the script's path.
  char line[kPathMax];
  std::string_view interp, iarg;
  char interp_path[kPathMax];
  std::string_view argv_buf[linux_stack::kMaxStrings];
  std::span<const std::string_view> argv = argv_in;
  if (parse_shebang(file.bytes, file.size, line, &interp, &iarg)) {
    file.release();
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
    if (int64_t r = open_program(path, &file); r < 0) return r;
    if (file.size >= 2 && file.bytes[0] == '#' && file.bytes[1] == '!') return -L::ELOOP;
  }
  Handle process = kInvalidHandle;
  const char* base = last_slash(path, '/');
  base = base ? base + 1 : path;
  size_t blen = strlen(base);
  if (blen > 31) blen = 31;
  if (sys::process_create(base, blen, &process) != 0) return -L::ENOMEM;
  // Keep the old state until the new image is in place.
  Handle old_process = p.process;
  Mapping old_maps[kMaxMaps];
  memcpy(static_cast<void*>(old_maps), p.maps, sizeof old_maps);
  for (Mapping& m : p.maps) m = Mapping{};
  const uint64_t old_brk[3] = {p.brk_base, p.brk_cur, p.brk_mapped}, old_hint = p.mmap_hint;
  p.process = process;
  p.mmap_hint = 0;
  Exec e;
  int64_t r = load_image(p, file, argv, envp, path, &e);
  file.release();
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
  p.cmdline_len = 0;
  for (std::string_view a : argv) {
    if (p.cmdline_len + a.size() + 1 > sizeof p.cmdline) break;
    memcpy(p.cmdline + p.cmdline_len, a.data(), a.size());
    p.cmdline_len += a.size();
    p.cmdline[p.cmdline_len++] = 0;
  }
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
      c.ppid = 1;  // to init (the personality), which reaps them
      fast_publish(c);
      if (c.zombie) c = Proc{};
    }
  // (Not while the console's tty runs a shell, whose own output the kernel
  // log's lines would break into: that shell reports its jobs itself.)
  if (tty_active() && !g_trace && !tty_is_leader(p.pid)) {
  } else if ((status & 0x7f) == 0) {
    keel::print("linux: pid {} ({}) exited with status {}\n", p.pid, p.comm, (status >> 8) & 0xff);
  } else {
    keel::print("linux: pid {} ({}) killed by signal {}\n", p.pid, p.comm, status & 0x7f);
  }
  tty_process_ended(p);  // (the tty session ends with its leader)
  if (p.ppid <= 1) {
    p = Proc{};  // no parent: reaped at once
  } else if (Proc* parent = proc_by_pid(p.ppid)) {
    child_changed(*parent, p, (status & 0x7f) == 0 ? linux_sigframe::kCldExited : linux_sigframe::kCldKilled,
                  (status & 0x7f) == 0 ? int((status >> 8) & 0xff) : int(status & 0x7f));
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
  memcpy(c->cmdline, parent.cmdline, sizeof c->cmdline);
  memcpy(c->rlimit, parent.rlimit, sizeof c->rlimit);
  c->nofile = parent.nofile;
  c->cmdline_len = parent.cmdline_len;
  c->umask = parent.umask;
  memcpy(c->uid, parent.uid, sizeof c->uid);
  memcpy(c->gid, parent.gid, sizeof c->gid);
  c->no_ctty = parent.no_ctty;
  ct->sigmask = t.sigmask;  // (the mask and alternate stack are the thread's; nothing stays pending)
  ct->alt_sp = t.alt_sp, ct->alt_size = t.alt_size;
  ct->affinity = t.affinity;  // (sched_setaffinity's mask is inherited)
  memcpy(c->sigaction, parent.sigaction, sizeof c->sigaction);
  c->brk_base = parent.brk_base, c->brk_cur = parent.brk_cur, c->brk_mapped = parent.brk_mapped;
  c->mmap_hint = parent.mmap_hint;
  const size_t clen = strlen(c->comm);
  if (sys::process_create(c->comm, clen ? clen : 1, &c->process) != 0) return fail(-L::ENOMEM);
  for (Mapping& m : parent.maps) {
    if (!m.used) continue;
    Vmo* v = nullptr;
    const bool share = m.shared || m.vmo->image;  // (a program file's object is never written)
    if (share) {
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
    const uint64_t off = share ? m.offset : 0;
    if (map_pages(c->process, v->handle, off, m.start, m.len, m.prot) != 0 ||
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
  char path[kPathMax];  // (its last component's links: exec_into follows them)
  if (int64_t e = path_arg(p, L::AT_FDCWD, r.rdi, path, false); e < 0) return value(e);
  char given[kPathMax];  // (read now: after exec_into, p's memory is the new image's)
  if (read_string(p, r.rdi, given, sizeof given) < 0) given[0] = 0;
  if (str_eq(path, "/proc/self/exe")) memcpy(path, p.exe, sizeof path);  // (busybox runs its applets so)
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
    uint64_t ptrs[32];  // (read a run at a time, not crossing a page: one syscall for most lists)
    size_t have = 0, at = 0;
    for (size_t i = 0;; ++i) {
      if (at == have) {
        const uint64_t a = base + 8 * i;
        const uint64_t to_page = (page_up(a + 1) - a) / 8;
        size_t want = to_page < 32 ? size_t(to_page) : 32;
        if (want == 0) want = 1;
        if (!read_user(p, a, ptrs, want * 8)) {  // (one page: all of it is mapped or none)
          err = -L::EFAULT;
          break;
        }
        have = want;
        at = 0;
      }
      const uint64_t ptr = ptrs[at++];
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
      comm_from_name(p, given);
      // The calling thread goes with its old process; a new one runs the program.
      Handle old_thread = t.thread;
      t.thread = kInvalidHandle;
      t.block = Block::None;
      t.clear_child_tid = 0;
      end_other_threads(p, t);  // (they die with the old process; the caller becomes the main thread)
      t.tid = p.pid;
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
        p.execed = true;
        vfork_release(p);
      }
    }
  } else {
    res = value(err);
  }
  delete[] strings;
  delete[] views;
  return res;
}

// ---------------------------------------------------------------- ids, groups, sessions

namespace {

using linux_ids::set_one;
using linux_ids::set_re;
using linux_ids::set_res;

// setpgid(2) from `p`: `pid` (0: itself) into group `pgid` (0: its own pid).
int64_t set_pgid(Proc& p, int64_t pid, int64_t pgid) {
  if (pgid < 0) return -L::EINVAL;
  Proc* q = pid == 0 ? &p : proc_by_pid(int(pid));
  if (!q) return -L::ESRCH;
  if (q != &p) {
    if (q->ppid != p.pid) return -L::ESRCH;
    if (q->sid != p.sid) return -L::EPERM;
    if (q->execed) return -L::EACCES;
  }
  if (q->sid == q->pid) return -L::EPERM;  // a session leader stays in its group
  const int want = pgid == 0 ? q->pid : int(pgid);
  if (want != q->pid) {  // joining a group: it must exist in the same session
    bool found = false;
    for (Proc& o : g_procs)
      if (o.used && o.pgid == want && o.sid == q->sid) found = true;  // (a zombie is in its group until reaped)
    if (!found) return -L::EPERM;
  }
  q->pgid = want;
  fast_publish(*q);
  return 0;
}

}  // namespace

// The syscalls of this file's area that main.cc's switch leaves to it.
bool dispatch_process(Thread& t, UserRegs& r, Result* out) {
  Proc& p = *t.proc;
  const bool root = p.uid[1] == 0;
  switch (r.rax) {
    case L::kGetuid: *out = value(p.uid[0]); return true;
    case L::kGeteuid: *out = value(p.uid[1]); return true;
    case L::kGetgid: *out = value(p.gid[0]); return true;
    case L::kGetegid: *out = value(p.gid[1]); return true;
    case L::kSetuid: *out = value(set_one(p.uid, uint32_t(r.rdi), root)); return true;
    case L::kSetgid: *out = value(set_one(p.gid, uint32_t(r.rdi), root)); return true;
    case L::kSetreuid: *out = value(set_re(p.uid, uint32_t(r.rdi), uint32_t(r.rsi), root)); return true;
    case L::kSetregid: *out = value(set_re(p.gid, uint32_t(r.rdi), uint32_t(r.rsi), root)); return true;
    case L::kSetresuid:
      *out = value(set_res(p.uid, uint32_t(r.rdi), uint32_t(r.rsi), uint32_t(r.rdx), root));
      return true;
    case L::kSetresgid:
      *out = value(set_res(p.gid, uint32_t(r.rdi), uint32_t(r.rsi), uint32_t(r.rdx), root));
      return true;
    case L::kGetresuid: case L::kGetresgid: {
      const uint32_t* ids = r.rax == L::kGetresuid ? p.uid : p.gid;
      *out = value(write_obj(p, r.rdi, ids[0]) && write_obj(p, r.rsi, ids[1]) && write_obj(p, r.rdx, ids[2]) ? 0
                                                                                                             : -L::EFAULT);
      return true;
    }
    case L::kSetfsuid: case L::kSetfsgid:  // (the filesystem ids follow the effective ones: the old one)
      *out = value(r.rax == L::kSetfsuid ? p.uid[1] : p.gid[1]);
      return true;
    case L::kGetgroups: *out = value(int32_t(r.rdi) < 0 ? -L::EINVAL : 0); return true;  // in no other group
    case L::kSetgroups: *out = value(root ? 0 : -L::EPERM); return true;
    case L::kGetpgrp: *out = value(p.pgid); return true;
    case L::kGetpgid: case L::kGetsid: {
      Proc* q = r.rdi == 0 ? &p : proc_by_pid(int(int32_t(r.rdi)));
      *out = value(!q || int32_t(r.rdi) < 0 ? -L::ESRCH : r.rax == L::kGetpgid ? q->pgid : q->sid);
      return true;
    }
    case L::kSetpgid: *out = value(set_pgid(p, int64_t(int32_t(r.rdi)), int64_t(int32_t(r.rsi)))); return true;
    case L::kSetsid: {
      // EPERM when a process group with the caller's pid exists (it leads one).
      for (Proc& q : g_procs)
        if (q.used && q.pgid == p.pid) {
          *out = value(-L::EPERM);
          return true;
        }
      p.sid = p.pgid = p.pid;
      p.no_ctty = true;
      *out = value(p.sid);
      return true;
    }
    default: return false;
  }
}

}  // namespace linux_srv
