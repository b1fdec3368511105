/*
 * metrics.c - Prometheus registry and its libmicrohttpd endpoint.
 *
 * The registry is a list of families, each with a list of series, plus a
 * small hash of "name{labels}" for the by-name calls. Families are never
 * removed before yl_metrics_free; a series only by yl_metrics_remove (for
 * labels that come and go, like the partitions a consumer owns), so the
 * handles the hot paths keep stay valid, and the HTTP thread walks the
 * lists under the same mutex the updates take.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "yalu/log.h"
#include "yalu/metrics.h"

#define HASH_SLOTS	128
#define REASON_MAX	256

const double yl_metrics_latency_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
const size_t yl_metrics_latency_nbuckets =
    sizeof(yl_metrics_latency_buckets) / sizeof(yl_metrics_latency_buckets[0]);

const struct yl_confkey yl_metrics_spec[] = {
	{ "address", YL_CONF_STR, offsetof(struct yl_metrics_conf, address),
	  "127.0.0.1", 0, 0, 0, NULL,
	  "address of the /metrics and /health endpoint (numeric)" },
	{ "port", YL_CONF_INT, offsetof(struct yl_metrics_conf, port), NULL,
	  0, 0, 65535, NULL, "TCP port of the endpoint, 0 to disable it" },
	{ "allow_remote", YL_CONF_BOOL,
	  offsetof(struct yl_metrics_conf, allow_remote), NULL, 0, 0, 1, NULL,
	  "allow an address other than loopback" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

struct family {
	char			*name;
	char			*help;		/* NULL: no HELP line */
	enum yl_metric_type	 type;
	double			*bound;		/* histogram upper bounds */
	size_t			 nbound;
	struct yl_metric	*first, *last;
	struct family		*next;
};

struct yl_metric {
	struct yl_metrics	*m;
	struct family		*fam;
	char			*labels;	/* "" when none */
	double			 value;		/* counter, gauge */
	double			 sum;		/* histogram */
	unsigned long long	 count;
	unsigned long long	*bucket;	/* per bound, not cumulative */
	struct yl_metric	*next;		/* in the family */
	struct yl_metric	*hnext;		/* in the hash slot */
	uint32_t		 hash;
};

struct yl_metrics {
	pthread_mutex_t		 lock;
	struct family		*first, *last;
	struct yl_metric	*slot[HASH_SLOTS];
	int			 healthy;
	char			 reason[REASON_MAX];
	struct MHD_Daemon	*httpd;
	int			 port;
	_Atomic int		 starting;	/* MHD errors go to starterr */
	char			 starterr[256];
};

/* ------------------------------------------------------------ names */

static int
valid_name(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return 0;
	return 1;
}

static int
label_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (!first && c >= '0' && c <= '9');
}

/*
 * Checks a labels string: name="value" pairs separated by commas, names
 * unique and not reserved ("__" prefix; "le" on histograms), values with
 * only \\ \" \n escapes and no raw newline. Returns 1 if valid.
 */
static int
valid_labels(const char *s, int histogram)
{
	const char *names[32];
	size_t nlen[32], n = 0, i;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return 1;
	for (;;) {
		const char *name = p;

		if (!label_char(*p, 1))
			return 0;
		while (label_char(*p, 0))
			p++;
		if (n == sizeof(names) / sizeof(names[0]))
			return 0;
		names[n] = name;
		nlen[n] = (size_t)(p - name);
		if (nlen[n] >= 2 && name[0] == '_' && name[1] == '_')
			return 0;
		if (histogram && nlen[n] == 2 && memcmp(name, "le", 2) == 0)
			return 0;
		for (i = 0; i < n; i++)
			if (nlen[i] == nlen[n] &&
			    memcmp(names[i], name, nlen[n]) == 0)
				return 0;
		n++;
		if (*p++ != '=' || *p++ != '"')
			return 0;
		for (; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return 0;
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return 0;
			}
		}
		p++;
		if (*p == '\0')
			return 1;
		if (*p++ != ',')
			return 0;
	}
}

int
yl_metrics_label_escape(const char *value, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p;

#define PUT(c) do { if (o + 1 >= outsz) return -1; out[o++] = (c); } while (0)
	PUT('"');
	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"') {
			PUT('\\');
			PUT(*p);
		} else if (*p == '\n') {
			PUT('\\');
			PUT('n');
		} else
			PUT(*p);
	}
	PUT('"');
#undef PUT
	out[o] = '\0';
	return 0;
}

/* FNV-1a over name, a separator and the labels. */
static uint32_t
series_hash(const char *name, const char *labels)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '{') * 16777619u;
	for (p = labels; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* ---------------------------------------------------------- registry */

static struct family *
find_family(struct yl_metrics *m, const char *name)
{
	struct family *f;

	for (f = m->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Declares under the lock. Returns the family or NULL. */
static struct family *
declare_locked(struct yl_metrics *m, enum yl_metric_type type,
    const char *name, const char *help, const double *bound, size_t nbound)
{
	struct family *f;
	size_t i;

	if (!valid_name(name))
		return NULL;
	if (type == YL_METRIC_HISTOGRAM) {
		if (bound == NULL || nbound == 0)
			return NULL;
		for (i = 0; i < nbound; i++)
			if (!isfinite(bound[i]) ||
			    (i > 0 && bound[i] <= bound[i - 1]))
				return NULL;
	} else if (nbound != 0)
		return NULL;

	if ((f = find_family(m, name)) != NULL) {
		if (f->type != type || f->nbound != nbound ||
		    (nbound > 0 && memcmp(f->bound, bound,
		    nbound * sizeof(*bound)) != 0))
			return NULL;
		/* On ENOMEM help stays NULL: no HELP line, nothing worse. */
		if (f->help == NULL && help != NULL)
			f->help = strdup(help);
		return f;
	}

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->type = type;
	if ((f->name = strdup(name)) == NULL ||
	    (help != NULL && (f->help = strdup(help)) == NULL))
		goto fail;
	if (nbound > 0) {
		if ((f->bound = malloc(nbound * sizeof(*bound))) == NULL)
			goto fail;
		memcpy(f->bound, bound, nbound * sizeof(*bound));
		f->nbound = nbound;
	}
	if (m->last != NULL)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	return f;
fail:
	free(f->name);
	free(f->help);
	free(f);
	return NULL;
}

/* The series name{labels}, created if missing, under the lock. */
static struct yl_metric *
get_locked(struct yl_metrics *m, struct family *f, const char *labels)
{
	struct yl_metric *s;
	uint32_t h;

	if (labels == NULL)
		labels = "";
	h = series_hash(f->name, labels);
	for (s = m->slot[h % HASH_SLOTS]; s != NULL; s = s->hnext)
		if (s->hash == h && s->fam == f &&
		    strcmp(s->labels, labels) == 0)
			return s;

	if (!valid_labels(labels, f->type == YL_METRIC_HISTOGRAM))
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->labels = strdup(labels)) == NULL ||
	    (f->nbound > 0 && (s->bucket = calloc(f->nbound,
	    sizeof(*s->bucket))) == NULL)) {
		free(s->labels);
		free(s);
		return NULL;
	}
	s->m = m;
	s->fam = f;
	s->hash = h;
	s->hnext = m->slot[h % HASH_SLOTS];
	m->slot[h % HASH_SLOTS] = s;
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	return s;
}

/* Finds name{labels} for a by-name update, declaring name if needed. */
static struct yl_metric *
lookup_locked(struct yl_metrics *m, enum yl_metric_type type,
    const char *name, const char *labels)
{
	struct yl_metric *s;
	struct family *f;
	uint32_t h;

	/* The common case, a series seen before: one hash, no list walk. */
	h = series_hash(name, labels == NULL ? "" : labels);
	for (s = m->slot[h % HASH_SLOTS]; s != NULL; s = s->hnext)
		if (s->hash == h && strcmp(s->fam->name, name) == 0 &&
		    strcmp(s->labels, labels == NULL ? "" : labels) == 0)
			return s->fam->type == type ? s : NULL;

	if ((f = find_family(m, name)) == NULL) {
		if (type == YL_METRIC_HISTOGRAM)
			return NULL;
		f = declare_locked(m, type, name, NULL, NULL, 0);
	}
	if (f == NULL || f->type != type)
		return NULL;
	return get_locked(m, f, labels);
}

int
yl_metrics_declare(struct yl_metrics *m, enum yl_metric_type type,
    const char *name, const char *help, const double *bound, size_t nbound)
{
	struct family *f;

	pthread_mutex_lock(&m->lock);
	f = declare_locked(m, type, name, help, bound, nbound);
	pthread_mutex_unlock(&m->lock);
	return f != NULL ? 0 : -1;
}

struct yl_metric *
yl_metrics_get(struct yl_metrics *m, const char *name, const char *labels)
{
	struct yl_metric *s = NULL;
	struct family *f;

	pthread_mutex_lock(&m->lock);
	if ((f = find_family(m, name)) != NULL)
		s = get_locked(m, f, labels);
	pthread_mutex_unlock(&m->lock);
	return s;
}

static struct yl_metric *
declare_get(struct yl_metrics *m, enum yl_metric_type type, const char *name,
    const char *help, const char *labels, const double *bound, size_t nbound)
{
	struct yl_metric *s = NULL;
	struct family *f;

	pthread_mutex_lock(&m->lock);
	if ((f = declare_locked(m, type, name, help, bound, nbound)) != NULL)
		s = get_locked(m, f, labels);
	pthread_mutex_unlock(&m->lock);
	return s;
}

struct yl_metric *
yl_metrics_counter(struct yl_metrics *m, const char *name, const char *help,
    const char *labels)
{
	return declare_get(m, YL_METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct yl_metric *
yl_metrics_gauge(struct yl_metrics *m, const char *name, const char *help,
    const char *labels)
{
	return declare_get(m, YL_METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct yl_metric *
yl_metrics_histogram(struct yl_metrics *m, const char *name, const char *help,
    const char *labels, const double *bound, size_t nbound)
{
	return declare_get(m, YL_METRIC_HISTOGRAM, name, help, labels, bound,
	    nbound);
}

/* ----------------------------------------------------------- updates */

/* The update itself, lock held; -1 when it does not fit the type. */
static int
add_locked(struct yl_metric *s, double v)
{
	if (isnan(v) || s->fam->type == YL_METRIC_HISTOGRAM ||
	    (s->fam->type == YL_METRIC_COUNTER && v < 0))
		return -1;
	s->value += v;
	return 0;
}

static int
set_locked(struct yl_metric *s, double v)
{
	if (s->fam->type != YL_METRIC_GAUGE)
		return -1;
	s->value = v;
	return 0;
}

static int
observe_locked(struct yl_metric *s, double v)
{
	size_t lo = 0, hi;

	if (s->fam->type != YL_METRIC_HISTOGRAM || isnan(v))
		return -1;
	/* The first bound >= v; past the last one only +Inf counts it. */
	hi = s->fam->nbound;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->fam->bound[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->fam->nbound)
		s->bucket[lo]++;
	s->count++;
	s->sum += v;
	return 0;
}

void
yl_metric_inc(struct yl_metric *s)
{
	yl_metric_add(s, 1);
}

void
yl_metric_add(struct yl_metric *s, double v)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->m->lock);
	(void)add_locked(s, v);
	pthread_mutex_unlock(&s->m->lock);
}

void
yl_metric_set(struct yl_metric *s, double v)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->m->lock);
	(void)set_locked(s, v);
	pthread_mutex_unlock(&s->m->lock);
}

void
yl_metric_observe(struct yl_metric *s, double v)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->m->lock);
	(void)observe_locked(s, v);
	pthread_mutex_unlock(&s->m->lock);
}

int
yl_metrics_counter_add(struct yl_metrics *m, const char *name,
    const char *labels, double v)
{
	struct yl_metric *s;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if ((s = lookup_locked(m, YL_METRIC_COUNTER, name, labels)) != NULL)
		rc = add_locked(s, v);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
yl_metrics_gauge_set(struct yl_metrics *m, const char *name,
    const char *labels, double v)
{
	struct yl_metric *s;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if ((s = lookup_locked(m, YL_METRIC_GAUGE, name, labels)) != NULL)
		rc = set_locked(s, v);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
yl_metrics_observe(struct yl_metrics *m, const char *name,
    const char *labels, double v)
{
	struct yl_metric *s;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if ((s = lookup_locked(m, YL_METRIC_HISTOGRAM, name, labels)) != NULL)
		rc = observe_locked(s, v);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
yl_metrics_remove(struct yl_metrics *m, const char *name, const char *labels)
{
	struct yl_metric **hp, **lp, *s, *prev = NULL;
	uint32_t h;

	if (labels == NULL)
		labels = "";
	h = series_hash(name, labels);
	pthread_mutex_lock(&m->lock);
	for (hp = &m->slot[h % HASH_SLOTS]; (s = *hp) != NULL; hp = &s->hnext)
		if (s->hash == h && strcmp(s->fam->name, name) == 0 &&
		    strcmp(s->labels, labels) == 0)
			break;
	if (s == NULL) {
		pthread_mutex_unlock(&m->lock);
		return -1;
	}
	*hp = s->hnext;
	/* The family's list is singly linked: find the one before it. */
	for (lp = &s->fam->first; *lp != s; lp = &(*lp)->next)
		prev = *lp;
	*lp = s->next;
	if (s->fam->last == s)
		s->fam->last = prev;
	pthread_mutex_unlock(&m->lock);
	free(s->labels);
	free(s->bucket);
	free(s);
	return 0;
}

void
yl_metrics_set_health(struct yl_metrics *m, int ok, const char *reason)
{
	char *p;

	pthread_mutex_lock(&m->lock);
	m->healthy = ok;
	snprintf(m->reason, sizeof(m->reason), "%s",
	    ok ? "ok" : reason != NULL && *reason != '\0' ? reason :
	    "unhealthy");
	/* One line, so the body is "reason\n" whatever the daemon passed. */
	for (p = m->reason; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_unlock(&m->lock);
}

/* --------------------------------------------------------- rendering */

struct buf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

static void
buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)n;
			char *p = realloc(b->p, cap);

			if (p == NULL) {
				b->oom = 1;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

/*
 * A sample value as Prometheus parses it: integers without a fraction or
 * exponent, others in the shortest form that reads back exactly.
 */
static void
fmt_value(char *out, size_t outsz, double v)
{
	int prec;

	if (isnan(v))
		snprintf(out, outsz, "NaN");
	else if (isinf(v))
		snprintf(out, outsz, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(out, outsz, "%.0f", v);
	else
		for (prec = 15; prec <= 17; prec++) {
			snprintf(out, outsz, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
}

/* HELP text with backslash and newline escaped, as the format requires. */
static void
put_help(struct buf *b, const struct family *f)
{
	const char *p;

	if (f->help == NULL)
		return;
	buf_printf(b, "# HELP %s ", f->name);
	for (p = f->help; *p != '\0'; p++) {
		if (*p == '\\')
			buf_printf(b, "\\\\");
		else if (*p == '\n')
			buf_printf(b, "\\n");
		else
			buf_printf(b, "%c", *p);
	}
	buf_printf(b, "\n");
}

static void
put_histogram(struct buf *b, const struct family *f,
    const struct yl_metric *s)
{
	const char *sep = *s->labels != '\0' ? "," : "";
	unsigned long long cum = 0;
	char v[64], le[64];
	size_t i;

	for (i = 0; i < f->nbound; i++) {
		cum += s->bucket[i];
		fmt_value(le, sizeof(le), f->bound[i]);
		buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name,
		    s->labels, sep, le, cum);
	}
	buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels,
	    sep, s->count);
	fmt_value(v, sizeof(v), s->sum);
	if (*s->labels != '\0') {
		buf_printf(b, "%s_sum{%s} %s\n", f->name, s->labels, v);
		buf_printf(b, "%s_count{%s} %llu\n", f->name, s->labels,
		    s->count);
	} else {
		buf_printf(b, "%s_sum %s\n", f->name, v);
		buf_printf(b, "%s_count %llu\n", f->name, s->count);
	}
}

int
yl_metrics_render(struct yl_metrics *m, char **out, size_t *len)
{
	static const char *type_name[] = { "counter", "gauge", "histogram" };
	struct buf b = { NULL, 0, 0, 0 };
	const struct family *f;
	const struct yl_metric *s;
	char v[64];

	if ((b.p = malloc(b.cap = 4096)) == NULL)
		return -1;
	b.p[0] = '\0';
	pthread_mutex_lock(&m->lock);
	for (f = m->first; f != NULL; f = f->next) {
		put_help(&b, f);
		buf_printf(&b, "# TYPE %s %s\n", f->name, type_name[f->type]);
		for (s = f->first; s != NULL; s = s->next) {
			if (f->type == YL_METRIC_HISTOGRAM) {
				put_histogram(&b, f, s);
				continue;
			}
			fmt_value(v, sizeof(v), s->value);
			if (*s->labels != '\0')
				buf_printf(&b, "%s{%s} %s\n", f->name,
				    s->labels, v);
			else
				buf_printf(&b, "%s %s\n", f->name, v);
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (b.oom) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ------------------------------------------------------------- HTTP */

/* A response from a constant string; MHD copies it. */
static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_metrics(struct yl_metrics *m, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *text;
	size_t len;

	if (yl_metrics_render(m, &text, &len) == -1)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	r = MHD_create_response_from_buffer_with_free_callback(len, text,
	    free);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_health(struct yl_metrics *m, struct MHD_Connection *c)
{
	char body[REASON_MAX + 1];
	int ok;

	pthread_mutex_lock(&m->lock);
	ok = m->healthy;
	snprintf(body, sizeof(body), "%s\n", m->reason);
	pthread_mutex_unlock(&m->lock);
	return reply_text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
	    body);
}

/*
 * MHD's access handler, called in its thread. Every request we answer has
 * no body, so the answer goes out on the first call; MHD leaves out the
 * body for HEAD itself.
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req_cls)
{
	struct yl_metrics *m = cls;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(m, c);
	if (strcmp(url, "/health") == 0)
		return reply_health(m, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/*
 * MHD's own messages. While starting, the last one is the reason start
 * failed (bind: Address already in use) and goes back to the caller in
 * err; afterwards they concern single connections (a client gone, the
 * connection limit) and are only worth a debug line.
 */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct yl_metrics *m = cls;
	char line[256];
	size_t n;

	if (!m->starting && yl_log_level < YL_LOG_DEBUG)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (m->starting)
		memcpy(m->starterr, line, n + 1);
	else
		yl_log(YL_LOG_DEBUG, "metrics: http: %s", line);
}

/* ------------------------------------------------------------ set-up */

union addr {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

/*
 * Parses conf into a socket address; -1 with the reason in err. Only
 * numeric addresses (and "localhost") are taken: a name would need DNS at
 * start and could resolve to something other than what was reviewed.
 */
static int
parse_addr(const struct yl_metrics_conf *conf, union addr *a, char *err,
    size_t errsz)
{
	const char *addr = conf->address != NULL ? conf->address : "127.0.0.1";
	int loopback;

	if (conf->port < YL_METRICS_PORT_ANY || conf->port > 65535) {
		snprintf(err, errsz, "metrics: port %lld out of range 0..65535",
		    conf->port);
		return -1;
	}
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, addr, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(conf->port > 0 ?
		    (uint16_t)conf->port : 0);
		loopback = (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, addr, &a->in6.sin6_addr) == 1) {
		const uint8_t *b = a->in6.sin6_addr.s6_addr;

		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(conf->port > 0 ?
		    (uint16_t)conf->port : 0);
		/* ::1, or ::ffff:127.x.y.z (v4-mapped loopback). */
		loopback = IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr) && b[12] == 127);
	} else {
		snprintf(err, errsz, "metrics: address '%s': not a numeric "
		    "IPv4 or IPv6 address", addr);
		return -1;
	}
	if (!loopback && !conf->allow_remote) {
		snprintf(err, errsz, "metrics: address '%s' is not loopback "
		    "(set allow_remote: true to serve metrics beyond this "
		    "host)", addr);
		return -1;
	}
	return 0;
}

int
yl_metrics_check(const struct yl_metrics_conf *conf, char *err, size_t errsz)
{
	union addr a;

	if (conf == NULL)
		return 0;
	return parse_addr(conf, &a, err, errsz);
}

/*
 * Starts MHD with every signal blocked, so its thread inherits a full mask
 * and SIGTERM/SIGHUP always reach (and interrupt) the daemon's main thread.
 */
static int
start_httpd(struct yl_metrics *m, const struct yl_metrics_conf *conf,
    char *err, size_t errsz)
{
	const char *addr = conf->address != NULL ? conf->address : "127.0.0.1";
	const union MHD_DaemonInfo *info;
	sigset_t all, old;
	unsigned int flags;
	union addr a;

	if (parse_addr(conf, &a, err, errsz) == -1)
		return -1;
	flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (a.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->starting = 1;
	m->starterr[0] = '\0';
	m->httpd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
	    MHD_OPTION_SOCK_ADDR, &a.sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m,
	    MHD_OPTION_END);
	m->starting = 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (m->httpd == NULL) {
		snprintf(err, errsz, "metrics: %s:%lld: %s", addr,
		    conf->port > 0 ? conf->port : 0, m->starterr[0] != '\0' ?
		    m->starterr : "cannot start the HTTP server");
		return -1;
	}
	info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info != NULL ? info->port : 0;
	if (m->port == 0) {
		snprintf(err, errsz, "metrics: %s: cannot tell the port bound",
		    addr);
		return -1;
	}
	return 0;
}

struct yl_metrics *
yl_metrics_new(const struct yl_metrics_conf *conf, char *err, size_t errsz)
{
	struct yl_metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errsz, "metrics: %s", strerror(errno));
		return NULL;
	}
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		snprintf(err, errsz, "metrics: cannot create a mutex");
		free(m);
		return NULL;
	}
	snprintf(m->reason, sizeof(m->reason), "starting");
	if (conf != NULL && conf->port != 0 &&
	    start_httpd(m, conf, err, errsz) == -1) {
		yl_metrics_free(&m);
		return NULL;
	}
	return m;
}

int
yl_metrics_port(const struct yl_metrics *m)
{
	return m != NULL ? m->port : 0;
}

void
yl_metrics_free(struct yl_metrics **mp)
{
	struct yl_metrics *m;
	struct family *f, *fnext;
	struct yl_metric *s, *snext;

	if (mp == NULL || (m = *mp) == NULL)
		return;
	/* The HTTP thread is gone once this returns; nothing else reads. */
	if (m->httpd != NULL)
		MHD_stop_daemon(m->httpd);
	for (f = m->first; f != NULL; f = fnext) {
		fnext = f->next;
		for (s = f->first; s != NULL; s = snext) {
			snext = s->next;
			free(s->labels);
			free(s->bucket);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f->bound);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}
