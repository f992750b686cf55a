// The passkey ceremony's wire and crypto against the loopback server's own
// side (passkey_vectors.json): the options and pasted assertions we accept
// or refuse and why, the prologue, handoff proof, code, request key and
// sealed pairing request byte for byte; and pastes that are not JSON, not
// an assertion, or cut and flipped anywhere, which get a reason and never
// a crash.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passkey_vectors.hpp"
#include "wa/binary/jid.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/pairing/passkey.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/passkey.pb.h"

namespace chatwoot::wa::pairing {
namespace {

using test::passkey_section;
using test::vector_hex;
using test::vector_string;

PasskeyOptions vector_options()
{
    auto o = parse_passkey_options(vector_string(passkey_section("assertions"), "options_json"));
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().detail);
    return o.ok() ? *o : PasskeyOptions{};
}

std::string case_json(std::string_view name)
{
    for (const auto& c : passkey_section("assertions")["cases"].GetArray())
        if (vector_string(c, "name") == name) return std::string(vector_string(c, "json"));
    ADD_FAILURE() << "no assertion case " << name;
    return {};
}

std::string text(ByteView b)
{
    return std::string(as_chars(b));
}

// ---------- base64url ----------

TEST(PairingPasskeyBase64url, EncodesRfc4648VectorsInTheUrlAlphabetWithoutPadding)
{
    EXPECT_EQ(base64url_encode(as_bytes("")), "");
    EXPECT_EQ(base64url_encode(as_bytes("f")), "Zg");
    EXPECT_EQ(base64url_encode(as_bytes("fo")), "Zm8");
    EXPECT_EQ(base64url_encode(as_bytes("foo")), "Zm9v");
    EXPECT_EQ(base64url_encode(as_bytes("foobar")), "Zm9vYmFy");
    const Bytes high{0xfb, 0xff, 0xbf};
    EXPECT_EQ(base64url_encode(high), "-_-_");
}

TEST(PairingPasskeyBase64url, DecodesWithOrWithoutPaddingAndRoundTripsEveryLength)
{
    EXPECT_EQ(base64url_decode("Zm8"), Bytes({'f', 'o'}));
    EXPECT_EQ(base64url_decode("Zm8="), Bytes({'f', 'o'}));
    EXPECT_EQ(base64url_decode("Zg=="), Bytes({'f'}));
    EXPECT_EQ(base64url_decode("-_-_"), Bytes({0xfb, 0xff, 0xbf}));
    Bytes b;
    for (int n = 0; n < 40; ++n) {
        EXPECT_EQ(base64url_decode(base64url_encode(b)), b) << n;
        b.push_back(std::uint8_t(n * 37 + 11));
    }
}

TEST(PairingPasskeyBase64url, RefusesOtherAlphabetsBadPaddingImpossibleLengthsAndStrayBits)
{
    for (std::string_view bad : {"Zm+v", "Zm/v", "Zm9v\n", "Z", "Zm9vY",
                                 "Zg=", "Zg===", "Z===", "Zg=A", "=Zg=", "Zh", "Zm9"}) {
        EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
    }
}

// ---------- the options ----------

TEST(PairingPasskeyOptions, ParsesTheServersOptions)
{
    const auto& v = passkey_section("assertions");
    PasskeyOptions o = vector_options();
    EXPECT_EQ(o.json, vector_string(v, "options_json"));
    EXPECT_EQ(o.challenge, vector_hex(v, "challenge_hex"));
    EXPECT_EQ(o.rp_id, "whatsapp.com");
    EXPECT_EQ(o.timeout_ms, 600000u);
    ASSERT_EQ(o.allow_credentials.size(), 1u);
    EXPECT_EQ(o.allow_credentials[0], vector_hex(v, "credential_id_hex"));
    EXPECT_TRUE(o.user_verification_required);
}

TEST(PairingPasskeyOptions, TheOptionalMembersMayBeAbsent)
{
    auto o =
        parse_passkey_options(R"({"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"whatsapp.com"})");
    ASSERT_TRUE(o.ok()) << o.error().detail;
    EXPECT_FALSE(o->timeout_ms.has_value());
    EXPECT_TRUE(o->allow_credentials.empty());
    EXPECT_FALSE(o->user_verification_required);
}

TEST(PairingPasskeyOptions, RefusesEachBadFieldNamingIt)
{
    const std::string ch = R"("challenge":"AAAAAAAAAAAAAAAAAAAAAA")";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not JSON"},
        {"[]", "not a JSON object"},
        {R"({"rpId":"whatsapp.com"})", "challenge is missing"},
        {R"({"challenge":7,"rpId":"whatsapp.com"})", "challenge is not a string"},
        {R"({"challenge":"a+b/","rpId":"whatsapp.com"})", "challenge is not base64url"},
        {R"({"challenge":"AAAA","rpId":"whatsapp.com"})", "under 16 bytes"},
        {"{" + ch + "}", "rpId"},
        {"{" + ch + R"(,"rpId":"what sapp"})", "rpId"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","timeout":-1})", "timeout"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","timeout":"600000"})", "timeout"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","timeout":0.5})", "timeout"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","allowCredentials":{}})",
         "allowCredentials is not a list"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","allowCredentials":[{"type":"public-key"}]})",
         "allowCredentials id"},
        {"{" + ch + R"(,"rpId":"whatsapp.com","allowCredentials":[1]})", "not an object"},
    };
    for (const auto& [json, why] : cases) {
        auto o = parse_passkey_options(json);
        ASSERT_FALSE(o.ok()) << json;
        EXPECT_EQ(o.error().code, Errc::malformed) << json;
        EXPECT_NE(o.error().detail.find(why), std::string::npos)
            << json << " -> " << o.error().detail;
    }
    auto big = parse_passkey_options(std::string(passkey_options_max + 1, ' '));
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().code, Errc::too_large);
}

binary::Node prologue_request(std::optional<std::string> options,
                              std::string from = "s.whatsapp.net",
                              std::string type = "passkey_prologue_request")
{
    binary::Node n("notification");
    n.set_attr("from", from);
    n.set_attr("type", type);
    n.set_attr("id", "n-1");
    if (options)
        n.content = binary::Children{
            binary::Node("passkey_request_options", {}, Bytes(options->begin(), options->end()))};
    return n;
}

TEST(PairingPasskeyOptions, ComeInThePrologueRequestOrAreAskedFor)
{
    const std::string json(vector_string(passkey_section("assertions"), "options_json"));
    auto with = parse_prologue_request(prologue_request(json));
    ASSERT_TRUE(with.ok()) << with.error().detail;
    ASSERT_TRUE(with->has_value());
    EXPECT_EQ((*with)->rp_id, "whatsapp.com");

    auto without = parse_prologue_request(prologue_request(std::nullopt));
    ASSERT_TRUE(without.ok());
    EXPECT_FALSE(without->has_value());

    binary::Node ask = passkey_options_iq();
    EXPECT_EQ(ask.attr("xmlns"), "md");
    EXPECT_EQ(ask.attr("type"), "get");
    ASSERT_NE(ask.child("passkey_request_options"), nullptr);

    binary::Node answer("iq", {},
                        binary::Children{binary::Node("passkey_request_options", {},
                                                      Bytes(json.begin(), json.end()))});
    answer.set_attr("type", "result");
    auto asked = parse_passkey_options_answer(answer);
    ASSERT_TRUE(asked.ok()) << asked.error().detail;
    EXPECT_EQ(asked->challenge, vector_options().challenge);
}

TEST(PairingPasskeyOptions, APrologueRequestFromAnyoneButTheServerIsUntrusted)
{
    auto r = parse_prologue_request(prologue_request(std::nullopt, "5511999999999@s.whatsapp.net"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::untrusted);
    auto wrong =
        parse_prologue_request(prologue_request(std::nullopt, "s.whatsapp.net", "encrypt"));
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().code, Errc::malformed);
    auto bad = parse_prologue_request(prologue_request("{nope"));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().detail.find("not JSON"), std::string::npos);
}

// ---------- the pasted assertion ----------

TEST(PairingPasskeyAssertion, EachVectorPasteIsAcceptedOrRefusedForItsReason)
{
    const PasskeyOptions options = vector_options();
    const std::string valid = case_json("valid");
    int checked = 0;
    for (const auto& c : passkey_section("assertions")["cases"].GetArray()) {
        const std::string name(vector_string(c, "name"));
        auto a = check_passkey_assertion(vector_string(c, "json"), options);
        if (c["refusal"].IsNull()) {
            ASSERT_TRUE(a.ok()) << name << ": " << a.error().detail;
            EXPECT_EQ(a->credential_id,
                      vector_hex(passkey_section("assertions"), "credential_id_hex"))
                << name;
        } else {
            ASSERT_FALSE(a.ok()) << name;
            EXPECT_EQ(a.error().code, Errc::malformed) << name;
            EXPECT_NE(a.error().detail.find(c["refusal"].GetString()), std::string::npos)
                << name << " -> " << a.error().detail;
            // The mock refuses it as well: we only say so earlier.
            EXPECT_TRUE(c["mock_refusal"].IsString()) << name;
        }
        ++checked;
    }
    EXPECT_GE(checked, 11);
}

TEST(PairingPasskeyAssertion, WhatGoesToTheServerIsThePlainFormTheServerAccepts)
{
    const PasskeyOptions options = vector_options();
    const std::string valid = case_json("valid");
    auto a = check_passkey_assertion(valid, options);
    ASSERT_TRUE(a.ok()) << a.error().detail;
    // The software authenticator's output, which the mock verified.
    EXPECT_EQ(a->wire_json, valid);
    // A browser's toJSON() with extra members, another order and padding
    // (the mock refuses that as pasted) becomes the same bytes.
    auto d = check_passkey_assertion(case_json("decorated"), options);
    ASSERT_TRUE(d.ok()) << d.error().detail;
    EXPECT_EQ(d->wire_json, valid);
    EXPECT_EQ(d->signature, a->signature);
    EXPECT_FALSE(d->user_handle.has_value());
}

TEST(PairingPasskeyAssertion, AUserHandleIsCarriedAlong)
{
    const PasskeyOptions options = vector_options();
    std::string json = case_json("valid");
    const std::string from = "\"userHandle\":null";
    json.replace(json.find(from), from.size(), "\"userHandle\":\"dXNlcg\"");
    auto a = check_passkey_assertion(json, options);
    ASSERT_TRUE(a.ok()) << a.error().detail;
    EXPECT_EQ(a->user_handle, Bytes({'u', 's', 'e', 'r'}));
    EXPECT_EQ(a->wire_json, json);
}

TEST(PairingPasskeyAssertion, PastesOfTheWrongShapeGetAClearReason)
{
    const PasskeyOptions options = vector_options();
    const std::string id = base64url_encode(options.allow_credentials.at(0));
    const std::string head = R"({"id":")" + id + R"(","rawId":")" + id + R"(","type":"public-key")";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not JSON"},
        {"   ", "not JSON"},
        {"null", "not a JSON object"},
        {"\"{}\"", "not a JSON object"},
        {"[{}]", "not a JSON object"},
        {"{}", "type is not \"public-key\""},
        {R"({"type":"password"})", "type is not"},
        {R"({"type":"public-key"})", "rawId is missing"},
        {R"({"type":"public-key","rawId":12})", "rawId is not a string"},
        {R"({"type":"public-key","rawId":"a+b"})", "rawId is not base64url"},
        {R"({"type":"public-key","rawId":""})", "rawId is empty"},
        {R"({"type":"public-key","rawId":")" + id + R"(","id":"AAAA"})", "different credentials"},
        {head + "}", "response is missing"},
        {head + R"(,"response":[]})", "response is missing"},
        {head + R"(,"response":{}})", "clientDataJSON is missing"},
        {head + R"(,"response":{"clientDataJSON":"e30"}})", "authenticatorData is missing"},
        {head + R"(,"response":{"clientDataJSON":"e30","authenticatorData":"AAAA"}})",
         "signature is missing"},
        {head +
             R"(,"response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":5}})",
         "userHandle is not a string"},
        {head +
             R"(,"response":{"clientDataJSON":"bm9wZQ","authenticatorData":"AAAA","signature":"AAAA"}})",
         "clientDataJSON is not JSON"},
        {head +
             R"(,"response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}})",
         "type is not webauthn.get"},
        // A trailing comma, a comment, a second document: not JSON.
        {R"({"type":"public-key",})", "not JSON"},
        {R"({"type":"public-key"} // x)", "not JSON"},
        {R"({"type":"public-key"}{})", "not JSON"},
    };
    for (const auto& [json, why] : cases) {
        auto a = check_passkey_assertion(json, options);
        ASSERT_FALSE(a.ok()) << json;
        EXPECT_EQ(a.error().code, Errc::malformed) << json;
        EXPECT_NE(a.error().detail.find(why), std::string::npos)
            << json << " -> " << a.error().detail;
    }
}

TEST(PairingPasskeyAssertion, HostileTextIsRefusedWithoutCrashing)
{
    const PasskeyOptions options = vector_options();
    // Deep nesting costs heap, not stack (the parse is iterative).
    for (std::string deep : {std::string(60000, '['), std::string(60000, '{')}) {
        auto a = check_passkey_assertion(deep, options);
        ASSERT_FALSE(a.ok());
        EXPECT_EQ(a.error().code, Errc::malformed);
    }
    std::string nested = R"({"type":"public-key","rawId":)" + std::string(60000, '[') +
                         std::string(60000, ']') + "}";
    EXPECT_FALSE(check_passkey_assertion(nested, options).ok());
    // Not UTF-8, and a NUL inside a string.
    EXPECT_FALSE(check_passkey_assertion("{\"type\":\"public-\xff\xfekey\"}", options).ok());
    EXPECT_FALSE(
        check_passkey_assertion(std::string("{\"type\":\"public-key\0\"}", 22), options).ok());
    auto big = check_passkey_assertion(std::string(passkey_assertion_max + 1, ' '), options);
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().code, Errc::too_large);
}

TEST(PairingPasskeyAssertion, EveryCutAndEveryFlippedByteOfAValidPasteGetsAnAnswer)
{
    const PasskeyOptions options = vector_options();
    const std::string valid = case_json("valid");
    std::size_t refused = 0, accepted = 0;
    for (std::size_t n = 0; n < valid.size(); ++n) {
        auto a = check_passkey_assertion(std::string_view(valid).substr(0, n), options);
        EXPECT_FALSE(a.ok()) << "cut at " << n;
        if (!a.ok()) {
            EXPECT_FALSE(a.error().detail.empty());
        }
    }
    for (std::size_t i = 0; i < valid.size(); ++i) {
        for (char c : {'\0', '"', '{', 'A', '\xc3', '=', '\\'}) {
            if (valid[i] == c) continue;
            std::string m = valid;
            m[i] = c;
            auto a = check_passkey_assertion(m, options);
            if (a.ok()) {
                // Only a change the checks cannot see (inside the signature,
                // or a counter byte) may pass, and then the plain form still
                // goes out.
                ++accepted;
                EXPECT_EQ(a->wire_json.find('='), std::string::npos);
            } else {
                ++refused;
                EXPECT_FALSE(a.error().detail.empty());
            }
        }
    }
    EXPECT_GT(refused, accepted);
}

// ---------- the ceremony's bytes ----------

const rapidjson::Value& ceremony()
{
    return passkey_section("ceremony");
}

TEST(PairingPasskeyCeremony, ThePrologueIsTheOneTheServerReadsAndOpens)
{
    const auto& v = ceremony();
    const Bytes eph = vector_hex(v, "ephemeral_public");
    const Bytes nonce = vector_hex(v, "nonce");
    const std::string ref(vector_string(v, "ref"));
    auto p =
        build_prologue({.ephemeral_public = eph, .device_type = 1, .ref = ref, .nonce = nonce});
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_EQ(to_hex(p->identity), to_hex(vector_hex(v, "identity_bytes")));
    EXPECT_EQ(to_hex(p->commitment), to_hex(vector_hex(v, "commitment")));
    EXPECT_EQ(to_hex(p->payload), to_hex(vector_hex(v, "prologue_payload")));
}

TEST(PairingPasskeyCeremony, TheHandoffProofIsKeyedByTheQrsAdvSecret)
{
    const auto& v = ceremony();
    auto key = passkey_handoff_key(vector_hex(v, "qr_adv_secret"));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(to_hex(*key), to_hex(vector_hex(v, "handoff_key")));
    auto proof =
        passkey_handoff_proof(vector_hex(v, "qr_adv_secret"), vector_hex(v, "prologue_payload"));
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(to_hex(*proof), to_hex(vector_hex(v, "handoff_proof")));
    // Another secret (the new one, say) proves nothing.
    auto other =
        passkey_handoff_proof(vector_hex(v, "new_adv_secret"), vector_hex(v, "prologue_payload"));
    ASSERT_TRUE(other.ok());
    EXPECT_NE(to_hex(*other), to_hex(vector_hex(v, "handoff_proof")));
}

binary::Node continuation(Bytes content, std::string from = "s.whatsapp.net")
{
    binary::Node n("notification");
    n.set_attr("from", from);
    n.set_attr("type", "crsc_continuation");
    n.content =
        binary::Children{binary::Node("primary_ephemeral_identity", {}, std::move(content))};
    return n;
}

TEST(PairingPasskeyCeremony, TheCodeBothScreensShowIsThePhones)
{
    const auto& v = ceremony();
    auto primary =
        parse_crsc_continuation(continuation(vector_hex(v, "primary_ephemeral_identity")));
    ASSERT_TRUE(primary.ok()) << primary.error().detail;
    EXPECT_EQ(to_hex(primary->public_key), to_hex(vector_hex(v, "primary_public")));
    EXPECT_EQ(to_hex(primary->nonce), to_hex(vector_hex(v, "primary_nonce")));
    auto code = passkey_code(vector_hex(v, "nonce"), primary->public_key, primary->nonce);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, vector_string(v, "code"));
}

TEST(PairingPasskeyCeremony, TheSealedRequestIsTheOneThePhoneOpens)
{
    const auto& v = ceremony();
    const std::string ref(vector_string(v, "ref"));
    auto key = pairing_request_key(vector_hex(v, "ephemeral_private"),
                                   vector_hex(v, "primary_public"), 1, ref);
    ASSERT_TRUE(key.ok()) << key.error().detail;
    EXPECT_EQ(to_hex(*key), to_hex(vector_hex(v, "request_key")));
    const Bytes noise = vector_hex(v, "noise_public"), identity = vector_hex(v, "identity_public"),
                adv = vector_hex(v, "new_adv_secret");
    auto sealed = seal_pairing_request(*key, {noise, identity, adv}, vector_hex(v, "iv"));
    ASSERT_TRUE(sealed.ok()) << sealed.error().detail;
    EXPECT_EQ(to_hex(*sealed), to_hex(vector_hex(v, "encrypted_pairing_request")));
    // The device type and ref are bound into the key.
    auto other = pairing_request_key(vector_hex(v, "ephemeral_private"),
                                     vector_hex(v, "primary_public"), 2, ref);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(to_hex(*other), to_hex(*key));
}

TEST(PairingPasskeyCeremony, WrongSizesAndBadContinuationsAreRefusedNamingWhat)
{
    const auto& v = ceremony();
    const Bytes k32(32, 1), k31(31, 1), iv(12, 2);
    EXPECT_FALSE(
        build_prologue({.ephemeral_public = k31, .device_type = 1, .ref = "r", .nonce = k32}).ok());
    EXPECT_FALSE(
        build_prologue({.ephemeral_public = k32, .device_type = 1, .ref = "r", .nonce = k31}).ok());
    EXPECT_FALSE(
        build_prologue({.ephemeral_public = k32, .device_type = 1, .ref = "", .nonce = k32}).ok());
    auto not_a_platform =
        build_prologue({.ephemeral_public = k32, .device_type = 999, .ref = "r", .nonce = k32});
    ASSERT_FALSE(not_a_platform.ok());
    EXPECT_NE(not_a_platform.error().detail.find("PlatformType"), std::string::npos);
    EXPECT_FALSE(passkey_handoff_key(k31).ok());
    EXPECT_FALSE(passkey_code(k31, k32, k32).ok());
    EXPECT_FALSE(pairing_request_key(k32, k32, 1, "").ok());
    EXPECT_FALSE(pairing_request_key(k32, Bytes(32, 0), 1, "r").ok());  // small order
    EXPECT_FALSE(seal_pairing_request(k32, {k32, k32, k32}, Bytes(16, 0)).ok());
    EXPECT_FALSE(seal_pairing_request(k32, {k32, k31, k32}, iv).ok());

    auto untrusted = parse_crsc_continuation(
        continuation(vector_hex(v, "primary_ephemeral_identity"), "x@s.whatsapp.net"));
    ASSERT_FALSE(untrusted.ok());
    EXPECT_EQ(untrusted.error().code, Errc::untrusted);
    binary::Node empty("notification");
    empty.set_attr("from", "s.whatsapp.net");
    empty.set_attr("type", "crsc_continuation");
    EXPECT_FALSE(parse_crsc_continuation(empty).ok());
    EXPECT_FALSE(parse_crsc_continuation(continuation(Bytes{0xff, 0xff})).ok());
    proto::PrimaryEphemeralIdentity shortkey;
    shortkey.set_publickey(std::string(31, 'k'));
    shortkey.set_nonce(std::string(32, 'n'));
    auto s = parse_crsc_continuation(continuation(proto::serialize(shortkey)));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().detail.find("key is not 32 bytes"), std::string::npos);
    proto::PrimaryEphemeralIdentity nononce;
    nononce.set_publickey(std::string(32, 'k'));
    auto n = parse_crsc_continuation(continuation(proto::serialize(nononce)));
    ASSERT_FALSE(n.ok());
    EXPECT_NE(n.error().detail.find("nonce"), std::string::npos);
}

TEST(PairingPasskeyCeremony, TheIqsAreMdIqsToTheServerAroundOneChild)
{
    const Bytes cred{1, 2, 3}, payload{4, 5}, nonce(32, 6), sealed{7};
    crypto::Digest32 proof{};
    proof[0] = 9;
    binary::Node p = passkey_prologue_iq(cred, "{}", payload, proof);
    EXPECT_EQ(p.attr("xmlns"), "md");
    EXPECT_EQ(p.attr("type"), "set");
    EXPECT_EQ(p.find_attr("to")->value, binary::server_jid());
    const binary::Node* pro = p.child("passkey_prologue");
    ASSERT_NE(pro, nullptr);
    EXPECT_EQ(*pro->child("credential_id")->bytes(), cred);
    EXPECT_EQ(text(*pro->child("webauthn_assertion")->bytes()), "{}");
    EXPECT_EQ(*pro->child("prologue_payload")->bytes(), payload);
    EXPECT_EQ(pro->child("pairing_handoff_proof")->bytes()->at(0), 9);
    EXPECT_EQ(passkey_prologue_iq(cred, "{}", payload, std::nullopt)
                  .child("passkey_prologue")
                  ->child("pairing_handoff_proof"),
              nullptr);
    EXPECT_EQ(*companion_nonce_iq(nonce).child("companion_nonce")->bytes(), nonce);
    EXPECT_EQ(*encrypted_pairing_request_iq(sealed).child("encrypted_pairing_request")->bytes(),
              sealed);
    EXPECT_EQ(passkey_ref_iq().attr("type"), "get");
    ASSERT_NE(passkey_ref_iq().child("ref"), nullptr);

    binary::Node answer("iq", {}, binary::Children{binary::Node("ref", {}, Bytes{'2', '@', 'x'})});
    answer.set_attr("type", "result");
    EXPECT_EQ(parse_passkey_ref_answer(answer).value(), "2@x");
    binary::Node none("iq");
    none.set_attr("type", "result");
    EXPECT_FALSE(parse_passkey_ref_answer(none).ok());
}

}  // namespace
}  // namespace chatwoot::wa::pairing
