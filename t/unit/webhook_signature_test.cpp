// Chatwoot's webhook signature, checked against Chatwoot's own example
// (CONTRACT.md section 2, from lib/webhooks/trigger.rb) and every way a
// request can fail it.
#include "chatwoot/webhook_signature.hpp"

#include <gtest/gtest.h>

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
