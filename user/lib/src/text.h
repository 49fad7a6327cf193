// text.h — the lexical layer shared by libkeel's line-based configuration
// formats (manifest.cc, policy.cc): lines, comments, tokens, numbers, names,
// paths and grants, with the first failure recorded as a ParseError.
//
// Private to libkeel's sources: the formats' public contract is in
// keel/manifest.h and keel/policy.h, which describe these lexical rules.
#pragma once

#include <keel/grant.h>
#include <ktl/error.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::text {

// Records the first failure of a parse for the caller's ParseError (which may
// be null). `return diag.fail(...)` works in any function returning a Result.
class Diagnostics {
 public:
  explicit Diagnostics(ParseError* out) : out_(out) {}

  void set_line(uint32_t line) { line_ = line; }
  uint32_t line() const { return line_; }

  // Records `reason` at the current line and returns `error`.
  ktl::Error fail(ktl::Error error, const char* reason) { return fail_at(line_, error, reason); }
  ktl::Error fail_at(uint32_t line, ktl::Error error, const char* reason) {
    if (out_) {
      out_->line = line;
      out_->reason = reason;
    }
    return error;
  }

 private:
  ParseError* out_;
  uint32_t line_ = 0;
};

// The tokens of one line: runs of bytes other than space and tab.
class Tokens {
 public:
  Tokens() = default;
  explicit Tokens(std::string_view line) : rest_(line) { skip_blanks(); }

  bool empty() const { return rest_.empty(); }
  // The next token; empty at the end of the line.
  std::string_view next();

 private:
  void skip_blanks();
  std::string_view rest_;
};

// Splits text into lines ('\n'; a '\r' right before it is dropped). Each line
// is checked and stripped of its comment ('#' to the end of the line).
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}

  bool done() const { return rest_.empty(); }
  // The tokens of the next line; sets the line number in `diag`. Errors:
  // InvalidArgument for a NUL byte anywhere, or a control character (other
  // than tab) or a byte >= 0x80 before the comment. Precondition: !done().
  ktl::Result<Tokens> next(Diagnostics& diag);

 private:
  std::string_view rest_;
  uint32_t line_ = 0;
};

// Pure checks (no diagnostics): a service name is [a-z0-9_-]{1,31}; a path is
// absolute and normalised (see keel/manifest.h), at most kMaxPathLength bytes.
bool is_name(std::string_view s);
bool is_path(std::string_view s);

// Compares a NUL-terminated fixed buffer with a token.
bool equals(const char* cstr, std::string_view s);

// Copies a validated token into a NUL-terminated buffer of `size` bytes
// (precondition: s.size() < size).
void copy(std::string_view s, char* out, size_t size);

// The next token as a service name, copied into `out`. Errors (all
// InvalidArgument): missing (with `missing_reason`, e.g. "missing service
// name"), too long, bad characters.
ktl::Result<void> take_name(Tokens& t, char (&out)[kMaxNameLength + 1], const char* missing_reason,
                            Diagnostics& diag);
// The next token as a program path (or, with allow_any, "*": then out = "*").
// Errors (InvalidArgument): missing, too long, not absolute, bad characters,
// not normalised.
ktl::Result<void> take_path(Tokens& t, char (&out)[kMaxPathLength + 1], bool allow_any, Diagnostics& diag);

// A number token: decimal without leading zeros, or 0x followed by hex digits.
// Errors: InvalidArgument (malformed), OutOfRange (above `max`, with
// `range_reason`).
ktl::Result<uint64_t> parse_number(std::string_view s, uint64_t max, const char* range_reason,
                                   Diagnostics& diag);
// The next token as a number (InvalidArgument "missing number" if none).
ktl::Result<uint64_t> take_number(Tokens& t, uint64_t max, const char* range_reason, Diagnostics& diag);

// The tokens of a grant after its leading keyword ("grant", or "device
// PROGRAM"): KIND and its numbers. Does not check for trailing tokens.
// Errors: InvalidArgument (missing or unknown kind, missing or malformed
// number), OutOfRange, Misaligned, Overflow as documented in keel/manifest.h.
ktl::Result<Grant> take_grant(Tokens& t, Diagnostics& diag);

// InvalidArgument "trailing garbage" unless the line has no tokens left.
ktl::Result<void> expect_end(const Tokens& t, Diagnostics& diag);

}  // namespace keel::text
