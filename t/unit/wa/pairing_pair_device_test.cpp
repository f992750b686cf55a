// <pair-device>: the refs in order, the ack, and what is refused.  The
// stanzas go through the binary encoder and decoder first, so the refs
// arrive as the decoder hands them over (bytes).
#include <gtest/gtest.h>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/pairing/pair_device.hpp"

namespace chatwoot::wa::pairing {
namespace {

using binary::Children;
using binary::Node;

Node ref(std::string_view text)
{
    ByteView b = as_bytes(text);
    return Node("ref", {}, Bytes(b.begin(), b.end()));
}

Node pair_device_iq(Children refs, std::string_view from = "s.whatsapp.net")
{
    Node iq("iq");
    iq.set_attr("from", from);
    iq.set_attr("type", "set");
    iq.set_attr("id", "qr-7");
    iq.content = Children{Node("pair-device", {}, std::move(refs))};
    return iq;
}

Node wire(const Node& n)
{
    return binary::decode(binary::encode(n).value()).value();
}

TEST(PairingPairDevice, RefsInOrderAfterTheWire)
{
    Node iq = wire(pair_device_iq({ref("2@first+ref/AAA="), ref("2@second"), ref("2@third")}));
    auto req = parse_pair_device(iq);
    ASSERT_TRUE(req.ok()) << req.error().detail;
    EXPECT_EQ(req->iq_id, "qr-7");
    EXPECT_EQ(req->refs, (std::vector<std::string>{"2@first+ref/AAA=", "2@second", "2@third"}));
}

TEST(PairingPairDevice, ServerAsJidIsAccepted)
{
    Node iq = pair_device_iq({ref("2@r")});
    iq.set_attr("from", binary::server_jid());
    auto req = parse_pair_device(wire(iq));
    ASSERT_TRUE(req.ok()) << req.error().detail;
    EXPECT_EQ(req->refs.size(), 1u);
}

TEST(PairingPairDevice, OtherChildrenAreSkipped)
{
    auto req = parse_pair_device(pair_device_iq({Node("hint"), ref("2@only")}));
    ASSERT_TRUE(req.ok());
    EXPECT_EQ(req->refs, std::vector<std::string>{"2@only"});
}

TEST(PairingPairDevice, AckIsResultToServer)
{
    Node ack = pair_device_ack("qr-7");
    EXPECT_EQ(ack.tag, "iq");
    EXPECT_EQ(ack.attr("to"), "@s.whatsapp.net");
    EXPECT_TRUE(ack.find_attr("to")->value.is_jid());
    EXPECT_EQ(ack.attr("type"), "result");
    EXPECT_EQ(ack.attr("id"), "qr-7");
    EXPECT_FALSE(ack.has_content());
    EXPECT_TRUE(binary::encode(ack).ok());
}

TEST(PairingPairDevice, DisplayTimes)
{
    EXPECT_EQ(ref_display_seconds(0), 60u);
    EXPECT_EQ(ref_display_seconds(1), 20u);
    EXPECT_EQ(ref_display_seconds(5), 20u);
}

TEST(PairingPairDevice, Refusals)
{
    struct Case {
        const char* name;
        Node iq;
        Errc code;
    };
    Node no_id = pair_device_iq({ref("2@r")});
    no_id.attrs.erase(no_id.attrs.begin() + 2);
    Node get = pair_device_iq({ref("2@r")});
    get.set_attr("type", "get");
    Node not_iq = pair_device_iq({ref("2@r")});
    not_iq.tag = "message";
    Node no_child = pair_device_iq({});
    no_child.content = Children{};
    Case cases[] = {
        {"no refs", pair_device_iq({}), Errc::malformed},
        {"empty ref", pair_device_iq({ref("")}), Errc::malformed},
        {"ref with comma", pair_device_iq({ref("2@a,b")}), Errc::malformed},
        {"no pair-device", no_child, Errc::malformed},
        {"no id", no_id, Errc::malformed},
        {"type get", get, Errc::malformed},
        {"not an iq", not_iq, Errc::malformed},
        {"from a user", pair_device_iq({ref("2@r")}, "15551234567@s.whatsapp.net"),
         Errc::untrusted},
    };
    for (const Case& c : cases) {
        auto req = parse_pair_device(c.iq);
        ASSERT_FALSE(req.ok()) << c.name;
        EXPECT_EQ(req.error().code, c.code) << c.name << ": " << req.error().detail;
    }
}

}  // namespace
}  // namespace chatwoot::wa::pairing
