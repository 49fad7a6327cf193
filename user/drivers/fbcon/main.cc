// fbcon — the framebuffer text console driver, as a separate process holding
// only the boot framebuffer (DeviceMemory) and its description.
//
// init hands it out for `grant framebuffer` (docs/userspace.md): "framebuffer"
// is DeviceMemory over the pages the framebuffer touches, "framebuffer-info"
// a MemoryObject holding the kernel's BootFramebuffer record (address, pitch,
// width, height, bpp, channel layout; abi/syscalls.toml). The kernel drew
// its log there until init made that DeviceMemory; from then on the screen
// is this driver's (kernel/lib/console.h).
//
// The terminal is the kernel's own framebuffer console, klib::FbConsole
// (kernel/lib/fbcon.h, host-tested in kernel/lib/fbcon_test.cc), compiled
// into this program with the same generated font (tools/gen-font.py): UTF-8,
// scrolling, an underline cursor, SGR colours (0, 1, 7, 30-37, 40-47, 90-97,
// 100-107), cursor movement (CUU/CUD/CUF/CUB/CUP, CHA, VPA) and erasing
// (ED/EL); malformed sequences are dropped. EGA text mode works too.
//
// Protocol: keel/proto/serial.h's kAttach (the byte stream protocol): the
// transmit ring carries the bytes to draw; the receive ring stays empty.
// kSize gives the screen's size in text cells (console-fb's window size).
//
// Threads: the main thread serves the endpoint (attach, heartbeats); the
// drawing thread waits on its notification. g_lock guards the attachment.
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/proto/init.h>
#include <keel/proto/serial.h>
#include <keel/ring.h>
#include <keel/rpc.h>
#include <keel/start.h>
#include <keel/stream_server.h>
#include <lib/fbcon.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::serial;

namespace {

Handle g_notify = kInvalidHandle;  // clients signal it (kTxBit) after writing
klib::FbConsole g_console;         // the drawing thread only
uint64_t g_rows = 0, g_cols = 0;   // its size in cells (kSize)

using keel::stream::Attachment;
keel::SpinLock g_lock;
Attachment g_att;  // guarded by g_lock

// Draws what the transmit ring holds. Lock held.
void draw_locked() {
  if (!g_att.active) return;
  char buf[proto::kRingCapacity / 2];
  for (;;) {
    auto r = g_att.tx->read({reinterpret_cast<uint8_t*>(buf), sizeof buf});
    if (!r.ok()) break;
    g_console.write(buf, *r);
  }
  if (g_att.tx->needs_wakeup()) sys::notification_signal(g_att.client, proto::kClientBit);
}

void draw_loop(uint64_t) {
  for (;;) {
    g_lock.lock();
    draw_locked();
    const bool sleep = !g_att.active || g_att.tx->prepare_wait();
    g_lock.unlock();
    if (!sleep) continue;
    uint64_t bits = 0;
    (void)sys::notification_wait(g_notify, keel::now_ns() + 1'000'000'000, &bits);
  }
}

void attach(keel::IpcMessage& m, keel::rpc::Request& req) {
  keel::stream::attach(m, req, g_notify, g_lock, g_att);
}

void handle(keel::IpcMessage& m, keel::rpc::Request& req) {
  if (keel::rpc::label(m) == proto::kAttach) return attach(m, req);
  if (keel::rpc::label(m) == proto::kSize) {  // (set before the endpoint exists: no lock)
    m.words[0] = g_rows;
    m.words[1] = g_cols;
    m.tag = keel::rpc::tag(uint32_t(Status::Ok), 2);
    return;
  }
  keel::rpc::reply_status(m, Status::Unsupported);
}

// Maps the framebuffer and starts the console on it; false (logged) if the
// record is not one this console can draw on.
bool set_up_screen() {
  Handle mem = kInvalidHandle, info = kInvalidHandle;
  uint64_t mem_size = 0, info_size = 0;
  if (!keel::find_module("framebuffer", &mem, &mem_size) || !keel::find_module("framebuffer-info", &info, &info_size)) {
    keel::print("fbcon: missing start handles (framebuffer, framebuffer-info)\n");
    return false;
  }
  keel::BootFramebuffer fb{};
  if (info_size < sizeof fb || sys::vmo_read(info, 0, &fb, sizeof fb) != 0 || fb.magic != keel::kBootFramebufferMagic) {
    keel::print("fbcon: the framebuffer record is malformed\n");
    return false;
  }
  const uint64_t page = keel::kPageSize;
  const uint64_t offset = fb.address & (page - 1);
  const uint64_t bytes = uint64_t(fb.pitch) * fb.height;
  const uint64_t span = (offset + bytes + page - 1) & ~(page - 1);
  if (fb.pitch == 0 || fb.width == 0 || fb.height == 0 || bytes > (uint64_t(1) << 30) || (fb.type != 1 && fb.type != 2)) {
    keel::print("fbcon: unusable framebuffer {}x{} pitch {} type {}\n", fb.width, fb.height, fb.pitch, fb.type);
    return false;
  }
  uint64_t addr = 0;
  if (int64_t r = sys::vm_map(keel::start_info()->self_process, mem, 0, span, keel::kVmRead | keel::kVmWrite, &addr); r != 0) {
    keel::print("fbcon: cannot map the framebuffer ({} bytes): {}\n", span, keel::status_name(keel::status_of(r)));
    return false;
  }
  klib::FramebufferDesc desc{};
  desc.base = reinterpret_cast<uint8_t*>(addr + offset);
  desc.pitch = fb.pitch;
  desc.width = fb.width;
  desc.height = fb.height;
  desc.bpp = uint8_t(fb.bpp);
  desc.red_pos = uint8_t(fb.red_pos);
  desc.red_size = uint8_t(fb.red_size);
  desc.green_pos = uint8_t(fb.green_pos);
  desc.green_size = uint8_t(fb.green_size);
  desc.blue_pos = uint8_t(fb.blue_pos);
  desc.blue_size = uint8_t(fb.blue_size);
  desc.ega_text = fb.type == 2;
  if (auto r = g_console.init(desc, klib::kConsoleFont); !r.ok()) {
    keel::print("fbcon: framebuffer {}x{} {} bpp refused: {}\n", fb.width, fb.height, fb.bpp, ktl::error_name(r.error()));
    return false;
  }
  g_rows = g_console.rows();
  g_cols = g_console.cols();
  keel::print("fbcon: {}x{} {} at {:#x}, {}x{} cells\n", fb.width, fb.height, fb.type == 2 ? "EGA text" : "pixels",
              fb.address, g_console.cols(), g_console.rows());
  return true;
}

}  // namespace

int main(uint64_t) {
  if (!set_up_screen()) return 1;
  Handle ep = kInvalidHandle;
  if (sys::notification_create(&g_notify) != 0 || sys::endpoint_create(&ep) != 0) {
    keel::print("fbcon: cannot create its endpoint\n");
    return 1;
  }
  if (keel::start_thread(&draw_loop, 0, 64 * 1024) == 0) {
    keel::print("fbcon: cannot start the drawing thread\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("fbcon: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("fbcon: serving failed: {}\n", keel::status_name(st));
  return 1;
}
