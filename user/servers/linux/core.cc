// linux/core.cc — tables, the Linux process's memory, the console (internal.h lists the files).
#include "internal.h"

#include <keel/path.h>
#include <keel/spawn.h>

namespace linux_srv {

Handle g_ep = kInvalidHandle;  // the server endpoint (read); threads get badged copies
Proc g_procs[kMaxProcs];
Thread g_threads[kMaxThreads];
int g_next_pid = 2;  // pid 1 is the personality itself, as init: the parent of the programs it starts
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
const char* last_slash(const char* s, int) {
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

// Reads a NUL-terminated string of at most cap-1 bytes. Returns its length,
// -EFAULT, or -ENAMETOOLONG.
int64_t read_string(Proc& p, uint64_t addr, char* out, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    const uint64_t a = addr + n;
    size_t chunk = size_t(page_up(a + 1) - a);
    if (n == 0 && chunk > 128) chunk = 128;  // (most strings are short: the copy is what costs)
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

uint64_t thread_badge(const Thread& t) {
  return kThreadBadge | (uint64_t(&t - g_threads) << 32) | uint64_t(uint32_t(t.tid));
}

Thread* thread_of_badge(uint64_t badge) {
  if (!(badge & kThreadBadge)) return nullptr;
  const uint64_t slot = (badge >> 32) & 0xffff;
  if (slot >= kMaxThreads) return nullptr;
  Thread& t = g_threads[slot];
  return t.used && uint32_t(t.tid) == uint32_t(badge) ? &t : nullptr;
}

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
size_t g_threads_used_end = 0;

Thread* new_thread(Proc* p, int tid) {
  for (Thread& t : g_threads)
    if (!t.used) {
      if (size_t(&t - g_threads) + 1 > g_threads_used_end) g_threads_used_end = size_t(&t - g_threads) + 1;
      t = Thread{};
      t.used = true;
      t.tid = tid;
      t.proc = p;
      t.resumed_ns = keel::now_ns();  // (it starts running user code soon: CPU time counts from here)
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

}  // namespace linux_srv
