// SPDX-License-Identifier: GPL-2.0
/* What every command needs: the port or direction a request names, and applying a changed port. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "policy.h"
#include "validate.h"

const char *xtap_arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int xtap_arg_port(struct xtap_agent *a, json_object *args, const char *key, struct xtap_port_conf **p,
		  struct xtap_err *err)
{
	const char *name = xtap_arg_str(args, key);

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"%s\" (the port's name)", key);
	*p = xtap_model_port(&a->model, name);
	if (!*p)
		return xtap_fail(err, -ENOENT, "no port named %s (xtapctl port list shows them); nothing changed", name);
	return 0;
}

int xtap_arg_dir(json_object *args, int *dir, struct xtap_err *err)
{
	const char *s = xtap_arg_str(args, "dir");

	if (!s || xtap_parse_dir(s, dir))
		return xtap_fail(err, -EINVAL, "field \"dir\" must be from-vm or to-vm; nothing changed");
	return 0;
}

int xtap_cmd_save(struct xtap_agent *a, struct xtap_err *err)
{
	return xtap_state_save(a->state_path, &a->model, err);
}

/*
 * Applies a changed copy of a port's configuration: the kernel first (an
 * atomic switch), then the model, then the state file. If the file cannot
 * be written the model takes the old configuration back, and the request's
 * journal the maps (api.c).
 */
int xtap_cmd_port_update(struct xtap_agent *a, struct xtap_port_conf *cur,
			 struct xtap_port_conf *next, struct xtap_err *err)
{
	struct xtap_port_conf old = *cur;
	int ret = xtap_validate_port(&a->model, cur, next, err);

	if (ret)
		return ret;
	ret = xtap_port_write(&a->dp, &next->spec, err);
	if (ret) {
		xtap_err_name_port(err, cur->name);
		return ret;
	}
	xtap_model_port_changed(cur);
	*cur = *next;
	cur->json = NULL;
	ret = xtap_cmd_save(a, err);
	if (ret) {
		xtap_model_port_changed(cur);
		*cur = old;
		cur->json = NULL;
	}
	return ret;
}

