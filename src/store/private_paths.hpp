// The state path holds secrets: the database (API tokens' effects, message
// contents, and soon the WhatsApp identity and session keys), its -wal and
// -shm files, and the media waiting for Chatwoot.  They are made private to
// the helper's user whatever the umask: directories 0700, files 0600.  An
// existing directory or file that group or others can reach is tightened
// when we own it, and refused otherwise with an error naming the path,
// rather than used as it is.
#pragma once

#include <string>

namespace chatwoot::store {

inline constexpr unsigned kPrivateDirMode = 0700;
inline constexpr unsigned kPrivateFileMode = 0600;

// Makes `dir` a private directory, creating it (0700, parents as the
// system makes them) when `create` and it is missing.  Throws StoreError
// (SQLITE_PERM) naming the path when it is reachable by others and not
// ours to change, or when it cannot be created or changed.
void make_private_directory(const std::string& dir, bool create);

// The same for a file: created empty with 0600 when `create` and missing;
// a missing file is otherwise left missing.  Returns false when the file
// could not be opened (a missing directory, no access): the caller's own
// open then reports it in its words.
bool make_private_file(const std::string& path, bool create);

}  // namespace chatwoot::store
