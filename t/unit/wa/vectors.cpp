#include "vectors.hpp"

#include <gtest/gtest.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace chatwoot::wa::test {

namespace {

rapidjson::Document load()
{
    std::ifstream in(WA_VECTORS_FILE, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " WA_VECTORS_FILE);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str().c_str());
    if (doc.HasParseError() || !doc.IsObject())
        throw std::runtime_error(std::string("bad JSON in " WA_VECTORS_FILE ": ") +
                                 rapidjson::GetParseError_En(doc.GetParseError()));
    return doc;
}

const rapidjson::Value& member(const rapidjson::Value& obj, std::string_view key)
{
    if (!obj.IsObject()) throw std::runtime_error("vector is not an object");
    auto it = obj.FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
    if (it == obj.MemberEnd()) throw std::runtime_error("vector has no \"" + std::string(key) + "\"");
    return it->value;
}

}  // namespace

const rapidjson::Value& vectors()
{
    static const rapidjson::Document doc = load();
    return doc;
}

const rapidjson::Value& vector_section(std::string_view name)
{
    return member(vectors(), name);
}

std::string_view vector_string(const rapidjson::Value& obj, std::string_view key)
{
    const rapidjson::Value& v = member(obj, key);
    if (!v.IsString()) throw std::runtime_error("\"" + std::string(key) + "\" is not a string");
    return {v.GetString(), v.GetStringLength()};
}

Bytes vector_hex(const rapidjson::Value& obj, std::string_view key)
{
    auto bytes = from_hex(vector_string(obj, key));
    if (!bytes) throw std::runtime_error("\"" + std::string(key) + "\" is not hex");
    return *bytes;
}

}  // namespace chatwoot::wa::test
