#include "wa/crypto/signal_context.hpp"

#include <signal_protocol.h>

#include <new>
#include <optional>
#include <vector>

#include "wa/crypto/aes_detail.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/hmac.hpp"

namespace chatwoot::wa::crypto {

namespace {

struct ContextFree {
    void operator()(signal_context* p) const { signal_context_destroy(p); }
};

// The provider hands libsignal opaque pointers to our C++ objects.  They
// cross the C boundary as raw pointers released from (and later re-adopted
// by) a unique_ptr, and no exception may escape a callback.

int buffer_out(signal_buffer** output, ByteView data)
{
    signal_buffer* b = signal_buffer_create(data.data(), data.size());
    if (!b) return SG_ERR_NOMEM;
    *output = b;
    return 0;
}

// HMAC contexts libsignal is done with, kept for its next ones: it makes
// one per HKDF step and per message key (a group record derives every
// skipped key again on each load), and making and freeing OpenSSL's
// context each time was a sixth of a decryption.  Per thread, and few.
constexpr std::size_t kSpareHmacs = 8;
thread_local std::vector<std::unique_ptr<HmacSha256>> spare_hmacs;

int hmac_init(void** hmac_context, const uint8_t* key, size_t key_len, void*)
{
    try {
        const ByteView k(key, key_len);
        if (!spare_hmacs.empty()) {
            std::unique_ptr<HmacSha256> h = std::move(spare_hmacs.back());
            spare_hmacs.pop_back();
            h->rekey(k);
            *hmac_context = h.release();
            return 0;
        }
        *hmac_context = std::make_unique<HmacSha256>(k).release();
        return 0;
    } catch (const std::bad_alloc&) {
        return SG_ERR_NOMEM;
    }
}

int hmac_update(void* hmac_context, const uint8_t* data, size_t data_len, void*)
{
    static_cast<HmacSha256*>(hmac_context)->update(ByteView(data, data_len));
    return 0;
}

int hmac_final(void* hmac_context, signal_buffer** output, void*)
{
    Digest32 mac = static_cast<HmacSha256*>(hmac_context)->finish();
    return buffer_out(output, mac);
}

void hmac_cleanup(void* hmac_context, void*)
{
    std::unique_ptr<HmacSha256> owned(static_cast<HmacSha256*>(hmac_context));
    if (owned && spare_hmacs.size() < kSpareHmacs) {
        try {
            spare_hmacs.push_back(std::move(owned));
        } catch (...) {
            // No room: it is simply freed.
        }
    }
}

int sha512_init(void** digest_context, void*)
{
    try {
        *digest_context = std::make_unique<Sha512>().release();
        return 0;
    } catch (const std::bad_alloc&) {
        return SG_ERR_NOMEM;
    }
}

int sha512_update(void* digest_context, const uint8_t* data, size_t data_len, void*)
{
    static_cast<Sha512*>(digest_context)->update(ByteView(data, data_len));
    return 0;
}

int sha512_final(void* digest_context, signal_buffer** output, void*)
{
    // Sha512::finish starts over, which libsignal's fingerprint loop needs.
    Digest64 d = static_cast<Sha512*>(digest_context)->finish();
    return buffer_out(output, d);
}

void sha512_cleanup(void* digest_context, void*)
{
    std::unique_ptr<Sha512> owned(static_cast<Sha512*>(digest_context));
}

int aes(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
        const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len)
{
    detail::AesMode mode;
    if (cipher == SG_CIPHER_AES_CBC_PKCS5)
        mode = detail::AesMode::cbc_pkcs7;
    else if (cipher == SG_CIPHER_AES_CTR_NOPADDING)
        mode = detail::AesMode::ctr;
    else
        return SG_ERR_INVAL;
    try {
        Result<Bytes> out = detail::aes_any_key(mode, encrypt, ByteView(key, key_len),
                                                ByteView(iv, iv_len), ByteView(in, in_len));
        if (!out) return out.error().code == Errc::crypto_failure ? SG_ERR_UNKNOWN : SG_ERR_INVAL;
        return buffer_out(output, *out);
    } catch (const std::bad_alloc&) {
        return SG_ERR_NOMEM;
    }
}

int encrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
            const uint8_t* iv, size_t iv_len, const uint8_t* plaintext, size_t plaintext_len, void*)
{
    return aes(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
}

int decrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
            const uint8_t* iv, size_t iv_len, const uint8_t* ciphertext, size_t ciphertext_len,
            void*)
{
    return aes(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
}

}  // namespace

struct SignalContext::State {
    RandomSource random;
    LogFunction log;
    std::optional<Error> random_error;
    std::unique_ptr<signal_context, ContextFree> ctx;

    static int random_func(uint8_t* data, size_t len, void* user_data)
    {
        auto* self = static_cast<State*>(user_data);
        try {
            if (!self->random) {
                self->random_error = make_error(Errc::wrong_state, "no random source");
                return SG_ERR_UNKNOWN;
            }
            Status s = self->random(std::span<std::uint8_t>(data, len));
            if (!s) {
                self->random_error = s.error();
                return SG_ERR_UNKNOWN;
            }
            return 0;
        } catch (...) {
            return SG_ERR_UNKNOWN;
        }
    }

    static void log_func(int level, const char* message, size_t len, void* user_data)
    {
        auto* self = static_cast<State*>(user_data);
        if (!self->log) return;
        try {
            self->log(level, std::string_view(message, len));
        } catch (...) {
            // A logger that throws loses its line; libsignal must not unwind.
        }
    }
};

Result<SignalContext> SignalContext::create(RandomSource random)
{
    auto state = std::make_unique<State>();
    state->random = std::move(random);

    signal_context* raw = nullptr;
    if (signal_context_create(&raw, state.get()) != 0 || !raw)
        return make_error(Errc::crypto_failure, "signal_context_create");
    state->ctx.reset(raw);

    signal_crypto_provider provider{};
    provider.random_func = &State::random_func;
    provider.hmac_sha256_init_func = hmac_init;
    provider.hmac_sha256_update_func = hmac_update;
    provider.hmac_sha256_final_func = hmac_final;
    provider.hmac_sha256_cleanup_func = hmac_cleanup;
    provider.sha512_digest_init_func = sha512_init;
    provider.sha512_digest_update_func = sha512_update;
    provider.sha512_digest_final_func = sha512_final;
    provider.sha512_digest_cleanup_func = sha512_cleanup;
    provider.encrypt_func = encrypt;
    provider.decrypt_func = decrypt;
    provider.user_data = state.get();
    if (signal_context_set_crypto_provider(raw, &provider) != 0)
        return make_error(Errc::crypto_failure, "signal_context_set_crypto_provider");
    if (signal_context_set_log_function(raw, &State::log_func) != 0)
        return make_error(Errc::crypto_failure, "signal_context_set_log_function");
    return SignalContext(std::move(state));
}

SignalContext::SignalContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
SignalContext::~SignalContext() = default;
SignalContext::SignalContext(SignalContext&&) noexcept = default;
SignalContext& SignalContext::operator=(SignalContext&&) noexcept = default;

signal_context* SignalContext::get() const noexcept
{
    return state_ ? state_->ctx.get() : nullptr;
}

void SignalContext::set_log(LogFunction log)
{
    state_->log = std::move(log);
}

const Error* SignalContext::last_random_error() const noexcept
{
    return state_ && state_->random_error ? &*state_->random_error : nullptr;
}

}  // namespace chatwoot::wa::crypto
