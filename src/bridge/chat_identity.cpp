#include "chat_identity.hpp"

namespace chatwoot::bridge {

std::string chat_identity(const ChatForms& f)
{
    if (f.pn && f.pn_has_chat) return *f.pn;
    if (f.lid && f.lid_has_chat) return *f.lid;
    if (f.pn) return *f.pn;
    return f.arrived;
}

}  // namespace chatwoot::bridge
