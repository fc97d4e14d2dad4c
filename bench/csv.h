/* bench/csv.h: the CSV writer of the benchmark's result files (schema in results/README.md).
 *
 * Owns the file format: RFC 4180, a header line, ',' separators, '\n' line ends. A row is built
 * in memory and handed to the kernel whole, with one write(2), when it is complete, so a row
 * is on disk (in the page cache) as soon as csv_row_end() returns. A signal the process
 * handles (the benchmark handles SIGINT and SIGTERM) never cuts a write to a regular file: the
 * file is the header and every completed row. A process killed outright (SIGKILL, a crash, a
 * signal left at its default action) may have its last write cut at a page boundary by the
 * kernel: the file then ends with one partial line without its '\n', which a reader drops
 * (every completed row is still whole). A field that would need quoting (',', '"', CR, LF) is
 * quoted and its quotes doubled, so the file parses even then; the benchmark's own fields
 * never need it.
 *
 * Not thread-safe: one writer per file, used by one thread.
 */
#ifndef MMC_BENCH_CSV_H
#define MMC_BENCH_CSV_H

#include <stddef.h>
#include <stdint.h>

#define CSV_LINE_MAX 4096 /* bytes of one row; a longer row is refused (csv_row_end: -E2BIG) */

struct csv {
    int fd;                     /* the file, O_APPEND; -1 when closed */
    unsigned ncols;             /* columns of the header */
    unsigned col;               /* fields of the row being built */
    size_t len;                 /* bytes of the row being built */
    int overflow;               /* the row did not fit in line[] */
    uint64_t rows;              /* rows written, header excluded */
    char line[CSV_LINE_MAX];    /* the row being built */
};

/* Create (truncate) path and write the header cols[0..ncols). 0 or a negative errno. */
int csv_open(struct csv *c, const char *path, const char *const *cols, unsigned ncols);
/* Append one field to the row being built. */
void csv_str(struct csv *c, const char *s);
void csv_u64(struct csv *c, uint64_t v);
void csv_i64(struct csv *c, int64_t v);
void csv_f64(struct csv *c, double v, int decimals);
void csv_empty(struct csv *c);
/* Write the row (exactly ncols fields, else -EINVAL and the row is dropped) with one write(2).
 * 0 or a negative errno. */
int csv_row_end(struct csv *c);
/* Close the file; every written row is already in it. Safe to call twice. */
void csv_close(struct csv *c);

/* For the tests: parse one RFC 4180 file, calling back per row with its fields. Returns the
 * number of rows (header included), or -1 if the text does not parse (unterminated quote, a
 * last line without '\n', a row with a field count different from the header's). */
long csv_parse_file(const char *path, void (*row)(void *user, unsigned nfields, char **fields),
                    void *user);

#endif /* MMC_BENCH_CSV_H */
