/*
 * attr.c — the intern table of attribute sets.
 *
 * Owns every struct attr_set, the S lock-striped ck_hs tables that index
 * them, the global ck_epoch and the per-thread epoch records. Runs on any
 * thread that called attr_thread_register: io threads intern what they
 * decode, shard workers unref what they replace, export drops what it sent.
 *
 * One canonical copy per distinct byte string, so equal attribute sets
 * compare by pointer everywhere downstream and a full table of 1M prefixes
 * costs ~160k sets, not 1M. The stripe of a set is taken from the high half
 * of its hash (ck_hs indexes its slots with the low bits, which must stay
 * spread within a stripe).
 *
 * Lookup (attr_intern): inside an epoch section, ck_hs_get, then take a
 * reference with a CAS that refuses 0 -> 1. On a miss or a dying set, leave
 * the section, take the stripe lock, look again and insert. Release
 * (attr_unref): a decrement that does not reach 0 is one CAS; the thread
 * that reaches 0 takes the stripe lock and kills the set.
 *
 * Invariants:
 *  - a stripe's table holds at most one set per byte string; every set it
 *    holds has refs >= 1, or refs == 0 (dying: the thread that dropped the
 *    last reference is on its way to the stripe lock).
 *  - refs never goes from 0 back up; it goes 0 -> ATTR_REFS_DEAD once, under
 *    the stripe lock, by the thread that then removes the set from the table
 *    (the last unref-er, or an intern of the same bytes that got the lock
 *    first). Only that thread frees it, through ck_epoch_call.
 *  - a removed set and a replaced ck_hs map are freed only after a grace
 *    period: every ck_hs_get that could have seen them has left its section.
 *  - stripe locks are never held while waiting for a grace period (only
 *    ck_epoch_barrier waits, in attr_thread_unregister and attr_fini), so
 *    taking a lock inside an epoch section cannot deadlock.
 */
#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ck_epoch.h>
#include <ck_hs.h>
#include <ck_malloc.h>
#include <ck_md.h>
#include <ck_stack.h>

#include "routehub/rib.h"

/*
 * ThreadSanitizer cannot see ck's fences and inline-asm atomics, nor the
 * accesses inside libck. Two annotations give it the edges they provide:
 * a set's contents are published before ck_hs_put (released on the set,
 * acquired by the comparator that reads them), and every epoch section's
 * reads happen before the frees that the epoch defers past it (released at
 * section end, acquired by the deferred free).
 */
#if defined(__SANITIZE_THREAD__)
#define ATTR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ATTR_TSAN 1
#endif
#endif
#ifdef ATTR_TSAN
#include <sanitizer/tsan_interface.h>
#define attr_tsan_acquire(p) __tsan_acquire((void *)(p))
#define attr_tsan_release(p) __tsan_release((void *)(p))
#else
#define attr_tsan_acquire(p) ((void)(p))
#define attr_tsan_release(p) ((void)(p))
#endif

#define ATTR_BUG_ON(cond)                                                                          \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			attr_bug(__func__, #cond);                                                 \
	} while (0)

/* refs values no live set can have. */
#define ATTR_REFS_DEAD UINT32_MAX        /* removed, waiting for its grace period */
#define ATTR_REFS_KEY  (UINT32_MAX - 1)  /* a struct attr_key, not a set */
#define ATTR_REFS_MAX  (UINT32_MAX - 16) /* a live set never gets near it */

#define ATTR_STRIPES_MAX  1024
#define ATTR_HS_INITIAL   64  /* slots per stripe at start; ck_hs doubles as needed */
#define ATTR_POLL_PENDING 512 /* run deferred frees once a thread has this many */

/* A lookup key: what ck_hs_get compares the stored sets with. Begins like
 * struct attr_set (refs first), so the comparator tells the two apart by
 * refs == ATTR_REFS_KEY: ck_hs_put compares with the new set itself. */
struct attr_key {
	atomic_uint refs; /* ATTR_REFS_KEY */
	uint32_t len;
	uint64_t hash;
	const uint8_t *data;
};

struct attr_stripe {
	pthread_mutex_t lock; /* the stripe's only writer holds it */
	ck_hs_t hs;
	atomic_size_t count; /* sets in hs; written under lock, read by attr_count */
} __attribute__((aligned(CK_MD_CACHELINE)));

/* Header of every block the ck_hs tables allocate: a replaced map is freed
 * after a grace period, and the header carries the deferral. */
struct attr_blk {
	ck_epoch_entry_t epoch;
};

static struct {
	struct attr_stripe *stripes;
	unsigned nstripes; /* power of two */
	bool init;
	ck_epoch_t epoch;
} attr_g;

static _Thread_local ck_epoch_record_t *attr_rec;

static void attr_bug(const char *fn, const char *what) __attribute__((noreturn, cold));

static void
attr_bug(const char *fn, const char *what)
{
	fprintf(stderr, "routehub rib: BUG in %s: %s\n", fn, what);
	abort();
}

static ck_epoch_record_t *
attr_rec_get(void)
{
	ck_epoch_record_t *rec = attr_rec;

	if (__builtin_expect(rec == NULL, 0))
		attr_bug(__func__, "thread not registered (attr_thread_register)");
	return rec;
}

static struct attr_stripe *
attr_stripe_of(uint64_t hash)
{
	return &attr_g.stripes[(uint32_t)(hash >> 32) & (attr_g.nstripes - 1)];
}

/* Leave an epoch section. */
static void
attr_section_end(ck_epoch_record_t *rec)
{
	attr_tsan_release(&attr_g.epoch);
	ck_epoch_end(rec, NULL);
}

static void
attr_maybe_poll(ck_epoch_record_t *rec)
{
	if (rec->n_pending >= ATTR_POLL_PENDING)
		ck_epoch_poll(rec);
}

/* ---- ck_hs callbacks -------------------------------------------------------------- */

static unsigned long
attr_hs_hash(const void *obj, unsigned long seed)
{
	const struct attr_set *a = obj;

	(void)seed;
	return (unsigned long)a->hash;
}

/* stored is always a set in the table; key is a struct attr_key (lookups)
 * or a set (ck_hs_put, ck_hs_remove). */
static bool
attr_hs_cmp(const void *stored, const void *key)
{
	const struct attr_set *a = stored;
	/* Both kinds of key begin with refs (C11 6.7.2.1p15). */
	const atomic_uint *tag = key;
	const uint8_t *kdata;
	uint64_t khash;
	uint32_t klen;

	attr_tsan_acquire(a);
	/* relaxed: a key is the caller's own; a set passed as key is either
	 * unpublished or DEAD, and only the lock holder passes one. */
	if (atomic_load_explicit(tag, memory_order_relaxed) == ATTR_REFS_KEY) {
		const struct attr_key *k = key;
		khash = k->hash;
		klen = k->len;
		kdata = k->data;
	} else {
		const struct attr_set *b = key;
		if (a == b)
			return true;
		khash = b->hash;
		klen = b->len;
		kdata = b->data;
	}
	return a->hash == khash && a->len == klen && memcmp(a->data, kdata, klen) == 0;
}

static void
attr_blk_free_cb(ck_epoch_entry_t *e)
{
	struct attr_blk *b =
	    (struct attr_blk *)(void *)((char *)e - offsetof(struct attr_blk, epoch));

	attr_tsan_acquire(&attr_g.epoch);
	free(b);
}

static void *
attr_hs_malloc(size_t n)
{
	struct attr_blk *b = malloc(sizeof(*b) + n);

	return b != NULL ? b + 1 : NULL;
}

/* defer: readers may still walk the block (a replaced map). Called by the
 * stripe's writer, which is a registered thread. */
static void
attr_hs_free(void *p, size_t n, bool defer)
{
	struct attr_blk *b;

	(void)n;
	if (p == NULL)
		return;
	b = (struct attr_blk *)p - 1;
	if (!defer) {
		free(b);
		return;
	}
	ck_epoch_call(attr_rec_get(), &b->epoch, attr_blk_free_cb);
}

static void *
attr_hs_realloc(void *p, size_t old, size_t n, bool defer)
{
	void *q = attr_hs_malloc(n);

	if (q == NULL)
		return NULL;
	if (p != NULL) {
		memcpy(q, p, old < n ? old : n);
		attr_hs_free(p, old, defer);
	}
	return q;
}

static struct ck_malloc attr_hs_alloc = {
    .malloc = attr_hs_malloc,
    .realloc = attr_hs_realloc,
    .free = attr_hs_free,
};

/* ---- sets --------------------------------------------------------------------------- */

/*
 * A dead set's info is read by nobody (threads racing in ck_hs_get look at
 * hash, len, data and refs only), so its 24 bytes carry the deferred free
 * instead of a 16-byte header on every set.
 */
static_assert(sizeof(((struct attr_set *)0)->info) >= sizeof(ck_epoch_entry_t),
              "attr_info holds a ck_epoch_entry");
static_assert(offsetof(struct attr_set, info) % alignof(ck_epoch_entry_t) == 0,
              "attr_info is aligned for a ck_epoch_entry");
static_assert(offsetof(struct attr_key, refs) == offsetof(struct attr_set, refs),
              "keys and sets begin with refs");

static ck_epoch_entry_t *
attr_dead_entry(struct attr_set *a)
{
	return (ck_epoch_entry_t *)(void *)&a->info;
}

static void
attr_set_free_cb(ck_epoch_entry_t *e)
{
	struct attr_set *a =
	    (struct attr_set *)(void *)((char *)e - offsetof(struct attr_set, info));

	attr_tsan_acquire(&attr_g.epoch);
	free(a);
}

/* Reference a set found by a lookup, unless it is dying. */
static bool
attr_tryref(struct attr_set *a)
{
	unsigned r = atomic_load_explicit(&a->refs, memory_order_relaxed);

	do {
		if (r == 0 || r == ATTR_REFS_DEAD)
			return false;
		ATTR_BUG_ON(r >= ATTR_REFS_MAX);
		/* relaxed: the contents were published before the set entered
		 * the table, and reaching it through ck_hs_get orders them;
		 * the count itself guards only the set's lifetime. */
	} while (!atomic_compare_exchange_weak_explicit(&a->refs, &r, r + 1, memory_order_relaxed,
	                                                memory_order_relaxed));
	return true;
}

/* Under st->lock: remove a set whose refs reached 0, unless another thread
 * already did. */
static void
attr_kill(struct attr_stripe *st, struct attr_set *a, ck_epoch_record_t *rec)
{
	unsigned zero = 0;
	void *gone;

	/* acq_rel: acquire the releases of every former holder (their uses of
	 * the set come before the free); release for the other candidate. */
	if (!atomic_compare_exchange_strong_explicit(&a->refs, &zero, ATTR_REFS_DEAD,
	                                             memory_order_acq_rel, memory_order_acquire)) {
		ATTR_BUG_ON(zero != ATTR_REFS_DEAD);
		return;
	}
	gone = ck_hs_remove(&st->hs, (unsigned long)a->hash, a);
	ATTR_BUG_ON(gone != a);
	atomic_store_explicit(&st->count,
	                      atomic_load_explicit(&st->count, memory_order_relaxed) - 1,
	                      memory_order_relaxed);
	/* The slot becomes a tombstone that the next ck_hs_put on its probe
	 * sequence reuses; probe bounds stay short under churn (measured), so
	 * no periodic rebuild. */
	ck_epoch_call(rec, attr_dead_entry(a), attr_set_free_cb);
}

static struct attr_set *
attr_intern_slow(struct attr_stripe *st, const struct attr_key *k, const struct attr_info *info,
                 ck_epoch_record_t *rec)
{
	struct attr_set *a;

	pthread_mutex_lock(&st->lock);
	/* No epoch section needed: sets leave the table and maps are replaced
	 * only under this lock, so whatever we reach is alive. */
	a = ck_hs_get(&st->hs, (unsigned long)k->hash, k);
	if (a != NULL) {
		if (attr_tryref(a))
			goto out;
		/* Dying: take its removal over, so the new set takes its place
		 * without the byte string appearing twice in the table. */
		attr_kill(st, a, rec);
	}
	a = malloc(sizeof(*a) + k->len);
	if (a == NULL)
		goto out;
	atomic_init(&a->refs, 1);
	a->len = k->len;
	a->hash = k->hash;
	if (info != NULL)
		a->info = *info;
	else
		memset(&a->info, 0, sizeof(a->info));
	memcpy(a->data, k->data, k->len);
	attr_tsan_release(a);
	/* ck_hs_put_unique (SPMC) fences the contents before the slot's
	 * store. Unique: the lookup above, under the lock every insert and
	 * removal takes, found no live set with these bytes (a dying one was
	 * removed), so the duplicate check of ck_hs_put would probe again for
	 * nothing. */
	if (!ck_hs_put_unique(&st->hs, (unsigned long)k->hash, a)) {
		free(a);
		a = NULL;
		goto out;
	}
	atomic_store_explicit(&st->count,
	                      atomic_load_explicit(&st->count, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
out:
	pthread_mutex_unlock(&st->lock);
	attr_maybe_poll(rec);
	return a;
}

struct attr_set *
attr_intern(const uint8_t *canon, size_t len, uint64_t hash, const struct attr_info *info)
{
	ck_epoch_record_t *rec = attr_rec_get();
	struct attr_stripe *st;
	struct attr_key k;
	struct attr_set *a;

	ATTR_BUG_ON(!attr_g.init);
	if (len > UINT32_MAX)
		return NULL;
	atomic_init(&k.refs, ATTR_REFS_KEY);
	k.len = (uint32_t)len;
	k.hash = hash;
	k.data = canon;
	st = attr_stripe_of(hash);

	ck_epoch_begin(rec, NULL);
	a = ck_hs_get(&st->hs, (unsigned long)hash, &k);
	if (a != NULL && attr_tryref(a)) {
		attr_section_end(rec);
		return a;
	}
	attr_section_end(rec);
	return attr_intern_slow(st, &k, info, rec);
}

/* The caller holds the last reference it knows of. */
static void
attr_unref_last(struct attr_set *a)
{
	ck_epoch_record_t *rec = attr_rec_get();
	struct attr_stripe *st = attr_stripe_of(a->hash);
	unsigned r;

	/* The section keeps a alive from our decrement to our kill: an intern
	 * of the same bytes may kill and free it as soon as refs is 0. It
	 * begins while our reference still holds the set. */
	ck_epoch_begin(rec, NULL);
	/* acq_rel: release our uses of the set; acquire the other holders'. */
	r = atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel);
	ATTR_BUG_ON(r == 0 || r >= ATTR_REFS_MAX);
	if (r == 1) {
		pthread_mutex_lock(&st->lock);
		attr_kill(st, a, rec);
		pthread_mutex_unlock(&st->lock);
	}
	attr_section_end(rec);
	attr_maybe_poll(rec);
}

void
attr_unref(struct attr_set *a)
{
	unsigned r;

	if (a == NULL)
		return;
	r = atomic_load_explicit(&a->refs, memory_order_relaxed);
	while (r > 1) {
		ATTR_BUG_ON(r >= ATTR_REFS_MAX);
		/* release: our uses of the set come before whoever frees it
		 * (that thread acquires through the same count). */
		if (atomic_compare_exchange_weak_explicit(&a->refs, &r, r - 1, memory_order_release,
		                                          memory_order_relaxed))
			return;
	}
	ATTR_BUG_ON(r != 1);
	attr_unref_last(a);
}

void
attr_unref_n(struct attr_set *a, unsigned n)
{
	unsigned r;

	if (a == NULL || n == 0)
		return;
	r = atomic_load_explicit(&a->refs, memory_order_relaxed);
	while (r > n) {
		ATTR_BUG_ON(r >= ATTR_REFS_MAX);
		/* release: as attr_unref */
		if (atomic_compare_exchange_weak_explicit(&a->refs, &r, r - n, memory_order_release,
		                                          memory_order_relaxed))
			return;
	}
	ATTR_BUG_ON(r != n);
	if (n > 1) /* all but the last one; nobody else holds it now */
		atomic_fetch_sub_explicit(&a->refs, n - 1, memory_order_release);
	attr_unref_last(a);
}

size_t
attr_count(void)
{
	size_t n = 0;

	if (!attr_g.init)
		return 0;
	for (unsigned i = 0; i < attr_g.nstripes; i++)
		n += atomic_load_explicit(&attr_g.stripes[i].count, memory_order_relaxed);
	return n;
}

/* ---- threads -------------------------------------------------------------------------- */

void
attr_thread_register(void)
{
	ck_epoch_record_t *rec;

	ATTR_BUG_ON(!attr_g.init);
	ATTR_BUG_ON(attr_rec != NULL);
	rec = ck_epoch_recycle(&attr_g.epoch, NULL);
	if (rec == NULL) {
		size_t sz = (sizeof(*rec) + CK_MD_CACHELINE - 1) & ~(size_t)(CK_MD_CACHELINE - 1);
		rec = aligned_alloc(CK_MD_CACHELINE, sz);
		if (rec == NULL)
			attr_bug(__func__, "out of memory for an epoch record");
		ck_epoch_register(&attr_g.epoch, rec, NULL);
	}
	attr_rec = rec;
}

void
attr_thread_unregister(void)
{
	ck_epoch_record_t *rec = attr_rec;

	if (rec == NULL)
		return;
	/* Runs every free this thread deferred (waits for their grace period):
	 * an unregistered record's pending list would never run. */
	ck_epoch_barrier(rec);
	ck_epoch_unregister(rec);
	attr_rec = NULL;
}

void
attr_thread_poll(void)
{
	if (attr_rec != NULL)
		ck_epoch_poll(attr_rec);
}

/* ---- init / fini ------------------------------------------------------------------------- */

int
attr_init(unsigned stripes)
{
	unsigned n = 1;

	ATTR_BUG_ON(attr_g.init);
	if (stripes == 0)
		stripes = 1;
	if (stripes > ATTR_STRIPES_MAX)
		stripes = ATTR_STRIPES_MAX;
	while (n < stripes)
		n <<= 1;
	attr_g.stripes = aligned_alloc(CK_MD_CACHELINE, n * sizeof(*attr_g.stripes));
	if (attr_g.stripes == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct attr_stripe *st = &attr_g.stripes[i];
		if (!ck_hs_init(&st->hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, attr_hs_hash,
		                attr_hs_cmp, &attr_hs_alloc, ATTR_HS_INITIAL, 0)) {
			while (i-- > 0) {
				ck_hs_destroy(&attr_g.stripes[i].hs);
				pthread_mutex_destroy(&attr_g.stripes[i].lock);
			}
			free(attr_g.stripes);
			attr_g.stripes = NULL;
			return -1;
		}
		pthread_mutex_init(&st->lock, NULL);
		atomic_init(&st->count, 0);
	}
	attr_g.nstripes = n;
	ck_epoch_init(&attr_g.epoch);
	attr_g.init = true;
	return 0;
}

/* Every other thread has unregistered; sets still referenced are freed
 * anyway (their holders are gone with the process). */
void
attr_fini(void)
{
	ck_stack_entry_t *se, *next;

	if (!attr_g.init)
		return;
	if (attr_rec != NULL)
		ck_epoch_barrier(attr_rec);
	for (unsigned i = 0; i < attr_g.nstripes; i++) {
		struct attr_stripe *st = &attr_g.stripes[i];
		ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
		void *obj;

		while (ck_hs_next(&st->hs, &it, &obj))
			free(obj);
		ck_hs_destroy(&st->hs);
		pthread_mutex_destroy(&st->lock);
	}
	free(attr_g.stripes);
	attr_g.stripes = NULL;
	attr_g.nstripes = 0;
	CK_STACK_FOREACH_SAFE(&attr_g.epoch.records, se, next)
	{
		ck_epoch_record_t *rec =
		    (ck_epoch_record_t *)(void *)((char *)se -
		                                  offsetof(ck_epoch_record_t, record_next));
		free(rec);
	}
	attr_rec = NULL;
	attr_g.init = false;
}
