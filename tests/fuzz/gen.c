// SPDX-License-Identifier: GPL-2.0
/*
 * The generator (gen.h): a frame is built outer to inner for a direction
 * and a port (addresses, MACs and ports chosen among the world's own,
 * foreign and policy-relevant ones), then mutated layer by layer with the
 * offsets the builder recorded.
 */
#include <arpa/inet.h>
#include <string.h>

#include "gen.h"

const char *const gen_kind_name[GK_COUNT] = {
	"arp", "udp4", "tcp4", "icmp4", "icmp4-router", "sctp4", "gre4", "dhcp4-client",
	"dhcp4-server", "udp6", "tcp6", "icmp6", "nd-ns", "nd-na", "nd-rs", "nd-ra", "redirect6",
	"mld", "dhcp6-client", "dhcp6-server", "nonext6", "frag4-group", "frag6-group", "other-eth",
};

/* What the builder knows of the frame it built (0 = absent). */
struct built {
	uint8_t *d;
	int len;
	int l3, l4, ip;           /* ip: 4 or 6 */
	int ext[10], n_ext;       /* IPv6 extension header offsets */
	int frag6;                /* IPv6 fragment header offset */
	int pay;                  /* L4 payload (DHCP, ND body) */
	int dir, port;
};

void gen_init(struct gen *g, const struct mdl_world *w, uint64_t seed)
{
	g->s = seed ? seed : 1;
	g->w = w;
}

uint64_t gen_rand(struct gen *g)
{
	/* splitmix64 */
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rnd(struct gen *g, int n)
{
	return (int)(gen_rand(g) % (uint64_t)n);
}

static int chance(struct gen *g, int percent)
{
	return rnd(g, 100) < percent;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void app(struct built *b, const void *src, int n)
{
	if (b->len + n > GEN_MAX)
		n = GEN_MAX - b->len;
	if (n <= 0)
		return;
	if (src)
		memcpy(b->d + b->len, src, n);
	else
		memset(b->d + b->len, 0, n);
	b->len += n;
}

static void app_rand(struct gen *g, struct built *b, int n)
{
	int i;

	if (b->len + n > GEN_MAX)
		n = GEN_MAX - b->len;
	for (i = 0; i < n; i++)
		b->d[b->len + i] = (uint8_t)gen_rand(g);
	if (n > 0)
		b->len += n;
}

/* ---- addresses ---- */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t foreign_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

static void ll6(uint8_t out[16], const uint8_t mac[6])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 2;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	memcpy(out + 13, mac + 3, 3);
}

static void a4(uint8_t out[4], const char *s)
{
	inet_pton(AF_INET, s, out);
}

static void a6(uint8_t out[16], const char *s)
{
	inet_pton(AF_INET6, s, out);
}

/* An address of port i (a prefix's first address, or one inside it). */
static void own4(struct gen *g, int i, uint8_t out[4])
{
	const struct mdl_port *p = &g->w->port[i];
	int k, n = 0, pick[MDL_MAX_PFX];

	for (k = 0; k < p->n_pfx; k++)
		if (p->pfx[k].family == 4)
			pick[n++] = k;
	k = pick[rnd(g, n)];
	memcpy(out, p->pfx[k].addr, 4);
	if (p->pfx[k].len < 32)
		out[3] = (uint8_t)rnd(g, 256);
}

static void own6(struct gen *g, int i, uint8_t out[16])
{
	const struct mdl_port *p = &g->w->port[i];
	int k, n = 0, pick[MDL_MAX_PFX];

	if (chance(g, 25)) {
		ll6(out, p->mac);
		return;
	}
	for (k = 0; k < p->n_pfx; k++)
		if (p->pfx[k].family == 6)
			pick[n++] = k;
	k = pick[rnd(g, n)];
	memcpy(out, p->pfx[k].addr, 16);
	if (p->pfx[k].len < 128)
		out[15] = (uint8_t)rnd(g, 256);
}

static void remote4(struct gen *g, int self, uint8_t out[4])
{
	static const char *const far[] = { "192.0.2.7", "198.51.100.9", "203.0.113.5", "10.0.0.99",
					   "255.255.255.255", "0.0.0.0", "10.1.2.0", "10.1.0.255" };
	int o = rnd(g, g->w->n_ports);

	if (chance(g, 50) && o != self)
		own4(g, o, out);
	else
		a4(out, far[rnd(g, 8)]);
}

static void remote6(struct gen *g, int self, uint8_t out[16])
{
	static const char *const far[] = { "2001:db8:dead::5", "2001:db8:beef::1", "ff02::1",
					   "ff02::1:ff00:b", "fe80::1", "::", "2001:db8:2::1" };
	int o = rnd(g, g->w->n_ports);

	if (chance(g, 50) && o != self)
		own6(g, o, out);
	else
		a6(out, far[rnd(g, 7)]);
}

static int port_in_segment(struct gen *g, int self)
{
	int i;

	for (i = 0; i < g->w->n_ports; i++)
		if (i != self && g->w->port[i].segment == g->w->port[self].segment)
			return i;
	return -1;
}

/* A destination MAC for a frame from port self. */
static void dst_mac_from(struct gen *g, int self, uint8_t out[6], int multicast6)
{
	int peer = port_in_segment(g, self), r = rnd(g, 100);

	if (r < 40 && peer >= 0) {
		memcpy(out, g->w->port[peer].mac, 6);
	} else if (r < 65) {
		if (multicast6) {
			static const uint8_t m[6] = { 0x33, 0x33, 0, 0, 0, 1 };

			memcpy(out, m, 6);
		} else {
			memcpy(out, bcast, 6);
		}
	} else if (r < 80) {
		static const uint8_t unknown[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0xee };

		memcpy(out, unknown, 6);
	} else if (r < 90) {
		memcpy(out, g->w->port[rnd(g, g->w->n_ports)].mac, 6);
	} else {
		static const uint8_t m4[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };

		memcpy(out, m4, 6);
	}
}

/* ---- headers ---- */

static void eth(struct gen *g, struct built *b, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	uint8_t h[4];

	app(b, dst, 6);
	app(b, src, 6);
	if (b->dir == MDL_FROM_UPLINK && g->w->port[b->port].segment == 3) {
		put16(h, 0x8100);
		put16(h + 2, 100);
		app(b, h, 4);
	}
	put16(h, type);
	app(b, h, 2);
	b->l3 = b->len;
}

static uint16_t csum16(const uint8_t *p, int n)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 options: a random mix, sometimes a source route. */
static void ip4_options(struct gen *g, uint8_t *opt, int *n)
{
	int len = 0, k = rnd(g, 4);

	while (k-- > 0 && len < 36) {
		switch (rnd(g, 6)) {
		case 0: opt[len++] = 1; break;
		case 1: /* record route */
			opt[len] = 7; opt[len + 1] = 7; opt[len + 2] = 4;
			memset(opt + len + 3, 0, 4); len += 7; break;
		case 2: /* router alert */
			opt[len] = 148; opt[len + 1] = 4; opt[len + 2] = 0; opt[len + 3] = 0; len += 4; break;
		case 3: case 4: /* LSRR / SSRR */
			opt[len] = chance(g, 50) ? 131 : 137; opt[len + 1] = 7; opt[len + 2] = 4;
			memset(opt + len + 3, 10, 4); len += 7; break;
		default: /* timestamp */
			opt[len] = 68; opt[len + 1] = 8; opt[len + 2] = 5; opt[len + 3] = 0;
			memset(opt + len + 4, 0, 4); len += 8; break;
		}
	}
	if (chance(g, 30) && len < 40)
		opt[len++] = 0;   /* EOL */
	while (len % 4)
		opt[len++] = 0;
	*n = len;
}

static void ipv4(struct gen *g, struct built *b, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
		 int options)
{
	uint8_t h[60] = { 0x45 }, opt[40];
	int olen = 0;

	if (options)
		ip4_options(g, opt, &olen);
	h[0] = (uint8_t)(0x40 | (5 + olen / 4));
	put16(h + 4, (uint16_t)gen_rand(g));
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	memcpy(h + 20, opt, olen);
	app(b, h, 20 + olen);
	b->ip = 4;
	b->l4 = b->len;
}

static const uint8_t ext_types[] = { 60, 43, 51, 60 };

/* IPv6 with an optional extension header chain ending in next header proto. */
static void ipv6(struct gen *g, struct built *b, const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
		 int n_ext, int hbh)
{
	uint8_t h[40] = { 0x60 }, e[24];
	int i, first = b->len, prev_nh = first + 6;

	h[7] = 64;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	app(b, h, 40);
	b->ip = 6;
	for (i = 0; i < n_ext + hbh && b->n_ext < 10; i++) {
		uint8_t t = (hbh && i == 0) ? 0 : ext_types[rnd(g, 4)];
		int len = t == 51 ? 12 : 8 * (1 + rnd(g, 2));

		memset(e, 0, sizeof(e));
		if (t == 51)
			e[1] = 1;           /* AH: (1 + 2) * 4 = 12 */
		else
			e[1] = (uint8_t)(len / 8 - 1);
		if (t == 0 || t == 60) {  /* PadN over the rest */
			e[2] = 1;
			e[3] = (uint8_t)(len - 4);
		}
		if (t == 43)
			e[2] = 4;   /* routing type 4 (SRH-like), segments left 0 */
		b->d[prev_nh] = t;
		prev_nh = b->len;
		b->ext[b->n_ext++] = b->len;
		app(b, e, len);
	}
	b->d[prev_nh] = proto;
	b->l4 = b->len;
}

static void ipv6_frag_hdr(struct built *b, int prev_nh_off, uint8_t proto, int off8, int more, uint32_t id)
{
	uint8_t e[8] = { 0 };

	b->d[prev_nh_off] = 44;
	e[0] = proto;
	put16(e + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	put32(e + 4, id);
	b->frag6 = b->len;
	b->ext[b->n_ext++] = b->len;
	app(b, e, 8);
	b->l4 = b->len;
}

static const uint16_t interesting_ports[] = { 22, 53, 67, 68, 80, 81, 546, 547, 5000, 5005, 5010,
					      5011, 443, 1023, 1024, 0, 65535 };

static uint16_t some_port(struct gen *g)
{
	if (chance(g, 70))
		return interesting_ports[rnd(g, sizeof(interesting_ports) / sizeof(interesting_ports[0]))];
	return (uint16_t)gen_rand(g);
}

static void udp(struct built *b, uint16_t sport, uint16_t dport)
{
	uint8_t h[8] = { 0 };

	put16(h, sport);
	put16(h + 2, dport);
	app(b, h, 8);
	b->pay = b->len;
}

static void tcp(struct gen *g, struct built *b, uint16_t sport, uint16_t dport)
{
	uint8_t h[40] = { 0 };
	int opts = chance(g, 20) ? 4 * rnd(g, 6) : 0;

	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, (uint32_t)gen_rand(g));
	h[12] = (uint8_t)((5 + opts / 4) << 4);
	h[13] = 0x02;
	put16(h + 14, 65535);
	memset(h + 20, 1, opts);
	app(b, h, 20 + opts);
	b->pay = b->len;
}

static void sctp(struct gen *g, struct built *b, uint16_t sport, uint16_t dport)
{
	uint8_t h[12] = { 0 };

	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, (uint32_t)gen_rand(g));
	app(b, h, 12);
	b->pay = b->len;
}

static void icmp(struct built *b, uint8_t type, uint8_t code, int body)
{
	uint8_t h[8] = { type, code };

	app(b, h, 4);
	b->pay = b->len;
	app(b, NULL, body);
}

/* Fills in lengths and checksums of what was built. */
static void finish(struct built *b)
{
	if (b->ip == 4) {
		int ihl = (b->d[b->l3] & 15) * 4;

		put16(b->d + b->l3 + 2, (uint16_t)(b->len - b->l3));
		b->d[b->l3 + 10] = b->d[b->l3 + 11] = 0;
		put16(b->d + b->l3 + 10, csum16(b->d + b->l3, ihl));
		if (b->d[b->l3 + 9] == 17 && b->l4 + 8 <= b->len && !(get16(b->d + b->l3 + 6) & 0x3fff))
			put16(b->d + b->l4 + 4, (uint16_t)(b->len - b->l4));
	} else if (b->ip == 6) {
		put16(b->d + b->l3 + 4, (uint16_t)(b->len - b->l3 - 40));
		if (b->l4 + 8 <= b->len && !b->frag6)
			put16(b->d + b->l4 + 4, (uint16_t)(b->len - b->l4));
	}
}

/* ---- the frames ---- */

static void payload(struct gen *g, struct built *b, const struct mdl_port *p)
{
	int r = rnd(g, 100), target;

	if (r < 75) {
		app_rand(g, b, rnd(g, 48));
		return;
	}
	/* around the MTU of the port (the sender's or the receiver's) */
	target = p->mtu + 14 + rnd(g, 7) - 3;
	if (r < 80)
		target = 3400 + rnd(g, 200) - 100;
	if (target > GEN_RUN_MAX)
		target = GEN_RUN_MAX - rnd(g, 100);
	if (target > b->len)
		app(b, NULL, target - b->len);
}

static void bootp(struct gen *g, struct built *b, uint8_t op, const uint8_t chaddr[6], uint8_t msgtype)
{
	uint8_t m[244] = { 0 };

	m[0] = op;
	m[1] = 1;
	m[2] = 6;
	put32(m + 4, (uint32_t)gen_rand(g));
	memcpy(m + 28, chaddr, 6);
	put32(m + 236, 0x63825363);
	m[240] = 53;
	m[241] = 1;
	m[242] = msgtype;
	m[243] = 255;
	app(b, m, 244);
}

/* Source and destination of an IP frame: from port's own, to a remote (from-VM), or reverse. */
static void addrs4(struct gen *g, struct built *b, uint8_t s[4], uint8_t d[4])
{
	if (b->dir == MDL_FROM_VM) {
		own4(g, b->port, s);
		remote4(g, b->port, d);
	} else {
		remote4(g, b->port, s);
		own4(g, b->port, d);
	}
}

static void addrs6(struct gen *g, struct built *b, uint8_t s[16], uint8_t d[16])
{
	if (b->dir == MDL_FROM_VM) {
		own6(g, b->port, s);
		remote6(g, b->port, d);
	} else {
		remote6(g, b->port, s);
		own6(g, b->port, d);
	}
}

static void macs(struct gen *g, struct built *b, uint8_t dm[6], uint8_t sm[6], int mc6)
{
	const struct mdl_port *p = &g->w->port[b->port];

	if (b->dir == MDL_FROM_VM) {
		memcpy(sm, p->mac, 6);
		dst_mac_from(g, b->port, dm, mc6);
	} else {
		int o = rnd(g, g->w->n_ports);

		memcpy(sm, o == b->port ? foreign_mac : g->w->port[o].mac, 6);
		memcpy(dm, chance(g, 80) ? p->mac : chance(g, 50) ? bcast : foreign_mac, 6);
	}
}

static int ext_count(struct gen *g)
{
	int r = rnd(g, 100);

	return r < 70 ? 0 : r < 90 ? 1 + rnd(g, 3) : 4 + rnd(g, 6);
}

static void build_ip_l4(struct gen *g, struct built *b, int kind)
{
	const struct mdl_port *p = &g->w->port[b->port];
	uint8_t dm[6], sm[6], s[16], d[16], proto;
	int v6 = kind >= GK_UDP6 && kind <= GK_NONEXT6;

	macs(g, b, dm, sm, v6);
	eth(g, b, dm, sm, v6 ? 0x86dd : 0x0800);
	switch (kind) {
	case GK_UDP4: case GK_UDP6: case GK_DHCP4_CLIENT: case GK_DHCP4_SERVER:
	case GK_DHCP6_CLIENT: case GK_DHCP6_SERVER: proto = 17; break;
	case GK_TCP4: case GK_TCP6: proto = 6; break;
	case GK_SCTP4: proto = 132; break;
	case GK_GRE4: proto = 47; break;
	case GK_ICMP4: case GK_ICMP4_ROUTER: proto = 1; break;
	case GK_NONEXT6: proto = 59; break;
	default: proto = 58; break;
	}
	if (!v6) {
		addrs4(g, b, s, d);
		if (kind == GK_DHCP4_CLIENT) {
			if (chance(g, 60))
				memset(s, 0, 4);
			a4(d, "255.255.255.255");
			if (b->dir == MDL_FROM_VM)
				memcpy(dm, bcast, 6);
		}
		ipv4(g, b, s, d, proto, chance(g, 15));
	} else {
		addrs6(g, b, s, d);
		if (kind == GK_NS || kind == GK_MLD || kind == GK_RS) {
			if (chance(g, 40))
				memset(s, 0, 16);
		}
		ipv6(g, b, s, d, proto, ext_count(g), chance(g, 15) || kind == GK_MLD);
	}
	switch (kind) {
	case GK_UDP4: case GK_UDP6:
		udp(b, some_port(g), some_port(g));
		payload(g, b, p);
		break;
	case GK_TCP4: case GK_TCP6:
		tcp(g, b, some_port(g), some_port(g));
		payload(g, b, p);
		break;
	case GK_SCTP4:
		sctp(g, b, some_port(g), some_port(g));
		payload(g, b, p);
		break;
	case GK_GRE4:
		app_rand(g, b, 4 + rnd(g, 40));
		break;
	case GK_ICMP4:
		icmp(b, chance(g, 50) ? 8 : (uint8_t)rnd(g, 20), 0, 4 + rnd(g, 40));
		break;
	case GK_ICMP4_ROUTER:
		icmp(b, chance(g, 50) ? 5 : 9, 0, 4 + rnd(g, 40));
		break;
	case GK_DHCP4_CLIENT:
		udp(b, chance(g, 85) ? 68 : some_port(g), 67);
		bootp(g, b, 1, chance(g, 80) ? p->mac : foreign_mac, (uint8_t[]){ 1, 3, 7 }[rnd(g, 3)]);
		break;
	case GK_DHCP4_SERVER:
		udp(b, chance(g, 85) ? 67 : some_port(g), chance(g, 80) ? 68 : 67);
		bootp(g, b, 2, g->w->port[rnd(g, g->w->n_ports)].mac, chance(g, 50) ? 2 : 5);
		break;
	case GK_DHCP6_CLIENT: case GK_DHCP6_SERVER: {
		static const uint8_t client[] = { 1, 3, 5, 8, 9, 11 }, server[] = { 2, 7, 10, 13, 12 };
		uint8_t m[4];
		int srv = kind == GK_DHCP6_SERVER;

		m[0] = srv ? server[rnd(g, 5)] : client[rnd(g, 6)];
		put16(m + 1, (uint16_t)gen_rand(g));
		m[3] = 0;
		udp(b, srv ? (chance(g, 80) ? 547 : some_port(g)) : 546,
		    srv ? (m[0] == 13 || chance(g, 30) ? 547 : 546) : 547);
		app(b, m, 4);
		app_rand(g, b, rnd(g, 24));
		break;
	}
	case GK_ICMP6:
		icmp(b, chance(g, 50) ? 128 : (uint8_t)(rnd(g, 2) ? 129 : 1 + rnd(g, 4)), 0, 4 + rnd(g, 40));
		break;
	case GK_NS: case GK_NA: {
		uint8_t target[16], opt[8];
		int n = rnd(g, 6), i;

		icmp(b, kind == GK_NS ? 135 : 136, 0, 0);
		app(b, NULL, 4);
		if (kind == GK_NA || chance(g, 50))
			own6(g, b->port, target);
		else
			remote6(g, b->port, target);
		app(b, target, 16);
		for (i = 0; i < n; i++) {
			opt[0] = chance(g, 70) ? (kind == GK_NS ? 1 : 2) : (chance(g, 50) ? 200 : 1 + rnd(g, 2));
			opt[1] = 1;
			memcpy(opt + 2, chance(g, 85) ? p->mac : foreign_mac, 6);
			app(b, opt, 8);
		}
		break;
	}
	case GK_RS: case GK_RA: case GK_REDIRECT6: {
		uint8_t opt[8] = { 1, 1 };

		icmp(b, kind == GK_RS ? 133 : kind == GK_RA ? 134 : 137, 0,
		     kind == GK_RS ? 4 : kind == GK_RA ? 12 : 36);
		if (chance(g, 60)) {
			memcpy(opt + 2, chance(g, 85) ? p->mac : foreign_mac, 6);
			app(b, opt, 8);
		}
		break;
	}
	case GK_MLD:
		icmp(b, chance(g, 70) ? 143 : 131, 0, 4 + 20 * rnd(g, 2));
		break;
	case GK_NONEXT6:
		app_rand(g, b, rnd(g, 16));
		break;
	}
	finish(b);
}

static void build_arp(struct gen *g, struct built *b)
{
	const struct mdl_port *p = &g->w->port[b->port];
	uint8_t dm[6], sm[6], a[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	macs(g, b, dm, sm, 0);
	if (chance(g, 50))
		memcpy(dm, bcast, 6);
	eth(g, b, dm, sm, 0x0806);
	a[7] = (uint8_t)(1 + rnd(g, 2));
	memcpy(a + 8, b->dir == MDL_FROM_VM ? p->mac : sm, 6);
	if (b->dir == MDL_FROM_VM) {
		if (chance(g, 20))
			memset(a + 14, 0, 4);
		else
			own4(g, b->port, a + 14);
		remote4(g, b->port, a + 24);
	} else {
		remote4(g, b->port, a + 14);
		own4(g, b->port, a + 24);
	}
	app(b, a, 28);
	if (chance(g, 30))
		app(b, NULL, 18);   /* padded to 60 */
	b->l4 = 0;
}

static void build_other(struct gen *g, struct built *b)
{
	static const uint16_t types[] = { 0x88cc, 0x8847, 0x0842, 0x8035, 0x9000, 0x05dc };
	uint8_t dm[6], sm[6];

	macs(g, b, dm, sm, 0);
	eth(g, b, dm, sm, types[rnd(g, 6)]);
	app_rand(g, b, 46);
}

/* ---- mutations ---- */

static void mutate(struct gen *g, struct built *b)
{
	int r = rnd(g, 26), at;

	switch (r) {
	case 0: /* truncate */
		if (b->len > 1)
			b->len = 1 + rnd(g, b->len - 1);
		break;
	case 1: /* trailing bytes */
		app_rand(g, b, 1 + rnd(g, 40));
		break;
	case 2: /* pad to a minimum frame */
		if (b->len < 64)
			app(b, NULL, (chance(g, 50) ? 60 : 64) - b->len);
		break;
	case 3: /* IPv4 total length / IPv6 payload length */
		if (b->ip && b->l3 + 6 <= b->len) {
			int o = b->l3 + (b->ip == 4 ? 2 : 4);

			put16(b->d + o, (uint16_t)(chance(g, 50) ? (uint64_t)(get16(b->d + o) + rnd(g, 9) - 4) : gen_rand(g)));
		}
		break;
	case 4: /* IHL / version */
		if (b->l3 < b->len)
			b->d[b->l3] = chance(g, 70) ? (uint8_t)((b->d[b->l3] & 0xf0) | rnd(g, 16))
						    : (uint8_t)((rnd(g, 16) << 4) | (b->d[b->l3] & 15));
		break;
	case 5: /* IPv4 fragment flags / offset */
		if (b->ip == 4 && b->l3 + 8 <= b->len)
			put16(b->d + b->l3 + 6, (uint16_t)(chance(g, 50) ? 0x2000 : rnd(g, 2) << 13 | rnd(g, 4)));
		break;
	case 6: /* IPv4 protocol */
		if (b->ip == 4 && b->l3 + 10 <= b->len)
			b->d[b->l3 + 9] = (uint8_t[]){ 1, 6, 17, 132, 47, 58 }[rnd(g, 6)];
		break;
	case 7: /* an extension header's length */
		if (b->n_ext) {
			at = b->ext[rnd(g, b->n_ext)] + 1;
			if (at < b->len)
				b->d[at] = (uint8_t)(chance(g, 50) ? b->d[at] + 1 : rnd(g, 256));
		}
		break;
	case 8: /* an extension header's next header */
		if (b->n_ext) {
			at = b->ext[rnd(g, b->n_ext)];
			if (at < b->len)
				b->d[at] = (uint8_t[]){ 0, 43, 44, 60, 51, 59, 6, 17, 58 }[rnd(g, 9)];
		} else if (b->ip == 6 && b->l3 + 7 <= b->len) {
			b->d[b->l3 + 6] = (uint8_t[]){ 0, 43, 44, 60, 51, 59 }[rnd(g, 6)];
		}
		break;
	case 9: /* insert an IPv6 fragment header at the L4 */
		if (b->ip == 6 && b->l4 && b->l4 <= b->len && b->len + 8 <= GEN_MAX && !b->frag6) {
			int prev = b->n_ext ? b->ext[b->n_ext - 1] : b->l3 + 6;
			uint8_t nh = b->d[prev];

			memmove(b->d + b->l4 + 8, b->d + b->l4, b->len - b->l4);
			b->len += 8;
			memset(b->d + b->l4, 0, 8);
			b->d[b->l4] = nh;
			b->d[prev] = 44;
			put16(b->d + b->l4 + 2, (uint16_t)(chance(g, 50) ? 1 : rnd(g, 4) << 3 | rnd(g, 2)));
			b->frag6 = b->l4;
			b->l4 += 8;
			if (b->pay)
				b->pay += 8;
			finish(b);
		}
		break;
	case 10: /* L4 ports: DHCP ports and from other source ports */
		if (b->l4 && b->l4 + 4 <= b->len) {
			static const uint16_t ports[] = { 67, 68, 546, 547, 22, 53, 80 };

			put16(b->d + b->l4 + (chance(g, 50) ? 2 : 0), ports[rnd(g, 7)]);
		}
		break;
	case 11: /* TCP data offset */
		if (b->l4 && b->l4 + 13 <= b->len)
			b->d[b->l4 + 12] = (uint8_t)(rnd(g, 16) << 4);
		break;
	case 12: /* foreign source MAC */
		memcpy(b->d + 6, foreign_mac, 6);
		break;
	case 13: /* foreign source address */
		if (b->ip == 4 && b->l3 + 16 <= b->len)
			remote4(g, b->port, b->d + b->l3 + 12);
		else if (b->ip == 6 && b->l3 + 24 <= b->len)
			remote6(g, b->port, b->d + b->l3 + 8);
		break;
	case 14: /* a VLAN tag (or a second one) */
		if (b->len + 4 <= GEN_MAX && b->len >= 14) {
			memmove(b->d + 16, b->d + 12, b->len - 12);
			put16(b->d + 12, chance(g, 70) ? 0x8100 : 0x88a8);
			put16(b->d + 14, (uint16_t)(chance(g, 50) ? 100 : rnd(g, 4096)));
			b->len += 4;
			b->l3 += 4;
			if (b->l4)
				b->l4 += 4;
			if (b->pay)
				b->pay += 4;
			if (b->frag6)
				b->frag6 += 4;
			for (at = 0; at < b->n_ext; at++)
				b->ext[at] += 4;
		}
		break;
	case 15: /* ethertype */
		if (b->len >= 14)
			put16(b->d + 12, (uint16_t[]){ 0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc }[rnd(g, 5)]);
		break;
	case 16: /* BOOTP op / htype / hlen / chaddr */
		if (b->pay && b->pay + 34 <= b->len) {
			int f = rnd(g, 4);

			if (f == 0)
				b->d[b->pay] = (uint8_t)rnd(g, 4);
			else if (f == 1)
				b->d[b->pay + 1] = (uint8_t)rnd(g, 8);
			else if (f == 2)
				b->d[b->pay + 2] = (uint8_t)rnd(g, 17);
			else
				b->d[b->pay + 28 + rnd(g, 6)] ^= (uint8_t)(1 + rnd(g, 255));
		}
		break;
	case 17: /* DHCPv6 message type / ICMP type */
		if (b->pay && b->pay < b->len && b->d[b->l3 + (b->ip == 6 ? 6 : 9)] == 17)
			b->d[b->pay] = (uint8_t)(1 + rnd(g, 13));
		else if (b->l4 && b->l4 < b->len)
			b->d[b->l4] = (uint8_t[]){ 133, 134, 135, 136, 137, 143, 128, 5, 9, 8 }[rnd(g, 10)];
		break;
	case 18: /* an ND option: type, length, address */
		if (b->l4 && b->l4 + 32 <= b->len && b->l4 + 32 < GEN_MAX) {
			at = b->l4 + 24 + 8 * rnd(g, (b->len - b->l4 - 24) / 8 + 1);
			if (at + 8 <= b->len) {
				int f = rnd(g, 3);

				if (f == 0)
					b->d[at] = (uint8_t)rnd(g, 4);
				else if (f == 1)
					b->d[at + 1] = (uint8_t)rnd(g, 3);
				else
					b->d[at + 2 + rnd(g, 6)] ^= 1;
			}
		}
		break;
	case 19: /* the ND target */
		if (b->l4 && b->l4 + 24 <= b->len)
			remote6(g, b->port, b->d + b->l4 + 8);
		break;
	case 20: /* ARP fields */
		if (b->l3 + 28 <= b->len) {
			int f = rnd(g, 5);

			if (f == 0)
				b->d[b->l3 + 1] = (uint8_t)rnd(g, 3);
			else if (f == 1)
				b->d[b->l3 + 4] = (uint8_t)rnd(g, 8);
			else if (f == 2)
				memcpy(b->d + b->l3 + 8, foreign_mac, 6);
			else if (f == 3)
				remote4(g, b->port, b->d + b->l3 + 14);
			else
				b->d[b->l3 + 5] = (uint8_t)rnd(g, 8);
		}
		break;
	case 21: /* destination MAC */
		dst_mac_from(g, b->port, b->d, 0);
		break;
	case 22: /* a random byte in the headers */
		if (b->len) {
			at = rnd(g, b->len < 120 ? b->len : 120);
			b->d[at] ^= (uint8_t)(1 + rnd(g, 255));
		}
		break;
	case 23: /* an IPv4 option of a random kind and length */
		if (b->ip == 4 && b->l3 + 24 <= b->len && (b->d[b->l3] & 15) > 5) {
			at = b->l3 + 20 + rnd(g, (b->d[b->l3] & 15) * 4 - 20);
			b->d[at] = (uint8_t[]){ 0, 1, 131, 137, 7, 68, 148 }[rnd(g, 7)];
			if (at + 1 < b->len)
				b->d[at + 1] = (uint8_t)rnd(g, 12);
		}
		break;
	case 24: /* around the MTU */
		app(b, NULL, g->w->port[b->port].mtu + 14 + rnd(g, 5) - 2 - b->len);
		finish(b);
		break;
	default: /* refit the lengths after other mutations */
		finish(b);
		break;
	}
}

/* ---- fragment groups ---- */

/*
 * A datagram split into 2..4 fragments, sometimes overlapping, sometimes a
 * tiny first fragment, sometimes a second "first" fragment rewriting the
 * L4 header (RFC 1858's attacks). Each fragment is a full frame.
 */
struct piece {
	int off8, len, more, alt;
};

static int plan_fragments(struct gen *g, int dlen, int alt_at, struct piece *plan)
{
	int n = 0, off = 0, n_attack = rnd(g, 3), k, i;

	while (off < dlen && n < GEN_GROUP_MAX - 2) {
		int len = 8 * (1 + rnd(g, dlen / 8));

		if (n == 0 && alt_at && chance(g, 50))
			len = alt_at;                     /* the header chain alone */
		else if (n == 0 && chance(g, 25))
			len = 8 * (1 + rnd(g, 2));        /* a tiny first fragment */

		if (off + len > dlen || n == GEN_GROUP_MAX - 3)
			len = dlen - off;
		plan[n].off8 = off / 8;
		plan[n].len = len;
		plan[n].more = off + len < dlen;
		plan[n].alt = 0;
		off += len;
		n++;
	}
	for (k = 0; k < n_attack; k++) {
		struct piece a;
		int at = rnd(g, n + 1), r = rnd(g, 3);

		a.off8 = r == 0 ? 0 : r == 1 ? alt_at / 8 : rnd(g, 3);
		if (a.off8 * 8 >= dlen)
			a.off8 = 0;
		a.len = 8 * (1 + rnd(g, 3));
		if (a.off8 * 8 + a.len > dlen)
			a.len = dlen - a.off8 * 8;
		a.more = 1;
		a.alt = a.off8 * 8 <= alt_at + 4;
		for (i = n; i > at; i--)
			plan[i] = plan[i - 1];
		plan[at] = a;
		n++;
	}
	return n;
}

static int build_frag_group(struct gen *g, int kind, enum mdl_dir dir, int port, struct gen_frame *out)
{
	uint8_t dgram[1600], alt[64], s[16], d[16], dm[6], sm[6];
	struct built hb = { .d = out[0].data, .dir = dir, .port = port };
	struct piece plan[GEN_GROUP_MAX];
	int dlen, n, i, proto_pick = rnd(g, 4), v6 = kind == GK_FRAG6;
	uint8_t proto = (uint8_t[]){ 17, 6, 17, 132 }[proto_pick], frag_nh;
	int alt_at = 0;
	uint32_t id = (uint32_t)gen_rand(g);
	struct built l4b = { .d = dgram, .dir = dir, .port = port };

	if (v6 && proto_pick == 3)
		proto = 58;
	/* the datagram's L4 header and payload */
	if (proto == 17)
		udp(&l4b, some_port(g), some_port(g));
	else if (proto == 6)
		tcp(g, &l4b, some_port(g), some_port(g));
	else if (proto == 132)
		sctp(g, &l4b, some_port(g), some_port(g));
	else
		icmp(&l4b, (uint8_t)(chance(g, 50) ? 128 : 135), 0, 4);
	app_rand(g, &l4b, 8 + 8 * rnd(g, 40));
	if (proto == 17)
		put16(dgram + 4, (uint16_t)l4b.len);
	/*
	 * IPv6: sometimes a destination options header in the fragmentable part,
	 * long enough to push the upper-layer header out of a first fragment
	 * (RFC 7112's case): the fragment header's next header is then 60.
	 */
	frag_nh = proto;
	if (v6 && chance(g, 50) && l4b.len + 64 <= (int)sizeof(dgram)) {
		int elen = 8 * (1 + rnd(g, 6));

		memmove(dgram + elen, dgram, l4b.len);
		memset(dgram, 0, elen);
		dgram[0] = proto;
		dgram[1] = (uint8_t)(elen / 8 - 1);
		dgram[2] = 1;
		dgram[3] = (uint8_t)(elen - 4);
		l4b.len += elen;
		frag_nh = 60;
		alt_at = elen;
	}
	dlen = l4b.len;
	/* an alternative L4 header for overlapping fragments: a denied or DHCP port */
	memcpy(alt, dgram, 64);
	if (alt_at + 4 <= 64)
		put16(alt + alt_at + 2, (uint16_t[]){ 22, 53, 67, 547, 80, 5005 }[rnd(g, 6)]);

	macs(g, &hb, dm, sm, v6);
	if (v6)
		addrs6(g, &hb, s, d);
	else
		addrs4(g, &hb, s, d);

	/*
	 * The plan: consecutive pieces covering the datagram (the first one
	 * sometimes tiny), and 0..2 attack pieces inserted among them: at offset
	 * 0, at the upper-layer header, or just past the start, carrying the
	 * alternative header (RFC 1858's overlap, RFC 7112's header chain).
	 */
	n = plan_fragments(g, dlen, alt_at, plan);
	for (i = 0; i < n; i++) {
		struct built b = { .d = out[i].data, .dir = dir, .port = port };
		int off8 = plan[i].off8, flen = plan[i].len, more = plan[i].more;
		const uint8_t *src = plan[i].alt ? alt : dgram;

		eth(g, &b, dm, sm, v6 ? 0x86dd : 0x0800);
		if (v6) {
			ipv6(g, &b, s, d, proto, chance(g, 20) ? 1 : 0, chance(g, 10));
			ipv6_frag_hdr(&b, b.n_ext ? b.ext[b.n_ext - 1] : b.l3 + 6, frag_nh, off8, more, id);
		} else {
			ipv4(g, &b, s, d, proto, chance(g, 10));
			put16(b.d + b.l3 + 4, (uint16_t)id);
			put16(b.d + b.l3 + 6, (uint16_t)((more ? 0x2000 : 0) | off8));
		}
		if (src == alt && off8 * 8 < 64)
			app(&b, alt + off8 * 8, flen < 64 - off8 * 8 ? flen : 64 - off8 * 8);
		else
			app(&b, src + off8 * 8, flen);
		finish(&b);
		if (chance(g, 5))
			mutate(g, &b);
		out[i].len = b.len < GEN_RUN_MAX ? b.len : GEN_RUN_MAX;
		out[i].dir = dir;
		out[i].port = port;
		out[i].kind = kind;
		out[i].mutated = 0;
	}
	return n;
}

int gen_case(struct gen *g, struct gen_frame out[GEN_GROUP_MAX])
{
	int r = rnd(g, 100), kind, port = rnd(g, g->w->n_ports), k;
	enum mdl_dir dir = r < 60 ? MDL_FROM_VM : r < 88 ? MDL_TO_VM : MDL_FROM_UPLINK;
	struct built b = { .d = out[0].data, .dir = dir, .port = port };

	if (dir == MDL_FROM_UPLINK)
		port = b.port = chance(g, 50) ? 3 : rnd(g, 2);   /* ports of segments with an uplink */
	kind = rnd(g, GK_COUNT);
	if (kind == GK_FRAG4 || kind == GK_FRAG6)
		return build_frag_group(g, kind, dir == MDL_FROM_UPLINK ? MDL_TO_VM : dir, port, out);
	if (kind == GK_ARP)
		build_arp(g, &b);
	else if (kind == GK_OTHER_ETH)
		build_other(g, &b);
	else
		build_ip_l4(g, &b, kind);
	out[0].mutated = 0;
	if (chance(g, 55)) {
		int n = 1 + rnd(g, 3);

		for (k = 0; k < n; k++)
			mutate(g, &b);
		out[0].mutated = n;
	}
	if (b.len < 0)
		b.len = 0;
	if (b.len > GEN_RUN_MAX)
		b.len = GEN_RUN_MAX;
	out[0].len = b.len;
	out[0].dir = dir;
	out[0].port = port;
	out[0].kind = kind;
	return 1;
}
