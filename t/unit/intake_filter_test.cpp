// Which chats reach Chatwoot.
#include "bridge/intake_filter.hpp"

#include <gtest/gtest.h>

using chatwoot::bridge::IntakeFilter;
using chatwoot::bridge::WaMessage;

namespace {

WaMessage in(std::string chat)
{
    WaMessage m;
    m.id = "X";
    m.chat = std::move(chat);
    m.text = "t";
    return m;
}

}  // namespace

TEST(IntakeFilter, NeverStatusBroadcastsOrChannels)
{
    IntakeFilter f;
    EXPECT_TRUE(f.accepts(in("5511987654321@s.whatsapp.net")));
    EXPECT_TRUE(f.accepts(in("123456789012345@lid")));
    EXPECT_TRUE(f.accepts(in("120363000000000000@g.us")));
    EXPECT_FALSE(f.accepts(in("status@broadcast")));
    EXPECT_FALSE(f.accepts(in("120363000000000001@newsletter")));
    EXPECT_FALSE(f.accepts(in("not a jid")));
}

TEST(IntakeFilter, GroupsAndListedChatsOnRequest)
{
    IntakeFilter f;
    f.ignore_groups = true;
    f.ignored_chats = {"5511999999999@s.whatsapp.net"};
    EXPECT_FALSE(f.accepts(in("120363000000000000@g.us")));
    EXPECT_FALSE(f.accepts(in("5511999999999@s.whatsapp.net")));
    EXPECT_TRUE(f.accepts(in("5511987654321@s.whatsapp.net")));
}
