/* SPDX-License-Identifier: GPL-2.0 */
/* Validation of what an operator asks for, before anything changes. */
#ifndef XTAP_VALIDATE_H
#define XTAP_VALIDATE_H

#include "err.h"
#include "model.h"
#include "policy_spec.h"

/*
 * The longest burst the rate limiter holds, as time at the rate: its
 * nanoseconds, shifted by XTAP_RATE_TAT_SHIFT, must stay far from wrapping.
 */
#define XTAP_MAX_BURST_SECONDS 3600

/* A spec the datapath can hold (ids, interface, MAC, MTU, addresses, ACL, rates); messages name the port id. */
int xtap_validate_port_spec(const struct xtap_port_spec *s, struct xtap_err *err);

/*
 * A port as a command would leave it (p), against the model: its fields
 * (but not its interface, which may not exist yet), its owner ids, its
 * segment, and a MAC and addresses no other port of the segment holds
 * unless both mark an address shared. cur: the port as it is (NULL for a
 * new one); when p keeps its ids, MAC and addresses, the other ports are not
 * walked again. Messages name the port and the other party, and end with
 * "nothing changed".
 */
int xtap_validate_port(const struct xtap_model *m, const struct xtap_port_conf *cur,
		       const struct xtap_port_conf *p, struct xtap_err *err);

/* A whole model as loaded from a state file: owner ids, MACs and addresses apart within each segment. */
int xtap_validate_model(const struct xtap_model *m, struct xtap_err *err);

/* Ends a refusal's message with "; nothing changed" (when there is room). */
void xtap_err_nothing_changed(struct xtap_err *err);

/* Starts a message from the map writer or the kernel with "port NAME: " (they know ids, not names). */
void xtap_err_name_port(struct xtap_err *err, const char *name);

#endif
