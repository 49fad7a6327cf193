// arch/x86_64/fpu.h — per-thread FPU/SSE/AVX state (Intel SDM Vol. 1 ch. 13, XSAVE).
//
// The kernel itself never uses floating point (built with -mno-sse), so user
// state is only saved and restored around context switches between threads
// that have an FpuState (user threads). XSAVE/XRSTOR with every user state
// component the CPU supports (x87, SSE, AVX, AVX-512) when available, else
// FXSAVE/FXRSTOR (512 bytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace x86 {

// Enables the FPU, SSE and (where present) XSAVE on this CPU: CR0.MP, clears
// CR0.EM/TS, CR4.OSFXSR|OSXMMEXCPT|OSXSAVE, XCR0. Call on every CPU.
void fpu_init_cpu();

// Bytes needed for one thread's state area (64-byte aligned). Valid after
// fpu_init_cpu on the BSP.
size_t fpu_state_size();
bool fpu_uses_xsave();

// Initialises `area` (fpu_state_size() bytes, 64-byte aligned) to the
// architectural reset state: x87 control word 0x37f, MXCSR 0x1f80, no AVX state.
void fpu_init_state(void* area);

// Inline: the context switch calls them on every switch between user threads.
extern bool g_fpu_xsave;     // set by fpu_init_cpu on the BSP, then read-only
extern bool g_fpu_xsaveopt;  // XSAVEOPT (CPUID.(EAX=0DH,ECX=1):EAX[0])
extern uint64_t g_fpu_xcr0;

// XSAVEOPT writes only the components modified since the last XRSTOR from the
// same area (SDM Vol. 1 13.9): correct here because nothing but the thread
// itself changes its state between its restore and its save (the kernel
// never writes a running thread's area, and every thread is restored, or
// found still loaded, before it runs).
inline void fpu_save(void* area) {
  if (g_fpu_xsaveopt)
    asm volatile("xsaveopt64 (%0)" ::"r"(area), "a"(uint32_t(g_fpu_xcr0)), "d"(uint32_t(g_fpu_xcr0 >> 32)) : "memory");
  else if (g_fpu_xsave)
    asm volatile("xsave64 (%0)" ::"r"(area), "a"(uint32_t(g_fpu_xcr0)), "d"(uint32_t(g_fpu_xcr0 >> 32)) : "memory");
  else
    asm volatile("fxsave64 (%0)" ::"r"(area) : "memory");
}

inline void fpu_restore(const void* area) {
  if (g_fpu_xsave)
    asm volatile("xrstor64 (%0)" ::"r"(area), "a"(uint32_t(g_fpu_xcr0)), "d"(uint32_t(g_fpu_xcr0 >> 32)) : "memory");
  else
    asm volatile("fxrstor64 (%0)" ::"r"(area) : "memory");
}

}  // namespace x86
