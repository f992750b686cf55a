// The protocol test vectors (t/unit/wa/vectors.json), made by
// t/mock/wa/gen-vectors.mjs from npm baileys, libsignal and
// whatsapp-rust-bridge: independent implementations our bytes must match.
#pragma once

#include <rapidjson/document.h>

#include <string_view>

#include "wa/bytes.hpp"

namespace chatwoot::wa::test {

// The parsed file, loaded once; a missing or broken file fails the test
// that asks, with the path in the message.
const rapidjson::Value& vectors();

// vectors()[section]; fails the test when absent.
const rapidjson::Value& vector_section(std::string_view name);

// The string member `key` of `obj` as bytes (hex in the file).
Bytes vector_hex(const rapidjson::Value& obj, std::string_view key);

// The string member `key` of `obj`.
std::string_view vector_string(const rapidjson::Value& obj, std::string_view key);

}  // namespace chatwoot::wa::test
