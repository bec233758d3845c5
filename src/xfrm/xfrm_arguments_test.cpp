#include "xfrm/xfrm_arguments.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

std::vector<std::string> split(std::string_view line) {
  auto r = split_arguments(line);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : std::vector<std::string>{};
}

using Words = std::vector<std::string>;

TEST(SplitArguments, SplitsAtWhitespace) {
  EXPECT_EQ(split("  src 198.18.0.1\tdst\n198.18.0.2  "),
            (Words{"src", "198.18.0.1", "dst", "198.18.0.2"}));
  EXPECT_EQ(split(""), Words{});
  EXPECT_EQ(split(" \t\r\n"), Words{});
}

TEST(SplitArguments, QuotesLikeAShell) {
  EXPECT_EQ(split("aead 'rfc4106(gcm(aes))' 0x01 128"),
            (Words{"aead", "rfc4106(gcm(aes))", "0x01", "128"}));
  EXPECT_EQ(split("enc \"cbc(aes)\" \"a key with spaces\""),
            (Words{"enc", "cbc(aes)", "a key with spaces"}));
  EXPECT_EQ(split("a'b'\"c\"d"), Words{"abcd"}) << "quoted parts join their neighbours";
  EXPECT_EQ(split("'' \"\""), (Words{"", ""})) << "empty quotes make empty arguments";
  EXPECT_EQ(split("'it'\\''s'"), Words{"it's"});
  EXPECT_EQ(split("'no \\escapes \"here\"'"), Words{"no \\escapes \"here\""});
  EXPECT_EQ(split("\"\\\" \\\\ \\n\""), Words{"\" \\ \\n"})
      << "in double quotes only \\\" and \\\\ are escapes";
  EXPECT_EQ(split("a\\ b c\\'d"), (Words{"a b", "c'd"}));
  EXPECT_EQ(split("a\\\nb c \\\nd"), (Words{"ab", "c", "d"})) << "backslash-newline vanishes";
  EXPECT_EQ(split("# not a comment"), (Words{"#", "not", "a", "comment"}));
}

TEST(SplitArguments, RefusesUnbalancedQuotesAndTrailingBackslash) {
  auto single = split_arguments("aead 'rfc4106(gcm(aes)) 0x01");
  ASSERT_FALSE(single.ok());
  EXPECT_EQ(single.error().message(), "unterminated single quote at column 6");
  auto dbl = split_arguments("a \"b");
  ASSERT_FALSE(dbl.ok());
  EXPECT_EQ(dbl.error().message(), "unterminated double quote at column 3");
  auto backslash = split_arguments("a b\\");
  ASSERT_FALSE(backslash.ok());
  EXPECT_EQ(backslash.error().message(), "a backslash at the end of the line escapes nothing");
  EXPECT_FALSE(split_arguments(std::string_view("a\0b", 3)).ok());
  EXPECT_FALSE(split_arguments(std::string_view("'a\0b'", 5)).ok());
}

TEST(JoinArguments, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(join_arguments(
                Words{"src", "198.18.0.1", "aead", "rfc4106(gcm(aes))", "0x01", "", "it's", "a b"}),
            "src 198.18.0.1 aead 'rfc4106(gcm(aes))' 0x01 '' 'it'\\''s' 'a b'");
}

TEST(JoinArguments, SplitsBackToTheSameArguments) {
  const Words cases[] = {
      {"plain", "2001:db8::1/64", "a,b=c@d%e+f"},
      {"", "''", "\"", "\\", "back\\slash", "tab\there", "new\nline", "$HOME", "*", "#"},
      {"'", "''", "a'b'c", "\xc3\xa9"},
  };
  for (const auto& words : cases) {
    EXPECT_EQ(split(join_arguments(words)), words) << join_arguments(words);
  }
}

}  // namespace
}  // namespace uipsec
