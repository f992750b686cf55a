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
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/jid.hpp"
#include "wa/message/addressing.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::message {

inline constexpr std::size_t kMaxGroupParticipants = 4096;
// WhatsApp allows a subject of 100 characters (at most 400 bytes of
// UTF-8); anything far past that is not a subject.
inline constexpr std::size_t kMaxGroupSubject = 1024;


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
    std::string subject;  // the group's name; may be empty

    bool operator==(const GroupInfo&) const = default;
};

// How a query for a group's info outside a send ended: its answer kept
// in the cache; refused, unreadable or unanswered in time; or not known,
// because the connection ended first (worth asking again on the next).
enum class GroupInfoFetch { cached, failed, lost };

binary::Node group_info_query(const binary::Jid& group);

// Errc::malformed without <group>, for a group jid that is not a group,
// a participant without a valid user jid, an unknown addressing mode, or
// a subject that is not UTF-8; Errc::too_large past kMaxGroupParticipants
// or a subject longer than kMaxGroupSubject bytes.
Result<GroupInfo> parse_group_info(const binary::Node& iq);

}  // namespace chatwoot::wa::message
