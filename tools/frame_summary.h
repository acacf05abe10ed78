/* SPDX-License-Identifier: GPL-2.0 */
/* A frame's headers in one line, and as JSON fields: what xtapctl monitor shows of each event. */
#ifndef XTAP_FRAME_SUMMARY_H
#define XTAP_FRAME_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* "02:..:0a > 02:..:0b ipv4 192.0.2.1:40000 > 192.0.2.2:22 tcp" (as far as the bytes reach). */
void frame_summary(const uint8_t *p, size_t caplen, char *out, size_t outlen);
/* The same as fields of o: src_mac, dst_mac, ethertype, vlan, src, dst, proto, sport, dport, icmp_type, arp_op. */
void frame_summary_json(const uint8_t *p, size_t caplen, json_object *o);

#endif
