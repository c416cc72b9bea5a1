/* USDT probes (<sys/sdt.h>) for usdt: tests. For each argument i (1-based):
 * ptt:loop(i, -10 * i, strlen(argument), argument), then ptt:guarded(i)
 * only while a tracer holds its semaphore, then ptt:site(i) at one of two
 * places. At the end ptt:done(42, total length, 7 from the stack), then
 * other:done(). Built with -O2, the arguments are constants, registers of
 * each size, and a memory operand. */
#define _SDT_HAS_SEMAPHORES 1
#include <string.h>
#include <sys/sdt.h>

/* With _SDT_HAS_SEMAPHORES every probe has a semaphore, named by sdt.h as
 * provider_name_semaphore (as headers made by `dtrace -h` do); only
 * ptt:guarded checks its own. */
#define SEMAPHORE(provider, name) \
	unsigned short provider##_##name##_semaphore __attribute__((section(".probes")))
SEMAPHORE(ptt, start);
SEMAPHORE(ptt, loop);
SEMAPHORE(ptt, guarded);
SEMAPHORE(ptt, site);
SEMAPHORE(ptt, done);
SEMAPHORE(other, done);

int main(int argc, char **argv)
{
	long total = 0;
	volatile int on_stack = 7;
	STAP_PROBE(ptt, start);
	for (int i = 1; i < argc; i++) {
		short neg = (short)(-10 * i);
		unsigned long len = strlen(argv[i]);
		STAP_PROBE4(ptt, loop, i, neg, len, argv[i]);
		if (ptt_guarded_semaphore)
			STAP_PROBE1(ptt, guarded, i);
		if (i % 2)
			STAP_PROBE1(ptt, site, i);
		else
			STAP_PROBE1(ptt, site, (unsigned char)i);
		total += (long)len;
	}
	STAP_PROBE3(ptt, done, 42, total, on_stack);
	STAP_PROBE(other, done);
	return 0;
}
