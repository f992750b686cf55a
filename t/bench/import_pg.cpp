// Messages per second the PostgreSQL import writes into Chatwoot's tables
// (issue 12's benchmark, target >= 5,000 msg/s).  t/bench/import_pg.pl
// starts the server and runs this with its URL:
//   pg_import_bench <url> [chats=200] [messages=100] [writers=4]
// Each writer is one connection writing chats one after another, as an
// import job's concurrency would run them; a second pass writes the same
// chats again (all skipped) to show what a rerun costs.
#include "helper/import/pg_import_writer.hpp"

#include "poll_pg_loop.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace chatwoot::helper::pg;
using chatwoot::bridge::ImportChat;
using chatwoot::bridge::ImportMessage;

namespace {

std::vector<ImportChat> make_chats(int chats, int messages)
{
    std::vector<ImportChat> out;
    for (int c = 0; c < chats; c++) {
        ImportChat chat;
        const std::string number = "49170" + std::to_string(1000000 + c);
        chat.chat_jid = chat.identifier = number + "@s.whatsapp.net";
        chat.phone = "+" + number;
        chat.name = "Bench " + std::to_string(c);
        chat.is_group = c % 10 == 9;
        if (chat.is_group) {
            chat.chat_jid = chat.identifier = "1203630" + std::to_string(1000000 + c) + "@g.us";
            chat.phone.clear();
        }
        for (int m = 0; m < messages; m++) {
            ImportMessage msg;
            msg.wa_id = "BENCH" + std::to_string(c) + "-" + std::to_string(m);
            msg.timestamp = 1'700'000'000 + c * 10 + m * 60;
            msg.from_me = m % 4 == 3;
            if (chat.is_group && !msg.from_me) {
                msg.sender_jid = "49171" + std::to_string(m % 7) + "@s.whatsapp.net";
                msg.sender_name = "Member " + std::to_string(m % 7);
            }
            msg.text = "A message of some ordinary length, number " + std::to_string(m)
                       + ", in chat " + std::to_string(c) + ".";
            chat.messages.push_back(std::move(msg));
        }
        out.push_back(std::move(chat));
    }
    return out;
}

struct Pass {
    double seconds = 0;
    uint64_t inserted = 0, skipped = 0, failed = 0, errors = 0;
};

Pass run(chatwoot::test::PollPgLoop& loop, const std::string& url,
         const std::vector<ImportChat>& chats, int writers)
{
    std::vector<std::unique_ptr<PgImportWriter>> w;
    for (int i = 0; i < writers; i++) {
        PgWriterOptions o;
        o.conninfo = url;
        o.target = {1, 1};
        o.now = [] { return int64_t{1'800'000'000}; };
        w.push_back(std::make_unique<PgImportWriter>(loop, o));
    }
    Pass p;
    size_t done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < chats.size(); i++) {
        w[i % w.size()]->write(chats[i], [&](PgWriteResult r) {
            done++;
            p.inserted += r.inserted;
            p.skipped += r.skipped;
            p.failed += r.failed;
            if (r.error) {
                p.errors++;
                std::fprintf(stderr, "chat failed: %s\n", r.error->c_str());
            }
        });
    }
    if (!loop.run_until([&] { return done == chats.size(); }, std::chrono::minutes(10))) {
        std::fprintf(stderr, "timed out\n");
        std::exit(1);
    }
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return p;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <url> [chats] [messages] [writers]\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    const int chats = argc > 2 ? std::atoi(argv[2]) : 200;
    const int messages = argc > 3 ? std::atoi(argv[3]) : 100;
    const int writers = argc > 4 ? std::atoi(argv[4]) : 4;
    const auto data = make_chats(chats, messages);
    chatwoot::test::PollPgLoop loop;

    Pass first = run(loop, url, data, writers);
    Pass again = run(loop, url, data, writers);
    const double total = static_cast<double>(chats) * messages;
    std::printf("PostgreSQL import: %d chats x %d messages, %d connections\n", chats, messages,
                writers);
    std::printf("  first pass: %.0f msg/s (%.2f s; inserted %llu, skipped %llu, failed %llu,"
                " chat errors %llu)\n",
                total / first.seconds, first.seconds,
                static_cast<unsigned long long>(first.inserted),
                static_cast<unsigned long long>(first.skipped),
                static_cast<unsigned long long>(first.failed),
                static_cast<unsigned long long>(first.errors));
    std::printf("  rerun:      %.0f msg/s checked (%.2f s; inserted %llu, skipped %llu)\n",
                total / again.seconds, again.seconds,
                static_cast<unsigned long long>(again.inserted),
                static_cast<unsigned long long>(again.skipped));
    std::printf("  target >= 5000 msg/s: %s\n", total / first.seconds >= 5000 ? "met" : "NOT met");
    const bool exact = first.inserted == static_cast<uint64_t>(total) && again.inserted == 0
                       && first.errors == 0 && again.errors == 0;
    return exact ? 0 : 1;
}
