// The preparer on nginx's event loop: the constructor the helper uses.
#include "media_preparer.hpp"
#include "nginx_reactor.hpp"

namespace chatwoot::helper::media_prep {

MediaPreparer::MediaPreparer(std::string work_dir, Options options)
    : MediaPreparer(nginx_reactor(), std::move(work_dir), std::move(options))
{
}

}  // namespace chatwoot::helper::media_prep
