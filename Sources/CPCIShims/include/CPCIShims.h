// CPCIShims: the few libpci entry points Swift cannot call directly.
//
// libpci reports fatal errors through a variadic hook that, by default, prints
// and calls exit(1); these wrappers install hooks that capture the message and
// unwind (longjmp) back into the wrapper, which returns -1 / NULL instead.
// pci_lookup_name is variadic, so it gets fixed-arity wrappers.
#ifndef CPCISHIMS_H
#define CPCISHIMS_H

#include <pci/pci.h>
#include <stddef.h>

/// Access methods this project uses (a subset of libpci's).
enum dpucert_pci_method {
    DPUCERT_PCI_LIVE_SYSFS = 0,   // linux-sysfs at its default path
    DPUCERT_PCI_SYSFS_ROOT = 1,   // linux-sysfs with sysfs.path = value
    DPUCERT_PCI_DUMP = 2,         // dump method with dump.name = value
};

/// Allocates, configures, initialises libpci and scans the bus.
/// Returns NULL and fills `error` on failure.
struct pci_access *dpucert_pci_open(int method, const char *value, char *error, size_t error_len);

/// pci_fill_info under the error guard; returns -1 and fills `error` on failure.
int dpucert_pci_fill(struct pci_dev *dev, int flags, char *error, size_t error_len);

/// Reads as much configuration space as the method provides (up to 4096 bytes;
/// 0 when none is readable) into `buffer` (4096 bytes).
/// Returns the length read, or -1 and fills `error` on failure.
int dpucert_pci_read_config(struct pci_dev *dev, unsigned char *buffer, char *error, size_t error_len);

/// Copies the warnings libpci printed since the last call (newline-separated).
size_t dpucert_pci_take_warnings(char *buffer, size_t buffer_len);

/// Fixed-arity wrappers of the variadic pci_lookup_name.
const char *dpucert_pci_vendor_name(struct pci_access *access, char *buffer, int buffer_len, int vendor);
const char *dpucert_pci_device_name(struct pci_access *access, char *buffer, int buffer_len, int vendor, int device);

void dpucert_pci_close(struct pci_access *access);

#endif
