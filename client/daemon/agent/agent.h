/* SPDX-License-Identifier: MIT */
/* Agent mode (agent.c) and the status command (status.c). argv[0] is the
 * subcommand; return the process exit status. */
#ifndef NETBLK_AGENT_H
#define NETBLK_AGENT_H

int nb_agent_main(int argc, char **argv);
int nb_agent_status_main(int argc, char **argv);

#endif
