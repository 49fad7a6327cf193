// isr.S — one 16-byte stub per vector and the common entry/exit path.
//
// Each stub pushes a zero where the CPU pushes no error code (so every frame
// has the same shape, see InterruptFrame), then the vector number. The common
// path swaps GS when the interrupt came from user mode (CPL 3 in the saved CS),
// saves the general registers and calls interrupt_dispatch(frame).

// Vectors with a CPU-pushed error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX.
#define HAS_ERROR_CODE(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
                           (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

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
  jmp isr_common
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
