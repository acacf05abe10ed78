/* SPDX-License-Identifier: GPL-2.0 */
/*
 * All-or-nothing map changes: every write the map writer makes goes through
 * map_io.c, which the fault switch counts (class map) and which, while a
 * transaction is open, journals the entry's old value here.
 * A failed request rolls the journal back (old values restored, in reverse
 * order); a committed one forgets the journal. See "Requests: prepare,
 * commit, undo" in docs/architecture.md.
 *
 * xtapd serves one request at a time: there is one transaction, nested
 * begins join it, and only its owner (the first begin) ends it.
 */
#ifndef XTAP_MAP_TXN_H
#define XTAP_MAP_TXN_H

#include <stddef.h>

#include "datapath.h"

/* Opens the transaction, or joins the open one. Returns the owner token to pass to xtap_map_txn_end(). */
int xtap_map_txn_begin(void);
/*
 * The owner ends it: commit (failed == 0: the journal is forgotten) or roll
 * back (every journaled entry gets its old value back, the undo actions run).
 * A joined caller's end does nothing: its failure reaches the owner as an error.
 * Returns 0, or -EIO when a rollback step failed (then logged: the maps and
 * the request's intent differ).
 */
int xtap_map_txn_end(const struct xtap_datapath *dp, int owner, int failed);

/*
 * Called by map_io.c before each write or delete: keeps the entry's value
 * (or its absence) while a transaction is open. 0, or -errno when it could
 * not be kept (the write must then not happen).
 */
int xtap_map_txn_journal(int fd, const void *key);

/*
 * What besides the maps an undo must take back (state kept in memory),
 * run in reverse order with the journal; nothing when no transaction is open.
 */
typedef void (*xtap_map_txn_fn)(const struct xtap_datapath *dp);
int xtap_map_txn_on_rollback(xtap_map_txn_fn fn);

#endif /* XTAP_MAP_TXN_H */
