/*
 * classify_daemon.c - yalu-classify's loop, one step at a time: a message
 * in, its tagged report (or dead letter) out; reload on SIGHUP; drain on
 * SIGTERM. Single-threaded: librdkafka's callbacks run inside the polls
 * made here, so a taxonomy swap always falls between two messages.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "classifyd.h"

double
cls_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The daemon's metric families, all yalu_classify_*. The hot series get
 * handles; the labelled ones (dead letters by reason, rebalances, reloads)
 * are rare and go by name.
 */
static void
metrics_declare(struct cls_daemon *d)
{
	struct yl_metrics *r = d->metrics;

	d->m.consumed = yl_metrics_counter(r, "yalu_classify_consumed_total",
	    "Messages consumed from reports.raw", NULL);
	d->m.tagged = yl_metrics_counter(r, "yalu_classify_tagged_total",
	    "Tagged reports confirmed on reports.tagged", NULL);
	yl_metrics_declare(r, YL_METRIC_COUNTER,
	    "yalu_classify_dead_letters_total",
	    "Messages confirmed on reports.dlq, by reason", NULL, 0);
	d->m.retries = yl_metrics_counter(r,
	    "yalu_classify_produce_retries_total",
	    "Produces retried after a failed delivery", NULL);
	d->m.published = yl_metrics_counter(r,
	    "yalu_classify_feed_published_total",
	    "Tagged reports sent on the live feed", NULL);
	d->m.pub_dropped = yl_metrics_counter(r,
	    "yalu_classify_feed_dropped_total",
	    "Tagged reports dropped from the live feed (slow subscriber)",
	    NULL);
	d->m.inflight = yl_metrics_gauge(r, "yalu_classify_inflight",
	    "Reports consumed whose produce is not yet confirmed", NULL);
	d->m.paused = yl_metrics_gauge(r, "yalu_classify_paused",
	    "1 while consuming is paused for backpressure", NULL);
	d->m.classify_s = yl_metrics_histogram(r, "yalu_classify_seconds",
	    "Time to decode and tag one report", NULL,
	    yl_metrics_latency_buckets, yl_metrics_latency_nbuckets);
	d->m.confirm_s = yl_metrics_histogram(r,
	    "yalu_classify_confirm_seconds",
	    "From consumed to confirmed by Kafka (tagged or dead letter)",
	    NULL, yl_metrics_latency_buckets, yl_metrics_latency_nbuckets);
	yl_metrics_declare(r, YL_METRIC_COUNTER, "yalu_classify_rebalances_total",
	    "Rebalance events of the consumer, by type", NULL, 0);
	yl_metrics_declare(r, YL_METRIC_COUNTER, "yalu_classify_reloads_total",
	    "SIGHUP reloads, by result", NULL, 0);
	d->m.delivery_failed = yl_metrics_counter(r,
	    "yalu_classify_delivery_failures_total",
	    "Delivery reports with an error (each is retried or its partition "
	    "was revoked)", NULL);
	/* NULL only without memory: the lag is then not shown, no worse. */
	d->m.lag = yl_kafka_lag_new(r, "yalu_classify_consumer_lag",
	    "Messages of reports.raw past the offset stored as done, per "
	    "partition this instance owns");
}

void
cls_metrics_dead(struct cls_daemon *d, const char *code)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "reason=\"%s\"",
	    code != NULL ? code : "unknown");
	yl_metrics_counter_add(d->metrics, "yalu_classify_dead_letters_total",
	    labels, 1);
}

void
cls_metrics_rebalance(struct cls_daemon *d, const char *type)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "type=\"%s\"", type);
	yl_metrics_counter_add(d->metrics, "yalu_classify_rebalances_total",
	    labels, 1);
}

struct cls_daemon *
cls_daemon_new(const char *config_path, struct cls_conf *conf,
    struct yl_tax **tax, char *err, size_t errsz)
{
	struct cls_daemon *d;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	d->config_path = config_path;
	d->conf = *conf;
	memset(conf, 0, sizeof(*conf));
	d->tax = *tax;
	*tax = NULL;
	if ((d->cls = yl_cls_new(d->tax, err, errsz)) == NULL)
		goto fail;
	/* A thread: after yl_daemon_detach(), which main() did. */
	if ((d->metrics = yl_metrics_new(&d->conf.metrics, err, errsz)) ==
	    NULL)
		goto fail;
	metrics_declare(d);
	if ((d->trk = cls_trk_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if ((d->producer = cls_kafka_producer(d, err, errsz)) == NULL ||
	    (d->consumer = cls_kafka_consumer(d, err, errsz)) == NULL)
		goto fail;
	if (d->conf.publish[0] != '\0' && (d->pub = cls_pub_new(
	    d->conf.publish, CLS_PUB_HWM, err, errsz)) == NULL)
		goto fail;
	return d;
fail:
	cls_daemon_free(&d);
	return NULL;
}

void
cls_daemon_free(struct cls_daemon **pd)
{
	struct cls_daemon *d;
	struct cls_job *j;

	if (pd == NULL || (d = *pd) == NULL)
		return;
	d->closing = 1;
	if (d->producer != NULL) {
		/*
		 * Every job still queued comes back in a delivery report and
		 * is freed there; the consumer must outlive them.
		 */
		rd_kafka_purge(d->producer, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(d->producer, 1000);
		rd_kafka_destroy(d->producer);
		d->producer = NULL;
	}
	if (d->consumer != NULL)
		rd_kafka_destroy(d->consumer);
	while ((j = d->retry_head) != NULL) {
		d->retry_head = j->next;
		cls_job_free(&j);
	}
	if (d->paused_parts != NULL)
		rd_kafka_topic_partition_list_destroy(d->paused_parts);
	/* Last: the delivery reports above still count. */
	yl_kafka_lag_free(&d->m.lag);
	yl_metrics_free(&d->metrics);
	cls_pub_free(&d->pub);
	cls_trk_free(&d->trk);
	yl_cls_free(&d->cls);
	yl_tax_free(&d->tax);
	cls_conf_release(&d->conf);
	free(d);
	*pd = NULL;
}

int
cls_daemon_start(struct cls_daemon *d)
{
	char e[1024];
	int i;

	/* The broker may come up after us: wait for it, until told to stop. */
	while (yl_kafka_ensure_topics(d->producer, &d->conf.topics, 10000, e,
	    sizeof(e)) == -1) {
		yl_log_warnx("kafka: %s; retrying in 2 s", e);
		for (i = 0; i < 20 && !yl_sig_term; i++) {
			usleep(100000);
			yl_notify_watchdog();
		}
		if (yl_sig_term)
			return -1;
		if (cls_kafka_fatal(d))
			return -1;
	}
	return cls_daemon_subscribe(d);
}

int
cls_daemon_subscribe(struct cls_daemon *d)
{
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t err;

	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, d->conf.topics.raw.name,
	    RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(d->consumer, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		yl_log_errx("kafka: %s: subscribe: %s", d->conf.topics.raw.name,
		    rd_kafka_err2str(err));
		return -1;
	}
	yl_metrics_set_health(d->metrics, 1, NULL);
	yl_log_info("classify: consuming %s in group %s, ruleset %s, tagged "
	    "to %s, dead letters to %s, live feed %s", d->conf.topics.raw.name,
	    d->conf.group, yl_tax_ruleset(d->tax), d->conf.topics.tagged.name,
	    d->conf.topics.dlq.name, d->pub ? cls_pub_endpoint(d->pub) :
	    "off");
	return 0;
}

/* Is the key fit for a log line (short printable ASCII)? */
static int
key_printable(const void *key, size_t len)
{
	const unsigned char *k = key;
	size_t i;

	if (k == NULL || len == 0 || len > 200)
		return 0;
	for (i = 0; i < len; i++)
		if (k[i] <= 0x20 || k[i] >= 0x7f)
			return 0;
	return 1;
}

/* One consumed message: tag it or dead-letter it, and produce. */
static void
handle_message(struct cls_daemon *d, rd_kafka_message_t *m)
{
	struct cls_tagged t;
	struct cls_job *j;
	char why[1024];
	uint32_t epoch;
	uint64_t seq;
	double t0;
	int rc;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			return;
		if (m->err == RD_KAFKA_RESP_ERR__FATAL)
			d->fatal = 1;
		/* Anything else is transient: librdkafka recovers. */
		yl_log(m->err == RD_KAFKA_RESP_ERR__FATAL ? YL_LOG_ERR :
		    YL_LOG_WARNING, "kafka: %s: %s", m->rkt ?
		    rd_kafka_topic_name(m->rkt) : "consumer",
		    rd_kafka_message_errstr(m));
		return;
	}
	d->st.consumed++;
	yl_metric_inc(d->m.consumed);
	if (cls_trk_add(d->trk, m->partition, m->offset, &epoch, &seq) ==
	    -1) {
		/* Not ours (or no memory): not stored, so consumed again. */
		yl_log_warnx("kafka: %s [%" PRId32 "] offset %" PRId64 ": "
		    "partition not assigned, message left for its owner",
		    d->conf.topics.raw.name, m->partition, m->offset);
		return;
	}
	t0 = cls_clock();
	rc = cls_tag_message(d->cls, m->payload, m->len, m->key, m->key_len,
	    (size_t)d->conf.max_report_bytes, &t, why, sizeof(why));
	yl_metric_observe(d->m.classify_s, cls_clock() - t0);
	if ((j = cls_job_new(m->partition, m->offset, m->key, m->key_len,
	    m->payload, m->len, rc == 0 ? NULL : why)) == NULL) {
		/* Its offset stays unconfirmed: nothing is stored past it. */
		yl_log_errx("classify: out of memory");
		cls_tagged_clear(&t);
		d->fatal = 1;
		return;
	}
	j->epoch = epoch;
	j->seq = seq;
	j->t0 = t0;
	j->reason = t.reason;
	if (rc == 0)
		cls_job_set_tagged(j, &t);
	else {
		j->id = t.id;
		t.id = NULL;
		cls_tagged_clear(&t);
		/* Undecodable: the key is the report id (ingest's contract). */
		if (j->id == NULL && key_printable(m->key, m->key_len))
			j->id = strndup(m->key, m->key_len);
		yl_log_warnx("classify: report %s (%s [%" PRId32 "] offset %"
		    PRId64 "): dead-lettered: %s", j->id ? j->id : "without id",
		    d->conf.topics.raw.name, m->partition, m->offset, why);
	}
	d->inflight++;
	cls_kafka_produce(d, j);
}

void
cls_daemon_step(struct cls_daemon *d, int timeout_ms)
{
	rd_kafka_message_t *m;
	size_t max = (size_t)d->conf.max_inflight;

	/* Delivery reports first: they free room and store offsets. */
	rd_kafka_poll(d->producer, 0);
	cls_kafka_retry_due(d);
	if (!d->paused && d->inflight >= max)
		cls_kafka_pause(d, 1);
	else if (d->paused && d->inflight <= max / 2)
		cls_kafka_pause(d, 0);
	if (d->paused) {
		/* Wait on deliveries; the consumer still serves rebalances. */
		rd_kafka_poll(d->producer, timeout_ms);
		timeout_ms = 0;
	}
	if ((m = rd_kafka_consumer_poll(d->consumer, timeout_ms)) != NULL) {
		handle_message(d, m);
		rd_kafka_message_destroy(m);
	}
	yl_metric_set(d->m.inflight, (double)d->inflight);
	yl_metric_set(d->m.paused, d->paused);
	if (cls_kafka_fatal(d))
		yl_metrics_set_health(d->metrics, 0, "kafka: fatal error");
	yl_notify_watchdog();
	cls_daemon_status(d, 0);
}

/* Logs every line of a multi-line error text. */
static void
log_lines(int prio, const char *prefix, const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		yl_log(prio, "%s%.*s", prefix, nl ? (int)(nl - p) : (int)strlen(p),
		    p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* Settings that only a restart can change. */
static int
needs_restart(const struct cls_conf *a, const struct cls_conf *b)
{
	const struct yl_topic *ta[3] = { &a->topics.raw, &a->topics.tagged,
	    &a->topics.dlq };
	const struct yl_topic *tb[3] = { &b->topics.raw, &b->topics.tagged,
	    &b->topics.dlq };
	size_t i;

	if (strcmp(a->group, b->group) != 0 || a->kafka.n != b->kafka.n)
		return 1;
	for (i = 0; i < a->kafka.n; i++)
		if (strcmp(a->kafka.key[i], b->kafka.key[i]) != 0 ||
		    strcmp(a->kafka.val[i], b->kafka.val[i]) != 0)
			return 1;
	for (i = 0; i < 3; i++)
		if (strcmp(ta[i]->name, tb[i]->name) != 0)
			return 1;
	if (a->metrics.port != b->metrics.port ||
	    strcmp(a->metrics.address ? a->metrics.address : "",
	    b->metrics.address ? b->metrics.address : "") != 0)
		return 1;
	return 0;
}

/* Moves the live feed to the new endpoint; on failure the feed is off. */
static void
reload_publish(struct cls_daemon *d, const char *endpoint)
{
	char e[512];

	if (d->pub != NULL && strcmp(cls_pub_endpoint(d->pub), endpoint) == 0)
		return;
	if (d->pub == NULL && endpoint[0] == '\0')
		return;
	/* The old socket goes first: the new one may want its port. */
	cls_pub_free(&d->pub);
	if (endpoint[0] == '\0') {
		yl_log_info("publish: live feed off");
		return;
	}
	if ((d->pub = cls_pub_new(endpoint, CLS_PUB_HWM, e, sizeof(e))) ==
	    NULL)
		yl_log_errx("%s; live feed off", e);
	else
		yl_log_info("publish: live feed on %s", endpoint);
}

void
cls_daemon_reload(struct cls_daemon *d)
{
	static char e[65536];
	struct cls_conf nc;
	struct yl_errs errs = { 0 };
	struct yl_tax *tax;
	struct yl_cls *cls;
	const char *dir;

	yl_sig_hup = 0;
	yl_notify_reloading();
	memset(&nc, 0, sizeof(nc));
	if (cls_conf_load(d->config_path, &nc, &errs) == -1) {
		yl_log_errx("reload: %s rejected, keeping the running "
		    "configuration and ruleset %s:", d->config_path,
		    yl_tax_ruleset(d->tax));
		log_lines(YL_LOG_ERR, "reload: ", errs.buf ? errs.buf : "?");
		goto failed;
	}
	dir = cls_conf_taxonomy(&nc);
	if ((tax = yl_tax_load(dir, e, sizeof(e))) == NULL) {
		yl_log_errx("taxonomy: %s rejected, keeping ruleset %s:", dir,
		    yl_tax_ruleset(d->tax));
		log_lines(YL_LOG_ERR, "taxonomy: ", e);
		goto failed;
	}
	if ((cls = yl_cls_new(tax, e, sizeof(e))) == NULL) {
		yl_log_errx("taxonomy: %s: %s, keeping ruleset %s", dir, e,
		    yl_tax_ruleset(d->tax));
		yl_tax_free(&tax);
		goto failed;
	}
	/* Between two messages: the next one is tagged by the new rules. */
	yl_log_info("taxonomy: ruleset %s loaded from %s (was %s)",
	    yl_tax_ruleset(tax), dir, yl_tax_ruleset(d->tax));
	yl_cls_free(&d->cls);
	yl_tax_free(&d->tax);
	d->cls = cls;
	d->tax = tax;
	if (needs_restart(&d->conf, &nc))
		yl_log_warnx("reload: kafka, group, topic and metrics changes "
		    "take effect at the next restart");
	reload_publish(d, nc.publish);
	d->conf.max_inflight = nc.max_inflight;
	d->conf.max_report_bytes = nc.max_report_bytes;
	free(d->conf.taxonomy);
	d->conf.taxonomy = nc.taxonomy;
	nc.taxonomy = NULL;
	free(d->conf.publish);
	d->conf.publish = nc.publish;
	nc.publish = NULL;
	yl_metrics_counter_add(d->metrics, "yalu_classify_reloads_total",
	    "result=\"ok\"", 1);
	goto out;
failed:
	yl_metrics_counter_add(d->metrics, "yalu_classify_reloads_total",
	    "result=\"failed\"", 1);
out:
	cls_conf_release(&nc);
	yl_errs_clear(&errs);
	yl_notify_reloaded();
	cls_daemon_status(d, 1);
}

void
cls_daemon_status(struct cls_daemon *d, int force)
{
	long long now = yl_now_ms();

	if (!force && now - d->last_status < 5000)
		return;
	d->last_status = now;
	yl_notify_status("ruleset %s; %llu consumed, %llu tagged, %llu "
	    "dead-lettered, %zu in flight, %llu retries; feed %llu sent, %llu "
	    "dropped%s", yl_tax_ruleset(d->tax), d->st.consumed, d->st.tagged,
	    d->st.dead, d->inflight, d->st.retried, d->st.published,
	    d->st.pub_dropped, d->paused ? "; paused" : "");
}

int
cls_daemon_drain(struct cls_daemon *d)
{
	rd_kafka_resp_err_t err;
	size_t left = 0;
	int rc = 0;

	/* No more consumer_poll: nothing new is taken. */
	yl_metrics_set_health(d->metrics, 0, "stopping");
	yl_log_info("classify: stopping, %zu reports in flight", d->inflight);
	if (!cls_kafka_fatal(d))
		left = cls_kafka_wait(d, -1, CLS_DRAIN_WAIT_MS);
	if (left > 0) {
		yl_log_errx("classify: %zu reports unconfirmed after %d s; "
		    "their offsets are not committed, they will be tagged "
		    "again", left, CLS_DRAIN_WAIT_MS / 1000);
		rc = 1;
	}
	/* From here on an unconfirmed report is dropped, not retried. */
	d->closing = 1;
	if (!cls_kafka_fatal(d)) {
		err = rd_kafka_commit(d->consumer, NULL, 0);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
			yl_log_errx("kafka: %s: commit: %s",
			    d->conf.topics.raw.name, rd_kafka_err2str(err));
			rc = 1;
		}
	}
	/* Revokes (rebalance_cb commits again), leaves the group. */
	err = rd_kafka_consumer_close(d->consumer);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		yl_log_errx("kafka: consumer close: %s", rd_kafka_err2str(err));
		rc = 1;
	}
	if (cls_kafka_fatal(d))
		rc = 1;
	yl_metric_set(d->m.inflight, (double)d->inflight);
	yl_log_info("classify: stopped: %llu consumed, %llu tagged, %llu "
	    "dead-lettered, %llu retries; feed %llu sent, %llu dropped",
	    d->st.consumed, d->st.tagged, d->st.dead, d->st.retried,
	    d->st.published, d->st.pub_dropped);
	return rc;
}
