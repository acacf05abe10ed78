// SPDX-License-Identifier: GPL-2.0
/*
 * xtapctl monitor and capture: the datapath's events (bpf/observe.h) read
 * from the pinned ring buffer, without xtapd. One listener at a time: it
 * writes what it wants into xtap_obs_conf under a lease it renews every
 * second, and turns the events off when it ends. A listener killed with
 * SIGKILL cannot: its lease runs out XTAP_OBS_LEASE_NS later and the
 * programs stop making events by themselves (docs/observability.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "frame_summary.h"
#include "model.h"
#include "pcapng.h"
#include "xtap_ctl.h"
#include "xtapctl_observe.h"

#define MONITOR_SNAPLEN   128    /* enough for the headers a summary shows */
#define DEFAULT_RATE      1000   /* events per second per CPU */
#define MAX_RATE          1000000
#define RENEW_MS          1000
/* The programs do not wake the listener (bpf/observe.h): it reads the ring this often. */
#define READ_MS           20

const char xtapctl_monitor_synopsis[] =
	"monitor [PORT] [--drops|--all] [--count N] [--rate N] [--force]";
const char xtapctl_monitor_help[] = "each drop (--all: each frame) as it happens, with port, direction, reason, headers";
const char xtapctl_capture_synopsis[] =
	"capture PORT [--direction from-vm|to-vm|both] [-w FILE|-] [--snaplen N] [--sample N] [--count N] [--rate N] [--force]";
const char xtapctl_capture_help[] = "a port's frames as sent and as delivered, to pcapng, with verdicts";

static const char *const hook_names[XTAP_OBS_HOOKS] = {
	[XTAP_OBS_HOOK_FROM_VM_XDP] = "xdp",
	[XTAP_OBS_HOOK_FROM_VM_TC] = "tc-ingress",
	[XTAP_OBS_HOOK_TO_VM_DEVMAP] = "devmap",
	[XTAP_OBS_HOOK_TO_VM_TC] = "tc-egress",
};

static volatile sig_atomic_t obs_stop;

static void on_stop(int sig)
{
	(void)sig;
	obs_stop = 1;
}

/* One listener's session: the maps, its conf, what it had seen lost before it started. */
struct obs {
	const char *cmd;         /* "monitor" or "capture", for messages */
	int conf_fd, cpu_fd, ring_fd;
	struct xtap_obs_conf conf;
	struct xtap_obs_cpu lost0;
	long long wall_minus_mono;
	long count, seen;
	int draining;
	int failed;              /* writing the output failed */
	int (*on_event)(struct obs *o, const struct xtap_obs_event *ev);
	void *ctx;
};

static long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_pinned(const char *pin_dir, const char *name, const char *cmd)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "xtapctl: %s: cannot open %s: %s (is the datapath loaded by this build's xtapd? "
			"--pin-dir names another directory)\n", cmd, path, strerror(errno));
	return fd;
}

/* Summed over the CPUs: the limiter's losses and the events sent. */
static int lost_now(struct obs *o, struct xtap_obs_cpu *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct xtap_obs_cpu *v = calloc(ncpu, sizeof(*v));
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (!v || bpf_map_lookup_elem(o->cpu_fd, &zero, v)) {
		free(v);
		return -1;
	}
	for (i = 0; i < ncpu; i++) {
		sum->sent += v[i].sent;
		sum->lost_rate += v[i].lost_rate;
		sum->lost_ring += v[i].lost_ring;
	}
	free(v);
	return 0;
}

/* The port a name means: its tap's entry in xtap_ports. */
static int port_id_of(const char *pin_dir, const char *cmd, const char *name, __u32 *id)
{
	unsigned int ifindex = if_nametoindex(name);
	struct xtap_port p;
	int fd;

	fd = open_pinned(pin_dir, "xtap_ports", cmd);
	if (fd < 0)
		return -1;
	if (!ifindex || bpf_map_lookup_elem(fd, &ifindex, &p)) {
		fprintf(stderr, "xtapctl: %s: no port %s here (xtapctl port list shows the ports)\n", cmd, name);
		close(fd);
		return -1;
	}
	close(fd);
	*id = p.port_id;
	return 0;
}

static int pid_alive(__u32 pid)
{
	return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int on_ring(void *ctx, void *data, size_t size)
{
	struct obs *o = ctx;
	const struct xtap_obs_event *ev = data;

	if (o->draining || size < sizeof(*ev) || (o->count > 0 && o->seen >= o->count))
		return 0;
	/* a reader that went away (| head) ends the listener as Ctrl-C would; another write error fails it */
	if (o->on_event(o, ev)) {
		if (errno != EPIPE) {
			fprintf(stderr, "xtapctl: %s: writing: %s\n", o->cmd, strerror(errno));
			o->failed = 1;
		}
		obs_stop = 1;
		return -EPIPE;
	}
	o->seen++;
	if (o->count > 0 && o->seen >= o->count)
		obs_stop = 1;
	return 0;
}

/*
 * Takes the events: refuses while another live listener holds a lease
 * (unless force), drains what a previous one left in the ring, then writes
 * o->conf. 0, or 1 with the reason printed.
 */
static int obs_claim(struct obs *o, int force)
{
	struct xtap_obs_conf cur;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(o->conf_fd, &zero, &cur)) {
		fprintf(stderr, "xtapctl: %s: reading xtap_obs_conf: %s\n", o->cmd, strerror(errno));
		return 1;
	}
	if (!force && cur.lease_until_ns > (__u64)clock_ns(CLOCK_MONOTONIC) &&
	    cur.owner_pid != (__u32)getpid() && pid_alive(cur.owner_pid)) {
		fprintf(stderr, "xtapctl: %s: xtapctl (pid %u) takes the events already: stop it, or give --force "
			"to take them over\n", o->cmd, cur.owner_pid);
		return 1;
	}
	o->conf.owner_pid = getpid();
	o->conf.lease_until_ns = clock_ns(CLOCK_MONOTONIC) + XTAP_OBS_LEASE_NS;
	if (lost_now(o, &o->lost0) || bpf_map_update_elem(o->conf_fd, &zero, &o->conf, 0)) {
		fprintf(stderr, "xtapctl: %s: writing xtap_obs_conf: %s\n", o->cmd, strerror(errno));
		return 1;
	}
	return 0;
}

/* The lease, renewed; 1 when another listener took the events over (--force). */
static int obs_renew(struct obs *o)
{
	struct xtap_obs_conf cur;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(o->conf_fd, &zero, &cur) && cur.owner_pid != o->conf.owner_pid) {
		fprintf(stderr, "xtapctl: %s: xtapctl (pid %u) took the events over\n", o->cmd, cur.owner_pid);
		return 1;
	}
	o->conf.lease_until_ns = clock_ns(CLOCK_MONOTONIC) + XTAP_OBS_LEASE_NS;
	return bpf_map_update_elem(o->conf_fd, &zero, &o->conf, 0) ? 1 : 0;
}

/* Events off, unless another listener holds them now. */
static void obs_release(struct obs *o)
{
	struct xtap_obs_conf cur, off = { 0 };
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(o->conf_fd, &zero, &cur) && cur.owner_pid == o->conf.owner_pid)
		bpf_map_update_elem(o->conf_fd, &zero, &off, 0);
}

static void obs_close(struct obs *o)
{
	if (o->conf_fd >= 0)
		close(o->conf_fd);
	if (o->cpu_fd >= 0)
		close(o->cpu_fd);
	if (o->ring_fd >= 0)
		close(o->ring_fd);
}

static int obs_open(struct obs *o, const char *pin_dir)
{
	o->conf_fd = open_pinned(pin_dir, "xtap_obs_conf", o->cmd);
	o->cpu_fd = o->conf_fd < 0 ? -1 : open_pinned(pin_dir, "xtap_obs_cpu", o->cmd);
	o->ring_fd = o->cpu_fd < 0 ? -1 : open_pinned(pin_dir, "xtap_obs_events", o->cmd);
	o->wall_minus_mono = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	if (o->ring_fd < 0) {
		obs_close(o);
		return -1;
	}
	return 0;
}

/* Claims the events, hands each to o->on_event until a signal, --count or an error; then lets go. */
static int obs_run(struct obs *o, int force)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct ring_buffer *rb;
	struct xtap_obs_cpu now;
	long long next_renew;
	int err = 0, n;

	rb = ring_buffer__new(o->ring_fd, on_ring, o, NULL);
	if (!rb) {
		fprintf(stderr, "xtapctl: %s: reading the ring buffer: %s\n", o->cmd, strerror(errno));
		return 1;
	}
	/* what a listener before us left unread is not ours */
	o->draining = 1;
	ring_buffer__consume(rb);
	o->draining = 0;
	if (obs_claim(o, force)) {
		ring_buffer__free(rb);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	next_renew = clock_ns(CLOCK_MONOTONIC) + RENEW_MS * 1000000LL;
	while (!obs_stop) {
		usleep(READ_MS * 1000);
		n = ring_buffer__consume(rb);
		if (n < 0 && n != -EINTR) {
			if (n != -EPIPE) {
				fprintf(stderr, "xtapctl: %s: reading the ring buffer: %s\n", o->cmd, strerror(-n));
				err = 1;
			}
			break;
		}
		if (clock_ns(CLOCK_MONOTONIC) >= next_renew) {
			if (obs_renew(o)) {
				err = 1;
				break;
			}
			next_renew += RENEW_MS * 1000000LL;
		}
	}
	obs_release(o);
	/* events off: what is in the ring still counts (up to --count) */
	if (!err && !o->failed)
		ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (!lost_now(o, &now))
		fprintf(stderr, "xtapctl: %s: %ld events; lost: %llu over the rate limit, %llu ring full\n", o->cmd,
			o->seen, (unsigned long long)(now.lost_rate - o->lost0.lost_rate),
			(unsigned long long)(now.lost_ring - o->lost0.lost_ring));
	return err || o->failed;
}

static long num_arg(const char *cmd, const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "xtapctl: %s: %s takes a number from %ld to %ld, not \"%s\"\n", cmd, opt, min, max, s);
		exit(XTAP_EXIT_USAGE);
	}
	return v;
}

static void set_rate(struct xtap_obs_conf *c, long rate)
{
	c->ns_per_event = 1000000000ULL / (unsigned long long)rate;
	c->burst_ns = 1000000000ULL;   /* one second's events at once */
}

static const char *port_name(const struct xtap_obs_event *ev, char *buf)
{
	if (!if_indextoname(ev->ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "port%u", ev->port_id);
	return buf;
}

static const char *hook_name(const struct xtap_obs_event *ev)
{
	return ev->hook < XTAP_OBS_HOOKS ? hook_names[ev->hook] : "?";
}

/* ---- monitor ---- */

struct monitor {
	int json;
};

static int monitor_event(struct obs *o, const struct xtap_obs_event *ev)
{
	struct monitor *m = o->ctx;
	long long wall = (long long)ev->ts_ns + o->wall_minus_mono;
	char name[IF_NAMESIZE], sum[256], tbuf[32];
	time_t secs = wall / 1000000000LL;
	struct tm tm;

	if (m->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "time", json_object_new_double(wall / 1e9));
		json_object_object_add(j, "port", json_object_new_string(port_name(ev, name)));
		json_object_object_add(j, "port_id", json_object_new_int64(ev->port_id));
		json_object_object_add(j, "direction", json_object_new_string(xtap_dir_name(ev->dir)));
		json_object_object_add(j, "verdict", json_object_new_string(xtap_verdict_name(ev->verdict)));
		if (ev->verdict == XTAP_VERDICT_DROP)
			json_object_object_add(j, "reason", json_object_new_string(xtap_drop_reason_name(ev->reason)));
		json_object_object_add(j, "hook", json_object_new_string(hook_name(ev)));
		json_object_object_add(j, "len", json_object_new_int64(ev->len));
		json_object_object_add(j, "cpu", json_object_new_int64(ev->cpu));
		frame_summary_json(ev->data, ev->caplen, j);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
	} else {
		localtime_r(&secs, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		frame_summary(ev->data, ev->caplen, sum, sizeof(sum));
		printf("%s.%06lld %s %s %s%s%s %s len %u\n", tbuf, (wall % 1000000000LL) / 1000, port_name(ev, name),
		       xtap_dir_name(ev->dir), xtap_verdict_name(ev->verdict),
		       ev->verdict == XTAP_VERDICT_DROP ? " " : "",
		       ev->verdict == XTAP_VERDICT_DROP ? xtap_drop_reason_name(ev->reason) : "", sum, ev->len);
	}
	return fflush(stdout) ? -1 : 0;
}

static void help_exit(const char *synopsis, const char *help, const char *details)
{
	printf("usage: xtapctl %s\n%c%s.\n%s", synopsis, help[0] - 'a' + 'A', help + 1, details);
	exit(0);
}

static void bad_usage(const char *cmd, const char *synopsis, const char *msg)
{
	fprintf(stderr, "xtapctl: %s: %s\nusage: xtapctl %s\n", cmd, msg, synopsis);
	exit(XTAP_EXIT_USAGE);
}

int xtapctl_monitor(const char *pin_dir, int json, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "drops", no_argument, NULL, 'd' }, { "all", no_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' }, { "rate", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct monitor m = { .json = json };
	struct obs o = { .cmd = "monitor", .on_event = monitor_event, .ctx = &m };
	long rate = DEFAULT_RATE;
	int c, all = 0, force = 0, err;

	o.conf.port_id = XTAP_OBS_ALL_PORTS;
	o.conf.dirs = (1U << XTAP_DIR_FROM_VM) | (1U << XTAP_DIR_TO_VM);
	o.conf.snaplen = MONITOR_SNAPLEN;
	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': all = 0; break;
		case 'a': all = 1; break;
		case 'n': o.count = num_arg("monitor", "--count", optarg, 1, LONG_MAX); break;
		case 'r': rate = num_arg("monitor", "--rate", optarg, 1, MAX_RATE); break;
		case 'f': force = 1; break;
		case 'j': m.json = 1; break;
		case 'h':
			help_exit(xtapctl_monitor_synopsis, xtapctl_monitor_help,
				  "  PORT        only this port's frames (default: every port)\n"
				  "  --drops     only drops (the default)\n"
				  "  --all       every frame: drops, redirects, deliveries, floods, to the host\n"
				  "  --count N   stop after N events\n"
				  "  --rate N    events per second per CPU at most (default 1000); the rest are counted lost\n"
				  "  --force     take the events from another running monitor or capture\n"
				  "  -j          one JSON object per line\n");
			break;
		default:
			bad_usage("monitor", xtapctl_monitor_synopsis, "unknown option");
		}
	}
	if (optind < argc - 1)
		bad_usage("monitor", xtapctl_monitor_synopsis, "one PORT at most");
	o.conf.flags = all ? 0 : XTAP_OBS_F_DROPS;
	set_rate(&o.conf, rate);
	if (obs_open(&o, pin_dir))
		return XTAP_EXIT_NOAGENT;
	if (optind == argc - 1 && port_id_of(pin_dir, "monitor", argv[optind], &o.conf.port_id)) {
		obs_close(&o);
		return XTAP_EXIT_REFUSED;
	}
	err = obs_run(&o, force);
	obs_close(&o);
	return err ? XTAP_EXIT_REFUSED : 0;
}

/* ---- capture ---- */

struct capture {
	FILE *out;
};

static int capture_event(struct obs *o, const struct xtap_obs_event *ev)
{
	struct capture *cap = o->ctx;
	char comment[96];

	snprintf(comment, sizeof(comment), "verdict=%s%s%s hook=%s cpu=%u", xtap_verdict_name(ev->verdict),
		 ev->verdict == XTAP_VERDICT_DROP ? " reason=" : "",
		 ev->verdict == XTAP_VERDICT_DROP ? xtap_drop_reason_name(ev->reason) : "", hook_name(ev), ev->cpu);
	return pcapng_write_packet(cap->out, ev->dir, ev->ts_ns + o->wall_minus_mono, ev->data, ev->caplen, ev->len,
				   ev->dir == XTAP_DIR_FROM_VM ? PCAPNG_DIR_INBOUND : PCAPNG_DIR_OUTBOUND, comment);
}

int xtapctl_capture(const char *pin_dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "direction", required_argument, NULL, 'D' }, { "write", required_argument, NULL, 'w' },
		{ "snaplen", required_argument, NULL, 's' }, { "sample", required_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'n' }, { "rate", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct capture cap = { 0 };
	struct obs o = { .cmd = "capture", .on_event = capture_event, .ctx = &cap };
	const char *file = "-", *port;
	char ifname[IF_NAMESIZE + 16], desc[128];
	long rate = DEFAULT_RATE;
	int c, force = 0, err, d;

	o.conf.dirs = (1U << XTAP_DIR_FROM_VM) | (1U << XTAP_DIR_TO_VM);
	o.conf.snaplen = XTAP_OBS_SNAP_MAX;
	optind = 0;
	while ((c = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			if (!strcmp(optarg, "both"))
				o.conf.dirs = (1U << XTAP_DIR_FROM_VM) | (1U << XTAP_DIR_TO_VM);
			else if (!xtap_parse_dir(optarg, &d))
				o.conf.dirs = 1U << d;
			else
				bad_usage("capture", xtapctl_capture_synopsis, "--direction is from-vm, to-vm or both");
			break;
		case 'w': file = optarg; break;
		case 's': o.conf.snaplen = num_arg("capture", "--snaplen", optarg, 14, XTAP_OBS_SNAP_MAX); break;
		case 'S': o.conf.sample = num_arg("capture", "--sample", optarg, 1, 1000000); break;
		case 'n': o.count = num_arg("capture", "--count", optarg, 1, LONG_MAX); break;
		case 'r': rate = num_arg("capture", "--rate", optarg, 1, MAX_RATE); break;
		case 'f': force = 1; break;
		case 'h':
			help_exit(xtapctl_capture_synopsis, xtapctl_capture_help,
				  "  --direction D  from-vm (as the VM sent them), to-vm (as delivered), both (default)\n"
				  "  -w FILE        pcapng file to write, - for stdout (default)\n"
				  "  --snaplen N    bytes of each frame kept (14-1536, default 1536)\n"
				  "  --sample N     one frame in N (per CPU)\n"
				  "  --count N      stop after N frames\n"
				  "  --rate N       frames per second per CPU at most (default 1000); the rest are counted lost\n"
				  "  --force        take the events from another running monitor or capture\n"
				  "Interface 0 is from-vm, 1 to-vm; each packet's comment is its verdict, reason and hook.\n");
			break;
		default:
			bad_usage("capture", xtapctl_capture_synopsis, "unknown option");
		}
	}
	if (optind != argc - 1)
		bad_usage("capture", xtapctl_capture_synopsis, "give one PORT");
	port = argv[optind];
	if (!strcmp(file, "-") && isatty(STDOUT_FILENO))
		bad_usage("capture", xtapctl_capture_synopsis,
			  "stdout is a terminal: give -w FILE, or pipe it (| tshark -r -)");
	set_rate(&o.conf, rate);
	if (obs_open(&o, pin_dir))
		return XTAP_EXIT_NOAGENT;
	if (port_id_of(pin_dir, "capture", port, &o.conf.port_id)) {
		obs_close(&o);
		return XTAP_EXIT_REFUSED;
	}
	cap.out = strcmp(file, "-") ? fopen(file, "wb") : stdout;
	if (!cap.out) {
		fprintf(stderr, "xtapctl: capture: cannot write %s: %s\n", file, strerror(errno));
		obs_close(&o);
		return XTAP_EXIT_REFUSED;
	}
	err = pcapng_write_section(cap.out, "xtapctl capture");
	for (d = 0; d < XTAP_DIRS && !err; d++) {
		snprintf(ifname, sizeof(ifname), "%s %s", port, xtap_dir_name(d));
		snprintf(desc, sizeof(desc), d == XTAP_DIR_FROM_VM ? "frames %s's VM sent (XDP, tc ingress)" :
			 "frames delivered to %s's VM (devmap egress, tc egress)", port);
		err = pcapng_write_interface(cap.out, ifname, desc, o.conf.snaplen);
	}
	if (err)
		fprintf(stderr, "xtapctl: capture: writing %s: %s\n", file, strerror(errno));
	else
		err = obs_run(&o, force);
	if (cap.out != stdout && fclose(cap.out) && !err) {
		fprintf(stderr, "xtapctl: capture: writing %s: %s\n", file, strerror(errno));
		err = 1;
	}
	obs_close(&o);
	return err ? XTAP_EXIT_REFUSED : 0;
}
