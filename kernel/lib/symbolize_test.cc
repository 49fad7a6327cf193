// lib/symbolize_test.cc — host tests for the .ksyms table reader.
#include <lib/symbolize.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace klib {
namespace {

struct TestSym {
  uint64_t address;
  uint32_t size;
  std::string name;
};

void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) { std::memcpy(v.data() + off, &x, 4); }
void put64(std::vector<uint8_t>& v, size_t off, uint64_t x) { std::memcpy(v.data() + off, &x, 8); }

// Builds a table with the layout tools/gen-ksyms.py emits (symbols in the given order).
std::vector<uint8_t> build(const std::vector<TestSym>& syms) {
  std::string strtab;
  std::vector<uint32_t> offsets;
  for (const auto& s : syms) {
    offsets.push_back(uint32_t(strtab.size()));
    strtab += s.name;
    strtab += '\0';
  }
  size_t strtab_offset = kSymbolTableHeaderSize + syms.size() * kSymbolTableEntrySize;
  size_t total = strtab_offset + strtab.size();
  std::vector<uint8_t> v(total);
  put32(v, 0, kSymbolTableMagic);
  put32(v, 4, uint32_t(syms.size()));
  put32(v, 8, uint32_t(strtab_offset));
  put32(v, 12, uint32_t(total));
  for (size_t i = 0; i < syms.size(); ++i) {
    size_t off = kSymbolTableHeaderSize + i * kSymbolTableEntrySize;
    put64(v, off, syms[i].address);
    put32(v, off + 8, syms[i].size);
    put32(v, off + 12, offsets[i]);
  }
  std::memcpy(v.data() + strtab_offset, strtab.data(), strtab.size());
  return v;
}

const std::vector<TestSym> kSyms = {
    {0xffffffff80100000, 0x40, "kmain"},
    {0xffffffff80100040, 0x10, "panic(char const*)"},
    // gap [0x...50, 0x...80): padding between functions
    {0xffffffff80100080, 0, "isr_common"},  // assembly label, no size
    {0xffffffff801000c0, 0x20, "last_sized"},
    {0xffffffff80100100, 0, "trailing_label"},
};

SymbolTable table_of(const std::vector<uint8_t>& bytes) {
  auto t = SymbolTable::from_bytes(bytes);
  EXPECT_TRUE(t.ok()) << ktl::error_name(t.error());
  return t.ok() ? *t : SymbolTable();
}

void expect_sym(const SymbolTable& t, uint64_t addr, std::string_view name, uint64_t offset) {
  auto s = t.lookup(addr);
  ASSERT_TRUE(s.ok()) << std::hex << addr;
  EXPECT_EQ(s->name, name) << std::hex << addr;
  EXPECT_EQ(s->offset, offset) << std::hex << addr;
}

void expect_none(const SymbolTable& t, uint64_t addr) {
  auto s = t.lookup(addr);
  ASSERT_FALSE(s.ok()) << std::hex << addr << " -> " << s->name;
  EXPECT_EQ(s.error(), ktl::Error::NotFound);
}

TEST(Symbolize, LookupStartsMiddlesEnds) {
  auto bytes = build(kSyms);
  SymbolTable t = table_of(bytes);
  EXPECT_EQ(t.count(), 5u);
  expect_sym(t, 0xffffffff80100000, "kmain", 0);
  expect_sym(t, 0xffffffff80100013, "kmain", 0x13);
  expect_sym(t, 0xffffffff8010003f, "kmain", 0x3f);
  expect_sym(t, 0xffffffff80100040, "panic(char const*)", 0);
  expect_sym(t, 0xffffffff8010004f, "panic(char const*)", 0xf);
  expect_sym(t, 0xffffffff801000c0, "last_sized", 0);
  expect_sym(t, 0xffffffff801000df, "last_sized", 0x1f);
}

TEST(Symbolize, GapsBeforeFirstAfterLast) {
  auto bytes = build(kSyms);
  SymbolTable t = table_of(bytes);
  expect_none(t, 0);
  expect_none(t, 0xffffffff800fffff);
  expect_none(t, 0xffffffff80100050);  // just past panic's size
  expect_none(t, 0xffffffff8010007f);
  expect_none(t, 0xffffffff801000e0);  // past last_sized, before trailing_label
  expect_none(t, 0xffffffff80100100);  // unsized last symbol: no known end
  expect_none(t, ~0ull);
}

TEST(Symbolize, UnsizedSymbolExtendsToNext) {
  auto bytes = build(kSyms);
  SymbolTable t = table_of(bytes);
  expect_sym(t, 0xffffffff80100080, "isr_common", 0);
  expect_sym(t, 0xffffffff801000bf, "isr_common", 0x3f);
}

TEST(Symbolize, SingleEntryAndEmpty) {
  auto one = build({{0x1000, 8, "f"}});
  SymbolTable t = table_of(one);
  expect_sym(t, 0x1000, "f", 0);
  expect_sym(t, 0x1007, "f", 7);
  expect_none(t, 0xfff);
  expect_none(t, 0x1008);

  auto empty = build({});
  ASSERT_EQ(empty.size(), kSymbolTableHeaderSize);
  SymbolTable e = table_of(empty);
  EXPECT_EQ(e.count(), 0u);
  expect_none(e, 0x1000);
  expect_none(SymbolTable(), 0x1000);
}

TEST(Symbolize, ManySymbolsBinarySearch) {
  std::vector<TestSym> syms;
  for (uint64_t i = 0; i < 1000; ++i)
    syms.push_back({0xffffffff80000000 + i * 0x100, 0x80, "f" + std::to_string(i)});
  auto bytes = build(syms);
  SymbolTable t = table_of(bytes);
  for (uint64_t i = 0; i < 1000; ++i) {
    uint64_t base = 0xffffffff80000000 + i * 0x100;
    expect_sym(t, base + 0x7f, "f" + std::to_string(i), 0x7f);
    expect_none(t, base + 0x80);
  }
}

TEST(Symbolize, TrailingBytesAfterTotalSizeIgnored) {
  auto bytes = build(kSyms);
  size_t total = bytes.size();
  bytes.resize(total + 64, 0xaa);  // e.g. section padding
  SymbolTable t = table_of(bytes);
  expect_sym(t, 0xffffffff80100040, "panic(char const*)", 0);
}

TEST(Symbolize, Print) {
  auto bytes = build(kSyms);
  SymbolTable t = table_of(bytes);
  char buf[64];
  ktl::BufferSink out(buf, sizeof buf);
  t.print(out, 0xffffffff80100045);
  EXPECT_EQ(out.view(), "panic(char const*)+0x5");
  ktl::BufferSink out2(buf, sizeof buf);
  t.print(out2, 0x42);
  EXPECT_EQ(out2.view(), "?");
}

// --- corrupt tables: each must be rejected, never crash ---

ktl::Error reject(const std::vector<uint8_t>& bytes) {
  auto t = SymbolTable::from_bytes(bytes);
  EXPECT_FALSE(t.ok());
  return t.error();
}

TEST(SymbolizeCorrupt, TooShort) {
  auto bytes = build(kSyms);
  EXPECT_EQ(reject({}), ktl::Error::Truncated);
  EXPECT_EQ(reject(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 15)), ktl::Error::Truncated);
  // total_size claims more than is there.
  bytes.pop_back();
  EXPECT_EQ(reject(bytes), ktl::Error::Truncated);
}

TEST(SymbolizeCorrupt, BadMagic) {
  auto bytes = build(kSyms);
  bytes[0] ^= 1;
  EXPECT_EQ(reject(bytes), ktl::Error::BadMagic);
}

TEST(SymbolizeCorrupt, CountTooLarge) {
  auto bytes = build(kSyms);
  put32(bytes, 4, 6);  // entries would overlap the string table
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
  put32(bytes, 4, 0xffffffff);  // would overflow 32-bit size arithmetic
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
}

TEST(SymbolizeCorrupt, StrtabOffsetOutOfRange) {
  auto bytes = build(kSyms);
  put32(bytes, 8, uint32_t(bytes.size() + 1));
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
  put32(bytes, 8, 8);  // inside the header
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
}

TEST(SymbolizeCorrupt, TotalSizeSmallerThanHeader) {
  auto bytes = build({});
  put32(bytes, 12, 4);
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
}

TEST(SymbolizeCorrupt, NameOffsetOutOfRange) {
  auto bytes = build(kSyms);
  uint32_t strtab_size = uint32_t(bytes.size() - (kSymbolTableHeaderSize + 5 * kSymbolTableEntrySize));
  put32(bytes, kSymbolTableHeaderSize + 2 * kSymbolTableEntrySize + 12, strtab_size);
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
  put32(bytes, kSymbolTableHeaderSize + 2 * kSymbolTableEntrySize + 12, 0xffffffff);
  EXPECT_EQ(reject(bytes), ktl::Error::OutOfRange);
}

TEST(SymbolizeCorrupt, Unsorted) {
  auto bytes = build({{0x2000, 4, "b"}, {0x1000, 4, "a"}});
  EXPECT_EQ(reject(bytes), ktl::Error::InvalidArgument);
  auto dup = build({{0x1000, 4, "a"}, {0x1000, 4, "b"}});
  EXPECT_EQ(reject(dup), ktl::Error::InvalidArgument);
}

TEST(SymbolizeCorrupt, SizeWraps) {
  auto bytes = build({{0xfffffffffffffff0, 0x20, "wraps"}});
  EXPECT_EQ(reject(bytes), ktl::Error::InvalidArgument);
}

TEST(SymbolizeCorrupt, MissingNul) {
  auto bytes = build(kSyms);
  bytes.back() = 'x';  // the last name runs off the end
  EXPECT_EQ(reject(bytes), ktl::Error::InvalidArgument);
  // Entries but an empty string table.
  auto no_strtab = build({{0x1000, 4, "a"}});
  put32(no_strtab, 12, uint32_t(kSymbolTableHeaderSize + kSymbolTableEntrySize));
  EXPECT_EQ(reject(no_strtab), ktl::Error::InvalidArgument);
}

// Every single-byte corruption of the header and entries is either rejected
// or yields a table whose lookups stay in bounds (ASan checks the latter).
TEST(SymbolizeCorrupt, ByteFlipsNeverCrash) {
  auto good = build(kSyms);
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      auto bytes = good;
      bytes[i] ^= flip;
      auto t = SymbolTable::from_bytes(bytes);
      if (!t.ok()) continue;
      for (const auto& s : kSyms) {
        auto r = t->lookup(s.address + 1);
        if (r.ok()) EXPECT_LE(r->name.size(), good.size());
      }
    }
  }
}

}  // namespace
}  // namespace klib
