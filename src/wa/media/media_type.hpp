// Media types and the names WhatsApp gives them.
//
// Each type selects the HKDF info string "WhatsApp <X> Keys" that expands a
// media key, and (for uploadable types) the mms-type used in upload and
// download URLs.  Several message types share a key family: a sticker is
// encrypted as an image, a voice note (ptt) as audio, a gif as video.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::wa::media {

enum class MediaType {
    image,
    sticker,
    product,
    biz_cover_photo,
    video,
    gif,
    ptv,
    audio,
    ptt,
    document,
    history,    // history sync blobs
    app_state,  // app-state snapshots and patches
    link_thumbnail,
    sticker_pack,
    document_thumbnail,
    image_thumbnail,
    video_thumbnail,
    payment_background,
};

// "Image", "App State", ...: the X in "WhatsApp X Keys".
std::string_view key_family(MediaType type);

// "WhatsApp Image Keys", ...
std::string hkdf_info(MediaType type);

// The URL path segment ("image", "md-msg-hist", ...); empty for types that
// are never uploaded on their own (the thumbnails, payment backgrounds).
std::string_view mms_type(MediaType type);

// From the wire/Baileys names: "image", "sticker", "ptt", "md-msg-hist",
// "md-app-state", "thumbnail-link", "sticker-pack", "thumbnail-document",
// "payment-bg-image", ...; nullopt for an unknown name.
std::optional<MediaType> media_type_from_name(std::string_view name);

// The inverse of media_type_from_name.
std::string_view media_type_name(MediaType type);

}  // namespace chatwoot::wa::media
