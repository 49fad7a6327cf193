/* threads — clone with CLONE_VM|CLONE_THREAD|CLONE_SETTLS|CLONE_PARENT_SETTID|
 * CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID through a raw system call, futex
 * wait/wake (with timeouts, bitsets, across processes), set_robust_list,
 * pthreads (create/join, mutexes, condition variables, pthread_kill),
 * exit_group from a thread and exit of the main thread. */
#include "harness.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <sys/mman.h>

#define FUTEX_WAIT_ 0
#define FUTEX_WAKE_ 1
#define FUTEX_REQUEUE_ 3
#define FUTEX_CMP_REQUEUE_ 4
#define FUTEX_WAIT_BITSET_ 9
#define FUTEX_WAKE_BITSET_ 10
#define FUTEX_PRIVATE_ 128
#define FUTEX_CLOCK_REALTIME_ 256

static long futex(volatile int *uaddr, int op, int val, const struct timespec *ts, int *uaddr2, int val3) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* long raw_clone(flags, stack_top, ptid, ctid, tls, fn, arg): the child runs
 * fn(arg) on stack_top with no libc (its FS base may be anything) and exits
 * the thread with fn's return value. */
__asm__(".text\n"
        ".globl raw_clone\n"
        "raw_clone:\n"
        "  mov 8(%rsp), %rax\n"      /* arg (7th argument, on the stack) */
        "  and $-16, %rsi\n"
        "  sub $16, %rsi\n"
        "  mov %r9, 0(%rsi)\n"       /* fn */
        "  mov %rax, 8(%rsi)\n"      /* arg */
        "  mov %rcx, %r10\n"         /* ctid: the 4th system call argument */
        "  mov $56, %eax\n"          /* SYS_clone: flags, stack, ptid, ctid, tls */
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  xor %ebp, %ebp\n"
        "  pop %rax\n"
        "  pop %rdi\n"
        "  call *%rax\n"
        "  mov %eax, %edi\n"
        "  mov $60, %eax\n"          /* SYS_exit: this thread only */
        "  syscall\n"
        "  hlt\n"
        "1: ret\n");
long raw_clone(unsigned long flags, void *stack, int *ptid, int *ctid, void *tls, int (*fn)(void *), void *arg);

static long raw_syscall1(long n, long a) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a) : "rcx", "r11", "memory");
  return r;
}
static long raw_futex_wait(volatile int *addr, int val) {
  long r;
  register long r10 __asm__("r10") = 0; /* no timeout */
  __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_futex), "D"(addr), "S"((long)FUTEX_WAIT_), "d"((long)val), "r"(r10)
                   : "rcx", "r11", "memory");
  return r;
}

struct child_report {
  volatile long tid, pid, fs0, fs8, ctid_seen;
  volatile int done, go;
  int *ctid;
};

/* Runs in the raw thread: no libc calls. */
static int raw_thread(void *arg) {
  struct child_report *r = arg;
  r->tid = raw_syscall1(SYS_gettid, 0);
  r->pid = raw_syscall1(SYS_getpid, 0);
  unsigned long a, b;
  __asm__ volatile("mov %%fs:0, %0\n mov %%fs:8, %1" : "=r"(a), "=r"(b));
  r->fs0 = (long)a;
  r->fs8 = (long)b;
  r->ctid_seen = *r->ctid;
  __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
  /* Wait until the parent says go (futex on r->go). */
  while (!r->go) raw_futex_wait(&r->go, 0);
  return 0;
}

static void test_raw_clone(void) {
  size_t sz = 64 * 1024;
  char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static unsigned long tls[8];
  tls[0] = (unsigned long)tls;
  tls[1] = 0xfeedface12345678UL;
  static struct child_report rep;
  static int ptid = -1, ctid = -1;
  rep.ctid = &ctid;
  unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                        CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  long tid = raw_clone(flags, stack + sz, &ptid, &ctid, tls, raw_thread, &rep);
  CHECK(tid > 0 && tid != getpid(), "raw clone of a thread returns a new tid");
  CHECK_EQ(ptid, tid, "CLONE_PARENT_SETTID stored the tid");
  /* Wait for the thread to report. */
  for (int i = 0; i < 5000 && !__atomic_load_n(&rep.done, __ATOMIC_ACQUIRE); i++) sched_yield();
  for (int i = 0; i < 2000 && !__atomic_load_n(&rep.done, __ATOMIC_ACQUIRE); i++) t_sleep_ms(1);
  CHECK_EQ(rep.tid, tid, "the thread's gettid is the returned tid");
  CHECK_EQ(rep.pid, getpid(), "CLONE_THREAD: the thread's getpid is the process's");
  CHECK_EQ(rep.fs0, (long)tls, "CLONE_SETTLS: the thread's %fs:0 is its TLS block");
  CHECK_EQ(rep.fs8, (long)0xfeedface12345678UL, "CLONE_SETTLS: %fs:8 reads the block");
  CHECK_EQ(rep.ctid_seen, tid, "CLONE_CHILD_SETTID stored the tid where the thread sees it");
  unsigned long fs = 0;
  syscall(SYS_arch_prctl, 0x1003, &fs);
  unsigned long mine;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(mine));
  CHECK_EQ(mine, fs, "the parent's FS base is unchanged");
  rep.go = 1;
  futex(&rep.go, FUTEX_WAKE_, 1, NULL, NULL, 0);
  /* CLONE_CHILD_CLEARTID: ctid becomes 0 and waiters are woken at exit. */
  long long t0 = t_now_ns();
  while (ctid != 0 && t_now_ns() - t0 < 5000000000LL) {
    int v = ctid;
    if (v == 0) break;
    struct timespec ts = {0, 100000000};
    futex(&ctid, FUTEX_WAIT_, v, &ts, NULL, 0);
  }
  CHECK_EQ(ctid, 0, "CLONE_CHILD_CLEARTID cleared the tid when the thread exited");
  /* The tid is cleared during exit, a little before the thread is gone. */
  long gone = 0;
  for (int i = 0; i < 2000; i++) {
    gone = syscall(SYS_tgkill, getpid(), tid, 0);
    if (gone < 0) break;
    t_sleep_ms(1);
  }
  CHECK(gone == -1 && errno == ESRCH, "the exited thread is gone: tgkill ESRCH");
  munmap(stack, sz);
  CHECK_ERR(syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND, 0, 0, 0, 0), EINVAL, "CLONE_SIGHAND without CLONE_VM: EINVAL");
}

static volatile int fword;

static void *waiter(void *arg) {
  int expect = *(int *)arg;
  long r = futex(&fword, FUTEX_WAIT_ | FUTEX_PRIVATE_, expect, NULL, NULL, 0);
  return (void *)(long)(r == 0 ? 1 : -errno);
}

static void test_futex(void) {
  fword = 1;
  CHECK_ERR(futex(&fword, FUTEX_WAIT_, 2, NULL, NULL, 0), EAGAIN, "FUTEX_WAIT with a different value: EAGAIN");
  struct timespec ts = {0, 5000000};
  long long t0 = t_now_ns();
  CHECK_ERR(futex(&fword, FUTEX_WAIT_, 1, &ts, NULL, 0), ETIMEDOUT, "FUTEX_WAIT with a 5 ms timeout: ETIMEDOUT");
  long long dt = t_now_ns() - t0;
  CHECK(dt >= 5000000LL && dt < 2000000000LL, "the wait lasted at least 5 ms");
  CHECK_EQ(futex(&fword, FUTEX_WAKE_, 1, NULL, NULL, 0), 0, "FUTEX_WAKE with no waiters wakes 0");
  CHECK_ERR(futex((volatile int *)((char *)&fword + 1), FUTEX_WAIT_, 1, &ts, NULL, 0), EINVAL, "FUTEX_WAIT on an unaligned address: EINVAL");
  CHECK_ERR(futex(T_BADPTR, FUTEX_WAIT_, 1, &ts, NULL, 0), EFAULT, "FUTEX_WAIT on a bad address: EFAULT");
  struct timespec bad = {0, 1000000000};
  CHECK_ERR(futex(&fword, FUTEX_WAIT_, 1, &bad, NULL, 0), EINVAL, "FUTEX_WAIT with tv_nsec 1e9: EINVAL");
  CHECK_ERR(futex(&fword, 99, 1, NULL, NULL, 0), ENOSYS, "an unknown futex op: ENOSYS");
  CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_, 1, &ts, NULL, 0), EINVAL, "FUTEX_WAIT_BITSET with bitset 0: EINVAL");
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 3000000;
  if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
  t0 = t_now_ns();
  CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_ | FUTEX_PRIVATE_, 1, &abs, NULL, -1), ETIMEDOUT,
            "FUTEX_WAIT_BITSET with an absolute deadline: ETIMEDOUT");
  CHECK(t_now_ns() - t0 >= 2000000LL, "it waited until the deadline");
  clock_gettime(CLOCK_REALTIME, &abs);
  CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_ | FUTEX_CLOCK_REALTIME_, 1, &abs, NULL, -1), ETIMEDOUT,
            "FUTEX_WAIT_BITSET with a past CLOCK_REALTIME deadline: ETIMEDOUT at once");
  /* Three waiters, wake 2 then the rest. */
  pthread_t th[3];
  int expect = 1;
  fword = 1;
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, waiter, &expect);
  int woken = 0;
  long long start = t_now_ns();
  while (woken < 2 && t_now_ns() - start < 5000000000LL) {
    woken += (int)futex(&fword, FUTEX_WAKE_ | FUTEX_PRIVATE_, 2 - woken, NULL, NULL, 0);
    if (woken < 2) sched_yield();
  }
  CHECK_EQ(woken, 2, "FUTEX_WAKE of 2 wakes exactly 2 of 3 waiters");
  int rest = 0;
  start = t_now_ns();
  while (rest < 1 && t_now_ns() - start < 5000000000LL) {
    rest += (int)futex(&fword, FUTEX_WAKE_ | FUTEX_PRIVATE_, INT_MAX, NULL, NULL, 0);
    if (rest < 1) sched_yield();
  }
  CHECK_EQ(rest, 1, "FUTEX_WAKE of INT_MAX wakes the last one");
  int all = 1;
  for (int i = 0; i < 3; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    if ((long)rv != 1) all = 0;
  }
  CHECK(all, "every woken FUTEX_WAIT returned 0");
  /* A shared futex across fork (MAP_SHARED, not FUTEX_PRIVATE). */
  volatile int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *sh = 0;
  pid_t c = fork();
  if (c == 0) {
    while (*sh == 0) futex(sh, FUTEX_WAIT_, 0, NULL, NULL, 0);
    _exit(*sh == 7 ? 0 : 1);
  }
  t_sleep_ms(2);
  *sh = 7;
  long n = 0;
  start = t_now_ns();
  do {
    n = futex(sh, FUTEX_WAKE_, 1, NULL, NULL, 0);
    if (n == 0) t_sleep_ms(1);
    int st;
    if (n == 0 && waitpid(c, &st, WNOHANG) == c) { CHECK_EXIT(st, 0, "a child waits on a shared futex, the parent wakes it"); c = -1; break; }
  } while (n == 0 && t_now_ns() - start < 5000000000LL);
  if (c > 0) CHECK_EXIT(t_wait(c), 0, "a child waits on a shared futex, the parent wakes it");
  munmap((void *)sh, 4096);
}

static void test_robust(void) {
  struct { void *next; long offset; void *pending; } head = {&head, 0, NULL};
  CHECK_EQ(syscall(SYS_set_robust_list, &head, sizeof head), 0, "set_robust_list with the right size");
  CHECK_ERR(syscall(SYS_set_robust_list, &head, sizeof head + 1), EINVAL, "set_robust_list with a wrong size: EINVAL");
  void *got = NULL;
  size_t len = 0;
  CHECK(syscall(SYS_get_robust_list, 0, &got, &len) == 0 && got == &head && len == sizeof head, "get_robust_list reads it back");
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;

static void *adder(void *arg) {
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  return (void *)syscall(SYS_gettid);
}

static void *signaller(void *arg) {
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static volatile long handler_tid;
static void on_usr1(int sig) { handler_tid = syscall(SYS_gettid); }

static void *sleeper(void *arg) {
  volatile int *stop = arg;
  *(volatile long *)((char *)arg + 8) = syscall(SYS_gettid);
  while (!*stop) futex(stop, FUTEX_WAIT_ | FUTEX_PRIVATE_, 0, NULL, NULL, 0);
  return NULL;
}

static void *exit_group_thread(void *arg) {
  syscall(SYS_exit_group, 9);
  return NULL;
}

static void *late_exit_thread(void *arg) {
  t_sleep_ms(5);
  exit(4);
}

static void test_pthreads(void) {
  pthread_t th[4];
  counter = 0;
  for (int i = 0; i < 4; i++) CHECK_RC(pthread_create(&th[i], NULL, adder, NULL), 0, "pthread_create");
  long tids[4];
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    tids[i] = (long)rv;
  }
  CHECK_EQ(counter, 80000, "4 threads x 20000 locked increments = 80000");
  int distinct = 1;
  for (int i = 0; i < 4; i++) {
    if (tids[i] == getpid() || tids[i] <= 0) distinct = 0;
    for (int j = 0; j < i; j++) if (tids[i] == tids[j]) distinct = 0;
  }
  CHECK(distinct, "each thread has its own tid, none is the pid");
  pthread_t s;
  pthread_mutex_lock(&mu);
  ready = 0;
  pthread_create(&s, NULL, signaller, NULL);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 5;
  int rc = 0;
  while (!ready && rc == 0) rc = pthread_cond_timedwait(&cv, &mu, &dl);
  pthread_mutex_unlock(&mu);
  pthread_join(s, NULL);
  CHECK(ready && rc == 0, "a condition variable wakes the waiter");
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_nsec += 2000000;
  if (dl.tv_nsec >= 1000000000) { dl.tv_sec++; dl.tv_nsec -= 1000000000; }
  pthread_mutex_lock(&mu);
  CHECK_RC(pthread_cond_timedwait(&cv, &mu, &dl), ETIMEDOUT, "pthread_cond_timedwait times out: ETIMEDOUT");
  pthread_mutex_unlock(&mu);
  /* A signal to one thread runs the handler on that thread. */
  signal(SIGUSR1, on_usr1);
  static struct { volatile int stop; int pad; volatile long tid; } sl;
  sl.stop = 0;
  sl.tid = 0;
  pthread_t t;
  pthread_create(&t, NULL, sleeper, (void *)&sl);
  for (int i = 0; i < 5000 && sl.tid == 0; i++) sched_yield();
  for (int i = 0; i < 2000 && sl.tid == 0; i++) t_sleep_ms(1);
  handler_tid = 0;
  CHECK_RC(pthread_kill(t, SIGUSR1), 0, "pthread_kill");
  for (int i = 0; i < 2000 && handler_tid == 0; i++) t_sleep_ms(1);
  CHECK(handler_tid == sl.tid && sl.tid != 0, "the handler ran on the target thread");
  sl.stop = 1;
  futex(&sl.stop, FUTEX_WAKE_ | FUTEX_PRIVATE_, 1, NULL, NULL, 0);
  pthread_join(t, NULL);
  signal(SIGUSR1, SIG_DFL);
  /* exit_group from a thread ends the whole process. */
  pid_t c = fork();
  if (c == 0) {
    pthread_t x;
    pthread_create(&x, NULL, exit_group_thread, NULL);
    for (;;) pause();
  }
  CHECK_EXIT(t_wait(c), 9, "exit_group in a thread ends the process with its status");
  /* The main thread exits; the process lives until the last thread. */
  c = fork();
  if (c == 0) {
    pthread_t x;
    pthread_create(&x, NULL, late_exit_thread, NULL);
    pthread_exit(NULL);
  }
  CHECK_EXIT(t_wait(c), 4, "after the main thread exits, another thread's exit(4) is the status");
}

/* FUTEX_CMP_REQUEUE (what condition-variable broadcasts use): waiters move
 * from one futex word to another without waking. */
static volatile int fa, fb;
static int requeue_done;
static void *requeue_waiter(void *arg) {
  long r;
  do r = futex(&fa, FUTEX_WAIT_, 0, NULL, NULL, 0);
  while (r == -1 && errno == EINTR);
  long rv = r == 0 ? 1 : -errno;
  __atomic_add_fetch(&requeue_done, 1, __ATOMIC_RELEASE);
  return (void *)rv;
}

static void test_requeue(void) {
  fa = 0;
  fb = 0;
  requeue_done = 0;
  CHECK_ERR(futex(&fa, FUTEX_CMP_REQUEUE_, 0, (const struct timespec *)(long)1, (int *)&fb, 5), EAGAIN,
            "FUTEX_CMP_REQUEUE with a wrong expected value: EAGAIN");
  CHECK_EQ(futex(&fa, FUTEX_CMP_REQUEUE_, 0, (const struct timespec *)(long)1, (int *)&fb, 0), 0,
           "FUTEX_CMP_REQUEUE with no waiters moves 0");
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, requeue_waiter, NULL);
  /* Requeue (waking none) until all three have been moved. */
  long moved = 0;
  long long t0 = t_now_ns();
  while (moved < 3 && t_now_ns() - t0 < 5000000000LL) {
    long n = futex(&fa, FUTEX_CMP_REQUEUE_, 0, (const struct timespec *)(long)INT_MAX, (int *)&fb, 0);
    if (n > 0) moved += n;
    else sched_yield();
  }
  CHECK(moved == 3 && __atomic_load_n(&requeue_done, __ATOMIC_ACQUIRE) == 0,
        "FUTEX_CMP_REQUEUE moves all three waiters without waking any");
  /* Wake the second word (and the first, in case a waiter went back to it),
   * until all three have returned. */
  long on_b = 0, total = 0;
  t0 = t_now_ns();
  while (__atomic_load_n(&requeue_done, __ATOMIC_ACQUIRE) < 3 && t_now_ns() - t0 < 5000000000LL) {
    long nb = futex(&fb, FUTEX_WAKE_, INT_MAX, NULL, NULL, 0);
    long na = futex(&fa, FUTEX_WAKE_, INT_MAX, NULL, NULL, 0);
    if (nb > 0) on_b += nb;
    if (nb > 0) total += nb;
    if (na > 0) total += na;
    if (nb <= 0 && na <= 0) sched_yield();
  }
  CHECK(on_b >= 1, "FUTEX_WAKE on the second word wakes the requeued waiters");
  CHECK_EQ(total, 3, "each waiter is woken exactly once");
  int all = 1;
  for (int i = 0; i < 3; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    if ((long)rv != 1) all = 0;
  }
  CHECK(all, "each requeued FUTEX_WAIT returned 0 when woken");
  CHECK_ERR(futex(&fa, FUTEX_CMP_REQUEUE_, -1, (const struct timespec *)(long)1, (int *)&fb, 0), EINVAL,
            "FUTEX_CMP_REQUEUE with a negative wake count: EINVAL");
}

/* A process-directed signal goes to a thread that does not block it. */
static volatile long usr2_tid;
static void on_usr2(int sig) { usr2_tid = syscall(SYS_gettid); }
static struct { volatile int stop; volatile long tid; volatile int masked_in_main; } sw;
static void *unblocker(void *arg) {
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &m, NULL);
  sw.tid = syscall(SYS_gettid);
  while (!sw.stop) futex(&sw.stop, FUTEX_WAIT_ | FUTEX_PRIVATE_, 0, NULL, NULL, 0);
  return NULL;
}

/* A thread that ends holding a robust futex (its set_robust_list entry's
 * word holds its tid): the kernel marks the word FUTEX_OWNER_DIED, keeping
 * FUTEX_WAITERS. A raw thread, so that no libc cleans up first. */
static struct rentry { struct rentry *next; } robust_entry;
static struct { struct rentry *next; long offset; struct rentry *pending; } robust_head;
static volatile int robust_word, robust_ready;
static int robust_raw(void *arg) {
  robust_word = (int)raw_syscall1(SYS_gettid, 0);
  robust_entry.next = (struct rentry *)&robust_head;
  robust_head.next = &robust_entry;
  robust_head.offset = (char *)&robust_word - (char *)&robust_entry;
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_set_robust_list), "D"(&robust_head), "S"(sizeof robust_head)
                   : "rcx", "r11", "memory");
  __atomic_store_n(&robust_ready, r == 0 ? 1 : 2, __ATOMIC_RELEASE);
  return 0; /* (raw_clone ends the thread with SYS_exit) */
}

static void test_robust_death(void) {
  size_t sz = 64 * 1024;
  char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static unsigned long tls[8];
  tls[0] = (unsigned long)tls;
  static int ctid;
  ctid = 0;
  unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                        CLONE_SETTLS | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  long tid = raw_clone(flags, stack + sz, NULL, &ctid, tls, robust_raw, NULL);
  /* The thread exits once it has set the word up; wait until it is gone (ctid cleared). */
  long long t0 = t_now_ns();
  while ((ctid != 0 || !robust_ready) && t_now_ns() - t0 < 5000000000LL) {
    int v = ctid;
    struct timespec ts = {0, 10000000};
    if (v != 0) futex(&ctid, FUTEX_WAIT_, v, &ts, NULL, 0);
  }
  CHECK(tid > 0 && robust_ready == 1, "set_robust_list in a raw thread");
  CHECK_EQ(robust_word, 0x40000000, "a thread that dies holding a robust futex: the word is FUTEX_OWNER_DIED");
  munmap(stack, sz);
}

/* exit_group: a process that ends holding a robust futex in shared memory
 * leaves it FUTEX_OWNER_DIED too (the kernel walks every thread's list). */
static void test_robust_exit_group(void) {
  int *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (word == MAP_FAILED) return;
  *word = 0;
  pid_t kid = fork();
  if (kid == 0) {
    static struct rentry entry;
    static struct { struct rentry *next; long offset; struct rentry *pending; } head;
    *word = (int)syscall(SYS_gettid);
    entry.next = (struct rentry *)&head;
    head.next = &entry;
    head.offset = (char *)word - (char *)&entry;
    if (syscall(SYS_set_robust_list, &head, sizeof head) != 0) _exit(2);
    syscall(SYS_exit_group, 0);
  }
  int st = 0;
  waitpid(kid, &st, 0);
  CHECK_EXIT(st, 0, "a child that set a robust list exits with exit_group");
  CHECK_EQ(*word, 0x40000000, "exit_group holding a robust futex in shared memory: the word is FUTEX_OWNER_DIED");
  munmap(word, 4096);
}

static char exec_pid[24];
static void *exec_thread(void *arg) {
  char *args[] = {"threads", "--check-pid", exec_pid, NULL};
  execv((char *)arg, args);
  _exit(99);
}

static void test_thread_signals(char *self) {
  signal(SIGUSR2, on_usr2);
  sigset_t m, old;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &m, &old);
  sw.stop = 0;
  sw.tid = 0;
  usr2_tid = 0;
  pthread_t t;
  pthread_create(&t, NULL, unblocker, NULL);
  for (int i = 0; i < 2000 && sw.tid == 0; i++) t_sleep_ms(1);
  kill(getpid(), SIGUSR2);
  for (int i = 0; i < 2000 && usr2_tid == 0; i++) t_sleep_ms(1);
  CHECK(usr2_tid == sw.tid && sw.tid != 0, "kill(pid) is handled by the one thread that does not block the signal");
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR2), "a thread's pthread_sigmask does not change the main thread's mask");
  sw.stop = 1;
  futex(&sw.stop, FUTEX_WAKE_ | FUTEX_PRIVATE_, 1, NULL, NULL, 0);
  pthread_join(t, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  signal(SIGUSR2, SIG_DFL);
  /* execve from a second thread: the other threads end, the new program has the pid. */
  pid_t c = fork();
  if (c == 0) {
    snprintf(exec_pid, sizeof exec_pid, "%d", getpid());
    pthread_t x;
    pthread_create(&x, NULL, exec_thread, self);
    for (;;) pause();
  }
  CHECK_EXIT(t_wait(c), 0, "execve in a second thread: one thread remains, with the process's pid as its tid");
}

/* A fault in one thread while another runs user code: the SIGSEGV handler
 * runs on the thread that faulted (signal(7): a synchronous signal goes to
 * the thread that caused it). */
static volatile int fault_spin_stop, fault_spinning;
static volatile long fault_handler_tid;
static __thread sigjmp_buf fault_jb;
static void fault_on_segv(int sig) {
  fault_handler_tid = syscall(SYS_gettid);
  siglongjmp(fault_jb, 1);
}
static void *fault_spinner(void *arg) {
  fault_spinning = 1;
  while (!fault_spin_stop) {}
  return arg;
}
static void *fault_toucher(void *arg) {
  long *tid = arg;
  *tid = syscall(SYS_gettid);
  static volatile int *volatile bad;
  bad = (volatile int *)16;
  if (sigsetjmp(fault_jb, 1) == 0) *bad = 1;
  return NULL;
}
static void test_fault_thread(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fault_on_segv;
  sigaction(SIGSEGV, &sa, &old);
  pthread_t spin, touch;
  long touch_tid = 0;
  fault_spin_stop = 0;
  fault_spinning = 0;
  fault_handler_tid = 0;
  if (pthread_create(&spin, NULL, fault_spinner, NULL) != 0) return;
  while (!fault_spinning) sched_yield();
  if (pthread_create(&touch, NULL, fault_toucher, &touch_tid) == 0) pthread_join(touch, NULL);
  fault_spin_stop = 1;
  pthread_join(spin, NULL);
  sigaction(SIGSEGV, &old, NULL);
  CHECK(touch_tid != 0 && fault_handler_tid == touch_tid,
        "a fault while another thread runs: the handler runs on the faulting thread");
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--check-pid") == 0) {
    /* Run by execve from a second thread: one thread, whose tid is the pid. */
    static char st[4096];
    int threads = -1;
    if (t_read_file("/proc/self/status", st, sizeof st) > 0) {
      const char *p = strstr(st, "Threads:");
      if (p) threads = atoi(p + 8);
    }
    return getpid() == atoi(argv[2]) && syscall(SYS_gettid) == getpid() && (threads == 1 || threads == -1) ? 0 : 1;
  }
  t_begin("threads");
  test_raw_clone();
  test_futex();
  test_requeue();
  test_robust();
  test_robust_death();
  test_robust_exit_group();
  test_fault_thread();
  test_pthreads();
  test_thread_signals(argv[0]);
  return t_end();
}
