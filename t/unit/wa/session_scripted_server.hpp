// The server side of a WhatsApp Web connection, scripted by a test: the
// Noise XX responder (with its own root key, certificate chain and static
// key), then transport frames both ways.  It is written from the Noise
// spec and waweb.md 1.3-1.5 on SymmetricState, independently of
// ClientHandshake, and it is strict: a client hello without the "WA"
// header, a bad tag or a frame it cannot read fails the test.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "wa/binary/node.hpp"
#include "wa/bytes.hpp"
#include "wa/crypto/keys.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/noise/frame_codec.hpp"
#include "wa/noise/symmetric_state.hpp"
#include "wa/noise/transport.hpp"
#include "wa/proto/client_payload.pb.h"

namespace chatwoot::wa::test {

class ScriptedServer {
public:
    // Keys come from `seed`, so two servers with one seed are one server.
    explicit ScriptedServer(std::string_view seed = "scripted server");

    const crypto::Key32& root_public() const { return root_.public_key; }

    // Sign the chain with this root instead (a server the client must not
    // trust).
    void sign_with_root(const crypto::KeyPair& root) { signing_root_ = root; }

    // One WebSocket message from the client.  During the handshake the
    // server answers by itself (its ServerHello lands in to_client); after
    // it, received nodes land in `received`.  Returns false and records a
    // reason when the client sent something a server would refuse.
    bool from_client(ByteView message);

    // A node as the next transport frame to the client (one message).
    Bytes frame_for(const binary::Node& node);
    // Any plaintext (flags byte included) as the next transport frame.
    Bytes frame_for_plaintext(ByteView plaintext);

    bool handshake_done() const { return transport_.has_value(); }

    std::deque<Bytes> to_client;          // messages the server wants sent
    std::deque<binary::Node> received;    // nodes from the client, in order
    std::optional<proto::ClientPayload> client_payload;
    crypto::Key32 client_static{};        // the client's noise key, from ClientFinish
    Bytes preface;                        // what came before "WA" 6 3
    std::string failure;                  // why from_client() returned false

private:
    bool on_client_hello(ByteView body);
    bool on_client_finish(ByteView body);
    bool refuse(std::string why);

    crypto::KeyPair root_;
    std::optional<crypto::KeyPair> signing_root_;
    crypto::KeyPair intermediate_;
    crypto::KeyPair static_;
    crypto::KeyPair ephemeral_;
    noise::SymmetricState state_;
    noise::FrameReassembler frames_;
    noise::FrameWriter writer_{ByteView{}};
    std::optional<noise::NoiseTransport> transport_;
    bool header_seen_ = false;
    bool hello_seen_ = false;
    Bytes plain_;
};

// Stanza builders for scripts.
binary::Node server_node(std::string tag, std::initializer_list<std::pair<std::string, std::string>> attrs,
                         binary::Children children = {});

}  // namespace chatwoot::wa::test
