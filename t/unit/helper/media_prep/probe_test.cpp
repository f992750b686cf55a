// ffprobe's answer read (helper/media_prep/probe.hpp): what the preparer
// decides on, reasons for answers it cannot use, and nothing trusted that
// is out of range.
#include "helper/media_prep/probe.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::helper::media_prep;

namespace {

Probe ok(std::string_view json)
{
    auto r = parse_probe(json);
    if (auto* why = std::get_if<std::string>(&r)) {
        ADD_FAILURE() << *why;
        return {};
    }
    return std::get<Probe>(r);
}

std::string why(std::string_view json)
{
    auto r = parse_probe(json);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "(parsed)";
}

}  // namespace

TEST(Probe, AnMp4WithCoverArtlessAudio)
{
    const Probe p = ok(R"({"frames":[],"programs":[],"streams":[
        {"index":0,"codec_name":"h264","codec_type":"video","width":640,"height":480,
         "disposition":{"attached_pic":0}},
        {"index":1,"codec_name":"aac","codec_type":"audio","disposition":{"attached_pic":0}}],
        "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"3.000000"}})");
    EXPECT_TRUE(p.format_is("mp4"));
    EXPECT_TRUE(p.format_is("mov"));
    EXPECT_FALSE(p.format_is("mp"));
    EXPECT_FALSE(p.format_is("mj"));
    EXPECT_DOUBLE_EQ(p.duration, 3.0);
    ASSERT_NE(p.video(), nullptr);
    EXPECT_EQ(p.video()->width, 640u);
    ASSERT_NE(p.audio(), nullptr);
    EXPECT_EQ(p.audio()->codec_name, "aac");
    EXPECT_EQ(p.orientation, 1);
}

TEST(Probe, CoverArtIsNotAVideo)
{
    const Probe p = ok(R"({"streams":[
        {"codec_name":"mp3","codec_type":"audio"},
        {"codec_name":"mjpeg","codec_type":"video","width":300,"height":300,
         "disposition":{"attached_pic":1}}],"format":{"format_name":"mp3","duration":"1.5"}})");
    EXPECT_EQ(p.video(), nullptr);
    ASSERT_NE(p.audio(), nullptr);
}

TEST(Probe, OrientationFromTheFirstTaggedFrame)
{
    const Probe p = ok(R"({"frames":[{},{"tags":{"Orientation":"    6"}}],
        "streams":[{"codec_name":"mjpeg","codec_type":"video","width":4,"height":3}],
        "format":{"format_name":"jpeg_pipe"}})");
    EXPECT_EQ(p.orientation, 6);
    for (const char* bad : {"9", "0", "66", "x", ""}) {
        const std::string json = std::string(R"({"frames":[{"tags":{"Orientation":")") + bad +
                                 R"("}}],"streams":[{"codec_type":"video"}],"format":{"format_name":"x"}})";
        EXPECT_EQ(ok(json).orientation, 1) << bad;
    }
}

TEST(Probe, OutOfRangeValuesAreNotTrusted)
{
    const Probe p = ok(R"({"streams":[{"codec_type":"video","width":-5,"height":99999999}],
        "format":{"format_name":"png_pipe","duration":"-3"}})");
    EXPECT_EQ(p.video()->width, 0u);
    EXPECT_EQ(p.video()->height, 0u);
    EXPECT_EQ(p.duration, 0);
    EXPECT_EQ(ok(R"({"streams":[{"codec_type":"audio"}],"format":{"format_name":"wav","duration":"nan"}})").duration, 0);
}

TEST(Probe, UnusableAnswersSayWhy)
{
    EXPECT_EQ(why(""), "ffprobe's answer is not a JSON object");
    EXPECT_EQ(why("[1,2]"), "ffprobe's answer is not a JSON object");
    EXPECT_EQ(why(R"({"streams":[{"codec_type":"audio"}]})"), "ffprobe found no format");
    EXPECT_EQ(why(R"({"streams":[],"format":{"format_name":"mp3"}})"), "ffprobe found no stream in mp3");
    EXPECT_EQ(why(R"({"streams":"x","format":{"format_name":"mp3"}})"), "ffprobe found no stream in mp3");
    EXPECT_EQ(why(R"({"streams":[1,"a",null],"format":{"format_name":7}})"), "ffprobe found no format");
}

TEST(Probe, RotationOfAPortraitVideo)
{
    const Probe p = ok(R"({"streams":[{"codec_type":"video","codec_name":"h264","width":640,"height":480,
        "side_data_list":[{},{"rotation":-90}]}],"format":{"format_name":"mov,mp4"}})");
    EXPECT_EQ(p.video()->rotation, -90);
    EXPECT_TRUE(p.video()->turned());
    const Probe q = ok(R"({"streams":[{"codec_type":"video","side_data_list":[{"rotation":180}]},
        {"codec_type":"video","side_data_list":[{"rotation":45}]}],"format":{"format_name":"mp4"}})");
    EXPECT_FALSE(q.streams[0].turned());
    EXPECT_EQ(q.streams[1].rotation, 0);  // not a quarter turn: ignored
}
