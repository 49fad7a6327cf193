// linux/system.cc — the machine as a Linux program asks about it (internal.h
// lists the files): sysinfo(2), and /proc/keel, Keel's own management views
// for the busybox shell, which `keelctl` (user/linux/keelctl.c) prints:
//
//   /proc/keel/services   init's services (keel/proto/init.h kServiceInfo)
//   /proc/keel/ps         every Keel process, native ones too (kProcessNext)
//   /proc/keel/dmesg      the kernel log (kLogRead)
//   /proc/keel/mem        frames, kernel heap and object counts (system_stats)
//
// The texts are the native console's (user/servers/console: its services,
// ps, dmesg and mem commands), made when the file is opened. init answers
// because the policy lets /sbin/linux look up init (its reboot(2) needs that
// already); every Linux process is root, so every one may read them.
#include <keel/proto/init.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include "internal.h"
#include "text.h"

namespace linux_srv {
namespace {

namespace ip = keel::proto::init;
constexpr uint64_t kCallNs = 2'000'000'000;

// A call to init; Ok or why not.
Status call_init(keel::IpcMessage& m) {
  Handle init = kInvalidHandle;
  uint64_t unused = 0;
  if (!keel::find_module("init", &init, &unused)) return Status::AccessDenied;
  return keel::rpc::call(init, m, keel::now_ns() + kCallNs);
}

void services(Text& o) {
  o.put("NAME          PID  STATE      RESTARTS  UPTIME s  PROGRAM\n");
  for (uint64_t i = 0; i < 1000; ++i) {
    keel::IpcMessage m{};
    m.words[0] = i;
    m.tag = keel::rpc::tag(ip::kServiceInfo, 1);
    const Status st = call_init(m);
    if (st == Status::OutOfRange) return;
    char name_buf[32], program_buf[128];
    std::string_view name, program;
    uint32_t at = 0;
    if (st != Status::Ok || !keel::rpc::get_string(m, 0, name_buf, sizeof name_buf, &name, &at) ||
        !keel::rpc::get_string(m, at, program_buf, sizeof program_buf, &program, &at) || keel::rpc::words(m) < at + 7)
      return o.f("services: {}\n", keel::status_name(st == Status::Ok ? Status::InvalidArgument : st));
    o.f("{:12}  {:3}  {:9}  {:8}  {:8}  {}\n", name, m.words[at], ip::state_name(ip::State(m.words[at + 1])),
        m.words[at + 2], m.words[at + 4] / 1'000'000'000, program);
  }
}

void processes(Text& o) {
  o.put("  PID  PPID  THREADS   KMEM KiB  NAME\n");
  uint64_t after = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    keel::IpcMessage m{};
    m.words[0] = after;
    m.tag = keel::rpc::tag(ip::kProcessNext, 1);
    const Status st = call_init(m);
    if (st == Status::OutOfRange) return;
    char buf[40];
    std::string_view name;
    if (st != Status::Ok || keel::rpc::words(m) < 7 || !keel::rpc::get_string(m, 6, buf, sizeof buf, &name, nullptr) ||
        m.words[0] <= after)
      return o.f("ps: {}\n", keel::status_name(st == Status::Ok ? Status::InvalidArgument : st));
    after = m.words[0];
    o.f("{:5}  {:4}  {:7}  {:9}  {}{}\n", m.words[0], m.words[1], m.words[2], m.words[5] / 1024, name,
        m.words[3] ? " (exited)" : "");
  }
}

void dmesg(Text& o) {
  uint64_t seq = 0;
  for (int lines = 0; lines < 100000; ++lines) {
    keel::IpcMessage m{};
    m.words[0] = seq;
    m.tag = keel::rpc::tag(ip::kLogRead, 1);
    const Status st = call_init(m);
    if (st == Status::WouldBlock) return;
    char buf[ip::kLogLineMax];
    std::string_view line;
    if (st != Status::Ok || keel::rpc::words(m) < 1 || !keel::rpc::get_string(m, 1, buf, sizeof buf, &line, nullptr))
      return o.f("dmesg: {}\n", keel::status_name(st == Status::Ok ? Status::InvalidArgument : st));
    seq = m.words[0];
    o.put(line);
  }
}

void mem(Text& o) {
  keel::SystemStats s{};
  (void)sys::system_stats(&s, sizeof s);
  o.f("frames: {} total, {} free ({} MiB free of {} MiB)\n", s.frames_total, s.frames_free,
      s.frames_free * keel::kPageSize >> 20, s.frames_total * keel::kPageSize >> 20);
  o.f("kernel heap: {} KiB, objects: {}, processes: {}, threads: {}\n", s.heap_bytes_used / 1024, s.objects_live,
      s.processes_live, s.threads_live);
}

// struct sysinfo (include/uapi/linux/sysinfo.h) on x86-64: 112 bytes.
struct Sysinfo {
  int64_t uptime;
  uint64_t loads[3];
  uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
  uint16_t procs, pad;
  uint64_t totalhigh, freehigh;
  uint32_t mem_unit;
  char reserved[4];
};
static_assert(sizeof(Sysinfo) == 112);

// sysinfo(2): uptime in seconds (rounded up), memory in bytes (mem_unit 1) from the
// kernel's frame counts, the number of Linux processes; no load averages, no swap.
Result sys_sysinfo(Proc& p, uint64_t addr) {
  keel::SystemStats s{};
  (void)sys::system_stats(&s, sizeof s);
  Sysinfo si{};
  si.uptime = int64_t((keel::now_ns() + 999'999'999) / 1'000'000'000);  // (rounded up, as Linux does)
  si.totalram = s.frames_total * keel::kPageSize;
  si.freeram = s.frames_free * keel::kPageSize;
  for (const Proc& q : g_procs) si.procs += q.used && !q.zombie ? 1 : 0;
  si.mem_unit = 1;
  return value(write_obj(p, addr, si) ? 0 : -L::EFAULT);
}

// The CPUs of the Keel system (system_stats; asked once: they do not change).
uint64_t cpu_count() {
  static uint64_t n = 0;
  if (n == 0) {
    keel::SystemStats s{};
    (void)sys::system_stats(&s, sizeof s);
    n = s.cpus == 0 ? 1 : s.cpus > 64 ? 64 : s.cpus;
  }
  return n;
}

uint64_t all_cpus() { return cpu_count() >= 64 ? ~0ull : (1ull << cpu_count()) - 1; }

// sched_getaffinity(2), sched_setaffinity(2) of thread `tid` (0: the
// caller). The mask is one long (64 CPUs at most); Linux's rules: a length
// below it or not a multiple of 8 is EINVAL (get), a mask with no CPU of the
// system EINVAL (set). The mask is kept and read back; Keel's scheduler
// places the thread as it will (it is not pinned).
Result sys_affinity(Thread& t, const UserRegs& r, bool set) {
  Proc& p = *t.proc;
  Thread* who = r.rdi == 0 ? &t : thread_by_tid(r.rdi);
  if (!who) return value(-L::ESRCH);
  if (set) {
    uint64_t mask = 0;
    const size_t len = r.rsi < sizeof mask ? size_t(r.rsi) : sizeof mask;
    if (len && !read_user(p, r.rdx, &mask, len)) return value(-L::EFAULT);
    if ((mask & all_cpus()) == 0) return value(-L::EINVAL);
    who->affinity = mask & all_cpus();
    return value(0);
  }
  if (r.rsi < 8 || (r.rsi & 7)) return value(-L::EINVAL);
  const uint64_t mask = who->affinity ? who->affinity : all_cpus();
  return value(write_obj(p, r.rdx, mask) ? 8 : -L::EFAULT);
}

}  // namespace

const char* const kKeelProcFiles[kKeelProcFileCount] = {"services", "ps", "dmesg", "mem"};

bool keel_proc_text(std::string_view name, char** text, size_t* len) {
  Text o;
  if (name == "services") {
    services(o);
  } else if (name == "ps") {
    processes(o);
  } else if (name == "dmesg") {
    dmesg(o);
  } else if (name == "mem") {
    mem(o);
  } else {
    return false;
  }
  *text = o.buf;
  *len = o.len;
  return true;
}

bool dispatch_system(Thread& t, UserRegs& r, Result* out) {
  switch (r.rax) {
    case L::kSysinfo: *out = sys_sysinfo(*t.proc, r.rdi); return true;
    case L::kSchedGetaffinity: *out = sys_affinity(t, r, false); return true;
    case L::kSchedSetaffinity: *out = sys_affinity(t, r, true); return true;
    default: return false;
  }
}

}  // namespace linux_srv
