// spawn.cc — loading static ELF64 programs into new processes (keel/spawn.h).
//
// The image is mapped read-only into the caller for the kernel's validator,
// loader::parse_elf, which needs the whole file as bytes. Each PT_LOAD then
// gets its own MemoryObject, filled with vmo_write from that mapping and
// mapped into the target at its link address — what the kernel does for the
// root task (kernel/loader/root_task.cc), with syscalls.
#include <keel/keel.h>
#include <keel/spawn.h>
#include <keel/start.h>

#include <ktl/align.h>
#include <ktl/bytes.h>
#include <loader/elf.h>

namespace keel {
namespace {

Handle g_self_process = kInvalidHandle;

constexpr uint64_t kPageMask = kPageSize - 1;


// A read-only mapping of an image in the calling process, removed when it
// goes out of scope.
class ImageMapping {
 public:
  ImageMapping() = default;
  ImageMapping(const ImageMapping&) = delete;
  ImageMapping& operator=(const ImageMapping&) = delete;
  ~ImageMapping() {
    if (len_ != 0) (void)sys::vm_unmap(process_, addr_, len_);
  }

  Status map(Handle vmo, uint64_t size) {
    if (size == 0) return Status::Truncated;
    uint64_t vmo_size = 0;
    if (int64_t r = sys::vmo_get_size(vmo, &vmo_size); r != 0) return status_of(r);
    if (size > vmo_size) return Status::OutOfRange;
    const uint64_t len = ktl::align_up(size, uint64_t(kPageSize));
    const Handle self = self_process();
    uint64_t addr = 0;
    if (int64_t r = sys::vm_map(self, vmo, 0, len, kVmRead, &addr); r != 0) return status_of(r);
    process_ = self;
    addr_ = addr;
    len_ = len;
    size_ = size;
    return Status::Ok;
  }

  ktl::Bytes bytes() const { return {reinterpret_cast<const uint8_t*>(addr_), size_}; }

 private:
  Handle process_ = kInvalidHandle;  // where it is mapped
  uint64_t addr_ = 0;
  uint64_t len_ = 0;   // mapped bytes (0: nothing mapped)
  uint64_t size_ = 0;  // the image's bytes
};

// Maps `vmo` and validates it as a static, non-PIE executable.
Status map_and_parse(Handle vmo, uint64_t size, ImageMapping& mapping, loader::ElfImage& image) {
  if (Status s = mapping.map(vmo, size); s != Status::Ok) return s;
  loader::ElfLimits limits;
  limits.allow_pie = false;
  auto parsed = loader::parse_elf(mapping.bytes(), limits);
  if (!parsed.ok()) return status_from(parsed.error());
  if (parsed->has_interp) return Status::Unsupported;  // needs a dynamic linker
  image = *parsed;
  return Status::Ok;
}

// Copies one segment's file bytes into a new MemoryObject and maps it into
// `process` at the segment's page. The mapping keeps the object alive.
Status load_segment(Handle process, ktl::Bytes file, const loader::ElfSegment& seg) {
  const uint64_t page_off = seg.vaddr & kPageMask;
  const uint64_t base = seg.vaddr - page_off;
  const uint64_t size = ktl::align_up(page_off + seg.memsz, uint64_t(kPageSize));  // checked by parse_elf
  Handle vmo = kInvalidHandle;
  if (int64_t r = sys::vmo_create(size, 0, &vmo); r != 0) return status_of(r);
  int64_t r = 0;
  if (seg.filesz != 0) r = sys::vmo_write(vmo, page_off, file.data() + seg.offset, seg.filesz);
  if (r == 0) {
    uint32_t prot = kVmRead | kVmFixed;
    if (seg.prot & loader::kSegWrite) prot |= kVmWrite;
    if (seg.prot & loader::kSegExec) prot |= kVmExecute;
    uint64_t addr = base;
    r = sys::vm_map(process, vmo, 0, size, prot, &addr);
  }
  (void)sys::handle_close(vmo);
  return status_of(r);
}

Status load_segments(Handle process, ktl::Bytes file, const loader::ElfImage& image) {
  for (size_t i = 0; i < image.segment_count; ++i) {
    if (Status s = load_segment(process, file, image.segments[i]); s != Status::Ok) return s;
  }
  return Status::Ok;
}

size_t name_length(const char* name) {
  size_t n = 0;
  while (name != nullptr && name[n] != 0) ++n;
  return n;
}

}  // namespace

void set_self_process(Handle self) { g_self_process = self; }
Handle self_process() {
  if (g_self_process != kInvalidHandle) return g_self_process;
  const StartInfo* si = start_info();
  return si != nullptr ? si->self_process : kInvalidHandle;
}

Status load_elf(Handle process, Handle image_vmo, uint64_t image_size, uint64_t* entry) {
  ImageMapping mapping;
  loader::ElfImage image;
  if (Status s = map_and_parse(image_vmo, image_size, mapping, image); s != Status::Ok) return s;
  if (Status s = load_segments(process, mapping.bytes(), image); s != Status::Ok) return s;
  *entry = image.entry;
  return Status::Ok;
}

namespace {

// map_stack keeping the MemoryObject: `*vmo` receives its handle.
Status map_stack_vmo(Handle process, size_t size, uint64_t* top, Handle* vmo) {
  *vmo = kInvalidHandle;
  if (int64_t r = sys::vmo_create(size, 0, vmo); r != 0) return status_of(r);
  uint64_t addr = 0;
  if (int64_t r = sys::vm_map(process, *vmo, 0, size, kVmRead | kVmWrite, &addr); r != 0) {
    (void)sys::handle_close(*vmo);
    *vmo = kInvalidHandle;
    return status_of(r);
  }
  *top = addr + size;
  return Status::Ok;
}

}  // namespace

Status map_stack(Handle process, size_t size, uint64_t* top) {
  Handle vmo = kInvalidHandle;
  Status s = map_stack_vmo(process, size, top, &vmo);
  if (s == Status::Ok) (void)sys::handle_close(vmo);
  return s;
}

Status start_thread_in(Handle process, const char* name, uintptr_t entry, uint64_t stack_top, uint64_t arg,
                       Handle* out_thread) {
  Handle thread = kInvalidHandle;
  if (int64_t r = sys::thread_create(process, name, name_length(name), &thread); r != 0) return status_of(r);
  if (int64_t r = sys::thread_start(thread, entry, stack_top, arg); r != 0) {
    // Never started: make sure it never runs. (The kernel keeps a created
    // thread in its process's list until the process exits.)
    (void)sys::thread_kill(thread);
    (void)sys::handle_close(thread);
    return status_of(r);
  }
  if (out_thread != nullptr) {
    *out_thread = thread;
  } else {
    (void)sys::handle_close(thread);
  }
  return Status::Ok;
}

Status spawn_prepare(Handle image_vmo, uint64_t image_size, const char* name, Prepared* out) {
  // Validate first: a malformed image never becomes a process.
  ImageMapping mapping;
  loader::ElfImage image;
  if (Status s = map_and_parse(image_vmo, image_size, mapping, image); s != Status::Ok) return s;

  Prepared p;
  if (int64_t r = sys::process_create(name, name_length(name), &p.process); r != 0) return status_of(r);
  p.entry = image.entry;
  p.info.magic = kStartInfoMagic;
  p.info.version = kAbiVersion;
  p.info.resource = kInvalidHandle;
  Status s = load_segments(p.process, mapping.bytes(), image);
  if (s == Status::Ok) s = map_stack_vmo(p.process, kSpawnStackSize, &p.stack_top, &p.stack_vmo);
  // The child's handle to itself (what the root task's StartInfo.self_process is).
  Handle self = kInvalidHandle;
  if (s == Status::Ok) s = status_of(sys::handle_duplicate(p.process, kProcessDefaultRights, &self));
  if (s == Status::Ok) {
    s = status_of(sys::handle_give(p.process, self, &p.info.self_process));
    if (s != Status::Ok) (void)sys::handle_close(self);
  }
  if (s != Status::Ok) {
    spawn_cancel(p);
    return s;
  }
  *out = p;
  return Status::Ok;
}

Status spawn_give(Prepared& prepared, std::string_view name, Handle h) {
  if (name.empty() || name.size() > 32) return Status::InvalidArgument;
  StartInfo& si = prepared.info;
  if (si.module_count >= kStartMaxModules) return Status::NoSpace;
  uint64_t size = 0;
  if (sys::vmo_get_size(h, &size) != 0) size = 0;  // not a MemoryObject (or not readable): no size
  Handle given = kInvalidHandle;
  if (int64_t r = sys::handle_give(prepared.process, h, &given); r != 0) return status_of(r);
  const uint32_t k = si.module_count++;
  si.module_vmo[k] = given;
  si.module_size[k] = size;
  char* dst = reinterpret_cast<char*>(&si.module_name[4 * k]);
  for (size_t i = 0; i < 32; ++i) dst[i] = i < name.size() ? name[i] : 0;
  return Status::Ok;
}

Status spawn_start(Prepared& prepared, const char* name, uint64_t arg, Handle* out_thread) {
  // The StartInfo goes at the top of the stack; the thread starts just below
  // it with rdi pointing at it (16-byte aligned, like any initial stack).
  prepared.info.arg = arg;
  constexpr uint64_t kInfoBytes = (sizeof(StartInfo) + 15) & ~uint64_t(15);
  const uint64_t info_addr = prepared.stack_top - kInfoBytes;
  Status s = status_of(sys::vmo_write(prepared.stack_vmo, kSpawnStackSize - kInfoBytes, &prepared.info,
                                      sizeof(StartInfo)));
  if (s == Status::Ok) s = start_thread_in(prepared.process, name, prepared.entry, info_addr, info_addr, out_thread);
  if (s != Status::Ok) {
    spawn_cancel(prepared);
    return s;
  }
  (void)sys::handle_close(prepared.stack_vmo);
  prepared.stack_vmo = kInvalidHandle;
  return Status::Ok;
}

void spawn_cancel(Prepared& prepared) {
  if (prepared.stack_vmo != kInvalidHandle) (void)sys::handle_close(prepared.stack_vmo);
  if (prepared.process != kInvalidHandle) {
    (void)sys::process_kill(prepared.process);
    (void)sys::handle_close(prepared.process);
  }
  prepared.stack_vmo = prepared.process = kInvalidHandle;
}

Status spawn(Handle image_vmo, uint64_t image_size, const char* name, uint64_t arg, Handle* out_process,
             Handle* out_thread) {
  Prepared prepared;
  if (Status s = spawn_prepare(image_vmo, image_size, name, &prepared); s != Status::Ok) return s;
  if (Status s = spawn_start(prepared, name, arg, out_thread); s != Status::Ok) return s;
  *out_process = prepared.process;
  return Status::Ok;
}

Status wait(Handle process, int64_t* code, Deadline deadline) {
  return status_of(sys::process_wait(process, deadline, code));
}

}  // namespace keel
