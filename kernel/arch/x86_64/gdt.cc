// gdt.cc — per-CPU GDT/TSS and IDT construction and loading.
#include <arch/x86_64/gdt.h>
#include <arch/x86_64/interrupts.h>

extern "C" char isr_stubs[];  // isr.S: 256 stubs, 16 bytes apart

namespace x86 {

void gdt_build(Gdt& gdt, Tss& tss) {
  gdt.entries[0] = 0;
  gdt.entries[1] = 0x00209a0000000000;  // kernel code: P, DPL0, code, L
  gdt.entries[2] = 0x0000920000000000;  // kernel data: P, DPL0, data, writable
  gdt.entries[3] = 0x00cffa000000ffff;  // user code32 (unused, keeps the SYSRET layout)
  gdt.entries[4] = 0x0000f20000000000;  // user data: DPL3
  gdt.entries[5] = 0x0020fa0000000000;  // user code64: DPL3, L
  // 64-bit TSS descriptor (system descriptor, 16 bytes; SDM Vol. 3A §7.2.3).
  uint64_t base = reinterpret_cast<uint64_t>(&tss);
  uint64_t limit = sizeof(Tss) - 1;
  gdt.entries[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t(0x89) << 40) |
                   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  gdt.entries[7] = base >> 32;
  tss.iomap_base = sizeof(Tss);  // no I/O permission bitmap
}

void gdt_load(Gdt& gdt) {
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } ptr = {sizeof(Gdt) - 1, reinterpret_cast<uint64_t>(&gdt)};
  asm volatile(
      "lgdt %0\n"
      "pushq %1\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "lretq\n"
      "1:\n"
      "movw %w2, %%ds\n"
      "movw %w2, %%es\n"
      "movw %w2, %%ss\n"
      "ltr %w3\n"
      :
      : "m"(ptr), "i"(uint64_t(kKernelCode)), "r"(uint32_t(kKernelData)), "r"(uint32_t(kTssSelector))
      : "rax", "memory");
}

void idt_build(Idt& idt) {
  for (unsigned v = 0; v < 256; ++v) {
    uint64_t addr = reinterpret_cast<uint64_t>(isr_stubs) + v * 16;
    IdtGate& g = idt.gates[v];
    g.offset_low = uint16_t(addr);
    g.selector = kKernelCode;
    g.ist = 0;
    g.type_attr = 0x8e;  // present, DPL0, 64-bit interrupt gate (IF cleared on entry)
    g.offset_mid = uint16_t(addr >> 16);
    g.offset_high = uint32_t(addr >> 32);
    g.reserved = 0;
  }
  // INT3 and INTO may be executed by user code (debuggers, checked
  // arithmetic): DPL 3, so they raise #BP/#OF instead of #GP.
  idt.gates[3].type_attr = 0xee;
  idt.gates[4].type_attr = 0xee;
  idt.gates[8].ist = kIstDoubleFault;
  idt.gates[2].ist = kIstNmi;
  idt.gates[18].ist = kIstMachineCheck;
}

void idt_load(Idt& idt) {
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } ptr = {sizeof(Idt) - 1, reinterpret_cast<uint64_t>(&idt)};
  asm volatile("lidt %0" ::"m"(ptr) : "memory");
}

}  // namespace x86
