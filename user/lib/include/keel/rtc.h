// keel/rtc.h — the PC CMOS real-time clock (MC146818 and its descendants):
// reading a consistent snapshot of its registers and decoding it into a
// calendar date and a Unix time. Pure logic, tested on the host; the rtc
// driver (user/drivers/rtc) does the port I/O through a RegisterReader.
//
//   struct Ports final : keel::rtc::RegisterReader { uint8_t read(uint8_t reg) override; };
//   auto raw = keel::rtc::read_consistent(ports);          // waits out updates
//   auto t = keel::rtc::decode(*raw);                       // BCD/binary, 12/24 h
//   uint64_t secs = keel::rtc::unix_seconds(*t);
//
// Registers (MC146818A datasheet; the index is written to port 0x70, the
// value read from 0x71): 0x00 seconds, 0x02 minutes, 0x04 hours, 0x07 day of
// month, 0x08 month, 0x09 year (two digits), 0x0a status A (bit 7: update in
// progress, UIP), 0x0b status B (bit 1: 24-hour mode, bit 2: binary rather
// than BCD). The century is in register 0x32 on PCs (the ACPI FADT's
// "CENTURY" field names it; 0x32 is what every PC firmware and QEMU use).
// In 12-hour mode bit 7 of the hours register is PM and hours run 12, 1..11.
//
// The clock holds local or universal time as the firmware set it; Keel takes
// it as UTC (QEMU's default, `-rtc base=utc`).
//
// Freestanding: no allocation, exceptions, RTTI or libc.
#pragma once

#include <ktl/result.h>

#include <cstddef>
#include <cstdint>

namespace keel::rtc {

inline constexpr uint8_t kRegSeconds = 0x00;
inline constexpr uint8_t kRegMinutes = 0x02;
inline constexpr uint8_t kRegHours = 0x04;
inline constexpr uint8_t kRegDay = 0x07;
inline constexpr uint8_t kRegMonth = 0x08;
inline constexpr uint8_t kRegYear = 0x09;
inline constexpr uint8_t kRegStatusA = 0x0a;
inline constexpr uint8_t kRegStatusB = 0x0b;
inline constexpr uint8_t kRegCentury = 0x32;

inline constexpr uint8_t kStatusAUpdating = 0x80;  // UIP
inline constexpr uint8_t kStatusB24Hour = 0x02;
inline constexpr uint8_t kStatusBBinary = 0x04;
inline constexpr uint8_t kHoursPm = 0x80;  // 12-hour mode only

// The clock's registers as read, undecoded.
struct Raw {
  uint8_t seconds = 0, minutes = 0, hours = 0, day = 0, month = 0, year = 0;
  uint8_t century = 0;  // 0: the clock has no century register (taken as 20xx)
  uint8_t status_b = 0;
  friend constexpr bool operator==(const Raw&, const Raw&) = default;
};

// A calendar date and time of day (UTC), every field in its natural range.
struct DateTime {
  uint32_t year = 1970;  // four digits
  uint8_t month = 1;     // 1..12
  uint8_t day = 1;       // 1..days in the month
  uint8_t hour = 0;      // 0..23
  uint8_t minute = 0;    // 0..59
  uint8_t second = 0;    // 0..59
  friend constexpr bool operator==(const DateTime&, const DateTime&) = default;
};

// Reads one CMOS register (the driver: out 0x70, in 0x71).
class RegisterReader {
 public:
  virtual uint8_t read(uint8_t reg) = 0;

 protected:
  ~RegisterReader() = default;
};

// How many snapshots read_consistent() takes before it gives up.
inline constexpr unsigned kMaxReadAttempts = 16;
// How many status A reads it waits for UIP to clear, per snapshot.
inline constexpr unsigned kMaxUpdateWaits = 100000;

// Reads the time registers so that they belong to one second: waits until no
// update is in progress (UIP clear), reads them all, and repeats until two
// snapshots in a row agree (an update can begin right after UIP was seen
// clear; the second read catches it). Error::TimedOut if UIP never clears or
// no two snapshots agree within kMaxReadAttempts.
ktl::Result<Raw> read_consistent(RegisterReader& regs);

// Decodes a snapshot: BCD or binary (status B bit 2), 12- or 24-hour (status
// B bit 1), the century register when it holds a valid value (19..99), else
// 2000 + the two-digit year. Error::InvalidArgument if a field is not valid
// BCD (in BCD mode) or out of range (month 0 or > 12, day past the month's
// end, hour > 23 or 12-hour value outside 1..12, minutes or seconds > 59).
ktl::Result<DateTime> decode(const Raw& raw);

// True in the Gregorian leap years.
constexpr bool is_leap_year(uint32_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// Days in `month` (1..12) of `year`; 0 for a month out of range.
uint8_t days_in_month(uint32_t year, uint8_t month);

// Seconds since 1970-01-01 00:00:00 UTC (no leap seconds). `t` must be valid
// (as decode() returns) and not before 1970; earlier dates give 0.
uint64_t unix_seconds(const DateTime& t);

// The DateTime of a Unix time (inverse of unix_seconds).
DateTime from_unix_seconds(uint64_t seconds);

// 0 = Sunday .. 6 = Saturday.
uint8_t weekday(const DateTime& t);

// Formats `t` as "2025-01-31 23:59:58 UTC" into buf (NUL-terminated; needs
// kFormatSize bytes). Returns the length without the NUL, or 0 if cap is too
// small.
inline constexpr size_t kFormatSize = 24;
size_t format(const DateTime& t, char* buf, size_t cap);

}  // namespace keel::rtc
