// keelctl — Keel's native management views from the Linux shell (busybox sh):
//
//   keelctl services   init's services: pid, state, restarts, uptime, program
//   keelctl ps         every Keel process, native servers too
//   keelctl dmesg      the kernel log
//   keelctl mem        physical frames, kernel heap, live kernel objects
//
// The native console shell's commands of the same names show the same
// text. A static Linux program (musl): it prints /proc/keel/NAME, which the
// Linux personality makes when it is opened from what init and the kernel
// report (docs/linux.md, /proc/keel). Exit status 0; 1 if the file cannot be
// read (not under Keel's personality); 2 for a bad command line.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const kCommands[] = {"services", "ps", "dmesg", "mem"};

static int usage(void) {
  fputs("usage: keelctl services|ps|dmesg|mem\n", stderr);
  return 2;
}

static int write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) return usage();
  int known = 0;
  for (size_t i = 0; i < sizeof kCommands / sizeof kCommands[0]; ++i) known |= strcmp(argv[1], kCommands[i]) == 0;
  if (!known) {
    fprintf(stderr, "keelctl: unknown command '%s'\n", argv[1]);
    return usage();
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/keel/%s", argv[1]);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "keelctl: %s: %s\n", path, strerror(errno));
    return 1;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "keelctl: %s: %s\n", path, strerror(errno));
      return 1;
    }
    if (n == 0) break;
    if (write_all(buf, (size_t)n) < 0) return 1;
  }
  close(fd);
  return 0;
}
