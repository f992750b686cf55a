// The store's schema, one migration per version (PRAGMA user_version).
#pragma once

#include "sqlite_handle.hpp"

namespace chatwoot::store {

// Brings the database to the newest version; each step in its own
// transaction, so a crash in the middle leaves a whole version behind.
// Throws StoreError when the file comes from a newer build.
void migrate(Database& db);

// Only up to `version` (tests of a later step start from an earlier store).
void migrate_to(Database& db, int version);

int schema_version(Database& db);

// The version migrate() brings a database to.
int latest_schema_version();

}  // namespace chatwoot::store
