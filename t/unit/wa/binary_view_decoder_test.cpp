// The view decoder against the owned one: for the same bytes it must give
// the same node (owned() == decode()) or the very same error (code and
// text, offset included), under the same limits; its strings and payloads
// must be views into the frame or the token table, not copies; and a warm
// decoder must decode a stanza without allocating.
#include <gtest/gtest.h>

#include <ostream>
#include <vector>

#include "allocation_counter.hpp"
#include "binary_bad_cases.hpp"
#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/payload.hpp"
#include "wa/binary/view_decoder.hpp"


namespace chatwoot::wa::binary {

inline void PrintTo(const Node& node, std::ostream* os) { *os << "\n" << to_debug_string(node); }

namespace {

Bytes hex(std::string_view h)
{
    auto b = from_hex(h);
    EXPECT_TRUE(b) << h;
    return b.value_or(Bytes{});
}

// Every vector payload, the zlib one, and hand-made shapes the vectors
// lack (as binary_decode_into_test.cpp).
std::vector<Bytes> payloads()
{
    std::vector<Bytes> out;
    for (const auto& v : test::vector_section("binary").GetArray()) {
        out.push_back(test::vector_hex(v, "encoded_hex"));
    }
    out.push_back(test::vector_hex(test::vector_section("binary_zlib"), "encoded_hex"));
    Node children("a", {}, Children{Node("b"), Node("c", {{"k", Value{"v"}}})});
    Node empty_children("a", {{"x", Value{"1"}}}, Children{});
    Node bytes("a", {{"x", Value{"1"}}}, Bytes{1, 2, 3});
    Node text("a", {}, Value{"15551234567@s.whatsapp.net", Form::jid_pair});
    Node device("a", {{"jid", Value{"15551234567:12@s.whatsapp.net", Form::ad_jid}},
                      {"lid", Value{"123456789012345@lid", Form::ad_jid}},
                      {"id", Value{"3EB0C431C2B1F4D3A3E2"}},
                      {"t", Value{"1700000123"}}},
                Value{"@s.whatsapp.net", Form::jid_pair});
    Node bare("a");
    for (const Node* n : {&children, &empty_children, &bytes, &text, &device, &bare}) {
        out.push_back(*encode(*n));
    }
    return out;
}

// Both decoders on the same body: equal nodes, or equal errors.
void expect_same(ViewDecoder& views, ByteView body, const DecodeLimits& limits, const std::string& where)
{
    const Result<Node> want = decode_node(body, limits);
    const Result<NodeView> got = views.decode_node(body);
    ASSERT_EQ(got.ok(), want.ok()) << where << ": "
                                   << (want.ok() ? got.error().detail : want.error().detail);
    if (want.ok()) {
        ASSERT_EQ(got->owned(), *want) << where;
        ASSERT_TRUE(*got == *want) << where;
    } else {
        ASSERT_EQ(got.error().code, want.error().code) << where << ": " << got.error().detail;
        ASSERT_EQ(got.error().detail, want.error().detail) << where;
    }
}

TEST(BinaryViewDecoder, EveryPayloadGivesTheNodeDecodeGives)
{
    const auto all = payloads();
    ASSERT_GE(all.size(), 20u);
    // One decoder for all, as a session keeps one: each node decoded over
    // the arrays of the one before.
    ViewDecoder views;
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < all.size(); ++i) {
            const Result<Node> want = decode(all[i]);
            ASSERT_TRUE(want.ok()) << i << ": " << want.error().detail;
            const Result<NodeView> got = views.decode(all[i]);
            ASSERT_TRUE(got.ok()) << i << ": " << got.error().detail;
            EXPECT_EQ(got->owned(), *want) << i;
            EXPECT_TRUE(*got == *want) << i;
            // owned_into over the node of another payload gives it too.
            Node scratch = *decode(all[(i + 1) % all.size()]);
            got->owned_into(scratch);
            EXPECT_EQ(scratch, *want) << i;
        }
    }
}

class BinaryViewDecodeRejects : public testing::TestWithParam<test::BinaryBadCase> {};

TEST_P(BinaryViewDecodeRejects, WithTheErrorDecodeGives)
{
    const test::BinaryBadCase& c = GetParam();
    const Bytes body = hex(c.body_hex);
    ViewDecoder views;
    const Result<NodeView> got = views.decode_node(body);
    ASSERT_FALSE(got) << c.body_hex;
    EXPECT_EQ(got.error().code, c.code) << got.error().detail;
    EXPECT_NE(got.error().detail.find(c.detail), std::string::npos) << got.error().detail;
    expect_same(views, body, {}, c.name);
}

INSTANTIATE_TEST_SUITE_P(Cases, BinaryViewDecodeRejects, testing::ValuesIn(test::kBinaryBadCases),
                         [](const testing::TestParamInfo<test::BinaryBadCase>& i) { return i.param.name; });

TEST(BinaryViewDecoder, EveryPrefixAndByteChangeOfEveryVectorDecodesAsDecode)
{
    // Each tag byte, the bytes around list and length boundaries, and a
    // flipped low bit: what a corrupt frame looks like to the grammar.
    std::vector<std::uint8_t> probes = {0x00, 0x01, 0x02, 0x03, 0x11, 0x19, 0x40,
                                        0x7f, 0x80, 0x81, 0xc1, 0xeb, 0xf0};
    for (unsigned t = 0xec; t <= 0xff; ++t) {
        probes.push_back(static_cast<std::uint8_t>(t));
    }
    ViewDecoder views;
    std::size_t runs = 0;
    for (const Bytes& payload : payloads()) {
        if (payload[0] & 0x02) {
            continue;  // compressed: the node bytes are not these
        }
        const ByteView body = ByteView(payload).subspan(1);
        for (std::size_t n = 0; n <= body.size(); ++n) {
            expect_same(views, body.first(n), {}, "prefix " + std::to_string(n));
        }
        Bytes changed(body.begin(), body.end());
        for (std::size_t i = 0; i < changed.size(); ++i) {
            const std::uint8_t keep = changed[i];
            probes.push_back(static_cast<std::uint8_t>(keep ^ 1));
            for (std::uint8_t b : probes) {
                changed[i] = b;
                expect_same(views, changed, {}, "byte " + std::to_string(i) + " = " + std::to_string(b));
                ++runs;
            }
            probes.pop_back();
            changed[i] = keep;
        }
    }
    EXPECT_GT(runs, 10000u);
}

Bytes nested(std::size_t depth)
{
    Bytes b;
    for (std::size_t i = 1; i < depth; ++i) {
        const Bytes level = {0xf8, 0x02, 0xfc, 0x01, 'a', 0xf8, 0x01};
        b.insert(b.end(), level.begin(), level.end());
    }
    const Bytes leaf = {0xf8, 0x01, 0xfc, 0x01, 'a'};
    b.insert(b.end(), leaf.begin(), leaf.end());
    return b;
}

TEST(BinaryViewDecoder, LimitsAreDecodesLimits)
{
    ViewDecoder views;
    expect_same(views, nested(64), {}, "depth 64");
    expect_same(views, nested(65), {}, "depth 65");
    expect_same(views, nested(100000), {}, "depth 100000");
    EXPECT_EQ(views.decode_node(nested(65)).error().code, Errc::too_deep);

    DecodeLimits shallow;
    shallow.max_depth = 2;
    ViewDecoder shallow_views(shallow);
    expect_same(shallow_views, nested(2), shallow, "depth 2 of 2");
    expect_same(shallow_views, nested(3), shallow, "depth 3 of 2");
    EXPECT_EQ(shallow_views.decode_node(nested(3)).error().code, Errc::too_deep);

    expect_same(views, hex("f90203" "19"), {}, "257 attributes");
    EXPECT_EQ(views.decode_node(hex("f90203" "19")).error().code, Errc::too_large);
    DecodeLimits few;
    few.max_attributes = 1;
    ViewDecoder few_views(few);
    expect_same(few_views, hex("f80519" "1119" "0819"), few, "2 attributes of 1");
    expect_same(few_views, hex("f80319" "1119"), few, "1 attribute of 1");
}

TEST(BinaryViewDecoder, HostileCountsFailAsDecodeWithoutTheirMemory)
{
    ViewDecoder views;
    // 65535 children announced, none present; 65535 with a few present.
    expect_same(views, hex("f80219" "f9ffff"), {}, "children");
    expect_same(views, hex("f80219" "f9ffff" "f80119" "f80119"), {}, "some children");
    // LIST_16 of 513 items: 256 attributes announced, two present.
    expect_same(views, hex("f90201" "19" "1119" "0819"), {}, "attributes");
    // 65535 nodes would be megabytes; what the 4 bytes could hold is not.
    EXPECT_LT(views.retained_bytes(), 64u << 10);
}

TEST(BinaryViewDecoder, AHugeFrameDoesNotPinItsMemory)
{
    // <list> with 20000 children <a/>: far over the kept budget.
    Node big("list", {}, Children(20000, Node("item")));
    const Bytes frame = *encode(big);
    ViewDecoder views;
    const Result<NodeView> got = views.decode(frame);
    ASSERT_TRUE(got) << got.error().detail;
    EXPECT_EQ(got->children().size(), 20000u);
    EXPECT_EQ(got->owned(), big);
    const std::size_t held = views.retained_bytes();
    EXPECT_GE(held, 20000 * sizeof(NodeView));
    // The next frame, a small one, gives the memory back.
    ASSERT_TRUE(views.decode(*encode(Node("iq", {{"id", Value{"1"}}}))));
    EXPECT_LT(views.retained_bytes(), 256u << 10);
    EXPECT_LT(views.retained_bytes(), held / 4);
}

TEST(BinaryViewDecoder, CompressedFramesAndTheirLimit)
{
    Node big("iq", {{"id", Value{"1"}}}, Bytes(5000, 0x41));
    Bytes body = *encode(big);
    const Bytes compressed = *compress_payload(ByteView(body).subspan(1));
    ViewDecoder views;
    const Result<NodeView> got = views.decode(compressed);
    ASSERT_TRUE(got) << got.error().detail;
    EXPECT_EQ(got->owned(), big);

    DecodeLimits small;
    small.max_inflated_size = 1000;
    ViewDecoder small_views(small);
    const Result<NodeView> refused = small_views.decode(compressed);
    const Result<Node> want = decode(compressed, small);
    ASSERT_FALSE(refused);
    ASSERT_FALSE(want);
    EXPECT_EQ(refused.error().code, Errc::too_large);
    EXPECT_EQ(refused.error().detail, want.error().detail);
    EXPECT_EQ(views.decode({}).error().code, Errc::truncated);
}

TEST(BinaryViewDecoder, APayloadInsideTheLastInflatedFrameDecodes)
{
    // A compressed frame (over the 64 KiB an inflated frame is kept)
    // whose content is itself a payload: decoding that payload with the
    // same decoder must not free the frame it lies in (ASan would see it).
    const Node inner("iq", {{"id", Value{"7"}}}, Bytes(70000, 0x42));
    const Bytes inner_payload = *encode(inner);
    const Bytes outer_body = *encode(Node("x", {}, inner_payload));
    const Bytes outer = *compress_payload(ByteView(outer_body).subspan(1));
    ViewDecoder views;
    const Result<NodeView> got = views.decode(outer);
    ASSERT_TRUE(got) << got.error().detail;
    ASSERT_TRUE(got->bytes());
    const ByteView nested = *got->bytes();
    const Result<NodeView> again = views.decode(nested);
    ASSERT_TRUE(again) << again.error().detail;
    EXPECT_EQ(again->owned(), inner);
    EXPECT_EQ(to_debug_string(*again), to_debug_string(inner));
}

bool inside(const void* p, ByteView frame)
{
    const auto* b = static_cast<const std::uint8_t*>(p);
    return b >= frame.data() && b < frame.data() + frame.size();
}

TEST(BinaryViewDecoder, StringsAndPayloadsAreViewsIntoTheFrame)
{
    // <message from=AD_JID id=raw t=packed notify=raw><enc v=token>bytes</enc></message>
    Node n("message",
           {{"from", Value{"5511987654321:3@s.whatsapp.net", Form::ad_jid}},
            {"id", Value{"3EB0C431C2B1F4D3A3E2"}},
            {"t", Value{"1700000123"}},
            {"notify", Value{"Maria"}}},
           Children{Node("enc", {{"v", Value{"2"}}}, Bytes(180, 0x5a))});
    const Bytes frame = *encode(n);
    ViewDecoder views;
    const Result<NodeView> got = views.decode(frame);
    ASSERT_TRUE(got) << got.error().detail;
    ASSERT_EQ(got->owned(), n);

    // Tokens: the token table, not the frame.
    EXPECT_EQ(got->tag(), "message");
    EXPECT_FALSE(inside(got->tag().data(), frame));
    // Raw strings and payloads: the frame itself.
    EXPECT_TRUE(inside(got->attr("notify")->text.data(), frame));
    EXPECT_EQ(got->attr("notify")->text, "Maria");
    const NodeView* enc = got->child("enc");
    ASSERT_NE(enc, nullptr);
    ASSERT_TRUE(enc->bytes());
    EXPECT_EQ(enc->bytes()->size(), 180u);
    EXPECT_TRUE(inside(enc->bytes()->data(), frame));
    EXPECT_EQ(enc->bytes()->data() + 180, frame.data() + frame.size());
    // Packed strings: text the decoder made (the wire has nibbles).
    EXPECT_EQ(*got->attr("t"), "1700000123");
    EXPECT_FALSE(inside(got->attr("t")->text.data(), frame));
    // A JID in its parts: the user from the frame (packed digits here),
    // the server from the domain byte, the device as a number.
    const ValueView from = *got->attr("from");
    EXPECT_EQ(from.form, Form::ad_jid);
    EXPECT_EQ(from.text, "5511987654321");
    EXPECT_EQ(from.server, "s.whatsapp.net");
    EXPECT_EQ(from.device, 3);
    EXPECT_EQ(from, "5511987654321:3@s.whatsapp.net");
    EXPECT_FALSE(from == "5511987654321:4@s.whatsapp.net");
    EXPECT_FALSE(from == "5511987654321@s.whatsapp.net");
    EXPECT_EQ(from.size(), std::string_view("5511987654321:3@s.whatsapp.net").size());
    EXPECT_EQ(got->attr_jid("from"), n.attr_jid("from"));
    ASSERT_TRUE(got->attr_jid("from"));
    EXPECT_EQ(got->attr_jid("from")->device(), 3);
    EXPECT_EQ(got->attr_jid("id"), std::nullopt);
    EXPECT_EQ(got->attr("missing"), std::nullopt);
    EXPECT_EQ(got->child("missing"), nullptr);
    EXPECT_EQ(got->kind(), ContentKind::children);
    EXPECT_EQ(got->text(), nullptr);
    EXPECT_FALSE(got->bytes());
}

TEST(BinaryViewDecoder, TheServerJidAndTextContent)
{
    ViewDecoder views;
    const Result<NodeView> jid = views.decode_node(hex("f80219" "fa0003"));
    ASSERT_TRUE(jid);
    ASSERT_NE(jid->text(), nullptr);
    EXPECT_EQ(jid->text()->text, "");
    EXPECT_EQ(jid->text()->server, "s.whatsapp.net");
    EXPECT_TRUE(*jid->text() == server_jid());
    EXPECT_EQ(jid->text()->owned(), server_jid());
    EXPECT_EQ(jid->text()->jid(), std::nullopt);  // no user: not a Jid, as Jid::parse says
    const Result<NodeView> token = views.decode_node(hex("f80219" "38"));
    ASSERT_TRUE(token);
    EXPECT_TRUE(*token->text() == (Value{"text", Form::text}));
    EXPECT_FALSE(*token->text() == (Value{"text", Form::jid_pair}));
}

TEST(BinaryViewDecoder, AWarmDecoderDecodesWithoutAllocating)
{
    const auto all = payloads();
    // The count must see the owned decoder's allocations (not under a
    // sanitizer or valgrind, which bring their own operator new).
    const std::size_t probe = test::allocation_count();
    ASSERT_TRUE(decode(all[0]).ok());
    if (!test::counts_allocations() || test::allocation_count() == probe) {
        GTEST_SKIP() << "operator new is not ours here: nothing to count";
    }
    ViewDecoder views;
    std::vector<Bytes> plain;
    for (const Bytes& p : all) {
        if ((p[0] & 0x02) == 0) {
            plain.push_back(p);
            ASSERT_TRUE(views.decode(p).ok());  // warms up
        }
    }
    const std::size_t before = test::allocation_count();
    std::size_t nodes = 0;
    for (int round = 0; round < 10; ++round) {
        for (const Bytes& p : plain) {
            const Result<NodeView> got = views.decode(p);
            ASSERT_TRUE(got.ok());
            nodes += got->children().size() + 1;
        }
    }
    EXPECT_EQ(test::allocation_count() - before, 0u) << "over " << nodes << " nodes";
}

}  // namespace
}  // namespace chatwoot::wa::binary
