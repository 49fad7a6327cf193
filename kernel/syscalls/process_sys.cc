// process_sys.cc — processes and threads.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/interrupts.h>
#include <syscalls/common.h>

namespace syscalls {
namespace {
// Copies a name argument (at most kNameMax bytes; longer → InvalidArgument).
ktl::Result<size_t> copy_name(UserAddr name, size_t len, char (&buf)[kNameMax]) {
  if (len > kNameMax) return ktl::Error::InvalidArgument;
  TRY(x86::copy_from_user(buf, name, len));
  return len;
}
}  // namespace

int64_t sys_process_create(UserAddr name, size_t name_len, UserAddr out_process) {
  char buf[kNameMax];
  auto n = copy_name(name, name_len, buf);
  if (!n.ok()) return abi_error(n.error());
  auto p = object::Process::create(buf, *n, &current_process());
  if (!p.ok()) return abi_error(p.error());
  return to_abi(give_handle(p.release_value(), kProcessDefaultRights, out_process));
}

static_assert(object::Process::kDefaultQuotaBytes == kQuotaDefaultBytes);
static_assert(object::Process::kDefaultQuotaObjects == kQuotaDefaultObjects);

int64_t sys_process_set_limits(Handle process, uint64_t max_bytes, uint32_t max_objects) {
  auto p = lookup<object::Process>(process, kRightManage);
  if (!p.ok()) return abi_error(p.error());
  return to_abi((*p)->quota().lower_limits(max_bytes, max_objects));
}

int64_t sys_process_exit(int64_t code) {
  current_process().kill(code);
  sched::exit_current();
}

int64_t sys_process_kill(Handle process) {
  auto p = lookup<object::Process>(process, kRightManage);
  if (!p.ok()) return abi_error(p.error());
  (*p)->kill(object::kExitCodeKilled);
  return 0;
}

int64_t sys_process_wait(Handle process, Deadline deadline, UserAddr out_code) {
  auto p = lookup<object::Process>(process, kRightWait);
  if (!p.ok()) return abi_error(p.error());
  if (!x86::user_range_ok(out_code, sizeof(int64_t))) return abi_error(ktl::Error::Fault);
  ktl::Error e = (*p)->wait_exit(deadline);
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(x86::write_user(out_code, (*p)->exit_code()));
}

int64_t sys_thread_create(Handle process, UserAddr name, size_t name_len, UserAddr out_thread) {
  auto p = lookup<object::Process>(process, kRightManage);
  if (!p.ok()) return abi_error(p.error());
  char buf[kNameMax];
  auto n = copy_name(name, name_len, buf);
  if (!n.ok()) return abi_error(n.error());
  auto t = (*p)->create_thread(buf, *n, 0, 0, 0);
  if (!t.ok()) return abi_error(t.error());
  return to_abi(give_handle(t.release_value(), kThreadDefaultRights, out_thread));
}

int64_t sys_thread_start(Handle thread, UserAddr entry, UserAddr stack, uint64_t arg) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  if (entry >= x86::kUserTop || stack > x86::kUserTop) return abi_error(ktl::Error::InvalidArgument);
  auto* proc = static_cast<object::Process*>((*t)->process);
  return to_abi(proc->start_thread(t->get(), entry, stack, arg));
}

int64_t sys_thread_exit() { sched::exit_current(); }

int64_t sys_thread_kill(Handle thread) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if ((*t)->is_user && (*t)->state() == sched::ThreadState::New) {
    static_cast<object::Process*>((*t)->process)->discard_unstarted(t->get());
    return 0;
  }
  (*t)->kill_pending.store(true);
  sched::unpark(t->get(), ktl::Error::Interrupted);
  // A thread running user code on another CPU notices at its next kernel entry.
  x86::lapic_send_ipi_others(x86::IpiMode::Fixed, x86::kVectorReschedule);
  return 0;
}

// Suspension takes effect when the thread next returns to user mode (a
// thread blocked in a syscall finishes or times out that call first).
int64_t sys_thread_suspend(Handle thread) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  // (seq_cst: pairs with user_return_slow, see the `stopped` store there.)
  (*t)->suspended.fetch_or(sched::Thread::kSuspendRequested, std::memory_order_seq_cst);
  // Running user code on another CPU: make it enter the kernel now.
  x86::lapic_send_ipi_others(x86::IpiMode::Fixed, x86::kVectorReschedule);
  return 0;
}

int64_t sys_thread_resume(Handle thread) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  (*t)->suspended.store(0, std::memory_order_release);  // every reason: a foreign handler's suspension too
  sched::unpark(t->get());
  return 0;
}

int64_t sys_thread_sleep(Deadline deadline) {
  while (x86::monotonic_ns() < deadline) {
    if (sched::park(deadline) == ktl::Error::Interrupted || sched::current()->kill_pending.load())
      return abi_error(ktl::Error::Interrupted);
  }
  return 0;
}

int64_t sys_thread_set_priority(Handle thread, uint32_t priority) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (priority > kPriorityMax || priority > sched::current()->priority_ceiling)
    return abi_error(ktl::Error::InvalidArgument);
  if ((*t)->state() == sched::ThreadState::Dead) return abi_error(ktl::Error::BadState);
  sched::set_priority(t->get(), uint8_t(priority));
  return 0;
}

}  // namespace syscalls

namespace syscalls {

int64_t sys_handle_give(Handle process, Handle h, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(Handle))) return abi_error(ktl::Error::Fault);
  auto p = lookup<object::Process>(process, kRightManage);
  if (!p.ok()) return abi_error(p.error());
  auto& mine = current_process().handles();
  auto entry = mine.get_entry(h);
  if (!entry.ok()) return abi_error(entry.error());
  if (!object::rights_subset(kRightTransfer, entry->rights)) return abi_error(ktl::Error::AccessDenied);
  // Copy into `process`, then close `h`. Should `h` have been closed or
  // replaced by another thread in between, the copy is withdrawn: a handle
  // is never in two places unless someone holding `duplicate` made it so.
  Handle given = 0;
  if (auto a = (*p)->handles().add(entry->object, entry->rights, entry->badge); a.ok()) {
    given = *a;
  } else {
    return abi_error(a.error());
  }
  if (auto gone = mine.remove(h); !gone.ok()) {
    (void)(*p)->handles().remove(given);
    return abi_error(gone.error());
  }
  // A failed write leaves the handle in `process`: the range check above makes
  // that only an unmapped page.
  return to_abi(x86::write_user(out, given));
}

}  // namespace syscalls

namespace syscalls {

int64_t sys_thread_yield() {
  sched::yield();
  return 0;
}

}  // namespace syscalls

// ---- Foreign ABIs (docs/kernel.md): syscall handlers and thread state. ----
#include <arch/x86_64/user_regs.h>

namespace syscalls {
namespace {

x86::InterruptFrame& user_frame_of(sched::Thread* t) {
  return *reinterpret_cast<x86::InterruptFrame*>(t->kstack.top - sizeof(x86::InterruptFrame));
}

// Waits (yielding, at most 100 ms) until a suspended thread has parked in its
// return-to-user path, where its user frame is stable. BadState if it is not
// suspended, is exiting, or does not stop in time.
ktl::Error wait_stopped(sched::Thread* t) {
  const uint64_t give_up = x86::monotonic_ns() + 100'000'000;  // (generous: a loaded TCG host)
  for (;;) {
    if (t->state() == sched::ThreadState::Dead || t->kill_pending.load(std::memory_order_acquire) ||
        !t->suspended.load(std::memory_order_acquire))
      return ktl::Error::BadState;
    if (t->stopped.load(std::memory_order_seq_cst)) return ktl::Error::None;
    if (x86::monotonic_ns() >= give_up) return ktl::Error::BadState;
    sched::yield();
  }
}

ktl::Result<ktl::RefPtr<sched::Thread>> lookup_other_user_thread(Handle thread) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return t.error();
  if (!(*t)->is_user) return ktl::Error::WrongType;
  if (t->get() == sched::current()) return ktl::Error::BadState;
  return t;
}

}  // namespace

int64_t sys_thread_set_syscall_handler(Handle thread, Handle endpoint) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  uint64_t badge = 0;
  auto ep = lookup<ipc::Endpoint>(endpoint, kRightWrite, &badge);
  if (!ep.ok()) return abi_error(ep.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  auto* proc = static_cast<object::Process*>((*t)->process);
  ktl::RefPtr<ipc::Endpoint> handler = ep.release_value();
  return to_abi(proc->with_unstarted(t->get(), [&](sched::Thread* th) -> ktl::Result<void> {
    if (th->syscall_handler) return ktl::Error::BadState;
    th->syscall_handler = static_cast<ktl::RefPtr<ipc::Endpoint>&&>(handler);
    th->syscall_handler_badge = badge;
    return ktl::ok();
  }));
}

int64_t sys_thread_set_foreign_fast(Handle thread, UserAddr config) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  ForeignFast f{};
  if (auto c = x86::copy_from_user(&f, config, sizeof f); !c.ok()) return abi_error(c.error());
  sched::Thread* th = t->get();
  // (syscall_handler is set before the thread starts, then never changes.)
  if (!th->syscall_handler || th->state() == sched::ThreadState::Dead) return abi_error(ktl::Error::BadState);
  uint64_t any = 0;
  for (uint64_t w : f.mask) any |= w;
  if (any && (f.handler >= x86::kUserTop || (f.save & 7) || !x86::user_range_ok(f.save, 3 * 8)))
    return abi_error(ktl::Error::InvalidArgument);
  // Turning on: the addresses first, then the mask; off: the mask first.
  if (any) {
    th->fast_handler.store(f.handler, std::memory_order_relaxed);
    th->fast_save.store(f.save, std::memory_order_relaxed);
  }
  for (uint32_t i = 0; i < kForeignFastMaskWords; ++i) th->fast_mask[i].store(f.mask[i], std::memory_order_release);
  return 0;
}

int64_t sys_thread_read_state(Handle thread, UserAddr out_regs) {
  auto t = lookup_other_user_thread(thread);
  if (!t.ok()) return abi_error(t.error());
  if (!x86::user_range_ok(out_regs, sizeof(UserRegs))) return abi_error(ktl::Error::Fault);
  sched::Thread* th = t->get();
  UserRegs regs{};
  auto* proc = static_cast<object::Process*>(th->process);
  auto unstarted = proc->with_unstarted(th, [&](sched::Thread* u) -> ktl::Result<void> {
    if (u->initial_regs_set) {
      regs = u->initial_regs;
    } else {
      regs.rip = u->user_entry;
      regs.rsp = u->user_stack;
      regs.rdi = u->user_arg;
      regs.rflags = 0x202;
    }
    return ktl::ok();
  });
  if (!unstarted.ok()) {
    if (ktl::Error e = wait_stopped(th); e != ktl::Error::None) return abi_error(e);
    regs = x86::user_regs_of(user_frame_of(th), th->fs_base);
  }
  return to_abi(x86::write_user(out_regs, regs));
}

int64_t sys_thread_write_state(Handle thread, UserAddr regs_addr) {
  auto t = lookup_other_user_thread(thread);
  if (!t.ok()) return abi_error(t.error());
  UserRegs regs{};
  if (auto c = x86::copy_from_user(&regs, regs_addr, sizeof regs); !c.ok()) return abi_error(c.error());
  if (!x86::user_regs_valid(regs)) return abi_error(ktl::Error::InvalidArgument);
  sched::Thread* th = t->get();
  auto* proc = static_cast<object::Process*>(th->process);
  auto unstarted = proc->with_unstarted(th, [&](sched::Thread* u) -> ktl::Result<void> {
    u->initial_regs = regs;
    u->initial_regs_set = true;
    return ktl::ok();
  });
  if (unstarted.ok()) return 0;
  if (ktl::Error e = wait_stopped(th); e != ktl::Error::None) return abi_error(e);
  // Stopped: the thread reads its frame and fs_base only after it leaves the
  // park loop, which it does only once resumed (or killed).
  x86::apply_user_regs(user_frame_of(th), regs);
  th->fs_base = regs.fs_base;  // loaded into the MSR when it next runs (switch_user_state)
  return 0;
}

}  // namespace syscalls
