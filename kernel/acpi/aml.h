// acpi/aml.h — a minimal AML reader: finds the \_Sx sleep-type package.
//
// Keel has no AML interpreter. Powering off only needs the two SLP_TYP values
// of \_S5 (ACPI 6.4 §7.4.2 "\_Sx (System States)"), which every firmware we care
// about declares as a plain `Name (_S5, Package () {...})` of integer
// constants, so a byte-level scan of the DSDT/SSDT bodies is enough
// (the encodings used are ACPI 6.4 §20.2 "AML Grammar Definition").
#pragma once

#include <ktl/bytes.h>
#include <ktl/result.h>

#include <cstdint>

namespace acpi {

// SLP_TYPa / SLP_TYPb: the values to put in PM1a_CNT.SLP_TYP and
// PM1b_CNT.SLP_TYP (bits 12:10, so each is 0..7) to enter the sleep state
// (ACPI 6.4 Table 4.13 "PM1 Control Registers", §7.4.2).
struct SleepType {
  uint8_t slp_typa;
  uint8_t slp_typb;
};

// Searches the AML byte stream `aml` (a DSDT or SSDT body: the bytes after the
// 36-byte table header) for `Name (_Sx, Package () {a, b, ...})` where x is
// `state_digit` ('0'..'5'; '5' for soft-off), and returns {a & 7, b & 7}.
//
// Recognised encoding (ACPI 6.4 §20.2.2, §20.2.3, §20.2.4, §20.2.5.4):
//   NameOp 0x08, optional RootChar '\' 0x5C, NameSeg '_' 'S' x '_',
//   PackageOp 0x12, PkgLength (1-4 bytes), NumElements (1 byte), then
//   elements: ZeroOp 0x00, OneOp 0x01, OnesOp 0xFF, BytePrefix 0x0A b,
//   WordPrefix 0x0B w, DWordPrefix 0x0C d, QWordPrefix 0x0E q.
// Only the first two elements are decoded (the rest are reserved). A package
// with one element gives slp_typb = slp_typa. NumElements may exceed the
// number of initialisers (firmware often writes Package (4) {5, 5}); decoding
// stops at the end given by PkgLength.
//
// If the name occurs more than once, the first occurrence that decodes wins
// (a stray match inside a buffer does not hide the real declaration).
//
// Errors (when no occurrence decodes, the error of the first bad occurrence):
//   NotFound        no NameOp + NameSeg _Sx_ in `aml`
//   Truncated       `aml` ends before PackageOp or PkgLength is complete, or
//                   an element needs more bytes than PkgLength leaves
//   InvalidArgument `state_digit` not '0'..'5'; not followed by PackageOp;
//                   PkgLength reserved bits set, too small, or running past the
//                   end of `aml`; NumElements 0 or no initialiser; an element
//                   that is not an integer constant
// Reads only inside `aml`, whatever its contents.
ktl::Result<SleepType> find_sleep_package(ktl::Bytes aml, char state_digit);

}  // namespace acpi
