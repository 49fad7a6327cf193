// object/ioports.cc — I/O port ranges (see ioports.h).
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/serial.h>
#include <object/ioports.h>

#include <new>

namespace object {
namespace {

struct PortRange {
  uint32_t first, last;  // inclusive
};

// The ports the kernel keeps (ioports.h says why).
constexpr PortRange kKernelPorts[] = {
    {0x20, 0x21},    // master 8259 PIC
    {0x40, 0x43},    // PIT
    {0xa0, 0xa1},    // slave 8259 PIC
    {0xcf8, 0xcff},  // PCI configuration address/data
};

}  // namespace

bool IoPorts::overlaps_kernel_ports(uint32_t base, uint32_t count) {
  if (count == 0) return false;
  const uint64_t last = uint64_t(base) + count - 1;
  for (const PortRange& r : kKernelPorts)
    if (base <= r.last && r.first <= last) return true;
  return false;
}

ktl::Result<ktl::RefPtr<IoPorts>> IoPorts::create(uint32_t base, uint32_t count, Quota* quota) {
  if (count == 0) return ktl::Error::InvalidArgument;
  if (base >= kPortCount || count > kPortCount - base) return ktl::Error::OutOfRange;
  if (overlaps_kernel_ports(base, count)) return ktl::Error::Busy;
  if (quota) TRY(quota->charge(sizeof(IoPorts)));
  auto* p = new (std::nothrow) IoPorts(base, count, quota);
  if (!p) {
    if (quota) quota->uncharge(sizeof(IoPorts));
    return ktl::Error::NoMemory;
  }
  return ktl::adopt_ref(p);
}

uint32_t IoPorts::read(uint32_t port, uint32_t width) const {
  const auto p = uint16_t(port);
  switch (width) {
    case 1: return x86::inb(p);
    case 2: return x86::inw(p);
    default: return x86::inl(p);
  }
}

void IoPorts::write(uint32_t port, uint32_t width, uint32_t value) const {
  const auto p = uint16_t(port);
  if (x86::com1().owns_port(port, width)) return x86::com1().write_port(p, width, value);  // not inside a kernel line
  switch (width) {
    case 1: x86::outb(p, uint8_t(value)); break;
    case 2: x86::outw(p, uint16_t(value)); break;
    default: x86::outl(p, value); break;
  }
}

}  // namespace object
