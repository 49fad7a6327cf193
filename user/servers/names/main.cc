// names — Keel's service registry and its permission policy
// (keel/proto/names.h has the protocol).
//
// init gives names the receive side of the names endpoint ("names-server"),
// which init created and keeps, so that clients' handles stay valid across a
// restart of names, and the policy text ("policy"). Before serving, names
// pulls from init who each badge is and every registration (kNamesSync);
// later registrations come from init's badge (kRegister). A lookup is allowed when the policy lets the
// caller's program look the name up; the caller gets a copy of the service's
// endpoint badged with the caller's own id. Denials are refused and logged.
#include <keel/keel.h>
#include <keel/policy.h>
#include <keel/proto/init.h>
#include <keel/proto/names.h>
#include <keel/rpc.h>
#include <keel/start.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::names;

namespace {

constexpr size_t kMaxClients = 64;
constexpr size_t kMaxNames = 64;

struct Client {
  uint64_t badge = 0;  // 0: free
  char name[proto::kNameMax + 1] = {};
  char program[proto::kProgramMax + 1] = {};
};

struct Registration {
  char name[proto::kNameMax + 1] = {};  // "" : free
  Handle endpoint = kInvalidHandle;      // write, duplicate, transfer
};

keel::policy::Policy g_policy;
Client g_clients[kMaxClients];
Registration g_names[kMaxNames];

const Client* client(uint64_t badge) {
  for (const Client& c : g_clients)
    if (c.badge == badge && badge != 0) return &c;
  return nullptr;
}

Registration* registration(std::string_view name) {
  for (Registration& r : g_names)
    if (r.name[0] != 0 && name == r.name) return &r;
  return nullptr;
}

void copy(char* dst, size_t cap, std::string_view s) {
  size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  for (size_t i = 0; i < n; ++i) dst[i] = s[i];
  dst[n] = 0;
}

// Records `endpoint` (kept) under `name`, replacing an earlier one.
Status store(std::string_view name, Handle endpoint) {
  Registration* r = registration(name);
  if (r == nullptr) {
    for (Registration& free_slot : g_names) {
      if (free_slot.name[0] == 0) {
        r = &free_slot;
        break;
      }
    }
  }
  if (r == nullptr) return Status::NoSpace;
  if (r->endpoint != kInvalidHandle) sys::handle_close(r->endpoint);
  copy(r->name, sizeof r->name, name);
  r->endpoint = endpoint;
  return Status::Ok;
}

void do_register(keel::IpcMessage& m, keel::rpc::Request& req) {
  char buf[proto::kNameMax];
  std::string_view name;
  if (req.received_count != 1 || !keel::rpc::get_string(m, 0, buf, sizeof buf, &name, nullptr) || name.empty())
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  Status st = store(name, req.received[0]);
  if (st == Status::Ok) req.received[0] = kInvalidHandle;  // kept
  keel::rpc::reply_status(m, st);
}

// Pulls every service's identity and registration from init (kNamesSync).
Status sync_from_init(Handle init) {
  for (uint64_t index = 0;; ++index) {
    keel::IpcMessage m{};
    m.words[0] = index;
    m.tag = keel::rpc::tag(keel::proto::init::kNamesSync, 1);
    Status st = keel::rpc::call(init, m);
    if (st == Status::OutOfRange) return Status::Ok;
    if (st != Status::Ok) return st;
    char name_buf[proto::kNameMax], program_buf[proto::kProgramMax];
    std::string_view name, program;
    uint32_t at = 0;
    const Handle ep = keel::rpc::handles(m) == 1 ? m.handles[0] : kInvalidHandle;
    const uint64_t badge = keel::rpc::words(m) >= 1 ? m.words[0] : 0;
    if (badge <= proto::kInitBadge || !keel::rpc::get_string(m, 1, name_buf, sizeof name_buf, &name, &at) ||
        !keel::rpc::get_string(m, at, program_buf, sizeof program_buf, &program, &at)) {
      if (ep != kInvalidHandle) sys::handle_close(ep);
      return Status::InvalidArgument;
    }
    Client* slot = nullptr;
    for (Client& c : g_clients) {
      if (slot == nullptr && (c.badge == badge || c.badge == 0)) slot = &c;
    }
    if (slot == nullptr) return Status::NoSpace;
    slot->badge = badge;
    copy(slot->name, sizeof slot->name, name);
    copy(slot->program, sizeof slot->program, program);
    if (ep != kInvalidHandle && store(name, ep) != Status::Ok) sys::handle_close(ep);
  }
}

void lookup(keel::IpcMessage& m, const keel::rpc::Request& req) {
  char buf[proto::kNameMax];
  std::string_view name;
  if (!keel::rpc::get_string(m, 0, buf, sizeof buf, &name, nullptr))
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  const Client* c = client(req.badge);
  if (c == nullptr || !keel::policy::may_lookup(g_policy, c->program, name)) {
    keel::print("names: denied: {} ({}) may not look up '{}'\n", c ? c->name : "unknown client",
                c ? c->program : "?", name);
    return keel::rpc::reply_status(m, Status::AccessDenied);
  }
  Registration* r = registration(name);
  if (r == nullptr) return keel::rpc::reply_status(m, Status::NotFound);
  Handle badged = kInvalidHandle;
  if (int64_t e = sys::handle_mint(r->endpoint, keel::kRightWrite | keel::kRightTransfer, req.badge, &badged); e != 0)
    return keel::rpc::reply_status(m, keel::status_of(e));
  m.handles[0] = badged;
  m.tag = keel::rpc::tag(uint32_t(Status::Ok), 0, 1);
}

void handle(keel::IpcMessage& m, keel::rpc::Request& req) {
  switch (keel::rpc::label(m)) {
    case proto::kLookup:
      return lookup(m, req);
    case proto::kRegister:
      if (req.badge != proto::kInitBadge) return keel::rpc::reply_status(m, Status::AccessDenied);
      return do_register(m, req);
    default:
      return keel::rpc::reply_status(m, Status::Unsupported);
  }
}

}  // namespace

int main(uint64_t) {
  Handle server = kInvalidHandle, policy_vmo = kInvalidHandle;
  uint64_t policy_size = 0, unused = 0;
  if (!keel::find_module("names-server", &server, &unused) || !keel::find_module("policy", &policy_vmo, &policy_size)) {
    keel::print("names: missing start handles\n");
    return 1;
  }
  uint64_t addr = 0;
  const uint64_t mapped = (policy_size + keel::kPageSize - 1) & ~uint64_t(keel::kPageSize - 1);
  if (policy_size == 0 || sys::vm_map(keel::start_info()->self_process, policy_vmo, 0, mapped, keel::kVmRead, &addr) != 0) {
    keel::print("names: cannot map the policy\n");
    return 1;
  }
  // The MemoryObject is page-sized; the text is up to its first NUL.
  std::string_view text(reinterpret_cast<const char*>(addr), policy_size);
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  keel::ParseError error{};
  if (!keel::policy::parse(text, g_policy, &error).ok()) {
    keel::print("names: policy:{}: {}\n", error.line, error.reason);
    return 1;
  }
  // Everything init knows first; lookups queue on the endpoint meanwhile.
  Handle init = kInvalidHandle;
  if (!keel::find_module("init", &init, &unused)) {
    keel::print("names: missing start handles\n");
    return 1;
  }
  if (Status st = sync_from_init(init); st != Status::Ok) {
    keel::print("names: sync with init failed: {}\n", keel::status_name(st));
    return 1;
  }
  // Ready: init registers nothing for names itself, but wants the endpoint
  // for heartbeats; registrations of services that become ready later come
  // as kRegister calls, which queue until we serve.
  if (Status st = keel::rpc::announce_ready(server); st != Status::Ok) {
    keel::print("names: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(server, &handle, nullptr);
  keel::print("names: serving failed: {}\n", keel::status_name(st));
  return 1;
}
