// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: xtapd's state-file loader (agent/xtapd/state_file.c:
 * strict JSON, then every type, range and cross-reference check of
 * agent/lib/model.c). No kernel, no files: the input is the file's text.
 *
 * Beyond "no crash, no leak, no undefined behaviour", two properties:
 *   - every refusal says why (a message);
 *   - what loads, once the agent has given its ports ids (reconcile does),
 *     saves to a text that loads again and saves to the same text: xtapd
 *     never writes a state file it would refuse on its next start.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_file.h"

static void fail(const char *what, const char *msg, const char *text)
{
	fprintf(stderr, "state_file_fuzz: %s: %s\n%s\n", what, msg, text ? text : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xtap_model m, again;
	struct xtap_err err = { .msg = "" };
	char *text, *text2;
	size_t i;

	if (xtap_state_parse((const char *)data, size, &m, &err)) {
		if (!err.msg[0])
			fail("refused without a message", "", NULL);
		return 0;
	}
	/* As xtap_agent_reconcile does before it saves. */
	for (i = 0; i < m.n_ports; i++)
		if (m.ports[i]->spec.port_id == XTAP_PORT_ID_UNSET) {
			m.ports[i]->spec.port_id = xtap_model_free_port_id(&m);
			xtap_model_port_changed(m.ports[i]);
		}
	text = xtap_model_to_text(&m);
	if (!text)
		fail("encoding a loaded state", "out of memory", NULL);
	if (xtap_state_parse(text, strlen(text), &again, &err))
		fail("a saved state does not load", err.msg, text);
	text2 = xtap_model_to_text(&again);
	if (!text2 || strcmp(text, text2))
		fail("a saved state saves differently once reloaded", text2 ? text2 : "out of memory", text);
	free(text);
	free(text2);
	xtap_model_free(&m);
	xtap_model_free(&again);
	return 0;
}
