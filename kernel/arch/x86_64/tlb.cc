// tlb.cc — TLB shootdown by NMI.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/tlb.h>
#include <lib/panic.h>
#include <lib/spinlock.h>

#include <atomic>

namespace x86 {
namespace {

klib::SpinLock g_lock;  // one shootdown at a time; guards g_virt/g_size
uint64_t g_virt = 0, g_size = 0;
std::atomic<uint32_t> g_pending{0};      // CPUs that have not acknowledged yet
std::atomic<bool> g_request[kMaxCpus];   // per CPU: a request is waiting for it
std::atomic<uint64_t> g_count{0};

constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kMaxPagesByInvlpg = 64;

void flush_local(uint64_t virt, uint64_t size) {
  if (size / kPageBytes > kMaxPagesByInvlpg) {
    // A full flush: reloading CR3 drops non-global entries; toggling PGE
    // drops global (kernel) ones too.
    uint64_t cr4 = read_cr4();
    write_cr4(cr4 & ~kCr4Pge);
    write_cr4(cr4);
    return;
  }
  for (uint64_t a = virt & ~(kPageBytes - 1); a < virt + size; a += kPageBytes) invlpg(a);
}

// This CPU's index without PerCpu: match the local APIC ID. (The NMI handler
// could use GS too: isr.S makes the kernel's GS base live even for an NMI that
// hits the syscall entry before its SWAPGS.)
int index_by_apic_id() {
  uint32_t id = lapic_id();
  for (unsigned i = 0; i < cpu_count(); ++i)
    if (cpu(i).apic_id == id) return int(i);
  return -1;
}

// root 0: every online CPU; otherwise those with `root` loaded.
void shootdown(uint64_t root, uint64_t virt, uint64_t size) {
  if (size == 0) return;
  flush_local(virt, size);
  unsigned n = cpu_count();
  if (n <= 1) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the changed entries before loaded_cr3 is read
  uint64_t flags = g_lock.lock();
  int self = index_by_apic_id();
  g_virt = virt;
  g_size = size;
  bool want[kMaxCpus] = {};
  uint32_t targets = 0;
  for (unsigned i = 0; i < n && i < kMaxCpus; ++i) {
    if (int(i) == self || !cpu(i).online.load()) continue;
    if (root != 0 && cpu(i).loaded_cr3.load(std::memory_order_seq_cst) != root) continue;
    want[i] = true;
    ++targets;
  }
  if (targets == 0) {
    g_lock.unlock(flags);
    return;
  }
  g_pending.store(targets, std::memory_order_release);
  for (unsigned i = 0; i < n && i < kMaxCpus; ++i) {
    if (!want[i]) continue;
    g_request[i].store(true, std::memory_order_release);
    lapic_send_ipi(cpu(i).apic_id, IpiMode::Nmi, 0);
  }
  for (uint64_t spins = 0; g_pending.load(std::memory_order_acquire) != 0; ++spins) {
    pause();
    if (spins > 2'000'000'000ull) panic("TLB shootdown: {} CPUs did not answer", g_pending.load());
  }
  g_count.fetch_add(1, std::memory_order_relaxed);
  g_lock.unlock(flags);
}

}  // namespace

void tlb_shootdown(uint64_t virt, uint64_t size) { shootdown(0, virt, size); }
void tlb_shootdown_space(uint64_t root, uint64_t virt, uint64_t size) { shootdown(root, virt, size); }

bool tlb_handle_nmi() {
  int self = index_by_apic_id();
  if (self < 0 || !g_request[self].load(std::memory_order_acquire)) return false;
  flush_local(g_virt, g_size);
  g_request[self].store(false, std::memory_order_relaxed);
  g_pending.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

uint64_t tlb_shootdown_count() { return g_count.load(); }

}  // namespace x86
