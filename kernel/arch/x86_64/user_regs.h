// arch/x86_64/user_regs.h — between an InterruptFrame (what entry code saved)
// and the ABI's UserRegs (what thread_read_state, thread_write_state and
// foreign syscalls exchange). abi/syscalls.toml documents UserRegs.
#pragma once

#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/usercopy.h>
#include <syscall_abi.h>

#include <cstdint>

namespace x86 {

// RFLAGS bits user code may set with POPF (Intel SDM Vol. 1 §3.4.3): CF PF
// AF ZF SF TF DF OF; bit 1 is always 1, IF always set for a user thread. RF
// (bit 16) is set on every written state: it makes the return path take
// IRETQ rather than SYSRET, so that rcx and r11 reach user mode as written
// (RF itself only suppresses instruction breakpoints for one instruction).
constexpr uint64_t kUserFlagsMask = 0x0cd5 | (1u << 8);
constexpr uint64_t kFlagIf = 1u << 9;
constexpr uint64_t kFlagRf = 1u << 16;

inline syscalls::UserRegs user_regs_of(const InterruptFrame& f, uint64_t fs_base) {
  syscalls::UserRegs r{};
  r.rax = f.rax; r.rbx = f.rbx; r.rcx = f.rcx; r.rdx = f.rdx;
  r.rsi = f.rsi; r.rdi = f.rdi; r.rbp = f.rbp; r.rsp = f.rsp;
  r.r8 = f.r8; r.r9 = f.r9; r.r10 = f.r10; r.r11 = f.r11;
  r.r12 = f.r12; r.r13 = f.r13; r.r14 = f.r14; r.r15 = f.r15;
  r.rip = f.rip; r.rflags = f.rflags & ~kFlagRf; r.fs_base = fs_base;
  return r;
}

// Whether `r` may be given to a user thread: rip and fs_base in the user
// half. (rsp may be anything: a bad one faults in user mode.)
inline bool user_regs_valid(const syscalls::UserRegs& r) { return r.rip < kUserTop && r.fs_base < kUserTop; }

// Writes `r` (already checked with user_regs_valid) into a user-mode frame.
inline void apply_user_regs(InterruptFrame& f, const syscalls::UserRegs& r) {
  f.rax = r.rax; f.rbx = r.rbx; f.rcx = r.rcx; f.rdx = r.rdx;
  f.rsi = r.rsi; f.rdi = r.rdi; f.rbp = r.rbp; f.rsp = r.rsp;
  f.r8 = r.r8; f.r9 = r.r9; f.r10 = r.r10; f.r11 = r.r11;
  f.r12 = r.r12; f.r13 = r.r13; f.r14 = r.r14; f.r15 = r.r15;
  f.rip = r.rip;
  f.rflags = (r.rflags & kUserFlagsMask) | 0x2 | kFlagIf | kFlagRf;
  f.cs = kUserCode;
  f.ss = kUserData;
}

}  // namespace x86
