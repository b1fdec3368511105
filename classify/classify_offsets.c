/*
 * classify_offsets.c - which consumed offsets may be stored.
 *
 * librdkafka's "at-least-once" recipe (INTRODUCTION.md): turn off
 * enable.auto.offset.store and store an offset only once the message is
 * fully processed. Here processing ends with a delivery report, and
 * delivery reports of different messages may come back in any order
 * (a retried produce overtakes nothing, but a dead letter and a tagged
 * report go to different topics and partitions). So each partition keeps
 * a ring of its unconfirmed offsets in consumption order, and the stored
 * offset only moves over the confirmed prefix of that ring.
 *
 * Sequence numbers, not offsets, name the entries: offsets may have gaps
 * (compaction, transaction markers), sequence numbers have none, so an
 * entry is found in O(1) as ring[head + (seq - head_seq)].
 */
#include <stdlib.h>
#include <string.h>

#include "classifyd.h"

struct trk_ent {
	int64_t		offset;
	int		done;
};

struct trk_part {
	int		 assigned;
	uint32_t	 epoch;
	struct trk_ent	*ring;
	size_t		 cap;		/* power of two */
	size_t		 head;		/* index of the oldest entry */
	size_t		 count;
	uint64_t	 head_seq;	/* seq of ring[head] */
	int64_t		 stored;	/* -1: nothing stored yet */
};

struct cls_trk {
	struct trk_part	*parts;		/* indexed by partition */
	size_t		 nparts;
	uint32_t	 next_epoch;
	size_t		 pending;	/* over all partitions */
};

struct cls_trk *
cls_trk_new(void)
{
	struct cls_trk *t = calloc(1, sizeof(*t));

	if (t != NULL)
		t->next_epoch = 1;
	return t;
}

void
cls_trk_free(struct cls_trk **pt)
{
	struct cls_trk *t;
	size_t i;

	if (pt == NULL || (t = *pt) == NULL)
		return;
	for (i = 0; i < t->nparts; i++)
		free(t->parts[i].ring);
	free(t->parts);
	free(t);
	*pt = NULL;
}

/* The partition's slot, or NULL if it was never assigned. */
static struct trk_part *
part_get(const struct cls_trk *t, int32_t p)
{
	if (p < 0 || (size_t)p >= t->nparts)
		return NULL;
	return &t->parts[p];
}

/* The partition's slot, growing the table as needed. */
static struct trk_part *
part_make(struct cls_trk *t, int32_t p)
{
	struct trk_part *v;
	size_t n;

	if (p < 0)
		return NULL;
	if ((size_t)p >= t->nparts) {
		n = (size_t)p + 1;
		if ((v = realloc(t->parts, n * sizeof(*v))) == NULL)
			return NULL;
		memset(v + t->nparts, 0, (n - t->nparts) * sizeof(*v));
		t->parts = v;
		t->nparts = n;
	}
	return &t->parts[p];
}

static void
part_forget(struct cls_trk *t, struct trk_part *tp)
{
	t->pending -= tp->count;
	tp->head = 0;
	tp->count = 0;
	tp->head_seq = 0;
}

int
cls_trk_assign(struct cls_trk *t, int32_t p)
{
	struct trk_part *tp = part_make(t, p);

	if (tp == NULL)
		return -1;
	part_forget(t, tp);
	tp->assigned = 1;
	tp->epoch = t->next_epoch++;
	tp->stored = -1;
	return 0;
}

void
cls_trk_revoke(struct cls_trk *t, int32_t p)
{
	struct trk_part *tp = part_get(t, p);

	if (tp == NULL || !tp->assigned)
		return;
	part_forget(t, tp);
	tp->assigned = 0;
	tp->stored = -1;
}

int
cls_trk_assigned(const struct cls_trk *t, int32_t p)
{
	const struct trk_part *tp = part_get(t, p);

	return tp != NULL && tp->assigned;
}

int
cls_trk_current(const struct cls_trk *t, int32_t p, uint32_t epoch)
{
	const struct trk_part *tp = part_get(t, p);

	return tp != NULL && tp->assigned && tp->epoch == epoch;
}

/* Doubles the ring, unrolling it so that head is 0. */
static int
ring_grow(struct trk_part *tp)
{
	size_t cap = tp->cap ? tp->cap * 2 : 64, i;
	struct trk_ent *r;

	if ((r = malloc(cap * sizeof(*r))) == NULL)
		return -1;
	for (i = 0; i < tp->count; i++)
		r[i] = tp->ring[(tp->head + i) & (tp->cap - 1)];
	free(tp->ring);
	tp->ring = r;
	tp->cap = cap;
	tp->head = 0;
	return 0;
}

int
cls_trk_add(struct cls_trk *t, int32_t p, int64_t offset, uint32_t *epoch,
    uint64_t *seq)
{
	struct trk_part *tp = part_get(t, p);
	struct trk_ent *e;

	if (tp == NULL || !tp->assigned)
		return -1;
	if (tp->count == tp->cap && ring_grow(tp) == -1)
		return -1;
	e = &tp->ring[(tp->head + tp->count) & (tp->cap - 1)];
	e->offset = offset;
	e->done = 0;
	*epoch = tp->epoch;
	*seq = tp->head_seq + tp->count;
	tp->count++;
	t->pending++;
	return 0;
}

int
cls_trk_confirm(struct cls_trk *t, int32_t p, uint32_t epoch, uint64_t seq,
    int64_t *store)
{
	struct trk_part *tp = part_get(t, p);
	struct trk_ent *e;
	int64_t last = 0;
	int moved = 0;
	size_t i;

	if (tp == NULL || !tp->assigned || tp->epoch != epoch ||
	    seq < tp->head_seq || seq - tp->head_seq >= tp->count)
		return -1;
	i = (size_t)(seq - tp->head_seq);
	e = &tp->ring[(tp->head + i) & (tp->cap - 1)];
	if (e->done)
		return -1;
	e->done = 1;
	/* Move over the confirmed prefix, remembering its last offset. */
	while (tp->count > 0 && tp->ring[tp->head].done) {
		last = tp->ring[tp->head].offset;
		moved = 1;
		tp->head = (tp->head + 1) & (tp->cap - 1);
		tp->count--;
		tp->head_seq++;
		t->pending--;
	}
	if (!moved)
		return 0;
	tp->stored = last + 1;
	*store = tp->stored;
	return 1;
}

size_t
cls_trk_pending(const struct cls_trk *t, int32_t p)
{
	const struct trk_part *tp = part_get(t, p);

	return tp != NULL && tp->assigned ? tp->count : 0;
}

size_t
cls_trk_pending_all(const struct cls_trk *t)
{
	return t->pending;
}

int64_t
cls_trk_stored(const struct cls_trk *t, int32_t p)
{
	const struct trk_part *tp = part_get(t, p);

	return tp != NULL && tp->assigned ? tp->stored : -1;
}
