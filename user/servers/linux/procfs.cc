// linux/procfs.cc — /proc: the server's own view of its Linux processes and of
// the machine, made when a file is opened (proc(5) gives the formats).
//
//   /proc/self                      symlink to the caller's pid
//   /proc/PID/{stat,statm,status,cmdline,comm}   files; exe a symlink to the program
//   /proc/PID/fd/N                  symlinks to what fd N is (a path, pipe:[ino], /dev/...)
//   /proc/{meminfo,cpuinfo,uptime,mounts,stat,loadavg,version}
//   /proc/keel/{services,ps,dmesg,mem}   Keel's own views (system.cc; keelctl prints them)
// Everything is read-only (EACCES for writing). A file's text is made at
// open and read from there, as Linux's seq files behave for small reads.
#include "internal.h"
#include "text.h"

#include <keel/path.h>

namespace linux_srv {
namespace {

bool parse_pid(std::string_view s, int* pid) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pid = v;
  return v > 0;
}

// The path after "/proc", split: [pid-or-name, sub, sub2].
struct ProcPath {
  std::string_view part[4];
  size_t n = 0;
};
ProcPath split(const char* path) {
  ProcPath p;
  std::string_view s(path);
  s.remove_prefix(5);  // "/proc"
  while (!s.empty() && p.n < 4) {
    if (s[0] == '/') s.remove_prefix(1);
    size_t e = s.find('/');
    p.part[p.n++] = s.substr(0, e);
    if (e == std::string_view::npos) break;
    s.remove_prefix(e);
  }
  return p;
}

bool parse_fd(std::string_view s, int* fd) {
  if (s == "0") {
    *fd = 0;
    return true;
  }
  return parse_pid(s, fd);
}

Proc* target_of(Proc& caller, std::string_view name) {
  if (name == "self") return &caller;
  int pid = 0;
  if (!parse_pid(name, &pid)) return nullptr;
  return proc_by_pid(pid);
}

int thread_count(const Proc& p) {
  int n = 0;
  for (const Thread& t : g_threads)
    if (t.used && t.proc == &p) ++n;
  return n ? n : 1;
}

uint64_t vsize(const Proc& p) {
  uint64_t v = 0;
  for (const Mapping& m : p.maps)
    if (m.used) v += m.len;
  return v;
}

// /proc/keel, a directory of Keel's views (system.cc).
bool keel_dir(const ProcPath& pp) { return pp.n == 1 && pp.part[0] == "keel"; }

char state_of(const Proc& p) { return p.zombie ? 'Z' : p.stopped ? 'T' : 'R'; }

void fd_target(const Proc& p, int fd, char* out, size_t cap) {
  const File* f = p.fds[fd].file;
  if (f->kind == FileKind::PipeRead || f->kind == FileKind::PipeWrite) {
    ktl::format(out, cap, "pipe:[{}]", uint64_t(reinterpret_cast<uintptr_t>(f->pipe)) & 0xffffffff);
    out[cap - 1] = 0;
    size_t n = 0;
    while (n + 1 < cap && out[n]) ++n;
    out[n] = 0;
    return;
  }
  copy_cstr(out, f->path[0] ? f->path : "/dev/console", cap - 1);
  out[cap - 1] = 0;
}

// Entries of a /proc directory: "d name" / "f name" / "l name", NUL-separated.
void list_dir(Proc& caller, const ProcPath& pp, Text* t) {
  auto entry = [&](char type, std::string_view name) {
    const char pre[2] = {type, ' '};
    t->put(pre, 2);
    t->put(name.data(), name.size());
    t->put("\0", 1);
  };
  if (pp.n == 0) {
    entry('l', "self");
    for (const char* n : {"meminfo", "cpuinfo", "uptime", "mounts", "stat", "loadavg", "version"}) entry('f', n);
    entry('d', "keel");
    for (Proc& q : g_procs)
      if (q.used) {
        char num[16];
        size_t n = ktl::format(num, sizeof num, "{}", q.pid);
        entry('d', {num, n});
      }
    return;
  }
  if (keel_dir(pp)) {
    for (const char* n : kKeelProcFiles) entry('f', n);
    return;
  }
  Proc* q = target_of(caller, pp.part[0]);
  if (!q) return;
  if (pp.n == 1) {
    for (const char* n : {"stat", "statm", "status", "cmdline", "comm"}) entry('f', n);
    entry('l', "exe");
    entry('d', "fd");
  } else if (pp.n == 2 && pp.part[1] == "fd") {
    for (int fd = 0; fd < int(kMaxFds); ++fd)
      if (q->fds[fd].file) {
        char num[16];
        size_t n = ktl::format(num, sizeof num, "{}", fd);
        entry('l', {num, n});
      }
  }
}

// The text of a /proc file, or false if there is no such file.
bool make_file(Proc& caller, const ProcPath& pp, Text* t) {
  if (pp.n == 1) {
    const std::string_view name = pp.part[0];
    keel::SystemStats st{};
    (void)sys::system_stats(&st, sizeof st);
    const uint64_t total_kb = st.frames_total * 4, free_kb = st.frames_free * 4;
    if (name == "meminfo") {
      t->f("MemTotal:       {} kB\nMemFree:        {} kB\nMemAvailable:   {} kB\n", total_kb, free_kb, free_kb);
      t->put("Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n");
      t->put("SwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n");
      return true;
    }
    if (name == "cpuinfo") {
      for (uint64_t i = 0; i < (st.cpus ? st.cpus : 1); ++i) {
        t->f("processor\t: {}\nvendor_id\t: KeelVirtualCPU\nmodel name\t: x86-64 under Keel\n", i);
        t->put("flags\t\t: fpu tsc cx8 cmov mmx fxsr sse sse2 syscall nx lm\n\n");
      }
      return true;
    }
    if (name == "uptime") {
      const uint64_t ns = keel::now_ns(), cs = (ns / 10'000'000) % 100;
      t->f("{}.{}{} 0.00\n", ns / 1'000'000'000, cs / 10, cs % 10);
      return true;
    }
    if (name == "mounts") {
      t->put("initrd / initrdfs ro 0 0\ntmpfs /tmp tmpfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n");
      t->put("proc /proc proc rw 0 0\ndev /dev devtmpfs rw 0 0\n");
      return true;
    }
    if (name == "stat") {
      // (no CPU times are kept: every tick count is 0)
      t->put("cpu  0 0 0 0 0 0 0 0 0 0\n");
      for (uint64_t i = 0; i < (st.cpus ? st.cpus : 1); ++i) t->f("cpu{} 0 0 0 0 0 0 0 0 0 0\n", i);
      t->f("processes {}\nprocs_running 1\nprocs_blocked 0\nbtime {}\n", g_next_pid - 1, g_boot_realtime_ns / 1'000'000'000);
      return true;
    }
    if (name == "loadavg") {
      // proc(5): the 1, 5 and 15 minute loads (not measured here: 0.00), runnable/total
      // threads, the last pid handed out.
      int total = 0, running = 0;
      for (const Thread& th : g_threads)
        if (th.used) {
          ++total;
          running += th.block == Block::None && !th.stopped ? 1 : 0;
        }
      t->f("0.00 0.00 0.00 {}/{} {}\n", running ? running : 1, total ? total : 1, g_next_pid - 1);
      return true;
    }
    if (name == "version") {
      t->put("Linux version 6.1.0-keel (Keel's Linux personality) #1\n");
      return true;
    }
    return false;
  }
  if (pp.n == 2 && pp.part[0] == "keel") {
    char* text = nullptr;
    size_t len = 0;
    if (!keel_proc_text(pp.part[1], &text, &len)) return false;
    t->put(text ? text : "", len);
    delete[] text;
    return true;
  }
  Proc* q = target_of(caller, pp.part[0]);
  if (!q || pp.n != 2) return false;
  const std::string_view what = pp.part[1];
  if (what == "stat") {
    // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss ...
    const uint64_t start_ticks = q->start_ns / 10'000'000;
    const uint64_t vs = vsize(*q);
    uint64_t tty_nr = 0;
    int tpgid = -1;
    tty_stat_fields(*q, &tty_nr, &tpgid);
    t->f("{} ({}) {} {} {} {} {} {} 0 0 0 0 0 0 0 0 0 20 0 {} 0 {} {} {} ", q->pid, q->comm, state_of(*q), q->ppid,
         q->pgid, q->sid, tty_nr, tpgid, thread_count(*q), start_ticks, vs, vs / 4096);
    t->put("18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    return true;
  }
  if (what == "status") {
    t->f("Name:\t{}\nUmask:\t{:#o}\nState:\t{} ({})\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\n", q->comm, q->umask,
         state_of(*q), q->zombie ? "zombie" : "running", q->pid, q->pid, q->ppid);
    t->put("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
    t->f("VmSize:\t{} kB\nVmRSS:\t{} kB\nThreads:\t{}\n", vsize(*q) / 1024, vsize(*q) / 1024 / 4 + 4, thread_count(*q));
    return true;
  }
  if (what == "statm") {
    // proc(5), in pages: size resident shared text lib data dt. Resident is
    // not known page by page here: the mapped private memory counts.
    uint64_t size = 0, priv = 0, shared = 0;
    for (const Mapping& m : q->maps)
      if (m.used) {
        size += m.len / kPage;
        (m.shared ? shared : priv) += m.len / kPage;
      }
    t->f("{} {} {} 0 0 {} 0\n", size, size, shared, priv);
    return true;
  }
  if (what == "comm") {
    t->f("{}\n", q->comm);
    return true;
  }
  if (what == "cmdline") {
    t->put(q->cmdline, q->cmdline_len);
    return true;
  }
  return false;
}

}  // namespace

bool procfs_path(const char* path) {
  const char* pre = "/proc";
  for (int i = 0; i < 5; ++i)
    if (path[i] != pre[i]) return false;
  return path[5] == 0 || path[5] == '/';
}

int64_t procfs_readlink(Proc& caller, const char* path, char* out, size_t cap) {
  ProcPath pp = split(path);
  if (pp.n == 1 && pp.part[0] == "self") {
    ktl::format(out, cap, "{}", caller.pid);
    return 0;
  }
  Proc* q = pp.n >= 2 ? target_of(caller, pp.part[0]) : nullptr;
  if (!q && pp.n >= 1 && pp.part[0] == "keel") {  // (not links)
    Text t;
    const bool there = keel_dir(pp) || make_file(caller, pp, &t);
    delete[] t.buf;
    return there ? -L::EINVAL : -L::ENOENT;
  }
  if (!q) return pp.n >= 1 && (pp.part[0] == "self" || target_of(caller, pp.part[0])) ? -L::EINVAL : -L::ENOENT;
  if (pp.n == 2 && pp.part[1] == "exe") {
    copy_cstr(out, q->exe, cap - 1);
    out[cap - 1] = 0;
    return 0;
  }
  int fd = -1;
  if (pp.n == 3 && pp.part[1] == "fd" && parse_fd(pp.part[2], &fd)) {
    if (fd >= int(kMaxFds) || !q->fds[fd].file) return -L::ENOENT;
    fd_target(*q, fd, out, cap);
    return 0;
  }
  Text t;  // (a file, not a link: EINVAL)
  const bool file = make_file(caller, pp, &t);
  delete[] t.buf;
  return file ? -L::EINVAL : -L::ENOENT;
}

// Follows /proc symlinks (self, exe, fd/N) to a path of their target, once.
// Returns true and fills `out` if `path` is one.
bool procfs_follow(Proc& caller, const char* path, char (&out)[kPathMax]) {
  ProcPath pp = split(path);
  if (pp.n >= 1 && pp.part[0] == "self") {  // /proc/self/... → /proc/PID/...
    char buf[kPathMax];
    size_t n = ktl::format(buf, sizeof buf, "/proc/{}", caller.pid);
    const char* rest = path + 10;  // after "/proc/self"
    const size_t rl = strlen(rest);
    if (n + rl >= sizeof buf) return false;
    memcpy(buf + n, rest, rl + 1);
    memcpy(out, buf, n + rl + 1);
    return true;
  }
  Proc* q = pp.n >= 2 ? target_of(caller, pp.part[0]) : nullptr;
  if (!q) return false;
  if (pp.n == 2 && pp.part[1] == "exe") {
    copy_cstr(out, q->exe, kPathMax - 1);
    out[kPathMax - 1] = 0;
    return true;
  }
  int fd = -1;
  if (pp.n == 3 && pp.part[1] == "fd" && parse_fd(pp.part[2], &fd)) {
    if (fd >= int(kMaxFds) || !q->fds[fd].file || q->fds[fd].file->path[0] == 0) return false;
    copy_cstr(out, q->fds[fd].file->path, kPathMax - 1);
    out[kPathMax - 1] = 0;
    return true;
  }
  return false;
}

int64_t procfs_stat(Proc& caller, const char* path, L::Stat* st, bool follow) {
  char target[kPathMax];
  ProcPath pp = split(path);
  const bool is_link = (pp.n == 1 && pp.part[0] == "self") || (pp.n == 2 && pp.part[1] == "exe") ||
                       (pp.n == 3 && pp.part[1] == "fd");
  if (is_link && !follow) {
    char buf[kPathMax];
    int64_t e = procfs_readlink(caller, path, buf, sizeof buf);
    if (e < 0) return e;
    fill_stat(st, L::S_IFLNK | 0777, strlen(buf), path_ino(path));
    return 0;
  }
  if (is_link && procfs_follow(caller, path, target)) {
    if (procfs_path(target)) return procfs_stat(caller, target, st, true);
    return stat_path(target, st);
  }
  if (is_link) {  // a pipe or a device: stat the open file itself
    Proc* q = target_of(caller, pp.part[0]);
    int fd = 0;
    if (q && pp.n == 3 && parse_fd(pp.part[2], &fd) && fd < int(kMaxFds) && q->fds[fd].file)
      return stat_file(q->fds[fd].file, st);
    return -L::ENOENT;
  }
  Text t;
  if (pp.n == 0 || (pp.n == 1 && target_of(caller, pp.part[0])) || keel_dir(pp) ||
      (pp.n == 2 && pp.part[1] == "fd" && target_of(caller, pp.part[0]))) {
    fill_stat(st, L::S_IFDIR | 0555, 0, path_ino(path));
    return 0;
  }
  if (make_file(caller, pp, &t)) {
    fill_stat(st, L::S_IFREG | 0444, 0, path_ino(path));
    delete[] t.buf;
    return 0;
  }
  return -L::ENOENT;
}

int64_t procfs_open(Proc& caller, const char* path, uint64_t flags, File** out) {
  char target[kPathMax];
  if (procfs_follow(caller, path, target)) {
    if (procfs_path(target)) return procfs_open(caller, target, flags, out);
    return open_path(target, flags & ~(L::O_CREAT | L::O_EXCL), 0, out);
  }
  ProcPath pp = split(path);
  const bool dir = pp.n == 0 || (pp.n == 1 && target_of(caller, pp.part[0])) || keel_dir(pp) ||
                   (pp.n == 2 && pp.part[1] == "fd" && target_of(caller, pp.part[0]));
  Text t;
  if (dir) {
    list_dir(caller, pp, &t);
  } else if (!make_file(caller, pp, &t)) {
    return -L::ENOENT;
  }
  if ((flags & L::O_ACCMODE) != L::O_RDONLY || (flags & (L::O_CREAT | L::O_TRUNC))) {
    delete[] t.buf;
    return dir ? -L::EISDIR : -L::EACCES;
  }
  if (!dir && (flags & L::O_DIRECTORY)) {
    delete[] t.buf;
    return -L::ENOTDIR;
  }
  File* f = new_file(dir ? FileKind::ProcDir : FileKind::ProcFile);
  if (!f) {
    delete[] t.buf;
    return -L::ENOMEM;
  }
  f->data = t.buf;
  f->data_len = t.len;
  f->flags = L::O_RDONLY;
  copy_cstr(f->path, path, sizeof f->path - 1);
  *out = f;
  return 0;
}

int64_t procfs_read(Proc& p, File* f, uint64_t buf, uint64_t len) {
  if (f->kind == FileKind::ProcDir) return -L::EISDIR;
  const size_t pos = size_t(f->dir_cookie);
  if (pos >= f->data_len) return 0;
  size_t n = f->data_len - pos;
  if (n > len) n = size_t(len);
  if (!write_user(p, buf, f->data + pos, n)) return -L::EFAULT;
  f->dir_cookie += n;
  return int64_t(n);
}

int64_t procfs_getdents(Proc& p, File* f, uint64_t buf, uint64_t cap) {
  uint8_t out[4096];
  size_t used = 0;
  const size_t limit = cap < sizeof out ? size_t(cap) : sizeof out;
  // Entries: ".", "..", then the listed ones; dir_cookie counts them.
  size_t index = 0, pos = 0;
  auto emit = [&](uint8_t type, std::string_view name) -> bool {
    const size_t rec = (19 + name.size() + 1 + 7) & ~size_t(7);
    if (used + rec > limit) return false;
    uint8_t* e = out + used;
    memset(e, 0, rec);
    char full[2 * kPathMax];
    size_t fl = ktl::format(full, sizeof full, "{}/{}", f->path, name);
    full[fl < sizeof full ? fl : sizeof full - 1] = 0;
    const uint64_t ino = path_ino(full);
    const int64_t off = int64_t(index + 1);
    const uint16_t reclen = uint16_t(rec);
    memcpy(e, &ino, 8);
    memcpy(e + 8, &off, 8);
    memcpy(e + 16, &reclen, 2);
    e[18] = type;
    memcpy(e + 19, name.data(), name.size());
    used += rec;
    return true;
  };
  for (;; ++index) {
    std::string_view name;
    uint8_t type = L::DT_DIR;
    if (index == 0) {
      name = ".";
    } else if (index == 1) {
      name = "..";
    } else {
      // the (index-2)-th listed entry
      size_t k = 0;
      pos = 0;
      while (pos < f->data_len && k < index - 2) {
        pos += strlen(f->data + pos) + 1;
        ++k;
      }
      if (pos >= f->data_len) break;
      const char* e = f->data + pos;
      type = e[0] == 'd' ? L::DT_DIR : e[0] == 'l' ? L::DT_LNK : L::DT_REG;
      name = e + 2;
    }
    if (index < f->dir_cookie) continue;
    if (!emit(type, name)) {
      if (used == 0) return -L::EINVAL;
      break;
    }
    f->dir_cookie = index + 1;
  }
  if (!write_user(p, buf, out, used)) return -L::EFAULT;
  return int64_t(used);
}

}  // namespace linux_srv
