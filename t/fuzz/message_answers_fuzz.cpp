// Fuzzes the answers the send path reads from the server and from
// recipients: whatever node the bytes decode to goes through the usync,
// group info, message ack and retry receipt parsers.  Each must return a
// value or a reason, never crash, never read past its input; what they
// accept must hold the invariants the sender relies on.
//
// Seeds: any binary node corpus (t/fuzz/corpus/binary_node).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wa/binary/decoder.hpp"
#include "wa/message/ack.hpp"
#include "wa/message/group_info.hpp"
#include "wa/message/usync.hpp"

using namespace chatwoot::wa;

namespace {

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "message_answers_fuzz: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto node = binary::decode_node(ByteView(data, size));
    if (!node) return 0;
    const binary::Node& n = *node;

    if (auto users = message::parse_usync(n)) {
        check(users->size() <= message::kMaxUsyncUsers, "too many usync users");
        for (const auto& u : *users) {
            check(!u.jid.has_device(), "usync user with a device");
            if (u.devices) {
                check(u.devices->size() <= message::kMaxDevicesPerUser, "too many devices");
                (void) message::device_jids(u.jid, *u.devices);
            }
        }
    }
    if (auto info = message::parse_group_info(n)) {
        check(info->jid.kind() == binary::JidKind::group, "group info for a non-group");
        check(info->participants.size() <= message::kMaxGroupParticipants, "too many participants");
    }
    if (auto ack = message::parse_message_ack(n))
        check(!ack->id.empty() && ack->id.size() <= message::kMaxMessageIdLength, "ack id");
    if (auto retry = message::parse_retry_receipt(n)) {
        check(retry->device.is_user(), "retry from a non-user device");
        check(!retry->id.empty(), "retry without id");
    }
    // The same node as a child of an <iq>, where usync and group answers live.
    binary::Node iq("iq", {}, binary::Children{n});
    (void) message::parse_usync(iq);
    (void) message::parse_group_info(iq);
    return 0;
}
