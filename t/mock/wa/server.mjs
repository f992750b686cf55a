#!/usr/bin/env node
// The loopback WhatsApp server for tests (issue 9): a WebSocket server that
// plays WhatsApp's side of a Web client's connection, strictly, and a control
// API over HTTP on the same port for the tests that drive it.
//
//   node t/mock/wa/server.mjs [--port N] [--root-key-out FILE]
//                             [--root-private HEX] [--max-frame BYTES]
//                             [--tls-cert PEM --tls-key PEM] [--media-host NAME]
//
// Prints one line `ready {"url":…,"control":…,"root_key":…}` on stdout
// when it listens (with "wss_url" too, for a wss:// listener on another
// port, when --tls-cert names its certificate, and "media_hosts", what media_conn names);
// logs go to stderr, one line per event worth knowing,
// never a key.  The root key is a fresh test key unless --root-private
// fixes it; its public half goes to --root-key-out (64 hex digits) for the
// client's `whatsapp_server … root_key=`.
//
// What it plays, each strictly (a refusal closes the socket or answers an
// error, with a log line naming why):
//   the handshake: intro header, frame sizes, Noise XX with the test chain,
//     the ClientPayload (login or registration, required fields checked);
//   a login: <success>, or <failure 405> for an outdated or refused client;
//     a second live login of one device replaces the first;
//   a registration: <pair-device> refs; then the phone, by QR (scan), by
//     code (enter-code) or through the passkey ceremony, then <pair-success>,
//     the countersigned answer checked, stream error 515;
//   after login: pings, the prekey count and uploads, passive/active.
//
// Control API (JSON in and out, under /control/):
//   GET  events?since=&type=&conn=&tag=&id=    what happened, in order (id: a message id)
//   GET  wait?since=&type=&conn=&tag=&id=&timeout=ms   first match (long poll; 504)
//   GET  connections                           each connection's state
//   POST stream-error {code:"515"|"401"|"conflict"|"503", conn?}
//   POST failure {reason:405, conn?}           <failure> now, then close
//   POST login-answer {failure:405|null}       how the next logins are answered
//   POST version {current?, enforce?}          the build GET / names as client_revision;
//                                              while enforced, older clients get 405
//   POST drop {conn?}                          cut the TCP connection, no close frame
//   POST pings {answer:bool}                   stop or resume answering pings
//   POST lose {count?:1, id?, retry?:bool, conn?}  the next `count` <message> stanzas a
//                                              companion sends (only those with that id, only
//                                              retry resends: every <enc> with count, only from
//                                              that connection, as asked) are read and dropped,
//                                              neither processed nor acked, as if the connection
//                                              had died with them in flight: event lost {conn,
//                                              id, retry, node}, no received event.  count 0
//                                              disarms; a new call replaces the last one
//   POST send {node|nodes, compress?, split?, tcp?, conn?}  any stanza(s), framed as asked;
//                                              tcp: N also cuts the WebSocket byte stream
//                                              into socket writes of N bytes, one at a time
//   POST raw {hex | size+fill, layer, compress?, split?, conn?}  hostile bytes (below)
//   POST cert {variant}                        the chain later handshakes present
//   POST hello {variant}                       how later ClientHellos are answered: valid,
//                                              or garbage|empty|short-ephemeral|
//                                              undecryptable|huge (hostile, see HELLO_VARIANTS)
//   POST scan {qr, phone?, tamper?}            the phone scans: <pair-success> to the
//                                              connection that showed the ref (or the
//                                              passkey ceremony for a gated account)
//   (a login's <remove-companion-device> is answered, recorded as the event
//    remove-companion-device, and followed by stream error 401)
//   POST enter-code {code, conn?}              the person types the companion's code into
//                                              the phone (after its companion_hello)
//   POST account {phone, passkey:true|false}   make an account passkey-gated; answers the
//                                              ES256 key (JWK) for the test's software
//                                              authenticator
//   POST expire-passkey {conn?}                the ceremony's challenge is now too old
//
// The world (issue 10; lib/world.mjs, lib/messaging.mjs).  "Our account" is
// the phone number of the logged-in companion (the latest, or `conn`); its
// device 0 is our phone, a Signal party the server plays.  Every contact
// device is a Signal party too; what companions upload is kept as their
// bundle (contacts start sessions from it, one one-time pre-key each).
//   POST contact {phone, lid?, devices?:[0,…], hosted?:[ids], name?, requires_token?}
//                                              -> {pn, lid, devices}
//   POST contact-devices {phone, devices:[…], hosted?, notify?:true}
//                                              new device list; <notification type="devices">
//                                              (<add>/<remove device_hash device_lid_hash>
//                                              <device jid lid/>) to our companions -> {devices, notified}
//   POST group {jid?, subject, addressing_mode:"lid"|"pn", participants:[phone,…]}
//                                              -> {jid}; our account is always a member (admin)
//   POST group-subject {jid, subject, author?:<member phone>}
//                                              the group is renamed; <notification type="w:gp2"
//                                              from=<group> participant=<author, default our phone>>
//                                              <subject subject s_t s_o/> to our companions
//                                              -> {jid, subject, notified}
//   POST group-participants {jid, add?:[phone,…], remove?:[phone,…], author?}
//                                              members in and out (the world changes: fan-out, group
//                                              info and phash follow); w:gp2 <remove>/<add> with a
//                                              <participant jid lid|phone_number/> each, in the group's
//                                              addressing mode -> {jid, added, removed, participants, notified}.
//                                              A removed member keeps our old sender key: each later skmsg
//                                              of ours to the group is tried with it, and one it can read
//                                              is the event leaked {conn, id, to, chat}
//   POST new-identity {phone, addressing?:"lid"|"pn" (default lid), notify?:true}
//                                              the contact reinstalls: each device a new identity key,
//                                              registration and pre-keys, no sessions or sender keys
//                                              (our companion's old session cannot reach it: a msg on it is
//                                              undecryptable); <notification type="encrypt" from=<contact>>
//                                              <identity/> to our companions -> {pn, lid, devices, notified}
//   POST message {from, device?:0, chat?:<group>, addressing?:"pn"|"lid" (default pn; in groups
//                 the group's mode), id?, t?, push_name?,
//                 message:{WAProto Message as JSON}, garbage?:false|"once"|"always", conn?}
//                                              the contact's device encrypts for each companion
//                                              of ours: pkmsg from its bundle until answered,
//                                              then msg; padded; in groups an SKDM (pkmsg/msg)
//                                              for a companion lacking the sender key, then skmsg.
//                                              Attributes: from, id, t, type (text|media|reaction),
//                                              notify, participant + addressing_mode in groups,
//                                              sender_lid|sender_pn in DMs, participant_pn|participant_lid,
//                                              edit (1: MESSAGE_EDIT, 7: REVOKE, 8: a group revoke of
//                                              another member's message);
//                                              <device-identity> for a companion sender's pkmsg.
//                                              garbage corrupts the enc (first send / every send).
//                                              -> {id, to:[companion jids]}; event message-sent.
//                                              A message stays pending for a companion until it
//                                              sends a receipt (not retry) or message ack for it;
//                                              pending ones go again (offline="1") after each login
//                                              (event message-redelivered), then <ib><offline count>.
//   POST burst {from:[phone,…], count, text?, id_prefix?, interval_ms?, addressing?, conn?}
//                                              count text messages "<text> <i>", ids <id_prefix><i>, message i
//                                              from from[i % n] (device 0), as POST message does: all
//                                              encrypted first, then sent at once or one every interval_ms
//                                              (for t/bench/messages.pl) -> {ids, encrypt_ms, send_ms, sent_at:[ms]}
//   POST peer-message {chat:<contact pn|lid or group>, message, id?}
//                                              our phone sent it: DMs come from our own user with
//                                              recipient=<chat> (and peer_recipient_pn|_lid), wrapped
//                                              in DeviceSentMessage{destinationJid}; groups as
//                                              participant=<our phone>, skmsg
//   POST history {type?: initial_bootstrap|recent|full|push_name|on_demand (default recent),
//                 chunk_order?, progress?, conversations?: [{jid, name?, pn_jid?, lid_jid?,
//                 tc_token_hex?, tc_token_t?, messages: [{id, from_me?, participant?, timestamp,
//                 text? | media?: {as POST message's media}, push_name?}]}],
//                 push_names?: [{jid, name}], jid_mappings?: [{pn_jid, lid_jid}], nct_salt_hex?,
//                 inline?: false, bomb?: N, forge?: "mac", from?: <contact phone>, id?, conn?}
//                                              our phone's history sync chunk (lib/history.mjs): a
//                                              HistorySync (Baileys' WAProto; nctSalt as field 19)
//                                              deflated, inline in the notification
//                                              (initialHistBootstrapInlinePayload) or encrypted as
//                                              md-msg-hist media ("WhatsApp History Keys") and kept on
//                                              the media host; sent as a peer message of our phone to its
//                                              own account (category="peer", type="protocol",
//                                              protocolMessage{HISTORY_SYNC_NOTIFICATION,
//                                              historySyncNotification}).  Media messages are uploaded
//                                              as POST message's are.  bomb: N zero bytes deflated
//                                              instead of the chunk; forge: "mac" a blob whose MAC fails;
//                                              from: a contact sends the notification instead.
//                                              -> {id, to, inline, inflated_length, zlib_length,
//                                              media: {<message id>: {direct_path, media_key, file_sha256,
//                                              file_enc_sha256 (base64), file_length, mimetype}}, blob?};
//                                              event history-sent.  A companion's
//                                              <receipt type="hist_sync"> for it: event history-receipt
//                                              {conn, id, to, known, sync_type, chunk_order, inline}.
//                                              The phone keeps what each chunk sent (not bombs, forgeries
//                                              or a contact's) as its own history of those chats.
//   POST phone-history {conversations: [as POST history's]}
//                                              more of the phone's own history, not sent -> {chats}.
//                                              A companion's history request (a peer message to our phone:
//                                              protocolMessage PEER_DATA_OPERATION_REQUEST_MESSAGE,
//                                              HISTORY_SYNC_ON_DEMAND {chatJid, oldestMsgId,
//                                              oldestMsgTimestampMs, onDemandMsgCount}) is answered from
//                                              it after the ack: the newest `count` messages older than the
//                                              one named, oldest first, as an on_demand chunk (none: a chunk
//                                              without messages); events peer-received {conn, id, enc,
//                                              message}, history-on-demand {conn, id (the request's), chat, count,
//                                              oldest_id, oldest_ms, sent: [ids], notification}
//   POST receipt {from, device?, chat?, ids:[…], type?:"read"|"delivery"|"played", addressing?}
//                                              a contact's receipt: id=ids[0], <list><item id> for the rest
//   POST retry {from, device?, id, fresh_session?, unknown?, conn?}  the contact's device could
//                                              not decrypt our message id: <receipt type="retry"> with
//                                              <retry count>, <registration>, and with fresh_session a new
//                                              <keys> bundle (the device dropped its session) -> {id, count};
//                                              unknown: true for an id our account never sent (count 1).
//                                              Queued for each companion of ours until it acks the
//                                              receipt, as the devices' own retry receipts are (below);
//                                              with conn sent to that connection once, not queued
//   POST forget-session {from, device?, conn?}  the contact's device loses its sessions with our
//                                              account's devices (keeps its keys): what our companion
//                                              sends it next cannot be decrypted -> {forgotten: N}
//   POST privacy-token {phone, token_hex?, t?} the contact grants us a trusted-contact token:
//                                              <notification type="privacy_token" from sender_lid>
//                                              <tokens><token jid type="trusted_contact" t>
//   POST nct-salt {salt_hex}                   the salt our cstokens are keyed with (HistorySync
//                                              nctSalt): cstoken = HMAC-SHA256(salt, "<lid>@lid")
//   POST restriction {kind:"reachout_timelock"|"new_chat_capping", active?, ends?, state?, used?, total?,
//                     enforcement_type?}   (capping: capping_status, used_quota, total_quota,
//                     cycle_end_timestamp in the MEX payload, as WhatsApp Web's clients read it)
//                                              <notification type="mex"><update op_name=
//                                              NotificationUserReachoutTimelockUpdate|MessageCappingInfoNotification>
//                                              {"data":{"xwa2_notify_…":{…}}}
//   POST encrypt-count {count}                 <notification type="encrypt"><count value>
//   POST ack-policy {phone?|jid?, error:463|475|null, once?}  the next message acks to that chat
//                                              (or to all) carry this error
//
// Media (issue 11; lib/media.mjs, waweb.md 2).  The media hosts are the mock's own
// listeners: media_conn names the TLS one when there is one (--media-host NAME: the
// name it gives, for a certificate that names localhost; default 127.0.0.1), else the
// plain one.  Both serve the same blobs, kept in memory.
//   <iq xmlns="w:m" type="set"><media_conn/></iq> -> <media_conn auth ttl="300"
//                  auth_ttl="21600" max_buckets="12"><host hostname="<host>:<port>"/>…
//                  event media-conn {conn, ttl, auth_ttl, hosts} (never the auth)
//   POST /mms/<mms-type>/<token>?auth=<auth>&token=<token>   an upload; mms-types:
//                  image video audio document md-msg-hist md-app-state thumbnail-link
//                  sticker-pack.  Origin must be https://web.whatsapp.com (Referer, when
//                  sent, under it): else 403.  No or unknown auth, or one past auth_ttl:
//                  401.  token (path and query the same) not base64url(SHA-256(body)),
//                  padded or not: 400.  Unknown mms-type or an empty body: 400; over
//                  100 MiB: 413.  The MAC is not checked (the server has no key).
//                  -> 200 {url: "https://<host><direct_path>&mms3=true", direct_path:
//                  "/v/t62.<n>-24/<a>_<b>_n.enc?ccb=11-4&oh=01_…&oe=<hex expiry>&_nc_sid=5e03e0",
//                  handle, object_id}; event media-upload {mms_type, enc_sha256 (base64),
//                  length, direct_path, from: "companion"|"world"|"phone"}
//   GET <direct_path>&hash=<base64url(enc SHA-256)>&mms-type=<type>&__wa-mms=
//                  the blob.  Unknown path 404; oh not the path's 403; expired 410 (or
//                  404, as media-expire says); mms-type not the upload's, hash not the
//                  blob's (padded or not) or no __wa-mms: 400; no Origin 403.
//                  Event media-download {path, mms_type, status, length, served:
//                  full|truncate|short|corrupt, failed?: status|reset} for every GET
//                  that names a /v/ path (before the checks that refuse it).
//   Refusals (both ways) answer JSON {error} and record media-refused {op, status,
//                  reason, path}.
//   POST message / peer-message {…, media: {kind, data (base64) | file (a path the mock
//                  reads), caption?, file_name?, mimetype?, view_once?, thumbnail?
//                  (base64 JPEG), width?, height?, seconds?, animated?, forge?, expired?,
//                  media_key? (base64, 32 bytes), file_length? (the fileLength claimed,
//                  instead of the real one)}}
//                  the sender's device encrypts the bytes under a fresh media key
//                  (HKDF-SHA256 "WhatsApp <Image|Video|Audio|Document> Keys" -> AES-256-CBC,
//                  HMAC-SHA256[0:10]) and the mock stores the upload; the message gets
//                  url, directPath, mediaKey, fileSha256, fileEncSha256, fileLength,
//                  mimetype, mediaKeyTimestamp (+ jpegThumbnail, caption, width, height,
//                  seconds) in kind's message: image -> imageMessage, video -> videoMessage,
//                  gif -> videoMessage{gifPlayback}, audio -> audioMessage, ptt ->
//                  audioMessage{ptt}, document -> documentMessage{fileName, title} (with a
//                  caption: inside documentWithCaptionMessage), sticker -> stickerMessage
//                  (image/webp, isAnimated); view_once (image, video): viewOnce set, inside
//                  viewOnceMessageV2.  A caption for audio, ptt or sticker is refused (400),
//                  as is file_name for another kind.  The stanza is type="media" and every
//                  <enc> (the SKDM's too) has mediatype=image|video|gif|audio|ptt|document|
//                  sticker (whatsmeow's getMediaTypeFromMessage).  Merged with `message`
//                  (e.g. its contextInfo fields).  forge: "mac" (the body's last byte
//                  flipped, fileEncSha256 of the forged body), "file_sha256" (wrong
//                  plaintext hash), "enc_sha256" (a message hash the server's blob does not
//                  have); expired: true (410) or 404 from the start.
//                  -> {id, to, media: {kind, mms_type, direct_path, url, media_key,
//                  file_sha256, file_enc_sha256 (base64), file_length, enc_length}}
//   Media in a <message> our companion sends: once a device of the world decrypted it, the
//                  receiving side fetches the blob its directPath names (from the mock's store)
//                  and checks it as a receiver does: fileEncSha256, the MAC, the padding,
//                  fileSha256, fileLength.  One event media-received per message id {conn, id,
//                  kind (image|video|gif|audio|ptt|document|sticker), ok, reason (null when
//                  ok), sha256 (hex of the plaintext), length, mimetype, file_name, caption,
//                  direct_path, stanza_type, enc_mediatype (of its first <enc>)}.
//   GET  media-plain?id=<message id>           what that message's media decrypted to:
//                  {id, kind, ok, reason, mimetype, file_name, sha256, length, data (base64)};
//                  404 when the mock saw no media message with that id
//   POST media-conn {ttl?, auth_ttl?, hosts?:[host:port…]|null, expire_auth?:true, auth?:true}
//                  how media_conn answers from now on; expire_auth: every auth given so
//                  far now gets 401; auth: a fresh upload auth too, as media_conn gives
//                  (for a test's or a benchmark's own uploads)
//                  -> {ttl, auth_ttl, hosts, expired_auths, auth?}
//   POST media-expire {direct_path | enc_sha256 (base64), status?:410|404}
//                  the blob(s) are gone (410 by default) -> {expired:[direct paths], status};
//                  400 for a blob the mock does not have
//   POST media-fail {count?:1, op?:"upload"|"download"|"any", mode?:"status"|"reset",
//                  status?:503}   the next count requests of op (after the path and
//                  mms-type are read) answer status, or have their TCP connection reset;
//                  event media-upload-failed {mms_type, status, failed} or media-download
//                  {…, failed}.  count 0 disarms; a new call replaces the last
//   POST media-serve {mode:"truncate"|"short"|"corrupt"|"slow"|"full", count?:1, direct_path?}
//                  the next count downloads that pass the checks (of that blob, or any):
//                  truncate: Content-Length of the whole, half the bytes, then a reset;
//                  short: 16 bytes fewer with a matching Content-Length; corrupt: one bit
//                  of the middle byte flipped; slow: Content-Length of the whole, half the
//                  bytes (event media-download-half {path, length, sent} once they are
//                  written), then the rest only on media-serve-release (held until then, or
//                  until the client goes: event media-download-gone {path, sent}).
//                  -> {count, mode, path}
//   POST media-serve {op:"upload", mode:"slow"|"full", count?:1}
//                  the next count uploads (past the auth and token checks) are read up to
//                  half their Content-Length (or their first bytes), then left unread and
//                  unanswered (event media-upload-half {mms_type, received, length}) until
//                  media-serve-release, which reads on and answers as usual.  A client that
//                  went before its body was whole is event media-upload-gone {mms_type,
//                  received} (nothing stored): at once when the socket shows it, else when
//                  media-serve-release reads on and finds the body cut off.  One that had
//                  written it all into the socket before it went (loopback buffers take
//                  megabytes) reached the server: on the release it is stored (media-upload)
//                  and the answer is lost
//   POST media-serve-release {}                the transfers held by slow go on to their end
//                  -> {released: N}
//   POST media-retry-answer {id, result:"success"|"not_found"|"decryption_error"|
//                  "general_error"|"never"}   how the phone answers a media retry for message
//                  id; never: it reads the receipt (event media-retry, result "never") and
//                  sends nothing, as a phone that is off
//   <receipt type="server-error" id to=<our own user>@s.whatsapp.net><encrypt><enc_p><enc_iv>
//                  <rmr jid from_me participant?>   our companion asks the phone for media it
//                  could not download (waweb.md 2; whatsmeow mediaretry.go): enc_p is
//                  AES-256-GCM (12-byte enc_iv, the 16-byte tag last, the message id as
//                  additional data) under HKDF-SHA256(mediaKey, "WhatsApp Media Retry
//                  Notification", 32) of ServerErrorReceipt{stanzaId = id}.  Checked: to,
//                  rmr jid (the chat, PN or LID), from_me, participant (groups), the GCM tag,
//                  stanzaId; a message the world never sent, or without media, is refused
//                  (event refused {id, reason: "media retry: …"}, no notification).  Acked
//                  <ack class="receipt" type="server-error">, then the phone re-uploads
//                  the same bytes (a new direct path; media-upload {from:"phone"}) and
//                  sends <notification type="mediaretry" id from=<our user> t><rmr …as sent/>
//                  <encrypt><enc_p><enc_iv></encrypt> with MediaRetryNotification{stanzaId,
//                  directPath, result: SUCCESS} sealed the same way, or <rmr/><error code=
//                  "2"|"3"|"0"> (NOT_FOUND, DECRYPTION_ERROR, GENERAL_ERROR) as
//                  media-retry-answer says.  Event media-retry {conn, id, result, direct_path}.
//
// What companions send, each recorded:
//   <receipt>      event receipt-in {receipt_type ("delivery" when absent), id, ids, to,
//                  participant, recipient}; acked with <ack class="receipt">; one for a message
//                  of the world whose to/participant is not where it came from: event refused
//                  (read and played receipts: the same user in the same form, PN or LID, any
//                  device, as whatsmeow's MarkRead addresses the chat); type="retry":
//                  event retry-receipt {id, count, keys, from}, then the sender device resends
//                  the same id to that companion (enc count=N; a new session from <keys>)
//   <ack>          event ack-in {class, id, to, ack_type, participant, error}
//   <chatstate>    event chatstate {to, state}; <presence> event presence {presence, name}
//   usync (<devices version="2"/>, <lid/>, <contact/>): device lists with key-index and
//                  is_hosted, the signed key-index-list; unknown numbers: <contact type="out"/>;
//                  a <user> without jid names a phone number in <contact>+N</contact> (answered with
//                  jid=N@s.whatsapp.net and the number echoed)
//   <iq xmlns="encrypt" type="get"><key><user jid>: bundles (a one-time pre-key consumed);
//                  an unknown device gets <user><error code="404"/>
//   <iq xmlns="w:g2" type="get" to=<group>><query/>: <group addressing_mode> with participants
//                  (jid + lid or phone_number)
//   <iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>: event token-issued
//   any other iq of a logged-in companion: error 501 (event iq-unknown)
//   <message>      each <participants><to jid><enc> decrypted by that device (pkmsg/msg, unpadded);
//                  an SKDM goes into the device's sender keys, the skmsg is decrypted by every
//                  member device.  One event delivered {to, id, chat, enc, message, addressing,
//                  retry} per device and message, redelivered for the same id and device again.
//                  Another companion of ours gets its enc passed on (from=<sending device>,
//                  recipient=<chat>; in groups participant= and the skmsg): delivered
//                  {forwarded:true, message:null}.
//                  A device that cannot decrypt its enc (or the skmsg: no sender key, bad MAC, no
//                  session, a used counter) is the device's affair, not the stanza's: the message is
//                  acked as usual, the other devices' deliveries stand, and after the ack that device
//                  sends the companion <receipt type="retry"> (from=<device>, or from=<group>
//                  participant=<device>), event undecryptable {conn, to, id, chat, reason, count, keys}:
//                  count 1 bare, from 2 on with a fresh bundle in <keys> (it keeps its sessions).
//                  The receipt waits in the companion's queue until the companion acks it
//                  (<ack class="receipt" type="retry" id to|participant=<device>>): a new login
//                  gets it again (message-redelivered, id "retry|<id>|<device>").  A device's receipts
//                  for one message wait as one (the latest); it is settled once every one of them
//                  sent on the login is acked (an ack names no count).
//                  A resend it still cannot decrypt asks again with count+1; after count 5 it gives
//                  up: event undecryptable-gave-up {…, count: 5}, no receipt.  It has the message
//                  (delivered {retry:true}) only once a resend decrypts.  What decrypts but is wrong
//                  inside (padding, protobuf, SKDM group, DeviceSentMessage) or an <enc> without
//                  bytes is the sender's bug and refused.
//                  Refused (ack error, event refused {id, reason, error}): an enc for a user not
//                  in the chat (or for the sending companion), two for one device, pkmsg without <device-identity> (or one without
//                  pkmsg, or one that does not verify under our account key and the companion's
//                  identity), our phone without a DeviceSentMessage wrapper (or a contact with one),
//                  a DM to a requires_token contact without its tctoken or a valid cstoken (463;
//                  a tctoken counts while its week bucket is at most 3 behind the current one),
//                  a message type other than text|media|reaction|poll|event|protocol|pin,
//                  a peer message to our own account without category="peer", ack-policy errors.
//                  A stale device set (a device left out, an enc for a device the user does not
//                  have, or a group phash that is not ours) is
//                  taken as the real server does: <ack phash=<ours>> without error, and event
//                  refused {stale:true}.  phash = "2:" + base64(SHA-256(sorted "user.0:device@server"
//                  of every device the message fans out to: the chat's and our own, not the
//                  sending companion, hosted left out of groups)[0:6]): the first six bytes,
//                  eight characters (whatsmeow's participantListHashV2 and ADString); Baileys'
//                  six-character prefix is taken too.
//                  The ack: <ack class="message" id from=<to> t [phash] [error]>.
//                  A retry resend (waweb.md 1.17) is a send to the devices that asked, not a
//                  fan-out: every enc carries count.  whatsmeow's form: one pkmsg|msg <enc count>
//                  straight in the message, no <participants>, the device named by to=<device
//                  JID> in a DM and by participant=<device JID> in a group (no skmsg; an SKDM in
//                  its plaintext goes into the device's sender keys and out of the record);
//                  <participants> with <enc count> for each is taken as well.  No device-set,
//                  phash or token check applies, and the ack has no phash.  Event delivered
//                  {retry:true}, redelivered (retry:true) when that device had it and did not ask.
//                  A device is one device under its PN and its LID: deliveries, retries
//                  asked for (POST retry names it by PN) and its session are the same either way;
//                  delivered.to names it as the chat addresses it.
//
// POST raw is for hostile-server tests: the bytes (hex, or `size` bytes of
// the value `fill`) go in at one layer, unchecked:
//   layer "stanza"  a frame plaintext (flags byte and node bytes; with
//                   compress, 0x02 and the bytes deflated), encrypted and
//                   framed: a stanza that authenticates but need not decode
//   layer "frame"   a Noise frame body sent as it is, not encrypted (it
//                   fails authentication): u24 length then the bytes
//   layer "stream"  into the Noise byte stream with no framing at all
//   layer "socket"  straight onto the TCP socket, below WebSocket (a
//                   hand-made WebSocket frame, or garbage)
// split: N cuts the result into WebSocket messages (socket: TCP writes) of
// N bytes; the event raw-sent records what went.
import http from 'node:http'
import https from 'node:https'
import fs from 'node:fs'
import crypto from 'node:crypto'
import zlib from 'node:zlib'
import { pathToFileURL } from 'node:url'
import { WebSocketServer } from 'ws'
import * as B from 'baileys'
import { NoiseResponder } from './lib/noise.mjs'
import { FrameReader, FrameError, frame } from './lib/frames.mjs'
import { makeCertChain, CHAIN_VARIANTS } from './lib/cert-chain.mjs'
import { readClientPayload, PayloadError } from './lib/client-payload.mjs'
import { nodeToJson, nodeFromJson, encodeStanza, decodeStanza, child } from './lib/nodes.mjs'
import { readPrekeyUpload, UploadError } from './lib/prekeys.mjs'
import { normalizeCode, unwrapEphemeral, wrapEphemeral, openKeyBundle, CodeError } from './lib/pair-code.mjs'
import * as PK from './lib/passkey.mjs'
import { parseQr, buildPairSuccess, checkPairDeviceSign, PairingError } from './lib/phone.mjs'
import { World, WorldError, participantHash } from './lib/world.mjs'
import { Messaging, retryReceiptKey } from './lib/messaging.mjs'
import { MediaServer, MediaError } from './lib/media.mjs'
import { History } from './lib/history.mjs'

const P = B.proto
const SERVER_JID = 's.whatsapp.net'
// Handshake messages are a few hundred bytes (a registration's ClientPayload
// is the largest); anything near this is not a client.
const HANDSHAKE_MAX_FRAME = 8192
const DEFAULT_MAX_FRAME = 1 << 20
const PAIR_REFS = 6
// POST hello's hostile answers to a ClientHello: random bytes, a ServerHello
// without fields, one with a 5-byte ephemeral, one whose static key does not
// decrypt, and a frame of the largest size (16 MiB) that is no HandshakeMessage.
const HELLO_VARIANTS = ['garbage', 'empty', 'short-ephemeral', 'undecryptable', 'huge']
const DEFAULT_CURRENT_VERSION = '2.3000.1027934701'

class Refusal extends Error {}

class Connection {
    constructor(mock, id, ws, req, reader, socket) {
        this.mock = mock
        this.id = id
        this.ws = ws
        this.socket = socket // the TCP socket under ws, for raw writes
        this.paced = null // a paced write under way: other sends wait for it
        this.held = []
        this.remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
        this.reader = reader
        this.state = 'hello' // hello -> finish -> open -> closed
        this.noise = null
        this.transport = null
        this.client = null // what the ClientPayload said
        this.queue = Promise.resolve() // frames are handled one at a time, in order
        this.pairDeviceId = null
        this.refs = [] // what this connection may show in its QR
        this.pairing = null // the <pair-success> sent, until answered
        this.codePairing = null // pairing by code, between companion_hello and companion_finish
        this.passkey = null // the passkey ceremony, from the prologue request to pair-success
    }

    summary() {
        return { conn: this.id, remote: this.remote, state: this.state, client: this.client && publicClient(this.client),
            routing_info: this.reader.routingInfo && this.reader.routingInfo.toString('hex') }
    }

    onMessage(data, isBinary) {
        try {
            this.readMessage(data, isBinary)
        } catch (e) {
            this.refuse(`internal error: ${e.stack || e}`)
        }
    }

    readMessage(data, isBinary) {
        if (this.state === 'closed') return
        if (!isBinary) return this.refuse('a text WebSocket message (only binary is spoken)')
        let frames
        try {
            frames = this.reader.push(data)
        } catch (e) {
            if (e instanceof FrameError) return this.refuse(e.message)
            throw e
        }
        for (const f of frames) {
            const body = Buffer.from(f)
            this.queue = this.queue.then(() => this.onFrame(body)).catch(e => {
                if (e instanceof Refusal) this.refuse(e.message)
                else this.refuse(`internal error: ${e.stack || e}`)
            })
        }
    }

    async onFrame(body) {
        if (this.state === 'closed') return
        if (this.state === 'hello') return this.onClientHello(body)
        if (this.state === 'finish') return this.onClientFinish(body)
        return this.onStanzaFrame(body)
    }

    onClientHello(body) {
        if (this.mock.helloVariant !== 'valid') return this.sendHostileHello(this.mock.helloVariant)
        let m
        try { m = P.HandshakeMessage.decode(body) } catch (e) { throw new Refusal(`first frame is not a HandshakeMessage: ${e.message}`) }
        const eph = m.clientHello?.ephemeral
        if (!eph || m.serverHello || m.clientFinish) throw new Refusal('first frame is not a bare clientHello')
        if (eph.length !== 32) throw new Refusal(`clientHello ephemeral is ${eph.length} bytes, want 32`)
        this.noise = new NoiseResponder({ serverStatic: this.mock.serverStatic, certChain: this.mock.currentChain() })
        this.noise.readClientHello(Buffer.from(eph))
        const serverHello = this.noise.writeServerHello()
        this.state = 'finish'
        this.wsSend(frame(Buffer.from(P.HandshakeMessage.encode({ serverHello }).finish())))
    }

    // POST hello: what a hostile server answers a ClientHello with (the
    // client must refuse it; the connection stays until the client closes).
    sendHostileHello(variant) {
        let bytes
        const hello = fields => Buffer.from(P.HandshakeMessage.encode({ serverHello: fields }).finish())
        if (variant === 'garbage') bytes = crypto.randomBytes(64)
        else if (variant === 'empty') bytes = hello({})
        else if (variant === 'short-ephemeral') bytes = hello({ ephemeral: crypto.randomBytes(5), static: crypto.randomBytes(48), payload: crypto.randomBytes(100) })
        else if (variant === 'undecryptable') bytes = hello({ ephemeral: B.Curve.generateKeyPair().public, static: crypto.randomBytes(48), payload: crypto.randomBytes(100) })
        else if (variant === 'huge') bytes = Buffer.alloc((1 << 24) - 1, 0x0a)
        else throw new Error(`unknown hello variant ${variant}`)
        this.state = 'finish'
        this.mock.emit({ type: 'hostile-hello', conn: this.id, variant, bytes: bytes.length })
        this.wsSend(frame(bytes))
    }

    async onClientFinish(body) {
        let m
        try { m = P.HandshakeMessage.decode(body) } catch (e) { throw new Refusal(`second frame is not a HandshakeMessage: ${e.message}`) }
        const fin = m.clientFinish
        if (!fin || m.clientHello || m.serverHello) throw new Refusal('second frame is not a bare clientFinish')
        if (!fin.static || fin.static.length !== 48) throw new Refusal(`clientFinish static is ${fin.static ? fin.static.length : 0} bytes, want 48`)
        if (!fin.payload || fin.payload.length <= 16) throw new Refusal('clientFinish has no payload')
        let opened
        try { opened = this.noise.readClientFinish(Buffer.from(fin.static), Buffer.from(fin.payload)) } catch (e) { throw new Refusal(`clientFinish does not decrypt: ${e.message}`) }
        let client
        try { client = readClientPayload(opened.payload) } catch (e) {
            if (e instanceof PayloadError) throw new Refusal(`ClientPayload refused: ${e.message}`)
            throw e
        }
        client.noiseKey = opened.clientStatic
        this.client = client
        this.transport = this.noise.split()
        this.noise = null
        this.state = 'open'
        this.reader.maxFrame = this.mock.maxFrame
        this.mock.log(`conn ${this.id}: ${client.kind}${client.kind === 'login' ? ` ${client.username}:${client.device}` : ''}, version ${client.version}`)
        this.mock.emit({ type: 'handshake', conn: this.id, client: publicClient(client) })
        if (this.mock.enforceVersion && compareVersions(client.version, this.mock.currentVersion) < 0) {
            this.mock.emit({ type: 'outdated', conn: this.id, version: client.version, current: this.mock.currentVersion })
            return this.sendFailure(405)
        }
        if (client.kind === 'login') return this.answerLogin()
        return this.answerRegistration()
    }

    answerLogin() {
        const failure = this.mock.loginFailure
        if (failure) return this.sendFailure(failure)
        // One live connection per device: as WhatsApp does, the newer login
        // replaces the older one.  The event lets tests assert it never happens.
        for (const other of this.mock.connections.values()) {
            if (other === this || other.state !== 'open' || other.client?.kind !== 'login' || other.deviceKey() !== this.deviceKey()) continue
            this.mock.log(`conn ${this.id}: second live connection of ${this.deviceKey()} (conn ${other.id} replaced)`)
            this.mock.emit({ type: 'duplicate-login', conn: this.id, replaced: other.id, device: this.deviceKey() })
            other.sendStreamError('conflict')
        }
        const lid = this.mock.lidFor(this.client.username)
        this.send({ tag: 'success', attrs: { t: String(this.mock.nowSeconds()), props: '1', abprops: '1', location: 'lla',
            lid: `${lid}@lid`, creation: String(this.mock.nowSeconds() - 86400) } })
        // What came while the device was away (or was never receipted).
        this.mock.messaging.flushPending(this)
    }

    answerRegistration() {
        this.pairDeviceId = this.mock.iqId()
        this.refs = Array.from({ length: PAIR_REFS }, () => `2@${crypto.randomBytes(48).toString('base64')}`)
        const refs = this.refs.map(r => ({ tag: 'ref', attrs: {}, content: Buffer.from(r) }))
        this.send({ tag: 'iq', attrs: { from: SERVER_JID, type: 'set', id: this.pairDeviceId, xmlns: 'md' },
            content: [{ tag: 'pair-device', attrs: {}, content: refs }] })
    }

    async onStanzaFrame(body) {
        let plain
        try { plain = this.transport.decrypt(body) } catch (e) { throw new Refusal(`stanza frame ${this.transport.readCounter - 1} does not decrypt`) }
        if (plain.length < 2) throw new Refusal(`stanza of ${plain.length} bytes`)
        if (plain[0] !== 0 && plain[0] !== 2) throw new Refusal(`stanza flags 0x${plain[0].toString(16)} (only 0 and 2 mean anything)`)
        let node
        try { node = await decodeStanza(plain) } catch (e) { throw new Refusal(`stanza does not decode: ${e.message}`) }
        if (this.mock.loses(this, node)) return
        this.mock.emit({ type: 'received', conn: this.id, tag: node.tag, node: nodeToJson(node) })
        await this.dispatch(node)
    }

    dispatch(node) {
        const a = node.attrs || {}
        if (node.tag === 'iq' && a.type === 'get' && a.xmlns === 'w:p' && child(node, 'ping')) {
            if (!a.id) throw new Refusal('ping iq without id')
            if (this.mock.answerPings) this.send({ tag: 'iq', attrs: { from: SERVER_JID, id: a.id, t: String(this.mock.nowSeconds()), type: 'result' } })
            else this.mock.emit({ type: 'ping-unanswered', conn: this.id, id: a.id })
            return
        }
        if (node.tag === 'iq' && this.pairDeviceId && a.id === this.pairDeviceId && (a.type === 'result' || a.type === 'error')) {
            this.mock.emit({ type: 'pair-device-ack', conn: this.id, result: a.type })
            return
        }
        if (node.tag === 'iq' && this.pairing && a.id === this.pairing.iqId) return this.onPairAnswer(node)
        if (node.tag === 'iq' && a.xmlns === 'md' && this.passkey && this.client.kind === 'registration') {
            const step = ['passkey_request_options', 'ref', 'passkey_prologue', 'companion_nonce', 'encrypted_pairing_request'].find(t => child(node, t))
            if (step) {
                if (!a.id) throw new Refusal(`${step} iq without id`)
                return this.onPasskeyStep(a.id, a.type, step, node)
            }
        }
        const reg = child(node, 'link_code_companion_reg')
        if (node.tag === 'iq' && a.xmlns === 'md' && a.type === 'set' && reg && this.client.kind === 'registration') {
            if (!a.id) throw new Refusal('link_code_companion_reg iq without id')
            return this.onLinkCode(a.id, reg)
        }
        if (node.tag === 'iq' && a.xmlns === 'encrypt' && this.client.kind === 'login') {
            if (!a.id) throw new Refusal('encrypt iq without id')
            if (a.type === 'get' && child(node, 'count')) return this.answerPrekeyCount(a.id)
            if (a.type === 'set' && child(node, 'list')) return this.onPrekeyUpload(node)
        }
        const remove = child(node, 'remove-companion-device')
        if (node.tag === 'iq' && a.xmlns === 'md' && a.type === 'set' && remove && this.client.kind === 'login') {
            // The companion unlinks itself: only its own device, then the
            // server ends the session as it does for a removed device.
            if (!a.id) throw new Refusal('remove-companion-device iq without id')
            const jid = remove.attrs.jid ?? ''
            if (jid !== `${this.client.username}:${this.client.device}@s.whatsapp.net`) {
                this.mock.emit({ type: 'remove-companion-refused', conn: this.id, jid })
                return this.send({ tag: 'iq', attrs: { from: SERVER_JID, id: a.id, type: 'error' }, content: [{ tag: 'error', attrs: { code: '403', text: 'forbidden' } }] })
            }
            this.mock.emit({ type: 'remove-companion-device', conn: this.id, jid, reason: remove.attrs.reason ?? null })
            // Gone from our account's device list: no one encrypts to it any more.
            this.mock.world.bundles.delete(this.deviceKey())
            this.mock.devices.delete(this.deviceKey())
            this.mock.log(`conn ${this.id}: device ${jid} removed itself`)
            this.send(this.result(a.id))
            return this.sendStreamError('401')
        }
        if (node.tag === 'iq' && a.xmlns === 'passive' && a.type === 'set' && a.id && (child(node, 'active') || child(node, 'passive'))) {
            this.mock.emit({ type: 'passive', conn: this.id, mode: child(node, 'active') ? 'active' : 'passive' })
            return this.send(this.result(a.id))
        }
        if (this.client.kind === 'login') return this.dispatchMessaging(node)
    }

    // The messages layer (waweb.md 1.15-1.17): what a logged-in companion
    // sends about messages, and the IQs it asks the world with.
    async dispatchMessaging(node) {
        const a = node.attrs || {}
        const M = this.mock.messaging, W = this.mock.world
        const me = this.client.username
        const iqError = (code, text) => this.send({ tag: 'iq', attrs: { from: SERVER_JID, id: a.id, type: 'error' }, content: [{ tag: 'error', attrs: { code: String(code), text } }] })
        switch (node.tag) {
        case 'message': {
            let ack
            const after = [] // the devices' answers (retry receipts), after the ack
            try {
                ack = await M.onClientMessage(this, node, after)
            } catch (e) {
                // A bug of ours, not the client's: said so, and the client still gets its ack.
                this.mock.log(`conn ${this.id}: message ${a.id}: internal error: ${e.stack || e}`)
                this.mock.emit({ type: 'refused', conn: this.id, id: a.id ?? null, reason: `internal error: ${e.message}`, error: '500' })
                ack = { tag: 'ack', attrs: { class: 'message', id: a.id ?? '', from: a.to ?? SERVER_JID, error: '500' } }
                after.length = 0
            }
            this.send(ack)
            for (const f of after) f()
            return
        }
        case 'receipt': {
            const ids = [a.id, ...(child(node, 'list')?.content ?? []).filter(i => i.tag === 'item').map(i => i.attrs.id)]
            this.mock.emit({ type: 'receipt-in', conn: this.id, receipt_type: a.type ?? 'delivery', id: a.id, ids, to: a.to ?? null,
                participant: a.participant ?? null, recipient: a.recipient ?? null, category: a.category ?? null })
            if (a.type === 'server-error') {
                // A media retry request (waweb.md 2): to the phone, not the sender.
                const ack = { tag: 'ack', attrs: { class: 'receipt', id: a.id, from: a.to ?? SERVER_JID, type: a.type } }
                const note = this.mock.media.onRetryReceipt(this, node, M.sent.get(a.id))
                this.send(ack)
                if (note) this.send(note)
                return
            }
            M.checkReceipt(this, node)
            if (a.type === 'hist_sync') this.mock.history.onReceipt(this, node)
            if (a.type === 'retry') await M.onRetryReceipt(this, node)
            else M.settle(this.deviceKey(), ids)
            const ack = { tag: 'ack', attrs: { class: 'receipt', id: a.id, from: a.to ?? SERVER_JID } }
            if (a.type) ack.attrs.type = a.type
            if (a.participant) ack.attrs.participant = a.participant
            return this.send(ack)
        }
        case 'ack':
            this.mock.emit({ type: 'ack-in', conn: this.id, class: a.class ?? null, id: a.id ?? null, to: a.to ?? null, ack_type: a.type ?? null,
                participant: a.participant ?? null, error: a.error ?? null })
            if (a.class === 'message' && a.id) M.settle(this.deviceKey(), [a.id])
            if (a.class === 'receipt' && a.type === 'retry' && a.id) M.settleRetry(this.deviceKey(), retryReceiptKey(a.id, a.participant ?? a.to))
            return
        case 'chatstate': {
            const st = Array.isArray(node.content) ? node.content[0]?.tag : null
            this.mock.emit({ type: 'chatstate', conn: this.id, to: a.to ?? null, state: st ?? null })
            return
        }
        case 'presence':
            this.mock.emit({ type: 'presence', conn: this.id, presence: a.type ?? null, name: a.name ?? null, to: a.to ?? null })
            return
        case 'iq': break
        default: return
        }
        if (!a.id || (a.type !== 'get' && a.type !== 'set')) return
        if (a.xmlns === 'usync' && a.type === 'get') {
            const u = child(node, 'usync')
            const query = child(u, 'query'), list = child(u, 'list')
            if (!u || !query || !list) return iqError(400, 'bad-request')
            const want = new Set((query.content ?? []).map(q => q.tag))
            // A user is named by jid, or (is-on-WhatsApp lookups) by a phone number in <contact>.
            const users = (list.content ?? []).filter(x => x.tag === 'user').map(x => {
                if (x.attrs.jid) return W.usyncUser(x.attrs.jid, want, me)
                const asked = child(x, 'contact')?.content
                const digits = asked === undefined ? '' : Buffer.from(asked).toString().replace(/^\+/, '')
                const u = W.usyncUser(`${digits}@s.whatsapp.net`, want, me)
                for (const k of u.content) if (k.tag === 'contact') k.content = Buffer.from(asked ?? '')
                return u
            })
            this.mock.emit({ type: 'usync', conn: this.id, protocols: [...want], users: users.map(x => x.attrs.jid) })
            return this.send(this.result(a.id, [{ tag: 'usync', attrs: { sid: u.attrs.sid ?? '', mode: u.attrs.mode ?? 'query', context: u.attrs.context ?? 'message', index: '0', last: 'true' },
                content: [{ tag: 'result', attrs: {}, content: [...want].map(w => ({ tag: w, attrs: {} })) }, { tag: 'list', attrs: {}, content: users }] }]))
        }
        if (a.xmlns === 'encrypt' && a.type === 'get' && child(node, 'key')) {
            const jids = (child(node, 'key').content ?? []).filter(x => x.tag === 'user').map(x => x.attrs.jid)
            const users = jids.map(j => W.bundleUser(j, me) ?? { tag: 'user', attrs: { jid: j }, content: [{ tag: 'error', attrs: { code: '404', text: 'item-not-found' } }] })
            this.mock.emit({ type: 'prekey-fetch', conn: this.id, jids })
            return this.send(this.result(a.id, [{ tag: 'list', attrs: {}, content: users }]))
        }
        if (a.xmlns === 'w:g2' && a.type === 'get' && child(node, 'query')) {
            const g = W.group(a.to)
            if (!g) return iqError(404, 'item-not-found')
            this.mock.emit({ type: 'group-info', conn: this.id, jid: g.jid })
            return this.send({ tag: 'iq', attrs: { from: g.jid, id: a.id, type: 'result' }, content: [W.groupInfo(g, me)] })
        }
        if (a.xmlns === 'w:m' && child(node, 'media_conn')) {
            if (a.type !== 'set') return iqError(400, 'bad-request')
            return this.send(this.result(a.id, [this.mock.media.mediaConn(this)]))
        }
        if (a.xmlns === 'privacy' && a.type === 'set' && child(node, 'tokens')) {
            const why = M.onIssueTokens(this, node)
            if (why) {
                this.mock.emit({ type: 'refused', conn: this.id, reason: `privacy tokens: ${why}` })
                return iqError(400, 'bad-request')
            }
            return this.send(this.result(a.id))
        }
        if (a.xmlns === 'encrypt' || a.xmlns === 'w:p' || a.xmlns === 'md' || a.xmlns === 'passive') return
        this.mock.emit({ type: 'iq-unknown', conn: this.id, xmlns: a.xmlns ?? null, iq_type: a.type })
        return iqError(501, 'feature-not-implemented')
    }

    // Pairing by code, the companion's two stages.  A stanza that is wrong
    // gets an error answer, a log line and a pair-code-refused event; the
    // connection stays, as the companion may retry.
    async onLinkCode(id, reg) {
        const fail = (reason, code = '400') => {
            this.mock.log(`conn ${this.id}: pairing code refused: ${reason}`)
            this.mock.emit({ type: 'pair-code-refused', conn: this.id, stage: reg.attrs.stage ?? null, reason })
            this.send({ tag: 'iq', attrs: { from: SERVER_JID, id, type: 'error' }, content: [{ tag: 'error', attrs: { code, text: 'bad-request' } }] })
        }
        const field = (tag, len) => {
            const c = child(reg, tag)
            if (!c || !(c.content instanceof Uint8Array || typeof c.content === 'string')) throw new CodeError(`no <${tag}>`)
            const b = Buffer.from(c.content)
            if (len !== undefined && b.length !== len) throw new CodeError(`<${tag}> is ${b.length} bytes, want ${len}`)
            return b
        }
        try {
            const stage = reg.attrs.stage
            if (stage === 'companion_hello') {
                const m = /^([1-9]\d{6,14})@s\.whatsapp\.net$/.exec(reg.attrs.jid ?? '')
                if (!m) throw new CodeError(`jid ${JSON.stringify(reg.attrs.jid ?? null)} is not <phone>@s.whatsapp.net`)
                const wrapped = field('link_code_pairing_wrapped_companion_ephemeral_pub', 80)
                if (!field('companion_server_auth_key_pub', 32).equals(this.client.noiseKey))
                    throw new CodeError('companion_server_auth_key_pub is not the noise key of this connection')
                field('companion_platform_id'); field('companion_platform_display'); field('link_code_pairing_nonce')
                const ref = `2@${crypto.randomBytes(24).toString('base64')}`
                this.codePairing = { stage: 'hello', phone: m[1], ref, wrapped }
                this.send(this.result(id, [{ tag: 'link_code_companion_reg', attrs: {}, content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) }] }]))
                this.mock.emit({ type: 'pair-code-hello', conn: this.id, phone: m[1], ref })
                return
            }
            if (stage === 'companion_finish') {
                const p = this.codePairing
                if (!p || p.stage !== 'primary_hello') throw new CodeError('companion_finish before the phone sent its key')
                if (field('link_code_pairing_ref').toString() !== p.ref) throw new CodeError('link_code_pairing_ref is not the one we gave')
                const identity = field('companion_identity_public', 32)
                if (!identity.equals(this.client.identity)) throw new CodeError('companion_identity_public is not the registered identity key')
                const adv = openKeyBundle({ bundle: field('link_code_pairing_wrapped_key_bundle'), primaryEphemeral: p.primaryEphemeral,
                    companionEphemeral: p.companionEphemeral, account: this.mock.accountFor(p.phone).key, companionIdentity: identity })
                this.codePairing = null
                this.send(this.result(id))
                this.mock.emit({ type: 'pair-code-finish', conn: this.id, phone: p.phone })
                this.sendPairSuccess({ identity, adv, noise: this.client.noiseKey }, { phone: p.phone })
                return
            }
            throw new CodeError(`stage ${JSON.stringify(stage ?? null)}`)
        } catch (e) {
            if (e instanceof CodeError) return fail(e.message)
            throw e
        }
    }

    // A passkey-gated account: instead of <pair-success>, the prologue request
    // (waweb-2026.md 1).  The socket stays up through the ceremony.
    requestPasskey(qr, phone, account) {
        const challenge = crypto.randomBytes(32)
        const options = PK.requestOptions(challenge, account.passkey.credentialId)
        this.passkey = { stage: 'options', phone, qr, account, challenge, options, expired: false }
        this.send({ tag: 'notification', attrs: { from: SERVER_JID, id: this.mock.iqId(), type: 'passkey_prologue_request', t: String(this.mock.nowSeconds()) },
            content: [{ tag: 'passkey_request_options', attrs: {}, content: Buffer.from(JSON.stringify(options)) }] })
        this.mock.emit({ type: 'passkey-requested', conn: this.id, phone, options })
        return { conn: this.id, passkey: true, options }
    }

    // Each step of the ceremony in the order wm/wr make them; a step out of
    // order or failing a check ends the ceremony with an error answer, a
    // log line and a passkey-refused event naming why.
    onPasskeyStep(id, type, step, node) {
        const p = this.passkey
        const bytesOf = (parent, tag, len) => {
            const c = child(parent, tag)
            if (!c || !(c.content instanceof Uint8Array || typeof c.content === 'string')) throw new PK.PasskeyError(`no <${tag}>`)
            const b = Buffer.from(c.content)
            if (len !== undefined && b.length !== len) throw new PK.PasskeyError(`<${tag}> is ${b.length} bytes, want ${len}`)
            return b
        }
        const want = (stage, t) => {
            if (type !== t) throw new PK.PasskeyError(`${step} iq of type ${type}, want ${t}`)
            if (!stage.includes(p.stage)) throw new PK.PasskeyError(`${step} in stage ${p.stage}`)
        }
        try {
            switch (step) {
            case 'passkey_request_options':
                want(['options', 'ref'], 'get')
                return this.send(this.result(id, [{ tag: 'passkey_request_options', attrs: {}, content: Buffer.from(JSON.stringify(p.options)) }]))
            case 'ref':
                want(['options', 'ref'], 'get')
                p.ref = `2@${crypto.randomBytes(24).toString('base64')}`
                p.stage = 'ref'
                return this.send(this.result(id, [{ tag: 'ref', attrs: {}, content: Buffer.from(p.ref) }]))
            case 'passkey_prologue': {
                want(['ref'], 'set')
                const pro = child(node, 'passkey_prologue')
                if (p.expired) throw new PK.PasskeyError('the challenge expired')
                if (!bytesOf(pro, 'credential_id').equals(p.account.passkey.credentialId)) throw new PK.PasskeyError('credential_id is not the account passkey')
                PK.verifyAssertion(bytesOf(pro, 'webauthn_assertion').toString('utf8'),
                    { credentialId: p.account.passkey.credentialId, publicKey: p.account.passkey.publicKey, challenge: p.challenge })
                const payload = bytesOf(pro, 'prologue_payload')
                const prologue = PK.readPrologue(payload, p.ref)
                const proof = child(pro, 'pairing_handoff_proof')
                if (proof && !Buffer.from(proof.content ?? []).equals(PK.handoffProof(p.qr.adv, payload)))
                    throw new PK.PasskeyError('pairing_handoff_proof is not HMAC(handoff key of the QR adv secret, prologue)')
                const primary = B.Curve.generateKeyPair(), nonce = crypto.randomBytes(32)
                Object.assign(p, { stage: 'continuation', prologue, primary, nonce, withProof: !!proof })
                this.send(this.result(id))
                this.send({ tag: 'notification', attrs: { from: SERVER_JID, id: this.mock.iqId(), type: 'crsc_continuation', t: String(this.mock.nowSeconds()) },
                    content: [{ tag: 'primary_ephemeral_identity', attrs: {}, content: Buffer.from(P.PrimaryEphemeralIdentity.encode({ publicKey: primary.public, nonce }).finish()) }] })
                this.mock.emit({ type: 'passkey-prologue', conn: this.id, handoff_proof: !!proof })
                return
            }
            case 'companion_nonce': {
                want(['continuation'], 'set')
                const nonce = bytesOf(node, 'companion_nonce')
                PK.checkCommitment(p.prologue.identityBytes, nonce, p.prologue.commitment)
                p.code = PK.pairingCode(nonce, p.primary.public, p.nonce)
                p.stage = 'nonce'
                this.send(this.result(id))
                this.mock.emit({ type: 'passkey-code', conn: this.id, code: p.code })
                return
            }
            case 'encrypted_pairing_request': {
                want(['nonce'], 'set')
                const id3 = p.prologue.identity
                const key = PK.pairingKey(B.Curve.sharedKey(p.primary.private, Buffer.from(id3.publicKey)), id3.deviceType ?? 0, p.ref)
                const req = PK.openPairingRequest(bytesOf(node, 'encrypted_pairing_request'), key)
                if (!req.companionPublicKey.equals(this.client.noiseKey)) throw new PK.PasskeyError('PairingRequest names another noise key')
                if (!req.companionIdentityKey.equals(this.client.identity)) throw new PK.PasskeyError('PairingRequest names another identity key')
                if (req.advSecret.equals(p.qr.adv)) throw new PK.PasskeyError('PairingRequest reuses the QR adv secret')
                this.passkey = null
                this.send(this.result(id))
                this.mock.emit({ type: 'passkey-request-opened', conn: this.id })
                this.sendPairSuccess({ identity: req.companionIdentityKey, adv: req.advSecret, noise: req.companionPublicKey }, { phone: p.phone })
                return
            }
            }
        } catch (e) {
            if (!(e instanceof PK.PasskeyError)) throw e
            this.passkey = null
            this.mock.log(`conn ${this.id}: passkey ceremony refused at ${step}: ${e.message}`)
            this.mock.emit({ type: 'passkey-refused', conn: this.id, step, reason: e.message })
            this.send({ tag: 'iq', attrs: { from: SERVER_JID, id, type: 'error' }, content: [{ tag: 'error', attrs: { code: '401', text: 'not-authorized' } }] })
        }
    }

    // The person typed `code` into the phone: unwrap the companion's key,
    // answer with ours.  A wrong code is not noticed here (CTR has no tag);
    // it shows when the companion's key bundle does not decrypt.
    async enterCode(code) {
        const p = this.codePairing
        const companionEphemeral = await unwrapEphemeral(code, p.wrapped)
        const primaryEphemeral = B.Curve.generateKeyPair()
        const account = this.mock.accountFor(p.phone)
        Object.assign(p, { stage: 'primary_hello', companionEphemeral, primaryEphemeral })
        this.send({ tag: 'notification', attrs: { from: SERVER_JID, id: this.mock.iqId(), type: 'link_code_companion_reg', t: String(this.mock.nowSeconds()) },
            content: [{ tag: 'link_code_companion_reg', attrs: { stage: 'primary_hello' }, content: [
                { tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(p.ref) },
                { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: await wrapEphemeral(code, primaryEphemeral.public) },
                { tag: 'primary_identity_pub', attrs: {}, content: account.key.public },
            ] }] })
        this.mock.log(`conn ${this.id}: phone ${p.phone} entered a pairing code`)
        this.mock.emit({ type: 'pair-code-entered', conn: this.id, phone: p.phone, account_key: account.key.public.toString('hex') })
        return { conn: this.id, phone: p.phone }
    }

    result(id, content) {
        const n = { tag: 'iq', attrs: { from: SERVER_JID, id, type: 'result' } }
        if (content) n.content = content
        return n
    }

    deviceKey() { return `${this.client.username}:${this.client.device}` }

    answerPrekeyCount(id) {
        const n = this.mock.prekeys.get(this.deviceKey())?.size ?? 0
        this.send(this.result(id, [{ tag: 'count', attrs: { value: String(n) } }]))
    }

    // A bad upload gets an error answer (the connection stays), a log line
    // and an event naming what was wrong.
    onPrekeyUpload(node) {
        const id = node.attrs.id
        let up
        try {
            up = readPrekeyUpload(node, { identity: this.mock.devices.get(this.deviceKey())?.identity ?? null })
        } catch (e) {
            if (!(e instanceof UploadError)) throw e
            this.mock.log(`conn ${this.id}: prekey upload refused: ${e.message}`)
            this.mock.emit({ type: 'prekeys-refused', conn: this.id, reason: e.message })
            return this.send({ tag: 'iq', attrs: { from: SERVER_JID, id, type: 'error' }, content: [{ tag: 'error', attrs: { code: '406', text: 'not-acceptable' } }] })
        }
        // The world keeps the whole bundle (contacts start sessions from it);
        // the count is what is left of its one-time pre-keys.
        this.mock.world.storeUpload(this.deviceKey(), up)
        const store = this.mock.world.bundles.get(this.deviceKey()).keys
        this.mock.prekeys.set(this.deviceKey(), store)
        this.mock.emit({ type: 'prekeys-uploaded', conn: this.id, count: up.keys.length, total: store.size,
            registration_id: up.registrationId, identity: up.identity.toString('hex'), signed_prekey_id: up.signedPreKey.id })
        this.send(this.result(id))
    }

    // The phone scanned our QR: vouch for the companion's identity key.
    scan(qr, { phone, platform, tamper }) {
        if (!qr.noise.equals(this.client.noiseKey)) throw new HttpError(409, 'the QR noise key is not the one this connection presented')
        if (!qr.identity.equals(this.client.identity)) throw new HttpError(409, 'the QR identity key is not the one this connection registered')
        this.mock.log(`conn ${this.id}: phone ${phone} scanned the QR${tamper ? ` (tampered: ${tamper})` : ''}`)
        const account = this.mock.accountFor(phone)
        if (account.passkey) return this.requestPasskey(qr, phone, account)
        return this.sendPairSuccess(qr, { phone, platform, tamper })
    }

    // <pair-success> for the companion whose identity and adv secret are in
    // `keys`; its answer comes to onPairAnswer.
    sendPairSuccess(keys, { phone, platform = 'android', tamper = null }) {
        const qr = keys
        const account = this.mock.accountFor(phone)
        const device = account.nextDevice++
        const keyIndex = account.nextKeyIndex++
        const jid = `${phone}:${device}@s.whatsapp.net`, lid = `${account.lid}:${device}@lid`
        const iqId = this.mock.iqId()
        const built = buildPairSuccess({ iqId, qr, account: account.key, jid, lid, keyIndex, now: this.mock.nowSeconds(), platform, tamper })
        this.pairing = { iqId, qr, account: account.key, phone, device, jid, lid, keyIndex, details: built.details, accountSignature: built.accountSignature }
        this.send(built.stanza)
        const ev = { conn: this.id, iq_id: iqId, jid, lid, key_index: keyIndex, account_key: account.key.public.toString('hex') }
        this.mock.emit({ type: 'pair-success-sent', ...ev })
        return ev
    }

    onPairAnswer(node) {
        const p = this.pairing
        this.pairing = null
        if (node.attrs.type === 'error') {
            const err = child(node, 'error')
            this.mock.log(`conn ${this.id}: the companion refused pair-success (${err?.attrs.code} ${err?.attrs.text})`)
            this.mock.emit({ type: 'pair-rejected', conn: this.id, code: err?.attrs.code ?? null, text: err?.attrs.text ?? null })
            return
        }
        try {
            checkPairDeviceSign(node, { details: p.details, accountSignature: p.accountSignature, account: p.account,
                identity: p.qr.identity, keyIndex: p.keyIndex })
        } catch (e) {
            if (e instanceof PairingError) throw new Refusal(`pair-device-sign refused: ${e.message}`)
            throw e
        }
        this.mock.devices.set(`${p.phone}:${p.device}`, { identity: p.qr.identity, noiseKey: p.qr.noise })
        this.mock.emit({ type: 'paired', conn: this.id, jid: p.jid, lid: p.lid })
        // As WhatsApp does: the companion must come back with a login.
        this.sendStreamError('515')
    }

    // Encodes, encrypts and frames each node; `compress` sets the zlib flag,
    // `split` cuts the bytes into WebSocket messages of that many bytes, and
    // several nodes go out in one WebSocket message unless split.
    send(nodes, { compress = false, split = 0, tcp = 0 } = {}) {
        if (this.state !== 'open') throw new Error(`connection ${this.id} is ${this.state}`)
        const list = Array.isArray(nodes) ? nodes : [nodes]
        const bytes = Buffer.concat(list.map(n => {
            this.mock.emit({ type: 'sent', conn: this.id, tag: n.tag, node: nodeToJson(n) })
            return frame(this.transport.encrypt(encodeStanza(n, { compress })))
        }))
        return this.sendMessages(bytes, split, tcp)
    }

    // `bytes` as WebSocket messages of `split` bytes (0: one message);
    // with `tcp`, made here as WebSocket frames and written `tcp` bytes per
    // socket write, each after the last one left (a reader sees them apart).
    sendMessages(bytes, split = 0, tcp = 0) {
        const parts = []
        if (split > 0) for (let i = 0; i < bytes.length; i += split) parts.push(bytes.subarray(i, i + split))
        else parts.push(bytes)
        if (tcp > 0) return this.paceWrites(Buffer.concat(parts.map(wsFrame)), tcp)
        for (const p of parts) this.wsSend(p)
        return Promise.resolve()
    }

    // What goes out through ws waits while a paced write is under way, so
    // that nothing lands in the middle of its frames.
    wsSend(bytes) {
        if (this.paced) this.held.push(bytes)
        else this.ws.send(bytes)
    }

    paceWrites(bytes, size) {
        const run = async () => {
            for (let i = 0; i < bytes.length && this.state !== 'closed'; i += size) {
                await new Promise(resolve => this.socket.write(bytes.subarray(i, i + size), () => resolve()))
                await new Promise(resolve => setTimeout(resolve, 1))
            }
        }
        const prev = this.paced ?? Promise.resolve()
        const mine = prev.then(run).catch(e => this.mock.log(`conn ${this.id}: paced write: ${e.message}`)).finally(() => {
            if (this.paced !== mine) return
            this.paced = null
            const held = this.held
            this.held = []
            for (const b of held) if (this.state !== 'closed') this.ws.send(b)
        })
        this.paced = mine
        return mine
    }

    // POST raw: hostile bytes at one layer (see the header).
    sendRaw({ bytes, layer, compress, split }) {
        let out
        if (layer === 'stanza') {
            const plain = compress ? Buffer.concat([Buffer.from([2]), zlib.deflateSync(bytes)]) : bytes
            out = frame(this.transport.encrypt(plain))
        } else if (layer === 'frame') out = frame(bytes)
        else out = bytes
        this.mock.emit({ type: 'raw-sent', conn: this.id, layer, bytes: out.length })
        if (layer === 'socket') return this.paceWrites(out, split > 0 ? split : out.length)
        return this.sendMessages(out, split)
    }

    sendFailure(reason) {
        this.send({ tag: 'failure', attrs: { reason: String(reason), location: 'lla' } })
        this.close(`failure ${reason}`)
    }

    sendStreamError(code) {
        const e = { tag: 'stream:error', attrs: {} }
        if (code === 'conflict') e.content = [{ tag: 'conflict', attrs: { type: 'replaced' } }]
        else if (code === '401') { e.attrs.code = '401'; e.content = [{ tag: 'conflict', attrs: { type: 'device_removed' } }] }
        else if (code === '515' || code === '503') e.attrs.code = code
        else throw new Error(`unknown stream error ${code} (515, 401, conflict or 503)`)
        this.send(e)
        this.close(`stream error ${code}`)
    }

    close(why) {
        if (this.state === 'closed') return
        this.state = 'closed'
        this.mock.log(`conn ${this.id}: closing (${why})`)
        this.ws.close(1000)
    }

    drop() {
        if (this.state === 'closed') return
        this.state = 'closed'
        this.mock.log(`conn ${this.id}: dropping the socket`)
        this.ws.terminate()
    }

    // WhatsApp's server hangs up without explaining; our log line says why.
    refuse(reason) {
        if (this.state === 'closed') return
        this.mock.log(`conn ${this.id}: refused: ${reason}`)
        this.mock.emit({ type: 'refused', conn: this.id, reason })
        this.state = 'closed'
        this.ws.terminate()
    }
}

// The record carries public material only (no noise key beyond its public half).
function publicClient(c) {
    const hex = b => Buffer.from(b).toString('hex')
    const out = { ...c, noiseKey: c.noiseKey && hex(c.noiseKey) }
    if (c.kind === 'registration') {
        out.identity = hex(c.identity)
        out.buildHash = hex(c.buildHash)
        out.signedPreKey = { id: c.signedPreKey.id, public: hex(c.signedPreKey.public), signature: hex(c.signedPreKey.signature) }
    }
    return out
}

export class MockServer {
    constructor({ rootKey = B.Curve.generateKeyPair(), maxFrame = DEFAULT_MAX_FRAME, log = m => process.stderr.write(`mock-wa: ${m}\n`),
        now = () => Date.now() } = {}) {
        this.root = rootKey
        this.serverStatic = B.Curve.generateKeyPair()
        this.maxFrame = maxFrame
        this.log = log
        this.now = now
        this.chainVariant = 'valid'
        this.helloVariant = 'valid'
        this.events = []
        this.waiters = new Set()
        this.connections = new Map()
        this.nextConn = 1
        this.iqCounter = 0
        this.answerPings = true
        this.losing = null // POST lose: {count, id, retry, conn} while armed
        this.loginFailure = null
        // Clients older than this get <failure reason="405"> while enforced.
        this.currentVersion = DEFAULT_CURRENT_VERSION
        this.enforceVersion = false
        this.accounts = new Map() // phone number -> the phone's account key and LID
        this.devices = new Map() // "phone:device" -> what pairing registered
        this.prekeys = new Map() // "phone:device" -> id -> public key uploaded
        this.world = new World(this) // contacts, groups, our phone, uploaded bundles
        this.messaging = new Messaging(this)
        this.media = new MediaServer(this) // media_conn, uploads, downloads, media retries
        this.history = new History(this) // history sync chunks from our phone
        this.http = http.createServer((req, res) => this.onControl(req, res))
        this.wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 25, perMessageDeflate: false })
        this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head))
    }

    nowSeconds() { return Math.floor(this.now() / 1000) }
    iqId() { return `mock.${++this.iqCounter}` }
    // A stable, made-up LID per phone number, 15 digits like real ones.
    lidFor(username) { return String(100000000000000n + (BigInt(username) * 7919n) % 899999999999999n) }
    accountFor(phone) {
        if (!this.accounts.has(phone))
            this.accounts.set(phone, { key: B.Curve.generateKeyPair(), lid: this.lidFor(phone), nextDevice: 1, nextKeyIndex: 1, passkey: null })
        return this.accounts.get(phone)
    }
    // A stanza for our companions: to `conn` when named, else to every live
    // logged-in companion of our account.  -> how many got it.
    sendToOurs(body, node) {
        if (body.conn !== undefined) { this.target(body).send(node); return 1 }
        const me = this.messaging.ourPhoneOf(body)
        const live = [...this.connections.values()].filter(c => c.state === 'open' && c.client?.kind === 'login' && c.client.username === me)
        for (const c of live) c.send(node)
        return live.length
    }

    // Who made a group change: `author` (a member's phone) or our own phone
    // (we are the group's admin), in the group's addressing mode.
    groupAuthor(g, body) {
        const lid = g.addressingMode === 'lid'
        if (body.author !== undefined) {
            const c = this.world.requireContact(String(body.author))
            return lid ? `${c.lid}@lid` : `${c.phone}@s.whatsapp.net`
        }
        const me = this.messaging.ourPhoneOf(body)
        return lid ? `${this.lidFor(me)}@lid` : `${me}@s.whatsapp.net`
    }

    // <notification type="w:gp2" from=<group> participant=<author>> with the changes.
    groupNotification(g, body, changes) {
        return { tag: 'notification', attrs: { from: g.jid, id: this.iqId(), t: String(this.nowSeconds()), type: 'w:gp2', participant: this.groupAuthor(g, body),
            ...(g.addressingMode === 'lid' ? { addressing_mode: 'lid' } : {}) }, content: changes }
    }

    // <notification type="devices"> for a contact's changed device list:
    // one <add>/<remove> per device, each with the new list's hash.
    devicesNotification(c, before, after) {
        const jids = after.map(id => ({ user: c.phone, device: id, server: 's.whatsapp.net' }))
        const lids = after.map(id => ({ user: c.lid, device: id, server: 'lid' }))
        const hash = participantHash(jids), lidHash = participantHash(lids)
        const dj = (u, d, srv) => d ? `${u}:${d}@${srv}` : `${u}@${srv}`
        const changes = [...after.filter(d => !before.includes(d)).map(d => ['add', d]), ...before.filter(d => !after.includes(d)).map(d => ['remove', d])]
        return { tag: 'notification', attrs: { from: `${c.phone}@s.whatsapp.net`, lid: `${c.lid}@lid`, id: this.iqId(), t: String(this.nowSeconds()), type: 'devices' },
            content: changes.map(([tag, d]) => ({ tag, attrs: { device_hash: hash, device_lid_hash: lidHash }, content: [
                { tag: 'device', attrs: { jid: dj(c.phone, d, 's.whatsapp.net'), lid: dj(c.lid, d, 'lid'), ...(tag === 'add' && d ? { 'key-index': String(c.devices.get(d).keyIndex) } : {}) } },
                ...(tag === 'add' ? [this.world.keyIndexList(c)] : [])] })) }
    }

    // The open connection of a logged-in companion ("phone:device").
    liveConnection(key) {
        return [...this.connections.values()].filter(c => c.state === 'open' && c.client?.kind === 'login' && c.deviceKey() === key).at(-1) ?? null
    }

    currentChain() { return makeCertChain({ root: this.root, serverStatic: this.serverStatic, now: this.nowSeconds(), variant: this.chainVariant }) }

    listen(port = 0, host = '127.0.0.1') {
        return new Promise((resolve, reject) => {
            this.http.once('error', reject)
            this.http.listen(port, host, () => {
                const { port: p } = this.http.address()
                this.port = p
                resolve({ url: `ws://${host}:${p}/ws/chat`, control: `http://${host}:${p}/control/`, root_key: this.root.public.toString('hex') })
            })
        })
    }

    // A second listener with TLS (the same WebSocket service and web page,
    // for wss:// clients that check a certificate); control stays plain.
    listenTls({ cert, key }, port = 0, host = '127.0.0.1') {
        this.https = https.createServer({ cert, key }, (req, res) => this.onControl(req, res))
        this.https.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head))
        return new Promise((resolve, reject) => {
            this.https.once('error', reject)
            this.https.listen(port, host, () => {
                const { port: p } = this.https.address()
                this.tlsPort = p
                resolve({ wss_url: `wss://${host === '127.0.0.1' ? 'localhost' : host}:${p}/ws/chat`, tls_port: p })
            })
        })
    }

    close() {
        for (const w of this.waiters) w.finish(null)
        for (const c of this.connections.values()) c.drop()
        const closing = [new Promise(resolve => this.http.close(() => resolve()))]
        if (this.https) closing.push(new Promise(resolve => this.https.close(() => resolve())))
        return Promise.all(closing)
    }

    emit(ev) {
        const e = { seq: this.events.length + 1, at: this.now(), ...ev }
        this.events.push(e)
        for (const w of [...this.waiters]) if (matches(e, w.filter)) w.finish(e)
    }

    onUpgrade(req, socket, head) {
        const url = new URL(req.url, 'http://x')
        const deny = (status, why) => {
            this.log(`upgrade refused: ${why}`)
            this.emit({ type: 'refused', conn: null, reason: why })
            socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
        }
        if (url.pathname !== '/ws/chat') return deny('404 Not Found', `path ${url.pathname} is not /ws/chat`)
        if (req.headers.origin !== 'https://web.whatsapp.com') return deny('403 Forbidden', `Origin ${JSON.stringify(req.headers.origin ?? null)} is not https://web.whatsapp.com`)
        this.wss.handleUpgrade(req, socket, head, ws => {
            const id = this.nextConn++
            const c = new Connection(this, id, ws, req, new FrameReader({ maxFrame: HANDSHAKE_MAX_FRAME }), socket)
            this.connections.set(id, c)
            this.log(`conn ${id}: connected from ${c.remote}`)
            this.emit({ type: 'connected', conn: id, query: url.search })
            ws.on('message', (data, isBinary) => c.onMessage(data, isBinary))
            ws.on('error', e => this.log(`conn ${id}: socket error ${e.message}`))
            ws.on('close', code => {
                c.state = 'closed'
                this.emit({ type: 'closed', conn: id, code })
            })
        })
    }

    // The connection a control action acts on: `conn`, else the latest one.
    // Stanzas need a finished handshake; dropping needs only a socket.
    target(body, { stanzas = true } = {}) {
        const ok = c => stanzas ? c.state === 'open' : c.state !== 'closed'
        const want = stanzas ? 'past its handshake' : 'open'
        if (body.conn !== undefined) {
            const c = this.connections.get(Number(body.conn))
            if (!c) throw new HttpError(404, `no connection ${body.conn}`)
            if (!ok(c)) throw new HttpError(409, `connection ${body.conn} is not ${want} (${c.state})`)
            return c
        }
        const live = [...this.connections.values()].filter(ok)
        if (!live.length) throw new HttpError(409, `no connection ${want}`)
        return live[live.length - 1]
    }

    async onControl(req, res) {
        const reply = (status, obj) => {
            res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            res.end(JSON.stringify(obj) + '\n')
        }
        try {
            const url = new URL(req.url, 'http://x')
            const name = url.pathname.replace(/^\/control\//, '')
            if (url.pathname === '/' && req.method === 'GET') return this.servePage(res)
            if (url.pathname.startsWith('/mms/') || url.pathname.startsWith('/v/')) return await this.media.handle(req, res)
            if (!url.pathname.startsWith('/control/')) throw new HttpError(404, `no ${url.pathname}`)
            const q = Object.fromEntries(url.searchParams)
            if (req.method === 'GET') {
                if (name === 'events') return reply(200, { events: this.events.filter(e => matches(e, filterOf(q))) })
                if (name === 'connections') return reply(200, { connections: [...this.connections.values()].map(c => c.summary()) })
                if (name === 'media-plain') return reply(200, this.media.plain(String(q.id ?? '')))
                if (name === 'wait') {
                    const ev = await this.wait(filterOf(q), Number(q.timeout ?? 10000))
                    return ev ? reply(200, ev) : reply(504, { error: 'no such event before the timeout', filter: q })
                }
                throw new HttpError(404, `no GET ${name}`)
            }
            if (req.method !== 'POST') throw new HttpError(405, `${req.method} not allowed`)
            const body = await readJson(req)
            switch (name) {
            case 'stream-error': {
                const code = String(body.code)
                if (!['515', '401', 'conflict', '503'].includes(code)) throw new HttpError(400, `code ${code}: want 515, 401, conflict or 503`)
                const c = this.target(body)
                c.sendStreamError(code)
                return reply(200, { conn: c.id, sent: code })
            }
            case 'failure': {
                const c = this.target(body)
                c.sendFailure(Number(body.reason ?? 405))
                return reply(200, { conn: c.id })
            }
            case 'login-answer':
                this.loginFailure = body.failure == null ? null : Number(body.failure)
                return reply(200, { failure: this.loginFailure })
            case 'drop': {
                const c = this.target(body, { stanzas: false })
                c.drop()
                return reply(200, { conn: c.id })
            }
            case 'lose': {
                const count = Number(body.count ?? 1)
                if (!Number.isInteger(count) || count < 0) throw new HttpError(400, 'count: a whole number')
                if (body.id !== undefined && (typeof body.id !== 'string' || !body.id)) throw new HttpError(400, 'id: a message id')
                if (body.retry !== undefined && typeof body.retry !== 'boolean') throw new HttpError(400, 'retry must be true or false')
                if (body.conn !== undefined && !this.connections.has(Number(body.conn))) throw new HttpError(404, `no connection ${body.conn}`)
                this.losing = count ? { count, id: body.id, retry: !!body.retry, conn: body.conn === undefined ? undefined : Number(body.conn) } : null
                return reply(200, { count, id: body.id ?? null, retry: !!body.retry, conn: body.conn === undefined ? null : Number(body.conn) })
            }
            case 'pings':
                if (typeof body.answer !== 'boolean') throw new HttpError(400, 'answer must be true or false')
                this.answerPings = body.answer
                return reply(200, { answer: this.answerPings })
            case 'send': {
                const c = this.target(body)
                let nodes
                try { nodes = (body.nodes ?? [body.node]).map(nodeFromJson) } catch (e) { throw new HttpError(400, e.message) }
                const split = Number(body.split ?? 0), tcp = Number(body.tcp ?? 0)
                if (!Number.isInteger(split) || split < 0 || !Number.isInteger(tcp) || tcp < 0) throw new HttpError(400, 'split and tcp: whole numbers of bytes')
                await c.send(nodes, { compress: !!body.compress, split, tcp })
                return reply(200, { conn: c.id, sent: nodes.length })
            }
            case 'raw': {
                const layers = ['stanza', 'frame', 'stream', 'socket']
                if (!layers.includes(body.layer)) throw new HttpError(400, `layer: one of ${layers.join(', ')}`)
                let bytes
                if (typeof body.hex === 'string' && /^([0-9a-fA-F]{2})*$/.test(body.hex)) bytes = Buffer.from(body.hex, 'hex')
                else if (Number.isInteger(body.size) && body.size > 0 && body.size <= 64 << 20) bytes = Buffer.alloc(body.size, Number(body.fill ?? 0))
                else throw new HttpError(400, 'hex (an even number of hex digits) or size (1..64 MiB) with fill')
                const split = Number(body.split ?? 0)
                if (!Number.isInteger(split) || split < 0) throw new HttpError(400, 'split: a whole number of bytes')
                const c = this.target(body, { stanzas: body.layer === 'stanza' })
                await c.sendRaw({ bytes, layer: body.layer, compress: !!body.compress, split })
                return reply(200, { conn: c.id, layer: body.layer })
            }
            case 'scan': {
                let qr
                try { qr = parseQr(body.qr) } catch (e) { throw new HttpError(400, e.message) }
                const phone = String(body.phone ?? '15551234567')
                if (!/^[1-9]\d{6,14}$/.test(phone)) throw new HttpError(400, `phone ${phone}: digits only, no +`)
                if (body.tamper != null && !['hmac', 'account-signature'].includes(body.tamper)) throw new HttpError(400, 'tamper: hmac or account-signature')
                const c = [...this.connections.values()].find(x => x.state === 'open' && x.refs.includes(qr.ref))
                if (!c) throw new HttpError(404, 'no open connection showed that ref')
                return reply(200, c.scan(qr, { phone, platform: body.platform ?? 'android', tamper: body.tamper ?? null }))
            }
            case 'enter-code': {
                let code
                try { code = normalizeCode(body.code ?? '') } catch (e) { throw new HttpError(400, e.message) }
                const waiting = c => c.state === 'open' && c.codePairing?.stage === 'hello' && (body.conn === undefined || c.id === Number(body.conn))
                const c = [...this.connections.values()].filter(waiting).at(-1)
                if (!c) throw new HttpError(409, 'no connection is waiting for a pairing code')
                return reply(200, await c.enterCode(code))
            }
            case 'account': {
                const phone = String(body.phone ?? '')
                if (!/^[1-9]\d{6,14}$/.test(phone)) throw new HttpError(400, `phone ${phone}: digits only, no +`)
                const account = this.accountFor(phone)
                const out = { phone, account_key: account.key.public.toString('hex'), lid: account.lid, passkey: null }
                if (body.passkey === true) {
                    account.passkey = PK.makePasskey()
                    // For the test's software authenticator only.
                    out.passkey = { credential_id: account.passkey.credentialId.toString('base64url'), private_jwk: account.passkey.privateJwk }
                } else if (body.passkey === false) account.passkey = null
                return reply(200, out)
            }
            case 'expire-passkey': {
                const c = [...this.connections.values()].filter(x => x.state === 'open' && x.passkey && (body.conn === undefined || x.id === Number(body.conn))).at(-1)
                if (!c) throw new HttpError(409, 'no passkey ceremony under way')
                c.passkey.expired = true
                return reply(200, { conn: c.id })
            }
            case 'version': {
                if (body.current !== undefined) {
                    if (!/^\d+\.\d+\.\d+$/.test(String(body.current))) throw new HttpError(400, 'current: a.b.c')
                    this.currentVersion = String(body.current)
                }
                if (body.enforce !== undefined) this.enforceVersion = !!body.enforce
                return reply(200, { current: this.currentVersion, enforce: this.enforceVersion })
            }
            case 'hello': {
                const variants = ['valid', ...HELLO_VARIANTS]
                if (!variants.includes(body.variant)) throw new HttpError(400, `variant: one of ${variants.join(', ')}`)
                this.helloVariant = body.variant
                return reply(200, { variant: this.helloVariant })
            }
            case 'cert':
                if (!CHAIN_VARIANTS.includes(body.variant)) throw new HttpError(400, `variant: one of ${CHAIN_VARIANTS.join(', ')}`)
                this.chainVariant = body.variant
                return reply(200, { variant: this.chainVariant })
            case 'contact': {
                const c = this.world.addContact(body)
                return reply(200, { pn: `${c.phone}@s.whatsapp.net`, lid: `${c.lid}@lid`, devices: [...c.devices.keys()] })
            }
            case 'contact-devices': {
                const c = this.world.requireContact(String(body.phone ?? ''))
                if (!Array.isArray(body.devices)) throw new HttpError(400, 'devices: a list of device ids')
                const before = [...c.devices.keys()]
                const hosted = Array.isArray(body.hosted) ? body.hosted.map(Number) : [...c.devices.values()].filter(d => d.hosted).map(d => d.id)
                this.world.addContact({ phone: c.phone, devices: body.devices, hosted, name: c.name, requires_token: c.requiresToken })
                const after = [...c.devices.keys()]
                const sent = body.notify === false ? 0 : this.sendToOurs(body, this.devicesNotification(c, before, after))
                return reply(200, { devices: after, notified: sent })
            }
            case 'group': {
                const g = this.world.addGroup(body)
                return reply(200, { jid: g.jid })
            }
            case 'group-subject': {
                const g = this.world.renameGroup(body.jid, body.subject)
                const sent = this.sendToOurs(body, this.groupNotification(g, body, [{ tag: 'subject', attrs: { subject: g.subject, s_t: String(g.subjectTs), s_o: this.groupAuthor(g, body) } }]))
                return reply(200, { jid: g.jid, subject: g.subject, notified: sent })
            }
            case 'group-participants': {
                const g = this.world.requireGroup(body.jid)
                const { added, removed } = this.world.changeParticipants(g.jid, { add: body.add ?? [], remove: body.remove ?? [] })
                const changes = []
                if (removed.length) changes.push({ tag: 'remove', attrs: {}, content: removed.map(p => this.world.changeParticipant(g, p)) })
                if (added.length) changes.push({ tag: 'add', attrs: {}, content: added.map(p => this.world.changeParticipant(g, p)) })
                const sent = this.sendToOurs(body, this.groupNotification(g, body, changes))
                return reply(200, { jid: g.jid, added, removed, participants: g.participants, notified: sent })
            }
            case 'new-identity': {
                const c = this.world.newIdentity(body.phone)
                if (body.addressing !== undefined && !['lid', 'pn'].includes(body.addressing)) throw new HttpError(400, 'addressing: lid or pn')
                const from = body.addressing === 'pn' ? `${c.phone}@s.whatsapp.net` : `${c.lid}@lid`
                const sent = body.notify === false ? 0 : this.sendToOurs(body, { tag: 'notification', attrs: { from, id: this.iqId(), t: String(this.nowSeconds()), type: 'encrypt' },
                    content: [{ tag: 'identity', attrs: {} }] })
                return reply(200, { pn: `${c.phone}@s.whatsapp.net`, lid: `${c.lid}@lid`, devices: [...c.devices.keys()], notified: sent })
            }
            case 'message':
                return reply(200, await this.messaging.fromWorld(body))
            case 'peer-message':
                return reply(200, await this.messaging.fromWorld(body, { peer: true }))
            case 'burst':
                return reply(200, await this.messaging.burst(body))
            case 'history':
                return reply(200, await this.history.send(body))
            case 'phone-history':
                this.history.remember(body.conversations)
                return reply(200, { chats: this.history.phoneChats.size })
            case 'receipt': {
                const node = this.messaging.receiptFromWorld(body)
                this.sendToOurs(body, node)
                return reply(200, { id: node.attrs.id })
            }
            case 'retry': {
                const { node, count, key } = this.messaging.retryFromWorld(body)
                if (body.conn !== undefined) this.target(body).send(node)
                else {
                    // Queued for each companion of ours like the devices' own
                    // retry receipts: delivered again after a login until acked.
                    const me = this.messaging.ourPhoneOf(body)
                    for (const dev of this.messaging.companions(me)) this.messaging.deliverStanza(`${me}:${dev}`, key, node)
                }
                return reply(200, { id: node.attrs.id, count })
            }
            case 'forget-session':
                return reply(200, this.messaging.forgetSession(body))
            case 'privacy-token': {
                const c = this.world.requireContact(String(body.phone ?? ''))
                if (body.token_hex !== undefined && !/^([0-9a-fA-F]{2}){8,}$/.test(String(body.token_hex))) throw new HttpError(400, 'token_hex: at least 8 bytes of hex')
                const t = Number(body.t ?? this.nowSeconds())
                c.token = { bytes: body.token_hex ? Buffer.from(body.token_hex, 'hex') : crypto.randomBytes(32), t }
                const me = this.messaging.ourPhoneOf(body)
                this.sendToOurs(body, { tag: 'notification', attrs: { from: `${c.phone}@s.whatsapp.net`, sender_lid: `${c.lid}@lid`, id: this.iqId(), t: String(t), type: 'privacy_token' },
                    content: [{ tag: 'tokens', attrs: {}, content: [{ tag: 'token', attrs: { jid: `${me}@s.whatsapp.net`, t: String(t), type: 'trusted_contact' }, content: c.token.bytes }] }] })
                return reply(200, { token_hex: c.token.bytes.toString('hex'), t })
            }
            case 'nct-salt': {
                // The salt our account's cstoken is keyed with (HistorySync nctSalt).
                if (!/^([0-9a-fA-F]{2}){16,}$/.test(String(body.salt_hex ?? ''))) throw new HttpError(400, 'salt_hex: at least 16 bytes of hex')
                for (const c of this.world.contacts.values()) c.nctSalt = Buffer.from(body.salt_hex, 'hex')
                return reply(200, {})
            }
            case 'restriction': {
                const ops = { reachout_timelock: ['NotificationUserReachoutTimelockUpdate', 'xwa2_notify_account_reachout_timelock'],
                    new_chat_capping: ['MessageCappingInfoNotification', 'xwa2_notify_new_chat_messages_capping_info_update'] }
                const op = ops[body.kind]
                if (!op) throw new HttpError(400, 'kind: reachout_timelock or new_chat_capping')
                const payload = body.kind === 'reachout_timelock'
                    ? { is_active: body.active !== false, enforcement_type: body.enforcement_type ?? 'DEFAULT', ...(body.ends ? { time_enforcement_ends: String(body.ends) } : {}) }
                    : { capping_status: body.state ?? 'FIRST_WARNING', used_quota: Number(body.used ?? 0), total_quota: Number(body.total ?? 0),
                        ...(body.ends ? { cycle_end_timestamp: String(body.ends) } : {}) }
                const node = { tag: 'notification', attrs: { from: SERVER_JID, id: this.iqId(), t: String(this.nowSeconds()), type: 'mex' },
                    content: [{ tag: 'update', attrs: { op_name: op[0] }, content: Buffer.from(JSON.stringify({ data: { [op[1]]: payload } })) }] }
                this.sendToOurs(body, node)
                return reply(200, { op_name: op[0] })
            }
            case 'encrypt-count': {
                const n = Number(body.count)
                if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'count: a whole number')
                this.sendToOurs(body, { tag: 'notification', attrs: { from: SERVER_JID, id: this.iqId(), t: String(this.nowSeconds()), type: 'encrypt' },
                    content: [{ tag: 'count', attrs: { value: String(n) } }] })
                return reply(200, { count: n })
            }
            case 'ack-policy':
                return reply(200, this.messaging.setAckPolicy(body))
            case 'media-conn': case 'media-expire': case 'media-fail': case 'media-serve': case 'media-serve-release': case 'media-retry-answer':
                return reply(200, this.media.control(name, body))
            default:
                throw new HttpError(404, `no POST ${name}`)
            }
        } catch (e) {
            if (e instanceof HttpError) return reply(e.status, { error: e.message })
            if (e instanceof WorldError) return reply(400, { error: e.message })
            if (e instanceof MediaError) return reply(e.status, { error: e.message })
            this.log(`control: ${e.stack || e}`)
            return reply(500, { error: String(e.message || e) })
        }
    }

    // What web.whatsapp.com's page tells a client about the current build: the
    // one fact clients scrape from it is "client_revision":N (waweb.md 1.6).
    servePage(res) {
        const revision = Number(this.currentVersion.split('.')[2])
        this.emit({ type: 'version-page', revision })
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        res.end(`<!DOCTYPE html><html><head><title>WhatsApp</title></head><body><script>` +
            `self.__SERVER_DATA={"client_revision":${revision},"server_revision":${revision}};</script></body></html>\n`)
    }

    // POST lose: whether the stanza `node` that `conn` just sent is one of
    // those to lose; if so it is counted and recorded, and goes no further.
    loses(conn, node) {
        const l = this.losing
        if (!l || node.tag !== 'message') return false
        const id = node.attrs?.id ?? null
        const retry = isRetryResend(node)
        if ((l.conn !== undefined && l.conn !== conn.id) || (l.id !== undefined && l.id !== id) || (l.retry && !retry)) return false
        if (--l.count === 0) this.losing = null
        this.log(`conn ${conn.id}: message ${id}${retry ? ' (a retry resend)' : ''} lost, as asked`)
        this.emit({ type: 'lost', conn: conn.id, id, retry, node: nodeToJson(node) })
        return true
    }

    wait(filter, timeout) {
        const hit = this.events.find(e => matches(e, filter))
        if (hit) return Promise.resolve(hit)
        return new Promise(resolve => {
            const w = { filter, finish: ev => { clearTimeout(w.timer); this.waiters.delete(w); resolve(ev) } }
            w.timer = setTimeout(() => w.finish(null), timeout)
            this.waiters.add(w)
        })
    }
}

// A retry resend (waweb.md 1.17): <enc> nodes, at any depth, each with count.
function isRetryResend(node) {
    const encs = []
    const walk = n => {
        if (n.tag === 'enc') encs.push(n)
        else if (Array.isArray(n.content)) n.content.forEach(walk)
    }
    walk(node)
    return encs.length > 0 && encs.every(e => e.attrs?.count !== undefined)
}

// One unmasked, final binary WebSocket frame (RFC 6455 5.2), server to client.
function wsFrame(payload) {
    let head
    if (payload.length < 126) head = Buffer.from([0x82, payload.length])
    else if (payload.length < 65536) { head = Buffer.alloc(4); head[0] = 0x82; head[1] = 126; head.writeUInt16BE(payload.length, 2) }
    else { head = Buffer.alloc(10); head[0] = 0x82; head[1] = 127; head.writeBigUInt64BE(BigInt(payload.length), 2) }
    return Buffer.concat([head, payload])
}

function compareVersions(a, b) {
    const x = a.split('.').map(Number), y = b.split('.').map(Number)
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1
    return 0
}

class HttpError extends Error {
    constructor(status, msg) { super(msg); this.status = status }
}

const filterOf = q => ({ since: Number(q.since ?? 0), type: q.type, conn: q.conn === undefined ? undefined : Number(q.conn), tag: q.tag, id: q.id })

const matches = (e, f) => e.seq > f.since && (f.type === undefined || e.type === f.type) &&
    (f.conn === undefined || e.conn === f.conn) && (f.tag === undefined || e.tag === f.tag) && (f.id === undefined || e.id === f.id)

function readJson(req) {
    return new Promise((resolve, reject) => {
        const parts = []
        let size = 0
        req.on('data', d => {
            size += d.length
            if (size > 1 << 22) { reject(new HttpError(413, 'body over 4 MiB')); req.destroy() } else parts.push(d)
        })
        req.on('end', () => {
            const text = Buffer.concat(parts).toString()
            if (!text) return resolve({})
            try { resolve(JSON.parse(text)) } catch (e) { reject(new HttpError(400, `body is not JSON: ${e.message}`)) }
        })
        req.on('error', reject)
    })
}

function parseArgs(argv) {
    const opts = { port: 0, rootKeyOut: null, rootPrivate: null, maxFrame: DEFAULT_MAX_FRAME }
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], v = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
            return argv[++i]
        }
        if (a === '--port') opts.port = Number(v())
        else if (a === '--root-key-out') opts.rootKeyOut = v()
        else if (a === '--root-private') opts.rootPrivate = v()
        else if (a === '--max-frame') opts.maxFrame = Number(v())
        else if (a === '--tls-cert') opts.tlsCert = v()
        else if (a === '--tls-key') opts.tlsKey = v()
        else if (a === '--media-host') opts.mediaHost = v()
        else throw new Error(`unknown argument ${a}`)
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port: 0..65535')
    if (!Number.isInteger(opts.maxFrame) || opts.maxFrame < 1 || opts.maxFrame >= 1 << 24) throw new Error('--max-frame: 1..16777215')
    if (opts.rootPrivate !== null && !/^[0-9a-fA-F]{64}$/.test(opts.rootPrivate)) throw new Error('--root-private: 64 hex digits')
    if (!opts.tlsCert !== !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together')
    if (opts.mediaHost !== undefined && !/^[A-Za-z0-9.-]+$/.test(opts.mediaHost)) throw new Error('--media-host: a host name or address, no port')
    return opts
}

function rootFromPrivate(hex) {
    const priv = Buffer.from(hex, 'hex')
    priv[0] &= 248; priv[31] &= 127; priv[31] |= 64
    const pub = crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]), format: 'der', type: 'pkcs8' })
    return { private: priv, public: pub.export({ format: 'der', type: 'spki' }).subarray(-32) }
}

async function main() {
    let opts
    try { opts = parseArgs(process.argv.slice(2)) } catch (e) {
        process.stderr.write(`mock-wa: ${e.message}\n`)
        process.exit(2)
    }
    const mock = new MockServer({ rootKey: opts.rootPrivate ? rootFromPrivate(opts.rootPrivate) : undefined, maxFrame: opts.maxFrame })
    if (opts.mediaHost) mock.media.hostName = opts.mediaHost
    const where = await mock.listen(opts.port)
    if (opts.tlsCert) {
        try {
            Object.assign(where, await mock.listenTls({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }))
        } catch (e) {
            process.stderr.write(`mock-wa: TLS: ${e.message}\n`)
            process.exit(2)
        }
    }
    where.media_hosts = mock.media.hosts()
    if (opts.rootKeyOut) fs.writeFileSync(opts.rootKeyOut, where.root_key + '\n')
    const stop = () => mock.close().then(() => process.exit(0))
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.stdout.write(`ready ${JSON.stringify(where)}\n`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
