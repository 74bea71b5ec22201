#define _GNU_SOURCE
#include "CNetShims.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int dpucert_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

short dpucert_spawn_new_session_flag(void) {
    return POSIX_SPAWN_SETSID;
}

int dpucert_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int dpucert_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int dpucert_accept_cloexec(int fd, struct sockaddr *address, socklen_t *length, int nonblocking) {
    return accept4(fd, address, length, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
}

int dpucert_interface_mac(int fd, const char *interface, unsigned char mac[6]) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, interface, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFHWADDR, &request) < 0)
        return -1;
    memcpy(mac, request.ifr_hwaddr.sa_data, 6);
    return 0;
}

int dpucert_link_state(int fd, const char *interface, struct dpucert_link_state *state) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, interface, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &request) < 0)
        return -1;
    state->flags = (unsigned short)request.ifr_flags;
    if (ioctl(fd, SIOCGIFMTU, &request) < 0)
        return -1;
    state->mtu = request.ifr_mtu;

    struct ethtool_value link = {.cmd = ETHTOOL_GLINK};
    request.ifr_data = (char *)&link;
    state->carrier = ioctl(fd, SIOCETHTOOL, &request) == 0 ? (link.data ? 1 : 0) : -1;

    /* ETHTOOL_GSET answers through the link-settings interface on current kernels. */
    struct ethtool_cmd settings = {.cmd = ETHTOOL_GSET};
    request.ifr_data = (char *)&settings;
    state->speed_mbps = -1;
    if (ioctl(fd, SIOCETHTOOL, &request) == 0) {
        __u32 speed = ethtool_cmd_speed(&settings);
        if (speed != 0 && speed != (__u32)SPEED_UNKNOWN)
            state->speed_mbps = (int)speed;
    }
    return 0;
}

int dpucert_packet_socket(int ifindex, unsigned short ethertype) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ethertype));
    if (fd < 0)
        return -1;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ethertype);
    address.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

ssize_t dpucert_packet_send(int fd, int ifindex, unsigned short ethertype,
                            const unsigned char destination[6], const void *buffer, size_t length) {
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ethertype);
    address.sll_ifindex = ifindex;
    address.sll_halen = 6;
    memcpy(address.sll_addr, destination, 6);
    return sendto(fd, buffer, length, 0, (struct sockaddr *)&address, sizeof address);
}

ssize_t dpucert_packet_receive(int fd, void *buffer, size_t length, int *incoming) {
    struct sockaddr_ll address;
    socklen_t address_length = sizeof address;
    ssize_t received = recvfrom(fd, buffer, length, 0, (struct sockaddr *)&address, &address_length);
    if (received >= 0)
        *incoming = address.sll_pkttype != PACKET_OUTGOING;
    return received;
}
