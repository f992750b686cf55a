#include "control_conversation.hpp"

#include "chatwoot_qr.h"

#include "../bridge/control_command.hpp"
#include "../bridge/jid.hpp"

#include <cstdio>
#include <ctime>
#include <exception>
#include <functional>
#include <vector>

#include <unistd.h>

namespace chatwoot::helper {

namespace {

constexpr const char* kContactName = "WhatsApp bridge";
constexpr size_t kCommandsPerTake = 16;

// "+5511999999999 (Name)" for the device's own account, from its JID.
std::string who(const DeviceStatus& s)
{
    std::string number;
    if (auto jid = bridge::Jid::parse(s.pn_jid)) {
        if (auto e164 = bridge::e164_from_jid(*jid)) number = *e164;
    }
    if (number.empty()) number = s.pn_jid.empty() ? "an unknown number" : s.pn_jid;
    if (!s.push_name.empty()) number += " (" + s.push_name + ")";
    return number;
}

std::string utc(int64_t t)
{
    if (t <= 0) return "unknown";
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

// Renders the QR text as a PNG file; false when it cannot be one.
bool write_qr_png(const std::string& text, const std::string& path)
{
    std::vector<unsigned char> png(16 * 1024);
    size_t n = cw_qr_render(text.data(), text.size(), CW_QR_PNG, png.data(), png.size());
    if (n > png.size()) {
        png.resize(n);
        n = cw_qr_render(text.data(), text.size(), CW_QR_PNG, png.data(), png.size());
    }
    if (n == 0 || n > png.size()) return false;
    FILE* f = std::fopen(path.c_str(), "wbx");
    if (f == nullptr) {
        std::remove(path.c_str());
        f = std::fopen(path.c_str(), "wbx");
        if (f == nullptr) return false;
    }
    const bool ok = std::fwrite(png.data(), 1, n, f) == n;
    return std::fclose(f) == 0 && ok;
}

}  // namespace

ControlConversation::ControlConversation(std::string inbox, ChatwootClient& client,
                                         rest::Api api, int64_t inbox_id, store::Database& db,
                                         Device& device, std::string media_dir,
                                         int64_t throttle_sec, Clock now)
    : inbox_(std::move(inbox)),
      client_(client),
      api_(api),
      inbox_id_(inbox_id),
      db_(db),
      repo_(db),
      device_(device),
      media_dir_(std::move(media_dir)),
      throttle_(throttle_sec),
      now_(std::move(now))
{
}

ControlConversation::~ControlConversation()
{
    *alive_ = false;
    if (!qr_file_.empty()) ::unlink(qr_file_.c_str());
}

void ControlConversation::set_inbox_id(int64_t id)
{
    inbox_id_ = id;
    work_ = true;
    pump();
}

std::string ControlConversation::hhmmss(int64_t t) const
{
    const std::string u = utc(t);
    return u.size() >= 19 ? u.substr(11, 8) : u;
}

void ControlConversation::notice(std::string_view kind, std::string text, bool throttled,
                                 std::string label)
{
    const int64_t now = now_();
    if (throttled
        && !throttle_.offer(kind, label.empty() ? std::string(kind) + " at " + hhmmss(now)
                                                : label,
                            now))
    {
        return;   // said in the summary
    }
    file_notice(kind, text, false, now);
    work_ = true;
    pump();
}

void ControlConversation::file_notice(std::string_view kind, std::string_view text, bool qr,
                                      int64_t now)
{
    mine_.insert(repo_.add_notice(inbox_, kind, text, qr, now));
}

void ControlConversation::observe(const DeviceStatus& s)
{
    const DeviceStatus prev = observed_ ? last_ : DeviceStatus{};
    const bool first = !observed_;
    observed_ = true;
    last_ = s;
    const int64_t now = now_();
    if (first || s.state != prev.state) state_since_ = now;

    if ((first || prev.state == DeviceState::pairing_qr) && s.state != DeviceState::pairing_qr) {
        // Pairing by QR is over (linked, or a code instead): no image stays;
        // pump() deletes the one on show before it says what came next.
        shown_qr_ = 0;
        repo_.drop_pending_qr(inbox_);
        keep_qr_ = 0;
        work_ = true;
    }
    if (first || s.state != prev.state) {
        switch (s.state) {
        case DeviceState::connected: {
            const bool linking = linking_;
            linking_ = false;
            // Linking is the end of what an operator did, not a flap: said
            // at once, whatever the throttle holds.
            notice("connected",
                   (linking ? "Linked as " : "WhatsApp connected as ") + who(s) + ".", !linking,
                   "connected at " + hhmmss(now));
            break;
        }
        case DeviceState::connecting:
            if (prev.state == DeviceState::connected) {
                notice("disconnected",
                       "WhatsApp disconnected; reconnecting (reconnects so far: "
                           + std::to_string(s.reconnects) + ").",
                       true, "disconnected at " + hhmmss(now));
            }
            break;
        case DeviceState::logged_out:
            notice("logged_out",
                   "WhatsApp logged this device out" + (s.reason.empty() ? "" : ": " + s.reason)
                       + ". Type qr (or code +5511...) to link a phone again.",
                   true, "logged out at " + hhmmss(now));
            break;
        case DeviceState::unpaired:
            if (!first || !s.reason.empty()) {
                notice("pairing",
                       "The WhatsApp device needs pairing"
                           + (s.reason.empty() ? "" : ": " + s.reason)
                           + ". Type qr (or code +5511...) to link a phone.",
                       true, "needs pairing at " + hhmmss(now));
            }
            break;
        case DeviceState::passkey:
            notice("passkey",
                   "This WhatsApp account links with a passkey: finish on the devices login "
                   "page (the code shown there must match the phone's).",
                   true, "passkey needed at " + hhmmss(now));
            break;
        case DeviceState::error: {
            const bool outdated = s.reason.find("outdated") != std::string::npos;
            notice(outdated ? "outdated" : "error",
                   std::string(outdated ? "WhatsApp says this client is outdated"
                                        : "The WhatsApp device stopped")
                       + (s.reason.empty() ? "" : ": " + s.reason) + ".",
                   true, (outdated ? "client outdated at " : "stopped at ") + hhmmss(now));
            break;
        }
        case DeviceState::pairing_qr:
        case DeviceState::pairing_code:
            break;   // the QR or the code below says it
        }
    }
    if (!first && s.restriction != prev.restriction) {
        notice("restricted",
               s.restriction.empty()
                   ? std::string("The WhatsApp account restriction was lifted.")
                   : "WhatsApp restricted this account: " + s.restriction
                         + ". Messages to new contacts may fail while it lasts.",
               true, "restriction " + std::string(s.restriction.empty() ? "lifted" : "set")
                         + " at " + hhmmss(now));
    } else if (first && !s.restriction.empty()) {
        notice("restricted", "WhatsApp restricted this account: " + s.restriction + ".", true);
    }

    // The QR: a new text is a new image; the old ones go once it is shown.
    if (s.state == DeviceState::pairing_qr && !s.qr.empty()) {
        const size_t h = std::hash<std::string_view>{}(s.qr);
        if (h != shown_qr_ || qr_asked_) {
            shown_qr_ = h;
            qr_asked_ = false;
            linking_ = true;
            store::UnitOfWork unit(db_);
            repo_.drop_pending_qr(inbox_);
            file_notice("qr",
                             "Scan this QR code with WhatsApp on the phone to link it "
                             "(Settings > Linked devices > Link a device). It is replaced "
                             "here as it changes.",
                             true, now);
            unit.commit();
            work_ = true;
        }
    }
    if (!s.pair_code.empty() && s.state == DeviceState::pairing_code) {
        const size_t h = std::hash<std::string_view>{}(s.pair_code);
        if (h != shown_code_) {
            shown_code_ = h;
            linking_ = true;
            file_notice("code",
                             "Pairing code: " + s.pair_code
                                 + "\nOn the phone: WhatsApp > Linked devices > Link a device > "
                                   "Link with phone number instead, then type this code.",
                             false, now);
            work_ = true;
        }
    } else if (s.pair_code.empty()) {
        shown_code_ = 0;
    }
    pump();
}

void ControlConversation::message_rejected(const std::string& chat, int64_t timestamp,
                                           const std::string& reason)
{
    std::string where = chat;
    if (auto jid = bridge::Jid::parse(chat)) {
        if (auto e164 = bridge::e164_from_jid(*jid)) where = *e164 + " (" + chat + ")";
    }
    notice("dead_letter",
           "Chatwoot rejected a WhatsApp message for good: chat " + where + ", sent "
               + utc(timestamp) + ". Reason: " + reason + ".",
           true, "a message of " + where + " rejected at " + hhmmss(now_()));
}

void ControlConversation::reply_refused(int64_t conversation_id)
{
    notice("restricted",
           "WhatsApp refused a reply in conversation " + std::to_string(conversation_id)
               + " with error 463: the account may not start chats with new contacts now "
                 "(reach-out restriction); the contact must write first.",
           true, "a reply refused with 463 at " + hhmmss(now_()));
}

std::string ControlConversation::status_text()
{
    const DeviceStatus s = device_.status();
    std::string t = "State: " + std::string(to_string(s.state));
    if (observed_ && state_since_ > 0) t += " since " + utc(state_since_);
    if (!s.reason.empty()) t += " (" + s.reason + ")";
    t += "\nNumber: " + (s.pn_jid.empty() ? std::string("not linked") : who(s));
    if (s.connected_since > 0) t += "\nConnected since: " + utc(s.connected_since);
    t += "\nReconnects: " + std::to_string(s.reconnects);
    if (!s.restriction.empty()) t += "\nRestriction: " + s.restriction;
    const auto w = repo_.waiting(inbox_);
    t += "\nWhatsApp messages waiting for Chatwoot: " + std::to_string(w.to_chatwoot);
    t += "\nAgent actions waiting for WhatsApp (outbox): " + std::to_string(w.to_whatsapp);
    return t;
}

std::string ControlConversation::answer(const std::string& content)
{
    using Kind = bridge::ControlCommand::Kind;
    const bridge::ControlCommand c = bridge::parse_control_command(content);
    switch (c.kind) {
    case Kind::status:
        return status_text();
    case Kind::help:
        return std::string(bridge::control_help_text());
    case Kind::invalid:
        return c.error;
    case Kind::unknown:
        return "Unknown command; try help.";
    case Kind::qr: {
        if (auto why = device_.pair(std::nullopt)) return "Cannot pair by QR: " + *why + ".";
        qr_asked_ = true;   // shown again even if the text did not change
        return "Pairing by QR: the QR code follows here.";
    }
    case Kind::code: {
        if (auto why = device_.pair(c.phone)) return "Cannot pair by code: " + *why + ".";
        return "Asking WhatsApp for a pairing code for +" + c.phone
               + "; it follows here.";
    }
    case Kind::logout:
        if (auto why = device_.log_out()) return "Cannot log out: " + *why + ".";
        return "Logging out of WhatsApp.";
    case Kind::reconnect:
        if (auto why = device_.reconnect()) return "Cannot reconnect: " + *why + ".";
        return "Reconnecting to WhatsApp.";
    }
    return "Unknown command; try help.";
}

void ControlConversation::take_commands()
{
    for (const auto& c : repo_.pending_commands(inbox_, kCommandsPerTake)) {
        // What the command did is not undone if the store fails below: the
        // row stays and the command runs again at the next take (each is
        // harmless twice: a state, a QR, a code anew).
        std::string reply = answer(c.content);
        store::UnitOfWork unit(db_);
        file_notice("answer", reply, false, now_());
        repo_.command_handled(inbox_, c.chatwoot_message_id, now_());
        if (!repo_.place(inbox_).conversation_id) {
            repo_.save_place(inbox_, store::ControlPlace{std::nullopt, c.conversation_id});
        }
        unit.commit();
        work_ = true;
    }
    // The QR a "qr" command asked for, if the device shows one already.
    observe(device_.status());
}

void ControlConversation::tick()
{
    if (auto summary = throttle_.summary(now_())) {
        file_notice("summary", *summary, false, now_());
        work_ = true;
    }
    pump();
}

void ControlConversation::pump()
{
    // observe() runs every tick: the store is looked at only when there
    // may be work (a notice filed, a post or delete ended, the start).
    if (busy_ || inbox_id_ == 0 || !work_) {
        return;
    }
    const store::ControlPlace place = repo_.place(inbox_);
    if (place.conversation_id) {
        // QR images no longer current go first (the new one is on show).
        auto old = repo_.qr_to_delete(inbox_, keep_qr_);
        if (!old.empty()) {
            delete_qr(old.front());
            return;
        }
    }
    while (auto n = repo_.next_pending(inbox_)) {
        if (n->qr) {
            const DeviceStatus s = device_.status();
            if (s.state != DeviceState::pairing_qr || s.qr.empty()) {
                repo_.settle_notice(n->id, "dropped", std::nullopt);   // pairing is over
                continue;
            }
        }
        start_post(*n);
        return;
    }
    work_ = false;   // until something is filed
}

void ControlConversation::start_post(const store::ControlNotice& n)
{
    bridge::WaMessage m;
    // Unique across store resets too (the time), so a look finds this post only.
    m.id = "bridge-" + std::to_string(n.id) + "-" + std::to_string(n.created_at);
    m.chat = contact_identifier(inbox_);
    m.chat_name = kContactName;
    m.text = n.text;
    m.timestamp = n.created_at;
    if (n.qr) {
        qr_file_ = media_dir_ + "/control-qr-" + std::to_string(n.id) + ".png";
        if (!write_qr_png(device_.status().qr, qr_file_)) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chatwoot helper: inbox \"%s\": the QR image could not be written "
                          "to %s", inbox_.c_str(), qr_file_.c_str());
            ::unlink(qr_file_.c_str());
            qr_file_.clear();
            repo_.settle_notice(n.id, "failed", std::nullopt);
            return;
        }
        m.attachments.push_back(rest::Attachment{qr_file_, "image/png", "whatsapp-qr.png"});
    }
    const store::ControlPlace place = repo_.place(inbox_);
    // Tried before by this helper, or left pending by an earlier one: it
    // may be in Chatwoot already.
    const bool may_be_posted = tried_.count(n.id) > 0 || mine_.count(n.id) == 0;
    tried_.insert(n.id);
    posting_ = n;
    busy_ = true;
    job_ = std::make_unique<bridge::ForwardJob>(
        std::move(m), bridge::ChatMapping{place.contact_id, place.conversation_id},
        bridge::InboxOptions{inbox_id_, true, false}, api_, may_be_posted, n.created_at);
    send_job();
}

void ControlConversation::send_job()
{
    if (job_->state() != bridge::ForwardJob::State::request) {
        job_ended();
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    client_.submit(inbox_ + "/" + contact_identifier(inbox_), job_->request(),
                   [this, alive](const ChatwootClient::Reply& r) {
                       if (alive.expired() || !*alive.lock()) return;
                       try {
                           job_->on_answer(r.classification, r.body);
                           send_job();
                       } catch (const std::exception& e) {
                           busy_ = false;
                           work_ = true;
                           ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                         "chatwoot helper: inbox \"%s\": control "
                                         "conversation: %s", inbox_.c_str(), e.what());
                       }
                   });
}

void ControlConversation::job_ended()
{
    const bool done = job_->state() == bridge::ForwardJob::State::done;
    const auto& mapping = job_->mapping();
    {
        store::UnitOfWork unit(db_);
        if (mapping.contact_id || mapping.conversation_id) {
            repo_.save_place(inbox_, store::ControlPlace{mapping.contact_id,
                                                         mapping.conversation_id});
        }
        repo_.settle_notice(posting_.id, done ? "posted" : "failed",
                            done ? std::optional<int64_t>(job_->chatwoot_message_id())
                                 : std::nullopt);
        unit.commit();
    }
    tried_.erase(posting_.id);
    mine_.erase(posting_.id);
    if (!done) {
        // The notice's text is not logged: a pairing code may be in it.
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chatwoot helper: inbox \"%s\": a %s notice could not be posted in "
                      "the control conversation: %s", inbox_.c_str(), posting_.kind.c_str(),
                      job_->failure().c_str());
    } else if (posting_.qr) {
        keep_qr_ = posting_.id;   // on show; the ones before it go next
        if (last_.state != DeviceState::pairing_qr) keep_qr_ = 0;
    }
    if (!qr_file_.empty()) {
        ::unlink(qr_file_.c_str());
        qr_file_.clear();
    }
    job_.reset();
    busy_ = false;
    work_ = true;
    pump();
}

void ControlConversation::delete_qr(const store::ControlNotice& n)
{
    const store::ControlPlace place = repo_.place(inbox_);
    busy_ = true;
    const int64_t id = n.id;
    std::weak_ptr<bool> alive = alive_;
    client_.submit(inbox_ + "/" + contact_identifier(inbox_),
                   api_.delete_message(*place.conversation_id, n.chatwoot_message_id.value_or(0)),
                   [this, alive, id](const ChatwootClient::Reply& r) {
                       if (alive.expired() || !*alive.lock()) return;
                       try {
                           busy_ = false;
                           // Gone already (404) counts as deleted; another
                           // failure leaves the image, said once in the log.
                           if (r.classification.outcome != rest::Outcome::success
                               && !r.classification.not_found())
                           {
                               ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                                             "chatwoot helper: inbox \"%s\": an old QR image "
                                             "could not be deleted: %s", inbox_.c_str(),
                                             r.classification.reason.c_str());
                           }
                           repo_.mark_deleted(id);
                           work_ = true;
                           pump();
                       } catch (const std::exception& e) {
                           ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                         "chatwoot helper: inbox \"%s\": control "
                                         "conversation: %s", inbox_.c_str(), e.what());
                       }
                   });
}

}  // namespace chatwoot::helper
