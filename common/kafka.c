/*
 * kafka.c - librdkafka conf pass-through, idempotent topic creation, and
 * consumer lag gauges from librdkafka's statistics.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "yalu/kafka.h"
#include "yalu/log.h"
#include "yalu/metrics.h"

#define TOPIC_KEYS(defname, defparts)					\
	{ "name", YL_CONF_STR, offsetof(struct yl_topic, name), defname,	\
	  0, 0, 0, NULL, "topic name" },					\
	{ "partitions", YL_CONF_INT, offsetof(struct yl_topic, partitions), \
	  NULL, defparts, 1, 10000, NULL, "partition count" },		\
	{ "replication", YL_CONF_INT, offsetof(struct yl_topic,		\
	  replication), NULL, 1, 1, 32, NULL, "replication factor" },	\
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }

static const struct yl_confkey raw_spec[] = { TOPIC_KEYS("reports.raw", 4) };
static const struct yl_confkey tagged_spec[] = {
	TOPIC_KEYS("reports.tagged", 4)
};
static const struct yl_confkey dlq_spec[] = { TOPIC_KEYS("reports.dlq", 1) };

const struct yl_confkey yl_topics_spec[] = {
	{ "raw", YL_CONF_SECTION, offsetof(struct yl_topics, raw), NULL, 0, 0,
	  0, raw_spec, "the topic of incoming reports" },
	{ "tagged", YL_CONF_SECTION, offsetof(struct yl_topics, tagged), NULL,
	  0, 0, 0, tagged_spec, "the topic of tagged reports" },
	{ "dlq", YL_CONF_SECTION, offsetof(struct yl_topics, dlq), NULL, 0, 0,
	  0, dlq_spec, "the dead-letter topic" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL }
};

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	/* librdkafka's levels are syslog's. */
	if (level <= YL_LOG_WARNING)
		yl_log(level < YL_LOG_ERR ? YL_LOG_ERR : level, "kafka: %s: %s",
		    fac, buf);
	else if (yl_log_level >= YL_LOG_DEBUG)
		yl_log(YL_LOG_DEBUG, "kafka: %s: %s", fac, buf);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];

		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		yl_log(YL_LOG_ERR, "kafka: fatal error: %s", buf);
		return;
	}
	/* Transient: librdkafka retries by itself. */
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		yl_log(YL_LOG_WARNING, "kafka: all brokers down: %s", reason);
	else
		yl_log_debug("kafka: %s: %s", rd_kafka_err2str(err), reason);
}

rd_kafka_conf_t *
yl_kafka_conf(const struct yl_kv *props, char *err, size_t errsz)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *env = getenv("YALU_KAFKA");
	char e[512];
	size_t i;

	for (i = 0; props != NULL && i < props->n; i++) {
		if (rd_kafka_conf_set(conf, props->key[i], props->val[i], e,
		    sizeof(e)) != RD_KAFKA_CONF_OK) {
			snprintf(err, errsz, "kafka: %s: %s", props->key[i], e);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (env != NULL && *env != '\0' && rd_kafka_conf_set(conf,
	    "bootstrap.servers", env, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errsz, "kafka: YALU_KAFKA: %s", e);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	return conf;
}

int
yl_kafka_check(const struct yl_kv *props, char *err, size_t errsz)
{
	rd_kafka_conf_t *c = yl_kafka_conf(props, err, errsz);

	if (c == NULL)
		return -1;
	rd_kafka_conf_destroy(c);
	return 0;
}

int
yl_kafka_conf_default(rd_kafka_conf_t *kc, const struct yl_kv *kv,
    const char *key, const char *val, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->key[i], key) == 0)
			return 0;
	return rd_kafka_conf_set(kc, key, val, err, errsz) ==
	    RD_KAFKA_CONF_OK ? 0 : -1;
}

int
yl_kafka_conf_force(rd_kafka_conf_t *kc, const struct yl_kv *kv,
    const char *key, const char *val, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->key[i], key) == 0 && strcmp(kv->val[i], val) != 0)
			yl_log(YL_LOG_WARNING, "kafka: %s: %s ignored, yalu "
			    "needs %s", key, kv->val[i], val);
	return rd_kafka_conf_set(kc, key, val, err, errsz) ==
	    RD_KAFKA_CONF_OK ? 0 : -1;
}

rd_kafka_conf_t *
yl_kafka_conf_with(const struct yl_kv *props, const struct yl_kafka_set *set,
    const char *what, char *err, size_t errsz)
{
	static const struct yl_kv none;
	const struct yl_kv *kv = props != NULL ? props : &none;
	rd_kafka_conf_t *conf;
	char e[512];
	int r;

	if ((conf = yl_kafka_conf(props, err, errsz)) == NULL)
		return NULL;
	for (; set != NULL && set->key != NULL; set++) {
		r = set->force ?
		    yl_kafka_conf_force(conf, kv, set->key, set->val, e,
		    sizeof(e)) :
		    yl_kafka_conf_default(conf, kv, set->key, set->val, e,
		    sizeof(e));
		if (r == -1) {
			snprintf(err, errsz, "kafka: %s: %s", what, e);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	return conf;
}

rd_kafka_t *
yl_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what,
    char *err, size_t errsz)
{
	rd_kafka_t *rk;
	char e[512];

	if ((rk = rd_kafka_new(type, conf, e, sizeof(e))) == NULL) {
		snprintf(err, errsz, "kafka: %s: %s", what, e);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

int
yl_kafka_ensure_topics(rd_kafka_t *rk, const struct yl_topics *tp,
    int timeout_ms, char *err, size_t errsz)
{
	const struct yl_topic *t[3] = { &tp->raw, &tp->tagged, &tp->dlq };
	rd_kafka_NewTopic_t *nt[3];
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	size_t n, i;
	int rc = 0;
	char e[512];

	for (i = 0; i < 3; i++) {
		nt[i] = rd_kafka_NewTopic_new(t[i]->name, (int)t[i]->partitions,
		    (int)t[i]->replication, e, sizeof(e));
		if (nt[i] == NULL) {
			snprintf(err, errsz, "topic %s: %s", t[i]->name, e);
			while (i-- > 0)
				rd_kafka_NewTopic_destroy(nt[i]);
			return -1;
		}
	}
	/* The archive must always be re-taggable from reports.raw. */
	rd_kafka_NewTopic_set_config(nt[0], "retention.ms", "-1");
	rd_kafka_NewTopic_set_config(nt[0], "retention.bytes", "-1");
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e,
	    sizeof(e));
	rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, e,
	    sizeof(e));
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, nt, 3, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		snprintf(err, errsz, "creating topics: timed out");
		rc = -1;
	} else if (rd_kafka_event_error(ev)) {
		snprintf(err, errsz, "creating topics: %s",
		    rd_kafka_event_error_string(ev));
		rc = -1;
	} else {
		res = rd_kafka_event_CreateTopics_result(ev);
		tr = rd_kafka_CreateTopics_result_topics(res, &n);
		for (i = 0; i < n; i++) {
			rd_kafka_resp_err_t te = rd_kafka_topic_result_error(
			    tr[i]);

			if (te == RD_KAFKA_RESP_ERR_NO_ERROR)
				yl_log_info("kafka: %s: topic created",
				    rd_kafka_topic_result_name(tr[i]));
			else if (te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				snprintf(err, errsz, "topic %s: %s",
				    rd_kafka_topic_result_name(tr[i]),
				    rd_kafka_topic_result_error_string(tr[i]));
				rc = -1;
			}
		}
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	for (i = 0; i < 3; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	return rc;
}

/* ------------------------------------------------------ consumer lag */

struct yl_kafka_lag {
	struct yl_metrics	*m;
	char			*metric;
	char			**set;		/* labels of the series shown */
	size_t			 nset;
};

struct yl_kafka_lag *
yl_kafka_lag_new(struct yl_metrics *m, const char *metric, const char *help)
{
	struct yl_kafka_lag *l;

	if (yl_metrics_declare(m, YL_METRIC_GAUGE, metric, help, NULL, 0) ==
	    -1 || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->metric = strdup(metric)) == NULL) {
		free(l);
		return NULL;
	}
	l->m = m;
	return l;
}

static void
lag_forget(struct yl_kafka_lag *l)
{
	size_t i;

	for (i = 0; i < l->nset; i++)
		free(l->set[i]);
	free(l->set);
	l->set = NULL;
	l->nset = 0;
}

void
yl_kafka_lag_free(struct yl_kafka_lag **pl)
{
	if (pl == NULL || *pl == NULL)
		return;
	lag_forget(*pl);
	free((*pl)->metric);
	free(*pl);
	*pl = NULL;
}

void
yl_kafka_lag_clear(struct yl_kafka_lag *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nset; i++)
		yl_metrics_remove(l->m, l->metric, l->set[i]);
	lag_forget(l);
}

/* An integer member of o, or -1 when absent or negative. */
static long long
get_offset(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
	    json_integer_value(v) : -1;
}

/* The lag of one partition object of the statistics, or -1 unknown. */
static long long
partition_lag(json_t *p)
{
	long long lo, end;

	/*
	 * Stored: what this daemon has finished with (it stores offsets
	 * itself, only once a message is done). Committed: the same as of
	 * the last commit, all there is right after an assignment.
	 */
	if ((end = get_offset(p, "consumer_lag_stored")) >= 0 ||
	    (end = get_offset(p, "consumer_lag")) >= 0)
		return end;
	/*
	 * Neither: the group has finished nothing of this partition yet, so
	 * everything it holds is still to do (the daemons read a new group
	 * from the earliest offset). An empty partition is then 0 rather
	 * than unknown. The end is the last stable offset, which is the
	 * high watermark when no transactions write the topic.
	 */
	lo = get_offset(p, "lo_offset");
	if ((end = get_offset(p, "ls_offset")) < 0)
		end = get_offset(p, "hi_offset");
	return lo >= 0 && end >= lo ? end - lo : -1;
}

int
yl_kafka_lag_update(struct yl_kafka_lag *l, const char *json, size_t len)
{
	json_t *root, *topics, *t, *parts, *p;
	const char *tname, *pname;
	char **set = NULL, **grown, tq[512], labels[600];
	size_t nset = 0, cap = 0, i, j;
	long long lag;
	int n = 0;

	if (l == NULL)
		return -1;
	if ((root = json_loadb(json, len, 0, NULL)) == NULL)
		return -1;
	if (!json_is_object(topics = json_object_get(root, "topics"))) {
		json_decref(root);
		return -1;
	}
	json_object_foreach(topics, tname, t) {
		if (!json_is_object(parts = json_object_get(t, "partitions")) ||
		    yl_metrics_label_escape(tname, tq, sizeof(tq)) == -1)
			continue;
		json_object_foreach(parts, pname, p) {
			json_t *id = json_object_get(p, "partition");

			/* -1 is librdkafka's "unassigned" pseudo-partition. */
			if (!json_is_integer(id) || json_integer_value(id) < 0 ||
			    !json_is_true(json_object_get(p, "desired")) ||
			    (lag = partition_lag(p)) < 0)
				continue;
			snprintf(labels, sizeof(labels), "topic=%s,partition=\""
			    "%lld\"", tq, (long long)json_integer_value(id));
			if (nset == cap) {
				cap = cap ? cap * 2 : 16;
				if ((grown = realloc(set, cap * sizeof(*set))) ==
				    NULL)
					break;
				set = grown;
			}
			if ((set[nset] = strdup(labels)) == NULL)
				break;
			nset++;
			yl_metrics_gauge_set(l->m, l->metric, labels,
			    (double)lag);
			n++;
		}
	}
	json_decref(root);
	/* Partitions shown before but not owned (or known) now. */
	for (i = 0; i < l->nset; i++) {
		for (j = 0; j < nset; j++)
			if (strcmp(l->set[i], set[j]) == 0)
				break;
		if (j == nset)
			yl_metrics_remove(l->m, l->metric, l->set[i]);
	}
	lag_forget(l);
	l->set = set;
	l->nset = nset;
	return n;
}
