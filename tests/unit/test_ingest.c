/* ingest: requests of real clients (Traccar Client, OsmAnd, the Traccar
 * Client JSON form, OwnTracks) decoded field by field, and requests that must
 * be refused. Query strings are as the apps send them (Traccar's own decoder
 * tests carry the same shapes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/osmand.h"
#include "ingest/owntracks.h"

#define NOW 1796568927123LL

static struct report r;
static struct verr e;

static int q(const char *query)
{
	report_release(&r);
	report_init(&r);
	memset(&e, 0, sizeof(e));
	return osmand_decode_query(query, strlen(query), NOW, &r, &e);
}

static int j(const char *body)
{
	report_release(&r);
	report_init(&r);
	memset(&e, 0, sizeof(e));
	return osmand_decode_json(body, strlen(body), NOW, &r, &e);
}

static int ot(const char *body)
{
	report_release(&r);
	report_init(&r);
	memset(&e, 0, sizeof(e));
	return owntracks_decode_body(body, strlen(body), NOW, &r, &e);
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)
#define ATTR_INT(k, v) assert_int_equal(json_integer_value(json_object_get(r.attrs, k)), v)
#define ATTR_STR(k, v) assert_string_equal(json_string_value(json_object_get(r.attrs, k)), v)

static void test_osmand_iso_timestamp_hdop_altitude(void **s)
{
	(void)s;
	assert_int_equal(q("id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0"), 0);
	assert_string_equal(r.device_key, "902064");
	NEAR(r.lat, 42.06288);
	NEAR(r.lon, -88.23412);
	assert_int_equal(r.time_ms, 1453920947000LL);
	NEAR(r.hdop, 6.0);
	NEAR(r.altitude_m, 224.0);
	NEAR(r.speed_mps, 0.0);
	assert_true(isnan(r.course_deg) && isnan(r.accuracy_m));
	assert_int_equal(r.battery_pct, -1);
	assert_int_equal(r.charging, -1);
	assert_int_equal(json_object_size(r.attrs), 0);
	assert_true(r.has_position);
}

static void test_osmand_millisecond_timestamp(void **s)
{
	(void)s;
	assert_int_equal(q("id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0"), 0);
	assert_int_equal(r.time_ms, 1442068686579LL);
}

/* Below 10^12 a number is seconds: the year 2100 in seconds is 2100 (the
 * pipeline refuses it as in the future), not January 1970 in milliseconds. */
static void test_osmand_seconds_and_milliseconds_rule(void **s)
{
	(void)s;
	int64_t ms;
	assert_int_equal(osmand_parse_time("4102444800", &ms), 0);
	assert_int_equal(ms, 4102444800000LL);
	assert_int_equal(osmand_parse_time("2147483648", &ms), 0); /* 2038, in seconds */
	assert_int_equal(ms, 2147483648000LL);
	assert_int_equal(osmand_parse_time("999999999999", &ms), 0);
	assert_int_equal(ms, 999999999999000LL);
	assert_int_equal(osmand_parse_time("1000000000000", &ms), 0); /* 2001-09-09, in ms */
	assert_int_equal(ms, 1000000000000LL);
	assert_int_equal(osmand_parse_time("1764633600", &ms), 0);
	assert_int_equal(ms, 1764633600000LL);
}

/* OwnTracks: -1 means unknown for acc, vel, cog and batt; not for alt. An
 * empty POST has no fix and no error. */
static void test_owntracks_unknown_values_and_empty_post(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"_type\":\"location\",\"lat\":46,\"lon\":11,\"tst\":1551874878,\"acc\":-1,"
			    "\"vel\":-1,\"cog\":-1,\"batt\":-1,\"alt\":-1}"), 0);
	assert_true(isnan(r.accuracy_m) && isnan(r.speed_mps) && isnan(r.course_deg));
	assert_int_equal(r.battery_pct, -1);
	NEAR(r.altitude_m, -1);
	assert_int_equal(ot("{\"_type\":\"location\",\"lat\":46,\"lon\":11,\"tst\":1551874878,\"acc\":-2}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/acc");
	struct ingest_input in = {.body = "", .body_len = 0, .password = "KEY", .now_ms = NOW};
	report_release(&r);
	report_init(&r);
	assert_int_equal(owntracks_decode(&in, &r, &e), 0);
	assert_false(r.has_position);
	assert_string_equal(r.protocol, "owntracks");
}

static void test_osmand_space_separated_timestamp_and_id_last(void **s)
{
	(void)s;
	assert_int_equal(q("lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681"), 0);
	assert_string_equal(r.device_key, "353861053849681");
	assert_int_equal(r.time_ms, 1401873011000LL);
	NEAR(r.altitude_m, 384.7);
}

static void test_osmand_seconds_bearing(void **s)
{
	(void)s;
	assert_int_equal(q("id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0"), 0);
	assert_int_equal(r.time_ms, 1377177267000LL);
	NEAR(r.course_deg, 0.0);
	NEAR(r.lat, 60.0);
	NEAR(r.lon, 30.0);
}

static void test_osmand_deviceid_heading_hacc_no_timestamp(void **s)
{
	(void)s;
	assert_int_equal(q("lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456"), 0);
	assert_string_equal(r.device_key, "123456");
	assert_int_equal(r.time_ms, NOW); /* absent: the time of receipt */
	NEAR(r.course_deg, 0.0);
	NEAR(r.accuracy_m, 0.0);
	ATTR_INT("vacc", 0);
}

static void test_osmand_battery_percent(void **s)
{
	(void)s;
	assert_int_equal(q("id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87"), 0);
	assert_int_equal(r.battery_pct, 87);
	NEAR(r.altitude_m, 350.059479);
}

static void test_osmand_location_parameter(void **s)
{
	(void)s;
	assert_int_equal(q("id=123456&timestamp=1377177267&location=60.0,30.0"), 0);
	NEAR(r.lat, 60.0);
	NEAR(r.lon, 30.0);
}

static void test_osmand_knots_and_extra_attributes(void **s)
{
	(void)s;
	assert_int_equal(q("id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"), 0);
	NEAR(r.speed_mps, 40 * 0.514444);
	NEAR(r.course_deg, 7.19889788244);
	assert_true(json_is_true(json_object_get(r.attrs, "ignition")));
	ATTR_INT("rpm", 933);
	ATTR_INT("fuel", 24);
}

static void test_traccar_client_android_charge_and_sos(void **s)
{
	(void)s;
	assert_int_equal(q("id=355000000000000&timestamp=1700000000&lat=24.9065&lon=67.1608&speed=-1&bearing=-1&altitude=12.0&accuracy=9.6&batt=64.0&charge=true&alarm=sos"), 0);
	assert_true(isnan(r.speed_mps) && isnan(r.course_deg)); /* -1: unknown */
	NEAR(r.accuracy_m, 9.6);
	assert_int_equal(r.battery_pct, 64);
	assert_int_equal(r.charging, 1);
	ATTR_STR("alarm", "sos");
}

static void test_osmand_repeated_keys_become_arrays(void **s)
{
	(void)s;
	assert_int_equal(q("id=1&lat=1&lon=2&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80"), 0);
	assert_int_equal(json_array_size(json_object_get(r.attrs, "cell")), 2);
	ATTR_STR("wifi", "00-14-22-01-23-45,-80");
}

static void test_osmand_refusals_name_the_parameter(void **s)
{
	(void)s;
	assert_int_equal(q("timestamp=1377177267&lat=60.0&lon=30.0"), SG_EINVAL);
	assert_string_equal(e.pointer, "?id");
	assert_int_equal(q("id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90"), SG_EINVAL);
	assert_string_equal(e.pointer, "?lat");
	assert_int_equal(q("id=1&lat=91&lon=30"), SG_EINVAL);
	assert_string_equal(e.pointer, "?lat");
	assert_int_equal(q("id=1&lat=10&lon=-180.5"), SG_EINVAL);
	assert_string_equal(e.pointer, "?lon");
	assert_int_equal(q("id=1&lat=abc&lon=30"), SG_EINVAL);
	assert_string_equal(e.pointer, "?lat");
	assert_int_equal(q("id=1&lat=1&lon=1&timestamp=yesterday"), SG_EINVAL);
	assert_string_equal(e.pointer, "?timestamp");
	assert_int_equal(q("id=1&lat=1&lon=1&speed=fast"), SG_EINVAL);
	assert_string_equal(e.pointer, "?speed");
	assert_int_equal(q("id=1&lat=1&lon=1&batt=140"), SG_EINVAL);
	assert_string_equal(e.pointer, "?batt");
	assert_int_equal(q("id=1&lat=1&lon=1&location=5"), SG_EINVAL);
	assert_int_equal(q("id=%FF%FE&lat=1&lon=1"), SG_EINVAL); /* not UTF-8 */
	assert_int_equal(q("id=&lat=1&lon=1"), SG_EINVAL);
	assert_string_equal(e.pointer, "?id");
}

static const char TRACCAR_JSON[] =
	"{\"location\":{\"extras\":{},\"mock\":true,\"coords\":{\"speed_accuracy\":-1,\"speed\":-1,"
	"\"longitude\":-122.406417,\"ellipsoidal_altitude\":0,\"floor\":0,\"heading_accuracy\":-1,"
	"\"latitude\":37.785834,\"heading\":-1,\"altitude\":0,\"altitude_accuracy\":-1,\"accuracy\":5},"
	"\"is_moving\":false,\"age\":2021,\"odometer\":0,\"uuid\":\"8C1B12B8-7C7B-4A4C-9F37-2C83F1F0D1E5\","
	"\"event\":\"motionchange\",\"battery\":{\"level\":-1,\"is_charging\":false},"
	"\"activity\":{\"confidence\":100,\"type\":\"still\"},\"timestamp\":\"2023-10-24T03:57:23.441Z\"},"
	"\"device_id\":\"123456\"}";

static void test_traccar_client_json_form(void **s)
{
	(void)s;
	assert_int_equal(j(TRACCAR_JSON), 0);
	assert_string_equal(r.device_key, "123456");
	NEAR(r.lat, 37.785834);
	NEAR(r.lon, -122.406417);
	assert_int_equal(r.time_ms, 1698119843441LL);
	NEAR(r.accuracy_m, 5);
	NEAR(r.altitude_m, 0);
	assert_true(isnan(r.speed_mps) && isnan(r.course_deg));
	assert_int_equal(r.battery_pct, -1);
	assert_int_equal(r.charging, 0);
	assert_true(json_is_false(json_object_get(r.attrs, "motion")));
	ATTR_STR("event", "motionchange");
	assert_true(json_is_true(json_object_get(r.attrs, "mock")));
	ATTR_INT("odometer", 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.attrs, "activity"), "type")), "still");
}

static void test_traccar_client_json_moving_charging_sos(void **s)
{
	(void)s;
	assert_int_equal(j("{\"device_id\":\"k1\",\"location\":{\"timestamp\":\"2026-11-29T14:35:27.000Z\","
			   "\"coords\":{\"latitude\":24.9065,\"longitude\":67.1608,\"accuracy\":12.5,\"speed\":3.2,"
			   "\"heading\":91.5,\"altitude\":18},\"battery\":{\"level\":0.52,\"is_charging\":true},"
			   "\"is_moving\":true,\"extras\":{\"alarm\":\"sos\"}}}"), 0);
	NEAR(r.speed_mps, 3.2); /* m/s already */
	NEAR(r.course_deg, 91.5);
	assert_int_equal(r.battery_pct, 52);
	assert_int_equal(r.charging, 1);
	ATTR_STR("alarm", "sos");
	assert_true(json_is_true(json_object_get(r.attrs, "motion")));
}

static void test_traccar_client_json_refusals(void **s)
{
	(void)s;
	assert_int_equal(j("{\"location\":{\"coords\":{\"latitude\":1,\"longitude\":2}}}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/device_id");
	assert_int_equal(j("{\"device_id\":\"k\",\"location\":{\"coords\":{\"latitude\":\"1\",\"longitude\":2}}}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/location/coords/latitude");
	assert_int_equal(j("{\"device_id\":\"k\",\"location\":{\"coords\":{\"latitude\":100,\"longitude\":2}}}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/location/coords/latitude");
	assert_int_equal(j("{\"device_id\":\"k\",\"location\":{}}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/location/coords");
	assert_int_equal(j("{\"device_id\":\"k\",\"location\":{\"coords\":{\"latitude\":1,\"longitude\":2,\"speed\":\"x\"}}}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/location/coords/speed");
	assert_int_equal(j("{\"device_id\":\"k\",\"device_id\":\"k2\"}"), SG_EINVAL);
	assert_int_equal(j("[1]"), SG_EINVAL);
}

static void test_owntracks_location(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"_type\":\"location\",\"acc\":15,\"alt\":440,\"batt\":46,\"conn\":\"w\",\"lat\":46.0681247,"
			    "\"lon\":11.1512805,\"t\":\"u\",\"tid\":\"5t\",\"tst\":1551874878,\"vac\":2,\"vel\":0}"), 0);
	NEAR(r.lat, 46.0681247);
	NEAR(r.lon, 11.1512805);
	assert_int_equal(r.time_ms, 1551874878000LL);
	NEAR(r.accuracy_m, 15);
	NEAR(r.altitude_m, 440);
	assert_int_equal(r.battery_pct, 46);
	NEAR(r.speed_mps, 0);
	ATTR_STR("conn", "w");
	ATTR_STR("t", "u");
	ATTR_STR("tid", "5t");
	ATTR_INT("vac", 2);
	ATTR_STR("_type", "location");
	assert_true(r.has_position);
}

static void test_owntracks_location_kmh_and_course(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"cog\":271,\"lon\":2.29513,\"acc\":5,\"vel\":61,\"vac\":21,\"lat\":48.85833,\"tst\":1497349316,"
			    "\"alt\":167,\"_type\":\"location\",\"tid\":\"JJ\",\"bs\":2}"), 0);
	NEAR(r.speed_mps, 61 / 3.6);
	NEAR(r.course_deg, 271);
	assert_int_equal(r.charging, 1);
}

static void test_owntracks_transition(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"_type\":\"transition\",\"wtst\":1551874000,\"lat\":46.0681247,\"lon\":11.1512805,"
			    "\"tst\":1551874900,\"acc\":15,\"tid\":\"5t\",\"event\":\"enter\",\"desc\":\"Camp\",\"t\":\"c\",\"rid\":\"a1b2c3\"}"), 0);
	ATTR_STR("_type", "transition");
	ATTR_STR("event", "enter");
	ATTR_STR("desc", "Camp");
	ATTR_STR("rid", "a1b2c3");
	ATTR_INT("wtst", 1551874000);
	assert_int_equal(r.time_ms, 1551874900000LL);
}

static void test_owntracks_lwt_has_no_fix(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"_type\":\"lwt\",\"tst\":1551874878}"), 0);
	assert_false(r.has_position);
	ATTR_STR("_type", "lwt");
}

static void test_owntracks_refusals(void **s)
{
	(void)s;
	assert_int_equal(ot("{\"_type\":\"location\",\"lat\":46,\"lon\":11}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/tst");
	assert_int_equal(ot("{\"_type\":\"location\",\"lat\":\"46\",\"lon\":11,\"tst\":1}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/lat");
	assert_int_equal(ot("{\"lat\":46,\"lon\":11,\"tst\":1}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/_type");
	assert_int_equal(ot("{\"_type\":\"transition\",\"lat\":46,\"lon\":11,\"tst\":1,\"event\":\"exit\"}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/event");
	assert_int_equal(ot("{\"_type\":\"location\",\"lat\":46,\"lon\":11,\"tst\":1,\"vel\":-5}"), SG_EINVAL);
	assert_string_equal(e.pointer, "/vel");
}

static void test_owntracks_needs_the_key_as_password(void **s)
{
	(void)s;
	struct ingest_input in = {.body = "{}", .body_len = 2, .user = "wei", .now_ms = NOW};
	report_release(&r);
	report_init(&r);
	assert_int_equal(owntracks_decode(&in, &r, &e), SG_EAUTH);
	const char *body = "{\"_type\":\"location\",\"lat\":1,\"lon\":2,\"tst\":1551874878}";
	struct ingest_input ok = {.body = body, .body_len = strlen(body), .user = "wei", .password = "KEY",
				  .limit_d = "phone", .now_ms = NOW};
	report_release(&r);
	report_init(&r);
	assert_int_equal(owntracks_decode(&ok, &r, &e), 0);
	assert_string_equal(r.device_key, "KEY");
	ATTR_STR("user", "wei");
	ATTR_STR("device", "phone");
}

int main(void)
{
	report_init(&r);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osmand_iso_timestamp_hdop_altitude),
		cmocka_unit_test(test_osmand_millisecond_timestamp),
		cmocka_unit_test(test_osmand_seconds_and_milliseconds_rule),
		cmocka_unit_test(test_owntracks_unknown_values_and_empty_post),
		cmocka_unit_test(test_osmand_space_separated_timestamp_and_id_last),
		cmocka_unit_test(test_osmand_seconds_bearing),
		cmocka_unit_test(test_osmand_deviceid_heading_hacc_no_timestamp),
		cmocka_unit_test(test_osmand_battery_percent),
		cmocka_unit_test(test_osmand_location_parameter),
		cmocka_unit_test(test_osmand_knots_and_extra_attributes),
		cmocka_unit_test(test_traccar_client_android_charge_and_sos),
		cmocka_unit_test(test_osmand_repeated_keys_become_arrays),
		cmocka_unit_test(test_osmand_refusals_name_the_parameter),
		cmocka_unit_test(test_traccar_client_json_form),
		cmocka_unit_test(test_traccar_client_json_moving_charging_sos),
		cmocka_unit_test(test_traccar_client_json_refusals),
		cmocka_unit_test(test_owntracks_location),
		cmocka_unit_test(test_owntracks_location_kmh_and_course),
		cmocka_unit_test(test_owntracks_transition),
		cmocka_unit_test(test_owntracks_lwt_has_no_fix),
		cmocka_unit_test(test_owntracks_refusals),
		cmocka_unit_test(test_owntracks_needs_the_key_as_password),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	report_release(&r);
	return rc;
}
