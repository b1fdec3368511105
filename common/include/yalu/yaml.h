/*
 * yaml.h - YAML documents as a small tree that remembers where each node
 * stood, so that every consumer can report "file:line:col: problem".
 *
 * Aliases and anchors are refused: configs and taxonomies are meant to be
 * read by people, and an alias would make an error's position ambiguous.
 */
#ifndef YALU_YAML_H
#define YALU_YAML_H

#include <stddef.h>

enum yl_ytype { YL_Y_SCALAR, YL_Y_SEQ, YL_Y_MAP };

struct yl_ynode {
	enum yl_ytype	  type;
	int		  line, col;	/* 1-based */
	int		  plain;	/* scalar was unquoted */
	char		 *str;		/* scalar text, NUL-terminated */
	size_t		  len;
	struct yl_ynode	**kids;		/* seq: items; map: key, value, ... */
	size_t		  n;		/* number of kids */
};

struct yl_ydoc {
	char		*path;
	struct yl_ynode	*root;		/* NULL for an empty document */
};

/*
 * Error list: collects every problem, formatted "path:line:col: msg", so a
 * config or taxonomy reports all of them at once before it is rejected.
 */
struct yl_errs {
	char	*buf;
	size_t	 len, cap;
	int	 count;
};

void	yl_errs_add(struct yl_errs *, const char *path, int line, int col,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void	yl_errs_at(struct yl_errs *, const struct yl_ydoc *,
	    const struct yl_ynode *, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Adds a line that is already formatted. */
void	yl_errs_raw(struct yl_errs *, const char *line);
void	yl_errs_clear(struct yl_errs *);
/* Copies the first problems into err, as much as fits. */
void	yl_errs_copy(const struct yl_errs *, char *err, size_t errsz);

/* Loads and parses path; on failure NULL with "path:line:col: reason". */
struct yl_ydoc	*yl_ydoc_load(const char *path, char *err, size_t errsz);
/* Parses a buffer; name is used in error messages. */
struct yl_ydoc	*yl_ydoc_parse(const char *name, const char *buf, size_t len,
		    char *err, size_t errsz);
void		 yl_ydoc_free(struct yl_ydoc **);

/* Value of key in a map node, or NULL. */
struct yl_ynode	*yl_ymap_get(const struct yl_ynode *map, const char *key);
const char	*yl_ytype_name(enum yl_ytype);

#endif
