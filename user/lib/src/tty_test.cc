// tty_test.cc — host tests for keel/tty.h: the termios layout against Linux's
// own headers, canonical editing and its echo byte for byte, signal
// characters, EOF, LNEXT, input mapping, non-canonical reads with VMIN,
// output post-processing, and a full input queue.
#include <gtest/gtest.h>

#include <keel/tty.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#if defined(__linux__) && __has_include(<asm/termbits.h>)
#include <asm/termbits.h>  // the kernel's struct termios and flag values (UAPI)
#define TTY_TEST_HAVE_TERMBITS 1
#endif

namespace keel::tty {
namespace {

using namespace std::string_literals;

// An echo/output sink that keeps everything, optionally with limited room.
class Capture final : public Output {
 public:
  size_t room() const override { return limit_ == kUnlimited ? kUnlimited : limit_ - data_.size(); }
  void write(std::span<const uint8_t> bytes) override {
    ASSERT_LE(bytes.size(), room());
    data_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void limit(size_t total) { limit_ = total; }
  // Returns what was written since the last take().
  std::string take() {
    std::string s = std::move(data_);
    data_.clear();
    return s;
  }

 private:
  std::string data_;
  size_t limit_ = kUnlimited;
};

class SignalLog final : public Signals {
 public:
  void raise(Signal sig) override { raised.push_back(sig); }
  std::vector<Signal> raised;
};

// A tty: the line discipline plus what it echoed and raised.
struct Tty {
  explicit Tty(const Termios& t = sane_termios()) : ld(t) {}

  void type(std::string_view s) {
    ld.input(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), echo, sig);
  }
  std::string read(size_t max = LineDiscipline::kBufferSize) {
    std::vector<uint8_t> buf(max);
    size_t n = ld.read(buf);
    return std::string(buf.begin(), buf.begin() + n);
  }
  std::string echoed() { return echo.take(); }

  LineDiscipline ld;
  Capture echo;
  SignalLog sig;
};

Termios with_lflag(uint32_t set, uint32_t clear = 0) {
  Termios t = sane_termios();
  t.c_lflag = (t.c_lflag | set) & ~clear;
  return t;
}
Termios with_iflag(uint32_t set, uint32_t clear = 0) {
  Termios t = sane_termios();
  t.c_iflag = (t.c_iflag | set) & ~clear;
  return t;
}
Termios raw(uint8_t vmin, uint32_t lclear = 0) {
  Termios t = with_lflag(0, kICANON | lclear);
  t.c_cc[kVMIN] = vmin;
  return t;
}

// ---------------------------------------------------------------------------
// Settings.

#ifdef TTY_TEST_HAVE_TERMBITS
TEST(TtyTermios, MatchesLinuxUapiHeaders) {
  static_assert(sizeof(Termios) == sizeof(::termios));
  static_assert(offsetof(Termios, c_iflag) == offsetof(::termios, c_iflag));
  static_assert(offsetof(Termios, c_oflag) == offsetof(::termios, c_oflag));
  static_assert(offsetof(Termios, c_cflag) == offsetof(::termios, c_cflag));
  static_assert(offsetof(Termios, c_lflag) == offsetof(::termios, c_lflag));
  static_assert(offsetof(Termios, c_line) == offsetof(::termios, c_line));
  static_assert(offsetof(Termios, c_cc) == offsetof(::termios, c_cc));
  static_assert(kNCCS == NCCS);
  static_assert(kVINTR == VINTR && kVQUIT == VQUIT && kVERASE == VERASE && kVKILL == VKILL);
  static_assert(kVEOF == VEOF && kVTIME == VTIME && kVMIN == VMIN && kVSWTC == VSWTC);
  static_assert(kVSTART == VSTART && kVSTOP == VSTOP && kVSUSP == VSUSP && kVEOL == VEOL);
  static_assert(kVREPRINT == VREPRINT && kVDISCARD == VDISCARD && kVWERASE == VWERASE);
  static_assert(kVLNEXT == VLNEXT && kVEOL2 == VEOL2);
  static_assert(kIGNBRK == IGNBRK && kBRKINT == BRKINT && kISTRIP == ISTRIP && kINLCR == INLCR);
  static_assert(kIGNCR == IGNCR && kICRNL == ICRNL && kIXON == IXON && kIMAXBEL == IMAXBEL);
  static_assert(kIUTF8 == IUTF8);
  static_assert(kOPOST == OPOST && kONLCR == ONLCR);
  static_assert(kB38400 == B38400 && kCS8 == CS8 && kCREAD == CREAD && kHUPCL == HUPCL);
  static_assert(kISIG == ISIG && kICANON == ICANON && kECHO == ECHO && kECHOE == ECHOE);
  static_assert(kECHOK == ECHOK && kECHONL == ECHONL && kNOFLSH == NOFLSH && kECHOCTL == ECHOCTL);
  static_assert(kECHOKE == ECHOKE && kIEXTEN == IEXTEN);
  SUCCEED();
}
#endif

TEST(TtyTermios, SaneDefaults) {
  constexpr Termios t = sane_termios();
  // Linux's tty_std_termios.
  EXPECT_EQ(t.c_iflag, kICRNL | kIXON);
  EXPECT_EQ(t.c_oflag, kOPOST | kONLCR);
  EXPECT_EQ(t.c_cflag, 0x4bfu);  // B38400 | CS8 | CREAD | HUPCL
  EXPECT_EQ(t.c_lflag, kICANON | kECHO | kECHOE | kECHOK | kECHOCTL | kECHOKE | kISIG | kIEXTEN);
  EXPECT_EQ(t.c_line, 0);
  // Linux's INIT_C_CC: "\003\034\177\025\004\0\1\0\021\023\032\0\022\017\027\026\0".
  const uint8_t expected[kNCCS] = {3,   034, 0177, 025, 4,   0,   1, 0, 021, 023,
                                   032, 0,   022,  017, 027, 026, 0, 0, 0};
  for (size_t i = 0; i < kNCCS; ++i) EXPECT_EQ(t.c_cc[i], expected[i]) << "c_cc[" << i << "]";
}

TEST(TtyTermios, GetReturnsWhatWasSet) {
  LineDiscipline ld;
  Termios t = sane_termios();
  t.c_iflag |= kIXOFF;  // stored only
  t.c_cflag = 0x12345678;
  t.c_cc[kVDISCARD] = 0x42;
  ld.set_termios(t);
  Termios got = ld.get_termios();
  EXPECT_EQ(std::memcmp(&got, &t, sizeof(Termios)), 0);
}

// ---------------------------------------------------------------------------
// Canonical mode: lines and editing.

TEST(TtyCanonical, AssemblesALine) {
  Tty tty;
  tty.type("hello");
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 0u);
  EXPECT_EQ(tty.read(), "");
  EXPECT_EQ(tty.echoed(), "hello");
  tty.type("\r");
  EXPECT_EQ(tty.echoed(), "\r\n");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 6u);
  EXPECT_EQ(tty.read(), "hello\n");
  EXPECT_FALSE(tty.ld.readable());
}

TEST(TtyCanonical, ReadReturnsOneLineAtATime) {
  Tty tty;
  tty.type("one\rtwo\nthr");
  EXPECT_EQ(tty.ld.bytes_available(), 8u);
  EXPECT_EQ(tty.read(), "one\n");
  EXPECT_EQ(tty.read(), "two\n");
  EXPECT_FALSE(tty.ld.readable());
  tty.type("ee\r");
  EXPECT_EQ(tty.read(), "three\n");
}

TEST(TtyCanonical, EraseEchoesBackspaceSpaceBackspace) {
  Tty tty;
  tty.type(
      "ab\x7f"
      "c\r");
  EXPECT_EQ(tty.echoed(), "ab\b \bc\r\n");
  EXPECT_EQ(tty.read(), "ac\n");
}

TEST(TtyCanonical, ControlHErasesToo) {
  Tty tty;
  tty.type("ab\bc\r");
  EXPECT_EQ(tty.echoed(), "ab\b \bc\r\n");
  EXPECT_EQ(tty.read(), "ac\n");
}

TEST(TtyCanonical, EraseAtLineStartDoesNothing) {
  Tty tty;
  tty.type("\x7f\b");
  EXPECT_EQ(tty.echoed(), "");
  tty.type("x\r");
  EXPECT_EQ(tty.read(), "x\n");
}

TEST(TtyCanonical, EraseNeverReachesACompletedLine) {
  Tty tty;
  tty.type("a\r");
  tty.echoed();
  tty.type(
      "b\x7f\x7f\x7f"
      "c\r");
  EXPECT_EQ(tty.echoed(), "b\b \bc\r\n");
  EXPECT_EQ(tty.read(), "a\n");
  EXPECT_EQ(tty.read(), "c\n");
}

TEST(TtyCanonical, EraseMidLine) {
  Tty tty;
  tty.type("abcd\x7f\x7fxy\r");
  EXPECT_EQ(tty.echoed(), "abcd\b \b\b \bxy\r\n");
  EXPECT_EQ(tty.read(), "abxy\n");
}

TEST(TtyCanonical, EraseWithoutEchoeEchoesTheCharacter) {
  Tty tty(with_lflag(0, kECHOE));
  tty.type("ab\x7f\r");
  EXPECT_EQ(tty.echoed(), "ab^?\r\n");
  EXPECT_EQ(tty.read(), "a\n");
}

TEST(TtyCanonical, ErasingAControlCharacterErasesItsCaretForm) {
  Tty tty;
  tty.type("a\x01");
  EXPECT_EQ(tty.echoed(), "a^A");
  EXPECT_EQ(tty.ld.column(), 3u);
  tty.type("\x7f");
  EXPECT_EQ(tty.echoed(), "\b \b\b \b");
  EXPECT_EQ(tty.ld.column(), 1u);
}

TEST(TtyCanonical, ErasingATabBacksUpToWhereItStarted) {
  Tty tty;
  tty.type("ab\t");
  EXPECT_EQ(tty.ld.column(), 8u);
  tty.type("\x7f");
  EXPECT_EQ(tty.echoed(), "ab\t\b\b\b\b\b\b");
  EXPECT_EQ(tty.ld.column(), 2u);
  // After a prompt: the line started at column 3.
  Tty prompted;
  prompted.ld.process_output(std::span(reinterpret_cast<const uint8_t*>("$ >"), 3), prompted.echo);
  prompted.echoed();
  prompted.type("x\t\x7f");
  EXPECT_EQ(prompted.echoed(), "x\t\b\b\b\b");
  EXPECT_EQ(prompted.ld.column(), 4u);
}

TEST(TtyCanonical, KillEchoesKillAndNewline) {
  Termios t = sane_termios();
  t.c_lflag &= ~kECHOKE;  // (the default erases the line: KillWithEchokeErasesTheLine)
  Tty tty(t);
  tty.type("abc\x15");
  EXPECT_EQ(tty.echoed(), "abc^U\r\n");
  EXPECT_FALSE(tty.ld.readable());
  tty.type("d\r");
  EXPECT_EQ(tty.read(), "d\n");
}

TEST(TtyCanonical, KillAtLineStartDoesNothing) {
  Tty tty;
  tty.type("a\r");
  tty.echoed();
  tty.type("\x15");
  EXPECT_EQ(tty.echoed(), "");
  EXPECT_EQ(tty.read(), "a\n");
}

TEST(TtyCanonical, KillKeepsCompletedLines) {
  Tty tty;
  tty.type("keep\rdrop\x15new\r");
  EXPECT_EQ(tty.read(), "keep\n");
  EXPECT_EQ(tty.read(), "new\n");
}

TEST(TtyCanonical, KillWithEchokeErasesTheLine) {
  Tty tty(with_lflag(kECHOKE));
  tty.type("ab\x01\x15");
  EXPECT_EQ(tty.echoed(), "ab^A\b \b\b \b\b \b\b \b");
  EXPECT_EQ(tty.ld.column(), 0u);
}

TEST(TtyCanonical, KillWithoutEchokEchoesOnlyTheKillCharacter) {
  Tty tty(with_lflag(0, kECHOK));
  tty.type("ab\x15");
  EXPECT_EQ(tty.echoed(), "ab^U");
}

TEST(TtyCanonical, WordErase) {
  Tty tty;
  tty.type("foo bar\x17");
  EXPECT_EQ(tty.echoed(), "foo bar\b \b\b \b\b \b");
  tty.type("\r");
  EXPECT_EQ(tty.read(), "foo \n");
}

TEST(TtyCanonical, WordEraseSkipsTrailingSeparators) {
  Tty tty;
  tty.type("foo bar  \x17\r");
  EXPECT_EQ(tty.read(), "foo \n");
  tty.type("cd /usr/lib\x17\r");  // '/' separates words, as in Linux
  EXPECT_EQ(tty.read(), "cd /usr/\n");
  tty.type("snake_case\x17\r");  // '_' belongs to the word
  EXPECT_EQ(tty.read(), "\n");
}

TEST(TtyCanonical, WordEraseToLineStartAndBeyond) {
  Tty tty;
  tty.type("x\r");
  tty.type("foo bar\x17\x17\x17");
  tty.echoed();
  tty.type("\x17");  // at line start: nothing
  EXPECT_EQ(tty.echoed(), "");
  tty.type("y\r");
  EXPECT_EQ(tty.read(), "x\n");
  EXPECT_EQ(tty.read(), "y\n");
}

TEST(TtyCanonical, WordEraseNeedsIexten) {
  Tty tty(with_lflag(0, kIEXTEN));
  tty.type("a b\x17\r");
  EXPECT_EQ(tty.echoed(), "a b^W\r\n");
  EXPECT_EQ(tty.read(), "a b\x17\n");
}

TEST(TtyCanonical, EolAndEol2EndALine) {
  Termios t = sane_termios();
  t.c_cc[kVEOL] = ';';
  t.c_cc[kVEOL2] = 0x01;
  Tty tty(t);
  tty.type("a;b\x01");
  EXPECT_EQ(tty.echoed(), "a;b^A");
  EXPECT_EQ(tty.read(), "a;");
  EXPECT_EQ(tty.read(), "b\x01");
  t.c_lflag &= ~kIEXTEN;  // EOL2 is an extension
  tty.ld.set_termios(t);
  tty.type("c\x01\r");
  EXPECT_EQ(tty.read(), "c\x01\n");
}

TEST(TtyCanonical, DisabledCharactersNeverMatchNul) {
  Tty tty;  // VEOL and VEOL2 are disabled (0)
  tty.type(std::string_view("\0\r", 2));
  EXPECT_EQ(tty.echoed(), "^@\r\n");
  EXPECT_EQ(tty.read(), std::string("\0\n", 2));
}

TEST(TtyCanonical, PartialReadsOfALongLine) {
  Tty tty;
  tty.type("hello world\rnext\r");
  EXPECT_EQ(tty.read(4), "hell");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 13u);
  EXPECT_EQ(tty.read(4), "o wo");
  EXPECT_EQ(tty.read(4), "rld\n");
  EXPECT_EQ(tty.read(100), "next\n");
  EXPECT_FALSE(tty.ld.readable());
}

TEST(TtyCanonical, ReadWithAnEmptyBufferConsumesNothing) {
  Tty tty;
  tty.type("\x04");
  EXPECT_EQ(tty.read(0), "");
  EXPECT_TRUE(tty.ld.readable());  // the EOF is still there
  EXPECT_EQ(tty.read(), "");
  EXPECT_FALSE(tty.ld.readable());
}

// ---------------------------------------------------------------------------
// EOF.

TEST(TtyEof, OnAnEmptyLineIsEndOfFileOnce) {
  Tty tty;
  tty.type("\x04");
  EXPECT_EQ(tty.echoed(), "");  // EOF is not echoed
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 0u);
  EXPECT_EQ(tty.read(), "");  // end of file
  EXPECT_FALSE(tty.ld.readable());
}

TEST(TtyEof, MidLinePassesTheLineWithoutTerminator) {
  Tty tty;
  tty.type("ab\x04");
  EXPECT_EQ(tty.echoed(), "ab");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 2u);
  EXPECT_EQ(tty.read(), "ab");
  EXPECT_FALSE(tty.ld.readable());  // no spurious end of file
  tty.type("\x04");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.read(), "");
}

TEST(TtyEof, AfterAnExactlyFullReadIsConsumed) {
  Tty tty;
  tty.type(
      "abc\x04"
      "def\x04");
  EXPECT_EQ(tty.read(3), "abc");
  EXPECT_EQ(tty.read(2), "de");
  EXPECT_EQ(tty.read(2), "f");
  EXPECT_FALSE(tty.ld.readable());
}

TEST(TtyEof, ThenMoreLines) {
  Tty tty;
  tty.type(
      "\x04"
      "x\r\x04");
  EXPECT_EQ(tty.read(), "");
  EXPECT_EQ(tty.read(), "x\n");
  EXPECT_EQ(tty.read(), "");
  EXPECT_FALSE(tty.ld.readable());
}

// ---------------------------------------------------------------------------
// Signal characters.

TEST(TtySignals, InterruptQuitSuspend) {
  struct Case {
    char ch;
    Signal sig;
    const char* echo;
  };
  for (const Case& c : {Case{'\x03', Signal::Interrupt, "^C"}, Case{'\x1c', Signal::Quit, "^\\"},
                        Case{'\x1a', Signal::Suspend, "^Z"}}) {
    Tty tty;
    tty.type("pending");
    tty.echoed();
    tty.type(std::string(1, c.ch));
    ASSERT_EQ(tty.sig.raised.size(), 1u) << int(c.ch);
    EXPECT_EQ(tty.sig.raised[0], c.sig);
    EXPECT_EQ(tty.echoed(), c.echo);
    EXPECT_FALSE(tty.ld.readable());
    tty.type("x\r");  // the pending line was flushed
    EXPECT_EQ(tty.read(), "x\n");
  }
  static_assert(int(Signal::Interrupt) == 2 && int(Signal::Quit) == 3 && int(Signal::Suspend) == 20);
}

TEST(TtySignals, FlushAlsoDiscardsTypeAhead) {
  // POSIX 11.2.5 (NOFLSH): the whole input queue is flushed, completed lines too.
  Tty tty;
  tty.type("typed ahead\rhalf\x03");
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 0u);
}

TEST(TtySignals, NoflshKeepsTheQueue) {
  Tty tty(with_lflag(kNOFLSH));
  tty.type("done\rhalf\x03");
  EXPECT_EQ(tty.sig.raised, std::vector<Signal>{Signal::Interrupt});
  tty.type("way\r");
  EXPECT_EQ(tty.read(), "done\n");
  EXPECT_EQ(tty.read(), "halfway\n");
}

TEST(TtySignals, WithoutIsigTheyAreData) {
  Tty tty(with_lflag(0, kISIG));
  tty.type("a\x03\x1c\x1a\r");
  EXPECT_TRUE(tty.sig.raised.empty());
  EXPECT_EQ(tty.echoed(), "a^C^\\^Z\r\n");
  EXPECT_EQ(tty.read(), "a\x03\x1c\x1a\n");
}

TEST(TtySignals, WithoutEchoNothingIsEchoed) {
  Tty tty(with_lflag(0, kECHO));
  tty.type("\x03");
  EXPECT_EQ(tty.sig.raised.size(), 1u);
  EXPECT_EQ(tty.echoed(), "");
}

TEST(TtySignals, WorkInNonCanonicalMode) {
  Tty tty(raw(1));
  tty.type("ab\x1a");
  EXPECT_EQ(tty.sig.raised, std::vector<Signal>{Signal::Suspend});
  EXPECT_EQ(tty.ld.bytes_available(), 0u);
}

// ---------------------------------------------------------------------------
// LNEXT.

TEST(TtyLnext, QuotesASignalCharacter) {
  Tty tty;
  tty.type("\x16\x03\r");
  EXPECT_TRUE(tty.sig.raised.empty());
  EXPECT_EQ(tty.echoed(), "^\b^C\r\n");
  EXPECT_EQ(tty.read(), "\x03\n");
}

TEST(TtyLnext, QuotesEditingCharactersAndCr) {
  Tty tty;
  tty.type("\x16\x7f\x16\x15\x16\x16\x16\x04\x16\r\r");
  EXPECT_EQ(tty.read(), "\x7f\x15\x16\x04\r\n");  // the CR was not mapped to NL
}

TEST(TtyLnext, QuotedNewlineDoesNotEndTheLine) {
  Tty tty;
  tty.type("a\x16\nb");
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.echoed(), "a^\b\r\nb");
  tty.type("\r");
  EXPECT_EQ(tty.read(), "a\nb\n");
}

TEST(TtyLnext, SurvivesBetweenInputCalls) {
  Tty tty;
  tty.type("\x16");
  tty.type("\x03");
  tty.type("\r");
  EXPECT_TRUE(tty.sig.raised.empty());
  EXPECT_EQ(tty.read(), "\x03\n");
}

TEST(TtyLnext, QuotedCharacterCanBeErased) {
  Tty tty;
  tty.type(
      "\x16\x03\x7f"
      "a\r");
  EXPECT_EQ(tty.echoed(), "^\b^C\b \b\b \ba\r\n");
  EXPECT_EQ(tty.read(), "a\n");
}

TEST(TtyLnext, NeedsIexten) {
  Tty tty(with_lflag(0, kIEXTEN));
  tty.type("\x16\x03");
  EXPECT_EQ(tty.sig.raised.size(), 1u);
}

TEST(TtyLnext, FlushForgetsAPendingLnext) {
  Tty tty;
  tty.type("\x16");
  tty.ld.flush_input();
  tty.type("\x03");
  EXPECT_EQ(tty.sig.raised.size(), 1u);
}

// ---------------------------------------------------------------------------
// Input mapping.

TEST(TtyInputMap, Icrnl) {
  Tty tty;
  tty.type("a\r");
  EXPECT_EQ(tty.read(), "a\n");
  Tty off(with_iflag(0, kICRNL));
  off.type("a\r");
  EXPECT_FALSE(off.ld.readable());  // CR is ordinary data now
  EXPECT_EQ(off.echoed(), "a^M");
  off.type("\n");
  EXPECT_EQ(off.read(), "a\r\n");
}

TEST(TtyInputMap, Igncr) {
  Tty tty(with_iflag(kIGNCR));  // wins over ICRNL
  tty.type("a\rb\r\n");
  EXPECT_EQ(tty.echoed(), "ab\r\n");
  EXPECT_EQ(tty.read(), "ab\n");
}

TEST(TtyInputMap, Inlcr) {
  Tty tty(with_iflag(kINLCR));
  tty.type("a\n");  // NL -> CR, and the result is not mapped again
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.echoed(), "a^M");
  tty.type("\r");  // CR -> NL ends the line
  EXPECT_EQ(tty.read(), "a\r\n");
}

TEST(TtyInputMap, InlcrAndIcrnlSwapInRawMode) {
  Termios t = raw(1);
  t.c_iflag |= kINLCR;
  Tty tty(t);
  tty.type("\r\n");
  EXPECT_EQ(tty.read(), "\n\r");
}

TEST(TtyInputMap, Istrip) {
  Tty tty(with_iflag(kISTRIP));
  tty.type("\xe1\x83");  // 'a' | 0x80, ^C | 0x80 (which flushes the 'a')
  EXPECT_EQ(tty.sig.raised.size(), 1u);
  EXPECT_EQ(tty.echoed(), "a^C");
  tty.type("\xe1\x8d");  // CR | 0x80 ends the line
  EXPECT_EQ(tty.read(), "a\n");
}

TEST(TtyInputMap, EightBitDataPassesThrough) {
  Tty tty;
  tty.type("\xc3\xa9\r");  // UTF-8 e-acute: not control characters
  EXPECT_EQ(tty.echoed(), "\xc3\xa9\r\n");
  EXPECT_EQ(tty.read(), "\xc3\xa9\n");
}

// ---------------------------------------------------------------------------
// Echo settings.

TEST(TtyEcho, OffForPasswords) {
  Tty tty(with_lflag(0, kECHO));
  tty.type("s3cret\x7fT\r");
  EXPECT_EQ(tty.echoed(), "");
  EXPECT_EQ(tty.read(), "s3creT\n");
}

TEST(TtyEcho, EchonlEchoesOnlyTheNewline) {
  Tty tty(with_lflag(kECHONL, kECHO));
  tty.type("s3cret\x15pw\r");
  EXPECT_EQ(tty.echoed(), "\r\n");
  EXPECT_EQ(tty.read(), "pw\n");
}

TEST(TtyEcho, WithoutEchoctlControlsAreEchoedRaw) {
  Tty tty(with_lflag(0, kECHOCTL));
  tty.type("a\x01\x7f\x16\x02\r");
  EXPECT_EQ(tty.echoed(), std::string("a\x01\x02\r\n"));  // erasing ^A moves nothing; no "^\b"
  EXPECT_EQ(tty.read(), "a\x02\n");
}

TEST(TtyEcho, TabIsEchoedAsIs) {
  Tty tty;
  tty.type("\tx");
  EXPECT_EQ(tty.echoed(), "\tx");
  EXPECT_EQ(tty.ld.column(), 9u);
}

TEST(TtyEcho, NoOpostMeansBareNewline) {
  Termios t = sane_termios();
  t.c_oflag &= ~kOPOST;
  Tty tty(t);
  tty.type("a\r");
  EXPECT_EQ(tty.echoed(), "a\n");
}

TEST(TtyEcho, AFullSinkLosesEchoNotInput) {
  Tty tty;
  tty.echo.limit(3);
  tty.type("ab\x03");  // "^C" does not fit whole: dropped whole
  EXPECT_EQ(tty.echoed(), "ab");
  tty.echo.limit(Output::kUnlimited);
  tty.ld.set_termios(with_lflag(kNOFLSH));
  tty.echo.limit(1);
  tty.type("xyz\r");
  EXPECT_EQ(tty.echoed(), "x");
  EXPECT_EQ(tty.read(), "xyz\n");
}

TEST(TtyEcho, OutputBufferForCallersThatDrain) {
  LineDiscipline ld;
  OutputBuffer<8> echo;
  SignalLog sig;
  const uint8_t in[] = {'a', 'b', 0x7f, '\r'};
  ld.input(in, echo, sig);
  EXPECT_EQ(echo.view(), "ab\b \b\r\n");
  EXPECT_EQ(echo.room(), 1u);
  echo.consume(5);  // sent on
  EXPECT_EQ(echo.view(), "\r\n");
  EXPECT_EQ(echo.room(), 6u);
  echo.clear();
  EXPECT_EQ(echo.room(), 8u);
}

// ---------------------------------------------------------------------------
// Non-canonical mode.

TEST(TtyRaw, VminGatesReadable) {
  Tty tty(raw(3));
  tty.type("ab");
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.ld.bytes_available(), 2u);
  EXPECT_TRUE(tty.ld.readable_for(2));  // a 2-byte read is satisfied by 2 bytes
  EXPECT_FALSE(tty.ld.readable_for(3));
  tty.type("c");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.read(), "abc");
  EXPECT_FALSE(tty.ld.readable());
}

TEST(TtyRaw, ReadReturnsWhatIsThereEvenBelowVmin) {
  // The caller's VTIME timer expired: it reads what there is.
  Tty tty(raw(5));
  tty.type("xy");
  EXPECT_EQ(tty.read(), "xy");
  EXPECT_EQ(tty.read(), "");
}

TEST(TtyRaw, VminZero) {
  Tty tty(raw(0));
  EXPECT_FALSE(tty.ld.readable());  // polling: nothing there
  EXPECT_EQ(tty.read(), "");
  tty.type("q");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.read(), "q");
}

TEST(TtyRaw, NoEditingNoLines) {
  Tty tty(raw(1));
  tty.type("a\x7f\x15\x17\x16\x04\b\r");
  EXPECT_EQ(tty.echoed(), "a^?^U^W^V^D^H\r\n");  // ICRNL still maps; echo of NL is CR NL
  EXPECT_EQ(tty.read(), "a\x7f\x15\x17\x16\x04\b\n");
}

TEST(TtyRaw, PartialReads) {
  Tty tty(raw(1, kECHO));
  tty.type("0123456789");
  EXPECT_EQ(tty.echoed(), "");
  EXPECT_EQ(tty.read(4), "0123");
  EXPECT_EQ(tty.read(4), "4567");
  EXPECT_EQ(tty.ld.bytes_available(), 2u);
  EXPECT_EQ(tty.read(4), "89");
}

// ---------------------------------------------------------------------------
// Switching modes.

TEST(TtyModes, CanonicalToRawMakesEverythingReadable) {
  Tty tty;
  tty.type(
      "x\x04"
      "ab");  // a line ended by EOF, then a partial line
  tty.ld.set_termios(raw(1));
  EXPECT_EQ(tty.ld.bytes_available(), 3u);  // the EOF marker is gone
  EXPECT_EQ(tty.read(), "xab");
}

TEST(TtyModes, RawToCanonicalPushesQueuedData) {
  Tty tty(raw(1));
  tty.type("abc");
  tty.ld.set_termios(sane_termios());
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.read(), "abc");
  EXPECT_FALSE(tty.ld.readable());
  tty.type(
      "d\x7f"
      "e\r");
  EXPECT_EQ(tty.read(), "e\n");
}

TEST(TtyModes, FlushInput) {
  Tty tty;
  tty.type("line\rpartial");
  tty.ld.flush_input();
  EXPECT_FALSE(tty.ld.readable());
  EXPECT_EQ(tty.ld.free_space(), LineDiscipline::kBufferSize);
  tty.type(
      "\x7f"
      "z\r");  // nothing left to erase
  EXPECT_EQ(tty.read(), "z\n");
}

// ---------------------------------------------------------------------------
// Output post-processing.

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(TtyOutput, OnlcrMapsNewline) {
  LineDiscipline ld;
  Capture out;
  EXPECT_EQ(ld.process_output(bytes("a\nb\n\n"), out), 5u);
  EXPECT_EQ(out.take(), "a\r\nb\r\n\r\n");
  EXPECT_EQ(ld.column(), 0u);
  EXPECT_EQ(ld.process_output(bytes("\r\t"), out), 2u);  // CR and others unchanged
  EXPECT_EQ(out.take(), "\r\t");
}

TEST(TtyOutput, WithoutOpostOrOnlcrNothingChanges) {
  for (uint32_t oflag : {uint32_t(kONLCR), uint32_t(kOPOST), uint32_t(0)}) {
    Termios t = sane_termios();
    t.c_oflag = oflag;
    LineDiscipline ld(t);
    Capture out;
    EXPECT_EQ(ld.process_output(bytes("a\nb"), out), 3u);
    EXPECT_EQ(out.take(), "a\nb");
  }
}

TEST(TtyOutput, StopsWhenTheSinkIsFullWithoutSplittingCrNl) {
  LineDiscipline ld;
  OutputBuffer<4> out;
  EXPECT_EQ(ld.process_output(bytes("abc\nd"), out), 3u);
  EXPECT_EQ(out.view(), "abc");
  out.clear();
  EXPECT_EQ(ld.process_output(bytes("\nd"), out), 2u);
  EXPECT_EQ(out.view(), "\r\nd");
}

TEST(TtyOutput, LongWritesCrossTheInternalChunk) {
  LineDiscipline ld;
  Capture out;
  std::string in, expected;
  for (int i = 0; i < 500; ++i) {
    in += "xy\n";
    expected += "xy\r\n";
  }
  EXPECT_EQ(ld.process_output(bytes(in), out), in.size());
  EXPECT_EQ(out.take(), expected);
}

// ---------------------------------------------------------------------------
// A full queue.

TEST(TtyFull, CanonicalKeepsRoomForTheTerminator) {
  constexpr size_t kSize = LineDiscipline::kBufferSize;
  Tty tty;
  tty.type(std::string(kSize + 100, 'x'));
  EXPECT_EQ(tty.ld.dropped(), 101u);
  EXPECT_EQ(tty.echoed(), std::string(kSize - 1, 'x'));  // dropped bytes are not echoed
  EXPECT_EQ(tty.ld.free_space(), 1u);
  tty.type(
      "\x7f"
      "yz");  // erase makes room for exactly one more
  EXPECT_EQ(tty.ld.dropped(), 102u);
  tty.type("\r");
  EXPECT_TRUE(tty.ld.readable());
  EXPECT_EQ(tty.ld.free_space(), 0u);
  std::string line;
  while (tty.ld.readable()) line += tty.read(1000);
  EXPECT_EQ(line, std::string(kSize - 2, 'x') + "y\n");
}

TEST(TtyFull, CompletedLinesAreNeverLost) {
  constexpr size_t kSize = LineDiscipline::kBufferSize;
  Tty tty;
  tty.type("first\r");
  tty.type(std::string(kSize, 'j'));
  tty.type("\r");
  tty.type("more\r");  // no room: dropped, the queue is intact
  EXPECT_EQ(tty.ld.free_space(), 0u);
  EXPECT_EQ(tty.read(), "first\n");
  std::string second = tty.read();
  EXPECT_EQ(second, std::string(kSize - 7, 'j') + "\n");
  EXPECT_FALSE(tty.ld.readable());
  // Once read, the space is usable again.
  tty.type("again\r");
  EXPECT_EQ(tty.read(), "again\n");
}

TEST(TtyFull, ImaxbelRingsForEachDroppedByte) {
  constexpr size_t kSize = LineDiscipline::kBufferSize;
  Tty tty(with_iflag(kIMAXBEL));
  tty.type(std::string(kSize - 1, 'x'));
  tty.echoed();
  tty.type("ab");
  EXPECT_EQ(tty.echoed(), "\a\a");
  tty.ld.set_termios(with_lflag(0, kECHO));  // IMAXBEL off again
  tty.type("c");
  EXPECT_EQ(tty.echoed(), "");
  EXPECT_EQ(tty.ld.dropped(), 3u);
}

TEST(TtyFull, NonCanonicalUsesEveryByte) {
  constexpr size_t kSize = LineDiscipline::kBufferSize;
  Tty tty(raw(1, kECHO));
  std::string in;
  for (size_t i = 0; i < kSize + 50; ++i) in += char('a' + i % 26);
  tty.type(in);
  EXPECT_EQ(tty.ld.bytes_available(), kSize);
  EXPECT_EQ(tty.ld.dropped(), 50u);
  EXPECT_EQ(tty.read(10 * kSize), in.substr(0, kSize));
}

TEST(TtyFull, ManyLinesWrapAroundTheBuffer) {
  // About 80 KiB through the 4 KiB queue, read in 7-byte pieces.
  Tty tty;
  for (int i = 0; i < 3000; ++i) {
    std::string line = "line " + std::to_string(i) + std::string(size_t(i % 37), '.');
    tty.type(line +
             "\x7f"
             "!\r");
    line.back() = '!';
    std::string got;
    while (tty.ld.readable()) got += tty.read(7);
    ASSERT_EQ(got, line + "\n") << i;
  }
  EXPECT_EQ(tty.ld.dropped(), 0u);
}

// ---------------------------------------------------------------------------
// Flow control (IXON, IXANY), VREPRINT, IUTF8.

TEST(TtyFlow, StopAndStartOutput) {
  Tty tty;
  Capture out;
  auto bytes = [](std::string_view s) { return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  tty.type("\x13");  // ^S
  EXPECT_TRUE(tty.ld.output_stopped());
  EXPECT_EQ(tty.echoed(), "");  // not echoed, not queued
  EXPECT_EQ(tty.ld.process_output(bytes("hi\n"), out), 0u);
  tty.type("ab");  // input and its echo go on while output is stopped
  EXPECT_EQ(tty.echoed(), "ab");
  EXPECT_TRUE(tty.ld.output_stopped());  // no IXANY: only VSTART restarts
  EXPECT_FALSE(tty.ld.output_restarted());
  tty.type("\x11");  // ^Q
  EXPECT_FALSE(tty.ld.output_stopped());
  EXPECT_TRUE(tty.ld.output_restarted());
  EXPECT_FALSE(tty.ld.output_restarted());  // once
  EXPECT_EQ(tty.ld.process_output(bytes("hi\n"), out), 3u);
  EXPECT_EQ(out.take(), "hi\r\n");
  tty.type("\r");
  EXPECT_EQ(tty.read(), "ab\n");  // ^S and ^Q are not data
}

TEST(TtyFlow, IxanyRestartsOnAnyByteWhichStaysInput) {
  Termios t = sane_termios();
  t.c_iflag |= kIXANY;
  Tty tty(t);
  tty.type("\x13x");
  EXPECT_FALSE(tty.ld.output_stopped());
  EXPECT_TRUE(tty.ld.output_restarted());
  tty.type("\r");
  EXPECT_EQ(tty.read(), "x\n");
}

TEST(TtyFlow, WithoutIxonTheyAreData) {
  Termios t = sane_termios();
  t.c_iflag &= ~kIXON;
  Tty tty(t);
  tty.type("\x13\x11\r");
  EXPECT_FALSE(tty.ld.output_stopped());
  EXPECT_EQ(tty.read(), "\x13\x11\n");
}

TEST(TtyFlow, TcflowStopsAndStarts) {
  LineDiscipline ld;
  ld.stop_output();
  EXPECT_TRUE(ld.output_stopped());
  ld.start_output();
  EXPECT_FALSE(ld.output_stopped());
  EXPECT_TRUE(ld.output_restarted());
  ld.start_output();  // not stopped: nothing to report
  EXPECT_FALSE(ld.output_restarted());
}

TEST(TtyReprint, RedisplaysTheLineBeingEdited) {
  Tty tty;
  tty.type("echo hi\x12");  // ^R
  EXPECT_EQ(tty.echoed(), "echo hi^R\r\necho hi");
  tty.type("\x7f\r");  // editing goes on against the redisplayed line
  EXPECT_EQ(tty.echoed(), "\b \b\r\n");
  EXPECT_EQ(tty.read(), "echo h\n");
}

TEST(TtyReprint, NeedsIextenAndEcho) {
  Termios t = sane_termios();
  t.c_lflag &= ~kIEXTEN;
  Tty plain(t);
  plain.type("a\x12\r");
  EXPECT_EQ(plain.read(), "a\x12\n");  // just data
  t = sane_termios();
  t.c_lflag &= ~kECHO;
  Tty quiet(t);
  quiet.type("a\x12\r");
  EXPECT_EQ(quiet.echoed(), "");
  EXPECT_EQ(quiet.read(), "a\n");  // consumed, nothing shown
}

TEST(TtyUtf8, EraseRemovesAWholeCharacterAndOneColumn) {
  Termios t = sane_termios();
  t.c_iflag |= kIUTF8;
  Tty tty(t);
  tty.type("a\xc3\xa9\xe2\x82\xac");  // "aé€"
  EXPECT_EQ(tty.ld.column(), 3u);
  tty.echoed();
  tty.type("\x7f");
  EXPECT_EQ(tty.echoed(), "\b \b");
  tty.type("\x7f\r");
  EXPECT_EQ(tty.read(), "a\n");
}

TEST(TtyUtf8, WithoutIutf8EraseRemovesOneByte) {
  Tty tty;
  tty.type("a\xc3\xa9\x7f\r");
  EXPECT_EQ(tty.read(), "a\xc3\n");
}

}  // namespace
}  // namespace keel::tty
