#include "CPCIShims.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The guard of the libpci call in progress on this thread, if any.
static _Thread_local jmp_buf *active_guard;
static _Thread_local char last_error[512];
static _Thread_local char warnings[4096];
static _Thread_local size_t warnings_len;

static void capture_error(char *format, ...) PCI_NONRET;
static void capture_error(char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
    if (active_guard)
        longjmp(*active_guard, 1);
    // Not reachable through the wrappers below: every libpci call that can
    // fail runs under a guard. Keep libpci's contract (the hook never returns).
    fprintf(stderr, "pcilib: %s\n", last_error);
    abort();
}

static void capture_warning(char *format, ...) {
    if (warnings_len >= sizeof warnings - 2)
        return;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(warnings + warnings_len, sizeof warnings - warnings_len - 1, format, args);
    va_end(args);
    if (n < 0)
        return;
    warnings_len += (size_t)n;
    if (warnings_len > sizeof warnings - 2)
        warnings_len = sizeof warnings - 2;
    warnings[warnings_len++] = '\n';
    warnings[warnings_len] = 0;
}

static void ignore_debug(char *format, ...) { (void)format; }

static void copy_error(char *error, size_t error_len) {
    if (error && error_len) {
        strncpy(error, last_error, error_len - 1);
        error[error_len - 1] = 0;
    }
}

struct pci_access *dpucert_pci_open(int method, const char *value, char *error, size_t error_len) {
    struct pci_access *access = pci_alloc();
    if (!access) {
        snprintf(error, error_len, "pci_alloc failed");
        return NULL;
    }
    access->error = capture_error;
    access->warning = capture_warning;
    access->debug = ignore_debug;
    jmp_buf guard;
    jmp_buf *outer = active_guard;
    if (setjmp(guard)) {
        active_guard = outer;
        copy_error(error, error_len);
        pci_cleanup(access);
        return NULL;
    }
    active_guard = &guard;
    switch (method) {
    case DPUCERT_PCI_SYSFS_ROOT:
        access->method = PCI_ACCESS_SYS_BUS_PCI;
        pci_set_param(access, "sysfs.path", (char *)value);
        break;
    case DPUCERT_PCI_DUMP:
        access->method = PCI_ACCESS_DUMP;
        pci_set_param(access, "dump.name", (char *)value);
        break;
    default:
        access->method = PCI_ACCESS_SYS_BUS_PCI;
        break;
    }
    pci_init(access);
    pci_scan_bus(access);
    active_guard = outer;
    return access;
}

int dpucert_pci_fill(struct pci_dev *dev, int flags, char *error, size_t error_len) {
    jmp_buf guard;
    jmp_buf *outer = active_guard;
    if (setjmp(guard)) {
        active_guard = outer;
        copy_error(error, error_len);
        return -1;
    }
    active_guard = &guard;
    int known = pci_fill_info(dev, flags);
    active_guard = outer;
    return known;
}

int dpucert_pci_read_config(struct pci_dev *dev, unsigned char *buffer, char *error, size_t error_len) {
    jmp_buf guard;
    jmp_buf *outer = active_guard;
    if (setjmp(guard)) {
        active_guard = outer;
        copy_error(error, error_len);
        return -1;
    }
    active_guard = &guard;
    // Access methods fail reads past what they hold (a short dump, a 256-byte sysfs
    // file). The full space is the common case; otherwise find the readable length.
    int length = 4096;
    if (!pci_read_block(dev, 0, buffer, length)) {
        int readable = 0, unreadable = 4096;
        while (unreadable - readable > 1) {
            int middle = (readable + unreadable) / 2;
            if (pci_read_block(dev, 0, buffer, middle))
                readable = middle;
            else
                unreadable = middle;
        }
        length = readable;
        if (length > 0 && !pci_read_block(dev, 0, buffer, length))
            length = 0;
    }
    active_guard = outer;
    return length;
}

size_t dpucert_pci_take_warnings(char *buffer, size_t buffer_len) {
    size_t n = warnings_len < buffer_len - 1 ? warnings_len : buffer_len - 1;
    memcpy(buffer, warnings, n);
    buffer[n] = 0;
    warnings_len = 0;
    warnings[0] = 0;
    return n;
}

const char *dpucert_pci_vendor_name(struct pci_access *access, char *buffer, int buffer_len, int vendor) {
    return pci_lookup_name(access, buffer, buffer_len, PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS, vendor);
}

const char *dpucert_pci_device_name(struct pci_access *access, char *buffer, int buffer_len, int vendor, int device) {
    return pci_lookup_name(access, buffer, buffer_len, PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS, vendor, device);
}

void dpucert_pci_close(struct pci_access *access) {
    if (access)
        pci_cleanup(access);
}
