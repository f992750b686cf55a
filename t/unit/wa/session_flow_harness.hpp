// A Connection wired to the scripted server, with a hook through which a
// flow on top of it (QR pairing, the after-login steps) sees each event
// and answers through the same connection, as the helper's driver does.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <vector>

#include "session_scripted_server.hpp"
#include "wa/crypto/random.hpp"
#include "wa/session/connection.hpp"

namespace chatwoot::wa::test {

constexpr std::int64_t flow_unix_now = 1800000000;

struct FlowHarness {
    ScriptedServer server;
    session::MemorySessionStore store;
    session::ConnectionConfig config;
    std::optional<session::Connection> conn;
    session::Millis now = 1000;
    std::vector<session::Event> events;
    // Called for each connection event, in order, before it is recorded.
    std::function<void(const session::Event&)> on_event;

    explicit FlowHarness(session::DeviceCredentials credentials)
        : store(std::move(credentials))
    {
        config.root_key = server.root_public();
        conn.emplace(config, store, crypto::seeded_random(as_bytes("flow connection")));
    }

    // Client -> server, and events -> hook, until both are quiet (a hook
    // that sends makes more messages).
    void settle()
    {
        for (;;) {
            bool moved = false;
            for (Bytes& m : conn->take_messages()) {
                moved = true;
                ASSERT_TRUE(server.from_client(m)) << server.failure;
            }
            while (auto e = conn->poll_event()) {
                moved = true;
                if (on_event) on_event(*e);
                events.push_back(std::move(*e));
            }
            if (!moved) return;
        }
    }

    void to_client(ByteView message)
    {
        ASSERT_TRUE(conn->receive(message, now).ok());
        settle();
    }

    void send(const binary::Node& node) { to_client(server.frame_for(node)); }

    void handshake()
    {
        ASSERT_TRUE(conn->start(now, flow_unix_now).ok());
        settle();
        ASSERT_EQ(server.to_client.size(), 1u);
        Bytes hello = std::move(server.to_client.front());
        server.to_client.pop_front();
        to_client(hello);
        ASSERT_TRUE(server.handshake_done());
    }

    // The nodes the server received since the last call.
    std::vector<binary::Node> take_received()
    {
        std::vector<binary::Node> out(server.received.begin(), server.received.end());
        server.received.clear();
        return out;
    }

    template <class E>
    std::vector<E> all() const
    {
        std::vector<E> out;
        for (const auto& e : events) {
            if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
        }
        return out;
    }
};

}  // namespace chatwoot::wa::test
