// Command records (include/chatwoot_command.h, src/ipc/command_record.*):
// the workers' C encoder and push, the helper's decoder, and that the two
// agree byte for byte and refuse the same things.

#include "chatwoot_command.h"
#include "ipc/command_record.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using namespace chatwoot::ipc;

namespace {

cw_str_t str(std::string_view s)
{
    return cw_str_t{s.data(), s.size()};
}

// The record the C ABI writes, or an empty vector with the reason.
std::vector<unsigned char> encode_c(const cw_command_t& cmd, std::string* reason = nullptr)
{
    char why[CW_COMMAND_REASON_SIZE] = "";
    const size_t len = cw_command_encoded_len(&cmd, why);
    if (len == 0) {
        if (reason != nullptr) {
            *reason = why;
        }
        return {};
    }
    std::vector<unsigned char> out(len);
    EXPECT_EQ(cw_command_encode(&cmd, out.data(), out.size(), why), len) << why;
    return out;
}

cw_command_t c_send(std::string_view inbox, std::string_view to, std::string_view text)
{
    cw_command_t c{};
    c.kind = CW_COMMAND_SEND;
    c.inbox = str(inbox);
    c.to = str(to);
    c.text = str(text);
    c.now = 1700000000;
    return c;
}

CommandDecoding decode(const std::vector<unsigned char>& r)
{
    return decode_command(std::span<const unsigned char>(r.data(), r.size()));
}

// Owns the memory of one ring, as t/unit/ring_test.cpp does.
class Ring {
public:
    Ring(size_t data_size, uint32_t capacity, uint64_t epoch)
        : mem_(cw_ring_footprint(data_size) / sizeof(uint64_t))
    {
        cw_ring_init(get(), data_size, capacity, epoch);
    }
    cw_ring_t* get() { return reinterpret_cast<cw_ring_t*>(mem_.data()); }

private:
    std::vector<uint64_t> mem_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Round trips

TEST(CommandRecord, EveryKindRoundTripsThroughTheCEncoderAndTheDecoder)
{
    struct Case {
        cw_command_t c;
        Command want;
    };
    std::vector<Case> cases;
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_PAIR;
        c.device = str("shop-phone");
        c.now = 1700000001;
        cases.push_back({c, Command{1700000001, PairCommand{"shop-phone"}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_PAIR_CODE;
        c.device = str("shop-phone");
        c.phone = str("5511999990000");
        c.now = 1700000002;
        cases.push_back(
            {c, Command{1700000002, PairCodeCommand{"shop-phone", "5511999990000"}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_LOGOUT;
        c.device = str("téléphone");   // names are UTF-8, not ASCII only
        c.now = 1700000003;
        cases.push_back({c, Command{1700000003, LogoutCommand{"téléphone"}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_IMPORT;
        c.inbox = str("support");
        c.what = str("messages");
        c.days = 30;
        c.flags = CW_COMMAND_IMPORT_MEDIA | CW_COMMAND_IMPORT_GROUPS;
        c.now = 1700000004;
        cases.push_back(
            {c, Command{1700000004, ImportCommand{"support", "messages", 30, true, true}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_IMPORT;
        c.inbox = str("support");
        c.what = str("all");
        c.days = 0;
        c.flags = CW_COMMAND_IMPORT_GROUPS;
        c.now = -5;   // the clock is the worker's: carried as it is
        cases.push_back({c, Command{-5, ImportCommand{"support", "all", 0, false, true}}});
    }
    {
        cw_command_t c = c_send("support", "5511999990000@s.whatsapp.net",
                                "Olá!\nTwo lines\tand a tab");
        cases.push_back({c, Command{1700000000,
                                    SendCommand{"support", "5511999990000@s.whatsapp.net",
                                                "Olá!\nTwo lines\tand a tab"}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_PASSKEY;
        c.device = str("shop-phone");
        // JSON as pasted: its white space (tab, CR, LF) is kept as it is
        c.assertion = str("{\n\t\"id\": \"AAEC\",\r\n \"type\": \"public-key\"}");
        c.now = 1700000005;
        cases.push_back(
            {c, Command{1700000005,
                        PasskeyCommand{"shop-phone",
                                       "{\n\t\"id\": \"AAEC\",\r\n \"type\": \"public-key\"}"}}});
    }
    {
        cw_command_t c{};
        c.kind = CW_COMMAND_PASSKEY_CONFIRM;
        c.device = str("shop-phone");
        c.now = 1700000006;
        cases.push_back({c, Command{1700000006, PasskeyConfirmCommand{"shop-phone"}}});
    }

    for (const Case& k : cases) {
        SCOPED_TRACE(cw_command_kind_name(k.c.kind));
        const std::vector<unsigned char> rec = encode_c(k.c);
        ASSERT_FALSE(rec.empty());
        const CommandDecoding got = decode(rec);
        ASSERT_TRUE(got.ok()) << got.reason();
        EXPECT_EQ(got.value(), k.want);
        EXPECT_EQ(got.value().kind(), k.c.kind);
        // The C++ encoder writes the same bytes as the C one.
        const auto again = encode_command(k.want);
        ASSERT_TRUE(again.has_value());
        EXPECT_EQ(*again, rec);
    }
}

TEST(CommandRecord, TheLayoutIsTheDocumentedOne)
{
    cw_command_t c{};
    c.kind = CW_COMMAND_PAIR_CODE;
    c.device = str("d1");
    c.phone = str("123");
    c.now = 0x0102030405060708;
    const std::vector<unsigned char> want = {
        CW_COMMAND_VERSION, CW_COMMAND_PAIR_CODE, 0, 0,   // version, kind, flags
        0, 0, 0, 0,                                       // days
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,   // created_at, LE
        2, 0, 0, 0, 'd', '1',                             // device
        3, 0, 0, 0, '1', '2', '3',                        // phone
    };
    EXPECT_EQ(encode_c(c), want);
}

TEST(CommandRecord, ASendWithAnIdempotencyKeyCarriesItAfterTheTextUnderItsFlag)
{
    cw_command_t c = c_send("s", "t", "x");
    c.key = str("ab:k1");
    const std::vector<unsigned char> want = {
        CW_COMMAND_VERSION, CW_COMMAND_SEND, CW_COMMAND_SEND_KEYED, 0, 0, 0, 0, 0,
        0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0,
        1, 0, 0, 0, 's',
        1, 0, 0, 0, 't',
        1, 0, 0, 0, 'x',
        5, 0, 0, 0, 'a', 'b', ':', 'k', '1',
    };
    EXPECT_EQ(encode_c(c), want);
    const auto got = decode(want);
    ASSERT_TRUE(got.ok()) << got.reason();
    EXPECT_EQ(std::get<SendCommand>(got.value().body), (SendCommand{"s", "t", "x", "ab:k1"}));
    // The helper's own encoder writes the same bytes.
    EXPECT_EQ(*encode_command(got.value()), want);

    // Without a key: no flag, three fields, as before.
    const auto plain = encode_c(c_send("s", "t", "x"));
    EXPECT_EQ(plain[2], 0);
    EXPECT_EQ(std::get<SendCommand>(decode(plain).value().body).key, "");

    // A key over its bound, or with a control character, is refused.
    const std::string long_key(CW_COMMAND_KEY_MAX + 1, 'k');
    c.key = str(long_key);
    EXPECT_TRUE(encode_c(c).empty());
    c.key = str("a\nb");
    EXPECT_TRUE(encode_c(c).empty());
}

TEST(CommandRecord, FieldsAtTheirLimitsRoundTrip)
{
    const std::string inbox(CW_COMMAND_INBOX_MAX, 'i');
    const std::string to(CW_COMMAND_TO_MAX, 't');
    std::string text;
    // Four-byte characters up to the limit exactly.
    while (text.size() + 4 <= CW_COMMAND_TEXT_MAX) {
        text += "\xF0\x9F\x98\x80";
    }
    const auto rec = encode_c(c_send(inbox, to, text));
    ASSERT_FALSE(rec.empty());
    EXPECT_LE(rec.size(), size_t{CW_COMMAND_RECORD_MAX});
    const auto got = decode(rec);
    ASSERT_TRUE(got.ok()) << got.reason();
    EXPECT_EQ(std::get<SendCommand>(got.value().body).text, text);

    // The largest record of all, a send with the longest idempotency key,
    // is exactly the documented bound.
    const std::string longest(CW_COMMAND_TEXT_MAX, 'x');
    const std::string key(CW_COMMAND_KEY_MAX, 'k');
    cw_command_t keyed = c_send(inbox, to, longest);
    keyed.key = str(key);
    EXPECT_EQ(encode_c(keyed).size(), size_t{CW_COMMAND_RECORD_MAX});
}

TEST(CommandRecord, APasskeyRecordIsLaidOutAsDocumentedAndFitsTheRecordBound)
{
    cw_command_t c{};
    c.kind = CW_COMMAND_PASSKEY;
    c.device = str("d1");
    c.assertion = str("{}");
    c.now = 1;
    const std::vector<unsigned char> want = {
        CW_COMMAND_VERSION, CW_COMMAND_PASSKEY, 0, 0, 0, 0, 0, 0,
        1, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 0, 0, 'd', '1',
        2, 0, 0, 0, '{', '}',
    };
    EXPECT_EQ(encode_c(c), want);

    // An assertion at its bound, with the longest name, is the documented
    // passkey bound, and the decoder (whose bound is the send's) reads it.
    const std::string device(CW_COMMAND_DEVICE_MAX, 'd');
    std::string assertion = "\"";
    assertion += std::string(CW_COMMAND_ASSERTION_MAX - 2, 'a');
    assertion += '"';
    c.device = str(device);
    c.assertion = str(assertion);
    const auto rec = encode_c(c);
    ASSERT_EQ(rec.size(), size_t{CW_COMMAND_PASSKEY_RECORD_MAX});
    EXPECT_LE(rec.size(), size_t{CW_COMMAND_RECORD_MAX});
    const auto got = decode(rec);
    ASSERT_TRUE(got.ok()) << got.reason();
    EXPECT_EQ(std::get<PasskeyCommand>(got.value().body).assertion, assertion);
}

TEST(CommandRecord, APasskeyAssertionMustBeJsonTextWithinItsBound)
{
    auto passkey = [](std::string_view assertion) {
        cw_command_t c{};
        c.kind = CW_COMMAND_PASSKEY;
        c.device = str("d");
        c.assertion = str(assertion);
        return c;
    };
    static const std::string long_assertion(CW_COMMAND_ASSERTION_MAX + 1, 'x');
    struct Case {
        const char* name;
        cw_command_t c;
        const char* reason;
    };
    cw_command_t no_device = passkey("{}");
    no_device.device = str("");
    const Case cases[] = {
        {"empty", passkey(""), "assertion is empty (at most 65536 bytes)"},
        {"too long", passkey(long_assertion), "assertion is too long (at most 65536 bytes)"},
        {"NUL", passkey(std::string_view("{\0}", 3)),
         "assertion is not UTF-8 JSON text without control characters (at most 65536 bytes)"},
        {"escape character", passkey("{\x1b[31m}"),
         "assertion is not UTF-8 JSON text without control characters (at most 65536 bytes)"},
        {"bad UTF-8", passkey("{\"secret\xff\"}"),
         "assertion is not UTF-8 JSON text without control characters (at most 65536 bytes)"},
        {"no device", no_device, "device is empty (at most 64 bytes)"},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.name);
        std::string reason;
        EXPECT_TRUE(encode_c(k.c, &reason).empty());
        EXPECT_EQ(reason, k.reason);
        EXPECT_LT(reason.size(), size_t{CW_COMMAND_REASON_SIZE});
    }

    // The decoder refuses the same, at the field, never quoting it.
    auto rec = encode_c(passkey("{\"k\":\"secret\"}"));
    ASSERT_FALSE(rec.empty());
    rec[16 + 4 + 1 + 4 + 2] = 0x07;   // a BEL inside the JSON
    auto got = decode(rec);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.reason(),
              "bad_field at 21: assertion is not UTF-8 JSON text without control characters");
    rec[16 + 4 + 1 + 3] = 0x01;       // a length over 2^24: over the bound
    got = decode(rec);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, CommandErrc::too_large);
    EXPECT_EQ(got.reason().find("secret"), std::string::npos);

    // A confirm carries nothing but the device: a field more is trailing.
    cw_command_t confirm{};
    confirm.kind = CW_COMMAND_PASSKEY_CONFIRM;
    confirm.device = str("d");
    confirm.assertion = str("ignored");
    auto crec = encode_c(confirm);
    ASSERT_EQ(crec.size(), size_t{CW_COMMAND_HEADER_SIZE + 4 + 1});
    crec.insert(crec.end(), {2, 0, 0, 0, '{', '}'});
    got = decode(crec);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, CommandErrc::trailing_bytes);
    EXPECT_STREQ(cw_command_kind_name(CW_COMMAND_PASSKEY), "passkey");
    EXPECT_STREQ(cw_command_kind_name(CW_COMMAND_PASSKEY_CONFIRM), "passkey_confirm");
}

// ---------------------------------------------------------------------------
// What the encoder refuses

TEST(CommandRecord, TheEncoderRefusesBadFieldsAndNamesThemWithoutTheirContent)
{
    struct Case {
        const char* name;
        cw_command_t c;
        const char* reason;
    };
    auto pair = [](std::string_view device) {
        cw_command_t c{};
        c.kind = CW_COMMAND_PAIR;
        c.device = str(device);
        return c;
    };
    static const std::string long_device(CW_COMMAND_DEVICE_MAX + 1, 'd');
    static const std::string long_text(CW_COMMAND_TEXT_MAX + 1, 'x');
    cw_command_t code_letters{};
    code_letters.kind = CW_COMMAND_PAIR_CODE;
    code_letters.device = str("d");
    code_letters.phone = str("+5511secret");
    cw_command_t import_caps{};
    import_caps.kind = CW_COMMAND_IMPORT;
    import_caps.inbox = str("support");
    import_caps.what = str("Messages");
    cw_command_t import_flags = import_caps;
    import_flags.what = str("messages");
    import_flags.flags = 0x8;
    cw_command_t import_days = import_flags;
    import_days.flags = 0;
    import_days.days = CW_COMMAND_DAYS_MAX + 1;
    cw_command_t unknown{};
    unknown.kind = static_cast<cw_command_kind_t>(9);
    cw_command_t no_data = pair("d");
    no_data.device = cw_str_t{nullptr, 4};

    const Case cases[] = {
        {"missing device", pair(""), "device is empty (at most 64 bytes)"},
        {"long device", pair(long_device), "device is too long (at most 64 bytes)"},
        {"control character", pair("a\nb"),
         "device is not UTF-8 without control characters (at most 64 bytes)"},
        {"bad UTF-8", pair("\xC3("),
         "device is not UTF-8 without control characters (at most 64 bytes)"},
        {"phone with letters", code_letters, "phone is not all digits (at most 32 bytes)"},
        {"what not a word", import_caps, "what is not a lower-case word (at most 32 bytes)"},
        {"unknown flags", import_flags, "unknown import flags"},
        {"too many days", import_days, "days over the limit"},
        {"unknown kind", unknown, "unknown command kind"},
        {"length without data", no_data, "a field has a length and no data"},
        {"empty text", c_send("support", "123", ""), "text is empty (at most 65536 bytes)"},
        {"text with NUL", c_send("support", "123", std::string_view("a\0b", 3)),
         "text is not UTF-8 without NUL (at most 65536 bytes)"},
        {"long text", c_send("support", "123", long_text),
         "text is too long (at most 65536 bytes)"},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.name);
        std::string reason;
        EXPECT_TRUE(encode_c(k.c, &reason).empty());
        EXPECT_EQ(reason, k.reason);
        EXPECT_EQ(reason.find("secret"), std::string::npos);
        unsigned char buf[64];
        char why[CW_COMMAND_REASON_SIZE];
        EXPECT_EQ(cw_command_encode(&k.c, buf, sizeof buf, why), 0u);
    }
}

TEST(CommandRecord, TheEncoderIgnoresWhatTheKindDoesNotUse)
{
    // The fields a kind has no place for are not written (a pair has no
    // days), so the decoder's refusal of them is never met by our records.
    cw_command_t c{};
    c.kind = CW_COMMAND_PAIR;
    c.device = str("d");
    c.days = 3;
    c.flags = CW_COMMAND_IMPORT_MEDIA;
    c.text = str("ignored");
    const auto got = decode(encode_c(c));
    ASSERT_TRUE(got.ok()) << got.reason();
    EXPECT_EQ(got.value(), (Command{0, PairCommand{"d"}}));
}

TEST(CommandRecord, TheEncoderNeverWritesPastTheBufferItIsGiven)
{
    const cw_command_t c = c_send("support", "123", "hello there");
    const size_t len = cw_command_encoded_len(&c, nullptr);
    ASSERT_GT(len, 0u);
    std::vector<unsigned char> buf(len + 8, 0xAA);
    char why[CW_COMMAND_REASON_SIZE] = "";
    EXPECT_EQ(cw_command_encode(&c, buf.data(), len - 1, why), 0u);
    EXPECT_STREQ(why, "the buffer holds 48 bytes, the record needs 49");
    for (unsigned char b : buf) {
        EXPECT_EQ(b, 0xAA) << "nothing written on refusal";
    }
    EXPECT_EQ(cw_command_encode(&c, buf.data(), len, nullptr), len);
    for (size_t i = len; i < buf.size(); i++) {
        EXPECT_EQ(buf[i], 0xAA) << "nothing written past the record, at " << i;
    }
}

// ---------------------------------------------------------------------------
// What the decoder refuses, and where

TEST(CommandRecord, EveryTruncationIsReportedAsSuch)
{
    const auto rec = encode_c(c_send("support", "5511999990000", "hello"));
    ASSERT_FALSE(rec.empty());
    for (size_t n = 0; n < rec.size(); n++) {
        // A copy of exactly n bytes, so ASan catches a read past it.
        const std::vector<unsigned char> cut(rec.begin(), rec.begin() + n);
        const auto got = decode(cut);
        ASSERT_FALSE(got.ok()) << n;
        EXPECT_EQ(got.error().code, CommandErrc::truncated) << n << ": " << got.reason();
        EXPECT_LE(got.error().offset, n);
    }
}

TEST(CommandRecord, MalformedRecordsSayWhatAndWhere)
{
    const auto good = encode_c(c_send("support", "5511999990000", "hello"));
    ASSERT_FALSE(good.empty());
    auto with = [&](size_t at, unsigned char b) {
        auto r = good;
        r[at] = b;
        return r;
    };
    auto appended = good;
    appended.push_back(0);
    // The text's length (at 16 + 4 + 7 + 4 + 13) one more than there is.
    const size_t text_len_at = 16 + 4 + 7 + 4 + 13;
    struct Case {
        const char* name;
        std::vector<unsigned char> rec;
        CommandErrc code;
        size_t offset;
        const char* reason;
    };
    const Case cases[] = {
        {"version 2", with(0, 2), CommandErrc::unknown_version, 0,
         "unknown_version at 0: version 2"},
        {"version 0", with(0, 0), CommandErrc::unknown_version, 0,
         "unknown_version at 0: version 0"},
        {"kind 0", with(1, 0), CommandErrc::unknown_kind, 1, "unknown_kind at 1: kind 0"},
        {"kind 8", with(1, 8), CommandErrc::unknown_kind, 1, "unknown_kind at 1: kind 8"},
        {"unknown flags on a send", with(2, 2), CommandErrc::bad_header, 2,
         "bad_header at 2: unknown send flags, or days on a send"},
        {"keyed flag without its key", with(2, 1), CommandErrc::truncated, good.size(),
         "truncated at 53: key length cut short"},
        {"days on a send", with(5, 1), CommandErrc::bad_header, 2,
         "bad_header at 2: unknown send flags, or days on a send"},
        {"trailing byte", appended, CommandErrc::trailing_bytes, good.size(),
         "trailing_bytes at 53: 1 bytes after the last field"},
        {"text length past the end", with(text_len_at, 6), CommandErrc::truncated,
         text_len_at, "truncated at 44: text cut short"},
        {"inbox length over its bound", with(17, 1), CommandErrc::too_large, 16,
         "too_large at 16: inbox of 263 bytes, at most 64"},
        {"length in the top byte", with(19, 0x80), CommandErrc::too_large, 16,
         "too_large at 16: inbox of 2147483655 bytes, at most 64"},
        {"inbox not UTF-8", with(20, 0xFF), CommandErrc::bad_field, 16,
         "bad_field at 16: inbox is not UTF-8 without control characters"},
        {"to with a control character", with(16 + 4 + 7 + 4, 0x01), CommandErrc::bad_field,
         27, "bad_field at 27: to is not UTF-8 without control characters"},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.name);
        const auto got = decode(k.rec);
        ASSERT_FALSE(got.ok());
        EXPECT_EQ(got.error().code, k.code);
        EXPECT_EQ(got.error().offset, k.offset);
        EXPECT_EQ(got.reason(), k.reason);
    }
}

TEST(CommandRecord, AnEmptyFieldIsRefusedByTheDecoderToo)
{
    // A pair whose device has length 0: no encoder writes it.
    std::vector<unsigned char> r(CW_COMMAND_HEADER_SIZE + 4, 0);
    r[0] = CW_COMMAND_VERSION;
    r[1] = CW_COMMAND_PAIR;
    const auto got = decode(r);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.reason(), "bad_field at 16: device is empty");
}

TEST(CommandRecord, OversizeRecordsAreRefusedBeforeAnythingIsRead)
{
    std::vector<unsigned char> r(CW_COMMAND_RECORD_MAX + 1, 0);
    r[0] = CW_COMMAND_VERSION;
    r[1] = CW_COMMAND_SEND;
    const auto got = decode(r);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, CommandErrc::too_large);
    EXPECT_EQ(got.reason(), "too_large at 0: record of 65922 bytes");
}

TEST(CommandRecord, TheKindOfAnUnreadableRecordCanStillBeNamed)
{
    const unsigned char one[] = {CW_COMMAND_VERSION};
    const unsigned char two[] = {9, CW_COMMAND_LOGOUT};
    EXPECT_FALSE(peek_command_kind(one).has_value());
    EXPECT_EQ(peek_command_kind(two), std::optional<unsigned>(CW_COMMAND_LOGOUT));
    EXPECT_STREQ(cw_command_kind_name(CW_COMMAND_LOGOUT), "logout");
    EXPECT_STREQ(cw_command_kind_name(77), "unknown");
}

// ---------------------------------------------------------------------------
// Pushing, and the id

TEST(CommandRecord, TheIdIsTheEpochAndTheSequenceInFixedWidthHex)
{
    char id[CW_COMMAND_ID_SIZE];
    cw_command_id(0x0123456789abcdefULL, 42, id);
    EXPECT_STREQ(id, "0123456789abcdef000000000000002a");
    EXPECT_EQ(command_id(0xffffffffffffffffULL, 1),
              "ffffffffffffffff0000000000000001");
    EXPECT_EQ(std::strlen(id), size_t{CW_COMMAND_ID_LEN});
}

TEST(CommandRecord, PushGivesEachCommandItsOwnIdAndTheHelperFindsTheSame)
{
    Ring ring(64 * 1024, 100, 0xfeedULL);
    const auto rec = encode_c(c_send("support", "123", "hi"));
    std::set<std::string> ids;
    for (int i = 0; i < 3; i++) {
        char id[CW_COMMAND_ID_SIZE];
        ASSERT_EQ(cw_command_push(ring.get(), rec.data(), rec.size(), id), CW_COMMAND_OK);
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 3u);

    // The helper's side: the record, its kind, and the id from what it drains.
    cw_ring_cursor_t cur = cw_ring_begin(ring.get());
    cw_ring_record_t r;
    std::set<std::string> drained;
    while (cw_ring_next(ring.get(), &cur, &r) == CW_RING_OK) {
        EXPECT_EQ(r.kind, uint32_t{CW_RECORD_COMMAND});
        const auto got = decode_command(std::span<const unsigned char>(r.data, r.len));
        ASSERT_TRUE(got.ok()) << got.reason();
        drained.insert(command_id(cw_ring_current(ring.get())->epoch, r.seq));
    }
    EXPECT_EQ(drained, ids);

    // A reset ring (new epoch) never gives an id again, even at seq 1.
    cw_ring_pop_through(ring.get(), 3);
    cw_ring_reset(ring.get(), 0xbeefULL);
    char id[CW_COMMAND_ID_SIZE];
    ASSERT_EQ(cw_command_push(ring.get(), rec.data(), rec.size(), id), CW_COMMAND_OK);
    EXPECT_EQ(ids.count(id), 0u);
    EXPECT_STREQ(id, "000000000000beef0000000000000004");
}

TEST(CommandRecord, PushReportsAFullAClosedAndATooSmallRing)
{
    const auto rec = encode_c(c_send("support", "123", std::string(300, 'x')));
    char id[CW_COMMAND_ID_SIZE] = "stale";

    Ring full(64 * 1024, 1, 1);
    ASSERT_EQ(cw_command_push(full.get(), rec.data(), rec.size(), id), CW_COMMAND_OK);
    EXPECT_EQ(cw_command_push(full.get(), rec.data(), rec.size(), id), CW_COMMAND_FULL);
    EXPECT_STREQ(id, "") << "no id for a command not queued";

    Ring closed(64 * 1024, 10, 1);
    cw_ring_set_closed(closed.get(), 1);
    EXPECT_EQ(cw_command_push(closed.get(), rec.data(), rec.size(), id), CW_COMMAND_CLOSED);

    Ring small(1024, 10, 1);   // the largest record is a quarter: 240 bytes
    EXPECT_EQ(cw_command_push(small.get(), rec.data(), rec.size(), id),
              CW_COMMAND_TOO_LARGE);

    const unsigned char junk[CW_COMMAND_HEADER_SIZE] = {7};
    EXPECT_EQ(cw_command_push(closed.get(), junk, sizeof junk, id), CW_COMMAND_INVALID);
}

// ---------------------------------------------------------------------------
// How the helper files what it drains

TEST(CommandRecord, ADrainedRecordIsFiledUnderTheWorkersIdWithItsCommand)
{
    const auto rec = encode_c(c_send("support", "123", "hi"));
    const DrainedCommandRecord r = read_command_record(0xabcULL, 7, rec, 99);
    EXPECT_EQ(r.id, "0000000000000abc0000000000000007");
    EXPECT_EQ(r.kind, "send");
    EXPECT_EQ(r.created_at, 1700000000) << "the worker's time, not the drain's";
    ASSERT_TRUE(r.command.has_value());
    EXPECT_EQ(std::get<SendCommand>(r.command->body).text, "hi");
    EXPECT_EQ(r.failure, "");
}

TEST(CommandRecord, AnUnreadableDrainedRecordIsFiledWithTheReasonAndNoContent)
{
    auto rec = encode_c(c_send("support", "123", "secret words"));
    rec.push_back('!');
    const DrainedCommandRecord r = read_command_record(1, 2, rec, 99);
    EXPECT_EQ(r.kind, "send") << "the kind byte still names it";
    EXPECT_EQ(r.created_at, 99);
    EXPECT_FALSE(r.command.has_value());
    EXPECT_EQ(r.failure, "unreadable command: trailing_bytes at 50: 1 bytes after the last field");

    const unsigned char stub[] = {CW_COMMAND_VERSION};
    const DrainedCommandRecord s = read_command_record(1, 3, stub, 99);
    EXPECT_EQ(s.kind, "unknown");
    EXPECT_EQ(s.failure, "unreadable command: truncated at 1: header cut short");
}
