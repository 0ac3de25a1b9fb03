/*
 * export.c — routes in and out: ingest on the io threads, update groups on
 * the shard threads, delivery back on the io threads.
 *
 * In (io thread): a decoded UPDATE's attributes are made canonical,
 * adjusted for route reflection (RFC 4456 §8: ORIGINATOR_ID added, loops
 * dropped), interned once, and every NLRI becomes an op for the shard that
 * owns the prefix. With a max_routes the io thread also keeps the peer's
 * Adj-RIB-In as a prefix set, for an exact count (held_add); the peer's
 * enhanced route refresh (RFC 7313 BoRR/EoRR) marks and sweeps it as the
 * shards do the peer's paths (held_stale).
 *
 * Out (shard thread, callbacks of routehub/shard.h): peers with equal
 * outbound policy and encoding form an update group. For the prefixes whose
 * decision changed, the shard compares the new best with what the group was
 * last sent (entry->adv_groups, the Adj-RIB-Out per group: the groups with
 * a bit have the best path's set, or the change's prev while it is dirty),
 * groups the differences by (group, attribute set), applies the group's
 * transform once (own AS prepended unless transparent (RFC 7947), LOCAL_PREF
 * for iBGP, CLUSTER_LIST for reflection (RFC 4456)), and encodes each UPDATE
 * once into a refcounted io_buf. A job carrying that buffer goes to every io
 * thread on a shard -> io SPSC ring.
 *
 * Delivery (io thread, poll callback): each member of the group on that
 * thread gets the shared buffer, unless a per-message exclusion applies —
 * its AS is in the AS path (sender-side loop check) or it is the route's
 * originator (RFC 4456) — in which case it gets a withdrawal of the same
 * prefixes instead (encoded at most once per job). A new member gets the
 * table from each shard in bounded chunks, then End-of-RIB (RFC 4724 §2).
 * A member whose send queue passes EXP_SENDQ_LIMIT is out of sync: with
 * enhanced route refresh it is held (nothing queued for it) until its queue
 * drains, then resynchronised from the RIB with BoRR, the table and EoRR;
 * without, it is reset (Cease/Out of Resources) and resynchronised by the
 * new session's table dump: bounded memory, no lost route, nobody else
 * waits. A table dump that ends while a member is held sends it no
 * End-of-RIB or EoRR (its messages were dropped); the resync ends it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routehub/io.h"
#include "routehub/log.h"
#include "routehub/rib.h"
#include "routehub/spsc.h"
#include "daemon_int.h"
#include "export.h"
#include "session.h"

#define JOB_RING_SLOTS   4096
#define MAX_ADV_PER_CALL 4096

struct exp_group {
	enum exp_kind kind;
	bool transparent;
	struct bgp_sess enc; /* what the members negotiated: AS width, families... */
};

enum job_type {
	JOB_GROUP = 1, /* buf to every member of group */
	JOB_PEER,      /* buf to one peer (table dump) */
	JOB_DUMP_DONE, /* a shard finished peer's dump */
	JOB_GONE,      /* a shard forgot peer id */
};

struct exp_job {
	uint8_t type;
	uint8_t af;
	uint16_t pad;
	uint32_t target; /* group or peer id */
	struct io_buf *buf;
	struct attr_set *attrs; /* stored set of an announcement, for exclusions */
	struct attr_set *prev;  /* an announcement: the group's previous route, if any */
	uint32_t gen;           /* JOB_DUMP_DONE: the dump request's generation */
};

/* Prefix set for exact Adj-RIB-In counting (max_routes). stale mirrors the
 * shards' mark on the peer's path (RFC 7313 enhanced route refresh): set for
 * the family at the peer's BoRR, cleared by a re-announcement, and the
 * prefixes still marked at its EoRR leave the set as their paths leave the
 * RIB (held_stale). */
struct pfx_key {
	uint8_t af, len, used, stale;
	uint32_t path_id;
	uint8_t addr[16];
};
struct pfx_set {
	struct pfx_key *v;
	uint32_t cap, n, tomb;
};

struct exp {
	struct rh_daemon *d;
	unsigned nio, nshards;
	uint32_t local_as, router_id, cluster_id;
	struct rib_shards *shards;
	pthread_mutex_t mu; /* groups and ids: rare writers */
	struct exp_group groups[EXP_MAX_GROUPS];
	atomic_uint ngroups;
	uint32_t *free_ids;
	uint32_t nfree, next_id;
	uint32_t id_limit; /* ids handed out are below it (RH_MAX_PEER_IDS) */
	atomic_int peer_group[RIB_MAX_PEERS];
	atomic_int peer_loop[RIB_MAX_PEERS];
	struct rh_spsc *rings; /* [shard * nio + io] */
	struct peer **by_id;   /* slot owned by the peer's io thread */
	uint8_t *gone;         /* shards that forgot the id; owner io thread */
	struct peer **members; /* [io * EXP_MAX_GROUPS + g]: list heads */
	atomic_int stopping;   /* io loops are going: shards drop jobs */
	size_t sendq_limit;    /* EXP_SENDQ_LIMIT, or RH_SENDQ_LIMIT */
	struct adv_tab *adv;   /* [shard]: its export calls' grouping table */
};

/* ---- small helpers --------------------------------------------------------------------- */

static int
sess_mask(const struct bgp_sess *s)
{
	return s->as4 | s->ext_msg << 1 | s->af[0] << 2 | s->af[1] << 3 |
	       (s->addpath_tx[0] != 0) << 4 | (s->addpath_tx[1] != 0) << 5;
}

static int
group_get(struct exp *x, enum exp_kind kind, bool transparent, const struct bgp_sess *s)
{
	unsigned n = atomic_load_explicit(&x->ngroups, memory_order_acquire);
	struct bgp_sess enc;
	int r = -1;

	memset(&enc, 0, sizeof(enc));
	enc.as4 = s->as4;
	enc.ext_msg = s->ext_msg;
	/* The families are not part of the key: a member gets only the
	 * messages of those it negotiated (job_run). Groups are never freed;
	 * with the families in the key, peers coming back with other
	 * capabilities used up EXP_MAX_GROUPS, and every later session of a
	 * new kind came up without routes either way. Now there are at most
	 * 4 kinds (eBGP transparent or not, iBGP, rr-client) x AS width x
	 * message size = 16 groups. */
	enc.af[0] = enc.af[1] = 1;
	/* We send one path per prefix: no ADD-PATH on the way out. */
	for (unsigned i = 0; i < n; i++)
		if (x->groups[i].kind == kind && x->groups[i].transparent == transparent &&
		    sess_mask(&x->groups[i].enc) == sess_mask(&enc))
			return (int)i;
	pthread_mutex_lock(&x->mu);
	n = atomic_load_explicit(&x->ngroups, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (x->groups[i].kind == kind && x->groups[i].transparent == transparent &&
		    sess_mask(&x->groups[i].enc) == sess_mask(&enc)) {
			r = (int)i;
			goto out;
		}
	if (n < EXP_MAX_GROUPS) {
		x->groups[n].kind = kind;
		x->groups[n].transparent = transparent;
		x->groups[n].enc = enc;
		/* release: the group's fields before its count (shards load
		 * ngroups with acquire). */
		atomic_store_explicit(&x->ngroups, n + 1, memory_order_release);
		r = (int)n;
	}
out:
	pthread_mutex_unlock(&x->mu);
	return r;
}

static uint32_t
id_alloc(struct exp *x)
{
	uint32_t id = 0;

	pthread_mutex_lock(&x->mu);
	if (x->nfree)
		id = x->free_ids[--x->nfree];
	else if (x->next_id < x->id_limit)
		id = x->next_id++;
	pthread_mutex_unlock(&x->mu);
	return id;
}

static void
id_release(struct exp *x, uint32_t id)
{
	pthread_mutex_lock(&x->mu);
	x->free_ids[x->nfree++] = id;
	pthread_mutex_unlock(&x->mu);
}

static void
to_bgp_prefix(const struct rib_prefix *r, struct bgp_prefix *b)
{
	memset(b, 0, sizeof(*b));
	b->af = r->af;
	b->len = r->len;
	memcpy(b->addr, r->addr, 16);
}

/* ---- prefix sets (max_routes) --------------------------------------------------------------- */

static uint64_t
pfx_hash(const struct pfx_key *k)
{
	uint64_t h =
	    0xcbf29ce484222325ull ^ ((uint64_t)k->af << 8 | k->len) ^ ((uint64_t)k->path_id << 16);
	for (int i = 0; i < 16; i++)
		h = (h ^ k->addr[i]) * 0x100000001b3ull;
	return h;
}

static bool
pfx_eq(const struct pfx_key *a, const struct pfx_key *b)
{
	return a->af == b->af && a->len == b->len && a->path_id == b->path_id &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

/* Rehash without the tombstones: at twice the size, or at the same size when
 * the live entries fill under half of the load bound (withdrawals and
 * refresh sweeps leave tombstones; the table must not double for them). */
static int
pfx_grow(struct pfx_set *s)
{
	uint32_t ncap = !s->cap ? 256 : (s->n + 1) * 20 < s->cap * 7 ? s->cap : s->cap * 2;
	struct pfx_key *nv = calloc(ncap, sizeof(*nv)), *ov = s->v;
	uint32_t ocap = s->cap;

	if (!nv)
		return -1;
	s->v = nv;
	s->cap = ncap;
	s->n = s->tomb = 0;
	for (uint32_t i = 0; i < ocap; i++) {
		if (ov[i].used != 1)
			continue;
		uint32_t j = (uint32_t)pfx_hash(&ov[i]) & (ncap - 1);
		while (nv[j].used)
			j = (j + 1) & (ncap - 1);
		nv[j] = ov[i];
		s->n++;
	}
	free(ov);
	return 0;
}

/* 1 if inserted, 0 if present, 2 if present with a stale mark (now
 * cleared), -1 on memory. used: 1 live, 2 tombstone. */
static int
pfx_add(struct pfx_set *s, const struct pfx_key *k)
{
	uint32_t j, t = UINT32_MAX;

	if ((s->n + s->tomb + 1) * 10 >= s->cap * 7 && pfx_grow(s) < 0)
		return -1;
	for (j = (uint32_t)pfx_hash(k) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
		if (s->v[j].used == 0)
			break;
		if (s->v[j].used == 2) {
			if (t == UINT32_MAX)
				t = j;
			continue;
		}
		if (pfx_eq(&s->v[j], k)) {
			if (!s->v[j].stale)
				return 0;
			s->v[j].stale = 0;
			return 2;
		}
	}
	if (t != UINT32_MAX) {
		j = t;
		s->tomb--;
	}
	s->v[j] = *k;
	s->v[j].used = 1;
	s->v[j].stale = 0;
	s->n++;
	return 1;
}

static int
pfx_del(struct pfx_set *s, const struct pfx_key *k)
{
	if (!s->cap)
		return 0;
	for (uint32_t j = (uint32_t)pfx_hash(k) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
		if (s->v[j].used == 0)
			return 0;
		if (s->v[j].used == 1 && pfx_eq(&s->v[j], k)) {
			s->v[j].used = 2;
			s->n--;
			s->tomb++;
			return 1;
		}
	}
}

static void
pfx_key_of(struct pfx_key *k, const struct bgp_prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->af = p->af;
	k->len = p->len;
	k->path_id = p->path_id;
	memcpy(k->addr, p->addr, 16);
}

/* ---- canonical attribute edits ----------------------------------------------------------------
 */

/* Output builder for attribute sequences (canonical form, type order). */
struct abuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void
ab_attr(struct abuf *b, uint8_t flags, uint8_t type, const uint8_t *v, size_t len)
{
	size_t hl = len > 255 ? 4 : 3;
	if (b->err || b->cap - b->len < hl + len || len > 0xffff) {
		b->err = 1;
		return;
	}
	b->p[b->len] =
	    (uint8_t)((flags & ~BGP_ATTR_FLAG_EXTLEN) | (len > 255 ? BGP_ATTR_FLAG_EXTLEN : 0));
	b->p[b->len + 1] = type;
	if (hl == 4) {
		b->p[b->len + 2] = (uint8_t)(len >> 8);
		b->p[b->len + 3] = (uint8_t)len;
	} else {
		b->p[b->len + 2] = (uint8_t)len;
	}
	if (len)
		memcpy(b->p + b->len + hl, v, len);
	b->len += hl + len;
}

static void
put32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 4456 §8 at ingress from an internal peer: add ORIGINATOR_ID (the
 * peer's BGP identifier) when missing. Returns the new length. */
static size_t
canon_add_originator(const uint8_t *in, size_t len, uint8_t *out, size_t cap, uint32_t id)
{
	struct bgp_attr_iter it = {in, len, 0};
	struct abuf b = {out, 0, cap, 0};
	struct bgp_attr a;
	uint8_t v[4];
	bool done = false;

	put32be(v, id);
	while (bgp_attr_next(&it, &a) == 1) {
		if (!done && a.type > BGP_ATTR_ORIGINATOR_ID) {
			ab_attr(&b, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_ORIGINATOR_ID, v, 4);
			done = true;
		}
		ab_attr(&b, a.flags, a.type, a.val, a.len);
	}
	if (!done)
		ab_attr(&b, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_ORIGINATOR_ID, v, 4);
	return b.err ? 0 : b.len;
}

/* Does the group's outbound transform leave the set as it is? A
 * transparent route server's eBGP clients (RFC 7947) get the attributes as
 * received, unless they carry what only iBGP may (LOCAL_PREF, ORIGINATOR_ID,
 * CLUSTER_LIST): the common case skips the copy. */
static bool
canon_identity(const struct exp_group *g, const struct attr_set *as)
{
	return g->kind == EXP_KIND_EBGP && g->transparent && !(as->info.flags & ATTR_F_IBGP_ATTRS);
}

/* The group's outbound transform of a stored attribute set. */
static size_t
canon_export(const struct exp *x, const struct exp_group *g, const struct attr_set *as,
             bool from_ibgp, uint8_t *out, size_t cap)
{
	struct bgp_attr_iter it = {as->data, as->len, 0};
	/* Room for any attribute value plus what we add to it: an AS path
	 * of 255 and more 4-octet ASes is longer than 1 KB. */
	static __thread uint8_t v[BGP_MAX_EXT_MSG + 8];
	struct abuf b = {out, 0, cap, 0};
	struct bgp_attr a;
	bool ebgp = g->kind == EXP_KIND_EBGP, lp_done = false, cl_done = false;

	while (bgp_attr_next(&it, &a) == 1) {
		/* iBGP: LOCAL_PREF is mandatory (RFC 4271 §5.1.5). */
		if (!ebgp && !lp_done && a.type > BGP_ATTR_LOCAL_PREF) {
			put32be(v, 100);
			ab_attr(&b, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_LOCAL_PREF, v, 4);
			lp_done = true;
		}
		/* Reflection of an internal route: our cluster id first
		 * (RFC 4456 §8). */
		if (!ebgp && from_ibgp && !cl_done && a.type > BGP_ATTR_CLUSTER_LIST) {
			put32be(v, x->cluster_id);
			ab_attr(&b, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_CLUSTER_LIST, v, 4);
			cl_done = true;
		}
		switch (a.type) {
		case BGP_ATTR_AS_PATH:
			if (ebgp && !g->transparent) {
				/* RFC 4271 §5.1.2: prepend our AS as a new
				 * leftmost AS_SEQUENCE member. */
				size_t l = 0;
				if (a.len >= 2 && a.val[0] == BGP_ASPATH_SEQUENCE &&
				    a.val[1] < 255) {
					v[0] = BGP_ASPATH_SEQUENCE;
					v[1] = (uint8_t)(a.val[1] + 1);
					put32be(v + 2, x->local_as);
					if ((size_t)a.len - 2 + 6 > sizeof(v)) {
						b.err = 1;
						break;
					}
					memcpy(v + 6, a.val + 2, a.len - 2);
					l = 6 + (size_t)a.len - 2;
				} else {
					v[0] = BGP_ASPATH_SEQUENCE;
					v[1] = 1;
					put32be(v + 2, x->local_as);
					if ((size_t)a.len + 6 > sizeof(v)) {
						b.err = 1;
						break;
					}
					memcpy(v + 6, a.val, a.len);
					l = 6 + (size_t)a.len;
				}
				ab_attr(&b, a.flags, a.type, v, l);
				continue;
			}
			break;
		case BGP_ATTR_LOCAL_PREF:
			lp_done = true;
			if (ebgp)
				continue; /* RFC 4271 §5.1.5: not to external peers */
			break;
		case BGP_ATTR_ORIGINATOR_ID:
			if (ebgp)
				continue; /* RFC 4456 §8: internal to the AS */
			break;
		case BGP_ATTR_CLUSTER_LIST:
			if (ebgp)
				continue;
			if (from_ibgp) {
				if ((size_t)a.len + 4 > sizeof(v)) {
					b.err = 1;
					break;
				}
				put32be(v, x->cluster_id);
				memcpy(v + 4, a.val, a.len);
				ab_attr(&b, a.flags, a.type, v, (size_t)a.len + 4);
				cl_done = true;
				continue;
			}
			break;
		}
		ab_attr(&b, a.flags, a.type, a.val, a.len);
	}
	if (!ebgp && !lp_done) {
		put32be(v, 100);
		ab_attr(&b, BGP_ATTR_FLAG_TRANSITIVE, BGP_ATTR_LOCAL_PREF, v, 4);
	}
	if (!ebgp && from_ibgp && !cl_done) {
		put32be(v, x->cluster_id);
		ab_attr(&b, BGP_ATTR_FLAG_OPTIONAL, BGP_ATTR_CLUSTER_LIST, v, 4);
	}
	return b.err ? 0 : b.len;
}

/* May a route with this best path go to group g at all? (RFC 1997, RFC 4456) */
static bool
exportable(const struct exp_group *g, const struct rib_path *best)
{
	const struct attr_info *i = &best->attrs->info;

	if (i->flags & ATTR_F_NO_ADVERTISE)
		return false;
	/* RFC 1997: NO_EXPORT and NO_EXPORT_SUBCONFED stay inside the AS (we
	 * run no confederation); RFC 3765: NO_PEER not to eBGP peers. */
	if (g->kind == EXP_KIND_EBGP &&
	    (i->flags & (ATTR_F_NO_EXPORT | ATTR_F_NO_EXPORT_SUB | ATTR_F_NO_PEER)))
		return false;
	/* RFC 4456 §6: a route from a non-client goes to clients only. */
	if (best->peer->type == RIB_PEER_IBGP && g->kind == EXP_KIND_IBGP)
		return false;
	return true;
}

/* ---- shard side: encode and hand out
 * -------------------------------------------------------------- */

static void
job_free(struct exp_job *j)
{
	if (j->buf)
		io_buf_unref(j->buf);
	if (j->attrs)
		attr_unref(j->attrs);
	if (j->prev)
		attr_unref(j->prev);
	free(j);
}

static void
job_push(struct exp *x, unsigned shard, unsigned io, struct exp_job *j)
{
	struct rh_spsc *r = &x->rings[shard * x->nio + io];

	/* Backpressure on the shard: bounded rings, the io thread drains. */
	while (!rh_spsc_put(r, j)) {
		if (atomic_load_explicit(&x->stopping, memory_order_acquire)) {
			job_free(j);
			return;
		}
		io_loop_wake(x->d->loops[io].io);
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
}

static void
job_wake(struct exp *x, unsigned io)
{
	io_loop_wake(x->d->loops[io].io);
}

/* Encode as many UPDATEs as needed for prefixes v[0..n) of family af, with
 * attrs (NULL: withdrawals), and hand each out via emit(). */
struct emit_ctx {
	struct exp *x;
	unsigned shard;
	int type; /* JOB_GROUP or JOB_PEER */
	uint32_t target;
	struct attr_set *stored; /* for exclusions */
	unsigned io_only;        /* JOB_PEER: the owner loop */
	struct attr_set *prev;   /* the group's previous route (announcements) */
};

/* One job per io thread (JOB_PEER: only the peer's) for an encoded
 * message; takes the caller's reference to buf. */
static void
emit(struct emit_ctx *c, struct io_buf *buf, uint8_t af)
{
	struct exp *x = c->x;
	unsigned last = c->type == JOB_PEER ? c->io_only : x->nio - 1;

	for (unsigned io = 0; io < x->nio; io++) {
		struct exp_job *j;
		if (c->type == JOB_PEER && io != c->io_only)
			continue;
		j = malloc(sizeof(*j));
		if (!j)
			continue;
		j->type = (uint8_t)c->type;
		j->af = af;
		j->target = c->target;
		/* the last job takes our reference: no atomic pair a message */
		j->buf = io == last ? buf : io_buf_ref(buf);
		j->attrs = c->stored ? attr_ref(c->stored) : NULL;
		j->prev = c->prev ? attr_ref(c->prev) : NULL;
		if (io == last)
			buf = NULL;
		job_push(x, c->shard, io, j);
	}
	if (buf)
		io_buf_unref(buf); /* the last job could not be had */
}

/* Returns how many of the prefixes went out: fewer than n when the
 * attributes leave no room for a prefix in the group's messages. */
static size_t
encode_out(struct emit_ctx *c, const struct bgp_sess *enc, uint8_t af, const uint8_t *attrs,
           size_t alen, struct bgp_prefix *v, size_t n)
{
	static __thread uint8_t scratch[BGP_MAX_EXT_MSG];
	const size_t max = bgp_sess_max_msg(enc);
	size_t i = 0;

	while (i < n) {
		size_t avail, used = 0, k = i, len;
		struct bgp_update_spec sp;
		struct io_buf *buf;

		/* header, two length fields, attributes, MP header growth */
		if (attrs && alen + 24 >= max)
			return i; /* attributes too large for any prefix */
		if (attrs)
			avail = max - 23 - alen - 1;
		else
			avail = max - 23 - (af == BGP_AF_IPV6 ? 7 : 0);
		while (k < n && used + bgp_prefix_wire_len(&v[k], enc) <= avail)
			used += bgp_prefix_wire_len(&v[k++], enc);
		if (k == i)
			return i;
		memset(&sp, 0, sizeof(sp));
		sp.mp_unreach_af = -1;
		if (attrs) {
			sp.attrs = attrs;
			sp.attrs_len = alen;
			/* The group's transform keeps MP_REACH_NLRI where
			 * the stored set has it: its flag saves a walk. */
			if (af == BGP_AF_IPV4 &&
			    (c->stored ? (c->stored->info.flags & ATTR_F_MP_REACH) != 0
			               : bgp_attr_find(attrs, alen, BGP_ATTR_MP_REACH_NLRI,
			                               &(struct bgp_attr){0}) == 0)) {
				sp.mp_reach = v + i;
				sp.n_mp_reach = k - i;
			} else if (af == BGP_AF_IPV4) {
				sp.nlri = v + i;
				sp.n_nlri = k - i;
			} else {
				sp.mp_reach = v + i;
				sp.n_mp_reach = k - i;
			}
		} else if (af == BGP_AF_IPV4) {
			sp.withdrawn = v + i;
			sp.n_withdrawn = k - i;
		} else {
			sp.mp_unreach = v + i;
			sp.n_mp_unreach = k - i;
			sp.mp_unreach_af = af;
		}
		/* Encode into scratch, then a buffer of the exact size: queued
		 * messages are most of the memory a burst costs. */
		if (bgp_update_encode(&sp, enc, scratch, max, &len) < 0)
			return i; /* e.g. AS4_PATH added for a 2-octet group */
		buf = io_buf_new(len);
		if (!buf)
			return i;
		memcpy(buf->data, scratch, len);
		emit(c, buf, af);
		i = k;
	}
	return n;
}

/*
 * One export call's changes, grouped by (update group, attribute set,
 * previous route, origin, family): each item is encoded once. The call
 * records (item, prefix) references in arrival order; adv_flush lays the
 * prefixes out item by item in one array (a counting sort) and encodes.
 * No per-item vectors: a full table has ~6 prefixes per attribute set, and
 * a vector each cost more than the prefixes. The table lives per shard
 * thread between calls; a call is bounded by the shard's decision chunk.
 */
struct adv_item {
	struct attr_set *stored; /* NULL: withdrawals */
	struct attr_set *prev;   /* announcements: the group's previous route, if any */
	bool from_ibgp;
	uint8_t af;
	uint8_t group;
	uint32_t n;    /* prefixes */
	uint32_t off;  /* adv_flush: where they start in flat[] */
	uint32_t slot; /* its idx[] slot, cleared at flush */
};

struct adv_tab {
	struct adv_item *items;
	unsigned n, cap;
	uint32_t *idx; /* open addressing: item index + 1, 0 empty */
	unsigned icap; /* power of 2, at least twice n */
	uint32_t *ref_item;
	const struct rib_prefix **ref_pfx;
	size_t nref, capref;
	struct bgp_prefix *flat;
	size_t capflat;
};

static unsigned
adv_slot(const struct adv_tab *t, const struct attr_set *a, const struct attr_set *prev,
         bool from_ibgp, uint8_t af, uint8_t group)
{
	uint64_t h =
	    ((uint64_t)(uintptr_t)a ^ (uint64_t)(uintptr_t)prev * 31) * 0x9e3779b97f4a7c15ull ^
	    (uint64_t)from_ibgp << 1 ^ af ^ (uint64_t)group << 2;
	h *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 32) & (t->icap - 1);
}

static int
adv_rehash(struct adv_tab *t, unsigned icap)
{
	uint32_t *ni = calloc(icap, sizeof(*ni));

	if (!ni)
		return -1;
	free(t->idx);
	t->idx = ni;
	t->icap = icap;
	for (unsigned i = 0; i < t->n; i++) {
		struct adv_item *it = &t->items[i];
		unsigned s = adv_slot(t, it->stored, it->prev, it->from_ibgp, it->af, it->group);
		while (t->idx[s])
			s = (s + 1) & (icap - 1);
		t->idx[s] = i + 1;
		it->slot = s;
	}
	return 0;
}

/* The item of (group, attribute set, previous, origin, family): O(1), since
 * one burst can carry as many distinct sets as prefixes. -1: no memory. */
static int
adv_find(struct adv_tab *t, unsigned group, struct attr_set *a, struct attr_set *prev,
         bool from_ibgp, uint8_t af)
{
	struct adv_item *it;
	unsigned s;

	if ((t->n + 1) * 2 > t->icap && adv_rehash(t, t->icap ? t->icap * 2 : 256) < 0)
		return -1;
	for (s = adv_slot(t, a, prev, from_ibgp, af, (uint8_t)group); t->idx[s];
	     s = (s + 1) & (t->icap - 1)) {
		it = &t->items[t->idx[s] - 1];
		if (it->stored == a && it->prev == prev && it->af == af &&
		    it->from_ibgp == from_ibgp && it->group == group)
			return (int)(t->idx[s] - 1);
	}
	if (t->n == t->cap) {
		unsigned nc = t->cap ? t->cap * 2 : 256;
		struct adv_item *nv = realloc(t->items, nc * sizeof(*nv));
		if (!nv)
			return -1;
		t->items = nv;
		t->cap = nc;
	}
	it = &t->items[t->n];
	memset(it, 0, sizeof(*it));
	it->stored = a;
	it->prev = prev ? attr_ref(prev) : NULL; /* e->adv moves on */
	it->from_ibgp = from_ibgp;
	it->af = af;
	it->group = (uint8_t)group;
	it->slot = s;
	t->idx[s] = t->n + 1;
	return (int)t->n++;
}

/* Record prefix p for the item of (group, a, prev, from_ibgp, af). */
static void
adv_add(struct adv_tab *t, unsigned group, struct attr_set *a, struct attr_set *prev,
        bool from_ibgp, const struct rib_prefix *p)
{
	int i;

	if (t->nref == t->capref) {
		size_t nc = t->capref ? t->capref * 2 : 4096;
		uint32_t *ni = realloc(t->ref_item, nc * sizeof(*ni));
		if (ni)
			t->ref_item = ni;
		const struct rib_prefix **np = ni ? realloc(t->ref_pfx, nc * sizeof(*np)) : NULL;
		if (!np)
			return; /* out of memory: the prefix is not sent */
		t->ref_pfx = np;
		t->capref = nc;
	}
	if ((i = adv_find(t, group, a, prev, from_ibgp, p->af)) < 0)
		return;
	t->items[i].n++;
	t->ref_item[t->nref] = (uint32_t)i;
	t->ref_pfx[t->nref++] = p;
}

/* Encode every item: JOB_GROUP to the item's group, JOB_PEER to peer_id on
 * loop io_only. Leaves the table empty for the next call. */
static void
adv_flush(struct exp *x, unsigned shard, int type, uint32_t peer_id, unsigned io_only,
          struct adv_tab *t)
{
	static __thread uint8_t canon[BGP_CANON_MAX / 2];
	struct emit_ctx c = {x, shard, type, peer_id, NULL, io_only, NULL};
	uint32_t off = 0;

	if (t->nref > t->capflat) {
		struct bgp_prefix *nf = realloc(t->flat, t->nref * sizeof(*nf));
		if (!nf)
			goto out; /* out of memory: this call's changes are lost */
		t->flat = nf;
		t->capflat = t->nref;
	}
	for (unsigned i = 0; i < t->n; i++) {
		t->items[i].off = off;
		off += t->items[i].n;
		t->items[i].n = 0;
	}
	for (size_t r = 0; r < t->nref; r++) {
		struct adv_item *it = &t->items[t->ref_item[r]];
		to_bgp_prefix(t->ref_pfx[r], &t->flat[it->off + it->n++]);
	}
	/* Withdrawals and announcements in one pass: a prefix moving between
	 * attribute sets is in one item of its group only, so the order
	 * within the call does not matter. */
	for (unsigned i = 0; i < t->n; i++) {
		struct adv_item *it = &t->items[i];
		const struct exp_group *g = &x->groups[it->group];
		struct bgp_prefix *v = t->flat + it->off;
		size_t l;
		if (type == JOB_GROUP)
			c.target = it->group;
		c.prev = it->prev;
		if (!g->enc.af[it->af]) {
		} else if (!it->stored) {
			c.stored = NULL;
			encode_out(&c, &g->enc, it->af, NULL, 0, v, it->n);
		} else {
			size_t done = 0;
			const uint8_t *ca = canon;
			if (canon_identity(g, it->stored)) {
				ca = it->stored->data;
				l = it->stored->len;
			} else {
				l = canon_export(x, g, it->stored, it->from_ibgp, canon,
				                 sizeof(canon));
			}
			if (l) {
				c.stored = it->stored;
				done = encode_out(&c, &g->enc, it->af, ca, l, v, it->n);
			}
			/* A route the group's messages cannot carry: the
			 * members must not keep the one they had. */
			if (done < it->n && it->prev) {
				c.stored = NULL;
				encode_out(&c, &g->enc, it->af, NULL, 0, v + done, it->n - done);
			}
		}
	}
out:
	for (unsigned i = 0; i < t->n; i++) {
		if (t->items[i].prev)
			attr_unref(t->items[i].prev);
		t->idx[t->items[i].slot] = 0;
	}
	t->n = 0;
	t->nref = 0;
}

static void
cb_changed(void *arg, unsigned shard, const struct rib_change *v, unsigned n)
{
	struct exp *x = arg;
	unsigned ng = atomic_load_explicit(&x->ngroups, memory_order_acquire);
	struct adv_tab *t = &x->adv[shard];

	for (unsigned i = 0; i < n; i++) {
		struct rib_entry *e = v[i].e;
		struct attr_set *prev = v[i].prev; /* what the groups with a bit have */
		const struct rib_path *best = e->best >= 0 ? &rib_paths(e)[e->best] : NULL;
		struct attr_set *want = best ? best->attrs : NULL;
		uint32_t groups = 0;

		for (unsigned g = 0; g < ng; g++) {
			bool ok = best && exportable(&x->groups[g], best);
			bool had = e->adv_groups & (1u << g);
			/* An announcement carries the group's previous route: a
			 * member excluded from the new one gets a withdrawal only
			 * if the previous one was not excluded for it too (no
			 * withdrawal back to the feeder of both). Withdrawals go
			 * to every member: one message per group, not one per
			 * previous route (a full table has ~90,000). */
			if (ok) {
				groups |= 1u << g;
				if (!had || prev != want)
					adv_add(t, g, want, had ? prev : NULL,
					        best->peer->type != RIB_PEER_EBGP, &e->pfx);
			} else if (had) {
				adv_add(t, g, NULL, NULL, false, &e->pfx);
			}
		}
		/* The group Adj-RIB-Out: which groups now have the best
		 * path's set (no reference: the path holds one). */
		e->adv_groups = groups;
	}
	adv_flush(x, shard, JOB_GROUP, 0, 0, t);
	for (unsigned io = 0; io < x->nio; io++)
		job_wake(x, io);
}

static void
cb_dump(void *arg, unsigned shard, uint32_t peer_id, struct rib_entry **v, unsigned n)
{
	struct exp *x = arg;
	int g = atomic_load_explicit(&x->peer_group[peer_id], memory_order_acquire);
	int io = atomic_load_explicit(&x->peer_loop[peer_id], memory_order_acquire);
	struct adv_tab *t = &x->adv[shard];

	if (g < 0 || io < 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct rib_entry *e = v[i];
		const struct rib_path *best = &rib_paths(e)[e->best];
		if (!exportable(&x->groups[g], best))
			continue;
		/* The group now has it: a group created after the entry's
		 * last decision has no bit yet, and without it a later
		 * withdrawal would never reach this member. Dumps run with
		 * no decision pending: the groups have best's set. */
		e->adv_groups |= 1u << g;
		adv_add(t, (unsigned)g, best->attrs, NULL, best->peer->type != RIB_PEER_EBGP,
		        &e->pfx);
	}
	adv_flush(x, shard, JOB_PEER, peer_id, (unsigned)io, t);
	job_wake(x, (unsigned)io);
}

static void
marker(struct exp *x, unsigned shard, int type, uint32_t peer_id, uint32_t gen)
{
	int io = atomic_load_explicit(&x->peer_loop[peer_id], memory_order_acquire);
	struct exp_job *j;

	if (io < 0)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->type = (uint8_t)type;
	j->target = peer_id;
	j->gen = gen;
	job_push(x, shard, (unsigned)io, j);
	job_wake(x, (unsigned)io);
}

static void
cb_dump_done(void *arg, unsigned shard, uint32_t peer_id, uint32_t gen)
{
	marker(arg, shard, JOB_DUMP_DONE, peer_id, gen);
}

static void
cb_peer_gone(void *arg, unsigned shard, uint32_t peer_id)
{
	marker(arg, shard, JOB_GONE, peer_id, 0);
}

static const struct rib_export_ops exp_ops = {
    .changed = cb_changed,
    .dump = cb_dump,
    .dump_done = cb_dump_done,
    .peer_gone = cb_peer_gone,
};

/* ---- io side: delivery
 * ----------------------------------------------------------------------------- */

static struct io_conn *
peer_conn(struct peer *p)
{
	struct bconn *b = p->conn[0];
	if (b && b->fsm.state == FSM_ST_ESTABLISHED && b->tcp)
		return b->tcp->io;
	return NULL;
}

/* A member whose send queue went over the bound. With enhanced route
 * refresh (RFC 7313) it is held: nothing more is queued for it, and once its
 * queue has drained it is resynchronised from the RIB with BoRR, the table
 * and EoRR, so whatever it missed (withdrawals included) is made right
 * without a session reset; a table dump (route refresh, first table) that
 * ends meanwhile waits for that resync to end it (JOB_DUMP_DONE). Without
 * it, the session is reset and the new session's table dump resynchronises
 * it. */
static void
out_of_sync(struct exp *x, struct peer *p)
{
	struct bgp_error e;

	if (p->conn[0] && p->conn[0]->fsm.nego.enh_rrefresh) {
		p->exp.oos = EXP_OOS_WAITING;
		log_warn("peer %s %s: not reading (send queue over %zu bytes): out of sync, "
		         "holding its updates until it drains",
		         p->cp->name, p->addrstr, x->sendq_limit);
		if (!io_timer_armed(&p->sl->oos_timer))
			io_timer_arm(&p->sl->oos_timer, 100);
		return;
	}
	p->exp.oos = EXP_OOS_NONE;
	memset(&e, 0, sizeof(e));
	e.code = BGP_ERR_CEASE;
	e.subcode = BGP_ERR_CEASE_RESOURCES;
	e.reason = "send queue over its bound: out of sync";
	log_warn("peer %s %s: not reading (send queue over %zu bytes): resetting to resync",
	         p->cp->name, p->addrstr, x->sendq_limit);
	snprintf(p->last_error, sizeof(p->last_error), "out of sync: send queue full");
	sess_peer_reset(p, &e);
}

static void
send_buf(struct exp *x, struct peer *p, struct io_buf *b)
{
	struct io_conn *c = peer_conn(p);
	struct io_conn_stats st;

	if (!c || p->exp.group < 0 || p->exp.oos != EXP_OOS_NONE)
		return;
	io_conn_stats(c, &st);
	if (st.sendq_bytes > x->sendq_limit) {
		/* Decided in exp_poll, not here: this may run nested in a
		 * ring wait, where a session reset must not start. */
		if (!p->exp.oos) {
			p->exp.oos = EXP_OOS_OVER;
			p->sl->oos_pending = true;
			io_loop_wake(p->sl->io);
		}
		return;
	}
	if (io_conn_send(c, b) == 0)
		p->st.msgs_out++;
}

/* Did p negotiate family af? Groups send both (group_get). */
static bool
takes_af(const struct peer *p, uint8_t af)
{
	const struct bconn *b = p->conn[0];

	return b && af < BGP_AF_MAX && b->fsm.nego.sess.af[af];
}

/* Per-message exclusions: sender-side loop check, originator (RFC 4456). */
static bool
excluded(const struct peer *p, const struct attr_set *a)
{
	struct bgp_attr at;

	if (!a)
		return false;
	if (p->exp.bgp_id && (a->info.flags & ATTR_F_ORIGINATOR) &&
	    a->info.originator_id == p->exp.bgp_id)
		return true;
	if (!p->cp->ibgp && bgp_attr_find(a->data, a->len, BGP_ATTR_AS_PATH, &at) == 0 &&
	    bgp_aspath_contains(at.val, at.len, p->exp.asn))
		return true;
	return false;
}

static struct io_buf *
withdrawal_for(struct exp *x, const struct exp_job *j, const struct bgp_sess *enc)
{
	static __thread uint8_t scratch[BGP_MAX_EXT_MSG];
	const size_t max = bgp_sess_max_msg(enc);
	const struct bgp_nlri *run;
	struct bgp_update_spec sp;
	struct bgp_update u;
	struct bgp_prefix *v;
	struct bgp_sess s = *enc;
	struct io_buf *b;
	size_t len, pos = 0, n = 0;

	(void)x;
	/* The prefixes are the announcement's own: read them back from the
	 * message we encoded (jobs carry no copy of them). */
	s.af[0] = s.af[1] = 1;
	s.addpath_rx[0] = s.addpath_rx[1] = 0;
	if (bgp_update_decode(j->buf->data, j->buf->len, &s, &u) < 0)
		return NULL;
	run = j->af == BGP_AF_IPV4 && u.nlri.count ? &u.nlri : &u.mp_reach;
	v = malloc((run->count ? run->count : 1) * sizeof(*v));
	if (!v)
		return NULL;
	while (n < run->count && bgp_nlri_next(run, &pos, &v[n]))
		n++;
	memset(&sp, 0, sizeof(sp));
	sp.mp_unreach_af = -1;
	if (run->af == BGP_AF_IPV4) {
		sp.withdrawn = v;
		sp.n_withdrawn = n;
	} else {
		sp.mp_unreach = v;
		sp.n_mp_unreach = n;
		sp.mp_unreach_af = run->af;
	}
	/* Withdrawals are shorter than the announcement they replace. */
	if (bgp_update_encode(&sp, enc, scratch, max, &len) < 0) {
		free(v);
		return NULL;
	}
	free(v);
	b = io_buf_new(len);
	if (!b)
		return NULL;
	memcpy(b->data, scratch, len);
	return b;
}

static void
send_rr(struct peer *p, int af, uint8_t subtype)
{
	struct bconn *b = p->conn[0];
	struct bgp_rrefresh rr = {
	    .afi = bgp_af_afi(af), .subtype = subtype, .safi = BGP_SAFI_UNICAST};
	uint8_t buf[32];
	size_t len;

	if (b && b->tcp && bgp_rrefresh_encode(&rr, buf, sizeof(buf), &len) == 0 &&
	    io_conn_send_copy(b->tcp->io, buf, len) == 0)
		p->st.msgs_out++;
}

static void
send_eor(struct peer *p)
{
	struct bconn *b = p->conn[0];
	const struct bgp_sess *s;
	uint8_t buf[64];
	size_t len;

	if (!b || b->fsm.state != FSM_ST_ESTABLISHED || !b->tcp || p->exp.eor_sent)
		return;
	s = &b->fsm.nego.sess;
	p->exp.eor_sent = true;
	/* RFC 4724 §2: the first table ends with End-of-RIB, also when a route
	 * refresh came before it was complete (the table just sent is). */
	if (!p->exp.refresh_err || !p->exp.eor_first) {
		for (int af = 0; af < BGP_AF_MAX; af++) {
			struct bgp_update_spec sp;
			if (!s->af[af])
				continue;
			memset(&sp, 0, sizeof(sp));
			sp.mp_unreach_af = af == BGP_AF_IPV4 ? -1 : af;
			if (bgp_update_encode(&sp, s, buf, sizeof(buf), &len) == 0 &&
			    io_conn_send_copy(b->tcp->io, buf, len) == 0)
				p->st.msgs_out++;
		}
		p->exp.eor_first = true;
	}
	if (p->exp.refresh_err) {
		/* RFC 7313 §4: the re-advertisement ends with EoRR. */
		for (int af = 0; af < BGP_AF_MAX; af++)
			if (p->exp.refresh_err & (1u << af))
				send_rr(p, af, BGP_RR_EORR);
		p->exp.refresh_err = 0;
	}
}

static void
job_run(struct exp *x, struct sess_loop *sl, struct exp_job *j)
{
	struct peer *p, *next;
	struct io_buf *wd = NULL;

	switch (j->type) {
	case JOB_GROUP:
		for (p = x->members[sl->idx * EXP_MAX_GROUPS + j->target]; p; p = next) {
			/* send_buf may reset p (out of sync) and unlink it. */
			next = p->exp.gnext;
			if (!takes_af(p, j->af))
				continue;
			if (!j->attrs || !excluded(p, j->attrs)) {
				send_buf(x, p, j->buf); /* the announcement, or a withdrawal */
				continue;
			}
			/* Excluded from the new route: p holds something to
			 * withdraw only if the previous route was not excluded
			 * for it as well. */
			if (!j->prev || excluded(p, j->prev))
				continue;
			if (!wd)
				wd = withdrawal_for(x, j, &x->groups[j->target].enc);
			if (wd)
				send_buf(x, p, wd);
		}
		break;
	case JOB_PEER:
		p = x->by_id[j->target];
		if (p && takes_af(p, j->af) && !excluded(p, j->attrs))
			send_buf(x, p, j->buf);
		break;
	case JOB_DUMP_DONE:
		p = x->by_id[j->target];
		/* Only the latest request counts: a shard that finished an
		 * earlier dump before a route refresh asked for another says
		 * so too, and counting it sent End-of-RIB (or EoRR, which
		 * makes the peer drop what was not re-sent yet) too early. */
		if (!p || j->gen != p->exp.dump_gen || ++p->exp.dumps_done != x->nshards)
			break;
		/* Held out of sync: the dump's messages were dropped. EoRR
		 * now would make the peer purge routes it was never re-sent
		 * (RFC 7313 §4), End-of-RIB would call a table complete that
		 * is not (RFC 4724 §2). The resync that ends the hold dumps
		 * the table again and ends the re-advertisement (its BoRR,
		 * if sent, stays the one of this re-advertisement: borr). */
		if (p->exp.oos != EXP_OOS_NONE) {
			log_info("peer %s %s: table sent while out of sync: End-of-RIB/EoRR wait "
			         "for the resync",
			         p->cp->name, p->addrstr);
			break;
		}
		send_eor(p);
		break;
	case JOB_GONE:
		if (++x->gone[j->target] == x->nshards) {
			x->gone[j->target] = 0;
			atomic_store_explicit(&x->peer_loop[j->target], -1, memory_order_relaxed);
			id_release(x, j->target);
		}
		break;
	}
	if (wd)
		io_buf_unref(wd);
	job_free(j);
}

static void pending(struct sess_loop *sl);

/* RFC 7313 §4: a re-advertisement of family af begins with BoRR and ends
 * with EoRR (send_eor). A request that comes while one is under way (BoRR
 * sent, EoRR not yet) joins it: the table dump it asks for (dump_again)
 * supersedes the one under way, whose end is not reported (dump_gen), and
 * the shards merge the walks; the peer gets the whole table after the
 * BoRR it already has and one EoRR after it all. So one BoRR and one EoRR
 * per re-advertisement performed, never a BoRR without its EoRR. */
static void
borr(struct peer *p, int af)
{
	if (p->exp.refresh_err & (1u << af))
		return; /* under way: this request joins it */
	send_rr(p, af, BGP_RR_BORR);
	p->exp.refresh_err |= (uint8_t)(1u << af);
}

/* The whole table to p again, from every shard; End-of-RIB or EoRR when the
 * last shard is done with this request (JOB_DUMP_DONE). */
static void
dump_again(struct exp *x, struct sess_loop *sl, struct peer *p)
{
	struct rib_op op;

	memset(&op, 0, sizeof(op));
	op.type = RIB_OP_DUMP;
	op.peer_id = p->exp.id;
	op.gen = ++p->exp.dump_gen;
	p->exp.dumps_done = 0;
	p->exp.eor_sent = false;
	rib_push_all(x->shards, sl->idx, &op);
	pending(sl);
}

/* Soft reset out towards a member with enhanced route refresh: BoRR per
 * family now (unless a re-advertisement began with one already), one table
 * dump from every shard, EoRR when all are done. */
static void
resync(struct exp *x, struct sess_loop *sl, struct peer *p)
{
	const struct fsm_nego *n = &p->conn[0]->fsm.nego;

	for (int af = 0; af < BGP_AF_MAX; af++)
		if (n->sess.af[af])
			borr(p, af);
	dump_again(x, sl, p);
}

/* sl->oos_timer: held members whose queue drained get resynchronised. */
static void
oos_timer_cb(struct io_timer *t, void *arg)
{
	struct sess_loop *sl = arg;
	struct exp *x = sl->d->exp;
	bool waiting = false;

	(void)t;
	if (!x)
		return;
	for (struct peer *p = sl->peers; p; p = p->next) {
		struct io_conn *c;
		struct io_conn_stats st;
		if (p->exp.oos != EXP_OOS_WAITING)
			continue;
		if (!(c = peer_conn(p))) {
			p->exp.oos = EXP_OOS_NONE;
			continue;
		}
		io_conn_stats(c, &st);
		if (st.sendq_bytes > x->sendq_limit / 4) {
			waiting = true;
			continue;
		}
		p->exp.oos = EXP_OOS_NONE;
		log_info("peer %s %s: drained: resynchronising from the RIB (BoRR, table, EoRR)",
		         p->cp->name, p->addrstr);
		resync(x, sl, p);
	}
	if (waiting)
		io_timer_arm(&sl->oos_timer, 100);
}

/* Deliveries (message x member) per poll: one job can go to thousands of
 * members, and the loop must get to flushing and reaping in between, or the
 * send queues of a large fan-out fill memory faster than the kernel takes
 * them (2,000 members x 20,000 messages is 40 M deliveries). */
#define DRAIN_DELIVERIES 65536

static void
drain_jobs(struct exp *x, struct sess_loop *sl)
{
	unsigned sent = 0;

	for (unsigned sh = 0; sh < x->nshards; sh++) {
		struct rh_spsc *r = &x->rings[sh * x->nio + sl->idx];
		struct exp_job *j;
		for (unsigned k = 0; k < 4096 && sent < DRAIN_DELIVERIES; k++) {
			if (!rh_spsc_get(r, &j))
				break;
			sent += j->type == JOB_GROUP ? sl->nmembers[j->target] + 1 : 1;
			job_run(x, sl, j);
		}
	}
}

/* rib_shards_conf.wait: the io thread waits for a full ring to a shard;
 * meanwhile it takes the jobs that shard may be blocked on. */
static void
wait_cb(void *arg, unsigned io)
{
	struct exp *x = arg;
	struct timespec ts = {0, 20000};

	drain_jobs(x, &x->d->loops[io]);
	nanosleep(&ts, NULL);
}

void
exp_poll(struct exp *x, struct sess_loop *sl)
{
	exp_flush(x, sl);
	/* Bounded per call (drain_jobs): other work of the loop gets its
	 * turn; what is left brings us back. */
	drain_jobs(x, sl);
	for (unsigned sh = 0; sh < x->nshards; sh++)
		if (rh_spsc_size(&x->rings[sh * x->nio + sl->idx]) > 0)
			io_loop_wake(sl->io);
	if (sl->oos_pending) {
		sl->oos_pending = false;
		for (struct peer *p = sl->peers, *next; p; p = next) {
			next = p->next; /* out_of_sync may free a dynamic p */
			if (p->exp.oos == EXP_OOS_OVER)
				out_of_sync(x, p);
		}
	}
	attr_thread_poll();
}

void
exp_flush(struct exp *x, struct sess_loop *sl)
{
	if (!x || !sl->rib_pending)
		return;
	sl->rib_pending = false;
	rib_flush(x->shards, sl->idx);
}

static void
pending(struct sess_loop *sl)
{
	if (!sl->rib_pending) {
		sl->rib_pending = true;
		/* The poll callback runs after this round: one flush per burst. */
		io_loop_wake(sl->io);
	}
}

/* ---- io side: ingest
 * --------------------------------------------------------------------------------- */

/* What the decision and export need of a canonical set; *aspath gets its
 * AS_PATH (left alone when there is none), for the loop check. */
static void
info_of(const struct bgp_update *u, const uint8_t *canon, size_t len, struct attr_info *i,
        struct bgp_attr *aspath)
{
	const struct bgp_attrs *a = &u->attrs;
	struct bgp_attr at;

	memset(i, 0, sizeof(*i));
	i->origin = a->origin;
	if (a->mask & (1ull << BGP_ATTR_MED)) {
		i->flags |= ATTR_F_MED;
		i->med = a->med;
	}
	if (a->mask & (1ull << BGP_ATTR_LOCAL_PREF)) {
		i->flags |= ATTR_F_LOCAL_PREF;
		i->local_pref = a->local_pref;
	}
	if (a->mask & (1ull << BGP_ATTR_ATOMIC_AGGREGATE))
		i->flags |= ATTR_F_ATOMIC_AGGR;
	/* One walk of the stored bytes (canonical: each type once, in order). */
	for (struct bgp_attr_iter it = {canon, len, 0}; bgp_attr_next(&it, &at) == 1;) {
		switch (at.type) {
		case BGP_ATTR_AS_PATH:
			*aspath = at;
			i->aspath_len = (uint16_t)bgp_aspath_count(at.val, at.len);
			i->neighbor_as = bgp_aspath_first(at.val, at.len);
			for (size_t k = 0; k + 2 <= at.len; k += 2 + (size_t)at.val[k + 1] * 4)
				if (at.val[k] == BGP_ASPATH_SET)
					i->flags |= ATTR_F_AS_SET;
			break;
		case BGP_ATTR_ORIGINATOR_ID:
			if (at.len == 4) {
				i->flags |= ATTR_F_ORIGINATOR;
				i->originator_id = (uint32_t)at.val[0] << 24 |
				                   (uint32_t)at.val[1] << 16 |
				                   (uint32_t)at.val[2] << 8 | at.val[3];
			}
			/* fall through */
		case BGP_ATTR_LOCAL_PREF:
		case BGP_ATTR_CLUSTER_LIST:
			/* There, accepted or not (an eBGP peer's LOCAL_PREF
			 * is kept but not used): an eBGP group's transform
			 * must drop it. */
			i->flags |= ATTR_F_IBGP_ATTRS;
			break;
		case BGP_ATTR_MP_REACH_NLRI:
			i->flags |= ATTR_F_MP_REACH;
			break;
		}
	}
	i->cluster_len = (uint16_t)(a->cluster_list.len / 4);
	if (a->communities.len) {
		for (size_t k = 0; k + 4 <= a->communities.len; k += 4) {
			const uint8_t *c = a->communities.p + k;
			uint32_t v = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
			             (uint32_t)c[2] << 8 | c[3];
			if (v == BGP_COMM_NO_ADVERTISE)
				i->flags |= ATTR_F_NO_ADVERTISE;
			else if (v == BGP_COMM_NO_EXPORT)
				i->flags |= ATTR_F_NO_EXPORT;
			else if (v == BGP_COMM_NO_EXPORT_SUBCONFED)
				i->flags |= ATTR_F_NO_EXPORT_SUB;
			else if (v == BGP_COMM_NO_PEER)
				i->flags |= ATTR_F_NO_PEER;
		}
	}
}

static void
push_prefix(struct exp *x, struct sess_loop *sl, struct peer *p, const struct bgp_prefix *pf,
            struct attr_set *a)
{
	struct rib_op op;

	op.type = a ? RIB_OP_ANNOUNCE : RIB_OP_WITHDRAW;
	op.af = pf->af;
	op.len = pf->len;
	op.pad = 0;
	op.peer_id = p->exp.id;
	op.path_id = pf->path_id;
	memcpy(op.addr, pf->addr, 16);
	op.attrs = a;
	rib_push(x->shards, sl->idx, rib_shard_of(x->shards, pf->af, pf->len, pf->addr), &op);
}

/* Withdraw every prefix of a run; keep the held set exact. */
static void
withdraw_run(struct exp *x, struct sess_loop *sl, struct peer *p, const struct bgp_nlri *n)
{
	struct bgp_prefix pf;
	size_t pos = 0;

	while (bgp_nlri_next(n, &pos, &pf)) {
		if (p->exp.held) {
			struct pfx_key k;
			pfx_key_of(&k, &pf);
			if (pfx_del(p->exp.held, &k))
				p->exp.routes--;
		}
		push_prefix(x, sl, p, &pf, NULL);
	}
}

/* Hold the prefixes of an announcement run (max_routes counting). A prefix
 * counts once however often the UPDATE lists it: the same NLRI twice, or an
 * IPv4 prefix in both the NLRI field and MP_REACH_NLRI, is one route of the
 * Adj-RIB-In (RFC 4271 §3.2), not two. A held prefix marked stale by the
 * peer's BoRR is re-announced: its mark goes, as the shards clear their
 * path's (RFC 7313 §4), and it stays at EoRR. -1: out of memory. */
static int
held_add_run(struct peer *p, const struct bgp_nlri *n)
{
	struct bgp_prefix pf;
	size_t pos = 0;

	while (bgp_nlri_next(n, &pos, &pf)) {
		struct pfx_key k;
		int r;
		pfx_key_of(&k, &pf);
		if ((r = pfx_add(p->exp.held, &k)) < 0)
			return -1;
		if (r == 1) /* not held yet (2: held, its stale mark cleared) */
			p->exp.routes++;
	}
	return 0;
}

/* The peer's BoRR (begin) or EoRR for family af, as the shards apply it
 * (rib/shard.c RIB_OP_STALE_BEGIN / _END), so that the count stays their
 * Adj-RIB-In size. BoRR marks every held prefix of af stale, those marked
 * already and those re-announced since an earlier BoRR included (a BoRR
 * before the EoRR starts over); EoRR takes out those still marked, and
 * without a BoRR before it finds none. A session that goes down frees the
 * set (exp_peer_down), marks and all. Cost: the set's size, as the shards'
 * walk of the peer's paths. */
static void
held_stale(struct peer *p, int af, bool begin)
{
	struct pfx_set *s = p->exp.held;

	for (uint32_t j = 0; j < s->cap; j++) {
		struct pfx_key *e = &s->v[j];
		if (e->used != 1 || e->af != af)
			continue;
		if (begin) {
			e->stale = 1;
		} else if (e->stale) {
			e->used = 2;
			s->n--;
			s->tomb++;
			p->exp.routes--;
		}
	}
}

/* The announcements of u (the runs with an attribute set in a[]) enter the
 * held set, each counted once; then the limit. 0: taken (within it, or over
 * it with max_routes_action warn). -1: refused, *err set: Cease/Maximum
 * Number of Prefixes, or Out of Resources when they could not be counted.
 * Nothing is taken back: the caller resets the session (FSM_EV_UPDATE_ERR),
 * whose end frees the set (exp_peer_down). */
static int
held_add(struct peer *p, const struct bgp_update *u, struct attr_set *const a[2],
         struct bgp_error *err)
{
	const struct bgp_nlri *ann[2] = {&u->nlri, &u->mp_reach};

	memset(err, 0, sizeof(*err));
	for (int r = 0; r < 2; r++)
		if (a[r] && held_add_run(p, ann[r]) < 0)
			goto nomem;
	/* Maximum routes (the reference's per-peer limit): the routes held
	 * with the new ones of this UPDATE; over the limit the session goes,
	 * unless the action is warn: then they are taken (exp_peer_limit). */
	if (p->cp->max_routes && p->exp.routes > p->cp->max_routes &&
	    p->cp->max_routes_action != CFG_MAXR_WARN) {
		err->code = BGP_ERR_CEASE;
		err->subcode = BGP_ERR_CEASE_MAX_PREFIX;
		/* RFC 4486 §4: AFI, SAFI, upper bound. */
		err->buf[0] = 0;
		err->buf[1] = u->mp_reach.count ? u->mp_reach.af + 1 : 1;
		err->buf[2] = 1;
		put32be(err->buf + 3, p->cp->max_routes);
		err->data = err->buf;
		err->data_len = 7;
		err->reason = "maximum number of prefixes reached";
		return -1;
	}
	return 0;
nomem:
	/* The count could no longer be exact, nor the limit hold. */
	log_error("peer %s %s: out of memory counting its routes", p->cp->name, p->addrstr);
	err->code = BGP_ERR_CEASE;
	err->subcode = BGP_ERR_CEASE_RESOURCES;
	err->reason = "out of memory counting the routes held";
	return -1;
}

/* The attribute set of u's announcements: canonical, checked for loops
 * (RFC 4271 §9.1.2; RFC 4456 §8 from internal peers, where ORIGINATOR_ID is
 * added when missing), interned. NULL: the routes are to be withdrawn. */
static struct attr_set *
ingest_attrs(struct exp *x, struct peer *p, const struct bgp_update *u)
{
	static __thread uint8_t canon[BGP_CANON_MAX];
	static __thread uint8_t canon2[BGP_CANON_MAX / 2 + 64];
	const uint8_t *c = canon;
	struct attr_info info;
	struct bgp_attr at, aspath = {0};
	size_t len;

	if (bgp_attrs_canon(u, canon, sizeof(canon), &len) < 0)
		return NULL;
	info_of(u, canon, len, &info, &aspath);
	/* RFC 4271 §9.1.2: our own AS in the path is a loop; such a route
	 * takes no part in the decision. */
	if (aspath.val && bgp_aspath_contains(aspath.val, aspath.len, x->local_as))
		return NULL;
	if (p->cp->ibgp) {
		/* RFC 4456 §8: loops through us are dropped. */
		if ((info.flags & ATTR_F_ORIGINATOR) && info.originator_id == p->cfg->router_id)
			return NULL;
		if (bgp_attr_find(canon, len, BGP_ATTR_CLUSTER_LIST, &at) == 0)
			for (size_t k = 0; k + 4 <= at.len; k += 4)
				if (((uint32_t)at.val[k] << 24 | (uint32_t)at.val[k + 1] << 16 |
				     (uint32_t)at.val[k + 2] << 8 | at.val[k + 3]) == x->cluster_id)
					return NULL;
		if (!(info.flags & ATTR_F_ORIGINATOR)) {
			size_t l2 =
			    canon_add_originator(canon, len, canon2, sizeof(canon2), p->exp.bgp_id);
			if (l2) {
				c = canon2;
				len = l2;
				info.flags |= ATTR_F_ORIGINATOR | ATTR_F_IBGP_ATTRS;
				info.originator_id = p->exp.bgp_id;
			}
		}
	}
	return attr_intern(c, len, bgp_attrs_hash(c, len), &info);
}

int
exp_ingest(struct exp *x, struct sess_loop *sl, struct peer *p, const struct bgp_update *u,
           struct bgp_error *err)
{
	const struct bgp_nlri *ann[2] = {&u->nlri, &u->mp_reach};
	struct attr_set *a[2] = {NULL, NULL};

	if (!x || !p->exp.id)
		return 0;
	withdraw_run(x, sl, p, &u->withdrawn);
	withdraw_run(x, sl, p, &u->mp_unreach);
	if (!u->nlri.count && !u->mp_reach.count)
		goto out;

	if (u->action == BGP_ACT_WITHDRAW) {
		/* RFC 7606 §2: treat-as-withdraw. */
	} else if (u->nlri.count && (u->attrs.mask & (1ull << BGP_ATTR_MP_REACH_NLRI))) {
		/* IPv4 NLRI and an MP_REACH_NLRI in one UPDATE (RFC 4760 §3
		 * allows it; the attribute may even carry no prefix): each run
		 * gets its own set. The NLRI field's has no MP_REACH_NLRI, whose
		 * next hop and family are not its own (the encoder would put its
		 * prefixes inside that attribute); the MP run's has no NEXT_HOP,
		 * which belongs to the NLRI field. */
		struct bgp_update v = *u;
		v.attrs.mask &= ~(1ull << BGP_ATTR_MP_REACH_NLRI);
		a[0] = ingest_attrs(x, p, &v);
		if (u->mp_reach.count) {
			v = *u;
			v.attrs.mask &= ~(1ull << BGP_ATTR_NEXT_HOP);
			a[1] = ingest_attrs(x, p, &v);
		}
	} else {
		a[0] = ingest_attrs(x, p, u);
		a[1] = a[0] ? attr_ref(a[0]) : NULL;
	}
	/* The held set (max_routes) first: nothing of the announcements of
	 * an UPDATE that is refused reaches the shards. */
	if (p->exp.held && held_add(p, u, a, err) < 0) {
		for (int r = 0; r < 2; r++)
			if (a[r])
				attr_unref(a[r]);
		pending(sl);
		return -1;
	}
	for (int r = 0; r < 2; r++) {
		struct bgp_prefix pf;
		size_t pos = 0;
		if (!a[r]) {
			withdraw_run(x, sl, p, ann[r]);
			continue;
		}
		/* One reference per prefix, taken at once: the set's count
		 * is a cache line the shards write too. */
		unsigned left = ann[r]->count;
		attr_ref_n(a[r], left);
		while (bgp_nlri_next(ann[r], &pos, &pf)) {
			if (left == 0) /* count and prefixes disagree: never */
				attr_ref(a[r]);
			else
				left--;
			push_prefix(x, sl, p, &pf, a[r]);
		}
		while (left-- > 0)
			attr_unref(a[r]);
		attr_unref(a[r]);
	}
out:
	exp_peer_limit(p);
	pending(sl);
	return 0;
}

void
exp_peer_limit(struct peer *p)
{
	const struct cfg_peer *cp = p->cp;
	bool over = p->exp.held && cp->max_routes && p->exp.routes > cp->max_routes;

	/* teardown: an UPDATE over the limit closes the session (held_add);
	 * nothing to report here. */
	if (cp->max_routes_action != CFG_MAXR_WARN) {
		p->exp.over_limit = false;
		return;
	}
	/* warn: once per crossing, not once per UPDATE over the limit. */
	if (over == p->exp.over_limit)
		return;
	p->exp.over_limit = over;
	if (over)
		log_warn("peer %s %s: over its route limit: %u routes held, max_routes %u "
		         "(max_routes_action warn: routes taken, session kept)",
		         cp->name, p->addrstr, p->exp.routes, cp->max_routes);
	else
		log_info("peer %s %s: back within its route limit: %u routes held, max_routes %u",
		         cp->name, p->addrstr, p->exp.routes, cp->max_routes);
}

/* ---- io side: peer lifecycle
 * ---------------------------------------------------------------------------- */

/* The session cannot be served: Cease/Out of Resources (RFC 4486 §4,
 * subcode 8), with the reason for the log. */
static int
refuse_session(struct peer *p, struct bgp_error *err, const char *why)
{
	log_error("peer %s %s: %s: refusing the session (Cease/Out of Resources)", p->cp->name,
	          p->addrstr, why);
	memset(err, 0, sizeof(*err));
	err->code = BGP_ERR_CEASE;
	err->subcode = BGP_ERR_CEASE_RESOURCES;
	err->reason = why;
	return -1;
}

int
exp_peer_up(struct exp *x, struct sess_loop *sl, struct peer *p, struct bgp_error *err)
{
	const struct bconn *b = p->conn[0];
	const struct fsm_nego *n = &b->fsm.nego;
	struct rib_peer *rp;
	struct rib_op op;
	enum exp_kind kind;
	int g;
	uint32_t id;

	if (!x)
		return 0;
	if (p->exp.id)
		exp_peer_down(x, sl, p);
	/* Without an id, a group and a rib_peer the session would stay up
	 * with no route either way: it is refused instead. */
	id = id_alloc(x);
	if (!id)
		return refuse_session(p, err, "no rib peer id left");
	kind = p->cp->role == CFG_ROLE_RR_CLIENT ? EXP_KIND_RR_CLIENT
	       : p->cp->ibgp                     ? EXP_KIND_IBGP
	                                         : EXP_KIND_EBGP;
	g = group_get(x, kind, p->cp->transparent, &n->sess);
	if (g < 0) {
		id_release(x, id);
		return refuse_session(p, err, "too many update groups");
	}
	rp = calloc(1, sizeof(*rp));
	if (!rp) {
		id_release(x, id);
		return refuse_session(p, err, "out of memory for its rib peer");
	}
	/* With a route limit, its count: without the set the limit would not
	 * hold, so no set, no session. */
	p->exp.held = NULL;
	if (p->cp->max_routes && !(p->exp.held = calloc(1, sizeof(*p->exp.held)))) {
		free(rp);
		id_release(x, id);
		return refuse_session(p, err, "out of memory for its route count");
	}
	rp->id = id;
	rp->type = kind == EXP_KIND_EBGP        ? RIB_PEER_EBGP
	           : kind == EXP_KIND_RR_CLIENT ? RIB_PEER_RR_CLIENT
	                                        : RIB_PEER_IBGP;
	rp->asn = n->peer_as;
	rp->router_id = n->peer_id;
	rp->addr_af = p->addr.family == AF_INET ? BGP_AF_IPV4 : BGP_AF_IPV6;
	memcpy(rp->addr, p->addr.addr, 16);
	rp->role = (uint8_t)p->cp->role;
	atomic_init(&rp->refs, x->nshards);

	p->exp.id = id;
	p->exp.group = g;
	p->exp.dumps_done = 0;
	p->exp.eor_sent = false;
	p->exp.eor_first = false;
	p->exp.refresh_err = 0;
	p->exp.oos = EXP_OOS_NONE;
	p->exp.asn = n->peer_as;
	p->exp.bgp_id = n->peer_id;
	p->exp.routes = 0;
	p->exp.over_limit = false;
	x->by_id[id] = p;
	x->gone[id] = 0;
	atomic_store_explicit(&x->peer_loop[id], (int)sl->idx, memory_order_release);
	atomic_store_explicit(&x->peer_group[id], g, memory_order_release);
	/* Member of its group on this loop. */
	p->exp.gprev = NULL;
	p->exp.gnext = x->members[sl->idx * EXP_MAX_GROUPS + g];
	if (p->exp.gnext)
		p->exp.gnext->exp.gprev = p;
	x->members[sl->idx * EXP_MAX_GROUPS + g] = p;
	sl->nmembers[g]++;

	memset(&op, 0, sizeof(op));
	op.type = RIB_OP_PEER_UP;
	op.peer_id = id;
	op.peer = rp;
	rib_push_all(x->shards, sl->idx, &op);
	op.type = RIB_OP_DUMP;
	op.peer = NULL;
	op.gen = ++p->exp.dump_gen;
	rib_push_all(x->shards, sl->idx, &op);
	pending(sl);
	return 0;
}

void
exp_peer_down(struct exp *x, struct sess_loop *sl, struct peer *p)
{
	struct rib_op op;
	uint32_t id = p->exp.id;

	if (!x)
		return;
	if (!id)
		return;
	if (p->exp.group >= 0) {
		sl->nmembers[p->exp.group]--;
		if (p->exp.gprev)
			p->exp.gprev->exp.gnext = p->exp.gnext;
		else
			x->members[sl->idx * EXP_MAX_GROUPS + p->exp.group] = p->exp.gnext;
		if (p->exp.gnext)
			p->exp.gnext->exp.gprev = p->exp.gprev;
	}
	p->exp.gnext = p->exp.gprev = NULL;
	p->exp.group = -1;
	x->by_id[id] = NULL;
	atomic_store_explicit(&x->peer_group[id], -1, memory_order_release);
	memset(&op, 0, sizeof(op));
	op.type = RIB_OP_PEER_DOWN;
	op.peer_id = id;
	rib_push_all(x->shards, sl->idx, &op);
	p->exp.id = 0;
	if (p->exp.held) {
		free(p->exp.held->v);
		free(p->exp.held);
		p->exp.held = NULL;
	}
	p->exp.routes = 0;
	p->exp.over_limit = false;
	pending(sl);
}

void
exp_peer_stale(struct exp *x, struct sess_loop *sl, struct peer *p, int af, bool begin)
{
	struct rib_op op;

	if (!x)
		return;
	if (!p->exp.id)
		return;
	memset(&op, 0, sizeof(op));
	op.type = begin ? RIB_OP_STALE_BEGIN : RIB_OP_STALE_END;
	op.af = (uint8_t)af;
	op.peer_id = p->exp.id;
	rib_push_all(x->shards, sl->idx, &op);
	/* The count of max_routes follows: the swept routes are no longer
	 * held (with warn, that may bring the peer back within its limit). */
	if (p->exp.held) {
		held_stale(p, af, begin);
		exp_peer_limit(p);
	}
	pending(sl);
}

void
exp_peer_resend(struct exp *x, struct sess_loop *sl, struct peer *p, int af)
{
	if (!x)
		return;
	if (!p->exp.id)
		return;
	/* RFC 7313 §4: BoRR, the Adj-RIB-Out, then EoRR: the peer drops
	 * whatever we did not re-send. One BoRR per re-advertisement, not
	 * per request (borr). */
	if (p->conn[0] && p->conn[0]->fsm.nego.enh_rrefresh)
		borr(p, af);
	dump_again(x, sl, p);
}

/* ---- lifecycle
 * ---------------------------------------------------------------------------------------------- */

static void
poll_cb(struct io_loop *l, void *arg)
{
	struct sess_loop *sl = arg;
	(void)l;
	exp_poll(sl->d->exp, sl);
}

/* jemalloc's control interface (routehubd links jemalloc; the tests and
 * sanitizer builds use the C library's malloc, where this is NULL). */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* rib_shards_conf.trim: after a burst, return the allocator's free pages
 * (the burst's batches and encoded messages) to the system at once, rather
 * than over its decay time: the tree's growth at the end of the burst then
 * reuses pages instead of adding to them. One call a burst, not a free. */
static void
mem_trim(void)
{
	if (mallctl)
		mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: MALLCTL_ARENAS_ALL */
}

int
exp_new(struct exp **out, struct rh_daemon *d, unsigned nio, unsigned nshards, uint32_t local_as,
        uint32_t router_id, uint32_t cluster_id)
{
	struct exp *x = calloc(1, sizeof(*x));
	struct rib_shards_conf c;

	if (!x)
		return -1;
	x->d = d;
	x->nio = nio;
	x->nshards = nshards;
	x->local_as = local_as;
	x->router_id = router_id;
	x->cluster_id = cluster_id;
	x->next_id = 1;
	x->sendq_limit = EXP_SENDQ_LIMIT;
	if (getenv("RH_SENDQ_LIMIT") && atol(getenv("RH_SENDQ_LIMIT")) > 0)
		x->sendq_limit = (size_t)atol(getenv("RH_SENDQ_LIMIT"));
	/* Test hook, read once here: RH_MAX_PEER_IDS=N hands out at most N
	 * peer ids, so that running out of them (RIB_MAX_PEERS - 1 sessions:
	 * id 0 means none) can be tested with a few sessions
	 * (tests/integration/test_peer_ids.py). Not a tuning knob. Default
	 * and ceiling: every id. */
	x->id_limit = RIB_MAX_PEERS;
	if (getenv("RH_MAX_PEER_IDS")) {
		char *end;
		unsigned long n;
		errno = 0;
		n = strtoul(getenv("RH_MAX_PEER_IDS"), &end, 10);
		if (errno || end == getenv("RH_MAX_PEER_IDS") || *end != '\0' || n == 0 ||
		    n >= RIB_MAX_PEERS)
			log_warn("RH_MAX_PEER_IDS=%s ignored: not a number in 1..%u",
			         getenv("RH_MAX_PEER_IDS"), RIB_MAX_PEERS - 1);
		else
			x->id_limit = (uint32_t)n + 1;
	}
	pthread_mutex_init(&x->mu, NULL);
	x->free_ids = calloc(RIB_MAX_PEERS, sizeof(*x->free_ids));
	x->by_id = calloc(RIB_MAX_PEERS, sizeof(*x->by_id));
	x->gone = calloc(RIB_MAX_PEERS, 1);
	x->members = calloc((size_t)nio * EXP_MAX_GROUPS, sizeof(*x->members));
	x->rings = calloc((size_t)nshards * nio, sizeof(*x->rings));
	x->adv = calloc(nshards, sizeof(*x->adv));
	if (!x->free_ids || !x->by_id || !x->gone || !x->members || !x->rings || !x->adv)
		goto fail;
	for (unsigned i = 0; i < RIB_MAX_PEERS; i++) {
		atomic_init(&x->peer_group[i], -1);
		atomic_init(&x->peer_loop[i], -1);
	}
	for (size_t i = 0; i < (size_t)nshards * nio; i++) {
		if (rh_spsc_init(&x->rings[i], JOB_RING_SLOTS) < 0)
			goto fail;
	}
	memset(&c, 0, sizeof(c));
	c.nshards = nshards;
	c.nio = nio;
	/* 256 batches of up to 512 ops per (io, shard): at most ~5 MB queued
	 * before an io thread waits for its shard. */
	c.ring_slots = 64;
	c.wait = wait_cb;
	c.wait_arg = x;
	c.decide.ecmp_through = RIB_STEP_AS_PATH;
	c.exp = &exp_ops;
	c.exp_arg = x;
	c.trim = mem_trim;
	c.trim_ops = 65536;
	if (rib_shards_new(&x->shards, &c) < 0)
		goto fail;
	for (unsigned i = 0; i < nio; i++) {
		io_loop_set_poll(d->loops[i].io, poll_cb, &d->loops[i]);
		io_timer_init(&d->loops[i].oos_timer, d->loops[i].io, oos_timer_cb, &d->loops[i]);
	}
	*out = x;
	return 0;
fail:
	exp_free(x);
	return -1;
}

int
exp_start(struct exp *x)
{
	return rib_shards_start(x->shards);
}

void
exp_stop(struct exp *x)
{
	if (!x)
		return;
	atomic_store_explicit(&x->stopping, 1, memory_order_release);
	rib_shards_stop(x->shards);
}

struct rib_shards *
exp_shards(struct exp *x)
{
	return x->shards;
}

void
exp_free(struct exp *x)
{
	if (!x)
		return;
	if (x->shards)
		rib_shards_free(x->shards);
	for (size_t i = 0; x->rings && i < (size_t)x->nshards * x->nio; i++) {
		struct exp_job *j;
		if (!x->rings[i].buf)
			continue;
		while (rh_spsc_get(&x->rings[i], &j))
			job_free(j);
		rh_spsc_fini(&x->rings[i]);
	}
	free(x->rings);
	for (unsigned i = 0; x->adv && i < x->nshards; i++) {
		free(x->adv[i].items);
		free(x->adv[i].idx);
		free(x->adv[i].ref_item);
		free(x->adv[i].ref_pfx);
		free(x->adv[i].flat);
	}
	free(x->adv);
	free(x->members);
	free(x->gone);
	free(x->by_id);
	free(x->free_ids);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
