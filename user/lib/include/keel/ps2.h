// keel/ps2.h — the PS/2 keyboard behind an i8042 controller: bringing the
// controller and the keyboard up, decoding scan codes into key events, and
// turning key events into the bytes a terminal sends (US layout, xterm
// escape sequences). Pure logic, tested on the host; the ps2kbd driver
// (user/drivers/ps2kbd) does the port I/O through a Controller.
//
//   struct Ports final : keel::ps2::Controller { ... };     // ports 0x60/0x64
//   keel::ps2::InitReport r = keel::ps2::initialize(ports);  // never hangs
//   keel::ps2::Keyboard kbd;
//   uint8_t out[keel::ps2::kMaxBytesPerScanCode];
//   size_t n = kbd.feed(ports.read_data(), out);            // per byte from 0x60
//
// ## The controller (i8042; IBM PC/AT Technical Reference, and the 8042
// commands every PC chipset and QEMU implement)
//
// Port 0x60 is data (read: output buffer; write: to the keyboard), 0x64 is
// status (read) and command (write). Status bit 0: output buffer full (a
// byte to read at 0x60); bit 1: input buffer full (do not write yet); bit 5:
// the byte is from the auxiliary (mouse) port. Commands: 0x20 read the
// configuration byte, 0x60 write it, 0xaa self-test (answers 0x55), 0xab test
// the first port (answers 0x00), 0xad/0xae disable/enable the first port,
// 0xa7 disable the second. Configuration bits: 0 first port interrupt
// (IRQ 1), 1 second port interrupt, 4 first port clock disabled, 5 second
// port clock disabled, 6 translation (set 2 → set 1).
//
// The keyboard is reset (0xff: ack 0xfa, then 0xaa for a passed self-test),
// switched to scan code set 2 (0xf0 0x02) and enabled (0xf4); with
// translation on, the controller hands the driver set 1 codes, which is what
// Decoder reads. Every wait has a deadline: with no controller (reads of
// 0xff, a status whose input buffer never empties) initialize() gives up
// with a reason after about kTimeoutMs per step.
//
// ## Scan codes (set 1, as translated)
//
// A byte 0x01..0x58 presses a key, the same byte | 0x80 releases it. 0xe0
// prefixes an extended key (arrows, home/end, insert/delete, page up/down,
// right ctrl/alt, keypad enter and '/', the Windows keys); 0xe0 0x2a/0xaa
// and 0xe0 0x36/0xb6 are fake shifts around extended keys and are dropped.
// 0xe1 prefixes Pause (0xe1 0x1d 0x45 0xe1 0x9d 0xc5): the two bytes after
// each 0xe1 are dropped. 0x00/0xff (errors, overrun), 0xfa (ack), 0xfe
// (resend), 0xee (echo) and any byte that makes no sense where it comes
// reset the decoder and produce nothing.
//
// ## What a key sends (xterm, ECMA-48)
//
// Printable keys: US layout; shift for the upper row; caps lock shifts
// letters only. Ctrl with a letter sends it & 0x1f (^A = 0x01), ctrl with
// 2 @ space → 0x00, [ → 0x1b, \ → 0x1c, ] → 0x1d, 6 → 0x1e, - → 0x1f,
// / → 0x1f; alt prefixes ESC. Enter (and keypad Enter) sends '\r',
// Backspace DEL (0x7f), Tab '\t', Escape 0x1b. Cursor keys send CSI A/B/C/D,
// Home CSI H, End CSI F (with modifiers: CSI 1;m A, m = 1 + shift + 2 alt +
// 4 ctrl); Insert CSI 2~, Delete CSI 3~, Page Up CSI 5~, Page Down CSI 6~;
// F1–F4 SS3 P..S, F5–F12 CSI 15~ 17~ 18~ 19~ 20~ 21~ 23~ 24~. The keypad
// sends digits and . with num lock on (off at start), else the keys printed
// under them; keypad / * - + always send their character.
//
// The lock LEDs: the keyboard command 0xed, acknowledged (0xfa), then a byte
// with bit 0 scroll lock, bit 1 num lock, bit 2 caps lock, acknowledged
// again. Keyboard::leds() is that byte for the current locks; the driver
// sends it when it changes.
//
// Freestanding: no allocation, exceptions, RTTI or libc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::ps2 {

inline constexpr uint32_t kDataPort = 0x60;
inline constexpr uint32_t kStatusPort = 0x64;  // read: status; write: command

inline constexpr uint8_t kStatusOutputFull = 0x01;
inline constexpr uint8_t kStatusInputFull = 0x02;
inline constexpr uint8_t kStatusAuxData = 0x20;

inline constexpr uint8_t kConfigPort1Irq = 0x01;
inline constexpr uint8_t kConfigPort2Irq = 0x02;
inline constexpr uint8_t kConfigPort1ClockOff = 0x10;
inline constexpr uint8_t kConfigPort2ClockOff = 0x20;
inline constexpr uint8_t kConfigTranslate = 0x40;

inline constexpr uint64_t kTimeoutMs = 200;  // per controller step

inline constexpr uint8_t kKbdSetLeds = 0xed;  // keyboard command: the LED byte follows
inline constexpr uint8_t kKbdAck = 0xfa;
inline constexpr uint8_t kLedScrollLock = 0x01, kLedNumLock = 0x02, kLedCapsLock = 0x04;

// The controller's ports and a clock, as the driver (or a test) provides them.
class Controller {
 public:
  virtual uint8_t read_status() = 0;
  virtual uint8_t read_data() = 0;
  virtual void write_command(uint8_t command) = 0;
  virtual void write_data(uint8_t value) = 0;
  // Monotonic milliseconds (the deadlines); sleeping is the implementation's
  // business (a test's clock advances on every call).
  virtual uint64_t now_ms() = 0;

 protected:
  ~Controller() = default;
};

// What initialize() found. `ok` means the keyboard is reset, in set 2 with
// translation on, scanning, and its interrupt (IRQ 1) enabled; otherwise
// `reason` says what failed ("no controller (status reads 0xff)", "controller
// self-test failed", "no keyboard (reset not acknowledged)", ...).
// `keyboard_present` is false when the controller works but no keyboard
// answered: the interrupt is enabled anyway (one may be plugged in later).
struct InitReport {
  bool ok = false;
  bool keyboard_present = false;
  const char* reason = "";
  uint8_t config = 0;  // the configuration byte written last
};

// Brings the controller and the keyboard up (see the file comment). Bytes
// the controller held before are discarded. Bounded: each step waits at
// most kTimeoutMs of `c.now_ms()`.
InitReport initialize(Controller& c);

// ---------------------------------------------------------------- decoding

// Key codes: the set 1 make code for ordinary keys, kExtended | code for the
// keys an 0xe0 prefix announces.
inline constexpr uint16_t kExtended = 0x100;
enum Key : uint16_t {
  kKeyNone = 0,
  kKeyEscape = 0x01,
  kKeyBackspace = 0x0e,
  kKeyTab = 0x0f,
  kKeyEnter = 0x1c,
  kKeyLeftCtrl = 0x1d,
  kKeyLeftShift = 0x2a,
  kKeyRightShift = 0x36,
  kKeyKeypadStar = 0x37,
  kKeyLeftAlt = 0x38,
  kKeySpace = 0x39,
  kKeyCapsLock = 0x3a,
  kKeyF1 = 0x3b,  // .. F10 = 0x44
  kKeyNumLock = 0x45,
  kKeyScrollLock = 0x46,
  kKeyKeypad7 = 0x47,  // .. keypad . = 0x53
  kKeyF11 = 0x57,
  kKeyF12 = 0x58,
  kKeyKeypadEnter = kExtended | 0x1c,
  kKeyRightCtrl = kExtended | 0x1d,
  kKeyKeypadSlash = kExtended | 0x35,
  kKeyRightAlt = kExtended | 0x38,
  kKeyHome = kExtended | 0x47,
  kKeyUp = kExtended | 0x48,
  kKeyPageUp = kExtended | 0x49,
  kKeyLeft = kExtended | 0x4b,
  kKeyRight = kExtended | 0x4d,
  kKeyEnd = kExtended | 0x4f,
  kKeyDown = kExtended | 0x50,
  kKeyPageDown = kExtended | 0x51,
  kKeyInsert = kExtended | 0x52,
  kKeyDelete = kExtended | 0x53,
};

struct KeyEvent {
  uint16_t key = kKeyNone;
  bool pressed = false;
};

// The set 1 scan code state machine (see the file comment). feed() returns
// true and fills `out` when `byte` completes a key event.
class Decoder {
 public:
  bool feed(uint8_t byte, KeyEvent* out);
  void reset() {
    state_ = State::Start;
    skip_ = 0;
  }

 private:
  enum class State : uint8_t { Start, Extended, Pause };
  State state_ = State::Start;
  uint8_t skip_ = 0;  // Pause: bytes still to drop
};

// ---------------------------------------------------------------- terminal bytes

inline constexpr size_t kMaxBytesPerScanCode = 8;  // the longest output, CSI 24;8~, is 7

// Modifier state and the keymap: scan code bytes in, terminal bytes out.
class Keyboard {
 public:
  // Feeds one byte from the controller; writes what it sends to `out` and
  // returns how many bytes (0 for most: releases, modifiers, prefixes,
  // garbage).
  size_t feed(uint8_t byte, uint8_t (&out)[kMaxBytesPerScanCode]);
  // The bytes the key event sends with the current modifiers, updating them
  // for modifier keys. Exposed for tests.
  size_t translate(const KeyEvent& e, uint8_t (&out)[kMaxBytesPerScanCode]);

  bool shift() const { return left_shift_ || right_shift_; }
  bool ctrl() const { return left_ctrl_ || right_ctrl_; }
  bool alt() const { return left_alt_ || right_alt_; }
  bool caps_lock() const { return caps_lock_; }
  bool num_lock() const { return num_lock_; }
  bool scroll_lock() const { return scroll_lock_; }
  // The LED byte for the locks (kLed*), for the 0xed command.
  uint8_t leds() const {
    return uint8_t((scroll_lock_ ? kLedScrollLock : 0) | (num_lock_ ? kLedNumLock : 0) |
                   (caps_lock_ ? kLedCapsLock : 0));
  }

 private:
  Decoder decoder_;
  bool left_shift_ = false, right_shift_ = false;
  bool left_ctrl_ = false, right_ctrl_ = false;
  bool left_alt_ = false, right_alt_ = false;
  bool caps_lock_ = false, num_lock_ = false, scroll_lock_ = false;
  bool caps_held_ = false, num_held_ = false, scroll_held_ = false;  // (typematic repeat toggles once)
};

}  // namespace keel::ps2
