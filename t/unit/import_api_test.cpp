// The history import API's body and answers (include/chatwoot_import.h):
// every key checked, go-whatsapp-web-multidevice's keys taken, wrong types,
// unknown keys, malformed and oversize bodies refused naming the field;
// jobs rendered from the snapshot, a job not filed yet shown queued, a
// refused one failed with why.
#include "chatwoot_import.h"
#include "ipc/command_record.hpp"
#include "ipc/snapshot.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <cstring>
#include <memory>
#include <string>

namespace {

struct Parsed {
    int rc = 0;
    cw_import_request_t req{};
    std::string reason;
};

Parsed parse(const std::string& body)
{
    Parsed p;
    char reason[CW_COMMAND_REASON_SIZE];
    p.rc = cw_import_parse(body.data(), body.size(), &p.req, reason);
    p.reason = reason;
    return p;
}

cw_str_t str(const std::string& s)
{
    return cw_str_t{s.data(), s.size()};
}

rapidjson::Document json(const char* buf, size_t len)
{
    rapidjson::Document d;
    d.Parse(buf, len);
    EXPECT_FALSE(d.HasParseError()) << std::string(buf, len);
    return d;
}

}  // namespace

TEST(ImportApi, TheIssuesKeysAreTaken)
{
    auto p = parse(R"({"inbox":"support","what":"all","days":7,"include_media":false,)"
                   R"("include_groups":true})");
    ASSERT_EQ(p.rc, 0) << p.reason;
    EXPECT_STREQ(p.req.inbox, "support");
    EXPECT_STREQ(p.req.what, "all");
    EXPECT_EQ(p.req.days, 7u);
    EXPECT_EQ(p.req.days_given, 1);
    EXPECT_EQ(p.req.flags, unsigned{CW_COMMAND_IMPORT_GROUPS});
}

TEST(ImportApi, GoWhatsappWebMultideviceKeysAndDefaultsWork)
{
    auto p = parse(R"({"device_id":"sales","days_limit":30})");
    ASSERT_EQ(p.rc, 0) << p.reason;
    EXPECT_STREQ(p.req.inbox, "sales");
    EXPECT_EQ(p.req.days, 30u);
    EXPECT_STREQ(p.req.what, "messages") << "its sync imports messages";
    EXPECT_EQ(p.req.flags, unsigned{CW_COMMAND_IMPORT_MEDIA | CW_COMMAND_IMPORT_GROUPS});

    for (const char* empty : {"", "  \n", "{}"}) {
        auto d = parse(empty);
        ASSERT_EQ(d.rc, 0) << d.reason;
        EXPECT_STREQ(d.req.inbox, "");
        EXPECT_EQ(d.req.days, unsigned{CW_IMPORT_DEFAULT_DAYS});
        EXPECT_EQ(d.req.days_given, 0);
    }
    EXPECT_EQ(parse(R"({"include_media":"false","include_groups":0})").req.flags, 0u)
        << "form-minded booleans";
    EXPECT_EQ(parse(R"({"inbox":"a","device_id":"a"})").rc, 0);
}

TEST(ImportApi, WrongTypesAndValuesAreRefusedNamingTheField)
{
    struct Case {
        const char* body;
        const char* reason;
    } cases[] = {
        {R"({"days":"7"})", "\"days\" must be a whole number from 0 to 36500"},
        {R"({"days":-1})", "\"days\" must be a whole number from 0 to 36500"},
        {R"({"days":1.5})", "\"days\" must be a whole number from 0 to 36500"},
        {R"({"days_limit":36501})", "\"days_limit\" must be a whole number from 0 to 36500"},
        {R"({"days":1,"days_limit":2})", "\"days\" and \"days_limit\" differ"},
        {R"({"what":"everything"})", "\"what\" must be \"messages\", \"contacts\" or \"all\""},
        {R"({"what":7})", "\"what\" must be \"messages\", \"contacts\" or \"all\""},
        {R"({"inbox":7})", "\"inbox\" must be an inbox's name"},
        {R"({"inbox":""})", "\"inbox\" must be an inbox's name"},
        {R"({"device_id":"a b"})", "\"device_id\" must be an inbox's name"},
        {R"({"inbox":"a","device_id":"b"})", "\"inbox\" and \"device_id\" name different inboxes"},
        {R"({"include_media":"yes"})", "\"include_media\" must be true or false"},
        {R"({"include_groups":null})", "\"include_groups\" must be true or false"},
        {R"({"chats":["a"]})", "unknown key \"chats\""},
        {R"({"<script>":1})", "unknown key"},
        {R"([1,2])", "body must be a JSON object"},
        {R"({"days":)", "body is not JSON"},
        {"\xff", "body is not JSON"},
    };
    for (const auto& c : cases) {
        auto p = parse(c.body);
        EXPECT_EQ(p.rc, -1) << c.body;
        EXPECT_EQ(p.reason, c.reason) << c.body;
    }
    std::string big = R"({"inbox":")" + std::string(CW_IMPORT_BODY_MAX, 'a') + R"("})";
    EXPECT_EQ(parse(big).reason, "body too large");
    EXPECT_EQ(parse(R"({"inbox":")" + std::string(65, 'a') + R"("})").reason,
              "\"inbox\" must be an inbox's name");
}

TEST(ImportApi, JobsAreRenderedFromTheSnapshot)
{
    auto snap = std::make_unique<cw_snapshot_t>();
    std::memset(snap.get(), 0, sizeof *snap);
    snap->published_at = 1100;
    snap->imports_n = 2;
    cw_snapshot_import_t& a = snap->imports[0];
    a.state = CW_IMPORT_RUNNING;
    a.created_at = 990;
    a.started_at = 1000;
    a.days = 7;
    a.flags = CW_COMMAND_IMPORT_GROUPS;
    a.chats_total = 3;
    a.chats_done = 1;
    a.messages_total = 500;
    a.messages_done = 150;
    a.messages_skipped = 50;
    chatwoot::ipc::copy_text(a.id, chatwoot::ipc::command_id(5, 9));
    chatwoot::ipc::copy_text(a.inbox, "support");
    chatwoot::ipc::copy_text(a.what, "all");
    chatwoot::ipc::copy_text(a.current_chat, "5511@s.whatsapp.net");
    cw_snapshot_import_t& b = snap->imports[1];
    b.state = CW_IMPORT_COMPLETED;
    chatwoot::ipc::copy_text(b.id, chatwoot::ipc::command_id(5, 2));
    chatwoot::ipc::copy_text(b.inbox, "sales");
    chatwoot::ipc::copy_text(b.error, "bad \"quote\"\n");

    std::string buf(CW_IMPORT_JSON_MAX, '\0');
    size_t n = cw_import_render_list(snap.get(), buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    auto list = json(buf.data(), n);
    ASSERT_EQ(list["imports"].Size(), 2u);
    const auto& j = list["imports"][0];
    EXPECT_STREQ(j["state"].GetString(), "running");
    EXPECT_STREQ(j["device_id"].GetString(), "support");
    EXPECT_EQ(j["messages_done"].GetInt(), 150);
    EXPECT_EQ(j["messages_skipped"].GetInt(), 50);
    EXPECT_EQ(j["chats_total"].GetInt(), 3);
    EXPECT_FALSE(j["include_media"].GetBool());
    EXPECT_TRUE(j["include_groups"].GetBool());
    EXPECT_DOUBLE_EQ(j["rate"].GetDouble(), 2.0) << "200 messages in 100 s";
    EXPECT_TRUE(j["finished_at"].IsNull());
    EXPECT_STREQ(list["imports"][1]["last_error"].GetString(), "bad \"quote\"\n");

    const std::string id = chatwoot::ipc::command_id(5, 9);
    n = cw_import_render_one(snap.get(), str(id), 5, 10, buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    EXPECT_STREQ(json(buf.data(), n)["current_chat"].GetString(), "5511@s.whatsapp.net");

    EXPECT_EQ(cw_import_active(snap.get(), str("support")), &snap->imports[0]);
    EXPECT_EQ(cw_import_active(snap.get(), str("sales")), nullptr) << "completed";
    n = cw_import_render_conflict(&snap->imports[0], buf.data(), buf.size());
    auto conflict = json(buf.data(), n);
    EXPECT_EQ(conflict["id"].GetString(), id);
    EXPECT_STREQ(conflict["error"].GetString(), "inbox \"support\" has an import running already");
}

TEST(ImportApi, AJobNotFiledYetIsQueuedARefusedOneFailedAnUnknownOneNotFound)
{
    auto snap = std::make_unique<cw_snapshot_t>();
    std::memset(snap.get(), 0, sizeof *snap);
    snap->commands_n = 1;
    cw_snapshot_command_t& c = snap->commands[0];
    c.kind = CW_COMMAND_IMPORT;
    c.state = CW_COMMAND_FAILED;
    chatwoot::ipc::copy_text(c.id, chatwoot::ipc::command_id(5, 3));
    chatwoot::ipc::copy_text(c.reason, "inbox \"support\" has an import running already: x");
    std::string buf(CW_IMPORT_ONE_MAX, '\0');

    const std::string refused = chatwoot::ipc::command_id(5, 3);
    size_t n = cw_import_render_one(snap.get(), str(refused), 5, 10, buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    auto j = json(buf.data(), n);
    EXPECT_STREQ(j["state"].GetString(), "failed");
    EXPECT_NE(std::string(j["last_error"].GetString()).find("running already"), std::string::npos);

    const std::string fresh = chatwoot::ipc::command_id(5, 9);
    n = cw_import_render_one(snap.get(), str(fresh), 5, 10, buf.data(), buf.size());
    ASSERT_GT(n, 0u);
    EXPECT_STREQ(json(buf.data(), n)["state"].GetString(), "queued");

    EXPECT_EQ(cw_import_render_one(snap.get(), str(chatwoot::ipc::command_id(5, 10)), 5, 10,
                                   buf.data(), buf.size()), 0u) << "not handed out";
    EXPECT_EQ(cw_import_render_one(snap.get(), str(chatwoot::ipc::command_id(4, 1)), 5, 10,
                                   buf.data(), buf.size()), 0u) << "another ring";
    EXPECT_EQ(cw_import_render_one(snap.get(), str("nope"), 5, 10, buf.data(), buf.size()), 0u);
}
