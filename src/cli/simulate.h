/* The simulator: devices moving along routes between real places in
 * Pakistan, reporting through the real OsmAnd or OwnTracks HTTP protocol to a running
 * server at a chosen total rate. `safeguard simulate` runs it in the
 * foreground; the demo runs it in a thread so the live picture moves. */
#ifndef SG_SIMULATE_H
#define SG_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>

struct sim;

/* A key written "owntracks:KEY" reports as the OwnTracks app (HTTP mode,
 * the key as the Basic password); any other as Traccar Client (OsmAnd). */
#define SIM_OWNTRACKS "owntracks:"

/* Starts a thread sending reports for keys[0..n) to base_url (e.g.
 * "http://127.0.0.1:8080") at rate_per_s reports per second in total.
 * Copies keys. Returns NULL when the thread cannot start. */
struct sim *sim_start(const char *base_url, char **keys, size_t n, double rate_per_s);
/* Stops the thread and returns the number of reports answered 200. */
unsigned long sim_stop(struct sim *s);

#endif
