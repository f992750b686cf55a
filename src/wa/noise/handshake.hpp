// The client side of WhatsApp's Noise XX handshake (waweb.md 1.3), sans
// I/O: the caller sends the bytes it gets and feeds in the bytes it
// receives; framing is frame_codec.hpp's job.
//
//   -> e                 client_hello()
//   <- e, ee, s, es      read_server_hello(): also decrypts and checks the
//                        server's certificate chain (cert_chain.hpp)
//   -> s, se             client_finish(client payload)
//      split             transport_keys()
//
// Any failure ends the handshake: later calls are Errc::wrong_state, and
// the connection must be closed.
#pragma once

#include <optional>

#include "wa/bytes.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/error.hpp"
#include "wa/noise/cert_chain.hpp"
#include "wa/noise/frame_codec.hpp"
#include "wa/noise/symmetric_state.hpp"

namespace chatwoot::wa::noise {

struct HandshakeConfig {
    crypto::KeyPair ephemeral;     // fresh for every connection
    crypto::KeyPair noise_static;  // the device's long-lived noise key
    CertPolicy cert_policy;        // the root key and the current time
    Bytes prologue = Bytes(wa_header.begin(), wa_header.end());
};

// The two AES-256-GCM keys of the transport phase.
struct TransportKeys {
    crypto::Key32 write;  // client to server
    crypto::Key32 read;   // server to client
};

class ClientHandshake {
public:
    explicit ClientHandshake(HandshakeConfig config);

    // HandshakeMessage{clientHello{ephemeral}}, serialized, unframed.
    Result<Bytes> client_hello();

    // The server's HandshakeMessage.  Errc::malformed for bytes that are not
    // one, a missing serverHello or a field of the wrong size; Errc::bad_mac
    // when its static key or certificate chain does not decrypt;
    // Errc::crypto_failure for a small-order ephemeral; the certificate
    // chain's own codes (verify_cert_chain) when it does not check out.
    Status read_server_hello(ByteView handshake_message);

    // HandshakeMessage{clientFinish{static, payload}} with our encrypted noise
    // key and the encrypted `client_payload` (a serialized ClientPayload).
    Result<Bytes> client_finish(ByteView client_payload);

    // After client_finish: the keys for NoiseTransport.
    Result<TransportKeys> transport_keys() const;

    // The server's static key, known once read_server_hello succeeded.
    const std::optional<crypto::Key32>& server_static() const { return server_static_; }

    // What the certificate chain check established.
    const std::optional<VerifiedChain>& server_chain() const { return chain_; }

private:
    enum class Step { start, hello_sent, server_hello_read, finished, failed };

    Status expect(Step step, const char* call) const;
    template <class T>
    T fail(T result);

    HandshakeConfig config_;
    SymmetricState state_;
    Step step_ = Step::start;
    std::optional<crypto::Key32> server_ephemeral_;
    std::optional<crypto::Key32> server_static_;
    std::optional<VerifiedChain> chain_;
};

}  // namespace chatwoot::wa::noise
