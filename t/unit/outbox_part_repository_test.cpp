// The parts of a reply with attachments (schema step 13): filed once with
// their ids and keys, each moved through its states, a sent part recorded
// in wa_sent with the others of its Chatwoot message.
#include "store/inbound_event_repository.hpp"
#include "store/outbox_part_repository.hpp"
#include "store/outbox_repository.hpp"

#include "temp_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace chatwoot::store;

namespace {

struct TempDb : chatwoot::test::TempStore {
    TempDb() : TempStore("outbox-parts-test")
    {
        InboundEventRepository inbound(*db);
        inbound.insert_batch(std::vector{InboundEvent{1, 1, 1, 1000, {'x'}, ""}});
        OutboxRepository outbox(*db);
        outbox.add(OutboxEntry{"support", "send", 15, 501, 1, 1000});
    }
};

OutboxPart part(int64_t index, std::string wa_id)
{
    OutboxPart p;
    p.outbox_id = 1;
    p.part = index;
    p.wa_id = std::move(wa_id);
    p.data_url = "http://chat.test/rails/active_storage/blobs/redirect/x/a.jpg";
    p.file_type = "image";
    p.content_type = "image/jpeg";
    p.file_name = "a.jpg";
    p.file_size = 1234;
    p.media_key = std::string(32, static_cast<char>(index + 1));
    return p;
}

}  // namespace

TEST(OutboxPartRepository, FilesPartsOnceInOrderWithTheirKeys)
{
    TempDb t;
    OutboxPartRepository parts(*t.db);
    auto p0 = part(0, "3EB0AAAA");
    p0.caption_wa_id = "3EB0CAPT";
    parts.add_all({part(1, "3EB0BBBB"), p0});
    // Filed again (a pass that failed to commit the rest is retried): the
    // first key stays, so a re-upload gives the same bytes.
    auto again = part(0, "3EB0AAAA");
    again.media_key = std::string(32, 'z');
    parts.add_all({again});

    auto got = parts.parts_of(1);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].wa_id, "3EB0AAAA");
    EXPECT_EQ(got[0].caption_wa_id, "3EB0CAPT");
    EXPECT_EQ(got[0].media_key, std::string(32, '\x01'));
    EXPECT_EQ(got[0].state, "fetching");
    EXPECT_EQ(got[1].wa_id, "3EB0BBBB");
    EXPECT_EQ(got[1].caption_wa_id, "");
    EXPECT_EQ(got[1].file_size, 1234);
    EXPECT_TRUE(parts.parts_of(2).empty());
}

TEST(OutboxPartRepository, MovesAPartThroughItsStates)
{
    TempDb t;
    OutboxPartRepository parts(*t.db);
    parts.add_all({part(0, "3EB0AAAA"), part(1, "3EB0BBBB")});

    auto p = parts.parts_of(1)[0];
    p.path = "/state/media/x";
    p.kind = "image";
    p.mimetype = "image/jpeg";
    p.thumbnail = std::string("\xff\xd8\x00\x01", 4);
    p.width = 640;
    p.height = 480;
    parts.prepared(p);
    // An upload result never goes onto a part that is not prepared.
    auto other = parts.parts_of(1)[1];
    other.url = "https://mmg/x";
    parts.uploaded(other);
    EXPECT_EQ(parts.parts_of(1)[1].state, "fetching");

    p.url = "https://mmg.test/v/t62/x.enc?ccb=1";
    p.direct_path = "/v/t62/x.enc?ccb=1";
    p.file_sha256 = std::string(32, 'a');
    p.file_enc_sha256 = std::string(32, 'b');
    p.file_length = 1234;
    p.media_key_timestamp = 1700000000;
    parts.uploaded(p);
    auto got = parts.parts_of(1)[0];
    EXPECT_EQ(got.state, "uploaded");
    EXPECT_EQ(got.thumbnail, std::string("\xff\xd8\x00\x01", 4));
    EXPECT_EQ(got.width, 640);
    EXPECT_EQ(got.direct_path, "/v/t62/x.enc?ccb=1");
    EXPECT_EQ(got.file_enc_sha256, std::string(32, 'b'));
    EXPECT_EQ(got.media_key_timestamp, 1700000000);

    parts.sent(got, "support", "491@s.whatsapp.net", 501, 2000);
    parts.failed(1, 0, "late");   // a sent part stays sent
    parts.failed(1, 1, "attachment not sent: too large");
    got = parts.parts_of(1)[0];
    EXPECT_EQ(got.state, "sent");
    EXPECT_EQ(parts.parts_of(1)[1].state, "failed");
    EXPECT_EQ(parts.parts_of(1)[1].failure, "attachment not sent: too large");
    OutboxRepository outbox(*t.db);
    EXPECT_EQ(outbox.sent_ids("support", 501), std::vector<std::string>{"3EB0AAAA"});
    EXPECT_TRUE(outbox.is_our_send("support", "3EB0AAAA")) << "its echo is recognised";
}

TEST(OutboxPartRepository, CaptionSentIsKept)
{
    TempDb t;
    OutboxPartRepository parts(*t.db);
    auto p0 = part(0, "3EB0AAAA");
    p0.caption_wa_id = "3EB0CAPT";
    parts.add_all({p0});
    parts.caption_sent(1);
    EXPECT_TRUE(parts.parts_of(1)[0].caption_sent);
}

TEST(OutboxPartRepository, FilesInUseAreThoseOfPartsNotYetSent)
{
    TempDb t;
    OutboxPartRepository parts(*t.db);
    parts.add_all({part(0, "3EB0AAAA"), part(1, "3EB0BBBB"), part(2, "3EB0CCCC"), part(3, "3EB0DDDD")});
    auto all = parts.parts_of(1);
    all[0].path = "/state/media/media-a.ogg";
    all[1].path = "/state/media/media-b.jpg";
    all[2].path = "/state/media/media-c.mp4";
    for (int i = 0; i < 3; i++) parts.prepared(all[i]);
    all[1].url = "https://mmg.whatsapp.net/x";
    parts.uploaded(all[1]);
    parts.uploaded(all[2]);
    parts.sent(all[2], "support", "4915100000001@s.whatsapp.net", 501, 1000);
    // Part 3 is still fetching: no file of its own yet.
    auto in_use = parts.files_in_use();
    std::sort(in_use.begin(), in_use.end());
    EXPECT_EQ(in_use, (std::vector<std::string>{"/state/media/media-a.ogg", "/state/media/media-b.jpg"}));
}
