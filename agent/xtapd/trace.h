/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A frame through the trace copy of a direction's program (bpf/trace.h)
 * with BPF_PROG_TEST_RUN, against the live maps: what each stage decided,
 * and nothing a frame changes written.
 */
#ifndef XTAP_TRACE_RUN_H
#define XTAP_TRACE_RUN_H

#include <stddef.h>

#include "datapath.h"
#include "err.h"

/* Runs frame as if port ifindex sent it (from VM) or were given it (to VM); *t and the program's return value. */
int xtap_trace_run(struct xtap_datapath *dp, int dir, __u32 ifindex, const __u8 *frame, size_t len,
		   struct xtap_trace *t, int *retval, struct xtap_err *err);
/* The id of the ACL rule with hit slot slot in port ifindex's rules of dir, or -1. */
long long xtap_trace_rule_id(const struct xtap_datapath *dp, __u32 ifindex, int dir, __u32 slot);

#endif
