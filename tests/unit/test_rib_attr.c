/*
 * test_rib_attr.c — unit tests of the attribute intern table (rib/attr.c).
 *
 * Single-threaded: identity of equal byte strings, reference counts, removal
 * at zero, forced hash collisions, table growth and tombstone rebuilds in a
 * single stripe. Multi-threaded: 4 threads intern and unref sets of a pool of
 * 1,000 for a bounded number of iterations, checking that two references to
 * the same bytes are the same set while both are held; at the end nothing
 * is left. Build with -DRH_SANITIZE=thread to have TSan check the protocol.
 */
#include <pthread.h>
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

static int
setup(void **state)
{
	(void)state;
	if (attr_init(4) != 0)
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

static struct attr_set *
intern(const void *bytes, size_t len)
{
	struct attr_info info = {.local_pref = (uint32_t)len, .flags = ATTR_F_LOCAL_PREF};

	return attr_intern(bytes, len, bgp_attrs_hash(bytes, len), &info);
}

static unsigned
refs(struct attr_set *a)
{
	return atomic_load_explicit(&a->refs, memory_order_relaxed);
}

static void
test_same_bytes_same_set(void **state)
{
	static const uint8_t x[] = {0x40, 0x01, 0x01, 0x00, 0x40, 0x02, 0x00};
	uint8_t copy[sizeof(x)];
	struct attr_set *a, *b;

	(void)state;
	memcpy(copy, x, sizeof(x));
	a = intern(x, sizeof(x));
	assert_non_null(a);
	assert_int_equal(refs(a), 1);
	b = intern(copy, sizeof(copy)); /* other buffer, same bytes */
	assert_ptr_equal(a, b);
	assert_int_equal(refs(a), 2);
	assert_ptr_equal(attr_ref(a), a);
	assert_int_equal(refs(a), 3);
	assert_int_equal(attr_count(), 1);
	assert_int_equal(a->len, sizeof(x));
	assert_memory_equal(a->data, x, sizeof(x));
	assert_int_equal(a->hash, bgp_attrs_hash(x, sizeof(x)));
	assert_int_equal(a->info.local_pref, sizeof(x));
	assert_int_equal(a->info.flags, ATTR_F_LOCAL_PREF);
	attr_unref(a);
	attr_unref(a);
	assert_int_equal(refs(a), 1);
	assert_int_equal(attr_count(), 1);
	attr_unref(b);
	assert_int_equal(attr_count(), 0);
}

static void
test_different_bytes(void **state)
{
	static const struct {
		const char *what;
		uint8_t len;
		uint8_t b[8];
	} cases[] = {
	    {.what = "base", .len = 4, .b = {1, 2, 3, 4}},
	    {.what = "last byte differs", .len = 4, .b = {1, 2, 3, 5}},
	    {.what = "prefix of base", .len = 3, .b = {1, 2, 3}},
	    {.what = "base plus a byte", .len = 5, .b = {1, 2, 3, 4, 0}},
	    {.what = "empty", .len = 0, .b = {0}},
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct attr_set *s[sizeof(cases) / sizeof(cases[0])];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		s[i] = intern(cases[i].b, cases[i].len);
		assert_non_null(s[i]);
		assert_int_equal(attr_count(), i + 1);
		for (size_t j = 0; j < i; j++)
			if (s[i] == s[j])
				fail_msg("%s: same set as %s", cases[i].what, cases[j].what);
	}
	for (size_t i = 0; i < n; i++) {
		struct attr_set *again = intern(cases[i].b, cases[i].len);
		if (again != s[i])
			fail_msg("%s: second intern gave another set", cases[i].what);
		assert_int_equal(refs(again), 2);
		attr_unref(again);
	}
	for (size_t i = 0; i < n; i++)
		attr_unref(s[i]);
	assert_int_equal(attr_count(), 0);
}

static void
test_unref_to_zero_removes(void **state)
{
	static const uint8_t x[] = {9, 9, 9};
	struct attr_set *a, *b;

	(void)state;
	a = intern(x, sizeof(x));
	assert_int_equal(attr_count(), 1);
	attr_unref(a);
	assert_int_equal(attr_count(), 0);
	attr_thread_poll();
	/* A new intern builds a new set (the old one may have been freed and
	 * its memory reused, so only its state tells). */
	b = intern(x, sizeof(x));
	assert_non_null(b);
	assert_int_equal(refs(b), 1);
	assert_int_equal(attr_count(), 1);
	attr_unref(b);
	assert_int_equal(attr_count(), 0);
}

/* Different bytes under one forced hash: the comparator, not the hash,
 * decides identity. */
static void
test_hash_collisions(void **state)
{
	static const struct {
		const char *what;
		uint8_t len;
		uint8_t b[6];
	} cases[] = {
	    {.what = "a", .len = 3, .b = {1, 1, 1}},
	    {.what = "same length, other bytes", .len = 3, .b = {1, 1, 2}},
	    {.what = "longer", .len = 6, .b = {1, 1, 1, 0, 0, 0}},
	    {.what = "shorter", .len = 1, .b = {1}},
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	const uint64_t h = 0x0123456789abcdefULL;
	struct attr_set *s[sizeof(cases) / sizeof(cases[0])];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		s[i] = attr_intern(cases[i].b, cases[i].len, h, NULL);
		assert_non_null(s[i]);
		assert_int_equal(s[i]->hash, h);
		for (size_t j = 0; j < i; j++)
			if (s[i] == s[j])
				fail_msg("%s: merged with %s", cases[i].what, cases[j].what);
	}
	assert_int_equal(attr_count(), n);
	for (size_t i = 0; i < n; i++) {
		struct attr_set *again = attr_intern(cases[i].b, cases[i].len, h, NULL);
		if (again != s[i])
			fail_msg("%s: not found again among colliding sets", cases[i].what);
		attr_unref(again);
	}
	/* Removing one in the middle of the chain keeps the others findable. */
	attr_unref(s[1]);
	assert_int_equal(attr_count(), n - 1);
	for (size_t i = 0; i < n; i++) {
		struct attr_set *again;
		if (i == 1)
			continue;
		again = attr_intern(cases[i].b, cases[i].len, h, NULL);
		if (again != s[i])
			fail_msg("%s: lost after a colliding set went", cases[i].what);
		assert_int_equal(refs(again), 2);
		attr_unref(again);
	}
	s[1] = attr_intern(cases[1].b, cases[1].len, h, NULL);
	assert_int_equal(refs(s[1]), 1);
	assert_int_equal(attr_count(), n);
	for (size_t i = 0; i < n; i++)
		attr_unref(s[i]);
	assert_int_equal(attr_count(), 0);
}

/* Enough sets in one stripe to grow its table several times, then churn
 * that leaves tombstones and forces rebuilds; every set stays findable. */
static void
test_growth_and_churn(void **state)
{
	enum { N = 20000 };
	struct attr_set **s = calloc(N, sizeof(*s));
	uint32_t key[2];

	(void)state;
	assert_non_null(s);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < N; i++) {
			key[0] = i;
			key[1] = round;
			/* high half zero: every set in stripe 0 */
			s[i] = attr_intern(
			    (uint8_t *)key, sizeof(key),
			    bgp_attrs_hash((uint8_t *)key, sizeof(key)) & 0xffffffffu, NULL);
			assert_non_null(s[i]);
		}
		assert_int_equal(attr_count(), N);
		for (uint32_t i = 0; i < N; i++) {
			struct attr_set *a;
			key[0] = i;
			key[1] = round;
			a = attr_intern((uint8_t *)key, sizeof(key), s[i]->hash, NULL);
			assert_ptr_equal(a, s[i]);
			attr_unref(a);
		}
		/* remove the odd ones, check the even ones, then the rest */
		for (uint32_t i = 1; i < N; i += 2)
			attr_unref(s[i]);
		assert_int_equal(attr_count(), N / 2);
		for (uint32_t i = 0; i < N; i += 2) {
			struct attr_set *a;
			key[0] = i;
			key[1] = round;
			a = attr_intern((uint8_t *)key, sizeof(key), s[i]->hash, NULL);
			assert_ptr_equal(a, s[i]);
			attr_unref(a);
		}
		for (uint32_t i = 0; i < N; i += 2)
			attr_unref(s[i]);
		assert_int_equal(attr_count(), 0);
		attr_thread_poll();
	}
	free(s);
}

/* ---- multi-threaded stress ---------------------------------------------------------- */

enum {
	STRESS_THREADS = 4,
	STRESS_POOL = 1000,
	STRESS_HELD = 16, /* references a thread holds at once */
	STRESS_ITERS = 200000,
};

struct stress_thread {
	pthread_t tid;
	unsigned seed;
	pthread_barrier_t *start;
	unsigned bad;     /* wrong bytes or two sets for one byte string */
	unsigned nintern; /* successful interns */
};

static void
stress_bytes(unsigned i, uint8_t *b, size_t *len)
{
	/* lengths 1..40, contents derived from i: distinct per i */
	*len = 1 + i % 40;
	memset(b, (int)(i * 7u), *len);
	b[0] = (uint8_t)i;
	b[*len - 1] ^= (uint8_t)(i >> 8);
	if (*len > 2)
		b[1] = (uint8_t)(i >> 8);
}

static void *
stress_run(void *arg)
{
	struct stress_thread *th = arg;
	struct attr_set *held[STRESS_HELD] = {0};
	unsigned idx[STRESS_HELD] = {0};
	uint8_t b[64];
	size_t len;

	attr_thread_register();
	pthread_barrier_wait(th->start);
	for (unsigned it = 0; it < STRESS_ITERS; it++) {
		unsigned slot = (unsigned)rand_r(&th->seed) % STRESS_HELD;
		unsigned i = (unsigned)rand_r(&th->seed) % STRESS_POOL;

		if (held[slot] != NULL) {
			attr_unref(held[slot]);
			held[slot] = NULL;
			continue;
		}
		stress_bytes(i, b, &len);
		held[slot] = attr_intern(b, len, bgp_attrs_hash(b, len), NULL);
		if (held[slot] == NULL) {
			th->bad++;
			continue;
		}
		th->nintern++;
		idx[slot] = i;
		if (held[slot]->len != len || memcmp(held[slot]->data, b, len) != 0)
			th->bad++;
		for (unsigned k = 0; k < STRESS_HELD; k++)
			if (k != slot && held[k] != NULL && idx[k] == i && held[k] != held[slot])
				th->bad++;
		if (it % 1024 == 0)
			attr_thread_poll();
	}
	for (unsigned k = 0; k < STRESS_HELD; k++)
		attr_unref(held[k]);
	attr_thread_unregister();
	return NULL;
}

static void
test_stress_threads(void **state)
{
	struct stress_thread th[STRESS_THREADS];
	pthread_barrier_t start;

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, STRESS_THREADS), 0);
	for (unsigned t = 0; t < STRESS_THREADS; t++) {
		th[t] = (struct stress_thread){.seed = 1234u + t, .start = &start};
		assert_int_equal(pthread_create(&th[t].tid, NULL, stress_run, &th[t]), 0);
	}
	for (unsigned t = 0; t < STRESS_THREADS; t++) {
		assert_int_equal(pthread_join(th[t].tid, NULL), 0);
		assert_int_equal(th[t].bad, 0);
		assert_true(th[t].nintern > STRESS_ITERS / 4);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(attr_count(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_bytes_same_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_different_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unref_to_zero_removes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_collisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_growth_and_churn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stress_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
