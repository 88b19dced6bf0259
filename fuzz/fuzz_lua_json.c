/* libFuzzer: JSON <-> Lua conversion in the binding (json_decode, the
 * deterministic encoder, parse_response, the one-pass UserAction scan
 * against the full decode, the raw read of a UserAction table against the
 * full check, core.publish_plain's JSON text of a UserAction table against
 * the encoder) inside a real Lua state. */
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
    "if type(r) ~= 'table' or type(r.errorCode) ~= 'number' then error('bad reply table') end\n"
    /* the one-pass reader of the usual reply gives the decoded object, statusCode and statusReason added */
    "local function same(a, b)\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b and math.type(a) == math.type(b) end\n"
    "  for k, x in pairs(a) do if not same(x, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "if type(v) == 'table' and s:find('^[ \\t\\r\\n]*{') and math.type(v.errorCode) == 'integer' and v.errorCode == 0 then\n"
    "  if v.statusCode == nil then v.statusCode = 200 end\n"
    "  if v.statusReason == nil then v.statusReason = 'OK' end\n"
    "  if not same(v, r) then error('bad reply table: not the decoded reply') end\n"
    "end\n"
    /* the one-pass UserAction scan (a JSON string) and the raw read (a table) say yes only to
     * what the full check accepts */
    "local function shape(t, direct, what)\n"
    "  if type(t) ~= 'table' or next(t) == nil then error(what .. ': not an object') end\n"
    "  for _, f in ipairs({'title', 'subtitle', 'description', 'linkBack', 'userMessage'}) do\n"
    "    if t[f] ~= nil and type(t[f]) ~= 'string' then error(what .. ': bad ' .. f) end\n"
    "  end\n"
    "  local items, kind = t.mediaItems, nil\n"
    "  local M = { image = true, flash = true, mp3 = true, video = true }\n"
    "  if items ~= nil and type(items) ~= 'table' then error(what .. ': bad mediaItems') end\n"
    "  for i = 1, items and #items or 0 do\n"
    "    local it = items[i]\n"
    "    if type(it) ~= 'table' or not M[it.type] or (it.data ~= nil and not direct) or (kind and it.type ~= kind) then\n"
    "      error(what .. ': bad item') end\n"
    "    kind = it.type\n"
    "  end\n"
    "  if t.actionLinks ~= nil and type(t.actionLinks) ~= 'table' then error(what .. ': bad actionLinks') end\n"
    "end\n"
    "for _, direct in ipairs({false, true}) do\n"
    "  if core.user_action_plain(s, direct) then\n"
    "    if not s:find('^%s*{') then error('plain: not an object') end\n"
    "    shape(core.json_decode(s), direct, 'plain')\n"
    "  end\n"
    "  if type(v) == 'table' and core.user_action_table(v, direct) then shape(v, direct, 'plain: table') end\n"
    "end\n"
    /* publish_plain with a table userAction (Gigya's backend only): a yes holds the encoder's
     * bytes for it, an object without \\u0000, and the shape the full check accepts; also for
     * a copy whose '~' are NUL bytes (json_decode gives none) */
    "local function pub(t)\n"
    "  if core.publish_plain({ UID = 'u', userAction = t }, true) then error('plain: table on direct') end\n"
    "  local q = core.publish_plain({ UID = 'u', userAction = t, cid = 'c' })\n"
    "  if q then\n"
    "    shape(t, false, 'plain: publish')\n"
    "    local e = core.json_encode({ userAction = t })\n"
    "    if not e or e ~= '{\"userAction\":' .. q.userAction .. '}' then error('plain: publish bytes') end\n"
    "    if q.UID ~= 'u' or q.cid ~= 'c' or q.userAction:sub(1, 1) ~= '{' then error('plain: publish copy') end\n"
    "    if q.userAction:find('\\\\u0000', 1, true) then error('plain: publish NUL') end\n"
    "  end\n"
    "end\n"
    "local function nul(x, d)\n"
    "  if type(x) == 'string' then return (x:gsub('~', '\\0')) end\n"
    "  if type(x) ~= 'table' or d > 20 then return x end\n"
    "  local t = {}\n"
    "  for k, y in pairs(x) do t[nul(k, d + 1)] = nul(y, d + 1) end\n"
    "  return t\n"
    "end\n"
    "if type(v) == 'table' then pub(v) pub(nul(v, 0)) end\n"
    ;

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
        if (m && (strstr(m, "not stable") || strstr(m, "bad reply") || strstr(m, "plain: ")))
            __builtin_trap();
    }
    lua_close(L);
    return 0;
}
