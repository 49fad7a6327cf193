/* devs — the memory devices: /dev/null, /dev/zero, /dev/full, /dev/urandom
 * (and /dev/random): their device numbers, reads, writes, seeks, poll and
 * mmap, and the errors of using them the wrong way. */
#include "harness.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

static void check_dev(const char *path, unsigned maj, unsigned min) {
  struct stat st;
  char name[96];
  snprintf(name, sizeof name, "%s is a character device %u:%u", path, maj, min);
  CHECK(stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj && minor(st.st_rdev) == min, name);
  snprintf(name, sizeof name, "%s is readable and writable by everyone (0666)", path);
  CHECK((st.st_mode & 0666) == 0666, name);
}

static void test_null(void) {
  check_dev("/dev/null", 1, 3);
  int fd = open("/dev/null", O_RDWR);
  CHECK(fd >= 0, "open /dev/null O_RDWR");
  char b[16] = "untouched";
  CHECK_EQ(read(fd, b, sizeof b), 0, "read of /dev/null returns 0 (EOF)");
  CHECK_STR(b, "untouched", "and leaves the buffer alone");
  CHECK_EQ(write(fd, "discard me", 10), 10, "write to /dev/null takes everything");
  static char big[1 << 20];
  CHECK_EQ(write(fd, big, sizeof big), (long)sizeof big, "a 1 MiB write to /dev/null completes");
  CHECK_EQ(lseek(fd, 1234, SEEK_SET), 0, "lseek on /dev/null succeeds (and reports 0)");
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT), "poll: /dev/null is always readable and writable");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode), "fstat of the fd: a character device");
  close(fd);
  int wo = open("/dev/null", O_WRONLY);
  CHECK_ERR(read(wo, b, 1), EBADF, "read of a write-only /dev/null fd: EBADF");
  close(wo);
  CHECK_ERR(open("/dev/null/x", O_RDONLY), ENOTDIR, "a path through /dev/null: ENOTDIR");
  CHECK_ERR(open("/dev/null", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on /dev/null: ENOTDIR");
  /* Redirecting a child's output there. */
  pid_t c = fork();
  if (c == 0) {
    int n = open("/dev/null", O_WRONLY);
    dup2(n, 1);
    _exit(write(1, "gone", 4) == 4 ? 0 : 1);
  }
  CHECK_EXIT(t_wait(c), 0, "a child writes to stdout redirected to /dev/null");
}

static void test_zero(void) {
  check_dev("/dev/zero", 1, 5);
  int fd = open("/dev/zero", O_RDWR);
  CHECK(fd >= 0, "open /dev/zero");
  char b[4096];
  memset(b, 0xee, sizeof b);
  CHECK_EQ(read(fd, b, sizeof b), 4096, "read of /dev/zero fills the whole buffer");
  int zero = 1;
  for (size_t i = 0; i < sizeof b; i++) zero &= b[i] == 0;
  CHECK(zero, "with zeros");
  CHECK_EQ(write(fd, "x", 1), 1, "write to /dev/zero succeeds");
  CHECK_ERR(syscall(SYS_read, fd, T_BADPTR, 16), EFAULT, "read of /dev/zero into a bad pointer: EFAULT");
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED, "mmap of /dev/zero MAP_PRIVATE");
  if (m != MAP_FAILED) {
    CHECK(m[0] == 0 && m[8191] == 0, "the mapping reads zeros");
    m[100] = 5;
    CHECK_EQ(m[100], 5, "and is writable");
    munmap(m, 8192);
  }
  close(fd);
}

static void test_full(void) {
  check_dev("/dev/full", 1, 7);
  int fd = open("/dev/full", O_RDWR);
  CHECK(fd >= 0, "open /dev/full");
  CHECK_ERR(write(fd, "x", 1), ENOSPC, "write to /dev/full: ENOSPC");
  char b[64];
  memset(b, 1, sizeof b);
  CHECK_EQ(read(fd, b, sizeof b), 64, "read of /dev/full returns bytes");
  CHECK(b[0] == 0 && b[63] == 0, "zeros, like /dev/zero");
  close(fd);
}

static void test_random(void) {
  check_dev("/dev/urandom", 1, 9);
  check_dev("/dev/random", 1, 8);
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd >= 0, "open /dev/urandom");
  unsigned char a[64], b[64];
  CHECK_EQ(read(fd, a, sizeof a), 64, "read 64 bytes of /dev/urandom");
  CHECK_EQ(read(fd, b, sizeof b), 64, "read 64 more");
  CHECK(memcmp(a, b, sizeof a) != 0, "the two reads differ");
  int ones = 0;
  for (size_t i = 0; i < sizeof a; i++) ones += __builtin_popcount(a[i]) + __builtin_popcount(b[i]);
  CHECK(ones > 384 && ones < 640, "about half the 1024 bits are set");
  static unsigned char big[1 << 16];
  CHECK_EQ(read(fd, big, sizeof big), (long)sizeof big, "a 64 KiB read of /dev/urandom completes");
  close(fd);
  int r = open("/dev/random", O_RDONLY | O_NONBLOCK);
  CHECK(r >= 0 && read(r, a, 16) == 16, "/dev/random gives 16 bytes without blocking");
  close(r);
  int w = open("/dev/urandom", O_WRONLY);
  CHECK(w >= 0 && write(w, "seed", 4) == 4, "writing to /dev/urandom is accepted");
  close(w);
}

static void test_misuse(void) {
  CHECK_ERR(open("/dev/nonexistent-device", O_RDONLY), ENOENT, "open of a missing device node: ENOENT");
  struct stat st;
  CHECK(stat("/dev", &st) == 0 && S_ISDIR(st.st_mode), "/dev is a directory");
  /* mknod of a device node needs privilege; a FIFO does not. */
  const char *fifo = t_path("fifo");
  CHECK_EQ(mknod(fifo, S_IFIFO | 0600, 0), 0, "mknod of a FIFO");
  CHECK(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is S_ISFIFO");
  int rd = open(fifo, O_RDONLY | O_NONBLOCK);
  int wr = open(fifo, O_WRONLY | O_NONBLOCK);
  CHECK(rd >= 0 && wr >= 0, "a FIFO opens for reading and writing (non-blocking)");
  char b[8] = {0};
  CHECK(write(wr, "fifo", 4) == 4 && read(rd, b, sizeof b) == 4 && strcmp(b, "fifo") == 0, "data goes through the FIFO");
  close(wr);
  CHECK_EQ(read(rd, b, sizeof b), 0, "with the writer gone the FIFO reads EOF");
  close(rd);
  CHECK_ERR(open(fifo, O_WRONLY | O_NONBLOCK), ENXIO, "O_WRONLY|O_NONBLOCK open of a FIFO with no reader: ENXIO");
  /* Blocking opens wait for the other end (the writer here, the reader in a child). */
  pid_t kid = fork();
  if (kid == 0) {
    int w = open(fifo, O_WRONLY);
    _exit(w >= 0 && write(w, "hi", 2) == 2 ? 0 : 1);
  }
  int r2 = open(fifo, O_RDONLY);
  char c2[4] = {0};
  CHECK(r2 >= 0 && read(r2, c2, 2) == 2 && strcmp(c2, "hi") == 0, "blocking opens of a FIFO meet; the data goes through");
  CHECK_EXIT(t_wait(kid), 0, "the writer's blocking open and its write succeed");
  if (r2 >= 0) close(r2);
  /* O_RDWR (fifo(7): Linux opens it at once, blocking or not): one fd is both ends. */
  int rw = open(fifo, O_RDWR);
  CHECK(rw >= 0, "a blocking O_RDWR open of a FIFO with no other end opens at once");
  char c3[8] = {0};
  CHECK(rw >= 0 && write(rw, "both", 4) == 4 && read(rw, c3, sizeof c3) == 4 && strcmp(c3, "both") == 0,
        "an O_RDWR FIFO fd reads what it wrote");
  int w3 = open(fifo, O_WRONLY | O_NONBLOCK);
  CHECK(w3 >= 0, "with an O_RDWR fd open, a non-blocking writer has a reader");
  if (w3 >= 0) close(w3);
  if (rw >= 0) close(rw);
  CHECK_EQ(unlink(fifo), 0, "a FIFO is removed with unlink");
  if (geteuid() != 0) CHECK_ERR(mknod(t_path("chr"), S_IFCHR | 0600, makedev(1, 3)), EPERM, "mknod of a device as a user: EPERM");
  else t_skip("mknod of a device as a user: EPERM", "running as root");
}

int main(void) {
  t_begin("devs");
  test_null();
  test_zero();
  test_full();
  test_random();
  test_misuse();
  return t_end();
}
