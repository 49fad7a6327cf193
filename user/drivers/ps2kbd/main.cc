// ps2kbd — the PS/2 keyboard driver (an i8042 controller), interrupt-driven,
// as a separate process holding only the controller's two ports (data 0x60,
// status/command 0x64) and IRQ 1.
//
// At start it brings the controller and the keyboard up (keel/ps2.h: every
// step has a deadline, so a machine without a controller costs ~0 ms and a
// dead one a few hundred). Without a working controller it logs why and
// serves anyway: clients can attach, nothing is ever typed, and init does
// not restart it in a loop.
//
// Protocol: keel/proto/serial.h's kAttach (the byte stream protocol the
// serial driver speaks): the receive ring carries what is typed, already the
// bytes a terminal sends (UTF-8 text, '\r' for Enter, DEL for Backspace,
// xterm escape sequences for cursor and function keys); the transmit ring is
// drained and ignored (there is nothing to send to a keyboard). The driver
// itself keeps the lock LEDs (caps, num, scroll) in step with the locks.
//
// Threads: the main thread serves the endpoint (attach, heartbeats); the
// device thread waits on the interrupt notification. g_lock guards the
// attachment and the keyboard state.
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/proto/init.h>
#include <keel/proto/serial.h>
#include <keel/ps2.h>
#include <keel/ring.h>
#include <keel/rpc.h>
#include <keel/start.h>
#include <keel/stream_server.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::serial;
namespace ps2 = keel::ps2;

namespace {

constexpr uint64_t kIrqBit = 1;

Handle g_data = kInvalidHandle, g_status = kInvalidHandle;  // ports 0x60 and 0x64
Handle g_irq = kInvalidHandle, g_notify = kInvalidHandle;
bool g_working = false;  // the controller came up

using keel::stream::Attachment;
keel::SpinLock g_lock;
Attachment g_att;       // guarded by g_lock
ps2::Keyboard g_keyboard;  // guarded by g_lock (the device thread only, after start)
uint64_t g_dropped = 0;

// The lock LEDs: 0xed, its ack, the LED byte, its ack (keel/ps2.h). The
// acks arrive among the scan codes and are taken out here. Device thread only.
enum class LedState : uint8_t { Idle, AwaitCommandAck, AwaitDataAck };
LedState g_led_state = LedState::Idle;
uint8_t g_leds_shown = 0;     // what the keyboard shows (or was last told)
uint64_t g_led_sent_ns = 0;   // an ack not here within 500 ms: given up
bool g_keyboard_present = false;

struct Ports final : ps2::Controller {
  uint8_t read_status() override {
    uint32_t v = 0xff;
    (void)sys::ioport_read(g_status, ps2::kStatusPort, 1, &v);
    return uint8_t(v);
  }
  uint8_t read_data() override {
    uint32_t v = 0;
    (void)sys::ioport_read(g_data, ps2::kDataPort, 1, &v);
    return uint8_t(v);
  }
  void write_command(uint8_t c) override { (void)sys::ioport_write(g_status, ps2::kStatusPort, 1, c); }
  void write_data(uint8_t v) override { (void)sys::ioport_write(g_data, ps2::kDataPort, 1, v); }
  uint64_t now_ms() override { return keel::now_ns() / 1'000'000; }
};

// Sends a byte to the keyboard once the controller has room (it takes one
// within microseconds; a wedged one loses the byte rather than hang us).
void write_keyboard(Ports& ports, uint8_t byte) {
  for (int spin = 0; spin < 1000 && (ports.read_status() & ps2::kStatusInputFull); ++spin) {
  }
  ports.write_data(byte);
}

// Starts telling the keyboard its LEDs if the locks changed. Lock held.
void update_leds(Ports& ports) {
  if (!g_keyboard_present) return;
  if (g_led_state != LedState::Idle) {
    if (keel::now_ns() - g_led_sent_ns < 500'000'000) return;
    g_led_state = LedState::Idle;  // no ack: try again below
  }
  if (g_keyboard.leds() == g_leds_shown) return;
  g_leds_shown = g_keyboard.leds();
  write_keyboard(ports, ps2::kKbdSetLeds);
  g_led_state = LedState::AwaitCommandAck;
  g_led_sent_ns = keel::now_ns();
}

// Reads what the controller has, translates it and queues the bytes. Lock held.
void receive_locked() {
  Ports ports;
  uint8_t buf[256];
  size_t n = 0;
  for (int guard = 0; guard < 256; ++guard) {
    const uint8_t status = ports.read_status();
    if (!(status & ps2::kStatusOutputFull) || status == 0xff) break;
    const uint8_t byte = ports.read_data();
    if (status & ps2::kStatusAuxData) continue;  // a mouse byte (the port is disabled, but be safe)
    if (g_led_state != LedState::Idle && (byte == ps2::kKbdAck || byte == 0xfe)) {
      if (g_led_state == LedState::AwaitCommandAck && byte == ps2::kKbdAck) {
        write_keyboard(ports, g_leds_shown);
        g_led_state = LedState::AwaitDataAck;
        g_led_sent_ns = keel::now_ns();
      } else {
        g_led_state = LedState::Idle;  // done, or refused (resend): not retried
      }
      continue;
    }
    uint8_t out[ps2::kMaxBytesPerScanCode];
    const size_t k = g_keyboard.feed(byte, out);
    for (size_t i = 0; i < k && n < sizeof buf; ++i) buf[n++] = out[i];
  }
  update_leds(ports);
  if (n == 0) return;
  if (!g_att.active || !g_att.rx->write({buf, n}).ok()) {
    g_dropped += n;
    return;
  }
  if (g_att.rx->needs_wakeup()) sys::notification_signal(g_att.client, proto::kClientBit);
}

// The transmit ring has nothing a keyboard could take: drained. Lock held.
void drain_tx_locked() {
  if (!g_att.active) return;
  uint8_t buf[512];
  while (g_att.tx->read({buf, sizeof buf}).ok()) {
  }
  if (g_att.tx->needs_wakeup()) sys::notification_signal(g_att.client, proto::kClientBit);
}

void device_loop(uint64_t) {
  for (;;) {
    g_lock.lock();
    if (g_working) receive_locked();
    drain_tx_locked();
    const bool sleep = !g_att.active || g_att.tx->prepare_wait();
    g_lock.unlock();
    if (!sleep) continue;
    uint64_t bits = 0;
    if (sys::notification_wait(g_notify, keel::now_ns() + 1'000'000'000, &bits) == 0 && (bits & kIrqBit))
      (void)sys::interrupt_ack(g_irq);
  }
}

void attach(keel::IpcMessage& m, keel::rpc::Request& req) {
  keel::stream::attach(m, req, g_notify, g_lock, g_att);
}

void handle(keel::IpcMessage& m, keel::rpc::Request& req) {
  if (keel::rpc::label(m) == proto::kAttach) return attach(m, req);
  keel::rpc::reply_status(m, Status::Unsupported);
}

}  // namespace

int main(uint64_t) {
  uint64_t unused = 0;
  if (!keel::find_module("ioports", &g_data, &unused) || !keel::find_module("ioports1", &g_status, &unused) ||
      !keel::find_module("irq", &g_irq, &unused) || !keel::find_module("irq-notify", &g_notify, &unused)) {
    keel::print("ps2kbd: missing start handles (ioports 0x60, ioports1 0x64, irq, irq-notify)\n");
    return 1;
  }
  Ports ports;
  const ps2::InitReport r = ps2::initialize(ports);
  if (!r.ok) {
    keel::print("ps2kbd: {}; serving without a keyboard\n", std::string_view(r.reason));
  } else if (!r.keyboard_present) {
    keel::print("ps2kbd: controller ready, {}\n", std::string_view(r.reason));
  } else {
    keel::print("ps2kbd: keyboard ready (scan code set 2, translated)\n");
  }
  g_working = r.ok;
  g_keyboard_present = r.ok && r.keyboard_present;
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("ps2kbd: cannot create its endpoint\n");
    return 1;
  }
  if (keel::start_thread(&device_loop, 0, 64 * 1024) == 0) {
    keel::print("ps2kbd: cannot start the device thread\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("ps2kbd: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("ps2kbd: serving failed: {}\n", keel::status_name(st));
  return 1;
}
