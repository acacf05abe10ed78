// SPDX-License-Identifier: GPL-2.0
/*
 * Every request is all-or-nothing, proved by walking its steps: for each
 * command that changes state, fault N (xtapd --fault-injection, class "any":
 * the Nth map write, rtnetlink request, attach step or state-file step) is
 * armed for N = 1, 2, ... until the command succeeds with fault N armed (its
 * steps are then all walked). Each refused attempt must leave everything as
 * it was: every pinned map (and the segments' inner flood maps) entry by
 * entry, the links with their XDP and tc programs, the pins, the files of
 * /run/xtap-test and the state file byte by byte, and the model as the
 * control socket shows it. Not compared: the ports' xtap-vhost processes
 * and files (tests/run.sh of a parallel run may kill them; a port's
 * xtap-vhost starts only once its port.add committed, stops once its
 * port.del did), and ACL hit slots no rule names (see snap_hits).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "agent_env.h"
#include "xtap_abi.h"

/* ---- one request on the control socket, optionally with a fault armed ---- */

static json_object *request(const char *cmd, const char *args_json, const char *fault)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *req = json_object_new_object(), *reply;
	char buf[1 << 20];
	size_t got = 0;
	const char *text;
	ssize_t n;
	int fd;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", json_tokener_parse(args_json ? args_json : "{}"));
	if (fault)
		json_object_object_add(req, "fault", json_object_new_string(fault));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ENV_SOCK);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail_msg("%s: cannot reach xtapd: %s", cmd, strerror(errno));
	json_object_put(req);
	while (got + 1 < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	reply = json_tokener_parse(buf);
	if (!reply)
		fail_msg("%s: reply is not JSON: %s", cmd, buf);
	return reply;
}

static int reply_ok(json_object *reply)
{
	json_object *v;

	return json_object_object_get_ex(reply, "ok", &v) && json_object_get_boolean(v);
}

static const char *reply_field(json_object *reply, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(reply, key, &v) ? json_object_to_json_string(v) : "";
}

/* The result of a request that must succeed, as text; the reply is freed. */
static json_object *must(const char *cmd, const char *args_json)
{
	json_object *reply = request(cmd, args_json, NULL), *res = NULL;

	if (!reply_ok(reply))
		fail_msg("%s %s: %s", cmd, args_json ? args_json : "", reply_field(reply, "error"));
	if (json_object_object_get_ex(reply, "result", &res))
		json_object_get(res);
	json_object_put(reply);
	return res;
}

/* ---- the snapshot: everything a request may change, as sorted lines ---- */

struct lines {
	char **l;
	size_t n, cap;
};

static void add_line(struct lines *ls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(struct lines *ls, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? 2 * ls->cap : 1024;
		ls->l = realloc(ls->l, ls->cap * sizeof(*ls->l));
	}
	assert_non_null(ls->l);
	assert_non_null(s);
	ls->l[ls->n++] = s;
}

static void lines_free(struct lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
	memset(ls, 0, sizeof(*ls));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *hex(const void *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	char *s = malloc(2 * len + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[2 * len] = 0;
	return s;
}

static int all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

static void dump_map(struct lines *ls, const char *name, int fd);

static void map_entry(struct lines *ls, const char *name, const struct bpf_map_info *info, const void *key,
		      const void *value, size_t vsize)
{
	char *k = hex(key, info->key_size), *v = hex(value, vsize);

	add_line(ls, "map %s %s = %s", name, k, v);
	/* A segment's flood devmap: dumped as its own map, named after its key. */
	if (info->type == BPF_MAP_TYPE_HASH_OF_MAPS || info->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		int inner = bpf_map_get_fd_by_id(*(const __u32 *)value);
		char inner_name[256];

		snprintf(inner_name, sizeof(inner_name), "%s[%s]", name, k);
		if (inner >= 0) {
			dump_map(ls, inner_name, inner);
			close(inner);
		}
	}
	free(k);
	free(v);
}

/* Arrays by batches (hundreds of thousands of slots: counters), zero slots left out. */
static void dump_array(struct lines *ls, const char *name, int fd, const struct bpf_map_info *info, size_t vsize)
{
	__u32 batch = 0, count, i, chunk = 8192;
	char *keys = malloc((size_t)chunk * 4), *vals = malloc((size_t)chunk * vsize);
	int more = 1, first = 1, ret;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	assert_non_null(keys);
	assert_non_null(vals);
	while (more) {
		count = chunk;
		ret = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, &o);
		first = 0;
		if (ret && errno != ENOENT)
			fail_msg("map %s: batch lookup: %s", name, strerror(errno));
		more = !ret;
		for (i = 0; i < count; i++)
			if (!all_zero(vals + (size_t)i * vsize, vsize))
				map_entry(ls, name, info, keys + (size_t)i * 4, vals + (size_t)i * vsize, vsize);
	}
	free(keys);
	free(vals);
}

static void dump_map(struct lines *ls, const char *name, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char key[512], next[512], *value;
	size_t vsize;
	int have = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		fail_msg("map %s: %s", name, strerror(errno));
	vsize = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH)
		vsize = ((vsize + 7) & ~7U) * libbpf_num_possible_cpus();
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		dump_array(ls, name, fd, &info, vsize);
		return;
	}
	value = malloc(vsize);
	assert_non_null(value);
	assert_true(info.key_size <= sizeof(key));
	while (bpf_map_get_next_key(fd, have ? key : NULL, next) == 0) {
		memcpy(key, next, info.key_size);
		have = 1;
		if (!bpf_map_lookup_elem(fd, key, value))
			map_entry(ls, name, &info, key, value, vsize);
	}
	free(value);
}

/*
 * The ACL hit counters of the slots the rule sets name: 262144 per-CPU slots
 * take 0.2 s to read whole, a step; the agent writes a slot only when it
 * gives it to a rule (zeroed, journaled), and no frame moves in this test.
 */
static void snap_hits(struct lines *ls, int hits_fd)
{
	int rules_fd = bpf_obj_get(ENV_PINS "/xtap_acl_rules"), ncpu = libbpf_num_possible_cpus();
	struct xtap_acl_set *set = malloc(sizeof(*set));
	struct xtap_counter *v = calloc(ncpu, sizeof(*v));
	__u32 key, next, i;
	int have = 0;

	assert_true(rules_fd >= 0);
	assert_non_null(set);
	assert_non_null(v);
	while (bpf_map_get_next_key(rules_fd, have ? &key : NULL, &next) == 0) {
		key = next;
		have = 1;
		if (bpf_map_lookup_elem(rules_fd, &key, set))
			continue;
		for (i = 0; i < set->count && i < XTAP_MAX_ACL_RULES; i++) {
			__u32 slot = set->rules[i].hit_slot;
			char *h;

			if (bpf_map_lookup_elem(hits_fd, &slot, v))
				fail_msg("xtap_acl_hits: slot %u: %s", slot, strerror(errno));
			h = hex(v, ncpu * sizeof(*v));
			add_line(ls, "map xtap_acl_hits slot %u = %s", slot, h);
			free(h);
		}
	}
	close(rules_fd);
	free(set);
	free(v);
}

static void snap_maps(struct lines *ls)
{
	DIR *d = opendir(ENV_PINS);
	struct dirent *e;
	char path[512];
	int hits_fd = -1;

	assert_non_null(d);
	while ((e = readdir(d))) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (e->d_type != DT_REG)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ENV_PINS, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!strcmp(e->d_name, "xtap_acl_hits"))
			hits_fd = fd;
		else if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type)
			dump_map(ls, e->d_name, fd);
		if (fd != hits_fd)
			close(fd);
	}
	closedir(d);
	assert_true(hits_fd >= 0);
	snap_hits(ls, hits_fd);
	close(hits_fd);
}

/* Names (and for the state file and the pins, what they hold) under a directory, recursively. */
static void snap_tree(struct lines *ls, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		/* xtap-vhost's socket and status: its own process writes them, in its own time. */
		if (!strcmp(path, ENV_VHOST_DIR))
			continue;
		add_line(ls, "file %s", path);
		if (e->d_type == DT_DIR)
			snap_tree(ls, path);
	}
	closedir(d);
}

static void snap_state_file(struct lines *ls)
{
	FILE *f = fopen(ENV_STATE, "r");
	char line[4096];
	int n = 0;

	if (!f) {
		add_line(ls, "state-file absent");
		return;
	}
	/* Line numbers keep the file's order in the sorted snapshot. */
	while (fgets(line, sizeof(line), f))
		add_line(ls, "state-file %05d %s", n++, line);
	fclose(f);
}

static void sys_attr(const char *ifname, const char *attr, char *out, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	out[0] = 0;
	f = fopen(path, "r");
	if (f) {
		if (!fgets(out, len, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, "\n")] = 0;
}

/* The kernel's tcx hooks (6.6; the installed headers may predate them) and xtapd's clsact filter. */
#define TCX_INGRESS 46
#define TCX_EGRESS  47
#define XTAP_TC_HANDLE 0x7874
#define XTAP_TC_PRIO   1

/* The programs on a tc hook: tcx's list, else xtapd's clsact filter. */
static void tc_progs(int ifindex, int tcx_type, enum bpf_tc_attach_point point, char *out, size_t len)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XTAP_TC_HANDLE, .priority = XTAP_TC_PRIO);
	__u32 ids[16], cnt = 16, flags = 0, i;
	size_t off = 0;

	out[0] = 0;
	if (!bpf_prog_query(ifindex, tcx_type, 0, &flags, ids, &cnt)) {
		for (i = 0; i < cnt && off < len; i++)
			off += snprintf(out + off, len - off, "%u,", ids[i]);
		if (cnt)
			return;
	}
	if (!bpf_tc_query(&hook, &opts))
		snprintf(out + off, len - off, "clsact:%u", opts.prog_id);
}

static void snap_links(struct lines *ls)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	assert_non_null(ifs);
	for (i = ifs; i->if_index; i++) {
		char flags[32], mtu[16], mac[32], tun[32], ing[128], egr[128];
		LIBBPF_OPTS(bpf_xdp_query_opts, x);

		sys_attr(i->if_name, "flags", flags, sizeof(flags));
		sys_attr(i->if_name, "mtu", mtu, sizeof(mtu));
		sys_attr(i->if_name, "address", mac, sizeof(mac));
		sys_attr(i->if_name, "tun_flags", tun, sizeof(tun));
		bpf_xdp_query(i->if_index, 0, &x);
		tc_progs(i->if_index, TCX_INGRESS, BPF_TC_INGRESS, ing, sizeof(ing));
		tc_progs(i->if_index, TCX_EGRESS, BPF_TC_EGRESS, egr, sizeof(egr));
		add_line(ls, "link %s ifindex %u flags %s mtu %s mac %s tun %s xdp %u/%u mode %u tc-in %s tc-out %s",
			 i->if_name, i->if_index, flags, mtu, mac, tun, x.prog_id, x.drv_prog_id, x.attach_mode, ing, egr);
	}
	if_freenameindex(ifs);
}

static void snap_request(struct lines *ls, const char *what, const char *cmd, const char *args)
{
	json_object *res = must(cmd, args);

	add_line(ls, "model %s %s", what, json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
	json_object_put(res);
}

/*
 * The model as the socket shows it. A port's vhost-user status is left out:
 * its xtap-vhost belongs to the port, and tests/run.sh of a parallel run may
 * kill it (then xtapd restarts it); its files stay in the tree above.
 */
static void snap_model(struct lines *ls)
{
	json_object *ports = must("port.list", NULL);
	size_t i;

	for (i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i), *st, *name;
		char args[128];

		if (json_object_object_get_ex(p, "status", &st)) {
			json_object_object_del(st, "vhost_user");
			json_object_object_del(st, "data_plane");
		}
		json_object_object_get_ex(p, "name", &name);
		snprintf(args, sizeof(args), "{\"port\": \"%s\"}", json_object_get_string(name));
		snap_request(ls, "acl.list", "acl.list", args);
	}
	add_line(ls, "model port.list %s", json_object_to_json_string_ext(ports, JSON_C_TO_STRING_PLAIN));
	json_object_put(ports);
	snap_request(ls, "segment.list", "segment.list", NULL);
	snap_request(ls, "fdb", "fdb", NULL);
	snap_request(ls, "status", "status", NULL);
	snap_request(ls, "overlay.show", "overlay.show", NULL);
}

/* The IPv4 neighbours xtapd manages for the overlay's VTEPs (their NUD state changes on its own). */
static void snap_neighbours(struct lines *ls)
{
	FILE *f = popen("ip -4 neigh show 2>/dev/null", "r");
	char line[256], addr[64], dev[32];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s dev %31s", addr, dev) == 2)
			add_line(ls, "neigh %s dev %s", addr, dev);
	if (f)
		pclose(f);
}

static void snapshot(struct lines *ls)
{
	snap_maps(ls);
	snap_tree(ls, ENV_PINS);
	snap_tree(ls, "/run/xtap-test");
	snap_state_file(ls);
	snap_links(ls);
	snap_neighbours(ls);
	snap_model(ls);
	qsort(ls->l, ls->n, sizeof(*ls->l), cmp_str);
}

/* Fails with the lines only one side has (the first few). */
static void assert_same(const struct lines *before, const struct lines *after, const char *what)
{
	char report[8192];
	size_t i = 0, j = 0, off = 0;
	int shown = 0;

	while ((i < before->n || j < after->n) && shown < 12) {
		int c = i == before->n ? 1 : j == after->n ? -1 : strcmp(before->l[i], after->l[j]);

		if (!c) {
			i++;
			j++;
			continue;
		}
		off += snprintf(report + off, sizeof(report) - off, "\n  %s %.300s", c < 0 ? "-" : "+",
				c < 0 ? before->l[i++] : after->l[j++]);
		off = off < sizeof(report) ? off : sizeof(report) - 1;
		shown++;
	}
	if (shown)
		fail_msg("%s changed something (- before, + after):%s", what, report);
}

/* ---- the walk ---- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned int total_steps;

/*
 * Walks every step of one command; returns its result once it succeeded
 * (json_object_put it).
 */
static json_object *walk(const char *cmd, const char *args)
{
	unsigned int n, by_class[5] = {};
	static const char *const classes[] = { "map", "netlink", "file", "attach", "any" };
	struct lines before = {}, after = {};
	double t0 = now_s();
	json_object *res = NULL;
	char fault[32], what[1024];

	snapshot(&before);
	for (n = 1;; n++) {
		json_object *reply, *rep, *fired;
		const char *cls;
		size_t c;

		snprintf(fault, sizeof(fault), "any:%u", n);
		reply = request(cmd, args, fault);
		if (!json_object_object_get_ex(reply, "fault", &rep) || !json_object_object_get_ex(rep, "fired", &fired))
			fail_msg("%s: the reply has no fault report (xtapd without --fault-injection?): %s", cmd,
				 json_object_to_json_string(reply));
		cls = fired ? json_object_get_string(fired) : NULL;
		if (reply_ok(reply)) {
			if (cls)
				fail_msg("%s %s: step %u (%s) failed, yet the request succeeded", cmd, args, n, cls);
			if (json_object_object_get_ex(reply, "result", &res))
				json_object_get(res);
			json_object_put(reply);
			break;
		}
		if (!cls)
			fail_msg("%s %s: refused with no fault fired: %s", cmd, args, reply_field(reply, "error"));
		for (c = 0; c < 4; c++)
			if (!strcmp(cls, classes[c]))
				by_class[c]++;
		snprintf(what, sizeof(what), "%s %s refused at step %u (%s: %s)", cmd, args, n, cls,
			 reply_field(reply, "error"));
		json_object_put(reply);
		snapshot(&after);
		assert_same(&before, &after, what);
		lines_free(&after);
	}
	lines_free(&before);
	total_steps += n - 1;
	printf("walk %-12s %3u steps (map %u, netlink %u, file %u, attach %u), all refused with nothing changed, "
	       "then done (%.1f s): %s\n", cmd, n - 1, by_class[0], by_class[1], by_class[2], by_class[3],
	       now_s() - t0, args);
	return res;
}

static void walk_done(const char *cmd, const char *args)
{
	json_object_put(walk(cmd, args));
}

/* ---- tests ---- */

static int group_setup(void **state)
{
	(void)state;
	libbpf_set_print(NULL);   /* queries of hooks with nothing on them are expected to fail */
	env_agent_option = "--fault-injection";
	return env_setup();
}

static int group_teardown(void **state)
{
	(void)state;
	env_vhost_kill_all();
	env_teardown();
	return 0;
}

/* Refused before anything is made: no rtnetlink request at all (the tap is never created). */
static void test_port_add_invalid_mac_touches_nothing(void **state)
{
	static const char *const macs[] = { "01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff" };
	struct lines before = {}, after = {};
	size_t i;

	(void)state;
	must("segment.add", "{\"id\": 9}");
	snapshot(&before);
	for (i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		char args[256];
		json_object *reply, *rep, *calls;

		snprintf(args, sizeof(args), "{\"name\": \"vmX\", \"segment\": 9, \"mac\": \"%s\"}", macs[i]);
		reply = request("port.add", args, "any:1000");
		assert_false(reply_ok(reply));
		assert_non_null(strstr(reply_field(reply, "error"), "MAC"));
		assert_true(json_object_object_get_ex(reply, "fault", &rep) &&
			    json_object_object_get_ex(rep, "calls", &calls));
		if (json_object_get_int(calls) != 0)
			fail_msg("port.add with MAC %s made %d steps before refusing: %s", macs[i],
				 json_object_get_int(calls), json_object_to_json_string(reply));
		json_object_put(reply);
		snapshot(&after);
		assert_same(&before, &after, "port.add with an invalid MAC");
		lines_free(&after);
	}
	lines_free(&before);
	must("segment.del", "{\"id\": 9}");
}

/* An adopted tap after its port.del: still there, none of our programs left on it. */
static void assert_no_programs(const char *ifname)
{
	int ifindex = if_nametoindex(ifname);
	char ing[128], egr[128];
	LIBBPF_OPTS(bpf_xdp_query_opts, x);

	assert_int_not_equal(ifindex, 0);
	assert_int_equal(bpf_xdp_query(ifindex, 0, &x), 0);
	tc_progs(ifindex, TCX_INGRESS, BPF_TC_INGRESS, ing, sizeof(ing));
	tc_progs(ifindex, TCX_EGRESS, BPF_TC_EGRESS, egr, sizeof(egr));
	if (x.prog_id || ing[0] || egr[0])
		fail_msg("%s: programs left: xdp %u, tc ingress %s, tc egress %s", ifname, x.prog_id, ing, egr);
}

/* Every command that changes state, walked in an order where each builds on the last. */
static void test_walk_every_command(void **state)
{
	json_object *rule, *id;
	char args[256];
	double t0 = now_s();

	(void)state;
	walk_done("segment.add", "{\"id\": 1, \"uplink\": \"uplink0\"}");
	walk_done("segment.add", "{\"id\": 2}");
	/* The uplink is attached already: a failure must not detach it from segment 1. */
	walk_done("segment.add", "{\"id\": 3, \"uplink\": \"uplink0\", \"vlan\": 7}");
	/* The overlay, on underlays of its own (veths ul0 and ul2, IPv4 forwarding on). */
	assert_int_equal(system("ip link add ul0 type veth peer name ul1 && ip link add ul2 type veth peer name ul3 && "
				"for i in ul0 ul1 ul2 ul3; do ip link set $i up; done && "
				"ip addr add 198.51.100.1/24 dev ul0 && ip addr add 203.0.113.1/24 dev ul2 && "
				"sysctl -qw net.ipv4.conf.ul0.forwarding=1 net.ipv4.conf.ul2.forwarding=1"), 0);
	walk_done("segment.add", "{\"id\": 4, \"vni\": 4000}");
	walk_done("overlay.underlay.set", "{\"ifname\": \"ul0\", \"vtep\": \"198.51.100.1\"}");
	walk_done("overlay.vtep.add", "{\"segment\": 4, \"ip\": \"198.51.100.2\"}");
	walk_done("overlay.vtep.add", "{\"segment\": 4, \"ip\": \"198.51.100.3\"}");
	walk_done("overlay.mac.add", "{\"segment\": 4, \"mac\": \"02:00:00:00:04:01\", \"vtep\": \"198.51.100.2\"}");
	/* A remote VM that moved to another host. */
	walk_done("overlay.mac.add", "{\"segment\": 4, \"mac\": \"02:00:00:00:04:01\", \"vtep\": \"198.51.100.3\"}");
	walk_done("port.add", "{\"name\": \"vmE\", \"segment\": 4, \"mac\": \"02:00:00:00:04:0e\", \"mtu\": 1450}");
	/* The underlay moves: programs and neighbours go with it. */
	walk_done("overlay.underlay.set", "{\"ifname\": \"ul2\", \"vtep\": \"203.0.113.1\"}");
	walk_done("port.add", "{\"name\": \"vmA\", \"segment\": 1, \"mac\": \"02:00:00:00:01:0a\", "
		  "\"addrs\": [\"10.1.0.10/32\"]}");
	walk_done("port.add", "{\"name\": \"vmB\", \"segment\": 1, \"mac\": \"02:00:00:00:01:0b\", \"queues\": 2, "
		  "\"addrs\": [\"10.1.0.11/32\", \"2001:db8::b/128\"], "
		  "\"acl\": {\"to-vm\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"proto\": \"tcp\", "
		  "\"ports\": \"22\", \"cidr\": \"10.9.0.0/16\"}]}}, "
		  "\"rate\": {\"from-vm\": {\"bytes_per_sec\": 1000000, \"burst_bytes\": 262144}}}");
	walk_done("port.add", "{\"name\": \"vmC\", \"segment\": 3, \"mac\": \"02:00:00:00:01:0c\"}");
	/* A tap made by someone else: adopted, and on port.del left in place without our programs. */
	assert_int_equal(system("ip tuntap add dev vmD mode tap"), 0);
	walk_done("port.add", "{\"name\": \"vmD\", \"adopt\": true, \"segment\": 2, \"mac\": \"02:00:00:00:01:0d\"}");
	walk_done("addr.add", "{\"port\": \"vmA\", \"addr\": \"10.2.0.0/24\"}");
	walk_done("addr.add", "{\"port\": \"vmA\", \"addr\": \"2001:db8::a/128\"}");
	rule = walk("acl.add", "{\"port\": \"vmA\", \"dir\": \"from-vm\", \"action\": \"deny\", \"cidr\": \"10.9.0.0/16\", "
		    "\"proto\": \"tcp\", \"ports\": \"22\"}");
	walk_done("acl.add", "{\"port\": \"vmA\", \"dir\": \"to-vm\", \"action\": \"allow\", \"proto\": \"udp\", "
		  "\"ports\": \"53\"}");
	walk_done("acl.default", "{\"port\": \"vmA\", \"dir\": \"to-vm\", \"action\": \"deny\"}");
	walk_done("rate.set", "{\"port\": \"vmA\", \"dir\": \"from-vm\", \"bytes_per_sec\": 1000000}");
	walk_done("rate.set", "{\"port\": \"vmA\", \"dir\": \"from-vm\", \"packets_per_sec\": 5000}");
	walk_done("rate.clear", "{\"port\": \"vmA\", \"dir\": \"from-vm\"}");
	assert_true(json_object_object_get_ex(rule, "id", &id));
	snprintf(args, sizeof(args), "{\"port\": \"vmA\", \"dir\": \"from-vm\", \"id\": %d}", json_object_get_int(id));
	json_object_put(rule);
	walk_done("acl.del", args);
	walk_done("addr.del", "{\"port\": \"vmA\", \"addr\": \"10.2.0.0/24\"}");
	/* The whole policy replaced at once, the tap kept (what xtapd --etcd applies). */
	walk_done("port.set", "{\"name\": \"vmA\", \"segment\": 1, \"mac\": \"02:00:00:00:01:0a\", "
		  "\"addrs\": [\"10.1.0.10/32\", \"10.4.0.0/24\", \"2001:db8::a/128\"], "
		  "\"acl\": {\"from-vm\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", "
		  "\"proto\": \"udp\", \"ports\": \"53\"}]}}, "
		  "\"rate\": {\"to-vm\": {\"packets_per_sec\": 5000, \"burst_packets\": 1500}}}");
	walk_done("port.del", "{\"name\": \"vmB\"}");
	walk_done("port.del", "{\"name\": \"vmC\"}");
	walk_done("port.del", "{\"name\": \"vmD\"}");
	assert_no_programs("vmD");
	walk_done("port.del", "{\"name\": \"vmE\"}");
	walk_done("overlay.mac.del", "{\"segment\": 4, \"mac\": \"02:00:00:00:04:01\"}");
	walk_done("overlay.vtep.del", "{\"segment\": 4, \"ip\": \"198.51.100.2\"}");
	walk_done("overlay.vtep.del", "{\"segment\": 4, \"ip\": \"198.51.100.3\"}");
	walk_done("segment.del", "{\"id\": 4}");
	/* Segment 1 still uses the uplink: it stays attached. */
	walk_done("segment.del", "{\"id\": 3}");
	walk_done("segment.del", "{\"id\": 2}");
	walk_done("port.del", "{\"name\": \"vmA\"}");
	/* The uplink's last segment: detached. */
	walk_done("segment.del", "{\"id\": 1}");
	printf("walked %u fault points in %.1f s\n", total_steps, now_s() - t0);
}

static int log_has(const char *what)
{
	FILE *f = fopen(ENV_LOG, "r");
	char line[1024];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

/*
 * The switch is off unless xtapd was started with --fault-injection: a
 * request's "fault" is refused and XTAP_FAULT ignored. With it, XTAP_FAULT
 * fails the Nth step counted from start (here the start-up's state save).
 */
static void test_fault_switch_guarded(void **state)
{
	json_object *reply, *res;

	(void)state;
	env_agent_kill();
	setenv("XTAP_FAULT", "file:1", 1);
	env_agent_option = NULL;
	assert_true(env_agent_start() > 0);
	reply = request("status", NULL, "any:1");
	assert_false(reply_ok(reply));
	assert_non_null(strstr(reply_field(reply, "error"), "--fault-injection"));
	json_object_put(reply);
	assert_true(log_has("XTAP_FAULT is ignored"));
	json_object_put(must("segment.add", "{\"id\": 5}"));

	env_agent_kill();
	env_agent_option = "--fault-injection";
	assert_true(env_agent_start() > 0);
	unsetenv("XTAP_FAULT");
	assert_true(log_has("XTAP_FAULT: step 1 of class file will fail"));
	assert_true(log_has("saving state to " ENV_STATE " failed (writing the new version): Input/output error"));
	/* Fired once: the next save works. */
	res = must("segment.del", "{\"id\": 5}");
	json_object_put(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_add_invalid_mac_touches_nothing),
		cmocka_unit_test(test_walk_every_command),
		cmocka_unit_test(test_fault_switch_guarded),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
