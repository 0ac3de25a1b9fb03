/*
 * bgp_encode.c — UPDATE encoding from canonical attribute sets.
 *
 * The inverse of bgp_update_decode: withdrawn routes, path attributes with
 * the MP attributes first (RFC 7606 §5.1), the rest in canonical order, and
 * the IPv4 NLRI. On a 2-octet session AS numbers are narrowed with AS_TRANS
 * and AS4_PATH / AS4_AGGREGATOR added (RFC 6793 §4.2.2). ADD-PATH path
 * identifiers are written when the session sends them (RFC 7911 §3).
 *
 * Pure; callable from any thread.
 */
#include <string.h>

#include "routehub/bgp.h"
#include "bgp_wire.h"

struct enc {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};

static uint8_t *
enc_reserve(struct enc *e, size_t n)
{
	uint8_t *r;
	if (e->overflow || e->cap - e->len < n) {
		e->overflow = 1;
		return NULL;
	}
	r = e->p + e->len;
	e->len += n;
	return r;
}

/* Attribute header for a value of vlen octets; returns value pointer. */
static uint8_t *
enc_attr(struct enc *e, uint8_t flags, uint8_t type, size_t vlen)
{
	uint8_t *h;
	flags &= (uint8_t)~BGP_ATTR_FLAG_EXTLEN;
	if (vlen > 0xffff) {
		e->overflow = 1;
		return NULL;
	}
	if (vlen > 255) {
		h = enc_reserve(e, 4 + vlen);
		if (!h)
			return NULL;
		h[0] = flags | BGP_ATTR_FLAG_EXTLEN;
		h[1] = type;
		put16(h + 2, (uint16_t)vlen);
		return h + 4;
	}
	h = enc_reserve(e, 3 + vlen);
	if (!h)
		return NULL;
	h[0] = flags;
	h[1] = type;
	h[2] = (uint8_t)vlen;
	return h + 3;
}

size_t
bgp_prefix_wire_len(const struct bgp_prefix *p, const struct bgp_sess *s)
{
	return (s->addpath_tx[p->af] ? 4u : 0u) + 1u + (((unsigned)p->len + 7u) >> 3);
}

static size_t
prefixes_len(const struct bgp_prefix *v, size_t n, const struct bgp_sess *s)
{
	size_t l = 0, i;
	for (i = 0; i < n; i++)
		l += bgp_prefix_wire_len(&v[i], s);
	return l;
}

static uint8_t *
put_prefixes(uint8_t *d, const struct bgp_prefix *v, size_t n, int addpath)
{
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned nb = ((unsigned)v[i].len + 7u) >> 3;
		if (addpath) {
			put32(d, v[i].path_id);
			d += 4;
		}
		*d++ = v[i].len;
		memcpy(d, v[i].addr, nb);
		d += nb;
	}
	return d;
}

/* RFC 6793 §4.2.2: AS_PATH for a 2-octet peer. Returns 1 if an AS did not
 * fit (so AS4_PATH must follow). */
static int
aspath_narrow(struct enc *e, const uint8_t *p, size_t len)
{
	uint8_t *d;
	size_t i = 0, vlen = 0;
	int wide = 0;

	while (i + 2 <= len) {
		vlen += 2 + (size_t)p[i + 1] * 2;
		i += 2 + (size_t)p[i + 1] * 4;
	}
	d = enc_attr(e, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_AS_PATH, vlen);
	if (!d)
		return 0;
	for (i = 0; i + 2 <= len;) {
		uint8_t c = p[i + 1], k;
		*d++ = p[i];
		*d++ = c;
		i += 2;
		for (k = 0; k < c; k++, i += 4) {
			uint32_t as = get32(p + i);
			if (as > 0xffff) {
				as = BGP_AS_TRANS;
				wide = 1;
			}
			put16(d, (uint16_t)as);
			d += 2;
		}
	}
	return wide;
}

/* AS4_PATH: the 4-octet path without confederation segments (RFC 6793 §4.2.2). */
static void
as4path_put(struct enc *e, const uint8_t *p, size_t len)
{
	size_t i = 0, vlen = 0;
	uint8_t *d;

	while (i + 2 <= len) {
		size_t sl = 2 + (size_t)p[i + 1] * 4;
		if (p[i] == BGP_ASPATH_SEQUENCE || p[i] == BGP_ASPATH_SET)
			vlen += sl;
		i += sl;
	}
	if (vlen == 0)
		return;
	d = enc_attr(e, BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_AS4_PATH, vlen);
	if (!d)
		return;
	for (i = 0; i + 2 <= len;) {
		size_t sl = 2 + (size_t)p[i + 1] * 4;
		if (p[i] == BGP_ASPATH_SEQUENCE || p[i] == BGP_ASPATH_SET) {
			memcpy(d, p + i, sl);
			d += sl;
		}
		i += sl;
	}
}

int
bgp_update_encode(const struct bgp_update_spec *spec, const struct bgp_sess *s, uint8_t *out,
                  size_t cap, size_t *len)
{
	size_t max = bgp_sess_max_msg(s);
	struct enc e = {out, 0, cap < max ? cap : max, 0};
	struct bgp_attr_iter it = {spec->attrs, spec->attrs ? spec->attrs_len : 0, 0};
	struct bgp_attr a, mp = {0, 0, 0, NULL};
	const uint8_t *as4path = NULL;
	size_t as4path_len = 0, attr_start, l;
	uint8_t *h, *d;
	uint32_t as4aggr_as = 0, as4aggr_id = 0;
	int have_mp = 0, need_as4path = 0, need_as4aggr = 0, r;

	if (!enc_reserve(&e, BGP_HDR_LEN))
		return -1;

	/* Withdrawn Routes. */
	l = prefixes_len(spec->withdrawn, spec->n_withdrawn, s);
	h = enc_reserve(&e, 2 + l);
	if (!h)
		return -1;
	put16(h, (uint16_t)l);
	put_prefixes(h + 2, spec->withdrawn, spec->n_withdrawn, s->addpath_tx[BGP_AF_IPV4]);

	h = enc_reserve(&e, 2);
	if (!h)
		return -1;
	attr_start = e.len;

	if (spec->attrs && bgp_attr_find(spec->attrs, spec->attrs_len, BGP_ATTR_MP_REACH_NLRI,
	                                 &mp) == 0) {
		if (mp.len < 5 || (size_t)mp.val[3] + 5 > mp.len)
			return -1;
		have_mp = 1;
	}
	if (spec->n_mp_reach && !have_mp)
		return -1; /* nothing says which next hop to announce */
	if (have_mp) {
		int af = bgp_af_from_afi(get16(mp.val), mp.val[2]);
		uint8_t nhl = mp.val[3];
		if (af < 0)
			return -1;
		l = prefixes_len(spec->mp_reach, spec->n_mp_reach, s);
		d = enc_attr(&e, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_MP_REACH_NLRI, 5 + nhl + l);
		if (!d)
			return -1;
		memcpy(d, mp.val, 4 + nhl);
		d[4 + nhl] = 0;
		put_prefixes(d + 5 + nhl, spec->mp_reach, spec->n_mp_reach, s->addpath_tx[af]);
	}
	if (spec->mp_unreach_af >= 0) {
		int af = spec->mp_unreach_af;
		l = prefixes_len(spec->mp_unreach, spec->n_mp_unreach, s);
		d = enc_attr(&e, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_MP_UNREACH_NLRI, 3 + l);
		if (!d)
			return -1;
		put16(d, bgp_af_afi(af));
		d[2] = BGP_SAFI_UNICAST;
		put_prefixes(d + 3, spec->mp_unreach, spec->n_mp_unreach, s->addpath_tx[af]);
	}

	while ((r = bgp_attr_next(&it, &a)) == 1) {
		/* AS4_PATH (17) and AS4_AGGREGATOR (18) go in type order. */
		if (a.type > BGP_ATTR_AS4_PATH && need_as4path) {
			as4path_put(&e, as4path, as4path_len);
			need_as4path = 0;
		}
		if (a.type > BGP_ATTR_AS4_AGGREGATOR && need_as4aggr) {
			d = enc_attr(&e, BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE,
			             BGP_ATTR_AS4_AGGREGATOR, 8);
			if (d) {
				put32(d, as4aggr_as);
				memcpy(d + 4, &as4aggr_id, 4);
			}
			need_as4aggr = 0;
		}
		switch (a.type) {
		case BGP_ATTR_MP_REACH_NLRI:
			continue; /* written first */
		case BGP_ATTR_AS_PATH:
			if (!s->as4) {
				need_as4path = aspath_narrow(&e, a.val, a.len);
				as4path = a.val;
				as4path_len = a.len;
				continue;
			}
			break;
		case BGP_ATTR_AGGREGATOR:
			if (!s->as4 && a.len == 8) {
				uint32_t as = get32(a.val);
				d = enc_attr(&e, a.flags, BGP_ATTR_AGGREGATOR, 6);
				if (d) {
					put16(d, as > 0xffff ? BGP_AS_TRANS : (uint16_t)as);
					memcpy(d + 2, a.val + 4, 4);
				}
				if (as > 0xffff) {
					need_as4aggr = 1;
					as4aggr_as = as;
					memcpy(&as4aggr_id, a.val + 4, 4);
				}
				continue;
			}
			break;
		}
		d = enc_attr(&e, a.flags, a.type, a.len);
		if (d && a.len)
			memcpy(d, a.val, a.len);
	}
	if (r < 0)
		return -1;
	if (need_as4path)
		as4path_put(&e, as4path, as4path_len);
	if (need_as4aggr) {
		d = enc_attr(&e, BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE,
		             BGP_ATTR_AS4_AGGREGATOR, 8);
		if (d) {
			put32(d, as4aggr_as);
			memcpy(d + 4, &as4aggr_id, 4);
		}
	}
	if (e.overflow || e.len - attr_start > 0xffff)
		return -1;
	put16(h, (uint16_t)(e.len - attr_start));

	/* IPv4 NLRI. */
	l = prefixes_len(spec->nlri, spec->n_nlri, s);
	d = enc_reserve(&e, l);
	if (!d)
		return -1;
	put_prefixes(d, spec->nlri, spec->n_nlri, s->addpath_tx[BGP_AF_IPV4]);

	bgp_put_header(out, (uint16_t)e.len, BGP_MSG_UPDATE);
	*len = e.len;
	return 0;
}
