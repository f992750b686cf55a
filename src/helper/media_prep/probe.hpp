// What ffprobe says of a file, read from its JSON answer
// (-of json -show_entries format=format_name,duration:stream=index,
// codec_type,codec_name,width,height,duration:stream_disposition=attached_pic).
// Only what the preparation decides on; a malformed answer is a reason,
// never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chatwoot::helper::media_prep {

struct ProbedStream {
    std::string codec_type;  // "video", "audio", "subtitle", "data", ...
    std::string codec_name;  // "h264", "aac", "opus", "mjpeg", "png", ...
    uint32_t width = 0;
    uint32_t height = 0;
    bool attached_pic = false;  // cover art in an audio file: not a video
    // A video's display rotation in degrees (a phone's portrait video is
    // stored landscape with -90 or 90); ffmpeg turns frames as it decodes.
    int rotation = 0;
    // Whether the upright picture is `height` wide.
    bool turned() const { return rotation % 180 != 0; }
};

struct Probe {
    std::string format_name;  // "mov,mp4,m4a,3gp,3g2,mj2", "png_pipe", ...
    double duration = 0;      // seconds; 0 when unknown
    std::vector<ProbedStream> streams;
    // A photo's EXIF orientation (1..8; 1 upright), from its first frame.
    // ffmpeg turns such frames upright as it decodes them; 5..8 mean the
    // upright picture is `height` wide.
    int orientation = 1;

    // The first real video (or image) stream, the first audio stream.
    const ProbedStream* video() const;
    const ProbedStream* audio() const;
    // Whether format_name lists `name` ("mp4" in "mov,mp4,m4a,...").
    bool format_is(std::string_view name) const;
};

// The parsed answer, or why it could not be read.
std::variant<Probe, std::string> parse_probe(std::string_view json);

// ffprobe's arguments (after the program) for `input`.
std::vector<std::string> probe_arguments(const std::string& input);

// The demuxers ffmpeg and ffprobe may use on a file an agent attached:
// containers and image formats recognised by their content.  Not image2
// (which reads numbered sequences by name), not hls, concat, or any
// playlist format: those open further files or URLs named inside the file,
// the classic way a crafted upload reads the server's files.
inline constexpr const char* kDemuxers =
    "mov,matroska,webm,ogg,mp3,wav,aac,flac,amr,avi,mpegts,"
    "png_pipe,jpeg_pipe,webp_pipe,gif,bmp_pipe,tiff_pipe";

// Decoders refuse frames larger than this: 50 megapixels, beyond any phone
// camera, and within the child's address-space limit.
inline constexpr uint64_t kMaxPixels = 50'000'000;

}  // namespace chatwoot::helper::media_prep
