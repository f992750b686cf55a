#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/proto/client_payload_builder.hpp"
#include "wa/proto/codec.hpp"

namespace chatwoot::wa::proto {
namespace {

// Bytes made by npm baileys 7.0.0-rc14 (validate-connection.js
// generateRegistrationNode / generateLoginNode, then ClientPayload.encode)
// with version [2, 3000, 1045649367], browser ['Chatwoot', 'Chrome', '0.1'],
// countryCode 'US', syncFullHistory false and these keys: registrationId
// 0x1234, identity public 32 x 0x11, signed prekey id 0x010203, its public
// key 32 x 0x22 and signature 64 x 0x33; login for
// 15551234567:3@s.whatsapp.net with pushName 'Support'.
constexpr const char* baileys_registration_hex =
    "18002a36080e120b080210b81718d7afcdf2031a0330303022033030302a03302e313a074465736b746f70"
    "4203302e3150005a02656e6202555332022000600168019a01d7010a04000012341201051a201111111111"
    "11111111111111111111111111111111111111111111111111111122030102032a20222222222222222222"
    "22222222222222222222222222222222222222222222223240333333333333333333333333333333333333"
    "33333333333333333333333333333333333333333333333333333333333333333333333333333333333333"
    "3333333a109fa53af9421567b114e33c9bb1ef7db2422f0a0843686174776f6f741206080a100f18071801"
    "20002a171880502001300038014001480150015801600170017800880200";
constexpr const char* baileys_login_hex =
    "088784b4f73918012a36080e120b080210b81718d7afcdf2031a0330303022033030302a03302e313a0744"
    "65736b746f704203302e3150005a02656e62025553320220003a07537570706f7274600168019001038802"
    "01c80200";

std::string str(ByteView b)
{
    return std::string(as_chars(b));
}

struct Keys {
    Bytes identity = Bytes(32, 0x11);
    Bytes spk = Bytes(32, 0x22);
    Bytes sig = Bytes(64, 0x33);
    RegistrationKeys view() const { return RegistrationKeys{0x1234, identity, 0x010203, spk, sig}; }
};

CompanionProps baileys_like_props()
{
    CompanionProps props;
    props.os = "Chatwoot";
    props.os_version = {10, 15, 7};  // what Baileys hard-codes
    props.platform = DeviceProps::CHROME;
    return props;
}

TEST(ProtoClientPayload, VectorPayloadParsesToItsFields)
{
    const Bytes plain = test::vector_hex(test::vector_section("noise"), "client_payload_plain");
    auto p = parse<ClientPayload>(plain);
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_EQ(p->username(), 15551234567u);
    EXPECT_EQ(p->device(), 3u);
    EXPECT_TRUE(p->passive());
    EXPECT_TRUE(p->pull());
    ASSERT_TRUE(p->has_useragent());
    EXPECT_EQ(p->useragent().platform(), ClientPayload::UserAgent::WEB);
    EXPECT_EQ(p->useragent().appversion().primary(), 2u);
    EXPECT_EQ(p->useragent().appversion().secondary(), 3000u);
    EXPECT_EQ(p->useragent().appversion().tertiary(), 1035194821u);
    EXPECT_FALSE(p->has_devicepairingdata());
    EXPECT_EQ(serialize(*p), plain);  // nothing lost, same field order
}

TEST(ProtoClientPayload, HandBuiltPayloadEncodesLikeTheVector)
{
    ClientPayload p;
    p.set_username(15551234567u);
    p.set_device(3);
    p.set_passive(true);
    p.set_pull(true);
    p.mutable_useragent()->set_platform(ClientPayload::UserAgent::WEB);
    auto* v = p.mutable_useragent()->mutable_appversion();
    v->set_primary(2);
    v->set_secondary(3000);
    v->set_tertiary(1035194821);
    EXPECT_EQ(to_hex(serialize(p)),
              test::vector_string(test::vector_section("noise"), "client_payload_plain"));
}

TEST(ProtoClientPayload, RegistrationMatchesBaileysButForTheManufacturerField)
{
    Keys keys;
    auto p = registration_payload(keys.view(), baileys_like_props());
    ASSERT_TRUE(p.ok()) << p.error().detail;
    // whatsmeow sends an empty manufacturer; Baileys leaves it out.
    ASSERT_TRUE(p->useragent().has_manufacturer());
    EXPECT_EQ(p->useragent().manufacturer(), "");
    p->mutable_useragent()->clear_manufacturer();
    EXPECT_EQ(to_hex(serialize(*p)), baileys_registration_hex);
}

TEST(ProtoClientPayload, LoginMatchesBaileysButForWhatWhatsmeowAdds)
{
    ClientOptions options;
    options.push_name = "Support";
    ClientPayload p = login_payload(15551234567u, 3, options);
    EXPECT_TRUE(p.liddbmigrated());
    EXPECT_EQ(p.lc(), 1);
    p.mutable_useragent()->clear_manufacturer();
    p.clear_lc();
    p.set_liddbmigrated(false);
    EXPECT_EQ(to_hex(serialize(p)), baileys_login_hex);
}

TEST(ProtoClientPayload, RegistrationCarriesTheKeysAndBuildHash)
{
    Keys keys;
    auto p = registration_payload(keys.view(), baileys_like_props());
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_FALSE(p->passive());
    EXPECT_TRUE(p->has_passive());
    EXPECT_FALSE(p->pull());
    EXPECT_TRUE(p->has_pull());
    EXPECT_FALSE(p->has_username());
    EXPECT_FALSE(p->has_device());
    EXPECT_EQ(p->connecttype(), ClientPayload::WIFI_UNKNOWN);
    EXPECT_EQ(p->connectreason(), ClientPayload::USER_ACTIVATED);
    EXPECT_EQ(p->webinfo().websubplatform(), ClientPayload::WebInfo::WEB_BROWSER);
    EXPECT_TRUE(p->webinfo().has_websubplatform());
    const auto& reg = p->devicepairingdata();
    EXPECT_EQ(to_hex(as_bytes(reg.eregid())), "00001234");
    EXPECT_EQ(to_hex(as_bytes(reg.ekeytype())), "05");
    EXPECT_EQ(reg.eident(), str(keys.identity));
    EXPECT_EQ(to_hex(as_bytes(reg.eskeyid())), "010203");
    EXPECT_EQ(reg.eskeyval(), str(keys.spk));
    EXPECT_EQ(reg.eskeysig(), str(keys.sig));
    // MD5("2.3000.1045649367"), computed with Python's hashlib.
    EXPECT_EQ(to_hex(as_bytes(reg.buildhash())), "9fa53af9421567b114e33c9bb1ef7db2");

    auto props = parse<DeviceProps>(as_bytes(reg.deviceprops()));
    ASSERT_TRUE(props.ok()) << props.error().detail;
    EXPECT_EQ(props->os(), "Chatwoot");
    EXPECT_EQ(props->platformtype(), DeviceProps::CHROME);
    EXPECT_FALSE(props->requirefullsync());
    EXPECT_EQ(props->version().primary(), 10u);
    EXPECT_EQ(props->historysyncconfig().storagequotamb(), 10240u);
    EXPECT_TRUE(props->historysyncconfig().inlineinitialpayloadine2eemsg());
}

TEST(ProtoClientPayload, VersionIsConfigurableAndFeedsTheBuildHash)
{
    Keys keys;
    ClientOptions options;
    options.version = {2, 3000, 1};
    auto p = registration_payload(keys.view(), CompanionProps{}, options);
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_EQ(p->useragent().appversion().tertiary(), 1u);
    EXPECT_EQ(to_hex(as_bytes(p->devicepairingdata().buildhash())),
              "236487c02d95b982c2cdc3c6e961e0e3");  // MD5("2.3000.1")
    ClientPayload login = login_payload(1, 2, options);
    EXPECT_EQ(login.useragent().appversion().tertiary(), 1u);
}

TEST(ProtoClientPayload, LoginNamesTheDevice)
{
    ClientOptions options;
    options.connect_reason = ClientPayload::ERROR_RECONNECT;
    ClientPayload p = login_payload(4915112345678u, 17, options);
    EXPECT_EQ(p.username(), 4915112345678u);
    EXPECT_EQ(p.device(), 17u);
    EXPECT_TRUE(p.passive());
    EXPECT_TRUE(p.pull());
    EXPECT_FALSE(p.has_devicepairingdata());
    EXPECT_FALSE(p.has_pushname());
    EXPECT_EQ(p.connectreason(), ClientPayload::ERROR_RECONNECT);
    const auto& ua = p.useragent();
    EXPECT_EQ(ua.platform(), ClientPayload::UserAgent::WEB);
    EXPECT_EQ(ua.appversion().tertiary(), default_wa_version.tertiary);
    EXPECT_EQ(ua.mcc(), "000");
    EXPECT_EQ(ua.mnc(), "000");
    EXPECT_EQ(ua.osversion(), "0.1");
    EXPECT_EQ(ua.device(), "Desktop");
    EXPECT_EQ(ua.osbuildnumber(), "0.1");
    EXPECT_EQ(ua.releasechannel(), ClientPayload::UserAgent::RELEASE);
    EXPECT_EQ(ua.localelanguageiso6391(), "en");
    EXPECT_EQ(ua.localecountryiso31661alpha2(), "US");
}

TEST(ProtoClientPayload, RegistrationRejectsKeysOfTheWrongSize)
{
    Keys keys;
    RegistrationKeys k = keys.view();
    Bytes short_identity(31, 0x11);
    k.identity_public = short_identity;
    auto a = registration_payload(k, CompanionProps{});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::malformed);
    EXPECT_NE(a.error().detail.find("identity"), std::string::npos) << a.error().detail;

    k = keys.view();
    Bytes long_sig(65, 0x33);
    k.signed_prekey_signature = long_sig;
    auto b = registration_payload(k, CompanionProps{});
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().code, Errc::malformed);
    EXPECT_NE(b.error().detail.find("signature"), std::string::npos) << b.error().detail;

    k = keys.view();
    k.signed_prekey_id = 0x1000000;
    auto c = registration_payload(k, CompanionProps{});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, Errc::too_large);

    k.signed_prekey_id = 0xffffff;
    auto d = registration_payload(k, CompanionProps{});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(to_hex(as_bytes(d->devicepairingdata().eskeyid())), "ffffff");
}

TEST(ProtoClientPayload, WaVersionTextRoundTrips)
{
    EXPECT_EQ(default_wa_version.to_string(), "2.3000.1045649367");
    auto v = parse_wa_version("2.3000.1045649367");
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, default_wa_version);
    for (const char* bad : {"", "2.3000", "2.3000.", "2.3000.x", "2.3000.1.4", "2..1", "-2.3000.1",
                            "2.3000.99999999999", " 2.3000.1"})
        EXPECT_FALSE(parse_wa_version(bad).has_value()) << bad;
}

}  // namespace
}  // namespace chatwoot::wa::proto
