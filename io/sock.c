/*
 * io/sock.c — socket options for BGP transport: TTL, GTSM (RFC 5082),
 * TCP-MD5 (RFC 2385), TCP_NODELAY.
 *
 * Plain setsockopt() calls, safe on any thread for a socket the caller owns.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "io_int.h"

static int
sopt(int fd, int level, int name, int val)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) == -1)
		return -errno;
	return 0;
}

int
io_sock_md5(int fd, const struct sockaddr *remote, socklen_t rlen,
    unsigned prefixlen, const void *key, size_t keylen)
{
	struct tcp_md5sig	 md;
	unsigned		 full;
	int			 opt = TCP_MD5SIG;

	if (remote == NULL || keylen > TCP_MD5SIG_MAXKEYLEN ||
	    rlen > sizeof(md.tcpm_addr))
		return -EINVAL;
	if (remote->sa_family == AF_INET)
		full = 32;
	else if (remote->sa_family == AF_INET6)
		full = 128;
	else
		return -EAFNOSUPPORT;
	if (prefixlen > full)
		return -EINVAL;
	memset(&md, 0, sizeof(md));
	memcpy(&md.tcpm_addr, remote, rlen);
	if (prefixlen < full) {
		/* a range of peers on a listener: TCP_MD5SIG_EXT */
		opt = TCP_MD5SIG_EXT;
		md.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
		md.tcpm_prefixlen = (uint8_t)prefixlen;
	}
	md.tcpm_keylen = (uint16_t)keylen;
	if (keylen > 0)
		memcpy(md.tcpm_key, key, keylen);
	if (setsockopt(fd, IPPROTO_TCP, opt, &md, sizeof(md)) == -1)
		return -errno;
	return 0;
}

int
io_sock_apply(int fd, const struct sockaddr *remote, socklen_t rlen,
    const struct io_sock_opts *o)
{
	int	 v6, r;

	if (o == NULL)
		return 0;
	if (remote == NULL)
		return -EINVAL;
	v6 = remote->sa_family == AF_INET6;
	if (o->nodelay && (r = sopt(fd, IPPROTO_TCP, TCP_NODELAY, 1)) < 0)
		return r;
	if (o->gtsm_hops != 0) {
		/* RFC 5082 §3: send with TTL 255, accept only TTL >= 256 - N */
		if (o->gtsm_hops < 1 || o->gtsm_hops > 254)
			return -EINVAL;
		if (v6) {
			if ((r = sopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS,
			    255)) < 0 || (r = sopt(fd, IPPROTO_IPV6,
			    IPV6_MINHOPCOUNT, 256 - o->gtsm_hops)) < 0)
				return r;
		} else {
			if ((r = sopt(fd, IPPROTO_IP, IP_TTL, 255)) < 0 ||
			    (r = sopt(fd, IPPROTO_IP, IP_MINTTL,
			    256 - o->gtsm_hops)) < 0)
				return r;
		}
	} else if (o->ttl != 0) {
		if (o->ttl < 1 || o->ttl > 255)
			return -EINVAL;
		if ((r = sopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
		    v6 ? IPV6_UNICAST_HOPS : IP_TTL, o->ttl)) < 0)
			return r;
	}
	if (o->md5_keylen > 0 && (r = io_sock_md5(fd, remote, rlen,
	    v6 ? 128 : 32, o->md5_key, o->md5_keylen)) < 0)
		return r;
	return 0;
}
