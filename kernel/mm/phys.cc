// phys.cc — storage for the direct-map base.
#include <mm/phys.h>

namespace mm {
#ifdef KEEL_HOST_TEST
uintptr_t g_direct_map_base = 0;  // tests point it at their fake RAM
#else
uintptr_t g_direct_map_base = 0xffff800000000000;  // docs/memory-layout.md
#endif
}  // namespace mm
