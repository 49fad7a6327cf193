// lib/symbolize.cc — validation and binary search over the .ksyms table.
#include <lib/symbolize.h>

namespace klib {

ktl::Result<SymbolTable> SymbolTable::from_bytes(ktl::Bytes table) {
  uint32_t magic = TRY(ktl::load<uint32_t>(table, 0));
  if (magic != kSymbolTableMagic) return ktl::Error::BadMagic;
  uint32_t count = TRY(ktl::load<uint32_t>(table, 4));
  uint32_t strtab_offset = TRY(ktl::load<uint32_t>(table, 8));
  uint32_t total_size = TRY(ktl::load<uint32_t>(table, 12));
  if (total_size > table.size()) return ktl::Error::Truncated;
  if (total_size < kSymbolTableHeaderSize) return ktl::Error::OutOfRange;

  // 64-bit arithmetic: count * 16 cannot overflow.
  uint64_t entries_end = kSymbolTableHeaderSize + uint64_t(count) * kSymbolTableEntrySize;
  if (entries_end > strtab_offset || strtab_offset > total_size) return ktl::Error::OutOfRange;
  // A non-empty string table ending in NUL means every in-bounds name_offset
  // has a terminator before the end: lookup() needs no further checks.
  if (strtab_offset == total_size || table[total_size - 1] != 0) {
    if (count != 0 || strtab_offset != total_size) return ktl::Error::InvalidArgument;
  }

  SymbolTable t;
  t.bytes_ = table.first(total_size);
  t.count_ = count;
  t.strtab_offset_ = strtab_offset;
  uint64_t strtab_size = total_size - strtab_offset;
  for (size_t i = 0; i < t.count_; ++i) {
    Entry e = t.entry(i);
    if (e.name_offset >= strtab_size) return ktl::Error::OutOfRange;
    if (e.address + e.size < e.address) return ktl::Error::InvalidArgument;
    if (i > 0 && t.entry(i - 1).address >= e.address) return ktl::Error::InvalidArgument;
  }
  return t;
}

SymbolTable::Entry SymbolTable::entry(size_t i) const {
  // In bounds by construction (from_bytes checked count against the size).
  size_t off = kSymbolTableHeaderSize + i * kSymbolTableEntrySize;
  Entry e;
  __builtin_memcpy(&e.address, bytes_.data() + off, 8);
  __builtin_memcpy(&e.size, bytes_.data() + off + 8, 4);
  __builtin_memcpy(&e.name_offset, bytes_.data() + off + 12, 4);
  return e;
}

std::string_view SymbolTable::name_at(uint32_t name_offset) const {
  const char* start = reinterpret_cast<const char*>(bytes_.data()) + strtab_offset_ + name_offset;
  size_t max = bytes_.size() - strtab_offset_ - name_offset;
  size_t len = 0;
  while (len < max && start[len] != '\0') ++len;
  return {start, len};
}

ktl::Result<Symbol> SymbolTable::lookup(uint64_t addr) const {
  // Find the first entry with address > addr; the candidate is the one before.
  size_t lo = 0;
  size_t hi = count_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (entry(mid).address <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return ktl::Error::NotFound;
  Entry e = entry(lo - 1);
  uint64_t offset = addr - e.address;
  if (e.size > 0) {
    if (offset >= e.size) return ktl::Error::NotFound;
  } else if (lo == count_) {
    // An unsized last symbol has no known end: claiming everything after it
    // would attribute unrelated addresses to it.
    return ktl::Error::NotFound;
  }
  return Symbol{name_at(e.name_offset), offset};
}

void SymbolTable::print(ktl::Sink& out, uint64_t addr) const {
  auto sym = lookup(addr);
  if (!sym) {
    out.write("?", 1);
    return;
  }
  ktl::format_to(out, "{}+{:#x}", sym->name, sym->offset);
}

}  // namespace klib
