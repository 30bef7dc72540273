#include "hypervisor/libvirt_event_loop.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace vbs::hypervisor {

namespace {

std::mutex mu;
int refs = 0;
int wake_timer = -1;
std::atomic<bool> stopping{false};
std::thread* loop_thread = nullptr;

void QuietErrors(void*, virErrorPtr) {}  // errors are read with virGetLastError instead
void Wake(int, void*) {}

void Run() {
  while (!stopping.load()) virEventRunDefaultImpl();
}

}  // namespace

void LibvirtEventLoop::EnsureRegistered() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, QuietErrors);
    virEventRegisterDefaultImpl();
  });
}

LibvirtEventLoop::Ref::Ref() {
  EnsureRegistered();
  std::lock_guard lock(mu);
  if (refs++ > 0) return;
  stopping = false;
  // Disabled (-1) until Stop sets it to fire at once, which makes the loop return.
  wake_timer = virEventAddTimeout(-1, Wake, nullptr, nullptr);
  loop_thread = new std::thread(Run);
}

LibvirtEventLoop::Ref::~Ref() {
  std::lock_guard lock(mu);
  if (--refs > 0) return;
  stopping = true;
  virEventUpdateTimeout(wake_timer, 0);
  loop_thread->join();
  delete loop_thread;
  loop_thread = nullptr;
  virEventRemoveTimeout(wake_timer);
  wake_timer = -1;
}

}  // namespace vbs::hypervisor
