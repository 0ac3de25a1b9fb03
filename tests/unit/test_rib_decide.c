/*
 * test_rib_decide.c — the decision process, one case per step and per
 * tie-break (RFC 4271 §9.1.2.2, RFC 4456 §9), and the ECMP set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "routehub/rib.h"

struct pspec {
	uint32_t lp;      /* 0: absent */
	uint16_t aslen;
	uint8_t origin;
	uint32_t med;     /* UINT32_MAX: absent */
	uint32_t nbr_as;
	uint32_t originator; /* 0: absent */
	uint16_t cluster_len;
	int peer;         /* index into peers[] */
	uint32_t path_id;
};

enum { P_E1, P_E2, P_I1, P_C1, P_E1B };
static struct rib_peer peers[] = {
	[P_E1] = {.id = 1, .type = RIB_PEER_EBGP, .asn = 65001, .router_id = 0x0a000001, .addr = {10, 0, 0, 1}},
	[P_E2] = {.id = 2, .type = RIB_PEER_EBGP, .asn = 65002, .router_id = 0x0a000002, .addr = {10, 0, 0, 2}},
	[P_I1] = {.id = 3, .type = RIB_PEER_IBGP, .asn = 65515, .router_id = 0x0a000003, .addr = {10, 0, 0, 3}},
	[P_C1] = {.id = 4, .type = RIB_PEER_RR_CLIENT, .asn = 65515, .router_id = 0x0a000000, .addr = {10, 0, 0, 4}},
	/* same router id as E1, higher address */
	[P_E1B] = {.id = 5, .type = RIB_PEER_EBGP, .asn = 65001, .router_id = 0x0a000001, .addr = {10, 0, 0, 9}},
};

/* Only the decision fields matter: no canonical bytes follow. */
struct attr_box {
	struct attr_set s;
};

static void
mk(struct rib_path *p, struct attr_box *box, const struct pspec *s)
{
	struct attr_info *i = &box->s.info;

	memset(box, 0, sizeof(*box));
	if (s->lp) {
		i->flags |= ATTR_F_LOCAL_PREF;
		i->local_pref = s->lp;
	}
	if (s->med != UINT32_MAX) {
		i->flags |= ATTR_F_MED;
		i->med = s->med;
	}
	if (s->originator) {
		i->flags |= ATTR_F_ORIGINATOR;
		i->originator_id = s->originator;
	}
	i->aspath_len = s->aslen;
	i->origin = s->origin;
	i->neighbor_as = s->nbr_as;
	i->cluster_len = s->cluster_len;
	memset(p, 0, sizeof(*p));
	p->peer = &peers[s->peer];
	p->attrs = &box->s;
	p->path_id = s->path_id;
}

#define NOMED UINT32_MAX
#define BASE(peer) {0, 2, 0, NOMED, 65001, 0, 0, peer, 0}

static const struct {
	const char *what;
	struct pspec a, b;
	int want; /* -1: a better, 1: b better */
	enum rib_step step;
	bool always_med;
} cases[] = {
	{"1 LOCAL_PREF: higher wins", {200, 5, 2, NOMED, 1, 0, 0, P_I1, 0}, {100, 1, 0, NOMED, 1, 0, 0, P_I1, 1}, -1, RIB_STEP_LOCAL_PREF, false},
	{"1 LOCAL_PREF: absent counts as 100", {0, 2, 0, NOMED, 1, 0, 0, P_E1, 0}, {101, 2, 0, NOMED, 1, 0, 0, P_E2, 0}, 1, RIB_STEP_LOCAL_PREF, false},
	{"2 AS_PATH: shorter wins", {0, 2, 2, NOMED, 1, 0, 0, P_E2, 0}, {0, 3, 0, NOMED, 1, 0, 0, P_E1, 0}, -1, RIB_STEP_AS_PATH, false},
	{"3 ORIGIN: IGP over INCOMPLETE", {0, 2, 2, NOMED, 1, 0, 0, P_E1, 0}, {0, 2, 0, NOMED, 1, 0, 0, P_E2, 0}, 1, RIB_STEP_ORIGIN, false},
	{"3 ORIGIN: EGP over INCOMPLETE", {0, 2, 1, NOMED, 1, 0, 0, P_E2, 0}, {0, 2, 2, NOMED, 1, 0, 0, P_E1, 0}, -1, RIB_STEP_ORIGIN, false},
	{"4 MED: lower wins, same neighbour AS", {0, 2, 0, 50, 65001, 0, 0, P_E2, 0}, {0, 2, 0, 10, 65001, 0, 0, P_E1, 0}, 1, RIB_STEP_MED, false},
	{"4 MED: absent is 0", {0, 2, 0, NOMED, 65001, 0, 0, P_E2, 0}, {0, 2, 0, 10, 65001, 0, 0, P_E1, 0}, -1, RIB_STEP_MED, false},
	{"4 MED: ignored across neighbour ASes", {0, 2, 0, 50, 65001, 0, 0, P_E1, 0}, {0, 2, 0, 10, 65002, 0, 0, P_E2, 0}, -1, RIB_STEP_ROUTER_ID, false},
	{"4 MED: always-compare across ASes", {0, 2, 0, 50, 65001, 0, 0, P_E1, 0}, {0, 2, 0, 10, 65002, 0, 0, P_E2, 0}, 1, RIB_STEP_MED, true},
	{"5 eBGP over iBGP", {100, 2, 0, NOMED, 1, 0, 0, P_I1, 0}, {100, 2, 0, NOMED, 2, 0, 0, P_E2, 0}, 1, RIB_STEP_EBGP, false},
	{"5 eBGP over RR client", {100, 2, 0, NOMED, 1, 0, 0, P_E2, 0}, {100, 2, 0, NOMED, 2, 0, 0, P_C1, 0}, -1, RIB_STEP_EBGP, false},
	{"7 lowest BGP identifier", {0, 2, 0, NOMED, 1, 0, 0, P_E2, 0}, {0, 2, 0, NOMED, 2, 0, 0, P_E1, 0}, 1, RIB_STEP_ROUTER_ID, false},
	{"7 ORIGINATOR_ID stands in for the identifier", {100, 2, 0, NOMED, 1, 0x0b000000, 0, P_C1, 0}, {100, 2, 0, NOMED, 1, 0, 0, P_I1, 0}, 1, RIB_STEP_ROUTER_ID, false},
	{"8 shorter CLUSTER_LIST", {100, 2, 0, NOMED, 1, 0x0a000003, 2, P_C1, 0}, {100, 2, 0, NOMED, 1, 0, 1, P_I1, 0}, 1, RIB_STEP_CLUSTER_LEN, false},
	{"9 lowest peer address", {0, 2, 0, NOMED, 1, 0, 0, P_E1B, 0}, {0, 2, 0, NOMED, 1, 0, 0, P_E1, 0}, 1, RIB_STEP_PEER_ADDR, false},
	{"10 ADD-PATH: lowest path id", {0, 2, 0, NOMED, 1, 0, 0, P_E1, 7}, {0, 2, 0, NOMED, 1, 0, 0, P_E1, 3}, 1, RIB_STEP_PATH_ID, false},
	{"same path: equal", {0, 2, 0, NOMED, 1, 0, 0, P_E1, 0}, {0, 2, 0, NOMED, 1, 0, 0, P_E1, 0}, 0, RIB_STEP_EQUAL, false},
};

static void
test_steps(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct attr_box ba, bb;
		struct rib_path a, b;
		struct rib_decide_opts o = {.always_compare_med = cases[k].always_med};
		enum rib_step st;
		int r, r2;

		mk(&a, &ba, &cases[k].a);
		mk(&b, &bb, &cases[k].b);
		r = rib_path_cmp(&a, &b, &o, &st);
		r = r < 0 ? -1 : r > 0 ? 1 : 0;
		if (r != cases[k].want || st != cases[k].step)
			fail_msg("%s: got %d at step %d, want %d at step %d", cases[k].what, r, st,
			         cases[k].want, cases[k].step);
		/* Antisymmetric. */
		r2 = rib_path_cmp(&b, &a, &o, &st);
		r2 = r2 < 0 ? -1 : r2 > 0 ? 1 : 0;
		if (r2 != -r)
			fail_msg("%s: not antisymmetric", cases[k].what);
	}
}

/* ECMP: equal AS path length from several NVAs => all; shorter wins alone. */
static void
test_ecmp(void **state)
{
	struct attr_box box[4];
	struct rib_path p[4];
	struct rib_decide_opts o = {.ecmp_through = RIB_STEP_AS_PATH};
	bool ecmp[4];
	int best;

	(void)state;
	mk(&p[0], &box[0], &(struct pspec){0, 3, 0, NOMED, 65001, 0, 0, P_E1B, 0});
	mk(&p[1], &box[1], &(struct pspec){0, 3, 2, 5, 65001, 0, 0, P_E1, 0});
	mk(&p[2], &box[2], &(struct pspec){0, 4, 0, NOMED, 65002, 0, 0, P_E2, 0});
	best = rib_decide(p, 3, &o, ecmp);
	assert_int_equal(best, 0); /* origin IGP beats INCOMPLETE */
	assert_true(ecmp[0]);
	assert_true(ecmp[1]);  /* equal through AS path length */
	assert_false(ecmp[2]); /* longer AS path: not multipath */

	/* Active/passive by prepending: the shorter path wins alone. */
	mk(&p[0], &box[0], &(struct pspec){0, 2, 0, NOMED, 65001, 0, 0, P_E1, 0});
	mk(&p[1], &box[1], &(struct pspec){0, 5, 0, NOMED, 65001, 0, 0, P_E1B, 0});
	best = rib_decide(p, 2, &o, ecmp);
	assert_int_equal(best, 0);
	assert_true(ecmp[0]);
	assert_false(ecmp[1]);

	/* Paths without attributes are ignored; none at all: -1. */
	p[0].attrs = NULL;
	best = rib_decide(p, 2, &o, ecmp);
	assert_int_equal(best, 1);
	assert_false(ecmp[0]);
	p[1].attrs = NULL;
	assert_int_equal(rib_decide(p, 2, &o, ecmp), -1);
}

/* The best does not depend on input order. */
static void
test_order(void **state)
{
	struct attr_box box[5];
	struct rib_path p[5], q[5];
	const struct pspec s[5] = {
		{0, 3, 0, 10, 65001, 0, 0, P_E1, 0}, {0, 3, 0, 5, 65001, 0, 0, P_E1B, 0},
		{0, 3, 0, 1, 65002, 0, 0, P_E2, 0},  {100, 3, 0, NOMED, 1, 0, 0, P_I1, 0},
		{0, 4, 0, NOMED, 1, 0, 0, P_E2, 1},
	};
	int perm[5] = {0, 1, 2, 3, 4};

	(void)state;
	for (int i = 0; i < 5; i++)
		mk(&p[i], &box[i], &s[i]);
	int ref = rib_decide(p, 5, NULL, NULL);
	for (int round = 0; round < 50; round++) {
		for (int i = 4; i > 0; i--) {
			int j = (round * 7 + i * 3) % (i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int i = 0; i < 5; i++)
			q[i] = p[perm[i]];
		int b = rib_decide(q, 5, NULL, NULL);
		assert_ptr_equal(q[b].attrs, p[ref].attrs);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_ecmp),
		cmocka_unit_test(test_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
