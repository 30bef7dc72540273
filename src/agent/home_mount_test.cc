// HomeMounter with real mounts (needs root, /dev/fuse, loop devices, qemu-storage-daemon and
// e2fsprogs; skipped otherwise): an in-process NbdServer exports a file on a unix socket, and
// the tests check what the kernel and the tools see (mountinfo, owners, losetup -j, the
// processes, the image itself).
#include "agent/home_mount.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "agent/mount_tools.h"
#include "backend/dir/file_device.h"
#include "nbd/nbd_server.h"

namespace vbs {
namespace {

namespace fs = std::filesystem;

constexpr char kExport[] = "vbsfs-exp1";
constexpr char kVol[] = "vol-0000000000000a001";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Tool(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv, std::chrono::minutes(2));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->out + r->err : "";
}

bool HasCapSysResource() {
  std::string status = Slurp("/proc/self/status");
  auto at = status.find("CapEff:");
  return at != std::string::npos && ((std::stoull(status.substr(at + 7), nullptr, 16) >> 24) & 1);
}

class HomeMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !fs::exists("/dev/fuse") || !fs::exists("/dev/loop-control") ||
        !RunCommand({"qemu-storage-daemon", "--version"}).ok()) {
      // Never a silent pass: CI runs as root after scripts/install-deps.sh (deps/vbsfs.txt).
      FAIL() << "needs root, /dev/fuse, loop devices and qemu-storage-daemon "
                "(scripts/install-deps.sh vbsfs)";
    }
    char tmpl[] = "/tmp/vbs-hm-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/vol.img";
    socket_ = dir_ + "/nbd.sock";
    mp_ = dir_ + "/home/alice";
    Truncate(128 << 20);
    Serve();
    user_ = "vbshm" + std::to_string(::getpid() % 100000);
    Tool({"useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user_});
    made_user_ = ::getpwnam(user_.c_str()) != nullptr;
    ASSERT_TRUE(made_user_) << "useradd " << user_;
    ASSERT_EQ(0, ::getpwnam_r(user_.c_str(), &pw_, pwbuf_, sizeof(pwbuf_), &pwp_));
  }

  void TearDown() override {
    if (dir_.empty()) return;
    // The product's own cleanup first, then whatever it may have left behind.
    HomeMounter m(Options());
    for (const auto& a : m.Adopt()) EXPECT_TRUE(m.Unmount(a.volume_id, true).ok());
    auto unmount_all = [&] {
      for (const auto& e : ReadMountInfo()) {
        if (e.mount_point.rfind(dir_, 0) == 0) ::umount2(e.mount_point.c_str(), MNT_DETACH);
      }
    };
    unmount_all();
    for (const auto& d : fs::directory_iterator("/sys/block", ec_)) {
      if (Slurp(d.path() / "loop" / "backing_file").rfind(dir_, 0) == 0) {
        Tool({"losetup", "-d", "/dev/" + d.path().filename().string()});
      }
    }
    for (pid_t pid : Qsds()) ::kill(pid, SIGKILL);
    unmount_all();
    server_.reset();
    if (made_user_) Tool({"userdel", user_});
    fs::remove_all(dir_, ec_);
  }

  HomeMountOptions Options() {
    HomeMountOptions o;
    o.nbd_socket = socket_;
    o.state_dir = dir_ + "/state";
    o.reconnect_delay_seconds = 30;
    return o;
  }
  HomeMountSpec Spec(bool read_only = false) {
    return HomeMountSpec{kVol, kExport, mp_, read_only ? "" : user_, read_only};
  }
  std::string StateDir(const std::string& vol = kVol) { return dir_ + "/state/" + vol; }

  void Truncate(off_t size) {
    if (!fs::exists(image_)) std::ofstream(image_).close();
    ASSERT_EQ(::truncate(image_.c_str(), size), 0);
  }
  void Serve() {  // a device per connection: a reconnecting client sees the file's size now
    if (!fs::exists(image_)) std::ofstream(image_).close();
    server_ = std::make_unique<nbd::NbdServer>();
    std::string path = image_;
    nbd::DeviceFactory factory = [path]() -> Result<std::shared_ptr<BlockDevice>> {
      VBS_ASSIGN_OR_RETURN(auto dev, FileDevice::Open(path, false));
      return std::shared_ptr<BlockDevice>(std::move(dev));
    };
    ASSERT_TRUE(server_->AddExport(kExport, factory, false).ok());
    ASSERT_TRUE(server_->ListenUnix(socket_).ok());
  }

  std::optional<MountEntry> MountAt(const std::string& mp) {
    std::optional<MountEntry> found;
    for (auto& e : ReadMountInfo()) {
      if (e.mount_point == mp) found = e;
    }
    return found;
  }
  // qemu-storage-daemon processes with this test's directory on their command line.
  std::vector<pid_t> Qsds() {
    std::vector<pid_t> pids;
    for (const auto& d : fs::directory_iterator("/proc", ec_)) {
      std::string name = d.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmd = Slurp(d.path() / "cmdline");
      std::string stat = Slurp(d.path() / "stat");
      auto close = stat.rfind(')');
      bool zombie = close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
      if (!zombie && cmd.find("qemu-storage-daemon") == 0 && cmd.find(dir_) != std::string::npos) {
        pids.push_back(std::stoi(name));
      }
    }
    return pids;
  }
  // Nothing of volume `vol` is left: no state dir, no qsd, no loop device, no mount.
  void ExpectNothingLeft(const std::string& vol = kVol) {
    EXPECT_FALSE(fs::exists(StateDir(vol)));
    EXPECT_TRUE(Qsds().empty());
    EXPECT_EQ(Tool({"losetup", "-j", StateDir(vol) + "/fuse"}), "");
    EXPECT_FALSE(MountAt(mp_).has_value());
    EXPECT_FALSE(MountAt(StateDir(vol) + "/fuse").has_value());
  }
  void Write(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::trunc);
    out << data;
    out.close();
    ASSERT_TRUE(out.good()) << path;
    int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
  }

  std::string dir_, image_, socket_, mp_, user_;
  bool made_user_ = false;
  passwd pw_{};
  passwd* pwp_ = nullptr;
  char pwbuf_[4096];
  std::error_code ec_;
  std::unique_ptr<nbd::NbdServer> server_;
};

TEST_F(HomeMountTest, FormatsABlankVolumeOnceAndChecksItAfterwards) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok()) << m.Mount(Spec()).ToString();
  auto e = MountAt(mp_);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->fs_type, "ext4");
  EXPECT_NE(("," + e->options + ",").find(",nosuid,"), std::string::npos) << e->options;
  EXPECT_NE(("," + e->options + ",").find(",nodev,"), std::string::npos) << e->options;
  EXPECT_EQ(e->source.rfind("/dev/loop", 0), 0u) << e->source;
  struct stat st {};
  ASSERT_EQ(::stat(mp_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, pw_.pw_uid);
  EXPECT_EQ(st.st_gid, pw_.pw_gid);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((dir_ + "/home").c_str(), &st), 0);  // made for the mount point
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  Write(mp_ + "/notes.txt", "first mount");
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  ExpectNothingLeft();

  // Mark the file system as having errors: only an e2fsck run makes it clean again (the
  // kernel mounts it as it is).
  Tool({"tune2fs", "-E", "force_fsck", image_});
  EXPECT_NE(Tool({"dumpe2fs", "-h", image_}).find("with errors"), std::string::npos);
  ASSERT_TRUE(m.Mount(Spec()).ok());
  EXPECT_EQ(Slurp(mp_ + "/notes.txt"), "first mount");  // not formatted again
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  std::string sb = Tool({"dumpe2fs", "-h", image_});
  EXPECT_EQ(sb.find("with errors"), std::string::npos) << sb;
  EXPECT_NE(sb.find("Filesystem state:         clean"), std::string::npos) << sb;
  ExpectNothingLeft();
  EXPECT_TRUE(m.Unmount(kVol, false).ok());  // idempotent
}

TEST_F(HomeMountTest, SecondMountIsANoOpAndAnOccupiedMountPointIsRefused) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  auto first = MountAt(mp_);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  auto second = MountAt(mp_);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->mount_id, second->mount_id);
  EXPECT_EQ(Qsds().size(), 1u);
  EXPECT_EQ(m.Adopt().size(), 1u);

  // Another volume at the same mount point, and at a mount point with a tmpfs on it.
  HomeMountSpec other = Spec();
  other.volume_id = "vol-0000000000000b002";
  Status st = m.Mount(other);
  EXPECT_EQ(st.code(), "MountPointInUse") << st.ToString();
  const std::string tmpfs = dir_ + "/tmpfs";
  fs::create_directories(tmpfs);
  ASSERT_EQ(::mount("tmpfs", tmpfs.c_str(), "tmpfs", 0, "size=1m"), 0);
  other.mount_point = tmpfs;
  st = m.Mount(other);
  EXPECT_EQ(st.code(), "MountPointInUse") << st.ToString();
  EXPECT_FALSE(fs::exists(StateDir(other.volume_id)));
  EXPECT_EQ(Qsds().size(), 1u);
  EXPECT_EQ(MountAt(tmpfs)->fs_type, "tmpfs");
  ::umount2(tmpfs.c_str(), 0);
}

TEST_F(HomeMountTest, BusyMountIsRefusedUnlessForced) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::chdir(mp_.c_str()) != 0) ::_exit(1);
    ::execlp("sleep", "sleep", "600", nullptr);
    ::_exit(1);
  }
  // Wait until the child sits in the mount.
  for (int i = 0; i < 100 && Slurp("/proc/" + std::to_string(child) + "/comm") != "sleep\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Status st = m.Unmount(kVol, false);
  EXPECT_EQ(st.code(), "MountBusy") << st.ToString();
  EXPECT_NE(st.message().find("pid " + std::to_string(child) + " (sleep)"), std::string::npos)
      << st.message();
  EXPECT_TRUE(MountAt(mp_).has_value());
  EXPECT_EQ(Qsds().size(), 1u);

  ASSERT_TRUE(m.Unmount(kVol, true).ok());
  int ws = 0;
  ASSERT_EQ(::waitpid(child, &ws, 0), child);
  EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  ExpectNothingLeft();
}

TEST_F(HomeMountTest, UnknownLocalUserLeavesNothing) {
  HomeMountSpec s = Spec();
  s.user = "vbs-no-such-user";
  Status st = HomeMounter(Options()).Mount(s);
  EXPECT_EQ(st.code(), "NoSuchLocalUser") << st.ToString();
  ExpectNothingLeft();
  EXPECT_FALSE(fs::exists(mp_));
  s.user = "../../etc";
  EXPECT_EQ(HomeMounter(Options()).Mount(s).kind(), StatusKind::kInvalidArgument);
  s = Spec();
  s.volume_id = "../x";
  EXPECT_EQ(HomeMounter(Options()).Mount(s).kind(), StatusKind::kInvalidArgument);
}

TEST_F(HomeMountTest, DamagedFileSystemIsNotMountedNorFormatted) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  Write(mp_ + "/keep", "data");
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  // Garbage over the group descriptors and what follows (the superblock stays): e2fsck -p
  // cannot repair that on its own.
  std::mt19937 rng(42);
  std::string garbage(256 << 10, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  {
    std::fstream f(image_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2048);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  Status st = m.Mount(Spec());
  EXPECT_EQ(st.code(), "FileSystemDamaged") << st.ToString();
  EXPECT_NE(st.message().find("e2fsck"), std::string::npos);
  ExpectNothingLeft();

  // The start of the volume zeroed: no signature, but a backup superblock further on; a
  // blank-looking volume like this one must not be formatted.
  std::string zeros(1 << 20, '\0');
  {
    std::fstream f(image_, std::ios::in | std::ios::out | std::ios::binary);
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  st = m.Mount(Spec());
  EXPECT_EQ(st.code(), "FileSystemDamaged") << st.ToString();
  EXPECT_NE(st.message().find("backup superblock"), std::string::npos) << st.message();
  ExpectNothingLeft();
}

TEST_F(HomeMountTest, ReadOnlyMountIsNeitherWritableNorChowned) {
  Tool({"mkfs.ext4", "-q", "-F", image_});
  {  // a file on it, through a plain loop mount
    HomeMounter m(Options());
    ASSERT_TRUE(m.Mount(Spec()).ok());
    Write(mp_ + "/public.txt", "for everyone");
    ASSERT_EQ(::chown(mp_.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(mp_.c_str(), 0755), 0);
    ASSERT_TRUE(m.Unmount(kVol, false).ok());
  }
  HomeMountSpec s = Spec(/*read_only=*/true);
  s.user = user_;  // ignored for read-only mounts
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(s).ok());
  auto e = MountAt(mp_);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(("," + e->options + ",").find(",ro,"), 0u) << e->options;
  EXPECT_EQ(Slurp(mp_ + "/public.txt"), "for everyone");
  int fd = ::open((mp_ + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  fd = ::open((mp_ + "/public.txt").c_str(), O_WRONLY);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  struct stat st {};
  ASSERT_EQ(::stat(mp_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(m.Grow(kVol).code(), "ReadOnlyMount");
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  ExpectNothingLeft();
}

TEST_F(HomeMountTest, BlankVolumeIsNotMountedReadOnly) {
  Status st = HomeMounter(Options()).Mount(Spec(/*read_only=*/true));
  EXPECT_EQ(st.code(), "UnsupportedFileSystem") << st.ToString();
  ExpectNothingLeft();
}

// Online where the process may resize ext4 (CAP_SYS_RESOURCE), else at the next mount.
TEST_F(HomeMountTest, GrowsOnlineOrAtTheNextMount) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  Write(mp_ + "/before", "x");
  auto before = m.Usage(kVol);
  ASSERT_TRUE(before.ok());
  EXPECT_GT(before->size_bytes, 100u << 20);
  EXPECT_LE(before->size_bytes, 128u << 20);
  EXPECT_GT(before->free_bytes, 0u);
  // What the agent does when a volume grew: the export is bigger, its connections dropped.
  Truncate(256 << 20);
  ASSERT_TRUE(server_->registry().DropConnections(kExport).ok());
  Status st = m.Grow(kVol);
  // The block device under the file system grew whatever happens to resize2fs.
  auto e = MountAt(mp_);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(Slurp("/sys/block/" + e->source.substr(5) + "/size"), std::to_string(256 << 11) + "\n");
  if (!HasCapSysResource()) {
    // Root without CAP_SYS_RESOURCE (some sandboxes): ext4 refuses online resizing.
    EXPECT_EQ(st.code(), "MountFailed");
    EXPECT_NE(st.message().find("CAP_SYS_RESOURCE"), std::string::npos) << st.message();
    // Then the file system grows at its next mount (e2fsck -f, resize2fs offline).
    ASSERT_TRUE(m.Unmount(kVol, false).ok());
    ASSERT_TRUE(m.Mount(Spec()).ok());
  } else {
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto after = m.Usage(kVol);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->size_bytes, 230u << 20);
  EXPECT_LE(after->size_bytes, 256u << 20);
  EXPECT_EQ(Slurp(mp_ + "/before"), "x");
  Write(mp_ + "/after", "y");
  EXPECT_TRUE(m.Grow(kVol).ok());  // nothing to do
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  EXPECT_EQ(Tool({"e2fsck", "-fn", image_}).find("WARNING"), std::string::npos);
}

TEST_F(HomeMountTest, FreezeHoldsWritesUntilThaw) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  ASSERT_TRUE(m.Freeze(kVol).ok());
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::ofstream(mp_ + "/during-freeze") << "w";
    written = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_FALSE(written.load());
  ASSERT_TRUE(m.Thaw(kVol).ok());
  writer.join();
  EXPECT_TRUE(written.load());
  EXPECT_EQ(Slurp(mp_ + "/during-freeze"), "w");
  EXPECT_TRUE(m.Thaw(kVol).ok());  // not frozen: nothing to do
  EXPECT_EQ(m.Freeze("vol-0000000000000c003").code(), "MountNotFound");
}

TEST_F(HomeMountTest, ARestartedAgentAdoptsTheMounts) {
  {
    HomeMounter m(Options());
    ASSERT_TRUE(m.Mount(Spec()).ok());
  }
  // qsd is nobody's child here: it lives in its own session, so the agent can die and restart.
  auto qsds = Qsds();
  ASSERT_EQ(qsds.size(), 1u);
  std::string stat = Slurp("/proc/" + std::to_string(qsds[0]) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  char state = 0;
  pid_t ppid = 0, pgrp = 0, sid = 0;
  fields >> state >> ppid >> pgrp >> sid;
  EXPECT_NE(ppid, ::getpid());
  EXPECT_NE(sid, ::getsid(0));
  HomeMounter again(Options());
  auto adopted = again.Adopt();
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_EQ(adopted[0].volume_id, kVol);
  EXPECT_EQ(adopted[0].mount_point, mp_);
  EXPECT_TRUE(adopted[0].mounted);
  EXPECT_TRUE(again.Usage(kVol).ok());
  // The file system gone (unmounted by hand) but the pieces there: listed as not mounted, and
  // a Mount puts it back.
  ASSERT_EQ(::umount2(mp_.c_str(), 0), 0);
  adopted = again.Adopt();
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_FALSE(adopted[0].mounted);
  ASSERT_TRUE(again.Mount(Spec()).ok());
  EXPECT_TRUE(again.Adopt()[0].mounted);
  EXPECT_EQ(Qsds().size(), 1u);
}

// ext4 zeroes ranges (lazy inode table init, extent conversion) with write-zeroes requests
// that the loop device turns into punched holes in the FUSE file: they must read back as zeros.
TEST_F(HomeMountTest, PunchedHolesOfTheLoopDeviceReadAsZeros) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  auto e = MountAt(mp_);
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(::umount2(mp_.c_str(), 0), 0);  // the chain stays, the file system goes
  const std::string loop = e->source;
  int fd = ::open(loop.c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0);
  void* buf = nullptr;
  ASSERT_EQ(::posix_memalign(&buf, 4096, 1 << 20), 0);
  std::memset(buf, 0xab, 1 << 20);
  const off_t at = 64 << 20;
  ASSERT_EQ(::pwrite(fd, buf, 1 << 20, at), 1 << 20);
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, 1 << 20), 0);
  ASSERT_EQ(::pread(fd, buf, 1 << 20, at), 1 << 20);
  const auto* bytes = static_cast<const unsigned char*>(buf);
  EXPECT_EQ(std::count(bytes, bytes + (1 << 20), 0), 1 << 20);
  std::free(buf);
  ::close(fd);
  std::string on_volume(1 << 20, 'x');
  std::ifstream(image_).seekg(at).read(on_volume.data(), 1 << 20);
  EXPECT_EQ(on_volume, std::string(1 << 20, '\0'));
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  ExpectNothingLeft();
}

TEST_F(HomeMountTest, SurvivesTheNbdServerRestarting) {
  HomeMounter m(Options());
  ASSERT_TRUE(m.Mount(Spec()).ok());
  Write(mp_ + "/before", "written before the restart");
  // The agent restarts: its server stops (every connection cut), and a new one serves the
  // same export on the same socket a moment later.
  server_->Stop();
  server_.reset();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Serve();
  std::ofstream("/proc/sys/vm/drop_caches") << "1";  // read back through the new server
  EXPECT_EQ(Slurp(mp_ + "/before"), "written before the restart");
  Write(mp_ + "/after", "written after the restart");
  EXPECT_EQ(server_->connection_count(), 1u);  // qsd came back
  ASSERT_TRUE(m.Unmount(kVol, false).ok());
  EXPECT_NE(Tool({"debugfs", "-R", "cat /after", image_}).find("written after the restart"),
            std::string::npos);
}

}  // namespace
}  // namespace vbs
