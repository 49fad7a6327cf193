// root_task.cc — loads the first user program from a boot module and starts it.
#include <boot/cmdline.h>
#include <ktl/align.h>
#include <lib/klog.h>
#include <loader/elf.h>
#include <loader/root_task.h>
#include <mm/vm.h>
#include <object/resource.h>
#include <object/rights.h>
#include <syscall_abi.h>
#include <vm/memory_object.h>

namespace loader {
namespace {

constexpr uint64_t kStackSize = 256 * 1024;

// The module whose string (its GRUB command line) starts with `name`.
const boot::Module* find_module(const boot::BootInfo& info, std::string_view name) {
  for (size_t i = 0; i < info.module_count; ++i) {
    std::string_view s(info.modules[i].name);
    size_t sp = s.find(' ');
    std::string_view first = sp == std::string_view::npos ? s : s.substr(0, sp);
    size_t slash = first.rfind('/');
    if (slash != std::string_view::npos) first = first.substr(slash + 1);
    if (first == name) return &info.modules[i];
  }
  return nullptr;
}

// Copies the segment's file bytes into a new MemoryObject and maps it.
ktl::Result<void> load_segment(object::Process& proc, ktl::Bytes file, const ElfSegment& seg) {
  uint64_t page_off = seg.vaddr & (mm::kPageSize - 1);
  uint64_t base = seg.vaddr - page_off;
  uint64_t size = ktl::align_up(page_off + seg.memsz, mm::kPageSize);
  auto vmo = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), size, &proc.quota()));
  if (seg.filesz) TRY(vmo->write(page_off, file.data() + seg.offset, seg.filesz));
  unsigned prot = x86::Prot::Read;
  if (seg.prot & kSegWrite) prot |= x86::Prot::Write;
  if (seg.prot & kSegExec) prot |= x86::Prot::Execute;
  TRY(proc.aspace().map(vmo, 0, size, prot, base, {}, /*populate=*/true));
  return ktl::ok();
}

// First word of a module string without directories (the module's name).
std::string_view module_name(const boot::Module& m) {
  std::string_view s(m.name);
  size_t sp = s.find(' ');
  if (sp != std::string_view::npos) s = s.substr(0, sp);
  size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

// Builds the StartInfo (syscall_abi.h): the root task's own process handle,
// the boot's one Resource (device authority), a MemoryObject handle per
// boot module, and one named "framebuffer" with a BootFramebuffer record if
// the boot loader set up a usable framebuffer, and one named "acpi-rsdp" with
// the RSDP's bytes if the boot loader passed it. Returns its user address.
ktl::Result<uint64_t> build_start_info(object::Process& proc, const boot::BootInfo& info) {
  using namespace syscalls;
  static StartInfo si;  // large for a kernel stack; boot runs this once
  si = StartInfo{};
  si.magic = kStartInfoMagic;
  si.version = kAbiVersion;
  si.self_process = TRY(proc.handles().add(ktl::RefPtr<object::KernelObject>(&proc), kProcessDefaultRights));
  si.resource = TRY(proc.handles().add(TRY(object::Resource::create()), kResourceDefaultRights));
  for (size_t i = 0; i < info.module_count && si.module_count < kStartMaxModules; ++i) {
    const boot::Module& m = info.modules[i];
    if (m.size() == 0) continue;  // (the root task's own image is included: it may spawn itself)
    auto vmo = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), m.size(), &proc.quota()));
    TRY(vmo->write(0, mm::phys_to_ptr<const uint8_t>(m.start), m.size()));
    uint32_t k = si.module_count++;
    si.module_vmo[k] = TRY(proc.handles().add(static_cast<ktl::RefPtr<object::KernelObject>&&>(vmo),
                                               kRightRead | kRightExecute | kRightMap | kRightDuplicate |
                                                   kRightTransfer));
    si.module_size[k] = m.size();
    std::string_view name = module_name(m);
    char* dst = reinterpret_cast<char*>(&si.module_name[4 * k]);
    for (size_t c = 0; c < name.size() && c + 1 < 32; ++c) dst[c] = name[c];
  }
  // The boot framebuffer's description, as one more module (BootFramebuffer).
  const boot::FramebufferInfo& fb = info.framebuffer;
  if (fb.present && fb.type != boot::FramebufferType::Indexed && si.module_count < kStartMaxModules) {
    BootFramebuffer rec{};
    rec.magic = kBootFramebufferMagic;
    rec.type = fb.type == boot::FramebufferType::EgaText ? 2 : 1;
    rec.address = fb.address;
    rec.pitch = fb.pitch;
    rec.width = fb.width;
    rec.height = fb.height;
    rec.bpp = fb.bpp;
    rec.red_pos = fb.red_pos;
    rec.red_size = fb.red_size;
    rec.green_pos = fb.green_pos;
    rec.green_size = fb.green_size;
    rec.blue_pos = fb.blue_pos;
    rec.blue_size = fb.blue_size;
    auto vmo = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), mm::kPageSize, &proc.quota()));
    TRY(vmo->write(0, &rec, sizeof rec));
    uint32_t k = si.module_count++;
    si.module_vmo[k] = TRY(proc.handles().add(static_cast<ktl::RefPtr<object::KernelObject>&&>(vmo),
                                               kRightRead | kRightMap | kRightDuplicate | kRightTransfer));
    si.module_size[k] = sizeof rec;
    const char name[] = "framebuffer";
    char* dst = reinterpret_cast<char*>(&si.module_name[4 * k]);
    for (size_t c = 0; c + 1 < sizeof name; ++c) dst[c] = name[c];
  }
  // The ACPI RSDP the boot loader found (multiboot2 tag 14 or 15), as one
  // more module: under UEFI it is only in the EFI system table, which a
  // program cannot search for as it can search the BIOS area.
  const boot::RsdpInfo& rsdp = info.rsdp;
  if (rsdp.present && (rsdp.length == 20 || rsdp.length == 36) && si.module_count < kStartMaxModules) {
    auto vmo = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), mm::kPageSize, &proc.quota()));
    TRY(vmo->write(0, rsdp.bytes, rsdp.length));
    uint32_t k = si.module_count++;
    si.module_vmo[k] = TRY(proc.handles().add(static_cast<ktl::RefPtr<object::KernelObject>&&>(vmo),
                                               kRightRead | kRightMap | kRightDuplicate | kRightTransfer));
    si.module_size[k] = rsdp.length;
    const char name[] = "acpi-rsdp";
    char* dst = reinterpret_cast<char*>(&si.module_name[4 * k]);
    for (size_t c = 0; c + 1 < sizeof name; ++c) dst[c] = name[c];
  }
  auto page = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), sizeof(StartInfo), &proc.quota()));
  TRY(page->write(0, &si, sizeof si));
  return proc.aspace().map(page, 0, ktl::align_up(sizeof(StartInfo), mm::kPageSize), x86::Prot::Read, 0, {},
                           /*populate=*/true);
}

}  // namespace

ktl::Result<ktl::RefPtr<object::Process>> start_root_task(const boot::BootInfo& info, std::string_view name) {
  const boot::Module* mod = find_module(info, name);
  if (!mod) {
    klog::warn("init: no boot module named '{}'", name);
    return ktl::Error::NotFound;
  }
  ktl::Bytes file(mm::phys_to_ptr<const uint8_t>(mod->start), mod->size());
  ElfDiag diag{};
  auto image = parse_elf(file, ElfLimits{}, &diag);
  if (!image.ok()) {
    klog::error("init: '{}' is not a loadable ELF64 program: {} ({})", name, ktl::error_name(image.error()),
                diag.reason ? diag.reason : "?");
    return image.error();
  }
  if (image->pie || image->has_interp) {
    klog::error("init: '{}' must be a static, non-PIE program", name);
    return ktl::Error::Unsupported;
  }
  // The root of the quota tree: no creator, no parent quota.
  ktl::RefPtr<object::Process> proc = TRY(object::Process::create(name.data(), name.size(), nullptr));
  for (size_t i = 0; i < image->segment_count; ++i) TRY(load_segment(*proc, file, image->segments[i]));

  // The stack: at an address the kernel picks (ASLR), with no guard below it
  // other than whatever is unmapped there.
  auto stack_vmo = TRY(vm::MemoryObject::create(mm::frame_allocator_unlocked(), kStackSize, &proc->quota()));
  uint64_t stack = TRY(proc->aspace().map(stack_vmo, 0, kStackSize, x86::Prot::Read | x86::Prot::Write, 0, {}));

  uint64_t start_info = TRY(build_start_info(*proc, info));
  ktl::RefPtr<sched::Thread> t = TRY(proc->create_thread(name.data(), name.size(), image->entry,
                                                          stack + kStackSize, start_info));
  TRY(proc->start_thread(t.get(), image->entry, stack + kStackSize, start_info));
  klog::info("init: started '{}' (process {}), entry {:#x}, {} segments", name, proc->id(), image->entry,
             image->segment_count);
  return proc;
}

}  // namespace loader
