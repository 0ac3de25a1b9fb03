/*
 * routehub/mrt.h — reading MRT dumps (RFC 6396, with the ADD-PATH subtypes of
 * RFC 8050): the files route collectors and BGP daemons write.
 *
 * Two layers, both used only by the thread that calls them (routehubctl, tests,
 * benchmarks; nothing in the daemon's hot path):
 *
 *  - pure record parsers over (const uint8_t *, size_t): one per record body
 *    (BGP4MP, TABLE_DUMP, TABLE_DUMP_V2 peer index and RIB records). They never
 *    read past len, never allocate, and describe what they found with pointers
 *    into the caller's buffer. They can be fuzzed without files;
 *  - a file reader (struct mrt_reader) that opens plain, gzip or bzip2 files
 *    (recognised by their magic bytes) and cuts them into records. Malformed
 *    framing is reported with the record number and byte offset; when the
 *    record length is trustworthy the reader continues with the next record.
 */
#ifndef ROUTEHUB_MRT_H
#define ROUTEHUB_MRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "routehub/bgp.h"

/* ---- RFC 6396 §2 common header -------------------------------------------- */
#define MRT_HDR_LEN    12
#define MRT_ET_HDR_LEN 16 /* RFC 6396 §3: + 4-octet Microsecond Timestamp */
/* Largest record body we accept. The Length field is 32 bits; anything this
 * large is a corrupt header, not a RIB record (a full RIB_IPV6_UNICAST record
 * with a thousand peers is well under 1 MiB). */
#define MRT_MAX_RECORD (16u << 20)

enum mrt_type {
	MRT_TYPE_TABLE_DUMP = 12,    /* RFC 6396 §4.2 (deprecated) */
	MRT_TYPE_TABLE_DUMP_V2 = 13, /* RFC 6396 §4.3 */
	MRT_TYPE_BGP4MP = 16,        /* RFC 6396 §4.4 */
	MRT_TYPE_BGP4MP_ET = 17,     /* RFC 6396 §4.5 */
};

/* RFC 6396 §4.4, RFC 8050 §3 */
enum mrt_bgp4mp_subtype {
	MRT_BGP4MP_STATE_CHANGE = 0,
	MRT_BGP4MP_MESSAGE = 1,
	MRT_BGP4MP_MESSAGE_AS4 = 4,
	MRT_BGP4MP_STATE_CHANGE_AS4 = 5,
	MRT_BGP4MP_MESSAGE_LOCAL = 6,
	MRT_BGP4MP_MESSAGE_AS4_LOCAL = 7,
	MRT_BGP4MP_MESSAGE_ADDPATH = 8,
	MRT_BGP4MP_MESSAGE_AS4_ADDPATH = 9,
	MRT_BGP4MP_MESSAGE_LOCAL_ADDPATH = 10,
	MRT_BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH = 11,
};

/* RFC 6396 §4.2: the subtype of TABLE_DUMP is the AFI. */
enum mrt_td_subtype {
	MRT_TD_AFI_IPV4 = 1,
	MRT_TD_AFI_IPV6 = 2,
};

/* RFC 6396 §4.3, RFC 8050 §4 */
enum mrt_td2_subtype {
	MRT_TD2_PEER_INDEX_TABLE = 1,
	MRT_TD2_RIB_IPV4_UNICAST = 2,
	MRT_TD2_RIB_IPV4_MULTICAST = 3,
	MRT_TD2_RIB_IPV6_UNICAST = 4,
	MRT_TD2_RIB_IPV6_MULTICAST = 5,
	MRT_TD2_RIB_GENERIC = 6,
	MRT_TD2_RIB_IPV4_UNICAST_ADDPATH = 8,
	MRT_TD2_RIB_IPV4_MULTICAST_ADDPATH = 9,
	MRT_TD2_RIB_IPV6_UNICAST_ADDPATH = 10,
	MRT_TD2_RIB_IPV6_MULTICAST_ADDPATH = 11,
	MRT_TD2_RIB_GENERIC_ADDPATH = 12,
};

/* Where a parser gave up: a static reason and the offset inside the body. */
struct mrt_err {
	const char *reason;
	size_t off;
};

struct mrt_hdr {
	uint32_t timestamp;
	uint32_t usec;    /* BGP4MP_ET only, else 0 */
	uint16_t type;
	uint16_t subtype;
	uint32_t length;  /* as on the wire (includes usec for _ET) */
	uint32_t body_len; /* bytes after the (extended) header */
	uint8_t hdr_len;  /* MRT_HDR_LEN or MRT_ET_HDR_LEN */
};
/* Parse the common header at buf. len must cover MRT_HDR_LEN (and
 * MRT_ET_HDR_LEN for BGP4MP_ET, which the caller learns from -1 with reason
 * "truncated"). Rejects a length below the extended header's 4 octets and
 * above MRT_MAX_RECORD. */
int mrt_hdr_parse(const uint8_t *buf, size_t len, struct mrt_hdr *h, struct mrt_err *e);

/* An IP address; af is enum bgp_af. */
struct mrt_addr {
	uint8_t af;
	uint8_t addr[16];
};

/* ---- BGP4MP / BGP4MP_ET (RFC 6396 §4.4) ------------------------------------ */
struct mrt_bgp4mp {
	uint32_t peer_as;
	uint32_t local_as;
	uint16_t ifindex;
	uint16_t afi;
	struct mrt_addr peer_ip;
	struct mrt_addr local_ip;
	bool as4;      /* AS numbers (here and in the message) are 4 octets */
	bool addpath;  /* RFC 8050: NLRI carry path identifiers */
	bool local;    /* _LOCAL: a message we sent, not one we received */
	bool state;    /* STATE_CHANGE*: old_state/new_state valid, no message */
	uint16_t old_state;
	uint16_t new_state;
	const uint8_t *msg; /* the BGP message, header included */
	size_t msg_len;
};
/* Parse a BGP4MP body of the given subtype. Returns -1 for subtypes not listed
 * in enum mrt_bgp4mp_subtype (reason "unsupported subtype"). */
int mrt_bgp4mp_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_bgp4mp *m,
                     struct mrt_err *e);

/* ---- TABLE_DUMP (RFC 6396 §4.2) -------------------------------------------- */
struct mrt_td {
	uint16_t view;
	uint16_t seq;
	struct bgp_prefix prefix;
	uint8_t status;
	uint32_t originated;
	struct mrt_addr peer_ip;
	uint16_t peer_as;
	const uint8_t *attrs; /* path attributes, 2-octet AS numbers */
	uint16_t attrs_len;
};
int mrt_td_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_td *t,
                 struct mrt_err *e);

/* ---- TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1) ---------------------- */
#define MRT_PEER_TYPE_IPV6 0x01
#define MRT_PEER_TYPE_AS4  0x02

struct mrt_peer_index {
	uint32_t collector_id; /* network byte order */
	const uint8_t *view_name;
	uint16_t view_name_len;
	uint16_t count;
	const uint8_t *peers; /* the validated peer entries */
	size_t peers_len;
};
struct mrt_peer {
	uint8_t type;
	uint32_t bgp_id; /* network byte order */
	struct mrt_addr ip;
	uint32_t asn;
};
/* Validates every peer entry, so mrt_peer_index_next cannot fail. */
int mrt_peer_index_parse(const uint8_t *buf, size_t len, struct mrt_peer_index *pi,
                         struct mrt_err *e);
/* 1 and *out while entries remain, 0 at the end. *pos starts at 0. */
int mrt_peer_index_next(const struct mrt_peer_index *pi, size_t *pos, struct mrt_peer *out);

/* ---- TABLE_DUMP_V2 RIB_* (RFC 6396 §4.3.2, RFC 8050 §4) --------------------- */
struct mrt_rib {
	uint32_t seq;
	struct bgp_prefix prefix;
	uint16_t afi;
	uint8_t safi;
	bool addpath;
	uint16_t count;
	const uint8_t *entries; /* the validated RIB entries */
	size_t entries_len;
};
struct mrt_rib_entry {
	uint16_t peer_index;
	uint32_t originated;
	uint32_t path_id; /* 0 unless addpath */
	const uint8_t *attrs; /* path attributes, 4-octet AS numbers, MP_REACH abbreviated */
	uint16_t attrs_len;
};
/* AFI/SAFI-specific RIB subtypes only; RIB_GENERIC(_ADDPATH) returns -1 with
 * reason "RIB_GENERIC not supported" (callers may skip such records). */
int mrt_rib_parse(uint16_t subtype, const uint8_t *buf, size_t len, struct mrt_rib *r,
                  struct mrt_err *e);
int mrt_rib_entry_next(const struct mrt_rib *r, size_t *pos, struct mrt_rib_entry *out);

/* True for the TABLE_DUMP_V2 subtypes mrt_rib_parse knows. */
bool mrt_td2_is_rib(uint16_t subtype);

/* Rewrite a RIB entry's attribute list into RFC 4760 form: an MP_REACH_NLRI in
 * the abbreviated RFC 6396 §4.3.4 form (next hop length + next hop) becomes a
 * full one with afi/safi and the NLRI given in nlri/nlri_len (may be empty);
 * an MP_REACH_NLRI already in full form is copied unchanged. Every other
 * attribute is copied. Writes at most len + 5 + nlri_len bytes into out.
 * Returns 0 and *out_len, or -1 if the list is malformed or out is too small.
 * *had_mp tells whether an MP_REACH_NLRI was present. */
int mrt_attrs_expand(const uint8_t *attrs, size_t len, uint16_t afi, uint8_t safi,
                     const uint8_t *nlri, size_t nlri_len, uint8_t *out, size_t cap,
                     size_t *out_len, bool *had_mp);

/* ---- the file reader ---------------------------------------------------------- */
enum mrt_compress {
	MRT_COMPRESS_NONE = 0,
	MRT_COMPRESS_GZIP,
	MRT_COMPRESS_BZIP2,
};

struct mrt_reader; /* opaque */

/* A record handed out by mrt_reader_next: valid until the next call. */
struct mrt_record {
	struct mrt_hdr hdr;
	const uint8_t *body;
	size_t body_len;
	uint64_t index;  /* 1-based record number in the file */
	uint64_t offset; /* byte offset of the record header (uncompressed) */
};

/* Detect the compression from the first bytes of a file. */
enum mrt_compress mrt_detect_compress(const uint8_t *buf, size_t len);

/* Open path for reading (gzip/bzip2/plain by magic). Returns NULL with errno set
 * and a message in err (errlen bytes) on failure. */
struct mrt_reader *mrt_reader_open(const char *path, char *err, size_t errlen);
/* Read records from memory instead of a file (buf must outlive the reader). */
struct mrt_reader *mrt_reader_mem(const uint8_t *buf, size_t len);
void mrt_reader_free(struct mrt_reader *r);

/* Next record: returns 1 and *rec, 0 at a clean end of file, -1 on a framing
 * error described by mrt_reader_error() ("record N at offset X: reason").
 * The reader only fails where the record length cannot be trusted (truncated
 * file, impossible length, I/O or decompression error); after -1 further calls
 * return 0. A record whose body is malformed is still handed out whole: the
 * caller's body parser reports it and the next call continues after it. */
int mrt_reader_next(struct mrt_reader *r, struct mrt_record *rec);
const char *mrt_reader_error(const struct mrt_reader *r);
/* Uncompressed bytes consumed so far. */
uint64_t mrt_reader_offset(const struct mrt_reader *r);

/* Names for output. */
const char *mrt_type_name(uint16_t type);
const char *mrt_subtype_name(uint16_t type, uint16_t subtype);

#endif /* ROUTEHUB_MRT_H */
