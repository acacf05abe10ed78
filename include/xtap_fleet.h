/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fleet's desired state in etcd (docs/fleet.md): the key layout xtapd
 * (--etcd) reads and xtapctl (--etcd) writes. Values are JSON objects in
 * the control API's encodings (docs/api.md). No logic.
 */
#ifndef XTAP_FLEET_H
#define XTAP_FLEET_H

#define XTAP_ETCD_ROOT     "/xtap/"
#define XTAP_ETCD_SEGMENTS "/xtap/segments/"   /* + ID: a Segment, as segment.add takes it */
#define XTAP_ETCD_PORTS    "/xtap/ports/"      /* + HOST/NAME: a Port, as port.add takes it */
#define XTAP_ETCD_HOSTS    "/xtap/hosts/"      /* + HOST: {"host", "vtep", "pid"}, under the host's lease */
#define XTAP_ETCD_STATUS   "/xtap/status/"     /* + HOST/NAME: {"state", "revision", ...}, under the lease */

/* A host's lease: its keys go this long after its last keepalive. */
#define XTAP_ETCD_LEASE_TTL        10
#define XTAP_ETCD_KEEPALIVE_SECONDS 3
/* Retries while etcd is unreachable: from the first to the last, doubling. */
#define XTAP_ETCD_RETRY_FIRST_MS   100
#define XTAP_ETCD_RETRY_MAX_MS     5000

/* Host names in keys: 1-63 characters of [A-Za-z0-9._-]. */
#define XTAP_FLEET_HOST_MAX 63

#endif /* XTAP_FLEET_H */
