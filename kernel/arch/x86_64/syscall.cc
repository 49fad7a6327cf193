// syscall.cc — SYSCALL MSR set-up, the C++ side of syscall entry, and the
// work done on every return to user mode.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/syscall.h>
#include <arch/x86_64/user_regs.h>
#include <arch/x86_64/usercopy.h>
#include <lib/klog.h>
#include <object/process.h>
#include <sched/scheduler.h>
#include <syscall_dispatch.h>

namespace x86 {

void syscall_init_cpu() {
  wrmsr(kMsrEfer, rdmsr(kMsrEfer) | 1);  // EFER.SCE
  // STAR[47:32]: kernel CS (SS = +8). STAR[63:48]: base for SYSRET, which
  // loads CS = base + 16 and SS = base + 8 (both with RPL 3): user code32 (0x18).
  wrmsr(kMsrStar, (uint64_t(kUserCode32) << 48) | (uint64_t(kKernelCode) << 32));
  wrmsr(kMsrLstar, reinterpret_cast<uint64_t>(&syscall_entry));
  // Cleared on entry: TF (8), IF (9), DF (10), NT (14), AC (18).
  wrmsr(kMsrFmask, (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 18));
}

}  // namespace x86

// Called by syscall_entry with the argument registers as they were (the
// number last, on the stack): the generated dispatch checks and decodes them.
extern "C" int64_t syscall_entry_dispatch(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                          uint64_t a5, uint64_t number) {
  return syscalls::syscall_dispatch(number, a0, a1, a2, a3, a4, a5);
}

// ---- Foreign ABIs (docs/kernel.md) ----
//
// A thread with a syscall handler enters here (LSTAR = syscall_entry_foreign
// while it runs, see sched::switch_user_state) with its user registers saved
// in `frame`. It makes a kernel-built call to the handler with them and
// applies the reply; on any failure its process dies. While the call is out
// the thread counts as suspended (kSuspendForeign), so that the handler may
// read and write its state, and a "suspend" reply leaves it that way.
extern "C" void foreign_syscall_entry(x86::InterruptFrame* frame) {
  auto* t = sched::current();
  // The in-process fast path (thread_set_foreign_fast): a masked number
  // returns to the thread's own handler, which finds its answer in the
  // thread's address space; rax, rip and rflags go to the save area (its
  // range was checked; a fault there sends the call to the handler endpoint).
  if (const uint64_t nr = frame->rax; nr < 64 * syscalls::kForeignFastMaskWords &&
                                      (t->fast_mask[nr >> 6].load(std::memory_order_relaxed) >> (nr & 63)) & 1) {
    const uint64_t save = t->fast_save.load(std::memory_order_relaxed);
    const uint64_t words[3] = {nr, frame->rip, frame->rflags};
    if (user_copy_raw(reinterpret_cast<void*>(save), words, sizeof words) == 0) {
      ++t->foreign_syscalls;
      ++t->foreign_fast;
      frame->rax = save;
      frame->rip = t->fast_handler.load(std::memory_order_relaxed);
      return;
    }
  }
  auto* proc = static_cast<object::Process*>(t->process);
  ipc::ThreadIpc& me = t->ipc;
  ++t->foreign_syscalls;
  const syscalls::UserRegs regs = x86::user_regs_of(*frame, t->fs_base);
  static_assert(sizeof regs == syscalls::kUserRegsWords * 8);
  me.msg.tag = (uint64_t(syscalls::kForeignSyscallLabel) << 32) | (uint64_t(syscalls::kUserRegsWords) << 24);
  __builtin_memcpy(me.msg.words, &regs, sizeof regs);
  me.handle_count = 0;
  t->suspended.fetch_or(sched::Thread::kSuspendForeign, std::memory_order_acq_rel);
  // The handler thread usually waits in reply-and-receive: the fast path
  // hands it the registers and the CPU (else the general send queues them).
  ktl::Error e;
  if (!t->syscall_handler->fast_call(t->syscall_handler_badge, &e))
    e = t->syscall_handler->send(t->syscall_handler_badge, /*is_call=*/true, UINT64_MAX);
  if (me.handle_count) object::HandleTable::discard_transferred({me.handles, me.handle_count});
  me.handle_count = 0;
  if (t->kill_pending.load(std::memory_order_acquire)) return;  // exits on the way out
  const uint64_t tag = me.msg.tag;
  const uint32_t label = uint32_t(tag >> 32), words = (tag >> 24) & 0xff, handles = (tag >> 16) & 0xff;
  bool ok = e == ktl::Error::None && handles == 0;
  if (ok && label == syscalls::kForeignReplyResume && words == 1) {
    frame->rax = me.msg.words[0];
  } else if (ok && label == syscalls::kForeignReplyResume && words == syscalls::kUserRegsWords) {
    syscalls::UserRegs next;
    __builtin_memcpy(&next, me.msg.words, sizeof next);
    ok = x86::user_regs_valid(next);
    if (ok) {
      x86::apply_user_regs(*frame, next);
      t->fs_base = next.fs_base;
      x86::PerCpu* cpu = x86::this_cpu();  // (interrupts on: a switch reloads it anyway)
      x86::wrmsr(x86::kMsrFsBase, next.fs_base);
      cpu->loaded_fs_base = next.fs_base;
    }
  } else if (ok && label == syscalls::kForeignReplySuspend && words == 0) {
    return;  // stays suspended: parks in user_return_work until thread_resume
  } else {
    ok = false;
  }
  if (!ok) {
    klog::warn("foreign syscall {} of thread '{}' in process '{}': {}; killing the process", regs.rax, t->name(),
               proc->name(), e != ktl::Error::None ? ktl::error_name(e) : "malformed reply");
    proc->kill(object::kExitCodeKilled);
    t->kill_pending.store(true);
    return;
  }
  t->suspended.fetch_and(uint8_t(~sched::Thread::kSuspendForeign), std::memory_order_acq_rel);
}

namespace {

[[gnu::noinline]] void user_return_slow(sched::Thread* t) {
  // Until there is nothing left to do: a reschedule may let another thread
  // suspend or kill this one, which must then take effect before user mode.
  bool preempted = false;
  for (;;) {
    if (t->kill_pending.load(std::memory_order_acquire)) sched::exit_current();
    // A suspended thread stays in the kernel, parked, until resumed or
    // killed. Meanwhile it is `stopped`: thread_read_state and
    // thread_write_state may use its user frame and fs_base, so the FS base
    // is reloaded on the way out.
    if (t->suspended.load(std::memory_order_seq_cst)) {
      t->stopped.store(true, std::memory_order_release);
      while (t->suspended.load(std::memory_order_acquire) && !t->kill_pending.load(std::memory_order_acquire)) {
        x86::sti();
        (void)sched::park(UINT64_MAX);
        x86::cli();
      }
      // Sequentially consistent, with the load of `suspended` at the top of
      // the loop: a thread_suspend that comes now (a fetch_or, then a load
      // of `stopped` in wait_stopped) either sees `stopped` false or is seen
      // here, never neither (a release store could still sit in the store
      // buffer while the load passed it, letting thread_write_state change
      // the frame of a thread on its way to user mode).
      t->stopped.store(false, std::memory_order_seq_cst);
      x86::PerCpu* cpu = x86::this_cpu();
      if (cpu->loaded_fs_base != t->fs_base) {
        x86::wrmsr(x86::kMsrFsBase, t->fs_base);
        cpu->loaded_fs_base = t->fs_base;
      }
      continue;
    }
    if (preempted || !x86::this_cpu()->need_resched.load(std::memory_order_relaxed)) return;
    sched::preempt_if_needed();
    preempted = true;  // once: then only the kill and suspend checks again
  }
}

}  // namespace

// Runs with interrupts off just before any return to user mode (syscalls and
// interrupts or exceptions taken in user mode): a thread being killed exits
// here, a suspended one stops here, and a pending reschedule happens here.
// The common case — none of these — is three loads and a return.
extern "C" void user_return_work(x86::InterruptFrame*) {
  x86::PerCpu* cpu = x86::this_cpu();
  auto* t = static_cast<sched::Thread*>(cpu->current_thread);
  if (!t->kill_pending.load(std::memory_order_relaxed) && !t->suspended.load(std::memory_order_relaxed) &&
      !cpu->need_resched.load(std::memory_order_relaxed)) [[likely]]
    return;
  user_return_slow(t);
}
