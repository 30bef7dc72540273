// LibvirtEventLoop: libvirt's default event loop, run by one thread per process while at
// least one user holds it. libvirt delivers domain events and keepalives only through an
// event loop registered before the first virConnectOpen (virEventRegisterDefaultImpl), so
// every LibvirtConnection holds a Ref for its lifetime; the last Ref to go stops the thread
// (a timer wakes virEventRunDefaultImpl so the thread sees the stop) and joins it.
// Also silences libvirt's default error printer: errors reach callers as a Status instead.
#pragma once

namespace vbs::hypervisor {

class LibvirtEventLoop {
 public:
  class Ref {
   public:
    Ref();
    ~Ref();
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
  };

  // Registers the default implementation (once per process; libvirt cannot unregister it).
  // Ref() calls this; call it directly only before a virConnectOpen made outside this class.
  static void EnsureRegistered();
};

}  // namespace vbs::hypervisor
