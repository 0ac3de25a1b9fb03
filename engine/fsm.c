/*
 * fsm.c — the BGP finite state machine of RFC 4271 §8.2.2, one connection.
 *
 * Runs on the io thread that owns the peer. Pure: an event goes in, the new
 * state and an ordered list of actions come out (include/routehub/fsm.h);
 * timers, sockets and the RIB are the caller's. Each state is one function
 * with one switch over the events, in the order §8.2.2 lists them, and a
 * default arm for the RFC's "any other event".
 *
 * Invariants:
 *  - f->timers says which timers the caller has running, because we told it
 *    to start them and not yet to stop them, and they have not expired.
 *    Leaving for Idle stops exactly those, so a stop is never sent for a
 *    timer that is not running.
 *  - FSM_ACT_PEER_DOWN is emitted iff the state leaves Established.
 *  - Every path into Idle drops TCP and releases the connection.
 *
 * Failure bookkeeping: ConnectRetryCounter follows the RFC rows exactly.
 * Besides it, two backoffs: the ConnectRetryTimer doubles with each start
 * since the last Established (f->attempts), and, with DampPeerOscillations,
 * the IdleHoldTime doubles on each fall into Idle and is forgiven once the
 * session has stayed Established for cfg.stable_time (fsm_note_uptime, or
 * counted in KeepaliveTimer periods).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routehub/fsm.h"

#define TBIT(t) ((uint8_t)(1u << (t)))

void
fsm_cfg_defaults(struct fsm_cfg *c)
{
	memset(c, 0, sizeof(*c));
	fsm_open_cfg_defaults(&c->open);
	c->connect_retry_time = 30;
	c->connect_retry_max = 300;
	c->open_hold_time = 240; /* RFC 4271 §8.2.2: "4 minutes is suggested" */
	c->idle_hold_time = 5;
	c->idle_hold_max = 300;
	c->stable_time = 180;
	c->allow_auto_start = true;
	c->damp_oscillations = true;
}

int
fsm_cfg_check(const struct fsm_cfg *c, const char **reason)
{
	const char *r = NULL;

	if (fsm_open_cfg_check(&c->open, &r) == 0) {
		if (c->connect_retry_time == 0)
			r = "connect retry time must be at least 1 second";
		else if (c->open_hold_time < 3)
			r = "hold time in OpenSent must be at least 3 seconds";
		else if (c->allow_auto_start && c->idle_hold_time == 0)
			r = "idle hold time must be at least 1 second with automatic restart";
	}
	if (reason != NULL)
		*reason = r;
	return r == NULL ? 0 : -1;
}

int
fsm_init(struct fsm *f, const struct fsm_cfg *cfg)
{
	memset(f, 0, sizeof(*f));
	f->state = FSM_ST_IDLE;
	if (fsm_cfg_check(cfg, NULL) == -1)
		return -1;
	f->cfg = *cfg;
	if (f->cfg.connect_retry_max < f->cfg.connect_retry_time)
		f->cfg.connect_retry_max = f->cfg.connect_retry_time;
	if (f->cfg.idle_hold_max < f->cfg.idle_hold_time)
		f->cfg.idle_hold_max = f->cfg.idle_hold_time;
	f->idle_hold_cur = f->cfg.idle_hold_time;
	return 0;
}

uint32_t
fsm_backoff(uint32_t base, uint32_t cap, uint32_t n, uint32_t rnd)
{
	uint64_t v = base;
	uint32_t i;

	if (cap < base)
		cap = base;
	for (i = 0; i < n && v < cap; i++)
		v *= 2;
	if (v > cap)
		v = cap;
	/* RFC 4271 §10: multiply by a factor uniform in [0.75, 1.0]; rnd
	 * UINT32_MAX is 1.0, 0 is (just above) 0.75. */
	v -= (v * (uint64_t)(UINT32_MAX - rnd)) >> 34;
	if (v == 0 && base != 0)
		v = 1;
	return (uint32_t)v;
}

int
fsm_note_uptime(struct fsm *f, uint32_t secs)
{
	if (f->state != FSM_ST_ESTABLISHED || secs < f->cfg.stable_time)
		return 0;
	f->attempts = 0;
	if (f->idle_hold_cur == f->cfg.idle_hold_time)
		return 0;
	f->idle_hold_cur = f->cfg.idle_hold_time;
	return 1;
}

/* Established: one more KeepaliveTimer period has passed. A clock-free
 * measure of uptime, so damping is forgiven even if the caller never calls
 * fsm_note_uptime. */
static void
uptime_tick(struct fsm *f)
{
	if (f->up_secs < UINT32_MAX - f->nego.keepalive)
		f->up_secs += f->nego.keepalive;
	fsm_note_uptime(f, f->up_secs);
}

/* ---- action list ----------------------------------------------------------- */

static struct fsm_action *
act(struct fsm_out *o, enum fsm_act_type t)
{
	struct fsm_action *a;

	if (o->n >= FSM_MAX_ACTIONS) {
		/* our bug: no path emits more than ~10 actions */
		fprintf(stderr, "%s: action list overflow\n", __func__);
		abort();
	}
	a = &o->act[o->n++];
	memset(a, 0, sizeof(*a));
	a->type = t;
	return a;
}

static void
act_log(struct fsm_out *o, const char *msg)
{
	act(o, FSM_ACT_LOG)->msg = msg;
}

static void
act_notify(struct fsm_out *o, uint8_t code, uint8_t subcode,
    const uint8_t *data, uint16_t len)
{
	struct fsm_action *a = act(o, FSM_ACT_SEND_NOTIFY);

	a->code = code;
	a->subcode = subcode;
	a->data = data;
	a->data_len = len;
}

static void
timer_start(struct fsm *f, struct fsm_out *o, enum fsm_timer t, uint32_t secs)
{
	struct fsm_action *a = act(o, FSM_ACT_TIMER_START);

	a->timer = t;
	a->secs = secs;
	f->timers |= TBIT(t);
}

static void
timer_stop(struct fsm *f, struct fsm_out *o, enum fsm_timer t)
{
	if (!(f->timers & TBIT(t)))
		return;
	act(o, FSM_ACT_TIMER_STOP)->timer = t;
	f->timers &= ~TBIT(t);
}

/* The next ConnectRetryTimer value: exponential in the starts since the
 * session was last Established. */
static void
connect_retry_start(struct fsm *f, struct fsm_out *o, uint32_t rnd)
{
	uint32_t secs;

	secs = fsm_backoff(f->cfg.connect_retry_time, f->cfg.connect_retry_max,
	    f->attempts, rnd);
	if (f->attempts < 32)
		f->attempts++;
	timer_start(f, o, FSM_TIMER_CONNECT_RETRY, secs);
}

/* ---- shared transitions ------------------------------------------------------ */

/* The NOTIFICATION that goes with a transition to Idle, if any. */
struct notif {
	uint8_t code, subcode;
	uint16_t len;
	const uint8_t *data;
};

enum idle_kind {
	IDLE_FAIL,        /* ConnectRetryCounter++, damping, automatic restart */
	IDLE_QUIET,       /* counter unchanged (the rows that omit it), restart */
	IDLE_STOP_MANUAL, /* ConnectRetryCounter = 0, no restart */
	IDLE_STOP_AUTO,   /* ConnectRetryCounter++, damping, no restart */
};

static void
go_idle(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev,
    enum idle_kind kind, const char *reason, const struct notif *n)
{
	act_log(o, reason);
	if (n != NULL)
		act_notify(o, n->code, n->subcode, n->data, n->len);
	timer_stop(f, o, FSM_TIMER_CONNECT_RETRY);
	timer_stop(f, o, FSM_TIMER_HOLD);
	timer_stop(f, o, FSM_TIMER_KEEPALIVE);
	timer_stop(f, o, FSM_TIMER_IDLE_HOLD);
	if (f->state == FSM_ST_ESTABLISHED)
		act(o, FSM_ACT_PEER_DOWN);
	act(o, FSM_ACT_DROP_TCP);
	act(o, FSM_ACT_RELEASE);

	if (kind == IDLE_STOP_MANUAL)
		f->connect_retry_counter = 0;
	else if (kind != IDLE_QUIET)
		f->connect_retry_counter++;
	/* §8.1.1 AllowAutomaticStart: we restart through the IdleHoldTimer,
	 * whose length is the peer-oscillation damping (§8.2.1.4 leaves the
	 * method to us): it doubles with every fall, up to the cap. */
	if (f->cfg.allow_auto_start && (kind == IDLE_FAIL || kind == IDLE_QUIET))
		timer_start(f, o, FSM_TIMER_IDLE_HOLD,
		    fsm_backoff(f->idle_hold_cur, f->idle_hold_cur, 0, ev->rnd));
	if (f->cfg.damp_oscillations && kind != IDLE_STOP_MANUAL) {
		f->idle_hold_cur *= 2;
		if (f->idle_hold_cur > f->cfg.idle_hold_max)
			f->idle_hold_cur = f->cfg.idle_hold_max;
	}
	f->state = FSM_ST_IDLE;
}

/* Cease for ManualStop/AutomaticStop: the caller's (RFC 4486 subcode, RFC 8203
 * message) or a default. */
static void
stop_notif(const struct fsm_event *ev, struct notif *n, uint8_t dflt_sub)
{
	if (ev->err != NULL && ev->err->code != 0) {
		n->code = ev->err->code;
		n->subcode = ev->err->subcode;
		n->data = ev->err->data;
		n->len = ev->err->data_len;
	} else {
		n->code = BGP_ERR_CEASE;
		n->subcode = dflt_sub;
		n->data = NULL;
		n->len = 0;
	}
}

static void
err_notif(const struct fsm_event *ev, struct notif *n)
{
	n->code = ev->err->code;
	n->subcode = ev->err->subcode;
	n->data = ev->err->data;
	n->len = ev->err->data_len;
}

static const char *
err_reason(const struct fsm_event *ev, const char *dflt)
{
	return ev->err != NULL && ev->err->reason != NULL ? ev->err->reason : dflt;
}

static bool
is_message(enum fsm_event_type e)
{
	switch (e) {
	case FSM_EV_BGP_OPEN:
	case FSM_EV_OPEN_ERR:
	case FSM_EV_NOTIF:
	case FSM_EV_KEEPALIVE_MSG:
	case FSM_EV_UPDATE_MSG:
	case FSM_EV_UPDATE_ERR:
	case FSM_EV_ROUTE_REFRESH_MSG:
		return true;
	default:
		return false;
	}
}

/* "Any other event" in OpenSent, OpenConfirm, Established: NOTIFICATION
 * Finite State Machine Error. RFC 6608 §4 gives the subcode for an unexpected
 * message by state; other events (a timer that should not run) are
 * Unspecified. */
static void
fsm_error(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	static const char *why[FSM_ST_MAX] = {
		[FSM_ST_OPENSENT] = "unexpected event in OpenSent (RFC 6608)",
		[FSM_ST_OPENCONFIRM] = "unexpected event in OpenConfirm (RFC 6608)",
		[FSM_ST_ESTABLISHED] = "unexpected event in Established (RFC 6608)",
	};
	struct notif n = { .code = BGP_ERR_FSM, .subcode = BGP_ERR_FSM_UNSPEC };

	if (is_message(ev->type)) {
		if (f->state == FSM_ST_OPENSENT)
			n.subcode = BGP_ERR_FSM_OPENSENT;
		else if (f->state == FSM_ST_OPENCONFIRM)
			n.subcode = BGP_ERR_FSM_OPENCONFIRM;
		else
			n.subcode = BGP_ERR_FSM_ESTABLISHED;
	}
	go_idle(f, o, ev, IDLE_FAIL, why[f->state], &n);
}

static void
collision_dump(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	struct notif n = { .code = BGP_ERR_CEASE, .subcode = BGP_ERR_CEASE_COLLISION };

	go_idle(f, o, ev, IDLE_FAIL, "connection collision: this one is dumped (RFC 4271 §6.8)", &n);
}

static void
hold_expired(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	struct notif n = { .code = BGP_ERR_HOLD };

	f->timers &= ~TBIT(FSM_TIMER_HOLD);
	go_idle(f, o, ev, IDLE_FAIL, "hold timer expired", &n);
}

static void
manual_stop(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev, bool send)
{
	struct notif n;

	stop_notif(ev, &n, BGP_ERR_CEASE_ADMIN_SHUTDOWN);
	go_idle(f, o, ev, IDLE_STOP_MANUAL, "manual stop", send ? &n : NULL);
}

static void
auto_stop(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev, bool send)
{
	struct notif n;

	stop_notif(ev, &n, 0);
	go_idle(f, o, ev, IDLE_STOP_AUTO, "automatic stop", send ? &n : NULL);
}

/* Connect/Active → OpenSent: the TCP connection is up (Tcp_CR_Acked or
 * TcpConnectionConfirmed, no DelayOpen). */
static void
tcp_up(struct fsm *f, struct fsm_out *o)
{
	timer_stop(f, o, FSM_TIMER_CONNECT_RETRY);
	act(o, FSM_ACT_SEND_OPEN);
	/* "sets the HoldTimer to a large value": until the peer's OPEN */
	timer_start(f, o, FSM_TIMER_HOLD, f->cfg.open_hold_time);
	f->state = FSM_ST_OPENSENT;
}

/* Idle → Connect or Active (§8.2.2 Idle state, events 1, 3, 4, 5). */
static void
start(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev, bool passive)
{
	timer_stop(f, o, FSM_TIMER_IDLE_HOLD);
	if (passive || f->cfg.passive) {
		/* strict passive: no ConnectRetryTimer, so never to Connect */
		if (!f->cfg.passive)
			connect_retry_start(f, o, ev->rnd);
		f->state = FSM_ST_ACTIVE;
		return;
	}
	connect_retry_start(f, o, ev->rnd);
	act(o, FSM_ACT_CONNECT);
	f->state = FSM_ST_CONNECT;
}

static bool
ev_passive(enum fsm_event_type e)
{
	return e == FSM_EV_MANUAL_START_PASSIVE || e == FSM_EV_AUTO_START_PASSIVE ||
	    e == FSM_EV_AUTO_START_DAMP_PASSIVE;
}

static bool
ev_start(enum fsm_event_type e)
{
	return e >= FSM_EV_MANUAL_START && e <= FSM_EV_AUTO_START_DAMP_PASSIVE &&
	    e != FSM_EV_MANUAL_STOP;
}

/* ---- the states ---------------------------------------------------------------- */

static void
st_idle(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	switch (ev->type) {
	case FSM_EV_MANUAL_START:
	case FSM_EV_MANUAL_START_PASSIVE:
		/* an operator's start forgives the past */
		f->attempts = 0;
		f->idle_hold_cur = f->cfg.idle_hold_time;
		/* FALLTHROUGH */
	case FSM_EV_AUTO_START:
	case FSM_EV_AUTO_START_PASSIVE:
		f->connect_retry_counter = 0;
		f->passive_start = ev_passive(ev->type);
		start(f, o, ev, f->passive_start);
		break;
	case FSM_EV_AUTO_START_DAMP:
	case FSM_EV_AUTO_START_DAMP_PASSIVE:
		/* §8.2.2: these three events prevent peer oscillations; the
		 * start waits for the (damped) IdleHoldTimer. */
		f->passive_start = ev_passive(ev->type);
		if (!f->cfg.damp_oscillations) {
			f->connect_retry_counter = 0;
			start(f, o, ev, f->passive_start);
		} else if (!(f->timers & TBIT(FSM_TIMER_IDLE_HOLD)))
			timer_start(f, o, FSM_TIMER_IDLE_HOLD,
			    fsm_backoff(f->idle_hold_cur, f->idle_hold_cur, 0,
			    ev->rnd));
		break;
	case FSM_EV_IDLE_HOLD_EXPIRES:
		f->timers &= ~TBIT(FSM_TIMER_IDLE_HOLD);
		start(f, o, ev, f->passive_start);
		break;
	case FSM_EV_MANUAL_STOP:
	case FSM_EV_AUTO_STOP:
		/* ignored by §8.2.2; here they also cancel a pending restart */
		timer_stop(f, o, FSM_TIMER_IDLE_HOLD);
		break;
	case FSM_EV_TCP_VALID:
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
		/* "Idle: refuses all incoming BGP connections" */
		act(o, FSM_ACT_DROP_TCP);
		break;
	default:
		/* "Any other event ... does not cause change in the state" */
		break;
	}
}

static void
st_connect(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	if (ev_start(ev->type))
		return; /* "Events 1, 3-7 are ignored in the Connect state" */
	switch (ev->type) {
	case FSM_EV_MANUAL_STOP:
		manual_stop(f, o, ev, false);
		break;
	case FSM_EV_CONNECT_RETRY_EXPIRES:
		f->timers &= ~TBIT(FSM_TIMER_CONNECT_RETRY);
		act(o, FSM_ACT_DROP_TCP);
		connect_retry_start(f, o, ev->rnd);
		act(o, FSM_ACT_CONNECT);
		break;
	case FSM_EV_TCP_VALID:
		break; /* "the TCP connection is processed" */
	case FSM_EV_TCP_INVALID:
		break; /* "rejects the TCP connection": never ours, caller closes it */
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
		tcp_up(f, o);
		break;
	case FSM_EV_TCP_FAILS:
		/* DelayOpenTimer not running: no ConnectRetryCounter++ */
		go_idle(f, o, ev, IDLE_QUIET, "TCP connection failed", NULL);
		break;
	case FSM_EV_HEADER_ERR:
	case FSM_EV_OPEN_ERR:
		/* no SendNOTIFICATIONwithoutOPEN: no NOTIFICATION */
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "bad message in Connect"), NULL);
		break;
	case FSM_EV_NOTIF_VERSION_ERR:
		go_idle(f, o, ev, IDLE_FAIL, "peer sent version error", NULL);
		break;
	case FSM_EV_AUTO_STOP:
		auto_stop(f, o, ev, false);
		break;
	default:
		go_idle(f, o, ev, IDLE_FAIL, "unexpected event in Connect", NULL);
		break;
	}
}

static void
st_active(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	if (ev_start(ev->type))
		return; /* "Events 1, 3-7 are ignored in the Active state" */
	switch (ev->type) {
	case FSM_EV_MANUAL_STOP:
		manual_stop(f, o, ev, false);
		break;
	case FSM_EV_CONNECT_RETRY_EXPIRES:
		f->timers &= ~TBIT(FSM_TIMER_CONNECT_RETRY);
		connect_retry_start(f, o, ev->rnd);
		act(o, FSM_ACT_CONNECT);
		f->state = FSM_ST_CONNECT;
		break;
	case FSM_EV_TCP_VALID:
	case FSM_EV_TCP_INVALID:
		break;
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
		tcp_up(f, o);
		break;
	case FSM_EV_TCP_FAILS:
		/* §8.2.2 restarts the ConnectRetryTimer here, but Idle ignores
		 * it: we stop it and restart through the IdleHoldTimer. */
		go_idle(f, o, ev, IDLE_FAIL, "TCP connection failed", NULL);
		break;
	case FSM_EV_HEADER_ERR:
	case FSM_EV_OPEN_ERR:
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "bad message in Active"), NULL);
		break;
	case FSM_EV_NOTIF_VERSION_ERR:
		go_idle(f, o, ev, IDLE_FAIL, "peer sent version error", NULL);
		break;
	case FSM_EV_AUTO_STOP:
		auto_stop(f, o, ev, false);
		break;
	default:
		go_idle(f, o, ev, IDLE_FAIL, "unexpected event in Active", NULL);
		break;
	}
}

static void
st_opensent(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	struct fsm_notify nerr;
	struct notif n;

	if (ev_start(ev->type))
		return;
	switch (ev->type) {
	case FSM_EV_MANUAL_STOP:
		manual_stop(f, o, ev, true);
		break;
	case FSM_EV_AUTO_STOP:
		auto_stop(f, o, ev, true);
		break;
	case FSM_EV_HOLD_EXPIRES:
		hold_expired(f, o, ev);
		break;
	case FSM_EV_TCP_VALID:
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
		/* a second connection: the caller tracks it with its own FSM
		 * until its OPEN arrives, then asks fsm_collision() */
	case FSM_EV_TCP_INVALID:
		break;
	case FSM_EV_TCP_FAILS:
		/* "closes the BGP connection, restarts the ConnectRetryTimer,
		 * continues to listen ..., changes its state to Active" */
		timer_stop(f, o, FSM_TIMER_HOLD);
		act(o, FSM_ACT_DROP_TCP);
		if (!f->cfg.passive)
			connect_retry_start(f, o, ev->rnd);
		f->state = FSM_ST_ACTIVE;
		break;
	case FSM_EV_BGP_OPEN:
		if (fsm_open_negotiate(&f->cfg.open, ev->open, &f->nego, &nerr) == -1) {
			/* §6.2: OPEN message error → as BGPOpenMsgErr */
			memcpy(o->buf, nerr.data, nerr.data_len);
			n.code = nerr.code;
			n.subcode = nerr.subcode;
			n.data = nerr.data_len ? o->buf : NULL;
			n.len = nerr.data_len;
			go_idle(f, o, ev, IDLE_FAIL, nerr.reason, &n);
			break;
		}
		timer_stop(f, o, FSM_TIMER_CONNECT_RETRY);
		act(o, FSM_ACT_SEND_KEEPALIVE);
		if (f->nego.hold_time != 0) {
			timer_start(f, o, FSM_TIMER_KEEPALIVE, f->nego.keepalive);
			timer_start(f, o, FSM_TIMER_HOLD, f->nego.hold_time);
		} else {
			/* "If the value of the HoldTimer is zero, the HoldTimer
			 * and KeepaliveTimer are not started" */
			timer_stop(f, o, FSM_TIMER_HOLD);
		}
		f->state = FSM_ST_OPENCONFIRM;
		break;
	case FSM_EV_HEADER_ERR:
	case FSM_EV_OPEN_ERR:
		err_notif(ev, &n);
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "bad message in OpenSent"), &n);
		break;
	case FSM_EV_COLLISION_DUMP:
		collision_dump(f, o, ev);
		break;
	case FSM_EV_NOTIF_VERSION_ERR:
		go_idle(f, o, ev, IDLE_QUIET, "peer sent version error", NULL);
		break;
	case FSM_EV_NOTIF:
		/* deviation: §8.2.2 lists event 25 under "any other event"
		 * (FSM Error); the peer has already closed, and OpenConfirm
		 * and Established do not answer a NOTIFICATION either. */
		go_idle(f, o, ev, IDLE_FAIL, "peer sent NOTIFICATION", NULL);
		break;
	default:
		fsm_error(f, o, ev);
		break;
	}
}

static void
st_openconfirm(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	struct notif n;

	if (ev_start(ev->type))
		return;
	switch (ev->type) {
	case FSM_EV_MANUAL_STOP:
		manual_stop(f, o, ev, true);
		break;
	case FSM_EV_AUTO_STOP:
		auto_stop(f, o, ev, true);
		break;
	case FSM_EV_HOLD_EXPIRES:
		hold_expired(f, o, ev);
		break;
	case FSM_EV_KEEPALIVE_EXPIRES:
		f->timers &= ~TBIT(FSM_TIMER_KEEPALIVE);
		act(o, FSM_ACT_SEND_KEEPALIVE);
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_KEEPALIVE, f->nego.keepalive);
		break;
	case FSM_EV_TCP_VALID:
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
	case FSM_EV_TCP_INVALID:
		break; /* second connection: tracked by the caller */
	case FSM_EV_TCP_FAILS:
		go_idle(f, o, ev, IDLE_FAIL, "TCP connection failed", NULL);
		break;
	case FSM_EV_NOTIF:
		go_idle(f, o, ev, IDLE_FAIL, "peer sent NOTIFICATION", NULL);
		break;
	case FSM_EV_NOTIF_VERSION_ERR:
		go_idle(f, o, ev, IDLE_QUIET, "peer sent version error", NULL);
		break;
	case FSM_EV_HEADER_ERR:
	case FSM_EV_OPEN_ERR:
		err_notif(ev, &n);
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "bad message in OpenConfirm"), &n);
		break;
	case FSM_EV_COLLISION_DUMP:
		collision_dump(f, o, ev);
		break;
	case FSM_EV_KEEPALIVE_MSG:
		/* "restarts the HoldTimer and changes its state to Established" */
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_HOLD, f->nego.hold_time);
		act(o, FSM_ACT_ESTABLISHED);
		f->attempts = 0;
		f->up_secs = 0;
		f->state = FSM_ST_ESTABLISHED;
		break;
	default:
		/* includes BGPOpen: a collision is the caller's to detect on
		 * the other connection (fsm_collision → OpenCollisionDump);
		 * a second OPEN on this one is unexpected (RFC 6608). */
		fsm_error(f, o, ev);
		break;
	}
}

static void
st_established(struct fsm *f, struct fsm_out *o, const struct fsm_event *ev)
{
	struct notif n;

	if (ev_start(ev->type))
		return;
	switch (ev->type) {
	case FSM_EV_MANUAL_STOP:
		manual_stop(f, o, ev, true);
		break;
	case FSM_EV_AUTO_STOP:
		auto_stop(f, o, ev, true);
		break;
	case FSM_EV_HOLD_EXPIRES:
		hold_expired(f, o, ev);
		break;
	case FSM_EV_KEEPALIVE_EXPIRES:
		f->timers &= ~TBIT(FSM_TIMER_KEEPALIVE);
		act(o, FSM_ACT_SEND_KEEPALIVE);
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_KEEPALIVE, f->nego.keepalive);
		uptime_tick(f);
		break;
	case FSM_EV_TCP_VALID:
	case FSM_EV_TCP_CR_ACKED:
	case FSM_EV_TCP_CONFIRMED:
	case FSM_EV_TCP_INVALID:
		break; /* second connection tracked until its OPEN (§8.2.2) */
	case FSM_EV_COLLISION_DUMP:
		collision_dump(f, o, ev);
		break;
	case FSM_EV_NOTIF_VERSION_ERR:
	case FSM_EV_NOTIF:
		go_idle(f, o, ev, IDLE_FAIL, "peer sent NOTIFICATION", NULL);
		break;
	case FSM_EV_TCP_FAILS:
		go_idle(f, o, ev, IDLE_FAIL, "TCP connection failed", NULL);
		break;
	case FSM_EV_KEEPALIVE_MSG:
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_HOLD, f->nego.hold_time);
		break;
	case FSM_EV_UPDATE_MSG:
		act(o, FSM_ACT_PROCESS_UPDATE);
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_HOLD, f->nego.hold_time);
		break;
	case FSM_EV_ROUTE_REFRESH_MSG:
		/* RFC 2918 §4: AFI/SAFI we did not advertise are ignored — the
		 * engine's check. Any message proves the peer alive. */
		act(o, FSM_ACT_PROCESS_REFRESH);
		if (f->nego.hold_time != 0)
			timer_start(f, o, FSM_TIMER_HOLD, f->nego.hold_time);
		break;
	case FSM_EV_UPDATE_ERR:
		err_notif(ev, &n);
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "UPDATE message error"), &n);
		break;
	case FSM_EV_HEADER_ERR:
		/* deviation: §8.2.2 says FSM Error, §6.1 says every header
		 * error is a Message Header Error; §6.1 is what peers expect */
		err_notif(ev, &n);
		go_idle(f, o, ev, IDLE_FAIL, err_reason(ev, "message header error"), &n);
		break;
	default:
		fsm_error(f, o, ev);
		break;
	}
}

int
fsm_step(struct fsm *f, const struct fsm_event *ev, struct fsm_out *o)
{
	if (fsm_event_name(ev->type) == NULL || f->state >= FSM_ST_MAX)
		return -1;
	if (ev->type == FSM_EV_BGP_OPEN && ev->open == NULL)
		return -1;
	if ((ev->type == FSM_EV_HEADER_ERR || ev->type == FSM_EV_OPEN_ERR ||
	    ev->type == FSM_EV_UPDATE_ERR) && (ev->err == NULL || ev->err->code == 0))
		return -1;

	o->old_state = f->state;
	o->n = 0;
	switch (f->state) {
	case FSM_ST_IDLE:
		st_idle(f, o, ev);
		break;
	case FSM_ST_CONNECT:
		st_connect(f, o, ev);
		break;
	case FSM_ST_ACTIVE:
		st_active(f, o, ev);
		break;
	case FSM_ST_OPENSENT:
		st_opensent(f, o, ev);
		break;
	case FSM_ST_OPENCONFIRM:
		st_openconfirm(f, o, ev);
		break;
	case FSM_ST_ESTABLISHED:
		st_established(f, o, ev);
		break;
	default:
		return -1;
	}
	o->new_state = f->state;
	return 0;
}

/* ---- connection collision ------------------------------------------------------ */

int
fsm_collision(const struct fsm_coll_in *in, struct fsm_coll *out)
{
	bool keep_ours;

	out->code = BGP_ERR_CEASE;
	out->subcode = BGP_ERR_CEASE_COLLISION; /* RFC 4486 §4 */
	out->verdict = FSM_COLL_NONE;

	switch (in->existing_state) {
	case FSM_ST_OPENSENT:
	case FSM_ST_OPENCONFIRM:
		break;
	case FSM_ST_ESTABLISHED:
		/* §6.8: "Unless allowed via configuration, a connection
		 * collision with an existing BGP connection that is in the
		 * Established state causes closing of the newly created
		 * connection." */
		if (!in->detect_established) {
			out->verdict = FSM_COLL_DUMP_NEW;
			return 0;
		}
		break;
	default:
		/* §6.8: "cannot be detected with connections in Idle,
		 * Connect, or Active states" */
		return 0;
	}
	if (in->existing_outbound == in->new_outbound) {
		/* Both opened from the same side: the peer (or we) gave up
		 * on the older one; it is the stale one. */
		out->verdict = FSM_COLL_DUMP_EXISTING;
		return 0;
	}
	/* §6.8: keep the connection initiated by the speaker with the higher
	 * BGP Identifier (compared as host-order unsigned integers); RFC 6286
	 * §2.3: on equal identifiers, the one with the larger AS number. */
	if (in->local_id != in->remote_id)
		keep_ours = in->local_id > in->remote_id;
	else
		keep_ours = in->local_as > in->remote_as;
	/* ours = the outbound connection */
	if (keep_ours == in->existing_outbound)
		out->verdict = FSM_COLL_DUMP_NEW;
	else
		out->verdict = FSM_COLL_DUMP_EXISTING;
	return 0;
}

/* ---- names ------------------------------------------------------------------------ */

const char *
fsm_state_name(enum fsm_state s)
{
	static const char *names[FSM_ST_MAX] = {
		[FSM_ST_IDLE] = "Idle",
		[FSM_ST_CONNECT] = "Connect",
		[FSM_ST_ACTIVE] = "Active",
		[FSM_ST_OPENSENT] = "OpenSent",
		[FSM_ST_OPENCONFIRM] = "OpenConfirm",
		[FSM_ST_ESTABLISHED] = "Established",
	};

	return (unsigned)s < FSM_ST_MAX ? names[s] : NULL;
}

/* NULL for numbers that are not events (0, 12, 20, out of range). */
const char *
fsm_event_name(enum fsm_event_type e)
{
	static const char *names[FSM_EV_MAX] = {
		[FSM_EV_MANUAL_START] = "ManualStart",
		[FSM_EV_MANUAL_STOP] = "ManualStop",
		[FSM_EV_AUTO_START] = "AutomaticStart",
		[FSM_EV_MANUAL_START_PASSIVE] = "ManualStart_with_PassiveTcpEstablishment",
		[FSM_EV_AUTO_START_PASSIVE] = "AutomaticStart_with_PassiveTcpEstablishment",
		[FSM_EV_AUTO_START_DAMP] = "AutomaticStart_with_DampPeerOscillations",
		[FSM_EV_AUTO_START_DAMP_PASSIVE] =
		    "AutomaticStart_with_DampPeerOscillations_and_PassiveTcpEstablishment",
		[FSM_EV_AUTO_STOP] = "AutomaticStop",
		[FSM_EV_CONNECT_RETRY_EXPIRES] = "ConnectRetryTimer_Expires",
		[FSM_EV_HOLD_EXPIRES] = "HoldTimer_Expires",
		[FSM_EV_KEEPALIVE_EXPIRES] = "KeepaliveTimer_Expires",
		[FSM_EV_IDLE_HOLD_EXPIRES] = "IdleHoldTimer_Expires",
		[FSM_EV_TCP_VALID] = "TcpConnection_Valid",
		[FSM_EV_TCP_INVALID] = "Tcp_CR_Invalid",
		[FSM_EV_TCP_CR_ACKED] = "Tcp_CR_Acked",
		[FSM_EV_TCP_CONFIRMED] = "TcpConnectionConfirmed",
		[FSM_EV_TCP_FAILS] = "TcpConnectionFails",
		[FSM_EV_BGP_OPEN] = "BGPOpen",
		[FSM_EV_HEADER_ERR] = "BGPHeaderErr",
		[FSM_EV_OPEN_ERR] = "BGPOpenMsgErr",
		[FSM_EV_COLLISION_DUMP] = "OpenCollisionDump",
		[FSM_EV_NOTIF_VERSION_ERR] = "NotifMsgVerErr",
		[FSM_EV_NOTIF] = "NotifMsg",
		[FSM_EV_KEEPALIVE_MSG] = "KeepAliveMsg",
		[FSM_EV_UPDATE_MSG] = "UpdateMsg",
		[FSM_EV_UPDATE_ERR] = "UpdateMsgErr",
		[FSM_EV_ROUTE_REFRESH_MSG] = "RouteRefreshMsg",
	};

	return (unsigned)e < FSM_EV_MAX ? names[e] : NULL;
}

const char *
fsm_act_name(enum fsm_act_type a)
{
	static const char *names[] = {
		[FSM_ACT_CONNECT] = "connect",
		[FSM_ACT_DROP_TCP] = "drop-tcp",
		[FSM_ACT_SEND_OPEN] = "send-open",
		[FSM_ACT_SEND_KEEPALIVE] = "send-keepalive",
		[FSM_ACT_SEND_NOTIFY] = "send-notify",
		[FSM_ACT_TIMER_START] = "timer-start",
		[FSM_ACT_TIMER_STOP] = "timer-stop",
		[FSM_ACT_ESTABLISHED] = "established",
		[FSM_ACT_PEER_DOWN] = "peer-down",
		[FSM_ACT_PROCESS_UPDATE] = "process-update",
		[FSM_ACT_PROCESS_REFRESH] = "process-refresh",
		[FSM_ACT_RELEASE] = "release",
		[FSM_ACT_LOG] = "log",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : NULL;
}

const char *
fsm_timer_name(enum fsm_timer t)
{
	static const char *names[FSM_TIMER_MAX] = {
		[FSM_TIMER_CONNECT_RETRY] = "ConnectRetryTimer",
		[FSM_TIMER_HOLD] = "HoldTimer",
		[FSM_TIMER_KEEPALIVE] = "KeepaliveTimer",
		[FSM_TIMER_IDLE_HOLD] = "IdleHoldTimer",
	};

	return (unsigned)t < FSM_TIMER_MAX ? names[t] : NULL;
}
