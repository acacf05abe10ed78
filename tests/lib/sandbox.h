/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A private network and mount namespace for a test process: its interfaces,
 * a sysfs showing them, and a fresh bpffs mounted over /sys/fs/bpf, vanish when the process exits,
 * however it exits.
 */
#ifndef XTAP_TEST_SANDBOX_H
#define XTAP_TEST_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/* Enters the sandbox; returns 0, or -1 after printing why (not root, ...). */
int sandbox_enter(void);

/* A tap in the sandbox, up, IPv6 off, nonblocking, with a 12-byte vnet header. */
struct test_tap {
	int fd;
	int ifindex;
	char name[16];
};

int tap_open(struct test_tap *t, const char *name, uint16_t mtu);
void tap_close(struct test_tap *t);
/* Reads one frame (vnet header stripped into *vnet if non-NULL); -1 when none waits. */
int tap_read(struct test_tap *t, uint8_t *buf, size_t cap, uint8_t vnet[12]);
/* Number of frames waiting, all discarded. */
int tap_drain(struct test_tap *t);

#endif /* XTAP_TEST_SANDBOX_H */
