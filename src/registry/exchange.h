/* Bulk exchange of registry records as CSV (RFC 4180, header row of member
 * names, geometry as GeoJSON text) and GeoJSON (a FeatureCollection whose
 * features carry id, geometry and the other members as properties). Export
 * writes what the API shows (no secrets); import parses into the same JSON
 * bodies the API accepts, so validation is the API's own. */
#ifndef SG_EXCHANGE_H
#define SG_EXCHANGE_H

#include "registry/resource.h"

#include <stdio.h>

enum xfmt { XF_CSV, XF_GEOJSON };

/* Parses "csv" / "geojson" (or a file name's extension); 0 or SG_EINVAL. */
int xfmt_parse(const char *s, enum xfmt *out);

/* Writes every record of org_id. 0 or a negative code. */
int exchange_export(struct db *db, const struct resource *res, const char *org_id, enum xfmt fmt,
		    FILE *out);

/* Reads path into a new array of {"line": N, "body": {...}} ("line" is the
 * CSV line or the GeoJSON feature number). Values are typed by the fields.
 * On error returns SG_EINVAL/SG_EIO with "FILE:LINE: field: message" in err. */
int exchange_parse(const struct resource *res, enum xfmt fmt, const char *path, json_t **out,
		   char *err, size_t errsz);

#endif
