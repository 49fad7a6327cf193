// manifest_test.cc — host tests for keel/manifest.h: every accepted form,
// every refusal (error, line and reason), and the start order.
#include <gtest/gtest.h>
#include <keel/manifest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

using keel::Grant;
using keel::ParseError;
using keel::manifest::find;
using keel::manifest::Manifest;
using keel::manifest::parse;
using keel::manifest::Restart;
using keel::manifest::Service;
using keel::manifest::start_order;
using keel::manifest::StartOrder;
using ktl::Error;

namespace {

// A Manifest is ~45 KiB: keep it off the test's stack.
std::unique_ptr<Manifest> parse_ok(std::string_view text) {
  auto m = std::make_unique<Manifest>();
  ParseError where;
  auto r = parse(text, *m, &where);
  EXPECT_TRUE(r.ok()) << "line " << where.line << ": " << where.reason << " (" << ktl::error_name(r.error())
                      << ")";
  return m;
}

// Checks that `text` is refused with `error` at `line` for `reason`, and that
// the output is left empty.
testing::AssertionResult Refused(std::string_view text, Error error, uint32_t line, std::string_view reason) {
  auto m = std::make_unique<Manifest>();
  ParseError where;
  auto r = parse(text, *m, &where);
  if (r.ok()) return testing::AssertionFailure() << "accepted";
  if (r.error() != error || where.line != line || where.reason == nullptr || reason != where.reason)
    return testing::AssertionFailure() << "refused with " << ktl::error_name(r.error()) << " at line "
                                       << where.line << ": " << (where.reason ? where.reason : "(null)");
  if (m->count != 0) return testing::AssertionFailure() << "output not emptied";
  return testing::AssertionSuccess();
}

// `text` prefixed by a valid service block (lines 1-2), so that the line
// under test is line 3.
std::string in_service(std::string_view line) {
  return "service s\nprogram /sbin/s\n" + std::string(line) + "\n";
}

std::vector<std::string> order_names(const Manifest& m) {
  auto order = start_order(m);
  EXPECT_TRUE(order.ok());
  std::vector<std::string> names;
  for (size_t i = 0; i < order->count; ++i) names.push_back(m.services[order->index[i]].name);
  return names;
}

const char kExample[] = R"(# Keel boot manifest
service names
    program /sbin/names
    restart always            # always | on-failure | never   (default on-failure)

service vfs
    program /sbin/vfs
    after names               # dependencies: started only after these are running
    heartbeat 1000            # ms between heartbeats; 0 or absent = none
service serial
    program /sbin/serial
    args --baud 115200        # argv[1..]
    after names devmgr
    grant ioports 0x3f8 8     # base count (port range)
    grant irq 4               # an ISA IRQ / GSI number
    grant devmem 0xfebf0000 0x1000   # physical base, size (bytes, page multiples)
service devmgr
	program /sbin/devmgr
	restart never
	grant resource            # the whole device authority (for devmgr only)
	grant modules             # the boot modules (the initrd)
)";

// ---------------------------------------------------------------------------
// Accepted forms

TEST(Manifest, Example) {
  auto m = parse_ok(kExample);
  ASSERT_EQ(m->count, 4u);

  const Service& names = m->services[0];
  EXPECT_STREQ(names.name, "names");
  EXPECT_STREQ(names.program, "/sbin/names");
  EXPECT_EQ(names.restart, Restart::Always);
  EXPECT_EQ(names.heartbeat_ms, 0u);
  EXPECT_EQ(names.arg_count, 0u);
  EXPECT_EQ(names.after_count, 0u);
  EXPECT_EQ(names.grant_count, 0u);
  EXPECT_EQ(names.line, 2u);

  const Service& vfs = m->services[1];
  EXPECT_STREQ(vfs.name, "vfs");
  EXPECT_EQ(vfs.restart, Restart::OnFailure);  // the default
  EXPECT_EQ(vfs.heartbeat_ms, 1000u);
  ASSERT_EQ(vfs.after_count, 1u);
  EXPECT_STREQ(vfs.after[0], "names");
  EXPECT_EQ(vfs.after_index[0], 0u);
  EXPECT_EQ(vfs.after_line[0], 8u);
  EXPECT_EQ(vfs.line, 6u);

  const Service& serial = m->services[2];
  ASSERT_EQ(serial.arg_count, 2u);
  EXPECT_STREQ(serial.args[0], "--baud");
  EXPECT_STREQ(serial.args[1], "115200");
  ASSERT_EQ(serial.after_count, 2u);
  EXPECT_EQ(serial.after_index[0], 0u);
  EXPECT_EQ(serial.after_index[1], 3u);  // a forward reference
  ASSERT_EQ(serial.grant_count, 3u);
  EXPECT_EQ(serial.grants[0], Grant::ioports(0x3f8, 8));
  EXPECT_EQ(serial.grants[1], Grant::irq(4));
  EXPECT_EQ(serial.grants[2], Grant::devmem(0xfebf0000, 0x1000));

  const Service& devmgr = m->services[3];
  EXPECT_EQ(devmgr.restart, Restart::Never);
  ASSERT_EQ(devmgr.grant_count, 2u);
  EXPECT_EQ(devmgr.grants[0], Grant::resource());
  EXPECT_EQ(devmgr.grants[1], Grant::modules());

  EXPECT_EQ(find(*m, "serial"), &m->services[2]);
  EXPECT_EQ(find(*m, "seria"), nullptr);
  EXPECT_EQ(find(*m, ""), nullptr);
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"names", "vfs", "devmgr", "serial"}));
}

TEST(Manifest, EmptyTextsAreEmptyManifests) {
  for (const char* text : {"", "\n", "# only a comment", "  \t \n\n# x\n   # indented comment\n", "\r\n"}) {
    auto m = parse_ok(text);
    EXPECT_EQ(m->count, 0u) << text;
    auto order = start_order(*m);
    ASSERT_TRUE(order.ok());
    EXPECT_EQ(order->count, 0u);
  }
}

TEST(Manifest, RestartPolicies) {
  auto m = parse_ok(
      "service a\nprogram /a\nrestart always\n"
      "service b\nprogram /b\nrestart on-failure\n"
      "service c\nprogram /c\nrestart never\n"
      "service d\nprogram /d\n");
  ASSERT_EQ(m->count, 4u);
  EXPECT_EQ(m->services[0].restart, Restart::Always);
  EXPECT_EQ(m->services[1].restart, Restart::OnFailure);
  EXPECT_EQ(m->services[2].restart, Restart::Never);
  EXPECT_EQ(m->services[3].restart, Restart::OnFailure);
}

TEST(Manifest, KeywordsInAnyOrderWithinABlock) {
  auto m = parse_ok(
      "service a\ngrant irq 1\nheartbeat 5\nafter b\nargs x\nrestart never\nprogram /a\n"
      "service b\nprogram /b\n");
  ASSERT_EQ(m->count, 2u);
  EXPECT_STREQ(m->services[0].program, "/a");
  EXPECT_EQ(m->services[0].heartbeat_ms, 5u);
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"b", "a"}));
}

TEST(Manifest, Heartbeats) {
  auto m = parse_ok(
      "service a\nprogram /a\nheartbeat 0\n"
      "service b\nprogram /b\nheartbeat 3600000\n"
      "service c\nprogram /c\nheartbeat 0x3e8\n");
  EXPECT_EQ(m->services[0].heartbeat_ms, 0u);
  EXPECT_EQ(m->services[1].heartbeat_ms, keel::manifest::kMaxHeartbeatMs);
  EXPECT_EQ(m->services[2].heartbeat_ms, 1000u);
}

TEST(Manifest, ArgsAccumulateUpToTheLimit) {
  std::string arg63(63, 'x');
  auto m = parse_ok(in_service("args a b c\nargs d\targs --x=1,2 !\"$%&'()*\nargs " + arg63));
  const Service& s = m->services[0];
  ASSERT_EQ(s.arg_count, keel::manifest::kMaxArgs);
  EXPECT_STREQ(s.args[0], "a");
  EXPECT_STREQ(s.args[3], "d");
  EXPECT_STREQ(s.args[4], "args");  // only the first token of a line is a keyword
  EXPECT_STREQ(s.args[5], "--x=1,2");
  EXPECT_STREQ(s.args[6], "!\"$%&'()*");
  EXPECT_STREQ(s.args[7], arg63.c_str());
}

TEST(Manifest, EightArgsExactly) {
  std::string arg63(63, 'x');
  auto m = parse_ok(in_service("args 1 2 3 4 5 6 7\nargs " + arg63));
  ASSERT_EQ(m->services[0].arg_count, 8u);
  EXPECT_STREQ(m->services[0].args[7], arg63.c_str());
}

TEST(Manifest, DependenciesAccumulateUpToTheLimit) {
  std::string text = "service top\nprogram /top\nafter d1 d2 d3\nafter d4\nafter d5 d6 d7 d8\n";
  for (int i = 1; i <= 8; ++i) text += "service d" + std::to_string(i) + "\nprogram /d\n";
  auto m = parse_ok(text);
  const Service& top = m->services[0];
  ASSERT_EQ(top.after_count, 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(top.after_index[i], i + 1);
    EXPECT_EQ(top.after_line[i], i < 3 ? 3u : i < 4 ? 4u : 5u);
  }
  auto names = order_names(*m);
  EXPECT_EQ(names.back(), "top");
  EXPECT_EQ(names.front(), "d1");
}

TEST(Manifest, AllGrantForms) {
  auto m =
      parse_ok(in_service("grant ioports 0x3f8 8\n"
                          "grant ioports 0 0x10000\n"  // the whole port space
                          "grant ioports 0xffff 1\n"   // the last port
                          "grant ioports 65535 1\n"    // decimal
                          "grant irq 0\n"
                          "grant irq 255\n"
                          "grant irq 0xFF\n"  // upper-case hex digits
                          "grant devmem 0 0x1000\n"
                          "grant devmem 0xfebf0000 4096\n"
                          "grant devmem 0xffffffffff000 0x1000\n"  // ends exactly at 2^52
                          "grant devmem 0 0x10000000000000\n"      // all 2^52 bytes
                          "grant resource\n"
                          "grant framebuffer\n"
                          "grant resource\n"  // repeats are allowed
                          "grant\tirq\t4\t# tabs and a comment\n"
                          "grant irq 0x0004\n"));  // hex may have leading zeros
  const Service& s = m->services[0];
  ASSERT_EQ(s.grant_count, keel::manifest::kMaxGrants);
  EXPECT_EQ(s.grants[0], Grant::ioports(0x3f8, 8));
  EXPECT_EQ(s.grants[1], Grant::ioports(0, 0x10000));
  EXPECT_EQ(s.grants[2], Grant::ioports(0xffff, 1));
  EXPECT_EQ(s.grants[3], Grant::ioports(0xffff, 1));
  EXPECT_EQ(s.grants[4], Grant::irq(0));
  EXPECT_EQ(s.grants[5], Grant::irq(255));
  EXPECT_EQ(s.grants[6], Grant::irq(255));
  EXPECT_EQ(s.grants[7], Grant::devmem(0, 0x1000));
  EXPECT_EQ(s.grants[8], Grant::devmem(0xfebf0000, 0x1000));
  EXPECT_EQ(s.grants[9], Grant::devmem(0xffffffffff000, 0x1000));
  EXPECT_EQ(s.grants[10], Grant::devmem(0, uint64_t(1) << 52));
  EXPECT_EQ(s.grants[11], Grant::resource());
  EXPECT_EQ(s.grants[12], Grant::framebuffer());
  EXPECT_EQ(s.grants[13], Grant::resource());
  EXPECT_EQ(s.grants[14], Grant::irq(4));
  EXPECT_EQ(s.grants[15], Grant::irq(4));
  for (size_t i = 0; i < s.grant_count; ++i) EXPECT_TRUE(keel::is_valid(s.grants[i])) << i;
}

TEST(Manifest, NameAndPathLimitsAndCharacters) {
  std::string name31(31, 'n');
  std::string path127 = "/" + std::string(126, 'p');
  auto m = parse_ok("service " + name31 + "\nprogram " + path127 +
                    "\nservice a-b_c-0123456789-xyz\nprogram /Sbin/My-Prog_2.0+x/..hidden/a.b\n"
                    "service z\nprogram /z\n");
  ASSERT_EQ(m->count, 3u);
  EXPECT_EQ(std::string(m->services[0].name), name31);
  EXPECT_EQ(std::string(m->services[0].program), path127);
  EXPECT_STREQ(m->services[1].name, "a-b_c-0123456789-xyz");
  EXPECT_STREQ(m->services[1].program, "/Sbin/My-Prog_2.0+x/..hidden/a.b");
  EXPECT_STREQ(m->services[2].program, "/z");
}

TEST(Manifest, LineEndingsBlanksAndComments) {
  // CRLF, no final newline, comments glued to tokens, UTF-8 and control bytes in comments.
  auto m = parse_ok(
      "  service a # the first\r\n"
      "\tprogram /a#glued\r\n"
      "# caf\xc3\xa9 \x01\x7f\r\n"
      "\r\n"
      "service b\n"
      "   program    /b   \n"
      "after a");
  ASSERT_EQ(m->count, 2u);
  EXPECT_STREQ(m->services[0].program, "/a");
  EXPECT_STREQ(m->services[1].after[0], "a");
  EXPECT_EQ(m->services[1].after_line[0], 7u);
  EXPECT_EQ(m->services[1].line, 5u);
}

TEST(Manifest, ThirtyTwoServices) {
  std::string text;
  for (int i = 0; i < 32; ++i) text += "service s" + std::to_string(i) + "\nprogram /s\n";
  auto m = parse_ok(text);
  EXPECT_EQ(m->count, keel::manifest::kMaxServices);
  auto names = order_names(*m);
  ASSERT_EQ(names.size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(names[i], "s" + std::to_string(i));
}

TEST(Manifest, NullErrorPointerIsAllowed) {
  auto m = std::make_unique<Manifest>();
  EXPECT_EQ(parse("bogus", *m).error(), Error::InvalidArgument);
  EXPECT_TRUE(parse("service a\nprogram /a\n", *m).ok());
}

TEST(Manifest, FailureEmptiesAPreviousResult) {
  auto m = std::make_unique<Manifest>();
  ASSERT_TRUE(parse("service a\nprogram /a\n", *m).ok());
  ASSERT_EQ(m->count, 1u);
  ParseError where;
  EXPECT_FALSE(parse("service a\nprogram /a\nservice a\n", *m, &where).ok());
  EXPECT_EQ(m->count, 0u);
  EXPECT_EQ(find(*m, "a"), nullptr);
  // And a later success starts from scratch.
  ASSERT_TRUE(parse("service b\nprogram /b\nargs x\n", *m).ok());
  ASSERT_EQ(m->count, 1u);
  EXPECT_EQ(m->services[0].arg_count, 1u);
}

// ---------------------------------------------------------------------------
// Refusals: structure

TEST(ManifestRefuses, UnknownKeyword) {
  EXPECT_TRUE(Refused("bogus", Error::InvalidArgument, 1, "unknown keyword"));
  EXPECT_TRUE(Refused(in_service("programs /x"), Error::InvalidArgument, 3, "unknown keyword"));
  EXPECT_TRUE(Refused(in_service("Program /x"), Error::InvalidArgument, 3, "unknown keyword"));
  EXPECT_TRUE(Refused(in_service("lookup * names"), Error::InvalidArgument, 3, "unknown keyword"));
}

TEST(ManifestRefuses, KeywordBeforeAnyService) {
  for (const char* kw : {"program /a", "args x", "after a", "restart always", "heartbeat 1", "grant irq 1"}) {
    EXPECT_TRUE(Refused(std::string("# header\n\n") + kw + "\nservice a\nprogram /a\n",
                        Error::InvalidArgument, 3, "keyword outside a service"))
        << kw;
  }
}

TEST(ManifestRefuses, MissingProgram) {
  EXPECT_TRUE(Refused("service a\n", Error::InvalidArgument, 1, "missing program"));
  EXPECT_TRUE(Refused("service a\nprogram /a\n\nservice b\nargs x\nservice c\nprogram /c\n",
                      Error::InvalidArgument, 4, "missing program"));
  EXPECT_TRUE(Refused("service a\nprogram /a\nservice b\nrestart never\n", Error::InvalidArgument, 3,
                      "missing program"));
  // Reported when the block ends, so before a problem on a later line.
  EXPECT_TRUE(Refused("service a\nservice b\nbogus\n", Error::InvalidArgument, 1, "missing program"));
}

TEST(ManifestRefuses, DuplicateServiceName) {
  EXPECT_TRUE(Refused("service a\nprogram /a\nservice b\nprogram /b\nservice a\nprogram /c\n",
                      Error::AlreadyExists, 5, "duplicate service name"));
}

TEST(ManifestRefuses, DuplicateSingleValuedKeywords) {
  EXPECT_TRUE(Refused(in_service("program /t"), Error::InvalidArgument, 3, "duplicate program"));
  EXPECT_TRUE(
      Refused(in_service("restart never\nrestart never"), Error::InvalidArgument, 4, "duplicate restart"));
  EXPECT_TRUE(
      Refused(in_service("heartbeat 0\nheartbeat 0"), Error::InvalidArgument, 4, "duplicate heartbeat"));
}

TEST(ManifestRefuses, MissingOperands) {
  EXPECT_TRUE(Refused("service\n", Error::InvalidArgument, 1, "missing service name"));
  EXPECT_TRUE(Refused("service a\nprogram\n", Error::InvalidArgument, 2, "missing program path"));
  EXPECT_TRUE(Refused(in_service("args"), Error::InvalidArgument, 3, "missing args"));
  EXPECT_TRUE(Refused(in_service("args # nothing"), Error::InvalidArgument, 3, "missing args"));
  EXPECT_TRUE(Refused(in_service("after"), Error::InvalidArgument, 3, "missing dependency"));
  EXPECT_TRUE(Refused(in_service("restart"), Error::InvalidArgument, 3, "missing restart policy"));
  EXPECT_TRUE(Refused(in_service("heartbeat"), Error::InvalidArgument, 3, "missing number"));
  EXPECT_TRUE(Refused(in_service("grant"), Error::InvalidArgument, 3, "missing grant kind"));
  EXPECT_TRUE(Refused(in_service("grant irq"), Error::InvalidArgument, 3, "missing number"));
  EXPECT_TRUE(Refused(in_service("grant ioports 0x3f8"), Error::InvalidArgument, 3, "missing number"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0x1000"), Error::InvalidArgument, 3, "missing number"));
}

TEST(ManifestRefuses, UnknownValues) {
  EXPECT_TRUE(Refused(in_service("restart sometimes"), Error::InvalidArgument, 3, "unknown restart policy"));
  EXPECT_TRUE(Refused(in_service("restart Always"), Error::InvalidArgument, 3, "unknown restart policy"));
  EXPECT_TRUE(Refused(in_service("grant dma 1"), Error::InvalidArgument, 3, "unknown grant kind"));
  EXPECT_TRUE(Refused(in_service("grant IRQ 1"), Error::InvalidArgument, 3, "unknown grant kind"));
}

TEST(ManifestRefuses, TrailingGarbage) {
  const char* lines[] = {
      "service t extra",          "program /t /u",      "restart always now",
      "heartbeat 10 ms",          "grant irq 4 5",      "grant ioports 1 2 3",
      "grant devmem 0 0x1000 rw", "grant resource all", "grant modules initrd", "grant framebuffer 0",
  };
  for (const char* line : lines) {
    std::string text = std::string(line).starts_with("service") ? std::string(line) + "\n"
                       : std::string(line).starts_with("program")
                           ? "service t\n" + std::string(line) + "\n"
                           : "service t\nprogram /t\n" + std::string(line) + "\n";
    uint32_t want = std::string(line).starts_with("service")   ? 1
                    : std::string(line).starts_with("program") ? 2
                                                               : 3;
    EXPECT_TRUE(Refused(text, Error::InvalidArgument, want, "trailing garbage")) << line;
  }
}

// ---------------------------------------------------------------------------
// Refusals: dependencies

TEST(ManifestRefuses, UnknownDependency) {
  // Reported after the whole text is read, at the `after` line.
  EXPECT_TRUE(Refused("service a\nprogram /a\nafter b\nafter nobody\nservice b\nprogram /b\n",
                      Error::NotFound, 4, "unknown dependency"));
}

TEST(ManifestRefuses, SelfDependency) {
  EXPECT_TRUE(Refused("service a\nprogram /a\nafter b a\nservice b\nprogram /b\n", Error::InvalidArgument, 3,
                      "service depends on itself"));
}

TEST(ManifestRefuses, DuplicateDependency) {
  EXPECT_TRUE(Refused("service a\nprogram /a\nafter b\nafter b\nservice b\nprogram /b\n",
                      Error::InvalidArgument, 4, "duplicate dependency"));
  EXPECT_TRUE(Refused("service b\nprogram /b\nservice a\nprogram /a\nafter b b\n", Error::InvalidArgument, 5,
                      "duplicate dependency"));
}

TEST(ManifestRefuses, DependencyCycles) {
  // a -> c -> b -> a: the walk from a follows a->c (line 3), c->b (line 9),
  // b->a (line 6), which closes the cycle.
  EXPECT_TRUE(
      Refused("service a\nprogram /a\nafter c\n"
              "service b\nprogram /b\nafter a\n"
              "service c\nprogram /c\nafter b\n",
              Error::InvalidArgument, 6, "dependency cycle"));
  // Two services waiting for each other.
  EXPECT_TRUE(Refused("service x\nprogram /x\nafter y\nservice y\nprogram /y\nafter x\n",
                      Error::InvalidArgument, 6, "dependency cycle"));
  // A cycle reached through a service that is not on it: the line is on the cycle.
  EXPECT_TRUE(
      Refused("service ok\nprogram /ok\n"
              "service tail\nprogram /t\nafter ok p\n"
              "service p\nprogram /p\nafter ok\nafter q\n"
              "service q\nprogram /q\nafter p\n",
              Error::InvalidArgument, 12, "dependency cycle"));
}

// ---------------------------------------------------------------------------
// Refusals: capacities

TEST(ManifestRefuses, TooManyServices) {
  std::string text;
  for (int i = 0; i < 33; ++i) text += "service s" + std::to_string(i) + "\nprogram /s\n";
  EXPECT_TRUE(Refused(text, Error::NoSpace, 65, "too many services"));
}

TEST(ManifestRefuses, TooManyArgs) {
  EXPECT_TRUE(Refused(in_service("args 1 2 3 4 5 6 7 8 9"), Error::NoSpace, 3, "too many args"));
  EXPECT_TRUE(Refused(in_service("args 1 2 3 4 5\nargs 6 7 8\nargs 9"), Error::NoSpace, 5, "too many args"));
}

TEST(ManifestRefuses, TooManyDependencies) {
  std::string text = "service top\nprogram /top\nafter d1 d2 d3 d4 d5\nafter d6 d7 d8 d9\n";
  for (int i = 1; i <= 9; ++i) text += "service d" + std::to_string(i) + "\nprogram /d\n";
  EXPECT_TRUE(Refused(text, Error::NoSpace, 4, "too many dependencies"));
}

TEST(ManifestRefuses, TooManyGrants) {
  std::string lines;
  for (int i = 0; i < 16; ++i) lines += "grant irq " + std::to_string(i) + "\n";
  EXPECT_TRUE(parse_ok(in_service(lines))->services[0].grant_count == 16);
  EXPECT_TRUE(Refused(in_service(lines + "grant modules"), Error::NoSpace, 19, "too many grants"));
}

// ---------------------------------------------------------------------------
// Refusals: names, paths, arguments

TEST(ManifestRefuses, BadNames) {
  EXPECT_TRUE(Refused("service " + std::string(32, 'n') + "\n", Error::InvalidArgument, 1, "name too long"));
  for (const char* name : {"Names", "na.mes", "na/mes", "n*", "name!", "n\"", "*"})
    EXPECT_TRUE(
        Refused(std::string("service ") + name + "\n", Error::InvalidArgument, 1, "bad character in name"))
        << name;
  EXPECT_TRUE(Refused(in_service("after Names"), Error::InvalidArgument, 3, "bad character in name"));
  EXPECT_TRUE(
      Refused(in_service("after " + std::string(32, 'd')), Error::InvalidArgument, 3, "name too long"));
}

TEST(ManifestRefuses, BadPaths) {
  auto program = [](std::string path) { return "service a\nprogram " + path + "\n"; };
  EXPECT_TRUE(Refused(program("/" + std::string(127, 'p')), Error::InvalidArgument, 2, "path too long"));
  EXPECT_TRUE(Refused(program("sbin/names"), Error::InvalidArgument, 2, "path not absolute"));
  EXPECT_TRUE(Refused(program("./names"), Error::InvalidArgument, 2, "path not absolute"));
  EXPECT_TRUE(Refused(program("*"), Error::InvalidArgument, 2, "path not absolute"));
  for (const char* path : {"/sbin/na*mes", "/sbin/na\\mes", "/sbin/n:a", "/sbin/n\"a"})
    EXPECT_TRUE(Refused(program(path), Error::InvalidArgument, 2, "bad character in path")) << path;
  for (const char* path :
       {"/", "//sbin/names", "/sbin//names", "/sbin/names/", "/sbin/./names", "/sbin/../names", "/..", "/."})
    EXPECT_TRUE(Refused(program(path), Error::InvalidArgument, 2, "path not normalised")) << path;
}

TEST(ManifestRefuses, ArgTooLong) {
  EXPECT_TRUE(
      Refused(in_service("args ok " + std::string(64, 'x')), Error::InvalidArgument, 3, "arg too long"));
}

// ---------------------------------------------------------------------------
// Refusals: numbers and grants

TEST(ManifestRefuses, MalformedNumbers) {
  for (const char* n : {"12x", "0x", "0xg", "-1", "+1", "010", "00", "0X10", "1_000", "0x1.0", "1e3", "0b1"})
    EXPECT_TRUE(
        Refused(in_service(std::string("heartbeat ") + n), Error::InvalidArgument, 3, "malformed number"))
        << n;
  EXPECT_TRUE(Refused(in_service("grant irq four"), Error::InvalidArgument, 3, "malformed number"));
  EXPECT_TRUE(
      Refused(in_service("grant ioports 0x3f8 eight"), Error::InvalidArgument, 3, "malformed number"));
}

TEST(ManifestRefuses, NumbersOutOfRange) {
  EXPECT_TRUE(Refused(in_service("heartbeat 3600001"), Error::OutOfRange, 3, "heartbeat out of range"));
  EXPECT_TRUE(Refused(in_service("heartbeat 99999999999999999999999"), Error::OutOfRange, 3,
                      "heartbeat out of range"));
  EXPECT_TRUE(Refused(in_service("grant ioports 0x10000 1"), Error::OutOfRange, 3, "port out of range"));
  EXPECT_TRUE(
      Refused(in_service("grant ioports 0 0x10001"), Error::OutOfRange, 3, "port count out of range"));
  EXPECT_TRUE(Refused(in_service("grant ioports 0xffff 2"), Error::OutOfRange, 3, "port range past 0xffff"));
  EXPECT_TRUE(Refused(in_service("grant ioports 1 0x10000"), Error::OutOfRange, 3, "port range past 0xffff"));
  EXPECT_TRUE(Refused(in_service("grant ioports 0x3f8 0"), Error::InvalidArgument, 3, "empty port range"));
  EXPECT_TRUE(Refused(in_service("grant irq 256"), Error::OutOfRange, 3, "irq out of range"));
  EXPECT_TRUE(Refused(in_service("grant irq 0x10000000000000000"), Error::OutOfRange, 3, "irq out of range"));
}

TEST(ManifestRefuses, BadDevmem) {
  EXPECT_TRUE(Refused(in_service("grant devmem 0xfebf0001 0x1000"), Error::Misaligned, 3,
                      "devmem base not page aligned"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0xfebf0000 0x800"), Error::Misaligned, 3,
                      "devmem size not a page multiple"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0xfebf0000 0x1001"), Error::Misaligned, 3,
                      "devmem size not a page multiple"));
  EXPECT_TRUE(
      Refused(in_service("grant devmem 0xfebf0000 0"), Error::InvalidArgument, 3, "empty devmem range"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0xfffffffffffff000 0x2000"), Error::Overflow, 3,
                      "devmem range overflows"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0xffffffffff000 0x2000"), Error::OutOfRange, 3,
                      "devmem range past 2^52"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0x10000000000000 0x1000"), Error::OutOfRange, 3,
                      "devmem range past 2^52"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0x10000000000000000 0x1000"), Error::OutOfRange, 3,
                      "devmem base out of range"));
  EXPECT_TRUE(Refused(in_service("grant devmem 0 0x10000000000000000"), Error::OutOfRange, 3,
                      "devmem size out of range"));
}

// ---------------------------------------------------------------------------
// Refusals: bytes

TEST(ManifestRefuses, BadBytes) {
  using namespace std::string_literals;
  EXPECT_TRUE(Refused(in_service("args a\0b"s), Error::InvalidArgument, 3, "NUL byte"));
  EXPECT_TRUE(Refused(in_service("# a comment with a \0 NUL"s), Error::InvalidArgument, 3, "NUL byte"));
  EXPECT_TRUE(Refused(in_service("args a\x01"), Error::InvalidArgument, 3, "control character"));
  EXPECT_TRUE(Refused(in_service("args a\x7f"), Error::InvalidArgument, 3, "control character"));
  EXPECT_TRUE(Refused(in_service("args a\rb"), Error::InvalidArgument, 3, "control character"));
  EXPECT_STREQ(parse_ok(in_service("args a\r"))->services[0].args[0], "a");  // "a\r\n" is a CRLF line
  EXPECT_TRUE(Refused(in_service("args a\v"), Error::InvalidArgument, 3, "control character"));
  EXPECT_TRUE(
      Refused(in_service("args caf\xc3\xa9"), Error::InvalidArgument, 3, "non-ASCII byte outside a comment"));
  // A lone '\r' at the very end of the text (no '\n') is not a line ending.
  EXPECT_TRUE(Refused("service a\nprogram /a\r", Error::InvalidArgument, 2, "control character"));
}

TEST(ManifestRefuses, LineNumbersCountEveryLine) {
  EXPECT_TRUE(Refused("# 1\r\n\r\n   \n\t\nservice a  # 5\nprogram /a\n\n# 8\nbogus\n",
                      Error::InvalidArgument, 9, "unknown keyword"));
}

// ---------------------------------------------------------------------------
// Start order

TEST(StartOrder, IndependentServicesKeepManifestOrder) {
  auto m = parse_ok("service c\nprogram /c\nservice a\nprogram /a\nservice b\nprogram /b\n");
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(StartOrder, ChainDeclaredBackwards) {
  auto m = parse_ok(
      "service d\nprogram /d\nafter c\nservice c\nprogram /c\nafter b\n"
      "service b\nprogram /b\nafter a\nservice a\nprogram /a\n");
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(StartOrder, Diamond) {
  //     a
  //    / \      d after b and c; b and c after a.
  //   b   c
  //    \ /
  //     d
  auto m = parse_ok(
      "service a\nprogram /a\nservice b\nprogram /b\nafter a\n"
      "service c\nprogram /c\nafter a\nservice d\nprogram /d\nafter b c\n");
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"a", "b", "c", "d"}));

  // Declared bottom-up: each step takes the first ready service in manifest order.
  auto r = parse_ok(
      "service d\nprogram /d\nafter b c\nservice c\nprogram /c\nafter a\n"
      "service b\nprogram /b\nafter a\nservice a\nprogram /a\n");
  EXPECT_EQ(order_names(*r), (std::vector<std::string>{"a", "c", "b", "d"}));
}

TEST(StartOrder, IndependentServicesInterleaveStably) {
  // x and y depend on nothing and keep their places relative to the others
  // that are ready; late waits for z, which is declared last.
  auto m = parse_ok(
      "service late\nprogram /l\nafter z\n"
      "service x\nprogram /x\n"
      "service mid\nprogram /m\nafter x\n"
      "service y\nprogram /y\n"
      "service z\nprogram /z\n");
  EXPECT_EQ(order_names(*m), (std::vector<std::string>{"x", "mid", "y", "z", "late"}));
}

TEST(StartOrder, TwoDiamondsSharingARoot) {
  auto m = parse_ok(
      "service names\nprogram /n\n"
      "service devmgr\nprogram /d\nafter names\n"
      "service vfs\nprogram /v\nafter names\n"
      "service serial\nprogram /s\nafter devmgr names\n"
      "service console\nprogram /c\nafter serial vfs\n"
      "service disk\nprogram /k\nafter devmgr\n"
      "service fs\nprogram /f\nafter disk vfs\n");
  EXPECT_EQ(order_names(*m),
            (std::vector<std::string>{"names", "devmgr", "vfs", "serial", "console", "disk", "fs"}));
}

TEST(StartOrder, RandomAcyclicManifestsAreOrderedStably) {
  std::mt19937 rng(4);
  for (int round = 0; round < 200; ++round) {
    // A random DAG over a random permutation, written in manifest order.
    size_t n = 1 + rng() % 32;
    std::vector<size_t> rank(n);
    for (size_t i = 0; i < n; ++i) rank[i] = i;
    std::shuffle(rank.begin(), rank.end(), rng);
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      text += "service s" + std::to_string(i) + "\nprogram /s\n";
      size_t deps = 0;
      for (size_t j = 0; j < n && deps < 8; ++j)
        if (rank[j] < rank[i] && rng() % 3 == 0) {
          text += "after s" + std::to_string(j) + "\n";
          ++deps;
        }
    }
    auto m = parse_ok(text);
    ASSERT_EQ(m->count, n);
    auto order = start_order(*m);
    ASSERT_TRUE(order.ok());
    ASSERT_EQ(order->count, n);
    // Each service comes after its dependencies, and at each step no
    // earlier-declared service was ready but skipped.
    std::vector<bool> placed(n, false);
    for (size_t k = 0; k < n; ++k) {
      size_t chosen = order->index[k];
      auto ready = [&](size_t i) {
        if (placed[i]) return false;
        for (size_t d = 0; d < m->services[i].after_count; ++d)
          if (!placed[m->services[i].after_index[d]]) return false;
        return true;
      };
      ASSERT_TRUE(ready(chosen)) << text;
      for (size_t i = 0; i < chosen; ++i) ASSERT_FALSE(ready(i)) << text;
      placed[chosen] = true;
    }
  }
}

TEST(StartOrder, RefusesBrokenHandBuiltManifests) {
  auto m = std::make_unique<Manifest>();
  m->count = 2;
  m->services[0].after_count = 1;
  m->services[0].after_index[0] = 1;
  m->services[1].after_count = 1;
  m->services[1].after_index[0] = 0;
  EXPECT_EQ(start_order(*m).error(), Error::InvalidArgument);  // a cycle

  m->services[1].after_count = 0;
  EXPECT_TRUE(start_order(*m).ok());

  m->services[1].after_count = 1;
  m->services[1].after_index[0] = 2;  // past count
  EXPECT_EQ(start_order(*m).error(), Error::InvalidArgument);

  m->services[1].after_count = keel::manifest::kMaxDependencies + 1;
  EXPECT_EQ(start_order(*m).error(), Error::InvalidArgument);

  m->services[1].after_count = 0;
  m->count = keel::manifest::kMaxServices + 1;
  EXPECT_EQ(start_order(*m).error(), Error::InvalidArgument);
}

}  // namespace

// ---------------------------------------------------------------------------
// `match pci VVVV:DDDD`: the service is the driver of that PCI function.

TEST(Manifest, MatchPci) {
  auto m = parse_ok(in_service("match pci 1234:11e8\ngrant irq 4\n") + "service t\nprogram /t\nmatch pci 8086:10D3\n");
  const Service& s = m->services[0];
  ASSERT_EQ(s.grant_count, 2u);
  EXPECT_EQ(s.grants[0], Grant::pci(0x1234, 0x11e8));
  EXPECT_EQ(s.grants[1], Grant::irq(4));
  EXPECT_TRUE(keel::is_valid(s.grants[0]));
  EXPECT_EQ(m->services[1].grants[0], Grant::pci(0x8086, 0x10d3));  // either case
  auto z = parse_ok(in_service("match pci 0000:ffff"));
  EXPECT_EQ(z->services[0].grants[0], Grant::pci(0, 0xffff));
  EXPECT_FALSE(z->services[0].pci_intx);
  auto x = parse_ok(in_service("match pci 1234:11e8 intx"));
  EXPECT_EQ(x->services[0].grants[0], Grant::pci(0x1234, 0x11e8));
  EXPECT_TRUE(x->services[0].pci_intx);
}

TEST(ManifestRefuses, BadMatch) {
  EXPECT_TRUE(Refused(in_service("match"), Error::InvalidArgument, 3, "missing match kind"));
  EXPECT_TRUE(Refused(in_service("match usb 1234:5678"), Error::InvalidArgument, 3, "unknown match kind"));
  EXPECT_TRUE(Refused(in_service("match PCI 1234:5678"), Error::InvalidArgument, 3, "unknown match kind"));
  EXPECT_TRUE(Refused(in_service("match pci"), Error::InvalidArgument, 3, "missing pci id"));
  for (const char* id : {"1234", "1234:", ":1234", "123:4567", "12345:678", "1234:56789", "0x1234:5678",
                         "12g4:5678", "1234-5678", "1234::567", "1234:567 "})
    EXPECT_TRUE(Refused(in_service(std::string("match pci ") + id), Error::InvalidArgument, 3, "malformed pci id"))
        << id;
  EXPECT_TRUE(Refused(in_service("match pci ffff:1234"), Error::InvalidArgument, 3, "pci vendor 0xffff"));
  EXPECT_TRUE(Refused(in_service("match pci 1234:5678 9"), Error::InvalidArgument, 3, "trailing garbage"));
  EXPECT_TRUE(Refused(in_service("match pci 1234:5678 intx intx"), Error::InvalidArgument, 3, "trailing garbage"));
  EXPECT_TRUE(Refused(in_service("match pci 1234:5678 INTX"), Error::InvalidArgument, 3, "trailing garbage"));
  EXPECT_TRUE(Refused(in_service("match pci 1234:5678\nmatch pci 1234:5679"), Error::InvalidArgument, 4,
                      "duplicate match"));
  // A device is matched, never granted.
  EXPECT_TRUE(Refused(in_service("grant pci 1234:5678"), Error::InvalidArgument, 3, "pci is matched, not granted"));
  EXPECT_TRUE(Refused("match pci 1234:5678\nservice a\nprogram /a\n", Error::InvalidArgument, 1,
                      "keyword outside a service"));
}
