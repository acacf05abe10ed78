// SPDX-License-Identifier: GPL-2.0
/*
 * xtapctl: the CLI of xtapd. Turns a command line into one JSON request on
 * the control socket (docs/api.md) and prints the answer as a table, or as
 * JSON with -j. The agent validates everything; this file only parses the
 * syntax of its own options.
 *
 * Exit codes: 0 done, 1 the agent refused (the message says why),
 * 2 bad usage, 3 the agent is not reachable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "xtapctl_maps.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_NOAGENT 3

static const char *socket_path = XTAP_DEFAULT_SOCKET;
static const char *pin_dir = XTAP_DEFAULT_PIN_DIR;
static int json_out;
/* Read commands fall back to the pinned maps when the agent is down. */
static json_object *(*agent_down_fallback)(void);

static const char usage_text[] =
	"usage: xtapctl [-s SOCKET] [--pin-dir DIR] [-j] COMMAND ...\n"
	"  status                                 agent, maps and state file\n"
	"  port add NAME --segment ID --mac MAC [--addr A/LEN]... [--mtu N] [--queues N]\n"
	"                [--owner UID] [--group GID] [--adopt] [--dhcp-server] [--router]\n"
	"  port del NAME | port list | port show NAME\n"
	"  port exec NAME [--queues N] -- VMM ARGS... (%{fds}, %{vhostfds}: the handed-over fds)\n"
	"  addr add|del PORT ADDR[/LEN]\n"
	"  acl add PORT from-vm|to-vm allow|deny [--cidr C] [--proto P] [--ports N[-M]] [--priority N]\n"
	"  acl del PORT from-vm|to-vm ID | acl default PORT from-vm|to-vm allow|deny | acl list PORT\n"
	"  rate set PORT from-vm|to-vm [--rate R] [--pps N] [--burst BYTES] [--burst-packets N]\n"
	"                 R: bits/s with k/m/g (100m = 100 Mbit/s); N: k/m; BYTES: k/m = KiB/MiB\n"
	"  rate clear PORT from-vm|to-vm\n"
	"  segment add ID [--uplink IFNAME] [--vlan N] [--flood-host] | segment del ID | segment list\n"
	"  stats [PORT] | fdb | top [--interval SECONDS] [--count N]\n"
	"  teardown                               remove every port, segment, program and map\n"
	"Every command takes --help. -j prints JSON. With xtapd down, port list, stats and fdb\n"
	"read the maps pinned in --pin-dir (default " XTAP_DEFAULT_PIN_DIR ").\n";

static void usage_exit(const char *msg)
{
	if (msg)
		fprintf(stderr, "xtapctl: %s\n", msg);
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

/* ---- talking to the agent ---- */

static const char *stats_port;

static json_object *fallback_port_list(void)
{
	return xtapctl_maps_port_list(pin_dir);
}

static json_object *fallback_stats(void)
{
	return xtapctl_maps_stats(pin_dir, stats_port);
}

static json_object *fallback_fdb(void)
{
	return xtapctl_maps_fdb(pin_dir);
}

/*
 * One request, one reply. A port.open reply carries fds (SCM_RIGHTS) with
 * its first byte: they land in fds[] when the caller expects them.
 */
static json_object *call_fds(const char *cmd, json_object *args, int *fds, int *nfds)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *req = json_object_new_object(), *resp;
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int) * 2 * XTAP_HANDOFF_MAX_QUEUES)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct json_tokener *tok;
	struct cmsghdr *c;
	const char *out;
	ssize_t n;
	int fd;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		json_object *res = agent_down_fallback ? agent_down_fallback() : NULL;

		if (res) {
			fprintf(stderr, "xtapctl: xtapd is not running: read from the maps pinned in %s\n",
				pin_dir);
			resp = json_object_new_object();
			json_object_object_add(resp, "ok", json_object_new_boolean(1));
			json_object_object_add(resp, "result", res);
			json_object_put(req);
			if (fd >= 0)
				close(fd);
			return resp;
		}
		fprintf(stderr, "xtapctl: xtapd is not running (no answer on %s: %s); start it with: xtapd\n",
			socket_path, strerror(errno));
		exit(EXIT_NOAGENT);
	}
	out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (write(fd, out, strlen(out)) < 0) {
		fprintf(stderr, "xtapctl: sending to xtapd: %s\n", strerror(errno));
		exit(EXIT_NOAGENT);
	}
	json_object_put(req);
	if (nfds)
		*nfds = 0;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int i, k, got;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds)
				fds[(*nfds)++] = got;
			else
				close(got);
		}
	}
	tok = json_tokener_new();
	resp = NULL;
	while (!resp && n > 0) {
		resp = json_tokener_parse_ex(tok, buf, n);
		if (!resp && json_tokener_get_error(tok) != json_tokener_continue)
			break;
		if (!resp)
			n = read(fd, buf, sizeof(buf));
	}
	json_tokener_free(tok);
	close(fd);
	if (!resp) {
		fprintf(stderr, "xtapctl: xtapd closed the connection without an answer\n");
		exit(EXIT_NOAGENT);
	}
	return resp;
}

/* The result of an accepted request; on refusal prints the agent's message and exits 1. */
static json_object *result_or_exit(json_object *resp)
{
	json_object *ok, *v;

	if (!json_object_object_get_ex(resp, "ok", &ok) || !json_object_get_boolean(ok)) {
		fprintf(stderr, "xtapctl: %s\n",
			json_object_object_get_ex(resp, "error", &v) ? json_object_get_string(v) :
								       "the agent refused");
		exit(EXIT_REFUSED);
	}
	return json_object_object_get_ex(resp, "result", &v) ? v : NULL;
}

/* Calls cmd; returns the result (owned by resp) or exits as result_or_exit says. */
static json_object *call_ok(const char *cmd, json_object *args, json_object **resp)
{
	*resp = call_fds(cmd, args, NULL, NULL);
	return result_or_exit(*resp);
}

static void print_json(json_object *o)
{
	puts(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY) : "null");
}

/* ---- option parsing helpers ---- */

static int want_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

static void help_exit(const char *text)
{
	fputs(text, stdout);
	exit(0);
}

static int64_t parse_num(const char *s, const char *what, int binary)
{
	double mult = 1, k = binary ? 1024 : 1000;
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0) {
		fprintf(stderr, "xtapctl: %s \"%s\" is not a number\n", what, s);
		exit(EXIT_USAGE);
	}
	if (*end == 'k' || *end == 'K')
		mult = k, end++;
	else if (*end == 'm' || *end == 'M')
		mult = k * k, end++;
	else if (*end == 'g' || *end == 'G')
		mult = k * k * k, end++;
	if (!strcasecmp(end, "bit") || !strcasecmp(end, "b") || !*end)
		return (int64_t)(v * mult);
	fprintf(stderr, "xtapctl: %s \"%s\": unknown unit \"%s\"\n", what, s, end);
	exit(EXIT_USAGE);
}

static json_object *int_arg(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "xtapctl: %s \"%s\" is not an integer\n", what, s);
		exit(EXIT_USAGE);
	}
	return json_object_new_int64(v);
}

/* port.open: the tap fds, then the vhost-net fds, arrive in fds[]. */
static json_object *call_open(json_object *args, int *fds, int *nfds, json_object **resp)
{
	*resp = call_fds("port.open", args, fds, nfds);
	return result_or_exit(*resp);
}

/* Replaces %{fds}, %{vhostfds} and %{fd} in arg with the handed-over fd numbers. */
static char *substitute_fds(const char *arg, const int *tap, int ntap, const int *vhost, int nvhost)
{
	static const char *const keys[] = { "%{fds}", "%{vhostfds}", "%{fd}" };
	char *out = malloc(strlen(arg) + 16 * (ntap + nvhost + 1) * 4 + 1), *o = out;
	const char *p = arg;

	if (!out)
		exit(1);
	while (*p) {
		size_t k;

		for (k = 0; k < 3; k++)
			if (!strncmp(p, keys[k], strlen(keys[k])))
				break;
		if (k == 3) {
			*o++ = *p++;
			continue;
		}
		if (k == 1 && !nvhost) {
			fprintf(stderr, "xtapctl: %%{vhostfds}: this kernel has no /dev/vhost-net (use vhost=off)\n");
			exit(EXIT_REFUSED);
		}
		if (k == 2) {
			o += sprintf(o, "%d", tap[0]);
		} else {
			const int *list = k == 0 ? tap : vhost;
			int n = k == 0 ? ntap : nvhost, i;

			for (i = 0; i < n; i++)
				o += sprintf(o, "%s%d", i ? ":" : "", list[i]);
		}
		p += strlen(keys[k]);
	}
	*o = 0;
	return out;
}

static const char port_exec_help[] =
	"usage: xtapctl port exec NAME [--queues N] -- COMMAND [ARG]...\n"
	"Opens the port's tap queues (and /dev/vhost-net per queue when the kernel has it), and runs\n"
	"COMMAND with the fds inherited. In its arguments %{fds} becomes the tap fds (3:4:...),\n"
	"%{vhostfds} the vhost-net fds, %{fd} the first tap fd. For QEMU:\n"
	"  xtapctl port exec vm1 -- qemu-system-x86_64 ... \\\n"
	"    -netdev tap,id=n0,fds=%{fds},vhost=on,vhostfds=%{vhostfds} -device virtio-net-pci,netdev=n0,mac=MAC\n"
	"(without vhost-net: -netdev tap,id=n0,fds=%{fds},vhost=off).\n";

static int cmd_port_exec(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp, *res;
	int fds[2 * XTAP_HANDOFF_MAX_QUEUES], nfds, ntap, nvhost, i, first;
	char **cmd;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		help_exit(port_exec_help);
	json_object_object_add(args, "name", json_object_new_string(argv[1]));
	for (first = 2; first < argc && strcmp(argv[first], "--"); first++) {
		if (!strcmp(argv[first], "--queues") && first + 1 < argc)
			json_object_object_add(args, "queues", int_arg(argv[++first], "--queues"));
		else
			usage_exit("port exec NAME [--queues N] -- COMMAND...");
	}
	if (first + 1 >= argc)
		usage_exit("port exec: give the command after --");
	res = call_open(args, fds, &nfds, &resp);
	ntap = json_object_get_int(json_object_object_get(res, "tap_fds"));
	nvhost = json_object_get_int(json_object_object_get(res, "vhost_fds"));
	if (ntap + nvhost != nfds) {
		fprintf(stderr, "xtapctl: expected %d fds from xtapd, got %d\n", ntap + nvhost, nfds);
		return EXIT_REFUSED;
	}
	/* The fds arrived close-on-exec: the command is what inherits them. */
	for (i = 0; i < nfds; i++)
		fcntl(fds[i], F_SETFD, 0);
	cmd = calloc(argc - first, sizeof(*cmd));
	if (!cmd)
		return 1;
	for (i = first + 1; i < argc; i++)
		cmd[i - first - 1] = substitute_fds(argv[i], fds, ntap, fds + ntap, nvhost);
	json_object_put(resp);
	execvp(cmd[0], cmd);
	fprintf(stderr, "xtapctl: running %s: %s\n", cmd[0], strerror(errno));
	return 127;
}

/* ---- commands ---- */

static const char port_add_help[] =
	"usage: xtapctl port add NAME --segment ID --mac MAC [options]\n"
	"Creates tap NAME (or adopts an existing one), attaches xtap's programs and applies the policy.\n"
	"  --segment ID       L2 segment (must exist: xtapctl segment add ID)\n"
	"  --mac MAC          the VM's MAC (frames from other MACs are dropped)\n"
	"  --addr A[/LEN]     allowed source address or prefix, IPv4 or IPv6 (repeatable)\n"
	"  --mtu N            tap MTU (default 1500)\n"
	"  --queues N         queue pairs (multiqueue tap when > 1)\n"
	"  --owner UID, --group GID   let an unprivileged VMM open the tap\n"
	"  --adopt            use an existing tap instead of creating one\n"
	"  --dhcp-server      allow DHCP server replies from this VM\n"
	"  --router           allow router advertisements and redirects (ICMPv4, ICMPv6) from this VM\n";

static int cmd_port(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp, *res;
	const char *sub = argc > 0 ? argv[0] : NULL;

	if (!sub)
		usage_exit("port: add, del, list, show or exec");
	if (!strcmp(sub, "exec"))
		return cmd_port_exec(argc, argv);
	if (!strcmp(sub, "add")) {
		static const struct option opts[] = {
			{ "segment", required_argument, NULL, 's' }, { "mac", required_argument, NULL, 'm' },
			{ "addr", required_argument, NULL, 'a' },    { "mtu", required_argument, NULL, 'M' },
			{ "queues", required_argument, NULL, 'q' },  { "owner", required_argument, NULL, 'u' },
			{ "group", required_argument, NULL, 'g' },   { "adopt", no_argument, NULL, 'A' },
			{ "dhcp-server", no_argument, NULL, 'D' },   { "router", no_argument, NULL, 'R' },
			{ NULL, 0, NULL, 0 },
		};
		json_object *addrs = json_object_new_array();
		int c;

		if (want_help(argc, argv))
			help_exit(port_add_help);
		if (argc < 2 || argv[1][0] == '-')
			usage_exit("port add: NAME first");
		json_object_object_add(args, "name", json_object_new_string(argv[1]));
		optind = 2;
		while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			switch (c) {
			case 's': json_object_object_add(args, "segment", int_arg(optarg, "--segment")); break;
			case 'm': json_object_object_add(args, "mac", json_object_new_string(optarg)); break;
			case 'a': json_object_array_add(addrs, json_object_new_string(optarg)); break;
			case 'M': json_object_object_add(args, "mtu", int_arg(optarg, "--mtu")); break;
			case 'q': json_object_object_add(args, "queues", int_arg(optarg, "--queues")); break;
			case 'u': json_object_object_add(args, "owner_uid", int_arg(optarg, "--owner")); break;
			case 'g': json_object_object_add(args, "owner_gid", int_arg(optarg, "--group")); break;
			case 'A': json_object_object_add(args, "adopt", json_object_new_boolean(1)); break;
			case 'D': json_object_object_add(args, "dhcp_server", json_object_new_boolean(1)); break;
			case 'R': json_object_object_add(args, "router", json_object_new_boolean(1)); break;
			default: usage_exit(NULL);
			}
		}
		if (optind != argc)
			usage_exit("port add: unexpected argument");
		json_object_object_add(args, "addrs", addrs);
		res = call_ok("port.add", args, &resp);
		if (json_out)
			print_json(res);
		else
			printf("port %s added\n", argv[1]);
	} else if (!strcmp(sub, "del") || !strcmp(sub, "show")) {
		if (want_help(argc, argv))
			help_exit(!strcmp(sub, "del") ?
				  "usage: xtapctl port del NAME\nDetaches and removes the port (and its tap unless adopted).\n" :
				  "usage: xtapctl port show NAME\nPolicy, attachment state and counters of a port.\n");
		if (argc != 2)
			usage_exit("port del/show: NAME");
		json_object_object_add(args, "name", json_object_new_string(argv[1]));
		res = call_ok(!strcmp(sub, "del") ? "port.del" : "port.show", args, &resp);
		if (!strcmp(sub, "del"))
			printf("port %s deleted\n", argv[1]);
		else
			print_json(res);   /* a port is a nested record: JSON is its clearest table */
	} else if (!strcmp(sub, "list")) {
		size_t i, n;

		if (want_help(argc, argv))
			help_exit("usage: xtapctl port list\nEvery port with its segment, MAC, tap and state.\n");
		agent_down_fallback = fallback_port_list;
		res = call_ok("port.list", args, &resp);
		if (json_out) {
			print_json(res);
		} else {
			printf("%-15s %5s %8s %-17s %7s %-13s %s\n", "NAME", "ID", "SEGMENT", "MAC", "IFINDEX",
			       "STATE", "ADDRESSES");
			n = json_object_array_length(res);
			for (i = 0; i < n; i++) {
				json_object *p = json_object_array_get_idx(res, i), *st, *v, *addrs;
				size_t j;

				json_object_object_get_ex(p, "status", &st);
				printf("%-15s %5d", json_object_get_string(json_object_object_get(p, "name")),
				       json_object_get_int(json_object_object_get(p, "port_id")));
				printf(" %8d %-17s", json_object_get_int(json_object_object_get(p, "segment")),
				       json_object_get_string(json_object_object_get(p, "mac")));
				json_object_object_get_ex(st, "ifindex", &v);
				printf(" %7d %-13s", json_object_get_int(v),
				       json_object_get_string(json_object_object_get(st, "state")));
				json_object_object_get_ex(p, "addrs", &addrs);
				for (j = 0; j < json_object_array_length(addrs); j++)
					printf("%s%s", j ? "," : "",
					       json_object_get_string(json_object_array_get_idx(addrs, j)));
				putchar('\n');
			}
		}
	} else {
		usage_exit("port: add, del, list or show");
	}
	json_object_put(resp);
	return 0;
}

static int cmd_addr(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp;

	if (want_help(argc, argv))
		help_exit("usage: xtapctl addr add|del PORT ADDR[/LEN]\nAllows (or stops allowing) a source address or prefix.\n");
	if (argc != 3 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		usage_exit("addr add|del PORT ADDR");
	json_object_object_add(args, "port", json_object_new_string(argv[1]));
	json_object_object_add(args, "addr", json_object_new_string(argv[2]));
	call_ok(!strcmp(argv[0], "add") ? "addr.add" : "addr.del", args, &resp);
	json_object_put(resp);
	return 0;
}

static const char acl_help[] =
	"usage: xtapctl acl add PORT DIR allow|deny [--cidr C] [--proto P] [--ports N[-M]] [--priority N]\n"
	"       xtapctl acl del PORT DIR ID\n"
	"       xtapctl acl default PORT DIR allow|deny\n"
	"       xtapctl acl list PORT\n"
	"DIR is from-vm (rules match the destination) or to-vm (rules match the source).\n"
	"--proto tcp|udp|icmp|icmpv6|sctp|any|NUMBER; --ports only with tcp, udp, sctp.\n"
	"Lower priority wins (default 1000); the first matching rule decides, else the default.\n";

static int cmd_acl(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp, *res;
	const char *sub = argc > 0 ? argv[0] : "";

	if (want_help(argc, argv))
		help_exit(acl_help);
	if (!strcmp(sub, "add")) {
		static const struct option opts[] = {
			{ "cidr", required_argument, NULL, 'c' },  { "proto", required_argument, NULL, 'p' },
			{ "ports", required_argument, NULL, 'P' }, { "priority", required_argument, NULL, 'r' },
			{ NULL, 0, NULL, 0 },
		};
		int c;

		if (argc < 4)
			usage_exit("acl add PORT DIR allow|deny [options]");
		json_object_object_add(args, "port", json_object_new_string(argv[1]));
		json_object_object_add(args, "dir", json_object_new_string(argv[2]));
		json_object_object_add(args, "action", json_object_new_string(argv[3]));
		optind = 4;
		while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			switch (c) {
			case 'c': json_object_object_add(args, "cidr", json_object_new_string(optarg)); break;
			case 'p': json_object_object_add(args, "proto", json_object_new_string(optarg)); break;
			case 'P': json_object_object_add(args, "ports", json_object_new_string(optarg)); break;
			case 'r': json_object_object_add(args, "priority", int_arg(optarg, "--priority")); break;
			default: usage_exit(NULL);
			}
		}
		if (optind != argc)
			usage_exit("acl add: unexpected argument");
		res = call_ok("acl.add", args, &resp);
		if (json_out)
			print_json(res);
		else
			printf("rule %d added\n", json_object_get_int(json_object_object_get(res, "id")));
	} else if (!strcmp(sub, "del")) {
		if (argc != 4)
			usage_exit("acl del PORT DIR ID");
		json_object_object_add(args, "port", json_object_new_string(argv[1]));
		json_object_object_add(args, "dir", json_object_new_string(argv[2]));
		json_object_object_add(args, "id", int_arg(argv[3], "rule id"));
		call_ok("acl.del", args, &resp);
	} else if (!strcmp(sub, "default")) {
		if (argc != 4)
			usage_exit("acl default PORT DIR allow|deny");
		json_object_object_add(args, "port", json_object_new_string(argv[1]));
		json_object_object_add(args, "dir", json_object_new_string(argv[2]));
		json_object_object_add(args, "action", json_object_new_string(argv[3]));
		call_ok("acl.default", args, &resp);
	} else if (!strcmp(sub, "list")) {
		static const char *const dirs[] = { "from-vm", "to-vm" };
		int d;

		if (argc != 2)
			usage_exit("acl list PORT");
		json_object_object_add(args, "port", json_object_new_string(argv[1]));
		res = call_ok("acl.list", args, &resp);
		if (json_out) {
			print_json(res);
		} else {
			printf("%-8s %5s %8s %-6s %-24s %-7s %-11s %12s %14s\n", "DIR", "ID", "PRIORITY",
			       "ACTION", "CIDR", "PROTO", "PORTS", "HIT_PACKETS", "HIT_BYTES");
			for (d = 0; d < 2; d++) {
				json_object *dir = json_object_object_get(res, dirs[d]);
				json_object *rules = json_object_object_get(dir, "rules");
				size_t i;

				for (i = 0; i < json_object_array_length(rules); i++) {
					json_object *r = json_object_array_get_idx(rules, i);
					json_object *h = json_object_object_get(r, "hits");

					printf("%-8s %5d %8d %-6s %-24s %-7s %-11s %12" PRId64 " %14" PRId64 "\n",
					       dirs[d], json_object_get_int(json_object_object_get(r, "id")),
					       json_object_get_int(json_object_object_get(r, "priority")),
					       json_object_get_string(json_object_object_get(r, "action")),
					       json_object_get_string(json_object_object_get(r, "cidr")),
					       json_object_get_string(json_object_object_get(r, "proto")),
					       json_object_get_string(json_object_object_get(r, "ports")),
					       json_object_get_int64(json_object_object_get(h, "packets")),
					       json_object_get_int64(json_object_object_get(h, "bytes")));
				}
				printf("%-8s %5s %8s %-6s (default)\n", dirs[d], "-", "-",
				       json_object_get_string(json_object_object_get(dir, "default")));
			}
		}
	} else {
		usage_exit("acl: add, del, default or list");
	}
	json_object_put(resp);
	return 0;
}

static const char rate_help[] =
	"usage: xtapctl rate set PORT from-vm|to-vm [--rate R] [--pps N] [--burst BYTES] [--burst-packets N]\n"
	"       xtapctl rate clear PORT from-vm|to-vm\n"
	"R is bits per second (k, m, g: 1000s), e.g. 100m; N packets per second (k, m).\n"
	"Bursts default to 300 ms at the rate (at least 256 KiB and 16 packets): TCP needs that much\n"
	"credit to get back to the rate after a drop;\n"
	"BYTES accepts k/m (KiB/MiB).\n";

static int cmd_rate(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp;
	const char *sub = argc > 0 ? argv[0] : "";

	if (want_help(argc, argv))
		help_exit(rate_help);
	if (argc < 3 || (strcmp(sub, "set") && strcmp(sub, "clear")))
		usage_exit("rate set|clear PORT DIR");
	json_object_object_add(args, "port", json_object_new_string(argv[1]));
	json_object_object_add(args, "dir", json_object_new_string(argv[2]));
	if (!strcmp(sub, "set")) {
		static const struct option opts[] = {
			{ "rate", required_argument, NULL, 'r' },  { "pps", required_argument, NULL, 'p' },
			{ "burst", required_argument, NULL, 'b' }, { "burst-packets", required_argument, NULL, 'B' },
			{ NULL, 0, NULL, 0 },
		};
		int c;

		optind = 3;
		while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			switch (c) {
			case 'r':
				json_object_object_add(args, "bytes_per_sec",
						       json_object_new_int64(parse_num(optarg, "--rate", 0) / 8));
				break;
			case 'p':
				json_object_object_add(args, "packets_per_sec",
						       json_object_new_int64(parse_num(optarg, "--pps", 0)));
				break;
			case 'b':
				json_object_object_add(args, "burst_bytes",
						       json_object_new_int64(parse_num(optarg, "--burst", 1)));
				break;
			case 'B':
				json_object_object_add(args, "burst_packets",
						       json_object_new_int64(parse_num(optarg, "--burst-packets", 0)));
				break;
			default: usage_exit(NULL);
			}
		}
		if (optind != argc)
			usage_exit("rate set: unexpected argument");
		call_ok("rate.set", args, &resp);
	} else {
		if (argc != 3)
			usage_exit("rate clear PORT DIR");
		call_ok("rate.clear", args, &resp);
	}
	json_object_put(resp);
	return 0;
}

static int cmd_segment(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp, *res;
	const char *sub = argc > 0 ? argv[0] : "";

	if (want_help(argc, argv))
		help_exit("usage: xtapctl segment add ID [--uplink IFNAME] [--vlan N] [--flood-host]\n"
			  "       xtapctl segment del ID | xtapctl segment list\n"
			  "A segment is an L2 network: its VMs see each other, no other segment's.\n"
			  "Unknown unicast goes to the uplink (tagged with --vlan) or, without one, to the host.\n"
			  "--flood-host: broadcasts also reach the host stack (host as gateway).\n");
	if (!strcmp(sub, "add")) {
		static const struct option opts[] = {
			{ "uplink", required_argument, NULL, 'u' }, { "vlan", required_argument, NULL, 'v' },
			{ "flood-host", no_argument, NULL, 'f' },   { NULL, 0, NULL, 0 },
		};
		int c;

		if (argc < 2)
			usage_exit("segment add ID");
		json_object_object_add(args, "id", int_arg(argv[1], "segment id"));
		optind = 2;
		while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			switch (c) {
			case 'u': json_object_object_add(args, "uplink", json_object_new_string(optarg)); break;
			case 'v': json_object_object_add(args, "vlan", int_arg(optarg, "--vlan")); break;
			case 'f': json_object_object_add(args, "flood_host", json_object_new_boolean(1)); break;
			default: usage_exit(NULL);
			}
		}
		if (optind != argc)
			usage_exit("segment add: unexpected argument");
		call_ok("segment.add", args, &resp);
		printf("segment %s added\n", argv[1]);
	} else if (!strcmp(sub, "del")) {
		if (argc != 2)
			usage_exit("segment del ID");
		json_object_object_add(args, "id", int_arg(argv[1], "segment id"));
		call_ok("segment.del", args, &resp);
		printf("segment %s deleted\n", argv[1]);
	} else if (!strcmp(sub, "list")) {
		size_t i;

		res = call_ok("segment.list", args, &resp);
		if (json_out) {
			print_json(res);
		} else {
			printf("%-8s %-15s %5s %s\n", "ID", "UPLINK", "VLAN", "FLOOD_HOST");
			for (i = 0; i < json_object_array_length(res); i++) {
				json_object *s = json_object_array_get_idx(res, i);
				const char *up = json_object_get_string(json_object_object_get(s, "uplink"));

				printf("%-8d %-15s %5d %s\n", json_object_get_int(json_object_object_get(s, "id")),
				       *up ? up : "-", json_object_get_int(json_object_object_get(s, "vlan")),
				       json_object_get_boolean(json_object_object_get(s, "flood_host")) ? "yes" : "no");
			}
		}
	} else {
		usage_exit("segment: add, del or list");
	}
	json_object_put(resp);
	return 0;
}

static int64_t counter(json_object *stats, const char *dir, const char *group, const char *name,
		       const char *field)
{
	json_object *d = json_object_object_get(stats, dir);
	json_object *g = json_object_object_get(d, group);
	json_object *c = json_object_object_get(g, name);

	return c ? json_object_get_int64(json_object_object_get(c, field)) : 0;
}

static void print_stats(json_object *res)
{
	static const char *const verdicts[] = { "to_port", "to_uplink", "flood", "to_host", "deliver", "drop" };
	static const char *const dirs[] = { "from-vm", "to-vm" };

	printf("%-15s %-8s", "PORT", "DIR");
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		printf(" %12s", verdicts[i]);
	printf("  DROPS BY REASON\n");
	json_object_object_foreach(res, port, st) {
		for (int d = 0; d < 2; d++) {
			json_object *drops = json_object_object_get(json_object_object_get(st, dirs[d]), "drops");

			printf("%-15s %-8s", port, dirs[d]);
			for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
				printf(" %12" PRId64, counter(st, dirs[d], "verdicts", verdicts[i], "packets"));
			printf(" ");
			json_object_object_foreach(drops, reason, c)
				printf(" %s=%" PRId64, reason,
				       json_object_get_int64(json_object_object_get(c, "packets")));
			putchar('\n');
		}
	}
}

static int cmd_stats(int argc, char **argv)
{
	json_object *args = json_object_new_object(), *resp, *res;

	if (want_help(argc, argv))
		help_exit("usage: xtapctl stats [PORT]\nPackets per verdict and drops per reason, both directions.\n");
	if (argc > 1)
		usage_exit("stats [PORT]");
	if (argc == 1)
		json_object_object_add(args, "port", json_object_new_string(argv[0]));
	stats_port = argc == 1 ? argv[0] : NULL;
	agent_down_fallback = fallback_stats;
	res = call_ok("stats", args, &resp);
	if (json_out)
		print_json(res);
	else
		print_stats(res);
	json_object_put(resp);
	return 0;
}

static volatile sig_atomic_t top_stop;

static void on_sigint(int sig)
{
	(void)sig;
	top_stop = 1;
}

static int64_t dir_total(json_object *st, const char *dir, const char *field, int drops_only)
{
	static const char *const verdicts[] = { "to_port", "to_uplink", "flood", "to_host", "deliver", "drop" };
	int64_t sum = 0;

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (!drops_only || !strcmp(verdicts[i], "drop"))
			sum += counter(st, dir, "verdicts", verdicts[i], field);
	return sum;
}

static int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' }, { "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *prev_resp = NULL, *prev = NULL;
	double interval = 1;
	long count = -1;
	int c, iter;

	if (want_help(argc, argv))
		help_exit("usage: xtapctl top [--interval SECONDS] [--count N]\n"
			  "Live per-port packets and bits per second each way and drops per second, by reason.\n");
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'i')
			interval = atof(optarg);
		else if (c == 'n')
			count = atol(optarg);
		else
			usage_exit(NULL);
	}
	if (interval <= 0)
		usage_exit("top: --interval must be above 0");
	signal(SIGINT, on_sigint);
	for (iter = 0; !top_stop && (count < 0 || iter <= count); iter++) {
		json_object *resp, *res = call_ok("stats", NULL, &resp);
		struct timespec ts = { (time_t)interval, (long)((interval - (time_t)interval) * 1e9) };

		if (prev) {
			if (!json_out)
				printf("\033[H\033[2J");
			printf("%-15s %10s %10s %10s %10s %10s  %s\n", "PORT", "RX_PPS", "RX_BPS", "TX_PPS",
			       "TX_BPS", "DROP/S", "DROPS BY REASON (/s)");
			json_object_object_foreach(res, port, st) {
				json_object *old = json_object_object_get(prev, port);
				double rxp, rxb, txp, txb, drp;

				if (!old)
					continue;
				/* rx = what the VM sent, tx = what it was given */
				rxp = (dir_total(st, "from-vm", "packets", 0) - dir_total(old, "from-vm", "packets", 0)) / interval;
				rxb = (dir_total(st, "from-vm", "bytes", 0) - dir_total(old, "from-vm", "bytes", 0)) * 8 / interval;
				txp = (counter(st, "to-vm", "verdicts", "deliver", "packets") -
				       counter(old, "to-vm", "verdicts", "deliver", "packets")) / interval;
				txb = (counter(st, "to-vm", "verdicts", "deliver", "bytes") -
				       counter(old, "to-vm", "verdicts", "deliver", "bytes")) * 8 / interval;
				drp = (dir_total(st, "from-vm", "packets", 1) + dir_total(st, "to-vm", "packets", 1) -
				       dir_total(old, "from-vm", "packets", 1) - dir_total(old, "to-vm", "packets", 1)) /
				      interval;
				printf("%-15s %10.0f %10.0f %10.0f %10.0f %10.0f ", port, rxp, rxb, txp, txb, drp);
				for (int d = 0; d < 2; d++) {
					const char *dn = d ? "to-vm" : "from-vm";
					json_object *drops = json_object_object_get(json_object_object_get(st, dn), "drops");

					json_object_object_foreach(drops, reason, cnt) {
						int64_t before = counter(old, dn, "drops", reason, "packets");
						int64_t now = json_object_get_int64(json_object_object_get(cnt, "packets"));

						if (now > before)
							printf(" %s:%s=%.0f", dn, reason, (now - before) / interval);
					}
				}
				putchar('\n');
			}
			fflush(stdout);
		}
		json_object_put(prev_resp);
		prev_resp = resp;
		prev = res;
		if (count >= 0 && iter == count)
			break;
		nanosleep(&ts, NULL);
	}
	json_object_put(prev_resp);
	return 0;
}

static int cmd_simple(const char *cmd, int argc, char **argv, const char *help)
{
	json_object *resp, *res;
	size_t i;

	if (want_help(argc, argv))
		help_exit(help);
	if (argc)
		usage_exit("this command takes no arguments");
	if (!strcmp(cmd, "fdb"))
		agent_down_fallback = fallback_fdb;
	res = call_ok(cmd, NULL, &resp);
	if (json_out || strcmp(cmd, "fdb")) {
		if (res)
			print_json(res);
	} else {
		printf("%-8s %-17s %-15s %s\n", "SEGMENT", "MAC", "PORT", "IFINDEX");
		for (i = 0; i < json_object_array_length(res); i++) {
			json_object *e = json_object_array_get_idx(res, i);

			printf("%-8d %-17s %-15s %d\n", json_object_get_int(json_object_object_get(e, "segment")),
			       json_object_get_string(json_object_object_get(e, "mac")),
			       json_object_get_string(json_object_object_get(e, "port")),
			       json_object_get_int(json_object_object_get(e, "ifindex")));
		}
	}
	if (!strcmp(cmd, "teardown"))
		printf("torn down: ports, taps, segments, programs and pinned maps removed; xtapd exited\n");
	json_object_put(resp);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_out = 1;
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc)
			pin_dir = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return fputs(usage_text, stdout), 0;
		else
			usage_exit("unknown option");
	}
	if (i >= argc)
		usage_exit(NULL);
	cmd = argv[i];
	argc -= i + 1;
	argv += i + 1;
	/* getopt_long starts at argv[optind]: hand each command its own argv with the subcommand at 0. */
	if (!strcmp(cmd, "port"))
		return cmd_port(argc, argv);
	if (!strcmp(cmd, "addr"))
		return cmd_addr(argc, argv);
	if (!strcmp(cmd, "acl"))
		return cmd_acl(argc, argv);
	if (!strcmp(cmd, "rate"))
		return cmd_rate(argc, argv);
	if (!strcmp(cmd, "segment"))
		return cmd_segment(argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc, argv);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc + 1, argv - 1);
	if (!strcmp(cmd, "fdb"))
		return cmd_simple("fdb", argc, argv, "usage: xtapctl fdb\nThe MACs each segment knows: ports and host entries.\n");
	if (!strcmp(cmd, "status"))
		return cmd_simple("status", argc, argv, "usage: xtapctl status\nThe agent's pin directory, state file and counts.\n");
	if (!strcmp(cmd, "teardown"))
		return cmd_simple("teardown", argc, argv,
				  "usage: xtapctl teardown\nRemoves every port (and the taps xtap created), segment, attachment and pinned map; xtapd exits.\n");
	usage_exit("unknown command");
	return EXIT_USAGE;
}
