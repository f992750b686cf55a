// Where WhatsApp media waits until it is in Chatwoot: <state>/media.
//
// A message row in the store may name files here, so a file is made
// durable (written, fsynced, renamed, directory fsynced) before the row
// that names it commits, and removed only after the row is settled.  A
// crash between those steps leaves an orphan file, never a row without
// its file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chatwoot::helper {

class MediaStore {
public:
    // Creates the directory (0700) or makes an existing one private;
    // throws when it cannot.  Removes the temporary files a killed helper
    // left (a download cut off mid-body): the store is opened only by the
    // helper holding the state lock, before any download starts.
    explicit MediaStore(std::string dir);

    // Copies `source` in as the index-th attachment of message `wa_id` of
    // `inbox` and returns its path.  Doing it again replaces the copy, so a
    // message taken twice after a crash still has one file.  Throws when
    // the copy cannot be made durable.
    std::string keep(std::string_view inbox, std::string_view wa_id, size_t index,
                     const std::string& source);

    // Where keep() puts the index-th attachment of message `wa_id`: a
    // download writes there (through a temporary file beside it).
    std::string path_for(std::string_view inbox, std::string_view wa_id, size_t index) const;

    // Removes a file this store made; other paths are left alone.
    void release(const std::string& path) noexcept;

    const std::string& dir() const { return dir_; }

private:
    void sweep_unfinished() noexcept;

    std::string dir_;
};

}  // namespace chatwoot::helper
