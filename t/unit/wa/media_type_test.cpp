// Media type names, HKDF info strings and mms-types (waweb.md section 2).
#include <gtest/gtest.h>

#include "wa/media/media_type.hpp"

namespace chatwoot::wa::media {
namespace {

TEST(MediaType, InfoStringsAreExact)
{
    EXPECT_EQ(hkdf_info(MediaType::image), "WhatsApp Image Keys");
    EXPECT_EQ(hkdf_info(MediaType::sticker), "WhatsApp Image Keys");
    EXPECT_EQ(hkdf_info(MediaType::video), "WhatsApp Video Keys");
    EXPECT_EQ(hkdf_info(MediaType::gif), "WhatsApp Video Keys");
    EXPECT_EQ(hkdf_info(MediaType::audio), "WhatsApp Audio Keys");
    EXPECT_EQ(hkdf_info(MediaType::ptt), "WhatsApp Audio Keys");
    EXPECT_EQ(hkdf_info(MediaType::document), "WhatsApp Document Keys");
    EXPECT_EQ(hkdf_info(MediaType::history), "WhatsApp History Keys");
    EXPECT_EQ(hkdf_info(MediaType::app_state), "WhatsApp App State Keys");
    EXPECT_EQ(hkdf_info(MediaType::link_thumbnail), "WhatsApp Link Thumbnail Keys");
    EXPECT_EQ(hkdf_info(MediaType::sticker_pack), "WhatsApp Sticker Pack Keys");
    EXPECT_EQ(hkdf_info(MediaType::document_thumbnail), "WhatsApp Document Thumbnail Keys");
    EXPECT_EQ(hkdf_info(MediaType::payment_background), "WhatsApp Payment Background Keys");
}

TEST(MediaType, MmsTypes)
{
    EXPECT_EQ(mms_type(MediaType::image), "image");
    EXPECT_EQ(mms_type(MediaType::sticker), "image");
    EXPECT_EQ(mms_type(MediaType::ptt), "audio");
    EXPECT_EQ(mms_type(MediaType::ptv), "video");
    EXPECT_EQ(mms_type(MediaType::history), "md-msg-hist");
    EXPECT_EQ(mms_type(MediaType::app_state), "md-app-state");
    EXPECT_EQ(mms_type(MediaType::link_thumbnail), "thumbnail-link");
    EXPECT_EQ(mms_type(MediaType::image_thumbnail), "");
}

TEST(MediaType, NamesRoundTripForEveryType)
{
    for (int i = 0; i <= static_cast<int>(MediaType::payment_background); ++i) {
        auto t = static_cast<MediaType>(i);
        std::string_view name = media_type_name(t);
        ASSERT_FALSE(name.empty()) << i;
        auto back = media_type_from_name(name);
        ASSERT_TRUE(back.has_value()) << name;
        EXPECT_EQ(*back, t) << name;
        EXPECT_FALSE(key_family(t).empty()) << name;
    }
}

TEST(MediaType, UnknownNames)
{
    EXPECT_FALSE(media_type_from_name("Image"));
    EXPECT_FALSE(media_type_from_name(""));
    EXPECT_FALSE(media_type_from_name("ppic"));
}

}  // namespace
}  // namespace chatwoot::wa::media
