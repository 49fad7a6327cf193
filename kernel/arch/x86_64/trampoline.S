// trampoline.S — application processor start-up code (Intel SDM Vol. 3A §8.4.4).
//
// smp.cc copies [ap_trampoline_start, ap_trampoline_end) to a free page below
// 1 MiB and sends INIT-SIPI-SIPI with that page as the start vector. The AP
// begins in real mode at CS:IP = page:0. Everything is addressed relative to
// the page (CS = DS = page >> 4), and the few absolute addresses are patched
// in by smp.cc (tr_gdt_ptr base, tr_far_ptr offset). The AP goes straight from
// real mode to long mode (PAE + CR3 + EFER.LME, then CR0.PE|PG together), jumps
// to the kernel's higher half through the boot page tables (which identity-map
// this page), and ap_entry64 switches to the final kernel page tables.
#define OFF(x) ((x) - ap_trampoline_start)

.section .rodata.trampoline, "a"
.code16
.global ap_trampoline_start, ap_trampoline_end
.global tr_gdt, tr_long_mode, tr_gdt_ptr, tr_far_ptr, tr_boot_cr3, tr_final_cr3, tr_stack, tr_percpu, tr_entry
ap_trampoline_start:
  cli
  cld
  movw %cs, %ax
  movw %ax, %ds
  lgdtl OFF(tr_gdt_ptr)
  movl %cr4, %eax
  orl $(1 << 5), %eax                  // PAE
  movl %eax, %cr4
  movl OFF(tr_boot_cr3), %eax
  movl %eax, %cr3
  movl $0xC0000080, %ecx
  rdmsr
  orl $((1 << 8) | (1 << 11)), %eax    // LME, NXE
  wrmsr
  movl %cr0, %eax
  orl $((1 << 31) | (1 << 16) | 1), %eax  // PG, WP, PE
  movl %eax, %cr0
  ljmpl *OFF(tr_far_ptr)

.code64
tr_long_mode:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  leaq tr_final_cr3(%rip), %rsi        // the data block, read by ap_entry64
  movq tr_entry(%rip), %rax
  jmp *%rax

.balign 16
tr_gdt:
  .quad 0
  .quad 0x00209a0000000000             // 0x08: 64-bit code
  .quad 0x0000920000000000             // 0x10: data
tr_gdt_end:
.balign 4
tr_gdt_ptr:
  .short tr_gdt_end - tr_gdt - 1
  .long 0                              // patched: physical address of tr_gdt
tr_far_ptr:
  .long 0                              // patched: physical address of tr_long_mode
  .short 0x08
.balign 8
tr_boot_cr3: .quad 0                   // boot page tables (below 4 GiB)
// The data block ap_entry64 reads, in this order:
tr_final_cr3: .quad 0                  // kernel page tables
tr_stack: .quad 0                      // top of this AP's kernel stack
tr_percpu: .quad 0                     // its PerCpu
tr_entry: .quad 0                      // ap_entry64
ap_trampoline_end:

.text
.global ap_entry64
// rsi → {final_cr3, stack, percpu}. Runs on the boot page tables in the higher half.
// Everything is read before the CR3 write: the final tables do not map the
// trampoline page, and the new stack is mapped only in them.
ap_entry64:
  movq 8(%rsi), %rsp
  movq 16(%rsi), %rdi
  movq 0(%rsi), %rax
  movq %rax, %cr3
  xorl %ebp, %ebp
  call ap_main
1:
  cli
  hlt
  jmp 1b
