rockspec_format = "3.0"
package = "socialize"
version = "0.1.0-1"
source = {
   url = "git+https://example.invalid/socialize.git",
   tag = "v0.1.0",
}
description = {
   summary = "Gigya's socialize share API for Lua, with a sans-IO C core",
   detailed = [[
      publishUserAction, setStatus, sendNotification, facebookGraphOperation and any
      Gigya REST method, signed byte-exactly, with Gigya's response model, plus the
      user, friend and webhook signature validators, and the `socialize` command.
   ]],
   license = "MIT",
   homepage = "https://example.invalid/socialize",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
external_dependencies = {
   CURL = { library = "curl" },  -- Debian keeps curl/curl.h in a multiarch dir the compiler finds by itself
   OPENSSL = { header = "openssl/hmac.h", library = "crypto" },
   JANSSON = { header = "jansson.h", library = "jansson" },
   SQLITE = { header = "sqlite3.h", library = "sqlite3" },  -- socialize.store
   PQ = { library = "pq" },  -- libpq-fe.h: the Makefile asks pkg-config (Debian: /usr/include/postgresql)
}
-- Built by the Makefile: the C core's network files (csrc/core/net/*.c) and
-- their registry are found there, not listed here.
build = {
   type = "make",
   build_target = "rock",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
      ROCK_CFLAGS = "-I$(OPENSSL_INCDIR) -I$(JANSSON_INCDIR) -I$(CURL_INCDIR) -I$(SQLITE_INCDIR)",
      ROCK_LDFLAGS = "-L$(OPENSSL_LIBDIR) -L$(JANSSON_LIBDIR) -L$(CURL_LIBDIR) -L$(SQLITE_LIBDIR) -L$(PQ_LIBDIR)",
   },
   install_target = "rock-install",
   install_variables = {
      LUA_CMODULE_DIR = "$(LIBDIR)",
      LUA_MODULE_DIR = "$(LUADIR)",
   },
   -- the command (docs/cli.md): LuaRocks installs it with a wrapper that runs
   -- it on this tree's interpreter and module paths
   install = { bin = { socialize = "bin/socialize" } },
   copy_directories = { "docs", "examples" },
}
test = {
   type = "command",
   command = "make test",
}
