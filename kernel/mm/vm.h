// mm/vm.h — the kernel address space: paging setup, device memory, kernel stacks.
// Layout: arch/x86_64/layout.h and docs/memory-layout.md.
#pragma once

#include <arch/x86_64/page_table.h>
#include <boot/boot_info.h>
#include <ktl/result.h>
#include <mm/frame_allocator.h>
#include <mm/phys.h>

#include <cstddef>
#include <cstdint>

namespace mm {

// The global frame allocator (it takes its own interrupt-safe lock).
ktl::Result<PhysAddr> alloc_frames(unsigned order);
void free_frames(PhysAddr addr, unsigned order);
// Only frames below `limit` (e.g. 4 GiB for 32-bit DMA): O(free blocks). The
// low 1 MiB is never handed out (the AP trampoline page comes from
// x86::find_trampoline_page).
ktl::Result<PhysAddr> alloc_frames_below(unsigned order, PhysAddr limit);
FrameAllocator& frame_allocator_unlocked();  // for statistics
bool frame_allocator_check();                // check_invariants() under the lock

// Binds the kernel heap (kmalloc) to the frame allocator. After pmm_init.
ktl::Result<void> heap_init();

// Builds the kernel's final page tables — kernel sections with their
// permissions (text RX, rodata R, data RW+NX), the direct map of
// [0, max(4 GiB, top of RAM)) RW+NX with 1 GiB or 2 MiB pages — and switches
// to them, then enables CR4.PGE. Runs before pmm_init: its table pages come
// from a pool inside the kernel image.
void paging_init(const boot::BootInfo& info);

// Initialises the frame allocator from the boot memory map (usable RAM inside
// the direct map), reserving the low 1 MiB, the kernel image and the boot
// modules. Panics if no memory is usable.
void pmm_init(const boot::BootInfo& info);

// True if any byte of [phys, phys + size) is RAM that the kernel manages or
// may manage: a Usable, BootloaderReclaimable or AcpiReclaimable region of the
// boot memory map, free or in use (the kernel image and boot modules too).
// devmem_create refuses such ranges: device memory must never alias frames
// the allocator hands out. A range that wraps past 2^64 counts as RAM.
// Valid after pmm_init; the answer never changes afterwards.
bool is_ram(PhysAddr phys, uint64_t size);

// True if [phys, phys + size) lies wholly inside one AcpiReclaimable region
// of the boot memory map (firmware's ACPI tables: OVMF puts them there) and
// touches no other RAM. The kernel never hands such frames to its allocator
// (it does not reclaim them), so devmem_create may give a read-only view of
// them. False for an empty or wrapping range. Valid after pmm_init.
bool is_acpi_tables(PhysAddr phys, uint64_t size);

// Physical address of the kernel PML4 (for CR3 on every CPU).
PhysAddr kernel_page_table_root();
// The kernel's page table, whose kernel half every address space shares.
const x86::PageTable* kernel_page_table();

// Maps device memory [phys, phys + size) uncached, read-write, NX into the
// MMIO window; returns its virtual address (same offset within the page).
// Error::NoMemory when the window or the page-table frames run out.
ktl::Result<volatile void*> map_mmio(PhysAddr phys, size_t size);

// A kernel stack of KSTACK_SIZE bytes in the stack window, with an unmapped
// guard page below it (an overflow faults instead of corrupting memory).
struct KernelStack {
  uintptr_t bottom;  // lowest mapped byte
  uintptr_t top;     // initial stack pointer (exclusive end)
};
ktl::Result<KernelStack> alloc_kernel_stack();
// Returns a stack to a free list that alloc_kernel_stack reuses (the pages
// stay mapped, so no TLB shootdown is needed). The stack must not be in use.
void free_kernel_stack(const KernelStack& s);
// Returns every pooled (freed) kernel stack's frames to the frame allocator:
// unmaps them, shoots down the TLBs, frees the frames. Returns frames freed.
uint64_t trim_kernel_stacks();

// True if `virt` is mapped in the kernel page tables (used to walk stack
// frames safely during a panic).
bool kernel_address_mapped(uintptr_t virt);
// True if `virt` is in an (unmapped) guard page of the kernel-stack window.
bool is_stack_guard_page(uintptr_t virt);
// The kernel page tables' translation of `virt` (Error::NotFound if unmapped).
ktl::Result<x86::PageTable::Translation> kernel_translate(uintptr_t virt);

}  // namespace mm
