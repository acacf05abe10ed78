/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every control command, once: its name on the wire, its words on xtapctl's
 * command line, its arguments (JSON key, type, whether required, the
 * xtapctl option or position) and its help. xtapd checks requests against
 * it and maps the names to its handlers; xtapctl builds its parser, its
 * help and its usage from it (the model: xdp-tools' DEFINE_COMMAND/params.c).
 */
#ifndef XTAP_CTL_COMMANDS_H
#define XTAP_CTL_COMMANDS_H

#include <json-c/json.h>

#include "err.h"
#include "xtap_ctl.h"

enum xtap_arg_type {
	XTAP_ARG_STRING,    /* a JSON string */
	XTAP_ARG_UINT,      /* a JSON integer >= 0; its range is the handler's to check */
	XTAP_ARG_BOOL,      /* true or false; on the command line an option without a value */
	XTAP_ARG_STRINGS,   /* an array of strings; on the command line a repeatable option */
	XTAP_ARG_OBJECT,    /* a JSON object (a port's acl and rate as stored: no command-line form) */
};

/* How xtapctl reads a number given on its command line. */
enum xtap_arg_unit {
	XTAP_UNIT_NONE,     /* a plain integer */
	XTAP_UNIT_SI,       /* k, m, g: 1000s */
	XTAP_UNIT_BITS,     /* bits with k, m, g (1000s), sent as bytes */
	XTAP_UNIT_BINARY,   /* k, m, g: 1024s */
};

#define XTAP_ARG_F_REQUIRED 0x1u   /* the request must give it */
#define XTAP_ARG_F_API_ONLY 0x2u   /* a field of the stored port: no xtapctl form */
#define XTAP_ARG_F_REST     0x4u   /* the last positional: xtapctl joins the words left with spaces */

struct xtap_ctl_arg {
	const char *key;           /* the key in "args" */
	enum xtap_arg_type type;
	unsigned int flags;        /* XTAP_ARG_F_* */
	const char *option;        /* xtapctl's "--segment"; NULL: a positional argument, in table order */
	const char *metavar;       /* "ID", "MAC"; for a positional also its name in usage */
	enum xtap_arg_unit unit;   /* XTAP_ARG_UINT given to xtapctl */
	const char *help;
};

#define XTAP_CMD_F_FDS  0x1u   /* the reply carries file descriptors (SCM_RIGHTS) */
#define XTAP_CMD_F_EXEC 0x2u   /* xtapctl runs a command given after "--" with them */

struct xtap_ctl_cmd {
	const char *name;                  /* "port.add" (XTAP_CMD_*) */
	const char *words;                 /* "port add" */
	const struct xtap_ctl_arg *args;   /* ends with a NULL key */
	unsigned int flags;                /* XTAP_CMD_F_* */
	const char *help;                  /* one line */
	const char *details;               /* more lines for --help, or NULL */
};

/* Every command; ends with a NULL name. */
extern const struct xtap_ctl_cmd xtap_ctl_cmds[];

const struct xtap_ctl_cmd *xtap_ctl_cmd_find(const char *name);

/*
 * Checks a request's "args" against the command's arguments: an object,
 * no unknown key, every required key, each value of its type (integers
 * must be integers >= 0: not true, 1.5 or -1). Errors name the field.
 */
int xtap_ctl_args_check(const struct xtap_ctl_cmd *c, json_object *args, struct xtap_err *err);

#endif /* XTAP_CTL_COMMANDS_H */
