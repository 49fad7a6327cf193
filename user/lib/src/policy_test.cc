// policy_test.cc — host tests for keel/policy.h and the Grant helpers of
// keel/grant.h: accepted forms, refusals with their lines, the wildcard,
// ranges inside and outside, and default deny.
#include <gtest/gtest.h>
#include <keel/grant.h>
#include <keel/policy.h>

#include <memory>
#include <string>

using keel::Grant;
using keel::GrantKind;
using keel::ParseError;
using keel::policy::may_hold;
using keel::policy::may_lookup;
using keel::policy::parse;
using keel::policy::Policy;
using ktl::Error;

namespace {

std::unique_ptr<Policy> parse_ok(std::string_view text) {
  auto p = std::make_unique<Policy>();
  ParseError where;
  auto r = parse(text, *p, &where);
  EXPECT_TRUE(r.ok()) << "line " << where.line << ": " << where.reason << " (" << ktl::error_name(r.error())
                      << ")";
  return p;
}

testing::AssertionResult Refused(std::string_view text, Error error, uint32_t line, std::string_view reason) {
  auto p = std::make_unique<Policy>();
  ParseError where;
  auto r = parse(text, *p, &where);
  if (r.ok()) return testing::AssertionFailure() << "accepted";
  if (r.error() != error || where.line != line || where.reason == nullptr || reason != where.reason)
    return testing::AssertionFailure() << "refused with " << ktl::error_name(r.error()) << " at line "
                                       << where.line << ": " << (where.reason ? where.reason : "(null)");
  if (p->program_count != 0 || p->lookup_count != 0 || p->device_count != 0)
    return testing::AssertionFailure() << "output not emptied";
  return testing::AssertionSuccess();
}

const char kExample[] = R"(# PROGRAM may look up SERVICE(s); * matches any program
lookup /sbin/shell console vfs names
lookup * names
# device authority a program may hold
device /sbin/serial ioports 0x3f8 8
device /sbin/serial irq 4
device /sbin/devmgr resource
device /sbin/fb devmem 0xfd000000 0x400000
device /sbin/init modules
)";

// ---------------------------------------------------------------------------
// Grant helpers

TEST(Grant, Validity) {
  EXPECT_TRUE(keel::is_valid(Grant::ioports(0, 0x10000)));
  EXPECT_TRUE(keel::is_valid(Grant::ioports(0xffff, 1)));
  EXPECT_FALSE(keel::is_valid(Grant::ioports(0xffff, 2)));
  EXPECT_FALSE(keel::is_valid(Grant::ioports(0x3f8, 0)));
  EXPECT_FALSE(keel::is_valid(Grant::ioports(0x10000, 1)));
  EXPECT_FALSE(keel::is_valid(Grant::ioports(1, UINT64_MAX)));  // no wrap-around
  EXPECT_TRUE(keel::is_valid(Grant::irq(255)));
  EXPECT_FALSE(keel::is_valid(Grant::irq(256)));
  EXPECT_FALSE(keel::is_valid(Grant{GrantKind::Irq, 4, 2}));
  EXPECT_TRUE(keel::is_valid(Grant::devmem(0xffffffffff000, 0x1000)));
  EXPECT_FALSE(keel::is_valid(Grant::devmem(0xffffffffff000, 0x2000)));
  EXPECT_FALSE(keel::is_valid(Grant::devmem(0x1000, 0)));
  EXPECT_FALSE(keel::is_valid(Grant::devmem(0x1001, 0x1000)));
  EXPECT_FALSE(keel::is_valid(Grant::devmem(0x1000, 0x1001)));
  EXPECT_FALSE(keel::is_valid(Grant::devmem(0xfffffffffffff000, 0x2000)));
  EXPECT_TRUE(keel::is_valid(Grant::resource()));
  EXPECT_TRUE(keel::is_valid(Grant::modules()));
  EXPECT_FALSE(keel::is_valid(Grant{GrantKind::Resource, 1, 0}));
  EXPECT_FALSE(keel::is_valid(Grant{GrantKind::Modules, 0, 1}));
  EXPECT_TRUE(keel::is_valid(Grant::framebuffer()));
  EXPECT_FALSE(keel::is_valid(Grant{GrantKind::Framebuffer, 0xfd000000, 0x1000}));
  EXPECT_STREQ(keel::grant_kind_name(GrantKind::Framebuffer), "framebuffer");
  EXPECT_FALSE(keel::is_valid(Grant{static_cast<GrantKind>(99), 0, 0}));
  EXPECT_STREQ(keel::grant_kind_name(GrantKind::DevMem), "devmem");
}

TEST(Grant, Covers) {
  Grant ports = Grant::ioports(0x3f8, 8);
  EXPECT_TRUE(keel::covers(ports, ports));
  EXPECT_TRUE(keel::covers(ports, Grant::ioports(0x3f8, 1)));
  EXPECT_TRUE(keel::covers(ports, Grant::ioports(0x3ff, 1)));
  EXPECT_TRUE(keel::covers(ports, Grant::ioports(0x3fa, 4)));
  EXPECT_FALSE(keel::covers(ports, Grant::ioports(0x3f7, 1)));
  EXPECT_FALSE(keel::covers(ports, Grant::ioports(0x3ff, 2)));
  EXPECT_FALSE(keel::covers(ports, Grant::ioports(0x3f0, 0x20)));
  EXPECT_FALSE(keel::covers(ports, Grant::ioports(0x3f8, 0)));  // empty: invalid
  EXPECT_FALSE(keel::covers(ports, Grant::irq(0x3f8)));         // other kind
  EXPECT_FALSE(keel::covers(Grant::irq(4), Grant::irq(5)));
  EXPECT_TRUE(keel::covers(Grant::irq(4), Grant::irq(4)));
  EXPECT_TRUE(keel::covers(Grant::resource(), Grant::resource()));
  EXPECT_FALSE(keel::covers(Grant::resource(), Grant::modules()));
  EXPECT_TRUE(keel::covers(Grant::framebuffer(), Grant::framebuffer()));
  EXPECT_FALSE(keel::covers(Grant::resource(), Grant::framebuffer()));  // the whole authority does not imply it either
  EXPECT_FALSE(keel::covers(Grant::framebuffer(), Grant::devmem(0xfd000000, 0x1000)));
  EXPECT_FALSE(keel::covers(Grant::resource(), Grant::ioports(0, 1)));           // no implied authority
  EXPECT_FALSE(keel::covers(Grant::ioports(0, 0x20000), Grant::ioports(0, 1)));  // invalid allowance
}

// ---------------------------------------------------------------------------
// Accepted forms and queries

TEST(Policy, Example) {
  auto p = parse_ok(kExample);
  EXPECT_EQ(p->program_count, 5u);
  EXPECT_EQ(p->lookup_count, 4u);
  EXPECT_EQ(p->device_count, 5u);

  EXPECT_TRUE(may_lookup(*p, "/sbin/shell", "console"));
  EXPECT_TRUE(may_lookup(*p, "/sbin/shell", "vfs"));
  EXPECT_TRUE(may_lookup(*p, "/sbin/shell", "names"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/shell", "serial"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/serial", "vfs"));

  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f8, 8)));
  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::irq(4)));
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::irq(3)));
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::resource()));
  EXPECT_TRUE(may_hold(*p, "/sbin/devmgr", Grant::resource()));
  EXPECT_FALSE(may_hold(*p, "/sbin/devmgr", Grant::modules()));  // resource does not imply modules
  EXPECT_FALSE(may_hold(*p, "/sbin/devmgr", Grant::irq(4)));     // nor any narrower grant
  EXPECT_TRUE(may_hold(*p, "/sbin/init", Grant::modules()));
  EXPECT_TRUE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd000000, 0x400000)));
}

TEST(Policy, WildcardLookup) {
  auto p = parse_ok(kExample);
  for (const char* program : {"/sbin/shell", "/sbin/serial", "/bin/anything", "/x", "*", ""})
    EXPECT_TRUE(may_lookup(*p, program, "names")) << program;
  EXPECT_FALSE(may_lookup(*p, "/bin/anything", "vfs"));
  EXPECT_FALSE(may_lookup(*p, "*", "vfs"));  // "*" as a query is just a name no rule gives
}

TEST(Policy, DefaultDeny) {
  auto empty = parse_ok("");
  EXPECT_FALSE(may_lookup(*empty, "/sbin/shell", "names"));
  EXPECT_FALSE(may_hold(*empty, "/sbin/devmgr", Grant::resource()));

  auto comments = parse_ok("# nothing allowed\n\n   \n");
  EXPECT_FALSE(may_lookup(*comments, "/sbin/shell", "names"));

  auto p = parse_ok(kExample);
  EXPECT_FALSE(may_lookup(*p, "/sbin/shell", ""));
  EXPECT_FALSE(may_lookup(*p, "/sbin/shell", "name"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/shell", "namesx"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/shel", "vfs"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/shell/", "vfs"));
  EXPECT_FALSE(may_lookup(*p, "/sbin/../sbin/shell", "vfs"));
  EXPECT_FALSE(may_hold(*p, "/sbin/unknown", Grant::irq(4)));
  EXPECT_FALSE(may_hold(*p, "*", Grant::irq(4)));
  EXPECT_FALSE(may_hold(*p, "", Grant::irq(4)));
}

TEST(Policy, RangesInsideAndOutside) {
  auto p = parse_ok(
      "device /sbin/serial ioports 0x3f8 8\n"
      "device /sbin/serial ioports 0x2f8 8\n"
      "device /sbin/fb devmem 0xfd000000 0x400000\n");
  // Port ranges: anywhere inside one allowed range.
  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f8, 8)));
  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f8, 1)));
  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3fd, 3)));
  EXPECT_TRUE(may_hold(*p, "/sbin/serial", Grant::ioports(0x2f8, 8)));
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f7, 2)));     // starts before
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3ff, 2)));     // ends after
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f0, 0x10)));  // encloses
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::ioports(0x300, 8)));     // between
  EXPECT_FALSE(may_hold(*p, "/sbin/serial", Grant::ioports(0x3f8, 0)));     // empty: invalid
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::ioports(0x3f8, 1)));         // another program's
  // Memory ranges: the same, in pages.
  EXPECT_TRUE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd000000, 0x400000)));
  EXPECT_TRUE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd000000, 0x1000)));
  EXPECT_TRUE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd3ff000, 0x1000)));
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfcfff000, 0x2000)));
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd3ff000, 0x2000)));
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd400000, 0x1000)));
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd000800, 0x800)));  // not page granular
  EXPECT_FALSE(may_hold(*p, "/sbin/fb", Grant::devmem(0xfd000000, 0)));
}

TEST(Policy, RangesAreNotUnited) {
  // Two adjacent allowed ranges do not allow one grant spanning both.
  auto p = parse_ok("device /d ioports 0x60 1\ndevice /d ioports 0x61 1\n");
  EXPECT_TRUE(may_hold(*p, "/d", Grant::ioports(0x60, 1)));
  EXPECT_TRUE(may_hold(*p, "/d", Grant::ioports(0x61, 1)));
  EXPECT_FALSE(may_hold(*p, "/d", Grant::ioports(0x60, 2)));
}

TEST(Policy, IrqExact) {
  auto p = parse_ok("device /d irq 4\ndevice /d irq 0x0b\n");
  EXPECT_TRUE(may_hold(*p, "/d", Grant::irq(4)));
  EXPECT_TRUE(may_hold(*p, "/d", Grant::irq(11)));
  EXPECT_FALSE(may_hold(*p, "/d", Grant::irq(5)));
  EXPECT_FALSE(may_hold(*p, "/d", Grant{GrantKind::Irq, 4, 2}));  // not a valid grant
  EXPECT_FALSE(may_hold(*p, "/d", Grant::ioports(4, 1)));
}

TEST(Policy, RulesAccumulateAndRepeatsAreStoredOnce) {
  auto p = parse_ok(
      "lookup /a x y\nlookup /a y z\nlookup * x\nlookup * x\n"
      "device /a irq 1\ndevice /a irq 1\ndevice /b irq 1\n");
  EXPECT_EQ(p->program_count, 2u);
  EXPECT_EQ(p->lookup_count, 4u);  // /a x, /a y, /a z, * x
  EXPECT_EQ(p->device_count, 2u);
  for (const char* s : {"x", "y", "z"}) EXPECT_TRUE(may_lookup(*p, "/a", s)) << s;
  EXPECT_TRUE(may_lookup(*p, "/b", "x"));
  EXPECT_FALSE(may_lookup(*p, "/b", "y"));
  EXPECT_TRUE(may_hold(*p, "/b", Grant::irq(1)));
}

TEST(Policy, AllFormsAndLexicalRules) {
  std::string path127 = "/" + std::string(126, 'p');
  std::string name31(31, 'n');
  auto p = parse_ok("\tlookup   " + path127 + "  " + name31 + "\t# comment\r\n" +
                    "device /sbin/d ioports 0 0x10000\n"
                    "device /sbin/d irq 255\n"
                    "device /sbin/d devmem 0 0x10000000000000\n"
                    "device /sbin/d resource\n"
                    "device /sbin/d modules#glued comment\n"
                    "lookup /Sbin/A.b+c_d-e a-b_c");  // no final newline
  EXPECT_TRUE(may_lookup(*p, path127, name31));
  EXPECT_TRUE(may_lookup(*p, "/Sbin/A.b+c_d-e", "a-b_c"));
  EXPECT_TRUE(may_hold(*p, "/sbin/d", Grant::ioports(0x1234, 0x100)));
  EXPECT_TRUE(may_hold(*p, "/sbin/d", Grant::irq(255)));
  EXPECT_TRUE(may_hold(*p, "/sbin/d", Grant::devmem(0xffffffffff000, 0x1000)));
  EXPECT_TRUE(may_hold(*p, "/sbin/d", Grant::resource()));
  EXPECT_TRUE(may_hold(*p, "/sbin/d", Grant::modules()));
}

TEST(Policy, Capacities) {
  std::string text;
  for (int i = 0; i < 32; ++i) text += "device /p" + std::to_string(i) + " irq 1\n";
  for (int i = 0; i < 256 - 1; ++i) text += "lookup /p0 s" + std::to_string(i) + "\n";
  text += "lookup * last\n";
  for (int i = 0; i < 64 - 32; ++i) text += "device /p1 irq " + std::to_string(i + 2) + "\n";
  auto p = parse_ok(text);
  EXPECT_EQ(p->program_count, keel::policy::kMaxPrograms);
  EXPECT_EQ(p->lookup_count, keel::policy::kMaxLookupRules);
  EXPECT_EQ(p->device_count, keel::policy::kMaxDeviceRules);
  EXPECT_TRUE(may_lookup(*p, "/p31", "last"));
  EXPECT_TRUE(may_hold(*p, "/p1", Grant::irq(33)));
}

TEST(Policy, NullErrorPointerAndFailureEmptiesAPreviousResult) {
  auto p = std::make_unique<Policy>();
  ASSERT_TRUE(parse("lookup * names\n", *p).ok());
  EXPECT_TRUE(may_lookup(*p, "/x", "names"));
  EXPECT_EQ(parse("lookup * names\nbogus\n", *p).error(), Error::InvalidArgument);
  EXPECT_FALSE(may_lookup(*p, "/x", "names"));  // a refused policy denies everything
}

// ---------------------------------------------------------------------------
// Refusals

TEST(PolicyRefuses, UnknownKeyword) {
  EXPECT_TRUE(Refused("lookup * names\n\nallow /x names\n", Error::InvalidArgument, 3, "unknown keyword"));
  EXPECT_TRUE(Refused("Lookup * names\n", Error::InvalidArgument, 1, "unknown keyword"));
  EXPECT_TRUE(Refused("service names\n", Error::InvalidArgument, 1, "unknown keyword"));
}

TEST(PolicyRefuses, MissingOperands) {
  EXPECT_TRUE(Refused("lookup\n", Error::InvalidArgument, 1, "missing program path"));
  EXPECT_TRUE(Refused("# x\nlookup /sbin/shell\n", Error::InvalidArgument, 2, "missing service name"));
  EXPECT_TRUE(Refused("lookup * # names\n", Error::InvalidArgument, 1, "missing service name"));
  EXPECT_TRUE(Refused("device\n", Error::InvalidArgument, 1, "missing program path"));
  EXPECT_TRUE(Refused("device /sbin/serial\n", Error::InvalidArgument, 1, "missing grant kind"));
  EXPECT_TRUE(Refused("device /sbin/serial ioports 0x3f8\n", Error::InvalidArgument, 1, "missing number"));
  EXPECT_TRUE(Refused("device /sbin/serial irq\n", Error::InvalidArgument, 1, "missing number"));
}

TEST(PolicyRefuses, WildcardDeviceRule) {
  EXPECT_TRUE(Refused("lookup * names\ndevice * irq 4\n", Error::InvalidArgument, 2, "wildcard device rule"));
}

TEST(PolicyRefuses, BadNamesAndPaths) {
  EXPECT_TRUE(Refused("lookup /sbin/shell Vfs\n", Error::InvalidArgument, 1, "bad character in name"));
  EXPECT_TRUE(Refused("lookup /sbin/shell vfs *\n", Error::InvalidArgument, 1, "bad character in name"));
  EXPECT_TRUE(Refused("lookup /sbin/shell " + std::string(32, 'v') + "\n", Error::InvalidArgument, 1,
                      "name too long"));
  EXPECT_TRUE(Refused("lookup sbin/shell vfs\n", Error::InvalidArgument, 1, "path not absolute"));
  EXPECT_TRUE(Refused("lookup ** vfs\n", Error::InvalidArgument, 1, "path not absolute"));
  EXPECT_TRUE(Refused("lookup /sbin/../shell vfs\n", Error::InvalidArgument, 1, "path not normalised"));
  EXPECT_TRUE(Refused("device /sbin//serial irq 4\n", Error::InvalidArgument, 1, "path not normalised"));
  EXPECT_TRUE(Refused("device /sbin/se*rial irq 4\n", Error::InvalidArgument, 1, "bad character in path"));
  EXPECT_TRUE(
      Refused("lookup /" + std::string(127, 'p') + " vfs\n", Error::InvalidArgument, 1, "path too long"));
}

TEST(PolicyRefuses, TrailingGarbage) {
  EXPECT_TRUE(Refused("device /sbin/serial irq 4 5\n", Error::InvalidArgument, 1, "trailing garbage"));
  EXPECT_TRUE(
      Refused("device /sbin/devmgr resource please\n", Error::InvalidArgument, 1, "trailing garbage"));
  EXPECT_TRUE(
      Refused("device /sbin/serial ioports 0x3f8 8 9\n", Error::InvalidArgument, 1, "trailing garbage"));
}

TEST(PolicyRefuses, BadGrants) {
  EXPECT_TRUE(Refused("device /d dma 1\n", Error::InvalidArgument, 1, "unknown grant kind"));
  EXPECT_TRUE(Refused("device /d irq 256\n", Error::OutOfRange, 1, "irq out of range"));
  EXPECT_TRUE(Refused("device /d irq 04\n", Error::InvalidArgument, 1, "malformed number"));
  EXPECT_TRUE(Refused("device /d ioports 0xffff 2\n", Error::OutOfRange, 1, "port range past 0xffff"));
  EXPECT_TRUE(Refused("device /d ioports 0x10000 1\n", Error::OutOfRange, 1, "port out of range"));
  EXPECT_TRUE(Refused("device /d ioports 0 0\n", Error::InvalidArgument, 1, "empty port range"));
  EXPECT_TRUE(
      Refused("device /d devmem 0x800 0x1000\n", Error::Misaligned, 1, "devmem base not page aligned"));
  EXPECT_TRUE(Refused("device /d devmem 0 0x10\n", Error::Misaligned, 1, "devmem size not a page multiple"));
  EXPECT_TRUE(Refused("device /d devmem 0 0\n", Error::InvalidArgument, 1, "empty devmem range"));
  EXPECT_TRUE(
      Refused("device /d devmem 0xfffffffffffff000 0x1000\n", Error::Overflow, 1, "devmem range overflows"));
  EXPECT_TRUE(
      Refused("device /d devmem 0x10000000000000 0x1000\n", Error::OutOfRange, 1, "devmem range past 2^52"));
}

TEST(PolicyRefuses, BadBytes) {
  using namespace std::string_literals;
  EXPECT_TRUE(Refused("lookup * names\nlookup * n\0\n"s, Error::InvalidArgument, 2, "NUL byte"));
  EXPECT_TRUE(Refused("lookup * names\x1b\n", Error::InvalidArgument, 1, "control character"));
  EXPECT_TRUE(Refused("lookup * n\xc3\xa9\n", Error::InvalidArgument, 1, "non-ASCII byte outside a comment"));
  EXPECT_TRUE(parse_ok("lookup * names # caf\xc3\xa9\n")->lookup_count == 1);
}

TEST(PolicyRefuses, TooMany) {
  std::string programs;
  for (int i = 0; i < 33; ++i) programs += "lookup /p" + std::to_string(i) + " s\n";
  EXPECT_TRUE(Refused(programs, Error::NoSpace, 33, "too many programs"));

  std::string lookups = "# header\n";
  for (int i = 0; i < 257; ++i) lookups += "lookup * s" + std::to_string(i) + "\n";
  EXPECT_TRUE(Refused(lookups, Error::NoSpace, 258, "too many lookup rules"));
  // Many services on one line: the line that overflows is reported.
  std::string one_line = "lookup /p";
  for (int i = 0; i < 257; ++i) one_line += " s" + std::to_string(i);
  EXPECT_TRUE(Refused(one_line, Error::NoSpace, 1, "too many lookup rules"));

  std::string devices;
  for (int i = 0; i < 65; ++i) devices += "device /d irq " + std::to_string(i) + "\n";
  EXPECT_TRUE(Refused(devices, Error::NoSpace, 65, "too many device rules"));
}

}  // namespace

// `device PATH pci VVVV:DDDD`: PATH may be the driver of that PCI function
// (manifest `match pci`); the ids match exactly.
TEST(Policy, PciExact) {
  auto p = parse_ok("device /sbin/edu pci 1234:11e8\n");
  EXPECT_TRUE(may_hold(*p, "/sbin/edu", Grant::pci(0x1234, 0x11e8)));
  EXPECT_FALSE(may_hold(*p, "/sbin/edu", Grant::pci(0x1234, 0x11e9)));
  EXPECT_FALSE(may_hold(*p, "/sbin/edu", Grant::pci(0x1235, 0x11e8)));
  EXPECT_FALSE(may_hold(*p, "/sbin/probe", Grant::pci(0x1234, 0x11e8)));
  EXPECT_FALSE(may_hold(*p, "/sbin/edu", Grant::devmem(0x1234000, 0x1000)));
  EXPECT_FALSE(may_hold(*p, "/sbin/edu", Grant{GrantKind::Pci, 0xffff, 0}));  // not a valid grant
  EXPECT_FALSE(keel::is_valid(Grant{GrantKind::Pci, 0x1234, 0x10000}));
  EXPECT_FALSE(keel::covers(Grant::resource(), Grant::pci(0x1234, 0x11e8)));  // the whole authority is another kind
  EXPECT_STREQ(keel::grant_kind_name(GrantKind::Pci), "pci");
  EXPECT_TRUE(Refused("device /d pci 1234", Error::InvalidArgument, 1, "malformed pci id"));
  EXPECT_TRUE(Refused("device /d pci", Error::InvalidArgument, 1, "missing pci id"));
  EXPECT_TRUE(Refused("device /d pci ffff:0000", Error::InvalidArgument, 1, "pci vendor 0xffff"));
}
