#include "inbox_resolution.hpp"

namespace chatwoot::bridge {

namespace {

constexpr int kMaxLists = 4;   // bounds list-create-list after lost answers
constexpr std::string_view kApiChannel = "Channel::Api";

}  // namespace

InboxResolution::InboxResolution(std::string name,
                                 std::optional<std::string> create_webhook_url, rest::Api api)
    : name_(std::move(name)), create_url_(std::move(create_webhook_url)), api_(api)
{
    list();
}

void InboxResolution::list()
{
    if (++lists_ > kMaxLists) {
        fail("the inbox could neither be found nor created");
        return;
    }
    creating_ = false;
    request_ = api_.list_inboxes();
    state_ = State::request;
}

void InboxResolution::fail(std::string why)
{
    failure_ = std::move(why);
    state_ = State::failed;
}

void InboxResolution::on_answer(const rest::Classification& c, std::string_view body)
{
    if (state_ != State::request) {
        return;
    }
    if (c.outcome == rest::Outcome::retry) {
        if (creating_) {
            list();   // it may exist now: look before creating again
        } else {
            fail("gave up listing inboxes: " + c.reason);
        }
        return;
    }
    if (c.outcome == rest::Outcome::permanent) {
        fail((creating_ ? "creating the inbox: " : "listing inboxes: ") + c.reason);
        return;
    }
    if (!creating_) {
        on_list(body);
        return;
    }
    auto inbox = rest::parse_inbox(body);
    if (!inbox || inbox.value->id <= 0) {
        fail("the created inbox's answer: " + (inbox ? std::string("no id") : inbox.error));
        return;
    }
    inbox_id_ = inbox.value->id;
    created_ = true;
    state_ = State::done;
}

void InboxResolution::on_list(std::string_view body)
{
    auto inboxes = rest::parse_inbox_list(body);
    if (!inboxes) {
        fail("the inbox list's answer: " + inboxes.error);
        return;
    }
    std::vector<const rest::Inbox*> named;
    for (const auto& i : *inboxes.value) {
        if (i.name == name_) {
            named.push_back(&i);
        }
    }
    std::vector<const rest::Inbox*> api;
    for (const auto* i : named) {
        if (i->channel_type == kApiChannel) {
            api.push_back(i);
        }
    }
    if (api.size() == 1) {
        inbox_id_ = api[0]->id;
        state_ = State::done;
        return;
    }
    if (api.size() > 1) {
        std::string ids;
        for (const auto* i : api) {
            ids += (ids.empty() ? "" : ", ") + std::to_string(i->id);
        }
        fail("several API inboxes are named \"" + name_ + "\" (ids " + ids
             + "): name the inbox by its id");
        return;
    }
    if (!named.empty()) {
        fail("the inbox \"" + name_ + "\" is a " + named[0]->channel_type
             + " inbox; the bridge needs an API inbox");
        return;
    }
    if (!create_url_) {
        fail("Chatwoot has no inbox named \"" + name_
             + "\" that this token can see (create it, or add create=<webhook url>)");
        return;
    }
    creating_ = true;
    request_ = api_.create_api_inbox(name_, *create_url_);
    state_ = State::request;
}

}  // namespace chatwoot::bridge
