// An agent's attachment made ready for WhatsApp (issue 11, Chatwoot ->
// WhatsApp): probed, converted where WhatsApp needs another form, given
// its JPEG thumbnail, size, duration and (for a voice note) waveform, or
// else sent as a document with its name.  Never fails: any trouble ends in
// a document, with fallback_reason saying why, and the input file is never
// changed or removed.
//
// The choice (the issue asks to say it): Debian's `ffmpeg` and `ffprobe`
// programs, run as child processes, for transcoding, thumbnails and
// probing alike.  Not FFmpeg's libraries in-process, not libvips, no image
// code of our own:
//   - A hostile or broken file crashes or hangs a child, never the helper,
//     which keeps every WhatsApp session of every inbox.  A timer kills a
//     child that takes too long; rlimits bound its memory, file size and
//     CPU; it gets no descriptor of ours (child_process.hpp).
//   - The child's memory is not the helper's: decoding a 64 MB video's
//     frame or a 40-megapixel photo leaves the helper's RSS flat (the
//     issue's benchmark: under 16 MB above idle while moving a 64 MB video).
//   - The event loop never blocks: children are watched through a pidfd
//     and their pipes on nginx's loop, not waited for.
//   - One dependency that does every format we meet (WebM/Opus, MP3, WAV,
//     AAC, PNG, WebP, GIF, BMP, MP4, ...), packaged and patched by Debian;
//     a few milliseconds of process start per step is nothing next to an
//     upload.
// ffmpeg and ffprobe only read what they are given: the input is reached
// through a symlink without an extension (so formats are recognised by
// content, never picked by a name), `-protocol_whitelist file` (no
// network) and a demuxer whitelist without playlists (probe.hpp), and
// `-max_pixels` caps frame sizes.
//
// What goes how (decided by Chatwoot's file_type, falling back to the
// content type's major type, then checked against what ffprobe finds):
//   image     JPEG and PNG as they are (image/jpeg, image/png; the type
//             comes from the bytes, not from the claimed content type);
//             anything else ffmpeg decodes as a picture (WebP, GIF's first
//             frame, BMP, TIFF, ...) becomes a JPEG, and so does a photo
//             upright only by its EXIF orientation (turned for real; the
//             size is the upright one).  Transparent pixels become white.
//             A thumbnail (JPEG, longest side 100 px, under 10 KB) and the
//             size.  Larger than kMaxPixels, or not a picture at all: a
//             document.
//   video     MP4 (ISO family: mp4, mov, m4v) with H.264 video and AAC or
//             no audio, as it is (video/mp4), with a thumbnail from an
//             early frame (none if no frame can be taken), size (upright:
//             a portrait phone video is stored turned) and seconds.  Any other video (WebM, HEVC, AVI, ...) is
//             transcoded to MP4 H.264/AAC with a bounded preset (veryfast,
//             CRF 28, longest side at most 1280) and goes as a video; if
//             that fails or takes longer than the timeout, a document.  A
//             file with only audio: as audio.
//   audio     A voice note (kind ptt), transcoded to OGG/Opus mono 48 kHz
//             32 kb/s ("audio/ogg; codecs=opus") with seconds and a 64-bar
//             waveform (waveform.hpp), when it was recorded in Chatwoot, or
//             when WhatsApp would not play its container.  Otherwise (an
//             MP3, M4A/AAC, OGG/Opus or AMR file an agent attached) as it
//             is, kind audio, with its mimetype and seconds.
//             "Recorded in Chatwoot": Chatwoot's dashboard recorder
//             (app/javascript/dashboard/components/widgets/WootWriter/
//             AudioRecorder.vue, 4.x) names its file `<uuid v4>.<ext>`
//             with ext ogg (WebM/Opus remuxed by the browser), webm, wav
//             or mp3 (Safari), content type audio/<ext>; the attachment
//             is marked meta.is_recorded_audio (API clients send it as the
//             `is_recorded_audio` list of file names; webhooks carry it in
//             the attachment's meta).
//             The webhook record does not carry meta yet, so the rule is:
//             PrepareInput::recorded_audio (when the caller knows it) or a
//             file name of that shape.
//   anything else, and every failure: a document (the input as it is,
//             its file name and content type).
// At most max_jobs attachments are prepared at once (the rest wait, in
// order); each child has its own timeout (video transcoding a longer one).
#pragma once

#include "child_process.hpp"
#include "reactor.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chatwoot::helper::media_prep {

struct PrepareInput {
    std::string path;          // the attachment as fetched from Chatwoot
    std::string content_type;  // Chatwoot's content type (may be wrong)
    std::string file_name;
    std::string file_type;     // Chatwoot's attachment file_type: image, audio, video, file, ...
    // Chatwoot's meta.is_recorded_audio, when the caller has it.
    bool recorded_audio = false;
};

struct PreparedMedia {
    enum class Kind { image, video, audio, ptt, document, sticker };
    Kind kind = Kind::document;
    // The file to upload: the input's own path when it goes as it is,
    // else a new file in work_dir (0600, fsynced with its directory) that
    // the caller owns from now on and removes when done with it (compare
    // with PrepareInput::path).
    std::string path;
    std::string mimetype;
    std::string file_name;       // for documents (and kept for the others)
    std::string jpeg_thumbnail;  // bytes of a small JPEG, or empty
    uint32_t width = 0, height = 0, seconds = 0;
    std::string waveform;  // ptt: 64 bytes, each 0..100
    bool gif_playback = false;
    // Why it became a document instead of what it looked like; empty for
    // a file that is simply a document.  For the caller's log line (the
    // preparer does not log it), never for the chat.
    std::string fallback_reason;
};

const char* kind_name(PreparedMedia::Kind kind);

// The names the send path (media_sender) was written against.
using MediaKind = PreparedMedia::Kind;
inline const char* media_kind_name(MediaKind kind) { return kind_name(kind); }

struct MediaPrepOptions {
    std::string ffmpeg = "/usr/bin/ffmpeg";
    std::string ffprobe = "/usr/bin/ffprobe";
    uint64_t timeout_msec = 120'000;         // per child process
    uint64_t video_timeout_msec = 600'000;   // transcoding a video
    // Attachments prepared at once; the others wait their turn (in order),
    // so that a burst of videos does not put every core to ffmpeg.
    size_t max_jobs = 2;
    ChildLimits limits;
};

class MediaPreparer {
public:
    using Options = MediaPrepOptions;

    // On nginx's event loop (the helper process; media_preparer_nginx.cpp).
    MediaPreparer(std::string work_dir, Options options);
    // On any loop (the tests' poll loop).
    MediaPreparer(Reactor& reactor, std::string work_dir, Options options);
    // Jobs still running are abandoned: their children killed, their
    // temporary files removed, their `done` not called.
    ~MediaPreparer();

    MediaPreparer(const MediaPreparer&) = delete;
    MediaPreparer& operator=(const MediaPreparer&) = delete;

    // Starts preparing; `done` runs once, from the loop (never from inside
    // this call).  Nothing is spawned or created (not even work_dir) before
    // the first call: a preparer that never prepares costs nothing.
    void prepare(PrepareInput input, std::function<void(PreparedMedia)> done);

    // Jobs not finished yet, waiting ones included.
    size_t running() const { return jobs_.size(); }

    // Removes what a killed helper left in work_dir: the scratch
    // directories (prep-*, with any output not yet handed over), and the
    // outputs handed over (media-*) that no owner recorded before the kill:
    // those not in `in_use` (full paths).
    // For the helper's start, before any preparer of that directory runs.
    static void remove_leftovers(const std::string& work_dir,
                                 const std::vector<std::string>& in_use) noexcept;

private:
    class Job;
    void start_later(uint64_t id);
    void finished(uint64_t id, PreparedMedia media);

    Reactor& reactor_;
    std::string work_dir_;
    Options options_;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::unique_ptr<Job>> jobs_;
    std::deque<uint64_t> waiting_;  // jobs not started for want of a slot
    size_t active_ = 0;             // jobs started and not finished
};

// Whether a file name is the shape Chatwoot's recorder gives its
// recordings: `<uuid>.<ogg|webm|wav|mp3|m4a>`.
bool looks_recorded_in_chatwoot(std::string_view file_name);

}  // namespace chatwoot::helper::media_prep
