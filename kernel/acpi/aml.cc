// acpi/aml.cc — byte-level search for the \_Sx sleep-type package in AML.
//
// Not an interpreter: it pattern-matches one declaration form (see aml.h).
// Every read goes through ktl::load or an explicit bound, so arbitrary input
// (it comes from firmware) can only produce an error.
#include <acpi/aml.h>

namespace acpi {
namespace {

// AML opcodes and prefixes (ACPI 6.4 §20.2).
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kRootChar = 0x5C;  // '\'
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kOnesOp = 0xFF;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kWordPrefix = 0x0B;
constexpr uint8_t kDWordPrefix = 0x0C;
constexpr uint8_t kQWordPrefix = 0x0E;

constexpr uint8_t kSlpTypMask = 0x7;  // SLP_TYPx is a 3-bit field

// Decodes one integer-constant element at `pos` inside `pkg` (which ends where
// PkgLength says the package ends) and advances `pos`. Returns the low byte.
ktl::Result<uint8_t> read_element(ktl::Bytes pkg, size_t& pos) {
  uint8_t op = TRY(ktl::load<uint8_t>(pkg, pos));
  size_t operand = 0;
  switch (op) {
    case kZeroOp: pos += 1; return uint8_t{0};
    case kOneOp: pos += 1; return uint8_t{1};
    case kOnesOp: pos += 1; return uint8_t{0xFF};
    case kBytePrefix: operand = 1; break;
    case kWordPrefix: operand = 2; break;
    case kDWordPrefix: operand = 4; break;
    case kQWordPrefix: operand = 8; break;
    default: return ktl::Error::InvalidArgument;  // not an integer constant
  }
  // The operand must lie inside the package; little-endian, so the low byte
  // comes first (ACPI 6.4 §20.2.3).
  TRY(ktl::slice(pkg, pos + 1, operand));
  uint8_t low = pkg[pos + 1];
  pos += 1 + operand;
  return low;
}

// Decodes `PackageOp PkgLength NumElements elements...` starting at `at`.
ktl::Result<SleepType> read_package(ktl::Bytes aml, size_t at) {
  uint8_t op = TRY(ktl::load<uint8_t>(aml, at));
  if (op != kPackageOp) return ktl::Error::InvalidArgument;

  // PkgLength (ACPI 6.4 §20.2.4): bits 7:6 of the lead byte give the number
  // of following bytes (0..3). With none, bits 5:0 are the length; otherwise
  // bits 3:0 are the low nibble, bits 5:4 are reserved (must be 0), and each
  // following byte adds 8 more bits. The length counts itself.
  size_t pkg_start = at + 1;
  uint8_t lead = TRY(ktl::load<uint8_t>(aml, pkg_start));
  size_t extra = lead >> 6;
  uint32_t length = 0;
  if (extra == 0) {
    length = lead & 0x3F;
  } else {
    if (lead & 0x30) return ktl::Error::InvalidArgument;
    ktl::Bytes tail = TRY(ktl::slice(aml, pkg_start + 1, extra));
    length = lead & 0x0F;
    for (size_t i = 0; i < extra; ++i) length |= uint32_t(tail[i]) << (4 + 8 * i);
  }
  size_t header = 1 + extra;  // the PkgLength bytes themselves
  // The package must at least hold its PkgLength and NumElements, and must end
  // inside the table.
  if (length < header + 1) return ktl::Error::InvalidArgument;
  if (length > aml.size() - pkg_start) return ktl::Error::InvalidArgument;

  ktl::Bytes pkg = aml.subspan(pkg_start, length);
  size_t pos = header;
  uint8_t num_elements = pkg[pos++];
  // NumElements may exceed the initialisers present; at least one is needed.
  if (num_elements == 0 || pos == pkg.size()) return ktl::Error::InvalidArgument;

  SleepType t{};
  t.slp_typa = TRY(read_element(pkg, pos)) & kSlpTypMask;
  t.slp_typb = t.slp_typa;
  if (num_elements >= 2 && pos < pkg.size()) t.slp_typb = TRY(read_element(pkg, pos)) & kSlpTypMask;
  return t;
}

}  // namespace

ktl::Result<SleepType> find_sleep_package(ktl::Bytes aml, char state_digit) {
  if (state_digit < '0' || state_digit > '5') return ktl::Error::InvalidArgument;
  const uint8_t seg[4] = {'_', 'S', uint8_t(state_digit), '_'};

  ktl::Error first_error = ktl::Error::None;
  for (size_t i = 0; i < aml.size(); ++i) {
    if (aml[i] != kNameOp) continue;
    size_t name = i + 1;
    if (name < aml.size() && aml[name] == kRootChar) ++name;
    if (aml.size() - name < sizeof seg || __builtin_memcmp(aml.data() + name, seg, sizeof seg) != 0) continue;

    ktl::Result<SleepType> r = read_package(aml, name + sizeof seg);
    if (r.ok()) return r;
    if (first_error == ktl::Error::None) first_error = r.error();
  }
  return first_error == ktl::Error::None ? ktl::Error::NotFound : first_error;
}

}  // namespace acpi
