// STAND-IN, replaced at merge by helper-MP's src/helper/media_prep/ (the
// ffmpeg-based preparation: voice notes to OGG/Opus with a waveform,
// thumbnails, the probe of width/height/seconds).  Same shape as its API:
// prepare() never fails (what cannot be prepared goes as a document) and
// calls back with what to upload.  This one only sorts by content type:
// image/* -> image, video/mp4 -> video, audio/* -> audio, else document;
// no thumbnail, no probe, the input file as it is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace chatwoot::helper::media_prep {

enum class MediaKind { image, video, audio, ptt, document, sticker };

inline const char* media_kind_name(MediaKind k)
{
    switch (k) {
    case MediaKind::image: return "image";
    case MediaKind::video: return "video";
    case MediaKind::audio: return "audio";
    case MediaKind::ptt: return "ptt";
    case MediaKind::document: return "document";
    case MediaKind::sticker: return "sticker";
    }
    return "document";
}

struct PrepareInput {
    std::string path;
    std::string content_type;
    std::string file_name;
    std::string file_type;       // Chatwoot's: image, audio, video, file
};

struct PreparedMedia {
    MediaKind kind = MediaKind::document;
    std::string path;            // the file to upload: the input or a new one
    std::string mimetype;
    std::string file_name;
    std::string jpeg_thumbnail;  // bytes, may be empty
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t seconds = 0;
    std::string waveform;        // bytes
    bool gif_playback = false;
    std::string fallback_reason; // why it became a document, empty otherwise
};

class MediaPreparer {
public:
    void prepare(PrepareInput in, std::function<void(PreparedMedia)> done)
    {
        PreparedMedia m;
        m.path = in.path;
        m.file_name = in.file_name;
        m.mimetype = in.content_type.empty() ? "application/octet-stream" : in.content_type;
        const std::string& ct = m.mimetype;
        if (ct.starts_with("image/")) {
            m.kind = MediaKind::image;
        } else if (ct == "video/mp4") {
            m.kind = MediaKind::video;
        } else if (ct.starts_with("audio/")) {
            m.kind = MediaKind::audio;
        } else {
            m.kind = MediaKind::document;
        }
        done(std::move(m));
    }
};

}  // namespace chatwoot::helper::media_prep
