/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small pcapng writer (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html):
 * one section, interfaces with names and nanosecond timestamps, enhanced
 * packet blocks with a direction flag and a comment. libpcap writes only the
 * classic pcap format, which has neither.
 */
#ifndef XTAP_PCAPNG_H
#define XTAP_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

/* epb_flags' inbound/outbound bits (the block's direction). */
enum pcapng_dir {
	PCAPNG_DIR_UNKNOWN  = 0,
	PCAPNG_DIR_INBOUND  = 1,
	PCAPNG_DIR_OUTBOUND = 2,
};

/* Section header block; 0 or -1 with errno set (as for every call here). */
int pcapng_write_section(FILE *f, const char *application);
/* Interface description block: Ethernet, snaplen, name and description, ns timestamps. */
int pcapng_write_interface(FILE *f, const char *name, const char *description, uint32_t snaplen);
/* Enhanced packet block of interface ifid (in the order written); comment may be NULL. */
int pcapng_write_packet(FILE *f, uint32_t ifid, uint64_t ts_ns, const void *data, uint32_t caplen,
			uint32_t len, enum pcapng_dir dir, const char *comment);

#endif
