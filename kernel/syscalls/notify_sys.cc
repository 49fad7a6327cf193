// notify_sys.cc — notifications, and the syscalls not implemented yet.
#include <object/notification.h>
#include <syscalls/common.h>

namespace syscalls {

int64_t sys_notification_create(UserAddr out) {
  auto n = object::Notification::create(&current_process().quota());
  if (!n.ok()) return abi_error(n.error());
  return to_abi(give_handle(n.release_value(), kNotificationDefaultRights, out));
}

int64_t sys_notification_signal(Handle h, uint64_t bits) {
  auto n = lookup<object::Notification>(h, kRightSignal);
  if (!n.ok()) return abi_error(n.error());
  if (bits == 0) return abi_error(ktl::Error::InvalidArgument);
  (*n)->signal(bits);
  return 0;
}

int64_t sys_notification_wait(Handle h, Deadline deadline, UserAddr out_bits) {
  auto n = lookup<object::Notification>(h, kRightWait);
  if (!n.ok()) return abi_error(n.error());
  if (!x86::user_range_ok(out_bits, sizeof(uint64_t))) return abi_error(ktl::Error::Fault);
  uint64_t bits = 0;
  ktl::Error e = (*n)->wait(deadline, &bits);
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(x86::write_user(out_bits, bits));
}

int64_t sys_notification_poll(Handle h, UserAddr out_bits) {
  auto n = lookup<object::Notification>(h, kRightWait);
  if (!n.ok()) return abi_error(n.error());
  if (!x86::user_range_ok(out_bits, sizeof(uint64_t))) return abi_error(ktl::Error::Fault);
  uint64_t bits = 0;
  ktl::Error e = (*n)->poll(&bits);
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(x86::write_user(out_bits, bits));
}

// TODO(issue 3): device authority (interrupts, I/O ports, device memory) and
// pagers are the next steps. Until then these syscalls exist in the ABI and
// answer Unsupported.
int64_t sys_interrupt_create(Handle, uint32_t, Handle, uint64_t, UserAddr) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_interrupt_ack(Handle) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_ioports_create(Handle, uint32_t, uint32_t, UserAddr) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_ioport_read(Handle, uint32_t, uint32_t, UserAddr) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_ioport_write(Handle, uint32_t, uint32_t, uint32_t) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_devmem_create(Handle, uint64_t, size_t, UserAddr) { return abi_error(ktl::Error::Unsupported); }
int64_t sys_process_set_pager(Handle, Handle) { return abi_error(ktl::Error::Unsupported); }

}  // namespace syscalls
