/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapctl from cmocka tests (tiers 2 and 4): a command that must succeed,
 * its JSON, a counter. A failure fails the running test with xtapctl's
 * output. Runs the CLI through agent_env's ctl().
 */
#ifndef XTAP_TEST_AGENT_CTL_H
#define XTAP_TEST_AGENT_CTL_H

#include <stdint.h>
#include <json-c/json.h>

/* Output (stdout+stderr) of the last xtapctl run by these helpers, or by ctl(ctl_out, ...). */
extern char ctl_out[65536];

/* Runs xtapctl with the arguments; fails the test unless it exits 0. */
void must_ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* xtapctl -j ...: the parsed reply (json_object_put it); fails the test on error. */
json_object *ctl_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A packet counter from `xtapctl -j stats PORT`: dir, group (verdicts/drops), name. */
int64_t stat_of(const char *port, const char *dir, const char *group, const char *name);

struct vm;
/* port add NAME --segment S --mac MAC --addr IP/32, then the VM's tap opened (v's mac and ip4 set); 0 or -1 (printed). */
int ctl_vm_add(struct vm *v, int segment, const char *mac, const char *ip);

#endif
