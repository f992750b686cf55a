#include "forward_job.hpp"

#include "jid.hpp"
#include "whatsapp_markdown.hpp"

namespace chatwoot::bridge {

namespace {

// A look-then-create that keeps finding nothing although creates keep
// failing is a broken contract, not a transient: stop after a few rounds.
constexpr int kMaxSearches = 4;

std::string source_id_of(const std::string& wa_id) { return "WAID:" + wa_id; }

// The chat's phone number as Chatwoot wants it, when the chat has one.
std::optional<std::string> phone_of(const std::string& chat)
{
    auto jid = Jid::parse(chat);
    return jid ? e164_from_jid(*jid) : std::nullopt;
}

bool is_group(const std::string& chat)
{
    auto jid = Jid::parse(chat);
    return jid && jid->kind() == JidKind::group;
}

}  // namespace

ForwardJob::ForwardJob(WaMessage message, ChatMapping known, InboxOptions options,
                       rest::Api api, bool may_be_posted, int64_t posted_since,
                       EventTargets targets)
    : message_(std::move(message)),
      mapping_(known),
      options_(options),
      api_(api),
      look_first_(may_be_posted),
      posted_since_(posted_since),
      targets_(std::move(targets.ids)),
      removed_reaction_(std::move(targets.removed_reaction))
{
    using Kind = WaMessage::Kind;
    if (message_.kind == Kind::revoke && !targets_.empty()) {
        look_first_ = false;   // a DELETE is idempotent: nothing to look for
    }
    if (message_.kind == Kind::read) {
        look_first_ = false;   // so is a status
        if (targets_.empty()) {
            state_ = State::done;   // none of them is in Chatwoot
            return;
        }
    }
    if (message_.kind != Kind::message && message_.kind != Kind::read && targets_.size() > 1) {
        targets_.resize(1);
    }
    next();
}

namespace {

// Chatwoot shows one contact per group: a group message names who spoke.
std::string with_sender(const WaMessage& m, std::string text)
{
    if (is_group(m.chat) && !m.from_me) {
        // Chatwoot shows one contact per group: name who spoke.
        std::string who = m.push_name;
        if (who.empty()) {
            auto jid = Jid::parse(m.sender);
            auto phone = jid ? e164_from_jid(*jid) : std::nullopt;
            who = phone ? *phone : m.sender;
        }
        text = "**" + who + ":** " + text;
    }
    return text;
}

}  // namespace

std::string ForwardJob::chatwoot_content(const WaMessage& m)
{
    if (!m.lead.empty()) {
        return m.lead + whatsapp_to_chatwoot(m.text);
    }
    return with_sender(m, whatsapp_to_chatwoot(m.text));
}

std::string ForwardJob::event_content(const WaMessage& m, bool known, std::string_view removed)
{
    switch (m.kind) {
    case WaMessage::Kind::reaction:
        if (m.text.empty()) {
            const std::string what = removed.empty() ? std::string("a reaction")
                                                     : "the reaction " + std::string(removed);
            return with_sender(m, known ? "*removed " + what + "*"
                                        : "*removed " + what + " from a message that is "
                                          "not in Chatwoot*");
        }
        return with_sender(m, known ? m.text
                                    : m.text + " *(a reaction to a message that is not "
                                               "in Chatwoot)*");
    case WaMessage::Kind::edit:
        return with_sender(m, (known ? "*Edited:* " : "*Edited a message that is not in "
                                                      "Chatwoot:* ")
                                  + whatsapp_to_chatwoot(m.text));
    case WaMessage::Kind::revoke:
        return with_sender(m, "*Deleted for everyone on WhatsApp: a message that is not in "
                              "Chatwoot (" + m.target + ")*");
    case WaMessage::Kind::message:
    case WaMessage::Kind::read:
        break;
    }
    return chatwoot_content(m);
}

std::string ForwardJob::failure_note(const WaMessage& m, std::string_view why)
{
    // The text rides along so nothing is lost to the agents; cut, since a
    // text over Chatwoot's limit may be the very reason.
    constexpr size_t kMaxQuoted = 2000;
    std::string text = m.text.substr(0, kMaxQuoted);
    while (!text.empty() && text.size() < m.text.size()
           && (static_cast<unsigned char>(m.text[text.size()]) & 0xC0) == 0x80)
    {
        text.pop_back();  // never cut inside a UTF-8 sequence
    }
    std::string note = "WhatsApp message " + m.id + " could not be added here ("
                       + std::string(why) + ")";
    if (!m.attachments.empty()) {
        note += ", with " + std::to_string(m.attachments.size()) + " attachment(s)";
    }
    if (!text.empty()) {
        note += ":\n\n" + text;
        if (text.size() < m.text.size()) {
            note += " [...]";
        }
    }
    return note;
}

// Picks the next request from what is known.
void ForwardJob::next()
{
    if (!mapping_.contact_id) {
        if (++searches_ > kMaxSearches) {
            fail("the contact could neither be found nor created");
            return;
        }
        // Identifiers are searched with a substring match; the exact
        // identifier (or phone) is checked in the answer.
        auto jid = Jid::parse(message_.chat);
        ask(Step::search_contact,
            api_.search_contacts(jid ? jid->user() : message_.chat));
        return;
    }
    if (!mapping_.conversation_id) {
        ask(Step::list_conversations, api_.contact_conversations(*mapping_.contact_id));
        return;
    }
    if (look_first_) {
        look_first_ = false;
        look_for_post();
        return;
    }
    act();
}

void ForwardJob::act()
{
    using Kind = WaMessage::Kind;
    const int64_t conversation = *mapping_.conversation_id;
    const bool known = !targets_.empty();
    if (message_.kind == Kind::read) {
        mark_next_read();
        return;
    }
    if (message_.kind == Kind::revoke && known) {
        ask(Step::delete_target, api_.delete_message(conversation, targets_.front()));
        return;
    }
    rest::NewMessage m;
    m.message_type = message_.from_me ? "outgoing" : "incoming";
    m.source_id = source_id_of(message_.id);
    if (message_.kind == Kind::message) {
        m.content = chatwoot_content(message_);
        if (message_.reply_to) {
            m.in_reply_to_external_id = source_id_of(*message_.reply_to);
        }
        m.attachments = message_.attachments;
    } else {
        m.content = event_content(message_, known, removed_reaction_);
        if (known) {
            m.in_reply_to = targets_.front();
        }
        if (message_.kind == Kind::revoke) {
            // What the contact deleted is nobody's message here: a note for
            // the agents, under the revoke's own id so a lost answer is
            // looked up rather than noted twice.
            m.message_type = "outgoing";
            m.is_private = true;
        }
    }
    ask(Step::post_message, api_.create_message(conversation, m));
}

void ForwardJob::mark_next_read()
{
    if (read_next_ >= targets_.size()) {
        state_ = State::done;
        return;
    }
    ask(Step::mark_read, api_.update_message_status(*mapping_.conversation_id,
                                                    targets_[read_next_], "read"));
}

void ForwardJob::ask(Step step, rest::Request request)
{
    step_ = step;
    request_ = std::move(request);
    state_ = State::request;
}

// From the newest page of the conversation; on_posted_search pages back.
void ForwardJob::look_for_post()
{
    pages_ = 0;
    ask(Step::find_posted_message, api_.list_messages(*mapping_.conversation_id));
}

void ForwardJob::fail(std::string why)
{
    failure_ = std::move(why);
    state_ = State::failed;
}

void ForwardJob::on_answer(const rest::Classification& c, std::string_view body)
{
    if (state_ != State::request) {
        return;
    }
    if (step_ == Step::post_failure_note) {
        // Whatever became of the note, the message itself failed.
        state_ = State::failed;
        return;
    }
    // Chatwoot did it but its answer could not be read (over the client's
    // cap): like a lost answer, the create is looked up, not made again.
    const bool done_unread = c.outcome == rest::Outcome::permanent && c.may_have_applied;
    if (c.outcome == rest::Outcome::success || c.not_found() || done_unread) {
        // Deleted (or gone already, by an agent or an earlier try), marked
        // read (or no longer there to mark), or done with an answer too long to
        // read: either way that one is done.
        if (step_ == Step::delete_target) {
            state_ = State::done;
            return;
        }
        if (step_ == Step::mark_read) {
            read_next_++;
            mark_next_read();
            return;
        }
    }
    if (c.outcome == rest::Outcome::retry || done_unread) {
        // Only creates come back unretried: they may have happened, so look
        // before creating again.
        switch (step_) {
        case Step::create_contact:
            next();  // searches again
            return;
        case Step::create_conversation:
        case Step::reopen_conversation:
            ask(Step::list_conversations,
                api_.contact_conversations(*mapping_.contact_id));
            return;
        case Step::post_message:
            look_for_post();
            return;
        default:
            fail(done_unread ? c.reason : "gave up retrying: " + c.reason);
            return;
        }
    }
    if (c.not_found()) {
        // A mapping Chatwoot no longer knows (deleted contact or
        // conversation): resolve it again from the top.
        if (step_ == Step::post_message || step_ == Step::find_posted_message
            || step_ == Step::reopen_conversation)
        {
            mapping_.conversation_id.reset();
        } else {
            mapping_ = ChatMapping{};
        }
        if (++not_founds_ > kMaxSearches) {
            fail("Chatwoot keeps answering 404: " + c.reason);
            return;
        }
        next();
        return;
    }
    if (c.outcome == rest::Outcome::permanent) {
        if (step_ == Step::create_contact && c.reason.find("already been taken")
                                                 != std::string::npos)
        {
            next();  // someone created it meanwhile: find it
            return;
        }
        fail(c.reason);
        if (step_ == Step::post_message) {
            rest::NewMessage note;
            note.content = failure_note(message_, c.reason);
            note.message_type = "outgoing";
            note.is_private = true;
            ask(Step::post_failure_note,
                api_.create_message(*mapping_.conversation_id, note));
        }
        return;
    }

    switch (step_) {
    case Step::search_contact:
        on_contact_search(body);
        break;
    case Step::create_contact:
        on_contact_created(body);
        break;
    case Step::list_conversations:
        on_conversations(body);
        break;
    case Step::reopen_conversation:
        next();
        break;
    case Step::create_conversation:
        on_conversation(body);
        break;
    case Step::post_message:
        on_posted(body);
        break;
    case Step::find_posted_message:
        on_posted_search(body);
        break;
    case Step::post_failure_note:
    case Step::delete_target:
    case Step::mark_read:
        break;  // handled above
    }
}

void ForwardJob::on_contact_search(std::string_view body)
{
    auto list = rest::parse_contact_list(body);
    if (!list) {
        fail("contact search answer: " + list.error);
        return;
    }
    const auto phone = phone_of(message_.chat);
    for (const auto& c : *list.value) {
        if (c.identifier == message_.chat) {
            mapping_.contact_id = c.id;
            next();
            return;
        }
    }
    // A contact an agent made by hand has the phone but no identifier.
    if (phone) {
        for (const auto& c : *list.value) {
            if (c.identifier.empty() && c.phone_number == *phone) {
                mapping_.contact_id = c.id;
                next();
                return;
            }
        }
    }
    rest::NewContact nc;
    nc.identifier = message_.chat;
    nc.phone_number = phone;
    nc.inbox_id = options_.inbox_id;
    nc.source_id = message_.chat;
    nc.name = !message_.chat_name.empty() ? message_.chat_name
              : (!message_.from_me && !message_.push_name.empty() && !is_group(message_.chat))
                  ? message_.push_name
                  : phone.value_or(message_.chat);
    ask(Step::create_contact, api_.create_contact(nc));
}

void ForwardJob::on_contact_created(std::string_view body)
{
    auto c = rest::parse_created_contact(body);
    if (!c) {
        fail("contact create answer: " + c.error);
        return;
    }
    mapping_.contact_id = c.value->id;
    next();
}

void ForwardJob::on_conversations(std::string_view body)
{
    auto list = rest::parse_conversation_list(body);
    if (!list) {
        fail("conversation list answer: " + list.error);
        return;
    }
    // Newest activity first (Chatwoot's order): the first usable one wins.
    const rest::Conversation* resolved = nullptr;
    for (const auto& c : *list.value) {
        if (c.inbox_id != options_.inbox_id) {
            continue;
        }
        if (c.status == "open" || c.status == "pending") {
            mapping_.conversation_id = c.id;
            next();
            return;
        }
        if (c.status == "resolved" && resolved == nullptr) {
            resolved = &c;
        }
    }
    if (resolved != nullptr && options_.reopen_resolved) {
        mapping_.conversation_id = resolved->id;
        ask(Step::reopen_conversation, api_.toggle_status(resolved->id, "open"));
        return;
    }
    ask(Step::create_conversation,
        api_.create_conversation(options_.inbox_id, *mapping_.contact_id, message_.chat,
                                 options_.open_as_pending ? "pending" : ""));
}

void ForwardJob::on_conversation(std::string_view body)
{
    auto c = rest::parse_conversation(body);
    if (!c) {
        fail("conversation create answer: " + c.error);
        return;
    }
    mapping_.conversation_id = c.value->id;
    next();
}

void ForwardJob::on_posted(std::string_view body)
{
    auto m = rest::parse_message(body);
    if (!m) {
        fail("message create answer: " + m.error);
        return;
    }
    message_id_ = m.value->id;
    state_ = State::done;
}

void ForwardJob::on_posted_search(std::string_view body)
{
    auto list = rest::parse_message_list(body);
    if (!list) {
        fail("message list answer: " + list.error);
        return;
    }
    const std::string source_id = source_id_of(message_.id);
    const auto& page = *list.value;
    for (const auto& m : page) {
        if (m.source_id == source_id) {
            message_id_ = m.id;   // the lost answer's message: keep it
            state_ = State::done;
            return;
        }
    }
    // Not on this page.  Newer messages may have pushed it onto an older
    // one: page back while older pages can still hold it.
    pages_++;
    int64_t oldest_id = 0;
    int64_t oldest_time = 0;
    for (const auto& m : page) {
        if (oldest_id == 0 || m.id < oldest_id) {
            oldest_id = m.id;
        }
        if (oldest_time == 0 || m.created_at < oldest_time) {
            oldest_time = m.created_at;
        }
    }
    const bool at_first_message = page.size() < rest::kMessagesPerPage;
    const bool past_the_post = posted_since_ > 0
                               && oldest_time < posted_since_ - kClockSkew;
    const bool far_enough = posted_since_ == 0 && pages_ >= kMaxLookBackPages;
    if (at_first_message || past_the_post || far_enough) {
        next();  // it never arrived: post it (again)
        return;
    }
    ask(Step::find_posted_message,
        api_.list_messages(*mapping_.conversation_id, oldest_id));
}

}  // namespace chatwoot::bridge
