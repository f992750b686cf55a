#include "wa/proto/codec.hpp"

#include <climits>
#include <string>

namespace chatwoot::wa::proto {

Status parse_into(google::protobuf::MessageLite& out, ByteView bytes)
{
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(Errc::too_large,
                          out.GetTypeName() + ": " + std::to_string(bytes.size()) + " bytes");
    if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return make_error(Errc::malformed, out.GetTypeName() + ": not a valid encoding (" +
                                               std::to_string(bytes.size()) + " bytes)");
    return Done{};
}

Bytes serialize(const google::protobuf::MessageLite& message)
{
    Bytes out;
    serialize_append(message, out);
    return out;
}

void serialize_append(const google::protobuf::MessageLite& message, Bytes& out)
{
    const std::size_t start = out.size();
    const std::size_t n = message.ByteSizeLong();
    out.resize(start + n);
    // Cannot fail for a lite message below 2 GiB with no required fields:
    // every message of our subset is all optional.
    message.SerializeWithCachedSizesToArray(out.data() + start);
}

}  // namespace chatwoot::wa::proto
