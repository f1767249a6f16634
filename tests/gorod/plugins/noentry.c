/* noentry.c - a split-stack shared object with no goro_plugin_entry: gorod
 * must refuse it. */
#include <goro.h>

__attribute__((visibility("default"))) int not_a_plugin(void)
{
    return 42;
}
