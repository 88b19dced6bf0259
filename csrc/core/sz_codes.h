/* The Gigya error codes the library knows, as ONE table: the code, the
 * name the Lua front exposes (socialize.errors.<NAME>, built from
 * core.errors()) and Gigya's message (sz_gigya_message). Internal: included by
 * sz_util.c (sz_gigya_message) and the binding (lsocialize_core.c). The codes
 * socialize.h names with a macro carry the same NAME here (SZ_GIGYA_INVALID_PARAMETER
 * is INVALID_PARAMETER); spec/boundaries_spec.lua checks that they agree.
 *
 *   #define ROW(code, NAME, "message") ...
 *   SZ_GIGYA_CODES(ROW)                                                   */
#ifndef SZ_CODES_H
#define SZ_CODES_H

#define SZ_GIGYA_CODES(X)                                                    \
    X(0, OK, "OK")                                                       \
    X(100001, DATA_PENDING, "Data pending")                                  \
    X(200001, OPERATION_CANCELED, "Operation canceled")                      \
    X(200008, OK_WITH_ERRORS, "OK with errors")                              \
    X(301001, INVALID_DATA_CENTER, "Invalid data center")                    \
    X(400001, INVALID_REQUEST_FORMAT, "Invalid request format")              \
    X(400002, MISSING_PARAMETER, "Missing required parameter") \
    X(400003, UNIQUE_IDENTIFIER_EXISTS, "Unique identifier exists")          \
    X(400004, INVALID_PARAMETER_FORMAT, "Invalid parameter format")          \
    X(400006, INVALID_PARAMETER, "Invalid parameter value")  \
    X(400007, DUPLICATE_VALUE, "Duplicate value")                            \
    X(400008, INVALID_AUTHENTICATION_HEADER, "Invalid authentication header") \
    X(400009, VALIDATION_ERROR, "Validation error")                          \
    X(400093, INVALID_API_KEY, "Invalid ApiKey parameter")                   \
    X(400096, NOT_SUPPORTED, "Not supported")                                \
    X(400106, NOT_CONNECTED, "Not connected")                                \
    X(400124, LIMIT_REACHED, "Limit reached")                                \
    X(400125, FREQUENCY_LIMIT_REACHED, "Frequency limit reached")            \
    X(401010, SUSPECTED_SPAM, "Suspected spam")                              \
    X(403000, FORBIDDEN, "Forbidden")                                        \
    X(403002, REQUEST_EXPIRED, "Request has expired")                        \
    X(403003, INVALID_SIGNATURE, "Invalid request signature")                \
    X(403004, DUPLICATE_NONCE, "Duplicate nonce")                            \
    X(403005, UNAUTHORIZED_USER, "Unauthorized user")                        \
    X(403006, SECRET_OVER_HTTP, "Secret Sent Over Http")      \
    X(403007, PERMISSION_DENIED, "Permission denied")                        \
    X(403009, PROVIDER_SESSION_EXPIRED, "Provider session expired")          \
    X(403010, INVALID_SECRET, "Invalid Secret")                              \
    X(403011, SESSION_EXPIRED, "Session has expired")                        \
    X(403012, NO_VALID_SESSION, "No valid session")                          \
    X(403017, UNEXPECTED_PROVIDER_USER, "Unexpected provider user")          \
    X(403022, PERMISSION_NOT_REQUESTED, "Permission not requested")          \
    X(403023, NO_USER_PERMISSION, "No user permission")                      \
    X(403024, PROVIDER_LIMIT_REACHED, "Provider limit reached")              \
    X(403025, INVALID_TOKEN, "Invalid token")                                \
    X(403026, UNAUTHORIZED_ACCESS, "Unauthorized access error")              \
    X(403035, NO_USER_COOKIE, "No user cookie")                              \
    X(403036, UNAUTHORIZED_PARTNER, "Unauthorized partner")                  \
    X(403037, POST_DENIED, "Post denied")                                    \
    X(403041, ACCOUNT_DISABLED, "Account disabled")                          \
    X(403048, RATE_LIMIT_EXCEEDED, "API Rate Limit Exceeded")                \
    X(404000, NOT_FOUND, "Not found")                                        \
    X(404001, FRIEND_NOT_FOUND, "Friend not found")                          \
    X(404003, UID_NOT_FOUND, "UID not found")                                \
    X(405001, INVALID_API_METHOD, "Invalid API method")                      \
    X(409001, IDENTITY_EXISTS, "Identity exists")                            \
    X(413001, REQUEST_ENTITY_TOO_LARGE, "Request entity too large")          \
    X(500000, INTERNAL, "General security warning")                   \
    X(500001, GENERAL_SERVER_ERROR, "General Server error")                  \
    X(500002, SERVER_LOGIN_ERROR, "Server login error")                      \
    X(500023, PROVIDER_ERROR, "Provider error")                              \
    X(500026, NETWORK_ERROR, "Network error")                                \
    X(500028, DATABASE_ERROR, "Database error")                              \
    X(500031, NO_PROVIDER_APPLICATION, "No provider application")            \
    X(504001, TIMEOUT, "Timeout")                                            \
    X(504002, REQUEST_TIMEOUT, "Request Timeout")

#endif
