// MetadataStore: the durable home of every object and of all workflow state.
//
// All reads and writes happen inside Transact(fn): fn runs against a Transaction and its
// writes commit atomically when it returns OK, or roll back when it returns an error. The
// store serializes conflicting transactions (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE)
// and retries fn when the database reports contention (kUnavailable "ServiceUnavailable"), so
// fn must have no side effects outside the transaction; other statuses fn returns are final. Rules
// that must hold under concurrency use conditional writes (TryReserve, TryTransitionOp) whose
// result says whether they applied.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace vbs {

struct VolumeFilter {
  std::optional<std::string> owner;  // unset: every owner (admin)
  std::optional<std::string> state;
  std::optional<std::string> pool;
  bool include_deleted = false;
};

struct SnapshotFilter {
  std::optional<std::string> owner;
  std::optional<std::string> state;
  std::optional<std::string> volume_id;
  std::optional<std::string> pool;
  bool include_deleted = false;
};

struct AttachmentFilter {
  std::optional<std::string> volume_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> node;
  bool include_detached = false;
};

struct OperationFilter {
  std::optional<std::string> node;
  std::optional<std::string> state;
  std::optional<std::string> resource_id;
};

struct VolumeModificationFilter {
  std::optional<std::string> volume_id;
  std::optional<std::string> owner;
  std::optional<std::string> state;
};

class Transaction {
 public:
  virtual ~Transaction() = default;

  virtual Result<std::optional<VolumeRecord>> GetVolume(const std::string& id) = 0;
  virtual Result<std::vector<VolumeRecord>> ListVolumes(const VolumeFilter& filter) = 0;
  virtual Result<std::optional<VolumeRecord>> FindVolumeByToken(const std::string& owner,
                                                                const std::string& token) = 0;
  virtual Status InsertVolume(const VolumeRecord& v) = 0;
  virtual Status UpdateVolume(const VolumeRecord& v) = 0;

  virtual Result<std::optional<SnapshotRecord>> GetSnapshot(const std::string& id) = 0;
  virtual Result<std::vector<SnapshotRecord>> ListSnapshots(const SnapshotFilter& filter) = 0;
  virtual Status InsertSnapshot(const SnapshotRecord& s) = 0;
  virtual Status UpdateSnapshot(const SnapshotRecord& s) = 0;

  virtual Result<std::optional<OperationRecord>> GetOperation(const std::string& id) = 0;
  virtual Result<std::vector<OperationRecord>> ListOperations(const OperationFilter& f) = 0;
  virtual Status InsertOperation(const OperationRecord& op) = 0;
  virtual Status UpdateOperation(const OperationRecord& op) = 0;
  // Moves op `id` from state `from` to `op.state` (writing all of op) only if it is still in
  // `from`: false when another transaction got there first.
  virtual Result<bool> TryTransitionOp(const OperationRecord& op, const std::string& from) = 0;

  virtual Result<std::optional<PoolRecord>> GetPool(const std::string& name) = 0;
  virtual Result<std::vector<PoolRecord>> ListPools() = 0;
  // Inserts the pool or updates node/type/shared/capacity, keeping `reserved`.
  virtual Status UpsertPool(const PoolRecord& p) = 0;
  // Adds `bytes` to the pool's reservation if it still fits the capacity: false if not.
  virtual Result<bool> TryReserve(const std::string& pool, uint64_t bytes) = 0;
  virtual Status Release(const std::string& pool, uint64_t bytes) = 0;

  virtual Result<std::optional<NodeRecord>> GetNode(const std::string& name) = 0;
  virtual Result<std::vector<NodeRecord>> ListNodes() = 0;
  virtual Status UpsertNode(const NodeRecord& n) = 0;
  // The pools `node` declares, replacing what it declared before (an agent's Hello).
  virtual Status SetNodePools(const std::string& node, const std::vector<std::string>& pools) = 0;
  // The nodes that declare `pool`, by name.
  virtual Result<std::vector<std::string>> PoolNodes(const std::string& pool) = 0;

  // Storage clients of nodes (StorageClientRecord), by (pool, client).
  virtual Status UpsertStorageClient(const StorageClientRecord& c) = 0;
  virtual Result<std::vector<StorageClientRecord>> NodeStorageClients(const std::string& node) = 0;
  virtual Status DeleteStorageClient(const std::string& pool, const std::string& client) = 0;

  // Takes or renews the leader lease `name` for `holder` until `expires_at` if it is free,
  // already `holder`'s, or expired at `now`: false when another holder has it.
  virtual Result<bool> TryAcquireLease(const std::string& name, const std::string& holder,
                                       int64_t now, int64_t expires_at) = 0;

  virtual Result<std::optional<InstanceRecord>> GetInstance(const std::string& id) = 0;
  virtual Result<std::vector<InstanceRecord>> ListInstances(
      const std::optional<std::string>& node) = 0;
  virtual Status UpsertInstance(const InstanceRecord& i) = 0;
  // The users an admin allows to attach to `node` itself (its host instance).
  virtual Result<std::vector<std::string>> NodeUsers(const std::string& node) = 0;
  virtual Status SetNodeUser(const std::string& node, const std::string& user, bool allowed) = 0;

  virtual Result<std::optional<AttachmentRecord>> GetAttachment(const std::string& id) = 0;
  virtual Result<std::vector<AttachmentRecord>> ListAttachments(const AttachmentFilter& f) = 0;
  // Fails with kAlreadyExists when it would make a second live rw attachment of a volume
  // (a unique index: the database, not this process, keeps the rule).
  virtual Status InsertAttachment(const AttachmentRecord& a) = 0;
  virtual Status UpdateAttachment(const AttachmentRecord& a) = 0;

  virtual Result<std::optional<VolumeModificationRecord>> GetVolumeModification(
      const std::string& id) = 0;
  // Oldest first (by created_at, then id).
  virtual Result<std::vector<VolumeModificationRecord>> ListVolumeModifications(
      const VolumeModificationFilter& f) = 0;
  virtual Status InsertVolumeModification(const VolumeModificationRecord& m) = 0;
  virtual Status UpdateVolumeModification(const VolumeModificationRecord& m) = 0;

  virtual Result<std::optional<UserRecord>> GetUser(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  virtual Status InsertUser(const UserRecord& u) = 0;
  // role, state, updated_at, certificates_revoked_before
  virtual Status UpdateUser(const UserRecord& u) = 0;

  virtual Result<std::optional<CertificateRecord>> GetCertificate(const std::string& serial) = 0;
  // Oldest first.
  virtual Result<std::vector<CertificateRecord>> ListCertificates(const std::string& user) = 0;
  virtual Status InsertCertificate(const CertificateRecord& c) = 0;
  // Marks every valid certificate of `user` revoked at `now_ms`; returns how many.
  virtual Result<int64_t> RevokeCertificates(const std::string& user, int64_t now_ms) = 0;

  // EC2-face credentials (access key id → user, secret).
  virtual Result<std::optional<AccessKeyRecord>> GetAccessKey(const std::string& id) = 0;
  virtual Result<std::vector<AccessKeyRecord>> ListAccessKeys(
      const std::optional<std::string>& user) = 0;
  virtual Status InsertAccessKey(const AccessKeyRecord& k) = 0;
  virtual Result<bool> DeleteAccessKey(const std::string& id) = 0;  // false: there was none

  virtual Status UpdateAccessKey(const AccessKeyRecord& k) = 0;  // secret, state

  // Deployment-wide settings (the meta table), e.g. the secrets key's fingerprint.
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status PutMeta(const std::string& key, const std::string& value) = 0;

  virtual Result<std::optional<QuotaRecord>> GetQuota(const std::string& user) = 0;
  virtual Status UpsertQuota(const QuotaRecord& q) = 0;

  // The change counter agents long-poll on: bumped by every transaction that creates work.
  // The database's clock (unix milliseconds): the one clock that node heartbeats are stamped
  // with and compared against, so servers whose clocks disagree still agree on who is alive.
  virtual Result<int64_t> ClockMillis() = 0;

  virtual Result<int64_t> BumpRevision() = 0;
  virtual Result<int64_t> Revision() = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  virtual Status Transact(const std::function<Status(Transaction&)>& fn) = 0;
  // A node's heartbeat (its lease renewal, design.md §4): stamps `node` with the database's
  // clock, outside any transaction and on a connection of its own, so that a heartbeat never
  // queues behind request traffic or a transaction's retries. Changes nothing and answers
  // false when the node is unknown, has registered again since (another `epoch`), or has been
  // silent for more than `max_silence_ms` (its lease lapsed: it must register again).
  virtual Result<bool> RenewNode(const std::string& node, int64_t epoch,
                                 int64_t max_silence_ms) = 0;
  // Authentication lookups (design.md §8): one autocommit SELECT each, on a connection of
  // their own, so that checking who calls never waits for the transactions' mutex, a
  // writer's lock, a heartbeat or their retries. Every request makes one, so a change to a user or
  // key holds from the very next request, on every server.
  virtual Result<std::optional<UserRecord>> LookupUser(const std::string& name) = 0;
  virtual Result<std::optional<AccessKeyRecord>> LookupAccessKey(const std::string& id) = 0;
  virtual Result<std::optional<CertificateRecord>> LookupCertificate(const std::string& serial) = 0;
};

}  // namespace vbs
