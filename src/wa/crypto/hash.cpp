#include "wa/crypto/hash.hpp"

#include <openssl/evp.h>

#include "wa/crypto/openssl_util.hpp"

namespace chatwoot::wa::crypto {

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> one_shot(const EVP_MD* md, ByteView data, const char* name)
{
    std::array<std::uint8_t, N> out{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N)
        detail::openssl_fatal(name);
    return out;
}

detail::MdCtx start(const EVP_MD* md)
{
    detail::MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
        detail::openssl_fatal("EVP_DigestInit_ex");
    return ctx;
}

void feed(EVP_MD_CTX* ctx, ByteView data)
{
    if (EVP_DigestUpdate(ctx, data.data(), data.size()) != 1)
        detail::openssl_fatal("EVP_DigestUpdate");
}

template <std::size_t N>
std::array<std::uint8_t, N> end_and_restart(EVP_MD_CTX* ctx, const EVP_MD* md)
{
    std::array<std::uint8_t, N> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != N)
        detail::openssl_fatal("EVP_DigestFinal_ex");
    if (EVP_DigestInit_ex(ctx, md, nullptr) != 1) detail::openssl_fatal("EVP_DigestInit_ex");
    return out;
}

}  // namespace

Digest32 sha256(ByteView data)
{
    return one_shot<32>(EVP_sha256(), data, "EVP_Digest(SHA-256)");
}

Digest64 sha512(ByteView data)
{
    return one_shot<64>(EVP_sha512(), data, "EVP_Digest(SHA-512)");
}

Digest16 md5(ByteView data)
{
    return one_shot<16>(EVP_md5(), data, "EVP_Digest(MD5)");
}

struct Sha256::Impl {
    detail::MdCtx ctx = start(EVP_sha256());
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(ByteView data)
{
    feed(impl_->ctx.get(), data);
}

Digest32 Sha256::finish()
{
    return end_and_restart<32>(impl_->ctx.get(), EVP_sha256());
}

struct Sha512::Impl {
    detail::MdCtx ctx = start(EVP_sha512());
};

Sha512::Sha512() : impl_(std::make_unique<Impl>()) {}
Sha512::~Sha512() = default;
Sha512::Sha512(Sha512&&) noexcept = default;
Sha512& Sha512::operator=(Sha512&&) noexcept = default;

void Sha512::update(ByteView data)
{
    feed(impl_->ctx.get(), data);
}

Digest64 Sha512::finish()
{
    return end_and_restart<64>(impl_->ctx.get(), EVP_sha512());
}

}  // namespace chatwoot::wa::crypto
