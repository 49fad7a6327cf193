// keel/proto/serial.h — the protocol of the serial driver (a 16550 UART).
//
// A client attaches with a MemoryObject holding two rings (keel/ring.h),
// formatted by the client: received bytes at offset 0 (the driver produces),
// bytes to send at offset kTxOffset (the driver consumes), each of
// kRingBytes bytes. Records carry raw bytes. The client waits on its own
// notification, which the driver signals (bit 1) when it has produced
// received bytes or consumed bytes to send that the client waited for; the
// client signals the notification it gets back (bit kTxBit) after writing.
// A new attachment replaces the previous one.
//
// This is Keel's byte stream protocol: the PS/2 keyboard driver (ps2kbd:
// typed bytes in the receive ring; the transmit ring is drained unread) and
// the framebuffer console driver (fbcon: bytes to draw in the transmit ring;
// the receive ring stays empty) speak it too (docs/userspace.md).
//
// Methods (label; words; handles → reply label; words; handles):
//   kAttach  ; [rings MemoryObject (read, write, map), client notification (signal)]
//            → Ok; [driver notification (signal)] | InvalidArgument (not formatted rings)
//   kSize    → Ok; rows, columns (fbcon: its text cells) | Unsupported (serial,
//            ps2kbd: the line cannot tell)
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::proto::serial {

inline constexpr uint32_t kAttach = 1;
inline constexpr uint32_t kSize = 2;

inline constexpr size_t kRingBytes = 8192;        // each ring's region: header + data
inline constexpr uint32_t kRingCapacity = 4096;   // data bytes per ring
inline constexpr size_t kTxOffset = kRingBytes;
inline constexpr size_t kRingsSize = 2 * kRingBytes;
inline constexpr uint64_t kTxBit = 2;             // client → driver: bytes to send
inline constexpr uint64_t kClientBit = 1;         // driver → client

}  // namespace keel::proto::serial
