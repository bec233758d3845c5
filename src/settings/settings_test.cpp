#include "settings/settings.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace uipsec {
namespace {

Settings parse(std::string_view text) {
  auto s = Settings::parse_string(text, "test.conf");
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(s).value() : Settings{};
}

std::string parse_error(std::string_view text, const SettingsParseOptions& options = {}) {
  auto s = Settings::parse_string(text, "test.conf", options);
  EXPECT_FALSE(s.ok()) << "parsed:\n" << text;
  return s.ok() ? "" : s.error().message();
}

// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "uipsec-settings-XXXXXX");
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, std::string_view content) const {
    const std::string path = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Settings, ParsesTheManPageExample) {
  const auto s = parse(
      "a = b\n"
      "section-one {\n"
      "  somevalue = asdf\n"
      "  subsection {\n"
      "    othervalue = xxx\n"
      "  }\n"
      "  # yei, a comment\n"
      "  yetanother = zz\n"
      "}\n"
      "section-two {\n"
      "  x = 12\n"
      "}\n");
  EXPECT_EQ(s.get_string("a", ""), "b");
  EXPECT_EQ(s.get_string("section-one.somevalue", ""), "asdf");
  EXPECT_EQ(s.get_string("section-one.subsection.othervalue", ""), "xxx");
  EXPECT_EQ(s.get_string("section-one.yetanother", ""), "zz");
  EXPECT_EQ(s.get_string("section-two.x", ""), "12");
  ASSERT_NE(s.find_section("section-one"), nullptr);
  EXPECT_EQ(s.find_section("section-one")->sections().size(), 1u);
  EXPECT_EQ(s.find_section("nothing"), nullptr);
  EXPECT_EQ(s.find_key("section-one.nothing"), nullptr);
}

TEST(Settings, RemembersFileAndLine) {
  const auto s = parse("\n# comment\nuipsec {\n  tun {\n    mtu = 1400\n  }\n}\n");
  const SettingsKey* mtu = s.find_key("uipsec.tun.mtu");
  ASSERT_NE(mtu, nullptr);
  EXPECT_EQ(mtu->where.to_string(), "test.conf:5");
  EXPECT_EQ(mtu->path, "uipsec.tun.mtu");
  EXPECT_EQ(s.find_section("uipsec.tun")->where().to_string(), "test.conf:4");
  EXPECT_EQ(s.find_section("uipsec")->path(), "uipsec");
}

TEST(Settings, ValuesRunToTheEndOfTheLineWithSingleSpaces) {
  const auto s = parse(
      "a =   several   words here   \n"
      "b =\n"
      "c = value # a comment\n"
      "d = x=y {z\n"
      "e = 'rfc4106(gcm(aes))' 0x01\n");
  EXPECT_EQ(s.find_key("a")->value, "several words here");
  EXPECT_EQ(s.find_key("b")->value, "");
  EXPECT_EQ(s.find_key("c")->value, "value");
  EXPECT_EQ(s.find_key("d")->value, "x=y {z");
  EXPECT_EQ(s.find_key("e")->value, "'rfc4106(gcm(aes))' 0x01");
}

TEST(Settings, QuotedValuesKeepSpacesTakeEscapesAndMaySpanLines) {
  const auto s = parse(
      "a = \"  two  spaces # not a comment }\"\n"
      "b = \"tab\\there\\nnewline \\\"quoted\\\" back\\\\slash \\q\"\n"
      "c = \"first\n"
      "second\"\n"
      "d = \"joined \\\n"
      "line\"\n"
      "e = x \"y\" z\n"
      "f = \"\"\n");
  EXPECT_EQ(s.find_key("a")->value, "  two  spaces # not a comment }");
  EXPECT_EQ(s.find_key("b")->value, "tab\there\nnewline \"quoted\" back\\slash q");
  EXPECT_EQ(s.find_key("c")->value, "first\nsecond");
  EXPECT_EQ(s.find_key("d")->value, "joined line");
  EXPECT_EQ(s.find_key("d")->where.line, 5u);
  EXPECT_EQ(s.find_key("e")->value, "x y z");
  EXPECT_EQ(s.find_key("f")->value, "");
  EXPECT_EQ(s.find_key("c")->where.line, 3u);
}

TEST(Settings, SectionsOnOneLineAndBracesOnTheNextLine) {
  const auto s = parse("a { b = 1 } c = 2\nd\n{\n e = 3 }\nf # comment\n\n{ g = 4\n}\n");
  EXPECT_EQ(s.get_string("a.b", ""), "1");
  EXPECT_EQ(s.get_string("c", ""), "2");
  EXPECT_EQ(s.get_string("d.e", ""), "3");
  EXPECT_EQ(s.get_string("f.g", ""), "4");
}

TEST(Settings, RepeatedSectionsMergeAndLaterValuesReplace) {
  const auto s = parse("a { x = 1\n y = 2 }\nb { }\na { x = 3\n z = 4 }\n");
  const SettingsSection* a = s.find_section("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->keys().size(), 3u);
  EXPECT_EQ(a->keys()[0].name, "x") << "a replaced key keeps its place";
  EXPECT_EQ(a->keys()[0].value, "3");
  EXPECT_EQ(a->keys()[0].where.line, 4u) << "and records where it was replaced";
  EXPECT_EQ(a->keys()[2].name, "z");
  EXPECT_EQ(s.sections().size(), 2u);
  EXPECT_EQ(s.sections()[0].name(), "a");
  EXPECT_EQ(a->where().line, 1u) << "a section is where it was first opened";
}

TEST(Settings, KeysAndSectionsHaveSeparateNames) {
  const auto s = parse("a = 1\na { a = 2 }\ninclude = 3\ninclude { x = 4 }\n");
  EXPECT_EQ(s.get_string("a", ""), "1");
  EXPECT_EQ(s.get_string("a.a", ""), "2");
  EXPECT_EQ(s.get_string("include", ""), "3");
  EXPECT_EQ(s.get_string("include.x", ""), "4");
}

TEST(Settings, AcceptsCrLfLineEnds) {
  const auto s = parse("a {\r\n  b = c\r\n  d = \"e\r\nf\"\r\n}\r\n");
  EXPECT_EQ(s.get_string("a.b", ""), "c");
  EXPECT_EQ(s.get_string("a.d", ""), "e\nf");
}

TEST(Settings, SyntaxErrorsNameFileLineAndWhatWasExpected) {
  EXPECT_EQ(parse_error("uipsec {\n  tun {\n\n\n\n\n    mtu\n  }\n}\n"),
            "test.conf:7: expected '=' or '{' after 'mtu'");
  EXPECT_EQ(parse_error("a b = c\n"), "test.conf:1: expected '=' or '{' after 'a', got 'b'");
  EXPECT_EQ(parse_error("a {\n b = 1\n"),
            "test.conf:1: section 'a' is not closed: missing '}' before the end of the file");
  EXPECT_EQ(parse_error("a = 1\n}\n"), "test.conf:2: '}' without a matching '{'");
  EXPECT_EQ(parse_error("= 1\n"), "test.conf:1: expected a key or section name, got '='");
  EXPECT_EQ(parse_error("{\n"), "test.conf:1: expected a key or section name, got '{'");
  EXPECT_EQ(parse_error("a = \"open\n\n"), "test.conf:1: unterminated string (missing '\"')");
  EXPECT_EQ(parse_error("\"a\" = 1\n"), "test.conf:1: expected a key or section name, got '\"'");
  EXPECT_EQ(parse_error("a.b = 1\n"),
            "test.conf:1: '.' is not allowed in names ('a.b'): write nested sections instead "
            "(a { b = ... })");
  EXPECT_EQ(parse_error("conn : defaults {\n}\n"),
            "test.conf:1: section references ('conn : other { ... }') are not supported by "
            "uipsec");
  EXPECT_EQ(parse_error("a = x\x01y\n"), "test.conf:1: unexpected byte 0x01 in a value");
  EXPECT_EQ(parse_error("include\n"), "test.conf:1: expected '=' or '{' after 'include'");
  EXPECT_EQ(parse_error("include  # nothing\n"),
            "test.conf:1: include: expected a file name or pattern");
  EXPECT_EQ(parse_error("include a b\n"),
            "test.conf:1: include: unexpected 'b' after the file name (quote names that contain "
            "spaces)");
}

TEST(Settings, RefusesAbsurdNesting) {
  std::string deep;
  for (std::size_t i = 0; i < kSettingsMaxSectionDepth; ++i) deep += "s {\n";
  deep += "k = v\n";
  for (std::size_t i = 0; i < kSettingsMaxSectionDepth; ++i) deep += "}\n";
  EXPECT_TRUE(Settings::parse_string(deep).ok()) << "32 levels are allowed";
  EXPECT_EQ(parse_error("x {\n" + deep + "}\n"),
            "test.conf:33: sections nested deeper than 32 levels");
}

TEST(Settings, RefusesTextLargerThanOneMebibyte) {
  const std::string big((1u << 20) + 1, '#');
  EXPECT_EQ(parse_error(big), "test.conf: larger than 1 MiB, refusing to parse it");
  const std::string fits(1u << 20, '#');
  EXPECT_TRUE(Settings::parse_string(fits).ok());
}

TEST(Settings, GettersConvertAndNameTheKeyInErrors) {
  const auto s = parse(
      "uipsec {\n"
      "  tun {\n"
      "    mtu = big\n"
      "    queue = 0x100\n"
      "    on = Yes\n"
      "    off = disabled\n"
      "    bad = maybe\n"
      "    buffer = 4k\n"
      "    lifetime = 30m\n"
      "    empty =\n"
      "  }\n"
      "}\n");
  auto mtu = s.get_uint("uipsec.tun.mtu", 576, 65535, 1400);
  ASSERT_FALSE(mtu.ok());
  EXPECT_EQ(mtu.error().message(),
            "test.conf:3: uipsec.tun.mtu: expected an integer 576..65535, got 'big'");
  EXPECT_EQ(*s.get_uint("uipsec.tun.queue", 0, 1000, 1), 256u);
  EXPECT_FALSE(s.get_uint("uipsec.tun.queue", 0, 255, 1).ok()) << "out of range";
  EXPECT_EQ(*s.get_uint("uipsec.tun.missing", 0, 10, 7), 7u);
  EXPECT_EQ(*s.get_uint("uipsec.tun.empty", 0, 10, 7), 7u) << "an empty value means 'not set'";
  EXPECT_TRUE(*s.get_bool("uipsec.tun.on", false));
  EXPECT_FALSE(*s.get_bool("uipsec.tun.off", true));
  EXPECT_TRUE(*s.get_bool("uipsec.tun.missing", true));
  auto bad = s.get_bool("uipsec.tun.bad", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "test.conf:7: uipsec.tun.bad: expected yes or no (also true/false, "
            "enabled/disabled, 1/0), got 'maybe'");
  EXPECT_EQ(*s.get_size("uipsec.tun.buffer", 0, 1u << 30, 0), 4096u);
  EXPECT_EQ(*s.get_seconds("uipsec.tun.lifetime", 0, 86400, 0), 1800u);
  EXPECT_FALSE(s.get_seconds("uipsec.tun.buffer", 0, 86400, 0).ok()) << "k is not a time unit";
  EXPECT_EQ(s.get_string("uipsec.tun.empty", "default"), "default");
  EXPECT_EQ(s.get_string(".mtu", "none"), "none");
  EXPECT_EQ(s.get_string("uipsec..tun.mtu", "none"), "none");
}

TEST(Settings, NumbersRefuseSignsOverflowAndJunk) {
  const auto s = parse(
      "neg = -1\nplus = +1\nhuge = 99999999999999999999\njunk = 12x\nspace = \"1 \"\n"
      "bigk = 99999999999999999k\nhexk = 0x1k\n");
  for (const char* key : {"neg", "plus", "huge", "junk", "space"}) {
    EXPECT_FALSE(s.get_uint(key, 0, UINT64_MAX, 0).ok()) << key;
  }
  EXPECT_FALSE(s.get_size("bigk", 0, UINT64_MAX, 0).ok());
  EXPECT_FALSE(s.get_size("hexk", 0, UINT64_MAX, 0).ok());
}

TEST(Settings, UnknownKeysAreNamedWithASuggestion) {
  const auto s = parse("uipsec {\n  tun {\n    name = tun0\n    mtuu = 1400\n  }\n}\n");
  const SettingsSection* tun = s.find_section("uipsec.tun");
  ASSERT_NE(tun, nullptr);
  static constexpr std::string_view kKeys[] = {"name", "mtu", "queues"};
  auto r = tun->check_known(kKeys, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "test.conf:4: unknown key 'mtuu' in section uipsec.tun (did you mean 'mtu'?)");

  static constexpr std::string_view kSections[] = {"tun", "socket"};
  EXPECT_TRUE(s.find_section("uipsec")->check_known({}, kSections).ok());
  static constexpr std::string_view kOther[] = {"control"};
  auto top = s.check_known({}, kOther);
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().message(), "test.conf:1: unknown section 'uipsec' at the top level");

  const auto t = parse("uipsec {\n tun = x\n sokcet { }\n}\n");
  auto as_key = t.find_section("uipsec")->check_known({}, kSections);
  ASSERT_FALSE(as_key.ok());
  EXPECT_EQ(as_key.error().message(),
            "test.conf:2: unknown key 'tun' in section uipsec ('tun' is a section: write tun "
            "{ ... })");
  static constexpr std::string_view kTun[] = {"tun"};
  auto typo = t.find_section("uipsec")->check_known(kTun, kSections);
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().message(),
            "test.conf:3: unknown section 'sokcet' in section uipsec (did you mean 'socket'?)");
}

TEST(Settings, KeyErrorsCarryTheLocation) {
  const auto s = parse("states {\n  host1 = src 1.2.3.4\n}\n");
  EXPECT_EQ(s.find_key("states.host1")->error("missing 'dst'").message(),
            "test.conf:2: states.host1: missing 'dst'");
}

TEST(Settings, ToStringParsesBackToAnEqualTree) {
  const char* inputs[] = {
      "a = b\nsection-one {\n somevalue = asdf\n subsection {\n othervalue = xxx\n }\n}\n",
      "a = \"  spaced  \"\nb =\nc = \"quote \\\" back\\\\ #hash }brace\"\nd = \"x\ny\tz\\rw\"\n",
      "s {\n t {\n u {\n }\n }\n k = v\n}\nk2 = {x=y\n",
      "include = x\ninclude {\n a = 1\n}\n",
      "utf8 = caf\xc3\xa9 \xe2\x82\xac\n",
  };
  for (const char* input : inputs) {
    const auto first = parse(input);
    const std::string text = first.to_string();
    const auto second = parse(text);
    EXPECT_TRUE(first == second) << input << "\n--- printed as ---\n" << text;
    EXPECT_EQ(second.to_string(), text);
  }
  EXPECT_EQ(parse("a = b\ns { k = \"two  spaces\"\n t { } }\n").to_string(),
            "a = b\ns {\n\tk = \"two  spaces\"\n\tt {\n\t}\n}\n");
}

TEST(Settings, EqualityIgnoresLocationsButNotOrderOrValues) {
  EXPECT_TRUE(parse("a = 1\nb = 2\n") == parse("\n\na = 1\n  b = 2\n"));
  EXPECT_FALSE(parse("a = 1\nb = 2\n") == parse("b = 2\na = 1\n"));
  EXPECT_FALSE(parse("a = 1\n") == parse("a = 2\n"));
  EXPECT_FALSE(parse("a { }\n") == parse("b { }\n"));
}

TEST(SettingsFiles, IncludesRelativeToTheIncludingFileIntoTheCurrentSection) {
  TempDir dir;
  // The man page's example: three files giving the same tree as one.
  const std::string main = dir.write("strongswan.conf",
                                     "a = b\n"
                                     "section-one {\n"
                                     "  somevalue = before include\n"
                                     "  include include.conf\n"
                                     "}\n"
                                     "include other.conf\n");
  dir.write("include.conf",
            "# settings loaded from this file are added to section-one\n"
            "somevalue = asdf\n"
            "subsection {\n"
            "  othervalue = yyy\n"
            "}\n"
            "yetanother = zz\n");
  dir.write("other.conf",
            "section-one {\n"
            "  subsection {\n"
            "    othervalue = xxx\n"
            "  }\n"
            "}\n"
            "section-two {\n"
            "  x = 12\n"
            "}\n");
  auto s = Settings::parse_file(main);
  ASSERT_TRUE(s.ok()) << s.error().message();
  const auto expected = parse(
      "a = b\nsection-one {\n somevalue = asdf\n subsection {\n othervalue = xxx\n }\n"
      " yetanother = zz\n}\nsection-two {\n x = 12\n}\n");
  EXPECT_TRUE(*s == expected) << s->to_string();
  EXPECT_EQ(s->find_key("section-one.somevalue")->where.to_string(),
            dir.path() + "/include.conf:2");
  EXPECT_EQ(s->find_key("section-one.subsection.othervalue")->where.to_string(),
            dir.path() + "/other.conf:3");
  EXPECT_EQ(s->files().size(), 3u);
}

TEST(SettingsFiles, GlobsIncludeInOrderAndMayMatchNothing) {
  TempDir dir;
  dir.write("conf.d/20-b.conf", "order = second\nb = 1\n");
  dir.write("conf.d/10-a.conf", "order = first\na = 1\n");
  const std::string main =
      dir.write("main.conf", "include conf.d/*.conf\ninclude none.d/*.conf\nlast = 1\n");
  auto s = Settings::parse_file(main);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->get_string("order", ""), "second");
  EXPECT_EQ(s->get_string("a", ""), "1");
  EXPECT_EQ(s->get_string("b", ""), "1");
  EXPECT_EQ(s->get_string("last", ""), "1");
}

TEST(SettingsFiles, QuotedAndEscapedIncludeNames) {
  TempDir dir;
  dir.write("with space.conf", "spaced = yes\n");
  dir.write("with#hash.conf", "hashed = yes\n");
  const std::string main =
      dir.write("main.conf", "include \"with space.conf\"\ninclude with\\#hash.conf\n");
  auto s = Settings::parse_file(main);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->get_string("spaced", ""), "yes");
  EXPECT_EQ(s->get_string("hashed", ""), "yes");
}

TEST(SettingsFiles, AMissingIncludeIsAnError) {
  TempDir dir;
  const std::string main = dir.write("main.conf", "a = 1\ninclude missing.conf\n");
  auto s = Settings::parse_file(main);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), main + ":2: include " + dir.path() +
                                     "/missing.conf: cannot open: No such file or directory");
  auto absent = Settings::parse_file(dir.path() + "/absent.conf");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().message(),
            dir.path() + "/absent.conf: cannot open: No such file or directory");
}

TEST(SettingsFiles, IncludeLoopsAreRefused) {
  TempDir dir;
  const std::string a = dir.write("a.conf", "x = 1\ninclude b.conf\n");
  dir.write("b.conf", "y = 1\ninclude ./a.conf\n");
  auto s = Settings::parse_file(a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("include loop: "), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("b.conf:2"), std::string::npos) << s.error().message();

  const std::string self = dir.write("self.conf", "include self.conf\n");
  EXPECT_FALSE(Settings::parse_file(self).ok());
}

TEST(SettingsFiles, TheSameFileMayBeIncludedTwiceWithoutALoop) {
  TempDir dir;
  dir.write("common.conf", "k = v\n");
  const std::string main =
      dir.write("main.conf", "a { include common.conf }\nb { include common.conf }\n");
  auto s = Settings::parse_file(main);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->get_string("a.k", ""), "v");
  EXPECT_EQ(s->get_string("b.k", ""), "v");
}

TEST(SettingsFiles, IncludeDepthIsLimited) {
  TempDir dir;
  for (std::size_t i = 0; i < 20; ++i) {
    dir.write("f" + std::to_string(i) + ".conf",
              "k" + std::to_string(i) + " = 1\ninclude f" + std::to_string(i + 1) + ".conf\n");
  }
  dir.write("f20.conf", "end = 1\n");
  auto s = Settings::parse_file(dir.path() + "/f0.conf");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("includes nested deeper than 16 levels"), std::string::npos)
      << s.error().message();
  // 16 levels are fine.
  auto fits = Settings::parse_file(dir.path() + "/f4.conf");
  EXPECT_TRUE(fits.ok()) << fits.error().message();
}

TEST(SettingsFiles, SectionDepthCountsAcrossIncludes) {
  TempDir dir;
  std::string inner;
  for (int i = 0; i < 20; ++i) inner += "s {\n";
  for (int i = 0; i < 20; ++i) inner += "}\n";
  dir.write("inner.conf", inner);
  std::string outer;
  for (int i = 0; i < 20; ++i) outer += "o {\n";
  outer += "include inner.conf\n";
  for (int i = 0; i < 20; ++i) outer += "}\n";
  auto s = Settings::parse_file(dir.write("outer.conf", outer));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("inner.conf:13: sections nested deeper than 32"),
            std::string::npos)
      << s.error().message();
}

TEST(SettingsFiles, BraceMustCloseInTheSameFile) {
  TempDir dir;
  dir.write("closer.conf", "}\n");
  auto s = Settings::parse_file(dir.write("main.conf", "a {\ninclude closer.conf\n}\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            dir.path() + "/closer.conf:1: '}' without a matching '{' in this file");
}

TEST(SettingsFiles, RefusesLargeFilesAndNonRegularFiles) {
  TempDir dir;
  const std::string big = dir.write("big.conf", std::string((1u << 20) + 10, '#'));
  auto s = Settings::parse_file(big);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), big + ": larger than 1 MiB, refusing to read it");
  auto directory = Settings::parse_file(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().message(), dir.path() + ": not a regular file");
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = Settings::parse_file(fifo);
  ASSERT_FALSE(pipe.ok()) << "a FIFO is refused without waiting for a writer";
}

TEST(SettingsFiles, IncludeCanBeDisabled) {
  SettingsParseOptions options;
  options.allow_include = false;
  EXPECT_EQ(parse_error("include /etc/passwd\n", options),
            "test.conf:1: include is not allowed here");
}

TEST(SettingsFiles, ParseStringIncludesRelativeToItsOrigin) {
  TempDir dir;
  dir.write("part.conf", "k = v\n");
  auto s = Settings::parse_string("include part.conf\n", dir.path() + "/virtual.conf");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->get_string("k", ""), "v");
}

}  // namespace
}  // namespace uipsec
