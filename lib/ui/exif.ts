/**
 * The EXIF orientation of a JPEG (1 = upright, 2–8 = mirrored or turned), read from the APP1
 * segment in the file's first bytes. Phones store a portrait photo as a landscape sensor image
 * tagged 6; a model that ignores the tag sees it sideways, so such a photo is redrawn upright.
 */
export function jpegOrientation(bytes: Uint8Array): number {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return 1;
    const marker = bytes[offset + 1]!;
    // Start of scan or end of image: no EXIF before the pixels.
    if (marker === 0xda || marker === 0xd9) return 1;
    const length = view.getUint16(offset + 2);
    if (marker === 0xe1 && isExifHeader(bytes, offset + 4)) {
      return orientationInTiff(view, offset + 10, offset + 2 + length);
    }
    offset += 2 + length;
  }
  return 1;
}

function isExifHeader(bytes: Uint8Array, at: number): boolean {
  return (
    String.fromCharCode(...bytes.subarray(at, at + 4)) === "Exif" &&
    bytes[at + 4] === 0 &&
    bytes[at + 5] === 0
  );
}

/** Orientation (tag 0x0112) in the first IFD of the TIFF structure at `tiff`; 1 when absent. */
function orientationInTiff(view: DataView, tiff: number, end: number): number {
  if (tiff + 8 > Math.min(end, view.byteLength)) return 1;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const little = order === 0x4949;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > view.byteLength) return 1;
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > view.byteLength) return 1;
    if (view.getUint16(entry, little) === 0x0112) {
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}
