// The SQL of the PostgreSQL import, sans I/O: what to send for the checks
// and for one chat (statements and their parameters), and what the answers
// mean.  PgImportWriter sends these through PgConnection and feeds the
// rows back here; nothing in this file touches libpq.
//
// Facts about Chatwoot's tables (db/schema.rb, t/data/chatwoot_schema.sql):
// timestamps are UTC "timestamp without time zone"; message_type incoming
// 0 / outgoing 1; content_type text 0; conversation status open 0 /
// pending 2; conversations.display_id is set by Chatwoot's own BEFORE
// INSERT trigger from the sequence conv_dpid_seq_<account>; the contact
// identifier is unique per account, the contact inbox's source_id per
// inbox; messages.source_id is indexed but not unique, so "WAID:<id>" is
// looked up before each insert (under a per-chat advisory lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/import_batch.hpp"

namespace chatwoot::helper::pg {

// PostgreSQL's type oids (pg_type.dat) for the parameters we send.
inline constexpr uint32_t kOidInt8 = 20;
inline constexpr uint32_t kOidInt4 = 23;
inline constexpr uint32_t kOidText = 25;
inline constexpr uint32_t kOidInt4Array = 1007;
inline constexpr uint32_t kOidTextArray = 1009;
inline constexpr uint32_t kOidInt8Array = 1016;

// One parameter.  Text goes in binary format (its bytes as they are, with
// their length): a NUL or invalid UTF-8 reaches the server, which refuses
// the statement, instead of libpq cutting the string short.  Arrays go in
// binary format too (one statement carries a whole chat's messages).
struct Param {
    std::optional<std::string> value;   // nullopt: NULL
    uint32_t type = 0;
    bool binary = false;
    bool operator==(const Param&) const = default;
};

Param text_param(std::string_view v);
Param int8_param(int64_t v);
Param text_array_param(const std::vector<std::string>& v);
Param int8_array_param(const std::vector<int64_t>& v);
Param int4_array_param(const std::vector<int32_t>& v);

struct Statement {
    std::string sql;
    std::vector<Param> params;
    bool operator==(const Statement&) const = default;
};

// A statement's answer as the writer reads it.
using Row = std::vector<std::optional<std::string>>;
struct Answer {
    bool ok = false;             // false: the statement failed (or was skipped)
    std::string error;           // the server's message when it failed
    std::string sqlstate;
    std::vector<Row> rows;
};

// Where the import writes: the inbox block's account and inbox.
struct Target {
    int64_t account_id = 0;
    int64_t inbox_id = 0;
};

// The Chatwoot schema versions (schema_migrations, schema.rb's `version:`)
// whose tables this writer was written against.
inline constexpr std::string_view kOldestSchema = "20240923215335";
inline constexpr std::string_view kNewestSchema = "20250816044639";

// --- the checks, once per connection ----------------------------------

// One pipeline: the tables and columns, the schema version, the inbox, the
// display_id trigger and sequence, and the role's privileges.
std::vector<Statement> check_statements(const Target& t);

// The answers of check_statements() (same order) -> nullopt when the
// database is one we can write to, else the reason for the operator.
std::optional<std::string> check_verdict(const Target& t, const std::vector<Answer>& answers);

// --- one chat -----------------------------------------------------------

// What one chat's messages become: the rows to insert, in WhatsApp's order,
// with a message repeated in the batch counted once.
struct ChatRows {
    std::vector<std::string> source_ids;   // "WAID:<id>"
    std::vector<std::string> contents;
    std::vector<int64_t> timestamps;       // unix seconds
    std::vector<int32_t> message_types;    // 0 incoming, 1 outgoing
    uint64_t repeated = 0;                 // duplicates within the batch
};
ChatRows chat_rows(const bridge::ImportChat& chat);

// The text Chatwoot shows: a group message names who wrote it, as the live
// path does ("**Name:** text").
std::string message_content(const bridge::ImportChat& chat, const bridge::ImportMessage& m);

// The contact's source_id in the inbox and its identifier (as the live
// path creates them), and the name and phone it gets when created.
std::string contact_source_id(const bridge::ImportChat& chat);
std::string contact_identifier(const bridge::ImportChat& chat);

// Step 1, with BEGIN: the per-chat advisory lock, then which of the chat's
// messages the inbox already has.  Answers: BEGIN, lock, existing ids.
std::vector<Statement> begin_statements(const Target& t, const bridge::ImportChat& chat,
                                        const ChatRows& rows);
// From the existing-ids answer: the rows still to write (the others are
// skipped).
ChatRows missing_rows(const ChatRows& rows, const Answer& existing);

// Step 2: find the contact inbox (by source_id), else the contact (by
// identifier, else by phone when it has no identifier), else create it,
// and its contact inbox.  One row: contact_id, contact_inbox_id.
Statement contact_statement(const Target& t, const bridge::ImportChat& chat, int64_t now);

// Step 3: the contact's newest open or pending conversation in the inbox,
// else a new open one (display_id from Chatwoot's trigger), created at the
// first message's time.  One row: id, display_id, created ("t"/"f").
Statement conversation_statement(const Target& t, int64_t contact_id, int64_t contact_inbox_id,
                                 int64_t first_timestamp);

// Step 4: the messages, all at once under a savepoint; on failure each on
// its own savepoint, so that one the server refuses fails alone.  Answers
// of insert_statements: SAVEPOINT, INSERT (RETURNING source_id), RELEASE.
// Rows [from, to) of `rows`.
std::vector<Statement> insert_statements(const Target& t, int64_t conversation_id,
                                         int64_t contact_id, const ChatRows& rows, size_t from,
                                         size_t to);
// After a failed insert: back to the savepoint, and drop it.
std::vector<Statement> rollback_to_savepoint_statements();

// Step 5: the conversation's (and contact's) last activity, then COMMIT.
std::vector<Statement> finish_statements(int64_t conversation_id, int64_t contact_id,
                                         std::optional<int64_t> newest_inserted,
                                         std::optional<int64_t> newest_incoming);

Statement rollback_statement();

// An integer column of the first row; nullopt when absent or not a number.
std::optional<int64_t> int_at(const Answer& a, size_t column);

}  // namespace chatwoot::helper::pg
