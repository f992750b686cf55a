// Protocol core benchmark: binary node encode/decode throughput and
// transport frame decrypt+decode rate, on the same typical stanzas and
// frames the Node reference (t/mock/wa/bench-reference.mjs, Baileys) timed
// in the same run; prints both and the ratio.  Decoding is timed three
// ways: into a new Node, into a reused Node, and as views (ViewDecoder,
// what a session's receive loop uses); the transport rows decrypt each
// frame and decode it into a reused Node, and as views.  A benchmark, not a test:
// it checks only that our bytes equal the reference's, then times.
//
//   wa_codec_bench <reference.json> [seconds per case]
#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/view_decoder.hpp"
#include "wa/noise/transport.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
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

    const auto& r = ref["reference"];
    const double n_frames = static_cast<double>(frames.size());
    const double ours[] = {enc * corpus_bytes / 1e6,      dec * corpus_bytes / 1e6,
                           dec_into * corpus_bytes / 1e6, dec_view * corpus_bytes / 1e6,
                           tr * n_frames,                 tr_view * n_frames};
    const double theirs[] = {r["encode_mb_s"].GetDouble(),        r["decode_mb_s"].GetDouble(),
                             r["decode_mb_s"].GetDouble(),        r["decode_mb_s"].GetDouble(),
                             r["transport_frames_s"].GetDouble(), r["transport_frames_s"].GetDouble()};
    const char* names[] = {"binary node encode (MB/s)",
                           "binary node decode, new node (MB/s)",
                           "binary node decode, reused node (MB/s)",
                           "binary node decode, views (MB/s)",
                           "transport decrypt+decode, reused (fr/s)",
                           "transport decrypt+decode, views (fr/s)"};
    std::printf("protocol core: %zu typical stanzas, %zu bytes; reference: %s\n", corpus.size(),
                corpus_bytes, r["implementation"].GetString());
    std::printf("%-38s %14s %14s %8s\n", "", "ours", "reference", "ratio");
    for (int i = 0; i < 6; i++) {
        std::printf("%-38s %14.1f %14.1f %7.1fx\n", names[i], ours[i], theirs[i],
                    ours[i] / theirs[i]);
    }
    std::printf("(transport decrypt alone: %.1f frames/s, no reference)\n", tr_decrypt * n_frames);
    return 0;
}
