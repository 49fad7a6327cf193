// arch/x86_64/interrupts.h — the interrupt frame, vector assignment and handler registry.
#pragma once

#include <cstdint>

namespace x86 {

// Saved by isr.S (GPRs) and the CPU (vector/error code pushed by the stub).
struct InterruptFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;
};

// Vector map. 0–31 are CPU exceptions (Intel SDM Vol. 3A Table 6-1).
constexpr uint8_t kVectorIrqBase = 0x20;      // IOAPIC GSIs 0–23 → 0x20–0x37
constexpr uint8_t kVectorApicTimer = 0xf0;
constexpr uint8_t kVectorTlbShootdown = 0xf1;  // issue 3
constexpr uint8_t kVectorReschedule = 0xf2;    // issue 3
constexpr uint8_t kVectorTestIpi = 0xf3;       // in-kernel tests
constexpr uint8_t kVectorWakeup = 0xf4;        // ends an idle hlt (no handler needed)
constexpr uint8_t kVectorSpurious = 0xff;

using InterruptHandler = void (*)(InterruptFrame& frame, void* ctx);

// Installs `h` for `vector` (>= 32). Handlers of APIC-delivered vectors
// run with interrupts off; dispatch sends the EOI after the handler returns.
void set_interrupt_handler(uint8_t vector, InterruptHandler h, void* ctx);

// Human-readable name of an exception vector ("page fault", ...).
const char* exception_name(uint64_t vector);

}  // namespace x86

extern "C" void interrupt_dispatch(x86::InterruptFrame* frame);
