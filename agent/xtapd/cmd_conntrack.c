// SPDX-License-Identifier: GPL-2.0
/* Commands on tracked flows: conntrack.list, conntrack.flush (agent/xtapd/conntrack.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "conntrack.h"

/* The port named by args["port"] (NULL: every port); fails naming a missing one. */
static int ct_port_arg(struct xtap_agent *a, json_object *args, struct xtap_port_conf **p,
		       struct xtap_err *err)
{
	*p = NULL;
	if (!xtap_arg_str(args, "port"))
		return 0;
	return xtap_arg_port(a, args, "port", p, err);
}

struct list_ctx {
	struct xtap_agent *a;
	json_object *out;
};

static const char *port_name_of(struct xtap_agent *a, __u32 port_id)
{
	size_t i;

	for (i = 0; i < a->model.n_ports; i++)
		if (a->model.ports[i]->spec.port_id == port_id)
			return a->model.ports[i]->name;
	return "?";
}

static json_object *addr_json(__u8 family, const __u8 *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	return json_object_new_string(buf);
}

static void list_one(const struct xtap_ct_key *k, const struct xtap_ct_entry *e, __u64 now, void *ctx)
{
	struct list_ctx *c = ctx;
	json_object *o = json_object_new_object();
	__u64 idle = now - e->last_seen;
	char buf[16];

	json_object_object_add(o, "port", json_object_new_string(port_name_of(c->a, k->port_id)));
	json_object_object_add(o, "proto", json_object_new_string(xtap_format_proto(k->proto, buf, sizeof(buf))));
	json_object_object_add(o, "vm_addr", addr_json(k->family, k->vm_addr));
	json_object_object_add(o, "remote_addr", addr_json(k->family, k->remote_addr));
	if (k->proto == 6 || k->proto == 17) {
		json_object_object_add(o, "vm_port", json_object_new_int(k->vm_port));
		json_object_object_add(o, "remote_port", json_object_new_int(k->remote_port));
	} else {
		json_object_object_add(o, "echo_id", json_object_new_int(k->vm_port));
	}
	json_object_object_add(o, "state", json_object_new_string(xtap_ct_state_name(e->state)));
	json_object_object_add(o, "opened", json_object_new_string(xtap_dir_name(e->opener)));
	json_object_object_add(o, "idle_ms", json_object_new_int64(idle / 1000000));
	json_object_object_add(o, "expires_in_ms",
			       json_object_new_int64((xtap_ct_timeout_ns(e->state) - idle) / 1000000));
	json_object_array_add(c->out, o);
}

XTAP_DEFINE_CMD(cmd_conntrack_list)
{
	struct list_ctx c = { .a = a };
	struct xtap_port_conf *p;
	int ret;

	ret = ct_port_arg(a, args, &p, err);
	if (ret)
		return ret;
	c.out = json_object_new_array();
	ret = xtap_ct_foreach(&a->dp, p ? (long long)p->spec.port_id : XTAP_CT_ALL_PORTS, list_one, &c);
	if (ret) {
		json_object_put(c.out);
		return xtap_fail(err, ret, "reading the tracked flows (map xtap_ct): %s", strerror(-ret));
	}
	*res = c.out;
	return 0;
}

XTAP_DEFINE_CMD(cmd_conntrack_flush)
{
	struct xtap_port_conf *p;
	long n;
	int ret;

	ret = ct_port_arg(a, args, &p, err);
	if (ret)
		return ret;
	n = xtap_ct_flush(&a->dp, p ? (long long)p->spec.port_id : XTAP_CT_ALL_PORTS);
	if (n < 0)
		return xtap_fail(err, (int)n, "flushing the tracked flows (map xtap_ct): %s", strerror((int)-n));
	xtap_log(XTAP_LOG_INFO, "conntrack: flushed %ld flows of %s", n, p ? p->name : "every port");
	*res = json_object_new_object();
	json_object_object_add(*res, "flushed", json_object_new_int64(n));
	return 0;
}

const struct xtap_cmd_handler xtap_conntrack_cmds[] = {
	{ XTAP_CMD_CONNTRACK_LIST, cmd_conntrack_list }, { XTAP_CMD_CONNTRACK_FLUSH, cmd_conntrack_flush },
	{ NULL, NULL },
};
