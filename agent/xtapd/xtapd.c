// SPDX-License-Identifier: GPL-2.0
/*
 * xtapd: the host agent. Loads the datapath once (maps pinned, programs
 * attached through links that outlive it), makes the kernel match the
 * persisted desired state, then serves the control socket and watches links.
 * Stopping it leaves the datapath running; `xtapctl teardown` removes it all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "agent.h"
#include "request.h"
#include "netdev.h"

#define MAX_REQUEST (1 << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct options {
	char config[PATH_MAX];
	char socket[PATH_MAX];
	char state[PATH_MAX];
	char pin_dir[PATH_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xtapd [options]\n"
		"  -c, --config FILE    config file (JSON; default " XTAP_DEFAULT_CONFIG ", optional)\n"
		"  -s, --socket PATH    control socket (default " XTAP_DEFAULT_SOCKET ")\n"
		"      --state FILE     persisted desired state (default " XTAP_DEFAULT_STATE ")\n"
		"      --pin-dir DIR    bpffs directory for maps and links (default " XTAP_DEFAULT_PIN_DIR ")\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help           this text\n"
		"Runs in the foreground and logs to stderr.\n");
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
		} else if (!strcmp(key, "bootstrap") && json_object_is_type(val, json_type_object)) {
			*bootstrap = json_object_get(val);
		} else {
			xtap_log(XTAP_LOG_ERR, "config file %s: unknown or mistyped key \"%s\"", o->config, key);
			json_object_put(cfg);
			return -1;
		}
	}
	json_object_put(cfg);
	return 0;
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The pin directory must sit on a bpffs; the default one is mounted when missing. */
static int ensure_bpffs(const char *pin_dir)
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
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		xtap_log(XTAP_LOG_ERR, "creating %s: %s", pin_dir, strerror(errno));
		return -1;
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

static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path) || make_parent_dir(path)) {
		xtap_log(XTAP_LOG_ERR, "control socket path %s is unusable", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A socket file left by a killed agent: nobody listens on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		xtap_log(XTAP_LOG_ERR, "another xtapd is serving %s", path);
		close(fd);
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 64)) {
		xtap_log(XTAP_LOG_ERR, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The reply line, with the fds of a hand-off attached (SCM_RIGHTS) to its first byte. */
static int send_reply(int fd, const char *json, const struct xtap_fds *fds)
{
	size_t len = strlen(json);
	char *line = malloc(len + 2);
	char cbuf[CMSG_SPACE(sizeof(fds->fd))];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t sent = 0, n;

	if (!line)
		return -1;
	memcpy(line, json, len);
	line[len++] = '\n';
	if (fds->n) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(fds->n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(fds->n * sizeof(int));
		memcpy(CMSG_DATA(c), fds->fd, fds->n * sizeof(int));
	}
	while ((size_t)sent < len) {
		iov.iov_base = line + sent;
		iov.iov_len = len - sent;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	free(line);
	return (size_t)sent == len ? 0 : -1;
}

/* One request per connection: a JSON object, answered with one JSON object. */
static void serve_client(struct xtap_agent *a, int listen_fd)
{
	struct xtap_request_reader rd;
	struct xtap_err err = { .msg = "request: incomplete JSON (the connection closed or timed out first)" };
	json_object *resp;
	char buf[65536];
	size_t total = 0;
	const char *out;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = 5 };
	struct xtap_fds fds = { .n = 0 };
	ssize_t n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (xtap_request_reader_init(&rd)) {
		close(fd);
		return;
	}
	while (!rd.req && (n = read(fd, buf, sizeof(buf))) > 0 && total < MAX_REQUEST) {
		total += n;
		if (xtap_request_feed(&rd, buf, n, &err) < 0)
			break;
	}
	if (!rd.req && total >= MAX_REQUEST)
		xtap_fail(&err, -E2BIG, "request: larger than %d bytes", MAX_REQUEST);
	if (!rd.req) {
		resp = json_object_new_object();
		json_object_object_add(resp, XTAP_REPLY_OK, json_object_new_boolean(0));
		json_object_object_add(resp, XTAP_REPLY_ERROR, json_object_new_string(err.msg));
	} else {
		resp = xtap_agent_call(a, rd.req, &fds);
	}
	xtap_request_reader_free(&rd);
	out = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN);
	if (send_reply(fd, out, &fds) < 0)
		xtap_log(XTAP_LOG_DEBUG, "client went away before the reply");
	while (fds.n)
		close(fds.fd[--fds.n]);
	json_object_put(resp);
	close(fd);
}

static void on_link(const struct xtap_link_event *ev, void *ctx)
{
	xtap_agent_link_event(ctx, ev->type == XTAP_LINK_NEW, ev->link.name, ev->link.ifindex);
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
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {};
	struct xtap_agent *a = calloc(1, sizeof(*a));
	struct xtap_link_monitor *mon;
	json_object *bootstrap = NULL;
	struct xtap_err err = {};
	struct pollfd pfd[3];
	sigset_t mask;
	int c, explicit_config = 0, lfd, sfd, ret;
	double last_check;

	xtap_log_init("xtapd", XTAP_LOG_INFO);
	snprintf(o.config, sizeof(o.config), "%s", XTAP_DEFAULT_CONFIG);
	while ((c = getopt_long(argc, argv, "c:s:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': snprintf(o.config, sizeof(o.config), "%s", optarg); explicit_config = 1; break;
		case 's': snprintf(o.socket, sizeof(o.socket), "%s", optarg); break;
		case 'S': snprintf(o.state, sizeof(o.state), "%s", optarg); break;
		case 'p': snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", optarg); break;
		case 'v': xtap_log_set_level(XTAP_LOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !a) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		xtap_log(XTAP_LOG_ERR, "must run as root (it creates taps and loads BPF programs)");
		return 1;
	}
	if (read_config(&o, explicit_config, &bootstrap))
		return 1;
	if (!o.socket[0])
		snprintf(o.socket, sizeof(o.socket), "%s", XTAP_DEFAULT_SOCKET);
	if (!o.state[0])
		snprintf(o.state, sizeof(o.state), "%s", XTAP_DEFAULT_STATE);
	if (!o.pin_dir[0])
		snprintf(o.pin_dir, sizeof(o.pin_dir), "%s", XTAP_DEFAULT_PIN_DIR);
	snprintf(a->state_path, sizeof(a->state_path), "%s", o.state);
	xtap_vhost_procs_init(&a->vhost, o.socket);
	libbpf_set_print(quiet_libbpf);
	libxdp_set_print(quiet_libxdp);

	if (ensure_bpffs(o.pin_dir) || xtap_datapath_load(&a->dp, o.pin_dir))
		return 1;
	ret = xtap_state_load(o.state, &a->model, &err);
	if (ret == -ENOENT && bootstrap) {
		ret = xtap_model_from_json(bootstrap, &a->model, &err);
		if (!ret)
			xtap_log(XTAP_LOG_INFO, "no state yet: starting from the config's bootstrap section");
	} else if (ret == -ENOENT) {
		ret = 0;
	}
	json_object_put(bootstrap);
	if (ret) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return 1;
	}
	if (xtap_agent_reconcile(a))
		xtap_log(XTAP_LOG_WARN, "some ports or segments could not be set up (see above); xtapctl port list shows their state");

	lfd = open_socket(o.socket);
	if (lfd < 0)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	mon = xtap_link_monitor_open(&err);
	if (!mon)
		xtap_log(XTAP_LOG_WARN, "%s: changes behind xtapd's back will not be noticed", err.msg);
	xtap_log(XTAP_LOG_INFO, "ready: %zu ports, %zu segments, socket %s, maps in %s",
		 a->model.n_ports, a->model.n_segments, o.socket, o.pin_dir);

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = mon ? xtap_link_monitor_fd(mon) : -1, .events = POLLIN };
	last_check = now_s();
	while (!a->stop) {
		ret = poll(pfd, 3, XTAP_VHOST_CHECK_SECONDS * 1000);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (now_s() - last_check >= XTAP_VHOST_CHECK_SECONDS) {
			xtap_agent_vhost_check(a);
			last_check = now_s();
		}
		if (pfd[1].revents & POLLIN) {
			xtap_log(XTAP_LOG_INFO, "stopping; the datapath keeps running");
			break;
		}
		if (pfd[2].revents & POLLIN && xtap_link_monitor_read(mon, on_link, a) == -ENOBUFS)
			xtap_agent_reconcile(a);
		if (pfd[0].revents & POLLIN)
			serve_client(a, lfd);
	}
	close(lfd);
	unlink(o.socket);
	if (mon)
		xtap_link_monitor_close(mon);
	xtap_datapath_close(&a->dp);
	xtap_model_free(&a->model);
	free(a);
	return 0;
}
