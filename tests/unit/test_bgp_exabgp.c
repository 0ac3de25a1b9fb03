/*
 * test_bgp_exabgp.c — decode the ExaBGP QA cases (tests/data/exabgp-decoding/,
 * BSD-3-Clause, from Exa-Networks/exabgp qa/decoding) and compare with
 * ExaBGP's own JSON decoding, an independent decoder.
 *
 * Each case file: a family line ("update ipv4 unicast", "open", ...), the
 * message in hex (with or without the 19-octet header, with any separators),
 * and ExaBGP's JSON. Unicast IPv4/IPv6 cases are compared field by field
 * (origin, MED, LOCAL_PREF, AS path, communities, atomic aggregate,
 * aggregator, next hop, prefixes); OPEN cases field by field (version, AS,
 * hold time, router id, capabilities). Other families (flow, EVPN, BGP-LS,
 * SR policy, VPNv4) are ones routehub does not route: bgp_af_from_afi says -1
 * for them, and the UPDATE must decode without a session reset and without a
 * routed prefix (bgp.h: the family is ignored, MP runs count 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>

#include "bgp_testutil.h"

static int nfail;
static unsigned n_unicast, n_open, n_other, n_skipped;

#define FAILF(...)                                                               \
	do {                                                                     \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                           \
		fputc('\n', stderr);                                             \
		nfail++;                                                         \
	} while (0)

static struct tu_buf msg;

struct xcase {
	char name[128];
	char family[128];
	char *hex;
	json_t *json;
};

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Split a case file into its three lines. */
static int
case_load(const char *dir, const char *name, struct xcase *c)
{
	char path[1024];
	char *text, *l1, *l2, *l3, *save = NULL;
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = slurp(path);
	if (text == NULL)
		return -1;
	l1 = strtok_r(text, "\n", &save);
	l2 = strtok_r(NULL, "\n", &save);
	l3 = strtok_r(NULL, "\n", &save);
	if (l1 == NULL || l2 == NULL || l3 == NULL) {
		free(text);
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->family, sizeof(c->family), "%s", l1);
	c->hex = strdup(l2);
	/* Extended communities as 64-bit values exceed jansson's int64: read
	 * numbers as doubles (exact below 2^53, all the fields compared here). */
	c->json = json_loads(l3, JSON_DECODE_INT_AS_REAL, &jerr);
	free(text);
	if (c->json == NULL) {
		fprintf(stderr, "%s: JSON: %s\n", name, jerr.text);
		free(c->hex);
		return -1;
	}
	return 0;
}

static void
case_free(struct xcase *c)
{
	free(c->hex);
	json_decref(c->json);
}

/* The message as bytes, with a header prepended when the case omits it. */
static void
case_message(const struct xcase *c, uint8_t type)
{
	static uint8_t raw[70000];
	size_t n = tu_hex(c->hex, raw, sizeof(raw));
	bool has_marker = n >= BGP_HDR_LEN;

	for (size_t i = 0; has_marker && i < BGP_MARKER_LEN; i++)
		has_marker = raw[i] == 0xff;
	if (has_marker) {
		memcpy(msg.b, raw, n);
		msg.len = n;
		return;
	}
	tu_msg_begin(&msg, type);
	tu_putn(&msg, raw, n);
	tu_msg_end(&msg);
}

static long long
jint(const json_t *j)
{
	return (long long)json_number_value(j);
}

static json_t *
jpath(json_t *j, const char *const *keys)
{
	for (; *keys && j; keys++)
		j = json_object_get(j, *keys);
	return j;
}

/* ---- family names as ExaBGP prints them ("ipv4 unicast") ---------------------- */
struct fam {
	const char *name;
	uint16_t afi;
	uint8_t safi;
};
static const struct fam fams[] = {
	{ "ipv4 unicast", 1, 1 },       { "ipv6 unicast", 2, 1 },
	{ "ipv4 flow", 1, 133 },        { "ipv6 flow", 2, 133 },
	{ "l2vpn evpn", 25, 70 },       { "bgp-ls bgp-ls", 16388, 71 },
	{ "ipv4 sr-policy", 1, 73 },    { "ipv6 sr-policy", 2, 73 },
	{ "ipv4 mpls-vpn", 1, 128 },    { "ipv6 mpls-vpn", 2, 128 },
};

static const struct fam *
fam_find(const char *name)
{
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		if (strcmp(fams[i].name, name) == 0)
			return &fams[i];
	return NULL;
}

/* ---- attribute comparisons -------------------------------------------------------- */
static const char *const origin_names[] = { "igp", "egp", "incomplete" };

/* Flatten an AS_PATH span (as on the wire, width as4) to "seg:asn,asn|..." */
static void
aspath_flat(const uint8_t *p, size_t len, bool as4, char *out, size_t cap)
{
	size_t i = 0, n = 0, w = as4 ? 4 : 2;

	out[0] = '\0';
	while (i + 2 <= len && n < cap) {
		unsigned type = p[i], cnt = p[i + 1];
		i += 2;
		n += (size_t)snprintf(out + n, cap - n, "%s%u:", n ? "|" : "", type);
		for (unsigned k = 0; k < cnt && i + w <= len && n < cap; k++, i += w) {
			uint32_t as = as4 ? (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
			                            (uint32_t)p[i + 2] << 8 | p[i + 3]
			                  : (uint32_t)(p[i] << 8 | p[i + 1]);
			n += (size_t)snprintf(out + n, cap - n, "%s%u", k ? "," : "", as);
		}
	}
}

/* ExaBGP: "as-path": {"0": {"element": "as-sequence", "value": [..]}, ...} */
static void
aspath_flat_json(json_t *ap, char *out, size_t cap)
{
	static const struct {
		const char *name;
		unsigned type;
	} seg[] = { { "as-set", 1 }, { "as-sequence", 2 }, { "confederation-sequence", 3 },
		    { "confederation-set", 4 } };
	size_t n = 0;
	char key[16];

	out[0] = '\0';
	for (unsigned i = 0;; i++) {
		snprintf(key, sizeof(key), "%u", i);
		json_t *s = json_object_get(ap, key), *v;
		size_t k;
		if (s == NULL)
			break;
		const char *el = json_string_value(json_object_get(s, "element"));
		unsigned type = 0;
		for (size_t t = 0; el && t < sizeof(seg) / sizeof(seg[0]); t++)
			if (strcmp(el, seg[t].name) == 0)
				type = seg[t].type;
		n += (size_t)snprintf(out + n, cap - n, "%s%u:", n ? "|" : "", type);
		json_array_foreach(json_object_get(s, "value"), k, v)
			n += (size_t)snprintf(out + n, cap - n, "%s%lld", k ? "," : "",
			                      jint(v));
	}
}

static void
check_unicast_attrs(const struct xcase *c, const struct bgp_update *u, json_t *attr)
{
	const struct bgp_attrs *a = &u->attrs;
	json_t *j;

	/* ORIGIN */
	j = json_object_get(attr, "origin");
	if (j) {
		if (!(a->mask & (1ull << BGP_ATTR_ORIGIN)) || a->origin > 2 ||
		    strcmp(origin_names[a->origin], json_string_value(j)) != 0)
			FAILF("%s: origin differs from %s", c->name, json_string_value(j));
	} else if (a->mask & (1ull << BGP_ATTR_ORIGIN)) {
		FAILF("%s: origin decoded but not in ExaBGP's", c->name);
	}
	/* MED */
	j = json_object_get(attr, "med");
	if (j) {
		if (!(a->mask & (1ull << BGP_ATTR_MED)) || a->med != jint(j))
			FAILF("%s: med %u, want %lld", c->name, a->med, jint(j));
	} else if (a->mask & (1ull << BGP_ATTR_MED)) {
		FAILF("%s: MED decoded but not in ExaBGP's", c->name);
	}
	/* LOCAL_PREF */
	j = json_object_get(attr, "local-preference");
	if (j) {
		if (!(a->mask & (1ull << BGP_ATTR_LOCAL_PREF)) || a->local_pref != jint(j))
			FAILF("%s: local-pref %u, want %lld", c->name, a->local_pref,
			      jint(j));
	} else if (a->mask & (1ull << BGP_ATTR_LOCAL_PREF)) {
		FAILF("%s: LOCAL_PREF decoded but not in ExaBGP's", c->name);
	}
	/* AS_PATH: ExaBGP omits an empty one */
	char ours[512], theirs[512];
	aspath_flat(a->aspath.p, a->aspath.len, a->aspath_as4, ours, sizeof(ours));
	j = json_object_get(attr, "as-path");
	if (j)
		aspath_flat_json(j, theirs, sizeof(theirs));
	else
		theirs[0] = '\0';
	if (strcmp(ours, theirs) != 0)
		FAILF("%s: as-path \"%s\", ExaBGP \"%s\"", c->name, ours, theirs);
	/* ATOMIC_AGGREGATE */
	bool atomic = json_is_true(json_object_get(attr, "atomic-aggregate"));
	if (atomic != !!(a->mask & (1ull << BGP_ATTR_ATOMIC_AGGREGATE)))
		FAILF("%s: atomic-aggregate differs", c->name);
	/* AGGREGATOR "AS:a.b.c.d" */
	j = json_object_get(attr, "aggregator");
	if (j) {
		char want[64], got[64];
		uint32_t id = ntohl(a->aggregator_id);
		snprintf(want, sizeof(want), "%s", json_string_value(j));
		snprintf(got, sizeof(got), "%u:%u.%u.%u.%u", a->aggregator_as, id >> 24,
		         id >> 16 & 0xff, id >> 8 & 0xff, id & 0xff);
		if (!(a->mask & (1ull << BGP_ATTR_AGGREGATOR)) || strcmp(want, got) != 0)
			FAILF("%s: aggregator %s, want %s", c->name, got, want);
	} else if (a->mask & (1ull << BGP_ATTR_AGGREGATOR)) {
		FAILF("%s: AGGREGATOR decoded but not in ExaBGP's", c->name);
	}
	/* COMMUNITIES: [[asn, value], ...] */
	j = json_object_get(attr, "community");
	size_t ncomm = j ? json_array_size(j) : 0;
	if (a->communities.len != 4 * ncomm) {
		FAILF("%s: %u octets of communities, want %zu", c->name, a->communities.len, 4 * ncomm);
	} else {
		for (size_t i = 0; i < ncomm; i++) {
			json_t *pair = json_array_get(j, i);
			const uint8_t *p = a->communities.p + 4 * i;
			if ((p[0] << 8 | p[1]) != jint(json_array_get(pair, 0)) ||
			    (p[2] << 8 | p[3]) != jint(json_array_get(pair, 1)))
				FAILF("%s: community %zu differs", c->name, i);
		}
	}
}

static void
prefix_list(const struct bgp_nlri *n, char *out, size_t cap)
{
	struct bgp_prefix p;
	size_t pos = 0, k = 0;
	char s[64];

	out[0] = '\0';
	while (bgp_nlri_next(n, &pos, &p) == 1 && k < cap) {
		tu_prefix_str(&p, s, sizeof(s));
		k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? " " : "", s);
	}
}

static void
check_unicast(const struct xcase *c)
{
	static const char *const upd[] = { "neighbor", "message", "update", NULL };
	static const char *const asn[] = { "neighbor", "asn", NULL };
	json_t *ju = jpath(c->json, upd), *ja = jpath(c->json, asn);
	struct bgp_sess s;
	struct bgp_update u;
	char ours[4096], theirs[4096];

	/* ExaBGP sessions negotiate 4-octet AS; iBGP when the two ASNs match. */
	bool ibgp = jint(json_object_get(ja, "local")) ==
	            jint(json_object_get(ja, "peer"));
	tu_sess(&s, true, ibgp);
	case_message(c, BGP_MSG_UPDATE);
	memset(&u, 0, sizeof(u));
	if (bgp_update_decode(msg.b, msg.len, &s, &u) != 0 || u.action != BGP_ACT_OK) {
		FAILF("%s: action %s (%s)", c->name, bgp_action_name(u.action),
		      u.err.reason ? u.err.reason : "");
		return;
	}
	check_unicast_attrs(c, &u, json_object_get(ju, "attribute"));

	/* announce: {"ipv4 unicast": {"nexthop": [{"nlri": "p/l"}, ...]}} */
	json_t *ann = json_object_get(json_object_get(ju, "announce"), "ipv4 unicast");
	size_t k = 0;
	theirs[0] = '\0';
	if (ann) {
		const char *nh;
		json_t *list, *e;
		size_t i;
		json_object_foreach(ann, nh, list) {
			char got[32];
			uint32_t h = ntohl(u.attrs.nexthop);
			snprintf(got, sizeof(got), "%u.%u.%u.%u", h >> 24, h >> 16 & 0xff, h >> 8 & 0xff,
			         h & 0xff);
			if (strcmp(got, nh) != 0)
				FAILF("%s: next hop %s, want %s", c->name, got, nh);
			json_array_foreach(list, i, e)
				k += (size_t)snprintf(theirs + k, sizeof(theirs) - k, "%s%s", k ? " " : "",
				                      json_string_value(json_object_get(e, "nlri")));
		}
	}
	prefix_list(&u.nlri, ours, sizeof(ours));
	if (strcmp(ours, theirs) != 0)
		FAILF("%s: NLRI \"%s\", ExaBGP \"%s\"", c->name, ours, theirs);

	json_t *wd = json_object_get(json_object_get(ju, "withdraw"), "ipv4 unicast"), *e;
	size_t i;
	k = 0;
	theirs[0] = '\0';
	json_array_foreach(wd, i, e)
		k += (size_t)snprintf(theirs + k, sizeof(theirs) - k, "%s%s", k ? " " : "",
		                      json_string_value(json_object_get(e, "nlri")));
	prefix_list(&u.withdrawn, ours, sizeof(ours));
	if (strcmp(ours, theirs) != 0)
		FAILF("%s: withdrawn \"%s\", ExaBGP \"%s\"", c->name, ours, theirs);
	n_unicast++;
}

/* Families of a case: from the announce/withdraw keys of the JSON. */
static void
check_other(const struct xcase *c)
{
	static const char *const upd[] = { "neighbor", "message", "update", NULL };
	json_t *ju = jpath(c->json, upd);
	static const char *const parts[] = { "announce", "withdraw" };
	struct bgp_sess s;
	struct bgp_update u;
	unsigned nfam = 0;

	for (size_t i = 0; i < 2; i++) {
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(ju, parts[i]), name, v) {
			const struct fam *f = fam_find(name);
			(void)v;
			if (f == NULL) {
				FAILF("%s: family \"%s\" not in the test's table", c->name, name);
				continue;
			}
			if (bgp_af_from_afi(f->afi, f->safi) != -1)
				FAILF("%s: bgp_af_from_afi(%u, %u) claims %s is routed", c->name, f->afi,
				      f->safi, name);
			nfam++;
		}
	}
	if (nfam == 0)
		FAILF("%s: no family found in the JSON", c->name);

	tu_sess(&s, true, true);
	case_message(c, BGP_MSG_UPDATE);
	memset(&u, 0, sizeof(u));
	int rc = bgp_update_decode(msg.b, msg.len, &s, &u);
	if (rc != 0 || (u.action != BGP_ACT_OK && u.action != BGP_ACT_DISCARD)) {
		FAILF("%s: rc %d action %s (%s)", c->name, rc, bgp_action_name(u.action),
		      u.err.reason ? u.err.reason : "");
		return;
	}
	if (bgp_update_nprefixes(&u) != 0)
		FAILF("%s: %u routed prefixes from a family we do not route", c->name,
		      bgp_update_nprefixes(&u));
	if (u.attrs.mask & (1ull << BGP_ATTR_MP_REACH_NLRI | 1ull << BGP_ATTR_MP_UNREACH_NLRI))
		FAILF("%s: MP attribute of a family we do not route kept", c->name);
	/* The attributes we do know are still decoded. */
	json_t *attr = json_object_get(ju, "attribute");
	json_t *lp = json_object_get(attr, "local-preference");
	if (lp && u.attrs.local_pref != jint(lp))
		FAILF("%s: local-pref %u, want %lld", c->name, u.attrs.local_pref,
		      jint(lp));
	json_t *org = json_object_get(attr, "origin");
	if (org && (u.attrs.origin > 2 || strcmp(origin_names[u.attrs.origin], json_string_value(org))))
		FAILF("%s: origin differs", c->name);
	n_other++;
}

/* ---- OPEN ---------------------------------------------------------------------------- */
static const struct {
	unsigned code;
	uint32_t flag;
} capmap[] = {
	{ BGP_CAP_MP, BGP_CAPF_MP },         { BGP_CAP_RREFRESH, BGP_CAPF_RREFRESH },
	{ BGP_CAP_EXTMSG, BGP_CAPF_EXTMSG }, { BGP_CAP_GR, BGP_CAPF_GR },
	{ BGP_CAP_AS4, BGP_CAPF_AS4 },       { BGP_CAP_ADDPATH, BGP_CAPF_ADDPATH },
	{ BGP_CAP_ERR, BGP_CAPF_ERR },       { BGP_CAP_FQDN, BGP_CAPF_FQDN },
	{ BGP_CAP_RREFRESH_OLD, BGP_CAPF_RREFRESH_OLD },
};

static void
check_open(const struct xcase *c)
{
	static const char *const op[] = { "neighbor", "open", NULL };
	json_t *jo = jpath(c->json, op);
	struct bgp_open o;
	struct bgp_error err;

	case_message(c, BGP_MSG_OPEN);
	memset(&o, 0, sizeof(o));
	if (bgp_open_decode(msg.b, msg.len, &o, &err) != 0) {
		FAILF("%s: rejected %u/%u (%s)", c->name, err.code, err.subcode, err.reason);
		return;
	}
	if (o.version != jint(json_object_get(jo, "version")))
		FAILF("%s: version %u", c->name, o.version);
	if (o.asn != jint(json_object_get(jo, "asn")))
		FAILF("%s: asn %u", c->name, o.asn);
	if (o.hold_time != jint(json_object_get(jo, "hold_time")))
		FAILF("%s: hold time %u", c->name, o.hold_time);
	char id[32];
	snprintf(id, sizeof(id), "%u.%u.%u.%u", o.bgp_id >> 24, o.bgp_id >> 16 & 0xff,
	         o.bgp_id >> 8 & 0xff, o.bgp_id & 0xff);
	if (strcmp(id, json_string_value(json_object_get(jo, "router_id"))) != 0)
		FAILF("%s: router id %s", c->name, id);

	/* Capabilities: each one ExaBGP lists is either a flag we set or an
	 * unknown entry; each flag we set is one ExaBGP lists. */
	json_t *caps = json_object_get(jo, "capabilities"), *v;
	const char *key;
	uint32_t want_flags = 0;
	json_object_foreach(caps, key, v) {
		unsigned code = (unsigned)atoi(key);
		bool known = false;
		for (size_t i = 0; i < sizeof(capmap) / sizeof(capmap[0]); i++)
			if (capmap[i].code == code) {
				want_flags |= capmap[i].flag;
				known = true;
			}
		if (!known) {
			bool found = false;
			for (unsigned i = 0; i < o.n_unknown; i++)
				found |= o.unknown[i].code == code;
			if (!found)
				FAILF("%s: capability %u neither known nor listed unknown", c->name, code);
		}
		if (code == BGP_CAP_AS4 &&
		    o.asn != jint(json_object_get(v, "asn4")))
			FAILF("%s: asn4 %u", c->name, o.asn);
		if (code == BGP_CAP_MP) {
			json_t *f;
			size_t i;
			json_array_foreach(json_object_get(v, "families"), i, f) {
				const char *s = json_string_value(f);
				if (strcmp(s, "ipv4/unicast") == 0 && !o.mp[BGP_AF_IPV4])
					FAILF("%s: MP ipv4/unicast missing", c->name);
				if (strcmp(s, "ipv6/unicast") == 0 && !o.mp[BGP_AF_IPV6])
					FAILF("%s: MP ipv6/unicast missing", c->name);
			}
		}
	}
	if (o.caps != want_flags)
		FAILF("%s: capability flags %#x, want %#x", c->name, o.caps, want_flags);
	n_open++;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
test_exabgp_cases(void **state)
{
	char dir[512];
	char *names[256];
	size_t n = 0;
	DIR *d;
	struct dirent *e;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/exabgp-decoding", tu_data_dir());
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s", dir);
	while ((e = readdir(d)) != NULL && n < 256)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);

	for (size_t i = 0; i < n; i++) {
		struct xcase c;
		if (case_load(dir, names[i], &c) != 0) {
			FAILF("%s: cannot load", names[i]);
			continue;
		}
		if (strncmp(c.family, "open", 4) == 0)
			check_open(&c);
		else if (strcmp(c.family, "update ipv4 unicast") == 0 ||
		         strcmp(c.family, "update ipv6 unicast") == 0)
			check_unicast(&c);
		else if (strncmp(c.family, "update", 6) == 0)
			check_other(&c);
		else
			n_skipped++; /* e.g. "nlri bgp-ls": a bare NLRI, not a message */
		case_free(&c);
		free(names[i]);
	}
	printf("exabgp: %u unicast, %u open, %u other-family updates, %u non-message cases skipped\n",
	       n_unicast, n_open, n_other, n_skipped);
	if (n_unicast < 2 || n_open < 1 || n_other < 10)
		FAILF("fewer cases than the data set holds");
	if (nfail)
		fail_msg("%d failed expectations", nfail);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exabgp_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
