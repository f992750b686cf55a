// Protocol core benchmark: binary node encode/decode throughput and
// transport frame decrypt+decode rate, on the same typical stanzas and
// frames the Node reference (t/mock/wa/bench-reference.mjs, Baileys) timed
// in the same run; prints both and the ratio.  Decoding is timed three
// ways: into a new Node, into a reused Node, and as views (ViewDecoder,
// what a session's receive loop uses); the transport rows decrypt each
// frame and decode it into a reused Node, and as views.  The live rows are
// a session's receive path: the stanzas a server sends (messages with
// <enc>, a receipt, an ack, a notification) through Connection::receive
// (frame reassembly, transport decrypt, view decode, dispatch, the acks it
// sends at once, the events polled), against Baileys' decrypt + decode +
// the same acks; and again on the stanzas read without an ack at once
// (messages, acks), where both sides only decrypt and decode.  A
// benchmark, not a test: it checks only that our bytes equal the
// reference's, then times.
//
//   wa_codec_bench <reference.json> [seconds per case]
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/view_decoder.hpp"
#include "wa/noise/transport.hpp"
#include "wa/session/connection.hpp"

#include "session_scripted_server.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace chatwoot::wa;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& why)
{
    std::fprintf(stderr, "wa_codec_bench: %s\n", why.c_str());
    std::exit(1);
}

std::vector<Bytes> hex_list(const rapidjson::Value& list)
{
    std::vector<Bytes> out;
    for (const auto& v : list.GetArray()) {
        auto b = from_hex(std::string_view(v.GetString(), v.GetStringLength()));
        if (!b) die("bad hex in the reference file");
        out.push_back(std::move(*b));
    }
    return out;
}

// Rounds of `fn` for about `seconds`; returns rounds per second.
template <typename F>
double rate(double seconds, F&& fn)
{
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    long rounds = 0;
    const auto t0 = Clock::now();
    auto now = t0;
    while (now < until) {
        fn();
        if (++rounds % 64 == 0) now = Clock::now();
    }
    return rounds / std::chrono::duration<double>(Clock::now() - t0).count();
}

// One logged-in Connection against the scripted server, and `rounds`
// passes over `stanzas` as the server's next frames (one WebSocket message
// each).  Set up outside the timing: a Connection reads a stream once.
struct LiveSession {
    test::ScriptedServer server;
    session::MemorySessionStore store;
    std::optional<session::Connection> conn;
    std::vector<Bytes> messages;

    LiveSession(const session::DeviceCredentials& credentials, const std::vector<Bytes>& stanzas,
                int rounds)
        : store(credentials)
    {
        session::ConnectionConfig config;
        config.root_key = server.root_public();
        conn.emplace(config, store, crypto::seeded_random(as_bytes("bench")));
        if (!conn->start(0, 1800000000).ok()) die("live: start");
        pump();
        if (server.to_client.size() != 1) die("live: no server hello");
        Bytes hello = std::move(server.to_client.front());
        server.to_client.clear();
        if (!conn->receive(hello, 0).ok()) die("live: server hello");
        pump();
        if (!server.handshake_done()) die("live: handshake: " + server.failure);
        auto success = binary::encode(test::server_node("success", {{"t", "1800000000"}}));
        if (!success || !conn->receive(server.frame_for_plaintext(*success), 0).ok()) {
            die("live: success");
        }
        pump();
        if (conn->state() != session::ConnectionState::connected) die("live: not logged in");
        for (int r = 0; r < rounds; ++r) {
            for (const Bytes& s : stanzas) messages.push_back(server.frame_for_plaintext(s));
        }
    }

    void pump()
    {
        for (Bytes& m : conn->take_messages()) {
            if (!server.from_client(m)) die("live: server refused: " + server.failure);
        }
        while (conn->poll_event()) {
        }
    }
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) die("usage: wa_codec_bench <reference.json> [seconds]");
    const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document ref;
    ref.Parse(text.str().c_str());
    if (ref.HasParseError() || !ref.IsObject()) die("cannot read the reference file");

    const auto corpus = hex_list(ref["corpus"]);
    const auto frames = hex_list(ref["frames"]);
    auto key = from_hex(ref["transport_key"].GetString());
    if (!key || key->size() != 32) die("bad transport key");
    noise::TransportKeys keys{};
    std::copy(key->begin(), key->end(), keys.read.begin());

    // Same bytes as the reference, both ways, before anything is timed.
    std::vector<binary::Node> nodes;
    size_t corpus_bytes = 0;
    for (const auto& payload : corpus) {
        auto node = binary::decode(payload);
        if (!node) die("decode: " + node.error().detail);
        auto again = binary::encode(*node);
        if (!again || *again != payload) die("our encoding differs from the reference's");
        binary::ViewDecoder views;
        auto view = views.decode(payload);
        if (!view || !(*view == *node)) die("the view decoder differs from decode()");
        nodes.push_back(std::move(*node));
        corpus_bytes += payload.size();
    }

    Bytes out;
    out.reserve(4096);
    const double enc = rate(seconds, [&] {
        for (const auto& n : nodes) {
            out.clear();
            if (!binary::encode_node(n, out).ok()) die("encode failed");
        }
    });
    const double dec = rate(seconds, [&] {
        for (const auto& p : corpus) {
            if (!binary::decode(p).ok()) die("decode failed");
        }
    });
    // A session's read loop keeps one scratch node and decodes into it.
    binary::Node scratch;
    const double dec_into = rate(seconds, [&] {
        for (const auto& p : corpus) {
            if (!binary::decode_into(p, scratch).ok()) die("decode failed");
        }
    });
    // The receive loop's decoder: one per session, nodes as views.  Each
    // node is looked at (its tag) so the work cannot be skipped.
    binary::ViewDecoder views;
    std::size_t seen = 0;
    const double dec_view = rate(seconds, [&] {
        for (const auto& p : corpus) {
            auto n = views.decode(p);
            if (!n.ok()) die("decode failed");
            seen += n->tag().size();
        }
    });
    Bytes plain;
    const double tr = rate(seconds, [&] {
        noise::NoiseTransport t(keys);   // counters from 0, as the frames were made
        for (const auto& f : frames) {
            if (!t.decrypt(f, plain).ok() || !binary::decode_into(plain, scratch).ok())
                die("frame failed");
        }
    });
    const double tr_view = rate(seconds, [&] {
        noise::NoiseTransport t(keys);
        for (const auto& f : frames) {
            if (!t.decrypt(f, plain).ok()) die("frame failed");
            auto n = views.decode(plain);
            if (!n.ok()) die("frame failed");
            seen += n->tag().size();
        }
    });
    if (seen == 0) die("nothing decoded");
    // Decryption alone, to show how the transport rows split.
    const double tr_decrypt = rate(seconds, [&] {
        noise::NoiseTransport t(keys);
        for (const auto& f : frames) {
            if (!t.decrypt(f, plain).ok()) die("frame failed");
        }
    });

    // The live path: the stanzas a server sends (those with a from; the
    // corpus also has our own outgoing ones), as the reference timed them.
    auto credentials = session::generate_credentials(crypto::seeded_random(as_bytes("device")));
    if (!credentials) die("live: credentials");
    credentials->jid = binary::Jid::parse("5511999990000:7@s.whatsapp.net");
    const int live_rounds = ref["live_rounds"].GetInt();
    // Frames per second through Connection::receive, the events polled as
    // an owner does; only the receiving is timed (a session is set up for
    // each pass: a Connection reads a stream once).
    auto live_rate = [&](const char* list) {
        std::vector<Bytes> incoming;
        for (const auto& i : ref[list].GetArray()) incoming.push_back(corpus.at(i.GetUint()));
        double live_seconds = 0;
        double live_frames = 0;
        std::size_t stanzas_seen = 0;
        while (live_seconds < seconds) {
            LiveSession live(*credentials, incoming, live_rounds);
            session::Connection& conn = *live.conn;
            const auto t0 = Clock::now();
            for (const Bytes& m : live.messages) {
                if (!conn.receive(m, 1).ok()) die("live: receive");
                while (auto e = conn.poll_event()) {
                    if (const auto* st = std::get_if<session::event::Stanza>(&*e)) {
                        stanzas_seen += st->view.tag().size();
                    } else {
                        die("live: an event other than a stanza");
                    }
                }
                // The acks it sent itself leave with the next write.
                (void)conn.take_messages();
            }
            live_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
            live_frames += static_cast<double>(live.messages.size());
            if (conn.state() != session::ConnectionState::connected) die("live: connection ended");
        }
        if (stanzas_seen == 0) die("live: nothing delivered");
        return live_frames / live_seconds;
    };
    // The stanzas a server sends (those with a from; the corpus also has
    // our own outgoing ones), as the reference timed them: all of them
    // (receipts and notifications acked at once, on both sides), and the
    // ones read without an ack (messages wait for the owner's commit).
    const double live_all = live_rate("live_corpus");
    const double live_read = live_rate("live_read_corpus");

    const auto& r = ref["reference"];
    const double n_frames = static_cast<double>(frames.size());
    const double ours[] = {enc * corpus_bytes / 1e6,      dec * corpus_bytes / 1e6,
                           dec_into * corpus_bytes / 1e6, dec_view * corpus_bytes / 1e6,
                           tr * n_frames,                 tr_view * n_frames,
                           live_all,                      live_read};
    const double theirs[] = {r["encode_mb_s"].GetDouble(),        r["decode_mb_s"].GetDouble(),
                             r["decode_mb_s"].GetDouble(),        r["decode_mb_s"].GetDouble(),
                             r["transport_frames_s"].GetDouble(), r["transport_frames_s"].GetDouble(),
                             r["live_frames_s"].GetDouble(),      r["live_read_frames_s"].GetDouble()};
    const char* names[] = {"binary node encode (MB/s)",
                           "binary node decode, new node (MB/s)",
                           "binary node decode, reused node (MB/s)",
                           "binary node decode, views (MB/s)",
                           "transport decrypt+decode, reused (fr/s)",
                           "transport decrypt+decode, views (fr/s)",
                           "live: receive+dispatch+acks (fr/s)",
                           "live: receive+dispatch, no acks (fr/s)"};
    std::printf("protocol core: %zu typical stanzas, %zu bytes; reference: %s\n", corpus.size(),
                corpus_bytes, r["implementation"].GetString());
    std::printf("%-38s %14s %14s %8s\n", "", "ours", "reference", "ratio");
    for (int i = 0; i < 8; i++) {
        std::printf("%-38s %14.1f %14.1f %7.1fx\n", names[i], ours[i], theirs[i],
                    ours[i] / theirs[i]);
    }
    std::printf("(transport decrypt alone: %.1f frames/s, no reference)\n", tr_decrypt * n_frames);
    return 0;
}
