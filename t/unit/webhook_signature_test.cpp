// Chatwoot's webhook signature, checked against Chatwoot's own example
// (CONTRACT.md section 2, from lib/webhooks/trigger.rb) and every way a
// request can fail it.
#include "chatwoot/webhook_signature.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

using namespace chatwoot::webhook;

namespace {

constexpr std::string_view kSecret = "kP3vXw9tQm2LzR8aYc4NbE7d";
constexpr std::string_view kTimestamp = "1781950562";
constexpr std::string_view kBody =
    R"({"event":"conversation_typing_on","is_private":false})";
constexpr std::string_view kExpected =
    "sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290";
constexpr int64_t kNow = 1781950562;

AuthResult check(std::string_view sig, std::string_view ts, std::string_view body,
                 int64_t now = kNow)
{
    return verify_signature(kSecret, SignedRequest{sig, ts, body}, now, nullptr);
}

}  // namespace

TEST(WebhookSignature, MatchesChatwootsExample)
{
    EXPECT_EQ(signature_header(kSecret, kTimestamp, kBody), kExpected);
}

TEST(WebhookSignature, AcceptsChatwootsExampleAndReturnsTheDigest)
{
    Digest d{};
    EXPECT_EQ(verify_signature(kSecret, SignedRequest{kExpected, kTimestamp, kBody},
                               kNow, &d),
              AuthResult::ok);
    EXPECT_EQ(d, signature_digest(kSecret, kTimestamp, kBody));
    EXPECT_EQ(d[0], 0xf9);
    EXPECT_EQ(d[31], 0x90);
}

TEST(WebhookSignature, UppercaseHexIsAccepted)
{
    std::string upper(kExpected);
    for (size_t i = 7; i < upper.size(); i++) {
        upper[i] = static_cast<char>(std::toupper(upper[i]));
    }
    EXPECT_EQ(check(upper, kTimestamp, kBody), AuthResult::ok);
}

TEST(WebhookSignature, AnyChangedByteFails)
{
    std::string body(kBody);
    body[10] ^= 1;
    EXPECT_EQ(check(kExpected, kTimestamp, body), AuthResult::bad_signature);
    std::string sig(kExpected);
    sig.back() = sig.back() == '0' ? '1' : '0';
    EXPECT_EQ(check(sig, kTimestamp, kBody), AuthResult::bad_signature);
    // The timestamp is signed too: moving it within the window breaks it.
    EXPECT_EQ(check(kExpected, "1781950563", kBody), AuthResult::bad_signature);
    EXPECT_EQ(verify_signature("another secret", SignedRequest{kExpected, kTimestamp, kBody},
                               kNow, nullptr),
              AuthResult::bad_signature);
}

TEST(WebhookSignature, MissingPieces)
{
    EXPECT_EQ(check("", kTimestamp, kBody), AuthResult::missing_signature);
    EXPECT_EQ(check(kExpected, "", kBody), AuthResult::missing_timestamp);
}

TEST(WebhookSignature, MalformedSignatures)
{
    for (std::string_view bad : {
             "f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290",
             "sha1=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290",
             "sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b529",
             "sha256=f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b52900",
             "sha256=g9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b5290",
             "sha256= f9ce89e7c56d2be634d2be68d523c28bde433664285ed9f151f2c7cc2b2b529",
             "sha256="}) {
        EXPECT_EQ(check(bad, kTimestamp, kBody), AuthResult::malformed_signature) << bad;
    }
}

TEST(WebhookSignature, TimestampWindow)
{
    // Exactly at the edges is still fine; one second past is not.
    EXPECT_EQ(check(kExpected, kTimestamp, kBody, kNow + kMaxAgeSeconds), AuthResult::ok);
    EXPECT_EQ(check(kExpected, kTimestamp, kBody, kNow + kMaxAgeSeconds + 1),
              AuthResult::stale_timestamp);
    EXPECT_EQ(check(kExpected, kTimestamp, kBody, kNow - kMaxAheadSeconds), AuthResult::ok);
    EXPECT_EQ(check(kExpected, kTimestamp, kBody, kNow - kMaxAheadSeconds - 1),
              AuthResult::future_timestamp);
}

TEST(WebhookSignature, MalformedTimestamps)
{
    for (std::string_view bad : {"abc", "17819505620000", "-5", "1781950562.5",
                                 " 1781950562", "1781950562 ", "0x6a"}) {
        EXPECT_EQ(check(kExpected, bad, kBody), AuthResult::malformed_timestamp) << bad;
    }
}

TEST(WebhookSignature, TimestampIsCheckedBeforeTheMac)
{
    // A stale request is refused for its age even with a bad signature: the
    // cheap check runs first.
    EXPECT_EQ(check("sha256=00", kTimestamp, kBody, kNow + 1000),
              AuthResult::stale_timestamp);
}

TEST(WebhookToken, ConstantTimeCompare)
{
    EXPECT_EQ(verify_token("s3cret-token", "s3cret-token"), AuthResult::ok);
    EXPECT_EQ(verify_token("s3cret-token", "s3cret-tokeN"), AuthResult::bad_token);
    EXPECT_EQ(verify_token("s3cret-token", "s3cret"), AuthResult::bad_token);
    EXPECT_EQ(verify_token("s3cret-token", "s3cret-token-and-more"), AuthResult::bad_token);
    EXPECT_EQ(verify_token("s3cret-token", ""), AuthResult::missing_token);
}

TEST(WebhookSignature, ResultNames)
{
    EXPECT_EQ(auth_result_name(AuthResult::stale_timestamp), "stale timestamp");
    EXPECT_EQ(auth_result_name(AuthResult::not_configured),
              "webhook authentication not configured");
}

// --- the keyed digest states kept per thread ---------------------------------------------

namespace {

// OpenSSL's own HMAC-SHA256 of the signed text "<ts>.<body>".
Digest reference(std::string_view secret, std::string_view ts, std::string_view body)
{
    const std::string text = std::string(ts) + "." + std::string(body);
    Digest out{};
    size_t len = 0;
    const unsigned char* ok = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr,
                                        secret.data(), secret.size(),
                                        reinterpret_cast<const unsigned char*>(text.data()),
                                        text.size(), out.data(), out.size(), &len);
    EXPECT_TRUE(ok != nullptr && len == out.size());
    return out;
}

}  // namespace

TEST(WebhookSignature, SameAsOpenSslsHmacForEveryKeyLength)
{
    // Keys shorter than, as long as and longer than SHA-256's 64-byte
    // block (those are hashed first), messages around the block size.
    for (size_t key_len = 0; key_len <= 200; key_len++) {
        std::string key(key_len, '\0');
        for (size_t i = 0; i < key_len; i++) {
            key[i] = static_cast<char>(i * 7 + key_len);
        }
        for (size_t body_len : {0, 1, 52, 53, 54, 63, 64, 65, 119, 1230}) {
            const std::string body(body_len, static_cast<char>('a' + body_len % 26));
            ASSERT_EQ(signature_digest(key, kTimestamp, body), reference(key, kTimestamp, body))
                << "key " << key_len << " body " << body_len;
        }
    }
}

TEST(WebhookSignature, AlternatingSecretsAreEachKeyedTheirOwnWay)
{
    // The per-thread state is keyed with the last secret asked for: every
    // switch must re-key it, and a prefix of a secret is another secret.
    const std::string a = "kP3vXw9tQm2LzR8aYc4NbE7d";
    const std::string b = a.substr(0, a.size() - 1);
    const std::string c(100, 'k');
    for (int round = 0; round < 3; round++) {
        for (const std::string* s : {&a, &b, &a, &c, &c, &b}) {
            EXPECT_EQ(signature_digest(*s, kTimestamp, kBody), reference(*s, kTimestamp, kBody));
        }
    }
    EXPECT_EQ(signature_header(kSecret, kTimestamp, kBody), kExpected);
}
