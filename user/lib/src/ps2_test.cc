// ps2_test.cc — host tests for keel/ps2.h: the i8042 bring-up over a
// simulated controller (a working one, none at all, a stuck one, a failing
// self-test, no keyboard, a keyboard that asks for resends), the set 1
// decoder (extended keys, fake shifts, Pause, garbage) and the US keymap
// (modifiers, caps lock, ctrl, alt, escape sequences).
#include <gtest/gtest.h>

#include <keel/ps2.h>

#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace keel::ps2 {
namespace {

// An i8042 with a keyboard, as far as initialize() uses one.
struct FakeController final : Controller {
  enum class Mode { Working, Absent, Stuck, SelfTestFails, NoKeyboard, Resend };
  Mode mode = Mode::Working;
  std::deque<uint8_t> output;  // bytes for port 0x60
  uint8_t config = 0x47;       // what firmware typically leaves
  int pending = 0;             // the command waiting for a data byte (0x60)
  int kbd_expect_set = 0;      // the keyboard awaits the set number after 0xf0
  int resends_left = 2;
  bool port1_enabled = false;
  uint64_t clock = 0;
  std::vector<uint8_t> keyboard_bytes;  // what was sent to the keyboard

  uint8_t read_status() override {
    if (mode == Mode::Absent) return 0xff;
    if (mode == Mode::Stuck) return kStatusInputFull;
    return output.empty() ? 0 : kStatusOutputFull;
  }
  uint8_t read_data() override {
    if (output.empty()) return 0;
    uint8_t b = output.front();
    output.pop_front();
    return b;
  }
  void write_command(uint8_t cmd) override {
    switch (cmd) {
      case 0x20: output.push_back(config); break;
      case 0x60: pending = 0x60; break;
      case 0xaa:
        output.push_back(mode == Mode::SelfTestFails ? 0xfc : 0x55);
        config = 0x47;  // some controllers reset it
        break;
      case 0xab: output.push_back(0x00); break;
      case 0xae: port1_enabled = true; break;
      case 0xad: port1_enabled = false; break;
      default: break;
    }
  }
  void write_data(uint8_t v) override {
    if (pending == 0x60) {
      config = v;
      pending = 0;
      return;
    }
    keyboard_bytes.push_back(v);
    if (mode == Mode::NoKeyboard) return;
    if (mode == Mode::Resend && resends_left > 0) {
      --resends_left;
      output.push_back(0xfe);
      return;
    }
    if (kbd_expect_set) {
      kbd_expect_set = 0;
      output.push_back(0xfa);
      return;
    }
    output.push_back(0xfa);
    if (v == 0xff) output.push_back(0xaa);
    if (v == 0xf0) kbd_expect_set = 1;
  }
  uint64_t now_ms() override { return clock++; }
};

TEST(Ps2Init, WorkingControllerAndKeyboard) {
  FakeController c;
  c.output = {0x1e, 0x9e};  // stale bytes: flushed
  InitReport r = initialize(c);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_TRUE(r.keyboard_present);
  EXPECT_TRUE(c.config & kConfigPort1Irq);
  EXPECT_TRUE(c.config & kConfigTranslate);
  EXPECT_FALSE(c.config & kConfigPort1ClockOff);
  EXPECT_FALSE(c.config & kConfigPort2Irq);
  EXPECT_TRUE(c.port1_enabled);
  EXPECT_EQ(c.keyboard_bytes, (std::vector<uint8_t>{0xff, 0xf0, 0x02, 0xf4}));
  EXPECT_TRUE(c.output.empty());
}

TEST(Ps2Init, NoControllerGivesUpAtOnce) {
  FakeController c;
  c.mode = FakeController::Mode::Absent;
  InitReport r = initialize(c);
  EXPECT_FALSE(r.ok);
  EXPECT_STREQ(r.reason, "no controller (status reads 0xff)");
  EXPECT_LT(c.clock, 10u);
}

TEST(Ps2Init, StuckControllerTimesOut) {
  FakeController c;
  c.mode = FakeController::Mode::Stuck;
  InitReport r = initialize(c);
  EXPECT_FALSE(r.ok);
  EXPECT_STREQ(r.reason, "no controller (input buffer never empties)");
  EXPECT_LE(c.clock, 2 * kTimeoutMs + 10);
}

TEST(Ps2Init, SelfTestFailure) {
  FakeController c;
  c.mode = FakeController::Mode::SelfTestFails;
  InitReport r = initialize(c);
  EXPECT_FALSE(r.ok);
  EXPECT_STREQ(r.reason, "controller self-test failed");
}

TEST(Ps2Init, NoKeyboardStillEnablesTheController) {
  FakeController c;
  c.mode = FakeController::Mode::NoKeyboard;
  InitReport r = initialize(c);
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.keyboard_present);
  EXPECT_STREQ(r.reason, "no keyboard answered its reset");
  EXPECT_TRUE(c.config & kConfigPort1Irq);
  EXPECT_LE(c.clock, 20 * kTimeoutMs);  // bounded
}

TEST(Ps2Init, KeyboardResendIsRetried) {
  FakeController c;
  c.mode = FakeController::Mode::Resend;
  InitReport r = initialize(c);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.keyboard_present);
  EXPECT_EQ(c.keyboard_bytes, (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xf0, 0x02, 0xf4}));
}

// ---------------------------------------------------------------- decoder

std::vector<KeyEvent> decode(std::initializer_list<uint8_t> bytes) {
  Decoder d;
  std::vector<KeyEvent> out;
  for (uint8_t b : bytes) {
    KeyEvent e;
    if (d.feed(b, &e)) out.push_back(e);
  }
  return out;
}

TEST(Ps2Decoder, MakeAndBreak) {
  auto ev = decode({0x1e, 0x9e});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].key, 0x1e);
  EXPECT_TRUE(ev[0].pressed);
  EXPECT_EQ(ev[1].key, 0x1e);
  EXPECT_FALSE(ev[1].pressed);
}

TEST(Ps2Decoder, ExtendedKeys) {
  auto ev = decode({0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0x1c, 0xe0, 0x53});
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].key, kKeyUp);
  EXPECT_TRUE(ev[0].pressed);
  EXPECT_EQ(ev[1].key, kKeyUp);
  EXPECT_FALSE(ev[1].pressed);
  EXPECT_EQ(ev[2].key, kKeyKeypadEnter);
  EXPECT_EQ(ev[3].key, kKeyDelete);
}

TEST(Ps2Decoder, FakeShiftsAreDropped) {
  // Print Screen: E0 2A E0 37, released E0 B7 E0 AA.
  auto ev = decode({0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].key, kExtended | 0x37);
  EXPECT_EQ(ev[1].key, kExtended | 0x37);
}

TEST(Ps2Decoder, PauseProducesNothing) {
  auto ev = decode({0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5, 0x1e});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, 0x1e);
}

TEST(Ps2Decoder, ProtocolBytesAndUnknownCodes) {
  // Ack, resend, echo, errors and codes past F12 are no keys; an error
  // between a prefix and its code resets the decoder.
  auto ev = decode({0xfa, 0xfe, 0xee, 0x00, 0xff, 0x59, 0x7f, 0xd9, 0xe0, 0xff, 0x1e});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, 0x1e);
  EXPECT_TRUE(ev[0].pressed);
}

// ---------------------------------------------------------------- keymap

std::string type(Keyboard& k, std::initializer_list<uint8_t> bytes) {
  std::string s;
  for (uint8_t b : bytes) {
    uint8_t out[kMaxBytesPerScanCode];
    size_t n = k.feed(b, out);
    s.append(reinterpret_cast<char*>(out), n);
  }
  return s;
}

TEST(Ps2Keymap, LettersDigitsAndPunctuation) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x23, 0xa3, 0x17, 0x97, 0x39, 0xb9, 0x02, 0x0c, 0x0d, 0x1a, 0x27, 0x28, 0x29, 0x2b, 0x33, 0x35}),
            "hi 1-=[;'`\\,/");
}

TEST(Ps2Keymap, ShiftAndCapsLock) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x2a, 0x23, 0x02, 0x35, 0xaa, 0x23}), "H!?h");
  EXPECT_EQ(type(k, {0x36, 0x1e, 0xb6, 0x1e}), "Aa");  // right shift
  // Caps lock: letters only; shift inverts it; held (repeated) toggles once.
  EXPECT_EQ(type(k, {0x3a, 0x3a, 0x3a, 0xba, 0x1e, 0x02, 0x2a, 0x1e, 0xaa}), "A1a");
  EXPECT_TRUE(k.caps_lock());
  EXPECT_EQ(type(k, {0x3a, 0xba, 0x1e}), "a");
}

TEST(Ps2Keymap, CtrlAndAlt) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x1d, 0x2e, 0x1e, 0x1a, 0x03, 0x9d}), std::string("\x03\x01\x1b\x00", 4));
  EXPECT_EQ(type(k, {0xe0, 0x1d, 0x20, 0xe0, 0x9d, 0x20}), "\x04" "d");  // right ctrl
  EXPECT_EQ(type(k, {0x38, 0x30, 0xb8, 0x30}), "\x1b" "bb");
  EXPECT_EQ(type(k, {0xe0, 0x38, 0x1d, 0x2e, 0x9d, 0xe0, 0xb8}), "\x1b\x03");
}

TEST(Ps2Keymap, ControlKeys) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x1c, 0x9c, 0xe0, 0x1c, 0x0e, 0x0f, 0x01}), "\r\r\x7f\t\x1b");
}

TEST(Ps2Keymap, CursorAndEditingKeys) {
  Keyboard k;
  EXPECT_EQ(type(k, {0xe0, 0x48, 0xe0, 0x50, 0xe0, 0x4d, 0xe0, 0x4b}), "\x1b[A\x1b[B\x1b[C\x1b[D");
  EXPECT_EQ(type(k, {0xe0, 0x47, 0xe0, 0x4f}), "\x1b[H\x1b[F");
  EXPECT_EQ(type(k, {0xe0, 0x52, 0xe0, 0x53, 0xe0, 0x49, 0xe0, 0x51}), "\x1b[2~\x1b[3~\x1b[5~\x1b[6~");
  // With modifiers: CSI 1;m X and CSI n;m ~.
  EXPECT_EQ(type(k, {0x1d, 0xe0, 0x4d, 0x2a, 0xe0, 0x53, 0xaa, 0x9d}), "\x1b[1;5C\x1b[3;6~");
}

TEST(Ps2Keymap, FunctionKeys) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x3b, 0x3e, 0x3f, 0x44, 0x57, 0x58}), "\x1bOP\x1bOS\x1b[15~\x1b[21~\x1b[23~\x1b[24~");
}

TEST(Ps2Keymap, Keypad) {
  Keyboard k;
  // Num lock off: navigation; keypad 5 sends nothing; operators always.
  EXPECT_EQ(type(k, {0x48, 0x4c, 0x53, 0x4a, 0x4e, 0x37, 0xe0, 0x35}), "\x1b[A\x1b[3~-+*/");
  EXPECT_EQ(type(k, {0x45, 0xc5, 0x47, 0x4c, 0x52, 0x53}), "750.");
  EXPECT_TRUE(k.num_lock());
}

TEST(Ps2Keymap, ReleasesAndModifiersAloneSendNothing) {
  Keyboard k;
  EXPECT_EQ(type(k, {0x9e, 0xe0, 0xc8, 0x2a, 0xaa, 0x1d, 0x9d, 0x38, 0xb8, 0x46, 0xc6}), "");
}

TEST(Ps2Keymap, LockLeds) {
  Keyboard k;
  EXPECT_EQ(k.leds(), 0);
  type(k, {0x3a, 0x3a, 0xba});  // caps lock, held (repeated): one toggle
  EXPECT_EQ(k.leds(), kLedCapsLock);
  type(k, {0x45, 0xc5, 0x46, 0xc6});
  EXPECT_EQ(k.leds(), kLedCapsLock | kLedNumLock | kLedScrollLock);
  type(k, {0x3a, 0xba, 0x46, 0xc6});
  EXPECT_EQ(k.leds(), kLedNumLock);
}

TEST(Ps2Keymap, GarbageNeverOverflowsOrCrashes) {
  Keyboard k;
  std::srand(12345);
  for (int i = 0; i < 200000; ++i) {
    uint8_t out[kMaxBytesPerScanCode];
    size_t n = k.feed(uint8_t(std::rand()), out);
    ASSERT_LE(n, kMaxBytesPerScanCode);
  }
  // Every make code, extended or not, under every modifier combination.
  for (unsigned mods = 0; mods < 8; ++mods) {
    for (unsigned code = 0; code < 0x100; ++code) {
      Keyboard kb;
      uint8_t out[kMaxBytesPerScanCode];
      if (mods & 1) kb.feed(0x2a, out);
      if (mods & 2) kb.feed(0x1d, out);
      if (mods & 4) kb.feed(0x38, out);
      KeyEvent e{uint16_t(code < 0x80 ? code : kExtended | (code & 0x7f)), true};
      ASSERT_LE(kb.translate(e, out), kMaxBytesPerScanCode);
    }
  }
}

}  // namespace
}  // namespace keel::ps2
