// The passkey ceremony's vectors (t/unit/wa/passkey_vectors.json), made by
// t/mock/wa/gen-passkey-vectors.mjs from the loopback server's own side of
// the ceremony and a software WebAuthn authenticator.  A file of its own:
// regenerating it leaves vectors.json (and its random sections) alone.
#pragma once

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "vectors.hpp"

namespace chatwoot::wa::test {

inline const rapidjson::Value& passkey_vectors()
{
    static const rapidjson::Document doc = [] {
        std::ifstream in(WA_PASSKEY_VECTORS_FILE, std::ios::binary);
        if (!in) throw std::runtime_error("cannot open " WA_PASSKEY_VECTORS_FILE);
        std::stringstream text;
        text << in.rdbuf();
        rapidjson::Document d;
        d.Parse(text.str().c_str());
        if (d.HasParseError() || !d.IsObject())
            throw std::runtime_error("bad JSON in " WA_PASSKEY_VECTORS_FILE);
        return d;
    }();
    return doc;
}

inline const rapidjson::Value& passkey_section(const char* name)
{
    const rapidjson::Value& all = passkey_vectors();
    if (!all.HasMember(name))
        throw std::runtime_error(std::string("no passkey vector section ") + name);
    return all[name];
}

}  // namespace chatwoot::wa::test
