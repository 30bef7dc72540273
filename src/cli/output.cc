#include "cli/output.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/units.h"

namespace vbs::cli {
namespace {

const Json* Find(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string NameTag(const Json& object) {
  const Json* tags = Find(object, "tags");
  if (tags == nullptr || !tags->is_object()) return "-";
  return FieldText(*tags, "Name");
}

std::string ProgressText(const Json& object) {
  const Json* p = Find(object, "progress");
  if (p == nullptr || !p->is_number()) return "-";
  return fmt::format("{}%", p->get<int>());
}

// Tables drop the milliseconds of ISO 8601 times ("…T10:22:59.148Z" → "…T10:22:59Z"): the
// column stays narrow and `show`/JSON still have the exact value.
std::string TimeText(const Json& object, const char* key) {
  std::string t = FieldText(object, key);
  size_t dot = t.find('.');
  if (dot != std::string::npos && t.find('T') < dot && t.ends_with('Z')) {
    t = t.substr(0, dot) + "Z";
  }
  return t;
}

std::string Details(const std::vector<std::pair<std::string, std::string>>& rows) {
  return RenderDetails(rows);
}

}  // namespace

std::string RenderDetails(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, v] : rows) {
    out += fmt::format("{:<{}} {}\n", k + ":", width + 1, v);
  }
  return out;
}

std::string FieldText(const Json& object, const char* key) {
  const Json* v = Find(object, key);
  if (v == nullptr) return "-";
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    return s.empty() ? "-" : s;
  }
  if (v->is_boolean()) return v->get<bool>() ? "yes" : "no";
  return v->dump();
}

std::string SizeText(const Json& object, const char* key) {
  const Json* v = Find(object, key);
  if (v == nullptr || !v->is_number_unsigned()) {
    return v != nullptr && v->is_number_integer() ? v->dump() : FieldText(object, key);
  }
  return FormatSize(v->get<uint64_t>());
}

std::string TagsText(const Json& object) {
  const Json* tags = Find(object, "tags");
  if (tags == nullptr || !tags->is_object() || tags->empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& [k, v] : tags->items()) {  // nlohmann::json keeps keys sorted
    parts.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) widths[c] = headers[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string("-");
      if (c + 1 == widths.size()) {
        out += cell;
      } else {
        out += fmt::format("{:<{}}  ", cell, widths[c]);
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string VolumesTable(const Json& volumes) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& v : volumes) {
    rows.push_back({FieldText(v, "id"), NameTag(v), SizeText(v, "size"), FieldText(v, "state"),
                    AttachedText(v), FieldText(v, "pool"), FieldText(v, "snapshot_id"),
                    TimeText(v, "created_at")});
  }
  return RenderTable({"ID", "NAME", "SIZE", "STATE", "ATTACHED", "POOL", "SNAPSHOT", "CREATED"},
                     rows);
}

std::string SnapshotsTable(const Json& snapshots) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& s : snapshots) {
    rows.push_back({FieldText(s, "id"), FieldText(s, "volume_id"), FieldText(s, "state"),
                    ProgressText(s), SizeText(s, "size"), FieldText(s, "description"),
                    TimeText(s, "created_at")});
  }
  return RenderTable({"ID", "VOLUME", "STATE", "PROGRESS", "SIZE", "DESCRIPTION", "CREATED"}, rows);
}

std::string UsersTable(const Json& users) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& u : users) {
    rows.push_back({FieldText(u, "name"), FieldText(u, "role"), FieldText(u, "state"),
                    TimeText(u, "created_at")});
  }
  return RenderTable({"NAME", "ROLE", "STATE", "CREATED"}, rows);
}

std::string PoolsTable(const Json& pools) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& p : pools) {
    rows.push_back({FieldText(p, "name"), FieldText(p, "node"), FieldText(p, "type"),
                    FieldText(p, "shared"), SizeText(p, "capacity"), SizeText(p, "reserved"),
                    FieldText(p, "state")});
  }
  return RenderTable({"NAME", "NODE", "TYPE", "SHARED", "CAPACITY", "RESERVED", "STATE"}, rows);
}

std::string NodesTable(const Json& nodes) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& n : nodes) {
    rows.push_back({FieldText(n, "name"), FieldText(n, "state"), TimeText(n, "last_heartbeat")});
  }
  return RenderTable({"NAME", "STATE", "LAST HEARTBEAT"}, rows);
}

std::string InstancesTable(const Json& instances) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& i : instances) {
    rows.push_back({FieldText(i, "id"), FieldText(i, "node"), FieldText(i, "kind"),
                    FieldText(i, "owner"), FieldText(i, "state"), TimeText(i, "last_seen")});
  }
  return RenderTable({"ID", "NODE", "KIND", "OWNER", "STATE", "LAST SEEN"}, rows);
}

// "gp3, 3000 IOPS, 125 MiB/s"; a type without limits is its name alone.
std::string QosText(const Json& o, const char* type, const char* iops, const char* throughput) {
  std::string text = FieldText(o, type);
  for (const auto& [key, unit] : {std::pair{iops, " IOPS"}, std::pair{throughput, " MiB/s"}}) {
    const Json* n = Find(o, key);
    if (n != nullptr && n->is_number_integer() && n->get<int64_t>() > 0) {
      text += ", " + std::to_string(n->get<int64_t>()) + unit;
    }
  }
  return text;
}

namespace {
// ", gp3, 3000 IOPS" after a size; nothing from a server that reports no types.
std::string QosSuffix(const Json& o, const char* type, const char* iops, const char* throughput) {
  return Find(o, type) == nullptr ? "" : ", " + QosText(o, type, iops, throughput);
}
}  // namespace

std::string VolumeDetails(const Json& v) {
  std::string size = SizeText(v, "size");
  if (const Json* s = Find(v, "size"); s != nullptr && s->is_number_unsigned()) {
    size += fmt::format(" ({} bytes)", s->get<uint64_t>());
  }
  size_t attached = 0;
  if (const Json* a = Find(v, "attachments"); a != nullptr && a->is_array()) attached = a->size();
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", FieldText(v, "id")},
      {"name", NameTag(v)},
      {"size", size},
      {"state", FieldText(v, "state")},
      {"pool", FieldText(v, "pool")},
      {"type", QosText(v, "volume_type", "iops", "throughput")},
      {"snapshot", FieldText(v, "snapshot_id")},
      {"owner", FieldText(v, "owner")},
      {"created", FieldText(v, "created_at")},
      {"tags", TagsText(v)},
      {"attachments", attached == 0 ? "-" : std::to_string(attached)},
  };
  if (Find(v, "error") != nullptr) rows.emplace_back("error", FieldText(v, "error"));
  if (const Json* m = Find(v, "modification"); m != nullptr && m->is_object()) {
    rows.emplace_back("resize", ModificationText(*m));
    if (Find(*m, "error") != nullptr) rows.emplace_back("resize error", FieldText(*m, "error"));
  }
  if (const Json* f = Find(v, "failed_attachment"); f != nullptr && f->is_object()) {
    const std::string error = FieldText(*f, "error");
    const bool failed = error.rfind("attach failed", 0) == 0;
    rows.emplace_back("last attach", FieldText(*f, "instance_id") + " (" + FieldText(*f, "mode") +
                                         (failed ? ") failed: " : ") ended: ") + error);
  }
  return Details(rows) + AttachmentsBlock(v);
}

std::string ModificationText(const Json& m) {
  std::string state = FieldText(m, "state");
  std::string text = fmt::format("{} {} {} → {}", FieldText(m, "id"), state,
                                 SizeText(m, "original_size"), SizeText(m, "target_size"));
  if (state == "modifying" || state == "optimizing") text += " (" + ProgressText(m) + ")";
  return text;
}

std::string ModificationDetails(const Json& m) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", FieldText(m, "id")},
      {"volume", FieldText(m, "volume_id")},
      {"state", FieldText(m, "state")},
      {"progress", ProgressText(m)},
      {"from", SizeText(m, "original_size") +
                   QosSuffix(m, "original_volume_type", "original_iops", "original_throughput")},
      {"to", SizeText(m, "target_size") +
                 QosSuffix(m, "target_volume_type", "target_iops", "target_throughput")},
      {"created", FieldText(m, "created_at")},
  };
  if (Find(m, "error") != nullptr) rows.emplace_back("error", FieldText(m, "error"));
  return Details(rows);
}

std::string SnapshotDetails(const Json& s) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", FieldText(s, "id")},
      {"volume", FieldText(s, "volume_id")},
      {"state", FieldText(s, "state")},
      {"progress", ProgressText(s)},
      {"size", SizeText(s, "size")},
      {"pool", FieldText(s, "pool")},
      {"description", FieldText(s, "description")},
      {"owner", FieldText(s, "owner")},
      {"created", FieldText(s, "created_at")},
      {"tags", TagsText(s)},
  };
  if (Find(s, "error") != nullptr) rows.emplace_back("error", FieldText(s, "error"));
  return Details(rows);
}

std::string AccessKeysTable(const Json& keys) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& k : keys) {
    rows.push_back({FieldText(k, "access_key_id"), FieldText(k, "user"), FieldText(k, "state"),
                    TimeText(k, "created_at")});
  }
  return RenderTable({"ACCESS KEY", "USER", "STATE", "CREATED"}, rows);
}

std::string UserDetails(const Json& u) {
  std::string keys;
  if (const Json* list = Find(u, "access_keys"); list != nullptr && list->is_array()) {
    for (const Json& k : *list) {
      keys += (keys.empty() ? "" : ", ") + FieldText(k, "access_key_id");
    }
  }
  std::vector<std::pair<std::string, std::string>> rows = {{"name", FieldText(u, "name")},
                                                           {"role", FieldText(u, "role")},
                                                           {"state", FieldText(u, "state")},
                                                           {"created", FieldText(u, "created_at")},
                                                           {"updated", FieldText(u, "updated_at")}};
  if (u.contains("access_keys")) rows.emplace_back("access keys", keys.empty() ? "-" : keys);
  if (const Json* certs = Find(u, "certificates"); certs != nullptr && certs->is_array()) {
    for (const Json& c : *certs) {
      rows.emplace_back("certificate",
                        fmt::format("{} {} (issued {}, expires {})", FieldText(c, "serial"),
                                    FieldText(c, "state"), FieldText(c, "issued_at"),
                                    FieldText(c, "expires_at")));
    }
  }
  return Details(rows);
}

std::string QuotaDetails(const Json& q) {
  auto line = [&](const char* key, const char* unit) {
    const Json* part = Find(q, key);
    if (part == nullptr || !part->is_object()) return std::string("-");
    const std::string limit = FieldText(*part, "limit");
    return fmt::format("{}{} of {}", FieldText(*part, "used"), unit,
                       limit == "-" ? "no limit" : limit + unit);
  };
  return Details({{"user", FieldText(q, "user")},
                  {"volumes", line("volumes", "")},
                  {"gigabytes", line("gigabytes", " GiB")},
                  {"snapshots", line("snapshots", "")}});
}

std::string WhoAmIDetails(const Json& w) {
  return Details({{"user", FieldText(w, "user")}, {"role", FieldText(w, "role")}});
}

std::string PrettyJson(const Json& value) {
  return value.dump(2) + "\n";
}

std::string RenderProgressBar(int percent, int width) {
  percent = std::clamp(percent, 0, 100);
  // Rounded (45% shows 5 of 10 cells), but full only when really done.
  int filled = percent >= 100 ? width : std::min(width - 1, (percent * width + 50) / 100);
  return fmt::format("[{}{}] {:>3}%", std::string(filled, '#'), std::string(width - filled, '.'),
                     percent);
}

WaitReporter::WaitReporter(std::ostream& err, bool is_terminal, bool show_progress)
    : err_(err), terminal_(is_terminal), show_progress_(show_progress) {}

void WaitReporter::Update(const Json& object) {
  std::string id = FieldText(object, "id");
  std::string state = FieldText(object, "state");
  const Json* p = Find(object, "progress");
  int percent = p != nullptr && p->is_number() ? p->get<int>() : 0;
  if (show_progress_ && terminal_) {
    // Redraw in place; \033[K clears what a longer previous line left behind.
    err_ << "\r" << RenderProgressBar(percent) << "  " << id << " " << state << "\033[K"
         << std::flush;
    bar_drawn_ = true;
    return;
  }
  std::string line = show_progress_ ? fmt::format("{}: {} {}%", id, state, percent)
                                    : fmt::format("{}: {}", id, state);
  if (line != last_line_) {
    err_ << line << "\n" << std::flush;
    last_line_ = line;
  }
}

void WaitReporter::Finish() {
  if (bar_drawn_) {
    err_ << "\n" << std::flush;
    bar_drawn_ = false;
  }
}

}  // namespace vbs::cli
