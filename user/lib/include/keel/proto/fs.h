// keel/proto/fs.h — the file-system protocol: clients to `vfs`, and `vfs` to
// the file-system servers behind it (initrdfs, tmpfs). docs/userspace.md has
// the tables; keel/fs.h is the client library.
//
// Clients look `vfs` up in names (the policy must allow it) and get an
// endpoint badged with their service id: the badge is who they are. Open
// files are *file ids* (fids) chosen by the server, valid only with the badge
// that opened them: a client cannot use another client's fids. A client opens
// at most kOpenMax files on each file system at once; kForget closes all of
// its files (keel/fs.h sends it on its first connection, so that the files of
// an earlier instance of the same service are not kept).
//
// vfs keeps no per-file state: a vfs fid is (mount index << kMountShift) |
// the fs server's fid, so a restart of vfs loses no open file. A restart of an
// fs server loses what it held (tmpfs: its files); its old fids are BadHandle.
//
// ## Messages (keel/rpc.h conventions: label = method, reply label = Status)
//
// Every request has the same layout, and so has every reply:
//   request  words[0] fid   words[1] a   words[2] b   words[3] client
//            words[4..] string s1 (a path, or the bytes to write), then
//            string s2 (the second path of kRename)
//   reply    words[0..3] results   words[4..] a string (read bytes, a name)
// Clients send client = 0; vfs sets it to the caller's badge when it forwards
// a request, so an fs server knows whose fid it is. vfs also rewrites paths
// to be relative to the mount's root ("/tmp/a" reaches the /tmp server as
// "/a") and takes the mount bits out of fids.
//
//   method     request                         reply words (r0..r3; string)
//   kOpen      a flags, b mode; s1 path        r0 fid, r1 type, r2 size
//   kClose     fid                             —
//   kRead      fid, a count (≤ kIoMax)         r0 bytes read (0: end of file); string: the bytes
//   kWrite     fid; s1 bytes (≤ kIoMax)        r0 bytes written (all of them)
//   kSeek      fid, a whence, b offset (i64)   r0 new offset
//   kStat      s1 path                         r0 type, r1 size, r2 mode, r3 mount index,
//                                              r4 inode, r5 links, r6 atime, r7 mtime, r8 ctime
//   kFstat     fid                             as kStat
//   kReadDir   fid (a directory), a cookie     r0 next cookie, r1 type, r2 size, r3 inode
//                                              (as kStat's; 0 for a mount point); string: name
//                                              · OutOfRange after the last entry
//   kMkdir     a mode; s1 path                 —
//   kRmdir     s1 path                         —
//   kUnlink    s1 path                         —
//   kRename    s1 from, s2 to                  —
//   kTruncate  a size; s1 path                 —
//   kForget    —                               — (every file of the caller is closed)
//   kReadShared   fid, a count (1..kSharedMax); handles [MemoryObject]
//                                              r0 bytes read (0: end of file), into the
//                                              MemoryObject from its offset 0
//   kWriteShared  fid, a count (1..kSharedMax); handles [MemoryObject]
//                                              r0 bytes written (all of them), from offset 0
//   kSymlink   s1 path, s2 target              — (a symbolic link at path holding target)
//   kLink      s1 existing, s2 new             — (a second name for a file: a hard link)
//   kChmod     a mode; s1 path                 — (the permission bits, kModeMask)
//   kSetTimes  a atime, b mtime; s1 path       — (each a time, kTimeNow or kTimeOmit)
//   kMknod     a type (kTypeFifo), b mode; s1 path  — (a named pipe: only a node)
//   kFchmod    fid, a mode                     — (kChmod of an open file, named or not)
//   kFsetTimes fid, a atime, b mtime           — (kSetTimes of an open file)
//   kFtruncate fid, a size                     — (kTruncate of a file open for writing,
//                                                whatever its mode; AccessDenied otherwise)
//   kStatfs    s1 path (must exist)            r0 block size (bytes), r1 blocks, r2 free
//                                              blocks, r3 nodes, r4 free nodes, r5 kFs* flags
//                                              (the file system that holds path)
//   kFstatfs   fid                             as kStatfs (the open file's file system)
//   kImage     s1 path                         r0 type (kTypeFile), r1 size, r2 mode, r3 inode;
//                                              handles [MemoryObject]: the file's bytes
//                                              from offset 0, read-only
//   kChannel   a mount index                   r0 the index, r1 1 if a handle comes, r2 the
//                                              server's Status if not; string: the mount
//                                              point; handles [endpoint] · OutOfRange
//                                              past the table
//
// kChannel gives a client a direct channel to the server of a mount, so that
// its requests for that mount need not pass through vfs: vfs forwards it
// (with the client's badge in words[3]) and the server answers with a handle
// to its own endpoint, minted (write, transfer) with the badge kDirectBadge |
// client. A server takes the client of a request with that bit from the
// badge (words[3] is ignored), so a channel can only act for the client it
// was made for, and the fids are the same whichever way a request comes. On
// a channel the paths are the mount-relative ones vfs would send and fids are
// the server's (bits 0..23); the client does what vfs would do (the longest
// matching mount point, kStat's r3, the fid's mount bits and, for a
// directory, its child mounts), which is why the reply names the mount
// point: a client asks for every index up to OutOfRange and so knows the
// whole table. keel/fs.h uses channels for kOpen, kClose, kStat and kFstat
// when the program asks for them (keel::fs::use_channels); its kClose goes
// one way (a send, no reply) when the server is waiting for a request. A server that
// died leaves its channels unanswered (TimedOut) or PeerClosed: the client
// drops the channel and goes through vfs (which finds the new server).
//
// kStatfs/kFstatfs describe the whole file system: its size in blocks of
// r0 bytes (a server without a bound gives what it could hold; blocks ≥
// free blocks), its nodes (files, directories, links) and how many more it
// could make, and flags: kFsReadOnly (every method that would change it is
// AccessDenied), kFsMemory (its data lives in the server's memory: tmpfs,
// the initrd). The Linux personality turns them into statfs(2).
//
// kStat's r4..r8: the inode number (0: the server has none; the same for
// every name of one file, hard links included), the number of names (links;
// 0 for an open file whose last name is gone; 0: the server does not count),
// and the access, modification and status-change times (below). A server
// that sends fewer words leaves the rest 0.
//
// Times are signed nanoseconds of the system's monotonic clock
// (keel::now_ns()): 0 is boot, an earlier time is negative. A server sets a
// file's mtime and ctime when it is written or truncated and its ctime at
// kChmod, kLink and kSetTimes; a file that was never touched has time 0. A
// client with a wall clock (the Linux personality) converts them.
//
// kSymlink's target is stored as given (1..kPathMax bytes, no NUL, not
// normalised, need not exist); kStat of the link shows kTypeSymlink with the
// target's length as its size, and its target is read by kOpen with
// kFlagLink (then kRead). Servers do not follow symbolic links: a kOpen of
// one without kFlagLink is Unsupported and a path through one NotFound or
// NotADirectory; the client follows them (the Linux personality does).
// kLink's two paths must be on one mount (else CrossDevice); the existing one
// must not be a directory (IsADirectory) and the new one must not exist
// (AlreadyExists). A kMknod node (kTypeFifo) holds no data: kOpen gives a
// fid for kFstat and kClose only (kRead and kWrite are BadState); the data of
// a named pipe goes through the client that opened it.
//
// kReadShared and kWriteShared move bulk data through shared memory instead
// of the message: the MemoryObject (at least `count` bytes; read, map and
// transfer rights, and write for kReadShared) moves with the request — vfs
// passes it on to the fs server, which maps it for the one request — so a
// client sends a duplicate of its own. keel/fs.h uses them for reads and
// writes of more than kSharedThreshold bytes. They are not retried by vfs
// (the handle went with the first try).
//
// kImage gives a regular file's contents as a MemoryObject, for loading
// programs (the Linux personality's execve maps it instead of reading the
// file): the object holds the file's bytes from offset 0 and zeros after
// them to the end of the last page (its size: the file's rounded up to
// 4 KiB, at least one page); its handle has read, map, execute, duplicate and
// transfer rights, not write, so that the receiver maps it read-only or
// clones it (vmo_clone: copy-on-write) for private writable copies. It is a
// snapshot: whether later writes to the file show in it is the server's
// choice (initrdfs files never change; tmpfs makes a new object per request).
// Errors as kOpen for reading (NotFound, NotADirectory, AccessDenied without
// 0400); IsADirectory for a directory, Unsupported for a symbolic link or a
// FIFO, or from a server without the method (the client then reads the file);
// NoSpace or NoMemory if the object cannot be made. vfs passes the handle on.
//
// Offsets are kept per open file by the fs server: kRead and kWrite move
// them; kAppend files write at the end. Readdir's cookie starts at 0; each
// reply gives the next one; entries are in name order, "." and ".." omitted.
//
// ## Errors (the reply label)
//   NotFound       no such file or directory (or a missing parent)
//   AlreadyExists  kCreate|kExclusive, kMkdir, kSymlink, kLink or kMknod onto
//                  something that exists
//   NotADirectory  a path component is a file; kReadDir on a file; kRmdir of a file
//   IsADirectory   kRead/kWrite/kTruncate/kUnlink of a directory, kOpen of one for writing,
//                  kLink of a directory
//   BadState       kRead/kWrite of a kTypeFifo node
//   Unsupported    kOpen of a symbolic link without kFlagLink; a method the
//                  server does not have
//   NoSpace        the file system's byte quota (tmpfs) or table is full;
//                  more than kOpenMax files open
//   NameTooLong    past kPathMax, kNameMax or kDepthMax (keel/path.h)
//   AccessDenied   the mode bits do not allow it; writing to a read-only file
//                  system (initrdfs: every method that would change it)
//   NotEmpty       kRmdir of a non-empty directory; kRename onto one
//   CrossDevice    kRename from one mount to another
//   Busy           kRmdir, kRename of a mount point or of a root
//   BadHandle      a fid that is not open for this client
//   InvalidArgument a malformed request: a relative path, bad flags, a string
//                  past the message, a rename of a directory into itself,
//                  a seek before 0, a count past kIoMax; handles with any
//                  method but the shared ones, which need exactly one: a
//                  MemoryObject smaller than the count, a count of 0 or past
//                  kSharedMax
//   PeerClosed/TimedOut  (from vfs) the fs server did not answer twice
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::proto::fs {

inline constexpr uint32_t kOpen = 1;
inline constexpr uint32_t kClose = 2;
inline constexpr uint32_t kRead = 3;
inline constexpr uint32_t kWrite = 4;
inline constexpr uint32_t kSeek = 5;
inline constexpr uint32_t kStat = 6;
inline constexpr uint32_t kFstat = 7;
inline constexpr uint32_t kReadDir = 8;
inline constexpr uint32_t kMkdir = 9;
inline constexpr uint32_t kRmdir = 10;
inline constexpr uint32_t kUnlink = 11;
inline constexpr uint32_t kRename = 12;
inline constexpr uint32_t kTruncate = 13;
inline constexpr uint32_t kForget = 14;
inline constexpr uint32_t kReadShared = 15;
inline constexpr uint32_t kWriteShared = 16;
inline constexpr uint32_t kSymlink = 17;
inline constexpr uint32_t kLink = 18;
inline constexpr uint32_t kChmod = 19;
inline constexpr uint32_t kSetTimes = 20;
inline constexpr uint32_t kMknod = 21;
inline constexpr uint32_t kFchmod = 22;
inline constexpr uint32_t kFsetTimes = 23;
inline constexpr uint32_t kFtruncate = 24;
inline constexpr uint32_t kStatfs = 25;
inline constexpr uint32_t kFstatfs = 26;
inline constexpr uint32_t kImage = 27;
inline constexpr uint32_t kChannel = 28;
inline constexpr uint32_t kMethodLast = kChannel;

// The badge bit of a direct channel (kChannel): a server that sees it on a
// request takes the client from the badge's other bits, not from words[3].
inline constexpr uint64_t kDirectBadge = uint64_t(1) << 63;

// Word indices of the common layout.
inline constexpr uint32_t kWordFid = 0;
inline constexpr uint32_t kWordA = 1;
inline constexpr uint32_t kWordB = 2;
inline constexpr uint32_t kWordClient = 3;
inline constexpr uint32_t kWordString = 4;

// kOpen flags (a).
inline constexpr uint64_t kFlagRead = 0x1;
inline constexpr uint64_t kFlagWrite = 0x2;
inline constexpr uint64_t kFlagCreate = 0x4;     // create a file if there is none
inline constexpr uint64_t kFlagExclusive = 0x8;  // with kFlagCreate: AlreadyExists if there is one
inline constexpr uint64_t kFlagTruncate = 0x10;  // with kFlagWrite: size 0
inline constexpr uint64_t kFlagAppend = 0x20;    // every write goes to the end
inline constexpr uint64_t kFlagDirectory = 0x40; // must be a directory (NotADirectory otherwise)
// Open the symbolic link itself, read-only: read() returns its target
// (readlink(2)). Refused on anything else with InvalidArgument, so a client
// asks kStat first and sets it only on a kTypeSymlink.
inline constexpr uint64_t kFlagLink = 0x80;
inline constexpr uint64_t kFlagsAll = 0xff;

// kSeek whence (a).
inline constexpr uint64_t kSeekSet = 0;
inline constexpr uint64_t kSeekCurrent = 1;
inline constexpr uint64_t kSeekEnd = 2;

// Types (kOpen r1, kStat r0, kReadDir r1).
inline constexpr uint64_t kTypeFile = 1;
inline constexpr uint64_t kTypeDirectory = 2;
inline constexpr uint64_t kTypeSymlink = 3;  // shown, not followed by the servers
inline constexpr uint64_t kTypeFifo = 4;     // a named pipe (kMknod)

// kSetTimes: the time a server's clock reads now, or the time left as it is.
inline constexpr uint64_t kTimeNow = ~uint64_t(0) - 1;
inline constexpr uint64_t kTimeOmit = ~uint64_t(0);

// kStat/kFstat reply words (r4..r8 follow the common four).
inline constexpr uint32_t kStatWords = 9;

// kStatfs/kFstatfs: reply words (r0..r5) and r5's flags.
inline constexpr uint32_t kStatfsWords = 6;
inline constexpr uint64_t kFsReadOnly = 0x1;
inline constexpr uint64_t kFsMemory = 0x2;

// Mode: permission bits 0777; the owner's are the ones checked (0400 read,
// 0200 write; on a directory 0200 allows creating and removing entries).
inline constexpr uint64_t kModeMask = 0777;

// Bounds (keel/path.h has the rules).
inline constexpr size_t kPathMax = 192;  // bytes
inline constexpr size_t kNameMax = 60;   // bytes of one component
inline constexpr size_t kDepthMax = 16;  // components
inline constexpr size_t kIoMax = 448;    // bytes of one kRead or kWrite
inline constexpr size_t kOpenMax = 32;   // open files per client per file system
inline constexpr size_t kSharedMax = 1 << 20;       // bytes of one kReadShared or kWriteShared
inline constexpr size_t kSharedThreshold = 1024;    // keel/fs.h: larger reads and writes go shared

// vfs fids: the mount index above the fs server's fid.
inline constexpr unsigned kMountShift = 24;
inline constexpr uint64_t kServerFidMask = (uint64_t(1) << kMountShift) - 1;
inline constexpr size_t kMountsMax = 8;

}  // namespace keel::proto::fs
