/* Calls getppid() from ptt_outer() → ptt_inner() N times (default 2), with
 * frame pointers so user stacks can be walked, then stays alive 1.5 s so
 * that a tracer can read its symbols while it runs. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FRAMES __attribute__((noinline, optimize("no-omit-frame-pointer")))

FRAMES void ptt_inner(void)
{
	syscall(SYS_getppid);
	__asm__ volatile("" ::: "memory");
}

FRAMES void ptt_outer(void)
{
	ptt_inner();
	__asm__ volatile("" ::: "memory");
}

FRAMES int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2;
	for (long i = 0; i < n; i++)
		ptt_outer();
	usleep(1500 * 1000);
	return 0;
}
