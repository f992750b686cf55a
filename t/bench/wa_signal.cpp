// Signal decrypt + parse benchmark: messages per second as the receiving
// device, ours next to libsignal-node and Baileys' GroupCipher timed in the
// same run by t/mock/wa/bench-signal.mjs on the same streams.
//
// The receiver is the vectors' Bob (signal_1to1), imported into two stores:
//   - the real path: store::SignalStore on a SQLite file opened as the
//     helper opens it (Database::open: WAL, synchronous=FULL, its pragmas;
//     schema::migrate), one store::UnitOfWork per message around the
//     decryption and the parse, committed per message as the receive path
//     commits each message with its row (DESIGN.md section 3);
//   - the same with one commit per 32 messages, each message still in a
//     unit of its own inside it (a savepoint): group commit, what a burst
//     (offline messages after a reconnect) could take with receipts sent
//     after the batch's commit;
//   - wa::signal::MemoryProtocolStore, the library alone.
// A last line shows the SQLite rows with synchronous=NORMAL (no fsync at
// commit), not the helper's setting: it tells the fsync from the rest.
// Per message: decrypt_pkmsg / decrypt_msg (1:1) or group_decrypt after
// process_sender_key_distribution (group), unpad, parse proto::Message.
//
// Every round decrypts a whole stream with a fresh receiver: Bob's keys,
// no session, no sender key.  For SQLite that is a copy of a database file
// prepared once (Bob imported, then closed, so the copy is the whole
// state), opened anew; the copy and the open are outside the timing, as
// the reference's new in-memory store is.  Before anything is timed, every
// plaintext's SHA-256 and the parsed text and kind are checked against the
// reference's.  A benchmark, not a test: it prints the rates and ratios.
//
//   wa_signal_bench <bench-signal.json> [seconds per case] [directory for
//   the SQLite files (default: a new one under $TMPDIR or /tmp)]
//   [vectors.json]
#include "store/schema.hpp"
#include "store/signal_store.hpp"
#include "store/sqlite_handle.hpp"
#include "wa/crypto/hash.hpp"
#include "wa/crypto/x25519.hpp"
#include "wa/proto/message.pb.h"
#include "wa/signal/group_cipher.hpp"
#include "wa/signal/memory_protocol_store.hpp"
#include "wa/signal/padding.hpp"
#include "wa/signal/prekey_records.hpp"
#include "wa/signal/session_cipher.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::wa;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

// Messages per commit in the group-commit rows.
constexpr std::size_t kBatch = 32;

[[noreturn]] void die(const std::string& why)
{
    std::fprintf(stderr, "wa_signal_bench: %s\n", why.c_str());
    std::exit(1);
}

template <class T>
T need(Result<T> r, const std::string& what)
{
    if (!r) die(what + ": " + errc_name(r.error().code) + ": " + r.error().detail);
    return std::move(r).value();
}

void need(Status s, const std::string& what)
{
    if (!s) die(what + ": " + errc_name(s.error().code) + ": " + s.error().detail);
}

rapidjson::Document read_json(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str().c_str());
    if (doc.HasParseError() || !doc.IsObject()) die("bad JSON in " + path);
    return doc;
}

Bytes hex(const rapidjson::Value& v)
{
    if (!v.IsString()) die("a hex field is not a string");
    auto b = from_hex(std::string_view(v.GetString(), v.GetStringLength()));
    if (!b) die("bad hex in the reference file");
    return std::move(*b);
}

// One message of a stream and what it must decrypt and parse to.
struct Sealed {
    signal::MessageType type = signal::MessageType::msg;
    Bytes ciphertext;
    std::string plaintext_sha256;
    std::string kind;  // text, reply, reaction
    std::string text;
};

Sealed sealed(const rapidjson::Value& m)
{
    Sealed s;
    if (m.HasMember("type")) {
        s.type = std::string_view(m["type"].GetString()) == "pkmsg" ? signal::MessageType::pkmsg
                                                                    : signal::MessageType::msg;
    }
    s.ciphertext = hex(m["ciphertext"]);
    s.plaintext_sha256 = m["plaintext_sha256"].GetString();
    s.kind = m["kind"].GetString();
    s.text = m["text"].GetString();
    return s;
}

// What the receive path reads first from a Message: its kind and text.
bool parsed_matches(const proto::Message& m, const Sealed& want)
{
    if (m.has_conversation()) return want.kind == "text" && m.conversation() == want.text;
    if (m.has_extendedtextmessage()) {
        return want.kind == "reply" && m.extendedtextmessage().text() == want.text
               && m.extendedtextmessage().has_contextinfo()
               && m.extendedtextmessage().contextinfo().has_quotedmessage();
    }
    if (m.has_reactionmessage()) {
        return want.kind == "reaction" && m.reactionmessage().text() == want.text
               && m.reactionmessage().has_key();
    }
    return false;
}

// Bob as the vectors export him: identity, signed pre-key, one-time pre-key.
struct BobKeys {
    signal::LocalIdentity identity;
    signal::SignedPreKey signed_pre_key;
    signal::PreKey pre_key;
};

crypto::KeyPair pair_of(const rapidjson::Value& obj, const char* key)
{
    return need(crypto::x25519_key_pair(hex(obj[key])), std::string("Bob's ") + key);
}

BobKeys bob_keys(const rapidjson::Value& vectors)
{
    const rapidjson::Value& bob = vectors["signal_1to1"]["bob"];
    BobKeys k;
    k.identity = signal::LocalIdentity{pair_of(bob, "identity_priv"), bob["registration_id"].GetUint()};
    const rapidjson::Value& spk = bob["signed_prekey"];
    k.signed_pre_key.id = spk["id"].GetUint();
    k.signed_pre_key.key_pair = pair_of(spk, "priv");
    Bytes signature = hex(spk["signature"]);
    if (signature.size() != k.signed_pre_key.signature.size()) die("Bob's signature length");
    std::copy(signature.begin(), signature.end(), k.signed_pre_key.signature.begin());
    const rapidjson::Value& otk = bob["one_time_prekey"];
    k.pre_key = signal::PreKey{otk["id"].GetUint(), pair_of(otk, "priv")};
    return k;
}

void import_pre_keys(signal::ProtocolStore& store, const BobKeys& bob)
{
    need(signal::store_signed_pre_key(store, bob.signed_pre_key), "import signed pre-key");
    need(signal::store_pre_keys(store, std::span<const signal::PreKey>(&bob.pre_key, 1)),
         "import pre-key");
}

// A receiver: a store holding a fresh Bob and the Signal context over it.
// With a database, each message is decrypted in a unit of work of its own;
// with a batch above 1, those units join an outer one committed every
// `batch` messages (group commit: one fsync for the batch, each message
// still rolled back alone when it fails).
struct Receiver {
    signal::ProtocolStore& store;
    signal::ProtocolContext context;
    store::Database* db = nullptr;
    std::size_t batch = 1;

    Receiver(signal::ProtocolStore& s, store::Database* database, std::size_t batch_size)
        : store(s),
          context(need(signal::ProtocolContext::create(crypto::system_random(), s), "context")),
          db(database),
          batch(batch_size)
    {
    }
};

// The outer unit of a batch: opened before a batch's first message,
// committed after its last (or the stream's).
class Batch {
public:
    explicit Batch(Receiver& r) : r_(r) {}

    void before()
    {
        if (r_.db && r_.batch > 1 && !outer_) outer_.emplace(*r_.db);
    }

    void after(bool last)
    {
        if (outer_ && (++count_ % r_.batch == 0 || last)) {
            outer_->commit();
            outer_.reset();
        }
    }

private:
    Receiver& r_;
    std::optional<store::UnitOfWork> outer_;
    std::size_t count_ = 0;
};

struct Streams {
    signal::Address sender;
    std::vector<Sealed> one_to_one;
    signal::SenderKeyName group_name;
    Bytes skdm;
    std::vector<Sealed> group;
};

// Decrypts, unpads and parses one message inside its own unit of work (a
// SQLite receiver) and hands the padded plaintext and the parsed Message
// to `seen`.  `open` is the call that decrypts.
template <class Decrypt, class Seen>
void receive(Receiver& r, const Sealed& m, Decrypt&& open, Seen&& seen)
{
    std::optional<store::UnitOfWork> unit;
    if (r.db) unit.emplace(*r.db);
    Result<Bytes> padded = open(m);
    if (!padded) die("decrypt: " + std::string(errc_name(padded.error().code)) + ": "
                     + padded.error().detail);
    Result<ByteView> body = signal::unpad_message(*padded);
    if (!body) die("unpad: " + body.error().detail);
    proto::Message message;
    if (!message.ParseFromArray(body->data(), static_cast<int>(body->size()))) die("parse");
    seen(*padded, message);
    if (unit) unit->commit();
}

template <class Seen>
void one_to_one(Receiver& r, const Streams& s, Seen&& seen)
{
    Batch batch(r);
    for (const Sealed& m : s.one_to_one) {
        batch.before();
        receive(r, m, [&](const Sealed& x) {
            return x.type == signal::MessageType::pkmsg
                       ? signal::decrypt_pkmsg(r.context, s.sender, x.ciphertext)
                       : signal::decrypt_msg(r.context, s.sender, x.ciphertext);
        }, seen);
        batch.after(&m == &s.one_to_one.back());
    }
}

template <class Seen>
void group(Receiver& r, const Streams& s, Seen&& seen)
{
    {
        // The SKDM arrives inside a 1:1 message and commits with it.
        std::optional<store::UnitOfWork> unit;
        if (r.db) unit.emplace(*r.db);
        need(signal::process_sender_key_distribution(r.context, s.group_name, s.skdm), "SKDM");
        if (unit) unit->commit();
    }
    Batch batch(r);
    for (const Sealed& m : s.group) {
        batch.before();
        receive(r, m, [&](const Sealed& x) {
            return signal::group_decrypt(r.context, s.group_name, x.ciphertext);
        }, seen);
        batch.after(&m == &s.group.back());
    }
}

// Where fresh receivers come from: a new MemoryProtocolStore each, or a
// new copy of the prepared SQLite file each.
class Fresh {
public:
    virtual ~Fresh() = default;
    virtual Receiver& next() = 0;
};

class FreshMemory final : public Fresh {
public:
    explicit FreshMemory(const BobKeys& bob) : bob_(bob) {}

    Receiver& next() override
    {
        receiver_.reset();
        store_ = std::make_unique<signal::MemoryProtocolStore>(bob_.identity);
        import_pre_keys(*store_, bob_);
        receiver_ = std::make_unique<Receiver>(*store_, nullptr, 1);
        return *receiver_;
    }

private:
    const BobKeys& bob_;
    std::unique_ptr<signal::MemoryProtocolStore> store_;
    std::unique_ptr<Receiver> receiver_;
};

class FreshSqlite final : public Fresh {
public:
    FreshSqlite(const BobKeys& bob, fs::path dir, bool full_sync, std::size_t batch)
        : dir_(std::move(dir)), full_sync_(full_sync), batch_(batch)
    {
        // The prepared file: opened and migrated as the helper does, Bob
        // imported, closed (the last close checkpoints the WAL into it).
        template_ = dir_ / "bob-template.db";
        remove_db(template_);
        store::Database db = store::Database::open(template_.string());
        store::migrate(db);
        store::SignalStore bob_store(db, "bob");
        store::UnitOfWork unit(db);
        bob_store.set_local_identity(bob.identity);
        import_pre_keys(bob_store, bob);
        unit.commit();
    }

    ~FreshSqlite() override
    {
        close();
        remove_db(dir_ / "bob.db");
        remove_db(template_);
    }

    Receiver& next() override
    {
        close();
        const fs::path path = dir_ / "bob.db";
        remove_db(path);
        fs::copy_file(template_, path);
        db_.emplace(store::Database::open(path.string()));
        store::migrate(*db_);
        // Only for the row that shows what the fsync costs.
        if (!full_sync_) db_->exec("PRAGMA synchronous=NORMAL");
        store_.emplace(*db_, "bob");
        receiver_ = std::make_unique<Receiver>(*store_, &*db_, batch_);
        return *receiver_;
    }

private:
    void close()
    {
        receiver_.reset();
        store_.reset();
        db_.reset();
    }

    static void remove_db(const fs::path& p)
    {
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);
    }

    fs::path dir_;
    bool full_sync_;
    std::size_t batch_;
    fs::path template_;
    std::optional<store::Database> db_;
    std::optional<store::SignalStore> store_;
    std::unique_ptr<Receiver> receiver_;
};

// Checks one receiver's plaintexts and parses against the reference's.
void check(Fresh& fresh, const Streams& s, const char* what)
{
    auto checker = [&](const std::vector<Sealed>& list) {
        std::size_t i = 0;
        return [&list, i, what](const Bytes& padded, const proto::Message& m) mutable {
            const Sealed& want = list.at(i++);
            if (to_hex(crypto::sha256(padded)) != want.plaintext_sha256) {
                die(std::string(what) + ": plaintext " + std::to_string(i - 1)
                    + " differs from the reference's");
            }
            if (!parsed_matches(m, want)) {
                die(std::string(what) + ": message " + std::to_string(i - 1)
                    + " parses to other content than the reference's");
            }
        };
    };
    one_to_one(fresh.next(), s, checker(s.one_to_one));
    group(fresh.next(), s, checker(s.group));
}

// Messages per second over rounds of a whole stream for about `seconds`,
// each round with a fresh receiver set up outside the timing.
double rate(double seconds, std::size_t messages, Fresh& fresh,
            const std::function<void(Receiver&)>& stream)
{
    double spent = 0;
    long rounds = 0;
    while (spent < seconds || rounds < 2) {
        Receiver& r = fresh.next();
        const auto t0 = Clock::now();
        stream(r);
        spent += std::chrono::duration<double>(Clock::now() - t0).count();
        ++rounds;
    }
    return static_cast<double>(messages) * rounds / spent;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) die("usage: wa_signal_bench <bench-signal.json> [seconds] [dir] [vectors.json]");
    const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
    fs::path dir;
    bool own_dir = false;
    if (argc > 3) {
        dir = argv[3];
        fs::create_directories(dir);
    } else {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/wa-signal-bench-XXXXXX";
        if (!mkdtemp(tmpl.data())) die("cannot make a temporary directory");
        dir = tmpl;
        own_dir = true;
    }
    const std::string vectors_path = argc > 4 ? argv[4] : WA_VECTORS_FILE;

    rapidjson::Document ref = read_json(argv[1]);
    rapidjson::Document vectors = read_json(vectors_path);
    const BobKeys bob = bob_keys(vectors);

    Streams s;
    s.sender = signal::Address{ref["sender"]["name"].GetString(), ref["sender"]["device"].GetUint()};
    for (const auto& m : ref["one_to_one"].GetArray()) s.one_to_one.push_back(sealed(m));
    const rapidjson::Value& g = ref["group"];
    s.group_name = signal::SenderKeyName{g["group_id"].GetString(), s.sender};
    s.skdm = hex(g["skdm"]);
    for (const auto& m : g["messages"].GetArray()) s.group.push_back(sealed(m));
    if (s.one_to_one.empty() || s.group.empty()) die("empty streams");

    try {
        fs::create_directories(dir / "relaxed");
        fs::create_directories(dir / "batched");
        FreshMemory memory(bob);
        FreshSqlite sqlite(bob, dir, true, 1);
        FreshSqlite sqlite_relaxed(bob, dir / "relaxed", false, 1);
        FreshSqlite sqlite_batched(bob, dir / "batched", true, kBatch);

        // Same plaintexts and parses as the reference, before any timing.
        check(memory, s, "memory store");
        check(sqlite, s, "SQLite store");
        check(sqlite_batched, s, "SQLite store, batched");

        // Each parsed message is looked at so the work cannot be skipped.
        std::size_t seen = 0;
        auto look = [&](const Bytes& padded, const proto::Message& m) {
            seen += padded.size() + static_cast<std::size_t>(m.has_conversation());
        };
        auto one = [&](Receiver& r) { one_to_one(r, s, look); };
        auto grp = [&](Receiver& r) { group(r, s, look); };
        const std::size_t n1 = s.one_to_one.size(), ng = s.group.size();

        // WA_SIGNAL_BENCH_CASE=<row> runs one row alone (for a profiler).
        const char* only = std::getenv("WA_SIGNAL_BENCH_CASE");
        auto run = [&](const char* name, std::size_t n, Fresh& fresh,
                       const std::function<void(Receiver&)>& stream) {
            if (only && std::string_view(only) != name) return 0.0;
            return rate(seconds, n, fresh, stream);
        };
        const double sql_1 = run("sqlite-1to1", n1, sqlite, one);
        const double sql_g = run("sqlite-group", ng, sqlite, grp);
        const double mem_1 = run("memory-1to1", n1, memory, one);
        const double mem_g = run("memory-group", ng, memory, grp);
        const double rel_1 = run("relaxed-1to1", n1, sqlite_relaxed, one);
        const double rel_g = run("relaxed-group", ng, sqlite_relaxed, grp);
        const double bat_1 = run("batched-1to1", n1, sqlite_batched, one);
        const double bat_g = run("batched-group", ng, sqlite_batched, grp);
        if (seen == 0) die("nothing decrypted");

        const auto& r = ref["reference"];
        const double ref_1 = r["one_to_one_msgs_s"].GetDouble();
        const double ref_g = r["group_msgs_s"].GetDouble();
        std::printf("Signal decrypt + unpad + parse as the receiving device: a 1:1 stream of %zu"
                    " (1 pkmsg, then msgs), a group stream of %zu skmsgs after the SKDM; fresh"
                    " receiver per round\nreference: %s (in-memory stores)\n",
                    n1, ng, r["implementation"].GetString());
        std::printf("%-48s %12s %12s %8s\n", "", "ours", "reference", "ratio");
        auto row = [](const std::string& name, double ours, double theirs) {
            std::printf("%-48s %12.0f %12.0f %7.1fx\n", name.c_str(), ours, theirs, ours / theirs);
        };
        const std::string per_batch = ", SQLite store, one commit per " + std::to_string(kBatch);
        row("1:1, SQLite store, commit per message (msg/s)", sql_1, ref_1);
        row("1:1" + per_batch + " (msg/s)", bat_1, ref_1);
        row("1:1, memory store (msg/s)", mem_1, ref_1);
        row("group, SQLite store, commit per message (msg/s)", sql_g, ref_g);
        row("group" + per_batch + " (msg/s)", bat_g, ref_g);
        row("group, memory store (msg/s)", mem_g, ref_g);
        std::printf("(SQLite with synchronous=NORMAL, the commit without its fsync, to show"
                    " where the time goes: 1:1 %.0f msg/s, group %.0f msg/s)\n", rel_1, rel_g);
    } catch (const std::exception& e) {
        die(e.what());
    }
    if (own_dir) fs::remove_all(dir);
    return 0;
}
