// keel/tty.h — the tty line discipline: POSIX termios input editing, echo and
// output post-processing as a pure state machine (no I/O, no allocation).
//
// The console service (serial, framebuffer+keyboard) owns one LineDiscipline
// per tty. It feeds received bytes to input(), sends the echo and signals on,
// hands read() results to readers and passes writers' data through
// process_output(). The Linux personality maps TCGETS/TCSETS* onto
// get_termios()/set_termios(): Termios has the layout of Linux's kernel
// `struct termios`, so it is copied out as it is.
//
//   keel::tty::LineDiscipline ld;               // `stty sane` settings
//   ld.input(bytes_from_uart, echo_sink, signal_sink);
//   if (ld.readable()) n = ld.read(user_buffer);   // a line; 0 = end of file
//
// Spec: POSIX.1-2017 XBD chapter 11, "General Terminal Interface" (11.1.5
// canonical mode, 11.1.6 non-canonical mode, 11.1.9 special characters, 11.2
// parameters), and termios(3). Where POSIX leaves a choice the behaviour
// follows Linux's N_TTY (drivers/tty/n_tty.c); differences are noted where
// they happen. Numeric values are Linux x86-64's, from the UAPI headers
// <asm-generic/termbits.h> and <asm-generic/termbits-common.h> (x86-64's
// <asm/termbits.h> includes the generic one unchanged).
//
// What is implemented: c_iflag ISTRIP INLCR IGNCR ICRNL IXON IXANY IMAXBEL
// IUTF8; c_oflag OPOST ONLCR; c_lflag ISIG ICANON ECHO ECHOE ECHOK ECHONL
// NOFLSH ECHOCTL ECHOKE IEXTEN; c_cc VINTR VQUIT VERASE VKILL VEOF VTIME VMIN
// VSTART VSTOP VSUSP VEOL VREPRINT VWERASE VLNEXT VEOL2. Every other bit and
// c_cc entry is stored and returned by get_termios() but has no effect:
// c_cflag belongs to the serial driver; VDISCARD, as in Linux's N_TTY; IXOFF
// (sending VSTOP when our input queue fills) and TOSTOP belong to the console
// and the Linux personality, which know the sender and the process groups.
//
// Not thread-safe: the console service serialises calls per tty.
// Freestanding: only <cstddef>, <cstdint>, <span> and <string_view>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::tty {

// Names are `k` + the POSIX name, so that they cannot collide with the macros
// of a libc <termios.h> that a Linux-personality file may also include.

// c_cc size and indices (Linux NCCS and V* values).
inline constexpr size_t kNCCS = 19;
inline constexpr size_t kVINTR = 0;
inline constexpr size_t kVQUIT = 1;
inline constexpr size_t kVERASE = 2;
inline constexpr size_t kVKILL = 3;
inline constexpr size_t kVEOF = 4;
inline constexpr size_t kVTIME = 5;  // deciseconds; the caller times (see readable())
inline constexpr size_t kVMIN = 6;
inline constexpr size_t kVSWTC = 7;   // stored only
inline constexpr size_t kVSTART = 8;  // with IXON: restart output (^Q)
inline constexpr size_t kVSTOP = 9;   // with IXON: stop output (^S)
inline constexpr size_t kVSUSP = 10;
inline constexpr size_t kVEOL = 11;
inline constexpr size_t kVREPRINT = 12;  // with IEXTEN, canonical, ECHO: redisplay the line (^R)
inline constexpr size_t kVDISCARD = 13;  // stored only
inline constexpr size_t kVWERASE = 14;
inline constexpr size_t kVLNEXT = 15;
inline constexpr size_t kVEOL2 = 16;

// A c_cc entry equal to this disables that special character (Linux's
// _POSIX_VDISABLE is 0), so a NUL byte never matches a disabled entry.
inline constexpr uint8_t kVDISABLE = 0;

// Keel extension: in canonical mode ^H (BS) erases a character too, whatever
// VERASE is, because PC keyboards and many serial terminals send it for the
// Backspace key. It loses only to another c_cc entry set to ^H; ^V^H enters a
// literal BS.
inline constexpr uint8_t kAltErase = 0x08;

// c_iflag
inline constexpr uint32_t kIGNBRK = 0x001;    // stored only
inline constexpr uint32_t kBRKINT = 0x002;    // stored only
inline constexpr uint32_t kISTRIP = 0x020;    // clear bit 7 of every input byte
inline constexpr uint32_t kINLCR = 0x040;     // map NL to CR on input
inline constexpr uint32_t kIGNCR = 0x080;     // discard CR on input
inline constexpr uint32_t kICRNL = 0x100;     // map CR to NL on input (unless IGNCR)
inline constexpr uint32_t kIXON = 0x400;      // VSTOP stops output, VSTART restarts it
inline constexpr uint32_t kIXANY = 0x800;     // with IXON: any input byte restarts output
inline constexpr uint32_t kIXOFF = 0x1000;    // stored only
inline constexpr uint32_t kIMAXBEL = 0x2000;  // echo BEL when input is dropped because the buffer is full
inline constexpr uint32_t kIUTF8 = 0x4000;    // input is UTF-8: ERASE removes a whole character

// c_oflag
inline constexpr uint32_t kOPOST = 0x01;  // post-process output (and echo)
inline constexpr uint32_t kONLCR = 0x04;  // with OPOST: NL -> CR NL

// c_cflag: stored only, the serial driver interprets it. The defaults are
// Linux's tty_std_termios.
inline constexpr uint32_t kB38400 = 0x0000000f;
inline constexpr uint32_t kCS8 = 0x00000030;
inline constexpr uint32_t kCREAD = 0x00000080;
inline constexpr uint32_t kHUPCL = 0x00000400;

// c_lflag
inline constexpr uint32_t kISIG = 0x00001;     // INTR, QUIT, SUSP raise signals
inline constexpr uint32_t kICANON = 0x00002;   // canonical (line-editing) mode
inline constexpr uint32_t kECHO = 0x00008;     // echo input
inline constexpr uint32_t kECHOE = 0x00010;    // ERASE/WERASE erase visually ("\b \b")
inline constexpr uint32_t kECHOK = 0x00020;    // KILL echoes a newline (or, with ECHOKE, erases the line)
inline constexpr uint32_t kECHONL = 0x00040;   // echo NL even without ECHO (canonical mode)
inline constexpr uint32_t kNOFLSH = 0x00080;   // signal characters do not flush the queues
inline constexpr uint32_t kECHOCTL = 0x00200;  // echo control characters as ^X (DEL as ^?)
inline constexpr uint32_t kECHOKE = 0x00800;   // with ECHOK and ECHOE: KILL erases the line visually
inline constexpr uint32_t kIEXTEN = 0x08000;   // WERASE, LNEXT, EOL2

// Linux's kernel `struct termios` (<asm-generic/termbits.h>), the structure
// TCGETS/TCSETS copy: 36 bytes, no padding. (glibc's user-space struct termios
// is larger; libc converts, the personality does not.)
struct Termios {
  uint32_t c_iflag;
  uint32_t c_oflag;
  uint32_t c_cflag;
  uint32_t c_lflag;
  uint8_t c_line;  // line discipline number; 0 = N_TTY, the only one
  uint8_t c_cc[kNCCS];
};
static_assert(sizeof(Termios) == 36 && alignof(Termios) == 4);
static_assert(offsetof(Termios, c_lflag) == 12 && offsetof(Termios, c_line) == 16 &&
              offsetof(Termios, c_cc) == 17);

// The settings a tty starts with, Linux's tty_std_termios: ICRNL IXON; OPOST
// ONLCR; ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE ISIG IEXTEN; c_cflag and c_cc
// as Linux's INIT_C_CC (VMIN 1, VTIME 0). (`stty sane` also sets IMAXBEL
// and BRKINT; without them a full buffer drops input silently.)
constexpr Termios sane_termios() {
  Termios t{};
  t.c_iflag = kICRNL | kIXON;
  t.c_oflag = kOPOST | kONLCR;
  t.c_cflag = kB38400 | kCS8 | kCREAD | kHUPCL;
  t.c_lflag = kICANON | kECHO | kECHOE | kECHOK | kECHOCTL | kECHOKE | kISIG | kIEXTEN;
  t.c_line = 0;
  t.c_cc[kVINTR] = 0x03;   // ^C
  t.c_cc[kVQUIT] = 0x1c;   // ^\ (backslash)
  t.c_cc[kVERASE] = 0x7f;  // DEL
  t.c_cc[kVKILL] = 0x15;   // ^U
  t.c_cc[kVEOF] = 0x04;    // ^D
  t.c_cc[kVTIME] = 0;
  t.c_cc[kVMIN] = 1;
  t.c_cc[kVSWTC] = 0;
  t.c_cc[kVSTART] = 0x11;  // ^Q
  t.c_cc[kVSTOP] = 0x13;   // ^S
  t.c_cc[kVSUSP] = 0x1a;   // ^Z
  t.c_cc[kVEOL] = kVDISABLE;
  t.c_cc[kVREPRINT] = 0x12;  // ^R
  t.c_cc[kVDISCARD] = 0x0f;  // ^O
  t.c_cc[kVWERASE] = 0x17;   // ^W
  t.c_cc[kVLNEXT] = 0x16;    // ^V
  t.c_cc[kVEOL2] = kVDISABLE;
  return t;
}

// The signals a tty raises; the values are Linux x86-64's signal numbers.
enum class Signal : uint8_t {
  Interrupt = 2,  // SIGINT, VINTR
  Quit = 3,       // SIGQUIT, VQUIT
  Suspend = 20,   // SIGTSTP, VSUSP
};

// Where echo and processed output go. Implementations: OutputBuffer below, the
// console service's UART or framebuffer writer.
class Output {
 public:
  static constexpr size_t kUnlimited = SIZE_MAX;

  // Bytes write() accepts now. The line discipline never writes more; a unit
  // of output that does not fit (a CR NL pair, an echoed "^C", one erasure)
  // is held back whole. A sink that never fills keeps the default.
  virtual size_t room() const { return kUnlimited; }
  // Emits `bytes`. Precondition: bytes.size() <= room().
  virtual void write(std::span<const uint8_t> bytes) = 0;

 protected:
  ~Output() = default;
};

// A fixed buffer for output that the caller drains later: it fills up, and
// then room() is 0 and echo is dropped.
template <size_t N>
class OutputBuffer final : public Output {
 public:
  size_t room() const override { return N - size_; }
  void write(std::span<const uint8_t> bytes) override {
    for (uint8_t b : bytes)
      if (size_ < N) data_[size_++] = b;  // only a broken precondition would drop
  }

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  size_t size() const { return size_; }
  // Forgets the first `n` bytes (those the caller has sent on).
  void consume(size_t n) {
    if (n > size_) n = size_;
    for (size_t i = n; i < size_; ++i) data_[i - n] = data_[i];
    size_ -= n;
  }
  void clear() { size_ = 0; }

 private:
  uint8_t data_[N];
  size_t size_ = 0;
};

// Receives the signals that ISIG characters raise, for the tty's foreground
// process group. When c_lflag lacks NOFLSH the line discipline has already
// flushed its input queue; POSIX wants the output queue flushed too, which is
// the caller's to do.
class Signals {
 public:
  virtual void raise(Signal sig) = 0;

 protected:
  ~Signals() = default;
};

// One tty's input queue, editing state and settings. About 5 KiB; the
// console service allocates one per tty.
class LineDiscipline {
 public:
  // Input queue capacity in bytes, as Linux's N_TTY_BUF_SIZE.
  static constexpr size_t kBufferSize = 4096;

  LineDiscipline() : LineDiscipline(sane_termios()) {}
  explicit LineDiscipline(const Termios& t) : termios_(t) {}

  // Feeds bytes received from the terminal, in order. Per byte: ISTRIP; a
  // byte after LNEXT is taken literally; ISIG characters raise `sig`; IGNCR,
  // ICRNL, INLCR; in canonical mode ERASE (and ^H, see kAltErase), KILL,
  // WERASE, LNEXT, EOF, NL, EOL, EOL2 edit or end the current line; anything
  // else is queued. Echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL) goes to
  // `echo` through the same c_oflag processing as process_output().
  //
  // The queue never overflows and never loses what a reader can already read:
  // in canonical mode an ordinary byte needs two free bytes (one is kept for
  // the line's terminator, so a line that filled the buffer can still be
  // ended), a terminator one; in non-canonical mode every byte needs one.
  // Bytes that do not fit are dropped and counted (dropped()), not echoed;
  // with IMAXBEL a BEL is echoed for each instead, as BSD does and older
  // Linux kernels did. A console driver that can throttle its sender (RTS,
  // not reading the keyboard) uses free_space().
  void input(std::span<const uint8_t> bytes, Output& echo, Signals& sig);

  // Copies input to `out` and removes it from the queue; returns the count.
  //
  // Canonical mode: at most one line. A line ended by NL, EOL or EOL2 is
  // returned with its terminator; one ended by EOF without (the EOF byte is
  // never returned); a line longer than `out` is returned over several reads.
  // An EOF on an empty line gives 0 = end of file, once. When `out` is filled
  // exactly up to an EOF, that EOF is consumed with the line, so it does not
  // show up as a spurious end of file later (POSIX: the EOF is discarded when
  // its line is passed on; Linux leaves it for the next read).
  //
  // Non-canonical mode: min(out.size(), bytes_available()) bytes, even fewer
  // than VMIN: waiting for VMIN and VTIME is the caller's (see readable()).
  //
  // Returns 0 also when nothing is readable or `out` is empty, so call it only
  // after readable() said yes, and treat 0 from a canonical read as end of
  // file only then.
  size_t read(std::span<uint8_t> out);

  // Whether a blocked reader should wake up and read():
  //   canonical: a completed line (or end of file) is queued;
  //   non-canonical: at least max(VMIN, 1) bytes are queued.
  // The caller implements VTIME (deciseconds) with its own timer:
  //   VMIN > 0, VTIME = 0: wait until readable().
  //   VMIN > 0, VTIME > 0: wait until readable(), or until VTIME passes with
  //                        no new byte once at least one byte is queued (the
  //                        timer restarts on every input()); then read().
  //   VMIN = 0, VTIME > 0: wait until readable() or VTIME passes since the
  //                        read began; then read() (which may return 0).
  //   VMIN = 0, VTIME = 0: do not wait; read() at once (may return 0).
  // This is also poll()'s POLLIN.
  bool readable() const { return readable_for(SIZE_MAX); }
  // As readable(), for a read of `request` bytes: in non-canonical mode
  // min(VMIN, request) bytes are enough, as Linux does.
  bool readable_for(size_t request) const;

  // Bytes read() could return now, without EOF markers (FIONREAD/TIOCINQ):
  // canonical mode counts completed lines only.
  size_t bytes_available() const;
  // Bytes of the queue not in use, counting the line being edited.
  size_t free_space() const { return kBufferSize - (read_head_ - read_tail_); }
  // Input bytes dropped because the queue was full, since construction.
  size_t dropped() const { return dropped_; }
  // The terminal's cursor column as far as echo and processed output moved it
  // (used to erase tabs).
  size_t column() const { return column_; }

  // Output post-processing for data a program writes to the tty: with OPOST
  // and ONLCR each NL becomes CR NL; other bytes pass unchanged. Returns the
  // number of bytes of `in` consumed, fewer than in.size() when `out` ran out
  // of room (a CR NL pair is never split), and 0 while output is stopped.
  size_t process_output(std::span<const uint8_t> in, Output& out);

  // Output flow control (IXON): VSTOP stopped output and no VSTART (or, with
  // IXANY, other input) has restarted it. Writers wait while it is true (echo
  // still goes out, as in Linux). input() returns whether it changed, so the
  // caller knows when to wake them: see output_restarted().
  bool output_stopped() const { return stopped_; }
  // True once after input() restarted stopped output (the caller wakes its
  // writers); clears itself.
  bool output_restarted() {
    bool r = restarted_;
    restarted_ = false;
    return r;
  }
  // TCOOFF / TCOON (tcflow): stop or restart output as VSTOP/VSTART would.
  void stop_output() { stopped_ = true; }
  void start_output() {
    if (stopped_) restarted_ = true;
    stopped_ = false;
  }

  Termios get_termios() const { return termios_; }
  // Takes effect for the next byte (TCSETS; TCSETSW's draining and
  // TCSETSF's flush_input() are the caller's). Turning ICANON off makes the
  // line being edited readable and drops queued EOF markers; turning it on
  // makes everything queued one completed line, as Linux does.
  void set_termios(const Termios& t);

  // Discards all queued input, read or still being edited (TCIFLUSH), and a
  // pending LNEXT.
  void flush_input();

 private:
  enum class EraseKind : uint8_t { Char, Word, Line };

  bool iflag(uint32_t f) const { return (termios_.c_iflag & f) != 0; }
  bool oflag(uint32_t f) const { return (termios_.c_oflag & f) != 0; }
  bool lflag(uint32_t f) const { return (termios_.c_lflag & f) != 0; }
  bool canonical() const { return lflag(kICANON); }
  // Whether `c` is the (enabled) special character c_cc[index].
  bool is_special(uint8_t c, size_t index) const {
    return termios_.c_cc[index] != kVDISABLE && c == termios_.c_cc[index];
  }

  void receive(uint8_t c, Output& echo, Signals& sig);
  void receive_ordinary(uint8_t c, Output& echo);
  void receive_terminator(uint8_t c, bool eof, Output& echo);
  void receive_signal(Signal s, uint8_t c, Output& echo, Signals& sig);
  void reprint(uint8_t c, Output& echo);
  void erase(EraseKind kind, uint8_t c, Output& echo);
  void drop(Output& echo);

  // Appends to the queue, setting both flag bits for the position.
  void store(uint8_t c, bool terminator, bool eof);
  uint8_t at(size_t pos) const { return buf_[pos % kBufferSize]; }
  bool bit(const uint32_t* map, size_t pos) const {
    size_t i = pos % kBufferSize;
    return (map[i / 32] >> (i % 32)) & 1;
  }
  void set_bit(uint32_t* map, size_t pos, bool v) {
    size_t i = pos % kBufferSize;
    if (v)
      map[i / 32] |= uint32_t(1) << (i % 32);
    else
      map[i / 32] &= ~(uint32_t(1) << (i % 32));
  }

  // Echo: `c` as the terminal should show it (^X with ECHOCTL).
  void echo_char(uint8_t c, Output& echo);
  // Echo: one unit of bytes, through c_oflag processing, all or nothing.
  void echo_raw(std::string_view s, Output& echo);
  // Writes `c` after c_oflag processing into dst (room for 2); returns the count.
  size_t expand(uint8_t c, uint8_t* dst) const;
  void advance_column(uint8_t emitted);
  // Columns to back up over the tab that was at position read_head_.
  size_t tab_erase_columns() const;

  Termios termios_;

  // The queue: free-running positions, the byte at p is buf_[p % kBufferSize].
  //   [read_tail_, canon_head_)  readable: completed lines (canonical mode),
  //                              everything (non-canonical: canon_head_ ==
  //                              read_head_ always)
  //   [canon_head_, read_head_)  the line being edited (canonical mode)
  // read_tail_ <= canon_head_ <= read_head_ <= read_tail_ + kBufferSize.
  uint8_t buf_[kBufferSize];
  size_t read_tail_ = 0;
  size_t canon_head_ = 0;
  size_t read_head_ = 0;
  // Per position: the byte ends a canonical line (NL, EOL, EOL2, EOF).
  uint32_t terminator_[kBufferSize / 32] = {};
  // Per position: the byte is an EOF marker, never returned by read().
  uint32_t eof_[kBufferSize / 32] = {};

  bool lnext_ = false;       // the previous byte was LNEXT: take the next literally
  bool stopped_ = false;     // IXON: output stopped by VSTOP
  bool restarted_ = false;   // output restarted since output_restarted() last said so
  size_t column_ = 0;        // cursor column, from what echo and output emitted
  size_t canon_column_ = 0;  // column where the echo of the current line began
  size_t dropped_ = 0;
};

}  // namespace keel::tty
