/* SPDX-License-Identifier: GPL-2.0 */
/* xtapctl's read-only views from the pinned maps, used when xtapd is down. NULL: no maps. */
#ifndef XTAPCTL_MAPS_H
#define XTAPCTL_MAPS_H

#include <json-c/json.h>

json_object *xtapctl_maps_port_list(const char *pin_dir);
json_object *xtapctl_maps_stats(const char *pin_dir, const char *port);
json_object *xtapctl_maps_fdb(const char *pin_dir);

#endif
