/*
 * fuzz_mrt.c — libFuzzer target for the MRT record parsers (engine/mrt.c):
 * the in-memory reader frames the input into records, each body goes to its
 * parser, entries are iterated and RIB attribute lists rewritten; the input is
 * also parsed whole as a body of every type/subtype. BGP messages found in
 * BGP4MP records go through the codec as routehubctl decode would. No files.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "routehub/bgp.h"
#include "routehub/mrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t expbuf[BGP_MAX_EXT_MSG + 64];

static void
body(uint16_t type, uint16_t subtype, const uint8_t *p, size_t len)
{
	struct mrt_err e;

	switch (type) {
	case MRT_TYPE_BGP4MP:
	case MRT_TYPE_BGP4MP_ET: {
		struct mrt_bgp4mp m;
		struct bgp_update u;
		struct bgp_sess s;

		if (mrt_bgp4mp_parse(subtype, p, len, &m, &e) == -1 || m.state)
			return;
		bgp_sess_init(&s);
		s.as4 = m.as4;
		s.ext_msg = true;
		s.af[BGP_AF_IPV6] = 1;
		s.addpath_rx[BGP_AF_IPV4] = s.addpath_rx[BGP_AF_IPV6] = m.addpath;
		if (m.msg_len <= BGP_MAX_EXT_MSG && m.msg[18] == BGP_MSG_UPDATE)
			bgp_update_decode(m.msg, m.msg_len, &s, &u);
		return;
	}
	case MRT_TYPE_TABLE_DUMP: {
		struct mrt_td t;
		size_t n;
		bool had;

		if (mrt_td_parse(subtype, p, len, &t, &e) == 0)
			mrt_attrs_expand(t.attrs, t.attrs_len, 1, 1, NULL, 0, expbuf, sizeof(expbuf),
			                 &n, &had);
		return;
	}
	case MRT_TYPE_TABLE_DUMP_V2:
		if (subtype == MRT_TD2_PEER_INDEX_TABLE) {
			struct mrt_peer_index pi;
			struct mrt_peer peer;
			size_t pos = 0;

			if (mrt_peer_index_parse(p, len, &pi, &e) == 0) {
				for (unsigned k = 0; k < pi.count; k++) {
					if (mrt_peer_index_next(&pi, &pos, &peer) != 1)
						__builtin_trap(); /* validated: must not fail */
				}
				if (mrt_peer_index_next(&pi, &pos, &peer) != 0)
					__builtin_trap();
			}
		} else {
			struct mrt_rib r;
			struct mrt_rib_entry re;
			size_t pos = 0, n;
			bool had;

			if (mrt_rib_parse(subtype, p, len, &r, &e) != 0)
				return;
			for (unsigned k = 0; k < r.count; k++) {
				if (mrt_rib_entry_next(&r, &pos, &re) != 1)
					__builtin_trap();
				mrt_attrs_expand(re.attrs, re.attrs_len, r.afi, r.safi, p, len > 17 ? 17 : len,
				                 expbuf, sizeof(expbuf), &n, &had);
			}
			if (mrt_rib_entry_next(&r, &pos, &re) != 0)
				__builtin_trap();
		}
		return;
	default:
		return;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { MRT_TYPE_TABLE_DUMP, MRT_TYPE_TABLE_DUMP_V2,
		                          MRT_TYPE_BGP4MP };
	struct mrt_reader *r;
	struct mrt_record rec;
	struct mrt_hdr h;
	struct mrt_err e;

	/* As a file: records, then their bodies. */
	r = mrt_reader_mem(data, size);
	if (r != NULL) {
		for (int guard = 0; guard < 100000; guard++) {
			int rc = mrt_reader_next(r, &rec);

			if (rc == 0)
				break;
			if (rc == 1) {
				if (rec.body + rec.body_len > data + size)
					__builtin_trap();
				body(rec.hdr.type, rec.hdr.subtype, rec.body, rec.body_len);
			}
		}
		mrt_reader_free(r);
	}
	/* As one body of each kind. */
	mrt_hdr_parse(data, size, &h, &e);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (uint16_t st = 0; st <= 12; st++)
			body(types[t], st, data, size);
	return 0;
}
