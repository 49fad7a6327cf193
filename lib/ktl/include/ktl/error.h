// ktl/error.h — the one error enumeration shared by the kernel and native userspace.
//
// Errors are an enum class inside Keel; they become ABI error codes only at the
// syscall boundary (abi/). Add new values at the end: the numeric values are
// stable within one build only, never store them.
#pragma once

namespace ktl {

enum class Error : int {
  None = 0,          // not an error; only used as a sentinel
  NoMemory,          // an allocation failed (frames, heap, quota)
  InvalidArgument,   // a value is outside what the operation accepts
  OutOfRange,        // an offset, index or address is past the end
  Truncated,         // input ended before a structure it announced
  BadChecksum,       // a table or record failed its checksum
  BadMagic,          // a signature or magic number is wrong
  Unsupported,       // well-formed, but a version or feature Keel does not handle
  NotFound,          // a looked-up item does not exist
  AlreadyExists,     // an item with that key exists already
  Busy,              // the resource is in use
  TimedOut,          // a deadline passed
  Overflow,          // arithmetic on sizes or addresses would overflow
  Misaligned,        // an address or size is not aligned as required
  NoSpace,           // a fixed-size container is full
  BadHandle,         // no such handle in the caller's table (or a stale one)
  WrongType,         // the handle names an object of another type
  AccessDenied,      // the handle lacks a right the operation needs
  PeerClosed,        // the other side of an endpoint/channel is gone
  WouldBlock,        // nothing available and the caller asked not to wait
  QuotaExceeded,     // the process's kernel-memory or object quota is used up
  Fault,             // a user pointer is not mapped with the access needed
  BadState,          // the object is not in a state that allows this
  Interrupted,       // a blocking call was cancelled (thread killed or suspended)
  NotADirectory,     // a path component or the target is not a directory
  IsADirectory,      // the target is a directory and the operation needs something else
  NameTooLong,       // a path, one of its names, or its depth passes the bounds
  NotEmpty,          // a directory that must be empty is not
  CrossDevice,       // the operation would cross from one file system to another
};

// Returns a stable, human-readable name for `e` ("NoMemory", ...).
constexpr const char* error_name(Error e) {
  switch (e) {
    case Error::None: return "None";
    case Error::NoMemory: return "NoMemory";
    case Error::InvalidArgument: return "InvalidArgument";
    case Error::OutOfRange: return "OutOfRange";
    case Error::Truncated: return "Truncated";
    case Error::BadChecksum: return "BadChecksum";
    case Error::BadMagic: return "BadMagic";
    case Error::Unsupported: return "Unsupported";
    case Error::NotFound: return "NotFound";
    case Error::AlreadyExists: return "AlreadyExists";
    case Error::Busy: return "Busy";
    case Error::TimedOut: return "TimedOut";
    case Error::Overflow: return "Overflow";
    case Error::Misaligned: return "Misaligned";
    case Error::NoSpace: return "NoSpace";
    case Error::BadHandle: return "BadHandle";
    case Error::WrongType: return "WrongType";
    case Error::AccessDenied: return "AccessDenied";
    case Error::PeerClosed: return "PeerClosed";
    case Error::WouldBlock: return "WouldBlock";
    case Error::QuotaExceeded: return "QuotaExceeded";
    case Error::Fault: return "Fault";
    case Error::BadState: return "BadState";
    case Error::Interrupted: return "Interrupted";
    case Error::NotADirectory: return "NotADirectory";
    case Error::IsADirectory: return "IsADirectory";
    case Error::NameTooLong: return "NameTooLong";
    case Error::NotEmpty: return "NotEmpty";
    case Error::CrossDevice: return "CrossDevice";
  }
  return "Unknown";
}

}  // namespace ktl
