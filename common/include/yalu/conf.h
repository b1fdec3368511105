/*
 * conf.h - one table drives the parsing of every daemon's YAML config.
 *
 * A daemon describes its config as an array of yl_confkey (terminated by a
 * {NULL} entry): each key's name, kind, where it lives in the daemon's
 * config struct, and its default. yl_conf_load() checks the file strictly:
 * an unknown key, a wrong type or an out-of-range value is an error with
 * file:line:col, and every error is reported before the file is rejected.
 */
#ifndef YALU_CONF_H
#define YALU_CONF_H

#include <stddef.h>

#include "yalu/yaml.h"

enum yl_conf_kind {
	YL_CONF_STR,		/* char *, strdup'ed */
	YL_CONF_INT,		/* long long, within [min, max] */
	YL_CONF_BOOL,		/* int, true/false */
	YL_CONF_STRLIST,	/* struct yl_strlist */
	YL_CONF_KV,		/* struct yl_kv: map passed through verbatim */
	YL_CONF_SECTION		/* nested map: keys in .sub, relative to
				   base + off (0 for a flat struct) */
};

struct yl_strlist {
	char	**v;
	size_t	  n;
};

struct yl_kv {
	char	**key;
	char	**val;
	size_t	  n;
};

struct yl_confkey {
	const char		*name;
	enum yl_conf_kind	 kind;
	size_t			 off;	/* offsetof() into the config struct */
	const char		*sdef;	/* default for STR (NULL: none) */
	long long		 idef;	/* default for INT and BOOL */
	long long		 min, max;
	const struct yl_confkey	*sub;	/* for SECTION */
	const char		*help;	/* one line, for docs and errors */
};

/* Sets every default of spec in base (base must be zeroed first). */
int	yl_conf_defaults(const struct yl_confkey *spec, void *base);
/*
 * Reads path into base over the defaults. Returns 0, or -1 with every
 * problem added to errs as "path:line:col: problem".
 */
int	yl_conf_load(const char *path, const struct yl_confkey *spec,
	    void *base, struct yl_errs *errs);
/* Applies an already parsed node (a map) to base. */
int	yl_conf_apply(const struct yl_ydoc *doc, const struct yl_ynode *map,
	    const struct yl_confkey *spec, void *base, struct yl_errs *errs);
/* Frees every string, list and map that spec owns in base. */
void	yl_conf_release(const struct yl_confkey *spec, void *base);

void	yl_strlist_clear(struct yl_strlist *);
int	yl_strlist_add(struct yl_strlist *, const char *);
void	yl_kv_clear(struct yl_kv *);
int	yl_kv_set(struct yl_kv *, const char *key, const char *val);

/* Parses a scalar as a boolean (true/false/yes/no/on/off). 0 or -1. */
int	yl_parse_bool(const char *s, int *out);

#endif
