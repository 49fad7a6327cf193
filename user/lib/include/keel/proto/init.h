// keel/proto/init.h — what services and tools ask init, the root task and
// supervisor.
//
// Every service gets an endpoint to init (StartInfo handle "init") badged
// with its id.
//
// Methods (label; words; handles → reply label; words; handles):
//   kReady      ; [endpoint]          → Ok. The service is up; `endpoint` (a copy of the one it
//               serves) is where init sends heartbeats (keel::rpc::kMethodPing) if the manifest
//               asks for them. Services that depend on it are started after this.
//   kServiceInfo  index               → Ok; name, program (strings), then pid, state, restarts,
//               last exit code, uptime ns, threads, kernel memory charged (bytes) (one word each)
//               | OutOfRange past the last service.
//   kKill       name                  → Ok | NotFound | AccessDenied. Kills the service's process
//               (init restarts it per its policy). Needs the policy to allow looking up "init".
//   kPowerOff   reboot (0 or 1)       → does not return on success | AccessDenied. Same permission.
//   kNamesSync  index                 → Ok; badge, name, program (strings); [its endpoint if it is
//               running] | OutOfRange past the last service | AccessDenied (not names). What names
//               pulls, service by service, when it (re)starts, before it serves anyone.
//   kProcessNext after_id             → Ok; id, parent id, threads, exited (0/1), exit code, kernel
//               memory charged (bytes), then the name (string): the process with the smallest id
//               above `after_id` | OutOfRange (none) | AccessDenied. Same permission. For ps.
//   kLogRead    seq                   → Ok; next seq, one kernel log line (string, ≤ kLogLineMax
//               bytes, as the console prints it) | WouldBlock (no more yet) | AccessDenied. Same
//               permission (the log shows kernel addresses).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::proto::init {

inline constexpr uint32_t kReady = 1;
inline constexpr uint32_t kServiceInfo = 2;
inline constexpr uint32_t kKill = 3;
inline constexpr uint32_t kPowerOff = 4;
inline constexpr uint32_t kLogRead = 5;
inline constexpr uint32_t kNamesSync = 6;
inline constexpr uint32_t kProcessNext = 7;
inline constexpr size_t kLogLineMax = 480;

// Service states in kServiceInfo.
enum class State : uint64_t {
  Waiting = 0,   // for its dependencies
  Starting = 1,  // spawned, not ready yet
  Running = 2,   // ready
  Backoff = 3,   // exited; restarts after a delay
  Stopped = 4,   // exited; not restarted (restart never / on-failure after success)
  Failed = 5,    // could not be started (bad program, ...)
};

inline const char* state_name(State s) {
  switch (s) {
    case State::Waiting: return "waiting";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Backoff: return "backoff";
    case State::Stopped: return "stopped";
    case State::Failed: return "failed";
  }
  return "?";
}

}  // namespace keel::proto::init
