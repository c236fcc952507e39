/**
 * With IMAGE_STORE=s3, `/api/images/:id` redirects an `<img>` to a presigned URL of the bucket,
 * and the browser checks that target against the page's CSP img-src: the pages must allow the
 * bucket's origin, exactly as the SDK builds its URLs (else every image of the studio is blocked).
 */
import { describe, expect, it } from "vitest";
import { contentSecurityPolicy } from "@/lib/http/securityHeaders";
import { presignedUrlOrigin, type S3UrlSettings } from "@/lib/storage/presignedOrigin";
import { S3ImageStore } from "@/lib/storage/s3";

const cases: S3UrlSettings[] = [
  { endpoint: "http://127.0.0.1:9000", region: "us-east-1", bucket: "images", forcePathStyle: true },
  {
    endpoint: "https://abc.supabase.co/storage/v1/s3",
    region: "eu-west-1",
    bucket: "nb",
    forcePathStyle: true,
  },
  { endpoint: "https://r2.example.com", region: "auto", bucket: "nb", forcePathStyle: false },
  {
    endpoint: "https://minio.example:8443/",
    region: "us-east-1",
    bucket: "nb.images",
    forcePathStyle: false,
  },
  { region: "us-east-1", bucket: "nb-images", forcePathStyle: false },
  { region: "eu-central-1", bucket: "nb-images", forcePathStyle: false },
  { region: "eu-central-1", bucket: "nb-images", forcePathStyle: true },
  { region: "eu-central-1", bucket: "nb.images", forcePathStyle: false },
];

describe("the bucket's origin in the pages' CSP", () => {
  for (const settings of cases) {
    it(`is the origin of the SDK's presigned URLs (${settings.endpoint ?? "AWS"}, ${settings.region}, path-style ${settings.forcePathStyle})`, async () => {
      // Presigning is computed offline: no request leaves this process.
      const store = new S3ImageStore({ ...settings, accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" });
      try {
        const url = await store.presign("results/00000000-0000-4000-8000-000000000000.thumb.webp", {
          expiresInSeconds: 300,
        });
        expect(presignedUrlOrigin(settings)).toBe(new URL(url).origin);
      } finally {
        await store.close();
      }
    });
  }

  it("img-src allows it when given, and nothing else new", () => {
    const origin = presignedUrlOrigin(cases[0] as S3UrlSettings);
    const withBucket = contentSecurityPolicy({ nonce: "n", development: false, imageOrigins: [origin] });
    expect(withBucket).toContain(`img-src 'self' data: blob: ${origin};`);
    const without = contentSecurityPolicy({ nonce: "n", development: false });
    expect(without).toContain("img-src 'self' data: blob:;");
  });
});
