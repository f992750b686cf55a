// The readable texts of locations, contact cards and placeholders, and
// the one-chat-per-person rule.
#include <gtest/gtest.h>

#include "bridge/chat_identity.hpp"
#include "bridge/wa_content.hpp"

namespace chatwoot::bridge {
namespace {

TEST(WaContent, LocationHasNameAddressAndAMapsLink)
{
    EXPECT_EQ(location_text({52.52, 13.405, "Alexanderplatz", "10178 Berlin", false}),
              "📍 Alexanderplatz\n10178 Berlin\nhttps://maps.google.com/?q=52.52,13.405");
    EXPECT_EQ(location_text({-33.8688197, 151.2092961, "", "", false}),
              "📍 Location\nhttps://maps.google.com/?q=-33.86882,151.209296");
    EXPECT_EQ(location_text({0, 0, "", "", true}), "📍 Live location\nhttps://maps.google.com/?q=0,0");
}

TEST(WaContent, VcardPhoneNumbers)
{
    const std::string vcard =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Builder\r\n"
        "item1.TEL;waid=15551234567:+1 555-123-4567\r\nitem1.X-ABLabel:Mobile\r\n"
        "TEL;TYPE=work:+49 30\r\n 1234\r\ntel;type=home:tel:+44 20 7946 0000\r\nEND:VCARD\r\n";
    EXPECT_EQ(vcard_phone_numbers(vcard),
              (std::vector<std::string>{"+1 555-123-4567", "+49 301234", "+44 20 7946 0000"}));
    EXPECT_TRUE(vcard_phone_numbers("").empty());
    EXPECT_TRUE(vcard_phone_numbers("TEL").empty());
}

TEST(WaContent, ContactCards)
{
    EXPECT_EQ(contact_cards_text({{"Bob", "BEGIN:VCARD\nTEL:+1 555\nEND:VCARD"}}), "👤 Bob\n+1 555");
    EXPECT_EQ(contact_cards_text({{"", "BEGIN:VCARD\nFN:Ann\nTEL:+1\nTEL:+2\nEND:VCARD"},
                                  {"Cy", ""}}),
              "👤 Ann\n+1\n+2\n\n👤 Cy");
    EXPECT_EQ(contact_cards_text({}), "👤 Contact");
}

TEST(WaContent, Placeholders)
{
    EXPECT_EQ(placeholder_text("image", ""), "[image received: media is not bridged yet]");
    EXPECT_EQ(placeholder_text("document", "report.pdf"),
              "[document received: media is not bridged yet]\nreport.pdf");
    EXPECT_EQ(placeholder_text("message", ""), "[message received: not bridged yet]");
    EXPECT_NE(undecryptable_text().find("could not be decrypted"), std::string::npos);
}

TEST(ChatIdentity, OneChatPerPerson)
{
    const std::string pn = "15550001111@s.whatsapp.net", lid = "222333@lid";
    // Unknown mapping: as it came.
    EXPECT_EQ(chat_identity({lid, std::nullopt, lid, false, false}), lid);
    EXPECT_EQ(chat_identity({pn, pn, std::nullopt, false, false}), pn);
    // Known mapping, no chat yet: the PN.
    EXPECT_EQ(chat_identity({lid, pn, lid, false, false}), pn);
    // The LID wrote first (chat under the LID), the mapping came later:
    // the LID chat stays, also for messages that arrive as PN.
    EXPECT_EQ(chat_identity({pn, pn, lid, false, true}), lid);
    EXPECT_EQ(chat_identity({lid, pn, lid, false, true}), lid);
    // A PN chat stays too.
    EXPECT_EQ(chat_identity({lid, pn, lid, true, false}), pn);
    // Both (learned after each wrote): the PN.
    EXPECT_EQ(chat_identity({lid, pn, lid, true, true}), pn);
}

}  // namespace
}  // namespace chatwoot::bridge
