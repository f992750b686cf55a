#include <gtest/gtest.h>

#include <string>

#include "vectors.hpp"
#include "wa/crypto/curve_signature.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/noise/cert_chain.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"

namespace chatwoot::wa::noise {
namespace {

using Details = proto::CertChain::NoiseCertificate::Details;

constexpr std::int64_t now = 1700000000;

crypto::KeyPair key_pair(const char* name)
{
    auto seed = crypto::random_bytes(crypto::seeded_random(as_bytes(name)), 32);
    auto kp = crypto::x25519_key_pair(*seed);
    EXPECT_TRUE(kp.ok());
    return *kp;
}

std::string str(ByteView b)
{
    return std::string(as_chars(b));
}

// A chain as the server would send it, each part adjustable before signing.
struct ChainBuilder {
    crypto::KeyPair root = key_pair("root");
    crypto::KeyPair intermediate = key_pair("intermediate");
    crypto::KeyPair server_static = key_pair("server static");
    crypto::KeyPair leaf_signer = intermediate;  // who signs the leaf
    crypto::KeyPair inter_signer = root;         // who signs the intermediate
    Details inter;
    Details leaf;
    bool with_leaf = true;

    ChainBuilder()
    {
        inter.set_serial(7);
        inter.set_issuerserial(0);
        inter.set_key(str(intermediate.public_key));
        inter.set_notbefore(1600000000);
        inter.set_notafter(1800000000);
        leaf.set_serial(8);
        leaf.set_issuerserial(7);
        leaf.set_key(str(server_static.public_key));
        leaf.set_notbefore(1650000000);
        leaf.set_notafter(1750000000);
    }

    static void sign(proto::CertChain::NoiseCertificate& cert, const Details& d,
                     const crypto::KeyPair& signer)
    {
        const Bytes details = proto::serialize(d);
        auto sig = crypto::curve_sign(crypto::seeded_random(details), signer.private_key, details);
        ASSERT_TRUE(sig.ok()) << sig.error().detail;
        cert.set_details(str(details));
        cert.set_signature(str(*sig));
    }

    Bytes build() const
    {
        proto::CertChain chain;
        sign(*chain.mutable_intermediate(), inter, inter_signer);
        if (with_leaf) sign(*chain.mutable_leaf(), leaf, leaf_signer);
        return proto::serialize(chain);
    }

    CertPolicy policy() const { return CertPolicy{root.public_key, 0, now}; }

    Result<VerifiedChain> verify() const
    {
        return verify_cert_chain(build(), server_static.public_key, policy());
    }
};

void expect_error(const Result<VerifiedChain>& r, Errc code, const std::string& words)
{
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, code) << r.error().detail;
    EXPECT_NE(r.error().detail.find("certificate chain: "), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find(words), std::string::npos) << r.error().detail;
}

TEST(NoiseCertChain, AcceptsAGoodChain)
{
    ChainBuilder b;
    auto r = b.verify();
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->intermediate_serial, 7u);
    EXPECT_EQ(r->leaf_serial, 8u);
    EXPECT_EQ(r->leaf_not_after, 1750000000u);
}

TEST(NoiseCertChain, AcceptsTheVectorChainUnderTheTestRoot)
{
    const auto& v = test::vector_section("noise");
    auto server_static = crypto::x25519_key_pair(test::vector_hex(v, "server_static_priv"));
    ASSERT_TRUE(server_static.ok());
    CertPolicy policy;
    std::ranges::copy(test::vector_hex(v, "root_pub"), policy.root_key.begin());
    policy.now = now;
    auto r =
        verify_cert_chain(test::vector_hex(v, "cert_chain"), server_static->public_key, policy);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->leaf_serial, 8u);

    // The default policy trusts only WhatsApp's real root.
    CertPolicy real;
    real.now = now;
    expect_error(
        verify_cert_chain(test::vector_hex(v, "cert_chain"), server_static->public_key, real),
        Errc::untrusted, "not signed by the root");
}

TEST(NoiseCertChain, DefaultRootIsWhatsAppsLongTermKey)
{
    EXPECT_EQ(to_hex(whatsapp_root_key),
              "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b");
    EXPECT_EQ(CertPolicy{}.root_key, whatsapp_root_key);
    EXPECT_EQ(CertPolicy{}.root_serial, 0u);
}

TEST(NoiseCertChain, WrongRoot)
{
    ChainBuilder b;
    b.inter_signer = key_pair("impostor root");
    expect_error(b.verify(), Errc::untrusted, "intermediate is not signed by the root key");
}

TEST(NoiseCertChain, TamperedIntermediateDetails)
{
    ChainBuilder b;
    proto::CertChain chain;
    ASSERT_TRUE(proto::parse_into(chain, b.build()).ok());
    std::string details = chain.intermediate().details();
    details.back() ^= 0x01;
    chain.mutable_intermediate()->set_details(details);
    expect_error(verify_cert_chain(proto::serialize(chain), b.server_static.public_key, b.policy()),
                 Errc::untrusted, "not signed by the root");
}

TEST(NoiseCertChain, IntermediateIssuerIsNotTheRoot)
{
    ChainBuilder b;
    b.inter.set_issuerserial(5);
    expect_error(b.verify(), Errc::untrusted, "intermediate issuer serial 5");
}

TEST(NoiseCertChain, LeafNotSignedByTheIntermediate)
{
    ChainBuilder b;
    b.leaf_signer = b.root;
    expect_error(b.verify(), Errc::bad_signature, "leaf is not signed by the intermediate");
}

TEST(NoiseCertChain, LeafIssuerSerialMismatch)
{
    ChainBuilder b;
    b.leaf.set_issuerserial(6);
    expect_error(b.verify(), Errc::untrusted, "leaf issuer serial 6");
}

TEST(NoiseCertChain, LeafKeyIsNotTheServerStatic)
{
    ChainBuilder b;
    b.leaf.set_key(str(key_pair("someone else").public_key));
    expect_error(b.verify(), Errc::untrusted, "leaf key is not the server's static key");
}

TEST(NoiseCertChain, ExpiredOrNotYetValid)
{
    {
        ChainBuilder b;
        b.leaf.set_notafter(now - 1);
        expect_error(b.verify(), Errc::expired, "leaf expired at 1699999999");
    }
    {
        ChainBuilder b;
        b.inter.set_notafter(now - 1);
        expect_error(b.verify(), Errc::expired, "intermediate expired");
    }
    {
        ChainBuilder b;
        b.leaf.set_notbefore(now + 1);
        expect_error(b.verify(), Errc::expired, "leaf not valid before 1700000001");
    }
    {
        ChainBuilder b;  // the window's ends are inclusive
        b.leaf.set_notbefore(now);
        b.leaf.set_notafter(now);
        EXPECT_TRUE(b.verify().ok());
    }
}

TEST(NoiseCertChain, MissingOrMisshapenParts)
{
    {
        ChainBuilder b;
        b.with_leaf = false;
        expect_error(b.verify(), Errc::malformed, "no leaf certificate");
    }
    {
        ChainBuilder b;
        b.inter.set_key(std::string(31, 'k'));
        expect_error(b.verify(), Errc::malformed, "intermediate key is 31 bytes");
    }
    {
        ChainBuilder b;
        b.leaf.clear_notafter();
        expect_error(b.verify(), Errc::malformed, "leaf has no validity window");
    }
    {
        ChainBuilder b;
        proto::CertChain chain;
        ASSERT_TRUE(proto::parse_into(chain, b.build()).ok());
        chain.mutable_leaf()->set_signature(std::string(63, 's'));
        expect_error(
            verify_cert_chain(proto::serialize(chain), b.server_static.public_key, b.policy()),
            Errc::malformed, "leaf signature is 63 bytes");
    }
    {
        ChainBuilder b;
        proto::CertChain chain;
        ASSERT_TRUE(proto::parse_into(chain, b.build()).ok());
        chain.mutable_intermediate()->set_details("\x0a\x05");  // truncated Details
        expect_error(
            verify_cert_chain(proto::serialize(chain), b.server_static.public_key, b.policy()),
            Errc::malformed, "intermediate details");
    }
    ChainBuilder b;
    expect_error(verify_cert_chain(Bytes{0xff, 0xff}, b.server_static.public_key, b.policy()),
                 Errc::malformed, "CertChain");
    expect_error(verify_cert_chain(Bytes{}, b.server_static.public_key, b.policy()),
                 Errc::malformed, "no intermediate certificate");
}

}  // namespace
}  // namespace chatwoot::wa::noise
