// linux/tty_rings.h — the tty session's two rings, behind plain functions
// (tty_rings.cc says why). One session at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace linux_srv::tty_rings {

// Attaches to the rings the console formatted in the session memory at
// `base` (keel/proto/linux.h's layout). False if they are not valid rings.
bool attach(uint8_t* base);
void detach();
// Queues one output record (at most kMaxRecord bytes); false if it does not fit.
bool write(std::span<const uint8_t> record);
// Takes one input record into `out` (kMaxRecord bytes): its length, or -1 if
// there is none (or the ring is broken).
int64_t read(std::span<uint8_t> out);
// Whether a whole kMaxRecord record fits in the output ring now.
bool room_for_record();

}  // namespace linux_srv::tty_rings
