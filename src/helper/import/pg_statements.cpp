#include "pg_statements.hpp"

#include "bridge/jid.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_set>

namespace chatwoot::helper::pg {

namespace {

void put_be32(std::string& out, uint32_t v)
{
    out += static_cast<char>((v >> 24) & 0xff);
    out += static_cast<char>((v >> 16) & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

void put_be64(std::string& out, uint64_t v)
{
    put_be32(out, static_cast<uint32_t>(v >> 32));
    put_be32(out, static_cast<uint32_t>(v & 0xffffffffu));
}

// PostgreSQL's binary array format (array_recv): dimensions, a has-nulls
// flag, the element type, then per dimension its length and lower bound,
// then each element as a length and its bytes.  An empty array has no
// dimensions.
std::string array_header(size_t n, uint32_t element_oid)
{
    std::string out;
    put_be32(out, n == 0 ? 0 : 1);
    put_be32(out, 0);
    put_be32(out, element_oid);
    if (n != 0) {
        put_be32(out, static_cast<uint32_t>(n));
        put_be32(out, 1);
    }
    return out;
}

// Names and ids come from WhatsApp: a NUL would make the whole chat fail
// for want of a contact, so it is dropped there (a message's text is left
// as it is: the server refuses that message alone).
std::string without_nul(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c != '\0') {
            out += c;
        }
    }
    return out;
}

// "timestamp without time zone" in UTC, as Rails stores it.
constexpr std::string_view kUtc = "AT TIME ZONE 'UTC'";

const std::vector<std::pair<std::string, std::vector<std::string>>>& needed_columns()
{
    static const std::vector<std::pair<std::string, std::vector<std::string>>> k = {
        {"schema_migrations", {"version"}},
        {"inboxes", {"id", "account_id", "channel_type"}},
        {"contacts",
         {"id", "name", "phone_number", "account_id", "identifier", "created_at", "updated_at",
          "last_activity_at"}},
        {"contact_inboxes",
         {"id", "contact_id", "inbox_id", "source_id", "created_at", "updated_at",
          "pubsub_token"}},
        {"conversations",
         {"id", "account_id", "inbox_id", "status", "contact_id", "contact_inbox_id",
          "display_id", "created_at", "updated_at", "last_activity_at"}},
        {"messages",
         {"id", "content", "account_id", "inbox_id", "conversation_id", "message_type",
          "created_at", "updated_at", "private", "status", "source_id", "content_type",
          "sender_type", "sender_id"}},
    };
    return k;
}

std::string sequence_name(const Target& t)
{
    return "conv_dpid_seq_" + std::to_string(t.account_id);
}

bool is_true(const std::optional<std::string>& v)
{
    return v && (*v == "t" || *v == "true");
}

}  // namespace

Param text_param(std::string_view v)
{
    return Param{std::string(v), kOidText, true};
}

Param int8_param(int64_t v)
{
    return Param{std::to_string(v), kOidInt8, false};
}

Param text_array_param(const std::vector<std::string>& v)
{
    std::string out = array_header(v.size(), kOidText);
    for (const auto& s : v) {
        put_be32(out, static_cast<uint32_t>(s.size()));
        out += s;
    }
    return Param{std::move(out), kOidTextArray, true};
}

Param int8_array_param(const std::vector<int64_t>& v)
{
    std::string out = array_header(v.size(), kOidInt8);
    for (int64_t x : v) {
        put_be32(out, 8);
        put_be64(out, static_cast<uint64_t>(x));
    }
    return Param{std::move(out), kOidInt8Array, true};
}

Param int4_array_param(const std::vector<int32_t>& v)
{
    std::string out = array_header(v.size(), kOidInt4);
    for (int32_t x : v) {
        put_be32(out, 4);
        put_be32(out, static_cast<uint32_t>(x));
    }
    return Param{std::move(out), kOidInt4Array, true};
}

std::optional<int64_t> int_at(const Answer& a, size_t column)
{
    if (!a.ok || a.rows.empty() || a.rows[0].size() <= column || !a.rows[0][column]) {
        return std::nullopt;
    }
    const std::string& s = *a.rows[0][column];
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

// --- the checks -----------------------------------------------------------

std::vector<Statement> check_statements(const Target& t)
{
    std::vector<std::string> tables;
    for (const auto& [table, columns] : needed_columns()) {
        tables.push_back(table);
    }
    std::vector<Statement> out;
    // information_schema shows only what this role may use: a table it may
    // not read looks missing, and the verdict says so.
    out.push_back({"SELECT table_name::text, column_name::text FROM information_schema.columns"
                   " WHERE table_schema = current_schema() AND table_name = ANY($1)",
                   {text_array_param(tables)}});
    out.push_back({"SELECT max(version)::text FROM schema_migrations", {}});
    out.push_back({"SELECT account_id::text, coalesce(channel_type, '') FROM inboxes WHERE id = $1",
                   {int8_param(t.inbox_id)}});
    out.push_back(
        {"SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'conversations'::regclass"
         " AND NOT tgisinternal AND tgenabled <> 'D' AND tgtype & 2 = 2 AND tgtype & 4 = 4),"
         " to_regclass($1) IS NOT NULL,"
         " CASE WHEN to_regclass($1) IS NULL THEN false"
         " ELSE has_sequence_privilege($1, 'USAGE') END,"
         // Several privileges in one call mean "any of them": one each.
         " has_table_privilege('contacts', 'SELECT') AND has_table_privilege('contacts', 'INSERT')"
         " AND has_table_privilege('contacts', 'UPDATE'),"
         " has_table_privilege('contact_inboxes', 'SELECT')"
         " AND has_table_privilege('contact_inboxes', 'INSERT'),"
         " has_table_privilege('conversations', 'SELECT')"
         " AND has_table_privilege('conversations', 'INSERT')"
         " AND has_table_privilege('conversations', 'UPDATE'),"
         " has_table_privilege('messages', 'SELECT') AND has_table_privilege('messages', 'INSERT'),"
         " has_sequence_privilege(pg_get_serial_sequence('messages', 'id'), 'USAGE')"
         " AND has_sequence_privilege(pg_get_serial_sequence('contacts', 'id'), 'USAGE')"
         " AND has_sequence_privilege(pg_get_serial_sequence('contact_inboxes', 'id'), 'USAGE')"
         " AND has_sequence_privilege(pg_get_serial_sequence('conversations', 'id'), 'USAGE')",
         {text_param(sequence_name(t))}});
    return out;
}

std::optional<std::string> check_verdict(const Target& t, const std::vector<Answer>& answers)
{
    if (answers.size() != 4) {
        return "the database gave " + std::to_string(answers.size())
               + " answers to the 4 checks";
    }
    // 1. tables and columns
    const Answer& cols = answers[0];
    if (!cols.ok) {
        return "cannot read Chatwoot's tables: " + cols.error;
    }
    std::set<std::pair<std::string, std::string>> have;
    for (const auto& row : cols.rows) {
        if (row.size() == 2 && row[0] && row[1]) {
            have.emplace(*row[0], *row[1]);
        }
    }
    for (const auto& [table, columns] : needed_columns()) {
        bool any = false;
        for (const auto& c : columns) {
            any = any || have.count({table, c}) != 0;
        }
        if (!any) {
            return "Chatwoot's database has no table \"" + table
                   + "\" (or this role may not read it): is this Chatwoot's database?";
        }
        for (const auto& c : columns) {
            if (have.count({table, c}) == 0) {
                return "Chatwoot's table \"" + table + "\" has no column \"" + c + "\"";
            }
        }
    }
    // 2. the schema version
    const Answer& version = answers[1];
    if (!version.ok) {
        return "cannot read Chatwoot's schema version: " + version.error;
    }
    if (version.rows.empty() || version.rows[0].empty() || !version.rows[0][0]) {
        return "Chatwoot's database has no schema version (schema_migrations is empty)";
    }
    const std::string& v = *version.rows[0][0];
    const bool digits = v.size() == kNewestSchema.size()
                        && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
        return "Chatwoot's database schema version \"" + v + "\" is not one this module knows";
    }
    // Same length, digits only: string order is number order.
    if (v > kNewestSchema) {
        return "Chatwoot's database schema is " + v + ", this module knows up to "
               + std::string(kNewestSchema);
    }
    if (v < kOldestSchema) {
        return "Chatwoot's database schema is " + v + ", this module knows "
               + std::string(kOldestSchema) + " and later";
    }
    // 3. the inbox
    const Answer& inbox = answers[2];
    if (!inbox.ok) {
        return "cannot read Chatwoot's inboxes: " + inbox.error;
    }
    const std::string inbox_name = "inbox " + std::to_string(t.inbox_id);
    if (inbox.rows.empty()) {
        return inbox_name + " does not exist in Chatwoot's database";
    }
    auto account = int_at(inbox, 0);
    if (!account || *account != t.account_id) {
        return inbox_name + " belongs to account "
               + (inbox.rows[0][0] ? *inbox.rows[0][0] : std::string("?")) + ", not to account "
               + std::to_string(t.account_id);
    }
    const auto& type = inbox.rows[0].size() > 1 ? inbox.rows[0][1] : std::nullopt;
    if (!type || *type != "Channel::Api") {
        return inbox_name + " is not an API channel inbox (its channel is \""
               + (type ? *type : std::string()) + "\")";
    }
    // 4. the trigger, the sequence and the privileges
    const Answer& p = answers[3];
    if (!p.ok) {
        return "cannot check the conversations trigger and this role's privileges: " + p.error;
    }
    if (p.rows.empty() || p.rows[0].size() < 8) {
        return "the privilege check gave no answer";
    }
    const Row& r = p.rows[0];
    if (!is_true(r[0])) {
        return "Chatwoot's conversations table has no BEFORE INSERT trigger (the one that numbers"
               " display_id): is this Chatwoot's database?";
    }
    if (!is_true(r[1])) {
        return "Chatwoot's database has no sequence " + sequence_name(t) + " for account "
               + std::to_string(t.account_id) + "'s conversation numbers";
    }
    if (!is_true(r[2])) {
        return "this role may not use the sequence " + sequence_name(t)
               + " (GRANT USAGE ON SEQUENCE " + sequence_name(t) + ")";
    }
    static const char* kTables[] = {"contacts (SELECT, INSERT, UPDATE)",
                                    "contact_inboxes (SELECT, INSERT)",
                                    "conversations (SELECT, INSERT, UPDATE)",
                                    "messages (SELECT, INSERT)"};
    for (size_t i = 0; i < 4; i++) {
        if (!is_true(r[3 + i])) {
            return std::string("this role lacks privileges on ") + kTables[i];
        }
    }
    if (!is_true(r[7])) {
        return "this role may not use the id sequences of contacts, contact_inboxes,"
               " conversations and messages";
    }
    return std::nullopt;
}

// --- one chat ---------------------------------------------------------------

std::string message_content(const bridge::ImportChat& chat, const bridge::ImportMessage& m)
{
    if (!chat.is_group || m.from_me) {
        return m.text;
    }
    std::string who = m.sender_name;
    if (who.empty()) {
        auto jid = bridge::Jid::parse(m.sender_jid);
        auto phone = jid ? bridge::e164_from_jid(*jid) : std::nullopt;
        who = phone ? *phone : m.sender_jid;
    }
    if (who.empty()) {
        return m.text;
    }
    return "**" + who + ":** " + m.text;
}

std::string contact_source_id(const bridge::ImportChat& chat)
{
    return without_nul(chat.chat_jid.empty() ? chat.identifier : chat.chat_jid);
}

std::string contact_identifier(const bridge::ImportChat& chat)
{
    return without_nul(chat.identifier.empty() ? chat.chat_jid : chat.identifier);
}

ChatRows chat_rows(const bridge::ImportChat& chat)
{
    ChatRows rows;
    std::unordered_set<std::string> seen;
    for (const auto& m : chat.messages) {
        std::string source_id = "WAID:" + without_nul(m.wa_id);
        if (!seen.insert(source_id).second) {
            rows.repeated++;
            continue;
        }
        rows.source_ids.push_back(std::move(source_id));
        rows.contents.push_back(message_content(chat, m));
        rows.timestamps.push_back(m.timestamp);
        rows.message_types.push_back(m.from_me ? 1 : 0);
    }
    return rows;
}

std::vector<Statement> begin_statements(const Target& t, const bridge::ImportChat& chat,
                                        const ChatRows& rows)
{
    // One chat written by one transaction at a time (a retry racing the
    // attempt it replaces, two jobs): the look-ups below then see the
    // other's commit.
    std::string key = "chatwoot-import:" + std::to_string(t.account_id) + ":"
                      + std::to_string(t.inbox_id) + ":" + contact_source_id(chat);
    std::vector<Statement> out;
    out.push_back({"BEGIN", {}});
    out.push_back({"SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {text_param(key)}});
    // "inbox_id + 0": probe the source_id index only and check the inbox on
    // the few rows it finds.  Left to itself the planner ANDs in the
    // inbox_id index, which reads every message of the inbox (millions in
    // a real Chatwoot) for each chat.
    out.push_back({"SELECT source_id FROM messages WHERE source_id = ANY($2) AND inbox_id + 0 = $1",
                   {int8_param(t.inbox_id), text_array_param(rows.source_ids)}});
    return out;
}

ChatRows missing_rows(const ChatRows& rows, const Answer& existing)
{
    std::unordered_set<std::string> have;
    for (const auto& r : existing.rows) {
        if (!r.empty() && r[0]) {
            have.insert(*r[0]);
        }
    }
    ChatRows out;
    for (size_t i = 0; i < rows.source_ids.size(); i++) {
        if (have.count(rows.source_ids[i]) != 0) {
            continue;
        }
        out.source_ids.push_back(rows.source_ids[i]);
        out.contents.push_back(rows.contents[i]);
        out.timestamps.push_back(rows.timestamps[i]);
        out.message_types.push_back(rows.message_types[i]);
    }
    return out;
}

Statement contact_statement(const Target& t, const bridge::ImportChat& chat, int64_t now)
{
    const std::string identifier = contact_identifier(chat);
    const std::string phone = without_nul(chat.phone);
    std::string name = without_nul(chat.name);
    if (name.empty()) {
        name = !phone.empty() ? phone : identifier;
    }
    // $1 account, $2 inbox, $3 source_id, $4 identifier, $5 phone ("" for
    // none), $6 name, $7 now (unix seconds).
    std::string sql =
        "WITH ci AS ("
        " SELECT id, contact_id FROM contact_inboxes WHERE inbox_id = $2 AND source_id = $3"
        " LIMIT 1),"
        " by_identifier AS ("
        " SELECT id FROM contacts WHERE account_id = $1 AND identifier = $4"
        " AND NOT EXISTS (SELECT 1 FROM ci) LIMIT 1),"
        " by_phone AS ("
        " SELECT id FROM contacts WHERE account_id = $1 AND $5 <> '' AND phone_number = $5"
        " AND coalesce(identifier, '') = ''"
        " AND NOT EXISTS (SELECT 1 FROM ci) AND NOT EXISTS (SELECT 1 FROM by_identifier)"
        " ORDER BY id LIMIT 1),"
        " new_contact AS ("
        " INSERT INTO contacts (name, phone_number, account_id, created_at, updated_at, identifier)"
        " SELECT $6, NULLIF($5, ''), $1, to_timestamp($7) ";
    sql += kUtc;
    sql += ", to_timestamp($7) ";
    sql += kUtc;
    sql +=
        ", $4"
        " WHERE NOT EXISTS (SELECT 1 FROM ci) AND NOT EXISTS (SELECT 1 FROM by_identifier)"
        " AND NOT EXISTS (SELECT 1 FROM by_phone)"
        " ON CONFLICT (identifier, account_id) DO NOTHING RETURNING id),"
        " the_contact AS ("
        " SELECT id FROM by_identifier UNION ALL SELECT id FROM by_phone"
        " UNION ALL SELECT id FROM new_contact LIMIT 1),"
        " new_ci AS ("
        " INSERT INTO contact_inboxes (contact_id, inbox_id, source_id, created_at, updated_at,"
        " pubsub_token)"
        " SELECT the_contact.id, $2, $3, to_timestamp($7) ";
    sql += kUtc;
    sql += ", to_timestamp($7) ";
    sql += kUtc;
    // Rails gives every contact inbox a random pubsub_token (unique).
    sql +=
        ", substr(md5(random()::text || clock_timestamp()::text || $3), 1, 24)"
        " FROM the_contact WHERE NOT EXISTS (SELECT 1 FROM ci)"
        " ON CONFLICT (inbox_id, source_id) DO NOTHING RETURNING id, contact_id)"
        " SELECT contact_id, id FROM ci UNION ALL SELECT contact_id, id FROM new_ci";
    return {std::move(sql),
            {int8_param(t.account_id), int8_param(t.inbox_id), text_param(contact_source_id(chat)),
             text_param(identifier), text_param(phone), text_param(name), int8_param(now)}};
}

Statement conversation_statement(const Target& t, int64_t contact_id, int64_t contact_inbox_id,
                                 int64_t first_timestamp)
{
    std::string sql =
        "WITH usable AS ("
        " SELECT id, display_id FROM conversations WHERE account_id = $1 AND inbox_id = $2"
        " AND contact_id = $3 AND status IN (0, 2)"
        " ORDER BY last_activity_at DESC, id DESC LIMIT 1),"
        " created AS ("
        " INSERT INTO conversations (account_id, inbox_id, status, created_at, updated_at,"
        " contact_id, contact_inbox_id, last_activity_at)"
        " SELECT $1, $2, 0, to_timestamp($5) ";
    sql += kUtc;
    sql += ", to_timestamp($5) ";
    sql += kUtc;
    sql += ", $3, $4, to_timestamp($5) ";
    sql += kUtc;
    sql +=
        " WHERE NOT EXISTS (SELECT 1 FROM usable) RETURNING id, display_id)"
        " SELECT id, display_id, false FROM usable"
        " UNION ALL SELECT id, display_id, true FROM created";
    return {std::move(sql),
            {int8_param(t.account_id), int8_param(t.inbox_id), int8_param(contact_id),
             int8_param(contact_inbox_id), int8_param(first_timestamp)}};
}

std::vector<Statement> insert_statements(const Target& t, int64_t conversation_id,
                                         int64_t contact_id, const ChatRows& rows, size_t from,
                                         size_t to)
{
    to = std::min(to, rows.source_ids.size());
    from = std::min(from, to);
    auto slice = [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        return V(v.begin() + static_cast<ptrdiff_t>(from), v.begin() + static_cast<ptrdiff_t>(to));
    };
    // $1 account, $2 inbox, $3 conversation, $4 contact, $5 source ids,
    // $6 contents, $7 timestamps, $8 message types.  A message already in
    // the inbox is left out here too: the look-up before was outside this
    // savepoint, and this costs one index probe per row (on source_id
    // only, as in begin_statements).
    std::string sql =
        "INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type,"
        " created_at, updated_at, private, status, source_id, content_type, sender_type,"
        " sender_id)"
        " SELECT m.content, $1, $2, $3, m.message_type, to_timestamp(m.ts) ";
    sql += kUtc;
    sql += ", to_timestamp(m.ts) ";
    sql += kUtc;
    sql +=
        ", false, 0, m.source_id, 0,"
        " CASE WHEN m.message_type = 0 THEN 'Contact' END,"
        " CASE WHEN m.message_type = 0 THEN $4::bigint END"
        " FROM unnest($5::text[], $6::text[], $7::bigint[], $8::int[]) WITH ORDINALITY"
        " AS m(source_id, content, ts, message_type, n)"
        " WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.source_id = m.source_id"
        " AND x.inbox_id + 0 = $2)"
        " ORDER BY m.n RETURNING source_id";
    std::vector<Statement> out;
    out.push_back({"SAVEPOINT chatwoot_import", {}});
    out.push_back({std::move(sql),
                   {int8_param(t.account_id), int8_param(t.inbox_id), int8_param(conversation_id),
                    int8_param(contact_id), text_array_param(slice(rows.source_ids)),
                    text_array_param(slice(rows.contents)),
                    int8_array_param(slice(rows.timestamps)),
                    int4_array_param(slice(rows.message_types))}});
    out.push_back({"RELEASE SAVEPOINT chatwoot_import", {}});
    return out;
}

std::vector<Statement> rollback_to_savepoint_statements()
{
    return {{"ROLLBACK TO SAVEPOINT chatwoot_import", {}},
            {"RELEASE SAVEPOINT chatwoot_import", {}}};
}

std::vector<Statement> finish_statements(int64_t conversation_id, int64_t contact_id,
                                         std::optional<int64_t> newest_inserted,
                                         std::optional<int64_t> newest_incoming)
{
    std::vector<Statement> out;
    if (newest_inserted) {
        std::string sql = "UPDATE conversations SET last_activity_at = greatest(last_activity_at,"
                          " to_timestamp($2) ";
        sql += kUtc;
        sql += "), updated_at = greatest(updated_at, to_timestamp($2) ";
        sql += kUtc;
        sql += ") WHERE id = $1";
        out.push_back({std::move(sql), {int8_param(conversation_id), int8_param(*newest_inserted)}});
    }
    if (newest_incoming) {
        std::string sql = "UPDATE contacts SET last_activity_at = greatest(last_activity_at,"
                          " to_timestamp($2) ";
        sql += kUtc;
        sql += ") WHERE id = $1";
        out.push_back({std::move(sql), {int8_param(contact_id), int8_param(*newest_incoming)}});
    }
    out.push_back({"COMMIT", {}});
    return out;
}

Statement rollback_statement()
{
    return {"ROLLBACK", {}};
}

}  // namespace chatwoot::helper::pg
