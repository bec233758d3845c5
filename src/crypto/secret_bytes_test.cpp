// Tests for SecretBytes: value semantics, moves that leave nothing behind, comparison.
#include "crypto/secret_bytes.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace uipsec {
namespace {

const std::vector<std::uint8_t> kKey{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xa1, 0xb2, 0xc3, 0xd4};

std::vector<std::uint8_t> bytes_of(const SecretBytes& secret) {
  return std::vector<std::uint8_t>(secret.span().begin(), secret.span().end());
}

TEST(SecretBytes, HoldsACopyOfTheGivenBytes) {
  std::vector<std::uint8_t> source = kKey;
  SecretBytes secret(source);
  source[0] = 0xff;
  EXPECT_EQ(bytes_of(secret), kKey);
  EXPECT_EQ(secret.size(), kKey.size());
  EXPECT_FALSE(secret.empty());
}

TEST(SecretBytes, SizeConstructorZeroFillsAndIsWritable) {
  SecretBytes secret(std::size_t{4});
  EXPECT_EQ(bytes_of(secret), (std::vector<std::uint8_t>{0, 0, 0, 0}));
  secret.mutable_span()[2] = 7;
  EXPECT_EQ(bytes_of(secret), (std::vector<std::uint8_t>{0, 0, 7, 0}));
  EXPECT_TRUE(SecretBytes().empty());
}

TEST(SecretBytes, CopiesAreEqualAndIndependent) {
  SecretBytes original(kKey);
  SecretBytes copy(original);
  EXPECT_TRUE(copy == original);
  copy.mutable_span()[0] ^= 1;
  EXPECT_FALSE(copy == original);
  EXPECT_EQ(bytes_of(original), kKey);
}

TEST(SecretBytes, MoveLeavesTheSourceEmpty) {
  SecretBytes source(kKey);
  SecretBytes moved(std::move(source));
  EXPECT_EQ(bytes_of(moved), kKey);
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state

  SecretBytes target(std::vector<std::uint8_t>{9, 9});
  target = std::move(moved);
  EXPECT_EQ(bytes_of(target), kKey);
  EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytes, CopyAssignmentReplacesContentsOfAnySize) {
  SecretBytes target(std::vector<std::uint8_t>{7, 7, 7});
  const SecretBytes longer(kKey);
  target = longer;
  EXPECT_EQ(bytes_of(target), kKey);
  const SecretBytes shorter(std::vector<std::uint8_t>{5});
  target = shorter;
  EXPECT_EQ(bytes_of(target), (std::vector<std::uint8_t>{5}));
  const SecretBytes& self = target;
  target = self;
  EXPECT_EQ(bytes_of(target), (std::vector<std::uint8_t>{5}));
}

TEST(SecretBytes, ComparesContentsAndSize) {
  const SecretBytes a(kKey);
  const std::vector<std::uint8_t> prefix(kKey.begin(), kKey.end() - 1);
  EXPECT_TRUE(a == SecretBytes(kKey));
  EXPECT_FALSE(a == SecretBytes(prefix));
  EXPECT_TRUE(SecretBytes() == SecretBytes());
}

// RFC 4106/4309/7634 keying material is the cipher key followed by a salt.
TEST(SecretBytes, FirstAndSubspanSplitKeyFromSalt) {
  const SecretBytes material(kKey);
  const ByteSpan key = material.first(6);
  const ByteSpan salt = material.subspan(6);
  EXPECT_EQ(std::vector<std::uint8_t>(key.begin(), key.end()),
            (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(std::vector<std::uint8_t>(salt.begin(), salt.end()),
            (std::vector<std::uint8_t>{0xa1, 0xb2, 0xc3, 0xd4}));
  EXPECT_EQ(material.data(), key.data());
}

}  // namespace
}  // namespace uipsec
