/** lib/security: upload validation and the image proxy's outbound guard (DESIGN.md §6). Framework-free. */
export {
  FileTooLargeError,
  ImageTooManyPixelsError,
  InvalidDataUriError,
  type InvalidDataUriReason,
  ProxyUpstreamError,
  type ProxyUpstreamReason,
  SecurityError,
  type SecurityErrorCode,
  TooManyImagesError,
  UnsafeUrlError,
  type UnsafeUrlReason,
  type UnsupportedMediaReason,
  UnsupportedMediaTypeError,
} from "./errors";
export {
  DEFAULT_MAX_IMAGES,
  DEFAULT_MAX_PIXELS,
  type ImageFileInput,
  type ImageLimits,
  type ParsedDataUri,
  parseDataUri,
  type ValidatedImage,
  validateImageCount,
  validateImageFile,
} from "./fileValidation";
export {
  type FetchProxiedImageOptions,
  fetchProxiedImage,
  PROXY_DEFAULT_MAX_BYTES,
  PROXY_DEFAULT_MAX_REDIRECTS,
  PROXY_DEFAULT_TIMEOUT_MS,
  PROXY_REQUEST_HEADERS,
  type ProxiedImage,
} from "./imageProxy";
export { ACCEPTED_IMAGE_TYPES, type AcceptedImageType, SNIFF_BYTES, sniffImageType } from "./mediaType";
export {
  checkProxyUrl,
  createGuardedDispatcher,
  type GuardedDispatcherOptions,
  isForbiddenAddress,
  MAX_PROXY_URL_LENGTH,
  normalizeTrustedOrigin,
  type ProxyUrlPolicy,
} from "./urlGuard";
