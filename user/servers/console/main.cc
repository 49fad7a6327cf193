// console — a tty with Keel's native command shell (until the Linux
// personality provides a real one). One process per tty:
//
//   service "console"     the serial port: input and output through the
//                         serial driver;
//   service "console-fb"  the screen and the keyboard: output through the
//                         fbcon driver, input from ps2kbd. It also logs each
//                         command line it runs ("console-fb: ran '...'"),
//                         which is what the in-QEMU test watches for.
//
// The process picks its tty by its service name (its process name, which
// init sets). It looks the drivers up through names, attaches a pair of
// rings to each (keel/proto/serial.h, the byte stream protocol all three
// drivers speak), and runs a line discipline (keel/tty.h: canonical mode,
// echo, erase/kill, ^C as an event) between them and the shell. If a driver
// goes away (a restart), the console finds it again and re-attaches.
//
// Each console with --login PATH in the manifest (both: --login /bin/sh)
// first hands its tty to the Linux personality for busybox sh
// (keel/proto/linux.h, docs/linux.md): the serial console's is the system
// console (/dev/console), console-fb's window size is fbcon's text cells;
// the native shell below runs when that shell exits, and `sh` starts it again.
//
// Commands: help, services, ps, kill NAME, lookup NAME, ask NAME LABEL
// [WORD...], dmesg, mem, date,
// lsdev, uptime, echo TEXT, sh, poweroff, reboot, and the file commands ls, cat,
// stat, mkdir, rmdir, rm, mv, write, echo TEXT > PATH, cd, pwd.
// services/ps/kill/poweroff ask init (keel/proto/init.h); date asks the rtc
// driver (keel/proto/rtc.h); lsdev asks devmgr (keel/proto/devmgr.h); the
// file commands ask vfs (keel/fs.h).
#include <keel/alloc.h>
#include <keel/fs.h>
#include <keel/keel.h>
#include <keel/path.h>
#include <keel/pci.h>
#include <keel/proto/devmgr.h>
#include <keel/proto/init.h>
#include <keel/proto/linux.h>
#include <keel/proto/names.h>
#include <keel/proto/rtc.h>
#include <keel/proto/serial.h>
#include <keel/ring.h>
#include <keel/rtc.h>
#include <keel/rpc.h>
#include <keel/start.h>
#include <keel/tty.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace serial = keel::proto::serial;
namespace init_proto = keel::proto::init;

namespace {

constexpr uint64_t kMs = 1'000'000;

Handle g_init = kInvalidHandle, g_names = kInvalidHandle;
Handle g_notify = kInvalidHandle;  // ours: the drivers signal it

// One driver attachment.
struct Device {
  const char* name = "";
  Handle endpoint = kInvalidHandle;       // the driver's endpoint (badged for us)
  Handle driver_notify = kInvalidHandle;  // signalled after we wrote (kTxBit)
  uint64_t rings = 0;
  keel::RingConsumer* rx = nullptr;  // the rings of the current attachment
  keel::RingProducer* tx = nullptr;
};
Device g_serial{"serial"}, g_fbcon{"fbcon"}, g_ps2kbd{"ps2kbd"};
Device* g_in = &g_serial;   // input comes from here
Device* g_out = &g_serial;  // output goes there
bool g_fb_tty = false;      // console-fb
keel::tty::LineDiscipline g_tty;

void attach(Device& dev);
bool alive(Device& dev);

// ---------------------------------------------------------------- output

// Queues `bytes` (already processed for output) to the driver, waiting for
// room when the ring is full.
// A driver that takes nothing for 2 s is asked whether it is still there;
// if not, the console re-attaches and drops the rest.
void send_raw(std::span<const uint8_t> bytes) {
  int waits = 0;
  while (!bytes.empty()) {
    size_t n = bytes.size() < 1024 ? bytes.size() : 1024;
    auto r = g_out->tx->write(bytes.first(n));
    if (!r.ok()) {
      if (r.error() == ktl::Error::InvalidArgument) return;  // broken ring: the driver restarts
      if (++waits % 20 == 0 && !alive(*g_out)) {
        attach(*g_out);
        return;
      }
      if (g_out->tx->prepare_wait(n)) {
        uint64_t bits;
        (void)sys::notification_wait(g_notify, keel::now_ns() + 100 * kMs, &bits);
      }
      continue;
    }
    bytes = bytes.subspan(n);
    if (g_out->tx->needs_wakeup()) sys::notification_signal(g_out->driver_notify, serial::kTxBit);
  }
}

struct Interrupts final : keel::tty::Signals {
  bool interrupted = false;
  void raise(keel::tty::Signal) override { interrupted = true; }
};

// Feeds what the terminal sent to the line discipline, echoing. Returns false
// if nothing was there.
bool take_input(Interrupts& sig) {
  uint8_t buf[512];
  auto r = g_in->rx->read({buf, sizeof buf});
  if (!r.ok()) return false;
  keel::tty::OutputBuffer<1024> echo;
  g_tty.input({buf, *r}, echo, sig);
  send_raw(echo.bytes());
  return true;
}

// Output is stopped (^S): keep reading input — ^Q, or ^C, which gives up the
// output — until it restarts.
bool wait_until_output_restarts() {
  Interrupts sig;
  while (g_tty.output_stopped()) {
    if (!take_input(sig)) {
      if (g_in->rx->broken()) return false;
      uint64_t bits = 0;
      if (g_in->rx->prepare_wait()) (void)sys::notification_wait(g_notify, keel::now_ns() + 100 * kMs, &bits);
    }
    if (sig.interrupted) {
      g_tty.start_output();
      return false;
    }
  }
  return true;
}

// Writes text through the line discipline's output processing (\n → \r\n).
void put(std::string_view text) {
  auto in = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  while (!in.empty()) {
    if (g_tty.output_stopped() && !wait_until_output_restarts()) return;
    keel::tty::OutputBuffer<512> out;
    size_t used = g_tty.process_output(in, out);
    send_raw(out.bytes());
    if (used == 0 && !g_tty.output_stopped()) break;
    in = in.subspan(used);
  }
}

template <typename... A>
void putf(std::string_view fmt, const A&... args) {
  char buf[512];
  size_t n = ktl::format(buf, sizeof buf, fmt, args...);
  put({buf, n});
}

// ---------------------------------------------------------------- the driver

// Finds the driver and attaches fresh rings. Retries until it works.
void attach(Device& dev) {
  for (;;) {
    if (dev.endpoint != kInvalidHandle) sys::handle_close(dev.endpoint);
    dev.endpoint = kInvalidHandle;
    keel::IpcMessage m{};
    uint32_t at = keel::rpc::put_string(m, 0, dev.name);
    m.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
    Status st = keel::rpc::call(g_names, m, keel::now_ns() + 2000 * kMs);
    if (st == Status::Ok && keel::rpc::handles(m) == 1) {
      dev.endpoint = m.handles[0];
      Handle vmo = kInvalidHandle, vmo_copy = kInvalidHandle, notify_copy = kInvalidHandle;
      uint64_t addr = 0;
      if (sys::vmo_create(serial::kRingsSize, 0, &vmo) == 0 &&
          sys::vm_map(keel::start_info()->self_process, vmo, 0, serial::kRingsSize, keel::kVmRead | keel::kVmWrite, &addr) == 0) {
        auto* base = reinterpret_cast<uint8_t*>(addr);
        (void)keel::RingView::format({base, serial::kRingBytes}, serial::kRingCapacity);
        (void)keel::RingView::format({base + serial::kTxOffset, serial::kRingBytes}, serial::kRingCapacity);
        auto rx = keel::RingConsumer::attach({base, serial::kRingBytes});
        auto tx = keel::RingProducer::attach({base + serial::kTxOffset, serial::kRingBytes});
        if (rx.ok() && tx.ok() &&
            sys::handle_duplicate(vmo, keel::kRightRead | keel::kRightWrite | keel::kRightMap | keel::kRightTransfer, &vmo_copy) == 0 &&
            sys::handle_duplicate(g_notify, keel::kRightSignal | keel::kRightTransfer, &notify_copy) == 0) {
          keel::IpcMessage a{};
          a.handles[0] = vmo_copy;
          a.handles[1] = notify_copy;
          a.tag = keel::rpc::tag(serial::kAttach, 0, 2);
          if (keel::rpc::call(dev.endpoint, a, keel::now_ns() + 2000 * kMs) == Status::Ok && keel::rpc::handles(a) == 1) {
            if (dev.rings) sys::vm_unmap(keel::start_info()->self_process, dev.rings, serial::kRingsSize);
            if (dev.driver_notify != kInvalidHandle) sys::handle_close(dev.driver_notify);
            dev.rings = addr;
            delete dev.rx;
            delete dev.tx;
            dev.rx = new keel::RingConsumer(static_cast<keel::RingConsumer&&>(*rx));
            dev.tx = new keel::RingProducer(static_cast<keel::RingProducer&&>(*tx));
            dev.driver_notify = a.handles[0];
            sys::handle_close(vmo);
            return;
          }
        }
        sys::vm_unmap(keel::start_info()->self_process, addr, serial::kRingsSize);
      }
      if (vmo != kInvalidHandle) sys::handle_close(vmo);
    } else if (st == Status::AccessDenied) {
      keel::print("console: the policy does not let the console use the {} driver\n", std::string_view(dev.name));
    }
    sys::thread_sleep(keel::now_ns() + 50 * kMs);
  }
}

// True if the driver still answers (a ping on its endpoint).
bool alive(Device& dev) {
  keel::IpcMessage m{};
  m.tag = keel::rpc::tag(keel::rpc::kMethodPing, 0);
  return keel::rpc::call(dev.endpoint, m, keel::now_ns() + 1000 * kMs) == Status::Ok;
}

// Re-attaches to `dev` and says so, on the tty and (console-fb) in the log.
void reattach(Device& dev);

// ---------------------------------------------------------------- the shell

struct ServiceInfo {
  char name_buf[32], program_buf[128];
  std::string_view name, program;
  uint64_t pid, state, restarts, uptime_ns, threads, memory;
  int64_t last_exit;
};

Status service_info(uint64_t index, ServiceInfo* out) {
  keel::IpcMessage m{};
  m.words[0] = index;
  m.tag = keel::rpc::tag(init_proto::kServiceInfo, 1);
  Status st = keel::rpc::call(g_init, m, keel::now_ns() + 2000 * kMs);
  if (st != Status::Ok) return st;
  uint32_t at = 0;
  if (!keel::rpc::get_string(m, 0, out->name_buf, sizeof out->name_buf, &out->name, &at) ||
      !keel::rpc::get_string(m, at, out->program_buf, sizeof out->program_buf, &out->program, &at) ||
      keel::rpc::words(m) < at + 7)
    return Status::InvalidArgument;
  out->pid = m.words[at];
  out->state = m.words[at + 1];
  out->restarts = m.words[at + 2];
  out->last_exit = int64_t(m.words[at + 3]);
  out->uptime_ns = m.words[at + 4];
  out->threads = m.words[at + 5];
  out->memory = m.words[at + 6];
  return Status::Ok;
}

void cmd_services() {
  put("NAME          PID  STATE      RESTARTS  UPTIME s  PROGRAM\n");
  for (uint64_t i = 0;; ++i) {
    ServiceInfo s{};
    Status st = service_info(i, &s);
    if (st == Status::OutOfRange) break;
    if (st != Status::Ok) {
      putf("services: {}\n", keel::status_name(st));
      break;
    }
    putf("{:12}  {:3}  {:9}  {:8}  {:8}  {}\n", s.name, s.pid, init_proto::state_name(init_proto::State(s.state)),
         s.restarts, s.uptime_ns / 1'000'000'000, s.program);
  }
}

// Every process in the system (init asks the kernel: we hold no authority).
void cmd_ps() {
  put("  PID  PPID  THREADS   KMEM KiB  NAME\n");
  uint64_t after = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    keel::IpcMessage m{};
    m.words[0] = after;
    m.tag = keel::rpc::tag(init_proto::kProcessNext, 1);
    Status st = keel::rpc::call(g_init, m, keel::now_ns() + 2000 * kMs);
    if (st == Status::OutOfRange) return;
    char buf[40];
    std::string_view name;
    if (st != Status::Ok || keel::rpc::words(m) < 7 || !keel::rpc::get_string(m, 6, buf, sizeof buf, &name, nullptr) ||
        m.words[0] <= after) {
      putf("ps: {}\n", keel::status_name(st == Status::Ok ? Status::InvalidArgument : st));
      return;
    }
    after = m.words[0];
    putf("{:5}  {:4}  {:7}  {:9}  {}{}\n", m.words[0], m.words[1], m.words[2], m.words[5] / 1024, name,
         m.words[3] ? " (exited)" : "");
  }
}

void cmd_kill(std::string_view name) {
  if (name.empty()) return put("usage: kill NAME\n");
  keel::IpcMessage m{};
  uint32_t at = keel::rpc::put_string(m, 0, name);
  m.tag = keel::rpc::tag(init_proto::kKill, at);
  Status st = keel::rpc::call(g_init, m, keel::now_ns() + 2000 * kMs);
  if (st == Status::Ok) {
    putf("killed {}\n", name);
  } else {
    putf("kill {}: {}\n", name, keel::status_name(st));
  }
}

// Asks names for a service, as any client would: shows what the policy allows.
void cmd_lookup(std::string_view name) {
  if (name.empty()) return put("usage: lookup NAME\n");
  keel::IpcMessage m{};
  uint32_t at = keel::rpc::put_string(m, 0, name);
  m.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
  Status st = keel::rpc::call(g_names, m, keel::now_ns() + 2000 * kMs);
  if (st == Status::Ok && keel::rpc::handles(m) == 1) {
    sys::handle_close(m.handles[0]);
    putf("{}: found\n", name);
  } else {
    putf("{}: {}\n", name, keel::status_name(st));
  }
}

// The kernel log, as init reads it for us (the console holds no device authority).
void cmd_dmesg() {
  uint64_t seq = 0;
  for (int lines = 0; lines < 100000; ++lines) {
    keel::IpcMessage m{};
    m.words[0] = seq;
    m.tag = keel::rpc::tag(init_proto::kLogRead, 1);
    Status st = keel::rpc::call(g_init, m, keel::now_ns() + 2000 * kMs);
    if (st == Status::WouldBlock) return;
    char buf[init_proto::kLogLineMax];
    std::string_view line;
    if (st != Status::Ok || keel::rpc::words(m) < 1 || !keel::rpc::get_string(m, 1, buf, sizeof buf, &line, nullptr)) {
      putf("dmesg: {}\n", keel::status_name(st == Status::Ok ? Status::InvalidArgument : st));
      return;
    }
    seq = m.words[0];
    put(line);
  }
}

void cmd_mem() {
  keel::SystemStats s{};
  sys::system_stats(&s, sizeof s);
  putf("frames: {} total, {} free ({} MiB free of {} MiB)\n", s.frames_total, s.frames_free,
       s.frames_free * keel::kPageSize >> 20, s.frames_total * keel::kPageSize >> 20);
  putf("kernel heap: {} KiB, objects: {}, processes: {}, threads: {}\n", s.heap_bytes_used / 1024, s.objects_live,
       s.processes_live, s.threads_live);
}

void cmd_uptime() {
  keel::SystemStats s{};
  sys::system_stats(&s, sizeof s);
  const uint64_t secs = s.uptime_ns / 1'000'000'000;
  putf("up {}:{:02}:{:02}, {} cpus, {} context switches, {} syscalls\n", secs / 3600, secs / 60 % 60, secs % 60, s.cpus,
       s.context_switches, s.syscalls);
}

// Calls the service `name`, looked up through names for each request (a
// fresh badged copy of what is registered now), with one retry on a new
// lookup: a service that was restarted may leave a stale endpoint behind,
// which its last handles keep open, so a call on it waits rather than
// failing with PeerClosed. Idempotent requests only.
Status call_service(std::string_view name, keel::IpcMessage& m) {
  const keel::IpcMessage request = m;
  Status st = Status::NotFound;
  for (int attempt = 0; attempt < 2; ++attempt) {
    keel::IpcMessage l{};
    uint32_t at = keel::rpc::put_string(l, 0, name);
    l.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
    st = keel::rpc::call(g_names, l, keel::now_ns() + 2000 * kMs);
    if (st != Status::Ok) return st;
    if (keel::rpc::handles(l) != 1) return Status::InvalidArgument;
    Handle ep = l.handles[0];
    m = request;
    st = keel::rpc::call(ep, m, keel::now_ns() + 1000 * kMs);
    sys::handle_close(ep);
    if (st != Status::PeerClosed && st != Status::TimedOut) return st;
    sys::thread_sleep(keel::now_ns() + 100 * kMs);
  }
  return st;
}

// The wall-clock time, from the CMOS clock driver.
void cmd_date() {
  keel::IpcMessage m{};
  m.tag = keel::rpc::tag(keel::proto::rtc::kGetTime, 0);
  Status st = call_service("rtc", m);
  if (st == Status::Ok && keel::rpc::words(m) < keel::proto::rtc::kGetTimeWords) st = Status::InvalidArgument;
  if (st != Status::Ok) return putf("date: {}\n", keel::status_name(st));
  static constexpr const char* kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  const keel::rtc::DateTime t = keel::rtc::from_unix_seconds(m.words[0]);
  char text[keel::rtc::kFormatSize];
  keel::rtc::format(t, text, sizeof text);
  putf("{} {}\n", kDays[keel::rtc::weekday(t)], std::string_view(text));
}

// ask NAME LABEL [WORD...]: one request to a service the policy lets the
// console look up (a label and up to 8 words, decimal or 0x hex), its reply
// status and words printed in hex. For trying a driver's protocol by hand.
bool parse_word(std::string_view t, uint64_t* out) {
  uint64_t v = 0;
  const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  if (hex) t.remove_prefix(2);
  if (t.empty() || t.size() > (hex ? 16u : 19u)) return false;
  for (char c : t) {
    unsigned d;
    if (c >= '0' && c <= '9') d = unsigned(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
    else return false;
    v = v * (hex ? 16 : 10) + d;
  }
  *out = v;
  return true;
}

void cmd_ask(std::string_view arg) {
  std::string_view tok[10];
  size_t n = 0;
  while (!arg.empty()) {
    size_t sp = arg.find(' ');
    std::string_view t = arg.substr(0, sp);
    if (!t.empty()) {
      if (n == 10) return put("ask: at most 8 words\n");
      tok[n++] = t;
    }
    if (sp == std::string_view::npos) break;
    arg.remove_prefix(sp + 1);
  }
  uint64_t label = 0;
  if (n < 2 || !parse_word(tok[1], &label) || label == 0 || label > 0xffff)
    return put("usage: ask NAME LABEL [WORD...] (LABEL 1..65535, at most 8 words)\n");
  keel::IpcMessage m{};
  for (size_t i = 2; i < n; ++i)
    if (!parse_word(tok[i], &m.words[i - 2])) return putf("ask: not a number: {}\n", tok[i]);
  m.tag = keel::rpc::tag(uint32_t(label), uint32_t(n - 2));
  Status st = call_service(tok[0], m);
  if (st != Status::Ok) return putf("{}: {}\n", tok[0], keel::status_name(st));
  char out[256];
  size_t len = ktl::format(out, sizeof out, "{}: {}", tok[0], keel::status_name(Status(keel::rpc::label(m))));
  const uint32_t words = keel::rpc::words(m) < 8 ? keel::rpc::words(m) : 8;
  for (uint32_t i = 0; i < words; ++i) len += ktl::format(out + len, sizeof out - len, " {:#x}", m.words[i]);
  putf("{}\n", std::string_view(out, len));
}

const char* bar_kind_name(uint64_t kind) {
  namespace dm = keel::proto::devmgr;
  switch (kind) {
    case dm::kBarIo: return "io";
    case dm::kBarMem32: return "mem32";
    case dm::kBarMem64: return "mem64";
    case dm::kBarInvalid: return "invalid";
    default: return "none";
  }
}

// The BARs of device `index` (lsdev -v), one line each, implemented ones only.
void print_bars(uint64_t index, uint64_t header_type) {
  namespace dm = keel::proto::devmgr;
  const uint64_t bars = header_type == 0 ? 6 : header_type == 1 ? 2 : 0;
  for (uint64_t b = 0; b < bars; ++b) {
    keel::IpcMessage m{};
    m.words[0] = index;
    m.words[1] = b;
    m.tag = keel::rpc::tag(dm::kBarInfo, 2);
    Status st = call_service("devmgr", m);
    if (st == Status::Ok && keel::rpc::words(m) < dm::kBarInfoWords) st = Status::InvalidArgument;
    if (st != Status::Ok) return putf("    bar {}: {}\n", b, keel::status_name(st));
    if (m.words[0] == dm::kBarNone) continue;
    putf("    bar {}: {} {:#x} size {:#x}{}\n", b, bar_kind_name(m.words[0]), m.words[1], m.words[2],
         m.words[3] ? " prefetchable" : "");
  }
}

// The PCI functions devmgr found, one line each; with -v their BARs and
// interrupt lines too.
void cmd_lsdev(std::string_view arg) {
  const bool verbose = arg == "-v";
  if (!verbose && !arg.empty()) return put("usage: lsdev [-v]\n");
  namespace dm = keel::proto::devmgr;
  keel::IpcMessage m{};
  m.tag = keel::rpc::tag(dm::kSummary, 0);
  Status st = call_service("devmgr", m);
  if (st == Status::Ok && keel::rpc::words(m) < dm::kSummaryWords) st = Status::InvalidArgument;
  if (st != Status::Ok) return putf("lsdev: {}\n", keel::status_name(st));
  const uint64_t count = m.words[0];
  if (dm::Access(m.words[1]) == dm::Access::Ecam) {
    putf("{} PCI functions (ECAM at {:#x}, buses {}-{})\n", count, m.words[2], m.words[3], m.words[4]);
  } else if (dm::Access(m.words[1]) == dm::Access::Legacy) {
    putf("{} PCI functions (configuration mechanism #1, buses {}-{})\n", count, m.words[3], m.words[4]);
  } else {
    putf("{} PCI functions (no configuration access: see dmesg)\n", count);
  }
  for (uint64_t i = 0; i < count; ++i) {
    m = keel::IpcMessage{};
    m.words[0] = i;
    m.tag = keel::rpc::tag(dm::kDeviceInfo, 1);
    st = call_service("devmgr", m);
    char buf[dm::kDriverNameMax + 1];
    std::string_view driver;
    if (st == Status::Ok && (keel::rpc::words(m) < dm::kDeviceInfoWords ||
                             !keel::rpc::get_string(m, dm::kDeviceInfoWords, buf, sizeof buf, &driver, nullptr)))
      st = Status::InvalidArgument;
    if (st != Status::Ok) return putf("lsdev: device {}: {}\n", i, keel::status_name(st));
    const uint64_t* w = m.words;
    putf("{:02x}:{:02x}.{} {:04x}:{:04x} class {:02x}.{:02x}.{:02x} {:22}", w[0], w[1], w[2], w[3], w[4], w[5], w[6],
         w[7], keel::pci::class_name(uint8_t(w[5]), uint8_t(w[6])));
    if (w[10] != 0) putf(" INT{}#", char('A' + w[10] - 1));
    if (w[11] & dm::kFlagMsi) putf(" MSI({})", w[13]);
    if (w[11] & dm::kFlagMsiX) putf(" MSI-X({})", w[14]);
    putf(" driver {}\n", driver.empty() ? std::string_view("-") : driver);
    if (verbose) {
      if (w[10] != 0) {
        if (w[15] != dm::kNoGsi) putf("    interrupt line {}, INTx GSI {}\n", w[9], w[15]);
        else putf("    interrupt line {}, INTx not routed: {}\n", w[9], keel::pci::intx_route_name(keel::pci::IntxRoute(w[16])));
      }
      print_bars(i, w[12]);
    }
  }
}

// ---------------------------------------------------------------- files

namespace fsp = keel::proto::fs;

char g_cwd[fsp::kPathMax + 1] = "/";
size_t g_cwd_len = 1;

// An absolute path for `arg`: as it is, or under the working directory.
// The VFS normalises it ("." and ".." too); past the bounds, NameTooLong.
struct FullPath {
  char buf[2 * fsp::kPathMax + 2];
  size_t len = 0;
  std::string_view view() const { return {buf, len}; }
  void add(std::string_view s) {  // (what does not fit is cut: the VFS then finds it too long)
    for (char c : s)
      if (len < sizeof buf) buf[len++] = c;
  }
};
FullPath full_path(std::string_view arg) {
  FullPath p;
  if (arg.empty() || arg[0] != '/') {
    p.add({g_cwd, g_cwd_len});
    p.add("/");
  }
  p.add(arg);
  return p;
}

// Splits "first rest" at the first blank.
std::string_view first_word(std::string_view* arg) {
  std::string_view in = *arg;
  size_t sp = in.find(' ');
  std::string_view word = in.substr(0, sp);
  in = sp == std::string_view::npos ? std::string_view() : in.substr(sp + 1);
  while (!in.empty() && in.front() == ' ') in.remove_prefix(1);
  *arg = in;
  return word;
}

const char* type_name(uint64_t type) {
  switch (type) {
    case fsp::kTypeFile: return "file";
    case fsp::kTypeDirectory: return "directory";
    case fsp::kTypeSymlink: return "symlink";
    default: return "unknown";
  }
}

// "drwxr-xr-x" for a type and mode.
void mode_string(uint64_t type, uint64_t mode, char out[11]) {
  out[0] = type == fsp::kTypeDirectory ? 'd' : type == fsp::kTypeSymlink ? 'l' : '-';
  static constexpr char kBits[] = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) out[1 + i] = (mode & (0400u >> i)) ? kBits[i] : '-';
  out[10] = 0;
}

void print_entry(bool long_form, std::string_view dir, std::string_view name, uint64_t type, uint64_t size) {
  if (!long_form) return putf("{}{}\n", name, type == fsp::kTypeDirectory ? "/" : "");
  keel::fs::Info info{type, size, 0, 0};
  FullPath p = full_path(dir);
  p.add("/");
  p.add(name);
  (void)keel::fs::stat(p.view(), &info);  // (the mode; without it, ----------)
  char mode[11];
  mode_string(info.type, info.mode, mode);
  putf("{} {:8} {}{}\n", std::string_view(mode), info.size, name, info.type == fsp::kTypeDirectory ? "/" : "");
}

void cmd_ls(std::string_view arg) {
  bool long_form = false;
  if (arg == "-l" || arg.starts_with("-l ")) {
    long_form = true;
    (void)first_word(&arg);
  }
  if (arg.find(' ') != std::string_view::npos) return put("usage: ls [-l] [PATH]\n");
  const std::string_view shown = arg.empty() ? std::string_view(g_cwd, g_cwd_len) : arg;
  FullPath path = full_path(shown);
  keel::fs::Info info;
  if (Status st = keel::fs::stat(path.view(), &info); st != Status::Ok)
    return putf("ls: {}: {}\n", shown, keel::status_name(st));
  if (info.type != fsp::kTypeDirectory) {
    if (!long_form) return putf("{}\n", shown);
    char mode[11];
    mode_string(info.type, info.mode, mode);
    return putf("{} {:8} {}\n", std::string_view(mode), info.size, shown);
  }
  keel::fs::Fid dir = 0;
  if (Status st = keel::fs::open(path.view(), fsp::kFlagRead | fsp::kFlagDirectory, &dir); st != Status::Ok)
    return putf("ls: {}: {}\n", shown, keel::status_name(st));
  uint64_t cookie = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    keel::fs::DirEntry e;
    Status st = keel::fs::readdir(dir, &cookie, &e);
    if (st == Status::OutOfRange) break;
    if (st != Status::Ok) {
      putf("ls: {}: {}\n", shown, keel::status_name(st));
      break;
    }
    print_entry(long_form, shown, e.view(), e.type, e.size);
  }
  (void)keel::fs::close(dir);
}

void cmd_cat(std::string_view arg) {
  if (arg.empty()) return put("usage: cat PATH\n");
  keel::fs::Fid f = 0;
  if (Status st = keel::fs::open(full_path(arg).view(), fsp::kFlagRead, &f); st != Status::Ok)
    return putf("cat: {}: {}\n", arg, keel::status_name(st));
  char last = '\n';
  for (;;) {
    static uint8_t buf[4096];  // (past kSharedThreshold: read through shared memory)
    size_t got = 0;
    Status st = keel::fs::read(f, {buf, sizeof buf}, &got);
    if (st != Status::Ok) {
      if (last != '\n') put("\n");
      putf("cat: {}: {}\n", arg, keel::status_name(st));
      last = '\n';
      break;
    }
    if (got == 0) break;
    put({reinterpret_cast<const char*>(buf), got});
    last = char(buf[got - 1]);
  }
  if (last != '\n') put("\n");
  (void)keel::fs::close(f);
}

void cmd_stat(std::string_view arg) {
  if (arg.empty()) return put("usage: stat PATH\n");
  keel::fs::Info info;
  if (Status st = keel::fs::stat(full_path(arg).view(), &info); st != Status::Ok)
    return putf("stat: {}: {}\n", arg, keel::status_name(st));
  putf("{}: {}, {} {}, mode {:04o}, mount {}\n", arg, type_name(info.type), info.size,
       info.type == fsp::kTypeDirectory ? "entries" : "bytes", info.mode, info.mount);
}

// Writes `text` and a newline to `path`: replacing it, or at its end.
void write_file(std::string_view cmd, std::string_view path, std::string_view text, bool append) {
  keel::fs::Fid f = 0;
  const uint64_t flags = fsp::kFlagWrite | fsp::kFlagCreate | (append ? fsp::kFlagAppend : fsp::kFlagTruncate);
  if (Status st = keel::fs::open(full_path(path).view(), flags, &f, 0644); st != Status::Ok)
    return putf("{}: {}: {}\n", cmd, path, keel::status_name(st));
  Status st = keel::fs::write(f, text);
  if (st == Status::Ok) st = keel::fs::write(f, "\n");
  if (st != Status::Ok) putf("{}: {}: {}\n", cmd, path, keel::status_name(st));
  (void)keel::fs::close(f);
}

void cmd_write(std::string_view arg) {
  std::string_view path = first_word(&arg);
  if (path.empty()) return put("usage: write PATH TEXT\n");
  write_file("write", path, arg, false);
}

// echo TEXT, echo TEXT > PATH, echo TEXT >> PATH.
void cmd_echo(std::string_view arg) {
  size_t gt = arg.find('>');
  if (gt == std::string_view::npos) return putf("{}\n", arg);
  const bool append = gt + 1 < arg.size() && arg[gt + 1] == '>';
  std::string_view text = arg.substr(0, gt), path = arg.substr(gt + (append ? 2 : 1));
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  while (!path.empty() && path.front() == ' ') path.remove_prefix(1);
  if (path.empty() || path.find(' ') != std::string_view::npos) return put("usage: echo TEXT [>|>> PATH]\n");
  write_file("echo", path, text, append);
}

// mkdir, rmdir, rm: one path each.
void cmd_path(std::string_view cmd, std::string_view arg) {
  if (arg.empty() || arg.find(' ') != std::string_view::npos) return putf("usage: {} PATH\n", cmd);
  const FullPath p = full_path(arg);
  Status st = cmd == "mkdir" ? keel::fs::mkdir(p.view()) : cmd == "rmdir" ? keel::fs::rmdir(p.view())
                                                                          : keel::fs::unlink(p.view());
  if (st != Status::Ok) putf("{}: {}: {}\n", cmd, arg, keel::status_name(st));
}

void cmd_mv(std::string_view arg) {
  std::string_view from = first_word(&arg), to = arg;
  if (from.empty() || to.empty() || to.find(' ') != std::string_view::npos) return put("usage: mv FROM TO\n");
  if (Status st = keel::fs::rename(full_path(from).view(), full_path(to).view()); st != Status::Ok)
    putf("mv: {} -> {}: {}\n", from, to, keel::status_name(st));
}

// cd PATH: the working directory becomes PATH as the VFS normalises it.
void cmd_cd(std::string_view arg) {
  FullPath p = full_path(arg.empty() ? std::string_view("/") : arg);
  keel::fs::Info info;
  Status st = keel::fs::stat(p.view(), &info);
  if (st == Status::Ok && info.type != fsp::kTypeDirectory) st = Status::NotADirectory;
  char norm[fsp::kPathMax];
  auto n = keel::path::normalize(p.view(), {norm, sizeof norm});
  if (st == Status::Ok && !n.ok()) st = keel::status_from(n.error());
  if (st != Status::Ok) return putf("cd: {}: {}\n", arg, keel::status_name(st));
  for (size_t i = 0; i < n->size(); ++i) g_cwd[i] = (*n)[i];
  g_cwd_len = n->size();
}

void cmd_power(bool reboot) {
  keel::IpcMessage m{};
  m.words[0] = reboot ? 1 : 0;
  m.tag = keel::rpc::tag(init_proto::kPowerOff, 1);
  Status st = keel::rpc::call(g_init, m, keel::now_ns() + 5000 * kMs);
  putf("{}: {}\n", reboot ? "reboot" : "poweroff", keel::status_name(st));
}

bool start_session(std::string_view program, std::string_view argv0, uint64_t wait_ms);

void run(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (line.empty()) return;
  std::string_view cmd = line, arg;
  if (size_t sp = line.find(' '); sp != std::string_view::npos) {
    cmd = line.substr(0, sp);
    arg = line.substr(sp + 1);
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  }
  if (cmd == "help") {
    put("commands: help, services, ps, kill NAME, lookup NAME, ask NAME LABEL [WORD...], dmesg, mem, date, lsdev [-v], uptime, echo TEXT, sh, poweroff, reboot\n"
        "files: ls [-l] [PATH], cat PATH, stat PATH, mkdir PATH, rmdir PATH, rm PATH, mv FROM TO, write PATH TEXT,\n"
        "       echo TEXT > PATH, echo TEXT >> PATH, cd [PATH], pwd\n");
  } else if (cmd == "services") {
    cmd_services();
  } else if (cmd == "ps") {
    cmd_ps();
  } else if (cmd == "kill") {
    cmd_kill(arg);
  } else if (cmd == "lookup") {
    cmd_lookup(arg);
  } else if (cmd == "ask") {
    cmd_ask(arg);
  } else if (cmd == "dmesg") {
    cmd_dmesg();
  } else if (cmd == "mem") {
    cmd_mem();
  } else if (cmd == "date") {
    cmd_date();
  } else if (cmd == "lsdev") {
    cmd_lsdev(arg);
  } else if (cmd == "uptime") {
    cmd_uptime();
  } else if (cmd == "echo") {
    cmd_echo(arg);
  } else if (cmd == "ls") {
    cmd_ls(arg);
  } else if (cmd == "cat") {
    cmd_cat(arg);
  } else if (cmd == "stat") {
    cmd_stat(arg);
  } else if (cmd == "write") {
    cmd_write(arg);
  } else if (cmd == "mkdir" || cmd == "rmdir" || cmd == "rm") {
    cmd_path(cmd, arg);
  } else if (cmd == "mv") {
    cmd_mv(arg);
  } else if (cmd == "cd") {
    cmd_cd(arg);
  } else if (cmd == "pwd") {
    putf("{}\n", std::string_view(g_cwd, g_cwd_len));
  } else if (cmd == "poweroff") {
    cmd_power(false);
  } else if (cmd == "reboot") {
    cmd_power(true);
  } else if (cmd == "sh") {
    if (start_session("/bin/sh", "-sh", 2000)) return;
  } else {
    putf("{}: command not found (try help)\n", cmd);
  }
}

void prompt() { put("keel# "); }

// ---------------------------------------------------------------- the Linux tty session

namespace lp = keel::proto::linux;

// The tty handed to a Linux program (keel/proto/linux.h): the Linux
// personality runs its line discipline; the console moves raw bytes from the
// terminal to the input ring and processed ones from the output ring to the
// terminal, until the session hangs up.
struct Session {
  bool active = false;
  Handle linux_ep = kInvalidHandle;
  uint64_t base = 0;
  keel::RingConsumer* out = nullptr;  // the program's output
  keel::RingProducer* in = nullptr;   // what the terminal sent
  uint64_t pid = 0;                   // the session leader (kTtyInput names the session by it)
};
Session g_session;
const char* g_login = nullptr;  // --login PATH: run it at start
char g_login_buf[128];

void end_session() {
  auto* state = reinterpret_cast<volatile uint32_t*>(g_session.base + lp::kStateOffset);
  const uint32_t status = state[1];
  delete g_session.out;
  delete g_session.in;
  g_session.out = nullptr;
  g_session.in = nullptr;
  (void)sys::vm_unmap(keel::start_info()->self_process, g_session.base, lp::kSessionSize);
  sys::handle_close(g_session.linux_ep);
  g_session = Session{};
  g_tty = keel::tty::LineDiscipline();  // (the program may have left the terminal raw: ours is fresh)
  if ((status & 0x7f) == 0) {
    putf("\n[the Linux shell exited with status {}; this is Keel's native console: 'sh' starts it again]\n",
         (status >> 8) & 0xff);
  } else {
    putf("\n[the Linux shell was killed by signal {}; this is Keel's native console: 'sh' starts it again]\n",
         status & 0x7f);
  }
}

// Asks the Linux personality to run `program` (as `argv0`) on this tty.
// `wait_ms`: how long to wait for the service to register (at boot it
// starts after the VFS).
bool start_session(std::string_view program, std::string_view argv0, uint64_t wait_ms) {
  Handle ep = kInvalidHandle;
  const uint64_t until = keel::now_ns() + wait_ms * kMs;
  for (;;) {
    keel::IpcMessage l{};
    uint32_t at = keel::rpc::put_string(l, 0, "linux");
    l.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
    Status st = keel::rpc::call(g_names, l, keel::now_ns() + 2000 * kMs);
    if (st == Status::Ok && keel::rpc::handles(l) == 1) {
      ep = l.handles[0];
      break;
    }
    if (st == Status::AccessDenied || keel::now_ns() > until) {
      putf("sh: the Linux personality: {}\n", keel::status_name(st));
      return false;
    }
    sys::thread_sleep(keel::now_ns() + 100 * kMs);
  }
  Handle vmo = kInvalidHandle, vmo_copy = kInvalidHandle, notify_copy = kInvalidHandle;
  uint64_t addr = 0;
  Status st = Status::NoMemory;
  if (sys::vmo_create(lp::kSessionSize, 0, &vmo) == 0 &&
      sys::vm_map(keel::start_info()->self_process, vmo, 0, lp::kSessionSize, keel::kVmRead | keel::kVmWrite, &addr) == 0) {
    auto* base = reinterpret_cast<uint8_t*>(addr);
    (void)keel::RingView::format({base, lp::kRingBytes}, lp::kRingCapacity);
    (void)keel::RingView::format({base + lp::kInputOffset, lp::kRingBytes}, lp::kRingCapacity);
    auto out = keel::RingConsumer::attach({base, lp::kRingBytes});
    auto in = keel::RingProducer::attach({base + lp::kInputOffset, lp::kRingBytes});
    if (out.ok() && in.ok() &&
        sys::handle_duplicate(vmo, keel::kRightRead | keel::kRightWrite | keel::kRightMap | keel::kRightTransfer, &vmo_copy) == 0 &&
        sys::handle_duplicate(g_notify, keel::kRightSignal | keel::kRightTransfer, &notify_copy) == 0) {
      keel::IpcMessage m{};
      uint64_t rows = 24, cols = 80;  // a VT100's (the serial line cannot tell)
      if (g_fb_tty) {                 // the screen's text cells (fbcon's kSize)
        keel::IpcMessage q{};
        q.tag = keel::rpc::tag(serial::kSize, 0);
        if (keel::rpc::call(g_out->endpoint, q, keel::now_ns() + 2000 * kMs) == Status::Ok && keel::rpc::words(q) >= 2 &&
            q.words[0] > 0 && q.words[0] <= 1000 && q.words[1] > 0 && q.words[1] <= 1000)
          rows = q.words[0], cols = q.words[1];
      }
      m.words[0] = rows | (g_fb_tty ? 0 : lp::kTtyConsole << 32);  // (the serial tty: /dev/console)
      m.words[1] = cols;
      uint32_t at = keel::rpc::put_string(m, 2, program);
      at = keel::rpc::put_string(m, at, argv0);
      m.handles[0] = vmo_copy;
      m.handles[1] = notify_copy;
      m.tag = keel::rpc::tag(lp::kOpenTty, at, 2);
      st = keel::rpc::call(ep, m, keel::now_ns() + 10000 * kMs);
      if (st == Status::Ok) {
        g_session.active = true;
        g_session.pid = keel::rpc::words(m) >= 1 ? m.words[0] : 0;
        g_session.linux_ep = ep;
        g_session.base = addr;
        g_session.out = new keel::RingConsumer(static_cast<keel::RingConsumer&&>(*out));
        g_session.in = new keel::RingProducer(static_cast<keel::RingProducer&&>(*in));
        sys::handle_close(vmo);
        if (g_fb_tty) keel::print("console-fb: {} runs here as pid {} ({}x{})\n", program, g_session.pid, cols, rows);
        return true;
      }
    }
    sys::vm_unmap(keel::start_info()->self_process, addr, lp::kSessionSize);
  }
  if (vmo != kInvalidHandle) sys::handle_close(vmo);
  sys::handle_close(ep);
  putf("sh: {}: {}\n", program, keel::status_name(st));
  return false;
}

// Tells the server the input ring has bytes. False if the session is gone.
bool kick() {
  keel::IpcMessage m{};
  m.words[0] = g_session.pid;
  m.tag = keel::rpc::tag(lp::kTtyInput, g_session.pid ? 1 : 0);
  return keel::rpc::call(g_session.linux_ep, m, keel::now_ns() + 2000 * kMs) == Status::Ok;
}

// One round of the session: output to the terminal, input to the server,
// then a wait. Ends the session when the server hung up.
void session_step() {
  static uint8_t buf[2048];
  bool did = false;
  for (int guard = 0; guard < 256; ++guard) {
    auto r = g_session.out->read({buf, sizeof buf});
    if (!r.ok()) break;
    send_raw({buf, *r});
    did = true;
  }
  bool input = false;
  for (int guard = 0; guard < 64; ++guard) {
    auto r = g_in->rx->read({buf, lp::kMaxRecord});
    if (!r.ok()) break;
    for (int tries = 0; tries < 100 && !g_session.in->write({buf, *r}).ok(); ++tries) {
      if (!kick()) break;  // (full: the server drains it as it answers)
    }
    input = true;
  }
  if (input) {
    if (g_in->rx->needs_wakeup()) sys::notification_signal(g_in->driver_notify, serial::kTxBit);
    if (!kick()) {  // the server went away
      auto* state = reinterpret_cast<volatile uint32_t*>(g_session.base + lp::kStateOffset);
      state[1] = 0x7f & 9;
      state[0] = lp::kStateHungUp;
    }
  }
  const uint32_t state = __atomic_load_n(reinterpret_cast<uint32_t*>(g_session.base + lp::kStateOffset), __ATOMIC_ACQUIRE);
  if (state == lp::kStateHungUp) {
    for (int guard = 0; guard < 256; ++guard) {  // what it wrote last
      auto r = g_session.out->read({buf, sizeof buf});
      if (!r.ok()) break;
      send_raw({buf, *r});
    }
    end_session();
    prompt();
    return;
  }
  if (did || input) return;
  if (g_in->rx->broken()) return reattach(*g_in);
  if (g_out->tx->broken()) return reattach(*g_out);
  if (!g_in->rx->prepare_wait()) return;
  if (!g_session.out->prepare_wait()) return;
  uint64_t bits = 0;
  Status st = keel::status_of(sys::notification_wait(g_notify, keel::now_ns() + 200 * kMs, &bits));
  // Quiet for a while: make sure the drivers are still there (as the native loop does).
  static int quiet = 0;
  if (st != Status::TimedOut) {
    quiet = 0;
  } else if (++quiet >= 5) {
    quiet = 0;
    if (!alive(*g_out)) {
      reattach(*g_out);
    } else if (g_in != g_out && !alive(*g_in)) {
      reattach(*g_in);
    }
  }
}

// Heartbeats: init pings the endpoint we gave it.
void serve_pings(uint64_t ep) {
  keel::rpc::serve(Handle(ep), [](keel::IpcMessage& m, keel::rpc::Request&) {
    keel::rpc::reply_status(m, Status::Unsupported);
  }, nullptr);
}

void reattach(Device& dev) {
  attach(dev);
  if (g_fb_tty) keel::print("console-fb: re-attached to {}\n", std::string_view(dev.name));
  if (g_session.active) return;  // (the Linux shell's screen: nothing of ours on it)
  putf("\n[console: {} driver restarted]\n", std::string_view(dev.name));
  prompt();
}

// Which tty this process is: its service name (init names the process).
bool is_fb_tty() {
  keel::ProcessInfo info{};
  if (sys::process_get_info(keel::start_info()->self_process, &info) != 0) return false;
  const char* name = reinterpret_cast<const char*>(info.name);
  size_t len = 0;
  while (len < sizeof info.name && name[len] != 0) ++len;
  return std::string_view(name, len) == "console-fb";
}

}  // namespace

int main(uint64_t) {
  uint64_t unused = 0;
  if (!keel::find_module("init", &g_init, &unused) || !keel::find_module("names", &g_names, &unused)) {
    keel::print("console: missing start handles (init, names)\n");
    return 1;
  }
  Handle ep = kInvalidHandle;
  if (sys::notification_create(&g_notify) != 0 || sys::endpoint_create(&ep) != 0 ||
      keel::start_thread(&serve_pings, ep, 32 * 1024) == 0) {
    keel::print("console: cannot set up\n");
    return 1;
  }
  g_fb_tty = is_fb_tty();
  if (g_fb_tty) {
    g_in = &g_ps2kbd;
    g_out = &g_fbcon;
    attach(g_fbcon);
    attach(g_ps2kbd);
  } else {
    attach(g_serial);
  }
  (void)keel::rpc::announce_ready(ep, keel::now_ns() + 2000 * kMs);

  {
    std::string_view args[4];
    const size_t n = keel::start_args(args, 4);
    for (size_t i = 0; i + 1 < n; ++i)
      if (args[i] == "--login" && args[i + 1].size() < sizeof g_login_buf) {
        for (size_t k = 0; k < args[i + 1].size(); ++k) g_login_buf[k] = args[i + 1][k];
        g_login = g_login_buf;
      }
  }
  if (g_login) {
    put("\nKeel: starting the login shell; exit it for the native console.\n");
    if (!start_session(g_login, "-sh", 15000)) put("Keel native console. Type 'help' for commands.\n");
  } else {
    put(g_fb_tty ? "Keel native console (screen and keyboard). Type 'help' for commands.\n"
                 : "\nKeel native console. Type 'help' for commands.\n");
  }
  if (!g_session.active) prompt();
  uint64_t idle_since = keel::now_ns();
  for (;;) {
    if (g_session.active) {
      session_step();
      idle_since = keel::now_ns();
      continue;
    }
    Interrupts sig;
    if (take_input(sig)) {
      idle_since = keel::now_ns();
      if (sig.interrupted) prompt();
      char line[keel::tty::LineDiscipline::kBufferSize];
      while (g_tty.readable()) {
        size_t n = g_tty.read({reinterpret_cast<uint8_t*>(line), sizeof line});
        run({line, n});
        if (g_session.active) break;  // (sh: the rest of the input is the shell's)
        if (g_fb_tty) {
          std::string_view ran(line, n);
          while (!ran.empty() && (ran.back() == '\n' || ran.back() == '\r')) ran.remove_suffix(1);
          keel::print("console-fb: ran '{}'\n", ran);
        }
        if (!g_session.active) prompt();
      }
      if (g_in->rx->needs_wakeup()) sys::notification_signal(g_in->driver_notify, serial::kTxBit);
      continue;
    }
    if (g_in->rx->broken()) {
      attach(*g_in);
      continue;
    }
    if (g_out->tx->broken()) {
      attach(*g_out);
      continue;
    }
    if (!g_in->rx->prepare_wait()) continue;
    uint64_t bits = 0;
    Status st = keel::status_of(sys::notification_wait(g_notify, keel::now_ns() + 1000 * kMs, &bits));
    // Quiet for a second: make sure the drivers are still there.
    if (st == Status::TimedOut && keel::now_ns() - idle_since > 1000 * kMs) {
      if (!alive(*g_out)) {
        reattach(*g_out);
      } else if (g_in != g_out && !alive(*g_in)) {
        reattach(*g_in);
      }
    }
  }
}
