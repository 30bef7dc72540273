#include "core/tag_service.h"

#include "common/clock.h"
#include "core/states.h"
#include "core/validation.h"

namespace vbs {
namespace {

Status CheckIds(const std::vector<std::string>& ids) {
  if (ids.empty()) {
    return Status::InvalidArgument("MissingParameter", "at least one resource id is required");
  }
  for (const auto& id : ids) {
    if (id.rfind("vol-", 0) == 0) {
      VBS_RETURN_IF_ERROR(ValidateVolumeId(id));
    } else if (id.rfind("snap-", 0) == 0) {
      VBS_RETURN_IF_ERROR(ValidateSnapshotId(id));
    } else {
      return Status::InvalidArgument("InvalidID", "The ID '" + id +
                                                      "' is not valid: tags apply to volumes "
                                                      "(vol-…) and snapshots (snap-…)");
    }
  }
  return Status::Ok();
}

// Applies `change` to the user's tags of `tags` only: reserved "vbs:" tags (a home's mark) are
// neither seen nor changed, and they do not count against the user's limits.
Status ChangeUserTags(Tags& tags, const std::function<void(Tags&)>& change) {
  Tags reserved;
  for (auto it = tags.begin(); it != tags.end();) {
    if (it->first.rfind("vbs:", 0) == 0) {
      reserved.insert(*it);
      it = tags.erase(it);
    } else {
      ++it;
    }
  }
  change(tags);
  VBS_RETURN_IF_ERROR(ValidateTags(tags));
  tags.insert(reserved.begin(), reserved.end());
  return Status::Ok();
}

}  // namespace

Status TagService::Update(const Caller& caller, const std::vector<std::string>& ids,
                          const std::function<void(Tags&)>& change) {
  VBS_RETURN_IF_ERROR(CheckIds(ids));
  return store_.Transact([&](Transaction& tx) -> Status {
    const int64_t now = NowMillis();
    for (const auto& id : ids) {
      if (id.rfind("vol-", 0) == 0) {
        VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(id));
        if (!v || !caller.Owns(v->owner) || v->state == state::kDeleted) return VolumeNotFound(id);
        VBS_RETURN_IF_ERROR(ChangeUserTags(v->tags, change));
        v->updated_at = now;
        VBS_RETURN_IF_ERROR(tx.UpdateVolume(*v));
      } else {
        VBS_ASSIGN_OR_RETURN(auto s, tx.GetSnapshot(id));
        if (!s || !caller.Owns(s->owner) || s->state == state::kDeleted ||
            s->state == state::kDeleting) {
          return SnapshotNotFound(id);
        }
        VBS_RETURN_IF_ERROR(ChangeUserTags(s->tags, change));
        s->updated_at = now;
        VBS_RETURN_IF_ERROR(tx.UpdateSnapshot(*s));
      }
    }
    return Status::Ok();
  });
}

Status TagService::AddTags(const Caller& caller, const std::vector<std::string>& ids,
                           const Tags& tags) {
  if (tags.empty()) return Status::InvalidArgument("MissingParameter", "no tags were given");
  VBS_RETURN_IF_ERROR(ValidateTags(tags));
  return Update(caller, ids, [&](Tags& t) {
    for (const auto& [k, v] : tags) t[k] = v;
  });
}

Status TagService::RemoveTags(const Caller& caller, const std::vector<std::string>& ids,
                              const std::vector<TagRemoval>& removals) {
  return Update(caller, ids, [&](Tags& t) {
    if (removals.empty()) {
      t.clear();
      return;
    }
    for (const auto& r : removals) {
      auto it = t.find(r.key);
      if (it != t.end() && (!r.value || *r.value == it->second)) t.erase(it);
    }
  });
}

Result<std::vector<TaggedResource>> TagService::List(const Caller& caller) {
  std::vector<TaggedResource> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VolumeFilter vf;
    SnapshotFilter sf;
    if (!caller.admin) vf.owner = sf.owner = caller.user;
    VBS_ASSIGN_OR_RETURN(auto volumes, tx.ListVolumes(vf));
    VBS_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots(sf));
    for (auto& v : volumes) out.push_back({v.id, "volume", v.owner, std::move(v.tags)});
    for (auto& s : snapshots) {
      if (s.state == state::kDeleting) continue;
      out.push_back({s.id, "snapshot", s.owner, std::move(s.tags)});
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace vbs
