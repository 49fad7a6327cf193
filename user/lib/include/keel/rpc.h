// keel/rpc.h — the conventions every native Keel protocol follows on top of
// endpoint IPC, and helpers for clients and servers.
//
// A request is an IpcMessage whose tag label is the method number; its words
// and handles are the method's arguments. The reply's label is a keel::Status
// (0 = Ok); its words and handles are the results. Strings travel as a byte
// count in one word followed by the bytes packed little-endian into the next
// words (put_string / get_string). Every receiver validates what it gets:
// counts, lengths, handle counts — a malformed request is answered with
// InvalidArgument, never trusted.
//
// Methods from kMethodPing up are common to all servers: init sends kMethodPing
// as a heartbeat, and a server answers it with Ok (keel::rpc::serve does).
#pragma once

#include <keel/keel.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::rpc {

inline constexpr uint32_t kMethodPing = 0xffff0001;

// A tag for a request or reply with `words` words and `handles` handles.
constexpr uint64_t tag(uint32_t label, uint32_t words, uint32_t handles = 0) {
  return IpcTag::make(label, words, handles, 0);
}
constexpr uint32_t label(const IpcMessage& m) { return IpcTag::label(m.tag); }
constexpr uint32_t words(const IpcMessage& m) { return IpcTag::words(m.tag); }
constexpr uint32_t handles(const IpcMessage& m) { return IpcTag::handles(m.tag); }

// Words needed for a string of at most `max_bytes` bytes (the count word included).
constexpr uint32_t string_words(size_t max_bytes) { return uint32_t(1 + (max_bytes + 7) / 8); }

// Writes `s` at words[at..]: its length, then its bytes. Returns the index of
// the next free word, or 0 if it does not fit in kIpcMaxWords.
uint32_t put_string(IpcMessage& m, uint32_t at, std::string_view s);
// Reads a string written by put_string at words[at..] into `buf` (`cap`
// bytes): the view of the bytes, or false if the count is larger than `cap`
// or the words run past the message's word count. `*next` gets the index of
// the next word.
bool get_string(const IpcMessage& m, uint32_t at, char* buf, size_t cap, std::string_view* out, uint32_t* next);

// ipc_call, folding the syscall's status and the reply's label into one:
// the syscall's error if it failed, else the reply's Status.
Status call(Handle endpoint, IpcMessage& m, Deadline deadline = kDeadlineForever);

// What a handler gets besides the message.
struct Request {
  uint64_t badge;                     // of the caller's handle: who is calling
  Handle received[kIpcMaxHandles];    // handles that came with the request; the
  uint32_t received_count;            //   handler sets an entry to kInvalidHandle to keep it
  void* ctx;                          // serve()'s `ctx`
};

// A request handler: reads the request from `m`, then overwrites `m` with the
// reply (tag, words, handles to send).
using Handler = void (*)(IpcMessage& m, Request& req);

// Serves `endpoint` until receiving fails: receives a request, answers
// kMethodPing itself, passes everything else to `handler`, replies and
// receives the next one in one syscall. Received handles the handler did not
// keep are closed. Returns the Status that ended it.
Status serve(Handle endpoint, Handler handler, void* ctx);

// Tells init this service is ready (keel/proto/init.h, kReady), giving it a
// copy of `endpoint` (write, duplicate, transfer) for heartbeats and for registering
// the service in names. Uses the StartInfo handle "init". Errors: NotFound
// (no "init" handle), those of the copy and of the call.
Status announce_ready(Handle endpoint, Deadline deadline = kDeadlineForever);

// Sets `m` to a reply with `status` and no words.
inline void reply_status(IpcMessage& m, Status status) {
  m.tag = tag(static_cast<uint32_t>(status), 0);
}

}  // namespace keel::rpc
