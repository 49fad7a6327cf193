// serial.cc — polled COM1 output.
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/serial.h>

namespace x86 {
namespace {
// Register offsets (PC16550D §8).
constexpr uint16_t kData = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr uint8_t kLsrThre = 1 << 5;
SerialConsole g_com1;
}  // namespace

SerialConsole& com1() { return g_com1; }

bool SerialConsole::init(uint16_t port) {
  port_ = port;
  outb(port + kIer, 0x00);   // no interrupts
  outb(port + kLcr, 0x80);   // DLAB on
  outb(port + kData, 0x01);  // divisor 1 → 115200 baud
  outb(port + kIer, 0x00);
  outb(port + kLcr, 0x03);   // 8N1, DLAB off
  outb(port + kFcr, 0xc7);   // FIFO on, clear, 14-byte threshold
  // Loopback self-test: a UART that echoes 0xae is present.
  outb(port + kMcr, 0x1e);
  outb(port + kData, 0xae);
  present_ = inb(port + kData) == 0xae;
  outb(port + kMcr, 0x0f);   // normal operation, OUT2 (IRQ gate), RTS, DTR
  return present_;
}

void SerialConsole::put(uint8_t c) {
  // Bounded wait: a wedged UART must not hang a panic.
  for (int i = 0; i < 100000 && !(inb(port_ + kLsr) & kLsrThre); ++i) pause();
  outb(port_ + kData, c);
}

uint64_t SerialConsole::lock() {
  uint64_t flags = 0;
  // About a second of spinning under TCG; a line takes far less.
  for (int i = 0; i < (1 << 24); ++i) {
    if (lock_.try_lock(flags)) return flags;
    pause();
  }
  asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");  // go ahead without it
  return flags;
}

void SerialConsole::write(const char* s, size_t n) {
  if (!present_) return;
  uint64_t f = lock();
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') put('\r');
    put(uint8_t(s[i]));
  }
  lock_.unlock(f);
}

void SerialConsole::write_port(uint16_t port, uint32_t width, uint32_t value) {
  uint64_t f = lock();
  switch (width) {
    case 1: outb(port, uint8_t(value)); break;
    case 2: outw(port, uint16_t(value)); break;
    default: outl(port, value); break;
  }
  lock_.unlock(f);
}

}  // namespace x86
