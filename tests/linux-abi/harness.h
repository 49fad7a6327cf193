/* harness.h — the Linux-ABI conformance suite's tiny test harness.
 *
 * Every binary of tests/linux-abi/ includes this header, calls t_begin("NAME")
 * first and returns t_end() from main. Output (stdout, written with write(2), so
 * nothing is left buffered across fork or exec):
 *
 *   ok N name                                        a check passed (N counts from 1)
 *   FAIL name: expected X got Y (file.c:line)        a check failed (the name may hold ": ";
 *                                                    what follows it always starts "expected ")
 *   SKIP name: reason                                a check that could not run here (not counted)
 *   # text                                           a diagnostic
 *   linux-abi NAME: P passed, F failed               the last line
 *
 * The exit status is 0 only if F is 0 and P is above 0.
 *
 * Checks made in another process (a fork child, or a program it executed) are
 * reported to the parent through a pipe: the child calls t_child(fd), after
 * which its checks write "ok - name" and "FAIL name: ..." lines to fd instead
 * of stdout; the parent calls t_relay(fd), which reads those lines until EOF
 * and counts them as its own. The parent still checks the child's wait status.
 *
 * Facts come from the Linux man pages (man-pages 6.x, sections 2 and 7), not
 * from any implementation.
 */
#ifndef LINUX_ABI_HARNESS_H
#define LINUX_ABI_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

static const char *t_suite = "?";
static int t_passed, t_failed, t_number;
static int t_report_fd = -1; /* >= 0 in a child that reports to its parent */

/* The symbolic name of an errno value, for messages ("ENOENT"). */
static __attribute__((unused)) const char *t_errname(int e) {
  switch (e) {
#define T_E(x) case x: return #x;
    T_E(EPERM) T_E(ENOENT) T_E(ESRCH) T_E(EINTR) T_E(EIO) T_E(ENXIO) T_E(E2BIG) T_E(ENOEXEC)
    T_E(EBADF) T_E(ECHILD) T_E(EAGAIN) T_E(ENOMEM) T_E(EACCES) T_E(EFAULT) T_E(EBUSY)
    T_E(EEXIST) T_E(EXDEV) T_E(ENODEV) T_E(ENOTDIR) T_E(EISDIR) T_E(EINVAL) T_E(ENFILE)
    T_E(EMFILE) T_E(ENOTTY) T_E(EFBIG) T_E(ENOSPC) T_E(ESPIPE) T_E(EROFS) T_E(EMLINK)
    T_E(EPIPE) T_E(ERANGE) T_E(ENAMETOOLONG) T_E(ENOSYS) T_E(ENOTEMPTY) T_E(ELOOP)
    T_E(ETIMEDOUT) T_E(EOPNOTSUPP) T_E(EOVERFLOW) T_E(ETXTBSY)
#undef T_E
    case 0: return "0";
    default: return "E?";
  }
}

static __attribute__((unused)) void t_write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* printf to fd, unbuffered. Lines longer than 1 KiB are cut. */
__attribute__((format(printf, 2, 3), unused)) static void t_printf(int fd, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  int saved = errno;
  t_write_all(fd, buf, (size_t)n);
  errno = saved;
}

static __attribute__((unused)) void t_ok(const char *name) {
  if (t_report_fd >= 0) {
    t_printf(t_report_fd, "ok - %s\n", name);
    return;
  }
  t_passed++;
  t_printf(1, "ok %d %s\n", ++t_number, name);
}

__attribute__((format(printf, 4, 5), unused)) static void t_fail(const char *name, const char *file, int line,
                                                         const char *fmt, ...) {
  char what[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  if (t_report_fd >= 0) {
    t_printf(t_report_fd, "FAIL %s: %s (%s:%d)\n", name, what, base, line);
    t_failed++;
    return;
  }
  t_failed++;
  t_number++;
  t_printf(1, "FAIL %s: %s (%s:%d)\n", name, what, base, line);
}

static __attribute__((unused)) void t_skip(const char *name, const char *reason) {
  t_printf(t_report_fd >= 0 ? t_report_fd : 1, "SKIP %s: %s\n", name, reason);
}

#define t_note(...) t_printf(1, "# " __VA_ARGS__)

/* Every failure message starts with "expected " (t_fail's fmt must too), so
 * that a reader can split "FAIL name: expected ..." even when the name holds ": ". */

/* CHECK(cond, name): passes if cond is true. */
#define CHECK(cond, name)                                                          \
  do {                                                                             \
    int t_errno_ = errno;                                                          \
    if (cond) t_ok(name);                                                          \
    else t_fail(name, __FILE__, __LINE__, "expected %s got false (errno %s)", #cond, \
                t_errname(t_errno_));                                              \
  } while (0)

/* CHECK_EQ(got, expected, name): integer equality. */
#define CHECK_EQ(got, exp, name)                                                              \
  do {                                                                                        \
    long long t_g_ = (long long)(got), t_e_ = (long long)(exp);                               \
    int t_errno_ = errno;                                                                     \
    if (t_g_ == t_e_) t_ok(name);                                                             \
    else t_fail(name, __FILE__, __LINE__, "expected %lld (%#llx) got %lld (%#llx) (errno %s)", \
                t_e_, (unsigned long long)t_e_, t_g_, (unsigned long long)t_g_,               \
                t_errname(t_errno_));                                                         \
  } while (0)

/* CHECK_STR(got, expected, name): string equality (a NULL got fails). */
#define CHECK_STR(got, exp, name)                                                          \
  do {                                                                                     \
    const char *t_g_ = (got), *t_e_ = (exp);                                               \
    if (t_g_ && strcmp(t_g_, t_e_) == 0) t_ok(name);                                       \
    else t_fail(name, __FILE__, __LINE__, "expected \"%s\" got \"%s\"", t_e_, t_g_ ? t_g_ : "(null)"); \
  } while (0)

/* CHECK_ERR(expr, E, name): expr (a libc or syscall() call) returns -1 with errno E. */
#define CHECK_ERR(expr, err, name)                                                    \
  do {                                                                                \
    errno = 0;                                                                        \
    long long t_r_ = (long long)(expr);                                               \
    int t_errno_ = errno;                                                             \
    if (t_r_ == -1 && t_errno_ == (err)) t_ok(name);                                  \
    else t_fail(name, __FILE__, __LINE__, "expected -1/%s got %lld/%s", t_errname(err), t_r_, \
                t_errname(t_errno_));                                                 \
  } while (0)

/* CHECK_OK(expr, name): expr does not return -1 (prints errno if it does). */
#define CHECK_OK(expr, name)                                                                  \
  do {                                                                                        \
    errno = 0;                                                                                \
    long long t_r_ = (long long)(expr);                                                       \
    int t_errno_ = errno;                                                                     \
    if (t_r_ != -1) t_ok(name);                                                               \
    else t_fail(name, __FILE__, __LINE__, "expected success got -1/%s", t_errname(t_errno_)); \
  } while (0)

/* CHECK_RC(expr, E, name): expr returns the error number E itself (pthread and
 * clock_nanosleep style); E may be 0. */
#define CHECK_RC(expr, err, name)                                                         \
  do {                                                                                    \
    int t_r_ = (expr);                                                                    \
    if (t_r_ == (err)) t_ok(name);                                                        \
    else t_fail(name, __FILE__, __LINE__, "expected %s got %s (%d)", t_errname(err),       \
                t_errname(t_r_), t_r_);                                                   \
  } while (0)

/* A readable description of a wait status, for messages. */
static __attribute__((unused)) const char *t_status(int st, char *buf, size_t n) {
  if (WIFEXITED(st)) snprintf(buf, n, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, n, "signal %d%s", WTERMSIG(st), WCOREDUMP(st) ? " (core)" : "");
  else if (WIFSTOPPED(st)) snprintf(buf, n, "stopped by %d", WSTOPSIG(st));
  else if (WIFCONTINUED(st)) snprintf(buf, n, "continued");
  else snprintf(buf, n, "status %#x", st);
  return buf;
}

/* CHECK_EXIT(status, code, name): a wait status of a normal exit with code. */
#define CHECK_EXIT(st, code, name)                                                                \
  do {                                                                                            \
    int t_s_ = (st);                                                                              \
    char t_b_[64];                                                                                \
    if (WIFEXITED(t_s_) && WEXITSTATUS(t_s_) == (code)) t_ok(name);                               \
    else t_fail(name, __FILE__, __LINE__, "expected exit %d got %s", (code), t_status(t_s_, t_b_, sizeof t_b_)); \
  } while (0)

/* CHECK_KILLED(status, sig, name): a wait status of death by signal sig. */
#define CHECK_KILLED(st, sig, name)                                                               \
  do {                                                                                            \
    int t_s_ = (st);                                                                              \
    char t_b_[64];                                                                                \
    if (WIFSIGNALED(t_s_) && WTERMSIG(t_s_) == (sig)) t_ok(name);                                 \
    else t_fail(name, __FILE__, __LINE__, "expected signal %d got %s", (sig), t_status(t_s_, t_b_, sizeof t_b_)); \
  } while (0)

/* In a fork child (or a program executed by one): report checks to fd. */
static __attribute__((unused)) void t_child(int fd) {
  t_report_fd = fd;
  t_failed = 0;
}

/* Ends a reporting child: exit status 0 if its checks passed, 1 otherwise. */
__attribute__((noreturn, unused)) static void t_child_exit(void) { _exit(t_failed ? 1 : 0); }

/* In the parent: counts the lines a child reported on fd (read to EOF, then
 * closed). Returns the number of checks relayed. */
static __attribute__((unused)) int t_relay(int fd) {
  static char buf[65536];
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    if (len == sizeof buf - 1) break;
  }
  close(fd);
  buf[len] = 0;
  int n = 0;
  for (char *line = buf; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (strncmp(line, "ok - ", 5) == 0) {
      t_ok(line + 5);
      n++;
    } else if (strncmp(line, "FAIL ", 5) == 0) {
      t_failed++;
      t_number++;
      t_printf(1, "%s\n", line);
      n++;
    } else if (strncmp(line, "SKIP ", 5) == 0) {
      t_printf(1, "%s\n", line);
    } else if (*line) {
      t_printf(1, "# child: %s\n", line);
    }
    if (!nl) break;
    line = nl + 1;
  }
  return n;
}

/* Waits for pid (retrying on EINTR); returns its status, or -1. */
static __attribute__((unused)) int t_wait(pid_t pid) {
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, 0);
  while (r < 0 && errno == EINTR);
  return r == pid ? st : -1;
}

/* Nanoseconds of CLOCK_MONOTONIC. */
static __attribute__((unused)) long long t_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __attribute__((unused)) void t_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* A fresh scratch directory: $TMPDIR (or /tmp)/linux-abi-NAME-XXXXXX, made at
 * the first call and removed with everything in it by t_end(). */
static char t_scratch_dir[256];

static __attribute__((unused)) const char *t_scratch(void) {
  if (!t_scratch_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(t_scratch_dir, sizeof t_scratch_dir, "%s/linux-abi-%s-XXXXXX", tmp, t_suite);
    if (!mkdtemp(t_scratch_dir)) {
      t_printf(1, "# cannot make a scratch directory under %s: %s\n", tmp, strerror(errno));
      t_scratch_dir[0] = 0;
      return "/nonexistent-scratch";
    }
  }
  return t_scratch_dir;
}

/* path = scratch/name, into a static ring of buffers (64 live at a time). */
static __attribute__((unused)) const char *t_path(const char *name) {
  static char bufs[64][512];
  static int next;
  char *b = bufs[next++ & 63];
  snprintf(b, 512, "%s/%s", t_scratch(), name);
  return b;
}

/* Writes a whole file (mode applies if created); 0 or -1. */
static __attribute__((unused)) int t_write_file(const char *path, const char *data, size_t n, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  t_write_all(fd, data, n);
  close(fd);
  return 0;
}

/* Reads up to n-1 bytes of a file and NUL-terminates; returns bytes or -1. */
static __attribute__((unused)) ssize_t t_read_file(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, n - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    if (len == n - 1) break;
  }
  close(fd);
  buf[len] = 0;
  return (ssize_t)len;
}

static __attribute__((unused)) void t_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path, 0700);
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        t_remove_tree(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

static __attribute__((unused)) void t_begin(const char *suite) {
  t_suite = suite;
  /* Crashing children must not leave core files behind. */
  struct { unsigned long cur, max; } none = {0, 0};
  syscall(SYS_prlimit64, 0, 4 /* RLIMIT_CORE */, &none, NULL);
}

static __attribute__((unused)) int t_end(void) {
  if (t_scratch_dir[0]) t_remove_tree(t_scratch_dir);
  t_printf(1, "linux-abi %s: %d passed, %d failed\n", t_suite, t_passed, t_failed);
  return t_failed == 0 && t_passed > 0 ? 0 : 1;
}

/* An address no process has mapped (the start of the non-canonical hole is
 * rejected too, but a low unmapped page is the portable EFAULT case). */
#define T_BADPTR ((void *)16)

#endif /* LINUX_ABI_HARNESS_H */
