/*
 * routehub/rib.h — the sharded RIB: interned attribute sets, per-shard
 * radix trees of prefixes with their paths, and the decision process.
 *
 * rib/ knows nothing of sockets or of the wire: attribute sets arrive as
 * canonical bytes (routehub/bgp.h, bgp_attrs_canon) plus the few fields the
 * decision process needs, already extracted by the io thread that decoded
 * them (struct attr_info), so rib/ never parses BGP.
 *
 * Threads (DESIGN.md "Ownership rules"):
 *  - attr_intern / attr_ref / attr_unref: any thread. The intern table is
 *    lock-striped ck_hs (one writer per stripe, lock-free readers);
 *    attr sets are immutable once published and reclaimed through ck_epoch.
 *  - a struct rib_tree belongs to one shard worker thread.
 *  - rib_decide and rib_path_cmp are pure.
 */
#ifndef ROUTEHUB_RIB_H
#define ROUTEHUB_RIB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- attribute sets ------------------------------------------------------------ */

/* Flags of struct attr_info / attr_set. */
#define ATTR_F_MED           0x0001 /* MULTI_EXIT_DISC present */
#define ATTR_F_LOCAL_PREF    0x0002 /* LOCAL_PREF present */
#define ATTR_F_ORIGINATOR    0x0004 /* ORIGINATOR_ID present */
#define ATTR_F_IBGP_ATTRS    0x0008 /* LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST in the bytes */
#define ATTR_F_NO_ADVERTISE  0x0010 /* RFC 1997 */
#define ATTR_F_NO_EXPORT     0x0020 /* RFC 1997 */
#define ATTR_F_NO_EXPORT_SUB 0x0040 /* RFC 1997 NO_EXPORT_SUBCONFED */
#define ATTR_F_NO_PEER       0x0080 /* RFC 3765 */
#define ATTR_F_ATOMIC_AGGR   0x0100
#define ATTR_F_AS_SET        0x0200 /* AS path holds an AS_SET */
#define ATTR_F_MP_REACH      0x0400 /* MP_REACH_NLRI in the bytes */

/* What the decision process and export need, extracted once at decode. */
struct attr_info {
	uint32_t local_pref;    /* valid if ATTR_F_LOCAL_PREF */
	uint32_t med;           /* valid if ATTR_F_MED */
	uint32_t originator_id; /* host order, valid if ATTR_F_ORIGINATOR */
	uint32_t neighbor_as;   /* leftmost AS of the first AS_SEQUENCE, 0 if none */
	uint16_t flags;
	uint16_t aspath_len;  /* RFC 4271 §9.1.2.2 a): AS_SET counts 1, confed 0 */
	uint16_t cluster_len; /* CLUSTER_LIST entries */
	uint8_t origin;       /* enum bgp_origin */
	                      /* The next hop is not here: what needs it reads the attributes
	                       * (bgp_attr_find); a full table's sets are lighter by 16 bytes each. */
};

/* An interned attribute set: immutable once published, refcounted. */
struct attr_set {
	atomic_uint refs;
	uint32_t len;  /* bytes of canonical attributes in data[] */
	uint64_t hash; /* bgp_attrs_hash of data */
	struct attr_info info;
	uint8_t data[]; /* canonical attribute sequence (routehub/bgp.h) */
};

/* Call once before any thread interns; attr_fini at exit (no set in use). */
int attr_init(unsigned stripes);
void attr_fini(void);
/* Each thread that interns or unrefs registers once (ck_epoch record). */
void attr_thread_register(void);
void attr_thread_unregister(void);
/* Let deferred frees of this thread run (call from idle points). */
void attr_thread_poll(void);

/* The one set with these bytes, referenced for the caller (refs +1). NULL
 * only when out of memory. */
struct attr_set *attr_intern(const uint8_t *canon, size_t len, uint64_t hash,
                             const struct attr_info *info);
static inline struct attr_set *
attr_ref(struct attr_set *a)
{
	/* relaxed: the caller already holds a reference, so the set is alive
	 * and its contents were published when that reference was taken. */
	atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
	return a;
}
/* n references at once (one atomic operation for a whole UPDATE's NLRI). */
static inline struct attr_set *
attr_ref_n(struct attr_set *a, unsigned n)
{
	atomic_fetch_add_explicit(&a->refs, n, memory_order_relaxed);
	return a;
}
void attr_unref(struct attr_set *a);
/* n references at once. */
void attr_unref_n(struct attr_set *a, unsigned n);
/* Number of distinct sets alive (for stats and tests). */
size_t attr_count(void);

/* ---- prefixes ---------------------------------------------------------------------- */

/* A prefix as the RIB keys it: family, length, address with host bits zero. */
struct rib_prefix {
	uint8_t af; /* enum bgp_af */
	uint8_t len;
	uint8_t addr[16];
};

/* ---- peers as the decision process sees them ----------------------------------------- */

enum rib_peer_type {
	RIB_PEER_EBGP = 0,
	RIB_PEER_IBGP,      /* iBGP non-client */
	RIB_PEER_RR_CLIENT, /* iBGP route-reflector client (RFC 4456) */
};

/* Immutable description of a peer, shared by all shards (refcounted by the
 * engine). id is small and dense: an index for per-peer arrays. */
struct rib_peer {
	uint32_t id;
	enum rib_peer_type type;
	uint32_t asn;
	uint32_t router_id; /* BGP identifier, host order */
	uint8_t addr_af;
	uint8_t addr[16]; /* peer address, for the last tie-break */
	uint8_t role;     /* enum cfg_role of the engine; opaque here */
	atomic_uint refs;
};

/* ---- paths and the decision process --------------------------------------------------- */

/* 24 bytes: a full table holds one per prefix per peer. */
struct rib_path {
	const struct rib_peer *peer;
	struct attr_set *attrs;
	uint32_t path_id;
	uint32_t idx : 31;  /* position in the shard's per-peer index (shard.c's;
	                       the tree copies it along when paths move, never
	                       reads it) */
	uint32_t stale : 1; /* RFC 7313: marked by BoRR, swept at EoRR */
};
#define RIB_PATH_IDX_MAX 0x7fffffffu

/* RFC 4271 §9.1.2.2 / RFC 4456 §9 comparison: < 0 if a is better than b,
 * > 0 if b is better, 0 only for the same peer and path id. Also tells how
 * far the two were equal (for ECMP): *step is the number of the first step
 * that told them apart (enum rib_step). */
enum rib_step {
	RIB_STEP_LOCAL_PREF = 1, /* highest LOCAL_PREF (RFC 4271 §9.1.1) */
	RIB_STEP_AS_PATH,        /* shortest AS_PATH */
	RIB_STEP_ORIGIN,         /* lowest ORIGIN */
	RIB_STEP_MED,            /* lowest MED, same neighbour AS unless always-compare */
	RIB_STEP_EBGP,           /* eBGP over iBGP */
	RIB_STEP_IGP,            /* lowest IGP cost to next hop: all equal here */
	RIB_STEP_ROUTER_ID,      /* lowest ORIGINATOR_ID or BGP identifier */
	RIB_STEP_CLUSTER_LEN,    /* shortest CLUSTER_LIST (RFC 4456 §9) */
	RIB_STEP_PEER_ADDR,      /* lowest peer address */
	RIB_STEP_PATH_ID,        /* same peer, ADD-PATH: lowest path id */
	RIB_STEP_EQUAL,
};

struct rib_decide_opts {
	bool always_compare_med;
	/* ECMP: paths equal to the best down to and including this step are
	 * multipath (default RIB_STEP_AS_PATH: equal AS path length from several
	 * NVAs => all next hops; a shorter AS path wins alone). */
	enum rib_step ecmp_through;
};

int rib_path_cmp(const struct rib_path *a, const struct rib_path *b,
                 const struct rib_decide_opts *o, enum rib_step *step);

/* Pick the best of n paths and mark the ECMP set. Returns the index of the
 * best (-1 if n == 0); ecmp[i] is set true for every path in the multipath
 * set (the best included). Paths with attrs == NULL are ignored. */
int rib_decide(const struct rib_path *paths, unsigned n, const struct rib_decide_opts *o,
               bool *ecmp);

/* ---- the radix tree (one per shard per family) --------------------------------------------- */

struct rib_tree;

/* A prefix's entry: its paths (a small vector) and export state. Owned by
 * the tree; valid until removed. */
struct rib_entry {
	struct rib_prefix pfx;
	uint16_t npaths, cap;
	int16_t best;   /* index into the paths, -1 if none */
	uint16_t flags; /* RIB_E_* */
	/* Update groups that have it (the Adj-RIB-Out per group): while the
	 * entry is not dirty, they have its best path's set. A change keeps
	 * what they had in its dirty record (struct rib_change) until export
	 * has seen it. */
	uint32_t adv_groups;
	union {                       /* the paths: rib_paths() */
		struct rib_path one;  /* cap == 1: the common case, no allocation */
		struct rib_path *vec; /* cap > 1 */
	} p;
};

/* An entry's paths, [0..npaths). */
static inline struct rib_path *
rib_paths(const struct rib_entry *e)
{
	return e->cap == 1 ? (struct rib_path *)&e->p.one : e->p.vec;
}
#define RIB_E_DIRTY 0x01

struct rib_tree *rib_tree_new(uint8_t af);
void rib_tree_free(struct rib_tree *t); /* unrefs every path's attrs */
/* Find or create the entry of pfx (NULL on allocation failure). */
struct rib_entry *rib_tree_get(struct rib_tree *t, const struct rib_prefix *pfx);
struct rib_entry *rib_tree_find(const struct rib_tree *t, const struct rib_prefix *pfx);
/* Longest-prefix match for a host address (len = full length). */
struct rib_entry *rib_tree_lpm(const struct rib_tree *t, const struct rib_prefix *addr);
/* Remove an entry with no paths and nothing advertised. */
void rib_tree_remove(struct rib_tree *t, struct rib_entry *e);
size_t rib_tree_count(const struct rib_tree *t);
/* A 31-bit name of a live entry of t (entries never move), and back: for
 * tables of entries that want 4 bytes, not a pointer's 8. */
uint32_t rib_tree_handle(const struct rib_tree *t, const struct rib_entry *e);
struct rib_entry *rib_tree_entry(const struct rib_tree *t, uint32_t h);
/* Exact lookups are hashed and structural changes deferred: this applies
 * them (in address order). Walks and LPM do it themselves; the owner calls
 * it when idle so the work happens between bursts. */
void rib_tree_sync(struct rib_tree *t);
/* The same in steps of at most 65,536 nodes, for an owner that wants to
 * stop as soon as other work arrives; true while some is left. */
bool rib_tree_sync_step(struct rib_tree *t);
/* What rib_tree_sync would do: entries waiting to be linked, and removed
 * ones waiting to be unlinked (their nodes are not reused until then). */
void rib_tree_backlog(const struct rib_tree *t, size_t *pending, size_t *dead);
/* Start loading the index slot of pfx and return the key's hash, which
 * rib_tree_get_h / rib_tree_find_h take instead of computing it again
 * (apply loops run a few ops ahead). Only for pfx of the tree's family. */
uint64_t rib_tree_prefetch(const struct rib_tree *t, const struct rib_prefix *pfx);
struct rib_entry *rib_tree_get_h(struct rib_tree *t, const struct rib_prefix *pfx, uint64_t h);
struct rib_entry *rib_tree_find_h(const struct rib_tree *t, const struct rib_prefix *pfx,
                                  uint64_t h);
/* In-order walk starting at the first prefix >= from (NULL: the start),
 * visiting at most max entries; returns how many were visited and sets
 * *next to the prefix to resume from (next->len == 0xff when done). The
 * callback may not add or remove entries. */
size_t rib_tree_walk(const struct rib_tree *t, const struct rib_prefix *from, size_t max,
                     void (*cb)(struct rib_entry *, void *), void *arg, struct rib_prefix *next);

/* Paths of an entry. add replaces the path of the same (peer, path id) and
 * returns 1 if it changed anything, 0 if identical, -1 if out of memory
 * (nothing changed). The tree takes the caller's reference to attrs in
 * every case (drops it if identical or on failure). Any change sets
 * e->best to -1: the caller re-decides. */
int rib_entry_add(struct rib_entry *e, const struct rib_peer *peer, uint32_t path_id,
                  struct attr_set *attrs);
/* Returns 1 if a path was removed. */
int rib_entry_del(struct rib_entry *e, const struct rib_peer *peer, uint32_t path_id);

#endif /* ROUTEHUB_RIB_H */
