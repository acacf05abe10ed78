// SPDX-License-Identifier: GPL-2.0
/* A pcapng writer of the few blocks xtapctl capture needs (pcapng.h). Host byte order, as pcapng allows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

#define BT_SHB 0x0A0D0D0AU
#define BT_IDB 0x00000001U
#define BT_EPB 0x00000006U
#define LINKTYPE_ETHERNET 1

#define OPT_END      0
#define OPT_COMMENT  1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME  2
#define OPT_IF_DESCRIPTION 3
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* A block being built: body appended, then framed by type and total length. */
struct block {
	uint8_t *buf;
	size_t len, cap;
};

static int put(struct block *b, const void *p, size_t n)
{
	size_t need = b->len + pad4(n);

	if (need > b->cap) {
		size_t cap = need * 2;
		uint8_t *nb = realloc(b->buf, cap);

		if (!nb)
			return -1;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	memset(b->buf + b->len + n, 0, pad4(n) - n);
	b->len = need;
	return 0;
}

static int put32(struct block *b, uint32_t v)
{
	return put(b, &v, 4);
}

static int put_opt(struct block *b, uint16_t code, const void *p, size_t n)
{
	uint16_t h[2] = { code, (uint16_t)n };

	if (n > 0xFFFF) {
		errno = EINVAL;
		return -1;
	}
	return put(b, h, sizeof(h)) || (n && put(b, p, n)) ? -1 : 0;
}

static int put_end(struct block *b)
{
	return put_opt(b, OPT_END, NULL, 0);
}

static int emit(FILE *f, uint32_t type, struct block *b)
{
	uint32_t total = (uint32_t)b->len + 12;
	int err = fwrite(&type, 4, 1, f) != 1 || fwrite(&total, 4, 1, f) != 1 ||
		  (b->len && fwrite(b->buf, b->len, 1, f) != 1) || fwrite(&total, 4, 1, f) != 1;

	free(b->buf);
	return err || fflush(f) ? -1 : 0;
}

int pcapng_write_section(FILE *f, const char *application)
{
	struct block b = { 0 };
	uint32_t magic = 0x1A2B3C4D;
	uint16_t ver[2] = { 1, 0 };
	int64_t section_len = -1;

	if (put32(&b, magic) || put(&b, ver, sizeof(ver)) || put(&b, &section_len, 8) ||
	    put_opt(&b, OPT_SHB_USERAPPL, application, strlen(application)) || put_end(&b)) {
		free(b.buf);
		return -1;
	}
	return emit(f, BT_SHB, &b);
}

int pcapng_write_interface(FILE *f, const char *name, const char *description, uint32_t snaplen)
{
	struct block b = { 0 };
	uint16_t lt[2] = { LINKTYPE_ETHERNET, 0 };
	uint8_t tsresol = 9;   /* 10^-9 s */

	if (put(&b, lt, sizeof(lt)) || put32(&b, snaplen) ||
	    put_opt(&b, OPT_IF_NAME, name, strlen(name)) ||
	    put_opt(&b, OPT_IF_DESCRIPTION, description, strlen(description)) ||
	    put_opt(&b, OPT_IF_TSRESOL, &tsresol, 1) || put_end(&b)) {
		free(b.buf);
		return -1;
	}
	return emit(f, BT_IDB, &b);
}

int pcapng_write_packet(FILE *f, uint32_t ifid, uint64_t ts_ns, const void *data, uint32_t caplen,
			uint32_t len, enum pcapng_dir dir, const char *comment)
{
	struct block b = { 0 };
	uint32_t flags = dir;

	if (put32(&b, ifid) || put32(&b, (uint32_t)(ts_ns >> 32)) || put32(&b, (uint32_t)ts_ns) ||
	    put32(&b, caplen) || put32(&b, len) || (caplen && put(&b, data, caplen)) ||
	    put_opt(&b, OPT_EPB_FLAGS, &flags, 4) ||
	    (comment && put_opt(&b, OPT_COMMENT, comment, strlen(comment))) || put_end(&b)) {
		free(b.buf);
		return -1;
	}
	return emit(f, BT_EPB, &b);
}
