/*
 * store_metrics.c - yalu-store's Prometheus metrics: messages consumed,
 * reports written by outcome, batches and how long they take, dead
 * letters by reason, Kafka failures, the archive's size and the consumer
 * lag per partition.
 *
 * The series are created at start and kept as handles, so the loop never
 * looks one up, and a scrape shows every reason at 0 before it happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "yalu/kafka.h"

#include "sto_int.h"

/* Batch sizes, in messages: batch_size runs from 1 to 100000. */
static const double batch_buckets[] = {
	1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char *const dead_label[STO_DEAD_MAX] = {
	"reason=\"empty\"", "reason=\"undecodable\"", "reason=\"rejected\""
};

struct sto_metrics {
	struct yl_metrics	*reg;
	struct yl_metric	*consumed, *inserted, *updated, *kept;
	struct yl_metric	*batches, *batch_failed, *batch_s, *batch_n;
	struct yl_metric	*dead[STO_DEAD_MAX];
	struct yl_metric	*dlq_failed, *commit_failed;
	struct yl_metric	*bytes, *reports;
	struct yl_kafka_lag	*lag;
	time_t			 last_stat;
};

struct sto_metrics *
sto_metrics_new(const struct yl_metrics_conf *conf, char *err, size_t errsz)
{
	static const char written[] = "yalu_store_reports_written_total";
	static const char written_help[] = "Reports written to the archive, "
	    "by outcome (inserted, updated in place, kept because a newer "
	    "ruleset had tagged it)";
	struct sto_metrics *sm;
	struct yl_metrics *r;
	int i;

	if ((sm = calloc(1, sizeof(*sm))) == NULL) {
		snprintf(err, errsz, "metrics: out of memory");
		return NULL;
	}
	if ((sm->reg = r = yl_metrics_new(conf, err, errsz)) == NULL) {
		free(sm);
		return NULL;
	}
	sm->consumed = yl_metrics_counter(r, "yalu_store_consumed_total",
	    "Messages consumed from reports.tagged", NULL);
	sm->inserted = yl_metrics_counter(r, written, written_help,
	    "outcome=\"inserted\"");
	sm->updated = yl_metrics_counter(r, written, written_help,
	    "outcome=\"updated\"");
	sm->kept = yl_metrics_counter(r, written, written_help,
	    "outcome=\"kept_newer\"");
	for (i = 0; i < STO_DEAD_MAX; i++)
		sm->dead[i] = yl_metrics_counter(r,
		    "yalu_store_dead_letters_total",
		    "Messages sent to reports.dlq, by reason", dead_label[i]);
	sm->batches = yl_metrics_counter(r, "yalu_store_batches_total",
	    "Batches archived (one transaction each)", NULL);
	sm->batch_failed = yl_metrics_counter(r,
	    "yalu_store_batch_failures_total",
	    "Batches whose transaction failed (the daemon stops; Kafka "
	    "redelivers them)", NULL);
	sm->batch_s = yl_metrics_histogram(r, "yalu_store_batch_seconds",
	    "Time to write and commit one batch", NULL,
	    yl_metrics_latency_buckets, yl_metrics_latency_nbuckets);
	sm->batch_n = yl_metrics_histogram(r, "yalu_store_batch_messages",
	    "Messages per batch", NULL, batch_buckets,
	    sizeof(batch_buckets) / sizeof(batch_buckets[0]));
	sm->dlq_failed = yl_metrics_counter(r,
	    "yalu_store_delivery_failures_total",
	    "Dead letters Kafka did not confirm", NULL);
	sm->commit_failed = yl_metrics_counter(r,
	    "yalu_store_commit_failures_total",
	    "Offset commits to Kafka that failed", NULL);
	sm->bytes = yl_metrics_gauge(r, "yalu_store_archive_bytes",
	    "Size of the archive on disk: the database and its WAL file", NULL);
	sm->reports = yl_metrics_gauge(r, "yalu_store_archive_reports",
	    "Reports in the archive", NULL);
	sm->lag = yl_kafka_lag_new(r, "yalu_store_consumer_lag",
	    "Messages of reports.tagged past the offset stored as archived, "
	    "per partition this instance owns");
	return sm;
}

void
sto_metrics_free(struct sto_metrics **psm)
{
	if (psm == NULL || *psm == NULL)
		return;
	yl_kafka_lag_free(&(*psm)->lag);
	yl_metrics_free(&(*psm)->reg);
	free(*psm);
	*psm = NULL;
}

struct yl_metrics *
sto_metrics_registry(struct sto_metrics *sm)
{
	return sm != NULL ? sm->reg : NULL;
}

void
sto_metrics_consumed(struct sto_metrics *sm)
{
	if (sm != NULL)
		yl_metric_inc(sm->consumed);
}

void
sto_metrics_batch(struct sto_metrics *sm, long long inserted,
    long long updated, long long kept_newer, size_t messages, double seconds)
{
	if (sm == NULL)
		return;
	yl_metric_add(sm->inserted, (double)inserted);
	yl_metric_add(sm->updated, (double)updated);
	yl_metric_add(sm->kept, (double)kept_newer);
	yl_metric_inc(sm->batches);
	yl_metric_observe(sm->batch_s, seconds);
	yl_metric_observe(sm->batch_n, (double)messages);
}

void
sto_metrics_batch_failed(struct sto_metrics *sm)
{
	if (sm != NULL)
		yl_metric_inc(sm->batch_failed);
}

void
sto_metrics_dead(struct sto_metrics *sm, enum sto_dead_reason why)
{
	if (sm != NULL && (unsigned)why < STO_DEAD_MAX)
		yl_metric_inc(sm->dead[why]);
}

void
sto_metrics_delivery_failed(struct sto_metrics *sm)
{
	if (sm != NULL)
		yl_metric_inc(sm->dlq_failed);
}

void
sto_metrics_commit_failed(struct sto_metrics *sm)
{
	if (sm != NULL)
		yl_metric_inc(sm->commit_failed);
}

/* The size of path, 0 when it is not there (no -wal after a checkpoint). */
static double
file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

void
sto_metrics_archive(struct sto_metrics *sm, const char *db_path,
    long long reports, int force)
{
	char wal[4096];
	time_t now = time(NULL);

	if (sm == NULL)
		return;
	yl_metric_set(sm->reports, (double)reports);
	/* Two stats a second at most, however busy the loop. */
	if (!force && now == sm->last_stat)
		return;
	sm->last_stat = now;
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	yl_metric_set(sm->bytes, file_bytes(db_path) + file_bytes(wal));
}

void
sto_metrics_lag(struct sto_metrics *sm, const char *json, size_t len)
{
	if (sm != NULL)
		yl_kafka_lag_update(sm->lag, json, len);
}

void
sto_metrics_health(struct sto_metrics *sm, int ok, const char *why)
{
	if (sm != NULL)
		yl_metrics_set_health(sm->reg, ok, why);
}
