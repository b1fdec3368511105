/*
 * store_output.c - what `yalu query` prints: an aligned table for people,
 * JSON Lines for programs, CSV (RFC 4180) for spreadsheets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "sto_int.h"

#define TITLE_COLS	60	/* the title is cut to this many columns */
#define LIST_COLS	40	/* and lists of tags to this many */

/* ------------------------------------------------------------------ lists */

/* A growing string; on allocation failure it stays as it was. */
struct buf {
	char	*s;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->s, cap)) == NULL)
			return;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static char *
buf_take(struct buf *b)
{
	if (b->s == NULL)
		return strdup("");
	return b->s;
}

char *
sto_facet_join(const json_t *tags, const char *facet)
{
	const json_t *t;
	struct buf b = { 0 };
	size_t i;

	json_array_foreach(json_object_get(tags, facet), i, t) {
		const char *dir = json_string_value(json_object_get(t,
		    "direction"));

		if (i > 0)
			buf_str(&b, ",");
		buf_str(&b, json_string_value(json_object_get(t, "id")));
		if (dir != NULL) {
			buf_str(&b, "/");
			buf_str(&b, dir);
		}
	}
	return buf_take(&b);
}

char *
sto_provisions_join(const json_t *tags)
{
	const json_t *p;
	struct buf b = { 0 };
	size_t i;

	json_array_foreach(json_object_get(json_object_get(tags, "sanctions"),
	    "provisions"), i, p) {
		if (i > 0)
			buf_str(&b, ",");
		buf_str(&b, json_string_value(json_object_get(p, "id")));
	}
	return buf_take(&b);
}

/* -------------------------------------------------------------------- csv */

void
sto_csv_field(FILE *fp, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', fp);
		fputc(*p, fp);
	}
	fputc('"', fp);
}

static const char *const csv_header[] = {
	"id", "published_at", "received_at", "source", "relevance",
	"commodities", "countries", "crossings", "modes", "methods",
	"entities", "provisions", "ruleset", "classified_at", "archived_at",
	"title", NULL
};

static void
csv_row(FILE *fp, const struct sto_rec *r)
{
	char *lists[STO_NFACETS + 1];
	const char *cells[16];
	int i, n = 0;

	for (i = 0; i < STO_NFACETS; i++)
		lists[i] = sto_facet_join(r->tags, sto_facets[i]);
	lists[STO_NFACETS] = sto_provisions_join(r->tags);
	cells[n++] = r->rep->id;
	cells[n++] = r->rep->published_at;
	cells[n++] = r->rep->received_at;
	cells[n++] = r->rep->source;
	cells[n++] = r->relevance;
	for (i = 0; i <= STO_NFACETS; i++)
		cells[n++] = lists[i];
	cells[n++] = r->ruleset;
	cells[n++] = r->classified_at;
	cells[n++] = r->archived_at;
	cells[n++] = r->rep->title;
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', fp);
		sto_csv_field(fp, cells[i]);
	}
	fputs("\r\n", fp);	/* RFC 4180 ends records with CRLF */
	for (i = 0; i <= STO_NFACETS; i++)
		free(lists[i]);
}

/* ------------------------------------------------------------------ table */

enum { C_ID, C_DATE, C_REL, C_COMM, C_CROSS, C_PROV, C_TITLE, NCOLS };

static const char *const table_header[NCOLS] = {
	"ID", "PUBLISHED", "RELEVANCE", "COMMODITIES", "CROSSINGS",
	"PROVISIONS", "TITLE"
};

struct trow {
	char	*c[NCOLS];
};

struct sto_out {
	enum sto_format	 fmt;
	FILE		*fp;
	struct trow	*rows;
	size_t		 n, cap;
	int		 header_done;
};

/*
 * Copies s cut to at most cols terminal columns (wide characters count
 * two), ending with "…" when cut; control characters become spaces so a
 * title cannot break the table.
 */
static char *
fit(const char *s, int cols)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(s), i = 0, n;
	utf8proc_int32_t cp;
	struct buf b = { 0 };
	int w = 0, cw;

	while (i < len) {
		if ((n = utf8proc_iterate(p + i, len - i, &cp)) <= 0) {
			n = 1;
			cp = '?';
		}
		cw = cp < 0x20 || cp == 0x7f ? 1 : utf8proc_charwidth(cp);
		if (w + cw > cols - 1 && i + n < len) {
			buf_str(&b, "\xe2\x80\xa6");	/* … */
			break;
		}
		if (cp < 0x20 || cp == 0x7f)
			buf_str(&b, " ");
		else
			buf_add(&b, s + i, (size_t)n);
		w += cw;
		i += n;
	}
	return buf_take(&b);
}

/* Terminal columns of a UTF-8 string. */
static int
width(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(s), i = 0, n;
	utf8proc_int32_t cp;
	int w = 0;

	while (i < len) {
		if ((n = utf8proc_iterate(p + i, len - i, &cp)) <= 0) {
			n = 1;
			cp = '?';
		}
		w += utf8proc_charwidth(cp);
		i += n;
	}
	return w;
}

static char *
cell(const char *s, int cols)
{
	return fit(s != NULL && *s != '\0' ? s : "-", cols);
}

static int
table_add(struct sto_out *o, const struct sto_rec *r)
{
	const char *date = r->rep->published_at != NULL ?
	    r->rep->published_at : r->rep->received_at;
	char day[11] = "", *tmp;
	struct trow *t;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;

		if ((t = realloc(o->rows, cap * sizeof(*t))) == NULL)
			return -1;
		o->rows = t;
		o->cap = cap;
	}
	t = &o->rows[o->n++];
	if (date != NULL)
		snprintf(day, sizeof(day), "%s", date);
	t->c[C_ID] = cell(r->rep->id, 200);
	t->c[C_DATE] = cell(day, 10);
	t->c[C_REL] = cell(r->relevance, 10);
	tmp = sto_facet_join(r->tags, "commodities");
	t->c[C_COMM] = cell(tmp, LIST_COLS);
	free(tmp);
	tmp = sto_facet_join(r->tags, "crossings");
	t->c[C_CROSS] = cell(tmp, LIST_COLS);
	free(tmp);
	tmp = sto_provisions_join(r->tags);
	t->c[C_PROV] = cell(tmp, LIST_COLS);
	free(tmp);
	t->c[C_TITLE] = cell(r->rep->title, TITLE_COLS);
	return 0;
}

static void
table_print(struct sto_out *o)
{
	int w[NCOLS], i;
	size_t r;

	for (i = 0; i < NCOLS; i++)
		w[i] = (int)strlen(table_header[i]);
	for (r = 0; r < o->n; r++)
		for (i = 0; i < NCOLS; i++) {
			int cw = width(o->rows[r].c[i]);

			if (cw > w[i])
				w[i] = cw;
		}
	/* The last column is not padded: no trailing blanks. */
	for (i = 0; i < NCOLS; i++)
		fprintf(o->fp, "%-*s%s", i < NCOLS - 1 ? w[i] : 0,
		    table_header[i], i < NCOLS - 1 ? "  " : "\n");
	for (r = 0; r < o->n; r++)
		for (i = 0; i < NCOLS; i++) {
			const char *s = o->rows[r].c[i];

			fputs(s, o->fp);
			if (i == NCOLS - 1)
				fputc('\n', o->fp);
			else
				fprintf(o->fp, "%*s", w[i] - width(s) + 2, "");
		}
}

/* ----------------------------------------------------------------- common */

struct sto_out *
sto_out_new(enum sto_format fmt, FILE *fp)
{
	struct sto_out *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->fmt = fmt;
	o->fp = fp;
	return o;
}

int
sto_out_row(struct sto_out *o, const struct sto_rec *r)
{
	json_t *j;
	int i, rc;

	switch (o->fmt) {
	case STO_FMT_JSONL:
		if ((j = sto_rec_to_json(r)) == NULL)
			return -1;
		rc = json_dumpf(j, o->fp, JSON_COMPACT);
		json_decref(j);
		if (rc == -1)
			return -1;
		fputc('\n', o->fp);
		break;
	case STO_FMT_CSV:
		if (!o->header_done) {
			for (i = 0; csv_header[i] != NULL; i++)
				fprintf(o->fp, "%s%s", i > 0 ? "," : "",
				    csv_header[i]);
			fputs("\r\n", o->fp);
			o->header_done = 1;
		}
		csv_row(o->fp, r);
		break;
	case STO_FMT_TABLE:
		return table_add(o, r);
	}
	return ferror(o->fp) ? -1 : 0;
}

int
sto_out_end(struct sto_out **po)
{
	struct sto_out *o;
	size_t r;
	int i, rc;

	if (po == NULL || (o = *po) == NULL)
		return 0;
	if (o->fmt == STO_FMT_TABLE)
		table_print(o);
	else if (o->fmt == STO_FMT_CSV && !o->header_done) {
		/* No rows still gets the header: the columns are known. */
		for (i = 0; csv_header[i] != NULL; i++)
			fprintf(o->fp, "%s%s", i > 0 ? "," : "",
			    csv_header[i]);
		fputs("\r\n", o->fp);
	}
	rc = fflush(o->fp) == 0 && !ferror(o->fp) ? 0 : -1;
	for (r = 0; r < o->n; r++)
		for (i = 0; i < NCOLS; i++)
			free(o->rows[r].c[i]);
	free(o->rows);
	free(o);
	*po = NULL;
	return rc;
}
