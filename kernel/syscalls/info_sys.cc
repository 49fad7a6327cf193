// info_sys.cc — reading the state of objects: process_get_info.
#include <syscalls/common.h>

namespace syscalls {

int64_t sys_process_get_info(Handle process, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(ProcessInfo))) return abi_error(ktl::Error::Fault);
  auto p = lookup<object::Process>(process, kRightWait);
  if (!p.ok()) return abi_error(p.error());
  object::Process& proc = **p;
  ProcessInfo info{};
  info.id = proc.id();
  info.exited = proc.exited() ? 1 : 0;
  info.exit_code = info.exited ? proc.exit_code() : 0;
  info.threads = proc.live_threads();
  info.quota_bytes_used = proc.quota().used_bytes();
  info.quota_objects_used = proc.quota().used_objects();
  const char* name = proc.name();
  char* dst = reinterpret_cast<char*>(info.name);
  for (size_t i = 0; i < sizeof info.name && name[i] != 0; ++i) dst[i] = name[i];
  return to_abi(x86::write_user(out, info));
}

}  // namespace syscalls
