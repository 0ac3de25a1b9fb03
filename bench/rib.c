/*
 * bench/rib.c — routehub-rib: cost of the RIB's data structures on one core.
 *
 * A synthetic full IPv4 table: N distinct prefixes (default 1,000,000; ~60%
 * /24, the rest /16../23, deterministic), each with one path whose
 * attribute set is one of A distinct interned sets (default 160,000, the
 * ratio of a real full table). Phases, each timed:
 *   intern-new   A interns of distinct sets (the insert path)
 *   intern-hit   N interns of existing sets (the lock-free lookup path)
 *   intern-mt    the same split over T threads at once (-t, default 2)
 *   insert       N x (rib_tree_get + rib_entry_add)
 *   find         N exact lookups, random order
 *   lpm          N longest-prefix matches of random addresses
 *   walk         the whole table in chunks of 512 (a dump to a new peer)
 *   delete       N x (rib_entry_del + rib_tree_remove), random order
 *   unref-last   A releases of the last reference (the kill path)
 * and the resident memory of the tree and of the sets (/proc/self/statm).
 *
 *   routehub-rib [-o] [-n PREFIXES] [-a SETS] [-s SEED] [-t THREADS]
 *
 * -o inserts in address order (a peer's table dump) instead of at random;
 * find-seq looks up in address order, find in random order, either way.
 *
 * Not a test: figures go to docs/; nothing here asserts timing.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "routehub/bgp.h"
#include "routehub/rib.h"
#include "../rib/radix_int.h"

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t
rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static void
report(const char *what, double secs, size_t ops)
{
	printf("%-12s %9zu ops %8.3f s %8.1f ns/op\n", what, ops, secs, secs * 1e9 / (double)ops);
}

/* Attribute bytes shaped like a canonical set: ORIGIN, AS_PATH of 2..7
 * ASes, NEXT_HOP, MED and sometimes COMMUNITIES; set i is distinct by its
 * path (the first AS and the origin AS carry i). */
static size_t
mkattrs(uint32_t i, uint8_t *b, struct attr_info *info)
{
	unsigned nas = 2 + i % 6, o = 0;

	memset(info, 0, sizeof(*info));
	b[o++] = 0x40, b[o++] = 1, b[o++] = 1, b[o++] = (uint8_t)(i % 3);
	b[o++] = 0x50, b[o++] = 2, b[o++] = 0, b[o++] = (uint8_t)(2 + 4 * nas);
	b[o++] = 2, b[o++] = (uint8_t)nas;
	for (unsigned k = 0; k < nas; k++) {
		uint32_t as = k == 0 ? 64512 + i % 1000 : k == nas - 1 ? 100000 + i : 3356 + k;
		b[o++] = (uint8_t)(as >> 24), b[o++] = (uint8_t)(as >> 16);
		b[o++] = (uint8_t)(as >> 8), b[o++] = (uint8_t)as;
	}
	b[o++] = 0x40, b[o++] = 3, b[o++] = 4;
	b[o++] = 192, b[o++] = 0, b[o++] = 2, b[o++] = (uint8_t)(1 + i % 200);
	b[o++] = 0x80, b[o++] = 4, b[o++] = 4;
	b[o++] = 0, b[o++] = 0, b[o++] = 0, b[o++] = (uint8_t)(i % 7);
	if (i % 4 == 0) {
		b[o++] = 0xc0, b[o++] = 8, b[o++] = 8;
		b[o++] = 0xfd, b[o++] = 0xe8, b[o++] = 0, b[o++] = 100;
		b[o++] = 0xfd, b[o++] = 0xe8, b[o++] = 0, b[o++] = (uint8_t)i;
	}
	info->aspath_len = (uint16_t)nas;
	info->neighbor_as = 64512 + i % 1000;
	info->origin = (uint8_t)(i % 3);
	info->med = i % 7;
	info->flags = ATTR_F_MED;
	return o;
}

struct hit_ctx {
	struct attr_set **sets;
	size_t na, n;
	uint64_t seed;
	pthread_barrier_t *start;
	size_t wrong;
};

/* intern-mt: interns (and drops) n sets that all exist, like io threads
 * decoding UPDATEs with known attributes. */
static void *
hit_run(void *arg)
{
	struct hit_ctx *h = arg;
	uint64_t x = h->seed | 1;
	uint8_t b[128];

	attr_thread_register();
	pthread_barrier_wait(h->start);
	for (size_t i = 0; i < h->n; i++) {
		struct attr_info info;
		struct attr_set *a;
		uint32_t k;
		size_t len;

		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		k = (uint32_t)((x * 0x2545F4914F6CDD1DULL) % h->na);
		len = mkattrs(k, b, &info);
		a = attr_intern(b, len, bgp_attrs_hash(b, len), &info);
		h->wrong += a != h->sets[k];
		attr_unref(a);
	}
	attr_thread_unregister();
	return NULL;
}

struct walk_ctx {
	struct rib_prefix *seq; /* the prefixes in walk order */
	size_t n;
	size_t paths;
};

static void
walk_cb(struct rib_entry *e, void *arg)
{
	struct walk_ctx *w = arg;

	w->paths += e->npaths;
	w->seq[w->n++] = e->pfx;
}

static int
pfx_cmp(const void *a, const void *b)
{
	const struct rib_prefix *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 4);

	return c != 0 ? c : (int)x->len - (int)y->len;
}

int
main(int argc, char **argv)
{
	size_t n = 1000000, na = 160000, done = 0, chunks = 0;
	struct walk_ctx w = {0};
	bool sorted = false;
	unsigned nthreads = 2;
	uint64_t seed = 42;
	struct rib_prefix *pfx, next, from;
	struct attr_set **sets;
	struct rib_tree *t;
	struct rib_tree_stats st;
	struct rib_peer peer = {.id = 1};
	uint32_t *perm;
	uint8_t b[128];
	size_t rss0, rss1, rss2, len, found = 0;
	const char *why;
	double t0;
	int c;

	while ((c = getopt(argc, argv, "n:a:s:ot:")) != -1) {
		switch (c) {
		case 'o':
			sorted = true;
			break;
		case 't':
			nthreads = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			na = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: routehub-rib [-o] [-n PREFIXES] [-a SETS] [-s "
			                "SEED] [-t THREADS]\n");
			return 2;
		}
	}
	if (n == 0 || na == 0 || n > 16000000 || nthreads == 0 || nthreads > 64) {
		fprintf(stderr, "routehub-rib: -n 1..16000000, -a >= 1, -t 1..64\n");
		return 2;
	}
	rng_state = seed | 1;
	if (attr_init(16) != 0)
		return 1;
	attr_thread_register();
	pfx = calloc(n, sizeof(*pfx));
	w.seq = calloc(n, sizeof(*w.seq));
	perm = calloc(n, sizeof(*perm));
	sets = calloc(na, sizeof(*sets));
	t = rib_tree_new(BGP_AF_IPV4);
	if (pfx == NULL || w.seq == NULL || perm == NULL || sets == NULL || t == NULL)
		return 1;

	/* Distinct prefixes: draw, and keep those the tree did not have yet
	 * (the tree is the dedup; it is rebuilt for the timed insert). */
	while (done < n) {
		struct rib_prefix *p = &pfx[done];
		uint32_t a = (uint32_t)(rng() >> 32);
		unsigned plen = (rng() % 100) < 60 ? 24 : 16 + (unsigned)(rng() % 8);

		a = (a % (223u << 24)) + (1u << 24); /* 1.0.0.0 .. 223.255.255.255 */
		a &= ~0u << (32 - plen);
		memset(p, 0, sizeof(*p));
		p->af = BGP_AF_IPV4;
		p->len = (uint8_t)plen;
		p->addr[0] = (uint8_t)(a >> 24), p->addr[1] = (uint8_t)(a >> 16);
		p->addr[2] = (uint8_t)(a >> 8), p->addr[3] = (uint8_t)a;
		if (rib_tree_get(t, p) == NULL)
			return 1;
		if (rib_tree_count(t) > done)
			done++; /* new: keep it */
	}
	rib_tree_free(t);
	if (sorted)
		qsort(pfx, n, sizeof(*pfx), pfx_cmp);
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng() % (i + 1);
		uint32_t x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	t = rib_tree_new(BGP_AF_IPV4);
	printf("routehub-rib: %zu IPv4 prefixes (inserted %s), %zu attribute sets, seed %llu\n", n,
	       sorted ? "in order" : "at random", na, (unsigned long long)seed);

	/* ---- attribute sets ---- */
	rss0 = rss();
	t0 = now();
	for (size_t i = 0; i < na; i++) {
		struct attr_info info;
		len = mkattrs((uint32_t)i, b, &info);
		sets[i] = attr_intern(b, len, bgp_attrs_hash(b, len), &info);
		if (sets[i] == NULL)
			return 1;
	}
	report("intern-new", now() - t0, na);
	rss1 = rss();
	printf("%-12s %9zu sets, %.1f bytes each (resident)\n", "attr-mem", attr_count(),
	       (double)(rss1 - rss0) / (double)na);
	/* hits: hash included, as an io thread pays it per UPDATE */
	t0 = now();
	for (size_t i = 0; i < n; i++) {
		struct attr_info info;
		struct attr_set *a;
		uint32_t k = (uint32_t)(rng() % na);
		len = mkattrs(k, b, &info);
		a = attr_intern(b, len, bgp_attrs_hash(b, len), &info);
		if (a != sets[k])
			return 1;
		attr_unref(a);
	}
	report("intern-hit", now() - t0, n);
	{
		struct hit_ctx h[64];
		pthread_t tid[64];
		pthread_barrier_t start;
		size_t wrong = 0;

		pthread_barrier_init(&start, NULL, nthreads + 1);
		for (unsigned i = 0; i < nthreads; i++) {
			h[i] = (struct hit_ctx){sets, na, n / nthreads, seed + 7 * i, &start, 0};
			if (pthread_create(&tid[i], NULL, hit_run, &h[i]) != 0)
				return 1;
		}
		pthread_barrier_wait(&start);
		t0 = now();
		for (unsigned i = 0; i < nthreads; i++) {
			pthread_join(tid[i], NULL);
			wrong += h[i].wrong;
		}
		report("intern-mt", now() - t0, n / nthreads * nthreads);
		printf("%-12s %9u threads: ns/op is wall time over all threads' ops\n", "",
		       nthreads);
		pthread_barrier_destroy(&start);
		if (wrong != 0)
			return 1;
	}

	/* ---- the tree ---- */
	rss1 = rss();
	t0 = now();
	for (size_t i = 0; i < n; i++) {
		struct rib_entry *e = rib_tree_get(t, &pfx[i]);
		if (e == NULL || rib_entry_add(e, &peer, 0, attr_ref(sets[i % na])) != 1)
			return 1;
	}
	report("insert", now() - t0, n);
	rss2 = rss();
	if (rib_tree_check(t, &st, &why) != 0) {
		fprintf(stderr, "routehub-rib: tree invariant: %s\n", why);
		return 1;
	}
	printf("%-12s %9zu prefixes, %.1f bytes each (resident); %zu split points, depth %zu, "
	       "slabs %.1f MiB\n",
	       "tree-mem", rib_tree_count(t), (double)(rss2 - rss1) / (double)n,
	       st.glue + st.glue_big, st.depth, (double)st.slab_bytes / (1 << 20));

	t0 = now();
	for (size_t i = 0; i < n; i++)
		found += rib_tree_find(t, &pfx[perm[i]]) != NULL;
	report("find", now() - t0, n);
	if (found != n)
		return 1;

	found = 0;
	t0 = now();
	for (size_t i = 0; i < n; i++) {
		struct rib_prefix q = {.af = BGP_AF_IPV4, .len = 32};
		uint32_t a = (uint32_t)(rng() >> 32);
		q.addr[0] = (uint8_t)(a >> 24), q.addr[1] = (uint8_t)(a >> 16);
		q.addr[2] = (uint8_t)(a >> 8), q.addr[3] = (uint8_t)a;
		found += rib_tree_lpm(t, &q) != NULL;
	}
	report("lpm", now() - t0, n);
	printf("%-12s %9zu of %zu random addresses covered\n", "lpm-hits", found, n);

	t0 = now();
	done = rib_tree_walk(t, NULL, 512, walk_cb, &w, &next);
	chunks = 1;
	while (next.len != 0xff) {
		from = next;
		done += rib_tree_walk(t, &from, 512, walk_cb, &w, &next);
		chunks++;
	}
	report("walk", now() - t0, done);
	if (done != n || w.paths != n)
		return 1;
	printf("%-12s %9zu chunks of 512\n", "walk-chunks", chunks);

	found = 0;
	t0 = now();
	for (size_t i = 0; i < n; i++)
		found += rib_tree_find(t, &w.seq[i]) != NULL;
	report("find-seq", now() - t0, n);
	if (found != n)
		return 1;

	t0 = now();
	for (size_t i = 0; i < n; i++) {
		struct rib_entry *e = rib_tree_find(t, &pfx[perm[i]]);
		if (e == NULL || rib_entry_del(e, &peer, 0) != 1)
			return 1;
		rib_tree_remove(t, e);
	}
	report("delete", now() - t0, n);
	if (rib_tree_count(t) != 0)
		return 1;

	t0 = now();
	for (size_t i = 0; i < na; i++)
		attr_unref(sets[i]);
	report("unref-last", now() - t0, na);
	if (attr_count() != 0)
		return 1;

	rib_tree_free(t);
	attr_thread_unregister();
	attr_fini();
	free(pfx);
	free(w.seq);
	free(perm);
	free(sets);
	return 0;
}
