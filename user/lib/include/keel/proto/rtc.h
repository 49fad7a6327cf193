// keel/proto/rtc.h — the protocol of the CMOS real-time clock driver
// (user/drivers/rtc; the decoding is keel/rtc.h).
//
// Methods (label; words; handles → reply label; words; handles):
//   kGetTime  → Ok; Unix seconds (UTC), year, month, day, hour, minute, second (one word each),
//             boot Unix seconds (the clock as read when the driver first started, minus the
//             uptime then) | TimedOut (the clock is updating forever) | BadState (the clock
//             holds an invalid date).
#pragma once

#include <cstdint>

namespace keel::proto::rtc {

inline constexpr uint32_t kGetTime = 1;
inline constexpr uint32_t kGetTimeWords = 8;

}  // namespace keel::proto::rtc
