/*
 * radix.c — the per-shard radix tree of prefixes, and each prefix's paths.
 *
 * Owns the nodes of a struct rib_tree, the struct rib_entry embedded in them
 * and their path vectors; the references the paths hold on attribute sets
 * are released here when the tree goes. A tree belongs to one
 * shard worker thread: nothing here is shared or atomic.
 *
 * The tree is a path-compressed binary trie (Patricia): a node exists only
 * where a prefix is stored or where two branches split. Node keys are
 * prefixes; a node's children extend its key by one bit (child[0] / child[1]
 * hold the keys whose bit at position key.len is 0 / 1). Pre-order (node,
 * child[0], child[1]) is therefore the order by address, then by length,
 * which rib_tree_walk exposes and resumes from any prefix.
 *
 * Keys of 16 bits or more hang from a 65,536-slot array indexed by their
 * first 16 bits; shorter ones live in a small tree of their own. A lookup
 * thus skips the 16 top levels, the ones every lookup would cross: a full
 * IPv4 table is ~17 prefixes per used slot and ~9 levels deep at most,
 * instead of ~25. The walk merges the short tree with the slots in order.
 *
 * Memory, for a full table of ~1M prefixes in one tree: every node comes
 * from one address range reserved per tree (rn_region_get) and is named by
 * a 32-bit index, its offset / 8, so that a child link is 4 bytes. Entry
 * nodes embed the struct rib_entry and room for one path (the common case:
 * no vector allocation at all), 64 bytes; glue nodes hold only their two
 * children and the prefix bytes of their family, 16 bytes for IPv4 and 32
 * for IPv6. Each size keeps a free list; the range goes with the tree. A
 * path vector that outgrows its node doubles through malloc (jemalloc's
 * size classes are slabs too), and shrinks back with hysteresis.
 *
 * Speed on bulk updates: exact lookups go through a hash of the keys (one
 * or two cache misses, where a random descent of a 1M-prefix tree costs
 * several), and linking or unlinking a node is deferred: new entries wait on
 * a pending list and removed ones on a dead list until rn_sync() sorts each
 * and applies it in address order, so consecutive operations share their
 * path down the tree (random inserts ~1 us, sorted ones ~0.15 us). Both
 * lists are intrusive (no memory per waiting node), so nothing is linked
 * during a burst: the owner calls rib_tree_sync() when it is over; walks,
 * longest-prefix matches and the checker sync first.
 *
 * Invariants:
 *  - every live entry is in the hash; pending ones (RN_F_PENDING) are not in
 *    the tree yet; dead ones (RN_F_DEAD) are out of the hash and wait to be
 *    unlinked (linked ones) or freed (pending ones);
 *  - the short tree holds exactly the keys shorter than RN_STRIDE; slot s
 *    holds exactly the longer keys whose first RN_STRIDE bits are s.
 *  - along every root-to-leaf path, key lengths strictly increase and each
 *    key extends its parent's; host bits of every key are zero.
 *  - a glue node has two children; an entry node has 0, 1 or 2.
 *  - the paths are in the entry (cap == 1, e->p.one) or in a malloc'ed
 *    vector (cap > 1, e->p.vec); e->best is -1 or what the decision process last computed
 *    over the current paths: any change of the vector resets it to -1.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <time.h>

#include "routehub/bgp.h"
#include "routehub/rib.h"
#include "radix_int.h"

#define RN_BUG_ON(cond)                                                                            \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			rn_bug(__func__, #cond);                                                   \
	} while (0)

/* u.key.af of nodes that only split (entries hold their family there). */
#define RN_GLUE     0xff /* glue-sized */
#define RN_GLUE_BIG 0xfe /* an entry-sized node turned glue in place */

#define RN_STRIDE 16 /* keys of at least 16 bits hang from t->slot[first 16 bits] */
#define RN_SLOTS  (1u << RN_STRIDE)
#define RN_STACK  (2 * (128 + 2)) /* depth <= 129 nodes; a walk stacks one sibling each */

/* A node's name: its offset in the tree's region / RN_UNIT; 0 is none. */
typedef uint32_t rn_idx;
#define RN_UNIT 8

struct rnode {
	rn_idx child[2];
	union {
		/* Glue nodes: only af, len and the family's address bytes exist. */
		struct rib_prefix key;
		/* Entry nodes: e.pfx is the key. */
		struct {
			struct rib_entry e; /* with room for one path */
		} ent;
	} u;
};

static_assert(offsetof(struct rnode, u.ent.e.pfx) == offsetof(struct rnode, u.key),
              "an entry's prefix is its node's key");
static_assert(sizeof(void *) != 8 || sizeof(struct rnode) == 64,
              "entry nodes are 64 bytes: child links are 4-byte indices, a cache line a node");
static_assert(sizeof(struct rnode) % RN_UNIT == 0, "nodes are whole units");

/* Every node of a tree: one reserved address range (rn_region_get). */
struct rn_region {
	char *base;
	size_t reserved;  /* bytes of address space */
	size_t committed; /* bytes made writable, from base */
	size_t used;      /* bytes handed out, from base (starts at RN_UNIT: index 0 is "none") */
	void *free[2];    /* freed entry-sized [0] and glue-sized [1] nodes, linked
	                     through their first word */
	size_t size[2];   /* bytes of each */
};

struct rib_tree {
	rn_idx root;  /* keys shorter than RN_STRIDE */
	rn_idx *slot; /* [RN_SLOTS]: the subtree of each RN_STRIDE-bit start */
	size_t count;
	uint8_t af;
	uint8_t alen;         /* address bytes: 4 or 16 */
	uint8_t maxlen;       /* 32 or 128 */
	struct rn_region ent; /* all nodes */
	/* exact-match index: open addressing, linear probing, <= 3/4 full;
	 * one word a slot (rn_hslot) */
	uint64_t *h;
	size_t hcap, hn;
	unsigned hbits; /* hcap == 1 << hbits */
	uint64_t seed;  /* per tree: keys cannot be chosen to collide */
	/* deferred structure changes (rn_sync) */
	struct rnode *pend; /* not linked yet, through child[0] (an index) */
	struct rnode *dead; /* removed, still linked, through rn_dead_link() */
	size_t npend, ndead;
};

#define RN_F_PENDING  0x4000 /* e->flags: not linked into the tree yet */
#define RN_SYNC_BATCH 65536  /* nodes rn_sync sorts and applies at a time */
#define RN_F_DEAD     0x8000 /* e->flags: removed, waiting for rn_sync */

static void rn_bug(const char *fn, const char *what) __attribute__((noreturn, cold));
static void rn_sync(const struct rib_tree *ct);

static void
rn_bug(const char *fn, const char *what)
{
	fprintf(stderr, "routehub rib: BUG in %s: %s\n", fn, what);
	abort();
}

/* Under AddressSanitizer, free nodes and the unused part of the region are
 * poisoned: reads past a glue node or uses after free are caught. */
#if defined(__SANITIZE_ADDRESS__)
#define RN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RN_ASAN 1
#endif
#endif

/* Sanitizer builds (the unit tests in CI) check that a caller's hash is
 * the key's; release builds keep their other checks (NDEBUG is never
 * set) but not this one, which hashed every key twice. */
#if defined(RN_ASAN) || defined(__SANITIZE_THREAD__) || defined(RH_CHECK_HASH)
#define RN_CHECK_HASH 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define RN_CHECK_HASH 1
#endif
#endif
#ifndef RN_CHECK_HASH
#define RN_CHECK_HASH 0
#endif

/* ---- bits of keys ------------------------------------------------------------------------- */

static inline unsigned
rn_bit(const uint8_t *a, unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

static inline uint32_t
rn_be32(const uint8_t *a)
{
	uint32_t v;

	memcpy(&v, a, sizeof(v));
	return __builtin_bswap32(v);
}

static inline uint64_t
rn_be64(const uint8_t *a)
{
	uint64_t v;

	memcpy(&v, a, sizeof(v));
	return __builtin_bswap64(v);
}

/* Number of leading bits a and b share (up to the family's length). Reads
 * only the family's address bytes: glue nodes have no more. */
static inline unsigned
rn_common(const struct rib_tree *t, const uint8_t *a, const uint8_t *b)
{
	uint64_t x;
	uint32_t y;

	if (t->alen == 4) {
		y = rn_be32(a) ^ rn_be32(b);
		return y != 0 ? (unsigned)__builtin_clz(y) : 32;
	}
	x = rn_be64(a) ^ rn_be64(b);
	if (x != 0)
		return (unsigned)__builtin_clzll(x);
	x = rn_be64(a + 8) ^ rn_be64(b + 8);
	return x != 0 ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

/* dst = the first len bits of src, the rest zero (16 bytes). */
static void
rn_mask(uint8_t *dst, const uint8_t *src, unsigned len, unsigned alen)
{
	unsigned full = len >> 3;

	memset(dst, 0, 16);
	memcpy(dst, src, full);
	if ((len & 7) != 0 && full < alen)
		dst[full] = (uint8_t)(src[full] & (0xff00u >> (len & 7)));
}

/* The first RN_STRIDE bits of an address. */
static inline unsigned
rn_slot(const uint8_t *a)
{
	return (unsigned)a[0] << 8 | a[1];
}

/* Where the subtree holding keys of this length and address hangs. */
static inline rn_idx *
rn_top(struct rib_tree *t, const uint8_t *addr, unsigned len)
{
	return len < RN_STRIDE ? &t->root : &t->slot[rn_slot(addr)];
}

static inline bool
rn_is_entry(const struct rnode *n)
{
	return n->u.key.af < RN_GLUE_BIG;
}

static inline struct rnode *
rn_of(struct rib_entry *e)
{
	return (struct rnode *)(void *)((char *)e - offsetof(struct rnode, u.ent.e));
}

/* Index <-> node. */
static inline struct rnode *
rn_node(const struct rib_tree *t, rn_idx i)
{
	return i != 0 ? (struct rnode *)(void *)(t->ent.base + (size_t)i * RN_UNIT) : NULL;
}

static inline rn_idx
rn_name(const struct rib_tree *t, const struct rnode *n)
{
	return n != NULL ? (rn_idx)(((const char *)n - t->ent.base) / RN_UNIT) : 0;
}

static inline struct rnode *
rn_child(const struct rib_tree *t, const struct rnode *n, unsigned b)
{
	return rn_node(t, n->child[b]);
}

/*
 * Nodes come from one address range reserved per tree (PROT_NONE, made
 * writable a megabyte at a time as the tree grows), so that a node is named
 * by a 32-bit index (its offset / RN_UNIT): a child link is 4 bytes, and a
 * slot of the exact-match index holds an entry's index next to 32 bits of
 * the key's hash, enough to find a slot's home without touching its node
 * when deleting and when resizing. Freed nodes are reused (a free list per
 * size); the range goes with the tree.
 */
#define RN_REGION_CHUNK (1u << 20)
#define RN_SZ_ENTRY     0
#define RN_SZ_GLUE      1

#if defined(RN_ASAN)
#include <sanitizer/asan_interface.h>
#define RN_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define RN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RN_POISON(p, n)   ((void)(p), (void)(n))
#define RN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static int
rn_region_init(struct rn_region *r, size_t glue_size)
{
	/* 32 GiB of address space names 4 G units of 8 bytes (rn_idx).
	 * Under an address-space limit (RLIMIT_AS) a tree takes at most a
	 * sixteenth of it, so that a few trees leave room for the rest. */
	static const size_t sizes[] = {(size_t)32 << 30, (size_t)4 << 30, (size_t)512 << 20,
	                               (size_t)64 << 20};
	struct rlimit rl;
	size_t cap = SIZE_MAX;

	memset(r, 0, sizeof(*r));
	r->size[RN_SZ_ENTRY] = sizeof(struct rnode);
	r->size[RN_SZ_GLUE] = glue_size;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cap = (size_t)(rl.rlim_cur / 16);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *m;
		if (sizes[i] > cap && i + 1 < sizeof(sizes) / sizeof(sizes[0]))
			continue;
		m = mmap(NULL, sizes[i], PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		         0);
		if (m != MAP_FAILED) {
			r->base = m;
			r->reserved = sizes[i];
			r->used = sizeof(struct rnode); /* index 0 is "none" */
			return 0;
		}
	}
	return -1;
}

static void rn_region_put(struct rn_region *r, unsigned kind, void *o);

/* Entry nodes stay on cache-line boundaries: glue nodes are carved from
 * entry-sized blocks (4 IPv4 or 2 IPv6 ones a block). */
static void *
rn_region_get(struct rn_region *r, unsigned kind)
{
	void *o = r->free[kind];
	const size_t size = sizeof(struct rnode);

	if (o != NULL) {
		RN_UNPOISON(o, r->size[kind]);
		r->free[kind] = *(void **)o;
		return o;
	}
	if (r->used + size > r->committed) {
		if (r->committed + RN_REGION_CHUNK > r->reserved ||
		    mprotect(r->base + r->committed, RN_REGION_CHUNK, PROT_READ | PROT_WRITE) != 0)
			return NULL;
		RN_POISON(r->base + r->committed, RN_REGION_CHUNK);
		r->committed += RN_REGION_CHUNK;
	}
	o = r->base + r->used;
	r->used += size;
	RN_UNPOISON(o, size);
	if (kind == RN_SZ_GLUE) {
		for (size_t off = size - r->size[kind]; off > 0; off -= r->size[kind])
			rn_region_put(r, kind, (char *)o + off);
	}
	return o;
}

static void
rn_region_put(struct rn_region *r, unsigned kind, void *o)
{
	*(void **)o = r->free[kind];
	r->free[kind] = o;
	RN_POISON((char *)o + sizeof(void *), r->size[kind] - sizeof(void *));
}

static void
rn_region_fini(struct rn_region *r)
{
	if (r->base != NULL) {
		RN_UNPOISON(r->base, r->committed);
		munmap(r->base, r->reserved);
	}
	memset(r, 0, sizeof(*r));
}

/* ---- nodes ---------------------------------------------------------------------------------- */

/* An entry node for the key: the first n bytes of its (masked) address
 * (the rest zero) and len; no children, no paths. */
static struct rnode *
rn_entry_new(struct rib_tree *t, const void *addr, size_t n, unsigned len)
{
	struct rnode *x = rn_region_get(&t->ent, RN_SZ_ENTRY);
	struct rib_entry *e;

	if (x == NULL)
		return NULL;
	e = &x->u.ent.e;
	memset(x, 0, sizeof(*x));
	e->pfx.af = t->af;
	e->pfx.len = (uint8_t)len;
	memcpy(e->pfx.addr, addr, n);
	e->best = -1;
	e->cap = 1;
	return x;
}

static struct rnode *
rn_glue_new(struct rib_tree *t, const uint8_t *addr, unsigned len)
{
	struct rnode *g = rn_region_get(&t->ent, RN_SZ_GLUE);
	uint8_t key[16];

	if (g == NULL)
		return NULL;
	g->child[0] = g->child[1] = 0;
	g->u.key.af = RN_GLUE;
	g->u.key.len = (uint8_t)len;
	rn_mask(key, addr, len, t->alen);
	memcpy(g->u.key.addr, key, t->alen); /* all a glue node has room for */
	return g;
}

static void
rn_node_free(struct rib_tree *t, struct rnode *n)
{
	rn_region_put(&t->ent, n->u.key.af == RN_GLUE ? RN_SZ_GLUE : RN_SZ_ENTRY, n);
}

/* Release what an entry holds: path references, its vector. */
static void
rn_entry_clear(struct rib_entry *e)
{
	struct rib_path *v = rib_paths(e);

	for (unsigned i = 0; i < e->npaths; i++)
		attr_unref(v[i].attrs);
	if (e->cap > 1)
		free(e->p.vec);
	e->npaths = 0;
	e->cap = 1;
}

/* ---- the exact-match hash ------------------------------------------------------------------ */

static inline uint64_t
rn_mix(uint64_t h)
{
	/* splitmix64's finalizer: every input bit reaches the low bits the
	 * table uses (a /24's low address bits are all zero). */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/*
 * A slot of the exact-match index is one word, 0 when empty: the top 32
 * bits of the key's hash and the entry node's index in the tree's region
 * (never 0). The home slot is the hash's top hbits bits, so a slot's home
 * is known without its node (deletions shift, resizes rehash, neither
 * reads a node), and the other 32 - hbits bits are a tag that lets a probe
 * skip most nodes that are not the one.
 */
/* IPv4: v is the masked address in host order. */
static inline uint64_t
rn_hash4(const struct rib_tree *t, uint32_t v, unsigned len)
{
	return rn_mix(((uint64_t)v << 8 | len) ^ t->seed);
}

static inline uint64_t
rn_hash(const struct rib_tree *t, const uint8_t *addr, unsigned len)
{
	if (t->alen == 4)
		return rn_hash4(t, rn_be32(addr), len);
	return rn_mix(rn_be64(addr) ^ rn_mix(rn_be64(addr + 8) ^ len ^ t->seed));
}

/* The home slot of hash h, or of a slot value (it keeps h's top 32 bits,
 * and hbits <= 32). */
static inline size_t
rn_hhome(const struct rib_tree *t, uint64_t h)
{
	return (size_t)(h >> (64 - t->hbits));
}

static inline uint64_t
rn_hslot(const struct rib_tree *t, uint64_t h, const struct rnode *x)
{
	return (h & ~(uint64_t)UINT32_MAX) | rn_name(t, x);
}

static inline struct rnode *
rn_hnode(const struct rib_tree *t, uint64_t v)
{
	return rn_node(t, (rn_idx)v);
}

static inline bool
rn_key_eq(const struct rib_tree *t, const struct rnode *n, const uint8_t *addr, unsigned len)
{
	return n->u.key.len == len && memcmp(n->u.key.addr, addr, t->alen) == 0;
}

/* The node of (addr, len), whose hash is h. */
static struct rnode *
rn_hget(const struct rib_tree *t, uint64_t h, const uint8_t *addr, unsigned len)
{
	uint64_t v, want = h & ~(uint64_t)UINT32_MAX;
	size_t i, mask = t->hcap - 1;

	if (t->hn == 0)
		return NULL;
	for (i = rn_hhome(t, h); (v = t->h[i]) != 0; i = (i + 1) & mask)
		if ((v & ~(uint64_t)UINT32_MAX) == want && rn_key_eq(t, rn_hnode(t, v), addr, len))
			return rn_hnode(t, v);
	return NULL;
}

/* Put slot value v (home from its hash bits); the table has room. */
static void
rn_hput_nogrow(struct rib_tree *t, uint64_t v)
{
	size_t i = rn_hhome(t, v), mask = t->hcap - 1;

	while (t->h[i] != 0)
		i = (i + 1) & mask;
	t->h[i] = v;
	t->hn++;
}

/* Tables of a megabyte or more come straight from the kernel and go
 * straight back: a table the size of a full table's index, freed by a
 * resize, would otherwise stay resident in the allocator for a while. */
#define RN_HMAP_MIN (1u << 20)

static uint64_t *
rn_halloc(size_t n)
{
	void *p;

	if (n * sizeof(uint64_t) < RN_HMAP_MIN)
		return calloc(n, sizeof(uint64_t));
	p = mmap(NULL, n * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void
rn_hfree(uint64_t *h, size_t n)
{
	if (h == NULL)
		return;
	if (n * sizeof(uint64_t) < RN_HMAP_MIN)
		free(h);
	else
		munmap(h, n * sizeof(uint64_t));
}

/* Rebuild the table with 1 << bits slots: the slots move by the hash
 * bits they keep, no node is read. */
static int
rn_hresize(struct rib_tree *t, unsigned bits)
{
	uint64_t *oh = t->h, *nh;
	size_t ocap = t->hcap;

	if (bits > 32 || (nh = rn_halloc((size_t)1 << bits)) == NULL)
		return -1;
	t->h = nh;
	t->hcap = (size_t)1 << bits;
	t->hbits = bits;
	t->hn = 0;
	for (size_t i = 0; i < ocap; i++)
		if (oh[i] != 0)
			rn_hput_nogrow(t, oh[i]);
	rn_hfree(oh, ocap);
	return 0;
}

/* Put x, whose key's hash is h. */
static int
rn_hput(struct rib_tree *t, struct rnode *x, uint64_t h)
{
	/* Kept at most 3/4 full: linear probes stay short. */
	if ((t->hn + 1) * 4 > t->hcap * 3 && rn_hresize(t, t->hcap ? t->hbits + 1 : 10) != 0)
		return -1;
	rn_hput_nogrow(t, rn_hslot(t, h, x));
	return 0;
}

/* Backward-shift deletion: no tombstones, probes stay short. */
static void
rn_hdel(struct rib_tree *t, const struct rnode *x)
{
	size_t mask = t->hcap - 1, i, j;
	rn_idx xi = rn_name(t, x);

	for (i = rn_hhome(t, rn_hash(t, x->u.key.addr, x->u.key.len)); (uint32_t)t->h[i] != xi;
	     i = (i + 1) & mask)
		RN_BUG_ON(t->h[i] == 0);
	for (j = (i + 1) & mask; t->h[j] != 0; j = (j + 1) & mask) {
		size_t k = rn_hhome(t, t->h[j]);
		/* h[j] may fill the hole at i unless its home k lies in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->h[i] = t->h[j];
		i = j;
	}
	t->h[i] = 0;
	t->hn--;
}

/* ---- the tree -------------------------------------------------------------------------------- */

struct rib_tree *
rib_tree_new(uint8_t af)
{
	struct rib_tree *t;
	size_t gsize;

	if (af != BGP_AF_IPV4 && af != BGP_AF_IPV6)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->af = af;
	t->alen = af == BGP_AF_IPV4 ? 4 : 16;
	t->maxlen = (uint8_t)(t->alen * 8);
	/* A glue node ends after its family's address: 16 or 32 bytes. */
	gsize =
	    (offsetof(struct rnode, u.key.addr) + t->alen + RN_UNIT - 1) & ~(size_t)(RN_UNIT - 1);
	if (rn_region_init(&t->ent, gsize) != 0) {
		free(t);
		return NULL;
	}
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = rn_mix((uint64_t)(uintptr_t)t ^ (uint64_t)time(NULL));
	/* 256 KiB of address space; pages become resident as slots fill. */
	t->slot = calloc(RN_SLOTS, sizeof(*t->slot));
	if (t->slot == NULL) {
		rn_region_fini(&t->ent);
		free(t);
		return NULL;
	}
	return t;
}

/* Release what the entries of a subtree hold (the nodes go with the region). */
static void
rn_clear_subtree(const struct rib_tree *t, rn_idx root)
{
	rn_idx stack[RN_STACK];
	int sp = 0;

	if (root != 0)
		stack[sp++] = root;
	while (sp > 0) {
		struct rnode *n = rn_node(t, stack[--sp]);
		if (rn_is_entry(n))
			rn_entry_clear(&n->u.ent.e);
		for (int i = 0; i < 2; i++)
			if (n->child[i] != 0)
				stack[sp++] = n->child[i];
	}
}

void
rib_tree_free(struct rib_tree *t)
{
	if (t == NULL)
		return;
	rn_clear_subtree(t, t->root);
	for (unsigned s = 0; s < RN_SLOTS; s++)
		rn_clear_subtree(t, t->slot[s]);
	while (t->pend != NULL) { /* never linked */
		struct rnode *x = t->pend;
		t->pend = rn_child(t, x, 0);
		rn_entry_clear(&x->u.ent.e);
	}
	/* the dead are linked: cleared with their subtree above */
	rn_hfree(t->h, t->hcap);
	rn_region_fini(&t->ent);
	free(t->slot);
	free(t);
}

size_t
rib_tree_count(const struct rib_tree *t)
{
	return t->count;
}

/* Entry nodes are whole nodes from the start of the region (glue is carved
 * from node-sized blocks), so offset / 64 names them: < 2^29 in 32 GiB. */
static_assert(((size_t)32 << 30) / sizeof(struct rnode) <= (size_t)1 << 31,
              "entry handles fit 31 bits");

uint32_t
rib_tree_handle(const struct rib_tree *t, const struct rib_entry *e)
{
	const char *n = (const char *)e - offsetof(struct rnode, u.ent.e);

	return (uint32_t)((size_t)(n - t->ent.base) / sizeof(struct rnode));
}

struct rib_entry *
rib_tree_entry(const struct rib_tree *t, uint32_t h)
{
	return &((struct rnode *)(void *)(t->ent.base + (size_t)h * sizeof(struct rnode)))->u.ent.e;
}

/* Link entry node x (children NULL, key masked) into the tree. -1 only when
 * a split point cannot be allocated: x stays unlinked. */
static int
rn_link(struct rib_tree *t, struct rnode *x)
{
	const uint8_t *addr = x->u.ent.e.pfx.addr;
	unsigned len = x->u.ent.e.pfx.len, nl, m;
	rn_idx *link;
	struct rnode *n;

	link = rn_top(t, addr, len);
	while ((n = rn_node(t, *link)) != NULL) {
		nl = n->u.key.len;
		if (nl > len || rn_common(t, n->u.key.addr, addr) < nl)
			break; /* n is not x's key nor one of its ancestors */
		if (nl == len) {
			/* A split point at x's key: x takes its place (the hash
			 * guarantees no live entry has this key). */
			RN_BUG_ON(rn_is_entry(n));
			x->child[0] = n->child[0];
			x->child[1] = n->child[1];
			*link = rn_name(t, x);
			rn_node_free(t, n);
			return 0;
		}
		link = &n->child[rn_bit(addr, nl)];
	}
	if (n != NULL) {
		nl = n->u.key.len;
		m = rn_common(t, n->u.key.addr, addr);
		if (m > len)
			m = len;
		if (m == len) {
			/* x covers n (len < nl here). */
			x->child[rn_bit(n->u.key.addr, len)] = rn_name(t, n);
		} else {
			/* They part at bit m < min(len, nl): a split point. */
			struct rnode *g = rn_glue_new(t, addr, m);
			if (g == NULL)
				return -1;
			g->child[rn_bit(addr, m)] = rn_name(t, x);
			g->child[rn_bit(n->u.key.addr, m)] = rn_name(t, n);
			*link = rn_name(t, g);
			return 0;
		}
	}
	*link = rn_name(t, x);
	return 0;
}

/*
 * IPv4 lookups keep the masked address in a register: a key built in a
 * stack buffer byte by byte and read back as words stalls on store
 * forwarding, in the path every UPDATE's prefixes take. a is the address
 * in memory order, masked.
 */
static struct rnode *
rn_hget4(const struct rib_tree *t, unsigned len, uint32_t a, uint64_t h)
{
	uint64_t v, want = h & ~(uint64_t)UINT32_MAX;
	size_t i, mask = t->hcap - 1;

	RN_BUG_ON(RN_CHECK_HASH && h != rn_hash4(t, __builtin_bswap32(a), len));
	if (t->hn == 0)
		return NULL;
	for (i = rn_hhome(t, h); (v = t->h[i]) != 0; i = (i + 1) & mask) {
		const struct rnode *x;
		uint32_t b;
		if ((v & ~(uint64_t)UINT32_MAX) != want)
			continue;
		x = rn_hnode(t, v);
		memcpy(&b, x->u.key.addr, sizeof(b));
		if (x->u.key.len == len && b == a)
			return rn_hnode(t, v);
	}
	return NULL;
}

/* pfx's IPv4 address in memory order, masked to its length (at most 32). */
static inline uint32_t
rn_addr4(const struct rib_prefix *pfx)
{
	unsigned l = pfx->len > 32 ? 32 : pfx->len;
	uint32_t a;

	memcpy(&a, pfx->addr, sizeof(a));
	return l ? a & __builtin_bswap32(0xffffffffu << (32 - l)) : 0;
}

struct rib_entry *
rib_tree_get_h(struct rib_tree *t, const struct rib_prefix *pfx, uint64_t h)
{
	struct rnode *x;
	uint8_t addr[16] = {0}; /* IPv4 keys: bytes past the address stay zero */
	unsigned len = pfx->len;

	if (pfx->af != t->af || len > t->maxlen)
		return NULL;
	if (t->alen == 4) {
		uint32_t a = rn_addr4(pfx);
		if ((x = rn_hget4(t, len, a, h)) != NULL)
			return &x->u.ent.e;
		if ((x = rn_entry_new(t, &a, sizeof(a), len)) == NULL)
			return NULL;
	} else {
		rn_mask(addr, pfx->addr, len, t->alen);
		RN_BUG_ON(RN_CHECK_HASH && h != rn_hash(t, addr, len));
		x = rn_hget(t, h, addr, len);
		if (x != NULL)
			return &x->u.ent.e;
		x = rn_entry_new(t, addr, sizeof(addr), len);
		if (x == NULL)
			return NULL;
	}
	if (rn_hput(t, x, h) != 0) {
		rn_region_put(&t->ent, RN_SZ_ENTRY, x);
		return NULL;
	}
	/* Linked later (rn_sync), when the burst is over: a pending node
	 * costs nothing but its place on the list. */
	x->u.ent.e.flags |= RN_F_PENDING;
	x->child[0] = rn_name(t, t->pend);
	t->pend = x;
	t->npend++;
	t->count++;
	return &x->u.ent.e;
}

struct rib_entry *
rib_tree_find_h(const struct rib_tree *t, const struct rib_prefix *pfx, uint64_t h)
{
	struct rnode *n;
	uint8_t addr[16] = {0}; /* IPv4 keys: bytes past the address stay zero */

	if (pfx->af != t->af || pfx->len > t->maxlen)
		return NULL;
	if (t->alen == 4) {
		n = rn_hget4(t, pfx->len, rn_addr4(pfx), h);
	} else {
		rn_mask(addr, pfx->addr, pfx->len, t->alen);
		RN_BUG_ON(RN_CHECK_HASH && h != rn_hash(t, addr, pfx->len));
		n = rn_hget(t, h, addr, pfx->len);
	}
	return n != NULL ? &n->u.ent.e : NULL;
}

/* The hash of pfx's key (masked): rn_hash of what rn_mask makes of it.
 * IPv4 masks in a register (a masked copy in memory read back as a word
 * stalls on the bytes just stored). */
static uint64_t
rn_key_hash(const struct rib_tree *t, const struct rib_prefix *pfx)
{
	uint8_t addr[16] = {0};

	if (t->alen == 4)
		return rn_hash4(t, __builtin_bswap32(rn_addr4(pfx)), pfx->len);

	rn_mask(addr, pfx->addr, pfx->len > t->maxlen ? t->maxlen : pfx->len, t->alen);
	return rn_hash(t, addr, pfx->len);
}

struct rib_entry *
rib_tree_get(struct rib_tree *t, const struct rib_prefix *pfx)
{
	return rib_tree_get_h(t, pfx, rn_key_hash(t, pfx));
}

struct rib_entry *
rib_tree_find(const struct rib_tree *t, const struct rib_prefix *pfx)
{
	return rib_tree_find_h(t, pfx, rn_key_hash(t, pfx));
}

/* The longest entry on n's subtree that covers the first len bits of addr. */
static const struct rnode *
rn_lpm(const struct rib_tree *t, rn_idx root, const uint8_t *addr, unsigned len)
{
	const struct rnode *n = rn_node(t, root);
	const struct rnode *best = NULL;
	unsigned nl;

	while (n != NULL) {
		nl = n->u.key.len;
		if (nl > len || rn_common(t, n->u.key.addr, addr) < nl)
			break; /* nothing below n covers addr either */
		if (rn_is_entry(n))
			best = n;
		if (nl == len)
			break;
		n = rn_child(t, n, rn_bit(addr, nl));
	}
	return best;
}

struct rib_entry *
rib_tree_lpm(const struct rib_tree *t, const struct rib_prefix *addr)
{
	const struct rnode *best = NULL;
	unsigned len = addr->len;

	if (addr->af != t->af)
		return NULL;
	rn_sync(t);
	if (len > t->maxlen)
		len = t->maxlen;
	/* The slot's subtree has the longer keys; the short tree the rest. */
	if (len >= RN_STRIDE)
		best = rn_lpm(t, t->slot[rn_slot(addr->addr)], addr->addr, len);
	if (best == NULL)
		best = rn_lpm(t, t->root, addr->addr, len);
	return best != NULL ? (struct rib_entry *)&best->u.ent.e : NULL;
}

/* Take linked entry node x out of the tree and free it. */
static void
rn_unlink(struct rib_tree *t, struct rnode *x)
{
	const struct rib_prefix *k = &x->u.ent.e.pfx;
	rn_idx *link, *plink = NULL, c, xi = rn_name(t, x);
	struct rnode *p = NULL;

	link = rn_top(t, k->addr, k->len);
	while (*link != xi) {
		struct rnode *n = rn_node(t, *link);
		RN_BUG_ON(n == NULL || n->u.key.len >= k->len); /* x is not in t */
		plink = link;
		p = n;
		link = &n->child[rn_bit(k->addr, n->u.key.len)];
	}
	if (x->child[0] != 0 && x->child[1] != 0) {
		/* Still a split point. */
		struct rnode *g = rn_glue_new(t, k->addr, k->len);
		if (g == NULL) {
			/* No memory for a small one: the entry's node serves. */
			x->u.key.af = RN_GLUE_BIG;
			return;
		}
		g->child[0] = x->child[0];
		g->child[1] = x->child[1];
		*link = rn_name(t, g);
		rn_node_free(t, x);
		return;
	}
	c = x->child[0] != 0 ? x->child[0] : x->child[1];
	*link = c;
	rn_node_free(t, x);
	if (c == 0 && p != NULL && !rn_is_entry(p)) {
		/* p split two branches; one is gone. */
		*plink = p->child[0] != 0 ? p->child[0] : p->child[1];
		rn_node_free(t, p);
	}
}

/* A dead entry's paths are gone: its path storage links the dead list. */
static inline void
rn_dead_link(struct rnode *x, struct rnode *next)
{
	memcpy(&x->u.ent.e.p, &next, sizeof(next));
}

static inline struct rnode *
rn_dead_next(const struct rnode *x)
{
	struct rnode *next;

	memcpy(&next, &x->u.ent.e.p, sizeof(next));
	return next;
}

/* Link pending x, or keep it on *retry when a split point cannot be had. */
static void
rn_sync_one(struct rib_tree *t, struct rnode *x, struct rnode **retry, size_t *nretry)
{
	if (rn_link(t, x) != 0) {
		x->child[0] = rn_name(t, *retry);
		*retry = x;
		(*nretry)++;
		return;
	}
	x->u.ent.e.flags &= (uint16_t)~RN_F_PENDING;
}

void
rib_tree_remove(struct rib_tree *t, struct rib_entry *e)
{
	struct rnode *x = rn_of(e);

	RN_BUG_ON(e->npaths != 0 || e->adv_groups != 0);
	RN_BUG_ON(e->pfx.af != t->af);
	RN_BUG_ON(e->flags & RN_F_DEAD);
	rn_hdel(t, x);
	rn_entry_clear(e);
	t->count--;
	e->flags |= RN_F_DEAD;
	if (e->flags & RN_F_PENDING)
		return; /* never linked: rn_sync frees it */
	rn_dead_link(x, t->dead);
	t->dead = x;
	t->ndead++;
}

/* Address order (then length), as big-endian words: no memcmp call per
 * comparison of a sort of up to a full table. */
static int
rn_cmp_key(const void *pa, const void *pb)
{
	const struct rnode *a = *(const struct rnode *const *)pa;
	const struct rnode *b = *(const struct rnode *const *)pb;
	uint64_t x = rn_be64(a->u.key.addr), y = rn_be64(b->u.key.addr);

	if (x == y) {
		x = rn_be64(a->u.key.addr + 8);
		y = rn_be64(b->u.key.addr + 8);
	}
	if (x != y)
		return x < y ? -1 : 1;
	return (int)a->u.key.len - (int)b->u.key.len;
}

struct rn_sortkey {
	uint64_t key;
	struct rnode *n;
};

/* Sort nodes into address order. IPv4 keys fit 40 bits (address, length):
 * an LSD radix sort over a copy of the keys, never touching the nodes (a
 * comparison sort dereferences two scattered nodes per comparison). IPv6:
 * qsort with the comparator above. */
static void
rn_sort(const struct rib_tree *t, struct rnode **v, size_t n)
{
	struct rn_sortkey *a, *b, *tmp;
	size_t cnt[256];

	if (n < 2)
		return;
	if (t->alen != 4 || n < 64 || (a = malloc(2 * n * sizeof(*a))) == NULL) {
		qsort(v, n, sizeof(*v), rn_cmp_key);
		return;
	}
	b = a + n;
	for (size_t i = 0; i < n; i++) {
		a[i].key = (uint64_t)rn_be32(v[i]->u.key.addr) << 8 | v[i]->u.key.len;
		a[i].n = v[i];
	}
	for (unsigned shift = 0; shift < 40; shift += 8) {
		size_t sum = 0;
		memset(cnt, 0, sizeof(cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(a[i].key >> shift) & 0xff]++;
		for (unsigned d = 0; d < 256; d++) {
			size_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			b[cnt[(a[i].key >> shift) & 0xff]++] = a[i];
		tmp = a;
		a = b;
		b = tmp;
	}
	/* Five passes: the sorted keys are back in the second half. */
	for (size_t i = 0; i < n; i++)
		v[i] = a[i].n;
	free(a < b ? a : b);
}

/* One run: up to RN_SYNC_BATCH removed nodes unlinked, or else up to
 * RN_SYNC_BATCH pending ones linked, in address order (v: room for that
 * many; NULL: all of them one by one, unsorted). Pending nodes whose split
 * point cannot be allocated go to *retry. False when there was nothing. */
static bool
rn_sync_run(struct rib_tree *t, struct rnode **v, struct rnode **retry, size_t *nretry)
{
	size_t n;

	if (t->dead != NULL) {
		for (n = 0; t->dead != NULL && (!v || n < RN_SYNC_BATCH);) {
			struct rnode *x = t->dead;
			t->dead = rn_dead_next(x);
			t->ndead--;
			if (v)
				v[n++] = x;
			else
				rn_unlink(t, x);
		}
		rn_sort(t, v, n);
		for (size_t i = 0; i < n; i++)
			rn_unlink(t, v[i]);
		return true;
	}
	if (t->pend != NULL) {
		for (n = 0; t->pend != NULL && (!v || n < RN_SYNC_BATCH);) {
			struct rnode *x = t->pend;
			t->pend = rn_child(t, x, 0);
			t->npend--;
			x->child[0] = 0;
			if (x->u.ent.e.flags & RN_F_DEAD)
				rn_region_put(&t->ent, RN_SZ_ENTRY, x);
			else if (v)
				v[n++] = x;
			else
				rn_sync_one(t, x, retry, nretry);
		}
		rn_sort(t, v, n);
		for (size_t i = 0; i < n; i++)
			rn_sync_one(t, v[i], retry, nretry);
		return true;
	}
	return false;
}

/* Apply the deferred unlinks, then the deferred links, each in address
 * order, in runs of RN_SYNC_BATCH (the sort's copy stays small; runs of
 * this size keep most of the locality). Logically const: the set of
 * entries does not change. */
static void
rn_sync(const struct rib_tree *ct)
{
	struct rib_tree *t = (struct rib_tree *)(uintptr_t)ct;
	struct rnode **v, *retry = NULL;
	size_t nretry = 0;

	if (t->dead == NULL && t->pend == NULL)
		return;
	v = malloc(RN_SYNC_BATCH * sizeof(*v)); /* NULL: one by one, unsorted */
	while (rn_sync_run(t, v, &retry, &nretry))
		;
	/* out of memory for split points: those wait for the next time */
	t->pend = retry;
	t->npend = nretry;
	free(v);
}

void
rib_tree_sync(struct rib_tree *t)
{
	rn_sync(t);
}

bool
rib_tree_sync_step(struct rib_tree *t)
{
	struct rnode **v, *retry = NULL;
	size_t nretry = 0;

	if (t->dead == NULL && t->pend == NULL)
		return false;
	v = malloc(RN_SYNC_BATCH * sizeof(*v));
	rn_sync_run(t, v, &retry, &nretry);
	free(v);
	while (retry != NULL) { /* back on the list, for a later try */
		struct rnode *x = retry;
		retry = rn_child(t, x, 0);
		x->child[0] = rn_name(t, t->pend);
		t->pend = x;
		t->npend++;
	}
	return t->dead != NULL || t->pend != NULL;
}

void
rib_tree_backlog(const struct rib_tree *t, size_t *pending, size_t *dead)
{
	*pending = t->npend;
	*dead = t->ndead;
}

uint64_t
rib_tree_prefetch(const struct rib_tree *t, const struct rib_prefix *pfx)
{
	uint64_t h = rn_key_hash(t, pfx);

	if (t->hcap != 0)
		__builtin_prefetch(&t->h[rn_hhome(t, h)]);
	return h;
}

/* Where n's subtree lies relative to from (masked): < 0 all before, > 0 all
 * at or after, 0 n's key is before from but some of its subtree may not be. */
static int
rn_walk_cmp(const struct rib_tree *t, const struct rnode *n, const struct rib_prefix *from)
{
	unsigned nl = n->u.key.len;
	unsigned m = rn_common(t, n->u.key.addr, from->addr);

	if (m < nl)
		return rn_bit(from->addr, m) ? -1 : 1;
	/* n's key is from's address cut to nl bits. */
	return nl < from->len ? 0 : 1;
}

/* A pre-order walk of one subtree, from the first entry at or after lo. */
struct rn_iter {
	rn_idx stack[RN_STACK];
	int sp;
	bool bounded; /* still on the way down to lo */
	const struct rib_prefix *lo;
};

static void
rn_iter_init(struct rn_iter *it, rn_idx root, const struct rib_prefix *lo)
{
	it->sp = 0;
	it->lo = lo;
	it->bounded = lo != NULL;
	if (root != 0)
		it->stack[it->sp++] = root;
}

static struct rnode *
rn_iter_next(const struct rib_tree *t, struct rn_iter *it)
{
	while (it->sp > 0) {
		struct rnode *n = rn_node(t, it->stack[--it->sp]);
		bool visit = true;

		if (it->bounded) {
			int c = rn_walk_cmp(t, n, it->lo);
			if (c < 0)
				continue;
			if (c > 0)
				it->bounded = false; /* pre-order: all that follows is after too */
			else
				visit = false;
		}
		RN_BUG_ON(it->sp + 2 > RN_STACK);
		if (n->child[1] != 0)
			it->stack[it->sp++] = n->child[1];
		if (n->child[0] != 0)
			it->stack[it->sp++] = n->child[0];
		if (visit && rn_is_entry(n))
			return n;
	}
	return NULL;
}

/*
 * The short tree and the slots merge by address then length: a short key
 * (its bits past RN_STRIDE are zero) comes right before the slot of its
 * first RN_STRIDE bits, and the short tree yields them in that order.
 */
size_t
rib_tree_walk(const struct rib_tree *t, const struct rib_prefix *from, size_t max,
              void (*cb)(struct rib_entry *, void *), void *arg, struct rib_prefix *next)
{
	struct rn_iter sh, sl;
	struct rib_prefix lo;
	const struct rib_prefix *plo = NULL;
	struct rnode *ps, *n;
	size_t visited = 0;
	unsigned s = 0;

	rn_sync(t);
	memset(next, 0, sizeof(*next));
	next->af = t->af;
	next->len = 0xff;
	if (from != NULL && from->af == t->af) {
		if (from->len > t->maxlen)
			return 0; /* after every prefix */
		lo.af = from->af;
		lo.len = from->len;
		rn_mask(lo.addr, from->addr, from->len, t->alen);
		plo = &lo;
		s = rn_slot(lo.addr); /* the slots before hold only keys before lo */
	}
	rn_iter_init(&sh, t->root, plo);
	rn_iter_init(&sl, t->slot[s], plo);
	ps = rn_iter_next(t, &sh);
	for (;;) {
		if (ps != NULL && rn_slot(ps->u.key.addr) <= s) {
			n = ps;
			ps = rn_iter_next(t, &sh);
		} else if ((n = rn_iter_next(t, &sl)) == NULL) {
			/* Slot s is done: on to the next one that holds anything. */
			do
				s++;
			while (s < RN_SLOTS && t->slot[s] == 0);
			if (s >= RN_SLOTS && ps == NULL)
				break;
			rn_iter_init(&sl, s < RN_SLOTS ? t->slot[s] : 0, NULL);
			continue;
		}
		if (visited == max) {
			*next = n->u.ent.e.pfx;
			return visited;
		}
		cb(&n->u.ent.e, arg);
		visited++;
	}
	return visited;
}

/* ---- paths ----------------------------------------------------------------------------------- */

static int
rn_paths_grow(struct rib_entry *e)
{
	unsigned ncap;
	struct rib_path *v;

	if (e->cap == UINT16_MAX)
		return -1;
	ncap = e->cap * 2u;
	if (ncap > UINT16_MAX)
		ncap = UINT16_MAX;
	if (e->cap == 1) {
		v = malloc(ncap * sizeof(*v));
		if (v == NULL)
			return -1;
		if (e->npaths == 1)
			v[0] = e->p.one;
	} else {
		v = realloc(e->p.vec, ncap * sizeof(*v));
		if (v == NULL)
			return -1;
	}
	e->p.vec = v;
	e->cap = (uint16_t)ncap;
	return 0;
}

/* After a delete: give memory back once a quarter or less is used. */
static void
rn_paths_shrink(struct rib_entry *e)
{
	struct rib_path *v;

	if (e->cap == 1 || e->npaths > e->cap / 4)
		return;
	if (e->npaths <= 1) {
		struct rib_path *old = e->p.vec;
		if (e->npaths == 1)
			e->p.one = old[0];
		free(old);
		e->cap = 1;
		return;
	}
	v = realloc(e->p.vec, (e->cap / 2u) * sizeof(*v));
	if (v == NULL)
		return; /* keep the larger one */
	e->p.vec = v;
	e->cap /= 2;
}

int
rib_entry_add(struct rib_entry *e, const struct rib_peer *peer, uint32_t path_id,
              struct attr_set *attrs)
{
	struct rib_path *p;

	for (unsigned i = 0; i < e->npaths; i++) {
		p = &rib_paths(e)[i];
		if (p->peer != peer || p->path_id != path_id)
			continue;
		/* Re-announced: no longer stale (RFC 7313 §4) either way. */
		p->stale = 0;
		if (p->attrs == attrs) {
			attr_unref(attrs);
			return 0;
		}
		attr_unref(p->attrs);
		p->attrs = attrs;
		e->best = -1;
		return 1;
	}
	if (e->npaths == e->cap && rn_paths_grow(e) != 0) {
		attr_unref(attrs);
		return -1;
	}
	rib_paths(e)[e->npaths++] = (struct rib_path){
	    .peer = peer,
	    .attrs = attrs,
	    .path_id = path_id,
	};
	e->best = -1;
	return 1;
}

int
rib_entry_del(struct rib_entry *e, const struct rib_peer *peer, uint32_t path_id)
{
	for (unsigned i = 0; i < e->npaths; i++) {
		struct rib_path *p = &rib_paths(e)[i];
		if (p->peer != peer || p->path_id != path_id)
			continue;
		attr_unref(p->attrs);
		/* Keep the others in order: indices after i move down by one. */
		memmove(p, p + 1, (e->npaths - i - 1) * sizeof(*p));
		e->npaths--;
		e->best = -1;
		rn_paths_shrink(e);
		return 1;
	}
	return 0;
}

/* ---- checks (radix_int.h) ------------------------------------------------------------------ */

/* The subtree of slot `slot` (-1: the short tree). */
static int
rn_check_subtree(const struct rib_tree *t, rn_idx root, int slot, struct rib_tree_stats *s,
                 const char **why)
{
	struct {
		const struct rnode *n;
		size_t depth;
	} stack[RN_STACK];
	int sp = 0;

	if (root != 0) {
		stack[0].n = rn_node(t, root);
		stack[0].depth = 1;
		sp = 1;
	}
	while (sp > 0) {
		const struct rnode *n = stack[--sp].n;
		size_t depth = stack[sp].depth;
		unsigned nl = n->u.key.len;
		uint8_t key[16];

		if (depth > s->depth)
			s->depth = depth;
		if (nl > t->maxlen) {
			*why = "key longer than the family";
			return -1;
		}
		if (slot < 0 ? nl >= RN_STRIDE
		             : nl < RN_STRIDE || rn_slot(n->u.key.addr) != (unsigned)slot) {
			*why = "key in the wrong top-level subtree";
			return -1;
		}
		rn_mask(key, n->u.key.addr, nl, t->alen);
		if (memcmp(key, n->u.key.addr, t->alen) != 0) {
			*why = "host bits set in a key";
			return -1;
		}
		if (rn_is_entry(n)) {
			const struct rib_entry *e = &n->u.ent.e;
			s->entries++;
			if (e->pfx.af != t->af) {
				*why = "entry of another family";
				return -1;
			}
			if (e->npaths > e->cap || e->cap == 0) {
				*why = "path vector out of shape";
				return -1;
			}
			if (e->cap > 1)
				s->vec_bytes += e->cap * sizeof(struct rib_path);
		} else {
			if (n->u.key.af == RN_GLUE)
				s->glue++;
			else if (n->u.key.af == RN_GLUE_BIG)
				s->glue_big++;
			else {
				*why = "unknown node kind";
				return -1;
			}
			if (n->child[0] == 0 || n->child[1] == 0) {
				*why = "split point without two branches";
				return -1;
			}
		}
		for (unsigned i = 0; i < 2; i++) {
			const struct rnode *c = rn_child(t, n, i);
			if (c == NULL)
				continue;
			if (c->u.key.len <= nl || rn_common(t, c->u.key.addr, n->u.key.addr) < nl) {
				*why = "child does not extend its parent";
				return -1;
			}
			if (rn_bit(c->u.key.addr, nl) != i) {
				*why = "child on the wrong side";
				return -1;
			}
			if (sp >= RN_STACK) {
				*why = "deeper than any key length allows";
				return -1;
			}
			stack[sp].n = c;
			stack[sp].depth = depth + 1;
			sp++;
		}
	}
	return 0;
}

int
rib_tree_check(const struct rib_tree *t, struct rib_tree_stats *st, const char **why)
{
	struct rib_tree_stats s = {0};

	rn_sync(t);
	*why = NULL;
	if (t->hn != t->count) {
		*why = "hash size differs from the count";
		return -1;
	}
	for (size_t i = 0, n = 0; i < t->hcap; i++) {
		const struct rnode *x;
		uint64_t h;
		if (t->h[i] == 0)
			continue;
		x = rn_hnode(t, t->h[i]);
		h = rn_hash(t, x->u.key.addr, x->u.key.len);
		if (t->h[i] != rn_hslot(t, h, x) || !rn_is_entry(x) ||
		    (x->u.ent.e.flags & RN_F_DEAD)) {
			*why = "hash slot stale or out of place";
			return -1;
		}
		/* linear probing: every slot from home to i is taken */
		for (size_t k = rn_hhome(t, h); k != i; k = (k + 1) & (t->hcap - 1))
			if (t->h[k] == 0) {
				*why = "hash slot past an empty one";
				return -1;
			}
		if (++n > t->hn) {
			*why = "more hash slots than entries";
			return -1;
		}
	}
	if (rn_check_subtree(t, t->root, -1, &s, why) != 0)
		return -1;
	for (unsigned i = 0; i < RN_SLOTS; i++)
		if (t->slot[i] != 0 && rn_check_subtree(t, t->slot[i], (int)i, &s, why) != 0)
			return -1;
	if (s.entries != t->count) {
		*why = "count differs from the entries";
		return -1;
	}
	s.slab_bytes = t->ent.used;
	if (st != NULL)
		*st = s;
	return 0;
}
