#include "agent/home_mount.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "agent/mount_tools.h"
#include "hypervisor/qmp_client.h"

namespace vbs {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kNode[] = "vbsfs";  // qsd's block node and export id
constexpr auto kQuick = std::chrono::seconds(60);
constexpr auto kLong = std::chrono::hours(4);  // mkfs, e2fsck, resize2fs of a big volume

Status ConflictStatus(const std::string& code, const std::string& message) {
  return Status(StatusKind::kConflict, code, message);
}

bool Charset(const std::string& s, const char* extra) {
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr(extra, c) == nullptr) {
      return false;
    }
  }
  return true;
}

Status ValidateVolumeId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-' || !Charset(id, "._-")) {
    return Status::InvalidArgument("InvalidParameterValue", "bad volume id '" + id + "'");
  }
  return Status::Ok();
}

// The state dir goes into qsd's command line (QemuOpts: a ',' would split an option).
Status ValidatePath(const std::string& what, const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find(',') != std::string::npos ||
      std::any_of(path.begin(), path.end(), [](char c) { return c > 0 && c < 0x20; })) {
    return Status::InvalidArgument("InvalidParameterValue", "bad " + what + " '" + path + "'");
  }
  for (const auto& part : fs::path(path)) {
    if (part == "..") {
      return Status::InvalidArgument("InvalidParameterValue", what + " with '..': " + path);
    }
  }
  return Status::Ok();
}

struct Pieces {
  std::string dir, fuse, qmp, pid, spec;
};

Pieces PiecesOf(const HomeMountOptions& o, const std::string& volume_id) {
  Pieces p;
  p.dir = (fs::path(o.state_dir) / volume_id).lexically_normal().string();
  p.fuse = p.dir + "/fuse";
  p.qmp = p.dir + "/qmp.sock";
  p.pid = p.dir + "/qsd.pid";
  p.spec = p.dir + "/mount.json";
  return p;
}

std::optional<HomeMountSpec> ReadSpec(const Pieces& p) {
  std::ifstream in(p.spec);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("mount_point") || !j["mount_point"].is_string()) return {};
  HomeMountSpec s;
  s.volume_id = j.value("volume_id", "");
  s.export_name = j.value("export_name", "");
  s.mount_point = j.value("mount_point", "");
  s.user = j.value("user", "");
  s.read_only = j.value("read_only", false);
  return s;
}

Status WriteSpec(const Pieces& p, const HomeMountSpec& s) {
  json j = {{"volume_id", s.volume_id},
            {"export_name", s.export_name},
            {"mount_point", s.mount_point},
            {"user", s.user},
            {"read_only", s.read_only}};
  const std::string tmp = p.spec + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out.flush()) return MountFailed("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), p.spec.c_str()) != 0) return Status::FromErrno("rename", errno);
  return Status::Ok();
}

std::optional<MountEntry> TopMountAt(const std::string& mount_point) {
  std::optional<MountEntry> top;
  for (auto& e : ReadMountInfo()) {
    if (e.mount_point == mount_point) top = std::move(e);
  }
  return top;
}

// Our ext4 at `mount_point`: mounted from a loop device on our FUSE file.
std::optional<MountEntry> OurMount(const std::string& mount_point, const std::string& fuse) {
  std::optional<MountEntry> found;
  for (const auto& loop : LoopDevicesOf(fuse)) {
    struct stat st {};
    if (::stat(loop.c_str(), &st) != 0) continue;
    for (auto& e : ReadMountInfo()) {
      if (e.mount_point == mount_point && e.major == major(st.st_rdev) &&
          e.minor == minor(st.st_rdev)) {
        found = std::move(e);
      }
    }
  }
  return found;
}

bool Running(pid_t pid) {  // not gone, not a zombie
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// qsd's pid from its pid file, if that process is running and is the qsd of these pieces.
pid_t QsdPid(const Pieces& p) {
  std::ifstream in(p.pid);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return 0;
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  if (cmdline.find("path=" + p.qmp + ",") == std::string::npos) return 0;
  return Running(static_cast<pid_t>(pid)) ? static_cast<pid_t>(pid) : 0;
}

bool WaitGone(pid_t pid, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Running(pid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

// Takes away whatever pieces of a mount are there (the file system must not be mounted):
// the loop devices on the FUSE file, qsd, its FUSE mount, the state dir.
// abandon: the volume is no longer this node's (fenced): qsd is killed first, so that I/O
// still waiting for the NBD server fails at once instead of being flushed.
Status Teardown(const Pieces& p, bool abandon = false) {
  if (pid_t pid = abandon ? QsdPid(p) : 0; pid > 0) {
    ::kill(pid, SIGKILL);
    WaitGone(pid, std::chrono::seconds(5));
  }
  const auto loops = LoopDevicesOf(p.fuse);
  for (const auto& loop : loops) {
    struct stat st {};
    if (::stat(loop.c_str(), &st) != 0) continue;
    for (const auto& e : ReadMountInfo()) {
      if (e.major == major(st.st_rdev) && e.minor == minor(st.st_rdev)) {
        return MountFailed(loop + " (on " + p.fuse + ") is still mounted at " + e.mount_point);
      }
    }
  }
  for (const auto& loop : loops) {
    VBS_RETURN_IF_ERROR(RunChecked({"losetup", "-d", loop}, kQuick));
  }
  if (pid_t pid = QsdPid(p); pid > 0) {
    ::kill(pid, SIGTERM);  // qsd flushes and takes its FUSE export away
    if (!WaitGone(pid, std::chrono::seconds(10))) {
      ::kill(pid, SIGKILL);
      if (!WaitGone(pid, std::chrono::seconds(5))) {
        return MountFailed("qemu-storage-daemon " + std::to_string(pid) + " does not exit");
      }
    }
  }
  if (TopMountAt(p.fuse)) ::umount2(p.fuse.c_str(), MNT_DETACH);  // a qsd killed -9
  std::error_code ec;
  fs::remove_all(p.dir, ec);
  if (ec) return MountFailed("cannot remove " + p.dir + ": " + ec.message());
  return Status::Ok();
}

Status StartQsd(const HomeMountOptions& o, const HomeMountSpec& s, const Pieces& p) {
  json blockdev = {{"driver", "nbd"},
                   {"node-name", kNode},
                   {"server", {{"type", "unix"}, {"path", o.nbd_socket}}},
                   {"export", s.export_name},
                   {"reconnect-delay", o.reconnect_delay_seconds},
                   {"read-only", s.read_only},
                   // The loop device turns write-zeroes into a punched hole of the FUSE file:
                   // with "ignore" qsd would drop it and stale data would stay.
                   {"discard", "unmap"}};
  json exp = {{"type", "fuse"},           {"id", kNode},
              {"node-name", kNode},       {"mountpoint", p.fuse},
              {"writable", !s.read_only}, {"allow-other", "off"}};
  return RunChecked({o.qemu_storage_daemon, "--blockdev", blockdev.dump(), "--export", exp.dump(),
                     "--chardev", "socket,id=qmp,path=" + p.qmp + ",server=on,wait=off",
                     "--monitor", "chardev=qmp", "--pidfile", p.pid, "--daemonize"},
                    kQuick);
}

// blkid's low-level probe: "" when there is no signature at all.
Result<std::string> Probe(const std::string& dev) {
  VBS_ASSIGN_OR_RETURN(CommandResult r, RunCommand({"blkid", "-p", "-o", "export", dev}, kQuick));
  if (r.exit_code == 2) return std::string();
  if (r.exit_code != 0) return MountFailed("blkid " + dev + ": " + r.err);
  std::string type, pttype, line;
  std::istringstream in(r.out);
  while (std::getline(in, line)) {
    if (line.rfind("TYPE=", 0) == 0) type = line.substr(5);
    if (line.rfind("PTTYPE=", 0) == 0) pttype = "partition table " + line.substr(7);
  }
  return type.empty() ? (pttype.empty() ? std::string("unknown") : pttype) : type;
}

// An ext2/3/4 backup superblock in group 1 (for 1, 2 and 4 KiB blocks): a device whose
// start was overwritten still holds a file system, and formatting it would lose it.
std::optional<uint64_t> BackupSuperblock(const std::string& dev) {
  int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::optional<uint64_t> found;
  for (uint64_t at : {uint64_t{8193} * 1024, uint64_t{16384} * 2048, uint64_t{32768} * 4096}) {
    unsigned char magic[2] = {0, 0};
    if (::pread(fd, magic, 2, static_cast<off_t>(at + 0x38)) == 2 && magic[0] == 0x53 &&
        magic[1] == 0xef) {
      found = at;
      break;
    }
  }
  ::close(fd);
  return found;
}

Status CheckOrFormat(const std::string& loop, const HomeMountSpec& s) {
  VBS_ASSIGN_OR_RETURN(std::string type, Probe(loop));
  if (type.empty() && !s.read_only) {
    if (auto backup = BackupSuperblock(loop)) {
      return ConflictStatus("FileSystemDamaged",
                            "volume " + s.volume_id +
                                " has no file system signature but an ext4 backup superblock at "
                                "byte " +
                                std::to_string(*backup) + ": not formatting it");
    }
    return RunChecked({"mkfs.ext4", "-q", "-m", "0", loop}, kLong);
  }
  if (type != "ext4") {
    return ConflictStatus("UnsupportedFileSystem",
                          "volume " + s.volume_id + " holds " +
                              (type.empty() ? std::string("no file system") : type) + ", not ext4");
  }
  if (s.read_only) return Status::Ok();
  // The volume grew since the file system was last mounted (or online growth was refused):
  // grow it now, offline, which needs a forced check first and no CAP_SYS_RESOURCE.
  const uint64_t device = BlockDeviceBytes(loop), fs = Ext4Bytes(loop);
  const bool grow = device > 0 && fs > 0 && device >= fs + (1u << 20);
  std::vector<std::string> check = {"e2fsck", "-p", loop};
  if (grow) check.insert(check.begin() + 1, "-f");
  VBS_ASSIGN_OR_RETURN(CommandResult r, RunCommand(check, kLong));
  if (r.exit_code >= 4) {
    return ConflictStatus("FileSystemDamaged", "e2fsck -p on volume " + s.volume_id + " exited " +
                                                   std::to_string(r.exit_code) + ": " + r.out +
                                                   r.err);
  }
  return grow ? RunChecked({"resize2fs", loop}, kLong) : Status::Ok();
}

// Everything after the state dir exists: qsd, loop, file system, mount. The caller tears the
// pieces down when this fails.
Status MountPieces(const HomeMountOptions& o, const HomeMountSpec& s, const Pieces& p, uid_t uid,
                   gid_t gid) {
  VBS_RETURN_IF_ERROR(StartQsd(o, s, p));
  // Not --direct-io: on this chain (loop over qsd's FUSE file) the kernel accepts direct I/O
  // but large writes reach the volume corrupted; buffered loop I/O is correct.
  std::vector<std::string> losetup = {"losetup", "--direct-io=off", "--find", "--show"};
  if (s.read_only) losetup.push_back("--read-only");
  losetup.push_back(p.fuse);
  VBS_ASSIGN_OR_RETURN(CommandResult r, RunCommand(losetup, kQuick));
  std::string loop = r.out.substr(0, r.out.find('\n'));
  if (r.exit_code != 0 || loop.rfind("/dev/loop", 0) != 0) {
    return MountFailed("losetup " + p.fuse + ": " + r.err);
  }
  VBS_RETURN_IF_ERROR(CheckOrFormat(loop, s));
  unsigned long flags = MS_NOSUID | MS_NODEV | (s.read_only ? MS_RDONLY : 0);
  if (::mount(loop.c_str(), s.mount_point.c_str(), "ext4", flags,
              s.read_only ? "noload" : nullptr) != 0) {
    return MountFailed("mount " + loop + " at " + s.mount_point + ": " + std::strerror(errno));
  }
  if (!s.read_only && (::chown(s.mount_point.c_str(), uid, gid) != 0 ||
                       ::chmod(s.mount_point.c_str(), s.root_mode) != 0)) {
    Status st = Status::FromErrno("chown/chmod " + s.mount_point, errno);
    ::umount2(s.mount_point.c_str(), 0);
    return st;
  }
  return Status::Ok();
}

// ext4's online resize ioctls need CAP_SYS_RESOURCE, which some sandboxes drop even for root.
bool HasCapSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      return (std::stoull(line.substr(7), nullptr, 16) >> 24) & 1;  // CAP_SYS_RESOURCE = 24
    }
  }
  return false;
}

std::string Describe(const std::vector<BusyProcess>& procs) {
  std::string s;
  for (const auto& p : procs) {
    s += (s.empty() ? "" : ", ") + std::string("pid ") + std::to_string(p.pid) + " (" + p.command +
         ")";
  }
  return s;
}

}  // namespace

Status HomeMounter::Mount(const HomeMountSpec& in) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(in.volume_id));
  VBS_RETURN_IF_ERROR(ValidatePath("state dir", options_.state_dir));
  VBS_RETURN_IF_ERROR(ValidatePath("mount point", in.mount_point));
  if (in.export_name.empty() || in.export_name.size() > 4096) {
    return Status::InvalidArgument("InvalidParameterValue", "bad export name");
  }
  HomeMountSpec s = in;
  s.mount_point = fs::path(in.mount_point).lexically_normal().string();
  while (s.mount_point.size() > 1 && s.mount_point.back() == '/') s.mount_point.pop_back();
  if (s.mount_point == "/") {
    return Status::InvalidArgument("InvalidParameterValue", "cannot mount a volume at /");
  }
  uid_t uid = 0;
  gid_t gid = 0;
  if (!s.read_only) {
    if (s.user.empty() || s.user.size() > 32 || s.user[0] == '-' || !Charset(s.user, "._-$")) {
      return Status::InvalidArgument("InvalidParameterValue", "bad user name '" + s.user + "'");
    }
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwnam_r(s.user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
      return Status::InvalidArgument("NoSuchLocalUser",
                                     "no local account '" + s.user + "' on this node");
    }
    uid = pw.pw_uid;
    gid = pw.pw_gid;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  if (fs::exists(s.mount_point, ec)) s.mount_point = fs::canonical(s.mount_point, ec).string();
  const Pieces p = PiecesOf(options_, s.volume_id);
  if (fs::exists(p.dir, ec)) {
    auto rec = ReadSpec(p);
    if (rec && OurMount(rec->mount_point, p.fuse)) {
      if (rec->mount_point == s.mount_point && rec->read_only == s.read_only &&
          rec->export_name == s.export_name) {
        return Status::Ok();  // a rerun: already there
      }
      return ConflictStatus("VolumeAlreadyMounted",
                            "volume " + s.volume_id + " is already mounted at " + rec->mount_point);
    }
    // An interrupted mount or a dead chain: nothing is mounted, so clear the leftovers.
    VBS_RETURN_IF_ERROR(Teardown(p));
  }
  if (auto top = TopMountAt(s.mount_point)) {
    return ConflictStatus("MountPointInUse", s.mount_point + " already has " + top->fs_type +
                                                 " from " + top->source + " mounted on it");
  }
  if (!fs::exists(s.mount_point, ec)) {
    fs::create_directories(s.mount_point, ec);
    if (ec || ::chmod(s.mount_point.c_str(), 0755) != 0) {
      return MountFailed("cannot make mount point " + s.mount_point + ": " + ec.message());
    }
    s.mount_point = fs::canonical(s.mount_point, ec).string();
  }
  if (!fs::is_directory(s.mount_point, ec)) {
    return Status::InvalidArgument("InvalidParameterValue", s.mount_point + " is not a directory");
  }
  fs::create_directories(p.dir, ec);
  if (ec || ::chmod(p.dir.c_str(), 0700) != 0) {
    return MountFailed("cannot make " + p.dir + ": " + ec.message());
  }
  if (sizeof(sockaddr_un::sun_path) <= p.qmp.size()) {
    (void)Teardown(p);
    return Status::InvalidArgument("InvalidParameterValue", "state dir path too long: " + p.qmp);
  }
  Status st = WriteSpec(p, s);
  if (st.ok()) {
    int fd = ::open(p.fuse.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) st = Status::FromErrno("create " + p.fuse, errno);
    if (fd >= 0) ::close(fd);
  }
  if (st.ok()) st = MountPieces(options_, s, p, uid, gid);
  if (!st.ok()) (void)Teardown(p);
  return st;
}

Status HomeMounter::Unmount(const std::string& volume_id, bool force) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  std::lock_guard<std::mutex> lock(mu_);
  const Pieces p = PiecesOf(options_, volume_id);
  std::error_code ec;
  if (!fs::exists(p.dir, ec)) return Status::Ok();
  auto rec = ReadSpec(p);
  std::optional<MountEntry> m;
  if (rec) m = OurMount(rec->mount_point, p.fuse);
  if (m) {
    const std::string& mp = rec->mount_point;
    auto top = TopMountAt(mp);
    if (!top || top->mount_id != m->mount_id) {
      return ConflictStatus("MountPointInUse", "something is mounted over " + mp);
    }
    int fd = ::open(mp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::ioctl(fd, FITHAW, 0);  // a frozen file system would block the unmount
      ::syncfs(fd);
      ::close(fd);
    }
    auto busy = ProcessesUsing(m->mount_id, m->major, m->minor, mp);
    if (!busy.empty() && !force) {
      return ConflictStatus("MountBusy", mp + " is in use by " + Describe(busy));
    }
    for (const auto& b : busy) ::kill(b.pid, SIGKILL);
    for (const auto& b : busy) WaitGone(b.pid, std::chrono::seconds(10));
    const auto deadline = Clock::now() + std::chrono::seconds(force ? 10 : 2);
    while (::umount2(mp.c_str(), 0) != 0) {
      if (errno != EBUSY || Clock::now() >= deadline) {
        auto still = ProcessesUsing(m->mount_id, m->major, m->minor, mp);
        if (errno == EBUSY) {
          return ConflictStatus("MountBusy",
                                mp + " is busy" + (still.empty() ? "" : ": " + Describe(still)));
        }
        return MountFailed("umount " + mp + ": " + std::strerror(errno));
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  return Teardown(p);
}

Status HomeMounter::Abandon(const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  std::lock_guard<std::mutex> lock(mu_);
  const Pieces p = PiecesOf(options_, volume_id);
  std::error_code ec;
  if (!fs::exists(p.dir, ec)) return Status::Ok();
  auto rec = ReadSpec(p);
  // qsd first, by its pid file and /proc alone: while its NBD client waits for an export that
  // is gone, it answers no FUSE request, and anything that stats its file (the scan for the
  // mount's users) would wait with it. Once it is dead, FUSE requests fail at once.
  if (pid_t pid = QsdPid(p); pid > 0) {
    ::kill(pid, SIGKILL);
    WaitGone(pid, std::chrono::seconds(5));
  }
  if (auto m = rec ? OurMount(rec->mount_point, p.fuse) : std::nullopt) {
    // No sync: nothing may reach the volume from here any more. The processes go, and the
    // file system is detached from the tree at once, whatever I/O of it still waits.
    auto busy = ProcessesUsing(m->mount_id, m->major, m->minor, rec->mount_point);
    for (const auto& b : busy) ::kill(b.pid, SIGKILL);
    if (::umount2(rec->mount_point.c_str(), MNT_DETACH) != 0) {
      return MountFailed("umount -l " + rec->mount_point + ": " + std::strerror(errno));
    }
  }
  return Teardown(p, /*abandon=*/true);
}

namespace {

// The mount point of a volume that is mounted here, or MountNotFound.
Result<std::string> MountedAt(const HomeMountOptions& o, const std::string& volume_id,
                              HomeMountSpec* spec = nullptr) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  const Pieces p = PiecesOf(o, volume_id);
  auto rec = ReadSpec(p);
  if (!rec || !OurMount(rec->mount_point, p.fuse)) {
    return Status::NotFound("MountNotFound", "volume " + volume_id + " is not mounted here");
  }
  if (spec) *spec = *rec;
  return rec->mount_point;
}

Status FreezeIoctl(const std::string& mp, unsigned long request, int ignored_errno) {
  int fd = ::open(mp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + mp, errno);
  int rc = ::ioctl(fd, request, 0);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != ignored_errno) {
    return MountFailed(std::string(request == FIFREEZE ? "freeze " : "thaw ") + mp + ": " +
                       std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace

Status HomeMounter::Freeze(const std::string& volume_id) {
  VBS_ASSIGN_OR_RETURN(std::string mp, MountedAt(options_, volume_id));
  return FreezeIoctl(mp, FIFREEZE, EBUSY);  // EBUSY: frozen already
}

Status HomeMounter::Thaw(const std::string& volume_id) {
  VBS_ASSIGN_OR_RETURN(std::string mp, MountedAt(options_, volume_id));
  return FreezeIoctl(mp, FITHAW, EINVAL);  // EINVAL: not frozen
}

Result<MountUsage> HomeMounter::Usage(const std::string& volume_id) const {
  VBS_ASSIGN_OR_RETURN(std::string mp, MountedAt(options_, volume_id));
  struct statvfs sv {};
  if (::statvfs(mp.c_str(), &sv) != 0) return Status::FromErrno("statvfs " + mp, errno);
  MountUsage u;
  u.size_bytes = uint64_t{sv.f_blocks} * sv.f_frsize;
  u.used_bytes = uint64_t{sv.f_blocks - sv.f_bfree} * sv.f_frsize;
  u.free_bytes = uint64_t{sv.f_bavail} * sv.f_frsize;
  return u;
}

Status HomeMounter::Grow(const std::string& volume_id) {
  std::lock_guard<std::mutex> lock(mu_);
  HomeMountSpec rec;
  VBS_ASSIGN_OR_RETURN(std::string mp, MountedAt(options_, volume_id, &rec));
  if (rec.read_only) {
    return ConflictStatus("ReadOnlyMount", "volume " + volume_id + " is mounted read-only");
  }
  const Pieces p = PiecesOf(options_, volume_id);
  auto loops = LoopDevicesOf(p.fuse);
  if (loops.size() != 1) return MountFailed("no single loop device on " + p.fuse);
  // What the server serves now, and what qsd's NBD connection still says.
  VBS_ASSIGN_OR_RETURN(uint64_t want, NbdExportSize(options_.nbd_socket, rec.export_name));
  VBS_ASSIGN_OR_RETURN(auto qmp, hypervisor::QmpClient::Connect(p.qmp));
  VBS_ASSIGN_OR_RETURN(json nodes, qmp->Execute("query-named-block-nodes", {{"flat", true}}));
  uint64_t have = 0;
  for (const auto& n : nodes) {
    if (n.value("node-name", "") == kNode && n.contains("image")) {
      have = n["image"].value("virtual-size", uint64_t{0});
    }
  }
  if (want < have) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "the export is smaller (" + std::to_string(want) +
                                       ") than the mounted volume (" + std::to_string(have) + ")");
  }
  // NBD has no resize notification: qsd learns the new size when it reconnects (the server
  // drops its connections after growing the export; qsd notices on its next request, which
  // an O_DIRECT read of the FUSE file makes), and block_resize then takes it.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (have < want) {
    auto r = qmp->Execute("block_resize", {{"node-name", kNode}, {"size", want}});
    if (r.ok()) break;
    if (r.status().message().find("Cannot grow NBD nodes") == std::string::npos) {
      return r.status();
    }
    if (Clock::now() >= deadline) {
      return ConflictStatus("ExportNotResized",
                            "qemu-storage-daemon's NBD connection for " + volume_id +
                                " still has the old size: the server must drop it after growing "
                                "the export");
    }
    int fd = ::open(p.fuse.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd >= 0) {
      void* buf = nullptr;
      if (::posix_memalign(&buf, 4096, 4096) == 0) {
        (void)!::pread(fd, buf, 4096, 0);
        std::free(buf);
      }
      ::close(fd);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  // The FUSE file's size is cached by the kernel for a second; the loop device reads it.
  const auto fuse_deadline = Clock::now() + std::chrono::seconds(10);
  struct stat st {};
  while (::stat(p.fuse.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) < want &&
         Clock::now() < fuse_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  VBS_RETURN_IF_ERROR(RunChecked({"losetup", "--set-capacity", loops[0]}, kQuick));
  std::ifstream sectors("/sys/block/" + fs::path(loops[0]).filename().string() + "/size");
  uint64_t loop_sectors = 0;
  if (!(sectors >> loop_sectors) || loop_sectors * 512 < want) {
    return MountFailed(loops[0] + " still has " + std::to_string(loop_sectors * 512) +
                       " bytes, not " + std::to_string(want));
  }
  Status resized = RunChecked({"resize2fs", loops[0]}, kLong);
  if (!resized.ok() && !HasCapSysResource()) {
    return MountFailed(resized.message() +
                       " (this process lacks CAP_SYS_RESOURCE, which online ext4 resizing needs; "
                       "the block device did grow)");
  }
  return resized;
}

std::vector<AdoptedMount> HomeMounter::Adopt() const {
  std::vector<AdoptedMount> mounts;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(options_.state_dir, ec)) {
    const std::string id = d.path().filename();
    if (!ValidateVolumeId(id).ok() || !d.is_directory(ec)) continue;
    const Pieces p = PiecesOf(options_, id);
    auto rec = ReadSpec(p);
    if (!rec) continue;
    mounts.push_back({id, rec->mount_point, OurMount(rec->mount_point, p.fuse).has_value()});
  }
  std::sort(mounts.begin(), mounts.end(),
            [](const auto& a, const auto& b) { return a.volume_id < b.volume_id; });
  return mounts;
}

}  // namespace vbs
