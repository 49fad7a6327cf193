// console.cc — the framebuffer text console as a kernel log console.
#include <lib/console.h>
#include <lib/fbcon.h>
#include <lib/klog.h>
#include <mm/vm.h>

#include <atomic>

namespace {
klib::FbConsole g_fbcon;
uint64_t g_fb_phys = 0, g_fb_size = 0;  // set once at boot, while only one CPU runs
std::atomic<bool> g_fb_registered{false};
}

void console_init_framebuffer(const boot::FramebufferInfo& fb) {
  if (!fb.present) return;
  if (fb.type == boot::FramebufferType::Indexed) {
    klog::info("console: indexed-colour framebuffer not supported; serial only");
    return;
  }
  bool ega = fb.type == boot::FramebufferType::EgaText;
  uint64_t pitch = ega && fb.pitch == 0 ? uint64_t(fb.width) * 2 : fb.pitch;
  uint64_t size = pitch * fb.height;
  auto base = mm::map_mmio(fb.address, size);
  if (!base.ok()) {
    klog::warn("console: cannot map the framebuffer at {:#x}: {}", fb.address, ktl::error_name(base.error()));
    return;
  }
  klib::FramebufferDesc desc{};
  desc.base = static_cast<uint8_t*>(const_cast<void*>(*base));
  desc.pitch = uint32_t(pitch);
  desc.width = fb.width;
  desc.height = fb.height;
  desc.bpp = fb.bpp;
  desc.red_pos = fb.red_pos;
  desc.red_size = fb.red_size;
  desc.green_pos = fb.green_pos;
  desc.green_size = fb.green_size;
  desc.blue_pos = fb.blue_pos;
  desc.blue_size = fb.blue_size;
  desc.ega_text = ega;
  if (auto r = g_fbcon.init(desc, klib::kConsoleFont); !r.ok()) {
    klog::warn("console: framebuffer {}x{} {} bpp refused: {}", fb.width, fb.height, fb.bpp,
               ktl::error_name(r.error()));
    return;
  }
  if (!klib::kernel_log().add_console(&g_fbcon).ok()) return;
  g_fb_phys = fb.address;
  g_fb_size = size;
  g_fb_registered.store(true);
  klog::info("console: {} {}x{} at {:#x}", ega ? "EGA text" : "framebuffer", fb.width, fb.height, fb.address);
}

void console_framebuffer_claimed(uint64_t phys, uint64_t size, uint64_t process_id) {
  if (!g_fb_registered.load() || size == 0) return;
  if (phys >= g_fb_phys + g_fb_size || g_fb_phys >= phys + size) return;
  if (!g_fb_registered.exchange(false)) return;  // someone else got here first
  (void)klib::kernel_log().remove_console(&g_fbcon);
  klog::info("console: framebuffer handed to process {}; the kernel log stays on serial", process_id);
}
