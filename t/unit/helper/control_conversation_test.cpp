// The control conversation (helper/control_conversation.hpp) on the fake
// nginx loop, Chatwoot played by a fake transport: a notice a dead helper
// left pending is looked up before it is posted (no duplicate), a QR that
// rotates is posted as an image and the previous one deleted after, the
// last one deleted once linked, and a command is answered once.
#include "fake_nginx.hpp"

#include "helper/chatwoot_client.hpp"
#include "helper/control_conversation.hpp"
#include "store/control_repository.hpp"
#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace chatwoot;
using namespace chatwoot::helper;
using namespace chatwoot::test;

namespace {

class FakeTransport final : public HttpTransport {
public:
    void request(HttpRequest req, Done done) override
    {
        requests.push_back(req);
        queued_.emplace_back(std::move(req), std::move(done));
    }
    void deliver()
    {
        while (!queued_.empty()) {
            auto [req, done] = std::move(queued_.front());
            queued_.pop_front();
            TransferResult r;
            r.http_status = 200;
            r.body = "{}";
            if (respond) respond(req, r);
            done(r);
        }
    }
    std::function<void(const HttpRequest&, TransferResult&)> respond;
    std::vector<HttpRequest> requests;

private:
    std::deque<std::pair<HttpRequest, Done>> queued_;
};

class StatusDevice final : public Device {
public:
    void start(DeviceEvents&) override {}
    DeviceStatus status() const override { return s; }
    std::string new_message_id() override { return "X"; }
    void send(const OutgoingMessage&, Done done) noexcept override
    {
        done(SendResult{SendResult::Kind::failed, "not here"});
    }
    void tick(int64_t) override {}
    std::optional<std::string> pair(const std::optional<std::string>& phone) override
    {
        pairs.push_back(phone.value_or(""));
        return std::nullopt;
    }
    DeviceStatus s = DeviceStatus::of(DeviceState::unpaired);
    std::vector<std::string> pairs;
};

// "POST /api/..." for each request, in order.
std::vector<std::string> lines(const std::vector<HttpRequest>& reqs)
{
    std::vector<std::string> out;
    for (const auto& r : reqs) {
        std::string path = r.url.substr(r.url.find("/api/"));
        out.push_back(r.method + " " + path);
    }
    return out;
}

struct Fixture {
    Fixture()
    {
        fake_nginx_reset();
        char tmpl[] = "/tmp/control-conversation-test-XXXXXX";
        dir = mkdtemp(tmpl);
        std::filesystem::create_directory(dir + "/media");
        db.emplace(store::Database::open(dir + "/chatwoot.db"));
        store::migrate(*db);
        repo.emplace(*db);
        client.emplace(http, "http://chatwoot.test", "token", 2, 0);
        // Posts answer with the next message id; everything else {}.
        http.respond = [this](const HttpRequest& req, TransferResult& r) {
            if (req.method == "POST" && req.url.ends_with("/messages")) {
                r.body = R"({"id":)" + std::to_string(++last_message)
                         + R"(,"conversation_id":42,"message_type":0,"private":false})";
            } else if (req.method == "GET" && req.url.find("/messages") != std::string::npos) {
                r.body = list_answer;
            }
        };
    }
    ~Fixture()
    {
        control.reset();
        client.reset();
        repo.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    void make()
    {
        control.emplace("main", *client, rest::Api(1), 7, *db, device, dir + "/media", 60,
                        [] { return static_cast<int64_t>(ngx_time()); });
    }
    void run(uint64_t msec = 500)
    {
        for (uint64_t t = 0; t < msec; t += 50) {
            http.deliver();
            fake_nginx_advance(50);
        }
        http.deliver();
    }
    int64_t count(const std::string& sql)
    {
        auto st = db->prepare(sql);
        st.step();
        return st.column_int(0);
    }

    std::string dir;
    std::optional<store::Database> db;
    std::optional<store::ControlRepository> repo;
    FakeTransport http;
    std::optional<ChatwootClient> client;
    StatusDevice device;
    std::optional<ControlConversation> control;
    int64_t last_message = 100;
    std::string list_answer = R"({"payload":[]})";
};

}  // namespace

TEST(ControlConversation, ANoticeADeadHelperLeftIsLookedUpBeforeItIsPosted)
{
    Fixture f;
    f.repo->save_place("main", {5, 42});
    // Decided by the helper before this one, which died with its post out.
    const int64_t created = ngx_time() - 5;
    const int64_t id = f.repo->add_notice("main", "connected", "WhatsApp connected", false,
                                          created);
    f.list_answer = R"({"payload":[{"id":900,"conversation_id":42,"message_type":0,)"
                    R"("private":false,"created_at":)" + std::to_string(created)
                    + R"(,"source_id":"WAID:bridge-)" + std::to_string(id) + "-"
                    + std::to_string(created) + R"("}]})";
    f.make();
    f.control->observe(f.device.status());
    f.run();
    EXPECT_EQ(lines(f.http.requests),
              std::vector<std::string>{"GET /api/v1/accounts/1/conversations/42/messages"})
        << "found by its source id: not posted again";
    EXPECT_EQ(f.count("SELECT chatwoot_message_id FROM control_notices WHERE state = 'posted'"),
              900);
}

TEST(ControlConversation, ANoticeNotFoundIsPostedOnceAsAnIncomingMessage)
{
    Fixture f;
    f.repo->save_place("main", {5, 42});
    f.repo->add_notice("main", "connected", "WhatsApp connected", false, ngx_time() - 5);
    f.make();
    f.control->observe(f.device.status());
    f.run();
    ASSERT_EQ(lines(f.http.requests),
              (std::vector<std::string>{"GET /api/v1/accounts/1/conversations/42/messages",
                                        "POST /api/v1/accounts/1/conversations/42/messages"}));
    EXPECT_NE(f.http.requests[1].body.find(R"("message_type":"incoming")"), std::string::npos)
        << f.http.requests[1].body;
    EXPECT_EQ(f.count("SELECT count(*) FROM control_notices WHERE state = 'posted'"), 1);
}

TEST(ControlConversation, ARotatedQrIsPostedThenTheOldOneDeletedAndTheLastOnceLinked)
{
    Fixture f;
    f.repo->save_place("main", {5, 42});
    f.make();
    f.device.s = DeviceStatus::of(DeviceState::pairing_qr);
    f.device.s.qr = "2@first,a,b,c,1";
    f.control->observe(f.device.status());
    f.run();
    ASSERT_EQ(f.http.requests.size(), 1u);
    EXPECT_EQ(f.http.requests[0].method, "POST");
    ASSERT_EQ(f.http.requests[0].files.size(), 1u) << "the QR goes as an attachment";
    EXPECT_TRUE(std::filesystem::is_empty(f.dir + "/media")) << "its file is removed once posted";

    f.device.s.qr = "2@second,a,b,c,1";
    f.control->observe(f.device.status());
    f.run();
    ASSERT_EQ(lines(f.http.requests),
              (std::vector<std::string>{"POST /api/v1/accounts/1/conversations/42/messages",
                                        "POST /api/v1/accounts/1/conversations/42/messages",
                                        "DELETE /api/v1/accounts/1/conversations/42/messages/101"}))
        << "the new image first, then the old one goes";

    f.device.s = DeviceStatus::of(DeviceState::connected);
    f.device.s.pn_jid = "5511999999999:3@s.whatsapp.net";
    f.control->observe(f.device.status());
    f.run();
    ASSERT_EQ(f.http.requests.size(), 5u);
    EXPECT_EQ(lines(f.http.requests)[3],
              "DELETE /api/v1/accounts/1/conversations/42/messages/102")
        << "linked: the last image goes";
    EXPECT_NE(f.http.requests[4].body.find("Linked as +5511999999999"), std::string::npos)
        << f.http.requests[4].body;
    for (const auto& line : fake_nginx_log()) {
        EXPECT_EQ(line.find("2@"), std::string::npos) << "no QR in the log: " << line;
    }
}

TEST(ControlConversation, ACommandIsAnsweredOnce)
{
    Fixture f;
    f.repo->save_place("main", {5, 42});
    f.make();
    f.control->observe(f.device.status());
    {
        store::UnitOfWork unit(*f.db);
        ASSERT_TRUE(f.repo->add_command("main", {555, 42, " QR ", ngx_time()}));
        unit.commit();
    }
    f.control->take_commands();
    f.run();
    f.control->take_commands();   // a second hand-over: nothing pending
    f.run();
    EXPECT_EQ(f.device.pairs, std::vector<std::string>{""}) << "pairing by QR asked once";
    ASSERT_EQ(f.http.requests.size(), 1u);
    EXPECT_NE(f.http.requests[0].body.find("Pairing by QR"), std::string::npos)
        << f.http.requests[0].body;
    EXPECT_EQ(f.count("SELECT count(*) FROM control_commands WHERE handled_at IS NOT NULL"), 1);
}
