/*
 * radix_int.h — radix.c's hooks for tests and benchmarks: an invariant
 * checker and node statistics. Not for the UPDATE path (they walk the whole
 * tree). Same thread rules as the tree: its owner only.
 */
#ifndef ROUTEHUB_RIB_RADIX_INT_H
#define ROUTEHUB_RIB_RADIX_INT_H

#include <stddef.h>

#include "routehub/rib.h"

struct rib_tree_stats {
	size_t entries;    /* entry nodes (== rib_tree_count) */
	size_t glue;       /* split points from the glue slab */
	size_t glue_big;   /* split points left in an entry-sized node */
	size_t depth;      /* nodes on the longest root-to-leaf path */
	size_t slab_bytes; /* bytes of node slabs held */
	size_t vec_bytes;  /* bytes of path vectors outside their nodes */
};

/* 0 if every invariant of radix.c holds (st filled if not NULL); -1 and
 * *why set to the first violation otherwise. */
int rib_tree_check(const struct rib_tree *t, struct rib_tree_stats *st, const char **why);

#endif /* ROUTEHUB_RIB_RADIX_INT_H */
