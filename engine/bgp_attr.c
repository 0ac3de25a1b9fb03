/*
 * bgp_attr.c — canonical attribute sets and AS path helpers.
 *
 * The canonical encoding is what routehub stores, interns and sends: path
 * attributes in ascending type order, 4-octet AS numbers throughout (the
 * AS4_PATH / AS4_AGGREGATOR of a 2-octet session merged per RFC 6793 §4.2.3
 * and then dropped), minimal flags (Extended Length only above 255 octets;
 * Partial kept on optional transitive attributes and set on unknown ones,
 * RFC 4271 §5), and an MP_REACH_NLRI holding only AFI, SAFI and next hop.
 * Two updates with the same path attributes give the same bytes.
 *
 * Pure; callable from any thread.
 */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "routehub/bgp.h"
#include "bgp_wire.h"

/* Output cursor with bounds: every put fails soft, checked once at the end. */
struct wcur {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};

static uint8_t *
wc_reserve(struct wcur *w, size_t n)
{
	uint8_t *r;
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = 1;
		return NULL;
	}
	r = w->p + w->len;
	w->len += n;
	return r;
}

/* Attribute header; returns where the value goes (NULL on overflow). */
static uint8_t *
wc_attr(struct wcur *w, uint8_t flags, uint8_t type, size_t len)
{
	uint8_t *h;
	flags &= (uint8_t)~BGP_ATTR_FLAG_EXTLEN;
	if (len > 255) {
		h = wc_reserve(w, 4 + len);
		if (!h)
			return NULL;
		h[0] = flags | BGP_ATTR_FLAG_EXTLEN;
		h[1] = type;
		put16(h + 2, (uint16_t)len);
		return h + 4;
	}
	h = wc_reserve(w, 3 + len);
	if (!h)
		return NULL;
	h[0] = flags;
	h[1] = type;
	h[2] = (uint8_t)len;
	return h + 3;
}

static void
wc_attr_copy(struct wcur *w, uint8_t flags, uint8_t type, const uint8_t *v, size_t len)
{
	uint8_t *d = wc_attr(w, flags, type, len);
	if (d && len)
		memcpy(d, v, len);
}

/* ---- AS paths ---------------------------------------------------------------- */

unsigned
bgp_aspath_count(const uint8_t *p, size_t len)
{
	size_t i = 0;
	unsigned n = 0;

	while (i + 2 <= len) {
		uint8_t t = p[i], c = p[i + 1];
		if (t == BGP_ASPATH_SEQUENCE)
			n += c;
		else if (t == BGP_ASPATH_SET)
			n += 1; /* RFC 4271 §9.1.2.2 a) */
		i += 2 + (size_t)c * 4;
	}
	return n;
}

bool
bgp_aspath_contains(const uint8_t *p, size_t len, uint32_t asn)
{
	size_t i = 0;

	while (i + 2 <= len) {
		uint8_t c = p[i + 1];
		size_t k;
		i += 2;
		for (k = 0; k < c && i + 4 <= len; k++, i += 4)
			if (get32(p + i) == asn)
				return true;
	}
	return false;
}

uint32_t
bgp_aspath_first(const uint8_t *p, size_t len)
{
	if (len >= 6 && p[0] == BGP_ASPATH_SEQUENCE && p[1] > 0)
		return get32(p + 2);
	return 0;
}

int
bgp_aspath_format(const uint8_t *p, size_t len, int as4, char *out, size_t cap)
{
	const unsigned w = as4 ? 4 : 2;
	size_t i = 0, n = 0;

#define EMIT(...)                                                                                  \
	do {                                                                                       \
		int r_ = snprintf(out ? out + (n < cap ? n : cap) : NULL, n < cap ? cap - n : 0,   \
		                  __VA_ARGS__);                                                    \
		if (r_ > 0)                                                                        \
			n += (size_t)r_;                                                           \
	} while (0)

	if (cap)
		out[0] = '\0';
	while (i + 2 <= len) {
		uint8_t t = p[i], c = p[i + 1];
		const char *open = "", *close = "", *sep = " ";
		size_t k;

		switch (t) {
		case BGP_ASPATH_SET:
			open = "{", close = "}", sep = ",";
			break;
		case BGP_ASPATH_CONFED_SEQUENCE:
			open = "(", close = ")";
			break;
		case BGP_ASPATH_CONFED_SET:
			open = "[", close = "]", sep = ",";
			break;
		}
		if (i > 0)
			EMIT(" ");
		EMIT("%s", open);
		i += 2;
		for (k = 0; k < c && i + w <= len; k++, i += w)
			EMIT("%s%u", k ? sep : "", w == 4 ? get32(p + i) : get16(p + i));
		EMIT("%s", close);
	}
#undef EMIT
	return (int)n;
}

/* Widen a 2-octet AS path into w (RFC 6793 §4.2.3 works on 4-octet paths). */
static void
aspath_widen(struct wcur *w, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i + 2 <= len) {
		uint8_t c = p[i + 1];
		uint8_t *d = wc_reserve(w, 2 + (size_t)c * 4);
		size_t k;
		if (!d)
			return;
		d[0] = p[i];
		d[1] = c;
		i += 2;
		for (k = 0; k < c; k++, i += 2)
			put32(d + 2 + k * 4, get16(p + i));
	}
}

/* Number of AS numbers in the sense of RFC 6793 §4.2.3 (AS_SET one,
 * confederation segments none), on a 2-octet path. */
static unsigned
aspath2_count(const uint8_t *p, size_t len)
{
	size_t i = 0;
	unsigned n = 0;

	while (i + 2 <= len) {
		uint8_t t = p[i], c = p[i + 1];
		if (t == BGP_ASPATH_SEQUENCE)
			n += c;
		else if (t == BGP_ASPATH_SET)
			n += 1;
		i += 2 + (size_t)c * 2;
	}
	return n;
}

/* RFC 6793 §4.2.3: take as many AS numbers and segments from the leading
 * part of AS_PATH as make the result as long as AS_PATH, then AS4_PATH.
 * Confederation segments at the front, or adjacent to what is taken, come
 * along. Writes 4-octet segments into w. */
static void
aspath_merge(struct wcur *w, const uint8_t *p2, size_t len2, const uint8_t *p4, size_t len4)
{
	unsigned need = aspath2_count(p2, len2) - bgp_aspath_count(p4, len4);
	size_t i = 0;

	while (i + 2 <= len2) {
		uint8_t t = p2[i], c = p2[i + 1], take;
		uint8_t *d;
		size_t k;

		if (t == BGP_ASPATH_CONFED_SEQUENCE || t == BGP_ASPATH_CONFED_SET) {
			take = c;
		} else if (need == 0) {
			break;
		} else if (t == BGP_ASPATH_SET) {
			take = c;
			need--;
		} else {
			take = c < need ? c : (uint8_t)need;
			need -= take;
		}
		d = wc_reserve(w, 2 + (size_t)take * 4);
		if (!d)
			return;
		d[0] = t;
		d[1] = take;
		for (k = 0; k < take; k++)
			put32(d + 2 + k * 4, get16(p2 + i + 2 + k * 2));
		i += 2 + (size_t)c * 2;
		if (take < c)
			break;
	}
	{
		uint8_t *d = wc_reserve(w, len4);
		if (d)
			memcpy(d, p4, len4);
	}
}

/* AS_PATH value in canonical (4-octet) form. */
static void
canon_aspath(struct wcur *w, const struct bgp_attrs *a, int use_as4)
{
	uint8_t *hdr;
	size_t start, vlen;

	/* Write the header with a placeholder long length, fix up after. */
	hdr = wc_reserve(w, 4);
	if (!hdr)
		return;
	start = w->len;
	if (a->aspath_as4) {
		uint8_t *d = wc_reserve(w, a->aspath.len);
		if (d)
			memcpy(d, a->aspath.p, a->aspath.len);
	} else if (use_as4 && aspath2_count(a->aspath.p, a->aspath.len) >=
	                          bgp_aspath_count(a->as4path.p, a->as4path.len))
		aspath_merge(w, a->aspath.p, a->aspath.len, a->as4path.p, a->as4path.len);
	else
		aspath_widen(w, a->aspath.p, a->aspath.len);
	if (w->overflow)
		return;
	vlen = w->len - start;
	if (vlen > 0xffff) {
		/* A 2-octet path over 32 KB (an extended message can carry
		 * one) is over 64 KB once widened: no attribute holds it. */
		w->overflow = 1;
		return;
	}
	if (vlen > 255) {
		hdr[0] = BGP_ATTR_FLAG_TRANSITIVE | BGP_ATTR_FLAG_EXTLEN;
		hdr[1] = BGP_ATTR_AS_PATH;
		put16(hdr + 2, (uint16_t)vlen);
	} else {
		/* Short form: slide the value back one octet. */
		hdr[0] = BGP_ATTR_FLAG_TRANSITIVE;
		hdr[1] = BGP_ATTR_AS_PATH;
		hdr[2] = (uint8_t)vlen;
		memmove(hdr + 3, hdr + 4, vlen);
		w->len--;
	}
}

/* Emit the unknown optional transitive attributes with type < limit that
 * are still pending in bm, in type order (RFC 4271 §5: Partial set). */
static void
canon_unknown(struct wcur *w, const struct bgp_attrs *a, uint64_t bm[4], unsigned limit)
{
	for (unsigned word = 0; word < 4; word++) {
		while (bm[word]) {
			unsigned t = word * 64 + (unsigned)__builtin_ctzll(bm[word]);
			struct bgp_attr_iter it = {a->all.p, a->all.len, 0};
			struct bgp_attr at;
			if (t >= limit)
				return;
			bm[word] &= bm[word] - 1;
			while (bgp_attr_next(&it, &at) == 1) {
				if (at.type == t) {
					wc_attr_copy(w, (uint8_t)(at.flags | BGP_ATTR_FLAG_PARTIAL),
					             at.type, at.val, at.len);
					break;
				}
			}
		}
	}
}

int
bgp_attrs_canon(const struct bgp_update *u, uint8_t *out, size_t cap, size_t *len)
{
	const struct bgp_attrs *a = &u->attrs;
	struct wcur w = {out, 0, cap, 0};
	uint64_t m = a->mask, bm[4];
	uint8_t *d;
	/* RFC 6793 §4.2.3: when both AGGREGATOR and AS4_AGGREGATOR are
	 * received and the AGGREGATOR AS is not AS_TRANS, AS4_PATH and
	 * AS4_AGGREGATOR are to be ignored. An AGGREGATOR alone (a mappable
	 * aggregator AS, as our own encoder writes it) leaves AS4_PATH in force. */
	int use_as4 = !a->aspath_as4 &&
	              !(m & (1ull << BGP_ATTR_AGGREGATOR) &&
	                m & (1ull << BGP_ATTR_AS4_AGGREGATOR) && a->aggregator_as != BGP_AS_TRANS);
	int have_as4path = use_as4 && (m & (1ull << BGP_ATTR_AS4_PATH));
	int have_as4aggr = use_as4 && (m & (1ull << BGP_ATTR_AS4_AGGREGATOR));

	memcpy(bm, a->unknown, sizeof(bm));
	canon_unknown(&w, a, bm, BGP_ATTR_ORIGIN); /* type 0 (reserved) sorts first */
	if (m & (1ull << BGP_ATTR_ORIGIN)) {
		d = wc_attr(&w, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_ORIGIN, 1);
		if (d)
			d[0] = a->origin;
	}
	canon_unknown(&w, a, bm, BGP_ATTR_AS_PATH);
	if (m & (1ull << BGP_ATTR_AS_PATH)) {
		struct bgp_attrs tmp = *a;
		if (!have_as4path)
			tmp.as4path.len = 0, tmp.as4path.p = NULL;
		canon_aspath(&w, &tmp, have_as4path);
	}
	canon_unknown(&w, a, bm, BGP_ATTR_NEXT_HOP);
	if (m & (1ull << BGP_ATTR_NEXT_HOP))
		wc_attr_copy(&w, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_NEXT_HOP,
		             (const uint8_t *)&a->nexthop, 4);
	canon_unknown(&w, a, bm, BGP_ATTR_MED);
	if (m & (1ull << BGP_ATTR_MED)) {
		d = wc_attr(&w, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_MED, 4);
		if (d)
			put32(d, a->med);
	}
	if (m & (1ull << BGP_ATTR_LOCAL_PREF)) {
		d = wc_attr(&w, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_LOCAL_PREF, 4);
		if (d)
			put32(d, a->local_pref);
	}
	canon_unknown(&w, a, bm, BGP_ATTR_ATOMIC_AGGREGATE);
	if (m & (1ull << BGP_ATTR_ATOMIC_AGGREGATE))
		wc_attr(&w, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_ATOMIC_AGGREGATE, 0);
	canon_unknown(&w, a, bm, BGP_ATTR_AGGREGATOR);
	if (m & (1ull << BGP_ATTR_AGGREGATOR)) {
		uint32_t as = a->aggregator_as, id = a->aggregator_id;
		if (have_as4aggr && as == BGP_AS_TRANS) {
			as = a->as4_aggregator_as;
			id = a->as4_aggregator_id;
		}
		d = wc_attr(
		    &w,
		    (uint8_t)(BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE | a->partial_aggr),
		    BGP_ATTR_AGGREGATOR, 8);
		if (d) {
			put32(d, as);
			memcpy(d + 4, &id, 4);
		}
	}
	canon_unknown(&w, a, bm, BGP_ATTR_COMMUNITIES);
	if (m & (1ull << BGP_ATTR_COMMUNITIES))
		wc_attr_copy(
		    &w,
		    (uint8_t)(BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE | a->partial_comm),
		    BGP_ATTR_COMMUNITIES, a->communities.p, a->communities.len);
	if (m & (1ull << BGP_ATTR_ORIGINATOR_ID))
		wc_attr_copy(&w, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_ORIGINATOR_ID,
		             (const uint8_t *)&a->originator_id, 4);
	if (m & (1ull << BGP_ATTR_CLUSTER_LIST))
		wc_attr_copy(&w, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_CLUSTER_LIST, a->cluster_list.p,
		             a->cluster_list.len);
	canon_unknown(&w, a, bm, BGP_ATTR_MP_REACH_NLRI);
	if (m & (1ull << BGP_ATTR_MP_REACH_NLRI)) {
		/* RFC 4760 §3 layout with no NLRI: the next hop of the set. */
		d = wc_attr(&w, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_MP_REACH_NLRI,
		            (size_t)5 + a->mp_nh_len);
		if (d) {
			put16(d, bgp_af_afi(a->mp_af));
			d[2] = BGP_SAFI_UNICAST;
			d[3] = a->mp_nh_len;
			memcpy(d + 4, a->mp_nh, a->mp_nh_len);
			d[4 + a->mp_nh_len] = 0;
		}
	}
	canon_unknown(&w, a, bm, BGP_ATTR_EXT_COMMUNITIES);
	if (m & (1ull << BGP_ATTR_EXT_COMMUNITIES))
		wc_attr_copy(
		    &w,
		    (uint8_t)(BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE | a->partial_ext),
		    BGP_ATTR_EXT_COMMUNITIES, a->ext_communities.p, a->ext_communities.len);
	canon_unknown(&w, a, bm, BGP_ATTR_LARGE_COMMUNITY);
	if (m & (1ull << BGP_ATTR_LARGE_COMMUNITY))
		wc_attr_copy(
		    &w,
		    (uint8_t)(BGP_ATTR_FLAG_OPTIONAL | BGP_ATTR_FLAG_TRANSITIVE | a->partial_large),
		    BGP_ATTR_LARGE_COMMUNITY, a->large_communities.p, a->large_communities.len);
	canon_unknown(&w, a, bm, 256);
	if (w.overflow)
		return -1;
	*len = w.len;
	return 0;
}

uint64_t
bgp_attrs_hash(const uint8_t *canon, size_t len)
{
	return XXH3_64bits(canon, len);
}

int
bgp_attr_next(struct bgp_attr_iter *it, struct bgp_attr *a)
{
	size_t rem, hl, l;

	if (it->pos >= it->len)
		return 0;
	rem = it->len - it->pos;
	if (rem < 3)
		return -1;
	a->flags = it->p[it->pos];
	a->type = it->p[it->pos + 1];
	hl = (a->flags & BGP_ATTR_FLAG_EXTLEN) ? 4 : 3;
	if (rem < hl)
		return -1;
	l = hl == 4 ? get16(it->p + it->pos + 2) : it->p[it->pos + 2];
	if (rem - hl < l)
		return -1;
	a->len = (uint16_t)l;
	a->val = it->p + it->pos + hl;
	it->pos += hl + l;
	return 1;
}

int
bgp_attr_find(const uint8_t *canon, size_t len, uint8_t type, struct bgp_attr *a)
{
	struct bgp_attr_iter it = {canon, len, 0};

	while (bgp_attr_next(&it, a) == 1) {
		if (a->type == type)
			return 0;
		if (a->type > type) /* canonical order: sorted by type */
			break;
	}
	return -1;
}
