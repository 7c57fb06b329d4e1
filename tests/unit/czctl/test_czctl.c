/* SPDX-License-Identifier: MIT
 *
 * test_czctl.c: the czctl command line (tools/czctl/main.c), run as a program.
 *
 * Exit codes (0 ok, 1 bad input, 2 usage or not implemented), where output goes, that -w
 * rewrites only the named file and -dir every .api below a directory, and that the commands
 * reserved for later say so.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CZCTL CZ_BINARY_DIR "/czctl"
#define API_DIR CZ_SOURCE_DIR "/tests/czctl"

static char out[65536], err[65536];

static void read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Run czctl with args (a shell word list); stdout/stderr land in out/err. Returns the exit code. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >czctl.out 2>czctl.err", CZCTL, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s", cmd);
    read_file("czctl.out", out, sizeof out);
    read_file("czctl.err", err, sizeof err);
    return WEXITSTATUS(st);
}

static char tmpdir[64];

static void in_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/czctl-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (chdir("/") != 0 || system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

Test(czctl, validate, .init = in_tmpdir, .fini = rm_tmpdir)
{
    cr_assert_eq(run("api validate -api " API_DIR "/mall.api"), 0, "%s", err);
    cr_assert_str_eq(out, API_DIR "/mall.api: ok\n");
    cr_assert_eq(run("api validate --api " API_DIR "/bad/dup_type.api"), 1);
    cr_assert_str_eq(out, "");
    cr_assert_str_eq(err, API_DIR "/bad/dup_type.api:8:2: duplicate type 'User' (first declared "
                          "at " API_DIR "/bad/dup_type.api:2:6)\n");
}

Test(czctl, format_prints_or_rewrites, .init = in_tmpdir, .fini = rm_tmpdir)
{
    write_file("a.api", "type A struct{\nB int `json:\"b\"`}\n");
    cr_assert_eq(run("api format -api a.api"), 0, "%s", err);
    const char *want = "type A {\n\tB int `json:\"b\"`\n}\n";
    cr_assert_str_eq(out, want);
    char buf[4096];
    read_file("a.api", buf, sizeof buf);
    cr_assert_str_neq(buf, want, "without -w the file is untouched");
    cr_assert_eq(run("api format -api a.api -w"), 0, "%s", err);
    cr_assert_str_eq(out, "");
    read_file("a.api", buf, sizeof buf);
    cr_assert_str_eq(buf, want);

    write_file("bad.api", "type A {\n");
    cr_assert_eq(run("api format -api bad.api -w"), 1);
    cr_assert_str_eq(err, "bad.api:2:1: expected field name, embedded type or '}', got end of "
                          "file\n");
    read_file("bad.api", buf, sizeof buf);
    cr_assert_str_eq(buf, "type A {\n", "a file that does not parse is left alone");
}

Test(czctl, format_dir_rewrites_every_api_file_below, .init = in_tmpdir, .fini = rm_tmpdir)
{
    cr_assert_eq(mkdir("d", 0755), 0);
    cr_assert_eq(mkdir("d/sub", 0755), 0);
    write_file("d/one.api", "info(title:x)");
    write_file("d/sub/two.api", "syntax=\"v1\"");
    write_file("d/notes.txt", "info(title:x)");
    cr_assert_eq(run("api format -dir d"), 0, "%s", err);
    char buf[4096];
    read_file("d/one.api", buf, sizeof buf);
    cr_assert_str_eq(buf, "info (\n\ttitle: x\n)\n");
    read_file("d/sub/two.api", buf, sizeof buf);
    cr_assert_str_eq(buf, "syntax = \"v1\"\n");
    read_file("d/notes.txt", buf, sizeof buf);
    cr_assert_str_eq(buf, "info(title:x)");
}

Test(czctl, usage_and_later_commands, .init = in_tmpdir, .fini = rm_tmpdir)
{
    cr_assert_eq(run(""), 2);
    cr_assert(strstr(err, "usage: czctl"));
    cr_assert_eq(run("--help"), 0);
    cr_assert(strstr(out, "api validate -api FILE"));
    cr_assert_eq(run("api validate"), 2);
    cr_assert_eq(run("api format -api x.api -dir d"), 2);
    cr_assert_eq(run("api format -api x.api --bogus"), 2);
    cr_assert(strstr(err, "unexpected argument '--bogus'"));
    cr_assert_eq(run("api validate -api missing.api"), 1);
    cr_assert_str_eq(err, "missing.api: cannot read missing.api: No such file or directory\n");
    /* the generators (tests/integration/test_czctl_gen.sh runs them end to end) */
    cr_assert_eq(run("api new"), 2);
    cr_assert(strstr(err, "usage: czctl api new NAME"), "%s", err);
    cr_assert_eq(run("api c -dir ."), 2);
    cr_assert_eq(run("api c -api missing.api -dir out"), 1);
    cr_assert_str_eq(err, "missing.api: cannot read missing.api: No such file or directory\n");
    cr_assert_eq(run("frobnicate"), 2);
    cr_assert(strstr(err, "unknown command 'frobnicate'"));
}
