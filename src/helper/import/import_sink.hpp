// Where an import job puts a chat's messages when not through Chatwoot's
// REST API: the seam of the PostgreSQL path (an inbox with an import
// database writes Chatwoot's tables itself, with WhatsApp's timestamps).
// The job reads a page of the chat (oldest first, what Chatwoot has already
// left out) and hands it over as one batch; the sink answers once, from the
// event loop, with what became of each message; the job records that (the
// chat's cursor, the counts) in one unit and hands over the next page.
#pragma once

#include "../../bridge/import_batch.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chatwoot::helper {

struct ImportSinkResult {
    struct Posted {
        std::string wa_id;
        int64_t chatwoot_message_id = 0;
    };
    std::vector<Posted> posted;          // in Chatwoot now
    std::vector<std::string> skipped;    // there already (source_id found)
    std::vector<std::string> failed;     // refused for good
    // Set: the batch could not be written at all (the database is down);
    // nothing of it is recorded and the job tries the same page later.
    std::string error;
    // With `error`: retrying will not help (the database refuses the inbox,
    // or the error came back too many times): the job fails with it.
    bool give_up = false;
};

class ImportSink {
public:
    using Done = std::function<void(const ImportSinkResult&)>;
    virtual ~ImportSink() = default;
    // One chat's page; done runs exactly once, never from inside this call.
    virtual void import_chat(const bridge::ImportChat& batch, Done done) = 0;
};

}  // namespace chatwoot::helper
