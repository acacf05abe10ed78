/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol on the wire (QEMU docs/interop/vhost-user.rst):
 * the frontend (VMM) connects to the backend's unix socket and sends
 * messages, a 12-byte header then `size` bytes of payload, with fds
 * attached by SCM_RIGHTS. Shared by xtap-vhost (the backend) and the
 * tests' frontend driver.
 */
#ifndef XTAP_VHOST_USER_PROTO_H
#define XTAP_VHOST_USER_PROTO_H

#include <stdint.h>

enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
};

/* Header flags. */
#define VHOST_USER_VERSION        0x1
#define VHOST_USER_VERSION_MASK   0x3
#define VHOST_USER_REPLY_MASK     (1u << 2)
#define VHOST_USER_NEED_REPLY     (1u << 3)

/* Virtio feature bit that says protocol features may be negotiated. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ        0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

/* The frontend sends at most this many memory regions (and fds) per message. */
#define VHOST_USER_MAX_REGIONS 8
/* SET_VRING_KICK/CALL/ERR payload: ring index in bits 0-7; this bit = no fd attached. */
#define VHOST_USER_VRING_IDX_MASK  0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;                 /* payload bytes that follow */
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;                /* bit 0: log the used ring */
	uint64_t desc_user_addr;       /* addresses in the frontend's own address space */
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vhost_user_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;       /* where the frontend mapped it */
	uint64_t mmap_offset;          /* offset of the region in its fd */
} __attribute__((packed));

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[VHOST_USER_MAX_REGIONS];
} __attribute__((packed));

union vhost_user_payload {
	uint64_t u64;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_memory memory;
};

struct vhost_user_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload payload;
} __attribute__((packed));

#endif /* XTAP_VHOST_USER_PROTO_H */
