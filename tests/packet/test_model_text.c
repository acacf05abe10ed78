// SPDX-License-Identifier: GPL-2.0
/*
 * The state file's text after policy updates: xtap_model_to_text reuses the
 * text of rules it encoded before (agent/lib/model.c), and must still write
 * exactly what a fresh xtap_port_to_state_json encoding gives, whatever the
 * updates were. No BPF here: the model alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "model.h"
#include "tests.h"

static unsigned int seed = 11;

static unsigned int rnd(unsigned int n)
{
	return (unsigned int)rand_r(&seed) % n;
}

static void random_rule(struct xtap_acl_rule_spec *r)
{
	static const __u8 protos[] = { 0, 1, 6, 17, 58, 132, 47 };
	struct xtap_acl_rule_spec n = {
		.rule_id = rnd(100000),
		.priority = rnd(4) ? rnd(10) : rnd(65536),
		.action = rnd(2) ? XTAP_ACL_ALLOW : XTAP_ACL_DENY,
		.proto = protos[rnd(sizeof(protos))],
	};
	int i;

	n.port_min = rnd(3) ? 0 : rnd(65536);
	n.port_max = n.port_min ? n.port_min + rnd(65536 - n.port_min) : 0xFFFF;
	n.cidr.family = rnd(4) ? 4 : rnd(2) ? 6 : 0;
	n.cidr.prefixlen = n.cidr.family == 4 ? rnd(33) : n.cidr.family == 6 ? rnd(129) : 0;
	for (i = 0; i < (n.cidr.family == 4 ? 4 : n.cidr.family == 6 ? 16 : 0); i++)
		n.cidr.addr[i] = rnd(256);
	*r = n;
}

static struct xtap_port_conf *new_port(const char *name, __u32 port_id)
{
	struct xtap_port_conf *p = calloc(1, sizeof(*p));
	int d;

	assert_non_null(p);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->queues = 1;
	p->owner_uid = p->owner_gid = -1;
	p->spec.port_id = port_id;
	p->spec.segment_id = 1;
	p->spec.mac[0] = 2;
	p->spec.mac[5] = port_id;
	p->spec.mtu = 1500;
	for (d = 0; d < XTAP_DIRS; d++)
		p->spec.acl[d].default_action = XTAP_ACL_DENY;
	return p;
}

/* One random update of p's policy, as acl add/del, rate set or a port update make them. */
static void random_update(struct xtap_port_conf *p)
{
	struct xtap_acl_spec *acl = &p->spec.acl[rnd(XTAP_DIRS)];
	unsigned int op = rnd(10), i, at;

	if (op < 4 && acl->n_rules < XTAP_MAX_ACL_RULES) {          /* add */
		at = rnd(acl->n_rules + 1);
		memmove(&acl->rules[at + 1], &acl->rules[at], (acl->n_rules - at) * sizeof(acl->rules[0]));
		random_rule(&acl->rules[at]);
		acl->n_rules++;
	} else if (op < 7 && acl->n_rules) {                         /* delete */
		at = rnd(acl->n_rules);
		memmove(&acl->rules[at], &acl->rules[at + 1], (acl->n_rules - at - 1) * sizeof(acl->rules[0]));
		acl->n_rules--;
	} else if (op == 7) {                                        /* rate set */
		p->spec.rate[rnd(XTAP_DIRS)].bytes_per_sec = rnd(1000000);
	} else if (op == 8 && acl->n_rules) {                        /* one rule changed in place */
		acl->rules[rnd(acl->n_rules)].priority ^= 1 + rnd(3);
	} else {                                                     /* the whole ACL replaced */
		acl->default_action = rnd(2) ? XTAP_ACL_ALLOW : XTAP_ACL_DENY;
		acl->n_rules = rnd(XTAP_MAX_ACL_RULES + 1);
		for (i = 0; i < acl->n_rules; i++)
			random_rule(&acl->rules[i]);
	}
	xtap_model_port_changed(p);
}

static void assert_ports_encode_afresh(struct xtap_model *m)
{
	char *text = xtap_model_to_text(m);
	size_t i;

	assert_non_null(text);
	for (i = 0; i < m->n_ports; i++) {
		json_object *o = xtap_port_to_state_json(m->ports[i]);
		const char *fresh = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

		assert_non_null(m->ports[i]->json);
		assert_string_equal(m->ports[i]->json, fresh);
		assert_int_equal(m->ports[i]->json_len, strlen(fresh));
		assert_non_null(strstr(text, fresh));
		json_object_put(o);
	}
	free(text);
}

static void test_model_text_after_random_updates_equals_fresh_encoding(void **s)
{
	struct xtap_model m = { 0 };
	int step;

	(void)s;
	assert_int_equal(xtap_model_add_port(&m, new_port("vmA", 1)), 0);
	assert_int_equal(xtap_model_add_port(&m, new_port("vmB", 2)), 0);
	assert_non_null(m.rules_text);
	for (step = 0; step < 3000; step++) {
		struct xtap_port_conf *p = m.ports[rnd(m.n_ports)];

		random_update(p);
		if (step % 500 == 499) {   /* a port deleted and added again under its name, rules gone */
			char name[IFNAMSIZ];
			__u32 id = p->spec.port_id;

			snprintf(name, sizeof(name), "%s", p->name);
			xtap_model_del_port(&m, name);
			assert_int_equal(xtap_model_add_port(&m, new_port(name, id)), 0);
		}
		assert_ports_encode_afresh(&m);
	}
	xtap_model_free(&m);
}

XTAP_TEST_LIST(model_text,
	cmocka_unit_test(test_model_text_after_random_updates_equals_fresh_encoding),
);
