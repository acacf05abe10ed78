// SPDX-License-Identifier: GPL-2.0
/* xtapctl trace's run: the trace copies (datapath.c) under BPF_PROG_TEST_RUN (trace.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace.h"

int xtap_trace_run(struct xtap_datapath *dp, int dir, __u32 ifindex, const __u8 *frame, size_t len,
		   struct xtap_trace *t, int *retval, struct xtap_err *err)
{
	struct xdp_md xctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len, .repeat = 1);
	int prog = xtap_datapath_trace_prog(dp, dir), map = xtap_datapath_trace_map(dp, dir);
	__u32 zero = 0;

	if (prog < 0)
		return xtap_fail(err, prog, "loading the trace copy of the %s program: %s", dir ? "to-vm" : "from-vm",
				 strerror(-prog));
	memset(t, 0, sizeof(*t));
	if (bpf_map_update_elem(map, &zero, t, 0))
		return xtap_fail(err, -errno, "clearing xtap_trace: %s", strerror(errno));
	if (dir == XTAP_DIR_FROM_VM) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	}
	if (bpf_prog_test_run_opts(prog, &o))
		return xtap_fail(err, -errno, "running the trace: %s", strerror(errno));
	*retval = (int)o.retval;
	if (bpf_map_lookup_elem(map, &zero, t))
		return xtap_fail(err, -errno, "reading xtap_trace: %s", strerror(errno));
	return 0;
}

long long xtap_trace_rule_id(const struct xtap_datapath *dp, __u32 ifindex, int dir, __u32 slot)
{
	struct xtap_acl_set *set = malloc(sizeof(*set));
	long long id = -1;
	struct xtap_port p;
	__u32 i;

	if (set && !bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex, &p) &&
	    !bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &p.acl[dir & 1].set, set))
		for (i = 0; i < set->count && i < XTAP_MAX_ACL_RULES && id < 0; i++)
			if (set->rules[i].hit_slot == slot && set->rules[i].rank != XTAP_ACL_RANK_FREE)
				id = set->rules[i].rule_id;
	free(set);
	return id;
}
