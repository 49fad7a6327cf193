// start.S — entry point of every native Keel program.
//
// The kernel (or the parent) starts the first thread at _start with RSP at the
// top of a mapped stack and RDI = the start argument (for the root task: the
// address of its StartInfo page). The stack pointer is 16-byte aligned.
.section .text.start, "ax"
.global _start
_start:
  xorl %ebp, %ebp
  andq $-16, %rsp
  call keel_start          // keel_start(arg): constructors, main, exit
  ud2

// keel_thread_entry — first code of threads made by keel::start_thread: RSP
// points at {fn, arg}; keep them, align the stack, call keel_thread_main.
.text
.global keel_thread_entry
keel_thread_entry:
  xorl %ebp, %ebp
  movq %rsp, %rdi
  subq $16, %rsp
  andq $-16, %rsp
  call keel_thread_main
  ud2
