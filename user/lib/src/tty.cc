// tty.cc — the tty line discipline (keel/tty.h): input mapping, canonical
// line editing, echo, signal characters and output post-processing.
//
// The order of the checks per input byte follows Linux's n_tty
// (n_tty_receive_buf_standard and n_tty_receive_char_special), so that a
// Linux program sees the same result for the same settings.
#include <keel/tty.h>

namespace keel::tty {

using namespace std::string_view_literals;

namespace {

// Control characters as n_tty (the kernel's iscntrl) sees them: C0 and DEL.
// Bytes 0x80-0x9f are not, so UTF-8 text is echoed unchanged.
constexpr bool is_control(uint8_t c) { return c < 0x20 || c == 0x7f; }

// Characters WERASE treats as part of a word: alphanumerics and '_', as
// Linux (BSD's ALTWERASE).
constexpr bool is_word(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

constexpr uint8_t kBell = 0x07;
constexpr size_t kTabWidth = 8;

}  // namespace

void LineDiscipline::input(std::span<const uint8_t> bytes, Output& echo, Signals& sig) {
  for (uint8_t c : bytes) receive(c, echo, sig);
}

void LineDiscipline::receive(uint8_t c, Output& echo, Signals& sig) {
  if (iflag(kISTRIP)) c &= 0x7f;
  // After LNEXT the byte is data, whatever it is (no signal, no CR mapping).
  if (lnext_) {
    lnext_ = false;
    receive_ordinary(c, echo);
    return;
  }
  // Flow control first, then the signal characters, then the CR/NL mapping
  // (Linux's n_tty_receive_char_special). VSTART/VSTOP are not data.
  if (iflag(kIXON)) {
    if (is_special(c, kVSTART)) return start_output();
    if (is_special(c, kVSTOP)) {
      stopped_ = true;
      return;
    }
    if (stopped_ && iflag(kIXANY)) start_output();  // and the byte goes on as input
  }
  if (lflag(kISIG)) {
    if (is_special(c, kVINTR)) return receive_signal(Signal::Interrupt, c, echo, sig);
    if (is_special(c, kVQUIT)) return receive_signal(Signal::Quit, c, echo, sig);
    if (is_special(c, kVSUSP)) return receive_signal(Signal::Suspend, c, echo, sig);
  }
  if (c == '\r') {
    if (iflag(kIGNCR)) return;
    if (iflag(kICRNL)) c = '\n';
  } else if (c == '\n' && iflag(kINLCR)) {
    c = '\r';
  }
  if (canonical()) {
    bool extensions = lflag(kIEXTEN);
    if (is_special(c, kVERASE)) return erase(EraseKind::Char, c, echo);
    if (is_special(c, kVKILL)) return erase(EraseKind::Line, c, echo);
    if (extensions && is_special(c, kVWERASE)) return erase(EraseKind::Word, c, echo);
    if (extensions && is_special(c, kVREPRINT)) return reprint(c, echo);
    if (extensions && is_special(c, kVLNEXT)) {
      lnext_ = true;
      // "^" then backspace: the literal byte's echo overwrites the caret.
      if (lflag(kECHO) && lflag(kECHOCTL)) echo_raw("^\b"sv, echo);
      return;
    }
    if (c == '\n') return receive_terminator(c, false, echo);
    if (is_special(c, kVEOF)) return receive_terminator(c, true, echo);
    if (is_special(c, kVEOL) || (extensions && is_special(c, kVEOL2)))
      return receive_terminator(c, false, echo);
    // Only now, so that ^H still works as any special character it was made.
    if (c == kAltErase) return erase(EraseKind::Char, c, echo);
  }
  receive_ordinary(c, echo);
}

void LineDiscipline::receive_ordinary(uint8_t c, Output& echo) {
  // Canonical mode keeps one byte for the terminator of the current line.
  size_t limit = canonical() ? kBufferSize - 1 : kBufferSize;
  if (read_head_ - read_tail_ >= limit) return drop(echo);
  if (lflag(kECHO)) {
    if (canon_head_ == read_head_) canon_column_ = column_;
    if (c == '\n')
      echo_raw("\n"sv, echo);  // a literal NL (after LNEXT, or raw mode) moves to the next line
    else
      echo_char(c, echo);
  }
  store(c, false, false);
  if (!canonical()) canon_head_ = read_head_;
}

void LineDiscipline::receive_terminator(uint8_t c, bool eof, Output& echo) {
  if (read_head_ - read_tail_ >= kBufferSize) return drop(echo);
  if (c == '\n') {
    if (lflag(kECHO) || lflag(kECHONL)) echo_raw("\n"sv, echo);
  } else if (!eof && lflag(kECHO)) {  // EOL, EOL2; EOF is not echoed
    if (canon_head_ == read_head_) canon_column_ = column_;
    echo_char(c, echo);
  }
  store(c, true, eof);
  canon_head_ = read_head_;
}

void LineDiscipline::receive_signal(Signal s, uint8_t c, Output& echo, Signals& sig) {
  sig.raise(s);
  // POSIX 11.2.5 (NOFLSH): INTR, QUIT and SUSP flush the input and output
  // queues, completed lines included. The output queue is the caller's.
  if (!lflag(kNOFLSH)) flush_input();
  if (lflag(kECHO)) echo_char(c, echo);
}

void LineDiscipline::reprint(uint8_t c, Output& echo) {
  // As Linux's reprint(): the character, a newline, then the line so far. A
  // byte that does not fit the echo sink is dropped, as any echo.
  if (!lflag(kECHO)) return;
  echo_char(c, echo);
  echo_raw("\n"sv, echo);
  canon_column_ = column_;
  for (size_t p = canon_head_; p != read_head_; ++p) echo_char(at(p), echo);
}

void LineDiscipline::drop(Output& echo) {
  ++dropped_;
  if (iflag(kIMAXBEL)) {
    const char bell[] = {char(kBell)};
    echo_raw(std::string_view(bell, 1), echo);
  }
}

void LineDiscipline::erase(EraseKind kind, uint8_t c, Output& echo) {
  // Nothing to erase: no echo at all (at the start of a line).
  if (read_head_ == canon_head_) return;
  bool echoing = lflag(kECHO);
  // Visual erasure: ERASE and WERASE with ECHOE; KILL with ECHOE, ECHOK and
  // ECHOKE. Otherwise ERASE/WERASE are echoed like any other character (ECHO
  // alone, POSIX 11.2.5), and KILL echoes itself and, with ECHOK, a newline.
  bool visual = echoing && lflag(kECHOE) && (kind != EraseKind::Line || (lflag(kECHOK) && lflag(kECHOKE)));
  if (kind == EraseKind::Line && !visual) {
    read_head_ = canon_head_;
    if (echoing) {
      echo_char(c, echo);
      if (lflag(kECHOK)) echo_raw("\n"sv, echo);
    }
    return;
  }
  size_t word_chars = 0;
  while (read_head_ != canon_head_) {
    uint8_t prev = at(read_head_ - 1);
    if (kind == EraseKind::Word) {
      // Skip non-word characters back to a word, then erase the word.
      if (is_word(prev))
        ++word_chars;
      else if (word_chars > 0)
        break;
    }
    --read_head_;
    // IUTF8: a continuation byte (10xxxxxx) is erased with the bytes before it
    // down to the character's first byte, taking one column in all.
    if (iflag(kIUTF8) && (prev & 0xc0) == 0x80) {
      while (read_head_ != canon_head_ && (at(read_head_ - 1) & 0xc0) == 0x80) --read_head_;
      if (read_head_ != canon_head_) prev = at(--read_head_);
    }
    if (visual) {
      if (prev == '\t') {
        size_t n = tab_erase_columns();
        char backs[kTabWidth + 1] = {};
        for (size_t i = 0; i < n; ++i) backs[i] = '\b';
        echo_raw(std::string_view(backs, n), echo);
      } else if (is_control(prev)) {
        if (lflag(kECHOCTL)) echo_raw("\b \b\b \b"sv, echo);  // it was shown as ^X
        // Without ECHOCTL it was echoed raw and took no column.
      } else {
        echo_raw("\b \b"sv, echo);
      }
    }
    if (kind == EraseKind::Char) break;
  }
  if (echoing && !visual) echo_char(c, echo);
}

size_t LineDiscipline::tab_erase_columns() const {
  // The width of what was echoed between the previous tab (or the start of
  // the line) and this tab decides where the tab started.
  size_t width = 0;
  bool after_tab = false;
  for (size_t p = read_head_; p != canon_head_;) {
    uint8_t c = at(--p);
    if (c == '\t') {
      after_tab = true;
      break;
    }
    if (is_control(c)) {
      if (lflag(kECHOCTL)) width += 2;
    } else if (!(iflag(kIUTF8) && (c & 0xc0) == 0x80)) {  // a UTF-8 character takes one column
      ++width;
    }
  }
  if (!after_tab) width += canon_column_;
  size_t n = kTabWidth - width % kTabWidth;
  return n < column_ ? n : column_;
}

void LineDiscipline::store(uint8_t c, bool terminator, bool eof) {
  buf_[read_head_ % kBufferSize] = c;
  set_bit(terminator_, read_head_, terminator);
  set_bit(eof_, read_head_, eof);
  ++read_head_;
}

size_t LineDiscipline::read(std::span<uint8_t> out) {
  if (out.empty()) return 0;
  size_t n = 0;
  if (!canonical()) {
    while (n < out.size() && read_tail_ != canon_head_) out[n++] = at(read_tail_++);
    return n;
  }
  while (n < out.size() && read_tail_ != canon_head_) {
    size_t pos = read_tail_++;
    if (bit(eof_, pos)) return n;  // ends the line; not returned
    out[n++] = at(pos);
    if (bit(terminator_, pos)) return n;
  }
  // `out` is full: an EOF right behind goes with this line.
  if (read_tail_ != canon_head_ && bit(eof_, read_tail_)) ++read_tail_;
  return n;
}

bool LineDiscipline::readable_for(size_t request) const {
  if (canonical()) return canon_head_ != read_tail_;
  size_t want = termios_.c_cc[kVMIN];
  if (want > request) want = request;
  if (want == 0) want = 1;
  return read_head_ - read_tail_ >= want;
}

size_t LineDiscipline::bytes_available() const {
  size_t n = canon_head_ - read_tail_;
  if (canonical()) {
    for (size_t p = read_tail_; p != canon_head_; ++p)
      if (bit(eof_, p)) --n;
  }
  return n;
}

void LineDiscipline::set_termios(const Termios& t) {
  bool was_canonical = canonical();
  termios_ = t;
  if (was_canonical && !canonical()) {
    // Everything queued becomes raw data: squeeze out the EOF markers (they
    // are not data) and forget the line boundaries.
    size_t w = read_tail_;
    for (size_t r = read_tail_; r != read_head_; ++r) {
      if (bit(eof_, r)) continue;
      uint8_t c = at(r);
      buf_[w % kBufferSize] = c;
      set_bit(terminator_, w, false);
      set_bit(eof_, w, false);
      ++w;
    }
    read_head_ = canon_head_ = w;
    lnext_ = false;
  } else if (!was_canonical && canonical()) {
    // canon_head_ == read_head_ already: what is queued is one completed
    // "line", readable without a terminator (Linux pushes it the same way).
  }
}

void LineDiscipline::flush_input() {
  read_tail_ = canon_head_ = read_head_;
  lnext_ = false;
}

size_t LineDiscipline::expand(uint8_t c, uint8_t* dst) const {
  if (c == '\n' && oflag(kOPOST) && oflag(kONLCR)) {
    dst[0] = '\r';
    dst[1] = '\n';
    return 2;
  }
  dst[0] = c;
  return 1;
}

void LineDiscipline::advance_column(uint8_t emitted) {
  switch (emitted) {
    case '\r':
      column_ = 0;
      break;
    case '\n':
      break;  // a line feed keeps the column; ONLCR emitted a CR before it
    case '\t':
      column_ = (column_ / kTabWidth + 1) * kTabWidth;
      break;
    case '\b':
      if (column_ > 0) --column_;
      break;
    default:
      // Under IUTF8 a continuation byte adds no column (Linux's is_continuation).
      if (!is_control(emitted) && !(iflag(kIUTF8) && (emitted & 0xc0) == 0x80)) ++column_;
      break;
  }
}

size_t LineDiscipline::process_output(std::span<const uint8_t> in, Output& out) {
  if (stopped_) return 0;
  size_t room = out.room();
  uint8_t chunk[128];
  size_t len = 0;
  size_t consumed = 0;
  for (uint8_t c : in) {
    uint8_t e[2];
    size_t n = expand(c, e);
    if (n > room) break;
    if (len + n > sizeof(chunk)) {
      out.write(std::span<const uint8_t>(chunk, len));
      len = 0;
    }
    for (size_t i = 0; i < n; ++i) {
      chunk[len++] = e[i];
      advance_column(e[i]);
    }
    room -= n;
    ++consumed;
  }
  if (len > 0) out.write(std::span<const uint8_t>(chunk, len));
  return consumed;
}

void LineDiscipline::echo_char(uint8_t c, Output& echo) {
  if (lflag(kECHOCTL) && is_control(c) && c != '\t' && c != '\n') {
    const char caret[] = {'^', char(c ^ 0x40)};  // ^C for 0x03, ^? for DEL
    echo_raw(std::string_view(caret, 2), echo);
    return;
  }
  const char raw[] = {char(c)};
  echo_raw(std::string_view(raw, 1), echo);
}

void LineDiscipline::echo_raw(std::string_view s, Output& echo) {
  // Units are short (at most a tab's worth of backspaces); expanded, each
  // byte takes at most two.
  uint8_t out[2 * (kTabWidth + 1)];
  size_t len = 0;
  for (char ch : s) {
    if (len + 2 > sizeof(out)) return;  // cannot happen with the callers above
    len += expand(uint8_t(ch), out + len);
  }
  if (len > echo.room()) return;  // a full sink loses the echo, not the input
  for (size_t i = 0; i < len; ++i) advance_column(out[i]);
  echo.write(std::span<const uint8_t>(out, len));
}

}  // namespace keel::tty
