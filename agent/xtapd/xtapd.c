// SPDX-License-Identifier: GPL-2.0
/*
 * xtapd: the host agent. Loads the datapath once (maps pinned, programs
 * attached through links that outlive it), makes the kernel match the
 * persisted desired state, then serves the control socket and watches links,
 * all from one event loop (event_loop.h) in which nothing waits.
 * Stopping it leaves the datapath running; `xtapctl teardown` removes it all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "agent.h"
#include "agent_worker.h"
#include "conntrack.h"
#include "ctl_server.h"
#include "event_loop.h"
#include "fault.h"
#include "fleet.h"
#include "metrics.h"
#include "metrics_server.h"
#include "service.h"
#include "netdev.h"
#include "lock.h"

struct options {
	char config[PATH_MAX];
	char socket[PATH_MAX];
	char state[PATH_MAX];
	char pin_dir[PATH_MAX];
	char metrics[128];          /* "ADDR:PORT" of the Prometheus endpoint; "" = off */
	int metrics_allow_remote;
	int recover_state;
	const char *etcd;     /* --etcd URL: desired state from etcd (fleet.h) */
	char host[XTAP_FLEET_HOST_MAX + 1];
	/* the config's "underlay": used while the state file names none */
	char underlay[IFNAMSIZ];
	__be32 vtep;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xtapd [options]\n"
		"  -c, --config FILE    config file (JSON; default " XTAP_DEFAULT_CONFIG ", optional)\n"
		"  -s, --socket PATH    control socket (default " XTAP_DEFAULT_SOCKET ")\n"
		"      --state FILE     persisted desired state (default " XTAP_DEFAULT_STATE ")\n"
		"      --pin-dir DIR    bpffs directory for maps and links (default " XTAP_DEFAULT_PIN_DIR ")\n"
		"      --recover-state  the state file does not load: start from FILE.prev, keep it as FILE.bad\n"
		"      --etcd URL       take segments and this host's ports from etcd (docs/fleet.md)\n"
		"      --host NAME      this host's name in etcd (default: the hostname)\n"
		"      --fault-injection  tests only: requests may carry \"fault\" (docs/api.md), XTAP_FAULT is read\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help           this text\n"
		"Runs in the foreground and logs to stderr (to the journal with priorities under systemd;\n"
		"Type=notify: READY after the first reconcile, a watchdog when WatchdogSec= is set).\n");
}

/* XTAP_FAULT=CLASS:N fails the Nth step of that class since start (with --fault-injection only). */
static int arm_fault_from_env(void)
{
	const char *spec = getenv("XTAP_FAULT");
	enum xtap_fault_class cls;
	unsigned long nth;

	if (xtap_fault_enabled())
		xtap_log(XTAP_LOG_WARN, "fault injection is on: for tests, never in production");
	if (!spec || !spec[0])
		return 0;
	if (!xtap_fault_enabled()) {
		xtap_log(XTAP_LOG_WARN, "XTAP_FAULT is ignored: xtapd was not started with --fault-injection");
		return 0;
	}
	if (xtap_fault_parse(spec, &cls, &nth)) {
		xtap_log(XTAP_LOG_ERR, "XTAP_FAULT=%s: use CLASS:N, CLASS one of map, netlink, file, attach, any, N >= 1",
			 spec);
		return -1;
	}
	xtap_fault_arm(cls, nth);
	xtap_log(XTAP_LOG_WARN, "XTAP_FAULT: step %lu of class %s will fail", nth, xtap_fault_class_name(cls));
	return 0;
}

/* Settings from the config file; command-line options win. Unknown keys are errors. */
static int read_config(struct options *o, int explicit_config, json_object **bootstrap)
{
	json_object *cfg;

	*bootstrap = NULL;
	if (access(o->config, F_OK)) {
		if (explicit_config) {
			xtap_log(XTAP_LOG_ERR, "config file %s: %s", o->config, strerror(errno));
			return -1;
		}
		return 0;
	}
	cfg = json_object_from_file(o->config);
	if (!cfg || !json_object_is_type(cfg, json_type_object)) {
		xtap_log(XTAP_LOG_ERR, "config file %s is not a JSON object: %s", o->config,
			 json_util_get_last_err());
		return -1;
	}
	json_object_object_foreach(cfg, key, val) {
		char *dst = !strcmp(key, "socket") ? o->socket : !strcmp(key, "state_file") ? o->state :
			    !strcmp(key, "pin_dir") ? o->pin_dir : NULL;

		if (dst && json_object_is_type(val, json_type_string)) {
			if (!*dst)
				snprintf(dst, PATH_MAX, "%s", json_object_get_string(val));
		} else if (!strcmp(key, "verbose") && json_object_is_type(val, json_type_boolean)) {
			if (json_object_get_boolean(val))
				xtap_log_set_level(XTAP_LOG_DEBUG);
		} else if (!strcmp(key, "metrics") && json_object_is_type(val, json_type_string)) {
			snprintf(o->metrics, sizeof(o->metrics), "%s", json_object_get_string(val));
		} else if (!strcmp(key, "metrics_allow_remote") && json_object_is_type(val, json_type_boolean)) {
			o->metrics_allow_remote = json_object_get_boolean(val);
		} else if (!strcmp(key, "bootstrap") && json_object_is_type(val, json_type_object)) {
			*bootstrap = json_object_get(val);
		} else if (!strcmp(key, "underlay")) {
			struct xtap_err err = {};

			if (xtap_overlay_underlay_from_json(val, o->underlay, &o->vtep, &err)) {
				xtap_log(XTAP_LOG_ERR, "config file %s: underlay: %s", o->config, err.msg);
				json_object_put(cfg);
				return -1;
			}
		} else {
			xtap_log(XTAP_LOG_ERR, "config file %s: unknown or mistyped key \"%s\"", o->config, key);
			json_object_put(cfg);
			return -1;
		}
	}
	json_object_put(cfg);
	return 0;
}

/* The metrics address is checked before anything changes: a bad one refuses the start. */
static int check_metrics(const struct options *o, struct sockaddr_storage *sa, socklen_t *len)
{
	struct xtap_err err = {};

	if (!o->metrics[0] || !xtap_metrics_parse_addr(o->metrics, o->metrics_allow_remote, sa, len, &err))
		return 0;
	xtap_log(XTAP_LOG_ERR, "config file %s: %s", o->config, err.msg);
	return -1;
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The pin directory must sit on a bpffs; the default one is mounted when missing. *created: mkdir made it. */
static int ensure_bpffs(const char *pin_dir, int *created)
{
	char parent[PATH_MAX], *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf")) {
			xtap_log(XTAP_LOG_ERR, "pin directory %s is not on a bpffs (mount -t bpf bpf %s)",
				 pin_dir, parent);
			return -1;
		}
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			xtap_log(XTAP_LOG_ERR, "mounting bpffs at /sys/fs/bpf: %s", strerror(errno));
			return -1;
		}
		xtap_log(XTAP_LOG_INFO, "mounted bpffs at /sys/fs/bpf");
	}
	*created = !mkdir(pin_dir, 0700);
	if (!*created && errno != EEXIST) {
		xtap_log(XTAP_LOG_ERR, "creating %s: %s", pin_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * One agent per pin directory and per state file, for its whole life: the
 * locks come before anything is changed. *created: the pin directory was
 * made for the lock.
 */
static int take_locks(const struct options *o, int *created)
{
	struct xtap_err err = {};

	if (ensure_bpffs(o->pin_dir, created))
		return -1;
	if (xtap_lock_take(o->pin_dir, XTAP_LOCK_DIR, "stop it first, or use --pin-dir", &err) < 0 ||
	    xtap_state_lock(o->state, &err) < 0) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* The desired state: the state file, else the config's bootstrap section, else nothing. */
static int load_state(struct xtap_agent *a, const struct options *o, json_object *bootstrap)
{
	struct xtap_err err = {};
	char advice[PATH_MAX + 512];
	int ret;

	if (o->recover_state) {
		ret = xtap_state_recover(o->state, &a->model, &err);
		if (!ret)
			xtap_log(XTAP_LOG_WARN, "recovered: started from %s.prev; the file that did not load is %s.bad",
				 o->state, o->state);
		else
			xtap_log(XTAP_LOG_ERR, "--recover-state: %s; nothing changed", err.msg);
		return ret;
	}
	ret = xtap_state_load(o->state, &a->model, &err);
	if (ret == -ENOENT && bootstrap) {
		ret = xtap_model_from_json(bootstrap, &a->model, &err);
		if (ret) {
			xtap_log(XTAP_LOG_ERR, "config file %s: bootstrap: %s", o->config, err.msg);
			return ret;
		}
		xtap_log(XTAP_LOG_INFO, "no state yet: starting from the config's bootstrap section");
		return 0;
	}
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		xtap_state_advice(o->state, advice, sizeof(advice));
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		xtap_log(XTAP_LOG_ERR, "%s", advice);
	}
	return ret;
}

/*
 * The start before the datapath: locks, then the desired state. A refused
 * start leaves no trace. *made_pin_dir: the pin directory was made for the lock.
 */
static int start_owned(struct xtap_agent *a, const struct options *o, json_object *bootstrap, int *made_pin_dir)
{
	*made_pin_dir = 0;
	if (take_locks(o, made_pin_dir) || load_state(a, o, bootstrap)) {
		if (*made_pin_dir)
			rmdir(o->pin_dir);
		return -1;
	}
	if (o->underlay[0] && !a->model.overlay.underlay[0]) {
		strcpy(a->model.overlay.underlay, o->underlay);
		a->model.overlay.vtep = o->vtep;
	}
	return 0;
}

static int make_parent_dir(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Two loops: the agent's (agent_worker.h: requests, the link monitor, the
 * xtap-vhost processes, on the agent thread) and the control socket's
 * (connections and signals, on the main thread).
 */
struct daemon {
	struct xtap_agent *a;
	struct xtap_agent_worker *worker;
	struct xtap_link_monitor *mon;
	struct xtap_fleet *fleet;     /* --etcd */
	struct xtap_watch signals;    /* SIGINT, SIGTERM: main thread */
	struct xtap_watch links;      /* the link monitor: agent thread */
	double next_vhost_check;
	double next_ct_sweep;
	struct xtap_ct_sweeper sweeper;
	int stop;
};

#define DAEMON_OF(w, member) ((struct daemon *)((char *)(w) - offsetof(struct daemon, member)))

/* {"cmd": "status"}, maybe with empty "args": anything else is the agent's to judge. */
static int plain_status(json_object *req)
{
	json_object *cmd, *args = NULL;

	if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string) || strcmp(json_object_get_string(cmd), "status"))
		return 0;
	json_object_object_get_ex(req, "args", &args);
	return json_object_object_length(req) == 1 + (args != NULL) &&
	       (!args || (json_object_is_type(args, json_type_object) && !json_object_object_length(args)));
}

/* A plain status is answered from the snapshot, at once; every other request goes to the agent. */
static void handle_request(void *ctx, struct xtap_ctl_request *r, json_object *req)
{
	struct daemon *d = ctx;
	char *status;

	if (plain_status(req) && (status = xtap_agent_worker_status(d->worker))) {
		json_object_put(req);
		xtap_ctl_reply(r, status, NULL);
		free(status);
		return;
	}
	if (xtap_agent_worker_submit(d->worker, req, r))
		xtap_ctl_reply(r, "{\"ok\":false,\"error\":\"xtapd is out of memory (nothing changed)\"}", NULL);
}

static void deliver_reply(void *ctx, void *tag, const char *json, struct xtap_fds *fds)
{
	(void)ctx;
	xtap_ctl_reply(tag, json, fds);
}

static void deliver_metrics(void *ctx, void *tag, const char *text, struct xtap_fds *fds)
{
	(void)ctx;
	(void)fds;
	xtap_metrics_reply(tag, text);
}

/* A scrape: the counters are read in the agent's thread, between its requests. */
static void handle_scrape(void *ctx, struct xtap_metrics_request *r)
{
	struct daemon *d = ctx;

	if (xtap_agent_worker_render(d->worker, xtap_metrics_render, deliver_metrics, r))
		xtap_metrics_reply(r, NULL);
}

static void on_signal(struct xtap_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		xtap_log(XTAP_LOG_INFO, "stopping; the datapath keeps running");
		xtap_service_stopping();
		DAEMON_OF(w, signals)->stop = 1;
	}
}

static void on_link(const struct xtap_link_event *ev, void *ctx)
{
	xtap_agent_link_event(ctx, ev->type == XTAP_LINK_NEW, ev->link.name, ev->link.ifindex);
}

/* Agent thread. The monitor's socket is non-blocking: this reads what is queued, repairs, and returns. */
static void on_links(struct xtap_watch *w, uint32_t events)
{
	struct daemon *d = DAEMON_OF(w, links);

	(void)events;
	if (xtap_link_monitor_read(d->mon, on_link, d->a) == -ENOBUFS)
		xtap_agent_reconcile(d->a);
}

/* Agent thread. */
static double vhost_check_tick(void *ctx, double now)
{
	struct daemon *d = ctx;

	if (now >= d->next_vhost_check) {
		xtap_agent_vhost_check(d->a);
		d->next_vhost_check = now + XTAP_VHOST_CHECK_SECONDS;
	}
	return d->next_vhost_check;
}

/*
 * Agent thread: deletes expired tracked flows, XTAP_CT_SWEEP_BUDGET entries
 * a tick, so a full table (XTAP_CT_MAX_ENTRIES) is walked every 16 ticks and
 * no tick holds the agent long (bench/prog_cost measures one).
 */
static double ct_sweep_tick(void *ctx, double now)
{
	struct daemon *d = ctx;
	int n;

	if (now >= d->next_ct_sweep) {
		n = xtap_ct_sweep(&d->a->dp, &d->sweeper, XTAP_CT_SWEEP_BUDGET);
		if (n < 0)
			xtap_log(XTAP_LOG_WARN, "conntrack sweep: %s", strerror(-n));
		else if (n)
			xtap_log(XTAP_LOG_DEBUG, "conntrack sweep: %d expired flows deleted", n);
		d->next_ct_sweep = now + XTAP_CT_SWEEP_SECONDS;
	}
	return d->next_ct_sweep;
}

/* 256 connections, a pidfd per xtap-vhost starting or stopping, the BPF objects: the soft limit may be low. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r))
			xtap_log(XTAP_LOG_WARN, "raising the open files limit to %llu: %s",
				 (unsigned long long)r.rlim_max, strerror(errno));
	}
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* libbpf's debug level dumps every relocation: too much even for --verbose. */
	if (level == LIBBPF_WARN || (level == LIBBPF_INFO && xtap_log_enabled(XTAP_LOG_DEBUG)))
		return vfprintf(stderr, fmt, args);
	return 0;
}

static int quiet_libxdp(enum libxdp_print_level level, const char *fmt, va_list args)
{
	if (xtap_log_enabled(XTAP_LOG_DEBUG) || level == LIBXDP_WARN)
		return vfprintf(stderr, fmt, args);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "socket", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' },  { "pin-dir", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ "recover-state", no_argument, NULL, 'R' },
		{ "fault-injection", no_argument, NULL, 'F' },
		{ "etcd", required_argument, NULL, 'E' },   { "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {};
	struct xtap_agent *a = calloc(1, sizeof(*a));
	struct xtap_ctl_server *srv;
	struct xtap_metrics_server *metrics = NULL;
	struct sockaddr_storage metrics_sa;
	socklen_t metrics_len = 0;
	struct daemon d = { .a = a };
	struct xtap_loop agent_loop, io_loop;
	json_object *bootstrap = NULL;
	struct xtap_err err = {};
	sigset_t mask;
	int err_ct;
	int c, explicit_config = 0, made_pin_dir;

	xtap_log_init("xtapd", XTAP_LOG_INFO);
	snprintf(o.config, sizeof(o.config), "%s", XTAP_DEFAULT_CONFIG);
	while ((c = getopt_long(argc, argv, "c:s:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': snprintf(o.config, sizeof(o.config), "%s", optarg); explicit_config = 1; break;
		case 's': snprintf(o.socket, sizeof(o.socket), "%s", optarg); break;
		case 'S': snprintf(o.state, sizeof(o.state), "%s", optarg); break;
		case 'p': snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", optarg); break;
		case 'R': o.recover_state = 1; break;
		case 'v': xtap_log_set_level(XTAP_LOG_DEBUG); break;
		case 'F': xtap_fault_enable(); break;
		case 'E': o.etcd = optarg; break;
		case 'H': snprintf(o.host, sizeof(o.host), "%s", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.host[0] && !o.etcd) {
		xtap_log(XTAP_LOG_ERR, "--host names this host in etcd: give --etcd URL too");
		return 2;
	}
	if (!o.host[0] && gethostname(o.host, sizeof(o.host) - 1))
		snprintf(o.host, sizeof(o.host), "localhost");
	if (optind != argc || !a) {
		usage(stderr);
		return 2;
	}
	if (arm_fault_from_env())
		return 2;
	if (geteuid() != 0) {
		xtap_log(XTAP_LOG_ERR, "must run as root (it creates taps and loads BPF programs)");
		return 1;
	}
	if (read_config(&o, explicit_config, &bootstrap) || check_metrics(&o, &metrics_sa, &metrics_len))
		return 1;
	a->health.start_time = xtap_wall_now();
	if (!o.socket[0])
		snprintf(o.socket, sizeof(o.socket), "%s", XTAP_DEFAULT_SOCKET);
	if (!o.state[0])
		snprintf(o.state, sizeof(o.state), "%s", XTAP_DEFAULT_STATE);
	if (!o.pin_dir[0])
		snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", XTAP_DEFAULT_PIN_DIR);
	snprintf(a->state_path, sizeof(a->state_path), "%s", o.state);
	raise_fd_limit();
	if (xtap_loop_init(&agent_loop) || xtap_loop_init(&io_loop)) {
		xtap_log(XTAP_LOG_ERR, "epoll: %s", strerror(errno));
		return 1;
	}
	xtap_vhost_procs_init(&a->vhost, o.socket, &agent_loop);
	libbpf_set_print(quiet_libbpf);
	libxdp_set_print(quiet_libxdp);

	if (start_owned(a, &o, bootstrap, &made_pin_dir))
		return 1;
	/* Before the datapath is touched: a metrics port in use refuses the start with nothing changed. */
	if (metrics_len) {
		metrics = xtap_metrics_server_open(&io_loop, &metrics_sa, metrics_len, handle_scrape, &d, &err);
		if (!metrics) {
			xtap_log(XTAP_LOG_ERR, "config file %s: \"metrics\": %s: %s", o.config, o.metrics, err.msg);
			if (made_pin_dir)
				rmdir(o.pin_dir);
			return 1;
		}
		xtap_log(XTAP_LOG_INFO, "metrics on http://%s/metrics", o.metrics);
	}
	if (xtap_datapath_load(&a->dp, o.pin_dir))
		return 1;
	err_ct = xtap_ct_counts_check(&a->dp);
	if (err_ct)
		xtap_log(XTAP_LOG_WARN, "conntrack: checking the per-port flow counts: %s", strerror(-err_ct));
	json_object_put(bootstrap);
	if (xtap_agent_reconcile(a))
		xtap_log(XTAP_LOG_WARN, "some ports or segments could not be set up (see above); xtapctl port list shows their state");

	if (make_parent_dir(o.socket)) {
		xtap_log(XTAP_LOG_ERR, "control socket %s: creating its directory: %s", o.socket, strerror(errno));
		return 1;
	}
	srv = xtap_ctl_server_open(&io_loop, o.socket, handle_request, &d, &err);
	if (!srv) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.signals = (struct xtap_watch){ .fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), .fn = on_signal };
	xtap_loop_add(&io_loop, &d.signals, EPOLLIN);
	d.mon = xtap_link_monitor_open(&err);
	if (d.mon) {
		d.links = (struct xtap_watch){ .fd = xtap_link_monitor_fd(d.mon), .fn = on_links };
		xtap_loop_add(&agent_loop, &d.links, EPOLLIN);
	} else {
		xtap_log(XTAP_LOG_WARN, "%s: changes behind xtapd's back will not be noticed", err.msg);
	}
	d.next_vhost_check = xtap_now() + XTAP_VHOST_CHECK_SECONDS;
	xtap_loop_add_ticker(&agent_loop, vhost_check_tick, &d);
	if (xtap_service_watchdog(&io_loop, &agent_loop)) {
		xtap_log(XTAP_LOG_ERR, "systemd watchdog: no room for its timer in the event loop");
		return 1;
	}
	d.next_ct_sweep = xtap_now() + XTAP_CT_SWEEP_SECONDS;
	xtap_loop_add_ticker(&agent_loop, ct_sweep_tick, &d);
	xtap_log(XTAP_LOG_INFO, "ready: %zu ports, %zu segments, socket %s, maps in %s",
		 a->model.n_ports, a->model.n_segments, o.socket, o.pin_dir);
	if (o.etcd && !(d.fleet = xtap_fleet_start(a, &agent_loop, o.etcd, o.host, &err))) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return 2;
	}
	/* Started with SIGINT and SIGTERM blocked: they come to the signalfd only. From here on the agent is its. */
	d.worker = xtap_agent_worker_start(a, &agent_loop, &io_loop, deliver_reply, &d, &err);
	if (!d.worker) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return 1;
	}
	/* After the reconcile, with the socket served: clients ordered After=xtapd.service can connect. */
	xtap_service_ready("%zu ports, %zu segments; socket %s", a->model.n_ports, a->model.n_segments, o.socket);

	while (!d.stop && !xtap_agent_worker_done(d.worker))
		if (xtap_loop_run_once(&io_loop)) {
			xtap_log(XTAP_LOG_ERR, "event loop: %s", strerror(errno));
			break;
		}
	xtap_agent_worker_stop(d.worker);
	if (d.fleet)
		xtap_fleet_stop(d.fleet, &agent_loop);
	xtap_metrics_server_close(metrics);
	xtap_ctl_server_close(srv);
	xtap_vhost_procs_finish(&a->vhost);
	if (d.mon)
		xtap_link_monitor_close(d.mon);
	xtap_loop_close(&io_loop);
	xtap_loop_close(&agent_loop);
	xtap_datapath_close(&a->dp);
	xtap_model_free(&a->model);
	free(a);
	return 0;
}
