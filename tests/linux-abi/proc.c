/* proc — processes: fork, vfork, clone with SIGCHLD (and without), execve of
 * this same program with argv/envp/auxv checks (AT_PHDR, AT_ENTRY, AT_PAGESZ,
 * AT_RANDOM, AT_HWCAP, ...), what exec keeps and resets, `#!` scripts, exec
 * errors, wait4 and waitid, ECHILD, orphans, process groups and sessions.
 *
 * The program runs itself in other modes (argv[1]): --exec-child (the exec
 * checks), --shebang (run as a script's interpreter), --exit N, --pause. */
#include "harness.h"

/* The same source is built twice: proc (a static ET_EXEC) and proc-pie (a
 * static PIE, ET_DYN, relocated by itself wherever the loader puts it). */
#ifndef LABI_NAME
#define LABI_NAME "proc"
#endif

#include <elf.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>

extern const Elf64_Ehdr __ehdr_start; /* the linker's symbol for the mapped ELF header */
extern char **environ;
extern void _start(void);

static char self[4096];

static void find_self(const char *argv0) {
  if (argv0[0] == '/') {
    snprintf(self, sizeof self, "%s", argv0);
    return;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) self[n] = 0;
  else snprintf(self, sizeof self, "%s", argv0);
}

static void hex(const unsigned char *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
  out[2 * n] = 0;
}

/* ---- exec child: everything is checked here, reported to the parent ---- */

static int exec_child(int argc, char **argv) {
  t_begin(LABI_NAME);
  t_child(atoi(argv[2]));
  CHECK_EQ(argc, 8, "exec: argc is 8");
  if (argc != 8) t_child_exit();
  CHECK_STR(argv[0], "proc-argv0", "exec: argv[0] is what the caller passed");
  CHECK_STR(argv[4], "two words", "exec: an argument with a space arrives whole");
  CHECK_STR(argv[5], "", "exec: an empty argument arrives");
  CHECK(argv[argc] == NULL, "exec: argv[argc] is NULL");
  char ids[64];
  snprintf(ids, sizeof ids, "%d:%d", getpid(), getppid());
  CHECK_STR(ids, argv[3], "exec: pid and ppid unchanged by exec");
  int nenv = 0;
  while (environ[nenv]) nenv++;
  CHECK_EQ(nenv, 4, "exec: the environment has exactly the 4 variables passed");
  CHECK_STR(getenv("LABI_A"), "one=1", "exec: LABI_A=one=1");
  CHECK_STR(getenv("LABI_EMPTY"), "", "exec: an empty variable");
  CHECK(&argv[argc + 1] == environ, "exec: envp follows argv's NULL on the initial stack");
  /* The auxiliary vector follows envp's NULL. */
  unsigned long *auxv = (unsigned long *)(environ + nenv + 1);
  unsigned long seen[64] = {0}, val[64] = {0};
  int n = 0, terminated = 0;
  for (; n < 64; n++) {
    unsigned long type = auxv[2 * n];
    if (type == AT_NULL) { terminated = 1; break; }
    if (type < 64) { seen[type] = 1; val[type] = auxv[2 * n + 1]; }
  }
  CHECK(terminated, "exec: the auxiliary vector ends with AT_NULL");
  int match = 1;
  for (unsigned long t = 1; t < 64; t++) if (seen[t] && t != AT_NULL && getauxval(t) != val[t]) match = 0;
  CHECK(match, "exec: getauxval agrees with the vector on the stack");
  CHECK_EQ(val[AT_PAGESZ], 4096, "exec: AT_PAGESZ 4096");
  CHECK_EQ(sysconf(_SC_PAGESIZE), 4096, "exec: sysconf(_SC_PAGESIZE) 4096");
  const Elf64_Ehdr *eh = &__ehdr_start;
  CHECK(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0, "exec: __ehdr_start is the mapped ELF header");
  const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
  CHECK_EQ(val[AT_PHDR], (unsigned long)ph, "exec: AT_PHDR is the mapped program headers");
  CHECK_EQ(val[AT_PHENT], sizeof(Elf64_Phdr), "exec: AT_PHENT 56");
  CHECK_EQ(val[AT_PHNUM], eh->e_phnum, "exec: AT_PHNUM is e_phnum");
  unsigned long bias = 0;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD) { bias = (unsigned long)eh - (ph[i].p_vaddr - ph[i].p_offset); break; }
#ifdef LABI_PIE
  CHECK(eh->e_type == ET_DYN && bias != 0, "exec: a static PIE (ET_DYN) is loaded at a non-zero base");
#else
  CHECK(eh->e_type == ET_EXEC && bias == 0, "exec: a static non-PIE (ET_EXEC) runs at its link address");
#endif
  CHECK_EQ(val[AT_ENTRY], eh->e_entry + bias, "exec: AT_ENTRY is e_entry (plus the load bias)");
  CHECK_EQ(val[AT_ENTRY], (unsigned long)_start, "exec: AT_ENTRY is _start");
  const unsigned char *rnd = (const unsigned char *)val[AT_RANDOM];
  CHECK(rnd != NULL, "exec: AT_RANDOM is present");
  if (rnd) {
    char h[40];
    hex(rnd, 16, h);
    CHECK(strcmp(h, "00000000000000000000000000000000") != 0, "exec: AT_RANDOM bytes are not all zero");
    CHECK(strcmp(h, argv[6]) != 0, "exec: AT_RANDOM differs from the parent's");
  }
  unsigned a, b, c, d;
  __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  CHECK_EQ(val[AT_HWCAP], d, "exec: AT_HWCAP is CPUID.1:EDX");
  CHECK(seen[AT_UID] && val[AT_UID] == getuid() && val[AT_EUID] == geteuid() && val[AT_GID] == getgid() &&
        val[AT_EGID] == getegid(), "exec: AT_UID/AT_EUID/AT_GID/AT_EGID match");
  CHECK(seen[AT_SECURE] && val[AT_SECURE] == 0, "exec: AT_SECURE 0");
  CHECK_EQ(val[AT_CLKTCK], 100, "exec: AT_CLKTCK 100");
  CHECK_STR((const char *)val[AT_EXECFN], argv[7], "exec: AT_EXECFN is the path given to execve");
  CHECK_STR((const char *)val[AT_PLATFORM], "x86_64", "exec: AT_PLATFORM x86_64");
  /* What exec keeps and resets. */
  int cl = atoi(getenv("LABI_CLOEXEC_FD") ? getenv("LABI_CLOEXEC_FD") : "-1");
  int kept = atoi(getenv("LABI_KEPT_FD") ? getenv("LABI_KEPT_FD") : "-1");
  CHECK_ERR(fcntl(cl, F_GETFD), EBADF, "exec closed the FD_CLOEXEC fd");
  char buf[8] = {0};
  CHECK(pread(kept, buf, 4, 0) == 4 && strcmp(buf, "kept") == 0, "exec kept the other fd, still readable");
  struct sigaction sa;
  sigaction(SIGUSR1, NULL, &sa);
  CHECK(sa.sa_handler == SIG_DFL, "exec reset a handled signal to SIG_DFL");
  sigaction(SIGUSR2, NULL, &sa);
  CHECK(sa.sa_handler == SIG_IGN, "exec kept an ignored signal ignored");
  sigset_t m;
  sigprocmask(SIG_BLOCK, NULL, &m);
  CHECK(sigismember(&m, SIGINT) && !sigismember(&m, SIGTERM), "exec kept the signal mask");
  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) && strstr(cwd, "/linux-abi-proc-") != NULL, "exec kept the cwd (the parent's scratch directory)");
  CHECK_EQ(umask(0), 0027, "exec kept the umask");
  t_child_exit();
}

static int shebang_child(int argc, char **argv) {
  t_begin(LABI_NAME);
  const char *fd = getenv("LABI_REPORT_FD");
  t_child(fd ? atoi(fd) : 2);
  CHECK_EQ(argc, 4, "#!: the interpreter gets 4 arguments");
  if (argc == 4) {
    CHECK_STR(argv[0], self, "#!: argv[0] is the interpreter path from the #! line");
    CHECK_STR(argv[1], "--shebang", "#!: argv[1] is the optional argument");
    CHECK(strstr(argv[2], "/script") != NULL, "#!: argv[2] is the script's path");
    CHECK_STR(argv[3], "x", "#!: then the script's own arguments");
  }
  t_child_exit();
}

/* ---- parent tests ---- */

static void on_usr1(int sig) {}

static void test_fork(void) {
  int shared = 5;
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    shared = 6;
    _exit(getppid() == parent && shared == 6 ? 3 : 100);
  }
  CHECK(c > 0 && c != parent, "fork returns the child's pid to the parent");
  struct rusage ru;
  memset(&ru, 0xff, sizeof ru);
  int st = 0;
  CHECK_EQ(wait4(c, &st, 0, &ru), c, "wait4 returns the child's pid");
  CHECK_EXIT(st, 3, "the child saw its parent and exited 3");
  CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000, "wait4 fills the rusage");
  CHECK_EQ(shared, 5, "the parent's memory is its own");
  /* Several children; the statuses come back in any order. */
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork();
    if (kids[i] == 0) _exit(10 + i);
  }
  int mask = 0;
  for (int i = 0; i < 3; i++) {
    pid_t w = wait(&st);
    for (int k = 0; k < 3; k++) if (w == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 10 + k) mask |= 1 << k;
  }
  CHECK_EQ(mask, 7, "wait collects three children with their own statuses");
  CHECK_ERR(wait(&st), ECHILD, "wait with no children: ECHILD");
  CHECK_ERR(waitpid(getppid(), &st, 0), ECHILD, "waitpid of a process that is not a child: ECHILD");
  CHECK_ERR(waitpid(-1, &st, WNOHANG), ECHILD, "waitpid WNOHANG with no children: ECHILD");
  CHECK_ERR(wait4(-1, &st, 0x10000000, NULL), EINVAL, "wait4 with unknown options: EINVAL");
}

static void test_vfork_clone(void) {
  pid_t c = vfork();
  if (c == 0) _exit(9);
  CHECK_EXIT(t_wait(c), 9, "vfork child exits 9");
  c = vfork();
  if (c == 0) {
    execl(self, "proc", "--exit", "7", (char *)NULL);
    _exit(99);
  }
  CHECK_EXIT(t_wait(c), 7, "vfork then execve: the program's exit status 7");
  long r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (r == 0) syscall(SYS_exit_group, 4);
  CHECK(r > 0, "clone(SIGCHLD) returns a pid");
  CHECK_EXIT(t_wait((pid_t)r), 4, "clone(SIGCHLD) child is waited like a fork child");
  r = syscall(SYS_clone, 0, 0, 0, 0, 0);
  if (r == 0) syscall(SYS_exit_group, 6);
  int st = 0;
  CHECK_ERR(waitpid((pid_t)r, &st, WNOHANG), ECHILD, "a child with no exit signal is not waited without __WCLONE: ECHILD");
  pid_t w;
  do w = waitpid((pid_t)r, &st, __WCLONE);
  while (w < 0 && errno == EINTR);
  CHECK(w == r && WIFEXITED(st) && WEXITSTATUS(st) == 6, "waitpid __WCLONE collects it (exit 6)");
  CHECK_ERR(syscall(SYS_clone, CLONE_THREAD | SIGCHLD, 0, 0, 0, 0), EINVAL, "clone CLONE_THREAD without CLONE_SIGHAND: EINVAL");
  CHECK_ERR(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0), EINVAL, "clone CLONE_SIGHAND without CLONE_VM: EINVAL");
}

/* A hand-made static program with a segment layout a loader must get right:
 * a read-only segment that starts in the middle of its file page (offset
 * 0x3100 at 0x405100: the page's first bytes show the file's), and a last,
 * writable segment with 16 file bytes and .bss to 0x408000 whose file page
 * and the page after it hold other bytes (0xaa, 0xbb) that must read as
 * zeros. Its code checks each range and exits with 0, or 2..5 for the first
 * range that is wrong (writing its .bss on the way out). */
static const unsigned char layout_code[] = {0xbe, 0x00, 0x60, 0x40, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xb0, 0x44, 0xb2, 0x02, 0xe8, 0x52, 0x00, 0x00, 0x00, 0xbe, 0x10, 0x60, 0x40, 0x00, 0xb9, 0xf0, 0x1f, 0x00, 0x00, 0x31, 0xc0, 0xb2, 0x03, 0xe8, 0x3f, 0x00, 0x00, 0x00, 0xbe, 0x00, 0x51, 0x40, 0x00, 0xb9, 0x00, 0x01, 0x00, 0x00, 0xb0, 0x54, 0xb2, 0x04, 0xe8, 0x2c, 0x00, 0x00, 0x00, 0xbe, 0x00, 0x50, 0x40, 0x00, 0xb9, 0x00, 0x01, 0x00, 0x00, 0xb0, 0xbb, 0xb2, 0x05, 0xe8, 0x19, 0x00, 0x00, 0x00, 0xc6, 0x04, 0x25, 0xf0, 0x7f, 0x40, 0x00, 0x01, 0xc6, 0x04, 0x25, 0x08, 0x60, 0x40, 0x00, 0x01, 0x31, 0xff, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x38, 0x06, 0x75, 0x09, 0x48, 0xff, 0xc6, 0x48, 0xff, 0xc9, 0x75, 0xf4, 0xc3, 0x0f, 0xb6, 0xfa, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05};

static size_t make_layout_elf(unsigned char *f) {
  memset(f, 0, 0x4000);
  memset(f + 0x2000, 0xaa, 0x1000);
  memset(f + 0x2000, 'D', 16);
  memset(f + 0x3000, 0xbb, 0x1000);
  memset(f + 0x3100, 'T', 0x100);
  memcpy(f + 0x1000, layout_code, sizeof layout_code);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)f;
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_ident[EI_DATA] = ELFDATA2LSB;
  eh->e_ident[EI_VERSION] = EV_CURRENT;
  eh->e_type = ET_EXEC;
  eh->e_machine = EM_X86_64;
  eh->e_version = EV_CURRENT;
  eh->e_entry = 0x401000;
  eh->e_phoff = sizeof *eh;
  eh->e_ehsize = sizeof *eh;
  eh->e_phentsize = sizeof(Elf64_Phdr);
  eh->e_phnum = 3;
  Elf64_Phdr *ph = (Elf64_Phdr *)(f + sizeof *eh);
  ph[0] = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x400000, 0x1000 + sizeof layout_code,
                       0x1000 + sizeof layout_code, 0x1000};
  ph[1] = (Elf64_Phdr){PT_LOAD, PF_R, 0x3100, 0x405100, 0x405100, 0x100, 0x100, 0x1000};
  ph[2] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0x2000, 0x406000, 0x406000, 16, 0x2000, 0x1000};
  return 0x4000;
}

static void test_exec_layout(void) {
  static unsigned char f[0x4000];
  size_t n = make_layout_elf(f);
  const char *path = t_path("layout");
  t_write_file(path, (const char *)f, n, 0755);
  for (int i = 0; i < 2; i++) { /* (twice: a second exec of the same file) */
    pid_t c = fork();
    if (c == 0) {
      char *args[] = {"layout", NULL};
      char *env[] = {NULL};
      execve(path, args, env);
      _exit(99);
    }
    CHECK_EXIT(t_wait(c), 0, i == 0 ? "a program with a mid-page segment and .bss over file bytes runs"
                                    : "and runs again the same");
  }
  /* The first page of this program (its ELF header) made writable in a child
   * and written there: the parent's stays as it was. */
  unsigned char *hdr = (unsigned char *)(getauxval(AT_PHDR) & ~(uintptr_t)4095);
  unsigned char before = hdr[1];
  pid_t c = fork();
  if (c == 0) {
    if (mprotect(hdr, 4096, PROT_READ | PROT_WRITE) != 0) _exit(2);
    hdr[1] = (unsigned char)(before + 1);
    _exit(hdr[1] == (unsigned char)(before + 1) ? 0 : 3);
  }
  CHECK_EXIT(t_wait(c), 0, "mprotect PROT_WRITE of the program's first page, then a write: works");
  CHECK(hdr[1] == before, "the parent's copy of that page is unchanged");
  CHECK(madvise(hdr, 4096, MADV_DONTNEED) == 0 && hdr[1] == before && hdr[1] == 'E',
        "MADV_DONTNEED of the program's first page: it reads the file's bytes again");
}

static void test_exec(void) {
  char rnd[40];
  hex((const unsigned char *)getauxval(AT_RANDOM), 16, rnd);
  int p[2];
  pipe(p);
  int cl = open(self, O_RDONLY | O_CLOEXEC);
  const char *keptpath = t_path("kept");
  t_write_file(keptpath, "kept", 4, 0644);
  int kept = open(keptpath, O_RDONLY);
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    char fdarg[16], ids[64], envcl[40], envkept[40];
    snprintf(fdarg, sizeof fdarg, "%d", p[1]);
    snprintf(ids, sizeof ids, "%d:%d", getpid(), parent);
    snprintf(envcl, sizeof envcl, "LABI_CLOEXEC_FD=%d", cl);
    snprintf(envkept, sizeof envkept, "LABI_KEPT_FD=%d", kept);
    char *args[] = {"proc-argv0", "--exec-child", fdarg, ids, "two words", "", rnd, self, NULL};
    char *env[] = {"LABI_A=one=1", "LABI_EMPTY=", envcl, envkept, NULL};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    signal(SIGUSR2, SIG_IGN);
    sa.sa_handler = on_usr1; /* a handler must not survive exec */
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGINT);
    sigprocmask(SIG_BLOCK, &m, NULL);
    chdir(t_scratch());
    umask(0027);
    execve(self, args, env);
    _exit(99);
  }
  close(p[1]);
  int n = t_relay(p[0]);
  CHECK(n >= 30, "the exec child reported its checks");
  CHECK_EXIT(t_wait(c), 0, "the exec child exits 0");
  close(cl);
  close(kept);
  /* #! scripts */
  char script[4200];
  int len = snprintf(script, sizeof script, "#!%s --shebang\n", self);
  const char *sp = t_path("script");
  t_write_file(sp, script, (size_t)len, 0755);
  pipe(p);
  c = fork();
  if (c == 0) {
    close(p[0]);
    char envfd[40];
    snprintf(envfd, sizeof envfd, "LABI_REPORT_FD=%d", p[1]);
    char *args[] = {"script-argv0", "x", NULL};
    char *env[] = {envfd, NULL};
    execve(sp, args, env);
    _exit(99);
  }
  close(p[1]);
  CHECK(t_relay(p[0]) >= 4, "the #! interpreter reported its checks");
  CHECK_EXIT(t_wait(c), 0, "the #! interpreter exits 0");
  /* Exec errors: execve returns -1 and the caller goes on. */
  char *noargs[] = {"x", NULL};
  char *noenv[] = {NULL};
  CHECK_ERR(execve(t_path("missing"), noargs, noenv), ENOENT, "execve of a missing file: ENOENT");
  CHECK_ERR(execve(t_scratch(), noargs, noenv), EACCES, "execve of a directory: EACCES");
  t_write_file(t_path("noexec"), "#!/bin/sh\n", 10, 0644);
  CHECK_ERR(execve(t_path("noexec"), noargs, noenv), EACCES, "execve of a file without x bits: EACCES");
  t_write_file(t_path("garbage"), "\x01\x02\x03garbage that is not ELF", 27, 0755);
  CHECK_ERR(execve(t_path("garbage"), noargs, noenv), ENOEXEC, "execve of an unknown format: ENOEXEC");
  t_write_file(t_path("badinterp"), "#!/nonexistent/interpreter\n", 27, 0755);
  CHECK_ERR(execve(t_path("badinterp"), noargs, noenv), ENOENT, "a #! script with a missing interpreter: ENOENT");
  CHECK_ERR(syscall(SYS_execve, T_BADPTR, noargs, noenv), EFAULT, "execve of a bad path pointer: EFAULT");
  CHECK_ERR(syscall(SYS_execve, self, T_BADPTR, noenv), EFAULT, "execve of a bad argv pointer: EFAULT");
  CHECK_ERR(execve(t_path("garbage/x"), noargs, noenv), ENOTDIR, "execve through a file: ENOTDIR");
}

static void test_waitid(void) {
  siginfo_t si;
  pid_t c = fork();
  if (c == 0) _exit(5);
  memset(&si, 0, sizeof si);
  CHECK_EQ(waitid(P_PID, c, &si, WEXITED | WNOWAIT), 0, "waitid WNOWAIT");
  CHECK(si.si_pid == c && si.si_signo == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 5,
        "waitid: si_pid, SIGCHLD, CLD_EXITED, si_status 5");
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WEXITED) == 0 && si.si_pid == c, "after WNOWAIT the child is still waitable");
  CHECK_ERR(waitid(P_PID, c, &si, WEXITED), ECHILD, "and then it is gone: ECHILD");
  /* A child blocked on a pipe: WNOHANG sees nothing yet. */
  int p[2];
  pipe(p);
  c = fork();
  if (c == 0) {
    close(p[1]);
    char b;
    read(p[0], &b, 1);
    _exit(0);
  }
  close(p[0]);
  memset(&si, 0xff, sizeof si);
  CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0, "waitid WNOHANG with a live child: si_pid 0");
  int st;
  CHECK_EQ(waitpid(c, &st, WNOHANG), 0, "waitpid WNOHANG with a live child: 0");
  kill(c, SIGKILL);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WEXITED) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
        "waitid of a killed child: CLD_KILLED, si_status SIGKILL");
  close(p[1]);
  CHECK_ERR(waitid(99, 0, &si, WEXITED), EINVAL, "waitid with an unknown idtype: EINVAL");
  c = fork();
  if (c == 0) _exit(0);
  CHECK_ERR(waitid(P_PID, c, &si, 0), EINVAL, "waitid with no state options: EINVAL");
  t_wait(c);
  CHECK_ERR(waitid(P_ALL, 0, &si, WEXITED), ECHILD, "waitid with no children: ECHILD");
  /* An orphan gets a new parent. */
  pipe(p);
  c = fork();
  if (c == 0) {
    pid_t mid = getpid();
    pid_t g = fork();
    if (g == 0) {
      close(p[0]);
      for (int i = 0; i < 2000 && getppid() == mid; i++) t_sleep_ms(1);
      char ok = getppid() != mid ? 'y' : 'n';
      write(p[1], &ok, 1);
      _exit(0);
    }
    _exit(0);
  }
  close(p[1]);
  t_wait(c);
  char ok = 0;
  read(p[0], &ok, 1);
  close(p[0]);
  CHECK_EQ(ok, 'y', "an orphaned grandchild is reparented");
}

static void test_groups_sessions(void) {
  CHECK_EQ(getpgrp(), getpgid(0), "getpgrp == getpgid(0)");
  CHECK_EQ(getpgid(getpid()), getpgrp(), "getpgid(own pid) == getpgrp");
  CHECK(getsid(0) > 0 && getsid(0) == getsid(getpid()), "getsid(0) == getsid(own pid)");
  CHECK_ERR(getpgid(0x3fffffff), ESRCH, "getpgid of no such process: ESRCH");
  CHECK_ERR(getsid(0x3fffffff), ESRCH, "getsid of no such process: ESRCH");
  CHECK_ERR(setpgid(0x3fffffff, 0), ESRCH, "setpgid of no such process: ESRCH");
  CHECK_ERR(setpgid(0, -1), EINVAL, "setpgid to a negative group: EINVAL");
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    t_child(p[1]);
    CHECK_EQ(getpgrp(), getpgid(getppid()), "child: starts in its parent's group");
    CHECK_EQ(setpgid(0, 0), 0, "child: setpgid(0, 0)");
    CHECK_EQ(getpgrp(), getpid(), "child: now leads its own group");
    CHECK_ERR(setsid(), EPERM, "child: setsid as a group leader: EPERM");
    pid_t g = fork();
    if (g == 0) {
      pid_t s = setsid();
      _exit(s == getpid() && getsid(0) == getpid() && getpgrp() == getpid() && setsid() == -1 && errno == EPERM ? 0 : 1);
    }
    int st = t_wait(g);
    CHECK_EXIT(st, 0, "grandchild: setsid makes a new session and group it leads; a second one is EPERM");
    t_child_exit();
  }
  close(p[1]);
  t_relay(p[0]);
  CHECK_EXIT(t_wait(c), 0, "the group child exits 0");
  /* setpgid from the parent; and kill(-pgid) reaches the whole group. */
  pid_t a = fork();
  if (a == 0) { for (;;) pause(); }
  CHECK_EQ(setpgid(a, a), 0, "parent: setpgid(child, child)");
  CHECK_EQ(getpgid(a), a, "getpgid(child) is its new group");
  pid_t b = fork();
  if (b == 0) { for (;;) pause(); }
  CHECK_EQ(setpgid(b, a), 0, "parent: a second child joins the group");
  int wst;
  CHECK_EQ(waitpid(-a, &wst, WNOHANG), 0, "waitpid(-pgid, WNOHANG) with live members: 0");
  CHECK_ERR(waitpid(-0x3fffffff, &wst, WNOHANG), ECHILD, "waitpid of a group with no children of ours: ECHILD");
  CHECK_EQ(kill(-a, SIGTERM), 0, "kill(-pgid, SIGTERM)");
  CHECK_KILLED(t_wait(a), SIGTERM, "the group leader died of SIGTERM");
  CHECK_KILLED(t_wait(b), SIGTERM, "the other member died of SIGTERM");
  CHECK_ERR(kill(-a, SIGTERM), ESRCH, "kill of an empty group: ESRCH");
  /* A child in another session cannot be moved; one that has exec'd cannot either. */
  int go[2];
  pipe(go);
  c = fork();
  if (c == 0) {
    close(go[1]);
    setsid();
    char b1;
    read(go[0], &b1, 1);
    _exit(0);
  }
  close(go[0]);
  for (int i = 0; i < 1000 && getsid(c) != c; i++) t_sleep_ms(1);
  CHECK_ERR(setpgid(c, c), EPERM, "setpgid of a child in another session: EPERM");
  close(go[1]);
  t_wait(c);
  pipe(go);
  c = fork();
  if (c == 0) {
    dup2(go[0], 0);
    close(go[0]);
    close(go[1]);
    execl(self, "proc", "--pause", (char *)NULL);
    _exit(99);
  }
  close(go[0]);
  /* Wait until the child runs the new program (its /proc cmdline changes), bounded. */
  int err = 0;
  for (int i = 0; i < 2000; i++) {
    errno = 0;
    if (setpgid(c, c) < 0) { err = errno; if (err == EACCES) break; }
    t_sleep_ms(1);
  }
  CHECK_EQ(err, EACCES, "setpgid of a child after it has exec'd: EACCES");
  close(go[1]);
  t_wait(c);
}

/* The id calls a process may make very often (getpid, getppid, gettid, the uid and gid calls,
 * getpgrp) answer from the current state: after setpgid by the process itself and by its parent,
 * after setuid, and a signal still reaches a process that makes nothing but such calls. */
static volatile sig_atomic_t fast_usr1;
static void on_fast_usr1(int sig) { (void)sig; fast_usr1 = 1; }

static void test_ids_current(void) {
  int st = 0;
  pid_t me = getpid();
  CHECK_EQ(syscall(SYS_getpid), me, "getpid twice: the same pid");
  CHECK_EQ(syscall(SYS_gettid), me, "gettid of a single-threaded process: its pid");
  pid_t c = fork();
  if (c == 0) {
    int ok = getppid() == me && syscall(SYS_getpid) == getpid() && syscall(SYS_gettid) == getpid();
    ok = ok && setpgid(0, 0) == 0 && syscall(SYS_getpgrp) == getpid() && getpgid(0) == getpid();
    _exit(ok ? 0 : 1);
  }
  waitpid(c, &st, 0);
  CHECK_EXIT(st, 0, "child: getppid, getpid, gettid, then getpgrp after its own setpgid");
  /* The parent moves a child that polls getpgrp into a group of its own. */
  int p[2];
  pipe(p);
  c = fork();
  if (c == 0) {
    close(p[0]);
    pid_t before = (pid_t)syscall(SYS_getpgrp);
    write(p[1], "r", 1);
    for (int i = 0; i < 4000 && syscall(SYS_getpgrp) == before; i++) t_sleep_ms(1);
    _exit(syscall(SYS_getpgrp) == getpid() ? 0 : 1);
  }
  close(p[1]);
  char b;
  read(p[0], &b, 1);
  close(p[0]);
  CHECK_EQ(setpgid(c, c), 0, "parent: setpgid of a child polling getpgrp");
  waitpid(c, &st, 0);
  CHECK_EXIT(st, 0, "the polling child sees its new group");
  /* setuid changes what getuid and geteuid answer (root only). */
  if (geteuid() == 0) {
    c = fork();
    if (c == 0) {
      int ok = setresgid(2001, 2002, 2003) == 0 && getgid() == 2001 && getegid() == 2002;
      ok = ok && setuid(1234) == 0 && getuid() == 1234 && geteuid() == 1234 && syscall(SYS_getuid) == 1234;
      _exit(ok ? 0 : 1);
    }
    waitpid(c, &st, 0);
    CHECK_EXIT(st, 0, "getuid, geteuid, getgid, getegid after setuid and setresgid");
  } else {
    t_skip("getuid, geteuid, getgid, getegid after setuid and setresgid", "not root");
  }
  /* A signal reaches a process in a loop of getppid calls. */
  pipe(p);
  c = fork();
  if (c == 0) {
    close(p[0]);
    signal(SIGUSR1, on_fast_usr1);
    write(p[1], "r", 1);
    for (long i = 0; i < 20000000 && !fast_usr1; i++) (void)getppid();
    _exit(fast_usr1 ? 0 : 1);
  }
  close(p[1]);
  read(p[0], &b, 1);
  close(p[0]);
  kill(c, SIGUSR1);
  waitpid(c, &st, 0);
  CHECK_EXIT(st, 0, "a signal interrupts a loop of getppid calls");
}

int main(int argc, char **argv) {
  find_self(argv[0]);
  if (argc >= 2 && strcmp(argv[1], "--exec-child") == 0 && argc >= 3) return exec_child(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "--shebang") == 0) return shebang_child(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "--exit") == 0) return atoi(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "--pause") == 0) {
    char b;
    return (int)read(0, &b, 1) < 0;
  }
  t_begin(LABI_NAME);
  test_fork();
  test_vfork_clone();
  test_exec();
  test_exec_layout();
  test_waitid();
  test_groups_sessions();
  test_ids_current();
  return t_end();
}
