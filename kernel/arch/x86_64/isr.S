// isr.S — one 16-byte stub per vector and the common entry/exit path.
//
// Each stub pushes a zero where the CPU pushes no error code (so every frame
// has the same shape, see InterruptFrame), then the vector number, and jumps
// to one of two entry paths that save the general registers and call
// interrupt_dispatch(frame). They differ only in how they pick the GS base:
//
// isr_common (every vector but the IST ones) swaps GS when the interrupt came
// from user mode (CPL 3 in the saved CS). That is right for them: they are
// masked (IF = 0) or cannot occur in the few kernel instructions that run with
// the user GS base live: syscall.S between SYSCALL and its SWAPGS, and between
// the exit's SWAPGS and SYSRETQ/IRETQ, and this file around its own SWAPGS.
//
// isr_paranoid (NMI, #DF, #MC: the vectors with IST stacks) can arrive at any
// instruction, those included, where CS is the kernel's but GS is the user's.
// It decides by the GS base itself (Intel SDM Vol. 3A §6.14; Linux's
// paranoid_entry): the kernel's GS base is this CPU's PerCpu, a kernel-half
// address with bit 63 set; a user GS base is always user-half (percpu.h:
// only the kernel writes it, and CR4.FSGSBASE is off). Bit 63 clear → SWAPGS.
// The decision is kept in rbx (callee-saved, so it survives the call) and the
// exit swaps back exactly when the entry swapped. The entries nest correctly:
// an #MC inside the NMI path, or an NMI inside the #MC path, reads the GS base
// as the outer entry left it and undoes only its own swap.

// Vectors with a CPU-pushed error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX.
#define HAS_ERROR_CODE(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
                           (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)
// The vectors on IST stacks (gdt.cc): NMI, #DF, #MC.
#define IS_PARANOID(v) ((v) == 2 || (v) == 8 || (v) == 18)
#define MSR_GS_BASE 0xc0000101

#include "frame.inc"

.text
.balign 16
.global isr_stubs
isr_stubs:
.set vec, 0
.rept 256
  .balign 16
  .if !HAS_ERROR_CODE(vec)
    pushq $0
  .endif
  pushq $vec
  .if IS_PARANOID(vec)
    jmp isr_paranoid
  .else
    jmp isr_common
  .endif
  .set vec, vec + 1
.endr

isr_common:
  testb $3, 24(%rsp)          // saved CS (after vector and error code)
  jz 1f
  swapgs
1:
  PUSH_GPRS
  cld
  movq %rsp, %rdi
  call interrupt_dispatch
  POP_GPRS
  testb $3, 24(%rsp)
  jz 2f
  swapgs
2:
  addq $16, %rsp              // vector and error code
  iretq

isr_paranoid:
  PUSH_GPRS                   // first: rdmsr clobbers rax, rcx, rdx
  cld
  movl $MSR_GS_BASE, %ecx
  rdmsr                       // edx = bits 63..32 of the GS base
  xorl %ebx, %ebx
  testl %edx, %edx
  js 1f                       // bit 63 set: the kernel's GS base is live
  swapgs
  movl $1, %ebx               // swapped: swap back on the way out
1:
  movq %rsp, %rdi
  call interrupt_dispatch
  testl %ebx, %ebx
  jz 2f
  swapgs
2:
  POP_GPRS
  addq $16, %rsp              // vector and error code
  iretq
