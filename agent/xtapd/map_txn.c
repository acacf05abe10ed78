// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "map_txn.h"

/* One step of the open transaction, in the order it happened. */
struct txn_step {
	enum { STEP_ENTRY, STEP_ON_ROLLBACK } kind;
	/* STEP_ENTRY: the entry's value before the change. */
	int map_fd;          /* a dup: the map outlives its other fds until the end */
	int had_value;
	int held_fd;         /* the program or inner map the old value names, kept alive; -1 */
	size_t value_off;    /* where that fd goes in the value */
	void *key, *value;
	/* STEP_ON_ROLLBACK */
	xtap_map_txn_fn fn;
};

static struct {
	int open;
	struct txn_step *steps;
	size_t n, cap;
} txn;

static struct txn_step *step_new(void)
{
	if (txn.n == txn.cap) {
		size_t cap = txn.cap ? 2 * txn.cap : 64;
		struct txn_step *s = realloc(txn.steps, cap * sizeof(*s));

		if (!s)
			return NULL;
		txn.steps = s;
		txn.cap = cap;
	}
	memset(&txn.steps[txn.n], 0, sizeof(txn.steps[0]));
	txn.steps[txn.n].map_fd = -1;
	txn.steps[txn.n].held_fd = -1;
	return &txn.steps[txn.n++];
}

static void step_free(struct txn_step *s)
{
	if (s->map_fd >= 0)
		close(s->map_fd);
	if (s->held_fd >= 0)
		close(s->held_fd);
	free(s->key);
	free(s->value);
}

static int is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/*
 * Journals the entry's current value. Values that name kernel objects by id
 * (a devmap's program, a map-in-map's inner map) are written back by fd:
 * the object is opened now and held until the end.
 */
static int journal(int fd, const void *key)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct txn_step *s;
	size_t vsize;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	vsize = is_percpu(info.type) ? ((info.value_size + 7) & ~7U) * libbpf_num_possible_cpus() : info.value_size;
	s = step_new();
	if (!s)
		return -ENOMEM;
	s->kind = STEP_ENTRY;
	s->key = malloc(info.key_size);
	s->value = malloc(vsize);
	s->map_fd = dup(fd);
	if (!s->key || !s->value || s->map_fd < 0) {
		txn.n--;
		step_free(s);
		return -ENOMEM;
	}
	memcpy(s->key, key, info.key_size);
	s->had_value = !bpf_map_lookup_elem(fd, key, s->value);
	if (!s->had_value && errno != ENOENT) {
		txn.n--;
		step_free(s);
		return -errno;
	}
	if (!s->had_value)
		return 0;
	if ((info.type == BPF_MAP_TYPE_DEVMAP || info.type == BPF_MAP_TYPE_DEVMAP_HASH) &&
	    info.value_size >= sizeof(struct bpf_devmap_val)) {
		struct bpf_devmap_val *v = s->value;

		s->value_off = offsetof(struct bpf_devmap_val, bpf_prog.fd);
		if (!v->bpf_prog.id) {
			v->bpf_prog.fd = -1;
			return 0;
		}
		s->held_fd = bpf_prog_get_fd_by_id(v->bpf_prog.id);
	} else if (info.type == BPF_MAP_TYPE_HASH_OF_MAPS || info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		s->held_fd = bpf_map_get_fd_by_id(*(__u32 *)s->value);
	} else {
		return 0;
	}
	/* What the old value names cannot be held: it could not come back, so the write is refused. */
	if (s->held_fd < 0) {
		int ret = -errno;

		txn.n--;
		step_free(s);
		return ret;
	}
	return 0;
}

int xtap_map_txn_journal(int fd, const void *key)
{
	return txn.open ? journal(fd, key) : 0;
}

int xtap_map_txn_on_rollback(xtap_map_txn_fn fn)
{
	struct txn_step *s;

	if (!txn.open)
		return 0;
	s = step_new();
	if (!s)
		return -ENOMEM;
	s->kind = STEP_ON_ROLLBACK;
	s->fn = fn;
	return 0;
}

int xtap_map_txn_begin(void)
{
	if (txn.open)
		return 0;
	txn.open = 1;
	txn.n = 0;
	return 1;
}

static int restore(struct txn_step *s)
{
	if (!s->had_value)
		return bpf_map_delete_elem(s->map_fd, s->key) && errno != ENOENT ? -errno : 0;
	if (s->held_fd >= 0)
		memcpy((char *)s->value + s->value_off, &s->held_fd, sizeof(int));
	return bpf_map_update_elem(s->map_fd, s->key, s->value, BPF_ANY) ? -errno : 0;
}

int xtap_map_txn_end(const struct xtap_datapath *dp, int owner, int failed)
{
	size_t i;
	int ret = 0, r;

	if (!owner || !txn.open)
		return 0;
	txn.open = 0;   /* the undo writes without a journal */
	if (failed) {
		for (i = txn.n; i-- > 0;) {
			struct txn_step *s = &txn.steps[i];

			if (s->kind == STEP_ON_ROLLBACK)
				s->fn(dp);
			if (s->kind != STEP_ENTRY)
				continue;
			r = restore(s);
			if (r) {
				xtap_log(XTAP_LOG_ERR, "undo: restoring a map entry failed: %s", strerror(-r));
				ret = -EIO;
			}
		}
	}
	for (i = 0; i < txn.n; i++)
		step_free(&txn.steps[i]);
	txn.n = 0;
	return ret;
}
