// SqlTransaction: the Transaction interface written once in portable SQL over a
// SqlConnection that is inside BEGIN … COMMIT.
#pragma once

#include "store/metadata_store.h"
#include "store/sql_connection.h"

namespace vbs {

class SqlTransaction final : public Transaction {
 public:
  explicit SqlTransaction(SqlConnection& db) : db_(db) {}

  Result<std::optional<VolumeRecord>> GetVolume(const std::string& id) override;
  Result<std::vector<VolumeRecord>> ListVolumes(const VolumeFilter& filter) override;
  Result<std::optional<VolumeRecord>> FindVolumeByToken(const std::string& owner,
                                                        const std::string& token) override;
  Status InsertVolume(const VolumeRecord& v) override;
  Status UpdateVolume(const VolumeRecord& v) override;

  Result<std::optional<SnapshotRecord>> GetSnapshot(const std::string& id) override;
  Result<std::vector<SnapshotRecord>> ListSnapshots(const SnapshotFilter& filter) override;
  Status InsertSnapshot(const SnapshotRecord& s) override;
  Status UpdateSnapshot(const SnapshotRecord& s) override;

  Result<std::optional<OperationRecord>> GetOperation(const std::string& id) override;
  Result<std::vector<OperationRecord>> ListOperations(const OperationFilter& f) override;
  Status InsertOperation(const OperationRecord& op) override;
  Status UpdateOperation(const OperationRecord& op) override;
  Result<bool> TryTransitionOp(const OperationRecord& op, const std::string& from) override;

  Result<std::optional<PoolRecord>> GetPool(const std::string& name) override;
  Result<std::vector<PoolRecord>> ListPools() override;
  Status UpsertPool(const PoolRecord& p) override;
  Result<bool> TryReserve(const std::string& pool, uint64_t bytes) override;
  Status Release(const std::string& pool, uint64_t bytes) override;

  Result<std::optional<NodeRecord>> GetNode(const std::string& name) override;
  Result<std::vector<NodeRecord>> ListNodes() override;
  Status UpsertNode(const NodeRecord& n) override;
  Status SetNodePools(const std::string& node, const std::vector<std::string>& pools) override;
  Result<std::vector<std::string>> PoolNodes(const std::string& pool) override;
  Status UpsertStorageClient(const StorageClientRecord& c) override;
  Result<std::vector<StorageClientRecord>> NodeStorageClients(const std::string& node) override;
  Status DeleteStorageClient(const std::string& pool, const std::string& client) override;
  Result<bool> TryAcquireLease(const std::string& name, const std::string& holder, int64_t now,
                               int64_t expires_at) override;

  Result<std::optional<InstanceRecord>> GetInstance(const std::string& id) override;
  Result<std::vector<InstanceRecord>> ListInstances(
      const std::optional<std::string>& node) override;
  Status UpsertInstance(const InstanceRecord& i) override;
  Result<std::vector<std::string>> NodeUsers(const std::string& node) override;
  Status SetNodeUser(const std::string& node, const std::string& user, bool allowed) override;

  Result<std::optional<AttachmentRecord>> GetAttachment(const std::string& id) override;
  Result<std::vector<AttachmentRecord>> ListAttachments(const AttachmentFilter& f) override;
  Status InsertAttachment(const AttachmentRecord& a) override;
  Status UpdateAttachment(const AttachmentRecord& a) override;

  Result<std::optional<VolumeModificationRecord>> GetVolumeModification(
      const std::string& id) override;
  Result<std::vector<VolumeModificationRecord>> ListVolumeModifications(
      const VolumeModificationFilter& f) override;
  Status InsertVolumeModification(const VolumeModificationRecord& m) override;
  Status UpdateVolumeModification(const VolumeModificationRecord& m) override;

  Result<std::optional<UserRecord>> GetUser(const std::string& name) override;
  Result<std::vector<UserRecord>> ListUsers() override;
  Status InsertUser(const UserRecord& u) override;
  Status UpdateUser(const UserRecord& u) override;
  Result<std::optional<CertificateRecord>> GetCertificate(const std::string& serial) override;
  Result<std::vector<CertificateRecord>> ListCertificates(const std::string& user) override;
  Status InsertCertificate(const CertificateRecord& c) override;
  Result<int64_t> RevokeCertificates(const std::string& user, int64_t now_ms) override;

  Result<std::optional<AccessKeyRecord>> GetAccessKey(const std::string& id) override;
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(
      const std::optional<std::string>& user) override;
  Status InsertAccessKey(const AccessKeyRecord& k) override;
  Result<bool> DeleteAccessKey(const std::string& id) override;
  Status UpdateAccessKey(const AccessKeyRecord& k) override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) override;
  Status PutMeta(const std::string& key, const std::string& value) override;
  Result<std::optional<QuotaRecord>> GetQuota(const std::string& user) override;
  Status UpsertQuota(const QuotaRecord& q) override;

  Result<int64_t> ClockMillis() override;
  Result<int64_t> BumpRevision() override;
  Result<int64_t> Revision() override;

 private:
  SqlConnection& db_;
};

}  // namespace vbs
