// What a decrypted Message gives the bridge: each kind, the wrappers
// around it, and the messages that post nothing.
#include <gtest/gtest.h>

#include "wa/message/content.hpp"

namespace chatwoot::wa::message {
namespace {

using proto::Message;
using K = Content::Kind;

TEST(MessageContent, ConversationIsText)
{
    Message m;
    m.set_conversation("hello");
    auto c = extract_content(m);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, K::text);
    EXPECT_EQ(c->text, "hello");
    EXPECT_FALSE(c->reply_to);
}

TEST(MessageContent, ExtendedTextCarriesTheQuotedId)
{
    Message m;
    m.mutable_extendedtextmessage()->set_text("yes");
    m.mutable_extendedtextmessage()->mutable_contextinfo()->set_stanzaid("3EB0QUOTED");
    auto c = extract_content(m);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->text, "yes");
    EXPECT_EQ(c->reply_to, "3EB0QUOTED");
}

TEST(MessageContent, WrappersAreUnwrapped)
{
    Message inner;
    inner.set_conversation("secret");
    Message m;
    *m.mutable_ephemeralmessage()->mutable_message()->mutable_viewoncemessage()->mutable_message() = inner;
    auto c = extract_content(m);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->text, "secret");

    Message sent;
    sent.mutable_devicesentmessage()->set_destinationjid("15550001111@s.whatsapp.net");
    *sent.mutable_devicesentmessage()->mutable_message() = inner;
    auto d = extract_content(sent);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->text, "secret");
    EXPECT_EQ(d->destination, "15550001111@s.whatsapp.net");
}

TEST(MessageContent, ReactionRevokeAndEdit)
{
    Message r;
    r.mutable_reactionmessage()->mutable_key()->set_id("T1");
    r.mutable_reactionmessage()->set_text("👍");
    auto rc = extract_content(r);
    ASSERT_TRUE(rc);
    EXPECT_EQ(rc->kind, K::reaction);
    EXPECT_EQ(rc->target, "T1");
    EXPECT_EQ(rc->text, "👍");

    Message v;
    v.mutable_protocolmessage()->set_type(Message::ProtocolMessage::REVOKE);
    v.mutable_protocolmessage()->mutable_key()->set_id("T2");
    auto vc = extract_content(v);
    ASSERT_TRUE(vc);
    EXPECT_EQ(vc->kind, K::revoke);
    EXPECT_EQ(vc->target, "T2");

    Message e;
    e.mutable_protocolmessage()->set_type(Message::ProtocolMessage::MESSAGE_EDIT);
    e.mutable_protocolmessage()->mutable_key()->set_id("T3");
    e.mutable_protocolmessage()->mutable_editedmessage()->mutable_extendedtextmessage()->set_text("fixed");
    // Edits arrive wrapped in editedMessage too.
    Message wrapped;
    *wrapped.mutable_editedmessage()->mutable_message() = e;
    auto ec = extract_content(wrapped);
    ASSERT_TRUE(ec);
    EXPECT_EQ(ec->kind, K::edit);
    EXPECT_EQ(ec->target, "T3");
    EXPECT_EQ(ec->text, "fixed");
}

TEST(MessageContent, LocationAndContacts)
{
    Message l;
    auto* loc = l.mutable_locationmessage();
    loc->set_degreeslatitude(52.52);
    loc->set_degreeslongitude(13.405);
    loc->set_name("Alexanderplatz");
    loc->set_address("Berlin");
    auto lc = extract_content(l);
    ASSERT_TRUE(lc && lc->location);
    EXPECT_EQ(lc->kind, K::location);
    EXPECT_DOUBLE_EQ(lc->location->latitude, 52.52);
    EXPECT_EQ(lc->location->name, "Alexanderplatz");

    Message c;
    c.mutable_contactmessage()->set_displayname("Bob");
    c.mutable_contactmessage()->set_vcard("BEGIN:VCARD\nTEL:+1 555\nEND:VCARD");
    auto cc = extract_content(c);
    ASSERT_TRUE(cc);
    EXPECT_EQ(cc->kind, K::contacts);
    ASSERT_EQ(cc->contacts.size(), 1u);
    EXPECT_EQ(cc->contacts[0].display_name, "Bob");

    Message a;
    a.mutable_contactsarraymessage()->set_displayname("2 contacts");
    a.mutable_contactsarraymessage()->add_contacts()->set_displayname("X");
    a.mutable_contactsarraymessage()->add_contacts()->set_displayname("Y");
    auto ac = extract_content(a);
    ASSERT_TRUE(ac);
    EXPECT_EQ(ac->contacts.size(), 2u);
}

TEST(MessageContent, MediaAndUnknownKindsArePlaceholders)
{
    Message i;
    i.mutable_imagemessage()->set_caption("look");
    auto ic = extract_content(i);
    ASSERT_TRUE(ic);
    EXPECT_EQ(ic->kind, K::placeholder);
    EXPECT_EQ(ic->placeholder, "image");
    EXPECT_EQ(ic->caption, "look");

    Message a;
    a.mutable_audiomessage()->set_ptt(true);
    EXPECT_EQ(extract_content(a)->placeholder, "voice message");

    // A poll (field 49) is not in our subset: an unknown field.
    Message poll;
    ASSERT_TRUE(poll.ParseFromString(std::string("\x8a\x03\x02\x0a\x00", 5)));
    auto pc = extract_content(poll);
    ASSERT_TRUE(pc);
    EXPECT_EQ(pc->kind, K::placeholder);
}

TEST(MessageContent, SenderKeysAndProtocolMessagesPostNothing)
{
    Message skdm;
    skdm.mutable_senderkeydistributionmessage()->set_groupid("1@g.us");
    EXPECT_FALSE(extract_content(skdm));

    Message hist;
    hist.mutable_protocolmessage()->set_type(Message::ProtocolMessage::HISTORY_SYNC_NOTIFICATION);
    EXPECT_FALSE(extract_content(hist));

    Message keys;
    keys.mutable_protocolmessage()->set_type(Message::ProtocolMessage::APP_STATE_SYNC_KEY_SHARE);
    EXPECT_FALSE(extract_content(keys));

    Message meta;
    meta.mutable_messagecontextinfo()->set_messagesecret("s");
    EXPECT_FALSE(extract_content(meta));
}

TEST(MessageContent, MediaCarriesWhatTheDownloadNeeds)
{
    Message m;
    auto* d = m.mutable_documentmessage();
    d->set_mediakey(std::string(32, 'k'));
    d->set_filesha256(std::string(32, 'p'));
    d->set_fileencsha256(std::string(32, 'e'));
    d->set_filelength(1234);
    d->set_directpath("/v/t62.7119-24/x.enc?ccb=11-4");
    d->set_url("https://mmg.whatsapp.net/v/t62.7119-24/x.enc");
    d->set_mimetype("application/pdf");
    d->set_filename("report.pdf");
    d->set_caption("the report");
    auto c = extract_content(m);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->media);
    EXPECT_EQ(c->media->type, "document");
    EXPECT_EQ(c->media->media_key, std::string(32, 'k'));
    EXPECT_EQ(c->media->file_sha256, std::string(32, 'p'));
    EXPECT_EQ(c->media->file_enc_sha256, std::string(32, 'e'));
    EXPECT_EQ(c->media->file_length, 1234u);
    EXPECT_EQ(c->media->direct_path, "/v/t62.7119-24/x.enc?ccb=11-4");
    EXPECT_EQ(c->media->url, "https://mmg.whatsapp.net/v/t62.7119-24/x.enc");
    EXPECT_EQ(c->media->mimetype, "application/pdf");
    EXPECT_EQ(c->media->file_name, "report.pdf");
    EXPECT_EQ(c->caption, "the report");
    EXPECT_FALSE(c->view_once);
}

TEST(MessageContent, EachMediaKindHasItsKeyFamily)
{
    Message gif;
    gif.mutable_videomessage()->set_gifplayback(true);
    EXPECT_EQ(extract_content(gif)->media->type, "gif");
    Message video;
    video.mutable_videomessage()->set_caption("c");
    EXPECT_EQ(extract_content(video)->media->type, "video");
    Message ptt;
    ptt.mutable_audiomessage()->set_ptt(true);
    EXPECT_EQ(extract_content(ptt)->media->type, "ptt");
    Message audio;
    audio.mutable_audiomessage()->set_mimetype("audio/mpeg");
    EXPECT_EQ(extract_content(audio)->media->type, "audio");
    Message sticker;
    sticker.mutable_stickermessage()->set_mimetype("image/webp");
    EXPECT_EQ(extract_content(sticker)->media->type, "sticker");
    EXPECT_EQ(extract_content(sticker)->media->mimetype, "image/webp");
    Message image;
    image.mutable_imagemessage()->set_caption("x");
    EXPECT_EQ(extract_content(image)->media->type, "image");
}

TEST(MessageContent, ViewOnceMediaIsNotDownloaded)
{
    Message wrapped;
    wrapped.mutable_viewoncemessagev2()->mutable_message()->mutable_imagemessage()->set_mediakey(
        std::string(32, 'k'));
    auto c = extract_content(wrapped);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->view_once);
    EXPECT_FALSE(c->media);

    Message flagged;
    flagged.mutable_videomessage()->set_viewonce(true);
    c = extract_content(flagged);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->view_once);
    EXPECT_FALSE(c->media);
}

}  // namespace
}  // namespace chatwoot::wa::message
