// lib/klog_test.cc — host tests for the kernel log ring buffer and console echo.
#include <lib/klog.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace klib {
namespace {

// Collects console output; fails the test if two writers ever overlap.
class StringSink final : public ktl::Sink {
 public:
  void write(const char* s, size_t n) override {
    EXPECT_EQ(inside_.fetch_add(1), 0) << "concurrent console writes";
    out.append(s, n);
    ++writes;
    inside_.fetch_sub(1);
  }
  std::string out;
  size_t writes = 0;

 private:
  std::atomic<int> inside_{0};
};

struct Read {
  LogRecord rec;
  std::string text;
};

// Reads the next record at or after `seq`; nullopt-like: ok == false.
bool next(KernelLog& log, uint64_t& seq, Read& r) {
  char buf[KernelLog::kMaxRecordText];
  auto n = log.read(seq, r.rec, buf, sizeof buf);
  if (!n) return false;
  r.text.assign(buf, *n);
  return true;
}

template <size_t N>
struct TestLog {
  uint8_t buffer[N] = {};
  KernelLog log{std::span<uint8_t>(buffer, N)};
};

TEST(Klog, RecordsInOrder) {
  TestLog<4096> t;
  t.log.write(LogLevel::Info, "first");
  t.log.write(LogLevel::Error, "second");
  t.log.log(LogLevel::Debug, "third {} {:#x}", 3, 255u);
  EXPECT_EQ(t.log.first_seq(), 0u);
  EXPECT_EQ(t.log.next_seq(), 3u);

  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.seq, 0u);
  EXPECT_EQ(r.rec.level, LogLevel::Info);
  EXPECT_EQ(r.text, "first");
  EXPECT_EQ(seq, 1u);
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.seq, 1u);
  EXPECT_EQ(r.rec.level, LogLevel::Error);
  EXPECT_EQ(r.text, "second");
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Debug);
  EXPECT_EQ(r.text, "third 3 0xff");
  EXPECT_EQ(r.rec.length, r.text.size());

  char buf[8];
  LogRecord rec;
  auto end = t.log.read(seq, rec, buf, sizeof buf);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error(), ktl::Error::NotFound);
  EXPECT_EQ(seq, 3u);  // unchanged: the caller retries here later
}

TEST(Klog, EmptyLogAndEmptyRecord) {
  TestLog<256> t;
  uint64_t seq = 0;
  Read r;
  EXPECT_FALSE(next(t.log, seq, r));
  t.log.write(LogLevel::Info, "");
  t.log.write(LogLevel::Info, "\n\n");  // trailing newlines are dropped
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.text, "");
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.rec.length, 0u);
}

TEST(Klog, TrailingNewlineDropped) {
  TestLog<256> t;
  t.log.write(LogLevel::Info, "line\n");
  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.text, "line");
}

TEST(Klog, WraparoundEvictsOldestWithSeqGap) {
  // 24-byte header + 6 text bytes = 30 bytes: 8 records fit in 256 bytes.
  TestLog<256> t;
  for (int i = 0; i < 20; ++i) t.log.log(LogLevel::Info, "msg {:02}", i);
  EXPECT_EQ(t.log.next_seq(), 20u);
  EXPECT_EQ(t.log.first_seq(), 12u);

  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.seq, 12u);  // the gap 0..11 is visible to the reader
  EXPECT_EQ(r.text, "msg 12");
  for (int i = 13; i < 20; ++i) {
    ASSERT_TRUE(next(t.log, seq, r));
    EXPECT_EQ(r.rec.seq, uint64_t(i));
    char want[8];
    std::snprintf(want, sizeof want, "msg %02d", i);
    EXPECT_EQ(r.text, want);
  }
  EXPECT_FALSE(next(t.log, seq, r));
}

TEST(Klog, WraparoundVariableSizes) {
  // Records of varying length straddle the buffer end in every position.
  TestLog<200> t;
  uint64_t seq = 0;
  for (int i = 0; i < 500; ++i) {
    std::string text(size_t(i % 37), char('a' + i % 26));
    t.log.write(LogLevel::Info, text);
    Read r;
    ASSERT_TRUE(next(t.log, seq, r));
    EXPECT_EQ(r.rec.seq, uint64_t(i));
    EXPECT_EQ(r.text, text);
  }
  // Everything still stored reads back intact.
  uint64_t s = t.log.first_seq();
  Read r;
  while (next(t.log, s, r)) {
    int i = int(r.rec.seq);
    EXPECT_EQ(r.text, std::string(size_t(i % 37), char('a' + i % 26)));
  }
}

TEST(Klog, OversizeTruncated) {
  TestLog<8192> t;
  std::string big(3000, 'x');
  t.log.write(LogLevel::Warning, big);
  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.length, KernelLog::kMaxRecordText);
  EXPECT_EQ(r.text, big.substr(0, KernelLog::kMaxRecordText));

  // Cut at a UTF-8 character boundary: "a" + "é"×600 is cut to 1023 bytes.
  std::string utf = "a";
  for (int i = 0; i < 600; ++i) utf += "\xc3\xa9";
  t.log.write(LogLevel::Info, utf);
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.length, 1023u);
  EXPECT_EQ(r.text, utf.substr(0, 1023));

  // A ring smaller than the maximum record: the text is cut to what fits.
  TestLog<128> small;
  small.log.write(LogLevel::Info, big);
  uint64_t s2 = 0;
  ASSERT_TRUE(next(small.log, s2, r));
  EXPECT_EQ(r.rec.length, 128u - 24u);

  // log() formats into a 512-byte buffer.
  t.log.log(LogLevel::Info, "{}", big);
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.length, KernelLog::kFormatBufferSize - 1);
}

TEST(Klog, ShortReadBufferReportsFullLength) {
  TestLog<256> t;
  t.log.write(LogLevel::Info, "0123456789");
  uint64_t seq = 0;
  LogRecord rec;
  char buf[4];
  auto n = t.log.read(seq, rec, buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(rec.length, 10u);
  EXPECT_EQ(std::string(buf, 4), "0123");
  EXPECT_EQ(seq, 1u);
}

TEST(Klog, ReaderResumes) {
  TestLog<4096> t;
  for (int i = 0; i < 5; ++i) t.log.log(LogLevel::Info, "a{}", i);
  uint64_t seq = 0;
  Read r;
  while (next(t.log, seq, r)) {
  }
  EXPECT_EQ(seq, 5u);
  for (int i = 5; i < 8; ++i) t.log.log(LogLevel::Info, "a{}", i);  // dmesg -w
  for (int i = 5; i < 8; ++i) {
    ASSERT_TRUE(next(t.log, seq, r));
    EXPECT_EQ(r.rec.seq, uint64_t(i));
    EXPECT_EQ(r.text, "a" + std::to_string(i));
  }
  // Random access, backwards too (the read cursor cache must not get in the way).
  for (uint64_t s : {6u, 2u, 7u, 0u, 3u}) {
    uint64_t q = s;
    ASSERT_TRUE(next(t.log, q, r));
    EXPECT_EQ(r.rec.seq, s);
    EXPECT_EQ(r.text, "a" + std::to_string(s));
  }
  // Two interleaved readers.
  uint64_t a = 0, b = 4;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(next(t.log, a, r));
    EXPECT_EQ(r.rec.seq, uint64_t(i));
    ASSERT_TRUE(next(t.log, b, r));
    EXPECT_EQ(r.rec.seq, uint64_t(4 + i));
  }
}

TEST(Klog, ConsoleLineFormat) {
  char buf[64];
  size_t n = format_log_line(buf, sizeof buf, 12345678901, "hello");
  EXPECT_EQ(std::string(buf, n), "[   12.345678] hello\n");
  n = format_log_line(buf, sizeof buf, 0, "zero");
  EXPECT_EQ(std::string(buf, n), "[    0.000000] zero\n");
  n = format_log_line(buf, sizeof buf, 999, "sub-micro");  // 999 ns rounds down
  EXPECT_EQ(std::string(buf, n), "[    0.000000] sub-micro\n");
  n = format_log_line(buf, sizeof buf, 123456000001000, "wide");
  EXPECT_EQ(std::string(buf, n), "[123456.000001] wide\n");
  n = format_log_line(buf, sizeof buf, ~uint64_t(0), "");
  EXPECT_EQ(std::string(buf, n), "[18446744073.709551] \n");
  // Text cut to fit; the newline stays.
  n = format_log_line(buf, 32, 1000000000, "0123456789abcdefghijklmnop");
  EXPECT_EQ(n, 32u);
  EXPECT_EQ(std::string(buf, n), "[    1.000000] 0123456789abcdef\n");
}

uint64_t g_fake_ns = 0;
uint64_t fake_clock() { return g_fake_ns; }

TEST(Klog, ConsoleEchoWithTimestamps) {
  TestLog<4096> t;
  StringSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  t.log.set_clock(fake_clock);
  g_fake_ns = 12345678901;
  t.log.write(LogLevel::Info, "booted");
  g_fake_ns = 3000000000;
  t.log.write(LogLevel::Notice, "later\n");
  EXPECT_EQ(con.out, "[   12.345678] booted\n[    3.000000] later\n");
  EXPECT_EQ(con.writes, 2u);  // one write per line

  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.rec.timestamp_ns, 12345678901u);
  t.log.set_clock(nullptr);
  t.log.write(LogLevel::Info, "no clock");
  EXPECT_NE(con.out.find("[    0.000000] no clock\n"), std::string::npos);
}

TEST(Klog, ConsoleThreshold) {
  TestLog<4096> t;
  StringSink verbose, quiet, normal;
  ASSERT_TRUE(t.log.add_console(&verbose, LogLevel::Debug).ok());
  ASSERT_TRUE(t.log.add_console(&quiet, LogLevel::Warning).ok());
  ASSERT_TRUE(t.log.add_console(&normal).ok());  // default: Info
  t.log.write(LogLevel::Debug, "d");
  t.log.write(LogLevel::Info, "i");
  t.log.write(LogLevel::Warning, "w");
  t.log.write(LogLevel::Emergency, "e");
  EXPECT_EQ(verbose.out, "[    0.000000] d\n[    0.000000] i\n[    0.000000] w\n[    0.000000] e\n");
  EXPECT_EQ(normal.out, "[    0.000000] i\n[    0.000000] w\n[    0.000000] e\n");
  EXPECT_EQ(quiet.out, "[    0.000000] w\n[    0.000000] e\n");

  ASSERT_TRUE(t.log.set_console_level(&quiet, LogLevel::Emergency).ok());
  t.log.write(LogLevel::Error, "x");
  EXPECT_EQ(quiet.out.find("] x"), std::string::npos);
  EXPECT_NE(normal.out.find("] x"), std::string::npos);
}

TEST(Klog, ConsoleRegistration) {
  TestLog<4096> t;
  StringSink s[5];
  EXPECT_EQ(t.log.add_console(nullptr).error(), ktl::Error::InvalidArgument);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(t.log.add_console(&s[i]).ok());
  EXPECT_EQ(t.log.add_console(&s[4]).error(), ktl::Error::NoSpace);
  EXPECT_EQ(t.log.add_console(&s[0]).error(), ktl::Error::AlreadyExists);
  ASSERT_TRUE(t.log.remove_console(&s[1]).ok());
  EXPECT_EQ(t.log.remove_console(&s[1]).error(), ktl::Error::NotFound);
  EXPECT_EQ(t.log.set_console_level(&s[1], LogLevel::Debug).error(), ktl::Error::NotFound);
  ASSERT_TRUE(t.log.add_console(&s[4]).ok());
  t.log.write(LogLevel::Info, "m");
  EXPECT_EQ(s[1].out, "");
  for (int i : {0, 2, 3, 4}) EXPECT_EQ(s[i].out, "[    0.000000] m\n") << i;
}

TEST(Klog, BacklogGoesToFirstConsole) {
  TestLog<4096> t;
  t.log.write(LogLevel::Info, "early 1");
  t.log.write(LogLevel::Info, "early 2");
  StringSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  EXPECT_EQ(con.out, "[    0.000000] early 1\n[    0.000000] early 2\n");
}

TEST(Klog, HoldAndReplayInOrder) {
  TestLog<4096> t;
  StringSink con;
  t.log.set_console_hold(true);
  t.log.write(LogLevel::Info, "before console");
  ASSERT_TRUE(t.log.add_console(&con).ok());
  t.log.write(LogLevel::Info, "bring-up 1");
  t.log.write(LogLevel::Debug, "filtered");
  t.log.write(LogLevel::Info, "bring-up 2");
  EXPECT_EQ(con.out, "");  // held: ring only
  t.log.log_immediate(LogLevel::Notice, "Keel {}", "0.1.0");
  EXPECT_EQ(con.out, "Keel 0.1.0\n");  // banner first, without a timestamp
  t.log.set_console_hold(false);
  EXPECT_EQ(con.out,
            "Keel 0.1.0\n"
            "[    0.000000] before console\n"
            "[    0.000000] bring-up 1\n"
            "[    0.000000] bring-up 2\n");
  t.log.write(LogLevel::Info, "after");
  EXPECT_EQ(con.out.substr(con.out.size() - 21), "[    0.000000] after\n");
  // All records, banner included, are in the ring in logging order.
  uint64_t seq = 0;
  Read r;
  std::vector<std::string> texts;
  while (next(t.log, seq, r)) texts.push_back(r.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"before console", "bring-up 1", "filtered",
                                             "bring-up 2", "Keel 0.1.0", "after"}));
  // Not held: printed at once, still without the prefix, after earlier records.
  t.log.write_immediate(LogLevel::Info, "plain");
  EXPECT_EQ(con.out.substr(con.out.size() - 27), "[    0.000000] after\nplain\n");
}

TEST(Klog, HoldLongerThanRingReportsDrop) {
  TestLog<256> t;  // 8 records of 6 characters
  StringSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  t.log.set_console_hold(true);
  for (int i = 0; i < 20; ++i) t.log.log(LogLevel::Info, "msg {:02}", i);
  t.log.set_console_hold(false);
  std::string want = "[ klog: 12 records dropped ]\n";
  for (int i = 12; i < 20; ++i) want += "[    0.000000] msg " + std::to_string(i) + "\n";
  EXPECT_EQ(con.out, want);
}

// A console whose first write stays busy until released, holding the console
// lock meanwhile (a slow UART, or a CPU stopped in the middle of printing).
class BlockingSink final : public ktl::Sink {
 public:
  void write(const char* s, size_t n) override {
    if (!entered.exchange(true))
      while (block.load()) std::this_thread::yield();
    std::lock_guard<std::mutex> g(mu);
    out.append(s, n);
  }
  std::atomic<bool> entered{false};
  std::atomic<bool> block{true};
  std::mutex mu;
  std::string out;
};

TEST(Klog, WriterDoesNotWaitForBusyConsole) {
  TestLog<4096> t;
  BlockingSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  std::thread holder([&] { t.log.write(LogLevel::Info, "one"); });
  while (!con.entered.load()) std::this_thread::yield();
  // The holder is stuck in the console; this write must return at once and
  // leave its record to the holder.
  t.log.write(LogLevel::Info, "two");
  EXPECT_EQ(t.log.next_seq(), 2u);
  con.block.store(false);
  holder.join();
  EXPECT_EQ(con.out, "[    0.000000] one\n[    0.000000] two\n");
}

// flush_wait waits for the console's holder, and what it left is printed
// before it returns; with the holder stuck it gives up after its spins.
TEST(Klog, FlushWaitWaitsForBusyConsole) {
  TestLog<4096> t;
  BlockingSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  std::thread holder([&] { t.log.write(LogLevel::Info, "one"); });
  while (!con.entered.load()) std::this_thread::yield();
  t.log.write(LogLevel::Info, "two");
  EXPECT_FALSE(t.log.flush_wait(1000));  // the holder is still stuck
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    con.block.store(false);
  });
  EXPECT_TRUE(t.log.flush_wait(uint64_t(1) << 40));
  {
    std::lock_guard<std::mutex> g(con.mu);
    EXPECT_EQ(con.out, "[    0.000000] one\n[    0.000000] two\n");
  }
  release.join();
  holder.join();
  // Held consoles: nothing to wait for.
  t.log.set_console_hold(true);
  EXPECT_FALSE(t.log.flush_wait(10));
  t.log.set_console_hold(false);
}

TEST(Klog, PanicBreaksLockHeldByStoppedCpu) {
  TestLog<4096> t;
  BlockingSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  // A "CPU" stopped while it holds the console lock.
  std::thread stuck([&] { t.log.write(LogLevel::Info, "stuck"); });
  while (!con.entered.load()) std::this_thread::yield();
  StringSink panic_con;
  t.log.enter_panic_mode();
  EXPECT_TRUE(t.log.panic_mode());
  ASSERT_TRUE(t.log.add_console(&panic_con, LogLevel::Debug).ok());  // would block without panic
  t.log.write(LogLevel::Emergency, "panic: it broke");
  EXPECT_NE(panic_con.out.find("] panic: it broke\n"), std::string::npos);
  con.block.store(false);
  stuck.join();
}

TEST(Klog, ForceUnlockAfterHolderDied) {
  TestLog<4096> t;
  StringSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  t.log.set_console_hold(true);
  t.log.write(LogLevel::Info, "held");
  t.log.force_unlock();  // both locks free already: must be harmless
  t.log.set_console_hold(false);
  t.log.write(LogLevel::Info, "after");
  EXPECT_EQ(con.out, "[    0.000000] held\n[    0.000000] after\n");
}

// An exception inside the ring's critical section (here: in the clock) whose
// handler panics and logs on the same CPU: without panic mode this deadlocks.
KernelLog* g_reentrant_log = nullptr;
int g_clock_calls = 0;
uint64_t faulting_clock() {
  if (g_clock_calls++ == 0) {
    g_reentrant_log->enter_panic_mode();
    g_reentrant_log->write(LogLevel::Emergency, "panic: fault in clock");
  }
  return 5000;
}

TEST(Klog, PanicInsideRingCriticalSection) {
  TestLog<4096> t;
  StringSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  g_reentrant_log = &t.log;
  g_clock_calls = 0;
  t.log.set_clock(faulting_clock);
  t.log.write(LogLevel::Info, "outer");
  EXPECT_NE(con.out.find("] panic: fault in clock\n"), std::string::npos);
  EXPECT_NE(con.out.find("] outer\n"), std::string::npos);
  uint64_t seq = 0;
  Read r;
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.text, "panic: fault in clock");
  ASSERT_TRUE(next(t.log, seq, r));
  EXPECT_EQ(r.text, "outer");
  EXPECT_EQ(r.rec.seq, 1u);
}

// A console that faults (and the handler logs) while the console lock is held.
class PanickingSink final : public ktl::Sink {
 public:
  explicit PanickingSink(KernelLog& log) : log_(log) {}
  void write(const char* s, size_t n) override {
    out.append(s, n);
    if (!panicked_) {
      panicked_ = true;
      log_.enter_panic_mode();
      log_.write(LogLevel::Emergency, "panic: console fault");
    }
  }
  std::string out;

 private:
  KernelLog& log_;
  bool panicked_ = false;
};

TEST(Klog, PanicInsideConsoleWrite) {
  TestLog<4096> t;
  PanickingSink con(t.log);
  ASSERT_TRUE(t.log.add_console(&con).ok());
  t.log.write(LogLevel::Info, "trigger");
  EXPECT_NE(con.out.find("] trigger\n"), std::string::npos);
  EXPECT_NE(con.out.find("] panic: console fault\n"), std::string::npos);
}

// Four writers, 10000 records each, with a console attached.
class CountingSink final : public ktl::Sink {
 public:
  void write(const char* s, size_t n) override {
    EXPECT_EQ(inside.fetch_add(1), 0);
    std::string line(s, n);
    unsigned k, i, dropped;
    if (std::sscanf(line.c_str(), "[ klog: %u records dropped ]", &dropped) == 1) {
      this->dropped += dropped;
    } else if (std::sscanf(line.c_str(), "[    0.000000] t%u n%u", &k, &i) == 2 && line.back() == '\n') {
      ++printed;
    } else {
      ADD_FAILURE() << "bad console line: " << line;
    }
    inside.fetch_sub(1);
  }
  std::atomic<int> inside{0};
  uint64_t printed = 0;
  uint64_t dropped = 0;
};

TEST(Klog, ConcurrentWriters) {
  static TestLog<64 * 1024> t;
  CountingSink con;
  ASSERT_TRUE(t.log.add_console(&con).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  static std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([k] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      for (int i = 0; i < kPerThread; ++i) t.log.log(LogLevel::Info, "t{} n{}", k, i);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.log.next_seq(), uint64_t(kThreads * kPerThread));
  // Every record was printed on the console or reported as dropped.
  EXPECT_EQ(con.printed + con.dropped, uint64_t(kThreads * kPerThread));

  // The stored tail is a suffix of the log: contiguous sequence numbers, and
  // per thread consecutive record numbers ending with its last one.
  uint64_t seq = t.log.first_seq();
  uint64_t expect_seq = seq;
  int last[kThreads] = {-1, -1, -1, -1};
  Read r;
  size_t count = 0;
  while (next(t.log, seq, r)) {
    ASSERT_EQ(r.rec.seq, expect_seq++);
    unsigned k, i;
    ASSERT_EQ(std::sscanf(r.text.c_str(), "t%u n%u", &k, &i), 2) << r.text;
    ASSERT_LT(k, unsigned(kThreads));
    EXPECT_EQ(r.text, "t" + std::to_string(k) + " n" + std::to_string(i));
    if (last[k] >= 0) EXPECT_EQ(int(i), last[k] + 1) << r.text;
    last[k] = int(i);
    ++count;
  }
  EXPECT_EQ(expect_seq, uint64_t(kThreads * kPerThread));
  EXPECT_GT(count, 1000u);  // a 64 KiB ring holds well over 1000 of these
  for (int k = 0; k < kThreads; ++k)
    if (last[k] >= 0) EXPECT_EQ(last[k], kPerThread - 1) << k;
  EXPECT_EQ(r.text.substr(r.text.size() - 6), " n" + std::to_string(kPerThread - 1));
}

TEST(Klog, ConcurrentReaderAndWriters) {
  static TestLog<2048> t;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t seq = 0;
    uint64_t prev = 0;
    bool first = true;
    Read r;
    while (!done.load() || seq < t.log.next_seq()) {
      if (!next(t.log, seq, r)) continue;
      if (!first) EXPECT_GT(r.rec.seq, prev);
      first = false;
      prev = r.rec.seq;
      unsigned k, i;
      EXPECT_EQ(std::sscanf(r.text.c_str(), "w%u i%u", &k, &i), 2) << r.text;
    }
  });
  std::vector<std::thread> writers;
  for (int k = 0; k < 3; ++k)
    writers.emplace_back([k] {
      for (int i = 0; i < 5000; ++i) t.log.log(LogLevel::Debug, "w{} i{}", k, i);
    });
  for (auto& w : writers) w.join();
  done.store(true);
  reader.join();
}

TEST(Klog, GlobalLogAndShorthands) {
  KernelLog& log = kernel_log();
  uint64_t before = log.next_seq();
  info("global {}", 1);
  klog::warn("global {}", 2);
  klog::error("global {}", 3);
  debug("global {}", 4);
  notice("global {}", 5);
  EXPECT_EQ(log.next_seq(), before + 5);
  uint64_t seq = before;
  Read r;
  ASSERT_TRUE(next(log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Info);
  EXPECT_EQ(r.text, "global 1");
  ASSERT_TRUE(next(log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Warning);
  ASSERT_TRUE(next(log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Error);
  ASSERT_TRUE(next(log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Debug);
  ASSERT_TRUE(next(log, seq, r));
  EXPECT_EQ(r.rec.level, LogLevel::Notice);
}

}  // namespace
}  // namespace klib
