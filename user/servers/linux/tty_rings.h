// linux/tty_rings.h — the tty session's two rings, behind plain functions
// (tty_rings.cc says why). One pair per tty session: `slot` (0 to
// kMaxSessions - 1) names it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace linux_srv::tty_rings {

inline constexpr int kMaxSessions = 4;

// Attaches slot `slot` to the rings the console formatted in the session
// memory at `base` (keel/proto/linux.h's layout). False if they are not
// valid rings (or `slot` is out of range).
bool attach(int slot, uint8_t* base);
void detach(int slot);
// Queues one output record (at most kMaxRecord bytes); false if it does not fit.
bool write(int slot, std::span<const uint8_t> record);
// Takes one input record into `out` (kMaxRecord bytes): its length, or -1 if
// there is none (or the ring is broken, or the slot is not attached).
int64_t read(int slot, std::span<uint8_t> out);
// Whether a whole kMaxRecord record fits in the output ring now.
bool room_for_record(int slot);

}  // namespace linux_srv::tty_rings
