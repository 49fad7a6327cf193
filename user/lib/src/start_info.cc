// start_info.cc — the root task's StartInfo and thread start-up in this process.
#include <keel/keel.h>
#include <keel/start.h>

namespace keel {
namespace {
const StartInfo* g_start_info = nullptr;

}  // namespace

extern "C" [[noreturn]] void keel_thread_entry();  // start.S: rdi = fn, rsi = arg from the stack

void record_start_arg(uint64_t arg) {
  // Only the kernel passes an address; parents pass small integers (< 64 KiB,
  // which is never mapped).
  if (arg < 0x10000) return;
  auto* si = reinterpret_cast<const StartInfo*>(arg);
  if (si->magic == kStartInfoMagic) g_start_info = si;
}

const StartInfo* start_info() { return g_start_info; }

bool find_module(std::string_view name, Handle* vmo, uint64_t* size) {
  const StartInfo* si = start_info();
  if (si == nullptr) return false;
  for (uint32_t i = 0; i < si->module_count && i < kStartMaxModules; ++i) {
    const char* s = reinterpret_cast<const char*>(&si->module_name[4 * i]);
    size_t len = 0;
    while (len < 32 && s[len] != 0) ++len;
    if (std::string_view(s, len) == name) {
      *vmo = si->module_vmo[i];
      *size = si->module_size[i];
      return true;
    }
  }
  return false;
}

size_t start_args(std::string_view* out, size_t max) {
  static char buf[1024];
  static size_t len = SIZE_MAX;
  if (len == SIZE_MAX) {
    Handle vmo = kInvalidHandle;
    uint64_t size = 0;
    len = 0;
    if (find_module("args", &vmo, &size) && size > 0) {
      const size_t n = size < sizeof buf ? size_t(size) : sizeof buf;
      if (sys::vmo_read(vmo, 0, buf, n) == 0) len = n;
    }
  }
  size_t count = 0, start = 0;
  for (size_t i = 0; i < len && count < max; ++i) {
    if (buf[i] != 0) continue;
    out[count++] = std::string_view(buf + start, i - start);
    start = i + 1;
  }
  return count;
}

[[gnu::naked, noreturn]] void signal_and_exit(Handle, uint64_t) {
  asm volatile(
      "movl %0, %%eax\n"
      "syscall\n"
      "movl %1, %%eax\n"
      "syscall\n"
      "ud2\n"
      :
      : "i"(uint32_t(sys::Syscall::NotificationSignal)), "i"(uint32_t(sys::Syscall::ThreadExit)));
}

Handle start_thread(void (*fn)(uint64_t), uint64_t arg, size_t stack_size, uint64_t* stack_out) {
  const StartInfo* si = start_info();
  if (!si) return 0;
  Handle self = si->self_process;
  Handle vmo = 0, t = 0;
  if (sys::vmo_create(stack_size, 0, &vmo) != 0) return 0;
  uint64_t addr = 0;
  int64_t r = sys::vm_map(self, vmo, 0, stack_size, kVmRead | kVmWrite, &addr);
  sys::handle_close(vmo);
  if (r != 0) return 0;
  const char name[] = "worker";
  if (sys::thread_create(self, name, sizeof name - 1, &t) != 0) {
    sys::vm_unmap(self, addr, stack_size);
    return 0;
  }
  // The new thread starts in keel_thread_entry with rdi = arg; we pass a
  // pointer to {fn, arg} placed at the top of its stack.
  uint64_t* top = reinterpret_cast<uint64_t*>(addr + stack_size) - 2;
  top[0] = reinterpret_cast<uint64_t>(fn);
  top[1] = arg;
  if (sys::thread_start(t, reinterpret_cast<uintptr_t>(&keel_thread_entry), reinterpret_cast<uintptr_t>(top),
                        reinterpret_cast<uint64_t>(top)) != 0) {
    sys::handle_close(t);
    sys::vm_unmap(self, addr, stack_size);
    return 0;
  }
  if (stack_out) *stack_out = addr;
  return t;
}

}  // namespace keel

// Called from start.S's keel_thread_entry with the {fn, arg} pair.
extern "C" [[noreturn]] void keel_thread_main(const uint64_t* pair) {
  uint64_t fn = pair[0], arg = pair[1];
  reinterpret_cast<void (*)(uint64_t)>(fn)(arg);
  keel::sys::thread_exit();
}
