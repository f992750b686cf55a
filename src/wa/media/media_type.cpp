#include "wa/media/media_type.hpp"

#include <array>

namespace chatwoot::wa::media {

namespace {

struct Row {
    MediaType type;
    std::string_view name;    // wire / Baileys name
    std::string_view family;  // HKDF "WhatsApp <family> Keys"
    std::string_view mms;     // URL mms-type, empty when not uploaded alone
};

// One row per type; the table is the single source for all four lookups.
constexpr std::array<Row, 18> rows{{
    {MediaType::image, "image", "Image", "image"},
    {MediaType::sticker, "sticker", "Image", "image"},
    {MediaType::product, "product", "Image", "image"},
    {MediaType::biz_cover_photo, "biz-cover-photo", "Image", "image"},
    {MediaType::video, "video", "Video", "video"},
    {MediaType::gif, "gif", "Video", "video"},
    {MediaType::ptv, "ptv", "Video", "video"},
    {MediaType::audio, "audio", "Audio", "audio"},
    {MediaType::ptt, "ptt", "Audio", "audio"},
    {MediaType::document, "document", "Document", "document"},
    {MediaType::history, "md-msg-hist", "History", "md-msg-hist"},
    {MediaType::app_state, "md-app-state", "App State", "md-app-state"},
    {MediaType::link_thumbnail, "thumbnail-link", "Link Thumbnail", "thumbnail-link"},
    {MediaType::sticker_pack, "sticker-pack", "Sticker Pack", "sticker-pack"},
    {MediaType::document_thumbnail, "thumbnail-document", "Document Thumbnail", ""},
    {MediaType::image_thumbnail, "thumbnail-image", "Image Thumbnail", ""},
    {MediaType::video_thumbnail, "thumbnail-video", "Video Thumbnail", ""},
    {MediaType::payment_background, "payment-bg-image", "Payment Background", ""},
}};

const Row& row(MediaType type)
{
    for (const Row& r : rows)
        if (r.type == type) return r;
    return rows[0];  // unreachable: every enumerator has a row (see the tests)
}

}  // namespace

std::string_view key_family(MediaType type)
{
    return row(type).family;
}

std::string hkdf_info(MediaType type)
{
    return "WhatsApp " + std::string(row(type).family) + " Keys";
}

std::string_view mms_type(MediaType type)
{
    return row(type).mms;
}

std::optional<MediaType> media_type_from_name(std::string_view name)
{
    for (const Row& r : rows)
        if (r.name == name) return r.type;
    return std::nullopt;
}

std::string_view media_type_name(MediaType type)
{
    return row(type).name;
}

}  // namespace chatwoot::wa::media
