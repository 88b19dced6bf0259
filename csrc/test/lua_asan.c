/* A minimal Lua 5.4 interpreter built with ASan + UBSan, so that the busted
 * suite runs with the instrumented modules without preloading libasan into
 * every process the specs start. Usage: lua-asan script [args...] | lua-asan -e chunk */
#include <stdio.h>
#include <string.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int i, status;
    if (argc < 2) {
        fprintf(stderr, "usage: %s script [args]\n", argv[0]);
        return 2;
    }
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_createtable(L, argc, 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1); /* arg[0] = script, arg[-1] = interpreter */
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    if (strcmp(argv[1], "-e") == 0 && argc >= 3) { /* lua -e 'chunk' */
        status = luaL_loadstring(L, argv[2]);
        if (status == LUA_OK)
            status = lua_pcall(L, 0, 0, 1);
    } else {
        status = luaL_loadfile(L, argv[1]);
        if (status == LUA_OK) {
            /* room for the script's arguments: a C function starts with
             * LUA_MINSTACK slots, and pushing past them writes beyond the
             * Lua stack (liblua is not instrumented: ASan saw it only as a
             * damaged heap chunk, once the unit tier passed ~40 spec files) */
            luaL_checkstack(L, argc, "too many arguments");
            for (i = 2; i < argc; i++)
                lua_pushstring(L, argv[i]);
            status = lua_pcall(L, argc - 2, 0, 1);
        }
    }
    if (status != LUA_OK)
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
