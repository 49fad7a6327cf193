// fpu.cc — FPU/SSE/AVX enabling and state save/restore.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/fpu.h>

namespace x86 {

bool g_fpu_xsave = false;
bool g_fpu_xsaveopt = false;
uint64_t g_fpu_xcr0 = 0;

namespace {

size_t g_size = 512;

void xsetbv(uint32_t reg, uint64_t v) {
  asm volatile("xsetbv" ::"c"(reg), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}

}  // namespace

void fpu_init_cpu() {
  uint64_t cr0 = read_cr0();
  cr0 &= ~((1ull << 2) | (1ull << 3));  // EM off (no emulation), TS off
  cr0 |= (1ull << 1) | (1ull << 5);      // MP, NE (native x87 error reporting)
  write_cr0(cr0);
  uint64_t cr4 = read_cr4() | kCr4Osfxsr | kCr4Osxmmexcpt;
  bool has_xsave = cpuid(1).ecx & (1u << 26);
  if (has_xsave) cr4 |= kCr4Osxsave;
  write_cr4(cr4);
  if (has_xsave) {
    // Supported user components: x87 (0), SSE (1), AVX (2), AVX-512 (5-7).
    CpuidResult d = cpuid(0xd, 0);
    uint64_t supported = (uint64_t(d.edx) << 32) | d.eax;
    uint64_t want = supported & (0x7 | 0xe0);
    xsetbv(0, want);
    g_fpu_xcr0 = want;
    g_size = cpuid(0xd, 0).ebx;  // size for the components enabled in XCR0
    g_fpu_xsave = true;
    g_fpu_xsaveopt = cpuid(0xd, 1).eax & 1;
  }
  asm volatile("fninit");
}

size_t fpu_state_size() { return g_size; }
bool fpu_uses_xsave() { return g_fpu_xsave; }

void fpu_init_state(void* area) {
  __builtin_memset(area, 0, g_size);
  auto* bytes = static_cast<uint8_t*>(area);
  // Legacy region (FXSAVE layout): FCW at 0, MXCSR at 24 (SDM Vol. 1 Table 10-2).
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  __builtin_memcpy(bytes + 0, &fcw, sizeof fcw);
  __builtin_memcpy(bytes + 24, &mxcsr, sizeof mxcsr);
  // XSAVE header (offset 512) stays zero: XSTATE_BV = 0 means "initial state"
  // for every component except what the legacy region holds... but x87/SSE
  // are then also taken as initial, which is what we want.
}

}  // namespace x86
