/*
 * bgp_update.c — UPDATE decoding and validation (RFC 4271 §4.3, §6.3 as
 * revised by RFC 7606; RFC 4760, RFC 6793, RFC 7607, RFC 7911, RFC 8092).
 *
 * The goal is speed on bulk UPDATE bursts: one pass over the attributes,
 * one pass over each NLRI run to validate and count it, no allocation, and
 * results as pointers into the caller's message. Every malformed case ends in
 * exactly one outcome; when several errors occur the strongest wins
 * (session reset > treat-as-withdraw > attribute discard), RFC 7606 §3.
 *
 * Pure; callable from any thread.
 */
#include <string.h>

#include "routehub/bgp.h"
#include "bgp_wire.h"

/* Expected Optional/Transitive flag bits of the attributes we know
 * (RFC 4271 §5, RFC 4760 §3/§4, ...); bit 0 marks a known type, 0 unknown. */
#define WK 0x41 /* well-known: transitive, not optional */
#define ON 0x81 /* optional non-transitive */
#define OT 0xc1 /* optional transitive */
static const uint8_t attr_flags_expected[256] = {
    [BGP_ATTR_ORIGIN] = WK,          [BGP_ATTR_AS_PATH] = WK,
    [BGP_ATTR_NEXT_HOP] = WK,        [BGP_ATTR_MED] = ON,
    [BGP_ATTR_LOCAL_PREF] = WK,      [BGP_ATTR_ATOMIC_AGGREGATE] = WK,
    [BGP_ATTR_AGGREGATOR] = OT,      [BGP_ATTR_COMMUNITIES] = OT,
    [BGP_ATTR_ORIGINATOR_ID] = ON,   [BGP_ATTR_CLUSTER_LIST] = ON,
    [BGP_ATTR_MP_REACH_NLRI] = ON,   [BGP_ATTR_MP_UNREACH_NLRI] = ON,
    [BGP_ATTR_EXT_COMMUNITIES] = OT, [BGP_ATTR_AS4_PATH] = OT,
    [BGP_ATTR_AS4_AGGREGATOR] = OT,  [BGP_ATTR_LARGE_COMMUNITY] = OT,
};
#undef WK
#undef ON
#undef OT

/* Record an outcome; the strongest one wins. Only the first reset's
 * NOTIFICATION is kept. */
static void
outcome(struct bgp_update *u, enum bgp_action a, const char *reason)
{
	if (a > u->action) {
		u->action = a;
		u->err.reason = reason;
	}
}

static void
reset(struct bgp_update *u, uint8_t subcode, const uint8_t *data, size_t dlen, const char *reason)
{
	if (u->action == BGP_ACT_RESET)
		return;
	u->action = BGP_ACT_RESET;
	u->err.code = BGP_ERR_UPDATE;
	u->err.subcode = subcode;
	u->err.data = data;
	u->err.data_len = (uint16_t)dlen;
	u->err.reason = reason;
}

static void
discard(struct bgp_update *u, uint8_t type, const char *reason)
{
	if (type < 64)
		u->attrs.mask &= ~(1ull << type);
	u->n_discarded++;
	outcome(u, BGP_ACT_DISCARD, reason);
}

/* Validate and count one NLRI run (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3).
 * Returns 0, or -1 on a syntax error (RFC 7606 §5.3: session reset). */
static int
nlri_scan(struct bgp_nlri *n, const uint8_t *p, size_t len, int af, int addpath)
{
	const unsigned maxbits = af == BGP_AF_IPV6 ? 128 : 32;
	size_t i = 0;
	unsigned count = 0;

	n->p = p;
	n->len = (uint16_t)len;
	n->af = (uint8_t)af;
	n->addpath = (uint8_t)(addpath != 0);
	if (!addpath) {
		while (i < len) {
			unsigned plen = p[i];
			if (plen > maxbits)
				return -1;
			i += 1 + ((plen + 7) >> 3);
			count++;
		}
	} else {
		while (i < len) {
			unsigned plen;
			if (len - i < 5)
				return -1;
			plen = p[i + 4];
			if (plen > maxbits)
				return -1;
			i += 5 + ((plen + 7) >> 3);
			count++;
		}
	}
	if (i != len) /* the last prefix ran past the end */
		return -1;
	n->count = (uint16_t)count;
	return 0;
}

int
bgp_nlri_next(const struct bgp_nlri *n, size_t *pos, struct bgp_prefix *out)
{
	size_t i = *pos;
	unsigned plen, nb;

	if (i >= n->len)
		return 0;
	out->af = n->af;
	out->pad[0] = out->pad[1] = 0;
	if (n->addpath) {
		out->path_id = get32(n->p + i);
		i += 4;
	} else {
		out->path_id = 0;
	}
	plen = n->p[i++];
	nb = (plen + 7) >> 3;
	out->len = (uint8_t)plen;
	memset(out->addr, 0, sizeof(out->addr));
	memcpy(out->addr, n->p + i, nb);
	/* RFC 4271 §4.3: trailing bits are irrelevant; keep host bits zero. */
	if (plen & 7)
		out->addr[nb - 1] &= (uint8_t)(0xff00u >> (plen & 7));
	*pos = i + nb;
	return 1;
}

/* RFC 4271 §4.3 AS_PATH; RFC 7606 §7.2; RFC 7607 §2; RFC 5065 §3.
 * Returns 0 if well-formed, else -1 and *why. */
static int
aspath_check(const uint8_t *p, size_t len, unsigned w, int allow_confed, const char **why)
{
	size_t i = 0;

	while (i < len) {
		uint8_t type, cnt;
		size_t k;
		if (len - i < 2) {
			*why = "AS_PATH segment header truncated";
			return -1;
		}
		type = p[i];
		cnt = p[i + 1];
		if (type < BGP_ASPATH_SET || type > BGP_ASPATH_CONFED_SET) {
			*why = "AS_PATH segment type invalid";
			return -1;
		}
		if (cnt == 0) {
			*why = "AS_PATH segment of length zero";
			return -1;
		}
		if (!allow_confed && type >= BGP_ASPATH_CONFED_SEQUENCE) {
			*why = "AS_PATH confederation segment from an external peer";
			return -1;
		}
		i += 2;
		if (len - i < (size_t)cnt * w) {
			*why = "AS_PATH segment overruns the attribute";
			return -1;
		}
		for (k = 0; k < cnt; k++, i += w) {
			uint32_t as = w == 4 ? get32(p + i) : get16(p + i);
			if (as == 0) {
				*why = "AS_PATH contains AS 0 (RFC 7607)";
				return -1;
			}
		}
	}
	return 0;
}

/* MP_REACH_NLRI (RFC 4760 §3). */
static void
mp_reach(struct bgp_update *u, const struct bgp_sess *s, const uint8_t *attr, size_t attrlen,
         const uint8_t *v, size_t len)
{
	int af;
	uint8_t nhl;
	size_t off;

	if (len < 5) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen, "MP_REACH_NLRI too short");
		return;
	}
	af = bgp_af_from_afi(get16(v), v[2]);
	nhl = v[3];
	if ((size_t)nhl + 5 > len) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen, "MP_REACH_NLRI next hop overruns");
		return;
	}
	if (af < 0 || !s->af[af]) {
		/* A family we do not route, or not negotiated: ignore it
		 * (RFC 4760 §7 lets us disregard a family we did not ask for). */
		discard(u, BGP_ATTR_MP_REACH_NLRI, "MP_REACH_NLRI for a family not negotiated");
		return;
	}
	/* RFC 7606 §7.11: a next hop length inconsistent with the family makes
	 * the NLRI impossible to locate reliably -> session reset (or AFI/SAFI
	 * disable), not treat-as-withdraw. IPv6: 16, or 32 with a link-local
	 * (RFC 2545 §3); IPv4: 4, or 16/32 for an IPv6 next hop (RFC 8950). */
	if (!(nhl == 16 || nhl == 32 || (af == BGP_AF_IPV4 && nhl == 4))) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen,
		      "MP_REACH_NLRI next hop length invalid for the family");
		return;
	}
	off = 4 + nhl + 1; /* reserved octet (RFC 4760 §3) */
	if (nlri_scan(&u->mp_reach, v + off, len - off, af, s->addpath_rx[af]) < 0) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen, "MP_REACH_NLRI prefix malformed");
		return;
	}
	u->attrs.mask |= 1ull << BGP_ATTR_MP_REACH_NLRI;
	u->attrs.mp_af = (uint8_t)af;
	u->attrs.mp_nh_len = nhl;
	memcpy(u->attrs.mp_nh, v + 4, nhl);
}

/* MP_UNREACH_NLRI (RFC 4760 §4). */
static void
mp_unreach(struct bgp_update *u, const struct bgp_sess *s, const uint8_t *attr, size_t attrlen,
           const uint8_t *v, size_t len)
{
	int af;

	if (len < 3) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen, "MP_UNREACH_NLRI too short");
		return;
	}
	af = bgp_af_from_afi(get16(v), v[2]);
	if (af < 0 || !s->af[af]) {
		discard(u, BGP_ATTR_MP_UNREACH_NLRI, "MP_UNREACH_NLRI for a family not negotiated");
		return;
	}
	if (nlri_scan(&u->mp_unreach, v + 3, len - 3, af, s->addpath_rx[af]) < 0) {
		reset(u, BGP_ERR_UPD_OPTATTR, attr, attrlen, "MP_UNREACH_NLRI prefix malformed");
		return;
	}
	u->attrs.mask |= 1ull << BGP_ATTR_MP_UNREACH_NLRI;
}

/* One attribute whose flags, type, and length have been read. */
static void
attr_one(struct bgp_update *u, const struct bgp_sess *s, uint8_t flags, uint8_t type,
         const uint8_t *attr, size_t attrlen, const uint8_t *v, size_t len)
{
	struct bgp_attrs *a = &u->attrs;
	const unsigned asw = s->as4 ? 4 : 2;
	const char *why;
	uint8_t exp = attr_flags_expected[type];

	if (exp == 0) {
		/* Unknown. RFC 4271 §6.3: a well-known one is an error;
		 * §5: optional non-transitive ones are quietly ignored, optional
		 * transitive ones pass on with Partial set. */
		if (!(flags & BGP_ATTR_FLAG_OPTIONAL)) {
			reset(u, BGP_ERR_UPD_UNKWN_WK, attr, attrlen,
			      "unrecognized well-known attribute");
			return;
		}
		if (flags & BGP_ATTR_FLAG_TRANSITIVE)
			a->unknown[type >> 6] |= 1ull << (type & 63);
		else
			u->n_discarded++;
		return;
	}
	/* RFC 7606 §3(c): Optional/Transitive bits in conflict with the type:
	 * malformed, handled as that attribute's malformation is. */
	if ((flags & 0xc0) != (exp & 0xc0)) {
		switch (type) {
		case BGP_ATTR_MP_REACH_NLRI:
		case BGP_ATTR_MP_UNREACH_NLRI:
			reset(u, BGP_ERR_UPD_ATTRFLAGS, attr, attrlen, "MP attribute flags error");
			return;
		case BGP_ATTR_ATOMIC_AGGREGATE:
		case BGP_ATTR_AGGREGATOR:
		case BGP_ATTR_AS4_PATH:
		case BGP_ATTR_AS4_AGGREGATOR:
			discard(u, type, "attribute flags error");
			return;
		default:
			outcome(u, BGP_ACT_WITHDRAW, "attribute flags error");
			return;
		}
	}

	switch (type) {
	case BGP_ATTR_ORIGIN: /* RFC 7606 §7.1 */
		if (len != 1 || v[0] > BGP_ORIGIN_INCOMPLETE) {
			outcome(u, BGP_ACT_WITHDRAW, "ORIGIN malformed");
			return;
		}
		a->origin = v[0];
		break;
	case BGP_ATTR_AS_PATH: /* RFC 7606 §7.2 */
		if (aspath_check(v, len, asw, s->ibgp, &why) < 0) {
			outcome(u, BGP_ACT_WITHDRAW, why);
			return;
		}
		a->aspath.p = v;
		a->aspath.len = (uint16_t)len;
		a->aspath_as4 = s->as4;
		break;
	case BGP_ATTR_NEXT_HOP: /* RFC 7606 §7.3 */
		if (len != 4) {
			outcome(u, BGP_ACT_WITHDRAW, "NEXT_HOP length is not 4");
			return;
		}
		memcpy(&a->nexthop, v, 4);
		break;
	case BGP_ATTR_MED: /* RFC 7606 §7.4 */
		if (len != 4) {
			outcome(u, BGP_ACT_WITHDRAW, "MULTI_EXIT_DISC length is not 4");
			return;
		}
		a->med = get32(v);
		break;
	case BGP_ATTR_LOCAL_PREF: /* RFC 7606 §7.5 */
		/* From an external peer it is discarded whatever its length; the
		 * length check (treat-as-withdraw) applies to internal peers only. */
		if (!s->ibgp) {
			discard(u, type, "LOCAL_PREF from an external peer");
			return;
		}
		if (len != 4) {
			outcome(u, BGP_ACT_WITHDRAW, "LOCAL_PREF length is not 4");
			return;
		}
		a->local_pref = get32(v);
		break;
	case BGP_ATTR_ATOMIC_AGGREGATE: /* RFC 7606 §7.6 */
		if (len != 0) {
			discard(u, type, "ATOMIC_AGGREGATE length is not 0");
			return;
		}
		break;
	case BGP_ATTR_AGGREGATOR:     /* RFC 7606 §7.7, RFC 7607 §2 */
		if (len != asw + 4) { /* AS (2 or 4 octets) + BGP id */
			discard(u, type, "AGGREGATOR length wrong");
			return;
		}
		a->aggregator_as = asw == 4 ? get32(v) : get16(v);
		if (a->aggregator_as == 0) {
			discard(u, type, "AGGREGATOR carries AS 0 (RFC 7607)");
			return;
		}
		memcpy(&a->aggregator_id, v + asw, 4);
		a->partial_aggr = flags & BGP_ATTR_FLAG_PARTIAL;
		break;
	case BGP_ATTR_COMMUNITIES: /* RFC 7606 §7.8 */
		if (len == 0 || len % 4) {
			outcome(u, BGP_ACT_WITHDRAW,
			        "COMMUNITIES length not a non-zero multiple of 4");
			return;
		}
		a->communities.p = v;
		a->communities.len = (uint16_t)len;
		a->partial_comm = flags & BGP_ATTR_FLAG_PARTIAL;
		break;
	case BGP_ATTR_ORIGINATOR_ID: /* RFC 7606 §7.9 */
		if (len != 4) {
			outcome(u, BGP_ACT_WITHDRAW, "ORIGINATOR_ID length is not 4");
			return;
		}
		memcpy(&a->originator_id, v, 4);
		break;
	case BGP_ATTR_CLUSTER_LIST: /* RFC 7606 §7.10 */
		if (len == 0 || len % 4) {
			outcome(u, BGP_ACT_WITHDRAW,
			        "CLUSTER_LIST length not a non-zero multiple of 4");
			return;
		}
		a->cluster_list.p = v;
		a->cluster_list.len = (uint16_t)len;
		break;
	case BGP_ATTR_MP_REACH_NLRI:
		mp_reach(u, s, attr, attrlen, v, len);
		return;
	case BGP_ATTR_MP_UNREACH_NLRI:
		mp_unreach(u, s, attr, attrlen, v, len);
		return;
	case BGP_ATTR_EXT_COMMUNITIES: /* RFC 7606 §7.14 */
		if (len == 0 || len % 8) {
			outcome(u, BGP_ACT_WITHDRAW,
			        "EXTENDED_COMMUNITIES length not a multiple of 8");
			return;
		}
		a->ext_communities.p = v;
		a->ext_communities.len = (uint16_t)len;
		a->partial_ext = flags & BGP_ATTR_FLAG_PARTIAL;
		break;
	case BGP_ATTR_AS4_PATH: /* RFC 6793 §6, RFC 7606 §7.15, RFC 7607 */
		if (s->as4) {
			/* RFC 6793 §4.1: a NEW speaker discards AS4_PATH from a NEW speaker. */
			discard(u, type, "AS4_PATH on a 4-octet session");
			return;
		}
		if (aspath_check(v, len, 4, 0, &why) < 0) {
			discard(u, type, "AS4_PATH malformed");
			return;
		}
		a->as4path.p = v;
		a->as4path.len = (uint16_t)len;
		break;
	case BGP_ATTR_AS4_AGGREGATOR: /* RFC 6793 §6 */
		if (s->as4) {
			discard(u, type, "AS4_AGGREGATOR on a 4-octet session");
			return;
		}
		if (len != 8 || get32(v) == 0) {
			discard(u, type, "AS4_AGGREGATOR malformed");
			return;
		}
		a->as4_aggregator_as = get32(v);
		memcpy(&a->as4_aggregator_id, v + 4, 4);
		break;
	case BGP_ATTR_LARGE_COMMUNITY: /* RFC 8092 §5 */
		if (len == 0 || len % 12) {
			outcome(u, BGP_ACT_WITHDRAW, "LARGE_COMMUNITY length not a multiple of 12");
			return;
		}
		a->large_communities.p = v;
		a->large_communities.len = (uint16_t)len;
		a->partial_large = flags & BGP_ATTR_FLAG_PARTIAL;
		break;
	}
	a->mask |= 1ull << type;
}

int
bgp_update_decode(const uint8_t *buf, size_t len, const struct bgp_sess *s, struct bgp_update *u)
{
	const uint8_t *p = buf + BGP_HDR_LEN, *end = buf + len, *attrs, *aend, *q;
	uint64_t seen[4] = {0, 0, 0, 0};
	size_t wlen, alen;
	int overrun_type = -2; /* -2: no overrun; -1: type unknown; else type */

	memset(u, 0, sizeof(*u));
	u->withdrawn.af = u->nlri.af = BGP_AF_IPV4;
	if (len < BGP_UPDATE_MIN_LEN) {
		reset(u, BGP_ERR_UPD_ATTRLIST, NULL, 0, "UPDATE shorter than 23 octets");
		return -1;
	}
	/* RFC 4271 §6.3: Withdrawn Routes Length and Total Attribute Length
	 * must fit the message, else Malformed Attribute List. */
	wlen = get16(p);
	p += 2;
	if ((size_t)(end - p) < wlen + 2) {
		reset(u, BGP_ERR_UPD_ATTRLIST, NULL, 0,
		      "withdrawn routes length overruns the message");
		return -1;
	}
	if (nlri_scan(&u->withdrawn, p, wlen, BGP_AF_IPV4, s->addpath_rx[BGP_AF_IPV4]) < 0) {
		reset(u, BGP_ERR_UPD_NETWORK, NULL, 0, "withdrawn routes malformed");
		return -1;
	}
	p += wlen;
	alen = get16(p);
	p += 2;
	if ((size_t)(end - p) < alen) {
		reset(u, BGP_ERR_UPD_ATTRLIST, NULL, 0,
		      "total attribute length overruns the message");
		return -1;
	}
	attrs = p;
	aend = p + alen;
	u->attrs.all.p = attrs;
	u->attrs.all.len = (uint16_t)alen;

	/* RFC 7606 §5.3: NLRI syntax errors reset the session. */
	if (nlri_scan(&u->nlri, aend, (size_t)(end - aend), BGP_AF_IPV4,
	              s->addpath_rx[BGP_AF_IPV4]) < 0) {
		reset(u, BGP_ERR_UPD_NETWORK, NULL, 0, "NLRI malformed");
		return -1;
	}

	for (q = attrs; q < aend;) {
		uint8_t flags, type;
		size_t hl, l;

		if (aend - q < 3) {
			/* RFC 7606 §4: too few octets for an attribute header. */
			overrun_type = aend - q >= 2 ? q[1] : -1;
			break;
		}
		flags = q[0];
		type = q[1];
		hl = (flags & BGP_ATTR_FLAG_EXTLEN) ? 4 : 3;
		if ((size_t)(aend - q) < hl) {
			overrun_type = type;
			break;
		}
		l = hl == 4 ? get16(q + 2) : q[2];
		if ((size_t)(aend - q) - hl < l) {
			overrun_type = type;
			break;
		}
		/* RFC 7606 §3(g): repeated MP attributes reset the session; any
		 * other repeat is discarded after the first. */
		if (seen[type >> 6] & (1ull << (type & 63))) {
			if (type == BGP_ATTR_MP_REACH_NLRI || type == BGP_ATTR_MP_UNREACH_NLRI) {
				reset(u, BGP_ERR_UPD_ATTRLIST, NULL, 0,
				      "MP attribute appears twice");
				return -1;
			}
			u->n_discarded++;
			outcome(u, BGP_ACT_DISCARD, "attribute appears twice");
		} else {
			seen[type >> 6] |= 1ull << (type & 63);
			attr_one(u, s, flags, type, q, hl + l, q + hl, l);
			if (u->action == BGP_ACT_RESET)
				return -1;
		}
		q += hl + l;
	}

	if (overrun_type != -2) {
		/* RFC 7606 §4: treat-as-withdraw, relying on the Total Attribute
		 * Length to find the NLRI. The overrunning attribute is the last
		 * one; if it may be an MP attribute its NLRI cannot be known, and
		 * RFC 7606 §5 leaves only session reset. */
		if (overrun_type < 0 || overrun_type == BGP_ATTR_MP_REACH_NLRI ||
		    overrun_type == BGP_ATTR_MP_UNREACH_NLRI) {
			reset(u, BGP_ERR_UPD_ATTRLEN, NULL, 0,
			      "MP attribute overruns the attributes");
			return -1;
		}
		outcome(u, BGP_ACT_WITHDRAW, "attribute length overruns the attributes");
	}

	/* RFC 7606 §3(d): missing well-known mandatory attributes, when there
	 * is reachable NLRI, make the update treat-as-withdraw. */
	if (u->nlri.count || u->mp_reach.count) {
		uint64_t m = u->attrs.mask;
		if (!(m & (1ull << BGP_ATTR_ORIGIN)) && !(seen[0] & (1ull << BGP_ATTR_ORIGIN)))
			outcome(u, BGP_ACT_WITHDRAW, "ORIGIN missing");
		if (!(m & (1ull << BGP_ATTR_AS_PATH)) && !(seen[0] & (1ull << BGP_ATTR_AS_PATH)))
			outcome(u, BGP_ACT_WITHDRAW, "AS_PATH missing");
		if (u->nlri.count && !(seen[0] & (1ull << BGP_ATTR_NEXT_HOP)))
			outcome(u, BGP_ACT_WITHDRAW, "NEXT_HOP missing");
		/* LOCAL_PREF is well-known discretionary (RFC 4271 §5): a
		 * speaker must send it to internal peers (§5.1.5), but its
		 * absence is not a missing mandatory attribute; the decision
		 * process takes the default degree of preference (100). */
	}

	/* RFC 4724 §2: End-of-RIB markers. */
	if (alen == 0 && wlen == 0 && u->nlri.count == 0) {
		u->eor = true;
		u->eor_af = BGP_AF_IPV4;
	} else if (wlen == 0 && u->nlri.count == 0 &&
	           u->attrs.mask == (1ull << BGP_ATTR_MP_UNREACH_NLRI) && u->mp_unreach.len == 0 &&
	           q - attrs == (ptrdiff_t)alen && seen[0] == (1ull << BGP_ATTR_MP_UNREACH_NLRI) &&
	           !seen[1] && !seen[2] && !seen[3]) {
		u->eor = true;
		u->eor_af = u->mp_unreach.af;
	}
	return 0;
}
