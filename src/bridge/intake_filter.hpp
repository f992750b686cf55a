// Which WhatsApp chats the bridge carries into Chatwoot: never status
// updates, broadcast lists or channels (no one to answer), groups unless
// ignore_groups, and none of the chats the operator listed in ignore_jids.
#pragma once

#include "forward_job.hpp"
#include "jid.hpp"

#include <string>
#include <unordered_set>

namespace chatwoot::bridge {

struct IntakeFilter {
    bool ignore_groups = false;
    std::unordered_set<std::string> ignored_chats;  // canonical chat JIDs

    bool accepts(const WaMessage& m) const
    {
        auto jid = Jid::parse(m.chat);
        if (!jid) {
            return false;
        }
        switch (jid->kind()) {
        case JidKind::broadcast:
        case JidKind::newsletter:
            return false;
        case JidKind::group:
            if (ignore_groups) {
                return false;
            }
            break;
        default:
            break;
        }
        return !ignored_chats.contains(jid->without_device().to_string());
    }
};

}  // namespace chatwoot::bridge
