// The IQ engine (waweb.md 1.9): request/response correlation for <iq>
// stanzas on one connection.
//
// We send <iq id=... type="get|set">; the server answers with
// <iq id=... type="result"> or <iq id=... type="error"><error code text/>.
// The engine gives each request an id unique on this connection (a random
// prefix, as both references do, then a counter), remembers it with a
// deadline, and turns each answer or missed deadline into one Outcome.
// It owns no timer: next_deadline() says when the caller should call
// expire(), which is how timeouts leave a sans-I/O layer.
//
// One engine per connection: a new connection starts with a new prefix,
// so a late answer to a request of the previous connection cannot match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/node.hpp"
#include "wa/binary/node_view.hpp"
#include "wa/crypto/random.hpp"
#include "wa/error.hpp"
#include "wa/session/clock.hpp"

namespace chatwoot::wa::session {

// How long a request waits for its answer unless the caller says otherwise
// (whatsmeow's default).
inline constexpr Millis default_iq_timeout = seconds(75);

// What the server said in <iq type="error"><error code="..." text="..."/>.
// code 0 when the answer had no usable code.
struct IqError {
    int code = 0;
    std::string text;

    bool operator==(const IqError&) const = default;
};

struct IqOutcome {
    enum class Kind {
        result,   // type="result": `response` is the answer
        error,    // type="error": `error` says why, `response` is the answer
        timeout,  // no answer before the deadline
        dropped,  // the connection ended first (cancel_all)
    };

    std::string id;
    std::uint64_t cookie = 0;  // what the caller passed to prepare()
    Kind kind = Kind::timeout;
    binary::Node response;     // for result and error
    IqError error;             // for error
};

std::string_view iq_outcome_name(IqOutcome::Kind kind);

// The code and text of an <iq type="error"> answer.  Errc::malformed when
// it has no <error> child or its code is not a number in 1..999 (the
// outcome then still reports an error, with code 0 and this detail).
Result<IqError> parse_iq_error(const binary::Node& iq);

class IqEngine {
public:
    // Four bytes of `random` make this connection's id prefix
    // "<u16>.<u16>-"; a RandomSource that fails leaves the engine unusable
    // (prepare() returns its error).
    explicit IqEngine(const crypto::RandomSource& random);

    // Gives `iq` (an <iq> with a type of "get" or "set") the next id, and
    // waits for its answer until now + timeout.  `cookie` comes back in the
    // outcome so the caller knows what the answer is for.  Errc::malformed
    // for a node that is not such an iq; Errc::crypto_failure when the
    // random source failed at construction.
    Result<std::string> prepare(binary::Node& iq, Millis now, Millis timeout,
                                std::uint64_t cookie = 0);

    // The outcome for `node` when it answers one of our requests: an <iq>
    // of type "result" or "error" with a pending id.  nullopt for anything
    // else, including an answer to an id already settled (a duplicate).
    std::optional<IqOutcome> match(const binary::Node& node);
    // The same from a view: the response is copied only when it matched.
    std::optional<IqOutcome> match(const binary::NodeView& node);

    // The requests whose deadline is at or before `now`, oldest first, as
    // timeouts; they are settled and will not match a late answer.
    std::vector<IqOutcome> expire(Millis now);

    // Every pending request, as dropped: the connection is gone.
    std::vector<IqOutcome> cancel_all();

    // Drops one pending request without an outcome (it was never sent).
    bool forget(std::string_view id);

    // The earliest deadline among pending requests.
    std::optional<Millis> next_deadline() const;

    std::size_t pending() const { return pending_.size(); }
    bool pending(std::string_view id) const { return pending_.contains(std::string(id)); }
    const std::string& prefix() const { return prefix_; }

private:
    struct Pending {
        Millis deadline;
        std::uint64_t cookie;
        std::uint64_t order;  // to report timeouts in the order sent
    };

    std::optional<Error> broken_;
    std::string prefix_;
    std::uint64_t counter_ = 0;
    std::map<std::string, Pending, std::less<>> pending_;
};

}  // namespace chatwoot::wa::session
