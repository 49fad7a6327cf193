// keel/pci_driver.h — the start of a PCI driver that init matched to a device
// (docs/userspace.md, "Device manager"): the handles init hands it and its
// device record.
#pragma once

#include <keel/keel.h>
#include <keel/proto/devmgr.h>
#include <keel/start.h>

#include <string_view>

namespace keel {

struct PciDriverStart {
  Handle bar0 = kInvalidHandle;        // DeviceMemory over BAR0 (start handle "bar0")
  uint64_t bar0_size = 0;              // bytes
  Handle irq = kInvalidHandle;         // the Interrupt (MSI, MSI-X or INTx: dev.irq says which)
  Handle irq_notify = kInvalidHandle;  // the Notification it signals
  proto::devmgr::PciDevice dev{};      // the record from start handle "pci"
};

// Finds the start handles "bar0", "irq", "irq-notify" and "pci" and reads the
// device record. False, after a log line naming `driver`, if one is missing
// or the record cannot be read.
inline bool pci_driver_start(std::string_view driver, PciDriverStart* out) {
  Handle info = kInvalidHandle;
  uint64_t unused = 0;
  if (!find_module("bar0", &out->bar0, &out->bar0_size) || !find_module("irq", &out->irq, &unused) ||
      !find_module("irq-notify", &out->irq_notify, &unused) || !find_module("pci", &info, &unused)) {
    print("{}: missing start handles (bar0, irq, irq-notify, pci)\n", driver);
    return false;
  }
  if (sys::vmo_read(info, 0, &out->dev, sizeof out->dev) != 0) {
    print("{}: cannot read its PciDevice record\n", driver);
    return false;
  }
  return true;
}

// Maps the first `bytes` of BAR0 read-write into this process. Its address,
// or 0 after a log line naming `driver`.
inline uint64_t map_bar0(std::string_view driver, const PciDriverStart& s, uint64_t bytes) {
  uint64_t addr = 0;
  if (int64_t r = sys::vm_map(start_info()->self_process, s.bar0, 0, bytes, kVmRead | kVmWrite, &addr); r != 0) {
    print("{}: cannot map BAR0: {}\n", driver, status_name(status_of(r)));
    return 0;
  }
  return addr;
}

}  // namespace keel
