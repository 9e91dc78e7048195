/* Valgrind client requests for the constant-time harness (the ctgrind technique). */
#include <stddef.h>
#include <valgrind/memcheck.h>

void shroud_ct_secret(const void *p, size_t n) { VALGRIND_MAKE_MEM_UNDEFINED(p, n); }
void shroud_ct_public(const void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
unsigned shroud_ct_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
