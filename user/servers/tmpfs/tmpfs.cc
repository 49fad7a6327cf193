// tmpfs.cc — tmpfs.h.
#include "tmpfs.h"

#include <new>

namespace keel::tmpfs {

namespace fsp = keel::proto::fs;
using ktl::Error;

struct Tmpfs::Node {
  uint64_t type = fsp::kTypeFile;
  uint64_t mode = 0;
  uint64_t inode = 0;
  uint32_t links = 0;            // the entries naming it (the root: 1, always)
  uint32_t opens = 0;
  Entry* first = nullptr;        // a directory's entries, in name order
  size_t children = 0;
  size_t subdirs = 0;            // of them directories (a directory's link count is 2 + subdirs)
  uint64_t size = 0;             // a file's bytes; a symbolic link's target length
  uint8_t** pages = nullptr;     // page i holds bytes [i * kPageBytes, ...); null: zeros
  size_t page_slots = 0;
  char* target = nullptr;        // a symbolic link's target (size bytes)
  int64_t atime = 0, mtime = 0, ctime = 0;

  bool is_dir() const { return type == fsp::kTypeDirectory; }
};

struct Tmpfs::Entry {
  char name[keel::path::kNameMax] = {};
  size_t name_len = 0;
  Node* node = nullptr;
  Entry* next = nullptr;

  std::string_view view() const { return {name, name_len}; }
};

namespace {

bool may_write(uint64_t mode) { return (mode & 0200) != 0; }
bool may_read(uint64_t mode) { return (mode & 0400) != 0; }

}  // namespace

Tmpfs::Tmpfs(uint64_t quota, int64_t (*clock)()) : quota_(quota), clock_(clock) {
  root_ = new (std::nothrow) Node;
  if (root_ == nullptr) return;  // every operation then fails with NotFound
  root_->type = fsp::kTypeDirectory;
  root_->mode = 0777;
  root_->links = 1;
  root_->inode = next_inode_++;
  root_->atime = root_->mtime = root_->ctime = now();
  used_ = kNodeCost;
  nodes_ = 1;
}

Tmpfs::~Tmpfs() {
  files_.remove_if([&](Files::File& f) { return drop(f); });
  // Depth-first, without recursion: remove leaves until only the root is left.
  while (root_ != nullptr && root_->first != nullptr) {
    Node* dir = root_;
    Entry* e = root_->first;
    while (e->node->is_dir() && e->node->first != nullptr) {
      dir = e->node;
      e = dir->first;
    }
    remove_entry(dir, e);
  }
  delete root_;
}

bool Tmpfs::drop(Files::File& f) {
  Node* n = f.node;
  f.node = nullptr;
  --n->opens;
  release(n);
  return true;
}

Tmpfs::Entry* Tmpfs::child(Node* dir, std::string_view name) {
  for (Entry* e = dir->first; e != nullptr; e = e->next)
    if (e->view() == name) return e;
  return nullptr;
}

ktl::Result<Tmpfs::Node*> Tmpfs::lookup(std::string_view path) {
  if (root_ == nullptr) return Error::NotFound;
  Node* n = root_;
  keel::path::Components parts(path);
  std::string_view name;
  while (parts.next(&name)) {
    if (!n->is_dir()) return Error::NotADirectory;
    Entry* e = child(n, name);
    if (e == nullptr) return Error::NotFound;
    n = e->node;
  }
  return n;
}

ktl::Result<Tmpfs::Node*> Tmpfs::lookup_parent(std::string_view path, std::string_view* name) {
  std::string_view parent;
  if (!keel::path::split_last(path, &parent, name)) return Error::Busy;
  if (!keel::path::valid_name(*name)) return Error::InvalidArgument;
  Node* dir = TRY(lookup(parent));
  if (!dir->is_dir()) return Error::NotADirectory;
  return dir;
}

ktl::Result<void> Tmpfs::may_add(Node* dir, std::string_view name) {
  if (child(dir, name) != nullptr) return Error::AlreadyExists;
  if (!may_write(dir->mode)) return Error::AccessDenied;
  return ktl::ok();
}

ktl::Result<Tmpfs::Entry*> Tmpfs::make_entry(Node* dir, std::string_view name, Node* n) {
  Entry* e = new (std::nothrow) Entry;
  if (e == nullptr) return Error::NoSpace;
  for (size_t i = 0; i < name.size(); ++i) e->name[i] = name[i];
  e->name_len = name.size();
  e->node = n;
  ++n->links;
  attach(dir, e);
  return e;
}

ktl::Result<Tmpfs::Node*> Tmpfs::make_node(Node* dir, std::string_view name, uint64_t type, uint64_t mode) {
  if (used_ + kNodeCost > quota_) return Error::NoSpace;
  Node* n = new (std::nothrow) Node;
  if (n == nullptr) return Error::NoSpace;
  n->type = type;
  n->mode = mode & fsp::kModeMask;
  n->inode = next_inode_++;
  n->atime = n->mtime = n->ctime = now();
  if (!make_entry(dir, name, n).ok()) {
    delete n;
    return Error::NoSpace;
  }
  used_ += kNodeCost;
  ++nodes_;
  return n;
}

void Tmpfs::attach(Node* dir, Entry* e) {
  Entry** link = &dir->first;
  while (*link != nullptr && (*link)->view() < e->view()) link = &(*link)->next;
  e->next = *link;
  *link = e;
  ++dir->children;
  if (e->node->is_dir()) ++dir->subdirs;
  dir->mtime = dir->ctime = now();
}

void Tmpfs::remove_entry(Node* dir, Entry* e) {
  for (Entry** link = &dir->first; *link != nullptr; link = &(*link)->next) {
    if (*link == e) {
      *link = e->next;
      break;
    }
  }
  --dir->children;
  if (e->node->is_dir()) --dir->subdirs;
  dir->mtime = dir->ctime = now();
  Node* n = e->node;
  delete e;
  if (n->links > 1) used_ -= kNodeCost;  // a hard link's charge
  --n->links;
  n->ctime = now();
  release(n);
}

void Tmpfs::release(Node* n) {
  if (n->links != 0 || n->opens != 0 || n == root_) return;
  (void)resize(n, 0);
  delete[] n->pages;
  delete[] n->target;
  delete n;
  used_ -= kNodeCost;
  --nodes_;
}

// Sets a file's size. Shrinking frees the pages past the end and zeroes the
// tail of the last one (bytes past the size are always zero); growing leaves
// a hole. Pages are allocated by write(), not here.
ktl::Result<void> Tmpfs::resize(Node* n, uint64_t size) {
  if (size < n->size) {
    const uint64_t keep = (size + kPageBytes - 1) / kPageBytes;
    for (size_t i = keep; i < n->page_slots; ++i) {
      if (n->pages[i] != nullptr) {
        delete[] n->pages[i];
        n->pages[i] = nullptr;
        used_ -= kPageBytes;
      }
    }
    if (size % kPageBytes != 0 && keep - 1 < n->page_slots && n->pages[keep - 1] != nullptr) {
      uint8_t* p = n->pages[keep - 1];
      for (uint64_t i = size % kPageBytes; i < kPageBytes; ++i) p[i] = 0;
    }
  }
  n->size = size;
  return ktl::ok();
}

keel::fs::Stat Tmpfs::stat_of(const Node* n) const {
  keel::fs::Stat s;
  s.type = n->type;
  s.size = n->is_dir() ? n->children : n->size;
  s.mode = n->mode;
  s.inode = n->inode;
  s.links = n->is_dir() ? (n->links != 0 ? 2 + n->subdirs : 0) : n->links;
  s.atime = n->atime;
  s.mtime = n->mtime;
  s.ctime = n->ctime;
  return s;
}

ktl::Result<uint32_t> Tmpfs::open(uint64_t client, std::string_view path, uint64_t flags, uint64_t mode) {
  if ((flags & ~fsp::kFlagsAll) != 0 || (flags & (fsp::kFlagRead | fsp::kFlagWrite)) == 0)
    return Error::InvalidArgument;
  const bool writing = (flags & fsp::kFlagWrite) != 0;
  if (!files_.has_room(client)) return Error::NoSpace;
  auto found = lookup(path);
  Node* n = nullptr;
  bool created = false;
  if (found.ok()) {
    n = *found;
    if ((flags & fsp::kFlagCreate) && (flags & fsp::kFlagExclusive)) return Error::AlreadyExists;
  } else {
    if (found.error() != Error::NotFound || !(flags & fsp::kFlagCreate) || (flags & fsp::kFlagDirectory))
      return found.error();
    std::string_view name;
    Node* dir = TRY(lookup_parent(path, &name));
    if (!may_write(dir->mode)) return Error::AccessDenied;
    n = TRY(make_node(dir, name, fsp::kTypeFile, mode));
    created = true;
  }
  if ((flags & fsp::kFlagLink) && (n->type != fsp::kTypeSymlink || writing)) return Error::InvalidArgument;
  if (n->type == fsp::kTypeSymlink && !(flags & fsp::kFlagLink)) return Error::Unsupported;  // (the client follows)
  if (n->is_dir() && writing) return Error::IsADirectory;
  if (!n->is_dir() && (flags & fsp::kFlagDirectory)) return Error::NotADirectory;
  if (!created) {
    if ((flags & fsp::kFlagRead) && !may_read(n->mode)) return Error::AccessDenied;
    if (writing && !may_write(n->mode)) return Error::AccessDenied;
  }
  if (writing && (flags & fsp::kFlagTruncate) && n->type == fsp::kTypeFile) {
    TRY(resize(n, 0));
    n->mtime = n->ctime = now();
  }
  auto* f = TRY(files_.add(client, n, flags));
  ++n->opens;
  return f->fid;
}

ktl::Result<void> Tmpfs::file_pages(std::string_view path, keel::fs::Stat* st, PageFn page, void* ctx) {
  Node* n = TRY(lookup(path));
  if (n->is_dir()) return Error::IsADirectory;
  if (n->type != fsp::kTypeFile) return Error::Unsupported;
  if (!may_read(n->mode)) return Error::AccessDenied;
  *st = stat_of(n);
  for (size_t i = 0; i < n->page_slots && uint64_t(i) * kPageBytes < n->size; ++i) {
    if (n->pages[i] == nullptr) continue;
    const uint64_t off = uint64_t(i) * kPageBytes;
    const uint64_t left = n->size - off;
    TRY(page(ctx, off, n->pages[i], size_t(left < kPageBytes ? left : kPageBytes)));
  }
  return ktl::ok();
}

ktl::Result<void> Tmpfs::close(uint64_t client, uint32_t fid) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  drop(*f);
  files_.remove(f);
  return ktl::ok();
}

ktl::Result<size_t> Tmpfs::read(uint64_t client, uint32_t fid, std::span<uint8_t> out) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  Node* n = f->node;
  if (n->is_dir()) return Error::IsADirectory;
  if (n->type == fsp::kTypeFifo) return Error::BadState;
  if (!(f->flags & fsp::kFlagRead)) return Error::AccessDenied;
  if (f->offset >= n->size) return size_t(0);
  if (n->type == fsp::kTypeSymlink) {
    const size_t count = out.size() < n->size - f->offset ? out.size() : size_t(n->size - f->offset);
    for (size_t i = 0; i < count; ++i) out[i] = uint8_t(n->target[f->offset + i]);
    f->offset += count;
    return count;
  }
  const uint64_t left = n->size - f->offset;
  const size_t count = out.size() < left ? out.size() : size_t(left);
  for (size_t done = 0; done < count;) {
    const uint64_t pos = f->offset + done;
    const size_t page = size_t(pos / kPageBytes), in_page = size_t(pos % kPageBytes);
    size_t chunk = kPageBytes - in_page;
    if (chunk > count - done) chunk = count - done;
    const uint8_t* src = page < n->page_slots ? n->pages[page] : nullptr;
    if (src != nullptr) {
      __builtin_memcpy(out.data() + done, src + in_page, chunk);  // (quadwords: a byte loop is ~8x the instructions)
    } else {
      __builtin_memset(out.data() + done, 0, chunk);  // a hole
    }
    done += chunk;
  }
  f->offset += count;
  return count;
}

ktl::Result<size_t> Tmpfs::write(uint64_t client, uint32_t fid, std::span<const uint8_t> in) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  Node* n = f->node;
  if (n->is_dir()) return Error::IsADirectory;
  if (n->type == fsp::kTypeFifo) return Error::BadState;
  if (!(f->flags & fsp::kFlagWrite)) return Error::AccessDenied;
  if (in.empty()) return size_t(0);
  const uint64_t start = (f->flags & fsp::kFlagAppend) ? n->size : f->offset;
  if (start > quota_ || in.size() > quota_ - start) return Error::NoSpace;  // no file outgrows the quota
  const uint64_t end = start + in.size();
  const size_t first = size_t(start / kPageBytes), last = size_t((end - 1) / kPageBytes);
  // Count the pages this write needs first: it is refused whole or done whole.
  uint64_t missing = 0;
  for (size_t p = first; p <= last; ++p)
    if (p >= n->page_slots || n->pages[p] == nullptr) ++missing;
  if (missing > (quota_ - used_) / kPageBytes) return Error::NoSpace;
  if (last >= n->page_slots) {
    size_t slots = n->page_slots ? n->page_slots : 4;
    while (slots <= last) slots *= 2;
    auto** grown = new (std::nothrow) uint8_t*[slots];
    if (grown == nullptr) return Error::NoSpace;
    for (size_t i = 0; i < slots; ++i) grown[i] = i < n->page_slots ? n->pages[i] : nullptr;
    delete[] n->pages;
    n->pages = grown;
    n->page_slots = slots;
  }
  for (size_t p = first; p <= last; ++p) {
    if (n->pages[p] != nullptr) continue;
    n->pages[p] = new (std::nothrow) uint8_t[kPageBytes]();
    if (n->pages[p] == nullptr) return Error::NoSpace;  // pages allocated so far stay, zero
    used_ += kPageBytes;
  }
  for (size_t done = 0; done < in.size();) {
    const uint64_t pos = start + done;
    const size_t in_page = size_t(pos % kPageBytes);
    size_t chunk = kPageBytes - in_page;
    if (chunk > in.size() - done) chunk = in.size() - done;
    uint8_t* dst = n->pages[pos / kPageBytes];
    __builtin_memcpy(dst + in_page, in.data() + done, chunk);
    done += chunk;
  }
  if (end > n->size) n->size = end;
  f->offset = end;
  n->mtime = n->ctime = now();
  return in.size();
}

ktl::Result<uint64_t> Tmpfs::seek(uint64_t client, uint32_t fid, uint64_t whence, int64_t offset) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  int64_t base;
  switch (whence) {
    case fsp::kSeekSet: base = 0; break;
    case fsp::kSeekCurrent: base = int64_t(f->offset); break;
    case fsp::kSeekEnd: base = int64_t(f->node->size); break;
    default: return Error::InvalidArgument;
  }
  int64_t pos;
  if (__builtin_add_overflow(base, offset, &pos)) return Error::Overflow;
  if (pos < 0) return Error::InvalidArgument;
  f->offset = uint64_t(pos);
  return f->offset;
}

ktl::Result<keel::fs::FsInfo> Tmpfs::fs_info() {
  keel::fs::FsInfo info;
  info.block_size = kPageBytes;
  const uint64_t left = used_ < quota_ ? quota_ - used_ : 0;
  info.blocks = quota_ / kPageBytes;
  info.free_blocks = left / kPageBytes;
  info.free_nodes = left / kNodeCost;
  info.nodes = nodes_ + info.free_nodes;
  info.flags = fsp::kFsMemory;
  return info;
}

ktl::Result<keel::fs::Stat> Tmpfs::stat(std::string_view path) { return stat_of(TRY(lookup(path))); }

ktl::Result<keel::fs::Stat> Tmpfs::fstat(uint64_t client, uint32_t fid) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  return stat_of(f->node);
}

ktl::Result<void> Tmpfs::readdir(uint64_t client, uint32_t fid, uint64_t cookie, keel::fs::DirEntry* out,
                                 uint64_t* next) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  if (!f->node->is_dir()) return Error::NotADirectory;
  DirCursor& cur = f->extra;
  // Resume after a name (children are in name order), or walk to an index.
  std::string_view after;
  bool by_name = true;
  if (cookie == 0) {
    after = {};
  } else if (cur.next_cookie != 0 && cookie == cur.next_cookie) {
    after = {cur.last, cur.last_len};
  } else if (cur.next_cookie != 0 && cookie == cur.prev_cookie) {
    after = {cur.prev_after, cur.prev_after_len};
  } else {
    by_name = false;
  }
  Entry* c = f->node->first;
  if (by_name) {
    if (cookie != 0 || !after.empty())
      while (c != nullptr && c->view() <= after) c = c->next;
  } else {
    for (uint64_t i = 0; c != nullptr && i < cookie; ++i) c = c->next;
  }
  if (c == nullptr) return Error::OutOfRange;
  const keel::fs::Stat s = stat_of(c->node);
  out->type = s.type;
  out->size = s.size;
  out->inode = s.inode;
  for (size_t i = 0; i < c->name_len; ++i) out->name[i] = c->name[i];
  out->name_len = c->name_len;
  // Remember where this call stood, and what it returned.
  cur.prev_cookie = cookie;
  for (size_t i = 0; i < after.size(); ++i) cur.prev_after[i] = after[i];  // (after may be cur.last: copy first)
  cur.prev_after_len = after.size();
  cur.next_cookie = cookie + 1;
  for (size_t i = 0; i < c->name_len; ++i) cur.last[i] = c->name[i];
  cur.last_len = c->name_len;
  *next = cookie + 1;
  return ktl::ok();
}

ktl::Result<void> Tmpfs::mkdir(std::string_view path, uint64_t mode) {
  std::string_view name;
  auto dir = lookup_parent(path, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::AlreadyExists : dir.error();  // "/"
  TRY(may_add(*dir, name));
  TRY(make_node(*dir, name, fsp::kTypeDirectory, mode));
  return ktl::ok();
}

ktl::Result<void> Tmpfs::rmdir(std::string_view path) {
  std::string_view name;
  Node* dir = TRY(lookup_parent(path, &name));
  Entry* e = child(dir, name);
  if (e == nullptr) return Error::NotFound;
  if (!e->node->is_dir()) return Error::NotADirectory;
  if (e->node->first != nullptr) return Error::NotEmpty;
  if (!may_write(dir->mode)) return Error::AccessDenied;
  remove_entry(dir, e);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::unlink(std::string_view path) {
  std::string_view name;
  auto dir = lookup_parent(path, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::IsADirectory : dir.error();  // "/"
  Entry* e = child(*dir, name);
  if (e == nullptr) return Error::NotFound;
  if (e->node->is_dir()) return Error::IsADirectory;
  if (!may_write((*dir)->mode)) return Error::AccessDenied;
  remove_entry(*dir, e);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::rename(std::string_view from, std::string_view to) {
  std::string_view from_name, to_name;
  Node* from_dir = TRY(lookup_parent(from, &from_name));
  Entry* e = child(from_dir, from_name);
  if (e == nullptr) return Error::NotFound;
  Node* to_dir = TRY(lookup_parent(to, &to_name));
  if (from == to) return ktl::ok();
  Node* n = e->node;
  if (n->is_dir() && keel::path::under(to, from)) return Error::InvalidArgument;  // into itself
  if (!may_write(from_dir->mode) || !may_write(to_dir->mode)) return Error::AccessDenied;
  Entry* old = child(to_dir, to_name);
  if (old != nullptr) {
    if (old->node == n) return ktl::ok();  // two names of one file: rename(2) does nothing
    if (n->is_dir() && !old->node->is_dir()) return Error::NotADirectory;
    if (!n->is_dir() && old->node->is_dir()) return Error::IsADirectory;
    if (old->node->first != nullptr) return Error::NotEmpty;
  }
  // The new name first (it may fail), then the old ones go.
  Entry* moved = TRY(make_entry(to_dir, to_name, n));
  (void)moved;
  if (old != nullptr) remove_entry(to_dir, old);
  used_ += kNodeCost;  // (remove_entry gives back a second name's charge)
  remove_entry(from_dir, e);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::truncate(std::string_view path, uint64_t size) {
  Node* n = TRY(lookup(path));
  if (n->is_dir()) return Error::IsADirectory;
  if (n->type != fsp::kTypeFile) return Error::InvalidArgument;
  if (!may_write(n->mode)) return Error::AccessDenied;
  return truncate_node(n, size);
}

ktl::Result<void> Tmpfs::truncate_node(Node* n, uint64_t size) {
  if (size > quota_) return Error::NoSpace;  // holes included, no file outgrows the quota
  TRY(resize(n, size));
  n->mtime = n->ctime = now();
  return ktl::ok();
}

ktl::Result<void> Tmpfs::symlink(std::string_view path, std::string_view target) {
  if (target.empty() || target.size() > fsp::kPathMax) return Error::InvalidArgument;
  std::string_view name;
  auto dir = lookup_parent(path, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::AlreadyExists : dir.error();  // "/"
  TRY(may_add(*dir, name));
  char* copy = new (std::nothrow) char[target.size()];
  if (copy == nullptr) return Error::NoSpace;
  for (size_t i = 0; i < target.size(); ++i) copy[i] = target[i];
  auto made = make_node(*dir, name, fsp::kTypeSymlink, 0777);
  if (!made.ok()) {
    delete[] copy;
    return made.error();
  }
  (*made)->target = copy;
  (*made)->size = target.size();
  return ktl::ok();
}

ktl::Result<void> Tmpfs::link(std::string_view from, std::string_view to) {
  Node* n = TRY(lookup(from));
  if (n->is_dir()) return Error::IsADirectory;
  std::string_view name;
  auto dir = lookup_parent(to, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::AlreadyExists : dir.error();  // "/"
  TRY(may_add(*dir, name));
  if (n->links == 0) return Error::NotFound;  // (cannot happen by path: kept for the rule)
  if (used_ + kNodeCost > quota_) return Error::NoSpace;
  TRY(make_entry(*dir, name, n));
  used_ += kNodeCost;
  n->ctime = now();
  return ktl::ok();
}

ktl::Result<void> Tmpfs::chmod(std::string_view path, uint64_t mode) {
  if ((mode & ~fsp::kModeMask) != 0) return Error::InvalidArgument;
  set_mode(TRY(lookup(path)), mode);
  return ktl::ok();
}

void Tmpfs::set_mode(Node* n, uint64_t mode) {
  n->mode = mode;
  n->ctime = now();
}

void Tmpfs::set_node_times(Node* n, uint64_t atime, uint64_t mtime) {
  const int64_t t = now();
  if (atime != fsp::kTimeOmit) n->atime = atime == fsp::kTimeNow ? t : int64_t(atime);
  if (mtime != fsp::kTimeOmit) n->mtime = mtime == fsp::kTimeNow ? t : int64_t(mtime);
  n->ctime = t;
}

ktl::Result<void> Tmpfs::fchmod(uint64_t client, uint32_t fid, uint64_t mode) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  if ((mode & ~fsp::kModeMask) != 0) return Error::InvalidArgument;
  set_mode(f->node, mode);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::fset_times(uint64_t client, uint32_t fid, uint64_t atime, uint64_t mtime) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  set_node_times(f->node, atime, mtime);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::ftruncate(uint64_t client, uint32_t fid, uint64_t size) {
  auto* f = file(client, fid);
  if (f == nullptr) return Error::BadHandle;
  if (f->node->is_dir()) return Error::IsADirectory;
  if (f->node->type != fsp::kTypeFile) return Error::InvalidArgument;
  if (!(f->flags & fsp::kFlagWrite)) return Error::AccessDenied;
  return truncate_node(f->node, size);
}

ktl::Result<void> Tmpfs::set_times(std::string_view path, uint64_t atime, uint64_t mtime) {
  set_node_times(TRY(lookup(path)), atime, mtime);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::mknod(std::string_view path, uint64_t type, uint64_t mode) {
  if (type != fsp::kTypeFifo || (mode & ~fsp::kModeMask) != 0) return Error::InvalidArgument;
  std::string_view name;
  auto dir = lookup_parent(path, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::AlreadyExists : dir.error();  // "/"
  TRY(may_add(*dir, name));
  TRY(make_node(*dir, name, type, mode));
  return ktl::ok();
}

void Tmpfs::forget(uint64_t client) {
  files_.remove_if([&](Files::File& f) { return f.client == client && drop(f); });
}

}  // namespace keel::tmpfs
