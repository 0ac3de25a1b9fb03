/*
 * bgp_testutil.h — helpers shared by the codec tests (tests/unit/test_bgp_*.c):
 * hex parsing, a byte builder for hand-assembled BGP messages, and a minimal
 * gzip'd MRT reader. Test-only; everything is static inline so each test links
 * only what it uses.
 */
#ifndef RH_BGP_TESTUTIL_H
#define RH_BGP_TESTUTIL_H

#include <routehub/bgp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Abort with the caller's location: for broken test fixtures, not for codec
 * failures (those go through cmocka asserts). */
#define TU_DIE(...)                                                              \
	do {                                                                     \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                  \
		fprintf(stderr, __VA_ARGS__);                                    \
		fputc('\n', stderr);                                             \
		abort();                                                         \
	} while (0)

static inline int
tu_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse hex digits into out, skipping anything that is not a hex digit
 * (spaces, ':' separators). Returns the byte count; aborts on an odd digit
 * count or overflow, which are fixture bugs. */
static inline size_t
tu_hex(const char *s, uint8_t *out, size_t cap)
{
	const char *q;
	size_t n = 0;
	int hi = -1;

	for (q = s; *q; q++) {
		int v = tu_hexval((unsigned char)*q);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			TU_DIE("hex fixture too long");
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		TU_DIE("odd number of hex digits in \"%s\"", s);
	return n;
}

/* ---- a growable-free byte builder ------------------------------------------- */
#define TU_BUF_CAP 70000
struct tu_buf {
	size_t len;
	uint8_t b[TU_BUF_CAP];
};

static inline void
tu_put8(struct tu_buf *m, unsigned v)
{
	if (m->len + 1 > TU_BUF_CAP)
		TU_DIE("builder overflow");
	m->b[m->len++] = (uint8_t)v;
}

static inline void
tu_put16(struct tu_buf *m, unsigned v)
{
	tu_put8(m, v >> 8 & 0xff);
	tu_put8(m, v & 0xff);
}

static inline void
tu_put32(struct tu_buf *m, uint32_t v)
{
	tu_put16(m, v >> 16);
	tu_put16(m, v & 0xffff);
}

static inline void
tu_putn(struct tu_buf *m, const void *p, size_t n)
{
	if (m->len + n > TU_BUF_CAP)
		TU_DIE("builder overflow");
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static inline size_t
tu_puthex(struct tu_buf *m, const char *hex)
{
	size_t n = tu_hex(hex, m->b + m->len, TU_BUF_CAP - m->len);
	m->len += n;
	return n;
}

static inline void
tu_set16(struct tu_buf *m, size_t at, unsigned v)
{
	m->b[at] = (uint8_t)(v >> 8);
	m->b[at + 1] = (uint8_t)v;
}

/* RFC 4271 §4.1 header: 16 octets of ones, a length filled by tu_msg_end. */
static inline void
tu_msg_begin(struct tu_buf *m, uint8_t type)
{
	m->len = 0;
	for (int i = 0; i < BGP_MARKER_LEN; i++)
		tu_put8(m, 0xff);
	tu_put16(m, 0);
	tu_put8(m, type);
}

static inline void
tu_msg_end(struct tu_buf *m)
{
	if (m->len > 0xffff)
		TU_DIE("message too long: %zu", m->len);
	tu_set16(m, BGP_MARKER_LEN, (unsigned)m->len);
}

/* An UPDATE (RFC 4271 §4.3) from the hex of its three variable fields. */
static inline void
tu_update_hex(struct tu_buf *m, const char *withdrawn, const char *attrs, const char *nlri)
{
	size_t at;

	tu_msg_begin(m, BGP_MSG_UPDATE);
	at = m->len;
	tu_put16(m, 0);
	tu_set16(m, at, (unsigned)tu_puthex(m, withdrawn ? withdrawn : ""));
	at = m->len;
	tu_put16(m, 0);
	tu_set16(m, at, (unsigned)tu_puthex(m, attrs ? attrs : ""));
	tu_puthex(m, nlri ? nlri : "");
	tu_msg_end(m);
}

/* ---- prefixes --------------------------------------------------------------- */
static inline void
tu_prefix4(struct bgp_prefix *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->af = BGP_AF_IPV4;
	p->len = len;
	p->addr[0] = a;
	p->addr[1] = b;
	p->addr[2] = c;
	p->addr[3] = d;
}

static inline int
tu_prefix_eq(const struct bgp_prefix *a, const struct bgp_prefix *b)
{
	return a->af == b->af && a->len == b->len && a->path_id == b->path_id &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

static inline void
tu_prefix_str(const struct bgp_prefix *p, char *out, size_t cap)
{
	if (p->af == BGP_AF_IPV4) {
		snprintf(out, cap, "%u.%u.%u.%u/%u", p->addr[0], p->addr[1], p->addr[2],
		         p->addr[3], p->len);
		return;
	}
	size_t n = 0;
	for (int i = 0; i < 16 && n < cap; i += 2)
		n += (size_t)snprintf(out + n, cap - n, "%s%x", i ? ":" : "",
		                      (unsigned)(p->addr[i] << 8 | p->addr[i + 1]));
	if (n < cap)
		snprintf(out + n, cap - n, "/%u", p->len);
}

/* Collect every prefix of a validated run; returns the count. */
static inline size_t
tu_nlri_collect(const struct bgp_nlri *n, struct bgp_prefix *out, size_t cap)
{
	size_t pos = 0, k = 0;
	struct bgp_prefix p;

	while (bgp_nlri_next(n, &pos, &p) == 1) {
		if (k < cap)
			out[k] = p;
		k++;
		if (k > 70000)
			TU_DIE("bgp_nlri_next does not terminate");
	}
	return k;
}

/* ---- session parameters --------------------------------------------------------- */
static inline void
tu_sess(struct bgp_sess *s, bool as4, bool ibgp)
{
	bgp_sess_init(s);
	s->as4 = as4;
	s->ibgp = ibgp;
	s->af[BGP_AF_IPV4] = 1;
	s->af[BGP_AF_IPV6] = 1;
}

/* ---- gzip'd files and MRT framing (RFC 6396) ---------------------------------------- */
/* Read a whole gzip file into memory; NULL if it cannot be read. */
static inline uint8_t *
tu_gz_read(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf;

	if (gz == NULL)
		return NULL;
	buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		int r = gzread(gz, buf + n, (unsigned)(cap - n));
		if (r < 0) {
			free(buf);
			gzclose(gz);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	gzclose(gz);
	*len = n;
	return buf;
}

static inline const char *
tu_data_dir(void)
{
	const char *d = getenv("RH_TEST_DATA");
#ifdef RH_TEST_DATA
	if (d == NULL || *d == '\0')
		d = RH_TEST_DATA;
#endif
	return d;
}

#define TU_MRT_BGP4MP 16
#define TU_MRT_BGP4MP_ET 17
#define TU_BGP4MP_MESSAGE 1
#define TU_BGP4MP_MESSAGE_AS4 4
#define TU_BGP4MP_MESSAGE_LOCAL 6
#define TU_BGP4MP_MESSAGE_AS4_LOCAL 7

/* One BGP message cut from a BGP4MP(_ET) MESSAGE* record (RFC 6396 §4.4). */
struct tu_mrt_msg {
	uint16_t subtype;
	uint32_t peer_as, local_as;
	uint16_t afi;
	bool as4; /* AS fields of the record are 4 octets (MESSAGE_AS4*) */
	const uint8_t *msg;
	size_t len;
};

/* Walk an MRT byte stream from *pos; returns 1 with the next BGP4MP message,
 * 0 at the end, -1 on malformed framing. Records of other types are skipped. */
static inline int
tu_mrt_next(const uint8_t *d, size_t n, size_t *pos, struct tu_mrt_msg *out)
{
	while (*pos + 12 <= n) {
		const uint8_t *h = d + *pos;
		uint16_t type = (uint16_t)(h[4] << 8 | h[5]);
		uint16_t sub = (uint16_t)(h[6] << 8 | h[7]);
		uint32_t rlen = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
		const uint8_t *b = h + 12;
		size_t blen = rlen, off;

		if (*pos + 12 + rlen > n)
			return -1;
		*pos += 12 + rlen;
		if (type != TU_MRT_BGP4MP && type != TU_MRT_BGP4MP_ET)
			continue;
		if (sub != TU_BGP4MP_MESSAGE && sub != TU_BGP4MP_MESSAGE_AS4 &&
		    sub != TU_BGP4MP_MESSAGE_LOCAL && sub != TU_BGP4MP_MESSAGE_AS4_LOCAL)
			continue;
		if (type == TU_MRT_BGP4MP_ET) { /* RFC 6396 §3: microseconds field */
			if (blen < 4)
				return -1;
			b += 4;
			blen -= 4;
		}
		out->subtype = sub;
		out->as4 = sub == TU_BGP4MP_MESSAGE_AS4 || sub == TU_BGP4MP_MESSAGE_AS4_LOCAL;
		if (out->as4) {
			if (blen < 12)
				return -1;
			out->peer_as = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
			out->local_as = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
			off = 8;
		} else {
			if (blen < 8)
				return -1;
			out->peer_as = (uint32_t)(b[0] << 8 | b[1]);
			out->local_as = (uint32_t)(b[2] << 8 | b[3]);
			off = 4;
		}
		out->afi = (uint16_t)(b[off + 2] << 8 | b[off + 3]); /* after the ifindex */
		off += 4;
		off += out->afi == BGP_AFI_IPV6 ? 32 : 8;
		if (off > blen)
			return -1;
		out->msg = b + off;
		out->len = blen - off;
		return 1;
	}
	return 0;
}

#endif /* RH_BGP_TESTUTIL_H */
