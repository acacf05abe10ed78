/* SPDX-License-Identifier: GPL-2.0 */
/* The fuzz tier's ports, segments and policy (world.c), in the model's terms. */
#ifndef XTAP_FUZZ_WORLD_H
#define XTAP_FUZZ_WORLD_H

#include "model.h"

#define WORLD_VLAN 100
#define WORLD_PACKETS_PER_SEC 2000
#define WORLD_BURST_PACKETS 200

void world_init(struct mdl_world *w);

#endif /* XTAP_FUZZ_WORLD_H */
