// object/ioports.h — IoPorts: a range of x86 I/O ports a driver may access.
//
// An IoPorts object names the ports [base, base + count). ioport_read and
// ioport_write check that an access of 1, 2 or 4 bytes lies inside the range
// and then do the `in`/`out` in the kernel, in the syscall. (There is no I/O
// permission bitmap in the TSS yet, so user code cannot execute `in`/`out`
// itself: IOPL stays 0. A bitmap per process would save the syscall per
// access, for a driver that ever needs that.) An access need not be
// aligned to its width: x86 allows it and devices use it (the Bochs/QEMU VBE
// data register is the 16-bit port 0x1cf).
//
// Ranges that overlap ports the kernel itself uses are refused (Busy), so no
// driver can disturb them:
//   0x20-0x21, 0xa0-0xa1  the 8259 PICs (remapped and masked at boot);
//   0x40-0x43             the PIT (the kernel's timer calibration);
//   0xcf8-0xcff           PCI configuration mechanism #1: an address/data
//                         pair that two owners cannot share; the kernel
//                         does the pair itself under one lock
//                         (pci_config_read/pci_config_write), for
//                         machines without ECAM.
// COM1 (0x3f8-0x3ff) is shared: the kernel writes its log and panics to it
// with polled output and never reads it; the userspace serial driver takes
// its receive side and interrupt (ISA IRQ 4) and writes too, under the
// kernel console's lock (x86::SerialConsole::write_port), so that its bytes
// fall between the kernel's log lines, never inside one. The driver must
// not change the line settings (LCR, the divisor latch): the kernel set
// 115200 8N1 and writes assuming them.
// Everything else is allowed, including ports the kernel touched only while
// booting or touches only at power-off (0x61, 0x80, the ACPI PM1 and SMI
// command ports) and QEMU's isa-debug-exit port.
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/object.h>
#include <object/quota.h>

#include <cstdint>

namespace object {

class IoPorts final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::IoPorts;
  static constexpr uint32_t kPortCount = 65536;

  // The ports [base, base + count), charged to `quota` (may be null).
  // Errors: InvalidArgument (count 0); OutOfRange (base + count > kPortCount);
  // Busy (the range includes a port the kernel uses, see the file comment);
  // QuotaExceeded; NoMemory.
  static ktl::Result<ktl::RefPtr<IoPorts>> create(uint32_t base, uint32_t count, Quota* quota);

  // Whether [base, base + count) includes a port the kernel uses.
  static bool overlaps_kernel_ports(uint32_t base, uint32_t count);

  uint32_t base() const { return base_; }
  uint32_t count() const { return count_; }
  // Whether [port, port + width) lies inside the range.
  bool contains(uint32_t port, uint32_t width) const {
    return port >= base_ && width <= count_ && port - base_ <= count_ - width;
  }

  // One `in` of `width` (1, 2 or 4) bytes, zero-extended. Precondition:
  // contains(port, width).
  uint32_t read(uint32_t port, uint32_t width) const;
  // One `out` of the low `width` (1, 2 or 4) bytes of `value`. Precondition:
  // contains(port, width).
  void write(uint32_t port, uint32_t width, uint32_t value) const;

 private:
  IoPorts(uint32_t base, uint32_t count, Quota* quota)
      : KernelObject(kType, quota, quota ? sizeof(IoPorts) : 0), base_(base), count_(count) {}

  const uint32_t base_;
  const uint32_t count_;
};

}  // namespace object
