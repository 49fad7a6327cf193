// vm.cc — the kernel address space: frame allocator set-up, final page tables,
// the MMIO window and kernel stacks with guard pages.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/layout.h>
#include <arch/x86_64/page_table.h>
#include <arch/x86_64/tlb.h>
#include <ktl/align.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <lib/spinlock.h>
#include <mm/heap.h>
#include <mm/vm.h>

#include <new>

extern "C" char __kernel_phys_start[], __kernel_phys_end[];
extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern "C" char __data_start[], __data_end[];

namespace mm {
namespace {

uintptr_t sym(const void* s) { return reinterpret_cast<uintptr_t>(s); }
// Physical address of a kernel-image symbol (linked at KERNEL_VIRT_BASE + phys).
PhysAddr sym_phys(const void* s) { return sym(s) - KERNEL_VIRT_BASE; }
uint64_t g_direct_map_top = 0;  // end of the direct map (bytes of physical address space)

FrameAllocator g_frames;  // locks itself

// The RAM regions of the boot memory map (see is_ram), recorded by pmm_init
// and read-only afterwards.
PhysRange g_ram[boot::BootInfo::kMaxRegions];
size_t g_ram_count = 0;
bool g_ram_acpi[boot::BootInfo::kMaxRegions];  // g_ram[i] is an AcpiReclaimable region

// The kernel page table lives in static storage, constructed by paging_init.
alignas(x86::PageTable) unsigned char g_kernel_pt_storage[sizeof(x86::PageTable)];
x86::PageTable* g_kernel_pt_ptr = nullptr;
klib::SpinLock g_kernel_pt_lock;  // guards *g_kernel_pt_ptr and the two window cursors below
uintptr_t g_mmio_next = MMIO_MAP_BASE;
uintptr_t g_kstack_next = KSTACK_MAP_BASE;

// Page-table pages for the kernel's own tables come from this pool until the
// frame allocator exists (paging_init runs first, so that the allocator can
// touch all of RAM through the direct map). 96 pages map the kernel image and
// a direct map of up to 80 GiB with 2 MiB pages, or 512 GiB with 1 GiB pages.
constexpr size_t kBootTablePages = 96;
alignas(4096) uint8_t g_boot_tables[kBootTablePages][4096];
size_t g_boot_tables_used = 0;
bool g_pmm_ready = false;

ktl::Result<PhysAddr> table_alloc(void*) {
  if (g_pmm_ready) return alloc_frames(0);
  if (g_boot_tables_used == kBootTablePages) return ktl::Error::NoMemory;
  return sym_phys(g_boot_tables[g_boot_tables_used++]);
}
void table_free(void*, PhysAddr p) {
  // Pool pages are part of the kernel image and are never returned.
  if (p >= sym_phys(g_boot_tables) && p < sym_phys(g_boot_tables) + sizeof g_boot_tables) return;
  free_frames(p, 0);
}
constexpr x86::TableAllocator kTableAllocator{&table_alloc, &table_free, nullptr};

void frame_misuse(const char* what, PhysAddr addr) { panic("frame allocator: {} at {:#x}", what, addr); }

}  // namespace

ktl::Result<PhysAddr> alloc_frames(unsigned order) { return g_frames.alloc(order); }

void free_frames(PhysAddr addr, unsigned order) { g_frames.free(addr, order); }

FrameAllocator& frame_allocator_unlocked() { return g_frames; }

bool is_ram(PhysAddr phys, uint64_t size) {
  uint64_t end;
  if (!ktl::checked_add(phys, size, end)) return true;
  for (size_t i = 0; i < g_ram_count; ++i)
    if (phys < g_ram[i].base + g_ram[i].length && g_ram[i].base < end) return true;
  return false;
}

bool is_acpi_tables(PhysAddr phys, uint64_t size) {
  uint64_t end;
  if (size == 0 || !ktl::checked_add(phys, size, end)) return false;
  bool inside = false;
  for (size_t i = 0; i < g_ram_count; ++i) {
    const uint64_t rend = g_ram[i].base + g_ram[i].length;
    if (!(phys < rend && g_ram[i].base < end)) continue;  // no overlap
    if (!g_ram_acpi[i]) return false;                     // touches other RAM
    if (g_ram[i].base <= phys && end <= rend) inside = true;
  }
  return inside;
}

void pmm_init(const boot::BootInfo& info) {
  for (size_t i = 0; i < info.region_count; ++i) {
    const auto& r = info.regions[i];
    if (r.type == boot::MemoryType::Usable || r.type == boot::MemoryType::BootloaderReclaimable ||
        r.type == boot::MemoryType::AcpiReclaimable)
    {
      g_ram_acpi[g_ram_count] = r.type == boot::MemoryType::AcpiReclaimable;
      g_ram[g_ram_count++] = {r.base, r.length};
    }
  }
  PhysRange usable[boot::BootInfo::kMaxRegions];
  size_t nusable = 0;
  for (size_t i = 0; i < info.region_count; ++i) {
    const auto& r = info.regions[i];
    if (r.type != boot::MemoryType::Usable || r.base >= g_direct_map_top) continue;
    uint64_t len = r.length;
    if (len > g_direct_map_top - r.base) len = g_direct_map_top - r.base;  // beyond the direct map: unused
    usable[nusable++] = {r.base, len};
  }
  PhysRange reserved[2 + boot::BootInfo::kMaxModules];
  size_t nreserved = 0;
  reserved[nreserved++] = {0, 0x100000};  // real-mode area, BIOS data, AP trampoline
  reserved[nreserved++] = {sym(__kernel_phys_start), sym(__kernel_phys_end) - sym(__kernel_phys_start)};
  for (size_t i = 0; i < info.module_count; ++i) {
    const auto& m = info.modules[i];
    reserved[nreserved++] = {m.start, m.end - m.start};
  }
  g_frames.misuse_handler = &frame_misuse;
  auto r = g_frames.init({usable, nusable}, {reserved, nreserved});
  if (!r.ok()) panic("pmm: cannot initialise the frame allocator: {}", ktl::error_name(r.error()));
  g_pmm_ready = true;
  // Every kernel-half PML4 entry gets its PDPT now, so address spaces that
  // share the kernel half (issue 3) see later kernel mappings too.
  if (!g_kernel_pt_ptr->populate_kernel_half().ok()) panic("paging: no memory for the kernel-half PDPTs");
  klog::info("pmm: {} MiB free of {} MiB managed", g_frames.free_frames() * kPageSize / ktl::MiB,
             g_frames.total_frames() * kPageSize / ktl::MiB);
}

ktl::Result<PhysAddr> alloc_frames_below(unsigned order, PhysAddr limit) {
  return g_frames.alloc_below(order, limit);
}

bool frame_allocator_check() { return g_frames.check_invariants(); }

ktl::Result<void> heap_init() { return mm::heap_init(g_frames); }

void paging_init(const boot::BootInfo& info) {
  auto pt = x86::PageTable::create(kTableAllocator);
  if (!pt.ok()) panic("paging: no memory for the kernel PML4");
  g_kernel_pt_ptr = new (g_kernel_pt_storage) x86::PageTable(pt.release_value());
  x86::PageTable& g_kernel_pt = *g_kernel_pt_ptr;

  auto map_or_panic = [&g_kernel_pt](uint64_t virt, PhysAddr phys, uint64_t size, unsigned prot, x86::PageSize ps) {
    auto r = g_kernel_pt.map(virt, phys, size, prot, ps);
    if (!r.ok()) panic("paging: map {:#x}+{:#x} failed: {}", virt, size, ktl::error_name(r.error()));
  };
  using x86::Prot;
  const unsigned g = Prot::Global;
  // Kernel image, section by section (W^X inside the kernel too).
  map_or_panic(sym(__text_start), sym(__text_start) - KERNEL_VIRT_BASE, sym(__text_end) - sym(__text_start),
               Prot::Read | Prot::Execute | g, x86::PageSize::k4K);
  map_or_panic(sym(__rodata_start), sym(__rodata_start) - KERNEL_VIRT_BASE,
               sym(__rodata_end) - sym(__rodata_start), Prot::Read | g, x86::PageSize::k4K);
  map_or_panic(sym(__data_start), sym(__data_start) - KERNEL_VIRT_BASE, sym(__data_end) - sym(__data_start),
               Prot::Read | Prot::Write | g, x86::PageSize::k4K);

  // Direct map of [0, max(4 GiB, top of RAM)), 1 GiB pages when the CPU has
  // them. Reserved and bad regions do not count for the top: firmware may
  // report reserved ranges near 1 TiB that need no direct mapping. Holes
  // below the top (MMIO) are mapped write-back here but are uncached in
  // practice: the firmware's MTRRs make them UC, and devices are accessed only
  // through the uncached MMIO window.
  uint64_t top = 4 * ktl::GiB;
  for (size_t i = 0; i < info.region_count; ++i) {
    const auto& r = info.regions[i];
    if (r.type == boot::MemoryType::Reserved || r.type == boot::MemoryType::BadMemory) continue;
    if (r.base + r.length > top) top = r.base + r.length;
  }
  bool gib_pages = x86::cpuid(0x80000001).edx & (1u << 26);
  uint64_t step = gib_pages ? kHugePageSize : kLargePageSize;
  top = ktl::align_up(top, step);
  // Each 2 MiB-page GiB costs one table page; stay inside the boot pool.
  const uint64_t max_top = gib_pages ? 512 * ktl::GiB : (kBootTablePages - 16) * ktl::GiB;
  if (top > max_top) {
    klog::warn("paging: RAM above {} GiB is not used yet", max_top / ktl::GiB);
    top = max_top;
  }
  g_direct_map_top = top;
  map_or_panic(DIRECT_MAP_BASE, 0, top, Prot::Read | Prot::Write | g,
               gib_pages ? x86::PageSize::k1G : x86::PageSize::k2M);

  x86::write_cr3(g_kernel_pt.root());
  x86::write_cr4(x86::read_cr4() | x86::kCr4Pge);
  klog::info("paging: kernel page tables at {:#x}; direct map {} GiB with {} pages", g_kernel_pt.root(),
             top / ktl::GiB, gib_pages ? "1 GiB" : "2 MiB");
}

PhysAddr kernel_page_table_root() { return g_kernel_pt_ptr->root(); }
const x86::PageTable* kernel_page_table() { return g_kernel_pt_ptr; }

ktl::Result<volatile void*> map_mmio(PhysAddr phys, size_t size) {
  if (size == 0) return ktl::Error::InvalidArgument;
  uint64_t end;
  if (!ktl::checked_add(phys, size, end)) return ktl::Error::Overflow;
  PhysAddr base = ktl::align_down(phys, kPageSize);
  uint64_t len = ktl::align_up(end, kPageSize) - base;
  klib::SpinLockGuard guard(g_kernel_pt_lock);
  if (g_mmio_next + len > MMIO_MAP_BASE + MMIO_MAP_SIZE) return ktl::Error::NoMemory;
  uintptr_t virt = g_mmio_next;
  TRY(g_kernel_pt_ptr->map(virt, base, len, x86::Prot::Read | x86::Prot::Write | x86::Prot::Uncached | x86::Prot::Global,
                      x86::PageSize::k4K));
  g_mmio_next += len + kPageSize;  // an unmapped page between windows catches overruns
  return reinterpret_cast<volatile void*>(virt + (phys - base));
}

namespace {
// Freed stacks, linked through their lowest word. Guarded by g_kernel_pt_lock.
uintptr_t g_free_stacks = 0;
}  // namespace

void free_kernel_stack(const KernelStack& s) {
  klib::SpinLockGuard guard(g_kernel_pt_lock);
  *reinterpret_cast<uintptr_t*>(s.bottom) = g_free_stacks;
  g_free_stacks = s.bottom;
}

uint64_t trim_kernel_stacks() {
  uint64_t freed = 0;
  for (;;) {
    uintptr_t bottom;
    {
      klib::SpinLockGuard guard(g_kernel_pt_lock);
      bottom = g_free_stacks;
      if (!bottom) break;
      g_free_stacks = *reinterpret_cast<uintptr_t*>(bottom);
    }
    PhysAddr frames[KSTACK_SIZE / kPageSize];
    {
      klib::SpinLockGuard guard(g_kernel_pt_lock);
      for (uint64_t i = 0; i < KSTACK_SIZE / kPageSize; ++i) {
        auto t = g_kernel_pt_ptr->translate(bottom + i * kPageSize);
        frames[i] = t.ok() ? t->phys : 0;
      }
      (void)g_kernel_pt_ptr->unmap(bottom, KSTACK_SIZE);
    }
    x86::tlb_shootdown(bottom, KSTACK_SIZE);  // before the frames can be reused
    for (PhysAddr f : frames)
      if (f) {
        free_frames(f, 0);
        ++freed;
      }
  }
  return freed;
}

ktl::Result<KernelStack> alloc_kernel_stack() {
  {
    klib::SpinLockGuard guard(g_kernel_pt_lock);
    if (g_free_stacks) {
      uintptr_t bottom = g_free_stacks;
      g_free_stacks = *reinterpret_cast<uintptr_t*>(bottom);
      return KernelStack{bottom, bottom + KSTACK_SIZE};
    }
  }
  constexpr uint64_t pages = KSTACK_SIZE / kPageSize;
  PhysAddr frames[pages];
  for (uint64_t i = 0; i < pages; ++i) {
    auto f = alloc_frames(0);
    if (!f.ok()) {
      for (uint64_t j = 0; j < i; ++j) free_frames(frames[j], 0);
      return ktl::Error::NoMemory;
    }
    frames[i] = *f;
  }
  klib::SpinLockGuard guard(g_kernel_pt_lock);
  if (g_kstack_next + KSTACK_SIZE + kPageSize > KSTACK_MAP_BASE + KSTACK_MAP_SIZE) {
    for (uint64_t j = 0; j < pages; ++j) free_frames(frames[j], 0);
    return ktl::Error::NoMemory;
  }
  uintptr_t bottom = g_kstack_next + kPageSize;  // the page below stays unmapped: the guard
  for (uint64_t i = 0; i < pages; ++i) {
    auto r = g_kernel_pt_ptr->map(bottom + i * kPageSize, frames[i], kPageSize,
                             x86::Prot::Read | x86::Prot::Write | x86::Prot::Global, x86::PageSize::k4K);
    if (!r.ok()) {
      (void)g_kernel_pt_ptr->unmap(bottom, i * kPageSize);
      for (uint64_t j = 0; j < pages; ++j) free_frames(frames[j], 0);
      return r.error();
    }
  }
  g_kstack_next = bottom + KSTACK_SIZE;
  return KernelStack{bottom, bottom + KSTACK_SIZE};
}

bool kernel_address_mapped(uintptr_t virt) { return kernel_translate(virt).ok(); }

bool is_stack_guard_page(uintptr_t virt) {
  // Stacks are laid out as [guard page][KSTACK_SIZE stack] from KSTACK_MAP_BASE.
  if (virt < KSTACK_MAP_BASE || virt >= KSTACK_MAP_BASE + KSTACK_MAP_SIZE) return false;
  return (virt - KSTACK_MAP_BASE) % (KSTACK_SIZE + kPageSize) < kPageSize;
}

ktl::Result<x86::PageTable::Translation> kernel_translate(uintptr_t virt) {
  if (!g_kernel_pt_ptr) return ktl::Error::NotFound;
  return g_kernel_pt_ptr->translate(virt);
}

}  // namespace mm
