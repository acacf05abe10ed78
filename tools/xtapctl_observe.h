/* SPDX-License-Identifier: GPL-2.0 */
/* xtapctl monitor and capture: events of the datapath from the pinned ring buffer (bpf/observe.h). */
#ifndef XTAPCTL_OBSERVE_H
#define XTAPCTL_OBSERVE_H

extern const char xtapctl_monitor_synopsis[], xtapctl_monitor_help[];
extern const char xtapctl_capture_synopsis[], xtapctl_capture_help[];

/* argv[0] is the command's name; returns xtapctl's exit code. */
int xtapctl_monitor(const char *pin_dir, int json, int argc, char **argv);
int xtapctl_capture(const char *pin_dir, int argc, char **argv);

#endif
