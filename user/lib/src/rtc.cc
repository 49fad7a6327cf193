// rtc.cc — reading and decoding the CMOS real-time clock (keel/rtc.h).
#include <keel/rtc.h>

namespace keel::rtc {
namespace {

Raw snapshot(RegisterReader& regs) {
  Raw r;
  r.seconds = regs.read(kRegSeconds);
  r.minutes = regs.read(kRegMinutes);
  r.hours = regs.read(kRegHours);
  r.day = regs.read(kRegDay);
  r.month = regs.read(kRegMonth);
  r.year = regs.read(kRegYear);
  r.century = regs.read(kRegCentury);
  r.status_b = regs.read(kRegStatusB);
  return r;
}

bool wait_not_updating(RegisterReader& regs) {
  for (unsigned i = 0; i < kMaxUpdateWaits; ++i)
    if (!(regs.read(kRegStatusA) & kStatusAUpdating)) return true;
  return false;
}

// A BCD byte's value, or -1 if a digit is not 0..9.
int from_bcd(uint8_t v) {
  if ((v & 0x0f) > 9 || (v >> 4) > 9) return -1;
  return (v >> 4) * 10 + (v & 0x0f);
}

int field(uint8_t v, bool binary) { return binary ? int(v) : from_bcd(v); }

// Days from 1970-01-01 to year-month-day (proleptic Gregorian; H. Hinnant's
// days_from_civil, for year >= 1970).
uint64_t days_from_civil(uint32_t y, uint32_t m, uint32_t d) {
  y -= m <= 2;
  const uint64_t era = y / 400;
  const uint64_t yoe = y - era * 400;                         // [0, 399]
  const uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

char* put_digits(char* p, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = char('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

}  // namespace

ktl::Result<Raw> read_consistent(RegisterReader& regs) {
  if (!wait_not_updating(regs)) return ktl::Error::TimedOut;
  Raw last = snapshot(regs);
  for (unsigned attempt = 1; attempt < kMaxReadAttempts; ++attempt) {
    if (!wait_not_updating(regs)) return ktl::Error::TimedOut;
    Raw now = snapshot(regs);
    if (now == last) return now;
    last = now;
  }
  return ktl::Error::TimedOut;
}

uint8_t days_in_month(uint32_t year, uint8_t month) {
  static constexpr uint8_t kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

ktl::Result<DateTime> decode(const Raw& raw) {
  const bool binary = raw.status_b & kStatusBBinary;
  const bool h24 = raw.status_b & kStatusB24Hour;
  const int sec = field(raw.seconds, binary), min = field(raw.minutes, binary);
  const int day = field(raw.day, binary), month = field(raw.month, binary), year = field(raw.year, binary);
  const bool pm = !h24 && (raw.hours & kHoursPm);
  const int hour_field = field(h24 ? raw.hours : uint8_t(raw.hours & ~kHoursPm), binary);
  if (sec < 0 || min < 0 || day < 0 || month < 0 || year < 0 || hour_field < 0) return ktl::Error::InvalidArgument;
  if (sec > 59 || min > 59 || year > 99 || month < 1 || month > 12) return ktl::Error::InvalidArgument;
  int hour = hour_field;
  if (h24) {
    if (hour > 23) return ktl::Error::InvalidArgument;
  } else {
    if (hour < 1 || hour > 12) return ktl::Error::InvalidArgument;
    hour = hour % 12 + (pm ? 12 : 0);  // 12 AM is 0, 12 PM is 12
  }
  // The century register, when the clock has one that holds something sane.
  const int century = raw.century ? field(raw.century, binary) : -1;
  const uint32_t full_year = uint32_t((century >= 19 && century <= 99 ? century : 20) * 100 + year);
  if (day < 1 || day > days_in_month(full_year, uint8_t(month))) return ktl::Error::InvalidArgument;
  DateTime t;
  t.year = full_year;
  t.month = uint8_t(month);
  t.day = uint8_t(day);
  t.hour = uint8_t(hour);
  t.minute = uint8_t(min);
  t.second = uint8_t(sec);
  return t;
}

uint64_t unix_seconds(const DateTime& t) {
  if (t.year < 1970) return 0;
  return days_from_civil(t.year, t.month, t.day) * 86400 + uint64_t(t.hour) * 3600 + uint64_t(t.minute) * 60 +
         t.second;
}

DateTime from_unix_seconds(uint64_t seconds) {
  // H. Hinnant's civil_from_days.
  const uint64_t z = seconds / 86400 + 719468;
  const uint64_t secs = seconds % 86400;
  const uint64_t era = z / 146097;
  const uint64_t doe = z - era * 146097;
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint64_t mp = (5 * doy + 2) / 153;
  DateTime t;
  t.day = uint8_t(doy - (153 * mp + 2) / 5 + 1);
  t.month = uint8_t(mp < 10 ? mp + 3 : mp - 9);
  t.year = uint32_t(yoe + era * 400 + (t.month <= 2));
  t.hour = uint8_t(secs / 3600);
  t.minute = uint8_t(secs / 60 % 60);
  t.second = uint8_t(secs % 60);
  return t;
}

uint8_t weekday(const DateTime& t) {
  // 1970-01-01 was a Thursday (4).
  return uint8_t((days_from_civil(t.year, t.month, t.day) + 4) % 7);
}

size_t format(const DateTime& t, char* buf, size_t cap) {
  if (cap < kFormatSize || t.year > 9999) return 0;
  char* p = put_digits(buf, t.year, 4);
  *p++ = '-';
  p = put_digits(p, t.month, 2);
  *p++ = '-';
  p = put_digits(p, t.day, 2);
  *p++ = ' ';
  p = put_digits(p, t.hour, 2);
  *p++ = ':';
  p = put_digits(p, t.minute, 2);
  *p++ = ':';
  p = put_digits(p, t.second, 2);
  for (char c : {' ', 'U', 'T', 'C'}) *p++ = c;
  *p = 0;
  return size_t(p - buf);
}

}  // namespace keel::rtc
