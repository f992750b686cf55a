// Who is in a group (waweb.md 1.16): the interactive w:g2 query and its
// answer, which fan-out and the phash are computed from.
//
//   <iq xmlns="w:g2" type="get" to="<id>@g.us"><query request="interactive"/></iq>
//   -> <group id subject addressing_mode="lid|pn" ...>
//        <participant jid [lid] [phone_number] [type="admin|superadmin"]/> ...
//      </group>
//
// In a LID-addressed group `jid` is the member's LID and phone_number its
// PN; in a PN-addressed one `jid` is the PN and `lid` its LID.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/message/addressing.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::message {

inline constexpr std::size_t kMaxGroupParticipants = 4096;


struct GroupParticipant {
    binary::Jid jid;                    // how the group addresses them
    std::optional<binary::Jid> lid;     // the other form, when given
    std::optional<binary::Jid> phone_number;

    bool operator==(const GroupParticipant&) const = default;
};

struct GroupInfo {
    binary::Jid jid;
    AddressingMode addressing_mode = AddressingMode::pn;
    std::vector<GroupParticipant> participants;

    bool operator==(const GroupInfo&) const = default;
};

binary::Node group_info_query(const binary::Jid& group);

// Errc::malformed without <group>, for a group jid that is not a group,
// a participant without a valid user jid, or an unknown addressing mode;
// Errc::too_large past kMaxGroupParticipants.
Result<GroupInfo> parse_group_info(const binary::Node& iq);

}  // namespace chatwoot::wa::message
