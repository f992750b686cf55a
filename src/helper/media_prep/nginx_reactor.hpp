// The Reactor on nginx's event loop, for the helper process: descriptors
// become nginx connections whose read events call back (as the wake-up
// eventfd and curl's sockets do), delays are nginx timers.
#pragma once

#include "reactor.hpp"

namespace chatwoot::helper::media_prep {

// The helper's one reactor; it holds no state of its own, so using it
// costs nothing until a descriptor or a timer is registered.
Reactor& nginx_reactor() noexcept;

}  // namespace chatwoot::helper::media_prep
