/**
 * The origin of the S3 store's presigned URLs (DESIGN.md §9), computed from the settings alone,
 * without loading the SDK: the pages' Content-Security-Policy must let `<img>` follow
 * `/api/images/:id`'s redirect there (CSP checks a redirect's target too). The SDK's own URLs are
 * checked against this in tests/unit/storage/presignedOrigin.test.ts.
 */
export interface S3UrlSettings {
  endpoint?: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
}

export function presignedUrlOrigin(settings: S3UrlSettings): string {
  const { endpoint, region, bucket, forcePathStyle } = settings;
  // With an endpoint of its own (MinIO, R2, Supabase, s3rver) the SDK presigns on it as given.
  if (endpoint) return new URL(endpoint).origin;
  // AWS: the bucket's own host name, unless it cannot be one (dots, capitals) or path style is asked.
  const hostable = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
  return forcePathStyle || !hostable
    ? `https://s3.${region}.amazonaws.com`
    : `https://${bucket}.s3.${region}.amazonaws.com`;
}
