// kbench.cc — in-kernel microbenchmarks (kernel command line `kbench`):
// figures that have no syscall to measure them from userspace.
#include <arch/x86_64/cpu.h>
#include <lib/klog.h>
#include <sched/scheduler.h>
#include <test/kbench.h>

#include <atomic>

namespace {

struct SwitchPair {
  sched::Thread* a = nullptr;
  sched::Thread* b = nullptr;
  std::atomic<int> turn{0};
  int rounds = 0;
  std::atomic<int> done{0};
};

// Two kernel threads of equal priority hand the CPU to each other with
// park/unpark: each round trip is two thread switches.
void switch_partner(void* p) {
  auto* s = static_cast<SwitchPair*>(p);
  for (int i = 0; i < s->rounds; ++i) {
    while (s->turn.load() != 1) sched::park(UINT64_MAX);
    s->turn.store(0);
    sched::unpark(s->a);
  }
  s->done = 1;
}

}  // namespace

void run_kernel_benchmarks() {
  constexpr int kRounds = 2000;
  static SwitchPair s;
  s.rounds = kRounds;
  s.a = sched::current();
  auto b = sched::Thread::create_kernel("kbench", &switch_partner, &s, sched::current()->sched.priority);
  if (!b.ok()) return;
  s.b = b->get();
  if (!sched::start(s.b).ok()) return;
  uint64_t t0 = x86::rdtsc();
  for (int i = 0; i < kRounds; ++i) {
    s.turn.store(1);
    sched::unpark(s.b);
    while (s.turn.load() != 0) sched::park(UINT64_MAX);
  }
  uint64_t per_switch = (x86::rdtsc() - t0) / (2 * kRounds);
  klog::notice("bench thread_switch {} instructions/op", per_switch);
}
