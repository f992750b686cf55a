#include "wa/signal/prekey_bundle.hpp"

#include <session_builder.h>
#include <session_pre_key.h>

#include "wa/crypto/curve_signature.hpp"
#include "wa/signal/c_views.hpp"
#include "wa/signal/curve_keys.hpp"
#include "wa/signal/protocol_context.hpp"

namespace chatwoot::wa::signal {

Status process_prekey_bundle(ProtocolContext& context, const Address& address,
                             const PreKeyBundle& bundle)
{
    Status ok = check_address(address);
    if (!ok) return ok;

    // libsignal checks this too, but names a bad signature and a bad key
    // alike (SG_ERR_INVALID_KEY); checking first says which.
    const SignedPreKeyPublic& spk = bundle.signed_pre_key;
    Bytes signed_message = concat({ByteView(&crypto::djb_key_type, 1), spk.public_key});
    Status verified = crypto::curve_verify(bundle.identity_key, signed_message, spk.signature);
    if (!verified)
        return make_error(verified.error().code, "bundle of " + to_string(address) +
                                                     ": signed pre-key " + std::to_string(spk.id) +
                                                     ": " + verified.error().detail);

    Result<SignalRef<ec_public_key>> identity = ec_public_of(bundle.identity_key);
    if (!identity) return identity.error();
    Result<SignalRef<ec_public_key>> signed_key = ec_public_of(spk.public_key);
    if (!signed_key) return signed_key.error();
    SignalRef<ec_public_key> one_time;
    if (bundle.pre_key) {
        Result<SignalRef<ec_public_key>> key = ec_public_of(bundle.pre_key->public_key);
        if (!key) return key.error();
        one_time = std::move(*key);
    }

    session_pre_key_bundle* raw_bundle = nullptr;
    int rc = session_pre_key_bundle_create(
        &raw_bundle, bundle.registration_id, static_cast<int>(address.device_id),
        bundle.pre_key ? bundle.pre_key->id : 0, one_time.get(), spk.id, signed_key->get(),
        spk.signature.data(), spk.signature.size(), identity->get());
    SignalRef<session_pre_key_bundle> c_bundle(raw_bundle);
    if (rc < 0 || !c_bundle)
        return make_error(Errc::crypto_failure, "session_pre_key_bundle_create");

    // The builder keeps a pointer to the address: it lives in this frame.
    signal_protocol_address c = c_address(address);
    session_builder* raw_builder = nullptr;
    rc = session_builder_create(&raw_builder, context.store_context(), &c, context.signal());
    Owned<session_builder, session_builder_free> builder(raw_builder);
    if (rc < 0 || !builder) return make_error(Errc::crypto_failure, "session_builder_create");

    context.begin();
    rc = session_builder_process_pre_key_bundle(builder.get(), c_bundle.get());
    if (rc < 0) return context.failure(rc, "pre-key bundle of " + to_string(address));
    return Done{};
}

}  // namespace chatwoot::wa::signal
