/* Maps a page at 0x10000000 and writes the 8 bytes there once per argument
 * (the argument's value), then reads them once: a watchpoint on
 * 0x10000000 sees the writes (mode w), or the writes and the read (rw). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ADDRESS ((void *)0x10000000)

int main(int argc, char **argv)
{
	volatile uint64_t *slot = mmap(ADDRESS, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (slot != ADDRESS)
		return 2;
	for (int i = 1; i < argc; i++)
		*slot = strtoull(argv[i], 0, 0);
	return *slot == 0;
}
