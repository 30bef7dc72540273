// Records: the rows of the metadata store as plain structs. The rules about them (which state
// may follow which, who may see what) live in core/, not here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace vbs {

using Tags = std::map<std::string, std::string>;

struct VolumeRecord {
  std::string id;
  std::string owner;
  uint64_t size = 0;
  std::string pool;
  std::string state;  // creating, available, in-use, deleting, deleted, error
  std::optional<std::string> snapshot_id;
  std::optional<std::string> error;
  Tags tags;
  std::optional<std::string> client_token;  // idempotency token of the create call
  int64_t created_at = 0;                   // unix milliseconds
  int64_t updated_at = 0;
  // QoS (core/volume_types.h): the volume type and its limits, 0 = unlimited.
  std::string volume_type = "standard";
  int64_t iops = 0;
  int64_t throughput = 0;  // MiB/s
};

struct SnapshotRecord {
  std::string id;
  std::string owner;
  std::string volume_id;
  uint64_t size = 0;
  std::string pool;
  std::string state;  // pending, completed, error, deleting, deleted
  int progress = 0;
  std::optional<std::string> error;
  std::string description;
  Tags tags;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A unit of work for an agent: the persisted half of a workflow (design.md §4).
struct OperationRecord {
  std::string id;           // "op-…"
  std::string kind;         // create_volume, delete_volume, create_snapshot, delete_snapshot
  std::string resource_id;  // the volume or snapshot it moves on
  std::string pool;
  std::string node;    // the node that should run it
  std::string state;   // pending, running, done, failed
  std::string params;  // JSON object
  int attempts = 0;
  int64_t lease_until = 0;  // while running: the agent must report before this time
  std::optional<std::string> error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct PoolRecord {
  std::string name;
  std::string node;
  std::string type;  // dir, rbd
  bool shared = false;
  uint64_t capacity = 0;  // bytes that may be provisioned (thin)
  uint64_t reserved = 0;  // bytes provisioned to live volumes
};

// The identity under which a node's agent reaches a pool's storage (a Ceph client address),
// so that a node that lost its lease can be fenced out of the storage itself (design.md §4):
// `active` while that agent process serves, `fenced` once refused by the storage, until the
// node comes back and the entry is lifted.
struct StorageClientRecord {
  std::string pool;
  std::string client;
  std::string node;
  std::string state;  // active, fenced
  int64_t updated_at = 0;
};

struct NodeRecord {
  std::string name;
  int64_t epoch = 0;           // bumped at every agent start
  int64_t last_heartbeat = 0;  // unix milliseconds
};

// A consumer of volumes reported by a host agent: a QEMU VM (kind "qemu") or the node
// itself (kind "host", id "host-<node>": a bare NBD export for the node's own use).
struct InstanceRecord {
  std::string id;
  std::string node;
  std::string kind;   // qemu, host
  std::string state;  // running, gone
  int64_t last_seen = 0;
  // The user whose VM it is (empty: nobody's yet; host instances have none): only they and
  // admins see it and attach to it.
  std::string owner;
};

// A volume × instance binding (design.md §3): attaching → attached → detaching → detached.
struct AttachmentRecord {
  std::string id;  // "att-…"
  std::string volume_id;
  std::string instance_id;
  std::string node;   // where the export and the device live
  std::string owner;  // the volume's owner
  std::string mode;   // rw, ro
  std::string device;
  std::string state;
  std::optional<std::string> export_name;  // set by the agent when exported
  std::optional<std::string> nbd_uri;      // how a host-target consumer reaches it
  // A host target: the local uid whose processes may open the export (nbd/peer.h); a VM's
  // consumer is its QEMU process, which the agent finds itself.
  std::optional<int64_t> consumer_uid;
  // VBSFS (homes, the public volume): where the node mounted the volume's file system, set
  // when attached; unset for block attachments.
  std::optional<std::string> mount_point;
  // ... and its file system's size, used and free bytes as the node last reported them
  // (WorkService::ReportMounts), with when.
  std::optional<int64_t> fs_size{};
  std::optional<int64_t> fs_used{};
  std::optional<int64_t> fs_free{};
  std::optional<int64_t> fs_reported_at{};
  std::optional<std::string> error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A resize of a volume (EC2 ModifyVolume): modifying → completed, or failed. The volume's
// size changes when the backend has grown it.
struct VolumeModificationRecord {
  std::string id;  // "mod-…"
  std::string volume_id;
  std::string owner;
  std::string state;  // modifying, optimizing, completed, failed
  uint64_t original_size = 0;
  uint64_t target_size = 0;
  // QoS before and after (equal when only the size changes).
  std::string original_type = "standard", target_type = "standard";
  int64_t original_iops = 0, target_iops = 0;
  int64_t original_throughput = 0, target_throughput = 0;
  int progress = 0;
  std::optional<std::string> error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// An EC2-face credential. The secret is kept here because SigV4 verification needs it (HMAC
// is symmetric); it is never returned by a list call or logged.
struct AccessKeyRecord {
  std::string id;  // "AKIA…" style, 20 characters
  std::string user;
  std::string secret;
  std::string state;  // active, inactive
  int64_t created_at = 0;
};

// A user's own quota: each limit set here overrides the server configuration's default;
// unset (NULL) takes the default. 0 allows nothing.
struct QuotaRecord {
  std::string user;
  std::optional<int64_t> volumes;
  std::optional<int64_t> gigabytes;  // GiB, over the sizes of the user's volumes
  std::optional<int64_t> snapshots;
  int64_t updated_at = 0;
};

// A user. Its name is never reused: deleting a user keeps the record (state "deleted"), so
// certificates issued to the name stay refused.
struct UserRecord {
  std::string name;
  std::string role;  // admin, user
  int64_t created_at = 0;
  std::string state = "active";  // active, disabled, deleted
  int64_t updated_at = 0;
  // Unix seconds: a certificate issued before this (its notBefore, auth/pki.h) and not
  // recorded as valid is refused (set when the user's certificates are revoked).
  int64_t certificates_revoked_before = 0;
};

// A certificate issued to a user: recorded at issue, or at first sight when it was issued
// offline (`vbsd pki issue`). A revoked one is refused on the very next request.
struct CertificateRecord {
  std::string serial;  // lower-case hex, as auth/pki.h reads it
  std::string user;
  int64_t issued_at = 0;        // unix seconds
  int64_t expires_at = 0;       // unix seconds
  std::string state = "valid";  // valid, revoked
  int64_t revoked_at = 0;       // unix milliseconds, 0 while valid
};

}  // namespace vbs
