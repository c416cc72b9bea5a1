/* USDT probes that read global variables, for usdt: tests of symbol
 * operands. gcc writes ptt:globals(ptt_counter, ptt_table[2], ptt_table[3])
 * as operands relative to %rip (-4@ptt_counter(%rip), -8@16+ptt_table(%rip));
 * ptt:absolute is written in assembly with absolute addresses of symbols
 * and a symbol's address as a constant: ptt_counter, ptt_table[1],
 * ptt_table[2], &ptt_table. Values: 5; 10 20 30 40. Then ptt:"quoted"
 * (ptt_counter), a probe whose name has quotes in it.
 *
 * With the argument "wait" it first loads libptt_usdt.so from its own
 * directory, prints "ready" and waits for a line on stdin (a tracer attaches
 * with -p meanwhile); then the library's pttlib:hello fires too. */
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>
#include <unistd.h>

int ptt_counter = 5;
long ptt_table[4] = {10, 20, 30, 40};

static void (*load_library(void))(void)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n < 0)
		return NULL;
	path[n] = '\0';
	strcat(dirname(path), "/libptt_usdt.so");
	void *library = dlopen(path, RTLD_NOW);
	return library ? (void (*)(void))dlsym(library, "ptt_lib_hello") : NULL;
}

int main(int argc, char **argv)
{
	void (*hello)(void) = NULL;
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		hello = load_library();
		if (!hello)
			return 1;
		puts("ready");
		fflush(stdout);
		getchar();
	}
	STAP_PROBE3(ptt, globals, ptt_counter, ptt_table[2], ptt_table[3]);
	__asm__ __volatile__(STAP_PROBE_ASM(ptt, absolute, -4@ptt_counter 8@ptt_table+8
					    8@-8+ptt_table+24 8@$ptt_table));
	STAP_PROBE1(ptt, "quoted", ptt_counter);
	if (hello)
		hello();
	return 0;
}
