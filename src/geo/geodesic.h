/* Distances on the WGS 84 ellipsoid (PROJ's geodesic routines, Karney's
 * algorithm: exact to nanometres) and a fast spherical bound for filtering. */
#ifndef SG_GEODESIC_H
#define SG_GEODESIC_H

/* Geodesic distance in metres between two points (degrees). */
double geo_distance_m(double lat1, double lon1, double lat2, double lon2);
/* Haversine distance on a sphere of radius 6371008.8 m: within 0.6 % of
 * the geodesic distance anywhere, so it can decide everything outside a
 * narrow band around a radius. */
double geo_haversine_m(double lat1, double lon1, double lat2, double lon2);

/* Relative error bound of geo_haversine_m against geo_distance_m. */
#define GEO_HAVERSINE_REL_ERR 0.007

#endif
