#include "probe.hpp"

#include <rapidjson/document.h>

#include <cstdlib>

namespace chatwoot::helper::media_prep {

namespace {

// ffprobe prints durations as strings ("3.000000").
double number_of(const rapidjson::Value& v)
{
    if (v.IsNumber()) {
        return v.GetDouble();
    }
    if (v.IsString()) {
        char* end = nullptr;
        const double d = std::strtod(v.GetString(), &end);
        return end != v.GetString() && d > 0 && d < 1e9 ? d : 0;
    }
    return 0;
}

uint32_t dimension_of(const rapidjson::Value& obj, const char* key)
{
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsInt64()) {
        return 0;
    }
    const int64_t v = it->value.GetInt64();
    return v > 0 && v <= 1'000'000 ? static_cast<uint32_t>(v) : 0;
}

std::string string_of(const rapidjson::Value& obj, const char* key)
{
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
}

}  // namespace

const ProbedStream* Probe::video() const
{
    for (const auto& s : streams) {
        if (s.codec_type == "video" && !s.attached_pic) {
            return &s;
        }
    }
    return nullptr;
}

const ProbedStream* Probe::audio() const
{
    for (const auto& s : streams) {
        if (s.codec_type == "audio") {
            return &s;
        }
    }
    return nullptr;
}

bool Probe::format_is(std::string_view name) const
{
    std::string_view rest = format_name;
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        if (rest.substr(0, comma) == name) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return false;
}

std::variant<Probe, std::string> parse_probe(std::string_view json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        return std::string("ffprobe's answer is not a JSON object");
    }
    Probe p;
    if (auto f = doc.FindMember("format"); f != doc.MemberEnd() && f->value.IsObject()) {
        p.format_name = string_of(f->value, "format_name");
        if (auto d = f->value.FindMember("duration"); d != f->value.MemberEnd()) {
            p.duration = number_of(d->value);
        }
    }
    if (auto s = doc.FindMember("streams"); s != doc.MemberEnd() && s->value.IsArray()) {
        for (const auto& st : s->value.GetArray()) {
            if (!st.IsObject()) {
                continue;
            }
            ProbedStream ps;
            ps.codec_type = string_of(st, "codec_type");
            ps.codec_name = string_of(st, "codec_name");
            ps.width = dimension_of(st, "width");
            ps.height = dimension_of(st, "height");
            if (auto d = st.FindMember("disposition"); d != st.MemberEnd() && d->value.IsObject()) {
                auto a = d->value.FindMember("attached_pic");
                ps.attached_pic = a != d->value.MemberEnd() && a->value.IsInt() && a->value.GetInt() != 0;
            }
            if (auto sd = st.FindMember("side_data_list"); sd != st.MemberEnd() && sd->value.IsArray()) {
                for (const auto& d : sd->value.GetArray()) {
                    if (!d.IsObject()) {
                        continue;
                    }
                    auto r = d.FindMember("rotation");
                    if (r != d.MemberEnd() && r->value.IsInt() && r->value.GetInt() % 90 == 0 &&
                        r->value.GetInt() >= -360 && r->value.GetInt() <= 360) {
                        ps.rotation = r->value.GetInt();
                        break;
                    }
                }
            }
            p.streams.push_back(std::move(ps));
        }
    }
    if (auto f = doc.FindMember("frames"); f != doc.MemberEnd() && f->value.IsArray()) {
        for (const auto& fr : f->value.GetArray()) {
            if (!fr.IsObject()) {
                continue;
            }
            auto tags = fr.FindMember("tags");
            if (tags == fr.MemberEnd() || !tags->value.IsObject()) {
                continue;
            }
            // Printed padded ("    6").
            const std::string o = string_of(tags->value, "Orientation");
            const size_t digit = o.find_first_not_of(' ');
            if (digit != std::string::npos && o.size() == digit + 1 && o[digit] >= '1' && o[digit] <= '8') {
                p.orientation = o[digit] - '0';
                break;
            }
        }
    }
    if (p.format_name.empty()) {
        return std::string("ffprobe found no format");
    }
    if (p.streams.empty()) {
        return std::string("ffprobe found no stream in " + p.format_name);
    }
    return p;
}

std::vector<std::string> probe_arguments(const std::string& input)
{
    return {"-v", "error", "-hide_banner", "-threads", "1",
            "-protocol_whitelist", "file",
            "-format_whitelist", kDemuxers,
            "-max_pixels", std::to_string(kMaxPixels),
            "-of", "json=compact=1",
            "-read_intervals", "%+#1",  // the first packet's frame, for its tags
            "-show_entries",
            "format=format_name,duration:stream=index,codec_type,codec_name,width,height:"
            "stream_disposition=attached_pic:stream_side_data=rotation:frame_tags=Orientation",
            "-i", input};
}

}  // namespace chatwoot::helper::media_prep
