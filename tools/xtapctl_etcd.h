/* SPDX-License-Identifier: GPL-2.0 */
/* xtapctl --etcd URL [--host HOST]: a command of the table run against etcd (xtapctl_etcd.c). */
#ifndef XTAPCTL_ETCD_H
#define XTAPCTL_ETCD_H

#include <json-c/json.h>

#include "ctl_commands.h"

/* Returns xtapctl's exit code (include/xtap_ctl.h). */
int xtapctl_etcd_run(const char *url, const char *host, const struct xtap_ctl_cmd *c, json_object *args);

#endif
