// MediaPreparer (helper/media_prep/media_preparer.hpp) with the real
// ffmpeg and ffprobe on files ffmpeg makes here (lavfi sources): each kind
// prepared and its outputs probed back (the voice note is Opus, mono,
// 48 kHz; thumbnails are JPEGs under the bound; the waveform follows the
// sound), and every way to fail ending in a document with a reason, the
// input untouched and no temporary file left: corrupt, empty, missing,
// mislabelled files, a zip called .mp3, a huge declared picture, a
// playlist that would read another file, timeouts, a missing ffmpeg.
#include "poll_reactor.hpp"

#include "helper/media_prep/media_preparer.hpp"
#include "helper/media_prep/waveform.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace chatwoot;
using namespace chatwoot::helper::media_prep;
using chatwoot::test::PollReactor;
namespace fs = std::filesystem;
using Kind = PreparedMedia::Kind;

namespace {

const char* const kUuid = "3f2c9a1e-7b4d-4c21-9e8f-0a1b2c3d4e5f";

fs::path the_dir;

std::string read_file(const fs::path& p)
{
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_file(const fs::path& p, const std::string& bytes)
{
    std::ofstream(p, std::ios::binary) << bytes;
}

// ffmpeg making a test file (its own run, not the code under test).
void make(const std::string& args, const std::string& name)
{
    const std::string cmd = "ffmpeg -nostdin -v error -y " + args + " '" + (the_dir / name).string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// ffprobe's one value (stream or format entry) for a file, e.g.
// probe_value(p, "stream=codec_name").
std::string probe_value(const fs::path& p, const std::string& entry)
{
    const std::string cmd = "ffprobe -v error -of default=nw=1:nk=1 -show_entries " + entry + " '" +
                            p.string() + "'";
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[256];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            out.append(buf, n);
        }
        ::pclose(f);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

// The first pixel of a picture, as ffmpeg decodes it: "r g b".
std::string first_pixel(const fs::path& p)
{
    const std::string cmd = "ffmpeg -nostdin -v error -i '" + p.string() +
                            "' -frames:v 1 -f rawvideo -pix_fmt rgb24 - | head -c 3 | od -An -tu1";
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[128];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            out.append(buf, n);
        }
        ::pclose(f);
    }
    // od's spacing, squeezed: "255 255 255".
    std::string squeezed;
    for (char c : out) {
        if (c == ' ' || c == '\n') {
            if (!squeezed.empty() && squeezed.back() != ' ') squeezed += ' ';
        } else {
            squeezed += c;
        }
    }
    while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    return squeezed;
}

class MediaPreparerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        the_dir = fs::temp_directory_path() / ("media_prep_test_" + std::to_string(::getpid()));
        fs::remove_all(the_dir);
        fs::create_directories(the_dir);
        // What agents attach (and what Chatwoot's recorder makes).
        make("-f lavfi -i sine=frequency=440:duration=2 -c:a libopus", "recording.webm");
        make("-f lavfi -i sine=frequency=440:duration=3 -c:a libmp3lame", "song.mp3");
        make("-f lavfi -i sine=frequency=440:duration=2", "voice.wav");
        make("-f lavfi -i anullsrc=r=44100:cl=mono -t 2", "silence.wav");
        make("-f lavfi -i sine=frequency=440:duration=4 -af volume=eval=frame:volume='t/4'", "fade.wav");
        make("-f lavfi -i sine=frequency=300:duration=3 -c:a aac", "tune.m4a");
        make("-f lavfi -i sine=frequency=300:duration=60", "long.wav");
        make("-f lavfi -i testsrc=size=640x480:rate=1 -frames:v 1", "pic.png");
        make("-f lavfi -i testsrc=size=640x480:rate=1 -frames:v 1", "pic.jpg");
        make("-f lavfi -i testsrc=size=640x480:rate=1 -frames:v 1 -c:v libwebp", "pic.webp");
        make("-f lavfi -i testsrc=size=320x200:rate=5:duration=1", "anim.gif");
        make("-f lavfi -i testsrc=size=300x400:rate=1 -frames:v 1", "pic.bmp");
        make("-f lavfi -i testsrc=size=320x240:rate=25:duration=3 -f lavfi -i sine=duration=3 "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest",
             "clip.mp4");
        make("-f lavfi -i testsrc=size=320x240:rate=25:duration=2 -c:v libvpx -b:v 200k", "clip.webm");
        make("-f lavfi -i testsrc=size=1600x900:rate=5:duration=1 -f lavfi -i sine=duration=1 "
             "-c:v mpeg4 -c:a libopus -shortest",
             "wide.mkv");
        make("-f lavfi -i color=c=red@0.0:s=200x100,format=rgba -frames:v 1", "clear.png");
        make("-f lavfi -i color=c=red@0.0:s=200x100,format=rgba -frames:v 1 -c:v libwebp", "clear.webp");
        // A phone photo stored sideways with EXIF orientation 6 (turn 90
        // degrees clockwise to view): an APP1 segment put after the SOI.
        {
            const std::string jpeg = read_file(the_dir / "pic.jpg");
            const std::string tiff("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0", 26);
            const std::string app1 = std::string("Exif\0\0", 6) + tiff;
            std::string seg = "\xFF\xE1";
            seg += static_cast<char>((app1.size() + 2) >> 8);
            seg += static_cast<char>((app1.size() + 2) & 0xFF);
            write_file(the_dir / "sideways.jpg", jpeg.substr(0, 2) + seg + app1 + jpeg.substr(2));
        }
        // A portrait phone video: stored 320x240 with a track matrix that
        // turns it 90 degrees (tkhd patched), as phones record.
        {
            std::string mp4 = read_file(the_dir / "clip.mp4");
            const size_t tkhd = mp4.find("tkhd");
            ASSERT_NE(tkhd, std::string::npos);
            ASSERT_EQ(mp4[tkhd + 4], 0);  // version 0: 32-bit times
            const size_t matrix = tkhd + 4 + 4 + 5 * 4 + 8 + 4 * 2;
            const unsigned char turn[36] = {0, 0, 0, 0,    0, 1, 0, 0, 0, 0, 0, 0,
                                            0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0,    0, 0, 0, 0, 0x40, 0, 0, 0};
            mp4.replace(matrix, 36, reinterpret_cast<const char*>(turn), 36);
            write_file(the_dir / "portrait.mp4", mp4);
        }
        write_file(the_dir / "corrupt.jpg", std::string("\xFF\xD8\xFF\xE0") + std::string(5000, '\x5A'));
        write_file(the_dir / "empty.png", "");
        write_file(the_dir / "notes.pdf", "%PDF-1.4\n% a small document\n");
        // A zip archive (local header, then garbage) called .mp3.
        write_file(the_dir / "archive.mp3", std::string("PK\x03\x04", 4) + std::string(20000, '\x01'));
        // A playlist naming another file of ours: without the demuxer
        // whitelist ffprobe reads it as an HLS stream of that file's sound
        // (-protocol_whitelist file alone does not stop it).
        write_file(the_dir / "playlist.mp3",
                   "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n" +
                       (the_dir / "song.mp3").string() + "\n#EXT-X-ENDLIST\n");
        // A PNG declaring 30000 x 30000 pixels (IHDR patched; CRC left as
        // it is, which decoders are free to ignore).
        std::string png = read_file(the_dir / "pic.png");
        if (png.size() > 24) {
            const unsigned char dims[8] = {0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30};
            png.replace(16, 8, reinterpret_cast<const char*>(dims), 8);
        }
        write_file(the_dir / "huge.png", png);
    }

    static std::string fake_program(const std::string& name, const std::string& body)
    {
        const fs::path p = the_dir / name;
        write_file(p, "#!/bin/sh\n" + body + "\n");
        fs::permissions(p, fs::perms::owner_all);
        return p.string();
    }

    static void TearDownTestSuite() { fs::remove_all(the_dir); }

    void SetUp() override
    {
        work_ = the_dir / ("work-" + std::to_string(counter_++));
    }

    PreparedMedia prepare(PrepareInput in, MediaPrepOptions options = {})
    {
        MediaPreparer prep(loop_, work_.string(), std::move(options));
        const std::string before = fs::exists(in.path) ? read_file(in.path) : std::string();
        std::set<fs::path> had;
        if (fs::exists(work_)) {
            for (const auto& e : fs::directory_iterator(work_)) {
                had.insert(e.path());
            }
        }
        std::optional<PreparedMedia> got;
        prep.prepare(in, [&](PreparedMedia m) { got = std::move(m); });
        EXPECT_FALSE(got) << "done ran inside prepare()";
        EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); }));
        EXPECT_EQ(prep.running(), 0u);
        EXPECT_EQ(loop_.watches(), 0u);
        // The input is never changed, whatever happened.
        if (!before.empty()) {
            EXPECT_EQ(read_file(in.path), before);
        }
        // No scratch directory left: only outputs handed to the caller.
        if (fs::exists(work_)) {
            for (const auto& e : fs::directory_iterator(work_)) {
                if (had.count(e.path()) == 0) {
                    EXPECT_EQ(e.path().string(), got ? got->path : "") << "left behind";
                }
            }
        }
        return got.value_or(PreparedMedia{});
    }

    static PrepareInput input(const std::string& name, std::string content_type, std::string file_type,
                              std::string file_name = {})
    {
        PrepareInput in;
        in.path = (the_dir / name).string();
        in.content_type = std::move(content_type);
        in.file_type = std::move(file_type);
        in.file_name = file_name.empty() ? name : std::move(file_name);
        return in;
    }

    // A document of the input as it is, with a reason containing `why`.
    void expect_document(const PreparedMedia& m, const PrepareInput& in, const std::string& why)
    {
        EXPECT_EQ(m.kind, Kind::document) << kind_name(m.kind);
        EXPECT_EQ(m.path, in.path);
        EXPECT_EQ(m.file_name, in.file_name);
        EXPECT_EQ(m.mimetype, in.content_type.empty() ? "application/octet-stream" : in.content_type);
        EXPECT_NE(m.fallback_reason.find(why), std::string::npos) << m.fallback_reason;
        EXPECT_TRUE(m.jpeg_thumbnail.empty());
    }

    // The thumbnail is a JPEG within WhatsApp's bound, longest side 100.
    void expect_thumbnail(const PreparedMedia& m, const std::string& w, const std::string& h)
    {
        ASSERT_FALSE(m.jpeg_thumbnail.empty());
        EXPECT_LE(m.jpeg_thumbnail.size(), 10u * 1024);
        const fs::path t = the_dir / ("thumb-" + std::to_string(counter_++) + ".jpg");
        write_file(t, m.jpeg_thumbnail);
        EXPECT_EQ(probe_value(t, "stream=codec_name"), "mjpeg");
        EXPECT_EQ(probe_value(t, "stream=width"), w);
        EXPECT_EQ(probe_value(t, "stream=height"), h);
    }

    // An output of ours: a private file in the work directory.
    void expect_private_output(const PreparedMedia& m)
    {
        EXPECT_EQ(fs::path(m.path).parent_path(), work_);
        struct stat st {};
        ASSERT_EQ(::stat(m.path.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        EXPECT_GT(st.st_size, 0);
    }

    PollReactor loop_;
    fs::path work_;
    static inline int counter_ = 0;
};

}  // namespace

// --- voice notes and audio ------------------------------------------------

TEST_F(MediaPreparerTest, ChatwootRecordingBecomesAnOpusVoiceNote)
{
    const PrepareInput in = input("recording.webm", "audio/webm", "audio", std::string(kUuid) + ".webm");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::ptt) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "audio/ogg; codecs=opus");
    EXPECT_EQ(m.seconds, 2u);
    EXPECT_TRUE(m.fallback_reason.empty());
    expect_private_output(m);
    EXPECT_EQ(probe_value(m.path, "format=format_name"), "ogg");
    EXPECT_EQ(probe_value(m.path, "stream=codec_name"), "opus");
    EXPECT_EQ(probe_value(m.path, "stream=channels"), "1");
    EXPECT_EQ(probe_value(m.path, "stream=sample_rate"), "48000");
    // A steady sine: 64 loud bars.
    ASSERT_EQ(m.waveform.size(), 64u);
    for (char b : m.waveform) {
        EXPECT_GT(static_cast<unsigned char>(b), 50);
        EXPECT_LE(static_cast<unsigned char>(b), 100);
    }
}

TEST_F(MediaPreparerTest, WavIsAVoiceNoteSinceWhatsAppDoesNotPlayIt)
{
    PreparedMedia m = prepare(input("voice.wav", "audio/wav", "audio"));
    EXPECT_EQ(m.kind, Kind::ptt);
    EXPECT_EQ(m.seconds, 2u);
    EXPECT_EQ(probe_value(m.path, "stream=codec_name"), "opus");
}

TEST_F(MediaPreparerTest, WaveformOfSilenceIsFlatZero)
{
    PreparedMedia m = prepare(input("silence.wav", "audio/wav", "audio"));
    EXPECT_EQ(m.kind, Kind::ptt);
    EXPECT_EQ(m.waveform, std::string(64, '\0'));
    EXPECT_EQ(m.seconds, 2u);
}

TEST_F(MediaPreparerTest, WaveformFollowsAFadeIn)
{
    PreparedMedia m = prepare(input("fade.wav", "audio/wav", "audio"));
    ASSERT_EQ(m.waveform.size(), 64u);
    const auto bar = [&](size_t i) { return static_cast<unsigned char>(m.waveform[i]); };
    // lavfi's sine peaks at 1/8: -21 dBFS RMS at the end, 58 on the scale.
    EXPECT_LT(bar(2), 30);
    EXPECT_LT(bar(2), bar(32));
    EXPECT_LT(bar(32), bar(63));
    EXPECT_GT(bar(63), 50);
}

TEST_F(MediaPreparerTest, AnMp3AttachedAsAFileGoesAsAudio)
{
    const PrepareInput in = input("song.mp3", "audio/mpeg", "audio");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::audio);
    EXPECT_EQ(m.mimetype, "audio/mpeg");
    EXPECT_EQ(m.path, in.path);
    EXPECT_EQ(m.seconds, 3u);
    EXPECT_TRUE(m.waveform.empty());
}

TEST_F(MediaPreparerTest, AnM4aGoesAsAudioMp4)
{
    PreparedMedia m = prepare(input("tune.m4a", "audio/mp4", "audio"));
    EXPECT_EQ(m.kind, Kind::audio);
    EXPECT_EQ(m.mimetype, "audio/mp4");
    EXPECT_EQ(m.seconds, 3u);
}

TEST_F(MediaPreparerTest, AnMp3RecordedInChatwootIsAVoiceNote)
{
    // Safari's recordings come as MP3, named like the others.
    PreparedMedia m = prepare(input("song.mp3", "audio/mpeg", "audio", std::string(kUuid) + ".mp3"));
    EXPECT_EQ(m.kind, Kind::ptt);
    PrepareInput flagged = input("song.mp3", "audio/mpeg", "audio");
    flagged.recorded_audio = true;
    EXPECT_EQ(prepare(flagged).kind, Kind::ptt);
}

TEST(RecordedName, TheRecordersShapeOnly)
{
    EXPECT_TRUE(looks_recorded_in_chatwoot("3f2c9a1e-7b4d-4c21-9e8f-0a1b2c3d4e5f.ogg"));
    EXPECT_TRUE(looks_recorded_in_chatwoot("3F2C9A1E-7B4D-4C21-9E8F-0A1B2C3D4E5F.WEBM"));
    EXPECT_FALSE(looks_recorded_in_chatwoot("3f2c9a1e-7b4d-4c21-9e8f-0a1b2c3d4e5f.flac"));
    EXPECT_FALSE(looks_recorded_in_chatwoot("3f2c9a1e-7b4d-4c21-9e8f-0a1b2c3d4e5.ogg"));
    EXPECT_FALSE(looks_recorded_in_chatwoot("song.mp3"));
    EXPECT_FALSE(looks_recorded_in_chatwoot(""));
}

// --- images ---------------------------------------------------------------

TEST_F(MediaPreparerTest, PngGoesAsItIsWithAThumbnail)
{
    const PrepareInput in = input("pic.png", "image/png", "image");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::image) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "image/png");
    EXPECT_EQ(m.path, in.path);
    EXPECT_EQ(m.width, 640u);
    EXPECT_EQ(m.height, 480u);
    expect_thumbnail(m, "100", "75");
}

TEST_F(MediaPreparerTest, JpegGoesAsItIsEvenWhenCalledSomethingElse)
{
    // The type comes from the bytes: a JPEG labelled image/png is a JPEG.
    const PrepareInput in = input("pic.jpg", "image/png", "image");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::image);
    EXPECT_EQ(m.mimetype, "image/jpeg");
    EXPECT_EQ(m.path, in.path);
    expect_thumbnail(m, "100", "75");
}

TEST_F(MediaPreparerTest, WebpBecomesAJpeg)
{
    PreparedMedia m = prepare(input("pic.webp", "image/webp", "image"));
    EXPECT_EQ(m.kind, Kind::image) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "image/jpeg");
    expect_private_output(m);
    EXPECT_EQ(probe_value(m.path, "stream=codec_name"), "mjpeg");
    EXPECT_EQ(probe_value(m.path, "stream=width"), "640");
    EXPECT_EQ(m.width, 640u);
    EXPECT_EQ(m.height, 480u);
    expect_thumbnail(m, "100", "75");
}

TEST_F(MediaPreparerTest, GifAndBmpBecomeJpegs)
{
    PreparedMedia gif = prepare(input("anim.gif", "image/gif", "image"));
    EXPECT_EQ(gif.kind, Kind::image) << gif.fallback_reason;
    EXPECT_EQ(gif.mimetype, "image/jpeg");
    EXPECT_FALSE(gif.gif_playback);
    EXPECT_EQ(probe_value(gif.path, "stream=codec_name"), "mjpeg");
    expect_thumbnail(gif, "100", "63");
    PreparedMedia bmp = prepare(input("pic.bmp", "image/bmp", "image"));
    EXPECT_EQ(bmp.kind, Kind::image) << bmp.fallback_reason;
    EXPECT_EQ(bmp.height, 400u);
    expect_thumbnail(bmp, "75", "100");
}

TEST_F(MediaPreparerTest, SidewaysPhotoIsTurnedUpright)
{
    // 640x480 stored, orientation 6: 480 wide and 640 high when upright.
    PreparedMedia m = prepare(input("sideways.jpg", "image/jpeg", "image"));
    EXPECT_EQ(m.kind, Kind::image) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "image/jpeg");
    expect_private_output(m);
    EXPECT_EQ(m.width, 480u);
    EXPECT_EQ(m.height, 640u);
    EXPECT_EQ(probe_value(m.path, "stream=width"), "480");
    EXPECT_EQ(probe_value(m.path, "stream=height"), "640");
    expect_thumbnail(m, "75", "100");
}

TEST_F(MediaPreparerTest, TransparencyTurnsWhiteNotBlackOrItsHiddenColour)
{
    // Fully transparent red: the naive conversion shows red (or black).
    PreparedMedia png = prepare(input("clear.png", "image/png", "image"));
    EXPECT_EQ(png.kind, Kind::image);
    EXPECT_EQ(png.mimetype, "image/png");
    expect_thumbnail(png, "100", "50");
    const fs::path t = the_dir / "clear-thumb.jpg";
    write_file(t, png.jpeg_thumbnail);
    EXPECT_EQ(first_pixel(t), "255 255 255");

    PreparedMedia webp = prepare(input("clear.webp", "image/webp", "image"));
    EXPECT_EQ(webp.kind, Kind::image) << webp.fallback_reason;
    EXPECT_EQ(webp.mimetype, "image/jpeg");
    EXPECT_EQ(first_pixel(webp.path), "255 255 255");
}

// --- video ----------------------------------------------------------------

TEST_F(MediaPreparerTest, Mp4GoesAsItIsWithAThumbnail)
{
    const PrepareInput in = input("clip.mp4", "video/mp4", "video");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::video) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "video/mp4");
    EXPECT_EQ(m.path, in.path);
    EXPECT_EQ(m.width, 320u);
    EXPECT_EQ(m.height, 240u);
    EXPECT_EQ(m.seconds, 3u);
    expect_thumbnail(m, "100", "75");
}

TEST_F(MediaPreparerTest, PortraitVideoReportsItsUprightSize)
{
    const PrepareInput in = input("portrait.mp4", "video/mp4", "video");
    PreparedMedia m = prepare(in);
    EXPECT_EQ(m.kind, Kind::video) << m.fallback_reason;
    EXPECT_EQ(m.path, in.path);
    EXPECT_EQ(m.width, 240u);
    EXPECT_EQ(m.height, 320u);
    expect_thumbnail(m, "75", "100");
}

TEST_F(MediaPreparerTest, WebmVideoIsTranscodedToMp4)
{
    PreparedMedia m = prepare(input("clip.webm", "video/webm", "video"));
    EXPECT_EQ(m.kind, Kind::video) << m.fallback_reason;
    EXPECT_EQ(m.mimetype, "video/mp4");
    expect_private_output(m);
    EXPECT_EQ(probe_value(m.path, "stream=codec_name"), "h264");
    EXPECT_EQ(m.width, 320u);
    EXPECT_EQ(m.height, 240u);
    EXPECT_EQ(m.seconds, 2u);
    expect_thumbnail(m, "100", "75");
}

TEST_F(MediaPreparerTest, TranscodedVideoIsBoundedTo1280)
{
    PreparedMedia m = prepare(input("wide.mkv", "video/x-matroska", "video"));
    EXPECT_EQ(m.kind, Kind::video) << m.fallback_reason;
    EXPECT_EQ(m.width, 1280u);
    EXPECT_EQ(m.height, 720u);
    EXPECT_EQ(probe_value(m.path, "stream=width"), "1280");
    // Its sound came along, as AAC.
    EXPECT_EQ(probe_value(m.path, "stream=codec_name"), "h264\naac");
}

TEST_F(MediaPreparerTest, VideoTooSlowToTranscodeGoesAsADocument)
{
    MediaPrepOptions o;
    o.ffmpeg = fake_program("slow-ffmpeg", "exec sleep 60");
    o.video_timeout_msec = 1500;
    const PrepareInput in = input("clip.webm", "video/webm", "video");
    expect_document(prepare(in, o), in, "transcoding the video to MP4: ffmpeg timed out");
}

// --- documents and every way to fail ---------------------------------------

TEST_F(MediaPreparerTest, AFileIsADocumentWithNoReason)
{
    const PrepareInput in = input("notes.pdf", "application/pdf", "file");
    PreparedMedia m = prepare(in);
    expect_document(m, in, "");
    EXPECT_TRUE(m.fallback_reason.empty());
}

TEST_F(MediaPreparerTest, CorruptPictureIsADocument)
{
    const PrepareInput in = input("corrupt.jpg", "image/jpeg", "image");
    PreparedMedia m = prepare(in);
    expect_document(m, in, "");
    EXPECT_FALSE(m.fallback_reason.empty());
}

TEST_F(MediaPreparerTest, EmptyAndMissingFilesAreDocuments)
{
    const PrepareInput empty = input("empty.png", "image/png", "image");
    expect_document(prepare(empty), empty, "empty");
    const PrepareInput missing = input("nowhere.png", "image/png", "image");
    expect_document(prepare(missing), missing, "missing");
}

TEST_F(MediaPreparerTest, SoundLabelledAsAPictureIsADocument)
{
    const PrepareInput in = input("song.mp3", "image/png", "image", "photo.png");
    expect_document(prepare(in), in, "not a picture");
}

TEST_F(MediaPreparerTest, PictureLabelledAsSoundIsADocument)
{
    const PrepareInput in = input("pic.png", "audio/mpeg", "audio", "song.mp3");
    expect_document(prepare(in), in, "not audio");
}

TEST_F(MediaPreparerTest, ZipCalledMp3IsADocument)
{
    const PrepareInput in = input("archive.mp3", "audio/mpeg", "audio");
    PreparedMedia m = prepare(in);
    expect_document(m, in, "ffprobe");
}

TEST_F(MediaPreparerTest, APlaylistCannotMakeFfmpegReadOtherFiles)
{
    const PrepareInput in = input("playlist.mp3", "audio/mpeg", "audio", std::string(kUuid) + ".mp3");
    PreparedMedia m = prepare(in);
    expect_document(m, in, "ffprobe");
}

TEST_F(MediaPreparerTest, HugeDeclaredPictureIsADocument)
{
    const PrepareInput in = input("huge.png", "image/png", "image");
    PreparedMedia m = prepare(in);
    expect_document(m, in, "");
    EXPECT_FALSE(m.fallback_reason.empty());
}

TEST_F(MediaPreparerTest, TimeoutEndsInADocument)
{
    MediaPrepOptions o;
    o.timeout_msec = 1;
    const PrepareInput in = input("long.wav", "audio/wav", "audio");
    expect_document(prepare(in, o), in, "timed out");
}

TEST_F(MediaPreparerTest, MissingFfmpegEndsInADocument)
{
    MediaPrepOptions o;
    o.ffprobe = "/nonexistent/ffprobe";
    const PrepareInput in = input("pic.png", "image/png", "image");
    expect_document(prepare(in, o), in, "could not start");
}

TEST_F(MediaPreparerTest, ContentTypeDecidesWhenFileTypeIsMissing)
{
    PreparedMedia m = prepare(input("pic.png", "image/png", ""));
    EXPECT_EQ(m.kind, Kind::image);
}

// --- the preparer itself ---------------------------------------------------

TEST_F(MediaPreparerTest, ConstructionCostsNothing)
{
    {
        MediaPreparer prep(loop_, work_.string(), {});
        EXPECT_EQ(prep.running(), 0u);
    }
    EXPECT_FALSE(fs::exists(work_));
    EXPECT_EQ(loop_.timers(), 0u);
    EXPECT_EQ(loop_.watches(), 0u);
}

TEST_F(MediaPreparerTest, SeveralAtOnce)
{
    MediaPreparer prep(loop_, work_.string(), {});
    std::vector<PreparedMedia> got;
    for (const char* name : {"voice.wav", "pic.webp", "clip.mp4", "notes.pdf"}) {
        const std::string n = name;
        const std::string type = n == "voice.wav" ? "audio" : n == "pic.webp" ? "image"
                                : n == "clip.mp4" ? "video" : "file";
        prep.prepare(input(n, "", type), [&](PreparedMedia m) { got.push_back(std::move(m)); });
    }
    EXPECT_EQ(prep.running(), 4u);
    ASSERT_TRUE(loop_.run_until([&] { return got.size() == 4; }));
    int kinds = 0;
    for (const auto& m : got) {
        kinds |= 1 << static_cast<int>(m.kind);
        if (m.path.rfind(work_.string(), 0) == 0) {
            fs::remove(m.path);  // the caller's to remove
        }
    }
    EXPECT_EQ(kinds, (1 << static_cast<int>(Kind::ptt)) | (1 << static_cast<int>(Kind::image)) |
                         (1 << static_cast<int>(Kind::video)) | (1 << static_cast<int>(Kind::document)));
}

TEST_F(MediaPreparerTest, DestroyingThePreparerAbandonsItsJobs)
{
    bool called = false;
    {
        MediaPreparer prep(loop_, work_.string(), {});
        prep.prepare(input("long.wav", "audio/wav", "audio"), [&](PreparedMedia) { called = true; });
        // Until the transcoding child runs (its output file exists).
        ASSERT_TRUE(loop_.run_until([&] {
            if (!fs::exists(work_)) return false;
            std::error_code ec;  // the job's scratch directory may go meanwhile
            for (fs::recursive_directory_iterator it(work_, ec), end; !ec && it != end; it.increment(ec)) {
                if (it->path().extension() == ".ogg") return true;
            }
            return false;
        }));
    }
    EXPECT_FALSE(called);
    EXPECT_EQ(loop_.watches(), 0u);
    EXPECT_EQ(loop_.timers(), 0u);
    EXPECT_TRUE(fs::is_empty(work_));
}

// --- a misbehaving ffmpeg ---------------------------------------------------
// ffprobe is the real one; ffmpeg is a script that does what a decoder
// looping on a crafted file, a crash or a silent failure would.

TEST_F(MediaPreparerTest, AnFfmpegThatNeverEndsIsKilledAndTheFileGoesAsADocument)
{
    MediaPrepOptions o;
    o.ffmpeg = fake_program("looping-ffmpeg", "exec sleep 60");
    // ffprobe's answer for the WebP, given at once: the short timeout is
    // then ffmpeg's alone, however busy the machine.
    o.ffprobe = fake_program("quick-ffprobe",
                             "printf '%s' '{\"streams\":[{\"codec_type\":\"video\",\"codec_name\":"
                             "\"webp\",\"width\":640,\"height\":480}],\"format\":{\"format_name\":"
                             "\"webp_pipe\"}}'");
    o.timeout_msec = 1000;
    const PrepareInput in = input("pic.webp", "image/webp", "image");
    expect_document(prepare(in, o), in, "ffmpeg timed out");
}

TEST_F(MediaPreparerTest, AnFfmpegThatCrashesLeavesADocument)
{
    MediaPrepOptions o;
    o.ffmpeg = fake_program("crashing-ffmpeg", "kill -SEGV $$");
    const PrepareInput in = input("voice.wav", "audio/wav", "audio");
    expect_document(prepare(in, o), in, "killed by signal 11");
}

TEST_F(MediaPreparerTest, AnFfmpegThatWritesNothingLeavesADocument)
{
    MediaPrepOptions o;
    o.ffmpeg = fake_program("silent-ffmpeg", "exit 0");
    const PrepareInput voice = input("voice.wav", "audio/wav", "audio");
    expect_document(prepare(voice, o), voice, "no sound");
    const PrepareInput webp = input("pic.webp", "image/webp", "image");
    expect_document(prepare(webp, o), webp, "no picture");
    // A JPEG goes as it is; it only lacks its thumbnail.
    PreparedMedia jpeg = prepare(input("pic.jpg", "image/jpeg", "image"), o);
    EXPECT_EQ(jpeg.kind, Kind::image);
    EXPECT_TRUE(jpeg.jpeg_thumbnail.empty());
}

TEST_F(MediaPreparerTest, AnOversizedThumbnailIsDropped)
{
    // ffmpeg answering with 20 KB where a thumbnail goes: no thumbnail.
    MediaPrepOptions o;
    o.ffmpeg = fake_program("fat-thumbnail-ffmpeg", "printf '\\377\\330'; head -c 20000 /dev/zero");
    PreparedMedia m = prepare(input("clip.mp4", "video/mp4", "video"), o);
    EXPECT_EQ(m.kind, Kind::video);
    EXPECT_TRUE(m.jpeg_thumbnail.empty());
}

TEST_F(MediaPreparerTest, LeftoversOfAKilledHelperAreRemovedButNotOutputsInUse)
{
    fs::create_directories(work_ / "prep-AbC123");
    fs::create_symlink(the_dir / "song.mp3", work_ / "prep-AbC123" / "input");
    write_file(work_ / "media-XyZ789.ogg", "an output someone owns");
    // Handed over, but the helper was killed before its owner recorded it.
    write_file(work_ / "media-Orphan.ogg", "an output nobody recorded");
    write_file(work_ / "support-3EB0AAAA-0", "a fetched file: not the preparer's");
    MediaPreparer::remove_leftovers(work_.string(), {(work_ / "media-XyZ789.ogg").string()});
    EXPECT_FALSE(fs::exists(work_ / "prep-AbC123"));
    EXPECT_TRUE(fs::exists(work_ / "media-XyZ789.ogg"));
    EXPECT_FALSE(fs::exists(work_ / "media-Orphan.ogg"));
    EXPECT_TRUE(fs::exists(work_ / "support-3EB0AAAA-0"));
    EXPECT_TRUE(fs::exists(the_dir / "song.mp3"));  // what the link pointed to
    MediaPreparer::remove_leftovers((the_dir / "no-such-dir").string(), {});  // harmless
}

TEST_F(MediaPreparerTest, ACallerThatThrowsDoesNotBreakThePreparer)
{
    MediaPreparer prep(loop_, work_.string(), {});
    int calls = 0;
    prep.prepare(input("notes.pdf", "application/pdf", "file"), [&](PreparedMedia) {
        calls++;
        throw std::runtime_error("caller's trouble");
    });
    prep.prepare(input("pic.png", "image/png", "image"), [&](PreparedMedia) { calls++; });
    ASSERT_TRUE(loop_.run_until([&] { return calls == 2; }));
    EXPECT_EQ(prep.running(), 0u);
}

TEST_F(MediaPreparerTest, AtMostMaxJobsAtOnceTheOthersWaitInOrder)
{
    // An ffprobe that notes when it starts and ends (and fails: each job
    // is then one child and a document).
    const fs::path log = work_.string() + "-children.log";
    MediaPrepOptions o;
    o.ffprobe = fake_program("noting-ffprobe",
                             "echo start $$ >> '" + log.string() + "'; sleep 0.2; echo end $$ >> '" +
                                 log.string() + "'; exit 1");
    o.max_jobs = 1;
    MediaPreparer prep(loop_, work_.string(), o);
    std::vector<std::string> order;
    for (const char* name : {"a.png", "b.png", "c.png"}) {
        PrepareInput in = input("pic.png", "image/png", "image", name);
        prep.prepare(in, [&, name](PreparedMedia m) {
            EXPECT_EQ(m.kind, Kind::document);
            order.push_back(name);
        });
    }
    EXPECT_EQ(prep.running(), 3u);
    ASSERT_TRUE(loop_.run_until([&] { return order.size() == 3; }));
    EXPECT_EQ(order, (std::vector<std::string>{"a.png", "b.png", "c.png"}));
    // Never two children at once: each start is followed by its own end.
    std::ifstream f(log);
    std::string what, pid, what2, pid2;
    int pairs = 0;
    while (f >> what >> pid >> what2 >> pid2) {
        EXPECT_EQ(what, "start");
        EXPECT_EQ(what2, "end");
        EXPECT_EQ(pid, pid2);
        pairs++;
    }
    EXPECT_EQ(pairs, 3);
    fs::remove(log);
}
