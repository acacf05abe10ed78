// SPDX-License-Identifier: GPL-2.0
/* The command table (ctl_commands.h) and the check of a request's arguments against it. */
#include <errno.h>
#include <string.h>

#include "ctl_commands.h"

#define POS(k, meta, h)           { .key = k, .type = XTAP_ARG_STRING, .flags = XTAP_ARG_F_REQUIRED, \
				    .metavar = meta, .help = h }
#define POS_UINT(k, meta, h)      { .key = k, .type = XTAP_ARG_UINT, .flags = XTAP_ARG_F_REQUIRED, \
				    .metavar = meta, .help = h }
#define OPT(k, t, opt, meta, h)   { .key = k, .type = t, .option = opt, .metavar = meta, .help = h }
#define REQ(k, t, opt, meta, h)   { .key = k, .type = t, .flags = XTAP_ARG_F_REQUIRED, .option = opt, \
				    .metavar = meta, .help = h }
#define NUM(k, opt, meta, u, h)   { .key = k, .type = XTAP_ARG_UINT, .option = opt, .metavar = meta, \
				    .unit = u, .help = h }
#define API(k, t, h)              { .key = k, .type = t, .flags = XTAP_ARG_F_API_ONLY, .help = h }
#define END                       { .key = NULL }

#define PORT_ARG POS("port", "PORT", "the port's name")
#define DIR_ARG  POS("dir", "from-vm|to-vm", "from-vm: what the VM sends; to-vm: what it is given")

static const struct xtap_ctl_arg no_args[] = { END };

static const struct xtap_ctl_arg port_add_args[] = {
	POS("name", "NAME", "the port and its tap (1-15 characters)"),
	REQ("segment", XTAP_ARG_UINT, "--segment", "ID", "L2 segment (must exist: xtapctl segment add ID)"),
	REQ("mac", XTAP_ARG_STRING, "--mac", "MAC", "the VM's MAC (frames from other MACs are dropped)"),
	OPT("addrs", XTAP_ARG_STRINGS, "--addr", "A[/LEN]",
	    "allowed source address or prefix, IPv4 or IPv6 (repeatable)"),
	OPT("shared_addrs", XTAP_ARG_STRINGS, "--shared-addr", "A[/LEN]",
	    "an address other ports of the segment may hold too, when they mark it shared (a VIP; repeatable)"),
	NUM("mtu", "--mtu", "N", XTAP_UNIT_NONE, "tap MTU (default 1500)"),
	NUM("queues", "--queues", "N", XTAP_UNIT_NONE, "queue pairs (multiqueue tap when > 1)"),
	NUM("owner_uid", "--owner", "UID", XTAP_UNIT_NONE, "let this user's unprivileged VMM open the tap"),
	NUM("owner_gid", "--group", "GID", XTAP_UNIT_NONE, "let this group's unprivileged VMM open the tap"),
	OPT("adopt", XTAP_ARG_BOOL, "--adopt", NULL, "use an existing tap instead of creating one"),
	OPT("dhcp_server", XTAP_ARG_BOOL, "--dhcp-server", NULL, "allow DHCP server replies from this VM"),
	OPT("router", XTAP_ARG_BOOL, "--router", NULL, "allow router advertisements and redirects (ICMPv4, ICMPv6) from this VM"),
	API("port_id", XTAP_ARG_UINT, "index of the port's counters (assigned when absent)"),
	API("next_rule_id", XTAP_ARG_UINT, "id the next ACL rule gets"),
	API("acl", XTAP_ARG_OBJECT, "{\"from-vm\": DIR, \"to-vm\": DIR}"),
	API("rate", XTAP_ARG_OBJECT, "{\"from-vm\": RATE, \"to-vm\": RATE}"),
	END
};

static const struct xtap_ctl_arg port_name_args[] = { POS("name", "NAME", "the port's name"), END };

static const struct xtap_ctl_arg port_open_args[] = {
	POS("name", "NAME", "the port's name"),
	NUM("queues", "--queues", "N", XTAP_UNIT_NONE, "queues to open (default: all of the port's)"),
	END
};

static const struct xtap_ctl_arg addr_add_args[] = {
	PORT_ARG, POS("addr", "ADDR[/LEN]", "an IPv4 or IPv6 address or prefix"),
	OPT("shared", XTAP_ARG_BOOL, "--shared", NULL,
	    "other ports of the segment may hold it too, when they mark it shared (a VIP)"),
	END
};

static const struct xtap_ctl_arg addr_del_args[] = {
	PORT_ARG, POS("addr", "ADDR[/LEN]", "an IPv4 or IPv6 address or prefix"), END
};

static const struct xtap_ctl_arg acl_add_args[] = {
	PORT_ARG, DIR_ARG, POS("action", "allow|deny", "what a matching frame gets"),
	OPT("cidr", XTAP_ARG_STRING, "--cidr", "C", "remote address or prefix, or any (default)"),
	OPT("proto", XTAP_ARG_STRING, "--proto", "P", "tcp, udp, icmp, icmpv6, sctp, any (default) or 0-255"),
	OPT("ports", XTAP_ARG_STRING, "--ports", "N[-M]", "destination port or range (tcp, udp, sctp only)"),
	NUM("priority", "--priority", "N", XTAP_UNIT_NONE, "lower first, 0-65535 (default 1000)"),
	OPT("stateful", XTAP_ARG_BOOL, "--stateful", NULL,
	    "allow: track the flows it allows, whose replies then pass the other direction"),
	END
};

static const struct xtap_ctl_arg acl_del_args[] = {
	PORT_ARG, DIR_ARG, POS_UINT("id", "ID", "the rule's id (xtapctl acl list shows them)"), END
};

static const struct xtap_ctl_arg acl_default_args[] = {
	PORT_ARG, DIR_ARG, POS("action", "allow|deny", "what frames no rule matches get"),
	OPT("stateful", XTAP_ARG_BOOL, "--stateful", NULL,
	    "allow: track the flows it allows, whose replies then pass the other direction"),
	END
};

static const struct xtap_ctl_arg port_only_args[] = { PORT_ARG, END };

static const struct xtap_ctl_arg rate_set_args[] = {
	PORT_ARG, DIR_ARG,
	NUM("bytes_per_sec", "--rate", "R", XTAP_UNIT_BITS, "bits per second, k/m/g = 1000s (100m = 100 Mbit/s)"),
	NUM("packets_per_sec", "--pps", "N", XTAP_UNIT_SI, "packets per second, k/m = 1000s"),
	NUM("burst_bytes", "--burst", "BYTES", XTAP_UNIT_BINARY, "byte burst, k/m = KiB/MiB"),
	NUM("burst_packets", "--burst-packets", "N", XTAP_UNIT_SI, "packet burst"),
	END
};

static const struct xtap_ctl_arg rate_clear_args[] = { PORT_ARG, DIR_ARG, END };

static const struct xtap_ctl_arg segment_add_args[] = {
	POS_UINT("id", "ID", "the segment's id"),
	OPT("uplink", XTAP_ARG_STRING, "--uplink", "IFNAME", "where unknown unicast and broadcasts leave the host"),
	NUM("vlan", "--vlan", "N", XTAP_UNIT_NONE, "802.1Q tag on the uplink (needs --uplink)"),
	OPT("flood_host", XTAP_ARG_BOOL, "--flood-host", NULL, "broadcasts also reach the host stack (host as gateway)"),
	NUM("vni", "--vni", "N", XTAP_UNIT_NONE, "VXLAN network id 1-16777215: the segment spans hosts over the overlay"),
	END
};

static const struct xtap_ctl_arg underlay_set_args[] = {
	POS("ifname", "IFNAME", "the underlay interface (IPv4 forwarding on)"),
	POS("vtep", "VTEP_IP", "this host's VTEP: an IPv4 address of the underlay"),
	END
};

#define SEGMENT_POS POS_UINT("segment", "SEGMENT", "a segment with a VNI")

static const struct xtap_ctl_arg vtep_args[] = {
	SEGMENT_POS, POS("ip", "IP", "a remote host's VTEP (IPv4)"), END
};

static const struct xtap_ctl_arg rmac_add_args[] = {
	SEGMENT_POS, POS("mac", "MAC", "a remote VM's MAC"),
	POS("vtep", "IP", "the VTEP it sits behind (one of the segment's: overlay vtep add)"), END
};

static const struct xtap_ctl_arg rmac_del_args[] = { SEGMENT_POS, POS("mac", "MAC", "a remote VM's MAC"), END };

static const struct xtap_ctl_arg segment_id_args[] = { POS_UINT("id", "ID", "the segment's id"), END };

static const struct xtap_ctl_arg stats_args[] = {
	{ .key = "port", .type = XTAP_ARG_STRING, .metavar = "PORT", .help = "one port (default: all)" },
	END
};

static const struct xtap_ctl_arg trace_args[] = {
	PORT_ARG,
	OPT("from_vm", XTAP_ARG_BOOL, "--from-vm", NULL, "as if the VM sent the frame (its XDP program)"),
	OPT("to_vm", XTAP_ARG_BOOL, "--to-vm", NULL, "as if the frame were given to the VM (its tc egress program)"),
	{ .key = "frame", .type = XTAP_ARG_STRING, .flags = XTAP_ARG_F_REQUIRED | XTAP_ARG_F_REST, .metavar = "FRAME",
	  .help = "e.g. ipv4 src 192.0.2.1 dst 192.0.2.2 tcp dport 22, or hex 0200..." },
	END
};

const struct xtap_ctl_cmd xtap_ctl_cmds[] = {
	{ XTAP_CMD_STATUS, "status", no_args, 0, "agent, maps and state file",
	  "The agent's pin directory, state file and counts.\n" },
	{ XTAP_CMD_PORT_ADD, "port add", port_add_args, 0, "create a port: its tap, programs and policy",
	  "Creates tap NAME (or adopts an existing one), attaches xtap's programs and applies the policy.\n"
	  "No two ports of a segment may hold the same MAC or overlapping addresses, unless both\n"
	  "mark an address shared (--shared-addr).\n" },
	{ XTAP_CMD_PORT_DEL, "port del", port_name_args, 0, "remove a port (and its tap unless adopted)", NULL },
	{ XTAP_CMD_PORT_LIST, "port list", no_args, 0, "every port with its segment, MAC, tap and state", NULL },
	{ XTAP_CMD_PORT_SHOW, "port show", port_name_args, 0, "a port's policy, attachment state and counters", NULL },
	{ XTAP_CMD_PORT_OPEN, "port exec", port_open_args, XTAP_CMD_F_FDS | XTAP_CMD_F_EXEC,
	  "run a VMM with the port's tap (and vhost-net) fds",
	  "Opens the port's tap queues (and /dev/vhost-net per queue when the kernel has it), and runs\n"
	  "COMMAND with the fds inherited. In its arguments %{fds} becomes the tap fds (3:4:...),\n"
	  "%{vhostfds} the vhost-net fds, %{fd} the first tap fd. For QEMU:\n"
	  "  xtapctl port exec vm1 -- qemu-system-x86_64 ... \\\n"
	  "    -netdev tap,id=n0,fds=%{fds},vhost=on,vhostfds=%{vhostfds} -device virtio-net-pci,netdev=n0,mac=MAC\n"
	  "(without vhost-net: -netdev tap,id=n0,fds=%{fds},vhost=off).\n" },
	{ XTAP_CMD_ADDR_ADD, "addr add", addr_add_args, 0, "allow a source address or prefix",
	  "No two ports of a segment may hold overlapping addresses (one VM could send as the other),\n"
	  "unless both mark the address shared.\n" },
	{ XTAP_CMD_ADDR_DEL, "addr del", addr_del_args, 0, "stop allowing a source address or prefix", NULL },
	{ XTAP_CMD_ACL_ADD, "acl add", acl_add_args, 0, "add an ACL rule",
	  "DIR from-vm: rules match the destination; to-vm: the source.\n"
	  "Lower priority wins (default 1000); the first matching rule decides, else the default.\n" },
	{ XTAP_CMD_ACL_DEL, "acl del", acl_del_args, 0, "remove an ACL rule", NULL },
	{ XTAP_CMD_ACL_DEFAULT, "acl default", acl_default_args, 0, "what frames no rule matches get", NULL },
	{ XTAP_CMD_ACL_LIST, "acl list", port_only_args, 0, "a port's rules with their hits", NULL },
	{ XTAP_CMD_RATE_SET, "rate set", rate_set_args, 0, "limit a direction's bytes and/or packets per second",
	  "Bursts default to 300 ms at the rate (at least 256 KiB and 16 packets): TCP needs that much\n"
	  "credit to get back to the rate after a drop.\n" },
	{ XTAP_CMD_RATE_CLEAR, "rate clear", rate_clear_args, 0, "remove a direction's rate limit", NULL },
	{ XTAP_CMD_SEGMENT_ADD, "segment add", segment_add_args, 0, "create an L2 segment",
	  "A segment is an L2 network: its VMs see each other, no other segment's.\n"
	  "Unknown unicast goes to the uplink (tagged with --vlan) or, without one, to the host.\n" },
	{ XTAP_CMD_SEGMENT_DEL, "segment del", segment_id_args, 0, "remove a segment (it must have no ports)", NULL },
	{ XTAP_CMD_SEGMENT_LIST, "segment list", no_args, 0, "every segment", NULL },
	{ XTAP_CMD_STATS, "stats", stats_args, 0, "packets per verdict and drops per reason, both directions", NULL },
	{ XTAP_CMD_FDB, "fdb", no_args, 0, "the MACs each segment knows: ports and host entries", NULL },
	{ XTAP_CMD_UNDERLAY_SET, "overlay underlay set", underlay_set_args, 0, "this host's VTEP and its underlay",
	  "VXLAN (UDP 4789) leaves and arrives on IFNAME from VTEP_IP (IPv4 only). IFNAME needs IPv4\n"
	  "forwarding on (the datapath asks the kernel's FIB for the outer MACs). Ports of segments\n"
	  "with a VNI need an MTU of at most IFNAME's MTU - 50.\n" },
	{ XTAP_CMD_VTEP_ADD, "overlay vtep add", vtep_args, 0, "a remote host's VTEP for a segment",
	  "Broadcasts of the segment are replicated to each of its VTEPs; VXLAN for its VNI is\n"
	  "accepted from these VTEPs only.\n" },
	{ XTAP_CMD_VTEP_DEL, "overlay vtep del", vtep_args, 0, "remove a remote VTEP (its MACs first)", NULL },
	{ XTAP_CMD_RMAC_ADD, "overlay mac add", rmac_add_args, 0, "a remote VM's MAC behind a VTEP (add or move)",
	  "Never learnt from the wire: remote MACs are desired state. A local port's MAC wins.\n" },
	{ XTAP_CMD_RMAC_DEL, "overlay mac del", rmac_del_args, 0, "forget a remote VM's MAC", NULL },
	{ XTAP_CMD_OVERLAY_SHOW, "overlay show", no_args, 0, "underlay, VTEPs, remote MACs and overlay counters", NULL },
	{ XTAP_CMD_CONNTRACK_LIST, "conntrack list", stats_args, 0, "the flows stateful ACL rules track",
	  "Each live flow: its port, the VM's and the remote end, state, which way it was opened,\n"
	  "idle time and time left before it expires.\n" },
	{ XTAP_CMD_CONNTRACK_FLUSH, "conntrack flush", stats_args, 0, "forget tracked flows (one port's or all)",
	  "Their next frames are judged as new: a reply with no flow is dropped (ct_invalid).\n" },
	{ XTAP_CMD_TRACE, "trace", trace_args, 0, "run a frame through a port's programs: each stage's decision",
	  "Runs the real program against the live maps (BPF_PROG_TEST_RUN on a copy that writes nothing:\n"
	  "no counter, ACL hit, limiter state or event changes) and prints each stage's decision.\n"
	  "FRAME words: ipv4|ipv6|arp [request|reply], src ADDR, dst ADDR, tcp|udp|icmp|icmpv6|sctp|proto N,\n"
	  "sport N, dport N, type N (ICMP), smac MAC, dmac MAC, vlan N, len N (whole frame); or hex BYTES.\n"
	  "Left out: the VM's own MAC and address, and the MAC of the segment's port holding the other address.\n" },
	{ XTAP_CMD_TEARDOWN, "teardown", no_args, 0, "remove every port, segment, program and map",
	  "Removes every port (and the taps xtap created), segment, attachment and pinned map; xtapd exits.\n" },
	{ .name = NULL },
};

const struct xtap_ctl_cmd *xtap_ctl_cmd_find(const char *name)
{
	const struct xtap_ctl_cmd *c;

	for (c = xtap_ctl_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int type_ok(enum xtap_arg_type t, json_object *v)
{
	size_t i;

	switch (t) {
	case XTAP_ARG_STRING:
		return json_object_is_type(v, json_type_string);
	case XTAP_ARG_UINT:
		/* json-c stores integers above INT64_MAX as uint64: get_int64 is then INT64_MAX, not negative. */
		return json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0;
	case XTAP_ARG_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case XTAP_ARG_OBJECT:
		return json_object_is_type(v, json_type_object);
	case XTAP_ARG_STRINGS:
		if (!json_object_is_type(v, json_type_array))
			return 0;
		for (i = 0; i < json_object_array_length(v); i++)
			if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
				return 0;
		return 1;
	}
	return 0;
}

static const char *type_name(enum xtap_arg_type t)
{
	switch (t) {
	case XTAP_ARG_STRING:  return "a string";
	case XTAP_ARG_UINT:    return "an integer, 0 or more (not true, 1.5 or \"1\")";
	case XTAP_ARG_BOOL:    return "true or false";
	case XTAP_ARG_STRINGS: return "an array of strings";
	case XTAP_ARG_OBJECT:  return "a JSON object";
	}
	return "?";
}

int xtap_ctl_args_check(const struct xtap_ctl_cmd *c, json_object *args, struct xtap_err *err)
{
	const struct xtap_ctl_arg *a;

	if (!json_object_is_type(args, json_type_object))
		return xtap_fail(err, -EINVAL, "%s: \"args\" must be a JSON object", c->name);
	json_object_object_foreach(args, key, val) {
		for (a = c->args; a->key && strcmp(a->key, key); a++)
			;
		if (!a->key)
			return xtap_fail(err, -EINVAL, "%s: unknown field \"%s\"", c->name, key);
		if (!type_ok(a->type, val))
			return xtap_fail(err, -EINVAL, "%s: field \"%s\" must be %s", c->name, key,
					 type_name(a->type));
	}
	for (a = c->args; a->key; a++)
		if ((a->flags & XTAP_ARG_F_REQUIRED) && !json_object_object_get_ex(args, a->key, NULL))
			return xtap_fail(err, -EINVAL, "%s: missing field \"%s\" (%s)", c->name, a->key, a->help);
	return 0;
}
