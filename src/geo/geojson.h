/* GeoJSON (RFC 7946) geometry validation: [lon, lat] order, WGS 84 ranges,
 * closed rings of at least four positions, and polygon validity (no
 * self-intersection, holes inside the shell) as GEOS judges it. Pure: no I/O. */
#ifndef SG_GEOJSON_H
#define SG_GEOJSON_H

#include <jansson.h>
#include <stddef.h>

struct bbox {
	double min_lon, min_lat, max_lon, max_lat;
};

/* Which geometry types a caller accepts. */
#define GJ_POINT 1u
#define GJ_POLYGON 2u
#define GJ_MULTIPOLYGON 4u
#define GJ_LINESTRING 8u

/* Validates g. On success returns 0 and writes its bounding box. On failure
 * returns SG_EINVAL, writes into where (wheresz bytes) the JSON pointer of the
 * offending member relative to the geometry ("" for the object itself,
 * "/coordinates/0/3") and a sentence into detail. */
int geojson_validate(const json_t *g, unsigned allowed, struct bbox *out, char *where,
		     size_t wheresz, char *detail, size_t detailsz);

#endif
