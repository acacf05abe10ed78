// SPDX-License-Identifier: GPL-2.0
/*
 * xtapctl --etcd URL: writes a fleet's desired state to etcd (the key layout
 * of include/xtap_fleet.h, docs/fleet.md) instead of asking a local xtapd.
 * A port or segment is checked as xtapd's socket checks it, with the same
 * code (model.c's parsers, validate.c against the segment's ports on every
 * host), and written in a transaction guarded by the revisions it was
 * checked against: a concurrent writer makes it fail, never half-apply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "validate.h"
#include "xtap_fleet.h"
#include "xtapctl_etcd.h"

#define KEY_MAX 640   /* root, a host name, a port name: with room to spare */

/* Every port in etcd: key HOST/NAME -> value (and mod revision). */
struct fleet_view {
	struct xtap_etcd_kv *ports, *segs;
	size_t n_ports, n_segs;
};

static int load(struct xtap_etcd *e, struct fleet_view *v, struct xtap_err *err)
{
	int ret = xtap_etcd_range(e, XTAP_ETCD_PORTS, 1, &v->ports, &v->n_ports, NULL, err);

	return ret ? ret : xtap_etcd_range(e, XTAP_ETCD_SEGMENTS, 1, &v->segs, &v->n_segs, NULL, err);
}

static void view_free(struct fleet_view *v)
{
	xtap_etcd_kvs_free(v->ports, v->n_ports);
	xtap_etcd_kvs_free(v->segs, v->n_segs);
}

/* The name part of /xtap/ports/HOST/NAME, and HOST into host. */
static const char *port_name_of(const char *key, char *host, size_t len)
{
	const char *h = key + strlen(XTAP_ETCD_PORTS), *slash = strchr(h, '/');

	if (!slash)
		return NULL;
	snprintf(host, len, "%.*s", (int)(slash - h), h);
	return slash + 1;
}

static struct xtap_etcd_kv *find_port(struct fleet_view *v, const char *name, char *host, size_t len)
{
	size_t i;

	for (i = 0; i < v->n_ports; i++) {
		const char *n = port_name_of(v->ports[i].key, host, len);

		if (n && !strcmp(n, name))
			return &v->ports[i];
	}
	return NULL;
}

/*
 * The model a port is checked against: every segment, and the ports of its
 * segment on every host but skip (the port being replaced).
 */
static int view_model(struct fleet_view *v, __u32 segment, const struct xtap_etcd_kv *skip, struct xtap_model *m,
		      struct xtap_err *err)
{
	size_t i;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < v->n_segs && !ret; i++) {
		json_object *o = xtap_etcd_json(v->segs[i].value);
		struct xtap_segment_conf s;

		if (o && !xtap_segment_from_json(o, &s, err))
			ret = xtap_model_add_segment(m, &s);
		json_object_put(o);
	}
	for (i = 0; i < v->n_ports && !ret; i++) {
		json_object *o = &v->ports[i] == skip ? NULL : xtap_etcd_json(v->ports[i].value);
		struct xtap_port_conf *p = o ? calloc(1, sizeof(*p)) : NULL;

		if (p && !xtap_port_from_json(o, p, err) && p->spec.segment_id == segment) {
			p->spec.port_id = (__u32)i;   /* apart from each other: validate compares ids */
			ret = xtap_model_add_port(m, p);
		} else {
			free(p);
		}
		json_object_put(o);
	}
	return ret;
}

static int print_written(const char *what, const char *key, int64_t rev)
{
	printf("%s: %s (revision %lld)\n", what, key, (long long)rev);
	return 0;
}

static int segment_add(struct xtap_etcd *e, json_object *args, struct xtap_err *err)
{
	struct xtap_segment_conf s;
	struct xtap_etcd_op guard, op;
	char key[KEY_MAX];
	int64_t rev;
	int ret = xtap_segment_from_json(args, &s, err);

	if (ret)
		return ret;
	snprintf(key, sizeof(key), XTAP_ETCD_SEGMENTS "%u", s.id);
	guard = (struct xtap_etcd_op){ .key = key, .mod_rev = 0 };
	op = (struct xtap_etcd_op){ .key = key, .value = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) };
	ret = xtap_etcd_txn(e, &guard, 1, &op, 1, &rev, err);
	if (ret == -ECANCELED)
		return xtap_fail(err, -EEXIST, "segment %u already exists in etcd; nothing changed", s.id);
	return ret ? ret : print_written("segment added", key, rev);
}

static int segment_del(struct xtap_etcd *e, struct fleet_view *v, json_object *args, struct xtap_err *err)
{
	__u64 id = json_object_get_uint64(json_object_object_get(args, "id"));
	struct xtap_etcd_op guard[2], op;
	char key[KEY_MAX];
	size_t i;
	int64_t rev;
	int ret;

	snprintf(key, sizeof(key), XTAP_ETCD_SEGMENTS "%llu", (unsigned long long)id);
	for (i = 0; i < v->n_segs && strcmp(v->segs[i].key, key); i++)
		;
	if (i == v->n_segs)
		return xtap_fail(err, -ENOENT, "segment %llu is not in etcd; nothing changed", (unsigned long long)id);
	guard[0] = (struct xtap_etcd_op){ .key = key, .mod_rev = v->segs[i].mod_rev };
	for (i = 0; i < v->n_ports; i++) {
		json_object *o = xtap_etcd_json(v->ports[i].value), *sv;
		int used = o && json_object_object_get_ex(o, "segment", &sv) && json_object_get_uint64(sv) == id;

		json_object_put(o);
		if (used)
			return xtap_fail(err, -EBUSY, "segment %llu: port %s uses it (delete or move it first); "
					 "nothing changed", (unsigned long long)id, v->ports[i].key);
	}
	op = (struct xtap_etcd_op){ .key = key };
	ret = xtap_etcd_txn(e, guard, 1, &op, 1, &rev, err);
	return ret ? ret : print_written("segment deleted", key, rev);
}

/* port.add (cur NULL) and port.set (cur: the port as it is in etcd; on another host: a move). */
static int port_put(struct xtap_etcd *e, struct fleet_view *v, json_object *args, const char *host,
		    struct xtap_etcd_kv *cur, struct xtap_err *err)
{
	struct xtap_port_conf *p = calloc(1, sizeof(*p));
	struct xtap_etcd_op guards[2], ops[2];
	size_t ng = 0, no = 0;
	char key[KEY_MAX];
	struct xtap_model m;
	json_object *stored;
	int64_t rev;
	int ret;

	if (!p)
		return -ENOMEM;
	json_object_object_del(args, "port_id");   /* host-local: each xtapd assigns its own */
	ret = xtap_port_from_json(args, p, err);
	/* Against every other port of its segment, wherever it runs: the port being replaced left out. */
	if (!ret)
		ret = view_model(v, p->spec.segment_id, cur, &m, err);
	if (!ret) {
		p->spec.port_id = (__u32)v->n_ports;
		ret = xtap_validate_port(&m, NULL, p, err);
		xtap_model_free(&m);
	}
	free(p);
	if (ret)
		return ret;
	snprintf(key, sizeof(key), XTAP_ETCD_PORTS "%.63s/%.15s", host, json_object_get_string(json_object_object_get(args, "name")));
	stored = args;
	if (cur) {
		guards[ng++] = (struct xtap_etcd_op){ .key = cur->key, .mod_rev = cur->mod_rev };
		if (strcmp(cur->key, key))   /* a move: gone from the old host in the same transaction */
			ops[no++] = (struct xtap_etcd_op){ .key = cur->key };
	}
	if (!cur || strcmp(cur->key, key))
		guards[ng++] = (struct xtap_etcd_op){ .key = key, .mod_rev = 0 };
	ops[no++] = (struct xtap_etcd_op){ .key = key, .value = json_object_to_json_string_ext(stored, JSON_C_TO_STRING_PLAIN) };
	ret = xtap_etcd_txn(e, guards, ng, ops, no, &rev, err);
	if (ret)
		return ret;
	return print_written(!cur ? "port added" : strcmp(cur->key, key) ? "port moved" : "port set", key, rev);
}

static int port_del(struct xtap_etcd *e, struct fleet_view *v, json_object *args, struct xtap_err *err)
{
	const char *name = json_object_get_string(json_object_object_get(args, "name"));
	char host[KEY_MAX];
	struct xtap_etcd_kv *cur = find_port(v, name, host, sizeof(host));
	struct xtap_etcd_op guard, op;
	int64_t rev;
	int ret;

	if (!cur)
		return xtap_fail(err, -ENOENT, "no port named %s in etcd; nothing changed", name);
	guard = (struct xtap_etcd_op){ .key = cur->key, .mod_rev = cur->mod_rev };
	op = (struct xtap_etcd_op){ .key = cur->key };
	ret = xtap_etcd_txn(e, &guard, 1, &op, 1, &rev, err);
	return ret ? ret : print_written("port deleted", cur->key, rev);
}

/* [{"host", ...the port...}] or [Segment]. */
static int list(struct xtap_etcd_kv *kvs, size_t n, int ports)
{
	json_object *arr = json_object_new_array();
	char host[KEY_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		json_object *o = xtap_etcd_json(kvs[i].value);

		if (!o)
			continue;
		if (ports && port_name_of(kvs[i].key, host, sizeof(host)))
			json_object_object_add(o, "host", json_object_new_string(host));
		json_object_array_add(arr, o);
	}
	puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
	json_object_put(arr);
	return 0;
}

int xtapctl_etcd_run(const char *url, const char *host, const struct xtap_ctl_cmd *c, json_object *args)
{
	struct xtap_etcd e = {};
	struct fleet_view v = {};
	struct xtap_err err = {};
	char curhost[KEY_MAX];
	int ret;

	if (xtap_etcd_open(&e, url, &err)) {
		fprintf(stderr, "xtapctl: %s\n", err.msg);
		return XTAP_EXIT_USAGE;
	}
	ret = xtap_ctl_args_check(c, args, &err);
	if (!ret)
		ret = load(&e, &v, &err);
	if (ret)
		goto out;
	if (!strcmp(c->name, XTAP_CMD_SEGMENT_ADD)) {
		ret = segment_add(&e, args, &err);
	} else if (!strcmp(c->name, XTAP_CMD_SEGMENT_DEL)) {
		ret = segment_del(&e, &v, args, &err);
	} else if (!strcmp(c->name, XTAP_CMD_SEGMENT_LIST)) {
		ret = list(v.segs, v.n_segs, 0);
	} else if (!strcmp(c->name, XTAP_CMD_PORT_LIST)) {
		ret = list(v.ports, v.n_ports, 1);
	} else if (!strcmp(c->name, XTAP_CMD_PORT_DEL)) {
		ret = port_del(&e, &v, args, &err);
	} else if (!strcmp(c->name, XTAP_CMD_PORT_ADD) || !strcmp(c->name, XTAP_CMD_PORT_SET)) {
		const char *name = json_object_get_string(json_object_object_get(args, "name"));
		struct xtap_etcd_kv *cur = find_port(&v, name, curhost, sizeof(curhost));
		int add = !strcmp(c->name, XTAP_CMD_PORT_ADD);

		if (add && cur)
			ret = xtap_fail(&err, -EEXIST, "port %s already exists in etcd (on host %s); nothing changed",
					name, curhost);
		else if (!add && !cur)
			ret = xtap_fail(&err, -ENOENT, "no port named %s in etcd (xtapctl --etcd URL --host HOST port "
					"add makes one); nothing changed", name);
		else if (add && !host)
			ret = xtap_fail(&err, -EINVAL, "port add: give the host it runs on (xtapctl --etcd URL --host HOST ...)");
		else if (host && !xtap_etcd_key_part_ok(host, XTAP_FLEET_HOST_MAX))
			ret = xtap_fail(&err, -EINVAL, "--host \"%s\": 1-%d characters of A-Z a-z 0-9 . _ -", host,
					XTAP_FLEET_HOST_MAX);
		else
			ret = port_put(&e, &v, args, host ? host : curhost, cur, &err);
	} else {
		fprintf(stderr, "xtapctl: %s is not kept in etcd: with --etcd, xtapctl writes segment add|del|list and "
			"port add|set|del|list (docs/fleet.md); ask the host's xtapd for the rest\n", c->words);
		ret = 1;
		goto done;
	}
out:
	if (ret)
		fprintf(stderr, "xtapctl: %s\n", err.msg);
done:
	view_free(&v);
	xtap_etcd_close(&e);
	if (!ret)
		return 0;
	return ret == -EHOSTUNREACH ? XTAP_EXIT_NOAGENT : ret == 1 ? XTAP_EXIT_USAGE : XTAP_EXIT_REFUSED;
}
