// Mount tools: what HomeMounter (home_mount.h) needs from the host besides system calls.
//
// - RunCommand: runs a program with posix_spawn (never a shell: arguments are passed as they
//   are), stdin from /dev/null, stdout and stderr captured, in its own session, LC_ALL=C, and
//   killed when it outlives `timeout`. A daemonizing program (qemu-storage-daemon
//   --daemonize) is waited for until the process we started exits, not until its daemon
//   closes the pipes.
// - ReadMountInfo: /proc/self/mountinfo, parsed (octal escapes in paths undone).
// - ProcessesUsing: the processes that hold a mount busy (open files, working directory,
//   root, executable or mapped files on it), read from /proc without touching the mount.
// - NbdExportSize: the size a local NBD server gives for an export now (NBD_OPT_INFO).
// - LoopDevicesOf: the loop devices whose backing file is `file` (/sys/block/loop*/loop).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::minutes(10));

// RunCommand, and a "MountFailed" Status naming the command and its stderr unless it exits 0.
Status RunChecked(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::minutes(10));

// "MountFailed" (kIoError): a step of mounting or unmounting failed.
Status MountFailed(const std::string& message);

struct MountEntry {
  int mount_id = 0;
  unsigned major = 0;
  unsigned minor = 0;
  std::string mount_point;
  std::string options;
  std::string fs_type;
  std::string source;
};

std::vector<MountEntry> ReadMountInfo();

struct BusyProcess {
  pid_t pid = 0;
  std::string command;  // /proc/PID/comm
};

// Processes (other than this one) using the mount `mount_id` of device major:minor at
// `mount_point`.
std::vector<BusyProcess> ProcessesUsing(int mount_id, unsigned major, unsigned minor,
                                        const std::string& mount_point);

Result<uint64_t> NbdExportSize(const std::string& socket_path, const std::string& export_name);

std::vector<std::string> LoopDevicesOf(const std::string& file);

// Sizes in bytes: of a block device (BLKGETSIZE64), of the ext4 file system on it (dumpe2fs
// -h: block count × block size); 0 when unknown.
uint64_t BlockDeviceBytes(const std::string& device);
uint64_t Ext4Bytes(const std::string& device);

}  // namespace vbs
