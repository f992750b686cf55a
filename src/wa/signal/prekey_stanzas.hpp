// The pre-key stanzas (waweb.md section 1.13): uploading ours, asking for
// a device's bundle, and reading the bundle from the answer.
//
// Keys travel raw (32 bytes, no 0x05 type byte); ids as 3 bytes and the
// registration id as 4, big-endian.
//
//   <iq xmlns="encrypt" type="set" to="@s.whatsapp.net">
//     <registration>4B</registration> <type>05</type> <identity>32B</identity>
//     <list> <key><id>3B</id><value>32B</value></key> ... </list>
//     <skey><id>3B</id><value>32B</value><signature>64B</signature></skey>
//   </iq>
//
//   <iq xmlns="encrypt" type="get" to="@s.whatsapp.net">
//     <key> <user jid="<device>" [reason="identity"]/> ... </key>
//   </iq>
//
// and the answer's <list> holds one <user jid> per device with
// registration, type, identity, an optional key and skey (the keys
// sometimes wrapped in <keys>), or an <error> child when the device has no
// bundle.
#pragma once

#include <span>
#include <string_view>

#include "wa/binary/jid.hpp"
#include "wa/binary/node.hpp"
#include "wa/error.hpp"
#include "wa/signal/address.hpp"
#include "wa/signal/key_generation.hpp"
#include "wa/signal/prekey_bundle.hpp"
#include "wa/signal/protocol_store.hpp"

namespace chatwoot::wa::signal {

// The upload IQ.  `id` is the IQ id; empty leaves it to the IQ layer.
binary::Node prekey_upload_iq(std::string_view id, const LocalIdentity& identity,
                              std::span<const PreKey> pre_keys, const SignedPreKey& signed_pre_key);

// The bundle request for `devices`; `reason` ("identity" when a peer's
// identity changed) is left out when empty.
binary::Node prekey_fetch_iq(std::string_view id, std::span<const binary::Jid> devices,
                             std::string_view reason = {});

struct DeviceBundle {
    binary::Jid jid;
    Address address;
    PreKeyBundle bundle;
};

// One <user> of the answer.  Errc::not_found when it carries <error> (the
// detail has its code and text), Errc::malformed for a missing child or a
// value of the wrong length (the detail names it), Errc::unsupported for a
// key type other than 0x05 or a JID that is not a user device.
Result<DeviceBundle> parse_prekey_user(const binary::Node& user);

}  // namespace chatwoot::wa::signal
