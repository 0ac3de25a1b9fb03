/*
 * io/listen.c — listening sockets with multishot accept through the ring.
 *
 * Runs on the owning loop's thread. Each accepted socket goes to the owner's
 * callback with its addresses before anything is allocated for it, so an
 * unknown source costs one close. Invariants: at most one accept operation
 * in flight (armed); a closing listener is freed by io_listeners_reap() once
 * the kernel has returned that operation, never from inside a callback.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "io_int.h"

static void
arm_accept(struct io_listener *li)
{
	struct io_uring_sqe	*sqe;

	if (li->armed || li->closing)
		return;
	sqe = io_sqe(li->loop);
	io_uring_prep_multishot_accept(sqe, li->fd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, io_ud(li, IO_OP_ACCEPT));
	li->armed = true;
	li->inflight++;
}

static void
retry_fire(struct io_timer *t, void *arg)
{
	(void)t;
	arm_accept(arg);
}

int
io_listen(struct io_loop *l, const struct sockaddr *addr, socklen_t alen,
    io_accept_cb cb, void *arg, struct io_listener **out)
{
	struct io_listener	*li;
	int			 fd, one = 1, r;

	*out = NULL;
	if (addr == NULL || cb == NULL ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (addr->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, addr, alen) == -1 || listen(fd, 4096) == -1) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((li = calloc(1, sizeof(*li))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	IO_BUG_ON(((uintptr_t)li & IO_OP_MASK) != 0);
	li->loop = l;
	li->fd = fd;
	li->cb = cb;
	li->arg = arg;
	io_timer_init(&li->retry, l, retry_fire, li);
	li->next = l->listeners;
	if (l->listeners != NULL)
		l->listeners->prev = li;
	l->listeners = li;
	arm_accept(li);
	*out = li;
	return 0;
}

int
io_listen_md5(struct io_listener *li, const struct sockaddr *remote,
    socklen_t rlen, unsigned prefixlen, const void *key, size_t keylen)
{
	return io_sock_md5(li->fd, remote, rlen, prefixlen, key, keylen);
}

int
io_listen_ttl(struct io_listener *li, int ttl)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 v6;

	if (ttl < 1 || ttl > 255)
		return -EINVAL;
	if (getsockname(li->fd, (struct sockaddr *)&ss, &len) == -1)
		return -errno;
	v6 = ss.ss_family == AF_INET6;
	if (setsockopt(li->fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl, sizeof(ttl)) == -1)
		return -errno;
	return 0;
}

int
io_listen_addr(const struct io_listener *li, struct sockaddr_storage *ss)
{
	socklen_t	 len = sizeof(*ss);

	if (getsockname(li->fd, (struct sockaddr *)ss, &len) == -1)
		return -errno;
	return 0;
}

void
io_listen_close(struct io_listener *li)
{
	struct io_uring_sqe	*sqe;

	if (li->closing)
		return;
	li->closing = true;
	li->loop->lclosing++;
	io_timer_disarm(&li->retry);
	if (li->armed) {
		sqe = io_sqe(li->loop);
		io_uring_prep_cancel64(sqe, io_ud(li, IO_OP_ACCEPT), 0);
		io_uring_sqe_set_data64(sqe, io_ud(NULL, IO_OP_IGNORE));
	}
}

void
io_listen_cqe(struct io_listener *li, struct io_uring_cqe *cqe)
{
	struct sockaddr_storage	 rss, lss;
	socklen_t		 rlen = sizeof(rss), llen = sizeof(lss);
	int			 fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		li->armed = false;
		li->inflight--;
	}
	if (fd >= 0) {
		/*
		 * Addresses by syscall, not through the SQE: a multishot
		 * accept would write every connection's address into the same
		 * place, possibly before we read the previous one.
		 */
		if (li->closing ||
		    getpeername(fd, (struct sockaddr *)&rss, &rlen) == -1 ||
		    getsockname(fd, (struct sockaddr *)&lss, &llen) == -1)
			close(fd);
		else
			li->cb(li, li->arg, fd, (struct sockaddr *)&rss, rlen,
			    (struct sockaddr *)&lss, llen);
	}
	if (li->armed || li->closing)
		return;
	if (fd < 0 && fd != -ECANCELED) {
		/*
		 * Out of descriptors or memory (-EMFILE, -ENFILE, -ENOMEM):
		 * re-arming at once would fail at once, so wait a little;
		 * pending connections wait in the backlog meanwhile.
		 */
		li->errors++;
		if (io_timer_arm(&li->retry, 100) == 0)
			return;
	}
	arm_accept(li);
}

static void
listener_free(struct io_listener *li)
{
	struct io_loop	*l = li->loop;

	if (li->prev != NULL)
		li->prev->next = li->next;
	else
		l->listeners = li->next;
	if (li->next != NULL)
		li->next->prev = li->prev;
	close(li->fd);
	free(li);
}

void
io_listeners_reap(struct io_loop *l)
{
	struct io_listener	*li, *next;

	if (l->lclosing == 0)
		return;
	for (li = l->listeners; li != NULL; li = next) {
		next = li->next;
		if (li->closing && li->inflight == 0) {
			l->lclosing--;
			listener_free(li);
		}
	}
}

void
io_listeners_shutdown(struct io_loop *l)
{
	struct io_listener	*li;

	for (li = l->listeners; li != NULL; li = li->next)
		io_listen_close(li);
}

void
io_listeners_free_all(struct io_loop *l)
{
	while (l->listeners != NULL)
		listener_free(l->listeners);
	l->lclosing = 0;
}
