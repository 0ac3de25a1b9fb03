/*
 * test_routes.c — route queries (engine/routes.c), their API endpoints
 * (/v1/routes, /v1/rib, the RIB gauges of /metrics) and `routehubctl show
 * routes|rib` against a real daemon in this process.
 *
 * The group setup starts the daemon (two RIB shards, so answers are merged
 * from several shards) with the API on a Unix socket. Four raw BGP speakers
 * then connect from 127.0.0.2-.5 and announce prefixes with attributes known
 * byte for byte:
 *
 *   nva1 (AS 65001)  10.1/16, 10.3/16    AS path 65001 65100, IGP, MED 10,
 *                                        communities, large and extended ones
 *                    10/8, 10.8.1/24, 10.9/16   AS path 65001
 *                    2001:db8:1::/48     MP_REACH, global + link-local next hop
 *   nva2 (AS 65002)  10.1/16, 10.3/16    AS path 65002 65100, EGP
 *                    172.16.0-19.0/24    AS path 65002 (paging)
 *   nva3 (AS 65003)  10.3/16             AS path 65003, atomic aggregate, aggregator
 *   agent (iBGP rr-client)  10.5/16      LOCAL_PREF 200, ORIGINATOR_ID, CLUSTER_LIST
 *                           10.6/16      LOCAL_PREF 100 (we add ORIGINATOR_ID)
 *
 * so 10.1/16 has two paths of equal AS path length (both in the ECMP set,
 * nva1 best by ORIGIN), and 10.3/16 has a shorter path from nva3 that wins
 * alone. A fifth peer (idle) is configured and never connects. Every wait is
 * a bounded poll; tests run in order and share the daemon. Without io_uring
 * every test skips with io_probe()'s message.
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "routehub/api.h"
#include "routehub/bgp.h"
#include "routehub/cfg.h"
#include "routehub/daemon.h"
#include "../../engine/ctl_api.h"
#include "bgp_testutil.h"

#define WAIT_MS 10000 /* bound on every wait for the daemon */

enum { NVA1, NVA2, NVA3, AGENT, NSPK };

static const struct {
	const char *name, *addr;
	uint32_t asn;
} spk[NSPK] = {
    [NVA1] = {"nva1", "127.0.0.2", 65001},
    [NVA2] = {"nva2", "127.0.0.3", 65002},
    [NVA3] = {"nva3", "127.0.0.4", 65003},
    [AGENT] = {"agent", "127.0.0.5", 65515},
};

static struct {
	char dir[64];
	char cfgpath[128];
	char sock[128];
	uint16_t bgp_port;
	struct rh_daemon *d;
	struct rh_api *api;
	char skip[600]; /* non-empty: why every test skips */
	int fd[NSPK];
} g = {.fd = {-1, -1, -1, -1}};

#define NEED_DAEMON()                                                                              \
	do {                                                                                       \
		if (g.skip[0]) {                                                                   \
			print_message("%s\n", g.skip);                                             \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* The attribute sets (hex of the path attributes field) and their NLRI. */
#define ORIGIN_IGP "40 01 01 00"
#define ORIGIN_EGP "40 01 01 01"
#define A1                                                                                         \
	ORIGIN_IGP "40 02 0a 02 02 0000fde9 0000fe4c"    /* AS_PATH 65001 65100 */                 \
	           "40 03 04 c0000201"                   /* NEXT_HOP 192.0.2.1 */                  \
	           "80 04 04 0000000a"                   /* MED 10 */                              \
	           "c0 08 08 fde90064 fde900c8"          /* 65001:100 65001:200 */                 \
	           "c0 10 08 0002fde9 00000064"          /* rt:65001:100 */                        \
	           "c0 20 0c 0000fde9 00000001 00000002" /* 65001:1:2 */
#define A2 ORIGIN_IGP "40 02 06 02 01 0000fde9 40 03 04 c0000201"
#define A3                                                                                         \
	ORIGIN_IGP "40 02 06 02 01 0000fde9"                                                       \
	           "80 0e 2c 0002 01 20"                                                           \
	           "20010db8 00000000 00000000 00000001"                                           \
	           "fe800000 00000000 00000000 00000001"                                           \
	           "00 30 20010db80001" /* MP_REACH 2001:db8:1::/48 via 2001:db8::1, fe80::1 */
#define B1 ORIGIN_EGP "40 02 0a 02 02 0000fdea 0000fe4c 40 03 04 c0000202"
#define B2 ORIGIN_IGP "40 02 06 02 01 0000fdea 40 03 04 c0000202"
#define C1                                                                                         \
	ORIGIN_IGP "40 02 06 02 01 0000fdeb 40 03 04 c0000203"                                     \
	           "40 06 00"                   /* ATOMIC_AGGREGATE */                             \
	           "c0 07 08 0000fdeb c0000203" /* AGGREGATOR 65003 192.0.2.3 */
#define D1                                                                                         \
	ORIGIN_IGP "40 02 00 40 03 04 c0000205"                                                    \
	           "40 05 04 000000c8" /* LOCAL_PREF 200 */                                        \
	           "80 09 04 0a0a0a0a" /* ORIGINATOR_ID 10.10.10.10 */                             \
	           "80 0a 04 01010101" /* CLUSTER_LIST 1.1.1.1 */
#define D2 ORIGIN_IGP "40 02 00 40 03 04 c0000205 40 05 04 00000064"

#define N_V4_PREFIXES 27 /* 7 in 10/8, 20 in 172.16/16 */
#define N_V4_PATHS    30
#define N_ATTR_SETS   8 /* A1 A2 A3 B1 B2 C1 D1 D2 */

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

/* GET path through the client; the status is returned, the body parsed as
 * JSON into *j (when j is not NULL), or kept raw in *keep. */
static int
get(const char *path, json_t **j, struct ctl_resp *keep)
{
	struct ctl_target t = {.socket = g.sock};
	struct ctl_resp r;
	char err[256];
	int st;

	if (ctl_http(&t, "GET", path, &r, err, sizeof(err)) < 0)
		fail_msg("GET %s: %s", path, err);
	st = r.status;
	if (j) {
		*j = json_loads(r.body, 0, NULL);
		if (!*j)
			fail_msg("GET %s: not JSON: %s", path, r.body);
	}
	if (keep)
		*keep = r;
	else
		ctl_resp_fini(&r);
	return st;
}

/* GET path, 200 expected. */
static json_t *
get_ok(const char *path)
{
	json_t *j;
	int st = get(path, &j, NULL);

	if (st != 200)
		fail_msg("GET %s: %d %s", path, st, json_dumps(j, 0));
	return j;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (!s)
		fail_msg("no string '%s' in %s", k, json_dumps(o, 0));
	return s;
}

static long long
jint(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		fail_msg("no integer '%s' in %s", k, json_dumps(o, 0));
	return json_integer_value(v);
}

static int
jtrue(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_boolean(v))
		fail_msg("no boolean '%s' in %s", k, json_dumps(o, 0));
	return json_is_true(v);
}

/* Array of strings o[k] equals want (NULL-terminated). */
static void
assert_strings(const json_t *o, const char *k, const char *const *want)
{
	const json_t *a = json_object_get(o, k);
	size_t n = 0;

	while (want[n])
		n++;
	if (!json_is_array(a) || json_array_size(a) != n)
		fail_msg("'%s': want %zu strings, got %s", k, n, json_dumps(a, 0));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(a, i)), want[i]);
}

/* Polls path until pred(json) holds; fails after WAIT_MS. */
static json_t *
wait_for(const char *path, int (*pred)(json_t *), const char *what)
{
	uint64_t end = now_ms() + WAIT_MS;
	json_t *j = NULL;

	for (;;) {
		int st = get(path, &j, NULL);
		if (st == 200 && pred(j))
			return j;
		if (now_ms() > end)
			fail_msg("%s: not after %u ms; last answer %d %s", what, WAIT_MS, st,
			         json_dumps(j, 0));
		json_decref(j);
		sleep_ms(20);
	}
}

static void
send_all(int fd, const uint8_t *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			fail_msg("speaker: recv: %s", r == 0 ? "closed" : strerror(errno));
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

/* Connect from speaker i's address and bring the session to Established. */
static void
speaker_up(int i)
{
	struct sockaddr_in s = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 10};
	struct bgp_open o;
	uint8_t buf[512];
	size_t len;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, spk[i].addr, &s.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons(g.bgp_port);
	assert_int_equal(bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	g.fd[i] = fd;

	memset(&o, 0, sizeof(o));
	o.version = BGP_VERSION;
	o.my_as = (uint16_t)spk[i].asn;
	o.asn = spk[i].asn;
	o.hold_time = 180; /* the test is over long before: no KEEPALIVEs needed */
	o.bgp_id = ntohl(s.sin_addr.s_addr);
	o.caps = BGP_CAPF_MP | BGP_CAPF_AS4 | BGP_CAPF_RREFRESH;
	o.mp[BGP_AF_IPV4] = 1;
	o.mp[BGP_AF_IPV6] = 1;
	assert_int_equal(bgp_open_encode(&o, buf, sizeof(buf), &len), 0);
	send_all(fd, buf, len);
	assert_int_equal(read_msg(fd), BGP_MSG_OPEN);
	assert_int_equal(bgp_keepalive_encode(buf, sizeof(buf), &len), 0);
	send_all(fd, buf, len);
	assert_int_equal(read_msg(fd), BGP_MSG_KEEPALIVE);
}

static void
announce(int i, const char *withdrawn, const char *attrs, const char *nlri)
{
	static struct tu_buf m;

	tu_update_hex(&m, withdrawn, attrs, nlri);
	send_all(g.fd[i], m.b, m.len);
}

/* Runs routehubctl's API subcommand with argv words; out/err captured. */
static int
ctl(char **out, char **err, ...)
{
	char *argv[20];
	int argc = 0, rv;
	size_t ol, el;
	FILE *fo = open_memstream(out, &ol), *fe = open_memstream(err, &el);
	va_list ap;
	const char *a;

	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 17)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc++] = "-s";
	argv[argc++] = g.sock;
	argv[argc] = NULL;
	rv = ctl_api_run(argc, argv, fo, fe);
	fclose(fo);
	fclose(fe);
	return rv;
}

/* ---- setup ------------------------------------------------------------------------ */

static int
group_setup(void **state)
{
	struct cfg_err_list errs;
	struct api_conf ac;
	struct cfg *c;
	char err[512];
	FILE *f;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(g.dir, sizeof(g.dir), "/tmp/rh-routes-XXXXXX");
	if (!mkdtemp(g.dir))
		return -1;
	snprintf(g.cfgpath, sizeof(g.cfgpath), "%s/rh.yaml", g.dir);
	snprintf(g.sock, sizeof(g.sock), "%s/api.sock", g.dir);
	g.bgp_port = free_port();
	if (!(f = fopen(g.cfgpath, "w")))
		return -1;
	fprintf(f,
	        "local:\n"
	        "  asn: 65515\n"
	        "  router_id: 127.0.0.1\n"
	        "  listen: [\"127.0.0.1:%u\"]\n"
	        "  threads: {io: 2, rib: 2}\n"
	        "  api: {socket: %s}\n"
	        "peers:\n",
	        g.bgp_port, g.sock);
	for (int i = 0; i < NSPK; i++) {
		fprintf(f, "  - name: %s\n    address: %s\n    passive: true\n", spk[i].name,
		        spk[i].addr);
		if (i == AGENT)
			fprintf(f, "    role: rr-client\n");
		else
			fprintf(f, "    asn: %u\n", spk[i].asn);
	}
	fprintf(f, "  - name: idle\n    address: 127.0.0.6\n    asn: 65006\n    passive: true\n");
	if (fclose(f) != 0)
		return -1;
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
	for (int i = 0; i < NSPK; i++)
		if (g.fd[i] >= 0)
			close(g.fd[i]);
	api_stop(g.api);
	if (g.d) {
		daemon_shutdown(g.d, "test over", 2000);
		daemon_free(g.d);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the table arrives ------------------------------------------------------------------- */

static int
converged(json_t *j)
{
	const json_t *pf = json_object_get(j, "prefixes"), *pa = json_object_get(j, "paths");

	return json_integer_value(json_object_get(pf, "ipv4")) == N_V4_PREFIXES &&
	       json_integer_value(json_object_get(pf, "ipv6")) == 1 &&
	       json_integer_value(json_object_get(pa, "ipv4")) == N_V4_PATHS &&
	       json_integer_value(json_object_get(pa, "ipv6")) == 1;
}

static void
test_empty_rib(void **state)
{
	json_t *j;

	(void)state;
	NEED_DAEMON();
	/* Before any session: nothing, but well-formed answers. */
	j = get_ok("/v1/routes");
	assert_int_equal(jint(j, "count"), 0);
	assert_int_equal(json_array_size(json_object_get(j, "routes")), 0);
	assert_false(jtrue(j, "more"));
	assert_true(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	j = get_ok("/v1/routes?match=10.1.2.3");
	assert_int_equal(jint(j, "count"), 0);
	json_decref(j);
	j = get_ok("/v1/rib");
	assert_int_equal(jint(json_object_get(j, "prefixes"), "total"), 0);
	assert_int_equal(jint(json_object_get(j, "paths"), "total"), 0);
	json_decref(j);
}

static void
test_announce(void **state)
{
	char nlri[256] = "";
	json_t *j;

	(void)state;
	NEED_DAEMON();
	for (int i = 0; i < NSPK; i++)
		speaker_up(i);
	announce(NVA1, NULL, A1, "10 0a01 10 0a03");
	announce(NVA1, NULL, A2, "08 0a 18 0a0801 10 0a09");
	announce(NVA1, NULL, A3, NULL);
	announce(NVA2, NULL, B1, "10 0a01 10 0a03");
	for (int k = 0; k < 20; k++)
		snprintf(nlri + strlen(nlri), sizeof(nlri) - strlen(nlri), "18 ac10%02x ", k);
	announce(NVA2, NULL, B2, nlri);
	announce(NVA3, NULL, C1, "10 0a03");
	announce(AGENT, NULL, D1, "10 0a05");
	announce(AGENT, NULL, D2, "10 0a06");
	j = wait_for("/v1/rib", converged, "every announced route in the RIB");
	assert_int_equal(jint(json_object_get(j, "prefixes"), "total"), N_V4_PREFIXES + 1);
	assert_int_equal(jint(json_object_get(j, "paths"), "total"), N_V4_PATHS + 1);
	/* One interned set per distinct attribute set (export shares them). */
	assert_int_equal(jint(j, "attribute_sets"), N_ATTR_SETS);
	json_decref(j);
}

/* ---- one prefix ------------------------------------------------------------------------------ */

static void
test_prefix_ecmp(void **state)
{
	static const char *const comm[] = {"65001:100", "65001:200", NULL};
	static const char *const large[] = {"65001:1:2", NULL};
	static const char *const ext[] = {"rt:65001:100", NULL};
	static const char *const none[] = {NULL};
	json_t *j, *r, *p;

	(void)state;
	NEED_DAEMON();
	j = get_ok("/v1/routes?prefix=10.1.0.0/16");
	assert_int_equal(jint(j, "count"), 1);
	r = json_array_get(json_object_get(j, "routes"), 0);
	assert_string_equal(jstr(r, "prefix"), "10.1.0.0/16");
	assert_string_equal(jstr(r, "af"), "ipv4");
	assert_int_equal(jint(r, "paths_total"), 2);
	assert_int_equal(jint(r, "ecmp_paths"), 2);
	assert_int_equal(json_array_size(json_object_get(r, "paths")), 2);

	/* nva1: best (equal AS path length, IGP beats EGP), every attribute. */
	p = json_array_get(json_object_get(r, "paths"), 0);
	assert_string_equal(jstr(p, "peer"), "nva1");
	assert_string_equal(jstr(p, "peer_address"), "127.0.0.2");
	assert_int_equal(jint(p, "peer_asn"), 65001);
	assert_string_equal(jstr(p, "peer_router_id"), "127.0.0.2");
	assert_string_equal(jstr(p, "peer_type"), "ebgp");
	assert_int_equal(jint(p, "path_id"), 0);
	assert_true(jtrue(p, "best"));
	assert_true(jtrue(p, "ecmp"));
	assert_false(jtrue(p, "stale"));
	assert_string_equal(jstr(p, "origin"), "igp");
	assert_string_equal(jstr(p, "as_path"), "65001 65100");
	assert_int_equal(jint(p, "as_path_len"), 2);
	assert_string_equal(jstr(p, "next_hop"), "192.0.2.1");
	assert_null(json_object_get(p, "next_hop_local"));
	assert_int_equal(jint(p, "med"), 10);
	assert_true(json_is_null(json_object_get(p, "local_pref")));
	assert_strings(p, "communities", comm);
	assert_strings(p, "large_communities", large);
	assert_strings(p, "ext_communities", ext);
	assert_true(json_is_null(json_object_get(p, "originator_id")));
	assert_strings(p, "cluster_list", none);
	assert_false(jtrue(p, "atomic_aggregate"));
	assert_true(json_is_null(json_object_get(p, "aggregator")));

	/* nva2: in the ECMP set, not best. */
	p = json_array_get(json_object_get(r, "paths"), 1);
	assert_string_equal(jstr(p, "peer"), "nva2");
	assert_string_equal(jstr(p, "peer_address"), "127.0.0.3");
	assert_int_equal(jint(p, "peer_asn"), 65002);
	assert_false(jtrue(p, "best"));
	assert_true(jtrue(p, "ecmp"));
	assert_string_equal(jstr(p, "origin"), "egp");
	assert_string_equal(jstr(p, "as_path"), "65002 65100");
	assert_string_equal(jstr(p, "next_hop"), "192.0.2.2");
	assert_true(json_is_null(json_object_get(p, "med")));
	assert_strings(p, "communities", none);
	assert_strings(p, "large_communities", none);
	assert_strings(p, "ext_communities", none);
	json_decref(j);
}

static void
test_prefix_shorter_path_alone(void **state)
{
	json_t *j, *r, *ps;

	(void)state;
	NEED_DAEMON();
	j = get_ok("/v1/routes?prefix=10.3.0.0/16");
	r = json_array_get(json_object_get(j, "routes"), 0);
	assert_non_null(r);
	assert_int_equal(jint(r, "paths_total"), 3);
	assert_int_equal(jint(r, "ecmp_paths"), 1);
	ps = json_object_get(r, "paths");
	assert_int_equal(json_array_size(ps), 3);
	assert_string_equal(jstr(json_array_get(ps, 0), "peer"), "nva3");
	assert_true(jtrue(json_array_get(ps, 0), "best"));
	assert_true(jtrue(json_array_get(ps, 0), "ecmp"));
	assert_string_equal(jstr(json_array_get(ps, 0), "as_path"), "65003");
	assert_int_equal(jint(json_array_get(ps, 0), "as_path_len"), 1);
	assert_true(jtrue(json_array_get(ps, 0), "atomic_aggregate"));
	assert_int_equal(jint(json_object_get(json_array_get(ps, 0), "aggregator"), "asn"), 65003);
	assert_string_equal(jstr(json_object_get(json_array_get(ps, 0), "aggregator"), "id"),
	                    "192.0.2.3");
	for (int i = 1; i < 3; i++) {
		assert_false(jtrue(json_array_get(ps, i), "best"));
		assert_false(jtrue(json_array_get(ps, i), "ecmp"));
	}
	json_decref(j);

	/* A prefix that is not there, and one that covers nothing exactly. */
	j = get_ok("/v1/routes?prefix=10.1.0.0/17");
	assert_int_equal(jint(j, "count"), 0);
	json_decref(j);
	j = get_ok("/v1/routes?prefix=10.0.0.0/16");
	assert_int_equal(jint(j, "count"), 0);
	json_decref(j);
}

static void
test_route_reflection_attrs(void **state)
{
	static const char *const clusters[] = {"1.1.1.1", NULL};
	json_t *j, *p;

	(void)state;
	NEED_DAEMON();
	j = get_ok("/v1/routes?prefix=10.5.0.0/16");
	p = json_array_get(
	    json_object_get(json_array_get(json_object_get(j, "routes"), 0), "paths"), 0);
	assert_non_null(p);
	assert_string_equal(jstr(p, "peer"), "agent");
	assert_string_equal(jstr(p, "peer_type"), "rr-client");
	assert_int_equal(jint(p, "peer_asn"), 65515);
	assert_string_equal(jstr(p, "as_path"), "");
	assert_int_equal(jint(p, "as_path_len"), 0);
	assert_int_equal(jint(p, "local_pref"), 200);
	assert_string_equal(jstr(p, "originator_id"), "10.10.10.10");
	assert_strings(p, "cluster_list", clusters);
	json_decref(j);

	/* RFC 4456 §8: without one, the client's router id becomes the originator. */
	j = get_ok("/v1/routes?prefix=10.6.0.0/16");
	p = json_array_get(
	    json_object_get(json_array_get(json_object_get(j, "routes"), 0), "paths"), 0);
	assert_non_null(p);
	assert_int_equal(jint(p, "local_pref"), 100);
	assert_string_equal(jstr(p, "originator_id"), "127.0.0.5");
	json_decref(j);
}

static void
test_match(void **state)
{
	static const struct {
		const char *what, *query, *want; /* want NULL: no route */
	} cases[] = {
	    {"inside a /16", "match=10.1.2.3", "10.1.0.0/16"},
	    {"only the /8 covers it", "match=10.200.0.1", "10.0.0.0/8"},
	    {"the /24 beats the /8", "match=10.8.1.77", "10.8.1.0/24"},
	    {"next to the /24", "match=10.8.2.1", "10.0.0.0/8"},
	    {"a prefix as the key", "match=10.9.128.0/17", "10.9.0.0/16"},
	    {"a prefix shorter than every route", "match=10.0.0.0/7", NULL},
	    {"nothing covers it", "match=11.0.0.1", NULL},
	    {"IPv6", "match=2001:db8:1:2::5", "2001:db8:1::/48"},
	    {"IPv6, nothing", "match=2001:db8:2::1", NULL},
	    {"family given", "match=10.1.2.3&af=ipv4", "10.1.0.0/16"},
	};
	char path[128];

	(void)state;
	NEED_DAEMON();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j, *r;

		print_message("case: %s\n", cases[i].what);
		snprintf(path, sizeof(path), "/v1/routes?%s", cases[i].query);
		j = get_ok(path);
		r = json_array_get(json_object_get(j, "routes"), 0);
		if (!cases[i].want) {
			assert_int_equal(jint(j, "count"), 0);
			assert_null(r);
		} else {
			assert_int_equal(jint(j, "count"), 1);
			assert_string_equal(jstr(r, "prefix"), cases[i].want);
		}
		json_decref(j);
	}
}

static void
test_ipv6(void **state)
{
	json_t *j, *r, *p;

	(void)state;
	NEED_DAEMON();
	j = get_ok("/v1/routes?af=ipv6");
	assert_int_equal(jint(j, "count"), 1);
	r = json_array_get(json_object_get(j, "routes"), 0);
	assert_string_equal(jstr(r, "prefix"), "2001:db8:1::/48");
	assert_string_equal(jstr(r, "af"), "ipv6");
	p = json_array_get(json_object_get(r, "paths"), 0);
	assert_string_equal(jstr(p, "peer"), "nva1");
	assert_string_equal(jstr(p, "next_hop"), "2001:db8::1");
	assert_string_equal(jstr(p, "next_hop_local"), "fe80::1");
	assert_string_equal(jstr(p, "as_path"), "65001");
	assert_true(jtrue(p, "best"));
	json_decref(j);
}

/* ---- listings -------------------------------------------------------------------------------- */

/* The IPv4 table in order: address, then length. */
static void
v4_expected(char want[N_V4_PREFIXES][24])
{
	static const char *first[] = {"10.0.0.0/8",  "10.1.0.0/16", "10.3.0.0/16", "10.5.0.0/16",
	                              "10.6.0.0/16", "10.8.1.0/24", "10.9.0.0/16"};
	for (int i = 0; i < 7; i++)
		snprintf(want[i], 24, "%s", first[i]);
	for (int k = 0; k < 20; k++)
		snprintf(want[7 + k], 24, "172.16.%d.0/24", k);
}

static void
test_listing_pages(void **state)
{
	char want[N_V4_PREFIXES][24], path[128], from[64] = "";
	static const size_t limits[] = {1, 7, 26, 27, 1000};

	(void)state;
	NEED_DAEMON();
	v4_expected(want);
	for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
		size_t got = 0, pages = 0;

		print_message("limit %zu\n", limits[li]);
		from[0] = '\0';
		for (;;) {
			json_t *j, *routes;
			int more;

			snprintf(path, sizeof(path), "/v1/routes?af=ipv4&limit=%zu%s%s", limits[li],
			         from[0] ? "&from=" : "", from);
			j = get_ok(path);
			routes = json_object_get(j, "routes");
			assert_int_equal((size_t)jint(j, "count"), json_array_size(routes));
			assert_true(json_array_size(routes) <= limits[li]);
			for (size_t i = 0; i < json_array_size(routes); i++, got++) {
				assert_true(got < N_V4_PREFIXES);
				assert_string_equal(jstr(json_array_get(routes, i), "prefix"),
				                    want[got]);
			}
			more = jtrue(j, "more");
			pages++;
			if (!more) {
				assert_true(json_is_null(json_object_get(j, "next")));
				json_decref(j);
				break;
			}
			/* A full page, and the next one starts where the table goes on. */
			assert_int_equal(json_array_size(routes), limits[li]);
			assert_string_equal(jstr(j, "next"), want[got]);
			snprintf(from, sizeof(from), "%s", jstr(j, "next"));
			json_decref(j);
			assert_true(pages <= N_V4_PREFIXES);
		}
		assert_int_equal(got, N_V4_PREFIXES);
		/* `more` is exact: no empty last page. */
		assert_int_equal(pages, (N_V4_PREFIXES + limits[li] - 1) / limits[li]);
	}
}

static void
test_listing_both_families(void **state)
{
	json_t *j, *routes;
	size_t n;

	(void)state;
	NEED_DAEMON();
	/* No af: IPv4 then IPv6, the default limit holds everything. */
	j = get_ok("/v1/routes");
	routes = json_object_get(j, "routes");
	n = json_array_size(routes);
	assert_int_equal(n, N_V4_PREFIXES + 1);
	assert_string_equal(jstr(json_array_get(routes, 0), "prefix"), "10.0.0.0/8");
	assert_string_equal(jstr(json_array_get(routes, n - 1), "prefix"), "2001:db8:1::/48");
	assert_false(jtrue(j, "more"));
	json_decref(j);

	/* A page that ends in IPv4 continues into IPv6. */
	j = get_ok("/v1/routes?limit=27");
	assert_true(jtrue(j, "more"));
	assert_string_equal(jstr(j, "next"), "2001:db8:1::/48");
	json_decref(j);
	j = get_ok("/v1/routes?from=2001:db8:1::/48");
	assert_int_equal(jint(j, "count"), 1);
	json_decref(j);
	/* from in the middle of a prefix's address space: the next one on. */
	j = get_ok("/v1/routes?af=ipv4&from=172.16.18.5/32");
	assert_int_equal(jint(j, "count"), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(j, "routes"), 0), "prefix"),
	                    "172.16.19.0/24");
	json_decref(j);
}

static void
test_peer_routes(void **state)
{
	json_t *j, *routes, *r;

	(void)state;
	NEED_DAEMON();
	/* Only nva3's path is shown; the decision is the prefix's. */
	j = get_ok("/v1/routes?peer=nva3");
	routes = json_object_get(j, "routes");
	assert_int_equal(json_array_size(routes), 1);
	r = json_array_get(routes, 0);
	assert_string_equal(jstr(r, "prefix"), "10.3.0.0/16");
	assert_int_equal(jint(r, "paths_total"), 3);
	assert_int_equal(json_array_size(json_object_get(r, "paths")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(r, "paths"), 0), "peer"), "nva3");
	json_decref(j);

	/* By address; paged like the table. */
	j = get_ok("/v1/routes?peer=127.0.0.3&limit=5");
	routes = json_object_get(j, "routes");
	assert_int_equal(json_array_size(routes), 5);
	assert_true(jtrue(j, "more"));
	assert_string_equal(jstr(json_array_get(routes, 0), "prefix"), "10.1.0.0/16");
	assert_string_equal(jstr(json_array_get(routes, 1), "prefix"), "10.3.0.0/16");
	assert_string_equal(jstr(json_array_get(routes, 2), "prefix"), "172.16.0.0/24");
	assert_string_equal(jstr(j, "next"), "172.16.3.0/24");
	for (size_t i = 0; i < 5; i++) {
		json_t *ps = json_object_get(json_array_get(routes, i), "paths");
		assert_int_equal(json_array_size(ps), 1);
		assert_string_equal(jstr(json_array_get(ps, 0), "peer"), "nva2");
	}
	json_decref(j);
	j = get_ok("/v1/routes?peer=nva2");
	assert_int_equal(jint(j, "count"), 22);
	json_decref(j);

	/* nva1 in both families; only IPv6 when asked. */
	j = get_ok("/v1/routes?peer=nva1");
	assert_int_equal(jint(j, "count"), 6);
	json_decref(j);
	j = get_ok("/v1/routes?peer=nva1&af=ipv6");
	assert_int_equal(jint(j, "count"), 1);
	json_decref(j);

	/* Configured, never connected: no routes, not an error. */
	j = get_ok("/v1/routes?peer=idle");
	assert_int_equal(jint(j, "count"), 0);
	json_decref(j);
}

/* ---- counts ---------------------------------------------------------------------------------- */

static const json_t *
rib_peer(const json_t *j, const char *name)
{
	const json_t *peers = json_object_get(j, "peers");

	for (size_t i = 0; i < json_array_size(peers); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(peers, i), "name")),
		           name) == 0)
			return json_array_get(peers, i);
	fail_msg("no peer %s in %s", name, json_dumps(j, 0));
	return NULL;
}

static void
test_rib_summary(void **state)
{
	static const struct {
		const char *name;
		long long received, v4, v6;
	} want[] = {
	    {"nva1", 6, 5, 1},  {"nva2", 22, 22, 0}, {"nva3", 1, 1, 0},
	    {"agent", 2, 2, 0}, {"idle", 0, 0, 0},
	};
	struct ctl_resp m;
	json_t *j;
	char line[128];

	(void)state;
	NEED_DAEMON();
	j = get_ok("/v1/rib");
	assert_int_equal(jint(json_object_get(j, "prefixes"), "ipv4"), N_V4_PREFIXES);
	assert_int_equal(jint(json_object_get(j, "prefixes"), "ipv6"), 1);
	assert_int_equal(jint(json_object_get(j, "paths"), "ipv4"), N_V4_PATHS);
	assert_int_equal(jint(json_object_get(j, "paths"), "ipv6"), 1);
	assert_int_equal(json_array_size(json_object_get(j, "peers")), 5);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const json_t *p = rib_peer(j, want[i].name), *acc = json_object_get(p, "accepted");

		print_message("peer %s\n", want[i].name);
		assert_int_equal(jint(p, "received"), want[i].received);
		assert_int_equal(jint(acc, "ipv4"), want[i].v4);
		assert_int_equal(jint(acc, "ipv6"), want[i].v6);
		assert_int_equal(jint(acc, "total"), want[i].v4 + want[i].v6);
	}
	assert_string_equal(jstr(rib_peer(j, "idle"), "state"), "Active");

	/* The gauges agree (the table is quiet now). */
	assert_int_equal(get("/metrics", NULL, &m), 200);
	snprintf(line, sizeof(line), "\nroutehub_rib_prefixes{af=\"ipv4\"} %d\n", N_V4_PREFIXES);
	if (!strstr(m.body, line))
		fail_msg("no '%s' in\n%s", line + 1, m.body);
	assert_non_null(strstr(m.body, "\nroutehub_rib_prefixes{af=\"ipv6\"} 1\n"));
	snprintf(line, sizeof(line), "\nroutehub_rib_paths %d\n", N_V4_PATHS + 1);
	assert_non_null(strstr(m.body, line));
	snprintf(line, sizeof(line), "\nroutehub_attr_sets %lld\n", jint(j, "attribute_sets"));
	assert_non_null(strstr(m.body, line));
	assert_non_null(strstr(m.body, "# TYPE routehub_rib_paths gauge\n"));
	ctl_resp_fini(&m);
	json_decref(j);
}

/* ---- bad requests -----------------------------------------------------------------------------
 */

static void
test_bad_queries(void **state)
{
	static const struct {
		const char *what, *query;
		int status;
		const char *in_error;
	} cases[] = {
	    {"host bits", "prefix=10.1.2.0/16", 400, "did you mean 10.1.0.0/16?"},
	    {"prefix without length", "prefix=10.1.0.0", 400, "is not a prefix"},
	    {"not an address", "prefix=banana/8", 400, "not an IPv4 or IPv6"},
	    {"length too long", "prefix=10.0.0.0/33", 400, "length must be 0 to 32"},
	    {"length not a number", "match=10.0.0.0/x", 400, "length must be"},
	    {"IPv6 length", "prefix=2001:db8::/129", 400, "0 to 128"},
	    {"two lookups", "prefix=10.0.0.0/8&match=10.0.0.1", 400, "at most one of"},
	    {"bad family", "af=ipx", 400, "af must be ipv4 or ipv6"},
	    {"family mismatch", "af=ipv6&prefix=10.0.0.0/8", 400, "does not match"},
	    {"limit zero", "limit=0", 400, "limit must be 1 to 100000"},
	    {"limit huge", "limit=100001", 400, "limit must be 1 to 100000"},
	    {"limit negative", "limit=-1", 400, "limit must be"},
	    {"limit word", "limit=ten", 400, "limit must be"},
	    {"limit with a prefix", "prefix=10.1.0.0/16&limit=5", 400, "page a listing"},
	    {"from with match", "match=10.1.0.1&from=10.0.0.0/8", 400, "page a listing"},
	    {"bad from", "from=zz", 400, "from="},
	    {"from in the other family", "af=ipv4&from=2001:db8::/32", 400, "does not match"},
	    {"unknown parameter", "prefx=10.0.0.0/8", 400, "unknown parameter 'prefx'"},
	    {"twice", "af=ipv4&af=ipv6", 400, "given twice"},
	    {"empty value", "af=", 400, "needs a value"},
	    {"no value", "af", 400, "needs a value"},
	    {"unknown peer", "peer=nobody", 404, "no peer named 'nobody'"},
	};
	char path[160];

	(void)state;
	NEED_DAEMON();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j;
		const char *e;

		print_message("case: %s\n", cases[i].what);
		snprintf(path, sizeof(path), "/v1/routes?%s", cases[i].query);
		assert_int_equal(get(path, &j, NULL), cases[i].status);
		e = json_string_value(json_object_get(j, "error"));
		if (!e || !strstr(e, cases[i].in_error))
			fail_msg("error '%s' lacks '%s'", e ? e : "(none)", cases[i].in_error);
		json_decref(j);
	}
}

/* ---- routehubctl ------------------------------------------------------------------------------
 */

static void
test_ctl_show_routes(void **state)
{
	char *out, *err, *line;
	json_t *j;

	(void)state;
	NEED_DAEMON();
	/* The table: a header, one line per path, the prefix on its first. */
	assert_int_equal(ctl(&out, &err, "show", "routes", "--af", "ipv4", NULL), 0);
	assert_string_equal(err, "");
	assert_true(strncmp(out, "PREFIX ", 7) == 0);
	assert_non_null(strstr(out, "NEXT-HOP"));
	assert_non_null(strstr(out, "BEST/ECMP"));
	line = strstr(out, "\n10.1.0.0/16 ");
	assert_non_null(line);
	/* Columns line up: NEXT-HOP starts at the same offset on every line. */
	{
		size_t col = (size_t)(strstr(out, "NEXT-HOP") - out);
		assert_memory_equal(line + 1 + col, "192.0.2.1 ", 10);
		assert_memory_equal(strchr(line + 1, '\n') + 1 + col, "192.0.2.2 ", 10);
	}
	assert_non_null(strstr(line, "nva1"));
	assert_non_null(strstr(line, " best "));
	assert_non_null(strstr(line, "65001 65100\n"));
	assert_non_null(strstr(strchr(line + 1, '\n'), " ecmp "));
	assert_non_null(strstr(out, "\n27 prefixes, 30 paths\n"));
	free(out);
	free(err);

	/* Paged: the last line says where to go on. */
	assert_int_equal(ctl(&out, &err, "show", "routes", "--limit", "3", NULL), 0);
	assert_non_null(strstr(out, "\n3 prefixes, 6 paths; more from 10.5.0.0/16 "
	                            "(--from 10.5.0.0/16)\n"));
	free(out);
	free(err);
	assert_int_equal(
	    ctl(&out, &err, "show", "routes", "--from", "172.16.19.0/24", "--af", "ipv4", NULL), 0);
	assert_non_null(strstr(out, "\n172.16.19.0/24 "));
	assert_non_null(strstr(out, "\n1 prefix, 1 path\n"));
	free(out);
	free(err);

	/* One prefix in detail. */
	assert_int_equal(ctl(&out, &err, "show", "routes", "10.1.0.0/16", NULL), 0);
	assert_non_null(strstr(out, "10.1.0.0/16: 2 paths, 2 in the ECMP set\n"));
	assert_non_null(strstr(out, "  path 1: best ecmp\n"));
	assert_non_null(strstr(out, "nva1 (127.0.0.2), AS 65001, router id 127.0.0.2, ebgp"));
	assert_non_null(strstr(out, "65001 65100 (length 2)"));
	assert_non_null(strstr(out, " 65001:100 65001:200\n"));
	assert_non_null(strstr(out, " rt:65001:100\n"));
	assert_non_null(strstr(out, "  path 2: ecmp\n"));
	free(out);
	free(err);

	/* A bare address is a longest match; so is `match`. */
	assert_int_equal(ctl(&out, &err, "show", "routes", "10.200.0.1", NULL), 0);
	{
		static const char want[] = "10.0.0.0/8: 1 path, 1 in the ECMP set\n";
		assert_true(strncmp(out, want, strlen(want)) == 0);
	}
	free(out);
	free(err);
	assert_int_equal(ctl(&out, &err, "show", "routes", "match", "2001:db8:1::9", NULL), 0);
	assert_non_null(strstr(out, "2001:db8:1::/48: 1 path"));
	assert_non_null(strstr(out, "2001:db8::1 (link-local fe80::1)"));
	free(out);
	free(err);
	assert_int_equal(ctl(&out, &err, "show", "routes", "11.0.0.1", NULL), 0);
	assert_string_equal(out, "no route for 11.0.0.1\n");
	free(out);
	free(err);

	/* A peer's routes. */
	assert_int_equal(ctl(&out, &err, "show", "routes", "peer", "nva3", NULL), 0);
	assert_non_null(strstr(out, "\n10.3.0.0/16 "));
	assert_non_null(strstr(out, "\n1 prefix, 1 path\n"));
	free(out);
	free(err);

	/* --json passes the daemon's answer through. */
	assert_int_equal(ctl(&out, &err, "show", "--json", "routes", "--af", "ipv6", NULL), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(jint(j, "count"), 1);
	json_decref(j);
	free(out);
	free(err);

	/* show rib. */
	assert_int_equal(ctl(&out, &err, "show", "rib", NULL), 0);
	assert_non_null(strstr(out, "prefixes         27 IPv4, 1 IPv6\n"));
	assert_non_null(strstr(out, "paths            30 IPv4, 1 IPv6\n"));
	assert_non_null(strstr(out, "\nNAME "));
	line = strstr(out, "\nnva1 ");
	assert_non_null(line);
	assert_non_null(strstr(line, "127.0.0.2  Established  6 "));
	free(out);
	free(err);
}

static void
test_ctl_errors(void **state)
{
	static const struct {
		const char *what;
		const char *argv[8];
		int rv;
		const char *in_err;
	} cases[] = {
	    {"bad family (the daemon says)",
	     {"show", "routes", "--af", "ipx", NULL},
	     1,
	     "af must be ipv4 or ipv6"},
	    {"host bits (the daemon says)",
	     {"show", "routes", "10.1.2.0/16", NULL},
	     1,
	     "did you mean 10.1.0.0/16?"},
	    {"unknown peer",
	     {"show", "routes", "peer", "nobody", NULL},
	     1,
	     "no peer named 'nobody'"},
	    {"peer without a name", {"show", "routes", "peer", NULL}, 2, "which peer?"},
	    {"match without an address", {"show", "routes", "match", NULL}, 2, "which address?"},
	    {"two prefixes",
	     {"show", "routes", "10.1.0.0/16", "10.3.0.0/16", NULL},
	     2,
	     "unexpected"},
	    {"--limit elsewhere", {"show", "peers", "--limit", "3", NULL}, 2, "go with routes"},
	    {"show rib with words", {"show", "rib", "x", NULL}, 2, "expected status"},
	};

	(void)state;
	NEED_DAEMON();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[12], *out, *err;
		int argc = 0, rv;
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

/* ---- the decision follows the table ------------------------------------------------------------
 */

static int
ecmp_back(json_t *j)
{
	const json_t *r = json_array_get(json_object_get(j, "routes"), 0);
	return r && json_integer_value(json_object_get(r, "paths_total")) == 2;
}

static void
test_withdraw(void **state)
{
	json_t *j, *r, *ps;

	(void)state;
	NEED_DAEMON();
	/* nva3's shorter path goes: nva1 and nva2 are equal again. */
	announce(NVA3, "10 0a03", NULL, NULL);
	j = wait_for("/v1/routes?prefix=10.3.0.0/16", ecmp_back, "10.3/16 without nva3");
	r = json_array_get(json_object_get(j, "routes"), 0);
	assert_int_equal(jint(r, "ecmp_paths"), 2);
	ps = json_object_get(r, "paths");
	assert_string_equal(jstr(json_array_get(ps, 0), "peer"), "nva1");
	assert_true(jtrue(json_array_get(ps, 0), "best"));
	assert_string_equal(jstr(json_array_get(ps, 1), "peer"), "nva2");
	assert_false(jtrue(json_array_get(ps, 1), "best"));
	assert_true(jtrue(json_array_get(ps, 1), "ecmp"));
	json_decref(j);
	j = get_ok("/v1/routes?peer=nva3");
	assert_int_equal(jint(j, "count"), 0);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_rib),
	    cmocka_unit_test(test_announce),
	    cmocka_unit_test(test_prefix_ecmp),
	    cmocka_unit_test(test_prefix_shorter_path_alone),
	    cmocka_unit_test(test_route_reflection_attrs),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_listing_pages),
	    cmocka_unit_test(test_listing_both_families),
	    cmocka_unit_test(test_peer_routes),
	    cmocka_unit_test(test_rib_summary),
	    cmocka_unit_test(test_bad_queries),
	    cmocka_unit_test(test_ctl_show_routes),
	    cmocka_unit_test(test_ctl_errors),
	    cmocka_unit_test(test_withdraw),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
