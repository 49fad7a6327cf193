// mm/phys.h — physical addresses and the kernel's direct map.
//
// All physical memory below max(4 GiB, the memory map's top) is mapped at
// g_direct_map_base (0xffff800000000000 in the kernel; docs/memory-layout.md).
// Host tests point g_direct_map_base at a buffer that stands in for RAM, so
// code that touches physical memory runs unchanged on the host.
#pragma once

#include <cstdint>

namespace mm {

using PhysAddr = uint64_t;

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageShift = 12;
constexpr uint64_t kLargePageSize = 2 * 1024 * 1024;  // 2 MiB
constexpr uint64_t kHugePageSize = 1024ull * 1024 * 1024;  // 1 GiB

// Virtual address of physical address 0 in the direct map.
extern uintptr_t g_direct_map_base;

inline void* phys_to_virt(PhysAddr p) { return reinterpret_cast<void*>(g_direct_map_base + p); }
template <typename T>
inline T* phys_to_ptr(PhysAddr p) { return static_cast<T*>(phys_to_virt(p)); }
// Precondition: `v` points into the direct map.
inline PhysAddr virt_to_phys(const void* v) { return reinterpret_cast<uintptr_t>(v) - g_direct_map_base; }

}  // namespace mm
