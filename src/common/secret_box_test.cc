#include "common/secret_box.h"

#include <gtest/gtest.h>

namespace vbs {
namespace {

const char* kKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char* kOtherKey = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(SecretBox, SealsAndOpensWithTheSameKeyAndContext) {
  auto box = SecretBox::FromHex(kKey);
  ASSERT_TRUE(box.ok());
  const std::string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const std::string sealed = box->Seal(secret, "AKIAEXAMPLE");
  EXPECT_TRUE(SecretBox::IsSealed(sealed));
  EXPECT_EQ(sealed.find(secret), std::string::npos);
  EXPECT_NE(box->Seal(secret, "AKIAEXAMPLE"), sealed) << "a fresh nonce each time";
  auto opened = box->Open(sealed, "AKIAEXAMPLE");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, secret);
}

TEST(SecretBox, RefusesAnotherKeyAnotherContextAndTampering) {
  auto box = SecretBox::FromHex(kKey);
  auto other = SecretBox::FromHex(kOtherKey);
  ASSERT_TRUE(box.ok() && other.ok());
  const std::string sealed = box->Seal("secret", "AKIA1");
  EXPECT_EQ(other->Open(sealed, "AKIA1").status().code(), "SecretUnreadable");
  EXPECT_EQ(box->Open(sealed, "AKIA2").status().code(), "SecretUnreadable")
      << "a sealed value moved to another key's row does not open";
  std::string flipped = sealed;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  EXPECT_EQ(box->Open(flipped, "AKIA1").status().code(), "SecretUnreadable");
  EXPECT_EQ(box->Open("secret", "AKIA1").status().code(), "SecretUnreadable");
  EXPECT_EQ(box->Open("enc1:zz", "AKIA1").status().code(), "SecretUnreadable");
  EXPECT_NE(box->KeyId(), other->KeyId());
  EXPECT_EQ(box->KeyId(), SecretBox::FromHex(std::string(kKey) + "\n")->KeyId());
}

TEST(SecretBox, KeysAre256BitHex) {
  EXPECT_EQ(SecretBox::FromHex("abcd").status().code(), "InvalidSecretsKey");
  EXPECT_EQ(SecretBox::FromHex(std::string(64, 'g')).status().code(), "InvalidSecretsKey");
}

}  // namespace
}  // namespace vbs
