// Moves records from the shared-memory ring into the store: peek under the
// zone lock, commit to SQLite, pop under the zone lock.  Nothing leaves the
// ring before it is durable; a repeat after a crash is ignored by the store.
#pragma once

#include "chatwoot_shared.h"
#include "ngx.hpp"

#include "../store/inbound_event_repository.hpp"

namespace chatwoot::helper {

class QueueDrain {
public:
    QueueDrain(cw_shared_t* shared, ngx_slab_pool_t* shpool,
               store::InboundEventRepository& repository);

    enum class Outcome { empty, more, failed };

    // Commits up to one batch.  `more` means records are still waiting.
    Outcome drain_batch();

private:
    cw_shared_t* shared_;
    ngx_slab_pool_t* shpool_;
    store::InboundEventRepository& repository_;
    std::vector<store::InboundEvent> batch_;
};

}  // namespace chatwoot::helper
