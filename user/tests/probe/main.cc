// probe — a test program for the policy, in the system suite's initrd only
// (user/tests/system: not in the image `make run` boots). /etc/policy lets
// /sbin/probe look up `rtc` and nothing else, and hold no device grant.
//
// As service `probe` it looks up `rtc` (allowed: it must get an endpoint)
// and `devmgr` (denied: names must refuse it with AccessDenied, and log the
// denial), prints each outcome and exits 0 only if both were as the policy
// says. As service `probe-grant` (manifest: a devmem grant of ECAM, which the
// policy does not allow it) init must refuse to start it at all, so this
// program printing anything under that name is itself a failure.
#include <keel/keel.h>
#include <keel/proto/names.h>
#include <keel/rpc.h>
#include <keel/start.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

namespace {

Status lookup(Handle names, std::string_view name) {
  keel::IpcMessage m{};
  uint32_t at = keel::rpc::put_string(m, 0, name);
  m.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
  Status st = keel::rpc::call(names, m, keel::now_ns() + 2'000'000'000);
  if (st == Status::Ok) {
    if (keel::rpc::handles(m) != 1) return Status::InvalidArgument;
    sys::handle_close(m.handles[0]);
  }
  return st;
}

}  // namespace

int main(uint64_t) {
  Handle names = kInvalidHandle, h = kInvalidHandle;
  uint64_t unused = 0;
  if (!keel::find_module("names", &names, &unused)) {
    keel::print("probe: missing start handle (names)\n");
    return 1;
  }
  // Whatever init gave besides init and names is authority the policy
  // should have kept from us.
  for (const char* grant : {"ioports", "devmem", "resource", "irq", "initrd"}) {
    if (keel::find_module(grant, &h, &unused)) {
      keel::print("probe: FAIL: holds a '{}' handle\n", grant);
      return 1;
    }
  }
  struct Case {
    const char* service;
    Status expected;
  };
  bool ok = true;
  for (const Case& c : {Case{"rtc", Status::Ok}, Case{"devmgr", Status::AccessDenied}}) {
    Status st = lookup(names, c.service);
    // rtc may not be registered yet while the system starts: ask again.
    for (int tries = 0; st == Status::NotFound && c.expected == Status::Ok && tries < 50; ++tries) {
      sys::thread_sleep(keel::now_ns() + 100'000'000);
      st = lookup(names, c.service);
    }
    const bool as_expected = st == c.expected;
    ok = ok && as_expected;
    keel::print("probe: lookup {}: {} ({})\n", c.service, keel::status_name(st),
                as_expected ? "as the policy says" : "FAIL");
  }
  keel::print("probe: {}\n", ok ? "policy holds" : "FAIL");
  return ok ? 0 : 1;
}
