// Fuzzes the node decoders with whole frame payloads (flags byte, maybe
// zlib, then a node).  Whatever decodes must encode again, decode to the
// same node, and re-encode to the same bytes: the decoder accepts nothing
// the encoder cannot reproduce.  The view decoder (one, reused from input
// to input as a session reuses it) must agree with decode() on every
// input: the same node (owned() and field by field), or the same error
// code and text.  Failures abort with both nodes printed.
//
// Seeds: t/fuzz/corpus/binary_node (t/fuzz/make-corpus.mjs).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"
#include "wa/binary/view_decoder.hpp"

using namespace chatwoot::wa;
using namespace chatwoot::wa::binary;

namespace {

[[noreturn]] void fail(const char* why, const Node& first, const Node* second)
{
    std::fprintf(stderr, "binary_node_fuzz: %s\nfirst decode:\n%s", why, to_debug_string(first).c_str());
    if (second != nullptr) {
        std::fprintf(stderr, "second decode:\n%s", to_debug_string(*second).c_str());
    }
    std::abort();
}

// decode() and the view decoder on the same bytes must agree.
void check_views(ViewDecoder& views, ByteView payload, const Result<Node>& want)
{
    const Result<NodeView> got = views.decode(payload);
    if (got.ok() != want.ok()) {
        std::fprintf(stderr, "binary_node_fuzz: decode() %s, the view decoder %s: %s\n",
                     want.ok() ? "accepts" : "refuses", got.ok() ? "accepts" : "refuses",
                     want.ok() ? got.error().detail.c_str() : want.error().detail.c_str());
        std::abort();
    }
    if (!want.ok()) {
        if (got.error().code != want.error().code || got.error().detail != want.error().detail) {
            std::fprintf(stderr, "binary_node_fuzz: decode() says %s \"%s\", the view decoder %s \"%s\"\n",
                         errc_name(want.error().code), want.error().detail.c_str(),
                         errc_name(got.error().code), got.error().detail.c_str());
            std::abort();
        }
        return;
    }
    const Node owned = got->owned();
    if (!(owned == *want)) {
        fail("the view decoder's owned() differs from decode()", *want, &owned);
    }
    if (!(*got == *want)) {
        fail("the view decoder's node compares unequal to decode()'s", *want, &owned);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    // A smaller inflation bound than production keeps each run fast; the
    // bound itself is what is under test, not its value.
    DecodeLimits limits;
    limits.max_inflated_size = 1u << 20;

    static ViewDecoder views(limits);

    const Result<Node> first = decode(ByteView(data, size), limits);
    check_views(views, ByteView(data, size), first);
    if (!first) {
        if (first.error().detail.empty()) {
            std::fprintf(stderr, "binary_node_fuzz: error %s without a detail\n",
                         errc_name(first.error().code));
            std::abort();
        }
        return 0;
    }
    const Result<Bytes> encoded = encode(*first);
    if (!encoded) {
        std::fprintf(stderr, "binary_node_fuzz: encode: %s\n", encoded.error().detail.c_str());
        fail("a decoded node does not encode", *first, nullptr);
    }
    const Result<Node> second = decode(*encoded, limits);
    check_views(views, *encoded, second);
    if (!second) {
        std::fprintf(stderr, "binary_node_fuzz: decode: %s\n", second.error().detail.c_str());
        fail("the re-encoded node does not decode", *first, nullptr);
    }
    if (!(*second == *first)) {
        fail("the re-encoded node decodes to another node", *first, &*second);
    }
    const Result<Bytes> again = encode(*second);
    if (!again || *again != *encoded) {
        fail("encoding is not stable", *first, &*second);
    }
    return 0;
}
