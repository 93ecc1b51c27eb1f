/* Geodesic distances through PROJ; see geodesic.h. */
#include "geo/geodesic.h"

#include <geodesic.h>
#include <math.h>
#include <pthread.h>

static struct geod_geodesic wgs84;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	geod_init(&wgs84, 6378137.0, 1 / 298.257223563);
}

double geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double s12 = 0;
	pthread_once(&once, init);
	geod_inverse(&wgs84, lat1, lon1, lat2, lon2, &s12, NULL, NULL);
	return s12;
}

double geo_haversine_m(double lat1, double lon1, double lat2, double lon2)
{
	const double rad = M_PI / 180.0, R = 6371008.8;
	double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
	double a = sin(dlat / 2) * sin(dlat / 2) +
		   cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
	return 2 * R * asin(fmin(1.0, sqrt(a)));
}
