// Storage for a process-lifetime object whose destructor must never run.
//
// nginx ends the helper with exit(0), which runs static destructors in an
// order we do not control while our atexit hook still needs the objects.
#pragma once

#include <new>
#include <utility>

namespace chatwoot::helper {

template <typename T>
class NoDestructor {
public:
    template <typename... Args>
    explicit NoDestructor(Args&&... args)
    {
        new (storage_) T(std::forward<Args>(args)...);
    }
    NoDestructor(const NoDestructor&) = delete;
    NoDestructor& operator=(const NoDestructor&) = delete;

    T& operator*() { return *std::launder(reinterpret_cast<T*>(storage_)); }
    T* operator->() { return &**this; }

private:
    alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace chatwoot::helper
