// Message padding: what we send (1..16 bytes of value N) and how strictly
// we take it off, against the vectors' padded plaintexts (made by Baileys
// and libsignal-node's senders).
#include <gtest/gtest.h>

#include "vectors.hpp"
#include "wa/signal/padding.hpp"

namespace chatwoot::wa::signal {
namespace {

using test::vector_hex;
using test::vector_section;

Bytes b(std::initializer_list<std::uint8_t> v)
{
    return Bytes(v);
}

Bytes view_bytes(ByteView v)
{
    return Bytes(v.begin(), v.end());
}

TEST(SignalPadding, PadLengthIsLowNibblePlusOne)
{
    const Bytes msg = b({0x0a, 0x01, 0x41});
    struct Case {
        std::uint8_t random;
        std::uint8_t pad;
    };
    for (Case c : {Case{0x00, 1}, Case{0x0f, 16}, Case{0xf3, 4}, Case{0x10, 1}, Case{0xff, 16}}) {
        Result<Bytes> padded = pad_message(msg, crypto::replay_random(b({c.random})));
        ASSERT_TRUE(padded.ok()) << padded.error().detail;
        Bytes want = msg;
        want.insert(want.end(), c.pad, c.pad);
        EXPECT_EQ(*padded, want) << "random byte " << int(c.random);
    }
}

TEST(SignalPadding, PadConsumesOneRandomByteAndFailsWithoutIt)
{
    Result<Bytes> padded = pad_message(b({1, 2}), crypto::replay_random({}));
    ASSERT_FALSE(padded.ok());
    EXPECT_EQ(padded.error().code, Errc::crypto_failure);
}

TEST(SignalPadding, PadThenUnpadGivesTheMessageBack)
{
    crypto::RandomSource random = crypto::seeded_random(as_bytes("padding"));
    for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 300u}) {
        Bytes msg(size, 0x42);
        Result<Bytes> padded = pad_message(msg, random);
        ASSERT_TRUE(padded.ok());
        ASSERT_GE(padded->size(), size + 1);
        ASSERT_LE(padded->size(), size + kMaxSentPadding);
        Result<ByteView> inner = unpad_message(*padded);
        ASSERT_TRUE(inner.ok()) << inner.error().detail;
        EXPECT_EQ(view_bytes(*inner), msg);
    }
}

TEST(SignalPadding, UnpadsTheVectorsPlaintexts)
{
    // The Message protobufs inside: field 1 (conversation) with the text.
    auto conversation = [](std::string_view text) {
        Bytes m{0x0a, static_cast<std::uint8_t>(text.size())};
        m.insert(m.end(), text.begin(), text.end());
        return m;
    };
    for (const char* section : {"signal_1to1", "sender_keys"}) {
        for (const auto& m : vector_section(section)["messages"].GetArray()) {
            Bytes padded = vector_hex(m, "padded_plaintext");
            Result<ByteView> inner = unpad_message(padded);
            ASSERT_TRUE(inner.ok()) << inner.error().detail;
            EXPECT_EQ(view_bytes(*inner), conversation(test::vector_string(m, "text")));
        }
    }
}

TEST(SignalPadding, UnpadTakesTheWholeInputAsPadding)
{
    Result<ByteView> inner = unpad_message(b({3, 3, 3}));
    ASSERT_TRUE(inner.ok());
    EXPECT_TRUE(inner->empty());
}

TEST(SignalPadding, UnpadAcceptsLongPadding)
{
    Bytes padded(40, 0x01);
    padded.insert(padded.end(), 20, 20);
    Result<ByteView> inner = unpad_message(padded);
    ASSERT_TRUE(inner.ok());
    EXPECT_EQ(inner->size(), 40u);
}

TEST(SignalPadding, UnpadRejectsBadPadding)
{
    Result<ByteView> empty = unpad_message({});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, Errc::truncated);

    struct Case {
        Bytes padded;
        const char* why;
    };
    for (const Case& c :
         {Case{b({0x0a, 0x00}), "pad length 0"}, Case{b({4, 4, 4}), "longer than the input"},
          Case{b({0x0a, 0x01, 2, 3, 3}), "a pad byte differs"},
          Case{b({0x0a, 9, 3, 3}), "the first pad byte differs"},
          Case{b({0xff}), "one byte claiming 255"}}) {
        Result<ByteView> inner = unpad_message(c.padded);
        ASSERT_FALSE(inner.ok()) << c.why;
        EXPECT_EQ(inner.error().code, Errc::malformed) << c.why;
    }
}

}  // namespace
}  // namespace chatwoot::wa::signal
