/* The position pipeline, in one written-out order:
 *   decode (ingest/) -> validate -> authenticate the device -> rate limit ->
 *   store history (group commit; deduplicated by device and time) ->
 *   update the live index (an older report never replaces a newer one).
 * Inside the same transaction as the history row: tag the position with the
 * sites and zones containing it (valid at its time) and write an enter or
 * exit event for every change against the device's previous tags, and the
 * events others hear of (position, geofence) into the outbox
 * (src/events/events.h), which carries them to the stream. pipeline_submit()
 * returns only after the report is durable: the device's 2xx means "on disk". */
#ifndef SG_PIPELINE_H
#define SG_PIPELINE_H

#include "geo/fence.h"
#include "geo/live.h"
#include "ingest/report.h"
#include "registry/resource.h"
#include "store/store.h"

#include <stdint.h>

struct pipeline;

struct alarm_timers;

struct pipeline_opts {
	int64_t max_future_ms;   /* a fix further ahead than this is refused */
	double device_rate_per_s; /* sustained reports per device */
	double device_burst;      /* and the burst above it */
	int max_attrs;            /* a report keeps at most this many extra attributes */
	int max_attrs_bytes;      /* whose JSON takes at most this many bytes */
	int64_t partition_ms;     /* the history's partition period (parts.h) */
	const struct alarm_timers *alarm_timers; /* a device's SOS: its escalation delay (alarms.h) */
};

struct pipeline *pipeline_new(struct store *st, const struct pipeline_opts *opts);
void pipeline_free(struct pipeline *p);

/* store_commit_hook part: seals the history rows the commit under way
 * stored (src/audit/evidence.h). Call before the audit checkpoint. */
int pipeline_seal(struct db *db, struct pipeline *p);

/* Fills the live index from the history (at start). 0 or SG_EIO. */
int pipeline_rebuild(struct pipeline *p, struct db *db);

struct live *pipeline_live(struct pipeline *p);

/* Rebuilds the fence index from the sites and the zones not retired, at
 * once for every later report (called after any site or zone change). */
int pipeline_reload_fences(struct pipeline *p, struct db *db);
/* The fences containing a point at t_ms (see fence_index_at). */
size_t pipeline_fences_at(struct pipeline *p, double lat, double lon, int64_t t_ms,
			  struct fence_hit *out, size_t max);

/* The organisation behind a live-index org number, or NULL. */
const char *pipeline_org_name(struct pipeline *p, uint16_t org);
/* How many organisations hold positions (org numbers are below it). */
size_t pipeline_org_count(struct pipeline *p);

struct ingest_result {
	char device_id[48];
	char org_id[48];
	char person_id[48]; /* the person carrying it, "" for none */
	bool stored;    /* false: the same report was stored before */
	bool latest;    /* it became the device's latest position */
	int events;     /* geofence events written */
	int attrs_dropped; /* extra attributes beyond the bounds, not stored */
};

/* Runs r through the pipeline. db is a reader for the device lookup.
 * 0, or SG_EAUTH (unknown key: 401), SG_EBUSY (rate limit: 429),
 * SG_EINVAL (e says why: 400/422), SG_EIO (not stored: 503). */
int pipeline_submit(struct pipeline *p, struct db *db, struct report *r, int64_t now_ms,
		    struct ingest_result *out, struct verr *e);

/* The same in three steps, for servers that do not wait in a thread for the
 * commit. pipeline_begin() authenticates, validates and rate-limits r: 0 and
 * *job (r's contents moved into it: pass the job to pipeline_store_async(),
 * then to pipeline_finish()), 1 when accepted with nothing to store (*out
 * filled), or an error as pipeline_submit() returns, with e set. */
struct pipeline_job;
int pipeline_begin(struct pipeline *p, struct db *db, struct report *r, int64_t now_ms,
		   struct pipeline_job **job, struct ingest_result *out, struct verr *e);
/* Queues the job's write: done(ctx, rc) runs on the store's writer thread
 * after the commit (quick, no writes). 0, or SG_EIO/SG_EBUSY when the store
 * refuses writes (done is not called). */
int pipeline_store_async(struct pipeline *p, struct pipeline_job *job, void (*done)(void *ctx, int rc),
			 void *ctx);
/* After the commit: updates the live index, publishes, fills *out when rc is
 * 0 and frees the job. Returns rc. */
int pipeline_finish(struct pipeline *p, struct pipeline_job *job, int rc, struct ingest_result *out);

/* Forgets the cached device keys: call after any device change (a new key,
 * a deletion) so the next report authenticates against the store. */
void pipeline_forget_devices(struct pipeline *p);

/* Extra attributes dropped since start (beyond max_attrs / max_attrs_bytes). */
uint64_t pipeline_attrs_dropped(struct pipeline *p);

/* Deletes unpinned history older than cutoff_ms, in batches (dropping the
 * partitions wholly before it, row by row in the legacy table); returns the
 * number of reports deleted or a negative code. */
long pipeline_purge(struct pipeline *p, int64_t cutoff_ms);

#endif
