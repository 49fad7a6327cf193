// arch/x86_64/layout.h — the kernel's virtual memory layout (docs/memory-layout.md).
// Shared by C++ and assembly: plain #defines only.
#pragma once

#define KERNEL_PHYS_BASE 0x200000              /* where GRUB loads the image (2 MiB) */
#define KERNEL_VIRT_BASE 0xffffffff80000000    /* -mcmodel=kernel: top 2 GiB maps phys 0 */
#define DIRECT_MAP_BASE 0xffff800000000000     /* all RAM: virt = DIRECT_MAP_BASE + phys */
#define MMIO_MAP_BASE 0xffffc00000000000       /* device memory (uncached), 1 TiB window */
#define MMIO_MAP_SIZE 0x10000000000
#define KSTACK_MAP_BASE 0xffffe00000000000     /* kernel stacks, each below a guard page */
#define KSTACK_MAP_SIZE 0x10000000000
#define BOOT_STACK_SIZE 0x4000                 /* 16 KiB, used until switch_to_kernel_stack */
#define KSTACK_SIZE 0x4000                     /* 16 KiB per kernel stack */
