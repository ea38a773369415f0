// What the root process hands the confined child besides the pipe
// (docs/security.md): the cache directory's folders, given to the
// fetch-user, and the paths the child reaches what root opened by.
#pragma once

#include "util/sandbox.hpp"
#include "util/unique_fd.hpp"

#include <string>
#include <vector>

namespace geoblock::privsep {

// Hands the folders `folders` of the cache directory `dir` to the
// fetch-user `to`, as root. The directory itself stays root's, so its
// folders cannot be swapped for links (Error when it is not root's, or
// writable by others); each folder is created when missing and becomes the
// fetch-user's (systemd-tmpfiles makes them so for the default directory;
// here for any other, or outside systemd). A folder still owned by root
// (written by geoblock before privilege separation) is handed over as it
// is: the fetcher replaces the files in it by rename, so none of them is
// ever chowned (chowning what is in a directory the fetcher could write is
// how a planted hard link would become its). Only the folders the sources
// in use declare are touched: a host keeps the others as they were, and
// needs no CAP_CHOWN for folders it does not use. Error naming the folder
// and the fix when it cannot be given.
void hand_over(const std::string& dir, const util::Account& to, const std::vector<std::string>& folders);

// True when `dir`, or the nearest existing directory above it, is writable.
bool writable_dir(const std::string& dir);

// In the child: the path to use for `real`, which the root process opened
// as `fd`: `real` itself when it is the same file and `probe` (real or a
// path below it) allows `access_mode` (the usual /var/cache/geoblock),
// else the descriptor (/proc/self/fd/N: a directory below one the fetcher
// may not enter, such as a test's private temporary directory).
std::string reach(const std::string& real, int fd, const std::string& probe, int access_mode);

// In the child: `real` as it can read it: the real path when it may open
// it, else a private in-memory copy of descriptor `fd` (reopening
// /proc/self/fd/N would check the file's permissions again), kept open in
// `keep`. Throws Error naming `real`.
std::string readable_copy(const std::string& real, int fd, std::vector<util::UniqueFd>& keep);

} // namespace geoblock::privsep
