/* safeguard demo: a fresh demo database (two organisations, 40 people, five
 * sites at real places, vehicles, devices, one user per role) served on
 * http://127.0.0.1:8080. Passwords are random and printed: DEMO ONLY. */
#include "cli/cli.h"

#include "app.h"
#include "alarms/alarms.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/clock.h"
#include "core/id.h"
#include "cli/simulate.h"
#include "registry/alert_store.h"
#include "rollcall/rollcall.h"
#include "sharing/sharing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "SAFEGUARD-DEMO-DATA"

static int check(int rc, const struct verr *e, const char *what)
{
	if (rc)
		fprintf(stderr, "safeguard demo: creating %s failed: %s %s\n", what, e->pointer,
			e->detail[0] ? e->detail : err_str(rc));
	return rc;
}

static int wipe(const char *dir)
{
	char p[4096];
	struct stat st;
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(p, sizeof(p), "%s/safeguard.db", dir);
	bool has_db = access(p, F_OK) == 0;
	snprintf(p, sizeof(p), "%s/" MARKER, dir);
	if (has_db && access(p, F_OK) != 0) {
		fprintf(stderr, "safeguard demo: %s holds a database that is not demo data; refusing to replace it\n", dir);
		return -1;
	}
	const char *files[] = {"safeguard.db", "safeguard.db-wal", "safeguard.db-shm",
			       "audit-signing.key", "audit-signing.pub"};
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	return 0;
}

struct demo_user {
	const char *username, *role;
	int org; /* 0 company, 1 host */
	char password[40];
};

static const char *first_names[] = {"Wei", "Li", "Zhang", "Chen", "Liu", "Yang", "Huang", "Zhao",
				    "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin",
				    "Gao", "Luo"};
static const char *given[] = {"Jun", "Min", "Hao", "Lei", "Yan", "Tao", "Ying", "Bo", "Qiang", "Fang"};
static const char *jobs[] = {"Civil engineer", "Site manager", "Electrical engineer", "Surveyor",
			     "Geologist", "Turbine technician", "Welder", "Interpreter"};
static const char *escort_names[] = {"Imran Khan", "Bilal Ahmed", "Asif Raza", "Tariq Mehmood",
				     "Usman Ali", "Kamran Shah", "Naveed Akhtar", "Shahid Iqbal"};

struct demo_agreement {
	const char *company, *host;
	struct verr *e;
};

static int demo_agreement_fn(struct db *db, void *arg)
{
	struct demo_agreement *j = arg;
	char id[48];
	struct agreement_write w = {.actor = "cli", .actor_org = j->company, .now_ms = clock_now_ms(),
				    .err = j->e};
	json_t *company = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "category", "sites",
				    "level", "full", "category", "people", "level", "summary", "category",
				    "positions", "level", "full", "condition", "during_open_sos",
				    "category", "zones", "level", "full", "category", "incidents", "level", "full",
				    "category", "alarms", "level", "full");
	json_t *host = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "category", "people", "level",
				 "full", "category", "vehicles", "level", "full", "category", "zones", "level", "full",
				 "category", "positions", "level", "full", "category", "incidents", "level", "full",
				 "category", "alerts", "level", "full");
	json_t *cn = NULL, *hn = NULL;
	int rc = sharing_validate_grants(company, &cn, j->e);
	if (!rc)
		rc = sharing_validate_grants(host, &hn, j->e);
	if (!rc)
		rc = sharing_create(db, &w, j->host, cn, id);
	w.actor_org = j->host;
	if (!rc)
		rc = sharing_act(db, &w, id, "accept");
	if (!rc)
		rc = sharing_set_grants(db, &w, id, hn);
	json_decref(company);
	json_decref(host);
	json_decref(cn);
	json_decref(hn);
	return rc;
}

/* What the demo builds, step by step. */
struct demo {
	struct store *st;
	struct verr e;
	struct demo_user *users;
	size_t nusers;
	char org[2][ID_MAX];
	char site_ids[5][ID_MAX];
	char person_ids[40][ID_MAX];
	char veh_ids[8][ID_MAX];
	char *keys[48];
	size_t nkeys;
	const struct alarm_timers *timers;
};

static const char *const demo_status[] = {"in_country", "in_country", "in_country", "on_leave"};

static int demo_orgs(struct demo *d)
{
	json_t *o = json_pack("{s:s,s:s}", "name", "Indus Engineering Consortium", "kind", "employer");
	json_t *u = json_pack("{s:s,s:s,s:s,s:s}", "username", d->users[0].username, "password",
			      d->users[0].password, "role", "admin", "display_name", "Company administrator");
	int rc = check(cli_create_org(d->st, o, u, true, &d->e, d->org[0]), &d->e, "the company");
	json_decref(o);
	json_decref(u);
	if (rc)
		return rc;
	o = json_pack("{s:s,s:s}", "name", "Host Nation Security Liaison Cell", "kind", "host_security");
	u = json_pack("{s:s,s:s,s:s,s:s}", "username", d->users[4].username, "password", d->users[4].password,
		      "role", "admin", "display_name", "Liaison cell administrator");
	rc = check(cli_create_org(d->st, o, u, false, &d->e, d->org[1]), &d->e, "the liaison cell");
	json_decref(o);
	json_decref(u);
	return rc;
}

/* A place's shape on a new record: GeoJSON text, and the radius around a
 * Point (0 for none). */
static json_t *placed(json_t *b, const char *geo, double radius)
{
	json_object_set_new(b, "geometry", json_loads(geo, 0, NULL));
	if (radius > 0)
		json_object_set_new(b, "radius_m", json_real(radius));
	return b;
}

/* Five sites at real places. */
static int demo_sites(struct demo *d)
{
	static const struct { const char *name, *kind, *geo; double radius; } sites[] = {
		{"Jinnah International Airport, Karachi", "airport", "{\"type\":\"Point\",\"coordinates\":[67.1608,24.9065]}", 2500},
		{"Port Qasim Power Plant", "project_site", "{\"type\":\"Polygon\",\"coordinates\":[[[67.3560,24.7780],[67.3720,24.7780],[67.3720,24.7900],[67.3560,24.7900],[67.3560,24.7780]]]}", 0},
		{"Gwadar Port", "project_site", "{\"type\":\"Polygon\",\"coordinates\":[[[62.3280,25.1080],[62.3520,25.1080],[62.3520,25.1230],[62.3280,25.1230],[62.3280,25.1080]]]}", 0},
		{"Dasu Hydropower Project", "project_site", "{\"type\":\"Point\",\"coordinates\":[73.1780,35.2980]}", 3000},
		{"Thar Coal Block II, Islamkot", "camp", "{\"type\":\"Point\",\"coordinates\":[70.2300,24.7250]}", 2000},
	};
	for (size_t i = 0; i < ARRAY_LEN(sites); i++) {
		json_t *b = placed(json_pack("{s:s,s:s}", "name", sites[i].name, "kind", sites[i].kind), sites[i].geo,
				   sites[i].radius);
		int rc = check(cli_create(d->st, "sites", d->org[0], b, NULL, &d->e, d->site_ids[i]), &d->e, "a site");
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* Risk zones at every level around the real places: the company's own
 * assessment near its sites, the liaison cell's along the roads. */
static int demo_zones(struct demo *d)
{
	static const struct { int org, level; const char *name, *reason, *geo; double radius; } zones[] = {
		{1, 6, "Airport exit road, Shahrah-e-Faisal", "Vehicle-borne device threat reported on the exit road",
		 "{\"type\":\"Polygon\",\"coordinates\":[[[67.1180,24.8900],[67.1420,24.8800],[67.1480,24.8880],[67.1240,24.8990],[67.1180,24.8900]]]}", 0},
		{1, 5, "Karakoram Highway, Dasu to Chilas", "Ambushes on convoys; escort mandatory",
		 "{\"type\":\"Polygon\",\"coordinates\":[[[73.2000,35.2700],[73.6500,35.3600],[73.6700,35.4300],[73.2200,35.3400],[73.2000,35.2700]]]}", 0},
		{0, 4, "Gwadar old town", "Protests near the port gate; avoid on foot",
		 "{\"type\":\"Polygon\",\"coordinates\":[[[62.3150,25.1180],[62.3330,25.1180],[62.3330,25.1300],[62.3150,25.1300],[62.3150,25.1180]]]}", 0},
		{0, 3, "Port Qasim access road", "Congestion and petty crime at the checkpoint",
		 "{\"type\":\"Polygon\",\"coordinates\":[[[67.3100,24.8000],[67.3560,24.7860],[67.3600,24.7920],[67.3140,24.8070],[67.3100,24.8000]]]}", 0},
		{1, 2, "Hyderabad bypass", "Police checkpoints; keep papers ready",
		 "{\"type\":\"Point\",\"coordinates\":[68.3578,25.3960]}", 6000},
		{0, 1, "Thar camp surroundings", "Quiet; normal precautions",
		 "{\"type\":\"Point\",\"coordinates\":[70.2300,24.7250]}", 5000},
	};
	for (size_t i = 0; i < ARRAY_LEN(zones); i++) {
		json_t *b = placed(json_pack("{s:s,s:i,s:s}", "name", zones[i].name, "level", zones[i].level, "reason",
					     zones[i].reason), zones[i].geo, zones[i].radius);
		int rc = check(cli_create(d->st, "zones", d->org[zones[i].org], b, NULL, &d->e, NULL), &d->e, "a zone");
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* Incidents in the recent past: the threat picture the duty officer opens
 * the console on, one of them an exercise. */
static int demo_incidents(struct demo *d)
{
	static const struct { int org, hours_ago; bool exercise; const char *type, *severity, *confidence, *notes, *geo; double radius; } incs[] = {
		{1, 2, false, "vehicle_borne_device", "extreme", "confirmed", "Car bomb at the airport exit checkpoint; exit road closed",
		 "{\"type\":\"Point\",\"coordinates\":[67.1330,24.8895]}", 1500},
		{0, 6, false, "protest", "moderate", "probable", "Crowd at the port gate; staff kept inside",
		 "{\"type\":\"Point\",\"coordinates\":[62.3300,25.1200]}", 800},
		{1, 20, false, "road_closure", "minor", "confirmed", "Landslide on the Karakoram Highway north of Dasu",
		 "{\"type\":\"Point\",\"coordinates\":[73.3000,35.3300]}", 3000},
		{0, 1, true, "kidnapping", "severe", "possible", "EXERCISE: abduction drill at the camp gate",
		 "{\"type\":\"Point\",\"coordinates\":[70.2350,24.7300]}", 1000},
	};
	for (size_t i = 0; i < ARRAY_LEN(incs); i++) {
		char when[32];
		time_format_ms(clock_now_ms() - (int64_t)incs[i].hours_ago * 3600000, when);
		json_t *b = placed(json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "type", incs[i].type, "time", when, "severity",
					     incs[i].severity, "confidence", incs[i].confidence, "notes", incs[i].notes,
					     "exercise", incs[i].exercise), incs[i].geo, incs[i].radius);
		int rc = check(cli_create(d->st, "incidents", d->org[incs[i].org], b, NULL, &d->e, NULL), &d->e, "an incident");
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* 32 company staff and 8 host escorts. */
static int demo_people(struct demo *d)
{
	for (int i = 0; i < 40; i++) {
		json_t *b;
		char name[80], phone[32], email[80];
		int rc;
		if (i < 32) {
			snprintf(name, sizeof(name), "%s %s", first_names[i % 20], given[(i * 7) % 10]);
			snprintf(phone, sizeof(phone), "+92 300 %07d", 1000000 + i * 7919);
			snprintf(email, sizeof(email), "staff%02d@indus-eng.example", i + 1);
			b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", i ? name : "Wei Jun", "kind", "staff",
				      "job", jobs[i % 8], "nationality", "CN", "phone", phone, "email", email, "status",
				      demo_status[i % 4], "home_site_id", d->site_ids[1 + i % 4], "emergency_contact",
				      "Company operations room, +92 21 3456 7890");
			rc = check(cli_create(d->st, "people", d->org[0], b, NULL, &d->e, d->person_ids[i]), &d->e, "a person");
		} else {
			snprintf(phone, sizeof(phone), "+92 321 %07d", 2000000 + i * 104729);
			b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", escort_names[i - 32], "kind", "escort",
				      "job", "Escort team lead", "nationality", "PK", "phone", phone, "status",
				      "in_country");
			rc = check(cli_create(d->st, "people", d->org[1], b, NULL, &d->e, d->person_ids[i]), &d->e,
				   "an escort");
		}
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* Company cars and host escort vehicles. */
static int demo_vehicles(struct demo *d)
{
	for (int i = 0; i < 8; i++) {
		char reg[16];
		snprintf(reg, sizeof(reg), i < 5 ? "KHI-%04d" : "ESC-%04d", 1200 + i * 37);
		json_t *b = json_pack("{s:s,s:s,s:s,s:b,s:i}", "registration", reg, "make_model",
				      i < 5 ? "Toyota Land Cruiser 200" : "Toyota Hilux", "colour",
				      i < 5 ? "white" : "green", "armoured", i < 3, "seats", i < 5 ? 6 : 4);
		int rc = check(cli_create(d->st, "vehicles", d->org[i < 5 ? 0 : 1], b, NULL, &d->e, d->veh_ids[i]), &d->e,
			       "a vehicle");
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* A phone per person in the country, a unit per vehicle. Their keys stay
 * in memory for the simulator, and nowhere else. */
static int demo_devices(struct demo *d)
{
	for (int i = 0; i < 48; i++) {
		json_t *b;
		int o_idx;
		char name[80];
		if (i < 40) {
			if (i < 32 && demo_status[i % 4][0] != 'i')
				continue;
			o_idx = i < 32 ? 0 : 1;
			snprintf(name, sizeof(name), "Phone %02d", i + 1);
			b = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "kind", "phone", "protocol",
				      i % 3 ? "osmand" : "owntracks", "person_id", d->person_ids[i]);
		} else {
			o_idx = i - 40 < 5 ? 0 : 1;
			snprintf(name, sizeof(name), "Vehicle unit %d", i - 39);
			b = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "kind", "vehicle_unit", "protocol", "osmand",
				      "vehicle_id", d->veh_ids[i - 40]);
		}
		char key[64], hash[65];
		secret_new("", key, sizeof(key));
		secret_hash(key, hash);
		bool ot = str_eq(json_string_value(json_object_get(b, "protocol")), "owntracks");
		d->keys[d->nkeys++] = xasprintf("%s%s", ot ? SIM_OWNTRACKS : "", key);
		json_t *extra = json_pack("{s:s}", "key_hash", hash);
		int rc = check(cli_create(d->st, "devices", d->org[o_idx], b, extra, &d->e, NULL), &d->e, "a device");
		json_decref(b);
		json_decref(extra);
		if (rc)
			return rc;
	}
	return 0;
}

/* An engineer pressed SOS near the airport a minute ago: open, nobody has
 * acknowledged it yet (it escalates in ten minutes). */
static int demo_alarm_fn(struct db *db, void *arg)
{
	struct demo *d = arg;
	int64_t now = clock_now_ms();
	struct alarm_open o = {
		.org_id = d->org[0], .person_id = d->person_ids[5], .cause = "sos", .has_position = true,
		.lat = 24.8975, .lon = 67.1490, .position_ms = now - 60000, .note = "Pressed SOS on the airport road",
		.actor = "cli", .actor_org = d->org[0], .now_ms = now - 60000, .escalate_after_ms = 660000,
	};
	return alarm_open(db, &o, NULL, &d->e);
}

/* An exercise roll-call in progress: the camp's drill, asked of twelve
 * engineers five minutes ago; seven have answered (one needs help), five are
 * still silent (the next wave in five minutes). */
static int demo_rollcall_fn(struct db *db, void *arg)
{
	struct demo *d = arg;
	int64_t now = clock_now_ms(), t0 = now - 300000;
	struct verr e = {0};
	json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "event", "Evacuation drill", "urgency", "Expected",
				 "severity", "Minor", "certainty", "Observed", "status", "Exercise", "scope", "Private",
				 "headline", "Drill: assemble at the camp gate", "instruction",
				 "This is an exercise. Go to the camp gate and answer the roll-call.");
	json_t *alert = resource_new_record(resource_find("alerts"), body, d->org[0], &e);
	json_decref(body);
	if (!alert)
		return SG_EINVAL;
	json_t *ids = json_array();
	struct alert_recipient rcpt[12];
	for (int i = 0; i < 12; i++) {
		json_array_append_new(ids, json_string(d->person_ids[i]));
		rcpt[i] = (struct alert_recipient){.person_id = d->person_ids[i], .reasons = ALERT_BY_NAME};
	}
	char *people = json_dumps(ids, JSON_COMPACT), ts[25];
	time_format_ms(t0, ts);
	json_object_set_new(alert, "person_ids", json_string(people));
	json_object_set_new(alert, "site_ids", json_string("[]"));
	json_object_set_new(alert, "sent_at", json_string(ts));
	json_object_set_new(alert, "recipients", json_integer(12));
	free(people);
	json_decref(ids);
	struct write_ctx w = {.actor = "cli", .now_ms = t0, .err = &e};
	int rc = alert_store(db, alert, rcpt, ARRAY_LEN(rcpt), false, &w);
	json_t *rc_rec = NULL;
	if (!rc) {
		json_t *rb = json_pack("{s:s,s:i,s:i}", "title", "Camp evacuation drill", "waves", 3, "wave_interval_s", 600);
		rc_rec = resource_new_record(resource_find("rollcalls"), rb, d->org[0], &e);
		json_decref(rb);
		rc = rc_rec ? 0 : SG_EINVAL;
	}
	if (!rc) {
		json_object_set(rc_rec, "alert_id", json_object_get(alert, "id"));
		json_object_set_new(rc_rec, "status", json_string("Exercise"));
		rc = rollcall_start(db, rc_rec, &w);
	}
	static const struct { int who; const char *state; enum rollcall_via via; const char *reason; } said[] = {
		{0, "safe", VIA_API, NULL}, {1, "safe", VIA_API, NULL}, {2, "safe", VIA_OPERATOR, "seen at the gate by the escort lead"},
		{3, "safe", VIA_API, NULL}, {4, "need_help", VIA_API, NULL}, {6, "safe", VIA_OPERATOR, "called on the radio"},
		{8, "safe", VIA_API, NULL},
	};
	for (size_t i = 0; i < ARRAY_LEN(said) && !rc; i++) {
		struct rollcall_answer a = {.rollcall_id = json_string_value(json_object_get(rc_rec, "id")),
					    .person_id = d->person_ids[said[i].who], .via = said[i].via, .state = said[i].state,
					    .reason = said[i].reason, .note = said[i].who == 4 ? "twisted ankle on the stairs" : NULL,
					    .actor = "cli", .now_ms = t0 + 30000 * (int64_t)(i + 1), .timers = d->timers};
		rc = rollcall_answer(db, &a, NULL, &e);
	}
	json_decref(alert);
	json_decref(rc_rec);
	return rc;
}

/* The other users, one per role. */
static int demo_users(struct demo *d)
{
	for (size_t i = 0; i < d->nusers; i++) {
		if (str_eq(d->users[i].role, "admin"))
			continue;
		json_t *b = json_pack("{s:s,s:s,s:s}", "username", d->users[i].username, "password",
				      d->users[i].password, "role", d->users[i].role);
		if (str_eq(d->users[i].role, "person"))
			json_object_set_new(b, "person_id", json_string(d->person_ids[0]));
		int rc = check(cli_create(d->st, "users", d->org[d->users[i].org], b, NULL, &d->e, NULL), &d->e, "a user");
		json_decref(b);
		if (rc)
			return rc;
	}
	return 0;
}

/* The demo's own defaults: its own directory, plain HTTP on loopback (so
 * the console cookie cannot be Secure). Flags and environment still win. */
static void demo_defaults(struct config *cfg)
{
	char err[512];
	struct config *def = config_new();
	if (str_eq(config_str(cfg, "store.data_dir"), config_str(def, "store.data_dir")))
		config_set(cfg, "store.data_dir", "./safeguard-demo", err, sizeof(err));
	config_free(def);
	if (!getenv("SAFEGUARD_SESSION_COOKIE_SECURE"))
		config_set(cfg, "session.cookie_secure", "false", err, sizeof(err));
	/* A readable terminal: the logins stay in view, not a line per simulated
	 * report (SAFEGUARD_LOG_LEVEL=info brings the request log back). */
	if (!getenv("SAFEGUARD_LOG_LEVEL") && str_eq(config_str(cfg, "log.level"), "info"))
		config_set(cfg, "log.level", "warn", err, sizeof(err));
}

static void demo_marker(const char *dir)
{
	char marker[4096];
	snprintf(marker, sizeof(marker), "%s/" MARKER, dir);
	FILE *mf = fopen(marker, "w");
	if (mf) {
		fputs("This directory holds Safeguard demo data with printed passwords. Never use it in production.\n", mf);
		fclose(mf);
	}
}

int cmd_demo(int argc, char **argv)
{
	struct config *cfg;
	int rc = cli_parse(argc, argv, "safeguard demo [--data-dir DIR] [--listen ADDR:PORT]", NULL, &cfg,
			   NULL, NULL);
	if (rc)
		return rc == CLI_DONE ? 0 : rc;
	char err[512];
	demo_defaults(cfg);
	const char *dir = config_str(cfg, "store.data_dir");
	if (wipe(dir)) {
		config_free(cfg);
		return 1;
	}
	app_block_signals();
	struct app app;
	if (app_open(&app, cfg, err, sizeof(err))) {
		fprintf(stderr, "safeguard demo: %s\n", err);
		return 1;
	}
	demo_marker(dir);
	struct demo_user users[] = {
		{"company.admin", "admin", 0, ""},         {"company.manager", "security_manager", 0, ""},
		{"company.duty", "duty_officer", 0, ""},   {"company.viewer", "viewer", 0, ""},
		{"host.admin", "admin", 1, ""},            {"host.liaison", "liaison", 1, ""},
		{"host.duty", "duty_officer", 1, ""},      {"engineer.wei", "person", 0, ""},
	};
	for (size_t i = 0; i < ARRAY_LEN(users); i++)
		secret_new("", users[i].password, 17);
	struct demo *d = xcalloc(1, sizeof(*d));
	d->st = app.store;
	d->timers = &app.timers;
	d->users = users;
	d->nusers = ARRAY_LEN(users);
	/* The joint picture: the company shares its sites, zones, incidents and
	 * alarms in full, its people as summary and their positions only while
	 * they have an open SOS; the liaison cell shares its escorts, vehicles,
	 * zones, incidents and positions in full. One engineer's SOS is open. */
	struct demo_agreement j = {.company = d->org[0], .host = d->org[1], .e = &d->e};
	rc = demo_orgs(d) || demo_sites(d) || demo_zones(d) || demo_incidents(d) || demo_people(d) || demo_vehicles(d) || demo_devices(d) ||
	     demo_users(d) || check(store_write(d->st, demo_agreement_fn, &j), &d->e, "the sharing agreement") ||
	     check(store_write(d->st, demo_alarm_fn, d), &d->e, "an alarm") ||
	     check(store_write(d->st, demo_rollcall_fn, d), &d->e, "an exercise roll-call");
	if (!rc) {
		printf("\n  Safeguard demo — DEMO DATA ONLY, passwords are printed here and nowhere else\n\n");
		printf("  %-18s %-18s %-36s %s\n", "USERNAME", "ROLE", "ORGANISATION", "PASSWORD");
		for (size_t i = 0; i < ARRAY_LEN(users); i++)
			printf("  %-18s %-18s %-36s %s\n", users[i].username, users[i].role,
			       users[i].org ? "Host Nation Security Liaison Cell" : "Indus Engineering Consortium",
			       users[i].password);
		const char *listen = config_str(app.cfg, "server.listen");
		printf("\n  data: %s\n  open: http://%s/\n\n", dir, listen);
		fflush(stdout);
		/* The live picture moves: the simulator reports through the real protocol. */
		char url[300];
		snprintf(url, sizeof(url), "http://%s", listen);
		struct sim *sim = sim_start(url, d->keys, d->nkeys, (double)d->nkeys / 5.0);
		rc = app_serve(&app);
		sim_stop(sim);
	}
	for (size_t i = 0; i < d->nkeys; i++)
		free(d->keys[i]);
	free(d);
	app_close(&app);
	return rc ? 1 : 0;
}
