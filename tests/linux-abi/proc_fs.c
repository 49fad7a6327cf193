/* proc_fs — the /proc that busybox ps, top, free and uptime read:
 * /proc/self, /proc/<pid>/{stat,status,cmdline,exe,fd/}, meminfo, cpuinfo,
 * uptime and mounts, checked against what the system calls say (see proc(5)). */
#include "harness.h"

#include <limits.h>
#include <sched.h>

static char self_path[PATH_MAX];
static char self_comm[16]; /* the executable's file name, cut to 15 bytes as the kernel keeps it */
static char big[65536];

/* The fields of /proc/PID/stat after "(comm)", split on spaces: f[0] is field 3 (state). */
static int stat_fields(pid_t pid, char *comm, size_t commlen, char **f, int max) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  static char buf[4096];
  if (t_read_file(path, buf, sizeof buf) <= 0) return -1;
  char *open = strchr(buf, '(');
  char *close = strrchr(buf, ')');
  if (!open || !close || close < open) return -1;
  size_t n = (size_t)(close - open - 1);
  if (n >= commlen) n = commlen - 1;
  memcpy(comm, open + 1, n);
  comm[n] = 0;
  int k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(close + 2, " \n", &save); tok && k < max; tok = strtok_r(NULL, " \n", &save)) f[k++] = tok;
  return k;
}

/* The value of "Key:" in a /proc status-like file, or NULL. */
static const char *field(const char *text, const char *key) {
  static char val[256];
  size_t kl = strlen(key);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    size_t sp = kl;
    while (l[sp] == ' ' || l[sp] == '\t') sp++;
    if (strncmp(l, key, kl) == 0 && l[sp] == ':') {
      const char *v = l + sp + 1;
      while (*v == ' ' || *v == '\t') v++;
      size_t n = strcspn(v, "\n");
      if (n >= sizeof val) n = sizeof val - 1;
      memcpy(val, v, n);
      val[n] = 0;
      return val;
    }
  }
  return NULL;
}

static void test_self(void) {
  char link[64], want[64];
  ssize_t n = readlink("/proc/self", link, sizeof link - 1);
  if (n >= 0) link[n] = 0;
  snprintf(want, sizeof want, "%d", getpid());
  CHECK(n > 0 && strcmp(link, want) == 0, "/proc/self is a symlink to the pid");
  struct stat a, b;
  char pd[64];
  snprintf(pd, sizeof pd, "/proc/%d", getpid());
  CHECK(stat("/proc/self", &a) == 0 && stat(pd, &b) == 0 && a.st_ino == b.st_ino && S_ISDIR(a.st_mode),
        "/proc/self and /proc/<pid> are the same directory");
  char exe[PATH_MAX];
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n >= 0) exe[n] = 0;
  char real[PATH_MAX];
  CHECK(n > 0 && realpath(self_path, real) && strcmp(exe, real) == 0, "/proc/self/exe names this program");
  struct stat e1, e2;
  CHECK(stat("/proc/self/exe", &e1) == 0 && stat(self_path, &e2) == 0 && e1.st_ino == e2.st_ino, "/proc/self/exe opens the same file");
}

static void test_stat_status(void) {
  char comm[64];
  char *f[64];
  int n = stat_fields(getpid(), comm, sizeof comm, f, 64);
  CHECK(n >= 20, "/proc/self/stat has at least 22 fields");
  if (n < 20) return;
  CHECK_STR(comm, self_comm, "stat field 2: comm is the program's file name");
  CHECK_STR(f[0], "R", "stat field 3: state R while reading it");
  CHECK_EQ(atoi(f[1]), getppid(), "stat field 4: ppid");
  CHECK_EQ(atoi(f[2]), getpgrp(), "stat field 5: pgrp");
  CHECK_EQ(atoi(f[3]), getsid(0), "stat field 6: session");
  CHECK_EQ(atoi(f[17]), 1, "stat field 20: num_threads 1");
  struct timespec boot;
  clock_gettime(CLOCK_BOOTTIME, &boot);
  unsigned long long start = strtoull(f[19], NULL, 10);
  CHECK(start <= (unsigned long long)boot.tv_sec * 100 + boot.tv_nsec / 10000000 + 1,
        "stat field 22: starttime (ticks since boot) is not in the future");
  CHECK(strtoull(f[20], NULL, 10) > 0, "stat field 23: vsize is positive");
  static char status[8192];
  CHECK(t_read_file("/proc/self/status", status, sizeof status) > 0, "read /proc/self/status");
  CHECK_STR(field(status, "Name"), self_comm, "status Name");
  char want[64];
  snprintf(want, sizeof want, "%d", getpid());
  CHECK_STR(field(status, "Pid"), want, "status Pid");
  snprintf(want, sizeof want, "%d", getppid());
  CHECK_STR(field(status, "PPid"), want, "status PPid");
  const char *st = field(status, "State");
  CHECK(st && st[0] == 'R', "status State R");
  const char *uid = field(status, "Uid");
  CHECK(uid && (uid_t)atoi(uid) == getuid(), "status Uid starts with the real uid");
  const char *gid = field(status, "Gid");
  CHECK(gid && (gid_t)atoi(gid) == getgid(), "status Gid starts with the real gid");
  CHECK_STR(field(status, "Threads"), "1", "status Threads 1");
  const char *vm = field(status, "VmRSS");
  CHECK(vm && atol(vm) > 0 && strstr(vm, "kB"), "status VmRSS in kB");
  /* Other states, seen in a child: stopped (T) and zombie (Z). */
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[1]);
    char b;
    read(p[0], &b, 1);
    _exit(0);
  }
  close(p[0]);
  kill(c, SIGSTOP);
  int ws;
  waitpid(c, &ws, WUNTRACED);
  n = stat_fields(c, comm, sizeof comm, f, 64);
  CHECK(n > 2 && strcmp(f[0], "T") == 0, "a stopped child's state is T");
  CHECK(n > 2 && atoi(f[1]) == getpid(), "the child's ppid field is this process");
  kill(c, SIGCONT);
  close(p[1]);
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  n = stat_fields(c, comm, sizeof comm, f, 64);
  CHECK(n > 2 && strcmp(f[0], "Z") == 0, "an exited, unwaited child's state is Z");
  t_wait(c);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", c);
  CHECK_ERR(open(path, O_RDONLY), ENOENT, "a reaped child's /proc entry is gone: ENOENT");
}

static void test_cmdline(void) {
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[1]);
    dup2(p[0], 0);
    execl(self_path, "proc-fs-child", "--wait", "two words", "", (char *)NULL);
    _exit(99);
  }
  close(p[0]);
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/cmdline", c);
  static const char want[] = "proc-fs-child\0--wait\0two words\0\0";
  ssize_t n = 0;
  for (int i = 0; i < 2000; i++) {
    n = t_read_file(path, buf, sizeof buf);
    if (n == (ssize_t)sizeof want - 1 && memcmp(buf, want, sizeof want - 1) == 0) break;
    t_sleep_ms(1);
  }
  CHECK(n == (ssize_t)sizeof want - 1 && memcmp(buf, want, sizeof want - 1) == 0,
        "/proc/<pid>/cmdline is argv, each NUL-terminated");
  char comm[64];
  char *f[8];
  stat_fields(c, comm, sizeof comm, f, 8);
  CHECK_STR(comm, self_comm, "after exec, comm is the file's name (not argv[0])");
  close(p[1]);
  t_wait(c);
  n = t_read_file("/proc/self/cmdline", buf, sizeof buf);
  CHECK(n > 0 && strcmp(buf, self_path) == 0, "/proc/self/cmdline starts with this program's argv[0]");
}

static void test_fd_dir(void) {
  const char *f = t_path("fdfile");
  t_write_file(f, "fd contents", 11, 0644);
  int fd = open(f, O_RDONLY);
  char path[64], target[PATH_MAX], real[PATH_MAX];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n >= 0) target[n] = 0;
  CHECK(n > 0 && realpath(f, real) && strcmp(target, real) == 0, "/proc/self/fd/N names the open file");
  int again = open(path, O_RDONLY);
  char b[16] = {0};
  CHECK(again >= 0 && read(again, b, 11) == 11 && strcmp(b, "fd contents") == 0, "opening /proc/self/fd/N opens the file");
  close(again);
  int found = 0, saw0 = 0, saw1 = 0, saw2 = 0;
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL, "opendir /proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (atoi(e->d_name) == fd && e->d_name[0] != '.') found = 1;
    if (strcmp(e->d_name, "0") == 0) saw0 = 1;
    if (strcmp(e->d_name, "1") == 0) saw1 = 1;
    if (strcmp(e->d_name, "2") == 0) saw2 = 1;
  }
  if (d) closedir(d);
  CHECK(found && saw0 && saw1 && saw2, "/proc/self/fd lists 0, 1, 2 and the new fd");
  close(fd);
  CHECK_ERR(readlink(path, target, sizeof target), ENOENT, "a closed fd's entry is gone: ENOENT");
  int p[2];
  pipe(p);
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  n = readlink(path, target, sizeof target - 1);
  if (n >= 0) target[n] = 0;
  CHECK(n > 0 && strncmp(target, "pipe:[", 6) == 0, "a pipe's fd link reads pipe:[inode]");
  close(p[0]);
  close(p[1]);
  CHECK_ERR(open("/proc/self/fd/999", O_RDONLY), ENOENT, "/proc/self/fd/999: ENOENT");
}

static void test_system_files(void) {
  ssize_t n = t_read_file("/proc/meminfo", big, sizeof big);
  CHECK(n > 0, "read /proc/meminfo");
  const char *tot = field(big, "MemTotal");
  long total = tot ? atol(tot) : 0;
  CHECK(tot && total > 1024 && strstr(tot, "kB"), "meminfo MemTotal in kB");
  const char *fr = field(big, "MemFree");
  CHECK(fr && atol(fr) > 0 && atol(fr) <= total, "meminfo MemFree <= MemTotal");
  const char *av = field(big, "MemAvailable");
  CHECK(av && atol(av) <= total, "meminfo MemAvailable <= MemTotal");
  CHECK(field(big, "Buffers") && field(big, "Cached"), "meminfo has Buffers and Cached (free reads them)");
  n = t_read_file("/proc/cpuinfo", big, sizeof big);
  CHECK(n > 0, "read /proc/cpuinfo");
  int procs = 0;
  for (const char *l = big; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, "processor", 9) == 0) procs++;
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  CHECK(procs >= 1 && procs >= CPU_COUNT(&set), "cpuinfo lists a processor per CPU we may run on (at least)");
  const char *flags = field(big, "flags");
  CHECK(flags && strstr(flags, "fpu") != NULL, "cpuinfo flags include fpu");
  CHECK(field(big, "vendor_id") != NULL, "cpuinfo has vendor_id");
  char up[128];
  n = t_read_file("/proc/uptime", up, sizeof up);
  double uptime = -1, idle = -1;
  CHECK(n > 0 && sscanf(up, "%lf %lf", &uptime, &idle) == 2, "/proc/uptime has two numbers");
  struct timespec boot;
  clock_gettime(CLOCK_BOOTTIME, &boot);
  CHECK(uptime > 0 && uptime <= boot.tv_sec + 2 && uptime >= boot.tv_sec - 2, "uptime agrees with CLOCK_BOOTTIME");
  CHECK(idle >= 0, "idle time is non-negative");
  n = t_read_file("/proc/mounts", big, sizeof big);
  CHECK(n > 0, "read /proc/mounts");
  int lines = 0, good = 1, has_proc = 0;
  char *save = NULL;
  for (char *l = strtok_r(big, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char dev[256], dir[256], type[64], opts[512];
    int a, b;
    lines++;
    if (sscanf(l, "%255s %255s %63s %511s %d %d", dev, dir, type, opts, &a, &b) != 6) good = 0;
    else if (strcmp(type, "proc") == 0 && strcmp(dir, "/proc") == 0) has_proc = 1;
  }
  CHECK(lines > 0 && good, "every /proc/mounts line has 6 fields");
  CHECK(has_proc, "/proc/mounts lists proc on /proc");
  CHECK_ERR(open("/proc/999999999/stat", O_RDONLY), ENOENT, "/proc of no such pid: ENOENT");
}

/* What busybox top and ps read besides the files above: /proc/stat,
 * /proc/loadavg, /proc/PID/statm, and the owner of /proc/PID. */
static void test_top_files(void) {
  ssize_t n = t_read_file("/proc/stat", big, sizeof big);
  CHECK(n > 0, "read /proc/stat");
  unsigned long long v[4] = {0, 0, 0, 0};
  CHECK(n > 0 && sscanf(big, "cpu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) == 4,
        "/proc/stat starts with a cpu line of user, nice, system, idle ticks");
  int cpus = 0;
  for (const char *l = big; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, "cpu", 3) == 0 && l[3] >= '0' && l[3] <= '9') cpus++;
  CHECK(cpus >= 1, "/proc/stat has a cpuN line per CPU");
  const char *bt = strstr(big, "\nbtime ");
  struct timespec rt, boot;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  long long btime = bt ? atoll(bt + 7) : 0;
  CHECK(bt && btime >= rt.tv_sec - boot.tv_sec - 2 && btime <= rt.tv_sec - boot.tv_sec + 2,
        "/proc/stat btime is the boot time (now - CLOCK_BOOTTIME)");
  CHECK(strstr(big, "\nprocesses ") != NULL, "/proc/stat counts processes");
  char la[128];
  n = t_read_file("/proc/loadavg", la, sizeof la);
  double l1 = -1, l5 = -1, l15 = -1;
  int running = -1, total = -1, last = -1;
  CHECK(n > 0 && sscanf(la, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &running, &total, &last) == 6,
        "/proc/loadavg: three loads, running/total, the last pid");
  CHECK(l1 >= 0 && l5 >= 0 && l15 >= 0 && running >= 1 && total >= running, "the loadavg numbers are consistent");
  n = t_read_file("/proc/self/statm", la, sizeof la);
  long size = -1, resident = -1;
  CHECK(n > 0 && sscanf(la, "%ld %ld", &size, &resident) == 2 && size > 0 && resident > 0 && resident <= size,
        "/proc/self/statm: size >= resident > 0 (pages)");
  struct stat st;
  CHECK(stat("/proc/self", &st) == 0 && st.st_uid == geteuid() && st.st_gid == getegid(),
        "/proc/PID is owned by the process's euid and egid (ps reads the user there)");
  if (geteuid() != 0) CHECK_ERR(open("/proc/self/stat", O_WRONLY), EACCES, "/proc/self/stat is not writable: EACCES");
  else t_skip("/proc/self/stat is not writable: EACCES", "running as root");
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--wait") == 0) {
    char b;
    return read(0, &b, 1) < 0;
  }
  snprintf(self_path, sizeof self_path, "%s", argv[0]);
  const char *base = strrchr(argv[0], '/');
  snprintf(self_comm, sizeof self_comm, "%s", base ? base + 1 : argv[0]);
  t_begin("proc_fs");
  test_self();
  test_stat_status();
  test_cmdline();
  test_fd_dir();
  test_system_files();
  test_top_files();
  return t_end();
}
