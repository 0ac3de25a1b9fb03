/*
 * routehub/daemon.h — routehubd as a library: start the io threads, the
 * listeners and every configured peer; reload; shut down.
 *
 * Called from the main thread only (routehubd_main.c, tests). The daemon owns
 * the configurations it is given: the current one and every earlier one stay
 * allocated until daemon_free(), because sessions keep pointers into the entry
 * they were started from (a reload costs the old file's few kilobytes).
 */
#ifndef ROUTEHUB_DAEMON_H
#define ROUTEHUB_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "routehub/bgp.h"
#include "routehub/cfg.h"
#include "routehub/rib.h"

struct rh_daemon;

/* Takes ownership of c. path (may be NULL) is re-read by daemon_reload(). */
int daemon_new(struct rh_daemon **out, struct cfg *c, const char *path);
/* Probe the kernel, start loops, listeners and peers. -1 with a message
 * in err on failure. */
int daemon_start(struct rh_daemon *d, char *err, size_t errlen);
/* Re-read the file. On a bad file the errors are logged and nothing
 * changes (-1). Otherwise added peers start, removed ones get Cease/Peer
 * De-configured, changed ones restart, untouched sessions stay up. */
int daemon_reload(struct rh_daemon *d);
/* daemon_reload() that also hands the refusal to its caller: on -1 the
 * loader's lines ("FILE:LINE: PATH: PROBLEM") are appended to errs (may be
 * NULL); -1 with no line added means the apply itself failed (memory).
 * Reloads and applies are serialized (main thread on SIGHUP, API thread). */
int daemon_reload_errs(struct rh_daemon *d, struct cfg_err_list *errs);
/* Apply an already loaded configuration as daemon_reload() does (takes c). */
int daemon_apply(struct rh_daemon *d, struct cfg *c);
/* The configuration in force; any thread. It stays allocated until
 * daemon_free(), even after a reload replaced it. */
const struct cfg *daemon_cfg(struct rh_daemon *d);
/* Cease/Administrative Shutdown with an RFC 8203 message to every peer, wait
 * (at most timeout_ms) for the NOTIFICATIONs to leave, stop the threads. */
void daemon_shutdown(struct rh_daemon *d, const char *msg, unsigned timeout_ms);
void daemon_free(struct rh_daemon *d);

/* Counters for logs and tests. */
struct daemon_stats {
	uint64_t accepted;        /* connections handed to a peer */
	uint64_t refused_unknown; /* closed at once: no configured peer matched */
};
void daemon_stats(const struct rh_daemon *d, struct daemon_stats *st);


/* ---- snapshots for the control API (any thread but the io threads) ---------- */
struct daemon_peer_info {
	char name[64];
	char address[48];
	char role[24];
	char state[16];       /* RFC 4271 state of the most advanced connection */
	char last_error[400];
	uint32_t asn;         /* configured (0: any) */
	uint32_t peer_asn;    /* negotiated, 0 if never up */
	uint32_t peer_id;     /* host byte order, 0 if never up */
	uint16_t hold_time;   /* negotiated */
	uint16_t keepalive;
	int dynamic;
	int ibgp;
	uint64_t uptime_ms;   /* 0 when not Established */
	uint64_t msgs_in, msgs_out, updates_in;
	uint64_t prefixes_announced, prefixes_withdrawn, treat_as_withdraw, attr_discards;
	uint64_t eor_in, refresh_in;
	uint32_t established, flaps;
	uint32_t caps;        /* BGP_CAPF_* negotiated-in-both (as4, ext msg ...) */
	uint32_t rib_id;      /* the peer's id in the RIB (struct rib_peer), 0 when not up */
	int routes_counted;   /* routes_held is exact (the peer has a max_routes) */
	uint64_t routes_held; /* Adj-RIB-In size: (prefix, path id) pairs held now */
};
/* Every peer of every loop, gathered by posting a query to each loop and
 * waiting (at most timeout_ms). *out is malloc'ed; the caller frees it. */
int daemon_peers(struct rh_daemon *d, struct daemon_peer_info **out, size_t *n,
                 unsigned timeout_ms);

/* ---- route queries for the control API (engine/routes.c) --------------------------- */
/*
 * Any thread but the io and shard threads (it waits for both). The RIB is
 * read only through rib_shards_query(): every shard copies what the answer
 * needs on its own thread; nothing returned points into shard memory.
 */
enum daemon_route_mode {
	DAEMON_ROUTES_PREFIX = 1, /* the entry of q->pfx exactly */
	DAEMON_ROUTES_MATCH,      /* the longest prefix covering q->pfx (an address: full length) */
	DAEMON_ROUTES_ALL,        /* a page of the table, in order (family, address, length) */
	DAEMON_ROUTES_PEER,       /* a page of the prefixes with a path from q->peer_ids,
	                             showing only those paths */
};

#define DAEMON_AF_ANY              0xff /* q->af of a listing: IPv4, then IPv6 */
#define DAEMON_ROUTES_LIMIT        1000 /* default page size */
#define DAEMON_ROUTES_LIMIT_MAX    100000

struct daemon_route_query {
	enum daemon_route_mode mode;
	struct rib_prefix pfx;   /* PREFIX, MATCH */
	uint8_t af;              /* ALL, PEER: enum bgp_af or DAEMON_AF_ANY */
	const struct rib_prefix *from; /* ALL, PEER: start at the first prefix >= from (NULL: the start) */
	size_t limit;            /* ALL, PEER: prefixes per page (0: DAEMON_ROUTES_LIMIT) */
	const uint32_t *peer_ids; /* PEER: rib ids (a range entry has several sessions) */
	size_t npeer_ids;
	/* Optional daemon_peers() snapshot to name the peers with; NULL: take one. */
	const struct daemon_peer_info *peers;
	size_t npeers;
};

/* One path of a prefix, decoded from a copy of its canonical attributes. */
struct daemon_route_path {
	char peer[64];           /* configuration entry's name, "" if the session is gone */
	char peer_address[48];
	uint32_t peer_rib_id;
	uint32_t peer_asn;
	uint32_t peer_router_id; /* host order */
	uint8_t peer_type;       /* enum rib_peer_type */
	bool best;               /* the best path of the prefix */
	bool ecmp;               /* in the multipath set (the best path included) */
	bool stale;              /* RFC 7313: marked by BoRR, not refreshed yet */
	uint32_t path_id;        /* RFC 7911, 0 without ADD-PATH */
	struct attr_info info;   /* origin, MED, LOCAL_PREF, ORIGINATOR_ID (flags say which) */
	char next_hop[48];       /* "" when none */
	char next_hop_local[48]; /* RFC 2545 link-local next hop, "" when none */
	char *as_path;           /* "65001 65002 {3,4}" (bgpdump style), "" when empty */
	uint32_t *communities;   /* RFC 1997, host order */
	size_t ncommunities;
	uint32_t (*large_communities)[3]; /* RFC 8092 */
	size_t nlarge_communities;
	uint64_t *ext_communities; /* RFC 4360, the 8 octets as one big-endian number */
	size_t next_communities;
	uint32_t *cluster_list;  /* RFC 4456, host order */
	size_t ncluster_list;
	bool has_aggregator;
	uint32_t aggregator_as, aggregator_id; /* host order */
	uint8_t *attrs;          /* the canonical attribute bytes (routehub/bgp.h) */
	size_t attrs_len;
};

struct daemon_route {
	struct rib_prefix pfx;
	unsigned npaths;      /* in paths[]: every path, or the peer's (PEER) */
	unsigned paths_total; /* paths of the prefix in the RIB */
	unsigned ecmp_paths;  /* size of the multipath set */
	struct daemon_route_path *paths; /* best first, then the rest of the ECMP set, then others */
};

struct daemon_route_result {
	struct daemon_route *v;
	size_t n;
	bool more;             /* ALL, PEER: the table goes on at `next` */
	struct rib_prefix next;
};

/* 0 with *res filled (release with daemon_routes_free); -1 when the shards
 * did not answer within timeout_ms, the daemon is not running, or memory ran
 * out (res is then empty). */
int daemon_routes(struct rh_daemon *d, const struct daemon_route_query *q,
                  struct daemon_route_result *res, unsigned timeout_ms);
void daemon_routes_free(struct daemon_route_result *res);

/* Exact counts from a walk of every shard's tables (costs a pass over the RIB). */
struct daemon_rib_summary {
	uint64_t prefixes[BGP_AF_MAX]; /* prefixes with at least one path */
	uint64_t paths[BGP_AF_MAX];
	uint64_t attr_sets;    /* distinct interned attribute sets alive (attr_count) */
	uint64_t (*by_peer)[BGP_AF_MAX]; /* paths per rib peer id and family */
	size_t nby_peer;       /* ids 0 .. nby_peer-1 */
};
int daemon_rib_summary(struct rh_daemon *d, struct daemon_rib_summary *s, unsigned timeout_ms);
void daemon_rib_summary_free(struct daemon_rib_summary *s);

/* Cheap counters for /metrics: the shards' own tallies, no walk. */
struct daemon_rib_counts {
	uint64_t prefixes[BGP_AF_MAX];
	uint64_t paths;
	uint64_t attr_sets;
};
int daemon_rib_counts(struct rh_daemon *d, struct daemon_rib_counts *c);

/* ---- operator resets (RFC 4271 §8, RFC 2918, RFC 7313) ---------------------- */
enum daemon_reset {
	DAEMON_RESET_HARD = 0, /* Cease/Administrative Reset, then reconnect */
	DAEMON_RESET_IN,       /* soft reset in: ROUTE-REFRESH to the peer (hard if it
	                          does not support route refresh) */
	DAEMON_RESET_OUT,      /* soft reset out: send it our table again */
};
/* Reset every established session of the entry `name` (a static peer, or
 * every dynamic neighbour of a range entry) or of the peer at `address`
 * (NULL: by name). Asynchronous: the io threads carry it out. */
int daemon_peer_reset(struct rh_daemon *d, const char *name, const char *address,
                      enum daemon_reset mode, const char *msg);

#endif
