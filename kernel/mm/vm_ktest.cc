// vm_ktest.cc — in-kernel tests of the frame allocator, heap and kernel page tables.
#include <arch/x86_64/layout.h>
#include <arch/x86_64/page_table.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/smp.h>
#include <mm/heap.h>
#include <mm/vm.h>
#include <test/ktest.h>

#include <atomic>

extern "C" char __text_start[], __rodata_start[], __data_start[];

KTEST(mm, frame_alloc_write_free) {
  uint64_t before = mm::frame_allocator_unlocked().free_frames();
  auto f = mm::alloc_frames(0);
  KASSERT_OK(f);
  KEXPECT_EQ(*f % mm::kPageSize, 0u);
  auto* p = mm::phys_to_ptr<volatile uint64_t>(*f);
  for (int i = 0; i < 512; ++i) p[i] = 0x1234'5678'0000'0000ull + i;
  bool same = true;
  for (int i = 0; i < 512; ++i) same &= p[i] == 0x1234'5678'0000'0000ull + i;
  KEXPECT(same);
  mm::free_frames(*f, 0);
  KEXPECT_EQ(mm::frame_allocator_unlocked().free_frames(), before);
}

KTEST(mm, frame_2m_aligned) {
  auto f = mm::alloc_frames(9);
  KASSERT_OK(f);
  KEXPECT_EQ(*f % mm::kLargePageSize, 0u);
  mm::free_frames(*f, 9);
}

KTEST(mm, frame_below_1m_for_trampolines) {
  auto f = mm::alloc_frames_below(0, 0x100000);
  // The low 1 MiB is reserved; the allocator must refuse rather than hand it out.
  KEXPECT(!f.ok());
}

KTEST(mm, frame_allocator_invariants) { KEXPECT(mm::frame_allocator_check()); }

KTEST(mm, heap_sizes_distinct_and_writable) {
  constexpr int kCount = 64;
  void* ptrs[kCount];
  for (int i = 0; i < kCount; ++i) {
    size_t size = size_t(8) << (i % 11);  // 8 B .. 8 KiB: slab classes and large blocks
    ptrs[i] = mm::kmalloc(size);
    KASSERT_TRUE(ptrs[i] != nullptr);
    KEXPECT_EQ(reinterpret_cast<uintptr_t>(ptrs[i]) % 16, 0u);
    __builtin_memset(ptrs[i], i, size);
  }
  bool intact = true;
  for (int i = 0; i < kCount; ++i) {
    size_t size = size_t(8) << (i % 11);
    auto* b = static_cast<unsigned char*>(ptrs[i]);
    for (size_t j = 0; j < size; ++j) intact &= b[j] == static_cast<unsigned char>(i);
  }
  KEXPECT(intact);
  for (int i = 0; i < kCount; ++i) mm::kfree(ptrs[i]);
}

KTEST(mm, kernel_sections_permissions) {
  auto text = mm::kernel_translate(reinterpret_cast<uintptr_t>(__text_start));
  auto ro = mm::kernel_translate(reinterpret_cast<uintptr_t>(__rodata_start));
  auto data = mm::kernel_translate(reinterpret_cast<uintptr_t>(__data_start));
  KASSERT_OK(text);
  KASSERT_OK(ro);
  KASSERT_OK(data);
  KEXPECT(text->prot & x86::Prot::Execute);
  KEXPECT(!(text->prot & x86::Prot::Write));
  KEXPECT(!(ro->prot & x86::Prot::Write));
  KEXPECT(!(ro->prot & x86::Prot::Execute));
  KEXPECT(data->prot & x86::Prot::Write);
  KEXPECT(!(data->prot & x86::Prot::Execute));
  KEXPECT_EQ(text->phys, reinterpret_cast<uintptr_t>(__text_start) - KERNEL_VIRT_BASE);
}

KTEST(mm, nothing_mapped_at_null_or_identity) {
  // The boot identity map is gone: low addresses must fault.
  KEXPECT(!mm::kernel_address_mapped(0));
  KEXPECT(!mm::kernel_address_mapped(0x200000));
}

KTEST(mm, kernel_stack_has_guard_page) {
  x86::PerCpu* c = x86::this_cpu();
  KASSERT_TRUE(c->stack_bottom != 0);
  KEXPECT(mm::kernel_address_mapped(c->stack_bottom));
  KEXPECT(mm::kernel_address_mapped(c->stack_top - 8));
  KEXPECT(!mm::kernel_address_mapped(c->stack_bottom - 1));
  uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  KEXPECT(sp >= c->stack_bottom && sp < c->stack_top);
}

KTEST(mm, fresh_stacks_are_separated_by_guards) {
  auto a = mm::alloc_kernel_stack();
  auto b = mm::alloc_kernel_stack();
  KASSERT_OK(a);
  KASSERT_OK(b);
  KEXPECT(!mm::kernel_address_mapped(a->bottom - 1));
  KEXPECT(!mm::kernel_address_mapped(b->bottom - 1));
  KEXPECT_EQ(b->top - b->bottom, uint64_t(KSTACK_SIZE));
  auto* top_word = reinterpret_cast<volatile uint64_t*>(b->top - 8);
  *top_word = 42;
  KEXPECT_EQ(*top_word, 42u);
}

KTEST(mm, direct_map_reaches_all_free_memory) {
  // Take a large block: it may come from anywhere in RAM; touch its last word.
  auto f = mm::alloc_frames(10);
  KASSERT_OK(f);
  auto* last = mm::phys_to_ptr<volatile uint64_t>(*f + (mm::kPageSize << 10) - 8);
  *last = 7;
  KEXPECT_EQ(*last, 7u);
  mm::free_frames(*f, 10);
}

KTEST(mm, mmio_is_uncached_and_nx) {
  auto v = mm::map_mmio(0xfee00000, 4096);
  KASSERT_OK(v);
  auto t = mm::kernel_translate(reinterpret_cast<uintptr_t>(const_cast<void*>(*v)));
  KASSERT_OK(t);
  KEXPECT(t->prot & x86::Prot::Uncached);
  KEXPECT(!(t->prot & x86::Prot::Execute));
  KEXPECT_EQ(t->phys, 0xfee00000u);
}

KTEST(mm, mmio_rejects_bad_ranges) {
  KEXPECT(!mm::map_mmio(0x1000, 0).ok());
  KEXPECT(!mm::map_mmio(~0ull - 10, 4096).ok());
}

namespace {

struct StressArgs {
  unsigned cpu;
  std::atomic<unsigned> errors;
};

// Allocates and frees frames of mixed orders and heap objects, writing a
// per-CPU signature into each and checking it before freeing, so that two
// CPUs handed the same memory would see each other's writes.
void mm_stress(void* p) {
  auto* args = static_cast<StressArgs*>(p);
  constexpr int kSlots = 16;
  mm::PhysAddr frames[kSlots] = {};
  unsigned orders[kSlots] = {};
  void* objs[kSlots] = {};
  size_t sizes[kSlots] = {};
  uint64_t seed = 0x9e3779b97f4a7c15ull * (args->cpu + 1);
  const uint64_t sig = 0xc0de000000000000ull | args->cpu;
  for (int iter = 0; iter < 4000; ++iter) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    int i = int(seed % kSlots);
    if (frames[i]) {
      if (*mm::phys_to_ptr<volatile uint64_t>(frames[i]) != sig + frames[i]) args->errors.fetch_add(1);
      mm::free_frames(frames[i], orders[i]);
      frames[i] = 0;
    } else {
      orders[i] = unsigned(seed >> 32) % 4;
      auto f = mm::alloc_frames(orders[i]);
      if (f.ok()) {
        frames[i] = *f;
        *mm::phys_to_ptr<volatile uint64_t>(frames[i]) = sig + frames[i];
      }
    }
    if (objs[i]) {
      auto* w = static_cast<volatile uint64_t*>(objs[i]);
      if (w[0] != sig || w[sizes[i] / 8 - 1] != sig) args->errors.fetch_add(1);
      mm::kfree(objs[i]);
      objs[i] = nullptr;
    } else {
      sizes[i] = size_t(16) << ((seed >> 40) % 9);  // 16 B .. 4 KiB
      objs[i] = mm::kmalloc(sizes[i]);
      if (objs[i]) {
        auto* w = static_cast<volatile uint64_t*>(objs[i]);
        w[0] = sig;
        w[sizes[i] / 8 - 1] = sig;
      }
    }
  }
  for (int i = 0; i < kSlots; ++i) {
    if (frames[i]) mm::free_frames(frames[i], orders[i]);
    mm::kfree(objs[i]);
  }
}

}  // namespace

KTEST(mm, concurrent_alloc_free_on_every_cpu) {
  mm::kernel_heap()->shrink();  // earlier tests may have left empty slabs cached
  uint64_t before = mm::frame_allocator_unlocked().free_frames();
  StressArgs args[x86::kMaxCpus];
  unsigned n = x86::cpu_count();
  for (unsigned c = 1; c < n; ++c) {
    args[c].cpu = c;
    args[c].errors = 0;
    KASSERT_OK(x86::post_to_cpu(c, &mm_stress, &args[c]));
  }
  args[0].cpu = 0;
  args[0].errors = 0;
  mm_stress(&args[0]);
  for (unsigned c = 1; c < n; ++c) {
    uint64_t deadline = x86::monotonic_ns() + 60'000'000'000ull;
    while (!x86::cpu_work_done(c) && x86::monotonic_ns() < deadline) x86::pause();
    KEXPECT(x86::cpu_work_done(c));
  }
  for (unsigned c = 0; c < n; ++c) KEXPECT_EQ(args[c].errors.load(), 0u);
  KEXPECT(mm::frame_allocator_check());
  KEXPECT(mm::kernel_heap()->check_invariants());
  // The heap may keep one empty slab per size class; after shrink, every frame is back.
  mm::kernel_heap()->shrink();
  KEXPECT_EQ(mm::frame_allocator_unlocked().free_frames(), before);
}
