/*
 * export.h — private to engine/: route ingest (io thread -> shards) and
 * export through update groups (shards -> io threads).
 *
 * Threads: ex_ingest_*, ex_peer_up/down, ex_poll run on the io thread that
 * owns the peer; the shard callbacks in export.c run on shard threads; the
 * group table and peer id allocator are shared (mutex on the rare writes,
 * acquire loads on reads).
 */
#ifndef ENGINE_EXPORT_H
#define ENGINE_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "routehub/bgp.h"
#include "routehub/shard.h"

struct rh_daemon;
struct sess_loop;
struct peer;
struct exp;

#define EXP_MAX_GROUPS 32
/* Bytes queued to one peer: past it, out of sync (RH_SENDQ_LIMIT in the
 * environment overrides). */
#define EXP_SENDQ_LIMIT (64u << 20)

enum exp_kind {
	EXP_KIND_EBGP = 0,  /* route-server client: third-party next hop */
	EXP_KIND_IBGP,      /* iBGP non-client */
	EXP_KIND_RR_CLIENT, /* route-reflector client (RFC 4456) */
};

/* A member that does not read (export.c, "out of sync"). */
enum exp_oos {
	EXP_OOS_NONE = 0,
	EXP_OOS_OVER,    /* over the bound: exp_poll decides (reset or wait) */
	EXP_OOS_WAITING, /* nothing queued for it until it drains, then resync */
};

/* Per-peer export state, embedded in struct peer; owned by its io thread. */
struct exp_member {
	uint32_t id; /* rib peer id, 0 = none (ids start at 1) */
	int group;   /* -1 when not a member */
	struct peer *gnext, *gprev;
	unsigned dumps_done; /* shards that finished this peer's table */
	uint32_t dump_gen;   /* the latest table dump requested (rib_op.gen) */
	bool eor_sent;
	bool eor_first;       /* this session's first End-of-RIB went out */
	uint8_t refresh_err;  /* families re-sent for an enhanced route refresh:
	                         BoRR went before the table, EoRR follows it */
	uint32_t asn, bgp_id; /* the member's, for per-message exclusions */
	uint32_t routes;      /* Adj-RIB-In size (exact when max_routes is set) */
	uint8_t oos;          /* enum exp_oos: the send queue went over its bound */
	bool over_limit;      /* max_routes_action warn: more than max_routes held,
	                         and that was logged (exp_peer_limit) */
	struct pfx_set *held; /* prefixes held, when max_routes is set */
};

int exp_new(struct exp **out, struct rh_daemon *d, unsigned nio, unsigned nshards,
            uint32_t local_as, uint32_t router_id, uint32_t cluster_id);
int exp_start(struct exp *x);
void exp_stop(struct exp *x);
void exp_free(struct exp *x);
struct rib_shards *exp_shards(struct exp *x);

/* io thread: after decoding an UPDATE from an Established peer. Returns -1
 * if the peer went over its route limit with max_routes_action teardown
 * (*err set: Cease/Maximum Number of Prefixes), or its routes could not be
 * counted (Cease/Out of Resources): the UPDATE's announcements are not
 * taken and the caller closes the session. With max_routes_action warn the
 * routes over the limit are taken (exp_peer_limit logs the crossing). */
int exp_ingest(struct exp *x, struct sess_loop *sl, struct peer *p, const struct bgp_update *u,
               struct bgp_error *err);
/* io thread: the session came up. Returns -1 when it cannot be served (no
 * peer id left, no update group, no memory): *err is then Cease/Out of
 * Resources (RFC 4486 §4) and the caller must close the session. */
int exp_peer_up(struct exp *x, struct sess_loop *sl, struct peer *p, struct bgp_error *err);
/* io thread: the session went down. */
void exp_peer_down(struct exp *x, struct sess_loop *sl, struct peer *p);
/* io thread: after the count of routes held or the peer's max_routes or
 * max_routes_action changed (an UPDATE, a reload): with max_routes_action
 * warn, log going over the limit once, and going back within it. */
void exp_peer_limit(struct peer *p);
/* io thread: BoRR / EoRR from the peer (RFC 7313): the shards mark / sweep
 * its stale paths of af, and the count of routes held follows. Route
 * refresh request. */
void exp_peer_stale(struct exp *x, struct sess_loop *sl, struct peer *p, int af, bool begin);
void exp_peer_resend(struct exp *x, struct sess_loop *sl, struct peer *p, int af);
/* io thread: ops of this burst go to the shards now. */
void exp_flush(struct exp *x, struct sess_loop *sl);
/* io loop poll callback: flush ingest, deliver export jobs. */
void exp_poll(struct exp *x, struct sess_loop *sl);

#endif
