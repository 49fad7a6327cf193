// arch/x86_64/gdt.h — segment descriptors, the TSS and the IDT (Intel SDM Vol. 3A §3.4.5, §7.7, §6.14).
#pragma once

#include <cstdint>

namespace x86 {

// Selector layout fixed by SYSCALL/SYSRET (STAR): user data = STAR[63:48]+8,
// user code64 = STAR[63:48]+16, so user code32 precedes user data.
constexpr uint16_t kKernelCode = 0x08;
constexpr uint16_t kKernelData = 0x10;
constexpr uint16_t kUserCode32 = 0x18;
constexpr uint16_t kUserData = 0x20 | 3;
constexpr uint16_t kUserCode = 0x28 | 3;
constexpr uint16_t kTssSelector = 0x30;

// Interrupt stack table slots (1-based in the IDT gate, 0 = none).
constexpr unsigned kIstDoubleFault = 1;
constexpr unsigned kIstNmi = 2;
constexpr unsigned kIstMachineCheck = 3;

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct alignas(16) Gdt {
  uint64_t entries[8];
};

struct [[gnu::packed]] IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct alignas(4096) Idt {
  IdtGate gates[256];
};

// Fills `gdt` with the descriptors above and a TSS descriptor for `tss`.
void gdt_build(Gdt& gdt, Tss& tss);
// Loads `gdt`, reloads the segment registers and loads the task register.
void gdt_load(Gdt& gdt);
// Fills `idt` with the kernel's exception and interrupt stubs.
void idt_build(Idt& idt);
void idt_load(Idt& idt);

}  // namespace x86
