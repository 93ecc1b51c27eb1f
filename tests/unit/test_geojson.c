/* geo/geojson: ranges, ring closure, GEOS validity, pointers to the fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "geo/geojson.h"

static int check(const char *text, char *where, char *detail, struct bbox *bb)
{
	json_t *g = json_loads(text, 0, NULL);
	assert_non_null(g);
	int rc = geojson_validate(g, GJ_POINT | GJ_POLYGON | GJ_MULTIPOLYGON, bb, where, 160, detail, 256);
	json_decref(g);
	return rc;
}

static void test_valid_point_and_polygon_with_hole(void **state)
{
	(void)state;
	char w[160], d[256];
	struct bbox bb;
	assert_int_equal(check("{\"type\":\"Point\",\"coordinates\":[67.16,24.9]}", w, d, &bb), 0);
	assert_true(bb.min_lon == 67.16 && bb.max_lat == 24.9);
	assert_int_equal(check("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[10,0],[10,10],[0,10],[0,0]],"
			       "[[2,2],[2,4],[4,4],[4,2],[2,2]]]}", w, d, &bb), 0);
	assert_true(bb.min_lon == 0 && bb.max_lon == 10 && bb.max_lat == 10);
}

static void test_latitude_out_of_range_names_coordinate(void **state)
{
	(void)state;
	char w[160], d[256];
	struct bbox bb;
	assert_int_equal(check("{\"type\":\"Point\",\"coordinates\":[24.9,91]}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/coordinates/1");
	assert_non_null(strstr(d, "latitude"));
	assert_int_equal(check("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[181,0],[1,1],[0,0]]]}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/coordinates/0/1/0");
}

static void test_unclosed_short_and_self_intersecting_rings(void **state)
{
	(void)state;
	char w[160], d[256];
	struct bbox bb;
	assert_int_equal(check("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}", w, d, &bb), SG_EINVAL);
	assert_non_null(strstr(d, "closed"));
	assert_int_equal(check("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}", w, d, &bb), SG_EINVAL);
	assert_non_null(strstr(d, "at least 4"));
	/* A bow tie: the edges cross. */
	assert_int_equal(check("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/coordinates");
	assert_non_null(strstr(d, "not valid"));
}

static void test_wrong_types_and_members(void **state)
{
	(void)state;
	char w[160], d[256];
	struct bbox bb;
	assert_int_equal(check("{\"type\":\"Point\",\"coordinates\":[\"67\",24]}", w, d, &bb), SG_EINVAL);
	assert_int_equal(check("{\"type\":\"Circle\",\"coordinates\":[67,24]}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/type");
	assert_int_equal(check("{\"type\":\"Point\",\"coordinates\":[67,24],\"crs\":{}}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/crs");
	assert_int_equal(check("{\"type\":\"Point\"}", w, d, &bb), SG_EINVAL);
	assert_string_equal(w, "/coordinates");
	assert_int_equal(check("[1,2]", w, d, &bb), SG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_point_and_polygon_with_hole),
		cmocka_unit_test(test_latitude_out_of_range_names_coordinate),
		cmocka_unit_test(test_unclosed_short_and_self_intersecting_rings),
		cmocka_unit_test(test_wrong_types_and_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
