// initrdfs.cc — initrdfs.h.
#include "initrdfs.h"

#include <new>

namespace keel::initrdfs {

namespace fsp = keel::proto::fs;
using ktl::Error;

namespace {

// "a/b/c" → "a/b"; "a" → "" (the root).
std::string_view parent_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view last_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// True if "/" + name is already normalised (keel/path.h) and within bounds;
// else the error.
ktl::Result<void> check_name(std::string_view name) {
  if (name.size() + 1 > keel::path::kPathMax) return Error::NameTooLong;
  char in[keel::path::kPathMax], out[keel::path::kPathMax];
  in[0] = '/';
  for (size_t i = 0; i < name.size(); ++i) in[i + 1] = name[i];
  auto n = keel::path::normalize({in, name.size() + 1}, out);
  if (!n.ok()) return n.error();
  if (*n != std::string_view(in, name.size() + 1)) return Error::InvalidArgument;
  return ktl::ok();
}

bool may_read(uint64_t mode) { return (mode & 0400) != 0; }

}  // namespace

ktl::Result<Initrdfs*> Initrdfs::create(keel::cpio::Bytes archive) {
  Initrdfs* fs = new (std::nothrow) Initrdfs;
  if (fs == nullptr) return Error::NoMemory;
  if (auto r = fs->build(archive); !r.ok()) {
    delete fs;
    return r.error();
  }
  return fs;
}

Initrdfs::~Initrdfs() { delete[] nodes_; }

ktl::Result<size_t> Initrdfs::add(std::string_view path, uint64_t type, uint64_t mode, keel::cpio::Bytes data,
                                  bool replace) {
  for (size_t i = 0; i < count_; ++i) {
    if (nodes_[i].path != path) continue;
    if (replace) {
      nodes_[i].type = type;
      nodes_[i].mode = mode;
      nodes_[i].data = data;
    }
    return i;
  }
  if (count_ == kMaxNodes) return Error::NoSpace;
  Node& n = nodes_[count_];
  n.path = path;
  n.name = last_of(path);
  n.type = type;
  n.mode = mode;
  n.data = data;
  return count_++;
}

ktl::Result<void> Initrdfs::build(keel::cpio::Bytes archive) {
  const size_t entries = TRY(keel::cpio::Reader::validate(archive));
  if (entries > kMaxNodes) return Error::NoSpace;
  nodes_ = new (std::nothrow) Node[kMaxNodes];
  if (nodes_ == nullptr) return Error::NoMemory;
  TRY(add("", fsp::kTypeDirectory, 0555, {}, false));  // the root, whether the archive has "." or not

  keel::cpio::Reader reader(archive);
  keel::cpio::Entry e;
  while (TRY(reader.next(&e))) {
    uint64_t type;
    keel::cpio::Bytes data = e.data;
    if (e.is_directory()) {
      type = fsp::kTypeDirectory;
    } else if (e.is_symlink()) {
      type = fsp::kTypeSymlink;
    } else if (e.is_regular()) {
      type = fsp::kTypeFile;
      if (e.nlink > 1 && data.empty()) data = TRY(keel::cpio::find(archive, e.name)).data;  // a hard link's twin
    } else {
      continue;  // devices, FIFOs, sockets
    }
    if (e.name.empty()) {  // "."
      if (type != fsp::kTypeDirectory) return Error::InvalidArgument;
      nodes_[0].mode = e.permissions() & fsp::kModeMask;
      continue;
    }
    TRY(check_name(e.name));
    TRY(add(e.name, type, e.permissions() & fsp::kModeMask, data, true));
  }

  // Parents the archive does not list (new ones are checked in turn, so a
  // whole missing chain is made). Every parent must be a directory.
  for (size_t i = 1; i < count_; ++i) {
    const size_t p = TRY(add(parent_of(nodes_[i].path), fsp::kTypeDirectory, 0555, {}, false));
    if (nodes_[p].type != fsp::kTypeDirectory) return Error::InvalidArgument;
  }

  // Sort everything but the root by (parent, name): a directory's entries
  // are then contiguous and in name order. (Insertion sort: the initrd is small.)
  auto before = [](const Node& x, const Node& y) {
    const std::string_view px = parent_of(x.path), py = parent_of(y.path);
    return px != py ? px < py : x.name < y.name;
  };
  for (size_t i = 2; i < count_; ++i) {
    Node n = nodes_[i];
    size_t j = i;
    while (j > 1 && before(n, nodes_[j - 1])) {
      nodes_[j] = nodes_[j - 1];
      --j;
    }
    nodes_[j] = n;
  }
  for (size_t i = 1; i < count_;) {
    const std::string_view parent = parent_of(nodes_[i].path);
    size_t end = i;
    while (end < count_ && parent_of(nodes_[end].path) == parent) ++end;
    for (size_t d = 0; d < count_; ++d) {
      if (nodes_[d].path == parent) {
        nodes_[d].first_child = i;
        nodes_[d].children = end - i;
        break;
      }
    }
    i = end;
  }
  return ktl::ok();
}

const Initrdfs::Node* Initrdfs::lookup(std::string_view path) const {
  if (path.empty() || path[0] != '/') return nullptr;
  path.remove_prefix(1);
  for (size_t i = 0; i < count_; ++i)
    if (nodes_[i].path == path) return &nodes_[i];
  return nullptr;
}

ktl::Result<const Initrdfs::Node*> Initrdfs::find(std::string_view path) const {
  if (const Node* n = lookup(path)) return n;
  // Missing: NotADirectory if some ancestor is not a directory.
  for (std::string_view p = path; p.size() > 1;) {
    const size_t slash = p.rfind('/');
    p = slash == 0 ? std::string_view("/") : p.substr(0, slash);
    const Node* a = lookup(p);
    if (a != nullptr) return a->type == fsp::kTypeDirectory ? Error::NotFound : Error::NotADirectory;
  }
  return Error::NotFound;
}

keel::fs::Stat Initrdfs::stat_of(const Node& n) const {
  keel::fs::Stat s;
  s.type = n.type;
  s.size = n.type == fsp::kTypeDirectory ? n.children : n.data.size();
  s.mode = n.mode;
  s.inode = uint64_t(&n - nodes_) + 1;  // (the table's order: stable for one archive)
  s.links = n.type == fsp::kTypeDirectory ? 2 : 1;
  return s;  // (times 0: boot)
}

ktl::Result<uint32_t> Initrdfs::open(uint64_t client, std::string_view path, uint64_t flags, uint64_t) {
  if ((flags & ~fsp::kFlagsAll) != 0 || (flags & (fsp::kFlagRead | fsp::kFlagWrite)) == 0)
    return Error::InvalidArgument;
  auto found = find(path);
  if (!found.ok()) {
    if (found.error() == Error::NotFound && (flags & fsp::kFlagCreate) && !(flags & fsp::kFlagDirectory))
      return Error::AccessDenied;  // read-only
    return found.error();
  }
  const Node& n = **found;
  if ((flags & fsp::kFlagCreate) && (flags & fsp::kFlagExclusive)) return Error::AlreadyExists;
  const bool writing = (flags & fsp::kFlagWrite) != 0;
  if (n.type == fsp::kTypeDirectory && writing) return Error::IsADirectory;
  if (n.type != fsp::kTypeDirectory && (flags & fsp::kFlagDirectory)) return Error::NotADirectory;
  if ((flags & fsp::kFlagLink) && n.type != fsp::kTypeSymlink) return Error::InvalidArgument;
  if (n.type == fsp::kTypeSymlink && !(flags & fsp::kFlagLink)) return Error::Unsupported;
  if (writing) return Error::AccessDenied;
  if (!may_read(n.mode)) return Error::AccessDenied;
  auto* f = TRY(files_.add(client, uint32_t(&n - nodes_), flags));
  return f->fid;
}

ktl::Result<Initrdfs::FileBytes> Initrdfs::file(std::string_view path) const {
  const Node& n = *TRY(find(path));
  if (n.type == fsp::kTypeDirectory) return Error::IsADirectory;
  if (n.type != fsp::kTypeFile) return Error::Unsupported;
  if (!may_read(n.mode)) return Error::AccessDenied;
  return FileBytes{size_t(&n - nodes_), stat_of(n), n.data};
}

ktl::Result<void> Initrdfs::close(uint64_t client, uint32_t fid) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  files_.remove(f);
  return ktl::ok();
}

ktl::Result<size_t> Initrdfs::read(uint64_t client, uint32_t fid, std::span<uint8_t> out) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  const Node& n = nodes_[f->node];
  if (n.type == fsp::kTypeDirectory) return Error::IsADirectory;
  if (f->offset >= n.data.size()) return size_t(0);
  const uint64_t left = n.data.size() - f->offset;
  const size_t count = out.size() < left ? out.size() : size_t(left);
  for (size_t i = 0; i < count; ++i) out[i] = n.data[f->offset + i];
  f->offset += count;
  return count;
}

ktl::Result<size_t> Initrdfs::write(uint64_t client, uint32_t fid, std::span<const uint8_t>) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  if (nodes_[f->node].type == fsp::kTypeDirectory) return Error::IsADirectory;
  return Error::AccessDenied;  // (no file is ever open for writing)
}

ktl::Result<uint64_t> Initrdfs::seek(uint64_t client, uint32_t fid, uint64_t whence, int64_t offset) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  int64_t base;
  switch (whence) {
    case fsp::kSeekSet: base = 0; break;
    case fsp::kSeekCurrent: base = int64_t(f->offset); break;
    case fsp::kSeekEnd: base = int64_t(nodes_[f->node].data.size()); break;
    default: return Error::InvalidArgument;
  }
  int64_t pos;
  if (__builtin_add_overflow(base, offset, &pos)) return Error::Overflow;
  if (pos < 0) return Error::InvalidArgument;
  f->offset = uint64_t(pos);
  return f->offset;
}

ktl::Result<keel::fs::FsInfo> Initrdfs::fs_info() {
  keel::fs::FsInfo info;
  uint64_t bytes = 0;
  for (size_t i = 0; i < count_; ++i)
    if (nodes_[i].type == fsp::kTypeFile) bytes += (nodes_[i].data.size() + info.block_size - 1) / info.block_size;
  info.blocks = bytes;
  info.nodes = count_;
  info.flags = fsp::kFsReadOnly | fsp::kFsMemory;
  return info;
}

ktl::Result<keel::fs::Stat> Initrdfs::stat(std::string_view path) { return stat_of(*TRY(find(path))); }

ktl::Result<keel::fs::Stat> Initrdfs::fstat(uint64_t client, uint32_t fid) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  return stat_of(nodes_[f->node]);
}

ktl::Result<void> Initrdfs::readdir(uint64_t client, uint32_t fid, uint64_t cookie, keel::fs::DirEntry* out,
                                    uint64_t* next) {
  auto* f = files_.find(client, fid);
  if (f == nullptr) return Error::BadHandle;
  const Node& d = nodes_[f->node];
  if (d.type != fsp::kTypeDirectory) return Error::NotADirectory;
  if (cookie >= d.children) return Error::OutOfRange;
  const Node& c = nodes_[d.first_child + cookie];
  const keel::fs::Stat s = stat_of(c);
  out->type = s.type;
  out->size = s.size;
  out->inode = s.inode;
  for (size_t i = 0; i < c.name.size(); ++i) out->name[i] = c.name[i];  // (check_name bounded it)
  out->name_len = c.name.size();
  *next = cookie + 1;
  return ktl::ok();
}

ktl::Result<void> Initrdfs::mkdir(std::string_view path, uint64_t) { return create_denied(path); }

// A new name at `path`: AlreadyExists, NotADirectory or NotFound as they
// apply, else AccessDenied (read-only).
ktl::Result<void> Initrdfs::create_denied(std::string_view path) {
  auto found = find(path);
  if (found.ok()) return Error::AlreadyExists;
  if (found.error() == Error::NotADirectory) return found.error();
  std::string_view parent, name;
  if (keel::path::split_last(path, &parent, &name) && lookup(parent) == nullptr) return Error::NotFound;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::rmdir(std::string_view path) {
  const Node* n = TRY(find(path));
  if (n == nodes_) return Error::Busy;
  if (n->type != fsp::kTypeDirectory) return Error::NotADirectory;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::unlink(std::string_view path) {
  const Node* n = TRY(find(path));
  if (n->type == fsp::kTypeDirectory) return Error::IsADirectory;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::rename(std::string_view from, std::string_view to) {
  const Node* n = TRY(find(from));
  if (n == nodes_) return Error::Busy;
  std::string_view parent, name;
  if (!keel::path::split_last(to, &parent, &name)) return Error::Busy;
  TRY(find(parent));
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::truncate(std::string_view path, uint64_t) {
  const Node* n = TRY(find(path));
  if (n->type == fsp::kTypeDirectory) return Error::IsADirectory;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::symlink(std::string_view path, std::string_view) { return create_denied(path); }
ktl::Result<void> Initrdfs::mknod(std::string_view path, uint64_t, uint64_t) { return create_denied(path); }

ktl::Result<void> Initrdfs::link(std::string_view from, std::string_view to) {
  const Node* n = TRY(find(from));
  if (n->type == fsp::kTypeDirectory) return Error::IsADirectory;
  return create_denied(to);
}

ktl::Result<void> Initrdfs::chmod(std::string_view path, uint64_t) {
  TRY(find(path));
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::set_times(std::string_view path, uint64_t, uint64_t) {
  TRY(find(path));
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::fchmod(uint64_t client, uint32_t fid, uint64_t) {
  if (files_.find(client, fid) == nullptr) return Error::BadHandle;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::fset_times(uint64_t client, uint32_t fid, uint64_t, uint64_t) {
  if (files_.find(client, fid) == nullptr) return Error::BadHandle;
  return Error::AccessDenied;
}

ktl::Result<void> Initrdfs::ftruncate(uint64_t client, uint32_t fid, uint64_t) {
  if (files_.find(client, fid) == nullptr) return Error::BadHandle;
  return Error::AccessDenied;
}

void Initrdfs::forget(uint64_t client) {
  files_.remove_if([&](Files::File& f) { return f.client == client; });
}

}  // namespace keel::initrdfs
