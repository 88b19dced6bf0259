/* Private compatibility shims so one source builds for Lua 5.1, LuaJIT and
 * 5.2+. Included after lua.h / lauxlib.h. Names are private (sz_ prefix)
 * so nothing clashes with a host's own compat layer. */
#ifndef LSZ_COMPAT_H
#define LSZ_COMPAT_H

#if defined(__GNUC__) && __GNUC__ >= 4
#define SZ_LUAOPEN __attribute__((visibility("default")))
#else
#define SZ_LUAOPEN
#endif

#if LUA_VERSION_NUM == 501
#define sz_rawlen(L, i) lua_objlen((L), (i))
/* luaL_setfuncs for 5.1: a static function, so the binding's lsz_ prefix */
static void lsz_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define sz_isinteger(L, i) 0
#define sz_setfuncs(L, l, n) lsz_setfuncs((L), (l), (n))
#define sz_newlib(L, l) (lua_newtable(L), lsz_setfuncs((L), (l), 0))
#else
#define sz_rawlen(L, i) lua_rawlen((L), (i))
#define sz_setfuncs(L, l, n) luaL_setfuncs((L), (l), (n))
#define sz_newlib(L, l) luaL_newlib((L), (l))
#if LUA_VERSION_NUM >= 503
#define sz_isinteger(L, i) lua_isinteger((L), (i))
#else
#define sz_isinteger(L, i) 0
#endif
#endif

#endif
