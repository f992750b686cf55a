// The live device's keys in SQLite: made once, read back the same, never
// silently replaced when damaged, prekeys kept before they are handed out,
// a pairing stored whole, and a logout that leaves nothing.

#include "helper/device_keys.hpp"

#include "temp_store.hpp"

#include "wa/binary/jid.hpp"
#include "wa/signal/prekey_records.hpp"

#include <gtest/gtest.h>

#include <set>

namespace chatwoot::helper {
namespace {

using test::TempStore;
using wa::Errc;

struct Keys {
    TempStore t{"cw-device-keys"};
    store::SignalStore store{*t.db, "support"};
    DeviceKeys keys{*t.db, store, wa::crypto::seeded_random(wa::as_bytes("device keys"))};
};

TEST(DeviceKeys, NoneUntilMadeThenTheSameOnEveryLoad)
{
    Keys k;
    auto none = k.keys.load_credentials();
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, Errc::not_found);

    auto made = k.keys.load_or_create();
    ASSERT_TRUE(made) << made.error().detail;
    EXPECT_FALSE(made->paired());

    // A second helper (a new DeviceKeys on the same rows) reads the same.
    store::SignalStore again(*k.t.db, "support");
    DeviceKeys other(*k.t.db, again, wa::crypto::seeded_random(wa::as_bytes("other")));
    auto loaded = other.load_or_create();
    ASSERT_TRUE(loaded) << loaded.error().detail;
    EXPECT_EQ(loaded->noise_key.public_key, made->noise_key.public_key);
    EXPECT_EQ(loaded->noise_key.private_key, made->noise_key.private_key);
    EXPECT_EQ(loaded->identity_key.private_key, made->identity_key.private_key);
    EXPECT_EQ(loaded->registration_id, made->registration_id);
    EXPECT_EQ(loaded->signed_prekey.id, made->signed_prekey.id);
    EXPECT_EQ(loaded->signed_prekey.signature, made->signed_prekey.signature);
    EXPECT_EQ(loaded->adv_secret, made->adv_secret);

    // Another device in the same database has none.
    store::SignalStore stranger_store(*k.t.db, "sales");
    DeviceKeys stranger(*k.t.db, stranger_store, wa::crypto::seeded_random(wa::as_bytes("s")));
    EXPECT_EQ(stranger.load_credentials().error().code, Errc::not_found);
}

TEST(DeviceKeys, APartialIdentityIsAnErrorNotANewDevice)
{
    Keys k;
    ASSERT_TRUE(k.keys.load_or_create());
    k.t.db->exec("DELETE FROM wa_device_values WHERE key = 'adv_secret'");
    auto r = k.keys.load_or_create();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::malformed);
    EXPECT_NE(r.error().detail.find("ADV secret"), std::string::npos);
}

TEST(DeviceKeys, PreKeysAreKeptBeforeTheyLeaveAndHandedOutUntilMarked)
{
    Keys k;
    ASSERT_TRUE(k.keys.load_or_create());
    auto first = k.keys.prepare_upload(812);
    ASSERT_TRUE(first) << first.error().detail;
    ASSERT_EQ(first->pre_keys.size(), 812u);
    EXPECT_EQ(k.store.pre_key_count(), 812u);
    std::set<std::uint32_t> ids;
    for (const auto& key : first->pre_keys) {
        ids.insert(key.id);
        // What goes out is what the store keeps (private half included).
        auto record = k.store.load_pre_key(key.id);
        ASSERT_TRUE(record && *record);
        auto parsed = wa::signal::parse_pre_key(**record);
        ASSERT_TRUE(parsed);
        EXPECT_EQ(parsed->key_pair.private_key, key.key_pair.private_key);
    }
    EXPECT_EQ(ids.size(), 812u);

    // An upload that never finished: the same keys again, none new.
    auto again = k.keys.prepare_upload(50);
    ASSERT_TRUE(again);
    ASSERT_EQ(again->pre_keys.size(), 50u);
    EXPECT_EQ(again->pre_keys.front().id, first->pre_keys.front().id);
    EXPECT_EQ(k.store.pre_key_count(), 812u);

    std::vector<std::uint32_t> sent(ids.begin(), ids.end());
    ASSERT_TRUE(k.keys.mark_uploaded(sent));
    auto refill = k.keys.prepare_upload(50);
    ASSERT_TRUE(refill);
    ASSERT_EQ(refill->pre_keys.size(), 50u);
    for (const auto& key : refill->pre_keys) EXPECT_EQ(ids.count(key.id), 0u);
    EXPECT_EQ(k.store.pre_key_count(), 862u);
}

TEST(DeviceKeys, APairingIsStoredWholeAndALogoutLeavesNothing)
{
    Keys k;
    ASSERT_TRUE(k.keys.load_or_create());
    wa::pairing::PairedAccount account{.iq_id = "1",
                                       .jid = *wa::binary::Jid::parse("15551234567:3@s.whatsapp.net"),
                                       .lid = wa::binary::Jid::parse("223150226536073:3@lid"),
                                       .platform = "android",
                                       .business_name = "",
                                       .key_index = 1,
                                       .hosted = false,
                                       .primary_identity = {},
                                       .account = wa::Bytes{1, 2, 3}};
    ASSERT_TRUE(k.keys.store_pairing(account));

    auto loaded = k.keys.load_credentials();
    ASSERT_TRUE(loaded);
    ASSERT_TRUE(loaded->paired());
    EXPECT_EQ(loaded->jid->to_string(), "15551234567:3@s.whatsapp.net");
    EXPECT_EQ(loaded->lid->to_string(), "223150226536073:3@lid");
    EXPECT_EQ(k.store.lid_for_pn("15551234567"), "223150226536073");
    EXPECT_EQ(k.store.adv_identity(), (wa::Bytes{1, 2, 3}));

    ASSERT_TRUE(k.keys.prepare_upload(10));
    ASSERT_TRUE(k.keys.forget());
    EXPECT_EQ(k.keys.load_credentials().error().code, Errc::not_found);
    EXPECT_EQ(k.store.pre_key_count(), 0u);
    EXPECT_EQ(k.store.signed_pre_key_count(), 0u);

    // And the next device made there is a new one.
    auto fresh = k.keys.load_or_create();
    ASSERT_TRUE(fresh);
    EXPECT_FALSE(fresh->paired());
}

TEST(DeviceKeys, AFailingDatabaseIsAStoreFailure)
{
    Keys k;
    ASSERT_TRUE(k.keys.load_or_create());
    k.t.db->exec("DROP TABLE wa_pre_keys");
    auto r = k.keys.prepare_upload(5);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::store_failure);
}

}  // namespace
}  // namespace chatwoot::helper
