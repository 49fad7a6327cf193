// lib/klog.cc — the kernel log ring buffer and its console echo.
//
// Invariants (under ring_lock_): records lie back to back in logical byte
// positions [head_, tail_), tail_ - head_ <= capacity_, the record at head_ has
// sequence number first_seq_, and each following record's is one more, up to
// next_seq_ - 1. A record is a RecordHeader followed by `length` text bytes and
// may wrap around the end of the buffer. tail_ and next_seq_ are advanced only
// after the record is completely written, so a CPU that dies inside append()
// leaves at worst a header that fails validation; readers then drop the ring
// (reset_ring) instead of trusting it.
#include <lib/klog.h>

namespace klib {
namespace {

// Interrupt state, as klib::SpinLock handles it: host tests have none.
#ifdef KEEL_HOST_TEST
inline uint64_t irq_save_disable() { return 0; }
inline void irq_restore(uint64_t) {}
inline void cpu_relax() {
#if defined(__x86_64__)
  asm volatile("pause");
#endif
}
#else
inline uint64_t irq_save_disable() {
  uint64_t flags;
  asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
  return flags;
}
inline void irq_restore(uint64_t flags) {
  if (flags & (1 << 9)) asm volatile("sti" ::: "memory");  // RFLAGS.IF
}
inline void cpu_relax() { asm volatile("pause"); }
#endif

// In panic mode a lock held by a stopped CPU must not stop the panic handler:
// give a live holder this many spins to finish, then go ahead.
constexpr uint64_t kPanicSpinLimit = uint64_t(1) << 22;

// "[sssss.uuuuuu] " — at most 1 + 20 + 1 + 6 + 2 = 30 bytes.
constexpr size_t kPrefixMax = 32;

size_t format_prefix(char* buf, size_t cap, uint64_t timestamp_ns) {
  uint64_t seconds = timestamp_ns / 1000000000;
  uint64_t micros = (timestamp_ns % 1000000000) / 1000;
  return ktl::format(buf, cap, "[{:5}.{:06}] ", seconds, micros);
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (uint8_t(text[n]) & 0xc0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace

size_t format_log_line(char* buf, size_t cap, uint64_t timestamp_ns, std::string_view text) {
  char prefix[kPrefixMax];
  size_t p = format_prefix(prefix, sizeof prefix, timestamp_ns);
  if (cap < kPrefixMax) return 0;  // precondition violated: write nothing
  __builtin_memcpy(buf, prefix, p);
  size_t n = text.size() < cap - p - 1 ? text.size() : cap - p - 1;
  __builtin_memcpy(buf + p, text.data(), n);
  buf[p + n] = '\n';
  return p + n + 1;
}

// Holds ring_lock_ with interrupts disabled for its lifetime.
class KernelLog::RingGuard {
 public:
  explicit RingGuard(KernelLog& log) : log_(log), irq_state_(irq_save_disable()) {
    uint64_t spins = 0;
    while (log_.ring_lock_.test_and_set(std::memory_order_acquire)) {
      cpu_relax();
      if (log_.panic_mode() && ++spins > kPanicSpinLimit) {
        owned_ = false;  // proceed without it; see kPanicSpinLimit
        break;
      }
    }
  }
  ~RingGuard() {
    if (owned_) log_.ring_lock_.clear(std::memory_order_release);
    irq_restore(irq_state_);
  }
  RingGuard(const RingGuard&) = delete;
  RingGuard& operator=(const RingGuard&) = delete;

 private:
  KernelLog& log_;
  uint64_t irq_state_;
  bool owned_ = true;
};

void KernelLog::copy_in(uint64_t pos, const void* src, size_t n) {
  size_t off = size_t(pos % capacity_);
  size_t first = capacity_ - off < n ? capacity_ - off : n;
  __builtin_memcpy(buf_ + off, src, first);
  __builtin_memcpy(buf_, static_cast<const uint8_t*>(src) + first, n - first);
}

void KernelLog::copy_out(uint64_t pos, void* dst, size_t n) const {
  size_t off = size_t(pos % capacity_);
  size_t first = capacity_ - off < n ? capacity_ - off : n;
  __builtin_memcpy(dst, buf_ + off, first);
  __builtin_memcpy(static_cast<uint8_t*>(dst) + first, buf_, n - first);
}

bool KernelLog::header_at(uint64_t pos, uint64_t expected_seq, RecordHeader& out) const {
  if (pos < head_ || pos > tail_ || tail_ - pos < sizeof(RecordHeader)) return false;
  copy_out(pos, &out, sizeof out);
  return out.seq == expected_seq && out.length <= kMaxRecordText &&
         tail_ - pos - sizeof(RecordHeader) >= out.length;
}

void KernelLog::reset_ring() {
  head_ = tail_;
  first_seq_.store(next_seq_.load());
  hint_seq_ = next_seq_.load();
  hint_pos_ = tail_;
}

bool KernelLog::locate(uint64_t seq, uint64_t& pos) {
  uint64_t cur = first_seq_.load();
  pos = head_;
  if (hint_seq_ >= cur && hint_seq_ <= seq) {  // still stored, and not past seq
    cur = hint_seq_;
    pos = hint_pos_;
  }
  for (; cur < seq; ++cur) {
    RecordHeader h;
    if (!header_at(pos, cur, h)) {
      reset_ring();
      return false;
    }
    pos += sizeof h + h.length;
  }
  return true;
}

void KernelLog::append(LogLevel level, std::string_view text, uint8_t flags, uint64_t* seq_out) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (capacity_ <= sizeof(RecordHeader)) return;  // no room for any record
  size_t max_text = capacity_ - sizeof(RecordHeader);
  if (max_text > kMaxRecordText) max_text = kMaxRecordText;
  text = cut(text, max_text);

  RingGuard guard(*this);
  // Read the clock before any ring state: a clock that faults into a panic
  // handler (which logs) must find the ring consistent.
  uint64_t now = clock_ ? clock_() : 0;
  size_t need = sizeof(RecordHeader) + text.size();
  while (capacity_ - (tail_ - head_) < need) {
    RecordHeader old;
    if (!header_at(head_, first_seq_.load(), old)) {
      reset_ring();
      break;
    }
    head_ += sizeof old + old.length;
    first_seq_.store(old.seq + 1);
  }
  RecordHeader h = {};
  h.seq = next_seq_.load();
  h.timestamp_ns = now;
  h.length = uint16_t(text.size());
  h.level = uint8_t(level);
  h.flags = flags;
  copy_in(tail_, &h, sizeof h);
  copy_in(tail_ + sizeof h, text.data(), text.size());
  tail_ += need;
  next_seq_.store(h.seq + 1);
  if (seq_out) *seq_out = h.seq;
}

// On Error::NotFound, `seq` is moved to where the next record will be (past
// records lost to a ring reset), never past a record that is still stored.
ktl::Result<size_t> KernelLog::read_locked(uint64_t& seq, LogRecord& out, uint8_t& flags,
                                           char* text, size_t cap) {
  uint64_t first = first_seq_.load();
  uint64_t want = seq > first ? seq : first;
  uint64_t pos;
  RecordHeader h;
  if (want >= next_seq_.load()) {
    seq = want;
    return ktl::Error::NotFound;
  }
  if (!locate(want, pos) || !header_at(pos, want, h)) {
    reset_ring();
    seq = next_seq_.load();
    return ktl::Error::NotFound;
  }
  size_t n = h.length < cap ? h.length : cap;
  copy_out(pos + sizeof h, text, n);
  out = {h.seq, h.timestamp_ns, LogLevel(h.level), h.length};
  flags = h.flags;
  seq = want + 1;
  hint_seq_ = want + 1;
  hint_pos_ = pos + sizeof h + h.length;
  return n;
}

ktl::Result<size_t> KernelLog::read(uint64_t& seq, LogRecord& out, char* text, size_t cap) {
  RingGuard guard(*this);
  uint8_t flags;
  uint64_t next = seq;
  auto n = read_locked(next, out, flags, text, cap);
  if (n) seq = next;
  return n;
}

uint64_t KernelLog::first_seq() const { return first_seq_.load(); }

void KernelLog::write(LogLevel level, std::string_view text) {
  append(level, text, 0, nullptr);
  flush_consoles();
}

void KernelLog::write_immediate(LogLevel level, std::string_view text) {
  if (panic_mode()) {
    write(level, text);
    return;
  }
  if (!hold_.load()) flush_consoles();  // records logged earlier print first
  uint64_t want = 0;
  append(level, text, kFlagEchoed, &want);
  uint64_t seq = want;
  char line[kPrefixMax + kMaxRecordText + 1];
  char* body = line + kPrefixMax;
  LogRecord r;
  uint8_t flags;
  ktl::Result<size_t> n = ktl::Error::NotFound;
  {
    RingGuard guard(*this);
    n = read_locked(seq, r, flags, body, kMaxRecordText);
  }
  if (!n || r.seq != want) return;  // evicted already (tiny ring): nothing to echo
  lock_consoles();
  body[*n] = '\n';
  print_line(r.level, body, *n + 1);  // no timestamp prefix: the line stands alone
  console_lock_.clear();
}

void KernelLog::lock_consoles() {
  uint64_t spins = 0;
  while (console_lock_.test_and_set(std::memory_order_acquire)) {
    cpu_relax();
    if (panic_mode() && ++spins > kPanicSpinLimit) return;
  }
}

void KernelLog::print_line(LogLevel level, const char* line, size_t n) {
  for (size_t i = 0; i < console_count_; ++i) {
    if (level <= consoles_[i].max_level) consoles_[i].sink->write(line, n);
  }
}

bool KernelLog::print_pending() {
  if (console_count_ == 0) return false;  // keep the backlog for the first console
  // The text is read to kPrefixMax bytes into `line` so that the prefix can be
  // put in front of it without a second buffer.
  char line[kPrefixMax + kMaxRecordText + 1];
  char* body = line + kPrefixMax;
  for (;;) {
    if (hold_.load() && !panic_mode()) break;
    uint64_t seq = console_seq_;
    LogRecord r;
    uint8_t flags;
    ktl::Result<size_t> n = ktl::Error::NotFound;
    {
      RingGuard guard(*this);
      n = read_locked(seq, r, flags, body, kMaxRecordText);
    }
    if (!n) {
      console_seq_ = seq;  // caught up (or past records lost to a ring reset)
      break;
    }
    if (r.seq > console_seq_) {
      char note[64];
      size_t k = ktl::format(note, sizeof note, "[ klog: {} records dropped ]\n",
                             r.seq - console_seq_);
      print_line(LogLevel::Emergency, note, k);
    }
    console_seq_ = seq;
    if (flags & kFlagEchoed) continue;
    char prefix[kPrefixMax];
    size_t p = format_prefix(prefix, sizeof prefix, r.timestamp_ns);
    __builtin_memcpy(body - p, prefix, p);
    body[*n] = '\n';
    print_line(r.level, body - p, p + *n + 1);
  }
  return true;
}

void KernelLog::flush_consoles() {
  for (;;) {
    if (hold_.load() && !panic_mode()) return;
    // seq_cst with next_seq_: a writer that finds the lock taken has stored
    // its next_seq_ before, so the holder's re-check below sees its record.
    bool busy = console_lock_.test_and_set();
    if (busy && !panic_mode()) return;  // the holder prints our record
    bool printing = print_pending();
    uint64_t done = console_seq_;
    if (!busy) console_lock_.clear();
    if (!printing || next_seq_.load() <= done) return;
  }
}

bool KernelLog::flush_wait(uint64_t max_spins) {
  for (uint64_t i = 0; i < max_spins; ++i) {
    if (hold_.load() && !panic_mode()) return false;
    if (!console_lock_.test_and_set()) {
      // The previous holder printed everything up to its last look; what
      // came after, this prints.
      print_pending();
      console_lock_.clear();
      return true;
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  return false;
}

ktl::Result<void> KernelLog::add_console(ktl::Sink* sink, LogLevel max_level) {
  if (!sink) return ktl::Error::InvalidArgument;
  lock_consoles();
  ktl::Error err = ktl::Error::None;
  for (size_t i = 0; i < console_count_; ++i)
    if (consoles_[i].sink == sink) err = ktl::Error::AlreadyExists;
  if (err == ktl::Error::None && console_count_ == kMaxConsoles) err = ktl::Error::NoSpace;
  if (err == ktl::Error::None) consoles_[console_count_++] = {sink, max_level};
  console_lock_.clear();
  if (err != ktl::Error::None) return err;
  flush_consoles();
  return ktl::ok();
}

ktl::Result<void> KernelLog::remove_console(ktl::Sink* sink) {
  lock_consoles();
  ktl::Error err = ktl::Error::NotFound;
  for (size_t i = 0; i < console_count_; ++i) {
    if (consoles_[i].sink != sink) continue;
    for (size_t j = i + 1; j < console_count_; ++j) consoles_[j - 1] = consoles_[j];
    --console_count_;
    err = ktl::Error::None;
    break;
  }
  console_lock_.clear();
  return err;
}

ktl::Result<void> KernelLog::set_console_level(ktl::Sink* sink, LogLevel max_level) {
  lock_consoles();
  ktl::Error err = ktl::Error::NotFound;
  for (size_t i = 0; i < console_count_; ++i) {
    if (consoles_[i].sink == sink) {
      consoles_[i].max_level = max_level;
      err = ktl::Error::None;
    }
  }
  console_lock_.clear();
  return err;
}

void KernelLog::set_console_hold(bool hold) {
  hold_.store(hold);
  if (!hold) flush_consoles();
}

void KernelLog::set_clock(uint64_t (*clock)()) {
  RingGuard guard(*this);
  clock_ = clock;
}

void KernelLog::force_unlock() {
  ring_lock_.clear();
  console_lock_.clear();
}

void KernelLog::enter_panic_mode() {
  panic_.store(true);
  hold_.store(false);
  force_unlock();
}

namespace {
constinit uint8_t g_kernel_log_buffer[64 * 1024];
constinit KernelLog g_kernel_log{g_kernel_log_buffer};
}  // namespace

KernelLog& kernel_log() { return g_kernel_log; }

}  // namespace klib
