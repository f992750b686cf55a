// The chatwoot_inbox block's rules: each directive's good and bad values,
// what a block must say, the defaults it gets, and the error texts nginx -t
// shows (t/config.t checks the same texts through nginx).
#include "config/inbox_config.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "chatwoot_inbox_conf.h"

using namespace chatwoot::config;

namespace {

using Line = std::initializer_list<std::string_view>;

// A directive as written: its name, then its arguments.
std::optional<std::string> add(InboxConfigParser& p, Line line,
                               const std::string_view* file = nullptr)
{
    std::vector<std::string_view> v(line);
    return p.add(v.front(), std::span(v).subspan(1), file);
}

// A parser with the lines every block must have.
void complete(InboxConfigParser& p)
{
    ASSERT_FALSE(add(p, {"url", "http://chatwoot.example"}));
    ASSERT_FALSE(add(p, {"account", "1"}));
    ASSERT_FALSE(add(p, {"inbox", "7"}));
    ASSERT_FALSE(add(p, {"api_token", "t"}));
}

// The error of one line in a fresh block named "x".
std::string error_of(Line line)
{
    InboxConfigParser p("x");
    auto e = add(p, line);
    return e.value_or("(accepted)");
}

bool accepted(Line line)
{
    InboxConfigParser p("x");
    return !add(p, line);
}

}  // namespace

TEST(InboxConfig, Defaults)
{
    InboxConfigParser p("main");
    complete(p);
    ASSERT_FALSE(add(p, {"webhook_secret", "s"}));
    ASSERT_FALSE(p.finish());
    EXPECT_FALSE(p.warning());

    const cw_inbox_conf_t& c = p.conf();
    EXPECT_STREQ(c.name, "main");
    EXPECT_STREQ(c.url, "http://chatwoot.example");
    EXPECT_STREQ(c.api_token, "t");
    EXPECT_EQ(c.account_id, 1);
    EXPECT_EQ(c.inbox_id, 7);
    EXPECT_EQ(c.inbox_name, nullptr);
    EXPECT_EQ(c.inbox_create_webhook, nullptr);
    EXPECT_EQ(c.check_interval_msec, 60'000u);
    EXPECT_EQ(c.device_timeout_sec, 300u);
    EXPECT_EQ(c.concurrency, 8u);
    EXPECT_EQ(c.rate, 0u);
    EXPECT_EQ(c.reopen_resolved, 1);
    EXPECT_EQ(c.open_as_pending, 0);
    EXPECT_EQ(c.ignore_groups, 0);
    EXPECT_EQ(c.control_conversation, 1) << "on unless the block says off";
    EXPECT_EQ(c.control_throttle_sec, 60u) << "a minute";
    EXPECT_EQ(c.agent_signature, 1);
    EXPECT_STREQ(c.signature_delimiter, "\n\n");
    EXPECT_EQ(c.throttle_base_msec, 0u) << "the REST client's own policy";
    EXPECT_EQ(c.throttle_cap_msec, 0u);
    EXPECT_EQ(c.synthetic_device, nullptr);
    EXPECT_EQ(c.ignore_jids_n, 0u);
    EXPECT_EQ(std::string_view(c.webhook_secret.data, c.webhook_secret.len), "s");
    EXPECT_EQ(c.webhook_token.data, nullptr);
}

TEST(InboxConfig, EverySettingReachesTheConf)
{
    InboxConfigParser p("full");
    std::string_view secret_file = "from-a-file\n\n";
    ASSERT_FALSE(add(p, {"url", "https://chatwoot.example.com/", "check=5m"}));
    ASSERT_FALSE(add(p, {"account", "3"}));
    ASSERT_FALSE(add(p, {"inbox", "name=WhatsApp", "create=https://bridge.example/w?token=k"}));
    ASSERT_FALSE(add(p, {"api_token_file", "/etc/token"}, &secret_file));
    ASSERT_FALSE(add(p, {"webhook_token", "k"}));
    ASSERT_FALSE(add(p, {"agent_signature", "on", "delimiter=--"}));
    ASSERT_FALSE(add(p, {"reopen_resolved", "OFF"}));
    ASSERT_FALSE(add(p, {"open_as_pending", "on"}));
    ASSERT_FALSE(add(p, {"ignore_groups", "On"}));
    ASSERT_FALSE(add(p, {"control_conversation", "off"}));
    ASSERT_FALSE(add(p, {"ignore_jids", "5511999999999@s.whatsapp.net"}));
    ASSERT_FALSE(add(p, {"ignore_jids", "120363000000000000@g.us"}));
    ASSERT_FALSE(add(p, {"synthetic_device", "/var/lib/dev"}));
    ASSERT_FALSE(add(p, {"throttle_backoff", "1s", "30s"}));
    ASSERT_FALSE(add(p, {"device_timeout", "30s"}));
    ASSERT_FALSE(add(p, {"concurrency", "32"}));
    ASSERT_FALSE(add(p, {"rate", "20r/s"}));
    ASSERT_FALSE(p.finish());

    const cw_inbox_conf_t& c = p.conf();
    EXPECT_EQ(c.check_interval_msec, 300'000u);
    EXPECT_EQ(c.account_id, 3);
    EXPECT_EQ(c.inbox_id, 0) << "looked up by name";
    EXPECT_STREQ(c.inbox_name, "WhatsApp");
    EXPECT_STREQ(c.inbox_create_webhook, "https://bridge.example/w?token=k");
    EXPECT_STREQ(c.api_token, "from-a-file") << "trailing whitespace trimmed";
    EXPECT_EQ(std::string_view(c.webhook_token.data, c.webhook_token.len), "k");
    EXPECT_EQ(c.webhook_secret.data, nullptr);
    EXPECT_STREQ(c.signature_delimiter, "--");
    EXPECT_EQ(c.reopen_resolved, 0);
    EXPECT_EQ(c.open_as_pending, 1);
    EXPECT_EQ(c.ignore_groups, 1);
    EXPECT_EQ(c.control_conversation, 0);
    ASSERT_EQ(c.ignore_jids_n, 2u);
    EXPECT_STREQ(c.ignore_jids[0], "5511999999999@s.whatsapp.net");
    EXPECT_STREQ(c.ignore_jids[1], "120363000000000000@g.us");
    EXPECT_STREQ(c.synthetic_device, "/var/lib/dev");
    EXPECT_EQ(c.throttle_base_msec, 1000u);
    EXPECT_EQ(c.throttle_cap_msec, 30'000u);
    EXPECT_EQ(c.device_timeout_sec, 30u);
    EXPECT_EQ(c.concurrency, 32u);
    EXPECT_EQ(c.rate, 20u);
}

TEST(InboxConfig, WhatABlockMustSay)
{
    auto missing = [](std::string_view leave_out) {
        InboxConfigParser p("x");
        for (Line line : {Line{"url", "http://a.example"}, Line{"account", "1"}, Line{"inbox", "7"},
                          Line{"api_token", "t"}}) {
            if (*line.begin() != leave_out) {
                EXPECT_FALSE(add(p, line));
            }
        }
        return p.finish().value_or("(complete)");
    };
    EXPECT_EQ(missing("url"), R"(chatwoot_inbox "x" needs "url")");
    EXPECT_EQ(missing("account"), R"(chatwoot_inbox "x" needs "account")");
    EXPECT_EQ(missing("inbox"), R"(chatwoot_inbox "x" needs "inbox")");
    EXPECT_EQ(missing("api_token"), R"(chatwoot_inbox "x" needs "api_token" or "api_token_file")");
    EXPECT_EQ(missing("nothing"), "(complete)");
}

TEST(InboxConfig, WarnsWhenTheWebhookCanNeverBeAuthenticated)
{
    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(p.finish());
    ASSERT_TRUE(p.warning());
    EXPECT_EQ(*p.warning(), R"(chatwoot_inbox "x" has neither "webhook_secret" nor )"
                            R"("webhook_token": its webhook refuses every request)");
}

TEST(InboxConfig, BlockName)
{
    EXPECT_FALSE(InboxConfigParser("main-2_b").name_error());
    EXPECT_EQ(InboxConfigParser("a b").name_error().value_or(""),
              R"(invalid chatwoot_inbox name "a b": use letters, digits, "_" and "-")");
    EXPECT_TRUE(InboxConfigParser("").name_error());
}

TEST(InboxConfig, DispatchIsByFullName)
{
    EXPECT_EQ(error_of({"colour", "blue"}), R"(unknown directive "colour" in chatwoot_inbox "x")");
    // names that share a first letter or a prefix with real ones
    EXPECT_EQ(error_of({"api", "t"}), R"(unknown directive "api" in chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"urls", "http://a.example"}),
              R"(unknown directive "urls" in chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"reopen", "on"}), R"(unknown directive "reopen" in chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"webhook_secretx", "s"}),
              R"(unknown directive "webhook_secretx" in chatwoot_inbox "x")");
}

TEST(InboxConfig, ArgumentCounts)
{
    EXPECT_EQ(error_of({"account", "1", "2"}),
              R"(invalid number of arguments in "account" of chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"url"}), R"(invalid number of arguments in "url" of chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"throttle_backoff", "1s"}),
              R"(invalid number of arguments in "throttle_backoff" of chatwoot_inbox "x")");
    EXPECT_EQ(error_of({"api_token_file", "a", "b"}),
              R"(invalid number of arguments in "api_token_file" of chatwoot_inbox "x")");
}

TEST(InboxConfig, Url)
{
    EXPECT_TRUE(accepted({"url", "HTTPS://chatwoot.example"}));
    EXPECT_TRUE(accepted({"url", "http://127.0.0.1:3000", "check=1s"}));
    EXPECT_EQ(error_of({"url", "ftp://chatwoot.example"}),
              R"(invalid Chatwoot URL "ftp://chatwoot.example", it must start with "http://" or "https://")");
    EXPECT_TRUE(error_of({"url", "http://"}).starts_with(R"(invalid Chatwoot URL "http://")"));
    EXPECT_TRUE(error_of({"url", "http://a b"}).starts_with(R"(invalid Chatwoot URL "http://a b")"));
    EXPECT_EQ(error_of({"url", "http://a.example", "check=100ms"}),
              R"(invalid check interval "check=100ms", it must be 1s or more)");
    EXPECT_EQ(error_of({"url", "http://a.example", "check=soon"}),
              R"(invalid check interval "check=soon", it must be 1s or more)");
    EXPECT_EQ(error_of({"url", "http://a.example", "every=5s"}), R"(invalid parameter "every=5s")");

    InboxConfigParser p("x");
    ASSERT_FALSE(add(p, {"url", "http://a.example"}));
    EXPECT_EQ(add(p, {"url", "http://b.example"}).value_or(""),
              R"("url" of chatwoot_inbox "x" is duplicate)");
}

TEST(InboxConfig, Inbox)
{
    EXPECT_TRUE(accepted({"inbox", "7"}));
    EXPECT_TRUE(accepted({"inbox", "name=WhatsApp"}));
    EXPECT_TRUE(accepted({"inbox", "name=WA", "create=http://bridge.example/w"}));
    EXPECT_EQ(error_of({"inbox", "0"}),
              R"(invalid inbox "0": an id (a positive number) or name=<name>)");
    EXPECT_EQ(error_of({"inbox", "-3"}),
              R"(invalid inbox "-3": an id (a positive number) or name=<name>)");
    EXPECT_EQ(error_of({"inbox", "name="}),
              R"(invalid inbox "name=": an id (a positive number) or name=<name>)");
    EXPECT_EQ(error_of({"inbox", "name=" + std::string(256, 'n')}),
              R"(invalid inbox name ")" + std::string(256, 'n') + R"(": at most 255 characters)");
    EXPECT_EQ(error_of({"inbox", "7", "create=http://bridge.example/w"}),
              R"("create=http://bridge.example/w" needs an inbox given by name=<name>)");
    EXPECT_EQ(error_of({"inbox", "name=WA", "create=ftp://bridge.example/w"}),
              R"(invalid webhook URL "ftp://bridge.example/w": an http:// or https:// URL of )"
              R"(at most 2048 characters, where Chatwoot reaches this nginx's chatwoot_webhook)");
    EXPECT_EQ(error_of({"inbox", "name=WA", "make=yes"}), R"(invalid parameter "make=yes")");
    std::string long_url = "http://b.example/" + std::string(2048, 'w');
    EXPECT_TRUE(error_of({"inbox", "name=WA", "create=" + long_url}).starts_with("invalid webhook URL"));

    InboxConfigParser p("x");
    ASSERT_FALSE(add(p, {"inbox", "name=WhatsApp"}));
    EXPECT_EQ(add(p, {"inbox", "7"}).value_or(""), R"("inbox" of chatwoot_inbox "x" is duplicate)");
}

TEST(InboxConfig, Account)
{
    EXPECT_TRUE(accepted({"account", "12"}));
    EXPECT_EQ(error_of({"account", "one"}), R"(invalid account id "one": a positive number)");
    EXPECT_EQ(error_of({"account", "0"}), R"(invalid account id "0": a positive number)");
    EXPECT_EQ(error_of({"account", "99999999999999999999999"}),
              R"(invalid account id "99999999999999999999999": a positive number)");
}

TEST(InboxConfig, Secrets)
{
    EXPECT_TRUE(accepted({"api_token", "abc"}));
    EXPECT_TRUE(accepted({"webhook_secret", "s"}));
    EXPECT_TRUE(accepted({"webhook_token", "k"}));
    EXPECT_EQ(error_of({"api_token", ""}), R"(invalid "api_token" in chatwoot_inbox "x": empty or too long)");
    EXPECT_EQ(error_of({"webhook_token", std::string(4097, 'k')}),
              R"(invalid "webhook_token" in chatwoot_inbox "x": empty or too long)");
    EXPECT_TRUE(accepted({"webhook_token", std::string(4096, 'k')}));
    EXPECT_EQ(error_of({"api_token", "a\r\nX-Evil: 1"}),
              R"(invalid "api_token" in chatwoot_inbox "x": it has control characters)");

    std::string_view empty = " \n";
    std::string big(4097, 's');
    std::string_view big_view = big;
    std::string_view inner_newline = "abc\ndef\n";
    InboxConfigParser p("x");
    EXPECT_EQ(add(p, {"webhook_secret_file", "/etc/s"}, &empty).value_or(""),
              R"(secret file "/etc/s" is empty or over 4096 bytes)");
    InboxConfigParser q("x");
    EXPECT_EQ(add(q, {"webhook_secret_file", "/etc/s"}, &big_view).value_or(""),
              R"(secret file "/etc/s" is empty or over 4096 bytes)");
    InboxConfigParser r("x");
    EXPECT_EQ(add(r, {"webhook_secret_file", "/etc/s"}, &inner_newline).value_or(""),
              R"(secret file "/etc/s" has control characters)");

    for (auto [first, second, what] :
         {std::tuple{"webhook_secret", "webhook_secret_file", "webhook secret"},
          std::tuple{"api_token_file", "api_token", "API token"},
          std::tuple{"webhook_token", "webhook_token", "webhook token"}}) {
        InboxConfigParser twice("x");
        std::string_view content = "c";
        ASSERT_FALSE(add(twice, {first, "a"}, &content));
        EXPECT_EQ(add(twice, {second, "b"}, &content).value_or(""),
                  std::string("the ") + what + R"( of chatwoot_inbox "x" is set twice)");
    }
}

TEST(InboxConfig, Flags)
{
    for (auto name : {"reopen_resolved", "open_as_pending", "ignore_groups", "agent_signature",
                      "control_conversation"}) {
        EXPECT_TRUE(accepted({name, "on"})) << name;
        EXPECT_TRUE(accepted({name, "off"})) << name;
        EXPECT_EQ(error_of({name, "yes"}), R"(invalid value "yes", it must be "on" or "off")")
            << name;
    }
    EXPECT_EQ(error_of({"agent_signature", "on", "delim=--"}), R"(invalid parameter "delim=--")");
    EXPECT_EQ(error_of({"agent_signature", "maybe", "delimiter=--"}),
              R"(invalid value "maybe", it must be "on" or "off")");

    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(add(p, {"agent_signature", "off", "delimiter="}));
    ASSERT_FALSE(p.finish());
    EXPECT_EQ(p.conf().agent_signature, 0);
    EXPECT_STREQ(p.conf().signature_delimiter, "");
}

TEST(InboxConfig, IgnoreJids)
{
    EXPECT_EQ(error_of({"ignore_jids", "5511999"}),
              R"(invalid JID "5511999" in ignore_jids, e.g. 5511999999999@s.whatsapp.net or 120363000000000000@g.us)");

    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(add(p, {"ignore_jids", "a@s.whatsapp.net"}));
    ASSERT_TRUE(add(p, {"ignore_jids", "b@s.whatsapp.net", "nope"}));
    // a refused line is all refused (nginx -t fails anyway; the conf stays whole)
    EXPECT_EQ(p.settings().ignore_jids.size(), 1u);
}

TEST(InboxConfig, TimesAndCounts)
{
    EXPECT_EQ(error_of({"device_timeout", "0"}), R"(invalid device_timeout "0", e.g. "5m")");
    EXPECT_EQ(error_of({"device_timeout", "500ms"}), R"(invalid device_timeout "500ms", e.g. "5m")");
    EXPECT_TRUE(accepted({"device_timeout", "1h 30m"}));

    EXPECT_EQ(error_of({"throttle_backoff", "10s", "1s"}),
              R"(invalid throttle_backoff "10s 1s", e.g. "15s 60s" (first wait, longest wait))");
    EXPECT_EQ(error_of({"throttle_backoff", "0", "1s"}),
              R"(invalid throttle_backoff "0 1s", e.g. "15s 60s" (first wait, longest wait))");
    EXPECT_TRUE(accepted({"throttle_backoff", "500ms", "500ms"}));

    EXPECT_EQ(error_of({"concurrency", "0"}), R"(invalid concurrency "0", it must be 1 to 256)");
    EXPECT_EQ(error_of({"concurrency", "257"}), R"(invalid concurrency "257", it must be 1 to 256)");
    EXPECT_TRUE(accepted({"concurrency", "256"}));

    EXPECT_EQ(error_of({"synthetic_device", ""}), R"(invalid synthetic_device "", a directory)");
}

TEST(InboxConfig, RateIsExactlyRequestsPerSecond)
{
    EXPECT_TRUE(accepted({"rate", "10r/s"}));
    EXPECT_TRUE(accepted({"rate", "1r/s"}));
    for (auto bad : {"fast", "10r/sX", "10r/ss", "10r/m", "r/s", "0r/s", "10", "-1r/s", "10 r/s"}) {
        EXPECT_EQ(error_of({"rate", bad}), std::string("invalid rate \"") + bad + R"(", e.g. "10r/s")")
            << bad;
    }
}

TEST(InboxConfig, NginxTimeSyntax)
{
    EXPECT_EQ(parse_time("90", false), 90'000u) << "a bare number is seconds";
    EXPECT_EQ(parse_time("90", true), 90u);
    EXPECT_EQ(parse_time("500ms", false), 500u);
    EXPECT_EQ(parse_time("1m 30s", false), 90'000u);
    EXPECT_EQ(parse_time("1h30m", true), 5400u);
    EXPECT_EQ(parse_time("2d", true), 172'800u);
    EXPECT_EQ(parse_time("1y", true), 31'536'000u);
    EXPECT_FALSE(parse_time("1y", false)) << "years and months only in seconds";
    EXPECT_FALSE(parse_time("500ms", true));
    EXPECT_FALSE(parse_time("30s 1m", true)) << "largest unit first";
    EXPECT_FALSE(parse_time("1s1s", true));
    EXPECT_FALSE(parse_time("", true));
    EXPECT_FALSE(parse_time("s", true));
    EXPECT_FALSE(parse_time("5x", true));
    EXPECT_FALSE(parse_time("99999999999999999999", true));
    EXPECT_EQ(parse_number("42"), 42u);
    EXPECT_FALSE(parse_number("+42"));
    EXPECT_FALSE(parse_number(""));
}

TEST(InboxConfig, CFace)
{
    auto str = [](std::string_view s) { return cw_str_t{s.data(), s.size()}; };

    cw_inbox_parser_t* bad = cw_inbox_parser_create(str("a b"));
    ASSERT_NE(bad, nullptr);
    EXPECT_STREQ(cw_inbox_parser_error(bad),
                 R"(invalid chatwoot_inbox name "a b": use letters, digits, "_" and "-")");
    cw_inbox_parser_destroy(bad);

    cw_inbox_parser_t* p = cw_inbox_parser_create(str("main"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(cw_inbox_parser_error(p), nullptr);

    cw_str_t url[] = {str("url"), str("http://a.example")};
    cw_str_t account[] = {str("account"), str("2")};
    cw_str_t inbox[] = {str("inbox"), str("9")};
    cw_str_t token_file[] = {str("api_token_file"), str("/etc/t")};
    cw_str_t content = str("tok\n");
    EXPECT_EQ(cw_inbox_parser_add(p, url, 2, nullptr), 0);
    EXPECT_EQ(cw_inbox_parser_add(p, account, 2, nullptr), 0);
    EXPECT_EQ(cw_inbox_parser_add(p, inbox, 2, nullptr), 0);
    EXPECT_EQ(cw_inbox_parser_add(p, token_file, 2, &content), 0);

    cw_inbox_conf_t conf{};
    ASSERT_EQ(cw_inbox_parser_finish(p, &conf), 0) << cw_inbox_parser_error(p);
    EXPECT_STREQ(conf.api_token, "tok");
    EXPECT_EQ(conf.inbox_id, 9);
    EXPECT_NE(cw_inbox_parser_warning(p), nullptr);
    cw_inbox_parser_destroy(p);

    cw_inbox_parser_t* q = cw_inbox_parser_create(str("q"));
    cw_str_t rate[] = {str("rate"), str("10r/sX")};
    EXPECT_EQ(cw_inbox_parser_add(q, rate, 2, nullptr), -1);
    EXPECT_STREQ(cw_inbox_parser_error(q), R"(invalid rate "10r/sX", e.g. "10r/s")");
    cw_inbox_parser_destroy(q);
}

// The WhatsApp session's directives: defaults, each bad form refused with
// a text naming the directive and the value, and the conf the helper gets.

namespace {

// A complete block "w" with `lines` added, finished: the error or the conf.
struct Finished {
    std::optional<std::string> error;
    cw_inbox_conf_t conf{};
};

Finished finish_with(std::initializer_list<Line> lines,
                     const std::string_view* file = nullptr)
{
    static std::vector<std::unique_ptr<InboxConfigParser>> keep;   // conf points into it
    keep.push_back(std::make_unique<InboxConfigParser>("w"));
    InboxConfigParser& p = *keep.back();
    complete(p);
    Finished f;
    for (Line l : lines) {
        if (auto e = add(p, l, file)) {
            f.error = e;
            return f;
        }
    }
    f.error = p.finish();
    if (!f.error) {
        f.conf = p.conf();
    }
    return f;
}

const std::string kKey(64, 'a');
const std::string_view kPem =
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

}  // namespace

TEST(InboxConfigWhatsApp, Defaults)
{
    auto f = finish_with({});
    ASSERT_FALSE(f.error);
    EXPECT_EQ(f.conf.whatsapp, 1) << "on unless synthetic_device";
    EXPECT_STREQ(f.conf.whatsapp_server, "wss://web.whatsapp.com/ws/chat");
    // WhatsApp's root key (cert_chain.hpp), not zeros
    EXPECT_EQ(f.conf.whatsapp_root_key[0], 0x14);
    EXPECT_EQ(f.conf.whatsapp_root_key[31], 0x6b);
    EXPECT_EQ(f.conf.whatsapp_ca_file, nullptr);
    EXPECT_EQ(f.conf.whatsapp_version[0], 0u) << "auto";
    EXPECT_EQ(f.conf.whatsapp_version[1], 0u);
    EXPECT_EQ(f.conf.whatsapp_version[2], 0u);
    EXPECT_STREQ(f.conf.whatsapp_device_name, "Chatwoot (nginx)");
    EXPECT_EQ(f.conf.whatsapp_proxy, nullptr);
}

TEST(InboxConfigWhatsApp, OnOffAndTheSyntheticDevice)
{
    EXPECT_EQ(finish_with({{"synthetic_device", "/d"}}).conf.whatsapp, 0)
        << "off by default with the synthetic device";
    EXPECT_EQ(finish_with({{"whatsapp", "off"}}).conf.whatsapp, 0);
    EXPECT_EQ(finish_with({{"whatsapp", "ON"}}).conf.whatsapp, 1);
    EXPECT_EQ(finish_with({{"synthetic_device", "/d"}, {"whatsapp", "off"}}).conf.whatsapp, 0);
    EXPECT_EQ(finish_with({{"whatsapp", "on"}, {"synthetic_device", "/d"}}).error,
              "chatwoot_inbox \"w\" has both \"whatsapp on\" and \"synthetic_device\": use one");
    EXPECT_EQ(error_of({"whatsapp", "yes"}),
              "invalid whatsapp \"yes\", it must be \"on\" or \"off\"");
    EXPECT_EQ(finish_with({{"whatsapp", "on"}, {"whatsapp", "on"}}).error,
              "\"whatsapp\" of chatwoot_inbox \"w\" is duplicate");
}

TEST(InboxConfigWhatsApp, Server)
{
    auto f = finish_with({{"whatsapp_server", "wss://wa.test:8443/ws/chat", "root_key=" + kKey}});
    ASSERT_FALSE(f.error) << *f.error;
    EXPECT_STREQ(f.conf.whatsapp_server, "wss://wa.test:8443/ws/chat");
    EXPECT_EQ(f.conf.whatsapp_root_key[0], 0xaa);
    EXPECT_EQ(f.conf.whatsapp_root_key[31], 0xaa);

    // ws:// only for a test server with its own key
    std::string ws_key = "root_key=" + kKey;
    EXPECT_FALSE(finish_with({{"whatsapp_server", "ws://127.0.0.1:9/ws", ws_key}}).error);
    EXPECT_EQ(error_of({"whatsapp_server", "ws://127.0.0.1:9/ws"}),
              "whatsapp_server \"ws://127.0.0.1:9/ws\" is not TLS: \"ws://\" needs the test "
              "server's root_key=");
    EXPECT_TRUE(accepted({"whatsapp_server", "WSS://[::1]:9/ws"}));
    EXPECT_TRUE(accepted({"whatsapp_server", "wss://web.whatsapp.com/ws/chat?x=1"}));

    for (std::string_view bad : {"https://web.whatsapp.com/ws/chat", "wss://", "wss:///ws",
                                 "wss://a b/ws", "wss://host:0/ws", "wss://host:99999/",
                                 "wss://user@host/ws", "wss://[zz]/ws", "wss://host/a#b",
                                 "wss://host:/ws"}) {
        EXPECT_EQ(error_of({"whatsapp_server", bad}),
                  "invalid whatsapp_server \"" + std::string(bad)
                      + "\", e.g. \"wss://web.whatsapp.com/ws/chat\"")
            << bad;
    }
    EXPECT_EQ(error_of({"whatsapp_server", "wss://h/ws", "root_key=abc"}),
              "invalid whatsapp_server \"root_key=abc\", the server's root key as 64 hex digits");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://h/ws", "root_key=" + std::string(64, 'g')}),
              "invalid whatsapp_server \"root_key=" + std::string(64, 'g')
                  + "\", the server's root key as 64 hex digits");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://h/ws", "colour=blue"}),
              "invalid parameter \"colour=blue\" of whatsapp_server");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://h/ws", ws_key, ws_key}),
              "invalid parameter \"" + ws_key + "\" of whatsapp_server")
        << "each parameter once";
    EXPECT_EQ(finish_with({{"whatsapp_server", "wss://a/ws"}, {"whatsapp_server", "wss://b/ws"}})
                  .error,
              "\"whatsapp_server\" of chatwoot_inbox \"w\" is duplicate");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://h/" + std::string(2048, 'a')}).substr(0, 25),
              "invalid whatsapp_server \"");
}

TEST(InboxConfigWhatsApp, CaFileIsReadByTheGlueAndMustHoldACertificate)
{
    auto f = finish_with({{"whatsapp_server", "wss://wa.test/ws", "ca_file=/etc/ca.pem"}}, &kPem);
    ASSERT_FALSE(f.error) << *f.error;
    EXPECT_STREQ(f.conf.whatsapp_ca_file, "/etc/ca.pem");

    InboxConfigParser p("x");
    std::string_view junk = "not a certificate";
    EXPECT_EQ(add(p, {"whatsapp_server", "wss://wa.test/ws", "ca_file=/etc/junk"}, &junk),
              "invalid whatsapp_server \"ca_file=/etc/junk\": no PEM certificate in it (or over "
              "1 MiB)");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://wa.test/ws", "ca_file=/etc/ca.pem"}),
              "the ca_file of \"whatsapp_server\" was not read");
    EXPECT_EQ(error_of({"whatsapp_server", "wss://wa.test/ws", "ca_file="}),
              "invalid whatsapp_server \"ca_file=\", a PEM file");
}

TEST(InboxConfigWhatsApp, Version)
{
    auto f = finish_with({{"whatsapp_version", "2.3000.1029030078"}});
    ASSERT_FALSE(f.error);
    EXPECT_EQ(f.conf.whatsapp_version[0], 2u);
    EXPECT_EQ(f.conf.whatsapp_version[1], 3000u);
    EXPECT_EQ(f.conf.whatsapp_version[2], 1029030078u);
    EXPECT_TRUE(accepted({"whatsapp_version", "auto"}));
    for (std::string_view bad : {"2.3000", "2.3000.1.4", "2..1", "a.b.c", "2.3000.99999999999",
                                 "0.0.0", "Auto", "", "2.3000.-1", "2.3000.4294967296"}) {
        EXPECT_EQ(error_of({"whatsapp_version", bad}),
                  "invalid whatsapp_version \"" + std::string(bad)
                      + "\", \"auto\" or a version such as \"2.3000.1029030078\"")
            << bad;
    }
    EXPECT_EQ(finish_with({{"whatsapp_version", "auto"}, {"whatsapp_version", "auto"}}).error,
              "\"whatsapp_version\" of chatwoot_inbox \"w\" is duplicate");
}

TEST(InboxConfigWhatsApp, MediaMax)
{
    EXPECT_EQ(finish_with({}).conf.whatsapp_media_max, 64u * 1024 * 1024) << "default 64m";
    EXPECT_EQ(finish_with({{"whatsapp_media_max", "16m"}}).conf.whatsapp_media_max,
              16u * 1024 * 1024);
    EXPECT_EQ(finish_with({{"whatsapp_media_max", "512K"}}).conf.whatsapp_media_max, 512u * 1024);
    EXPECT_EQ(finish_with({{"whatsapp_media_max", "2g"}}).conf.whatsapp_media_max,
              2ull * 1024 * 1024 * 1024);
    EXPECT_EQ(finish_with({{"whatsapp_media_max", "4096"}}).conf.whatsapp_media_max, 4096u);
    for (std::string_view bad : {"", "m", "-1m", "5g", "1023", "0", "1.5m", "64mb", " 64m",
                                 "99999999999999999999"}) {
        EXPECT_EQ(error_of({"whatsapp_media_max", bad}),
                  "invalid whatsapp_media_max \"" + std::string(bad)
                      + "\": a size from 1k to 4g, e.g. \"64m\"")
            << bad;
    }
    EXPECT_EQ(finish_with({{"whatsapp_media_max", "1m"}, {"whatsapp_media_max", "2m"}}).error,
              "\"whatsapp_media_max\" of chatwoot_inbox \"w\" is duplicate");
}

TEST(InboxConfigWhatsApp, DeviceName)
{
    auto f = finish_with({{"whatsapp_device_name", "Atendimento — São Paulo"}});
    ASSERT_FALSE(f.error);
    EXPECT_STREQ(f.conf.whatsapp_device_name, "Atendimento — São Paulo");
    EXPECT_TRUE(accepted({"whatsapp_device_name", std::string(64, 'n')}));
    const std::string too_long(65, 'n');
    for (std::string_view bad : {std::string_view(""), std::string_view(too_long),
                                 std::string_view("a\nb"), std::string_view("\xc3\x28")}) {
        EXPECT_EQ(error_of({"whatsapp_device_name", bad}),
                  "invalid whatsapp_device_name \"" + std::string(bad)
                      + "\", UTF-8 text of 1 to 64 bytes without control characters");
    }
}

TEST(InboxConfigWhatsApp, Proxy)
{
    auto f = finish_with({{"whatsapp_proxy", "http://proxy.example:3128"}});
    ASSERT_FALSE(f.error);
    EXPECT_STREQ(f.conf.whatsapp_proxy, "http://proxy.example:3128");
    EXPECT_TRUE(accepted({"whatsapp_proxy", "HTTP://10.0.0.1:8080/"}));
    EXPECT_TRUE(accepted({"whatsapp_proxy", "http://[::1]:3128"}));
    for (std::string_view bad : {"proxy.example:3128", "http://proxy.example",
                                 "https://proxy.example:3128", "http://u:p@proxy.example:3128",
                                 "http://proxy.example:3128/path", "http://:3128",
                                 "socks5://p:1080", "http://p:70000"}) {
        EXPECT_EQ(error_of({"whatsapp_proxy", bad}),
                  "invalid whatsapp_proxy \"" + std::string(bad)
                      + "\", e.g. \"http://proxy.example:3128\"")
            << bad;
    }
}

TEST(InboxConfig, ControlConversationAndItsThrottle)
{
    EXPECT_TRUE(accepted({"control_conversation", "on", "throttle=5s"}));
    EXPECT_TRUE(accepted({"control_conversation", "off"}));
    EXPECT_EQ(error_of({"control_conversation", "on", "every=5s"}),
              R"(invalid parameter "every=5s")");
    EXPECT_EQ(error_of({"control_conversation", "on", "throttle=0s"}),
              R"(invalid control_conversation throttle "0s", e.g. "60s" (1s to 1d))");
    EXPECT_EQ(error_of({"control_conversation", "sometimes"}),
              R"(invalid value "sometimes", it must be "on" or "off")");

    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(add(p, {"control_conversation", "on", "throttle=2m"}));
    ASSERT_FALSE(p.finish());
    EXPECT_EQ(p.conf().control_conversation, 1);
    EXPECT_EQ(p.conf().control_throttle_sec, 120u);
}

// import_database(_file): Chatwoot's PostgreSQL for the import's original
// timestamps; unset, the import uses the REST path.
TEST(InboxConfig, ImportDatabaseIsALibpqConninfoThatNamesADatabase)
{
    {
        InboxConfigParser p("x");
        complete(p);
        ASSERT_FALSE(add(p, {"webhook_secret", "s"}));
        ASSERT_FALSE(p.finish());
        EXPECT_EQ(p.conf().import_database, nullptr);
    }
    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(add(p, {"webhook_secret", "s"}));
    ASSERT_FALSE(add(p, {"import_database", "postgresql://cw:pw@db.internal:5432/chatwoot"}));
    ASSERT_FALSE(p.finish());
    EXPECT_STREQ(p.conf().import_database, "postgresql://cw:pw@db.internal:5432/chatwoot");

    EXPECT_TRUE(accepted({"import_database", "host=/run/postgresql dbname=chatwoot user=cw"}));
    EXPECT_TRUE(accepted({"import_database", "postgres://db/chatwoot?sslmode=require"}));
}

TEST(InboxConfig, ImportDatabaseFromAFileTrimmedLikeASecret)
{
    InboxConfigParser p("x");
    complete(p);
    ASSERT_FALSE(add(p, {"webhook_secret", "s"}));
    const std::string_view file = "postgresql://cw:pw@db/chatwoot\n";
    ASSERT_FALSE(add(p, {"import_database_file", "/etc/nginx/chatwoot-db"}, &file));
    ASSERT_FALSE(p.finish());
    EXPECT_STREQ(p.conf().import_database, "postgresql://cw:pw@db/chatwoot");
}

TEST(InboxConfig, ABadImportDatabaseIsRefusedWithoutRepeatingIt)
{
    EXPECT_EQ(error_of({"import_database", "mysql://root:hunter2@db/chatwoot"}),
              R"(invalid "import_database" in chatwoot_inbox "x": a postgresql:// URL or libpq)"
              R"( key=value pairs (host=... dbname=...))");
    // libpq refuses it (an unknown keyword): its message is not repeated,
    // since it may quote the password.
    EXPECT_EQ(error_of({"import_database", "host=db passwort=hunter2 dbname=c"}),
              R"(invalid "import_database" in chatwoot_inbox "x": libpq cannot parse it as a)"
              R"( connection string)");
    EXPECT_EQ(error_of({"import_database", "postgresql://cw:hunter2@db"}),
              R"(invalid "import_database" in chatwoot_inbox "x": it names no database)"
              R"( (Chatwoot's, e.g. postgresql://user:password@host/chatwoot_production))");
    EXPECT_EQ(error_of({"import_database", ""}),
              R"(invalid "import_database" in chatwoot_inbox "x": empty or over 4096 bytes)");
    const std::string_view bad = "host=db\x01 dbname=c";
    EXPECT_EQ(error_of({"import_database_file", "/etc/db"}),
              R"(the file of "import_database_file" was not read)");
    InboxConfigParser p("x");
    EXPECT_EQ(add(p, {"import_database_file", "/etc/db"}, &bad).value_or(""),
              R"(invalid "import_database_file" "/etc/db": it has control characters)");
    InboxConfigParser twice("x");
    ASSERT_FALSE(add(twice, {"import_database", "dbname=a"}));
    EXPECT_EQ(add(twice, {"import_database", "dbname=b"}).value_or(""),
              R"(the import database of chatwoot_inbox "x" is set twice)");
    EXPECT_EQ(error_of({"import_database", "postgresql://cw:hunter2@db"}).find("hunter2"),
              std::string::npos);
}
