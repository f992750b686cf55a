// The QR text against the `qr` vector (Baileys' buildPairingQRData).  The
// generator's inputs: ref "2@REFREF", the noise key and our identity key
// are clamp(SHA-256("noise-key")) and clamp(SHA-256("our-identity")), the
// adv secret is SHA-256("adv-secret"), and the browser is Chrome ("1").
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/qr_code.hpp"

namespace chatwoot::wa::pairing {
namespace {

using test::vector_section;
using test::vector_string;

crypto::Key32 named_public(std::string_view name)
{
    return crypto::x25519_public_key(crypto::sha256(as_bytes(name))).value();
}

struct Inputs {
    crypto::Key32 noise = named_public("noise-key");
    crypto::Key32 identity = named_public("our-identity");
    crypto::Digest32 adv = crypto::sha256(as_bytes("adv-secret"));

    QrFields fields() const
    {
        return {"2@REFREF", noise, identity, adv, CompanionPlatform::chrome};
    }
};

TEST(PairingQr, VectorStringIsExact)
{
    Inputs in;
    auto text = qr_text(in.fields());
    ASSERT_TRUE(text.ok()) << text.error().detail;
    EXPECT_EQ(*text, vector_string(vector_section("qr"), "string"));
}

TEST(PairingQr, FieldsInOrderAfterThePrefix)
{
    Inputs in;
    QrFields f = in.fields();
    f.platform = CompanionPlatform::macos;
    auto text = qr_text(f);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, std::string(qr_prefix) + "2@REFREF," + base64_encode(in.noise) + "," +
                         base64_encode(in.identity) + "," + base64_encode(in.adv) + ",c");
}

TEST(PairingQr, PlatformIds)
{
    EXPECT_EQ(platform_id(CompanionPlatform::chrome), "1");
    EXPECT_EQ(platform_id(CompanionPlatform::edge), "2");
    EXPECT_EQ(platform_id(CompanionPlatform::firefox), "3");
    EXPECT_EQ(platform_id(CompanionPlatform::ie), "4");
    EXPECT_EQ(platform_id(CompanionPlatform::opera), "5");
    EXPECT_EQ(platform_id(CompanionPlatform::safari), "6");
    EXPECT_EQ(platform_id(CompanionPlatform::electron), "7");
    EXPECT_EQ(platform_id(CompanionPlatform::uwp), "8");
    EXPECT_EQ(platform_id(CompanionPlatform::other_web), "9");
    EXPECT_EQ(platform_id(CompanionPlatform::macos), "c");
    EXPECT_EQ(platform_id(CompanionPlatform::android), "e");
}

TEST(PairingQr, Base64Rfc4648Vectors)
{
    EXPECT_EQ(base64_encode(as_bytes("")), "");
    EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
    EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
    EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
    EXPECT_EQ(base64_encode(as_bytes("foob")), "Zm9vYg==");
    EXPECT_EQ(base64_encode(as_bytes("fooba")), "Zm9vYmE=");
    EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
    const Bytes high{0xfb, 0xff, 0xbf};
    EXPECT_EQ(base64_encode(high), "+/+/");
}

TEST(PairingQr, WrongKeyLengthsAreMalformed)
{
    Inputs in;
    const Bytes short_key(31, 1);
    for (int which = 0; which < 3; ++which) {
        QrFields f = in.fields();
        if (which == 0) f.noise_public = short_key;
        if (which == 1) f.identity_public = short_key;
        if (which == 2) f.adv_secret = short_key;
        auto text = qr_text(f);
        ASSERT_FALSE(text.ok()) << which;
        EXPECT_EQ(text.error().code, Errc::malformed) << which;
    }
}

TEST(PairingQr, RefThatWouldShiftFieldsIsRefused)
{
    Inputs in;
    QrFields f = in.fields();
    f.ref = "2@a,b";
    auto comma = qr_text(f);
    ASSERT_FALSE(comma.ok());
    EXPECT_EQ(comma.error().code, Errc::malformed);
    f.ref = "";
    auto empty = qr_text(f);
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, Errc::malformed);
}

}  // namespace
}  // namespace chatwoot::wa::pairing
