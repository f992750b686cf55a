// The devices API's decisions (src/ipc/devices_api.cpp): which endpoint a
// path names, device JSON from the snapshot (never the QR text or the pair
// code), what a command id's poll answers (published outcome, pending,
// unknown, aged out), the pair-code body's phone and the answers that carry
// the code, and the login page with its Content-Security-Policy.

#include "chatwoot_devices.h"
#include "ipc/login_page.hpp"
#include "ipc/snapshot.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

cw_str_t s(std::string_view v)
{
    return cw_str_t{v.data(), v.size()};
}

cw_devices_route_t route(std::string_view path)
{
    cw_devices_route_t r;
    cw_devices_route(s(path), &r);
    return r;
}

std::string name_of(const cw_devices_route_t& r)
{
    return std::string(r.name.data == nullptr ? "" : std::string_view(r.name.data, r.name.len));
}

std::unique_ptr<cw_snapshot_t> blank()
{
    auto snap = std::make_unique<cw_snapshot_t>();
    std::memset(snap.get(), 0, sizeof *snap);
    return snap;
}

cw_snapshot_device_t& add_device(cw_snapshot_t& snap, std::string_view name, uint64_t state)
{
    cw_snapshot_device_t& d = snap.devices[snap.devices_n++];
    chatwoot::ipc::copy_text(d.name, name);
    chatwoot::ipc::copy_text(d.inbox, name);
    d.state = state;
    d.state_since = 1700000000;
    return d;
}

rapidjson::Document parse(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

std::string render_device(const cw_snapshot_device_t& d)
{
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_device(&d, buf.data(), buf.size());
    EXPECT_GT(n, 0u);
    return std::string(buf.data(), n);
}

std::string id_of(uint64_t epoch, uint64_t seq)
{
    char id[CW_COMMAND_ID_SIZE];
    cw_command_id(epoch, seq, id);
    return id;
}

// The poll's answer, "" for a 404.
std::string poll(const cw_snapshot_t& snap, const std::string& id, uint64_t epoch,
                 uint64_t next_seq)
{
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_command(&snap, s(id), epoch, next_seq, buf.data(),
                                               buf.size());
    return std::string(buf.data(), n);
}

cw_snapshot_command_t& add_command(cw_snapshot_t& snap, const std::string& id, uint64_t state,
                                   std::string_view reason = "")
{
    cw_snapshot_command_t& c = snap.commands[snap.commands_n++];
    chatwoot::ipc::copy_text(c.id, id);
    c.kind = CW_COMMAND_PAIR;
    c.state = state;
    c.created_at = 1700000001;
    c.updated_at = 1700000002;
    chatwoot::ipc::copy_text(c.reason, reason);
    return c;
}

}  // namespace

TEST(DevicesApi, Routes)
{
    EXPECT_EQ(route("").endpoint, CW_DEVICES_LIST);
    EXPECT_EQ(route("").get, 1);
    EXPECT_EQ(route("").post, 0);

    auto one = route("main");
    EXPECT_EQ(one.endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(name_of(one), "main");
    EXPECT_STREQ(one.allow, "GET, HEAD");

    auto qr = route("sales-2/qr");
    EXPECT_EQ(qr.endpoint, CW_DEVICES_QR);
    EXPECT_EQ(name_of(qr), "sales-2");
    EXPECT_EQ(qr.get, 1);
    EXPECT_EQ(qr.post, 0);

    auto login = route("sales-2/login");
    EXPECT_EQ(login.endpoint, CW_DEVICES_LOGIN);
    EXPECT_EQ(name_of(login), "sales-2");
    EXPECT_EQ(login.get, 1);
    EXPECT_EQ(login.post, 0);
    EXPECT_STREQ(login.allow, "GET, HEAD");

    for (auto [path, endpoint] : {std::pair{"main/pair", CW_DEVICES_PAIR},
                                  std::pair{"main/logout", CW_DEVICES_LOGOUT}}) {
        auto r = route(path);
        EXPECT_EQ(r.endpoint, endpoint) << path;
        EXPECT_EQ(name_of(r), "main") << path;
        EXPECT_EQ(r.get, 0) << path;
        EXPECT_EQ(r.post, 1) << path;
        EXPECT_STREQ(r.allow, "POST") << path;
    }

    // POST asks for a code, GET polls for it
    auto code = route("main/pair-code");
    EXPECT_EQ(code.endpoint, CW_DEVICES_PAIR_CODE);
    EXPECT_EQ(name_of(code), "main");
    EXPECT_EQ(code.get, 1);
    EXPECT_EQ(code.post, 1);
    EXPECT_STREQ(code.allow, "GET, HEAD, POST");

    // GET shows the passkey ceremony, POST hands in the assertion; the
    // confirmation is a POST of its own
    auto passkey = route("main/passkey");
    EXPECT_EQ(passkey.endpoint, CW_DEVICES_PASSKEY);
    EXPECT_EQ(name_of(passkey), "main");
    EXPECT_EQ(passkey.get, 1);
    EXPECT_EQ(passkey.post, 1);
    EXPECT_STREQ(passkey.allow, "GET, HEAD, POST");
    auto confirm = route("main/passkey/confirm");
    EXPECT_EQ(confirm.endpoint, CW_DEVICES_PASSKEY_CONFIRM);
    EXPECT_EQ(name_of(confirm), "main");
    EXPECT_EQ(confirm.get, 0);
    EXPECT_EQ(confirm.post, 1);
    EXPECT_STREQ(confirm.allow, "POST");
    EXPECT_EQ(route("passkey").endpoint, CW_DEVICES_ONE) << "a device may be called passkey";
    EXPECT_EQ(route("commands/passkey/confirm").endpoint, CW_DEVICES_PASSKEY_CONFIRM);

    auto cmd = route("commands/00000000000000aa0000000000000001");
    EXPECT_EQ(cmd.endpoint, CW_DEVICES_COMMAND);
    EXPECT_EQ(name_of(cmd), "00000000000000aa0000000000000001");
    EXPECT_EQ(cmd.post, 0);

    // a device may be called "commands": its own endpoints still route
    EXPECT_EQ(route("commands").endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(route("commands/qr").endpoint, CW_DEVICES_QR);
    EXPECT_EQ(route("commands/logout").endpoint, CW_DEVICES_LOGOUT);
    EXPECT_EQ(route("commands/login").endpoint, CW_DEVICES_LOGIN);
    EXPECT_EQ(route("login").endpoint, CW_DEVICES_ONE) << "a device may be called login";

    for (std::string_view bad : {"main/", "main/qr/", "main/unknown", "/main", "a b",
                                 "main/qr/x", "commands/", "commands/a/b", "../etc",
                                 "m%41in", "main/login/", "main/login.html", "main/passkey/",
                                 "main/passkey/confirm/", "main/passkey/x", "main/confirm",
                                 "main/passkey/confirm/x"}) {
        EXPECT_EQ(route(bad).endpoint, CW_DEVICES_NOT_FOUND) << bad;
    }
    EXPECT_EQ(route(std::string(64, 'n')).endpoint, CW_DEVICES_ONE);
    EXPECT_EQ(route(std::string(65, 'n')).endpoint, CW_DEVICES_NOT_FOUND)
        << "longer than any device name a command carries";
}

TEST(DevicesApi, DeviceJsonShowsTheStateAndNeverTheSecrets)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_CONNECTED);
    chatwoot::ipc::copy_text(d.pn_jid, "5511999999999:12@s.whatsapp.net");
    chatwoot::ipc::copy_text(d.lid, "123456789012345:12@lid");
    chatwoot::ipc::copy_text(d.push_name, "Loja \"Centro\"");
    chatwoot::ipc::copy_text(d.qr, "2@secret-ref,key,key,adv");
    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    d.connected_since = 1700000050;
    d.reconnects = 3;

    const std::string json = render_device(d);
    EXPECT_EQ(json.find("secret-ref"), std::string::npos);
    EXPECT_EQ(json.find("ABCD-EFGH"), std::string::npos);
    auto doc = parse(json);
    EXPECT_STREQ(doc["name"].GetString(), "main");
    EXPECT_STREQ(doc["inbox"].GetString(), "main");
    EXPECT_STREQ(doc["state"].GetString(), "connected");
    EXPECT_EQ(doc["state_since"].GetUint64(), 1700000000u);
    EXPECT_STREQ(doc["pn_jid"].GetString(), "5511999999999:12@s.whatsapp.net");
    EXPECT_STREQ(doc["lid"].GetString(), "123456789012345:12@lid");
    EXPECT_STREQ(doc["push_name"].GetString(), "Loja \"Centro\"");
    EXPECT_EQ(doc["connected_since"].GetUint64(), 1700000050u);
    EXPECT_EQ(doc["reconnects"].GetUint64(), 3u);
    EXPECT_TRUE(doc["error"].IsNull());
    EXPECT_FALSE(doc["qr_pending"].GetBool()) << "a QR left over is not one to scan";
    EXPECT_EQ(doc["qr_serial"].GetUint64(), 0u);
}

TEST(DevicesApi, DeviceJsonHasTheQrSerial)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PAIRING_QR);
    chatwoot::ipc::copy_text(d.qr, "2@ref");
    d.qr_serial = 41;
    EXPECT_EQ(parse(render_device(d))["qr_serial"].GetUint64(), 41u);
    d.qr_serial = 42;
    EXPECT_EQ(parse(render_device(d))["qr_serial"].GetUint64(), 42u);
}

TEST(DevicesApi, QrPendingOnlyWhilePairingWithAQr)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PAIRING_QR);
    EXPECT_EQ(cw_devices_qr_pending(&d), 0) << "no ref yet";
    EXPECT_FALSE(parse(render_device(d))["qr_pending"].GetBool());
    chatwoot::ipc::copy_text(d.qr, "2@ref");
    EXPECT_EQ(cw_devices_qr_pending(&d), 1);
    auto doc = parse(render_device(d));
    EXPECT_TRUE(doc["qr_pending"].GetBool());
    EXPECT_STREQ(doc["state"].GetString(), "pairing_qr");
    EXPECT_TRUE(doc["pn_jid"].IsNull());
    EXPECT_TRUE(doc["connected_since"].IsNull());
}

TEST(DevicesApi, ListAndFind)
{
    auto snap = blank();
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    size_t n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    EXPECT_EQ(std::string(buf.data(), n), "{\"devices\":[]}");

    add_device(*snap, "main", CW_DEVICE_UNPAIRED);
    auto& e = add_device(*snap, "sales", CW_DEVICE_ERROR);
    chatwoot::ipc::copy_text(e.error, "no WhatsApp device configured");
    n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    auto doc = parse(std::string(buf.data(), n));
    ASSERT_EQ(doc["devices"].Size(), 2u);
    EXPECT_STREQ(doc["devices"][0]["state"].GetString(), "unpaired");
    EXPECT_STREQ(doc["devices"][1]["error"].GetString(), "no WhatsApp device configured");

    EXPECT_EQ(cw_devices_find(snap.get(), s("sales")), &snap->devices[1]);
    EXPECT_EQ(cw_devices_find(snap.get(), s("sale")), nullptr);
    EXPECT_EQ(cw_devices_find(snap.get(), s("")), nullptr);
    EXPECT_EQ(cw_devices_render_list(snap.get(), buf.data(), 10), 0u) << "does not fit";
}

TEST(DevicesApi, TheWorstSnapshotFitsAndStaysJson)
{
    auto snap = blank();
    snap->devices_n = CW_SNAPSHOT_DEVICES + 5;   // scribbled over: capped
    for (auto& d : snap->devices) {
        // no NULs anywhere, every byte escaped at its longest
        std::memset(&d, 0x01, sizeof d);
    }
    std::vector<char> buf(CW_DEVICES_JSON_MAX);
    const size_t n = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    auto doc = parse(std::string(buf.data(), n));
    EXPECT_EQ(doc["devices"].Size(), static_cast<unsigned>(CW_SNAPSHOT_DEVICES));
    EXPECT_STREQ(doc["devices"][0]["state"].GetString(), "unknown");

    for (auto& d : snap->devices) {
        std::memset(&d, 0xff, sizeof d);   // not UTF-8
    }
    const size_t m = cw_devices_render_list(snap.get(), buf.data(), buf.size());
    ASSERT_GT(m, 0u);
    parse(std::string(buf.data(), m));
}

TEST(DevicesApi, CommandOutcomeFromTheSnapshot)
{
    const uint64_t epoch = 0x1234;
    auto snap = blank();
    const std::string failed = id_of(epoch, 5);
    add_command(*snap, id_of(epoch, 6), CW_COMMAND_DONE);
    add_command(*snap, failed, CW_COMMAND_FAILED, "this device cannot be paired");

    auto doc = parse(poll(*snap, failed, epoch, 7));
    EXPECT_STREQ(doc["id"].GetString(), failed.c_str());
    EXPECT_STREQ(doc["kind"].GetString(), "pair");
    EXPECT_STREQ(doc["state"].GetString(), "failed");
    EXPECT_STREQ(doc["reason"].GetString(), "this device cannot be paired");
    EXPECT_EQ(doc["created_at"].GetUint64(), 1700000001u);
    EXPECT_EQ(doc["updated_at"].GetUint64(), 1700000002u);

    auto done = parse(poll(*snap, id_of(epoch, 6), epoch, 7));
    EXPECT_STREQ(done["state"].GetString(), "done");
    EXPECT_FALSE(done.HasMember("reason"));
}

TEST(DevicesApi, CommandNotPublishedYetIsPendingIfThisRingIssuedIt)
{
    const uint64_t epoch = 0x1234;
    auto snap = blank();
    auto doc = parse(poll(*snap, id_of(epoch, 3), epoch, 4));
    EXPECT_STREQ(doc["state"].GetString(), "pending");
    EXPECT_EQ(poll(*snap, id_of(epoch, 4), epoch, 4), "") << "not handed out yet";
    EXPECT_EQ(poll(*snap, id_of(epoch, 0), epoch, 4), "");
    EXPECT_EQ(poll(*snap, id_of(epoch + 1, 3), epoch, 4), "") << "another ring's";
    for (std::string bad : {std::string("nope"), id_of(epoch, 3).substr(1),
                            std::string(32, 'G'), std::string(32, 'A')}) {
        EXPECT_EQ(poll(*snap, bad, epoch, 4), "") << bad;
    }
}

TEST(DevicesApi, CommandOlderThanAFullWindowAgedOut)
{
    const uint64_t epoch = 7;
    auto snap = blank();
    for (uint64_t seq = 100; seq > 100 - CW_SNAPSHOT_COMMANDS; seq--) {   // newest first
        add_command(*snap, id_of(epoch, seq), CW_COMMAND_DONE);
    }
    const uint64_t oldest = 100 - CW_SNAPSHOT_COMMANDS + 1;
    EXPECT_EQ(poll(*snap, id_of(epoch, oldest - 1), epoch, 200), "") << "aged out";
    EXPECT_NE(poll(*snap, id_of(epoch, oldest), epoch, 200), "");
    auto newer = parse(poll(*snap, id_of(epoch, 150), epoch, 200));
    EXPECT_STREQ(newer["state"].GetString(), "pending") << "newer than the window";
}

TEST(DevicesApi, Accepted)
{
    char buf[64];
    const std::string id = id_of(1, 2);
    const size_t n = cw_devices_render_accepted(id.c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "{\"id\":\"" + id + "\"}");
}

namespace {

struct PairCodeAnswer {
    unsigned status = 0;
    std::string json;
};

PairCodeAnswer pair_code(const cw_snapshot_device_t& d)
{
    PairCodeAnswer a;
    std::vector<char> buf(8 * 1024);
    const size_t n = cw_devices_render_pair_code(&d, buf.data(), buf.size(), &a.status);
    a.json.assign(buf.data(), n);
    return a;
}

std::string code_accepted(const std::string& id, const cw_snapshot_device_t* d)
{
    char buf[128];
    const size_t n = cw_devices_render_code_accepted(id.c_str(), d, buf, sizeof buf);
    return std::string(buf, n);
}

}  // namespace

TEST(DevicesApi, PairCodeOnceTheHelperHasIt)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PAIRING_CODE);

    auto waiting = pair_code(d);
    EXPECT_EQ(waiting.status, 202u) << "pairing by code, no code from the server yet";
    EXPECT_EQ(waiting.json, R"({"code":null,"state":"pairing_code"})");

    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    auto shown = pair_code(d);
    EXPECT_EQ(shown.status, 200u);
    EXPECT_EQ(shown.json, R"({"code":"ABCD-EFGH","state":"pairing_code"})");
}

TEST(DevicesApi, PairCodeConflictsWhenNotPairingByCode)
{
    auto snap = blank();
    for (uint64_t state : {CW_DEVICE_UNPAIRED, CW_DEVICE_PAIRING_QR, CW_DEVICE_CONNECTING,
                           CW_DEVICE_CONNECTED, CW_DEVICE_LOGGED_OUT, CW_DEVICE_ERROR}) {
        snap->devices_n = 0;
        auto& d = add_device(*snap, "main", state);
        // a code left over from pairing is no code to type now
        chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
        auto a = pair_code(d);
        const std::string name = cw_device_state_name(state);
        EXPECT_EQ(a.status, 409u) << name;
        auto doc = parse(a.json);
        EXPECT_EQ(std::string(doc["error"].GetString()),
                  "device is not pairing by code: it is " + name);
        EXPECT_TRUE(doc["code"].IsNull()) << name;
        EXPECT_EQ(std::string(doc["state"].GetString()), name);
        EXPECT_EQ(a.json.find("ABCD"), std::string::npos) << name;
    }
}

TEST(DevicesApi, PairCodeAcceptedCarriesTheCodeShownNow)
{
    const std::string id = id_of(1, 2);
    EXPECT_EQ(code_accepted(id, nullptr), "{\"id\":\"" + id + "\",\"code\":null}")
        << "the helper has not published the device";
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PAIRING_QR);
    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    EXPECT_EQ(code_accepted(id, &d), "{\"id\":\"" + id + "\",\"code\":null}")
        << "not pairing by code";
    d.state = CW_DEVICE_PAIRING_CODE;
    d.pair_code[0] = '\0';
    EXPECT_EQ(code_accepted(id, &d), "{\"id\":\"" + id + "\",\"code\":null}") << "no code yet";
    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    EXPECT_EQ(code_accepted(id, &d), "{\"id\":\"" + id + "\",\"code\":\"ABCD-EFGH\"}");
    char small[16];
    EXPECT_EQ(cw_devices_render_code_accepted(id.c_str(), &d, small, sizeof small), 0u)
        << "does not fit";
}

// The example of CSP Level 3, section 8.3 ("alert('Hello, world.');"), and
// an empty text (both checked with `openssl dgst -sha256 -binary | base64`).
TEST(LoginPage, CspHashesAsTheSpecDoes)
{
    EXPECT_EQ(chatwoot::ipc::csp_hash("alert('Hello, world.');"),
              "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='");
    EXPECT_EQ(chatwoot::ipc::csp_hash(""),
              "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
}

TEST(LoginPage, PolicyAllowsEachInlineScriptAndStyleByHashAndNothingElse)
{
    using chatwoot::ipc::csp_hash;
    const std::string html = "<html><head><style>p{}</style></head><body>"
                             "<scripts>not one</scripts><script>a()</script>"
                             "<script type=\"module\">b()</script><script>";
    const std::string csp = chatwoot::ipc::content_security_policy(html);
    EXPECT_EQ(csp, "default-src 'none'; script-src " + csp_hash("a()") + " " + csp_hash("b()")
                       + "; style-src " + csp_hash("p{}")
                       + "; img-src 'self'; connect-src 'self'; form-action 'self'; "
                         "base-uri 'none'; frame-ancestors 'none'");
    EXPECT_EQ(chatwoot::ipc::content_security_policy("<p>plain</p>"),
              "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'self'; "
              "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
}

TEST(LoginPage, TheEmbeddedPageRunsUnderItsPolicy)
{
    const cw_str_t page = cw_devices_login_page();
    const std::string html(page.data, page.len);
    ASSERT_GT(html.size(), 1000u);
    EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
    EXPECT_EQ(html, std::string(chatwoot::ipc::login_page()));

    // One script and one style, each allowed by its hash.
    const std::string script_open = "<script>";
    const size_t s0 = html.find(script_open);
    const size_t s1 = html.find("</script>");
    ASSERT_NE(s0, std::string::npos);
    ASSERT_NE(s1, std::string::npos);
    EXPECT_EQ(html.find("<script", s0 + 1), std::string::npos) << "one script";
    const size_t t0 = html.find("<style>");
    const size_t t1 = html.find("</style>");
    ASSERT_NE(t0, std::string::npos);
    EXPECT_EQ(html.find("<style", t0 + 1), std::string::npos) << "one style";
    const std::string script = html.substr(s0 + script_open.size(), s1 - s0 - script_open.size());
    const std::string style = html.substr(t0 + 7, t1 - t0 - 7);

    const char* csp = cw_devices_login_csp();
    ASSERT_NE(csp, nullptr);
    EXPECT_EQ(std::string(csp), "default-src 'none'; script-src "
                                    + chatwoot::ipc::csp_hash(script) + "; style-src "
                                    + chatwoot::ipc::csp_hash(style)
                                    + "; img-src 'self'; connect-src 'self'; "
                                      "form-action 'self'; base-uri 'none'; "
                                      "frame-ancestors 'none'");
    EXPECT_EQ(cw_devices_login_csp(), csp) << "made once";

    // What the policy would block, or what would reach another origin: in
    // the markup (script and style left out), every attribute name="value".
    // (Scanned by hand: std::regex trips GCC 12's warnings in the sanitizer
    // build.)
    const std::string markup =
        html.substr(0, t0) + html.substr(t1, s0 - t1) + html.substr(s1);
    size_t attributes = 0;
    for (size_t eq = markup.find("=\""); eq != std::string::npos; eq = markup.find("=\"", eq + 1)) {
        size_t b = eq;
        while (b > 0 && (std::isalnum(static_cast<unsigned char>(markup[b - 1])) != 0
                         || markup[b - 1] == '-')) {
            b--;
        }
        const std::string attr = markup.substr(b, eq - b);
        const std::string value = markup.substr(eq + 2, markup.find('"', eq + 2) - eq - 2);
        attributes++;
        EXPECT_NE(attr.rfind("on", 0), 0u) << "an inline event handler: " << attr;
        EXPECT_NE(attr, "style") << "a style attribute";
        if (attr == "src" || attr == "href" || attr == "action") {
            EXPECT_EQ(value.find("//"), std::string::npos) << attr << "=" << value;
        }
    }
    EXPECT_GE(attributes, 10u) << "the scan saw the page's attributes";
    EXPECT_EQ(html.find("innerHTML"), std::string::npos) << "text only, never markup";

    // Every element the script looks up is in the markup.
    std::set<std::string> ids;
    const std::string lookup = "$('";
    for (size_t at = script.find(lookup); at != std::string::npos;
         at = script.find(lookup, at + 1)) {
        const size_t end = script.find('\'', at + lookup.size());
        ASSERT_NE(end, std::string::npos);
        ids.insert(script.substr(at + lookup.size(), end - at - lookup.size()));
    }
    EXPECT_GE(ids.size(), 8u);
    for (const std::string& id : ids) {
        EXPECT_NE(html.find("id=\"" + id + "\""), std::string::npos) << id;
    }
}

TEST(DevicesApi, PairCodeBody)
{
    char digits[CW_COMMAND_PHONE_MAX + 1];
    const char* reason = nullptr;
    auto ok = [&](std::string_view body) {
        reason = nullptr;
        return cw_devices_parse_pair_code(body.data(), body.size(), digits, &reason) == 0;
    };
    ASSERT_TRUE(ok(R"({"phone":"+5511999999999"})"));
    EXPECT_STREQ(digits, "5511999999999");
    ASSERT_TRUE(ok(R"( {"phone": "+12025550123", "other": 1} )"));
    EXPECT_STREQ(digits, "12025550123");
    EXPECT_TRUE(ok(R"({"phone":"+12345678"})")) << "8 digits";
    EXPECT_TRUE(ok(R"({"phone":"+123456789012345"})")) << "15 digits";

    EXPECT_FALSE(ok("{\"phone\":"));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(R"({"phone":"+5511999999999"} trailing)"));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(""));
    EXPECT_STREQ(reason, "body is not JSON");
    EXPECT_FALSE(ok(R"(["+5511999999999"])"));
    EXPECT_STREQ(reason, "body must be a JSON object with \"phone\"");
    EXPECT_FALSE(ok(R"({"number":"+5511999999999"})"));
    EXPECT_STREQ(reason, "\"phone\" must be a string, e.g. \"+5511999999999\"");
    EXPECT_FALSE(ok(R"({"phone":5511999999999})"));
    EXPECT_STREQ(reason, "\"phone\" must be a string, e.g. \"+5511999999999\"");
    for (std::string_view bad :
         {R"({"phone":"5511999999999"})", R"({"phone":"+1234567"})",
          R"({"phone":"+1234567890123456"})", R"({"phone":"+55 11 99999 9999"})",
          R"({"phone":"+55-11-999999999"})", R"({"phone":"+0511999999999"})",
          R"({"phone":""})", R"({"phone":"+"})"}) {
        EXPECT_FALSE(ok(bad)) << bad;
        EXPECT_STREQ(reason, "\"phone\" must be \"+\" and 8 to 15 digits, e.g. \"+5511999999999\"")
            << bad;
    }
    const std::string big = "{\"phone\":\"+5511999999999\",\"pad\":\"" + std::string(5000, 'x')
                            + "\"}";
    EXPECT_FALSE(ok(big));
    EXPECT_STREQ(reason, "body too large");
}

namespace {

struct PasskeyAnswer {
    unsigned status = 0;
    std::string json;
};

PasskeyAnswer passkey(const cw_snapshot_device_t& d)
{
    PasskeyAnswer a;
    std::vector<char> buf(8 * 1024);
    const size_t n = cw_devices_render_passkey(&d, buf.data(), buf.size(), &a.status);
    EXPECT_GT(n, 0u);
    a.json.assign(buf.data(), n);
    return a;
}

const char kOptions[] =
    R"({"challenge":"AAECAwQFBgcICQoLDA0ODw","timeout":600000,"rpId":"whatsapp.com",)"
    R"("allowCredentials":[{"type":"public-key","id":"q83vEjRWeJA"}],)"
    R"("userVerification":"required"})";

}  // namespace

TEST(DevicesApi, PasskeyAssertionStepShowsTheOptionsAsAnObject)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PASSKEY);
    chatwoot::ipc::copy_text(d.passkey_options, kOptions);
    d.passkey_expires_at = 1700000300;
    const auto a = passkey(d);
    EXPECT_EQ(a.status, 200u);
    EXPECT_EQ(a.json, std::string(R"({"state":"passkey","step":"assertion","options":)")
                          + kOptions + R"(,"code":null,"expires_at":1700000300})");
    auto doc = parse(a.json);
    ASSERT_TRUE(doc["options"].IsObject());
    EXPECT_STREQ(doc["options"]["rpId"].GetString(), "whatsapp.com");

    // The device JSON never carries the options.
    EXPECT_EQ(render_device(d).find("challenge"), std::string::npos);
}

TEST(DevicesApi, PasskeyConfirmStepShowsTheCode)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PASSKEY);
    chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
    d.passkey_expires_at = 1700000600;
    const auto a = passkey(d);
    EXPECT_EQ(a.status, 200u);
    EXPECT_EQ(a.json, R"({"state":"passkey","step":"confirm","options":null,)"
                      R"("code":"ABCD-EFGH","expires_at":1700000600})");
    EXPECT_EQ(render_device(d).find("ABCD"), std::string::npos);

    // Between the two (the server has the assertion, no code yet): no step.
    d.pair_code[0] = '\0';
    d.passkey_expires_at = 0;
    EXPECT_EQ(passkey(d).json, R"({"state":"passkey","step":null,"options":null,)"
                               R"("code":null,"expires_at":null})");
}

TEST(DevicesApi, PasskeyConflictsWhenNoCeremonyAndShowsNothingLeftOver)
{
    auto snap = blank();
    for (uint64_t state : {CW_DEVICE_UNPAIRED, CW_DEVICE_PAIRING_QR, CW_DEVICE_PAIRING_CODE,
                           CW_DEVICE_CONNECTING, CW_DEVICE_CONNECTED, CW_DEVICE_LOGGED_OUT,
                           CW_DEVICE_ERROR}) {
        snap->devices_n = 0;
        auto& d = add_device(*snap, "main", state);
        chatwoot::ipc::copy_text(d.passkey_options, kOptions);
        chatwoot::ipc::copy_text(d.pair_code, "ABCD-EFGH");
        d.passkey_expires_at = 5;
        const std::string name = cw_device_state_name(state);
        const auto a = passkey(d);
        EXPECT_EQ(a.status, 409u) << name;
        EXPECT_EQ(a.json, "{\"error\":\"device is not in a passkey ceremony: it is " + name
                              + "\",\"state\":\"" + name
                              + "\",\"step\":null,\"options\":null,\"code\":null,"
                                "\"expires_at\":null}");
    }
}

TEST(DevicesApi, PasskeyOptionsThatAreNotAnObjectAreNotShown)
{
    auto snap = blank();
    auto& d = add_device(*snap, "main", CW_DEVICE_PASSKEY);
    for (std::string_view bad : {R"({"challenge":)", R"(["a"])", "\"x\"", "{} {}",
                                 "{\"a\":\"\xff\"}"}) {
        chatwoot::ipc::copy_text(d.passkey_options, bad);
        const auto a = passkey(d);
        EXPECT_EQ(a.status, 200u) << bad;
        auto doc = parse(a.json);
        EXPECT_TRUE(doc["options"].IsNull()) << bad;
        EXPECT_TRUE(doc["step"].IsNull()) << bad;
    }
    // A buffer scribbled over to its end (no NUL) stays inside it.
    std::memset(d.passkey_options, '{', sizeof d.passkey_options);
    std::memset(d.pair_code, 0x01, sizeof d.pair_code);
    const auto a = passkey(d);
    auto doc = parse(a.json);
    EXPECT_TRUE(doc["options"].IsNull());
    EXPECT_EQ(doc["code"].GetStringLength(), size_t{CW_SNAPSHOT_CODE_SIZE});
    // Re-written, not copied: white space and escapes come out canonical.
    chatwoot::ipc::copy_text(d.passkey_options, "{ \"rpId\" : \"whats\\u0061pp.com\" }");
    EXPECT_EQ(passkey(d).json.find(R"("options":{"rpId":"whatsapp.com"})") != std::string::npos,
              true);
    char small[16];
    unsigned status = 0;
    EXPECT_EQ(cw_devices_render_passkey(&d, small, sizeof small, &status), 0u) << "does not fit";
}

TEST(DevicesApi, PasskeyBodyMustBeAJsonObjectWithinItsBound)
{
    const char* reason = nullptr;
    auto ok = [&](std::string_view body) {
        reason = nullptr;
        return cw_devices_parse_passkey(body.data(), body.size(), &reason) == 0;
    };
    EXPECT_TRUE(ok(R"({"id":"q83vEjRWeJA","type":"public-key","response":{}})"));
    EXPECT_TRUE(ok(" \n{\"id\":\"x\"}\r\n")) << "white space around a paste";
    EXPECT_FALSE(ok(""));
    EXPECT_STREQ(reason, "empty body: paste the JSON the snippet printed");
    EXPECT_FALSE(ok(R"({"id":"q83v)"));
    EXPECT_STREQ(reason, "body is not JSON: paste the whole text the snippet printed");
    EXPECT_FALSE(ok(R"({"id":"x"} {"id":"y"})"));
    EXPECT_STREQ(reason, "body is not JSON: paste the whole text the snippet printed");
    EXPECT_FALSE(ok("{\"id\":\"\xc3(\"}")) << "not UTF-8";
    EXPECT_STREQ(reason, "body is not JSON: paste the whole text the snippet printed");
    EXPECT_FALSE(ok(R"(["id"])"));
    EXPECT_STREQ(reason,
                 "body must be a JSON object: the PublicKeyCredential the snippet printed");
    EXPECT_FALSE(ok("null"));
    EXPECT_STREQ(reason,
                 "body must be a JSON object: the PublicKeyCredential the snippet printed");

    std::string big = "{\"pad\":\"";
    big += std::string(CW_DEVICES_PASSKEY_BODY_MAX - big.size() - 2, 'x');
    big += "\"}";
    ASSERT_EQ(big.size(), size_t{CW_DEVICES_PASSKEY_BODY_MAX});
    EXPECT_TRUE(ok(big)) << "at the bound";
    big.insert(1, " ");
    EXPECT_FALSE(ok(big));
    EXPECT_STREQ(reason, "body too large: an assertion is at most 64 KiB");

    // What the parser takes the command encoder takes too: no paste that
    // passed here is refused later as a field.
    for (std::string_view body : {std::string_view("{\t\"k\":\r\n\"escaped \\t\"}"),
                                  std::string_view("{\"del\":\"\x7f\",\"\xc3\xa9\":1}")}) {
        ASSERT_TRUE(ok(body)) << body << ": " << (reason ? reason : "");
        cw_command_t c{};
        c.kind = CW_COMMAND_PASSKEY;
        c.device = s("main");
        c.assertion = s(body);
        char why[CW_COMMAND_REASON_SIZE] = "";
        EXPECT_GT(cw_command_encoded_len(&c, why), 0u) << why;
    }
}
