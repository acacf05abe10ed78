/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Announcing a VM that arrived on this host, as QEMU's announce-self does
 * after a migration: RARP broadcasts from its MAC (optionally 802.1Q-tagged)
 * out of an interface, so that physical switches learn where it is now.
 */
#ifndef XTAP_ANNOUNCE_H
#define XTAP_ANNOUNCE_H

#include <linux/types.h>

#include "err.h"

/* Rounds and their spacing: QEMU's defaults start at 50 ms, 100 ms apart. */
#define XTAP_ANNOUNCE_ROUNDS   3
#define XTAP_ANNOUNCE_FIRST_MS 50
#define XTAP_ANNOUNCE_STEP_MS  100

/* One RARP from mac out of ifindex (vlan 0: untagged). */
int xtap_announce_rarp(int ifindex, __u16 vlan, const __u8 mac[6], struct xtap_err *err);

#endif
