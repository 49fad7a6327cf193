// notify_sys.cc — notifications, and the syscall not implemented yet.
#include <object/notification.h>
#include <syscalls/common.h>

namespace syscalls {

int64_t sys_notification_create(UserAddr out) {
  auto n = object::Notification::create(&current_process().quota());
  if (!n.ok()) return abi_error(n.error());
  return to_abi(give_handle(n.release_value(), kNotificationDefaultRights, out));
}

namespace {
// The notification `h` names with `rights`, looked up inline (get_fast);
// an error of any kind takes the general lookup, which reports it.
[[gnu::always_inline]] inline ktl::Result<ktl::RefPtr<object::Notification>> lookup_notification(Handle h,
                                                                                           Rights rights) {
  uint64_t badge;
  if (auto* n = current_process().handles().get_fast<object::Notification>(h, rights, &badge)) [[likely]]
    return ktl::adopt_ref(n);
  return lookup<object::Notification>(h, rights);
}
}  // namespace

int64_t sys_notification_signal(Handle h, uint64_t bits) {
  auto n = lookup_notification(h, kRightSignal);
  if (!n.ok()) return abi_error(n.error());
  if (bits == 0) return abi_error(ktl::Error::InvalidArgument);
  (*n)->signal(bits);
  return 0;
}

int64_t sys_notification_wait(Handle h, Deadline deadline, UserAddr out_bits) {
  auto n = lookup_notification(h, kRightWait);
  if (!n.ok()) return abi_error(n.error());
  if (!x86::user_range_ok(out_bits, sizeof(uint64_t))) return abi_error(ktl::Error::Fault);
  uint64_t bits = 0;
  ktl::Error e = (*n)->wait(deadline, &bits);
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(x86::write_user(out_bits, bits));
}

int64_t sys_notification_poll(Handle h, UserAddr out_bits) {
  auto n = lookup_notification(h, kRightWait);
  if (!n.ok()) return abi_error(n.error());
  if (!x86::user_range_ok(out_bits, sizeof(uint64_t))) return abi_error(ktl::Error::Fault);
  uint64_t bits = 0;
  ktl::Error e = (*n)->poll(&bits);
  if (e != ktl::Error::None) return abi_error(e);
  return to_abi(x86::write_user(out_bits, bits));
}

}  // namespace syscalls
