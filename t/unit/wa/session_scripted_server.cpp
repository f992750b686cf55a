#include "session_scripted_server.hpp"

#include <algorithm>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/crypto/curve_signature.hpp"
#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"

namespace chatwoot::wa::test {

namespace {

crypto::KeyPair seeded_key(std::string_view seed, std::string_view what)
{
    const std::string s = std::string(seed) + "/" + std::string(what);
    auto bytes = crypto::random_bytes(crypto::seeded_random(as_bytes(s)), 32);
    return *crypto::x25519_key_pair(*bytes);
}

std::string str(ByteView b)
{
    return std::string(as_chars(b));
}

proto::CertChain::NoiseCertificate certificate(const proto::CertChain::NoiseCertificate::Details& d,
                                               const crypto::KeyPair& signer)
{
    const Bytes details = proto::serialize(d);
    auto sig = crypto::curve_sign(crypto::seeded_random(details), signer.private_key, details);
    proto::CertChain::NoiseCertificate cert;
    cert.set_details(str(details));
    cert.set_signature(sig ? str(*sig) : std::string(64, '\0'));
    return cert;
}

}  // namespace

ScriptedServer::ScriptedServer(std::string_view seed)
    : root_(seeded_key(seed, "root")),
      intermediate_(seeded_key(seed, "intermediate")),
      static_(seeded_key(seed, "static")),
      ephemeral_(seeded_key(seed, "ephemeral"))
{
}

bool ScriptedServer::refuse(std::string why)
{
    failure = std::move(why);
    return false;
}

bool ScriptedServer::from_client(ByteView message)
{
    if (!header_seen_) {
        // [ 'E' 'D' 0 1 u24 routing ] 'W' 'A' 6 3
        std::size_t at = 0;
        if (message.size() >= 7 && message[0] == 'E' && message[1] == 'D') {
            const std::size_t n = (std::size_t(message[4]) << 16) | (std::size_t(message[5]) << 8) |
                                  message[6];
            if (message[2] != 0 || message[3] != 1 || message.size() < 7 + n) {
                return refuse("bad edge routing preface");
            }
            preface.assign(message.begin(), message.begin() + 7 + n);
            at = 7 + n;
        }
        if (message.size() < at + 4 ||
            !std::equal(noise::wa_header.begin(), noise::wa_header.end(), message.begin() + at)) {
            return refuse("no WA header");
        }
        header_seen_ = true;
        message = message.subspan(at + 4);
    }
    frames_.feed(message);
    for (;;) {
        auto frame = frames_.next();
        if (!frame) return refuse("frame: " + frame.error().detail);
        if (!*frame) return true;
        const Bytes body((*frame)->begin(), (*frame)->end());
        if (!hello_seen_) {
            if (!on_client_hello(body)) return false;
        } else if (!transport_) {
            if (!on_client_finish(body)) return false;
        } else {
            if (Status s = transport_->decrypt(body, plain_); !s) {
                return refuse("transport: " + s.error().detail);
            }
            auto node = binary::decode(plain_);
            if (!node) return refuse("node: " + node.error().detail);
            received.push_back(std::move(*node));
        }
    }
}

bool ScriptedServer::on_client_hello(ByteView body)
{
    auto msg = proto::parse<proto::HandshakeMessage>(body);
    if (!msg || !msg->has_clienthello() || msg->clienthello().ephemeral().size() != 32) {
        return refuse("not a ClientHello");
    }
    hello_seen_ = true;
    const ByteView client_eph = as_bytes(msg->clienthello().ephemeral());
    state_.mix_hash(noise::wa_header);
    state_.mix_hash(client_eph);

    state_.mix_hash(ephemeral_.public_key);
    (void)state_.mix_key(*crypto::x25519_shared(ephemeral_.private_key, client_eph));
    auto enc_static = state_.encrypt_and_hash(static_.public_key);
    (void)state_.mix_key(*crypto::x25519_shared(static_.private_key, client_eph));

    proto::CertChain::NoiseCertificate::Details inter;
    inter.set_serial(7);
    inter.set_issuerserial(0);
    inter.set_key(str(intermediate_.public_key));
    inter.set_notbefore(1600000000);
    inter.set_notafter(4100000000);
    proto::CertChain::NoiseCertificate::Details leaf;
    leaf.set_serial(8);
    leaf.set_issuerserial(7);
    leaf.set_key(str(static_.public_key));
    leaf.set_notbefore(1650000000);
    leaf.set_notafter(4000000000);
    proto::CertChain chain;
    *chain.mutable_intermediate() = certificate(inter, signing_root_.value_or(root_));
    *chain.mutable_leaf() = certificate(leaf, intermediate_);
    auto enc_chain = state_.encrypt_and_hash(proto::serialize(chain));

    proto::HandshakeMessage reply;
    auto* hello = reply.mutable_serverhello();
    hello->set_ephemeral(str(ephemeral_.public_key));
    hello->set_static_(str(*enc_static));
    hello->set_payload(str(*enc_chain));
    Bytes out;
    (void)writer_.append_frame(proto::serialize(reply), out);
    to_client.push_back(std::move(out));
    return true;
}

bool ScriptedServer::on_client_finish(ByteView body)
{
    auto msg = proto::parse<proto::HandshakeMessage>(body);
    if (!msg || !msg->has_clientfinish()) return refuse("not a ClientFinish");
    auto client_static_key = state_.decrypt_and_hash(as_bytes(msg->clientfinish().static_()));
    if (!client_static_key || client_static_key->size() != 32) {
        return refuse("client static does not decrypt");
    }
    std::ranges::copy(*client_static_key, client_static.begin());
    (void)state_.mix_key(*crypto::x25519_shared(ephemeral_.private_key, client_static));
    auto payload = state_.decrypt_and_hash(as_bytes(msg->clientfinish().payload()));
    if (!payload) return refuse("client payload does not decrypt");
    auto parsed = proto::parse<proto::ClientPayload>(*payload);
    if (!parsed) return refuse("client payload is not a ClientPayload");
    client_payload = std::move(*parsed);
    auto keys = state_.split();
    if (!keys) return refuse("split");
    // The initiator writes with the first key; we are the responder.
    transport_.emplace(noise::TransportKeys{keys->second, keys->first});
    return true;
}

Bytes ScriptedServer::frame_for_plaintext(ByteView plaintext)
{
    Bytes body, out;
    (void)transport_->encrypt(plaintext, body);
    (void)writer_.append_frame(body, out);
    return out;
}

Bytes ScriptedServer::frame_for(const binary::Node& node)
{
    auto payload = binary::encode(node);
    return frame_for_plaintext(*payload);
}

binary::Node server_node(std::string tag,
                         std::initializer_list<std::pair<std::string, std::string>> attrs,
                         binary::Children children)
{
    binary::Node node(std::move(tag));
    for (const auto& [k, v] : attrs) {
        if (k == "from" || k == "to") {
            if (v == "s.whatsapp.net") {
                node.set_attr(k, binary::server_jid());
            } else {
                node.set_attr(k, *binary::Jid::parse(v));
            }
        } else {
            node.set_attr(k, v);
        }
    }
    if (!children.empty()) node.content = std::move(children);
    return node;
}

}  // namespace chatwoot::wa::test
