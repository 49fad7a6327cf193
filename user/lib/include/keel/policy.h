// keel/policy.h — the names policy (/etc/policy): which program may look up
// which service, and which device authority each program may hold. This is
// Keel's mandatory access control on top of capabilities: anything the policy
// does not allow is denied (and the caller logs the denial).
//
//   static keel::policy::Policy p;              // ~14 KiB: not on a small stack
//   keel::ParseError where;
//   if (!keel::policy::parse(text, p, &where)) log("policy line %u: %s", ...);
//   if (!keel::policy::may_lookup(p, "/sbin/shell", "vfs")) deny();
//   if (!keel::policy::may_hold(p, "/sbin/serial", keel::Grant::irq(4))) deny();
//
// Programs are identified by their executable's path, as written in the boot
// manifest's `program` line. Everything is copied into fixed-capacity arrays;
// a Policy holds no pointer into the text. Freestanding.
//
// ## Format (version 1)
//
//   # PROGRAM may look up SERVICE(s); * matches any program
//   lookup /sbin/shell console vfs names
//   lookup * names
//   # device authority a program may hold
//   device /sbin/serial ioports 0x3f8 8
//   device /sbin/serial irq 4
//   device /sbin/devmgr resource
//
// The lexical rules (comments, tokens, NAME, PATH, NUMBER) are those of the
// boot manifest, keel/manifest.h. Lines:
//
//   lookup PROGRAM NAME...   PROGRAM (a PATH, or `*` for every program) may
//                            look up each service NAME. May repeat; rules
//                            accumulate; a repeated pair is stored once.
//   device PATH GRANT        PATH may hold the grant, written as after the
//                            manifest's `grant` keyword (same kinds, ranges and
//                            refusals). No wildcard: device authority is always
//                            given to a named program. A repeated rule is
//                            stored once. `pci VVVV:DDDD` allows the manifest's
//                            `match pci` (being that function's driver).
//
// Queries: may_lookup is true iff a lookup rule names the program, or `*`, and
// the service. may_hold is true iff a device rule for exactly that program
// covers the grant (keel::covers): an ioports/devmem grant lying entirely
// inside one allowed range; irq, resource, modules and pci matching exactly.
// An empty policy denies everything.
//
// ## Refusals
//
// parse() stops at the first problem in line order, returns the ktl::Error
// below and fills the ParseError with the line and the reason string.
//
//   InvalidArgument  NUL byte | non-ASCII byte outside a comment | control character
//                    unknown keyword | trailing garbage | missing program path
//                    missing service name | path too long | path not absolute
//                    bad character in path | path not normalised | name too long
//                    bad character in name | wildcard device rule
//                    and the grant refusals of keel/manifest.h (missing grant kind,
//                    unknown grant kind, missing number, malformed number,
//                    empty port range, empty devmem range)
//   NoSpace          too many programs | too many lookup rules | too many device rules
//   OutOfRange, Misaligned, Overflow   the grant range refusals of keel/manifest.h
#pragma once

#include <keel/grant.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::policy {

inline constexpr size_t kMaxPrograms = 32;      // distinct program paths named
inline constexpr size_t kMaxLookupRules = 256;  // (program, service) pairs
inline constexpr size_t kMaxDeviceRules = 64;   // (program, grant) pairs
inline constexpr uint8_t kAnyProgram = 0xff;    // the `*` of a lookup rule

struct LookupRule {
  uint8_t program = kAnyProgram;          // index into Policy::programs, or kAnyProgram
  char service[kMaxNameLength + 1] = {};  // NUL-terminated NAME
};

struct DeviceRule {
  uint8_t program = 0;  // index into Policy::programs
  Grant grant;          // valid (keel::is_valid)
};

struct Policy {
  char programs[kMaxPrograms][kMaxPathLength + 1] = {};  // NUL-terminated PATHs, unique
  size_t program_count = 0;
  LookupRule lookups[kMaxLookupRules] = {};
  size_t lookup_count = 0;
  DeviceRule devices[kMaxDeviceRules] = {};
  size_t device_count = 0;
};

// Parses `text` (format above) into `out`, replacing its contents. On failure
// returns the error listed above, fills `*error` (if non-null) with the line
// and reason, and leaves `out` empty (denying everything).
ktl::Result<void> parse(std::string_view text, Policy& out, ParseError* error = nullptr);

// True if `program` may look up `service`. Default deny.
bool may_lookup(const Policy& p, std::string_view program, std::string_view service);

// True if `program` may hold `grant` (see the file comment). Default deny;
// an invalid grant (keel::is_valid) is always denied.
bool may_hold(const Policy& p, std::string_view program, const Grant& grant);

}  // namespace keel::policy
