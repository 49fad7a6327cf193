// lib/klog.h — the kernel log: a ring buffer of leveled, timestamped records
// echoed to the consoles.
//
// Every kernel message goes through KernelLog::write(): the record is stored in
// a fixed-size ring (the oldest records are evicted when it is full; readers see
// the gap in sequence numbers, as with `dmesg -w`) and printed on each
// registered console whose level allows it, as "[   12.345678] text\n".
//
// Concurrency. Two locks, both test-and-set spinlocks:
//   ring_lock_     guards the ring and the sequence counters. Held only for
//                  copies, with interrupts disabled (as klib::SpinLock does;
//                  a no-op in host tests), so logging from interrupt and
//                  exception handlers cannot deadlock against the same CPU.
//   console_lock_  serialises console output; never spun on by write(). A CPU
//                  that finds it taken leaves its record to the holder, which
//                  prints everything pending before it lets go (and looks
//                  again after releasing it). Console output therefore runs
//                  in the caller's interrupt state, never under ring_lock_.
// Lock order: console_lock_ → ring_lock_.
// Not safe to call from NMI context except after enter_panic_mode().
//
// Panic. enter_panic_mode() breaks both locks (the crashed CPU may hold them),
// ends console hold, and from then on a lock that does not come free within a
// bounded spin is ignored, so the panic handler can always print.
//
// Stack: write() uses about 1.1 KiB (one record line), log() 512 bytes more.
#pragma once

#include <ktl/format.h>
#include <ktl/result.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace klib {

// Severity, most severe first (a console shows levels <= its threshold).
enum class LogLevel : uint8_t { Emergency, Error, Warning, Notice, Info, Debug };

// Metadata of one record returned by KernelLog::read().
struct LogRecord {
  uint64_t seq;           // 0 for the first record ever written, +1 per record
  uint64_t timestamp_ns;  // from the clock set by set_clock(); 0 before that
  LogLevel level;
  uint16_t length;        // full text length in bytes (may exceed what was copied)
};

// Formats one console line, "[sssss.uuuuuu] text\n" (seconds right-aligned to
// at least 5 digits, microseconds 6 digits), into `buf` of `cap` bytes; the
// text is cut to fit, the newline is always kept. Returns the line length.
// Precondition: cap >= 32 (the prefix plus newline always fit).
size_t format_log_line(char* buf, size_t cap, uint64_t timestamp_ns, std::string_view text);

class KernelLog {
 public:
  static constexpr size_t kMaxRecordText = 1024;   // longer texts are truncated
  static constexpr size_t kFormatBufferSize = 512;  // log()'s stack buffer
  static constexpr size_t kMaxConsoles = 4;

  // The log stores records in `buffer` (not owned; it must outlive the log).
  // A record needs 24 bytes of header plus its text; texts longer than the
  // buffer allows are truncated to fit. constexpr so the kernel's instance is
  // constant-initialised (usable before global constructors run).
  constexpr explicit KernelLog(std::span<uint8_t> buffer)
      : buf_(buffer.data()), capacity_(buffer.size()) {}

  KernelLog(const KernelLog&) = delete;
  KernelLog& operator=(const KernelLog&) = delete;

  // Appends one record (text cut to kMaxRecordText bytes; trailing newlines
  // dropped) and prints it on the consoles unless they are held.
  void write(LogLevel level, std::string_view text);

  // Formats with ktl::format (into a kFormatBufferSize stack buffer; longer
  // output is truncated) and appends the result.
  template <typename... A>
  void log(LogLevel level, std::string_view fmt, const A&... args) {
    char text[kFormatBufferSize];
    size_t n = ktl::format(text, sizeof text, fmt, args...);
    write(level, {text, n});
  }

  // Like write(), but printed on the consoles at once, even while they are
  // held, and without the timestamp prefix; the replay at
  // set_console_hold(false) skips it. Meant for the boot banner, so that it is
  // the first console line although it is logged after the bring-up messages.
  // Must not race with set_console_hold().
  void write_immediate(LogLevel level, std::string_view text);
  template <typename... A>
  void log_immediate(LogLevel level, std::string_view fmt, const A&... args) {
    char text[kFormatBufferSize];
    size_t n = ktl::format(text, sizeof text, fmt, args...);
    write_immediate(level, {text, n});
  }

  // Reads the oldest record whose sequence number is >= `seq`: fills `out`,
  // copies min(out.length, cap) text bytes to `text` (no NUL added) and sets
  // `seq` to out.seq + 1. If records were evicted, out.seq > the requested seq
  // and the caller sees the gap. Returns the number of bytes copied.
  // Error::NotFound if no such record exists yet (seq >= next_seq()).
  ktl::Result<size_t> read(uint64_t& seq, LogRecord& out, char* text, size_t cap);

  // Sequence number of the oldest record still stored / of the next record.
  uint64_t first_seq() const;
  uint64_t next_seq() const { return next_seq_.load(); }

  // Registers a console that prints records with level <= `max_level`.
  // Records logged before the first console was registered are printed on it
  // (unless held). Error::NoSpace if kMaxConsoles are registered,
  // Error::AlreadyExists if `sink` is, InvalidArgument if it is null. The
  // sink's write() is called with the console lock held, never concurrently.
  ktl::Result<void> add_console(ktl::Sink* sink, LogLevel max_level = LogLevel::Info);
  // Unregisters `sink`; Error::NotFound if it is not registered.
  ktl::Result<void> remove_console(ktl::Sink* sink);
  // Changes the threshold of a registered console; Error::NotFound otherwise.
  ktl::Result<void> set_console_level(ktl::Sink* sink, LogLevel max_level);

  // Returns once every record logged before the call is on the consoles:
  // unlike write(), it waits (spinning, at most `max_spins` tries) while
  // another CPU holds the console lock, then prints what is still pending.
  // For power-off and reboot: otherwise the machine may stop while another
  // CPU is still printing the last lines. False if it gave up, or if the
  // consoles are held.
  bool flush_wait(uint64_t max_spins);

  // While held, records go only to the ring. Releasing prints every record
  // the consoles have not seen yet, in order (those from write_immediate()
  // excepted).
  void set_console_hold(bool hold);

  // Timestamp source in nanoseconds (called with the ring lock held: must be
  // cheap and must not log). nullptr restores the default, which returns 0.
  void set_clock(uint64_t (*clock)());

  // Releases both locks whatever their state. For the panic path only: the
  // CPU that held them must be stopped or be the caller itself.
  void force_unlock();
  // force_unlock(), ends console hold, and makes all later calls proceed
  // without waiting for a lock that does not come free, so that the panic
  // handler's messages always reach the consoles. Irreversible.
  void enter_panic_mode();
  bool panic_mode() const { return panic_.load(std::memory_order_relaxed); }

 private:
  struct RecordHeader {
    uint64_t seq;
    uint64_t timestamp_ns;
    uint16_t length;
    uint8_t level;
    uint8_t flags;
    uint32_t reserved;
  };
  static_assert(sizeof(RecordHeader) == 24);
  static constexpr uint8_t kFlagEchoed = 1;  // already printed by write_immediate()

  struct Console {
    ktl::Sink* sink;
    LogLevel max_level;
  };

  class RingGuard;

  void append(LogLevel level, std::string_view text, uint8_t flags, uint64_t* seq_out);
  void copy_in(uint64_t pos, const void* src, size_t n);
  void copy_out(uint64_t pos, void* dst, size_t n) const;
  bool header_at(uint64_t pos, uint64_t expected_seq, RecordHeader& out) const;
  bool locate(uint64_t seq, uint64_t& pos);
  void reset_ring();
  ktl::Result<size_t> read_locked(uint64_t& seq, LogRecord& out, uint8_t& flags, char* text,
                                  size_t cap);
  void flush_consoles();
  bool print_pending();
  void print_line(LogLevel level, const char* line, size_t n);
  void lock_consoles();

  uint8_t* buf_;
  size_t capacity_;

  // Guarded by ring_lock_. Positions are logical byte offsets that only grow;
  // the physical offset is pos % capacity_. Records lie back to back in
  // [head_, tail_), with sequence numbers first_seq_ .. next_seq_ - 1.
  std::atomic_flag ring_lock_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  std::atomic<uint64_t> first_seq_{0};  // written under ring_lock_, read without
  std::atomic<uint64_t> next_seq_{0};  // written under ring_lock_, read without
  uint64_t hint_seq_ = 0;              // read cursor cache: record hint_seq_
  uint64_t hint_pos_ = 0;              //   starts at hint_pos_ if still stored
  uint64_t (*clock_)() = nullptr;

  // Guarded by console_lock_.
  std::atomic_flag console_lock_;
  Console consoles_[kMaxConsoles] = {};
  size_t console_count_ = 0;
  uint64_t console_seq_ = 0;  // next record to print on the consoles

  std::atomic<bool> hold_{false};
  std::atomic<bool> panic_{false};
};

// The kernel's log (64 KiB ring, static storage).
KernelLog& kernel_log();

// Shorthands for the kernel log: klib::info("mapped {} pages", n).
template <typename... A>
void error(std::string_view fmt, const A&... args) {
  kernel_log().log(LogLevel::Error, fmt, args...);
}
template <typename... A>
void warn(std::string_view fmt, const A&... args) {
  kernel_log().log(LogLevel::Warning, fmt, args...);
}
template <typename... A>
void notice(std::string_view fmt, const A&... args) {
  kernel_log().log(LogLevel::Notice, fmt, args...);
}
template <typename... A>
void info(std::string_view fmt, const A&... args) {
  kernel_log().log(LogLevel::Info, fmt, args...);
}
template <typename... A>
void debug(std::string_view fmt, const A&... args) {
  kernel_log().log(LogLevel::Debug, fmt, args...);
}

}  // namespace klib

// The same shorthands as klog::info(...), for code that prefers to say where
// the message goes.
namespace klog {
using klib::debug;
using klib::error;
using klib::info;
using klib::notice;
using klib::warn;
}  // namespace klog
