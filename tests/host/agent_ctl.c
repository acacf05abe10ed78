// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "pktbuild.h"

char ctl_out[65536];

void must_ctl(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = ctl(ctl_out, sizeof(ctl_out), "%s", cmd);
	if (rc)
		fail_msg("xtapctl %s -> exit %d: %s", cmd, rc, ctl_out);
}

json_object *ctl_json(const char *fmt, ...)
{
	char cmd[1024];
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (ctl(ctl_out, sizeof(ctl_out), "-j %s", cmd))
		fail_msg("xtapctl -j %s: %s", cmd, ctl_out);
	o = json_tokener_parse(ctl_out);
	if (!o)
		fail_msg("xtapctl -j %s: not JSON: %s", cmd, ctl_out);
	return o;
}

int64_t stat_of(const char *port, const char *dir, const char *group, const char *name)
{
	json_object *o = ctl_json("stats %s", port), *v;
	int64_t n = 0;

	if (json_object_object_get_ex(o, port, &v) && json_object_object_get_ex(v, dir, &v) &&
	    json_object_object_get_ex(v, group, &v) && json_object_object_get_ex(v, name, &v) &&
	    json_object_object_get_ex(v, "packets", &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

int ctl_vm_add(struct vm *v, int segment, const char *mac, const char *ip)
{
	pkt_mac(v->mac, mac);
	v->ip4 = pkt_ip4(ip);
	if (ctl(ctl_out, sizeof(ctl_out), "port add %s --segment %d --mac %s --addr %s/32", v->name, segment,
		mac, ip)) {
		fprintf(stderr, "port add %s: %s\n", v->name, ctl_out);
		return -1;
	}
	return vm_open(v);
}
