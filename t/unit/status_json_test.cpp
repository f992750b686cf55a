// Unit tests of the status location's JSON body (src/ipc/status_json.cpp).

#include "chatwoot_shared.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

// A deliberately small, strict JSON reader for what the renderer may emit:
// objects, strings without escapes, non-negative integers without leading
// zeros, true and false.  No whitespace is accepted: the body is compact.
// Leaves come out flattened as "helper.pid" -> {kind, text}, so a test can
// check the exact set of field names and each value's type.
struct Leaf {
    enum Kind { Number, String, Bool } kind;
    std::string text;

    bool operator==(const Leaf&) const = default;
};

class StrictJson {
public:
    // Returns nullopt (and a reason in error()) on anything unexpected,
    // including duplicate keys and trailing bytes.
    std::optional<std::map<std::string, Leaf>> parse(std::string_view in)
    {
        in_ = in;
        pos_ = 0;
        out_.clear();
        error_.clear();
        if (!object("") || pos_ != in_.size()) {
            if (error_.empty()) {
                error_ = "trailing bytes at " + std::to_string(pos_);
            }
            return std::nullopt;
        }
        return out_;
    }

    const std::string& error() const { return error_; }

private:
    bool fail(const std::string& why)
    {
        if (error_.empty()) {
            error_ = why + " at " + std::to_string(pos_);
        }
        return false;
    }

    bool eat(char c)
    {
        if (pos_ < in_.size() && in_[pos_] == c) {
            pos_++;
            return true;
        }
        return fail(std::string("expected '") + c + "'");
    }

    bool string(std::string* s)
    {
        if (!eat('"')) {
            return false;
        }
        size_t start = pos_;
        while (pos_ < in_.size() && in_[pos_] != '"') {
            char c = in_[pos_];
            if (c == '\\' || static_cast<unsigned char>(c) < 0x20) {
                return fail("escape or control character in string");
            }
            pos_++;
        }
        *s = std::string(in_.substr(start, pos_ - start));
        return eat('"');
    }

    bool leaf(const std::string& path, Leaf l)
    {
        if (!out_.emplace(path, std::move(l)).second) {
            return fail("duplicate key " + path);
        }
        return true;
    }

    bool value(const std::string& path)
    {
        if (pos_ >= in_.size()) {
            return fail("value expected");
        }
        char c = in_[pos_];
        if (c == '{') {
            return object(path);
        }
        if (c == '"') {
            std::string s;
            return string(&s) && leaf(path, {Leaf::String, s});
        }
        if (in_.substr(pos_, 4) == "true") {
            pos_ += 4;
            return leaf(path, {Leaf::Bool, "true"});
        }
        if (in_.substr(pos_, 5) == "false") {
            pos_ += 5;
            return leaf(path, {Leaf::Bool, "false"});
        }
        if (c >= '0' && c <= '9') {
            size_t start = pos_;
            while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
                pos_++;
            }
            std::string digits(in_.substr(start, pos_ - start));
            if (digits.size() > 1 && digits[0] == '0') {
                return fail("leading zero");
            }
            return leaf(path, {Leaf::Number, digits});
        }
        return fail("unexpected character");
    }

    bool object(const std::string& path)
    {
        if (!eat('{')) {
            return false;
        }
        if (pos_ < in_.size() && in_[pos_] == '}') {
            return fail("empty object");  // the renderer never emits one
        }
        for (;;) {
            std::string key;
            if (!string(&key) || !eat(':')) {
                return false;
            }
            if (key.empty()) {
                return fail("empty key");
            }
            if (!value(path.empty() ? key : path + "." + key)) {
                return false;
            }
            if (pos_ < in_.size() && in_[pos_] == ',') {
                pos_++;
                continue;
            }
            return eat('}');
        }
    }

    std::string_view in_;
    size_t pos_ = 0;
    std::map<std::string, Leaf> out_;
    std::string error_;
};

// Readable failure messages for Leaf comparisons.
void PrintTo(const Leaf& l, std::ostream* os)
{
    static const char* const kinds[] = {"number", "string", "bool"};
    *os << kinds[l.kind] << " " << l.text;
}

Leaf num(uint64_t v) { return {Leaf::Number, std::to_string(v)}; }
Leaf str(const char* s) { return {Leaf::String, s}; }
Leaf boolean(bool b) { return {Leaf::Bool, b ? "true" : "false"}; }

// Every counter distinct, so a field wired to the wrong source shows up.
cw_status_t filled()
{
    cw_status_t s{};
    s.helper.pid = 4242;
    s.helper.started_at = 1700000000;
    s.helper.spawned_pid = 4243;
    s.helper.spawned_at_msec = 1700000000123;
    s.helper.starts = 4;
    s.helper.fast_crashes = 2;
    s.helper.state = CW_HELPER_RUNNING;
    s.helper.clean_exit = 1;
    s.helper.lock_acquired_at = 1700000001;
    s.queue.enqueued = 1001;
    s.queue.rejected_full = 17;
    s.queue.rejected_large = 5;
    s.queue.rejected_closed = 2;
    s.queue.resets = 3;
    s.queue.wake_pending = 1;
    s.queue.full_logged_at = 1700000077;
    s.store.persisted = 990;
    s.store.batches = 77;
    s.store.errors = 6;
    s.store.dead_letters = 8;
    s.chatwoot.checks = 120;
    s.chatwoot.failures = 9;
    s.chatwoot.last_http_status = 200;
    s.chatwoot.last_checked_at = 1700000050;
    s.chatwoot.check = CW_CHECK_NO_ACCOUNT_ACCESS;
    for (int o = 0; o < CW_WH_OUTCOMES; o++) {
        s.webhook[o] = 500 + static_cast<uint64_t>(o);
    }
    s.replay_evicted = 7;
    s.bridge = cw_bridge_stats_t{801, 802, 803, 804, 805, 806, {}};
    s.ring_capacity = 4096;
    s.ring_depth = 11;
    s.ring_bytes_used = 5432;
    s.ring_bytes_size = 1048576;
    s.ring_max_record = 262128;
    s.now = 1700000099;
    s.chatwoot_configured = 1;
    return s;
}

std::string render(const cw_status_t& s)
{
    char buf[CW_STATUS_MAX];
    size_t n = cw_status_render(&s, buf, sizeof buf);
    EXPECT_GT(n, 0u);
    return std::string(buf, n);
}

std::map<std::string, Leaf> parse(const std::string& body)
{
    EXPECT_FALSE(body.empty());
    EXPECT_EQ(body.back(), '\n') << "the body ends with one newline";
    StrictJson p;
    auto m = p.parse(std::string_view(body).substr(0, body.size() - 1));
    EXPECT_TRUE(m.has_value()) << p.error() << "\n" << body;
    return m.value_or(std::map<std::string, Leaf>{});
}

TEST(StatusJson, FilledStatusRendersTheExactDocument)
{
    const std::string expect =
        "{\"helper\":{\"pid\":4242,\"state\":\"running\",\"active\":true,"
        "\"started_at\":1700000000,\"restarts\":3,\"crash_backoff\":2},"
        "\"queue\":{\"capacity\":4096,\"depth\":11,\"bytes_used\":5432,"
        "\"bytes_size\":1048576,\"max_record\":262128,\"enqueued\":1001,"
        "\"rejected\":24,\"rejected_full\":17,\"rejected_too_large\":5,"
        "\"rejected_closed\":2,\"resets\":3},"
        "\"store\":{\"persisted\":990,\"batches\":77,\"errors\":6,\"dead_letters\":8},"
        "\"chatwoot\":{\"configured\":true,\"checks\":120,\"failures\":9,"
        "\"last_http_status\":200,\"last_checked_at\":1700000050,"
        "\"check\":\"no_account_access\"},"
        "\"time\":1700000099,"
        "\"webhook\":{\"replay_evicted\":7,\"queued\":500,\"private\":501,\"not_outgoing\":502,\"own_echo\":503,\"unknown_event\":504,\"not_deletion\":505,\"unconfigured\":506,\"unsigned\":507,\"signature\":508,\"timestamp\":509,\"token\":510,\"content_type\":511,\"malformed\":512,\"replay\":513},"
        "\"bridge\":{\"whatsapp_posted\":801,\"whatsapp_failed\":802,"
        "\"replies_sent\":803,\"replies_failed\":804,\"api_requests\":805,"
        "\"api_retries\":806}}\n";
    EXPECT_EQ(render(filled()), expect);
}

TEST(StatusJson, ParsesBackToEveryPromisedFieldWithItsValue)
{
    const auto fields = parse(render(filled()));
    const std::map<std::string, Leaf> expect = {
        {"helper.pid", num(4242)},
        {"helper.state", str("running")},
        {"helper.active", boolean(true)},
        {"helper.started_at", num(1700000000)},
        {"helper.restarts", num(3)},
        {"helper.crash_backoff", num(2)},
        {"queue.capacity", num(4096)},
        {"queue.depth", num(11)},
        {"queue.bytes_used", num(5432)},
        {"queue.bytes_size", num(1048576)},
        {"queue.max_record", num(262128)},
        {"queue.enqueued", num(1001)},
        {"queue.rejected", num(24)},
        {"queue.rejected_full", num(17)},
        {"queue.rejected_too_large", num(5)},
        {"queue.rejected_closed", num(2)},
        {"queue.resets", num(3)},
        {"store.persisted", num(990)},
        {"store.batches", num(77)},
        {"store.errors", num(6)},
        {"store.dead_letters", num(8)},
        {"chatwoot.configured", boolean(true)},
        {"chatwoot.checks", num(120)},
        {"chatwoot.failures", num(9)},
        {"chatwoot.last_http_status", num(200)},
        {"chatwoot.check", str("no_account_access")},
        {"webhook.replay_evicted", num(7)},
        {"bridge.whatsapp_posted", num(801)},
        {"bridge.whatsapp_failed", num(802)},
        {"bridge.replies_sent", num(803)},
        {"bridge.replies_failed", num(804)},
        {"bridge.api_requests", num(805)},
        {"bridge.api_retries", num(806)},
        {"webhook.queued", num(500)},
        {"webhook.private", num(501)},
        {"webhook.not_outgoing", num(502)},
        {"webhook.own_echo", num(503)},
        {"webhook.unknown_event", num(504)},
        {"webhook.not_deletion", num(505)},
        {"webhook.unconfigured", num(506)},
        {"webhook.unsigned", num(507)},
        {"webhook.signature", num(508)},
        {"webhook.timestamp", num(509)},
        {"webhook.token", num(510)},
        {"webhook.content_type", num(511)},
        {"webhook.malformed", num(512)},
        {"webhook.replay", num(513)},
        {"chatwoot.last_checked_at", num(1700000050)},
        {"time", num(1700000099)},
    };
    // Same keys (nothing missing, nothing extra), then same values, so a
    // failure names the field.
    std::set<std::string> got_keys, want_keys;
    for (const auto& [k, v] : fields) {
        got_keys.insert(k);
    }
    for (const auto& [k, v] : expect) {
        want_keys.insert(k);
    }
    EXPECT_EQ(got_keys, want_keys);
    for (const auto& [k, v] : expect) {
        auto it = fields.find(k);
        ASSERT_NE(it, fields.end()) << k;
        EXPECT_EQ(it->second.kind, v.kind) << k;
        EXPECT_EQ(it->second.text, v.text) << k;
    }
}

TEST(StatusJson, InternalCountersAreNotExposed)
{
    // started_at_msec, clean_exit, lock_acquired_at, wake_pending and
    // full_logged_at are bookkeeping for the master, workers and helper, not
    // part of the status API.
    cw_status_t s = filled();
    const std::string body = render(s);
    for (const char* word :
         {"msec", "clean_exit", "lock_acquired", "wake", "logged"}) {
        EXPECT_EQ(body.find(word), std::string::npos) << word;
    }
    EXPECT_EQ(body.find("1700000000123"), std::string::npos);
    EXPECT_EQ(body.find("1700000001,"), std::string::npos);
    EXPECT_EQ(body.find("1700000077"), std::string::npos);
}

TEST(StatusJson, RestartsIsStartsMinusOneAndZeroBeforeTheFirstStart)
{
    const std::pair<uint64_t, uint64_t> cases[] = {
        {0, 0}, {1, 0}, {2, 1}, {5, 4},
        {std::numeric_limits<uint64_t>::max(),
         std::numeric_limits<uint64_t>::max() - 1}};
    for (auto [starts, restarts] : cases) {
        cw_status_t s = filled();
        s.helper.starts = starts;
        EXPECT_EQ(parse(render(s))["helper.restarts"], num(restarts))
            << "starts " << starts;
    }
}

TEST(StatusJson, RejectedIsFullPlusTooLargePlusClosed)
{
    cw_status_t s = filled();
    s.queue.rejected_closed = 0;
    s.queue.rejected_full = 0;
    s.queue.rejected_large = 0;
    auto f = parse(render(s));
    EXPECT_EQ(f["queue.rejected"], num(0));

    s.queue.rejected_full = 123456789;
    s.queue.rejected_large = 0;
    f = parse(render(s));
    EXPECT_EQ(f["queue.rejected"], num(123456789));

    s.queue.rejected_full = 0;
    s.queue.rejected_large = 31;
    f = parse(render(s));
    EXPECT_EQ(f["queue.rejected"], num(31));
    EXPECT_EQ(f["queue.rejected_full"], num(0));
    EXPECT_EQ(f["queue.rejected_too_large"], num(31));

    s.queue.rejected_closed = 4;
    f = parse(render(s));
    EXPECT_EQ(f["queue.rejected"], num(35));
    EXPECT_EQ(f["queue.rejected_closed"], num(4));
}

TEST(StatusJson, EachHelperStateMapsToItsName)
{
    struct Case {
        uint64_t state;
        const char* name;
        bool active;
    };
    const Case cases[] = {
        {CW_HELPER_NONE, "not_started", false},
        {CW_HELPER_BACKOFF, "backoff", false},
        {CW_HELPER_WAITING_LOCK, "waiting_for_lock", false},
        {CW_HELPER_RUNNING, "running", true},
        {CW_HELPER_FAILED, "failed", false},
        // A value from a newer or broken writer must not leak raw numbers
        // or garbage into the body.
        {99, "not_started", false},
        {std::numeric_limits<uint64_t>::max(), "not_started", false},
    };
    for (const auto& c : cases) {
        cw_status_t s = filled();
        s.helper.state = c.state;
        auto f = parse(render(s));
        EXPECT_EQ(f["helper.state"], str(c.name)) << "state " << c.state;
        EXPECT_EQ(f["helper.active"], boolean(c.active)) << "state " << c.state;
    }
}

TEST(StatusJson, ChatwootNotConfiguredRendersFalse)
{
    cw_status_t s = filled();
    s.chatwoot_configured = 0;
    s.chatwoot = cw_upstream_stats_t{};
    auto f = parse(render(s));
    EXPECT_EQ(f["chatwoot.configured"], boolean(false));
    EXPECT_EQ(f["chatwoot.checks"], num(0));
    EXPECT_EQ(f["chatwoot.failures"], num(0));
    EXPECT_EQ(f["chatwoot.last_http_status"], num(0));
    EXPECT_EQ(f["chatwoot.last_checked_at"], num(0));
    EXPECT_EQ(f["chatwoot.check"], str("none"));
}

TEST(StatusJson, EveryCheckResultHasItsWord)
{
    cw_status_t s = filled();
    const std::pair<cw_check_t, const char*> words[] = {
        {CW_CHECK_NONE, "none"},
        {CW_CHECK_OK, "ok"},
        {CW_CHECK_UNAVAILABLE, "unavailable"},
        {CW_CHECK_UNREACHABLE, "unreachable"},
        {CW_CHECK_BAD_ANSWER, "bad_answer"},
        {CW_CHECK_NO_ACCOUNT_ACCESS, "no_account_access"},
        {CW_CHECK_UNAUTHORIZED, "unauthorized"},
    };
    for (auto [check, word] : words) {
        s.chatwoot.check = check;
        EXPECT_EQ(parse(render(s))["chatwoot.check"], str(word)) << word;
    }
}

TEST(StatusJson, ZeroedStatusRendersTheExactDocument)
{
    cw_status_t s{};
    EXPECT_EQ(render(s),
              "{\"helper\":{\"pid\":0,\"state\":\"not_started\","
              "\"active\":false,\"started_at\":0,\"restarts\":0,"
              "\"crash_backoff\":0},"
              "\"queue\":{\"capacity\":0,\"depth\":0,\"bytes_used\":0,"
              "\"bytes_size\":0,\"max_record\":0,\"enqueued\":0,"
              "\"rejected\":0,\"rejected_full\":0,\"rejected_too_large\":0,"
              "\"rejected_closed\":0,\"resets\":0},"
              "\"store\":{\"persisted\":0,\"batches\":0,\"errors\":0,"
              "\"dead_letters\":0},"
              "\"chatwoot\":{\"configured\":false,\"checks\":0,"
              "\"failures\":0,\"last_http_status\":0,\"last_checked_at\":0,"
              "\"check\":\"none\"},"
              "\"time\":0,"
              "\"webhook\":{\"replay_evicted\":0,\"queued\":0,\"private\":0,\"not_outgoing\":0,\"own_echo\":0,\"unknown_event\":0,\"not_deletion\":0,\"unconfigured\":0,\"unsigned\":0,\"signature\":0,\"timestamp\":0,\"token\":0,\"content_type\":0,\"malformed\":0,\"replay\":0},"
              "\"bridge\":{\"whatsapp_posted\":0,\"whatsapp_failed\":0,"
              "\"replies_sent\":0,\"replies_failed\":0,\"api_requests\":0,"
              "\"api_retries\":0}}\n");
}

TEST(StatusJson, LargestValuesFitInStatusMax)
{
    // Every number at 20 digits; rejected_full + rejected_large kept from
    // wrapping so it is 20 digits too.
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    cw_status_t s;
    std::memset(&s, 0xFF, sizeof s);
    s.helper.state = CW_HELPER_WAITING_LOCK;  // the longest name
    s.queue.rejected_full = kMax - 1;
    s.queue.rejected_large = 1;
    s.queue.rejected_closed = 0;
    s.chatwoot_configured = 0;  // "false" is longer than "true"
    s.chatwoot.check = CW_CHECK_NO_ACCOUNT_ACCESS;  // the longest word

    char buf[CW_STATUS_MAX];
    size_t n = cw_status_render(&s, buf, sizeof buf);
    ASSERT_GT(n, 0u);
    ASSERT_LT(n, sizeof buf);
    EXPECT_EQ(buf[n], '\0');
    auto f = parse(std::string(buf, n));
    EXPECT_EQ(f["helper.pid"], num(kMax));
    EXPECT_EQ(f["queue.rejected"], num(kMax));
    EXPECT_EQ(f["time"], num(kMax));
    EXPECT_EQ(f["helper.state"], str("waiting_for_lock"));
    EXPECT_EQ(f["chatwoot.check"], str("no_account_access"));
    EXPECT_EQ(f.size(), 49u);
}

TEST(StatusJson, BufferTooSmallReturnsZeroAndStaysInBounds)
{
    const cw_status_t s = filled();
    const std::string full = render(s);
    const size_t n = full.size();

    // size n leaves no room for the terminating NUL: refused.  n + 1 is the
    // smallest buffer that works.
    for (size_t size : {size_t{0}, size_t{1}, size_t{10}, n / 2, n - 1, n}) {
        std::vector<char> buf(n + 32, '#');
        EXPECT_EQ(cw_status_render(&s, buf.data(), size), 0u) << "size " << size;
        for (size_t i = size; i < buf.size(); i++) {
            ASSERT_EQ(buf[i], '#') << "size " << size << ": byte " << i
                                   << " written past the buffer";
        }
    }
    std::vector<char> buf(n + 32, '#');
    EXPECT_EQ(cw_status_render(&s, buf.data(), n + 1), n);
    EXPECT_EQ(std::string(buf.data(), n), full);
    EXPECT_EQ(buf[n], '\0');
    EXPECT_EQ(buf[n + 1], '#');
}

TEST(StatusJson, ZeroSizeAcceptsANullBuffer)
{
    const cw_status_t s = filled();
    EXPECT_EQ(cw_status_render(&s, nullptr, 0), 0u);
}

// The reader itself must be strict, or the round-trip tests prove little.
TEST(StrictJsonReader, RejectsMalformedInput)
{
    StrictJson p;
    EXPECT_TRUE(p.parse(R"({"a":1,"b":{"c":"x","d":true}})").has_value());
    const char* bad[] = {
        R"({"a":1,"a":2})",      // duplicate key
        R"({"a":01})",           // leading zero
        R"({"a":1} )",           // trailing bytes
        R"({"a":1,})",           // trailing comma
        R"({"a": 1})",           // whitespace
        R"({"a":-1})",           // negative
        R"({"a":"x\"y"})",       // escapes
        R"({"a":tru})",          // broken literal
        R"({"a":{}})",           // empty object
        R"({"a":1)",             // unterminated
        R"({a:1})",              // unquoted key
    };
    for (const char* b : bad) {
        EXPECT_FALSE(p.parse(b).has_value()) << b;
    }
}

}  // namespace
