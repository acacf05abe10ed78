/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the benchmark programs share: time, fatal errors, shell commands,
 * xtapctl requests (through tests/host/agent_env's ctl()) and median/min/max.
 */
#ifndef XTAP_BENCH_UTIL_H
#define XTAP_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* What die() prints before its message ("NAME: ") and calls before exit(1) (may be NULL). */
extern const char *bench_name;
extern void (*bench_cleanup)(void);

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
/* Sleeps s seconds, through EINTR. */
void sleep_s(double s);
/* "bench_name: message" on stderr, bench_cleanup(), exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define BENCH_SETUP_LOG "/run/xtap-test/setup.log"
/* A shell command in the sandbox; its output goes to BENCH_SETUP_LOG, whose tail is shown when it fails (then die()). */
void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A command's whole output (stdout), in buf. */
void sh_out(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An xtapctl command that must succeed (die() otherwise). */
void xctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `xtapctl -j ...`, parsed (die() when xtapctl fails); the caller puts it. */
json_object *ctl_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The integer at o's path of keys (NULL-terminated); -1 when a key is missing. */
int64_t jget(json_object *o, ...);

struct stat3 {
	double med, min, max;
};

/* A benchmark's outputs: BUILD/bench/NAME.csv (the table), NAME.dat (gnuplot's input), NAME.png. */
struct bench_out {
	char csv[512], dat[512], png[512];
	FILE *f, *d;   /* csv and dat, open for writing */
};

/* Creates BUILD/bench and opens NAME.csv and NAME.dat (die() when it cannot). */
void bench_out_open(struct bench_out *o, const char *build, const char *name);
/* Closes both, prints "CSV: path", and with gnuplot installed runs `gnuplot -e "script"` and prints "plot: png". */
void bench_out_plot(struct bench_out *o, const char *script);

/* Median (mean of the middle two for even n), min and max of n >= 1 values. */
struct stat3 stats(const double *v, int n);

#endif
