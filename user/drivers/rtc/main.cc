// rtc — the CMOS real-time clock driver, as a separate process holding only
// the clock's two ports (index 0x70, data 0x71). It reads the clock on every
// request (keel/rtc.h does the update-in-progress protocol and the BCD and
// 12-hour decoding) and serves keel/proto/rtc.h. Bit 7 of the index port is
// the NMI mask on PCs: this driver always writes it clear (NMIs enabled).
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/proto/rtc.h>
#include <keel/rpc.h>
#include <keel/rtc.h>
#include <keel/start.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::rtc;

namespace {

constexpr uint32_t kIndexPort = 0x70, kDataPort = 0x71;

Handle g_ports = kInvalidHandle;
uint64_t g_boot_seconds = 0;  // wall-clock time at boot (Unix seconds)

struct Ports final : keel::rtc::RegisterReader {
  uint8_t read(uint8_t reg) override {
    uint32_t v = 0;
    (void)sys::ioport_write(g_ports, kIndexPort, 1, reg & 0x7f);
    (void)sys::ioport_read(g_ports, kDataPort, 1, &v);
    return uint8_t(v);
  }
};

Status read_clock(keel::rtc::DateTime* out) {
  Ports ports;
  auto raw = keel::rtc::read_consistent(ports);
  if (!raw.ok()) return Status::TimedOut;
  auto t = keel::rtc::decode(*raw);
  if (!t.ok()) return Status::BadState;
  *out = *t;
  return Status::Ok;
}

void handle(keel::IpcMessage& m, keel::rpc::Request&) {
  if (keel::rpc::label(m) != proto::kGetTime) return keel::rpc::reply_status(m, Status::Unsupported);
  keel::rtc::DateTime t;
  if (Status st = read_clock(&t); st != Status::Ok) return keel::rpc::reply_status(m, st);
  m.words[0] = keel::rtc::unix_seconds(t);
  m.words[1] = t.year;
  m.words[2] = t.month;
  m.words[3] = t.day;
  m.words[4] = t.hour;
  m.words[5] = t.minute;
  m.words[6] = t.second;
  m.words[7] = g_boot_seconds;
  m.tag = keel::rpc::tag(uint32_t(Status::Ok), proto::kGetTimeWords);
}

}  // namespace

int main(uint64_t) {
  uint64_t unused = 0;
  if (!keel::find_module("ioports", &g_ports, &unused)) {
    keel::print("rtc: missing start handle (ioports)\n");
    return 1;
  }
  keel::rtc::DateTime t;
  if (Status st = read_clock(&t); st != Status::Ok) {
    keel::print("rtc: cannot read the clock: {}\n", keel::status_name(st));
    return 1;
  }
  const uint64_t now = keel::rtc::unix_seconds(t);
  const uint64_t up = keel::now_ns() / 1'000'000'000;
  g_boot_seconds = now > up ? now - up : 0;
  char text[keel::rtc::kFormatSize];
  keel::rtc::format(t, text, sizeof text);
  keel::print("rtc: the time is {}\n", std::string_view(text));
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("rtc: cannot create its endpoint\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("rtc: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("rtc: serving failed: {}\n", keel::status_name(st));
  return 1;
}
