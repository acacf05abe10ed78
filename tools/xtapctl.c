// SPDX-License-Identifier: GPL-2.0
/*
 * xtapctl: the CLI of xtapd. Turns a command line into one JSON request on
 * the control socket (docs/api.md) and prints the answer as a table, or as
 * JSON with -j. Its commands, options, usage and help come from the
 * command table xtapd checks requests against (agent/lib/ctl_commands.c);
 * this file adds only how each result is printed, port exec's hand-off and
 * top. The agent validates everything; xtapctl only parses the syntax.
 *
 * Exit codes (include/xtap_ctl.h): 0 done, 1 the agent refused (the message
 * says why), 2 bad usage, 3 the agent is not reachable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
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

#include "ctl_commands.h"
#include "lock.h"
#include "model.h"
#include "xtap_ctl.h"
#include "xtapctl_etcd.h"
#include "xtapctl_maps.h"
#include "xtapctl_observe.h"
#include "frame_summary.h"

#define EXIT_REFUSED XTAP_EXIT_REFUSED
#define EXIT_USAGE   XTAP_EXIT_USAGE
#define EXIT_NOAGENT XTAP_EXIT_NOAGENT
#define EXIT_DENIED  XTAP_EXIT_DENIED

static const char *socket_path = XTAP_DEFAULT_SOCKET;
static const char *pin_dir = XTAP_DEFAULT_PIN_DIR;
static int json_out;
static const char *etcd_url;    /* --etcd: desired state to etcd instead (xtapctl_etcd.c) */
static const char *etcd_host;   /* --host: where a port runs */
/* Read commands fall back to the pinned maps when the agent is down. */
static json_object *(*agent_down_fallback)(void);

static const char top_synopsis[] = "top [--interval SECONDS] [--count N]";
static const char top_help[] = "live per-port packets and bits per second each way, drops per second";

static int cmd_top(int argc, char **argv);
static int cmd_monitor(int argc, char **argv);
static int cmd_capture(int argc, char **argv);

/* xtapctl's own commands, not the agent's: their usage, completion and dispatch. */
static const struct {
	const char *name;
	const char *synopsis;
	const char *help;
	const char *options;    /* for completion, one per line */
	int (*run)(int argc, char **argv);
} own_cmds[] = {
	{ "top", top_synopsis, top_help, "--interval\n--count\n", cmd_top },
	{ "monitor", xtapctl_monitor_synopsis, xtapctl_monitor_help,
	  "--drops\n--all\n--count\n--rate\n--force\n", cmd_monitor },
	{ "capture", xtapctl_capture_synopsis, xtapctl_capture_help,
	  "--direction\n-w\n--snaplen\n--sample\n--count\n--rate\n--force\n", cmd_capture },
};

/* ---- usage and help, from the command table ---- */

/* "NAME --segment ID --mac MAC [--addr A[/LEN]]... [--mtu N]" */
static void synopsis(const struct xtap_ctl_cmd *c, char *out, size_t len)
{
	const struct xtap_ctl_arg *a;
	size_t n = snprintf(out, len, "%s", c->words);
	int pass;

	/* Positionals first, then required options, then the others. */
	for (pass = 0; pass < 3; pass++)
		for (a = c->args; a->key && n < len; a++) {
			int req = !!(a->flags & XTAP_ARG_F_REQUIRED);

			if (a->flags & XTAP_ARG_F_API_ONLY)
				continue;
			if (pass == 0 && !a->option)
				n += snprintf(out + n, len - n, req ? " %s" : " [%s]", a->metavar);
			else if (a->option && ((pass == 1 && req) || (pass == 2 && !req)))
				n += snprintf(out + n, len - n, "%s%s%s%s%s%s", req ? " " : " [", a->option,
					      a->metavar ? " " : "", a->metavar ? a->metavar : "", req ? "" : "]",
					      a->type == XTAP_ARG_STRINGS ? "..." : "");
		}
	if ((c->flags & XTAP_CMD_F_EXEC) && n < len)
		snprintf(out + n, len - n, " -- COMMAND [ARG]...");
}

static void usage(FILE *f)
{
	const struct xtap_ctl_cmd *c;
	char syn[512];

	fprintf(f, "usage: xtapctl [-s SOCKET] [--pin-dir DIR] [-j] COMMAND ...\n"
		"       xtapctl --etcd URL [--host HOST] segment add|del|list, port add|set|del|list ...\n");
	for (c = xtap_ctl_cmds; c->name; c++) {
		synopsis(c, syn, sizeof(syn));
		if (strlen(syn) < 36)
			fprintf(f, "  %-36s %s\n", syn, c->help);
		else
			fprintf(f, "  %s\n  %-36s %s\n", syn, "", c->help);
	}
	for (size_t i = 0; i < sizeof(own_cmds) / sizeof(own_cmds[0]); i++)
		fprintf(f, "  %s\n  %-36s %s\n", own_cmds[i].synopsis, "", own_cmds[i].help);
	fprintf(f, "Every command takes --help. -j prints JSON. With xtapd down, port list, stats and fdb\n"
		"read the maps pinned in --pin-dir (default " XTAP_DEFAULT_PIN_DIR ").\n"
		"--etcd writes a fleet's desired state to etcd, checked as xtapd checks it; --host names the\n"
		"host a port runs on (port set --host OTHER moves it). docs/fleet.md.\n");
}

static void usage_exit(const char *msg)
{
	if (msg)
		fprintf(stderr, "xtapctl: %s\n", msg);
	usage(stderr);
	exit(EXIT_USAGE);
}

static void cmd_help_exit(const struct xtap_ctl_cmd *c)
{
	const struct xtap_ctl_arg *a;
	char syn[512], left[64];

	synopsis(c, syn, sizeof(syn));
	printf("usage: xtapctl %s\n%c%s.\n", syn, c->help[0] - 'a' + 'A', c->help + 1);
	if (c->details)
		fputs(c->details, stdout);
	for (a = c->args; a->key; a++) {
		if (a->flags & XTAP_ARG_F_API_ONLY)
			continue;
		snprintf(left, sizeof(left), "%s%s%s", a->option ? a->option : a->metavar,
			 a->option && a->metavar ? " " : "", a->option && a->metavar ? a->metavar : "");
		printf("  %-22s %s\n", left, a->help);
	}
	exit(0);
}

/* How many words of argv (after the group) spell rest ("add", "vtep add"); 0: they do not. */
static int words_match(const char *rest, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		size_t len = strcspn(rest, " ");

		if (strlen(argv[i]) != len || strncmp(rest, argv[i], len))
			return 0;
		if (!rest[len])
			return i;
		rest += len + 1;
	}
	return 0;
}

/* The command a command line names ("port add ...", "overlay vtep add ..."); *nwords: how many words it took. */
static const struct xtap_ctl_cmd *find_cmd(int argc, char **argv, int *nwords)
{
	const struct xtap_ctl_cmd *c;
	char group[320], subs[256] = "";
	size_t glen = strlen(argv[0]);
	int known = 0;

	for (c = xtap_ctl_cmds; c->name; c++) {
		const char *sp = strchr(c->words, ' ');

		if (!sp && !strcmp(c->words, argv[0])) {
			*nwords = 1;
			return c;
		}
		if (!sp || (size_t)(sp - c->words) != glen || strncmp(c->words, argv[0], glen))
			continue;
		known = 1;
		if (words_match(sp + 1, argc, argv)) {
			*nwords = 1 + words_match(sp + 1, argc, argv);
			return c;
		}
		snprintf(subs + strlen(subs), sizeof(subs) - strlen(subs), "%s%s", subs[0] ? ", " : "", sp + 1);
	}
	if (!known)
		usage_exit("unknown command");
	snprintf(group, sizeof(group), "%s: %s", argv[0], subs);
	usage_exit(group);
	return NULL;
}

/* ---- talking to the agent ---- */

/* No agent on the socket, yet one may hold the pin directory behind another socket: only it may tear it down. */
static json_object *teardown_agent_down(void)
{
	struct xtap_err err = {};
	pid_t holder;

	if (xtap_lock_holder(pin_dir, XTAP_LOCK_DIR, &holder) == 1) {
		xtap_lock_busy(&err, pin_dir, holder, "it does not serve this socket: run xtapctl -s ITS_SOCKET teardown");
		fprintf(stderr, "xtapctl: teardown refused: %s; nothing changed\n", err.msg);
		exit(EXIT_REFUSED);
	}
	return NULL;
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

	json_object_object_add(req, XTAP_REQ_CMD, json_object_new_string(cmd));
	json_object_object_add(req, XTAP_REQ_ARGS, args ? args : json_object_new_object());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd < 0 && errno == EACCES) {
		/* xtapd may well be running: its socket is root's (mode 0600). */
		fprintf(stderr, "xtapctl: permission denied on %s (run as root, or with sudo)\n", socket_path);
		exit(EXIT_DENIED);
	}
	if (fd < 0) {
		int e = errno;
		json_object *res = agent_down_fallback ? agent_down_fallback() : NULL;

		if (res) {
			fprintf(stderr, "xtapctl: xtapd is not running: read from the maps pinned in %s\n",
				pin_dir);
			resp = json_object_new_object();
			json_object_object_add(resp, XTAP_REPLY_OK, json_object_new_boolean(1));
			json_object_object_add(resp, XTAP_REPLY_RESULT, res);
			json_object_put(req);
			return resp;
		}
		fprintf(stderr, "xtapctl: xtapd is not running (no answer on %s: %s); start it with: xtapd\n",
			socket_path, strerror(e));
		exit(EXIT_NOAGENT);
	}
	out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	/* EPIPE: xtapd answered before reading (too many connections): its line is still there to read. */
	if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0 && errno != EPIPE) {
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

	if (!json_object_object_get_ex(resp, XTAP_REPLY_OK, &ok) || !json_object_get_boolean(ok)) {
		fprintf(stderr, "xtapctl: %s\n",
			json_object_object_get_ex(resp, XTAP_REPLY_ERROR, &v) ? json_object_get_string(v) :
								       "the agent refused");
		exit(EXIT_REFUSED);
	}
	return json_object_object_get_ex(resp, XTAP_REPLY_RESULT, &v) ? v : NULL;
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

/* ---- arguments, by the command table ---- */

static json_object *uint_json(uint64_t v)
{
	return v > INT64_MAX ? json_object_new_uint64(v) : json_object_new_int64(v);
}

/*
 * An integer, or for numbers with a unit a decimal with k/m/g (and bits
 * sent as bytes). What no uint64 holds (1e30, inf, nan, -1) is refused
 * here; the agent checks the range of what it gets.
 */
static json_object *parse_uint(const char *s, const struct xtap_ctl_arg *a)
{
	const char *what = a->option ? a->option : a->metavar;
	double v, mult = 1, k = a->unit == XTAP_UNIT_BINARY ? 1024 : 1000;
	char *end;

	if (a->unit == XTAP_UNIT_NONE) {
		unsigned long long u;

		errno = 0;
		u = strtoull(s, &end, 10);
		if (errno || *end || end == s || s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			fprintf(stderr, "xtapctl: %s \"%s\": %s; nothing changed\n", what, s,
				errno == ERANGE ? "above 2^64-1" : "not an integer of 0 or more");
			exit(EXIT_USAGE);
		}
		return uint_json(u);
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || end == s || !isfinite(v) || v < 0 || s[0] == '-') {
		fprintf(stderr, "xtapctl: %s \"%s\": not a number of 0 or more; nothing changed\n", what, s);
		exit(EXIT_USAGE);
	}
	if (*end == 'k' || *end == 'K')
		mult = k, end++;
	else if (*end == 'm' || *end == 'M')
		mult = k * k, end++;
	else if (*end == 'g' || *end == 'G')
		mult = k * k * k, end++;
	if (strcasecmp(end, "bit") && strcasecmp(end, "b") && *end) {
		fprintf(stderr, "xtapctl: %s \"%s\": unknown unit \"%s\"; nothing changed\n", what, s, end);
		exit(EXIT_USAGE);
	}
	v *= mult;
	if (a->unit == XTAP_UNIT_BITS)
		v /= 8;
	/* 2^64 is exact in a double: anything below it converts. */
	if (v >= 18446744073709551616.0) {
		fprintf(stderr, "xtapctl: %s \"%s\": above 2^64-1%s; nothing changed\n", what, s,
			a->unit == XTAP_UNIT_BITS ? " bytes/s" : "");
		exit(EXIT_USAGE);
	}
	return uint_json((uint64_t)v);
}

static void add_value(json_object *args, const struct xtap_ctl_arg *a, const char *s)
{
	json_object *arr;

	switch (a->type) {
	case XTAP_ARG_STRING:
		json_object_object_add(args, a->key, json_object_new_string(s));
		break;
	case XTAP_ARG_UINT:
		json_object_object_add(args, a->key, parse_uint(s, a));
		break;
	case XTAP_ARG_BOOL:
		json_object_object_add(args, a->key, json_object_new_boolean(1));
		break;
	case XTAP_ARG_STRINGS:
		if (!json_object_object_get_ex(args, a->key, &arr)) {
			arr = json_object_new_array();
			json_object_object_add(args, a->key, arr);
		}
		json_object_array_add(arr, json_object_new_string(s));
		break;
	case XTAP_ARG_OBJECT:
		break;
	}
}

/* The words as one string, spaces between (a FRAME of trace); never freed: xtapctl runs one command. */
static char *join_words(int n, char **w)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(w[i]) + 1;
	s = calloc(1, len);
	if (!s)
		exit(1);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, w[i]);
	}
	return s;
}

/*
 * The request's args from argv (argv[0] is the command's words): options
 * by getopt_long from the table, the rest in the order of the table's
 * positional arguments.
 */
static json_object *parse_args(const struct xtap_ctl_cmd *c, int argc, char **argv)
{
	struct option opts[32];
	const struct xtap_ctl_arg *a, *by_val[32];
	json_object *args = json_object_new_object();
	char msg[160];
	int n = 0, ch;

	for (a = c->args; a->key; a++)
		if (a->option && !(a->flags & XTAP_ARG_F_API_ONLY) && n < 31) {
			opts[n] = (struct option){ a->option + 2,
						   a->type == XTAP_ARG_BOOL ? no_argument : required_argument,
						   NULL, n };
			by_val[n++] = a;
		}
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch < 0 || ch >= n)
			usage_exit(NULL);
		add_value(args, by_val[ch], optarg);
	}
	for (a = c->args; a->key; a++) {
		if (a->option || (a->flags & XTAP_ARG_F_API_ONLY))
			continue;
		if (optind >= argc) {
			if (!(a->flags & XTAP_ARG_F_REQUIRED))
				break;
			snprintf(msg, sizeof(msg), "%s: give %s", c->words, a->metavar);
			usage_exit(msg);
		}
		if (a->flags & XTAP_ARG_F_REST) {
			add_value(args, a, join_words(argc - optind, argv + optind));
			optind = argc;
			break;
		}
		add_value(args, a, argv[optind++]);
	}
	for (a = c->args; a->key; a++)
		if (a->option && (a->flags & XTAP_ARG_F_REQUIRED) && !json_object_object_get_ex(args, a->key, NULL)) {
			snprintf(msg, sizeof(msg), "%s: give %s %s", c->words, a->option, a->metavar);
			usage_exit(msg);
		}
	if (optind != argc) {
		snprintf(msg, sizeof(msg), "%s: unexpected argument \"%s\"", c->words, argv[optind]);
		usage_exit(msg);
	}
	return args;
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

/* ---- printing results ---- */

static const char *arg_of(json_object *args, const char *key)
{
	return json_object_get_string(json_object_object_get(args, key));
}

static void print_port_added(json_object *res, json_object *args)
{
	(void)res;
	printf("port %s added\n", arg_of(args, "name"));
}

static void print_port_deleted(json_object *res, json_object *args)
{
	(void)res;
	printf("port %s deleted\n", arg_of(args, "name"));
}

static void print_port_list(json_object *res, json_object *args)
{
	size_t i, n = json_object_array_length(res);

	(void)args;
	printf("%-15s %5s %8s %-17s %7s %-13s %s\n", "NAME", "ID", "SEGMENT", "MAC", "IFINDEX", "STATE",
	       "ADDRESSES");
	for (i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(res, i), *st, *v, *addrs;
		size_t j;

		json_object_object_get_ex(p, "status", &st);
		printf("%-15s %5d", json_object_get_string(json_object_object_get(p, "name")),
		       json_object_get_int(json_object_object_get(p, "port_id")));
		printf(" %8d %-17s", json_object_get_int(json_object_object_get(p, "segment")),
		       json_object_get_string(json_object_object_get(p, "mac")));
		json_object_object_get_ex(st, "ifindex", &v);
		printf(" %7d %-13s", json_object_get_int(v), json_object_get_string(json_object_object_get(st, "state")));
		json_object_object_get_ex(p, "addrs", &addrs);
		for (j = 0; j < json_object_array_length(addrs); j++)
			printf("%s%s", j ? "," : "", json_object_get_string(json_object_array_get_idx(addrs, j)));
		putchar('\n');
	}
}

static void print_rule_added(json_object *res, json_object *args)
{
	(void)args;
	printf("rule %" PRId64 " added\n", json_object_get_int64(json_object_object_get(res, "id")));
}

/* A rule's or default's action as listed: "allow,stateful" for a stateful allow. */
static const char *action_text(json_object *o)
{
	json_object *st;
	int stateful = json_object_object_get_ex(o, "stateful", &st) && json_object_get_boolean(st);
	const char *a = json_object_get_string(json_object_object_get(o, json_object_object_get(o, "action") ?
									    "action" : "default"));

	return stateful ? "allow,stateful" : a;
}

static void print_acl_list(json_object *res, json_object *args)
{
	static const char *const dirs[] = { "from-vm", "to-vm" };
	int d;

	(void)args;
	printf("%-8s %5s %8s %-14s %-24s %-7s %-11s %12s %14s\n", "DIR", "ID", "PRIORITY", "ACTION", "CIDR",
	       "PROTO", "PORTS", "HIT_PACKETS", "HIT_BYTES");
	for (d = 0; d < 2; d++) {
		json_object *dir = json_object_object_get(res, dirs[d]);
		json_object *rules = json_object_object_get(dir, "rules");
		size_t i;

		for (i = 0; i < json_object_array_length(rules); i++) {
			json_object *r = json_object_array_get_idx(rules, i);
			json_object *h = json_object_object_get(r, "hits");

			printf("%-8s %5" PRId64 " %8d %-14s %-24s %-7s %-11s %12" PRId64 " %14" PRId64 "\n",
			       dirs[d], json_object_get_int64(json_object_object_get(r, "id")),
			       json_object_get_int(json_object_object_get(r, "priority")),
			       action_text(r),
			       json_object_get_string(json_object_object_get(r, "cidr")),
			       json_object_get_string(json_object_object_get(r, "proto")),
			       json_object_get_string(json_object_object_get(r, "ports")),
			       json_object_get_int64(json_object_object_get(h, "packets")),
			       json_object_get_int64(json_object_object_get(h, "bytes")));
		}
		printf("%-8s %5s %8s %-14s (default)\n", dirs[d], "-", "-", action_text(dir));
	}
}

static void print_segment_added(json_object *res, json_object *args)
{
	(void)res;
	printf("segment %s added\n", arg_of(args, "id"));
}

static void print_segment_deleted(json_object *res, json_object *args)
{
	(void)res;
	printf("segment %s deleted\n", arg_of(args, "id"));
}

static void print_segment_list(json_object *res, json_object *args)
{
	size_t i;

	(void)args;
	printf("%-8s %-15s %5s %s\n", "ID", "UPLINK", "VLAN", "FLOOD_HOST");
	for (i = 0; i < json_object_array_length(res); i++) {
		json_object *s = json_object_array_get_idx(res, i);
		const char *up = json_object_get_string(json_object_object_get(s, "uplink"));

		printf("%-8" PRId64 " %-15s %5d %s\n", json_object_get_int64(json_object_object_get(s, "id")),
		       *up ? up : "-", json_object_get_int(json_object_object_get(s, "vlan")),
		       json_object_get_boolean(json_object_object_get(s, "flood_host")) ? "yes" : "no");
	}
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
	printf(" %8s  DROPS BY REASON\n", "FLOWS");
	json_object_object_foreach(res, port, st) {
		for (int d = 0; d < 2; d++) {
			json_object *drops = json_object_object_get(json_object_object_get(st, dirs[d]), "drops");

			printf("%-15s %-8s", port, dirs[d]);
			for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
				printf(" %12" PRId64, counter(st, dirs[d], "verdicts", verdicts[i], "packets"));
			/* Tracked flows belong to the port, not a direction: on its first row. */
			if (d == 0)
				printf(" %8" PRId64, json_object_get_int64(json_object_object_get(st, "tracked_flows")));
			else
				printf(" %8s", "");
			printf(" ");
			json_object_object_foreach(drops, reason, c)
				printf(" %s=%" PRId64, reason,
				       json_object_get_int64(json_object_object_get(c, "packets")));
			putchar('\n');
		}
	}
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

	for (iter = 1; iter < argc; iter++)
		if (!strcmp(argv[iter], "--help") || !strcmp(argv[iter], "-h")) {
			printf("usage: xtapctl %s\n%c%s, by reason.\n", top_synopsis, top_help[0] - 'a' + 'A', top_help + 1);
			return 0;
		}
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
		json_object *resp, *res = call_ok(XTAP_CMD_STATS, NULL, &resp);
		struct timespec ts = { (time_t)interval, (long)((interval - (time_t)interval) * 1e9) };

		if (prev) {
			if (!json_out)
				printf("\033[H\033[2J");
			printf("%-15s %10s %10s %10s %10s %10s %8s  %s\n", "PORT", "RX_PPS", "RX_BPS", "TX_PPS",
			       "TX_BPS", "DROP/S", "FLOWS", "DROPS BY REASON (/s)");
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
				printf("%-15s %10.0f %10.0f %10.0f %10.0f %10.0f %8" PRId64 " ", port, rxp, rxb, txp, txb,
				       drp, json_object_get_int64(json_object_object_get(st, "tracked_flows")));
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

static void print_conntrack_list(json_object *res, json_object *args)
{
	size_t i;

	(void)args;
	printf("%-15s %-6s %-28s %-28s %-11s %-7s %9s %11s\n", "PORT", "PROTO", "VM", "REMOTE", "STATE",
	       "OPENED", "IDLE_S", "EXPIRES_S");
	for (i = 0; i < json_object_array_length(res); i++) {
		json_object *f = json_object_array_get_idx(res, i), *vp;
		char vm[64], remote[64];

		if (json_object_object_get_ex(f, "vm_port", &vp)) {
			snprintf(vm, sizeof(vm), "%s:%d", json_object_get_string(json_object_object_get(f, "vm_addr")),
				 json_object_get_int(vp));
			snprintf(remote, sizeof(remote), "%s:%d",
				 json_object_get_string(json_object_object_get(f, "remote_addr")),
				 json_object_get_int(json_object_object_get(f, "remote_port")));
		} else {
			snprintf(vm, sizeof(vm), "%s id %d", json_object_get_string(json_object_object_get(f, "vm_addr")),
				 json_object_get_int(json_object_object_get(f, "echo_id")));
			snprintf(remote, sizeof(remote), "%s",
				 json_object_get_string(json_object_object_get(f, "remote_addr")));
		}
		printf("%-15s %-6s %-28s %-28s %-11s %-7s %9.1f %11.1f\n",
		       json_object_get_string(json_object_object_get(f, "port")),
		       json_object_get_string(json_object_object_get(f, "proto")), vm, remote,
		       json_object_get_string(json_object_object_get(f, "state")),
		       json_object_get_string(json_object_object_get(f, "opened")),
		       json_object_get_int64(json_object_object_get(f, "idle_ms")) / 1000.0,
		       json_object_get_int64(json_object_object_get(f, "expires_in_ms")) / 1000.0);
	}
}

static void print_conntrack_flushed(json_object *res, json_object *args)
{
	(void)args;
	printf("%" PRId64 " flows flushed\n", json_object_get_int64(json_object_object_get(res, "flushed")));
}

/* monitor and capture read the datapath's events from the pinned maps (xtapctl_observe.c). */
static int cmd_monitor(int argc, char **argv)
{
	return xtapctl_monitor(pin_dir, json_out, argc, argv);
}

static int cmd_capture(int argc, char **argv)
{
	return xtapctl_capture(pin_dir, argc, argv);
}

static void print_stats_table(json_object *res, json_object *args)
{
	(void)args;
	print_stats(res);
}

static void print_fdb(json_object *res, json_object *args)
{
	size_t i;

	(void)args;
	printf("%-8s %-17s %-15s %s\n", "SEGMENT", "MAC", "PORT", "IFINDEX");
	for (i = 0; i < json_object_array_length(res); i++) {
		json_object *e = json_object_array_get_idx(res, i);

		printf("%-8d %-17s %-15s %d\n", json_object_get_int(json_object_object_get(e, "segment")),
		       json_object_get_string(json_object_object_get(e, "mac")),
		       json_object_get_string(json_object_object_get(e, "port")),
		       json_object_get_int(json_object_object_get(e, "ifindex")));
	}
}

/* overlay show: the underlay, each overlay segment's VTEPs, the remote MACs, the counters. */
static void print_overlay(json_object *res, json_object *args)
{
	json_object *u = json_object_object_get(res, "underlay");
	json_object *segs = json_object_object_get(res, "segments");
	json_object *macs = json_object_object_get(res, "macs");
	json_object *cnt = json_object_object_get(res, "counters");
	size_t i, j;

	(void)args;
	if (u)
		printf("underlay %s vtep %s mtu %d\n", json_object_get_string(json_object_object_get(u, "ifname")),
		       json_object_get_string(json_object_object_get(u, "vtep")),
		       json_object_get_int(json_object_object_get(u, "mtu")));
	else
		printf("underlay: none (xtapctl overlay underlay set IFNAME VTEP_IP)\n");
	printf("%-8s %-9s %s\n", "SEGMENT", "VNI", "VTEPS");
	for (i = 0; i < json_object_array_length(segs); i++) {
		json_object *s = json_object_array_get_idx(segs, i), *v = json_object_object_get(s, "vteps");

		printf("%-8d %-9d", json_object_get_int(json_object_object_get(s, "segment")),
		       json_object_get_int(json_object_object_get(s, "vni")));
		for (j = 0; j < json_object_array_length(v); j++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(v, j)));
		printf("\n");
	}
	printf("%-8s %-17s %s\n", "SEGMENT", "MAC", "VTEP");
	for (i = 0; i < json_object_array_length(macs); i++) {
		json_object *m = json_object_array_get_idx(macs, i);

		printf("%-8d %-17s %s\n", json_object_get_int(json_object_object_get(m, "segment")),
		       json_object_get_string(json_object_object_get(m, "mac")),
		       json_object_get_string(json_object_object_get(m, "vtep")));
	}
	json_object_object_foreach(cnt, name, c)
		printf("%-16s %llu packets %llu bytes\n", name,
		       (unsigned long long)json_object_get_uint64(json_object_object_get(c, "packets")),
		       (unsigned long long)json_object_get_uint64(json_object_object_get(c, "bytes")));
}

/* trace: the frame in one line, then each stage's decision, then the verdict. */
static void print_trace(json_object *res, json_object *args)
{
	const char *hex = arg_of(res, "frame");
	json_object *stages = json_object_object_get(res, "stages");
	uint8_t frame[2048];
	char sum[256];
	size_t n, i;

	(void)args;
	for (n = 0; hex && hex[2 * n] && hex[2 * n + 1] && n < sizeof(frame); n++)
		sscanf(hex + 2 * n, "%2hhx", &frame[n]);
	frame_summary(frame, n, sum, sizeof(sum));
	printf("trace %s %s: %s (%zu bytes)\n", arg_of(res, "port"), arg_of(res, "direction"), sum, n);
	for (i = 0; i < json_object_array_length(stages); i++) {
		json_object *s = json_object_array_get_idx(stages, i), *v;

		printf("  %-11s %s", arg_of(s, "stage"), arg_of(s, "result"));
		if (json_object_object_get_ex(s, "reason", &v))
			printf(" %s", json_object_get_string(v));
		if (json_object_object_get_ex(s, "rule", &v))
			printf(json_object_is_type(v, json_type_int) ? " rule %s" : " (%s action)",
			       json_object_get_string(v));
		if (json_object_object_get_ex(s, "verdict", &v))
			printf(" %s", json_object_get_string(v));
		if (json_object_object_get_ex(s, "target", &v))
			printf(" %s", json_object_get_string(v));
		putchar('\n');
	}
	printf("  => %s%s%s (%s)%s\n", arg_of(res, "verdict"), arg_of(res, "reason") ? " " : "",
	       arg_of(res, "reason") ? arg_of(res, "reason") : "", arg_of(res, "action"),
	       json_object_get_boolean(json_object_object_get(res, "counted_here")) ? "" :
	       ", carried out and counted by tc ingress");
}

static void print_result(json_object *res, json_object *args)
{
	(void)args;
	if (res)
		print_json(res);
}

static void print_torn_down(json_object *res, json_object *args)
{
	(void)res;
	(void)args;
	printf("torn down: ports, taps, segments, programs and pinned maps removed; xtapd exited\n");
}

/* ---- agent down: the pinned maps ---- */

static json_object *fallback_args;

static json_object *fallback_port_list(void)
{
	return xtapctl_maps_port_list(pin_dir);
}

static json_object *fallback_stats(void)
{
	return xtapctl_maps_stats(pin_dir, arg_of(fallback_args, "port"));
}

static json_object *fallback_fdb(void)
{
	return xtapctl_maps_fdb(pin_dir);
}

/*
 * How xtapctl shows each command's result (without -j; with -j the result
 * as JSON, or this when there is none), and what it reads when xtapd is down.
 */
static const struct {
	const char *name;
	void (*print)(json_object *res, json_object *args);
	json_object *(*fallback)(void);
} outputs[] = {
	{ XTAP_CMD_PORT_ADD, print_port_added, NULL },
	{ XTAP_CMD_PORT_DEL, print_port_deleted, NULL },
	{ XTAP_CMD_PORT_LIST, print_port_list, fallback_port_list },
	{ XTAP_CMD_PORT_SHOW, print_result, NULL },   /* a port is a nested record: JSON is its clearest table */
	{ XTAP_CMD_ACL_ADD, print_rule_added, NULL },
	{ XTAP_CMD_ACL_LIST, print_acl_list, NULL },
	{ XTAP_CMD_SEGMENT_ADD, print_segment_added, NULL },
	{ XTAP_CMD_SEGMENT_DEL, print_segment_deleted, NULL },
	{ XTAP_CMD_SEGMENT_LIST, print_segment_list, NULL },
	{ XTAP_CMD_STATS, print_stats_table, fallback_stats },
	{ XTAP_CMD_FDB, print_fdb, fallback_fdb },
	{ XTAP_CMD_OVERLAY_SHOW, print_overlay, NULL },
	{ XTAP_CMD_STATUS, print_result, NULL },
	{ XTAP_CMD_TEARDOWN, print_torn_down, teardown_agent_down },
	{ XTAP_CMD_CONNTRACK_LIST, print_conntrack_list, NULL },
	{ XTAP_CMD_CONNTRACK_FLUSH, print_conntrack_flushed, NULL },
	{ XTAP_CMD_TRACE, print_trace, NULL },
};

/* port exec: port.open's fds, then COMMAND with them inherited. */
static int run_port_exec(json_object *args, char **cmdv, int cmdc)
{
	int fds[2 * XTAP_HANDOFF_MAX_QUEUES], nfds, ntap, nvhost, i;
	json_object *resp, *res;
	char **cmd;

	resp = call_fds(XTAP_CMD_PORT_OPEN, args, fds, &nfds);
	res = result_or_exit(resp);
	ntap = json_object_get_int(json_object_object_get(res, "tap_fds"));
	nvhost = json_object_get_int(json_object_object_get(res, "vhost_fds"));
	if (ntap + nvhost != nfds) {
		fprintf(stderr, "xtapctl: expected %d fds from xtapd, got %d\n", ntap + nvhost, nfds);
		return EXIT_REFUSED;
	}
	/* The fds arrived close-on-exec: the command is what inherits them. */
	for (i = 0; i < nfds; i++)
		fcntl(fds[i], F_SETFD, 0);
	cmd = calloc(cmdc + 1, sizeof(*cmd));
	if (!cmd)
		return 1;
	for (i = 0; i < cmdc; i++)
		cmd[i] = substitute_fds(cmdv[i], fds, ntap, fds + ntap, nvhost);
	json_object_put(resp);
	execvp(cmd[0], cmd);
	fprintf(stderr, "xtapctl: running %s: %s\n", cmd[0], strerror(errno));
	return 127;
}

static int run(const struct xtap_ctl_cmd *c, int argc, char **argv)
{
	json_object *args, *resp, *res;
	char **sub = calloc(argc + 1, sizeof(*sub));
	int nsub = 0, i, end = argc;
	size_t k;

	if (!sub)
		return 1;
	/* port exec: what follows "--" is the VMM's command line, not ours. */
	if (c->flags & XTAP_CMD_F_EXEC)
		for (end = 0; end < argc && strcmp(argv[end], "--"); end++)
			;
	for (i = 0; i < end; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			cmd_help_exit(c);
	sub[nsub++] = "xtapctl";
	for (i = 0; i < end; i++) {
		/* -j after the command too ("xtapctl overlay show -j") */
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			json_out = 1;
			continue;
		}
		sub[nsub++] = argv[i];
	}
	args = parse_args(c, nsub, sub);
	free(sub);
	if (etcd_url) {
		i = xtapctl_etcd_run(etcd_url, etcd_host, c, args);
		json_object_put(args);
		return i;
	}
	if (c->flags & XTAP_CMD_F_EXEC) {
		if (end + 1 >= argc)
			usage_exit("port exec: give the command after --");
		return run_port_exec(args, argv + end + 1, argc - end - 1);
	}
	for (k = 0; k < sizeof(outputs) / sizeof(outputs[0]) && strcmp(outputs[k].name, c->name); k++)
		;
	if (k < sizeof(outputs) / sizeof(outputs[0])) {
		fallback_args = args;
		agent_down_fallback = outputs[k].fallback;
	}
	json_object_get(args);   /* the printers read it after the call */
	resp = call_fds(c->name, args, NULL, NULL);
	res = result_or_exit(resp);
	if (json_out && res)
		print_json(res);
	else if (k < sizeof(outputs) / sizeof(outputs[0]))
		outputs[k].print(res, args);
	json_object_put(args);
	json_object_put(resp);
	return 0;
}

/*
 * Bash completion's words, from the command table (tools/xtapctl.bash-completion):
 * no word: the commands' first words; a group: its second words; a command: its options.
 */
static int complete(int argc, char **argv)
{
	const struct xtap_ctl_cmd *c;
	const struct xtap_ctl_arg *a;
	size_t glen = argc > 0 ? strlen(argv[0]) : 0;

	for (c = xtap_ctl_cmds; c->name; c++) {
		const char *sp = strchr(c->words, ' ');
		size_t first = strcspn(c->words, " ");
		int is_cmd;

		if (argc == 0) {
			/* each first word once: the table lists a group's commands together */
			if (c == xtap_ctl_cmds || strcspn(c[-1].words, " ") != first ||
			    strncmp(c[-1].words, c->words, first))
				printf("%.*s\n", (int)first, c->words);
			continue;
		}
		if (first != glen || strncmp(c->words, argv[0], glen))
			continue;
		/* The next word of a command named so far ("overlay" -> "vtep", "overlay vtep" -> "add"), once each. */
		if (sp && !words_match(sp + 1, argc, argv)) {
			const char *rest = sp + 1;
			size_t upto;
			int i;

			for (i = 1; i < argc && rest; i++) {
				size_t len = strcspn(rest, " ");

				if (strlen(argv[i]) != len || strncmp(rest, argv[i], len))
					break;
				rest = rest[len] ? rest + len + 1 : NULL;
			}
			if (i < argc || !rest)
				continue;
			/* The table lists a group's commands together: print a word the one before did not. */
			upto = rest - c->words + strcspn(rest, " ");
			if (c == xtap_ctl_cmds || strncmp(c[-1].words, c->words, upto) ||
			    (c[-1].words[upto] != ' ' && c[-1].words[upto]))
				printf("%.*s\n", (int)strcspn(rest, " "), rest);
			continue;
		}
		is_cmd = !sp || words_match(sp + 1, argc, argv);
		for (a = c->args; is_cmd && a->key; a++)
			if (a->option && !(a->flags & XTAP_ARG_F_API_ONLY))
				printf("%s\n", a->option);
		if (is_cmd)
			printf("--help\n");
	}
	for (size_t i = 0; i < sizeof(own_cmds) / sizeof(own_cmds[0]); i++) {
		if (argc == 0)
			printf("%s\n", own_cmds[i].name);
		if (argc == 1 && !strcmp(argv[0], own_cmds[i].name))
			printf("%s--help\n", own_cmds[i].options);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct xtap_ctl_cmd *c;
	int i = 1, nwords;

	if (argc > 1 && !strcmp(argv[1], "--complete"))
		return complete(argc - 2, argv + 2);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_out = 1;
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc)
			pin_dir = argv[++i];
		else if (!strcmp(argv[i], "--etcd") && i + 1 < argc)
			etcd_url = argv[++i];
		else if (!strcmp(argv[i], "--host") && i + 1 < argc)
			etcd_host = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout), 0;
		else
			usage_exit("unknown option");
	}
	if (i >= argc)
		usage_exit(NULL);
	if (etcd_host && !etcd_url)
		usage_exit("--host names a host in etcd: give --etcd URL too");
	for (size_t k = 0; k < sizeof(own_cmds) / sizeof(own_cmds[0]); k++)
		if (!strcmp(argv[i], own_cmds[k].name))
			return own_cmds[k].run(argc - i, argv + i);
	c = find_cmd(argc - i, argv + i, &nwords);
	return run(c, argc - i - nwords, argv + i + nwords);
}
