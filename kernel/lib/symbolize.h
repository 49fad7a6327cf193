// lib/symbolize.h — address → function name lookups for panic backtraces.
//
// The table is generated at build time by tools/gen-ksyms.py from a first link
// of the kernel and linked into the final image in section .ksyms (after .text
// and .rodata, so adding it moves no code; gen-ksyms.py --verify checks that).
//
// Binary layout (all little-endian, offsets from the start of the header):
//   header   { u32 magic = kSymbolTableMagic ("KSYM"); u32 count;
//              u32 strtab_offset; u32 total_size; }                   16 bytes
//   entries  count × { u64 address; u32 size; u32 name_offset; }   16 bytes each
//            at offset 16, sorted by strictly increasing address;
//            name_offset is relative to strtab_offset
//   strtab   NUL-terminated names in [strtab_offset, total_size); the last byte
//            of the table is NUL
// A panic handler reads this table, so from_bytes() validates everything up
// front and lookup() cannot read out of bounds afterwards.
#pragma once

#include <ktl/bytes.h>
#include <ktl/format.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace klib {

inline constexpr uint32_t kSymbolTableMagic = 0x4d59534b;  // "KSYM" as bytes
inline constexpr size_t kSymbolTableHeaderSize = 16;
inline constexpr size_t kSymbolTableEntrySize = 16;

// A resolved address: the enclosing function and the byte offset into it.
struct Symbol {
  std::string_view name;
  uint64_t offset;
};

class SymbolTable {
 public:
  // An empty table: every lookup() is Error::NotFound.
  constexpr SymbolTable() = default;

  // Validates `table` (which may be longer than the table's total_size, e.g.
  // a whole section) and returns a view over it. Errors:
  //   Truncated   — shorter than the header or than total_size
  //   BadMagic    — magic is not kSymbolTableMagic
  //   OutOfRange  — count/strtab_offset inconsistent with total_size, or a
  //                 name_offset outside the string table
  //   InvalidArgument — entries not strictly sorted by address, an entry's
  //                 [address, address + size) wraps, or the string table is
  //                 empty or does not end in NUL
  // The view borrows `table`; it must outlive the SymbolTable.
  static ktl::Result<SymbolTable> from_bytes(ktl::Bytes table);

  // Finds the function containing `addr`: the entry with the greatest address
  // <= addr, if addr < address + size (size > 0), or if addr is before the
  // next entry's address (size == 0; the last entry never matches then).
  // Error::NotFound otherwise, including for an empty table.
  ktl::Result<Symbol> lookup(uint64_t addr) const;

  // Writes "name+0x1a" (or "?" if lookup() fails) to `out`, for backtraces.
  void print(ktl::Sink& out, uint64_t addr) const;

  // Number of entries.
  size_t count() const { return count_; }

 private:
  struct Entry {
    uint64_t address;
    uint32_t size;
    uint32_t name_offset;
  };
  Entry entry(size_t i) const;
  std::string_view name_at(uint32_t name_offset) const;

  ktl::Bytes bytes_;
  size_t count_ = 0;
  size_t strtab_offset_ = 0;
};

// The kernel's own table: the bytes of section .ksyms, starting at the linker
// symbol __ksyms_start. Defined by the kernel glue (not in kernel/lib), so that
// host tests of this library link without a kernel image.
ktl::Bytes kernel_symbol_table_bytes();

}  // namespace klib
