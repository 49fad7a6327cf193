/* mem — memory system calls: brk, mmap (anonymous private and shared, private
 * file mappings, MAP_FIXED), munmap, mprotect (with the SIGSEGV a write to a
 * read-only page raises), mremap and madvise. */
#include "harness.h"

#include <setjmp.h>
#include <sys/mman.h>

#define PG 4096UL

/* Fault catcher: touch() runs an access and reports whether it faulted and how. */
static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  fault_sig = sig;
  fault_code = si->si_code;
  fault_addr = si->si_addr;
  siglongjmp(fault_jmp, 1);
}

static void catch_faults(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
}

/* 0 if the access went through; otherwise the signal number. */
static int touch(volatile char *p, int write, char value) {
  fault_sig = 0;
  fault_addr = NULL;
  if (sigsetjmp(fault_jmp, 1) == 0) {
    if (write) *p = value;
    else (void)*p;
    return 0;
  }
  return fault_sig;
}

static void test_brk(void) {
  unsigned long cur = syscall(SYS_brk, 0);
  CHECK(cur != 0 && cur != (unsigned long)-1, "brk(0) returns the current break");
  unsigned long want = cur + 64 * 1024;
  CHECK_EQ(syscall(SYS_brk, want), want, "brk grows by 64 KiB");
  char *p = (char *)cur;
  int zero = 1;
  for (unsigned long i = 0; i < 64 * 1024; i += 512) zero &= p[i] == 0;
  CHECK(zero, "grown break memory reads as zero");
  memset(p, 0x5a, 64 * 1024);
  CHECK_EQ(p[64 * 1024 - 1], 0x5a, "grown break memory is writable");
  CHECK_EQ(syscall(SYS_brk, cur), cur, "brk shrinks back");
  CHECK_EQ(touch(p + 8192, 0, 0), SIGSEGV, "memory above the shrunk break faults");
  CHECK_EQ(syscall(SYS_brk, 4096), cur, "brk below the data segment fails: returns the current break");
  CHECK_EQ(syscall(SYS_brk, 0), cur, "the break is unchanged by the refused brk");
}

static void test_mmap_anon(void) {
  char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap anonymous private 3 pages");
  if (p == MAP_FAILED) return;
  CHECK_EQ((unsigned long)p % PG, 0, "mmap returns a page-aligned address");
  int zero = 1;
  for (unsigned long i = 0; i < 3 * PG; i++) zero &= p[i] == 0;
  CHECK(zero, "anonymous memory is zero-filled");
  memset(p, 0xab, 3 * PG);
  CHECK_EQ((unsigned char)p[3 * PG - 1], 0xab, "anonymous memory is writable");
  /* MAP_FIXED over the middle page replaces it with fresh zeros. */
  char *q = mmap(p + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(q == p + PG, "MAP_FIXED maps at the address asked for");
  CHECK(q == p + PG && q[0] == 0 && (unsigned char)p[0] == 0xab && (unsigned char)p[2 * PG] == 0xab,
        "MAP_FIXED replaced only the middle page");
  CHECK_EQ(munmap(p + PG, PG), 0, "munmap of the middle page");
  CHECK_EQ(touch(p + PG, 0, 0), SIGSEGV, "the unmapped page faults");
  CHECK(fault_addr == p + PG && fault_code == SEGV_MAPERR, "the fault gives si_addr and SEGV_MAPERR");
  CHECK_EQ(touch(p + 2 * PG, 0, 0), 0, "the page after the hole is still mapped");
  CHECK_EQ(munmap(p, 3 * PG), 0, "munmap across a hole succeeds");
  CHECK_EQ(munmap(p, 3 * PG), 0, "munmap of an unmapped range succeeds");
  CHECK_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL, "mmap of length 0: EINVAL");
  CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL, "mmap without MAP_PRIVATE or MAP_SHARED: EINVAL");
  CHECK_ERR(mmap((void *)0x10000001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL,
            "mmap MAP_FIXED at an unaligned address: EINVAL");
  CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0), EBADF, "file mmap of fd -1: EBADF");
  CHECK_ERR(syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 123), EINVAL,
            "mmap with an unaligned offset: EINVAL");
  CHECK_ERR(munmap((void *)0x10000001, PG), EINVAL, "munmap of an unaligned address: EINVAL");
  CHECK_ERR(munmap(NULL, 0), EINVAL, "munmap of length 0: EINVAL");
  CHECK_ERR(mmap(NULL, 1UL << 47, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED ? -1 : 0,
            ENOMEM, "mmap of 128 TiB: ENOMEM");
}

static void test_placement(void) {
  /* A hint without MAP_FIXED is only a hint, but a free, aligned one is taken. */
  char *probe = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) return;
  munmap(probe, 4 * PG);
  char *h = mmap(probe + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(h == probe + PG, "a free hint address is used");
  char *n = mmap(h, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(n != MAP_FAILED && n != h, "a hint over a mapping is moved, not replaced");
  CHECK_ERR(mmap(h, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED ? -1 : 0,
            EEXIST, "MAP_FIXED_NOREPLACE over a mapping: EEXIST");
  if (n != MAP_FAILED) munmap(n, PG);
  munmap(h, PG);
  /* Unmapping or protecting the middle of a mapping splits it. */
  char *p = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  memset(p, 's', 5 * PG);
  munmap(p + 2 * PG, PG);
  mprotect(p + 3 * PG, PG, PROT_READ);
  CHECK(touch(p + PG, 1, 't') == 0 && touch(p + 2 * PG, 0, 0) == SIGSEGV && touch(p + 3 * PG, 1, 'u') == SIGSEGV &&
        touch(p + 4 * PG, 1, 'v') == 0, "munmap and mprotect of middle pages split the mapping (rw, hole, ro, rw)");
  CHECK(p[0] == 's' && p[PG] == 't' && p[3 * PG] == 's' && p[4 * PG] == 'v', "every piece keeps its contents");
  munmap(p, 5 * PG);
  /* Memory that was never touched reads as zero; a big mapping costs nothing until touched. */
  size_t big = 1UL << 30;
  char *g = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(g != MAP_FAILED, "mmap of 1 GiB MAP_NORESERVE");
  if (g != MAP_FAILED) {
    g[0] = 1;
    g[big / 2] = 2;
    g[big - 1] = 3;
    CHECK(g[0] == 1 && g[big / 2] == 2 && g[big - 1] == 3 && g[4096] == 0, "three pages of it are touched, the rest reads zero");
    munmap(g, big);
  }
}

static void test_fork_sharing(void) {
  volatile int *shared = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  volatile int *priv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED || priv == MAP_FAILED) { t_fail("mmap for fork tests", __FILE__, __LINE__, "expected two mappings got MAP_FAILED"); return; }
  shared[0] = 1;
  priv[0] = 1;
  pid_t c = fork();
  if (c == 0) {
    int ok = shared[0] == 1 && priv[0] == 1;
    shared[0] = 2;
    priv[0] = 2;
    _exit(ok ? 0 : 1);
  }
  CHECK_EXIT(t_wait(c), 0, "a fork child sees the parent's shared and private memory");
  CHECK_EQ(shared[0], 2, "a child's write to MAP_SHARED memory is seen by the parent");
  CHECK_EQ(priv[0], 1, "a child's write to MAP_PRIVATE memory is not (copy-on-write)");
  /* And the other way: the parent writes after fork. */
  priv[0] = 3;
  c = fork();
  if (c == 0) {
    priv[0] = 4;
    _exit(priv[0] == 4 ? 0 : 1);
  }
  int st = t_wait(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && priv[0] == 3, "parent's copy survives the child's write");
  munmap((void *)shared, PG);
  munmap((void *)priv, PG);
}

static void test_mprotect(void) {
  char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  p[0] = 'x';
  CHECK_EQ(mprotect(p, PG, PROT_READ), 0, "mprotect PROT_READ");
  CHECK_EQ(touch(p, 0, 0), 0, "a read-only page can be read");
  CHECK_EQ(p[0], 'x', "mprotect keeps the contents");
  CHECK_EQ(touch(p, 1, 'y'), SIGSEGV, "writing a read-only page raises SIGSEGV");
  CHECK(fault_addr == p && fault_code == SEGV_ACCERR, "the fault gives si_addr and SEGV_ACCERR");
  CHECK_EQ(p[0], 'x', "the refused write changed nothing");
  CHECK_EQ(touch(p + PG, 1, 'z'), 0, "the next page stays writable");
  CHECK_EQ(mprotect(p, PG, PROT_NONE), 0, "mprotect PROT_NONE");
  CHECK_EQ(touch(p, 0, 0), SIGSEGV, "reading a PROT_NONE page raises SIGSEGV");
  CHECK_EQ(mprotect(p, PG, PROT_READ | PROT_WRITE), 0, "mprotect back to read-write");
  CHECK_EQ(touch(p, 1, 'w'), 0, "the page is writable again");
  CHECK_EQ(p[0], 'w', "and holds the new value");
  CHECK_ERR(syscall(SYS_mprotect, p + 1, PG, PROT_READ), EINVAL, "raw mprotect of an unaligned address: EINVAL");
  CHECK_ERR(mprotect(p, PG, 0x100), EINVAL, "mprotect with unknown bits: EINVAL");
  munmap(p, 2 * PG);
  CHECK_ERR(mprotect(p, PG, PROT_READ), ENOMEM, "mprotect of an unmapped range: ENOMEM");
}

static void test_mremap(void) {
  char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  memset(p, 'a', PG);
  memset(p + PG, 'b', PG);
  /* Growing the first page in place would overlap the second. */
  CHECK_ERR(mremap(p, PG, 2 * PG, 0) == MAP_FAILED ? -1 : 0, ENOMEM, "mremap growing into a mapping without MAYMOVE: ENOMEM");
  char *q = mremap(p, 2 * PG, 16 * PG, MREMAP_MAYMOVE);
  CHECK(q != MAP_FAILED, "mremap grows 2 -> 16 pages with MREMAP_MAYMOVE");
  if (q == MAP_FAILED) return;
  CHECK(q[0] == 'a' && q[PG] == 'b' && q[2 * PG] == 0 && q[16 * PG - 1] == 0,
        "the moved mapping keeps its contents and grows with zeros");
  q[16 * PG - 1] = 'c';
  char *r = mremap(q, 16 * PG, PG, 0);
  CHECK(r == q, "mremap shrinks in place");
  CHECK_EQ(touch(q + PG, 0, 0), SIGSEGV, "the pages cut off by the shrink fault");
  CHECK_ERR(mremap(q + 1, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0, EINVAL, "mremap of an unaligned address: EINVAL");
  CHECK_ERR(mremap(q, PG, 2 * PG, 0x80) == MAP_FAILED ? -1 : 0, EINVAL, "mremap with unknown flags: EINVAL");
  CHECK_ERR(mremap(q, PG, 0, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0, EINVAL, "mremap to length 0: EINVAL");
  munmap(q, PG);
  CHECK_ERR(mremap(q, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0, EFAULT, "mremap of an unmapped address: EFAULT");
}

static void test_madvise(void) {
  char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  memset(p, 'm', 4 * PG);
  CHECK_EQ(madvise(p, 4 * PG, MADV_NORMAL), 0, "madvise MADV_NORMAL");
  CHECK_EQ(madvise(p, 4 * PG, MADV_WILLNEED), 0, "madvise MADV_WILLNEED");
  CHECK_EQ(madvise(p, 4 * PG, MADV_SEQUENTIAL), 0, "madvise MADV_SEQUENTIAL");
  CHECK_EQ(p[0], 'm', "hints keep the contents");
  CHECK_EQ(madvise(p + PG, PG, MADV_DONTNEED), 0, "madvise MADV_DONTNEED");
  CHECK(p[PG] == 0 && p[2 * PG - 1] == 0 && p[0] == 'm' && p[2 * PG] == 'm',
        "MADV_DONTNEED on private anonymous memory: the page reads zero, its neighbours keep their data");
  CHECK_ERR(madvise(p + 1, PG, MADV_NORMAL), EINVAL, "madvise of an unaligned address: EINVAL");
  CHECK_ERR(madvise(p, PG, 12345), EINVAL, "madvise with an unknown advice: EINVAL");
  munmap(p, 4 * PG);
  CHECK_ERR(madvise(p, PG, MADV_WILLNEED), ENOMEM, "madvise of an unmapped range: ENOMEM");
}

static void test_file_mapping(void) {
  const char *path = t_path("mapped");
  char data[2 * PG];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('A' + i % 23);
  t_write_file(path, data, PG + 100, 0644);
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0, "open the file to map");
  if (fd < 0) return;
  char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED, "mmap a file MAP_PRIVATE");
  if (p == MAP_FAILED) { close(fd); return; }
  CHECK(memcmp(p, data, PG + 100) == 0, "the mapping shows the file's contents");
  CHECK(p[PG + 100] == 0 && p[2 * PG - 1] == 0, "the last page is zero past the end of the file");
  p[0] = '!';
  char first;
  CHECK(pread(fd, &first, 1, 0) == 1 && first == 'A', "a write to a private mapping does not reach the file");
  char *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
  CHECK(q != MAP_FAILED && memcmp(q, data + PG, 100) == 0, "mmap at a file offset of one page");
  if (q != MAP_FAILED) munmap(q, PG);
  int ro = open(path, O_RDONLY);
  CHECK_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES,
            "MAP_SHARED PROT_WRITE of a read-only fd: EACCES");
  close(ro);
  munmap(p, 2 * PG);
  close(fd);
  int dir = open(t_scratch(), O_RDONLY | O_DIRECTORY);
  CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV, "mmap of a directory: ENODEV");
  close(dir);
}

/* MAP_SHARED writable file mappings (mmap(2), msync(2)): writes reach the
 * file by msync(MS_SYNC) and by munmap; a fork child shares the pages; the
 * file does not grow; /dev/zero maps as shared anonymous memory. */
static void test_shared_file_map(void) {
  const char *path = t_path("shared-map");
  static char data[PG + 100];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 19);
  t_write_file(path, data, sizeof data, 0644);
  int fd = open(path, O_RDWR);
  if (fd < 0) return;
  char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "mmap a file MAP_SHARED with PROT_WRITE");
  if (p == MAP_FAILED) { close(fd); return; }
  CHECK(memcmp(p, data, sizeof data) == 0, "the shared mapping shows the file");
  memcpy(p, "SHARED", 6);
  p[PG + 50] = '#';
  CHECK_EQ(msync(p, 2 * PG, MS_SYNC), 0, "msync MS_SYNC");
  char back[8] = {0};
  CHECK(pread(fd, back, 6, 0) == 6 && memcmp(back, "SHARED", 6) == 0, "after msync a read sees the mapping's write");
  CHECK(pread(fd, back, 1, PG + 50) == 1 && back[0] == '#', "... on its second page too");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof data, "the file keeps its size (a mapping does not grow it)");
  pid_t kid = fork();
  if (kid == 0) {
    p[1] = 'X';
    _exit(msync(p, PG, MS_SYNC) == 0 ? 0 : 1);
  }
  int ws = 0;
  waitpid(kid, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && p[1] == 'X', "a fork child's write to the shared file mapping is seen");
  CHECK(pread(fd, back, 2, 0) == 2 && back[1] == 'X', "and reached the file by its msync");
  memcpy(p + 10, "unmap", 5);
  CHECK_EQ(munmap(p, 2 * PG), 0, "munmap of the shared file mapping");
  CHECK(pread(fd, back, 5, 10) == 5 && memcmp(back, "unmap", 5) == 0, "munmap writes the mapping back");
  CHECK_ERR(msync((char *)p + 1, PG, MS_SYNC), EINVAL, "msync of an unaligned address: EINVAL");
  char *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK_ERR(msync(q, PG, MS_SYNC | MS_ASYNC), EINVAL, "msync with MS_SYNC|MS_ASYNC: EINVAL");
  CHECK_EQ(msync(q, PG, MS_ASYNC), 0, "msync MS_ASYNC of anonymous memory");
  munmap(q, PG);
  CHECK_ERR(msync(q, PG, MS_SYNC), ENOMEM, "msync of an unmapped range: ENOMEM");
  close(fd);
  int z = open("/dev/zero", O_RDWR);
  volatile int *zs = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
  CHECK(zs != MAP_FAILED && zs[0] == 0, "mmap of /dev/zero MAP_SHARED reads zeros");
  if (zs != MAP_FAILED) {
    pid_t k2 = fork();
    if (k2 == 0) {
      zs[0] = 7;
      _exit(0);
    }
    waitpid(k2, &ws, 0);
    CHECK_EQ(zs[0], 7, "a shared /dev/zero mapping is shared with a fork child");
    munmap((void *)zs, PG);
  }
  close(z);
}

int main(void) {
  t_begin("mem");
  catch_faults();
  test_brk();
  test_mmap_anon();
  test_placement();
  test_fork_sharing();
  test_mprotect();
  test_mremap();
  test_shared_file_map();
  test_madvise();
  test_file_mapping();
  return t_end();
}
