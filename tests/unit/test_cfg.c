/*
 * test_cfg.c — unit tests of the configuration module (engine/cfg*.c):
 * valid files parse to the expected values and defaults; every error case in
 * tests/data/cfg/<case>.yaml produces exactly the text of <case>.err (an empty
 * .err means the file is valid); peer lookup by address and name; the reload
 * diff; the embedded default.
 *
 * Regenerate the golden files after a deliberate message change with
 *   RH_CFG_REGEN=1 tests/test_cfg    (then review `git diff tests/data/cfg`)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "routehub/cfg.h"

#define CFG_DIR RH_TEST_DATA "/cfg"

static struct cfg *
parse_ok(const char *yaml)
{
	struct cfg_err_list errs;
	struct cfg *c = NULL;
	int rv;

	cfg_errs_init(&errs);
	rv = cfg_parse_buf("test.yaml", yaml, strlen(yaml), &c, &errs);
	if (rv != 0)
		cfg_errs_print(&errs, stderr);
	assert_int_equal(rv, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	cfg_errs_fini(&errs);
	return c;
}

/* Parse a config expected to fail; returns all messages joined by '\n'. */
static char *
parse_fail(const char *yaml)
{
	struct cfg_err_list errs;
	struct cfg *c = (struct cfg *)1;
	char *buf;
	size_t len;
	FILE *f;

	cfg_errs_init(&errs);
	assert_int_equal(cfg_parse_buf("t.yaml", yaml, strlen(yaml), &c, &errs), -1);
	assert_null(c);
	assert_true(errs.n > 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	cfg_errs_print(&errs, f);
	fclose(f);
	cfg_errs_fini(&errs);
	return buf;
}

static const struct cfg_peer *
peer_named(const struct cfg *c, const char *name)
{
	const struct cfg_peer *p = cfg_peer_find(c, name);

	assert_non_null(p);
	assert_string_equal(p->name, name);
	return p;
}

static uint32_t
ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

/* ---- valid configurations ------------------------------------------------------ */

static const char full_yaml[] =
    "local:\n"
    "  asn: 65515\n"
    "  router_id: 10.1.255.4\n"
    "  cluster_id: 10.1.255.5\n"
    "  listen: [\"0.0.0.0:179\", \"[::]:1179\", \"10.1.255.4\"]\n"
    "  threads: {io: 3, rib: 5}\n"
    "  api: {socket: /tmp/rh.sock, listen: \"127.0.0.1:8080\", token: 0123456789abcdef}\n"
    "  log_level: debug\n"
    "hub:\n"
    "  address_spaces: [10.1.0.0/16, \"2001:db8:1::/48\"]\n"
    "spokes:\n"
    "  - name: spoke-a\n"
    "    address_spaces: [10.2.0.0/16, 10.3.0.0/16]\n"
    "  - name: spoke-b\n"
    "    address_spaces: [10.4.0.0/16]\n"
    "    use_remote_route_server: false\n"
    "branch_to_branch: true\n"
    "routing_preference: aspath\n"
    "peers:\n"
    "  - name: sdwan\n"
    "    description: SD-WAN appliance\n"
    "    address: 10.1.1.4\n"
    "    asn: 65001\n"
    "    role: nva\n"
    "    passive: true\n"
    "    hold_time: 90\n"
    "    keepalive: 30\n"
    "    password: secret\n"
    "    ttl_security: true\n"
    "    multihop: 2\n"
    "    max_routes: 1000\n"
    "    max_routes_action: warn\n"
    "    transparent: true\n"
    "    route_refresh: false\n"
    "    local_address: 10.1.255.4\n"
    "  - name: er\n"
    "    address: 10.1.0.5\n"
    "    asn: 1.100\n"                      /* asdot: 65636 */
    "    role: expressroute-gateway\n"
    "    enabled: false\n"
    "  - name: agents\n"
    "    range: 10.2.0.0/24\n"
    "    role: rr-client\n"
    "  - name: dyn\n"
    "    range: \"2001:db8:2::/64\"\n"
    "    asn: any\n"
    "  - name: v6\n"
    "    address: \"2001:db8::1\"\n"
    "    asn: 4200000000\n"
    "    role: vpn-gateway\n"
    "    hold_time: 0\n";

static void
test_full(void **state)
{
	const struct cfg_peer *p;
	struct cfg *c;
	char buf[64];

	(void)state;
	c = parse_ok(full_yaml);
	assert_int_equal(c->asn, 65515);
	assert_int_equal(c->router_id, ip4("10.1.255.4"));
	assert_int_equal(c->cluster_id, ip4("10.1.255.5"));
	assert_int_equal(c->nlisten, 3);
	assert_int_equal(c->listen[0].addr.family, AF_INET);
	assert_int_equal(c->listen[0].port, 179);
	assert_int_equal(c->listen[1].addr.family, AF_INET6);
	assert_int_equal(c->listen[1].port, 1179);
	cfg_addr_fmt(&c->listen[2].addr, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.255.4");
	assert_int_equal(c->listen[2].port, 179);
	assert_int_equal(c->io_threads, 3);
	assert_int_equal(c->rib_threads, 5);
	assert_string_equal(c->api_socket, "/tmp/rh.sock");
	assert_string_equal(c->api_listen_str, "127.0.0.1:8080");
	assert_int_equal(c->api_listen.port, 8080);
	assert_string_equal(c->api_token, "0123456789abcdef");
	assert_int_equal(c->log_level, CFG_LOG_DEBUG);
	assert_int_equal(c->nhub_address_spaces, 2);
	cfg_addr_fmt(&c->hub_address_spaces[1], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:1::/48");
	assert_int_equal(c->nspokes, 2);
	assert_string_equal(c->spokes[0].name, "spoke-a");
	assert_int_equal(c->spokes[0].naddress_spaces, 2);
	assert_true(c->spokes[0].use_remote_route_server);
	assert_false(c->spokes[1].use_remote_route_server);
	assert_true(c->branch_to_branch);
	assert_int_equal(c->routing_preference, CFG_PREF_ASPATH);
	assert_int_equal(c->npeers, 5);

	p = peer_named(c, "sdwan");
	assert_string_equal(p->description, "SD-WAN appliance");
	assert_false(p->is_range);
	cfg_addr_fmt(&p->addr, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.1.4");
	assert_int_equal(p->asn, 65001);
	assert_int_equal(p->role, CFG_ROLE_NVA);
	assert_false(p->ibgp);
	assert_true(p->passive);
	assert_int_equal(p->hold_time, 90);
	assert_int_equal(p->keepalive, 30);
	assert_string_equal(p->password, "secret");
	assert_true(p->ttl_security);
	assert_int_equal(p->multihop, 2);
	assert_int_equal(p->max_routes, 1000);
	assert_int_equal(p->max_routes_action, CFG_MAXR_WARN);
	assert_true(p->transparent);
	assert_false(p->route_refresh);
	assert_true(p->has_local_address);
	assert_int_equal(p->line, 20);

	p = peer_named(c, "er");
	assert_int_equal(p->asn, 65636);
	assert_int_equal(p->role, CFG_ROLE_EXPRESSROUTE_GATEWAY);
	assert_false(p->enabled);

	p = peer_named(c, "agents");
	assert_true(p->is_range);
	assert_true(p->ibgp);
	assert_true(p->passive);
	assert_int_equal(p->asn, 65515);	/* rr-client defaults to local.asn */
	cfg_addr_fmt(&p->addr, buf, sizeof(buf));
	assert_string_equal(buf, "10.2.0.0/24");

	p = peer_named(c, "dyn");
	assert_true(p->asn_any);
	assert_int_equal(p->role, CFG_ROLE_NVA);	/* default role */

	p = peer_named(c, "v6");
	assert_int_equal(p->asn, 4200000000u);
	assert_int_equal(p->hold_time, 0);
	assert_int_equal(p->keepalive, 0);		/* follows hold_time 0 */
	cfg_free(c);
}

static void
test_defaults(void **state)
{
	const struct cfg_peer *p;
	struct cfg *c;

	(void)state;
	c = parse_ok("local: {router_id: 192.0.2.1}\n"
	    "peers:\n"
	    "  - {name: a, address: 192.0.2.10, asn: 65001}\n"
	    "  - {name: b, address: 192.0.2.11, asn: 65002, hold_time: 30}\n");
	assert_int_equal(c->asn, CFG_DEFAULT_ASN);
	assert_int_equal(c->cluster_id, c->router_id);
	assert_int_equal(c->nlisten, 1);
	assert_int_equal(c->listen[0].port, 179);
	assert_true(c->io_threads >= 1);
	assert_true(c->rib_threads >= 1);
	assert_string_equal(c->api_socket, CFG_DEFAULT_API_SOCKET);
	assert_null(c->api_listen_str);
	assert_int_equal(c->log_level, CFG_LOG_INFO);
	assert_false(c->branch_to_branch);
	assert_int_equal(c->routing_preference, CFG_PREF_EXPRESSROUTE);
	assert_false(c->two_octet_asn_only);

	p = peer_named(c, "a");
	assert_int_equal(p->role, CFG_ROLE_NVA);
	assert_true(p->enabled);
	assert_false(p->passive);
	assert_false(p->transparent);
	assert_true(p->route_refresh);
	assert_false(p->ttl_security);
	assert_int_equal(p->hold_time, 180);
	assert_int_equal(p->keepalive, 60);
	assert_int_equal(p->multihop, 255);
	assert_int_equal(p->max_routes, 4000);
	assert_int_equal(p->max_routes_action, CFG_MAXR_TEARDOWN);
	assert_null(p->password);
	assert_null(p->description);
	assert_false(p->has_local_address);

	p = peer_named(c, "b");
	assert_int_equal(p->hold_time, 30);
	assert_int_equal(p->keepalive, 10);	/* hold/3 when below 60 */
	cfg_free(c);
}

static void
test_no_peers(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("local: {router_id: 192.0.2.1}\npeers: []\n");
	assert_int_equal(c->npeers, 0);
	assert_null(cfg_peer_find(c, "x"));
	cfg_free(c);
	c = parse_ok("local: {router_id: 192.0.2.1}\n");
	assert_int_equal(c->npeers, 0);
	cfg_free(c);
}

/* Errors are all reported in one pass, sorted by line. */
static void
test_many_errors(void **state)
{
	char *s;

	(void)state;
	s = parse_fail("local:\n"
	    "  asn: 23456\n"
	    "  router_id: 1.2.3\n"
	    "peers:\n"
	    "  - name: x\n"
	    "    address: 10.0.0.1\n"
	    "    asn: 65001\n"
	    "    hold_tme: 10\n"
	    "  - name: x\n"
	    "    address: 10.0.0.1\n"
	    "    asn: 8075\n");
	assert_string_equal(s,
	    "t.yaml:2: local.asn: 23456 is reserved (AS_TRANS, RFC 6793)\n"
	    "t.yaml:3: local.router_id: '1.2.3' is not an IPv4 address\n"
	    "t.yaml:8: peers[0]: unknown key 'hold_tme' (did you mean 'hold_time'?)\n"
	    "t.yaml:9: peers[1].name: duplicate name 'x' (peers[0], line 5)\n"
	    "t.yaml:10: peers[1].address: 10.0.0.1 is already used by peers[0] 'x' (line 6)\n"
	    "t.yaml:11: peers[1].asn: 8075 is reserved (Microsoft public ASN)\n");
	free(s);
}

/* ---- golden error files ------------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + *len, 1, 4096, f);
		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_golden(void **state)
{
	char *names[512], path[1024], *yaml, *want, *got;
	struct cfg_err_list errs;
	struct dirent *de;
	struct cfg *c;
	size_t n = 0, i, len, glen, nerr_cases = 0;
	bool regen = getenv("RH_CFG_REGEN") != NULL;
	int failures = 0, rv;
	DIR *d;
	FILE *f;

	(void)state;
	d = opendir(CFG_DIR);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0 && n < 512)
			names[n++] = strndup(de->d_name, len - 5);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	assert_true(n >= 20);

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.yaml", CFG_DIR, names[i]);
		yaml = slurp(path, &len);
		assert_non_null(yaml);
		snprintf(path, sizeof(path), "%s.yaml", names[i]);
		cfg_errs_init(&errs);
		c = NULL;
		rv = cfg_parse_buf(path, yaml, len, &c, &errs);
		f = open_memstream(&got, &glen);
		assert_non_null(f);
		cfg_errs_print(&errs, f);
		fclose(f);
		snprintf(path, sizeof(path), "%s/%s.err", CFG_DIR, names[i]);
		if (regen) {
			f = fopen(path, "w");
			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		}
		want = slurp(path, &len);
		if (want == NULL) {
			print_error("%s: missing %s\n", names[i], path);
			failures++;
		} else if (strcmp(want, got) != 0) {
			print_error("%s: expected:\n%s--- got:\n%s---\n", names[i], want, got);
			failures++;
		} else if ((want[0] == '\0') != (rv == 0)) {
			print_error("%s: return %d does not match the messages\n", names[i], rv);
			failures++;
		}
		if (want != NULL && want[0] != '\0')
			nerr_cases++;
		cfg_free(c);
		cfg_errs_fini(&errs);
		free(yaml);
		free(want);
		free(got);
		free(names[i]);
	}
	assert_int_equal(failures, 0);
	assert_true(nerr_cases >= 20);
}

static void
test_load_file(void **state)
{
	struct cfg_err_list errs;
	struct cfg *c = NULL;

	(void)state;
	cfg_errs_init(&errs);
	assert_int_equal(cfg_load(CFG_DIR "/ok-minimal.yaml", &c, &errs), 0);
	assert_non_null(c);
	assert_string_equal(c->name, CFG_DIR "/ok-minimal.yaml");
	cfg_free(c);

	assert_int_equal(cfg_load("/nonexistent/routehub.yaml", &c, &errs), -1);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].msg,
	    "/nonexistent/routehub.yaml: cannot read: No such file or directory");
	cfg_errs_fini(&errs);
}

/* ---- lookups ------------------------------------------------------------------ */

static void
sa4(struct sockaddr_storage *ss, const char *s)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	assert_int_equal(inet_pton(AF_INET, s, &sin->sin_addr), 1);
}

static void
sa6(struct sockaddr_storage *ss, const char *s)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
}

static const char match_yaml[] =
    "local: {router_id: 192.0.2.1}\n"
    "peers:\n"
    "  - {name: nva1, address: 10.0.0.4, asn: 65001}\n"
    "  - {name: wide, range: 10.1.0.0/16, asn: any}\n"
    "  - {name: inside, address: 10.1.2.3, asn: 65003}\n"
    "  - {name: small, range: 10.2.3.0/24, asn: any}\n"
    "  - {name: host, range: 10.3.0.1/32, asn: 65004}\n"
    "  - {name: v6, range: \"2001:db8::/32\", asn: any}\n"
    "  - {name: v6host, address: \"2001:db8::5\", asn: 65005}\n"
    "  - {name: off, address: 10.9.9.9, asn: 65006, enabled: false}\n";

static void
test_match(void **state)
{
	static const struct {
		const char *what;
		const char *src;
		bool v6;
		const char *peer;	/* NULL: no match */
	} cases[] = {
		{ "exact address", "10.0.0.4", false, "nva1" },
		{ "next to an exact address", "10.0.0.5", false, NULL },
		{ "inside a range", "10.1.200.7", false, "wide" },
		{ "range start", "10.1.0.0", false, "wide" },
		{ "range end", "10.1.255.255", false, "wide" },
		{ "exact address inside a range wins", "10.1.2.3", false, "inside" },
		{ "just past a range", "10.2.0.0", false, NULL },
		{ "small range", "10.2.3.200", false, "small" },
		{ "below small range", "10.2.2.255", false, NULL },
		{ "/32 range", "10.3.0.1", false, "host" },
		{ "next to /32 range", "10.3.0.2", false, NULL },
		{ "disabled peer still matches", "10.9.9.9", false, "off" },
		{ "v4-mapped v6", "::ffff:10.0.0.4", true, "nva1" },
		{ "v4-mapped v6 in range", "::ffff:10.1.9.9", true, "wide" },
		{ "v6 exact", "2001:db8::5", true, "v6host" },
		{ "v6 range", "2001:db8:ffff::1", true, "v6" },
		{ "v6 outside", "2001:db9::1", true, NULL },
		{ "v4 below everything", "1.1.1.1", false, NULL },
		{ "v4 above everything", "223.1.1.1", false, NULL },
	};
	struct sockaddr_storage ss;
	const struct cfg_peer *p;
	struct cfg *c;
	size_t i;

	(void)state;
	c = parse_ok(match_yaml);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (cases[i].v6)
			sa6(&ss, cases[i].src);
		else
			sa4(&ss, cases[i].src);
		p = cfg_peer_match(c, (struct sockaddr *)&ss);
		if (cases[i].peer == NULL) {
			if (p != NULL)
				fail_msg("%s: %s matched %s", cases[i].what, cases[i].src, p->name);
		} else {
			if (p == NULL)
				fail_msg("%s: %s matched nothing", cases[i].what, cases[i].src);
			if (strcmp(p->name, cases[i].peer) != 0)
				fail_msg("%s: %s matched %s, not %s", cases[i].what, cases[i].src,
				    p->name, cases[i].peer);
		}
	}
	ss.ss_family = AF_UNIX;
	assert_null(cfg_peer_match(c, (struct sockaddr *)&ss));
	assert_null(cfg_peer_find(c, "nope"));
	assert_non_null(cfg_peer_find(c, "v6host"));
	cfg_free(c);
}

/* Thousands of peers: every address finds its own entry. */
static void
test_match_many(void **state)
{
	struct sockaddr_storage ss;
	const struct cfg_peer *p;
	struct cfg *c;
	char *yaml, ip[32], name[16];
	size_t len, i;
	FILE *f;

	(void)state;
	f = open_memstream(&yaml, &len);
	assert_non_null(f);
	fprintf(f, "local: {router_id: 192.0.2.1}\npeers:\n");
	/* interleave so that the file order is not the sorted order */
	for (i = 0; i < 3000; i++)
		fprintf(f, "  - {name: p%zu, address: 10.%zu.%zu.1, asn: %zu}\n", i,
		    (i * 7) % 3000 / 250, (i * 7) % 250, 1000 + i);
	for (i = 0; i < 200; i++)
		fprintf(f, "  - {name: r%zu, range: 172.16.%zu.0/24, asn: any}\n", i, 199 - i);
	fclose(f);
	c = parse_ok(yaml);
	free(yaml);
	assert_int_equal(c->npeers, 3200);
	for (i = 0; i < 3000; i++) {
		snprintf(ip, sizeof(ip), "10.%zu.%zu.1", (i * 7) % 3000 / 250, (i * 7) % 250);
		sa4(&ss, ip);
		p = cfg_peer_match(c, (struct sockaddr *)&ss);
		assert_non_null(p);
		snprintf(name, sizeof(name), "p%zu", i);
		assert_string_equal(p->name, name);
		assert_ptr_equal(cfg_peer_find(c, name), p);
	}
	for (i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "172.16.%zu.77", 199 - i);
		sa4(&ss, ip);
		p = cfg_peer_match(c, (struct sockaddr *)&ss);
		assert_non_null(p);
		snprintf(name, sizeof(name), "r%zu", i);
		assert_string_equal(p->name, name);
	}
	sa4(&ss, "172.16.200.1");
	assert_null(cfg_peer_match(c, (struct sockaddr *)&ss));
	cfg_free(c);
}

/* ---- reload diff -------------------------------------------------------------- */

struct diff_rec {
	char	 log[2048];
	size_t	 off;
};

static void
diff_cb(enum cfg_diff_kind k, const struct cfg_peer *o, const struct cfg_peer *n, void *arg)
{
	struct diff_rec *r = arg;
	const struct cfg_peer *p = n ? n : o;

	r->off += (size_t)snprintf(r->log + r->off, sizeof(r->log) - r->off, "%s %s\n",
	    cfg_diff_kind_name(k), p->name);
}

static const char diff_base[] =
    "local: {router_id: 192.0.2.1}\n"
    "peers:\n"
    "  - {name: same, address: 10.0.0.1, asn: 65001}\n"
    "  - {name: gone, address: 10.0.0.2, asn: 65002}\n"
    "  - {name: hold, address: 10.0.0.3, asn: 65003}\n"
    "  - {name: desc, address: 10.0.0.4, asn: 65004}\n"
    "  - {name: pw, address: 10.0.0.5, asn: 65005, password: a}\n"
    "  - {name: moved, address: 10.0.0.6, asn: 65006}\n"
    "  - {name: limit, address: 10.0.0.7, asn: 65007}\n";

static void
test_diff(void **state)
{
	struct diff_rec r;
	struct cfg *a, *b;
	int mask;

	(void)state;
	a = parse_ok(diff_base);
	b = parse_ok("local: {router_id: 192.0.2.1}\n"
	    "peers:\n"
	    "  - {name: new, address: 10.0.0.2, asn: 65002}\n"
	    "  - {name: same, address: 10.0.0.1, asn: 65001}\n"
	    "  - {name: hold, address: 10.0.0.3, asn: 65003, hold_time: 90}\n"
	    "  - {name: desc, address: 10.0.0.4, asn: 65004, description: hello}\n"
	    "  - {name: pw, address: 10.0.0.5, asn: 65005, password: b}\n"
	    "  - {name: moved, address: 10.0.0.16, asn: 65006}\n"
	    "  - {name: limit, address: 10.0.0.7, asn: 65007, max_routes: 10}\n");
	memset(&r, 0, sizeof(r));
	mask = cfg_diff(a, b, diff_cb, &r);
	assert_int_equal(mask, 0);
	assert_string_equal(r.log,
	    "removed gone\n"
	    "added new\n"
	    "unchanged same\n"
	    "restart hold\n"
	    "update desc\n"
	    "restart pw\n"
	    "restart moved\n"
	    "update limit\n");

	/* identical configurations: nothing changes */
	memset(&r, 0, sizeof(r));
	assert_int_equal(cfg_diff(a, a, diff_cb, &r), 0);
	assert_null(strstr(r.log, "restart"));
	assert_null(strstr(r.log, "added"));
	cfg_free(b);

	/* a new router id restarts every kept session */
	b = parse_ok("local: {router_id: 192.0.2.2}\n"
	    "peers:\n"
	    "  - {name: same, address: 10.0.0.1, asn: 65001}\n");
	memset(&r, 0, sizeof(r));
	mask = cfg_diff(a, b, diff_cb, &r);
	assert_true(mask & CFG_CHG_LOCAL);
	assert_string_equal(r.log,
	    "removed gone\nremoved hold\nremoved desc\nremoved pw\nremoved moved\n"
	    "removed limit\nrestart same\n");
	cfg_free(b);
	cfg_free(a);
}

static void
test_diff_global(void **state)
{
	struct diff_rec r;
	struct cfg *a, *b;
	int mask;

	(void)state;
	a = parse_ok("local: {router_id: 192.0.2.1, listen: [\"127.0.0.1:1179\"]}\n"
	    "hub: {address_spaces: [10.0.0.0/16]}\n"
	    "spokes: [{name: s1, address_spaces: [10.1.0.0/16]}]\n");
	b = parse_ok("local: {router_id: 192.0.2.1, listen: [\"127.0.0.1:1180\"],\n"
	    "  log_level: debug}\n"
	    "hub: {address_spaces: [10.0.0.0/16]}\n"
	    "spokes: [{name: s1, address_spaces: [10.1.0.0/16]},\n"
	    "         {name: s2, address_spaces: [10.2.0.0/16]}]\n"
	    "branch_to_branch: true\n");
	memset(&r, 0, sizeof(r));
	mask = cfg_diff(a, b, diff_cb, &r);
	assert_int_equal(mask, CFG_CHG_LISTEN | CFG_CHG_LOG | CFG_CHG_HUB | CFG_CHG_POLICY);
	assert_string_equal(r.log, "");
	cfg_free(a);
	cfg_free(b);
}

/* ---- embedded default and helpers --------------------------------------------- */

static void
test_default(void **state)
{
	struct cfg_err_list errs;
	struct sockaddr_storage ss;
	const struct cfg_peer *p;
	struct cfg *c = NULL;

	(void)state;
	cfg_errs_init(&errs);
	assert_int_equal(cfg_load_default(&c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->asn, 65515);
	assert_int_equal(c->listen[0].port, 1179);
	assert_int_equal(c->npeers, 4);
	assert_int_equal(c->nspokes, 2);
	sa4(&ss, "127.0.1.42");
	p = cfg_peer_match(c, (struct sockaddr *)&ss);
	assert_non_null(p);
	assert_string_equal(p->name, "spokes");
	assert_int_equal(p->role, CFG_ROLE_NVA);
	assert_true(p->asn_any);
	sa4(&ss, "127.0.2.42");
	p = cfg_peer_match(c, (struct sockaddr *)&ss);
	assert_non_null(p);
	assert_int_equal(p->role, CFG_ROLE_RR_CLIENT);
	sa4(&ss, "127.0.0.3");
	p = cfg_peer_match(c, (struct sockaddr *)&ss);
	assert_non_null(p);
	assert_string_equal(p->name, "nva2");
	assert_int_equal(p->asn, 65002);
	assert_true(p->passive);
	assert_non_null(strstr(cfg_default_yaml(), "peers:"));
	cfg_free(c);
	cfg_errs_fini(&errs);
}

static void
test_asn_reserved(void **state)
{
	static const struct {
		uint32_t asn;
		bool peer_ok;
		bool local_ok;
	} cases[] = {
		{ 0, false, false }, { 1, true, true }, { 8074, false, true },
		{ 8075, false, true }, { 12076, false, true }, { 23456, false, false },
		{ 64495, true, true }, { 64496, false, false }, { 64511, false, false },
		{ 64512, true, true }, { 65514, true, true }, { 65515, false, true },
		{ 65516, true, true }, { 65517, false, true }, { 65520, false, true },
		{ 65521, true, true }, { 65534, true, true }, { 65535, false, false },
		{ 65536, false, false }, { 65551, false, false }, { 65552, true, true },
		{ 4294967294u, true, true }, { 4294967295u, false, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if ((cfg_asn_reserved(cases[i].asn, true) == NULL) != cases[i].peer_ok)
			fail_msg("peer asn %u", cases[i].asn);
		if ((cfg_asn_reserved(cases[i].asn, false) == NULL) != cases[i].local_ok)
			fail_msg("local asn %u", cases[i].asn);
	}
}

static void
test_prefix_helpers(void **state)
{
	struct cfg_addr a, b;
	bool host;
	char buf[64];

	(void)state;
	assert_int_equal(cfg_prefix_parse("10.1.0.0/16", &a, &host), 0);
	assert_false(host);
	assert_int_equal(cfg_prefix_parse("10.1.0.1/16", &a, &host), 0);
	assert_true(host);
	assert_int_equal(cfg_prefix_parse("10.1.0.0/33", &a, &host), -1);
	assert_int_equal(cfg_prefix_parse("10.1.0.0/", &a, &host), -1);
	assert_int_equal(cfg_prefix_parse("10.1.0.0/08", &a, &host), -1);
	assert_int_equal(cfg_prefix_parse("10.1.0.0", &a, &host), -1);
	assert_int_equal(cfg_prefix_parse("2001:db8::/129", &a, &host), -1);
	assert_int_equal(cfg_prefix_parse("2001:db8::/28", &a, &host), 0);
	assert_true(host);
	assert_int_equal(cfg_prefix_parse("0.0.0.0/0", &a, &host), 0);
	assert_false(host);
	assert_int_equal(cfg_addr_parse("10.1.2.3", &b), 0);
	assert_true(cfg_prefix_contains(&a, &b));
	assert_int_equal(cfg_prefix_parse("10.1.2.0/23", &a, &host), 0);
	assert_true(cfg_prefix_contains(&a, &b));
	assert_int_equal(cfg_prefix_parse("10.1.4.0/23", &a, &host), 0);
	assert_false(cfg_prefix_contains(&a, &b));
	cfg_addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.4.0/23");
	assert_int_equal(cfg_addr_parse("10.1.2", &b), -1);
	assert_int_equal(cfg_addr_parse("::1", &b), 0);
	assert_int_equal(b.family, AF_INET6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_peers),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_many),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_global),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_asn_reserved),
		cmocka_unit_test(test_prefix_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
