// pager_tests.cc — page faults the kernel cannot resolve go to the process's
// pager endpoint as kernel-built calls; the pager maps memory and retries the
// access, or refuses and the process dies.
#include "usertest.h"

#include <keel/spawn.h>
#include <keel/start.h>
#include <keel/utest.h>

using keel::Handle;
using keel::Status;
namespace sys = keel::sys;

namespace {

// A child of usertest running the kPagerTouch scenario, with `pager` as its
// pager (set before its first thread starts).
Handle start_paged_child(keel::utest::Context& utest_ctx, Handle pager, uint64_t arg = usertest::pager_touch_arg()) {
  Handle img = 0;
  uint64_t size = 0;
  UEXPECT(usertest::find_module("usertest", &img, &size));
  Handle proc = 0, thread = 0;
  const char name[] = "paged";
  if (sys::process_create(name, sizeof name - 1, &proc) != 0) return 0;
  UEXPECT_EQ(sys::process_set_pager(proc, pager), 0);
  uint64_t entry = 0, top = 0;
  UEXPECT_EQ(keel::load_elf(proc, img, size, &entry), Status::Ok);
  UEXPECT_EQ(keel::map_stack(proc, keel::kSpawnStackSize, &top), Status::Ok);
  UEXPECT_EQ(keel::start_thread_in(proc, "main", entry, top, arg, &thread), Status::Ok);
  sys::handle_close(thread);
  return proc;
}

}  // namespace

UTEST(pager, maps_on_demand_and_retries) {
  Handle ep = 0, badged = 0;
  UASSERT(sys::endpoint_create(&ep) == 0);
  UASSERT(sys::handle_mint(ep, keel::kRightWrite, 0x7a6e, &badged) == 0);
  Handle proc = start_paged_child(utest_ctx, badged);
  UASSERT(proc != 0);
  keel::IpcMessage m{};
  UASSERT(sys::ipc_recv(ep, &m, keel::now_ns() + 10'000'000'000ull) == 0);
  UEXPECT_EQ(m.tag >> 32, uint64_t(keel::kPagerLabelFault));
  UEXPECT_EQ(m.words[0], usertest::kPagerAddr);
  UEXPECT_EQ(m.words[1], uint64_t(keel::kVmRead));
  UEXPECT_EQ((m.tag >> 24) & 0xff, 3u);
  UEXPECT_EQ(m.words[2], 0u);  // (the child's thread has no syscall handler: badge 0)
  UEXPECT_EQ(m.badge, 0x7a6eu);  // the badge of the handle given to process_set_pager
  // Resolve it: a page holding 42 at the faulting address, then "retry".
  Handle page = 0;
  uint64_t value = 42, addr = usertest::kPagerAddr;
  UASSERT(sys::vmo_create(4096, 0, &page) == 0);
  UEXPECT_EQ(sys::vmo_write(page, 0, &value, sizeof value), 0);
  UEXPECT_EQ(sys::vm_map(proc, page, 0, 4096, keel::kVmRead | keel::kVmFixed, &addr), 0);
  m.tag = 0;  // label 0: retry
  UEXPECT_EQ(sys::ipc_reply(&m), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + 10'000'000'000ull), Status::Ok);
  UEXPECT_EQ(code, 42);  // the child read what the pager mapped
  for (Handle h : {page, proc, badged, ep}) UEXPECT_EQ(sys::handle_close(h), 0);
}

UTEST(pager, refusal_kills) {
  Handle ep = 0;
  UASSERT(sys::endpoint_create(&ep) == 0);
  Handle proc = start_paged_child(utest_ctx, ep);
  UASSERT(proc != 0);
  keel::IpcMessage m{};
  UASSERT(sys::ipc_recv(ep, &m, keel::now_ns() + 10'000'000'000ull) == 0);
  m.tag = uint64_t(1) << 32;  // any other label: kill
  UEXPECT_EQ(sys::ipc_reply(&m), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + 10'000'000'000ull), Status::Ok);
  UEXPECT_EQ(code, keel::kExitFaultBase - 14);
  for (Handle h : {proc, ep}) UEXPECT_EQ(sys::handle_close(h), 0);
}

UTEST(pager, pager_gone_kills_and_errors) {
  Handle ep = 0;
  UASSERT(sys::endpoint_create(&ep) == 0);
  Handle dup = 0;
  UASSERT(sys::handle_duplicate(ep, keel::kRightWrite, &dup) == 0);
  Handle proc = start_paged_child(utest_ctx, dup);
  UASSERT(proc != 0);
  // Every handle to the endpoint closes: the faulting thread's call fails
  // (PeerClosed) and the child dies.
  sys::thread_sleep(keel::now_ns() + 20'000'000);
  UEXPECT_EQ(sys::handle_close(ep), 0);
  UEXPECT_EQ(sys::handle_close(dup), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + 10'000'000'000ull), Status::Ok);
  UEXPECT_EQ(code, keel::kExitFaultBase - 14);
  // Errors: a wrong type, a missing right, an exited process.
  Handle vmo = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  UEXPECT_EQ(sys::process_set_pager(proc, vmo), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::process_set_pager(vmo, keel::kInvalidHandle), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::process_set_pager(proc, keel::kInvalidHandle), keel::err(Status::BadState));
  for (Handle h : {vmo, proc}) UEXPECT_EQ(sys::handle_close(h), 0);
}

// Other exceptions the thread's own instructions raise reach the pager too,
// with 3 words: the rip, 0, the vector. A refusal kills the process as if
// there were no pager; the fault is not retried behind the pager's back.
UTEST(pager, exceptions_reach_the_pager) {
  Handle ep = 0, badged = 0;
  UASSERT(sys::endpoint_create(&ep) == 0);
  UASSERT(sys::handle_mint(ep, keel::kRightWrite, 0x5eed, &badged) == 0);
  Handle proc = start_paged_child(utest_ctx, badged, usertest::ud2_arg());
  UASSERT(proc != 0);
  keel::IpcMessage m{};
  UASSERT(sys::ipc_recv(ep, &m, keel::now_ns() + 10'000'000'000ull) == 0);
  UEXPECT_EQ(m.tag >> 32, uint64_t(keel::kPagerLabelFault));
  UEXPECT_EQ((m.tag >> 24) & 0xff, 4u);
  UEXPECT(m.words[0] >= 0x400000 && m.words[0] < 0x800000);  // the ud2, in the child's program
  UEXPECT_EQ(m.words[1], 0u);
  UEXPECT_EQ(m.words[2], 6u);  // #UD
  UEXPECT_EQ(m.words[3], 0u);  // (no syscall handler)
  UEXPECT_EQ(m.badge, 0x5eedu);
  m.tag = uint64_t(1) << 32;  // refuse
  UEXPECT_EQ(sys::ipc_reply(&m), 0);
  int64_t code = 0;
  UEXPECT_EQ(keel::wait(proc, &code, keel::now_ns() + 10'000'000'000ull), Status::Ok);
  UEXPECT_EQ(code, keel::kExitFaultBase - 6);
  for (Handle h : {proc, badged, ep}) UEXPECT_EQ(sys::handle_close(h), 0);
}
