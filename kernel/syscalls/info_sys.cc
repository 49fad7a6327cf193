// info_sys.cc — reading the state of objects: process_get_info, process_list, klog_read.
#include <object/resource.h>
#include <syscalls/common.h>

namespace syscalls {

namespace {

// A snapshot of `proc`, each field read on its own.
ProcessInfo describe(object::Process& proc) {
  ProcessInfo info{};
  info.id = proc.id();
  info.parent_id = proc.parent_id();
  info.exited = proc.exited() ? 1 : 0;
  info.exit_code = info.exited ? proc.exit_code() : 0;
  info.threads = proc.live_threads();
  info.quota_bytes_used = proc.quota().used_bytes();
  info.quota_objects_used = proc.quota().used_objects();
  const char* name = proc.name();
  char* dst = reinterpret_cast<char*>(info.name);
  for (size_t i = 0; i < sizeof info.name && name[i] != 0; ++i) dst[i] = name[i];
  return info;
}

}  // namespace

int64_t sys_process_get_info(Handle process, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(ProcessInfo))) return abi_error(ktl::Error::Fault);
  auto p = lookup<object::Process>(process, kRightWait);
  if (!p.ok()) return abi_error(p.error());
  return to_abi(x86::write_user(out, describe(**p)));
}

int64_t sys_process_list(Handle resource, uint64_t after_id, UserAddr out, uint32_t max) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (max == 0 || max > kProcessListMax) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(out, uint64_t(max) * sizeof(ProcessInfo))) return abi_error(ktl::Error::Fault);
  ProcessInfo infos[kProcessListMax];
  uint32_t n = 0;
  object::Process::for_each_after(after_id, [&](object::Process& p) {
    infos[n++] = describe(p);
    return n < max;
  });
  if (auto w = x86::copy_to_user(out, infos, n * sizeof(ProcessInfo)); !w.ok()) return to_abi(w);
  return n;
}

}  // namespace syscalls

#include <lib/klog.h>

namespace syscalls {

int64_t sys_klog_read(Handle resource, UserAddr seq_inout, UserAddr buf, size_t len) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (len < 32 || len > kDebugWriteMax) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(buf, len)) return abi_error(ktl::Error::Fault);
  auto seq_in = x86::read_user<uint64_t>(seq_inout);
  if (!seq_in.ok()) return abi_error(seq_in.error());
  uint64_t seq = *seq_in;
  klib::LogRecord rec{};
  char text[klib::KernelLog::kMaxRecordText];
  auto n = klib::kernel_log().read(seq, rec, text, sizeof text);
  if (!n.ok()) return abi_error(n.error() == ktl::Error::NotFound ? ktl::Error::WouldBlock : n.error());
  char line[kDebugWriteMax];
  size_t out = klib::format_log_line(line, len, rec.timestamp_ns, {text, *n});
  if (auto w = x86::copy_to_user(buf, line, out); !w.ok()) return to_abi(w);
  if (auto w = x86::write_user(seq_inout, seq); !w.ok()) return to_abi(w);
  return int64_t(out);
}

}  // namespace syscalls
