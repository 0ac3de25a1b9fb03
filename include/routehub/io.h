/*
 * routehub/io.h — the io_uring I/O layer: event loops, TCP connections with
 * BGP-style framing, send queues of shared buffers, timers, and cross-thread
 * messages. The only way the rest of routehub touches sockets.
 *
 * Threads. One struct io_loop per I/O thread; the caller picks how many and
 * runs each with io_loop_run() on its own thread. Every object made on a loop
 * (connection, listener, timer) belongs to that loop: its functions are called
 * on the loop's thread only (or before io_loop_run() starts, while the creating
 * thread is the only user), and its callbacks run there. The exceptions, safe
 * from any thread: io_loop_post(), io_loop_wake(), io_loop_stop(), and the
 * struct io_buf reference counting.
 *
 * Errors. Functions return 0 or -errno; results go through out-parameters.
 *
 * Framing (RFC 4271 §4.1). A message starts with a 19-octet header whose
 * octets 16-17 are the big-endian total length. The layer cuts complete
 * messages out of the byte stream and hands each to the owner's msg callback,
 * pointing into the receive buffer when the message lies within one (no copy),
 * or into a per-connection assembly buffer otherwise. The marker is not
 * checked here: that is the engine's job. A length below 19 or above the
 * connection's maximum (4096 by default, 65535 after RFC 8654) is reported once
 * through the framing callback; after it no message is delivered again on that
 * connection (the engine sends NOTIFICATION Bad Message Length and closes).
 *
 * Ownership of memory handed to the kernel: a struct io_buf queued with
 * io_conn_send() is referenced by the queue until the kernel has sent it.
 */
#ifndef ROUTEHUB_IO_H
#define ROUTEHUB_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_loop;
struct io_conn;
struct io_listener;

#define IO_HDR_LEN		19	/* RFC 4271 §4.1 */
#define IO_LEN_OFF		16	/* offset of the 2-octet length */
#define IO_MAX_MSG		4096	/* RFC 4271 §4 */
#define IO_MAX_EXT_MSG		65535	/* RFC 8654 */

/* ---- kernel features --------------------------------------------------- */

/*
 * Checks that this kernel gives us what the layer needs: io_uring itself (not
 * disabled by the kernel.io_uring_disabled sysctl or a seccomp filter), the
 * opcodes we submit, provided buffer rings, multishot recv and multishot
 * accept. Returns 0, or -errno with a sentence naming what is missing in err.
 */
int	io_probe(char *err, size_t errlen);

/* ---- loops ------------------------------------------------------------- */

struct io_loop_conf {
	unsigned	 sq_entries;	/* submission queue size (default 1024) */
	unsigned	 rbuf_count;	/* provided receive buffers, power of 2 (128: 2 MiB a loop) */
	unsigned	 rbuf_size;	/* bytes each (16384) */
	unsigned	 post_slots;	/* cross-thread queue, power of 2 (8192) */
	unsigned	 linger_ms;	/* wait for the peer's FIN after a flushed close (2000) */
};

/* conf may be NULL (defaults); a zero field takes its default. */
int	io_loop_new(struct io_loop **out, const struct io_loop_conf *conf,
	    char *err, size_t errlen);
/* Runs until io_loop_stop(); then runs the posts already queued, closes what
 * is left (closed callbacks with IO_CLOSE_LOCAL) and returns. Posts made
 * after that are never run. Call once, on the loop's thread. */
int	io_loop_run(struct io_loop *loop);
/* Any thread. io_loop_run() returns soon after. */
void	io_loop_stop(struct io_loop *loop);
/* After io_loop_run() returned, or if it never ran. */
void	io_loop_free(struct io_loop *loop);

/*
 * Any thread: run fn(arg) on the loop's thread, in order per calling thread.
 * Returns -EAGAIN when the queue is full (the caller retries or drops), 0 else.
 */
int	io_loop_post(struct io_loop *loop, void (*fn)(void *), void *arg);
/*
 * A component that feeds the loop through its own queue (RIB shard workers)
 * sets a poll callback once, before the loop runs, then calls io_loop_wake()
 * from any thread after publishing work: the loop calls poll(loop, arg) on its
 * thread at least once after each wake.
 */
void	io_loop_set_poll(struct io_loop *loop,
	    void (*poll)(struct io_loop *, void *), void *arg);
void	io_loop_wake(struct io_loop *loop);
struct io_loop_stats {
	uint64_t	 rounds;	/* loop iterations (one wait each) */
	uint64_t	 cqes;		/* completions reaped */
	uint64_t	 enobufs;	/* recv out of provided buffers */
	uint64_t	 posts;		/* cross-thread messages run */
	uint64_t	 timers;	/* timer callbacks run */
	unsigned	 conns;		/* connections alive */
};
/* On the loop's thread (or after io_loop_run() returned). */
void	io_loop_stats(const struct io_loop *loop, struct io_loop_stats *st);
/* Monotonic milliseconds, as the timers see them. */
uint64_t io_now_ms(void);

/* ---- timers -------------------------------------------------------------- */

/*
 * Embedded by the owner (no allocation). Callbacks run on the loop's thread;
 * a timer fires once per arm, in deadline order (ties: arm order).
 */
struct io_timer {
	uint64_t	  deadline;	/* monotonic ns */
	uint64_t	  seq;		/* arm order, breaks ties */
	struct io_loop	 *loop;
	void		(*cb)(struct io_timer *, void *);
	void		 *arg;
	uint32_t	  slot;		/* heap index, IO_TIMER_IDLE when not armed */
};
#define IO_TIMER_IDLE	UINT32_MAX

void	io_timer_init(struct io_timer *t, struct io_loop *loop,
	    void (*cb)(struct io_timer *, void *), void *arg);
/* (Re)arms to fire ms milliseconds from now. -ENOMEM if the heap can't grow. */
int	io_timer_arm(struct io_timer *t, uint64_t ms);
void	io_timer_disarm(struct io_timer *t);
bool	io_timer_armed(const struct io_timer *t);

/* ---- shared send buffers ------------------------------------------------- */

/*
 * Immutable once shared: the creator fills data[0..len) and then hands it to
 * as many connections (on as many loops) as it likes. The refcount is atomic
 * because several threads send the same buffer.
 */
struct io_buf {
	atomic_uint	 refs;
	uint32_t	 len;
	uint32_t	 cap;
	uint32_t	 pad_;
	uint8_t		 data[];
};

/* len = cap = size, refs = 1. NULL when out of memory. */
struct io_buf	*io_buf_new(size_t size);
struct io_buf	*io_buf_ref(struct io_buf *b);
void		 io_buf_unref(struct io_buf *b);
unsigned	 io_buf_refs(const struct io_buf *b);	/* for tests/stats */
/* Bytes of send buffers alive now, and the most at any time. */
void		 io_buf_stats(size_t *alive, size_t *peak);

/* ---- socket options ------------------------------------------------------ */

struct io_sock_opts {
	int		 ttl;		/* IP_TTL / IPV6_UNICAST_HOPS; 0 = default */
	/*
	 * RFC 5082 GTSM; 0 = off. N (1..254) = the peer is at most N hops away:
	 * we send with TTL 255 and drop what arrives with TTL < 256 - N
	 * (IP_MINTTL / IPV6_MINHOPCOUNT). 1 = directly connected.
	 */
	int		 gtsm_hops;
	const void	*md5_key;	/* RFC 2385 key with the remote address */
	size_t		 md5_keylen;	/* 0 = no key; at most 80 */
	bool		 nodelay;	/* TCP_NODELAY */
};

/* Applies opts to a socket talking to remote (remote is needed for MD5). */
int	io_sock_apply(int fd, const struct sockaddr *remote, socklen_t rlen,
	    const struct io_sock_opts *opts);
/*
 * RFC 2385 key on any TCP socket (typically a listener) for the remote
 * address or, with prefixlen shorter than the address, a whole prefix
 * (TCP_MD5SIG_EXT). keylen 0 removes the key.
 */
int	io_sock_md5(int fd, const struct sockaddr *remote, socklen_t rlen,
	    unsigned prefixlen, const void *key, size_t keylen);

/* ---- connections --------------------------------------------------------- */

enum io_close {
	IO_CLOSE_LOCAL,		/* io_conn_close() or loop shutdown; err may
				 * tell what cut a flush short */
	IO_CLOSE_EOF,		/* the peer closed (read 0) */
	IO_CLOSE_ERROR,		/* socket error: err = -errno */
	IO_CLOSE_CONNECT,	/* outbound connect failed: err = -errno */
};

struct io_conn_ops {
	/* Outbound connect done (not called for attached fds). */
	void	(*connected)(struct io_conn *, void *arg);
	/* One complete message; msg is valid only during the call. */
	void	(*msg)(struct io_conn *, void *arg, const uint8_t *msg,
		    size_t len);
	/* Length outside [19, max]: no more messages after this call. */
	void	(*framing_error)(struct io_conn *, void *arg, unsigned len);
	/* Always called once, last; the conn is freed when it returns. */
	void	(*closed)(struct io_conn *, void *arg, enum io_close why,
		    int err);
};

struct io_conn_stats {
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 msgs_in;	/* messages delivered */
	uint64_t	 bufs_out;	/* io_bufs fully sent (one message each,
					 * unless the engine packs more) */
	uint64_t	 sendmsgs;	/* sendmsg submissions (batching) */
	size_t		 sendq_bytes;	/* queued, not yet sent */
	unsigned	 sendq_bufs;
};

/*
 * Outbound: a socket bound to local (NULL = any; every simulated peer has its
 * own 127.x.y.z), options applied, connect through the ring; connected() or
 * closed(IO_CLOSE_CONNECT) follows. Remote/local family must match.
 */
int	io_conn_connect(struct io_loop *loop, const struct sockaddr *remote,
	    socklen_t rlen, const struct sockaddr *local, socklen_t llen,
	    const struct io_sock_opts *opts, const struct io_conn_ops *ops,
	    void *arg, struct io_conn **out);
/*
 * Adopts a connected socket (from an accept callback, possibly of another
 * loop: post the fd here). The conn owns fd from now on, also on failure.
 */
int	io_conn_attach(struct io_loop *loop, int fd,
	    const struct io_conn_ops *ops, void *arg, struct io_conn **out);
/*
 * Queues b (takes its own reference). Many queued buffers leave in one
 * submission. -EPIPE once the connection is closing.
 */
int	io_conn_send(struct io_conn *c, struct io_buf *b);
/* Convenience: copies data into a new io_buf and queues it. */
int	io_conn_send_copy(struct io_conn *c, const void *data, size_t len);
/*
 * Ends the connection. flush: send what is queued first (a NOTIFICATION),
 * then shut down the write side and wait for the peer's FIN (bounded by
 * linger_ms) so our data is not lost to a reset. No msg/framing callbacks
 * after this; closed(IO_CLOSE_LOCAL) comes when the socket is gone.
 * Calling it again is harmless (a second call with flush=false cuts a flush
 * short).
 */
void	io_conn_close(struct io_conn *c, bool flush);
/*
 * Flow control: while paused no msg() is delivered and nothing more is read
 * from the socket (TCP pushes back on the peer); bytes the kernel had already
 * read are kept and delivered, in order, after io_conn_pause(c, false) - on a
 * later loop round, never inside this call. May be called from msg() itself:
 * the rest of that buffer waits. A FIN seen while paused is reported after
 * the kept messages. Connecting conns may be paused too. -EPIPE once closing.
 */
int	io_conn_pause(struct io_conn *c, bool pause);
/* Maximum message length, 19..65535 (RFC 8654 raises it); any time. */
int	io_conn_set_max_msg(struct io_conn *c, unsigned max);
void	io_conn_stats(const struct io_conn *c, struct io_conn_stats *st);
int	io_conn_fd(const struct io_conn *c);
struct io_loop *io_conn_loop(const struct io_conn *c);
/* Addresses as the socket sees them (valid once connected). */
int	io_conn_addrs(const struct io_conn *c, struct sockaddr_storage *remote,
	    struct sockaddr_storage *local);

/* ---- listeners ----------------------------------------------------------- */

/*
 * Called for each accepted socket BEFORE any per-connection state exists: the
 * callback owns fd and either closes it (unknown source: refuse and count),
 * attaches it with io_conn_attach() here, or posts it to another loop.
 */
typedef void (*io_accept_cb)(struct io_listener *, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen);

/* Binds addr (IPv4 or IPv6, v6-only), listens, multishot accept. */
int	io_listen(struct io_loop *loop, const struct sockaddr *addr,
	    socklen_t alen, io_accept_cb cb, void *arg,
	    struct io_listener **out);
int	io_listen_md5(struct io_listener *l, const struct sockaddr *remote,
	    socklen_t rlen, unsigned prefixlen, const void *key, size_t keylen);
/*
 * Outgoing TTL / hop limit of the listener, inherited by accepted sockets and
 * used for the SYN-ACK: 255 when any GTSM peer may connect (RFC 5082 §3),
 * since the peer's IP_MINTTL applies to the handshake too. The minimum TTL
 * is per peer: io_sock_apply() on the accepted fd.
 */
int	io_listen_ttl(struct io_listener *l, int ttl);
/* The bound address (port 0 asks the kernel for one). */
int	io_listen_addr(const struct io_listener *l, struct sockaddr_storage *ss);
/* Stops accepting; the listener is freed once the kernel lets go of it. */
void	io_listen_close(struct io_listener *l);

#endif /* ROUTEHUB_IO_H */
