// Fuzzes what the messages layer reads from the network before any
// decryption: a node body (as wa_stanzas keeps it) read as a <message>
// envelope, a <receipt> and a <notification> (the tag is forced to each in
// turn, so every input reaches every parser), and the same bytes as a
// Message protobuf through the content extraction.  Nothing may crash or
// read past its input; what parses must hold its own invariants.
//
// Seeds: t/fuzz/corpus/binary_node works as well (node bodies after the
// flags byte).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wa/binary/decoder.hpp"
#include "wa/message/content.hpp"
#include "wa/message/envelope.hpp"
#include "wa/message/receipts.hpp"

using namespace chatwoot::wa;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const ByteView input(data, size);
    const message::OwnAccount own{"15550009999", "99999999999999"};

    if (Result<binary::Node> node = binary::decode_node(input); node.ok()) {
        binary::Node n = std::move(node).value();
        n.tag = "message";
        if (auto env = message::parse_envelope(n, own); env.ok()) {
            // The chat never carries a device, and a group always has a
            // user sender.
            if (env->chat.has_device()) std::abort();
            if (env->group && !env->sender.is_user()) std::abort();
            for (const message::EncPart& e : env->encs)
                if (e.ciphertext.empty()) std::abort();
            (void) env->retry_count();
        }
        n.tag = "receipt";
        if (auto r = message::parse_receipt(n); r.ok() && r->ids.empty()) std::abort();
        n.tag = "notification";
        (void) message::parse_notification(n);
    }

    proto::Message m;
    if (m.ParseFromArray(data, static_cast<int>(size))) (void) message::extract_content(m);
    return 0;
}
