// SPDX-License-Identifier: GPL-2.0
/* A trace's frame from its description (frame_spec.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "frame_spec.h"
#include "model.h"

static int num(const char *w, long max, long *out)
{
	char *end;

	if (!w)
		return -1;
	errno = 0;
	*out = strtol(w, &end, 10);
	return errno || *end || end == w || *out < 0 || *out > max ? -1 : 0;
}

static int hexbytes(const char *w, __u8 *out, size_t cap, size_t *len)
{
	size_t n = strlen(w), i;

	if (n % 2 || n / 2 > cap || n < 28)
		return -1;
	for (i = 0; i < n / 2; i++) {
		char b[3] = { w[2 * i], w[2 * i + 1], 0 }, *end;

		out[i] = (__u8)strtoul(b, &end, 16);
		if (*end)
			return -1;
	}
	*len = n / 2;
	return 0;
}

static int addr(struct xtap_frame_spec *s, const char *w, __u8 *out)
{
	int fam = w && strchr(w, ':') ? 6 : 4;

	if (!w || inet_pton(fam == 6 ? AF_INET6 : AF_INET, w, out) != 1)
		return -1;
	if (s->family && s->family != fam)
		return -1;
	s->family = fam;
	return 0;
}

/* The words that take a number, and its largest value. */
static const struct {
	const char *word;
	long max;
} num_words[] = {
	{ "sport", 65535 }, { "dport", 65535 }, { "vlan", 4094 }, { "len", XTAP_FRAME_MAX }, { "type", 255 },
	{ "proto", 255 },
};

static int num_word(const char *w)
{
	size_t k;

	for (k = 0; k < sizeof(num_words) / sizeof(num_words[0]); k++)
		if (!strcmp(w, num_words[k].word))
			return (int)k;
	return -1;
}

/* Where num_words[k]'s value goes. */
static long *num_field(struct xtap_frame_spec *s, int k)
{
	long *const fields[] = { &s->sport, &s->dport, &s->vlan, &s->len, &s->icmp_type, &s->proto };

	return fields[k];
}

int xtap_frame_parse(const char *desc, struct xtap_frame_spec *s, struct xtap_err *err)
{
	char *copy = strdup(desc), *save = NULL, *w, *v;
	int ret = 0, k;
	long n;

	memset(s, 0, sizeof(*s));
	s->proto = -1;
	s->icmp_type = -1;
	if (!copy)
		return xtap_fail(err, -ENOMEM, "out of memory");
	for (w = strtok_r(copy, " ", &save); w && !ret; w = strtok_r(NULL, " ", &save)) {
		__u8 proto;

		/* words that take a value read it here; v is NULL at the end */
		v = NULL;
		if (!strcmp(w, "ipv4") || !strcmp(w, "ipv6")) {
			if (s->family && s->family != w[3] - '0')
				ret = -1;
			s->family = w[3] - '0';
		} else if (!strcmp(w, "arp")) {
			s->family = 4;
			s->arp_op = 1;
		} else if (!strcmp(w, "request") || !strcmp(w, "reply")) {
			if (!s->arp_op)
				ret = -1;
			s->arp_op = w[2] == 'q' ? 1 : 2;
		} else if (!strcmp(w, "hex")) {
			v = strtok_r(NULL, " ", &save);
			if (!v || hexbytes(v, s->raw, sizeof(s->raw), &s->raw_len))
				ret = xtap_fail(err, -EINVAL, "frame: hex takes the frame's bytes, 14 to %d, as hex digits "
						"without spaces", XTAP_FRAME_MAX);
		} else if (!strcmp(w, "smac") || !strcmp(w, "dmac")) {
			v = strtok_r(NULL, " ", &save);
			if (!v || xtap_parse_mac(v, w[0] == 's' ? s->smac : s->dmac))
				ret = -1;
			*(w[0] == 's' ? &s->has_smac : &s->has_dmac) = 1;
		} else if (!strcmp(w, "src") || !strcmp(w, "dst")) {
			v = strtok_r(NULL, " ", &save);
			if (addr(s, v, w[0] == 's' ? s->src : s->dst))
				ret = xtap_fail(err, -EINVAL, "frame: %s takes an IPv4 or IPv6 address of the frame's "
						"family, not \"%s\"", w, v ? v : "");
			*(w[0] == 's' ? &s->has_src : &s->has_dst) = 1;
		} else if ((k = num_word(w)) >= 0) {
			v = strtok_r(NULL, " ", &save);
			if (num(v, num_words[k].max, &n))
				ret = -1;
			else
				*num_field(s, k) = n;
		} else if (!xtap_parse_proto(w, &proto) && proto) {
			s->proto = proto;
		} else {
			ret = xtap_fail(err, -EINVAL, "frame: unknown word \"%s\" (docs/observability.md lists them)", w);
		}
		if (ret == -1)
			ret = xtap_fail(err, -EINVAL, "frame: %s %s: not a valid value%s", w, v ? v : "",
					v ? "" : " (it takes one)");
	}
	free(copy);
	if (!ret && !s->raw_len && !s->family)
		ret = xtap_fail(err, -EINVAL, "frame: say ipv4, ipv6, arp or hex");
	return ret;
}

static __u32 sum16(const void *p, size_t n, __u32 sum)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (__u32)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (__u32)b[n - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return htons((__u16)~sum);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xFF;
}

/* The L4 header of proto at p (l4len bytes with payload), checksum over the pseudo-header. */
static void build_l4(const struct xtap_frame_spec *s, int proto, __u8 *p, size_t l4len)
{
	size_t alen = s->family == 6 ? 16 : 4;
	__u32 sum = 0;
	__u8 pseudo[4];
	int csum_off;

	switch (proto) {
	case IPPROTO_TCP:
		put16(p, s->sport ? s->sport : 40000);
		put16(p + 2, s->dport);
		p[7] = 1;          /* seq 1 */
		p[12] = 5 << 4;    /* 20 bytes */
		p[13] = 0x02;      /* SYN */
		put16(p + 14, 65535);
		csum_off = 16;
		break;
	case IPPROTO_UDP:
		put16(p, s->sport ? s->sport : 40000);
		put16(p + 2, s->dport);
		put16(p + 4, l4len);
		csum_off = 6;
		break;
	case IPPROTO_SCTP:
		put16(p, s->sport ? s->sport : 40000);
		put16(p + 2, s->dport);
		return;            /* CRC32c: not checked by the datapath */
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		p[0] = s->icmp_type >= 0 ? s->icmp_type : proto == IPPROTO_ICMP ? 8 : 128;
		csum_off = 2;
		break;
	default:
		return;
	}
	if (proto != IPPROTO_ICMP) {
		sum = sum16(s->src, alen, sum16(s->dst, alen, 0));
		pseudo[0] = 0;
		pseudo[1] = proto;
		put16(pseudo + 2, l4len);
		sum = sum16(pseudo, 4, sum);
	}
	sum = fold(sum16(p, l4len, sum));
	memcpy(p + csum_off, &sum, 2);
}

int xtap_frame_build(const struct xtap_frame_spec *s, __u8 *buf, size_t *len, struct xtap_err *err)
{
	int proto = s->proto >= 0 ? s->proto : IPPROTO_UDP;
	size_t off = 12, l3, l4hdr, total, want = (size_t)s->len;
	__u16 csum;

	if (s->raw_len) {
		memcpy(buf, s->raw, s->raw_len);
		*len = s->raw_len;
		return 0;
	}
	if (!s->has_src || !s->has_dst)
		return xtap_fail(err, -EINVAL, "frame: give src ADDR and dst ADDR");
	l4hdr = proto == IPPROTO_TCP ? 20 : proto == IPPROTO_UDP || proto == IPPROTO_ICMP ||
		proto == IPPROTO_ICMPV6 ? 8 : proto == IPPROTO_SCTP ? 12 : 0;
	l3 = s->arp_op ? 28 : s->family == 6 ? 40 : 20;
	total = 14 + (s->vlan ? 4 : 0) + l3 + (s->arp_op ? 0 : l4hdr);
	if (want > total)
		total = want;
	else if (want)
		return xtap_fail(err, -EINVAL, "frame: len %zu is shorter than its headers (%zu bytes)", want, total);
	if (total > XTAP_FRAME_MAX)
		return xtap_fail(err, -EINVAL, "frame: %zu bytes, more than %d", total, XTAP_FRAME_MAX);
	memset(buf, 0, total);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	if (s->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, s->vlan);
		off += 4;
	}
	put16(buf + off, s->arp_op ? 0x0806 : s->family == 6 ? 0x86DD : 0x0800);
	off += 2;
	if (s->arp_op) {
		__u8 *a = buf + off;

		put16(a, 1);
		put16(a + 2, 0x0800);
		a[4] = 6;
		a[5] = 4;
		put16(a + 6, s->arp_op);
		memcpy(a + 8, s->smac, 6);
		memcpy(a + 14, s->src, 4);
		if (s->arp_op == 2)
			memcpy(a + 18, s->dmac, 6);
		memcpy(a + 24, s->dst, 4);
	} else if (s->family == 6) {
		__u8 *ip = buf + off;

		ip[0] = 0x60;
		put16(ip + 4, total - off - 40);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
		build_l4(s, proto, ip + 40, total - off - 40);
	} else {
		__u8 *ip = buf + off;

		ip[0] = 0x45;
		put16(ip + 2, total - off);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		csum = fold(sum16(ip, 20, 0));
		memcpy(ip + 10, &csum, 2);
		build_l4(s, proto, ip + 20, total - off - 20);
	}
	*len = total;
	return 0;
}
