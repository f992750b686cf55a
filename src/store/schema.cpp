#include "schema.hpp"

#include <array>
#include <string>
#include <string_view>

namespace chatwoot::store {

namespace {

// Append only: a released step never changes, a new one goes at the end.
constexpr std::array<std::string_view, 17> kMigrations = {
    // 1: what workers hand to the helper, kept verbatim.  (ring_epoch,
    // ring_seq) is the idempotency key of the peek-commit-pop protocol.
    R"sql(
    CREATE TABLE inbound_events (
        id           INTEGER PRIMARY KEY,
        ring_epoch   INTEGER NOT NULL,
        ring_seq     INTEGER NOT NULL,
        kind         INTEGER NOT NULL,
        received_at  INTEGER NOT NULL,
        payload      BLOB    NOT NULL,
        UNIQUE (ring_epoch, ring_seq)
    );
    )sql",

    // 2: Chatwoot's delivery id made durable (the shared-memory replay
    // filter forgets on restart), and the outbox: what agents asked us to
    // do on WhatsApp, once per Chatwoot message whatever Chatwoot resends.
    // The outbox points at the inbound row that holds the event rather than
    // copying it: every webhook would otherwise be written twice.
    R"sql(
    ALTER TABLE inbound_events ADD COLUMN delivery_id TEXT;
    CREATE UNIQUE INDEX inbound_events_delivery
        ON inbound_events (delivery_id) WHERE delivery_id IS NOT NULL;
    CREATE TABLE outbox (
        id                   INTEGER PRIMARY KEY,
        inbox                TEXT    NOT NULL,
        action               TEXT    NOT NULL
                             CHECK (action IN ('send', 'delete', 'status')),
        conversation_id      INTEGER NOT NULL,
        chatwoot_message_id  INTEGER,
        inbound_id           INTEGER NOT NULL REFERENCES inbound_events (id),
        state                TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'sent', 'failed')),
        created_at           INTEGER NOT NULL,
        UNIQUE (inbox, action, chatwoot_message_id)
    );
    CREATE INDEX outbox_pending
        ON outbox (inbox, created_at, id) WHERE state = 'pending';
    )sql",

    // 3: WhatsApp messages on their way into Chatwoot, once per WhatsApp
    // id, and what each chat is in Chatwoot (one owner for that mapping).
    R"sql(
    CREATE TABLE wa_inbound (
        id                   INTEGER PRIMARY KEY,
        inbox                TEXT    NOT NULL,
        wa_id                TEXT    NOT NULL,
        chat                 TEXT    NOT NULL,
        record               TEXT    NOT NULL,
        state                TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'posted', 'failed')),
        chatwoot_message_id  INTEGER,
        failure              TEXT,
        created_at           INTEGER NOT NULL,
        UNIQUE (inbox, wa_id)
    );
    CREATE INDEX wa_inbound_pending
        ON wa_inbound (inbox, chat, id) WHERE state = 'pending';
    CREATE TABLE chats (
        inbox            TEXT    NOT NULL,
        chat             TEXT    NOT NULL,
        contact_id       INTEGER,
        conversation_id  INTEGER,
        PRIMARY KEY (inbox, chat)
    );
    )sql",

    // 4: agent replies as WhatsApp messages: their WhatsApp ids, so that
    // the device's echo of our own send is not posted back into Chatwoot
    // and a deletion in Chatwoot can revoke the right message.
    R"sql(
    CREATE TABLE wa_sent (
        inbox                TEXT    NOT NULL,
        wa_id                TEXT    NOT NULL,
        chat                 TEXT    NOT NULL,
        chatwoot_message_id  INTEGER NOT NULL,
        sent_at              INTEGER NOT NULL,
        PRIMARY KEY (inbox, wa_id)
    );
    CREATE INDEX wa_sent_by_message ON wa_sent (inbox, chatwoot_message_id);
    )sql",
    // 5: how far back each inbox's agent replies were checked against
    // Chatwoot (start-up reconciliation), in unix seconds.
    R"sql(
    CREATE TABLE reconciliations (
        inbox            TEXT    PRIMARY KEY,
        reconciled_until INTEGER NOT NULL
    );
    )sql",

    // 6: the outbox as a state machine per entry.  An entry goes pending ->
    // in_flight (its WhatsApp id chosen and committed before the first
    // transmission, so a resend after a crash reuses it and recipients drop
    // the repeat) -> sent, or -> failing (the reason waits to be reported
    // to Chatwoot) -> failed once Chatwoot has it.  SQLite cannot widen a
    // CHECK in place: the table is made anew.  The checks are written with
    // OR: SQLite 3.40 evaluates "x IN (list)" in a CHECK by building a
    // temporary index for every row written.
    R"sql(
    CREATE TABLE outbox_v6 (
        id                   INTEGER PRIMARY KEY,
        inbox                TEXT    NOT NULL,
        action               TEXT    NOT NULL
                             CONSTRAINT outbox_action
                             CHECK (action = 'send' OR action = 'delete'
                                    OR action = 'status'),
        conversation_id      INTEGER NOT NULL,
        chatwoot_message_id  INTEGER,
        inbound_id           INTEGER NOT NULL REFERENCES inbound_events (id),
        state                TEXT    NOT NULL DEFAULT 'pending'
                             CONSTRAINT outbox_state
                             CHECK (state = 'pending' OR state = 'in_flight'
                                    OR state = 'failing' OR state = 'sent'
                                    OR state = 'failed'),
        created_at           INTEGER NOT NULL,
        wa_id                TEXT,
        attempts             INTEGER NOT NULL DEFAULT 0,
        next_attempt_at      INTEGER NOT NULL DEFAULT 0,
        failure              TEXT,
        UNIQUE (inbox, action, chatwoot_message_id)
    );
    INSERT INTO outbox_v6 (id, inbox, action, conversation_id,
                           chatwoot_message_id, inbound_id, state, created_at)
        SELECT id, inbox, action, conversation_id, chatwoot_message_id,
               inbound_id, state, created_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v6 RENAME TO outbox;
    CREATE INDEX outbox_unsettled
        ON outbox (inbox, id) WHERE state IN ('pending', 'in_flight', 'failing');
    )sql",

    // 7: what workers asked the helper to do (command records on the
    // ring), under the id the worker answered with, so that nothing asked
    // is lost and the client's poll finds what became of it.  The payload
    // is the record as the worker wrote it; one that could not be read is
    // kept too, as failed with the reason.
    R"sql(
    CREATE TABLE commands (
        id          TEXT    PRIMARY KEY,
        kind        TEXT    NOT NULL,
        payload     BLOB    NOT NULL,
        state       TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed')),
        reason      TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX commands_pending
        ON commands (created_at, id) WHERE state = 'pending';
    )sql",

    // 8: a small number per inbox name, stable for the store's life (an
    // INTEGER PRIMARY KEY survives VACUUM), for keys that must be per inbox
    // in a column of integers: a reconciled reply's inbound_events row is
    // keyed (-key, Chatwoot message id) instead of (0, message id), which
    // two inboxes on two Chatwoot installations could share.  Rows filed
    // under epoch 0 stay: their delivery ids still stop a re-filing.
    // And the dead letters: queued records the store refused for a reason
    // of their own (a constraint), kept verbatim with the error for the
    // operator, so that the rest of their batch commits and the ring
    // drains.  Keyed by ring position like inbound_events: a batch drained
    // again after a crash sets the same record aside once.  And the index
    // retention (retention.hpp) needs to delete inbound rows.
    R"sql(
    CREATE TABLE inbox_keys (
        id     INTEGER PRIMARY KEY,
        inbox  TEXT    NOT NULL UNIQUE
    );
    CREATE TABLE dead_letters (
        id           INTEGER PRIMARY KEY,
        ring_epoch   INTEGER NOT NULL,
        ring_seq     INTEGER NOT NULL,
        kind         INTEGER NOT NULL,
        received_at  INTEGER NOT NULL,
        payload      BLOB    NOT NULL,
        error        TEXT    NOT NULL,
        set_aside_at INTEGER NOT NULL,
        UNIQUE (ring_epoch, ring_seq)
    );
    -- Retention deletes inbound rows: each delete checks the outbox's
    -- foreign key, a full scan of the outbox without this index.
    CREATE INDEX outbox_by_inbound ON outbox (inbound_id);
    )sql",

    // 9: each WhatsApp device's keys and protocol state (signal_store.hpp),
    // keyed by the device's name (its inbox).  Everything here is secret or
    // private: no status page, log line or dead letter reads these tables.
    // wa_devices holds what a device has once: the Signal identity and
    // registration id, the Noise static key, the ADV signed identity (the
    // account's signature over this device, from pair-success), our own
    // JIDs, and the next pre-key id (pre-key ids are never reused, even
    // after the highest ones were consumed).  Keys are 32-byte BLOBs.
    // Signal's records are libsignal's own serialized blobs, keyed as
    // libsignal addresses them.  Pre-keys carry whether the server has
    // them.  The PN <-> LID map holds one row per person: a changed LID or
    // phone number replaces the stale row (both sides are unique).  The
    // key/value table takes the small facts (the last client version the
    // server accepted, edge routing info).  WITHOUT ROWID: every look-up is
    // by the primary key, which then holds the row itself.
    R"sql(
    CREATE TABLE wa_devices (
        device            TEXT    PRIMARY KEY,
        registration_id   INTEGER,
        identity_public   BLOB,
        identity_private  BLOB,
        noise_public      BLOB,
        noise_private     BLOB,
        adv_identity      BLOB,
        pn_jid            TEXT,
        lid_jid           TEXT,
        next_pre_key_id   INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE wa_pre_keys (
        device    TEXT    NOT NULL,
        id        INTEGER NOT NULL,
        record    BLOB    NOT NULL,
        uploaded  INTEGER NOT NULL DEFAULT 0
                  CONSTRAINT wa_pre_keys_uploaded
                  CHECK (uploaded = 0 OR uploaded = 1),
        PRIMARY KEY (device, id)
    ) WITHOUT ROWID;
    CREATE TABLE wa_signed_pre_keys (
        device  TEXT    NOT NULL,
        id      INTEGER NOT NULL,
        record  BLOB    NOT NULL,
        PRIMARY KEY (device, id)
    ) WITHOUT ROWID;
    CREATE TABLE wa_sessions (
        device     TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        device_id  INTEGER NOT NULL,
        record     BLOB    NOT NULL,
        PRIMARY KEY (device, name, device_id)
    ) WITHOUT ROWID;
    CREATE TABLE wa_sender_keys (
        device            TEXT    NOT NULL,
        group_id          TEXT    NOT NULL,
        sender_name       TEXT    NOT NULL,
        sender_device_id  INTEGER NOT NULL,
        record            BLOB    NOT NULL,
        PRIMARY KEY (device, group_id, sender_name, sender_device_id)
    ) WITHOUT ROWID;
    CREATE TABLE wa_identities (
        device        TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        device_id     INTEGER NOT NULL,
        identity_key  BLOB    NOT NULL,
        PRIMARY KEY (device, name, device_id)
    ) WITHOUT ROWID;
    CREATE TABLE wa_lid_map (
        device  TEXT  NOT NULL,
        pn      TEXT  NOT NULL,
        lid     TEXT  NOT NULL,
        PRIMARY KEY (device, pn),
        UNIQUE (device, lid)
    ) WITHOUT ROWID;
    CREATE TABLE wa_device_values (
        device  TEXT  NOT NULL,
        key     TEXT  NOT NULL,
        value   BLOB  NOT NULL,
        PRIMARY KEY (device, key)
    ) WITHOUT ROWID;
    )sql",

    // 10: stanzas a live device received and must act on later (messages
    // and retry receipts: decrypted by the messages layer), kept verbatim
    // as the binary node before the server's ack, so that an ack never
    // stands for something the store does not have.  One row per stanza
    // (the ack's addressing: tag, from, participant, id): a redelivery
    // after a crash before the ack adds nothing.  The messages layer takes
    // them in id order and deletes each with the commit of what it made
    // of it.
    R"sql(
    CREATE TABLE wa_stanzas (
        id           INTEGER PRIMARY KEY,
        device       TEXT    NOT NULL,
        stanza_key   TEXT    NOT NULL,
        tag          TEXT    NOT NULL,
        received_at  INTEGER NOT NULL,
        node         BLOB    NOT NULL,
        UNIQUE (device, stanza_key)
    );
    )sql",

    // 11: the messages layer (issue 10).
    //  - wa_stanzas rows are kept after they are handled (done_at set, in
    //    the unit of work that stores what came of them) for a while, so a
    //    redelivery of a stanza we already handled is acked and skipped,
    //    never decrypted twice; `receipt` is the delivery receipt owed for
    //    it (the type attribute, '' for a plain one): sent after the
    //    commit, cleared when it went, sent again after a crash.
    //  - wa_device_lists: each user's devices (usync), cached until a
    //    <notification type="devices"> or a phash mismatch drops the row;
    //    user is the JID without device ("<user>@<server>"), devices the
    //    ids, comma-separated, a hosted one suffixed "h".
    //  - wa_group_info: a group's addressing mode and participants (JSON),
    //    cached until a w:gp2 notification drops it.
    //  - wa_sender_key_holders: member devices that have our sender key for
    //    a group (an SKDM went to them): the rest get one with the next
    //    message.
    //  - wa_privacy_tokens: trusted-contact tokens, under the contact's LID
    //    user ("<lid>@lid"), with their timestamps; `issued` is when we last
    //    gave ours to them (waweb-2026.md 3).
    //  - wa_read_marks: per chat, the wa_inbound row up to which the
    //    contact's messages are marked read on WhatsApp (moves forward
    //    only), with an index for a chat's rows past its mark, and one for
    //    a conversation's chat (typing).
    //  - wa_recent_sends: the plaintext (Message protobuf) of what we sent,
    //    for a recipient's retry receipt, also after a restart; pruned
    //    after a bounded time (a rowid table: retention sweeps by rowid).
    R"sql(
    ALTER TABLE wa_stanzas ADD COLUMN done_at INTEGER;
    ALTER TABLE wa_stanzas ADD COLUMN receipt TEXT;
    CREATE INDEX wa_stanzas_todo ON wa_stanzas (device, id) WHERE done_at IS NULL;
    CREATE INDEX wa_stanzas_owed ON wa_stanzas (device, id) WHERE receipt IS NOT NULL;
    CREATE TABLE wa_device_lists (
        device      TEXT     NOT NULL,
        user        TEXT     NOT NULL,
        devices     TEXT     NOT NULL,
        fetched_at  INTEGER  NOT NULL,
        PRIMARY KEY (device, user)
    ) WITHOUT ROWID;
    CREATE TABLE wa_group_info (
        device      TEXT     NOT NULL,
        group_jid   TEXT     NOT NULL,
        info        TEXT     NOT NULL,
        fetched_at  INTEGER  NOT NULL,
        PRIMARY KEY (device, group_jid)
    ) WITHOUT ROWID;
    CREATE TABLE wa_sender_key_holders (
        device     TEXT  NOT NULL,
        group_jid  TEXT  NOT NULL,
        member     TEXT  NOT NULL,
        PRIMARY KEY (device, group_jid, member)
    ) WITHOUT ROWID;
    CREATE TABLE wa_privacy_tokens (
        device    TEXT     NOT NULL,
        lid       TEXT     NOT NULL,
        token     BLOB     NOT NULL,
        t         INTEGER  NOT NULL,
        sender_t  INTEGER,
        issued    INTEGER,
        PRIMARY KEY (device, lid)
    ) WITHOUT ROWID;
    CREATE TABLE wa_read_marks (
        inbox       TEXT     NOT NULL,
        chat        TEXT     NOT NULL,
        read_up_to  INTEGER  NOT NULL,
        PRIMARY KEY (inbox, chat)
    ) WITHOUT ROWID;
    CREATE INDEX wa_inbound_by_chat ON wa_inbound (inbox, chat, id);
    CREATE INDEX chats_by_conversation ON chats (inbox, conversation_id);
    CREATE TABLE wa_recent_sends (
        device   TEXT     NOT NULL,
        id       TEXT     NOT NULL,
        chat     TEXT     NOT NULL,
        message  BLOB     NOT NULL,
        sent_at  INTEGER  NOT NULL,
        PRIMARY KEY (device, id)
    );
    CREATE INDEX wa_recent_sends_age ON wa_recent_sends (device, sent_at);
    )sql",

    // 12: the forwarder finds the chats with pending WhatsApp messages in
    // the order of their oldest one by reading pending rows in id order and
    // stopping once it has enough chats; grouping every pending row by chat
    // for that was a quarter of the helper's time under a burst.
    R"sql(
    CREATE INDEX wa_inbound_pending_order ON wa_inbound (inbox, id) WHERE state = 'pending';
    )sql",

    // 13: an agent's reply with attachments goes to WhatsApp as one message
    // per attachment ("part", in Chatwoot's order), each under its own
    // WhatsApp id.  Every part, its id and its media key are committed in
    // the unit of work that moves the entry in flight, before anything is
    // fetched or sent: a retry after a crash uploads with the same key (the
    // same bytes) and sends under the same ids, which recipients drop.
    // A part goes fetching -> prepared (the file to upload is in the media
    // store, with what the message says of it) -> uploaded (url, direct
    // path and hashes kept: never uploaded again) -> sent (acked; its
    // wa_sent row in the same commit), or failed with the reason.
    // caption_wa_id (part 0): the caption's own text message, used when the
    // first part's kind carries no caption (audio, voice note, sticker).
    R"sql(
    CREATE TABLE outbox_parts (
        outbox_id            INTEGER NOT NULL REFERENCES outbox (id),
        part                 INTEGER NOT NULL,
        wa_id                TEXT    NOT NULL,
        caption_wa_id        TEXT,
        caption_sent         INTEGER NOT NULL DEFAULT 0,
        data_url             TEXT    NOT NULL,
        file_type            TEXT    NOT NULL,
        content_type         TEXT    NOT NULL,
        file_name            TEXT    NOT NULL,
        file_size            INTEGER NOT NULL,
        state                TEXT    NOT NULL DEFAULT 'fetching'
                             CONSTRAINT outbox_parts_state
                             CHECK (state = 'fetching' OR state = 'prepared'
                                    OR state = 'uploaded' OR state = 'sent'
                                    OR state = 'failed'),
        failure              TEXT,
        media_key            BLOB    NOT NULL,
        path                 TEXT,
        kind                 TEXT,
        mimetype             TEXT,
        sent_file_name       TEXT,
        thumbnail            BLOB,
        width                INTEGER NOT NULL DEFAULT 0,
        height               INTEGER NOT NULL DEFAULT 0,
        seconds              INTEGER NOT NULL DEFAULT 0,
        waveform             BLOB,
        gif_playback         INTEGER NOT NULL DEFAULT 0,
        url                  TEXT,
        direct_path          TEXT,
        file_sha256          BLOB,
        file_enc_sha256      BLOB,
        file_length          INTEGER,
        media_key_timestamp  INTEGER,
        PRIMARY KEY (outbox_id, part)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX outbox_parts_wa_id ON outbox_parts (wa_id);
    )sql",

    // 14: what our phone's history sync chunks say (issue 12, the source),
    // kept for the import jobs that post it to Chatwoot later.  A chunk is
    // stored in one unit of work, before its hist_sync receipt goes.
    //  - history_chats: each chat a chunk named (the phone's JID for it),
    //    with its name and its other form (pn_jid for a LID chat, lid_jid
    //    for a phone-number one) when sent.
    //  - history_messages: one row per message, UNIQUE (inbox, chat, id):
    //    a chunk delivered twice stores nothing twice.  text, or kind (what
    //    it is when not text: "image", "location"...) with the caption;
    //    media: a media message's keys and path as JSON, for a download
    //    while WhatsApp still has the file.
    //  - history_push_names: the names people gave themselves, latest wins.
    //  - history_chunks: one row per chunk stored (what the phone has sent
    //    so far: the import jobs wait for the bootstrap and recent ones).
    //  - history_pending: notifications whose blob is being downloaded:
    //    the stanza is handled (its ratchet step committed) but owes its
    //    receipt only once the chunk is stored; after a crash the download
    //    starts again from this row.  It keeps the stanza's bytes (no
    //    foreign key: retention may compact or forget the stanza row), and
    //    gives them back to the stanza row with the owed receipt when the
    //    chunk is stored.
    // PN <-> LID pairs go into wa_lid_map, tctokens into wa_privacy_tokens,
    // the NCT salt into wa_device_values, where the send path reads them.
    R"sql(
    CREATE TABLE history_chats (
        inbox       TEXT     NOT NULL,
        jid         TEXT     NOT NULL,
        name        TEXT     NOT NULL DEFAULT '',
        pn_jid      TEXT     NOT NULL DEFAULT '',
        lid_jid     TEXT     NOT NULL DEFAULT '',
        updated_at  INTEGER  NOT NULL,
        PRIMARY KEY (inbox, jid)
    ) WITHOUT ROWID;
    CREATE TABLE history_messages (
        inbox        TEXT     NOT NULL,
        chat         TEXT     NOT NULL,
        id           TEXT     NOT NULL,
        from_me      INTEGER  NOT NULL,
        participant  TEXT     NOT NULL DEFAULT '',
        timestamp    INTEGER  NOT NULL,
        push_name    TEXT     NOT NULL DEFAULT '',
        text         TEXT,
        kind         TEXT     NOT NULL DEFAULT '',
        caption      TEXT     NOT NULL DEFAULT '',
        media        TEXT,
        stored_at    INTEGER  NOT NULL,
        UNIQUE (inbox, chat, id)
    );
    CREATE INDEX history_messages_by_time ON history_messages (inbox, chat, timestamp);
    CREATE TABLE history_push_names (
        inbox  TEXT  NOT NULL,
        jid    TEXT  NOT NULL,
        name   TEXT  NOT NULL,
        PRIMARY KEY (inbox, jid)
    ) WITHOUT ROWID;
    CREATE TABLE history_chunks (
        inbox          TEXT     NOT NULL,
        sync_type      TEXT     NOT NULL,
        chunk_order    INTEGER  NOT NULL,
        progress       INTEGER  NOT NULL,
        conversations  INTEGER  NOT NULL,
        messages       INTEGER  NOT NULL,
        stored_at      INTEGER  NOT NULL
    );
    CREATE TABLE history_pending (
        stanza        INTEGER  PRIMARY KEY,
        inbox         TEXT     NOT NULL,
        notification  BLOB     NOT NULL,
        node          BLOB     NOT NULL,
        kept_at       INTEGER  NOT NULL
    );
    )sql",

    // 15: history import jobs (issue 12, import jobs): one row per job,
    // its id the import command's, so a job survives reloads, kills and
    // restarts and goes on where it stopped.
    //  - import_jobs: what was asked (what, since: the window's start in
    //    unix seconds, 0 for all; flags: CW_COMMAND_IMPORT_*), its state
    //    and counts, the chat being imported, the last error.  At most one
    //    job per inbox is queued, running or paused (the partial unique
    //    index): a second one is refused with the first one's id.
    //  - import_job_chats: the job's chats (the history's JID), each with
    //    the last message imported or skipped, (last_timestamp, last_id):
    //    a helper that restarts reads on after it, oldest first.
    //  - import_posted: each message an import put into Chatwoot, by
    //    WhatsApp id, with its Chatwoot id: a later job skips it (as it
    //    skips what the live path posted, wa_inbound and wa_sent).
    //  - import_on_link: an inbox whose first link started its import
    //    (import_on_link on), so that it happens once.
    R"sql(
    CREATE TABLE import_jobs (
        id                TEXT     PRIMARY KEY,
        inbox             TEXT     NOT NULL,
        what              TEXT     NOT NULL
                          CHECK (what IN ('messages', 'contacts', 'all')),
        days              INTEGER  NOT NULL,
        since             INTEGER  NOT NULL,
        flags             INTEGER  NOT NULL,
        state             TEXT     NOT NULL DEFAULT 'queued'
                          CHECK (state IN ('queued', 'running', 'paused',
                                           'completed', 'failed')),
        chats_total       INTEGER  NOT NULL DEFAULT 0,
        chats_done        INTEGER  NOT NULL DEFAULT 0,
        chats_failed      INTEGER  NOT NULL DEFAULT 0,
        messages_total    INTEGER  NOT NULL DEFAULT 0,
        messages_done     INTEGER  NOT NULL DEFAULT 0,
        messages_skipped  INTEGER  NOT NULL DEFAULT 0,
        messages_failed   INTEGER  NOT NULL DEFAULT 0,
        contacts_done     INTEGER  NOT NULL DEFAULT 0,
        current_chat      TEXT     NOT NULL DEFAULT '',
        last_error        TEXT     NOT NULL DEFAULT '',
        created_at        INTEGER  NOT NULL,
        started_at        INTEGER  NOT NULL DEFAULT 0,
        updated_at        INTEGER  NOT NULL,
        finished_at       INTEGER  NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX import_jobs_active ON import_jobs (inbox)
        WHERE state IN ('queued', 'running', 'paused');
    CREATE INDEX import_jobs_recent ON import_jobs (created_at);
    CREATE TABLE import_job_chats (
        job               TEXT     NOT NULL,
        chat              TEXT     NOT NULL,
        state             TEXT     NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'done', 'failed')),
        messages_total    INTEGER  NOT NULL DEFAULT 0,
        last_timestamp    INTEGER  NOT NULL DEFAULT 0,
        last_id           TEXT     NOT NULL DEFAULT '',
        oldest            INTEGER  NOT NULL DEFAULT 0,
        PRIMARY KEY (job, chat)
    ) WITHOUT ROWID;
    CREATE TABLE import_posted (
        inbox                TEXT     NOT NULL,
        wa_id                TEXT     NOT NULL,
        chat                 TEXT     NOT NULL,
        chatwoot_message_id  INTEGER  NOT NULL,
        job                  TEXT     NOT NULL,
        PRIMARY KEY (inbox, wa_id)
    ) WITHOUT ROWID;
    CREATE TABLE import_on_link (
        inbox       TEXT     PRIMARY KEY,
        job         TEXT     NOT NULL,
        created_at  INTEGER  NOT NULL
    ) WITHOUT ROWID;
    )sql",

    // 16: the control conversation ("WhatsApp bridge" in each inbox):
    // where it is in Chatwoot, the notices decided (a row before the post,
    // posted once: its id is the message's source id), and the agents'
    // commands typed there, once per Chatwoot message id.
    R"sql(
    CREATE TABLE control_conversations (
        inbox            TEXT     PRIMARY KEY,
        contact_id       INTEGER,
        conversation_id  INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE control_notices (
        id                   INTEGER  PRIMARY KEY,
        inbox                TEXT     NOT NULL,
        kind                 TEXT     NOT NULL,
        text                 TEXT     NOT NULL,
        qr                   INTEGER  NOT NULL DEFAULT 0,
        created_at           INTEGER  NOT NULL,
        state                TEXT     NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'posted', 'failed', 'dropped')),
        chatwoot_message_id  INTEGER,
        deleted              INTEGER  NOT NULL DEFAULT 0
    );
    CREATE INDEX control_notices_pending ON control_notices (inbox, state, id);
    CREATE TABLE control_commands (
        inbox                TEXT     NOT NULL,
        chatwoot_message_id  INTEGER  NOT NULL,
        conversation_id      INTEGER  NOT NULL,
        content              TEXT     NOT NULL,
        received_at          INTEGER  NOT NULL,
        handled_at           INTEGER,
        PRIMARY KEY (inbox, chatwoot_message_id)
    ) WITHOUT ROWID;
    )sql",

    // 17: issue 13's send API: what applications asked
    // to send (send_api/send_desk.hpp).  One row per send command, under
    // its id; the WhatsApp id is committed with the row's move to posting,
    // before anything reaches Chatwoot or WhatsApp, so every later step (the message posted with
    // source_id WAID:<wa_id>, the outbox entry sent under it) is keyed by
    // it and a helper killed anywhere repeats nothing.  state: queued (no
    // runtime took it yet), posting (its wa_inbound row waits for the
    // forwarder), sending (its outbox entry is on its way), sent, failed.
    // idem_key: the application's idempotency key, scoped by its token;
    // a later send with the same key within a day is kept as a duplicate
    // of the first (duplicate_of) and sends nothing.
    R"sql(
    CREATE TABLE api_sends (
        row                  INTEGER PRIMARY KEY,
        id                   TEXT     NOT NULL UNIQUE,
        inbox                TEXT     NOT NULL,
        chat                 TEXT     NOT NULL,
        text                 TEXT     NOT NULL,
        idem_key             TEXT,
        duplicate_of         TEXT,
        wa_id                TEXT,
        state                TEXT     NOT NULL DEFAULT 'queued'
                             CONSTRAINT api_sends_state
                             CHECK (state = 'queued' OR state = 'posting'
                                    OR state = 'sending' OR state = 'sent'
                                    OR state = 'failed'),
        outbox_id            INTEGER,
        chatwoot_message_id  INTEGER,
        reason               TEXT,
        created_at           INTEGER  NOT NULL,
        updated_at           INTEGER  NOT NULL
    );
    CREATE INDEX api_sends_by_key ON api_sends (idem_key, created_at)
        WHERE idem_key IS NOT NULL AND duplicate_of IS NULL;
    CREATE INDEX api_sends_open ON api_sends (row)
        WHERE state = 'queued' OR state = 'posting' OR state = 'sending';
    )sql",
};

}  // namespace

int schema_version(Database& db)
{
    auto st = db.prepare("PRAGMA user_version");
    st.step();
    return static_cast<int>(st.column_int(0));
}

int latest_schema_version()
{
    return static_cast<int>(kMigrations.size());
}

void migrate(Database& db)
{
    migrate_to(db, latest_schema_version());
}

void migrate_to(Database& db, int target)
{
    int version = schema_version(db);
    if (version > static_cast<int>(kMigrations.size())) {
        throw StoreError("the store has schema version "
                             + std::to_string(version)
                             + ", newer than this build knows ("
                             + std::to_string(kMigrations.size()) + ")",
                         0);
    }
    for (size_t v = static_cast<size_t>(version);
         v < kMigrations.size() && v < static_cast<size_t>(target); v++) {
        Transaction tx(db);
        db.exec(kMigrations[v]);
        db.exec("PRAGMA user_version = " + std::to_string(v + 1));
        tx.commit();
    }
}

}  // namespace chatwoot::store
