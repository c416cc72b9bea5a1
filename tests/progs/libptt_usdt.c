/* A shared library with a USDT probe, for usdt probes found in a process's
 * libraries (-p): ptt_lib_hello() fires pttlib:hello(42), read from the
 * library's own variable (an operand relative to %rip, in a library loaded
 * at an address of its own). */
#include <sys/sdt.h>

__attribute__((visibility("hidden"))) int ptt_lib_value = 42;

void ptt_lib_hello(void)
{
	STAP_PROBE1(pttlib, hello, ptt_lib_value);
}
