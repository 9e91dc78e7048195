/* Valgrind client requests for the constant-time harness (the ctgrind technique). */
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <valgrind/memcheck.h>

void shroud_ct_secret(const void *p, size_t n) { VALGRIND_MAKE_MEM_UNDEFINED(p, n); }
void shroud_ct_public(const void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
unsigned shroud_ct_on_valgrind(void) { return RUNNING_ON_VALGRIND; }

/* How many bytes of [p, p + n) have at least one undefined bit, or -1 when the validity
 * bits cannot be read (not on valgrind, or the region is not addressable). Reading the
 * shadow state reports no error. */
ssize_t shroud_ct_undefined_bytes(const void *p, size_t n) {
  unsigned char *vbits = malloc(n ? n : 1);
  ssize_t count = 0;
  size_t i;
  if (vbits == NULL) return -1;
  if (VALGRIND_GET_VBITS(p, vbits, n) != 1) {
    free(vbits);
    return -1;
  }
  for (i = 0; i < n; i++) count += vbits[i] != 0;
  free(vbits);
  return count;
}
