/*
 * io/conn.c — TCP connections on a loop: connect, receive and frame, send
 * queues, graceful close.
 *
 * Runs on the owning loop's thread. Per connection at most three operations
 * are in the kernel: one connect, one multishot recv (buffers from the loop's
 * provided-buffer ring, so an idle connection owns no receive memory), one
 * sendmsg covering up to IO_SEND_IOV queued buffers. Sends are batched: a
 * connection with new data goes on loop->dirty and io_conns_flush() issues
 * its sendmsg once per loop round, whatever number of buffers was queued.
 *
 * Life cycle: CONNECTING -> OPEN -> [DRAINING -> LINGER] -> DEAD -> freed.
 * Invariants: a conn is freed only in maybe_finish(), only when DEAD with no
 * operation in flight and on no loop list, and maybe_finish() is called only
 * from completion handlers and list processing, never from a function the
 * owner calls - so closed() never runs inside the owner's own io_conn_close().
 * The send queue holds one reference per queued buffer; buffers covered by an
 * in-flight sendmsg stay in the queue (owned by the kernel) until its
 * completion.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "io_int.h"

static void	teardown(struct io_conn *);
static void	maybe_finish(struct io_conn *);

static void
linger_fire(struct io_timer *t, void *arg)
{
	struct io_conn	*c = arg;

	(void)t;
	/* the drain or the peer's FIN took too long */
	teardown(c);
}

static struct io_conn *
conn_new(struct io_loop *l, int fd, const struct io_conn_ops *ops, void *arg)
{
	struct io_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	IO_BUG_ON(((uintptr_t)c & IO_OP_MASK) != 0);
	c->loop = l;
	c->ops = ops;
	c->arg = arg;
	c->fd = fd;
	io_frame_init(&c->fr, IO_MAX_MSG);
	io_timer_init(&c->linger, l, linger_fire, c);
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	return c;
}

static void
conn_release(struct io_conn *c)
{
	struct io_loop	*l = c->loop;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	io_timer_disarm(&c->linger);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	while (c->qlen > 0) {
		io_buf_unref(c->q[c->qhead]);
		c->qhead = (c->qhead + 1) & (c->qcap - 1);
		c->qlen--;
	}
	free(c->q);
	free(c->sc);
	free(c->stash);
	c->stash = NULL;
	c->stash_len = 0;
	io_frame_fini(&c->fr);
}

static void
conn_dirty(struct io_conn *c)
{
	if (c->on_dirty)
		return;
	c->on_dirty = true;
	c->dirty_next = c->loop->dirty;
	c->loop->dirty = c;
}

static void
arm_recv(struct io_conn *c)
{
	struct io_uring_sqe	*sqe;

	if (c->recv_armed)
		return;
	sqe = io_sqe(c->loop);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, io_ud(c, IO_OP_RECV));
	c->recv_armed = true;
	c->inflight++;
}

/* The first reason wins; a LOCAL close keeps the first error seen after. */
static void
conn_fail(struct io_conn *c, enum io_close why, int err)
{
	if (!c->user_closed) {
		c->why = why;
		c->err = err;
		c->user_closed = true;
	} else if (c->err == 0)
		c->err = err;
	teardown(c);
}

static void
teardown(struct io_conn *c)
{
	struct io_uring_sqe	*sqe;

	if (c->state == IO_CS_DEAD)
		return;
	c->state = IO_CS_DEAD;
	c->user_closed = true;
	io_timer_disarm(&c->linger);
	if (c->inflight > 0) {
		/* shutdown ends a pending recv/send at once; the cancel takes
		 * care of a connect and of anything parked in the kernel */
		shutdown(c->fd, SHUT_RDWR);
		sqe = io_sqe(c->loop);
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, io_ud(NULL, IO_OP_IGNORE));
	}
	if (!c->on_dead) {
		c->on_dead = true;
		c->dead_next = c->loop->dead;
		c->loop->dead = c;
	}
}

static void
maybe_finish(struct io_conn *c)
{
	if (c->state != IO_CS_DEAD || c->inflight > 0 || c->on_dirty ||
	    c->on_starved || c->on_dead)
		return;
	c->st.sendq_bytes = 0;
	conn_release(c);
	if (c->ops->closed != NULL)
		c->ops->closed(c, c->arg, c->why, c->err);
	free(c);
}

static void
start_linger(struct io_conn *c)
{
	if (c->eof_pending) {
		/* the peer's FIN came while we were paused */
		teardown(c);
		return;
	}
	/* RFC 4271 §8.2.1.2 wants the NOTIFICATION read: send FIN after it and
	 * keep reading until the peer's FIN, so closing does not send an RST
	 * that could discard it at the peer */
	if (shutdown(c->fd, SHUT_WR) == -1 ||
	    io_timer_arm(&c->linger, c->loop->conf.linger_ms) < 0) {
		teardown(c);
		return;
	}
	c->state = IO_CS_LINGER;
	if (!c->recv_armed && !c->on_starved)
		arm_recv(c);	/* paused before: we must see the FIN */
}

/* ---- receive ------------------------------------------------------------- */

static int
conn_deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct io_conn	*c = arg;

	c->st.msgs_in++;
	c->ops->msg(c, c->arg, msg, len);
	/* the owner may have closed or paused us from its callback */
	return c->state == IO_CS_OPEN && !c->user_closed && !c->paused ? 0 : 1;
}

static void
conn_bad(void *arg, unsigned len)
{
	struct io_conn	*c = arg;

	if (c->ops->framing_error != NULL)
		c->ops->framing_error(c, c->arg, len);
}

static int
stash_add(struct io_conn *c, const uint8_t *p, size_t n)
{
	uint8_t	*ns;

	if (n == 0)
		return 0;
	if (n > UINT32_MAX - c->stash_len ||
	    (ns = realloc(c->stash, c->stash_len + n)) == NULL)
		return -ENOMEM;
	memcpy(ns + c->stash_len, p, n);
	c->stash = ns;
	c->stash_len += (uint32_t)n;
	return 0;
}

/* Received bytes of an open connection: to the framer, or kept while paused. */
static void
conn_input(struct io_conn *c, const uint8_t *p, size_t n)
{
	struct io_frame_cb	 cb = { conn_deliver, conn_bad, c };
	size_t			 used;
	int			 r = 0;

	if (c->paused || c->stash_len > 0)
		r = stash_add(c, p, n);
	else {
		r = io_frame_feed(&c->fr, p, n, &cb, &used);
		/* paused from msg(): keep the rest for io_conn_pause(false) */
		if (r == 1 && c->paused && c->state == IO_CS_OPEN &&
		    !c->user_closed)
			r = stash_add(c, p + used, n - used);
	}
	if (r == -ENOMEM)
		conn_fail(c, IO_CLOSE_ERROR, -ENOMEM);
}

/* Resumed: deliver what was kept, then read again (or report the FIN). */
static void
conn_resume(struct io_conn *c)
{
	uint8_t		*p = c->stash;
	size_t		 n = c->stash_len;

	c->stash = NULL;
	c->stash_len = 0;
	if (n > 0)
		conn_input(c, p, n);
	free(p);
	if (c->state != IO_CS_OPEN || c->user_closed || c->paused)
		return;
	if (c->eof_pending)
		conn_fail(c, IO_CLOSE_EOF, 0);
	else
		arm_recv(c);
}

static void
recv_cqe(struct io_conn *c, struct io_uring_cqe *cqe)
{
	struct io_loop		*l = c->loop;
	const uint8_t		*data = NULL;
	unsigned		 bid = 0;
	int			 res = cqe->res;
	bool			 more = (cqe->flags & IORING_CQE_F_MORE) != 0;

	if (!more) {
		c->recv_armed = false;
		c->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		data = l->rbufs + (size_t)bid * l->conf.rbuf_size;
	}
	if (res > 0 && data != NULL) {
		c->st.bytes_in += (unsigned)res;
		if (c->state == IO_CS_OPEN && !c->user_closed)
			conn_input(c, data, (size_t)res);
		/* LINGER and DRAINING read only to see the peer's FIN */
	}
	if (data != NULL) {
		/* back to the kernel at the end of this batch (reap()) */
		io_uring_buf_ring_add(l->br, (void *)(uintptr_t)data,
		    l->conf.rbuf_size, (unsigned short)bid, (int)l->br_mask,
		    (int)l->br_pending++);
	}
	if (res == 0) {
		if ((c->paused || c->stash_len > 0) &&
		    c->state == IO_CS_OPEN && !c->user_closed)
			c->eof_pending = true;	/* after what we kept */
		else if (c->state != IO_CS_DEAD)
			conn_fail(c, IO_CLOSE_EOF, 0);
	} else if (res == -ENOBUFS) {
		/* every buffer was in use: retry once this batch returned
		 * them (io_conns_rearm) rather than spin now */
		l->st.enobufs++;
		if (c->state != IO_CS_DEAD && !c->on_starved) {
			c->on_starved = true;
			c->starved_next = l->starved;
			l->starved = c;
		}
	} else if (res == -ECANCELED) {
		/* io_conn_pause() (or teardown) cancelled it */
		if (c->state != IO_CS_DEAD && !c->paused && !more)
			arm_recv(c);
	} else if (res < 0) {
		if (c->state != IO_CS_DEAD)
			conn_fail(c, IO_CLOSE_ERROR, res);
	} else if (!more && c->state != IO_CS_DEAD && !c->paused)
		arm_recv(c);	/* multishot ended without error (CQ full) */
}

/* ---- send ---------------------------------------------------------------- */

static void
send_start(struct io_conn *c)
{
	struct io_sendctx	*sc;
	struct io_uring_sqe	*sqe;
	struct io_buf		*b;
	unsigned		 k, n;
	uint32_t		 off;

	if (c->send_busy || c->qlen == 0 || c->state == IO_CS_CONNECTING ||
	    c->state == IO_CS_DEAD)
		return;
	if (c->sc == NULL || (c->sc->cap < c->qlen && c->sc->cap < IO_SEND_IOV)) {
		unsigned cap = IO_SEND_IOV_MIN;
		while (cap < c->qlen && cap < IO_SEND_IOV)
			cap *= 2;
		sc = malloc(sizeof(*sc) + cap * sizeof(sc->iov[0]));
		if (sc != NULL) {
			free(c->sc);
			c->sc = sc;
			sc->cap = cap;
		} else if (c->sc == NULL) {
			conn_fail(c, IO_CLOSE_ERROR, -ENOMEM);
			return;
		}
	}
	sc = c->sc;
	n = c->qlen < sc->cap ? c->qlen : sc->cap;
	for (k = 0; k < n; k++) {
		b = c->q[(c->qhead + k) & (c->qcap - 1)];
		off = k == 0 ? c->qoff : 0;
		sc->iov[k].iov_base = b->data + off;
		sc->iov[k].iov_len = b->len - off;
	}
	memset(&sc->msg, 0, sizeof(sc->msg));
	sc->msg.msg_iov = sc->iov;
	sc->msg.msg_iovlen = n;
	sc->nbufs = n;
	sqe = io_sqe(c->loop);
	/* MSG_WAITALL: the kernel retries short sends on a stream socket */
	io_uring_prep_sendmsg(sqe, c->fd, &sc->msg, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, io_ud(c, IO_OP_SEND));
	c->send_busy = true;
	c->inflight++;
	c->st.sendmsgs++;
}

static void
send_consume(struct io_conn *c, uint32_t n)
{
	struct io_buf	*b;
	uint32_t	 rem;

	c->st.bytes_out += n;
	c->st.sendq_bytes -= n;
	while (n > 0) {
		IO_BUG_ON(c->qlen == 0);
		b = c->q[c->qhead];
		rem = b->len - c->qoff;
		if (n < rem) {
			c->qoff += n;
			break;
		}
		n -= rem;
		c->q[c->qhead] = NULL;
		c->qhead = (c->qhead + 1) & (c->qcap - 1);
		c->qlen--;
		c->qoff = 0;
		c->st.bufs_out++;
		io_buf_unref(b);
	}
}

static void
send_cqe(struct io_conn *c, struct io_uring_cqe *cqe)
{
	c->send_busy = false;
	c->inflight--;
	if (cqe->res > 0)
		send_consume(c, (uint32_t)cqe->res);
	else if (c->state != IO_CS_DEAD)
		conn_fail(c, IO_CLOSE_ERROR, cqe->res == 0 ? -EPIPE : cqe->res);
	if (c->state == IO_CS_DEAD)
		return;
	if (c->qlen > 0) {
		conn_dirty(c);
		return;
	}
	/* drained: give the iovec memory back while idle */
	free(c->sc);
	c->sc = NULL;
	if (c->state == IO_CS_DRAINING)
		start_linger(c);
}

static int
queue_grow(struct io_conn *c)
{
	struct io_buf	**nq;
	unsigned	  ncap = c->qcap ? c->qcap * 2 : 8, i;

	if ((nq = malloc(ncap * sizeof(*nq))) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->qlen; i++)
		nq[i] = c->q[(c->qhead + i) & (c->qcap - 1)];
	free(c->q);
	c->q = nq;
	c->qcap = ncap;
	c->qhead = 0;
	return 0;
}

int
io_conn_send(struct io_conn *c, struct io_buf *b)
{
	int	 r;

	if (c->user_closed || c->state == IO_CS_DEAD)
		return -EPIPE;
	if (b->len == 0)
		return 0;
	if (c->qlen == c->qcap && (r = queue_grow(c)) < 0)
		return r;
	c->q[(c->qhead + c->qlen) & (c->qcap - 1)] = io_buf_ref(b);
	c->qlen++;
	c->st.sendq_bytes += b->len;
	if (!c->send_busy)
		conn_dirty(c);
	return 0;
}

int
io_conn_send_copy(struct io_conn *c, const void *data, size_t len)
{
	struct io_buf	*b;
	int		 r;

	if (c->user_closed || c->state == IO_CS_DEAD)
		return -EPIPE;
	if ((b = io_buf_new(len)) == NULL)
		return -ENOMEM;
	memcpy(b->data, data, len);
	r = io_conn_send(c, b);
	io_buf_unref(b);
	return r;
}

/* ---- completions and per-round work ------------------------------------ */

void
io_conn_cqe(struct io_conn *c, enum io_op op, struct io_uring_cqe *cqe)
{
	switch (op) {
	case IO_OP_CONNECT:
		c->inflight--;
		if (c->state != IO_CS_CONNECTING)
			break;
		if (cqe->res < 0) {
			conn_fail(c, IO_CLOSE_CONNECT, cqe->res);
			break;
		}
		c->state = IO_CS_OPEN;
		if (!c->paused)
			arm_recv(c);
		if (c->qlen > 0)
			conn_dirty(c);
		if (c->ops->connected != NULL)
			c->ops->connected(c, c->arg);
		break;
	case IO_OP_RECV:
		recv_cqe(c, cqe);
		break;
	case IO_OP_SEND:
		send_cqe(c, cqe);
		break;
	default:
		IO_BUG("op %u", (unsigned)op);
	}
	maybe_finish(c);
}

void
io_conns_flush(struct io_loop *l)
{
	struct io_conn	*c;

	/* bounded: a conn goes back on the list only from a completion */
	while ((c = l->dirty) != NULL) {
		l->dirty = c->dirty_next;
		c->on_dirty = false;
		send_start(c);
		maybe_finish(c);
	}
}

void
io_conns_rearm(struct io_loop *l)
{
	struct io_conn	*c;

	while ((c = l->starved) != NULL) {
		l->starved = c->starved_next;
		c->on_starved = false;
		if (c->state == IO_CS_OPEN && !c->user_closed) {
			if (!c->paused)
				conn_resume(c);
		} else if (c->state != IO_CS_DEAD)
			arm_recv(c);	/* DRAINING/LINGER wait for the FIN */
		maybe_finish(c);
	}
	while ((c = l->dead) != NULL) {
		l->dead = c->dead_next;
		c->on_dead = false;
		maybe_finish(c);
	}
}

void
io_conns_shutdown(struct io_loop *l)
{
	struct io_conn	*c;

	for (c = l->conns; c != NULL; c = c->next) {
		c->user_closed = true;	/* keeps an earlier reason */
		teardown(c);
	}
}

void
io_conns_free_all(struct io_loop *l)
{
	struct io_conn	*c;

	while ((c = l->conns) != NULL) {
		conn_release(c);
		free(c);
	}
	l->dirty = l->starved = l->dead = NULL;
}

/* ---- public: creation, close, accessors --------------------------------- */

int
io_conn_attach(struct io_loop *l, int fd, const struct io_conn_ops *ops,
    void *arg, struct io_conn **out)
{
	struct io_conn	*c;
	int		 fl;

	*out = NULL;
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		fl = -errno;
		close(fd);
		return fl;
	}
	if ((c = conn_new(l, fd, ops, arg)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->state = IO_CS_OPEN;
	arm_recv(c);
	*out = c;
	return 0;
}

int
io_conn_connect(struct io_loop *l, const struct sockaddr *remote,
    socklen_t rlen, const struct sockaddr *local, socklen_t llen,
    const struct io_sock_opts *opts, const struct io_conn_ops *ops,
    void *arg, struct io_conn **out)
{
	struct io_uring_sqe	*sqe;
	struct io_conn		*c;
	int			 fd, r, one = 1;

	*out = NULL;
	if (remote == NULL || rlen > sizeof(union io_sa) ||
	    (remote->sa_family != AF_INET && remote->sa_family != AF_INET6) ||
	    (local != NULL && local->sa_family != remote->sa_family))
		return -EINVAL;
	fd = socket(remote->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (local != NULL) {
		/* port chosen at connect time: many sessions may share one
		 * source address without exhausting ports at bind */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, local, llen) == -1) {
			r = -errno;
			goto fail;
		}
	}
	if ((r = io_sock_apply(fd, remote, rlen, opts)) < 0)
		goto fail;
	if ((c = conn_new(l, fd, ops, arg)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(&c->remote, remote, rlen);
	c->state = IO_CS_CONNECTING;
	sqe = io_sqe(l);
	io_uring_prep_connect(sqe, fd, &c->remote.sa, rlen);
	io_uring_sqe_set_data64(sqe, io_ud(c, IO_OP_CONNECT));
	c->inflight++;
	*out = c;
	return 0;
fail:
	close(fd);
	return r;
}

void
io_conn_close(struct io_conn *c, bool flush)
{
	if (c->state == IO_CS_DEAD)
		return;
	if (!c->user_closed) {
		c->user_closed = true;
		c->why = IO_CLOSE_LOCAL;
		c->err = 0;
	}
	/* nothing is delivered after close: kept input is dropped */
	c->paused = false;
	free(c->stash);
	c->stash = NULL;
	c->stash_len = 0;
	switch (c->state) {
	case IO_CS_OPEN:
		if (!flush)
			teardown(c);
		else if (c->qlen > 0 || c->send_busy) {
			/* the linger timer also bounds the drain */
			if (io_timer_arm(&c->linger,
			    c->loop->conf.linger_ms) < 0)
				teardown(c);
			else
				c->state = IO_CS_DRAINING;
		} else
			start_linger(c);
		break;
	case IO_CS_DRAINING:
	case IO_CS_LINGER:
		if (!flush)
			teardown(c);
		break;
	default:
		teardown(c);
		break;
	}
}

int
io_conn_pause(struct io_conn *c, bool pause)
{
	struct io_uring_sqe	*sqe;

	if (c->user_closed || c->state == IO_CS_DEAD)
		return -EPIPE;
	if (pause == c->paused)
		return 0;
	c->paused = pause;
	if (pause) {
		/* stop reading; what the kernel already read is kept */
		if (c->recv_armed) {
			sqe = io_sqe(c->loop);
			io_uring_prep_cancel64(sqe, io_ud(c, IO_OP_RECV), 0);
			io_uring_sqe_set_data64(sqe, io_ud(NULL, IO_OP_IGNORE));
		}
		return 0;
	}
	/* resume in the next round, not inside the caller */
	if (!c->on_starved && c->state == IO_CS_OPEN) {
		c->on_starved = true;
		c->starved_next = c->loop->starved;
		c->loop->starved = c;
	}
	return 0;
}

int
io_conn_set_max_msg(struct io_conn *c, unsigned max)
{
	if (max < IO_HDR_LEN || max > IO_MAX_EXT_MSG)
		return -EINVAL;
	c->fr.max = max;
	return 0;
}

void
io_conn_stats(const struct io_conn *c, struct io_conn_stats *st)
{
	*st = c->st;
	st->sendq_bufs = c->qlen;
}

int
io_conn_fd(const struct io_conn *c)
{
	return c->fd;
}

struct io_loop *
io_conn_loop(const struct io_conn *c)
{
	return c->loop;
}

int
io_conn_addrs(const struct io_conn *c, struct sockaddr_storage *remote,
    struct sockaddr_storage *local)
{
	socklen_t	 len;

	if (remote != NULL) {
		len = sizeof(*remote);
		if (getpeername(c->fd, (struct sockaddr *)remote, &len) == -1)
			return -errno;
	}
	if (local != NULL) {
		len = sizeof(*local);
		if (getsockname(c->fd, (struct sockaddr *)local, &len) == -1)
			return -errno;
	}
	return 0;
}
