/*
 * work.c — the workload model: feeders and their groups, the table of every
 * prefix the workload announces, attribute-set templates, the synthetic
 * workload, the pre-encoding of every feeder's streams, and the expectation
 * the spokes must reach.
 *
 * Runs on the main thread before any session starts; afterwards everything
 * here is read-only (lg_feeder.announced aside, see lg.h).
 *
 * The best-path rule the verification relies on. Feeders come in groups
 * (--overlap K; a replay puts every feeder in one group). The members of a
 * group announce the same prefixes with the same attributes except their
 * own ASN (first in AS_PATH) and next hop, so their AS paths have equal
 * length and every tie-breaker left (RFC 4271 §9.1.2.2: MED is compared only
 * between routes from the same neighbour AS, then eBGP over iBGP, IGP cost,
 * router id / peer address, and FRR's "oldest path") picks one of them in a
 * way that depends on the daemon. A spoke therefore accepts, for each prefix,
 * the route of any member that still holds it, provided it is exactly that
 * member's route: next hop the member's, AS path the member's (behind the
 * route server's ASN unless transparent). The digest term of a prefix is
 * hash(prefix, group, AS path behind the feeder) — the same whichever member
 * won — so equal digests mean equal route sets.
 *
 * iBGP feeders (--ibgp-feeders: route-reflector clients in the route
 * server's AS) differ in what they send, not in the rule: no own ASN in
 * AS_PATH (RFC 4271 §5.1.2: the path they originate into their AS is the
 * set's path as it is, possibly empty), LOCAL_PREF (§5.1.5), so members of a
 * group differ only in next hop. "The AS path behind the feeder" is then the
 * whole path, and the digest term is computed the same way. What a route
 * reflector adds (ORIGINATOR_ID, CLUSTER_LIST: RFC 4456 §8) and LOCAL_PREF
 * are checked route by route (spoke.c); a route that fails is wrong, which
 * fails the run whatever the digest says.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg.h"

/* ---- hashing -------------------------------------------------------------------- */
#define PATH_SEED    0x6c67706174680000ull
#define TOK_BEGIN(t) ((1ull << 32) | (t))
#define TOK_END(t)   ((2ull << 32) | (t))
#define MAX_TOKENS   (BGP_MAX_EXT_MSG / 2)

static inline uint64_t
path_step(uint64_t h, uint64_t tok)
{
	return lg_mix64(h ^ lg_mix64(tok + 0x9e3779b97f4a7c15ull));
}

uint64_t
lg_path_prepend(uint64_t h, uint32_t asn)
{
	return path_step(h, asn);
}

int
lg_path_hash(const uint8_t *p, size_t len, uint64_t *out)
{
	static __thread uint64_t tok[MAX_TOKENS];
	size_t i = 0, n = 0;
	uint64_t h = PATH_SEED;

	/* Tokens: the ASNs of AS_SEQUENCE segments as they come (so the
	 * segment boundaries between sequences do not matter), other segment
	 * types bracketed by markers (RFC 4271 §4.3, RFC 5065 §3). */
	while (i < len) {
		uint8_t type, cnt;
		if (len - i < 2)
			return -1;
		type = p[i];
		cnt = p[i + 1];
		if (len - i - 2 < (size_t)cnt * 4 || n + cnt + 2 > MAX_TOKENS)
			return -1;
		if (type != BGP_ASPATH_SEQUENCE)
			tok[n++] = TOK_BEGIN(type);
		for (unsigned k = 0; k < cnt; k++) {
			const uint8_t *a = p + i + 2 + 4 * k;
			tok[n++] = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
			           (uint32_t)a[2] << 8 | a[3];
		}
		if (type != BGP_ASPATH_SEQUENCE)
			tok[n++] = TOK_END(type);
		i += 2 + (size_t)cnt * 4;
	}
	while (n)
		h = path_step(h, tok[--n]);
	*out = h;
	return 0;
}

/* ---- the prefix table ---------------------------------------------------------------- */
static void
prefix_key(const struct bgp_prefix *p, uint64_t *k0, uint64_t *k1)
{
	memcpy(k0, p->addr, 8);
	memcpy(k1, p->addr + 8, 8);
}

void
lg_pent_prefix(const struct lg_pent *e, struct bgp_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->af = e->af;
	p->len = e->len;
	memcpy(p->addr, &e->k0, 8);
	memcpy(p->addr + 8, &e->k1, 8);
}

static int
table_grow(struct lg_table *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 1024, nmask = ncap * 2 - 1;
	struct lg_pent *ne = realloc(t->e, (size_t)ncap * sizeof(*ne));
	uint32_t *ns;

	if (!ne)
		return -1;
	t->e = ne;
	ns = calloc((size_t)nmask + 1, sizeof(*ns));
	if (!ns)
		return -1;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct lg_pent *e = &t->e[i];
		uint32_t s = (uint32_t)lg_key_hash(e->k0, e->k1, e->af, e->len) & nmask;
		while (ns[s])
			s = (s + 1) & nmask;
		ns[s] = i + 1;
	}
	free(t->slot);
	t->slot = ns;
	t->mask = nmask;
	t->cap = ncap;
	return 0;
}

int
lg_table_insert(struct lg_table *t, const struct bgp_prefix *p, uint32_t *idx, bool *fresh)
{
	uint64_t k0, k1;
	uint32_t s;

	if (t->n == t->cap && table_grow(t) < 0)
		return -1;
	prefix_key(p, &k0, &k1);
	s = (uint32_t)lg_key_hash(k0, k1, p->af, p->len) & t->mask;
	while (t->slot[s]) {
		const struct lg_pent *e = &t->e[t->slot[s] - 1];
		if (e->k0 == k0 && e->k1 == k1 && e->af == p->af && e->len == p->len) {
			*idx = t->slot[s] - 1;
			*fresh = false;
			return 0;
		}
		s = (s + 1) & t->mask;
	}
	memset(&t->e[t->n], 0, sizeof(t->e[0]));
	t->e[t->n].k0 = k0;
	t->e[t->n].k1 = k1;
	t->e[t->n].af = p->af;
	t->e[t->n].len = p->len;
	t->slot[s] = t->n + 1;
	*idx = t->n++;
	*fresh = true;
	return 0;
}

int64_t
lg_table_find_h(const struct lg_table *t, uint64_t k0, uint64_t k1, uint8_t af, uint8_t len,
                uint64_t h)
{
	uint32_t s;

	if (!t->n)
		return -1;
	s = (uint32_t)h & t->mask;
	while (t->slot[s]) {
		const struct lg_pent *e = &t->e[t->slot[s] - 1];
		if (e->k0 == k0 && e->k1 == k1 && e->af == af && e->len == len)
			return t->slot[s] - 1;
		s = (s + 1) & t->mask;
	}
	return -1;
}

int64_t
lg_table_find(const struct lg_table *t, const struct bgp_prefix *p)
{
	uint64_t k0, k1;

	prefix_key(p, &k0, &k1);
	return lg_table_find_h(t, k0, k1, p->af, p->len, lg_key_hash(k0, k1, p->af, p->len));
}

uint64_t
lg_pent_contrib(const struct lg_pent *e, uint32_t group)
{
	return lg_mix64(lg_key_hash(e->k0, e->k1, e->af, e->len) ^ lg_mix64(group + 1ull) ^ 0x5a17);
}

/* ---- model ------------------------------------------------------------------------------ */

/* The n-th usable source address from base: skip .0 and .255 host octets,
 * which some daemons refuse as neighbours. */
static uint32_t
addr_next(uint32_t a)
{
	do
		a++;
	while ((a & 0xff) == 0 || (a & 0xff) == 0xff);
	return a;
}

int
lg_model_init(struct lg_model *m, const struct lg_opts *o)
{
	uint32_t a;
	size_t len;
	struct bgp_sess s;
	struct bgp_update_spec spec = {.mp_unreach_af = -1};

	memset(m, 0, sizeof(*m));
	m->o = o;
	m->n_feeders = o->n_feeders;
	m->n_spokes = o->n_spokes;
	m->transparent = o->rs_transparent;
	m->rs_asn = o->rs_asn;
	m->ibgp_feeders = o->ibgp_feeders;
	m->local_pref = o->local_pref;
	m->feeders = calloc(o->n_feeders ? o->n_feeders : 1, sizeof(*m->feeders));
	if (!m->feeders)
		return -1;
	a = o->feeder_addr;
	if ((a & 0xff) == 0 || (a & 0xff) == 0xff)
		a = addr_next(a);
	for (uint32_t i = 0; i < o->n_feeders; i++) {
		struct lg_feeder *f = &m->feeders[i];
		f->idx = i;
		f->asn = o->feeder_asn + i * o->feeder_asn_step;
		f->addr = a;
		a = addr_next(a);
		f->nh4 = LG_NH4_BASE + i + 1;
		/* 2001:2::/48, RFC 5180 */
		f->nh6[0] = 0x20, f->nh6[1] = 0x01, f->nh6[3] = 0x02;
		f->nh6[12] = (uint8_t)((i + 1) >> 24), f->nh6[13] = (uint8_t)((i + 1) >> 16);
		f->nh6[14] = (uint8_t)((i + 1) >> 8), f->nh6[15] = (uint8_t)(i + 1);
	}
	/* End-of-RIB markers (RFC 4724 §2). */
	bgp_sess_init(&s);
	s.as4 = true;
	s.af[BGP_AF_IPV6] = 1;
	if (bgp_update_encode(&spec, &s, m->eor4, sizeof(m->eor4), &len) < 0)
		return -1;
	spec.mp_unreach_af = BGP_AF_IPV6;
	if (bgp_update_encode(&spec, &s, m->eor6, sizeof(m->eor6), &m->eor6_len) < 0)
		return -1;
	return 0;
}

/* ---- attribute sets ---------------------------------------------------------------- */

/* Canonical attributes (bgp_attrs_canon) of base with the feeder's part
 * applied: AS_PATH as given (an eBGP feeder's ASN prepended), next hop a
 * feeder's, iBGP-only attributes (LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST:
 * RFC 4271 §5.1.5, RFC 4456 §8) stripped; an iBGP feeder (local_pref set)
 * sends LOCAL_PREF, as every UPDATE to an internal peer must carry it, and
 * no ORIGINATOR_ID / CLUSTER_LIST: it originates the routes into its AS,
 * the route reflector adds them. */
static int
aset_canon(const struct bgp_attrs *base, uint8_t af, const uint8_t *path, size_t plen,
           const uint8_t *large, size_t large_len, const uint32_t *local_pref, uint8_t *out,
           size_t cap, size_t *len)
{
	struct bgp_update u;
	struct bgp_attrs *a = &u.attrs;

	memset(&u, 0, sizeof(u));
	*a = *base;
	a->mask &= ~((1ull << BGP_ATTR_LOCAL_PREF) | (1ull << BGP_ATTR_ORIGINATOR_ID) |
	             (1ull << BGP_ATTR_CLUSTER_LIST) | (1ull << BGP_ATTR_AS4_PATH) |
	             (1ull << BGP_ATTR_AS4_AGGREGATOR) | (1ull << BGP_ATTR_MP_REACH_NLRI) |
	             (1ull << BGP_ATTR_MP_UNREACH_NLRI) | (1ull << BGP_ATTR_NEXT_HOP) |
	             (1ull << BGP_ATTR_LARGE_COMMUNITY));
	a->mask |= 1ull << BGP_ATTR_AS_PATH;
	if (local_pref) {
		a->mask |= 1ull << BGP_ATTR_LOCAL_PREF;
		a->local_pref = *local_pref;
	}
	a->aspath.p = path;
	a->aspath.len = (uint16_t)plen;
	a->aspath_as4 = 1;
	a->as4path.p = NULL;
	a->as4path.len = 0;
	if (af == BGP_AF_IPV4) {
		a->mask |= 1ull << BGP_ATTR_NEXT_HOP;
		a->nexthop = htonl(LG_NH4_BASE + 1);
	} else {
		a->mask |= 1ull << BGP_ATTR_MP_REACH_NLRI;
		a->mp_af = BGP_AF_IPV6;
		a->mp_nh_len = 16;
		memset(a->mp_nh, 0, sizeof(a->mp_nh));
	}
	if (large_len) {
		a->mask |= 1ull << BGP_ATTR_LARGE_COMMUNITY;
		a->large_communities.p = large;
		a->large_communities.len = (uint16_t)large_len;
	}
	u.action = BGP_ACT_OK;
	return bgp_attrs_canon(&u, out, cap, len);
}

static int
aset_offsets(const uint8_t *c, size_t len, uint8_t af, bool own_asn, uint16_t *off_asn,
             uint16_t *off_nh)
{
	struct bgp_attr a;

	if (bgp_attr_find(c, len, BGP_ATTR_AS_PATH, &a) < 0 || (own_asn && a.len < 6))
		return -1;
	*off_asn = own_asn ? (uint16_t)(a.val - c + 2) : 0;
	if (af == BGP_AF_IPV4) {
		if (bgp_attr_find(c, len, BGP_ATTR_NEXT_HOP, &a) < 0 || a.len != 4)
			return -1;
		*off_nh = (uint16_t)(a.val - c);
	} else {
		if (bgp_attr_find(c, len, BGP_ATTR_MP_REACH_NLRI, &a) < 0 || a.len < 21)
			return -1;
		*off_nh = (uint16_t)(a.val - c + 4);
	}
	return 0;
}

int
lg_aset_add(struct lg_model *m, const struct bgp_attrs *base, uint8_t af, uint32_t *id)
{
	static uint8_t path[BGP_MAX_EXT_MSG + 8], large[BGP_MAX_EXT_MSG + 16];
	static uint8_t out[BGP_CANON_MAX];
	const uint8_t *bp = base->mask & (1ull << BGP_ATTR_AS_PATH) ? base->aspath.p : NULL;
	size_t bl = bp ? base->aspath.len : 0, plen, len, llen = 0;
	struct lg_aset *as;
	uint16_t so_asn, so_nh;
	const uint32_t *lp = m->ibgp_feeders ? &m->local_pref : NULL;

	if (m->n_asets == m->cap_asets) {
		uint32_t nc = m->cap_asets ? m->cap_asets * 2 : 64;
		struct lg_aset *n = realloc(m->asets, nc * sizeof(*n));
		if (!n)
			return -1;
		m->asets = n;
		m->cap_asets = nc;
	}
	as = &m->asets[m->n_asets];
	memset(as, 0, sizeof(*as));
	if (bl && !base->aspath_as4)
		return -1; /* callers hand over 4-octet paths (canonical form) */
	if (lg_path_hash(bp, bl, &as->hbase) < 0)
		return -1;
	/* Prepend the feeder's ASN (RFC 4271 §5.1.2): into the first segment if
	 * it is an AS_SEQUENCE with room, else as a new segment. An iBGP feeder
	 * does not: it advertises to its own AS (§5.1.2 b), the path as is. */
	if (m->ibgp_feeders) {
		if (bl)
			memcpy(path, bp, bl);
		plen = bl;
	} else if (bl >= 2 && bp[0] == BGP_ASPATH_SEQUENCE && bp[1] < 255) {
		path[0] = BGP_ASPATH_SEQUENCE;
		path[1] = (uint8_t)(bp[1] + 1);
		memset(path + 2, 0, 4);
		memcpy(path + 6, bp + 2, bl - 2);
		plen = bl + 4;
	} else {
		path[0] = BGP_ASPATH_SEQUENCE;
		path[1] = 1;
		memset(path + 2, 0, 4);
		if (bl)
			memcpy(path + 6, bp, bl);
		plen = bl + 6;
	}
	if (plen > 0xffff)
		return -1;
	if (base->mask & (1ull << BGP_ATTR_LARGE_COMMUNITY)) {
		llen = base->large_communities.len;
		memcpy(large, base->large_communities.p, llen);
	}
	if (aset_canon(base, af, path, plen, large, llen, lp, out, sizeof(out), &len) < 0 ||
	    len > 0xffff)
		return -1;
	as->canon = malloc(len);
	if (!as->canon)
		return -1;
	memcpy(as->canon, out, len);
	as->len = (uint16_t)len;
	as->af = af;
	as->nh_len = af == BGP_AF_IPV4 ? 4 : 16;
	if (aset_offsets(as->canon, len, af, !m->ibgp_feeders, &as->off_asn, &as->off_nh) < 0)
		goto fail;
	/* The timestamped variant: one more large community. */
	{
		uint8_t *l = large + llen;
		uint32_t v[3] = {htonl(LG_STAMP_GA), htonl(LG_STAMP_PH1), htonl(LG_STAMP_PH2)};
		memcpy(l, v, 12);
	}
	if (aset_canon(base, af, path, plen, large, llen + 12, lp, out, sizeof(out), &len) < 0 ||
	    len > 0xffff)
		goto fail;
	as->scanon = malloc(len);
	if (!as->scanon)
		goto fail;
	memcpy(as->scanon, out, len);
	as->slen = (uint16_t)len;
	if (aset_offsets(as->scanon, len, af, !m->ibgp_feeders, &so_asn, &so_nh) < 0 ||
	    so_asn != as->off_asn || so_nh != as->off_nh)
		goto fail;
	*id = m->n_asets++;
	return 0;
fail:
	free(as->canon);
	free(as->scanon);
	return -1;
}

/* Attributes of aset for feeder f into out (cap >= len). */
size_t
lg_aset_render(const struct lg_aset *as, const struct lg_feeder *f, bool stamped, uint8_t *out)
{
	size_t len = stamped ? as->slen : as->len;
	uint32_t v;

	memcpy(out, stamped ? as->scanon : as->canon, len);
	if (as->off_asn) {
		v = htonl(f->asn);
		memcpy(out + as->off_asn, &v, 4);
	}
	if (as->af == BGP_AF_IPV4) {
		v = htonl(f->nh4);
		memcpy(out + as->off_nh, &v, 4);
	} else {
		memcpy(out + as->off_nh, f->nh6, 16);
	}
	return len;
}

/* ---- synthetic workload ---------------------------------------------------------------- */
static inline uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return lg_mix64(*s);
}

/* Does a/l overlap r/rl (one contains the other)? */
static bool
v4_overlaps(uint32_t a, unsigned l, uint32_t r, unsigned rl)
{
	unsigned k = l < rl ? l : rl;

	return k == 0 || (a >> (32 - k)) == (r >> (32 - k));
}

/* Prefixes the workload never announces: special-use space (RFC 6890),
 * and anything overlapping the next-hop range or loopback, so that no
 * daemon resolves a next hop through a route of the workload. */
static bool
v4_reserved(uint32_t a, unsigned l)
{
	uint8_t o = (uint8_t)(a >> 24);

	return o == 0 || o == 10 || o >= 224 || v4_overlaps(a, l, 0x7f000000u, 8) ||
	       v4_overlaps(a, l, LG_NH4_BASE, 15) || v4_overlaps(a, l, 0xa9fe0000u, 16) ||
	       v4_overlaps(a, l, 0xac100000u, 12) || v4_overlaps(a, l, 0xc0a80000u, 16);
}

static uint8_t
pick_len(const uint32_t mix[33], uint32_t total, uint64_t r)
{
	uint32_t x = (uint32_t)(r % total);

	for (int l = 0; l <= 32; l++) {
		if (x < mix[l])
			return (uint8_t)l;
		x -= mix[l];
	}
	return 24;
}

/* IPv6 lengths: mostly /48 and /32..44, as in the global table. */
static const uint32_t v6_mix[129] = {[48] = 60, [32] = 10, [36] = 5, [40] = 8, [44] = 12, [29] = 5};

static void
gen_prefix(uint64_t *rs, bool v6, const uint32_t *mix4, uint32_t t4, struct bgp_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (!v6) {
		uint32_t a;
		uint8_t l = pick_len(mix4, t4, rng_next(rs));
		do
			a = (uint32_t)rng_next(rs) & (l ? 0xffffffffu << (32 - l) : 0);
		while (v4_reserved(a, l));
		a = htonl(a);
		p->af = BGP_AF_IPV4;
		p->len = l;
		memcpy(p->addr, &a, 4);
	} else {
		uint32_t x = (uint32_t)(rng_next(rs) % 100);
		uint64_t hi;
		uint8_t l = 48;
		for (int i = 0; i <= 128; i++) {
			if (x < v6_mix[i]) {
				l = (uint8_t)i;
				break;
			}
			x -= v6_mix[i];
		}
		/* 2000::/3, nothing overlapping the next-hop range 2001:2::/48 */
		do {
			hi = (rng_next(rs) & 0x1fffffffffffffffull) | 0x2000000000000000ull;
			hi &= l >= 64 ? ~0ull : ~0ull << (64 - l);
		} while ((hi >> (64 - (l < 48 ? l : 48))) ==
		         (0x2001000200000000ull >> (64 - (l < 48 ? l : 48))));
		p->af = BGP_AF_IPV6;
		p->len = l;
		for (int i = 0; i < 8; i++)
			p->addr[i] = (uint8_t)(hi >> (56 - 8 * i));
	}
}

/* ASNs of the synthetic paths: [1000, 60000), never the route server's,
 * a feeder's or a spoke's (RFC 4271 §9.1.2: a receiver drops its own ASN). */
static uint32_t
gen_asn(const struct lg_opts *o, uint64_t *rs)
{
	uint32_t a;

	do
		a = 1000 + (uint32_t)(rng_next(rs) % 59000);
	while (a == 23456 || (!o->rs_transparent && a == o->rs_asn) ||
	       (a >= o->feeder_asn && a <= o->feeder_asn + o->n_feeders * o->feeder_asn_step) ||
	       (a >= o->spoke_asn && a <= o->spoke_asn + o->n_spokes * o->spoke_asn_step));
	return a;
}

static int
synth_asets(struct lg_model *m)
{
	const struct lg_opts *o = m->o;
	uint8_t path[4 + 4 * 256], comm[4 * 500], large[12 * 300];
	uint32_t id, nsets = o->attr_sets;

	for (uint32_t af = 0; af < (o->v6_pct ? 2u : 1u); af++) {
		for (uint32_t k = 0; k < nsets; k++) {
			struct bgp_attrs a;
			uint64_t rs = o->seed * 1000003u + k;
			/* --aspath-len is the path as the feeder sends it: an eBGP
			 * feeder's ASN comes first (lg_aset_add), an iBGP feeder's
			 * not at all. */
			uint32_t n = o->aspath_len - (o->ibgp_feeders ? 0 : 1), v;
			memset(&a, 0, sizeof(a));
			a.mask = 1ull << BGP_ATTR_ORIGIN | 1ull << BGP_ATTR_AS_PATH;
			a.origin = BGP_ORIGIN_IGP;
			if (n > 255)
				n = 255;
			path[0] = BGP_ASPATH_SEQUENCE;
			path[1] = (uint8_t)n;
			for (uint32_t j = 0; j < n; j++) {
				v = htonl(gen_asn(o, &rs));
				memcpy(path + 2 + 4 * j, &v, 4);
			}
			a.aspath.p = path;
			a.aspath.len = n ? (uint16_t)(2 + 4 * n) : 0;
			a.aspath_as4 = 1;
			if (o->communities) {
				for (uint32_t j = 0; j < o->communities; j++) {
					v = htonl((65000u + k % 500) << 16 | (j + 1));
					memcpy(comm + 4 * j, &v, 4);
				}
				a.mask |= 1ull << BGP_ATTR_COMMUNITIES;
				a.communities.p = comm;
				a.communities.len = (uint16_t)(4 * o->communities);
			}
			if (o->large_comms) {
				for (uint32_t j = 0; j < o->large_comms; j++) {
					uint32_t w[3] = {htonl(4200000000u), htonl(k),
					                 htonl(j + 1)};
					memcpy(large + 12 * j, w, 12);
				}
				a.mask |= 1ull << BGP_ATTR_LARGE_COMMUNITY;
				a.large_communities.p = large;
				a.large_communities.len = (uint16_t)(12 * o->large_comms);
			}
			if (lg_aset_add(m, &a, (uint8_t)af, &id) < 0) {
				fprintf(stderr,
				        "routehub-loadgen: attribute set %u does not encode "
				        "(too many communities?)\n",
				        k);
				return -1;
			}
		}
	}
	return 0;
}

int
lg_groups_alloc(struct lg_model *m, uint32_t n_groups, uint32_t size)
{
	m->n_groups = n_groups;
	m->groups = calloc(n_groups ? n_groups : 1, sizeof(*m->groups));
	if (!m->groups)
		return -1;
	for (uint32_t g = 0; g < n_groups; g++) {
		m->groups[g].first = g * size;
		m->groups[g].count = size;
		for (uint32_t i = 0; i < size; i++)
			m->feeders[g * size + i].group = g;
	}
	return 0;
}

int
lg_model_synth(struct lg_model *m)
{
	const struct lg_opts *o = m->o;
	uint32_t n_groups = o->n_feeders / o->overlap, per = o->prefixes, t4 = 0, K = o->attr_sets;
	uint64_t rs = o->seed ^ 0x5eed5eedull, tries;
	uint32_t *cnt;

	if (lg_groups_alloc(m, n_groups, o->overlap) < 0 || synth_asets(m) < 0)
		return -1;
	for (int l = 0; l <= 32; l++)
		t4 += o->len_mix[l];
	m->has_v6 = o->v6_pct > 0;
	m->gpfx = malloc(((size_t)n_groups * per + 1) * sizeof(*m->gpfx));
	cnt = calloc((size_t)2 * K + 1, sizeof(*cnt));
	if (!m->gpfx || !cnt)
		return -1;
	for (uint32_t g = 0; g < n_groups; g++) {
		struct lg_group *gr = &m->groups[g];
		uint32_t *list = m->gpfx + (size_t)g * per;
		gr->pfx_off = g * per;
		gr->n_pfx = per;
		gr->n_final = per;
		memset(cnt, 0, ((size_t)2 * K + 1) * sizeof(*cnt));
		for (uint32_t i = 0; i < per; i++) {
			struct bgp_prefix p;
			uint32_t idx;
			bool fresh = false, v6 = o->v6_pct && rng_next(&rs) % 100 < o->v6_pct;
			for (tries = 0; !fresh; tries++) {
				if (tries > 1000) {
					fprintf(
					    stderr,
					    "routehub-loadgen: cannot find %u distinct prefixes "
					    "with this --len-mix\n",
					    per * n_groups);
					free(cnt);
					return -1;
				}
				gen_prefix(&rs, v6, o->len_mix, t4, &p);
				if (lg_table_insert(&m->tab, &p, &idx, &fresh) < 0) {
					free(cnt);
					return -1;
				}
			}
			m->tab.e[idx].group = g;
			/* Consecutive prefixes share a set, so that UPDATEs carry many. */
			m->tab.e[idx].aset = (uint32_t)((uint64_t)i * K / per) + (v6 ? K : 0);
			m->tab.e[idx].final = 1;
			cnt[m->tab.e[idx].aset + 1]++;
		}
		/* Announce order: grouped by attribute set (counting sort). */
		for (uint32_t k = 1; k <= 2 * K; k++)
			cnt[k] += cnt[k - 1];
		/* This group's entries are the last ones inserted. */
		for (uint32_t i = m->tab.n - per; i < m->tab.n; i++)
			list[cnt[m->tab.e[i].aset]++] = i;
	}
	free(cnt);
	for (uint32_t i = 0; i < m->tab.n; i++) {
		struct lg_pent *e = &m->tab.e[i];
		e->contrib = lg_pent_contrib(e, e->group) ^ m->asets[e->aset].hbase;
	}
	return 0;
}

/* ---- encoding ---------------------------------------------------------------------------- */
uint8_t *
lg_sbuf_reserve(struct lg_sbuf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 65536;
		uint8_t *np;
		while (nc < b->len + n)
			nc *= 2;
		np = realloc(b->p, nc);
		if (!np)
			return NULL;
		b->p = np;
		b->cap = nc;
	}
	return b->p + b->len;
}

void
lg_enc_sess(const struct lg_model *m, struct bgp_sess *s)
{
	bgp_sess_init(s);
	s->as4 = true;
	s->ext_msg = m->o->extmsg;
	s->af[BGP_AF_IPV4] = 1;
	s->af[BGP_AF_IPV6] = 1;
}

/* Announce n prefixes of one family with attributes attrs: as many UPDATEs
 * as it takes, each as full as the message size (or --max-per-update) lets. */
int
lg_emit_announce(const struct lg_model *m, struct lg_sbuf *b, const uint8_t *attrs, size_t alen,
                 uint8_t af, const struct bgp_prefix *pfx, size_t n)
{
	struct bgp_sess s;
	size_t max, fixed, i = 0;
	uint32_t maxpu = m->o->max_per_update ? m->o->max_per_update : UINT32_MAX;

	lg_enc_sess(m, &s);
	max = bgp_sess_max_msg(&s);
	fixed = BGP_UPDATE_MIN_LEN + alen + (af == BGP_AF_IPV6 ? 1 : 0);
	while (i < n) {
		struct bgp_update_spec spec = {
		    .mp_unreach_af = -1, .attrs = attrs, .attrs_len = alen};
		size_t k = 0, used = fixed, len;
		uint8_t *d;
		while (i + k < n && k < maxpu) {
			size_t pl = bgp_prefix_wire_len(&pfx[i + k], &s);
			if (used + pl > max)
				break;
			used += pl;
			k++;
		}
		for (;;) {
			if (k == 0)
				return -1; /* the attributes alone fill a message */
			if (af == BGP_AF_IPV4)
				spec.nlri = pfx + i, spec.n_nlri = k;
			else
				spec.mp_reach = pfx + i, spec.n_mp_reach = k;
			d = lg_sbuf_reserve(b, max);
			if (!d)
				return -1;
			if (bgp_update_encode(&spec, &s, d, max, &len) == 0)
				break;
			k--;
		}
		b->len += len;
		b->n++;
		b->npfx += k;
		i += k;
	}
	return 0;
}

int
lg_emit_withdraw(const struct lg_model *m, struct lg_sbuf *b, uint8_t af,
                 const struct bgp_prefix *pfx, size_t n)
{
	struct bgp_sess s;
	size_t max, fixed, i = 0;
	uint32_t maxpu = m->o->max_per_update ? m->o->max_per_update : UINT32_MAX;

	lg_enc_sess(m, &s);
	max = bgp_sess_max_msg(&s);
	fixed = BGP_UPDATE_MIN_LEN + (af == BGP_AF_IPV6 ? 7 : 0);
	while (i < n) {
		struct bgp_update_spec spec = {.mp_unreach_af = -1};
		size_t k = 0, used = fixed, len;
		uint8_t *d;
		while (i + k < n && k < maxpu) {
			size_t pl = bgp_prefix_wire_len(&pfx[i + k], &s);
			if (used + pl > max)
				break;
			used += pl;
			k++;
		}
		if (k == 0)
			return -1;
		if (af == BGP_AF_IPV4) {
			spec.withdrawn = pfx + i;
			spec.n_withdrawn = k;
		} else {
			spec.mp_unreach = pfx + i;
			spec.n_mp_unreach = k;
			spec.mp_unreach_af = BGP_AF_IPV6;
		}
		d = lg_sbuf_reserve(b, max);
		if (!d || bgp_update_encode(&spec, &s, d, max, &len) < 0)
			return -1;
		b->len += len;
		b->n++;
		b->npfx += k;
		i += k;
	}
	return 0;
}

/* Runs of the group's final prefixes that share attribute set and family. */
struct run_iter {
	const struct lg_model *m;
	const struct lg_group *g;
	uint32_t pos;
	struct bgp_prefix *buf;
};

static size_t
run_next(struct run_iter *it, uint32_t *aset, size_t maxn)
{
	const struct lg_table *t = &it->m->tab;
	const uint32_t *list = it->m->gpfx + it->g->pfx_off;
	size_t n = 0;

	while (it->pos < it->g->n_pfx && !t->e[list[it->pos]].final)
		it->pos++;
	if (it->pos >= it->g->n_pfx)
		return 0;
	*aset = t->e[list[it->pos]].aset;
	while (it->pos < it->g->n_pfx && n < maxn) {
		const struct lg_pent *e = &t->e[list[it->pos]];
		if (!e->final) {
			it->pos++;
			continue;
		}
		if (e->aset != *aset)
			break;
		lg_pent_prefix(e, &it->buf[n++]);
		it->pos++;
	}
	return n;
}

static int
encode_feeder(struct lg_model *m, struct lg_feeder *f, uint32_t churn_batch)
{
	const struct lg_group *g = &m->groups[f->group];
	struct bgp_prefix *buf = malloc(((size_t)g->n_pfx + 1) * sizeof(*buf));
	uint8_t attrs[BGP_MAX_EXT_MSG];
	struct lg_sbuf ann = {0}, wd = {0}, ch = {0};
	struct run_iter it = {m, g, 0, buf};
	struct lg_churn *c = &f->churn;
	uint32_t aset, cap_ch = 0;
	size_t n, alen;
	int rc = -1;

	if (!buf)
		return -1;
	/* Announcements (synthetic; a replay brings its own stream). */
	if (!m->o->replay) {
		while ((n = run_next(&it, &aset, SIZE_MAX)) > 0) {
			alen = lg_aset_render(&m->asets[aset], f, false, attrs);
			if (lg_emit_announce(m, &ann, attrs, alen, m->asets[aset].af, buf, n) < 0)
				goto out;
		}
		f->ann.buf = ann.p, f->ann.len = ann.len, f->ann.n_msgs = ann.n;
		f->ann.n_pfx = ann.npfx;
		ann.p = NULL;
	} else if (lg_replay_encode(m, f) < 0) {
		goto out;
	}
	/* Withdrawal of everything held at the end, IPv4 then IPv6. */
	for (uint8_t af = 0; af < BGP_AF_MAX; af++) {
		const uint32_t *list = m->gpfx + g->pfx_off;
		size_t k = 0;
		for (uint32_t i = 0; i < g->n_pfx; i++) {
			const struct lg_pent *e = &m->tab.e[list[i]];
			if (e->final && e->af == af)
				lg_pent_prefix(e, &buf[k++]);
		}
		if (k && lg_emit_withdraw(m, &wd, af, buf, k) < 0)
			goto out;
	}
	f->wd.buf = wd.p, f->wd.len = wd.len, f->wd.n_msgs = wd.n, f->wd.n_pfx = wd.npfx;
	wd.p = NULL;
	/* Churn: re-announcements of churn_batch prefixes with a timestamp. */
	if (churn_batch) {
		struct bgp_sess s;
		lg_enc_sess(m, &s);
		it.pos = 0;
		while (c->n < m->o->churn_pool && (n = run_next(&it, &aset, churn_batch)) > 0) {
			struct bgp_update_spec spec = {.mp_unreach_af = -1, .attrs = attrs};
			const struct lg_aset *as = &m->asets[aset];
			const uint32_t ph[3] = {htonl(LG_STAMP_GA), htonl(LG_STAMP_PH1),
			                        htonl(LG_STAMP_PH2)};
			uint8_t *d, *at;
			size_t len;
			spec.attrs_len = lg_aset_render(as, f, true, attrs);
			if (as->af == BGP_AF_IPV4)
				spec.nlri = buf, spec.n_nlri = n;
			else
				spec.mp_reach = buf, spec.n_mp_reach = n;
			if (c->n == cap_ch) {
				cap_ch = cap_ch ? cap_ch * 2 : 1024;
				c->off = realloc(c->off, cap_ch * sizeof(*c->off));
				c->mlen = realloc(c->mlen, cap_ch * sizeof(*c->mlen));
				c->stamp_off =
				    realloc(c->stamp_off, cap_ch * sizeof(*c->stamp_off));
				c->npfx = realloc(c->npfx, cap_ch * sizeof(*c->npfx));
				if (!c->off || !c->mlen || !c->stamp_off || !c->npfx)
					goto out;
			}
			d = lg_sbuf_reserve(&ch, bgp_sess_max_msg(&s));
			if (!d || bgp_update_encode(&spec, &s, d, bgp_sess_max_msg(&s), &len) < 0) {
				fprintf(stderr,
				        "routehub-loadgen: churn batch %u does not fit in one "
				        "UPDATE\n",
				        churn_batch);
				goto out;
			}
			at = memmem(d, len, ph, 12);
			if (!at)
				goto out;
			c->off[c->n] = (uint32_t)ch.len;
			c->mlen[c->n] = (uint16_t)len;
			c->stamp_off[c->n] = (uint16_t)(at - d + 4);
			c->npfx[c->n] = (uint16_t)n;
			c->n++;
			ch.len += len;
		}
		c->buf = ch.p, c->len = ch.len;
		ch.p = NULL;
	}
	rc = 0;
out:
	free(ann.p);
	free(wd.p);
	free(ch.p);
	free(buf);
	return rc;
}

int
lg_model_encode(struct lg_model *m)
{
	uint32_t batch = 0;

	for (size_t i = 0; i < m->o->n_phases; i++) {
		const struct lg_phase *ph = &m->o->phases[i];
		if (ph->kind != LG_PH_CHURN)
			continue;
		if (batch && ph->batch != batch) {
			fprintf(stderr,
			        "routehub-loadgen: churn phases must share one batch= value "
			        "(churn messages are encoded in advance)\n");
			return -1;
		}
		batch = ph->batch;
	}
	for (uint32_t i = 0; i < m->n_feeders; i++) {
		if (encode_feeder(m, &m->feeders[i], batch) < 0) {
			fprintf(stderr,
			        "routehub-loadgen: encoding the streams of feeder %u failed\n", i);
			return -1;
		}
	}
	return 0;
}

void
lg_expect_compute(const struct lg_model *m, const uint8_t *held, uint32_t *present,
                  uint64_t *digest)
{
	uint32_t p = 0;
	uint64_t d = 0;

	for (uint32_t g = 0; g < m->n_groups; g++) {
		const struct lg_group *gr = &m->groups[g];
		const uint32_t *list = m->gpfx + gr->pfx_off;
		bool any = false;
		for (uint32_t i = 0; i < gr->count; i++)
			any |= held[gr->first + i] != 0;
		if (!any)
			continue;
		for (uint32_t i = 0; i < gr->n_pfx; i++) {
			const struct lg_pent *e = &m->tab.e[list[i]];
			if (!e->final)
				continue;
			p++;
			d += e->contrib;
		}
	}
	*present = p;
	*digest = d;
}

void
lg_model_fini(struct lg_model *m)
{
	for (uint32_t i = 0; i < m->n_feeders; i++) {
		struct lg_feeder *f = &m->feeders[i];
		free(f->ann.buf);
		free(f->mann.buf);
		free(f->wd.buf);
		free(f->churn.buf);
		free(f->churn.off);
		free(f->churn.mlen);
		free(f->churn.stamp_off);
		free(f->churn.npfx);
	}
	for (uint32_t i = 0; i < m->n_asets; i++) {
		free(m->asets[i].canon);
		free(m->asets[i].scanon);
	}
	free(m->asets);
	free(m->feeders);
	free(m->groups);
	free(m->gpfx);
	free(m->alts);
	free(m->tab.e);
	free(m->tab.slot);
	for (int i = 0; i < 2; i++) {
		free(m->exp.inactive[i]);
		free(m->exp.ssel[i]);
	}
	lg_replay_fini();
}
