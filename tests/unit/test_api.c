/*
 * test_api.c — the control API (engine/api.c) and its client (engine/ctl_api.c)
 * against a real daemon in this process.
 *
 * The group setup writes a configuration into a temporary directory (two
 * passive static peers on 127.0.0.2/.3, a range 127.0.10.0/24, listeners on
 * free loopback ports), starts the daemon and the API on a Unix socket in a
 * directory that does not exist yet, plus the TCP API with a token. The test
 * itself plays a BGP neighbour from 127.0.0.2 (OPEN, KEEPALIVE, one UPDATE)
 * so that one session is Established with known counters, connects from
 * 127.0.10.5 (a dynamic neighbour) and from 127.0.0.9 (refused). Every query
 * goes through the client code (ctl_http, ctl_api_run), so the client is
 * tested with the server. Waiting for the daemon is polling with a bound.
 *
 * Tests run in order and share the daemon; each says what it relies on.
 * Without io_uring every test skips with io_probe()'s message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "routehub/api.h"
#include "routehub/bgp.h"
#include "routehub/cfg.h"
#include "routehub/daemon.h"
#include "../../engine/ctl_api.h"

#define TOKEN   "test-token-0123456789"
#define WAIT_MS 10000 /* bound on every wait for the daemon */

static struct {
	char dir[64];
	char cfgpath[128];
	char sock[128];
	char tcp[32];
	uint16_t bgp_port, api_port;
	struct rh_daemon *d;
	struct rh_api *api;
	char skip[600];    /* non-empty: why every test skips */
	int nbr;           /* our BGP neighbour's socket (127.0.0.2) */
	int dyn;           /* the dynamic neighbour's socket (127.0.10.5) */
	int reserved_line; /* line of the bad ASN in the broken configuration */
} g = {.nbr = -1, .dyn = -1};

#define NEED_DAEMON()                                                                              \
	do {                                                                                       \
		if (g.skip[0]) {                                                                   \
			print_message("%s\n", g.skip);                                             \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* ---- helpers --------------------------------------------------------------------- */

static uint16_t
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* The test configuration; extra adds a peer, broken adds one with a reserved
 * ASN (and records its line). */
static void
write_cfg(int extra, int broken)
{
	FILE *f = fopen(g.cfgpath, "w");
	int line;

	assert_non_null(f);
	fprintf(f,
	        "local:\n"                                         /* 1 */
	        "  asn: 65515\n"                                   /* 2 */
	        "  router_id: 127.0.0.1\n"                         /* 3 */
	        "  listen: [\"127.0.0.1:%u\"]\n"                   /* 4 */
	        "  threads: {io: 2, rib: 1}\n"                     /* 5 */
	        "  api: {socket: %s, listen: \"%s\", token: %s}\n" /* 6 */
	        "peers:\n"                                         /* 7 */
	        "  - name: nva1\n"                                 /* 8 */
	        "    address: 127.0.0.2\n"                         /* 9 */
	        "    asn: 65001\n"                                 /* 10 */
	        "    passive: true\n"                              /* 11 */
	        "    hold_time: 90\n"                              /* 12 */
	        "  - name: vpn1\n"                                 /* 13 */
	        "    address: 127.0.0.3\n"                         /* 14 */
	        "    asn: 65002\n"                                 /* 15 */
	        "    role: vpn-gateway\n"                          /* 16 */
	        "    passive: true\n"                              /* 17 */
	        "  - name: agents\n"                               /* 18 */
	        "    range: 127.0.10.0/24\n"                       /* 19 */
	        "    role: rr-client\n",                           /* 20 */
	        g.bgp_port, g.sock, g.tcp, TOKEN);
	line = 21;
	if (extra) {
		fprintf(f, "  - name: nva3\n    address: 127.0.0.4\n    asn: 65003\n"
		           "    passive: true\n");
		line += 4;
	}
	if (broken) {
		fprintf(f, "  - name: bad\n    address: 127.0.0.5\n    asn: 65515\n");
		g.reserved_line = line + 2;
	}
	assert_int_equal(fclose(f), 0);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* GET/POST through the client; the answer's status is returned, the body
 * parsed as JSON into *j when j is not NULL. */
static int
req_target(const struct ctl_target *t, const char *method, const char *path, json_t **j,
           struct ctl_resp *keep)
{
	struct ctl_resp r;
	char err[256];
	int st;

	if (ctl_http(t, method, path, &r, err, sizeof(err)) < 0)
		fail_msg("%s %s: %s", method, path, err);
	st = r.status;
	if (j) {
		*j = json_loads(r.body, 0, NULL);
		if (!*j)
			fail_msg("%s %s: not JSON: %s", method, path, r.body);
		assert_string_equal(r.ctype, "application/json");
	}
	if (keep)
		*keep = r;
	else
		ctl_resp_fini(&r);
	return st;
}

static int
req(const char *method, const char *path, json_t **j)
{
	struct ctl_target t = {.socket = g.sock};
	return req_target(&t, method, path, j, NULL);
}

/* Polls path until pred(json) holds; fails after WAIT_MS. Returns the last answer. */
static json_t *
wait_for(const char *path, int (*pred)(json_t *), const char *what)
{
	uint64_t end = now_ms() + WAIT_MS;
	json_t *j = NULL;

	for (;;) {
		int st = req("GET", path, &j);
		if (st == 200 && pred(j))
			return j;
		if (now_ms() > end)
			fail_msg("%s: not after %u ms; last answer %d %s", what, WAIT_MS, st,
			         json_dumps(j, 0));
		json_decref(j);
		sleep_ms(20);
	}
}

static int
connect_from(const char *src, int timeout_s)
{
	struct sockaddr_in s = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = timeout_s};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, src, &s.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons(g.bgp_port);
	assert_int_equal(bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	return fd;
}

static void
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			fail_msg("neighbour: recv: %s", r == 0 ? "closed" : strerror(errno));
		got += (size_t)r;
	}
}

/* One BGP message; returns its type. */
static int
read_msg(int fd)
{
	uint8_t buf[4096];
	size_t len;

	read_full(fd, buf, BGP_HDR_LEN);
	len = (size_t)buf[16] << 8 | buf[17];
	assert_true(len >= BGP_HDR_LEN && len <= sizeof(buf));
	read_full(fd, buf + BGP_HDR_LEN, len - BGP_HDR_LEN);
	return buf[18];
}

static void
send_all(int fd, const uint8_t *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- setup ------------------------------------------------------------------------ */

static int
group_setup(void **state)
{
	struct cfg_err_list errs;
	struct api_conf ac;
	struct cfg *c;
	char err[512];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(g.dir, sizeof(g.dir), "/tmp/rh-api-XXXXXX");
	if (!mkdtemp(g.dir))
		return -1;
	snprintf(g.cfgpath, sizeof(g.cfgpath), "%s/rh.yaml", g.dir);
	/* A directory the API must create. */
	snprintf(g.sock, sizeof(g.sock), "%s/run/api.sock", g.dir);
	g.bgp_port = free_port();
	g.api_port = free_port();
	snprintf(g.tcp, sizeof(g.tcp), "127.0.0.1:%u", g.api_port);
	write_cfg(0, 0);
	cfg_errs_init(&errs);
	if (cfg_load(g.cfgpath, &c, &errs) < 0) {
		cfg_errs_print(&errs, stderr);
		return -1;
	}
	cfg_errs_fini(&errs);
	if (daemon_new(&g.d, c, g.cfgpath) < 0)
		return -1;
	if (daemon_start(g.d, err, sizeof(err)) < 0) {
		snprintf(g.skip, sizeof(g.skip), "daemon cannot start here: %s", err);
		return 0;
	}
	api_conf_from_cfg(&ac, daemon_cfg(g.d));
	if (api_start(&g.api, g.d, &ac, err, sizeof(err)) < 0) {
		fprintf(stderr, "api_start: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (g.nbr >= 0)
		close(g.nbr);
	if (g.dyn >= 0)
		close(g.dyn);
	api_stop(g.api);
	if (g.d) {
		daemon_shutdown(g.d, "test over", 2000);
		daemon_free(g.d);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the HTTP parser (pure) ---------------------------------------------------------- */

static void
test_http_parse(void **state)
{
	static const struct {
		const char *what, *in;
		int ok, status;
		const char *body, *ctype;
	} cases[] = {
	    {.what = "content-length",
	     .ok = 1,
	     .status = 200,
	     .body = "{}",
	     .ctype = "application/json",
	     .in = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
	           "2\r\n\r\n{}"},
	    {.what = "header names are case-insensitive",
	     .ok = 1,
	     .status = 404,
	     .body = "ab",
	     .ctype = "text/plain",
	     .in = "HTTP/1.1 404 Not Found\r\ncontent-type:  text/plain \r\n"
	           "CONTENT-LENGTH: 2\r\n\r\nabcdef"},
	    {.what = "chunked",
	     .ok = 1,
	     .status = 200,
	     .body = "hello, world",
	     .ctype = "",
	     .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
	           "7;ext=1\r\n, world\r\n0\r\n\r\n"},
	    {.what = "body to the end without length",
	     .ok = 1,
	     .status = 500,
	     .body = "x\ny",
	     .ctype = "",
	     .in = "HTTP/1.0 500 Oops\r\n\r\nx\ny"},
	    {.what = "bare LF line ends",
	     .ok = 1,
	     .status = 200,
	     .body = "ok",
	     .ctype = "a/b",
	     .in = "HTTP/1.1 200 OK\nContent-Type: a/b\n\nok"},
	    {.what = "truncated body",
	     .ok = 0,
	     .in = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"},
	    {.what = "no header end", .ok = 0, .in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"},
	    {.what = "not HTTP", .ok = 0, .in = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"},
	    {.what = "HTTP/2 status line", .ok = 0, .in = "HTTP/2 200\r\n\r\n"},
	    {.what = "status out of range", .ok = 0, .in = "HTTP/1.1 999 What\r\n\r\n"},
	    {.what = "bad content-length",
	     .ok = 0,
	     .in = "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n{}"},
	    {.what = "chunk longer than the data",
	     .ok = 0,
	     .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort\r\n0\r\n\r\n"},
	    {.what = "chunked without the last chunk",
	     .ok = 0,
	     .in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"},
	    {.what = "empty", .ok = 0, .in = ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_resp r;
		char err[256] = "";
		int rv = ctl_http_parse(cases[i].in, strlen(cases[i].in), &r, err, sizeof(err));

		print_message("case: %s\n", cases[i].what);
		if (!cases[i].ok) {
			assert_int_equal(rv, -1);
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(rv, 0);
		assert_int_equal(r.status, cases[i].status);
		assert_string_equal(r.body, cases[i].body);
		assert_int_equal(r.len, strlen(cases[i].body));
		assert_string_equal(r.ctype, cases[i].ctype);
		ctl_resp_fini(&r);
	}
}

/* ---- the socket ------------------------------------------------------------------------- */

static void
test_socket_file(void **state)
{
	struct rh_api *a2 = NULL;
	struct api_conf ac = {0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[160], err[512];
	struct stat sb;
	int fd;

	(void)state;
	NEED_DAEMON();
	/* The parent directory was created; the socket has mode 0660. */
	assert_int_equal(stat(g.sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0660);

	/* A live socket is not taken over. */
	ac.socket_path = g.sock;
	assert_int_equal(api_start(&a2, g.d, &ac, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	assert_int_equal(req("GET", "/v1/status", NULL), 200); /* still served */

	/* A regular file is never removed. */
	snprintf(path, sizeof(path), "%s/file", g.dir);
	fclose(fopen(path, "w"));
	ac.socket_path = path;
	assert_int_equal(api_start(&a2, g.d, &ac, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(stat(path, &sb), 0);

	/* A stale socket (its process died without unlinking) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", g.dir);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ac.socket_path = path;
	assert_int_equal(api_start(&a2, g.d, &ac, err, sizeof(err)), 0);
	{
		struct ctl_target t = {.socket = path};
		assert_int_equal(req_target(&t, "GET", "/v1/status", NULL, NULL), 200);
	}
	api_stop(a2);
	assert_int_equal(stat(path, &sb), -1); /* removed on stop */

	/* TCP without a token is refused. */
	{
		struct cfg_listen l = {
		    .addr = {.family = AF_INET, .plen = 32, .addr = {127, 0, 0, 1}},
		    .port = free_port()};
		struct api_conf tc = {.tcp = &l};
		assert_int_equal(api_start(&a2, g.d, &tc, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "token"));
	}
}

/* ---- endpoints, before any session -------------------------------------------------------- */

static void
test_status(void **state)
{
	json_t *j, *by, *v;
	const char *k;
	long long sum = 0;

	(void)state;
	NEED_DAEMON();
	assert_int_equal(req("GET", "/v1/status", &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "version")), RH_VERSION);
	assert_int_equal(json_integer_value(json_object_get(j, "asn")), 65515);
	assert_string_equal(json_string_value(json_object_get(j, "router_id")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(j, "config")), g.cfgpath);
	assert_true(json_is_integer(json_object_get(j, "uptime_s")));
	v = json_object_get(j, "peers");
	assert_int_equal(json_integer_value(json_object_get(v, "configured")), 3);
	assert_int_equal(json_integer_value(json_object_get(v, "sessions")), 2); /* range: none */
	by = json_object_get(v, "by_state");
	assert_int_equal(json_object_size(by), 6);
	json_object_foreach(by, k, v) sum += json_integer_value(v);
	assert_int_equal(sum, 2);
	assert_true(json_is_integer(json_object_get(json_object_get(j, "connections"), "refused")));
	json_decref(j);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *what, *method, *path;
		int status;
		const char *in_error;
	} cases[] = {
	    {"unknown path", "GET", "/v2/status", 404, "no such endpoint"},
	    {"root", "GET", "/", 404, "no such endpoint"},
	    {"peers prefix without a name", "GET", "/v1/peers/", 404, "no such endpoint"},
	    {"peer path too deep", "GET", "/v1/peers/nva1/routes", 404, "no such endpoint"},
	    {"unknown peer", "GET", "/v1/peers/nobody", 404, "no peer named 'nobody'"},
	    {"unknown address", "GET", "/v1/peers/127.0.0.99", 404, "no peer named"},
	    {"reload is POST", "GET", "/v1/reload", 405, "method not allowed"},
	    {"status is GET", "POST", "/v1/status", 405, "method not allowed"},
	    {"peers is GET", "DELETE", "/v1/peers/nva1", 405, "method not allowed"},
	    {"metrics is GET", "PUT", "/metrics", 405, "method not allowed"},
	};

	(void)state;
	NEED_DAEMON();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j;

		print_message("case: %s\n", cases[i].what);
		assert_int_equal(req(cases[i].method, cases[i].path, &j), cases[i].status);
		assert_non_null(
		    strstr(json_string_value(json_object_get(j, "error")), cases[i].in_error));
		json_decref(j);
	}
}

/* ---- a real session ---------------------------------------------------------------------- */

static int
nva1_up_with_routes(json_t *j)
{
	return strcmp(json_string_value(json_object_get(j, "state")), "Established") == 0 &&
	       json_integer_value(json_object_get(j, "prefixes_announced")) == 2;
}

static void
test_session(void **state)
{
	struct bgp_open o;
	uint8_t buf[512];
	size_t len;
	json_t *j, *caps;
	static const uint8_t update[] = {
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0xff,
	    0,
	    50,
	    BGP_MSG_UPDATE,
	    0,
	    0, /* no withdrawn routes */
	    0,
	    20, /* path attributes: */
	    0x40,
	    1,
	    1,
	    BGP_ORIGIN_IGP, /* ORIGIN */
	    0x40,
	    2,
	    6,
	    BGP_ASPATH_SEQUENCE,
	    1,
	    0,
	    0,
	    0xfd,
	    0xe9, /* AS_PATH 65001 */
	    0x40,
	    3,
	    4,
	    127,
	    0,
	    0,
	    2, /* NEXT_HOP */
	    16,
	    10,
	    9, /* 10.9.0.0/16 */
	    24,
	    10,
	    8,
	    1, /* 10.8.1.0/24 */
	};

	(void)state;
	NEED_DAEMON();
	assert_int_equal(sizeof(update), 50);
	g.nbr = connect_from("127.0.0.2", 10);
	memset(&o, 0, sizeof(o));
	o.version = BGP_VERSION;
	o.my_as = 65001;
	o.asn = 65001;
	o.hold_time = 90;
	o.bgp_id = 0x7f000002;
	o.caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH;
	o.mp[BGP_AF_IPV4] = 1;
	assert_int_equal(bgp_open_encode(&o, buf, sizeof(buf), &len), 0);
	send_all(g.nbr, buf, len);
	assert_int_equal(read_msg(g.nbr), BGP_MSG_OPEN);
	assert_int_equal(bgp_keepalive_encode(buf, sizeof(buf), &len), 0);
	send_all(g.nbr, buf, len);
	assert_int_equal(read_msg(g.nbr), BGP_MSG_KEEPALIVE);
	send_all(g.nbr, update, sizeof(update));

	j = wait_for("/v1/peers/nva1", nva1_up_with_routes, "nva1 Established with 2 prefixes");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "nva1");
	assert_string_equal(json_string_value(json_object_get(j, "address")), "127.0.0.2");
	assert_string_equal(json_string_value(json_object_get(j, "role")), "nva");
	assert_int_equal(json_integer_value(json_object_get(j, "state_code")), 6);
	assert_int_equal(json_integer_value(json_object_get(j, "asn")), 65001);
	assert_int_equal(json_integer_value(json_object_get(j, "peer_asn")), 65001);
	assert_string_equal(json_string_value(json_object_get(j, "peer_id")), "127.0.0.2");
	assert_int_equal(json_integer_value(json_object_get(j, "hold_time")), 90);
	assert_int_equal(json_integer_value(json_object_get(j, "updates_in")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "established")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "flaps")), 0);
	assert_true(json_integer_value(json_object_get(j, "msgs_in")) >= 3);
	assert_true(json_integer_value(json_object_get(j, "msgs_out")) >= 2);
	assert_true(json_is_false(json_object_get(j, "dynamic")));
	caps = json_object_get(j, "capabilities");
	assert_true(json_is_array(caps));
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "as4");
	json_decref(j);

	/* The same peer by address. */
	assert_int_equal(req("GET", "/v1/peers/127.0.0.2", &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "nva1");
	json_decref(j);
}

static int
one_dynamic(json_t *j)
{
	return json_is_array(j) && json_array_size(j) == 1;
}

static int
refused_one(json_t *j)
{
	return json_integer_value(json_object_get(json_object_get(j, "connections"), "refused")) ==
	       1;
}

static void
test_dynamic_and_refused(void **state)
{
	json_t *j, *p;
	int fd;

	(void)state;
	NEED_DAEMON();
	/* A range entry with nobody connected: an empty array, not a 404. */
	assert_int_equal(req("GET", "/v1/peers/agents", &j), 200);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);

	g.dyn = connect_from("127.0.10.5", 10);
	j = wait_for("/v1/peers/agents", one_dynamic, "one dynamic neighbour of 'agents'");
	p = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "agents");
	assert_string_equal(json_string_value(json_object_get(p, "address")), "127.0.10.5");
	assert_true(json_is_true(json_object_get(p, "dynamic")));
	assert_true(json_is_true(json_object_get(p, "ibgp")));
	json_decref(j);

	/* Nobody is configured for 127.0.0.9: refused and counted. */
	fd = connect_from("127.0.0.9", 10);
	j = wait_for("/v1/status", refused_one, "one refused connection");
	assert_true(json_integer_value(
	                json_object_get(json_object_get(j, "connections"), "accepted")) >= 2);
	json_decref(j);
	close(fd);
}

static void
test_peers_list(void **state)
{
	json_t *j;
	static const char *names[] = {"agents", "nva1", "vpn1"}; /* sorted by name */

	(void)state;
	NEED_DAEMON();
	assert_int_equal(req("GET", "/v1/peers", &j), 200);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(j, i), "name")), names[i]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "state")),
	                    "Established");
	json_decref(j);
}

static void
test_metrics(void **state)
{
	static const char *lines[] = {
	    "routehub_build_info{version=\"" RH_VERSION "\"} 1\n",
	    "routehub_peer_state{peer=\"nva1\",address=\"127.0.0.2\"} 6\n",
	    "routehub_peer_up{peer=\"nva1\",address=\"127.0.0.2\"} 1\n",
	    "routehub_peer_up{peer=\"vpn1\",address=\"127.0.0.3\"} 0\n",
	    "routehub_peer_prefixes_announced_total{peer=\"nva1\",address=\"127.0.0.2\"} 2\n",
	    "routehub_peer_updates_received_total{peer=\"nva1\",address=\"127.0.0.2\"} 1\n",
	    "routehub_peer_established_total{peer=\"nva1\",address=\"127.0.0.2\"} 1\n",
	    "routehub_peer_state{peer=\"agents\",address=\"127.0.10.5\"} ",
	    "routehub_connections_refused_total 1\n",
	    "# TYPE routehub_connections_refused_total counter\n",
	    "# TYPE routehub_peer_messages_received_total counter\n",
	    "# TYPE routehub_peer_state gauge\n",
	};
	struct ctl_target t = {.socket = g.sock};
	struct ctl_resp r;

	(void)state;
	NEED_DAEMON();
	assert_int_equal(req_target(&t, "GET", "/metrics", NULL, &r), 200);
	assert_non_null(strstr(r.ctype, "text/plain"));
	assert_non_null(strstr(r.ctype, "version=0.0.4"));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		print_message("series: %s", lines[i]);
		if (!strstr(r.body, lines[i]))
			fail_msg("missing '%s' in:\n%s", lines[i], r.body);
	}
	/* Every sample line is NAME{labels} VALUE or NAME VALUE. */
	for (char *s = r.body, *e; *s; s = e + 1) {
		e = strchr(s, '\n');
		assert_non_null(e);
		if (*s != '#') {
			char *sp = memrchr(s, ' ', (size_t)(e - s));
			assert_non_null(sp);
			assert_true(strspn(sp + 1, "0123456789") == (size_t)(e - sp - 1));
		}
	}
	ctl_resp_fini(&r);
}

/* ---- TCP with a token -------------------------------------------------------------------- */

static void
test_tcp_token(void **state)
{
	static const struct {
		const char *what, *token;
		int status;
	} cases[] = {
	    {"no token", NULL, 401},
	    {"wrong token", "test-token-0123456788", 401},
	    {"token prefix", "test-token", 401},
	    {"token plus more", TOKEN "x", 401},
	    {"right token", TOKEN, 200},
	};

	(void)state;
	NEED_DAEMON();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_target t = {.host = g.tcp, .token = cases[i].token};
		json_t *j;

		print_message("case: %s\n", cases[i].what);
		assert_int_equal(req_target(&t, "GET", "/v1/status", &j, NULL), cases[i].status);
		if (cases[i].status == 401)
			assert_non_null(json_object_get(j, "error"));
		else
			assert_int_equal(json_integer_value(json_object_get(j, "asn")), 65515);
		json_decref(j);
	}
}

/* ---- reload ---------------------------------------------------------------------------------- */

static int
nva3_exists(json_t *j)
{
	return json_is_object(j) && json_object_get(j, "name") != NULL;
}

static void
test_reload(void **state)
{
	json_t *j, *errs;
	char want[256];

	(void)state;
	NEED_DAEMON();
	/* A broken file: 400, every error with file and line, nothing changes. */
	write_cfg(1, 1);
	assert_int_equal(req("POST", "/v1/reload", &j), 400);
	errs = json_object_get(j, "errors");
	assert_true(json_array_size(errs) >= 1);
	snprintf(want, sizeof(want), "%s:%d: peers[4].asn: ", g.cfgpath, g.reserved_line);
	if (strncmp(json_string_value(json_array_get(errs, 0)), want, strlen(want)) != 0)
		fail_msg("want '%s...', got '%s'", want,
		         json_string_value(json_array_get(errs, 0)));
	assert_non_null(strstr(json_string_value(json_array_get(errs, 0)), "65515"));
	json_decref(j);
	assert_int_equal(req("GET", "/v1/peers/nva3", NULL), 404);

	/* A good file: 200, the new peer appears, nva1's session stays up. */
	write_cfg(1, 0);
	assert_int_equal(req("POST", "/v1/reload", &j), 200);
	assert_true(json_is_true(json_object_get(j, "reloaded")));
	assert_string_equal(json_string_value(json_object_get(j, "config")), g.cfgpath);
	json_decref(j);
	j = wait_for("/v1/peers/nva3", nva3_exists, "nva3 after reload");
	assert_string_equal(json_string_value(json_object_get(j, "address")), "127.0.0.4");
	json_decref(j);
	assert_int_equal(req("GET", "/v1/peers/nva1", &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Established");
	assert_int_equal(json_integer_value(json_object_get(j, "flaps")), 0);
	json_decref(j);
	assert_int_equal(req("GET", "/v1/status", &j), 200);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "peers"), "configured")), 4);
	json_decref(j);
}

/* ---- routehubctl's commands ---------------------------------------------------------------------
 */

/* Runs routehubctl's API subcommand with argv words; out/err captured. */
static int
ctl(char **out, char **err, ...)
{
	char *argv[16];
	int argc = 0, rv;
	size_t ol, el;
	FILE *fo = open_memstream(out, &ol), *fe = open_memstream(err, &el);
	va_list ap;
	const char *a;

	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	rv = ctl_api_run(argc, argv, fo, fe);
	fclose(fo);
	fclose(fe);
	return rv;
}

static void
test_ctl_commands(void **state)
{
	char *out, *err, want[256], *line;
	json_t *j;
	int rv;

	(void)state;
	NEED_DAEMON();
	/* show peers: a header and aligned columns. */
	rv = ctl(&out, &err, "show", "-s", g.sock, "peers", NULL);
	assert_int_equal(rv, 0);
	assert_string_equal(err, "");
	assert_true(strncmp(out, "NAME ", 5) == 0);
	assert_non_null(strstr(out, "ADDRESS"));
	assert_non_null(strstr(out, "PFX-RCVD"));
	assert_non_null(strstr(out, "LAST-ERROR"));
	line = strstr(out, "\nnva1 ");
	assert_non_null(line);
	assert_non_null(strstr(line, "127.0.0.2"));
	assert_non_null(strstr(line, "65001"));
	assert_non_null(strstr(line, "Established"));
	/* The ADDRESS column starts at the same offset on every line. */
	{
		size_t col = (size_t)(strstr(out, "ADDRESS") - out);
		assert_memory_equal(line + 1 + col, "127.0.0.2  ", 11);
	}
	free(out);
	free(err);

	/* show peer NAME: the detail view. */
	rv = ctl(&out, &err, "show", "-s", g.sock, "peer", "nva1", NULL);
	assert_int_equal(rv, 0);
	assert_non_null(strstr(out, "peer nva1 (127.0.0.2)"));
	assert_non_null(strstr(out, "Established, up "));
	assert_non_null(strstr(out, "2 announced, 0 withdrawn"));
	free(out);
	free(err);

	/* show status, and its JSON passed through with --json. */
	rv = ctl(&out, &err, "show", "-s", g.sock, "status", NULL);
	assert_int_equal(rv, 0);
	assert_non_null(strstr(out, "AS 65515, router id 127.0.0.1"));
	assert_non_null(strstr(out, "Established 1"));
	free(out);
	free(err);
	rv = ctl(&out, &err, "show", "status", "--json", "-s", g.sock, NULL);
	assert_int_equal(rv, 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "asn")), 65515);
	json_decref(j);
	free(out);
	free(err);

	/* Over TCP with the token. */
	rv = ctl(&out, &err, "show", "-H", g.tcp, "-t", TOKEN, "peer", "vpn1", NULL);
	assert_int_equal(rv, 0);
	assert_non_null(strstr(out, "peer vpn1 (127.0.0.3)"));
	free(out);
	free(err);
	rv = ctl(&out, &err, "show", "-H", g.tcp, "-t", "wrong-token-0123456789", "status", NULL);
	assert_int_equal(rv, 1);
	assert_non_null(strstr(err, "token"));
	free(out);
	free(err);

	/* metrics prints the exposition as is. */
	rv = ctl(&out, &err, "metrics", "-s", g.sock, NULL);
	assert_int_equal(rv, 0);
	assert_non_null(strstr(out, "routehub_peer_up{peer=\"nva1\",address=\"127.0.0.2\"} 1\n"));
	free(out);
	free(err);

	/* reload: success, then a refusal with file:line on stderr and status 1. */
	rv = ctl(&out, &err, "reload", "-s", g.sock, NULL);
	assert_int_equal(rv, 0);
	snprintf(want, sizeof(want), "reloaded %s\n", g.cfgpath);
	assert_string_equal(out, want);
	free(out);
	free(err);
	write_cfg(1, 1);
	rv = ctl(&out, &err, "reload", "-s", g.sock, NULL);
	assert_int_equal(rv, 1);
	snprintf(want, sizeof(want), "\n%s:%d: ", g.cfgpath, g.reserved_line);
	assert_non_null(strstr(err, want));
	assert_string_equal(out, "");
	free(out);
	free(err);
	write_cfg(1, 0);

	/* Errors of the daemon, of reaching it, and of usage. */
	static const struct {
		const char *what;
		const char *argv[8];
		int rv;
		const char *in_err;
	} cases[] = {
	    {"unknown peer", {"show", "peer", "nobody", NULL}, 1, "no peer named 'nobody'"},
	    {"unknown peer, json", {"show", "--json", "peer", "nobody", NULL}, 1, "\"error\""},
	    {"show alone", {"show", NULL}, 2, "expected status, peers, peer NAME, routes or rib"},
	    {"show peer without a name", {"show", "peer", NULL}, 2, "which peer?"},
	    {"show something else", {"show", "bogus", NULL}, 2, "expected status"},
	    {"reload with an argument", {"reload", "now", NULL}, 2, "unexpected argument 'now'"},
	    {"unknown option", {"metrics", "--bogus", NULL}, 2, "unknown option '--bogus'"},
	    {"TCP without token",
	     {"show", "-H", "127.0.0.1:1", "status", NULL},
	     2,
	     "needs a token"},
	    {"bad TCP address",
	     {"show", "-H", "localhost", "-t", "x", "status", NULL},
	     1,
	     "bad address 'localhost'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[12];
		int argc = 0;
		FILE *fo, *fe;
		size_t ol, el;

		print_message("case: %s\n", cases[i].what);
		for (; cases[i].argv[argc]; argc++)
			argv[argc] = (char *)cases[i].argv[argc];
		argv[argc++] = "-s";
		argv[argc++] = g.sock;
		argv[argc] = NULL;
		fo = open_memstream(&out, &ol);
		fe = open_memstream(&err, &el);
		rv = ctl_api_run(argc, argv, fo, fe);
		fclose(fo);
		fclose(fe);
		assert_int_equal(rv, cases[i].rv);
		if (!strstr(err, cases[i].in_err))
			fail_msg("stderr '%s' lacks '%s'", err, cases[i].in_err);
		free(out);
		free(err);
	}
}

static void
test_ctl_not_running(void **state)
{
	char *out, *err, path[160];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, rv;

	(void)state;
	/* No socket at all. */
	snprintf(path, sizeof(path), "/tmp/rh-api-none-%d.sock", (int)getpid());
	rv = ctl(&out, &err, "show", "-s", path, "status", NULL);
	assert_int_equal(rv, 1);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, "is routehubd running?"));
	assert_string_equal(out, "");
	free(out);
	free(err);

	/* A socket left behind by a dead daemon. */
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	rv = ctl(&out, &err, "show", "-s", path, "peers", NULL);
	unlink(path);
	assert_int_equal(rv, 1);
	assert_non_null(strstr(err, "connection refused"));
	assert_non_null(strstr(err, "not running"));
	free(out);
	free(err);

	/* Nothing listening on the TCP port. */
	{
		char hp[32];
		snprintf(hp, sizeof(hp), "127.0.0.1:%u", free_port());
		rv = ctl(&out, &err, "show", "-H", hp, "-t", TOKEN, "status", NULL);
		assert_int_equal(rv, 1);
		assert_non_null(strstr(err, "Connection refused"));
		free(out);
		free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_parse),
	    cmocka_unit_test(test_ctl_not_running),
	    cmocka_unit_test(test_socket_file),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_session),
	    cmocka_unit_test(test_dynamic_and_refused),
	    cmocka_unit_test(test_peers_list),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_tcp_token),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_ctl_commands),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
