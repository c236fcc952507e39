/**
 * Draws a task's result while it is "generating": text-to-image from the prompt, or an edit of its
 * fetched inputs; honours `[sim:fail]` and `[sim:result=…]`, and stores the bytes under
 * `results/<taskId>.<ext>`.
 */
import { FetchError } from "./fetchGuard";
import {
  EXTENSION_BY_FORMAT,
  ImageInputError,
  inspectInputImage,
  MIME_BY_FORMAT,
  outputSize,
  renderEdit,
  renderTextToImage,
} from "./images";
import type { Sources } from "./sources";
import type { BoundedMap, StoredBlob } from "./store";
import { FAIL_DEFAULT_MESSAGE, type FinalOutcome, type KieSimLogger, type SimTask } from "./taskRecord";

export interface ResultMakerOptions {
  blobs: BoundedMap<string, StoredBlob>;
  sources: Sources;
  imageScale: number;
  logger: KieSimLogger;
  /** Aborted when the simulator closes. */
  signal: AbortSignal;
  publicBase(): string;
}

interface InputImage {
  bytes: Buffer;
  width: number;
  height: number;
}

export class ResultMaker {
  constructor(private readonly options: ResultMakerOptions) {}

  /** The task's outcome; a success has its image stored. */
  async produce(task: SimTask): Promise<FinalOutcome> {
    if (task.directives.fail) {
      return {
        state: "fail",
        failCode: "500",
        failMsg: task.directives.fail.message ?? FAIL_DEFAULT_MESSAGE,
      };
    }
    try {
      return this.store(task, await this.draw(task));
    } catch (error) {
      if (error instanceof ImageInputError) return { state: "fail", failCode: "422", failMsg: error.message };
      if (this.options.signal.aborted) throw error;
      this.options.logger.error(
        { taskId: task.record.taskId, err: String(error) },
        "kie-sim could not draw the image",
      );
      return { state: "fail", failCode: "500", failMsg: "Internal error while generating the image" };
    }
  }

  private async draw(task: SimTask): Promise<Buffer> {
    const { input } = task;
    const prompt = task.directives.cleanPrompt;
    const sizing = { resolutionFactor: input.resolutionFactor, scale: this.options.imageScale };
    // [sim:ratio=…]: the asked ratio is ignored, as the real model sometimes does.
    const aspect = task.directives.ratio ?? input.aspect;
    if (input.imageUrls.length === 0) {
      return renderTextToImage({ prompt, ...outputSize(aspect, sizing), format: input.format });
    }
    const inputs = await this.fetchInputs(task);
    const size = outputSize(aspect, { ...sizing, autoRatio: inputs[0]!.width / inputs[0]!.height });
    return renderEdit({ prompt, inputs: inputs.map((i) => i.bytes), ...size, format: input.format });
  }

  /** Stores the image (or the odd result a `[sim:result=…]` directive asks for). */
  private store(task: SimTask, image: Buffer): FinalOutcome {
    const { format } = task.input;
    const odd = task.directives.result;
    let bytes = image;
    if (odd?.kind === "not-image") bytes = Buffer.from("<!doctype html><title>Not an image</title>\n");
    // Padding after the image's end: still sniffed as the format, but as large as asked.
    if (odd?.kind === "oversize" && odd.bytes > bytes.length) {
      bytes = Buffer.concat([bytes, Buffer.alloc(odd.bytes - bytes.length)]);
    }
    const name = `results/${task.record.taskId}.${EXTENSION_BY_FORMAT[format]}`;
    const mimeType = odd?.kind === "not-image" ? "text/html" : MIME_BY_FORMAT[format];
    this.options.blobs.set(name, { bytes, mimeType, createdAt: Date.now() });
    return { state: "success", resultUrl: `${this.options.publicBase()}/${name}` };
  }

  private fetchInputs(task: SimTask): Promise<InputImage[]> {
    const field = task.record.model.startsWith("google/") ? "image_urls" : "image_input";
    const { maxImageBytes } = task.input;
    return Promise.all(
      task.input.imageUrls.map(async (url, index) => {
        const label = `input.${field}[${index}]`;
        const bytes = await this.fetchInput(url, { label, maxImageBytes });
        if (bytes.length > maxImageBytes) {
          throw new ImageInputError(`${label} is larger than ${maxImageBytes} bytes`);
        }
        return { bytes, ...(await inspectInputImage(bytes, label)) };
      }),
    );
  }

  private async fetchInput(url: string, input: { label: string; maxImageBytes: number }): Promise<Buffer> {
    try {
      const source = await this.options.sources.fetch(url, input.maxImageBytes);
      if (!source) throw new ImageInputError(`${input.label} could not be fetched: HTTP 404 (${url})`);
      return source.bytes;
    } catch (error) {
      if (!(error instanceof FetchError)) throw error;
      if (error.detail) this.options.logger.info({ url, detail: error.detail }, "image input fetch failed");
      // Like KIE: the task fails; the message names no address or network error.
      throw new ImageInputError(`${input.label} could not be fetched: ${error.message}`);
    }
  }
}
