/*
 * ing_metrics.c - yalu-ingest's Prometheus metrics: reports in by source,
 * acknowledged, refused by reason, delivery failures, spool outcomes, the
 * deliveries in flight and how long a sender waits for its answer.
 *
 * Every series is created here, at start, and kept as a handle: the
 * server's hot path (one report) costs a mutex and an add, never a lookup,
 * and a scrape shows a refusal reason at 0 before its first occurrence,
 * which is what a rate() or an alert on it needs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ingest.h"

struct ing_metrics {
	struct yl_metrics	*reg;
	struct yl_metric	*received[ING_SRC_MAX];
	struct yl_metric	*acked[ING_SRC_MAX];
	struct yl_metric	*failed[ING_SRC_MAX];
	struct yl_metric	*refused[ING_R_MAX];
	struct yl_metric	*spool[ING_SPOOL_MAX];
	struct yl_metric	*queue_full, *inflight, *ack_s;
};

static const char *const source_label[ING_SRC_MAX] = {
	"source=\"zmq\"", "source=\"spool\""
};

static const char *const spool_label[ING_SPOOL_MAX] = {
	"outcome=\"done\"", "outcome=\"rejected\"", "outcome=\"retry\""
};

struct ing_metrics *
ing_metrics_new(const struct yl_metrics_conf *conf, char *err, size_t errsz)
{
	struct ing_metrics *im;
	struct yl_metrics *r;
	char labels[64];
	int i;

	if ((im = calloc(1, sizeof(*im))) == NULL) {
		snprintf(err, errsz, "metrics: out of memory");
		return NULL;
	}
	if ((im->reg = r = yl_metrics_new(conf, err, errsz)) == NULL) {
		free(im);
		return NULL;
	}
	for (i = 0; i < ING_SRC_MAX; i++) {
		im->received[i] = yl_metrics_counter(r,
		    "yalu_ingest_received_total",
		    "Reports received (requests and spool files), by source",
		    source_label[i]);
		im->acked[i] = yl_metrics_counter(r,
		    "yalu_ingest_acknowledged_total",
		    "Reports Kafka confirmed (the sender got ok), by source",
		    source_label[i]);
		im->failed[i] = yl_metrics_counter(r,
		    "yalu_ingest_delivery_failures_total",
		    "Reports Kafka did not take (the sender got err delivery "
		    "failed), by source", source_label[i]);
	}
	for (i = 1; i < ING_R_MAX; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
		    ing_refusal_name(i));
		im->refused[i] = yl_metrics_counter(r,
		    "yalu_ingest_refused_total",
		    "Reports refused at the door, by reason", labels);
	}
	for (i = 0; i < ING_SPOOL_MAX; i++)
		im->spool[i] = yl_metrics_counter(r,
		    "yalu_ingest_spool_files_total",
		    "Spool files by outcome: done/, rejected/, or kept in "
		    "incoming/ for a retry", spool_label[i]);
	im->queue_full = yl_metrics_counter(r,
	    "yalu_ingest_queue_full_total",
	    "Times librdkafka's queue was full and ingest backed off", NULL);
	im->inflight = yl_metrics_gauge(r, "yalu_ingest_inflight",
	    "Reports handed to Kafka and not yet confirmed", NULL);
	im->ack_s = yl_metrics_histogram(r, "yalu_ingest_ack_seconds",
	    "From a report received to Kafka's confirmation of it", NULL,
	    yl_metrics_latency_buckets, yl_metrics_latency_nbuckets);
	return im;
}

void
ing_metrics_free(struct ing_metrics **pim)
{
	if (pim == NULL || *pim == NULL)
		return;
	yl_metrics_free(&(*pim)->reg);
	free(*pim);
	*pim = NULL;
}

struct yl_metrics *
ing_metrics_registry(struct ing_metrics *im)
{
	return im != NULL ? im->reg : NULL;
}

/* Every call takes a NULL im (a server built without metrics, in tests). */

void
ing_metrics_received(struct ing_metrics *im, enum ing_source src)
{
	if (im != NULL && (unsigned)src < ING_SRC_MAX)
		yl_metric_inc(im->received[src]);
}

void
ing_metrics_refused(struct ing_metrics *im, enum ing_refusal why)
{
	if (im != NULL && why > ING_OK && why < ING_R_MAX)
		yl_metric_inc(im->refused[why]);
}

void
ing_metrics_delivered(struct ing_metrics *im, enum ing_source src, int ok,
    double seconds)
{
	if (im == NULL || (unsigned)src >= ING_SRC_MAX)
		return;
	yl_metric_inc(ok ? im->acked[src] : im->failed[src]);
	if (ok)
		yl_metric_observe(im->ack_s, seconds);
}

void
ing_metrics_queue_full(struct ing_metrics *im)
{
	if (im != NULL)
		yl_metric_inc(im->queue_full);
}

void
ing_metrics_spool(struct ing_metrics *im, enum ing_spool_outcome oc)
{
	if (im != NULL && (unsigned)oc < ING_SPOOL_MAX)
		yl_metric_inc(im->spool[oc]);
}

void
ing_metrics_inflight(struct ing_metrics *im, size_t n)
{
	if (im != NULL)
		yl_metric_set(im->inflight, (double)n);
}

void
ing_metrics_health(struct ing_metrics *im, int ok, const char *why)
{
	if (im != NULL)
		yl_metrics_set_health(im->reg, ok, why);
}
