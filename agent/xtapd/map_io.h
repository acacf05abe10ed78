/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every entry the map writer (maps_*.c) writes or deletes goes through here:
 * one place to count, fail on purpose or journal map changes.
 */
#ifndef XTAP_MAP_IO_H
#define XTAP_MAP_IO_H

#include "err.h"

/* Writes one entry (created or replaced). Returns 0 or -errno. */
int xtap_map_update(int fd, const void *key, const void *value);
/* Deletes one entry; a missing key is no error. Returns 0 or -errno. */
int xtap_map_delete(int fd, const void *key);

/* Sets err for a failed write to map `map` ("is full" for the codes that mean so); returns code. */
int xtap_map_fail(struct xtap_err *err, const char *map, int code);

#endif /* XTAP_MAP_IO_H */
