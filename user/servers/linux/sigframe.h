// linux/sigframe.h — the Linux x86-64 signal frame (arch/x86/include/uapi/asm/sigcontext.h,
// ucontext.h, siginfo.h; the layout musl's and glibc's ucontext_t and siginfo_t read), built
// and read back without syscalls so the host tests it (sigframe_test.cc). `Regs` is any type
// with the fields of keel::UserRegs (rax..r15, rip, rflags, fs_base).
//
// The frame, from its lowest address (the handler's rsp):
//   +0    pretcode: the return address, sa_restorer (musl sets SA_RESTORER always)
//   +8    ucontext: uc_flags, uc_link, uc_stack (24), uc_mcontext (256: 23 gregs in Linux's
//         sigcontext order, fpstate pointer, 8 reserved), uc_sigmask (8) = 304 bytes
//   +312  siginfo (128 bytes)
// fpstate is 0: no FPU/SSE state is saved (the handler runs on the same Keel thread and
// whatever FPU registers it changes stay changed; code interrupted at a syscall or a call
// boundary does not care, code interrupted asynchronously in the middle of floating-point
// work would).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace linux_sigframe {

inline constexpr int kMaxSig = 64;  // signals 1..64
inline constexpr uint64_t bit(int sig) { return 1ull << (sig - 1); }
inline constexpr uint64_t kUnblockable = bit(9) | bit(19);  // SIGKILL, SIGSTOP

// sigaction flags (asm/signal.h)
inline constexpr uint64_t kSaSiginfo = 4, kSaOnstack = 0x08000000, kSaRestart = 0x10000000,
                          kSaNodefer = 0x40000000, kSaResethand = 0x80000000, kSaRestorer = 0x04000000;
// sigaltstack
inline constexpr int32_t kSsOnstack = 1, kSsDisable = 2;
inline constexpr uint64_t kMinSigStackSize = 2048;  // MINSIGSTKSZ
// si_code values
inline constexpr int32_t kSiUser = 0, kSiKernel = 0x80, kSiQueue = -1, kSiTimer = -2, kSiTkill = -6;
inline constexpr int32_t kCldExited = 1, kCldKilled = 2, kCldDumped = 3, kCldStopped = 5, kCldContinued = 6;
inline constexpr int32_t kSegvMaperr = 1, kSegvAccerr = 2;

// siginfo_t: 128 bytes; the union starts at 16 (si_pid/si_addr), si_uid at 20,
// si_value/si_status at 24.
struct Siginfo {
  int32_t signo = 0, err = 0, code = 0, pad = 0;
  uint8_t u[112] = {};
  void set32(size_t off, int32_t v) { memcpy(u + off - 16, &v, 4); }
  void set64(size_t off, uint64_t v) { memcpy(u + off - 16, &v, 8); }
  int32_t get32(size_t off) const {
    int32_t v;
    memcpy(&v, u + off - 16, 4);
    return v;
  }
};
static_assert(sizeof(Siginfo) == 128);

// gregs indices (sys/ucontext.h REG_*)
enum Greg : int {
  R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL, CSGSFS, ERR,
  TRAPNO, OLDMASK, CR2, kGregs
};

struct Ucontext {
  uint64_t flags = 0, link = 0;
  uint64_t ss_sp = 0;
  int32_t ss_flags = 0, ss_pad = 0;
  uint64_t ss_size = 0;
  uint64_t gregs[kGregs] = {};
  uint64_t fpstate = 0;
  uint64_t reserved[8] = {};
  uint64_t sigmask = 0;
};
static_assert(sizeof(Ucontext) == 304);
static_assert(offsetof(Ucontext, gregs) == 40 && offsetof(Ucontext, sigmask) == 296);

struct Frame {
  uint64_t pretcode = 0;
  Ucontext uc;
  Siginfo info;
};
static_assert(sizeof(Frame) == 440 && offsetof(Frame, info) == 312);

inline constexpr uint64_t kRedZone = 128;

// Where the frame goes: below the red zone of `rsp`, or at the top of the
// alternate stack [alt_sp, alt_sp + alt_size) when `use_alt`; aligned so
// that rsp + 8 is a multiple of 16 at the handler's entry (as after a call).
inline uint64_t frame_address(uint64_t rsp, bool use_alt, uint64_t alt_sp, uint64_t alt_size) {
  uint64_t top = use_alt ? alt_sp + alt_size : rsp - kRedZone;
  return ((top - sizeof(Frame)) & ~uint64_t(15)) - 8;
}

inline bool on_stack(uint64_t rsp, uint64_t alt_sp, uint64_t alt_size) {
  return alt_size != 0 && rsp - alt_sp < alt_size;
}

// Fills `f` for delivering `info` with the registers `r` (as the
// interrupted code will see them again) and the mask to restore `old_mask`.
template <typename Regs>
void build(Frame* f, const Regs& r, const Siginfo& info, uint64_t restorer, uint64_t old_mask, uint64_t alt_sp,
           int32_t alt_flags, uint64_t alt_size, uint64_t trapno = 0, uint64_t cr2 = 0) {
  *f = Frame{};
  f->pretcode = restorer;
  f->uc.ss_sp = alt_sp;
  f->uc.ss_flags = alt_flags;
  f->uc.ss_size = alt_size;
  uint64_t* g = f->uc.gregs;
  g[R8] = r.r8, g[R9] = r.r9, g[R10] = r.r10, g[R11] = r.r11, g[R12] = r.r12, g[R13] = r.r13;
  g[R14] = r.r14, g[R15] = r.r15, g[RDI] = r.rdi, g[RSI] = r.rsi, g[RBP] = r.rbp, g[RBX] = r.rbx;
  g[RDX] = r.rdx, g[RAX] = r.rax, g[RCX] = r.rcx, g[RSP] = r.rsp, g[RIP] = r.rip, g[EFL] = r.rflags;
  g[CSGSFS] = 0x33;  // cs = Linux's __USER_CS (gs, fs 0)
  g[TRAPNO] = trapno;
  g[CR2] = cr2;
  f->uc.sigmask = old_mask;
  f->info = info;
}

// Registers at the handler's entry: frame at `at`, handler `handler`.
template <typename Regs>
void enter(Regs& r, uint64_t at, uint64_t handler, int sig) {
  r.rsp = at;
  r.rip = handler;
  r.rdi = uint64_t(sig);
  r.rsi = at + offsetof(Frame, info);
  r.rdx = at + offsetof(Frame, uc);
  r.rax = 0;
  r.rflags &= ~uint64_t(0x400 | 0x100);  // DF and TF clear, as the ABI wants at a call
}

// rt_sigreturn: the registers and mask saved in `uc` (rsp at the syscall is
// the frame's address + 8). False if they cannot be returned to (a rip or
// rsp outside the user half `user_top`).
template <typename Regs>
bool restore(const Ucontext& uc, Regs& r, uint64_t* mask, uint64_t user_top) {
  const uint64_t* g = uc.gregs;
  if (g[RIP] >= user_top || g[RSP] >= user_top) return false;
  r.r8 = g[R8], r.r9 = g[R9], r.r10 = g[R10], r.r11 = g[R11], r.r12 = g[R12], r.r13 = g[R13];
  r.r14 = g[R14], r.r15 = g[R15], r.rdi = g[RDI], r.rsi = g[RSI], r.rbp = g[RBP], r.rbx = g[RBX];
  r.rdx = g[RDX], r.rax = g[RAX], r.rcx = g[RCX], r.rsp = g[RSP], r.rip = g[RIP];
  r.rflags = (r.rflags & ~uint64_t(0xdd5)) | (g[EFL] & 0xdd5);  // CF PF AF ZF SF TF DF OF
  *mask = uc.sigmask & ~kUnblockable;
  return true;
}

// The mask while a handler runs: the old one, sa_mask, and the signal
// itself unless SA_NODEFER.
inline uint64_t handler_mask(uint64_t old_mask, uint64_t sa_mask, uint64_t sa_flags, int sig) {
  uint64_t m = old_mask | sa_mask;
  if (!(sa_flags & kSaNodefer)) m |= bit(sig);
  return m & ~kUnblockable;
}

}  // namespace linux_sigframe
