// The send API's worker side (include/chatwoot_send.h): the token, the
// Authorization header, idempotency keys, the POST body, the table the
// helper publishes and the JSON answers.  Everything here runs in a worker
// on a request's behalf: bounded, never throws across the C ABI, never
// quotes a token, a key or a text in a reason.

#include "chatwoot_send.h"

#include "snapshot.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

static_assert(sizeof(cw_send_slot_t) % sizeof(uint64_t) == 0, "a slot must be whole words");
static_assert(sizeof(cw_send_key_t) % sizeof(uint64_t) == 0);
static_assert(CW_SEND_ID_SIZE >= CW_COMMAND_ID_SIZE);
static_assert(CW_SEND_SCOPED_KEY_MAX == CW_COMMAND_KEY_MAX);
static_assert(sizeof(cw_send_table_t) % sizeof(uint64_t) == 0);

constexpr size_t kSlotWords = sizeof(cw_send_slot_t) / sizeof(uint64_t);

void set_reason(char* reason, std::string_view why) noexcept
{
    if (reason != nullptr) {
        chatwoot::ipc::copy_text(reason, CW_COMMAND_REASON_SIZE, why);
    }
}

// Fixed-length digests: comparing them takes the same time whatever the
// token's length or where it differs.
std::array<unsigned char, SHA256_DIGEST_LENGTH> digest(std::string_view domain,
                                                       std::string_view v) noexcept
{
    std::array<unsigned char, SHA256_DIGEST_LENGTH> d{};
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                      &EVP_MD_CTX_free);
    // Out of memory: all zeros, which cw_send_authorized refuses.
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1
        || EVP_DigestUpdate(ctx.get(), domain.data(), domain.size()) != 1
        || EVP_DigestUpdate(ctx.get(), v.data(), v.size()) != 1
        || EVP_DigestFinal_ex(ctx.get(), d.data(), nullptr) != 1) {
        d.fill(0);
    }
    return d;
}

bool digits(std::string_view s)
{
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

// "+<country code><number>": E.164 allows 15 digits; fewer than 7 is no
// subscriber number anywhere.
bool phone_ok(std::string_view s)
{
    return s.size() >= 8 && s.size() <= 16 && s[0] == '+' && digits(s.substr(1))
           && s[1] != '0';
}

// A chat JID an application may name: a person by phone number or LID, or
// a group; never a device of one (":<n>"), which is no chat.
bool jid_ok(std::string_view s)
{
    const size_t at = s.find('@');
    if (at == std::string_view::npos || at == 0) {
        return false;
    }
    const std::string_view user = s.substr(0, at);
    const std::string_view server = s.substr(at + 1);
    if (server == "s.whatsapp.net") {
        return user.size() >= 7 && user.size() <= 20 && digits(user) && user[0] != '0';
    }
    if (server == "lid") {
        return user.size() <= 32 && digits(user);
    }
    if (server == "g.us") {
        const size_t dash = user.find('-');
        if (dash == std::string_view::npos) {
            return user.size() <= 32 && digits(user);
        }
        return dash <= 20 && digits(user.substr(0, dash)) && digits(user.substr(dash + 1))
               && user.size() <= 40;
    }
    return false;
}

uint64_t fnv1a(std::string_view s) noexcept
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h == 0 ? 1 : h;
}

// A 32-hex-digit id: its epoch and sequence number.
bool parse_id(std::string_view id, uint64_t* epoch, uint64_t* seq)
{
    if (id.size() != CW_COMMAND_ID_LEN) {
        return false;
    }
    uint64_t v[2] = {0, 0};
    for (size_t i = 0; i < CW_COMMAND_ID_LEN; i++) {
        const char c = id[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return false;
        }
        v[i / 16] = (v[i / 16] << 4) | d;
    }
    *epoch = v[0];
    *seq = v[1];
    return true;
}

void copy_slot(cw_send_slot_t* out, const cw_send_slot_t* in) noexcept
{
    const auto* words = reinterpret_cast<const uint64_t*>(in);
    for (size_t i = 0; i < kSlotWords; i++) {
        const uint64_t w = __atomic_load_n(&words[i], __ATOMIC_RELAXED);
        std::memcpy(reinterpret_cast<unsigned char*>(out) + i * sizeof w, &w, sizeof w);
    }
}

// A slot copied whole (its version even and unchanged across the copy),
// strings cut to their arrays.  False when the helper kept writing it.
bool read_slot(const cw_send_slot_t* slot, cw_send_slot_t* out) noexcept
{
    for (int attempt = 0; attempt < 16; attempt++) {
        const uint64_t v1 = __atomic_load_n(&slot->version, __ATOMIC_ACQUIRE);
        if (v1 & 1) {
            continue;
        }
        copy_slot(out, slot);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (__atomic_load_n(&slot->version, __ATOMIC_RELAXED) == v1) {
            out->id[sizeof out->id - 1] = '\0';
            out->wa_id[sizeof out->wa_id - 1] = '\0';
            out->reason[sizeof out->reason - 1] = '\0';
            return true;
        }
    }
    return false;
}

template <typename F>
size_t render(char* buf, size_t size, F&& write) noexcept
{
    try {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        write(w);
        if (sb.GetSize() > size) {
            return 0;
        }
        std::memcpy(buf, sb.GetString(), sb.GetSize());
        return sb.GetSize();
    } catch (...) {
        return 0;
    }
}

// Reads the POST body; nullptr when fine, else the reason.
const char* parse_body(std::string_view body, std::string& to, std::string& text,
                       std::string& why)
{
    if (body.empty()) {
        return "empty body";
    }
    rapidjson::Document doc;
    // Iterative: a body of nested brackets must not run down the worker's
    // stack.  Without kParseStopWhenDoneFlag: anything but white space
    // after the object is an error of its own (the root is not singular).
    constexpr unsigned kFlags =
        rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    doc.Parse<kFlags>(body.data(), body.size());
    if (doc.HasParseError()) {
        why = std::string("malformed JSON at offset ") + std::to_string(doc.GetErrorOffset())
              + ": " + rapidjson::GetParseError_En(doc.GetParseError());
        return why.c_str();
    }
    if (!doc.IsObject()) {
        return "the body must be a JSON object";
    }
    bool have_to = false, have_text = false, have_attachments = false;
    for (const auto& m : doc.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        bool* seen = nullptr;
        if (name == "to") {
            seen = &have_to;
        } else if (name == "text") {
            seen = &have_text;
        } else if (name == "attachments") {
            seen = &have_attachments;
        } else {
            // The name is the client's own bytes: quoted only when short
            // and plain, so the reason stays a line an operator can read.
            bool plain = name.size() <= 32;
            for (char c : name) {
                plain = plain && c > 0x20 && c < 0x7f && c != '"' && c != '\\';
            }
            why = plain ? "unknown field \"" + std::string(name) + "\"" : "unknown field";
            return why.c_str();
        }
        if (*seen) {
            why = "field \"" + std::string(name) + "\" appears twice";
            return why.c_str();
        }
        *seen = true;
    }
    if (!have_to) {
        return "missing field \"to\"";
    }
    const auto& t = doc["to"];
    if (!t.IsString()) {
        return "field \"to\" is not a string";
    }
    const std::string_view tv(t.GetString(), t.GetStringLength());
    if (phone_ok(tv)) {
        to = std::string(tv.substr(1)) + "@s.whatsapp.net";
    } else if (jid_ok(tv)) {
        to = std::string(tv);
    } else {
        return "field \"to\" is neither a phone number (+<country code><number>, digits "
               "only) nor a chat JID (<number>@s.whatsapp.net, <lid>@lid, <id>@g.us)";
    }
    if (!have_text) {
        return "missing field \"text\"";
    }
    const auto& x = doc["text"];
    if (!x.IsString()) {
        return "field \"text\" is not a string";
    }
    const std::string_view xv(x.GetString(), x.GetStringLength());
    bool blank = true;
    for (char c : xv) {
        blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    }
    if (blank) {
        return "field \"text\" is empty";
    }
    if (xv.size() > CW_COMMAND_TEXT_MAX) {
        why = "field \"text\" is longer than " + std::to_string(CW_COMMAND_TEXT_MAX) + " bytes";
        return why.c_str();
    }
    if (std::memchr(xv.data(), '\0', xv.size()) != nullptr) {
        return "field \"text\" holds a NUL character";
    }
    if (have_attachments) {
        const auto& a = doc["attachments"];
        if (!a.IsArray()) {
            return "field \"attachments\" is not an array";
        }
        if (!a.Empty()) {
            return "field \"attachments\": attachments are not supported by this build; "
                   "send text only";
        }
    }
    text.assign(xv);
    return nullptr;
}

}  // namespace

extern "C" {

int cw_send_token_parse(const char* data, size_t len, cw_str_t* token,
                        char reason[CW_COMMAND_REASON_SIZE]) noexcept
{
    if (len > 0 && data[len - 1] == '\n') {
        len--;
        if (len > 0 && data[len - 1] == '\r') {
            len--;
        }
    }
    if (len == 0) {
        set_reason(reason, "the token file is empty");
        return 0;
    }
    if (len > CW_SEND_TOKEN_MAX) {
        set_reason(reason, "the token is longer than 4096 bytes");
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        const auto c = static_cast<unsigned char>(data[i]);
        if (c <= 0x20 || c == 0x7f) {
            set_reason(reason, "the token holds white space or a control character "
                               "(one line, one trailing newline at most)");
            return 0;
        }
    }
    token->data = data;
    token->len = len;
    return 1;
}

int cw_send_authorized(const char* header, size_t len, const char* token,
                       size_t token_len) noexcept
{
    static constexpr std::string_view kScheme = "bearer ";
    if (header == nullptr || len <= kScheme.size()) {
        return 0;
    }
    for (size_t i = 0; i < kScheme.size(); i++) {
        char c = header[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != kScheme[i]) {
            return 0;
        }
    }
    std::string_view given(header + kScheme.size(), len - kScheme.size());
    while (!given.empty() && given.front() == ' ') {
        given.remove_prefix(1);
    }
    while (!given.empty() && given.back() == ' ') {
        given.remove_suffix(1);
    }
    const auto a = digest("chatwoot send token\n", given);
    const auto b = digest("chatwoot send token\n", std::string_view(token, token_len));
    static constexpr std::array<unsigned char, SHA256_DIGEST_LENGTH> kFailed{};
    if (CRYPTO_memcmp(a.data(), kFailed.data(), a.size()) == 0) {
        return 0;   // no digest: no way to tell, so no entry
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0 ? 1 : 0;
}

void cw_send_scope(const char* token, size_t len, char scope[CW_SEND_SCOPE_LEN + 1]) noexcept
{
    static constexpr char kHex[] = "0123456789abcdef";
    const auto d = digest("chatwoot send key scope\n", std::string_view(token, len));
    for (size_t i = 0; i < CW_SEND_SCOPE_LEN / 2; i++) {
        scope[2 * i] = kHex[d[i] >> 4];
        scope[2 * i + 1] = kHex[d[i] & 0xf];
    }
    scope[CW_SEND_SCOPE_LEN] = '\0';
}

int cw_send_key_valid(const char* key, size_t len, char reason[CW_COMMAND_REASON_SIZE]) noexcept
{
    if (len == 0) {
        set_reason(reason, "Idempotency-Key is empty");
        return 0;
    }
    if (len > CW_SEND_KEY_MAX) {
        set_reason(reason, "Idempotency-Key is longer than 128 bytes");
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        const auto c = static_cast<unsigned char>(key[i]);
        if (c < 0x20 || c > 0x7e) {
            set_reason(reason, "Idempotency-Key holds a character that is not printable ASCII");
            return 0;
        }
    }
    return 1;
}

int cw_send_parse(const char* body, size_t len, char to[CW_COMMAND_TO_MAX + 1], char* text_buf,
                  size_t text_cap, size_t* text_len, char reason[CW_COMMAND_REASON_SIZE]) noexcept
{
    try {
        std::string t, x, why;
        if (const char* bad = parse_body(std::string_view(body, len), t, x, why)) {
            set_reason(reason, bad);
            return 0;
        }
        if (t.size() > CW_COMMAND_TO_MAX || x.size() > text_cap) {
            set_reason(reason, "body too large");
            return 0;
        }
        std::memcpy(to, t.data(), t.size());
        to[t.size()] = '\0';
        std::memcpy(text_buf, x.data(), x.size());
        *text_len = x.size();
        return 1;
    } catch (...) {
        set_reason(reason, "out of memory reading the body");
        return 0;
    }
}

cw_send_lookup_t cw_send_lookup(const cw_send_table_t* table, const char* id, size_t len,
                                uint64_t ring_epoch, uint64_t next_seq,
                                cw_send_slot_t* out) noexcept
{
    uint64_t epoch = 0, seq = 0;
    if (!parse_id(std::string_view(id, len), &epoch, &seq)) {
        return CW_SEND_UNKNOWN;
    }
    const std::string_view want(id, len);
    for (size_t i = 0; i < CW_SEND_SLOTS; i++) {
        // The id's first bytes without the slot's lock: most slots differ
        // there, and a slot whose id matches is then copied whole.
        if (__atomic_load_n(reinterpret_cast<const uint64_t*>(table->slot[i].id),
                            __ATOMIC_RELAXED)
            != [&] {
                   uint64_t w;
                   std::memcpy(&w, id, sizeof w);
                   return w;
               }()) {
            continue;
        }
        if (read_slot(&table->slot[i], out) && want == out->id) {
            return CW_SEND_FOUND;
        }
    }
    const uint64_t taken_epoch = __atomic_load_n(&table->taken_epoch, __ATOMIC_ACQUIRE);
    const uint64_t taken_seq = __atomic_load_n(&table->taken_seq, __ATOMIC_ACQUIRE);
    if (epoch == ring_epoch && seq < next_seq && (taken_epoch != epoch || seq > taken_seq)) {
        return CW_SEND_NOT_TAKEN;
    }
    return CW_SEND_UNKNOWN;
}

void cw_send_publish(cw_send_table_t* table, size_t index, const cw_send_slot_t* slot) noexcept
{
    cw_send_slot_t* s = &table->slot[index % CW_SEND_SLOTS];
    uint64_t v = __atomic_load_n(&s->version, __ATOMIC_RELAXED);
    v = (v | 1) == v ? v : v + 1;   // odd: being written (a dead writer left it odd)
    __atomic_store_n(&s->version, v, __ATOMIC_RELAXED);
    std::atomic_thread_fence(std::memory_order_release);
    auto* words = reinterpret_cast<uint64_t*>(s);
    for (size_t i = 1; i < kSlotWords; i++) {   // word 0 is the version
        uint64_t w;
        std::memcpy(&w, reinterpret_cast<const unsigned char*>(slot) + i * sizeof w, sizeof w);
        __atomic_store_n(&words[i], w, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&s->version, v + 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&table->published, 1, __ATOMIC_RELAXED);
}

void cw_send_taken(cw_send_table_t* table, uint64_t epoch, uint64_t seq) noexcept
{
    const uint64_t e = __atomic_load_n(&table->taken_epoch, __ATOMIC_RELAXED);
    if (e == epoch && __atomic_load_n(&table->taken_seq, __ATOMIC_RELAXED) >= seq) {
        return;
    }
    // A reader seeing the new epoch with the old seq only says "queued" of
    // an id the table holds already, and looks there first anyway.
    __atomic_store_n(&table->taken_seq, seq, __ATOMIC_RELEASE);
    __atomic_store_n(&table->taken_epoch, epoch, __ATOMIC_RELEASE);
}

int cw_send_keys_find(const cw_send_keys_t* keys, const char* scoped_key, size_t len,
                      uint64_t now, char id[CW_COMMAND_ID_SIZE]) noexcept
{
    const std::string_view k(scoped_key, len);
    const uint64_t h = fnv1a(k);
    for (const cw_send_key_t& s : keys->slot) {
        if (s.created_at == 0 || s.hash != h || s.created_at + CW_SEND_KEY_TTL <= now) {
            continue;
        }
        if (std::string_view(s.scoped_key, strnlen(s.scoped_key, sizeof s.scoped_key)) != k) {
            continue;
        }
        const size_t n = strnlen(s.id, sizeof s.id);
        if (n != CW_COMMAND_ID_LEN) {
            continue;
        }
        std::memcpy(id, s.id, n);
        id[n] = '\0';
        return 1;
    }
    return 0;
}

void cw_send_keys_put(cw_send_keys_t* keys, const char* scoped_key, size_t len, const char* id,
                      uint64_t now) noexcept
{
    if (len >= sizeof(cw_send_key_t::scoped_key)) {
        return;
    }
    cw_send_key_t& s = keys->slot[keys->next % CW_SEND_KEY_SLOTS];
    keys->next = (keys->next + 1) % CW_SEND_KEY_SLOTS;
    std::memset(&s, 0, sizeof s);
    std::memcpy(s.scoped_key, scoped_key, len);
    chatwoot::ipc::copy_text(s.id, sizeof s.id, id);
    s.hash = fnv1a(std::string_view(scoped_key, len));
    s.created_at = now == 0 ? 1 : now;
}

size_t cw_send_render_accepted(const char* id, char* buf, size_t size) noexcept
{
    return render(buf, size, [&](auto& w) {
        w.StartObject();
        w.Key("id");
        w.String(id);
        w.EndObject();
    });
}

size_t cw_send_render_slot(const cw_send_slot_t* slot, char* buf, size_t size) noexcept
{
    return render(buf, size, [&](auto& w) {
        w.StartObject();
        w.Key("id");
        w.String(slot->id);
        w.Key("state");
        w.String(cw_send_state_name(slot->state));
        if (slot->wa_id[0] != '\0') {
            w.Key("wa_id");
            w.String(slot->wa_id);
        }
        if (slot->state == CW_SEND_FAILED && slot->reason[0] != '\0') {
            w.Key("reason");
            w.String(slot->reason);
        }
        if (slot->chatwoot_message_id != 0) {
            w.Key("chatwoot_message_id");
            w.Uint64(slot->chatwoot_message_id);
        }
        w.Key("created_at");
        w.Uint64(slot->created_at);
        w.Key("updated_at");
        w.Uint64(slot->updated_at);
        w.EndObject();
    });
}

size_t cw_send_render_queued(const char* id, size_t len, char* buf, size_t size) noexcept
{
    return render(buf, size, [&](auto& w) {
        w.StartObject();
        w.Key("id");
        w.String(id, static_cast<rapidjson::SizeType>(len));
        w.Key("state");
        w.String("queued");
        w.EndObject();
    });
}

const char* cw_send_state_name(uint64_t state) noexcept
{
    switch (state) {
    case CW_SEND_QUEUED:
        return "queued";
    case CW_SEND_SENT:
        return "sent";
    case CW_SEND_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

}  // extern "C"
