// Digests and HMAC against published answers (FIPS 180, RFC 1321, RFC 4231).
#include <gtest/gtest.h>

#include "wa/bytes.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"

namespace chatwoot::wa::crypto {
namespace {

TEST(CryptoHash, Sha256Abc)
{
    EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_hex(sha256({})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoHash, Sha256IncrementalEqualsOneShot)
{
    Sha256 h;
    h.update(as_bytes("a"));
    h.update({});
    h.update(as_bytes("bc"));
    EXPECT_EQ(h.finish(), sha256(as_bytes("abc")));
}

TEST(CryptoHash, Sha512Abc)
{
    EXPECT_EQ(to_hex(sha512(as_bytes("abc"))),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(CryptoHash, Md5Abc)
{
    EXPECT_EQ(to_hex(md5(as_bytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(CryptoHmac, Rfc4231Case2)
{
    EXPECT_EQ(to_hex(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoHmac, Rfc4231Case6LongKeyIsHashedFirst)
{
    Bytes key(131, 0xaa);
    EXPECT_EQ(to_hex(hmac_sha256(
                  key, as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(CryptoHmac, IncrementalEqualsOneShot)
{
    HmacSha256 mac(as_bytes("Jefe"));
    mac.update(as_bytes("what do ya "));
    mac.update(as_bytes("want for nothing?"));
    EXPECT_EQ(mac.finish(),
              hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?")));
}

TEST(CryptoHmac, EmptyKeyWorks)
{
    // HMAC with an empty key is what HKDF's extract does with no salt.
    EXPECT_EQ(to_hex(hmac_sha256({}, {})),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(CryptoHmac, EqualMacComparesLengthAndBytes)
{
    Bytes a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4}, d{1, 2};
    EXPECT_TRUE(equal_mac(a, b));
    EXPECT_FALSE(equal_mac(a, c));
    EXPECT_FALSE(equal_mac(a, d));
}

}  // namespace
}  // namespace chatwoot::wa::crypto
