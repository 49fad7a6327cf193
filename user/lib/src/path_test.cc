// path_test.cc — host tests for keel/path.h: normalisation, its bounds and
// refusals, components, and mount-point matching.
#include <gtest/gtest.h>

#include <keel/path.h>

#include <string>
#include <string_view>
#include <vector>

namespace path = keel::path;
using ktl::Error;

namespace {

std::string norm(std::string_view in) {
  char buf[path::kPathMax];
  auto r = path::normalize(in, buf);
  if (!r.ok()) return std::string("error:") + ktl::error_name(r.error());
  return std::string(*r);
}

TEST(Path, Normalizes) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("//"), "/");
  EXPECT_EQ(norm("/a"), "/a");
  EXPECT_EQ(norm("/a/"), "/a");
  EXPECT_EQ(norm("//a//b///c//"), "/a/b/c");
  EXPECT_EQ(norm("/./a/./b/."), "/a/b");
  EXPECT_EQ(norm("/a/b/.."), "/a");
  EXPECT_EQ(norm("/a/b/../.."), "/");
  EXPECT_EQ(norm("/a/../../.."), "/");
  EXPECT_EQ(norm("/.."), "/");
  EXPECT_EQ(norm("/../etc"), "/etc");
  EXPECT_EQ(norm("/a/../b/./c/../d"), "/b/d");
  EXPECT_EQ(norm("/a/.b/..c/...") , "/a/.b/..c/...");  // only "." and ".." are special
  EXPECT_EQ(norm("/tmp/x y"), "/tmp/x y");
}

TEST(Path, Refusals) {
  EXPECT_EQ(norm(""), "error:InvalidArgument");
  EXPECT_EQ(norm("a/b"), "error:InvalidArgument");
  EXPECT_EQ(norm("./a"), "error:InvalidArgument");
  EXPECT_EQ(norm(std::string_view("/a\0b", 4)), "error:InvalidArgument");
  char small[path::kPathMax - 1];
  EXPECT_EQ(path::normalize("/", small).error(), Error::InvalidArgument);
}

TEST(Path, LengthBound) {
  // kPathMax bytes is fine, one more is not, even if it would normalise shorter.
  std::string longest = "/" + std::string(path::kNameMax, 'a');
  while (longest.size() + 1 + path::kNameMax <= path::kPathMax) longest += "/" + std::string(path::kNameMax, 'b');
  longest += "/" + std::string(path::kPathMax - longest.size() - 1, 'c');
  ASSERT_EQ(longest.size(), path::kPathMax);
  EXPECT_EQ(norm(longest), longest);
  EXPECT_EQ(norm(longest + "/"), "error:NameTooLong");
  EXPECT_EQ(norm(std::string(path::kPathMax + 1, '/')), "error:NameTooLong");
}

TEST(Path, NameBound) {
  EXPECT_EQ(norm("/" + std::string(path::kNameMax, 'x')), "/" + std::string(path::kNameMax, 'x'));
  EXPECT_EQ(norm("/" + std::string(path::kNameMax + 1, 'x')), "error:NameTooLong");
  // A long name is refused even if ".." would remove it.
  EXPECT_EQ(norm("/" + std::string(path::kNameMax + 1, 'x') + "/.."), "error:NameTooLong");
}

TEST(Path, DepthBound) {
  std::string deep;
  for (size_t i = 0; i < path::kDepthMax; ++i) deep += "/d";
  EXPECT_EQ(norm(deep), deep);
  EXPECT_EQ(norm(deep + "/d"), "error:NameTooLong");
  // Depth counts the result: deeper on the way, shallower at the end, is fine.
  EXPECT_EQ(norm(deep + "/d/.."), deep);
}

TEST(Path, ValidName) {
  EXPECT_TRUE(path::valid_name("a"));
  EXPECT_TRUE(path::valid_name("..."));
  EXPECT_TRUE(path::valid_name(std::string(path::kNameMax, 'n')));
  EXPECT_FALSE(path::valid_name(""));
  EXPECT_FALSE(path::valid_name("."));
  EXPECT_FALSE(path::valid_name(".."));
  EXPECT_FALSE(path::valid_name("a/b"));
  EXPECT_FALSE(path::valid_name(std::string_view("a\0", 2)));
  EXPECT_FALSE(path::valid_name(std::string(path::kNameMax + 1, 'n')));
}

TEST(Path, SplitLast) {
  std::string_view parent, name;
  EXPECT_FALSE(path::split_last("/", &parent, &name));
  ASSERT_TRUE(path::split_last("/a", &parent, &name));
  EXPECT_EQ(parent, "/");
  EXPECT_EQ(name, "a");
  ASSERT_TRUE(path::split_last("/a/b/c", &parent, &name));
  EXPECT_EQ(parent, "/a/b");
  EXPECT_EQ(name, "c");
}

TEST(Path, Components) {
  std::vector<std::string> got;
  path::Components c("/usr/lib/x");
  std::string_view part;
  while (c.next(&part)) got.emplace_back(part);
  EXPECT_EQ(got, (std::vector<std::string>{"usr", "lib", "x"}));
  path::Components root("/");
  EXPECT_FALSE(root.next(&part));
}

TEST(Path, Under) {
  EXPECT_TRUE(path::under("/tmp", "/tmp"));
  EXPECT_TRUE(path::under("/tmp/a", "/tmp"));
  EXPECT_FALSE(path::under("/tmpx", "/tmp"));
  EXPECT_FALSE(path::under("/tm", "/tmp"));
  EXPECT_TRUE(path::under("/anything", "/"));
  EXPECT_TRUE(path::under("/", "/"));
}

TEST(Path, MountMatchLongestPrefix) {
  const std::string_view mounts[] = {"/", "/tmp", "/tmp/deep", "", "/run"};
  auto m = path::match_mount(mounts, "/etc/manifest");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->index, 0u);
  EXPECT_EQ(m->rest, "/etc/manifest");
  m = path::match_mount(mounts, "/tmp");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->index, 1u);
  EXPECT_EQ(m->rest, "/");
  m = path::match_mount(mounts, "/tmp/a/b");
  EXPECT_EQ(m->index, 1u);
  EXPECT_EQ(m->rest, "/a/b");
  m = path::match_mount(mounts, "/tmp/deep/x");
  EXPECT_EQ(m->index, 2u);
  EXPECT_EQ(m->rest, "/x");
  m = path::match_mount(mounts, "/tmp/deeper");  // not under /tmp/deep
  EXPECT_EQ(m->index, 1u);
  EXPECT_EQ(m->rest, "/deeper");
  m = path::match_mount(mounts, "/run");
  EXPECT_EQ(m->index, 4u);
  m = path::match_mount(mounts, "/");
  EXPECT_EQ(m->index, 0u);
  EXPECT_EQ(m->rest, "/");
  // The order of the table does not matter, only the length of the match.
  const std::string_view reversed[] = {"/tmp/deep", "/tmp", "/"};
  EXPECT_EQ(path::match_mount(reversed, "/tmp/deep/x")->index, 0u);
  EXPECT_EQ(path::match_mount(reversed, "/tmp/x")->index, 1u);
  const std::string_view no_root[] = {"/tmp"};
  EXPECT_EQ(path::match_mount(no_root, "/etc").error(), Error::NotFound);
}

}  // namespace
