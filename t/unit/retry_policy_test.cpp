// Retry decisions for Chatwoot REST calls: the classifier against the exact
// responses Chatwoot 4.15.1 gives (chatwoot/CONTRACT.md sections 5.1, 5.8,
// 7), Retry-After in all its forms, the backoff schedule and its jitter, and
// the give-up policy.
#include "chatwoot/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace chatwoot::rest;
using namespace std::chrono_literals;
using std::chrono::system_clock;

namespace {

Response http(int status, std::string_view body = {})
{
    Response r;
    r.http_status = status;
    r.body = body;
    return r;
}

Response transport(TransportError e, int status = 0)
{
    Response r;
    r.transport_error = e;
    r.http_status = status;
    return r;
}

// True when s is well-formed UTF-8 with no control characters: what a
// reason must be to go into a log line or a Chatwoot note.
bool clean_utf8(std::string_view s)
{
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x20 || b == 0x7f)
            return false;
        size_t n = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3
                               : (b & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > s.size())
            return false;
        for (size_t k = 1; k < n; k++)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// classify: success and transport

TEST(RetryClassify, EveryTwoHundredIsSuccess)
{
    for (int s : {200, 201, 202, 204, 299}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::success) << s;
        EXPECT_EQ(c.cause, Cause::ok) << s;
        EXPECT_FALSE(c.may_have_applied) << s;
        EXPECT_EQ(c.reason, "ok " + std::to_string(s));
    }
}

TEST(RetryClassify, TransportErrorsRetryAndSayWhetherTheRequestWentOut)
{
    const Classification connect = classify(transport(TransportError::connect));
    EXPECT_EQ(connect.outcome, Outcome::retry);
    EXPECT_EQ(connect.cause, Cause::network);
    EXPECT_EQ(connect.scope, Scope::server);
    EXPECT_FALSE(connect.may_have_applied);  // nothing was sent
    EXPECT_EQ(connect.reason, "connect failed");

    struct Case {
        TransportError e;
        const char* reason;
    };
    for (auto [e, reason] : {Case{TransportError::timeout, "timed out"},
                             Case{TransportError::reset, "connection reset"},
                             Case{TransportError::other, "transport error"}}) {
        const Classification c = classify(transport(e));
        EXPECT_EQ(c.outcome, Outcome::retry) << reason;
        EXPECT_EQ(c.cause, Cause::network) << reason;
        EXPECT_EQ(c.scope, Scope::request) << reason;
        EXPECT_TRUE(c.may_have_applied) << reason;
        EXPECT_EQ(c.reason, reason);
    }
}

TEST(RetryClassify, ABrokenTransferAfterATwoHundredStatusIsStillARetry)
{
    // The POST may well have created the message: retry, but look first.
    const Classification c = classify(transport(TransportError::reset, 200));
    EXPECT_EQ(c.outcome, Outcome::retry);
    EXPECT_TRUE(c.may_have_applied);
}

TEST(RetryClassify, ATwoHundredOverTheAnswerCapIsAPermanentFailureThatHappened)
{
    // Before, a cut answer counted as success and failed later, as
    // "malformed JSON", far from its cause.
    Response r = http(200, R"({"payload":[{"id":1,"content":"aaaa)");
    r.body_truncated = true;
    r.body_cap = 262144;
    const Classification c = classify(r);
    EXPECT_EQ(c.outcome, Outcome::permanent) << "asking again gets the same answer";
    EXPECT_EQ(c.cause, Cause::rejected);
    EXPECT_TRUE(c.may_have_applied) << "a create it answered is done: look, never post again";
    EXPECT_EQ(c.reason, "answer 200 over the 262144-byte cap");

    // An error page over the cap is still classified by its status.
    const std::string html(4096, 'x');
    Response page = http(503, html);
    page.body_truncated = true;
    page.body_cap = 4096;
    EXPECT_EQ(classify(page).outcome, Outcome::retry);
    EXPECT_EQ(classify(page).cause, Cause::server_error);
}

TEST(RetryClassify, MissingOrImpossibleStatusIsALostExchange)
{
    for (int s : {0, -1, 99, 100, 101, 199, 600, 999, INT_MAX, INT_MIN}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::retry) << s;
        EXPECT_EQ(c.cause, Cause::network) << s;
        EXPECT_TRUE(c.may_have_applied) << s;
    }
    EXPECT_EQ(classify(http(0)).reason, "no HTTP status");
    EXPECT_EQ(classify(http(600)).reason, "invalid HTTP status 600");
}

// ---------------------------------------------------------------------------
// classify: Chatwoot's throttles

TEST(RetryClassify, RackAttackThrottleAsChatwootSendsIt)
{
    // CONTRACT.md 7: 429, text/plain "Retry later\n", no Retry-After.
    const Classification c = classify(http(429, "Retry later\n"));
    EXPECT_EQ(c.outcome, Outcome::retry);
    EXPECT_EQ(c.cause, Cause::throttled);
    EXPECT_EQ(c.scope, Scope::server);
    EXPECT_FALSE(c.may_have_applied);  // refused before the app ran
    EXPECT_EQ(c.reason, "throttled by Chatwoot (429)");
    // Whatever the body: the bare 429 of the transcript email limit too.
    EXPECT_EQ(classify(http(429)).cause, Cause::throttled);
    EXPECT_EQ(classify(http(429, "<html>slow down</html>")).cause, Cause::throttled);
}

TEST(RetryClassify, FloodGuardIsRetryableForItsConversationOnly)
{
    for (std::string_view body : {
             // messages API (CONTRACT.md 5.8, 7)
             std::string_view(R"({"error":"Validation failed: Too many messages"})"),
             // RecordInvalid handler shape (5.1)
             std::string_view(R"({"message":"Too many messages","attributes":["base"]})"),
             // localised prefix, odd case, plain text, whitespace around
             std::string_view(R"({"error":"A validação falhou: Too many messages"})"),
             std::string_view("  validation failed: TOO MANY MESSAGES\n"),
             std::string_view("too many messages")}) {
        const Classification c = classify(http(422, body));
        EXPECT_EQ(c.outcome, Outcome::retry) << body;
        EXPECT_EQ(c.cause, Cause::flood_guard) << body;
        EXPECT_EQ(c.scope, Scope::conversation) << body;
        EXPECT_FALSE(c.may_have_applied) << body;  // validation failed: not saved
        EXPECT_EQ(c.reason, "conversation flood guard (422 Too many messages)");
    }
}

TEST(RetryClassify, FloodGuardWordingCountsOnlyOnA422)
{
    for (int s : {400, 409, 413, 421, 423})
        EXPECT_EQ(classify(http(s, R"({"error":"Too many messages"})")).outcome,
                  Outcome::permanent)
            << s;
    // Near misses of the wording are other validation errors.
    EXPECT_EQ(classify(http(422, R"({"error":"Too many attachments"})")).outcome,
              Outcome::permanent);
    EXPECT_EQ(classify(http(422, R"({"error":"Too many  messages"})")).outcome,
              Outcome::permanent);
}

TEST(RetryClassify, BodiesAreOnlyReadForTheirFirstFourKilobytes)
{
    std::string body(4096 - 17, ' ');
    body += "Too many messages";  // ends exactly at the window's edge
    EXPECT_EQ(classify(http(422, body)).cause, Cause::flood_guard);
    body.insert(0, " ");  // one byte further: out of sight
    EXPECT_EQ(classify(http(422, body)).outcome, Outcome::permanent);
}

// ---------------------------------------------------------------------------
// classify: server errors

TEST(RetryClassify, ServerErrorsRetry)
{
    for (int s : {500, 507, 508, 511, 520, 599}) {
        const Classification c = classify(http(s, "<html>oops</html>"));
        EXPECT_EQ(c.outcome, Outcome::retry) << s;
        EXPECT_EQ(c.cause, Cause::server_error) << s;
        EXPECT_EQ(c.scope, Scope::request) << s;
        EXPECT_TRUE(c.may_have_applied) << s;
        EXPECT_EQ(c.reason, "server error " + std::to_string(s));
    }
}

TEST(RetryClassify, GatewayAndUnavailableHoldBackEveryRequest)
{
    for (int s : {502, 503, 504}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::retry) << s;
        EXPECT_EQ(c.cause, Cause::server_error) << s;
        EXPECT_EQ(c.scope, Scope::server) << s;
        EXPECT_TRUE(c.may_have_applied) << s;
        EXPECT_EQ(c.reason, "server unavailable " + std::to_string(s));
    }
}

TEST(RetryClassify, NotImplementedAndVersionNotSupportedArePermanent)
{
    for (int s : {501, 505}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::permanent) << s;
        EXPECT_EQ(c.cause, Cause::rejected) << s;
        EXPECT_EQ(c.reason, "server cannot handle this request " + std::to_string(s)
                                + ": check the reverse proxy");
    }
}

TEST(RetryClassify, RequestTimeoutAndTooEarlyRetry)
{
    for (int s : {408, 425}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::retry) << s;
        EXPECT_EQ(c.cause, Cause::server_error) << s;
        EXPECT_FALSE(c.may_have_applied) << s;
    }
    EXPECT_EQ(classify(http(408)).reason, "request timeout 408");
}

// ---------------------------------------------------------------------------
// classify: refusals

TEST(RetryClassify, UnauthorizedNamesChatwootsCauseButNeverEchoesOtherText)
{
    struct Case {
        const char* body;
        const char* reason;
        Scope scope;
    };
    const Case cases[] = {
        {R"({"error":"Invalid Access Token"})",
         "unauthorized: check api_token (token not recognised)", Scope::server},
        {R"({"errors":["You need to sign in or sign up before continuing."]})",
         "unauthorized: check api_token (no token sent)", Scope::server},
        {R"({"error":"You are not authorized to access this account"})",
         "unauthorized: check api_token (token's user is not in this account)",
         Scope::server},
        {R"({"error":"Account is suspended"})",
         "unauthorized: check api_token (account suspended)", Scope::server},
        {R"({"error":"Access to this endpoint is not authorized for bots"})",
         "unauthorized: check api_token (an agent-bot token may not call this endpoint)",
         Scope::request},
        {R"({"error":"You are not authorized to do this action"})",
         "unauthorized: check api_token (the token's role may not do this)",
         Scope::request},
        // Anything else: the fixed text only, whatever the body holds.
        {R"({"error":"token 3f9a8c7b2e1d is revoked"})",
         "unauthorized: check api_token", Scope::server},
        {"", "unauthorized: check api_token", Scope::server},
    };
    for (const Case& k : cases) {
        const Classification c = classify(http(401, k.body));
        EXPECT_EQ(c.outcome, Outcome::permanent) << k.body;
        EXPECT_EQ(c.cause, Cause::unauthorized) << k.body;
        EXPECT_EQ(c.reason, k.reason);
        EXPECT_EQ(c.scope, k.scope) << k.body;
        EXPECT_FALSE(c.not_found());
    }
}

TEST(RetryClassify, Forbidden)
{
    const Classification api = classify(
        http(403, R"({"error":"Message status update is only allowed for API inboxes"})"));
    EXPECT_EQ(api.outcome, Outcome::permanent);
    EXPECT_EQ(api.cause, Cause::unauthorized);
    EXPECT_EQ(api.scope, Scope::request);
    EXPECT_EQ(api.reason, "forbidden: check api_token (not an API inbox)");

    const Classification other = classify(http(403, R"({"error":"secret abc"})"));
    EXPECT_EQ(other.reason, "forbidden: check api_token");
}

TEST(RetryClassify, NotFoundIsPermanentButFlaggedForReResolving)
{
    const Classification c = classify(http(404, R"({"error":"Resource could not be found"})"));
    EXPECT_EQ(c.outcome, Outcome::permanent);
    EXPECT_EQ(c.cause, Cause::not_found);
    EXPECT_TRUE(c.not_found());
    EXPECT_FALSE(c.may_have_applied);
    EXPECT_EQ(c.reason, "not found (404): Resource could not be found");
    // Public API (CONTRACT.md 6) and the empty 404 of reset_secret.
    EXPECT_EQ(classify(http(404, R"({"status":404,"error":"Not Found"})")).reason,
              "not found (404): Not Found");
    EXPECT_EQ(classify(http(404)).reason, "not found (404)");
    EXPECT_TRUE(classify(http(404, "<html>nginx</html>")).not_found());
}

TEST(RetryClassify, OtherClientErrorsArePermanentWithChatwootsMessage)
{
    struct Case {
        int status;
        const char* body;
        const char* reason;
    };
    const Case cases[] = {
        {422, R"({"error":"Incoming messages are only allowed in Api inboxes"})",
         "rejected 422: Incoming messages are only allowed in Api inboxes"},
        {422, R"j({"error":"Validation failed: Content is too long (maximum is 150000 characters)"})j",
         "rejected 422: Validation failed: Content is too long (maximum is 150000 characters)"},
        {422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})",
         "rejected 422: Identifier has already been taken"},
        {422, R"({"error":"source_id should be unique"})",
         "rejected 422: source_id should be unique"},
        {402, R"({"error":"Account limit exceeded. Upgrade to a higher plan"})",
         "rejected 402: Account limit exceeded. Upgrade to a higher plan"},
        {400, R"({"errors":["bad thing"]})", "rejected 400: bad thing"},
        {400, "<html><body>400 Bad Request</body></html>", "rejected 400"},
        {413, "", "rejected 413"},
        {409, "{}", "rejected 409"},
        {418, R"({"error": 5})", "rejected 418"},
        {499, R"( { "error" : "spaced" } )", "rejected 499: spaced"},
    };
    for (const Case& k : cases) {
        const Classification c = classify(http(k.status, k.body));
        EXPECT_EQ(c.outcome, Outcome::permanent) << k.body;
        EXPECT_EQ(c.cause, Cause::rejected) << k.body;
        EXPECT_EQ(c.scope, Scope::request) << k.body;
        EXPECT_FALSE(c.not_found());
        EXPECT_EQ(c.reason, k.reason);
    }
}

TEST(RetryClassify, LeftoverRedirectsArePermanent)
{
    for (int s : {300, 301, 302, 304, 307, 308}) {
        const Classification c = classify(http(s));
        EXPECT_EQ(c.outcome, Outcome::permanent) << s;
        EXPECT_EQ(c.cause, Cause::rejected) << s;
        EXPECT_EQ(c.reason, "unexpected redirect " + std::to_string(s)
                                + ": check the Chatwoot URL");
    }
}

TEST(RetryClassify, ErrorDetailIsDecodedCleanedAndBounded)
{
    struct Case {
        const char* body;
        const char* reason;
    };
    const Case cases[] = {
        // ActiveSupport's HTML escapes (CONTRACT.md 1), other escapes.
        {R"({"error":"a \u003cb\u003e \u0026 c"})", "rejected 400: a <b> & c"},
        {R"({"error":"quote \" slash \/ back \\"})", "rejected 400: quote \" slash / back \\"},
        {R"({"error":"line\nbreak\ttab"})", "rejected 400: line break tab"},
        // Non-ASCII kept, raw or escaped; a surrogate pair joined.
        {R"({"error":"Número inválido"})", "rejected 400: Número inválido"},
        {R"({"error":"N\u00famero \ud83d\ude00"})", "rejected 400: Número \xf0\x9f\x98\x80"},
        // Broken input degrades to '?', never to invalid UTF-8.
        {R"({"error":"lone \ud83d here"})", "rejected 400: lone ? here"},
        {R"({"error":"bad \uZZZZ"})", "rejected 400: bad ?ZZZZ"},
        {"{\"error\":\"raw \xff byte\"}", "rejected 400: raw ? byte"},
        {"{\"error\":\"ctl \x01 char\"}", "rejected 400: ctl   char"},
        // A quoted "error" inside a value is not a key.
        {R"({"message":"say \"error\": no","attributes":[]})",
         "rejected 400: say \"error\": no"},
        // Cut off by the end of what we were given.
        {R"({"error":"cut off mid)", "rejected 400: cut off mid"},
        {"{\"error\":\"cut \xc3", "rejected 400: cut ?"},
        {R"({"error":"trailing   "})", "rejected 400: trailing"},
        {R"({"error":""})", "rejected 400"},
    };
    for (const Case& k : cases) {
        const Classification c = classify(http(400, k.body));
        EXPECT_EQ(c.reason, k.reason) << k.body;
        EXPECT_TRUE(clean_utf8(c.reason)) << k.body;
    }
}

TEST(RetryClassify, ReasonNeverCarriesTheWholeBody)
{
    const std::string prefix = "rejected 422: ";
    // At most 120 bytes of Chatwoot's message.
    const std::string ascii = R"({"error":")" + std::string(300, 'x') + R"("})";
    const Classification a = classify(http(422, ascii));
    EXPECT_EQ(a.reason, prefix + std::string(120, 'x'));
    // One byte, then two-byte characters: the 60th would end at byte 121,
    // so the cut falls before it rather than through it.
    std::string body = R"({"error":"a)";
    for (int i = 0; i < 200; i++)
        body += "é";
    body += R"("})";
    const Classification c = classify(http(422, body));
    ASSERT_EQ(c.reason.substr(0, prefix.size()), prefix);
    EXPECT_EQ(c.reason.size() - prefix.size(), 119u);
    EXPECT_TRUE(clean_utf8(c.reason));

    const std::string big(3000, 'x');
    EXPECT_EQ(classify(http(500, big)).reason, "server error 500");
    EXPECT_EQ(classify(http(429, big)).reason, "throttled by Chatwoot (429)");
}

TEST(RetryClassify, Names)
{
    EXPECT_EQ(outcome_name(Outcome::success), "success");
    EXPECT_EQ(outcome_name(Outcome::retry), "retry");
    EXPECT_EQ(outcome_name(Outcome::permanent), "permanent");
    EXPECT_EQ(cause_name(Cause::ok), "ok");
    EXPECT_EQ(cause_name(Cause::network), "network");
    EXPECT_EQ(cause_name(Cause::server_error), "server_error");
    EXPECT_EQ(cause_name(Cause::throttled), "throttled");
    EXPECT_EQ(cause_name(Cause::flood_guard), "flood_guard");
    EXPECT_EQ(cause_name(Cause::unauthorized), "unauthorized");
    EXPECT_EQ(cause_name(Cause::not_found), "not_found");
    EXPECT_EQ(cause_name(Cause::rejected), "rejected");
    EXPECT_EQ(scope_name(Scope::request), "request");
    EXPECT_EQ(scope_name(Scope::conversation), "conversation");
    EXPECT_EQ(scope_name(Scope::server), "server");
}

// ---------------------------------------------------------------------------
// Retry-After

namespace {

// 2026-06-20 10:16:02 UTC, a Saturday: the CONTRACT.md test vector's time.
const system_clock::time_point kNow = system_clock::time_point(1781950562s);

std::optional<Millis> ra(std::string_view v, system_clock::time_point now = kNow)
{
    return parse_retry_after(v, now);
}

}  // namespace

TEST(RetryAfter, DeltaSeconds)
{
    EXPECT_EQ(ra("120"), Millis(120000));
    EXPECT_EQ(ra("0"), Millis(0));
    EXPECT_EQ(ra("007"), Millis(7000));
    EXPECT_EQ(ra(" \t30 "), Millis(30000));
    EXPECT_EQ(ra("3600"), Millis(3600000));
}

TEST(RetryAfter, AbsurdDeltasAreClamped)
{
    EXPECT_EQ(ra("3601"), Millis(3600000));
    EXPECT_EQ(ra("86400"), Millis(3600000));
    EXPECT_EQ(ra("99999999999999999999999999999999999999"), Millis(3600000));
    EXPECT_EQ(parse_retry_after("90", kNow, 60s), Millis(60000));
    EXPECT_EQ(parse_retry_after("90", kNow, -5s), Millis(0));
}

TEST(RetryAfter, InvalidValuesAreIgnored)
{
    for (std::string_view v :
         {"", "   ", "-5", "+5", "1.5", "5s", "5 5", "abc", "0x10", "１２",
          "Sat, 20 Jun 2026 10:17:02", "Sat, 20 Jun 2026 10:17:02 UTC",
          "Sat 20 Jun 2026 10:17:02 GMT", "Sat, 6 Jun 2026 10:17:02 GMT",
          "Sat, 20 Jun 26 10:17:02 GMT", "Sat, 20 Jux 2026 10:17:02 GMT",
          "Foo, 20 Jun 2026 10:17:02 GMT", "Sat, 20 Jun 2026 10:17:02 GMT x",
          "Sat, 20 Jun 2026 10:17 GMT", "Sat, 20 Jun 2026 1:17:02 GMT",
          // impossible dates and times
          "Mon, 30 Feb 2026 10:00:00 GMT", "Sat, 31 Jun 2026 10:00:00 GMT",
          "Sat, 00 Jun 2026 10:00:00 GMT", "Sat, 20 Jun 2026 24:00:00 GMT",
          "Sat, 20 Jun 2026 10:60:00 GMT", "Sat, 20 Jun 2026 10:00:61 GMT",
          "Saturday, 20-Jun-2026 10:17:02 GMT", "Sat, 20-Jun-26 10:17:02 GMT",
          "Sat Jun 20 10:17:02 26", "Sat Jun 20 10:17:02 2026 GMT",
          "Sat Jun   6 10:17:02 2026"})
        EXPECT_EQ(ra(v), std::nullopt) << v;
}

TEST(RetryAfter, ImfFixdate)
{
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:17:02 GMT"), Millis(60000));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 11:16:02 GMT"), Millis(3600000));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:46:02 GMT"), Millis(1800000));
    // Case folded names (the grammar says otherwise; nothing gained by refusing).
    EXPECT_EQ(ra("sat, 20 JUN 2026 10:16:12 GMT"), Millis(10000));
    // A leap second is a valid time.
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:60 GMT"), Millis(58000));
}

TEST(RetryAfter, DatesInThePastMeanNow)
{
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:02 GMT"), Millis(0));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:01 GMT"), Millis(0));
    EXPECT_EQ(ra("Sun, 06 Nov 1994 08:49:37 GMT"), Millis(0));
    EXPECT_EQ(ra("Sat, 01 Jan 0000 00:00:00 GMT"), Millis(0));
}

TEST(RetryAfter, FarFutureDatesAreClamped)
{
    EXPECT_EQ(ra("Sat, 20 Jun 2026 11:16:03 GMT"), Millis(3600000));
    EXPECT_EQ(ra("Fri, 31 Dec 9999 23:59:59 GMT"), Millis(3600000));
}

TEST(RetryAfter, SubSecondNowRoundsTheWaitUp)
{
    // Never earlier than the date: 0.25 s into the second, a date one
    // second on is 750 ms away, and 1 ns past a whole ms rounds up.
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:03 GMT", kNow + 250ms), Millis(750));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:03 GMT",
                 kNow + std::chrono::duration_cast<system_clock::duration>(
                            std::chrono::nanoseconds(250'000'001))),
              Millis(750));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 10:16:02 GMT", kNow + 999ms), Millis(0));
    // A clamped wait is exactly the maximum even with a fraction.
    EXPECT_EQ(ra("Sat, 20 Jun 2026 11:16:03 GMT", kNow + 1ms), Millis(3600000));
    EXPECT_EQ(ra("Sat, 20 Jun 2026 11:16:02 GMT", kNow + 1ms), Millis(3599999));
}

TEST(RetryAfter, Rfc850Date)
{
    EXPECT_EQ(ra("Saturday, 20-Jun-26 10:17:02 GMT"), Millis(60000));
    EXPECT_EQ(ra("saturday, 20-jun-26 10:17:02 GMT"), Millis(60000));
    // The RFC's own example: read as 1994.
    EXPECT_EQ(ra("Sunday, 06-Nov-94 08:49:37 GMT"), Millis(0));
}

TEST(RetryAfter, Rfc850TwoDigitYearsMoreThanFiftyYearsAheadAreInThePast)
{
    // From 2026: "76" is 2076, exactly 50 years ahead (a future date,
    // clamped); "77" would be 51 years ahead, so it is 1977 (past).
    EXPECT_EQ(ra("Monday, 20-Jun-76 10:17:02 GMT"), Millis(3600000));
    EXPECT_EQ(ra("Monday, 20-Jun-77 10:17:02 GMT"), Millis(0));
    // From 2090, "10" is 2110, more than 50 years ahead: 2010, in the past.
    const auto in_2090 = system_clock::time_point(
        std::chrono::sys_days(std::chrono::year(2090) / 1 / 1).time_since_epoch());
    EXPECT_EQ(ra("Friday, 01-Jan-90 00:00:10 GMT", in_2090), Millis(10000));
    EXPECT_EQ(ra("Friday, 01-Jan-10 00:00:10 GMT", in_2090), Millis(0));
}

TEST(RetryAfter, AsctimeDate)
{
    EXPECT_EQ(ra("Sat Jun 20 10:17:02 2026"), Millis(60000));
    // Single-digit days are space-padded; two digits are accepted too.
    const auto june6 = system_clock::time_point(1780740000s);  // 2026-06-06 10:00:00
    EXPECT_EQ(ra("Sat Jun  6 10:00:30 2026", june6), Millis(30000));
    EXPECT_EQ(ra("Sat Jun 06 10:00:30 2026", june6), Millis(30000));
}

TEST(RetryAfter, ExtremeNowDoesNotOverflow)
{
    EXPECT_EQ(ra("Fri, 31 Dec 9999 23:59:59 GMT", system_clock::time_point::min()),
              Millis(3600000));
    EXPECT_EQ(ra("Thu, 01 Jan 1970 00:00:00 GMT", system_clock::time_point::max()),
              Millis(0));
    EXPECT_EQ(ra("120", system_clock::time_point::max()), Millis(120000));
    // The two-digit-year rule reads the current year from `now`: 1694 seen
    // from 1677, 2294 seen from 2262, both ahead.
    EXPECT_EQ(ra("Sunday, 06-Nov-94 08:49:37 GMT", system_clock::time_point::min()),
              Millis(3600000));
    EXPECT_EQ(ra("Sunday, 06-Nov-94 08:49:37 GMT", system_clock::time_point::max()),
              Millis(3600000));
}

// ---------------------------------------------------------------------------
// Backoff

TEST(Backoff, NetworkAndServerCeilingsDoubleFromHalfASecondToAMinute)
{
    const Backoff b;
    const std::vector<int64_t> want{500, 500, 1000, 2000, 4000, 8000,
                                    16000, 32000, 60000, 60000};
    for (Cause cause : {Cause::network, Cause::server_error})
        for (unsigned attempt = 0; attempt < want.size(); attempt++)
            EXPECT_EQ(b.ceiling(attempt, cause).count(), want[attempt])
                << cause_name(cause) << " " << attempt;
    EXPECT_EQ(b.ceiling(1000, Cause::network), 60s);
    EXPECT_EQ(b.ceiling(UINT_MAX, Cause::network), 60s);
}

TEST(Backoff, ThrottleCeilingsStartAtAQuarterWindowAndStopAtTheWindow)
{
    const Backoff b;
    for (Cause cause : {Cause::throttled, Cause::flood_guard}) {
        EXPECT_EQ(b.ceiling(1, cause), 15s);
        EXPECT_EQ(b.ceiling(2, cause), 30s);
        EXPECT_EQ(b.ceiling(3, cause), 60s);
        EXPECT_EQ(b.ceiling(4, cause), 60s);
        EXPECT_EQ(b.ceiling(UINT_MAX, cause), 60s);
    }
}

TEST(Backoff, DrawSpansFloorToCeiling)
{
    const Backoff b;
    constexpr uint64_t kMax = UINT64_MAX;
    EXPECT_EQ(b.delay(1, Cause::network, std::nullopt, 0), 0ms);
    EXPECT_EQ(b.delay(1, Cause::network, std::nullopt, kMax), 500ms);
    EXPECT_EQ(b.delay(1, Cause::network, std::nullopt, kMax / 2), 250ms);
    EXPECT_EQ(b.delay(9, Cause::server_error, std::nullopt, kMax), 60s);
    // Throttles never retry within the first second.
    EXPECT_EQ(b.delay(1, Cause::throttled, std::nullopt, 0), 1s);
    EXPECT_EQ(b.delay(1, Cause::throttled, std::nullopt, kMax), 15s);
    EXPECT_EQ(b.delay(5, Cause::flood_guard, std::nullopt, 0), 1s);
    EXPECT_EQ(b.delay(5, Cause::flood_guard, std::nullopt, kMax), 60s);
}

TEST(Backoff, DelayIsMonotoneInTheDraw)
{
    const Backoff b;
    Millis prev(0);
    for (uint64_t k = 0; k <= 64; k++) {
        const uint64_t draw = k == 64 ? UINT64_MAX : (UINT64_MAX / 64) * k;
        const Millis d = b.delay(4, Cause::network, std::nullopt, draw);
        EXPECT_GE(d, prev);
        prev = d;
    }
    EXPECT_EQ(prev, 4s);
}

TEST(Backoff, RetryAfterIsAFloorEvenAboveTheCap)
{
    const Backoff b;
    EXPECT_EQ(b.delay(1, Cause::network, Millis(10000), 0), 10s);
    EXPECT_EQ(b.delay(1, Cause::network, Millis(10000), UINT64_MAX), 10s);
    EXPECT_EQ(b.delay(9, Cause::network, Millis(10000), UINT64_MAX), 60s);
    EXPECT_EQ(b.delay(1, Cause::throttled, 30min, 0), 30min);
    EXPECT_EQ(b.delay(1, Cause::server_error, Millis(0), UINT64_MAX), 500ms);
    // Whoever parsed it, a Retry-After cannot exceed the policy's maximum
    // nor be negative.
    EXPECT_EQ(b.delay(1, Cause::throttled, 5h, 0), 1h);
    EXPECT_EQ(b.delay(1, Cause::network, Millis(-5000), 0), 0ms);
}

TEST(Backoff, CausesThatAreNotRetriedHaveNoDelay)
{
    const Backoff b;
    for (Cause c : {Cause::ok, Cause::unauthorized, Cause::not_found, Cause::rejected}) {
        EXPECT_EQ(b.delay(3, c, 10s, UINT64_MAX), 0ms) << cause_name(c);
        EXPECT_EQ(b.ceiling(3, c), 0ms) << cause_name(c);
    }
}

TEST(Backoff, OddPoliciesStaySane)
{
    BackoffPolicy p;
    p.network = Schedule{Millis::max(), 10s, 0ms};     // base above the cap
    p.server_error = Schedule{1s, 2s, 5s};              // floor above the cap
    p.throttled = Schedule{-1s, -1s, -1s};              // nonsense: all zero
    p.flood_guard = Schedule{0ms, 60s, 0ms};            // zero base stays zero
    const Backoff b(p);
    EXPECT_EQ(b.ceiling(1, Cause::network), 10s);
    EXPECT_EQ(b.delay(1, Cause::server_error, std::nullopt, 0), 5s);
    EXPECT_EQ(b.delay(7, Cause::server_error, std::nullopt, UINT64_MAX), 5s);
    EXPECT_EQ(b.delay(3, Cause::throttled, std::nullopt, UINT64_MAX), 0ms);
    EXPECT_EQ(b.ceiling(50, Cause::flood_guard), 0ms);
}

TEST(Backoff, FullJitterIsUniformOverTheInterval)
{
    const Backoff b;
    std::mt19937 rng(12345);
    constexpr int kDraws = 100000;
    constexpr int kBuckets = 10;
    struct Case {
        Cause cause;
        unsigned attempt;
        int64_t lo, hi;
    };
    for (const Case k : {Case{Cause::network, 3, 0, 2000},
                         Case{Cause::server_error, 20, 0, 60000},
                         Case{Cause::throttled, 1, 1000, 15000}}) {
        std::array<int, kBuckets> counts{};
        int64_t min = INT64_MAX, max = INT64_MIN;
        double sum = 0;
        for (int i = 0; i < kDraws; i++) {
            const int64_t d =
                b.next_delay(k.attempt, k.cause, std::nullopt, rng).count();
            ASSERT_GE(d, k.lo);
            ASSERT_LE(d, k.hi);
            min = std::min(min, d);
            max = std::max(max, d);
            sum += double(d);
            const int bucket = int((d - k.lo) * kBuckets / (k.hi - k.lo + 1));
            counts[size_t(bucket)]++;
        }
        const double span = double(k.hi - k.lo);
        // Both ends are reached, and the mean sits in the middle.
        EXPECT_LT(double(min - k.lo), span * 0.001) << cause_name(k.cause);
        EXPECT_LT(double(k.hi - max), span * 0.001) << cause_name(k.cause);
        EXPECT_NEAR(sum / kDraws, double(k.lo + k.hi) / 2, span * 0.01)
            << cause_name(k.cause);
        // Each tenth holds a tenth, give or take 5 standard deviations.
        for (int c : counts)
            EXPECT_NEAR(c, kDraws / kBuckets, 500) << cause_name(k.cause);
    }
}

TEST(Backoff, SameSeedSameDelays)
{
    const Backoff b;
    std::mt19937 a(7), c(7);
    std::mt19937_64 a64(7), c64(7);
    for (unsigned attempt = 1; attempt < 50; attempt++) {
        EXPECT_EQ(b.next_delay(attempt, Cause::network, std::nullopt, a),
                  b.next_delay(attempt, Cause::network, std::nullopt, c));
        EXPECT_EQ(b.next_delay(attempt, Cause::throttled, std::nullopt, a64),
                  b.next_delay(attempt, Cause::throttled, std::nullopt, c64));
    }
}

namespace {

// A generator with a narrow range that counts its calls and returns a
// scripted pattern: shows how draw64 assembles 64 bits.
struct ByteGenerator {
    using result_type = uint8_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return 255; }
    int calls = 0;
    result_type operator()() { return result_type(0x10 + calls++); }
};

struct Fixed64 {
    using result_type = uint64_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return UINT64_MAX; }
    uint64_t value;
    result_type operator()() { return value; }
};

}  // namespace

TEST(Backoff, Draw64AssemblesBitsFromAnyPowerOfTwoGenerator)
{
    ByteGenerator bytes;
    EXPECT_EQ(draw64(bytes), 0x1011121314151617ull);
    EXPECT_EQ(bytes.calls, 8);

    std::mt19937 mt(1), copy(1);
    const uint64_t hi = copy(), lo = copy();
    EXPECT_EQ(draw64(mt), (hi << 32) | lo);

    Fixed64 top{UINT64_MAX};
    EXPECT_EQ(Backoff().next_delay(4, Cause::network, std::nullopt, top), 4s);
    Fixed64 bottom{0};
    EXPECT_EQ(Backoff().next_delay(4, Cause::throttled, std::nullopt, bottom), 1s);
}

TEST(Backoff, ChatwootThrottleScenario)
{
    // CONTRACT.md 7: 429 "Retry later" with no Retry-After.  The delays
    // for the first retries stay inside the schedule and never below 1 s.
    const Response r = http(429, "Retry later\n");
    const Classification c = classify(r);
    ASSERT_EQ(c.cause, Cause::throttled);
    const std::optional<Millis> asked =
        r.retry_after ? parse_retry_after(*r.retry_after, kNow) : std::nullopt;
    EXPECT_EQ(asked, std::nullopt);
    std::mt19937 rng(99);
    const Backoff b;
    for (unsigned attempt = 1; attempt <= 6; attempt++) {
        const Millis d = b.next_delay(attempt, c.cause, asked, rng);
        EXPECT_GE(d, 1s);
        EXPECT_LE(d, b.ceiling(attempt, c.cause));
    }
}

TEST(Backoff, ServerRetryAfterOverridesAShorterDraw)
{
    // A 503 maintenance page from a proxy asking for two minutes.
    Response r = http(503, "<html>maintenance</html>");
    r.retry_after = "120";
    const Classification c = classify(r);
    ASSERT_EQ(c.outcome, Outcome::retry);
    const std::optional<Millis> asked = parse_retry_after(*r.retry_after, kNow);
    std::mt19937 rng(3);
    for (int i = 0; i < 100; i++)
        EXPECT_EQ(Backoff().next_delay(1, c.cause, asked, rng), 120s);
}

// ---------------------------------------------------------------------------
// Giving up

namespace {

using Steady = std::chrono::steady_clock;
const Steady::time_point kStart = Steady::time_point(1000h);

Classification retry_of(Cause c)
{
    Classification k;
    k.outcome = Outcome::retry;
    k.cause = c;
    return k;
}

}  // namespace

TEST(RetryGiveUp, PermanentGivesUpAtOnceSuccessNever)
{
    for (int s : {400, 401, 403, 404, 422, 501})
        EXPECT_TRUE(should_give_up(classify(http(s)), 1, kStart, kStart)) << s;
    EXPECT_FALSE(should_give_up(classify(http(200)), 1000000, kStart, kStart + 1000h));
}

TEST(RetryGiveUp, TransientFailuresAreRetriedForeverByDefault)
{
    for (Cause c : {Cause::network, Cause::server_error, Cause::throttled,
                    Cause::flood_guard}) {
        EXPECT_FALSE(should_give_up(retry_of(c), 1, kStart, kStart));
        EXPECT_FALSE(should_give_up(retry_of(c), UINT_MAX, kStart,
                                    kStart + 24h * 365 * 10))
            << cause_name(c);
    }
    EXPECT_FALSE(should_give_up(classify(http(429, "Retry later\n")), 500, kStart,
                                kStart + 48h));
    EXPECT_FALSE(should_give_up(classify(http(500)), 500, kStart, kStart + 48h));
    EXPECT_FALSE(should_give_up(classify(transport(TransportError::timeout)), 500,
                                kStart, kStart + 48h));
}

TEST(RetryGiveUp, AttemptLimitPerCause)
{
    GiveUpPolicy p;
    p.server_error.max_attempts = 5;  // e.g. deterministic 500s
    const Classification c = classify(http(500));
    EXPECT_FALSE(should_give_up(c, 4, kStart, kStart, p));
    EXPECT_TRUE(should_give_up(c, 5, kStart, kStart, p));
    EXPECT_TRUE(should_give_up(c, 6, kStart, kStart, p));
    // Other causes keep their own (absent) limits.
    EXPECT_FALSE(should_give_up(classify(http(429)), 50, kStart, kStart, p));
    EXPECT_FALSE(should_give_up(classify(transport(TransportError::reset)), 50,
                                kStart, kStart, p));
}

TEST(RetryGiveUp, ElapsedLimit)
{
    GiveUpPolicy p;
    p.network.max_elapsed = 10min;
    const Classification c = classify(transport(TransportError::connect));
    EXPECT_FALSE(should_give_up(c, 3, kStart, kStart + 10min - 1ms, p));
    EXPECT_FALSE(should_give_up(c, 3, kStart, kStart + 10min - std::chrono::nanoseconds(1), p));
    EXPECT_TRUE(should_give_up(c, 3, kStart, kStart + 10min, p));
    EXPECT_TRUE(should_give_up(c, 3, kStart, kStart + 100h, p));
    // Going backwards is no time at all.
    EXPECT_FALSE(should_give_up(c, 3, kStart, kStart - 100h, p));
}

TEST(RetryGiveUp, WorksWithTheWallClockAndExtremeTimePoints)
{
    GiveUpPolicy p;
    p.flood_guard.max_elapsed = 1h;
    const Classification c = classify(http(422, "Too many messages"));
    EXPECT_FALSE(should_give_up(c, 1, kNow, kNow + 59min, p));
    EXPECT_TRUE(should_give_up(c, 1, kNow, kNow + 61min, p));
    // Seconds-resolution time points from the store.
    const auto stored = std::chrono::time_point_cast<std::chrono::seconds>(kNow);
    EXPECT_TRUE(should_give_up(c, 1, stored, stored + 3600s, p));
    EXPECT_FALSE(should_give_up(c, 1, stored, stored + 3599s, p));
    // No overflow at the ends of the clock.
    EXPECT_TRUE(should_give_up(c, 1, Steady::time_point::min(),
                               Steady::time_point::max(), p));
    EXPECT_FALSE(should_give_up(c, 1, Steady::time_point::max(),
                                Steady::time_point::min(), p));
    using Hours = std::chrono::time_point<Steady, std::chrono::hours>;
    EXPECT_TRUE(should_give_up(c, 1, Hours::min(), Hours::max(), p));
    EXPECT_EQ(elapsed_msec(Hours::min(), Hours::max()), UINT64_MAX);
    EXPECT_EQ(elapsed_msec(kStart, kStart + 1500us), 1u);
}

TEST(RetryGiveUp, LimitsExistOnlyForRetryableCauses)
{
    const GiveUpPolicy p;
    EXPECT_EQ(give_up_limit(p, Cause::network), &p.network);
    EXPECT_EQ(give_up_limit(p, Cause::server_error), &p.server_error);
    EXPECT_EQ(give_up_limit(p, Cause::throttled), &p.throttled);
    EXPECT_EQ(give_up_limit(p, Cause::flood_guard), &p.flood_guard);
    for (Cause c : {Cause::ok, Cause::unauthorized, Cause::not_found, Cause::rejected})
        EXPECT_EQ(give_up_limit(p, c), nullptr);
}
