/*
 * shard.c — shard workers: the owners of the RIB's prefixes.
 *
 * Each worker thread owns one struct shard: a radix tree per family, every
 * path in them, the per-peer index (for each peer, the entries where it has
 * a path, so a hard reset costs what the peer had), the dirty list and the
 * table dumps in progress. It consumes batches of ops from one SPSC ck_ring
 * per io thread, applies them, runs the decision process over the prefixes
 * that changed (only those), and hands the changes to the export callback.
 * Then it frees entries left with no path and nothing advertised.
 *
 * Wake-up: a worker with nothing to do sets `sleeping` and blocks on its
 * eventfd; a producer that pushed a batch checks `sleeping` after a full
 * fence and writes the eventfd (see rib_flush). Queries from control threads
 * go through a mutex-protected list: the control path, not the UPDATE path.
 *
 * The trees' deferred linking (radix.c) runs once the worker has had
 * nothing to do for SYNC_IDLE_MS: a burst's changes are still being sent
 * and received right after it, and on few cores the linking would take its
 * CPU from them; its memory (split points) then also comes after the
 * burst's encoded messages are gone. Walks and lookups by address link
 * first, so nothing waits on it but memory: SYNC_DEAD_MAX removed entries
 * at most stay unlinked (their nodes are reused only after).
 *
 * Invariants: an op is applied by the shard that owns its prefix; a path's
 * idx is its slot in peers[peer id]->v; e->best is -1 or a valid index after
 * each decision round.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "routehub/shard.h"
#include "routehub/spsc.h"

#define DUMP_CHUNK    512
#define DRAIN_BUDGET  64    /* batches per ring per round: keeps decisions flowing */
#define DECIDE_CHUNK  4096  /* entries per export call */
#define SYNC_IDLE_MS  50    /* idle time before the trees' deferred linking */
#define SYNC_DEAD_MAX 65536 /* removed entries left unlinked, at most */

/* The per-peer index: the entries where the peer has a path, in blocks of
 * IDX_BLOCK (no reallocation of a table-sized array, at most one block of
 * slack). An entry is named in 4 bytes: its family, then its tree's handle. */
#define IDX_SHIFT 12
#define IDX_BLOCK (1u << IDX_SHIFT)
struct shard_peer {
	struct rib_peer *p;
	uint32_t **blk; /* [nblk] blocks of IDX_BLOCK */
	uint32_t n, nblk, capblk;
};

static inline uint32_t *
idx_at(const struct shard_peer *sp, uint32_t i)
{
	return &sp->blk[i >> IDX_SHIFT][i & (IDX_BLOCK - 1)];
}

static void
idx_free(struct shard_peer *sp)
{
	for (uint32_t b = 0; b < sp->nblk; b++)
		free(sp->blk[b]);
	free(sp->blk);
}

struct dump {
	struct dump *next;
	uint32_t peer_id;
	uint32_t gen; /* the request's (rib_op.gen) */
	uint8_t af;
	struct rib_prefix cursor;
	bool started;
};

struct ctl {
	struct ctl *next;
	void (*fn)(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6);
	void *arg;
	int *pending;
};

struct shard {
	struct rib_shards *s;
	unsigned idx;
	pthread_t thread;
	struct rib_tree *tree[2];
	struct rh_spsc *in; /* one per io thread */
	int efd;
	atomic_int sleeping;
	atomic_int stop;
	struct shard_peer **peers; /* by peer id */
	/* entries whose paths changed since the last decision round, in the
	 * order they first changed (RIB_E_DIRTY marks them); dirty_lost: one
	 * could not be recorded (out of memory), a tree walk finds it */
	struct rib_change *dirty;
	size_t ndirty, capdirty;
	bool dirty_lost;
	struct dump *dumps;
	pthread_mutex_t ctl_mu;
	struct ctl *ctl;
	atomic_int ctl_pending;
	/* stats: written by the shard, read by queries on the shard itself */
	uint64_t ops, batches, decisions, changes, paths;
	uint64_t ops_trimmed; /* ops when conf.trim last ran */
	bool trim_again;      /* trim once more before the trees are linked */
	int64_t busy_ms;      /* when ops were last applied (CLOCK_MONOTONIC) */
};

struct rib_shards {
	struct rib_shards_conf c;
	struct shard *sh;
	/* open batches: [io][shard], each written by io thread `io` only */
	struct rib_batch **open;
	pthread_mutex_t q_mu; /* queries' completion */
	pthread_cond_t q_cv;
	int started;
};

/* ---- peers ----------------------------------------------------------------------- */

static void
rib_peer_unref(struct rib_peer *p)
{
	/* acq_rel: the last owner must see every other owner's use finished. */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

static inline uint32_t
idx_name(const struct shard *sh, const struct rib_entry *e)
{
	return (uint32_t)e->pfx.af << 31 | rib_tree_handle(sh->tree[e->pfx.af], e);
}

static inline struct rib_entry *
idx_entry(const struct shard *sh, uint32_t v)
{
	return rib_tree_entry(sh->tree[v >> 31], v & 0x7fffffffu);
}

/* The entry in slot i of sp's index. */
static inline struct rib_entry *
idx_get(const struct shard *sh, const struct shard_peer *sp, uint32_t i)
{
	return idx_entry(sh, *idx_at(sp, i));
}

static int
index_add(const struct shard *sh, struct shard_peer *sp, struct rib_entry *e, struct rib_path *path)
{
	if (sp->n >= RIB_PATH_IDX_MAX)
		return -1;
	if (sp->n == sp->nblk * IDX_BLOCK) {
		if (sp->nblk == sp->capblk) {
			uint32_t nc = sp->capblk ? sp->capblk * 2 : 4;
			uint32_t **nv = realloc(sp->blk, nc * sizeof(*nv));
			if (!nv)
				return -1;
			sp->blk = nv;
			sp->capblk = nc;
		}
		if (!(sp->blk[sp->nblk] = malloc(IDX_BLOCK * sizeof(uint32_t))))
			return -1;
		sp->nblk++;
	}
	path->idx = sp->n;
	*idx_at(sp, sp->n++) = idx_name(sh, e);
	return 0;
}

static struct rib_path *
path_find(struct rib_entry *e, const struct rib_peer *p, uint32_t path_id)
{
	struct rib_path *v = rib_paths(e);

	for (unsigned i = 0; i < e->npaths; i++)
		if (v[i].peer == p && v[i].path_id == path_id)
			return &v[i];
	return NULL;
}

/* Remove slot idx of sp's index: the last slot moves in; its path learns. */
static void
index_del(const struct shard *sh, struct shard_peer *sp, uint32_t idx)
{
	uint32_t last = sp->n - 1;

	if (idx != last) {
		struct rib_entry *m = idx_get(sh, sp, last);
		struct rib_path *v = rib_paths(m);
		*idx_at(sp, idx) = *idx_at(sp, last);
		for (unsigned i = 0; i < m->npaths; i++) {
			if (v[i].peer == sp->p && v[i].idx == last) {
				v[i].idx = idx;
				break;
			}
		}
	}
	sp->n--;
	/* Keep one spare block: a peer flapping a route at a block's
	 * boundary does not allocate each time. */
	if (sp->nblk > 1 && sp->n + 2 * IDX_BLOCK <= sp->nblk * IDX_BLOCK)
		free(sp->blk[--sp->nblk]);
}

/*
 * A clean entry's groups have its best path's set (export keeps them so),
 * and no pointer in the entry says it: before its paths change, the first
 * change of a round takes a reference on that set for the dirty record
 * (mark_dirty), which hands it to export as the groups' previous route.
 */
static inline struct attr_set *
dirty_prev(const struct rib_entry *e)
{
	if ((e->flags & RIB_E_DIRTY) || !e->adv_groups || e->best < 0)
		return NULL;
	return attr_ref(rib_paths(e)[e->best].attrs);
}

/* e's paths changed; prev is dirty_prev(e) from before (its reference). */
static void
mark_dirty(struct shard *sh, struct rib_entry *e, struct attr_set *prev)
{
	if (e->flags & RIB_E_DIRTY)
		return; /* prev is NULL: dirty_prev saw the flag */
	e->flags |= RIB_E_DIRTY;
	if (sh->ndirty == sh->capdirty) {
		size_t nc = sh->capdirty ? sh->capdirty * 2 : 4096;
		struct rib_change *nv = realloc(sh->dirty, nc * sizeof(*nv));
		if (!nv) {
			/* decide_dirty walks the trees; export learns that
			 * the previous route is not known */
			sh->dirty_lost = true;
			attr_unref(prev);
			return;
		}
		sh->dirty = nv;
		sh->capdirty = nc;
	}
	sh->dirty[sh->ndirty++] = (struct rib_change){e, prev};
}

/* Remove path (peer, path_id) from e, keeping the index exact. */
static int
path_remove(struct shard *sh, struct shard_peer *sp, struct rib_entry *e, uint32_t path_id)
{
	struct rib_path *pa = path_find(e, sp->p, path_id);
	struct attr_set *prev;
	uint32_t idx;

	if (!pa)
		return 0;
	idx = pa->idx;
	prev = dirty_prev(e);
	if (!rib_entry_del(e, sp->p, path_id)) {
		attr_unref(prev);
		return 0;
	}
	index_del(sh, sp, idx);
	sh->paths--;
	mark_dirty(sh, e, prev);
	return 1;
}

/* ---- applying ops ------------------------------------------------------------------- */

static void
apply_announce(struct shard *sh, const struct rib_op *op, uint64_t h)
{
	struct shard_peer *sp = sh->peers[op->peer_id];
	struct rib_prefix pfx;
	struct rib_entry *e;
	struct rib_path *pa;
	struct attr_set *prev;
	unsigned before;
	int r;

	if (!sp || op->af > 1) {
		attr_unref(op->attrs);
		return;
	}
	memset(&pfx, 0, sizeof(pfx));
	pfx.af = op->af;
	pfx.len = op->len;
	memcpy(pfx.addr, op->addr, sizeof(pfx.addr));
	e = rib_tree_get_h(sh->tree[op->af], &pfx, h);
	if (!e) {
		attr_unref(op->attrs);
		return;
	}
	/* rib_entry_add clears the stale mark of a re-announced path (RFC
	 * 7313 §4.2), even unchanged; a new path is appended. */
	before = e->npaths;
	prev = dirty_prev(e);
	r = rib_entry_add(e, sp->p, op->path_id, op->attrs);
	if (e->npaths > before) {
		pa = &rib_paths(e)[e->npaths - 1];
		if (index_add(sh, sp, e, pa) == 0)
			sh->paths++;
		else /* out of memory: a path outside the index would outlive its peer */
			rib_entry_del(e, sp->p, op->path_id);
	}
	if (r > 0)
		mark_dirty(sh, e, prev);
	else
		attr_unref(prev);
}

static void
apply_withdraw(struct shard *sh, const struct rib_op *op, uint64_t h)
{
	struct shard_peer *sp = sh->peers[op->peer_id];
	struct rib_prefix pfx;
	struct rib_entry *e;

	if (!sp || op->af > 1)
		return;
	memset(&pfx, 0, sizeof(pfx));
	pfx.af = op->af;
	pfx.len = op->len;
	memcpy(pfx.addr, op->addr, sizeof(pfx.addr));
	e = rib_tree_find_h(sh->tree[op->af], &pfx, h);
	if (e)
		path_remove(sh, sp, e, op->path_id);
}

static void decide_dirty(struct shard *sh);

/* What a drain round can mark dirty (its batches' ops): the dirty list's
 * size between rounds. */
static inline size_t
round_ops(const struct shard *sh)
{
	return (size_t)DRAIN_BUDGET * RIB_BATCH_OPS * sh->s->c.nio;
}

/* Drop every path of the peer (optionally only stale ones of one family).
 * A full table's sweep is decided and exported in rounds of what a drain
 * round can mark: the dirty list stays that size, where a table-sized one
 * (16 bytes an entry) would be the largest thing a reset allocates, and
 * the first withdrawals leave before the sweep is over. */
static void
peer_sweep(struct shard *sh, struct shard_peer *sp, int af, bool stale_only)
{
	uint32_t i = sp->n;

	while (i-- > 0) {
		if (sh->ndirty >= round_ops(sh))
			decide_dirty(sh);
		uint32_t name = *idx_at(sp, i);
		struct rib_entry *e;
		if (af >= 0 && (int)(name >> 31) != af)
			continue; /* the other family: its entry is not read */
		e = idx_entry(sh, name);
		for (unsigned k = e->npaths; k-- > 0;) {
			struct rib_path *pa = &rib_paths(e)[k];
			if (pa->peer != sp->p || pa->idx != i)
				continue;
			if (stale_only && !pa->stale)
				continue;
			path_remove(sh, sp, e, pa->path_id);
			break;
		}
	}
}

static void
dump_cancel(struct shard *sh, uint32_t peer_id)
{
	struct dump **pp = &sh->dumps;

	while (*pp) {
		if ((*pp)->peer_id == peer_id) {
			struct dump *d = *pp;
			*pp = d->next;
			free(d);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* h: the hash of an announce's or withdraw's prefix (rib_tree_prefetch). */
static void
apply(struct shard *sh, const struct rib_op *op, uint64_t h)
{
	const struct rib_export_ops *x = sh->s->c.exp;
	struct shard_peer *sp;

	sh->ops++;
	switch (op->type) {
	case RIB_OP_ANNOUNCE:
		apply_announce(sh, op, h);
		break;
	case RIB_OP_WITHDRAW:
		apply_withdraw(sh, op, h);
		break;
	case RIB_OP_PEER_UP:
		if (op->peer_id >= RIB_MAX_PEERS) {
			rib_peer_unref(op->peer);
			break;
		}
		sp = sh->peers[op->peer_id];
		if (sp) { /* a stale incarnation: drop it first */
			peer_sweep(sh, sp, -1, false);
			rib_peer_unref(sp->p);
			idx_free(sp);
			free(sp);
		}
		sp = calloc(1, sizeof(*sp));
		if (!sp) {
			rib_peer_unref(op->peer);
			break;
		}
		sp->p = op->peer;
		sh->peers[op->peer_id] = sp;
		break;
	case RIB_OP_PEER_DOWN:
		sp = op->peer_id < RIB_MAX_PEERS ? sh->peers[op->peer_id] : NULL;
		dump_cancel(sh, op->peer_id);
		if (!sp)
			break;
		/* Cost: the peer's own paths, through its index. */
		peer_sweep(sh, sp, -1, false);
		sh->peers[op->peer_id] = NULL;
		/* The paths are gone; the decision round below still compares
		 * nothing of this peer. Keep the rib_peer alive until then. */
		if (x && x->peer_gone)
			x->peer_gone(sh->s->c.exp_arg, sh->idx, op->peer_id);
		rib_peer_unref(sp->p);
		idx_free(sp);
		free(sp);
		break;
	case RIB_OP_STALE_BEGIN:
		sp = op->peer_id < RIB_MAX_PEERS ? sh->peers[op->peer_id] : NULL;
		if (!sp)
			break;
		for (uint32_t i = 0; i < sp->n; i++) {
			uint32_t name = *idx_at(sp, i);
			struct rib_entry *e;
			struct rib_path *v;
			if (name >> 31 != op->af)
				continue;
			e = idx_entry(sh, name);
			v = rib_paths(e);
			for (unsigned k = 0; k < e->npaths; k++)
				if (v[k].peer == sp->p)
					v[k].stale = 1;
		}
		break;
	case RIB_OP_STALE_END:
		sp = op->peer_id < RIB_MAX_PEERS ? sh->peers[op->peer_id] : NULL;
		if (sp)
			peer_sweep(sh, sp, op->af, true);
		break;
	case RIB_OP_DUMP:
		/* Nothing to send: done at once. Otherwise a queued dump would
		 * run after later changes already reached the peer through its
		 * update group, and send them a second time. */
		if (rib_tree_count(sh->tree[0]) == 0 && rib_tree_count(sh->tree[1]) == 0) {
			if (x && x->dump_done)
				x->dump_done(sh->s->c.exp_arg, sh->idx, op->peer_id, op->gen);
			break;
		}
		/* Appended: dumps run in request order, IPv4 then IPv6. A
		 * dump of the same peer and family that has not started yet
		 * serves this request as well, under its generation: a peer
		 * sending ROUTE-REFRESH after ROUTE-REFRESH costs one table
		 * walk, not one per request. */
		for (int af = 0; af < 2; af++) {
			struct dump *d, **pp = &sh->dumps;
			for (d = sh->dumps; d; d = d->next)
				if (d->peer_id == op->peer_id && d->af == af && !d->started)
					break;
			if (d) {
				d->gen = op->gen;
				continue;
			}
			if (!(d = calloc(1, sizeof(*d))))
				break;
			d->peer_id = op->peer_id;
			d->gen = op->gen;
			d->af = (uint8_t)af;
			while (*pp)
				pp = &(*pp)->next;
			*pp = d;
		}
		break;
	}
}

/* ---- decisions and export ------------------------------------------------------------- */

/* Decide v[0..n) (dirty entries), hand the changes to export, let go of
 * the previous routes, then free the entries left with no path and
 * nothing advertised. */
static void
decide_chunk(struct shard *sh, struct rib_change *v, size_t n)
{
	const struct rib_export_ops *x = sh->s->c.exp;
	struct attr_set *run = NULL;
	unsigned nrun = 0;

	for (size_t i = 0; i < n; i++) {
		struct rib_entry *e = v[i].e;
		e->flags &= (uint16_t)~RIB_E_DIRTY;
		/* One path (most prefixes of most tables): it is the best. */
		e->best = e->npaths == 1 ? 0
		                         : (int16_t)rib_decide(rib_paths(e), e->npaths,
		                                               &sh->s->c.decide, NULL);
		sh->decisions++;
	}
	sh->changes += n;
	if (x && x->changed)
		x->changed(sh->s->c.exp_arg, sh->idx, v, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		struct rib_entry *e = v[i].e;
		/* References in runs: consecutive prefixes mostly share a set. */
		if (v[i].prev != run) {
			if (nrun)
				attr_unref_n(run, nrun);
			run = v[i].prev;
			nrun = 0;
		}
		nrun += run != NULL;
		if (e->npaths == 0 && !e->adv_groups)
			rib_tree_remove(sh->tree[e->pfx.af], e);
	}
	if (nrun)
		attr_unref_n(run, nrun);
}

struct lost_ctx {
	struct rib_change *v;
	unsigned n;
};

static void
lost_collect(struct rib_entry *e, void *arg)
{
	struct lost_ctx *c = arg;
	if (e->flags & RIB_E_DIRTY)
		c->v[c->n++] = (struct rib_change){e, NULL};
}

/*
 * The decision round: every dirty entry, in chunks of DECIDE_CHUNK so that
 * export's grouping tables and the encoded messages of a burst stay small
 * and the first UPDATEs leave while the rest is decided. Entries that
 * could not be recorded as dirty (out of memory) are found by a walk.
 */
static void
decide_dirty(struct shard *sh)
{
	size_t done = 0;

	while (done < sh->ndirty) {
		size_t n = sh->ndirty - done < DECIDE_CHUNK ? sh->ndirty - done : DECIDE_CHUNK;
		decide_chunk(sh, sh->dirty + done, n);
		done += n;
	}
	sh->ndirty = 0;
	/* Kept for the next round up to what a drain round can mark (its
	 * batches' ops); what a peer's sweep of a whole table needed goes back. */
	if (sh->capdirty > round_ops(sh)) {
		free(sh->dirty);
		sh->dirty = NULL;
		sh->capdirty = 0;
	}
	while (sh->dirty_lost) {
		struct rib_change v[DUMP_CHUNK];
		sh->dirty_lost = false;
		for (int af = 0; af < 2; af++) {
			struct rib_prefix next, cur;
			const struct rib_prefix *from = NULL;
			do {
				struct lost_ctx c = {v, 0};
				rib_tree_walk(sh->tree[af], from, DUMP_CHUNK, lost_collect, &c,
				              &next);
				decide_chunk(sh, v, c.n);
				cur = next;
				from = &cur;
			} while (next.len != 0xff);
		}
	}
}

struct dump_ctx {
	struct rib_entry **v;
	unsigned n;
};

static void
dump_collect(struct rib_entry *e, void *arg)
{
	struct dump_ctx *c = arg;
	if (e->best >= 0)
		c->v[c->n++] = e;
}

/* One chunk of the first dump in progress. */
static void
dump_step(struct shard *sh)
{
	const struct rib_export_ops *x = sh->s->c.exp;
	struct dump *d = sh->dumps;
	struct rib_entry *v[DUMP_CHUNK];
	struct dump_ctx c = {v, 0};
	struct rib_prefix next;

	if (!d)
		return;
	rib_tree_walk(sh->tree[d->af], d->started ? &d->cursor : NULL, DUMP_CHUNK, dump_collect, &c,
	              &next);
	d->started = true;
	if (c.n && x && x->dump)
		x->dump(sh->s->c.exp_arg, sh->idx, d->peer_id, v, c.n);
	if (next.len == 0xff) {
		uint32_t id = d->peer_id, gen = d->gen;
		bool last = true;
		sh->dumps = d->next;
		free(d);
		for (struct dump *o = sh->dumps; o; o = o->next)
			if (o->peer_id == id)
				last = false;
		if (last && x && x->dump_done)
			x->dump_done(sh->s->c.exp_arg, sh->idx, id, gen);
	} else {
		d->cursor = next;
	}
}

/* ---- the worker ----------------------------------------------------------------------- */

#define PREFETCH_AHEAD 8

/* Start loading the index slot of an op's prefix; its hash, or 0. */
static inline uint64_t
prefetch_op(struct shard *sh, const struct rib_op *op)
{
	struct rib_prefix pf;

	if (op->type > RIB_OP_WITHDRAW || op->af > 1)
		return 0;
	pf.af = op->af;
	pf.len = op->len;
	memcpy(pf.addr, op->addr, 16);
	return rib_tree_prefetch(sh->tree[op->af], &pf);
}

static unsigned
drain(struct shard *sh)
{
	uint64_t hh[2 * PREFETCH_AHEAD]; /* the hashes of ops i .. i + PREFETCH_AHEAD */
	unsigned got = 0;

	for (unsigned io = 0; io < sh->s->c.nio; io++) {
		struct rh_spsc *r = &sh->in[io];
		struct rib_batch *b;
		for (unsigned k = 0; k < DRAIN_BUDGET; k++) {
			if (!rh_spsc_get(r, &b))
				break;
			/* The index lookup is a cache miss: start the ones of a
			 * few ops ahead before applying this one, and keep the
			 * hashes computed for that. */
			for (uint32_t i = 0; i < b->n && i < PREFETCH_AHEAD; i++)
				hh[i] = prefetch_op(sh, &b->ops[i]);
			for (uint32_t i = 0; i < b->n; i++) {
				uint32_t j = i + PREFETCH_AHEAD;
				if (j < b->n)
					hh[j % (2 * PREFETCH_AHEAD)] = prefetch_op(sh, &b->ops[j]);
				apply(sh, &b->ops[i], hh[i % (2 * PREFETCH_AHEAD)]);
			}
			sh->batches++;
			free(b);
			got++;
		}
	}
	return got;
}

static bool
rings_empty(struct shard *sh)
{
	for (unsigned io = 0; io < sh->s->c.nio; io++)
		if (rh_spsc_size(&sh->in[io]) > 0)
			return false;
	return true;
}

static void
run_ctl(struct shard *sh)
{
	struct ctl *c;

	if (!atomic_load_explicit(&sh->ctl_pending, memory_order_acquire))
		return;
	pthread_mutex_lock(&sh->ctl_mu);
	c = sh->ctl;
	sh->ctl = NULL;
	atomic_store_explicit(&sh->ctl_pending, 0, memory_order_relaxed);
	pthread_mutex_unlock(&sh->ctl_mu);
	/* A query answers for every op pushed before it was posted. The drain
	 * that found the rings empty may have run before those last pushes
	 * were visible; having now seen the request (acquire, then the mutex),
	 * drain again until the rings are really empty. Bounded: producers
	 * that keep pushing are throttled by the rings' size. */
	for (unsigned round = 0; round < 1024; round++) {
		unsigned got = drain(sh);
		if (got || sh->ndirty || sh->dirty_lost)
			decide_dirty(sh);
		if (!got)
			break;
	}
	while (c) {
		struct ctl *next = c->next;
		if (c->fn)
			c->fn(c->arg, sh->idx, sh->tree[0], sh->tree[1]);
		pthread_mutex_lock(&sh->s->q_mu);
		(*c->pending)--;
		pthread_cond_broadcast(&sh->s->q_cv);
		pthread_mutex_unlock(&sh->s->q_mu);
		free(c);
		c = next;
	}
}

/* rib_shards_conf.trim at the end of a burst of at least trim_ops ops;
 * true if it ran. tree_sync runs it once more. */
static bool
trim_burst(struct shard *sh)
{
	if (!sh->s->c.trim || !sh->s->c.trim_ops || sh->ops - sh->ops_trimmed < sh->s->c.trim_ops)
		return false;
	sh->s->c.trim();
	sh->ops_trimmed = sh->ops;
	sh->trim_again = true;
	return true;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The trees' deferred nodes, pending and dead; *dead: the dead ones. */
static size_t
backlog(const struct shard *sh, size_t *dead)
{
	size_t n = 0, nd = 0;

	for (int af = 0; af < 2; af++) {
		size_t p, d;
		rib_tree_backlog(sh->tree[af], &p, &d);
		n += p + d;
		nd += d;
	}
	if (dead)
		*dead = nd;
	return n;
}

/* 0: the trees have nothing deferred; > 0: link them now (too many removed
 * entries wait, or no op came for SYNC_IDLE_MS); < 0: in -sync_due ms. */
static int
sync_due(const struct shard *sh)
{
	int64_t idle;
	size_t dead;

	if (backlog(sh, &dead) == 0)
		return 0;
	idle = now_ms() - sh->busy_ms;
	if (dead >= SYNC_DEAD_MAX || idle >= SYNC_IDLE_MS)
		return 1;
	return -(int)(SYNC_IDLE_MS - idle);
}

/* Link the trees in steps, as long as no op or query is waiting: a burst
 * that begins meanwhile waits for one step at most (a few ms). First the
 * second trim of the last big burst: its messages are sent by now. */
static void
tree_sync(struct shard *sh)
{
	size_t before = backlog(sh, NULL), after;

	if (sh->trim_again) {
		sh->s->c.trim();
		sh->trim_again = false;
	}
	while (before > 0 && rings_empty(sh) &&
	       !atomic_load_explicit(&sh->ctl_pending, memory_order_acquire)) {
		if (!rib_tree_sync_step(sh->tree[0]))
			rib_tree_sync_step(sh->tree[1]);
		after = backlog(sh, NULL);
		if (after >= before) {
			/* out of memory for split points: try again after
			 * another idle while, not in a loop */
			sh->busy_ms = now_ms();
			break;
		}
		before = after;
	}
}

static void *
shard_main(void *arg)
{
	struct shard *sh = arg;
	char name[16];

	snprintf(name, sizeof(name), "rh-rib%u", sh->idx);
	pthread_setname_np(pthread_self(), name);
	attr_thread_register();
	for (;;) {
		unsigned got = drain(sh);
		if (got || sh->ndirty || sh->dirty_lost)
			decide_dirty(sh);
		if (got) {
			sh->busy_ms = now_ms();
			/* A dump advances by one chunk per round even under a
			 * steady stream of ops: a new peer is not starved. */
			if (sh->dumps)
				dump_step(sh);
			continue;
		}
		/* Between bursts: what the burst freed goes back now; the
		 * trees are linked when no op came for a while (sync_due). */
		if (trim_burst(sh) && sync_due(sh) > 0)
			sh->trim_again = false; /* linking at once: one trim is enough */
		if (sync_due(sh) > 0)
			tree_sync(sh);
		if (sh->dumps) {
			dump_step(sh);
			continue;
		}
		run_ctl(sh);
		attr_thread_poll();
		if (atomic_load_explicit(&sh->stop, memory_order_acquire) && rings_empty(sh))
			break;
		/* Sleep: announce it, then look once more (a producer that
		 * pushed before seeing `sleeping` is caught here). */
		atomic_store_explicit(&sh->sleeping, 1, memory_order_seq_cst);
		if (rings_empty(sh) &&
		    !atomic_load_explicit(&sh->ctl_pending, memory_order_seq_cst) &&
		    !atomic_load_explicit(&sh->stop, memory_order_seq_cst)) {
			struct pollfd pfd = {.fd = sh->efd, .events = POLLIN};
			int due = sync_due(sh);
			uint64_t v;
			/* Wait for ops, or until the trees are due (the loop
			 * then links them). due > 0 is not expected here: they
			 * were linked above, and a linking that makes no
			 * progress restarts the idle clock; if it is, no wait. */
			if (poll(&pfd, 1, due < 0 ? -due : due > 0 ? 0 : -1) > 0) {
				ssize_t r = read(sh->efd, &v, sizeof(v));
				(void)r;
			}
		}
		atomic_store_explicit(&sh->sleeping, 0, memory_order_relaxed);
	}
	run_ctl(sh);
	attr_thread_unregister();
	return NULL;
}

static void
shard_wake(struct shard *sh)
{
	uint64_t one = 1;
	/* seq_cst: orders our ring push before reading `sleeping`, pairing
	 * with the worker's store of `sleeping` before its last ring check. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&sh->sleeping, memory_order_relaxed)) {
		ssize_t r = write(sh->efd, &one, sizeof(one));
		(void)r;
	}
}

/* ---- public ----------------------------------------------------------------------------- */

int
rib_shards_new(struct rib_shards **out, const struct rib_shards_conf *c)
{
	struct rib_shards *s = calloc(1, sizeof(*s));
	unsigned slots = c->ring_slots ? c->ring_slots : 1024;

	if (!s || c->nshards == 0 || c->nio == 0)
		goto fail;
	s->c = *c;
	s->c.ring_slots = slots;
	if (s->c.decide.ecmp_through == 0)
		s->c.decide.ecmp_through = RIB_STEP_AS_PATH;
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_cond_init(&s->q_cv, NULL);
	s->sh = calloc(c->nshards, sizeof(*s->sh));
	s->open = calloc((size_t)c->nio * c->nshards, sizeof(*s->open));
	if (!s->sh || !s->open)
		goto fail;
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *sh = &s->sh[i];
		sh->s = s;
		sh->idx = i;
		sh->tree[0] = rib_tree_new(0);
		sh->tree[1] = rib_tree_new(1);
		sh->in = calloc(c->nio, sizeof(*sh->in));
		sh->peers = calloc(RIB_MAX_PEERS, sizeof(*sh->peers));
		sh->efd = eventfd(0, EFD_CLOEXEC);
		pthread_mutex_init(&sh->ctl_mu, NULL);
		if (!sh->tree[0] || !sh->tree[1] || !sh->in || !sh->peers || sh->efd < 0)
			goto fail;
		for (unsigned io = 0; io < c->nio; io++) {
			if (rh_spsc_init(&sh->in[io], slots) < 0)
				goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	rib_shards_free(s);
	return -1;
}

int
rib_shards_start(struct rib_shards *s)
{
	for (unsigned i = 0; i < s->c.nshards; i++)
		if (pthread_create(&s->sh[i].thread, NULL, shard_main, &s->sh[i]) != 0)
			return -1;
	s->started = 1;
	return 0;
}

void
rib_shards_stop(struct rib_shards *s)
{
	if (!s || !s->started)
		return;
	for (unsigned i = 0; i < s->c.nshards; i++) {
		atomic_store_explicit(&s->sh[i].stop, 1, memory_order_seq_cst);
		uint64_t one = 1;
		ssize_t r = write(s->sh[i].efd, &one, sizeof(one));
		(void)r;
	}
	for (unsigned i = 0; i < s->c.nshards; i++)
		pthread_join(s->sh[i].thread, NULL);
	s->started = 0;
}

void
rib_shards_free(struct rib_shards *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->sh && i < s->c.nshards; i++) {
		struct shard *sh = &s->sh[i];
		for (unsigned io = 0; sh->in && io < s->c.nio; io++) {
			struct rib_batch *b;
			if (!sh->in[io].buf)
				continue;
			while (rh_spsc_get(&sh->in[io], &b))
				free(b);
			rh_spsc_fini(&sh->in[io]);
		}
		free(sh->in);
		if (sh->tree[0])
			rib_tree_free(sh->tree[0]);
		if (sh->tree[1])
			rib_tree_free(sh->tree[1]);
		for (unsigned p = 0; sh->peers && p < RIB_MAX_PEERS; p++) {
			if (!sh->peers[p])
				continue;
			rib_peer_unref(sh->peers[p]->p);
			idx_free(sh->peers[p]);
			free(sh->peers[p]);
		}
		free(sh->peers);
		while (sh->dumps) {
			struct dump *d = sh->dumps;
			sh->dumps = d->next;
			free(d);
		}
		for (size_t k = 0; k < sh->ndirty; k++)
			attr_unref(sh->dirty[k].prev);
		free(sh->dirty);
		if (sh->efd >= 0)
			close(sh->efd);
		pthread_mutex_destroy(&sh->ctl_mu);
	}
	for (size_t i = 0; s->open && i < (size_t)s->c.nio * s->c.nshards; i++)
		free(s->open[i]);
	free(s->open);
	free(s->sh);
	pthread_mutex_destroy(&s->q_mu);
	pthread_cond_destroy(&s->q_cv);
	free(s);
}

unsigned
rib_shards_count(const struct rib_shards *s)
{
	return s->c.nshards;
}

unsigned
rib_shard_of(const struct rib_shards *s, uint8_t af, uint8_t len, const uint8_t *addr)
{
	uint8_t key[18];
	unsigned nb = ((unsigned)len + 7) / 8;

	if (s->c.nshards == 1)
		return 0;
	memset(key, 0, sizeof(key));
	key[0] = af;
	key[1] = len;
	memcpy(key + 2, addr, nb);
	return (unsigned)(XXH3_64bits(key, 2 + nb) % s->c.nshards);
}

static void
push_batch(struct rib_shards *s, unsigned io, unsigned shard)
{
	struct rib_batch **slot = &s->open[(size_t)io * s->c.nshards + shard];
	struct shard *sh = &s->sh[shard];
	struct rh_spsc *r = &sh->in[io];

	if (!*slot || (*slot)->n == 0)
		return;
	/* Backpressure: a full ring means the shard is behind; wait for it
	 * rather than grow memory without bound. */
	while (!rh_spsc_put(r, *slot)) {
		shard_wake(sh);
		if (s->c.wait) {
			s->c.wait(s->c.wait_arg, io);
		} else {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
		}
	}
	*slot = NULL;
}

void
rib_push(struct rib_shards *s, unsigned io, unsigned shard, const struct rib_op *op)
{
	struct rib_batch **slot = &s->open[(size_t)io * s->c.nshards + shard];

	if (!*slot) {
		*slot = malloc(sizeof(**slot));
		if (!*slot) {
			/* Out of memory: an announce's reference must not leak. */
			if (op->type == RIB_OP_ANNOUNCE)
				attr_unref(op->attrs);
			return;
		}
		(*slot)->n = 0;
		(*slot)->io = io;
	}
	(*slot)->ops[(*slot)->n++] = *op;
	if ((*slot)->n == RIB_BATCH_OPS) {
		push_batch(s, io, shard);
		shard_wake(&s->sh[shard]);
	}
}

void
rib_push_all(struct rib_shards *s, unsigned io, const struct rib_op *op)
{
	for (unsigned i = 0; i < s->c.nshards; i++)
		rib_push(s, io, i, op);
}

void
rib_flush(struct rib_shards *s, unsigned io)
{
	for (unsigned i = 0; i < s->c.nshards; i++) {
		struct rib_batch *b = s->open[(size_t)io * s->c.nshards + i];
		if (!b || b->n == 0)
			continue;
		push_batch(s, io, i);
		shard_wake(&s->sh[i]);
	}
}

int
rib_shards_query(struct rib_shards *s,
                 void (*fn)(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6),
                 void *arg, unsigned timeout_ms)
{
	int pending = (int)s->c.nshards;
	struct timespec dl;
	int r = 0;

	for (unsigned i = 0; i < s->c.nshards; i++) {
		struct shard *sh = &s->sh[i];
		struct ctl *c = calloc(1, sizeof(*c));
		if (!c)
			return -1;
		c->fn = fn;
		c->arg = arg;
		c->pending = &pending;
		pthread_mutex_lock(&sh->ctl_mu);
		c->next = sh->ctl;
		sh->ctl = c;
		atomic_store_explicit(&sh->ctl_pending, 1, memory_order_seq_cst);
		pthread_mutex_unlock(&sh->ctl_mu);
		uint64_t one = 1;
		ssize_t w = write(sh->efd, &one, sizeof(one));
		(void)w;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->q_mu);
	while (pending > 0) {
		if (pthread_cond_timedwait(&s->q_cv, &s->q_mu, &dl) == ETIMEDOUT) {
			/* The shards still hold &pending: wait for them anyway,
			 * they answer once their current burst is done. */
			r = -1;
			while (pending > 0)
				pthread_cond_wait(&s->q_cv, &s->q_mu);
		}
	}
	pthread_mutex_unlock(&s->q_mu);
	return r;
}

struct stats_ctx {
	struct rib_shards *s;
	struct rib_shard_stats *sum;
	pthread_mutex_t mu;
};

static void
stats_fn(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6)
{
	struct stats_ctx *c = arg;
	struct shard *sh = &c->s->sh[shard];

	pthread_mutex_lock(&c->mu);
	c->sum->ops += sh->ops;
	c->sum->batches += sh->batches;
	c->sum->decisions += sh->decisions;
	c->sum->changes += sh->changes;
	c->sum->paths += sh->paths;
	c->sum->prefixes[0] += rib_tree_count(v4);
	c->sum->prefixes[1] += rib_tree_count(v6);
	pthread_mutex_unlock(&c->mu);
}

void
rib_shards_stats(struct rib_shards *s, struct rib_shard_stats *sum)
{
	struct stats_ctx c = {s, sum, PTHREAD_MUTEX_INITIALIZER};

	memset(sum, 0, sizeof(*sum));
	rib_shards_query(s, stats_fn, &c, 5000);
}

int
rib_shards_sync(struct rib_shards *s, unsigned timeout_ms)
{
	return rib_shards_query(s, NULL, NULL, timeout_ms);
}
