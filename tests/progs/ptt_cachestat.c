/* Calls cachestat (x86_64 syscall 451, Linux 6.5) on fd -1 N times (default
 * 1): one sys_enter_cachestat event each, for a syscall newer than the UAPI
 * header the machine has. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	for (long i = 0; i < n; i++)
		syscall(451, -1L, 0L, 0L, 0L);
	return 0;
}
