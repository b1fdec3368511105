/*
 * ing_spool.c - the spool directory: files dropped into incoming/ become
 * reports; a file moves to done/ only once Kafka has confirmed it, or to
 * rejected/ with a <name>.reason file beside it.
 *
 * A file stays in incoming/ while its delivery is pending, so a crash
 * loses nothing: the next start sends it again, with the same content id.
 * Writers write a dot-file and rename it; dot-files are never read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "yalu/daemon.h"
#include "yalu/log.h"

#include "ingest.h"

#define NBUCKETS	64
#define RETRY_PAUSE_MS	10000	/* after a transient delivery failure */

/* A file whose delivery is pending: skipped by the scans. */
struct flight {
	struct flight	*next;
	char		 name[];
};

struct ing_spool {
	char		*dir;
	int		 incoming, done, rejected;	/* directory fds */
	struct flight	*bucket[NBUCKETS];
	size_t		 ninflight;
	long long	 pause_until;	/* monotonic ms */
	int		 scan_failed;	/* logged once until it works again */
};

static struct flight **
flight_slot(struct ing_spool *sp, const char *name)
{
	struct flight **fp;

	fp = &sp->bucket[yl_hash64(YL_FNV_OFFSET, name, strlen(name)) %
	    NBUCKETS];
	while (*fp != NULL && strcmp((*fp)->name, name) != 0)
		fp = &(*fp)->next;
	return fp;
}

static int
flight_add(struct ing_spool *sp, const char *name)
{
	struct flight **fp = flight_slot(sp, name), *f;
	size_t n = strlen(name) + 1;

	if (*fp != NULL)
		return 0;
	if ((f = malloc(sizeof(*f) + n)) == NULL)
		return -1;
	memcpy(f->name, name, n);
	f->next = NULL;
	*fp = f;
	sp->ninflight++;
	return 0;
}

static void
flight_del(struct ing_spool *sp, const char *name)
{
	struct flight **fp = flight_slot(sp, name), *f;

	if ((f = *fp) == NULL)
		return;
	*fp = f->next;
	free(f);
	sp->ninflight--;
}

/* Opens dir/sub as a directory fd, creating it if missing; -1 on error. */
static int
open_sub(const char *dir, const char *sub, char *err, size_t errsz)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "spool: %s: %s", path, strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		snprintf(err, errsz, "spool: %s: %s", path, strerror(errno));
	return fd;
}

struct ing_spool *
ing_spool_new(const char *dir, char *err, size_t errsz)
{
	struct ing_spool *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL ||
	    (sp->dir = strdup(dir)) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(sp);
		return NULL;
	}
	sp->incoming = sp->done = sp->rejected = -1;
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "spool: %s: %s", dir, strerror(errno));
		ing_spool_free(&sp);
		return NULL;
	}
	if ((sp->incoming = open_sub(dir, "incoming", err, errsz)) == -1 ||
	    (sp->done = open_sub(dir, "done", err, errsz)) == -1 ||
	    (sp->rejected = open_sub(dir, "rejected", err, errsz)) == -1) {
		ing_spool_free(&sp);
		return NULL;
	}
	return sp;
}

void
ing_spool_free(struct ing_spool **psp)
{
	struct ing_spool *sp;
	struct flight *f, *next;
	size_t i;

	if (psp == NULL || (sp = *psp) == NULL)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (f = sp->bucket[i]; f != NULL; f = next) {
			next = f->next;
			free(f);
		}
	if (sp->incoming != -1)
		close(sp->incoming);
	if (sp->done != -1)
		close(sp->done);
	if (sp->rejected != -1)
		close(sp->rejected);
	free(sp->dir);
	free(sp);
	*psp = NULL;
}

size_t
ing_spool_inflight(const struct ing_spool *sp)
{
	return sp->ninflight;
}

int
ing_spool_reject(struct ing_spool *sp, const char *name, const char *reason)
{
	char rname[NAME_MAX + 16];
	int fd;
	size_t len = strlen(reason);

	flight_del(sp, name);
	/* The reason first: whoever sees the file in rejected/ finds why. */
	snprintf(rname, sizeof(rname), "%s.reason", name);
	if ((fd = openat(sp->rejected, rname, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0640)) == -1 ||
	    write(fd, reason, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		yl_log_warn("spool: %s/rejected/%s", sp->dir, rname);
	if (fd != -1)
		close(fd);
	if (renameat(sp->incoming, name, sp->rejected, name) == -1) {
		yl_log_warn("spool: %s: moving to rejected/", name);
		return -1;
	}
	yl_log_warnx("spool: %s: rejected: %s", name, reason);
	return 0;
}

void
ing_spool_delivered(struct ing_spool *sp, const char *name, int ok,
    int transient, const char *reason)
{
	if (ok) {
		flight_del(sp, name);
		if (renameat(sp->incoming, name, sp->done, name) == -1)
			yl_log_warn("spool: %s: moving to done/", name);
		else
			yl_log_debug("spool: %s: done", name);
	} else if (transient) {
		flight_del(sp, name);
		/* Kafka is unreachable: retry later rather than spin. */
		sp->pause_until = yl_now_ms() + RETRY_PAUSE_MS;
		yl_log_warnx("spool: %s: kept for a retry: %s", name, reason);
	} else
		ing_spool_reject(sp, name, reason);
}

static int
has_suffix(const char *name, const char *suf)
{
	size_t n = strlen(name), s = strlen(suf);

	return n > s && strcmp(name + n - s, suf) == 0;
}

/*
 * Reads incoming/name whole. Returns 0 with a malloc'ed *buf (NUL
 * appended), 1 when it is no longer there or not a regular file (skip),
 * -1 on an error (logged; the file stays).
 */
static int
read_file(struct ing_spool *sp, const char *name, size_t max_bytes,
    char **buf, size_t *len, size_t *size)
{
	struct stat st;
	char *b;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(sp->incoming, name, O_RDONLY | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 1;
		yl_log_warn("spool: %s", name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 1;
	}
	*size = (size_t)st.st_size;
	if ((size_t)st.st_size > max_bytes) {
		close(fd);
		*buf = NULL;
		return 0;
	}
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, b + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

/*
 * Turns one file into a normalized report. Returns ING_OK and *out, or
 * the refusal with the reason.
 */
static enum ing_refusal
load_report(const char *name, const char *buf, size_t len,
    const struct ing_norm *nm, size_t max_bytes, struct yl_report **out,
    char *err, size_t errsz)
{
	struct yl_report *r = NULL;
	enum ing_refusal rc;

	if (has_suffix(name, ".json")) {
		struct ing_frame f = { buf, len };

		if ((rc = ing_request_decode(&f, 1, max_bytes, &r, err,
		    errsz)) != ING_OK)
			return rc;
	} else {
		if ((r = yl_report_new(buf, len)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return ING_R_INTERNAL;
		}
	}
	/* Where it came from, for whoever reads the archive. */
	if (r->meta == NULL)
		r->meta = json_object();
	if (r->meta != NULL && json_object_get(r->meta, "spool_file") == NULL)
		json_object_set_new(r->meta, "spool_file", json_string(name));
	if ((rc = ing_normalize(nm, r, err, errsz)) != ING_OK) {
		yl_report_free(&r);
		return rc;
	}
	*out = r;
	return ING_OK;
}

size_t
ing_spool_scan(struct ing_spool *sp, const struct ing_norm *nm,
    size_t max_bytes, size_t max_files, const struct ing_spool_ops *ops,
    void *arg)
{
	struct dirent *de;
	struct yl_report *r;
	enum ing_refusal rc;
	char err[512], *buf;
	size_t len = 0, size = 0, submitted = 0;
	DIR *d;
	int fd;

	if (max_files == 0 || yl_now_ms() < sp->pause_until)
		return 0;
	if ((fd = dup(sp->incoming)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (!sp->scan_failed)
			yl_log_warn("spool: %s/incoming", sp->dir);
		sp->scan_failed = 1;
		if (fd != -1)
			close(fd);
		return 0;
	}
	sp->scan_failed = 0;
	rewinddir(d);
	while (submitted < max_files && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (name[0] == '.' || *flight_slot(sp, name) != NULL)
			continue;
		if (!has_suffix(name, ".txt") && !has_suffix(name, ".json")) {
			struct stat st;

			if (fstatat(sp->incoming, name, &st, 0) == 0 &&
			    S_ISREG(st.st_mode)) {
				ops->refused(arg, name, ING_R_FILETYPE,
				    "unsupported file type (expected .txt or "
				    ".json)");
				ing_spool_reject(sp, name, "unsupported file "
				    "type (expected .txt or .json)");
			}
			continue;
		}
		if (read_file(sp, name, max_bytes, &buf, &len, &size) != 0)
			continue;
		if (buf == NULL) {
			snprintf(err, sizeof(err), "report is %zu bytes, over "
			    "max_report_bytes %zu", size, max_bytes);
			rc = ING_R_SIZE;
		} else {
			rc = load_report(name, buf, len, nm, max_bytes, &r, err,
			    sizeof(err));
			free(buf);
		}
		if (rc != ING_OK) {
			ops->refused(arg, name, rc, err);
			ing_spool_reject(sp, name, err);
			continue;
		}
		if (flight_add(sp, name) == -1 || ops->submit(arg, r, name) ==
		    -1) {
			/* Kafka's queue is full: the file waits its turn. */
			flight_del(sp, name);
			yl_report_free(&r);
			break;
		}
		yl_report_free(&r);
		submitted++;
	}
	closedir(d);
	return submitted;
}
