/*
 * test_rib_radix.c — unit tests of the per-shard radix tree (rib/radix.c).
 *
 * The tree against a brute-force model: a seeded random sequence of inserts
 * and removes of IPv4 and IPv6 prefixes of every length (/0 and host routes
 * included, clustered so that prefixes nest and share long runs of bits),
 * checked after every step with exact find and entry identity, and regularly
 * with longest-prefix match, count, the full ordered walk, walks resumed in
 * chunks of 7 and walks from arbitrary prefixes. Then the path vector: add,
 * replace, identical re-add, delete, growth out of the node and back, and
 * the references all of it holds on attribute sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "routehub/bgp.h"
#include "routehub/rib.h"
#include "../../rib/radix_int.h"

static int
setup(void **state)
{
	(void)state;
	if (attr_init(2) != 0)
		return -1;
	attr_thread_register();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	attr_thread_unregister();
	attr_fini();
	return 0;
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic across platforms */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

static struct attr_set *
mkattr(uint32_t v)
{
	uint8_t b[4];

	memcpy(b, &v, sizeof(b));
	return attr_intern(b, sizeof(b), bgp_attrs_hash(b, sizeof(b)), NULL);
}

static unsigned
alen_of(uint8_t af)
{
	return af == BGP_AF_IPV4 ? 4 : 16;
}

static void
mask(struct rib_prefix *p)
{
	unsigned alen = alen_of(p->af);

	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = i * 8;
		if (i >= alen || bits >= p->len)
			p->addr[i] = 0;
		else if (p->len - bits < 8)
			p->addr[i] &= (uint8_t)(0xff00u >> (p->len - bits));
	}
}

/* order of the walk: address, then length */
static int
pfx_cmp(const struct rib_prefix *a, const struct rib_prefix *b)
{
	int c = memcmp(a->addr, b->addr, alen_of(a->af));

	if (c != 0)
		return c;
	return (int)a->len - (int)b->len;
}

static bool
pfx_eq(const struct rib_prefix *a, const struct rib_prefix *b)
{
	return a->af == b->af && a->len == b->len && memcmp(a->addr, b->addr, 16) == 0;
}

/* does p cover the first p->len bits of addr? */
static bool
covers(const struct rib_prefix *p, const uint8_t *addr)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, addr, full) != 0)
		return false;
	return rest == 0 || ((p->addr[full] ^ addr[full]) & (0xff00u >> rest)) == 0;
}

static char *
pfx_str(const struct rib_prefix *p, char *buf, size_t n)
{
	size_t o = 0;

	for (unsigned i = 0; i < alen_of(p->af) && o + 4 < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%02x", i ? ":" : "", p->addr[i]);
	snprintf(buf + o, n - o, "/%u", p->len);
	return buf;
}

/* ---- the model ----------------------------------------------------------------------------------
 */

enum { MODEL_N = 700 };

struct model {
	uint8_t af;
	unsigned maxlen;
	struct rib_prefix pfx[MODEL_N];
	struct rib_entry *e[MODEL_N]; /* the tree's entry while present, else NULL */
	unsigned canon[MODEL_N];      /* the first slot with the same prefix */
	size_t count;
};

/* Candidates in clusters: a few base addresses, bits flipped at random
 * depths, every length from 0 to the maximum; some duplicates on purpose
 * (the same prefix reached through two slots). */
static void
model_init(struct model *m, uint8_t af)
{
	uint8_t base[4][16];

	memset(m, 0, sizeof(*m));
	m->af = af;
	m->maxlen = alen_of(af) * 8;
	for (unsigned b = 0; b < 4; b++)
		for (unsigned i = 0; i < 16; i++)
			base[b][i] = (uint8_t)rng();
	for (unsigned i = 0; i < MODEL_N; i++) {
		struct rib_prefix *p = &m->pfx[i];
		unsigned flip;

		p->af = af;
		memcpy(p->addr, base[rng_below(4)], 16);
		/* flip one bit somewhere and randomise the tail after a point */
		flip = rng_below(m->maxlen);
		p->addr[flip / 8] ^= (uint8_t)(0x80u >> (flip % 8));
		if (rng_below(2)) {
			unsigned from = rng_below(m->maxlen);
			for (unsigned k = from; k < m->maxlen; k++)
				if (rng_below(2))
					p->addr[k / 8] ^= (uint8_t)(0x80u >> (k % 8));
		}
		switch (rng_below(8)) {
		case 0:
			p->len = 0;
			break;
		case 1:
			p->len = (uint8_t)m->maxlen;
			break;
		default:
			p->len = (uint8_t)rng_below(m->maxlen + 1);
			break;
		}
		mask(p);
		m->canon[i] = i;
		for (unsigned j = 0; j < i; j++) {
			if (pfx_eq(&m->pfx[j], p)) {
				m->canon[i] = j;
				break;
			}
		}
	}
}

static int
model_sort_cmp(const void *a, const void *b)
{
	return pfx_cmp(*(const struct rib_prefix *const *)a, *(const struct rib_prefix *const *)b);
}

/* present prefixes, sorted; returns how many */
static size_t
model_sorted(const struct model *m, const struct rib_prefix **out)
{
	size_t n = 0;

	for (unsigned i = 0; i < MODEL_N; i++)
		if (m->e[i] != NULL)
			out[n++] = &m->pfx[i];
	qsort(out, n, sizeof(*out), model_sort_cmp);
	return n;
}

struct collect {
	struct rib_entry *v[MODEL_N + 1];
	size_t n;
};

static void
collect_cb(struct rib_entry *e, void *arg)
{
	struct collect *c = arg;

	assert_true(c->n < MODEL_N);
	c->v[c->n++] = e;
}

static void
check_walks(struct rib_tree *t, const struct model *m)
{
	const struct rib_prefix *want[MODEL_N];
	struct collect *all = calloc(1, sizeof(*all)), *chunked = calloc(1, sizeof(*chunked));
	struct rib_prefix next, from;
	size_t n = model_sorted(m, want), got, rounds = 0;
	char b1[64], b2[64];

	assert_non_null(all);
	assert_non_null(chunked);
	/* the full walk */
	got = rib_tree_walk(t, NULL, SIZE_MAX, collect_cb, all, &next);
	assert_int_equal(got, n);
	assert_int_equal(all->n, n);
	assert_int_equal(next.len, 0xff);
	for (size_t i = 0; i < n; i++)
		if (!pfx_eq(&all->v[i]->pfx, want[i]))
			fail_msg("walk[%zu] = %s, model %s", i,
			         pfx_str(&all->v[i]->pfx, b1, sizeof(b1)),
			         pfx_str(want[i], b2, sizeof(b2)));

	/* in chunks of 7, each resumed from the previous next */
	got = rib_tree_walk(t, NULL, 7, collect_cb, chunked, &next);
	while (next.len != 0xff) {
		assert_true(got == 7);
		assert_true(rounds++ <= n / 7 + 1);
		from = next;
		got = rib_tree_walk(t, &from, 7, collect_cb, chunked, &next);
	}
	assert_int_equal(chunked->n, n);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(chunked->v[i], all->v[i]);

	/* from arbitrary prefixes, present or not */
	for (unsigned k = 0; k < 10; k++) {
		size_t first = 0;
		from = m->pfx[rng_below(MODEL_N)];
		if (rng_below(2) && from.len > 0)
			from.len = (uint8_t)rng_below(from.len); /* host bits may be set now */
		chunked->n = 0;
		rib_tree_walk(t, &from, SIZE_MAX, collect_cb, chunked, &next);
		mask(&from);
		while (first < n && pfx_cmp(want[first], &from) < 0)
			first++;
		assert_int_equal(chunked->n, n - first);
		for (size_t i = first; i < n; i++)
			assert_ptr_equal(chunked->v[i - first], all->v[i]);
	}
	free(all);
	free(chunked);
}

static void
check_lpm(struct rib_tree *t, const struct model *m)
{
	for (unsigned k = 0; k < 50; k++) {
		struct rib_prefix q = m->pfx[rng_below(MODEL_N)];
		const struct rib_prefix *best = NULL;
		struct rib_entry *e;
		unsigned from = rng_below(m->maxlen + 1);
		char b1[64], b2[64];

		/* an address near the candidates: random bits after `from` */
		for (unsigned b = from; b < m->maxlen; b++)
			if (rng_below(2))
				q.addr[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
		q.len = (uint8_t)m->maxlen;
		for (unsigned i = 0; i < MODEL_N; i++)
			if (m->e[i] != NULL && covers(&m->pfx[i], q.addr) &&
			    (best == NULL || m->pfx[i].len > best->len))
				best = &m->pfx[i];
		e = rib_tree_lpm(t, &q);
		if (best == NULL) {
			if (e != NULL)
				fail_msg("lpm %s: got %s, model none", pfx_str(&q, b1, sizeof(b1)),
				         pfx_str(&e->pfx, b2, sizeof(b2)));
			continue;
		}
		if (e == NULL || !pfx_eq(&e->pfx, best))
			fail_msg("lpm %s: got %s, model %s", pfx_str(&q, b1, sizeof(b1)),
			         e ? pfx_str(&e->pfx, b2, sizeof(b2)) : "none",
			         pfx_str(best, b2, sizeof(b2)));
	}
}

/* The tree's own invariants, and no more split points than a Patricia
 * tree of that many entries can need. */
static void
check_tree(const struct rib_tree *t)
{
	struct rib_tree_stats st;
	const char *why = NULL;

	if (rib_tree_check(t, &st, &why) != 0)
		fail_msg("tree invariant: %s", why);
	assert_int_equal(st.entries, rib_tree_count(t));
	assert_true(st.glue + st.glue_big <= (st.entries > 0 ? st.entries - 1 : 0));
}

static void
check_all_find(struct rib_tree *t, const struct model *m)
{
	for (unsigned i = 0; i < MODEL_N; i++) {
		struct rib_entry *e = rib_tree_find(t, &m->pfx[i]);
		assert_ptr_equal(e, m->e[m->canon[i]]);
	}
	assert_int_equal(rib_tree_count(t), m->count);
}

static void
run_model(uint8_t af, uint64_t seed, unsigned steps)
{
	struct model *m = malloc(sizeof(*m));
	struct rib_tree *t = rib_tree_new(af);
	struct attr_set *a = mkattr(7);
	struct rib_peer peer = {.id = 1};

	assert_non_null(m);
	assert_non_null(t);
	rng_state = seed;
	model_init(m, af);
	for (unsigned s = 0; s < steps; s++) {
		unsigned i = m->canon[rng_below(MODEL_N)];
		struct rib_entry *e;

		/* insert more often than remove while the table is small */
		if (m->e[i] == NULL && rng_below(100) < 60) {
			e = rib_tree_get(t, &m->pfx[i]);
			assert_non_null(e);
			assert_true(pfx_eq(&e->pfx, &m->pfx[i]));
			assert_int_equal(e->npaths, 0);
			assert_int_equal(e->best, -1);
			assert_int_equal(e->adv_groups, 0);
			m->e[i] = e;
			m->count++;
			/* some entries carry a path: rib_tree_free must drop it */
			if (rng_below(4) == 0)
				assert_int_equal(rib_entry_add(e, &peer, 0, attr_ref(a)), 1);
		} else if (m->e[i] != NULL) {
			e = m->e[i];
			if (rng_below(3) == 0) {
				/* get of a present prefix is the same entry */
				assert_ptr_equal(rib_tree_get(t, &m->pfx[i]), e);
				continue;
			}
			if (e->npaths > 0)
				assert_int_equal(rib_entry_del(e, &peer, 0), 1);
			rib_tree_remove(t, e);
			m->e[i] = NULL;
			m->count--;
		}
		check_all_find(t, m);
		check_tree(t);
		if (s % 97 == 0)
			check_lpm(t, m);
		if (s % 499 == 0)
			check_walks(t, m);
	}
	check_lpm(t, m);
	check_walks(t, m);
	/* drain: everything goes, the tree is empty and reusable */
	for (unsigned i = 0; i < MODEL_N; i++) {
		struct rib_entry *e = m->e[i];
		if (e == NULL)
			continue;
		if (e->npaths > 0)
			assert_int_equal(rib_entry_del(e, &peer, 0), 1);
		rib_tree_remove(t, e);
		m->e[i] = NULL;
		m->count--;
		if (i % 50 == 0)
			check_all_find(t, m);
	}
	assert_int_equal(rib_tree_count(t), 0);
	check_tree(t);
	check_walks(t, m);
	assert_non_null(rib_tree_get(t, &m->pfx[0]));
	assert_int_equal(rib_tree_count(t), 1);
	rib_tree_free(t);
	attr_unref(a);
	assert_int_equal(attr_count(), 0);
	free(m);
}

static void
test_model_ipv4(void **state)
{
	(void)state;
	run_model(BGP_AF_IPV4, 0x1234567ULL, 6000);
	run_model(BGP_AF_IPV4, 0xfeedbeefULL, 6000);
}

static void
test_model_ipv6(void **state)
{
	(void)state;
	run_model(BGP_AF_IPV6, 0x7654321ULL, 6000);
	run_model(BGP_AF_IPV6, 0xabcdef01ULL, 6000);
}

/* Fixed cases the random model may take long to reach. */
static void
test_edges(void **state)
{
	static const struct {
		const char *what;
		uint8_t len;
		uint8_t addr[4];
	} ins[] = {
	    {.what = "default", .len = 0},
	    {.what = "10/8", .len = 8, .addr = {10}},
	    {.what = "10.0/16", .len = 16, .addr = {10, 0}},
	    {.what = "10.0.0.0/24", .len = 24, .addr = {10, 0, 0}},
	    {.what = "10.0.0.1/32", .len = 32, .addr = {10, 0, 0, 1}},
	    {.what = "10.128/9", .len = 9, .addr = {10, 128}},
	    {.what = "255.255.255.255/32", .len = 32, .addr = {255, 255, 255, 255}},
	    {.what = "128/1", .len = 1, .addr = {128}},
	};
	const size_t n = sizeof(ins) / sizeof(ins[0]);
	struct rib_tree *t = rib_tree_new(BGP_AF_IPV4);
	struct rib_entry *e[sizeof(ins) / sizeof(ins[0])];
	struct rib_prefix p = {.af = BGP_AF_IPV4}, next;
	struct collect *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(t);
	assert_null(rib_tree_new(7));
	for (size_t i = 0; i < n; i++) {
		p.len = ins[i].len;
		memcpy(p.addr, ins[i].addr, 4);
		e[i] = rib_tree_get(t, &p);
		if (e[i] == NULL)
			fail_msg("%s: get failed", ins[i].what);
	}
	assert_int_equal(rib_tree_count(t), n);

	/* wrong family or length: refused */
	p.af = BGP_AF_IPV6;
	assert_null(rib_tree_get(t, &p));
	assert_null(rib_tree_find(t, &p));
	p.af = BGP_AF_IPV4;
	p.len = 33;
	assert_null(rib_tree_get(t, &p));

	/* host bits are masked on insert and ignored by find */
	p.len = 8;
	memcpy(p.addr, (uint8_t[]){10, 1, 2, 3}, 4);
	assert_ptr_equal(rib_tree_get(t, &p), e[1]);
	assert_ptr_equal(rib_tree_find(t, &p), e[1]);

	/* lpm */
	p.len = 32;
	memcpy(p.addr, (uint8_t[]){10, 0, 0, 1}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[4]);
	memcpy(p.addr, (uint8_t[]){10, 0, 0, 2}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[3]);
	memcpy(p.addr, (uint8_t[]){10, 200, 0, 2}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[5]);
	memcpy(p.addr, (uint8_t[]){11, 0, 0, 0}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[0]);
	memcpy(p.addr, (uint8_t[]){200, 0, 0, 0}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[7]);

	/* order: 0/0, 10/8, 10.0/16, 10.0.0/24, 10.0.0.1/32, 10.128/9, 128/1, 255.../32 */
	assert_int_equal(rib_tree_walk(t, NULL, 100, collect_cb, c, &next), n);
	assert_int_equal(next.len, 0xff);
	{
		const size_t order[] = {0, 1, 2, 3, 4, 5, 7, 6};
		for (size_t i = 0; i < n; i++)
			assert_ptr_equal(c->v[i], e[order[i]]);
	}
	/* max 0: nothing visited, next is the first entry */
	c->n = 0;
	assert_int_equal(rib_tree_walk(t, NULL, 0, collect_cb, c, &next), 0);
	assert_true(pfx_eq(&next, &e[0]->pfx));
	/* from past the end */
	p.len = 32;
	memset(p.addr, 0xff, 4);
	assert_int_equal(rib_tree_walk(t, &p, 100, collect_cb, c, &next), 1);
	p.len = 33;
	assert_int_equal(rib_tree_walk(t, &p, 100, collect_cb, c, &next), 0);
	assert_int_equal(next.len, 0xff);

	/* removing a split point keeps everything below it */
	rib_tree_remove(t, e[1]);
	rib_tree_remove(t, e[0]);
	p.len = 32;
	memcpy(p.addr, (uint8_t[]){10, 0, 0, 9}, 4);
	assert_ptr_equal(rib_tree_lpm(t, &p), e[3]);
	memcpy(p.addr, (uint8_t[]){11, 0, 0, 0}, 4);
	assert_null(rib_tree_lpm(t, &p));
	for (size_t i = 2; i < n; i++)
		assert_ptr_equal(rib_tree_find(t, &e[i]->pfx), e[i]);
	/* and brought back: a split point turns into a prefix again */
	p.len = 8;
	memcpy(p.addr, (uint8_t[]){10, 0, 0, 0}, 4);
	e[1] = rib_tree_get(t, &p);
	assert_non_null(e[1]);
	assert_int_equal(rib_tree_count(t), n - 1);
	check_tree(t);
	rib_tree_free(t);
	free(c);
}

/* ---- path vectors ---------------------------------------------------------------------------- */

static unsigned
refs(struct attr_set *a)
{
	return atomic_load_explicit(&a->refs, memory_order_relaxed);
}

static void
test_paths(void **state)
{
	struct rib_tree *t = rib_tree_new(BGP_AF_IPV6);
	struct rib_prefix p = {.af = BGP_AF_IPV6, .len = 48, .addr = {0x20, 0x01, 0x0d, 0xb8}};
	struct rib_peer peers[12];
	struct attr_set *a = mkattr(1), *b = mkattr(2);
	struct rib_entry *e;

	(void)state;
	for (unsigned i = 0; i < 12; i++)
		peers[i] = (struct rib_peer){.id = i};
	e = rib_tree_get(t, &p);
	assert_non_null(e);
	assert_int_equal(e->npaths, 0);
	assert_int_equal(e->cap, 1);

	/* new path: changed, the reference is the tree's now */
	assert_int_equal(rib_entry_add(e, &peers[0], 0, attr_ref(a)), 1);
	assert_int_equal(e->npaths, 1);
	assert_int_equal(refs(a), 2);
	assert_int_equal(e->best, -1);
	e->best = 0; /* as the decision process would */
	rib_paths(e)[0].idx = 77;
	rib_paths(e)[0].stale = 1;

	/* identical re-announcement: unchanged, the passed reference dropped,
	 * stale cleared, the decision kept */
	assert_int_equal(rib_entry_add(e, &peers[0], 0, attr_ref(a)), 0);
	assert_int_equal(refs(a), 2);
	assert_int_equal(rib_paths(e)[0].stale, 0);
	assert_int_equal(e->best, 0);

	/* same peer and path id, other attrs: replaced in place */
	assert_int_equal(rib_entry_add(e, &peers[0], 0, attr_ref(b)), 1);
	assert_int_equal(e->npaths, 1);
	assert_ptr_equal(rib_paths(e)[0].attrs, b);
	assert_int_equal(rib_paths(e)[0].idx, 77); /* the shard's field survives */
	assert_int_equal(refs(a), 1);
	assert_int_equal(refs(b), 2);
	assert_int_equal(e->best, -1);

	/* same peer, other path id (ADD-PATH): a second path */
	assert_int_equal(rib_entry_add(e, &peers[0], 1, attr_ref(a)), 1);
	assert_int_equal(e->npaths, 2);
	assert_int_equal(e->cap, 2);

	/* grow out of the node: 1 -> 2 -> 4 -> 8 -> 16 */
	for (unsigned i = 1; i < 10; i++) {
		assert_int_equal(rib_entry_add(e, &peers[i], 0, attr_ref(i % 2 ? a : b)), 1);
		rib_paths(e)[e->npaths - 1].idx = 100 + i;
	}
	assert_int_equal(e->npaths, 11);
	assert_int_equal(e->cap, 16);
	assert_int_equal(refs(a) + refs(b), 2 + 11);

	/* delete of an absent path: nothing */
	e->best = 3;
	assert_int_equal(rib_entry_del(e, &peers[11], 0), 0);
	assert_int_equal(rib_entry_del(e, &peers[0], 7), 0);
	assert_int_equal(e->best, 3);
	assert_int_equal(e->npaths, 11);

	/* delete in the middle: order kept, fields move along, best reset */
	assert_int_equal(rib_entry_del(e, &peers[4], 0), 1);
	assert_int_equal(e->best, -1);
	assert_int_equal(e->npaths, 10);
	for (unsigned k = 2, i = 1; i < 10; i++) {
		if (i == 4)
			continue;
		assert_ptr_equal(rib_paths(e)[k].peer, &peers[i]);
		assert_int_equal(rib_paths(e)[k].idx, 100 + i);
		k++;
	}
	assert_int_equal(refs(a) + refs(b), 2 + 10);

	/* shrink with hysteresis, then back into the node */
	for (unsigned i = 9; i >= 5; i--)
		assert_int_equal(rib_entry_del(e, &peers[i], 0), 1);
	assert_int_equal(e->npaths, 5);
	assert_int_equal(e->cap, 16);
	assert_int_equal(rib_entry_del(e, &peers[3], 0), 1);
	assert_int_equal(e->npaths, 4);
	assert_int_equal(e->cap, 8);
	assert_int_equal(rib_entry_del(e, &peers[0], 0), 1);
	assert_int_equal(rib_entry_del(e, &peers[1], 0), 1);
	assert_int_equal(rib_entry_del(e, &peers[2], 0), 1);
	assert_int_equal(e->npaths, 1);
	assert_int_equal(e->cap, 1);
	assert_ptr_equal(rib_paths(e)[0].peer, &peers[0]);
	assert_int_equal(rib_paths(e)[0].path_id, 1);
	assert_ptr_equal(rib_paths(e)[0].attrs, a);
	assert_int_equal(refs(a) + refs(b), 2 + 1);

	/* rib_tree_free drops the paths' references */
	assert_int_equal(rib_entry_add(e, &peers[5], 0, attr_ref(b)), 1);
	assert_int_equal(refs(b), 2);
	rib_tree_free(t);
	assert_int_equal(refs(a), 1);
	assert_int_equal(refs(b), 1);
	attr_unref(a);
	attr_unref(b);
	assert_int_equal(attr_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_model_ipv4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_model_ipv6, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
