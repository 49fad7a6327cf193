// policy.cc — the names policy parser and its queries (format: keel/policy.h).
#include <keel/policy.h>

#include "text.h"

namespace keel::policy {
namespace {

using ktl::Error;
using text::Diagnostics;
using text::Tokens;

// The index of `path` in p.programs, adding it if new; kAnyProgram for "*".
ktl::Result<uint8_t> intern(Policy& p, const char* path, Diagnostics& diag) {
  if (text::equals(path, "*")) return kAnyProgram;
  for (size_t i = 0; i < p.program_count; ++i)
    if (text::equals(p.programs[i], path)) return uint8_t(i);
  if (p.program_count == kMaxPrograms) return diag.fail(Error::NoSpace, "too many programs");
  text::copy(path, p.programs[p.program_count], sizeof(p.programs[0]));
  return uint8_t(p.program_count++);
}

// The index of `program` in p.programs; -1 if it is not named (or is "*",
// which only a rule may say).
int program_index(const Policy& p, std::string_view program) {
  for (size_t i = 0; i < p.program_count && i < kMaxPrograms; ++i)
    if (text::equals(p.programs[i], program)) return int(i);
  return -1;
}

ktl::Result<void> parse_lookup(Tokens& t, Policy& p, Diagnostics& diag) {
  char path[kMaxPathLength + 1];
  TRY(text::take_path(t, path, /*allow_any=*/true, diag));
  if (t.empty()) return diag.fail(Error::InvalidArgument, "missing service name");
  uint8_t program = TRY(intern(p, path, diag));
  while (!t.empty()) {
    char service[kMaxNameLength + 1];
    TRY(text::take_name(t, service, "missing service name", diag));
    bool known = false;
    for (size_t i = 0; i < p.lookup_count && !known; ++i)
      known = p.lookups[i].program == program && text::equals(p.lookups[i].service, service);
    if (known) continue;
    if (p.lookup_count == kMaxLookupRules) return diag.fail(Error::NoSpace, "too many lookup rules");
    LookupRule& rule = p.lookups[p.lookup_count++];
    rule.program = program;
    text::copy(service, rule.service, sizeof(rule.service));
  }
  return ktl::ok();
}

ktl::Result<void> parse_device(Tokens& t, Policy& p, Diagnostics& diag) {
  char path[kMaxPathLength + 1];
  TRY(text::take_path(t, path, /*allow_any=*/true, diag));
  if (text::equals(path, "*")) return diag.fail(Error::InvalidArgument, "wildcard device rule");
  Grant grant = TRY(text::take_grant(t, diag));
  TRY(text::expect_end(t, diag));
  uint8_t program = TRY(intern(p, path, diag));
  for (size_t i = 0; i < p.device_count; ++i)
    if (p.devices[i].program == program && p.devices[i].grant == grant) return ktl::ok();
  if (p.device_count == kMaxDeviceRules) return diag.fail(Error::NoSpace, "too many device rules");
  p.devices[p.device_count++] = DeviceRule{program, grant};
  return ktl::ok();
}

ktl::Result<void> parse_lines(std::string_view text, Policy& out, Diagnostics& diag) {
  text::LineReader reader(text);
  while (!reader.done()) {
    Tokens t = TRY(reader.next(diag));
    if (t.empty()) continue;
    std::string_view kw = t.next();
    if (kw == "lookup") {
      TRY(parse_lookup(t, out, diag));
    } else if (kw == "device") {
      TRY(parse_device(t, out, diag));
    } else {
      return diag.fail(Error::InvalidArgument, "unknown keyword");
    }
  }
  return ktl::ok();
}

}  // namespace

ktl::Result<void> parse(std::string_view text, Policy& out, ParseError* error) {
  out.program_count = 0;
  out.lookup_count = 0;
  out.device_count = 0;
  Diagnostics diag(error);
  auto result = parse_lines(text, out, diag);
  if (!result) {
    out.program_count = 0;
    out.lookup_count = 0;
    out.device_count = 0;
  }
  return result;
}

bool may_lookup(const Policy& p, std::string_view program, std::string_view service) {
  int index = program_index(p, program);
  for (size_t i = 0; i < p.lookup_count && i < kMaxLookupRules; ++i) {
    const LookupRule& rule = p.lookups[i];
    bool program_matches = rule.program == kAnyProgram || (index >= 0 && rule.program == index);
    if (program_matches && text::equals(rule.service, service)) return true;
  }
  return false;
}

bool may_hold(const Policy& p, std::string_view program, const Grant& grant) {
  if (!is_valid(grant)) return false;
  int index = program_index(p, program);
  if (index < 0) return false;
  for (size_t i = 0; i < p.device_count && i < kMaxDeviceRules; ++i)
    if (p.devices[i].program == index && covers(p.devices[i].grant, grant)) return true;
  return false;
}

}  // namespace keel::policy
