/*
 * commands.h - one function per command file, and the dispatcher's setup
 * hook that commands call after their own usage checks.
 */
#ifndef FLOKVM_COMMANDS_H
#define FLOKVM_COMMANDS_H

#include "cli.h"

/* Loads the services file and settings, sets up c->vm; prints its error. */
int cli_setup(struct cli *c);

int cmd_batch(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_hash(struct cli *c, int argc, char **argv);
int cmd_help(struct cli *c, int argc, char **argv);
int cmd_invalidate(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_pagers(struct cli *c, int argc, char **argv);
int cmd_read(struct cli *c, int argc, char **argv);
int cmd_read_sync(struct cli *c, int argc, char **argv);
int cmd_replay(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_write(struct cli *c, int argc, char **argv);

#endif
