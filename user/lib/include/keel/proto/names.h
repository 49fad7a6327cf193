// keel/proto/names.h — the protocol of `names`, Keel's service registry.
//
// Every service gets an endpoint to names from init (StartInfo handle
// "names"), badged with the service's id: names knows who is calling. A
// service registers its endpoint under its own name; a client looks a name up
// and gets a copy of that endpoint badged with the client's id, so the
// service, too, knows who is calling. Whether a lookup is allowed is decided
// by the policy file (/etc/policy, keel/policy.h): denials are refused with
// AccessDenied and logged. A restarted service registers again; its clients
// see PeerClosed on the old endpoint, look the name up again and retry.
//
// Methods (label; words; handles → reply label; words; handles):
//   kRegister  name (string, ≤ kNameMax)        ; [endpoint] → Ok | AccessDenied (not the caller's
//              own name) | InvalidArgument. The endpoint needs write, duplicate and transfer.
//              Replaces an earlier registration of the same name.
//   kLookup    name                             ; []         → Ok; [badged endpoint: write, transfer]
//              | NotFound (not registered, yet) | AccessDenied (policy)
// Who each badge is, and what was registered before a restart, names pulls
// from init (keel/proto/init.h, kNamesSync) before it serves.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::proto::names {

inline constexpr uint32_t kRegister = 1;
inline constexpr uint32_t kLookup = 2;

// Longest service name (bytes) and program path.
inline constexpr size_t kNameMax = 31;
inline constexpr size_t kProgramMax = 127;

// The badge of init's own handle to names (services' ids start above it).
inline constexpr uint64_t kInitBadge = 1;

}  // namespace keel::proto::names
