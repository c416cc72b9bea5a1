/* Runs a function of a binary kept inside an archive, as an APK's loader
 * runs a library it maps straight from the APK: maps SIZE bytes of ARCHIVE
 * from OFFSET (page-aligned) executable, then calls the int (*)(int, int)
 * at FUNCTION (an offset in the mapping) with (i, 10 * i) for i = 1..COUNT.
 * Usage: ptt_mapcall ARCHIVE OFFSET SIZE FUNCTION COUNT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	int fd = open(argv[1], O_RDONLY);
	size_t size = strtoul(argv[3], NULL, 0);
	char *base = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd,
			  strtol(argv[2], NULL, 0));
	if (fd < 0 || base == MAP_FAILED) {
		perror("ptt_mapcall");
		return 1;
	}
	int (*function)(int, int) = (int (*)(int, int))(base + strtoul(argv[4], NULL, 0));
	int total = 0;
	for (int i = 1; i <= atoi(argv[5]); i++)
		total += function(i, 10 * i);
	return total == 0;
}
