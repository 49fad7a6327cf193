// isr_ktest.cc — in-kernel tests of the interrupt entry (isr.S): the IST
// vectors (NMI, #DF, #MC) pick the GS base by its value, not by the saved CS.
//
// An NMI can arrive in kernel mode while the user GS base is live: between
// SYSCALL and the entry's SWAPGS, or between the exit's SWAPGS and SYSRET or
// IRETQ. These tests recreate that state on every CPU (interrupts off, user GS
// base swapped in) and raise the NMI handler inside it. The #DF and #MC
// equivalents end in a panic by design, so they are crash tests
// (crashtest.cc: "df-usergs", "mc-usergs"; tools/keel-test --suite panic).
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/smp.h>
#include <test/ktest.h>

#include <cstdint>

namespace {

// What a user TLS base looks like: a user-half address, unmapped in the
// kernel's page tables. A handler that took it for its PerCpu would fault.
constexpr uint64_t kFakeUserGsBase = 0x00007fffdead0000ull;

enum class Raise { IntTwo, SelfNmi };

struct NmiProbe {
  bool user_gs;  // raise it with the user GS base live
  Raise how;
  bool done = false;
  bool armed_after = true;  // the handler clears PerCpu::nmi_test_armed
  uint64_t count_before = 0, count_after = 0;
  uint64_t gs_base_in_window = 0;  // GS base after the handler returned, still in the window
  uint64_t gs_base_after = 0, kernel_gs_base_before = 0, cr4 = 0;
  unsigned cpu_index = 0;
};

// Runs on the CPU under test (its idle loop, or the test thread for the BSP).
void raise_nmi_probe(void* arg) {
  auto* p = static_cast<NmiProbe*>(arg);
  const uint64_t rflags = x86::read_rflags();
  x86::cli();
  x86::PerCpu* c = x86::this_cpu();
  const uint32_t apic_id = x86::lapic_id();
  p->cpu_index = c->index;
  p->cr4 = x86::read_cr4();
  p->kernel_gs_base_before = x86::rdmsr(x86::kMsrKernelGsBase);
  x86::wrmsr(x86::kMsrKernelGsBase, kFakeUserGsBase);
  p->count_before = c->nmi_count;
  c->nmi_test_armed = true;

  // From the first SWAPGS to the second, nothing may use GS: no this_cpu(),
  // no logging. `c` is held in a register.
  uint32_t lo = 0, hi = 0;
  if (p->user_gs) asm volatile("swapgs" ::: "memory");
  if (p->how == Raise::IntTwo) {
    // INT 2 runs the NMI gate (DPL 0, IST2) synchronously. Unlike a real NMI
    // it does not block NMIs, but nothing sends one while tests run.
    asm volatile("int $2" ::: "memory");
  } else {
    // A real NMI, sent to this CPU's own APIC ID (lapic_send_ipi uses no GS).
    x86::lapic_send_ipi(apic_id, x86::IpiMode::Nmi, 0);
    for (uint64_t spins = 0; spins < 100'000'000; ++spins) {
      if (__atomic_load_n(&c->nmi_count, __ATOMIC_ACQUIRE) != p->count_before) break;
      x86::pause();
    }
  }
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(x86::kMsrGsBase) : "memory");
  if (p->user_gs) asm volatile("swapgs" ::: "memory");

  p->gs_base_in_window = (uint64_t(hi) << 32) | lo;
  p->gs_base_after = x86::rdmsr(x86::kMsrGsBase);
  p->count_after = c->nmi_count;
  p->armed_after = c->nmi_test_armed;
  c->nmi_test_armed = false;
  x86::wrmsr(x86::kMsrKernelGsBase, p->kernel_gs_base_before);
  p->done = true;
  if (rflags & (1 << 9)) x86::sti();
}

// Runs the probe on every CPU and checks what the handler did there.
void probe_every_cpu(ktest::Context& ktest_ctx, bool user_gs, Raise how) {
  for (unsigned i = 0; i < x86::cpu_count(); ++i) {
    NmiProbe p{user_gs, how};
    KASSERT_OK(x86::run_on_cpu(i, &raise_nmi_probe, &p, 5'000'000'000ull));
    KASSERT_TRUE(p.done);
    KEXPECT_EQ(p.cpu_index, i);
    // The handler found this CPU's PerCpu through GS and took the test NMI.
    KEXPECT(!p.armed_after);
    KEXPECT(p.count_after >= p.count_before + 1);
    // It swapped back on the way out exactly when it swapped on the way in.
    KEXPECT_EQ(p.gs_base_in_window, user_gs ? kFakeUserGsBase : reinterpret_cast<uint64_t>(&x86::cpu(i)));
    KEXPECT_EQ(p.gs_base_after, reinterpret_cast<uint64_t>(&x86::cpu(i)));
    // The invariant the entry's test relies on (percpu.h): user GS bases are
    // user-half, and user code cannot write one (no WRGSBASE).
    KEXPECT_EQ(p.kernel_gs_base_before >> 63, 0u);
    KEXPECT_EQ(p.cr4 & x86::kCr4Fsgsbase, 0u);
  }
}

}  // namespace

KTEST(isr, nmi_with_user_gs_base_uses_kernel_percpu) { probe_every_cpu(ktest_ctx, true, Raise::IntTwo); }

KTEST(isr, nmi_with_kernel_gs_base_does_not_swap) { probe_every_cpu(ktest_ctx, false, Raise::IntTwo); }

KTEST(isr, real_nmi_with_user_gs_base_uses_kernel_percpu) {
  probe_every_cpu(ktest_ctx, true, Raise::SelfNmi);
}
