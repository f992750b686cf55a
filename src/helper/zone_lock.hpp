// The chatwoot zone's slab mutex, held for a scope.  It is the one lock the
// master releases when its holder dies, so every ring operation uses it.
#pragma once

#include "ngx.hpp"

namespace chatwoot::helper {

class ZoneLock {
public:
    explicit ZoneLock(ngx_slab_pool_t* shpool) : shpool_(shpool)
    {
        ngx_shmtx_lock(&shpool_->mutex);
    }
    ~ZoneLock() { ngx_shmtx_unlock(&shpool_->mutex); }
    ZoneLock(const ZoneLock&) = delete;
    ZoneLock& operator=(const ZoneLock&) = delete;

private:
    ngx_slab_pool_t* shpool_;
};

}  // namespace chatwoot::helper
