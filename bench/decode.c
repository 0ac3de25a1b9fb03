/*
 * bench/decode.c — routehub-decode: codec throughput on a real capture.
 *
 * Loads the BGP messages of an MRT BGP4MP/BGP4MP_ET file into memory, then
 * times, on one core, (1) decode + validate every UPDATE and walk every
 * prefix, (2) the same plus canonical attribute encoding and hashing (the
 * interning key), (3) re-encoding from the canonical form.
 *
 *   routehub-decode [-n ITER] FILE.gz
 *
 * Reports UPDATEs/s, prefixes/s and ns per prefix for each stage. Not a test:
 * numbers go to docs/benchmarks.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "routehub/bgp.h"

struct msg {
	uint32_t off;
	uint16_t len;
	uint8_t as4, addpath;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t *
load(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 24, n = 0;
	uint8_t *buf;
	int r;

	if (!f) {
		fprintf(stderr, "routehub-decode: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf = malloc(cap);
	while ((r = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	gzclose(f);
	*len = n;
	return buf;
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
main(int argc, char **argv)
{
	struct msg *msgs;
	size_t len, pos = 0, nmsg = 0, capm = 1 << 17;
	uint8_t *buf, *canon, out[BGP_MAX_EXT_MSG];
	int iter = 5, c;
	unsigned long long nupd = 0, npfx = 0;
	double t0, t_dec = 1e9, t_canon = 1e9, t_enc = 1e9;
	uint64_t sink = 0;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c == 'n')
			iter = atoi(optarg);
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	buf = load(argv[optind], &len);
	msgs = malloc(capm * sizeof(*msgs));
	canon = malloc(BGP_CANON_MAX);

	/* RFC 6396 §4.4: BGP4MP(_ET) MESSAGE records. */
	while (pos + 12 <= len) {
		uint16_t type = (uint16_t)(buf[pos + 4] << 8 | buf[pos + 5]);
		uint16_t sub = (uint16_t)(buf[pos + 6] << 8 | buf[pos + 7]);
		uint32_t rlen = rd32(buf + pos + 8);
		size_t b = pos + 12, e = b + rlen, asw, ipw;
		int as4, addpath;

		if (e > len)
			break;
		if (type == 17)
			b += 4;
		pos = e;
		if (type != 16 && type != 17)
			continue;
		switch (sub) {
		case 1: case 6: as4 = 0; addpath = 0; break;
		case 4: case 7: as4 = 1; addpath = 0; break;
		case 8: case 10: as4 = 0; addpath = 1; break;
		case 9: case 11: as4 = 1; addpath = 1; break;
		default: continue;
		}
		asw = as4 ? 4 : 2;
		if (e - b < 2 * asw + 4)
			continue;
		ipw = (buf[b + 2 * asw + 2] << 8 | buf[b + 2 * asw + 3]) == 2 ? 16 : 4;
		b += 2 * asw + 4 + 2 * ipw;
		if (e - b < BGP_HDR_LEN || buf[b + 18] != BGP_MSG_UPDATE)
			continue;
		if (nmsg == capm) {
			capm *= 2;
			msgs = realloc(msgs, capm * sizeof(*msgs));
		}
		msgs[nmsg].off = (uint32_t)b;
		msgs[nmsg].len = (uint16_t)(e - b);
		msgs[nmsg].as4 = (uint8_t)as4;
		msgs[nmsg].addpath = (uint8_t)addpath;
		nmsg++;
	}

	for (int it = 0; it < iter; it++) {
		struct bgp_sess s;
		struct bgp_update u;
		struct bgp_prefix p;
		double t;

		bgp_sess_init(&s);
		s.af[BGP_AF_IPV6] = 1;
		s.ibgp = 1;
		nupd = npfx = 0;
		/* Stage 1: decode + validate + walk prefixes. */
		t0 = now();
		for (size_t i = 0; i < nmsg; i++) {
			size_t ppos;
			s.as4 = msgs[i].as4;
			s.addpath_rx[0] = s.addpath_rx[1] = msgs[i].addpath;
			if (bgp_update_decode(buf + msgs[i].off, msgs[i].len, &s, &u) < 0)
				continue;
			nupd++;
			ppos = 0;
			while (bgp_nlri_next(&u.nlri, &ppos, &p))
				sink += p.addr[0], npfx++;
			ppos = 0;
			while (bgp_nlri_next(&u.withdrawn, &ppos, &p))
				sink += p.addr[0], npfx++;
			ppos = 0;
			while (bgp_nlri_next(&u.mp_reach, &ppos, &p))
				sink += p.addr[0], npfx++;
			ppos = 0;
			while (bgp_nlri_next(&u.mp_unreach, &ppos, &p))
				sink += p.addr[0], npfx++;
		}
		t = now() - t0;
		if (t < t_dec)
			t_dec = t;

		/* Stage 2: + canonical attributes and hash. */
		t0 = now();
		for (size_t i = 0; i < nmsg; i++) {
			size_t cl;
			s.as4 = msgs[i].as4;
			s.addpath_rx[0] = s.addpath_rx[1] = msgs[i].addpath;
			if (bgp_update_decode(buf + msgs[i].off, msgs[i].len, &s, &u) < 0)
				continue;
			if (u.action <= BGP_ACT_DISCARD && (u.nlri.count || u.mp_reach.count) &&
			    bgp_attrs_canon(&u, canon, BGP_CANON_MAX, &cl) == 0)
				sink += bgp_attrs_hash(canon, cl);
		}
		t = now() - t0;
		if (t < t_canon)
			t_canon = t;

		/* Stage 3: encode from canonical (prefixes gathered per message). */
		{
			static struct bgp_prefix v4[8192], v4w[8192];
			double te = 0;
			for (size_t i = 0; i < nmsg; i++) {
				struct bgp_update_spec sp;
				size_t cl, ol, ppos, n = 0, nw = 0;
				s.as4 = msgs[i].as4;
				s.addpath_rx[0] = s.addpath_rx[1] = msgs[i].addpath;
				s.addpath_tx[0] = s.addpath_tx[1] = msgs[i].addpath;
				if (bgp_update_decode(buf + msgs[i].off, msgs[i].len, &s, &u) < 0 ||
				    u.action > BGP_ACT_DISCARD || u.mp_reach.count || u.mp_unreach.count)
					continue;
				ppos = 0;
				while (n < 8192 && bgp_nlri_next(&u.nlri, &ppos, &v4[n]))
					n++;
				ppos = 0;
				while (nw < 8192 && bgp_nlri_next(&u.withdrawn, &ppos, &v4w[nw]))
					nw++;
				if (bgp_attrs_canon(&u, canon, BGP_CANON_MAX, &cl) < 0)
					continue;
				memset(&sp, 0, sizeof(sp));
				sp.withdrawn = v4w;
				sp.n_withdrawn = nw;
				sp.nlri = v4;
				sp.n_nlri = n;
				sp.mp_unreach_af = -1;
				sp.attrs = n ? canon : NULL;
				sp.attrs_len = n ? cl : 0;
				t0 = now();
				if (bgp_update_encode(&sp, &s, out, sizeof(out), &ol) == 0)
					sink += out[ol - 1];
				te += now() - t0;
			}
			if (te < t_enc)
				t_enc = te;
		}
	}

	printf("file: %s\n", argv[optind]);
	printf("updates: %llu  prefixes (announced+withdrawn): %llu  best of %d runs\n", nupd,
	       npfx, iter);
	printf("%-34s %10.3f ms  %12.0f updates/s  %12.0f prefixes/s  %6.1f ns/prefix\n",
	       "decode+validate+walk", t_dec * 1e3, nupd / t_dec, npfx / t_dec, t_dec * 1e9 / npfx);
	printf("%-34s %10.3f ms  %12.0f updates/s  %12.0f prefixes/s  %6.1f ns/prefix\n",
	       "decode+canonical attrs+hash", t_canon * 1e3, nupd / t_canon, npfx / t_canon,
	       t_canon * 1e9 / npfx);
	printf("%-34s %10.3f ms  %12.0f updates/s\n", "encode from canonical", t_enc * 1e3,
	       nupd / t_enc);
	fprintf(stderr, "(sink %llu)\n", (unsigned long long)sink);
	free(buf);
	free(msgs);
	free(canon);
	return 0;
usage:
	fprintf(stderr, "usage: routehub-decode [-n ITER] FILE\n");
	return 2;
}
