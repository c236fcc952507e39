/** lib/auth: request → user. Framework-free; route handlers pass the Request (DESIGN.md §2, §3). */
export {
  API_KEY_IN_TEXT,
  API_KEY_PATTERN,
  API_KEY_PREFIX,
  type ApiKeyRecord,
  type ApiKeyStore,
  type ApiKeyVerifier,
  containsApiKey,
  createApiKeyVerifier,
  generateApiKey,
  hashApiKey,
  isApiKeyToken,
  LAST_USED_EVERY_MS,
  type NewApiKey,
} from "./apiKeys";
export {
  type Authenticator,
  type AuthenticatorOptions,
  type AuthMode,
  bearerToken,
  createAuthenticator,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  type HasHeaders,
  MAX_TOKEN_LENGTH,
  type SessionStore,
} from "./authenticator";
export {
  clearSessionCookie,
  parseCookieHeader,
  readSupabaseAccessToken,
  SESSION_COOKIE_NAME,
  type SessionCookieOptions,
  sessionCookie,
  supabaseAuthCookieName,
} from "./cookies";
export {
  DEV_SECRET_FILE_NAME,
  DEV_TOKEN_DEFAULT_TTL_SECONDS,
  DEV_TOKEN_ISSUER,
  type DevSignIn,
  type DevToken,
  devSignInSchema,
  devUserId,
  type IssueDevTokenOptions,
  issueDevToken,
  loadOrCreateDevSecret,
} from "./dev";
export {
  AuthConfigurationError,
  AuthenticationError,
  AuthProviderUnavailableError,
  UnauthorizedError,
  type UnauthorizedReason,
} from "./errors";
export { type AuthUser, isAdminEmail, normalizeEmail } from "./user";
export { ASYMMETRIC_ALGORITHMS, type JwksOptions, SECRET_ALGORITHMS } from "./verifiers";
