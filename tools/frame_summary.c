// SPDX-License-Identifier: GPL-2.0
/*
 * Headers of a captured frame, for xtapctl monitor (frame_summary.h). Reads
 * only the caplen bytes it was given: a cut frame shows what it has.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "frame_summary.h"

#define ETH_P_IP    0x0800
#define ETH_P_ARP   0x0806
#define ETH_P_IPV6  0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* What frame_summary and frame_summary_json print: the parse, once. */
struct hdrs {
	char src_mac[18], dst_mac[18];
	uint16_t ethertype, vlan;
	int has_vlan, family;   /* family 4 or 6: src/dst are IP addresses */
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int proto;              /* -1: none */
	int sport, dport;       /* -1: none */
	int icmp_type, icmp_code;
	int arp_op;             /* -1: not ARP */
	int cut;                /* the headers go beyond caplen */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void mac_str(const uint8_t *m, char *out)
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static const char *proto_name(int proto)
{
	switch (proto) {
	case 1:   return "icmp";
	case 6:   return "tcp";
	case 17:  return "udp";
	case 58:  return "icmpv6";
	case 132: return "sctp";
	default:  return NULL;
	}
}

static void l4(struct hdrs *h, const uint8_t *p, size_t left)
{
	if (h->proto == 6 || h->proto == 17 || h->proto == 132) {
		if (left < 4) {
			h->cut = 1;
			return;
		}
		h->sport = be16(p);
		h->dport = be16(p + 2);
	} else if (h->proto == 1 || h->proto == 58) {
		if (left < 2) {
			h->cut = 1;
			return;
		}
		h->icmp_type = p[0];
		h->icmp_code = p[1];
	}
}

static void parse(const uint8_t *p, size_t n, struct hdrs *h)
{
	size_t off = 14, ihl;

	memset(h, 0, sizeof(*h));
	h->proto = h->sport = h->dport = h->icmp_type = h->arp_op = -1;
	if (n < 14) {
		h->cut = 1;
		return;
	}
	mac_str(p, h->dst_mac);
	mac_str(p + 6, h->src_mac);
	h->ethertype = be16(p + 12);
	if ((h->ethertype == ETH_P_8021Q || h->ethertype == ETH_P_8021AD) && n >= 18) {
		h->has_vlan = 1;
		h->vlan = be16(p + 14) & 0xFFF;
		h->ethertype = be16(p + 16);
		off = 18;
	}
	p += off;
	n -= off < n ? off : n;
	switch (h->ethertype) {
	case ETH_P_IP:
		if (n < 20 || (ihl = (p[0] & 0xF) * 4) < 20) {
			h->cut = 1;
			return;
		}
		h->family = 4;
		inet_ntop(AF_INET, p + 12, h->src, sizeof(h->src));
		inet_ntop(AF_INET, p + 16, h->dst, sizeof(h->dst));
		h->proto = p[9];
		/* later fragments carry no L4 header */
		if (!(be16(p + 6) & 0x1FFF))
			l4(h, p + ihl, n > ihl ? n - ihl : 0);
		break;
	case ETH_P_IPV6:
		if (n < 40) {
			h->cut = 1;
			return;
		}
		h->family = 6;
		inet_ntop(AF_INET6, p + 8, h->src, sizeof(h->src));
		inet_ntop(AF_INET6, p + 24, h->dst, sizeof(h->dst));
		h->proto = p[6];   /* the first next header: extension headers are shown as such */
		l4(h, p + 40, n - 40);
		break;
	case ETH_P_ARP:
		if (n < 28) {
			h->cut = 1;
			return;
		}
		h->arp_op = be16(p + 6);
		h->family = 4;
		inet_ntop(AF_INET, p + 14, h->src, sizeof(h->src));
		inet_ntop(AF_INET, p + 24, h->dst, sizeof(h->dst));
		break;
	}
}

void frame_summary(const uint8_t *p, size_t caplen, char *out, size_t outlen)
{
	struct hdrs h;
	const char *pn;
	size_t k = 0;

#define OUT(...) (k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, __VA_ARGS__))
	parse(p, caplen, &h);
	out[0] = 0;
	if (!h.src_mac[0]) {
		OUT("(%zu bytes captured)", caplen);
		return;
	}
	OUT("%s > %s", h.src_mac, h.dst_mac);
	if (h.has_vlan)
		OUT(" vlan %u", h.vlan);
	if (h.arp_op >= 0) {
		OUT(" arp %s %s > %s", h.arp_op == 1 ? "request" : h.arp_op == 2 ? "reply" : "op?", h.src, h.dst);
	} else if (h.family) {
		OUT(" ipv%d %s", h.family, h.src);
		if (h.sport >= 0)
			OUT(":%d", h.sport);
		OUT(" > %s", h.dst);
		if (h.dport >= 0)
			OUT(":%d", h.dport);
		pn = proto_name(h.proto);
		if (pn)
			OUT(" %s", pn);
		else
			OUT(" proto %d", h.proto);
		if (h.icmp_type >= 0)
			OUT(" type %d code %d", h.icmp_type, h.icmp_code);
	} else {
		OUT(" ethertype 0x%04x", h.ethertype);
	}
	if (h.cut)
		OUT(" (cut)");
#undef OUT
	if (k >= outlen && outlen)
		out[outlen - 1] = 0;
}

void frame_summary_json(const uint8_t *p, size_t caplen, json_object *o)
{
	struct hdrs h;
	const char *pn;

	parse(p, caplen, &h);
	if (!h.src_mac[0])
		return;
	json_object_object_add(o, "src_mac", json_object_new_string(h.src_mac));
	json_object_object_add(o, "dst_mac", json_object_new_string(h.dst_mac));
	json_object_object_add(o, "ethertype", json_object_new_int(h.ethertype));
	if (h.has_vlan)
		json_object_object_add(o, "vlan", json_object_new_int(h.vlan));
	if (h.family) {
		json_object_object_add(o, "src", json_object_new_string(h.src));
		json_object_object_add(o, "dst", json_object_new_string(h.dst));
	}
	if (h.arp_op >= 0)
		json_object_object_add(o, "arp_op", json_object_new_int(h.arp_op));
	if (h.proto >= 0) {
		pn = proto_name(h.proto);
		json_object_object_add(o, "proto", pn ? json_object_new_string(pn) : json_object_new_int(h.proto));
	}
	if (h.sport >= 0) {
		json_object_object_add(o, "sport", json_object_new_int(h.sport));
		json_object_object_add(o, "dport", json_object_new_int(h.dport));
	}
	if (h.icmp_type >= 0) {
		json_object_object_add(o, "icmp_type", json_object_new_int(h.icmp_type));
		json_object_object_add(o, "icmp_code", json_object_new_int(h.icmp_code));
	}
}
