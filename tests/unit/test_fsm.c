/*
 * test_fsm.c — unit tests of the BGP FSM (engine/fsm.c, engine/fsm_open.c).
 *
 * The heart is one table with a row per (state, event) pair of RFC 4271
 * §8.2.2: every state × every implemented event, checked for complete
 * coverage. Each row brings a fresh FSM into its state by real events,
 * applies one event and compares the next state, the ConnectRetryCounter
 * and the exact action list. Invariants (timer bookkeeping, PEER_DOWN only
 * when leaving Established, Idle always drops and releases) are checked on
 * every step. Then: OPEN negotiation, collision, backoff and damping tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "routehub/fsm.h"

/* The tables below override fields of a base initialiser on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define LOCAL_ID 0x0a000001u
#define PEER_ID  0x0a000002u
#define NONE_RND UINT32_MAX /* jitter factor 1.0: exact timer values */

/* ---- fixture ------------------------------------------------------------------ */

static void
test_cfg(struct fsm_cfg *c)
{
	fsm_cfg_defaults(c);
	c->open.local_as = 65515;
	c->open.peer_as = 65001;
	c->open.router_id = LOCAL_ID;
	c->open.hold_time = 180;
	c->open.keepalive = 60;
	c->connect_retry_time = 30;
	c->connect_retry_max = 300;
	c->open_hold_time = 240;
	c->idle_hold_time = 5;
	c->idle_hold_max = 300;
	c->stable_time = 180;
	c->allow_auto_start = true;
	c->damp_oscillations = true;
}

static void
peer_open(struct bgp_open *o)
{
	memset(o, 0, sizeof(*o));
	o->version = 4;
	o->my_as = 65001;
	o->asn = 65001;
	o->hold_time = 90;
	o->bgp_id = PEER_ID;
	o->caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH;
	o->mp[BGP_AF_IPV4] = 1;
}

static const uint8_t hdr_data[2] = { 0x00, 0x12 };
static const struct bgp_error hdr_err = {
	.code = BGP_ERR_HEADER, .subcode = BGP_ERR_HDR_LENGTH,
	.data = hdr_data, .data_len = 2, .reason = "bad length",
};
static const struct bgp_error open_err = {
	.code = BGP_ERR_OPEN, .subcode = BGP_ERR_OPEN_OPTPARAM, .reason = "bad optparam",
};
static const struct bgp_error upd_err = {
	.code = BGP_ERR_UPDATE, .subcode = BGP_ERR_UPD_ATTRLIST, .reason = "bad attr list",
};

/* A shadow of the timers the caller would have running, built only from the
 * actions: the FSM's own bookkeeping must agree with it. */
struct shadow {
	uint8_t running;
};

static bool
is_expiry(enum fsm_event_type e, enum fsm_timer *t)
{
	switch (e) {
	case FSM_EV_CONNECT_RETRY_EXPIRES: *t = FSM_TIMER_CONNECT_RETRY; return true;
	case FSM_EV_HOLD_EXPIRES: *t = FSM_TIMER_HOLD; return true;
	case FSM_EV_KEEPALIVE_EXPIRES: *t = FSM_TIMER_KEEPALIVE; return true;
	case FSM_EV_IDLE_HOLD_EXPIRES: *t = FSM_TIMER_IDLE_HOLD; return true;
	default: return false;
	}
}

static void
event_for(enum fsm_event_type type, const struct bgp_open *o, struct fsm_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->rnd = NONE_RND;
	ev->open = o;
	if (type == FSM_EV_HEADER_ERR)
		ev->err = &hdr_err;
	else if (type == FSM_EV_OPEN_ERR)
		ev->err = &open_err;
	else if (type == FSM_EV_UPDATE_ERR)
		ev->err = &upd_err;
}

/* One step with every invariant checked. */
static void
step(struct fsm *f, struct shadow *sh, const struct fsm_event *ev, struct fsm_out *out)
{
	enum fsm_state before = f->state;
	enum fsm_timer t;
	bool peer_down = false, drop = false, release = false;
	unsigned i;

	if (is_expiry(ev->type, &t))
		sh->running &= ~(1u << t);
	assert_int_equal(fsm_step(f, ev, out), 0);
	assert_int_equal(out->old_state, before);
	assert_int_equal(out->new_state, f->state);
	for (i = 0; i < out->n; i++) {
		const struct fsm_action *a = &out->act[i];

		assert_non_null(fsm_act_name(a->type));
		switch (a->type) {
		case FSM_ACT_TIMER_START:
			sh->running |= 1u << a->timer;
			break;
		case FSM_ACT_TIMER_STOP:
			/* never stop a timer that is not running */
			assert_true(sh->running & (1u << a->timer));
			sh->running &= ~(1u << a->timer);
			break;
		case FSM_ACT_PEER_DOWN:
			peer_down = true;
			break;
		case FSM_ACT_DROP_TCP:
			drop = true;
			break;
		case FSM_ACT_RELEASE:
			release = true;
			break;
		case FSM_ACT_LOG:
			assert_non_null(a->msg);
			break;
		default:
			break;
		}
	}
	assert_int_equal(sh->running, f->timers);
	/* PEER_DOWN iff leaving Established */
	assert_int_equal(peer_down, before == FSM_ST_ESTABLISHED &&
	    f->state != FSM_ST_ESTABLISHED);
	/* every fall into Idle drops TCP and releases */
	if (before != FSM_ST_IDLE && f->state == FSM_ST_IDLE)
		assert_true(drop && release);
	/* outside Idle the IdleHoldTimer never runs; in Idle nothing else does */
	if (f->state != FSM_ST_IDLE)
		assert_false(f->timers & (1u << FSM_TIMER_IDLE_HOLD));
	else
		assert_int_equal(f->timers & ~(1u << FSM_TIMER_IDLE_HOLD), 0);
}

static void
drive(struct fsm *f, struct shadow *sh, const struct bgp_open *o,
    enum fsm_event_type type, enum fsm_state expect)
{
	struct fsm_event ev;
	struct fsm_out out;

	event_for(type, o, &ev);
	step(f, sh, &ev, &out);
	assert_int_equal(f->state, expect);
}

/* Bring a fresh FSM into state s by the events a real session would see. */
static void
reach(struct fsm *f, struct shadow *sh, const struct fsm_cfg *cfg,
    const struct bgp_open *o, enum fsm_state s)
{
	assert_int_equal(fsm_init(f, cfg), 0);
	sh->running = 0;
	switch (s) {
	case FSM_ST_IDLE:
		break;
	case FSM_ST_ACTIVE:
		drive(f, sh, o, FSM_EV_MANUAL_START_PASSIVE, FSM_ST_ACTIVE);
		break;
	case FSM_ST_CONNECT:
	case FSM_ST_OPENSENT:
	case FSM_ST_OPENCONFIRM:
	case FSM_ST_ESTABLISHED:
		drive(f, sh, o, FSM_EV_MANUAL_START, FSM_ST_CONNECT);
		if (s == FSM_ST_CONNECT)
			break;
		drive(f, sh, o, FSM_EV_TCP_CR_ACKED, FSM_ST_OPENSENT);
		if (s == FSM_ST_OPENSENT)
			break;
		drive(f, sh, o, FSM_EV_BGP_OPEN, FSM_ST_OPENCONFIRM);
		if (s == FSM_ST_OPENCONFIRM)
			break;
		drive(f, sh, o, FSM_EV_KEEPALIVE_MSG, FSM_ST_ESTABLISHED);
		break;
	default:
		fail();
	}
}

/* ---- the §8.2.2 table ------------------------------------------------------------ */

struct exp_act {
	int type; /* 0 ends the list */
	int a, b; /* timer+secs, or code+subcode */
};

enum { CNT_SAME, CNT_INC, CNT_ZERO };
#define CNT_START 5 /* ConnectRetryCounter before the event */

struct fsm_case {
	enum fsm_state from;
	enum fsm_event_type ev;
	enum fsm_state to;
	int cnt;
	struct exp_act acts[12];
	const char *what;
};

#define S_IDLE FSM_ST_IDLE
#define S_CONN FSM_ST_CONNECT
#define S_ACTV FSM_ST_ACTIVE
#define S_SENT FSM_ST_OPENSENT
#define S_CONF FSM_ST_OPENCONFIRM
#define S_ESTB FSM_ST_ESTABLISHED

#define T_CR FSM_TIMER_CONNECT_RETRY
#define T_HOLD FSM_TIMER_HOLD
#define T_KA FSM_TIMER_KEEPALIVE
#define T_IH FSM_TIMER_IDLE_HOLD

#define A_LOG { FSM_ACT_LOG, 0, 0 }
#define A_NOTIFY(c, s) { FSM_ACT_SEND_NOTIFY, c, s }
#define A_START(t, s) { FSM_ACT_TIMER_START, t, s }
#define A_STOP(t) { FSM_ACT_TIMER_STOP, t, 0 }
#define A_DROP { FSM_ACT_DROP_TCP, 0, 0 }
#define A_RELEASE { FSM_ACT_RELEASE, 0, 0 }
#define A_CONNECT { FSM_ACT_CONNECT, 0, 0 }
#define A_OPEN { FSM_ACT_SEND_OPEN, 0, 0 }
#define A_KA { FSM_ACT_SEND_KEEPALIVE, 0, 0 }
#define A_ESTAB { FSM_ACT_ESTABLISHED, 0, 0 }
#define A_PDOWN { FSM_ACT_PEER_DOWN, 0, 0 }
#define A_UPD { FSM_ACT_PROCESS_UPDATE, 0, 0 }
#define A_RR { FSM_ACT_PROCESS_REFRESH, 0, 0 }
#define A_IHOLD A_START(T_IH, 5) /* automatic restart after the damped idle hold */

/* Falls into Idle from each state (notification variants). */
#define DOWN_CR A_LOG, A_STOP(T_CR), A_DROP, A_RELEASE
#define DOWN_SENT(c, s) A_LOG, A_NOTIFY(c, s), A_STOP(T_HOLD), A_DROP, A_RELEASE
#define DOWN_SENT0 A_LOG, A_STOP(T_HOLD), A_DROP, A_RELEASE
#define DOWN_CONF(c, s) A_LOG, A_NOTIFY(c, s), A_STOP(T_HOLD), A_STOP(T_KA), A_DROP, A_RELEASE
#define DOWN_CONF0 A_LOG, A_STOP(T_HOLD), A_STOP(T_KA), A_DROP, A_RELEASE
#define DOWN_EST(c, s) A_LOG, A_NOTIFY(c, s), A_STOP(T_HOLD), A_STOP(T_KA), A_PDOWN, A_DROP, A_RELEASE
#define DOWN_EST0 A_LOG, A_STOP(T_HOLD), A_STOP(T_KA), A_PDOWN, A_DROP, A_RELEASE

#define FSM_E 5 /* BGP_ERR_FSM */
#define CEASE 6

static const struct fsm_case fsm_cases[] = {
	/* ---- Idle ---- */
	{ S_IDLE, FSM_EV_MANUAL_START, S_CONN, CNT_ZERO, { A_START(T_CR, 30), A_CONNECT },
	  "Idle + ManualStart: ConnectRetryCounter = 0, start ConnectRetryTimer, initiate TCP, -> Connect" },
	{ S_IDLE, FSM_EV_MANUAL_STOP, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + ManualStop: ignored (no pending restart to cancel)" },
	{ S_IDLE, FSM_EV_AUTO_START, S_CONN, CNT_ZERO, { A_START(T_CR, 30), A_CONNECT },
	  "Idle + AutomaticStart: ConnectRetryCounter = 0, start ConnectRetryTimer, initiate TCP, -> Connect" },
	{ S_IDLE, FSM_EV_MANUAL_START_PASSIVE, S_ACTV, CNT_ZERO, { A_START(T_CR, 30) },
	  "Idle + ManualStart_with_PassiveTcpEstablishment: ConnectRetryCounter = 0, start ConnectRetryTimer, listen, -> Active" },
	{ S_IDLE, FSM_EV_AUTO_START_PASSIVE, S_ACTV, CNT_ZERO, { A_START(T_CR, 30) },
	  "Idle + AutomaticStart_with_PassiveTcpEstablishment: ConnectRetryCounter = 0, start ConnectRetryTimer, listen, -> Active" },
	{ S_IDLE, FSM_EV_AUTO_START_DAMP, S_IDLE, CNT_SAME, { A_IHOLD },
	  "Idle + AutomaticStart_with_DampPeerOscillations: wait for the damped IdleHoldTimer, stay Idle" },
	{ S_IDLE, FSM_EV_AUTO_START_DAMP_PASSIVE, S_IDLE, CNT_SAME, { A_IHOLD },
	  "Idle + AutomaticStart_with_DampPeerOscillations_and_PassiveTcpEstablishment: wait for IdleHoldTimer, stay Idle" },
	{ S_IDLE, FSM_EV_AUTO_STOP, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + AutomaticStop: ignored" },
	{ S_IDLE, FSM_EV_CONNECT_RETRY_EXPIRES, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + ConnectRetryTimer_Expires: any other event does not change the state" },
	{ S_IDLE, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + HoldTimer_Expires: ignored" },
	{ S_IDLE, FSM_EV_KEEPALIVE_EXPIRES, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + KeepaliveTimer_Expires: ignored" },
	{ S_IDLE, FSM_EV_IDLE_HOLD_EXPIRES, S_CONN, CNT_SAME, { A_START(T_CR, 30), A_CONNECT },
	  "Idle + IdleHoldTimer_Expires: the automatic restart: start ConnectRetryTimer, initiate TCP, -> Connect (counter kept)" },
	{ S_IDLE, FSM_EV_TCP_VALID, S_IDLE, CNT_SAME, { A_DROP },
	  "Idle + TcpConnection_Valid: Idle refuses all incoming BGP connections" },
	{ S_IDLE, FSM_EV_TCP_INVALID, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + Tcp_CR_Invalid: ignored (the caller closes a socket that was never ours)" },
	{ S_IDLE, FSM_EV_TCP_CR_ACKED, S_IDLE, CNT_SAME, { A_DROP },
	  "Idle + Tcp_CR_Acked: refused" },
	{ S_IDLE, FSM_EV_TCP_CONFIRMED, S_IDLE, CNT_SAME, { A_DROP },
	  "Idle + TcpConnectionConfirmed: refused" },
	{ S_IDLE, FSM_EV_TCP_FAILS, S_IDLE, CNT_SAME, { { 0 } },
	  "Idle + TcpConnectionFails: ignored" },
	{ S_IDLE, FSM_EV_BGP_OPEN, S_IDLE, CNT_SAME, { { 0 } }, "Idle + BGPOpen: ignored" },
	{ S_IDLE, FSM_EV_HEADER_ERR, S_IDLE, CNT_SAME, { { 0 } }, "Idle + BGPHeaderErr: ignored" },
	{ S_IDLE, FSM_EV_OPEN_ERR, S_IDLE, CNT_SAME, { { 0 } }, "Idle + BGPOpenMsgErr: ignored" },
	{ S_IDLE, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_SAME, { { 0 } }, "Idle + OpenCollisionDump: ignored" },
	{ S_IDLE, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_SAME, { { 0 } }, "Idle + NotifMsgVerErr: ignored" },
	{ S_IDLE, FSM_EV_NOTIF, S_IDLE, CNT_SAME, { { 0 } }, "Idle + NotifMsg: ignored" },
	{ S_IDLE, FSM_EV_KEEPALIVE_MSG, S_IDLE, CNT_SAME, { { 0 } }, "Idle + KeepAliveMsg: ignored" },
	{ S_IDLE, FSM_EV_UPDATE_MSG, S_IDLE, CNT_SAME, { { 0 } }, "Idle + UpdateMsg: ignored" },
	{ S_IDLE, FSM_EV_UPDATE_ERR, S_IDLE, CNT_SAME, { { 0 } }, "Idle + UpdateMsgErr: ignored" },
	{ S_IDLE, FSM_EV_ROUTE_REFRESH_MSG, S_IDLE, CNT_SAME, { { 0 } }, "Idle + RouteRefreshMsg: ignored" },

	/* ---- Connect ---- */
	{ S_CONN, FSM_EV_MANUAL_START, S_CONN, CNT_SAME, { { 0 } }, "Connect + ManualStart: ignored" },
	{ S_CONN, FSM_EV_MANUAL_STOP, S_IDLE, CNT_ZERO, { DOWN_CR },
	  "Connect + ManualStop: drop TCP, release, ConnectRetryCounter = 0, stop ConnectRetryTimer, -> Idle" },
	{ S_CONN, FSM_EV_AUTO_START, S_CONN, CNT_SAME, { { 0 } }, "Connect + AutomaticStart: ignored" },
	{ S_CONN, FSM_EV_MANUAL_START_PASSIVE, S_CONN, CNT_SAME, { { 0 } }, "Connect + ManualStart_with_Passive: ignored" },
	{ S_CONN, FSM_EV_AUTO_START_PASSIVE, S_CONN, CNT_SAME, { { 0 } }, "Connect + AutomaticStart_with_Passive: ignored" },
	{ S_CONN, FSM_EV_AUTO_START_DAMP, S_CONN, CNT_SAME, { { 0 } }, "Connect + AutomaticStart_with_Damp: ignored" },
	{ S_CONN, FSM_EV_AUTO_START_DAMP_PASSIVE, S_CONN, CNT_SAME, { { 0 } }, "Connect + AutomaticStart_with_Damp_and_Passive: ignored" },
	{ S_CONN, FSM_EV_AUTO_STOP, S_IDLE, CNT_INC, { DOWN_CR },
	  "Connect + AutomaticStop (any other event): stop ConnectRetryTimer, release, drop TCP, ConnectRetryCounter++, -> Idle (no restart)" },
	{ S_CONN, FSM_EV_CONNECT_RETRY_EXPIRES, S_CONN, CNT_SAME, { A_DROP, A_START(T_CR, 60), A_CONNECT },
	  "Connect + ConnectRetryTimer_Expires: drop TCP, restart ConnectRetryTimer (backoff x2), initiate TCP, stay" },
	{ S_CONN, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + HoldTimer_Expires (any other event): ConnectRetryCounter++, damping, -> Idle" },
	{ S_CONN, FSM_EV_KEEPALIVE_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + KeepaliveTimer_Expires (any other event): -> Idle" },
	{ S_CONN, FSM_EV_IDLE_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + IdleHoldTimer_Expires (any other event): -> Idle" },
	{ S_CONN, FSM_EV_TCP_VALID, S_CONN, CNT_SAME, { { 0 } },
	  "Connect + TcpConnection_Valid: the TCP connection is processed, stay" },
	{ S_CONN, FSM_EV_TCP_INVALID, S_CONN, CNT_SAME, { { 0 } },
	  "Connect + Tcp_CR_Invalid: reject the connection, stay" },
	{ S_CONN, FSM_EV_TCP_CR_ACKED, S_SENT, CNT_SAME, { A_STOP(T_CR), A_OPEN, A_START(T_HOLD, 240) },
	  "Connect + Tcp_CR_Acked: stop ConnectRetryTimer, send OPEN, HoldTimer 4 minutes, -> OpenSent" },
	{ S_CONN, FSM_EV_TCP_CONFIRMED, S_SENT, CNT_SAME, { A_STOP(T_CR), A_OPEN, A_START(T_HOLD, 240) },
	  "Connect + TcpConnectionConfirmed: stop ConnectRetryTimer, send OPEN, HoldTimer 4 minutes, -> OpenSent" },
	{ S_CONN, FSM_EV_TCP_FAILS, S_IDLE, CNT_SAME, { DOWN_CR, A_IHOLD },
	  "Connect + TcpConnectionFails (no DelayOpenTimer): stop ConnectRetryTimer, drop TCP, release, -> Idle (counter kept)" },
	{ S_CONN, FSM_EV_BGP_OPEN, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + BGPOpen without DelayOpen (any other event): -> Idle" },
	{ S_CONN, FSM_EV_HEADER_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + BGPHeaderErr: no NOTIFICATION without OPEN, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_CONN, FSM_EV_OPEN_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + BGPOpenMsgErr: release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_CONN, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + OpenCollisionDump (any other event): -> Idle" },
	{ S_CONN, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + NotifMsgVerErr (no DelayOpenTimer): ConnectRetryCounter++, damping, -> Idle" },
	{ S_CONN, FSM_EV_NOTIF, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + NotifMsg (any other event): -> Idle" },
	{ S_CONN, FSM_EV_KEEPALIVE_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + KeepAliveMsg (any other event): -> Idle" },
	{ S_CONN, FSM_EV_UPDATE_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + UpdateMsg (any other event): -> Idle" },
	{ S_CONN, FSM_EV_UPDATE_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + UpdateMsgErr (any other event): -> Idle" },
	{ S_CONN, FSM_EV_ROUTE_REFRESH_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Connect + RouteRefreshMsg (unexpected message): -> Idle" },

	/* ---- Active ---- */
	{ S_ACTV, FSM_EV_MANUAL_START, S_ACTV, CNT_SAME, { { 0 } }, "Active + ManualStart: ignored" },
	{ S_ACTV, FSM_EV_MANUAL_STOP, S_IDLE, CNT_ZERO, { DOWN_CR },
	  "Active + ManualStop: release, drop TCP, ConnectRetryCounter = 0, stop ConnectRetryTimer, -> Idle" },
	{ S_ACTV, FSM_EV_AUTO_START, S_ACTV, CNT_SAME, { { 0 } }, "Active + AutomaticStart: ignored" },
	{ S_ACTV, FSM_EV_MANUAL_START_PASSIVE, S_ACTV, CNT_SAME, { { 0 } }, "Active + ManualStart_with_Passive: ignored" },
	{ S_ACTV, FSM_EV_AUTO_START_PASSIVE, S_ACTV, CNT_SAME, { { 0 } }, "Active + AutomaticStart_with_Passive: ignored" },
	{ S_ACTV, FSM_EV_AUTO_START_DAMP, S_ACTV, CNT_SAME, { { 0 } }, "Active + AutomaticStart_with_Damp: ignored" },
	{ S_ACTV, FSM_EV_AUTO_START_DAMP_PASSIVE, S_ACTV, CNT_SAME, { { 0 } }, "Active + AutomaticStart_with_Damp_and_Passive: ignored" },
	{ S_ACTV, FSM_EV_AUTO_STOP, S_IDLE, CNT_INC, { DOWN_CR },
	  "Active + AutomaticStop (any other event): ConnectRetryCounter++, -> Idle (no restart)" },
	{ S_ACTV, FSM_EV_CONNECT_RETRY_EXPIRES, S_CONN, CNT_SAME, { A_START(T_CR, 60), A_CONNECT },
	  "Active + ConnectRetryTimer_Expires: restart ConnectRetryTimer, initiate TCP, -> Connect" },
	{ S_ACTV, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + HoldTimer_Expires (any other event): ConnectRetryCounter++, -> Idle" },
	{ S_ACTV, FSM_EV_KEEPALIVE_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + KeepaliveTimer_Expires (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_IDLE_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + IdleHoldTimer_Expires (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_TCP_VALID, S_ACTV, CNT_SAME, { { 0 } },
	  "Active + TcpConnection_Valid: processed, stay" },
	{ S_ACTV, FSM_EV_TCP_INVALID, S_ACTV, CNT_SAME, { { 0 } },
	  "Active + Tcp_CR_Invalid: rejected, stay" },
	{ S_ACTV, FSM_EV_TCP_CR_ACKED, S_SENT, CNT_SAME, { A_STOP(T_CR), A_OPEN, A_START(T_HOLD, 240) },
	  "Active + Tcp_CR_Acked: ConnectRetryTimer = 0, send OPEN, HoldTimer large, -> OpenSent" },
	{ S_ACTV, FSM_EV_TCP_CONFIRMED, S_SENT, CNT_SAME, { A_STOP(T_CR), A_OPEN, A_START(T_HOLD, 240) },
	  "Active + TcpConnectionConfirmed: ConnectRetryTimer = 0, send OPEN, HoldTimer large, -> OpenSent" },
	{ S_ACTV, FSM_EV_TCP_FAILS, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + TcpConnectionFails: release, ConnectRetryCounter++, damping, -> Idle" },
	{ S_ACTV, FSM_EV_BGP_OPEN, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + BGPOpen without DelayOpen (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_HEADER_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + BGPHeaderErr: ConnectRetryTimer = 0, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_ACTV, FSM_EV_OPEN_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + BGPOpenMsgErr: ConnectRetryCounter++, -> Idle" },
	{ S_ACTV, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + OpenCollisionDump (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + NotifMsgVerErr (no DelayOpenTimer): ConnectRetryCounter++, -> Idle" },
	{ S_ACTV, FSM_EV_NOTIF, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + NotifMsg (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_KEEPALIVE_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + KeepAliveMsg (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_UPDATE_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + UpdateMsg (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_UPDATE_ERR, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + UpdateMsgErr (any other event): -> Idle" },
	{ S_ACTV, FSM_EV_ROUTE_REFRESH_MSG, S_IDLE, CNT_INC, { DOWN_CR, A_IHOLD },
	  "Active + RouteRefreshMsg (unexpected message): -> Idle" },

	/* ---- OpenSent ---- */
	{ S_SENT, FSM_EV_MANUAL_START, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + ManualStart: ignored" },
	{ S_SENT, FSM_EV_MANUAL_STOP, S_IDLE, CNT_ZERO, { DOWN_SENT(CEASE, BGP_ERR_CEASE_ADMIN_SHUTDOWN) },
	  "OpenSent + ManualStop: NOTIFICATION Cease, ConnectRetryTimer = 0, release, drop TCP, ConnectRetryCounter = 0, -> Idle" },
	{ S_SENT, FSM_EV_AUTO_START, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + AutomaticStart: ignored" },
	{ S_SENT, FSM_EV_MANUAL_START_PASSIVE, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + ManualStart_with_Passive: ignored" },
	{ S_SENT, FSM_EV_AUTO_START_PASSIVE, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + AutomaticStart_with_Passive: ignored" },
	{ S_SENT, FSM_EV_AUTO_START_DAMP, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + AutomaticStart_with_Damp: ignored" },
	{ S_SENT, FSM_EV_AUTO_START_DAMP_PASSIVE, S_SENT, CNT_SAME, { { 0 } }, "OpenSent + AutomaticStart_with_Damp_and_Passive: ignored" },
	{ S_SENT, FSM_EV_AUTO_STOP, S_IDLE, CNT_INC, { DOWN_SENT(CEASE, 0) },
	  "OpenSent + AutomaticStop: NOTIFICATION Cease, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_CONNECT_RETRY_EXPIRES, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "OpenSent + ConnectRetryTimer_Expires (any other event): NOTIFICATION FSM Error (unspecific), ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_INC, { A_LOG, A_NOTIFY(BGP_ERR_HOLD, 0), A_DROP, A_RELEASE, A_IHOLD },
	  "OpenSent + HoldTimer_Expires: NOTIFICATION Hold Timer Expired, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_KEEPALIVE_EXPIRES, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "OpenSent + KeepaliveTimer_Expires (any other event): NOTIFICATION FSM Error, -> Idle" },
	{ S_SENT, FSM_EV_IDLE_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "OpenSent + IdleHoldTimer_Expires (any other event): NOTIFICATION FSM Error, -> Idle" },
	{ S_SENT, FSM_EV_TCP_VALID, S_SENT, CNT_SAME, { { 0 } },
	  "OpenSent + TcpConnection_Valid: a second connection, tracked (collision detection), stay" },
	{ S_SENT, FSM_EV_TCP_INVALID, S_SENT, CNT_SAME, { { 0 } },
	  "OpenSent + Tcp_CR_Invalid: ignored" },
	{ S_SENT, FSM_EV_TCP_CR_ACKED, S_SENT, CNT_SAME, { { 0 } },
	  "OpenSent + Tcp_CR_Acked: second connection tracked, stay" },
	{ S_SENT, FSM_EV_TCP_CONFIRMED, S_SENT, CNT_SAME, { { 0 } },
	  "OpenSent + TcpConnectionConfirmed: second connection tracked, stay" },
	{ S_SENT, FSM_EV_TCP_FAILS, S_ACTV, CNT_SAME, { A_STOP(T_HOLD), A_DROP, A_START(T_CR, 60) },
	  "OpenSent + TcpConnectionFails: close the connection, restart ConnectRetryTimer, listen, -> Active" },
	{ S_SENT, FSM_EV_BGP_OPEN, S_CONF, CNT_SAME, { A_KA, A_START(T_KA, 30), A_START(T_HOLD, 90) },
	  "OpenSent + BGPOpen: ConnectRetryTimer = 0, send KEEPALIVE, KeepaliveTimer, HoldTimer = negotiated, -> OpenConfirm" },
	{ S_SENT, FSM_EV_HEADER_ERR, S_IDLE, CNT_INC, { DOWN_SENT(BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH), A_IHOLD },
	  "OpenSent + BGPHeaderErr: NOTIFICATION with the error, ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_OPEN_ERR, S_IDLE, CNT_INC, { DOWN_SENT(BGP_ERR_OPEN, BGP_ERR_OPEN_OPTPARAM), A_IHOLD },
	  "OpenSent + BGPOpenMsgErr: NOTIFICATION with the error, ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_INC, { DOWN_SENT(CEASE, BGP_ERR_CEASE_COLLISION), A_IHOLD },
	  "OpenSent + OpenCollisionDump: NOTIFICATION Cease (Connection Collision Resolution), ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_SAME, { DOWN_SENT0, A_IHOLD },
	  "OpenSent + NotifMsgVerErr: ConnectRetryTimer = 0, release, drop TCP, -> Idle (counter kept)" },
	{ S_SENT, FSM_EV_NOTIF, S_IDLE, CNT_INC, { DOWN_SENT0, A_IHOLD },
	  "OpenSent + NotifMsg: (deviation: no FSM Error answer to a NOTIFICATION) ConnectRetryCounter++, -> Idle" },
	{ S_SENT, FSM_EV_KEEPALIVE_MSG, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_OPENSENT), A_IHOLD },
	  "OpenSent + KeepAliveMsg: NOTIFICATION FSM Error / Unexpected Message in OpenSent (RFC 6608), -> Idle" },
	{ S_SENT, FSM_EV_UPDATE_MSG, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_OPENSENT), A_IHOLD },
	  "OpenSent + UpdateMsg: NOTIFICATION FSM Error / OpenSent (RFC 6608), -> Idle" },
	{ S_SENT, FSM_EV_UPDATE_ERR, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_OPENSENT), A_IHOLD },
	  "OpenSent + UpdateMsgErr: an UPDATE is unexpected: FSM Error / OpenSent, -> Idle" },
	{ S_SENT, FSM_EV_ROUTE_REFRESH_MSG, S_IDLE, CNT_INC, { DOWN_SENT(FSM_E, BGP_ERR_FSM_OPENSENT), A_IHOLD },
	  "OpenSent + RouteRefreshMsg: FSM Error / OpenSent (RFC 6608), -> Idle" },

	/* ---- OpenConfirm ---- */
	{ S_CONF, FSM_EV_MANUAL_START, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + ManualStart: ignored" },
	{ S_CONF, FSM_EV_MANUAL_STOP, S_IDLE, CNT_ZERO, { DOWN_CONF(CEASE, BGP_ERR_CEASE_ADMIN_SHUTDOWN) },
	  "OpenConfirm + ManualStop: NOTIFICATION Cease, release, drop TCP, ConnectRetryCounter = 0, -> Idle" },
	{ S_CONF, FSM_EV_AUTO_START, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + AutomaticStart: ignored" },
	{ S_CONF, FSM_EV_MANUAL_START_PASSIVE, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + ManualStart_with_Passive: ignored" },
	{ S_CONF, FSM_EV_AUTO_START_PASSIVE, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + AutomaticStart_with_Passive: ignored" },
	{ S_CONF, FSM_EV_AUTO_START_DAMP, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + AutomaticStart_with_Damp: ignored" },
	{ S_CONF, FSM_EV_AUTO_START_DAMP_PASSIVE, S_CONF, CNT_SAME, { { 0 } }, "OpenConfirm + AutomaticStart_with_Damp_and_Passive: ignored" },
	{ S_CONF, FSM_EV_AUTO_STOP, S_IDLE, CNT_INC, { DOWN_CONF(CEASE, 0) },
	  "OpenConfirm + AutomaticStop: NOTIFICATION Cease, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_CONNECT_RETRY_EXPIRES, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "OpenConfirm + ConnectRetryTimer_Expires (any other event): NOTIFICATION FSM Error, -> Idle" },
	{ S_CONF, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_INC,
	  { A_LOG, A_NOTIFY(BGP_ERR_HOLD, 0), A_STOP(T_KA), A_DROP, A_RELEASE, A_IHOLD },
	  "OpenConfirm + HoldTimer_Expires: NOTIFICATION Hold Timer Expired, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_KEEPALIVE_EXPIRES, S_CONF, CNT_SAME, { A_KA, A_START(T_KA, 30) },
	  "OpenConfirm + KeepaliveTimer_Expires: send KEEPALIVE, restart KeepaliveTimer, stay" },
	{ S_CONF, FSM_EV_IDLE_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "OpenConfirm + IdleHoldTimer_Expires (any other event): NOTIFICATION FSM Error, -> Idle" },
	{ S_CONF, FSM_EV_TCP_VALID, S_CONF, CNT_SAME, { { 0 } },
	  "OpenConfirm + TcpConnection_Valid: second connection tracked, stay" },
	{ S_CONF, FSM_EV_TCP_INVALID, S_CONF, CNT_SAME, { { 0 } },
	  "OpenConfirm + Tcp_CR_Invalid: ignored" },
	{ S_CONF, FSM_EV_TCP_CR_ACKED, S_CONF, CNT_SAME, { { 0 } },
	  "OpenConfirm + Tcp_CR_Acked: second connection tracked, stay" },
	{ S_CONF, FSM_EV_TCP_CONFIRMED, S_CONF, CNT_SAME, { { 0 } },
	  "OpenConfirm + TcpConnectionConfirmed: second connection tracked, stay" },
	{ S_CONF, FSM_EV_TCP_FAILS, S_IDLE, CNT_INC, { DOWN_CONF0, A_IHOLD },
	  "OpenConfirm + TcpConnectionFails: ConnectRetryTimer = 0, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_BGP_OPEN, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_OPENCONFIRM), A_IHOLD },
	  "OpenConfirm + BGPOpen on this connection: FSM Error / Unexpected Message in OpenConfirm (RFC 6608), -> Idle" },
	{ S_CONF, FSM_EV_HEADER_ERR, S_IDLE, CNT_INC, { DOWN_CONF(BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH), A_IHOLD },
	  "OpenConfirm + BGPHeaderErr: NOTIFICATION with the error, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_OPEN_ERR, S_IDLE, CNT_INC, { DOWN_CONF(BGP_ERR_OPEN, BGP_ERR_OPEN_OPTPARAM), A_IHOLD },
	  "OpenConfirm + BGPOpenMsgErr: NOTIFICATION with the error, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_INC, { DOWN_CONF(CEASE, BGP_ERR_CEASE_COLLISION), A_IHOLD },
	  "OpenConfirm + OpenCollisionDump: NOTIFICATION Cease (collision), ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_SAME, { DOWN_CONF0, A_IHOLD },
	  "OpenConfirm + NotifMsgVerErr: ConnectRetryTimer = 0, release, drop TCP, -> Idle (counter kept)" },
	{ S_CONF, FSM_EV_NOTIF, S_IDLE, CNT_INC, { DOWN_CONF0, A_IHOLD },
	  "OpenConfirm + NotifMsg: release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_CONF, FSM_EV_KEEPALIVE_MSG, S_ESTB, CNT_SAME, { A_START(T_HOLD, 90), A_ESTAB },
	  "OpenConfirm + KeepAliveMsg: restart HoldTimer, -> Established" },
	{ S_CONF, FSM_EV_UPDATE_MSG, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_OPENCONFIRM), A_IHOLD },
	  "OpenConfirm + UpdateMsg: FSM Error / Unexpected Message in OpenConfirm (RFC 6608), -> Idle" },
	{ S_CONF, FSM_EV_UPDATE_ERR, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_OPENCONFIRM), A_IHOLD },
	  "OpenConfirm + UpdateMsgErr (any other event): FSM Error / OpenConfirm, -> Idle" },
	{ S_CONF, FSM_EV_ROUTE_REFRESH_MSG, S_IDLE, CNT_INC, { DOWN_CONF(FSM_E, BGP_ERR_FSM_OPENCONFIRM), A_IHOLD },
	  "OpenConfirm + RouteRefreshMsg: FSM Error / OpenConfirm (RFC 6608), -> Idle" },

	/* ---- Established ---- */
	{ S_ESTB, FSM_EV_MANUAL_START, S_ESTB, CNT_SAME, { { 0 } }, "Established + ManualStart: ignored" },
	{ S_ESTB, FSM_EV_MANUAL_STOP, S_IDLE, CNT_ZERO, { DOWN_EST(CEASE, BGP_ERR_CEASE_ADMIN_SHUTDOWN) },
	  "Established + ManualStop: NOTIFICATION Cease, delete routes, release, drop TCP, ConnectRetryCounter = 0, -> Idle" },
	{ S_ESTB, FSM_EV_AUTO_START, S_ESTB, CNT_SAME, { { 0 } }, "Established + AutomaticStart: ignored" },
	{ S_ESTB, FSM_EV_MANUAL_START_PASSIVE, S_ESTB, CNT_SAME, { { 0 } }, "Established + ManualStart_with_Passive: ignored" },
	{ S_ESTB, FSM_EV_AUTO_START_PASSIVE, S_ESTB, CNT_SAME, { { 0 } }, "Established + AutomaticStart_with_Passive: ignored" },
	{ S_ESTB, FSM_EV_AUTO_START_DAMP, S_ESTB, CNT_SAME, { { 0 } }, "Established + AutomaticStart_with_Damp: ignored" },
	{ S_ESTB, FSM_EV_AUTO_START_DAMP_PASSIVE, S_ESTB, CNT_SAME, { { 0 } }, "Established + AutomaticStart_with_Damp_and_Passive: ignored" },
	{ S_ESTB, FSM_EV_AUTO_STOP, S_IDLE, CNT_INC, { DOWN_EST(CEASE, 0) },
	  "Established + AutomaticStop: NOTIFICATION Cease, delete routes, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_CONNECT_RETRY_EXPIRES, S_IDLE, CNT_INC, { DOWN_EST(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "Established + ConnectRetryTimer_Expires (any other event): NOTIFICATION FSM Error, delete routes, -> Idle" },
	{ S_ESTB, FSM_EV_HOLD_EXPIRES, S_IDLE, CNT_INC,
	  { A_LOG, A_NOTIFY(BGP_ERR_HOLD, 0), A_STOP(T_KA), A_PDOWN, A_DROP, A_RELEASE, A_IHOLD },
	  "Established + HoldTimer_Expires: NOTIFICATION Hold Timer Expired, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_KEEPALIVE_EXPIRES, S_ESTB, CNT_SAME, { A_KA, A_START(T_KA, 30) },
	  "Established + KeepaliveTimer_Expires: send KEEPALIVE, restart KeepaliveTimer, stay" },
	{ S_ESTB, FSM_EV_IDLE_HOLD_EXPIRES, S_IDLE, CNT_INC, { DOWN_EST(FSM_E, BGP_ERR_FSM_UNSPEC), A_IHOLD },
	  "Established + IdleHoldTimer_Expires (any other event): NOTIFICATION FSM Error, -> Idle" },
	{ S_ESTB, FSM_EV_TCP_VALID, S_ESTB, CNT_SAME, { { 0 } },
	  "Established + TcpConnection_Valid: second connection tracked, stay" },
	{ S_ESTB, FSM_EV_TCP_INVALID, S_ESTB, CNT_SAME, { { 0 } },
	  "Established + Tcp_CR_Invalid: ignored" },
	{ S_ESTB, FSM_EV_TCP_CR_ACKED, S_ESTB, CNT_SAME, { { 0 } },
	  "Established + Tcp_CR_Acked: second connection tracked until it sends an OPEN, stay" },
	{ S_ESTB, FSM_EV_TCP_CONFIRMED, S_ESTB, CNT_SAME, { { 0 } },
	  "Established + TcpConnectionConfirmed: second connection tracked, stay" },
	{ S_ESTB, FSM_EV_TCP_FAILS, S_IDLE, CNT_INC, { DOWN_EST0, A_IHOLD },
	  "Established + TcpConnectionFails: ConnectRetryTimer = 0, delete routes, release, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_BGP_OPEN, S_IDLE, CNT_INC, { DOWN_EST(FSM_E, BGP_ERR_FSM_ESTABLISHED), A_IHOLD },
	  "Established + BGPOpen on this connection: FSM Error / Unexpected Message in Established (RFC 6608), -> Idle" },
	{ S_ESTB, FSM_EV_HEADER_ERR, S_IDLE, CNT_INC, { DOWN_EST(BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH), A_IHOLD },
	  "Established + BGPHeaderErr: (deviation, §6.1) NOTIFICATION Message Header Error, delete routes, -> Idle" },
	{ S_ESTB, FSM_EV_OPEN_ERR, S_IDLE, CNT_INC, { DOWN_EST(FSM_E, BGP_ERR_FSM_ESTABLISHED), A_IHOLD },
	  "Established + BGPOpenMsgErr (any other event): an OPEN is unexpected: FSM Error / Established, -> Idle" },
	{ S_ESTB, FSM_EV_COLLISION_DUMP, S_IDLE, CNT_INC, { DOWN_EST(CEASE, BGP_ERR_CEASE_COLLISION), A_IHOLD },
	  "Established + OpenCollisionDump: NOTIFICATION Cease (collision), delete routes, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_NOTIF_VERSION_ERR, S_IDLE, CNT_INC, { DOWN_EST0, A_IHOLD },
	  "Established + NotifMsgVerErr: delete routes, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_NOTIF, S_IDLE, CNT_INC, { DOWN_EST0, A_IHOLD },
	  "Established + NotifMsg: delete routes, release, drop TCP, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_KEEPALIVE_MSG, S_ESTB, CNT_SAME, { A_START(T_HOLD, 90) },
	  "Established + KeepAliveMsg: restart HoldTimer, stay" },
	{ S_ESTB, FSM_EV_UPDATE_MSG, S_ESTB, CNT_SAME, { A_UPD, A_START(T_HOLD, 90) },
	  "Established + UpdateMsg: process the message, restart HoldTimer, stay" },
	{ S_ESTB, FSM_EV_UPDATE_ERR, S_IDLE, CNT_INC, { DOWN_EST(BGP_ERR_UPDATE, BGP_ERR_UPD_ATTRLIST), A_IHOLD },
	  "Established + UpdateMsgErr: NOTIFICATION Update Message Error, delete routes, ConnectRetryCounter++, -> Idle" },
	{ S_ESTB, FSM_EV_ROUTE_REFRESH_MSG, S_ESTB, CNT_SAME, { A_RR, A_START(T_HOLD, 90) },
	  "Established + RouteRefreshMsg (RFC 2918): process, restart HoldTimer, stay" },
};

static void
print_actions(const struct fsm_out *out)
{
	unsigned i;

	for (i = 0; i < out->n; i++)
		print_message("    [%u] %s timer=%d secs=%u code=%u/%u\n", i,
		    fsm_act_name(out->act[i].type), out->act[i].timer,
		    out->act[i].secs, out->act[i].code, out->act[i].subcode);
}

static void
run_case(const struct fsm_case *c)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;
	unsigned i, n;

	test_cfg(&cfg);
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, c->from);
	f.connect_retry_counter = CNT_START;
	event_for(c->ev, &po, &ev);
	step(&f, &sh, &ev, &out);

	for (n = 0; c->acts[n].type != 0; n++)
		;
	if (f.state != c->to || out.n != n) {
		print_message("case: %s\n  got state %s, %u actions:\n", c->what,
		    fsm_state_name(f.state), out.n);
		print_actions(&out);
	}
	assert_int_equal(f.state, c->to);
	assert_int_equal(out.n, n);
	for (i = 0; i < n; i++) {
		const struct fsm_action *a = &out.act[i];
		const struct exp_act *e = &c->acts[i];

		if ((int)a->type != e->type)
			print_message("case: %s: action %u is %s\n", c->what, i,
			    fsm_act_name(a->type));
		assert_int_equal(a->type, e->type);
		if (e->type == FSM_ACT_TIMER_START) {
			assert_int_equal(a->timer, e->a);
			assert_int_equal(a->secs, e->b);
		} else if (e->type == FSM_ACT_TIMER_STOP) {
			assert_int_equal(a->timer, e->a);
		} else if (e->type == FSM_ACT_SEND_NOTIFY) {
			assert_int_equal(a->code, e->a);
			assert_int_equal(a->subcode, e->b);
		}
	}
	switch (c->cnt) {
	case CNT_SAME: assert_int_equal(f.connect_retry_counter, CNT_START); break;
	case CNT_INC: assert_int_equal(f.connect_retry_counter, CNT_START + 1); break;
	case CNT_ZERO: assert_int_equal(f.connect_retry_counter, 0); break;
	}
}

static void
test_fsm_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fsm_cases) / sizeof(fsm_cases[0]); i++)
		run_case(&fsm_cases[i]);
}

/* Every state × every event has exactly one row. */
static void
test_fsm_table_complete(void **state)
{
	int s, e, hits;
	size_t i;

	(void)state;
	for (s = 0; s < FSM_ST_MAX; s++) {
		for (e = 0; e < FSM_EV_MAX; e++) {
			if (fsm_event_name(e) == NULL)
				continue;
			hits = 0;
			for (i = 0; i < sizeof(fsm_cases) / sizeof(fsm_cases[0]); i++)
				if ((int)fsm_cases[i].from == s && (int)fsm_cases[i].ev == e)
					hits++;
			if (hits != 1)
				print_message("state %s event %s: %d rows\n",
				    fsm_state_name(s), fsm_event_name(e), hits);
			assert_int_equal(hits, 1);
		}
	}
	/* 6 states x 27 events (26 of RFC 4271 without DelayOpen + ROUTE-REFRESH) */
	assert_int_equal(sizeof(fsm_cases) / sizeof(fsm_cases[0]), 6 * 27);
}

/* ---- FSM: scenarios outside the table ------------------------------------------ */

static void
test_fsm_bad_events(void **state)
{
	static const int bad[] = { 0, 12, 20, FSM_EV_MAX, 1000 };
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;
	size_t i;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_OPENSENT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		event_for(FSM_EV_KEEPALIVE_MSG, &po, &ev);
		ev.type = (enum fsm_event_type)bad[i];
		assert_int_equal(fsm_step(&f, &ev, &out), -1);
		assert_int_equal(f.state, FSM_ST_OPENSENT);
	}
	/* events that need data, without it */
	event_for(FSM_EV_BGP_OPEN, NULL, &ev);
	assert_int_equal(fsm_step(&f, &ev, &out), -1);
	event_for(FSM_EV_HEADER_ERR, &po, &ev);
	ev.err = NULL;
	assert_int_equal(fsm_step(&f, &ev, &out), -1);
	event_for(FSM_EV_UPDATE_ERR, &po, &ev);
	ev.err = NULL;
	assert_int_equal(fsm_step(&f, &ev, &out), -1);
	assert_int_equal(f.state, FSM_ST_OPENSENT);
	assert_int_equal(f.timers, 1u << FSM_TIMER_HOLD);

	/* configurations that cannot work */
	{
		const char *why = "x";

		assert_int_equal(fsm_cfg_check(&cfg, &why), 0);
		assert_null(why);
		cfg.open.hold_time = 2;
		assert_int_equal(fsm_init(&f, &cfg), -1);
		assert_int_equal(fsm_cfg_check(&cfg, &why), -1);
		assert_non_null(why);
		test_cfg(&cfg);
		cfg.open.router_id = 0;
		assert_int_equal(fsm_init(&f, &cfg), -1);
		test_cfg(&cfg);
		cfg.connect_retry_time = 0;
		assert_int_equal(fsm_cfg_check(&cfg, &why), -1);
		test_cfg(&cfg);
		cfg.open_hold_time = 2;
		assert_int_equal(fsm_cfg_check(&cfg, &why), -1);
		test_cfg(&cfg);
		cfg.idle_hold_time = 0;
		assert_int_equal(fsm_cfg_check(&cfg, &why), -1);
		cfg.allow_auto_start = false;
		assert_int_equal(fsm_cfg_check(&cfg, &why), 0);
	}
}

/* A refused OPEN ends in its NOTIFICATION, with its data. */
static void
test_fsm_open_refused(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_OPENSENT);
	po.version = 3;
	event_for(FSM_EV_BGP_OPEN, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_IDLE);
	assert_int_equal(out.act[1].type, FSM_ACT_SEND_NOTIFY);
	assert_int_equal(out.act[1].code, BGP_ERR_OPEN);
	assert_int_equal(out.act[1].subcode, BGP_ERR_OPEN_VERSION);
	assert_int_equal(out.act[1].data_len, 2);
	assert_ptr_equal(out.act[1].data, out.buf);
	assert_int_equal(out.buf[0], 0);
	assert_int_equal(out.buf[1], 4);
	assert_int_equal(f.connect_retry_counter, 1);

	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_OPENSENT);
	po.asn = po.my_as = 65002;
	event_for(FSM_EV_BGP_OPEN, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_IDLE);
	assert_int_equal(out.act[1].subcode, BGP_ERR_OPEN_PEER_AS);
	assert_int_equal(out.act[1].data_len, 0);
	assert_null(out.act[1].data);
}

/* ManualStop may carry an RFC 8203 shutdown communication. */
static void
test_fsm_stop_message(void **state)
{
	static const uint8_t msg[] = { 5, 'b', 'y', 'e', '!', '!' };
	const struct bgp_error shut = {
		.code = BGP_ERR_CEASE, .subcode = BGP_ERR_CEASE_ADMIN_RESET,
		.data = msg, .data_len = sizeof(msg),
	};
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_ESTABLISHED);
	event_for(FSM_EV_MANUAL_STOP, &po, &ev);
	ev.err = &shut;
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.act[1].type, FSM_ACT_SEND_NOTIFY);
	assert_int_equal(out.act[1].subcode, BGP_ERR_CEASE_ADMIN_RESET);
	assert_ptr_equal(out.act[1].data, msg);
	assert_int_equal(out.act[1].data_len, sizeof(msg));
	/* no automatic restart after an operator's stop */
	assert_int_equal(f.timers, 0);
}

/* Hold time 0 (RFC 4271 §4.2): no HoldTimer and no KeepaliveTimer. */
static void
test_fsm_hold_zero(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	po.hold_time = 0;
	reach(&f, &sh, &cfg, &po, FSM_ST_OPENSENT);
	event_for(FSM_EV_BGP_OPEN, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_OPENCONFIRM);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.act[0].type, FSM_ACT_SEND_KEEPALIVE);
	assert_int_equal(out.act[1].type, FSM_ACT_TIMER_STOP);
	assert_int_equal(out.act[1].timer, FSM_TIMER_HOLD);
	assert_int_equal(f.nego.hold_time, 0);
	assert_int_equal(f.nego.keepalive, 0);
	drive(&f, &sh, &po, FSM_EV_KEEPALIVE_MSG, FSM_ST_ESTABLISHED);
	event_for(FSM_EV_UPDATE_MSG, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].type, FSM_ACT_PROCESS_UPDATE);
	assert_int_equal(f.timers, 0);
}

/* Strict passive: never initiate a connection. */
static void
test_fsm_strict_passive(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	cfg.passive = true;
	peer_open(&po);
	assert_int_equal(fsm_init(&f, &cfg), 0);
	sh.running = 0;
	event_for(FSM_EV_MANUAL_START, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_ACTIVE);
	assert_int_equal(out.n, 0);
	drive(&f, &sh, &po, FSM_EV_TCP_CONFIRMED, FSM_ST_OPENSENT);
	event_for(FSM_EV_TCP_FAILS, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_ACTIVE);
	assert_int_equal(out.n, 2); /* stop HoldTimer, drop TCP: no ConnectRetryTimer */
	/* after a failure the restart is passive too */
	event_for(FSM_EV_HOLD_EXPIRES, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_IDLE);
	drive(&f, &sh, &po, FSM_EV_IDLE_HOLD_EXPIRES, FSM_ST_ACTIVE);
	assert_int_equal(f.timers, 0);
}

/* Without AllowAutomaticStart nothing restarts by itself. */
static void
test_fsm_no_auto_restart(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;
	unsigned i;

	(void)state;
	test_cfg(&cfg);
	cfg.allow_auto_start = false;
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_ESTABLISHED);
	event_for(FSM_EV_HOLD_EXPIRES, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_IDLE);
	for (i = 0; i < out.n; i++)
		assert_int_not_equal(out.act[i].type, FSM_ACT_TIMER_START);
	assert_int_equal(f.timers, 0);
}

/* A pending automatic restart is cancelled by a stop, superseded by a
 * start, and not re-armed by a second damped start. */
static void
test_fsm_idle_hold_pending(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	reach(&f, &sh, &cfg, &po, FSM_ST_CONNECT);
	drive(&f, &sh, &po, FSM_EV_TCP_FAILS, FSM_ST_IDLE);
	assert_int_equal(f.timers, 1u << FSM_TIMER_IDLE_HOLD);

	event_for(FSM_EV_AUTO_START_DAMP, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.n, 0);

	event_for(FSM_EV_MANUAL_STOP, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].type, FSM_ACT_TIMER_STOP);
	assert_int_equal(out.act[0].timer, FSM_TIMER_IDLE_HOLD);
	assert_int_equal(f.state, FSM_ST_IDLE);

	/* armed again, then a ManualStart goes now and stops it */
	event_for(FSM_EV_AUTO_START_DAMP_PASSIVE, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.act[0].type, FSM_ACT_TIMER_START);
	event_for(FSM_EV_MANUAL_START, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.state, FSM_ST_CONNECT);
	assert_int_equal(out.act[0].type, FSM_ACT_TIMER_STOP);
	assert_int_equal(out.act[0].timer, FSM_TIMER_IDLE_HOLD);

	/* without damping, the damped starts start at once */
	cfg.damp_oscillations = false;
	assert_int_equal(fsm_init(&f, &cfg), 0);
	sh.running = 0;
	drive(&f, &sh, &po, FSM_EV_AUTO_START_DAMP_PASSIVE, FSM_ST_ACTIVE);
}

/* A flapping peer: ConnectRetryTimer and IdleHoldTimer grow, capped; a stable
 * Established session forgives. */
static void
test_fsm_damping(void **state)
{
	static const uint32_t want_ih[] = { 5, 10, 20, 40, 80, 160, 300, 300 };
	static const uint32_t want_cr[] = { 30, 60, 120, 240, 300, 300, 300, 300 };
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;
	unsigned i;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po);
	assert_int_equal(fsm_init(&f, &cfg), 0);
	sh.running = 0;
	event_for(FSM_EV_AUTO_START, &po, &ev);
	for (i = 0; i < sizeof(want_ih) / sizeof(want_ih[0]); i++) {
		step(&f, &sh, &ev, &out);
		assert_int_equal(f.state, FSM_ST_CONNECT);
		assert_int_equal(out.act[0].type, FSM_ACT_TIMER_START);
		assert_int_equal(out.act[0].timer, FSM_TIMER_CONNECT_RETRY);
		assert_int_equal(out.act[0].secs, want_cr[i]);
		event_for(FSM_EV_TCP_FAILS, &po, &ev);
		step(&f, &sh, &ev, &out);
		assert_int_equal(out.act[out.n - 1].timer, FSM_TIMER_IDLE_HOLD);
		assert_int_equal(out.act[out.n - 1].secs, want_ih[i]);
		event_for(FSM_EV_IDLE_HOLD_EXPIRES, &po, &ev);
	}
	step(&f, &sh, &ev, &out);
	drive(&f, &sh, &po, FSM_EV_TCP_CONFIRMED, FSM_ST_OPENSENT);
	drive(&f, &sh, &po, FSM_EV_BGP_OPEN, FSM_ST_OPENCONFIRM);
	drive(&f, &sh, &po, FSM_EV_KEEPALIVE_MSG, FSM_ST_ESTABLISHED);
	assert_int_equal(f.attempts, 0); /* Established: connect backoff reset */
	assert_int_equal(fsm_note_uptime(&f, 179), 0);
	assert_int_equal(f.idle_hold_cur, 300);
	assert_int_equal(fsm_note_uptime(&f, 180), 1);
	assert_int_equal(f.idle_hold_cur, 5);
	assert_int_equal(fsm_note_uptime(&f, 500), 0); /* nothing left to forgive */

	/* without the caller's clock: KeepaliveTimer periods (30 s) count */
	f.idle_hold_cur = 300;
	f.up_secs = 0;
	for (i = 0; i < 6; i++) {
		assert_int_equal(f.idle_hold_cur, 300); /* 150 s < 180 s: not yet */
		event_for(FSM_EV_KEEPALIVE_EXPIRES, &po, &ev);
		step(&f, &sh, &ev, &out);
	}
	assert_int_equal(f.idle_hold_cur, 5);
	event_for(FSM_EV_NOTIF, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(out.act[out.n - 1].secs, 5);
	/* not Established: no forgiveness */
	f.idle_hold_cur = 40;
	assert_int_equal(fsm_note_uptime(&f, 1000), 0);
	assert_int_equal(f.idle_hold_cur, 40);
	/* ManualStart forgives */
	event_for(FSM_EV_MANUAL_START, &po, &ev);
	step(&f, &sh, &ev, &out);
	assert_int_equal(f.idle_hold_cur, 5);
	assert_int_equal(out.act[1].secs, 30);
}

/* Long random event sequences (fixed seed): every step keeps the invariants
 * that step() checks, whatever came before, for each configuration flavour. */
static void
test_fsm_random_walk(void **state)
{
	static const enum fsm_event_type evs[] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19,
		21, 22, 23, 24, 25, 26, 27, 28, 29,
	};
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm f;
	struct shadow sh;
	struct fsm_event ev;
	struct fsm_out out;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned flavour, i, seen = 0;
	enum fsm_timer t;

	(void)state;
	peer_open(&po);
	for (flavour = 0; flavour < 8; flavour++) {
		test_cfg(&cfg);
		cfg.passive = flavour & 1;
		cfg.allow_auto_start = flavour & 2;
		cfg.damp_oscillations = flavour & 4;
		po.hold_time = flavour == 5 ? 0 : 90;
		assert_int_equal(fsm_init(&f, &cfg), 0);
		sh.running = 0;
		for (i = 0; i < 20000; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			event_for(evs[x % (sizeof(evs) / sizeof(evs[0]))], &po, &ev);
			ev.rnd = (uint32_t)(x >> 32);
			/* a timer expires only if it runs: bias towards real life */
			if (is_expiry(ev.type, &t) && !(sh.running & (1u << t)) && (x & 0x300))
				continue;
			step(&f, &sh, &ev, &out);
			assert_true(out.n <= FSM_MAX_ACTIONS);
			assert_true(f.idle_hold_cur >= cfg.idle_hold_time);
			assert_true(f.idle_hold_cur <= cfg.idle_hold_max);
			seen |= 1u << f.state;
		}
	}
	assert_int_equal(seen, (1u << FSM_ST_MAX) - 1); /* every state visited */
}

/* ---- OPEN negotiation ------------------------------------------------------------ */

struct nego_case {
	const char *what;
	struct fsm_open_cfg cfg;
	struct bgp_open open;
	int subcode; /* -1: accepted */
	uint8_t data[FSM_NOTIFY_DATA_MAX];
	uint16_t data_len;
	/* when accepted */
	uint32_t peer_as;
	uint16_t hold, ka;
	bool as4, ibgp, ext, rr, err, gr;
	uint8_t af[BGP_AF_MAX], rx[BGP_AF_MAX], tx[BGP_AF_MAX];
};

#define CFG_BASE .local_as = 65515, .peer_as = 65001, .router_id = LOCAL_ID, \
	.hold_time = 180, .keepalive = 60, \
	.caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ERR | BGP_CAPF_EXTMSG, \
	.af_offer = { 1, 1 }, .gr_restart_time = 120
#define OPEN_BASE .version = 4, .my_as = 65001, .asn = 65001, .hold_time = 90, \
	.bgp_id = PEER_ID, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH, .mp = { 1, 0 }
#define OK_BASE .subcode = -1, .peer_as = 65001, .hold = 90, .ka = 30, .as4 = true, \
	.rr = true, .af = { 1, 0 }

static const struct nego_case nego_cases[] = {
	{ "plain eBGP peer: hold = min(180, 90), keepalive = hold/3, IPv4 only, AS4, route refresh",
	  { CFG_BASE }, { OPEN_BASE }, OK_BASE },
	{ "keepalive configured lower than hold/3 wins",
	  { CFG_BASE, .keepalive = 10 }, { OPEN_BASE }, OK_BASE, .ka = 10 },
	{ "keepalive configured higher than hold/3 is lowered to hold/3",
	  { CFG_BASE, .keepalive = 100 }, { OPEN_BASE, .hold_time = 240 }, OK_BASE, .hold = 180, .ka = 60 },
	{ "peer hold 0: no keepalives (RFC 4271 §4.2)",
	  { CFG_BASE }, { OPEN_BASE, .hold_time = 0 }, OK_BASE, .hold = 0, .ka = 0 },
	{ "peer hold 3: smallest legal",
	  { CFG_BASE }, { OPEN_BASE, .hold_time = 3 }, OK_BASE, .hold = 3, .ka = 1 },
	{ "peer hold 1: Unacceptable Hold Time",
	  { CFG_BASE }, { OPEN_BASE, .hold_time = 1 }, .subcode = BGP_ERR_OPEN_HOLDTIME },
	{ "peer hold 2: Unacceptable Hold Time",
	  { CFG_BASE }, { OPEN_BASE, .hold_time = 2 }, .subcode = BGP_ERR_OPEN_HOLDTIME },
	{ "version 3: Unsupported Version Number, data = our version (2 octets)",
	  { CFG_BASE }, { OPEN_BASE, .version = 3 }, .subcode = BGP_ERR_OPEN_VERSION,
	  .data = { 0, 4 }, .data_len = 2 },
	{ "version 5: Unsupported Version Number",
	  { CFG_BASE }, { OPEN_BASE, .version = 5 }, .subcode = BGP_ERR_OPEN_VERSION,
	  .data = { 0, 4 }, .data_len = 2 },
	{ "wrong peer AS: Bad Peer AS",
	  { CFG_BASE }, { OPEN_BASE, .my_as = 65002, .asn = 65002 }, .subcode = BGP_ERR_OPEN_PEER_AS },
	{ "AS 0 in the 2-octet field: Bad Peer AS (RFC 7607)",
	  { CFG_BASE, .peer_as = 0 }, { OPEN_BASE, .my_as = 0, .caps = BGP_CAPF_MP }, .subcode = BGP_ERR_OPEN_PEER_AS },
	{ "AS 0 in the 4-octet AS capability: Bad Peer AS (RFC 7607)",
	  { CFG_BASE, .peer_as = 0 }, { OPEN_BASE, .asn = 0 }, .subcode = BGP_ERR_OPEN_PEER_AS },
	{ "any peer AS accepted when none configured",
	  { CFG_BASE, .peer_as = 0 }, { OPEN_BASE, .my_as = 64999, .asn = 64999 }, OK_BASE, .peer_as = 64999 },
	{ "4-octet peer AS via the capability, AS_TRANS in my_as",
	  { CFG_BASE, .peer_as = 4200000001u }, { OPEN_BASE, .my_as = BGP_AS_TRANS, .asn = 4200000001u },
	  OK_BASE, .peer_as = 4200000001u },
	{ "AS_TRANS without the AS4 capability: Bad Peer AS",
	  { CFG_BASE, .peer_as = 0 }, { OPEN_BASE, .my_as = BGP_AS_TRANS, .asn = BGP_AS_TRANS, .caps = BGP_CAPF_MP },
	  .subcode = BGP_ERR_OPEN_PEER_AS },
	{ "AS_TRANS without AS4 is fine when configured as AS_TRANS (an OLD speaker behind)",
	  { CFG_BASE, .peer_as = BGP_AS_TRANS }, { OPEN_BASE, .my_as = BGP_AS_TRANS, .asn = BGP_AS_TRANS, .caps = BGP_CAPF_MP },
	  OK_BASE, .peer_as = BGP_AS_TRANS, .as4 = false, .rr = false },
	{ "we are 2-octet only: the peer's AS is the 2-octet field, AS4 not negotiated",
	  { CFG_BASE, .two_octet_asn_only = true }, { OPEN_BASE }, OK_BASE, .as4 = false },
	{ "we are 2-octet only, config names the peer's 4-octet AS it also sent in the capability",
	  { CFG_BASE, .two_octet_asn_only = true, .peer_as = 4200000001u },
	  { OPEN_BASE, .my_as = BGP_AS_TRANS, .asn = 4200000001u }, OK_BASE, .as4 = false, .peer_as = 4200000001u },
	{ "we do not offer AS4: not negotiated even if the peer offers it",
	  { CFG_BASE, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH }, { OPEN_BASE }, OK_BASE, .as4 = false },
	{ "BGP identifier 0: Bad BGP Identifier (RFC 6286 §2.2)",
	  { CFG_BASE }, { OPEN_BASE, .bgp_id = 0 }, .subcode = BGP_ERR_OPEN_BGPID },
	{ "eBGP peer with our BGP identifier: allowed (RFC 6286 §2.2)",
	  { CFG_BASE }, { OPEN_BASE, .bgp_id = LOCAL_ID }, OK_BASE },
	{ "iBGP peer with our BGP identifier: Bad BGP Identifier (RFC 6286 §2.2)",
	  { CFG_BASE, .peer_as = 65515 }, { OPEN_BASE, .my_as = 65515, .asn = 65515, .bgp_id = LOCAL_ID },
	  .subcode = BGP_ERR_OPEN_BGPID },
	{ "iBGP peer: ibgp set",
	  { CFG_BASE, .peer_as = 65515 }, { OPEN_BASE, .my_as = 65515, .asn = 65515 },
	  OK_BASE, .peer_as = 65515, .ibgp = true },
	{ "peer without any capability: IPv4 unicast implied (RFC 4760 §8), no AS4, no refresh",
	  { CFG_BASE }, { OPEN_BASE, .caps = 0, .mp = { 0, 0 } }, OK_BASE, .as4 = false, .rr = false },
	{ "dual stack, extended messages, enhanced route refresh",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_ERR | BGP_CAPF_EXTMSG,
	  .mp = { 1, 1 } }, OK_BASE, .af = { 1, 1 }, .ext = true, .err = true },
	{ "IPv6-only peer: IPv4 not negotiated",
	  { CFG_BASE }, { OPEN_BASE, .mp = { 0, 1 } }, OK_BASE, .af = { 0, 1 } },
	{ "pre-standard route refresh (code 128) counts as route refresh",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH_OLD }, OK_BASE },
	{ "enhanced route refresh needs route refresh",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_ERR }, OK_BASE, .rr = false },
	{ "graceful restart: both sides",
	  { CFG_BASE, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_GR },
	  { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_GR }, OK_BASE, .gr = true },
	{ "graceful restart offered by the peer only: not negotiated",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_GR }, OK_BASE },
	{ "ADD-PATH (RFC 7911): we receive when we said Receive and the peer Send, and vice versa",
	  { CFG_BASE, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ADDPATH,
	    .addpath_offer = { BGP_ADDPATH_RECV | BGP_ADDPATH_SEND, BGP_ADDPATH_RECV } },
	  { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_ADDPATH,
	    .mp = { 1, 1 }, .addpath = { BGP_ADDPATH_SEND, BGP_ADDPATH_RECV } },
	  OK_BASE, .af = { 1, 1 }, .rx = { 1, 0 }, .tx = { 0, 0 } },
	{ "ADD-PATH both ways on IPv4",
	  { CFG_BASE, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ADDPATH,
	    .addpath_offer = { BGP_ADDPATH_RECV | BGP_ADDPATH_SEND, 0 } },
	  { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_ADDPATH,
	    .addpath = { BGP_ADDPATH_SEND | BGP_ADDPATH_RECV, 0 } },
	  OK_BASE, .rx = { 1, 0 }, .tx = { 1, 0 } },
	{ "ADD-PATH: we offer Send only, the peer both: we send, we do not receive",
	  { CFG_BASE, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ADDPATH,
	    .addpath_offer = { BGP_ADDPATH_SEND, 0 } },
	  { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_ADDPATH,
	    .addpath = { BGP_ADDPATH_SEND | BGP_ADDPATH_RECV, 0 } },
	  OK_BASE, .rx = { 0, 0 }, .tx = { 1, 0 } },
	{ "ADD-PATH not offered by us: ignored",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_ADDPATH,
	    .addpath = { BGP_ADDPATH_SEND | BGP_ADDPATH_RECV, 0 } }, OK_BASE },
	{ "required AS4 missing: Unsupported Capability, data = our AS4 capability (RFC 5492 §5)",
	  { CFG_BASE, .caps_require = BGP_CAPF_AS4 }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_RREFRESH },
	  .subcode = BGP_ERR_OPEN_CAPA, .data = { 65, 4, 0x00, 0x00, 0xff, 0xeb }, .data_len = 6 },
	{ "required route refresh and extended messages missing: both listed",
	  { CFG_BASE, .caps_require = BGP_CAPF_RREFRESH | BGP_CAPF_EXTMSG },
	  { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 },
	  .subcode = BGP_ERR_OPEN_CAPA, .data = { 2, 0, 6, 0 }, .data_len = 4 },
	{ "required multiprotocol: the missing IPv6 family listed (AFI 2, SAFI 1)",
	  { CFG_BASE, .caps_require = BGP_CAPF_MP }, { OPEN_BASE },
	  .subcode = BGP_ERR_OPEN_CAPA, .data = { 1, 4, 0, 2, 0, 1 }, .data_len = 6 },
	{ "required capability present: accepted",
	  { CFG_BASE, .caps_require = BGP_CAPF_AS4 | BGP_CAPF_RREFRESH }, { OPEN_BASE }, OK_BASE },
	{ "unknown capabilities are ignored (RFC 5492 §3)",
	  { CFG_BASE }, { OPEN_BASE, .caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH | BGP_CAPF_FQDN,
	  .n_unknown = 1, .unknown = { { .code = 200, .len = 3 } } }, OK_BASE },
	{ "version checked before AS (RFC 4271 §6.2 order)",
	  { CFG_BASE }, { OPEN_BASE, .version = 3, .my_as = 1, .asn = 1, .hold_time = 1 },
	  .subcode = BGP_ERR_OPEN_VERSION, .data = { 0, 4 }, .data_len = 2 },
	{ "AS checked before BGP identifier",
	  { CFG_BASE }, { OPEN_BASE, .my_as = 1, .asn = 1, .bgp_id = 0 }, .subcode = BGP_ERR_OPEN_PEER_AS },
};

static void
test_nego_table(void **state)
{
	struct fsm_nego n;
	struct fsm_notify err;
	size_t i;
	int r, af;

	(void)state;
	for (i = 0; i < sizeof(nego_cases) / sizeof(nego_cases[0]); i++) {
		const struct nego_case *c = &nego_cases[i];

		print_message("nego: %s\n", c->what);
		r = fsm_open_negotiate(&c->cfg, &c->open, &n, &err);
		if (c->subcode >= 0) {
			assert_int_equal(r, -1);
			assert_int_equal(err.code, BGP_ERR_OPEN);
			assert_int_equal(err.subcode, c->subcode);
			assert_non_null(err.reason);
			assert_int_equal(err.data_len, c->data_len);
			assert_memory_equal(err.data, c->data, c->data_len > 0 ? c->data_len : 1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(n.peer_as, c->peer_as);
		assert_int_equal(n.peer_id, c->open.bgp_id);
		assert_int_equal(n.hold_time, c->hold);
		assert_int_equal(n.keepalive, c->ka);
		assert_int_equal(n.sess.as4, c->as4);
		assert_int_equal(n.sess.ibgp, c->ibgp);
		assert_int_equal(n.sess.ext_msg, c->ext);
		assert_int_equal(n.rrefresh, c->rr);
		assert_int_equal(n.enh_rrefresh, c->err);
		assert_int_equal(n.gr, c->gr);
		for (af = 0; af < BGP_AF_MAX; af++) {
			assert_int_equal(n.sess.af[af], c->af[af]);
			assert_int_equal(n.sess.addpath_rx[af], c->rx[af]);
			assert_int_equal(n.sess.addpath_tx[af], c->tx[af]);
		}
	}
}

static void
test_open_build(void **state)
{
	struct fsm_open_cfg c;
	struct bgp_open o;
	const char *why;

	(void)state;
	fsm_open_cfg_defaults(&c);
	c.router_id = LOCAL_ID;
	assert_int_equal(fsm_open_cfg_check(&c, &why), 0);
	assert_null(why);
	fsm_open_build(&c, &o);
	assert_int_equal(o.version, 4);
	assert_int_equal(o.my_as, 65515);
	assert_int_equal(o.asn, 65515);
	assert_int_equal(o.hold_time, 180);
	assert_int_equal(o.bgp_id, LOCAL_ID);
	assert_true(o.caps & BGP_CAPF_AS4);
	assert_int_equal(o.mp[BGP_AF_IPV4], 1);
	assert_int_equal(o.mp[BGP_AF_IPV6], 1);

	/* RFC 6793 §4.1: AS_TRANS in the 2-octet field */
	c.local_as = 4200000000u;
	fsm_open_build(&c, &o);
	assert_int_equal(o.my_as, BGP_AS_TRANS);
	assert_int_equal(o.asn, 4200000000u);

	/* our own OPEN, seen from the other side, negotiates with itself */
	{
		struct fsm_open_cfg peer = c;
		struct fsm_nego n;
		struct fsm_notify err;

		peer.local_as = 65001;
		peer.peer_as = 4200000000u;
		peer.router_id = PEER_ID;
		assert_int_equal(fsm_open_negotiate(&peer, &o, &n, &err), 0);
		assert_int_equal(n.peer_as, 4200000000u);
		assert_true(n.sess.as4 && n.sess.ext_msg && n.enh_rrefresh);
		assert_int_equal(n.sess.af[BGP_AF_IPV6], 1);
	}

	c.local_as = 65515;
	c.two_octet_asn_only = true;
	fsm_open_build(&c, &o);
	assert_false(o.caps & BGP_CAPF_AS4);

	/* unusable configurations */
	fsm_open_cfg_defaults(&c);
	c.router_id = LOCAL_ID;
	c.local_as = 0;
	assert_int_equal(fsm_open_cfg_check(&c, &why), -1);
	assert_non_null(why);
	c.local_as = BGP_AS_TRANS;
	assert_int_equal(fsm_open_cfg_check(&c, NULL), -1);
	c.local_as = 4200000000u;
	c.two_octet_asn_only = true;
	assert_int_equal(fsm_open_cfg_check(&c, NULL), -1);
	fsm_open_cfg_defaults(&c);
	c.router_id = LOCAL_ID;
	c.hold_time = 2;
	assert_int_equal(fsm_open_cfg_check(&c, NULL), -1);
	c.hold_time = 0;
	assert_int_equal(fsm_open_cfg_check(&c, NULL), 0);
	c.af_offer[0] = c.af_offer[1] = 0;
	assert_int_equal(fsm_open_cfg_check(&c, NULL), -1);
}

/* Both sides of a session, through the codec's wire format: A's OPEN is
 * built, encoded, decoded and judged by B, and the other way round; the two
 * verdicts must mirror each other. */
struct pair_case {
	const char *what;
	struct fsm_open_cfg a, b;
	uint16_t hold, ka_a, ka_b;
	bool as4, ext, rr, err, gr;
	uint8_t af[BGP_AF_MAX];
	uint8_t a_tx[BGP_AF_MAX], a_rx[BGP_AF_MAX]; /* B's are the mirror */
};

#define A_ALL (BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ERR | \
	BGP_CAPF_EXTMSG | BGP_CAPF_GR | BGP_CAPF_ADDPATH)
#define A_BASE .local_as = 65515, .peer_as = 65001, .router_id = LOCAL_ID, \
	.hold_time = 180, .keepalive = 60, \
	.caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | BGP_CAPF_ERR | BGP_CAPF_EXTMSG, \
	.af_offer = { 1, 1 }, .gr_restart_time = 120
#define B_BASE .local_as = 65001, .peer_as = 65515, .router_id = PEER_ID, \
	.hold_time = 90, .keepalive = 0, .caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4, \
	.af_offer = { 1, 0 }, .gr_restart_time = 60

static const struct pair_case pair_cases[] = {
	{ "defaults against a plain IPv4 peer",
	  { A_BASE }, { B_BASE }, 90, 30, 30, true, false, true, false, false, { 1, 0 }, { 0, 0 }, { 0, 0 } },
	{ "hold time: keepalive configured lower on one side only",
	  { A_BASE, .keepalive = 10 }, { B_BASE }, 90, 10, 30, true, false, true, false, false, { 1, 0 }, { 0, 0 }, { 0, 0 } },
	{ "hold 0 on one side: no keepalives on either",
	  { A_BASE }, { B_BASE, .hold_time = 0 }, 0, 0, 0, true, false, true, false, false, { 1, 0 }, { 0, 0 }, { 0, 0 } },
	{ "4-octet AS against a 2-octet-only speaker configured with AS_TRANS (RFC 6793 §4.2)",
	  { A_BASE, .local_as = 4200000000u }, { B_BASE, .peer_as = BGP_AS_TRANS, .two_octet_asn_only = true },
	  90, 30, 30, false, false, true, false, false, { 1, 0 }, { 0, 0 }, { 0, 0 } },
	{ "everything on both sides, dual stack",
	  { A_BASE, .caps_offer = A_ALL }, { B_BASE, .caps_offer = A_ALL, .af_offer = { 1, 1 } },
	  90, 30, 30, true, true, true, true, true, { 1, 1 }, { 0, 0 }, { 0, 0 } },
	{ "ADD-PATH: A sends and receives on IPv4, B only receives",
	  { A_BASE, .caps_offer = A_ALL, .addpath_offer = { BGP_ADDPATH_SEND | BGP_ADDPATH_RECV, 0 } },
	  { B_BASE, .caps_offer = A_ALL, .addpath_offer = { BGP_ADDPATH_RECV, 0 } },
	  90, 30, 30, true, true, true, true, true, { 1, 0 }, .a_tx = { 1, 0 }, .a_rx = { 0, 0 } },
	{ "IPv6-only peer",
	  { A_BASE }, { B_BASE, .af_offer = { 0, 1 } }, 90, 30, 30, true, false, true, false, false, { 0, 1 }, { 0, 0 }, { 0, 0 } },
	{ "iBGP",
	  { A_BASE, .peer_as = 65515 }, { B_BASE, .local_as = 65515 },
	  90, 30, 30, true, false, true, false, false, { 1, 0 }, { 0, 0 }, { 0, 0 } },
};

static void
judge(const struct fsm_open_cfg *self, const struct fsm_open_cfg *peer,
    struct fsm_nego *n)
{
	struct bgp_open o, d;
	struct bgp_error err;
	struct fsm_notify ne;
	uint8_t wire[BGP_MAX_MSG];
	size_t len;

	fsm_open_build(peer, &o);
	assert_int_equal(bgp_open_encode(&o, wire, sizeof(wire), &len), 0);
	memset(&err, 0, sizeof(err));
	if (bgp_open_decode(wire, len, &d, &err) != 0)
		print_message("decode: %s\n", err.reason);
	assert_int_equal(d.version, 4);
	if (fsm_open_negotiate(self, &d, n, &ne) != 0)
		print_message("refused: %s\n", ne.reason);
	assert_int_equal(ne.code, 0);
}

static void
test_nego_pairs_on_the_wire(void **state)
{
	struct fsm_nego na, nb; /* A's view, B's view */
	size_t i;
	int af;

	(void)state;
	for (i = 0; i < sizeof(pair_cases) / sizeof(pair_cases[0]); i++) {
		const struct pair_case *c = &pair_cases[i];

		print_message("pair: %s\n", c->what);
		assert_int_equal(fsm_open_cfg_check(&c->a, NULL), 0);
		assert_int_equal(fsm_open_cfg_check(&c->b, NULL), 0);
		judge(&c->a, &c->b, &na);
		judge(&c->b, &c->a, &nb);
		assert_int_equal(na.peer_as, c->a.peer_as);
		assert_int_equal(nb.peer_as, c->b.peer_as);
		assert_int_equal(na.peer_id, c->b.router_id);
		assert_int_equal(nb.peer_id, c->a.router_id);
		assert_int_equal(na.sess.ibgp, c->a.local_as == c->b.local_as);
		assert_int_equal(nb.sess.ibgp, na.sess.ibgp);
		assert_int_equal(na.hold_time, c->hold);
		assert_int_equal(nb.hold_time, c->hold);
		assert_int_equal(na.keepalive, c->ka_a);
		assert_int_equal(nb.keepalive, c->ka_b);
		assert_int_equal(na.sess.as4, c->as4);
		assert_int_equal(nb.sess.as4, c->as4);
		assert_int_equal(na.sess.ext_msg, c->ext);
		assert_int_equal(nb.sess.ext_msg, c->ext);
		assert_int_equal(na.rrefresh, c->rr);
		assert_int_equal(nb.rrefresh, c->rr);
		assert_int_equal(na.enh_rrefresh, c->err);
		assert_int_equal(nb.enh_rrefresh, c->err);
		assert_int_equal(na.gr, c->gr);
		assert_int_equal(nb.gr, c->gr);
		if (c->gr) {
			assert_int_equal(na.gr_restart_time, c->b.gr_restart_time);
			assert_int_equal(nb.gr_restart_time, c->a.gr_restart_time);
		}
		for (af = 0; af < BGP_AF_MAX; af++) {
			assert_int_equal(na.sess.af[af], c->af[af]);
			assert_int_equal(nb.sess.af[af], c->af[af]);
			assert_int_equal(na.sess.addpath_tx[af], c->a_tx[af]);
			assert_int_equal(na.sess.addpath_rx[af], c->a_rx[af]);
			/* what A sends, B receives */
			assert_int_equal(nb.sess.addpath_rx[af], c->a_tx[af]);
			assert_int_equal(nb.sess.addpath_tx[af], c->a_rx[af]);
		}
	}
}

/* ---- collision (RFC 4271 §6.8) ------------------------------------------------------ */

struct coll_case {
	const char *what;
	struct fsm_coll_in in;
	enum fsm_coll_verdict verdict;
};

static const struct coll_case coll_cases[] = {
	{ "existing outbound in OpenConfirm, local id higher: keep ours, dump the new (inbound)",
	  { FSM_ST_OPENCONFIRM, true, false, 20, 10, 65515, 65001, false }, FSM_COLL_DUMP_NEW },
	{ "existing outbound in OpenConfirm, local id lower: dump ours (existing), accept the peer's",
	  { FSM_ST_OPENCONFIRM, true, false, 10, 20, 65515, 65001, false }, FSM_COLL_DUMP_EXISTING },
	{ "existing inbound in OpenConfirm, local id higher: keep ours (the new outbound)",
	  { FSM_ST_OPENCONFIRM, false, true, 20, 10, 65515, 65001, false }, FSM_COLL_DUMP_EXISTING },
	{ "existing inbound in OpenConfirm, local id lower: keep the peer's (existing)",
	  { FSM_ST_OPENCONFIRM, false, true, 10, 20, 65515, 65001, false }, FSM_COLL_DUMP_NEW },
	{ "existing outbound in OpenSent (peer id known from the new OPEN), local higher",
	  { FSM_ST_OPENSENT, true, false, 0xc0000001u, 0x0a000001u, 65515, 65001, false }, FSM_COLL_DUMP_NEW },
	{ "ids compared as unsigned host-order integers: 192.0.0.1 > 10.0.0.1",
	  { FSM_ST_OPENSENT, true, false, 0x0a000001u, 0xc0000001u, 65515, 65001, false }, FSM_COLL_DUMP_EXISTING },
	{ "equal ids (RFC 6286 §2.3): the speaker with the larger AS wins, ours larger",
	  { FSM_ST_OPENCONFIRM, true, false, 7, 7, 65515, 65001, false }, FSM_COLL_DUMP_NEW },
	{ "equal ids (RFC 6286 §2.3): peer's AS larger",
	  { FSM_ST_OPENCONFIRM, true, false, 7, 7, 65001, 65515, false }, FSM_COLL_DUMP_EXISTING },
	{ "existing Established: the new connection is closed (§6.8)",
	  { FSM_ST_ESTABLISHED, true, false, 10, 20, 65515, 65001, false }, FSM_COLL_DUMP_NEW },
	{ "existing Established with CollisionDetectEstablishedState: ids decide",
	  { FSM_ST_ESTABLISHED, true, false, 10, 20, 65515, 65001, true }, FSM_COLL_DUMP_EXISTING },
	{ "existing in Idle: no collision detectable",
	  { FSM_ST_IDLE, true, false, 10, 20, 65515, 65001, false }, FSM_COLL_NONE },
	{ "existing in Connect: no collision detectable",
	  { FSM_ST_CONNECT, true, false, 10, 20, 65515, 65001, false }, FSM_COLL_NONE },
	{ "existing in Active: no collision detectable",
	  { FSM_ST_ACTIVE, false, false, 10, 20, 65515, 65001, false }, FSM_COLL_NONE },
	{ "both inbound: the older one is stale",
	  { FSM_ST_OPENCONFIRM, false, false, 20, 10, 65515, 65001, false }, FSM_COLL_DUMP_EXISTING },
};

static void
test_collision_table(void **state)
{
	struct fsm_coll out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(coll_cases) / sizeof(coll_cases[0]); i++) {
		print_message("collision: %s\n", coll_cases[i].what);
		memset(&out, 0xaa, sizeof(out));
		assert_int_equal(fsm_collision(&coll_cases[i].in, &out), 0);
		assert_int_equal(out.verdict, coll_cases[i].verdict);
		assert_int_equal(out.code, BGP_ERR_CEASE);
		assert_int_equal(out.subcode, BGP_ERR_CEASE_COLLISION);
	}
}

/* The loser of a collision gets OpenCollisionDump: Cease / Connection
 * Collision Resolution; the winner goes on. Two FSMs for one peer. */
static void
test_collision_end_to_end(void **state)
{
	struct fsm_cfg cfg;
	struct bgp_open po;
	struct fsm out_f, in_f;
	struct shadow sh_out, sh_in;
	struct fsm_coll_in ci;
	struct fsm_coll co;
	struct fsm_event ev;
	struct fsm_out out;

	(void)state;
	test_cfg(&cfg);
	peer_open(&po); /* peer id 10.0.0.2 > ours 10.0.0.1: the peer's connection wins */
	reach(&out_f, &sh_out, &cfg, &po, FSM_ST_OPENCONFIRM);
	assert_int_equal(fsm_init(&in_f, &cfg), 0);
	sh_in.running = 0;
	drive(&in_f, &sh_in, &po, FSM_EV_AUTO_START_PASSIVE, FSM_ST_ACTIVE);
	drive(&in_f, &sh_in, &po, FSM_EV_TCP_CONFIRMED, FSM_ST_OPENSENT);
	drive(&in_f, &sh_in, &po, FSM_EV_BGP_OPEN, FSM_ST_OPENCONFIRM);

	ci = (struct fsm_coll_in){
		.existing_state = out_f.state, .existing_outbound = true,
		.new_outbound = false, .local_id = LOCAL_ID, .remote_id = in_f.nego.peer_id,
		.local_as = 65515, .remote_as = in_f.nego.peer_as,
	};
	assert_int_equal(fsm_collision(&ci, &co), 0);
	assert_int_equal(co.verdict, FSM_COLL_DUMP_EXISTING);
	event_for(FSM_EV_COLLISION_DUMP, &po, &ev);
	step(&out_f, &sh_out, &ev, &out);
	assert_int_equal(out_f.state, FSM_ST_IDLE);
	assert_int_equal(out.act[1].code, co.code);
	assert_int_equal(out.act[1].subcode, co.subcode);
	drive(&in_f, &sh_in, &po, FSM_EV_KEEPALIVE_MSG, FSM_ST_ESTABLISHED);
}

/* ---- backoff ------------------------------------------------------------------------ */

struct backoff_case {
	const char *what;
	uint32_t base, cap, n, rnd, want;
};

static const struct backoff_case backoff_cases[] = {
	{ "first attempt: the base", 30, 300, 0, UINT32_MAX, 30 },
	{ "doubles per attempt", 30, 300, 1, UINT32_MAX, 60 },
	{ "doubles again", 30, 300, 3, UINT32_MAX, 240 },
	{ "capped", 30, 300, 4, UINT32_MAX, 300 },
	{ "capped for huge n, no overflow", 30, 300, 4000000000u, UINT32_MAX, 300 },
	{ "cap below base: base", 30, 10, 5, UINT32_MAX, 30 },
	{ "jitter low end (RFC 4271 §10: 0.75): 120 -> 91 (just above 90)", 120, 120, 0, 0, 91 },
	{ "jitter middle: 0.875 of 120 = 105, rounded up", 120, 120, 0, 0x80000000u, 106 },
	{ "jitter never gives 0 for a short timer", 1, 1, 0, 0, 1 },
	{ "base 0 stays 0", 0, 0, 3, 0, 0 },
	{ "large values do not overflow", 65535, 4000000000u, 31, UINT32_MAX, 4000000000u },
};

static void
test_backoff_table(void **state)
{
	size_t i;
	uint32_t r, v;

	(void)state;
	for (i = 0; i < sizeof(backoff_cases) / sizeof(backoff_cases[0]); i++) {
		const struct backoff_case *c = &backoff_cases[i];

		print_message("backoff: %s\n", c->what);
		assert_int_equal(fsm_backoff(c->base, c->cap, c->n, c->rnd), c->want);
	}
	/* every random value lands in [0.75, 1.0] x value */
	for (r = 0; r < 0xff000000u; r += 0x00fedcbau) {
		v = fsm_backoff(120, 600, 2, r);
		assert_in_range(v, 360, 480);
	}
}

static void
test_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FSM_ST_MAX; i++)
		assert_non_null(fsm_state_name(i));
	assert_null(fsm_state_name(FSM_ST_MAX));
	assert_string_equal(fsm_state_name(FSM_ST_OPENCONFIRM), "OpenConfirm");
	assert_string_equal(fsm_event_name(FSM_EV_HOLD_EXPIRES), "HoldTimer_Expires");
	assert_string_equal(fsm_event_name(FSM_EV_TCP_CR_ACKED), "Tcp_CR_Acked");
	assert_null(fsm_event_name(12)); /* DelayOpenTimer_Expires: not implemented */
	assert_null(fsm_event_name(20));
	assert_null(fsm_event_name(0));
	for (i = FSM_ACT_CONNECT; i <= FSM_ACT_LOG; i++)
		assert_non_null(fsm_act_name(i));
	for (i = 0; i < FSM_TIMER_MAX; i++)
		assert_non_null(fsm_timer_name(i));
	assert_null(fsm_timer_name(FSM_TIMER_MAX));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsm_table),
		cmocka_unit_test(test_fsm_table_complete),
		cmocka_unit_test(test_fsm_bad_events),
		cmocka_unit_test(test_fsm_open_refused),
		cmocka_unit_test(test_fsm_stop_message),
		cmocka_unit_test(test_fsm_hold_zero),
		cmocka_unit_test(test_fsm_strict_passive),
		cmocka_unit_test(test_fsm_no_auto_restart),
		cmocka_unit_test(test_fsm_idle_hold_pending),
		cmocka_unit_test(test_fsm_damping),
		cmocka_unit_test(test_fsm_random_walk),
		cmocka_unit_test(test_nego_table),
		cmocka_unit_test(test_open_build),
		cmocka_unit_test(test_nego_pairs_on_the_wire),
		cmocka_unit_test(test_collision_table),
		cmocka_unit_test(test_collision_end_to_end),
		cmocka_unit_test(test_backoff_table),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
