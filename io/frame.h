/*
 * io/frame.h — private to io/ (and its unit test): cuts length-prefixed
 * messages (RFC 4271 §4.1: 19-octet header, big-endian total length at
 * octets 16-17) out of a byte stream fed in arbitrary pieces.
 *
 * Pure: no I/O, runs on whatever thread owns the framer (the connection's
 * loop). Invariants: hlen < 19 while a header is incomplete; once the header
 * is complete, a body buffer of exactly need bytes exists and have < need;
 * between messages nothing is allocated (hlen == 0, body == NULL). After a
 * framing error (bad) the framer swallows everything.
 */
#ifndef ROUTEHUB_IO_FRAME_H
#define ROUTEHUB_IO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_framer {
	uint8_t		 hdr[19];
	uint8_t		 hlen;		/* header bytes held (partial) */
	bool		 bad;		/* framing error seen */
	uint32_t	 max;		/* longest acceptable message */
	uint32_t	 need;		/* total length of the held message */
	uint32_t	 have;		/* bytes of it in body */
	uint8_t		*body;		/* assembly buffer, on demand */
};

/*
 * deliver() gets each complete message; a non-zero return stops feeding
 * (the owner is closing). bad() gets the offending length.
 */
struct io_frame_cb {
	int	(*deliver)(void *arg, const uint8_t *msg, size_t len);
	void	(*bad)(void *arg, unsigned len);
	void	 *arg;
};

void	io_frame_init(struct io_framer *f, uint32_t max);
void	io_frame_fini(struct io_framer *f);
/*
 * Consumes p[0..n). Returns 0, 1 when deliver() asked to stop (then *used,
 * if not NULL, counts the bytes consumed, up to the end of the message just
 * delivered), -EMSGSIZE after a framing error (now or earlier), -ENOMEM.
 */
int	io_frame_feed(struct io_framer *f, const uint8_t *p, size_t n,
	    const struct io_frame_cb *cb, size_t *used);
/* Bytes held for an incomplete message (0 when idle). */
size_t	io_frame_held(const struct io_framer *f);

#endif /* ROUTEHUB_IO_FRAME_H */
