/*
 * spoke.c — receive-side verification: what a spoke holds, checked route by
 * route as UPDATEs arrive, and compared with the published expectation.
 *
 * Runs on the worker thread that owns the spoke's session. Nothing is
 * allocated per prefix: the state is one uint16_t per workload prefix (which
 * feeder the current route came from, or LG_ST_CORRUPT) and one counter per
 * feeder, both allocated when the spoke is created.
 *
 * A received route is correct when (work.c states the rule): its prefix is
 * in the workload, its next hop is a feeder's (198.18.0.0/15 or 2001:2::/48,
 * see lg.h), that feeder belongs to the prefix's group, and its AS path hashes
 * (lg_path_hash) to the route server's ASN (unless transparent) + the
 * feeder's ASN + the attribute set's path. Anything else is counted as
 * corrupt and fails the run.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	return 0;
}

void
lg_spoke_fini(struct lg_spoke *sp)
{
	free(sp->state);
	free(sp->cnt_from);
}

/* The table entry of p, trying first the one after the previous prefix:
 * feeders announce in table order and route servers mostly keep runs
 * together, so this spares most lookups a random memory access. */
static inline int64_t
find_next(const struct lg_table *t, const struct bgp_prefix *p, int64_t *last)
{
	uint32_t g = (uint32_t)(*last + 1);
	int64_t idx;

	if (g < t->n) {
		const struct lg_pent *e = &t->e[g];
		uint64_t k0, k1;
		memcpy(&k0, p->addr, 8);
		memcpy(&k1, p->addr + 8, 8);
		if (e->k0 == k0 && e->k1 == k1 && e->len == p->len && e->af == p->af) {
			*last = g;
			return g;
		}
	}
	idx = lg_table_find(t, p);
	if (idx >= 0)
		*last = idx;
	return idx;
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

struct delta {
	int64_t present, extra, corrupt, old;
	uint64_t digest, corrupt_total, unknown, ann;
};

static void
route_remove(const struct lg_model *m, struct lg_spoke *sp, uint32_t idx, struct delta *d)
{
	uint16_t old = sp->state[idx];
	const struct lg_pent *e = &m->tab.e[idx];

	if (old == 0)
		return;
	if (old == LG_ST_CORRUPT) {
		d->corrupt--;
	} else if (old & LG_ST_OLD) {
		sp->cnt_from[(old & ~LG_ST_OLD) - 1]--;
		d->old--;
	} else {
		sp->cnt_from[old - 1]--;
		if (e->final)
			d->present--;
		else
			d->extra--;
		d->digest -= e->contrib;
	}
	sp->state[idx] = 0;
}

static void
route_set(const struct lg_model *m, struct lg_spoke *sp, uint32_t idx, uint16_t nv, struct delta *d)
{
	const struct lg_pent *e = &m->tab.e[idx];

	if (sp->state[idx] == nv && nv != LG_ST_CORRUPT)
		return; /* the same route again (churn, refresh) */
	route_remove(m, sp, idx, d);
	sp->state[idx] = nv;
	if (nv == LG_ST_CORRUPT) {
		d->corrupt++;
		d->corrupt_total++;
		return;
	}
	if (nv & LG_ST_OLD) {
		sp->cnt_from[(nv & ~LG_ST_OLD) - 1]++;
		d->old++;
		return;
	}
	sp->cnt_from[nv - 1]++;
	if (e->final)
		d->present++;
	else
		d->extra++;
	d->digest += e->contrib;
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

/* True if the path is one the feeder announced for e earlier in a replay. */
static bool
old_path(const struct lg_model *m, const struct lg_pent *e, uint64_t phash, uint32_t asn,
         bool prepend)
{
	for (uint32_t a = e->alt; a; a = m->alts[a - 1].next) {
		uint64_t h = lg_path_prepend(m->asets[m->alts[a - 1].aset].hbase, asn);
		if (prepend)
			h = lg_path_prepend(h, m->rs_asn);
		if (h == phash)
			return true;
	}
	return false;
}

/* Announced prefixes of one family, all with the same attributes. */
static void
announce_run(struct lg_sess *s, const struct bgp_nlri *n, const struct bgp_attrs *a, bool path_ok,
             uint64_t phash, struct delta *d)
{
	const struct lg_model *m = s->w->m;
	struct lg_spoke *sp = s->sp;
	struct bgp_prefix p;
	size_t pos = 0;
	int64_t f = nh_feeder(m, a, n->af);
	uint32_t last_aset = UINT32_MAX;
	uint64_t want = 0;
	/* RFC 4271 §5.1.2: a route server that is not transparent prepends its
	 * ASN towards external peers only; an internal spoke (route-reflector
	 * client) gets the path unchanged. */
	bool prepend = !m->transparent && !s->bs.ibgp;

	int64_t last = -2;

	while (bgp_nlri_next(n, &pos, &p) == 1) {
		int64_t idx = find_next(&m->tab, &p, &last);
		const struct lg_pent *e;
		d->ann++;
		if (idx < 0) {
			d->unknown++;
			if (!m->o->ignore_unknown)
				corrupt_log(s, &p, "prefix not in the workload", f);
			continue;
		}
		e = &m->tab.e[idx];
		if (f < 0 || f < m->groups[e->group].first ||
		    f >= m->groups[e->group].first + m->groups[e->group].count) {
			corrupt_log(s, &p,
			            f < 0 ? "next hop is no feeder's"
			                  : "next hop of a feeder that does not announce it",
			            f);
			route_set(m, sp, (uint32_t)idx, LG_ST_CORRUPT, d);
			continue;
		}
		if (e->aset != last_aset) {
			last_aset = e->aset;
			want = lg_path_prepend(m->asets[e->aset].hbase, m->feeders[f].asn);
			if (prepend)
				want = lg_path_prepend(want, m->rs_asn);
		}
		if (path_ok && phash == want) {
			route_set(m, sp, (uint32_t)idx, (uint16_t)(f + 1), d);
			continue;
		}
		if (path_ok && old_path(m, e, phash, m->feeders[f].asn, prepend)) {
			route_set(m, sp, (uint32_t)idx, (uint16_t)((f + 1) | LG_ST_OLD), d);
			continue;
		}
		{
			char why[320], path[200];
			if (a->mask & (1ull << BGP_ATTR_AS_PATH))
				bgp_aspath_format(a->aspath.p, a->aspath.len, 1, path,
				                  sizeof(path));
			else
				snprintf(path, sizeof(path), "(none)");
			snprintf(why, sizeof(why),
			         "AS path %s, expected %s%u and the set's path "
			         "(--rs-asn %s)",
			         path, prepend ? "the route server's ASN, " : "", m->feeders[f].asn,
			         m->transparent ? "transparent" : "N");
			corrupt_log(s, &p, why, f);
		}
		route_set(m, sp, (uint32_t)idx, LG_ST_CORRUPT, d);
	}
}

static void
withdraw_run(struct lg_sess *s, const struct bgp_nlri *n, struct delta *d)
{
	const struct lg_model *m = s->w->m;
	struct lg_spoke *sp = s->sp;
	struct bgp_prefix p;
	size_t pos = 0;
	int64_t last = -2;

	while (bgp_nlri_next(n, &pos, &p) == 1) {
		int64_t idx = find_next(&m->tab, &p, &last);
		if (idx < 0) {
			sp->n_wd_unknown++;
			continue;
		}
		if (sp->state[idx] == 0)
			sp->n_wd_absent++;
		route_remove(m, sp, (uint32_t)idx, d);
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

void
lg_spoke_update(struct lg_sess *s, const uint8_t *msg, size_t len)
{
	const struct lg_model *m = s->w->m;
	struct lg_spoke *sp = s->sp;
	struct bgp_update u;
	struct delta d = {0};
	uint64_t phash = 0, st;
	bool path_ok;

	if (bgp_update_decode(msg, len, &s->bs, &u) < 0) {
		lg_fatal("spoke %u: malformed UPDATE from the route server: %s", s->idx,
		         u.err.reason ? u.err.reason : bgp_err_name(u.err.code, u.err.subcode));
		return;
	}
	if (u.action == BGP_ACT_WITHDRAW) {
		/* RFC 7606 §2 treat-as-withdraw: the route server sent something
		 * wrong; the prefixes go, and count against it. */
		if (s->sp->corrupt_logged++ < 3 &&
		    atomic_fetch_add_explicit(&corrupt_lines, 1, memory_order_relaxed) < 10)
			fprintf(stderr,
			        "routehub-loadgen: spoke %u: UPDATE treated as withdraw: %s\n",
			        s->idx, u.err.reason ? u.err.reason : "?");
		d.corrupt_total++;
		withdraw_run(s, &u.nlri, &d);
		withdraw_run(s, &u.mp_reach, &d);
	} else {
		path_ok = (u.attrs.mask & (1ull << BGP_ATTR_AS_PATH)) &&
		          lg_path_hash(u.attrs.aspath.p, u.attrs.aspath.len, &phash) == 0;
		if (u.nlri.count)
			announce_run(s, &u.nlri, &u.attrs, path_ok, phash, &d);
		if (u.mp_reach.count)
			announce_run(s, &u.mp_reach, &u.attrs, path_ok, phash, &d);
		if ((u.nlri.count || u.mp_reach.count) && (st = stamp_of(&u.attrs)) != 0) {
			uint64_t now = lg_now();
			uint32_t ph = atomic_load_explicit(&m->exp.phase, memory_order_relaxed);
			if (now > st)
				lg_hist_add(&s->w->lat[ph], now - st);
			atomic_store_explicit(&s->w->last_stamp_rx, now, memory_order_relaxed);
		}
	}
	withdraw_run(s, &u.withdrawn, &d);
	withdraw_run(s, &u.mp_unreach, &d);

	RADD(sp->n_present, (uint32_t)d.present);
	RADD(sp->n_extra, (uint32_t)d.extra);
	RADD(sp->n_old, (uint32_t)d.old);
	RADD(sp->n_corrupt, (uint32_t)d.corrupt);
	RADD(sp->n_corrupt_total, d.corrupt_total);
	RADD(sp->n_unknown, d.unknown);
	RADD(sp->n_ann, d.ann);
	RADD(sp->digest, d.digest);
	atomic_fetch_add_explicit(&s->w->c[LG_ROLE_SPOKE].rx_pfx, bgp_update_nprefixes(&u),
	                          memory_order_relaxed);
	if (d.corrupt_total && !m->o->ignore_unknown)
		lg_wake_main();
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
