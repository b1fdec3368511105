/*
 * classify_kafka.c - the consumer of reports.raw and the producer of
 * reports.tagged and reports.dlq: handles, rebalances, delivery reports.
 *
 * At-least-once, as in librdkafka's INTRODUCTION.md: the consumer never
 * stores an offset by itself (enable.auto.offset.store=false); an offset
 * is stored from the delivery report of what it became, over the
 * contiguous confirmed prefix only (classify_offsets.c), and the stored
 * offsets are committed by auto-commit, at revoke and at shutdown. A
 * delivery that fails is produced again (the producer is idempotent);
 * a report is never skipped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "classifyd.h"

/* ------------------------------------------------------------ producer */

static void
store_offset(struct cls_daemon *d, int32_t p, int64_t off)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;

	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, d->conf.topics.raw.name,
	    p)->offset = off;
	err = rd_kafka_offsets_store(d->consumer, l);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		err = l->elems[0].err;
	/* __STATE: the partition went away meanwhile; its new owner redoes. */
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		yl_log_debug("kafka: %s [%" PRId32 "]: storing offset %" PRId64
		    ": %s", d->conf.topics.raw.name, p, off,
		    rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/* A job is over: its offset may count as processed. */
static void
job_done(struct cls_daemon *d, struct cls_job *j)
{
	int64_t off;

	yl_metric_observe(d->m.confirm_s, cls_clock() - j->t0);
	if (j->kind == CLS_JOB_TAGGED) {
		d->st.tagged++;
		yl_metric_inc(d->m.tagged);
		if (d->pub != NULL) {
			if (cls_pub_send(d->pub, j->topic, j->tagged,
			    j->taggedlen) == 0) {
				d->st.published++;
				yl_metric_inc(d->m.published);
			} else {
				yl_metric_inc(d->m.pub_dropped);
				if (d->st.pub_dropped++ % 1000 == 0)
					yl_log_warnx("publish: %s: subscriber too "
					    "slow, report %s dropped from the "
					    "live feed (%llu so far)",
					    cls_pub_endpoint(d->pub), j->id,
					    d->st.pub_dropped);
			}
		}
	} else {
		d->st.dead++;
		cls_metrics_dead(d, j->reason);
	}
	if (cls_trk_confirm(d->trk, j->partition, j->epoch, j->seq, &off) == 1)
		store_offset(d, j->partition, off);
	d->inflight--;
	cls_job_free(&j);
}

/* Drops a job whose partition is gone: its new owner consumes it again. */
static void
job_drop(struct cls_daemon *d, struct cls_job *j, const char *why)
{
	yl_log_debug("classify: report %s (%s [%" PRId32 "] offset %" PRId64
	    "): not confirmed: %s", j->id ? j->id : "without id",
	    d->conf.topics.raw.name, j->partition, j->offset, why);
	d->inflight--;
	cls_job_free(&j);
}

static void
retry_push(struct cls_daemon *d, struct cls_job *j, int delay_ms)
{
	j->retry_at = yl_now_ms() + delay_ms;
	j->next = NULL;
	if (d->retry_tail != NULL)
		d->retry_tail->next = j;
	else
		d->retry_head = j;
	d->retry_tail = j;
}

/* Back-off of the n-th retry: 100 ms doubling up to CLS_RETRY_MAX_MS. */
static int
backoff(int attempts)
{
	long long ms = 100LL << (attempts > 10 ? 10 : attempts);

	return ms > CLS_RETRY_MAX_MS ? CLS_RETRY_MAX_MS : (int)ms;
}

/* Errors that no retry cures: the message itself is refused. */
static int
too_large(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
	    err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

static const char *
job_topic(struct cls_daemon *d, const struct cls_job *j)
{
	return j->kind == CLS_JOB_TAGGED ? d->conf.topics.tagged.name :
	    d->conf.topics.dlq.name;
}

/* A produce or a delivery failed: decide between retry and dead letter. */
static void
job_failed(struct cls_daemon *d, struct cls_job *j, rd_kafka_resp_err_t err,
    const char *what)
{
	char why[512];

	if (d->closing || !cls_trk_current(d->trk, j->partition, j->epoch)) {
		job_drop(d, j, d->closing ? "shutting down" :
		    "partition revoked");
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		/* error_cb logged it; the loop exits, nothing is stored. */
		d->fatal = 1;
		job_drop(d, j, "fatal error");
		return;
	}
	if (j->kind == CLS_JOB_TAGGED && too_large(err)) {
		snprintf(why, sizeof(why), "tagged report is %zu bytes: %s",
		    j->taggedlen, rd_kafka_err2str(err));
		yl_log(YL_LOG_ERR, "classify: report %s (%s [%" PRId32 "] "
		    "offset %" PRId64 "): dead-lettered: %s", j->id ? j->id : "without id",
		    d->conf.topics.raw.name, j->partition, j->offset, why);
		if (cls_job_to_dlq(j, why, "tagged_too_large") == 0) {
			retry_push(d, j, 0);
			return;
		}
	}
	j->attempts++;
	d->st.retried++;
	yl_metric_inc(d->m.retries);
	/* One line per failure, but not one per retry of a stuck one. */
	if (j->attempts <= 3 || j->attempts % 20 == 0)
		yl_log_warnx("kafka: %s: %s of report %s (%s [%" PRId32 "] offset "
		    "%" PRId64 ") failed: %s; retry %d", job_topic(d, j), what,
		    j->id ? j->id : "without id", d->conf.topics.raw.name, j->partition,
		    j->offset, rd_kafka_err2str(err), j->attempts);
	retry_push(d, j, backoff(j->attempts));
}

/* Served by rd_kafka_poll() on the producer, on the loop's thread. */
static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct cls_daemon *d = opaque;
	struct cls_job *j = m->_private;

	(void)rk;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		yl_metric_inc(d->m.delivery_failed);
	if (j == NULL)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		job_done(d, j);
	else
		job_failed(d, j, m->err, "delivery");
}

void
cls_kafka_produce(struct cls_daemon *d, struct cls_job *j)
{
	rd_kafka_vu_t vu[6];
	rd_kafka_headers_t *h = NULL;
	rd_kafka_error_t *e;
	rd_kafka_resp_err_t err;
	const void *payload;
	size_t len, n = 0;

	if (j->kind == CLS_JOB_DLQ &&
	    (h = cls_dlq_headers(j, d->conf.topics.raw.name)) == NULL) {
		job_failed(d, j, RD_KAFKA_RESP_ERR__FAIL, "headers");
		return;
	}
	payload = cls_job_payload(j, &len);
	vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
	vu[n++].u.cstr = job_topic(d, j);
	vu[n].vtype = RD_KAFKA_VTYPE_KEY;
	vu[n].u.mem.ptr = j->key;
	vu[n++].u.mem.size = j->keylen;
	vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
	vu[n].u.mem.ptr = (void *)payload;
	vu[n++].u.mem.size = len;
	/* No copy: the job owns the bytes until its delivery report. */
	vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[n++].u.i = 0;
	vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
	vu[n++].u.ptr = j;
	if (h != NULL) {
		vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
		vu[n++].u.headers = h;
	}
	if ((e = rd_kafka_produceva(d->producer, vu, n)) == NULL)
		return;		/* the delivery report takes it from here */
	err = rd_kafka_error_code(e);
	rd_kafka_error_destroy(e);
	if (h != NULL)
		rd_kafka_headers_destroy(h);
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		/* librdkafka's queue is full: wait for deliveries, quietly. */
		retry_push(d, j, 100);
		return;
	}
	job_failed(d, j, err, "produce");
}

void
cls_kafka_retry_due(struct cls_daemon *d)
{
	struct cls_job *list = d->retry_head, *j;
	long long now = yl_now_ms();

	if (list == NULL)
		return;
	/* Produce may put a job back on the list: take the list first. */
	d->retry_head = d->retry_tail = NULL;
	while ((j = list) != NULL) {
		list = j->next;
		j->next = NULL;
		if (d->closing || !cls_trk_current(d->trk, j->partition,
		    j->epoch))
			job_drop(d, j, d->closing ? "shutting down" :
			    "partition revoked");
		else if (j->retry_at <= now)
			cls_kafka_produce(d, j);
		else
			retry_push(d, j, (int)(j->retry_at - now));
	}
}

size_t
cls_kafka_wait(struct cls_daemon *d, int32_t p, int wait_ms)
{
	long long deadline = yl_now_ms() + wait_ms;
	size_t left;

	for (;;) {
		left = p < 0 ? d->inflight : cls_trk_pending(d->trk, p);
		if (left == 0 || d->fatal || yl_now_ms() >= deadline)
			return left;
		rd_kafka_poll(d->producer, 50);
		cls_kafka_retry_due(d);
		yl_notify_watchdog();	/* a revoke or a drain is progress */
	}
}

rd_kafka_t *
cls_kafka_producer(struct cls_daemon *d, char *err, size_t errsz)
{
	const struct yl_kafka_set set[] = {
		YL_KAFKA_DURABLE,
		YL_KAFKA_DEFAULT("client.id", "yalu-classify"),
		YL_KAFKA_END
	};
	rd_kafka_conf_t *conf;

	if ((conf = yl_kafka_conf_with(&d->conf.kafka, set, "producer", err,
	    errsz)) == NULL)
		return NULL;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_opaque(conf, d);
	return yl_kafka_new(RD_KAFKA_PRODUCER, conf, "producer", err, errsz);
}

/* ------------------------------------------------------------ consumer */

/* "0,1,3" of the partitions of l, for logs. */
static void
parts_str(const rd_kafka_topic_partition_list_t *l, char *buf, size_t bufsz)
{
	size_t len = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < l->cnt && len < bufsz; i++) {
		n = snprintf(buf + len, bufsz - len, "%s%" PRId32, i ? "," : "",
		    l->elems[i].partition);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (l->cnt == 0)
		snprintf(buf, bufsz, "none");
}

static void
on_assign(struct cls_daemon *d, rd_kafka_t *rk,
    rd_kafka_topic_partition_list_t *parts, int coop)
{
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	char ps[512];
	int i;

	for (i = 0; i < parts->cnt; i++)
		if (cls_trk_assign(d->trk, parts->elems[i].partition) == -1) {
			yl_log_errx("classify: out of memory tracking "
			    "partitions");
			d->fatal = 1;
		}
	if (coop) {
		if ((e = rd_kafka_incremental_assign(rk, parts)) != NULL) {
			err = rd_kafka_error_code(e);
			yl_log_errx("kafka: incremental assign: %s",
			    rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
	} else if ((err = rd_kafka_assign(rk, parts)) != 0)
		yl_log_errx("kafka: assign: %s", rd_kafka_err2str(err));
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		d->fatal = 1;
	/* Under backpressure, new partitions wait like the others. */
	if (d->paused && d->paused_parts != NULL && parts->cnt > 0) {
		rd_kafka_pause_partitions(rk, parts);
		for (i = 0; i < parts->cnt; i++)
			rd_kafka_topic_partition_list_add(d->paused_parts,
			    parts->elems[i].topic, parts->elems[i].partition);
	}
	/* The cooperative protocol also assigns nothing, now and then. */
	parts_str(parts, ps, sizeof(ps));
	if (parts->cnt > 0)
		yl_log_info("kafka: %s: assigned partitions %s",
		    d->conf.topics.raw.name, ps);
	else
		yl_log_debug("kafka: %s: assigned no partitions",
		    d->conf.topics.raw.name);
}

static void
on_revoke(struct cls_daemon *d, rd_kafka_t *rk,
    rd_kafka_topic_partition_list_t *parts, int coop)
{
	rd_kafka_topic_partition_list_t *commit;
	rd_kafka_error_t *e;
	rd_kafka_resp_err_t err;
	int lost = rd_kafka_assignment_lost(rk), i;
	size_t left = 0;
	int32_t p;
	int64_t off;
	char ps[512];

	parts_str(parts, ps, sizeof(ps));
	yl_log_info("kafka: %s: partitions %s %s", d->conf.topics.raw.name, ps,
	    lost ? "lost" : "revoked");
	/*
	 * Nothing more of these partitions is processed (the loop handles
	 * each message at once, none waits). Let their in-flight produces
	 * finish, bounded: what stays unconfirmed is not stored, so the next
	 * owner tags it again (a duplicate, never a loss).
	 */
	commit = rd_kafka_topic_partition_list_new(parts->cnt);
	for (i = 0; i < parts->cnt; i++) {
		p = parts->elems[i].partition;
		if (!lost && !d->closing)
			left = cls_kafka_wait(d, p, d->revoke_wait_ms);
		else
			left = cls_trk_pending(d->trk, p);
		if (left > 0)
			yl_log_warnx("kafka: %s [%" PRId32 "]: %zu reports "
			    "unconfirmed at revoke; the next owner tags them "
			    "again", d->conf.topics.raw.name, p, left);
		if ((off = cls_trk_stored(d->trk, p)) >= 0)
			rd_kafka_topic_partition_list_add(commit,
			    d->conf.topics.raw.name, p)->offset = off;
	}
	/*
	 * A lost partition may already be someone else's: no commit. At
	 * shutdown the drain has just committed (and librdkafka refuses a
	 * commit from inside consumer_close with __DESTROY).
	 */
	if (!lost && !d->closing && commit->cnt > 0 && !d->fatal) {
		err = rd_kafka_commit(rk, commit, 0);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    err != RD_KAFKA_RESP_ERR__NO_OFFSET)
			yl_log_warnx("kafka: %s: commit at revoke: %s",
			    d->conf.topics.raw.name, rd_kafka_err2str(err));
	}
	rd_kafka_topic_partition_list_destroy(commit);
	for (i = 0; i < parts->cnt; i++)
		cls_trk_revoke(d->trk, parts->elems[i].partition);
	if (coop) {
		if ((e = rd_kafka_incremental_unassign(rk, parts)) != NULL) {
			yl_log_errx("kafka: incremental unassign: %s",
			    rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
	} else if ((err = rd_kafka_assign(rk, NULL)) != 0)
		yl_log_errx("kafka: unassign: %s", rd_kafka_err2str(err));
}

/* Served by rd_kafka_consumer_poll() (and close), on the loop's thread. */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct cls_daemon *d = opaque;
	const char *proto = rd_kafka_rebalance_protocol(rk);
	int coop = proto != NULL && strcmp(proto, "COOPERATIVE") == 0, i;

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		cls_metrics_rebalance(d, "assign");
		on_assign(d, rk, parts, coop);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		cls_metrics_rebalance(d, rd_kafka_assignment_lost(rk) ? "lost" :
		    "revoke");
		on_revoke(d, rk, parts, coop);
		break;
	default:
		cls_metrics_rebalance(d, "error");
		/* librdkafka: "must call rd_kafka_assign(rk, NULL)". */
		yl_log_errx("kafka: rebalance failed: %s", rd_kafka_err2str(err));
		for (i = 0; i < parts->cnt; i++)
			cls_trk_revoke(d->trk, parts->elems[i].partition);
		rd_kafka_assign(rk, NULL);
		break;
	}
}

/* librdkafka's statistics, served by consumer_poll: the lag gauges. */
static int
stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct cls_daemon *d = opaque;

	(void)rk;
	yl_kafka_lag_update(d->m.lag, json, len);
	return 0;	/* librdkafka frees json */
}

/* Lowers *wait_ms to half of the timeout property key. */
static void
revoke_bound(const rd_kafka_conf_t *conf, const char *key, int *wait_ms)
{
	char buf[32];
	size_t n = sizeof(buf);
	long v;

	if (rd_kafka_conf_get(conf, key, buf, &n) != RD_KAFKA_CONF_OK)
		return;
	v = strtol(buf, NULL, 10) / 2;
	if (v > 0 && v < *wait_ms)
		*wait_ms = (int)v;
}

rd_kafka_t *
cls_kafka_consumer(struct cls_daemon *d, char *err, size_t errsz)
{
	const struct yl_kafka_set set[] = {
		/* a new group tags the whole topic: reports.raw keeps all */
		YL_KAFKA_MEMBER(d->conf.group),
		YL_KAFKA_DEFAULT("client.id", "yalu-classify"),
		YL_KAFKA_LAG_STATS,
		YL_KAFKA_END
	};
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;

	if ((conf = yl_kafka_conf_with(&d->conf.kafka, set, "consumer", err,
	    errsz)) == NULL)
		return NULL;
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, d);
	/*
	 * The revoke callback blocks the group's next join: its wait must
	 * stay well inside the timeouts after which the coordinator gives
	 * up on a member (its commit would then fail: "Unknown member").
	 */
	d->revoke_wait_ms = CLS_REVOKE_WAIT_MS;
	revoke_bound(conf, "session.timeout.ms", &d->revoke_wait_ms);
	revoke_bound(conf, "max.poll.interval.ms", &d->revoke_wait_ms);
	if ((rk = yl_kafka_new(RD_KAFKA_CONSUMER, conf, "consumer", err,
	    errsz)) == NULL)
		return NULL;
	/* Logs, errors and rebalances all come through consumer_poll. */
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

void
cls_kafka_pause(struct cls_daemon *d, int pause)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	rd_kafka_resp_err_t err;

	if (pause == d->paused)
		return;
	/*
	 * Pausing drops what was prefetched; resuming fetches again from
	 * the last message handed to us + 1, so nothing is skipped. A pause
	 * outlives a revoke, so exactly what was paused is resumed, even
	 * partitions that went away and came back meanwhile.
	 */
	if (pause) {
		if (rd_kafka_assignment(d->consumer, &a) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			return;
		err = rd_kafka_pause_partitions(d->consumer, a);
		d->paused_parts = a;
	} else {
		a = d->paused_parts;
		err = a != NULL ? rd_kafka_resume_partitions(d->consumer, a) :
		    RD_KAFKA_RESP_ERR_NO_ERROR;
		if (a != NULL)
			rd_kafka_topic_partition_list_destroy(a);
		d->paused_parts = NULL;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		yl_log_warnx("kafka: %s: %s: %s", d->conf.topics.raw.name,
		    pause ? "pause" : "resume", rd_kafka_err2str(err));
	d->paused = pause;
	yl_log_info("classify: %zu reports in flight: %s consuming",
	    d->inflight, pause ? "pausing" : "resuming");
}

int
cls_kafka_fatal(struct cls_daemon *d)
{
	if (d->fatal)
		return 1;
	if ((d->producer != NULL &&
	    rd_kafka_fatal_error(d->producer, NULL, 0) != 0) ||
	    (d->consumer != NULL &&
	    rd_kafka_fatal_error(d->consumer, NULL, 0) != 0))
		d->fatal = 1;
	return d->fatal;
}
