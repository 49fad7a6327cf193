/* tty — terminals without needing one: the ENOTTY/EBADF errors on non-ttys,
 * /dev/tty without a controlling terminal (ENXIO), and, where /dev/ptmx
 * exists, a pseudo-terminal: termios (TCGETS/TCSETS*), window size
 * (TIOCGWINSZ/TIOCSWINSZ), the canonical line discipline (echo, erase, ONLCR),
 * raw mode, a controlling terminal (TIOCSCTTY, TIOCGPGRP/TIOCSPGRP) and job
 * control: ^C sends SIGINT and ^Z SIGTSTP to the foreground group, and a
 * background read stops with SIGTTIN. Whatever needs stdin to be a terminal
 * is skipped (SKIP) when it is not. */
#include "harness.h"

#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>

static void test_not_a_tty(void) {
  int p[2];
  pipe(p);
  errno = 0;
  CHECK(isatty(p[0]) == 0 && errno == ENOTTY, "isatty of a pipe: 0, ENOTTY");
  struct termios t;
  CHECK_ERR(ioctl(p[0], TCGETS, &t), ENOTTY, "TCGETS on a pipe: ENOTTY");
  struct winsize ws;
  CHECK_ERR(ioctl(p[1], TIOCGWINSZ, &ws), ENOTTY, "TIOCGWINSZ on a pipe: ENOTTY");
  close(p[0]);
  close(p[1]);
  int n = open("/dev/null", O_RDWR);
  CHECK_ERR(ioctl(n, TCGETS, &t), ENOTTY, "TCGETS on /dev/null: ENOTTY");
  CHECK_ERR(tcgetpgrp(n), ENOTTY, "tcgetpgrp of /dev/null: ENOTTY");
  close(n);
  const char *f = t_path("plain");
  t_write_file(f, "x", 1, 0644);
  int fd = open(f, O_RDONLY);
  CHECK_ERR(ioctl(fd, TCGETS, &t), ENOTTY, "TCGETS on a regular file: ENOTTY");
  CHECK(ttyname(fd) == NULL, "ttyname of a regular file: NULL");
  close(fd);
  CHECK_ERR(ioctl(1000, TCGETS, &t), EBADF, "TCGETS on a bad fd: EBADF");
  struct stat st;
  CHECK(stat("/dev/tty", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 0,
        "/dev/tty is the character device 5:0");
  CHECK(stat("/dev/console", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 1,
        "/dev/console is the character device 5:1");
  errno = 0;
  CHECK(isatty(1000) == 0 && errno == EBADF, "isatty of a bad fd: 0, EBADF");
  /* A new session has no controlling terminal. */
  pid_t c = fork();
  if (c == 0) {
    setsid();
    int t2 = open("/dev/tty", O_RDWR);
    _exit(t2 < 0 && errno == ENXIO ? 0 : 1);
  }
  CHECK_EXIT(t_wait(c), 0, "in a new session, open(/dev/tty): ENXIO");
}

static void test_stdin(void) {
  if (!isatty(0)) {
    t_skip("stdin terminal checks", "stdin is not a terminal (isatty(0) is 0)");
    return;
  }
  struct termios t;
  CHECK_EQ(tcgetattr(0, &t), 0, "tcgetattr of stdin");
  CHECK(ttyname(0) != NULL, "ttyname of stdin");
}

static int master = -1;
static char slave_name[128];

static int open_pty(void) {
  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) return -1;
  if (grantpt(master) < 0 || unlockpt(master) < 0) return -1;
  const char *n = ptsname(master);
  if (!n) return -1;
  snprintf(slave_name, sizeof slave_name, "%s", n);
  return 0;
}

/* Reads from fd until want bytes or ms milliseconds have passed. */
static ssize_t read_some(int fd, char *buf, size_t want, int ms) {
  size_t got = 0;
  long long t0 = t_now_ns();
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  while (got < want && t_now_ns() - t0 < ms * 1000000LL) {
    ssize_t r = read(fd, buf + got, want - got);
    if (r > 0) got += (size_t)r;
    else t_sleep_ms(1);
  }
  fcntl(fd, F_SETFL, fl);
  buf[got] = 0;
  return (ssize_t)got;
}

static void test_pty(void) {
  int s = open(slave_name, O_RDWR | O_NOCTTY);
  CHECK(s >= 0, "open the pty slave");
  if (s < 0) return;
  CHECK_EQ(isatty(s), 1, "isatty of the slave: 1");
  CHECK_STR(ttyname(s), slave_name, "ttyname of the slave is ptsname");
  struct termios t;
  CHECK_EQ(tcgetattr(s, &t), 0, "TCGETS on the slave");
  CHECK((t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG), "a new pty is canonical, echoing, with signals");
  CHECK(t.c_cc[VINTR] == 3 && t.c_cc[VSUSP] == 26 && t.c_cc[VERASE] == 127, "VINTR ^C, VSUSP ^Z, VERASE DEL");
  CHECK((t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR), "output post-processing with ONLCR");
  struct winsize ws = {24, 80, 0, 0}, got = {0, 0, 0, 0};
  CHECK_EQ(ioctl(s, TIOCSWINSZ, &ws), 0, "TIOCSWINSZ 24x80");
  CHECK(ioctl(master, TIOCGWINSZ, &got) == 0 && got.ws_row == 24 && got.ws_col == 80, "TIOCGWINSZ on the master reads 24x80");
  CHECK_ERR(syscall(SYS_ioctl, s, TIOCGWINSZ, T_BADPTR), EFAULT, "TIOCGWINSZ into a bad pointer: EFAULT");
  CHECK_ERR(syscall(SYS_ioctl, s, TCSETS, T_BADPTR), EFAULT, "TCSETS from a bad pointer: EFAULT");
  /* Canonical input: a line arrives at once, with erase applied; echo goes back to the master. */
  write(master, "helx\x7fo\n", 7);
  char b[64];
  ssize_t n = read_some(s, b, 5, 2000);
  CHECK(n == 5 && strcmp(b, "helo\n") == 0, "the slave reads the line with the erased character removed");
  /* Echoes are flushed at the latest before the slave's next output. */
  write(s, "out\n", 4);
  n = read_some(master, b, 15, 2000);
  CHECK_STR(b, "helx\b \bo\r\nout\r\n",
            "the master sees the echo (ECHOE's backspace-space-backspace), then the output, \\n as \\r\\n (ONLCR)");
  /* Raw mode: bytes pass at once, no echo, no erase. */
  struct termios raw = t;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  CHECK_EQ(tcsetattr(s, TCSANOW, &raw), 0, "tcsetattr raw (TCSETS)");
  struct termios back;
  tcgetattr(s, &back);
  CHECK(!(back.c_lflag & (ICANON | ECHO)), "the raw settings read back");
  write(master, "a\x7f", 2);
  n = read_some(s, b, 2, 2000);
  CHECK(n == 2 && b[0] == 'a' && b[1] == 0x7f, "raw mode: bytes arrive as they are, without a newline");
  n = read_some(master, b, 1, 20);
  CHECK_EQ(n, 0, "raw mode: no echo");
  CHECK_EQ(tcsetattr(s, TCSADRAIN, &raw), 0, "tcsetattr TCSADRAIN (TCSETSW)");
  CHECK_EQ(tcsetattr(s, TCSAFLUSH, &t), 0, "tcsetattr back to canonical (TCSETSF)");
  CHECK_ERR(tcsetattr(s, 99, &t), EINVAL, "tcsetattr with a bad action: EINVAL");
  CHECK_ERR(tcgetpgrp(s), ENOTTY, "tcgetpgrp of a terminal that is not our controlling one: ENOTTY");
  close(s);
}

/* Job control in a child that makes the pty its controlling terminal. The
 * parent types ^C and ^Z into the master when the child asks (sync pipe). */
static void job_child(int report, int sync) {
  t_child(report);
  CHECK_EQ(setsid(), getpid(), "job: setsid");
  int s = open(slave_name, O_RDWR | O_NOCTTY);
  CHECK_EQ(ioctl(s, TIOCSCTTY, 0), 0, "job: TIOCSCTTY makes the pty the controlling terminal");
  CHECK_EQ(tcgetpgrp(s), getpid(), "job: TIOCGPGRP is our group");
  CHECK_EQ(tcgetsid(s), getpid(), "job: the terminal's session is ours");
  /* proc(5): /proc/self/stat's tty_nr is the controlling terminal's device, tpgid its foreground group. */
  char st_buf[512] = {0};
  int sf = open("/proc/self/stat", O_RDONLY);
  ssize_t got = sf >= 0 ? read(sf, st_buf, sizeof st_buf - 1) : -1;
  if (sf >= 0) close(sf);
  long long tty_nr = -2, tpgid = -2;
  char *after = got > 0 ? strrchr(st_buf, ')') : NULL;
  struct stat sst;
  if (after) sscanf(after + 2, "%*c %*d %*d %*d %lld %lld", &tty_nr, &tpgid);
  CHECK(fstat(s, &sst) == 0 && tty_nr == (long long)sst.st_rdev && tty_nr != 0,
        "job: /proc/self/stat's tty_nr is the controlling terminal's device");
  CHECK_EQ(tpgid, (long long)getpid(), "job: /proc/self/stat's tpgid is the foreground group");
  int t2 = open("/dev/tty", O_RDWR);
  CHECK(t2 >= 0, "job: /dev/tty opens now");
  close(t2);
  signal(SIGTTOU, SIG_IGN);
  const char keys[2] = {'c', 'z'};
  for (int k = 0; k < 2; k++) {
    pid_t g = fork();
    if (g == 0) {
      /* Waits without touching the terminal: a read before it is in the
       * foreground would stop it with SIGTTIN instead. */
      setpgid(0, 0);
      for (;;) pause();
    }
    setpgid(g, g);
    CHECK_EQ(tcsetpgrp(s, g), 0, "job: TIOCSPGRP makes a child's group the foreground");
    CHECK_EQ(tcgetpgrp(s), g, "job: TIOCGPGRP reads it back");
    write(sync, &keys[k], 1);
    int st = 0;
    pid_t w;
    do w = waitpid(g, &st, WUNTRACED);
    while (w < 0 && errno == EINTR);
    if (k == 0) CHECK_KILLED(st, SIGINT, "job: ^C kills the foreground group with SIGINT");
    else CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP, "job: ^Z stops the foreground group with SIGTSTP");
    if (!WIFSIGNALED(st)) { kill(g, SIGKILL); t_wait(g); }
    tcsetpgrp(s, getpgrp());
  }
  /* A background group reading the terminal is stopped with SIGTTIN. */
  pid_t g = fork();
  if (g == 0) {
    setpgid(0, 0);
    char b;
    read(s, &b, 1);
    _exit(0);
  }
  setpgid(g, g);
  int st = 0;
  pid_t w;
  do w = waitpid(g, &st, WUNTRACED);
  while (w < 0 && errno == EINTR);
  CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN, "job: a background read stops with SIGTTIN");
  kill(g, SIGKILL);
  t_wait(g);
  CHECK_ERR(tcsetpgrp(s, 0x3fffffff), ESRCH, "job: TIOCSPGRP to no such group: ESRCH");
  close(s);
  t_child_exit();
}

static void test_job_control(void) {
  int rep[2], sync[2];
  pipe(rep);
  pipe(sync);
  pid_t c = fork();
  if (c == 0) {
    close(rep[0]);
    close(sync[0]);
    job_child(rep[1], sync[1]);
  }
  close(rep[1]);
  close(sync[1]);
  char k;
  while (read(sync[0], &k, 1) == 1) {
    char key = k == 'c' ? 3 : 26;
    write(master, &key, 1);
  }
  close(sync[0]);
  CHECK(t_relay(rep[0]) >= 10, "the job-control child reported its checks");
  CHECK_EXIT(t_wait(c), 0, "the job-control child exits 0");
}

int main(void) {
  t_begin("tty");
  test_not_a_tty();
  test_stdin();
  if (open_pty() < 0) {
    t_skip("pseudo-terminal checks", "no usable /dev/ptmx");
  } else {
    test_pty();
    test_job_control();
  }
  return t_end();
}
