// SPDX-License-Identifier: GPL-2.0
/* Who may connect to a port's vhost-user socket (vhost_access.h). */
#define _GNU_SOURCE             /* getgrouplist */
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vhost_access.h"

static long get_int(json_object *st, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(st, key, &v) ? (long)json_object_get_int64(v) : -1;
}

/* Whether the user has the permission bit `owner_bit` (0400, 0200 or 0100) on a file of this mode and owner. */
static bool permitted(const struct passwd *pw, unsigned int mode, long uid, long gid, unsigned int owner_bit)
{
	gid_t groups[64];
	int n = 64, i;

	if (pw->pw_uid == 0)
		return true;
	if ((long)pw->pw_uid == uid)
		return mode & owner_bit;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = 0;
	for (i = 0; i < n; i++)
		if ((long)groups[i] == gid)
			return mode & (owner_bit >> 3);
	return mode & (owner_bit >> 6);
}

/* The first directory above path the user may not search, into dir; false when there is none. */
static bool closed_dir(const struct passwd *pw, const char *path, char *dir, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(dir, len, "%s", path);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		if (!stat(dir, &st) && !permitted(pw, st.st_mode, (long)st.st_uid, (long)st.st_gid, 0100))
			return true;
	}
	return false;
}

void xtap_vhost_access_hint(json_object *st)
{
	json_object *v;
	struct passwd *pw;
	const char *mode_s, *port, *sock;
	unsigned int mode;
	long uid = get_int(st, "socket_uid"), gid = get_int(st, "socket_gid");
	char hint[640], dir[256];

	if (json_object_object_get_ex(st, "hint", &v) || get_int(st, "connections") != 0 ||
	    !json_object_object_get_ex(st, "socket_mode", &v) || !(mode_s = json_object_get_string(v)))
		return;
	mode = (unsigned int)strtoul(mode_s, NULL, 8);
	port = json_object_object_get_ex(st, "port", &v) ? json_object_get_string(v) : "PORT";
	sock = json_object_object_get_ex(st, "socket", &v) ? json_object_get_string(v) : "";
	pw = getpwnam(XTAP_LIBVIRT_QEMU_USER);
	if (pw && closed_dir(pw, sock, dir, sizeof(dir))) {
		snprintf(hint, sizeof(hint),
			 "no frontend has connected yet, and libvirt's QEMU (user %s, uid %u) may not reach this socket: "
			 "it may not search the directory %s (give it o+x, or run xtapd with --socket in a directory it may)",
			 pw->pw_name, (unsigned int)pw->pw_uid, dir);
	} else if (pw) {
		/* connect() needs write permission on the socket. */
		if (permitted(pw, mode, uid, gid, 0200))
			return;
		snprintf(hint, sizeof(hint),
			 "no frontend has connected yet, and libvirt's QEMU (user %s, uid %u) may not connect to this socket "
			 "(mode %s, owner %ld:%ld): add the port with --owner %u --group %u "
			 "(xtapctl port del %s; xtapctl port add %s ... --owner %u --group %u)",
			 pw->pw_name, (unsigned int)pw->pw_uid, mode_s, uid, gid, (unsigned int)pw->pw_uid,
			 (unsigned int)pw->pw_gid, port, port, (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid);
	} else if (uid == 0 && !(mode & 0022)) {
		snprintf(hint, sizeof(hint),
			 "no frontend has connected yet, and only root may connect to this socket (mode %s, owner %ld:%ld): "
			 "a VMM running as another user (libvirt runs QEMU as %s) needs the port added with "
			 "--owner UID --group GID",
			 mode_s, uid, gid, XTAP_LIBVIRT_QEMU_USER);
	} else {
		return;
	}
	json_object_object_add(st, "hint", json_object_new_string(hint));
}
