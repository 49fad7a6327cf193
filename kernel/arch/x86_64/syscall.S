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
#define USER_DS (0x20 | 3)
#define USER_CS (0x28 | 3)
#define SYSCALL_VECTOR 0x100

#include "frame.inc"

.text
.global syscall_entry
syscall_entry:
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
  xorl %ebp, %ebp                // backtraces stop at the user boundary
  movq %rsp, %rdi
  sti
  call syscall_handler           // syscall_handler(InterruptFrame*)
  cli
  movq %rsp, %rdi
  jmp return_to_user

// return_to_user(InterruptFrame* frame) with interrupts off: restores the
// frame (which must be at the current stack pointer) and returns to CPL 3.
.global return_to_user
return_to_user:
  movq %rdi, %rsp
  call user_return_work          // signals, kill/suspend checks; may switch threads
  // SYSRET is allowed if RIP is canonical (bits 63..47 equal), CS/SS are the
  // default user selectors and RFLAGS has neither RF (16) nor TF (8) set.
  movq 17*8(%rsp), %rcx          // rip
  movq %rcx, %r11
  sarq $47, %r11
  cmpq $0, %r11
  jne 1f
  cmpq $USER_CS, 18*8(%rsp)
  jne 1f
  cmpq $USER_DS, 21*8(%rsp)
  jne 1f
  testq $((1 << 16) | (1 << 8)), 19*8(%rsp)
  jnz 1f
  POP_GPRS                       // (rcx and r11 are replaced by rip and rflags below)
  movq 2*8(%rsp), %rcx           // rip (after vector and error code)
  movq 4*8(%rsp), %r11           // rflags
  movq 5*8(%rsp), %rsp           // user rsp: from here nothing may touch the stack
  swapgs
  sysretq
1:
  POP_GPRS
  addq $16, %rsp
  swapgs
  iretq
