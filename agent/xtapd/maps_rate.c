// SPDX-License-Identifier: GPL-2.0
/* Rate limits (bpf/ratelimit.h): the conf the programs read, derived here, and the limiter state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "maps.h"

#define NSEC_PER_SEC 1000000000ULL

static __u64 div_round(unsigned __int128 a, __u64 b)
{
	return (__u64)((a + b / 2) / b);
}

void xtap_rate_conf_from_spec(struct xtap_rate_conf *rc, const struct xtap_rate_spec *rs)
{
	memset(rc, 0, sizeof(*rc));
	rc->bytes_per_sec = rs->bytes_per_sec;
	rc->packets_per_sec = rs->packets_per_sec;
	rc->burst_bytes = rs->burst_bytes;
	rc->burst_packets = rs->burst_packets;
	if (rs->bytes_per_sec) {
		rc->ns_per_byte_fp = div_round((unsigned __int128)NSEC_PER_SEC << XTAP_RATE_FP_SHIFT,
					       rs->bytes_per_sec);
		rc->burst_bytes_ns = div_round((unsigned __int128)rs->burst_bytes * NSEC_PER_SEC,
					       rs->bytes_per_sec);
	}
	if (rs->packets_per_sec) {
		rc->ns_per_packet_fp = div_round((unsigned __int128)NSEC_PER_SEC << XTAP_RATE_FP_SHIFT,
						 rs->packets_per_sec);
		rc->burst_packets_ns = div_round((unsigned __int128)rs->burst_packets * NSEC_PER_SEC,
						 rs->packets_per_sec);
	}
}

/* The arrival times and every CPU's credit: a credit is cost at the old rate. */
int xtap_rate_state_reset(const struct xtap_datapath *dp, __u32 port_id, __u32 dir)
{
	struct xtap_rate_credit *credit = calloc(libbpf_num_possible_cpus(), sizeof(*credit));
	struct xtap_rate_state rs = {};
	__u32 idx = port_id * XTAP_DIRS + dir;
	int ret;

	if (!credit)
		return -ENOMEM;
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_RATE_STATE), &idx, &rs);
	if (!ret)
		ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_RATE_CREDIT), &idx, credit);
	free(credit);
	return ret;
}
