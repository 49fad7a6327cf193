// pci_match.h — init's part of `match pci` (keel/manifest.h): the authority
// over one PCI function, handed to the service the manifest names as its
// driver and to nobody else (docs/userspace.md, "The device manager").
#pragma once

#include <keel/grant.h>
#include <keel/keel.h>
#include <keel/spawn.h>

namespace init_pci {

// Gives the service being prepared in `p` (its manifest name `service`) the
// function devmgr (endpoint `devmgr`) lists with the vendor:device of `g` (a
// Pci grant), the first one not already claimed by another service:
//   "bar0".."bar5"  DeviceMemory (memory BAR, whole pages) or IoPorts (I/O BAR)
//                   from `resource`, only for the BARs the function has;
//   "irq" + "irq-notify"  an MSI-X or MSI (interrupt_create_msi; init
//                   programs MSI-X table entry 0 through the table's BAR, or
//                   the MSI capability, enables it and bus mastering through
//                   the function's configuration space) when the function has one
//                   and `intx` (manifest `match pci ... intx`) is false; else
//                   its INTx line (interrupt_create on the GSI devmgr routed,
//                   MSI and MSI-X off), if devmgr could route it;
//   "pci"           a MemoryObject with its keel::proto::devmgr::PciDevice.
// Then tells devmgr the service is the function's driver (kSetDriver).
// Logs what it gave, or why not. Errors: NotFound (devmgr has no such
// function, or none left unclaimed; devmgr found no ECAM), TimedOut (devmgr
// does not answer in 2 s), those of the syscalls.
keel::Status give_device(keel::Prepared& p, const char* service, const keel::Grant& g, bool intx,
                         keel::Handle resource, keel::Handle devmgr);

// Tells devmgr (a fresh one: it forgets when restarted) which service drives
// each function handed out so far (kSetDriver); logs refusals.
void tell_devmgr(keel::Handle devmgr);

}  // namespace init_pci
