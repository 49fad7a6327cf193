// arch/x86_64/serial.h — polled 16550 UART output for the kernel console.
//
// The kernel only writes (klog, panics). Interrupt-driven input belongs to the
// userspace serial driver (issue 4). PC16550D datasheet; COM1 = port 0x3f8.
#pragma once

#include <ktl/format.h>

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

 private:
  void put(uint8_t c);
  uint16_t port_ = 0;
  bool present_ = false;
};

// The kernel's COM1 console.
SerialConsole& com1();

}  // namespace x86
