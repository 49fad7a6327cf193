/* pipes — pipe2, end-of-file and EPIPE/SIGPIPE, capacity and atomicity,
 * poll, ppoll, select and pselect6 on pipes, and pipes between processes. */
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>

static volatile sig_atomic_t got_sigpipe;
static void on_sigpipe(int sig) { got_sigpipe = sig; }

static void test_pipe2(void) {
  int p[2] = {-1, -1};
  CHECK_EQ(pipe2(p, 0), 0, "pipe2 succeeds");
  CHECK(p[0] >= 0 && p[1] >= 0 && p[0] != p[1], "pipe2 returns two fds");
  CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY, "the read end is O_RDONLY");
  CHECK_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY, "the write end is O_WRONLY");
  CHECK_EQ(fcntl(p[0], F_GETFD), 0, "pipe2(0): no FD_CLOEXEC");
  struct stat st;
  CHECK(fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode), "fstat: S_ISFIFO");
  CHECK_EQ(write(p[1], "pipe data", 9), 9, "write 9 bytes");
  int avail = -1;
  CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 9, "FIONREAD counts 9 bytes");
  char b[16] = {0};
  CHECK_EQ(read(p[0], b, 4), 4, "a short read takes 4");
  CHECK_EQ(read(p[0], b + 4, 16), 5, "the next read takes the other 5");
  CHECK_STR(b, "pipe data", "the bytes arrive in order");
  CHECK_ERR(read(p[1], b, 1), EBADF, "read of the write end: EBADF");
  close(p[1]);
  CHECK_EQ(read(p[0], b, 16), 0, "read after the writer closed: 0 (EOF)");
  close(p[0]);
  int q[2];
  CHECK_EQ(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0, "pipe2 O_CLOEXEC|O_NONBLOCK");
  CHECK(fcntl(q[0], F_GETFD) == FD_CLOEXEC && fcntl(q[1], F_GETFD) == FD_CLOEXEC, "both ends have FD_CLOEXEC");
  CHECK((fcntl(q[0], F_GETFL) & O_NONBLOCK) && (fcntl(q[1], F_GETFL) & O_NONBLOCK), "both ends are O_NONBLOCK");
  CHECK_ERR(read(q[0], b, 1), EAGAIN, "read of an empty non-blocking pipe: EAGAIN");
  /* Capacity: fill the pipe until EAGAIN. */
  static char big[4096];
  long total = 0;
  for (int i = 0; i < 1024; i++) {
    ssize_t w = write(q[1], big, sizeof big);
    if (w < 0) break;
    total += w;
  }
  CHECK_ERR(write(q[1], "x", 1), EAGAIN, "write to a full non-blocking pipe: EAGAIN");
  CHECK(total >= 4096 && total % 4096 == 0, "the capacity is a multiple of PIPE_BUF, at least 4096");
  int sz = fcntl(q[1], F_GETPIPE_SZ);
  CHECK_EQ(total, sz, "F_GETPIPE_SZ is the capacity filled");
  long drained = 0;
  for (;;) {
    ssize_t r = read(q[0], big, sizeof big);
    if (r <= 0) break;
    drained += r;
  }
  CHECK_EQ(drained, total, "all the bytes written can be read back");
  close(q[0]);
  close(q[1]);
  CHECK_ERR(pipe2(q, 0x10), EINVAL, "pipe2 with an unknown flag: EINVAL");
  CHECK_ERR(syscall(SYS_pipe2, T_BADPTR, 0), EFAULT, "pipe2 into a bad pointer: EFAULT");
  CHECK_ERR(syscall(SYS_pipe, T_BADPTR), EFAULT, "pipe into a bad pointer: EFAULT");
}

static void test_epipe(void) {
  int p[2];
  pipe(p);
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  CHECK_ERR(write(p[1], "x", 1), EPIPE, "write with no reader, SIGPIPE ignored: EPIPE");
  signal(SIGPIPE, on_sigpipe);
  got_sigpipe = 0;
  CHECK_ERR(write(p[1], "x", 1), EPIPE, "write with no reader, SIGPIPE handled: EPIPE");
  CHECK_EQ(got_sigpipe, SIGPIPE, "and the SIGPIPE handler ran");
  signal(SIGPIPE, SIG_DFL);
  pid_t c = fork();
  if (c == 0) {
    write(p[1], "x", 1);
    _exit(0);
  }
  CHECK_KILLED(t_wait(c), SIGPIPE, "write with no reader, SIGPIPE default: killed by SIGPIPE");
  close(p[1]);
}

static void test_atomic(void) {
  /* Two children each write 200 records of PIPE_BUF bytes; every record must arrive whole. */
  int p[2];
  pipe(p);
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      close(p[0]);
      char rec[PIPE_BUF];
      memset(rec, 'a' + k, sizeof rec);
      for (int i = 0; i < 200; i++) if (write(p[1], rec, sizeof rec) != sizeof rec) _exit(1);
      _exit(0);
    }
  }
  close(p[1]);
  static char rec[PIPE_BUF];
  int counts[2] = {0, 0}, torn = 0;
  for (;;) {
    size_t got = 0;
    while (got < sizeof rec) {
      ssize_t r = read(p[0], rec + got, sizeof rec - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (got == 0) break;
    if (got != sizeof rec) { torn++; break; }
    int k = rec[0] - 'a';
    for (size_t i = 0; i < sizeof rec; i++) if (rec[i] != rec[0]) { torn++; break; }
    if (k == 0 || k == 1) counts[k]++;
  }
  close(p[0]);
  CHECK_EXIT(t_wait(kids[0]), 0, "writer 1 exits 0");
  CHECK_EXIT(t_wait(kids[1]), 0, "writer 2 exits 0");
  CHECK_EQ(torn, 0, "writes of PIPE_BUF bytes are not interleaved");
  CHECK(counts[0] == 200 && counts[1] == 200, "all 400 records arrive");
}

static void test_poll(void) {
  int p[2];
  pipe(p);
  struct pollfd fds[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
  CHECK_EQ(poll(fds, 2, 0), 1, "poll: only the write end is ready");
  CHECK(fds[0].revents == 0 && fds[1].revents == POLLOUT, "revents: nothing to read, POLLOUT to write");
  write(p[1], "z", 1);
  fds[0].revents = fds[1].revents = 77;
  CHECK_EQ(poll(fds, 2, 0), 2, "poll after a write: both ready");
  CHECK_EQ(fds[0].revents, POLLIN, "the read end has POLLIN");
  long long t0 = t_now_ns();
  struct pollfd one = {p[0], POLLIN, 0};
  char ch;
  read(p[0], &ch, 1);
  CHECK_EQ(poll(&one, 1, 10), 0, "poll with a 10 ms timeout on an empty pipe returns 0");
  CHECK(t_now_ns() - t0 >= 10000000LL, "poll waited at least 10 ms");
  struct pollfd neg = {-1, POLLIN, 55};
  CHECK(poll(&neg, 1, 0) == 0 && neg.revents == 0, "poll ignores a negative fd and clears its revents");
  struct pollfd bad = {1000, POLLIN, 0};
  CHECK(poll(&bad, 1, 0) == 1 && bad.revents == POLLNVAL, "poll of an unopened fd: POLLNVAL");
  CHECK_ERR(syscall(SYS_poll, T_BADPTR, 1, 0), EFAULT, "poll of a bad pointer: EFAULT");
  CHECK_ERR(poll(&one, 0x7fffffff, 0), EINVAL, "poll with nfds over RLIMIT_NOFILE: EINVAL");
  /* A blocking poll woken by a child's write. */
  pid_t c = fork();
  if (c == 0) {
    t_sleep_ms(5);
    write(p[1], "w", 1);
    _exit(0);
  }
  one.revents = 0;
  CHECK(poll(&one, 1, 5000) == 1 && one.revents == POLLIN, "a blocking poll wakes when another process writes");
  t_wait(c);
  read(p[0], &ch, 1);
  close(p[1]);
  CHECK(poll(&one, 1, 0) == 1 && (one.revents & POLLHUP), "the read end has POLLHUP when the writer closed");
  close(p[0]);
  pipe(p);
  close(p[0]);
  struct pollfd w = {p[1], POLLOUT, 0};
  CHECK(poll(&w, 1, 0) == 1 && (w.revents & POLLERR), "the write end has POLLERR when the reader closed");
  close(p[1]);
  /* ppoll */
  pipe(p);
  struct timespec ts = {0, 2000000};
  one.fd = p[0];
  sigset_t mask;
  sigemptyset(&mask);
  CHECK_EQ(ppoll(&one, 1, &ts, &mask), 0, "ppoll with a 2 ms timeout and a mask returns 0");
  struct timespec badts = {0, 1000000000};
  CHECK_ERR(ppoll(&one, 1, &badts, NULL), EINVAL, "ppoll with tv_nsec 1e9: EINVAL");
  write(p[1], "q", 1);
  CHECK(ppoll(&one, 1, NULL, NULL) == 1 && one.revents == POLLIN, "ppoll without a timeout returns a ready fd");
  close(p[0]);
  close(p[1]);
}

static void test_select(void) {
  int p[2];
  pipe(p);
  fd_set r, w;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(p[0], &r);
  FD_SET(p[1], &w);
  struct timeval tv = {0, 0};
  int maxfd = (p[0] > p[1] ? p[0] : p[1]) + 1;
  CHECK_EQ(select(maxfd, &r, &w, NULL, &tv), 1, "select: only the write end is ready");
  CHECK(!FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w), "select clears the read bit, keeps the write bit");
  write(p[1], "s", 1);
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  tv.tv_sec = 1;
  tv.tv_usec = 0;
  CHECK_EQ(select(maxfd, &r, NULL, NULL, &tv), 1, "select after a write: the read end is ready");
  CHECK(FD_ISSET(p[0], &r), "select sets the read bit");
  char c;
  read(p[0], &c, 1);
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  tv.tv_sec = 0;
  tv.tv_usec = 5000;
  long long t0 = t_now_ns();
  CHECK_EQ(select(maxfd, &r, NULL, NULL, &tv), 0, "select with a 5 ms timeout returns 0");
  CHECK(t_now_ns() - t0 >= 5000000LL, "select waited at least 5 ms");
  tv.tv_sec = 0;
  tv.tv_usec = 3000;
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  CHECK_EQ(syscall(SYS_select, maxfd, &r, NULL, NULL, &tv), 0, "raw select with a 3 ms timeout returns 0");
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "raw select updates the timeout to the time left (0)");
  CHECK_ERR(select(-1, NULL, NULL, NULL, &tv), EINVAL, "select with nfds -1: EINVAL");
  tv.tv_usec = -1;
  CHECK_ERR(syscall(SYS_select, maxfd, &r, NULL, NULL, &tv), EINVAL, "raw select with a negative tv_usec: EINVAL");
  int spare = dup(p[0]);
  close(spare);
  fd_set bad;
  FD_ZERO(&bad);
  FD_SET(spare, &bad);
  tv.tv_sec = tv.tv_usec = 0;
  CHECK_ERR(select(spare + 1, &bad, NULL, NULL, &tv), EBADF, "select of a closed fd: EBADF");
  CHECK_ERR(syscall(SYS_select, maxfd, T_BADPTR, NULL, NULL, &tv), EFAULT, "select of a bad fd_set pointer: EFAULT");
  /* pselect */
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct timespec ts = {0, 1000000};
  sigset_t mask;
  sigemptyset(&mask);
  CHECK_EQ(pselect(maxfd, &r, NULL, NULL, &ts, &mask), 0, "pselect with a 1 ms timeout returns 0");
  write(p[1], "t", 1);
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  CHECK(pselect(maxfd, &r, NULL, NULL, NULL, NULL) == 1 && FD_ISSET(p[0], &r), "pselect without a timeout returns the ready fd");
  struct timespec badts = {0, -1};
  CHECK_ERR(pselect(maxfd, &r, NULL, NULL, &badts, NULL), EINVAL, "pselect with a negative tv_nsec: EINVAL");
  close(p[0]);
  close(p[1]);
}

static void test_across_fork(void) {
  /* parent -> child -> parent: the child upper-cases what it reads. */
  int down[2], up[2];
  pipe(down);
  pipe(up);
  pid_t c = fork();
  if (c == 0) {
    close(down[1]);
    close(up[0]);
    char b[256];
    ssize_t r;
    while ((r = read(down[0], b, sizeof b)) > 0) {
      for (ssize_t i = 0; i < r; i++) if (b[i] >= 'a' && b[i] <= 'z') b[i] -= 32;
      write(up[1], b, (size_t)r);
    }
    _exit(r == 0 ? 0 : 1);
  }
  close(down[0]);
  close(up[1]);
  write(down[1], "hello from the parent", 21);
  close(down[1]);
  char b[64] = {0};
  size_t got = 0;
  ssize_t r;
  while ((r = read(up[0], b + got, sizeof b - 1 - got)) > 0) got += (size_t)r;
  CHECK_STR(b, "HELLO FROM THE PARENT", "a child reads the parent's pipe and answers through another");
  CHECK_EQ(r, 0, "the parent sees EOF when the child exits");
  CHECK_EXIT(t_wait(c), 0, "the child saw EOF and exited 0");
  close(up[0]);
  /* EOF only once every write end is closed: a child keeps one. */
  int p[2];
  pipe(p);
  c = fork();
  if (c == 0) {
    close(p[0]);
    t_sleep_ms(10);
    write(p[1], "late", 4);
    _exit(0);
  }
  close(p[1]);
  char l[8] = {0};
  CHECK(read(p[0], l, sizeof l) == 4 && strcmp(l, "late") == 0, "read blocks while a child holds the write end, then gets its data");
  CHECK_EQ(read(p[0], l, sizeof l), 0, "and EOF once the child has exited");
  t_wait(c);
  close(p[0]);
  /* A three-process pipeline through stdin/stdout: gen | filter | parent. */
  int a[2], bpipe[2];
  pipe(a);
  pipe(bpipe);
  pid_t g = fork();
  if (g == 0) {
    dup2(a[1], 1);
    close(a[0]); close(a[1]); close(bpipe[0]); close(bpipe[1]);
    for (int i = 1; i <= 1000; i++) { char n[16]; int len = snprintf(n, sizeof n, "%d\n", i); write(1, n, (size_t)len); }
    _exit(0);
  }
  pid_t f = fork();
  if (f == 0) {
    dup2(a[0], 0);
    dup2(bpipe[1], 1);
    close(a[0]); close(a[1]); close(bpipe[0]); close(bpipe[1]);
    /* Sum the numbers on stdin. */
    long sum = 0, cur = 0;
    char buf[512];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
      for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') { sum += cur; cur = 0; } else cur = cur * 10 + (buf[i] - '0');
      }
    char out[32];
    int len = snprintf(out, sizeof out, "%ld", sum);
    write(1, out, (size_t)len);
    _exit(0);
  }
  close(a[0]); close(a[1]); close(bpipe[1]);
  char sum[32] = {0};
  got = 0;
  while ((r = read(bpipe[0], sum + got, sizeof sum - 1 - got)) > 0) got += (size_t)r;
  close(bpipe[0]);
  CHECK_STR(sum, "500500", "a pipeline of three processes sums 1..1000");
  CHECK_EXIT(t_wait(g), 0, "the generator exits 0");
  CHECK_EXIT(t_wait(f), 0, "the filter exits 0");
}

int main(void) {
  t_begin("pipes");
  test_pipe2();
  test_epipe();
  test_atomic();
  test_poll();
  test_select();
  test_across_fork();
  return t_end();
}
