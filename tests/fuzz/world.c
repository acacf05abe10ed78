// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzz tier's world: four VM ports in three segments, with the policy
 * the runner writes into the maps and the model reads.
 *
 *   A  segment 1 (uplink, untagged)  MTU 1500  --dhcp-server --router  ACLs both ways
 *   B  segment 1                     MTU 9000  no guards               ACLs both ways
 *   C  segment 2 (no uplink)         MTU 1500  no guards               packet limits, default-deny to-VM
 *   D  segment 3 (uplink, VLAN 100)  MTU 1500  --dhcp-server           default-deny from-VM
 */
#include <arpa/inet.h>
#include <string.h>

#include "world.h"

static void pfx(struct mdl_prefix *p, const char *addr, int len)
{
	memset(p, 0, sizeof(*p));
	if (strchr(addr, ':')) {
		p->family = 6;
		inet_pton(AF_INET6, addr, p->addr);
	} else {
		p->family = 4;
		inet_pton(AF_INET, addr, p->addr);
	}
	p->len = (uint8_t)len;
}

static void rule(struct mdl_acl *a, int allow, int proto, int pmin, int pmax, const char *cidr, int len)
{
	struct mdl_rule *r = &a->rule[a->n++];

	r->allow = allow;
	r->proto = (uint8_t)proto;
	r->pmin = (uint16_t)pmin;
	r->pmax = (uint16_t)pmax;
	if (cidr)
		pfx(&r->cidr, cidr, len);
	else
		memset(&r->cidr, 0, sizeof(r->cidr));   /* any address of either family */
}

static void port(struct mdl_world *w, int i, const char *name, int seg, int mtu, const char *ip4,
		 const char *ip6)
{
	struct mdl_port *p = &w->port[i];

	memset(p, 0, sizeof(*p));
	p->name = name;
	p->mac[0] = 0x02;
	p->mac[5] = (uint8_t)(0xa + i);
	p->segment = seg;
	p->mtu = (uint16_t)mtu;
	pfx(&p->pfx[p->n_pfx++], ip4, 32);
	pfx(&p->pfx[p->n_pfx++], ip6, 128);
	p->acl[0].default_allow = 1;
	p->acl[1].default_allow = 1;
}

void world_init(struct mdl_world *w)
{
	struct mdl_port *a = &w->port[0], *b = &w->port[1], *c = &w->port[2], *d = &w->port[3];

	memset(w, 0, sizeof(*w));
	w->n_ports = 4;
	w->segment[1].has_uplink = 1;
	w->segment[3].has_uplink = 1;
	w->segment[3].vlan = WORLD_VLAN;

	port(w, 0, "vmA", 1, 1500, "10.0.0.10", "2001:db8::a");
	pfx(&a->pfx[a->n_pfx++], "10.1.1.0", 24);
	pfx(&a->pfx[a->n_pfx++], "2001:db8:1::", 64);
	a->dhcp_server = a->router = 1;
	rule(&a->acl[0], 1, 6, 22, 22, "10.0.0.11", 32);
	rule(&a->acl[0], 0, 6, 22, 22, NULL, 0);
	rule(&a->acl[0], 0, 17, 53, 53, "192.0.2.0", 24);
	rule(&a->acl[0], 0, 132, 0, 65535, NULL, 0);
	rule(&a->acl[0], 0, 47, 0, 65535, "198.51.100.0", 24);
	rule(&a->acl[0], 0, 17, 5000, 5010, "2001:db8:dead::", 48);
	rule(&a->acl[1], 0, 6, 22, 22, NULL, 0);
	rule(&a->acl[1], 0, 132, 0, 65535, NULL, 0);
	rule(&a->acl[1], 0, 17, 53, 53, "192.0.2.0", 24);

	port(w, 1, "vmB", 1, 9000, "10.0.0.11", "2001:db8::b");
	rule(&b->acl[0], 0, 6, 22, 22, NULL, 0);
	rule(&b->acl[0], 0, 17, 53, 53, "2001:db8:dead::", 48);
	rule(&b->acl[0], 0, 17, 0, 65535, "198.51.100.0", 24);
	rule(&b->acl[1], 0, 6, 80, 81, NULL, 0);
	rule(&b->acl[1], 0, 132, 0, 65535, NULL, 0);

	port(w, 2, "vmC", 2, 1500, "10.0.0.12", "2001:db8::c");
	rule(&c->acl[0], 0, 6, 22, 22, NULL, 0);
	c->acl[1].default_allow = 0;
	rule(&c->acl[1], 1, 17, 0, 65535, NULL, 0);
	rule(&c->acl[1], 1, 6, 80, 80, NULL, 0);
	rule(&c->acl[1], 1, 58, 0, 65535, NULL, 0);
	rule(&c->acl[1], 1, 1, 0, 65535, NULL, 0);
	c->packet_limited[0] = c->packet_limited[1] = 1;

	port(w, 3, "vmD", 3, 1500, "10.0.0.13", "2001:db8::d");
	d->dhcp_server = 1;
	d->acl[0].default_allow = 0;
	rule(&d->acl[0], 0, 17, 53, 53, "192.0.2.0", 24);
	rule(&d->acl[0], 1, 17, 0, 65535, NULL, 0);
	rule(&d->acl[0], 1, 6, 1024, 65535, NULL, 0);
	rule(&d->acl[0], 1, 58, 0, 65535, NULL, 0);
	rule(&d->acl[0], 1, 1, 0, 65535, NULL, 0);
	rule(&d->acl[1], 0, 6, 22, 22, NULL, 0);
}
