/*
 * io/io_int.h — private to io/: the loop, connection and listener structures
 * and the helpers the files of io/ share.
 *
 * user_data packing (after liburing examples/proxy.c): every SQE's user_data is
 * a pointer to the object the operation belongs to (loop, conn or listener,
 * all at least 16-byte aligned) with the operation in the low 4 bits. An object
 * is freed only when none of its operations is in flight (inflight == 0), so
 * a completion never names a freed object. Operations whose completion we do
 * not care about (cancels) carry IO_OP_IGNORE and no object.
 */
#ifndef ROUTEHUB_IO_INT_H
#define ROUTEHUB_IO_INT_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include <liburing.h>

#include "routehub/io.h"
#include "frame.h"
#include "mpsc.h"

enum io_op {
	IO_OP_IGNORE = 0,
	IO_OP_EVENTFD,		/* loop: read of the wake-up eventfd */
	IO_OP_TIMEOUT,		/* loop: the one ring timeout */
	IO_OP_TIMEOUT_UPD,	/* loop: moving it earlier */
	IO_OP_ACCEPT,		/* listener: multishot accept */
	IO_OP_CONNECT,		/* conn */
	IO_OP_RECV,		/* conn: multishot recv, provided buffers */
	IO_OP_SEND,		/* conn: sendmsg of the queue's head */
	IO_OP_MAX_
};
#define IO_OP_MASK	0xfULL

#define IO_BUG(...) do {						\
	fprintf(stderr, "routehub io: BUG in %s: ", __func__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	abort();							\
} while (0)
#define IO_BUG_ON(cond) do {						\
	if (cond)							\
		IO_BUG("%s", #cond);					\
} while (0)

static inline uint64_t
io_ud(const void *obj, enum io_op op)
{
	return (uint64_t)(uintptr_t)obj | (uint64_t)op;
}

union io_sa {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

enum io_conn_state {
	IO_CS_CONNECTING,
	IO_CS_OPEN,
	IO_CS_DRAINING,		/* close(flush): sending what is queued */
	IO_CS_LINGER,		/* SHUT_WR done: waiting for the peer's FIN */
	IO_CS_DEAD,		/* cancelled: waiting for inflight == 0 */
};

/* In-flight sendmsg: lives while the kernel may read it. Its iovec grows
 * with the backlog, up to IO_SEND_IOV (IOV_MAX): a connection that falls
 * behind by thousands of small UPDATEs sends them in one call per round,
 * where a short vector would leave them queued for many rounds. */
#define IO_SEND_IOV	1024
#define IO_SEND_IOV_MIN	16
struct io_sendctx {
	struct msghdr	 msg;
	unsigned	 nbufs;		/* queue entries covered */
	unsigned	 cap;		/* iov[] */
	struct iovec	 iov[];
};

struct io_conn {
	struct io_loop		*loop;
	const struct io_conn_ops *ops;
	void			*arg;
	int			 fd;
	enum io_conn_state	 state;
	unsigned		 inflight;	/* ops the kernel holds */
	bool			 recv_armed;
	bool			 send_busy;	/* a sendmsg is in flight */
	bool			 on_dirty;	/* on loop->dirty */
	bool			 on_starved;	/* on loop->starved: ENOBUFS or
						 * resumed, re-arm recv */
	bool			 paused;	/* io_conn_pause(): no input */
	bool			 eof_pending;	/* FIN seen while paused */
	bool			 on_dead;	/* on loop->dead */
	bool			 user_closed;
	enum io_close		 why;
	int			 err;
	struct io_conn		*dirty_next;	/* loop->dirty list */
	struct io_conn		*starved_next;
	struct io_conn		*dead_next;
	struct io_conn		*prev, *next;	/* loop->conns */

	struct io_framer	 fr;
	uint8_t			*stash;		/* input received while paused */
	uint32_t		 stash_len;

	/* send queue: circular array of buffers, head partly sent */
	struct io_buf		**q;
	unsigned		 qcap, qhead, qlen;
	uint32_t		 qoff;		/* bytes of q[qhead] already sent */
	struct io_sendctx	*sc;

	struct io_timer		 linger;
	union io_sa		 remote;	/* connect target */
	struct io_conn_stats	 st;
};

struct io_listener {
	struct io_loop		*loop;
	int			 fd;
	bool			 closing;
	bool			 armed;
	unsigned		 inflight;
	io_accept_cb		 cb;
	void			*arg;
	struct io_timer		 retry;		/* re-arm after EMFILE etc. */
	uint64_t		 errors;
	struct io_listener	*prev, *next;
};

struct io_loop {
	struct io_uring		 ring;
	struct io_loop_conf	 conf;
	bool			 running;
	bool			 ring_enabled;	/* R_DISABLED ring turned on */

	/* provided buffers for recv (buffer group 0) */
	struct io_uring_buf_ring *br;
	uint8_t			*rbufs;
	unsigned		 br_mask;
	unsigned		 br_pending;	/* returned, not yet published */

	/* objects */
	struct io_conn		*conns;
	struct io_listener	*listeners;
	struct io_conn		*dirty;		/* conns with unsent data */
	struct io_conn		*starved;	/* recv ended with ENOBUFS */
	struct io_conn		*dead;		/* torn down, to be finished */
	unsigned		 lclosing;	/* listeners closing */
	unsigned		 inflight;	/* loop-owned ops */
	struct io_loop_stats	 st;

	/* timers: binary min-heap on (deadline, seq) */
	struct io_timer		**heap;
	uint32_t		 nheap, heapcap;
	uint64_t		 tseq;
	bool			 tmo_armed;	/* IO_OP_TIMEOUT in flight */
	uint64_t		 tmo_deadline;
	struct __kernel_timespec tmo_ts, tmo_upd_ts;

	/* cross-thread: MPSC ring + eventfd */
	int			 efd;
	uint64_t		 efd_val;
	bool			 efd_armed;
	bool			 posts_more;	/* drain stopped at its bound */
	struct io_mpsc		 posts;
	void			(*poll)(struct io_loop *, void *);
	void			*poll_arg;
	/* written by other threads: own cache line */
	_Alignas(64) atomic_int	 wake_pending;
	atomic_int		 poll_req;
	atomic_bool		 stop;
};

/* loop.c */
struct io_uring_sqe *io_sqe(struct io_loop *);
uint64_t	io_now_ns(void);

/* timer.c */
void	io_timers_run(struct io_loop *);
void	io_timers_sync(struct io_loop *);
void	io_timers_fini(struct io_loop *);

/* conn.c */
void	io_conn_cqe(struct io_conn *, enum io_op, struct io_uring_cqe *);
void	io_conns_flush(struct io_loop *);
void	io_conns_rearm(struct io_loop *);
void	io_conns_shutdown(struct io_loop *);
void	io_conns_free_all(struct io_loop *);

/* listen.c */
void	io_listen_cqe(struct io_listener *, struct io_uring_cqe *);
void	io_listeners_shutdown(struct io_loop *);
void	io_listeners_free_all(struct io_loop *);
void	io_listeners_reap(struct io_loop *);

#endif /* ROUTEHUB_IO_INT_H */
