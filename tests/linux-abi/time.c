/* time — clock_gettime for the common clocks (through libc and the raw
 * system call), clock_getres, gettimeofday, time, nanosleep, clock_nanosleep,
 * times, alarm and setitimer/getitimer. */
#include "harness.h"

#include <sys/time.h>
#include <sys/times.h>
#include <pthread.h>

static long long ts_ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void test_clocks(void) {
  static const struct { clockid_t id; const char *name; } clocks[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"}, {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"}, {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"}, {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"}, {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
  };
  char name[96];
  for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
    struct timespec a = {-1, -1}, r = {-1, -1};
    long rc = syscall(SYS_clock_gettime, clocks[i].id, &a);
    snprintf(name, sizeof name, "raw clock_gettime(%s): a valid time", clocks[i].name);
    CHECK(rc == 0 && a.tv_sec >= 0 && a.tv_nsec >= 0 && a.tv_nsec < 1000000000, name);
    rc = syscall(SYS_clock_getres, clocks[i].id, &r);
    snprintf(name, sizeof name, "clock_getres(%s): positive, at most 10 ms", clocks[i].name);
    CHECK(rc == 0 && r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 10000000, name);
  }
  struct timespec m;
  clock_getres(CLOCK_MONOTONIC, &m);
  CHECK(m.tv_nsec <= 1000000, "CLOCK_MONOTONIC resolution is 1 ms or better");
  /* Monotonic never goes back; libc (vDSO or not) agrees with the system call. */
  struct timespec prev, cur;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &prev);
  int back = 0;
  for (int i = 0; i < 2000; i++) {
    if (i & 1) clock_gettime(CLOCK_MONOTONIC, &cur);
    else syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &cur);
    if (ts_ns(cur) < ts_ns(prev)) back++;
    prev = cur;
  }
  CHECK_EQ(back, 0, "CLOCK_MONOTONIC never goes back over 2000 reads (libc and raw mixed)");
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  CHECK(rt.tv_sec > 1577836800, "CLOCK_REALTIME is after 2020-01-01");
  time_t t = time(NULL);
  CHECK(t >= rt.tv_sec && t <= rt.tv_sec + 2, "time() agrees with CLOCK_REALTIME");
  time_t t2 = 0;
  CHECK(syscall(SYS_time, &t2) >= rt.tv_sec && t2 >= rt.tv_sec, "raw time() returns and stores the time");
  struct timeval tv;
  CHECK_EQ(gettimeofday(&tv, NULL), 0, "gettimeofday succeeds");
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000 && tv.tv_sec >= rt.tv_sec && tv.tv_sec <= rt.tv_sec + 2,
        "gettimeofday agrees with CLOCK_REALTIME");
  CHECK_EQ(syscall(SYS_gettimeofday, &tv, NULL), 0, "raw gettimeofday succeeds");
  struct timespec boot, mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  CHECK(ts_ns(boot) >= ts_ns(mono) - 1000000, "CLOCK_BOOTTIME >= CLOCK_MONOTONIC");
  CHECK_ERR(syscall(SYS_clock_gettime, 12345, &rt), EINVAL, "clock_gettime of an unknown clock: EINVAL");
  CHECK_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, T_BADPTR), EFAULT, "clock_gettime into a bad pointer: EFAULT");
  CHECK_ERR(syscall(SYS_clock_getres, 12345, &rt), EINVAL, "clock_getres of an unknown clock: EINVAL");
  CHECK_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL), 0, "clock_getres with a NULL result succeeds");
  CHECK_ERR(syscall(SYS_gettimeofday, T_BADPTR, NULL), EFAULT, "gettimeofday into a bad pointer: EFAULT");
  CHECK_ERR(syscall(SYS_clock_settime, 12345, &rt), EINVAL, "clock_settime of an unknown clock: EINVAL");
  /* CPU clocks advance with work. */
  struct timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  long long start = t_now_ns();
  do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  while (ts_ns(c1) - ts_ns(c0) < 2000000 && t_now_ns() - start < 2000000000LL);
  long long wall = t_now_ns() - start;
  CHECK(ts_ns(c1) - ts_ns(c0) >= 2000000 && wall >= ts_ns(c1) - ts_ns(c0) - 1000000,
        "CLOCK_PROCESS_CPUTIME_ID advances while spinning, no faster than the wall clock");
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  CHECK(ts_ns(c1) > 0, "CLOCK_THREAD_CPUTIME_ID is positive");
}

static volatile int cpu_spin_stop;
static void *cpu_spinner(void *arg) {
  while (!cpu_spin_stop) {}
  return arg;
}

/* clock_nanosleep on CLOCK_PROCESS_CPUTIME_ID (clock_nanosleep(2): allowed; the
 * process's other threads move the clock while the caller sleeps). */
static void test_cpu_sleep(void) {
  struct timespec c, zero = {0, 0};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
  CHECK_RC(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &c, NULL), 0,
           "clock_nanosleep on the process CPU clock to a reached deadline");
  CHECK_RC(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &zero, NULL), 0, "clock_nanosleep of 0 on the process CPU clock");
  struct timespec bad = {0, 1000000000};
  CHECK_RC(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &bad, NULL), EINVAL,
           "clock_nanosleep on the process CPU clock with tv_nsec 1e9: EINVAL");
  pthread_t th;
  cpu_spin_stop = 0;
  if (pthread_create(&th, NULL, cpu_spinner, NULL) != 0) return;
  struct timespec rel = {0, 20000000}, c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  CHECK_RC(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &rel, NULL), 0,
           "a 20 ms sleep on the process CPU clock while another thread spins");
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  cpu_spin_stop = 1;
  pthread_join(th, NULL);
  CHECK(ts_ns(c1) - ts_ns(c0) >= 20000000LL, "the process used at least 20 ms of CPU meanwhile");
}

static void test_sleeps(void) {
  struct timespec req = {0, 10000000}, rem = {9, 9};
  long long t0 = t_now_ns();
  CHECK_EQ(nanosleep(&req, &rem), 0, "nanosleep 10 ms returns 0");
  long long dt = t_now_ns() - t0;
  CHECK(dt >= 10000000LL && dt < 1000000000LL, "nanosleep slept at least 10 ms (and under 1 s)");
  req.tv_nsec = 1000000000;
  CHECK_ERR(nanosleep(&req, NULL), EINVAL, "nanosleep with tv_nsec 1e9: EINVAL");
  req.tv_sec = -1;
  req.tv_nsec = 0;
  CHECK_ERR(nanosleep(&req, NULL), EINVAL, "nanosleep with a negative time: EINVAL");
  CHECK_ERR(syscall(SYS_nanosleep, T_BADPTR, NULL), EFAULT, "nanosleep of a bad pointer: EFAULT");
  req.tv_sec = 0;
  req.tv_nsec = 0;
  CHECK_EQ(nanosleep(&req, NULL), 0, "nanosleep 0 returns at once");
  struct timespec rel = {0, 5000000};
  t0 = t_now_ns();
  CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL), 0, "clock_nanosleep relative 5 ms");
  CHECK(t_now_ns() - t0 >= 5000000LL, "it slept at least 5 ms");
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 5000000;
  if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
  CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0, "clock_nanosleep TIMER_ABSTIME");
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  CHECK(ts_ns(now) >= ts_ns(abs), "TIMER_ABSTIME sleeps until the deadline");
  abs.tv_sec = abs.tv_sec >= 100 ? abs.tv_sec - 100 : 0;  /* (a machine up for less than 100 s: 0, still past) */
  t0 = t_now_ns();
  CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0, "clock_nanosleep to a past deadline");
  CHECK(t_now_ns() - t0 < 100000000LL, "a past deadline returns at once");
  clock_gettime(CLOCK_REALTIME, &abs);
  CHECK_RC(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL), 0, "clock_nanosleep CLOCK_REALTIME TIMER_ABSTIME now");
  CHECK_RC(clock_nanosleep(12345, 0, &rel, NULL), EINVAL, "clock_nanosleep on an unknown clock: EINVAL");
  CHECK_RC(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &rel, NULL), EINVAL, "clock_nanosleep on the thread CPU clock: EINVAL");
  struct timespec badrel = {0, -5};
  CHECK_RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &badrel, NULL), EINVAL, "clock_nanosleep with a negative tv_nsec: EINVAL");
}

static void test_times(void) {
  struct tms a, b;
  clock_t c0 = times(&a);
  CHECK(c0 != (clock_t)-1, "times succeeds");
  CHECK(a.tms_utime >= 0 && a.tms_stime >= 0 && a.tms_cutime >= 0 && a.tms_cstime >= 0, "times fields are non-negative");
  CHECK_EQ(sysconf(_SC_CLK_TCK), 100, "sysconf(_SC_CLK_TCK) is 100");
  /* A child spins about 30 ms of CPU; after wait its time counts in tms_cutime+tms_cstime. */
  pid_t c = fork();
  if (c == 0) {
    struct timespec s, n;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &s);
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &n);
    while (ts_ns(n) - ts_ns(s) < 30000000LL);
    _exit(0);
  }
  t_wait(c);
  clock_t c1 = times(&b);
  CHECK(c1 >= c0, "times' return value does not go back");
  CHECK(b.tms_cutime + b.tms_cstime >= a.tms_cutime + a.tms_cstime + 1,
        "a waited child's 30 ms of CPU shows in tms_cutime+tms_cstime (>= 1 tick)");
  CHECK_ERR(syscall(SYS_times, T_BADPTR), EFAULT, "times into a bad pointer: EFAULT");
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { alarms++; }
static volatile sig_atomic_t vtalarms;
static void on_vtalarm(int sig) { vtalarms++; }

static void test_timers(void) {
  /* alarm: the remaining seconds; a real delivery runs in a child alongside. */
  CHECK_EQ(alarm(0), 0, "alarm(0) with no alarm set returns 0");
  CHECK_EQ(alarm(100), 0, "alarm(100) returns 0 (none pending)");
  unsigned left = alarm(50);
  CHECK(left >= 99 && left <= 100, "alarm returns the seconds left of the previous alarm");
  left = alarm(0);
  CHECK(left >= 49 && left <= 50, "alarm(0) cancels and returns what was left");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  /* setitimer ITIMER_REAL one-shot of 10 ms. */
  struct itimerval it = {{0, 0}, {0, 10000}}, old, cur;
  alarms = 0;
  long long t0 = t_now_ns();
  CHECK_EQ(setitimer(ITIMER_REAL, &it, &old), 0, "setitimer ITIMER_REAL 10 ms");
  CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "no timer was set before");
  CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 &&
        cur.it_value.tv_usec <= 10000, "getitimer shows the time left");
  sigset_t empty;
  sigemptyset(&empty);
  while (!alarms && t_now_ns() - t0 < 2000000000LL) sigsuspend(&empty);
  CHECK(alarms == 1 && t_now_ns() - t0 >= 10000000LL, "SIGALRM arrives after at least 10 ms");
  CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
        "a one-shot timer is disarmed after it fired");
  /* A periodic timer: 3 ticks of 3 ms. */
  struct itimerval per = {{0, 3000}, {0, 3000}};
  alarms = 0;
  setitimer(ITIMER_REAL, &per, NULL);
  t0 = t_now_ns();
  while (alarms < 3 && t_now_ns() - t0 < 2000000000LL) sigsuspend(&empty);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, &old);
  CHECK(alarms >= 3, "an interval timer fires repeatedly");
  CHECK(old.it_interval.tv_usec == 3000, "setitimer returns the old interval");
  /* alarm and ITIMER_REAL are the same timer. */
  setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {7, 0}}, NULL);
  left = alarm(0);
  CHECK(left == 7 || left == 6, "alarm sees the ITIMER_REAL timer (7 s)");
  /* ITIMER_VIRTUAL counts user CPU time. */
  signal(SIGVTALRM, on_vtalarm);
  vtalarms = 0;
  struct itimerval v = {{0, 0}, {0, 5000}};
  CHECK_EQ(setitimer(ITIMER_VIRTUAL, &v, NULL), 0, "setitimer ITIMER_VIRTUAL 5 ms");
  volatile unsigned long spin = 0;
  t0 = t_now_ns();
  while (!vtalarms && t_now_ns() - t0 < 2000000000LL) spin++;
  CHECK_EQ(vtalarms, 1, "SIGVTALRM arrives after 5 ms of CPU time");
  CHECK_EQ(setitimer(ITIMER_PROF, &off, NULL), 0, "setitimer ITIMER_PROF (disarm)");
  CHECK_ERR(setitimer(99, &it, NULL), EINVAL, "setitimer with an unknown timer: EINVAL");
  struct itimerval bad = {{0, 0}, {0, 1000000}};
  CHECK_ERR(setitimer(ITIMER_REAL, &bad, NULL), EINVAL, "setitimer with tv_usec 1e6: EINVAL");
  CHECK_ERR(getitimer(99, &cur), EINVAL, "getitimer with an unknown timer: EINVAL");
  CHECK_ERR(syscall(SYS_getitimer, ITIMER_REAL, T_BADPTR), EFAULT, "getitimer into a bad pointer: EFAULT");
  signal(SIGALRM, SIG_DFL);
  signal(SIGVTALRM, SIG_DFL);
}

int main(void) {
  t_begin("time");
  /* alarm(1) with the default action, in a child that runs while the rest does. */
  long long a0 = t_now_ns();
  pid_t alarm_child = fork();
  if (alarm_child == 0) {
    alarm(1);
    for (;;) pause();
  }
  test_clocks();
  test_sleeps();
  test_cpu_sleep();
  test_times();
  test_timers();
  int st = t_wait(alarm_child);
  CHECK_KILLED(st, SIGALRM, "alarm(1) with the default action kills the process with SIGALRM");
  long long dt = t_now_ns() - a0;
  CHECK(dt >= 900000000LL && dt < 10000000000LL, "the alarm came after about a second");
  return t_end();
}
