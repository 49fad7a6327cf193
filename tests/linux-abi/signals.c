/* signals — rt_sigaction, rt_sigprocmask, sigpending, sigaltstack, kill,
 * tgkill, rt_sigqueueinfo, handlers and rt_sigreturn (a handler that edits the
 * saved context), SA_RESTART against EINTR on a blocking read, default
 * actions seen through wait statuses (terminate, core, stop, continue,
 * ignore), SIGCHLD, and SIGSEGV/SIGILL/SIGFPE/SIGBUS/SIGTRAP from faults. */
#include "harness.h"

#include <poll.h>
#include <setjmp.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_pid, last_value;
static volatile sig_atomic_t mask_had_self, mask_had_extra, on_alt;
static char *alt_base;
static size_t alt_size;

static void on_sig(int sig) { hits++; last_sig = sig; }

static void on_info(int sig, siginfo_t *si, void *uc) {
  hits++;
  last_sig = sig;
  last_code = si->si_code;
  last_pid = si->si_pid;
  last_value = si->si_value.sival_int;
  sigset_t m;
  sigprocmask(SIG_BLOCK, NULL, &m);
  mask_had_self = sigismember(&m, sig);
  mask_had_extra = sigismember(&m, SIGUSR2);
  char here;
  on_alt = alt_base && &here >= alt_base && &here < alt_base + alt_size;
}

static int install(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  return sigaction(sig, &sa, NULL);
}

static void test_sigaction(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0, "sigaction installs a handler");
  CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_sig && sigismember(&old.sa_mask, SIGUSR2),
        "sigaction reads back the handler and its mask");
  hits = 0;
  raise(SIGUSR1);
  CHECK(hits == 1 && last_sig == SIGUSR1, "raise runs the handler once with the signal number");
  CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "sigaction on SIGKILL: EINVAL");
  CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "sigaction on SIGSTOP: EINVAL");
  CHECK_ERR(sigaction(0, &sa, NULL), EINVAL, "sigaction on signal 0: EINVAL");
  CHECK_ERR(sigaction(65, &sa, NULL), EINVAL, "sigaction on signal 65: EINVAL");
  CHECK_EQ(sigaction(SIGKILL, NULL, &old), 0, "reading SIGKILL's action is allowed");
  unsigned long kact[4] = {0};
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, kact, 4), EINVAL, "rt_sigaction with sigsetsize 4: EINVAL");
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, T_BADPTR, NULL, 8), EFAULT, "rt_sigaction from a bad pointer: EFAULT");
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, T_BADPTR, 8), EFAULT, "rt_sigaction to a bad pointer: EFAULT");
  /* SA_SIGINFO: the handler's mask and siginfo. */
  install(SIGUSR1, on_info, 0);
  memset(&sa, 0, sizeof sa);
  sigaction(SIGUSR1, NULL, &sa);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, NULL);
  hits = 0;
  kill(getpid(), SIGUSR1);
  CHECK_EQ(hits, 1, "kill to self runs the SA_SIGINFO handler");
  CHECK(last_code == SI_USER && last_pid == getpid(), "siginfo from kill: SI_USER and si_pid");
  CHECK(mask_had_self && mask_had_extra, "in the handler the signal and sa_mask are blocked");
  sigset_t m;
  sigprocmask(SIG_BLOCK, NULL, &m);
  CHECK(!sigismember(&m, SIGUSR1) && !sigismember(&m, SIGUSR2), "rt_sigreturn restored the mask");
  install(SIGUSR1, on_info, SA_NODEFER);
  raise(SIGUSR1);
  CHECK(!mask_had_self, "SA_NODEFER: the signal is not blocked in its handler");
  install(SIGUSR1, on_info, SA_RESETHAND);
  hits = 0;
  raise(SIGUSR1);
  sigaction(SIGUSR1, NULL, &old);
  CHECK(hits == 1 && old.sa_handler == SIG_DFL, "SA_RESETHAND: the action is reset after one delivery");
  install(SIGUSR1, on_info, 0);
  CHECK_EQ(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1), 0, "tgkill to self");
  CHECK(last_code == SI_TKILL && last_sig == SIGUSR1, "siginfo from tgkill: SI_TKILL");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = 4242;
  CHECK_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si), 0, "rt_sigqueueinfo to self");
  CHECK(last_code == SI_QUEUE && last_value == 4242, "the handler sees SI_QUEUE and the value");
  si.si_code = SI_KERNEL;
  pid_t c = fork();
  if (c == 0) { for (;;) pause(); }
  CHECK_ERR(syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &si), EPERM, "rt_sigqueueinfo to another process claiming SI_KERNEL: EPERM");
  kill(c, SIGKILL);
  t_wait(c);
  CHECK_EQ(kill(getpid(), 0), 0, "kill(self, 0) checks existence");
  CHECK_ERR(kill(0x3fffffff, 0), ESRCH, "kill of no such process: ESRCH");
  CHECK_ERR(kill(getpid(), 999), EINVAL, "kill with signal 999: EINVAL");
  CHECK_ERR(syscall(SYS_tgkill, 0x3fffffff, syscall(SYS_gettid), SIGUSR1), ESRCH, "tgkill with the wrong tgid: ESRCH");
  CHECK_ERR(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL, "tgkill to tid 0: EINVAL");
  CHECK_ERR(syscall(SYS_tkill, -1, SIGUSR1), EINVAL, "tkill to tid -1: EINVAL");
}

static void test_mask(void) {
  install(SIGUSR1, on_info, 0);
  sigset_t m, old, pend;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigaddset(&m, SIGKILL);
  sigaddset(&m, SIGSTOP);
  CHECK_EQ(sigprocmask(SIG_BLOCK, &m, &old), 0, "sigprocmask SIG_BLOCK");
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1) && !sigismember(&now, SIGKILL) && !sigismember(&now, SIGSTOP),
        "SIGKILL and SIGSTOP cannot be blocked (silently)");
  hits = 0;
  raise(SIGUSR1);
  raise(SIGUSR1);
  CHECK_EQ(hits, 0, "a blocked signal is not delivered");
  CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "sigpending shows it");
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  CHECK_EQ(hits, 1, "unblocking delivers a standard signal once, however often it was sent");
  CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR1), "and it is no longer pending");
  /* Real-time signals queue, lowest number first. */
  install(SIGRTMIN, on_info, 0);
  install(SIGRTMIN + 1, on_info, 0);
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN);
  sigaddset(&m, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &m, NULL);
  hits = 0;
  union sigval v = {.sival_int = 1};
  sigqueue(getpid(), SIGRTMIN + 1, v);
  sigqueue(getpid(), SIGRTMIN, v);
  sigqueue(getpid(), SIGRTMIN, v);
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  CHECK_EQ(hits, 3, "real-time signals queue: 3 sent, 3 delivered");
  /* sigtimedwait takes the lowest-numbered first, each signal's queue in order. */
  sigprocmask(SIG_BLOCK, &m, NULL);
  for (int i = 0; i < 3; i++) {
    v.sival_int = 100 + i;
    sigqueue(getpid(), i == 0 ? SIGRTMIN + 1 : SIGRTMIN, v);
  }
  siginfo_t q[3];
  struct timespec z = {0, 0};
  int s0 = sigtimedwait(&m, &q[0], &z), s1 = sigtimedwait(&m, &q[1], &z), s2 = sigtimedwait(&m, &q[2], &z);
  CHECK(s0 == SIGRTMIN && s1 == SIGRTMIN && s2 == SIGRTMIN + 1, "pending real-time signals are taken lowest number first");
  CHECK(q[0].si_value.sival_int == 101 && q[1].si_value.sival_int == 102 && q[2].si_value.sival_int == 100,
        "each real-time signal's queue keeps its order and values");
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  CHECK_ERR(sigprocmask(99, &m, NULL), EINVAL, "sigprocmask with a bad how: EINVAL");
  CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 4), EINVAL, "rt_sigprocmask with sigsetsize 4: EINVAL");
  CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, T_BADPTR, NULL, 8), EFAULT, "rt_sigprocmask from a bad pointer: EFAULT");
  /* sigtimedwait takes a blocked signal without running the handler. */
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  sigprocmask(SIG_BLOCK, &m, NULL);
  install(SIGUSR2, on_info, 0);
  hits = 0;
  raise(SIGUSR2);
  siginfo_t si;
  struct timespec zero = {0, 0};
  CHECK_EQ(sigtimedwait(&m, &si, &zero), SIGUSR2, "sigtimedwait returns the pending signal");
  CHECK(hits == 0 && si.si_signo == SIGUSR2, "without running the handler");
  CHECK_ERR(sigtimedwait(&m, &si, &zero), EAGAIN, "sigtimedwait with nothing pending and a 0 timeout: EAGAIN");
  sigprocmask(SIG_SETMASK, &old, NULL);
  /* sigsuspend: waits with a temporary mask and returns EINTR. */
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigprocmask(SIG_BLOCK, &m, &old);
  raise(SIGUSR1);
  hits = 0;
  sigset_t empty;
  sigemptyset(&empty);
  CHECK_ERR(sigsuspend(&empty), EINTR, "sigsuspend returns EINTR after a handler");
  CHECK_EQ(hits, 1, "the pending signal was delivered inside sigsuspend");
  sigprocmask(SIG_BLOCK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "sigsuspend restored the mask");
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void on_overflow(int sig, siginfo_t *si, void *uc) {
  char here;
  _exit(&here >= alt_base && &here < alt_base + alt_size ? 42 : 43);
}

static int recurse(int n) {
  volatile char buf[1024];
  buf[0] = (char)n;
  if (n > 1000000000) return 0;
  return recurse(n + 1) + buf[0];
}

static void test_altstack(void) {
  stack_t ss, old;
  alt_size = 65536;
  alt_base = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE), "no alternate stack at first");
  ss.ss_sp = alt_base;
  ss.ss_size = alt_size;
  ss.ss_flags = 0;
  CHECK_EQ(sigaltstack(&ss, NULL), 0, "sigaltstack sets a 64 KiB stack");
  CHECK(sigaltstack(NULL, &old) == 0 && old.ss_sp == alt_base && old.ss_size == alt_size && old.ss_flags == 0,
        "sigaltstack reads it back");
  install(SIGUSR1, on_info, SA_ONSTACK);
  on_alt = 0;
  raise(SIGUSR1);
  CHECK(on_alt, "an SA_ONSTACK handler runs on the alternate stack");
  install(SIGUSR1, on_info, 0);
  raise(SIGUSR1);
  CHECK(!on_alt, "a handler without SA_ONSTACK does not");
  ss.ss_size = 1024;
  CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM, "sigaltstack smaller than MINSIGSTKSZ: ENOMEM");
  ss.ss_size = alt_size;
  ss.ss_flags = 0x1234;
  CHECK_ERR(sigaltstack(&ss, NULL), EINVAL, "sigaltstack with unknown flags: EINVAL");
  CHECK_ERR(syscall(SYS_sigaltstack, T_BADPTR, NULL), EFAULT, "sigaltstack from a bad pointer: EFAULT");
  /* Recovering from stack overflow needs the alternate stack; in a child. */
  pid_t c = fork();
  if (c == 0) {
    struct { unsigned long cur, max; } lim = {256 * 1024, 256 * 1024};
    syscall(SYS_prlimit64, 0, 3 /* RLIMIT_STACK */, &lim, NULL);
    install(SIGSEGV, on_overflow, SA_ONSTACK);
    _exit(recurse(1) == 0 ? 1 : 2);
  }
  CHECK_EXIT(t_wait(c), 42, "stack overflow: the SIGSEGV handler runs on the alternate stack");
  ss.ss_flags = SS_DISABLE;
  CHECK_EQ(sigaltstack(&ss, NULL), 0, "sigaltstack SS_DISABLE");
  CHECK(sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE), "the alternate stack is off again");
  alt_base = NULL;
}

/* SA_RESTART against EINTR (signal(7)): a 2 ms interval timer interrupts a
 * blocking call. On its act_at-th tick the handler makes the call able to
 * finish (a byte into act_fd, or *act_word = 1), so a restarted call ends
 * there, and a call that is not restarted returns EINTR at the first tick
 * that finds it blocked. Ticks before the call blocks change nothing. */
static volatile sig_atomic_t ticks, act_at;
static volatile int act_fd = -1;
static volatile int *act_word;
static void on_tick(int sig) {
  if (++ticks == act_at) {
    if (act_fd >= 0) write(act_fd, "r", 1);
    if (act_word) *act_word = 1;
  }
}

static void ticking(int restart, int at, int fd, volatile int *word) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_tick;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGALRM, &sa, NULL);
  ticks = 0;
  act_at = at;
  act_fd = fd;
  act_word = word;
  struct itimerval it = {{0, 2000}, {0, 2000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_ticking(void) {
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  signal(SIGALRM, SIG_IGN);
  act_fd = -1;
  act_word = NULL;
}

static void test_restart(void) {
  int p[2];
  pipe(p);
  char b[4];
  ticking(0, 0, -1, NULL);
  CHECK_ERR(read(p[0], b, sizeof b), EINTR, "read of an empty pipe, handler without SA_RESTART: EINTR");
  stop_ticking();
  ticking(1, 3, p[1], NULL);
  long r = read(p[0], b, sizeof b);
  stop_ticking();
  CHECK(r == 1 && ticks >= 3, "read with SA_RESTART restarts until the third tick's byte");
  /* wait4 */
  int c2p[2];
  pipe(c2p);
  pid_t c = fork();
  if (c == 0) {
    close(c2p[1]);
    char x;
    read(c2p[0], &x, 1);
    _exit(0);
  }
  close(c2p[0]);
  int st;
  ticking(0, 0, -1, NULL);
  CHECK_ERR(wait4(c, &st, 0, NULL), EINTR, "wait4 for a live child, handler without SA_RESTART: EINTR");
  stop_ticking();
  ticking(1, 3, c2p[1], NULL);
  pid_t w = wait4(c, &st, 0, NULL);
  stop_ticking();
  CHECK(w == c && WIFEXITED(st) && ticks >= 3, "wait4 with SA_RESTART restarts until the child exits");
  close(c2p[1]);
  /* poll, select and nanosleep are never restarted. */
  struct pollfd pf = {p[0], POLLIN, 0};
  ticking(1, 0, -1, NULL);
  CHECK_ERR(poll(&pf, 1, -1), EINTR, "poll is not restarted even with SA_RESTART: EINTR");
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  CHECK_ERR(select(p[0] + 1, &rs, NULL, NULL, NULL), EINTR, "select is not restarted even with SA_RESTART: EINTR");
  struct timespec req = {2, 0}, rem = {0, 0};
  CHECK_ERR(nanosleep(&req, &rem), EINTR, "nanosleep is not restarted even with SA_RESTART: EINTR");
  CHECK(rem.tv_sec >= 1 && rem.tv_sec <= 2, "the interrupted nanosleep reports the time left");
  CHECK_ERR(pause(), EINTR, "pause returns EINTR after a handler");
  stop_ticking();
  /* FUTEX_WAIT: EINTR without SA_RESTART; with it, the wait restarts and
   * then finds the word changed by the handler (EAGAIN). */
  static volatile int word;
  word = 0;
  ticking(0, 0, -1, NULL);
  CHECK_ERR(syscall(SYS_futex, &word, 0 /* FUTEX_WAIT */, 0, NULL, NULL, 0), EINTR,
            "FUTEX_WAIT, handler without SA_RESTART: EINTR");
  stop_ticking();
  ticking(1, 3, -1, &word);
  r = syscall(SYS_futex, &word, 0, 0, NULL, NULL, 0);
  int e = errno;
  stop_ticking();
  CHECK(r == -1 && e == EAGAIN && ticks >= 3, "FUTEX_WAIT with SA_RESTART restarts, then sees the changed word: EAGAIN");
  signal(SIGALRM, SIG_DFL);
  close(p[0]);
  close(p[1]);
}

static void test_defaults(void) {
  struct { int sig; int dies; const char *name; } cases[] = {
    {SIGTERM, 1, "SIGTERM terminates"}, {SIGINT, 1, "SIGINT terminates"}, {SIGHUP, 1, "SIGHUP terminates"},
    {SIGUSR1, 1, "SIGUSR1 terminates"}, {SIGALRM, 1, "SIGALRM terminates"}, {SIGQUIT, 1, "SIGQUIT (core) terminates"},
    {SIGABRT, 1, "SIGABRT (core) terminates"}, {SIGRTMIN, 1, "SIGRTMIN terminates"},
    {SIGCHLD, 0, "SIGCHLD is ignored"}, {SIGWINCH, 0, "SIGWINCH is ignored"}, {SIGURG, 0, "SIGURG is ignored"},
    {SIGCONT, 0, "SIGCONT alone does not terminate"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pid_t c = fork();
    if (c == 0) {
      signal(cases[i].sig, SIG_DFL);
      kill(getpid(), cases[i].sig);
      _exit(0);
    }
    int st = t_wait(c);
    if (cases[i].dies) CHECK_KILLED(st, cases[i].sig, cases[i].name);
    else CHECK_EXIT(st, 0, cases[i].name);
  }
  pid_t c = fork();
  if (c == 0) {
    signal(SIGTERM, SIG_IGN);
    kill(getpid(), SIGTERM);
    _exit(0);
  }
  CHECK_EXIT(t_wait(c), 0, "an ignored SIGTERM does nothing");
  c = fork();
  if (c == 0) {
    signal(SIGKILL, SIG_IGN);
    kill(getpid(), SIGKILL);
    _exit(0);
  }
  CHECK_KILLED(t_wait(c), SIGKILL, "SIGKILL cannot be ignored");
  /* Stop and continue. */
  int p[2];
  pipe(p);
  /* The child gets its own process group: the stop signals other than SIGSTOP
   * are discarded in an orphaned group (ours may be, as a session leader's),
   * and a group whose parent is in another group of the session is not. */
  c = fork();
  if (c == 0) {
    setpgid(0, 0);
    close(p[1]);
    char b;
    read(p[0], &b, 1);
    _exit(b == 'g' ? 11 : 12);
  }
  setpgid(c, c);
  close(p[0]);
  int st = 0;
  kill(c, SIGSTOP);
  CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "SIGSTOP stops: WIFSTOPPED, WSTOPSIG SIGSTOP");
  kill(c, SIGCONT);
  CHECK(waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st), "SIGCONT continues: WIFCONTINUED");
  kill(c, SIGTSTP);
  CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP, "SIGTSTP stops");
  siginfo_t si;
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WCONTINUED) == 0 && si.si_code == CLD_CONTINUED, "waitid sees CLD_CONTINUED");
  write(p[1], "g", 1);
  close(p[1]);
  CHECK_EXIT(t_wait(c), 11, "the continued child runs on and exits");
  /* SIGCHLD to the parent, with the child's details. */
  install(SIGCHLD, on_info, 0);
  sigset_t m, old;
  sigemptyset(&m);
  sigaddset(&m, SIGCHLD);
  sigprocmask(SIG_BLOCK, &m, &old);
  c = fork();
  if (c == 0) _exit(17);
  struct timespec ts = {5, 0};
  memset(&si, 0, sizeof si);
  CHECK_EQ(sigtimedwait(&m, &si, &ts), SIGCHLD, "the parent receives SIGCHLD when a child exits");
  CHECK(si.si_pid == c && si.si_code == CLD_EXITED && si.si_status == 17, "SIGCHLD siginfo: si_pid, CLD_EXITED, si_status");
  t_wait(c);
  sigprocmask(SIG_SETMASK, &old, NULL);
  signal(SIGCHLD, SIG_DFL);
}

/* Faults. A handler catches each and jumps back; the default action kills. */
static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;
static void on_fault(int sig, siginfo_t *si, void *uc) {
  fault_sig = sig;
  fault_code = si->si_code;
  fault_addr = si->si_addr;
  siglongjmp(fault_jmp, 1);
}

/* ud2 at a known address. */
__asm__(".text\n.globl ud2_here\nud2_here: ud2\nret\n"
        ".globl int3_here\nint3_here: int3\nret\n");
extern void ud2_here(void);
extern void int3_here(void);

/* A handler that skips the faulting ud2 by editing the saved RIP. */
static void on_ill_skip(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  hits++;
  uc->uc_mcontext.gregs[REG_RIP] += 2;
  uc->uc_mcontext.gregs[REG_RAX] = 0x5eed;
}

static long run_ud2_with_rax(void) {
  long rax;
  __asm__ volatile("mov $1, %%rax\n call ud2_here\n" : "=a"(rax) : : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
  return rax;
}

static int divide(volatile int a, volatile int b) { return a / b; }

static void test_faults(void) {
  install(SIGSEGV, on_fault, 0);
  install(SIGILL, on_fault, 0);
  install(SIGFPE, on_fault, 0);
  install(SIGBUS, on_fault, 0);
  install(SIGTRAP, on_fault, 0);
  fault_sig = 0;
  if (sigsetjmp(fault_jmp, 1) == 0) *(volatile int *)0 = 1;
  CHECK(fault_sig == SIGSEGV && fault_addr == NULL && fault_code == SEGV_MAPERR, "a write to NULL: SIGSEGV, si_addr 0, SEGV_MAPERR");
  fault_sig = 0;
  if (sigsetjmp(fault_jmp, 1) == 0) ud2_here();
  CHECK(fault_sig == SIGILL && fault_addr == (void *)ud2_here && fault_code == ILL_ILLOPN, "ud2: SIGILL at its address, ILL_ILLOPN");
  fault_sig = 0;
  volatile int r = 0;
  if (sigsetjmp(fault_jmp, 1) == 0) r = divide(1, 0);
  CHECK(fault_sig == SIGFPE && fault_code == FPE_INTDIV, "integer division by zero: SIGFPE, FPE_INTDIV");
  (void)r;
  fault_sig = 0;
  if (sigsetjmp(fault_jmp, 1) == 0) int3_here();
  CHECK(fault_sig == SIGTRAP, "int3: SIGTRAP");
  /* SIGBUS: a file mapping past the end of the file. */
  const char *f = t_path("short");
  t_write_file(f, "x", 1, 0644);
  int fd = open(f, O_RDONLY);
  volatile char *m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  fault_sig = 0;
  if (m != MAP_FAILED && sigsetjmp(fault_jmp, 1) == 0) (void)m[4096];
  CHECK(fault_sig == SIGBUS && fault_code == BUS_ADRERR && fault_addr == (void *)(m + 4096),
        "reading a mapping past the end of its file: SIGBUS, BUS_ADRERR");
  if (m != MAP_FAILED) munmap((void *)m, 8192);
  /* A non-canonical address: SIGSEGV (a #GP, reported with si_addr 0). */
  fault_sig = 0;
  if (sigsetjmp(fault_jmp, 1) == 0) (void)*(volatile long *)0x8000000000000000UL;
  CHECK_EQ(fault_sig, SIGSEGV, "a non-canonical address: SIGSEGV");
  /* rt_sigreturn with an edited context: skip the ud2, return a new RAX. */
  install(SIGILL, on_ill_skip, 0);
  hits = 0;
  long rax = run_ud2_with_rax();
  CHECK(hits == 1 && rax == 0x5eed, "a handler that edits RIP and RAX: execution resumes after ud2 with the new RAX");
  /* Default actions of faults kill, even when the signal is blocked. */
  struct { int kind; int sig; const char *name; } kinds[] = {
    {0, SIGSEGV, "default SIGSEGV kills"}, {1, SIGILL, "default SIGILL kills"},
    {2, SIGFPE, "default SIGFPE kills"}, {3, SIGSEGV, "a fault with SIGSEGV blocked still kills"},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    pid_t c = fork();
    if (c == 0) {
      signal(SIGSEGV, SIG_DFL);
      signal(SIGILL, SIG_DFL);
      signal(SIGFPE, SIG_DFL);
      if (kinds[i].kind == 3) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
      }
      if (kinds[i].kind == 0 || kinds[i].kind == 3) *(volatile int *)0 = 1;
      if (kinds[i].kind == 1) ud2_here();
      if (kinds[i].kind == 2) r = divide(7, 0);
      _exit(0);
    }
    CHECK_KILLED(t_wait(c), kinds[i].sig, kinds[i].name);
  }
  signal(SIGSEGV, SIG_DFL);
  signal(SIGILL, SIG_DFL);
  signal(SIGFPE, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  signal(SIGTRAP, SIG_DFL);
}

/* Registers and FPU state survive a handler that uses them. */
static void on_fpu(int sig) {
  volatile double x = 1.0;
  for (int i = 0; i < 100; i++) x = x * 1.5 + 0.25;
  hits++;
}

static void test_state_preserved(void) {
  signal(SIGUSR1, on_fpu);
  volatile double acc = 0.0;
  double expect = 0.0;
  for (int i = 1; i <= 200; i++) expect += 1.0 / i;
  hits = 0;
  for (int i = 1; i <= 200; i++) {
    acc += 1.0 / i;
    if (i % 50 == 0) raise(SIGUSR1);
  }
  CHECK(hits == 4 && acc == expect, "floating-point state survives handlers that use the FPU");
  signal(SIGUSR1, SIG_DFL);
}

int main(void) {
  t_begin("signals");
  test_sigaction();
  test_mask();
  test_altstack();
  test_restart();
  test_defaults();
  test_faults();
  test_state_preserved();
  return t_end();
}
