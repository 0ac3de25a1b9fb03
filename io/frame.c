/*
 * io/frame.c — the framer: cuts whole messages out of received bytes.
 *
 * Runs on the thread that owns the connection. The common case, one or more
 * whole messages inside one receive buffer, delivers pointers into that
 * buffer without copying. Only a message that straddles buffers is copied:
 * its header into hdr[] (19 bytes, inside the framer, so an idle connection
 * holds no heap memory), its body into a buffer of exactly its length,
 * allocated when the header is complete and freed once it is delivered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define HDR	19
#define LENOFF	16

void
io_frame_init(struct io_framer *f, uint32_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void
io_frame_fini(struct io_framer *f)
{
	free(f->body);
	f->body = NULL;
	f->hlen = 0;
	f->have = f->need = 0;
}

size_t
io_frame_held(const struct io_framer *f)
{
	return f->body != NULL ? f->have : f->hlen;
}

static unsigned
msg_len(const uint8_t *hdr)
{
	return (unsigned)hdr[LENOFF] << 8 | hdr[LENOFF + 1];
}

static int
frame_bad(struct io_framer *f, unsigned len, const struct io_frame_cb *cb)
{
	io_frame_fini(f);
	f->bad = true;
	if (cb->bad != NULL)
		cb->bad(cb->arg, len);
	return -EMSGSIZE;
}

/* Hands over the assembled message and returns to the idle state first. */
static int
deliver_body(struct io_framer *f, const struct io_frame_cb *cb)
{
	uint8_t	*m = f->body;
	size_t	 len = f->need;
	int	 r;

	f->body = NULL;
	f->have = f->need = 0;
	r = cb->deliver(cb->arg, m, len);
	free(m);
	return r;
}

int
io_frame_feed(struct io_framer *f, const uint8_t *p, size_t n,
    const struct io_frame_cb *cb, size_t *used)
{
	const uint8_t	*start = p;
	unsigned	 len;
	size_t		 take;

	if (used != NULL)
		*used = n;

	if (f->bad)
		return -EMSGSIZE;
	/* Each pass consumes at least one byte or returns: bounded by n. */
	while (n > 0) {
		if (f->body != NULL) {
			/* finishing a message that started in an earlier piece */
			take = f->need - f->have;
			if (take > n)
				take = n;
			memcpy(f->body + f->have, p, take);
			f->have += take;
			p += take;
			n -= take;
			if (f->have < f->need)
				return 0;
			if (deliver_body(f, cb) != 0)
				goto stop;
			continue;
		}
		if (f->hlen > 0) {
			/* completing a split header */
			take = HDR - f->hlen;
			if (take > n)
				take = n;
			memcpy(f->hdr + f->hlen, p, take);
			f->hlen += take;
			p += take;
			n -= take;
			if (f->hlen < HDR)
				return 0;
			len = msg_len(f->hdr);
			if (len < HDR || len > f->max)
				return frame_bad(f, len, cb);
			f->hlen = 0;
			if ((f->body = malloc(len)) == NULL)
				return -ENOMEM;
			memcpy(f->body, f->hdr, HDR);
			f->need = len;
			f->have = HDR;
			/* a bare header (KEEPALIVE) is complete already */
			if (f->have == f->need && deliver_body(f, cb) != 0)
				goto stop;
			continue;
		}
		if (n < HDR) {
			memcpy(f->hdr, p, n);
			f->hlen = n;
			return 0;
		}
		len = msg_len(p);
		if (len < HDR || len > f->max)
			return frame_bad(f, len, cb);
		if (len <= n) {
			/* whole message in this piece: no copy */
			p += len;
			n -= len;
			if (cb->deliver(cb->arg, p - len, len) != 0)
				goto stop;
			continue;
		}
		if ((f->body = malloc(len)) == NULL)
			return -ENOMEM;
		memcpy(f->body, p, n);
		f->need = len;
		f->have = n;
		return 0;
	}
	return 0;
stop:
	if (used != NULL)
		*used = (size_t)(p - start);
	return 1;
}
