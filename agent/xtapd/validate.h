/* SPDX-License-Identifier: GPL-2.0 */
/* Validation of what an operator asks for, before anything changes. */
#ifndef XTAP_VALIDATE_H
#define XTAP_VALIDATE_H

#include "err.h"
#include "policy_spec.h"

/* A port spec the datapath can hold: ids, MAC, MTU, addresses, ACL, rates (not the tap: checked before it is made). */
int xtap_validate_port_spec(const struct xtap_port_spec *s, struct xtap_err *err);

#endif
