// arch/x86_64/serial.h — polled 16550 UART output for the kernel console.
//
// The kernel only writes (klog, panics). Interrupt-driven input belongs to the
// userspace serial driver (issue 4). PC16550D datasheet; COM1 = port 0x3f8.
//
// The driver writes the same UART through ioport_write, which the kernel
// performs: those writes take this console's lock too (write_port), so a
// kernel log line is never split by the driver's bytes. (The driver's text
// may still be split by a whole kernel line between two of its bytes.)
#pragma once

#include <ktl/format.h>
#include <lib/spinlock.h>

#include <cstdint>

namespace x86 {

class SerialConsole final : public ktl::Sink {
 public:
  // Programs 115200 baud, 8N1, FIFOs on. Returns false if no UART answers
  // (loopback self-test fails), in which case write() drops output.
  bool init(uint16_t port);
  // Writes bytes, translating "\n" to "\r\n". Polls the line status register.
  void write(const char* s, size_t n) override;
  bool present() const { return present_; }
  // Whether [port, port + width) touches this UART's eight registers.
  bool owns_port(uint32_t port, uint32_t width) const {
    return present_ && port < uint32_t(port_) + 8 && port + width > port_;
  }
  // An `out` to one of this UART's registers for a driver, between (never
  // inside) the kernel's own lines.
  void write_port(uint16_t port, uint32_t width, uint32_t value);

 private:
  void put(uint8_t c);
  // The lock, with a bounded spin: a panic must print even if the CPU that
  // holds it is stopped. Returns the saved interrupt flag.
  uint64_t lock();
  uint16_t port_ = 0;
  bool present_ = false;
  klib::SpinLock lock_;  // guards the transmitter between kernel lines and driver writes
};

// The kernel's COM1 console.
SerialConsole& com1();

}  // namespace x86
