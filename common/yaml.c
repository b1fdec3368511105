/*
 * yaml.c - libyaml's parser events folded into a tree of yl_ynode.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yalu/yaml.h"

void
yl_errs_add(struct yl_errs *e, const char *path, int line, int col,
    const char *fmt, ...)
{
	char msg[1024];
	char lnbuf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = snprintf(lnbuf, sizeof(lnbuf), "%s:%d:%d: %s\n",
		    path, line, col, msg);
	else
		n = snprintf(lnbuf, sizeof(lnbuf), "%s: %s\n", path, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(lnbuf))
		n = sizeof(lnbuf) - 1;
	if (e->len + (size_t)n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 1024;
		char *p;

		while (cap < e->len + (size_t)n + 1)
			cap *= 2;
		if ((p = realloc(e->buf, cap)) == NULL)
			return;
		e->buf = p;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, lnbuf, (size_t)n + 1);
	e->len += (size_t)n;
	e->count++;
}

void
yl_errs_raw(struct yl_errs *e, const char *line)
{
	size_t n = strlen(line);

	if (e->len + n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 1024;
		char *p;

		while (cap < e->len + n + 2)
			cap *= 2;
		if ((p = realloc(e->buf, cap)) == NULL)
			return;
		e->buf = p;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, line, n);
	e->len += n;
	e->buf[e->len++] = '\n';
	e->buf[e->len] = '\0';
	e->count++;
}

void
yl_errs_at(struct yl_errs *e, const struct yl_ydoc *doc,
    const struct yl_ynode *node, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yl_errs_add(e, doc ? doc->path : "-", node ? node->line : 0,
	    node ? node->col : 0, "%s", msg);
}

void
yl_errs_clear(struct yl_errs *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

void
yl_errs_copy(const struct yl_errs *e, char *err, size_t errsz)
{
	size_t n;

	if (errsz == 0)
		return;
	if (e->len == 0) {
		err[0] = '\0';
		return;
	}
	n = e->len;
	if (n > 0 && e->buf[n - 1] == '\n')
		n--;
	if (n >= errsz)
		n = errsz - 1;
	memcpy(err, e->buf, n);
	err[n] = '\0';
}

const char *
yl_ytype_name(enum yl_ytype t)
{
	switch (t) {
	case YL_Y_SCALAR:	return "a scalar";
	case YL_Y_SEQ:		return "a list";
	case YL_Y_MAP:		return "a map";
	}
	return "?";
}

static void
node_free(struct yl_ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

void
yl_ydoc_free(struct yl_ydoc **pdoc)
{
	if (pdoc == NULL || *pdoc == NULL)
		return;
	node_free((*pdoc)->root);
	free((*pdoc)->path);
	free(*pdoc);
	*pdoc = NULL;
}

static int
node_add(struct yl_ynode *parent, struct yl_ynode *kid)
{
	struct yl_ynode **k;

	if ((k = realloc(parent->kids, (parent->n + 1) * sizeof(*k))) == NULL)
		return -1;
	parent->kids = k;
	parent->kids[parent->n++] = kid;
	return 0;
}

static struct yl_ynode *
node_new(enum yl_ytype t, const yaml_mark_t *m)
{
	struct yl_ynode *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

#define YL_YAML_MAXDEPTH 64

struct yl_ydoc *
yl_ydoc_parse(const char *name, const char *buf, size_t len, char *err,
    size_t errsz)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct yl_ydoc *doc;
	struct yl_ynode *stack[YL_YAML_MAXDEPTH];
	int depth = 0, done = 0, ndocs = 0, ok = 0;

	if ((doc = calloc(1, sizeof(*doc))) == NULL ||
	    (doc->path = strdup(name)) == NULL) {
		free(doc);
		snprintf(err, errsz, "%s: out of memory", name);
		return NULL;
	}
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errsz, "%s: cannot initialize YAML parser", name);
		yl_ydoc_free(&doc);
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);

	while (!done) {
		struct yl_ynode *n = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errsz, "%s:%zu:%zu: %s%s%s", name,
			    p.problem_mark.line + 1, p.problem_mark.column + 1,
			    p.problem ? p.problem : "YAML syntax error",
			    p.context ? " " : "", p.context ? p.context : "");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				snprintf(err, errsz, "%s:%zu:%zu: only one YAML "
				    "document per file", name,
				    ev.start_mark.line + 1,
				    ev.start_mark.column + 1);
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			snprintf(err, errsz, "%s:%zu:%zu: YAML aliases are not "
			    "supported", name, ev.start_mark.line + 1,
			    ev.start_mark.column + 1);
			yaml_event_delete(&ev);
			goto out;
		case YAML_SCALAR_EVENT:
			if ((n = node_new(YL_Y_SCALAR, &ev.start_mark)) == NULL)
				goto oom;
			n->len = ev.data.scalar.length;
			if ((n->str = malloc(n->len + 1)) == NULL) {
				free(n);
				goto oom;
			}
			memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			n->plain = ev.data.scalar.style ==
			    YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((n = node_new(ev.type == YAML_SEQUENCE_START_EVENT ?
			    YL_Y_SEQ : YL_Y_MAP, &ev.start_mark)) == NULL)
				goto oom;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (depth > 0) {
				if (node_add(stack[depth - 1], n) == -1) {
					node_free(n);
					goto oom;
				}
			} else
				doc->root = n;
			if (n->type != YL_Y_SCALAR) {
				if (depth >= YL_YAML_MAXDEPTH) {
					snprintf(err, errsz, "%s:%d:%d: nested too "
					    "deeply", name, n->line, n->col);
					yaml_event_delete(&ev);
					goto out;
				}
				stack[depth++] = n;
			}
		}
		yaml_event_delete(&ev);
	}
	ok = 1;
	goto out;
oom:
	snprintf(err, errsz, "%s: out of memory", name);
	yaml_event_delete(&ev);
out:
	yaml_parser_delete(&p);
	if (!ok)
		yl_ydoc_free(&doc);
	return doc;
}

struct yl_ydoc *
yl_ydoc_load(const char *path, char *err, size_t errsz)
{
	FILE *fp;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct yl_ydoc *doc;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 > cap) {
			char *p;

			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(fp);
				snprintf(err, errsz, "%s: out of memory", path);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errsz, "%s: read error", path);
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	doc = yl_ydoc_parse(path, buf, len, err, errsz);
	free(buf);
	return doc;
}

struct yl_ynode *
yl_ymap_get(const struct yl_ynode *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != YL_Y_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n; i += 2)
		if (map->kids[i]->type == YL_Y_SCALAR &&
		    strcmp(map->kids[i]->str, key) == 0)
			return map->kids[i + 1];
	return NULL;
}
