/* The HTTP server: libmicrohttpd with a few epoll event-loop threads; the
 * handlers that may block run on a pool of workers while their connection is
 * suspended (device reports suspend until their commit, streams until their
 * next event), so connections cost no thread; limits on
 * body, header memory, connection time and connections per client address;
 * request ids and one structured log line per request; graceful drain on
 * shutdown (stop accepting, finish in-flight requests, then stop). */
#ifndef SG_SERVER_H
#define SG_SERVER_H

#include "http/http.h"

struct http_server;

struct http_server_opts {
	const char *listen; /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" */
	unsigned connection_timeout_s; /* idle; also the most a connection waits for its next request line */
	unsigned header_timeout_s;     /* a request's headers complete within this of its request line */
	unsigned max_connections;
	unsigned per_ip_connections;
	size_t max_header_bytes;
	bool osmand_only; /* the dedicated OsmAnd listener: every path is an OsmAnd report */
	unsigned event_threads; /* epoll event-loop threads (0: one) */
	unsigned workers;       /* threads running the handlers that may block (0: none, all on the loop) */
};

/* Starts listening; 0 or SG_EINVAL/SG_EIO with a message in err. env must
 * outlive the server. */
int http_server_start(struct http_env *env, const struct http_server_opts *opts,
		      struct http_server **out, char *err, size_t errsz);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(struct http_server *srv);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. */
void http_server_stop(struct http_server *srv, int64_t grace_ms);
/* Stops accepting new connections: the first step of a drain (the socket
 * is closed: new clients are refused). A second call does nothing. */
void http_server_quiesce(struct http_server *srv);

#endif
