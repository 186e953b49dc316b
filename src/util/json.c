/* cJSON helpers shared by plan/ and profile/ (see util/json.h). */
#include "util/json.h"

/* The 1-based line of byte `at` of `text`. */
static int line_of(const char *text, size_t len, const char *at)
{
    int line = 1;
    for (const char *c = text; c < at && c < text + len; c++)
        line += *c == '\n';
    return line;
}

int clv_util_json_parse(const char *text, size_t len, const char *label,
                        cJSON **out, clv_error *err)
{
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!*out) {
        if (!end)
            return clv_error_set(err, CLV_ENOMEM, "%s: out of memory",
                                 label);
        return clv_error_set(err, CLV_EFORMAT,
                             "%s:%d: not valid JSON (parsing stopped at "
                             "byte %zu)",
                             label, line_of(text, len, end),
                             (size_t)(end - text));
    }
    return 0;
}

bool clv_util_json_append(cJSON *array, cJSON *item)
{
    if (item && cJSON_AddItemToArray(array, item))
        return true;
    cJSON_Delete(item);
    return false;
}
