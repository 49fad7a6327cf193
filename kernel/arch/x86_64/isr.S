// isr.S — one 16-byte stub per vector and the common entry/exit path.
//
// Each stub pushes a zero where the CPU pushes no error code (so every frame
// has the same shape, see InterruptFrame), then the vector number. The common
// path swaps GS when the interrupt came from user mode (CPL 3 in the saved CS),
// saves the general registers and calls interrupt_dispatch(frame).

// Vectors with a CPU-pushed error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX.
#define HAS_ERROR_CODE(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
                           (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

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
  jmp isr_common
  .set vec, vec + 1
.endr

isr_common:
  testb $3, 24(%rsp)          // saved CS (after vector and error code)
  jz 1f
  swapgs
1:
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  cld
  movq %rsp, %rdi
  call interrupt_dispatch
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
  testb $3, 24(%rsp)
  jz 2f
  swapgs
2:
  addq $16, %rsp              // vector and error code
  iretq
