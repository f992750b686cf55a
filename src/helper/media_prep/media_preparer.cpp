#include "media_preparer.hpp"

#include "probe.hpp"
#include "waveform.hpp"

#include "../log.hpp"
#include "../../store/private_paths.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <variant>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace chatwoot::helper::media_prep {

namespace fs = std::filesystem;
using Kind = PreparedMedia::Kind;

namespace {

// WhatsApp shows a thumbnail from the message itself: small, or none.
constexpr size_t kThumbnailMax = 10 * 1024;
constexpr const char* kThumbnailSide = "100";
constexpr size_t kProbeOutputMax = 256 * 1024;  // a file with thousands of streams is refused
constexpr const char* kOpusMime = "audio/ogg; codecs=opus";

std::string lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

// The last non-empty line of a child's stderr, bounded, for a reason.
std::string last_line(const std::string& err)
{
    size_t end = err.find_last_not_of("\r\n ");
    if (end == std::string::npos) {
        return {};
    }
    size_t begin = err.find_last_of('\n', end);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string line = err.substr(begin, std::min<size_t>(end + 1 - begin, 200));
    for (auto& c : line) {
        if (static_cast<unsigned char>(c) < 0x20) {
            c = ' ';
        }
    }
    return line;
}

std::string failure(const char* program, const ChildResult& r)
{
    std::string s = std::string(program) + " " + r.describe();
    if (const std::string line = last_line(r.err_tail); !line.empty()) {
        s += ": " + line;
    }
    return s;
}

uint32_t whole_seconds(double seconds)
{
    if (!(seconds > 0)) {
        return 0;
    }
    return static_cast<uint32_t>(std::max(1.0, std::round(std::min(seconds, 1e7))));
}

// What the agent meant, from Chatwoot's file_type, else the content type.
std::string intent_of(const PrepareInput& in)
{
    std::string ft = lower(in.file_type);
    if (!ft.empty()) {
        return ft;
    }
    const std::string ct = lower(in.content_type);
    for (const char* major : {"image", "video", "audio"}) {
        if (ct.rfind(std::string(major) + "/", 0) == 0) {
            return major;
        }
    }
    return "file";
}

// The mimetype WhatsApp plays an audio file under, or empty when it does
// not play that container/codec.
std::string playable_audio_mime(const Probe& p, const ProbedStream& a)
{
    if (p.format_is("mp3") && a.codec_name == "mp3") {
        return "audio/mpeg";
    }
    if (p.format_is("mp4") && a.codec_name == "aac") {
        return "audio/mp4";
    }
    if (p.format_is("aac") && a.codec_name == "aac") {
        return "audio/aac";
    }
    if (p.format_is("ogg") && a.codec_name == "opus") {
        return kOpusMime;
    }
    if (p.format_is("amr")) {
        return "audio/amr";
    }
    return {};
}

std::string describe_probe(const Probe& p)
{
    std::string s = p.format_name;
    for (const auto& st : p.streams) {
        s += " " + st.codec_type + "/" + st.codec_name;
    }
    return s;
}

// A new empty file in `dir`, 0600 whatever the umask; ffmpeg then
// truncates and fills it, which keeps the mode.
std::string private_temp_file(const std::string& dir, const char* prefix, const char* suffix)
{
    std::string path = dir + "/" + prefix + "XXXXXX" + suffix;
    const int fd = ::mkostemps(path.data(), static_cast<int>(std::strlen(suffix)), O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error("cannot create a file in " + dir + ": " + std::strerror(errno));
    }
    ::close(fd);
    return path;
}

void sync_path(const std::string& path, int flags)
{
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    }
    const int r = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (r != 0) {
        throw std::runtime_error("fsync " + path + ": " + std::strerror(err));
    }
}

}  // namespace

const char* kind_name(Kind kind)
{
    switch (kind) {
    case Kind::image: return "image";
    case Kind::video: return "video";
    case Kind::audio: return "audio";
    case Kind::ptt: return "ptt";
    case Kind::document: return "document";
    case Kind::sticker: return "sticker";
    }
    return "?";
}

bool looks_recorded_in_chatwoot(std::string_view name)
{
    // 8-4-4-4-12 hex digits, a dot, one of the recorder's extensions.
    static constexpr int kGroups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (size_t g = 0; g < 5; g++) {
        for (int k = 0; k < kGroups[g]; k++, i++) {
            if (i >= name.size() || !std::isxdigit(static_cast<unsigned char>(name[i]))) {
                return false;
            }
        }
        const char sep = g < 4 ? '-' : '.';
        if (i >= name.size() || name[i] != sep) {
            return false;
        }
        i++;
    }
    const std::string ext = lower(name.substr(i));
    return ext == "ogg" || ext == "webm" || ext == "wav" || ext == "mp3" || ext == "m4a";
}

// One attachment's way through probe -> plan -> (convert) -> result.  Its
// steps are callbacks of ChildProcess; the last one hands the result to
// the preparer, which destroys the job and calls `done`.
class MediaPreparer::Job {
public:
    Job(MediaPreparer& owner, uint64_t id, PrepareInput in, std::function<void(PreparedMedia)> done)
        : owner_(owner), id_(id), in_(std::move(in)), done_(std::move(done))
    {
    }

    ~Job()
    {
        child_.reset();  // killed and reaped before its files go
        std::error_code ec;
        if (!output_.empty()) {
            fs::remove(output_, ec);
        }
        if (!dir_.empty()) {
            fs::remove_all(dir_, ec);
        }
    }

    void start()
    {
        try {
            begin();
        } catch (const std::exception& e) {
            document(std::string("cannot prepare: ") + e.what());
        } catch (...) {
            document("cannot prepare");
        }
    }

    std::function<void(PreparedMedia)> take_done() { return std::move(done_); }

    std::unique_ptr<Reactor::Handle> start_;

private:
    const MediaPrepOptions& opt() const { return owner_.options_; }

    void begin()
    {
        struct stat st {};
        if (::stat(in_.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            return document("the file is missing");
        }
        if (st.st_size == 0) {
            return document("the file is empty");
        }
        intent_ = intent_of(in_);
        if (intent_ != "image" && intent_ != "video" && intent_ != "audio") {
            return document({});  // a file is a document: nothing to probe, no fallback
        }
        store::make_private_directory(owner_.work_dir_, true);
        std::string dir = owner_.work_dir_ + "/prep-XXXXXX";
        if (::mkdtemp(dir.data()) == nullptr) {
            throw std::runtime_error("mkdtemp in " + owner_.work_dir_ + ": " + std::strerror(errno));
        }
        dir_ = dir;
        // No extension: ffmpeg recognises the format by its content.
        link_ = dir_ + "/input";
        fs::create_symlink(fs::absolute(in_.path), link_);

        std::vector<std::string> argv{opt().ffprobe};
        for (auto& a : probe_arguments(link_)) {
            argv.push_back(std::move(a));
        }
        ChildSpec spec;
        spec.argv = std::move(argv);
        spec.stdout_limit = kProbeOutputMax;
        run(std::move(spec), [this](ChildResult r) { on_probe(std::move(r)); });
    }

    void run(ChildSpec spec, std::function<void(ChildResult)> next, uint64_t timeout_msec = 0)
    {
        spec.timeout_msec = timeout_msec != 0 ? timeout_msec : opt().timeout_msec;
        spec.limits = opt().limits;
        // A step's callback may start the next child (replacing child_,
        // which destroys the ChildProcess calling it) or finish the job
        // (destroying it): both allowed, since ChildProcess moves `done`
        // out before calling it and nothing here runs after.  Whatever a
        // step throws ends the job as a document, never leaves it hanging.
        auto guarded = [this, next = std::move(next)](ChildResult r) {
            try {
                next(std::move(r));
            } catch (const std::exception& e) {
                document(std::string("cannot prepare: ") + e.what());
            } catch (...) {
                document("cannot prepare");
            }
        };
        child_ = std::make_unique<ChildProcess>(owner_.reactor_, std::move(spec), std::move(guarded));
    }

    std::vector<std::string> ffmpeg_input(const char* seek = nullptr) const
    {
        std::vector<std::string> a{opt().ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"};
        if (seek != nullptr) {
            a.insert(a.end(), {"-ss", seek});
        }
        // Two decoding threads: enough for a frame or a voice note, and
        // within the child's address-space limit on a many-core host.
        a.insert(a.end(), {"-threads", "2", "-protocol_whitelist", "file", "-format_whitelist", kDemuxers,
                           "-max_pixels", std::to_string(kMaxPixels), "-i", link_});
        return a;
    }

    // Longest side kThumbnailSide, 4:2:0 (what every JPEG decoder takes).
    static std::string thumbnail_filter()
    {
        const std::string side = kThumbnailSide;
        return "scale=w=" + side + ":h=" + side + ":force_original_aspect_ratio=decrease,format=yuvj420p";
    }

    // A video's thumbnail: its first frame (after any -ss) to stdout.
    static void thumbnail_output(std::vector<std::string>& a)
    {
        a.insert(a.end(), {"-map", "0:v:0", "-frames:v", "1", "-map_metadata", "-1",
                           "-vf", thumbnail_filter(), "-c:v", "mjpeg", "-q:v", "8", "-f", "mjpeg", "pipe:1"});
    }

    void on_probe(ChildResult r)
    {
        if (!r.ok()) {
            return document(failure("ffprobe", r));
        }
        auto parsed = parse_probe(r.out);
        if (auto* why = std::get_if<std::string>(&parsed)) {
            return document(*why);
        }
        probe_ = std::get<Probe>(std::move(parsed));
        if (intent_ == "image") {
            return plan_image();
        }
        if (intent_ == "video") {
            return plan_video();
        }
        return plan_audio();
    }

    // --- images -----------------------------------------------------------

    void plan_image()
    {
        const ProbedStream* v = probe_.video();
        if (v == nullptr) {
            return document("not a picture: " + describe_probe(probe_));
        }
        if (v->width == 0 || v->height == 0) {
            return document("a picture without a size: " + describe_probe(probe_));
        }
        if (uint64_t{v->width} * v->height > kMaxPixels) {
            return document("picture too large: " + std::to_string(v->width) + "x" +
                            std::to_string(v->height));
        }
        media_.kind = Kind::image;
        // Upright size: ffmpeg turns an EXIF-rotated photo as it decodes.
        const bool turned = probe_.orientation >= 5;
        media_.width = turned ? v->height : v->width;
        media_.height = turned ? v->width : v->height;
        bool convert = false;
        if (probe_.orientation != 1) {
            // A photo upright only by its EXIF tag: made upright for real,
            // since not every client reads the tag.
            convert = true;
            output_ = private_temp_file(dir_, "output", ".jpg");
            media_.mimetype = "image/jpeg";
        } else if (v->codec_name == "mjpeg" && probe_.format_is("jpeg_pipe")) {
            media_.mimetype = "image/jpeg";
        } else if (v->codec_name == "png" && probe_.format_is("png_pipe")) {
            media_.mimetype = "image/png";
        } else {
            // WebP, GIF (its first frame), BMP, TIFF, ...: a JPEG.
            convert = true;
            output_ = private_temp_file(dir_, "output", ".jpg");
            media_.mimetype = "image/jpeg";
        }
        // One run: the picture laid on white (JPEG has no transparency, and
        // a transparent PNG or WebP sticker would otherwise turn black or
        // show the colour under its clear pixels), then split into the
        // converted file (when converting) and the thumbnail on stdout.
        const std::string size = std::to_string(media_.width) + "x" + std::to_string(media_.height);
        std::string graph = "color=c=white:s=" + size + ":r=1[bg];[bg][0:v:0]overlay=shortest=1";
        graph += convert ? ",split=2[full][t];[t]" + thumbnail_filter() +
                               "[thumb];[full]format=yuvj420p[out]"
                         : "," + thumbnail_filter() + "[thumb]";
        std::vector<std::string> argv = ffmpeg_input();
        argv.insert(argv.end(), {"-filter_complex", graph});
        if (convert) {
            argv.insert(argv.end(), {"-map", "[out]", "-frames:v", "1", "-map_metadata", "-1",
                                     "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", output_});
        }
        argv.insert(argv.end(), {"-map", "[thumb]", "-frames:v", "1", "-map_metadata", "-1",
                                 "-c:v", "mjpeg", "-q:v", "8", "-f", "mjpeg", "pipe:1"});
        ChildSpec spec;
        spec.argv = std::move(argv);
        spec.stdout_limit = 4 * kThumbnailMax;
        run(std::move(spec), [this](ChildResult r) {
            if (!r.ok()) {
                // ffmpeg cannot decode it: WhatsApp's apps would not either.
                return document(failure("ffmpeg", r));
            }
            if (!output_.empty() && !non_empty(output_)) {
                return document("ffmpeg wrote no picture");
            }
            keep_thumbnail(std::move(r.out));
            succeed();
        });
    }

    // --- videos -----------------------------------------------------------

    void plan_video()
    {
        const ProbedStream* v = probe_.video();
        const ProbedStream* a = probe_.audio();
        if (v == nullptr) {
            if (a != nullptr) {
                return plan_audio();  // an M4A called video/mp4
            }
            return document("not a video: " + describe_probe(probe_));
        }
        if (uint64_t{v->width} * v->height > kMaxPixels) {
            return document("video frames too large: " + std::to_string(v->width) + "x" +
                            std::to_string(v->height));
        }
        const bool mp4 = probe_.format_is("mp4");
        if (!mp4 || v->codec_name != "h264" || (a != nullptr && a->codec_name != "aac")) {
            return transcode_video();
        }
        media_.kind = Kind::video;
        media_.mimetype = "video/mp4";
        // The upright size, as players show it (and the thumbnail is).
        media_.width = v->turned() ? v->height : v->width;
        media_.height = v->turned() ? v->width : v->height;
        media_.seconds = whole_seconds(probe_.duration);
        // An early frame, past a fade-in when there is a second to skip.
        std::vector<std::string> argv = ffmpeg_input(probe_.duration >= 2 ? "1" : "0");
        thumbnail_output(argv);
        ChildSpec spec;
        spec.argv = std::move(argv);
        spec.stdout_limit = 4 * kThumbnailMax;
        run(std::move(spec), [this](ChildResult r) {
            // A video goes without a thumbnail if no frame can be taken.
            if (r.ok()) {
                keep_thumbnail(std::move(r.out));
            } else {
                log(LogLevel::info, "chatwoot helper: no thumbnail for a video: %s",
                    failure("ffmpeg", r).c_str());
            }
            succeed();
        });
    }

    // Any other video: MP4 H.264/AAC with a bounded preset (veryfast, CRF
    // 28, longest side at most 1280, stereo AAC 96 kb/s, moov first), the
    // thumbnail (first frame) in the same run; then the output is probed
    // for its size and length.  Too slow (the timeout) or undecodable: a
    // document, as it came.
    void transcode_video()
    {
        output_ = private_temp_file(dir_, "output", ".mp4");
        std::vector<std::string> argv = ffmpeg_input();
        argv.insert(argv.end(),
                    {"-map", "0:v:0", "-map", "0:a:0?", "-map_metadata", "-1",
                     "-vf",
                     "scale=w='if(gte(iw,ih),trunc(min(1280,iw)/2)*2,-2)'"
                     ":h='if(gte(iw,ih),-2,trunc(min(1280,ih)/2)*2)',format=yuv420p",
                     "-c:v", "libx264", "-preset", "veryfast", "-crf", "28",
                     "-c:a", "aac", "-b:a", "96k", "-ac", "2",
                     "-movflags", "+faststart", "-f", "mp4", output_});
        thumbnail_output(argv);
        ChildSpec spec;
        spec.argv = std::move(argv);
        spec.stdout_limit = 4 * kThumbnailMax;
        run(std::move(spec), [this](ChildResult r) {
            if (!r.ok()) {
                return document("transcoding the video to MP4: " + failure("ffmpeg", r));
            }
            keep_thumbnail(std::move(r.out));
            std::vector<std::string> probe{opt().ffprobe};
            for (auto& arg : probe_arguments(output_)) {
                probe.push_back(std::move(arg));
            }
            ChildSpec check;
            check.argv = std::move(probe);
            check.stdout_limit = kProbeOutputMax;
            run(std::move(check), [this](ChildResult c) {
                auto parsed = c.ok() ? parse_probe(c.out) : failure("ffprobe", c);
                const Probe* p = std::get_if<Probe>(&parsed);
                const ProbedStream* v = p != nullptr ? p->video() : nullptr;
                if (v == nullptr || v->codec_name != "h264") {
                    return document("the transcoded video did not probe as H.264");
                }
                media_.kind = Kind::video;
                media_.mimetype = "video/mp4";
                media_.width = v->turned() ? v->height : v->width;  // ffmpeg wrote it upright
                media_.height = v->turned() ? v->width : v->height;
                media_.seconds = whole_seconds(p->duration);
                succeed();
            });
        }, opt().video_timeout_msec);
    }

    // --- audio ------------------------------------------------------------

    void plan_audio()
    {
        const ProbedStream* a = probe_.audio();
        if (a == nullptr || probe_.video() != nullptr) {
            return document("not audio: " + describe_probe(probe_));
        }
        const std::string mime = playable_audio_mime(probe_, *a);
        const bool recorded = in_.recorded_audio || looks_recorded_in_chatwoot(in_.file_name);
        if (!recorded && !mime.empty()) {
            media_.kind = Kind::audio;
            media_.mimetype = mime;
            media_.seconds = whole_seconds(probe_.duration);
            return succeed();
        }
        // A voice note: OGG/Opus to a file and, in the same run, the PCM
        // the waveform is measured on, through stdout.
        output_ = private_temp_file(dir_, "output", ".ogg");
        wave_ = std::make_unique<WaveformBuilder>();
        std::vector<std::string> argv = ffmpeg_input();
        argv.insert(argv.end(),
                    {"-map", "0:a:0", "-vn", "-map_metadata", "-1",
                     "-c:a", "libopus", "-ac", "1", "-ar", "48000", "-b:a", "32k",
                     "-application", "voip", "-f", "ogg", output_,
                     "-map", "0:a:0", "-vn", "-ac", "1", "-ar", std::to_string(kWaveformRate),
                     "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"});
        ChildSpec spec;
        spec.argv = std::move(argv);
        spec.on_stdout = [w = wave_.get()](std::string_view pcm) { w->add(pcm); };
        run(std::move(spec), [this](ChildResult r) {
            if (!r.ok()) {
                return document(failure("ffmpeg", r));
            }
            if (!non_empty(output_) || wave_->samples() == 0) {
                return document("ffmpeg found no sound to transcode");
            }
            media_.kind = Kind::ptt;
            media_.mimetype = kOpusMime;
            media_.seconds = whole_seconds(static_cast<double>(wave_->samples()) / kWaveformRate);
            media_.waveform = wave_->bars();
            succeed();
        });
    }

    // --- endings ----------------------------------------------------------

    static bool non_empty(const std::string& path)
    {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    }

    void keep_thumbnail(std::string jpeg)
    {
        // A JPEG (SOI marker) within WhatsApp's bound, or none at all.
        if (jpeg.size() >= 4 && jpeg.size() <= kThumbnailMax &&
            static_cast<unsigned char>(jpeg[0]) == 0xFF && static_cast<unsigned char>(jpeg[1]) == 0xD8) {
            media_.jpeg_thumbnail = std::move(jpeg);
        }
    }

    void succeed()
    {
        media_.file_name = in_.file_name;
        if (output_.empty()) {
            media_.path = in_.path;
        } else {
            // Out of the scratch directory only now: whatever a killed
            // helper leaves in prep-* is garbage, and a media-* file is
            // garbage too unless its owner recorded it (a kill may land
            // between this rename and that commit: remove_leftovers asks).
            std::string kept;
            try {
                const std::string ext = fs::path(output_).extension().string();
                kept = private_temp_file(owner_.work_dir_, "media-", ext.c_str());
                // Durable before the caller records it (a row naming a file
                // must find it whole after a crash): file, rename, directory.
                sync_path(output_, O_RDONLY);
                fs::rename(output_, kept);
                output_.clear();
                sync_path(owner_.work_dir_, O_RDONLY | O_DIRECTORY);
                media_.path = kept;  // the caller's now
            } catch (const std::exception& e) {
                std::error_code ec;
                if (!kept.empty()) {
                    fs::remove(kept, ec);
                }
                return document(std::string("cannot keep the output: ") + e.what());
            }
        }
        owner_.finished(id_, std::move(media_));  // destroys this job
    }

    void document(std::string reason)
    {
        // Not logged here: the caller logs fallback_reason once, with the
        // inbox and the message it belongs to.
        PreparedMedia m;
        m.kind = Kind::document;
        m.path = in_.path;
        m.mimetype = in_.content_type.empty() ? "application/octet-stream" : in_.content_type;
        m.file_name = in_.file_name.empty() ? "file" : in_.file_name;
        m.fallback_reason = std::move(reason);
        owner_.finished(id_, std::move(m));  // destroys this job
    }

    MediaPreparer& owner_;
    uint64_t id_;
    PrepareInput in_;
    std::function<void(PreparedMedia)> done_;
    std::string intent_;  // image, video, audio (else a document at once)
    std::string dir_;     // our scratch directory (the input's link)
    std::string link_;
    std::string output_;  // a file we made, removed unless handed over
    Probe probe_;
    PreparedMedia media_;
    std::unique_ptr<WaveformBuilder> wave_;
    std::unique_ptr<ChildProcess> child_;
};

MediaPreparer::MediaPreparer(Reactor& reactor, std::string work_dir, Options options)
    : reactor_(reactor), work_dir_(std::move(work_dir)), options_(std::move(options))
{
}

MediaPreparer::~MediaPreparer() = default;

void MediaPreparer::prepare(PrepareInput input, std::function<void(PreparedMedia)> done)
{
    const uint64_t id = next_id_++;
    jobs_.emplace(id, std::make_unique<Job>(*this, id, std::move(input), std::move(done)));
    if (active_ < std::max<size_t>(options_.max_jobs, 1)) {
        start_later(id);
    } else {
        waiting_.push_back(id);
    }
}

void MediaPreparer::start_later(uint64_t id)
{
    active_++;
    // Started from the loop, so that `done` never runs inside prepare(),
    // even for a file that is a document at first sight.  The job holds
    // the timer: a job abandoned before it starts takes its timer along.
    jobs_.at(id)->start_ = reactor_.after(0, [this, id] {
        if (auto it = jobs_.find(id); it != jobs_.end()) {
            it->second->start();  // may finish, and destroy the job, at once
        }
    });
}

void MediaPreparer::remove_leftovers(const std::string& work_dir,
                                     const std::vector<std::string>& in_use) noexcept
{
    try {
        std::error_code ec;
        std::vector<fs::path> old;
        for (fs::directory_iterator it(work_dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.rfind("prep-", 0) == 0 && it->is_directory(ec) && !it->is_symlink(ec)) {
                old.push_back(it->path());
            } else if (name.rfind("media-", 0) == 0 && it->is_regular_file(ec) && !it->is_symlink(ec)
                       && std::find(in_use.begin(), in_use.end(), it->path().string()) == in_use.end()) {
                old.push_back(it->path());
            }
        }
        for (const auto& p : old) {
            fs::remove_all(p, ec);  // the input's link, never what it points to
        }
    } catch (const std::exception& e) {
        log(LogLevel::warn, "chatwoot helper: media scratch files: %s", e.what());
    } catch (...) {
    }
}

void MediaPreparer::finished(uint64_t id, PreparedMedia media)
{
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        return;
    }
    auto done = it->second->take_done();
    jobs_.erase(it);  // kills nothing: its child has ended
    active_--;
    if (!waiting_.empty()) {
        const uint64_t next = waiting_.front();
        waiting_.pop_front();
        start_later(next);
    }
    // The job is gone: nothing the caller throws may come back into it.
    try {
        if (done) {
            done(std::move(media));
        }
    } catch (const std::exception& e) {
        log(LogLevel::error, "chatwoot helper: after preparing an attachment: %s", e.what());
    } catch (...) {
        log(LogLevel::error, "chatwoot helper: after preparing an attachment: unknown exception");
    }
}

}  // namespace chatwoot::helper::media_prep
