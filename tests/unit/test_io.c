/*
 * tests/unit/test_io.c — the io_uring I/O layer over loopback.
 *
 * Each socket test runs one loop on the test's own thread until the test's
 * condition stops it; a watchdog timer (20 s) stops a stuck loop and fails
 * the test - a bound, never a synchronisation. Raw-socket peers run on
 * helper threads with receive timeouts. Tests skip (with io_probe()'s
 * message) on kernels without the features the layer needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routehub/io.h"
#include "../../io/frame.h"
#include "../../io/io_int.h"

static char	 probe_err[256];
static bool	 have_io;

#define NEED_IO() do {							\
	if (!have_io) {							\
		print_message("skipped: %s\n", probe_err);		\
		skip();							\
	}								\
} while (0)

/* ---- helpers -------------------------------------------------------------- */

static struct io_buf *
mkmsg(unsigned len, uint8_t seed)
{
	struct io_buf	*b = io_buf_new(len);
	unsigned	 i;

	assert_non_null(b);
	memset(b->data, 0xff, 16);
	b->data[16] = (uint8_t)(len >> 8);
	b->data[17] = (uint8_t)len;
	for (i = 18; i < len; i++)
		b->data[i] = (uint8_t)(seed + i);
	return b;
}

static void
wd_fire(struct io_timer *t, void *arg)
{
	bool	*fired = arg;

	*fired = true;
	io_loop_stop(t->loop);
}

static struct io_loop *
mkloop(const struct io_loop_conf *conf)
{
	struct io_loop	*l;
	char		 err[256];

	assert_int_equal(io_loop_new(&l, conf, err, sizeof(err)), 0);
	return l;
}

/* Runs the loop on this thread until the test stops it; fails on watchdog. */
static void
run(struct io_loop *l)
{
	struct io_timer	 wd;
	bool		 fired = false;

	io_timer_init(&wd, l, wd_fire, &fired);
	assert_int_equal(io_timer_arm(&wd, 20000), 0);
	assert_int_equal(io_loop_run(l), 0);
	io_timer_disarm(&wd);
	assert_false(fired);
}

static struct sockaddr_in
sin4(const char *ip, uint16_t port)
{
	struct sockaddr_in	 s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
	return s;
}

/* ---- the shared test context ---------------------------------------------- */

#define MAXC	512

static struct {
	struct io_loop		*loop;
	int			 done_need, done_got;
	/* server side */
	struct io_listener	*li;
	struct sockaddr_in	 addr;
	bool			 refuse, echo, notify_on_bad;
	unsigned		 srv_max;
	unsigned		 accepted, refused, srv_msgs, srv_closed;
	unsigned		 nbad, badlen, msgs_after_bad;
	uint64_t		 li_errors;	/* accept failures seen */
	uint64_t		 srv_bytes;
	enum io_close		 srv_why;
	struct sockaddr_in	 remotes[MAXC];
	/* client side */
	struct io_buf		**exp;
	unsigned		 nexp, next;
	unsigned		 mismatch;
	unsigned		 cli_closed, cli_connected;
	enum io_close		 cli_why;
	int			 cli_err;
} T;

static void
done(void)
{
	if (++T.done_got == T.done_need)
		io_loop_stop(T.loop);
}

static void
srv_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	(void)arg;
	if (T.nbad > 0)
		T.msgs_after_bad++;
	T.srv_msgs++;
	T.srv_bytes += len;
	if (T.echo)
		assert_int_equal(io_conn_send_copy(c, msg, len), 0);
}

static void
srv_bad(struct io_conn *c, void *arg, unsigned len)
{
	uint8_t	 notif[21];

	(void)arg;
	T.nbad++;
	T.badlen = len;
	if (T.notify_on_bad) {
		/* what the engine would do: NOTIFICATION 1/2, then close */
		memset(notif, 0xff, 16);
		notif[16] = 0;
		notif[17] = 21;
		notif[18] = 3;
		notif[19] = 1;
		notif[20] = 2;
		assert_int_equal(io_conn_send_copy(c, notif, sizeof(notif)), 0);
		io_conn_close(c, true);
	}
}

static void
srv_closed(struct io_conn *c, void *arg, enum io_close why, int err)
{
	(void)c;
	(void)arg;
	(void)err;
	T.srv_closed++;
	T.srv_why = why;
	done();
}

static const struct io_conn_ops srv_ops = {
	.msg = srv_msg,
	.framing_error = srv_bad,
	.closed = srv_closed,
};

static void
srv_accept(struct io_listener *li, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen)
{
	struct io_conn	*c;

	(void)arg;
	(void)local;
	(void)llen;
	T.li_errors = li->errors;
	assert_int_equal(remote->sa_family, AF_INET);
	assert_true(rlen >= sizeof(struct sockaddr_in));
	if (T.accepted < MAXC)
		memcpy(&T.remotes[T.accepted], remote, sizeof(T.remotes[0]));
	T.accepted++;
	if (T.refuse) {
		/* unknown source: refused before any state exists */
		close(fd);
		T.refused++;
		done();
		return;
	}
	assert_int_equal(io_conn_attach(T.loop, fd, &srv_ops, NULL, &c), 0);
	if (T.srv_max != 0)
		assert_int_equal(io_conn_set_max_msg(c, T.srv_max), 0);
}

static void
start_server(void)
{
	struct sockaddr_in	 a = sin4("127.0.0.1", 0);
	struct sockaddr_storage	 ss;

	assert_int_equal(io_listen(T.loop, (struct sockaddr *)&a, sizeof(a),
	    srv_accept, NULL, &T.li), 0);
	assert_int_equal(io_listen_addr(T.li, &ss), 0);
	memcpy(&T.addr, &ss, sizeof(T.addr));
	assert_int_not_equal(T.addr.sin_port, 0);
}

static void
reset(const struct io_loop_conf *conf)
{
	memset(&T, 0, sizeof(T));
	T.loop = mkloop(conf);
}

/* ---- framer (pure) ------------------------------------------------------- */

struct fr_out {
	unsigned	 n;
	size_t		 lens[64];
	uint8_t		 seeds[64];
	unsigned	 bad, badlen;
	unsigned	 stop_after;
};

static int
fr_deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct fr_out	*o = arg;

	assert_true(o->n < 64);
	o->lens[o->n] = len;
	o->seeds[o->n] = len > 19 ? (uint8_t)(msg[19] - 19) : 0;
	o->n++;
	return o->stop_after != 0 && o->n == o->stop_after;
}

static void
fr_bad(void *arg, unsigned len)
{
	struct fr_out	*o = arg;

	o->bad++;
	o->badlen = len;
}

static void
test_framer(void **state)
{
	static const struct {
		const char	*what;
		unsigned	 n;
		unsigned	 lens[6];
		unsigned	 max;
		int		 bad_at;	/* index of the bad one, -1 */
	} cases[] = {
		{ "one keepalive", 1, { 19 }, 4096, -1 },
		{ "several small", 5, { 19, 23, 100, 19, 45 }, 4096, -1 },
		{ "max 4096", 3, { 4096, 19, 4096 }, 4096, -1 },
		{ "extended 65535", 3, { 65535, 19, 65535 }, 65535, -1 },
		{ "4097 with extended", 2, { 4097, 20 }, 65535, -1 },
		{ "too short 18", 3, { 19, 18, 19 }, 4096, 1 },
		{ "too long 4097", 2, { 30, 4097 }, 4096, 1 },
		{ "zero length", 1, { 0 }, 4096, 0 },
	};
	static const size_t chunks[] = { 1, 2, 7, 18, 19, 20, 64, 1000, 70000 };
	size_t		 ci, k, total, off, step, i, nmsg;
	struct fr_out	 o;
	struct io_framer f;
	uint8_t		*stream;
	struct io_frame_cb cb;
	int		 r;

	(void)state;
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		nmsg = cases[ci].n;
		total = 0;
		for (i = 0; i < nmsg; i++)
			total += cases[ci].lens[i] < 19 ? 19 :
			    cases[ci].lens[i];
		stream = malloc(total);
		assert_non_null(stream);
		off = 0;
		for (i = 0; i < nmsg; i++) {
			unsigned len = cases[ci].lens[i];
			size_t	 span = len < 19 ? 19 : len;

			memset(stream + off, 0xff, 16);
			stream[off + 16] = (uint8_t)(len >> 8);
			stream[off + 17] = (uint8_t)len;
			memset(stream + off + 18, 0, span - 18);
			if (span > 19)
				stream[off + 19] = (uint8_t)(19 + i);
			off += span;
		}
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			memset(&o, 0, sizeof(o));
			io_frame_init(&f, cases[ci].max);
			cb.deliver = fr_deliver;
			cb.bad = fr_bad;
			cb.arg = &o;
			r = 0;
			for (off = 0; off < total; off += step) {
				step = chunks[k];
				if (step > total - off)
					step = total - off;
				r = io_frame_feed(&f, stream + off, step, &cb, NULL);
				if (r != 0 && r != -EMSGSIZE)
					fail_msg("%s: feed %d", cases[ci].what,
					    r);
			}
			if (cases[ci].bad_at < 0) {
				if (o.n != nmsg || o.bad != 0)
					fail_msg("%s chunk %zu: %u msgs, %u bad",
					    cases[ci].what, chunks[k], o.n,
					    o.bad);
				for (i = 0; i < nmsg; i++) {
					assert_int_equal(o.lens[i],
					    cases[ci].lens[i]);
					if (o.lens[i] > 19)
						assert_int_equal(o.seeds[i], i);
				}
				assert_int_equal(io_frame_held(&f), 0);
				assert_null(f.body);
			} else {
				/* exactly the messages before it, one report,
				 * nothing after */
				if (o.n != (unsigned)cases[ci].bad_at ||
				    o.bad != 1)
					fail_msg("%s chunk %zu: %u msgs, %u bad",
					    cases[ci].what, chunks[k], o.n,
					    o.bad);
				assert_int_equal(o.badlen,
				    cases[ci].lens[cases[ci].bad_at]);
				assert_int_equal(r, -EMSGSIZE);
			}
			io_frame_fini(&f);
		}
		free(stream);
	}
}

static void
test_framer_stop(void **state)
{
	struct fr_out	 o;
	struct io_framer f;
	struct io_frame_cb cb = { fr_deliver, fr_bad, &o };
	uint8_t		 s[57];
	size_t		 used;

	(void)state;
	memset(s, 0, sizeof(s));
	memset(s, 0xff, 16);
	s[17] = 19;
	memcpy(s + 19, s, 19);
	memcpy(s + 38, s, 19);
	memset(&o, 0, sizeof(o));
	o.stop_after = 2;
	io_frame_init(&f, 4096);
	/* deliver() asked to stop after the second of three */
	assert_int_equal(io_frame_feed(&f, s, sizeof(s), &cb, &used), 1);
	assert_int_equal(o.n, 2);
	assert_int_equal(used, 38);	/* the third is left to the caller */
	/* stopping on a message assembled across pieces */
	memset(&o, 0, sizeof(o));
	o.stop_after = 1;
	io_frame_fini(&f);
	io_frame_init(&f, 4096);
	assert_int_equal(io_frame_feed(&f, s, 10, &cb, &used), 0);
	assert_int_equal(io_frame_feed(&f, s + 10, 47, &cb, &used), 1);
	assert_int_equal(used, 9);
	io_frame_fini(&f);
}

/* ---- probe, sizes, socket options -------------------------------------- */

static void
test_probe(void **state)
{
	char	 err[256];

	(void)state;
	if (io_probe(err, sizeof(err)) != 0) {
		assert_true(strlen(err) > 0);	/* says what is missing */
		print_message("skipped: %s\n", err);
		skip();
	}
	assert_string_equal(err, "");
}

static void
test_footprint(void **state)
{
	(void)state;
	/* an idle established session: the conn alone, no queue, no
	 * assembly buffer, receive buffers shared by the loop */
	print_message("sizeof(struct io_conn) = %zu\n", sizeof(struct io_conn));
	assert_true(sizeof(struct io_conn) < 1024);
}

static void
test_sockopts(void **state)
{
	struct sockaddr_in	 r = sin4("127.0.0.1", 179);
	struct io_sock_opts	 o;
	socklen_t		 len = sizeof(int);
	int			 fd, v;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&o, 0, sizeof(o));
	o.gtsm_hops = 1;
	o.nodelay = true;
	assert_int_equal(io_sock_apply(fd, (struct sockaddr *)&r, sizeof(r),
	    &o), 0);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_TTL, &v, &len), 0);
	assert_int_equal(v, 255);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_MINTTL, &v, &len), 0);
	assert_int_equal(v, 255);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_not_equal(v, 0);
	o.gtsm_hops = 3;
	assert_int_equal(io_sock_apply(fd, (struct sockaddr *)&r, sizeof(r),
	    &o), 0);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_MINTTL, &v, &len), 0);
	assert_int_equal(v, 253);
	memset(&o, 0, sizeof(o));
	o.ttl = 7;	/* eBGP multihop */
	assert_int_equal(io_sock_apply(fd, (struct sockaddr *)&r, sizeof(r),
	    &o), 0);
	assert_int_equal(getsockopt(fd, IPPROTO_IP, IP_TTL, &v, &len), 0);
	assert_int_equal(v, 7);
	o.gtsm_hops = 255;
	assert_int_equal(io_sock_apply(fd, (struct sockaddr *)&r, sizeof(r),
	    &o), -EINVAL);
	close(fd);
}

/* ---- buffers ---------------------------------------------------------------- */

static void
test_buf_refs(void **state)
{
	struct io_buf	*b;

	(void)state;
	b = io_buf_new(100);
	assert_non_null(b);
	assert_int_equal(b->len, 100);
	assert_int_equal(io_buf_refs(b), 1);
	assert_ptr_equal(io_buf_ref(b), b);
	assert_int_equal(io_buf_refs(b), 2);
	io_buf_unref(b);
	assert_int_equal(io_buf_refs(b), 1);
	io_buf_unref(b);	/* freed: ASan checks */
}

/* ---- echo over loopback ---------------------------------------------------- */

static void
cli_connected(struct io_conn *c, void *arg)
{
	struct io_buf	*b;
	size_t		 total = 0, off = 0;
	unsigned	 i;
	bool		 pack = arg != NULL;

	T.cli_connected++;
	if (!pack) {
		/* one buffer per message: many iovecs per sendmsg */
		for (i = 0; i < T.nexp; i++)
			assert_int_equal(io_conn_send(c, T.exp[i]), 0);
		return;
	}
	/* all messages in one buffer: several per receive buffer */
	for (i = 0; i < T.nexp; i++)
		total += T.exp[i]->len;
	b = io_buf_new(total);
	assert_non_null(b);
	for (i = 0; i < T.nexp; i++) {
		memcpy(b->data + off, T.exp[i]->data, T.exp[i]->len);
		off += T.exp[i]->len;
	}
	assert_int_equal(io_conn_send(c, b), 0);
	io_buf_unref(b);
}

static void
cli_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	(void)arg;
	if (T.next >= T.nexp || T.exp[T.next]->len != len ||
	    memcmp(T.exp[T.next]->data, msg, len) != 0)
		T.mismatch++;
	if (++T.next == T.nexp)
		io_conn_close(c, true);
}

static struct io_conn_stats cli_st;

static void
cli_closed(struct io_conn *c, void *arg, enum io_close why, int err)
{
	(void)arg;
	io_conn_stats(c, &cli_st);
	T.cli_closed++;
	T.cli_why = why;
	T.cli_err = err;
	done();
}

static const struct io_conn_ops cli_ops = {
	.connected = cli_connected,
	.msg = cli_msg,
	.closed = cli_closed,
};

static void
test_echo(void **state)
{
	static const struct {
		const char	*what;
		unsigned	 rbuf_size, rbuf_count;
		bool		 pack;
		unsigned	 max;
		unsigned	 n;
		unsigned	 lens[8];
		unsigned	 repeat;	/* the list this many times */
	} cases[] = {
		{ "several per buffer", 0, 0, true, 0, 5,
		    { 19, 23, 200, 19, 45 }, 20 },
		{ "4096 one buffer each", 0, 0, false, 0, 2, { 4096, 19 },
		    100 },
		{ "extended 65535", 0, 0, false, 65535, 3,
		    { 65535, 19, 65535 }, 2 },
		{ "tiny receive buffers, ENOBUFS", 64, 16, false, 65535, 6,
		    { 19, 100, 4096, 19, 65535, 300 }, 2 },
		{ "tiny buffers, packed", 64, 16, true, 65535, 4,
		    { 63, 65, 4096, 65535 }, 3 },
	};
	struct io_loop_conf	 conf;
	struct io_loop_stats	 lst;
	struct io_conn		*c;
	size_t			 ci;
	unsigned		 i;
	uint64_t		 bytes;

	(void)state;
	NEED_IO();
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		memset(&conf, 0, sizeof(conf));
		conf.rbuf_size = cases[ci].rbuf_size;
		conf.rbuf_count = cases[ci].rbuf_count;
		reset(&conf);
		T.echo = true;
		T.srv_max = cases[ci].max;
		T.done_need = 2;
		T.nexp = cases[ci].n * cases[ci].repeat;
		T.exp = calloc(T.nexp, sizeof(*T.exp));
		bytes = 0;
		for (i = 0; i < T.nexp; i++) {
			T.exp[i] = mkmsg(cases[ci].lens[i % cases[ci].n],
			    (uint8_t)i);
			bytes += T.exp[i]->len;
		}
		start_server();
		assert_int_equal(io_conn_connect(T.loop,
		    (struct sockaddr *)&T.addr, sizeof(T.addr), NULL, 0, NULL,
		    &cli_ops, cases[ci].pack ? &T : NULL, &c), 0);
		if (cases[ci].max != 0)
			assert_int_equal(io_conn_set_max_msg(c, cases[ci].max),
			    0);
		run(T.loop);
		io_loop_stats(T.loop, &lst);
		print_message("%s: %u msgs echoed, %llu sendmsgs, %llu "
		    "ENOBUFS, %llu rounds\n", cases[ci].what, T.next,
		    (unsigned long long)cli_st.sendmsgs,
		    (unsigned long long)lst.enobufs,
		    (unsigned long long)lst.rounds);
		/* 16 buffers of 64 bytes cannot hold a 65535-byte burst:
		 * the recv ran dry and was re-armed */
		if (cases[ci].rbuf_count != 0)
			assert_true(lst.enobufs > 0);
		assert_int_equal(lst.conns, 0);
		if (T.mismatch != 0 || T.next != T.nexp)
			fail_msg("%s: %u of %u echoed, %u wrong", cases[ci].what,
			    T.next, T.nexp, T.mismatch);
		assert_int_equal(T.cli_connected, 1);
		assert_int_equal(T.cli_closed, 1);
		assert_int_equal(T.cli_why, IO_CLOSE_LOCAL);
		assert_int_equal(T.cli_err, 0);
		assert_int_equal(T.srv_closed, 1);
		assert_int_equal(T.srv_why, IO_CLOSE_EOF);
		assert_int_equal(T.srv_msgs, T.nexp);
		assert_int_equal(cli_st.msgs_in, T.nexp);
		assert_int_equal(cli_st.bytes_out, bytes);
		assert_int_equal(cli_st.bytes_in, bytes);
		assert_int_equal(cli_st.sendq_bytes, 0);
		if (!cases[ci].pack) {
			assert_int_equal(cli_st.bufs_out, T.nexp);
			/* many buffers per submission */
			assert_true(cli_st.sendmsgs < cli_st.bufs_out);
		}
		for (i = 0; i < T.nexp; i++) {
			/* the queues let go of every buffer */
			assert_int_equal(io_buf_refs(T.exp[i]), 1);
			io_buf_unref(T.exp[i]);
		}
		free(T.exp);
		io_loop_free(T.loop);
	}
}

/* ---- many connections, bound sources, one shared buffer ------------------ */

#define NCONN	200
#define NPER	5

struct mcli {
	unsigned	 got;
	unsigned	 bad;
};

static struct io_buf	*shared_msg;

static void
mcli_connected(struct io_conn *c, void *arg)
{
	unsigned	 i;

	(void)arg;
	T.cli_connected++;
	/* the same buffer, queued NPER times on each of NCONN conns */
	for (i = 0; i < NPER; i++)
		assert_int_equal(io_conn_send(c, shared_msg), 0);
}

static void
mcli_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	struct mcli	*m = arg;

	if (len != shared_msg->len || memcmp(msg, shared_msg->data, len) != 0)
		m->bad++;
	if (++m->got == NPER)
		io_conn_close(c, true);
}

static void
mcli_closed(struct io_conn *c, void *arg, enum io_close why, int err)
{
	(void)c;
	(void)arg;
	if (why != IO_CLOSE_LOCAL || err != 0)
		T.mismatch++;
	T.cli_closed++;
	done();
}

static const struct io_conn_ops mcli_ops = {
	.connected = mcli_connected,
	.msg = mcli_msg,
	.closed = mcli_closed,
};

static void
test_many_conns(void **state)
{
	static struct mcli	 m[NCONN];
	struct sockaddr_in	 local;
	struct io_conn		*c;
	char			 ip[32];
	uint8_t			 seen[256];
	unsigned		 i, o;

	(void)state;
	NEED_IO();
	reset(NULL);
	memset(m, 0, sizeof(m));
	T.echo = true;
	T.done_need = 2 * NCONN;
	shared_msg = mkmsg(1000, 42);
	start_server();
	for (i = 0; i < NCONN; i++) {
		/* every simulated peer has its own source address */
		snprintf(ip, sizeof(ip), "127.0.1.%u", i + 1);
		local = sin4(ip, 0);
		assert_int_equal(io_conn_connect(T.loop,
		    (struct sockaddr *)&T.addr, sizeof(T.addr),
		    (struct sockaddr *)&local, sizeof(local), NULL, &mcli_ops,
		    &m[i], &c), 0);
	}
	run(T.loop);
	assert_int_equal(T.accepted, NCONN);
	assert_int_equal(T.cli_connected, NCONN);
	assert_int_equal(T.cli_closed, NCONN);
	assert_int_equal(T.srv_closed, NCONN);
	assert_int_equal(T.mismatch, 0);
	assert_int_equal(T.srv_msgs, NCONN * NPER);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NCONN; i++) {
		assert_int_equal(m[i].got, NPER);
		assert_int_equal(m[i].bad, 0);
		/* the server saw each bound source exactly once */
		assert_int_equal(ntohl(T.remotes[i].sin_addr.s_addr) >> 8,
		    0x7f0001);
		o = ntohl(T.remotes[i].sin_addr.s_addr) & 0xff;
		assert_true(o >= 1 && o <= NCONN);
		assert_int_equal(seen[o], 0);
		seen[o] = 1;
	}
	/* NCONN * NPER sends done: only our reference is left */
	assert_int_equal(io_buf_refs(shared_msg), 1);
	io_buf_unref(shared_msg);
	io_loop_free(T.loop);
}

/* ---- refused and closed connections ------------------------------------- */

static void
test_refused(void **state)
{
	struct sockaddr_in	 a = sin4("127.0.0.1", 0);
	socklen_t		 len = sizeof(a);
	struct io_conn		*c;
	int			 fd;

	(void)state;
	NEED_IO();
	/* a port nobody listens on: bound, never listening */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	reset(NULL);
	T.done_need = 1;
	assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&a,
	    sizeof(a), NULL, 0, NULL, &cli_ops, NULL, &c), 0);
	run(T.loop);
	close(fd);
	assert_int_equal(T.cli_connected, 0);
	assert_int_equal(T.cli_closed, 1);
	assert_int_equal(T.cli_why, IO_CLOSE_CONNECT);
	assert_int_equal(T.cli_err, -ECONNREFUSED);
	io_loop_free(T.loop);

	/* the server refuses an unknown source at accept */
	reset(NULL);
	T.refuse = true;
	T.done_need = 2;
	start_server();
	assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&T.addr,
	    sizeof(T.addr), NULL, 0, NULL, &cli_ops, NULL, &c), 0);
	run(T.loop);
	assert_int_equal(T.refused, 1);
	assert_int_equal(T.cli_closed, 1);
	assert_true(T.cli_why == IO_CLOSE_EOF ||
	    (T.cli_why == IO_CLOSE_ERROR && T.cli_err == -ECONNRESET));
	io_loop_free(T.loop);
}

/* ---- raw peers: split writes, framing errors, graceful close ----------- */

struct raw {
	struct sockaddr_in	 to;
	const uint8_t		*out;
	size_t			 outlen;
	size_t			 piece;		/* write size */
	size_t			 want;		/* stop reading after this */
	uint8_t			*in;
	size_t			 incap, inlen;
	bool			 eof;
	int			 err;
};

static void *
raw_thread(void *arg)
{
	struct raw	*r = arg;
	struct timeval	 tv = { .tv_sec = 10, .tv_usec = 0 };
	size_t		 off, n;
	ssize_t		 k;
	int		 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&r->to, sizeof(r->to)) == -1) {
		r->err = errno;
		close(fd);
		return NULL;
	}
	for (off = 0; off < r->outlen; off += n) {
		n = r->outlen - off < r->piece ? r->outlen - off : r->piece;
		if (send(fd, r->out + off, n, MSG_NOSIGNAL) != (ssize_t)n) {
			r->err = errno;
			break;
		}
	}
	/* bounded by the receive timeout and the buffer's size */
	while (r->inlen < r->incap && (r->want == 0 || r->inlen < r->want)) {
		k = recv(fd, r->in + r->inlen, r->incap - r->inlen, 0);
		if (k == 0) {
			r->eof = true;
			break;
		}
		if (k < 0) {
			r->err = errno;
			break;
		}
		r->inlen += (size_t)k;
	}
	close(fd);
	return NULL;
}

static uint8_t *
concat(struct io_buf **m, unsigned n, size_t *len)
{
	uint8_t		*p;
	size_t		 off = 0;
	unsigned	 i;

	*len = 0;
	for (i = 0; i < n; i++)
		*len += m[i]->len;
	p = malloc(*len);
	assert_non_null(p);
	for (i = 0; i < n; i++) {
		memcpy(p + off, m[i]->data, m[i]->len);
		off += m[i]->len;
	}
	return p;
}

static void
test_split_writes(void **state)
{
	static const size_t	 pieces[] = { 1, 7, 18, 19, 20, 1000 };
	struct io_buf		*m[4];
	struct raw		 r;
	pthread_t		 th;
	uint8_t			*out;
	size_t			 outlen, pi;
	unsigned		 i;

	(void)state;
	NEED_IO();
	m[0] = mkmsg(19, 1);
	m[1] = mkmsg(300, 2);
	m[2] = mkmsg(4096, 3);
	m[3] = mkmsg(23, 4);
	out = concat(m, 4, &outlen);
	for (pi = 0; pi < sizeof(pieces) / sizeof(pieces[0]); pi++) {
		reset(NULL);
		T.echo = true;
		T.done_need = 1;
		start_server();
		memset(&r, 0, sizeof(r));
		r.to = T.addr;
		r.out = out;
		r.outlen = outlen;
		r.piece = pieces[pi];
		r.want = outlen;
		r.incap = outlen;
		r.in = malloc(outlen);
		assert_int_equal(pthread_create(&th, NULL, raw_thread, &r), 0);
		run(T.loop);
		pthread_join(th, NULL);
		assert_int_equal(r.err, 0);
		assert_int_equal(T.srv_msgs, 4);
		assert_int_equal(T.srv_why, IO_CLOSE_EOF);
		assert_int_equal(r.inlen, outlen);
		assert_memory_equal(r.in, out, outlen);
		free(r.in);
		io_loop_free(T.loop);
	}
	free(out);
	for (i = 0; i < 4; i++)
		io_buf_unref(m[i]);
}

static void
test_framing_error(void **state)
{
	static const struct {
		const char	*what;
		unsigned	 badlen;
		unsigned	 max;
	} cases[] = {
		{ "length 18", 18, 0 },
		{ "length 0", 0, 0 },
		{ "length 4097 over 4096", 4097, 0 },
		{ "length 5000 over a 4500 max", 5000, 4500 },
	};
	struct io_buf	*m[3];
	struct raw	 r;
	pthread_t	 th;
	uint8_t		*out, *ok;
	size_t		 outlen, oklen, ci;
	unsigned	 i;

	(void)state;
	NEED_IO();
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		m[0] = mkmsg(40, 1);
		m[1] = mkmsg(19, 2);	/* header rewritten below */
		m[1]->data[16] = (uint8_t)(cases[ci].badlen >> 8);
		m[1]->data[17] = (uint8_t)cases[ci].badlen;
		m[2] = mkmsg(19, 3);	/* must never be delivered */
		out = concat(m, 3, &outlen);
		ok = concat(m, 1, &oklen);
		reset(NULL);
		T.echo = true;
		T.notify_on_bad = true;
		T.srv_max = cases[ci].max;
		T.done_need = 1;
		start_server();
		memset(&r, 0, sizeof(r));
		r.to = T.addr;
		r.out = out;
		r.outlen = outlen;
		r.piece = outlen;
		r.incap = 4096;
		r.in = malloc(r.incap);
		assert_int_equal(pthread_create(&th, NULL, raw_thread, &r), 0);
		run(T.loop);
		pthread_join(th, NULL);
		assert_int_equal(r.err, 0);
		assert_int_equal(T.nbad, 1);
		assert_int_equal(T.badlen, cases[ci].badlen);
		assert_int_equal(T.srv_msgs, 1);
		assert_int_equal(T.msgs_after_bad, 0);
		assert_int_equal(T.srv_why, IO_CLOSE_LOCAL);
		/* the echo, then the NOTIFICATION (flushed), then EOF */
		assert_true(r.eof);
		assert_int_equal(r.inlen, oklen + 21);
		assert_memory_equal(r.in, ok, oklen);
		assert_int_equal(r.in[oklen + 18], 3);
		free(r.in);
		free(out);
		free(ok);
		for (i = 0; i < 3; i++)
			io_buf_unref(m[i]);
		io_loop_free(T.loop);
	}
}

#define BIG_N	64
static struct io_buf	*big[BIG_N];

static void
big_accept(struct io_listener *li, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen)
{
	struct io_conn	*c;
	unsigned	 i;

	(void)li;
	(void)arg;
	(void)remote;
	(void)rlen;
	(void)local;
	(void)llen;
	assert_int_equal(io_conn_attach(T.loop, fd, &srv_ops, NULL, &c), 0);
	for (i = 0; i < BIG_N; i++)
		assert_int_equal(io_conn_send(c, big[i]), 0);
	/* closing right away must still deliver all of it */
	io_conn_close(c, true);
	assert_int_equal(io_conn_send(c, big[0]), -EPIPE);
}

static void
test_graceful_close(void **state)
{
	struct sockaddr_in	 a = sin4("127.0.0.1", 0);
	struct sockaddr_storage	 ss;
	struct raw		 r;
	pthread_t		 th;
	uint8_t			*all;
	size_t			 len;
	unsigned		 i;

	(void)state;
	NEED_IO();
	reset(NULL);
	T.done_need = 1;
	for (i = 0; i < BIG_N; i++)
		big[i] = mkmsg(65535, (uint8_t)i);
	all = concat(big, BIG_N, &len);
	assert_int_equal(io_listen(T.loop, (struct sockaddr *)&a, sizeof(a),
	    big_accept, NULL, &T.li), 0);
	assert_int_equal(io_listen_addr(T.li, &ss), 0);
	memset(&r, 0, sizeof(r));
	memcpy(&r.to, &ss, sizeof(r.to));
	r.incap = len + 1;
	r.in = malloc(r.incap);
	assert_int_equal(pthread_create(&th, NULL, raw_thread, &r), 0);
	run(T.loop);
	pthread_join(th, NULL);
	assert_int_equal(r.err, 0);
	assert_true(r.eof);
	assert_int_equal(r.inlen, len);
	assert_memory_equal(r.in, all, len);
	assert_int_equal(T.srv_closed, 1);
	assert_int_equal(T.srv_why, IO_CLOSE_LOCAL);
	for (i = 0; i < BIG_N; i++) {
		assert_int_equal(io_buf_refs(big[i]), 1);
		io_buf_unref(big[i]);
	}
	free(all);
	free(r.in);
	io_loop_free(T.loop);
}

/* ---- timers -------------------------------------------------------------- */

#define NTIM	2000

static struct {
	struct io_timer	 t[NTIM];
	unsigned	 order[NTIM], n;
	uint64_t	 last_deadline;
	unsigned	 out_of_order;
	bool		 disarmed[NTIM];
	unsigned	 fired_disarmed;
} TM;

static void
tm_fire(struct io_timer *t, void *arg)
{
	unsigned	 id = (unsigned)(uintptr_t)arg;

	if (t->deadline < TM.last_deadline)
		TM.out_of_order++;
	TM.last_deadline = t->deadline;
	if (TM.disarmed[id])
		TM.fired_disarmed++;
	TM.order[TM.n++] = id;
	done();
}

static void
test_timers(void **state)
{
	/* id: ms; ids 3 and 6 are disarmed, 5 re-armed later */
	static const unsigned ms[] = { 30, 10, 20, 15, 20, 5, 12, 0 };
	static const unsigned want[] = { 7, 1, 2, 4, 0, 5 };
	unsigned	 i, seed = 1;

	(void)state;
	NEED_IO();
	reset(NULL);
	memset(&TM, 0, sizeof(TM));
	for (i = 0; i < 8; i++) {
		io_timer_init(&TM.t[i], T.loop, tm_fire, (void *)(uintptr_t)i);
		assert_int_equal(io_timer_arm(&TM.t[i], ms[i]), 0);
	}
	io_timer_disarm(&TM.t[3]);
	io_timer_disarm(&TM.t[6]);
	io_timer_disarm(&TM.t[6]);	/* twice is harmless */
	TM.disarmed[3] = TM.disarmed[6] = true;
	assert_false(io_timer_armed(&TM.t[3]));
	assert_int_equal(io_timer_arm(&TM.t[5], 40), 0);	/* moved last */
	T.done_need = 6;
	run(T.loop);
	assert_int_equal(TM.n, 6);
	assert_memory_equal(TM.order, want, sizeof(want));
	assert_int_equal(TM.fired_disarmed, 0);
	io_loop_free(T.loop);

	/* many timers: deadline order, disarmed ones never fire */
	reset(NULL);
	memset(&TM, 0, sizeof(TM));
	for (i = 0; i < NTIM; i++) {
		seed = seed * 1103515245 + 12345;
		io_timer_init(&TM.t[i], T.loop, tm_fire, (void *)(uintptr_t)i);
		assert_int_equal(io_timer_arm(&TM.t[i], (seed >> 16) % 50), 0);
	}
	for (i = 0; i < NTIM; i += 3) {
		io_timer_disarm(&TM.t[i]);
		TM.disarmed[i] = true;
	}
	T.done_need = NTIM - (NTIM + 2) / 3;
	run(T.loop);
	assert_int_equal(TM.n, T.done_need);
	assert_int_equal(TM.out_of_order, 0);
	assert_int_equal(TM.fired_disarmed, 0);
	io_loop_free(T.loop);
}

/* ---- cross-thread posts and wake-ups -------------------------------------- */

#define NPOSTERS	4
#define NPOSTS		20000

static struct {
	unsigned	 next[NPOSTERS];
	unsigned	 bad_order, total;
	atomic_uint	 published;
	unsigned	 polls, seen_published;
} PT;

struct post_item {
	unsigned	 th, seq;
};

static void
post_fn(void *arg)
{
	struct post_item *it = arg;

	if (it->seq != PT.next[it->th])
		PT.bad_order++;
	PT.next[it->th] = it->seq + 1;
	free(it);
	if (++PT.total == NPOSTERS * NPOSTS)
		done();
}

static void *
poster(void *arg)
{
	unsigned		 th = (unsigned)(uintptr_t)arg, i, tries;
	struct post_item	*it;

	for (i = 0; i < NPOSTS; i++) {
		it = malloc(sizeof(*it));
		it->th = th;
		it->seq = i;
		/* a full queue: retry, bounded */
		for (tries = 0; io_loop_post(T.loop, post_fn, it) == -EAGAIN;
		    tries++) {
			if (tries == 10000000)
				abort();
			sched_yield();
		}
	}
	return NULL;
}

static void
poll_cb(struct io_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	PT.polls++;
	/* acquire: pairs with the waker's release below */
	if (atomic_load_explicit(&PT.published, memory_order_acquire) == 1 &&
	    PT.seen_published == 0) {
		PT.seen_published = 1;
		done();
	}
}

static void *
waker(void *arg)
{
	(void)arg;
	atomic_store_explicit(&PT.published, 1, memory_order_release);
	io_loop_wake(T.loop);
	return NULL;
}

static void
test_post(void **state)
{
	struct io_loop_conf	 conf;
	pthread_t		 th[NPOSTERS + 1];
	unsigned		 i;

	(void)state;
	NEED_IO();
	memset(&conf, 0, sizeof(conf));
	conf.post_slots = 256;	/* small: producers hit -EAGAIN */
	reset(&conf);
	memset(&PT, 0, sizeof(PT));
	T.done_need = 2;
	io_loop_set_poll(T.loop, poll_cb, NULL);
	for (i = 0; i < NPOSTERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, poster,
		    (void *)(uintptr_t)i), 0);
	assert_int_equal(pthread_create(&th[NPOSTERS], NULL, waker, NULL), 0);
	run(T.loop);
	for (i = 0; i <= NPOSTERS; i++)
		pthread_join(th[i], NULL);
	print_message("posts run %u, polls %u\n", PT.total, PT.polls);
	assert_int_equal(PT.total, NPOSTERS * NPOSTS);
	assert_int_equal(PT.bad_order, 0);
	assert_int_equal(PT.seen_published, 1);
	for (i = 0; i < NPOSTERS; i++)
		assert_int_equal(PT.next[i], NPOSTS);
	io_loop_free(T.loop);
}

/* Stop from another thread while the loop sleeps with open connections. */
static void *
stopper(void *arg)
{
	io_loop_stop(arg);
	return NULL;
}

static void
test_stop_closes(void **state)
{
	struct io_conn	*c;
	pthread_t	 th;

	(void)state;
	NEED_IO();
	reset(NULL);
	T.done_need = 1000;	/* never reached: the stopper ends it */
	start_server();
	assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&T.addr,
	    sizeof(T.addr), NULL, 0, NULL, &cli_ops, NULL, &c), 0);
	assert_int_equal(pthread_create(&th, NULL, stopper, T.loop), 0);
	run(T.loop);
	pthread_join(th, NULL);
	/* every conn got its closed() on the way out */
	assert_int_equal(T.cli_closed, 1);
	assert_int_equal(T.srv_closed, T.accepted);
	io_loop_free(T.loop);
}

/* Thousands of established connections torn down by io_loop_stop(). */
static unsigned	 n_stop_conns;

static void
many_connected(struct io_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	if (++T.cli_connected == n_stop_conns)
		io_loop_stop(T.loop);
}

static const struct io_conn_ops many_ops = {
	.connected = many_connected,
	.msg = cli_msg,
	.closed = cli_closed,
};

static void
test_stop_many(void **state)
{
	struct rlimit	 rl;
	struct io_conn	*c;
	unsigned	 i;

	(void)state;
	NEED_IO();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	n_stop_conns = 1000;	/* 2,000 sockets: both ends are ours */
	if (rl.rlim_cur < 2 * n_stop_conns + 100)
		n_stop_conns = (unsigned)(rl.rlim_cur - 100) / 2;
	reset(NULL);
	T.done_need = 1 << 30;
	start_server();
	for (i = 0; i < n_stop_conns; i++)
		assert_int_equal(io_conn_connect(T.loop,
		    (struct sockaddr *)&T.addr, sizeof(T.addr), NULL, 0, NULL,
		    &many_ops, NULL, &c), 0);
	run(T.loop);
	assert_int_equal(T.cli_connected, n_stop_conns);
	assert_int_equal(T.cli_closed, n_stop_conns);
	assert_int_equal(T.srv_closed, T.accepted);
	io_loop_free(T.loop);
}

/* ---- accept on one loop, attach on another ------------------------------ */

static struct {
	struct io_loop	*a, *b;
	pthread_t	 b_thread;
	unsigned	 attached, wrong_thread, msgs;	/* written on b */
	int		 attach_err;
} X;

static void
x_done(void *arg)
{
	(void)arg;
	done();		/* on loop a */
}

static void
x_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	(void)arg;
	if (!pthread_equal(pthread_self(), X.b_thread))
		X.wrong_thread++;
	X.msgs++;
	assert_int_equal(io_conn_send_copy(c, msg, len), 0);
}

static void
x_closed(struct io_conn *c, void *arg, enum io_close why, int err)
{
	(void)c;
	(void)arg;
	(void)why;
	(void)err;
	assert_int_equal(io_loop_post(X.a, x_done, NULL), 0);
}

static const struct io_conn_ops x_ops = {
	.msg = x_msg,
	.closed = x_closed,
};

static void
x_attach(void *arg)
{
	struct io_conn	*c;
	int		 fd = (int)(intptr_t)arg;

	/* on loop b's thread: the fd becomes b's connection */
	X.attach_err = io_conn_attach(X.b, fd, &x_ops, NULL, &c);
	if (X.attach_err == 0 && io_conn_loop(c) == X.b)
		X.attached++;
}

static void
x_accept(struct io_listener *li, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen)
{
	(void)li;
	(void)arg;
	(void)remote;
	(void)rlen;
	(void)local;
	(void)llen;
	T.accepted++;
	/* nothing allocated yet: hand the bare fd to the other thread */
	assert_int_equal(io_loop_post(X.b, x_attach, (void *)(intptr_t)fd), 0);
}

static void *
b_main(void *arg)
{
	(void)arg;
	io_loop_run(X.b);
	return NULL;
}

static void
test_cross_loop_attach(void **state)
{
	struct sockaddr_in	 a = sin4("127.0.0.1", 0);
	struct sockaddr_storage	 ss;
	struct io_conn		*c;
	unsigned		 i;

	(void)state;
	NEED_IO();
	reset(NULL);
	memset(&X, 0, sizeof(X));
	X.a = T.loop;
	X.b = mkloop(NULL);
	T.done_need = 2;	/* client closed, b's conn closed */
	T.nexp = 10;
	T.exp = calloc(T.nexp, sizeof(*T.exp));
	for (i = 0; i < T.nexp; i++)
		T.exp[i] = mkmsg(19 + i * 100, (uint8_t)i);
	assert_int_equal(io_listen(T.loop, (struct sockaddr *)&a, sizeof(a),
	    x_accept, NULL, &T.li), 0);
	assert_int_equal(io_listen_addr(T.li, &ss), 0);
	memcpy(&T.addr, &ss, sizeof(T.addr));
	assert_int_equal(pthread_create(&X.b_thread, NULL, b_main, NULL), 0);
	assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&T.addr,
	    sizeof(T.addr), NULL, 0, NULL, &cli_ops, NULL, &c), 0);
	run(T.loop);
	io_loop_stop(X.b);
	pthread_join(X.b_thread, NULL);
	assert_int_equal(T.accepted, 1);
	assert_int_equal(X.attach_err, 0);
	assert_int_equal(X.attached, 1);
	assert_int_equal(X.wrong_thread, 0);
	assert_int_equal(X.msgs, T.nexp);
	assert_int_equal(T.next, T.nexp);
	assert_int_equal(T.mismatch, 0);
	assert_int_equal(T.cli_why, IO_CLOSE_LOCAL);
	for (i = 0; i < T.nexp; i++)
		io_buf_unref(T.exp[i]);
	free(T.exp);
	io_loop_free(X.b);
	io_loop_free(T.loop);
}

/* ---- IPv6 ------------------------------------------------------------------ */

static void
v6_accept(struct io_listener *li, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen)
{
	struct io_conn		*c;
	struct io_sock_opts	 o;

	(void)li;
	(void)arg;
	(void)llen;
	assert_int_equal(remote->sa_family, AF_INET6);
	assert_int_equal(local->sa_family, AF_INET6);
	T.accepted++;
	/* GTSM for this peer: what the engine does for a configured peer */
	memset(&o, 0, sizeof(o));
	o.gtsm_hops = 1;
	assert_int_equal(io_sock_apply(fd, remote, rlen, &o), 0);
	assert_int_equal(io_conn_attach(T.loop, fd, &srv_ops, NULL, &c), 0);
}

static void
test_ipv6(void **state)
{
	struct sockaddr_in6	 a;
	struct sockaddr_storage	 ss;
	struct io_conn		*c;
	struct io_sock_opts	 o;
	int			 r;

	(void)state;
	NEED_IO();
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	reset(NULL);
	T.echo = true;
	T.done_need = 2;
	T.nexp = 3;
	T.exp = calloc(T.nexp, sizeof(*T.exp));
	T.exp[0] = mkmsg(19, 0);
	T.exp[1] = mkmsg(4096, 1);
	T.exp[2] = mkmsg(77, 2);
	r = io_listen(T.loop, (struct sockaddr *)&a, sizeof(a), v6_accept,
	    NULL, &T.li);
	if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
		print_message("skipped: no IPv6 loopback: %s\n", strerror(-r));
		io_loop_free(T.loop);
		skip();
	}
	assert_int_equal(r, 0);
	/* the SYN-ACK must carry hop limit 255 for a GTSM client */
	assert_int_equal(io_listen_ttl(T.li, 255), 0);
	assert_int_equal(io_listen_addr(T.li, &ss), 0);
	memset(&o, 0, sizeof(o));
	o.gtsm_hops = 1;	/* IPV6_UNICAST_HOPS 255, IPV6_MINHOPCOUNT 255 */
	o.nodelay = true;
	assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&ss,
	    sizeof(a), (struct sockaddr *)&a, sizeof(a), &o, &cli_ops, NULL,
	    &c), 0);
	run(T.loop);
	assert_int_equal(T.accepted, 1);
	assert_int_equal(T.next, T.nexp);
	assert_int_equal(T.mismatch, 0);
	assert_int_equal(T.srv_why, IO_CLOSE_EOF);
	io_buf_unref(T.exp[0]);
	io_buf_unref(T.exp[1]);
	io_buf_unref(T.exp[2]);
	free(T.exp);
	io_loop_free(T.loop);
}

/* ---- accept errors back off and recover ------------------------------- */

static void
restore_fire(struct io_timer *t, void *arg)
{
	(void)t;
	/* descriptors available again: the retry timer's accept succeeds */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, arg), 0);
}

static void
test_accept_emfile(void **state)
{
	struct rlimit	 old, low;
	struct io_timer	 rt;
	int		 cfd[3], lowest, i, r;

	(void)state;
	NEED_IO();
	reset(NULL);
	T.refuse = true;
	T.done_need = 3;
	start_server();
	for (i = 0; i < 3; i++) {
		/* handshakes complete in the backlog, nobody accepts yet */
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(cfd[i] >= 0);
		r = connect(cfd[i], (struct sockaddr *)&T.addr, sizeof(T.addr));
		assert_true(r == 0 || errno == EINPROGRESS);
	}
	/* every descriptor below the lowest free one is in use: a limit
	 * there makes the next accept fail with EMFILE */
	lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	io_timer_init(&rt, T.loop, restore_fire, &old);
	assert_int_equal(io_timer_arm(&rt, 300), 0);
	run(T.loop);
	io_timer_disarm(&rt);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(T.li_errors > 0);	/* it did fail, and recovered */
	assert_int_equal(T.refused, 3);
	for (i = 0; i < 3; i++)
		close(cfd[i]);
	io_loop_free(T.loop);
}

/* ---- flow control: pause and resume -------------------------------------- */

static struct {
	struct io_conn	*srv;
	struct io_timer	 resume;
	unsigned	 at_resume, order_bad, pauses;
	bool		 resumed;
} P;

static void
p_resume(struct io_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	P.at_resume = T.srv_msgs;
	P.resumed = true;
	assert_int_equal(io_conn_pause(P.srv, false), 0);
}

static void
p_msg(struct io_conn *c, void *arg, const uint8_t *msg, size_t len)
{
	(void)arg;
	if (T.srv_msgs < T.nexp && (len != T.exp[T.srv_msgs]->len ||
	    memcmp(msg, T.exp[T.srv_msgs]->data, len) != 0))
		P.order_bad++;
	T.srv_msgs++;
	if (T.srv_msgs == 1) {
		/* pause from inside msg(): the rest of the buffer waits */
		P.srv = c;
		assert_int_equal(io_conn_pause(c, true), 0);
		P.pauses++;
		assert_int_equal(io_timer_arm(&P.resume, 100), 0);
	}
}

static const struct io_conn_ops p_ops = {
	.msg = p_msg,
	.closed = srv_closed,
};

static void
p_accept(struct io_listener *li, void *arg, int fd,
    const struct sockaddr *remote, socklen_t rlen,
    const struct sockaddr *local, socklen_t llen)
{
	struct io_conn	*c;

	(void)li;
	(void)arg;
	(void)remote;
	(void)rlen;
	(void)local;
	(void)llen;
	T.accepted++;
	assert_int_equal(io_conn_attach(T.loop, fd, &p_ops, NULL, &c), 0);
	assert_int_equal(io_conn_set_max_msg(c, 65535), 0);
}

static void
p_connected(struct io_conn *c, void *arg)
{
	unsigned	 i;

	(void)arg;
	for (i = 0; i < T.nexp; i++)
		assert_int_equal(io_conn_send(c, T.exp[i]), 0);
	/* the FIN follows the data: it reaches a paused peer */
	io_conn_close(c, true);
}

static const struct io_conn_ops p_cli_ops = {
	.connected = p_connected,
	.closed = cli_closed,
};

static void
test_pause(void **state)
{
	static const struct {
		const char	*what;
		unsigned	 rbuf_size;
	} cases[] = {
		{ "default buffers", 0 },
		{ "64-byte buffers: split messages kept", 64 },
	};
	struct sockaddr_in	 a = sin4("127.0.0.1", 0);
	struct sockaddr_storage	 ss;
	struct io_loop_conf	 conf;
	struct io_conn		*c;
	size_t			 ci;
	unsigned		 i;

	(void)state;
	NEED_IO();
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		memset(&conf, 0, sizeof(conf));
		conf.rbuf_size = cases[ci].rbuf_size;
		reset(&conf);
		memset(&P, 0, sizeof(P));
		io_timer_init(&P.resume, T.loop, p_resume, NULL);
		T.done_need = 2;
		T.nexp = 60;
		T.exp = calloc(T.nexp, sizeof(*T.exp));
		for (i = 0; i < T.nexp; i++)
			T.exp[i] = mkmsg(i % 10 == 9 ? 65535 : 19 + i * 7,
			    (uint8_t)i);
		assert_int_equal(io_listen(T.loop, (struct sockaddr *)&a,
		    sizeof(a), p_accept, NULL, &T.li), 0);
		assert_int_equal(io_listen_addr(T.li, &ss), 0);
		assert_int_equal(io_conn_connect(T.loop, (struct sockaddr *)&ss,
		    sizeof(a), NULL, 0, NULL, &p_cli_ops, NULL, &c), 0);
		run(T.loop);
		io_timer_disarm(&P.resume);
		assert_int_equal(P.pauses, 1);
		assert_true(P.resumed);
		/* nothing was delivered while paused */
		if (P.at_resume != 1)
			fail_msg("%s: %u msgs delivered while paused",
			    cases[ci].what, P.at_resume - 1);
		assert_int_equal(T.srv_msgs, T.nexp);
		assert_int_equal(P.order_bad, 0);
		/* the FIN is reported after the kept messages */
		assert_int_equal(T.srv_why, IO_CLOSE_EOF);
		assert_int_equal(T.cli_why, IO_CLOSE_LOCAL);
		for (i = 0; i < T.nexp; i++)
			io_buf_unref(T.exp[i]);
		free(T.exp);
		io_loop_free(T.loop);
	}
}

/* ---- TCP-MD5 (RFC 2385) on two plain sockets ---------------------------- */

static int
md5_connect(const struct sockaddr_in *to, const char *key, unsigned ms)
{
	struct pollfd	 p;
	socklen_t	 len = sizeof(int);
	int		 fd, err = 0, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	if (key != NULL)
		assert_int_equal(io_sock_md5(fd, (const struct sockaddr *)to,
		    sizeof(*to), 32, key, strlen(key)), 0);
	r = connect(fd, (const struct sockaddr *)to, sizeof(*to));
	assert_true(r == 0 || errno == EINPROGRESS);
	p.fd = fd;
	p.events = POLLOUT;
	/* a bound on waiting for something that may never come */
	r = poll(&p, 1, (int)ms);
	if (r == 1)
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	close(fd);
	return r == 1 && err == 0 ? 0 : -1;
}

static void
test_md5(void **state)
{
	static const struct {
		const char	*what;
		const char	*lkey;		/* on the listener */
		unsigned	 prefixlen;
		const char	*ckey;		/* on the client */
		bool		 connects;
	} cases[] = {
		{ "matching keys", "s3cret", 32, "s3cret", true },
		{ "prefix /8 on the listener", "s3cret", 8, "s3cret", true },
		{ "mismatched keys", "s3cret", 32, "other", false },
		{ "client without key", "s3cret", 32, NULL, false },
	};
	struct sockaddr_in	 a = sin4("127.0.0.1", 0), peer;
	socklen_t		 len = sizeof(a);
	size_t			 ci;
	int			 lfd, r;

	(void)state;
	peer = sin4("127.0.0.1", 0);
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		a = sin4("127.0.0.1", 0);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len),
		    0);
		assert_int_equal(listen(lfd, 8), 0);
		r = io_sock_md5(lfd, (struct sockaddr *)&peer, sizeof(peer),
		    cases[ci].prefixlen, cases[ci].lkey,
		    strlen(cases[ci].lkey));
		if (r == -ENOPROTOOPT || r == -ENOENT || r == -EOPNOTSUPP) {
			close(lfd);
			print_message("skipped: kernel without TCP-MD5: %s\n",
			    strerror(-r));
			skip();
		}
		assert_int_equal(r, 0);
		r = md5_connect(&a, cases[ci].ckey,
		    cases[ci].connects ? 5000 : 1000);
		if (cases[ci].connects != (r == 0))
			fail_msg("%s: connect %s", cases[ci].what,
			    r == 0 ? "succeeded" : "failed");
		/* removing the key works too */
		assert_int_equal(io_sock_md5(lfd, (struct sockaddr *)&peer,
		    sizeof(peer), cases[ci].prefixlen, NULL, 0), 0);
		close(lfd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer),
		cmocka_unit_test(test_framer_stop),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_footprint),
		cmocka_unit_test(test_sockopts),
		cmocka_unit_test(test_buf_refs),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_many_conns),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_split_writes),
		cmocka_unit_test(test_framing_error),
		cmocka_unit_test(test_graceful_close),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_stop_closes),
		cmocka_unit_test(test_stop_many),
		cmocka_unit_test(test_cross_loop_attach),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_accept_emfile),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_md5),
	};

	have_io = io_probe(probe_err, sizeof(probe_err)) == 0;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
