// basic_sys.cc — debug output, the clock, handles and system statistics.
#include <arch/x86_64/clock.h>
#include <arch/x86_64/percpu.h>
#include <lib/klog.h>
#include <mm/heap.h>
#include <mm/vm.h>
#include <syscalls/common.h>

#include <cstddef>

namespace syscalls {

namespace {

[[gnu::noinline]] int64_t debug_write_text(UserAddr buf, size_t len) {
  char text[kDebugWriteMax];
  if (auto r = x86::copy_from_user(text, buf, len); !r.ok()) return to_abi(r);
  // One record per line; a trailing newline ends the record.
  std::string_view s(text, len);
  while (!s.empty()) {
    size_t nl = s.find('\n');
    std::string_view line = nl == std::string_view::npos ? s : s.substr(0, nl);
    klib::kernel_log().write(klib::LogLevel::Info, line);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return 0;
}

}  // namespace

int64_t sys_debug_write(UserAddr buf, size_t len) {
  if (len > kDebugWriteMax) return abi_error(ktl::Error::InvalidArgument);
  if (len == 0) return 0;  // nothing to read: `buf` is not looked at
  return debug_write_text(buf, len);
}

int64_t sys_clock_get(UserAddr out_ns) { return to_abi(x86::write_user(out_ns, x86::monotonic_ns())); }

int64_t sys_handle_close(Handle h) {
  auto e = current_process().handles().remove(h);
  return e.ok() ? 0 : abi_error(e.error());  // the entry's object is dropped here, no lock held
}

int64_t sys_handle_duplicate(Handle h, Rights rights, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(Handle))) return abi_error(ktl::Error::Fault);
  auto& table = current_process().handles();
  auto nh = table.duplicate(h, rights);
  if (!nh.ok()) return abi_error(nh.error());
  if (auto w = x86::write_user(out, *nh); !w.ok()) {
    (void)table.remove(*nh);
    return to_abi(w);
  }
  return 0;
}

int64_t sys_handle_replace(Handle h, Rights rights, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(Handle))) return abi_error(ktl::Error::Fault);
  auto nh = current_process().handles().replace(h, rights);
  if (!nh.ok()) return abi_error(nh.error());
  // The old handle is gone either way; report the new one (a fault here
  // leaves it in the table, which the caller can find by no other means —
  // but the range check above makes that a write to a mapped-out page only).
  return to_abi(x86::write_user(out, *nh));
}

int64_t sys_handle_mint(Handle h, Rights rights, uint64_t badge, UserAddr out) {
  if (!x86::user_range_ok(out, sizeof(Handle))) return abi_error(ktl::Error::Fault);
  auto& table = current_process().handles();
  auto nh = table.mint(h, rights, badge);
  if (!nh.ok()) return abi_error(nh.error());
  if (auto w = x86::write_user(out, *nh); !w.ok()) {
    (void)table.remove(*nh);
    return to_abi(w);
  }
  return 0;
}

static_assert(kSystemStatsMinSize == offsetof(SystemStats, quota_bytes_used), "the first SystemStats ends there");

int64_t sys_system_stats(UserAddr out, size_t size) {
  if (size < kSystemStatsMinSize) return abi_error(ktl::Error::InvalidArgument);
  if (size > sizeof(SystemStats)) size = sizeof(SystemStats);
  if (!x86::user_range_ok(out, size)) return abi_error(ktl::Error::Fault);
  SystemStats s{};
  // Caches back first, so that leak checks can compare frames_free exactly:
  // empty slab pages, and pooled kernel stacks of threads that have exited.
  mm::kernel_heap()->shrink();
  mm::trim_kernel_stacks();
  auto& fa = mm::frame_allocator_unlocked();
  s.frames_total = fa.total_frames();
  s.frames_free = fa.free_frames();
  s.objects_live = object::KernelObject::live_count();
  s.processes_live = object::KernelObject::live_count(object::ObjectType::Process);
  s.threads_live = object::KernelObject::live_count(object::ObjectType::Thread);
  s.cpus = x86::cpu_count();
  s.uptime_ns = x86::monotonic_ns();
  for (unsigned i = 0; i < x86::cpu_count(); ++i) s.context_switches += sched::cpu_stats(i).switches;
  object::Quota& quota = current_process().quota();
  s.quota_bytes_used = quota.used_bytes();
  s.quota_bytes_limit = quota.limit_bytes();
  s.quota_objects_used = quota.used_objects();
  s.quota_objects_limit = quota.limit_objects();
  return to_abi(x86::copy_to_user(out, &s, size));
}

}  // namespace syscalls
