/* A VFS, named WALBUF_VFS, that is SQLite's default one except that the
 * WAL writes of a transaction reach the file in one write instead of two
 * per page (header and page), before the commit's sync. For a connection
 * with synchronous=FULL in WAL mode (the store's writer): other connections
 * and processes see exactly what they would without it. */
#ifndef SG_WALBUF_H
#define SG_WALBUF_H

#define WALBUF_VFS "sg-walbuf"

/* Registers the VFS (once; not as the default). SQLITE_OK or an SQLite error. */
int walbuf_register(void);

#endif
