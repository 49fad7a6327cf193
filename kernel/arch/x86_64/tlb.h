// arch/x86_64/tlb.h — TLB invalidation on this CPU and on all others (shootdown).
//
// A changed or removed translation must be flushed from every CPU's TLB
// before the old frame can be reused. Remote CPUs are asked by NMI, not by an
// ordinary IPI: the initiator often holds an address-space lock with
// interrupts off, and a target spinning on that same lock with interrupts off
// would never take an ordinary IPI (deadlock). NMIs arrive regardless.
// Requests are serialised by one global lock. Intel SDM Vol. 3A §4.10.5.
#pragma once

#include <cstdint>

namespace x86 {

// Invalidates [virt, virt + size) on every online CPU and waits until all
// have done so. Pages of a user address space are flushed everywhere (a CPU
// not running it holds no entries beyond what INVLPG removes cheaply).
// Large ranges (> 64 pages) reload CR3 instead of flushing page by page.
void tlb_shootdown(uint64_t virt, uint64_t size);

// The same for pages of one user address space, whose page-table root is
// `root`: this CPU flushes, and only the CPUs that have `root` in CR3 (or
// are loading it) are asked. Others hold no entries of it: switching CR3
// away dropped them (no PCIDs, user pages are not global), and a CPU that
// loads it later walks the tables already changed (switch_user_state stores
// PerCpu::loaded_cr3 before writing CR3; this reads it after the change).
void tlb_shootdown_space(uint64_t root, uint64_t virt, uint64_t size);

// The NMI handler's part: returns true if this NMI was a shootdown request
// (handled), false if it was something else.
bool tlb_handle_nmi();

// Statistics: shootdowns initiated.
uint64_t tlb_shootdown_count();

}  // namespace x86
