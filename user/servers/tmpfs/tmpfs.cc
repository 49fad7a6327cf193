// tmpfs.cc — tmpfs.h.
#include "tmpfs.h"

#include <new>

namespace keel::tmpfs {

namespace fsp = keel::proto::fs;
using ktl::Error;

struct Tmpfs::Node {
  uint64_t type = fsp::kTypeFile;
  uint64_t mode = 0;
  Node* parent = nullptr;        // null for the root and for nodes out of the tree
  Node* first_child = nullptr;   // a directory's entries, in name order
  Node* next_sibling = nullptr;
  size_t children = 0;
  char name[keel::path::kNameMax] = {};
  size_t name_len = 0;
  bool linked = false;           // in the tree (the root always is)
  uint32_t opens = 0;
  uint64_t size = 0;             // a file's bytes
  uint8_t** pages = nullptr;     // page i holds bytes [i * kPageBytes, ...); null: zeros
  size_t page_slots = 0;

  std::string_view view() const { return {name, name_len}; }
  bool is_dir() const { return type == fsp::kTypeDirectory; }
};

namespace {

bool may_write(uint64_t mode) { return (mode & 0200) != 0; }
bool may_read(uint64_t mode) { return (mode & 0400) != 0; }

}  // namespace

Tmpfs::Tmpfs(uint64_t quota) : quota_(quota) {
  root_ = new (std::nothrow) Node;
  if (root_ == nullptr) return;  // every operation then fails with NotFound
  root_->type = fsp::kTypeDirectory;
  root_->mode = 0777;
  root_->linked = true;
  used_ = kNodeCost;
  nodes_ = 1;
}

Tmpfs::~Tmpfs() {
  files_.remove_if([&](Files::File& f) { return drop(f); });
  // Depth-first, without recursion: free leaves until only the root is left.
  while (root_ != nullptr && root_->first_child != nullptr) {
    Node* n = root_->first_child;
    while (n->first_child != nullptr) n = n->first_child;
    detach(n);
    release(n);
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

Tmpfs::Node* Tmpfs::child(Node* dir, std::string_view name) {
  for (Node* c = dir->first_child; c != nullptr; c = c->next_sibling)
    if (c->view() == name) return c;
  return nullptr;
}

ktl::Result<Tmpfs::Node*> Tmpfs::lookup(std::string_view path) {
  if (root_ == nullptr) return Error::NotFound;
  Node* n = root_;
  keel::path::Components parts(path);
  std::string_view name;
  while (parts.next(&name)) {
    if (!n->is_dir()) return Error::NotADirectory;
    n = child(n, name);
    if (n == nullptr) return Error::NotFound;
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

ktl::Result<Tmpfs::Node*> Tmpfs::make_node(Node* dir, std::string_view name, uint64_t type, uint64_t mode) {
  if (used_ + kNodeCost > quota_) return Error::NoSpace;
  Node* n = new (std::nothrow) Node;
  if (n == nullptr) return Error::NoSpace;
  n->type = type;
  n->mode = mode & fsp::kModeMask;
  for (size_t i = 0; i < name.size(); ++i) n->name[i] = name[i];
  n->name_len = name.size();
  used_ += kNodeCost;
  ++nodes_;
  attach(dir, n);
  return n;
}

void Tmpfs::attach(Node* dir, Node* n) {
  Node** link = &dir->first_child;
  while (*link != nullptr && (*link)->view() < n->view()) link = &(*link)->next_sibling;
  n->next_sibling = *link;
  *link = n;
  n->parent = dir;
  n->linked = true;
  ++dir->children;
}

void Tmpfs::detach(Node* n) {
  Node* dir = n->parent;
  for (Node** link = &dir->first_child; *link != nullptr; link = &(*link)->next_sibling) {
    if (*link == n) {
      *link = n->next_sibling;
      break;
    }
  }
  --dir->children;
  n->parent = nullptr;
  n->next_sibling = nullptr;
  n->linked = false;
}

void Tmpfs::release(Node* n) {
  if (n->linked || n->opens != 0 || n == root_) return;
  (void)resize(n, 0);
  delete[] n->pages;
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
  return {n->type, n->is_dir() ? n->children : n->size, n->mode};
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
  if (n->is_dir() && writing) return Error::IsADirectory;
  if (!n->is_dir() && (flags & fsp::kFlagDirectory)) return Error::NotADirectory;
  if (!created) {
    if ((flags & fsp::kFlagRead) && !may_read(n->mode)) return Error::AccessDenied;
    if (writing && !may_write(n->mode)) return Error::AccessDenied;
  }
  if (writing && (flags & fsp::kFlagTruncate)) TRY(resize(n, 0));
  auto* f = TRY(files_.add(client, n, flags));
  ++n->opens;
  return f->fid;
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
  if (!(f->flags & fsp::kFlagRead)) return Error::AccessDenied;
  if (f->offset >= n->size) return size_t(0);
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
  Node* c = f->node->first_child;
  if (by_name) {
    if (cookie != 0 || !after.empty())
      while (c != nullptr && c->view() <= after) c = c->next_sibling;
  } else {
    for (uint64_t i = 0; c != nullptr && i < cookie; ++i) c = c->next_sibling;
  }
  if (c == nullptr) return Error::OutOfRange;
  const keel::fs::Stat s = stat_of(c);
  out->type = s.type;
  out->size = s.size;
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
  if (child(*dir, name) != nullptr) return Error::AlreadyExists;
  if (!may_write((*dir)->mode)) return Error::AccessDenied;
  TRY(make_node(*dir, name, fsp::kTypeDirectory, mode));
  return ktl::ok();
}

ktl::Result<void> Tmpfs::rmdir(std::string_view path) {
  std::string_view name;
  Node* dir = TRY(lookup_parent(path, &name));
  Node* n = child(dir, name);
  if (n == nullptr) return Error::NotFound;
  if (!n->is_dir()) return Error::NotADirectory;
  if (n->first_child != nullptr) return Error::NotEmpty;
  if (!may_write(dir->mode)) return Error::AccessDenied;
  detach(n);
  release(n);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::unlink(std::string_view path) {
  std::string_view name;
  auto dir = lookup_parent(path, &name);
  if (!dir.ok()) return dir.error() == Error::Busy ? Error::IsADirectory : dir.error();  // "/"
  Node* n = child(*dir, name);
  if (n == nullptr) return Error::NotFound;
  if (n->is_dir()) return Error::IsADirectory;
  if (!may_write((*dir)->mode)) return Error::AccessDenied;
  detach(n);
  release(n);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::rename(std::string_view from, std::string_view to) {
  std::string_view from_name, to_name;
  Node* from_dir = TRY(lookup_parent(from, &from_name));
  Node* n = child(from_dir, from_name);
  if (n == nullptr) return Error::NotFound;
  Node* to_dir = TRY(lookup_parent(to, &to_name));
  if (from == to) return ktl::ok();
  if (n->is_dir() && keel::path::under(to, from)) return Error::InvalidArgument;  // into itself
  if (!may_write(from_dir->mode) || !may_write(to_dir->mode)) return Error::AccessDenied;
  Node* old = child(to_dir, to_name);
  if (old != nullptr) {
    if (n->is_dir() && !old->is_dir()) return Error::NotADirectory;
    if (!n->is_dir() && old->is_dir()) return Error::IsADirectory;
    if (old->first_child != nullptr) return Error::NotEmpty;
    detach(old);
    release(old);
  }
  detach(n);
  for (size_t i = 0; i < to_name.size(); ++i) n->name[i] = to_name[i];
  n->name_len = to_name.size();
  attach(to_dir, n);
  return ktl::ok();
}

ktl::Result<void> Tmpfs::truncate(std::string_view path, uint64_t size) {
  Node* n = TRY(lookup(path));
  if (n->is_dir()) return Error::IsADirectory;
  if (!may_write(n->mode)) return Error::AccessDenied;
  if (size > quota_) return Error::NoSpace;  // holes included, no file outgrows the quota
  return resize(n, size);
}

void Tmpfs::forget(uint64_t client) {
  files_.remove_if([&](Files::File& f) { return f.client == client && drop(f); });
}

}  // namespace keel::tmpfs
