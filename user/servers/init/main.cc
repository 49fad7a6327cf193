// init — Keel's root task: starts the services of the boot manifest in
// dependency order, each with only the authority the manifest grants and the
// policy allows, and supervises them (restart with exponential backoff,
// heartbeats), MINIX 3's reincarnation server being the model.
//
// Boot: the kernel starts init with every boot module (its own image and the
// initrd, a cpio archive) and the device authority. init reads /etc/manifest
// and /etc/policy from the initrd (docs/userspace.md describes both), creates
// the endpoints of `names` and of init itself (so that they outlive any
// instance of their server), and starts one supervisor thread per service.
//
// What a service gets (StartInfo named handles):
//   "init"    an endpoint to init, badged with the service's id (keel/proto/init.h)
//   "names"   an endpoint to names, same badge (keel/proto/names.h); the names
//             service itself gets "names-server" (its receive side) and "policy"
//             (a MemoryObject with /etc/policy)
//   and per grant: "ioports", "irq" + "irq-notify" (an Interrupt and the
//   Notification it signals), "devmem", "resource" (+ "acpi-rsdp", the
//   kernel's copy of the boot loader's ACPI RSDP, when there is one),
//   "initrd", "framebuffer"
//   + "framebuffer-info" (DeviceMemory over the boot framebuffer and a
//   MemoryObject with its BootFramebuffer record) — a second grant of a kind
//   gets a digit suffix ("ioports1").
//
// Registrations: a service that is ready sends kReady with its endpoint; init
// registers it in names under the service's name. When names (re)starts, it
// first pulls every service's identity and registration from init
// (kNamesSync), then serves: a names crash loses nothing, and no lookup sees
// a half-restored registry.
//
// Threads: the main thread serves init's endpoint; each service has a
// supervisor thread. g_lock guards the service table.
#include "pci_match.h"

#include <keel/alloc.h>
#include <keel/cpio.h>
#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/manifest.h>
#include <keel/policy.h>
#include <keel/proto/init.h>
#include <keel/proto/names.h>
#include <keel/rpc.h>
#include <keel/spawn.h>
#include <keel/start.h>


namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
using keel::proto::init::State;
namespace names_proto = keel::proto::names;
namespace init_proto = keel::proto::init;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kReadyTimeout = 10'000 * kMs;   // spawned but never ready: killed
constexpr uint64_t kBackoffFirst = 100 * kMs;
constexpr uint64_t kBackoffMax = 10'000 * kMs;
constexpr uint64_t kStableRun = 30'000 * kMs;      // a run this long resets the backoff
constexpr uint64_t kNamesCallTimeout = 2'000 * kMs;
constexpr unsigned kHeartbeatsMissable = 3;        // unanswered in a row: the service is killed

struct Service {
  const keel::manifest::Service* spec = nullptr;
  uint64_t badge = 0;  // its id at init and names
  // Guarded by g_lock.
  State state = State::Waiting;
  Handle process = kInvalidHandle;
  Handle endpoint = kInvalidHandle;  // from kReady: heartbeats, names registration
  uint64_t pid = 0;
  uint64_t restarts = 0;
  int64_t last_exit = 0;
  uint64_t started_ns = 0;
  bool kill_requested = false;  // killed by init (kKill or a missed heartbeat)
};

keel::SpinLock g_lock;
keel::manifest::Manifest g_manifest;
keel::policy::Policy g_policy;
Service g_services[keel::manifest::kMaxServices];
size_t g_service_count = 0;

keel::cpio::Bytes g_initrd;
Handle g_initrd_vmo = kInvalidHandle;
Handle g_resource = kInvalidHandle;
Handle g_fb_record = kInvalidHandle;  // the kernel's "framebuffer" module (BootFramebuffer), if any
keel::BootFramebuffer g_fb{};         // its contents (magic 0: none)
Handle g_rsdp_record = kInvalidHandle;  // the kernel's "acpi-rsdp" module (the RSDP's bytes), if any
Handle g_init_ep = kInvalidHandle;   // init's own endpoint (receive side)
Handle g_names_ep = kInvalidHandle;  // names' endpoint (init keeps the receive side too)
Handle g_names_client = kInvalidHandle;  // init's badged client handle to names
Handle g_policy_vmo = kInvalidHandle;
Handle g_registrar_wake = kInvalidHandle;  // signalled when names work is pending
uint64_t g_pending_register = 0;           // guarded by g_lock: service indices to register
std::string_view g_policy_text;

void log(std::string_view fmt) { keel::print("init: {}\n", fmt); }
template <typename... A>
void logf(std::string_view fmt, const A&... args) {
  char buf[400];
  size_t n = ktl::format(buf, sizeof buf, fmt, args...);
  keel::print("init: {}\n", std::string_view(buf, n));
}

Service* by_badge(uint64_t badge) {
  for (size_t i = 0; i < g_service_count; ++i)
    if (g_services[i].badge == badge) return &g_services[i];
  return nullptr;
}

bool is_names(const Service& s) { return std::string_view(s.spec->name) == "names"; }

Service* by_name(std::string_view name) {
  for (size_t i = 0; i < g_service_count; ++i)
    if (name == g_services[i].spec->name) return &g_services[i];
  return nullptr;
}

State state_of(const Service& s) {
  g_lock.lock();
  State st = s.state;
  g_lock.unlock();
  return st;
}

// ---------------------------------------------------------------- the initrd

bool initrd_file(std::string_view path, keel::cpio::Bytes* out) {
  auto e = keel::cpio::find(g_initrd, path);
  if (!e.ok() || !e->is_regular()) return false;
  *out = e->data;
  return true;
}

// A new MemoryObject holding `bytes` (for programs and the policy text).
Handle vmo_with(keel::cpio::Bytes bytes) {
  Handle vmo = kInvalidHandle;
  uint64_t size = bytes.size() ? bytes.size() : 1;
  if (sys::vmo_create((size + keel::kPageSize - 1) & ~uint64_t(keel::kPageSize - 1), 0, &vmo) != 0) return kInvalidHandle;
  if (!bytes.empty() && sys::vmo_write(vmo, 0, bytes.data(), bytes.size()) != 0) {
    sys::handle_close(vmo);
    return kInvalidHandle;
  }
  return vmo;
}

// ---------------------------------------------------------------- names

// init's calls to names never wait long: a hung names must not hang init.
Status names_call(keel::IpcMessage& m) {
  return keel::rpc::call(g_names_client, m, keel::now_ns() + kNamesCallTimeout);
}

// Registers `s`'s endpoint (a copy) under its name. Lock not held.
Status names_register(const Service& s, Handle endpoint) {
  Handle copy = kInvalidHandle;
  if (sys::handle_duplicate(endpoint, keel::kRightWrite | keel::kRightDuplicate | keel::kRightTransfer, &copy) != 0)
    return Status::AccessDenied;
  keel::IpcMessage m{};
  uint32_t at = keel::rpc::put_string(m, 0, s.spec->name);
  m.handles[0] = copy;
  m.tag = keel::rpc::tag(names_proto::kRegister, at, 1);
  return names_call(m);  // the handle moved with the call (or was closed by the kernel)
}

// Registers `s` in names if it is running (and has sent kReady). Lock not held.
void register_if_running(Service& s) {
  g_lock.lock();
  Handle ep = kInvalidHandle;
  if (s.state == State::Running && s.endpoint != kInvalidHandle)
    (void)sys::handle_duplicate(s.endpoint, keel::kRightWrite | keel::kRightDuplicate | keel::kRightTransfer, &ep);
  g_lock.unlock();
  if (ep == kInvalidHandle) return;
  // A restarted devmgr learns again who drives which function (before the
  // handle moves to names).
  if (std::string_view(s.spec->name) == "devmgr") init_pci::tell_devmgr(ep);
  if (Status st = names_register(s, ep); st != Status::Ok)
    logf("names: register {} failed: {}", s.spec->name, keel::status_name(st));
  sys::handle_close(ep);
}

// The registrar thread: every call into names happens here, never on the
// thread that answers init's endpoint (names may be waiting for that).
void registrar(uint64_t) {
  for (;;) {
    uint64_t bits = 0;
    (void)sys::notification_wait(g_registrar_wake, keel::kDeadlineForever, &bits);
    g_lock.lock();
    uint64_t pending = g_pending_register;
    g_pending_register = 0;
    g_lock.unlock();
    for (size_t i = 0; i < g_service_count; ++i) {
      if (!(pending & (uint64_t(1) << i))) continue;
      register_if_running(g_services[i]);
    }
  }
}

// ---------------------------------------------------------------- starting a service

// Gives `h` to the prepared child as `kind` (+ a digit for the n-th of a kind).
Status give(keel::Prepared& p, const char* kind, unsigned nth, Handle h) {
  char name[40];
  size_t n = ktl::format(name, sizeof name, nth ? "{}{}" : "{}", kind, nth);
  return keel::spawn_give(p, std::string_view(name, n), h);
}

// Makes and gives the objects of one grant. `counts` numbers grants per kind.
Status give_grant(keel::Prepared& p, const char* service, const keel::Grant& g, bool intx,
                  unsigned counts[keel::kGrantKindCount]) {
  unsigned nth = counts[unsigned(g.kind)]++;
  switch (g.kind) {
    case keel::GrantKind::IoPorts: {
      Handle h = kInvalidHandle;
      if (int64_t r = sys::ioports_create(g_resource, uint32_t(g.base), uint32_t(g.size), &h); r != 0)
        return keel::status_of(r);
      return give(p, "ioports", nth, h);
    }
    case keel::GrantKind::Irq: {
      Handle n = kInvalidHandle, irq = kInvalidHandle;
      if (int64_t r = sys::notification_create(&n); r != 0) return keel::status_of(r);
      if (int64_t r = sys::interrupt_create(g_resource, uint32_t(g.base), n, 1, &irq); r != 0) {
        sys::handle_close(n);
        return keel::status_of(r);
      }
      if (Status s = give(p, "irq", nth, irq); s != Status::Ok) {
        sys::handle_close(irq);
        sys::handle_close(n);
        return s;
      }
      return give(p, "irq-notify", nth, n);
    }
    case keel::GrantKind::DevMem: {
      Handle h = kInvalidHandle;
      if (int64_t r = sys::devmem_create(g_resource, g.base, g.size, &h); r != 0) return keel::status_of(r);
      return give(p, "devmem", nth, h);
    }
    case keel::GrantKind::Resource: {
      Handle h = kInvalidHandle;
      if (int64_t r = sys::handle_duplicate(g_resource, keel::kRightManage | keel::kRightDuplicate | keel::kRightTransfer, &h); r != 0)
        return keel::status_of(r);
      if (Status s = give(p, "resource", nth, h); s != Status::Ok) return s;
      // With it, the boot loader's ACPI RSDP if the kernel passed one (the
      // only way to the ACPI tables under UEFI).
      if (g_rsdp_record == kInvalidHandle) return Status::Ok;
      Handle rsdp = kInvalidHandle;
      if (int64_t r = sys::handle_duplicate(g_rsdp_record, keel::kRightRead | keel::kRightMap | keel::kRightTransfer, &rsdp); r != 0)
        return keel::status_of(r);
      return give(p, "acpi-rsdp", nth, rsdp);
    }
    case keel::GrantKind::Modules: {
      Handle h = kInvalidHandle;
      if (int64_t r = sys::handle_duplicate(g_initrd_vmo, keel::kRightRead | keel::kRightMap | keel::kRightTransfer, &h); r != 0)
        return keel::status_of(r);
      return give(p, "initrd", nth, h);
    }
    case keel::GrantKind::Pci: {
      // `match pci`: the matched function's BARs and interrupt (pci_match.h),
      // found through devmgr, which must be running (`after devmgr`).
      Handle devmgr = kInvalidHandle;
      g_lock.lock();
      for (size_t i = 0; i < g_service_count; ++i)
        if (std::string_view(g_services[i].spec->name) == "devmgr" && g_services[i].state == State::Running &&
            g_services[i].endpoint != kInvalidHandle)
          (void)sys::handle_duplicate(g_services[i].endpoint, keel::kRightWrite, &devmgr);
      g_lock.unlock();
      if (devmgr == kInvalidHandle) {
        logf("{}: match pci {:04x}:{:04x}: devmgr is not running (say `after devmgr`)", service, g.base, g.size);
        return Status::NotFound;
      }
      Status st = init_pci::give_device(p, service, g, intx, g_resource, devmgr);
      sys::handle_close(devmgr);
      return st;
    }
    case keel::GrantKind::Framebuffer: {
      // The whole pages the framebuffer touches, and the record describing it.
      if (g_fb.magic != keel::kBootFramebufferMagic) return Status::NotFound;
      const uint64_t page = keel::kPageSize;
      const uint64_t base = g_fb.address & ~(page - 1);
      const uint64_t end = (g_fb.address + uint64_t(g_fb.pitch) * g_fb.height + page - 1) & ~(page - 1);
      Handle mem = kInvalidHandle, info = kInvalidHandle;
      if (int64_t r = sys::devmem_create(g_resource, base, end - base, &mem); r != 0) return keel::status_of(r);
      if (Status s = give(p, "framebuffer", nth, mem); s != Status::Ok) {
        sys::handle_close(mem);
        return s;
      }
      if (int64_t r = sys::handle_duplicate(g_fb_record, keel::kRightRead | keel::kRightMap | keel::kRightTransfer, &info); r != 0)
        return keel::status_of(r);
      return give(p, "framebuffer-info", nth, info);
    }
  }
  return Status::InvalidArgument;
}

// Mints a client handle to `endpoint` with `badge` and gives it as `name`.
Status give_client(keel::Prepared& p, const char* name, Handle endpoint, uint64_t badge) {
  Handle h = kInvalidHandle;
  if (int64_t r = sys::handle_mint(endpoint, keel::kRightWrite | keel::kRightTransfer, badge, &h); r != 0)
    return keel::status_of(r);
  return keel::spawn_give(p, name, h);
}

// Spawns `s` with its handles. On success the process handle is in s.process.
Status spawn_service(Service& s) {
  const auto& spec = *s.spec;
  for (size_t i = 0; i < spec.grant_count; ++i) {
    if (!keel::policy::may_hold(g_policy, spec.program, spec.grants[i])) {
      if (spec.grants[i].kind == keel::GrantKind::Pci)
        logf("policy denies {} ({}) the match pci {:04x}:{:04x}: no BAR, no interrupt", spec.name, spec.program,
             spec.grants[i].base, spec.grants[i].size);
      else
        logf("policy denies {} ({}) the grant {} {:#x}+{:#x}", spec.name, spec.program,
             keel::grant_kind_name(spec.grants[i].kind), spec.grants[i].base, spec.grants[i].size);
      return Status::AccessDenied;
    }
  }
  keel::cpio::Bytes image;
  if (!initrd_file(spec.program, &image)) {
    logf("{}: no program {} in the initrd", spec.name, spec.program);
    return Status::NotFound;
  }
  Handle vmo = vmo_with(image);
  if (vmo == kInvalidHandle) return Status::NoMemory;
  keel::Prepared p;
  Status st = keel::spawn_prepare(vmo, image.size(), spec.name, &p);
  sys::handle_close(vmo);
  if (st != Status::Ok) return st;
  st = give_client(p, "init", g_init_ep, s.badge);
  if (st == Status::Ok) {
    if (std::string_view(spec.name) == "names") {
      Handle server = kInvalidHandle, policy = kInvalidHandle;
      st = keel::status_of(sys::handle_duplicate(g_names_ep, keel::kRightRead | keel::kRightWrite | keel::kRightDuplicate | keel::kRightTransfer, &server));
      if (st == Status::Ok) st = keel::spawn_give(p, "names-server", server);
      if (st == Status::Ok)
        st = keel::status_of(sys::handle_duplicate(g_policy_vmo, keel::kRightRead | keel::kRightMap | keel::kRightTransfer, &policy));
      if (st == Status::Ok) st = keel::spawn_give(p, "policy", policy);
    } else {
      st = give_client(p, "names", g_names_ep, s.badge);
    }
  }
  if (st == Status::Ok && spec.arg_count > 0) {  // the manifest's args: NUL-terminated, one after another
    char joined[keel::manifest::kMaxArgs * keel::manifest::kArgSize];
    size_t n = 0;
    for (size_t i = 0; i < spec.arg_count; ++i) {
      for (const char* a = spec.args[i]; *a && n + 1 < sizeof joined; ++a) joined[n++] = *a;
      joined[n++] = 0;
    }
    Handle args = vmo_with({reinterpret_cast<const uint8_t*>(joined), n});
    st = args == kInvalidHandle ? Status::NoMemory : keel::spawn_give(p, "args", args);
  }
  unsigned counts[keel::kGrantKindCount] = {};
  for (size_t i = 0; st == Status::Ok && i < spec.grant_count; ++i) st = give_grant(p, spec.name, spec.grants[i], spec.pci_intx, counts);
  if (st != Status::Ok) {
    keel::spawn_cancel(p);
    return st;
  }
  Handle process = p.process;
  // Starting before the first thread runs: its kReady may arrive before
  // spawn_start returns, and must not be overwritten.
  g_lock.lock();
  s.state = State::Starting;
  s.started_ns = keel::now_ns();
  s.kill_requested = false;
  g_lock.unlock();
  if (st = keel::spawn_start(p, spec.name, 0); st != Status::Ok) return st;
  keel::ProcessInfo info{};
  (void)sys::process_get_info(process, &info);
  g_lock.lock();
  s.process = process;
  s.pid = info.id;
  g_lock.unlock();
  return Status::Ok;
}

// ---------------------------------------------------------------- supervision

bool dependencies_running(const Service& s) {
  for (size_t i = 0; i < s.spec->after_count; ++i)
    if (state_of(g_services[s.spec->after_index[i]]) != State::Running) return false;
  return true;
}

// Why a process ended, for the log.
void describe_exit(char* buf, size_t cap, int64_t code, bool killed_by_init) {
  if (killed_by_init) {
    ktl::format(buf, cap, "killed by init");
  } else if (code == keel::kExitKilled) {
    ktl::format(buf, cap, "killed");
  } else if (code <= keel::kExitFaultBase && code > keel::kExitFaultBase - 256) {
    ktl::format(buf, cap, "crashed (CPU exception {})", keel::kExitFaultBase - code);
  } else {
    ktl::format(buf, cap, "exited with code {}", code);
  }
}

void supervise(uint64_t index) {
  Service& s = g_services[index];
  const auto& spec = *s.spec;
  uint64_t backoff = kBackoffFirst;
  for (;;) {
    while (!dependencies_running(s)) sys::thread_sleep(keel::now_ns() + 5 * kMs);
    if (Status st = spawn_service(s); st != Status::Ok) {
      logf("{}: could not start: {}", spec.name, keel::status_name(st));
      g_lock.lock();
      s.state = State::Failed;
      g_lock.unlock();
      return;
    }
    logf("started {} (pid {})", spec.name, s.pid);
    // Wait for the exit; meanwhile readiness and heartbeats.
    int64_t code = 0;
    unsigned missed = 0;  // heartbeats unanswered in a row
    for (;;) {
      const uint64_t now = keel::now_ns();
      const uint64_t interval = spec.heartbeat_ms ? spec.heartbeat_ms * kMs : 1000 * kMs;
      Status st = keel::status_of(sys::process_wait(s.process, now + interval, &code));
      if (st == Status::Ok) break;
      if (st != Status::TimedOut) {
        logf("{}: waiting for it failed: {}", spec.name, keel::status_name(st));
        code = keel::kExitKilled;
        break;
      }
      g_lock.lock();
      State state = s.state;
      Handle ep = kInvalidHandle;
      if (state == State::Running && spec.heartbeat_ms && s.endpoint != kInvalidHandle)
        (void)sys::handle_duplicate(s.endpoint, keel::kRightWrite, &ep);
      uint64_t started = s.started_ns;
      g_lock.unlock();
      const char* why = nullptr;
      if (state == State::Starting && keel::now_ns() - started > kReadyTimeout) why = "never became ready";
      if (ep != kInvalidHandle) {
        keel::IpcMessage m{};
        m.tag = keel::rpc::tag(keel::rpc::kMethodPing, 0);
        Status ping = keel::rpc::call(ep, m, keel::now_ns() + interval);
        sys::handle_close(ep);
        // One late answer is a busy machine; several in a row, a hung service.
        missed = ping == Status::Ok ? 0 : missed + 1;
        if (ping != Status::Ok) logf("{}: no answer to a heartbeat ({})", spec.name, keel::status_name(ping));
        if (missed >= kHeartbeatsMissable) why = "missed its heartbeats";
      }
      if (why) {
        logf("{}: {}: killing it", spec.name, why);
        g_lock.lock();
        s.kill_requested = true;
        g_lock.unlock();
        sys::process_kill(s.process);
      }
    }
    g_lock.lock();
    const bool by_init = s.kill_requested;
    const uint64_t ran = keel::now_ns() - s.started_ns;
    sys::handle_close(s.process);
    s.process = kInvalidHandle;
    if (s.endpoint != kInvalidHandle) sys::handle_close(s.endpoint);
    s.endpoint = kInvalidHandle;
    s.last_exit = code;
    g_lock.unlock();
    char why[64];
    describe_exit(why, sizeof why, code, by_init);
    const bool restart = spec.restart == keel::manifest::Restart::Always ||
                         (spec.restart == keel::manifest::Restart::OnFailure && (code != 0 || by_init));
    if (!restart) {
      logf("{} {}; not restarting (restart {})", spec.name, why,
           spec.restart == keel::manifest::Restart::Never ? "never" : "on-failure");
      g_lock.lock();
      s.state = State::Stopped;
      g_lock.unlock();
      return;
    }
    if (ran >= kStableRun) backoff = kBackoffFirst;
    logf("{} {}; restarting in {} ms", spec.name, why, backoff / kMs);
    g_lock.lock();
    s.state = State::Backoff;
    ++s.restarts;
    g_lock.unlock();
    sys::thread_sleep(keel::now_ns() + backoff);
    backoff = backoff * 2 < kBackoffMax ? backoff * 2 : kBackoffMax;
    g_lock.lock();
    s.state = State::Waiting;
    g_lock.unlock();
  }
}

// ---------------------------------------------------------------- init's endpoint

bool may_control(const Service* caller) {
  return caller != nullptr && keel::policy::may_lookup(g_policy, caller->spec->program, "init");
}

void handle_request(keel::IpcMessage& m, keel::rpc::Request& req) {
  Service* caller = by_badge(req.badge);
  switch (keel::rpc::label(m)) {
    case init_proto::kReady: {
      if (caller == nullptr || req.received_count != 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      Handle ep = req.received[0];
      req.received[0] = kInvalidHandle;  // kept
      g_lock.lock();
      if (caller->endpoint != kInvalidHandle) sys::handle_close(caller->endpoint);
      caller->endpoint = ep;
      caller->state = State::Running;
      g_lock.unlock();
      logf("{} is ready", caller->spec->name);
      // The names work goes to the registrar thread: names itself may be the
      // caller, waiting for this reply.
      // (names itself pulled everything with kNamesSync before it said so.)
      g_lock.lock();
      if (!is_names(*caller)) g_pending_register |= uint64_t(1) << (caller - g_services);
      g_lock.unlock();
      sys::notification_signal(g_registrar_wake, 1);
      return keel::rpc::reply_status(m, Status::Ok);
    }
    case init_proto::kServiceInfo: {
      if (keel::rpc::words(m) < 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      const uint64_t index = m.words[0];
      if (index >= g_service_count) return keel::rpc::reply_status(m, Status::OutOfRange);
      const Service& s = g_services[index];
      uint32_t at = keel::rpc::put_string(m, 0, s.spec->name);
      at = keel::rpc::put_string(m, at, s.spec->program);
      keel::ProcessInfo info{};
      g_lock.lock();
      if (s.process != kInvalidHandle) (void)sys::process_get_info(s.process, &info);
      m.words[at++] = s.pid;
      m.words[at++] = uint64_t(s.state);
      m.words[at++] = s.restarts;
      m.words[at++] = uint64_t(s.last_exit);
      m.words[at++] = s.state == State::Running || s.state == State::Starting ? keel::now_ns() - s.started_ns : 0;
      m.words[at++] = info.threads;
      m.words[at++] = info.quota_bytes_used;
      g_lock.unlock();
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), at);
      return;
    }
    case init_proto::kKill: {
      if (!may_control(caller)) return keel::rpc::reply_status(m, Status::AccessDenied);
      char buf[names_proto::kNameMax];
      std::string_view name;
      if (!keel::rpc::get_string(m, 0, buf, sizeof buf, &name, nullptr))
        return keel::rpc::reply_status(m, Status::InvalidArgument);
      Service* target = by_name(name);
      if (target == nullptr) return keel::rpc::reply_status(m, Status::NotFound);
      g_lock.lock();
      Handle proc = target->process;
      if (proc != kInvalidHandle) target->kill_requested = true;
      g_lock.unlock();
      if (proc == kInvalidHandle) return keel::rpc::reply_status(m, Status::BadState);
      logf("killing {} at the request of {}", target->spec->name, caller->spec->name);
      sys::process_kill(proc);
      return keel::rpc::reply_status(m, Status::Ok);
    }
    case init_proto::kPowerOff: {
      if (!may_control(caller)) return keel::rpc::reply_status(m, Status::AccessDenied);
      const uint32_t reboot = keel::rpc::words(m) >= 1 && m.words[0] == 1 ? 1 : 0;
      logf("{} at the request of {}", reboot ? "rebooting" : "powering off", caller->spec->name);
      return keel::rpc::reply_status(m, keel::status_of(sys::system_poweroff(g_resource, reboot)));
    }
    case init_proto::kNamesSync: {
      // names, (re)starting, asks who service `index` is and what it
      // registered, before it serves anyone: no lookup sees a half-restored
      // registry.
      if (caller == nullptr || !is_names(*caller)) return keel::rpc::reply_status(m, Status::AccessDenied);
      if (keel::rpc::words(m) < 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      const uint64_t index = m.words[0];
      if (index >= g_service_count) return keel::rpc::reply_status(m, Status::OutOfRange);
      const Service& s = g_services[index];
      m.words[0] = s.badge;
      uint32_t at = keel::rpc::put_string(m, 1, s.spec->name);
      at = keel::rpc::put_string(m, at, s.spec->program);
      Handle ep = kInvalidHandle;
      g_lock.lock();
      if (!is_names(s) && s.state == State::Running && s.endpoint != kInvalidHandle)
        (void)sys::handle_duplicate(s.endpoint, keel::kRightWrite | keel::kRightDuplicate | keel::kRightTransfer, &ep);
      g_lock.unlock();
      m.handles[0] = ep;
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), at, ep != kInvalidHandle ? 1 : 0);
      return;
    }
    case init_proto::kProcessNext: {
      // For ps: the process after `after_id` (every process, services or not).
      if (!may_control(caller)) return keel::rpc::reply_status(m, Status::AccessDenied);
      if (keel::rpc::words(m) < 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      keel::ProcessInfo info{};
      int64_t n = sys::process_list(g_resource, m.words[0], &info, 1);
      if (n < 0) return keel::rpc::reply_status(m, keel::status_of(n));
      if (n == 0) return keel::rpc::reply_status(m, Status::OutOfRange);
      m.words[0] = info.id;
      m.words[1] = info.parent_id;
      m.words[2] = info.threads;
      m.words[3] = info.exited;
      m.words[4] = uint64_t(info.exit_code);
      m.words[5] = info.quota_bytes_used;
      const char* name = reinterpret_cast<const char*>(info.name);
      size_t len = 0;
      while (len < sizeof info.name && name[len] != 0) ++len;
      uint32_t at = keel::rpc::put_string(m, 6, std::string_view(name, len));
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), at);
      return;
    }
    case init_proto::kLogRead: {
      if (!may_control(caller)) return keel::rpc::reply_status(m, Status::AccessDenied);
      if (keel::rpc::words(m) < 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      uint64_t seq = m.words[0];
      char line[init_proto::kLogLineMax];
      int64_t n = sys::klog_read(g_resource, &seq, line, sizeof line);
      if (n < 0) return keel::rpc::reply_status(m, keel::status_of(n));
      m.words[0] = seq;
      uint32_t at = keel::rpc::put_string(m, 1, std::string_view(line, size_t(n)));
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), at);
      return;
    }
    default:
      return keel::rpc::reply_status(m, Status::Unsupported);
  }
}

// ---------------------------------------------------------------- start-up

bool load_configuration() {
  keel::cpio::Bytes text;
  keel::ParseError error{};
  if (!initrd_file("etc/manifest", &text)) {
    log("no /etc/manifest in the initrd");
    return false;
  }
  std::string_view manifest(reinterpret_cast<const char*>(text.data()), text.size());
  if (!keel::manifest::parse(manifest, g_manifest, &error).ok()) {
    logf("/etc/manifest:{}: {}", error.line, error.reason);
    return false;
  }
  if (!initrd_file("etc/policy", &text)) {
    log("no /etc/policy in the initrd");
    return false;
  }
  g_policy_text = std::string_view(reinterpret_cast<const char*>(text.data()), text.size());
  if (!keel::policy::parse(g_policy_text, g_policy, &error).ok()) {
    logf("/etc/policy:{}: {}", error.line, error.reason);
    return false;
  }
  g_policy_vmo = vmo_with(text);
  return g_policy_vmo != kInvalidHandle;
}

}  // namespace

int main(uint64_t) {
  const keel::StartInfo* si = keel::start_info();
  if (si == nullptr) {
    log("no StartInfo: init must be the root task");
    return 1;
  }
  g_resource = si->resource;
  uint64_t size = 0;
  if (!keel::find_module("initrd.cpio", &g_initrd_vmo, &size)) {
    log("no boot module named initrd.cpio");
    return 1;
  }
  uint64_t addr = 0;
  const uint64_t mapped = (size + keel::kPageSize - 1) & ~uint64_t(keel::kPageSize - 1);
  if (size == 0 || sys::vm_map(si->self_process, g_initrd_vmo, 0, mapped, keel::kVmRead, &addr) != 0) {
    log("cannot map the initrd");
    return 1;
  }
  g_initrd = keel::cpio::Bytes(reinterpret_cast<const uint8_t*>(addr), size);
  if (auto v = keel::cpio::Reader::validate(g_initrd); !v.ok()) {
    logf("the initrd is not a valid cpio archive: {}", ktl::error_name(v.error()));
    return 1;
  }
  if (!load_configuration()) return 1;
  // The boot framebuffer, if the kernel passed one (for `grant framebuffer`).
  uint64_t fb_size = 0;
  if (keel::find_module("framebuffer", &g_fb_record, &fb_size) &&
      (fb_size < sizeof g_fb || sys::vmo_read(g_fb_record, 0, &g_fb, sizeof g_fb) != 0 ||
       g_fb.magic != keel::kBootFramebufferMagic || g_fb.pitch == 0 || g_fb.height == 0)) {
    log("the framebuffer record is malformed: no framebuffer grants");
    g_fb = keel::BootFramebuffer{};
  }
  // The boot loader's ACPI RSDP, if the kernel passed it (given with `grant resource`).
  uint64_t rsdp_size = 0;
  if (!keel::find_module("acpi-rsdp", &g_rsdp_record, &rsdp_size)) g_rsdp_record = kInvalidHandle;
  auto order = keel::manifest::start_order(g_manifest);
  if (!order.ok()) {
    log("the manifest has a dependency cycle");
    return 1;
  }
  if (sys::endpoint_create(&g_init_ep) != 0 || sys::endpoint_create(&g_names_ep) != 0 ||
      sys::handle_mint(g_names_ep, keel::kRightWrite | keel::kRightTransfer, names_proto::kInitBadge,
                       &g_names_client) != 0) {
    log("cannot create endpoints");
    return 1;
  }
  g_service_count = g_manifest.count;
  for (size_t i = 0; i < g_service_count; ++i) {
    g_services[i].spec = &g_manifest.services[i];
    g_services[i].badge = names_proto::kInitBadge + 1 + i;
  }
  logf("{} services in the manifest", g_service_count);
  if (sys::notification_create(&g_registrar_wake) != 0 || keel::start_thread(&registrar, 0, 64 * 1024) == 0) {
    log("cannot start the registrar");
    return 1;
  }
  for (size_t k = 0; k < order->count; ++k) {
    if (keel::start_thread(&supervise, order->index[k], 64 * 1024) == 0) {
      logf("cannot start a supervisor for {}", g_manifest.services[order->index[k]].name);
    }
  }
  Status st = keel::rpc::serve(g_init_ep, &handle_request, nullptr);
  logf("serving init's endpoint failed: {}", keel::status_name(st));
  return 1;
}
