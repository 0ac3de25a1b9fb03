/*
 * routes.c — route queries for the control API: the RIB entry of one
 * prefix, the longest match of an address, a page of the table, one peer's
 * routes, and the RIB's counts.
 *
 * Threads: called on a control-plane thread (the API's), never on an io or
 * shard thread (it waits for both). The trees belong to the shard workers
 * (DESIGN.md "Ownership rules"), so nothing here touches one directly:
 * rib_shards_query() runs collect() on every shard's own thread. There each
 * shard copies what the answer needs into memory of its own — the prefix,
 * per path the peer's identity (from its immutable struct rib_peer), path
 * id, flags, the decision (rib_decide with the shards' options: ECMP through
 * the AS path length step) and the attribute set's attr_info and canonical
 * bytes — into a private vector, and appends that vector to the shared
 * answer under one mutex, once. No pointer into shard memory leaves the
 * callback. Decoding the copied bytes (AS path text, communities, ...) and
 * naming the peers from a daemon_peers() snapshot happen afterwards, on the
 * caller's thread, so the shards are held only for the copy.
 *
 * Paging (ALL, PEER): prefixes are spread over the shards by hash, and each
 * tree walks in (address, length) order. Each shard returns its first
 * limit + 1 matching prefixes >= from (IPv4 before IPv6), so the merged and
 * sorted list holds the global first limit + 1: the first limit are the
 * page, the one after (if any) is where the next page starts.
 *
 * Peer names: a path carries its peer's rib id; the snapshot maps ids to
 * configuration names. An id is reused only after every shard forgot the
 * previous peer, but the snapshot and the query are not one instant, so a
 * name is given only when the snapshot's address agrees with the path's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routehub/bgp.h"
#include "routehub/daemon.h"
#include "routehub/rib.h"
#include "routehub/shard.h"
#include "daemon_int.h"
#include "export.h"

#define WALK_CHUNK 256 /* entries per rib_tree_walk call of a filtered walk */

/* ---- prefixes ------------------------------------------------------------------------ */

static unsigned
af_bytes(uint8_t af)
{
	return af == BGP_AF_IPV4 ? 4 : 16;
}

/* The order of the answer: family, then the trees' own (address, length). */
static int
pfx_cmp(const struct rib_prefix *a, const struct rib_prefix *b)
{
	int c;

	if (a->af != b->af)
		return a->af < b->af ? -1 : 1;
	c = memcmp(a->addr, b->addr, af_bytes(a->af));
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int
route_cmp(const void *x, const void *y)
{
	return pfx_cmp(&((const struct daemon_route *)x)->pfx,
	               &((const struct daemon_route *)y)->pfx);
}

static void
ip_fmt(uint8_t af, const uint8_t *addr, char *out, size_t len)
{
	if (!inet_ntop(af == BGP_AF_IPV4 ? AF_INET : AF_INET6, addr, out, (socklen_t)len))
		snprintf(out, len, "?");
}

/* ---- freeing --------------------------------------------------------------------------- */

static void
path_fini(struct daemon_route_path *p)
{
	free(p->attrs);
	free(p->as_path);
	free(p->communities);
	free(p->large_communities);
	free(p->ext_communities);
	free(p->cluster_list);
}

static void
route_fini(struct daemon_route *r)
{
	for (unsigned i = 0; i < r->npaths; i++)
		path_fini(&r->paths[i]);
	free(r->paths);
}

void
daemon_routes_free(struct daemon_route_result *res)
{
	for (size_t i = 0; res->v && i < res->n; i++)
		route_fini(&res->v[i]);
	free(res->v);
	memset(res, 0, sizeof(*res));
}

/* ---- on the shard threads ---------------------------------------------------------------- */

struct rq_vec {
	struct daemon_route *v;
	size_t n, cap;
	int oom;
};

struct rq_ctx {
	const struct daemon_route_query *q;
	struct rib_decide_opts opts;
	size_t want; /* ALL, PEER: prefixes per shard (limit + 1) */
	pthread_mutex_t mu;
	struct rq_vec all; /* guarded by mu */
};

static bool
peer_wanted(const struct rq_ctx *c, uint32_t id)
{
	if (c->q->mode != DAEMON_ROUTES_PEER)
		return true;
	for (size_t i = 0; i < c->q->npeer_ids; i++)
		if (c->q->peer_ids[i] == id)
			return true;
	return false;
}

/* Does entry e belong in the answer? */
static bool
entry_wanted(const struct rq_ctx *c, const struct rib_entry *e)
{
	for (unsigned i = 0; i < e->npaths; i++)
		if (rib_paths(e)[i].attrs && peer_wanted(c, rib_paths(e)[i].peer->id))
			return true;
	return false;
}

/* Copy what the answer needs of one path; attribute bytes are copied, the
 * set itself stays in the shard. */
static int
path_copy(struct daemon_route_path *o, const struct rib_path *p, bool best, bool ecmp)
{
	const struct rib_peer *rp = p->peer;

	memset(o, 0, sizeof(*o));
	o->peer_rib_id = rp->id;
	o->peer_asn = rp->asn;
	o->peer_router_id = rp->router_id;
	o->peer_type = (uint8_t)rp->type;
	ip_fmt(rp->addr_af, rp->addr, o->peer_address, sizeof(o->peer_address));
	o->best = best;
	o->ecmp = ecmp;
	o->stale = p->stale;
	o->path_id = p->path_id;
	o->info = p->attrs->info;
	o->attrs_len = p->attrs->len;
	if (!(o->attrs = malloc(o->attrs_len ? o->attrs_len : 1)))
		return -1;
	memcpy(o->attrs, p->attrs->data, o->attrs_len);
	return 0;
}

/* Rank for the order of paths in the answer: best, other ECMP, the rest. */
static int
path_rank(const struct daemon_route_path *p)
{
	return p->best ? 0 : p->ecmp ? 1 : 2;
}

static int
entry_copy(const struct rq_ctx *c, const struct rib_entry *e, struct daemon_route *r)
{
	bool ecmp_small[16], *ecmp = ecmp_small;
	unsigned k = 0, n = 0;
	int best;

	memset(r, 0, sizeof(*r));
	r->pfx = e->pfx;
	if (e->npaths > sizeof(ecmp_small) / sizeof(ecmp_small[0]) &&
	    !(ecmp = malloc(e->npaths * sizeof(*ecmp))))
		return -1;
	best = rib_decide(rib_paths(e), e->npaths, &c->opts, ecmp);
	for (unsigned i = 0; i < e->npaths; i++) {
		if (!rib_paths(e)[i].attrs)
			continue;
		r->paths_total++;
		r->ecmp_paths += ecmp[i];
		n += peer_wanted(c, rib_paths(e)[i].peer->id);
	}
	if (n && !(r->paths = calloc(n, sizeof(*r->paths))))
		goto fail;
	for (unsigned i = 0; i < e->npaths; i++) {
		const struct rib_path *p = &rib_paths(e)[i];
		if (!p->attrs || !peer_wanted(c, p->peer->id))
			continue;
		if (path_copy(&r->paths[k], p, (int)i == best, ecmp[i]) < 0)
			goto fail;
		k++;
		r->npaths = k;
	}
	/* Best first, then the rest of the ECMP set, then the others (an
	 * insertion sort: a prefix has a handful of paths). */
	for (unsigned i = 1; i < k; i++) {
		struct daemon_route_path t = r->paths[i];
		unsigned j = i;
		while (j > 0 && path_rank(&r->paths[j - 1]) > path_rank(&t)) {
			r->paths[j] = r->paths[j - 1];
			j--;
		}
		r->paths[j] = t;
	}
	if (ecmp != ecmp_small)
		free(ecmp);
	return 0;
fail:
	if (ecmp != ecmp_small)
		free(ecmp);
	route_fini(r);
	return -1;
}

static void
vec_add(struct rq_vec *v, const struct rq_ctx *c, const struct rib_entry *e)
{
	if (v->oom)
		return;
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		struct daemon_route *nv = realloc(v->v, nc * sizeof(*nv));
		if (!nv) {
			v->oom = 1;
			return;
		}
		v->v = nv;
		v->cap = nc;
	}
	if (entry_copy(c, e, &v->v[v->n]) < 0) {
		v->oom = 1;
		return;
	}
	v->n++;
}

struct walk_arg {
	const struct rq_ctx *c;
	struct rq_vec *v;
};

static void
walk_cb(struct rib_entry *e, void *arg)
{
	struct walk_arg *w = arg;

	if (entry_wanted(w->c, e))
		vec_add(w->v, w->c, e);
}

/* Up to want matching entries of t, from `from` on (NULL: the start). */
static void
walk_tree(const struct rq_ctx *c, const struct rib_tree *t, const struct rib_prefix *from,
          struct rq_vec *v)
{
	struct walk_arg w = {c, v};
	struct rib_prefix at, next;
	const struct rib_prefix *pos = from;

	while (v->n < c->want && !v->oom) {
		size_t need = c->want - v->n;
		/* ALL: almost every entry matches (an entry without paths lives
		 * only until its withdrawal is exported); PEER: filter in chunks. */
		size_t chunk = c->q->mode == DAEMON_ROUTES_ALL ? need
		               : need > WALK_CHUNK             ? need
		                                               : WALK_CHUNK;

		rib_tree_walk(t, pos, chunk, walk_cb, &w, &next);
		if (next.len == 0xff)
			break;
		at = next;
		pos = &at;
	}
}

static void
collect(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6)
{
	struct rq_ctx *c = arg;
	const struct daemon_route_query *q = c->q;
	struct rib_tree *trees[BGP_AF_MAX] = {v4, v6};
	struct rq_vec v = {0};

	(void)shard;
	switch (q->mode) {
	case DAEMON_ROUTES_PREFIX: {
		struct rib_entry *e = rib_tree_find(trees[q->pfx.af], &q->pfx);
		if (e && entry_wanted(c, e))
			vec_add(&v, c, e);
		break;
	}
	case DAEMON_ROUTES_MATCH: {
		/* The longest covering entry that still has paths. */
		struct rib_prefix a = q->pfx;
		struct rib_entry *e;
		while ((e = rib_tree_lpm(trees[a.af], &a)) != NULL && !entry_wanted(c, e) &&
		       e->pfx.len > 0)
			a.len = (uint8_t)(e->pfx.len - 1);
		if (e && entry_wanted(c, e))
			vec_add(&v, c, e);
		break;
	}
	case DAEMON_ROUTES_ALL:
	case DAEMON_ROUTES_PEER:
		for (uint8_t af = 0; af < BGP_AF_MAX; af++) {
			const struct rib_prefix *from = q->from;
			if (q->af != DAEMON_AF_ANY && q->af != af)
				continue;
			if (from && from->af > af)
				continue; /* that family is before the start */
			if (from && from->af < af)
				from = NULL; /* from the start of a later family */
			walk_tree(c, trees[af], from, &v);
		}
		break;
	}

	pthread_mutex_lock(&c->mu);
	if (v.oom || c->all.oom) {
		c->all.oom = 1;
	} else if (v.n) {
		if (c->all.n + v.n > c->all.cap) {
			size_t nc = c->all.n + v.n;
			struct daemon_route *nv = realloc(c->all.v, nc * sizeof(*nv));
			if (!nv) {
				c->all.oom = 1;
			} else {
				c->all.v = nv;
				c->all.cap = nc;
			}
		}
		if (!c->all.oom) {
			memcpy(c->all.v + c->all.n, v.v, v.n * sizeof(*v.v));
			c->all.n += v.n;
			v.n = 0; /* moved */
		}
	}
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < v.n; i++)
		route_fini(&v.v[i]);
	free(v.v);
}

/* ---- decoding, on the caller's thread ------------------------------------------------------- */

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Fill the decoded fields of p from its copied canonical bytes. */
static int
path_decode(struct daemon_route_path *p)
{
	struct bgp_attr_iter it = {p->attrs, p->attrs_len, 0};
	struct bgp_attr a;
	bool have_mp_nh = false;
	int r;

	while ((r = bgp_attr_next(&it, &a)) == 1) {
		switch (a.type) {
		case BGP_ATTR_AS_PATH: {
			int n = bgp_aspath_format(a.val, a.len, 1, NULL, 0);
			if (n < 0 || !(p->as_path = malloc((size_t)n + 1)))
				return -1;
			bgp_aspath_format(a.val, a.len, 1, p->as_path, (size_t)n + 1);
			break;
		}
		case BGP_ATTR_NEXT_HOP:
			if (a.len == 4 && !have_mp_nh)
				ip_fmt(BGP_AF_IPV4, a.val, p->next_hop, sizeof(p->next_hop));
			break;
		case BGP_ATTR_MP_REACH_NLRI: {
			/* RFC 4760 §3, next hop only: AFI, SAFI, length, next hop. */
			uint8_t nhl = a.len >= 4 ? a.val[3] : 0;
			if (a.len < 4 || (size_t)4 + nhl > a.len)
				break;
			if (nhl == 4) {
				ip_fmt(BGP_AF_IPV4, a.val + 4, p->next_hop, sizeof(p->next_hop));
				have_mp_nh = true;
			} else if (nhl == 16 || nhl == 32) {
				/* RFC 2545 §3: global, then link-local. */
				ip_fmt(BGP_AF_IPV6, a.val + 4, p->next_hop, sizeof(p->next_hop));
				if (nhl == 32)
					ip_fmt(BGP_AF_IPV6, a.val + 20, p->next_hop_local,
					       sizeof(p->next_hop_local));
				have_mp_nh = true;
			}
			break;
		}
		case BGP_ATTR_AGGREGATOR:
			if (a.len == 8) {
				p->has_aggregator = true;
				p->aggregator_as = get32(a.val);
				p->aggregator_id = get32(a.val + 4);
			}
			break;
		case BGP_ATTR_COMMUNITIES:
			p->ncommunities = a.len / 4;
			if (p->ncommunities &&
			    !(p->communities = malloc(p->ncommunities * sizeof(uint32_t))))
				return -1;
			for (size_t i = 0; i < p->ncommunities; i++)
				p->communities[i] = get32(a.val + 4 * i);
			break;
		case BGP_ATTR_LARGE_COMMUNITY:
			p->nlarge_communities = a.len / 12;
			if (p->nlarge_communities &&
			    !(p->large_communities =
			          malloc(p->nlarge_communities * sizeof(*p->large_communities))))
				return -1;
			for (size_t i = 0; i < p->nlarge_communities; i++)
				for (int k = 0; k < 3; k++)
					p->large_communities[i][k] = get32(a.val + 12 * i + 4 * k);
			break;
		case BGP_ATTR_EXT_COMMUNITIES:
			p->next_communities = a.len / 8;
			if (p->next_communities &&
			    !(p->ext_communities = malloc(p->next_communities * sizeof(uint64_t))))
				return -1;
			for (size_t i = 0; i < p->next_communities; i++)
				p->ext_communities[i] =
				    (uint64_t)get32(a.val + 8 * i) << 32 | get32(a.val + 8 * i + 4);
			break;
		case BGP_ATTR_CLUSTER_LIST:
			p->ncluster_list = a.len / 4;
			if (p->ncluster_list &&
			    !(p->cluster_list = malloc(p->ncluster_list * sizeof(uint32_t))))
				return -1;
			for (size_t i = 0; i < p->ncluster_list; i++)
				p->cluster_list[i] = get32(a.val + 4 * i);
			break;
		default:
			break;
		}
	}
	if (!p->as_path && !(p->as_path = strdup("")))
		return -1;
	return r < 0 ? -1 : 0;
}

static int
info_id_cmp(const void *x, const void *y)
{
	const struct daemon_peer_info *a = *(const struct daemon_peer_info *const *)x;
	const struct daemon_peer_info *b = *(const struct daemon_peer_info *const *)y;

	return a->rib_id < b->rib_id ? -1 : a->rib_id > b->rib_id;
}

/* Names from the snapshot: sorted by rib id, looked up by bsearch. */
static void
name_paths(struct daemon_route_result *res, const struct daemon_peer_info *peers, size_t n)
{
	const struct daemon_peer_info **by_id = malloc((n ? n : 1) * sizeof(*by_id));
	size_t m = 0;

	if (!by_id)
		return; /* names stay "": the addresses still say who */
	for (size_t i = 0; i < n; i++)
		if (peers[i].rib_id)
			by_id[m++] = &peers[i];
	qsort(by_id, m, sizeof(*by_id), info_id_cmp);
	for (size_t i = 0; i < res->n; i++) {
		for (unsigned k = 0; k < res->v[i].npaths; k++) {
			struct daemon_route_path *p = &res->v[i].paths[k];
			struct daemon_peer_info key = {.rib_id = p->peer_rib_id};
			const struct daemon_peer_info *kp = &key, **hit;

			hit = bsearch(&kp, by_id, m, sizeof(*by_id), info_id_cmp);
			if (hit && strcmp((*hit)->address, p->peer_address) == 0)
				snprintf(p->peer, sizeof(p->peer), "%s", (*hit)->name);
		}
	}
	free(by_id);
}

int
daemon_routes(struct rh_daemon *d, const struct daemon_route_query *q,
              struct daemon_route_result *res, unsigned timeout_ms)
{
	struct daemon_peer_info *own = NULL;
	const struct daemon_peer_info *peers = q->peers;
	size_t npeers = q->npeers, limit = q->limit ? q->limit : DAEMON_ROUTES_LIMIT;
	struct rq_ctx c;
	int r;

	memset(res, 0, sizeof(*res));
	if (!d->started || !d->exp)
		return -1;
	if ((q->mode == DAEMON_ROUTES_PREFIX || q->mode == DAEMON_ROUTES_MATCH) &&
	    q->pfx.af >= BGP_AF_MAX)
		return -1;
	if (q->mode == DAEMON_ROUTES_PEER && q->npeer_ids == 0)
		return 0; /* a peer with no session has no routes */
	if (limit > DAEMON_ROUTES_LIMIT_MAX)
		limit = DAEMON_ROUTES_LIMIT_MAX;
	memset(&c, 0, sizeof(c));
	c.q = q;
	/* The shards' options (export.c): ECMP through the AS path length. */
	c.opts.ecmp_through = RIB_STEP_AS_PATH;
	c.want = limit + 1;
	pthread_mutex_init(&c.mu, NULL);
	/* Returns only when every shard is done with c, even after a timeout. */
	r = rib_shards_query(exp_shards(d->exp), collect, &c, timeout_ms);
	pthread_mutex_destroy(&c.mu);
	res->v = c.all.v;
	res->n = c.all.n;
	if (r < 0 || c.all.oom)
		goto fail;
	if (res->n > 1)
		qsort(res->v, res->n, sizeof(*res->v), route_cmp);
	if (q->mode == DAEMON_ROUTES_MATCH && res->n > 1) {
		/* Every shard answered its own longest match: keep the longest. */
		size_t keep = 0;
		for (size_t i = 1; i < res->n; i++)
			if (res->v[i].pfx.len > res->v[keep].pfx.len)
				keep = i;
		for (size_t i = 0; i < res->n; i++)
			if (i != keep)
				route_fini(&res->v[i]);
		res->v[0] = res->v[keep];
		res->n = 1;
	}
	if ((q->mode == DAEMON_ROUTES_ALL || q->mode == DAEMON_ROUTES_PEER) && res->n > limit) {
		res->more = true;
		res->next = res->v[limit].pfx;
		for (size_t i = limit; i < res->n; i++)
			route_fini(&res->v[i]);
		res->n = limit;
	}
	for (size_t i = 0; i < res->n; i++)
		for (unsigned k = 0; k < res->v[i].npaths; k++)
			if (path_decode(&res->v[i].paths[k]) < 0)
				goto fail;
	if (!peers) {
		/* Without names the answer is still right: the addresses say who. */
		if (daemon_peers(d, &own, &npeers, timeout_ms) == 0)
			peers = own;
		else
			npeers = 0;
	}
	name_paths(res, peers, npeers);
	free(own);
	return 0;
fail:
	daemon_routes_free(res);
	return -1;
}

/* ---- counts ------------------------------------------------------------------------------- */

struct sum_shard {
	uint64_t prefixes[BGP_AF_MAX], paths[BGP_AF_MAX];
	uint64_t (*by_peer)[BGP_AF_MAX];
	size_t nby_peer;
	int oom;
};

struct sum_ctx {
	pthread_mutex_t mu;
	struct daemon_rib_summary *s; /* guarded by mu */
	int oom;
};

static void
sum_cb(struct rib_entry *e, void *arg)
{
	struct sum_shard *t = arg;
	uint8_t af = e->pfx.af;
	bool any = false;

	for (unsigned i = 0; i < e->npaths; i++) {
		uint32_t id = rib_paths(e)[i].peer->id;
		if (!rib_paths(e)[i].attrs)
			continue;
		any = true;
		t->paths[af]++;
		if (id >= t->nby_peer && !t->oom) {
			/* Ids are small and dense: grow to the largest seen. */
			size_t nn = (size_t)id + 64;
			uint64_t(*nv)[BGP_AF_MAX] = realloc(t->by_peer, nn * sizeof(*nv));
			if (!nv) {
				t->oom = 1;
				continue;
			}
			memset(nv + t->nby_peer, 0, (nn - t->nby_peer) * sizeof(*nv));
			t->by_peer = nv;
			t->nby_peer = nn;
		}
		if (id < t->nby_peer)
			t->by_peer[id][af]++;
	}
	t->prefixes[af] += any;
}

static void
sum_collect(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6)
{
	struct sum_ctx *c = arg;
	struct sum_shard t = {0};
	struct rib_prefix next;
	struct daemon_rib_summary *s = c->s;

	(void)shard;
	rib_tree_walk(v4, NULL, SIZE_MAX, sum_cb, &t, &next);
	rib_tree_walk(v6, NULL, SIZE_MAX, sum_cb, &t, &next);
	pthread_mutex_lock(&c->mu);
	for (int af = 0; af < BGP_AF_MAX; af++) {
		s->prefixes[af] += t.prefixes[af];
		s->paths[af] += t.paths[af];
	}
	if (t.oom)
		c->oom = 1;
	if (t.nby_peer > s->nby_peer) {
		uint64_t(*nv)[BGP_AF_MAX] = realloc(s->by_peer, t.nby_peer * sizeof(*nv));
		if (nv) {
			memset(nv + s->nby_peer, 0, (t.nby_peer - s->nby_peer) * sizeof(*nv));
			s->by_peer = nv;
			s->nby_peer = t.nby_peer;
		} else {
			c->oom = 1;
		}
	}
	for (size_t i = 0; i < t.nby_peer && i < s->nby_peer; i++)
		for (int af = 0; af < BGP_AF_MAX; af++)
			s->by_peer[i][af] += t.by_peer[i][af];
	pthread_mutex_unlock(&c->mu);
	free(t.by_peer);
}

void
daemon_rib_summary_free(struct daemon_rib_summary *s)
{
	free(s->by_peer);
	memset(s, 0, sizeof(*s));
}

int
daemon_rib_summary(struct rh_daemon *d, struct daemon_rib_summary *s, unsigned timeout_ms)
{
	struct sum_ctx c = {.s = s};
	int r;

	memset(s, 0, sizeof(*s));
	if (!d->started || !d->exp)
		return -1;
	pthread_mutex_init(&c.mu, NULL);
	r = rib_shards_query(exp_shards(d->exp), sum_collect, &c, timeout_ms);
	pthread_mutex_destroy(&c.mu);
	s->attr_sets = attr_count();
	if (r < 0 || c.oom) {
		daemon_rib_summary_free(s);
		return -1;
	}
	return 0;
}

int
daemon_rib_counts(struct rh_daemon *d, struct daemon_rib_counts *c)
{
	struct rib_shard_stats st;

	memset(c, 0, sizeof(*c));
	if (!d->started || !d->exp)
		return -1;
	rib_shards_stats(exp_shards(d->exp), &st);
	c->prefixes[BGP_AF_IPV4] = st.prefixes[0];
	c->prefixes[BGP_AF_IPV6] = st.prefixes[1];
	c->paths = st.paths;
	c->attr_sets = attr_count();
	return 0;
}
