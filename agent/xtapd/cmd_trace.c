// SPDX-License-Identifier: GPL-2.0
/*
 * trace: a frame described by the operator, through the real program of a
 * port's direction against the live maps (trace.c), and what each stage
 * decided. Changes nothing: no counter, ACL hit, limiter state or event.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "frame_spec.h"
#include "trace.h"

/* Where a frame goes when its MAC is nobody's: a documentation MAC (RFC 7042). */
static const __u8 nobody_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01 };

static int prefix_has(const struct xtap_prefix *p, int family, const __u8 *addr)
{
	int bits = p->prefixlen, i;

	if (p->family != family)
		return 0;
	for (i = 0; bits > 0; i++, bits -= 8) {
		__u8 mask = bits >= 8 ? 0xFF : (__u8)(0xFF << (8 - bits));

		if ((p->addr[i] ^ addr[i]) & mask)
			return 0;
	}
	return 1;
}

/* The EUI-64 link-local of mac: every port holds its own. */
static void link_local_of(const __u8 *mac, __u8 *ll)
{
	const __u8 a[16] = { 0xfe, 0x80, [8] = mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };

	memcpy(ll, a, 16);
}

static int is_link_local_of(const __u8 *addr, const __u8 *mac)
{
	__u8 ll[16];

	link_local_of(mac, ll);
	return !memcmp(addr, ll, 16);
}

/* The MAC of the port of segment seg that holds addr, else nobody's. */
static void mac_of(const struct xtap_model *m, __u32 seg, int family, const __u8 *addr, __u8 *mac)
{
	size_t i, j;

	for (i = 0; i < m->n_ports; i++) {
		const struct xtap_port_spec *s = &m->ports[i]->spec;

		if (s->segment_id != seg)
			continue;
		if (family == 6 && is_link_local_of(addr, s->mac)) {
			memcpy(mac, s->mac, 6);
			return;
		}
		for (j = 0; j < s->n_addrs; j++)
			if (prefix_has(&s->addrs[j], family, addr)) {
				memcpy(mac, s->mac, 6);
				return;
			}
	}
	memcpy(mac, nobody_mac, 6);
}

/* The port's first address of family into addr (the VM's side of the frame); IPv6: else its link-local. */
static int own_addr(const struct xtap_port_spec *s, int family, __u8 *addr)
{
	size_t j;

	for (j = 0; j < s->n_addrs; j++)
		if (s->addrs[j].family == family) {
			memcpy(addr, s->addrs[j].addr, 16);
			return 1;
		}
	if (family == 6)
		link_local_of(s->mac, addr);
	return family == 6;
}

/* What the description leaves out, from the port and its segment: the VM's MAC and address, the peer's MAC. */
static void fill_defaults(const struct xtap_model *m, const struct xtap_port_conf *p, int dir,
			  struct xtap_frame_spec *f)
{
	const struct xtap_port_spec *s = &p->spec;
	int fam = f->family ? f->family : 4;

	if (dir == XTAP_DIR_FROM_VM) {
		if (!f->has_src)
			f->has_src = own_addr(s, fam, f->src);
		if (!f->has_smac)
			memcpy(f->smac, s->mac, 6);
		if (!f->has_dmac)
			mac_of(m, s->segment_id, fam, f->dst, f->dmac);
	} else {
		if (!f->has_dst)
			f->has_dst = own_addr(s, fam, f->dst);
		if (!f->has_dmac)
			memcpy(f->dmac, s->mac, 6);
		if (!f->has_smac)
			mac_of(m, s->segment_id, fam, f->src, f->smac);
	}
}

static const char *stage_names[XTAP_TRACE_STAGES] = {
	[XTAP_TRACE_PARSE] = "parse",   [XTAP_TRACE_ANTISPOOF] = "anti-spoof", [XTAP_TRACE_L2] = "l2",
	[XTAP_TRACE_ACL] = "acl",       [XTAP_TRACE_MTU] = "mtu",              [XTAP_TRACE_RATE] = "rate",
	[XTAP_TRACE_STEER] = "steer",
};

static json_object *target_json(const struct xtap_model *m, const struct xtap_trace *t)
{
	char name[IF_NAMESIZE];
	size_t i;

	switch (t->verdict) {
	case XTAP_VERDICT_TO_PORT:
		for (i = 0; i < m->n_ports; i++)
			if (m->ports[i]->spec.ifindex == t->target)
				return json_object_new_string(m->ports[i]->name);
		/* fall through */
	case XTAP_VERDICT_TO_UPLINK:
		return json_object_new_string(if_indextoname(t->target, name) ? name : "?");
	case XTAP_VERDICT_FLOOD:
		snprintf(name, sizeof(name), "segment %u", t->target);
		return json_object_new_string(name);
	default:
		return NULL;
	}
}

static json_object *stage_json(struct xtap_agent *a, const struct xtap_port_conf *p, int dir,
			       const struct xtap_trace *t, int s)
{
	json_object *o = json_object_new_object();
	__u32 r = t->result[s];

	json_object_object_add(o, "stage", json_object_new_string(stage_names[s]));
	json_object_object_add(o, "result", json_object_new_string(r ? "drop" : "pass"));
	if (r)
		json_object_object_add(o, "reason", json_object_new_string(xtap_drop_reason_name(r)));
	if (s == XTAP_TRACE_ACL) {
		long long id = t->acl_slot == XTAP_TRACE_ACL_DEFAULT ? -1 :
			       xtap_trace_rule_id(&a->dp, p->spec.ifindex, dir, t->acl_slot);

		if (t->acl_slot == XTAP_TRACE_ACL_DEFAULT)
			json_object_object_add(o, "rule", json_object_new_string("default"));
		else
			json_object_object_add(o, "rule", json_object_new_int64(id));
	}
	if (s == XTAP_TRACE_STEER && !r) {
		json_object *tg = target_json(&a->model, t);

		json_object_object_add(o, "verdict", json_object_new_string(xtap_verdict_name(t->verdict)));
		if (tg)
			json_object_object_add(o, "target", tg);
	}
	return o;
}

static const char *action_name(int dir, int ret)
{
	static const char *const xdp[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	if (dir == XTAP_DIR_FROM_VM)
		return ret >= 0 && ret <= 4 ? xdp[ret] : "?";
	return ret == 0 ? "TC_ACT_OK" : ret == 2 ? "TC_ACT_SHOT" : "?";
}

XTAP_DEFINE_CMD(cmd_trace)
{
	struct xtap_frame_spec *f = calloc(1, sizeof(*f));
	json_object *from = NULL, *to = NULL, *stages;
	struct xtap_port_conf *p;
	__u8 frame[XTAP_FRAME_MAX];
	char hex[2 * XTAP_FRAME_MAX + 1];
	struct xtap_trace t;
	size_t len, i;
	int dir, ret, s;

	if (!f)
		return xtap_fail(err, -ENOMEM, "out of memory");
	json_object_object_get_ex(args, "from_vm", &from);
	json_object_object_get_ex(args, "to_vm", &to);
	if (json_object_get_boolean(from) == json_object_get_boolean(to))
		ret = xtap_fail(err, -EINVAL, "trace: give --from-vm or --to-vm (one of them)");
	else
		ret = xtap_arg_port(a, args, "port", &p, err);
	dir = json_object_get_boolean(from) ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM;
	if (!ret && !p->spec.ifindex)
		ret = xtap_fail(err, -ENODEV, "trace: port %s has no tap now (xtapctl port show %s says why)", p->name,
				p->name);
	if (!ret)
		ret = xtap_frame_parse(xtap_arg_str(args, "frame"), f, err);
	if (!ret) {
		fill_defaults(&a->model, p, dir, f);
		ret = xtap_frame_build(f, frame, &len, err);
	}
	free(f);
	if (!ret)
		ret = xtap_trace_run(&a->dp, dir, p->spec.ifindex, frame, len, &t, &s, err);
	if (ret)
		return ret;
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", frame[i]);
	*res = json_object_new_object();
	json_object_object_add(*res, "port", json_object_new_string(p->name));
	json_object_object_add(*res, "direction", json_object_new_string(xtap_dir_name(dir)));
	json_object_object_add(*res, "frame", json_object_new_string(hex));
	stages = json_object_new_array();
	for (i = 0; i < XTAP_TRACE_STAGES; i++)
		if (t.stages & (1U << i))
			json_object_array_add(stages, stage_json(a, p, dir, &t, (int)i));
	json_object_object_add(*res, "stages", stages);
	json_object_object_add(*res, "verdict", json_object_new_string(xtap_verdict_name(t.verdict)));
	if (t.verdict == XTAP_VERDICT_DROP)
		json_object_object_add(*res, "reason", json_object_new_string(xtap_drop_reason_name(t.reason)));
	json_object_object_add(*res, "action", json_object_new_string(action_name(dir, s)));
	/* frames XDP hands to tc (longer than the MTU allows, GSO) are carried out and counted there */
	json_object_object_add(*res, "counted_here", json_object_new_boolean(t.counted));
	return 0;
}

const struct xtap_cmd_handler xtap_trace_cmds[] = {
	{ XTAP_CMD_TRACE, cmd_trace },
	{ NULL, NULL },
};
