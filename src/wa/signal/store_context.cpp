#include "wa/signal/store_context.hpp"

#include <signal_protocol.h>

#include <algorithm>
#include <climits>
#include <new>
#include <string>

#include "wa/crypto/curve_signature.hpp"
#include "wa/signal/c_views.hpp"
#include "wa/signal/signal_ref.hpp"

namespace chatwoot::wa::signal {

struct StoreContext::State {
    ProtocolStore* store = nullptr;
    std::optional<Error> error;
    Owned<signal_protocol_store_context, signal_protocol_store_context_destroy> context;

    // Keeps the first failure: later ones are usually its consequences.
    int fail(Error e)
    {
        if (!error) error = std::move(e);
        return SG_ERR_UNKNOWN;
    }

    // Runs one callback body: no exception may unwind through libsignal.
    template <class F>
    static int guarded(void* user_data, F&& body) noexcept
    {
        auto* self = static_cast<State*>(user_data);
        try {
            return body(*self, *self->store);
        } catch (const std::bad_alloc&) {
            return SG_ERR_NOMEM;
        } catch (const std::exception& e) {
            return self->fail(
                make_error(Errc::crypto_failure, std::string("protocol store threw: ") + e.what()));
        } catch (...) {
            return self->fail(make_error(Errc::crypto_failure, "protocol store threw"));
        }
    }

    // Hands a loaded record to libsignal, which frees it.
    static int give(signal_buffer** out, ByteView bytes)
    {
        SignalBuffer buffer = make_buffer(bytes);
        if (!buffer) return SG_ERR_NOMEM;
        *out = buffer.release();
        return 0;
    }

    // -- sessions --------------------------------------------------------

    static int load_session(signal_buffer** record, signal_buffer**,
                            const signal_protocol_address* address, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<std::optional<Bytes>> r = store.load_session(from_c(*address));
            if (!r) return self.fail(r.error());
            if (!*r) return 0;
            int rc = give(record, **r);
            return rc < 0 ? rc : 1;
        });
    }

    static int session_devices(signal_int_list** sessions, const char* name, size_t name_len,
                               void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<std::vector<std::uint32_t>> r =
                store.session_devices(std::string_view(name, name_len));
            if (!r) return self.fail(r.error());
            Owned<signal_int_list, signal_int_list_free> list(signal_int_list_alloc());
            if (!list) return SG_ERR_NOMEM;
            for (std::uint32_t device : *r) {
                if (device > INT_MAX) continue;  // libsignal's ids are ints
                if (signal_int_list_push_back(list.get(), static_cast<int>(device)) < 0)
                    return SG_ERR_NOMEM;
            }
            int n = static_cast<int>(signal_int_list_size(list.get()));
            *sessions = list.release();
            return n;
        });
    }

    static int store_session(const signal_protocol_address* address, uint8_t* record,
                             size_t record_len, uint8_t*, size_t, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.store_session(from_c(*address), ByteView(record, record_len));
            return s ? 0 : self.fail(s.error());
        });
    }

    static int contains_session(const signal_protocol_address* address, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<bool> r = store.contains_session(from_c(*address));
            if (!r) return self.fail(r.error());
            return *r ? 1 : 0;
        });
    }

    static int delete_session(const signal_protocol_address* address, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<bool> r = store.delete_session(from_c(*address));
            if (!r) return self.fail(r.error());
            return *r ? 1 : 0;
        });
    }

    static int delete_all_sessions(const char* name, size_t name_len, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<std::size_t> r = store.delete_all_sessions(std::string_view(name, name_len));
            if (!r) return self.fail(r.error());
            return static_cast<int>(std::min<std::size_t>(*r, INT_MAX));
        });
    }

    // -- pre-keys and signed pre-keys ------------------------------------

    // libsignal's contract for both key stores: SG_SUCCESS with the record,
    // SG_ERR_INVALID_KEY_ID when there is none.
    static int load_key(State& self, Result<std::optional<Bytes>> r, signal_buffer** record)
    {
        if (!r) return self.fail(r.error());
        if (!*r) return SG_ERR_INVALID_KEY_ID;
        return give(record, **r);
    }

    static int load_pre_key(signal_buffer** record, uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            return load_key(self, store.load_pre_key(id), record);
        });
    }

    static int store_pre_key(uint32_t id, uint8_t* record, size_t record_len, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.store_pre_key(id, ByteView(record, record_len));
            return s ? 0 : self.fail(s.error());
        });
    }

    static int contains_pre_key(uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<bool> r = store.contains_pre_key(id);
            if (!r) return self.fail(r.error());
            return *r ? 1 : 0;
        });
    }

    static int remove_pre_key(uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.remove_pre_key(id);
            return s ? 0 : self.fail(s.error());
        });
    }

    static int load_signed_pre_key(signal_buffer** record, uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            return load_key(self, store.load_signed_pre_key(id), record);
        });
    }

    static int store_signed_pre_key(uint32_t id, uint8_t* record, size_t record_len,
                                    void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.store_signed_pre_key(id, ByteView(record, record_len));
            return s ? 0 : self.fail(s.error());
        });
    }

    static int contains_signed_pre_key(uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<bool> r = store.contains_signed_pre_key(id);
            if (!r) return self.fail(r.error());
            return *r ? 1 : 0;
        });
    }

    static int remove_signed_pre_key(uint32_t id, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.remove_signed_pre_key(id);
            return s ? 0 : self.fail(s.error());
        });
    }

    // -- identity --------------------------------------------------------

    static int identity_key_pair(signal_buffer** public_data, signal_buffer** private_data,
                                 void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<LocalIdentity> r = store.local_identity();
            if (!r) return self.fail(r.error());
            // libsignal's serialized public key carries the type byte.
            Bytes typed = concat({ByteView(&crypto::djb_key_type, 1), r->key_pair.public_key});
            SignalBuffer pub = make_buffer(typed);
            SignalBuffer priv = make_buffer(r->key_pair.private_key);
            if (!pub || !priv) return SG_ERR_NOMEM;
            *public_data = pub.release();
            *private_data = priv.release();
            return 0;
        });
    }

    static int registration_id(void* user_data, uint32_t* id)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<LocalIdentity> r = store.local_identity();
            if (!r) return self.fail(r.error());
            *id = r->registration_id;
            return 0;
        });
    }

    static int save_identity(const signal_protocol_address* address, uint8_t* key_data,
                             size_t key_len, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            std::optional<crypto::Key32> key;
            if (key_data) {
                if (key_len != 33 || key_data[0] != crypto::djb_key_type)
                    return self.fail(
                        make_error(Errc::malformed, "identity key of " + std::to_string(key_len) +
                                                        " bytes, want 33 with type 0x05"));
                key.emplace();
                std::copy_n(key_data + 1, 32, key->begin());
            }
            Status s = store.save_identity(from_c(*address), key);
            return s ? 0 : self.fail(s.error());
        });
    }

    // WhatsApp trusts whatever identity a peer presents; save_identity
    // records it, and a change is the application's to report.
    static int is_trusted_identity(const signal_protocol_address*, uint8_t*, size_t, void*)
    {
        return 1;
    }

    // -- sender keys -----------------------------------------------------

    static int store_sender_key(const signal_protocol_sender_key_name* name, uint8_t* record,
                                size_t record_len, uint8_t*, size_t, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Status s = store.store_sender_key(from_c(*name), ByteView(record, record_len));
            return s ? 0 : self.fail(s.error());
        });
    }

    static int load_sender_key(signal_buffer** record, signal_buffer**,
                               const signal_protocol_sender_key_name* name, void* user_data)
    {
        return guarded(user_data, [&](State& self, ProtocolStore& store) {
            Result<std::optional<Bytes>> r = store.load_sender_key(from_c(*name));
            if (!r) return self.fail(r.error());
            if (!*r) return 0;
            int rc = give(record, **r);
            return rc < 0 ? rc : 1;
        });
    }
};

Result<StoreContext> StoreContext::create(const crypto::SignalContext& context,
                                          ProtocolStore& store)
{
    if (!context.get()) return make_error(Errc::wrong_state, "no signal context");
    auto state = std::make_unique<State>();
    state->store = &store;

    signal_protocol_store_context* raw = nullptr;
    if (signal_protocol_store_context_create(&raw, context.get()) != 0 || !raw)
        return make_error(Errc::crypto_failure, "signal_protocol_store_context_create");
    state->context.reset(raw);
    void* user_data = state.get();

    // Nothing to destroy: the store is borrowed, the state is ours.
    signal_protocol_session_store sessions{};
    sessions.load_session_func = &State::load_session;
    sessions.get_sub_device_sessions_func = &State::session_devices;
    sessions.store_session_func = &State::store_session;
    sessions.contains_session_func = &State::contains_session;
    sessions.delete_session_func = &State::delete_session;
    sessions.delete_all_sessions_func = &State::delete_all_sessions;
    sessions.user_data = user_data;

    signal_protocol_pre_key_store pre_keys{};
    pre_keys.load_pre_key = &State::load_pre_key;
    pre_keys.store_pre_key = &State::store_pre_key;
    pre_keys.contains_pre_key = &State::contains_pre_key;
    pre_keys.remove_pre_key = &State::remove_pre_key;
    pre_keys.user_data = user_data;

    signal_protocol_signed_pre_key_store signed_pre_keys{};
    signed_pre_keys.load_signed_pre_key = &State::load_signed_pre_key;
    signed_pre_keys.store_signed_pre_key = &State::store_signed_pre_key;
    signed_pre_keys.contains_signed_pre_key = &State::contains_signed_pre_key;
    signed_pre_keys.remove_signed_pre_key = &State::remove_signed_pre_key;
    signed_pre_keys.user_data = user_data;

    signal_protocol_identity_key_store identity{};
    identity.get_identity_key_pair = &State::identity_key_pair;
    identity.get_local_registration_id = &State::registration_id;
    identity.save_identity = &State::save_identity;
    identity.is_trusted_identity = &State::is_trusted_identity;
    identity.user_data = user_data;

    signal_protocol_sender_key_store sender_keys{};
    sender_keys.store_sender_key = &State::store_sender_key;
    sender_keys.load_sender_key = &State::load_sender_key;
    sender_keys.user_data = user_data;

    if (signal_protocol_store_context_set_session_store(raw, &sessions) != 0 ||
        signal_protocol_store_context_set_pre_key_store(raw, &pre_keys) != 0 ||
        signal_protocol_store_context_set_signed_pre_key_store(raw, &signed_pre_keys) != 0 ||
        signal_protocol_store_context_set_identity_key_store(raw, &identity) != 0 ||
        signal_protocol_store_context_set_sender_key_store(raw, &sender_keys) != 0)
        return make_error(Errc::crypto_failure, "signal_protocol_store_context_set_*");
    return StoreContext(std::move(state));
}

StoreContext::StoreContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
StoreContext::~StoreContext() = default;
StoreContext::StoreContext(StoreContext&&) noexcept = default;
StoreContext& StoreContext::operator=(StoreContext&&) noexcept = default;

signal_protocol_store_context* StoreContext::get() const noexcept
{
    return state_ ? state_->context.get() : nullptr;
}

ProtocolStore& StoreContext::store() const noexcept
{
    return *state_->store;
}

std::optional<Error> StoreContext::take_error()
{
    if (!state_) return std::nullopt;
    std::optional<Error> e = std::move(state_->error);
    state_->error.reset();
    return e;
}

}  // namespace chatwoot::wa::signal
