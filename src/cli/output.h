// What the vbs CLI prints: aligned tables, "key: value" details, pretty JSON, and wait
// progress (a bar on a terminal, plain lines otherwise).
//
// Everything renders to strings so it is unit-tested; fields the server left out or set to
// null print as "-". JSON output is the server's objects, pretty-printed with sorted keys so
// that the same object always prints the same way.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vbs::cli {

using Json = nlohmann::json;

// Columns separated by two spaces, each as wide as its widest cell; no trailing blanks.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// Lists (arrays of server objects) as tables.
std::string VolumesTable(const Json& volumes);
std::string SnapshotsTable(const Json& snapshots);
std::string UsersTable(const Json& users);
std::string PoolsTable(const Json& pools);
std::string NodesTable(const Json& nodes);
std::string InstancesTable(const Json& instances);
std::string AccessKeysTable(const Json& keys);

// A volume's live attachments for the ATTACHED column: the instance ids, comma-separated
// ("-" when none).
std::string AttachedText(const Json& volume);
// A volume's attachments as an indented table (instance, mode, device, state, NBD URI), plus
// a line per attachment that carries an error; "" when there are none.
std::string AttachmentsBlock(const Json& volume);

// One object as "key: value" lines, keys aligned.
std::string VolumeDetails(const Json& volume);
// A volume type and its limits from the named fields: "gp3, 3000 IOPS, 125 MiB/s".
std::string QosText(const Json& o, const char* type, const char* iops, const char* throughput);
std::string SnapshotDetails(const Json& snapshot);
std::string WhoAmIDetails(const Json& whoami);
std::string UserDetails(const Json& user);
// "3 of 5" per limit ("3 of no limit" when unlimited).
std::string QuotaDetails(const Json& quota);  // with its access keys' ids when present
std::string AttachmentDetails(const Json& attachment);
std::string ModificationDetails(const Json& modification);
// A resize in one line: "mod-… completed 1G → 2G" (with its progress while in flight).
std::string ModificationText(const Json& modification);

// Aligned "key: value" lines.
std::string RenderDetails(const std::vector<std::pair<std::string, std::string>>& rows);

std::string PrettyJson(const Json& value);  // ends with a newline

// A field as text: strings as is, numbers as digits, null/missing as "-".
std::string FieldText(const Json& object, const char* key);
// A size field as FormatSize ("10G"), "-" when missing.
std::string SizeText(const Json& object, const char* key);
// The tags object as "K=V, K2=V2" (sorted), "-" when empty.
std::string TagsText(const Json& object);

// "[#####.....]  45%" (percent clamped to 0..100).
std::string RenderProgressBar(int percent, int width = 10);

// Reports the progress of a --wait on stderr. On a terminal, snapshots show a bar redrawn
// in place; otherwise (and for volumes) one line per change of state or progress, so logs
// stay readable.
class WaitReporter {
 public:
  WaitReporter(std::ostream& err, bool is_terminal, bool show_progress);
  void Update(const Json& object);
  void Finish();  // ends a bar line; safe to call more than once

 private:
  std::ostream& err_;
  bool terminal_;
  bool show_progress_;
  bool bar_drawn_ = false;
  std::string last_line_;
};

}  // namespace vbs::cli
