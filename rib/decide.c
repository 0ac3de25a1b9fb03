/*
 * decide.c — the BGP decision process (RFC 4271 §9.1.2.2, RFC 4456 §9) and
 * the multipath (ECMP) set. Pure functions: run by the shard worker that
 * owns the prefix, on its paths.
 *
 * The steps are numbered as enum rib_step, in RFC order:
 *   1 highest LOCAL_PREF (degree of preference, §9.1.1; absent = 100)
 *   2 shortest AS_PATH (AS_SET counts 1, confederation segments 0)
 *   3 lowest ORIGIN
 *   4 lowest MULTI_EXIT_DISC among routes from the same neighbour AS
 *     (absent = 0, §9.1.2.2 c), or among all with always_compare_med
 *   5 eBGP-learned over iBGP-learned
 *   6 lowest interior cost to the next hop: routehub forwards nothing and
 *     resolves no next hop, so every path ties here
 *   7 lowest BGP Identifier, the ORIGINATOR_ID standing in for it when
 *     present (RFC 4456 §9)
 *   8 shortest CLUSTER_LIST (RFC 4456 §9)
 *   9 lowest peer address
 *  10 lowest ADD-PATH path identifier (same peer)
 * rib_path_cmp compares two paths step by step; rib_decide applies steps
 * 1-4 as the RFC's eliminations (MED within a neighbour AS is no total
 * order, so a pairwise scan would depend on the order of the paths) and the
 * pairwise comparison only among the survivors, where it is a total order.
 */
#include <stdlib.h>
#include <string.h>

#include "routehub/rib.h"

#define DEFAULT_LOCAL_PREF 100

static uint32_t
lp(const struct attr_info *i)
{
	return (i->flags & ATTR_F_LOCAL_PREF) ? i->local_pref : DEFAULT_LOCAL_PREF;
}

static uint32_t
med(const struct attr_info *i)
{
	return (i->flags & ATTR_F_MED) ? i->med : 0;
}

static uint32_t
bgp_id(const struct rib_path *p)
{
	const struct attr_info *i = &p->attrs->info;
	return (i->flags & ATTR_F_ORIGINATOR) ? i->originator_id : p->peer->router_id;
}

int
rib_path_cmp(const struct rib_path *a, const struct rib_path *b, const struct rib_decide_opts *o,
             enum rib_step *step)
{
	const struct attr_info *ia = &a->attrs->info, *ib = &b->attrs->info;
	int ea, eb, r;

#define DIFFER(s, v)                                                                       \
	do {                                                                               \
		*step = (s);                                                               \
		return (v);                                                                \
	} while (0)

	/* 1: RFC 4271 §9.1.1, higher is better. */
	if (lp(ia) != lp(ib))
		DIFFER(RIB_STEP_LOCAL_PREF, lp(ia) > lp(ib) ? -1 : 1);
	/* 2: §9.1.2.2 a) */
	if (ia->aspath_len != ib->aspath_len)
		DIFFER(RIB_STEP_AS_PATH, ia->aspath_len < ib->aspath_len ? -1 : 1);
	/* 3: §9.1.2.2 b) */
	if (ia->origin != ib->origin)
		DIFFER(RIB_STEP_ORIGIN, ia->origin < ib->origin ? -1 : 1);
	/* 4: §9.1.2.2 c) */
	if ((o && o->always_compare_med) || ia->neighbor_as == ib->neighbor_as)
		if (med(ia) != med(ib))
			DIFFER(RIB_STEP_MED, med(ia) < med(ib) ? -1 : 1);
	/* 5: §9.1.2.2 d) */
	ea = a->peer->type == RIB_PEER_EBGP;
	eb = b->peer->type == RIB_PEER_EBGP;
	if (ea != eb)
		DIFFER(RIB_STEP_EBGP, ea ? -1 : 1);
	/* 6: §9.1.2.2 e) interior cost: all equal (see above). */
	/* 7: §9.1.2.2 f), RFC 4456 §9 */
	if (bgp_id(a) != bgp_id(b))
		DIFFER(RIB_STEP_ROUTER_ID, bgp_id(a) < bgp_id(b) ? -1 : 1);
	/* 8: RFC 4456 §9 */
	if (ia->cluster_len != ib->cluster_len)
		DIFFER(RIB_STEP_CLUSTER_LEN, ia->cluster_len < ib->cluster_len ? -1 : 1);
	/* 9: §9.1.2.2 g) */
	if (a->peer != b->peer) {
		if (a->peer->addr_af != b->peer->addr_af)
			DIFFER(RIB_STEP_PEER_ADDR, a->peer->addr_af < b->peer->addr_af ? -1 : 1);
		r = memcmp(a->peer->addr, b->peer->addr, sizeof(a->peer->addr));
		if (r != 0)
			DIFFER(RIB_STEP_PEER_ADDR, r < 0 ? -1 : 1);
		/* Two peers with one address: fall back to the dense id. */
		DIFFER(RIB_STEP_PEER_ADDR, a->peer->id < b->peer->id ? -1 : 1);
	}
	/* 10: RFC 7911: several paths of one peer. */
	if (a->path_id != b->path_id)
		DIFFER(RIB_STEP_PATH_ID, a->path_id < b->path_id ? -1 : 1);
#undef DIFFER
	*step = RIB_STEP_EQUAL;
	return 0;
}

int
rib_decide(const struct rib_path *paths, unsigned n, const struct rib_decide_opts *o, bool *ecmp)
{
	enum rib_step through = o ? o->ecmp_through : RIB_STEP_AS_PATH, step;
	bool always = o && o->always_compare_med;
	bool keep_small[64], *keep = n <= 64 ? keep_small : calloc(n, sizeof(bool));
	uint32_t best_lp = 0;
	unsigned best_len = UINT32_MAX, best_origin = 255;
	int best = -1;

	if (through == 0)
		through = RIB_STEP_AS_PATH;
	if (!keep)
		return -1;
	/* RFC 4271 §9.1.2.2 as elimination, so that the result does not depend
	 * on the order of the paths: MED compares only within a neighbour AS,
	 * which is not a total order, and a pairwise scan could pick a path
	 * the rules eliminate depending on where it stands. */
	for (unsigned i = 0; i < n; i++) {
		keep[i] = paths[i].attrs != NULL;
		if (keep[i] && lp(&paths[i].attrs->info) > best_lp)
			best_lp = lp(&paths[i].attrs->info);
	}
	for (unsigned i = 0; i < n; i++) /* §9.1.1 degree of preference */
		if (keep[i] && lp(&paths[i].attrs->info) != best_lp)
			keep[i] = false;
	for (unsigned i = 0; i < n; i++)
		if (keep[i] && paths[i].attrs->info.aspath_len < best_len)
			best_len = paths[i].attrs->info.aspath_len;
	for (unsigned i = 0; i < n; i++) /* a) */
		if (keep[i] && paths[i].attrs->info.aspath_len != best_len)
			keep[i] = false;
	for (unsigned i = 0; i < n; i++)
		if (keep[i] && paths[i].attrs->info.origin < best_origin)
			best_origin = paths[i].attrs->info.origin;
	for (unsigned i = 0; i < n; i++) /* b) */
		if (keep[i] && paths[i].attrs->info.origin != best_origin)
			keep[i] = false;
	/* c) the lowest MED of each neighbour AS (of all, with always-compare) */
	for (unsigned i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		for (unsigned k = 0; k < n; k++) {
			if (!keep[k] || k == i)
				continue;
			if ((always || paths[k].attrs->info.neighbor_as ==
			                   paths[i].attrs->info.neighbor_as) &&
			    med(&paths[k].attrs->info) < med(&paths[i].attrs->info)) {
				keep[i] = false;
				break;
			}
		}
	}
	/* d) onwards are a total order among the survivors. */
	for (unsigned i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (best < 0 || rib_path_cmp(&paths[i], &paths[best], o, &step) < 0)
			best = (int)i;
	}
	if (keep != keep_small)
		free(keep);
	if (!ecmp)
		return best;
	for (unsigned i = 0; i < n; i++) {
		ecmp[i] = false;
		if (!paths[i].attrs || best < 0)
			continue;
		if ((int)i == best) {
			ecmp[i] = true;
			continue;
		}
		rib_path_cmp(&paths[best], &paths[i], o, &step);
		/* Equal through the ECMP step: the first difference comes later. */
		ecmp[i] = step > through;
	}
	return best;
}
