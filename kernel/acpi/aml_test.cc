// acpi/aml_test.cc — host tests for the \_Sx package finder: real firmware
// encodings, every malformation we classify, truncation at every byte and a
// fixed-seed fuzz. Inputs are copied into exactly-sized heap buffers so that
// ASan catches any read past the end.
#include <acpi/aml.h>

#include <gtest/gtest.h>

#include <vector>

namespace acpi {
namespace {

using ktl::Error;
using Aml = std::vector<uint8_t>;

ktl::Result<SleepType> find(const Aml& aml, char digit = '5') {
  Aml exact(aml);  // exactly aml.size() bytes on the heap
  return find_sleep_package(ktl::Bytes(exact.data(), exact.size()), digit);
}

void expect_types(const Aml& aml, uint8_t a, uint8_t b, char digit = '5') {
  auto r = find(aml, digit);
  ASSERT_TRUE(r.ok()) << ktl::error_name(r.error());
  EXPECT_EQ(r->slp_typa, a);
  EXPECT_EQ(r->slp_typb, b);
}

void expect_error(const Aml& aml, Error e, char digit = '5') {
  auto r = find(aml, digit);
  ASSERT_FALSE(r.ok()) << "found " << int(r->slp_typa) << "," << int(r->slp_typb);
  EXPECT_EQ(r.error(), e) << ktl::error_name(r.error());
}

Aml cat(std::initializer_list<Aml> parts) {
  Aml out;
  for (const Aml& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Name (_S5, Package (4) {0x05, 0x05}) followed by unrelated bytes, as real
// firmware has it: NumElements 4 but only two initialisers.
const Aml kReal = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
// QEMU q35/piix: Name (_S5, Package (4) {Zero, Zero, Zero, Zero}).
const Aml kQemu = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};

TEST(AmlS5, RealFirmwareEncoding) { expect_types(kReal, 5, 5); }

TEST(AmlS5, QemuZeroOps) { expect_types(kQemu, 0, 0); }

TEST(AmlS5, RootPrefix) {
  expect_types({0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A, 0x07, 0x0A, 0x02, 0x00}, 7, 2);
}

TEST(AmlS5, EmbeddedInOtherAml) {
  Aml prefix = {0x10, 0x0C, '\\', '_', 'S', 'B', '_', 0x08, 'P', 'C', 'I', '0', 0x00,  // Scope, Name
                0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x0A, 0x01, 0x0A, 0x01,   // \_S3
                '_', 'S', '5', '_', 0x12};  // a bare NameSeg (a reference, no NameOp)
  Aml suffix = {0x14, 0x06, '_', 'P', 'T', 'S', 0x01};
  expect_types(cat({prefix, kReal, suffix}), 5, 5);
  expect_types(cat({prefix, kReal, suffix}), 1, 1, '3');
  expect_error(cat({prefix, kReal, suffix}), Error::NotFound, '4');
}

TEST(AmlS5, MultiBytePkgLength) {
  // Package (20) {5, 6, Zero x 18}: PkgLength = 2 (itself) + 1 + 22 = 25 =
  // 0x19, encoded in two bytes as 0x49 (1 follow byte, low nibble 9), 0x01.
  Aml aml = {0x08, '_', 'S', '5', '_', 0x12, 0x49, 0x01, 0x14, 0x0A, 0x05, 0x0A, 0x06};
  aml.resize(aml.size() + 18, 0x00);
  expect_types(aml, 5, 6);
}

// Builds Name (_S5, Package (num_elements) {elements}) with an n-byte
// PkgLength (n = 1..4; longer than necessary is a valid encoding).
Aml s5_with_pkglength(int n, const Aml& elements, uint8_t num_elements) {
  size_t len = size_t(n) + 1 + elements.size();
  Aml out = {0x08, '_', 'S', '5', '_', 0x12};
  if (n == 1) {
    out.push_back(uint8_t(len));
  } else {
    out.push_back(uint8_t(((n - 1) << 6) | (len & 0xF)));
    for (int i = 1; i < n; ++i) out.push_back(uint8_t(len >> (4 + 8 * (i - 1))));
  }
  out.push_back(num_elements);
  out.insert(out.end(), elements.begin(), elements.end());
  return out;
}

TEST(AmlS5, AllPkgLengthEncodings) {
  for (int n = 1; n <= 4; ++n) {
    SCOPED_TRACE(n);
    expect_types(s5_with_pkglength(n, {0x0A, 0x03, 0x0A, 0x04, 0x00, 0x00}, 4), 3, 4);
  }
  // A long package (> 63 bytes needs 2 length bytes).
  Aml elements = {0x0A, 0x05, 0x01};
  for (int i = 0; i < 100; ++i) elements.push_back(0x00);
  expect_types(s5_with_pkglength(2, elements, 103), 5, 1);
  // A 3-byte length with a nonzero high byte (> 4 KiB package).
  Aml big = {0x0A, 0x02, 0x0A, 0x03};
  big.resize(5000, 0x00);
  expect_types(s5_with_pkglength(3, big, 255), 2, 3);
}

TEST(AmlS5, AllIntegerEncodings) {
  // Value of the low byte, masked to the 3-bit SLP_TYP field.
  expect_types(s5_with_pkglength(1, {0x01, 0xFF}, 2), 1, 7);                          // OneOp, OnesOp
  expect_types(s5_with_pkglength(1, {0x0B, 0x05, 0x12, 0x0C, 0x06, 0, 0, 0x80}, 2), 5, 6);  // Word, DWord
  expect_types(s5_with_pkglength(1, {0x0E, 0x02, 1, 2, 3, 4, 5, 6, 7, 0x00}, 2), 2, 0);     // QWord, Zero
  expect_types(s5_with_pkglength(1, {0x0A, 0x0D, 0x0A, 0xF3}, 2), 5, 3);              // masked with 7
}

TEST(AmlS5, OneElementCopiesToB) {
  expect_types(s5_with_pkglength(1, {0x0A, 0x05}, 1), 5, 5);
  // NumElements says 2, but PkgLength ends after one initialiser.
  expect_types(s5_with_pkglength(1, {0x0A, 0x06}, 2), 6, 6);
}

TEST(AmlS5, NotFound) {
  expect_error({}, Error::NotFound);
  expect_error({0x08}, Error::NotFound);
  expect_error({0x08, '_', 'S', '5'}, Error::NotFound);
  expect_error({0x08, '\\', '_', 'S', '5'}, Error::NotFound);
  expect_error({'_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A, 0x05, 0x0A, 0x05}, Error::NotFound);  // no NameOp
  expect_error({0x08, '_', 'S', '4', '_', 0x12, 0x04, 0x02, 0x00, 0x00}, Error::NotFound);
  expect_error({0x08, '\\', '\\', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00}, Error::NotFound);
}

TEST(AmlS5, Garbage) {
  // Not a package: Name (_S5, 5).
  expect_error({0x08, '_', 'S', '5', '_', 0x0A, 0x05}, Error::InvalidArgument);
  // PkgLength past the end of the AML.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x3F, 0x04, 0x0A, 0x05}, Error::InvalidArgument);
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0xCF, 0xFF, 0xFF, 0xFF, 0x04, 0x00}, Error::InvalidArgument);
  // PkgLength too small to hold itself and NumElements.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x00, 0x04, 0x00}, Error::InvalidArgument);
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x01, 0x04, 0x00}, Error::InvalidArgument);
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x42, 0x00, 0x04, 0x00}, Error::InvalidArgument);
  // Reserved PkgLength bits 5:4 set in a multi-byte encoding.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x75, 0x00, 0x01, 0x0A, 0x05}, Error::InvalidArgument);
  // NumElements 0, or no initialiser.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x00, 0x0A, 0x05}, Error::InvalidArgument);
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x02, 0x04, 0x0A, 0x05}, Error::InvalidArgument);
  // Elements that are not integer constants: a name, a nested package.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x02, 'A', 'B', 'C', 'D', 0x00}, Error::InvalidArgument);
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x00, 0x12, 0x02, 0x00}, Error::InvalidArgument);
  // State digit outside '0'..'5'.
  expect_error(kReal, Error::InvalidArgument, '6');
  expect_error(kReal, Error::InvalidArgument, 'x');
}

TEST(AmlS5, ElementCutByPkgLength) {
  // BytePrefix whose operand lies beyond PkgLength (but inside the AML).
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x0A, 0x05, 0x00}, Error::Truncated);
  // Second element cut: DWordPrefix with 2 of 4 bytes inside the package.
  expect_error({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x00, 0x0C, 0x05, 0x00, 0x00, 0x00}, Error::Truncated);
}

TEST(AmlS5, BadCandidateDoesNotHideAGoodOne) {
  Aml stray = {0x08, '_', 'S', '5', '_', 0x0A, 0x01};  // e.g. inside a buffer
  expect_types(cat({stray, kReal}), 5, 5);
  // With no good one, the first bad candidate's error is returned.
  expect_error(cat({stray, {0x08, '_', 'S', '5', '_', 0x12}}), Error::InvalidArgument);
}

// Cutting a valid declaration at every length: never a crash or an
// out-of-bounds read, and the error says how far the bytes got.
TEST(AmlS5, TruncatedAtEveryPosition) {
  const Aml inputs[] = {kReal, kQemu, s5_with_pkglength(4, {0x0E, 1, 2, 3, 4, 5, 6, 7, 8, 0x0B, 1, 2}, 2),
                        {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x07, 0x01}};
  for (const Aml& full : inputs) {
    ASSERT_TRUE(find(full).ok());
    size_t name_len = full[1] == '\\' ? 6 : 5;
    size_t pkglen_bytes = 1 + (full[name_len + 1] >> 6);
    size_t package_end = name_len + 1;  // PkgLength starts here
    {
      size_t len = full[name_len + 1] & (pkglen_bytes == 1 ? 0x3F : 0x0F);
      for (size_t i = 1; i < pkglen_bytes; ++i) len |= size_t(full[name_len + 1 + i]) << (4 + 8 * (i - 1));
      package_end += len;
    }
    for (size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(n);
      Aml cut(full.begin(), full.begin() + n);
      auto r = find(cut);
      if (n >= package_end) {
        EXPECT_TRUE(r.ok());  // only padding was cut
      } else if (n < name_len) {
        EXPECT_EQ(r.error(), Error::NotFound);
      } else if (n < name_len + 1 + pkglen_bytes) {
        EXPECT_EQ(r.error(), Error::Truncated);  // PackageOp or PkgLength cut
      } else {
        EXPECT_EQ(r.error(), Error::InvalidArgument);  // PkgLength past the end
      }
    }
  }
}

// Fixed-seed random input. Bytes are drawn mostly from the values the parser
// reacts to, and the Name (_S5 prefix is planted often, so that the fuzz
// reaches the package decoder instead of stopping at NotFound.
TEST(AmlS5, RandomFuzz) {
  uint64_t state = 0x2545F4914F6CDD1D;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const uint8_t interesting[] = {0x00, 0x01, 0xFF, 0x08, 0x5C, '_', 'S', '5', 0x12, 0x0A, 0x0B, 0x0C, 0x0E,
                                 0x40, 0x80, 0xC0, 0x3F, 0x7F, 0x02, 0x04};
  Aml prefix = {0x08, '_', 'S', '5', '_', 0x12};
  int counts[4] = {};  // ok, NotFound, Truncated, InvalidArgument
  for (int iter = 0; iter < 200000; ++iter) {
    char digit = char('0' + next() % 6);
    prefix[3] = uint8_t(digit);
    Aml aml(next() % 48);
    for (auto& b : aml) b = (next() % 4 == 0) ? uint8_t(next()) : interesting[next() % sizeof interesting];
    if (!aml.empty() && next() % 2 == 0) {
      size_t at = next() % aml.size();
      Aml plant = prefix;
      if (next() % 2) {  // a plausible one-byte PkgLength and NumElements too
        plant.push_back(uint8_t(2 + next() % 9));
        plant.push_back(uint8_t(1 + next() % 4));
      }
      for (size_t i = 0; i < plant.size() && at + i < aml.size(); ++i) aml[at + i] = plant[i];
    }
    auto r = find(aml, digit);
    if (r.ok()) {
      ++counts[0];
      EXPECT_LE(r->slp_typa, 7);
      EXPECT_LE(r->slp_typb, 7);
    } else if (r.error() == Error::NotFound) {
      ++counts[1];
    } else if (r.error() == Error::Truncated) {
      ++counts[2];
    } else {
      ++counts[3];
      ASSERT_EQ(r.error(), Error::InvalidArgument);
    }
  }
  // The fuzz exercised every outcome.
  for (int c : counts) EXPECT_GT(c, 1000) << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3];
}

}  // namespace
}  // namespace acpi
