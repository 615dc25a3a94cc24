/* percent.c - percent-decoding (see percent.h). */
#include "percent.h"

#include "hex.h"

long
percent_decode(char *out, size_t cap, const char *in, size_t len, int refuse_nul)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		if (c == '%') {
			int hi, lo;
			if (len - i < 3)
				return -1;
			hi = hex_value((unsigned char)in[i + 1]);
			lo = hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			if (c == 0 && refuse_nul)
				return -1;
			i += 2;
		}
		if (o == cap)
			return -1;
		out[o++] = (char)c;
	}
	return (long)o;
}
