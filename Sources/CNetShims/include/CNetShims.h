// CNetShims: the Linux networking calls Swift cannot reach through Glibc's module
// (setns, closing inherited descriptors in posix_spawn, AF_PACKET addresses, the SIOCGIFHWADDR and link-state ioctls, pipe2 and accept4 with
// close-on-exec set atomically, so no concurrently spawned child inherits them). Each returns -1 with errno
// set on failure; the Swift side turns errno into a typed error in one place.
#ifndef CNETSHIMS_H
#define CNETSHIMS_H

#include <spawn.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+, hidden from Swift's Glibc
/// module): the spawned program inherits no descriptor from `lowest` up.
int dpucert_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

/// POSIX_SPAWN_SETSID (a GNU extension, hidden from Swift's Glibc module): the spawned
/// program starts its own session, out of reach of the terminal's Ctrl-C.
short dpucert_spawn_new_session_flag(void);

/// setns(fd, CLONE_NEWNET): moves the calling thread into a network namespace.
int dpucert_enter_network_namespace(int fd);

/// pipe2(fds, O_CLOEXEC).
int dpucert_pipe_cloexec(int fds[2]);

/// accept4(fd, address, length, SOCK_CLOEXEC), plus SOCK_NONBLOCK when `nonblocking`.
int dpucert_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length, int nonblocking);

/// Copies the hardware address of `interface` (6 bytes) using socket `fd`.
int dpucert_interface_mac(int fd, const char *interface, unsigned char mac[6]);

/// A netdev's state as `ip link` and `ethtool` show it.
struct dpucert_link_state {
    unsigned int flags;   /* IFF_UP, IFF_RUNNING (operationally up), ... from SIOCGIFFLAGS */
    int mtu;
    int carrier;          /* ethtool's "Link detected": 1, 0, or -1 where the driver does not say */
    int speed_mbps;       /* negotiated speed, or -1 where the driver does not report one */
};

/// Reads `interface`'s flags, MTU, carrier and speed through ioctls on `fd` (any socket
/// of the namespace the interface lives in). Fails (ENODEV) when there is no such netdev.
int dpucert_link_state(int fd, const char *interface, struct dpucert_link_state *state);

/// Creates an AF_PACKET/SOCK_DGRAM socket for one EtherType, bound to `ifindex`.
int dpucert_packet_socket(int ifindex, unsigned short ethertype);

/// Sends `length` bytes to link-layer address `destination` (6 bytes) on `ifindex`.
ssize_t dpucert_packet_send(int fd, int ifindex, unsigned short ethertype,
                            const unsigned char destination[6], const void *buffer, size_t length);

/// Receives one frame's payload; `incoming` is set to 0 for frames this host sent.
ssize_t dpucert_packet_receive(int fd, void *buffer, size_t length, int *incoming);

#endif
