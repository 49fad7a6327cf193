// ps2.cc — the i8042 bring-up, the set 1 scan code decoder and the US keymap
// (keel/ps2.h has the facts and the sources).
#include <keel/ps2.h>

namespace keel::ps2 {
namespace {

// ---------------------------------------------------------------- the controller

constexpr uint8_t kCmdReadConfig = 0x20, kCmdWriteConfig = 0x60, kCmdSelfTest = 0xaa, kCmdTestPort1 = 0xab;
constexpr uint8_t kCmdDisablePort1 = 0xad, kCmdEnablePort1 = 0xae, kCmdDisablePort2 = 0xa7;
constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kKbdReset = 0xff, kKbdScanCodeSet = 0xf0, kKbdEnableScanning = 0xf4;
constexpr uint8_t kKbdResend = 0xfe, kKbdTestPassed = 0xaa;
constexpr int kFlushMax = 64;  // bytes discarded at most before the bring-up

bool wait_writable(Controller& c) {
  const uint64_t deadline = c.now_ms() + kTimeoutMs;
  while (c.read_status() & kStatusInputFull)
    if (c.now_ms() > deadline) return false;
  return true;
}

bool read_byte(Controller& c, uint8_t* out, uint64_t timeout_ms = kTimeoutMs) {
  const uint64_t deadline = c.now_ms() + timeout_ms;
  while (!(c.read_status() & kStatusOutputFull))
    if (c.now_ms() > deadline) return false;
  *out = c.read_data();
  return true;
}

bool command(Controller& c, uint8_t cmd) {
  if (!wait_writable(c)) return false;
  c.write_command(cmd);
  return true;
}

bool command_with_data(Controller& c, uint8_t cmd, uint8_t data) {
  if (!command(c, cmd) || !wait_writable(c)) return false;
  c.write_data(data);
  return true;
}

// Sends a byte to the keyboard; true once it acknowledges (resent up to
// three times when it asks; other bytes before the ack are skipped).
bool keyboard_command(Controller& c, uint8_t byte) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!wait_writable(c)) return false;
    c.write_data(byte);
    uint8_t r = 0;
    bool resend = false;
    for (int skipped = 0; skipped < 8 && read_byte(c, &r); ++skipped) {
      if (r == kKbdAck) return true;
      if (r == kKbdResend) {
        resend = true;
        break;
      }
    }
    if (!resend) return false;
  }
  return false;
}

InitReport fail(InitReport r, const char* reason) {
  r.ok = false;
  r.reason = reason;
  return r;
}

}  // namespace

InitReport initialize(Controller& c) {
  InitReport r;
  if (c.read_status() == 0xff) return fail(r, "no controller (status reads 0xff)");
  if (!command(c, kCmdDisablePort1) || !command(c, kCmdDisablePort2))
    return fail(r, "no controller (input buffer never empties)");
  for (int i = 0; i < kFlushMax && (c.read_status() & kStatusOutputFull); ++i) (void)c.read_data();
  uint8_t config = 0;
  if (!command(c, kCmdReadConfig) || !read_byte(c, &config)) return fail(r, "no configuration byte");
  // While testing: no interrupts, no translation (the keyboard's answers
  // arrive as sent), the second port's clock off.
  config = uint8_t((config & ~(kConfigPort1Irq | kConfigPort2Irq | kConfigTranslate)) | kConfigPort2ClockOff);
  if (!command_with_data(c, kCmdWriteConfig, config)) return fail(r, "cannot write the configuration");
  uint8_t answer = 0;
  if (!command(c, kCmdSelfTest) || !read_byte(c, &answer) || answer != kSelfTestPassed)
    return fail(r, "controller self-test failed");
  // The self-test may have reset the configuration.
  if (!command_with_data(c, kCmdWriteConfig, config)) return fail(r, "cannot write the configuration");
  if (!command(c, kCmdTestPort1) || !read_byte(c, &answer) || answer != 0x00)
    return fail(r, "keyboard port test failed");
  if (!command(c, kCmdEnablePort1)) return fail(r, "cannot enable the keyboard port");

  // The keyboard: reset (its self-test takes a few hundred ms), set 2, scanning.
  r.keyboard_present = keyboard_command(c, kKbdReset) && read_byte(c, &answer, 4 * kTimeoutMs) &&
                       answer == kKbdTestPassed && keyboard_command(c, kKbdScanCodeSet) &&
                       keyboard_command(c, 0x02) && keyboard_command(c, kKbdEnableScanning);
  for (int i = 0; i < kFlushMax && (c.read_status() & kStatusOutputFull); ++i) (void)c.read_data();

  config = uint8_t((config | kConfigPort1Irq | kConfigTranslate) & ~kConfigPort1ClockOff);
  if (!command_with_data(c, kCmdWriteConfig, config)) return fail(r, "cannot write the configuration");
  r.ok = true;
  r.config = config;
  r.reason = r.keyboard_present ? "" : "no keyboard answered its reset";
  return r;
}

// ---------------------------------------------------------------- decoding

bool Decoder::feed(uint8_t b, KeyEvent* out) {
  // Controller and keyboard protocol bytes are never key codes.
  if (b == 0x00 || b == 0xff || b == 0xfa || b == 0xfe || b == 0xee) {
    reset();
    return false;
  }
  switch (state_) {
    case State::Pause:
      if (b == 0xe1) {
        skip_ = 2;
      } else if (--skip_ == 0) {
        state_ = State::Start;
      }
      return false;
    case State::Extended: {
      state_ = State::Start;
      if (b == 0xe0) {  // a doubled prefix: the second one counts
        state_ = State::Extended;
        return false;
      }
      if (b == 0xe1) break;  // Pause, below
      const uint8_t code = b & 0x7f;
      if (code == 0x2a || code == 0x36) return false;  // fake shifts
      *out = KeyEvent{uint16_t(kExtended | code), (b & 0x80) == 0};
      return true;
    }
    case State::Start:
      break;
  }
  if (b == 0xe0) {
    state_ = State::Extended;
    return false;
  }
  if (b == 0xe1) {
    state_ = State::Pause;
    skip_ = 2;
    return false;
  }
  const uint8_t code = b & 0x7f;
  if (code > kKeyF12) return false;  // no such key in set 1 (0 was handled above)
  *out = KeyEvent{code, (b & 0x80) == 0};
  return true;
}

// ---------------------------------------------------------------- the keymap

namespace {

// US layout, set 1 codes 0x00..0x39 (0: no character).
constexpr char kPlain[0x3a] = {
    0,   0,   '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', 0,   0,    // 0x00
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', 0,   0,   'a', 's',  // 0x10
    'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0,  '\\', 'z', 'x', 'c', 'v', // 0x20
    'b', 'n', 'm', ',', '.', '/', 0,   0,   0,   ' ',                                // 0x30
};
constexpr char kShifted[0x3a] = {
    0,   0,   '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', 0,   0,
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', 0,   0,   'A', 'S',
    'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0,   '|', 'Z', 'X', 'C', 'V',
    'B', 'N', 'M', '<', '>', '?', 0,   0,   0,   ' ',
};
constexpr uint8_t kKey102 = 0x56;  // the extra key of 102-key boards: \ | in the US layout

// Keypad 0x47..0x53 with num lock: the character; without: the extended key
// printed under it (0: none, keypad 5).
constexpr char kKeypadDigit[13] = {'7', '8', '9', '-', '4', '5', '6', '+', '1', '2', '3', '0', '.'};
constexpr uint16_t kKeypadNav[13] = {kKeyHome, kKeyUp, kKeyPageUp, 0, kKeyLeft, 0, kKeyRight, 0,
                                     kKeyEnd, kKeyDown, kKeyPageDown, kKeyInsert, kKeyDelete};

struct Out {
  uint8_t (&buf)[kMaxBytesPerScanCode];
  size_t n = 0;
  void put(uint8_t c) {
    if (n < kMaxBytesPerScanCode) buf[n++] = c;
  }
  void number(unsigned v) {
    if (v >= 10) put(uint8_t('0' + v / 10));
    put(uint8_t('0' + v % 10));
  }
};

bool is_letter(char c) { return c >= 'a' && c <= 'z'; }

// Ctrl with a non-letter: the classic terminal controls, or the character itself.
uint8_t ctrl_of(char plain) {
  switch (plain) {
    case '2':
    case ' ':
      return 0x00;
    case '[':
      return 0x1b;
    case '\\':
      return 0x1c;
    case ']':
      return 0x1d;
    case '6':
      return 0x1e;
    case '-':
    case '/':
      return 0x1f;
    default:
      return uint8_t(plain);
  }
}

}  // namespace

size_t Keyboard::translate(const KeyEvent& e, uint8_t (&buf)[kMaxBytesPerScanCode]) {
  Out out{buf};
  // Modifiers and locks first: they only change state.
  switch (e.key) {
    case kKeyLeftShift: left_shift_ = e.pressed; return 0;
    case kKeyRightShift: right_shift_ = e.pressed; return 0;
    case kKeyLeftCtrl: left_ctrl_ = e.pressed; return 0;
    case kKeyRightCtrl: right_ctrl_ = e.pressed; return 0;
    case kKeyLeftAlt: left_alt_ = e.pressed; return 0;
    case kKeyRightAlt: right_alt_ = e.pressed; return 0;
    case kKeyCapsLock:
      // Typematic repeat sends more presses while the key is held: toggle once.
      if (e.pressed && !caps_held_) caps_lock_ = !caps_lock_;
      caps_held_ = e.pressed;
      return 0;
    case kKeyNumLock:
      if (e.pressed && !num_held_) num_lock_ = !num_lock_;
      num_held_ = e.pressed;
      return 0;
    case kKeyScrollLock:
      if (e.pressed && !scroll_held_) scroll_lock_ = !scroll_lock_;
      scroll_held_ = e.pressed;
      return 0;
    default:
      break;
  }
  if (!e.pressed) return 0;
  uint16_t key = e.key;
  // The keypad: characters with num lock (not shifted), else navigation.
  if (key >= kKeyKeypad7 && key <= kKeyKeypad7 + 12) {
    const unsigned i = key - kKeyKeypad7;
    if ((num_lock_ && !shift()) || kKeypadNav[i] == 0) {
      if (key == kKeyKeypad7 + 5 && !num_lock_) return 0;  // keypad 5 without num lock
      out.put(uint8_t(kKeypadDigit[i]));
      return out.n;
    }
    key = kKeypadNav[i];
  }
  const unsigned mod = 1 + (shift() ? 1 : 0) + (alt() ? 2 : 0) + (ctrl() ? 4 : 0);
  auto csi_letter = [&](uint8_t final_byte) {
    out.put(0x1b);
    out.put('[');
    if (mod > 1) {
      out.put('1');
      out.put(';');
      out.number(mod);
    }
    out.put(final_byte);
  };
  auto csi_tilde = [&](unsigned n) {
    out.put(0x1b);
    out.put('[');
    out.number(n);
    if (mod > 1) {
      out.put(';');
      out.number(mod);
    }
    out.put('~');
  };
  switch (key) {
    case kKeyUp: csi_letter('A'); return out.n;
    case kKeyDown: csi_letter('B'); return out.n;
    case kKeyRight: csi_letter('C'); return out.n;
    case kKeyLeft: csi_letter('D'); return out.n;
    case kKeyHome: csi_letter('H'); return out.n;
    case kKeyEnd: csi_letter('F'); return out.n;
    case kKeyInsert: csi_tilde(2); return out.n;
    case kKeyDelete: csi_tilde(3); return out.n;
    case kKeyPageUp: csi_tilde(5); return out.n;
    case kKeyPageDown: csi_tilde(6); return out.n;
    case kKeyF11: csi_tilde(23); return out.n;
    case kKeyF12: csi_tilde(24); return out.n;
    default: break;
  }
  if (key >= kKeyF1 && key <= kKeyF1 + 9) {
    const unsigned f = key - kKeyF1;  // 0 = F1
    if (f < 4) {
      if (mod > 1) {
        csi_letter(uint8_t('P' + f));
      } else {
        out.put(0x1b);
        out.put('O');
        out.put(uint8_t('P' + f));
      }
    } else {
      static constexpr uint8_t kTilde[6] = {15, 17, 18, 19, 20, 21};  // F5..F10
      csi_tilde(kTilde[f - 4]);
    }
    return out.n;
  }
  uint8_t c = 0;
  switch (key) {
    case kKeyEscape: c = 0x1b; break;
    case kKeyBackspace: c = 0x7f; break;
    case kKeyTab: c = '\t'; break;
    case kKeyEnter:
    case kKeyKeypadEnter: c = '\r'; break;
    case kKeyKeypadStar: c = '*'; break;
    case kKeyKeypadSlash: c = '/'; break;
    case kKey102: c = shift() ? '|' : '\\'; break;
    default:
      if (key < sizeof kPlain && kPlain[key] != 0) {
        const char plain = kPlain[key];
        const bool upper = is_letter(plain) ? shift() != caps_lock_ : shift();
        c = uint8_t(upper ? kShifted[key] : plain);
        if (ctrl()) c = is_letter(plain) ? uint8_t(plain & 0x1f) : ctrl_of(plain);
      }
      break;
  }
  if (c == 0 && !(ctrl() && key < sizeof kPlain && kPlain[key] != 0)) return 0;  // no character (unknown key)
  if (alt()) out.put(0x1b);
  out.put(c);
  return out.n;
}

size_t Keyboard::feed(uint8_t byte, uint8_t (&out)[kMaxBytesPerScanCode]) {
  KeyEvent e;
  if (!decoder_.feed(byte, &e)) return 0;
  return translate(e, out);
}

}  // namespace keel::ps2
