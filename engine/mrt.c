/*
 * mrt.c — MRT (RFC 6396, RFC 8050) record parsers and the file reader.
 *
 * Runs on whichever thread calls it (routehubctl decode, tests, benchmarks);
 * a reader belongs to one thread. Nothing here knows BGP attributes beyond the
 * framing of the attribute list (to rewrite the abbreviated MP_REACH_NLRI of
 * RFC 6396 §4.3.4): the BGP contents go to the codec (routehub/bgp.h).
 *
 * Invariants: parsers read through a bounds-checked cursor and never past the
 * length they were given; they allocate nothing. The reader allocates one
 * buffer per file, grown only for records larger than any seen before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>
#include <zlib.h>

#include "routehub/mrt.h"

/* ---- bounds-checked cursor ---------------------------------------------------- */
struct cur {
	const uint8_t *p;
	size_t len, pos;
};

static int
cur_get(struct cur *c, void *out, size_t n)
{
	if (c->len - c->pos < n)
		return -1;
	memcpy(out, c->p + c->pos, n);
	c->pos += n;
	return 0;
}

static int
cur_u8(struct cur *c, uint8_t *v)
{
	return cur_get(c, v, 1);
}

static int
cur_u16(struct cur *c, uint16_t *v)
{
	uint8_t b[2];

	if (cur_get(c, b, 2) == -1)
		return -1;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

static int
cur_u32(struct cur *c, uint32_t *v)
{
	uint8_t b[4];

	if (cur_get(c, b, 4) == -1)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

/* 2- or 4-octet AS number. */
static int
cur_as(struct cur *c, bool as4, uint32_t *v)
{
	uint16_t v16;

	if (as4)
		return cur_u32(c, v);
	if (cur_u16(c, &v16) == -1)
		return -1;
	*v = v16;
	return 0;
}

static int
cur_addr(struct cur *c, uint8_t af, struct mrt_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->af = af;
	return cur_get(c, a->addr, af == BGP_AF_IPV6 ? 16 : 4);
}

static int
fail(struct mrt_err *e, const char *reason, size_t off)
{
	if (e != NULL) {
		e->reason = reason;
		e->off = off;
	}
	return -1;
}

/* An RFC 4271 §4.3 prefix: length octet then the minimal address octets.
 * Host bits beyond the length are cleared (they are irrelevant). */
static int
cur_prefix(struct cur *c, uint8_t af, struct bgp_prefix *p)
{
	uint8_t plen, max = af == BGP_AF_IPV6 ? 128 : 32;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->af = af;
	if (cur_u8(c, &plen) == -1 || plen > max)
		return -1;
	n = (plen + 7u) / 8;
	if (cur_get(c, p->addr, n) == -1)
		return -1;
	if (plen % 8 != 0)
		p->addr[n - 1] &= (uint8_t)(0xff << (8 - plen % 8));
	p->len = plen;
	return 0;
}

/* ---- header (RFC 6396 §2, §3) --------------------------------------------------- */
int
mrt_hdr_parse(const uint8_t *buf, size_t len, struct mrt_hdr *h, struct mrt_err *e)
{
	struct cur c = { buf, len, 0 };

	memset(h, 0, sizeof(*h));
	if (cur_u32(&c, &h->timestamp) == -1 || cur_u16(&c, &h->type) == -1 ||
	    cur_u16(&c, &h->subtype) == -1 || cur_u32(&c, &h->length) == -1)
		return fail(e, "truncated header", c.pos);
	h->hdr_len = MRT_HDR_LEN;
	h->body_len = h->length;
	if (h->length > MRT_MAX_RECORD)
		return fail(e, "record length too large", 8);
	if (h->type == MRT_TYPE_BGP4MP_ET) {
		/* RFC 6396 §3: Length includes the Microsecond Timestamp field. */
		if (h->length < 4)
			return fail(e, "BGP4MP_ET length shorter than its timestamp", 8);
		if (cur_u32(&c, &h->usec) == -1)
			return fail(e, "truncated header", c.pos);
		h->hdr_len = MRT_ET_HDR_LEN;
		h->body_len = h->length - 4;
	}
	return 0;
}

/* ---- BGP4MP (RFC 6396 §4.4, RFC 8050 §3) ---------------------------------------- */
int
mrt_bgp4mp_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_bgp4mp *m,
                 struct mrt_err *e)
{
	struct cur c = { buf, len, 0 };
	uint8_t af;

	memset(m, 0, sizeof(*m));
	switch (subtype) {
	case MRT_BGP4MP_STATE_CHANGE:
		m->state = true;
		break;
	case MRT_BGP4MP_STATE_CHANGE_AS4:
		m->state = true;
		m->as4 = true;
		break;
	case MRT_BGP4MP_MESSAGE:
		break;
	case MRT_BGP4MP_MESSAGE_AS4:
		m->as4 = true;
		break;
	case MRT_BGP4MP_MESSAGE_LOCAL:
		m->local = true;
		break;
	case MRT_BGP4MP_MESSAGE_AS4_LOCAL:
		m->as4 = m->local = true;
		break;
	case MRT_BGP4MP_MESSAGE_ADDPATH:
		m->addpath = true;
		break;
	case MRT_BGP4MP_MESSAGE_AS4_ADDPATH:
		m->as4 = m->addpath = true;
		break;
	case MRT_BGP4MP_MESSAGE_LOCAL_ADDPATH:
		m->local = m->addpath = true;
		break;
	case MRT_BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH:
		m->as4 = m->local = m->addpath = true;
		break;
	default:
		return fail(e, "unsupported BGP4MP subtype", 0);
	}
	if (cur_as(&c, m->as4, &m->peer_as) == -1 || cur_as(&c, m->as4, &m->local_as) == -1 ||
	    cur_u16(&c, &m->ifindex) == -1 || cur_u16(&c, &m->afi) == -1)
		return fail(e, "BGP4MP: truncated peer header", c.pos);
	if (m->afi == BGP_AFI_IPV4)
		af = BGP_AF_IPV4;
	else if (m->afi == BGP_AFI_IPV6)
		af = BGP_AF_IPV6;
	else
		return fail(e, "BGP4MP: unknown address family", c.pos - 2);
	if (cur_addr(&c, af, &m->peer_ip) == -1 || cur_addr(&c, af, &m->local_ip) == -1)
		return fail(e, "BGP4MP: truncated peer/local address", c.pos);
	if (m->state) {
		if (cur_u16(&c, &m->old_state) == -1 || cur_u16(&c, &m->new_state) == -1)
			return fail(e, "BGP4MP: truncated state change", c.pos);
		return 0;
	}
	/* The rest is one whole BGP message (RFC 6396 §4.4.2); the codec checks it. */
	m->msg = buf + c.pos;
	m->msg_len = len - c.pos;
	if (m->msg_len < BGP_HDR_LEN)
		return fail(e, "BGP4MP: message shorter than a BGP header", c.pos);
	return 0;
}

/* ---- TABLE_DUMP (RFC 6396 §4.2) ------------------------------------------------- */
int
mrt_td_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_td *t,
             struct mrt_err *e)
{
	struct cur c = { buf, len, 0 };
	uint8_t af, plen, max;
	size_t alen;

	memset(t, 0, sizeof(*t));
	if (subtype == MRT_TD_AFI_IPV4)
		af = BGP_AF_IPV4;
	else if (subtype == MRT_TD_AFI_IPV6)
		af = BGP_AF_IPV6;
	else
		return fail(e, "TABLE_DUMP: unknown address family subtype", 0);
	max = af == BGP_AF_IPV6 ? 128 : 32;
	t->prefix.af = af;
	if (cur_u16(&c, &t->view) == -1 || cur_u16(&c, &t->seq) == -1 ||
	    cur_get(&c, t->prefix.addr, af == BGP_AF_IPV6 ? 16 : 4) == -1 ||
	    cur_u8(&c, &plen) == -1)
		return fail(e, "TABLE_DUMP: truncated prefix", c.pos);
	if (plen > max)
		return fail(e, "TABLE_DUMP: prefix length too long", c.pos - 1);
	t->prefix.len = plen;
	/* Clear host bits as everywhere else (RFC 4271 §4.3). */
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = i * 8;

		if (bits >= plen)
			t->prefix.addr[i] = 0;
		else if (plen - bits < 8)
			t->prefix.addr[i] &= (uint8_t)(0xff << (8 - (plen - bits)));
	}
	if (cur_u8(&c, &t->status) == -1 || cur_u32(&c, &t->originated) == -1 ||
	    cur_addr(&c, af, &t->peer_ip) == -1 || cur_u16(&c, &t->peer_as) == -1 ||
	    cur_u16(&c, &t->attrs_len) == -1)
		return fail(e, "TABLE_DUMP: truncated entry", c.pos);
	alen = t->attrs_len;
	if (len - c.pos < alen)
		return fail(e, "TABLE_DUMP: attribute length beyond record", c.pos - 2);
	t->attrs = buf + c.pos;
	return 0;
}

/* ---- TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1) ------------------------- */
static int
peer_entry(struct cur *c, struct mrt_peer *p)
{
	if (cur_u8(c, &p->type) == -1 || cur_get(c, &p->bgp_id, 4) == -1)
		return -1;
	if (cur_addr(c, (p->type & MRT_PEER_TYPE_IPV6) ? BGP_AF_IPV6 : BGP_AF_IPV4, &p->ip) == -1)
		return -1;
	return cur_as(c, (p->type & MRT_PEER_TYPE_AS4) != 0, &p->asn);
}

int
mrt_peer_index_parse(const uint8_t *buf, size_t len, struct mrt_peer_index *pi,
                     struct mrt_err *e)
{
	struct cur c = { buf, len, 0 };
	struct mrt_peer p;
	size_t start;

	memset(pi, 0, sizeof(*pi));
	if (cur_get(&c, &pi->collector_id, 4) == -1 || cur_u16(&c, &pi->view_name_len) == -1)
		return fail(e, "PEER_INDEX_TABLE: truncated header", c.pos);
	if (len - c.pos < pi->view_name_len)
		return fail(e, "PEER_INDEX_TABLE: view name beyond record", c.pos - 2);
	pi->view_name = buf + c.pos;
	c.pos += pi->view_name_len;
	if (cur_u16(&c, &pi->count) == -1)
		return fail(e, "PEER_INDEX_TABLE: truncated peer count", c.pos);
	start = c.pos;
	for (unsigned i = 0; i < pi->count; i++) {
		if (peer_entry(&c, &p) == -1)
			return fail(e, "PEER_INDEX_TABLE: truncated peer entry", c.pos);
	}
	pi->peers = buf + start;
	pi->peers_len = c.pos - start;
	return 0;
}

int
mrt_peer_index_next(const struct mrt_peer_index *pi, size_t *pos, struct mrt_peer *out)
{
	struct cur c = { pi->peers, pi->peers_len, *pos };

	if (c.pos >= c.len || peer_entry(&c, out) == -1)
		return 0;
	*pos = c.pos;
	return 1;
}

/* ---- TABLE_DUMP_V2 RIB records (RFC 6396 §4.3.2, RFC 8050 §4.1) --------------- */
bool
mrt_td2_is_rib(uint16_t subtype)
{
	switch (subtype) {
	case MRT_TD2_RIB_IPV4_UNICAST:
	case MRT_TD2_RIB_IPV4_MULTICAST:
	case MRT_TD2_RIB_IPV6_UNICAST:
	case MRT_TD2_RIB_IPV6_MULTICAST:
	case MRT_TD2_RIB_IPV4_UNICAST_ADDPATH:
	case MRT_TD2_RIB_IPV4_MULTICAST_ADDPATH:
	case MRT_TD2_RIB_IPV6_UNICAST_ADDPATH:
	case MRT_TD2_RIB_IPV6_MULTICAST_ADDPATH:
		return true;
	default:
		return false;
	}
}

static int
rib_entry(struct cur *c, bool addpath, struct mrt_rib_entry *r)
{
	if (cur_u16(c, &r->peer_index) == -1 || cur_u32(c, &r->originated) == -1)
		return -1;
	r->path_id = 0;
	if (addpath && cur_u32(c, &r->path_id) == -1)
		return -1;
	if (cur_u16(c, &r->attrs_len) == -1 || c->len - c->pos < r->attrs_len)
		return -1;
	r->attrs = c->p + c->pos;
	c->pos += r->attrs_len;
	return 0;
}

int
mrt_rib_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_rib *r,
              struct mrt_err *e)
{
	struct cur c = { buf, len, 0 };
	struct mrt_rib_entry re;
	uint8_t af;
	size_t start;

	memset(r, 0, sizeof(*r));
	switch (subtype) {
	case MRT_TD2_RIB_IPV4_UNICAST_ADDPATH:
	case MRT_TD2_RIB_IPV4_MULTICAST_ADDPATH:
	case MRT_TD2_RIB_IPV6_UNICAST_ADDPATH:
	case MRT_TD2_RIB_IPV6_MULTICAST_ADDPATH:
		r->addpath = true;
		subtype -= 6; /* RFC 8050 §4.1: same layout as subtypes 2..5 + path id */
		break;
	case MRT_TD2_RIB_GENERIC:
	case MRT_TD2_RIB_GENERIC_ADDPATH:
		return fail(e, "RIB_GENERIC not supported", 0);
	default:
		break;
	}
	switch (subtype) {
	case MRT_TD2_RIB_IPV4_UNICAST:
		af = BGP_AF_IPV4, r->afi = BGP_AFI_IPV4, r->safi = 1;
		break;
	case MRT_TD2_RIB_IPV4_MULTICAST:
		af = BGP_AF_IPV4, r->afi = BGP_AFI_IPV4, r->safi = 2;
		break;
	case MRT_TD2_RIB_IPV6_UNICAST:
		af = BGP_AF_IPV6, r->afi = BGP_AFI_IPV6, r->safi = 1;
		break;
	case MRT_TD2_RIB_IPV6_MULTICAST:
		af = BGP_AF_IPV6, r->afi = BGP_AFI_IPV6, r->safi = 2;
		break;
	default:
		return fail(e, "not a RIB subtype", 0);
	}
	if (cur_u32(&c, &r->seq) == -1)
		return fail(e, "RIB: truncated sequence number", c.pos);
	if (cur_prefix(&c, af, &r->prefix) == -1)
		return fail(e, "RIB: bad or truncated prefix", c.pos);
	if (cur_u16(&c, &r->count) == -1)
		return fail(e, "RIB: truncated entry count", c.pos);
	start = c.pos;
	for (unsigned i = 0; i < r->count; i++) {
		if (rib_entry(&c, r->addpath, &re) == -1)
			return fail(e, "RIB: truncated RIB entry", c.pos);
	}
	r->entries = buf + start;
	r->entries_len = c.pos - start;
	return 0;
}

int
mrt_rib_entry_next(const struct mrt_rib *r, size_t *pos, struct mrt_rib_entry *out)
{
	struct cur c = { r->entries, r->entries_len, *pos };

	if (c.pos >= c.len || rib_entry(&c, r->addpath, out) == -1)
		return 0;
	*pos = c.pos;
	return 1;
}

/* ---- attribute list rewrite (RFC 6396 §4.3.4) ------------------------------------- */
int
mrt_attrs_expand(const uint8_t *attrs, size_t len, uint16_t afi, uint8_t safi,
                 const uint8_t *nlri, size_t nlri_len, uint8_t *out, size_t cap,
                 size_t *out_len, bool *had_mp)
{
	size_t pos = 0, o = 0;

	*had_mp = false;
	while (pos < len) {
		uint8_t flags, type;
		size_t alen, hlen;
		const uint8_t *val;

		if (len - pos < 3)
			return -1;
		flags = attrs[pos];
		type = attrs[pos + 1];
		if (flags & BGP_ATTR_FLAG_EXTLEN) {
			if (len - pos < 4)
				return -1;
			alen = (size_t)attrs[pos + 2] << 8 | attrs[pos + 3];
			hlen = 4;
		} else {
			alen = attrs[pos + 2];
			hlen = 3;
		}
		if (len - pos - hlen < alen)
			return -1;
		val = attrs + pos + hlen;
		/* Abbreviated form: exactly next hop length + next hop. The full
		 * form starts with a 2-octet AFI, so its first octet is 0 and its
		 * length is at least 5; the two cannot be confused except for a
		 * zero next hop length, which we treat as abbreviated. */
		if (type == BGP_ATTR_MP_REACH_NLRI && !*had_mp && alen >= 1 &&
		    (size_t)val[0] + 1 == alen) {
			size_t nlen = 2 + 1 + alen + 1 + nlri_len;

			if (nlen > 0xffff || cap - o < 4 + nlen)
				return -1;
			out[o++] = (uint8_t)((flags | BGP_ATTR_FLAG_EXTLEN) & ~BGP_ATTR_FLAG_PARTIAL);
			out[o++] = type;
			out[o++] = (uint8_t)(nlen >> 8);
			out[o++] = (uint8_t)nlen;
			out[o++] = (uint8_t)(afi >> 8);
			out[o++] = (uint8_t)afi;
			out[o++] = safi;
			memcpy(out + o, val, alen); /* next hop length + next hop */
			o += alen;
			out[o++] = 0; /* reserved (RFC 4760 §3) */
			if (nlri_len > 0)
				memcpy(out + o, nlri, nlri_len);
			o += nlri_len;
		} else {
			if (cap - o < hlen + alen)
				return -1;
			memcpy(out + o, attrs + pos, hlen + alen);
			o += hlen + alen;
		}
		if (type == BGP_ATTR_MP_REACH_NLRI)
			*had_mp = true;
		pos += hlen + alen;
	}
	*out_len = o;
	return 0;
}

/* ---- names ----------------------------------------------------------------------- */
const char *
mrt_type_name(uint16_t type)
{
	switch (type) {
	case MRT_TYPE_TABLE_DUMP:
		return "TABLE_DUMP";
	case MRT_TYPE_TABLE_DUMP_V2:
		return "TABLE_DUMP_V2";
	case MRT_TYPE_BGP4MP:
		return "BGP4MP";
	case MRT_TYPE_BGP4MP_ET:
		return "BGP4MP_ET";
	default:
		return "UNKNOWN";
	}
}

const char *
mrt_subtype_name(uint16_t type, uint16_t subtype)
{
	static const char *const bgp4mp[] = {
		[MRT_BGP4MP_STATE_CHANGE] = "STATE_CHANGE",
		[MRT_BGP4MP_MESSAGE] = "MESSAGE",
		[MRT_BGP4MP_MESSAGE_AS4] = "MESSAGE_AS4",
		[MRT_BGP4MP_STATE_CHANGE_AS4] = "STATE_CHANGE_AS4",
		[MRT_BGP4MP_MESSAGE_LOCAL] = "MESSAGE_LOCAL",
		[MRT_BGP4MP_MESSAGE_AS4_LOCAL] = "MESSAGE_AS4_LOCAL",
		[MRT_BGP4MP_MESSAGE_ADDPATH] = "MESSAGE_ADDPATH",
		[MRT_BGP4MP_MESSAGE_AS4_ADDPATH] = "MESSAGE_AS4_ADDPATH",
		[MRT_BGP4MP_MESSAGE_LOCAL_ADDPATH] = "MESSAGE_LOCAL_ADDPATH",
		[MRT_BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH] = "MESSAGE_AS4_LOCAL_ADDPATH",
	};
	static const char *const td2[] = {
		[MRT_TD2_PEER_INDEX_TABLE] = "PEER_INDEX_TABLE",
		[MRT_TD2_RIB_IPV4_UNICAST] = "RIB_IPV4_UNICAST",
		[MRT_TD2_RIB_IPV4_MULTICAST] = "RIB_IPV4_MULTICAST",
		[MRT_TD2_RIB_IPV6_UNICAST] = "RIB_IPV6_UNICAST",
		[MRT_TD2_RIB_IPV6_MULTICAST] = "RIB_IPV6_MULTICAST",
		[MRT_TD2_RIB_GENERIC] = "RIB_GENERIC",
		[MRT_TD2_RIB_IPV4_UNICAST_ADDPATH] = "RIB_IPV4_UNICAST_ADDPATH",
		[MRT_TD2_RIB_IPV4_MULTICAST_ADDPATH] = "RIB_IPV4_MULTICAST_ADDPATH",
		[MRT_TD2_RIB_IPV6_UNICAST_ADDPATH] = "RIB_IPV6_UNICAST_ADDPATH",
		[MRT_TD2_RIB_IPV6_MULTICAST_ADDPATH] = "RIB_IPV6_MULTICAST_ADDPATH",
		[MRT_TD2_RIB_GENERIC_ADDPATH] = "RIB_GENERIC_ADDPATH",
	};
	const char *s = NULL;

	switch (type) {
	case MRT_TYPE_BGP4MP:
	case MRT_TYPE_BGP4MP_ET:
		if (subtype < sizeof(bgp4mp) / sizeof(bgp4mp[0]))
			s = bgp4mp[subtype];
		break;
	case MRT_TYPE_TABLE_DUMP_V2:
		if (subtype < sizeof(td2) / sizeof(td2[0]))
			s = td2[subtype];
		break;
	case MRT_TYPE_TABLE_DUMP:
		if (subtype == MRT_TD_AFI_IPV4)
			s = "AFI_IPV4";
		else if (subtype == MRT_TD_AFI_IPV6)
			s = "AFI_IPV6";
		break;
	default:
		break;
	}
	return s != NULL ? s : "UNKNOWN";
}

/* ---- the reader ---------------------------------------------------------------------- */
#define RD_CHUNK (256u << 10)

struct mrt_reader {
	enum mrt_compress comp;
	int fd;
	gzFile gz;
	FILE *bzf;
	BZFILE *bz;
	bool eof;     /* source exhausted */
	bool dead;    /* cannot continue (bad framing, I/O error) */
	bool mem;     /* buf is the caller's memory */
	uint8_t *buf; /* [start, end) holds unread data */
	size_t cap, start, end;
	uint64_t base;  /* uncompressed offset of buf[0] */
	uint64_t index; /* records handed out or rejected */
	char err[256];
};

enum mrt_compress
mrt_detect_compress(const uint8_t *buf, size_t len)
{
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return MRT_COMPRESS_GZIP;
	if (len >= 3 && buf[0] == 'B' && buf[1] == 'Z' && buf[2] == 'h')
		return MRT_COMPRESS_BZIP2;
	return MRT_COMPRESS_NONE;
}

struct mrt_reader *
mrt_reader_open(const char *path, char *err, size_t errlen)
{
	struct mrt_reader *r;
	uint8_t magic[4];
	ssize_t n;
	int fd, bzerr;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	r->fd = -1;
	r->comp = mrt_detect_compress(magic, (size_t)n);
	switch (r->comp) {
	case MRT_COMPRESS_GZIP:
		r->gz = gzdopen(fd, "rb");
		if (r->gz == NULL)
			goto fail;
		gzbuffer(r->gz, RD_CHUNK);
		break;
	case MRT_COMPRESS_BZIP2:
		r->bzf = fdopen(fd, "rb");
		if (r->bzf == NULL)
			goto fail;
		r->bz = BZ2_bzReadOpen(&bzerr, r->bzf, 0, 0, NULL, 0);
		if (bzerr != BZ_OK) {
			fclose(r->bzf);
			free(r);
			snprintf(err, errlen, "%s: cannot open bzip2 stream", path);
			return NULL;
		}
		break;
	case MRT_COMPRESS_NONE:
		r->fd = fd;
		break;
	}
	r->cap = 2 * RD_CHUNK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		r->cap = 0;
		mrt_reader_free(r);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	return r;
fail:
	snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	close(fd);
	free(r);
	return NULL;
}

struct mrt_reader *
mrt_reader_mem(const uint8_t *buf, size_t len)
{
	struct mrt_reader *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->fd = -1;
	r->mem = true;
	r->eof = true;
	r->buf = (uint8_t *)(uintptr_t)buf; /* never written: mem readers do not fill */
	r->cap = r->end = len;
	return r;
}

void
mrt_reader_free(struct mrt_reader *r)
{
	int bzerr;

	if (r == NULL)
		return;
	if (r->gz != NULL)
		gzclose(r->gz);
	if (r->bz != NULL)
		BZ2_bzReadClose(&bzerr, r->bz);
	if (r->bzf != NULL)
		fclose(r->bzf);
	if (r->fd != -1)
		close(r->fd);
	if (!r->mem)
		free(r->buf);
	free(r);
}

/* bzip2 files may hold several concatenated streams (pbzip2, lbzip2): on
 * BZ_STREAM_END start a new stream with the unused input. */
static ssize_t
bz_read(struct mrt_reader *r, uint8_t *dst, size_t n)
{
	int bzerr, nread, nunused;
	void *unused;
	uint8_t saved[BZ_MAX_UNUSED];

	/* Bounded: each pass either returns or starts a new, non-empty stream. */
	for (int tries = 0; tries < 1000000; tries++) {
		nread = BZ2_bzRead(&bzerr, r->bz, dst, (int)n);
		if (bzerr == BZ_OK)
			return nread;
		if (bzerr != BZ_STREAM_END)
			return -1;
		BZ2_bzReadGetUnused(&bzerr, r->bz, &unused, &nunused);
		if (bzerr != BZ_OK)
			return -1;
		memcpy(saved, unused, (size_t)nunused);
		BZ2_bzReadClose(&bzerr, r->bz);
		r->bz = NULL;
		if (nunused == 0) {
			int c = fgetc(r->bzf);

			if (c == EOF)
				return nread; /* last stream: src_read sees bz == NULL next */
			ungetc(c, r->bzf);
		}
		r->bz = BZ2_bzReadOpen(&bzerr, r->bzf, 0, 0, saved, nunused);
		if (bzerr != BZ_OK) {
			r->bz = NULL;
			return -1;
		}
		if (nread > 0)
			return nread;
	}
	return -1;
}

static ssize_t
src_read(struct mrt_reader *r, uint8_t *dst, size_t n)
{
	int k;

	switch (r->comp) {
	case MRT_COMPRESS_GZIP:
		k = gzread(r->gz, dst, (unsigned)n);
		if (k < 0)
			return -1;
		return k;
	case MRT_COMPRESS_BZIP2:
		if (r->bz == NULL)
			return 0;
		return bz_read(r, dst, n);
	case MRT_COMPRESS_NONE:
		for (;;) {
			ssize_t m = read(r->fd, dst, n);

			if (m == -1 && errno == EINTR)
				continue;
			return m;
		}
	}
	return -1;
}

/* Make at least want bytes available at buf[start]. Returns 0 when they are,
 * 1 at end of input with fewer, -1 on an I/O or decompression error. */
static int
fill(struct mrt_reader *r, size_t want)
{
	while (r->end - r->start < want) {
		ssize_t n;

		if (r->eof)
			return 1;
		if (r->cap - r->start < want || r->cap - r->end < RD_CHUNK / 4) {
			/* Slide unread data to the front; grow if still too small. */
			size_t have = r->end - r->start;

			memmove(r->buf, r->buf + r->start, have);
			r->base += r->start;
			r->start = 0;
			r->end = have;
			if (r->cap < want || r->cap - r->end < RD_CHUNK / 4) {
				size_t ncap = r->cap;
				uint8_t *nb;

				while (ncap < want + RD_CHUNK)
					ncap *= 2;
				nb = realloc(r->buf, ncap);
				if (nb == NULL)
					return -1;
				r->buf = nb;
				r->cap = ncap;
			}
		}
		n = src_read(r, r->buf + r->end, r->cap - r->end);
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
	return 0;
}

static int
reader_fail(struct mrt_reader *r, const char *reason)
{
	snprintf(r->err, sizeof(r->err), "record %llu at offset %llu: %s",
	         (unsigned long long)r->index, (unsigned long long)(r->base + r->start), reason);
	/* Framing errors leave us without a trustworthy length: stop the file. */
	r->dead = true;
	return -1;
}

int
mrt_reader_next(struct mrt_reader *r, struct mrt_record *rec)
{
	struct mrt_err e = { NULL, 0 };
	size_t need = MRT_HDR_LEN;
	int rc;

	if (r->dead)
		return 0;
	rc = fill(r, need);
	if (rc == 1 && r->end == r->start)
		return 0; /* clean end of file */
	r->index++;
	if (rc == 0 && r->buf[r->start + 4] == 0 && r->buf[r->start + 5] == MRT_TYPE_BGP4MP_ET) {
		need = MRT_ET_HDR_LEN;
		rc = fill(r, need);
	}
	if (rc == -1)
		return reader_fail(r, "read or decompression error");
	if (rc == 1)
		return reader_fail(r, "truncated record header at end of file");
	if (mrt_hdr_parse(r->buf + r->start, r->end - r->start, &rec->hdr, &e) == -1)
		return reader_fail(r, e.reason);
	rc = fill(r, (size_t)rec->hdr.hdr_len + rec->hdr.body_len);
	if (rc == -1)
		return reader_fail(r, "read or decompression error");
	if (rc == 1)
		return reader_fail(r, "truncated record at end of file");
	rec->body = r->buf + r->start + rec->hdr.hdr_len;
	rec->body_len = rec->hdr.body_len;
	rec->index = r->index;
	rec->offset = r->base + r->start;
	r->start += (size_t)rec->hdr.hdr_len + rec->hdr.body_len;
	return 1;
}

const char *
mrt_reader_error(const struct mrt_reader *r)
{
	return r->err;
}

uint64_t
mrt_reader_offset(const struct mrt_reader *r)
{
	return r->base + r->start;
}
