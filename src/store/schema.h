// Schema migrations: numbered, applied in order at start, each in its own transaction, the
// applied version kept in the database (meta.schema_version). Written in the SQL that SQLite
// and PostgreSQL both accept.
#pragma once

#include "common/status.h"
#include "store/sql_connection.h"

namespace vbs {

// Brings the database to the newest schema. Fails if it is newer than this binary knows.
Status Migrate(SqlConnection& db);
int LatestSchemaVersion();

}  // namespace vbs
