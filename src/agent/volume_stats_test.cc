// VolumeStats renders each volume's NBD counters under its id and the node's name.
#include "agent/volume_stats.h"

#include <gtest/gtest.h>

namespace vbs {
namespace {

TEST(VolumeStats, OneSetOfCountersPerVolumeRenderedByIdAndNode) {
  VolumeStats stats("node-a");
  auto a = stats.For("vol-0000000000000000a");
  EXPECT_EQ(a, stats.For("vol-0000000000000000a")) << "the volume's exports share them";
  nbd::Request w;
  w.type = nbd::kCmdWrite;
  w.length = 4096;
  a->in_flight.Add(1);
  a->Answered(w, 0, std::chrono::steady_clock::now());
  a->connections.Add(1);
  MetricsWriter out;
  stats.Write(out);
  const std::string& t = out.text();
  EXPECT_NE(t.find("vbs_volume_bytes_total{volume=\"vol-0000000000000000a\",node=\"node-a\","
                   "op=\"write\"} 4096\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("vbs_volume_operations_total{volume=\"vol-0000000000000000a\",node=\"node-a\","
                   "op=\"write\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("vbs_nbd_connections{volume=\"vol-0000000000000000a\",node=\"node-a\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("vbs_volume_operations_in_flight{volume=\"vol-0000000000000000a\","
                   "node=\"node-a\"} 0\n"),
            std::string::npos);
  stats.Forget("vol-0000000000000000a");
  MetricsWriter after;
  stats.Write(after);
  EXPECT_EQ(after.text().find("vol-0000000000000000a"), std::string::npos);
}

}  // namespace
}  // namespace vbs
