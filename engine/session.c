/*
 * session.c — BGP sessions: the glue between the io layer (routehub/io.h),
 * the pure RFC 4271 state machine (routehub/fsm.h) and the codec
 * (routehub/bgp.h).
 *
 * Runs on the io thread that owns the peer; see session.h for the objects.
 * The flow of one received message: io framing -> tcp_msg() -> header check
 * and decode -> an FSM event -> fsm_step() -> the actions it returns, done in
 * order by run_actions() (send, timers, connect, drop). UPDATEs are decoded
 * and validated here, on the io thread, as they arrive (RFC 7606 outcomes
 * applied and counted); the RIB takes them from here in a later stage.
 *
 * Invariants:
 *  - a bconn is freed only outside its own fsm_step/run_actions (in_step);
 *  - a struct tcp whose b is NULL is closing and belongs to nobody but the
 *    io layer's closed() callback, which frees it;
 *  - at most one of a peer's two connections is Established.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routehub/daemon.h"
#include "routehub/log.h"
#include "daemon_int.h"
#include "session.h"

static void bconn_event(struct bconn *b, enum fsm_event_type type, const struct bgp_open *open,
                        const struct bgp_error *err);
static void bconn_after(struct bconn *b);

/* Set while an event is fed whose cause is already in last_error, more precise
 * than the FSM's generic FSM_ACT_LOG reason: a received NOTIFICATION (code and
 * RFC 8203 text) or a socket error ("connect: Connection refused"). Without it
 * "peer sent NOTIFICATION" / "TCP connection failed" replaced them. Per io
 * thread: one event is fed at a time. */
static __thread bool reason_pinned;

/* ---- small helpers ------------------------------------------------------------ */

static uint32_t
rnd32(void)
{
	/* Jitter only (RFC 4271 §10): quality does not matter. */
	static __thread uint32_t x = 0;
	if (x == 0)
		x = (uint32_t)(uintptr_t)&x ^ (uint32_t)io_now_ms() ^ 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

enum fsm_state
sess_peer_state(const struct peer *p)
{
	enum fsm_state s = FSM_ST_IDLE;
	for (int i = 0; i < 2; i++)
		if (p->conn[i] && p->conn[i]->fsm.state > s)
			s = p->conn[i]->fsm.state;
	return s;
}

const char *
sess_peer_state_name(const struct peer *p)
{
	return fsm_state_name(sess_peer_state(p));
}

static int
slot_of(const struct bconn *b)
{
	return b->peer->conn[0] == b ? 0 : 1;
}

/* ---- timers --------------------------------------------------------------------- */

static void
timer_cb(struct io_timer *t, void *arg)
{
	static const enum fsm_event_type ev[FSM_TIMER_MAX] = {
	    [FSM_TIMER_CONNECT_RETRY] = FSM_EV_CONNECT_RETRY_EXPIRES,
	    [FSM_TIMER_HOLD] = FSM_EV_HOLD_EXPIRES,
	    [FSM_TIMER_KEEPALIVE] = FSM_EV_KEEPALIVE_EXPIRES,
	    [FSM_TIMER_IDLE_HOLD] = FSM_EV_IDLE_HOLD_EXPIRES,
	};
	struct bconn *b = arg;
	int i = (int)(t - b->timers);

	bconn_event(b, ev[i], NULL, NULL);
	bconn_after(b);
}

/* ---- connections ------------------------------------------------------------------ */

static struct bconn *
bconn_new(struct peer *p)
{
	struct bconn *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->peer = p;
	if (fsm_init(&b->fsm, &p->fcfg) < 0) {
		free(b);
		return NULL;
	}
	for (int i = 0; i < FSM_TIMER_MAX; i++)
		io_timer_init(&b->timers[i], p->sl->io, timer_cb, b);
	return b;
}

/* Forget the TCP connection: it closes on its own (flushing what is queued). */
static void
bconn_drop_tcp(struct bconn *b, bool flush)
{
	struct tcp *t = b->tcp;

	if (!t)
		return;
	b->tcp = NULL;
	t->b = NULL;
	io_conn_close(t->io, flush);
}

static void
bconn_free(struct bconn *b)
{
	for (int i = 0; i < FSM_TIMER_MAX; i++)
		io_timer_disarm(&b->timers[i]);
	bconn_drop_tcp(b, true);
	free(b);
}

static void tcp_connected(struct io_conn *c, void *arg);
static void tcp_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len);
static void tcp_framing_error(struct io_conn *c, void *arg, unsigned len);
static void tcp_closed(struct io_conn *c, void *arg, enum io_close why, int err);

static const struct io_conn_ops tcp_ops = {
    .connected = tcp_connected,
    .msg = tcp_msg,
    .framing_error = tcp_framing_error,
    .closed = tcp_closed,
};

static void
peer_sockopts(const struct peer *p, struct io_sock_opts *o)
{
	const struct cfg_peer *cp = p->cp;

	memset(o, 0, sizeof(*o));
	o->nodelay = true;
	if (cp->ttl_security) {
		o->gtsm_hops = cp->multihop ? cp->multihop : 1; /* RFC 5082 §3 */
	} else if (!cp->ibgp) {
		o->ttl = cp->multihop ? cp->multihop : 1; /* eBGP multihop */
	}
	if (cp->password) {
		o->md5_key = cp->password;
		o->md5_keylen = strlen(cp->password);
	}
}

static struct tcp *
tcp_new(struct bconn *b)
{
	struct tcp *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->b = b;
	t->sl = b->peer->sl;
	return t;
}

/* FSM_ACT_CONNECT: an outbound connection from our configured source. */
static void
bconn_connect(struct bconn *b)
{
	struct peer *p = b->peer;
	struct sockaddr_storage local;
	socklen_t llen = 0;
	struct io_sock_opts o;
	struct tcp *t;
	int r;

	if (b->tcp)
		return;
	t = tcp_new(b);
	if (!t)
		goto fail;
	peer_sockopts(p, &o);
	if (daemon_local_addr(p->sl->d, p, &local, &llen) < 0)
		llen = 0;
	r = io_conn_connect(p->sl->io, (const struct sockaddr *)&p->sa, p->salen,
	                    llen ? (const struct sockaddr *)&local : NULL, llen, &o, &tcp_ops, t,
	                    &t->io);
	if (r < 0) {
		free(t);
		snprintf(p->last_error, sizeof(p->last_error), "connect: %s", strerror(-r));
		goto fail;
	}
	p->sl->ntcp++;
	b->tcp = t;
	b->outbound = true;
	return;
fail:
	/* Tcp_CR fails at once: the FSM's TcpConnectionFails. It cannot run
	 * inside run_actions' loop safely for the caller, so defer. */
	b->outbound = true;
	io_timer_arm(&b->timers[FSM_TIMER_CONNECT_RETRY], 1000);
}

static void
send_copy(struct bconn *b, const uint8_t *msg, size_t len)
{
	if (!b->tcp)
		return;
	if (io_conn_send_copy(b->tcp->io, msg, len) == 0)
		b->peer->st.msgs_out++;
}

static void
send_open(struct bconn *b)
{
	struct bgp_open o;
	uint8_t buf[BGP_MAX_MSG];
	size_t len;

	fsm_open_build(&b->peer->fcfg.open, &o);
	if (gethostname(o.fqdn_host, 64) == 0) {
		o.fqdn_host[63] = '\0';
		o.caps |= BGP_CAPF_FQDN;
	}
	if (bgp_open_encode(&o, buf, sizeof(buf), &len) == 0)
		send_copy(b, buf, len);
}

static void
send_notify(struct bconn *b, const struct fsm_action *a)
{
	uint8_t buf[BGP_MAX_MSG];
	size_t len, dlen = a->data_len;
	struct peer *p = b->peer;

	if (!b->tcp)
		return;
	/* The data of an error is the offending part of the message (RFC 4271
	 * §6.3, RFC 7313 §5), which may be up to an extended message long
	 * (RFC 8654): cut it to what a 4096-octet NOTIFICATION holds, which
	 * every peer accepts, rather than send none. */
	if (dlen > BGP_MAX_MSG - BGP_NOTIFY_MIN_LEN)
		dlen = BGP_MAX_MSG - BGP_NOTIFY_MIN_LEN;
	if (bgp_notify_encode(a->code, a->subcode, a->data, dlen, buf, sizeof(buf), &len) == 0)
		send_copy(b, buf, len);
	snprintf(p->last_error, sizeof(p->last_error), "sent %u/%u %s", a->code, a->subcode,
	         bgp_err_name(a->code, a->subcode));
	log_notice("peer %s %s: sent NOTIFICATION %u/%u (%s)", p->cp->name, p->addrstr, a->code,
	           a->subcode, bgp_err_name(a->code, a->subcode));
}

static void
on_established(struct bconn *b)
{
	struct peer *p = b->peer;
	const struct fsm_nego *n = &b->fsm.nego;

	p->up_since_ms = io_now_ms();
	p->st.established++;
	p->last_error[0] = '\0';
	if (n->sess.ext_msg && b->tcp)
		io_conn_set_max_msg(b->tcp->io, BGP_MAX_EXT_MSG);
	log_info("peer %s %s: Established (AS %u, id %u.%u.%u.%u, hold %us%s%s%s%s%s)", p->cp->name,
	         p->addrstr, n->peer_as, n->peer_id >> 24, (n->peer_id >> 16) & 255,
	         (n->peer_id >> 8) & 255, n->peer_id & 255, n->hold_time,
	         n->sess.as4 ? ", as4" : "", n->sess.af[BGP_AF_IPV6] ? ", ipv6" : "",
	         n->rrefresh ? ", route-refresh" : "", n->enh_rrefresh ? ", enhanced-rr" : "",
	         n->sess.ext_msg ? ", ext-msg" : "");
	/* The table, then End-of-RIB, come from the shards (export.c). A
	 * session export cannot take is closed (bconn_event_out), not left up
	 * without routes. */
	/* -1: b->refused holds its Cease/Out of Resources (no data), which
	 * bconn_event_out acts on once the actions are done */
	(void)exp_peer_up(p->sl->d->exp, p->sl, p, &b->refused);
}

static void
run_actions(struct bconn *b, const struct fsm_out *o)
{
	struct peer *p = b->peer;

	for (unsigned i = 0; i < o->n; i++) {
		const struct fsm_action *a = &o->act[i];

		switch (a->type) {
		case FSM_ACT_CONNECT:
			if (!p->sl->stopping && !p->deleting)
				bconn_connect(b);
			break;
		case FSM_ACT_DROP_TCP:
			bconn_drop_tcp(b, true);
			break;
		case FSM_ACT_SEND_OPEN:
			send_open(b);
			break;
		case FSM_ACT_SEND_KEEPALIVE:
			if (b->tcp && io_conn_send(b->tcp->io, daemon_keepalive_buf(p->sl->d)) == 0)
				p->st.msgs_out++;
			break;
		case FSM_ACT_SEND_NOTIFY:
			send_notify(b, a);
			break;
		case FSM_ACT_TIMER_START:
			io_timer_arm(&b->timers[a->timer], (uint64_t)a->secs * 1000);
			break;
		case FSM_ACT_TIMER_STOP:
			io_timer_disarm(&b->timers[a->timer]);
			break;
		case FSM_ACT_ESTABLISHED:
			on_established(b);
			break;
		case FSM_ACT_PEER_DOWN:
			exp_peer_down(p->sl->d->exp, p->sl, p);
			p->up_since_ms = 0;
			p->st.flaps++;
			log_info("peer %s %s: session down%s%s", p->cp->name, p->addrstr,
			         p->last_error[0] ? ": " : "", p->last_error);
			break;
		case FSM_ACT_PROCESS_UPDATE:
		case FSM_ACT_PROCESS_REFRESH:
			/* Done by the caller, which holds the message. */
			break;
		case FSM_ACT_RELEASE:
			break;
		case FSM_ACT_LOG:
			if (a->msg && !reason_pinned)
				snprintf(p->last_error, sizeof(p->last_error), "%s", a->msg);
			break;
		}
	}
}

/* Feed one event to b's FSM and perform its actions. Returns the actions'
 * result through the caller's inspection of b->fsm.state. */
static void
bconn_event_out(struct bconn *b, enum fsm_event_type type, const struct bgp_open *open,
                const struct bgp_error *err, struct fsm_out *o)
{
	struct fsm_event ev = {.type = type, .rnd = rnd32(), .open = open, .err = err};
	struct peer *p = b->peer;

	if (fsm_step(&b->fsm, &ev, o) < 0) {
		o->n = 0;
		o->old_state = o->new_state = b->fsm.state;
		return;
	}
	b->in_step = true;
	if (o->old_state != o->new_state)
		log_debug("peer %s %s: %s -> %s (%s)", p->cp->name, p->addrstr,
		          fsm_state_name(o->old_state), fsm_state_name(o->new_state),
		          fsm_event_name(type));
	run_actions(b, o);
	b->in_step = false;
	if (b->refused.code && b->fsm.state == FSM_ST_ESTABLISHED) {
		/* on_established could not hand the session to export: close
		 * it with the NOTIFICATION export chose (Cease/Out of
		 * Resources, RFC 4486 §4). Not from inside run_actions: the
		 * actions of the event that established it come first. */
		struct bgp_error e = b->refused;
		const char *why = e.reason ? e.reason : "export refused the session";
		struct fsm_out o2;

		memset(&b->refused, 0, sizeof(b->refused));
		bconn_event_out(b, FSM_EV_UPDATE_ERR, NULL, &e, &o2);
		snprintf(p->last_error, sizeof(p->last_error), "refused: %s (sent %u/%u %s)", why,
		         e.code, e.subcode, bgp_err_name(e.code, e.subcode));
	} else if (b->refused.code) {
		memset(&b->refused, 0, sizeof(b->refused));
	}
}

static void
bconn_event(struct bconn *b, enum fsm_event_type type, const struct bgp_open *open,
            const struct bgp_error *err)
{
	struct fsm_out o;
	bconn_event_out(b, type, open, err, &o);
}

static void peer_free(struct peer *p);

/* Housekeeping after an event: free a spent second connection, promote the
 * winner of a collision, delete a dynamic peer whose session ended. */
static void
bconn_after(struct bconn *b)
{
	struct peer *p = b->peer;
	struct bconn *c0 = p->conn[0], *c1 = p->conn[1];

	if (b->in_step)
		return;
	/* A second connection that failed is simply gone. */
	if (c1 && c1->fsm.state == FSM_ST_IDLE && !c1->tcp) {
		p->conn[1] = NULL;
		bconn_free(c1);
		c1 = NULL;
	}
	/* The second connection won: it becomes the main one. */
	if (c1 && (c1->fsm.state == FSM_ST_ESTABLISHED ||
	           (c0 && c0->fsm.state == FSM_ST_IDLE && !c0->tcp))) {
		c1->fsm.passive_start = p->fcfg.passive;
		p->conn[0] = c1;
		p->conn[1] = NULL;
		if (c0)
			bconn_free(c0);
		c0 = c1;
		c1 = NULL;
	}
	/* A dynamic neighbour lives as long as its session. */
	if (p->dynamic && (!c0 || (c0->fsm.state <= FSM_ST_ACTIVE && !c0->tcp)) && !c1) {
		peer_free(p);
		return;
	}
}

/* RFC 4271 §6.8: an OPEN arrived on b while the peer has another connection.
 * Returns true if b survives. */
static bool
collision(struct bconn *b, const struct bgp_open *open)
{
	struct peer *p = b->peer;
	struct bconn *other = p->conn[slot_of(b) ^ 1];
	struct fsm_coll_in in;
	struct fsm_coll out;
	struct bgp_error e;

	if (!other || other->fsm.state < FSM_ST_OPENSENT)
		return true;
	memset(&in, 0, sizeof(in));
	in.existing_state = other->fsm.state;
	in.existing_outbound = other->outbound;
	in.new_outbound = b->outbound;
	in.local_id = p->fcfg.open.router_id;
	in.remote_id = open->bgp_id;
	in.local_as = p->fcfg.open.local_as;
	in.remote_as = open->asn;
	if (fsm_collision(&in, &out) < 0 || out.verdict == FSM_COLL_NONE)
		return true;
	memset(&e, 0, sizeof(e));
	e.code = out.code;
	e.subcode = out.subcode;
	e.reason = "connection collision";
	log_info(
	    "peer %s %s: connection collision, closing the %s connection", p->cp->name, p->addrstr,
	    (out.verdict == FSM_COLL_DUMP_EXISTING ? other->outbound : b->outbound) ? "outbound"
	                                                                            : "inbound");
	if (out.verdict == FSM_COLL_DUMP_EXISTING) {
		bconn_event(other, FSM_EV_COLLISION_DUMP, NULL, &e);
		return true;
	}
	bconn_event(b, FSM_EV_COLLISION_DUMP, NULL, &e);
	return false;
}

/* ---- received messages --------------------------------------------------------------- */

static void
process_update(struct bconn *b, const uint8_t *msg, size_t len)
{
	struct peer *p = b->peer;
	struct bgp_update u;

	if (bgp_update_decode(msg, len, &b->fsm.nego.sess, &u) < 0) {
		/* RFC 4271 §6.3 / RFC 7606 session reset. */
		log_notice("peer %s %s: malformed UPDATE: %s", p->cp->name, p->addrstr,
		           u.err.reason ? u.err.reason : "");
		bconn_event(b, FSM_EV_UPDATE_ERR, NULL, &u.err);
		return;
	}
	p->st.updates_in++;
	p->st.attr_discards += u.n_discarded;
	p->st.prefixes_withdrawn += (uint64_t)u.withdrawn.count + u.mp_unreach.count;
	if (u.action == BGP_ACT_WITHDRAW) {
		/* RFC 7606 §2: every NLRI of the update becomes a withdrawal. */
		p->st.treat_as_withdraw++;
		p->st.prefixes_withdrawn += (uint64_t)u.nlri.count + u.mp_reach.count;
		log_debug("peer %s %s: UPDATE treated as withdraw: %s", p->cp->name, p->addrstr,
		          u.err.reason);
	} else {
		p->st.prefixes_announced += (uint64_t)u.nlri.count + u.mp_reach.count;
	}
	{
		struct bgp_error lim;
		if (exp_ingest(p->sl->d->exp, p->sl, p, &u, &lim) < 0) {
			log_notice("peer %s %s: %s (max_routes %u): closing", p->cp->name,
			           p->addrstr, lim.reason ? lim.reason : "over its route limit",
			           p->cp->max_routes);
			bconn_event(b, FSM_EV_UPDATE_ERR, NULL, &lim);
			return;
		}
	}
	if (u.eor) {
		p->st.eor_in++;
		log_info("peer %s %s: End-of-RIB %s", p->cp->name, p->addrstr,
		         u.eor_af == BGP_AF_IPV6 ? "IPv6 unicast" : "IPv4 unicast");
	}
}

static void
process_refresh(struct bconn *b, const uint8_t *msg, size_t len)
{
	struct peer *p = b->peer;
	struct bgp_rrefresh r;
	struct bgp_error e;

	memset(&e, 0, sizeof(e));
	if (bgp_rrefresh_decode(msg, len, &r, &e) < 0) {
		bconn_event(b, FSM_EV_UPDATE_ERR, NULL, &e);
		return;
	}
	p->st.refresh_in++;
	{
		int af = bgp_af_from_afi(r.afi, r.safi);
		if (af < 0 || !b->fsm.nego.sess.af[af])
			return; /* RFC 2918 §4: ignore a family not negotiated */
		switch (r.subtype) {
		case BGP_RR_NORMAL:
			/* RFC 2918 §4: re-advertise our Adj-RIB-Out (soft reset
			 * out): the shards dump the table again, End-of-RIB
			 * follows. */
			log_info("peer %s %s: route refresh requested", p->cp->name, p->addrstr);
			exp_peer_resend(p->sl->d->exp, p->sl, p, af);
			break;
		case BGP_RR_BORR: /* RFC 7313 §4.2: its routes become stale */
		case BGP_RR_EORR: /* ... and what was not re-sent goes */
			if (b->fsm.nego.enh_rrefresh)
				exp_peer_stale(p->sl->d->exp, p->sl, p, af,
				               r.subtype == BGP_RR_BORR);
			break;
		default:
			break; /* RFC 7313 §3: ignore unknown subtypes */
		}
	}
}

static void
tcp_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	struct tcp *t = arg;
	struct bconn *b = t->b;
	struct peer *p;
	struct bgp_error err;
	struct fsm_out o;
	uint8_t type;
	uint16_t mlen;

	(void)c;
	if (!b)
		return;
	p = b->peer;
	p->st.msgs_in++;
	memset(&err, 0, sizeof(err));
	if (bgp_hdr_check(msg, len, b->fsm.nego.sess.ext_msg ? BGP_MAX_EXT_MSG : BGP_MAX_MSG, &type,
	                  &mlen, &err) < 0) {
		log_notice("peer %s %s: bad message header: %s", p->cp->name, p->addrstr,
		           err.reason);
		bconn_event(b, FSM_EV_HEADER_ERR, NULL, &err);
		goto out;
	}
	switch (type) {
	case BGP_MSG_OPEN: {
		struct bgp_open open;
		if (bgp_open_decode(msg, len, &open, &err) < 0) {
			log_notice("peer %s %s: bad OPEN: %s", p->cp->name, p->addrstr, err.reason);
			bconn_event(b, FSM_EV_OPEN_ERR, NULL, &err);
			break;
		}
		if (!collision(b, &open))
			break;
		bconn_event_out(b, FSM_EV_BGP_OPEN, &open, NULL, &o);
		break;
	}
	case BGP_MSG_UPDATE:
		bconn_event_out(b, FSM_EV_UPDATE_MSG, NULL, NULL, &o);
		for (unsigned i = 0; i < o.n; i++)
			if (o.act[i].type == FSM_ACT_PROCESS_UPDATE && b->tcp)
				process_update(b, msg, len);
		break;
	case BGP_MSG_NOTIFICATION: {
		struct bgp_notify n;
		if (bgp_notify_decode(msg, len, &n, &err) < 0)
			break;
		snprintf(p->last_error, sizeof(p->last_error), "received %u/%u %s%s%s", n.code,
		         n.subcode, bgp_err_name(n.code, n.subcode), n.shutdown_msg[0] ? ": " : "",
		         n.shutdown_msg);
		log_notice("peer %s %s: received NOTIFICATION %u/%u (%s)%s%s%s", p->cp->name,
		           p->addrstr, n.code, n.subcode, bgp_err_name(n.code, n.subcode),
		           n.shutdown_msg[0] ? " \"" : "", n.shutdown_msg,
		           n.shutdown_msg[0] ? "\"" : "");
		reason_pinned = true;
		bconn_event(b,
		            n.code == BGP_ERR_OPEN && n.subcode == BGP_ERR_OPEN_VERSION
		                ? FSM_EV_NOTIF_VERSION_ERR
		                : FSM_EV_NOTIF,
		            NULL, NULL);
		reason_pinned = false;
		break;
	}
	case BGP_MSG_KEEPALIVE:
		bconn_event(b, FSM_EV_KEEPALIVE_MSG, NULL, NULL);
		break;
	case BGP_MSG_ROUTE_REFRESH:
		bconn_event_out(b, FSM_EV_ROUTE_REFRESH_MSG, NULL, NULL, &o);
		for (unsigned i = 0; i < o.n; i++)
			if (o.act[i].type == FSM_ACT_PROCESS_REFRESH && b->tcp)
				process_refresh(b, msg, len);
		break;
	}
out:
	bconn_after(b);
}

static void
tcp_framing_error(struct io_conn *c, void *arg, unsigned len)
{
	struct tcp *t = arg;
	struct bconn *b = t->b;
	struct bgp_error err;

	(void)c;
	if (!b)
		return;
	/* RFC 4271 §6.1: Bad Message Length, data = the length field. */
	memset(&err, 0, sizeof(err));
	err.code = BGP_ERR_HEADER;
	err.subcode = BGP_ERR_HDR_LENGTH;
	err.buf[0] = (uint8_t)(len >> 8);
	err.buf[1] = (uint8_t)len;
	err.data = err.buf;
	err.data_len = 2;
	err.reason = "message length out of range";
	log_notice("peer %s %s: bad message length %u", b->peer->cp->name, b->peer->addrstr, len);
	bconn_event(b, FSM_EV_HEADER_ERR, NULL, &err);
	bconn_after(b);
}

static void
tcp_connected(struct io_conn *c, void *arg)
{
	struct tcp *t = arg;
	struct bconn *b = t->b;

	(void)c;
	if (!b)
		return;
	bconn_event(b, FSM_EV_TCP_CR_ACKED, NULL, NULL);
	bconn_after(b);
}

static void
tcp_closed(struct io_conn *c, void *arg, enum io_close why, int err)
{
	struct tcp *t = arg;
	struct bconn *b = t->b;
	struct sess_loop *sl = t->sl;

	(void)c;
	free(t);
	sl->ntcp--;
	if (b) {
		struct peer *p = b->peer;
		bool pinned = true;
		b->tcp = NULL;
		if (why == IO_CLOSE_CONNECT)
			snprintf(p->last_error, sizeof(p->last_error), "connect: %s",
			         strerror(-err));
		else if (why == IO_CLOSE_EOF && !p->last_error[0])
			snprintf(p->last_error, sizeof(p->last_error), "connection closed by peer");
		else if (why == IO_CLOSE_ERROR)
			snprintf(p->last_error, sizeof(p->last_error), "socket: %s",
			         strerror(-err));
		else
			pinned = false;
		reason_pinned = pinned;
		bconn_event(b, FSM_EV_TCP_FAILS, NULL, NULL);
		reason_pinned = false;
		bconn_after(b);
	}
	if (sl->stopping && sl->ntcp == 0)
		daemon_loop_drained(sl);
}

/* ---- peers -------------------------------------------------------------------------------- */

static void
fsm_cfg_from(struct fsm_cfg *f, const struct cfg *c, const struct cfg_peer *cp)
{
	fsm_cfg_defaults(f);
	f->open.local_as = c->asn;
	f->open.peer_as = cp->asn_any ? 0 : cp->asn;
	f->open.router_id = c->router_id;
	f->open.hold_time = cp->hold_time;
	f->open.keepalive = cp->keepalive;
	f->open.two_octet_asn_only = c->two_octet_asn_only;
	f->open.caps_offer |= BGP_CAPF_MP | BGP_CAPF_EXTMSG;
	if (cp->route_refresh)
		f->open.caps_offer |= BGP_CAPF_RREFRESH | BGP_CAPF_ERR;
	else
		f->open.caps_offer &= ~(BGP_CAPF_RREFRESH | BGP_CAPF_ERR);
	if (!c->two_octet_asn_only)
		f->open.caps_offer |= BGP_CAPF_AS4;
	f->open.af_offer[BGP_AF_IPV4] = 1;
	f->open.af_offer[BGP_AF_IPV6] = 1;
	f->passive = cp->passive || cp->is_range;
	f->connect_retry_time = 5;
	f->connect_retry_max = 120;
	f->idle_hold_time = 1;
	f->idle_hold_max = 120;
	f->stable_time = 60;
}

static void
peer_addr_set(struct peer *p, const struct sockaddr *sa, socklen_t len)
{
	memcpy(&p->sa, sa, len);
	p->salen = len;
	cfg_addr_from_sockaddr(sa, &p->addr);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, p->addrstr,
		          sizeof(p->addrstr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, p->addrstr,
		          sizeof(p->addrstr));
}

static struct peer *
peer_alloc(struct sess_loop *sl, const struct cfg *c, const struct cfg_peer *cp)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->sl = sl;
	p->cp = cp;
	p->cfg = c;
	p->exp.group = -1;
	fsm_cfg_from(&p->fcfg, c, cp);
	p->next = sl->peers;
	if (sl->peers)
		sl->peers->prev = p;
	sl->peers = p;
	sl->npeers++;
	return p;
}

static void
peer_free(struct peer *p)
{
	struct sess_loop *sl = p->sl;

	exp_peer_down(sl->d->exp, sl, p);
	for (int i = 0; i < 2; i++)
		if (p->conn[i])
			bconn_free(p->conn[i]);
	if (p->prev)
		p->prev->next = p->next;
	else
		sl->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	sl->npeers--;
	free(p);
}

struct peer *
sess_peer_new(struct sess_loop *sl, const struct cfg *c, const struct cfg_peer *cp)
{
	struct peer *p = peer_alloc(sl, c, cp);
	struct sockaddr_storage ss;
	socklen_t len;

	if (!p)
		return NULL;
	memset(&ss, 0, sizeof(ss));
	if (cp->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(CFG_DEFAULT_PORT);
		memcpy(&s4->sin_addr, cp->addr.addr, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(CFG_DEFAULT_PORT);
		memcpy(&s6->sin6_addr, cp->addr.addr, 16);
		len = sizeof(*s6);
	}
	peer_addr_set(p, (struct sockaddr *)&ss, len);
	if (!cp->enabled)
		return p; /* configured but shut: no FSM */
	p->conn[0] = bconn_new(p);
	if (!p->conn[0]) {
		log_error("peer %s: cannot start its FSM", cp->name);
		return p;
	}
	bconn_event(p->conn[0], p->fcfg.passive ? FSM_EV_AUTO_START_PASSIVE : FSM_EV_AUTO_START,
	            NULL, NULL);
	return p;
}

void
sess_peer_delete(struct peer *p, uint8_t subcode, const char *msg)
{
	uint8_t data[256];
	struct bgp_error e;
	size_t l = msg ? strlen(msg) : 0;

	p->deleting = true;
	memset(&e, 0, sizeof(e));
	e.code = BGP_ERR_CEASE;
	e.subcode = subcode;
	if (subcode == BGP_ERR_CEASE_ADMIN_SHUTDOWN || subcode == BGP_ERR_CEASE_ADMIN_RESET) {
		/* RFC 8203 §2: length-prefixed UTF-8 shutdown communication. */
		if (l > 255)
			l = 255;
		data[0] = (uint8_t)l;
		memcpy(data + 1, msg, l);
		e.data = data;
		e.data_len = (uint16_t)(l + 1);
	}
	e.reason = msg;
	for (int i = 0; i < 2; i++) {
		struct bconn *b = p->conn[i];
		if (!b)
			continue;
		bconn_event(b, FSM_EV_MANUAL_STOP, NULL, &e);
	}
	peer_free(p);
}

void
sess_peer_update(struct peer *p, const struct cfg *c, const struct cfg_peer *cp)
{
	p->cp = cp;
	p->cfg = c;
	/* Only live settings changed (cfg_diff UPDATE); the FSM keeps its own
	 * copy of what the session negotiated with. */
	fsm_cfg_from(&p->fcfg, c, cp);
	/* A new max_routes or max_routes_action may put the routes held
	 * over the limit, or back within it (warn: logged once). */
	if (p->exp.id)
		exp_peer_limit(p);
}

struct peer *
sess_peer_find(struct sess_loop *sl, const char *name, const struct cfg_addr *addr)
{
	for (struct peer *p = sl->peers; p; p = p->next) {
		if (strcmp(p->cp->name, name) != 0)
			continue;
		if (addr && memcmp(&p->addr, addr, sizeof(*addr)) != 0)
			continue;
		return p;
	}
	return NULL;
}

static void
refuse(int fd)
{
	close(fd);
}

void
sess_incoming(struct sess_loop *sl, const struct cfg *c, const struct cfg_peer *cp, int fd,
              const struct sockaddr *remote, socklen_t rlen)
{
	struct cfg_addr ra;
	struct peer *p;
	struct bconn *b;
	struct tcp *t;
	struct io_sock_opts o;
	int slot;

	if (sl->stopping) {
		refuse(fd);
		return;
	}
	cfg_addr_from_sockaddr(remote, &ra);
	p = sess_peer_find(sl, cp->name, cp->is_range ? &ra : NULL);
	if (!p && cp->is_range) {
		p = peer_alloc(sl, c, cp);
		if (!p) {
			refuse(fd);
			return;
		}
		p->dynamic = true;
		peer_addr_set(p, remote, rlen);
		log_info("peer %s %s: dynamic neighbour connected", cp->name, p->addrstr);
	}
	if (!p || !cp->enabled || p->deleting) {
		refuse(fd);
		return;
	}
	/* Slot 0 takes the connection if it waits for one (Active, or Connect
	 * with no socket); otherwise slot 1 holds it until collision
	 * resolution (RFC 4271 §6.8). */
	b = p->conn[0];
	if (!b) {
		b = p->conn[0] = bconn_new(p);
		if (!b) {
			refuse(fd);
			return;
		}
		bconn_event(b, FSM_EV_AUTO_START_PASSIVE, NULL, NULL);
	}
	if (!b->tcp && b->fsm.state == FSM_ST_IDLE && !p->conn[1]) {
		/* Waiting to retry (idle hold after a failed connect): a peer
		 * that calls us need not wait for our next attempt. */
		bconn_event(b, FSM_EV_AUTO_START_PASSIVE, NULL, NULL);
		b->fsm.passive_start = p->fcfg.passive;
	}
	if (!b->tcp && (b->fsm.state == FSM_ST_ACTIVE || b->fsm.state == FSM_ST_CONNECT)) {
		slot = 0;
	} else if (!p->conn[1] && b->fsm.state != FSM_ST_IDLE) {
		b = p->conn[1] = bconn_new(p);
		if (!b) {
			refuse(fd);
			return;
		}
		bconn_event(b, FSM_EV_AUTO_START_PASSIVE, NULL, NULL);
		slot = 1;
	} else {
		/* Idle (idle hold of a flapping peer, RFC 4271 §8.2.2: Idle
		 * refuses connections) or both slots busy. */
		log_debug("peer %s %s: connection refused in state %s", cp->name, p->addrstr,
		          fsm_state_name(b->fsm.state));
		refuse(fd);
		bconn_after(p->conn[0]);
		return;
	}
	t = tcp_new(b);
	if (!t) {
		refuse(fd);
		return;
	}
	peer_sockopts(p, &o);
	o.md5_keylen = 0; /* the listener holds the key */
	io_sock_apply(fd, remote, rlen, &o);
	if (io_conn_attach(sl->io, fd, &tcp_ops, t, &t->io) < 0) {
		free(t);
		bconn_after(b);
		return;
	}
	sl->ntcp++;
	b->tcp = t;
	b->outbound = false;
	(void)slot;
	bconn_event(b, FSM_EV_TCP_CONFIRMED, NULL, NULL);
	bconn_after(b);
}

void
sess_peer_reset(struct peer *p, const struct bgp_error *err)
{
	for (int i = 0; i < 2; i++) {
		struct bconn *b = p->conn[i];
		if (b && b->fsm.state == FSM_ST_ESTABLISHED) {
			bconn_event(b, FSM_EV_UPDATE_ERR, NULL, err);
			bconn_after(b); /* may free p: nothing after this */
			return;
		}
	}
}

void
sess_peer_reset_op(struct peer *p, int mode, const char *msg)
{
	struct bconn *b = p->conn[0];
	const struct fsm_nego *n;
	uint8_t data[256], buf[32];
	struct bgp_error e;
	size_t l, len;

	if (!b || b->fsm.state != FSM_ST_ESTABLISHED)
		return;
	n = &b->fsm.nego;
	if (mode == DAEMON_RESET_OUT) {
		log_info("peer %s %s: soft reset out: sending our table again", p->cp->name,
		         p->addrstr);
		for (int af = 0; af < BGP_AF_MAX; af++)
			if (n->sess.af[af])
				exp_peer_resend(p->sl->d->exp, p->sl, p, af);
		return;
	}
	if (mode == DAEMON_RESET_IN && n->rrefresh) {
		/* RFC 2918 §3: ask the peer to send its Adj-RIB-Out again; with
		 * RFC 7313 it frames the answer with BoRR/EoRR and we sweep. */
		log_info("peer %s %s: soft reset in: ROUTE-REFRESH sent", p->cp->name, p->addrstr);
		for (int af = 0; af < BGP_AF_MAX; af++) {
			struct bgp_rrefresh rr = {.afi = bgp_af_afi(af),
			                          .subtype = BGP_RR_NORMAL,
			                          .safi = BGP_SAFI_UNICAST};
			if (n->sess.af[af] && bgp_rrefresh_encode(&rr, buf, sizeof(buf), &len) == 0)
				send_copy(b, buf, len);
		}
		return;
	}
	/* Hard reset, or soft in towards a peer without route refresh. */
	log_info("peer %s %s: %s", p->cp->name, p->addrstr,
	         mode == DAEMON_RESET_IN ? "no route refresh: soft reset in becomes a hard reset"
	                                 : "hard reset by the operator");
	l = msg ? strlen(msg) : 0;
	if (l > 255)
		l = 255;
	data[0] = (uint8_t)l; /* RFC 8203 §2 */
	if (l)
		memcpy(data + 1, msg, l);
	memset(&e, 0, sizeof(e));
	e.code = BGP_ERR_CEASE;
	e.subcode = BGP_ERR_CEASE_ADMIN_RESET;
	e.data = data;
	e.data_len = (uint16_t)(l + 1);
	e.reason = "administrative reset";
	sess_peer_reset(p, &e);
}
