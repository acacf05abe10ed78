// SPDX-License-Identifier: GPL-2.0
/* Commands on a port's ACL: acl.add, acl.del, acl.default, acl.list. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "policy.h"
#include "validate.h"

XTAP_DEFINE_CMD(cmd_acl_add)
{
	struct xtap_port_conf *p, *next;
	struct xtap_acl_rule_spec r;
	struct xtap_acl_spec *acl;
	int dir, ret;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (!ret)
		ret = xtap_arg_dir(args, &dir, err);
	if (ret)
		return ret;
	ret = xtap_rule_from_json(args, &r, err);
	if (ret) {
		xtap_err_name_port(err, p->name);
		xtap_err_nothing_changed(err);
		return ret;
	}
	if (p->spec.acl[dir].n_rules >= XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "port %s %s: already %d rules, the maximum", p->name,
			    xtap_dir_name(dir), XTAP_MAX_ACL_RULES);
	/*
	 * Ids are never reused (a hit counter follows its id). 2^32-1 is not one:
	 * next_rule_id must stay a valid u32 above every id, as the state file
	 * loader checks, so ids run out after 2^32-2.
	 */
	if (!p->next_rule_id || p->next_rule_id == UINT32_MAX)
		return xtap_fail(err, -ENOSPC, "port %s: all 4294967294 rule ids have been used; delete and add the port again; nothing changed",
				 p->name);
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	r.rule_id = next->next_rule_id++;
	acl = &next->spec.acl[dir];
	acl->rules[acl->n_rules++] = r;
	ret = xtap_cmd_port_update(a, p, next, err);
	free(next);
	if (!ret)
		*res = xtap_rule_to_json(&r);
	return ret;
}

XTAP_DEFINE_CMD(cmd_acl_del)
{
	struct xtap_port_conf *p, *next;
	struct xtap_acl_spec *acl;
	int dir, ret, i;
	__u64 id;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (!ret)
		ret = xtap_arg_dir(args, &dir, err);
	/* Rule ids are 32-bit: a larger one names no rule (it must never wrap onto one that exists). */
	if (!ret)
		ret = xtap_json_get_u64(args, "id", 1, 1, UINT32_MAX, &id, err);
	if (ret) {
		xtap_err_nothing_changed(err);
		return ret;
	}
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	acl = &next->spec.acl[dir];
	for (i = 0; i < acl->n_rules && acl->rules[i].rule_id != id; i++)
		;
	if (i == acl->n_rules) {
		free(next);
		return xtap_fail(err, -ENOENT, "port %s %s has no rule %llu (xtapctl acl list %s shows them)",
				 p->name, xtap_dir_name(dir), (unsigned long long)id, p->name);
	}
	memmove(&acl->rules[i], &acl->rules[i + 1], (acl->n_rules - i - 1) * sizeof(acl->rules[0]));
	acl->n_rules--;
	ret = xtap_cmd_port_update(a, p, next, err);
	free(next);
	return ret;
}

XTAP_DEFINE_CMD(cmd_acl_default)
{
	struct xtap_port_conf *p, *next;
	const char *s = xtap_arg_str(args, "action");
	int dir, ret;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (!ret)
		ret = xtap_arg_dir(args, &dir, err);
	if (ret)
		return ret;
	__u8 action;

	if (!s || (strcmp(s, "allow") && strcmp(s, "deny")))
		return xtap_fail(err, -EINVAL, "field \"action\" must be allow or deny");
	action = !strcmp(s, "allow") ? XTAP_ACL_ALLOW : XTAP_ACL_DENY;
	ret = xtap_stateful_from_json(args, "acl default", &action, err);
	if (ret)
		return ret;
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	next->spec.acl[dir].default_action = action;
	ret = xtap_cmd_port_update(a, p, next, err);
	free(next);
	return ret;
}

XTAP_DEFINE_CMD(cmd_acl_list)
{
	struct xtap_port_conf *p;
	int d, i, ret;

	ret = xtap_arg_port(a, args, "port", &p, err);
	if (ret)
		return ret;
	*res = json_object_new_object();
	for (d = 0; d < XTAP_DIRS; d++) {
		const struct xtap_acl_spec *acl = &p->spec.acl[d];
		json_object *dir = json_object_new_object(), *rules = json_object_new_array();

		json_object_object_add(dir, "default", json_object_new_string(
			acl->default_action == XTAP_ACL_DENY ? "deny" : "allow"));
		if (acl->default_action == XTAP_ACL_ALLOW_STATEFUL)
			json_object_object_add(dir, "stateful", json_object_new_boolean(1));
		for (i = 0; i < acl->n_rules; i++) {
			json_object *r = xtap_rule_to_json(&acl->rules[i]);
			struct xtap_counter hits;

			xtap_acl_hits_read(&a->dp, p->spec.ifindex, acl->rules[i].rule_id, &hits);
			json_object_object_add(r, "hits", xtap_counter_to_json(&hits));
			json_object_array_add(rules, r);
		}
		json_object_object_add(dir, "rules", rules);
		json_object_object_add(*res, xtap_dir_name(d), dir);
	}
	return 0;
}

const struct xtap_cmd_handler xtap_acl_cmds[] = {
	{ XTAP_CMD_ACL_ADD, cmd_acl_add },         { XTAP_CMD_ACL_DEL, cmd_acl_del },
	{ XTAP_CMD_ACL_DEFAULT, cmd_acl_default }, { XTAP_CMD_ACL_LIST, cmd_acl_list },
	{ NULL, NULL },
};
