/* safeguard: argv -> command table (cli/cli.c). Nothing else but malloc's
 * two thresholds: a request that reads 100,000 people (an alert over a
 * city) asks for arrays of megabytes; by default each came from a fresh
 * mmap, or from heap pages trimmed back after the last such request, and
 * paid a page fault per 4 KB every time (a third of the search). Below 32 MB
 * they come from the heap, and up to 128 MB of free heap stays with the
 * process. */
#include "cli/cli.h"

#include <malloc.h>

int main(int argc, char **argv)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	return cli_main(argc, argv);
}
