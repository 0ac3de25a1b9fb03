/*
 * session.h — private to engine/: peers and their BGP connections, run on
 * the io thread that owns them (DESIGN.md "Ownership rules").
 *
 * A struct sess_loop is one io thread's share of the daemon: its io_loop and
 * the list of peers it owns. A struct peer is one configured neighbour (or one
 * dynamic neighbour that connected from a configured range). It has at most
 * two BGP connections (struct bconn), each with its own RFC 4271 FSM, because
 * RFC 4271 §6.8 lets both sides connect at once: slot 0 is the peer's main
 * connection (it carries the connect-retry and idle-hold state), slot 1 a
 * second one that exists only until collision resolution picks a winner.
 *
 * Every function here runs on the peer's loop thread. Other threads reach a
 * peer only by io_loop_post() to its loop.
 */
#ifndef ENGINE_SESSION_H
#define ENGINE_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "routehub/bgp.h"
#include "routehub/cfg.h"
#include "routehub/fsm.h"
#include "routehub/io.h"
#include "export.h"

struct rh_daemon;
struct peer;

/* One TCP connection's link back to its bconn. Allocated per connection so
 * that a connection being closed (NOTIFICATION flushing) can outlive the
 * bconn that dropped it: the bconn sets b = NULL and forgets it. */
struct tcp {
	struct bconn *b;
	struct io_conn *io;
	struct sess_loop *sl;
};

struct bconn {
	struct peer *peer;
	struct tcp *tcp; /* NULL when no TCP connection */
	struct fsm fsm;
	struct io_timer timers[FSM_TIMER_MAX];
	bool outbound; /* we initiated the current TCP connection */
	bool in_step;  /* inside fsm_step actions: defer frees */
	/* Established, but export cannot serve the session (no peer id left):
	 * the NOTIFICATION to close it with, fed to the FSM once the actions
	 * of the event that established it are done. code 0: none. */
	struct bgp_error refused;
};

struct peer_stats {
	uint64_t msgs_in, msgs_out;
	uint64_t updates_in;
	uint64_t prefixes_announced; /* NLRI received as reachable */
	uint64_t prefixes_withdrawn; /* NLRI received as withdrawn */
	uint64_t treat_as_withdraw;  /* updates handled as RFC 7606 treat-as-withdraw */
	uint64_t attr_discards;      /* attributes discarded (RFC 7606) */
	uint64_t eor_in;
	uint64_t refresh_in;
	uint32_t established; /* times the session came up */
	uint32_t flaps;       /* times it went down from Established */
};

struct peer {
	struct peer *next, *prev; /* on sl->peers */
	struct sess_loop *sl;
	const struct cfg_peer *cp; /* in a configuration kept until exit */
	const struct cfg *cfg;
	struct cfg_addr addr; /* the neighbour's address */
	struct sockaddr_storage sa;
	socklen_t salen;
	char addrstr[48];
	bool dynamic;  /* created on accept from a range entry */
	bool deleting; /* being removed: no restarts */
	struct fsm_cfg fcfg;
	struct bconn *conn[2];
	uint64_t up_since_ms; /* io_now_ms() when Established, 0 if not */
	struct peer_stats st;
	struct exp_member exp; /* routes in and out (export.c) */
	char last_error[400];
};

struct sess_loop {
	struct rh_daemon *d;
	struct io_loop *io;
	unsigned idx;
	pthread_t thread;
	struct peer *peers; /* list head */
	unsigned npeers;
	unsigned ntcp;             /* TCP connections alive on this loop, closing ones included */
	bool stopping;             /* shutdown in progress: refuse, no restarts */
	bool stop_done;            /* reported to the main thread */
	bool rib_pending;          /* ops pushed since the last rib_flush */
	bool oos_pending;          /* some peer is out of sync (export.c) */
	struct io_timer oos_timer; /* polls out-of-sync peers draining (export.c) */
	unsigned nmembers[EXP_MAX_GROUPS]; /* members of each update group here */
};

/* ---- session.c ---------------------------------------------------------------- */
/* Create a static peer (cp->is_range false) on sl; starts its FSM. */
struct peer *sess_peer_new(struct sess_loop *sl, const struct cfg *c, const struct cfg_peer *cp);
/* Stop every connection of p with a NOTIFICATION (Cease/subcode, RFC 8203 text
 * for shutdowns) and free it. */
void sess_peer_delete(struct peer *p, uint8_t subcode, const char *msg);
/* Give p a new configuration entry whose changes need no new session. */
void sess_peer_update(struct peer *p, const struct cfg *c, const struct cfg_peer *cp);
/* An accepted TCP connection for entry cp from remote. Takes fd. */
void sess_incoming(struct sess_loop *sl, const struct cfg *c, const struct cfg_peer *cp, int fd,
                   const struct sockaddr *remote, socklen_t rlen);
/* Reset the peer's established session with this NOTIFICATION (max routes,
 * out of sync). */
void sess_peer_reset(struct peer *p, const struct bgp_error *err);
/* Operator resets: hard (Cease/Administrative Reset with an RFC 8203 text),
 * soft in (ROUTE-REFRESH; hard without route refresh), soft out. */
void sess_peer_reset_op(struct peer *p, int mode, const char *msg);
struct peer *sess_peer_find(struct sess_loop *sl, const char *name, const struct cfg_addr *addr);
const char *sess_peer_state_name(const struct peer *p);
enum fsm_state sess_peer_state(const struct peer *p);

/* ---- daemon.c, for session.c ------------------------------------------------------ */
/* The loop's last TCP connection closed during shutdown. */
void daemon_loop_drained(struct sess_loop *sl);
/* The shared KEEPALIVE buffer. */
struct io_buf *daemon_keepalive_buf(struct rh_daemon *d);

#endif
