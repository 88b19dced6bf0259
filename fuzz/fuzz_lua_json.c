/* libFuzzer: JSON <-> Lua conversion in the binding (json_decode, the
 * deterministic encoder, parse_response) inside a real Lua state. */
#include <stdint.h>
#include <stddef.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include <string.h>

int luaopen_socialize_core(lua_State *L);

static const char *SCRIPT =
    "local core, s = ...\n"
    "local v = core.json_decode(s)\n"
    "if v ~= nil then\n"
    "  local e = core.json_encode(v)\n"
    "  if e then\n"
    "    local again = core.json_decode(e)\n"
    "    local e2 = core.json_encode(again)\n"
    "    if e2 ~= e then error('encoding is not stable') end\n"
    "  end\n"
    "  if type(v) == 'table' then core.param_string(v, 'p') end\n"
    "end\n"
    "local r = core.parse_response(s, 200)\n"
    "if type(r) ~= 'table' or type(r.errorCode) ~= 'number' then error('bad reply table') end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return 0;
    luaL_openlibs(L);
    if (luaL_loadstring(L, SCRIPT) != 0)
        __builtin_trap();
    luaopen_socialize_core(L);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        const char *m = lua_tostring(L, -1);
        /* a stable round trip and a reply table are promises: break loudly */
        if (m && (strstr(m, "not stable") || strstr(m, "bad reply")))
            __builtin_trap();
    }
    lua_close(L);
    return 0;
}
