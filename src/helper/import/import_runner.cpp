#include "import_runner.hpp"

#include "chatwoot_command.h"

#include "../ngx.hpp"

#include "../../bridge/chat_identity.hpp"
#include "../../bridge/jid.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <functional>
#include <tuple>

namespace chatwoot::helper {

namespace {

// Messages read from the history at a time: a chat's whole history is
// never in memory.
constexpr size_t kPage = 200;
// Messages one turn of the loop looks at before it lets other events run
// (a second run skips a whole history).
constexpr int64_t kLooksPerTurn = 1000;

bool group_jid(std::string_view jid)
{
    return jid.ends_with("@g.us");
}

// A person's JID without its device ("5511...:3@s.whatsapp.net").
std::string bare(const std::string& jid)
{
    auto parsed = bridge::Jid::parse(jid);
    return parsed ? parsed->without_device().to_string() : jid;
}

std::string user_of(const std::string& jid)
{
    return jid.substr(0, jid.find('@'));
}

bool from_hex(std::string_view hex, wa::Bytes* out)
{
    if (hex.size() % 2 != 0) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    out->clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    }
    return true;
}

// A history message's media (history_repository's JSON: hex keys and
// hashes, the path) as a download; nullopt when it is not one.
struct HistoryMedia {
    MediaJob job;
    std::string mimetype;
    std::string file_name;
    std::string type;
};

std::optional<HistoryMedia> history_media(const std::string& json)
{
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) return std::nullopt;
    auto text = [&](const char* key) -> std::string {
        auto it = d.FindMember(key);
        return it != d.MemberEnd() && it->value.IsString()
                   ? std::string(it->value.GetString(), it->value.GetStringLength())
                   : std::string();
    };
    HistoryMedia m;
    m.type = text("type");
    m.mimetype = text("mimetype");
    m.file_name = text("file_name");
    m.job.type = wa::media::media_type_from_name(m.type).value_or(wa::media::MediaType::document);
    wa::Bytes b;
    if (!from_hex(text("media_key"), &m.job.media_key) || m.job.media_key.size() != 32) {
        return std::nullopt;
    }
    if (from_hex(text("file_sha256"), &b) && b.size() == 32) m.job.file_sha256 = b;
    if (from_hex(text("file_enc_sha256"), &b) && b.size() == 32) m.job.file_enc_sha256 = b;
    if (auto it = d.FindMember("file_length"); it != d.MemberEnd() && it->value.IsUint64()) {
        m.job.file_length = it->value.GetUint64();
    }
    m.job.direct_path = text("direct_path");
    m.job.url = text("url");
    if (m.job.direct_path.empty() && m.job.url.empty()) return std::nullopt;
    return m;
}

// What Chatwoot shows as the file's name: its own, else its kind and id.
std::string file_name_for(const HistoryMedia& m, const std::string& wa_id)
{
    std::string name;
    for (char c : (m.file_name.empty() ? m.type + "-" + wa_id : m.file_name).substr(0, 200)) {
        name.push_back(c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? '_' : c);
    }
    return name;
}

}  // namespace

std::string import_time_prefix(int64_t unix_seconds)
{
    const time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char out[40];
    std::strftime(out, sizeof out, "[%Y-%m-%d %H:%M] ", &tm);
    return out;
}

ImportRunner::ImportRunner(std::string inbox, store::Database& db,
                           store::WaInboundRepository& inbound, ChatwootClient& client,
                           rest::Api api, bridge::InboxOptions options, size_t max_chats,
                           Clock clock, std::function<void()> soon)
    : inbox_(std::move(inbox)),
      db_(db),
      inbound_(inbound),
      client_(client),
      api_(api),
      options_(options),
      max_chats_(std::max<size_t>(1, max_chats)),
      clock_(std::move(clock)),
      soon_(std::move(soon)),
      jobs_(db),
      history_(db, inbox_)
{
}

ImportRunner::~ImportRunner()
{
    // A job stopped on the way (the runtime torn down, a reload) shows so;
    // the next runtime takes it up again.  Requests still queued in the
    // client answer no one: the client goes with us.
    if (job_id_.empty()) {
        return;
    }
    try {
        jobs_.set_state(job_id_, store::ImportState::paused, clock_());
    } catch (...) {
    }
}

void ImportRunner::tick()
{
    if (options_.inbox_id == 0) {
        return;
    }
    if (job_id_.empty()) {
        if (looked_) {
            return;
        }
        looked_ = true;
        take_up();
        if (job_id_.empty()) {
            return;
        }
    }
    if (contacts_running_) {
        return;
    }
    check_ask();
    // Chats that let other events run in the middle of a long skip.
    std::vector<std::string> again;
    again.swap(continue_);
    for (const auto& key : again) {
        if (active_.contains(key)) advance(key);
    }
    start_chats();
}

void ImportRunner::import_on_link(int64_t connected_since, unsigned days, bool groups)
{
    if (linked_known_ || connected_since == 0 || options_.inbox_id == 0) {
        return;
    }
    if (jobs_.linked_before(inbox_)) {
        linked_known_ = true;
        return;
    }
    const int64_t now = clock_();
    auto st = db_.prepare("SELECT count(DISTINCT sync_type) FROM history_chunks"
                          " WHERE inbox = ?1 AND sync_type IN ('initial_bootstrap', 'recent')");
    st.bind(1, std::string_view(inbox_));
    const bool chunks = st.scalar() == 2;
    if (!chunks && now - connected_since < kLinkWait) {
        return;   // the phone is still sending its history
    }
    // A job id of its own kind: no ring handed it out (epoch 0); the time
    // and the inbox, so two inboxes linked in the same second differ.
    char id[CW_COMMAND_ID_SIZE];
    cw_command_id(0, static_cast<uint64_t>(now) << 16
                         | (std::hash<std::string>{}(inbox_) & 0xffff), id);
    store::NewImportJob job;
    job.id = id;
    job.inbox = inbox_;
    job.what = "all";
    job.days = days != 0 ? days : 3;
    job.since = now - job.days * 24 * 60 * 60;
    job.flags = CW_COMMAND_IMPORT_MEDIA | (groups ? CW_COMMAND_IMPORT_GROUPS : 0);
    job.created_at = now;
    std::optional<std::string> refused;
    {
        store::UnitOfWork unit(db_);
        refused = jobs_.file(job);
        // An operator's job running already stands for it: once either way.
        jobs_.mark_linked(inbox_, job.id, now);
        unit.commit();
    }
    linked_known_ = true;
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": first link, import_on_link: %s%s",
                  inbox_.c_str(), refused ? "not started, " : "import ",
                  refused ? refused->c_str() : job.id.c_str());
    poke();
}

// The inbox's job: a queued one is planned; a running or paused one (an
// earlier helper's) goes on where its chats stopped.
void ImportRunner::take_up()
{
    auto job = jobs_.active(inbox_);
    if (!job) {
        return;
    }
    job_id_ = job->id;
    if (job->state == store::ImportState::queued) {
        plan(*job);
        job = jobs_.find(job_id_);
    } else {
        resumed_ = true;
        jobs_.set_state(job_id_, store::ImportState::running, clock_());
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s goes on where it stopped",
                      inbox_.c_str(), job_id_.c_str());
    }
    job_ = job;
    todo_.clear();
    asks_.clear();
    asked_.clear();
    phone_silent_ = false;
    for (auto& c : jobs_.open_chats(job_id_)) {
        todo_.push_back(std::move(c));
    }
    // Contacts first: conversations of the messages part then find them.
    contacts_done_ = job_->what == "messages" || job_->contacts_done > 0;
    if (!contacts_done_) {
        contacts();
    }
}

// The job's chats: those with messages in the window, a person's PN and
// LID chats as one (the live path's chat), oldest first.
void ImportRunner::plan(const store::ImportJobRow& job)
{
    std::vector<store::ImportChatProgress> chats;
    if (job.what != "contacts") {
        const bool groups = (job.flags & CW_COMMAND_IMPORT_GROUPS) != 0;
        std::map<std::string, size_t> index;
        std::vector<int64_t> oldest;
        for (const auto& c : history_.chats_in_window(job.since, groups)) {
            // Broadcast lists and status updates are no one's chat.
            if (c.jid.ends_with("@broadcast") || c.jid.ends_with("@newsletter")) {
                continue;
            }
            store::HistoryChat full = history_.chat(c.jid).value_or(c);
            const std::string key = describe(full).chat_jid;
            auto [it, fresh] = index.emplace(key, chats.size());
            if (fresh) {
                chats.push_back({key, 0, 0, ""});
                oldest.push_back(c.oldest);
            }
            chats[it->second].messages_total += c.messages;
            oldest[it->second] = std::min(oldest[it->second], c.oldest);
        }
        std::vector<size_t> order(chats.size());
        for (size_t i = 0; i < order.size(); i++) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return oldest[a] < oldest[b]; });
        std::vector<store::ImportChatProgress> sorted;
        for (size_t i : order) sorted.push_back(chats[i]);
        chats = std::move(sorted);
    }
    jobs_.start(job.id, chats, clock_());
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": import %s (%s, since %L) started: %uz "
                  "chats", inbox_.c_str(), job.id.c_str(), job.what.c_str(), job.since,
                  chats.size());
}

std::vector<std::string> ImportRunner::forms_of(const std::string& chat)
{
    std::vector<std::string> out{chat};
    if (chat.ends_with("@s.whatsapp.net")) {
        if (auto lid = history_.lid_for_pn(user_of(chat))) out.push_back(*lid + "@lid");
    } else if (chat.ends_with("@lid")) {
        if (auto pn = history_.pn_for_lid(user_of(chat))) out.push_back(*pn + "@s.whatsapp.net");
    }
    if (!group_jid(chat)) {
        // The history's chat rows may name another form (a LID chat's
        // pn_jid), as describe() reads them, with no mapping stored or a
        // different one: without them a person's job chat keyed by one
        // form never reads the other's messages.
        auto st = db_.prepare("SELECT jid, pn_jid, lid_jid FROM history_chats WHERE inbox = ?1"
                              " AND (jid = ?2 OR pn_jid = ?2 OR lid_jid = ?2)");
        st.bind(1, std::string_view(inbox_)).bind(2, std::string_view(chat));
        while (st.step()) {
            for (int i = 0; i < 3; i++) {
                std::string f = bare(st.column_text(i));
                if (!f.empty() && std::find(out.begin(), out.end(), f) == out.end()) {
                    out.push_back(std::move(f));
                }
            }
        }
    }
    return out;
}

void ImportRunner::start_chats()
{
    // Each waiting chat looked at once: one whose person has a chat under
    // way already goes back to the end and waits for a later tick.
    for (size_t n = todo_.size(); n > 0 && active_.size() < max_chats_ && !todo_.empty(); n--) {
        store::ImportChatProgress next = std::move(todo_.front());
        todo_.pop_front();
        if (ask_phone(next)) {
            continue;   // it waits for the phone's answer, holding no slot
        }
        start_chat(next);
    }
    if (active_.empty() && todo_.empty() && asks_.empty() && !contacts_running_) {
        finish_job();
    }
}

std::optional<ImportRunner::Oldest> ImportRunner::oldest_of(const std::vector<std::string>& forms)
{
    std::optional<Oldest> out;
    auto st = db_.prepare("SELECT chat, id, from_me, timestamp FROM history_messages"
                          " WHERE inbox = ?1 AND chat = ?2 ORDER BY timestamp, id LIMIT 1");
    for (const auto& f : forms) {
        st.bind(1, std::string_view(inbox_)).bind(2, std::string_view(f));
        if (st.step()) {
            Oldest o{st.column_text(0), st.column_text(1), st.column_int(2) != 0,
                     st.column_int(3)};
            if (!out || std::tie(o.timestamp, o.id) < std::tie(out->timestamp, out->id)) {
                out = std::move(o);
            }
        }
        st.reset();
    }
    return out;
}

int64_t ImportRunner::in_window(const std::vector<std::string>& forms)
{
    int64_t n = 0;
    auto st = db_.prepare("SELECT count(*) FROM history_messages"
                          " WHERE inbox = ?1 AND chat = ?2 AND timestamp >= ?3");
    for (const auto& f : forms) {
        st.bind(1, std::string_view(inbox_)).bind(2, std::string_view(f)).bind(3, job_->since);
        n += st.scalar();
    }
    return n;
}

int64_t ImportRunner::on_demand_chunks()
{
    auto st = db_.prepare("SELECT count(*) FROM history_chunks"
                          " WHERE inbox = ?1 AND sync_type = 'on_demand'");
    st.bind(1, std::string_view(inbox_));
    return st.scalar();
}

namespace {

std::string asked_key(const std::string& jid)
{
    return "history_asked " + jid;
}

}  // namespace

bool ImportRunner::ask_phone(const store::ImportChatProgress& progress)
{
    // Only before the chat's first message: a cursor already on the way
    // would read past what an answer brings.
    if (device_ == nullptr || !job_ || job_->since <= 0 || phone_silent_
        || !progress.last_id.empty() || progress.last_timestamp != 0
        || asked_.contains(progress.chat))
    {
        return false;
    }
    for (const auto& a : asks_) {
        if (a.progress.chat == progress.chat) return true;
    }
    std::vector<std::string> forms = forms_of(progress.chat);
    auto oldest = oldest_of(forms);
    if (!oldest || oldest->timestamp <= job_->since) {
        return false;   // the store reaches the window's start
    }
    auto known = db_.prepare("SELECT value FROM wa_device_values WHERE device = ?1 AND key = ?2");
    known.bind(1, std::string_view(inbox_)).bind(2, std::string_view(asked_key(oldest->jid)));
    if (known.step() && known.column_text(0) == oldest->id) {
        return false;   // asked before this message once: the phone answered or never will
    }
    Ask a;
    a.progress = progress;
    a.forms = std::move(forms);
    a.oldest = std::move(*oldest);
    a.in_window = in_window(a.forms);
    asks_.push_back(std::move(a));
    if (asks_.size() == 1) send_ask();
    return true;
}

void ImportRunner::send_ask()
{
    Ask& a = asks_.front();
    // What the store holds now (a chunk may have come while it queued).
    if (auto now = oldest_of(a.forms)) a.oldest = std::move(*now);
    a.asked_at = clock_();
    a.chunks = on_demand_chunks();
    a.over = false;
    OutgoingMessage m;
    m.kind = OutgoingMessage::Kind::history_request;
    m.id = device_->new_message_id();
    m.chat = a.oldest.jid;
    m.history = OutgoingMessage::HistoryAsk{a.oldest.id, a.oldest.from_me,
                                            a.oldest.timestamp * 1000, kAskCount};
    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": import %s: asking the phone for messages of "
                  "%s older than %s", inbox_.c_str(), job_id_.c_str(), a.oldest.jid.c_str(),
                  a.oldest.id.c_str());
    const std::string chat = a.progress.chat, named = a.oldest.id, jid = a.oldest.jid;
    device_->send(m, [this, chat, named, jid](const SendResult& r) {
        try {
            auto it = std::find_if(asks_.begin(), asks_.end(),
                                   [&](const Ask& x) { return x.progress.chat == chat; });
            const bool current = it != asks_.end() && it->oldest.id == named && it->asked_at != 0;
            if (r.kind == SendResult::Kind::sent) {
                // The phone has it: not asked again after a restart.
                auto put = db_.prepare("INSERT INTO wa_device_values (device, key, value)"
                                       " VALUES (?1, ?2, ?3) ON CONFLICT (device, key)"
                                       " DO UPDATE SET value = excluded.value");
                put.bind(1, std::string_view(inbox_)).bind(2, std::string_view(asked_key(jid)))
                    .bind(3, std::string_view(named)).run();
            } else if (current) {
                ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                              "chatwoot helper: inbox \"%s\": import: the phone could not be "
                              "asked for older messages of %s: %s", inbox_.c_str(), jid.c_str(),
                              r.reason.c_str());
                it->over = true;
                if (soon_) soon_();
            }
        } catch (const std::exception& e) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: inbox \"%s\": import: %s", inbox_.c_str(), e.what());
        } catch (...) {
        }
    });
}

void ImportRunner::check_ask()
{
    if (asks_.empty()) {
        return;
    }
    Ask& a = asks_.front();
    auto oldest = oldest_of(a.forms);
    bool ended = a.over;
    if (oldest && std::tie(oldest->timestamp, oldest->id) < std::tie(a.oldest.timestamp, a.oldest.id)) {
        // Older messages came: those inside the window join the job's count.
        const int64_t n = in_window(a.forms);
        if (n > a.in_window) {
            jobs_.add_messages_total(job_id_, a.progress.chat, n - a.in_window, clock_());
            a.progress.messages_total += n - a.in_window;
        }
        a.in_window = n;
        if (oldest->timestamp > job_->since) {
            a.oldest = std::move(*oldest);
            send_ask();   // the window reaches further still
            return;
        }
        ended = true;
    } else if (on_demand_chunks() > a.chunks) {
        ended = true;     // answered without older messages: there are none
    } else if (clock_() - a.asked_at >= kAskWait) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s: no answer of the phone for "
                      "%s within %L s; importing what the store has, and asking nothing "
                      "more in this import", inbox_.c_str(), job_id_.c_str(),
                      a.oldest.jid.c_str(), kAskWait);
        phone_silent_ = true;
        ended = true;
    }
    if (!ended) {
        return;
    }
    asked_.insert(a.progress.chat);
    todo_.push_front(std::move(a.progress));
    asks_.pop_front();
    if (phone_silent_) {
        // The chats queued behind it are imported from the store as well.
        while (!asks_.empty()) {
            asked_.insert(asks_.front().progress.chat);
            todo_.push_front(std::move(asks_.front().progress));
            asks_.pop_front();
        }
        return;
    }
    if (!asks_.empty()) send_ask();
}

// The chat as the live path keys it: one per person (a PN and a LID chat
// of the same person are one), its name and phone.
bridge::ImportChat ImportRunner::describe(const store::HistoryChat& c)
{
    bridge::ImportChat out;
    out.name = c.name;
    if (group_jid(c.jid)) {
        out.chat_jid = c.jid;
        out.is_group = true;
        out.identifier = c.jid;
        return out;
    }
    auto jid = bridge::Jid::parse(c.jid);
    bridge::ChatForms forms;
    forms.arrived = jid ? jid->without_device().to_string() : c.jid;
    if (c.jid.ends_with("@lid")) {
        forms.lid = forms.arrived;
        if (!c.pn_jid.empty()) forms.pn = bare(c.pn_jid);
        else if (auto pn = history_.pn_for_lid(user_of(c.jid))) forms.pn = *pn + "@s.whatsapp.net";
    } else {
        forms.pn = forms.arrived;
        if (!c.lid_jid.empty()) forms.lid = bare(c.lid_jid);
        else if (auto lid = history_.lid_for_pn(user_of(c.jid))) forms.lid = *lid + "@lid";
    }
    if (forms.pn) forms.pn_has_chat = inbound_.has_chat(inbox_, *forms.pn);
    if (forms.lid) forms.lid_has_chat = inbound_.has_chat(inbox_, *forms.lid);
    out.chat_jid = bridge::chat_identity(forms);
    out.identifier = out.chat_jid;
    if (forms.pn) {
        if (auto pj = bridge::Jid::parse(*forms.pn)) {
            out.phone = bridge::e164_from_jid(*pj).value_or("");
        }
    }
    if (out.name.empty()) {
        out.name = history_.push_name(c.jid);
        if (out.name.empty() && forms.pn) out.name = history_.push_name(*forms.pn);
        if (out.name.empty() && forms.lid) out.name = history_.push_name(*forms.lid);
    }
    return out;
}

bool ImportRunner::start_chat(const store::ImportChatProgress& progress)
{
    // The planned key stands (the live path may have made a chat of the
    // other form meanwhile: the job's messages stay in one conversation).
    std::vector<std::string> forms = forms_of(progress.chat);
    store::HistoryChat hc;
    hc.jid = progress.chat;
    for (const auto& f : forms) {
        if (auto known = history_.chat(f)) {
            hc = std::move(*known);
            break;
        }
    }
    bridge::ImportChat batch = describe(hc);
    batch.chat_jid = progress.chat;
    batch.identifier = progress.chat;
    const std::string key = inbox_ + "/" + batch.chat_jid;
    if (active_.contains(key)) {
        // A PN and a LID chat of one person: one after the other, in the
        // same conversation.
        todo_.push_back(progress);
        return false;
    }
    Chat& chat = active_[key];
    chat.progress = progress;
    chat.batch = std::move(batch);
    chat.history_jid = progress.chat;
    chat.history_jids = std::move(forms);
    // Taken up from an earlier helper: its last post may be in Chatwoot
    // unrecorded, so the first one looks before it posts.
    chat.unsure = resumed_;
    jobs_.set_current_chat(job_id_, chat.batch.chat_jid);
    if (sink_ != nullptr) {
        sink_page(key);
        return true;
    }
    advance(key);
    return true;
}

std::string ImportRunner::sender_name(const store::HistoryMessage& m) const
{
    if (!m.push_name.empty()) {
        return m.push_name;
    }
    auto& history = const_cast<store::HistoryReader&>(history_);
    const std::string who = bare(m.participant);
    std::string name = history.push_name(who);
    if (!name.empty()) {
        return name;
    }
    std::string pn = who;
    if (who.ends_with("@lid")) {
        if (auto mapped = history.pn_for_lid(user_of(who))) pn = *mapped + "@s.whatsapp.net";
        name = history.push_name(pn);
        if (!name.empty()) return name;
    }
    if (auto jid = bridge::Jid::parse(pn)) {
        if (auto phone = bridge::e164_from_jid(*jid)) return *phone;
    }
    return who.empty() ? std::string("someone") : who;
}

bridge::WaMessage ImportRunner::to_wa_message(const Chat& chat,
                                              const store::HistoryMessage& m) const
{
    bridge::WaMessage w;
    w.id = m.id;
    w.chat = chat.batch.chat_jid;
    w.sender = chat.batch.is_group ? bare(m.participant) : chat.batch.chat_jid;
    w.push_name = m.push_name;
    w.chat_name = chat.batch.name;
    w.from_me = m.from_me;
    w.timestamp = m.timestamp;
    if (m.text) {
        w.text = *m.text;
    } else {
        // What is not text, readable: its kind and caption; its file is not
        // imported (the history keeps its keys, not the file).
        w.text = "[" + (m.kind.empty() ? std::string("message") : m.kind) + "]";
        if (!m.caption.empty()) w.text += " " + m.caption;
        if (m.media && job_ && (job_->flags & CW_COMMAND_IMPORT_MEDIA) != 0) {
            w.text += " [media unavailable]";
        }
    }
    w.lead = import_time_prefix(m.timestamp);
    if (chat.batch.is_group && !m.from_me) {
        w.lead += sender_name(m) + ": ";
    }
    return w;
}

// Skips what Chatwoot has (a run of them in one commit), then posts the
// chat's next message; finishes the chat at the end of its window.
bool ImportRunner::advance(const std::string& key)
{
    Chat& chat = active_.at(key);
    int64_t skipped = 0;
    int64_t skip_ts = 0;
    std::string skip_id;
    auto flush_skips = [&] {
        if (skipped > 0) {
            jobs_.record_skipped(job_id_, chat.history_jid, skip_ts, skip_id, skipped, clock_());
            chat.progress.last_timestamp = skip_ts;
            chat.progress.last_id = skip_id;
            skipped = 0;
        }
    };
    for (int64_t looked = 0;; looked++) {
        if (looked == kLooksPerTurn) {
            flush_skips();
            continue_.push_back(key);
            if (soon_) soon_();
            return true;
        }
        if (chat.page.empty() && !chat.exhausted) {
            auto page = history_.page(chat.history_jids, job_->since, chat.progress.last_timestamp,
                                      chat.progress.last_id, kPage);
            chat.exhausted = page.size() < kPage;
            for (auto& m : page) chat.page.push_back(std::move(m));
        }
        if (chat.page.empty()) {
            flush_skips();
            finish_chat(key, chat.failed);
            return false;
        }
        store::HistoryMessage m = std::move(chat.page.front());
        chat.page.pop_front();
        if (jobs_.known_to_chatwoot(inbox_, m.id)) {
            skipped++;
            skip_ts = m.timestamp;
            skip_id = m.id;
            continue;
        }
        flush_skips();
        chat.current = m;
        // Its file, while WhatsApp has it, when the job asks for media.
        if (m.media && fetcher_ != nullptr && media_store_ != nullptr && job_
            && (job_->flags & CW_COMMAND_IMPORT_MEDIA) != 0)
        {
            if (auto media = history_media(*m.media)) {
                media->job.destination = media_store_->path_for(inbox_, m.id, 0);
                fetcher_->fetch(std::move(media->job), [this, key](const MediaOutcome& o) {
                    try {
                        if (active_.contains(key)) post_current(key, o);
                    } catch (const std::exception& e) {
                        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                      "chatwoot helper: inbox \"%s\": import %s: %s",
                                      inbox_.c_str(), job_id_.c_str(), e.what());
                    }
                });
                return true;
            }
        }
        post_current(key, std::nullopt);
        return true;
    }
}

void ImportRunner::post_current(const std::string& key, const std::optional<MediaOutcome>& media)
{
    Chat& chat = active_.at(key);
    const store::HistoryMessage& m = chat.current;
    bridge::WaMessage w = to_wa_message(chat, m);
    if (media) {
        auto d = history_media(*m.media);
        const std::string path = media_store_->path_for(inbox_, m.id, 0);
        if (media->kind == MediaOutcome::Kind::fetched && d) {
            std::string mime = d->mimetype;
            if (d->type == "sticker" && mime.empty()) mime = "image/webp";
            if (mime.empty() || mime.size() > 128) mime = "application/octet-stream";
            w.attachments.push_back(rest::Attachment{path, mime, file_name_for(*d, m.id)});
            w.text = m.caption;
            chat.media_path = path;
        } else {
            w.text = "[" + (m.kind.empty() ? std::string("media") : m.kind) + ": "
                     + media_failure_note(*media, media_max_) + "]"
                     + (m.caption.empty() ? "" : " " + m.caption);
            media_store_->release(path);
        }
    }
    const store::ChatRow row = inbound_.chat(inbox_, chat.batch.chat_jid);
    const int64_t since = job_->started_at > 0 ? job_->started_at : clock_();
    chat.job = std::make_unique<bridge::ForwardJob>(
        std::move(w), bridge::ChatMapping{row.contact_id, row.conversation_id}, options_, api_,
        chat.unsure, since);
    chat.unsure = false;
    send(key);
}

void ImportRunner::send(const std::string& key)
{
    Chat& chat = active_.at(key);
    if (chat.job->state() != bridge::ForwardJob::State::request) {
        posted(key);
        return;
    }
    client_.submit(key, chat.job->request(),
                   [this, key](const ChatwootClient::Reply& r) { on_reply(key, r); },
                   ChatwootClient::Priority::bulk);
}

void ImportRunner::on_reply(const std::string& key, const ChatwootClient::Reply& reply)
{
    auto it = active_.find(key);
    if (it == active_.end()) {
        return;
    }
    try {
        it->second.job->on_answer(reply.classification, reply.body);
        send(key);
    } catch (const std::exception& e) {
        // The store refused (a full disk): the chat stops here and goes on
        // from its cursor when the job is taken up again.
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s: %s", inbox_.c_str(),
                      job_id_.c_str(), e.what());
        active_.erase(key);
        if (active_.empty()) {
            job_id_.clear();
            looked_ = false;   // taken up again (as after a restart) on a later tick
            resumed_ = true;
        }
    }
}

// The message's job ended: its outcome, the chat's mapping and cursor in one
// unit, then the chat's next message.
void ImportRunner::posted(const std::string& key)
{
    Chat& chat = active_.at(key);
    const bridge::ForwardJob& job = *chat.job;
    const bool ok = job.state() == bridge::ForwardJob::State::done;
    {
        store::RelaxedSync relaxed(db_);
        store::UnitOfWork unit(db_);
        jobs_.record(job_id_, inbox_, chat.history_jid, chat.current.id, chat.current.timestamp,
                     ok ? store::ImportOutcome::posted : store::ImportOutcome::failed,
                     job.chatwoot_message_id(), clock_());
        const auto& m = job.mapping();
        if (m.contact_id || m.conversation_id) {
            inbound_.save_chat(inbox_, chat.batch.chat_jid,
                               store::ChatRow{m.contact_id, m.conversation_id});
        }
        if (!ok) {
            jobs_.note_error(job_id_, job.failure(), clock_());
        }
        unit.commit();
    }
    chat.progress.last_timestamp = chat.current.timestamp;
    chat.progress.last_id = chat.current.id;
    if (!chat.media_path.empty()) {
        // Posted (or refused for good): the file is not needed any more.
        media_store_->release(chat.media_path);
        chat.media_path.clear();
    }
    if (!ok) {
        chat.failed = true;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s: message %s of %s could not "
                      "be put into Chatwoot: %s", inbox_.c_str(), job_id_.c_str(),
                      chat.current.id.c_str(), chat.batch.chat_jid.c_str(),
                      job.failure().c_str());
    }
    chat.job.reset();
    advance(key);
}

// The sink's way: a page of what Chatwoot has not, as one batch.
void ImportRunner::sink_page(const std::string& key)
{
    Chat& chat = active_.at(key);
    auto page = history_.page(chat.history_jids, job_->since, chat.progress.last_timestamp,
                              chat.progress.last_id, kPage);
    if (page.empty()) {
        finish_chat(key, chat.failed);
        return;
    }
    chat.page.assign(page.begin(), page.end());
    bridge::ImportChat batch = chat.batch;
    for (const auto& m : page) {
        if (jobs_.known_to_chatwoot(inbox_, m.id)) continue;
        bridge::WaMessage w = to_wa_message(chat, m);
        batch.messages.push_back({m.id, m.timestamp, m.from_me,
                                  chat.batch.is_group ? bare(m.participant) : std::string(),
                                  chat.batch.is_group && !m.from_me ? sender_name(m)
                                                                    : std::string(),
                                  w.text});
    }
    chat.in_sink = true;
    sink_->import_chat(batch, [this, key, job = job_id_](const ImportSinkResult& r) {
        // A job failed meanwhile (another chat's answer) may have been
        // followed by another one with this chat: not its answer.
        if (job == job_id_) sink_done(key, r);
    });
}

void ImportRunner::sink_done(const std::string& key, const ImportSinkResult& result)
{
    auto it = active_.find(key);
    if (it == active_.end()) {
        return;
    }
    Chat& chat = it->second;
    chat.in_sink = false;
    try {
        if (!result.error.empty() && result.give_up) {
            fail_job(result.error);
            return;
        }
        if (!result.error.empty()) {
            jobs_.note_error(job_id_, result.error, clock_());
            chat.page.clear();
            sink_page(key);   // the same page again: the sink paces its retries
            return;
        }
        std::map<std::string, std::pair<store::ImportOutcome, int64_t>> outcome;
        for (const auto& p : result.posted)
            outcome[p.wa_id] = {store::ImportOutcome::posted, p.chatwoot_message_id};
        for (const auto& s : result.skipped) outcome[s] = {store::ImportOutcome::skipped, 0};
        for (const auto& f : result.failed) outcome[f] = {store::ImportOutcome::failed, 0};
        {
            store::RelaxedSync relaxed(db_);
            store::UnitOfWork unit(db_);
            for (const auto& m : chat.page) {
                auto o = outcome.find(m.id);
                // Left out of the batch (Chatwoot had it), or said nothing of.
                const auto what = o == outcome.end() ? store::ImportOutcome::skipped
                                                     : o->second.first;
                jobs_.record(job_id_, inbox_, chat.history_jid, m.id, m.timestamp, what,
                             o == outcome.end() ? 0 : o->second.second, clock_());
                chat.failed = chat.failed || what == store::ImportOutcome::failed;
            }
            unit.commit();
        }
        chat.progress.last_timestamp = chat.page.back().timestamp;
        chat.progress.last_id = chat.page.back().id;
        chat.page.clear();
        sink_page(key);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s: %s", inbox_.c_str(),
                      job_id_.c_str(), e.what());
    }
}

void ImportRunner::finish_chat(const std::string& key, bool failed)
{
    Chat& chat = active_.at(key);
    jobs_.finish_chat(job_id_, chat.history_jid, failed, clock_());
    active_.erase(key);
    // The next chat starts from the runtime's next tick, not from inside
    // this chat's answer.
    if (soon_) soon_();
}

void ImportRunner::finish_job()
{
    if (job_id_.empty()) {
        return;
    }
    jobs_.complete(job_id_, clock_());
    auto done = jobs_.find(job_id_);
    if (done) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": import %s completed: %L messages "
                      "posted, %L skipped, %L failed; %L contacts",
                      inbox_.c_str(), job_id_.c_str(), done->messages_done,
                      done->messages_skipped, done->messages_failed, done->contacts_done);
    }
    job_id_.clear();
    job_.reset();
    resumed_ = false;
    contacts_done_ = false;
    looked_ = false;   // the next job, if one waits
}

// The sink refuses the job for good: the job fails with its reason, and
// its chats stop where they are (their answers still out are dropped).
void ImportRunner::fail_job(const std::string& why)
{
    jobs_.fail(job_id_, why, clock_());
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "chatwoot helper: inbox \"%s\": import %s failed: %s", inbox_.c_str(),
                  job_id_.c_str(), why.c_str());
    active_.clear();
    todo_.clear();
    continue_.clear();
    job_id_.clear();
    job_.reset();
    resumed_ = false;
    contacts_done_ = false;
    looked_ = false;
    if (soon_) soon_();
}

// Contacts: each person of the history's 1:1 chats (one per person), found
// or created in Chatwoot, one at a time.
void ImportRunner::contacts()
{
    contacts_todo_.clear();
    std::map<std::string, bridge::ImportChat> people;
    for (const auto& c : history_.all_chats()) {
        if (group_jid(c.jid) || c.jid.ends_with("@broadcast") || c.jid.ends_with("@newsletter")
            || (!c.jid.ends_with("@s.whatsapp.net") && !c.jid.ends_with("@lid")))
        {
            continue;
        }
        bridge::ImportChat p = describe(c);
        auto& kept = people[p.chat_jid];
        if (kept.chat_jid.empty() || (kept.name.empty() && !p.name.empty())) {
            kept = std::move(p);
        }
    }
    for (auto& [_, p] : people) contacts_todo_.push_back(std::move(p));
    contacts_running_ = true;
    next_contact();
}

void ImportRunner::next_contact()
{
    if (contacts_todo_.empty()) {
        contacts_running_ = false;
        contacts_done_ = true;
        if (soon_) soon_();
        return;
    }
    const bridge::ImportChat& person = contacts_todo_.front();
    const std::string key = inbox_ + "/" + person.chat_jid;
    auto jid = bridge::Jid::parse(person.chat_jid);
    client_.submit(
        key, api_.search_contacts(jid ? jid->user() : person.chat_jid),
        [this, key](const ChatwootClient::Reply& reply) {
            try {
                const bridge::ImportChat person = contacts_todo_.front();
                auto counted = [&] {
                    contacts_todo_.pop_front();
                    jobs_.add_contacts(job_id_, 1, clock_());
                    next_contact();
                };
                if (reply.classification.outcome != rest::Outcome::success) {
                    jobs_.note_error(job_id_, "contact " + person.chat_jid + ": "
                                                  + reply.classification.reason, clock_());
                    contacts_todo_.pop_front();
                    next_contact();
                    return;
                }
                auto list = rest::parse_contact_list(reply.body);
                if (list) {
                    for (const auto& c : *list.value) {
                        if (c.identifier == person.chat_jid
                            || (c.identifier.empty() && !person.phone.empty()
                                && c.phone_number == person.phone)) {
                            // Updated where it shows only a placeholder (no
                            // name, or the number) or lacks the phone; a
                            // name an agent gave stays.
                            const bool placeholder = c.name.empty() || c.name == c.phone_number
                                                     || c.name == person.phone
                                                     || c.name == person.chat_jid;
                            const bool rename = !person.name.empty() && placeholder
                                                && c.name != person.name;
                            const bool phone = c.phone_number.empty() && !person.phone.empty();
                            if (!rename && !phone) {
                                counted();
                                return;
                            }
                            client_.submit(
                                key,
                                api_.update_contact(
                                    c.id, rename ? person.name : c.name,
                                    phone ? std::optional<std::string_view>(person.phone)
                                          : std::nullopt),
                                [this, person](const ChatwootClient::Reply& updated) {
                                    try {
                                        if (updated.classification.outcome
                                            == rest::Outcome::success) {
                                            jobs_.add_contacts(job_id_, 1, clock_());
                                        } else {
                                            jobs_.note_error(job_id_, "contact " + person.chat_jid
                                                                 + ": "
                                                                 + updated.classification.reason,
                                                             clock_());
                                        }
                                        contacts_todo_.pop_front();
                                        next_contact();
                                    } catch (const std::exception& e) {
                                        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                                      "chatwoot helper: inbox \"%s\": import: %s",
                                                      inbox_.c_str(), e.what());
                                    }
                                },
                                ChatwootClient::Priority::bulk);
                            return;
                        }
                    }
                }
                rest::NewContact nc;
                nc.identifier = person.chat_jid;
                if (!person.phone.empty()) nc.phone_number = person.phone;
                nc.inbox_id = options_.inbox_id;
                nc.source_id = person.chat_jid;
                nc.name = !person.name.empty() ? person.name
                                               : person.phone.empty() ? person.chat_jid
                                                                      : person.phone;
                client_.submit(
                    key, api_.create_contact(nc),
                    [this, person](const ChatwootClient::Reply& created) {
                        try {
                            auto c = rest::parse_created_contact(created.body);
                            if (created.classification.outcome == rest::Outcome::success && c) {
                                // The live path's mapping, unless it has one.
                                if (!inbound_.chat(inbox_, person.chat_jid).contact_id) {
                                    inbound_.save_chat(inbox_, person.chat_jid,
                                                       store::ChatRow{c.value->id, std::nullopt});
                                }
                                jobs_.add_contacts(job_id_, 1, clock_());
                            } else {
                                // "already been taken": made meanwhile; else why.
                                jobs_.note_error(job_id_, "contact " + person.chat_jid + ": "
                                                              + created.classification.reason,
                                                 clock_());
                            }
                            contacts_todo_.pop_front();
                            next_contact();
                        } catch (const std::exception& e) {
                            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                          "chatwoot helper: inbox \"%s\": import: %s",
                                          inbox_.c_str(), e.what());
                        }
                    },
                    ChatwootClient::Priority::bulk);
            } catch (const std::exception& e) {
                ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                              "chatwoot helper: inbox \"%s\": import: %s", inbox_.c_str(),
                              e.what());
            }
        },
        ChatwootClient::Priority::bulk);
}

}  // namespace chatwoot::helper
