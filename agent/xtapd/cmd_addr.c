// SPDX-License-Identifier: GPL-2.0
/* Commands on a port's addresses: addr.add, addr.del. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int addr_change(struct xtap_agent *a, json_object *args, int add, struct xtap_err *err)
{
	struct xtap_port_conf *p, next;
	struct xtap_prefix pfx;
	const char *s = xtap_arg_str(args, "addr");
	json_object *shared;
	int i, ret;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (ret)
		return ret;
	if (!s || xtap_parse_prefix(s, &pfx) || pfx.family == 0)
		return xtap_fail(err, -EINVAL, "addr \"%s\": use an IPv4 or IPv6 address, optionally /LENGTH",
			    s ? s : "");
	next = *p;
	for (i = 0; i < next.spec.n_addrs; i++)
		if (!memcmp(&next.spec.addrs[i], &pfx, sizeof(pfx)))
			break;
	if (add) {
		if (i < next.spec.n_addrs)
			return xtap_fail(err, -EEXIST, "port %s already has %s", p->name, s);
		if (next.spec.n_addrs >= 2 * XTAP_MAX_PORT_ADDRS)
			return xtap_fail(err, -E2BIG, "port %s has the maximum number of addresses", p->name);
		next.addr_shared[next.spec.n_addrs] = json_object_object_get_ex(args, "shared", &shared) &&
						      json_object_get_boolean(shared);
		next.spec.addrs[next.spec.n_addrs++] = pfx;
	} else {
		if (i == next.spec.n_addrs)
			return xtap_fail(err, -ENOENT, "port %s has no address %s", p->name, s);
		next.spec.n_addrs--;
		next.spec.addrs[i] = next.spec.addrs[next.spec.n_addrs];
		next.addr_shared[i] = next.addr_shared[next.spec.n_addrs];
		next.addr_shared[next.spec.n_addrs] = 0;
	}
	return xtap_cmd_port_update(a, p, &next, err);
}

XTAP_DEFINE_CMD(cmd_addr_add)
{
	return addr_change(a, args, 1, err);
}

XTAP_DEFINE_CMD(cmd_addr_del)
{
	return addr_change(a, args, 0, err);
}

const struct xtap_cmd_handler xtap_addr_cmds[] = {
	{ XTAP_CMD_ADDR_ADD, cmd_addr_add }, { XTAP_CMD_ADDR_DEL, cmd_addr_del }, { NULL, NULL },
};
