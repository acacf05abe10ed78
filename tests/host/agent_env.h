/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier-2 environment: the real xtapd and xtapctl in a sandbox (private
 * network and mount namespaces), VMs played by this process through their
 * taps' fds with virtio-net headers, and an "outside" reached through a veth
 * uplink (uplink0 <-> out0) read and written with a packet socket.
 */
#ifndef XTAP_TEST_AGENT_ENV_H
#define XTAP_TEST_AGENT_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ENV_SOCK  "/run/xtap-test/xtapd.sock"
#define ENV_STATE "/run/xtap-test/state.json"
#define ENV_LOG   "/run/xtap-test/xtapd.log"
#define ENV_PINS  "/sys/fs/bpf/xtap"
/* xtapd's vhost-user sockets and xtap-vhost status files: PORT.sock, PORT.json. */
#define ENV_VHOST_DIR "/run/xtap-test/vhost"

/* Sets up the sandbox, the uplink veth pair and starts xtapd. */
int env_setup(void);
/* The same without starting xtapd. */
int env_setup_sandbox(void);
void env_teardown(void);
/* SIGKILLs the xtap-vhost processes xtapd started (they outlive xtapd by design). */
void env_vhost_kill_all(void);
/* (Re)creates the veth pair uplink0 <-> out0 and the packet socket on out0. */
int env_uplink_create(void);

/* The config file's text (default "{}"): set before env_setup(). */
extern const char *env_agent_config;
/* One more xtapd option (e.g. "--fault-injection"), NULL for none: set before env_setup(). */
extern const char *env_agent_option;
pid_t env_agent_start(void);
/* The two halves of env_agent_start: fork+exec (fast), then wait for the socket. */
pid_t env_agent_spawn(void);
pid_t env_agent_wait_ready(void);
/* SIGKILL, as a crash would. */
void env_agent_kill(void);
pid_t env_agent_pid(void);

/* Runs build/xtapctl -s ENV_SOCK with the arguments (printf format, split on spaces);
 * returns its exit code, output (stdout+stderr) in out. */
int ctl(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A VM: the port's tap opened by name (taps are persistent, xtapd made it). */
struct vm {
	const char *name;
	int fd;
	uint8_t mac[6];
	uint32_t ip4;           /* network order */
};

int vm_open(struct vm *v);
void vm_close(struct vm *v);
/* Writes one frame with the given 12-byte vnet header (NULL = zeros). */
int vm_write(struct vm *v, const void *vnet, const uint8_t *frame, size_t len);
/* Reads one frame within timeout_ms; returns its length or -1. */
int vm_read(struct vm *v, uint8_t *buf, size_t cap, uint8_t vnet[12], int timeout_ms);
/* Frames that arrive within timeout_ms (then drained). */
int vm_count(struct vm *v, int timeout_ms);

struct pkt;
struct virtio_net_hdr_v1;
/*
 * What a guest with TSO hands its NIC: a TCP/IPv4 segment of `payload`
 * bytes from a to b with only the pseudo-header checksum, and the vnet
 * header asking to cut it into mss-byte segments (GSO, NEEDS_CSUM).
 */
void vm_tcp4_gso(struct pkt *p, struct virtio_net_hdr_v1 *h, const struct vm *a, const struct vm *b,
		 size_t payload, uint16_t mss);
/*
 * An IPv4 socket of the network namespace ns_fd (an open /run/netns/NAME;
 * -1: this process's own). A socket stays in the namespace it was made in.
 * -1 with errno on failure.
 */
int env_socket_in(int ns_fd, int type);

/* The outside: a packet socket on out0. */
int out_write(const uint8_t *frame, size_t len);
int out_read(uint8_t *buf, size_t cap, int timeout_ms);
int out_count(int timeout_ms);
extern uint8_t env_out_mac[6];

#endif
