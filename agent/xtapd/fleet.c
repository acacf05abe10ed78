// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet's etcd side (fleet.h): the watcher thread (list, then watch from
 * the listed revision on; a broken stream resumes from the last revision
 * seen, a compacted one lists again) and the writer thread (the host's lease
 * and its keepalive, the host key, the ports' status). While etcd is
 * unreachable both retry with backoff and the datapath runs on the model it
 * has.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "fleet.h"

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits up to ms (or until stop): the threads' only sleep. Call with f->lock held. */
static void wait_locked(struct xtap_fleet *f, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (!f->stop)
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

static void backoff(struct xtap_fleet *f, long *ms)
{
	pthread_mutex_lock(&f->lock);
	wait_locked(f, *ms);
	pthread_mutex_unlock(&f->lock);
	*ms = *ms * 2 > XTAP_ETCD_RETRY_MAX_MS ? XTAP_ETCD_RETRY_MAX_MS : *ms * 2;
}

static void set_key(json_object *desired, const char *key, const char *value, int64_t mod_rev)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "v", xtap_etcd_json(value));
	json_object_object_add(e, "rev", json_object_new_int64(mod_rev));
	json_object_object_add(desired, key, e);
}

static void changed_locked(struct xtap_fleet *f)
{
	f->gen++;
	eventfd_write(f->wake.fd, 1);
}

/* Watcher: a batch of events, in revision order. */
static void on_events(void *ctx, json_object *events, int64_t rev)
{
	struct xtap_fleet *f = ctx;
	size_t i, n = json_object_array_length(events);

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(events, i), *kv, *v;
		const char *key, *value = NULL;
		int64_t mod = 0;

		if (!json_object_object_get_ex(ev, "kv", &kv) || !json_object_object_get_ex(kv, "key", &v))
			continue;
		key = json_object_get_string(v);
		if (json_object_object_get_ex(kv, "value", &v))
			value = json_object_get_string(v);
		if (json_object_object_get_ex(kv, "mod_revision", &v))
			mod = strtoll(json_object_get_string(v), NULL, 10);
		/* The gateway leaves out PUT, type 0. */
		if (json_object_object_get_ex(ev, "type", &v) && !strcmp(json_object_get_string(v), "DELETE"))
			json_object_object_del(f->desired, key);
		else
			set_key(f->desired, key, value, mod);
	}
	if (rev > f->rev)
		f->rev = rev;
	changed_locked(f);
	pthread_mutex_unlock(&f->lock);
}

static int list_all(struct xtap_fleet *f, struct xtap_etcd *e, struct xtap_err *err)
{
	struct xtap_etcd_kv *kvs;
	json_object *desired;
	int64_t rev;
	size_t n, i;
	int ret = xtap_etcd_range(e, XTAP_ETCD_ROOT, 1, &kvs, &n, &rev, err);

	if (ret)
		return ret;
	desired = json_object_new_object();
	for (i = 0; i < n; i++)
		set_key(desired, kvs[i].key, kvs[i].value, kvs[i].mod_rev);
	xtap_etcd_kvs_free(kvs, n);
	pthread_mutex_lock(&f->lock);
	json_object_put(f->desired);
	f->desired = desired;
	f->rev = rev;
	changed_locked(f);
	pthread_mutex_unlock(&f->lock);
	xtap_log(XTAP_LOG_INFO, "etcd %s: %zu keys at revision %lld", f->url, n, (long long)rev);
	return 0;
}

static void set_up(struct xtap_fleet *f, int up)
{
	pthread_mutex_lock(&f->lock);
	f->etcd_up = up;
	pthread_mutex_unlock(&f->lock);
}

static void *watcher(void *arg)
{
	struct xtap_fleet *f = arg;
	struct xtap_etcd e = { .timeout_ms = 10000 };
	struct xtap_err err = {};
	long delay = XTAP_ETCD_RETRY_FIRST_MS;
	int listed = 0, complained = 0;
	int64_t compacted, from;

	if (xtap_etcd_open(&e, f->url, &err)) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		return NULL;
	}
	while (!f->stop) {
		if (!listed) {
			if (list_all(f, &e, &err)) {
				set_up(f, 0);
				if (!complained++)
					xtap_log(XTAP_LOG_WARN, "%s; the datapath runs on the last known state, retrying",
						 err.msg);
				backoff(f, &delay);
				continue;
			}
			listed = 1;
		}
		set_up(f, 1);
		if (complained)
			xtap_log(XTAP_LOG_INFO, "etcd %s: reachable again", f->url);
		complained = 0;
		delay = XTAP_ETCD_RETRY_FIRST_MS;
		pthread_mutex_lock(&f->lock);
		from = f->rev + 1;
		pthread_mutex_unlock(&f->lock);
		if (xtap_etcd_watch(&e, XTAP_ETCD_ROOT, from, on_events, f, &f->stop, &compacted, &err) == -ESTALE) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			listed = 0;
			continue;
		}
		if (f->stop)
			break;
		set_up(f, 0);
		xtap_log(XTAP_LOG_WARN, "%s; the datapath runs on the last known state, resuming the watch", err.msg);
		complained = 1;
		/* Resume from the last revision seen; a first wait, then backoff while it fails. */
		while (!f->stop) {
			struct xtap_etcd_kv *kvs;
			size_t n;

			backoff(f, &delay);
			if (!xtap_etcd_range(&e, XTAP_ETCD_HOSTS "-", 0, &kvs, &n, NULL, &err)) {
				xtap_etcd_kvs_free(kvs, n);
				break;
			}
		}
	}
	xtap_etcd_close(&e);
	return NULL;
}

/* ---- writer: the lease, the host key, statuses ---- */

static int register_host(struct xtap_fleet *f, struct xtap_etcd *e, int64_t *lease, struct xtap_err *err)
{
	char key[256], value[256];
	int ret = xtap_etcd_lease_grant(e, XTAP_ETCD_LEASE_TTL, lease, err);

	if (ret)
		return ret;
	snprintf(key, sizeof(key), XTAP_ETCD_HOSTS "%s", f->host);
	snprintf(value, sizeof(value), "{\"host\":\"%s\",\"vtep\":\"%s\",\"pid\":%d}", f->host, f->vtep,
		 (int)getpid());
	ret = xtap_etcd_put(e, key, value, *lease, err);
	if (ret)
		*lease = 0;
	return ret;
}

/* Writes what is pending; what fails goes back unless a newer status came meanwhile. */
static int write_statuses(struct xtap_fleet *f, struct xtap_etcd *e, int64_t lease, json_object *all,
			  struct xtap_err *err)
{
	json_object *todo;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	todo = f->status_pending;
	f->status_pending = json_object_new_object();
	pthread_mutex_unlock(&f->lock);
	json_object_object_foreach(todo, name, v) {
		char key[256];

		snprintf(key, sizeof(key), XTAP_ETCD_STATUS "%s/%s", f->host, name);
		if (!ret)
			ret = v ? xtap_etcd_put(e, key, json_object_get_string(v), lease, err) : xtap_etcd_del(e, key, err);
		if (ret) {
			pthread_mutex_lock(&f->lock);
			if (!json_object_object_get_ex(f->status_pending, name, NULL))
				json_object_object_add(f->status_pending, name, json_object_get(v));
			pthread_mutex_unlock(&f->lock);
			continue;
		}
		if (v)
			json_object_object_add(all, name, json_object_get(v));
		else
			json_object_object_del(all, name);
	}
	json_object_put(todo);
	return ret;
}

static void *writer(void *arg)
{
	struct xtap_fleet *f = arg;
	struct xtap_etcd e = { .timeout_ms = 2000 };
	struct xtap_err err = {};
	json_object *all = json_object_new_object();   /* what is written: again under a new lease */
	long delay = XTAP_ETCD_RETRY_FIRST_MS;
	double next_keepalive = 0, last_ok = 0;
	int64_t lease = 0, ttl;

	if (xtap_etcd_open(&e, f->url, &err)) {
		xtap_log(XTAP_LOG_ERR, "%s", err.msg);
		json_object_put(all);
		return NULL;
	}
	while (!f->stop) {
		int fail = 0;

		if (!lease) {
			if (register_host(f, &e, &lease, &err)) {
				backoff(f, &delay);
				continue;
			}
			xtap_log(XTAP_LOG_INFO, "etcd: host %s registered (lease %llx, %d s)", f->host,
				 (unsigned long long)lease, XTAP_ETCD_LEASE_TTL);
			/* Keys under an expired lease are gone: every status again. */
			pthread_mutex_lock(&f->lock);
			json_object_object_foreach(all, name, v)
				if (!json_object_object_get_ex(f->status_pending, name, NULL))
					json_object_object_add(f->status_pending, name, json_object_get(v));
			pthread_mutex_unlock(&f->lock);
			last_ok = mono_now();
			next_keepalive = last_ok + XTAP_ETCD_KEEPALIVE_SECONDS;
		}
		if (mono_now() >= next_keepalive) {
			if (xtap_etcd_lease_keepalive(&e, lease, &ttl, &err)) {
				fail = 1;
				/* Unreachable for a whole TTL: the lease is gone, register again when it answers. */
				if (mono_now() - last_ok > XTAP_ETCD_LEASE_TTL)
					lease = 0;
			} else if (ttl <= 0) {
				xtap_log(XTAP_LOG_WARN, "etcd: host %s's lease expired; registering again", f->host);
				lease = 0;
				continue;
			} else {
				last_ok = mono_now();
				next_keepalive = last_ok + XTAP_ETCD_KEEPALIVE_SECONDS;
			}
		}
		if (!fail && lease && write_statuses(f, &e, lease, all, &err))
			fail = 1;
		if (fail) {
			backoff(f, &delay);
			continue;
		}
		delay = XTAP_ETCD_RETRY_FIRST_MS;
		pthread_mutex_lock(&f->lock);
		if (!json_object_object_length(f->status_pending))
			wait_locked(f, (long)((next_keepalive - mono_now()) * 1000) + 1);
		pthread_mutex_unlock(&f->lock);
	}
	/* Not revoked: a stopped xtapd leaves the datapath running; the lease runs out if it does not come back. */
	xtap_etcd_close(&e);
	json_object_put(all);
	return NULL;
}

void xtap_fleet_status(struct xtap_fleet *f, const char *name, const char *value)
{
	pthread_mutex_lock(&f->lock);
	json_object_object_add(f->status_pending, name, value ? json_object_new_string(value) : NULL);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

json_object *xtap_fleet_json(struct xtap_fleet *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "url", json_object_new_string(f->url));
	json_object_object_add(o, "host", json_object_new_string(f->host));
	pthread_mutex_lock(&f->lock);
	json_object_object_add(o, "connected", json_object_new_boolean(f->etcd_up));
	json_object_object_add(o, "revision", json_object_new_int64(f->rev));
	pthread_mutex_unlock(&f->lock);
	return o;
}

static void on_wake(struct xtap_watch *w, uint32_t events)
{
	eventfd_t n;

	(void)events;
	eventfd_read(w->fd, &n);
	xtap_fleet_apply((struct xtap_fleet *)((char *)w - offsetof(struct xtap_fleet, wake)));
}

struct xtap_fleet *xtap_fleet_start(struct xtap_agent *a, struct xtap_loop *agent_loop, const char *url,
				    const char *host, struct xtap_err *err)
{
	struct xtap_fleet *f;
	pthread_condattr_t ca;

	if (!xtap_etcd_key_part_ok(host, XTAP_FLEET_HOST_MAX))
		return xtap_fail(err, -EINVAL, "--host \"%s\": 1-%d characters of A-Z a-z 0-9 . _ -", host,
				 XTAP_FLEET_HOST_MAX), NULL;
	if (strncmp(url, "http://", 7) || strlen(url) >= sizeof(f->url))
		return xtap_fail(err, -EINVAL, "--etcd \"%s\": give etcd's client URL, http://HOST:PORT", url), NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return xtap_fail(err, -ENOMEM, "fleet: out of memory"), NULL;
	f->a = a;
	snprintf(f->url, sizeof(f->url), "%s", url);
	snprintf(f->host, sizeof(f->host), "%s", host);
	if (a->model.overlay.vtep)
		xtap_format_ip4(a->model.overlay.vtep, f->vtep, sizeof(f->vtep));
	f->desired = json_object_new_object();
	f->status_pending = json_object_new_object();
	f->status_last = json_object_new_object();
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	f->wake = (struct xtap_watch){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), .fn = on_wake };
	if (f->wake.fd < 0 || xtap_loop_add(agent_loop, &f->wake, EPOLLIN) ||
	    xtap_loop_add_ticker(agent_loop, xtap_fleet_tick, f)) {
		xtap_fail(err, -errno, "fleet: %s", strerror(errno));
		goto fail;
	}
	a->fleet = f;
	if (pthread_create(&f->watcher, NULL, watcher, f)) {
		xtap_fail(err, -errno, "fleet: thread: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&f->writer, NULL, writer, f)) {
		f->stop = 1;
		pthread_join(f->watcher, NULL);
		xtap_fail(err, -errno, "fleet: thread: %s", strerror(errno));
		goto fail;
	}
	return f;
fail:
	a->fleet = NULL;
	if (f->wake.fd >= 0)
		close(f->wake.fd);
	json_object_put(f->desired);
	json_object_put(f->status_pending);
	json_object_put(f->status_last);
	free(f);
	return NULL;
}

void xtap_fleet_stop(struct xtap_fleet *f, struct xtap_loop *agent_loop)
{
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->watcher, NULL);
	pthread_join(f->writer, NULL);
	xtap_loop_del(agent_loop, &f->wake);
	close(f->wake.fd);
	json_object_put(f->desired);
	json_object_put(f->status_pending);
	json_object_put(f->status_last);
	free(f);
}
