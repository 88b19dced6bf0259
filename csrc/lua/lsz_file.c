/* core.read_file(path, cap): the bytes of a media item's local file
 * (config.media.allowFiles, docs/media.md). This is the binding's, not the
 * sans-IO core's: it opens the file without blocking (a FIFO would wait for
 * a writer forever), takes a regular file only (not a FIFO, a device, a
 * directory), and never reads more than cap bytes. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lsz_core.h"

/* -> bytes | nil, why (no path or errno text in why beyond the reason) */
static int l_read_file(lua_State *L)
{
    size_t pl, got = 0;
    const char *path = luaL_checklstring(L, 1, &pl);
    lua_Number capn = luaL_checknumber(L, 2);
    size_t cap = capn >= 1 && capn < 1073741825.0 ? (size_t)capn : 1073741824u;
    struct stat st;
    char *buf;
    int fd;
    if (strlen(path) != pl) {
        lua_pushnil(L);
        lua_pushliteral(L, "has a NUL byte in its path");
        return 2;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "could not be opened (%s)", strerror(errno));
        return 2;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        lua_pushnil(L);
        lua_pushliteral(L, "is not a regular file");
        return 2;
    }
    if (st.st_size <= 0 || (unsigned long long)st.st_size > cap) {
        close(fd);
        lua_pushnil(L);
        if (st.st_size <= 0)
            lua_pushliteral(L, "is empty");
        else
            lua_pushfstring(L, "is larger than %d bytes", (int)(cap > 2147483647u ? 2147483647u : cap));
        return 2;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        close(fd);
        return luaL_error(L, "out of memory");
    }
    while (got < (size_t)st.st_size) { /* a file that grows is read to its size at open */
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    lua_pushlstring(L, buf, got);
    free(buf);
    return 1;
}

const luaL_Reg lsz_file_funcs[] = {
    {"read_file", l_read_file},
    {NULL, NULL}
};
