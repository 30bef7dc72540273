// How attachments print: `vbs attach/detach` details, and the attachments of a volume in
// `volume show` (a small table) and `volume list` (the ATTACHED column).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/output.h"

namespace vbs::cli {
namespace {

const Json& AttachmentsOf(const Json& volume) {
  static const Json kNone = Json::array();
  if (!volume.is_object()) return kNone;
  auto it = volume.find("attachments");
  return it != volume.end() && it->is_array() ? *it : kNone;
}

bool HasError(const Json& a) {
  return a.is_object() && a.contains("error") && a["error"].is_string() &&
         !a["error"].get_ref<const std::string&>().empty();
}

}  // namespace

std::string AttachedText(const Json& volume) {
  std::vector<std::string> ids;
  for (const Json& a : AttachmentsOf(volume)) ids.push_back(FieldText(a, "instance_id"));
  return ids.empty() ? "-" : fmt::format("{}", fmt::join(ids, ","));
}

std::string AttachmentsBlock(const Json& volume) {
  const Json& atts = AttachmentsOf(volume);
  if (atts.empty()) return "";
  std::vector<std::vector<std::string>> rows;
  std::string errors;
  for (const Json& a : atts) {
    rows.push_back({FieldText(a, "instance_id"), FieldText(a, "mode"), FieldText(a, "device"),
                    FieldText(a, "state"), FieldText(a, "nbd_uri")});
    if (HasError(a)) {
      errors +=
          fmt::format("  {}: error: {}\n", FieldText(a, "instance_id"), FieldText(a, "error"));
    }
  }
  std::string table = RenderTable({"INSTANCE", "MODE", "DEVICE", "STATE", "NBD URI"}, rows);
  std::string out;
  size_t start = 0;
  while (start < table.size()) {  // indent every line under "attachments: N"
    size_t end = table.find('\n', start);
    out += "  " + table.substr(start, end - start + 1);
    start = end + 1;
  }
  return out + errors;
}

std::string AttachmentDetails(const Json& a) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", FieldText(a, "id")},
      {"volume", FieldText(a, "volume_id")},
      {"instance", FieldText(a, "instance_id")},
      {"node", FieldText(a, "node")},
      {"mode", FieldText(a, "mode")},
      {"device", FieldText(a, "device")},
      {"state", FieldText(a, "state")},
      {"export", FieldText(a, "export_name")},
      {"nbd uri", FieldText(a, "nbd_uri")},
      {"created", FieldText(a, "created_at")},
  };
  // Host targets: whose processes may open the export.
  if (a.is_object() && a.contains("uid") && a["uid"].is_number_integer()) {
    rows.insert(rows.begin() + 9, {"consumer uid", std::to_string(a["uid"].get<int64_t>())});
  }
  if (HasError(a)) rows.emplace_back("error", FieldText(a, "error"));
  return RenderDetails(rows);
}

}  // namespace vbs::cli
