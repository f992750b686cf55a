// Why the server ended (or refused) a session, and what to do about it
// (waweb.md 1.9; whatsmeow connectionevents.go is the stricter reference).
//
// The server says it in two stanzas:
//   <stream:error code="515"/>                           restart required:
//       always follows pairing; connect again at once, with the login payload
//   <stream:error code="401"><conflict type="device_removed"/></stream:error>
//       the phone unlinked us: logged out, keys must go
//   <stream:error><conflict type="replaced"/></stream:error>
//       another connection of this device took over: stop, say so, and do not
//       fight it (two helpers would replace each other forever)
//   <stream:error code="503"/>  and anything unknown     transient: back off, retry
//   <failure reason="401|403|406"/>                      logged out
//   <failure reason="405"/>                              client outdated
//   <failure reason="402"/>                              temporarily banned
//   <failure reason="500|503"/>                          transient
//   <failure reason=other/>                              stop: we do not know it
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wa/binary/node.hpp"

namespace chatwoot::wa::session {

enum class EndKind {
    restart_required,  // 515: reconnect now, no backoff
    logged_out,        // unlinked: clear the keys, go back to unpaired
    replaced,          // another connection took over: stop
    client_outdated,   // 405: a newer version is needed before retrying
    banned,            // 402: stop until the ban expires
    transient,         // the server's trouble or a lost link: back off, retry
    refused,           // a failure we do not know: stop, show it
    protocol_error,    // we could not understand the server: back off, retry
    local_close,       // our side closed it
};

std::string_view end_kind_name(EndKind kind);

struct StreamEnd {
    EndKind kind = EndKind::transient;
    int code = 0;        // the stanza's code or reason, 0 when none
    std::string detail;  // for logs and status; never key material

    // Whether the helper should connect again by itself.
    bool reconnect() const;
    // Whether the stored device keys are dead (the helper clears them).
    bool clear_keys() const { return kind == EndKind::logged_out; }
};

// <stream:error ...> as above.
StreamEnd classify_stream_error(const binary::Node& stream_error);

// <failure reason=... [location] [expire]> as above.
StreamEnd classify_failure(const binary::Node& failure);

}  // namespace chatwoot::wa::session
