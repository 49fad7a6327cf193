// linux/fast.h — the in-process fast path's layout and handler (docs/linux.md,
// "In-process fast path"; the kernel side is thread_set_foreign_fast, 87).
// Pure: host-tested (fast_test.cc runs the handler on the host).
//
// Four pages at kFastBase in every Linux process, the same address in all:
//   +0x0000 code     read-exec, one server object shared by every process: kFastHandler
//   +0x1000 answers  read-only: u64 answers[512], the value of syscall n (pid, ppid, uids, ...)
//   +0x2000 tids     read-only: the tid of thread slot i at +32 * i
//   +0x3000 save     read-write: thread slot i's save area at +32 * i (rax, rip, rflags, rsp)
// The server writes the answers and tids through its own mapping; the kernel
// writes a save area on each masked syscall, and the handler uses its fourth
// word as a one-word stack for popfq (the program's stack and red zone are not
// touched). A slot of the tids page is 0x1000 below the same slot's save area.
#pragma once

#include <cstddef>
#include <cstdint>

namespace linux_fast {

inline constexpr uint64_t kFastBase = 0x7fff'f000'0000;  // (above kMmapBase, below the 8 MiB stack)
inline constexpr uint64_t kCode = 0, kAnswers = 0x1000, kTids = 0x2000, kSave = 0x3000, kSize = 0x4000;
inline constexpr uint64_t kSlotBytes = 32;
inline constexpr size_t kSlots = 0x1000 / kSlotBytes;  // 128 thread slots
inline constexpr uint64_t kGettid = 186;

// The calls answered in-process: getpid 39, getuid 102, getgid 104, geteuid
// 107, getegid 108, getppid 110, getpgrp 111 (answers page), gettid 186 (tids).
inline constexpr uint64_t kFastCalls[] = {39, 102, 104, 107, 108, 110, 111, kGettid};

// The 512-bit mask of kFastCalls (ForeignFast::mask).
inline void fast_mask(uint64_t (&mask)[8]) {
  for (uint64_t& w : mask) w = 0;
  for (uint64_t n : kFastCalls) mask[n >> 6] |= 1ull << (n & 63);
}

// The handler (entered with rax = the save area the kernel filled: nr, rip,
// rflags; rcx and r11 free, as `syscall` clobbers them):
//   movl (%rax), %ecx; andl $511, %ecx      the number
//   cmpl $186, %ecx; je 1f                  gettid: the thread's slot
//   leaq code+0x1000(%rip), %r11; movq (%r11,%rcx,8), %rcx; jmp 2f
//   1: movq -0x1000(%rax), %rcx
//   2: movq %rsp, 24(%rax)                  the program's rsp, in the save area
//   movq 8(%rax), %r11                      where to go back to
//   leaq 16(%rax), %rsp; movq %rcx, %rax    rsp at the saved rflags; the answer
//   popfq; movq (%rsp), %rsp; jmp *%r11     flags and rsp back (mov/jmp keep flags)
// On return rcx holds the answer and r11 the return address.
inline constexpr uint8_t kFastHandler[] = {
    0x8b, 0x08, 0x81, 0xe1, 0xff, 0x01, 0x00, 0x00, 0x81, 0xf9, 0xba, 0x00, 0x00, 0x00, 0x74, 0x0d,
    0x4c, 0x8d, 0x1d, 0xe9, 0x0f, 0x00, 0x00, 0x49, 0x8b, 0x0c, 0xcb, 0xeb, 0x07, 0x48, 0x8b, 0x88,
    0x00, 0xf0, 0xff, 0xff, 0x48, 0x89, 0x60, 0x18, 0x4c, 0x8b, 0x58, 0x08, 0x48, 0x8d, 0x60, 0x10,
    0x48, 0x89, 0xc8, 0x9d, 0x48, 0x8b, 0x24, 0x24, 0x41, 0xff, 0xe3,
};

struct Ids {
  int64_t pid, ppid, pgid;
  uint32_t uid, euid, gid, egid;
};

// Writes `ids` into an answers page (512 words).
inline void publish(uint64_t* answers, const Ids& ids) {
  answers[39] = uint64_t(ids.pid);
  answers[110] = uint64_t(ids.ppid);
  answers[111] = uint64_t(ids.pgid);
  answers[102] = ids.uid;
  answers[107] = ids.euid;
  answers[104] = ids.gid;
  answers[108] = ids.egid;
}

}  // namespace linux_fast
