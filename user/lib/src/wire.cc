// wire.cc — the parts of libkeel's message conventions that make no syscall
// (keel/rpc.h's strings, keel::status_from), so that host tests can link
// them: the file-system servers' dispatch (keel/fs_server.h) is tested there.
#include <keel/keel.h>
#include <keel/rpc.h>

namespace keel {

Status status_from(ktl::Error e) {
  switch (e) {
    case ktl::Error::None: return Status::Ok;
    case ktl::Error::NoMemory: return Status::NoMemory;
    case ktl::Error::InvalidArgument: return Status::InvalidArgument;
    case ktl::Error::OutOfRange: return Status::OutOfRange;
    case ktl::Error::Truncated: return Status::Truncated;
    case ktl::Error::BadChecksum: return Status::BadChecksum;
    case ktl::Error::BadMagic: return Status::BadMagic;
    case ktl::Error::Unsupported: return Status::Unsupported;
    case ktl::Error::NotFound: return Status::NotFound;
    case ktl::Error::AlreadyExists: return Status::AlreadyExists;
    case ktl::Error::Busy: return Status::Busy;
    case ktl::Error::TimedOut: return Status::TimedOut;
    case ktl::Error::Overflow: return Status::Overflow;
    case ktl::Error::Misaligned: return Status::Misaligned;
    case ktl::Error::NoSpace: return Status::NoSpace;
    case ktl::Error::BadHandle: return Status::BadHandle;
    case ktl::Error::WrongType: return Status::WrongType;
    case ktl::Error::AccessDenied: return Status::AccessDenied;
    case ktl::Error::PeerClosed: return Status::PeerClosed;
    case ktl::Error::WouldBlock: return Status::WouldBlock;
    case ktl::Error::QuotaExceeded: return Status::QuotaExceeded;
    case ktl::Error::Fault: return Status::Fault;
    case ktl::Error::BadState: return Status::BadState;
    case ktl::Error::Interrupted: return Status::Interrupted;
    case ktl::Error::NotADirectory: return Status::NotADirectory;
    case ktl::Error::IsADirectory: return Status::IsADirectory;
    case ktl::Error::NameTooLong: return Status::NameTooLong;
    case ktl::Error::NotEmpty: return Status::NotEmpty;
    case ktl::Error::CrossDevice: return Status::CrossDevice;
  }
  return Status::InvalidArgument;
}

}  // namespace keel

namespace keel::rpc {

uint32_t put_string(IpcMessage& m, uint32_t at, std::string_view s) {
  const uint32_t need = string_words(s.size());
  if (at > kIpcMaxWords || need > kIpcMaxWords - at) return 0;
  m.words[at] = s.size();
  for (uint32_t w = 1; w < need; ++w) {
    uint64_t v = 0;
    for (uint32_t b = 0; b < 8; ++b) {
      size_t i = size_t(w - 1) * 8 + b;
      if (i < s.size()) v |= uint64_t(uint8_t(s[i])) << (8 * b);
    }
    m.words[at + w] = v;
  }
  return at + need;
}

bool get_string(const IpcMessage& m, uint32_t at, char* buf, size_t cap, std::string_view* out, uint32_t* next) {
  const uint32_t have = words(m);
  if (at >= have) return false;
  const uint64_t len = m.words[at];
  if (len > cap) return false;
  const uint32_t need = string_words(len);
  if (need > have - at) return false;
  for (size_t i = 0; i < len; ++i) buf[i] = char(m.words[at + 1 + i / 8] >> (8 * (i % 8)));
  *out = std::string_view(buf, len);
  if (next) *next = at + need;
  return true;
}

}  // namespace keel::rpc
