// rtc_test.cc — host tests for keel/rtc.h: BCD and binary decoding, 12- and
// 24-hour modes, the century register, range checks, Unix time both ways
// (against the host's timegm), and the update-in-progress protocol over a
// simulated clock.
#include <gtest/gtest.h>

#include <keel/rtc.h>

#include <ctime>
#include <string>
#include <vector>

namespace keel::rtc {
namespace {

constexpr uint8_t kBcd24 = kStatusB24Hour;
constexpr uint8_t kBin24 = kStatusB24Hour | kStatusBBinary;

Raw raw(uint8_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s, uint8_t b, uint8_t century = 0) {
  Raw r;
  r.year = y;
  r.month = mo;
  r.day = d;
  r.hours = h;
  r.minutes = mi;
  r.seconds = s;
  r.status_b = b;
  r.century = century;
  return r;
}

TEST(RtcDecode, Bcd24Hour) {
  auto t = decode(raw(0x25, 0x07, 0x31, 0x23, 0x59, 0x58, kBcd24, 0x20));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (DateTime{2025, 7, 31, 23, 59, 58}));
}

TEST(RtcDecode, Binary24Hour) {
  auto t = decode(raw(24, 2, 29, 13, 5, 9, kBin24, 20));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (DateTime{2024, 2, 29, 13, 5, 9}));
}

TEST(RtcDecode, TwelveHourBcd) {
  // 12 AM is midnight, 12 PM noon, PM adds 12.
  auto mid = decode(raw(0x25, 1, 1, 0x12, 0, 0, 0));
  auto noon = decode(raw(0x25, 1, 1, 0x80 | 0x12, 0, 0, 0));
  auto one_am = decode(raw(0x25, 1, 1, 0x01, 0, 0, 0));
  auto eleven_pm = decode(raw(0x25, 1, 1, 0x80 | 0x11, 0, 0, 0));
  ASSERT_TRUE(mid.ok() && noon.ok() && one_am.ok() && eleven_pm.ok());
  EXPECT_EQ(mid->hour, 0);
  EXPECT_EQ(noon->hour, 12);
  EXPECT_EQ(one_am->hour, 1);
  EXPECT_EQ(eleven_pm->hour, 23);
}

TEST(RtcDecode, TwelveHourBinary) {
  auto t = decode(raw(25, 1, 1, 0x80 | 7, 0, 0, kStatusBBinary));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->hour, 19);
  EXPECT_FALSE(decode(raw(25, 1, 1, 0, 0, 0, kStatusBBinary)).ok());       // hour 0 in 12 h mode
  EXPECT_FALSE(decode(raw(25, 1, 1, 0x80 | 13, 0, 0, kStatusBBinary)).ok());
}

TEST(RtcDecode, Century) {
  EXPECT_EQ(decode(raw(0x99, 0x12, 0x31, 0, 0, 0, kBcd24, 0x19))->year, 1999u);
  EXPECT_EQ(decode(raw(0x99, 0x12, 0x31, 0, 0, 0, kBcd24, 0))->year, 2099u);      // no century register
  EXPECT_EQ(decode(raw(0x30, 1, 1, 0, 0, 0, kBcd24, 0xff))->year, 2030u);       // garbage: ignored
  EXPECT_EQ(decode(raw(30, 1, 1, 0, 0, 0, kBin24, 21))->year, 2130u);
}

TEST(RtcDecode, RefusesBadBcdAndRanges) {
  EXPECT_FALSE(decode(raw(0x2a, 1, 1, 0, 0, 0, kBcd24)).ok());   // digit a
  EXPECT_FALSE(decode(raw(0x25, 0x13, 1, 0, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 0x00, 1, 0, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 0x02, 0x29, 0, 0, 0, kBcd24)).ok());  // 2025 is not leap
  EXPECT_TRUE(decode(raw(0x24, 0x02, 0x29, 0, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 0x04, 0x31, 0, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 1, 0, 0, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 1, 1, 0x24, 0, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 1, 1, 0, 0x60, 0, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(0x25, 1, 1, 0, 0, 0x60, kBcd24)).ok());
  EXPECT_FALSE(decode(raw(100, 1, 1, 0, 0, 0, kBin24)).ok());
  EXPECT_FALSE(decode(raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, kBcd24)).ok());  // a missing clock
}

TEST(RtcTime, LeapYears) {
  EXPECT_TRUE(is_leap_year(2000));
  EXPECT_FALSE(is_leap_year(1900));
  EXPECT_TRUE(is_leap_year(2024));
  EXPECT_FALSE(is_leap_year(2025));
  EXPECT_EQ(days_in_month(2024, 2), 29);
  EXPECT_EQ(days_in_month(2100, 2), 28);
  EXPECT_EQ(days_in_month(2025, 13), 0);
}

TEST(RtcTime, UnixSecondsMatchesTimegm) {
  EXPECT_EQ(unix_seconds({1970, 1, 1, 0, 0, 0}), 0u);
  EXPECT_EQ(unix_seconds({2000, 3, 1, 0, 0, 0}), 951868800u);
  // Every day from 1970 to 2110 (and a few times of day), against the C library.
  for (uint64_t day = 0; day < 51500; day += 7) {
    for (uint64_t secs : {uint64_t(0), uint64_t(1), uint64_t(43210), uint64_t(86399)}) {
      const uint64_t s = day * 86400 + secs;
      DateTime t = from_unix_seconds(s);
      ASSERT_EQ(unix_seconds(t), s);
      time_t tt = time_t(s);
      struct tm g;
      gmtime_r(&tt, &g);
      ASSERT_EQ(t.year, uint32_t(g.tm_year + 1900));
      ASSERT_EQ(t.month, g.tm_mon + 1);
      ASSERT_EQ(t.day, g.tm_mday);
      ASSERT_EQ(t.hour, g.tm_hour);
      ASSERT_EQ(t.minute, g.tm_min);
      ASSERT_EQ(t.second, g.tm_sec);
      ASSERT_EQ(weekday(t), g.tm_wday);
    }
  }
}

TEST(RtcTime, Format) {
  char buf[kFormatSize];
  ASSERT_EQ(format({2025, 1, 2, 3, 4, 5}, buf, sizeof buf), 23u);
  EXPECT_EQ(std::string(buf), "2025-01-02 03:04:05 UTC");
  EXPECT_EQ(format({2025, 1, 2, 3, 4, 5}, buf, kFormatSize - 1), 0u);
}

// A clock that advances while being read: registers are a sequence of
// states, each lasting `reads_per_state` register reads; UIP is set in the
// states the test asks for.
class FakeClock final : public RegisterReader {
 public:
  struct State {
    Raw raw;
    bool updating;
  };
  FakeClock(std::vector<State> states, unsigned reads_per_state) : states_(std::move(states)), per_(reads_per_state) {}
  uint8_t read(uint8_t reg) override {
    const State& s = states_[std::min<size_t>(reads_ / per_, states_.size() - 1)];
    ++reads_;
    switch (reg) {
      case kRegSeconds: return s.raw.seconds;
      case kRegMinutes: return s.raw.minutes;
      case kRegHours: return s.raw.hours;
      case kRegDay: return s.raw.day;
      case kRegMonth: return s.raw.month;
      case kRegYear: return s.raw.year;
      case kRegCentury: return s.raw.century;
      case kRegStatusA: return s.updating ? kStatusAUpdating : 0;
      case kRegStatusB: return s.raw.status_b;
    }
    ADD_FAILURE() << "unexpected register " << int(reg);
    return 0;
  }
  unsigned reads() const { return reads_; }

 private:
  std::vector<State> states_;
  unsigned per_;
  unsigned reads_ = 0;
};

TEST(RtcRead, StableClockReadsOnce) {
  Raw a = raw(0x25, 1, 1, 0x10, 0x20, 0x30, kBcd24, 0x20);
  FakeClock clock({{a, false}}, 1000);
  auto r = read_consistent(clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, a);
  EXPECT_EQ(clock.reads(), 2u * 9);  // two snapshots of status A + 8 registers
}

TEST(RtcRead, WaitsOutAnUpdate) {
  Raw a = raw(0x25, 1, 1, 0x10, 0x20, 0x30, kBcd24, 0x20);
  Raw b = raw(0x25, 1, 1, 0x10, 0x20, 0x31, kBcd24, 0x20);
  // Updating for a while, then the new second.
  FakeClock clock({{a, true}, {a, true}, {b, false}}, 3);
  auto r = read_consistent(clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, b);
}

TEST(RtcRead, TornSnapshotIsReadAgain) {
  // The second changes in the middle of the first snapshot (23:59:59 → next
  // day): the torn read never comes out.
  Raw a = raw(0x25, 0x12, 0x31, 0x23, 0x59, 0x59, kBcd24, 0x20);
  Raw b = raw(0x26, 0x01, 0x01, 0x00, 0x00, 0x00, kBcd24, 0x20);
  FakeClock clock({{a, false}, {b, false}}, 4);
  auto r = read_consistent(clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, b);
}

TEST(RtcRead, StuckUpdateTimesOut) {
  FakeClock clock({{raw(0x25, 1, 1, 0, 0, 0, kBcd24), true}}, 1);
  auto r = read_consistent(clock);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ktl::Error::TimedOut);
}

TEST(RtcRead, NeverStableTimesOut) {
  std::vector<FakeClock::State> states;
  for (int i = 0; i < 100; ++i) states.push_back({raw(0x25, 1, 1, 0, 0, uint8_t(i % 60), kBin24), false});
  FakeClock clock(states, 9);  // every snapshot sees a new second
  auto r = read_consistent(clock);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ktl::Error::TimedOut);
}

}  // namespace
}  // namespace keel::rtc
