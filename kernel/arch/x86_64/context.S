// context.S — kernel context switch between threads (System V callee-saved registers).
//
// context_switch(uint64_t* save_sp, uint64_t load_sp): pushes the callee-saved
// registers on the current stack, stores the stack pointer in *save_sp,
// switches to load_sp, pops that thread's registers and returns into it.
// A new thread's stack is prepared (thread.cc) so that this `ret` lands in
// thread_start with the entry point in r12 and its argument in r13.
.text
.global context_switch
context_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret

// First code of every new kernel thread: finish the switch (release the
// scheduler lock taken by the CPU that switched to us), then call entry(arg);
// if entry returns, the thread exits.
.global thread_start
thread_start:
  call sched_finish_switch
  sti
  movq %r13, %rdi
  callq *%r12
  call thread_exit_current
  ud2
