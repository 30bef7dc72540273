#include "cli/output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace vbs::cli {
namespace {

const Json kVolume = Json::parse(R"({
  "id":"vol-0123456789abcdef0","owner":"alice","size":10737418240,"pool":"default",
  "state":"available","snapshot_id":null,"error":null,"tags":{"Name":"db","env":"prod"},
  "created_at":"2026-11-24T10:00:00Z","attachments":[],"volume_type":"gp3","iops":3000,
  "throughput":125})");

const Json kSnapshot = Json::parse(R"({
  "id":"snap-0123456789abcdef0","owner":"alice","volume_id":"vol-0123456789abcdef0",
  "size":1073741824,"pool":"default","state":"pending","progress":45,"error":null,
  "description":"nightly","tags":{},"created_at":"2026-11-24T10:01:00Z"})");

TEST(RenderTable, AlignsColumnsWithoutTrailingBlanks) {
  EXPECT_EQ(RenderTable({"A", "LONGER", "C"}, {{"xxxx", "y", ""}, {"z", "", "last"}}),
            "A     LONGER  C\n"
            "xxxx  y\n"
            "z             last\n");
  EXPECT_EQ(RenderTable({"ID", "STATE"}, {}), "ID  STATE\n");
}

TEST(VolumesTable, ShowsTheDocumentedColumns) {
  Json second = kVolume;
  second["id"] = "vol-00000000000000001";
  second["size"] = 1536ull << 20;
  second["tags"] = Json::object();
  second["snapshot_id"] = "snap-0123456789abcdef0";
  second["state"] = "in-use";
  second["attachments"] = Json::parse(R"([{"instance_id":"i-1","mode":"ro"},
                                          {"instance_id":"host-n1","mode":"ro"}])");
  EXPECT_EQ(VolumesTable(Json::array({kVolume, second})),
            "ID                     NAME  SIZE  STATE      ATTACHED     POOL     "
            "SNAPSHOT                CREATED\n"
            "vol-0123456789abcdef0  db    10G   available  -            default  "
            "-                       2026-11-24T10:00:00Z\n"
            "vol-00000000000000001  -     1.5G  in-use     i-1,host-n1  default  "
            "snap-0123456789abcdef0  2026-11-24T10:00:00Z\n");
}

TEST(SnapshotsTable, ShowsProgress) {
  EXPECT_EQ(SnapshotsTable(Json::array({kSnapshot})),
            "ID                      VOLUME                 STATE    PROGRESS  SIZE  "
            "DESCRIPTION  CREATED\n"
            "snap-0123456789abcdef0  vol-0123456789abcdef0  pending  45%       1G    nightly     "
            " 2026-11-24T10:01:00Z\n");
}

TEST(AdminTables, RenderBooleansAndSizes) {
  Json pools = Json::parse(R"([{"name":"default","node":"n1","type":"dir","shared":false,
      "capacity":107374182400,"reserved":10737418240,"state":"up"}])");
  EXPECT_EQ(PoolsTable(pools),
            "NAME     NODE  TYPE  SHARED  CAPACITY  RESERVED  STATE\n"
            "default  n1    dir   no      100G      10G       up\n");
  EXPECT_EQ(NodesTable(Json::parse(R"([{"name":"n1","state":"up","last_heartbeat":null}])")),
            "NAME  STATE  LAST HEARTBEAT\n"
            "n1    up     -\n");
  EXPECT_EQ(UsersTable(Json::parse(R"([{"name":"admin","role":"admin","state":"active",)"
                                   R"("created_at":"2026-11-24T10:22:59.148Z"}])")),
            "NAME   ROLE   STATE   CREATED\n"
            "admin  admin  active  2026-11-24T10:22:59Z\n");
  EXPECT_EQ(AccessKeysTable(Json::parse(
                R"([{"access_key_id":"AKIAABCDEFGHIJKLMNOP","user":"carol","state":"active",)"
                R"("created_at":"2026-11-24T10:22:59.148Z"}])")),
            "ACCESS KEY            USER   STATE   CREATED\n"
            "AKIAABCDEFGHIJKLMNOP  carol  active  2026-11-24T10:22:59Z\n");
}

TEST(Details, AQuotaAsUsageOfLimit) {
  EXPECT_EQ(QuotaDetails(Json::parse(
                R"({"user":"carol","volumes":{"limit":5,"used":3},)"
                R"("gigabytes":{"limit":null,"used":12},"snapshots":{"limit":0,"used":0}})")),
            "user:      carol\n"
            "volumes:   3 of 5\n"
            "gigabytes: 12 GiB of no limit\n"
            "snapshots: 0 of 0\n");
}

TEST(Details, AUserWithTheIdsOfItsKeys) {
  EXPECT_EQ(UserDetails(
                Json::parse(R"({"name":"carol","role":"user","state":"disabled","created_at":"c",)"
                            R"("updated_at":"u","access_keys":[{"access_key_id":"AKIA1"},)"
                            R"({"access_key_id":"AKIA2"}]})")),
            "name:        carol\n"
            "role:        user\n"
            "state:       disabled\n"
            "created:     c\n"
            "updated:     u\n"
            "access keys: AKIA1, AKIA2\n");
}

TEST(Details, KeyValueLines) {
  EXPECT_EQ(VolumeDetails(kVolume),
            "id:          vol-0123456789abcdef0\n"
            "name:        db\n"
            "size:        10G (10737418240 bytes)\n"
            "state:       available\n"
            "pool:        default\n"
            "type:        gp3, 3000 IOPS, 125 MiB/s\n"
            "snapshot:    -\n"
            "owner:       alice\n"
            "created:     2026-11-24T10:00:00Z\n"
            "tags:        Name=db, env=prod\n"
            "attachments: -\n");
  Json failed = kSnapshot;
  failed["state"] = "error";
  failed["error"] = "disk full";
  std::string text = SnapshotDetails(failed);
  EXPECT_NE(text.find("progress:    45%\n"), std::string::npos) << text;
  EXPECT_NE(text.find("error:       disk full\n"), std::string::npos) << text;
  EXPECT_EQ(WhoAmIDetails({{"user", "alice"}, {"role", "user"}}), "user: alice\nrole: user\n");
}

TEST(Details, AttachmentsAndOddValues) {
  Json v = kVolume;
  v["attachments"] = Json::parse(R"([{"instance_id":"host-n1","mode":"ro","state":"attached",
      "device":"vbs-1","nbd_uri":"nbd+unix:///e1?socket=/run/n.sock","error":null},
      {"instance_id":"i-2","mode":"ro","state":"detaching","error":"the instance 'i-2' is gone"}])");
  v["size"] = "weird";
  std::string text = VolumeDetails(v);
  EXPECT_NE(text.find("attachments: 2\n"
                      "  INSTANCE  MODE  DEVICE  STATE      NBD URI\n"
                      "  host-n1   ro    vbs-1   attached   nbd+unix:///e1?socket=/run/n.sock\n"
                      "  i-2       ro    -       detaching  -\n"
                      "  i-2: error: the instance 'i-2' is gone\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("size:        weird\n"), std::string::npos) << text;
  EXPECT_EQ(FieldText(Json::array(), "id"), "-");  // not an object: no throw
}

TEST(Attachments, DetailsAndInstances) {
  Json a = Json::parse(R"({"id":"att-0123456789abcdef0","volume_id":"vol-0123456789abcdef0",
      "instance_id":"host-local","node":"local","mode":"rw","device":"vbs-0123456789abcdef0",
      "state":"attached","export_name":"x1","nbd_uri":"nbd+unix:///x1?socket=/s","error":null,
      "created_at":"2026-11-24T10:00:00Z"})");
  EXPECT_EQ(AttachmentDetails(a),
            "id:       att-0123456789abcdef0\n"
            "volume:   vol-0123456789abcdef0\n"
            "instance: host-local\n"
            "node:     local\n"
            "mode:     rw\n"
            "device:   vbs-0123456789abcdef0\n"
            "state:    attached\n"
            "export:   x1\n"
            "nbd uri:  nbd+unix:///x1?socket=/s\n"
            "created:  2026-11-24T10:00:00Z\n");
  a["error"] = "detach failed: busy";
  EXPECT_NE(AttachmentDetails(a).find("error:    detach failed: busy\n"), std::string::npos);
  EXPECT_EQ(InstancesTable(Json::parse(R"([{"id":"host-local","node":"local","kind":"host",
      "owner":null,"state":"running","last_seen":"2026-11-24T10:22:59.148Z"}])")),
            "ID          NODE   KIND  OWNER  STATE    LAST SEEN\n"
            "host-local  local  host  -      running  2026-11-24T10:22:59Z\n");
  EXPECT_EQ(AttachedText(Json::object()), "-");
}

TEST(PrettyJson, IsStableAndSorted) {
  Json a = Json::parse(R"({"b":1,"a":{"d":2,"c":3}})");
  EXPECT_EQ(PrettyJson(a), "{\n  \"a\": {\n    \"c\": 3,\n    \"d\": 2\n  },\n  \"b\": 1\n}\n");
}

TEST(RenderProgressBar, TenCellsAndPercent) {
  EXPECT_EQ(RenderProgressBar(45), "[#####.....]  45%");
  EXPECT_EQ(RenderProgressBar(99), "[#########.]  99%");
  EXPECT_EQ(RenderProgressBar(50), "[#####.....]  50%");
  EXPECT_EQ(RenderProgressBar(0), "[..........]   0%");
  EXPECT_EQ(RenderProgressBar(100), "[##########] 100%");
  EXPECT_EQ(RenderProgressBar(250), "[##########] 100%");
  EXPECT_EQ(RenderProgressBar(-3), "[..........]   0%");
  EXPECT_EQ(RenderProgressBar(50, 4), "[##..]  50%");
}

TEST(WaitReporter, BarOnATerminal) {
  std::ostringstream err;
  WaitReporter r(err, /*is_terminal=*/true, /*show_progress=*/true);
  r.Update(kSnapshot);
  Json done = kSnapshot;
  done["state"] = "completed";
  done["progress"] = 100;
  r.Update(done);
  r.Finish();
  r.Finish();
  EXPECT_EQ(err.str(),
            "\r[#####.....]  45%  snap-0123456789abcdef0 pending\033[K"
            "\r[##########] 100%  snap-0123456789abcdef0 completed\033[K\n");
}

TEST(WaitReporter, PlainLinesOnlyOnChange) {
  std::ostringstream err;
  WaitReporter r(err, /*is_terminal=*/false, /*show_progress=*/true);
  r.Update(kSnapshot);
  r.Update(kSnapshot);
  Json later = kSnapshot;
  later["progress"] = 90;
  r.Update(later);
  r.Finish();
  EXPECT_EQ(err.str(),
            "snap-0123456789abcdef0: pending 45%\n"
            "snap-0123456789abcdef0: pending 90%\n");

  std::ostringstream verr;
  WaitReporter v(verr, /*is_terminal=*/true, /*show_progress=*/false);
  Json creating = kVolume;
  creating["state"] = "creating";
  v.Update(creating);
  v.Update(creating);
  v.Update(kVolume);
  v.Finish();
  EXPECT_EQ(verr.str(),
            "vol-0123456789abcdef0: creating\n"
            "vol-0123456789abcdef0: available\n");
}

}  // namespace
}  // namespace vbs::cli
