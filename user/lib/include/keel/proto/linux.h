// keel/proto/linux.h — what native services ask the Linux personality
// (/sbin/linux, service "linux"; docs/linux.md): terminal sessions.
//
// The console hands its tty to a Linux program: it makes a MemoryObject of
// kSessionSize bytes holding two rings (keel/ring.h, formatted by the
// console) and a state word, and asks kOpenTty to start PROGRAM with it as
// its controlling terminal (stdin, stdout, stderr: /dev/tty). The server
// runs the line discipline (keel/tty.h) of that tty itself, so that the
// Linux program's TCSETS, ^C for its foreground process group and a read's
// wait all happen where the processes are; the console only moves bytes:
//
//   offset 0              output ring: the server produces (echo and what the
//                         programs wrote, already processed: ONLCR), the
//                         console consumes and sends it to the terminal;
//   offset kInputOffset   input ring: the console produces the bytes the
//                         terminal sent, raw; the server consumes;
//   offset kStateOffset   u32 state (the server writes): kStateOpen, then
//                         kStateHungUp when the session's leader has ended
//                         (u32 at kStateOffset + 4: its wait status).
//
// Records carry raw bytes, at most kMaxRecord each. After writing input the
// console calls kTtyInput (the server never waits on a notification: its
// one thread waits for IPC). The server signals the console's notification
// (bit kClientBit) after it wrote output and when the session hangs up; it
// does not wait for room: output that does not fit waits in the writer's
// write(2) (retried every 50 ms).
//
// Up to four sessions at once, one per console (each its own tty: line
// discipline, session, foreground process group, window size). One of them
// may be the system console (kTtyConsole in word 0's high half: the serial
// console), the tty /dev/console opens. The policy must let the console look
// up "linux".
//
// Methods (label; words; handles → reply label; words; handles):
//   kOpenTty   rows | flags << 32 (kTtyConsole), cols, PROGRAM (string, an
//              absolute path), then ARGV0 (string); [session MemoryObject
//              (read, write, map), client notification (signal)]
//              → Ok; pid | Busy (four sessions are open, or kTtyConsole and
//              the system console's is) | InvalidArgument (bad rings, sizes
//              or flags) | NotFound and the others of execve (the program
//              could not be started: Linux errno in word 0 of an
//              InvalidArgument reply is not given; the log says why).
//   kTtyInput  [pid: kOpenTty's, the session; without it, every session]
//              → Ok (the input ring was drained into the line discipline) |
//              NotFound (no such session).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::proto::linux {

inline constexpr uint32_t kOpenTty = 1;
inline constexpr uint32_t kTtyInput = 2;

inline constexpr size_t kRingBytes = 8192;       // each ring's region: header + data
inline constexpr uint32_t kRingCapacity = 4096;  // data bytes per ring
inline constexpr size_t kInputOffset = kRingBytes;
inline constexpr size_t kStateOffset = 2 * kRingBytes;
inline constexpr size_t kSessionSize = 2 * kRingBytes + 4096;
inline constexpr size_t kMaxRecord = 1024;       // bytes per record, both rings
inline constexpr uint64_t kClientBit = 1;        // server → console: output, or hung up

inline constexpr uint64_t kTtyConsole = 1;       // kOpenTty flag: the system console (/dev/console)

inline constexpr uint32_t kStateOpen = 1;
inline constexpr uint32_t kStateHungUp = 2;

}  // namespace keel::proto::linux
