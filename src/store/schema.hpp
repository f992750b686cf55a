// The store's schema, one migration per version (PRAGMA user_version).
#pragma once

#include "sqlite_handle.hpp"

namespace chatwoot::store {

// Brings the database to the newest version; each step in its own
// transaction, so a crash in the middle leaves a whole version behind.
// Throws StoreError when the file comes from a newer build.
void migrate(Database& db);

int schema_version(Database& db);

// The version migrate() brings a store to.
int latest_schema_version();

}  // namespace chatwoot::store
