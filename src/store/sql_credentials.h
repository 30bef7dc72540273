// Users, their certificates and access keys in SQL, shared by SqlTransaction and by the store's
// authentication lookups (SqlMetadataStore::Lookup…), which run outside any transaction.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "store/records.h"
#include "store/sql_connection.h"

namespace vbs::sqlv {

extern const char* const kUserColumns;
UserRecord UserFromRow(const SqlRow& r);
extern const char* const kAccessKeyColumns;
AccessKeyRecord AccessKeyFromRow(const SqlRow& r);

Result<std::optional<UserRecord>> GetUser(SqlConnection& db, const std::string& name);
Result<std::optional<AccessKeyRecord>> GetAccessKey(SqlConnection& db, const std::string& id);
Result<std::optional<CertificateRecord>> GetCertificate(SqlConnection& db,
                                                        const std::string& serial);

}  // namespace vbs::sqlv
