/*
 * routehub/fsm.h — the BGP-4 finite state machine of RFC 4271 §8, pure.
 *
 * Owns: the state of one BGP connection (Idle .. Established), its
 * ConnectRetryCounter, which of its timers run, the connect-retry backoff and
 * the idle-hold damping of a flapping peer (DampPeerOscillations, §8.1.1),
 * OPEN negotiation against the peer's configuration (RFC 4271 §6.2, RFC 5492,
 * RFC 6793, RFC 6286, RFC 7911, RFC 8654) and connection collision
 * resolution (§6.8).
 *
 * Runs on: the io thread that owns the peer (DESIGN.md); nothing here is
 * shared. The module does no I/O, reads no clock and allocates nothing:
 * fsm_step() takes one event and returns the new state plus an ordered list
 * of actions (send this, start that timer, drop TCP, ...) that the session
 * engine performs. Randomness (timer jitter) comes in with the event.
 *
 * Not implemented: the optional DelayOpen attribute (DelayOpenTimer,
 * events 12 and 20 of §8.1.3/§8.1.5) — the enum keeps their numbers free;
 * SendNOTIFICATIONwithoutOPEN (only meaningful with DelayOpen).
 *
 * Deliberate deviations from the letter of §8.2.2 (docs/fsm.md says why):
 *  - a NOTIFICATION received in OpenSent is not answered with an FSM Error
 *    NOTIFICATION (the peer is closing; OpenConfirm does the same in §8.2.2);
 *  - BGPHeaderErr in Established sends the Message Header Error of §6.1, not
 *    an FSM Error;
 *  - when AllowAutomaticStart is set, every failure that ends in Idle arms the
 *    IdleHoldTimer, whose expiry restarts the connection (IdleHoldTimer_Expires
 *    in Idle is the automatic restart); ManualStop/AutomaticStop in Idle
 *    cancel a pending restart;
 *  - strict passive mode (fsm_cfg.passive) never initiates a connection: the
 *    ConnectRetryTimer does not run in Active.
 */
#ifndef ROUTEHUB_FSM_H
#define ROUTEHUB_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "routehub/bgp.h"

/* RFC 4271 §8.2.2 states. */
enum fsm_state {
	FSM_ST_IDLE = 0,
	FSM_ST_CONNECT,
	FSM_ST_ACTIVE,
	FSM_ST_OPENSENT,
	FSM_ST_OPENCONFIRM,
	FSM_ST_ESTABLISHED,
	FSM_ST_MAX,
};

/* RFC 4271 §8.1.2–§8.1.5 events, with their RFC numbers. 12 (DelayOpenTimer
 * _Expires) and 20 (BGPOpen with DelayOpenTimer running) are not implemented.
 * RouteRefreshMsg (RFC 2918) is ours. */
enum fsm_event_type {
	FSM_EV_MANUAL_START = 1,
	FSM_EV_MANUAL_STOP = 2,
	FSM_EV_AUTO_START = 3,
	FSM_EV_MANUAL_START_PASSIVE = 4,
	FSM_EV_AUTO_START_PASSIVE = 5,
	FSM_EV_AUTO_START_DAMP = 6,
	FSM_EV_AUTO_START_DAMP_PASSIVE = 7,
	FSM_EV_AUTO_STOP = 8,
	FSM_EV_CONNECT_RETRY_EXPIRES = 9,
	FSM_EV_HOLD_EXPIRES = 10,
	FSM_EV_KEEPALIVE_EXPIRES = 11,
	FSM_EV_IDLE_HOLD_EXPIRES = 13,
	FSM_EV_TCP_VALID = 14,
	FSM_EV_TCP_INVALID = 15,
	FSM_EV_TCP_CR_ACKED = 16,
	FSM_EV_TCP_CONFIRMED = 17,
	FSM_EV_TCP_FAILS = 18,
	FSM_EV_BGP_OPEN = 19,
	FSM_EV_HEADER_ERR = 21,
	FSM_EV_OPEN_ERR = 22,
	FSM_EV_COLLISION_DUMP = 23,
	FSM_EV_NOTIF_VERSION_ERR = 24,
	FSM_EV_NOTIF = 25,
	FSM_EV_KEEPALIVE_MSG = 26,
	FSM_EV_UPDATE_MSG = 27,
	FSM_EV_UPDATE_ERR = 28,
	FSM_EV_ROUTE_REFRESH_MSG = 29, /* RFC 2918: not an RFC 4271 event */
	FSM_EV_MAX,
};

enum fsm_timer {
	FSM_TIMER_CONNECT_RETRY = 0,
	FSM_TIMER_HOLD,
	FSM_TIMER_KEEPALIVE,
	FSM_TIMER_IDLE_HOLD,
	FSM_TIMER_MAX,
};

enum fsm_act_type {
	FSM_ACT_CONNECT = 1,    /* initiate a TCP connection to the peer */
	FSM_ACT_DROP_TCP,       /* close this connection (or refuse the one just reported) */
	FSM_ACT_SEND_OPEN,      /* send our OPEN (fsm_open_build) */
	FSM_ACT_SEND_KEEPALIVE,
	FSM_ACT_SEND_NOTIFY,    /* code, subcode, data/data_len */
	FSM_ACT_TIMER_START,    /* (re)start timer with secs */
	FSM_ACT_TIMER_STOP,     /* timer */
	FSM_ACT_ESTABLISHED,    /* session up: fsm.nego is valid, start exchanging routes */
	FSM_ACT_PEER_DOWN,      /* delete the peer's routes: only when leaving Established */
	FSM_ACT_PROCESS_UPDATE, /* hand the UPDATE to the decoder/RIB */
	FSM_ACT_PROCESS_REFRESH,/* answer the ROUTE-REFRESH (engine checks AFI/SAFI) */
	FSM_ACT_RELEASE,        /* release the connection's resources (buffers, queues) */
	FSM_ACT_LOG,            /* msg: why the session goes down */
};

struct fsm_action {
	enum fsm_act_type type;
	enum fsm_timer timer;  /* TIMER_START / TIMER_STOP */
	uint32_t secs;         /* TIMER_START */
	uint8_t code;          /* SEND_NOTIFY */
	uint8_t subcode;
	uint16_t data_len;
	const uint8_t *data;   /* into fsm_out.buf or the event's bgp_error */
	const char *msg;       /* LOG: static text */
};

#define FSM_MAX_ACTIONS 16
#define FSM_NOTIFY_DATA_MAX 64

/* The result of one fsm_step(). Action data points into this struct or into
 * the event's error: perform the actions before reusing either. */
struct fsm_out {
	enum fsm_state old_state;
	enum fsm_state new_state;
	unsigned n;
	struct fsm_action act[FSM_MAX_ACTIONS];
	uint8_t buf[FSM_NOTIFY_DATA_MAX];
};

/* ---- OPEN negotiation ------------------------------------------------------- */

/* What we offer and expect from one peer. */
struct fsm_open_cfg {
	uint32_t local_as;
	uint32_t peer_as;      /* expected peer AS; 0 = any */
	uint32_t router_id;    /* host byte order */
	uint16_t hold_time;    /* ours: 0 or >= 3 (RFC 4271 §4.2) */
	uint16_t keepalive;    /* 0 = negotiated hold time / 3; else at most that */
	uint32_t caps_offer;   /* BGP_CAPF_* we advertise */
	uint32_t caps_require; /* BGP_CAPF_* the peer must advertise (RFC 5492 §5) */
	uint8_t af_offer[BGP_AF_MAX];      /* families we advertise (BGP_CAPF_MP) */
	uint8_t addpath_offer[BGP_AF_MAX]; /* BGP_ADDPATH_* we advertise per family */
	uint16_t gr_restart_time;          /* our GR restart time if BGP_CAPF_GR */
	bool two_octet_asn_only; /* behave as an OLD speaker (RFC 6793 §4.2): no AS4 */
};

/* What the two OPENs agreed on. */
struct fsm_nego {
	struct bgp_sess sess;    /* as4, ext_msg, ibgp, families, ADD-PATH */
	uint32_t peer_as;        /* the peer's real AS */
	uint32_t peer_id;        /* host byte order */
	uint16_t hold_time;      /* min(ours, peer's): 0 or >= 3 */
	uint16_t keepalive;      /* 0 iff hold_time is 0 */
	bool rrefresh;           /* RFC 2918 (or the pre-standard code 128) */
	bool enh_rrefresh;       /* RFC 7313 */
	bool gr;                 /* RFC 4724: both sides sent the capability */
	uint8_t gr_restart_flags;
	uint16_t gr_restart_time;        /* the peer's */
	uint8_t gr_af_flags[BGP_AF_MAX]; /* the peer's per-family flags, 0x80 = F bit */
	uint8_t gr_af[BGP_AF_MAX];
};

/* A NOTIFICATION to send when an OPEN is refused. */
struct fsm_notify {
	uint8_t code;
	uint8_t subcode;
	uint16_t data_len;
	uint8_t data[FSM_NOTIFY_DATA_MAX];
	const char *reason; /* static text for logs */
};

void fsm_open_cfg_defaults(struct fsm_open_cfg *c);
/* Check a configuration: -1 with a static reason if unusable. */
int fsm_open_cfg_check(const struct fsm_open_cfg *c, const char **reason);
/* Our OPEN for this peer (encode with bgp_open_encode). */
void fsm_open_build(const struct fsm_open_cfg *c, struct bgp_open *o);
/* Decide on the peer's OPEN (already syntax-checked by bgp_open_decode).
 * 0: accepted, *n filled. -1: refused, *err is the NOTIFICATION (RFC 4271
 * §6.2, RFC 5492 §5, RFC 6286 §2.2, RFC 7607). Unsupported Optional Parameter
 * is the decoder's to detect: struct bgp_open keeps no unknown parameters. */
int fsm_open_negotiate(const struct fsm_open_cfg *c, const struct bgp_open *o,
    struct fsm_nego *n, struct fsm_notify *err);

/* ---- the state machine --------------------------------------------------------- */

struct fsm_cfg {
	struct fsm_open_cfg open;
	uint16_t connect_retry_time; /* ConnectRetryTime base, seconds */
	uint16_t connect_retry_max;  /* cap of the exponential backoff */
	uint16_t open_hold_time;     /* HoldTimer in OpenSent: "4 minutes" (§8.2.2) */
	uint16_t idle_hold_time;     /* IdleHoldTime base */
	uint16_t idle_hold_max;      /* cap when damping doubles it */
	uint16_t stable_time;        /* Established this long: damping forgiven */
	bool passive;                /* strict passive: never initiate TCP */
	bool allow_auto_start;       /* AllowAutomaticStart: restart after failures */
	bool damp_oscillations;      /* DampPeerOscillations */
};

struct fsm {
	enum fsm_state state;
	struct fsm_cfg cfg;
	uint32_t connect_retry_counter; /* ConnectRetryCounter (§8) */
	uint32_t attempts;       /* ConnectRetryTimer starts since Established: backoff exponent */
	uint32_t idle_hold_cur;  /* the next IdleHoldTime (damped) */
	uint8_t timers;          /* bit per enum fsm_timer: running */
	uint32_t up_secs;        /* Established time seen through KeepaliveTimer expiries */
	bool passive_start;      /* started by a _PassiveTcpEstablishment event */
	struct fsm_nego nego;    /* valid in OpenConfirm and Established */
};

/* Inputs of one event. rnd is a uniform random value for timer jitter
 * (UINT32_MAX: none). open: FSM_EV_BGP_OPEN. err: the NOTIFICATION to send for
 * HEADER_ERR, OPEN_ERR, UPDATE_ERR (required) and MANUAL_STOP / AUTO_STOP
 * (optional; default Cease/Administrative Shutdown resp. Cease/unspecific). */
struct fsm_event {
	enum fsm_event_type type;
	uint32_t rnd;
	const struct bgp_open *open;
	const struct bgp_error *err;
};

void fsm_cfg_defaults(struct fsm_cfg *c);
/* Check a configuration: -1 with a static reason if unusable. */
int fsm_cfg_check(const struct fsm_cfg *c, const char **reason);
/* 0, or -1 (and the FSM unusable) if cfg fails fsm_cfg_check. */
int fsm_init(struct fsm *f, const struct fsm_cfg *cfg);
/* Run one event. 0 with *out filled (possibly no actions: event ignored);
 * -1 if the event is malformed (unknown type, missing open/err): f unchanged. */
int fsm_step(struct fsm *f, const struct fsm_event *ev, struct fsm_out *out);
/* The caller says how long the session has been Established; once that
 * reaches cfg.stable_time the idle-hold damping is forgiven. Returns 1 if it
 * reset the damping, else 0. Without it, the FSM counts Established time in
 * KeepaliveTimer periods and forgives by itself (not with hold time 0). */
int fsm_note_uptime(struct fsm *f, uint32_t secs);

/* Exponential backoff with jitter: base * 2^n capped at cap, multiplied by a
 * factor in [0.75, 1.0] drawn from rnd (RFC 4271 §10); never 0 unless base is. */
uint32_t fsm_backoff(uint32_t base, uint32_t cap, uint32_t n, uint32_t rnd);

/* ---- connection collision (RFC 4271 §6.8, RFC 6286 §2.3) -------------------- */

enum fsm_coll_verdict {
	FSM_COLL_NONE = 0,       /* no collision can be detected: keep both for now */
	FSM_COLL_DUMP_EXISTING,  /* send OpenCollisionDump to the existing connection */
	FSM_COLL_DUMP_NEW,       /* send OpenCollisionDump to the new connection */
};

struct fsm_coll_in {
	enum fsm_state existing_state;
	bool existing_outbound;   /* we initiated the existing connection */
	bool new_outbound;        /* we initiated the new one (whose OPEN just came) */
	uint32_t local_id, remote_id; /* host byte order */
	uint32_t local_as, remote_as;
	bool detect_established;  /* CollisionDetectEstablishedState */
};

struct fsm_coll {
	enum fsm_coll_verdict verdict;
	uint8_t code, subcode; /* Cease / Connection Collision Resolution (RFC 4486) */
};

int fsm_collision(const struct fsm_coll_in *in, struct fsm_coll *out);

/* ---- names for logs ------------------------------------------------------------ */
const char *fsm_state_name(enum fsm_state s);
const char *fsm_event_name(enum fsm_event_type e);
const char *fsm_act_name(enum fsm_act_type a);
const char *fsm_timer_name(enum fsm_timer t);

#endif /* ROUTEHUB_FSM_H */
