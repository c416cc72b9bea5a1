/* Functions for uprobes: for each argument, calls ptt_add(i, 10 * i) and
 * ptt_greet(argument), in that order. Not inlined, symbols kept. */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) int ptt_add(int a, int b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

__attribute__((noinline)) size_t ptt_greet(const char *name)
{
	__asm__ volatile("" ::: "memory");
	return strlen(name);
}

int main(int argc, char **argv)
{
	size_t total = 0;
	for (int i = 1; i < argc; i++) {
		total += (size_t)ptt_add(i, 10 * i);
		total += ptt_greet(argv[i]);
	}
	return total == 0 ? 1 : 0;
}
