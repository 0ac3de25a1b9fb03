/*
 * routehub/shard.h — the shard workers and the queues that feed them.
 *
 * S shard workers each own the prefixes with hash(prefix) % S == shard: a
 * radix tree per family, every path of those prefixes, and the per-peer index
 * that makes a peer's hard reset cost proportional to its own routes.
 *
 * io threads talk to shards only through batches of ops on lock-free SPSC
 * ck_rings, one ring per (io thread, shard) pair. A batch, not a route, is the
 * unit of transfer. Markers (peer up/down, End-of-RIB, refresh begin/end)
 * travel in the same rings, so the order of one peer's events holds.
 *
 * What a shard decides it hands to an export callback (engine/export.c) on
 * the shard's own thread: rib/ never encodes BGP and never touches a socket.
 */
#ifndef ROUTEHUB_SHARD_H
#define ROUTEHUB_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "routehub/rib.h"

#define RIB_MAX_PEERS 65536 /* dense peer ids */
#define RIB_BATCH_OPS 512

enum rib_op_type {
	RIB_OP_ANNOUNCE = 1, /* (peer, path id, prefix) now has attrs (ref moves in) */
	RIB_OP_WITHDRAW,     /* (peer, path id, prefix) gone */
	RIB_OP_PEER_UP,      /* peer is Established: peer points to its rib_peer (ref moves in) */
	RIB_OP_PEER_DOWN,    /* drop every path of the peer (hard reset), then forget it */
	RIB_OP_STALE_BEGIN,  /* RFC 7313 BoRR: mark the peer's paths of af stale */
	RIB_OP_STALE_END,    /* RFC 7313 EoRR: sweep the peer's still-stale paths of af */
	RIB_OP_DUMP,         /* send the peer the whole table (new member, soft reset out) */
};

struct rib_op {
	uint8_t type;
	uint8_t af;
	uint8_t len;
	uint8_t pad;
	uint32_t peer_id;
	uint32_t path_id;
	uint8_t addr[16];
	union {
		struct attr_set *attrs; /* ANNOUNCE */
		struct rib_peer *peer;  /* PEER_UP */
		uint32_t gen;           /* DUMP: handed back to dump_done */
	};
};

struct rib_batch {
	uint32_t n;
	uint32_t io; /* producing io thread */
	struct rib_op ops[RIB_BATCH_OPS];
};

/* A change of one prefix's decision, handed to the export callback. */
struct rib_change {
	struct rib_entry *e; /* the entry (owned by the shard; valid during the call) */
	/* What e->adv_groups were sent before the change (the best path's set
	 * then), referenced by the shard until the call returns; NULL if they
	 * had nothing, or (e->adv_groups != 0) if it is not known: the change
	 * was found by a walk after an allocation failure. */
	struct attr_set *prev;
};

struct rib_shards;

/* The export side, called on shard threads. */
struct rib_export_ops {
	/* Changed prefixes after a burst of ops (e->best set or -1); the
	 * callback sets e->adv_groups. Entries left with no path and no
	 * group are freed after it returns. */
	void (*changed)(void *arg, unsigned shard, const struct rib_change *v, unsigned n);
	/* A chunk of a table dump for one peer (RIB_OP_DUMP). */
	void (*dump)(void *arg, unsigned shard, uint32_t peer_id, struct rib_entry **v, unsigned n);
	/* The shard finished the dumps for peer_id up to the one requested
	 * with generation gen (queued dumps of one peer end with one call,
	 * carrying the last request's gen). */
	void (*dump_done)(void *arg, unsigned shard, uint32_t peer_id, uint32_t gen);
	/* The shard dropped everything of peer_id (PEER_DOWN done). */
	void (*peer_gone)(void *arg, unsigned shard, uint32_t peer_id);
};

struct rib_shards_conf {
	unsigned nshards;
	unsigned nio;        /* producers */
	unsigned ring_slots; /* per (io, shard) ring, power of 2 (default 1024) */
	struct rib_decide_opts decide;
	const struct rib_export_ops *exp;
	void *exp_arg;
	/* Called on io thread `io` while it waits for room in a full ring.
	 * The shard it waits for may itself wait for that io thread (export
	 * jobs go the other way): the hook must let the io thread drain its
	 * own incoming queues, or the two wait for each other forever. */
	void (*wait)(void *arg, unsigned io);
	void *wait_arg;
	/* Called on a shard thread when a burst of at least trim_ops ops is
	 * over (0: never), and once more before the burst's tree nodes are
	 * linked: what the burst freed (its batches, encoded messages) can go
	 * back to the system before the tree grows, so that peaks do not add
	 * up. */
	void (*trim)(void);
	unsigned trim_ops;
};

int rib_shards_new(struct rib_shards **out, const struct rib_shards_conf *c);
int rib_shards_start(struct rib_shards *s);
/* Stop and join the workers (queued ops are applied first). */
void rib_shards_stop(struct rib_shards *s);
void rib_shards_free(struct rib_shards *s);
unsigned rib_shards_count(const struct rib_shards *s);

/* The shard of a prefix. */
unsigned rib_shard_of(const struct rib_shards *s, uint8_t af, uint8_t len, const uint8_t *addr);

/* ---- producer side (io thread `io`) -------------------------------------------------- */
/* Append one op to io's open batch for shard; full batches are pushed. */
void rib_push(struct rib_shards *s, unsigned io, unsigned shard, const struct rib_op *op);
/* Append op to every shard (markers). */
void rib_push_all(struct rib_shards *s, unsigned io, const struct rib_op *op);
/* Push every open batch of io and wake the shards (end of an io burst). */
void rib_flush(struct rib_shards *s, unsigned io);

/* ---- queries (any thread; served by the shards in order) ------------------------------------ */
struct rib_shard_stats {
	uint64_t ops, batches, decisions, changes;
	uint64_t prefixes[2]; /* entries per family */
	uint64_t paths;
};
void rib_shards_stats(struct rib_shards *s, struct rib_shard_stats *sum);
/* Run fn(arg, shard, tree4, tree6) on each shard's thread, wait for all. */
int rib_shards_query(struct rib_shards *s,
                     void (*fn)(void *arg, unsigned shard, struct rib_tree *v4,
                                struct rib_tree *v6),
                     void *arg, unsigned timeout_ms);
/* True once every op pushed before the call has been applied and exported
 * (for tests and the API's "converged" view). */
int rib_shards_sync(struct rib_shards *s, unsigned timeout_ms);

#endif /* ROUTEHUB_SHARD_H */
