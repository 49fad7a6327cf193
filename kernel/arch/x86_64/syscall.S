// syscall.S — the SYSCALL entry and the return-to-user paths (Intel SDM Vol. 2B SYSCALL/SYSRET).
//
// SYSCALL leaves RIP in RCX and RFLAGS in R11, masks RFLAGS with FMASK (IF,
// DF, TF, AC cleared) and does not switch stacks. The entry swaps to the
// kernel GS (per-CPU data), saves the user RSP in PerCpu.syscall_scratch,
// switches to the thread's kernel stack (PerCpu.kernel_stack_top) and builds
// an InterruptFrame exactly like isr.S (vector = kSyscallVector), so that the
// handler, signal delivery and the exit path see one frame shape.
//
// Return: SYSRET when the saved context allows it (canonical RIP, user CS/SS,
// RF and TF clear); otherwise IRETQ. SYSRET with a non-canonical RCX would
// fault in ring 0 on Intel CPUs, on the user's stack — never allow it.
#define PERCPU_SCRATCH 8
#define PERCPU_KSTACK 16
#define PERCPU_WORK 32               // &current->kill_pending (suspended follows)
#define PERCPU_RESCHED 40
#define USER_DS (0x20 | 3)
#define USER_CS (0x28 | 3)
#define SYSCALL_VECTOR 0x100
#define FRAME_RAX (14 * 8)          // InterruptFrame.rax

#include "frame.inc"

// Leaves through SYSRET or IRETQ; the frame is at %rsp, interrupts are off,
// user_return_work has run (or found nothing to do).
// SYSRET is allowed if RIP is canonical (bits 63..47 equal), CS/SS are the
// default user selectors and RFLAGS has neither RF (16) nor TF (8) set.
.macro RESTORE_AND_RETURN
  movq 17*8(%rsp), %rcx          // rip
  movq %rcx, %r11
  sarq $47, %r11
  jnz 91f                        // (0 and -1 both leave ZF: -1 is a kernel RIP)
  cmpq $USER_CS, 18*8(%rsp)
  jne 91f
  cmpq $USER_DS, 21*8(%rsp)
  jne 91f
  testq $((1 << 16) | (1 << 8)), 19*8(%rsp)
  jnz 91f
  POP_GPRS                       // (rcx and r11 are replaced by rip and rflags below)
  movq 2*8(%rsp), %rcx           // rip (after vector and error code)
  movq 4*8(%rsp), %r11           // rflags
  movq 5*8(%rsp), %rsp           // user rsp: from here nothing may touch the stack
  swapgs
  sysretq
91:
  POP_GPRS
  addq $16, %rsp
  swapgs
  iretq
.endm

// The common case of user_return_work in three instructions: no kill, no
// suspension (two adjacent bytes of the current thread), no reschedule due.
// Jumps to `slow` if there is work.
.macro CHECK_USER_WORK slow
  movq %gs:PERCPU_WORK, %rax
  cmpw $0, (%rax)
  jne \slow
  cmpb $0, %gs:PERCPU_RESCHED
  jne \slow
.endm

// The SYSCALL entries' first steps: the kernel GS, the thread's kernel stack
// and an InterruptFrame like isr.S's (vector = kSyscallVector).
.macro SYSCALL_SAVE_FRAME
  swapgs
  movq %rsp, %gs:PERCPU_SCRATCH
  movq %gs:PERCPU_KSTACK, %rsp
  pushq $USER_DS                 // ss
  pushq %gs:PERCPU_SCRATCH       // rsp
  pushq %r11                     // rflags
  pushq $USER_CS                 // cs
  pushq %rcx                     // rip
  pushq $0                       // error code
  pushq $SYSCALL_VECTOR          // vector
  PUSH_GPRS
.endm

.text
.global syscall_entry
syscall_entry:
  SYSCALL_SAVE_FRAME
  xorl %ebp, %ebp                // backtraces stop at the user boundary
  sti
  // The arguments are still in their registers: rdi, rsi, rdx, r10 (→ rcx,
  // the C convention's fourth), r8, r9; the number (rax) goes on the stack as
  // the seventh, over a pad that keeps the call 16-byte aligned.
  movq %r10, %rcx
  subq $8, %rsp
  pushq %rax
  call syscall_entry_dispatch    // (a0, a1, a2, a3, a4, a5, number) → rax
  addq $16, %rsp
  cli
  movq %rax, FRAME_RAX(%rsp)
  CHECK_USER_WORK 1f
  RESTORE_AND_RETURN
1:
  movq %rsp, %rdi
  call user_return_work          // kill/suspend checks; may switch threads
  RESTORE_AND_RETURN

// The entry of foreign-ABI threads (thread_set_syscall_handler): LSTAR points
// here while one runs. Same frame as syscall_entry; the whole frame goes to
// foreign_syscall_entry, which calls the thread's handler and applies its
// reply to the frame (rax, or every register).
.global syscall_entry_foreign
syscall_entry_foreign:
  SYSCALL_SAVE_FRAME
  xorl %ebp, %ebp
  sti
  movq %rsp, %rdi
  call foreign_syscall_entry     // (frame)
  cli
  CHECK_USER_WORK 1f
  RESTORE_AND_RETURN
1:
  movq %rsp, %rdi
  call user_return_work
  RESTORE_AND_RETURN

// return_to_user(InterruptFrame* frame) with interrupts off: restores the
// frame (which must be at the current stack pointer) and returns to CPL 3.
.global return_to_user
return_to_user:
  movq %rdi, %rsp
  call user_return_work
  RESTORE_AND_RETURN

// context_switch_to_user(uint64_t* save_sp, InterruptFrame* frame), with
// interrupts off: the IPC direct switch (sched::switch_to_claimed with
// to_user). Saves the current thread exactly like context_switch (it resumes
// from there as usual), then continues as the thread whose syscall frame is
// `frame` — parked in an IPC fast path whose kernel continuation would only
// have put the message in that frame, which the switching thread has done —
// by returning to user mode from that frame: its abandoned kernel stack holds
// nothing (ipc::ThreadIpc::direct). sched_direct_resume_finish does what the
// continuation would have: sched_finish_switch and dropping the endpoint
// reference the wait kept.
.global context_switch_to_user
context_switch_to_user:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp                // the frame is 16-byte aligned, as at syscall_entry's call
  xorl %ebp, %ebp
  call sched_direct_resume_finish
  CHECK_USER_WORK 2f
  RESTORE_AND_RETURN
2:
  movq %rsp, %rdi
  call user_return_work
  RESTORE_AND_RETURN
