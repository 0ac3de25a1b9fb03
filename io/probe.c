/*
 * io/probe.c — kernel feature detection, run once at start (any thread).
 *
 * Checks by doing: a ring is created, the opcodes are looked up, a provided
 * buffer ring is registered, and a multishot recv and a multishot accept are
 * run on a local AF_UNIX pair, so the answer holds for this kernel with this
 * process's seccomp filter and sysctls, whatever the version number says.
 * Each failure names the missing piece.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "io_int.h"

#define PROBE_BUFS	4
#define PROBE_BUFSZ	64

static int
perr(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int
setup_error(int r, char *err, size_t len)
{
	char	 v[8] = "";
	FILE	*f;

	if (r == -ENOSYS)
		return perr(err, len, r, "io_uring: the kernel has no io_uring "
		    "(CONFIG_IO_URING off, or a seccomp filter returns ENOSYS)");
	if (r != -EPERM)
		return perr(err, len, r, "io_uring_setup: %s", strerror(-r));
	if ((f = fopen("/proc/sys/kernel/io_uring_disabled", "r")) != NULL) {
		if (fgets(v, sizeof(v), f) == NULL)
			v[0] = '\0';
		fclose(f);
	}
	if (v[0] == '1' || v[0] == '2')
		return perr(err, len, r, "io_uring disabled by sysctl "
		    "kernel.io_uring_disabled=%c%s", v[0], v[0] == '1' ?
		    " (this process is not in kernel.io_uring_group)" : "");
	return perr(err, len, r, "io_uring_setup: permission denied "
	    "(a seccomp filter or container policy blocks io_uring)");
}

/* One completion, waited for at most a second. */
static int
wait1(struct io_uring *ring, int *res, unsigned *flags)
{
	struct __kernel_timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
	struct io_uring_cqe	*cqe;
	int			 r;

	io_uring_submit(ring);
	if ((r = io_uring_wait_cqe_timeout(ring, &cqe, &ts)) < 0)
		return r;
	*res = cqe->res;
	*flags = cqe->flags;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

static int
probe_multishot(struct io_uring *ring, struct io_uring_buf_ring *br,
    char *err, size_t len)
{
	struct io_uring_buf_reg	 reg;
	struct io_uring_sqe	*sqe;
	struct sockaddr_un	 sun;
	socklen_t		 slen;
	static uint8_t		 bufs[PROBE_BUFS][PROBE_BUFSZ];
	unsigned		 flags;
	int			 sp[2] = { -1, -1 }, lfd = -1, cfd = -1;
	int			 r, res, i;

	memset(br, 0, 4096);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = PROBE_BUFS;
	reg.bgid = 1;
	if ((r = io_uring_register_buf_ring(ring, &reg, 0)) < 0) {
		r = perr(err, len, r, "io_uring: no provided buffer rings "
		    "(IORING_REGISTER_PBUF_RING, Linux 5.19): %s",
		    strerror(-r));
		goto out;
	}
	io_uring_buf_ring_init(br);
	for (i = 0; i < PROBE_BUFS; i++)
		io_uring_buf_ring_add(br, bufs[i], PROBE_BUFSZ,
		    (unsigned short)i, io_uring_buf_ring_mask(PROBE_BUFS), i);
	io_uring_buf_ring_advance(br, PROBE_BUFS);

	/* multishot recv */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		r = perr(err, len, -errno, "probe: socketpair: %s",
		    strerror(errno));
		goto out;
	}
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, sp[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 1;
	if (write(sp[1], "x", 1) != 1) {
		r = perr(err, len, -errno, "probe: write: %s", strerror(errno));
		goto out;
	}
	if ((r = wait1(ring, &res, &flags)) < 0) {
		r = perr(err, len, r, "io_uring: multishot recv did not "
		    "complete: %s", strerror(-r));
		goto out;
	}
	if (res != 1 || !(flags & IORING_CQE_F_MORE) ||
	    !(flags & IORING_CQE_F_BUFFER)) {
		r = perr(err, len, res < 0 ? res : -EOPNOTSUPP, "io_uring: no "
		    "multishot recv with provided buffers (Linux 6.0): %s",
		    res < 0 ? strerror(-res) : "single shot only");
		goto out;
	}

	/* multishot accept, on an autobound abstract AF_UNIX socket */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sun,
	    sizeof(sa_family_t)) == -1 || listen(lfd, 4) == -1) {
		r = perr(err, len, -errno, "probe: listen: %s",
		    strerror(errno));
		goto out;
	}
	slen = sizeof(sun);
	getsockname(lfd, (struct sockaddr *)&sun, &slen);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd == -1 || connect(cfd, (struct sockaddr *)&sun, slen) == -1) {
		r = perr(err, len, -errno, "probe: connect: %s",
		    strerror(errno));
		goto out;
	}
	if ((r = wait1(ring, &res, &flags)) < 0) {
		r = perr(err, len, r, "io_uring: multishot accept did not "
		    "complete: %s", strerror(-r));
		goto out;
	}
	if (res < 0 || !(flags & IORING_CQE_F_MORE)) {
		r = perr(err, len, res < 0 ? res : -EOPNOTSUPP, "io_uring: no "
		    "multishot accept (Linux 5.19): %s", res < 0 ?
		    strerror(-res) : "single shot only");
		if (res >= 0)
			close(res);
		goto out;
	}
	close(res);
	r = 0;
out:
	if (cfd != -1)
		close(cfd);
	if (lfd != -1)
		close(lfd);
	if (sp[0] != -1) {
		close(sp[0]);
		close(sp[1]);
	}
	return r;
}

int
io_probe(char *err, size_t len)
{
	static const struct {
		int		 op;
		const char	*name;
	} need[] = {
		{ IORING_OP_ACCEPT, "ACCEPT" },
		{ IORING_OP_CONNECT, "CONNECT" },
		{ IORING_OP_RECV, "RECV" },
		{ IORING_OP_SENDMSG, "SENDMSG" },
		{ IORING_OP_READ, "READ" },
		{ IORING_OP_TIMEOUT, "TIMEOUT" },
		{ IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE" },
		{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	};
	struct io_uring		 ring;
	struct io_uring_probe	*p;
	size_t			 i;
	void			*br;
	int			 r;

	if (err != NULL && len > 0)
		err[0] = '\0';
	if ((r = io_uring_queue_init(16, &ring, 0)) < 0)
		return setup_error(r, err, len);
	if ((p = io_uring_get_probe_ring(&ring)) == NULL) {
		io_uring_queue_exit(&ring);
		return perr(err, len, -EOPNOTSUPP, "io_uring: cannot probe "
		    "opcodes (Linux < 5.6)");
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!io_uring_opcode_supported(p, need[i].op)) {
			io_uring_free_probe(p);
			io_uring_queue_exit(&ring);
			return perr(err, len, -EOPNOTSUPP, "io_uring: opcode "
			    "IORING_OP_%s not supported", need[i].name);
		}
	}
	io_uring_free_probe(p);
	if (posix_memalign(&br, 4096, 4096) != 0) {
		io_uring_queue_exit(&ring);
		return perr(err, len, -ENOMEM, "probe: out of memory");
	}
	r = probe_multishot(&ring, br, err, len);
	/* the ring first: the kernel may still point at br */
	io_uring_queue_exit(&ring);
	free(br);
	return r;
}
