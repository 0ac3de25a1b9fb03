/*
 * opts.c — routehub-loadgen command line and scenario files.
 *
 * Runs on the main thread before anything starts. Everything a user can
 * type ends in a clear error message naming the option (or the scenario
 * file and line) and what is wrong; nothing here aborts.
 *
 * Phases are written "kind[:key=value]..." and separated by commas on the
 * command line (--phases), or one per line in a scenario file (--scenario),
 * where the arguments may also be separated by blanks and '#' starts a
 * comment. Selectors of feeders or spokes are "all", "even", "odd", an
 * index, or a range "A-B", combined with '+' (and ',' in scenario files).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg.h"

static const char *const phase_names[LG_PH_MAX] = {
    [LG_PH_ESTABLISH] = "establish", [LG_PH_ANNOUNCE] = "announce", [LG_PH_EOR] = "eor",
    [LG_PH_WITHDRAW] = "withdraw",   [LG_PH_CHURN] = "churn",       [LG_PH_RESET] = "reset",
    [LG_PH_RECONNECT] = "reconnect", [LG_PH_REFRESH] = "refresh",   [LG_PH_WAIT] = "wait",
    [LG_PH_PAUSE] = "pause",
};

const char *
lg_phase_name(enum lg_phase_kind k)
{
	return k < LG_PH_MAX ? phase_names[k] : "?";
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: routehub-loadgen (--target ADDR[:PORT] | --self-test) [options]\n"
	    "\n"
	    "Target\n"
	    "  --target ADDR[:PORT]   route server under test (port 179 by default)\n"
	    "  --self-test            no daemon: the loadgen's own listener mirrors every\n"
	    "                         feeder UPDATE to every spoke (measures its ceiling)\n"
	    "  --listen ADDR[:PORT]   self-test listener (127.0.0.1:0 = any free port)\n"
	    "  --rs-asn N|transparent what the route server does to AS_PATH: prepend N,\n"
	    "                         or nothing (RFC 7947 transparent; the default)\n"
	    "Sessions\n"
	    "  --feeders N            speakers that announce (2)\n"
	    "  --spokes N             speakers that only receive and verify (1)\n"
	    "  --feeder-addr A        first feeder source address (127.1.0.1)\n"
	    "  --spoke-addr A         first spoke source address (127.2.0.1)\n"
	    "  --feeder-asn N         first feeder ASN, +1 each (4200000001)\n"
	    "  --spoke-asn N          first spoke ASN, +1 each (4200100001)\n"
	    "  --feeder-asn-step N, --spoke-asn-step N\n"
	    "                         added per session (1); 0: all the same (iBGP spokes:\n"
	    "                         --spoke-asn RS-ASN --spoke-asn-step 0)\n"
	    "  --ibgp-feeders         feeders are iBGP route-reflector clients of the route\n"
	    "                         server: all in its ASN (--feeder-asn, else --rs-asn N;\n"
	    "                         step 0), no own ASN in AS_PATH, LOCAL_PREF sent; iBGP\n"
	    "                         spokes expect ORIGINATOR_ID and CLUSTER_LIST (RFC 4456).\n"
	    "                         Implied by --feeder-asn equal to --rs-asn N\n"
	    "  --local-pref N         LOCAL_PREF the iBGP feeders send (100)\n"
	    "  --cluster-id ID        CLUSTER_ID the route server reflects with (A.B.C.D or\n"
	    "                         a number; default: its BGP Identifier)\n"
	    "  --hold S               proposed hold time (180)\n"
	    "  --connect-batch N      connections in progress at once (8: BIRD's backlog)\n"
	    "  --threads N            I/O threads (2)\n"
	    "  --extmsg               offer RFC 8654 extended messages\n"
	    "Workload (synthetic)\n"
	    "  --prefixes N           prefixes per group of feeders (1000)\n"
	    "  --len-mix L:W,...      IPv4 prefix length weights\n"
	    "                         (24:60,23:6,22:10,21:5,20:6,19:4,18:3,17:2,16:4)\n"
	    "  --ipv6 PCT             share of IPv6 prefixes (0)\n"
	    "  --attr-sets N          distinct attribute sets per group (10)\n"
	    "  --aspath-len N         AS path length as a feeder sends it (3; iBGP feeders:\n"
	    "                         0 = locally originated, empty)\n"
	    "  --communities N        standard communities per set (0)\n"
	    "  --large-communities N  large communities per set (0)\n"
	    "  --overlap K            feeders per group announcing the same prefixes with\n"
	    "                         equal attributes but next hop and own ASN (1; 2 = pairs)\n"
	    "  --max-per-update N     prefixes per UPDATE at most (as many as fit)\n"
	    "  --seed N               workload seed (1)\n"
	    "Workload (replay)\n"
	    "  --replay FILE          MRT BGP4MP(_ET) file: every feeder replays its UPDATEs,\n"
	    "                         own ASN prepended (not by iBGP feeders), next hop its\n"
	    "                         own, ORIGINATOR_ID / CLUSTER_LIST and (eBGP feeders)\n"
	    "                         LOCAL_PREF stripped\n"
	    "  --replay-max N         read at most N UPDATE messages\n"
	    "Phases\n"
	    "  --phases LIST          comma-separated (establish,announce,eor,withdraw)\n"
	    "  --scenario FILE        one phase per line\n"
	    "      establish | announce[:feeders=SEL] | eor | withdraw[:feeders=SEL]\n"
	    "      churn:rate=R:duration=S[:batch=K] | reset:feeders=SEL[:tcp]\n"
	    "      reconnect:feeders=SEL | refresh[:spokes=SEL] | wait | pause:duration=S\n"
	    "      SEL: all | even | odd | N | A-B, joined with '+'\n"
	    "  --churn-pool N         pre-encoded churn messages per feeder (65536)\n"
	    "  --timeout S            per phase (60)\n"
	    "  --settle S             quiet time the spokes need before a phase is over (0.25);\n"
	    "                         the times reported are when each spoke last matched\n"
	    "Verification and output\n"
	    "  --expect-corrupt digest|count|route|local-pref|originator-id|cluster-list\n"
	    "                         corrupt the expectation (digest, count), or (self-test)\n"
	    "                         one UPDATE sent to the last spoke: its AS path, or (iBGP\n"
	    "                         feeders and spokes) that attribute: the run must fail\n"
	    "  --no-rx-cache          every spoke decodes every UPDATE itself (by default a\n"
	    "                         thread's spokes share the verified result of identical\n"
	    "                         UPDATEs)\n"
	    "  --ignore-unknown       routes outside the workload (the route server's own)\n"
	    "                         are counted, not an error\n"
	    "  --json FILE            write the JSON result there (else last stdout line)\n"
	    "  --dump-peers FILE      write 'role index address asn' lines, then continue\n"
	    "  --ceiling FILE         JSON of a self-test run: print it with the results\n"
	    "  --save-ceiling FILE    (self-test) write this run's JSON there as well\n"
	    "  -v, --verbose  -q, --quiet\n");
}

static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "routehub-loadgen: %s: '%s' is not a number in [%llu, %llu]\n", opt,
		        s, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(opt, s, min, max, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
parse_double(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "routehub-loadgen: %s: '%s' is not a number in [%g, %g]\n", opt, s,
		        min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* ADDR or ADDR:PORT, IPv4 in 127.0.0.0/8 only: all traffic stays on loopback. */
static int
parse_addr(const char *opt, const char *s, uint32_t *addr, uint16_t *port, bool want_port)
{
	char buf[64], *colon;
	struct in_addr a;
	uint32_t p;

	if (strlen(s) >= sizeof(buf))
		goto fail;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon) {
		if (!want_port)
			goto fail;
		*colon = '\0';
		if (parse_u32(opt, colon + 1, 0, 65535, &p) < 0)
			return -1;
		*port = (uint16_t)p;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		goto fail;
	*addr = ntohl(a.s_addr);
	if ((*addr >> 24) != 127) {
		fprintf(stderr, "routehub-loadgen: %s: %s is not in 127.0.0.0/8 (loopback only)\n",
		        opt, buf);
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "routehub-loadgen: %s: '%s' is not an IPv4 address%s\n", opt, s,
	        want_port ? "[:port]" : "");
	return -1;
}

static int
parse_len_mix(const char *s, uint32_t mix[33])
{
	char buf[512], *tok, *save = NULL;
	uint32_t total = 0;

	if (strlen(s) >= sizeof(buf))
		goto fail;
	memset(mix, 0, 33 * sizeof(mix[0]));
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint32_t l, w;
		if (!colon)
			goto fail;
		*colon = '\0';
		if (parse_u32("--len-mix", tok, 8, 32, &l) < 0 ||
		    parse_u32("--len-mix", colon + 1, 0, 1000000, &w) < 0)
			return -1;
		mix[l] += w;
		total += w;
	}
	if (total == 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr,
	        "routehub-loadgen: --len-mix: '%s': expected LEN:WEIGHT,... with "
	        "lengths 8..32 and some weight\n",
	        s);
	return -1;
}

int
lg_sel_parse(const char *sel, uint32_t n, uint8_t *flags)
{
	char buf[512], *tok, *save = NULL;

	memset(flags, 0, n);
	if (!sel || !strcmp(sel, "all")) {
		memset(flags, 1, n);
		return 0;
	}
	if (strlen(sel) >= sizeof(buf))
		goto fail;
	strcpy(buf, sel);
	for (tok = strtok_r(buf, "+,", &save); tok; tok = strtok_r(NULL, "+,", &save)) {
		char *dash = strchr(tok, '-'), *end;
		unsigned long a, b;
		if (!strcmp(tok, "all")) {
			memset(flags, 1, n);
			continue;
		}
		if (!strcmp(tok, "none"))
			continue;
		if (!strcmp(tok, "even") || !strcmp(tok, "odd")) {
			for (uint32_t i = tok[0] == 'e' ? 0 : 1; i < n; i += 2)
				flags[i] = 1;
			continue;
		}
		a = strtoul(tok, &end, 10);
		if (end == tok || (*end && *end != '-'))
			goto fail;
		b = a;
		if (dash) {
			b = strtoul(dash + 1, &end, 10);
			if (end == dash + 1 || *end)
				goto fail;
		}
		if (a > b || b >= n) {
			fprintf(stderr,
			        "routehub-loadgen: selector '%s': %s is out of range (0..%u)\n",
			        sel, tok, n ? n - 1 : 0);
			return -1;
		}
		for (unsigned long i = a; i <= b; i++)
			flags[i] = 1;
	}
	return 0;
fail:
	fprintf(stderr,
	        "routehub-loadgen: selector '%s': expected all, even, odd, N or A-B "
	        "joined with '+'\n",
	        sel);
	return -1;
}

/* One phase: "kind" then "key=value" / flag arguments separated by ':' or blanks. */
static int
parse_phase(const char *text, const char *where, struct lg_phase *ph)
{
	char buf[512], *tok, *save = NULL, *kind;
	int k;

	memset(ph, 0, sizeof(*ph));
	ph->batch = 1;
	if (strlen(text) >= sizeof(buf)) {
		fprintf(stderr, "routehub-loadgen: %s: phase too long\n", where);
		return -1;
	}
	strcpy(buf, text);
	snprintf(ph->text, sizeof(ph->text), "%.95s", text);
	kind = strtok_r(buf, ": \t", &save);
	if (!kind) {
		fprintf(stderr, "routehub-loadgen: %s: empty phase\n", where);
		return -1;
	}
	for (k = 0; k < LG_PH_MAX; k++)
		if (!strcmp(kind, phase_names[k]))
			break;
	if (k == LG_PH_MAX) {
		fprintf(stderr,
		        "routehub-loadgen: %s: unknown phase '%s' (establish, announce, "
		        "eor, withdraw, churn, reset, reconnect, refresh, wait, pause)\n",
		        where, kind);
		return -1;
	}
	ph->kind = (enum lg_phase_kind)k;
	while ((tok = strtok_r(NULL, ": \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : NULL;
		if (eq)
			*eq = '\0';
		if (!strcmp(tok, "tcp") && !val && ph->kind == LG_PH_RESET) {
			ph->tcp = true;
		} else if (val && (!strcmp(tok, "feeders") || !strcmp(tok, "spokes"))) {
			bool spokes = tok[0] == 's';
			if (spokes != (ph->kind == LG_PH_REFRESH)) {
				fprintf(stderr,
				        "routehub-loadgen: %s: '%s=' does not apply to %s\n", where,
				        tok, kind);
				return -1;
			}
			free(ph->sel);
			ph->sel = strdup(val);
		} else if (val && !strcmp(tok, "rate") && ph->kind == LG_PH_CHURN) {
			if (parse_double(where, val, 1, 1e9, &ph->rate) < 0)
				return -1;
		} else if (val && !strcmp(tok, "duration") &&
		           (ph->kind == LG_PH_CHURN || ph->kind == LG_PH_PAUSE)) {
			if (parse_double(where, val, 0, 86400, &ph->duration) < 0)
				return -1;
		} else if (val && !strcmp(tok, "batch") && ph->kind == LG_PH_CHURN) {
			if (parse_u32(where, val, 1, 4096, &ph->batch) < 0)
				return -1;
		} else {
			fprintf(stderr, "routehub-loadgen: %s: '%s%s%s' is not an argument of %s\n",
			        where, tok, val ? "=" : "", val ? val : "", kind);
			return -1;
		}
	}
	if (ph->kind == LG_PH_CHURN && (ph->rate <= 0 || ph->duration <= 0)) {
		fprintf(stderr, "routehub-loadgen: %s: churn needs rate=R and duration=S\n", where);
		return -1;
	}
	if (ph->kind == LG_PH_PAUSE && ph->duration <= 0) {
		fprintf(stderr, "routehub-loadgen: %s: pause needs duration=S\n", where);
		return -1;
	}
	if ((ph->kind == LG_PH_RESET || ph->kind == LG_PH_RECONNECT) && !ph->sel) {
		fprintf(stderr, "routehub-loadgen: %s: %s needs feeders=SEL\n", where, kind);
		return -1;
	}
	return 0;
}

static int
add_phase(struct lg_opts *o, const char *text, const char *where)
{
	struct lg_phase *n = realloc(o->phases, (o->n_phases + 1) * sizeof(*n));

	if (!n)
		return -1;
	o->phases = n;
	if (parse_phase(text, where, &o->phases[o->n_phases]) < 0)
		return -1;
	o->n_phases++;
	return 0;
}

static int
parse_phase_list(struct lg_opts *o, const char *list)
{
	char *buf = strdup(list), *tok, *save = NULL;
	int rc = 0;

	if (!buf)
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save))
		rc = add_phase(o, tok, "--phases");
	free(buf);
	return rc;
}

static int
parse_scenario(struct lg_opts *o, const char *path)
{
	char line[512], where[600];
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;

	if (!f) {
		fprintf(stderr, "routehub-loadgen: --scenario %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *hash = strchr(line, '#'), *e;
		lineno++;
		if (hash)
			*hash = '\0';
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*p)
			continue;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (add_phase(o, p, where) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	if (o->n_phases == 0) {
		fprintf(stderr, "routehub-loadgen: %s: no phases\n", path);
		return -1;
	}
	return 0;
}

enum {
	OPT_TARGET = 256,
	OPT_SELF,
	OPT_LISTEN,
	OPT_RSASN,
	OPT_FEEDERS,
	OPT_SPOKES,
	OPT_FADDR,
	OPT_SADDR,
	OPT_FASN,
	OPT_SASN,
	OPT_HOLD,
	OPT_CBATCH,
	OPT_THREADS,
	OPT_EXTMSG,
	OPT_PREFIXES,
	OPT_LENMIX,
	OPT_IPV6,
	OPT_ASETS,
	OPT_PATHLEN,
	OPT_COMMS,
	OPT_LCOMMS,
	OPT_OVERLAP,
	OPT_MAXPU,
	OPT_SEED,
	OPT_REPLAY,
	OPT_REPLAYMAX,
	OPT_PHASES,
	OPT_SCENARIO,
	OPT_CPOOL,
	OPT_TIMEOUT,
	OPT_CORRUPT,
	OPT_IGNUNK,
	OPT_JSON,
	OPT_DUMP,
	OPT_CEIL,
	OPT_SAVECEIL,
	OPT_SETTLE,
	OPT_FASTEP,
	OPT_SASTEP,
	OPT_NORXC,
	OPT_IBGPF,
	OPT_LPREF,
	OPT_CLUSTER,
};

static const struct option longopts[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"self-test", no_argument, NULL, OPT_SELF},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"rs-asn", required_argument, NULL, OPT_RSASN},
    {"feeders", required_argument, NULL, OPT_FEEDERS},
    {"spokes", required_argument, NULL, OPT_SPOKES},
    {"feeder-addr", required_argument, NULL, OPT_FADDR},
    {"spoke-addr", required_argument, NULL, OPT_SADDR},
    {"feeder-asn", required_argument, NULL, OPT_FASN},
    {"spoke-asn", required_argument, NULL, OPT_SASN},
    {"feeder-asn-step", required_argument, NULL, OPT_FASTEP},
    {"spoke-asn-step", required_argument, NULL, OPT_SASTEP},
    {"ibgp-feeders", no_argument, NULL, OPT_IBGPF},
    {"local-pref", required_argument, NULL, OPT_LPREF},
    {"cluster-id", required_argument, NULL, OPT_CLUSTER},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"connect-batch", required_argument, NULL, OPT_CBATCH},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"extmsg", no_argument, NULL, OPT_EXTMSG},
    {"prefixes", required_argument, NULL, OPT_PREFIXES},
    {"len-mix", required_argument, NULL, OPT_LENMIX},
    {"ipv6", required_argument, NULL, OPT_IPV6},
    {"attr-sets", required_argument, NULL, OPT_ASETS},
    {"aspath-len", required_argument, NULL, OPT_PATHLEN},
    {"communities", required_argument, NULL, OPT_COMMS},
    {"large-communities", required_argument, NULL, OPT_LCOMMS},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"max-per-update", required_argument, NULL, OPT_MAXPU},
    {"seed", required_argument, NULL, OPT_SEED},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"replay-max", required_argument, NULL, OPT_REPLAYMAX},
    {"phases", required_argument, NULL, OPT_PHASES},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"churn-pool", required_argument, NULL, OPT_CPOOL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"expect-corrupt", required_argument, NULL, OPT_CORRUPT},
    {"ignore-unknown", no_argument, NULL, OPT_IGNUNK},
    {"no-rx-cache", no_argument, NULL, OPT_NORXC},
    {"json", required_argument, NULL, OPT_JSON},
    {"dump-peers", required_argument, NULL, OPT_DUMP},
    {"ceiling", required_argument, NULL, OPT_CEIL},
    {"save-ceiling", required_argument, NULL, OPT_SAVECEIL},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
lg_opts_parse(struct lg_opts *o, int argc, char **argv)
{
	bool have_target = false, have_fasn = false, have_fastep = false;
	const char *phases = NULL, *scenario = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	o->listen_addr = 0x7f000001;
	o->target_port = 179;
	o->rs_transparent = true;
	o->n_feeders = 2;
	o->n_spokes = 1;
	o->feeder_addr = 0x7f010001; /* 127.1.0.1 */
	o->spoke_addr = 0x7f020001;  /* 127.2.0.1 */
	o->feeder_asn = 4200000001u; /* RFC 6996 private 4-octet ASNs */
	o->spoke_asn = 4200100001u;
	o->feeder_asn_step = o->spoke_asn_step = 1;
	o->hold = 180;
	o->connect_batch = 8;
	o->threads = 2;
	o->prefixes = 1000;
	parse_len_mix("24:60,23:6,22:10,21:5,20:6,19:4,18:3,17:2,16:4", o->len_mix);
	o->attr_sets = 10;
	o->aspath_len = 3;
	o->local_pref = 100;
	o->overlap = 1;
	o->seed = 1;
	o->churn_pool = 65536;
	o->timeout = 60;
	o->settle = 0.25;

	while ((c = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		uint32_t v = 0;
		int rc = 0;
		switch (c) {
		case OPT_TARGET:
			rc = parse_addr("--target", optarg, &o->target_addr, &o->target_port, true);
			have_target = true;
			break;
		case OPT_SELF:
			o->self_test = true;
			break;
		case OPT_LISTEN:
			rc = parse_addr("--listen", optarg, &o->listen_addr, &o->listen_port, true);
			break;
		case OPT_RSASN:
			if (!strcmp(optarg, "transparent")) {
				o->rs_transparent = true;
			} else {
				rc = parse_u32("--rs-asn", optarg, 1, 4294967294u, &o->rs_asn);
				o->rs_transparent = false;
			}
			break;
		case OPT_FEEDERS:
			rc = parse_u32("--feeders", optarg, 0, LG_MAX_FEEDERS, &o->n_feeders);
			break;
		case OPT_SPOKES:
			rc = parse_u32("--spokes", optarg, 0, 100000, &o->n_spokes);
			break;
		case OPT_FADDR:
			rc = parse_addr("--feeder-addr", optarg, &o->feeder_addr, NULL, false);
			break;
		case OPT_SADDR:
			rc = parse_addr("--spoke-addr", optarg, &o->spoke_addr, NULL, false);
			break;
		case OPT_FASN:
			rc = parse_u32("--feeder-asn", optarg, 1, 4294967294u, &o->feeder_asn);
			have_fasn = true;
			break;
		case OPT_SASN:
			rc = parse_u32("--spoke-asn", optarg, 1, 4294967294u, &o->spoke_asn);
			break;
		case OPT_FASTEP:
			rc =
			    parse_u32("--feeder-asn-step", optarg, 0, 1000000, &o->feeder_asn_step);
			have_fastep = true;
			break;
		case OPT_IBGPF:
			o->ibgp_feeders = true;
			break;
		case OPT_LPREF:
			rc = parse_u32("--local-pref", optarg, 0, 4294967295u, &o->local_pref);
			break;
		case OPT_CLUSTER: {
			struct in_addr ia;
			if (inet_pton(AF_INET, optarg, &ia) == 1) {
				o->cluster_id = ntohl(ia.s_addr);
			} else {
				rc = parse_u32("--cluster-id", optarg, 1, 4294967295u,
				               &o->cluster_id);
			}
			if (rc == 0 && o->cluster_id == 0) {
				fprintf(stderr, "routehub-loadgen: --cluster-id: 0 is not a "
				                "CLUSTER_ID\n");
				rc = -1;
			}
			o->have_cluster_id = true;
			break;
		}
		case OPT_SASTEP:
			rc = parse_u32("--spoke-asn-step", optarg, 0, 1000000, &o->spoke_asn_step);
			break;
		case OPT_HOLD:
			rc = parse_u32("--hold", optarg, 0, 65535, &v);
			if (rc == 0 && v > 0 && v < 3) {
				fprintf(stderr, "routehub-loadgen: --hold: 0 or at least 3 "
				                "(RFC 4271 §4.2)\n");
				rc = -1;
			}
			o->hold = (uint16_t)v;
			break;
		case OPT_CBATCH:
			rc = parse_u32("--connect-batch", optarg, 1, 100000, &o->connect_batch);
			break;
		case OPT_THREADS:
			rc = parse_u32("--threads", optarg, 1, LG_MAX_THREADS - 1, &o->threads);
			break;
		case OPT_EXTMSG:
			o->extmsg = true;
			break;
		case OPT_PREFIXES:
			rc = parse_u32("--prefixes", optarg, 0, 50000000, &o->prefixes);
			break;
		case OPT_LENMIX:
			rc = parse_len_mix(optarg, o->len_mix);
			break;
		case OPT_IPV6:
			rc = parse_u32("--ipv6", optarg, 0, 100, &o->v6_pct);
			break;
		case OPT_ASETS:
			rc = parse_u32("--attr-sets", optarg, 1, 10000000, &o->attr_sets);
			break;
		case OPT_PATHLEN:
			rc = parse_u32("--aspath-len", optarg, 0, 200, &o->aspath_len);
			break;
		case OPT_COMMS:
			rc = parse_u32("--communities", optarg, 0, 500, &o->communities);
			break;
		case OPT_LCOMMS:
			rc = parse_u32("--large-communities", optarg, 0, 300, &o->large_comms);
			break;
		case OPT_OVERLAP:
			rc = parse_u32("--overlap", optarg, 1, LG_MAX_FEEDERS, &o->overlap);
			break;
		case OPT_MAXPU:
			rc = parse_u32("--max-per-update", optarg, 1, 100000, &o->max_per_update);
			break;
		case OPT_SEED:
			rc = parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed);
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_REPLAYMAX:
			rc = parse_u64("--replay-max", optarg, 1, UINT64_MAX, &o->replay_max);
			break;
		case OPT_PHASES:
			phases = optarg;
			break;
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_CPOOL:
			rc = parse_u32("--churn-pool", optarg, 1, 10000000, &o->churn_pool);
			break;
		case OPT_TIMEOUT:
			rc = parse_double("--timeout", optarg, 0.1, 86400, &o->timeout);
			break;
		case OPT_SETTLE:
			rc = parse_double("--settle", optarg, 0, 60, &o->settle);
			break;
		case OPT_CORRUPT:
			if (!strcmp(optarg, "digest"))
				o->expect_corrupt = LG_CORRUPT_DIGEST;
			else if (!strcmp(optarg, "count"))
				o->expect_corrupt = LG_CORRUPT_COUNT;
			else if (!strcmp(optarg, "route"))
				o->expect_corrupt = LG_CORRUPT_ROUTE;
			else if (!strcmp(optarg, "local-pref"))
				o->expect_corrupt = LG_CORRUPT_LOCAL_PREF;
			else if (!strcmp(optarg, "originator-id"))
				o->expect_corrupt = LG_CORRUPT_ORIGINATOR;
			else if (!strcmp(optarg, "cluster-list"))
				o->expect_corrupt = LG_CORRUPT_CLUSTER;
			else {
				fprintf(stderr,
				        "routehub-loadgen: --expect-corrupt: digest, count, route, "
				        "local-pref, originator-id or cluster-list\n");
				rc = -1;
			}
			break;
		case OPT_IGNUNK:
			o->ignore_unknown = true;
			break;
		case OPT_NORXC:
			o->no_rx_cache = true;
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_DUMP:
			o->dump_peers = optarg;
			break;
		case OPT_CEIL:
			o->ceiling = optarg;
			break;
		case OPT_SAVECEIL:
			o->save_ceiling = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "routehub-loadgen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (have_target == o->self_test) {
		fprintf(stderr, "routehub-loadgen: give exactly one of --target ADDR[:PORT] and "
		                "--self-test\n");
		return -1;
	}
	if (o->self_test && !o->rs_transparent) {
		fprintf(stderr, "routehub-loadgen: --self-test mirrors UPDATEs unchanged: "
		                "--rs-asn must be transparent\n");
		return -1;
	}
	if (o->expect_corrupt >= LG_CORRUPT_ROUTE && (!o->self_test || o->n_spokes == 0)) {
		fprintf(stderr, "routehub-loadgen: --expect-corrupt route (and local-pref, "
		                "originator-id, cluster-list) needs --self-test and spokes (the "
		                "mirror alters a route it sends)\n");
		return -1;
	}
	/* iBGP feeders: the route server's ASN, which is --feeder-asn, or
	 * --rs-asn N; --feeder-asn equal to --rs-asn N makes feeders iBGP. */
	if (!o->ibgp_feeders && !o->rs_transparent && have_fasn && o->feeder_asn == o->rs_asn)
		o->ibgp_feeders = true;
	if (o->ibgp_feeders) {
		if (!o->rs_transparent) {
			if (have_fasn && o->feeder_asn != o->rs_asn) {
				fprintf(
				    stderr,
				    "routehub-loadgen: --ibgp-feeders: --feeder-asn %u is not the "
				    "route server's (--rs-asn %u)\n",
				    o->feeder_asn, o->rs_asn);
				return -1;
			}
			o->feeder_asn = o->rs_asn;
		} else if (!have_fasn && !o->self_test) {
			fprintf(stderr, "routehub-loadgen: --ibgp-feeders: give the route server's "
			                "ASN (--feeder-asn N, or --rs-asn N)\n");
			return -1;
		}
		if (have_fastep && o->feeder_asn_step && o->n_feeders > 1) {
			fprintf(stderr, "routehub-loadgen: --ibgp-feeders: every feeder is in the "
			                "route server's AS (--feeder-asn-step 0)\n");
			return -1;
		}
		o->feeder_asn_step = 0;
	} else if (o->aspath_len == 0) {
		fprintf(stderr, "routehub-loadgen: --aspath-len 0 (an empty AS path) is for "
		                "--ibgp-feeders only: an eBGP feeder sends its own ASN\n");
		return -1;
	}
	if (o->expect_corrupt > LG_CORRUPT_ROUTE) {
		bool ib = o->ibgp_feeders && o->spoke_asn == lg_mirror_asn(o) &&
		          (o->spoke_asn_step == 0 || o->n_spokes == 1);
		if (!ib) {
			fprintf(stderr,
			        "routehub-loadgen: --expect-corrupt local-pref, originator-id and "
			        "cluster-list need --ibgp-feeders and iBGP spokes (--spoke-asn "
			        "%u --spoke-asn-step 0): the mirror reflects to them\n",
			        o->feeder_asn);
			return -1;
		}
	}
	if (o->self_test && o->ibgp_feeders) {
		/* The mirror keeps one log for every spoke: it reflects (iBGP
		 * spokes) or passes on to external peers, not both. */
		uint32_t mine = 0, a = lg_mirror_asn(o);
		for (uint32_t i = 0; i < o->n_spokes; i++)
			mine += o->spoke_asn + i * o->spoke_asn_step == a;
		if (mine && mine != o->n_spokes) {
			fprintf(stderr,
			        "routehub-loadgen: --self-test --ibgp-feeders: the spokes must be "
			        "all iBGP (AS%u) or all eBGP to the mirror; %u of %u are iBGP\n",
			        a, mine, o->n_spokes);
			return -1;
		}
	}
	if (o->n_feeders == 0 && o->n_spokes == 0) {
		fprintf(stderr, "routehub-loadgen: no sessions (--feeders 0 --spokes 0)\n");
		return -1;
	}
	if (!o->replay && o->n_feeders % o->overlap) {
		fprintf(stderr,
		        "routehub-loadgen: --feeders %u is not a multiple of --overlap %u\n",
		        o->n_feeders, o->overlap);
		return -1;
	}
	if (o->replay && o->overlap != 1) {
		fprintf(stderr, "routehub-loadgen: --overlap does not apply to --replay (every "
		                "feeder replays the whole file: they form one group)\n");
		return -1;
	}
	if ((uint64_t)o->feeder_addr + o->n_feeders * 2 > 0x7fffffffu ||
	    (uint64_t)o->spoke_addr + o->n_spokes * 2 > 0x7fffffffu) {
		fprintf(stderr, "routehub-loadgen: source addresses run past 127.255.255.255\n");
		return -1;
	}
	if ((uint64_t)o->feeder_asn + (uint64_t)o->n_feeders * o->feeder_asn_step > 4294967295u ||
	    (uint64_t)o->spoke_asn + (uint64_t)o->n_spokes * o->spoke_asn_step > 4294967295u) {
		fprintf(stderr, "routehub-loadgen: ASNs run past 4294967294\n");
		return -1;
	}
	if (phases && scenario) {
		fprintf(stderr, "routehub-loadgen: give --phases or --scenario, not both\n");
		return -1;
	}
	if (scenario) {
		if (parse_scenario(o, scenario) < 0)
			return -1;
	} else if (parse_phase_list(o, phases ? phases : "establish,announce,eor,withdraw") < 0) {
		return -1;
	}
	if (o->phases[0].kind != LG_PH_ESTABLISH) {
		fprintf(stderr, "routehub-loadgen: the first phase must be 'establish'\n");
		return -1;
	}
	for (size_t i = 0; i < o->n_phases; i++) {
		uint8_t *tmp;
		uint32_t n = o->phases[i].kind == LG_PH_REFRESH ? o->n_spokes : o->n_feeders;
		if (!o->phases[i].sel)
			continue;
		tmp = malloc(n ? n : 1);
		if (!tmp || lg_sel_parse(o->phases[i].sel, n, tmp) < 0) {
			free(tmp);
			return -1;
		}
		free(tmp);
	}
	return 0;
}

void
lg_opts_fini(struct lg_opts *o)
{
	for (size_t i = 0; i < o->n_phases; i++)
		free(o->phases[i].sel);
	free(o->phases);
	o->phases = NULL;
}
