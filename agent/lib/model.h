/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's desired state: segments and ports with their policy, as the
 * operator asked for them. It is persisted as JSON (the same encoding the
 * control socket speaks, see docs/api.md) and is the source of truth on start.
 */
#ifndef XTAP_MODEL_H
#define XTAP_MODEL_H

#include <json-c/json.h>
#include <net/if.h>

#include "err.h"
#include "policy_spec.h"

/* A port read from JSON without a port id gets one from the agent. */
#define XTAP_PORT_ID_UNSET 0xFFFFFFFFU

struct xtap_port_conf {
	char name[IFNAMSIZ];      /* the port is its tap: same name */
	int adopt;                /* the tap existed before: never deleted by xtap */
	unsigned int queues;
	long owner_uid;           /* -1: root only */
	long owner_gid;
	__u32 next_rule_id;
	struct xtap_port_spec spec;
	/* spec.addrs[i] is shared (a VIP): other ports of the segment that mark it shared may hold it too. */
	__u8 addr_shared[2 * XTAP_MAX_PORT_ADDRS];
	char *json;               /* cached encoding for the state file; NULL when stale */
	size_t json_len;          /* strlen(json) when json is set */
};

struct xtap_segment_conf {
	__u32 id;
	char uplink[IFNAMSIZ];    /* "" = no uplink */
	__u16 vlan;
	int flood_host;
	__u32 vni;                /* VXLAN network id, 0: no overlay */
};

/* The overlay (model_overlay.c): this host's VTEP, remote VTEPs and remote MACs per segment. */
struct xtap_vtep_conf {
	__u32 segment;
	__be32 ip;
};

struct xtap_rmac_conf {
	__u32 segment;
	__u8 mac[6];
	__be32 vtep;
};

struct xtap_overlay_conf {
	char underlay[IFNAMSIZ];  /* "" = no underlay */
	__be32 vtep;
	struct xtap_vtep_conf *vteps;
	size_t n_vteps;
	struct xtap_rmac_conf *macs;
	size_t n_macs;
};

struct xtap_model {
	struct xtap_segment_conf *segments;
	size_t n_segments;
	struct xtap_port_conf **ports;
	size_t n_ports;
	/*
	 * The ports' rules as last encoded for the state file, and their text
	 * (model.c). Allocated by xtap_model_add_port, freed by xtap_model_free;
	 * views share it. NULL: every save encodes rules afresh.
	 */
	struct xtap_rules_text *rules_text;
	struct xtap_overlay_conf overlay;
};

void xtap_model_free(struct xtap_model *m);
struct xtap_port_conf *xtap_model_port(const struct xtap_model *m, const char *name);
struct xtap_segment_conf *xtap_model_segment(const struct xtap_model *m, __u32 id);
int xtap_model_add_port(struct xtap_model *m, struct xtap_port_conf *p);   /* takes ownership */
void xtap_model_del_port(struct xtap_model *m, const char *name);
int xtap_model_add_segment(struct xtap_model *m, const struct xtap_segment_conf *s);
void xtap_model_del_segment(struct xtap_model *m, __u32 id);
/*
 * The model as it will be once the port (segment) is deleted, to persist
 * before deleting it: shares m's ports and segments but owns its own array
 * (free(view->ports) or free(view->segments) alone).
 */
int xtap_model_view_without_port(const struct xtap_model *m, const char *name, struct xtap_model *view);
int xtap_model_view_without_segment(const struct xtap_model *m, __u32 id, struct xtap_model *view);
/* Lowest port id no port uses. */
__u32 xtap_model_free_port_id(const struct xtap_model *m);

/* A port's configuration changed: drop its cached encoding. */
void xtap_model_port_changed(struct xtap_port_conf *p);
/* The whole model as text, from the ports' cached encodings (state file). */
char *xtap_model_to_text(struct xtap_model *m);

/*
 * An integer field of o within min-max (a JSON integer: not true, 1.5 or
 * "1"). Returns 0, 1 when absent and not required, or -errno with err
 * naming the field.
 */
int xtap_json_get_u64(json_object *o, const char *key, int required, __u64 min, __u64 max,
		      __u64 *out, struct xtap_err *err);

/* Field access for the model's parsers: unknown keys, strings (0, 1 when absent and optional, or -errno). */
int xtap_json_check_keys(json_object *o, const char *what, const char *const *allowed, struct xtap_err *err);
int xtap_json_get_str(json_object *o, const char *key, int required, const char **out, struct xtap_err *err);

/* ---- the overlay (model_overlay.c) ---- */
/* "192.0.2.1": an IPv4 unicast address (not 0.0.0.0, multicast or broadcast). */
int xtap_parse_vtep(const char *s, __be32 *ip);
void xtap_format_ip4(__be32 ip, char *out, size_t len);
struct xtap_vtep_conf *xtap_overlay_vtep(const struct xtap_model *m, __u32 segment, __be32 ip);
struct xtap_rmac_conf *xtap_overlay_rmac(const struct xtap_model *m, __u32 segment, const __u8 mac[6]);
/* Does another segment than `except` list VTEP ip? */
int xtap_overlay_vtep_in_use(const struct xtap_model *m, __be32 ip, __u32 except);
/* The segment's VTEPs into out (XTAP_MAX_SEGMENT_VTEPS), their count. */
__u32 xtap_overlay_segment_vteps(const struct xtap_model *m, __u32 segment, __be32 *out);
int xtap_overlay_add_vtep(struct xtap_model *m, const struct xtap_vtep_conf *v);
void xtap_overlay_del_vtep(struct xtap_model *m, __u32 segment, __be32 ip);
int xtap_overlay_add_rmac(struct xtap_model *m, const struct xtap_rmac_conf *r);
void xtap_overlay_del_rmac(struct xtap_model *m, __u32 segment, const __u8 mac[6]);
void xtap_overlay_free(struct xtap_overlay_conf *o);
int xtap_overlay_is_empty(const struct xtap_overlay_conf *o);
/* One entry as the control socket and the state file give it, checked against m (not yet in it). */
int xtap_overlay_vtep_from_json(json_object *o, const struct xtap_model *m, struct xtap_vtep_conf *v,
				struct xtap_err *err);
int xtap_overlay_rmac_from_json(json_object *o, const struct xtap_model *m, struct xtap_rmac_conf *r,
				struct xtap_err *err);
/* {"ifname", "vtep"}: ifname IFNAMSIZ bytes. */
int xtap_overlay_underlay_from_json(json_object *o, char *ifname, __be32 *vtep, struct xtap_err *err);
/* {"underlay": {"ifname", "vtep"}, "vteps": [{"segment", "ip"}], "macs": [{"segment", "mac", "vtep"}]} */
json_object *xtap_overlay_to_json(const struct xtap_overlay_conf *o);
/* Into m->overlay, checked against m's segments (read first). */
int xtap_overlay_from_json(json_object *o, struct xtap_model *m, struct xtap_err *err);

/* JSON encoding (state file and control socket). */
int xtap_model_from_json(json_object *o, struct xtap_model *m, struct xtap_err *err);
json_object *xtap_port_to_json(const struct xtap_port_conf *p);
/* The same, as the state file keeps it: fields at their defaults left out. */
json_object *xtap_port_to_state_json(const struct xtap_port_conf *p);
int xtap_port_from_json(json_object *o, struct xtap_port_conf *p, struct xtap_err *err);
json_object *xtap_segment_to_json(const struct xtap_segment_conf *s);
int xtap_segment_from_json(json_object *o, struct xtap_segment_conf *s, struct xtap_err *err);
json_object *xtap_rule_to_json(const struct xtap_acl_rule_spec *r);
/* A rule from its JSON fields; rule_id is left to the caller. */
int xtap_rule_from_json(json_object *o, struct xtap_acl_rule_spec *r, struct xtap_err *err);
/* Reads o's optional "stateful": an allow *action becomes XTAP_ACL_ALLOW_STATEFUL. */
int xtap_stateful_from_json(json_object *o, const char *what, __u8 *action, struct xtap_err *err);
json_object *xtap_rate_to_json(const struct xtap_rate_spec *r);
int xtap_rate_from_json(json_object *o, struct xtap_rate_spec *r, struct xtap_err *err);

/* Counters as JSON: {packets, bytes}; a port's per-CPU stats summed, by direction. */
json_object *xtap_counter_to_json(const struct xtap_counter *c);
json_object *xtap_port_stats_to_json(const struct xtap_port_stats *per_cpu, int ncpu);

/* Text forms used in JSON and by the CLI. */
int xtap_parse_mac(const char *s, __u8 mac[6]);
void xtap_format_mac(const __u8 mac[6], char *out, size_t len);
/* "10.0.0.0/24", "2001:db8::1" (host prefix), "any" (family 0, ACL only). */
int xtap_parse_prefix(const char *s, struct xtap_prefix *p);
void xtap_format_prefix(const struct xtap_prefix *p, char *out, size_t len);
/* "tcp", "udp", "icmp", "icmpv6", "sctp", "any" or a number. */
int xtap_parse_proto(const char *s, __u8 *proto);
const char *xtap_format_proto(__u8 proto, char *buf, size_t len);
/* "any", "80", "80-90". */
int xtap_parse_ports(const char *s, __u16 *min, __u16 *max);
/* "from-vm" / "to-vm". */
int xtap_parse_dir(const char *s, int *dir);
const char *xtap_dir_name(int dir);
const char *xtap_verdict_name(int verdict);
const char *xtap_drop_reason_name(int reason);

#endif /* XTAP_MODEL_H */
