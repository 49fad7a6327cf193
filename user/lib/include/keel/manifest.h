// keel/manifest.h — the boot manifest (/etc/manifest in the initrd): which
// services init starts, in what order, with what authority, and how it
// restarts them (after MINIX 3's reincarnation server).
//
//   static keel::manifest::Manifest m;          // ~45 KiB: not on a small stack
//   keel::ParseError where;
//   auto r = keel::manifest::parse(text, m, &where);
//   if (!r) log("manifest line %u: %s", where.line, where.reason);
//   auto order = TRY(keel::manifest::start_order(m));
//   for (size_t i = 0; i < order.count; ++i) start(m.services[order.index[i]]);
//
// Everything is copied into fixed-capacity arrays: a Manifest holds no pointer
// into the text. Freestanding: no allocation, exceptions, RTTI or libc.
//
// ## Format (version 1)
//
//   # comment; blank lines ignored; tokens separated by spaces/tabs
//   service names
//       program /sbin/names
//       restart always
//   service serial
//       program /sbin/serial
//       args --baud 115200
//       after names devmgr
//       heartbeat 1000
//       grant ioports 0x3f8 8
//       grant irq 4
//
// Lexical rules (shared with keel/policy.h):
//   - The text is ASCII. Lines end with '\n' (a '\r' right before it is
//     ignored; the last line needs no '\n'). Lines are numbered from 1.
//   - '#' anywhere starts a comment that runs to the end of the line. Inside a
//     comment any byte but NUL is allowed; elsewhere only printable ASCII
//     (0x20..0x7e) and tab. NUL anywhere is refused.
//   - Tokens are separated by runs of spaces and tabs; leading blanks
//     (indentation) are cosmetic. A line without tokens is ignored. There is
//     no quoting: a token cannot contain a blank or '#'.
//   - Keywords are lower case.
//   - NAME: 1..31 bytes of [a-z0-9_-].
//   - PATH: 2..127 bytes of [A-Za-z0-9._+-/], starting with '/', normalised:
//     no empty component ("//", trailing '/'), no "." or ".." component.
//   - NUMBER: decimal digits without a leading zero ("0" itself is fine), or
//     "0x" followed by one or more hex digits (either case). No sign. Each use
//     has a range (below).
//
// Lines:
//   service NAME            Starts a service block; every line up to the next
//                           `service` belongs to it. Names are unique.
//   program PATH            The executable (required, once per service).
//   args ARG...             argv[1..]; may repeat, arguments accumulate. Each
//                           ARG is 1..63 bytes (any token), at most kMaxArgs
//                           in all.
//   after NAME...           Dependencies: started only after these are
//                           running. May repeat; at most kMaxDependencies in
//                           all. Names may refer to services defined later,
//                           must exist, must not repeat, must not be the
//                           service itself, and must not form a cycle.
//   restart POLICY          always | on-failure | never; at most once;
//                           default on-failure.
//   heartbeat MS            Milliseconds between heartbeats, 0..3600000; 0 or
//                           absent = none. At most once.
//   grant KIND [NUMBERS]    Device authority handed to the service; may repeat,
//                           at most kMaxGrants. KIND is one of:
//     ioports BASE COUNT      BASE <= 0xffff, 1 <= COUNT, BASE+COUNT <= 0x10000
//     irq N                   N <= 255 (an ISA IRQ or a GSI)
//     devmem BASE SIZE        BASE and SIZE multiples of 0x1000, SIZE >= 0x1000,
//                             BASE+SIZE <= 2^52 (physical, bytes)
//     resource                the whole device authority (devmgr only), with the
//                             kernel's "acpi-rsdp" record when there is one
//     modules                 the boot modules (the initrd)
//     framebuffer             the boot framebuffer (DeviceMemory) and its
//                             BootFramebuffer record (fbcon only)
//   match pci VVVV:DDDD     The service is the driver of the PCI function with
//                           that vendor and device id (exactly four hex digits
//                           each, either case; vendor not ffff). At most once;
//                           stored as a Grant of kind Pci (counts towards
//                           kMaxGrants), so the policy must allow it (`device
//                           PATH pci VVVV:DDDD`). `grant pci` is refused.
//   match pci VVVV:DDDD intx  The same, with the function's INTx line as its
//                           interrupt even if it has MSI or MSI-X (left
//                           disabled): Service::pci_intx.
//
// Every line must consume all its tokens ("trailing garbage" otherwise).
// A manifest with no services is valid.
//
// ## Refusals
//
// parse() stops at the first problem in line order, returns the ktl::Error
// below and fills the ParseError with the line and the reason string. Missing
// `program` is reported when its block ends, at the `service` line. Unknown
// dependencies and cycles are found only after the whole text is read: an
// unknown one at the `after` line that names it; a cycle at an `after` line
// naming one of its edges (deterministic: following, from the first service
// that cannot be started, its first dependency that cannot be started either,
// the edge that reaches an already visited service).
//
//   InvalidArgument  NUL byte | non-ASCII byte outside a comment | control character
//                    unknown keyword | keyword outside a service | trailing garbage
//                    missing service name | missing program path | missing number
//                    missing program (at the service line) | duplicate program
//                    duplicate restart | duplicate heartbeat | unknown restart policy
//                    missing restart policy
//                    missing args | missing dependency | arg too long
//                    name too long | bad character in name
//                    path too long | path not absolute | bad character in path
//                    path not normalised | malformed number
//                    missing grant kind | unknown grant kind | empty port range
//                    empty devmem range | service depends on itself
//                    duplicate dependency | dependency cycle
//                    missing match kind | unknown match kind | duplicate match
//                    missing pci id | malformed pci id | pci vendor 0xffff
//                    pci is matched, not granted
//   AlreadyExists    duplicate service name
//   NotFound         unknown dependency
//   NoSpace          too many services | too many args | too many dependencies
//                    too many grants
//   OutOfRange       heartbeat out of range | port out of range
//                    port count out of range | port range past 0xffff
//                    irq out of range | devmem base out of range
//                    devmem size out of range | devmem range past 2^52
//   Misaligned       devmem base not page aligned | devmem size not a page multiple
//   Overflow         devmem range overflows
#pragma once

#include <keel/grant.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::manifest {

inline constexpr size_t kMaxServices = 32;
inline constexpr size_t kMaxArgs = 8;          // argv[1..8]
inline constexpr size_t kArgSize = 64;         // bytes per argument, including the NUL
inline constexpr size_t kMaxDependencies = 8;  // `after` names per service
inline constexpr size_t kMaxGrants = 16;       // grants per service
inline constexpr uint32_t kMaxHeartbeatMs = 3600000;

enum class Restart : uint8_t {
  OnFailure,  // restart after a crash or a missed heartbeat, not after exit(0)
  Always,     // restart whenever it stops
  Never,      // log and leave it stopped
};

struct Service {
  char name[kMaxNameLength + 1] = {};     // NUL-terminated, valid NAME
  char program[kMaxPathLength + 1] = {};  // NUL-terminated, valid PATH
  char args[kMaxArgs][kArgSize] = {};     // argv[1..arg_count], NUL-terminated
  size_t arg_count = 0;
  // Dependencies in the order written: names and their indices in
  // Manifest::services (indices filled in once the whole text is read).
  char after[kMaxDependencies][kMaxNameLength + 1] = {};
  uint8_t after_index[kMaxDependencies] = {};
  uint32_t after_line[kMaxDependencies] = {};  // where each was named, for messages
  size_t after_count = 0;
  Grant grants[kMaxGrants] = {};
  size_t grant_count = 0;
  Restart restart = Restart::OnFailure;
  uint32_t heartbeat_ms = 0;  // 0: no heartbeat
  uint32_t line = 0;          // the `service` line, for messages
  bool pci_intx = false;      // `match pci ... intx`: INTx even where MSI/MSI-X exist
};

struct Manifest {
  Service services[kMaxServices] = {};  // in manifest order
  size_t count = 0;
};

// Services in an order where each comes after all its dependencies.
struct StartOrder {
  uint8_t index[kMaxServices] = {};  // indices into Manifest::services
  size_t count = 0;
};

// Parses `text` (format above) into `out`, replacing its contents. On failure
// returns the error listed above, fills `*error` (if non-null) with the line
// and reason, and leaves `out` empty (count 0). `out` is about 45 KiB.
ktl::Result<void> parse(std::string_view text, Manifest& out, ParseError* error = nullptr);

// A stable topological order: at each step, the first service in manifest
// order whose dependencies are all already placed. Independent services keep
// their manifest order. Cannot fail for a manifest parse() accepted; for one
// built by hand: InvalidArgument on a cycle, a dependency index out of range,
// or count > kMaxServices.
ktl::Result<StartOrder> start_order(const Manifest& m);

// The service called `name`, or null.
const Service* find(const Manifest& m, std::string_view name);

}  // namespace keel::manifest
