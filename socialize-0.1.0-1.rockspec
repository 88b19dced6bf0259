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
      user, friend and webhook signature validators.
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
}
build = {
   type = "builtin",
   modules = {
      socialize = "lua/socialize.lua",
      ["socialize.direct"] = "lua/socialize/direct.lua",
      ["socialize.errors"] = "lua/socialize/errors.lua",
      ["socialize.policy"] = "lua/socialize/policy.lua",
      ["socialize.providers"] = "lua/socialize/providers.lua",
      ["socialize.resty"] = "lua/socialize/resty.lua",
      ["socialize.transport"] = "lua/socialize/transport.lua",
      ["socialize.util"] = "lua/socialize/util.lua",
      ["socialize.validate"] = "lua/socialize/validate.lua",
      ["socialize.core"] = {
         sources = {
            "csrc/core/sz_util.c", "csrc/core/sz_encode.c", "csrc/core/sz_params.c",
            "csrc/core/sz_sign.c", "csrc/core/sz_request.c", "csrc/core/sz_response.c",
            "csrc/core/sz_text.c", "csrc/core/sz_provider.c", "csrc/core/sz_guard.c",
            "csrc/lua/lsocialize_core.c",
         },
         defines = { "_GNU_SOURCE" },
         incdirs = { "csrc/include", "csrc/core", "csrc/lua", "$(OPENSSL_INCDIR)", "$(JANSSON_INCDIR)" },
         libdirs = { "$(OPENSSL_LIBDIR)", "$(JANSSON_LIBDIR)" },
         libraries = { "jansson", "crypto", "icuuc" },
      },
      ["socialize.curl"] = {
         sources = { "csrc/curl/lsocialize_curl.c", "csrc/core/sz_util.c", "csrc/core/sz_guard.c" },
         defines = { "_GNU_SOURCE", "SZ_API=" },
         incdirs = { "csrc/include", "csrc/core", "csrc/lua", "$(CURL_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)" },
         libraries = { "curl" },
      },
   },
   copy_directories = { "docs", "examples" },
}
test = {
   type = "command",
   command = "make test",
}
