/**
 * Issue 27 items 1–4: phone photos just work. Real files made here (sharp) or by a tool in the
 * repo (tests/fixtures/portrait.heic, scripts/fixtures/make-heic.sh); what KIE received is read
 * from the server's own copy of the inputs it uploaded (DATA_DIR/images/inputs, DESIGN.md §9).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Browser, expect, type Page, test } from "@playwright/test";
import sharp from "sharp";
import { browserDataDir } from "../../playwright.config";
import { decodedResult, signInFast, uniqueEmail } from "./helpers";

const MAX_UPLOAD_BYTES = 10 * 1024 * 1024; // the suite's server runs on the default

async function studio(browser: Browser, label: string, width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 860 } });
  const page = await context.newPage();
  await signInFast(page, uniqueEmail(label));
  await page.goto("/");
  return page;
}

/** Every input the server has stored so far (each is the very bytes it uploaded to KIE). */
function storedInputs(): string[] {
  const root = path.join(browserDataDir, "images", "inputs");
  const found: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!name.includes(".tmp")) found.push(full);
    }
  };
  walk(root);
  return found;
}

/** Generates with the references in the form and returns the one input KIE received. */
async function generateAndReadInput(page: Page, prompt: string): Promise<Buffer> {
  const before = new Set(storedInputs());
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page.getByRole("button", { name: /^Generate/ }).click();
  await decodedResult(page, prompt);
  let fresh: string[] = [];
  await expect
    .poll(() => {
      fresh = storedInputs().filter((file) => !before.has(file));
      return fresh.length;
    })
    .toBe(1);
  return readFileSync(fresh[0]!);
}

/** The reference files the studio keeps for a reload (IndexedDB): the very Files it sends. */
async function keptReferences(page: Page): Promise<Buffer[]> {
  const kept = await page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open("nb-studio", 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const read = open.result.transaction("references").objectStore("references").get("current");
          read.onerror = () => reject(read.error);
          read.onsuccess = async () => {
            const items = (read.result ?? []) as { blob: Blob }[];
            const encoded: string[] = [];
            for (const { blob } of items) {
              let text = "";
              for (const byte of new Uint8Array(await blob.arrayBuffer())) text += String.fromCharCode(byte);
              encoded.push(btoa(text));
            }
            open.result.close();
            resolve(encoded);
          };
        };
      }),
  );
  return kept.map((base64) => Buffer.from(base64, "base64"));
}

/** Red on top, blue below, and the sides of an upright portrait. */
async function expectUprightPortrait(bytes: Buffer, format: string) {
  const image = sharp(bytes);
  const { width, height, orientation, format: actual } = await image.metadata();
  expect({ format: actual, orientation: orientation ?? 1 }).toEqual({ format, orientation: 1 });
  expect(height).toBeGreaterThan(width);
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const i = (Math.floor(y) * info.width + Math.floor(x)) * info.channels;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  const [topR, , topB] = at(info.width / 2, info.height / 4);
  const [bottomR, , bottomB] = at(info.width / 2, (info.height * 3) / 4);
  expect(topR, "red on top").toBeGreaterThan(150);
  expect(topB, "red on top").toBeLessThan(100);
  expect(bottomB, "blue below").toBeGreaterThan(150);
  expect(bottomR, "blue below").toBeLessThan(100);
}

/** A 12 MB, 4000×3000 camera JPEG: a gradient under noise, so it does not compress away. */
async function bigPhoto(): Promise<Buffer> {
  const width = 4000;
  const height = 3000;
  const raw = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) & 127;
      const i = (y * width + x) * 3;
      raw[i] = ((x * 255) / width + noise) & 255;
      raw[i + 1] = ((y * 255) / height + noise) & 255;
      raw[i + 2] = noise * 2;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 97 })
    .toBuffer();
}

/** A landscape sensor image (red left, blue right) that a camera held upright tagged orientation 6. */
async function turnedPhoto(): Promise<Buffer> {
  const width = 400;
  const height = 300;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      raw.set(x < width / 2 ? [220, 30, 30] : [30, 30, 220], (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

test("a 12 MB 4000×3000 phone JPEG is scaled down in the browser and reaches KIE under the limit", async ({
  browser,
}) => {
  const page = await studio(browser, "big-photo");
  const photo = await bigPhoto();
  expect(photo.length).toBeGreaterThan(12 * 1000 * 1000);
  await page.getByLabel("Reference images").setInputFiles({
    name: "IMG_2041.JPG",
    mimeType: "image/jpeg",
    buffer: photo,
  });
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
  await expect(page.getByRole("alert")).toHaveCount(0);
  const received = await generateAndReadInput(page, "the same street, at night");
  expect(received.length).toBeLessThan(MAX_UPLOAD_BYTES);
  const { width, height, format } = await sharp(received).metadata();
  expect(format).toBe("jpeg");
  expect(Math.max(width, height)).toBeLessThanOrEqual(2048);
  expect(width / height).toBeCloseTo(4 / 3, 1);
  await page.context().close();
});

test("an iPhone HEIC photo is converted in the browser and reaches KIE as an upright JPEG", async ({
  browser,
}) => {
  const page = await studio(browser, "heic");
  const loaded: string[] = [];
  page.on("request", (request) => loaded.push(request.url()));
  // The picker offers HEIC too, so Safari hands it over (or converts it itself).
  await expect(page.getByLabel("Reference images")).toHaveAttribute("accept", /\.heic/);
  await page.getByLabel("Reference images").setInputFiles({
    name: "IMG_0001.HEIC",
    mimeType: "image/heic",
    buffer: readFileSync(path.join(import.meta.dirname, "..", "fixtures", "portrait.heic")),
  });
  await expect(page.getByRole("img", { name: "Reference: IMG_0001.jpg" })).toBeVisible();
  await expectUprightPortrait(await generateAndReadInput(page, "the same portrait, in pastel"), "jpeg");
  await page.context().close();
});

test("a JPEG turned by EXIF (orientation 6) leaves the browser upright and reaches KIE upright", async ({
  browser,
}) => {
  const page = await studio(browser, "exif");
  await page.getByLabel("Reference images").setInputFiles({
    name: "portrait.jpg",
    mimeType: "image/jpeg",
    buffer: await turnedPhoto(),
  });
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
  // What the form holds and will send (the draft keeps the very File), before the server sees it.
  await expect.poll(() => keptReferences(page)).toHaveLength(1);
  await expectUprightPortrait((await keptReferences(page))[0]!, "jpeg");
  const received = await generateAndReadInput(page, "the same portrait, as a woodcut");
  await expectUprightPortrait(received, "jpeg");
  await page.context().close();
});

test("a phone offers “Take photo” with the camera; a laptop does not show it", async ({ browser }) => {
  const phone = await studio(browser, "camera", 390);
  const camera = phone.getByLabel("Take photo");
  await expect(camera).toHaveAttribute("capture", "environment");
  await expect(camera).toHaveAttribute("accept", "image/*");
  await expect(phone.getByText("Take photo")).toBeVisible();
  await phone.context().close();
  const laptop = await studio(browser, "no-camera");
  await expect(laptop.getByText("Take photo")).toBeHidden();
  await laptop.context().close();
});

test("an image link pasted or dragged in from another tab becomes a reference sent as its URL", async ({
  browser,
}) => {
  const page = await studio(browser, "links");
  const pasted = "https://127.0.0.1:9/photos/cat.jpg";
  const dropped = "https://127.0.0.1:9/photos/dog.png";
  await page.evaluate((text) => {
    const data = new DataTransfer();
    data.setData("text/plain", text);
    document.body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
  }, pasted);
  await expect(page.getByRole("button", { name: "Remove cat.jpg" })).toBeVisible();

  const transfer = await page.evaluateHandle((uri) => {
    const data = new DataTransfer();
    data.setData("text/uri-list", uri);
    return data;
  }, dropped);
  const zone = page.getByTestId("dropzone");
  await zone.dispatchEvent("dragenter", { dataTransfer: transfer });
  await zone.dispatchEvent("dragover", { dataTransfer: transfer });
  await zone.dispatchEvent("drop", { dataTransfer: transfer });
  await expect(page.getByRole("button", { name: "Remove dog.png" })).toBeVisible();
  await expect(page.getByText("127.0.0.1:9/photos/dog.png")).toBeVisible();

  await page.getByRole("textbox", { name: "Prompt" }).fill("two pets on a sofa");
  const sent = page.waitForRequest((request) => request.url().endsWith("/api/generate"));
  await page.getByRole("button", { name: /^Generate/ }).click();
  const body = (await sent).postDataJSON() as { images?: string[] };
  expect(body.images).toEqual([pasted, dropped]);
  await page.context().close();
});
