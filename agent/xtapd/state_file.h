/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The persisted desired state (docs/operations.md): one JSON file, read and
 * checked whole before anything is done with it, never written over unless
 * it loaded, replaced atomically, its previous version kept as FILE.prev.
 *
 * Beside it: FILE.lock (the agent's lock, lib/lock.h), FILE.tmp and FILE.prev.tmp
 * (a save in progress), FILE.prev (the version the last save replaced),
 * FILE.bad (what --recover-state moved away).
 */
#ifndef XTAP_STATE_FILE_H
#define XTAP_STATE_FILE_H

#include <stddef.h>

#include "err.h"
#include "model.h"

/* Takes the state file's lock (FILE.lock; its directory is created if missing): the fd, or -EBUSY naming the holder. */
int xtap_state_lock(const char *path, struct xtap_err *err);

/* The file's text to a model: strict JSON, then every type, range and cross-reference. No side effects. */
int xtap_state_parse(const char *text, size_t len, struct xtap_model *m, struct xtap_err *err);
/* -ENOENT (no message) when there is no file; else as xtap_state_parse, the message starting with path. */
int xtap_state_load(const char *path, struct xtap_model *m, struct xtap_err *err);
/*
 * Writes FILE.tmp and fsyncs it, renames it over FILE, the replaced version
 * kept as FILE.prev, fsyncs the directory. A failure leaves FILE as it was.
 */
int xtap_state_save(const char *path, struct xtap_model *m, struct xtap_err *err);

/*
 * For a file that does not load: loads FILE.prev instead, moves FILE to
 * FILE.bad and saves the model as FILE. Refused when FILE loads.
 */
int xtap_state_recover(const char *path, struct xtap_model *m, struct xtap_err *err);
/* What an operator can do about a file that does not load: FILE.prev and its age, or how to start over. */
void xtap_state_advice(const char *path, char *buf, size_t len);

#endif /* XTAP_STATE_FILE_H */
