/*
 * spoke.c — receive-side verification: what a spoke holds, checked route by
 * route as UPDATEs arrive, and compared with the published expectation.
 *
 * Runs on the worker thread that owns the spoke's session. Nothing is
 * allocated per prefix: the state is one uint16_t per workload prefix (which
 * feeder the current route came from, or LG_ST_CORRUPT) and one counter per
 * feeder, both allocated when the spoke is created.
 *
 * Receiving is in two steps. rx_decode decodes an UPDATE and verifies every
 * route in it into ops (this prefix now holds that feeder's route, a wrong
 * route, or nothing), which depend only on the bytes and the session's
 * parameters; rx_apply applies ops to one spoke's state and counters. A
 * route server sends the same bytes to every member of an update group, so
 * a thread keeps the ops of the UPDATEs it decoded (lg_rxcache, compared in
 * full) and a spoke that receives the same bytes only applies them: the
 * outcome is the same as decoding them again, at a few ns per route instead
 * of ~80. What logs (a wrong route, treat-as-withdraw) is never shared.
 *
 * A received route is correct when (work.c states the rule): its prefix is
 * in the workload, its next hop is a feeder's (198.18.0.0/15 or 2001:2::/48,
 * see lg.h), that feeder belongs to the prefix's group, and its AS path hashes
 * (lg_path_hash) to the route server's ASN (unless transparent, or the spoke
 * is iBGP) + the feeder's ASN (unless iBGP) + the attribute set's path. The
 * routes of iBGP feeders must also carry what a route reflector sends
 * (reflect_wrong): to an iBGP spoke the feeder's LOCAL_PREF, ORIGINATOR_ID
 * the feeder's BGP Identifier and CLUSTER_LIST the route server's CLUSTER_ID;
 * to an eBGP spoke none of the three. Anything else is counted as corrupt
 * and fails the run.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lg.h"

#define RLOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define RSTORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define RADD(x, v)   RSTORE(x, RLOAD(x) + (v)) /* single writer: the owner thread */

int
lg_spoke_init(struct lg_spoke *sp, const struct lg_model *m)
{
	memset(sp, 0, sizeof(*sp));
	sp->state = calloc(m->tab.n ? m->tab.n : 1, sizeof(*sp->state));
	sp->cnt_from = calloc(m->n_feeders ? m->n_feeders : 1, sizeof(*sp->cnt_from));
	if (!sp->state || !sp->cnt_from)
		return -1;
	/* Touch every page now, before the clock: a large calloc is mapped
	 * lazily, and the first write to each page would fault while routes
	 * are counted. */
	for (size_t i = 0; i < m->tab.n; i += 4096 / sizeof(*sp->state))
		((volatile uint16_t *)sp->state)[i] = 0;
	return 0;
}

void
lg_spoke_fini(struct lg_spoke *sp)
{
	free(sp->state);
	free(sp->cnt_from);
}

/* Looking prefixes up in the workload table, a chunk at a time. Streams
 * in table order (feeders announce in that order, the mirror and some
 * route servers keep it) are served by trying the entry after the previous
 * prefix first. Other orders cost two dependent cache misses per prefix (the
 * slot, then the entry): for them every key of the chunk is hashed and its
 * slot prefetched, then each slot read and its entry prefetched, before the
 * first is compared, so that the misses overlap. Which of the two a chunk
 * does follows from how the previous chunk went. */
#define LK_CHUNK 32

struct lk_key {
	struct bgp_prefix p;
	uint64_t k0, k1, h;
};

struct lk_run {
	int64_t last; /* table index of the previous prefix */
	bool seq;     /* the previous chunk came in table order */
};

static void
lookup_chunk(const struct lg_table *t, struct lk_key *k, uint32_t n, int64_t *idx,
             struct lk_run *st)
{
	uint32_t hits = 0;

	if (!st->seq && t->n) {
		for (uint32_t i = 0; i < n; i++) {
			k[i].h = lg_key_hash(k[i].k0, k[i].k1, k[i].p.af, k[i].p.len);
			__builtin_prefetch(&t->slot[k[i].h & t->mask]);
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t sl = t->slot[k[i].h & t->mask];
			if (sl)
				__builtin_prefetch(&t->e[sl - 1]);
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t g = (uint32_t)(st->last + 1);
		const struct lg_pent *e = g < t->n ? &t->e[g] : NULL;
		if (e && e->k0 == k[i].k0 && e->k1 == k[i].k1 && e->len == k[i].p.len &&
		    e->af == k[i].p.af) {
			idx[i] = g;
			hits++;
		} else {
			if (st->seq)
				k[i].h = lg_key_hash(k[i].k0, k[i].k1, k[i].p.af, k[i].p.len);
			idx[i] =
			    lg_table_find_h(t, k[i].k0, k[i].k1, k[i].p.af, k[i].p.len, k[i].h);
		}
		if (idx[i] >= 0)
			st->last = idx[i];
	}
	st->seq = hits * 2 > n;
}

/* The next chunk of prefixes of an NLRI run; the count (0 at the end). */
static uint32_t
lk_next(const struct bgp_nlri *nl, size_t *pos, struct lk_key *k)
{
	uint32_t n = 0;

	while (n < LK_CHUNK && bgp_nlri_next(nl, pos, &k[n].p) == 1) {
		memcpy(&k[n].k0, k[n].p.addr, 8);
		memcpy(&k[n].k1, k[n].p.addr + 8, 8);
		n++;
	}
	return n;
}

/* Feeder index of a next hop, -1 if it is nobody's. */
static int64_t
nh_feeder(const struct lg_model *m, const struct bgp_attrs *a, uint8_t af)
{
	uint32_t v;

	if (af == BGP_AF_IPV4) {
		if (!(a->mask & (1ull << BGP_ATTR_NEXT_HOP)))
			return -1;
		v = ntohl(a->nexthop) - LG_NH4_BASE - 1;
	} else {
		static const uint8_t pfx[12] = {0x20, 0x01, 0, 0x02};
		if (a->mp_nh_len < 16 || memcmp(a->mp_nh, pfx, 12))
			return -1;
		v = ((uint32_t)a->mp_nh[12] << 24 | (uint32_t)a->mp_nh[13] << 16 |
		     (uint32_t)a->mp_nh[14] << 8 | a->mp_nh[15]) -
		    1;
	}
	return v < m->n_feeders ? (int64_t)v : -1;
}

/* ---- what an UPDATE does: verified ops ------------------------------------------------ */

/* Where a spoke keeps the state of a prefix. A thread that shares verified
 * UPDATEs between its spokes hands out positions in the order it first
 * receives prefixes (lg_rxcache.pos), and its spokes index their state by
 * position: a route server sends every member of an update group the same
 * UPDATEs, so the prefixes of one UPDATE sit together in the state of every
 * spoke, whatever order the route server sends them in. The prefix's digest
 * term and finality are kept by position too (contrib, final). A thread
 * that does not share indexes by table entry. */

/* The verified effect of one received prefix: its state becomes nv (0:
 * withdrawn, feeder + 1, with LG_ST_OLD, or LG_ST_CORRUPT). The entry's
 * digest term and finality come along, so that applying reads no table. */
struct rx_op {
	uint64_t contrib;
	uint32_t pos;
	uint16_t nv;
	uint8_t final;
	uint8_t pad;
};

/* Ops sorted by position and merged: n consecutive positions from pos that
 * all become nv, with the sum of their digest terms and how many of them
 * are final (present once the feeders' streams are done). */
struct rx_run {
	uint64_t sum;
	uint32_t pos, n, n_final;
	uint16_t nv;
	uint16_t pad;
};

/* What an UPDATE does to any spoke of the same session context, whatever
 * that spoke holds: its ops in message order (announcements of NLRI and
 * MP_REACH_NLRI, then withdrawals) or as runs, and counts. Depends only on
 * the bytes, the session context (rx_ctx) and the read-only model, which is
 * what makes it shareable between the spokes of a thread (lg_rxcache). */
struct rx_res {
	struct rx_op *ops;
	uint32_t nops;
	struct rx_run *runs;
	uint32_t nruns;
	uint32_t n_ann;        /* announcements, unknown prefixes included */
	uint32_t n_unknown;    /* announcements of prefixes not in the workload */
	uint32_t n_wd_unknown; /* withdrawals of prefixes not in the workload */
	uint32_t n_pfx;        /* bgp_update_nprefixes */
	uint32_t n_wrong;      /* ops with LG_ST_CORRUPT */
	uint32_t n_taw;        /* 1 if treated as withdraw (RFC 7606) */
	uint64_t stamp;        /* churn send time of stamped announcements, 0 if none */
};

/* A result kept for the thread's other spokes: the message it is for (bytes
 * compared in full), and the result as runs. */
struct rxc_ent {
	uint64_t h;
	uint32_t len;
	uint64_t ctx;
	size_t size;
	struct rx_res r; /* r.runs points into this allocation, r.ops is NULL */
	uint8_t *msg;
};

struct rxc_slot {
	uint64_t h;
	struct rxc_ent *e;
};

/* Per worker thread (lg_worker.rxc): the positions, the scratch result of
 * the UPDATE being decoded, and the cache of shareable results. */
struct lg_rxcache {
	/* if on: */
	uint32_t *pos;     /* per table entry: position + 1, 0 = none yet */
	uint64_t *contrib; /* per position: the prefix's digest term */
	uint8_t *final;    /* per position: the prefix is final */
	uint32_t npos;
	struct rx_res scratch;
	uint64_t *keys; /* sorting scratch */
	/* the cache (if on): RXC_WAYS-way set-associative (a full set loses
	 * the way tick points at), bounded in bytes */
	bool on;
	uint32_t mask; /* of the set index */
	size_t bytes;
	uint64_t tick;
	struct rxc_slot *slot; /* the hash beside the entry: a set is one cache line */
	uint64_t n_miss, n_put, n_replaced, n_clear; /* for -v */
};

#define RXC_SLOTS  16384u /* in sets of RXC_WAYS */
#define RXC_WAYS   4u
#define RXC_BUDGET (48u << 20)

/* A result may be reused by another spoke only if applying it is all the
 * spoke would have done: anything that logs (a wrong route, a treat-as-
 * withdraw, an unknown prefix that is an error) is verified by each spoke
 * on its own, so that every spoke reports its own. */
static bool
res_shareable(const struct lg_model *m, const struct rx_res *r)
{
	return !r->n_wrong && !r->n_taw && (!r->n_unknown || m->o->ignore_unknown);
}

static inline void
op_push(struct lg_rxcache *c, const struct lg_pent *e, uint32_t idx, uint16_t nv)
{
	struct rx_op *o = &c->scratch.ops[c->scratch.nops++];
	uint32_t pos = idx;

	if (c->on) {
		pos = c->pos[idx];
		if (!pos) {
			pos = c->pos[idx] = ++c->npos;
			c->contrib[pos - 1] = e->contrib;
			c->final[pos - 1] = e->final;
		}
		pos--;
	}
	o->contrib = e->contrib;
	o->pos = pos;
	o->nv = nv;
	o->final = e->final;
	o->pad = 0;
}

static _Atomic uint32_t corrupt_lines;

static void
corrupt_log(struct lg_sess *s, const struct bgp_prefix *p, const char *why, int64_t f)
{
	char a[64], pfx[80];

	/* A few lines, not one per route and spoke. */
	if (s->sp->corrupt_logged >= 3 ||
	    atomic_fetch_add_explicit(&corrupt_lines, 1, memory_order_relaxed) >= 10)
		return;
	s->sp->corrupt_logged++;
	inet_ntop(p->af == BGP_AF_IPV4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(pfx, sizeof(pfx), "%s/%u", a, p->len);
	fprintf(stderr,
	        "routehub-loadgen: spoke %u: wrong route for %s: %s (next hop of feeder %lld)\n",
	        s->idx, pfx, why, (long long)f);
}

/* The AS path hash a spoke expects for attribute set aset of a feeder with
 * ASN asn: the set's path, behind the feeder's ASN if it is external, behind
 * the route server's if it prepends. */
static inline uint64_t
want_path(const struct lg_model *m, uint32_t aset, uint32_t asn, bool prepend)
{
	uint64_t h = m->asets[aset].hbase;

	if (!m->ibgp_feeders)
		h = lg_path_prepend(h, asn);
	if (prepend)
		h = lg_path_prepend(h, m->rs_asn);
	return h;
}

/* True if the path is one the feeder announced for e earlier in a replay. */
static bool
old_path(const struct lg_model *m, const struct lg_pent *e, uint64_t phash, uint32_t asn,
         bool prepend)
{
	for (uint32_t a = e->alt; a; a = m->alts[a - 1].next) {
		if (want_path(m, m->alts[a - 1].aset, asn, prepend) == phash)
			return true;
	}
	return false;
}

/* An attribute of type t in the UPDATE as received, whether or not the
 * decoder kept it (it discards LOCAL_PREF from an external peer). */
static bool
has_attr(const struct bgp_attrs *a, uint8_t t)
{
	struct bgp_attr_iter it = {a->all.p, a->all.len, 0};
	struct bgp_attr at;

	while (bgp_attr_next(&it, &at) == 1)
		if (at.type == t)
			return true;
	return false;
}

/* The routes of an iBGP feeder (a route-reflector client), as the route
 * server must pass them on (RFC 4456 §8, §10; RFC 4271 §5.1.5): to an iBGP
 * spoke (another client) with the LOCAL_PREF the feeder sent, ORIGINATOR_ID
 * the feeder's BGP Identifier and CLUSTER_LIST the route server's CLUSTER_ID
 * (--cluster-id, else the BGP Identifier of its OPEN: every daemon's default);
 * to an eBGP spoke with none of these. NULL if so, else what is wrong (in
 * buf). The same for every prefix of an UPDATE (one feeder: one next hop). */
static const char *
reflect_wrong(const struct lg_sess *s, const struct bgp_attrs *a, const struct lg_feeder *f,
              char *buf, size_t cap)
{
	const struct lg_model *m = s->w->m;
	uint32_t want, got;
	char x[20], y[20];

	if (!s->bs.ibgp) {
		if (has_attr(a, BGP_ATTR_LOCAL_PREF))
			return "LOCAL_PREF sent to an external peer (RFC 4271 §5.1.5)";
		if (a->mask & (1ull << BGP_ATTR_ORIGINATOR_ID | 1ull << BGP_ATTR_CLUSTER_LIST))
			return "ORIGINATOR_ID or CLUSTER_LIST (iBGP only, RFC 4456 §8) sent to an "
			       "external peer";
		return NULL;
	}
	if (!(a->mask & (1ull << BGP_ATTR_LOCAL_PREF)))
		return "no LOCAL_PREF (mandatory towards internal peers, RFC 4271 §5.1.5)";
	if (a->local_pref != m->local_pref) {
		snprintf(buf, cap,
		         "LOCAL_PREF %u, the feeder sent %u (a route reflector does not change it, "
		         "RFC 4456 §10)",
		         a->local_pref, m->local_pref);
		return buf;
	}
	lg_addr_str(f->addr, y, sizeof(y));
	if (!(a->mask & (1ull << BGP_ATTR_ORIGINATOR_ID))) {
		snprintf(buf, cap,
		         "no ORIGINATOR_ID (expected %s, the feeder's BGP Identifier: RFC 4456 §8)",
		         y);
		return buf;
	}
	if ((got = ntohl(a->originator_id)) != f->addr) {
		lg_addr_str(got, x, sizeof(x));
		snprintf(buf, cap,
		         "ORIGINATOR_ID %s, expected %s (the feeder's BGP Identifier: RFC 4456 §8)",
		         x, y);
		return buf;
	}
	want = m->o->have_cluster_id ? m->o->cluster_id : s->peer_id;
	lg_addr_str(want, y, sizeof(y));
	if (!(a->mask & (1ull << BGP_ATTR_CLUSTER_LIST))) {
		snprintf(
		    buf, cap,
		    "no CLUSTER_LIST (expected %s, the route server's CLUSTER_ID: RFC 4456 §8)", y);
		return buf;
	}
	memcpy(&got, a->cluster_list.p, 4);
	got = ntohl(got);
	if (a->cluster_list.len != 4 || got != want) {
		lg_addr_str(got, x, sizeof(x));
		snprintf(buf, cap,
		         "CLUSTER_LIST %s%s, expected %s (the route server's CLUSTER_ID, see "
		         "--cluster-id: RFC 4456 §8)",
		         x, a->cluster_list.len > 4 ? " ..." : "", y);
		return buf;
	}
	return NULL;
}

/* Announced prefixes of one family, all with the same attributes. */
static void
announce_run(struct lg_sess *s, const struct bgp_nlri *nl, const struct bgp_attrs *a, bool path_ok,
             uint64_t phash, struct rx_res *r)
{
	const struct lg_model *m = s->w->m;
	struct lg_rxcache *c = s->w->rxc;
	struct lk_key k[LK_CHUNK];
	int64_t ix[LK_CHUNK];
	struct lk_run st = {-2, true};
	size_t pos = 0;
	uint32_t n;
	int64_t f = nh_feeder(m, a, nl->af);
	uint32_t last_aset = UINT32_MAX;
	uint64_t want = 0;
	/* RFC 4271 §5.1.2: a route server that is not transparent prepends its
	 * ASN towards external peers only; an internal spoke (route-reflector
	 * client) gets the path unchanged. */
	bool prepend = !m->transparent && !s->bs.ibgp;
	char rbuf[200];
	const char *rwhy = m->ibgp_feeders && f >= 0
	                       ? reflect_wrong(s, a, &m->feeders[f], rbuf, sizeof(rbuf))
	                       : NULL;

	while ((n = lk_next(nl, &pos, k)) != 0) {
		lookup_chunk(&m->tab, k, n, ix, &st);
		for (uint32_t i = 0; i < n; i++) {
			const struct bgp_prefix *p = &k[i].p;
			int64_t idx = ix[i];
			const struct lg_pent *e;
			r->n_ann++;
			if (idx < 0) {
				r->n_unknown++;
				if (!m->o->ignore_unknown)
					corrupt_log(s, p, "prefix not in the workload", f);
				continue;
			}
			e = &m->tab.e[idx];
			if (f < 0 || f < m->groups[e->group].first ||
			    f >= m->groups[e->group].first + m->groups[e->group].count) {
				corrupt_log(s, p,
				            f < 0
				                ? "next hop is no feeder's"
				                : "next hop of a feeder that does not announce it",
				            f);
				op_push(c, e, (uint32_t)idx, LG_ST_CORRUPT);
				r->n_wrong++;
				continue;
			}
			if (rwhy) {
				corrupt_log(s, p, rwhy, f);
				op_push(c, e, (uint32_t)idx, LG_ST_CORRUPT);
				r->n_wrong++;
				continue;
			}
			if (e->aset != last_aset) {
				last_aset = e->aset;
				want = want_path(m, e->aset, m->feeders[f].asn, prepend);
			}
			if (path_ok && phash == want) {
				op_push(c, e, (uint32_t)idx, (uint16_t)(f + 1));
				continue;
			}
			if (path_ok && old_path(m, e, phash, m->feeders[f].asn, prepend)) {
				op_push(c, e, (uint32_t)idx, (uint16_t)((f + 1) | LG_ST_OLD));
				continue;
			}
			{
				char why[320], path[200];
				if (a->mask & (1ull << BGP_ATTR_AS_PATH))
					bgp_aspath_format(a->aspath.p, a->aspath.len, 1, path,
					                  sizeof(path));
				else
					snprintf(path, sizeof(path), "(none)");
				if (m->ibgp_feeders)
					snprintf(why, sizeof(why),
					         "AS path %s, expected %sthe set's path (--rs-asn "
					         "%s, iBGP feeder)",
					         path, prepend ? "the route server's ASN, " : "",
					         m->transparent ? "transparent" : "N");
				else
					snprintf(why, sizeof(why),
					         "AS path %s, expected %s%u and the set's path "
					         "(--rs-asn %s)",
					         path, prepend ? "the route server's ASN, " : "",
					         m->feeders[f].asn,
					         m->transparent ? "transparent" : "N");
				corrupt_log(s, p, why, f);
			}
			op_push(c, e, (uint32_t)idx, LG_ST_CORRUPT);
			r->n_wrong++;
		}
	}
}

static void
withdraw_run(struct lg_sess *s, const struct bgp_nlri *nl, struct rx_res *r)
{
	const struct lg_model *m = s->w->m;
	struct lg_rxcache *c = s->w->rxc;
	struct lk_key k[LK_CHUNK];
	int64_t ix[LK_CHUNK];
	struct lk_run st = {-2, true};
	size_t pos = 0;
	uint32_t n;

	while ((n = lk_next(nl, &pos, k)) != 0) {
		lookup_chunk(&m->tab, k, n, ix, &st);
		for (uint32_t i = 0; i < n; i++) {
			if (ix[i] < 0)
				r->n_wd_unknown++;
			else
				op_push(c, &m->tab.e[ix[i]], (uint32_t)ix[i], 0);
		}
	}
}

/* The send time a feeder stamped into the route (lg.h), 0 if none. */
static uint64_t
stamp_of(const struct bgp_attrs *a)
{
	const uint8_t *p = a->large_communities.p;

	if (!(a->mask & (1ull << BGP_ATTR_LARGE_COMMUNITY)))
		return 0;
	for (size_t i = 0; i + 12 <= a->large_communities.len; i += 12) {
		uint32_t v[3];
		memcpy(v, p + i, 12);
		if (ntohl(v[0]) == LG_STAMP_GA)
			return (uint64_t)ntohl(v[1]) << 32 | ntohl(v[2]);
	}
	return 0;
}

/* Decode and verify an UPDATE into r, the thread's scratch result (its ops
 * have room for one per byte of a message, more than it can hold
 * prefixes). -1: malformed. */
static int
rx_decode(struct lg_sess *s, const uint8_t *msg, size_t len, struct rx_res *r)
{
	struct bgp_update u;
	uint64_t phash = 0;
	bool path_ok;

	r->nops = r->n_ann = r->n_unknown = r->n_wd_unknown = r->n_wrong = r->n_taw = 0;
	r->stamp = 0;
	if (bgp_update_decode(msg, len, &s->bs, &u) < 0) {
		lg_fatal("spoke %u: malformed UPDATE from the route server: %s", s->idx,
		         u.err.reason ? u.err.reason : bgp_err_name(u.err.code, u.err.subcode));
		return -1;
	}
	r->n_pfx = bgp_update_nprefixes(&u);
	if (u.action == BGP_ACT_WITHDRAW) {
		/* RFC 7606 §2 treat-as-withdraw: the route server sent something
		 * wrong; the prefixes go, and count against it. */
		if (s->sp->corrupt_logged++ < 3 &&
		    atomic_fetch_add_explicit(&corrupt_lines, 1, memory_order_relaxed) < 10)
			fprintf(stderr,
			        "routehub-loadgen: spoke %u: UPDATE treated as withdraw: %s\n",
			        s->idx, u.err.reason ? u.err.reason : "?");
		r->n_taw = 1;
		withdraw_run(s, &u.nlri, r);
		withdraw_run(s, &u.mp_reach, r);
	} else {
		path_ok = (u.attrs.mask & (1ull << BGP_ATTR_AS_PATH)) &&
		          lg_path_hash(u.attrs.aspath.p, u.attrs.aspath.len, &phash) == 0;
		if (u.nlri.count)
			announce_run(s, &u.nlri, &u.attrs, path_ok, phash, r);
		if (u.mp_reach.count)
			announce_run(s, &u.mp_reach, &u.attrs, path_ok, phash, r);
		if (u.nlri.count || u.mp_reach.count)
			r->stamp = stamp_of(&u.attrs);
	}
	withdraw_run(s, &u.withdrawn, r);
	withdraw_run(s, &u.mp_unreach, r);
	return 0;
}

/* ---- applying ops to a spoke ---------------------------------------------------------- */

struct delta {
	int64_t present, extra, corrupt, old;
	uint64_t digest, corrupt_total, wd_absent;
};

/* n prefixes whose state is v stop being counted (v = 0: nothing), or
 * (sign +1) start being counted; n_final of them final, sum their digest
 * terms. */
static inline __attribute__((always_inline)) void
count_state(uint32_t *cnt_from, uint16_t v, int64_t sign, uint32_t n, uint32_t n_final,
            uint64_t sum, struct delta *d)
{
	if (!v)
		return;
	if (v == LG_ST_CORRUPT) {
		d->corrupt += sign * n;
		if (sign > 0)
			d->corrupt_total += n;
	} else if (v & LG_ST_OLD) {
		cnt_from[(v & ~LG_ST_OLD) - 1] += (uint32_t)(sign * n);
		d->old += sign * n;
	} else {
		cnt_from[v - 1] += (uint32_t)(sign * n);
		d->present += sign * n_final;
		d->extra += sign * (n - n_final);
		d->digest += (uint64_t)sign * sum;
	}
}

/* One prefix's state moves from what it is to nv: the counters of the route
 * it held go, those of the route it holds now come. The same route again
 * (churn, refresh): nothing, except that a wrong route is counted each time
 * it arrives and a withdrawal of nothing is noted. */
static inline __attribute__((always_inline)) void
op_apply(uint16_t *state, uint32_t *cnt_from, uint32_t pos, uint16_t nv, uint64_t contrib,
         uint32_t final, struct delta *d)
{
	uint16_t old = state[pos];

	if (old == nv) {
		if (nv == LG_ST_CORRUPT)
			d->corrupt_total++; /* counted again; stays wrong */
		else if (nv == 0)
			d->wd_absent++;
		return;
	}
	state[pos] = nv;
	count_state(cnt_from, old, -1, 1, final, contrib, d);
	count_state(cnt_from, nv, 1, 1, final, contrib, d);
}

/* Ops in message order, one by one (a result no other spoke will use). */
static void
apply_ops(struct lg_spoke *sp, const struct rx_res *r, struct delta *d)
{
	uint16_t *state = sp->state;
	const struct rx_op *o = r->ops;

	for (uint32_t i = 0; i < r->nops; i++)
		op_apply(state, sp->cnt_from, o[i].pos, o[i].nv, o[i].contrib, o[i].final, d);
}

/* States are 16 bits: four at a time in a 64-bit word, 16 per loop turn
 * (the build's -O2 does not vectorise loops of unknown length). */
#define ST_REP 0x0001000100010001ull

static inline bool
all_equal(const uint16_t *st, uint32_t n, uint16_t v)
{
	uint64_t pat = v * ST_REP, d0 = 0, d1 = 0, d2 = 0, d3 = 0, x[4];
	uint32_t k = 0;

	for (; k + 16 <= n; k += 16) {
		memcpy(x, st + k, 32);
		d0 |= x[0] ^ pat;
		d1 |= x[1] ^ pat;
		d2 |= x[2] ^ pat;
		d3 |= x[3] ^ pat;
	}
	for (; k < n; k++)
		d0 |= (uint64_t)(st[k] ^ v);
	return !(d0 | d1 | d2 | d3);
}

static inline void
fill(uint16_t *st, uint32_t n, uint16_t v)
{
	uint64_t pat = v * ST_REP, x[4] = {pat, pat, pat, pat};
	uint32_t k = 0;

	for (; k + 16 <= n; k += 16)
		memcpy(st + k, x, 32);
	for (; k < n; k++)
		st[k] = v;
}

/* Runs: a run whose prefixes are all in the same state (all absent when a
 * table is announced, all the same feeder's when it is withdrawn) moves as
 * a block: one pass to check, one to store, counters once per run. Any
 * other run goes prefix by prefix. */
static void
apply_runs(struct lg_rxcache *c, struct lg_spoke *sp, const struct rx_res *r, struct delta *d)
{
	uint16_t *state = sp->state;
	const struct rx_run *u = r->runs;

	for (uint32_t i = 0; i < r->nruns; i++) {
		uint16_t *st = state + u[i].pos, v = st[0], nv = u[i].nv;
		uint32_t n = u[i].n;
		if (i + 4 < r->nruns)
			__builtin_prefetch(&state[u[i + 4].pos], 1);
		if (!all_equal(st, n, v)) {
			for (uint32_t k = 0; k < n; k++)
				op_apply(state, sp->cnt_from, u[i].pos + k, nv,
				         c->contrib[u[i].pos + k], c->final[u[i].pos + k], d);
			continue;
		}
		if (v == nv) {
			if (nv == LG_ST_CORRUPT)
				d->corrupt_total += n;
			else if (nv == 0)
				d->wd_absent += n;
			continue;
		}
		fill(st, n, nv);
		count_state(sp->cnt_from, v, -1, n, u[i].n_final, u[i].sum, d);
		count_state(sp->cnt_from, nv, 1, n, u[i].n_final, u[i].sum, d);
	}
}

static void
rx_apply(struct lg_sess *s, struct lg_rxcache *c, const struct rx_res *r)
{
	const struct lg_model *m = s->w->m;
	struct lg_spoke *sp = s->sp;
	struct delta d = {0};

	if (r->ops)
		apply_ops(sp, r, &d);
	else
		apply_runs(c, sp, r, &d);
	if (r->stamp) {
		uint64_t now = lg_now();
		uint32_t ph = atomic_load_explicit(&m->exp.phase, memory_order_relaxed);
		if (now > r->stamp)
			lg_hist_add(&s->w->lat[ph], now - r->stamp);
		atomic_store_explicit(&s->w->last_stamp_rx, now, memory_order_relaxed);
	}
	d.corrupt_total += r->n_taw;
	sp->n_wd_absent += d.wd_absent;
	sp->n_wd_unknown += r->n_wd_unknown;
	RADD(sp->n_present, (uint32_t)d.present);
	RADD(sp->n_extra, (uint32_t)d.extra);
	RADD(sp->n_old, (uint32_t)d.old);
	RADD(sp->n_corrupt, (uint32_t)d.corrupt);
	RADD(sp->n_corrupt_total, d.corrupt_total);
	RADD(sp->n_unknown, r->n_unknown);
	RADD(sp->n_ann, r->n_ann);
	RADD(sp->digest, d.digest);
	RADD(s->w->c[LG_ROLE_SPOKE].rx_pfx, r->n_pfx);
	if (d.corrupt_total && !m->o->ignore_unknown)
		lg_wake_main();
}

/* ---- the per-thread cache of verified UPDATEs ----------------------------------------- */

/* A route server encodes an UPDATE once per update group and sends the same
 * bytes to every member: with 1,000 spokes, 999 of them would decode and
 * look up the same prefixes again. Each worker thread therefore keeps the
 * verified result (rx_res) of the UPDATEs its spokes received, keyed by a
 * 64-bit hash of the bytes and the session context, and confirmed by
 * comparing the whole message: a spoke that receives the same bytes applies
 * the same ops to its own state, which is exactly what decoding them would
 * have done. Only shareable results are kept (res_shareable), as runs
 * (make_runs): the spoke that decoded the message applies those runs too.
 * Set-associative, bounded in bytes (everything is dropped when full). */

/* What decoding and verifying depend on besides the bytes: the session
 * parameters (struct bgp_sess) and the route server's BGP Identifier (the
 * CLUSTER_ID a reflected route must carry, reflect_wrong). */
static uint64_t
rx_ctx(const struct lg_sess *s)
{
	const struct bgp_sess *bs = &s->bs;

	return (uint64_t)s->peer_id << 32 |
	       (uint8_t)(bs->as4 | bs->ext_msg << 1 | bs->ibgp << 2 |
	                 (bs->af[BGP_AF_IPV4] != 0) << 3 | (bs->af[BGP_AF_IPV6] != 0) << 4 |
	                 (bs->addpath_rx[BGP_AF_IPV4] != 0) << 5 |
	                 (bs->addpath_rx[BGP_AF_IPV6] != 0) << 6);
}

static struct lg_rxcache *
rxc_get(struct lg_worker *w)
{
	struct lg_rxcache *c = w->rxc;
	uint32_t spokes = 0, n = w->m->tab.n ? w->m->tab.n : 1;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	w->rxc = c;
	/* One op per byte of a message at most (a prefix takes at least one). */
	c->scratch.ops = malloc(BGP_MAX_EXT_MSG * sizeof(*c->scratch.ops));
	if (!c->scratch.ops) {
		lg_rxcache_free(w);
		return NULL;
	}
	for (uint32_t i = 0; i < w->nsess; i++)
		spokes += w->sess[i]->role == LG_ROLE_SPOKE;
	/* Sharing needs two spokes on the thread. Decided once: the spokes'
	 * state layout depends on it. */
	if (w->m->o->no_rx_cache || spokes < 2)
		return c;
	c->pos = calloc(n, sizeof(*c->pos));
	c->contrib = calloc(n, sizeof(*c->contrib));
	c->final = calloc(n, sizeof(*c->final));
	c->slot = aligned_alloc(64, RXC_SLOTS * sizeof(*c->slot));
	if (c->slot)
		memset(c->slot, 0, RXC_SLOTS * sizeof(*c->slot));
	c->keys = malloc(BGP_MAX_EXT_MSG * sizeof(*c->keys));
	c->scratch.runs = malloc(BGP_MAX_EXT_MSG * sizeof(*c->scratch.runs));
	c->mask = RXC_SLOTS / RXC_WAYS - 1;
	if (!c->pos || !c->contrib || !c->final || !c->slot || !c->keys || !c->scratch.runs) {
		lg_rxcache_free(w);
		return NULL;
	}
	c->on = true;
	return c;
}

static void
rxc_clear(struct lg_rxcache *c)
{
	for (uint32_t i = 0; i < RXC_SLOTS; i++) {
		free(c->slot[i].e);
		c->slot[i].e = NULL;
	}
	c->bytes = 0;
}

void
lg_rxcache_free(struct lg_worker *w)
{
	struct lg_rxcache *c = w->rxc;

	if (!c)
		return;
	if (c->on && w->m->o->verbose)
		fprintf(stderr,
		        "routehub-loadgen: thread %d: %" PRIu64 " UPDATEs shared, %" PRIu64
		        " decoded, %" PRIu64 " kept (%" PRIu64 " replacing another), cache "
		        "emptied %" PRIu64 " times\n",
		        w->id, atomic_load_explicit(&w->rx_cached, memory_order_relaxed), c->n_miss,
		        c->n_put, c->n_replaced, c->n_clear);
	if (c->slot) {
		rxc_clear(c);
		free(c->slot);
	}
	free(c->pos);
	free(c->contrib);
	free(c->final);
	free(c->scratch.ops);
	free(c->scratch.runs);
	free(c->keys);
	free(c);
	w->rxc = NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* r's ops as runs (r->runs): sorted by position, the ops of one prefix in
 * their order (each op touches only its prefix's state and sums, so the
 * order between prefixes does not matter, and a prefix that comes twice is
 * two runs, in order), then consecutive positions with the same new state
 * merged. */
static void
make_runs(struct lg_rxcache *c, struct rx_res *r)
{
	const struct rx_op *o = r->ops;
	bool sorted = true;
	uint32_t n = r->nops;
	struct rx_run *u = NULL;

	for (uint32_t i = 1; i < n && sorted; i++)
		sorted = o[i - 1].pos < o[i].pos;
	if (!sorted) {
		for (uint32_t i = 0; i < n; i++)
			c->keys[i] = (uint64_t)o[i].pos << 32 | i;
		qsort(c->keys, n, sizeof(*c->keys), cmp_u64);
	}
	r->nruns = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct rx_op *p = &o[sorted ? i : (uint32_t)c->keys[i]];
		if (!u || p->nv != u->nv || p->pos != u->pos + u->n) {
			u = &r->runs[r->nruns++];
			u->pos = p->pos;
			u->nv = p->nv;
			u->n = u->n_final = 0;
			u->sum = 0;
			u->pad = 0;
		}
		u->n++;
		u->n_final += p->final;
		u->sum += p->contrib;
	}
}

static void
rxc_put(struct lg_rxcache *c, uint64_t h, uint64_t ctx, const uint8_t *msg, size_t len,
        const struct rx_res *r)
{
	size_t size = sizeof(struct rxc_ent) + (size_t)r->nruns * sizeof(struct rx_run) + len;
	struct rxc_slot *set = &c->slot[(h & c->mask) * RXC_WAYS], *sl = NULL;
	struct rxc_ent *e;

	if (size > RXC_BUDGET / 64)
		return;
	for (uint32_t k = 0; k < RXC_WAYS && !sl; k++)
		if (!set[k].e)
			sl = &set[k];
	if (!sl)
		sl = &set[c->tick++ % RXC_WAYS];
	c->n_put++;
	if (sl->e) {
		c->n_replaced++;
		c->bytes -= sl->e->size;
		free(sl->e);
		sl->e = NULL;
	}
	if (c->bytes + size > RXC_BUDGET) {
		c->n_clear++;
		rxc_clear(c);
	}
	e = malloc(size);
	if (!e)
		return;
	e->h = h;
	e->len = (uint32_t)len;
	e->ctx = ctx;
	e->size = size;
	e->r = *r;
	e->r.ops = NULL;
	e->r.nops = 0;
	e->r.runs = (struct rx_run *)(e + 1);
	memcpy(e->r.runs, r->runs, (size_t)r->nruns * sizeof(struct rx_run));
	e->msg = (uint8_t *)(e->r.runs + r->nruns);
	memcpy(e->msg, msg, len);
	sl->h = h;
	sl->e = e;
	c->bytes += size;
}

void
lg_spoke_update(struct lg_sess *s, const uint8_t *msg, size_t len)
{
	struct lg_worker *w = s->w;
	struct lg_rxcache *c = rxc_get(w);
	uint64_t ctx = rx_ctx(s);
	uint64_t h = 0;
	bool share;

	if (!c) {
		lg_fatal("out of memory");
		return;
	}
	if (c->on) {
		const struct rxc_slot *set;
		h = XXH3_64bits_withSeed(msg, len, ctx);
		set = &c->slot[(h & c->mask) * RXC_WAYS];
		for (uint32_t k = 0; k < RXC_WAYS; k++) {
			struct rxc_ent *e = set[k].e;
			if (set[k].h == h && e && e->len == len && e->ctx == ctx &&
			    !memcmp(e->msg, msg, len)) {
				RADD(w->rx_cached, 1);
				rx_apply(s, c, &e->r);
				lg_spoke_check(s);
				return;
			}
		}
	}
	c->n_miss += c->on;
	if (rx_decode(s, msg, len, &c->scratch) < 0)
		return;
	share = c->on && res_shareable(w->m, &c->scratch);
	if (share) {
		/* Apply the runs kept for the others, so that this spoke checks
		 * them as well. */
		struct rx_res r = c->scratch;
		make_runs(c, &r);
		r.ops = NULL;
		rx_apply(s, c, &r);
		rxc_put(c, h, ctx, msg, len, &r);
	} else {
		rx_apply(s, c, &c->scratch);
	}
	lg_spoke_check(s);
}

bool
lg_spoke_matches(const struct lg_model *m, const struct lg_spoke *sp, uint32_t *genp)
{
	const struct lg_expect *x = &m->exp;
	uint32_t gen = atomic_load_explicit(&x->gen, memory_order_acquire), mode, ni;
	const _Atomic uint32_t *inactive;
	bool ok;

	mode = atomic_load_explicit(&x->mode, memory_order_relaxed);
	*genp = gen;
	if ((gen & 1) || mode == LG_EXP_NONE)
		return false; /* being written, or nothing to reach */
	ok = RLOAD(sp->n_present) == atomic_load_explicit(&x->present, memory_order_relaxed) &&
	     RLOAD(sp->n_extra) == 0 && RLOAD(sp->n_corrupt) == 0 && RLOAD(sp->n_old) == 0 &&
	     (m->o->ignore_unknown || RLOAD(sp->n_unknown) == 0);
	if (ok) {
		/* Routes of feeders that no longer hold them must be gone. */
		ni = atomic_load_explicit(&x->n_inactive[lg_gen_buf(gen)], memory_order_relaxed);
		inactive = x->inactive[lg_gen_buf(gen)];
		for (uint32_t i = 0; i < ni && ok; i++)
			ok = sp->cnt_from[atomic_load_explicit(&inactive[i],
			                                       memory_order_relaxed)] == 0;
	}
	return ok;
}

/* Called after every UPDATE and every command: a spoke is done for the
 * current generation while it matches; one that stops matching (routes
 * still moving after a first match, e.g. several feeders replaying one
 * file) is undone, so that done_ns is the last time it reached the
 * expectation. */
void
lg_spoke_check(struct lg_sess *s)
{
	const struct lg_model *m = s->w->m;
	const struct lg_expect *x = &m->exp;
	struct lg_spoke *sp = s->sp;
	uint32_t gen;
	bool ok, done;

	ok = lg_spoke_matches(m, sp, &gen);
	if (ok && atomic_load_explicit(&x->mode, memory_order_relaxed) == LG_EXP_REFRESH &&
	    atomic_load_explicit(&x->ssel[lg_gen_buf(gen)][s->idx], memory_order_relaxed))
		ok = sp->rr_gen == gen &&
		     RLOAD(sp->n_ann) - sp->rr_base >=
		         atomic_load_explicit(&x->present, memory_order_relaxed);
	/* Seqlock: the fields read belong to gen only if gen did not move. */
	atomic_thread_fence(memory_order_acquire);
	if ((gen & 1) || atomic_load_explicit(&x->gen, memory_order_relaxed) != gen)
		return;
	done = atomic_load_explicit(&sp->done_gen, memory_order_relaxed) == gen;
	if (ok && !done) {
		sp->done_ns = lg_now();
		/* Release: done_ns is visible to whoever sees done_gen == gen. */
		atomic_store_explicit(&sp->done_gen, gen, memory_order_release);
		lg_wake_main();
	} else if (!ok && done) {
		atomic_store_explicit(&sp->done_gen, UINT32_MAX, memory_order_release);
	}
}
