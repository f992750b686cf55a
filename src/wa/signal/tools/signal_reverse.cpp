// wa_signal_reverse: the C++ half of the reverse interop check.
//
//   wa_signal_reverse <out.json> [vectors.json]
//
// From the vectors' Bob (signal_1to1: his private keys, so his published
// bundle) and fixed seeds, our library as a sender "Dave" makes:
//   - two pkmsgs to Bob (padded Message{conversation} plaintexts),
//   - an SKDM and three skmsgs in the vectors' group,
//   - a pre-key upload IQ for Dave's own keys, binary-encoded,
// and writes them, with what each must decrypt or decode to, as JSON.
// t/mock/wa/signal-reverse-check.mjs then checks them with libsignal-node,
// Baileys' GroupCipher, Baileys' binary decoder and curve25519-js.
//
// A test tool: it reads and writes files, which the library never does.
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "wa/binary/encoder.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/prekey_stanzas.hpp"
#include "wa/signal/session_cipher.hpp"

namespace {

using namespace chatwoot::wa;
using namespace chatwoot::wa::signal;

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

const Address kBob{"15550000002", 0};
const Address kDave{"15550000009", 0};
const char* const kGroup = "120363012345678901@g.us";

struct Failure {
    std::string what;
};

template <class T>
T need(Result<T> r, const std::string& what)
{
    if (!r) throw Failure{what + ": " + errc_name(r.error().code) + ": " + r.error().detail};
    return std::move(r).value();
}

void need(Status s, const std::string& what)
{
    if (!s) throw Failure{what + ": " + errc_name(s.error().code) + ": " + s.error().detail};
}

const rapidjson::Value& member(const rapidjson::Value& v, const char* key)
{
    if (!v.IsObject() || !v.HasMember(key))
        throw Failure{std::string("vectors: no \"") + key + "\""};
    return v[key];
}

Bytes hex_member(const rapidjson::Value& v, const char* key)
{
    const rapidjson::Value& s = member(v, key);
    std::optional<Bytes> b = s.IsString() ? from_hex(s.GetString()) : std::nullopt;
    if (!b) throw Failure{std::string("vectors: \"") + key + "\" is not hex"};
    return *b;
}

// Message{conversation = text}: field 1, length-delimited.
Bytes conversation(std::string_view text)
{
    Bytes m{0x0a};
    std::size_t n = text.size();
    while (n >= 0x80) {
        m.push_back(static_cast<std::uint8_t>(n | 0x80));
        n >>= 7;
    }
    m.push_back(static_cast<std::uint8_t>(n));
    m.insert(m.end(), text.begin(), text.end());
    return m;
}

void put(Writer& w, const char* key, std::string_view value)
{
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_hex(Writer& w, const char* key, ByteView value)
{
    put(w, key, to_hex(value));
}

PreKeyBundle bob_bundle(const rapidjson::Value& vectors)
{
    const rapidjson::Value& bob = member(member(vectors, "signal_1to1"), "bob");
    const rapidjson::Value& spk = member(bob, "signed_prekey");
    const rapidjson::Value& otk = member(bob, "one_time_prekey");
    PreKeyBundle b;
    b.registration_id = member(bob, "registration_id").GetUint();
    b.identity_key =
        need(crypto::x25519_public_key(hex_member(bob, "identity_priv")), "Bob identity");
    b.signed_pre_key.id = member(spk, "id").GetUint();
    b.signed_pre_key.public_key =
        need(crypto::x25519_public_key(hex_member(spk, "priv")), "Bob spk");
    Bytes sig = hex_member(spk, "signature");
    if (sig.size() != 64) throw Failure{"vectors: signature is not 64 bytes"};
    std::copy(sig.begin(), sig.end(), b.signed_pre_key.signature.begin());
    b.pre_key = PreKeyPublic{member(otk, "id").GetUint(),
                             need(crypto::x25519_public_key(hex_member(otk, "priv")), "Bob otk")};
    return b;
}

void run(const rapidjson::Value& vectors, Writer& w)
{
    crypto::SignalContext keygen = need(
        crypto::SignalContext::create(crypto::seeded_random(as_bytes("wa_signal_reverse keys"))),
        "key context");
    LocalIdentity dave_identity = need(generate_local_identity(keygen), "Dave identity");
    MemoryProtocolStore store(dave_identity);
    ProtocolContext ctx =
        need(ProtocolContext::create(crypto::seeded_random(as_bytes("wa_signal_reverse")), store),
             "protocol context");
    crypto::RandomSource padding = crypto::seeded_random(as_bytes("wa_signal_reverse padding"));

    w.StartObject();
    w.Key("sender");
    w.StartObject();
    put(w, "name", kDave.name);
    w.Key("device");
    w.Uint(kDave.device_id);
    put_hex(w, "identity_pub", dave_identity.key_pair.public_key);
    w.Key("registration_id");
    w.Uint(dave_identity.registration_id);
    w.EndObject();

    // 1:1 to Bob's published bundle.
    need(process_prekey_bundle(ctx, kBob, bob_bundle(vectors)), "Bob's bundle");
    w.Key("one_to_one");
    w.StartArray();
    for (std::string_view text : {"hello bob, from C++", "and a second one"}) {
        Bytes padded = need(pad_message(conversation(text), padding), "pad");
        EncryptedMessage m = need(encrypt(ctx, kBob, padded), "encrypt to Bob");
        w.StartObject();
        put(w, "type", enc_type(m.type));
        put_hex(w, "ciphertext", m.ciphertext);
        put_hex(w, "padded_plaintext", padded);
        put(w, "text", text);
        w.EndObject();
    }
    w.EndArray();

    // Sender keys in the vectors' group.
    const SenderKeyName ours{kGroup, kDave};
    Bytes skdm = need(create_sender_key_distribution(ctx, ours), "SKDM");
    w.Key("group");
    w.StartObject();
    put(w, "group", kGroup);
    put(w, "sender", to_string(kDave));
    put_hex(w, "skdm", skdm);
    w.Key("messages");
    w.StartArray();
    for (std::string_view text :
         {"group one from C++", "group two from C++", "group three from C++"}) {
        Bytes padded = need(pad_message(conversation(text), padding), "pad");
        Bytes skmsg = need(group_encrypt(ctx, ours, padded), "group encrypt");
        w.StartObject();
        put_hex(w, "skmsg", skmsg);
        put_hex(w, "padded_plaintext", padded);
        put(w, "text", text);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();

    // Our pre-key upload, as the server would receive it.
    std::vector<PreKey> pre_keys = need(generate_pre_keys(keygen, 0xFFFFFD, 3), "pre-keys");
    SignedPreKey spk = need(generate_signed_pre_key(keygen, dave_identity.key_pair, 1), "spk");
    binary::Node iq = prekey_upload_iq("reverse-1", dave_identity, pre_keys, spk);
    Bytes wire = need(binary::encode(iq), "encode upload IQ");
    w.Key("prekey_upload");
    w.StartObject();
    put_hex(w, "frame", wire);
    w.Key("registration_id");
    w.Uint(dave_identity.registration_id);
    put_hex(w, "identity_pub", dave_identity.key_pair.public_key);
    w.Key("pre_keys");
    w.StartArray();
    for (const PreKey& k : pre_keys) {
        w.StartObject();
        w.Key("id");
        w.Uint(k.id);
        put_hex(w, "pub", k.key_pair.public_key);
        w.EndObject();
    }
    w.EndArray();
    w.Key("signed_pre_key");
    w.StartObject();
    w.Key("id");
    w.Uint(spk.id);
    put_hex(w, "pub", spk.key_pair.public_key);
    put_hex(w, "signature", spk.signature);
    w.EndObject();
    w.EndObject();

    w.EndObject();
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: " << argv[0] << " <out.json> [vectors.json]\n";
        return 2;
    }
    const std::string vectors_path = argc == 3 ? argv[2] : WA_VECTORS_FILE;
    std::ifstream in(vectors_path, std::ios::binary);
    if (!in) {
        std::cerr << "cannot read " << vectors_path << "\n";
        return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document vectors;
    vectors.Parse(text.str().c_str());
    if (vectors.HasParseError() || !vectors.IsObject()) {
        std::cerr << "bad JSON in " << vectors_path << "\n";
        return 1;
    }

    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    try {
        run(vectors, w);
    } catch (const Failure& f) {
        std::cerr << "wa_signal_reverse: " << f.what << "\n";
        return 1;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << buffer.GetString() << "\n";
    if (!out.flush()) {
        std::cerr << "cannot write " << argv[1] << "\n";
        return 1;
    }
    return 0;
}
