// PgLoop on nginx's event loop, for the helper process.
#pragma once

#include "pg_loop.hpp"

namespace chatwoot::helper::pg {

// The helper's loop; one for the process (it holds no state of its own).
PgLoop& nginx_pg_loop();

}  // namespace chatwoot::helper::pg
