/*
 * ing_conf.c - yalu-ingest's config: one table, then the checks a table
 * cannot express, every problem reported with its position.
 */
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "yalu/log.h"

#include "ingest.h"

const struct yl_confkey ing_conf_spec[] = {
	{ "listen", YL_CONF_STR, offsetof(struct ing_conf, listen),
	  ING_DEFAULT_ENDPOINT, 0, 0, 0, NULL,
	  "ZeroMQ endpoint the ROUTER binds (restart to change)" },
	{ "spool", YL_CONF_STR, offsetof(struct ing_conf, spool), NULL, 0, 0, 0,
	  NULL, "spool directory with incoming/, done/, rejected/" },
	{ "max_report_bytes", YL_CONF_INT,
	  offsetof(struct ing_conf, max_report_bytes), NULL,
	  ING_DEFAULT_MAX_BYTES, 1, ING_MAX_MAX_BYTES, NULL,
	  "largest request (all frames) or spool file accepted" },
	{ "max_inflight", YL_CONF_INT, offsetof(struct ing_conf, max_inflight),
	  NULL, 1000, 1, 1000000, NULL,
	  "pending deliveries before the ROUTER stops being read" },
	{ "drain_timeout", YL_CONF_INT, offsetof(struct ing_conf, drain_timeout),
	  NULL, 30, 1, 3600, NULL,
	  "seconds to wait for pending deliveries on SIGTERM" },
	{ "boilerplate", YL_CONF_STRLIST, offsetof(struct ing_conf, boilerplate),
	  NULL, 0, 0, 0, NULL,
	  "POSIX extended regexes; matching lines are removed" },
	{ "kafka", YL_CONF_KV, offsetof(struct ing_conf, kafka), NULL, 0, 0, 0,
	  NULL, "librdkafka properties, passed through" },
	{ "topics", YL_CONF_SECTION, offsetof(struct ing_conf, topics), NULL, 0,
	  0, 0, yl_topics_spec, "topic names and sizes" },
	{ "metrics", YL_CONF_SECTION, offsetof(struct ing_conf, metrics), NULL,
	  0, 0, 0, yl_metrics_spec,
	  "Prometheus /metrics and /health (restart to change)" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

/*
 * Newsletter and feed furniture seen around the reports we ingest. Each is
 * anchored at the start of a line so that a sentence of a report that
 * merely mentions a newsletter is never cut.
 */
const char *const ing_default_boilerplate[] = {
	"^[[:space:]]*Please direct (any )?comments or questions about this "
	    "(article|report|story) to",
	"^[[:space:]]*Read (this article )?in (Korean|English|Chinese|"
	    "Japanese)[[:space:]]*[.!]?[[:space:]]*$",
	"^[[:space:]]*(Subscribe|Sign up) (to|for) our "
	    "([a-z]+ )?newsletter",
	"^[[:space:]]*You (are receiving|received) this (e-?mail|newsletter)",
	"^[[:space:]]*(To )?unsubscribe([[:space:],.:]|$)",
	"^[[:space:]]*View this (e-?mail|newsletter) in your browser",
	"^[[:space:]]*Forwarded this (e-?mail|newsletter)",
	"^[[:space:]]*Follow us on (Twitter|X|Facebook|Telegram|Instagram)",
	"^[[:space:]]*(Copyright|\\(c\\)|©).*All rights reserved",
	NULL
};

/*
 * The producer's guarantees are the point of this daemon: a config may
 * tune librdkafka freely but not turn them off.
 */
static void
check_kafka(const struct ing_conf *c, const struct yl_ydoc *doc,
    const struct yl_ynode *node, struct yl_errs *errs)
{
	char err[512];
	size_t i;

	for (i = 0; i < c->kafka.n; i++) {
		const char *k = c->kafka.key[i], *v = c->kafka.val[i];
		const struct yl_ynode *at = node;

		if (node != NULL && node->type == YL_Y_MAP &&
		    yl_ymap_get(node, k) != NULL)
			at = yl_ymap_get(node, k);
		if (strcmp(k, "enable.idempotence") == 0 &&
		    strcasecmp(v, "true") != 0)
			yl_errs_at(errs, doc, at, "kafka: enable.idempotence: "
			    "must stay true (retries must not duplicate "
			    "reports)");
		else if ((strcmp(k, "acks") == 0 ||
		    strcmp(k, "request.required.acks") == 0) &&
		    strcmp(v, "all") != 0 && strcmp(v, "-1") != 0)
			yl_errs_at(errs, doc, at, "kafka: %s: must stay all",
			    k);
		else if (strcmp(k, "dr_msg_cb") == 0 ||
		    strcmp(k, "opaque") == 0)
			yl_errs_at(errs, doc, at, "kafka: %s: not settable",
			    k);
	}
	if (yl_kafka_check(&c->kafka, err, sizeof(err)) == -1)
		yl_errs_at(errs, doc, node, "%s", err);
}

static void
check_patterns(const struct ing_conf *c, const struct yl_ydoc *doc,
    const struct yl_ynode *node, struct yl_errs *errs)
{
	size_t i;

	for (i = 0; i < c->boilerplate.n; i++) {
		const struct yl_ynode *at = node;
		regex_t re;
		char msg[256];
		int rc;

		if (node != NULL && node->type == YL_Y_SEQ && i < node->n)
			at = node->kids[i];
		rc = regcomp(&re, c->boilerplate.v[i],
		    REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			regerror(rc, &re, msg, sizeof(msg));
			yl_errs_at(errs, doc, at, "boilerplate: '%s': %s",
			    c->boilerplate.v[i], msg);
			continue;
		}
		regfree(&re);
	}
}

struct ing_conf *
ing_conf_load(const char *path, struct yl_errs *errs)
{
	struct ing_conf *c;
	struct yl_ydoc *doc;
	const struct yl_ynode *bp, *kn, *ln;
	char err[1024];
	size_t i;
	int before = errs->count;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    yl_conf_defaults(ing_conf_spec, c) == -1) {
		yl_errs_add(errs, path, 0, 0, "out of memory");
		ing_conf_free(&c);
		return NULL;
	}
	if ((doc = yl_ydoc_load(path, err, sizeof(err))) == NULL) {
		yl_errs_raw(errs, err);
		ing_conf_free(&c);
		return NULL;
	}
	yl_conf_apply(doc, doc->root, ing_conf_spec, c, errs);
	bp = doc->root ? yl_ymap_get(doc->root, "boilerplate") : NULL;
	kn = doc->root ? yl_ymap_get(doc->root, "kafka") : NULL;
	ln = doc->root ? yl_ymap_get(doc->root, "listen") : NULL;
	/* Absent means the defaults; an empty list means none at all. */
	if (bp == NULL)
		for (i = 0; ing_default_boilerplate[i] != NULL; i++)
			yl_strlist_add(&c->boilerplate,
			    ing_default_boilerplate[i]);
	check_patterns(c, doc, bp, errs);
	check_kafka(c, doc, kn ? kn : doc->root, errs);
	if (c->listen != NULL && strstr(c->listen, "://") == NULL)
		yl_errs_at(errs, doc, ln, "listen: '%s' is not a ZeroMQ "
		    "endpoint (tcp://host:port, ipc://path)", c->listen);
	if (yl_metrics_check(&c->metrics, err, sizeof(err)) == -1)
		yl_errs_at(errs, doc, doc->root ? yl_ymap_get(doc->root,
		    "metrics") : NULL, "%s", err);
	/* The daemon chdirs to / when it detaches. */
	if (c->spool != NULL && c->spool[0] != '/')
		yl_errs_at(errs, doc, yl_ymap_get(doc->root, "spool"),
		    "spool: '%s' is not an absolute path", c->spool);
	yl_ydoc_free(&doc);
	if (errs->count > before) {
		ing_conf_free(&c);
		return NULL;
	}
	return c;
}

void
ing_conf_free(struct ing_conf **pc)
{
	if (pc == NULL || *pc == NULL)
		return;
	yl_conf_release(ing_conf_spec, *pc);
	free(*pc);
	*pc = NULL;
}

static int
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
kv_differs(const struct yl_kv *a, const struct yl_kv *b)
{
	size_t i;

	if (a->n != b->n)
		return 1;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->key[i], b->key[i]) != 0 ||
		    strcmp(a->val[i], b->val[i]) != 0)
			return 1;
	return 0;
}

static int
topic_differs(const struct yl_topic *a, const struct yl_topic *b)
{
	return str_differs(a->name, b->name) ||
	    a->partitions != b->partitions || a->replication != b->replication;
}

#define SWAP(a, b, type)	do { type t_ = (a); (a) = (b); (b) = t_; } \
	while (0)

void
ing_conf_keep_fixed(struct ing_conf *nc, struct ing_conf *oc)
{
	if (str_differs(nc->listen, oc->listen))
		yl_log_warnx("config: listen: changing %s to %s needs a "
		    "restart; still listening on %s", oc->listen, nc->listen,
		    oc->listen);
	if (str_differs(nc->spool, oc->spool))
		yl_log_warnx("config: spool: changing %s to %s needs a "
		    "restart; keeping %s", oc->spool ? oc->spool : "(none)",
		    nc->spool ? nc->spool : "(none)",
		    oc->spool ? oc->spool : "(none)");
	if (kv_differs(&nc->kafka, &oc->kafka))
		yl_log_warnx("config: kafka: changes need a restart; keeping "
		    "the running producer's properties");
	if (topic_differs(&nc->topics.raw, &oc->topics.raw) ||
	    topic_differs(&nc->topics.tagged, &oc->topics.tagged) ||
	    topic_differs(&nc->topics.dlq, &oc->topics.dlq))
		yl_log_warnx("config: topics: changes need a restart; still "
		    "producing to %s", oc->topics.raw.name);
	if (nc->metrics.port != oc->metrics.port ||
	    nc->metrics.allow_remote != oc->metrics.allow_remote ||
	    str_differs(nc->metrics.address, oc->metrics.address))
		yl_log_warnx("config: metrics: changes need a restart; still "
		    "serving on port %lld", oc->metrics.port);
	SWAP(nc->metrics, oc->metrics, struct yl_metrics_conf);
	SWAP(nc->listen, oc->listen, char *);
	SWAP(nc->spool, oc->spool, char *);
	SWAP(nc->kafka, oc->kafka, struct yl_kv);
	SWAP(nc->topics, oc->topics, struct yl_topics);
}
