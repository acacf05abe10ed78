// SPDX-License-Identifier: GPL-2.0
/* Helpers the benchmark programs share (bench_util.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent_env.h"
#include "bench_util.h"

const char *bench_name = "bench";
void (*bench_cleanup)(void);

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void sleep_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", bench_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (bench_cleanup)
		bench_cleanup();
	exit(1);
}

void sh(const char *fmt, ...)
{
	char cmd[1024], full[1100];
	va_list ap;
	FILE *log;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* The command line is logged from here: it may hold quotes, and a shell's echo would split on them. */
	log = fopen(BENCH_SETUP_LOG, "a");
	if (log) {
		fprintf(log, "+ %s\n", cmd);
		fclose(log);
	}
	/* Braces: all of a compound command's output goes to the log, not only its last part's. */
	snprintf(full, sizeof(full), "{ %s\n} >>" BENCH_SETUP_LOG " 2>&1", cmd);
	if (system(full)) {
		if (system("tail -n 5 " BENCH_SETUP_LOG " >&2")) {}
		die("\"%s\" failed", cmd);
	}
}

void sh_out(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	size_t got = 0, n;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf[0] = 0;
	f = popen(cmd, "r");
	if (!f)
		return;
	while (got + 1 < len && (n = fread(buf + got, 1, len - got - 1, f)) > 0)
		got += n;
	buf[got] = 0;
	pclose(f);
}

void xctl(const char *fmt, ...)
{
	char cmd[512], out[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (ctl(out, sizeof(out), "%s", cmd))
		die("xtapctl %s: %s", cmd, out);
}

json_object *ctl_json(const char *fmt, ...)
{
	static char out[1 << 20];
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (ctl(out, sizeof(out), "-j %s", cmd))
		die("xtapctl -j %s: %s", cmd, out);
	return json_tokener_parse(out);
}

int64_t jget(json_object *o, ...)
{
	const char *k;
	va_list ap;

	va_start(ap, o);
	while (o && (k = va_arg(ap, const char *)))
		o = json_object_object_get(o, k);
	va_end(ap);
	return o ? json_object_get_int64(o) : -1;
}

void bench_out_open(struct bench_out *o, const char *build, const char *name)
{
	snprintf(o->csv, sizeof(o->csv), "%s/bench", build);
	mkdir(o->csv, 0755);
	snprintf(o->csv, sizeof(o->csv), "%s/bench/%s.csv", build, name);
	snprintf(o->dat, sizeof(o->dat), "%s/bench/%s.dat", build, name);
	snprintf(o->png, sizeof(o->png), "%s/bench/%s.png", build, name);
	o->f = fopen(o->csv, "w");
	o->d = fopen(o->dat, "w");
	if (!o->f || !o->d)
		die("%s: %s", o->csv, strerror(errno));
}

void bench_out_plot(struct bench_out *o, const char *script)
{
	char cmd[2048];

	fclose(o->f);
	fclose(o->d);
	printf("\nCSV: %s\n", o->csv);
	if (system("command -v gnuplot >/dev/null 2>&1"))
		return;
	snprintf(cmd, sizeof(cmd), "gnuplot -e \"%s\" 2>&1", script);
	if (system(cmd) == 0)
		printf("plot: %s\n", o->png);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 stats(const double *v, int n)
{
	double *s = malloc(n * sizeof(*s));
	struct stat3 r;

	if (!s)
		die("out of memory");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return r;
}
