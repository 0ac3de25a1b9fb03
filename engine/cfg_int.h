/*
 * cfg_int.h — private to engine/cfg*.c: the parser context and the helpers
 * the YAML walker (cfg_parse.c), the lifecycle code (cfg.c) and the lookup
 * index (cfg_match.c) share. Main thread only.
 */
#ifndef ROUTEHUB_CFG_INT_H
#define ROUTEHUB_CFG_INT_H

#include <yaml.h>

#include "routehub/cfg.h"

/* Where things were in the file, for the cross-entry checks of cfg_match.c. */
struct cfg_peer_lines {
	int			 name;
	int			 addr;		/* line of address: or range: */
	bool			 addr_ok;	/* addr parsed */
};

struct cfg_space_ref {
	struct cfg_addr		 addr;
	int			 line;
	char			 path[64];	/* "spokes[2].address_spaces[0]" */
};

struct cfg_ctx {
	const char		*name;		/* file name for messages */
	yaml_document_t		 doc;
	struct cfg		*cfg;
	struct cfg_err_list	*errs;
	unsigned int		 nerr;		/* errors added by this parse */
	bool			 oom;
	bool			 local_asn_ok;	/* peer ASN rules may compare */
	struct cfg_peer_lines	*peer_lines;	/* one per cfg->peers */
	struct cfg_space_ref	*spaces;	/* hub and spoke address spaces */
	size_t			 nspaces;
	size_t			 cspaces;
};

/* One entry of the peer lookup index (sorted arrays, binary search). */
struct cfg_ix_ent {
	struct cfg_addr		 key;
	uint32_t		 peer;		/* index into cfg->peers */
};

struct cfg_index {
	struct cfg_ix_ent	*exact;
	size_t			 nexact;
	struct cfg_ix_ent	*ranges;	/* disjoint, sorted by start */
	size_t			 nranges;
	uint32_t		*by_name;	/* peer indices sorted by name */
};

/* cfg.c */
void	cfg_error(struct cfg_ctx *, int line, const char *path, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
int	cfg_addr_cmp(const struct cfg_addr *, const struct cfg_addr *);

/* cfg_parse.c: fills ctx->cfg from ctx->doc; reports through cfg_error. */
void	cfg_walk(struct cfg_ctx *);

/* cfg_match.c */
int	cfg_index_build(struct cfg *);
void	cfg_index_free(struct cfg_index *);
/* Cross-peer rules (duplicates, overlaps); needs the parsed peers. */
void	cfg_check_peers(struct cfg_ctx *);
void	cfg_check_spaces(struct cfg_ctx *);

#endif /* ROUTEHUB_CFG_INT_H */
