/*
 * test_rib_model.c — randomized model test of the sharded RIB.
 *
 * A seeded sequence of announce / withdraw / peer down+up / enhanced route
 * refresh (stale begin, partial re-announce, stale end) over many peers is
 * applied to the multi-threaded RIB (RH_MODEL_IO producer threads, each owning
 * a share of the peers as io threads do; RH_MODEL_SHARDS shard workers) and
 * to a plain single-threaded reference model. At every checkpoint, the best
 * path of every prefix, and what the export callback was last told for it
 * (the Adj-RIB-Out every peer's table is made from), must equal the model's.
 *
 * Run under TSan in CI (tests/CMakeLists.txt label "tsan").
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "routehub/rib.h"
#include "routehub/shard.h"

#define NPEERS 12
#define NPFX 1500
#define NATTR 40
#define NOPS 60000
#define CHECK_EVERY 6000

static unsigned nio = 2, nshards = 3;

static struct rib_peer *peers[NPEERS + 1]; /* ids 1..NPEERS */
static struct attr_set *attrs[NATTR];
static struct rib_prefix pfx[NPFX];
static struct rib_shards *S;

/* The reference model: for each prefix, each peer's attr index (-1 none),
 * and whether it is stale. */
static int8_t model[NPFX][NPEERS + 1];
static uint8_t stale[NPFX][NPEERS + 1];
static bool peer_up[NPEERS + 1];

/* What export last got per prefix: written by shard threads only for the
 * prefixes they own, read after rib_shards_sync. */
static struct attr_set *exported[NPFX];
static const struct rib_peer *exported_peer[NPFX];
/* Changes whose previous route was not the one exported last. */
static atomic_uint prev_mismatch;
/* conf.trim calls: after bursts of at least TRIM_OPS ops. */
#define TRIM_OPS 256
static atomic_uint trims;

static void
count_trim(void)
{
	atomic_fetch_add(&trims, 1);
}

struct op {
	uint8_t type; /* RIB_OP_* */
	uint8_t peer;
	uint8_t af;
	uint16_t p;
	int8_t a;
};
static struct op ops[NOPS];

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static int
pfx_index(const struct rib_prefix *p)
{
	/* The universe is small: linear search is fine for a test. */
	for (int i = 0; i < NPFX; i++)
		if (pfx[i].af == p->af && pfx[i].len == p->len &&
		    memcmp(pfx[i].addr, p->addr, 16) == 0)
			return i;
	return -1;
}

static void
cb_changed(void *arg, unsigned shard, const struct rib_change *v, unsigned n)
{
	(void)arg;
	(void)shard;
	for (unsigned i = 0; i < n; i++) {
		struct rib_entry *e = v[i].e;
		int k = pfx_index(&e->pfx);
		struct attr_set *want = e->best >= 0 ? rib_paths(e)[e->best].attrs : NULL;
		if (k < 0)
			continue;
		/* The change carries what was exported last (export.c sends
		 * it as the group's previous route). */
		if (v[i].prev != exported[k])
			atomic_fetch_add(&prev_mismatch, 1);
		exported[k] = want;
		exported_peer[k] = e->best >= 0 ? rib_paths(e)[e->best].peer : NULL;
		/* Set adv_groups as export.c does, so entries are freed the
		 * same way. */
		e->adv_groups = want ? 1 : 0;
	}
}

static const struct rib_export_ops xops = {
	.changed = cb_changed,
};

/* ---- the reference ------------------------------------------------------------------ */

static void
model_apply(const struct op *o)
{
	int pe = o->peer;
	switch (o->type) {
	case RIB_OP_ANNOUNCE:
		if (peer_up[pe]) {
			model[o->p][pe] = o->a;
			stale[o->p][pe] = 0;
		}
		break;
	case RIB_OP_WITHDRAW:
		if (peer_up[pe])
			model[o->p][pe] = -1;
		break;
	case RIB_OP_PEER_DOWN:
		for (int i = 0; i < NPFX; i++)
			model[i][pe] = -1;
		peer_up[pe] = false;
		break;
	case RIB_OP_PEER_UP:
		peer_up[pe] = true;
		break;
	case RIB_OP_STALE_BEGIN:
		for (int i = 0; i < NPFX; i++)
			if (pfx[i].af == o->af && model[i][pe] >= 0)
				stale[i][pe] = 1;
		break;
	case RIB_OP_STALE_END:
		for (int i = 0; i < NPFX; i++)
			if (pfx[i].af == o->af && stale[i][pe]) {
				model[i][pe] = -1;
				stale[i][pe] = 0;
			}
		break;
	}
}

static int
model_best(int k, const struct rib_peer **bp)
{
	struct rib_path paths[NPEERS];
	int owner[NPEERS], n = 0, b;

	for (int pe = 1; pe <= NPEERS; pe++) {
		if (model[k][pe] < 0)
			continue;
		memset(&paths[n], 0, sizeof(paths[n]));
		paths[n].peer = peers[pe];
		paths[n].attrs = attrs[model[k][pe]];
		owner[n++] = pe;
	}
	b = rib_decide(paths, (unsigned)n, &(struct rib_decide_opts){.ecmp_through = RIB_STEP_AS_PATH},
	               NULL);
	if (b < 0)
		return -1;
	*bp = peers[owner[b]];
	return model[k][owner[b]];
}

/* ---- producers (the io threads) ------------------------------------------------------- */

struct prod {
	unsigned io;
	int from, to; /* op range of this round */
};

static void
push_op(unsigned io, const struct op *o)
{
	struct rib_op r;

	memset(&r, 0, sizeof(r));
	r.type = o->type;
	r.peer_id = o->peer;
	r.af = o->af;
	switch (o->type) {
	case RIB_OP_ANNOUNCE:
	case RIB_OP_WITHDRAW:
		r.af = pfx[o->p].af;
		r.len = pfx[o->p].len;
		memcpy(r.addr, pfx[o->p].addr, 16);
		if (o->type == RIB_OP_ANNOUNCE)
			r.attrs = attr_ref(attrs[o->a]);
		rib_push(S, io, rib_shard_of(S, r.af, r.len, r.addr), &r);
		break;
	case RIB_OP_PEER_UP:
		/* each shard takes one reference */
		atomic_fetch_add_explicit(&peers[o->peer]->refs, nshards, memory_order_relaxed);
		r.peer = peers[o->peer];
		rib_push_all(S, io, &r);
		break;
	default:
		rib_push_all(S, io, &r);
		break;
	}
}

static void *
prod_main(void *arg)
{
	struct prod *pr = arg;

	attr_thread_register();
	for (int i = pr->from; i < pr->to; i++)
		if (ops[i].peer % nio == pr->io) /* this io thread owns the peer */
			push_op(pr->io, &ops[i]);
	rib_flush(S, pr->io);
	attr_thread_unregister();
	return NULL;
}

static void
gen_ops(void)
{
	bool up[NPEERS + 1];
	bool in_refresh[NPEERS + 1][2];

	memset(up, 0, sizeof(up));
	memset(in_refresh, 0, sizeof(in_refresh));
	for (int i = 0; i < NOPS; i++) {
		struct op *o = &ops[i];
		uint32_t r = rnd() % 1000;
		o->peer = (uint8_t)(1 + rnd() % NPEERS);
		o->p = (uint16_t)(rnd() % NPFX);
		o->a = (int8_t)(rnd() % NATTR);
		o->af = (uint8_t)(rnd() % 2);
		if (!up[o->peer]) {
			o->type = RIB_OP_PEER_UP;
			up[o->peer] = true;
		} else if (r < 600) {
			o->type = RIB_OP_ANNOUNCE;
		} else if (r < 900) {
			o->type = RIB_OP_WITHDRAW;
		} else if (r < 910) {
			o->type = RIB_OP_PEER_DOWN;
			up[o->peer] = false;
			in_refresh[o->peer][0] = in_refresh[o->peer][1] = false;
		} else if (r < 960) {
			o->type = in_refresh[o->peer][o->af] ? RIB_OP_STALE_END : RIB_OP_STALE_BEGIN;
			in_refresh[o->peer][o->af] = !in_refresh[o->peer][o->af];
		} else {
			o->type = RIB_OP_ANNOUNCE;
		}
	}
}

static void
check(int upto)
{
	int bad = 0;

	assert_int_equal(rib_shards_sync(S, 30000), 0);
	for (int k = 0; k < NPFX; k++) {
		const struct rib_peer *bp = NULL;
		int want = model_best(k, &bp);
		struct attr_set *wa = want >= 0 ? attrs[want] : NULL;
		if (exported[k] != wa || (wa && exported_peer[k] != bp)) {
			if (bad++ < 5)
				print_error("after op %d: prefix %d: exported %p from %u, model %p from %u\n",
				            upto, k, (void *)exported[k],
				            exported_peer[k] ? exported_peer[k]->id : 0, (void *)wa,
				            bp ? bp->id : 0);
		}
	}
	assert_int_equal(bad, 0);
	assert_int_equal(atomic_load(&prev_mismatch), 0);
}

/* Best paths straight from the shards' trees, compared with the model. */
struct tree_check {
	pthread_mutex_t mu;
	int bad;
};

static void
tree_fn(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6)
{
	struct tree_check *c = arg;

	for (int k = 0; k < NPFX; k++) {
		struct rib_tree *t = pfx[k].af ? v6 : v4;
		struct rib_entry *e;
		const struct rib_peer *bp = NULL;
		int want;
		if (rib_shard_of(S, pfx[k].af, pfx[k].len, pfx[k].addr) != shard)
			continue;
		e = rib_tree_find(t, &pfx[k]);
		want = model_best(k, &bp);
		if ((want < 0 && e && e->best >= 0) || (want >= 0 && (!e || e->best < 0)) ||
		    (want >= 0 && e && e->best >= 0 &&
		     (rib_paths(e)[e->best].attrs != attrs[want] || rib_paths(e)[e->best].peer != bp))) {
			pthread_mutex_lock(&c->mu);
			c->bad++;
			pthread_mutex_unlock(&c->mu);
		}
	}
}

/* Entries of the shards' trees not linked yet, or not unlinked yet. */
static void
backlog_fn(void *arg, unsigned shard, struct rib_tree *v4, struct rib_tree *v6)
{
	atomic_size_t *n = arg;
	size_t p, d;

	(void)shard;
	rib_tree_backlog(v4, &p, &d);
	atomic_fetch_add(n, p + d);
	rib_tree_backlog(v6, &p, &d);
	atomic_fetch_add(n, p + d);
}

static void
test_model(void **state)
{
	struct rib_shards_conf c;
	const char *e;

	(void)state;
	if ((e = getenv("RH_MODEL_IO")))
		nio = (unsigned)atoi(e);
	if ((e = getenv("RH_MODEL_SHARDS")))
		nshards = (unsigned)atoi(e);
	assert_int_equal(attr_init(16), 0);
	attr_thread_register();
	for (int i = 1; i <= NPEERS; i++) {
		peers[i] = calloc(1, sizeof(*peers[i]));
		peers[i]->id = (uint32_t)i;
		peers[i]->type = i % 4 == 0 ? RIB_PEER_IBGP : i % 4 == 1 ? RIB_PEER_RR_CLIENT
		                                                          : RIB_PEER_EBGP;
		peers[i]->asn = 65000 + (uint32_t)(i % 5);
		peers[i]->router_id = 0x0a000000u + (uint32_t)(i * 37 % 11);
		peers[i]->addr[0] = 127;
		peers[i]->addr[3] = (uint8_t)i;
		atomic_init(&peers[i]->refs, 1); /* the test's own */
	}
	for (int i = 0; i < NATTR; i++) {
		struct attr_info info;
		uint8_t bytes[8] = {0x40, 1, 1, 0, 0xc0, 200, 1, (uint8_t)i};
		memset(&info, 0, sizeof(info));
		info.aspath_len = (uint16_t)(1 + i % 3);
		info.origin = (uint8_t)(i / 3 % 3);
		info.neighbor_as = 65000 + (uint32_t)(i % 2);
		if (i % 4 == 0) {
			info.flags |= ATTR_F_MED;
			info.med = (uint32_t)(i % 7);
		}
		if (i % 5 == 0) {
			info.flags |= ATTR_F_LOCAL_PREF;
			info.local_pref = 100 + (uint32_t)(i % 3);
		}
		attrs[i] = attr_intern(bytes, sizeof(bytes), 0x1000u + (uint64_t)i * 0x9e3779b97f4a7c15ull,
		                       &info);
		assert_non_null(attrs[i]);
	}
	/* Distinct prefixes: the index lives in bytes no length masks away;
	 * a few /16s cover some of the /24s, so lookups cross nested prefixes. */
	for (int i = 0; i < NPFX; i++) {
		memset(&pfx[i], 0, sizeof(pfx[i]));
		if (i % 3 == 2) {
			pfx[i].af = 1;
			pfx[i].len = (uint8_t)(48 + i % 17);
			pfx[i].addr[0] = 0x20;
			pfx[i].addr[1] = 0x01;
			pfx[i].addr[2] = (uint8_t)(i >> 8);
			pfx[i].addr[3] = (uint8_t)i;
			pfx[i].addr[6] = (uint8_t)(i * 7); /* masked away below /56 */
		} else if (i % 50 == 0) {
			pfx[i].af = 0;
			pfx[i].len = 16;
			pfx[i].addr[0] = 10;
			pfx[i].addr[1] = (uint8_t)(i / 50);
		} else {
			pfx[i].af = 0;
			pfx[i].len = (uint8_t)(24 + i % 9);
			pfx[i].addr[0] = 10;
			pfx[i].addr[1] = (uint8_t)(i >> 8);
			pfx[i].addr[2] = (uint8_t)i;
			pfx[i].addr[3] = (uint8_t)(i * 13);
		}
		for (int b = pfx[i].len; b < 128; b++) /* host bits zero */
			pfx[i].addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	}
	for (int i = 0; i < NPFX; i++)
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(&pfx[i], &pfx[j], sizeof(pfx[i]));
	memset(model, -1, sizeof(model));
	gen_ops();

	memset(&c, 0, sizeof(c));
	c.nshards = nshards;
	c.nio = nio;
	c.ring_slots = 64; /* small: exercise backpressure */
	c.decide.ecmp_through = RIB_STEP_AS_PATH;
	c.exp = &xops;
	c.trim = count_trim;
	c.trim_ops = TRIM_OPS;
	assert_int_equal(rib_shards_new(&S, &c), 0);
	assert_int_equal(rib_shards_start(S), 0);

	for (int from = 0; from < NOPS; from += CHECK_EVERY) {
		int to = from + CHECK_EVERY;
		pthread_t th[16];
		struct prod pr[16];
		for (unsigned io = 0; io < nio; io++) {
			pr[io] = (struct prod){io, from, to};
			pthread_create(&th[io], NULL, prod_main, &pr[io]);
		}
		for (int i = from; i < to; i++)
			model_apply(&ops[i]);
		for (unsigned io = 0; io < nio; io++)
			pthread_join(th[io], NULL);
		check(to);
		{
			struct tree_check tc = {PTHREAD_MUTEX_INITIALIZER, 0};
			assert_int_equal(rib_shards_query(S, tree_fn, &tc, 30000), 0);
			assert_int_equal(tc.bad, 0);
		}
	}
	/* Everyone down: the RIB empties and every set but ours is released. */
	{
		struct op o = {.type = RIB_OP_PEER_DOWN};
		for (int pe = 1; pe <= NPEERS; pe++) {
			o.peer = (uint8_t)pe;
			push_op((unsigned)pe % nio, &o);
			model_apply(&o);
		}
		for (unsigned io = 0; io < nio; io++)
			rib_flush(S, io);
		check(NOPS);
		struct rib_shard_stats st;
		rib_shards_stats(S, &st);
		assert_int_equal(st.paths, 0);
		assert_int_equal(st.prefixes[0] + st.prefixes[1], 0);
		/* The shards went idle between checkpoints: each trimmed after
		 * its bursts (at the end and before linking their nodes), never
		 * more often than twice per TRIM_OPS ops. */
		assert_true(atomic_load(&trims) >= 1);
		assert_true(atomic_load(&trims) <= 2 * (st.ops / TRIM_OPS));
	}
	/* Idle shards link their trees' deferred changes by themselves
	 * (shard.c's SYNC_IDLE_MS): the backlog drains with no walk asking. */
	{
		atomic_size_t left = 1;
		for (int tries = 0; tries < 1000 && atomic_load(&left) != 0; tries++) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			atomic_store(&left, 0);
			assert_int_equal(rib_shards_query(S, backlog_fn, &left, 30000), 0);
			if (atomic_load(&left) != 0)
				nanosleep(&ts, NULL);
		}
		assert_int_equal(atomic_load(&left), 0);
	}
	rib_shards_stop(S);
	rib_shards_free(S);
	for (int i = 0; i < NATTR; i++)
		attr_unref(attrs[i]);
	attr_thread_poll();
	assert_int_equal(attr_count(), 0);
	for (int i = 1; i <= NPEERS; i++)
		free(peers[i]);
	attr_thread_unregister();
	attr_fini();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
