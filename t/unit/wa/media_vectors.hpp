// t/unit/wa/media_vectors.json (made by t/mock/wa/gen-media-vectors.mjs
// from npm baileys): media_conn answers and media retry receipts and
// notifications, for the media layer's tests.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <string>

#include "wa/bytes.hpp"

namespace chatwoot::wa::test {

// Parsed once; a missing or broken file is an empty document, which the
// first test that looks reports (with the path).
inline const rapidjson::Document& media_vectors()
{
    static const rapidjson::Document d = [] {
        std::ifstream in(MEDIA_VECTORS_FILE, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        rapidjson::Document parsed;
        parsed.Parse(text.str().c_str());
        if (parsed.HasParseError()) parsed.SetObject();
        return parsed;
    }();
    return d;
}

inline std::string media_str(const rapidjson::Value& v, const char* key)
{
    const bool ok = v.IsObject() && v.HasMember(key) && v[key].IsString();
    EXPECT_TRUE(ok) << key << " in " MEDIA_VECTORS_FILE;
    return ok ? std::string(v[key].GetString()) : std::string();
}

inline Bytes media_hex(const rapidjson::Value& v, const char* key)
{
    auto b = from_hex(media_str(v, key));
    EXPECT_TRUE(b.has_value()) << key;
    return b.value_or(Bytes{});
}

}  // namespace chatwoot::wa::test
