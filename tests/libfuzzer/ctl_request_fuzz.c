// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: xtapd's control requests, read and validated as xtapd
 * reads and validates them before a handler touches anything: the strict
 * reader (agent/xtapd/request.c), the command table's argument check
 * (agent/lib/ctl_commands.c), the model's parsers of ports, rules, rates
 * and segments with their typed getters (agent/lib/model.c) and the port
 * validation against a model of two ports (agent/lib/validate.c). Nothing
 * here reaches a handler, a map, a tap or a file: it cannot touch the host.
 *
 * Input: byte 0 is where the bytes are cut in two (byte 0 * len / 256), to
 * feed the reader in two reads as a socket may; the rest is the request.
 * A request the reader and the table accept is parsed as its command's
 * handler parses it; a port that parses is validated against the model.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_commands.h"
#include "model.h"
#include "request.h"
#include "validate.h"

static struct xtap_model model;

/* vmA and vmB in segment 1, 10.0.0.1/32 and a shared 10.0.0.100/32 on vmA. */
static void model_init(void)
{
	static const char state[] =
		"{\"segments\": [{\"id\": 1}, {\"id\": 2}], \"ports\": ["
		"{\"name\": \"vmA\", \"port_id\": 0, \"segment\": 1, \"mac\": \"02:00:00:00:00:0a\","
		" \"addrs\": [\"10.0.0.1/32\", \"2001:db8::1/128\"], \"shared_addrs\": [\"10.0.0.100/32\"]},"
		"{\"name\": \"vmB\", \"port_id\": 1, \"segment\": 1, \"mac\": \"02:00:00:00:00:0b\","
		" \"addrs\": [\"10.0.0.2/32\"]}]}";
	json_object *o = json_tokener_parse(state);
	struct xtap_err err;

	if (!o || xtap_model_from_json(o, &model, &err))
		abort();
	json_object_put(o);
}

/* What the command's handler parses before it changes anything. */
static void parse_as_handler(const char *cmd, json_object *args)
{
	struct xtap_acl_rule_spec rule;
	struct xtap_segment_conf seg;
	struct xtap_rate_spec rate;
	struct xtap_port_conf *p;
	struct xtap_err err;
	__u64 u;

	if (!strcmp(cmd, XTAP_CMD_PORT_ADD)) {
		p = calloc(1, sizeof(*p));
		if (!p)
			abort();
		if (!xtap_port_from_json(args, p, &err)) {
			if (p->spec.port_id == XTAP_PORT_ID_UNSET)
				p->spec.port_id = xtap_model_free_port_id(&model);
			if (!xtap_validate_port(&model, NULL, p, &err))
				json_object_put(xtap_port_to_json(p));
		}
		free(p);
	} else if (!strcmp(cmd, XTAP_CMD_ACL_ADD)) {
		if (!xtap_rule_from_json(args, &rule, &err))
			json_object_put(xtap_rule_to_json(&rule));
	} else if (!strcmp(cmd, XTAP_CMD_RATE_SET)) {
		p = xtap_model_port(&model, "vmA");
		if (!xtap_rate_from_json(args, &rate, &err)) {
			struct xtap_port_conf next = *p;

			next.spec.rate[0] = rate;
			next.json = NULL;
			xtap_validate_port(&model, p, &next, &err);
		}
	} else if (!strcmp(cmd, XTAP_CMD_SEGMENT_ADD)) {
		xtap_segment_from_json(args, &seg, &err);
	} else if (!strcmp(cmd, XTAP_CMD_ACL_DEL) || !strcmp(cmd, XTAP_CMD_SEGMENT_DEL)) {
		xtap_json_get_u64(args, "id", 1, 0, UINT32_MAX, &u, &err);
	} else if (!strcmp(cmd, XTAP_CMD_PORT_OPEN)) {
		xtap_json_get_u64(args, "queues", 0, 1, XTAP_HANDOFF_MAX_QUEUES, &u, &err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xtap_request_reader rd;
	const struct xtap_ctl_cmd *c;
	struct xtap_err err;
	json_object *cmd, *args;
	size_t cut;
	int ret;

	if (!model.n_ports)
		model_init();
	if (size < 1)
		return 0;
	cut = data[0] * (size - 1) / 256;
	if (xtap_request_reader_init(&rd))
		abort();
	ret = xtap_request_feed(&rd, (const char *)data + 1, cut, &err);
	if (ret >= 0)
		ret = xtap_request_feed(&rd, (const char *)data + 1 + cut, size - 1 - cut, &err);
	if (ret == 0 && json_object_is_type(rd.req, json_type_object) &&
	    json_object_object_get_ex(rd.req, XTAP_REQ_CMD, &cmd) && json_object_is_type(cmd, json_type_string) &&
	    (c = xtap_ctl_cmd_find(json_object_get_string(cmd)))) {
		if (!json_object_object_get_ex(rd.req, XTAP_REQ_ARGS, &args))
			args = NULL;
		if (args && !xtap_ctl_args_check(c, args, &err))
			parse_as_handler(c->name, args);
	}
	xtap_request_reader_free(&rd);
	return 0;
}
