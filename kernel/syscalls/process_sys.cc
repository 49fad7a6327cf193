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
  (*t)->suspended.store(true, std::memory_order_release);
  // Running user code on another CPU: make it enter the kernel now.
  x86::lapic_send_ipi_others(x86::IpiMode::Fixed, x86::kVectorReschedule);
  return 0;
}

int64_t sys_thread_resume(Handle thread) {
  auto t = lookup<sched::Thread>(thread, kRightManage);
  if (!t.ok()) return abi_error(t.error());
  if (!(*t)->is_user) return abi_error(ktl::Error::WrongType);
  (*t)->suspended.store(false, std::memory_order_release);
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
