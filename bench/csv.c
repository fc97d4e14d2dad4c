/* bench/csv.c: the CSV writer (format and crash-safety argument in csv.h), and a strict
 * RFC 4180 reader for the tests.
 */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One write(2) for the whole buffer; a regular file takes it whole unless the disk is full. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put(struct csv *c, const char *s, size_t n)
{
    if (c->len + n >= sizeof(c->line)) {
        c->overflow = 1;
        return;
    }
    memcpy(c->line + c->len, s, n);
    c->len += n;
}

void csv_str(struct csv *c, const char *s)
{
    if (c->col++)
        put(c, ",", 1);
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        put(c, s, strlen(s));
        return;
    }
    put(c, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            put(c, "\"", 1);
        put(c, p, 1);
    }
    put(c, "\"", 1);
}

void csv_u64(struct csv *c, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    csv_str(c, b);
}

void csv_i64(struct csv *c, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRId64, v);
    csv_str(c, b);
}

void csv_f64(struct csv *c, double v, int decimals)
{
    char b[48];
    snprintf(b, sizeof(b), "%.*f", decimals, v);
    csv_str(c, b);
}

void csv_empty(struct csv *c) { csv_str(c, ""); }

int csv_row_end(struct csv *c)
{
    int rc = 0;
    if (c->fd < 0)
        rc = -EBADF;
    else if (c->overflow)
        rc = -E2BIG;
    else if (c->col != c->ncols)
        rc = -EINVAL;
    else {
        c->line[c->len++] = '\n';
        rc = write_all(c->fd, c->line, c->len);
        if (rc == 0)
            c->rows++;
    }
    c->len = 0;
    c->col = 0;
    c->overflow = 0;
    return rc;
}

int csv_open(struct csv *c, const char *path, const char *const *cols, unsigned ncols)
{
    memset(c, 0, sizeof(*c));
    c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (c->fd < 0)
        return -errno;
    c->ncols = ncols;
    for (unsigned i = 0; i < ncols; i++)
        csv_str(c, cols[i]);
    int rc = csv_row_end(c);
    c->rows = 0;
    if (rc < 0) {
        close(c->fd);
        c->fd = -1;
    }
    return rc;
}

void csv_close(struct csv *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* ---- the reader (tests) ---- */

/* The whole of the file at path, NUL terminated, its length in *lenp; NULL when it cannot be
 * read or does not end with a newline. */
static char *read_text(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *t = realloc(text, cap *= 2);
            if (!t) {
                free(text);
                text = NULL;
            }
            text = t;
        }
    }
    fclose(f);
    if (!text)
        return NULL;
    text[len] = 0;
    if (len == 0 || text[len - 1] != '\n') {
        free(text);
        return NULL;
    }
    *lenp = len;
    return text;
}

long csv_parse_file(const char *path, void (*row)(void *, unsigned, char **), void *user)
{
    size_t len = 0;
    char *text = read_text(path, &len);
    if (!text)
        return -1;
    long rows = 0;
    unsigned header_fields = 0, nf = 0, fcap = 64;
    char **fields = malloc(fcap * sizeof(*fields));
    char *field = malloc(len + 1);     /* fields are copied here, NUL separated */
    size_t flen = 0;
    size_t i = 0;
    int bad = !fields || !field;
    while (!bad && i < len) {
        /* one field */
        if (nf == fcap) {
            char **t = realloc(fields, (fcap *= 2) * sizeof(*fields));
            if (!t) {
                bad = 1;
                break;
            }
            fields = t;
        }
        fields[nf++] = field + flen;
        if (text[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    bad = 1;
                    break;
                }
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        field[flen++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                field[flen++] = text[i++];
            }
            if (bad || (text[i] != ',' && text[i] != '\n' && text[i] != '\r')) {
                bad = 1;
                break;
            }
        } else {
            while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                if (text[i] == '"') {
                    bad = 1;
                    break;
                }
                field[flen++] = text[i++];
            }
        }
        field[flen++] = 0;
        if (bad)
            break;
        if (text[i] == ',') {
            i++;
            continue;
        }
        if (text[i] == '\r')
            i++;
        if (i >= len || text[i] != '\n') {
            bad = 1;
            break;
        }
        i++;
        /* end of row */
        if (rows == 0)
            header_fields = nf;
        else if (nf != header_fields) {
            bad = 1;
            break;
        }
        if (row)
            row(user, nf, fields);
        rows++;
        nf = 0;
        flen = 0;
    }
    free(fields);
    free(field);
    free(text);
    return bad ? -1 : rows;
}
