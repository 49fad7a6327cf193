// boot.S — multiboot2 header and the 32-bit entry: protected mode → long mode → higher half.
//
// GRUB enters _start in 32-bit protected mode, paging off, EAX = multiboot2
// magic, EBX = physical address of the boot information (Multiboot2 spec
// §3.3). We build temporary page tables that identity-map the first 4 GiB
// (for this code and the boot information), map the same 4 GiB at
// DIRECT_MAP_BASE, and map the kernel image at KERNEL_VIRT_BASE; then enable
// PAE + long mode + paging (Intel SDM Vol. 3A §9.8.5) and jump to the
// higher-half kernel. The kernel replaces these tables in paging_init().
#include <arch/x86_64/layout.h>

#define PHYS(x) ((x) - KERNEL_VIRT_BASE)
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

.section .multiboot2, "a"
.balign 8
mb2_header:
  .long MB2_MAGIC
  .long MB2_ARCH_I386
  .long mb2_header_end - mb2_header
  .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
  // Framebuffer tag (type 5), optional: any mode GRUB can set, 32 bpp preferred.
  .balign 8
  .short 5, 1
  .long 20
  .long 0, 0, 32
  // End tag.
  .balign 8
  .short 0, 0
  .long 8
mb2_header_end:

.section .boot.text, "ax"
.code32
.global _start
_start:
  cli
  cld
  movl %eax, %edi                       // multiboot2 magic, kept for kernel_main
  movl %ebx, %esi                       // boot information (physical)
  movl $PHYS(boot_stack_top), %esp

  // Long mode available? CPUID.80000001H:EDX.LM[bit 29].
  movl $0x80000000, %eax
  cpuid
  cmpl $0x80000001, %eax
  jb no_long_mode
  movl $0x80000001, %eax
  cpuid
  testl $(1 << 29), %edx
  jz no_long_mode

  // Zero .bss (GRUB zero-fills, but nothing in the spec promises it). The
  // stack is in .bss too, so keep the magic in a register, not on the stack.
  movl %edi, %ebp
  movl $PHYS(__bss_start), %edi
  movl $PHYS(__bss_end), %ecx
  subl %edi, %ecx
  xorl %eax, %eax
  rep stosb
  movl %ebp, %edi

  rdtsc                                 // boot start, for the banner's "booted in"
  movl %eax, PHYS(g_boot_tsc)
  movl %edx, PHYS(g_boot_tsc) + 4

  // Page directories: boot_pd[0..4) map 0..4 GiB with 2 MiB pages (PS|RW|P).
  movl $PHYS(boot_pd), %ebx
  xorl %ecx, %ecx                       // entry index 0..2047
1:
  movl %ecx, %eax
  shll $21, %eax                        // low 32 bits of index * 2 MiB
  orl $0x83, %eax
  movl %eax, (%ebx, %ecx, 8)
  movl %ecx, %eax
  shrl $11, %eax                        // high bits: index * 2 MiB >> 32
  movl %eax, 4(%ebx, %ecx, 8)
  incl %ecx
  cmpl $2048, %ecx
  jb 1b

  // boot_pdpt_low[0..4) → boot_pd pages.
  movl $PHYS(boot_pdpt_low), %ebx
  movl $PHYS(boot_pd) + 3, %eax
  movl %eax, 0(%ebx)
  addl $0x1000, %eax
  movl %eax, 8(%ebx)
  addl $0x1000, %eax
  movl %eax, 16(%ebx)
  addl $0x1000, %eax
  movl %eax, 24(%ebx)
  // boot_pdpt_high[510] → boot_pd (first GiB at KERNEL_VIRT_BASE).
  movl $PHYS(boot_pd) + 3, %eax
  movl %eax, PHYS(boot_pdpt_high) + 510 * 8
  // PML4: [0] identity, [256] direct map (DIRECT_MAP_BASE), [511] kernel.
  movl $PHYS(boot_pdpt_low) + 3, %eax
  movl %eax, PHYS(boot_pml4)
  movl %eax, PHYS(boot_pml4) + 256 * 8
  movl $PHYS(boot_pdpt_high) + 3, %eax
  movl %eax, PHYS(boot_pml4) + 511 * 8

  // CR4.PAE, CR3, EFER.LME|NXE, CR0.PG|WP.
  movl %cr4, %eax
  orl $(1 << 5), %eax
  movl %eax, %cr4
  movl $PHYS(boot_pml4), %eax
  movl %eax, %cr3
  movl $0xC0000080, %ecx
  rdmsr
  orl $((1 << 8) | (1 << 11)), %eax
  wrmsr
  movl %cr0, %eax
  orl $((1 << 31) | (1 << 16)), %eax
  movl %eax, %cr0

  lgdt boot_gdt_ptr
  ljmp $0x08, $long_mode_entry

no_long_mode:
  // Say why on COM1 (no initialisation needed for QEMU) and halt.
  movl $no_lm_msg, %esi
2:
  lodsb
  testb %al, %al
  jz 3f
  movw $0x3f8, %dx
  outb %al, %dx
  jmp 2b
3:
  hlt
  jmp 3b

.code64
long_mode_entry:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  xorw %ax, %ax
  movw %ax, %fs
  movw %ax, %gs
  movabsq $higher_half_entry, %rax
  jmp *%rax

.section .boot.data, "a"
no_lm_msg:
  .asciz "Keel: this CPU has no long mode (x86-64); cannot boot.\r\n"
.balign 16
boot_gdt:
  .quad 0
  .quad 0x00209a0000000000               // 0x08: 64-bit code, DPL 0
  .quad 0x0000920000000000               // 0x10: data
boot_gdt_end:
.balign 4
boot_gdt_ptr:
  .short boot_gdt_end - boot_gdt - 1
  .long boot_gdt

.text
higher_half_entry:
  movabsq $boot_stack_top, %rsp
  xorl %ebp, %ebp
  // edi = magic, esi = boot information (physical), as kernel_main expects.
  call kernel_main
4:
  cli
  hlt
  jmp 4b

.section .bss
.balign 4096
.global boot_pml4
boot_pml4: .skip 4096
boot_pdpt_low: .skip 4096
boot_pdpt_high: .skip 4096
boot_pd: .skip 4096 * 4
.balign 16
.global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
  .skip BOOT_STACK_SIZE
boot_stack_top:
.balign 8
.global g_boot_tsc
g_boot_tsc: .skip 8                     // TSC at _start (written after .bss is zeroed)
