// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics, family by family (a family's samples must be together):
 * each port's per-CPU counters are summed once, then written out per
 * family. Names follow Prometheus' conventions: counters end in _total,
 * sizes are bytes, times are seconds since the epoch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "commands.h"
#include "conntrack.h"
#include "metrics.h"
#include "policy.h"

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants (\\, \", \n). */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void port_label(FILE *f, const char *name, const struct xtap_port_conf *p)
{
	fprintf(f, "%s{port=\"", name);
	label_value(f, p->name);
	fputc('"', f);
}

static void port_stats_sum(struct xtap_agent *a, const struct xtap_port_conf *p, struct xtap_port_stats *sum,
			   struct xtap_port_stats *per_cpu, int ncpu)
{
	__u32 id = p->spec.port_id;
	int c, d, i;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(xtap_map_fd(&a->dp, XTAP_MAP_PORT_STATS), &id, per_cpu))
		return;
	for (c = 0; c < ncpu; c++)
		for (d = 0; d < XTAP_DIRS; d++) {
			for (i = 0; i < XTAP_VERDICTS; i++) {
				sum->verdict[d][i].packets += per_cpu[c].verdict[d][i].packets;
				sum->verdict[d][i].bytes += per_cpu[c].verdict[d][i].bytes;
			}
			for (i = 0; i < XTAP_DROP_REASONS; i++)
				sum->drop[d][i].packets += per_cpu[c].drop[d][i].packets;
		}
}

static void port_counters(FILE *f, struct xtap_agent *a, const struct xtap_port_stats *sums)
{
	static const struct { const char *name, *help; int bytes; } verdict_families[] = {
		{ "xtap_port_frames_total", "Frames a port's programs handled, by direction and verdict.", 0 },
		{ "xtap_port_bytes_total", "Bytes of the frames a port's programs handled, by direction and verdict.", 1 },
	};
	size_t fam, i;
	int d, v;

	for (fam = 0; fam < 2; fam++) {
		family(f, verdict_families[fam].name, "counter", verdict_families[fam].help);
		for (i = 0; i < a->model.n_ports; i++)
			for (d = 0; d < XTAP_DIRS; d++)
				for (v = 0; v < XTAP_VERDICTS; v++) {
					const struct xtap_counter *c = &sums[i].verdict[d][v];

					port_label(f, verdict_families[fam].name, a->model.ports[i]);
					fprintf(f, ",direction=\"%s\",verdict=\"%s\"} %llu\n", xtap_dir_name(d),
						xtap_verdict_name(v),
						(unsigned long long)(verdict_families[fam].bytes ? c->bytes : c->packets));
				}
	}
	family(f, "xtap_port_drops_total", "counter", "Frames a port's programs dropped, by direction and reason.");
	for (i = 0; i < a->model.n_ports; i++)
		for (d = 0; d < XTAP_DIRS; d++)
			for (v = 1; v < XTAP_DROP_REASONS; v++) {
				/* Numbers kept for another branch's reasons have no name yet. */
				if (!strcmp(xtap_drop_reason_name(v), "?"))
					continue;
				port_label(f, "xtap_port_drops_total", a->model.ports[i]);
				fprintf(f, ",direction=\"%s\",reason=\"%s\"} %llu\n", xtap_dir_name(d),
					xtap_drop_reason_name(v), (unsigned long long)sums[i].drop[d][v].packets);
			}
	family(f, "xtap_port_rate_limit_drops_total", "counter",
	       "Frames a port's rate limits dropped, by direction and limit (the drops of reasons rate_bytes and rate_packets).");
	for (i = 0; i < a->model.n_ports; i++)
		for (d = 0; d < XTAP_DIRS; d++) {
			port_label(f, "xtap_port_rate_limit_drops_total", a->model.ports[i]);
			fprintf(f, ",direction=\"%s\",limit=\"bytes\"} %llu\n", xtap_dir_name(d),
				(unsigned long long)sums[i].drop[d][XTAP_DROP_RATE_BYTES].packets);
			port_label(f, "xtap_port_rate_limit_drops_total", a->model.ports[i]);
			fprintf(f, ",direction=\"%s\",limit=\"packets\"} %llu\n", xtap_dir_name(d),
				(unsigned long long)sums[i].drop[d][XTAP_DROP_RATE_PACKETS].packets);
		}
}

/* Flows each port tracks (stateful rules), against its cap: a gauge. */
static void tracked_flows(FILE *f, struct xtap_agent *a)
{
	size_t i;

	family(f, "xtap_port_tracked_flows", "gauge",
	       "Flows a port's stateful ACL rules track (counted against its cap of 65536).");
	for (i = 0; i < a->model.n_ports; i++) {
		port_label(f, "xtap_port_tracked_flows", a->model.ports[i]);
		fprintf(f, "} %u\n", xtap_ct_port_count(&a->dp, a->model.ports[i]->spec.port_id));
	}
}

static void acl_hits(FILE *f, struct xtap_agent *a)
{
	static const char *const names[2] = { "xtap_acl_rule_hits_total", "xtap_acl_rule_hit_bytes_total" };
	static const char *const helps[2] = { "Frames that matched an ACL rule, by port, direction and rule id.",
					      "Bytes of the frames that matched an ACL rule." };
	size_t fam, i;
	int d, r;

	for (fam = 0; fam < 2; fam++) {
		family(f, names[fam], "counter", helps[fam]);
		for (i = 0; i < a->model.n_ports; i++) {
			const struct xtap_port_conf *p = a->model.ports[i];

			for (d = 0; d < XTAP_DIRS; d++)
				for (r = 0; r < p->spec.acl[d].n_rules; r++) {
					const struct xtap_acl_rule_spec *rule = &p->spec.acl[d].rules[r];
					struct xtap_counter hits;

					xtap_acl_hits_read(&a->dp, p->spec.ifindex, rule->rule_id, &hits);
					port_label(f, names[fam], p);
					fprintf(f, ",direction=\"%s\",rule=\"%u\",action=\"%s\"} %llu\n", xtap_dir_name(d),
						rule->rule_id, rule->action == XTAP_ACL_DENY ? "deny" : "allow",
						(unsigned long long)(fam ? hits.bytes : hits.packets));
				}
		}
	}
}

/* Frames arriving on the uplinks (all of them together), by where they went. */
static void uplink_counters(FILE *f, struct xtap_agent *a, struct xtap_uplink_stats *per_cpu, int ncpu)
{
	static const char *const verdicts[XTAP_UPLINK_VERDICTS] = {
		[XTAP_UPLINK_TO_PORT] = "to_port", [XTAP_UPLINK_FLOOD] = "flood", [XTAP_UPLINK_TO_HOST] = "to_host",
	};
	struct xtap_counter sum[XTAP_UPLINK_VERDICTS] = {};
	__u32 key = 0;
	int c, v;

	if (!bpf_map_lookup_elem(xtap_map_fd(&a->dp, XTAP_MAP_UPLINK_STATS), &key, per_cpu))
		for (c = 0; c < ncpu; c++)
			for (v = 0; v < XTAP_UPLINK_VERDICTS; v++) {
				sum[v].packets += per_cpu[c].verdict[v].packets;
				sum[v].bytes += per_cpu[c].verdict[v].bytes;
			}
	family(f, "xtap_uplink_frames_total", "counter", "Frames that arrived on the segments' uplinks, by where they went.");
	for (v = 0; v < XTAP_UPLINK_VERDICTS; v++)
		fprintf(f, "xtap_uplink_frames_total{verdict=\"%s\"} %llu\n", verdicts[v], (unsigned long long)sum[v].packets);
	family(f, "xtap_uplink_bytes_total", "counter", "Bytes of the frames that arrived on the segments' uplinks.");
	for (v = 0; v < XTAP_UPLINK_VERDICTS; v++)
		fprintf(f, "xtap_uplink_bytes_total{verdict=\"%s\"} %llu\n", verdicts[v], (unsigned long long)sum[v].bytes);
}

static const char *str_of(json_object *o, const char *key, const char *dflt)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : dflt;
}

/* "not attached" -> "not_attached": label values that need no quoting in PromQL regexes. */
static void state_value(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == ' ' ? '_' : *s, f);
}

#define PORT_STATES 4
static const char *const port_states[PORT_STATES] = { "up", "down", "not attached", "tap missing" };
#define VHOST_STATES 4
static const char *const vhost_states[VHOST_STATES] = { "running", "starting", "stopping", "not running" };

static void state_set(FILE *f, const char *name, const struct xtap_port_conf *p, const char *const *states,
		      int n, const char *cur)
{
	int s;

	for (s = 0; s < n; s++) {
		port_label(f, name, p);
		fputs(",state=\"", f);
		state_value(f, states[s]);
		fprintf(f, "\"} %d\n", !strcmp(states[s], cur));
	}
}

/* State of each port, its data plane and its xtap-vhost; the number of ports in each state. */
static void port_states_out(FILE *f, struct xtap_agent *a, json_object **status)
{
	static const char *const vhost_counters[][3] = {
		{ "xtap_port_vhost_connections_total", "connections", "Frontends (VMMs) that connected to the port's vhost-user socket." },
		{ "xtap_port_vhost_rejected_messages_total", "rejected_messages", "vhost-user messages the port's xtap-vhost refused." },
		{ "xtap_port_vhost_stalled_disconnects_total", "stalled_disconnects", "Frontends disconnected for stalling mid-message." },
		{ "xtap_port_vhost_no_shared_memory_total", "no_shared_memory",
		  "Frontends that gave no shared guest memory (QEMU without memfd/share=on: every frame lost)." },
	};
	size_t i, k;
	int s, count[PORT_STATES] = {};

	family(f, "xtap_port_state", "gauge", "1 for the state a port is in (up, down, not_attached, tap_missing).");
	for (i = 0; i < a->model.n_ports; i++) {
		const char *st = str_of(status[i], "state", "tap missing");

		state_set(f, "xtap_port_state", a->model.ports[i], port_states, PORT_STATES, st);
		for (s = 0; s < PORT_STATES; s++)
			count[s] += !strcmp(port_states[s], st);
	}
	family(f, "xtap_ports", "gauge", "Ports by state.");
	for (s = 0; s < PORT_STATES; s++) {
		fputs("xtap_ports{state=\"", f);
		state_value(f, port_states[s]);
		fprintf(f, "\"} %d\n", count[s]);
	}
	family(f, "xtap_port_info", "gauge", "A port's segment and the data plane moving its frames (tap, kernel, userspace).");
	for (i = 0; i < a->model.n_ports; i++) {
		port_label(f, "xtap_port_info", a->model.ports[i]);
		fprintf(f, ",segment=\"%u\",data_plane=\"", a->model.ports[i]->spec.segment_id);
		label_value(f, str_of(status[i], "data_plane", "tap"));
		fputs("\"} 1\n", f);
	}
	family(f, "xtap_port_vhost_state", "gauge",
	       "1 for the state of the port's xtap-vhost (running, starting, stopping, not_running).");
	for (i = 0; i < a->model.n_ports; i++) {
		json_object *v = NULL;

		if (status[i] && json_object_object_get_ex(status[i], "vhost_user", &v))
			state_set(f, "xtap_port_vhost_state", a->model.ports[i], vhost_states, VHOST_STATES,
				  str_of(v, "state", "not running"));
	}
	family(f, "xtap_port_vhost_frontend_connected", "gauge", "1 while a frontend (VMM) is connected to the port's vhost-user socket.");
	for (i = 0; i < a->model.n_ports; i++) {
		json_object *v = NULL;

		if (status[i] && json_object_object_get_ex(status[i], "vhost_user", &v)) {
			port_label(f, "xtap_port_vhost_frontend_connected", a->model.ports[i]);
			fprintf(f, "} %d\n", !strcmp(str_of(v, "frontend", ""), "connected"));
		}
	}
	for (k = 0; k < sizeof(vhost_counters) / sizeof(vhost_counters[0]); k++) {
		family(f, vhost_counters[k][0], "counter", vhost_counters[k][2]);
		for (i = 0; i < a->model.n_ports; i++) {
			json_object *v = NULL, *n;

			if (status[i] && json_object_object_get_ex(status[i], "vhost_user", &v) &&
			    json_object_object_get_ex(v, vhost_counters[k][1], &n)) {
				port_label(f, vhost_counters[k][0], a->model.ports[i]);
				fprintf(f, "} %lld\n", (long long)json_object_get_int64(n));
			}
		}
	}
}

static void agent_health(FILE *f, struct xtap_agent *a)
{
	family(f, "xtap_segments", "gauge", "Segments configured.");
	fprintf(f, "xtap_segments %zu\n", a->model.n_segments);
	family(f, "xtap_agent_start_time_seconds", "gauge", "When xtapd started, seconds since the epoch.");
	fprintf(f, "xtap_agent_start_time_seconds %.3f\n", a->health.start_time);
	family(f, "xtap_agent_last_reconcile_timestamp_seconds", "gauge",
	       "When xtapd last made the kernel match its state (start, lost link events), seconds since the epoch.");
	fprintf(f, "xtap_agent_last_reconcile_timestamp_seconds %.3f\n", a->health.last_reconcile);
	family(f, "xtap_agent_reconcile_errors_total", "counter", "Ports and segments a reconcile could not set up.");
	fprintf(f, "xtap_agent_reconcile_errors_total %lu\n", a->health.reconcile_errors);
	family(f, "xtap_agent_repair_errors_total", "counter", "Repairs after a link event that failed.");
	fprintf(f, "xtap_agent_repair_errors_total %lu\n", a->health.repair_errors);
	family(f, "xtap_agent_requests_total", "counter", "Control-socket requests the agent ran, by result (ok, refused).");
	fprintf(f, "xtap_agent_requests_total{result=\"ok\"} %lu\n", a->health.requests_ok);
	fprintf(f, "xtap_agent_requests_total{result=\"refused\"} %lu\n", a->health.requests_refused);
}

char *xtap_metrics_render(struct xtap_agent *a)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n = a->model.n_ports, i, len = 0;
	struct xtap_port_stats *sums = calloc(n ? n : 1, sizeof(*sums)), *per_cpu = calloc(ncpu, sizeof(*per_cpu));
	struct xtap_uplink_stats *uplink_per_cpu = calloc(ncpu, sizeof(*uplink_per_cpu));
	json_object **status = calloc(n ? n : 1, sizeof(*status));
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);

	if (sums && per_cpu && uplink_per_cpu && status && f) {
		for (i = 0; i < n; i++) {
			port_stats_sum(a, a->model.ports[i], &sums[i], per_cpu, ncpu);
			status[i] = xtap_cmd_port_status(a, a->model.ports[i]);
		}
		port_counters(f, a, sums);
		tracked_flows(f, a);
		acl_hits(f, a);
		uplink_counters(f, a, uplink_per_cpu, ncpu);
		port_states_out(f, a, status);
		agent_health(f, a);
	}
	if (f && (fclose(f) || !sums || !per_cpu || !uplink_per_cpu || !status)) {
		free(text);
		text = NULL;
	}
	for (i = 0; status && i < n; i++)
		json_object_put(status[i]);
	free(status);
	free(sums);
	free(per_cpu);
	free(uplink_per_cpu);
	return text;
}
