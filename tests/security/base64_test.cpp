// decode_public_base64 against libsodium's decoder (decode_secret_base64), which it replaces for
// sealed values: the same texts accepted and refused, the same bytes out.
#include "security/base64.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace carepath::security {
namespace {

TEST(PublicBase64, DecodesRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"Zg==", "f"},
                                                                    {"Zm8=", "fo"},
                                                                    {"Zm9v", "foo"},
                                                                    {"Zm9vYg==", "foob"},
                                                                    {"Zm9vYmE=", "fooba"},
                                                                    {"Zm9vYmFy", "foobar"}};
  for (const auto& [text, plain] : vectors) {
    const auto decoded = decode_public_base64(text);
    ASSERT_TRUE(decoded) << text;
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain) << text;
  }
}

TEST(PublicBase64, RefusesWhatIsNotPaddedBase64) {
  for (const std::string text :
       {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v",
        "Zh==",  // stray bits in the last character
        "Zm9=",  // likewise, with one '='
        "Zm=v", "=m9v"}) {
    EXPECT_FALSE(decode_public_base64(text)) << text;
    EXPECT_FALSE(decode_secret_base64(text)) << "libsodium accepts " << text;
  }
}

// Every length of encoded random bytes, then random texts over the alphabet, '=' and strays:
// both decoders agree on each.
TEST(PublicBase64, AgreesWithLibsodiumOnEncodedAndRandomTexts) {
  std::mt19937 random(20261123);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on purpose
  for (std::size_t size = 0; size < 200; ++size) {
    std::vector<unsigned char> bytes(size);
    for (auto& b : bytes) {
      b = static_cast<unsigned char>(random());
    }
    const std::string text = encode_base64(bytes.data(), bytes.size());
    const auto decoded = decode_public_base64(text);
    ASSERT_TRUE(decoded) << text;
    EXPECT_EQ(*decoded, bytes) << text;
  }
  const std::string characters =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/====-_ \n";
  std::size_t accepted = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string text(random() % 13, 'A');
    for (auto& c : text) {
      // Mostly alphabet characters, so that a good share of the texts are valid.
      c = random() % 8 == 0 ? characters[random() % characters.size()] : characters[random() % 64];
    }
    const auto ours = decode_public_base64(text);
    const auto theirs = decode_secret_base64(text);
    ASSERT_EQ(ours.has_value(), theirs.has_value()) << "'" << text << "'";
    if (ours) {
      ASSERT_EQ(*ours, *theirs) << text;
      ++accepted;
    }
  }
  EXPECT_GT(accepted, 10'000U) << "the random texts should include many valid ones";
}

}  // namespace
}  // namespace carepath::security
