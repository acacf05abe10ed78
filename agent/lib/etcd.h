/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An etcd v3 client over etcd's JSON gateway (/v3/..., keys and values
 * base64), with libcurl and json-c: range, put, delete, a guarded put
 * (txn), leases, and a watch read as a stream. Every call blocks its
 * caller's thread (xtapd runs them on the fleet's own threads, fleet.c);
 * one struct xtap_etcd per thread.
 */
#ifndef XTAP_ETCD_H
#define XTAP_ETCD_H

#include <stdint.h>
#include <json-c/json.h>

#include "err.h"

struct xtap_etcd {
	char url[256];          /* "http://192.0.2.1:2379", no trailing slash */
	void *curl;             /* CURL *, reused between calls (keeps the connection) */
	long timeout_ms;        /* per unary call */
};

struct xtap_etcd_kv {
	char *key, *value;      /* decoded, NUL-terminated */
	int64_t create_rev, mod_rev, lease;
};

int xtap_etcd_open(struct xtap_etcd *e, const char *url, struct xtap_err *err);
void xtap_etcd_close(struct xtap_etcd *e);

void xtap_etcd_kvs_free(struct xtap_etcd_kv *kvs, size_t n);

/* Every key under prefix (or exactly key when !prefix); *rev: the store's revision of the answer. */
int xtap_etcd_range(struct xtap_etcd *e, const char *key, int prefix, struct xtap_etcd_kv **kvs, size_t *n,
		    int64_t *rev, struct xtap_err *err);
/* lease 0: none. */
int xtap_etcd_put(struct xtap_etcd *e, const char *key, const char *value, int64_t lease, struct xtap_err *err);
int xtap_etcd_del(struct xtap_etcd *e, const char *key, struct xtap_err *err);

/*
 * One transaction: each put (value) or delete (value NULL) of ops, if every
 * key of guards still has its mod revision (0: the key must not exist).
 * *rev (may be NULL): the store's revision after it. Returns 0 when done,
 * -ECANCELED when a guard failed (someone else wrote first: read again and
 * retry), or another -errno.
 */
struct xtap_etcd_op {
	const char *key;
	const char *value;
	int64_t mod_rev;        /* guards only */
};
int xtap_etcd_txn(struct xtap_etcd *e, const struct xtap_etcd_op *guards, size_t n_guards,
		  const struct xtap_etcd_op *ops, size_t n_ops, int64_t *rev, struct xtap_err *err);

int xtap_etcd_lease_grant(struct xtap_etcd *e, int64_t ttl, int64_t *id, struct xtap_err *err);
/* *ttl: what is left of it; 0 when it expired (grant a new one). */
int xtap_etcd_lease_keepalive(struct xtap_etcd *e, int64_t id, int64_t *ttl, struct xtap_err *err);

/*
 * Watches every key under prefix from start_rev on, calling fn for each
 * batch of events (an array of {"type", "kv"} as the gateway sends them,
 * keys and values already decoded) with the batch's revision. Returns when
 * *stop is set (0), when the stream breaks (-EIO: resume from the last
 * revision + 1), or -ESTALE with *compacted set when start_rev was
 * compacted away (list again in full).
 */
typedef void xtap_etcd_watch_fn(void *ctx, json_object *events, int64_t rev);
int xtap_etcd_watch(struct xtap_etcd *e, const char *prefix, int64_t start_rev, xtap_etcd_watch_fn *fn,
		    void *ctx, volatile int *stop, int64_t *compacted, struct xtap_err *err);

/* A part of a key (a host's name): 1-max characters of A-Z a-z 0-9 . _ - */
int xtap_etcd_key_part_ok(const char *s, size_t max);

/* The JSON at value, or NULL. */
json_object *xtap_etcd_json(const char *value);

#endif /* XTAP_ETCD_H */
