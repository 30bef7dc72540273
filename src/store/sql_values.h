// Small conversions between records and SQL values, shared by the files that implement
// SqlTransaction (sql_transaction.cc, sql_attachments.cc).
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "store/sql_connection.h"

namespace vbs::sqlv {

inline SqlValue Opt(const std::optional<std::string>& s) {
  return s ? SqlValue(*s) : SqlValue(std::monostate{});
}

inline std::optional<std::string> OptText(const SqlRow& r, size_t i) {
  return r.IsNull(i) ? std::nullopt : std::optional<std::string>(r.Text(i));
}

// An SQL expression for the database's clock in unix milliseconds (design.md §4: heartbeats
// are stamped and judged by one clock). SQLite is a file on one machine: its clock is ours.
inline std::string ClockMillisSql(const SqlConnection& db) {
  if (db.dialect() == "postgres") {
    return "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)";
  }
  return "(CAST(strftime('%s','now') AS INTEGER) * 1000 + "
         "CAST(substr(strftime('%f','now'), 4) AS INTEGER))";
}

// An UPDATE or INSERT that must change exactly one row.
inline Status ExecOne(Result<int64_t> changed, const std::string& what) {
  if (!changed.ok()) return changed.status();
  if (*changed != 1) return Status::Internal(what + ": expected 1 row changed");
  return Status::Ok();
}

}  // namespace vbs::sqlv
