// bench — Keel's microbenchmarks, run as the root task by tools/keel-bench.
//
// Under QEMU with -icount shift=0 the guest TSC advances by one per executed
// instruction, so rdtsc deltas are instruction counts. Each figure is printed
// as "bench NAME VALUE instructions/op": the minimum over several batches of
// the per-operation average (the minimum filters out timer interrupts).
#include <keel/keel.h>
#include <keel/spawn.h>
#include <keel/start.h>

namespace sys = keel::sys;

namespace {

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
}

constexpr int kBatches = 5;

template <typename Fn>
uint64_t measure(int ops, Fn fn) {
  uint64_t best = ~0ull;
  for (int b = 0; b < kBatches; ++b) {
    uint64_t t0 = rdtsc();
    fn(ops);
    uint64_t per = (rdtsc() - t0) / uint64_t(ops);
    if (per < best) best = per;
  }
  return best;
}

// One operation each, out of line, so that tools/keel-trace can stop on them.
[[gnu::noinline]] void op_null_syscall() { sys::debug_write(nullptr, 0); }
[[gnu::noinline]] void op_ipc_call(uint32_t ep, keel::IpcMessage* m) {
  m->tag = uint64_t(1) << 24;
  sys::ipc_call_regs(ep, m);
}
[[gnu::noinline]] void op_ipc_call_memory(uint32_t ep, keel::IpcMessage* m) {
  m->tag = (uint64_t(1) << 24) | (uint64_t(1) << 32);  // label 1: the server answers the same way
  sys::ipc_call(ep, m, keel::kDeadlineForever);
}
[[gnu::noinline]] void op_notify_round_trip(uint32_t signal, uint32_t wait) {
  uint64_t bits;
  sys::notification_signal(signal, 1);
  sys::notification_wait(wait, keel::kDeadlineForever, &bits);
}

// One foreign syscall answered (the handler's side of foreign_syscall).
[[gnu::noinline]] void op_foreign_reply(uint32_t ep, keel::IpcMessage* m) {
  m->tag = uint64_t(1) << 24;
  m->words[0] = 1;
  sys::ipc_reply_recv(ep, m, keel::kDeadlineForever);
}

void report(const char* name, uint64_t value) { keel::print("bench {} {} instructions/op\n", name, value); }

uint64_t tag(uint32_t words) { return uint64_t(words) << 24; }

// IPC server: replies to every call with the same words, using the syscall
// the call came with (libkeel's rpc::serve uses the register twin).
void ipc_server(uint64_t ep) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  for (;;) {
    bool memory = keel::IpcTag::label(m.tag) == 1;
    m.tag = tag(1) | (uint64_t(memory) << 32);
    int64_t r = memory ? sys::ipc_reply_recv(uint32_t(ep), &m, keel::kDeadlineForever)
                       : sys::ipc_reply_recv_regs(uint32_t(ep), &m);
    if (r != 0) return;
  }
}

// Notification partner: waits on n1, signals n2, forever.
struct PingPong {
  uint32_t n1, n2;
};
void notify_partner(uint64_t p) {
  auto* pp = reinterpret_cast<PingPong*>(p);
  uint64_t bits;
  for (;;) {
    if (sys::notification_wait(pp->n1, keel::kDeadlineForever, &bits) != 0) return;
    sys::notification_signal(pp->n2, 1);
  }
}

// Starts a second bench process that serves `ep` (moved into it) with
// ipc_server. Returns its process handle, or kInvalidHandle.
keel::Handle start_server_process(uint32_t ep) {
  keel::Handle image = keel::kInvalidHandle;
  uint64_t size = 0;
  if (!keel::find_module("bench", &image, &size)) return keel::kInvalidHandle;
  keel::Prepared p;
  if (keel::spawn_prepare(image, size, "bench-server", &p) != keel::Status::Ok) return keel::kInvalidHandle;
  if (keel::spawn_give(p, "endpoint", ep) != keel::Status::Ok) {
    keel::spawn_cancel(p);
    return keel::kInvalidHandle;
  }
  if (keel::spawn_start(p, "bench-server", 1) != keel::Status::Ok) return keel::kInvalidHandle;
  return p.process;
}

// The foreign-ABI benchmark's program: getppid (39) forever, as a Linux
// program's syscall loop would be. Position-independent: copied into a
// process of its own.
extern "C" void bench_foreign_blob();
extern "C" void bench_foreign_blob_end();
asm(R"(
  .pushsection .text
  .global bench_foreign_blob, bench_foreign_blob_end
bench_foreign_blob:
  movl $39, %eax
  syscall
  jmp bench_foreign_blob
bench_foreign_blob_end:
  .popsection
)");

// One foreign syscall as its handler (another process) sees it: the thread's
// kernel-built call with its registers, and a one-word reply (rax).
uint64_t bench_foreign_syscall() {
  keel::Handle ep = keel::kInvalidHandle, proc = keel::kInvalidHandle, vmo = keel::kInvalidHandle,
               th = keel::kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0 || sys::process_create("foreign", 7, &proc) != 0 ||
      sys::vmo_create(4096, 0, &vmo) != 0)
    return 0;
  const size_t len = size_t(reinterpret_cast<uintptr_t>(&bench_foreign_blob_end) -
                            reinterpret_cast<uintptr_t>(&bench_foreign_blob));
  uint64_t code = 0, top = 0;
  if (sys::vmo_write(vmo, 0, reinterpret_cast<const void*>(&bench_foreign_blob), len) != 0 ||
      sys::vm_map(proc, vmo, 0, 4096, keel::kVmRead | keel::kVmExecute, &code) != 0 ||
      keel::map_stack(proc, 16 * 1024, &top) != keel::Status::Ok || sys::thread_create(proc, "loop", 4, &th) != 0 ||
      sys::thread_set_syscall_handler(th, ep) != 0 || sys::thread_start(th, code, top, 0) != 0)
    return 0;
  keel::IpcMessage m{};
  if (sys::ipc_recv(ep, &m, keel::kDeadlineForever) != 0) return 0;
  uint64_t result = measure(1000, [&](int n) {
    for (int i = 0; i < n; ++i) op_foreign_reply(ep, &m);
  });
  sys::process_kill(proc);
  int64_t code_out = 0;
  sys::process_wait(proc, keel::kDeadlineForever, &code_out);
  sys::handle_close(th);
  sys::handle_close(vmo);
  sys::handle_close(proc);
  sys::handle_close(ep);
  return result;
}

}  // namespace

int main(uint64_t arg) {
  // A child started by start_server_process (arg 1): serves the endpoint it was given.
  if (arg != 0) {
    keel::Handle ep = keel::kInvalidHandle;
    uint64_t size = 0;
    if (keel::find_module("endpoint", &ep, &size)) ipc_server(ep);
    return 0;
  }
  const keel::StartInfo* si = keel::start_info();
  if (!si) {
    keel::print("bench: no StartInfo\n");
    return 1;
  }
  uint32_t self = si->self_process;

  report("null_syscall", measure(2000, [](int n) {
           for (int i = 0; i < n; ++i) op_null_syscall();
         }));

  // Call/reply between two processes (the issue's figure), then between two
  // threads of one process (no address-space switch).
  uint32_t ep = 0, client = 0;
  sys::endpoint_create(&ep);
  sys::handle_duplicate(ep, keel::kRightWrite, &client);
  keel::Handle server = start_server_process(ep);
  if (server == keel::kInvalidHandle) keel::print("bench: could not start the server process\n");
  keel::IpcMessage m{};
  report("ipc_call_reply", measure(1000, [&](int n) {
           for (int i = 0; i < n; ++i) op_ipc_call(client, &m);
         }));
  report("ipc_call_reply_memory", measure(1000, [&](int n) {
           for (int i = 0; i < n; ++i) op_ipc_call_memory(client, &m);
         }));
  sys::process_kill(server);
  uint32_t ep2 = 0;
  sys::endpoint_create(&ep2);
  keel::start_thread(&ipc_server, ep2);
  report("ipc_call_reply_same_process", measure(1000, [&](int n) {
           for (int i = 0; i < n; ++i) op_ipc_call(ep2, &m);
         }));

  static PingPong pp;
  sys::notification_create(&pp.n1);
  sys::notification_create(&pp.n2);
  keel::start_thread(&notify_partner, reinterpret_cast<uint64_t>(&pp));
  // One round trip is two signal→wake-ups.
  report("notification_signal_wait", measure(1000, [&](int n) {
                                       for (int i = 0; i < n; ++i) op_notify_round_trip(pp.n1, pp.n2);
                                     }) / 2);

  uint32_t vmo = 0;
  sys::vmo_create(4096, 0, &vmo);
  uint64_t scratch = 0;
  sys::vm_map(self, vmo, 0, 4096, keel::kVmRead | keel::kVmWrite, &scratch);
  sys::vm_unmap(self, scratch, 4096);  // a known-free address for fixed mappings
  report("map_unmap_4k", measure(1000, [&](int n) {
           for (int i = 0; i < n; ++i) {
             uint64_t a = scratch;
             sys::vm_map(self, vmo, 0, 4096, keel::kVmRead | keel::kVmWrite | keel::kVmFixed, &a);
             sys::vm_unmap(self, a, 4096);
           }
         }));

  // COW faults: a committed object, cloned; every write to the clone copies a page.
  constexpr uint64_t kPages = 256;
  uint32_t big = 0;
  sys::vmo_create(kPages * 4096, 0, &big);
  uint64_t one = 1;
  for (uint64_t p = 0; p < kPages; ++p) sys::vmo_write(big, p * 4096, &one, sizeof one);
  uint64_t best = ~0ull;
  for (int b = 0; b < kBatches; ++b) {
    uint32_t clone = 0;
    sys::vmo_clone(big, 0, kPages * 4096, &clone);
    uint64_t addr = 0;
    sys::vm_map(self, clone, 0, kPages * 4096, keel::kVmRead | keel::kVmWrite, &addr);
    auto* words = reinterpret_cast<volatile uint64_t*>(addr);
    for (uint64_t p = 0; p < kPages; ++p) (void)words[p * 512];  // read faults first: map the shared frames
    uint64_t t0 = rdtsc();
    for (uint64_t p = 0; p < kPages; ++p) words[p * 512] = p;  // each write: one COW fault
    uint64_t per = (rdtsc() - t0) / kPages;
    if (per < best) best = per;
    sys::vm_unmap(self, addr, kPages * 4096);
    sys::handle_close(clone);
  }
  report("memory_object_cow_fault", best);
  report("foreign_syscall", bench_foreign_syscall());
  keel::print("bench done\n");
  return 0;
}
