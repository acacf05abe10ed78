// SPDX-License-Identifier: GPL-2.0
/*
 * The reference model (model.h): xtap's packet rules, read from the spec and
 * the RFCs, one frame at a time. Written for clarity over speed; nothing
 * here is shared with bpf/.
 */
#include <string.h>

#include "model.h"

#define ETH_IP4  0x0800
#define ETH_IP6  0x86dd
#define ETH_ARP  0x0806
#define ETH_8021Q 0x8100
#define ETH_8021AD 0x88a8

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ICMP6 58
#define P_SCTP 132
#define P_NONE6 59

/* "every header, the upper-layer one included, must start within the first 1023 bytes of the frame" */
#define MDL_IP6_HDR_START_MAX 1022

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void add(struct mdl_verdict *v, int reason)
{
	if (!v->drop) {
		v->drop = 1;
		v->reason = reason;
	}
	v->reasons |= 1u << reason;
}

int mdl_min_l4(int family, uint8_t proto)
{
	switch (proto) {
	case P_TCP: return 20;
	case P_UDP: return 8;
	case P_ICMP: return family == 4 ? 8 : 0;     /* ICMP is IPv4's, ICMPv6 IPv6's */
	case P_ICMP6: return family == 6 ? 8 : 0;
	case P_SCTP: return 12;
	default: return 0;
	}
}

static int carries_ports(uint8_t proto)
{
	return proto == P_TCP || proto == P_UDP || proto == P_SCTP;
}

static int is_ext6(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51;
}

static int in_prefix(const struct mdl_prefix *pf, int family, const uint8_t *addr)
{
	int bytes = pf->len / 8, bits = pf->len % 8;

	if (pf->family && pf->family != family)
		return 0;
	if (!pf->family)   /* any address of either family */
		return 1;
	if (memcmp(pf->addr, addr, bytes))
		return 0;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((pf->addr[bytes] & mask) != (addr[bytes] & mask))
			return 0;
	}
	return 1;
}

static void eui64_link_local(uint8_t out[16], const uint8_t mac[6])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

int mdl_own_addr(const struct mdl_port *p, int family, const uint8_t *addr)
{
	int i;

	for (i = 0; i < p->n_pfx; i++)
		if (p->pfx[i].family == family && in_prefix(&p->pfx[i], family, addr))
			return 1;
	if (family == 6) {
		uint8_t ll[16];

		eui64_link_local(ll, p->mac);
		return !memcmp(ll, addr, 16);
	}
	return 0;
}

int mdl_acl_allows(const struct mdl_acl *acl, int family, const uint8_t remote[16], uint8_t proto,
		   int has_ports, uint16_t dport)
{
	int i;

	for (i = 0; i < acl->n; i++) {
		const struct mdl_rule *r = &acl->rule[i];
		int any_port = r->pmin == 0 && r->pmax == 65535;

		if (!in_prefix(&r->cidr, family, remote))
			continue;
		if (r->proto && r->proto != proto)
			continue;
		if (!any_port && (!has_ports || dport < r->pmin || dport > r->pmax))
			continue;
		return r->allow;
	}
	return acl->default_allow;
}

/* RFC 4861 options from off to end: recorded; 1 if they are well formed. */
static int nd_options(struct mdl_facts *f, const uint8_t *p, int off, int end)
{
	while (off < end) {
		int olen;

		if (off + 2 > end)
			return 0;
		olen = p[off + 1] * 8;
		if (!olen || off + olen > end)
			return 0;
		if (f->n_ndopt < MDL_MAX_NDOPT) {
			f->ndopt[f->n_ndopt].type = p[off];
			f->ndopt[f->n_ndopt].len = p[off + 1];
			memcpy(f->ndopt[f->n_ndopt].lla, p + off + 2, olen >= 8 ? 6 : 0);
		}
		f->n_ndopt++;
		off += olen;
	}
	return 1;
}

/*
 * The upper-layer header at f->l4 (when present): checks that it fits the IP
 * packet and reads ports, ICMP type, ND and DHCP fields. Returns 0 when it
 * does not fit (the caller decides MALFORMED or FRAGMENT), -1 when it is no
 * valid header at all (a TCP data offset below 5: MALFORMED, fragment or not).
 */
static int read_l4(struct mdl_facts *f, const uint8_t *p)
{
	int room = f->ip_end - f->l4, min = mdl_min_l4(f->family, f->proto);

	if (room < min)
		return 0;
	if (f->proto == P_TCP) {
		int doff = (p[f->l4 + 12] >> 4) * 4;

		if (doff < 20)
			return -1;
		if (doff > room)
			return 0;
	}
	if (carries_ports(f->proto)) {
		f->has_ports = 1;
		f->sport = be16(p + f->l4);
		f->dport = be16(p + f->l4 + 2);
	}
	if ((f->family == 4 && f->proto == P_ICMP) || (f->family == 6 && f->proto == P_ICMP6))
		f->icmp_type = p[f->l4];
	return 1;
}

static const uint8_t zero16[16];

/* DHCPv4 (RFC 2131) from a VM: to 67 a client's BOOTREQUEST, to 68 a server's. */
static void check_dhcp4(const struct mdl_port *pt, const uint8_t *p, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int pay = f->l4 + 8, room = f->ip_end - pay;

	if (f->proto != P_UDP || !f->has_ports || (f->dport != 67 && f->dport != 68))
		return;
	if (f->frag) {
		add(v, MDL_DROP_FRAGMENT);
		return;
	}
	f->dhcp4 = 1;
	if (f->dport == 68) {
		if (!pt->dhcp_server)
			add(v, XTAP_DROP_DHCP_SERVER);
		return;
	}
	if (room < 34) {
		add(v, XTAP_DROP_MALFORMED);
		return;
	}
	f->bootp_op = p[pay];
	f->bootp_htype = p[pay + 1];
	f->bootp_hlen = p[pay + 2];
	memcpy(f->chaddr, p + pay + 28, 6);
	if (f->bootp_op != 1) {
		if (!pt->dhcp_server)
			add(v, XTAP_DROP_DHCP_SERVER);
	} else if (f->bootp_htype != 1 || f->bootp_hlen != 6 || memcmp(f->chaddr, pt->mac, 6)) {
		add(v, XTAP_DROP_SPOOF_DHCP);
	}
}

/* The one exception to the IPv4 source rule: a DHCP client before it has an address. */
static int dhcp4_client_from_zero(const struct mdl_port *pt, const struct mdl_facts *f)
{
	return f->dhcp4 && f->sport == 68 && f->dport == 67 && f->bootp_op == 1 &&
	       f->bootp_htype == 1 && f->bootp_hlen == 6 && !memcmp(f->chaddr, pt->mac, 6);
}

static void check_dhcp6(const struct mdl_port *pt, const uint8_t *p, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int pay = f->l4 + 8;

	if (f->proto != P_UDP || !f->has_ports || (f->dport != 546 && f->dport != 547))
		return;
	if (f->frag) {
		add(v, MDL_DROP_FRAGMENT);
		return;
	}
	if (f->dport == 546) {
		if (!pt->dhcp_server)
			add(v, XTAP_DROP_DHCP_SERVER);
		return;
	}
	if (f->ip_end - pay < 1) {
		add(v, XTAP_DROP_MALFORMED);
		return;
	}
	f->dhcp6_type = p[pay];
	if ((f->dhcp6_type == 2 || f->dhcp6_type == 7 || f->dhcp6_type == 10 || f->dhcp6_type == 13) &&
	    !pt->dhcp_server)
		add(v, XTAP_DROP_DHCP_SERVER);
}

/* ND (RFC 4861) from a VM: targets and link-layer options are the port's own. */
static void check_nd(const struct mdl_port *pt, const uint8_t *p, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int t = f->icmp_type, room = f->ip_end - f->l4, opts, i;
	int unspec = !memcmp(f->src, zero16, 16);

	if (t != 133 && t != 135 && t != 136)
		return;
	opts = t == 133 ? 8 : 24;
	if (room < opts) {
		add(v, XTAP_DROP_MALFORMED);
		return;
	}
	if (t != 133) {
		f->nd_target_present = 1;
		memcpy(f->nd_target, p + f->l4 + 8, 16);
	}
	if (!nd_options(f, p, f->l4 + opts, f->ip_end)) {
		/*
		 * A malformed option (length 0, or past the packet): every receiver
		 * discards the message (RFC 4861 6.1, 7.1) and the spec does not say
		 * whether xtap drops it: either is right, a drop as SPOOF_ND or
		 * MALFORMED. The options before it are checked as usual.
		 */
		v->either = 1u << XTAP_DROP_SPOOF_ND | 1u << XTAP_DROP_MALFORMED;
	}
	if (f->n_ndopt > 4)
		add(v, XTAP_DROP_SPOOF_ND);
	for (i = 0; i < f->n_ndopt && i < MDL_MAX_NDOPT; i++) {
		if (f->ndopt[i].type != 1 && f->ndopt[i].type != 2)
			continue;
		/* the address is the option's first 6 bytes, whatever its length (receivers differ) */
		if (memcmp(f->ndopt[i].lla, pt->mac, 6))
			add(v, XTAP_DROP_SPOOF_ND);
		/* RFC 4862: a DAD NS has no SLLA; no link-layer option at all, as the programs read it */
		if (t == 135 && unspec)
			add(v, XTAP_DROP_SPOOF_ND);
	}
	if (t == 136 && !mdl_own_addr(pt, 6, f->nd_target))
		add(v, XTAP_DROP_SPOOF_ND);
	if (t == 135 && unspec && !mdl_own_addr(pt, 6, f->nd_target))
		add(v, XTAP_DROP_SPOOF_ND);
}

/* IPv4 (RFC 791, 1858). Returns 1 when the packet was read far enough for policy. */
static int parse_ip4(const uint8_t *p, int len, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int l3 = f->l3, avail = len - l3, ihl, tot, i, fo, r;

	if (avail < 20 || p[l3] >> 4 != 4 || (p[l3] & 15) < 5) {
		add(v, XTAP_DROP_MALFORMED);
		return 0;
	}
	ihl = (p[l3] & 15) * 4;
	tot = be16(p + l3 + 2);
	if (tot < ihl || tot > avail) {
		add(v, XTAP_DROP_MALFORMED);
		return 0;
	}
	f->ip_end = l3 + tot;
	if (len > f->ip_end && len > (f->tags ? 64 : 60))
		add(v, MDL_DROP_TRAILING);
	for (i = 20; i < ihl;) {
		uint8_t t = p[l3 + i], ol;

		if (t == 0)
			break;
		if (t == 1) {
			i++;
			continue;
		}
		if (i + 1 >= ihl) {
			add(v, XTAP_DROP_MALFORMED);
			return 0;
		}
		ol = p[l3 + i + 1];
		if (ol < 2 || i + ol > ihl) {
			add(v, XTAP_DROP_MALFORMED);
			return 0;
		}
		if (t == 131 || t == 137)
			add(v, MDL_DROP_IP_OPTION);
		i += ol;
	}
	f->proto = p[l3 + 9];
	memcpy(f->src, p + l3 + 12, 4);
	memcpy(f->dst, p + l3 + 16, 4);
	fo = be16(p + l3 + 6);
	f->frag_more = !!(fo & 0x2000);
	f->frag_off = fo & 0x1fff;
	f->frag = f->frag_more || f->frag_off;
	f->frag_id = be16(p + l3 + 4);
	f->frag_data = l3 + ihl;
	if (f->frag && f->frag_off) {
		/* RFC 1858, generalised: a later fragment must not overlap the L4 header */
		if (f->frag_off * 8 < mdl_min_l4(4, f->proto))
			add(v, MDL_DROP_FRAGMENT);
		return 1;
	}
	f->l4 = l3 + ihl;
	if ((r = read_l4(f, p)) <= 0) {
		add(v, f->frag && r == 0 ? MDL_DROP_FRAGMENT : XTAP_DROP_MALFORMED);
		f->l4 = 0;
		return 0;
	}
	return 1;
}

/* IPv6 (RFC 8200, 7112, 6980). */
static int parse_ip6(const uint8_t *p, int len, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int l3 = f->l3, avail = len - l3, off, count = 0, r;
	uint8_t nh;

	if (avail < 40 || p[l3] >> 4 != 6) {
		add(v, XTAP_DROP_MALFORMED);
		return 0;
	}
	if (40 + be16(p + l3 + 4) > avail) {
		add(v, XTAP_DROP_MALFORMED);
		return 0;
	}
	f->ip_end = l3 + 40 + be16(p + l3 + 4);
	if (len > f->ip_end && len > (f->tags ? 64 : 60))
		add(v, MDL_DROP_TRAILING);
	memcpy(f->src, p + l3 + 8, 16);
	memcpy(f->dst, p + l3 + 24, 16);
	nh = p[l3 + 6];
	off = l3 + 40;
	while (is_ext6(nh)) {
		int hl;

		/* every header must start within the frame's first 1023 bytes (the spec's verifier bound) */
		if (off > MDL_IP6_HDR_START_MAX) {
			add(v, XTAP_DROP_MALFORMED);
			return 0;
		}

		if (++count > 8 || (nh == 0 && count != 1)) {
			add(v, XTAP_DROP_MALFORMED);
			return 0;
		}
		if (nh == 44) {
			int fo;

			if (f->frag) {
				add(v, MDL_DROP_FRAGMENT);
				return 0;
			}
			if (off + 8 > f->ip_end) {
				add(v, XTAP_DROP_MALFORMED);
				return 0;
			}
			fo = be16(p + off + 2);
			f->frag = 1;
			f->frag_off = fo >> 3;
			f->frag_more = fo & 1;
			f->frag_id = (uint32_t)be16(p + off + 4) << 16 | be16(p + off + 6);
			nh = p[off];
			off += 8;
			f->frag_data = off;
			if (f->frag_off) {
				f->proto = nh;
				if (is_ext6(nh)) {
					add(v, MDL_DROP_FRAGMENT);
					return 0;
				}
				if (f->frag_off * 8 < mdl_min_l4(6, nh))
					add(v, MDL_DROP_FRAGMENT);
				return 1;
			}
			continue;
		}
		if (off + 2 > f->ip_end) {
			add(v, f->frag ? MDL_DROP_FRAGMENT : XTAP_DROP_MALFORMED);
			return 0;
		}
		hl = nh == 51 ? (p[off + 1] + 2) * 4 : (p[off + 1] + 1) * 8;
		if (off + hl > f->ip_end) {
			add(v, f->frag ? MDL_DROP_FRAGMENT : XTAP_DROP_MALFORMED);
			return 0;
		}
		nh = p[off];
		off += hl;
	}
	f->proto = nh;
	if (nh == P_NONE6)
		return 1;
	if (off > MDL_IP6_HDR_START_MAX) {
		add(v, XTAP_DROP_MALFORMED);
		return 0;
	}
	f->l4 = off;
	if ((r = read_l4(f, p)) <= 0) {
		add(v, f->frag && r == 0 ? MDL_DROP_FRAGMENT : XTAP_DROP_MALFORMED);
		f->l4 = 0;
		return 0;
	}
	/* RFC 6980: no ND message in a fragment */
	if (f->frag && nh == P_ICMP6 && f->icmp_type >= 133 && f->icmp_type <= 137)
		add(v, MDL_DROP_FRAGMENT);
	return 1;
}

static void parse_arp(const uint8_t *p, int len, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	const uint8_t *a = p + f->l3;

	if (len - f->l3 < 28 || be16(a) != 1 || be16(a + 2) != ETH_IP4 || a[4] != 6 || a[5] != 4) {
		add(v, XTAP_DROP_MALFORMED);
		return;
	}
	f->parsed = 1;
	memcpy(f->arp_sha, a + 8, 6);
	memcpy(f->arp_spa, a + 14, 4);
}

static void check_arp(const struct mdl_port *pt, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;

	if (memcmp(f->arp_sha, pt->mac, 6))
		add(v, XTAP_DROP_SPOOF_ARP);
	if (memcmp(f->arp_spa, zero16, 4) && !mdl_own_addr(pt, 4, f->arp_spa))
		add(v, XTAP_DROP_SPOOF_ARP);
}

/* Anti-spoofing, servers and routers of an IP packet from a VM. */
static void from_vm_ip(const struct mdl_port *pt, const uint8_t *p, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int l4 = f->l4 != 0;

	if (f->family == 4) {
		int zero = !memcmp(f->src, zero16, 4);
		/* 0.0.0.0 is a source only for UDP 68 -> 67; from anywhere else it is foreign */
		int asks = f->proto == P_UDP && f->has_ports && f->sport == 68 && f->dport == 67;

		if (zero ? !asks : !mdl_own_addr(pt, 4, f->src))
			add(v, XTAP_DROP_SPOOF_IPV4);
		if (l4)
			check_dhcp4(pt, p, v);
		if (zero && !dhcp4_client_from_zero(pt, f))
			add(v, XTAP_DROP_SPOOF_IPV4);
		if (l4 && f->proto == P_ICMP && (f->icmp_type == 5 || f->icmp_type == 9) && !pt->router)
			add(v, XTAP_DROP_ROUTER_ADV);
		return;
	}
	if (!memcmp(f->src, zero16, 16)) {
		/*
		 * DAD (NS, RFC 4862) and the MLD reports sent before it (RFC 3590,
		 * 3810) may come from ::, as messages of their own, not in a fragment.
		 */
		if (!(l4 && !f->frag && f->proto == P_ICMP6 &&
		      (f->icmp_type == 135 || f->icmp_type == 131 || f->icmp_type == 143)))
			add(v, XTAP_DROP_SPOOF_IPV6);
	} else if (!mdl_own_addr(pt, 6, f->src)) {
		add(v, XTAP_DROP_SPOOF_IPV6);
	}
	if (l4)
		check_dhcp6(pt, p, v);
	if (l4 && f->proto == P_ICMP6) {
		if ((f->icmp_type == 134 || f->icmp_type == 137) && !pt->router)
			add(v, XTAP_DROP_ROUTER_ADV);
		check_nd(pt, p, v);
	}
}

static int mac_is_group(const uint8_t *m)
{
	return m[0] & 1;
}

static int port_by_mac(const struct mdl_world *w, int segment, const uint8_t *mac)
{
	int i;

	for (i = 0; i < w->n_ports; i++)
		if (w->port[i].segment == segment && !memcmp(w->port[i].mac, mac, 6))
			return i;
	return -1;
}

static void decide_uplink(const struct mdl_world *w, const uint8_t *p, struct mdl_verdict *v)
{
	struct mdl_facts *f = &v->f;
	int seg = -1, i, t;

	for (i = 1; i < 4; i++)
		if (w->segment[i].has_uplink && w->segment[i].vlan == (f->tags ? f->vlan : 0))
			seg = i;
	/* only an 802.1Q tag selects a segment: an 802.1ad outer tag is the host's */
	if (f->tags && be16(p + 12) == ETH_8021AD)
		seg = -1;
	if (seg < 0 || f->tags < 0) {
		v->steer = MDL_STEER_HOST;
		return;
	}
	if (mac_is_group(p)) {
		v->steer = MDL_STEER_FLOOD;
		return;
	}
	t = port_by_mac(w, seg, p);
	v->steer = t < 0 ? MDL_STEER_HOST : MDL_STEER_PORT;
	v->target = t;
}

void mdl_decide(const struct mdl_world *w, enum mdl_dir dir, int port, const uint8_t *p, int len,
		struct mdl_verdict *v)
{
	const struct mdl_port *pt = dir == MDL_FROM_UPLINK ? NULL : &w->port[port];
	struct mdl_facts *f = &v->f;
	int from_vm = dir == MDL_FROM_VM, max_len;

	memset(v, 0, sizeof(*v));
	v->target = -1;
	f->len = len;
	f->icmp_type = -1;
	f->dhcp6_type = -1;
	if (len < 14) {
		if (dir != MDL_FROM_UPLINK)
			add(v, XTAP_DROP_MALFORMED);
		else
			v->steer = MDL_STEER_HOST;
		return;
	}
	f->dmac = p;
	f->smac = p + 6;
	f->ethertype = be16(p + 12);
	f->l3 = 14;
	while (f->ethertype == ETH_8021Q || f->ethertype == ETH_8021AD) {
		if (f->tags == 1) {
			/*
			 * A second tag: MALFORMED on a VM port. The uplink steers by the
			 * outer one; the target's to-VM policy then sees a tagged frame.
			 */
			f->tags++;
			break;
		}
		if (f->l3 + 4 > len) {
			f->tags = -1;
			break;
		}
		f->vlan = be16(p + f->l3) & 0xfff;
		f->ethertype = be16(p + f->l3 + 2);
		f->l3 += 4;
		f->tags++;
	}
	if (dir == MDL_FROM_UPLINK) {
		decide_uplink(w, p, v);
		return;
	}
	/*
	 * In the order the spec gives ("Which rule decides"): 1. the header walk,
	 * in header order; 2. the VM's own checks (from a VM: tag, source MAC,
	 * ethertype, then per family) or the receiving port's (tag, destination
	 * MAC); 3. the ACL, to a VM the MTU, the rate limiter, and from a VM the
	 * steering, then (in tc) the MTU. The first reason met decides.
	 */
	max_len = pt->mtu + 14 + (f->tags > 0 ? 4 : 0);
	if (f->tags < 0 || f->tags > 1) {
		add(v, XTAP_DROP_MALFORMED);
	} else {
		switch (f->ethertype) {
		case ETH_IP4:
			f->family = 4;
			f->parsed = parse_ip4(p, len, v);
			break;
		case ETH_IP6:
			f->family = 6;
			f->parsed = parse_ip6(p, len, v);
			break;
		case ETH_ARP:
			f->family = 'A';
			parse_arp(p, len, v);
			break;
		}
	}
	if (f->tags)   /* VM ports are untagged */
		add(v, XTAP_DROP_VLAN_TAGGED);
	if (from_vm) {
		if (memcmp(f->smac, pt->mac, 6))
			add(v, XTAP_DROP_SPOOF_MAC);
		if (f->ethertype != ETH_IP4 && f->ethertype != ETH_IP6 && f->ethertype != ETH_ARP)
			add(v, XTAP_DROP_ETHERTYPE);
		else if (f->family == 'A' && f->parsed)
			check_arp(pt, v);
		else if ((f->family == 4 || f->family == 6) && f->parsed)
			from_vm_ip(pt, p, v);
	} else if (!mac_is_group(f->dmac) && memcmp(f->dmac, pt->mac, 6)) {
		add(v, XTAP_DROP_DST_MAC);
	}
	if ((f->family == 4 || f->family == 6) && f->parsed &&
	    !mdl_acl_allows(&pt->acl[from_vm ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM], f->family,
			    from_vm ? f->dst : f->src, f->proto, f->has_ports, f->dport))
		add(v, XTAP_DROP_ACL);
	if (!from_vm && len > max_len)
		add(v, MDL_DROP_MTU);
	/* the limiter sees what passed so far; what follows it may still drop the frame */
	v->rate_ok = pt->packet_limited[from_vm ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM] && !v->drop;
	if (!from_vm)
		return;
	if (!memcmp(f->dmac, pt->mac, 6))
		add(v, XTAP_DROP_HAIRPIN);
	if (len > max_len) {
		v->mtu_exceeded = 1;
		add(v, MDL_DROP_MTU);
	}
	if (v->drop)
		return;
	if (mac_is_group(f->dmac)) {
		v->steer = MDL_STEER_FLOOD;
	} else if ((v->target = port_by_mac(w, pt->segment, f->dmac)) >= 0) {
		v->steer = MDL_STEER_PORT;
	} else {
		v->steer = w->segment[pt->segment].has_uplink ? MDL_STEER_UPLINK : MDL_STEER_HOST;
	}
}

const char *mdl_reason_name(int r)
{
	static const char *const names[] = {
		"none", "malformed", "vlan_tagged", "ethertype", "spoof_mac", "spoof_ipv4",
		"spoof_ipv6", "spoof_arp", "spoof_nd", "spoof_dhcp", "dhcp_server", "router",
		"acl", "rate_bytes", "rate_packets", "dst_mac", "hairpin", "no_target",
		"trailing", "fragment", "ip_option", "mtu", "ct_full", "ct_invalid", "underlay",
	};

	return r >= 0 && r < (int)(sizeof(names) / sizeof(names[0])) ? names[r] : "?";
}
