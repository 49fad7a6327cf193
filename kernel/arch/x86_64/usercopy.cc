// usercopy.cc — range checks around the fault-safe copy, SMEP/SMAP set-up.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/usercopy.h>

extern "C" char user_access_begin[], user_access_end[], user_access_fixup[];
extern "C" bool g_smap_enabled;
bool g_smap_enabled = false;  // read by usercopy.S

namespace x86 {

void user_access_init_cpu() {
  CpuidResult leaf7 = cpuid(0).eax >= 7 ? cpuid(7, 0) : CpuidResult{};
  uint64_t cr4 = read_cr4();
  if (leaf7.ebx & (1u << 7)) cr4 |= kCr4Smep;
  if (leaf7.ebx & (1u << 20)) {
    cr4 |= kCr4Smap;
    g_smap_enabled = true;  // same answer on every CPU of one machine
  }
  write_cr4(cr4);
}

uint64_t user_access_fixup_for(uint64_t rip) {
  if (rip >= reinterpret_cast<uint64_t>(user_access_begin) && rip < reinterpret_cast<uint64_t>(user_access_end))
    return reinterpret_cast<uint64_t>(user_access_fixup);
  return 0;
}

}  // namespace x86
