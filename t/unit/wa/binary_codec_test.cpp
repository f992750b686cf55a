// The node codec against the reference encoders: every node of
// vectors.json binary[] (Baileys' encoder, and the Rust one agrees) must
// encode to exactly its bytes and decode back to the same node, and the
// zlib-flagged payload must inflate and decode.  Plus the cases too large
// for the vector file (BINARY_32, LIST_16 attributes) by their headers,
// and how nodes are built.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "vectors.hpp"
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/node.hpp"

namespace chatwoot::wa::binary {

inline void PrintTo(const Node& node, std::ostream* os) { *os << "\n" << to_debug_string(node); }

namespace {

using test::vector_hex;
using test::vector_section;

std::string json_string(const rapidjson::Value& v)
{
    return {v.GetString(), v.GetStringLength()};
}

// The node as the generator gave it to Baileys: attribute order kept,
// {hex} for bytes, arrays for children, strings given the form Baileys
// picks for them.
Node node_from_json(const rapidjson::Value& j)
{
    Node n;
    n.tag = json_string(j["tag"]);
    for (const auto& m : j["attrs"].GetObject()) {
        const std::string text = json_string(m.value);
        n.attrs.push_back(Attr{json_string(m.name), Value{text, reference_form(text)}});
    }
    if (!j.HasMember("content")) {
        return n;
    }
    const rapidjson::Value& c = j["content"];
    if (c.IsString()) {
        const std::string text = json_string(c);
        n.content = Value{text, reference_form(text)};
    } else if (c.IsArray()) {
        Children list;
        for (const auto& child : c.GetArray()) {
            list.push_back(node_from_json(child));
        }
        n.content = std::move(list);
    } else {
        n.content = vector_hex(c, "hex");
    }
    return n;
}

Bytes bytes_of(std::initializer_list<int> list)
{
    Bytes b;
    for (int v : list) {
        b.push_back(static_cast<std::uint8_t>(v));
    }
    return b;
}

TEST(BinaryVectors, EveryNodeEncodesToTheReferenceBytes)
{
    const auto& list = vector_section("binary");
    ASSERT_GE(list.Size(), 16u);
    for (const auto& v : list.GetArray()) {
        const Node node = node_from_json(v["node"]);
        const Result<Bytes> got = encode(node);
        ASSERT_TRUE(got) << node.tag << ": " << got.error().detail;
        EXPECT_EQ(to_hex(*got), to_hex(vector_hex(v, "encoded_hex"))) << to_debug_string(node);
    }
}

TEST(BinaryVectors, EveryEncodingDecodesToTheSameNode)
{
    for (const auto& v : vector_section("binary").GetArray()) {
        const Node node = node_from_json(v["node"]);
        const Result<Node> got = decode(vector_hex(v, "encoded_hex"));
        ASSERT_TRUE(got) << node.tag << ": " << got.error().detail;
        EXPECT_EQ(*got, node);
        // The reference decoded its own bytes to the same attributes.
        EXPECT_TRUE(v["roundtrip_ok"].GetBool());
    }
}

TEST(BinaryVectors, CompressedPayloadInflatesAndDecodes)
{
    const auto& z = vector_section("binary_zlib");
    const Bytes payload = vector_hex(z, "encoded_hex");
    ASSERT_EQ(payload.at(0), 0x02);
    const Result<Node> got = decode(payload);
    ASSERT_TRUE(got) << got.error().detail;
    EXPECT_EQ(got->tag, test::vector_string(z, "decodes_to_tag"));
    // The generator compressed the first vector's node.
    const auto& first = vector_section("binary")[0];
    EXPECT_EQ(*got, node_from_json(first["node"]));
}

// ---------------------------------------------------------------------------
// Length and list headers at their boundaries

Bytes encoded_body(const Node& n)
{
    Bytes out;
    const Status s = encode_node(n, out);
    EXPECT_TRUE(s) << s.error().detail;
    return out;
}

TEST(BinaryLengths, ContentLengthPicksBinary8Then20Then32)
{
    struct Case {
        std::size_t size;
        Bytes header;
    };
    const Case cases[] = {
        {0, bytes_of({0xfc, 0x00})},
        {255, bytes_of({0xfc, 0xff})},
        {256, bytes_of({0xfd, 0x00, 0x01, 0x00})},
        {(1u << 20) - 1, bytes_of({0xfd, 0x0f, 0xff, 0xff})},
        {1u << 20, bytes_of({0xfe, 0x00, 0x10, 0x00, 0x00})},
        {(1u << 20) + 5, bytes_of({0xfe, 0x00, 0x10, 0x00, 0x05})},
    };
    for (const Case& c : cases) {
        Node n{"x", {}, Bytes(c.size, 0x5a)};
        const Bytes body = encoded_body(n);
        // LIST_8 2, "x" as BINARY_8 1 'x', then the content header.
        const std::size_t at = 2 + 3;
        ASSERT_EQ(body.size(), at + c.header.size() + c.size) << c.size;
        EXPECT_EQ(Bytes(body.begin() + at, body.begin() + at + c.header.size()), c.header) << c.size;
        const Result<Node> back = decode_node(body);
        ASSERT_TRUE(back) << back.error().detail;
        EXPECT_EQ(*back, n) << c.size;
    }
}

TEST(BinaryLengths, ManyAttributesUseList16)
{
    Node n{"iq"};
    for (int i = 0; i < 200; ++i) {
        n.attrs.push_back(Attr{"k" + std::to_string(i), Value{"v", Form::text}});
    }
    const Bytes body = encoded_body(n);
    // 1 + 2 * 200 = 401 items = 0x0191.
    EXPECT_EQ(Bytes(body.begin(), body.begin() + 3), bytes_of({0xf9, 0x01, 0x91}));
    const Result<Node> back = decode_node(body);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, n);
}

TEST(BinaryLengths, ListOver65535ItemsIsRefused)
{
    Node n{"list", {}, Children(65536, Node{"item"})};
    Bytes out;
    const Status s = encode_node(n, out);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::too_large);
    n.children()->pop_back();
    EXPECT_TRUE(encode_node(n, out));
}

// ---------------------------------------------------------------------------
// JIDs on the wire

TEST(BinaryJid, AdJidWithDeviceZeroKeepsItsForm)
{
    const Node n{"x", {{"to", {"15551234567@s.whatsapp.net", Form::ad_jid}}}};
    const Bytes body = encoded_body(n);
    // AD_JID, domain 0, device 0, then the user as packed digits.
    EXPECT_EQ(to_hex(body), "f803fc0178" "11" "f70000ff8615551234567f");
    const Result<Node> back = decode_node(body);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, n);
}

TEST(BinaryJid, EachDomainByteFollowsTheServer)
{
    const std::pair<std::string, int> cases[] = {
        {"1:2@s.whatsapp.net", 0}, {"1:2@lid", 1}, {"1:2@hosted", 128}, {"1:2@hosted.lid", 129}};
    for (const auto& [text, domain] : cases) {
        const Node n{"x", {{"to", {text, Form::ad_jid}}}};
        const Bytes body = encoded_body(n);
        ASSERT_GE(body.size(), 9u);
        EXPECT_EQ(body[6], 0xf7) << text;
        EXPECT_EQ(body[7], domain) << text;
        EXPECT_EQ(body[8], 2) << text;
        EXPECT_EQ(*decode_node(body), n);
    }
}

TEST(BinaryJid, EncoderRefusesTextItsFormCannotCarry)
{
    struct Case {
        Value value;
        Errc code;
    };
    const Case cases[] = {
        {{"120363000000000000:1@g.us", Form::ad_jid}, Errc::unsupported},
        {{"1:256@s.whatsapp.net", Form::ad_jid}, Errc::malformed},
        {{"1:x@s.whatsapp.net", Form::ad_jid}, Errc::malformed},
        {{"1:01@s.whatsapp.net", Form::ad_jid}, Errc::malformed},
        {{"1:@s.whatsapp.net", Form::ad_jid}, Errc::malformed},
        {{"15551234567", Form::ad_jid}, Errc::malformed},
        {{"15551234567", Form::jid_pair}, Errc::malformed},
        {{"15551234567@", Form::jid_pair}, Errc::malformed},
    };
    for (const Case& c : cases) {
        Bytes out;
        const Status s = encode_node(Node{"x", {{"to", c.value}}}, out);
        ASSERT_FALSE(s) << c.value.text;
        EXPECT_EQ(s.error().code, c.code) << c.value.text << ": " << s.error().detail;
    }
}

TEST(BinaryJid, JidValuePicksAdJidForDevicesAndHostedServers)
{
    struct Case {
        std::string_view jid;
        Value value;
    };
    const Case cases[] = {
        {"15551234567@s.whatsapp.net", {"15551234567@s.whatsapp.net", Form::jid_pair}},
        {"15551234567:3@s.whatsapp.net", {"15551234567:3@s.whatsapp.net", Form::ad_jid}},
        {"15551234567.1:3@s.whatsapp.net", {"15551234567:3@s.whatsapp.net", Form::ad_jid}},
        {"123456789012345@lid", {"123456789012345@lid", Form::jid_pair}},
        {"123456789012345:9@lid", {"123456789012345:9@lid", Form::ad_jid}},
        {"15551234567@hosted", {"15551234567@hosted", Form::ad_jid}},
        {"123456789012345:99@hosted.lid", {"123456789012345:99@hosted.lid", Form::ad_jid}},
        {"120363000000000000@g.us", {"120363000000000000@g.us", Form::jid_pair}},
        {"status@broadcast", {"status@broadcast", Form::jid_pair}},
        {"120363111111111111@newsletter", {"120363111111111111@newsletter", Form::jid_pair}},
        {"15551234567@c.us", {"15551234567@s.whatsapp.net", Form::jid_pair}},
    };
    for (const Case& c : cases) {
        const std::optional<Jid> jid = Jid::parse(c.jid);
        ASSERT_TRUE(jid) << c.jid;
        EXPECT_EQ(jid_value(*jid), c.value) << c.jid;
        // Every such value encodes, and decodes to the same value.
        const Node n = Node{"x"}.set_attr("to", *jid);
        const Result<Node> back = decode_node(encoded_body(n));
        ASSERT_TRUE(back) << back.error().detail;
        EXPECT_EQ(*back, n);
    }
}

TEST(BinaryJid, ServerJidIsAPairWithAnEmptyUser)
{
    EXPECT_EQ(server_jid(), (Value{"@s.whatsapp.net", Form::jid_pair}));
    const Node n{"iq", {{"to", server_jid()}}};
    // JID_PAIR, LIST_EMPTY for the user, token 3 "s.whatsapp.net".
    EXPECT_EQ(to_hex(encoded_body(n)), "f80319" "11" "fa0003");
}

TEST(BinaryJid, ReferenceFormFollowsBaileys)
{
    EXPECT_EQ(reference_form("hello"), Form::text);
    EXPECT_EQ(reference_form("1@s.whatsapp.net"), Form::jid_pair);
    EXPECT_EQ(reference_form("@s.whatsapp.net"), Form::jid_pair);
    EXPECT_EQ(reference_form("1:2@lid"), Form::ad_jid);
    EXPECT_EQ(reference_form("w:p"), Form::text);
}

// ---------------------------------------------------------------------------
// Strings

TEST(BinaryStrings, TextThatLooksLikeAJidStaysText)
{
    // Only the form decides: a plain string with an '@' travels raw.
    const Node n{"x", {{"note", {"a@b", Form::text}}}};
    const Bytes body = encoded_body(n);
    EXPECT_EQ(to_hex(body), "f803fc0178" "fc046e6f7465" "fc03614062");
    EXPECT_EQ(*decode_node(body), n);
}

TEST(BinaryStrings, TextContentThatIsNotPackableComesBackAsBytes)
{
    const Node sent{"x", {}, Value{"hello", Form::text}};
    const Result<Node> back = decode_node(encoded_body(sent));
    ASSERT_TRUE(back);
    ASSERT_NE(back->bytes(), nullptr);
    EXPECT_EQ(as_chars(*back->bytes()), "hello");
}

TEST(BinaryStrings, EmptyTagIsRefused)
{
    Bytes out;
    const Status s = encode_node(Node{}, out);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::malformed);
}

// ---------------------------------------------------------------------------
// Building and reading nodes

TEST(BinaryNode, AttributesKeepOrderAndSetAttrReplaces)
{
    Node n{"iq"};
    n.set_attr("id", "1").set_attr("type", "get").set_attr("id", "2");
    ASSERT_EQ(n.attrs.size(), 2u);
    EXPECT_EQ(n.attrs[0].key, "id");
    EXPECT_EQ(n.attr("id"), "2");
    EXPECT_EQ(n.attr("type"), "get");
    EXPECT_FALSE(n.attr("xmlns"));
}

TEST(BinaryNode, AttrJidParsesStrictly)
{
    Node n{"message"};
    n.set_attr("from", *Jid::parse("15551234567:3@s.whatsapp.net"));
    n.set_attr("bad", "not a jid");
    EXPECT_EQ(n.attr_jid("from"), Jid::parse("15551234567:3@s.whatsapp.net"));
    EXPECT_FALSE(n.attr_jid("bad"));
    EXPECT_FALSE(n.attr_jid("absent"));
}

TEST(BinaryNode, ContentAccessorsAndChildLookup)
{
    Node n{"iq", {}, Children{Node{"a"}, Node{"b"}}};
    ASSERT_NE(n.children(), nullptr);
    EXPECT_EQ(n.child("b"), &(*n.children())[1]);
    EXPECT_EQ(n.child("c"), nullptr);
    EXPECT_EQ(n.bytes(), nullptr);
    EXPECT_TRUE(n.has_content());
    // An empty list is content; no content is not.
    EXPECT_TRUE((Node{"x", {}, Children{}}).has_content());
    EXPECT_FALSE(Node{"x"}.has_content());
    EXPECT_NE((Node{"x", {}, Children{}}), Node{"x"});
}

TEST(BinaryNode, DebugStringShowsFormsAndShortensBytes)
{
    const Node n{"message",
                 {{"to", {"1:2@lid", Form::ad_jid}}, {"q", {"a\"b\n", Form::text}}},
                 Children{Node{"enc", {}, Bytes(100, 0xab)}}};
    const std::string s = to_debug_string(n);
    EXPECT_NE(s.find("to=\"1:2@lid\"/ad_jid"), std::string::npos) << s;
    EXPECT_NE(s.find("q=\"a\\\"b\\x0a\""), std::string::npos) << s;
    EXPECT_NE(s.find("...(100 bytes)"), std::string::npos) << s;
}

}  // namespace
}  // namespace chatwoot::wa::binary
