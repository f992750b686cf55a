#include "wa/noise/handshake.hpp"

#include <algorithm>
#include <string>

#include "wa/proto/codec.hpp"
#include "wa/proto/handshake.pb.h"

namespace chatwoot::wa::noise {
namespace {

constexpr std::size_t key_size = 32;
constexpr std::size_t tag_size = 16;

std::string to_string(ByteView b)
{
    return std::string(as_chars(b));
}

crypto::Key32 to_key(const std::string& s)
{
    crypto::Key32 k;
    std::copy_n(s.begin(), key_size, k.begin());
    return k;
}

Error handshake_error(Errc code, const std::string& what)
{
    return make_error(code, "noise handshake: " + what);
}

}  // namespace

ClientHandshake::ClientHandshake(HandshakeConfig config) : config_(std::move(config))
{
    state_.mix_hash(config_.prologue);
}

Status ClientHandshake::expect(Step step, const char* call) const
{
    if (step_ == step) return Done{};
    return handshake_error(
        Errc::wrong_state,
        std::string(call) + (step_ == Step::failed ? " after a failure" : " out of order"));
}

template <class T>
T ClientHandshake::fail(T result)
{
    step_ = Step::failed;
    return result;
}

Result<Bytes> ClientHandshake::client_hello()
{
    if (Status s = expect(Step::start, "client_hello"); !s) return s.error();
    state_.mix_hash(config_.ephemeral.public_key);
    proto::HandshakeMessage msg;
    msg.mutable_clienthello()->set_ephemeral(to_string(config_.ephemeral.public_key));
    step_ = Step::hello_sent;
    return proto::serialize(msg);
}

Status ClientHandshake::read_server_hello(ByteView handshake_message)
{
    if (Status s = expect(Step::hello_sent, "read_server_hello"); !s) return s.error();

    auto msg = proto::parse<proto::HandshakeMessage>(handshake_message);
    if (!msg) return fail<Status>(handshake_error(Errc::malformed, msg.error().detail));
    if (!msg->has_serverhello())
        return fail<Status>(handshake_error(Errc::malformed, "no serverHello"));
    const auto& hello = msg->serverhello();
    if (hello.ephemeral().size() != key_size)
        return fail<Status>(handshake_error(
            Errc::malformed, "serverHello ephemeral is " +
                                 std::to_string(hello.ephemeral().size()) + " bytes, want 32"));
    if (hello.static_().size() != key_size + tag_size)
        return fail<Status>(handshake_error(
            Errc::malformed,
            "serverHello static is " + std::to_string(hello.static_().size()) + " bytes, want 48"));
    if (hello.payload().size() < tag_size)
        return fail<Status>(handshake_error(
            Errc::malformed, "serverHello payload is " + std::to_string(hello.payload().size()) +
                                 " bytes, shorter than its tag"));

    const crypto::Key32 server_eph = to_key(hello.ephemeral());
    state_.mix_hash(server_eph);
    auto ee = crypto::x25519_shared(config_.ephemeral.private_key, server_eph);
    if (!ee) return fail<Status>(handshake_error(ee.error().code, "ee: " + ee.error().detail));
    if (Status s = state_.mix_key(*ee); !s) return fail(s);

    auto server_static = state_.decrypt_and_hash(as_bytes(hello.static_()));
    if (!server_static)
        return fail<Status>(handshake_error(server_static.error().code,
                                            "server static key: " + server_static.error().detail));
    const crypto::Key32 rs = to_key(to_string(*server_static));
    auto es = crypto::x25519_shared(config_.ephemeral.private_key, rs);
    if (!es) return fail<Status>(handshake_error(es.error().code, "es: " + es.error().detail));
    if (Status s = state_.mix_key(*es); !s) return fail(s);

    auto cert = state_.decrypt_and_hash(as_bytes(hello.payload()));
    if (!cert)
        return fail<Status>(
            handshake_error(cert.error().code, "certificate chain: " + cert.error().detail));
    auto chain = verify_cert_chain(*cert, rs, config_.cert_policy);
    if (!chain) return fail<Status>(chain.error());

    server_ephemeral_ = server_eph;
    server_static_ = rs;
    chain_ = *chain;
    step_ = Step::server_hello_read;
    return Done{};
}

Result<Bytes> ClientHandshake::client_finish(ByteView client_payload)
{
    if (Status s = expect(Step::server_hello_read, "client_finish"); !s) return s.error();

    auto enc_static = state_.encrypt_and_hash(config_.noise_static.public_key);
    if (!enc_static) return fail<Result<Bytes>>(enc_static.error());
    auto se = crypto::x25519_shared(config_.noise_static.private_key, *server_ephemeral_);
    if (!se)
        return fail<Result<Bytes>>(handshake_error(se.error().code, "se: " + se.error().detail));
    if (Status s = state_.mix_key(*se); !s) return fail<Result<Bytes>>(s.error());
    auto enc_payload = state_.encrypt_and_hash(client_payload);
    if (!enc_payload) return fail<Result<Bytes>>(enc_payload.error());

    proto::HandshakeMessage msg;
    auto* finish = msg.mutable_clientfinish();
    finish->set_static_(to_string(*enc_static));
    finish->set_payload(to_string(*enc_payload));
    step_ = Step::finished;
    return proto::serialize(msg);
}

Result<TransportKeys> ClientHandshake::transport_keys() const
{
    if (Status s = expect(Step::finished, "transport_keys"); !s) return s.error();
    auto keys = state_.split();
    if (!keys) return keys.error();
    return TransportKeys{keys->first, keys->second};
}

}  // namespace chatwoot::wa::noise
