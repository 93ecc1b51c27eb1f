/* safeguard: argv -> command table (cli/cli.c). Nothing else. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
