// pci_match.cc — init's `match pci` hand-out (pci_match.h).
//
// devmgr knows where the devices are; init holds the Resource and starts the
// services. So init asks devmgr (kSummary, kDeviceInfo, kBarInfo: answers
// that carry no authority) where the matched function is, then makes the
// DeviceMemory, IoPorts and Interrupt objects itself and gives them only to
// the matched driver, whose program the policy must allow (`device PATH pci
// VVVV:DDDD`, checked before this runs). The MSI capability is programmed
// here, through a DeviceMemory mapping of the function's one configuration
// page, with the address/data pair the kernel returns (MsiMessage).
#include "pci_match.h"

#include <keel/lock.h>
#include <keel/proto/devmgr.h>
#include <keel/start.h>
#include <keel/rpc.h>
#include <ktl/format.h>

namespace init_pci {
namespace {

namespace sys = keel::sys;
namespace proto = keel::proto::devmgr;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

constexpr uint64_t kPage = keel::kPageSize;
constexpr uint64_t kCallTimeout = 2'000'000'000;
constexpr uint8_t kCapMsi = 0x05;
constexpr size_t kMaxClaims = 16;

// Which service holds which function (bus << 16 | device << 8 | function).
// A claim is by service name and never released, so a restarted driver gets
// its function back and no other service ever does. Each service's
// supervisor thread claims for it: g_claims_lock guards the table.
struct Claim {
  char service[keel::kMaxNameLength + 1] = {};
  uint32_t where = 0;
  bool used = false;
};
Claim g_claims[kMaxClaims];
keel::SpinLock g_claims_lock;

bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Claims `where` for `service`: false if another service holds it.
bool claim(const char* service, uint32_t where) {
  g_claims_lock.lock();
  Claim* free_slot = nullptr;
  for (Claim& c : g_claims) {
    if (!c.used) {
      if (!free_slot) free_slot = &c;
      continue;
    }
    if (c.where == where) {
      const bool mine = same(c.service, service);
      g_claims_lock.unlock();
      return mine;
    }
  }
  if (!free_slot) {
    g_claims_lock.unlock();
    return false;
  }
  free_slot->used = true;
  free_slot->where = where;
  size_t i = 0;
  for (; service[i] && i < keel::kMaxNameLength; ++i) free_slot->service[i] = service[i];
  free_slot->service[i] = 0;
  g_claims_lock.unlock();
  return true;
}

Status ask(Handle devmgr, keel::IpcMessage& m, uint32_t label, uint32_t words) {
  m.tag = keel::rpc::tag(label, words);
  if (Status st = keel::rpc::call(devmgr, m, keel::now_ns() + kCallTimeout); st != Status::Ok)
    return st;
  return Status(keel::rpc::label(m));
}

Status give_named(keel::Prepared& p, const char* kind, unsigned n, Handle h) {
  char name[16];
  size_t len = ktl::format(name, sizeof name, "{}{}", kind, n);
  Status st = keel::spawn_give(p, std::string_view(name, len), h);
  if (st != Status::Ok) sys::handle_close(h);
  return st;
}

// The MSI capability's offset in the configuration page at `cfg`, 0 if none.
uint32_t find_msi(volatile uint8_t* cfg) {
  if (!(*reinterpret_cast<volatile uint16_t*>(cfg + 0x06) & (1 << 4))) return 0;  // no capability list
  uint32_t at = cfg[0x34] & 0xfc;
  for (int n = 0; n < 48 && at >= 0x40 && at <= 0xfc; ++n) {  // a list longer than 48 is a loop
    if (cfg[at] == kCapMsi) return at;
    at = cfg[at + 1] & 0xfc;
  }
  return 0;
}

// Allocates an MSI, programs the function's MSI capability with it and
// enables it (and bus mastering, and INTx off); gives "irq" + "irq-notify".
Status give_msi(keel::Prepared& p, Handle resource, uint64_t config_phys) {
  Handle dm = kInvalidHandle;
  if (int64_t r = sys::devmem_create(resource, config_phys, kPage, &dm); r != 0) return keel::status_of(r);
  uint64_t addr = 0;
  if (int64_t r = sys::vm_map(keel::start_info()->self_process, dm, 0, kPage, keel::kVmRead | keel::kVmWrite, &addr);
      r != 0) {
    sys::handle_close(dm);
    return keel::status_of(r);
  }
  sys::handle_close(dm);  // the mapping keeps it
  auto* cfg = reinterpret_cast<volatile uint8_t*>(addr);
  auto cfg16 = [&](uint32_t off) { return reinterpret_cast<volatile uint16_t*>(cfg + off); };
  auto cfg32 = [&](uint32_t off) { return reinterpret_cast<volatile uint32_t*>(cfg + off); };
  Status st = Status::NotFound;
  Handle n = kInvalidHandle, irq = kInvalidHandle;
  const uint32_t cap = find_msi(cfg);
  if (cap != 0) st = keel::status_of(sys::notification_create(&n));
  keel::MsiMessage msg{};
  if (st == Status::Ok) st = keel::status_of(sys::interrupt_create_msi(resource, n, 1, &irq, &msg));
  if (st == Status::Ok) {
    // PCI Local Bus 3.0 §6.8.1: control at +2 (bit 0 enable, 6:4 messages
    // enabled, 7 64-bit), address at +4, upper address at +8 if 64-bit,
    // data at +8 or +12. One message.
    const bool wide = *cfg16(cap + 2) & (1 << 7);
    *cfg16(cap + 2) = uint16_t(*cfg16(cap + 2) & ~uint16_t(0x71));
    *cfg32(cap + 4) = uint32_t(msg.address);
    if (wide) *cfg32(cap + 8) = uint32_t(msg.address >> 32);
    *cfg16(cap + (wide ? 12 : 8)) = uint16_t(msg.data);
    *cfg16(cap + 2) = uint16_t(*cfg16(cap + 2) | 1);
    // Command: memory and I/O decoding kept, bus master on (MSI is a memory
    // write), INTx disabled.
    *cfg16(0x04) = uint16_t(*cfg16(0x04) | (1 << 2) | (1 << 10));
  }
  (void)sys::vm_unmap(keel::start_info()->self_process, uintptr_t(addr), kPage);
  if (st != Status::Ok) {
    if (n != kInvalidHandle) sys::handle_close(n);
    return st;
  }
  if (Status s = keel::spawn_give(p, "irq", irq); s != Status::Ok) {
    sys::handle_close(irq);
    sys::handle_close(n);
    return s;
  }
  return keel::spawn_give(p, "irq-notify", n);
}

}  // namespace

Status give_device(keel::Prepared& p, const char* service, const keel::Grant& g, Handle resource, Handle devmgr) {
  keel::IpcMessage m{};
  if (Status st = ask(devmgr, m, proto::kSummary, 0); st != Status::Ok) {
    keel::print("init: {}: match pci {:04x}:{:04x}: devmgr does not answer: {}\n", service, g.base, g.size,
                keel::status_name(st));
    return st;
  }
  const uint64_t count = m.words[0];
  const uint64_t ecam = m.words[1] == uint64_t(proto::Access::Ecam) ? m.words[2] : 0;
  proto::PciDevice dev{};
  bool found = false, taken = false;
  uint64_t index = 0, flags = 0;
  for (uint64_t i = 0; i < count && !found; ++i) {
    m = keel::IpcMessage{};
    m.words[0] = i;
    if (ask(devmgr, m, proto::kDeviceInfo, 1) != Status::Ok) break;
    if (m.words[3] != g.base || m.words[4] != g.size) continue;
    const uint32_t where = uint32_t(m.words[0] << 16 | m.words[1] << 8 | m.words[2]);
    if (!claim(service, where)) {
      taken = true;
      continue;
    }
    found = true;
    index = i;
    dev.bus = uint32_t(m.words[0]);
    dev.device = uint32_t(m.words[1]);
    dev.function = uint32_t(m.words[2]);
    dev.vendor_id = uint32_t(m.words[3]);
    dev.device_id = uint32_t(m.words[4]);
    dev.class_code = uint32_t(m.words[5]);
    dev.subclass = uint32_t(m.words[6]);
    flags = m.words[11];
  }
  if (!found || ecam == 0) {
    keel::print("init: {}: match pci {:04x}:{:04x}: {}\n", service, g.base, g.size,
                ecam == 0 ? "devmgr found no PCI configuration access"
                          : taken ? "every such function is another service's" : "no such PCI function");
    return Status::NotFound;
  }
  // The BARs.
  char bars[160];
  size_t bars_len = 0;
  for (unsigned b = 0; b < 6; ++b) {
    m = keel::IpcMessage{};
    m.words[0] = index;
    m.words[1] = b;
    if (ask(devmgr, m, proto::kBarInfo, 2) != Status::Ok) break;  // OutOfRange: no more BARs
    const uint64_t kind = m.words[0], base = m.words[1], size = m.words[2];
    dev.bar_kind[b] = uint32_t(kind);
    dev.bar_base[b] = base;
    dev.bar_size[b] = size;
    if (size == 0 || base == 0) continue;
    Handle h = kInvalidHandle;
    if (kind == proto::kBarMem32 || kind == proto::kBarMem64) {
      const uint64_t first = base & ~(kPage - 1);
      const uint64_t end = (base + size + kPage - 1) & ~(kPage - 1);
      if (int64_t r = sys::devmem_create(resource, first, end - first, &h); r != 0) {
        keel::print("init: {}: BAR{} {:#x}+{:#x}: {}\n", service, b, base, size, keel::status_name(keel::status_of(r)));
        return keel::status_of(r);
      }
    } else if (kind == proto::kBarIo) {
      if (int64_t r = sys::ioports_create(resource, uint32_t(base), uint32_t(size), &h); r != 0) {
        keel::print("init: {}: BAR{} ports {:#x}+{}: {}\n", service, b, base, size, keel::status_name(keel::status_of(r)));
        return keel::status_of(r);
      }
    } else {
      continue;
    }
    if (Status st = give_named(p, "bar", b, h); st != Status::Ok) return st;
    bars_len += ktl::format(bars + bars_len, sizeof bars - bars_len, " bar{} {:#x}+{:#x}", b, base, size);
  }
  // The interrupt: MSI where the function has it.
  const char* irq = "no interrupt (no MSI; INTx needs the ACPI _PRT routing)";
  if (flags & proto::kFlagMsi) {
    const uint64_t phys = ecam + (uint64_t(dev.bus) << 20 | uint64_t(dev.device) << 15 | uint64_t(dev.function) << 12);
    if (Status st = give_msi(p, resource, phys); st != Status::Ok) {
      keel::print("init: {}: cannot set up its MSI: {}\n", service, keel::status_name(st));
      return st;
    }
    dev.msi = 1;
    irq = "MSI";
  }
  Handle rec = kInvalidHandle;
  if (int64_t r = sys::vmo_create(kPage, 0, &rec); r != 0) return keel::status_of(r);
  if (int64_t r = sys::vmo_write(rec, 0, &dev, sizeof dev); r != 0) {
    sys::handle_close(rec);
    return keel::status_of(r);
  }
  if (Status st = keel::spawn_give(p, "pci", rec); st != Status::Ok) {
    sys::handle_close(rec);
    return st;
  }
  keel::print("init: {} drives {:02x}:{:02x}.{} ({:04x}:{:04x}):{}, {}\n", service, dev.bus, dev.device, dev.function,
              dev.vendor_id, dev.device_id, std::string_view(bars, bars_len), irq);
  return Status::Ok;
}

}  // namespace init_pci
