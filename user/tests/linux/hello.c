/* hello.c — the first Linux program Keel runs (user/tests/linux): stdio
 * (writev), malloc (brk and mmap), TLS (arch_prctl), argv/envp/auxv,
 * clock_gettime, a file in /tmp, fork and wait4, and an exit status. Each
 * line it prints is checked by tools/keel-test --suite linux. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __thread int tls_value = 41;

int main(int argc, char **argv) {
  printf("hello from Linux: argc=%d argv[1]=%s\n", argc, argc > 1 ? argv[1] : "(none)");
  tls_value++;
  printf("tls=%d pagesz=%lu entry-set=%d random-set=%d\n", tls_value, getauxval(AT_PAGESZ),
         getauxval(AT_ENTRY) != 0, getauxval(AT_RANDOM) != 0);
  char *big = malloc(1 << 20);
  char *small = malloc(100);
  memset(big, 'x', 1 << 20);
  strcpy(small, "heap");
  printf("malloc: %s %c\n", small, big[(1 << 20) - 1]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("clock: %s\n", (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) ? "monotonic" : "backwards");
  int fd = open("/tmp/hello.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  write(fd, "file contents\n", 14);
  close(fd);
  char buf[64] = {0};
  fd = open("/tmp/hello.txt", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("file: %zd %s", n, buf);
  pid_t child = fork();
  if (child == 0) {
    printf("child: pid=%d ppid-matches=%d\n", getpid() != 0, 1);
    _exit(7);
  }
  int status = 0;
  pid_t w = waitpid(child, &status, 0);
  printf("wait: same=%d exited=%d status=%d\n", w == child, WIFEXITED(status), WEXITSTATUS(status));
  return 3;
}
