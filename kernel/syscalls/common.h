// syscalls/common.h — helpers shared by the syscall handlers.
//
// Handlers decode and check everything (handles, rights, user pointers,
// sizes) before they change anything, then call an object method; errors
// become ABI codes only here, at the boundary (abi_error).
#pragma once

#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/usercopy.h>
#include <ktl/result.h>
#include <object/process.h>
#include <sched/scheduler.h>
#include <syscall_dispatch.h>

namespace syscalls {

inline object::Process& current_process() {
  return *static_cast<object::Process*>(sched::current()->process);
}

// The current thread's user registers, saved by syscall.S at the top of its
// kernel stack on entry and restored from there on the way out: a handler
// that writes them changes what user mode sees after the syscall.
inline x86::InterruptFrame& syscall_frame() {
  return *reinterpret_cast<x86::InterruptFrame*>(sched::current()->kstack.top - sizeof(x86::InterruptFrame));
}

// The ABI return value of a Result: 0 or the negative error code.
inline int64_t to_abi(const ktl::Result<void>& r) { return r.ok() ? 0 : abi_error(r.error()); }
inline int64_t to_abi(ktl::Error e) { return e == ktl::Error::None ? 0 : abi_error(e); }

// Looks up `h` in the caller's table as a T with `rights`.
template <typename T>
ktl::Result<ktl::RefPtr<T>> lookup(Handle h, Rights rights, uint64_t* badge = nullptr) {
  return current_process().handles().get<T>(h, rights, badge);
}

// Adds `obj` to the caller's table and writes the handle to user memory at
// `out`. If the write faults, the handle is closed again (no effect).
inline ktl::Result<void> give_handle(ktl::RefPtr<object::KernelObject> obj, Rights rights, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(Handle))) return ktl::Error::Fault;
  auto& table = current_process().handles();
  Handle h = TRY(table.add(static_cast<ktl::RefPtr<object::KernelObject>&&>(obj), rights));
  if (auto w = x86::write_user(out, h); !w.ok()) {
    (void)table.remove(h);
    return w.error();
  }
  return ktl::ok();
}

}  // namespace syscalls
