// Hand-made node bodies that break the binary format one way each, with
// the error the decoders must give: shared by the owned decoder's tests
// and the view decoder's (which must give the very same error).
#pragma once

#include <string_view>

#include "wa/error.hpp"

namespace chatwoot::wa::test {

struct BinaryBadCase {
    const char* name;
    std::string_view body_hex;  // node bytes, no flags byte
    Errc code;
    std::string_view detail;    // a part of the message
};

// Bytes used below: f8 LIST_8, f9 LIST_16, 19 "iq", 11 "to", 08 "id",
// fc BINARY_8, fd BINARY_20, fe BINARY_32, ff NIBBLE_8, fb HEX_8,
// fa JID_PAIR, f7 AD_JID, 03 "s.whatsapp.net", ec..ef dictionaries.
inline constexpr BinaryBadCase kBinaryBadCases[] = {
    {"Empty", "", Errc::truncated, "node needs 1 bytes, 0 left at offset 0"},
    {"ListSizeMissing", "f8", Errc::truncated, "at offset 1"},
    {"List16SizeCut", "f901", Errc::truncated, "at offset 1"},
    {"NotAList", "19", Errc::malformed, "tag 25 is not a list at offset 0"},
    {"EmptyListNode", "00", Errc::malformed, "node: empty list at offset 0"},
    {"List8Zero", "f800", Errc::malformed, "node: empty list"},
    {"TagMissing", "f801", Errc::truncated, "tag needs 1 bytes"},
    {"EmptyTagListEmpty", "f80100", Errc::malformed, "tag: empty at offset 2"},
    {"EmptyTagBinary", "f801fc00", Errc::malformed, "tag: empty"},
    {"TagIsAJid", "f801fa0003", Errc::malformed, "tag: a JID where a string belongs at offset 2"},
    {"TagIsAList", "f801f801", Errc::malformed, "tag: tag 248 is not a string"},
    {"UnusedTag240", "f801f0", Errc::malformed, "tag 240 is not a string"},
    {"UnusedTag244", "f80319f411", Errc::malformed, "attribute key: tag 244"},
    {"FbJidUnsupported", "f80319" "11" "f6", Errc::unsupported, "FB_JID at offset 4"},
    {"InteropJidUnsupported", "f80319" "11" "f5", Errc::unsupported, "INTEROP_JID"},
    {"AttributeValueMissing", "f80319" "11", Errc::truncated, "attribute value needs 1 bytes"},
    {"KeyIsAJid", "f80319" "fa0003" "11", Errc::malformed, "attribute key: a JID"},
    {"DuplicateKey", "f80519" "1119" "1119", Errc::malformed, "duplicate \"to\" at offset 5"},
    {"DictionaryIndexMissing", "f801ec", Errc::truncated, "tag needs 1 bytes"},
    {"Binary8PastEnd", "f801fc05616263", Errc::truncated, "tag: length 5 past the end at offset 3"},
    {"Binary20PastEnd", "f801fd000100", Errc::truncated, "length 256 past the end"},
    {"Binary20LengthCut", "f801fd0001", Errc::truncated, "tag needs 3 bytes"},
    {"Binary32Huge", "f801feffffffff", Errc::truncated, "length 4294967295 past the end"},
    {"PackedEmpty", "f801ff00", Errc::malformed, "empty packed string at offset 3"},
    {"PackedOddEmpty", "f801ff80", Errc::malformed, "empty packed string"},
    {"PackedTooLong", "f801ff41", Errc::malformed, "packed string of 130 characters"},
    {"PackedCut", "f801ff0312", Errc::truncated, "tag needs 3 bytes, 1 left"},
    {"NibbleTwelve", "f801ff01c1", Errc::malformed, "nibble 12 in a packed string at offset 4"},
    {"NibblePadInside", "f801ff02f111", Errc::malformed, "nibble 15"},
    {"JidPairNestedUser", "f80319" "11" "fafa000303", Errc::malformed, "a JID where a string belongs"},
    {"JidPairEmptyServer", "f80319" "11" "fa1900", Errc::malformed, "JID without a server"},
    {"JidPairUserWithAt", "f80319" "11" "fafc03614062" "03", Errc::malformed, "JID user with '@'"},
    {"JidPairCut", "f80319" "11" "fa19", Errc::truncated, "attribute value needs 1 bytes"},
    {"AdJidUnknownDomain", "f80319" "11" "f70203" "19", Errc::unsupported, "AD_JID domain 2 at offset 5"},
    {"AdJidDomain130", "f80319" "11" "f78203" "19", Errc::unsupported, "AD_JID domain 130"},
    {"AdJidUserWithColon", "f80319" "11" "f70003" "fc03613a62", Errc::malformed, "AD_JID user with ':'"},
    {"AdJidCut", "f80319" "11" "f700", Errc::truncated, "attribute value needs 2 bytes"},
    {"ContentMissing", "f80219", Errc::truncated, "content needs 1 bytes"},
    {"ContentBinaryPastEnd", "f80219fc02aa", Errc::truncated, "content: length 2 past the end"},
    {"ContentUnusedTag", "f80219f2", Errc::malformed, "content: tag 242 is not a string"},
    {"ChildrenCut", "f80219f802f80119", Errc::truncated, "node needs 1 bytes"},
    {"ChildIsNotANode", "f80219f80119", Errc::malformed, "node: tag 25 is not a list at offset 5"},
    {"TrailingByte", "f8011900", Errc::malformed, "1 bytes after the node at offset 3"},
};

}  // namespace chatwoot::wa::test
