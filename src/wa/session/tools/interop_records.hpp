// The record stream of the interop tools (a tool and its Node script
// t/mock/wa/*-pairing-interop.mjs carry WebSocket messages and events over
// the tool's stdin and stdout):
//
//   <type, one byte> u32be n, n bytes
//
// 'M' is one WebSocket message (in: from the server, out: to send), 'E' an
// event as one JSON object (out only); a tool may read other types.
// A test tool's header: it reads stdin and writes stdout, which the
// library never does.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

#include "wa/bytes.hpp"
#include "wa/session/clock.hpp"

namespace chatwoot::wa::session::interop {

inline Millis monotonic_now()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

inline void put_record(char type, ByteView body)
{
    const std::uint32_t n = static_cast<std::uint32_t>(body.size());
    const unsigned char head[5] = {
        static_cast<unsigned char>(type), static_cast<unsigned char>(n >> 24),
        static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 8),
        static_cast<unsigned char>(n)};
    std::fwrite(head, 1, sizeof head, stdout);
    if (n != 0) std::fwrite(body.data(), 1, n, stdout);
    std::fflush(stdout);
}

// {"event": name, key: value, ...} with string values.
inline void put_event(std::string_view name,
               std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {})
{
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("event");
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    for (const auto& [k, v] : fields) {
        w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndObject();
    put_record('E', as_bytes(std::string_view(buf.GetString(), buf.GetSize())));
}

struct Record {
    char type = 0;
    Bytes body;
};

inline std::optional<Record> get_record()
{
    unsigned char head[5];
    if (std::fread(head, 1, sizeof head, stdin) != sizeof head) return std::nullopt;
    const std::uint32_t n = (std::uint32_t{head[1]} << 24) | (std::uint32_t{head[2]} << 16) |
                            (std::uint32_t{head[3]} << 8) | std::uint32_t{head[4]};
    if (n > (1u << 24)) return std::nullopt;
    Record r{static_cast<char>(head[0]), Bytes(n)};
    if (n != 0 && std::fread(r.body.data(), 1, n, stdin) != n) return std::nullopt;
    return r;
}

// One source's step for drain_events(): its events to `handle`, which
// returns the tool's exit code (>= 0) to stop, or -1 to go on.
template <class Source, class Handle>
auto events_of(Source& source, Handle handle)
{
    return [&source, handle](bool& moved) -> int {
        while (auto e = source.poll_event()) {
            moved = true;
            if (int r = handle(*e); r >= 0) return r;
        }
        return -1;
    };
}

// The steps in turn until none has an event left (-1) or a handler
// stopped (its exit code): a handler that sends makes more events.
template <class... Steps>
int drain_events(Steps... steps)
{
    for (;;) {
        bool moved = false;
        int r = -1;
        ((r = r >= 0 ? r : steps(moved)), ...);
        if (r >= 0) return r;
        if (!moved) return -1;
    }
}

}  // namespace chatwoot::wa::session::interop
