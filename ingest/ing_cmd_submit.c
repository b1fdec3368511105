/*
 * ing_cmd_submit.c - `yalu submit [--endpoint E] [--parallel N]
 * [--timeout S] FILE...`: sends report files to yalu-ingest.
 *
 *   *.txt    one report: [{"title": <basename>}, raw body]
 *   *.json   one report object, sent as it is
 *   *.jsonl  one report object per line
 *
 * Each of N DEALER sockets carries one request at a time, REQ style (an
 * empty delimiter frame first), so N reports are in flight. Every report
 * gets one line on stdout, "<file>: ok <id>" or "<file>: err <reason>"
 * (jsonl: "<file>:<line>: ..."), in the order the answers come. Once a
 * report has timed out, the rest are not sent ("err not sent: ..."). Exit 1
 * if any report was refused, timed out or not sent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "yalu/daemon.h"

#include "ingest.h"

#define MAX_PARALLEL	256

/* One request: its label for the output and its frames (owned). */
struct job {
	char	*label;
	size_t	 n;
	char	*data[32];
	size_t	 len[32];
};

/* Walks the files, yielding one job per report. */
struct feeder {
	char	**files;
	int	  nfiles, next;
	char	 *buf;		/* current .jsonl file */
	size_t	  len, off;
	int	  line;
	const char *name;
	int	  raw;		/* --raw: all files are one request */
	int	  failed;	/* local errors, already printed */
};

struct slot {
	void		*sock;
	int		 busy;
	long long	 deadline;
	struct job	 job;
};

static void
job_clear(struct job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		free(j->data[i]);
	free(j->label);
	memset(j, 0, sizeof(*j));
}

/* Reads a whole file; NULL with errno set. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp;
	char *buf = NULL, *p;
	size_t cap = 0, n;

	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (*len + 65536 > cap) {
			cap = cap ? cap * 2 : 65536;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(fp);
				errno = ENOMEM;
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		free(buf);
		fclose(fp);
		errno = EIO;
		return NULL;
	}
	fclose(fp);
	return buf;
}

static int
has_suffix(const char *name, const char *suf)
{
	size_t n = strlen(name), s = strlen(suf);

	return n > s && strcmp(name + n - s, suf) == 0;
}

/* A report that could not even be sent: one line, like an answer. */
static void __attribute__((format(printf, 3, 4)))
local_error(struct feeder *fd, const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("%s: err ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	fd->failed = 1;
}

/* Sets job's label and its frames (one frame owns buf). */
static int
job_set(struct job *j, const char *label, char *meta, size_t metalen,
    char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	if ((j->label = strdup(label)) == NULL)
		return -1;
	if (meta != NULL) {
		j->data[j->n] = meta;
		j->len[j->n++] = metalen;
	}
	j->data[j->n] = buf;
	j->len[j->n++] = len;
	return 0;
}

/* The next line of the current .jsonl file as a job; 0 at its end. */
static int
next_line(struct feeder *fd, struct job *j)
{
	char label[4096], *copy;

	while (fd->off < fd->len) {
		const char *s = fd->buf + fd->off, *nl;
		size_t n;

		nl = memchr(s, '\n', fd->len - fd->off);
		n = nl ? (size_t)(nl - s) : fd->len - fd->off;
		fd->off += n + (nl != NULL);
		fd->line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (strspn(s, " \t") >= n)
			continue;	/* blank lines separate nothing */
		snprintf(label, sizeof(label), "%s:%d", fd->name, fd->line);
		if ((copy = malloc(n + 1)) == NULL)
			return -1;
		memcpy(copy, s, n);
		if (job_set(j, label, NULL, 0, copy, n) == -1) {
			free(copy);
			return -1;
		}
		return 1;
	}
	free(fd->buf);
	fd->buf = NULL;
	return 0;
}

/* {"title": basename}, the meta frame of a .txt file. */
static char *
txt_meta(const char *path, size_t *len)
{
	const char *base = strrchr(path, '/');
	json_t *o = json_object(), *t;
	char *s;

	base = base ? base + 1 : path;
	/* A name that is not UTF-8 makes no title. */
	if ((t = json_string(base)) != NULL)
		json_object_set_new(o, "title", t);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	*len = s ? strlen(s) : 0;
	return s;
}

/*
 * The next job. Returns 1 with *j filled, 0 when every file is done, -1
 * when out of memory. Unreadable files are reported and skipped.
 */
static int
next_job(struct feeder *fd, struct job *j)
{
	int rc;

	if (fd->raw) {
		/* --raw: every file is one frame of a single request. */
		if (fd->next > 0)
			return 0;
		memset(j, 0, sizeof(*j));
		j->label = strdup("raw");
		for (fd->next = 0; fd->next < fd->nfiles; fd->next++) {
			const char *f = fd->files[fd->next];

			if (j->n == 32 ||
			    (j->data[j->n] = slurp(f, &j->len[j->n])) == NULL) {
				local_error(fd, f, "cannot read: %s", j->n == 16 ?
				    "more than 32 frames" : strerror(errno));
				job_clear(j);
				fd->next = fd->nfiles + 1;
				return 0;
			}
			j->n++;
		}
		fd->next = fd->nfiles + 1;
		return j->label != NULL ? 1 : -1;
	}
	for (;;) {
		const char *f;
		char *buf, *meta;
		size_t len, mlen;

		if (fd->buf != NULL && (rc = next_line(fd, j)) != 0)
			return rc;
		if (fd->next >= fd->nfiles)
			return 0;
		f = fd->files[fd->next++];
		if (!has_suffix(f, ".txt") && !has_suffix(f, ".json") &&
		    !has_suffix(f, ".jsonl")) {
			local_error(fd, f, "%s", "unknown file type (expected "
			    ".txt, .json or .jsonl)");
			continue;
		}
		if ((buf = slurp(f, &len)) == NULL) {
			local_error(fd, f, "cannot read: %s", strerror(errno));
			continue;
		}
		if (has_suffix(f, ".jsonl")) {
			fd->buf = buf;
			fd->len = len;
			fd->off = 0;
			fd->line = 0;
			fd->name = f;
			continue;
		}
		meta = NULL;
		mlen = 0;
		if (has_suffix(f, ".txt") && (meta = txt_meta(f, &mlen)) ==
		    NULL) {
			free(buf);
			return -1;
		}
		if (job_set(j, f, meta, mlen, buf, len) == -1) {
			free(meta);
			free(buf);
			return -1;
		}
		return 1;
	}
}

static void *
dealer(void *ctx, const char *endpoint, int timeout_s)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, sndtimeo = timeout_s * 1000;

	if (s == NULL)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof(sndtimeo));
	if (zmq_connect(s, endpoint) == -1) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

/* [empty, frames...]; 0 or -1. */
static int
send_job(struct slot *sl)
{
	size_t i;

	/* --raw with no file: the delimiter alone is the request. */
	if (zmq_send(sl->sock, "", 0, sl->job.n > 0 ? ZMQ_SNDMORE : 0) == -1)
		return -1;
	for (i = 0; i < sl->job.n; i++)
		if (zmq_send(sl->sock, sl->job.data[i], sl->job.len[i],
		    i + 1 < sl->job.n ? ZMQ_SNDMORE : 0) == -1)
			return -1;
	return 0;
}

/* Reads [empty, reply] and prints it; returns 1 if it was "ok". */
static int
read_reply(struct slot *sl)
{
	zmq_msg_t m[3];
	size_t n = 0, i;
	int ok = 0, more = 1;

	while (more) {
		zmq_msg_t tmp, *dst = n < 3 ? &m[n] : &tmp;

		zmq_msg_init(dst);
		if (zmq_msg_recv(dst, sl->sock, 0) == -1) {
			zmq_msg_close(dst);
			break;
		}
		more = zmq_msg_more(dst);
		if (dst == &tmp)
			zmq_msg_close(&tmp);
		n++;
	}
	if (n == 2 && zmq_msg_size(&m[0]) == 0) {
		const char *s = zmq_msg_data(&m[1]);
		size_t len = zmq_msg_size(&m[1]);

		ok = len > 3 && memcmp(s, "ok ", 3) == 0;
		printf("%s: %.*s\n", sl->job.label, (int)len, s);
	} else
		printf("%s: err malformed answer (%zu frames)\n", sl->job.label,
		    n);
	fflush(stdout);
	for (i = 0; i < n && i < 3; i++)
		zmq_msg_close(&m[i]);
	return ok;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: yalu submit [--endpoint E] [--parallel N] "
	    "[--timeout S] [--raw] FILE...\n"
	    "  FILE        .txt (one report, title = file name), .json (one "
	    "report object)\n"
	    "              or .jsonl (one report object per line)\n"
	    "  --endpoint  yalu-ingest's ZeroMQ endpoint (default "
	    "$YALU_INGEST or %s)\n"
	    "  --parallel  reports in flight at once (default 4)\n"
	    "  --timeout   seconds to wait for each answer (default 120)\n"
	    "  --raw       send the FILEs' contents unchecked as the frames "
	    "of one request\n"
	    "              (for testing the door)\n", ING_DEFAULT_ENDPOINT);
}

int
ing_cmd_submit(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct slot sl[MAX_PARALLEL];
	zmq_pollitem_t items[MAX_PARALLEL];
	struct feeder fd;
	const char *endpoint = getenv("YALU_INGEST");
	char *end;
	void *ctx;
	long v;
	int ch, parallel = 4, timeout = 120, nsl, i, busy, more = 1, rc;
	int failed = 0, gone = 0;

	memset(&fd, 0, sizeof(fd));
	if (endpoint == NULL || *endpoint == '\0')
		endpoint = ING_DEFAULT_ENDPOINT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "e:p:t:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			endpoint = optarg;
			break;
		case 'p':
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 ||
			    v > (ch == 'p' ? MAX_PARALLEL : 86400)) {
				fprintf(stderr, "yalu: submit: --%s: '%s' is out "
				    "of range\n", ch == 'p' ? "parallel" :
				    "timeout", optarg);
				return 2;
			}
			if (ch == 'p')
				parallel = (int)v;
			else
				timeout = (int)v;
			break;
		case 'r':
			fd.raw = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc && !fd.raw) {
		usage(stderr);
		return 2;
	}
	fd.files = argv + optind;
	fd.nfiles = argc - optind;
	if (fd.raw)
		parallel = 1;

	ctx = zmq_ctx_new();
	for (nsl = 0; nsl < parallel; nsl++) {
		memset(&sl[nsl], 0, sizeof(sl[nsl]));
		if ((sl[nsl].sock = dealer(ctx, endpoint, timeout)) == NULL) {
			fprintf(stderr, "yalu: submit: %s: %s\n", endpoint,
			    zmq_strerror(errno));
			failed = 1;
			more = 0;
			break;
		}
	}
	for (;;) {
		long long now = yl_now_ms(), wait = 1000;

		/*
		 * After a timeout the daemon is taken to be gone: the reports
		 * not yet sent are answered here rather than each waiting out
		 * its own timeout.
		 */
		while (gone && more) {
			struct job j;

			if ((rc = next_job(&fd, &j)) <= 0) {
				more = 0;
				break;
			}
			printf("%s: err not sent: no answer from %s\n", j.label,
			    endpoint);
			failed = 1;
			job_clear(&j);
		}
		/* Give every idle socket a report. */
		for (i = 0; i < nsl && more; i++) {
			if (sl[i].busy || sl[i].sock == NULL)
				continue;
			if ((rc = next_job(&fd, &sl[i].job)) <= 0) {
				if (rc == -1)
					fprintf(stderr, "yalu: submit: out of "
					    "memory\n");
				failed |= rc == -1;
				more = 0;
				break;
			}
			if (send_job(&sl[i]) == -1) {
				printf("%s: err cannot send: %s\n",
				    sl[i].job.label, zmq_strerror(errno));
				failed = 1;
				job_clear(&sl[i].job);
				continue;
			}
			sl[i].busy = 1;
			sl[i].deadline = now + (long long)timeout * 1000;
		}
		busy = 0;
		for (i = 0; i < nsl; i++) {
			items[i].socket = sl[i].sock;
			items[i].fd = -1;	/* ignored when socket is set */
			items[i].events = sl[i].busy ? ZMQ_POLLIN : 0;
			items[i].revents = 0;
			if (sl[i].busy) {
				busy++;
				if (sl[i].deadline - now < wait)
					wait = sl[i].deadline - now;
			}
		}
		if (busy == 0 && !more)
			break;
		if (zmq_poll(items, nsl, wait > 0 ? wait : 0) == -1 &&
		    errno != EINTR)
			break;
		now = yl_now_ms();
		for (i = 0; i < nsl; i++) {
			if (!sl[i].busy)
				continue;
			if (items[i].revents & ZMQ_POLLIN) {
				failed |= !read_reply(&sl[i]);
			} else if (now >= sl[i].deadline) {
				printf("%s: err timed out after %d s (no answer "
				    "from %s)\n", sl[i].job.label, timeout,
				    endpoint);
				fflush(stdout);
				failed = 1;
				gone = 1;
				/* A late answer must not meet the next job. */
				zmq_close(sl[i].sock);
				if ((sl[i].sock = dealer(ctx, endpoint,
				    timeout)) == NULL) {
					fprintf(stderr, "yalu: submit: %s: %s\n",
					    endpoint, zmq_strerror(errno));
					more = 0;
				}
			} else
				continue;
			sl[i].busy = 0;
			job_clear(&sl[i].job);
		}
	}
	for (i = 0; i < nsl; i++) {
		job_clear(&sl[i].job);
		if (sl[i].sock != NULL)
			zmq_close(sl[i].sock);
	}
	zmq_ctx_term(ctx);
	free(fd.buf);
	return failed || fd.failed ? 1 : 0;
}
