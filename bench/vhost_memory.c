// SPDX-License-Identifier: GPL-2.0
/*
 * Memory per port of vhost-user serving: what N more ports' xtap-vhost
 * processes take from the host.
 *   1. N xtap-vhost processes started directly (no xtapd, no frontend), R
 *      rounds: the growth of the host's AnonPages, PageTables, KernelStack,
 *      Slab and the drop of MemAvailable, divided by N (the median round);
 *      and each process's own numbers (RSS, PSS, USS, Anonymous, VmPTE).
 *   2. N ports added through the real xtapd (taps, BPF programs attached,
 *      one xtap-vhost each): the same host numbers per port, so for the
 *      whole port, not only its xtap-vhost.
 * usage: XTAP_BUILD=build vhost_memory [N] [R]   (defaults 100 ports, 5 rounds)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_env.h"
#include "bench_util.h"

#define MAX_PORTS 4096

/* The host's memory, from /proc/meminfo (kB). */
struct host {
	long avail, anon, ptables, kstack, slab, shmem;
};

static long field(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static struct host host_now(void)
{
	return (struct host){
		.avail = field("/proc/meminfo", "MemAvailable"), .anon = field("/proc/meminfo", "AnonPages"),
		.ptables = field("/proc/meminfo", "PageTables"), .kstack = field("/proc/meminfo", "KernelStack"),
		.slab = field("/proc/meminfo", "Slab"), .shmem = field("/proc/meminfo", "Shmem"),
	};
}

/* Per port: b - a over n (MemAvailable: its drop). */
struct per_port {
	double avail, anon, ptables, kstack, slab, shmem, kernel_accounted;
};

static struct per_port per_port(struct host a, struct host b, int n)
{
	struct per_port p = {
		.avail = (double)(a.avail - b.avail) / n, .anon = (double)(b.anon - a.anon) / n,
		.ptables = (double)(b.ptables - a.ptables) / n, .kstack = (double)(b.kstack - a.kstack) / n,
		.slab = (double)(b.slab - a.slab) / n, .shmem = (double)(b.shmem - a.shmem) / n,
	};

	p.kernel_accounted = p.anon + p.ptables + p.kstack + p.slab + p.shmem;
	return p;
}

/* One process's own numbers (kB), summed over processes by the caller. */
struct proc_mem {
	double rss, pss, uss, anon, pte;
};

static void proc_add(struct proc_mem *m, pid_t pid)
{
	char rollup[64], status[64];
	long rss, pss, pc, pd, anon, pte;

	snprintf(rollup, sizeof(rollup), "/proc/%d/smaps_rollup", pid);
	snprintf(status, sizeof(status), "/proc/%d/status", pid);
	rss = field(rollup, "Rss");
	pss = field(rollup, "Pss");
	pc = field(rollup, "Private_Clean");
	pd = field(rollup, "Private_Dirty");
	anon = field(rollup, "Anonymous");
	pte = field(status, "VmPTE");
	if (rss < 0 || pss < 0 || pc < 0 || pd < 0 || anon < 0 || pte < 0)
		die("xtap-vhost %d: no /proc/%d/smaps_rollup or status (did it exit?)", pid, pid);
	m->rss += rss;
	m->pss += pss;
	m->uss += pc + pd;
	m->anon += anon;
	m->pte += pte;
}

static void print_row(const char *what, int n, const struct per_port *p, const struct proc_mem *m)
{
	printf("%-34s %5d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %10.1f", what, n, p->avail, p->anon, p->ptables,
	       p->kstack, p->slab, p->shmem, p->kernel_accounted);
	if (m)
		printf(" %8.0f %7.1f %7.1f %7.1f %7.1f", m->rss / n, m->pss / n, m->uss / n, m->anon / n, m->pte / n);
	printf("\n");
}

static void header(void)
{
	printf("%-34s %5s %9s %9s %9s %9s %9s %9s %10s %8s %7s %7s %7s %7s\n", "case (kB per port)", "ports",
	       "MemAvail", "AnonPg", "PageTbl", "KStack", "Slab", "Shmem", "host sum", "RSS", "PSS", "USS",
	       "Anon", "VmPTE");
}

static char dir[] = "/tmp/xtap-vhost-memory.XXXXXX";
static pid_t pids[MAX_PORTS];
static int n_pids;

static void stop_all(void)
{
	int i;

	for (i = 0; i < n_pids; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < n_pids; i++)
		waitpid(pids[i], NULL, 0);
	n_pids = 0;
}

static void cleanup(void)
{
	stop_all();
	env_teardown();
}

/* Starts n xtap-vhost processes and returns once each has written its status file. */
static void start_standalone(const char *bin, int n)
{
	char port[16], sock[128], status[128];
	double end;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(port, sizeof(port), "m%d", i);
		snprintf(sock, sizeof(sock), "%s/%s.sock", dir, port);
		snprintf(status, sizeof(status), "%s/%s.json", dir, port);
		pids[n_pids] = fork();
		if (pids[n_pids] < 0)
			die("fork: %s", strerror(errno));
		if (!pids[n_pids]) {
			execl(bin, bin, "--port", port, "--socket", sock, "--status", status, (char *)NULL);
			_exit(127);
		}
		n_pids++;
	}
	end = now_s() + 60;
	for (i = 0; i < n; i++) {
		snprintf(status, sizeof(status), "%s/m%d.json", dir, i);
		while (access(status, F_OK)) {
			if (now_s() > end)
				die("xtap-vhost m%d wrote no status file %s in 60 s", i, status);
			sleep_s(0.01);
		}
	}
}

/* Each column's median over the rounds (other work on the host moves the columns independently). */
static struct per_port median_row(const struct per_port *rows, int n)
{
	double v[16];
	struct per_port m;
	int i;

#define MEDIAN(f) do { for (i = 0; i < n; i++) v[i] = rows[i].f; m.f = stats(v, n).med; } while (0)
	MEDIAN(avail);
	MEDIAN(anon);
	MEDIAN(ptables);
	MEDIAN(kstack);
	MEDIAN(slab);
	MEDIAN(shmem);
	MEDIAN(kernel_accounted);
#undef MEDIAN
	return m;
}

/* The ports' xtap-vhost pids, from their status files in xtapd's vhost directory. */
static void xtapd_vhost_mem(struct proc_mem *m, int n)
{
	char path[256];
	json_object *st, *o;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), ENV_VHOST_DIR "/b%d.json", i);
		st = json_object_from_file(path);
		if (!st || !json_object_object_get_ex(st, "pid", &o))
			die("port b%d: no xtap-vhost status %s", i, path);
		proc_add(m, json_object_get_int(o));
		json_object_put(st);
	}
}

int main(int argc, char **argv)
{
	const char *build = getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build";
	int n = argc > 1 ? atoi(argv[1]) : 100, rounds = argc > 2 ? atoi(argv[2]) : 5, r, i;
	struct per_port rows[16], mid, port_row;
	struct proc_mem m = { 0 }, xm = { 0 };
	double per_port_kb, slab_min, slab_max;
	struct host a, b;
	char bin[512], loadavg[64] = "?";
	FILE *f;

	bench_name = "vhost_memory";
	bench_cleanup = cleanup;
	if (n < 1 || n > MAX_PORTS || rounds < 1 || rounds > 16)
		die("usage: vhost_memory [PORTS 1-%d] [ROUNDS 1-16]", MAX_PORTS);
	snprintf(bin, sizeof(bin), "%s/xtap-vhost", build);
	if (access(bin, X_OK))
		die("%s: %s (make %s first, or set XTAP_BUILD)", bin, strerror(errno), bin);
	if (env_setup())
		die("setting up the sandbox failed");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));

	/* 1. xtap-vhost alone, R rounds: the median round by the host's sum. */
	for (r = 0; r < rounds; r++) {
		a = host_now();
		start_standalone(bin, n);
		b = host_now();
		rows[r] = per_port(a, b, n);
		if (r == rounds - 1)
			for (i = 0; i < n_pids; i++)
				proc_add(&m, pids[i]);
		stop_all();
	}
	mid = median_row(rows, rounds);
	rmdir(dir);

	/* 2. Ports through xtapd: tap, BPF, xtap-vhost each. */
	for (i = 1; i <= (n + 255) / 256; i++)
		xctl("segment add %d", i);
	a = host_now();
	for (i = 0; i < n; i++)
		xctl("port add b%d --segment %d --mac 02:00:00:%02x:%02x:%02x --addr 10.%d.%d.%d/32", i, 1 + i / 256,
		     (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 20 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
	for (i = 0; i < n; i++) {
		char path[256];
		double end = now_s() + 60;

		snprintf(path, sizeof(path), ENV_VHOST_DIR "/b%d.json", i);
		while (access(path, F_OK)) {
			if (now_s() > end)
				die("port b%d: xtap-vhost wrote no status file in 60 s", i);
			sleep_s(0.01);
		}
	}
	b = host_now();
	port_row = per_port(a, b, n);
	xtapd_vhost_mem(&xm, n);
	for (i = 0; i < n; i++)
		xctl("port del b%d", i);
	env_teardown();
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(loadavg, sizeof(loadavg), f))
		loadavg[strcspn(loadavg, "\n")] = 0;
	if (f)
		fclose(f);

	printf("memory per port (kB): host = /proc/meminfo growth over the ports / ports (MemAvail: its drop);\n"
	       "process = each xtap-vhost's /proc/PID/smaps_rollup and status, averaged. Other work on the host moves\n"
	       "the host columns (load average now: %s); the process columns are exact.\n", loadavg);
	header();
	for (r = 0; r < rounds; r++) {
		char what[64];

		snprintf(what, sizeof(what), "xtap-vhost alone, round %d", r + 1);
		print_row(what, n, &rows[r], r == rounds - 1 ? &m : NULL);
	}
	print_row("xtap-vhost alone, median per column", n, &mid, NULL);
	print_row("port through xtapd (tap+BPF+vhost)", n, &port_row, &xm);
	/*
	 * The headline: the process's own private memory (anonymous pages and
	 * page tables: exact, from /proc/PID) plus what the kernel keeps for it
	 * (its thread's stack, its objects in the slab: the host's growth,
	 * median). The host's AnonPages and PageTables columns say the same as
	 * the process's when the host is quiet; on a busy host they are noise.
	 */
	for (r = 0, slab_min = slab_max = rows[0].slab; r < rounds; r++) {
		slab_min = rows[r].slab < slab_min ? rows[r].slab : slab_min;
		slab_max = rows[r].slab > slab_max ? rows[r].slab : slab_max;
	}
	/* On a quiet host the host's AnonPages growth is the processes' own anonymous memory. */
	if (mid.anon < 0.75 * m.anon / n || mid.anon > 1.25 * m.anon / n)
		printf("the host columns disagree with the processes' own (AnonPages %.1f vs Anonymous %.1f kB): other work "
		       "moved them; for the host's numbers run this on a quiet host\n", mid.anon, m.anon / n);
	per_port_kb = m.anon / n + m.pte / n + mid.kstack + mid.slab;
	printf("headline vhost-memory-per-port %.0f kB: anonymous %.1f + page tables %.1f (each process's own) + kernel stack "
	       "%.1f + slab %.1f (host growth, median of %d rounds of %d xtap-vhost, slab from %.1f to %.1f); budget 200 kB\n",
	       per_port_kb, m.anon / n, m.pte / n, mid.kstack, mid.slab, rounds, n, slab_min, slab_max);
	return 0;
}
