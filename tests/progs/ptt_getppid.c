/* Calls getppid() N times (default 1): one sys_enter_getppid event each. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}
