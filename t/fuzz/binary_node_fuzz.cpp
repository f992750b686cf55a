// Fuzzes the node decoder with whole frame payloads (flags byte, maybe
// zlib, then a node).  Whatever decodes must encode again, decode to the
// same node, and re-encode to the same bytes: the decoder accepts nothing
// the encoder cannot reproduce.  Failures abort with both nodes printed.
//
// Seeds: t/fuzz/corpus/binary_node (t/fuzz/make-corpus.mjs).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wa/binary/decoder.hpp"
#include "wa/binary/encoder.hpp"

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    // A smaller inflation bound than production keeps each run fast; the
    // bound itself is what is under test, not its value.
    DecodeLimits limits;
    limits.max_inflated_size = 1u << 20;

    const Result<Node> first = decode(ByteView(data, size), limits);
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
