// SPDX-License-Identifier: GPL-2.0
/* Commands on a port's rate limits: rate.set, rate.clear. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "validate.h"

/*
 * At least 256 KiB of byte burst: a real guest's TCP sends several 64 KiB TSO
 * frames back to back (with 64 KiB it got 3.3-6.5 of 8 Mbit/s, with 256 KiB 7.9-8.2).
 */
#define XTAP_DEFAULT_MIN_BURST_BYTES (256 * 1024)

/*
 * Default bursts: 300 ms at the rate (bytes: at least XTAP_DEFAULT_MIN_BURST_BYTES, packets 16).
 * A policer drops instead of queueing, and TCP then waits for a retransmission
 * timeout (>= 200 ms): with less credit than that saved up, a sender never gets
 * back to the rate (bench/rate_accuracy: 50 ms gave TCP 0.27 of a 1 Gbit/s
 * limit, 300 ms 0.98).
 */
#define XTAP_DEFAULT_BURST_MS 300

static void rate_defaults(struct xtap_rate_spec *r)
{
	__u64 b = r->bytes_per_sec * XTAP_DEFAULT_BURST_MS / 1000;
	__u64 p = r->packets_per_sec * XTAP_DEFAULT_BURST_MS / 1000;

	if (r->bytes_per_sec && !r->burst_bytes)
		r->burst_bytes = b > XTAP_DEFAULT_MIN_BURST_BYTES ? b : XTAP_DEFAULT_MIN_BURST_BYTES;
	if (r->packets_per_sec && !r->burst_packets)
		r->burst_packets = p > 16 ? p : 16;
}

static int rate_change(struct xtap_agent *a, json_object *args, int set, struct xtap_err *err)
{
	struct xtap_port_conf *p, *next;
	struct xtap_rate_spec r = {};
	int dir, ret;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (!ret)
		ret = xtap_arg_dir(args, &dir, err);
	if (ret)
		return ret;
	if (set && xtap_rate_from_json(args, &r, err)) {
		xtap_err_name_port(err, p->name);
		xtap_err_nothing_changed(err);
		return -EINVAL;
	}
	if (set && !r.bytes_per_sec && !r.packets_per_sec)
		return xtap_fail(err, -EINVAL, "port %s: rate %s: give bytes_per_sec or packets_per_sec above 0 "
				 "(rate clear removes a limit); nothing changed", p->name, xtap_dir_name(dir));
	rate_defaults(&r);
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	next->spec.rate[dir] = r;
	ret = xtap_cmd_port_update(a, p, next, err);
	free(next);
	return ret;
}

XTAP_DEFINE_CMD(cmd_rate_set)
{
	return rate_change(a, args, 1, err);
}

XTAP_DEFINE_CMD(cmd_rate_clear)
{
	return rate_change(a, args, 0, err);
}

const struct xtap_cmd_handler xtap_rate_cmds[] = {
	{ XTAP_CMD_RATE_SET, cmd_rate_set }, { XTAP_CMD_RATE_CLEAR, cmd_rate_clear }, { NULL, NULL },
};
