/*
 * ing_normalize.c - what the door does to a report before Kafka sees it.
 *
 * The body is stored as the classifier will read it: evidence offsets
 * point into it, so the door removes whole boilerplate lines and nothing
 * else. Datelines and bylines are read, not cut: in "SEOUL, Nov. 3 --
 * Traders said ..." the dateline opens the first sentence.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "yalu/norm.h"

#include "ingest.h"

/* How far from the top and the bottom datelines and bylines are sought. */
#define HEAD_LINES	10
#define TAIL_LINES	5
#define MAX_BYLINE	100	/* a longer line is a sentence, not a byline */

struct ing_norm {
	regex_t	*re;
	size_t	 n;
};

/*
 * Short names of the refusals: the reason labels of
 * yalu_ingest_refused_total and the words of the STATUS= line.
 */
static const char *const refusal_names[ING_R_MAX] = {
	[ING_OK] = "ok",
	[ING_R_ENVELOPE] = "no_envelope",
	[ING_R_FRAMES] = "frames",
	[ING_R_SIZE] = "too_large",
	[ING_R_UTF8] = "invalid_utf8",
	[ING_R_JSON] = "not_json",
	[ING_R_FIELD] = "bad_field",
	[ING_R_EMPTY] = "empty",
	[ING_R_KAFKA] = "kafka",
	[ING_R_SHUTDOWN] = "shutting_down",
	[ING_R_FILETYPE] = "file_type",
	[ING_R_INTERNAL] = "internal",
};

const char *
ing_refusal_name(enum ing_refusal r)
{
	return (unsigned)r < ING_R_MAX ? refusal_names[r] : "?";
}

struct ing_norm *
ing_norm_new(const struct yl_strlist *patterns, char *err, size_t errsz)
{
	struct ing_norm *nm;
	size_t i;

	if ((nm = calloc(1, sizeof(*nm))) == NULL ||
	    (patterns->n > 0 &&
	    (nm->re = calloc(patterns->n, sizeof(*nm->re))) == NULL)) {
		snprintf(err, errsz, "out of memory");
		free(nm);
		return NULL;
	}
	for (i = 0; i < patterns->n; i++) {
		int rc = regcomp(&nm->re[i], patterns->v[i],
		    REG_EXTENDED | REG_ICASE | REG_NOSUB);

		if (rc != 0) {
			char msg[256];

			regerror(rc, &nm->re[i], msg, sizeof(msg));
			snprintf(err, errsz, "boilerplate[%zu]: '%s': %s", i,
			    patterns->v[i], msg);
			ing_norm_free(&nm);
			return NULL;
		}
		nm->n++;
	}
	return nm;
}

void
ing_norm_free(struct ing_norm **pnm)
{
	struct ing_norm *nm;
	size_t i;

	if (pnm == NULL || (nm = *pnm) == NULL)
		return;
	for (i = 0; i < nm->n; i++)
		regfree(&nm->re[i]);
	free(nm->re);
	free(nm);
	*pnm = NULL;
}

/* ------------------------------------------------------------ lines */

struct line {
	const char	*s;	/* start */
	size_t		 len;	/* without "\n" or "\r\n" */
	size_t		 next;	/* offset of the following line */
};

/* The line starting at off; 0 at the end of the text. */
static int
line_at(const char *body, size_t len, size_t off, struct line *l)
{
	const char *nl;

	if (off >= len)
		return 0;
	l->s = body + off;
	nl = memchr(l->s, '\n', len - off);
	l->len = nl ? (size_t)(nl - l->s) : len - off;
	l->next = nl ? (size_t)(nl - body) + 1 : len;
	if (l->len > 0 && l->s[l->len - 1] == '\r')
		l->len--;
	return 1;
}

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static int
blank(const char *s, size_t len)
{
	trim(&s, &len);
	return len == 0;
}

/*
 * The non-blank lines where datelines and bylines may stand: the first
 * HEAD_LINES and the last TAIL_LINES. Fills at most max; returns how many,
 * with *nhead of them from the top.
 */
static size_t
candidate_lines(const char *body, size_t len, struct line *out, size_t max,
    size_t *nhead)
{
	struct line l, tail[TAIL_LINES];
	size_t off = 0, n = 0, nt = 0, i;

	while (line_at(body, len, off, &l)) {
		off = l.next;
		if (blank(l.s, l.len))
			continue;
		if (n < HEAD_LINES && n < max)
			out[n++] = l;
		else {
			/* A ring of the last lines after the head. */
			tail[nt % TAIL_LINES] = l;
			nt++;
		}
	}
	*nhead = n;
	if (nt > TAIL_LINES) {
		for (i = 0; i < TAIL_LINES && n < max; i++)
			out[n++] = tail[(nt + i) % TAIL_LINES];
	} else
		for (i = 0; i < nt && n < max; i++)
			out[n++] = tail[i];
	return n;
}

/* --------------------------------------------------------- datelines */

struct date {
	int	year, mon, day;		/* mon 1..12 */
	int	hour, min, sec;		/* hour -1: no time */
	int	has_year;
};

static const struct {
	const char	*name;
	int		 mon;
} months[] = {
	{ "january", 1 }, { "february", 2 }, { "march", 3 }, { "april", 4 },
	{ "may", 5 }, { "june", 6 }, { "july", 7 }, { "august", 8 },
	{ "september", 9 }, { "october", 10 }, { "november", 11 },
	{ "december", 12 }, { "jan", 1 }, { "feb", 2 }, { "mar", 3 },
	{ "apr", 4 }, { "jun", 6 }, { "jul", 7 }, { "aug", 8 },
	{ "sept", 9 }, { "sep", 9 }, { "oct", 10 }, { "nov", 11 },
	{ "dec", 12 }, { NULL, 0 }
};

static const char *const weekdays[] = {
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	"sunday", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri",
	"sat", "sun", NULL
};

/* Length of the ASCII word at p (letters only). */
static size_t
word_len(const char *p, const char *e)
{
	const char *q = p;

	while (q < e && isalpha((unsigned char)*q))
		q++;
	return (size_t)(q - p);
}

static const char *
skip_spaces(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A month name (optionally abbreviated with a dot) at p, or NULL. */
static const char *
parse_month(const char *p, const char *e, int *mon)
{
	size_t n = word_len(p, e), i;

	for (i = 0; months[i].name != NULL; i++)
		if (strlen(months[i].name) == n &&
		    strncasecmp(p, months[i].name, n) == 0) {
			*mon = months[i].mon;
			p += n;
			if (p < e && *p == '.')
				p++;
			return p;
		}
	return NULL;
}

/* An unsigned number of 1 to maxdigits digits at p, or NULL. */
static const char *
parse_num(const char *p, const char *e, int maxdigits, int *out)
{
	int v = 0, d = 0;

	while (p < e && isdigit((unsigned char)*p) && d < maxdigits) {
		v = v * 10 + (*p - '0');
		p++;
		d++;
	}
	if (d == 0 || (p < e && isdigit((unsigned char)*p)))
		return NULL;
	*out = v;
	return p;
}

/* "07:21PM", "7:21 pm", "19:21", "19:21:05", after an optional "at". */
static const char *
parse_time(const char *p, const char *e, struct date *d)
{
	const char *q = skip_spaces(p, e);
	int h, m, s = 0;

	if (q < e && *q == ',')
		q = skip_spaces(q + 1, e);
	if (e - q >= 3 && strncasecmp(q, "at", 2) == 0 && q[2] == ' ')
		q = skip_spaces(q + 2, e);
	if ((q = parse_num(q, e, 2, &h)) == NULL || q >= e || *q != ':' ||
	    (q = parse_num(q + 1, e, 2, &m)) == NULL)
		return p;
	if (q < e && *q == ':' && (q = parse_num(q + 1, e, 2, &s)) == NULL)
		return p;
	{
		const char *r = skip_spaces(q, e);

		if (e - r >= 2 && (strncasecmp(r, "am", 2) == 0 ||
		    strncasecmp(r, "pm", 2) == 0) &&
		    (e - r == 2 || !isalpha((unsigned char)r[2]))) {
			if (h < 1 || h > 12)
				return p;
			if (tolower((unsigned char)r[0]) == 'p' && h != 12)
				h += 12;
			else if (tolower((unsigned char)r[0]) == 'a' && h == 12)
				h = 0;
			q = r + 2;
		}
	}
	if (h > 23 || m > 59 || s > 60)
		return p;
	d->hour = h;
	d->min = m;
	d->sec = s;
	return q;
}

/*
 * The year that may follow a day and month at p: "[,] YYYY". Returns the
 * end of what was read, p itself when no year follows.
 */
static const char *
year_after(const char *p, const char *e, struct date *d)
{
	const char *q = p;
	int year;

	if (q < e && *q == ',')
		q++;
	q = skip_spaces(q, e);
	if ((q = parse_num(q, e, 4, &year)) == NULL || year < 1000)
		return p;
	d->year = year;
	d->has_year = 1;
	return q;
}

/*
 * A date at p: "Nov. 3", "November 3, 2026", "3 November 2026",
 * "2026-11-03", optionally after a weekday and before a time. Returns the
 * end of what was read, or NULL. The calendar is not checked here.
 */
static const char *
parse_date(const char *p, const char *e, struct date *d)
{
	const char *q;
	size_t n;
	int i;

	memset(d, 0, sizeof(*d));
	d->hour = -1;
	/* "Tuesday, " */
	n = word_len(p, e);
	for (i = 0; weekdays[i] != NULL; i++)
		if (strlen(weekdays[i]) == n &&
		    strncasecmp(p, weekdays[i], n) == 0) {
			q = p + n;
			if (q < e && *q == '.')
				q++;
			if (q < e && *q == ',')
				q++;
			p = skip_spaces(q, e);
			break;
		}
	if ((q = parse_month(p, e, &d->mon)) != NULL) {
		/* Month D[st|nd|rd|th][,] [YYYY] */
		q = skip_spaces(q, e);
		if ((q = parse_num(q, e, 2, &d->day)) == NULL)
			return NULL;
		if (e - q >= 2 && word_len(q, e) == 2)
			q += 2;		/* 3rd, 21st */
		p = year_after(q, e, d);
	} else if (isdigit((unsigned char)*p) &&
	    (q = parse_num(p, e, 4, &d->year)) != NULL && d->year >= 1000 &&
	    q < e && (*q == '-' || *q == '.' || *q == '/')) {
		/* YYYY-MM-DD */
		char sep = *q;

		if ((q = parse_num(q + 1, e, 2, &d->mon)) == NULL ||
		    q >= e || *q != sep ||
		    (q = parse_num(q + 1, e, 2, &d->day)) == NULL)
			return NULL;
		d->has_year = 1;
		p = q;
	} else if ((q = parse_num(p, e, 2, &d->day)) != NULL) {
		/* D Month YYYY */
		q = skip_spaces(q, e);
		if ((q = parse_month(q, e, &d->mon)) == NULL)
			return NULL;
		p = year_after(q, e, d);
	} else
		return NULL;
	return parse_time(p, e, d);
}

static int
valid_date(const struct date *d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap = (d->year % 4 == 0 && d->year % 100 != 0) ||
	    d->year % 400 == 0;

	if (d->year < 1900 || d->year > 2200 || d->mon < 1 || d->mon > 12 ||
	    d->day < 1 || d->day > mdays[d->mon - 1])
		return 0;
	return !(d->mon == 2 && d->day == 29 && !leap);
}

/*
 * Writes the ISO form of d (completing a missing year from now: a date
 * more than a month ahead belongs to last year), or the text as written
 * when it is no calendar date.
 */
static void
date_iso(struct date *d, const struct tm *now, const char *text,
    size_t textlen, char *iso, size_t isosz)
{
	if (!d->has_year) {
		d->year = now->tm_year + 1900;
		if (d->mon > now->tm_mon + 2)
			d->year--;
	}
	if (!valid_date(d)) {
		trim(&text, &textlen);
		snprintf(iso, isosz, "%.*s", (int)textlen, text);
	} else if (d->hour >= 0)
		snprintf(iso, isosz, "%04d-%02d-%02dT%02d:%02d:%02d", d->year,
		    d->mon, d->day, d->hour, d->min, d->sec);
	else
		snprintf(iso, isosz, "%04d-%02d-%02d", d->year, d->mon, d->day);
}

/* A dash after a dateline: "—", "–", "--" or "-". */
static int
dash_at(const char *p, const char *e)
{
	if (e - p >= 3 && (memcmp(p, "\xe2\x80\x94", 3) == 0 ||
	    memcmp(p, "\xe2\x80\x93", 3) == 0))
		return 1;
	return p < e && *p == '-';
}

/*
 * "SEOUL, Nov. 3 —", "DANDONG, China, Nov. 3, 2026 --": a place in
 * capitals, up to two more comma-separated parts, a date, a dash.
 */
static const char *
place_dateline(const char *p, const char *e, struct date *d,
    const char **ds)
{
	const char *q = p;
	int caps = 0, part;

	while (q < e && (isupper((unsigned char)*q) || *q == ' ' ||
	    *q == '.' || *q == '\'' || *q == '-')) {
		caps += isupper((unsigned char)*q) != 0;
		q++;
	}
	/* "SEOUL" but not "A" or "The". */
	if (caps < 3 || q >= e || *q != ',')
		return NULL;
	for (part = 0; part < 3; part++) {
		const char *end;

		q = skip_spaces(q + 1, e);
		if ((end = parse_date(q, e, d)) != NULL) {
			const char *r = skip_spaces(end, e);

			if (!dash_at(r, e))
				return NULL;
			*ds = q;
			return end;
		}
		/* ", China," */
		while (q < e && *q != ',' && (isalpha((unsigned char)*q) ||
		    *q == ' ' || *q == '.'))
			q++;
		if (q >= e || *q != ',')
			return NULL;
	}
	return NULL;
}

/* "January 17, 2026 at 07:21PM", "Published: Nov. 3, 2026", alone. */
static const char *
date_line(const char *p, const char *e, struct date *d)
{
	static const char *const lead[] = { "posted on ", "published on ",
	    "published: ", "updated: ", "date: ", "posted: ", NULL };
	const char *end;
	int i;

	for (i = 0; lead[i] != NULL; i++)
		if ((size_t)(e - p) > strlen(lead[i]) &&
		    strncasecmp(p, lead[i], strlen(lead[i])) == 0) {
			p = skip_spaces(p + strlen(lead[i]), e);
			break;
		}
	if ((end = parse_date(p, e, d)) == NULL)
		return NULL;
	/* Nothing may follow but a time zone name. */
	end = skip_spaces(end, e);
	if (end < e && (size_t)(e - end) <= 4 && word_len(end, e) ==
	    (size_t)(e - end))
		end = e;
	return end == e ? end : NULL;
}

int
ing_find_dateline(const char *body, size_t len, const struct tm *now,
    char *iso, size_t isosz)
{
	struct line c[HEAD_LINES + TAIL_LINES];
	size_t n, nhead, i;
	struct date d;

	n = candidate_lines(body, len, c, HEAD_LINES + TAIL_LINES, &nhead);
	for (i = 0; i < n; i++) {
		const char *p = c[i].s, *e = c[i].s + c[i].len, *ds, *de;

		p = skip_spaces(p, e);
		if ((de = date_line(p, e, &d)) != NULL) {
			date_iso(&d, now, p, (size_t)(de - p), iso, isosz);
			return 0;
		}
		if (i < nhead && (de = place_dateline(p, e, &d, &ds)) != NULL) {
			date_iso(&d, now, ds, (size_t)(de - ds), iso, isosz);
			return 0;
		}
	}
	return -1;
}

/* ----------------------------------------------------------- bylines */

static int
name_word_ok(const char *w, size_t n)
{
	static const char *const joins[] = { "and", "&", "de", "da", "van",
	    "von", "der", "bin", "of", NULL };
	int i;

	while (n > 0 && (*w == '(' || *w == '"' || *w == '\''))
		w++, n--;
	if (n == 0)
		return 0;
	/* Capitalized, or not ASCII at all (Hangul, accented names). */
	if (isupper((unsigned char)*w) || (unsigned char)*w >= 0x80)
		return 1;
	for (i = 0; joins[i] != NULL; i++)
		if (strlen(joins[i]) == n && strncmp(w, joins[i], n) == 0)
			return 1;
	return 0;
}

/* "By Kim Ji-eun", "Reporting by Lee Sang-yong, Daily NK": the name. */
static int
byline(const char *s, size_t len, const char **name, size_t *namelen)
{
	static const char *const lead[] = { "by ", "written by ",
	    "reporting by ", "reported by ", NULL };
	const char *p, *e, *w;
	size_t n = 0;
	int i, words = 0;

	trim(&s, &len);
	if (len > MAX_BYLINE)
		return 0;
	for (i = 0; lead[i] != NULL; i++)
		if (len > strlen(lead[i]) &&
		    strncasecmp(s, lead[i], strlen(lead[i])) == 0)
			break;
	if (lead[i] == NULL)
		return 0;
	p = s + strlen(lead[i]);
	e = s + len;
	p = skip_spaces(p, e);
	if (p >= e || e[-1] == '!' || e[-1] == '?' || e[-1] == ':')
		return 0;
	/* A final "." ends a sentence unless it ends an initial ("J."). */
	if (e[-1] == '.' && !(e - p >= 2 && isupper((unsigned char)e[-2]) &&
	    (e - p == 2 || e[-3] == ' ' || e[-3] == '.')))
		return 0;
	for (w = p; w < e; w += n) {
		w = skip_spaces(w, e);
		for (n = 0; w + n < e && w[n] != ' ' && w[n] != '\t'; n++)
			;
		if (n == 0)
			break;
		if (!name_word_ok(w, n) || ++words > 8)
			return 0;
	}
	*name = p;
	*namelen = (size_t)(e - p);
	return 1;
}

int
ing_find_byline(const char *body, size_t len, char *name, size_t namesz)
{
	struct line c[HEAD_LINES + TAIL_LINES];
	size_t n, nhead, i, nl;
	const char *ns;

	n = candidate_lines(body, len, c, HEAD_LINES + TAIL_LINES, &nhead);
	for (i = 0; i < n; i++)
		if (byline(c[i].s, c[i].len, &ns, &nl)) {
			/* A trailing comma or dot of the line is not the name. */
			while (nl > 0 && (ns[nl - 1] == ',' ||
			    ns[nl - 1] == ';'))
				nl--;
			snprintf(name, namesz, "%.*s", (int)nl, ns);
			return 0;
		}
	return -1;
}

/* ------------------------------------------------------- boilerplate */

static int
is_boilerplate(const struct ing_norm *nm, const char *s, size_t len,
    char **scratch, size_t *scap)
{
	size_t i;

	if (nm == NULL || nm->n == 0)
		return 0;
	if (len + 1 > *scap) {
		char *p = realloc(*scratch, len + 1);

		if (p == NULL)
			return 0;	/* keep the line: never lose text */
		*scratch = p;
		*scap = len + 1;
	}
	memcpy(*scratch, s, len);
	(*scratch)[len] = '\0';
	for (i = 0; i < nm->n; i++)
		if (regexec(&nm->re[i], *scratch, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

/*
 * Removes the boilerplate lines of r->body. Returns how many, or -1 when
 * out of memory.
 */
static int
strip_boilerplate(const struct ing_norm *nm, struct yl_report *r)
{
	char *out, *scratch = NULL;
	size_t off = 0, o = 0, scap = 0;
	struct line l;
	int removed = 0;

	if ((out = malloc(r->body_len + 1)) == NULL)
		return -1;
	while (line_at(r->body, r->body_len, off, &l)) {
		if (is_boilerplate(nm, l.s, l.len, &scratch, &scap))
			removed++;
		else {
			memcpy(out + o, r->body + off, l.next - off);
			o += l.next - off;
		}
		off = l.next;
	}
	free(scratch);
	if (removed == 0) {
		free(out);
		return 0;
	}
	/* What the removed footer leaves behind is blank lines. */
	while (o > 0 && isspace((unsigned char)out[o - 1]))
		o--;
	out[o] = '\0';
	free(r->body);
	r->body = out;
	r->body_len = o;
	return removed;
}

/* ------------------------------------------------------------- door */

enum ing_refusal
ing_normalize(const struct ing_norm *nm, struct yl_report *r, char *err,
    size_t errsz)
{
	char buf[256], idbuf[32];
	const char *nul;
	size_t bad;
	time_t t;
	struct tm now;

	if (yl_utf8_check(r->body, r->body_len, &bad) == -1) {
		snprintf(err, errsz, "invalid UTF-8 at byte %zu", bad);
		return ING_R_UTF8;
	}
	if ((nul = memchr(r->body, '\0', r->body_len)) != NULL) {
		snprintf(err, errsz, "body: NUL byte at byte %zu",
		    (size_t)(nul - r->body));
		return ING_R_UTF8;
	}
	if (blank(r->body, r->body_len)) {
		snprintf(err, errsz, "body: empty");
		return ING_R_EMPTY;
	}
	/* Read before stripping: a removed feed footer may carry the date. */
	t = time(NULL);
	gmtime_r(&t, &now);
	if (r->published_at == NULL &&
	    ing_find_dateline(r->body, r->body_len, &now, buf,
	    sizeof(buf)) == 0 && yl_report_set(&r->published_at, buf) == -1)
		goto oom;
	if (r->source == NULL &&
	    ing_find_byline(r->body, r->body_len, buf, sizeof(buf)) == 0 &&
	    yl_report_set(&r->source, buf) == -1)
		goto oom;
	if (strip_boilerplate(nm, r) == -1)
		goto oom;
	if (r->body_len == 0) {
		snprintf(err, errsz, "body: empty once boilerplate is removed");
		return ING_R_EMPTY;
	}
	if (r->id == NULL) {
		yl_report_content_id(r->body, r->body_len, idbuf,
		    sizeof(idbuf));
		if (yl_report_set(&r->id, idbuf) == -1)
			goto oom;
	}
	yl_now_iso(buf, sizeof(buf));
	if (yl_report_set(&r->received_at, buf) == -1)
		goto oom;
	return ING_OK;
oom:
	snprintf(err, errsz, "out of memory");
	return ING_R_INTERNAL;
}
