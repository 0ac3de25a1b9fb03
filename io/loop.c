/*
 * io/loop.c — one io_uring per I/O thread: its life cycle, the event loop,
 * completion dispatch, and the cross-thread doorbell.
 *
 * io_loop_run() runs on the loop's own thread; io_loop_post(), io_loop_wake()
 * and io_loop_stop() run on any thread. One iteration:
 *   prepare  - publish work batched during the last round: sendmsg for every
 *              connection with queued buffers, re-arm receives that ran out of
 *              buffers, finish dead objects, move the ring timeout earlier;
 *   wait     - one io_uring_submit_and_wait() submits all and sleeps;
 *   reap     - completions in one batch (io_uring_for_each_cqe, then a
 *              single io_uring_cq_advance), then the receive buffers they
 *              freed go back to the kernel with one store;
 *   timers, then cross-thread posts.
 * There is no other wait: timers, wake-ups (an eventfd read through the ring)
 * and sockets all arrive as completions.
 *
 * The ring is created disabled and single-issuer with deferred task work
 * (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, Linux 6.1): completions are
 * processed only when this thread waits, which is when we want them. It is
 * enabled on the loop thread in io_loop_run(). Older kernels get COOP_TASKRUN.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io_int.h"

#define REAP_BATCH	256	/* completions per dispatch round */
#define FINI_NS		5000000000ULL	/* teardown: at most 5 s */

static void
set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

struct io_uring_sqe *
io_sqe(struct io_loop *l)
{
	struct io_uring_sqe	*sqe;

	if ((sqe = io_uring_get_sqe(&l->ring)) != NULL)
		return sqe;
	/* SQ full: hand what we have to the kernel and take a fresh slot */
	if (l->ring_enabled)
		io_uring_submit(&l->ring);
	if ((sqe = io_uring_get_sqe(&l->ring)) == NULL)
		IO_BUG("submission queue full (%u entries; before io_loop_run?)",
		    l->conf.sq_entries);
	return sqe;
}

static void
conf_defaults(struct io_loop_conf *c, const struct io_loop_conf *in)
{
	memset(c, 0, sizeof(*c));
	if (in != NULL)
		*c = *in;
	if (c->sq_entries == 0)
		c->sq_entries = 1024;
	if (c->rbuf_count == 0)
		c->rbuf_count = 128;
	if (c->rbuf_size == 0)
		c->rbuf_size = 16384;
	if (c->post_slots == 0)
		c->post_slots = 8192;
	if (c->linger_ms == 0)
		c->linger_ms = 2000;
}

static int
ring_init(struct io_loop *l, char *err, size_t errlen)
{
	struct io_uring_params	 p;
	int			 r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
	p.cq_entries = l->conf.sq_entries * 8;
	r = io_uring_queue_init_params(l->conf.sq_entries, &l->ring, &p);
	if (r == -EINVAL) {
		/* before Linux 6.1 */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
		p.cq_entries = l->conf.sq_entries * 8;
		r = io_uring_queue_init_params(l->conf.sq_entries, &l->ring,
		    &p);
		l->ring_enabled = true;
	}
	if (r < 0) {
		set_err(err, errlen, "io_uring_queue_init: %s (see io_probe)",
		    strerror(-r));
		return r;
	}
	return 0;
}

static int
bufring_init(struct io_loop *l, char *err, size_t errlen)
{
	struct io_uring_buf_reg	 reg;
	size_t			 ringsz;
	unsigned		 i, n = l->conf.rbuf_count;
	void			*mem;
	int			 r;

	if (n == 0 || (n & (n - 1)) != 0 || n > 32768) {
		set_err(err, errlen, "rbuf_count %u: not a power of 2 <= 32768",
		    n);
		return -EINVAL;
	}
	ringsz = n * sizeof(struct io_uring_buf);
	if ((r = posix_memalign(&mem, 4096, ringsz)) != 0) {
		set_err(err, errlen, "buffer ring: %s", strerror(r));
		return -r;
	}
	memset(mem, 0, ringsz);
	l->br = mem;
	if ((l->rbufs = malloc((size_t)n * l->conf.rbuf_size)) == NULL) {
		set_err(err, errlen, "receive buffers: out of memory");
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)l->br;
	reg.ring_entries = n;
	reg.bgid = 0;
	if ((r = io_uring_register_buf_ring(&l->ring, &reg, 0)) < 0) {
		set_err(err, errlen, "io_uring_register_buf_ring: %s "
		    "(provided buffer rings need Linux 5.19)", strerror(-r));
		return r;
	}
	io_uring_buf_ring_init(l->br);
	l->br_mask = (unsigned)io_uring_buf_ring_mask(n);
	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(l->br,
		    l->rbufs + (size_t)i * l->conf.rbuf_size,
		    l->conf.rbuf_size, (unsigned short)i, (int)l->br_mask,
		    (int)i);
	io_uring_buf_ring_advance(l->br, (int)n);
	return 0;
}

int
io_loop_new(struct io_loop **out, const struct io_loop_conf *conf,
    char *err, size_t errlen)
{
	struct io_loop	*l;
	size_t		 sz = (sizeof(*l) + 63) & ~(size_t)63;
	int		 r;

	*out = NULL;
	if ((l = aligned_alloc(64, sz)) == NULL) {
		set_err(err, errlen, "io_loop: out of memory");
		return -ENOMEM;
	}
	memset(l, 0, sz);
	conf_defaults(&l->conf, conf);
	l->efd = -1;
	atomic_init(&l->wake_pending, 0);
	atomic_init(&l->poll_req, 0);
	atomic_init(&l->stop, false);
	if ((r = ring_init(l, err, errlen)) < 0) {
		free(l);
		return r;
	}
	if ((r = bufring_init(l, err, errlen)) < 0)
		goto fail;
	if ((l->conf.post_slots & (l->conf.post_slots - 1)) != 0 ||
	    l->conf.post_slots < 4) {
		set_err(err, errlen, "post_slots %u: not a power of 2 >= 4",
		    l->conf.post_slots);
		r = -EINVAL;
		goto fail;
	}
	if (io_mpsc_init(&l->posts, l->conf.post_slots) < 0) {
		set_err(err, errlen, "post queue: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		r = -errno;
		set_err(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	io_loop_free(l);
	return r;
}

static void
wakeup(struct io_loop *l)
{
	uint64_t	 one = 1;

	/*
	 * acq_rel: release orders our enqueue (or flag store) before the
	 * doorbell; the loop's exchange back to 0 (acq_rel) either reads our 1
	 * - then it sees our enqueue - or comes after it, and we ring again.
	 */
	if (atomic_exchange_explicit(&l->wake_pending, 1,
	    memory_order_acq_rel) == 0) {
		/* the counter only grows; EAGAIN (at 2^64-2) cannot happen */
		if (write(l->efd, &one, sizeof(one)) != sizeof(one))
			(void)0;
	}
}

int
io_loop_post(struct io_loop *l, void (*fn)(void *), void *arg)
{
	/* io_mpsc_push: release store of the slot's seq publishes it */
	if (!io_mpsc_push(&l->posts, fn, arg))
		return -EAGAIN;
	wakeup(l);
	return 0;
}

void
io_loop_set_poll(struct io_loop *l, void (*poll)(struct io_loop *, void *),
    void *arg)
{
	l->poll = poll;
	l->poll_arg = arg;
}

void
io_loop_wake(struct io_loop *l)
{
	/* release: the caller's published work happens before the loop's
	 * acquire exchange of poll_req, hence before poll() */
	atomic_store_explicit(&l->poll_req, 1, memory_order_release);
	wakeup(l);
}

void
io_loop_stop(struct io_loop *l)
{
	/* release: pairs with the acquire load at the top of each round */
	atomic_store_explicit(&l->stop, true, memory_order_release);
	wakeup(l);
}

static void
efd_arm(struct io_loop *l)
{
	struct io_uring_sqe	*sqe;

	if (l->efd_armed)
		return;
	sqe = io_sqe(l);
	io_uring_prep_read(sqe, l->efd, &l->efd_val, sizeof(l->efd_val), 0);
	io_uring_sqe_set_data64(sqe, io_ud(l, IO_OP_EVENTFD));
	l->efd_armed = true;
	l->inflight++;
}

/* Cross-thread work, bounded by the queue's size per call. */
static void
posts_run(struct io_loop *l)
{
	void		(*fn)(void *);
	void		*arg;
	unsigned	 n;

	/* acq_rel: see wakeup(); everything published before a producer's
	 * exchange that we read is visible to the pops below */
	atomic_exchange_explicit(&l->wake_pending, 0, memory_order_acq_rel);
	l->posts_more = false;
	for (n = 0; n < l->conf.post_slots; n++) {
		if (!io_mpsc_pop(&l->posts, &fn, &arg))
			break;
		fn(arg);
	}
	l->st.posts += n;
	if (n == l->conf.post_slots)
		l->posts_more = true;
	/* acq_rel: pairs with io_loop_wake()'s release store */
	if (atomic_exchange_explicit(&l->poll_req, 0, memory_order_acq_rel) &&
	    l->poll != NULL)
		l->poll(l, l->poll_arg);
}

static void
dispatch(struct io_loop *l, struct io_uring_cqe *cqe)
{
	uint64_t	 ud = io_uring_cqe_get_data64(cqe);
	enum io_op	 op = (enum io_op)(ud & IO_OP_MASK);
	void		*obj = (void *)(uintptr_t)(ud & ~IO_OP_MASK);

	switch (op) {
	case IO_OP_IGNORE:
		break;
	case IO_OP_EVENTFD:
		l->inflight--;
		l->efd_armed = false;
		if (cqe->res < 0 && cqe->res != -ECANCELED &&
		    cqe->res != -EAGAIN)
			IO_BUG("eventfd read: %s", strerror(-cqe->res));
		l->posts_more = true;	/* run posts this round */
		break;
	case IO_OP_TIMEOUT:
		l->inflight--;
		l->tmo_armed = false;
		break;
	case IO_OP_TIMEOUT_UPD:
		l->inflight--;
		break;
	case IO_OP_ACCEPT:
		io_listen_cqe(obj, cqe);
		break;
	case IO_OP_CONNECT:
	case IO_OP_RECV:
	case IO_OP_SEND:
		io_conn_cqe(obj, op, cqe);
		break;
	default:
		IO_BUG("unknown op %u in user_data %#llx", (unsigned)op,
		    (unsigned long long)ud);
	}
}

/* One batch of completions; returns how many. */
static unsigned
reap(struct io_loop *l)
{
	struct io_uring_cqe	*cqe;
	unsigned		 head, n = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe) {
		dispatch(l, cqe);
		if (++n == REAP_BATCH)
			break;
	}
	io_uring_cq_advance(&l->ring, n);
	l->st.cqes += n;
	if (l->br_pending > 0) {
		/* release store of the tail: buffer contents and entries
		 * written by io_conn_cqe() are visible before the kernel
		 * takes them */
		io_uring_buf_ring_advance(l->br, (int)l->br_pending);
		l->br_pending = 0;
	}
	return n;
}

static void
prepare(struct io_loop *l, bool stopping)
{
	io_conns_rearm(l);
	io_conns_flush(l);
	io_listeners_reap(l);
	if (!stopping) {
		io_timers_sync(l);
		efd_arm(l);
	}
}

static int
wait_round(struct io_loop *l, bool nowait, unsigned ms)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe	*cqe;
	int			 r;

	if (nowait || io_uring_cq_ready(&l->ring) > 0)
		r = io_uring_submit_and_get_events(&l->ring);
	else if (ms == 0)
		r = io_uring_submit_and_wait(&l->ring, 1);
	else {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long long)(ms % 1000) * 1000000;
		r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts,
		    NULL);
	}
	if (r == -EINTR || r == -ETIME || r == -EBUSY || r == -EAGAIN)
		r = 0;
	return r < 0 ? r : 0;
}

/* Loop shutdown: close everything, wait (bounded) for the kernel to let go. */
static void
loop_fini(struct io_loop *l)
{
	struct io_uring_sqe	*sqe;
	uint64_t		 end = io_now_ns() + FINI_NS;

	/* posts already queued still run (one may hand over an fd), so
	 * what they create is closed below; later ones are dropped */
	posts_run(l);
	io_listeners_shutdown(l);
	io_conns_shutdown(l);
	if (l->efd_armed) {
		sqe = io_sqe(l);
		io_uring_prep_cancel64(sqe, io_ud(l, IO_OP_EVENTFD), 0);
		io_uring_sqe_set_data64(sqe, io_ud(NULL, IO_OP_IGNORE));
	}
	if (l->tmo_armed) {
		sqe = io_sqe(l);
		io_uring_prep_timeout_remove(sqe, io_ud(l, IO_OP_TIMEOUT), 0);
		io_uring_sqe_set_data64(sqe, io_ud(NULL, IO_OP_IGNORE));
	}
	/*
	 * Bounded by time, not rounds: with DEFER_TASKRUN a kernel (6.10+)
	 * runs at most 20 deferred completions per wait, so thousands of
	 * connections need hundreds of quick rounds.
	 */
	while (io_now_ns() < end) {
		prepare(l, true);
		if (l->inflight == 0 && l->conns == NULL &&
		    l->listeners == NULL)
			break;
		if (wait_round(l, false, 50) < 0)
			break;
		reap(l);
		io_conns_shutdown(l);	/* accepted meanwhile */
	}
	if (l->inflight != 0 || l->conns != NULL || l->listeners != NULL)
		fprintf(stderr, "routehub io: loop stopped with %u operations "
		    "still in the kernel; their objects are leaked\n",
		    l->inflight);
}

int
io_loop_run(struct io_loop *l)
{
	int	 r = 0;

	if (!l->ring_enabled) {
		/* this thread becomes the ring's single issuer; liburing 2.3
		 * declares io_uring_enable_rings() but does not export it */
		if ((r = io_uring_register(l->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0)) < 0)
			return r;
		l->ring_enabled = true;
	}
	l->running = true;
	/* acquire: pairs with io_loop_stop()'s release */
	while (!atomic_load_explicit(&l->stop, memory_order_acquire)) {
		prepare(l, false);
		if ((r = wait_round(l, l->posts_more, 0)) < 0)
			break;
		/* bounded: completions keep coming only while the loop runs,
		 * and each round takes at most REAP_BATCH */
		reap(l);
		l->st.rounds++;
		io_timers_run(l);
		if (l->posts_more)
			posts_run(l);
	}
	loop_fini(l);
	l->running = false;
	return r;
}

void
io_loop_stats(const struct io_loop *l, struct io_loop_stats *st)
{
	const struct io_conn	*c;

	*st = l->st;
	st->conns = 0;
	for (c = l->conns; c != NULL; c = c->next)
		st->conns++;
}

void
io_loop_free(struct io_loop *l)
{
	if (l == NULL)
		return;
	IO_BUG_ON(l->running);
	/* the ring first: unsubmitted SQEs die with it */
	io_uring_queue_exit(&l->ring);
	if (l->inflight == 0) {
		/* never ran, or ran and drained: nothing of ours is in the
		 * kernel; no callbacks from here */
		io_conns_free_all(l);
		io_listeners_free_all(l);
		free(l->rbufs);
		free(l->br);
	}
	io_timers_fini(l);
	io_mpsc_fini(&l->posts);
	if (l->efd != -1)
		close(l->efd);
	free(l);
}
