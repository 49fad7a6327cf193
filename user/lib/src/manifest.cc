// manifest.cc — the boot manifest parser and the service start order
// (format and refusals: keel/manifest.h).
#include <keel/manifest.h>

#include "text.h"

namespace keel::manifest {
namespace {

using ktl::Error;
using text::Diagnostics;
using text::Tokens;

// What a service block has said so far, beyond what Service records.
struct Block {
  Service* service = nullptr;
  bool restart_seen = false;
  bool heartbeat_seen = false;
};

bool is_keyword(std::string_view kw) {
  return kw == "service" || kw == "program" || kw == "args" || kw == "after" || kw == "restart" ||
         kw == "heartbeat" || kw == "grant" || kw == "match";
}

// Places services in stable topological order into `order` and marks them in
// `placed`; returns when no further service can be placed. Precondition: the
// manifest's counts and indices are in range.
void place_all(const Manifest& m, StartOrder& order, bool (&placed)[kMaxServices]) {
  order.count = 0;
  for (size_t i = 0; i < kMaxServices; ++i) placed[i] = false;
  size_t i = 0;
  while (i < m.count) {
    const Service& s = m.services[i];
    bool ready = !placed[i];
    for (size_t d = 0; ready && d < s.after_count; ++d) ready = placed[s.after_index[d]];
    if (!ready) {
      ++i;
      continue;
    }
    placed[i] = true;
    order.index[order.count++] = uint8_t(i);
    i = 0;  // placing i may have made an earlier service ready
  }
}

// The block of `b` ends: it must have named its program.
ktl::Result<void> finish_block(const Block& b, Diagnostics& diag) {
  if (b.service && b.service->program[0] == '\0')
    return diag.fail_at(b.service->line, Error::InvalidArgument, "missing program");
  return ktl::ok();
}

ktl::Result<void> parse_service(Tokens& t, Manifest& out, Block& block, Diagnostics& diag) {
  TRY(finish_block(block, diag));
  if (out.count == kMaxServices) return diag.fail(Error::NoSpace, "too many services");
  Service& s = out.services[out.count];
  s = Service{};
  TRY(text::take_name(t, s.name, "missing service name", diag));
  TRY(text::expect_end(t, diag));
  for (size_t i = 0; i < out.count; ++i)
    if (text::equals(out.services[i].name, s.name))
      return diag.fail(Error::AlreadyExists, "duplicate service name");
  s.line = diag.line();
  ++out.count;
  block = Block{&s};
  return ktl::ok();
}

ktl::Result<void> parse_args(Tokens& t, Service& s, Diagnostics& diag) {
  if (t.empty()) return diag.fail(Error::InvalidArgument, "missing args");
  while (!t.empty()) {
    std::string_view arg = t.next();
    if (s.arg_count == kMaxArgs) return diag.fail(Error::NoSpace, "too many args");
    if (arg.size() >= kArgSize) return diag.fail(Error::InvalidArgument, "arg too long");
    text::copy(arg, s.args[s.arg_count++], kArgSize);
  }
  return ktl::ok();
}

ktl::Result<void> parse_after(Tokens& t, Service& s, Diagnostics& diag) {
  if (t.empty()) return diag.fail(Error::InvalidArgument, "missing dependency");
  while (!t.empty()) {
    if (s.after_count == kMaxDependencies) return diag.fail(Error::NoSpace, "too many dependencies");
    char(&name)[kMaxNameLength + 1] = s.after[s.after_count];
    TRY(text::take_name(t, name, "missing dependency", diag));
    if (text::equals(s.name, name)) return diag.fail(Error::InvalidArgument, "service depends on itself");
    for (size_t d = 0; d < s.after_count; ++d)
      if (text::equals(s.after[d], name)) return diag.fail(Error::InvalidArgument, "duplicate dependency");
    s.after_line[s.after_count++] = diag.line();
  }
  return ktl::ok();
}

ktl::Result<void> parse_restart(Tokens& t, Block& b, Diagnostics& diag) {
  if (b.restart_seen) return diag.fail(Error::InvalidArgument, "duplicate restart");
  std::string_view policy = t.next();
  if (policy == "always") {
    b.service->restart = Restart::Always;
  } else if (policy == "on-failure") {
    b.service->restart = Restart::OnFailure;
  } else if (policy == "never") {
    b.service->restart = Restart::Never;
  } else if (policy.empty()) {
    return diag.fail(Error::InvalidArgument, "missing restart policy");
  } else {
    return diag.fail(Error::InvalidArgument, "unknown restart policy");
  }
  b.restart_seen = true;
  return ktl::ok();
}

ktl::Result<void> parse_line(Tokens& t, Manifest& out, Block& block, Diagnostics& diag) {
  std::string_view kw = t.next();
  if (!is_keyword(kw)) return diag.fail(Error::InvalidArgument, "unknown keyword");
  if (kw == "service") return parse_service(t, out, block, diag);
  if (!block.service) return diag.fail(Error::InvalidArgument, "keyword outside a service");
  Service& s = *block.service;

  if (kw == "program") {
    if (s.program[0] != '\0') return diag.fail(Error::InvalidArgument, "duplicate program");
    TRY(text::take_path(t, s.program, /*allow_any=*/false, diag));
  } else if (kw == "args") {
    TRY(parse_args(t, s, diag));
  } else if (kw == "after") {
    TRY(parse_after(t, s, diag));
  } else if (kw == "restart") {
    TRY(parse_restart(t, block, diag));
  } else if (kw == "heartbeat") {
    if (block.heartbeat_seen) return diag.fail(Error::InvalidArgument, "duplicate heartbeat");
    s.heartbeat_ms = uint32_t(TRY(text::take_number(t, kMaxHeartbeatMs, "heartbeat out of range", diag)));
    block.heartbeat_seen = true;
  } else if (kw == "grant") {
    if (s.grant_count == kMaxGrants) return diag.fail(Error::NoSpace, "too many grants");
    Grant g = TRY(text::take_grant(t, diag));
    if (g.kind == GrantKind::Pci) return diag.fail(Error::InvalidArgument, "pci is matched, not granted");
    s.grants[s.grant_count++] = g;
  } else if (kw == "match") {
    Tokens ahead = t;
    const std::string_view what = ahead.next();
    if (what.empty()) return diag.fail(Error::InvalidArgument, "missing match kind");
    if (what != "pci") return diag.fail(Error::InvalidArgument, "unknown match kind");
    for (size_t i = 0; i < s.grant_count; ++i)
      if (s.grants[i].kind == GrantKind::Pci) return diag.fail(Error::InvalidArgument, "duplicate match");
    if (s.grant_count == kMaxGrants) return diag.fail(Error::NoSpace, "too many grants");
    s.grants[s.grant_count++] = TRY(text::take_grant(t, diag));
    Tokens rest = t;
    if (rest.next() == "intx") {
      t = rest;
      s.pci_intx = true;
    }
  }
  return text::expect_end(t, diag);
}

// Resolves every `after` name to an index, then refuses cycles.
ktl::Result<void> link(Manifest& m, Diagnostics& diag) {
  for (size_t i = 0; i < m.count; ++i) {
    Service& s = m.services[i];
    for (size_t d = 0; d < s.after_count; ++d) {
      const Service* dep = find(m, s.after[d]);
      if (!dep) return diag.fail_at(s.after_line[d], Error::NotFound, "unknown dependency");
      s.after_index[d] = uint8_t(dep - m.services);
    }
  }

  StartOrder order;
  bool placed[kMaxServices];
  place_all(m, order, placed);
  if (order.count == m.count) return ktl::ok();

  // Every unplaced service has an unplaced dependency: follow the first one
  // from the first unplaced service until a service repeats. The edge into it
  // lies on a cycle; report the `after` line that named it.
  bool visited[kMaxServices] = {};
  size_t cur = 0;
  while (placed[cur]) ++cur;
  while (true) {
    visited[cur] = true;
    const Service& s = m.services[cur];
    size_t d = 0;
    while (d < s.after_count && placed[s.after_index[d]]) ++d;
    if (d == s.after_count) break;  // impossible after place_all; never read past the array
    size_t next = s.after_index[d];
    if (visited[next]) return diag.fail_at(s.after_line[d], Error::InvalidArgument, "dependency cycle");
    cur = next;
  }
  return diag.fail_at(m.services[cur].line, Error::InvalidArgument, "dependency cycle");
}

}  // namespace

ktl::Result<void> parse(std::string_view text, Manifest& out, ParseError* error) {
  out.count = 0;
  Diagnostics diag(error);
  text::LineReader reader(text);
  Block block;
  auto result = [&]() -> ktl::Result<void> {
    while (!reader.done()) {
      Tokens t = TRY(reader.next(diag));
      if (!t.empty()) TRY(parse_line(t, out, block, diag));
    }
    TRY(finish_block(block, diag));
    return link(out, diag);
  }();
  if (!result) out.count = 0;
  return result;
}

ktl::Result<StartOrder> start_order(const Manifest& m) {
  if (m.count > kMaxServices) return Error::InvalidArgument;
  for (size_t i = 0; i < m.count; ++i) {
    const Service& s = m.services[i];
    if (s.after_count > kMaxDependencies) return Error::InvalidArgument;
    for (size_t d = 0; d < s.after_count; ++d)
      if (s.after_index[d] >= m.count) return Error::InvalidArgument;
  }
  StartOrder order;
  bool placed[kMaxServices];
  place_all(m, order, placed);
  if (order.count != m.count) return Error::InvalidArgument;
  return order;
}

const Service* find(const Manifest& m, std::string_view name) {
  for (size_t i = 0; i < m.count && i < kMaxServices; ++i)
    if (text::equals(m.services[i].name, name)) return &m.services[i];
  return nullptr;
}

}  // namespace keel::manifest
